/* Service specs as dockerd and swarmkit see them: decoding a body with Go's encoding/json
 * rules and texts, moby's conversion to swarmkit's spec and back (what GET shows is that
 * round trip, not the body as sent), swarmkit's validation, the defaults of
 * ?insertDefaults=true, published-port conflicts and allocation, ServiceStatus, and the
 * service and task list filters (the CLI's "_up-to-date" included). Pure functions over
 * jansson values: the store, the manager and HTTP are services.c's and tasks.c's. Any
 * thread. */
#include "api/internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "base/mem.h"
#include "engine/internal.h"

#define NS_PER_S	       1000000000LL
#define DYN_PORT_FIRST	       30000 /* swarmkit allocator/portallocator.go */
#define DYN_PORT_LAST	       32767
#define GO_MAX_NESTING	       10000 /* encoding/json maxNestingDepth */
#define RPC_INVALID	       "rpc error: code = InvalidArgument desc = "
#define RPC_UNKNOWN	       "rpc error: code = Unknown desc = "
#define ERR_MISMATCHED_RUNTIME "mismatched Runtime and *Spec fields"

/*
 * Go's JSON scanner (encoding/json/scanner.go), for its texts. json.Decoder reads the first
 * value only and ignores what follows it, so this also finds where that value ends.
 */

enum scan_state {
	S_BEGIN_VALUE,
	S_BEGIN_VALUE_OR_EMPTY,
	S_BEGIN_STRING_OR_EMPTY,
	S_BEGIN_STRING,
	S_END_VALUE,
	S_IN_STRING,
	S_IN_STRING_ESC,
	S_ESC_U,
	S_ESC_U1,
	S_ESC_U12,
	S_ESC_U123,
	S_NEG,
	S_1,
	S_0,
	S_DOT,
	S_DOT0,
	S_E,
	S_ESIGN,
	S_E0,
	S_T,
	S_TR,
	S_TRU,
	S_F,
	S_FA,
	S_FAL,
	S_FALS,
	S_N,
	S_NU,
	S_NUL,
};

enum {
	P_OBJ_KEY,
	P_OBJ_VALUE,
	P_ARR_VALUE
};

enum scan_result {
	R_CONTINUE,
	R_END,	 /* the top-level value ended before this byte */
	R_CLOSE, /* this byte closed an object or array */
	R_ERROR,
};

struct scanner {
	enum scan_state step;
	unsigned char *stack;
	size_t depth, cap;
	struct shoal_err *err;
};

static bool go_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Go's quoteChar: the byte as a one-character Go string literal in single quotes. */
static void quote_char(unsigned char c, char *out, size_t size)
{
	if (c == '\'') {
		snprintf(out, size, "'\\''");
		return;
	}
	if (c == '"') {
		snprintf(out, size, "'\"'");
		return;
	}
	switch (c) {
	case '\a':
		snprintf(out, size, "'\\a'");
		return;
	case '\b':
		snprintf(out, size, "'\\b'");
		return;
	case '\f':
		snprintf(out, size, "'\\f'");
		return;
	case '\n':
		snprintf(out, size, "'\\n'");
		return;
	case '\r':
		snprintf(out, size, "'\\r'");
		return;
	case '\t':
		snprintf(out, size, "'\\t'");
		return;
	case '\v':
		snprintf(out, size, "'\\v'");
		return;
	case '\\':
		snprintf(out, size, "'\\\\'");
		return;
	default:
		break;
	}
	if (c < 0x20 || c == 0x7f)
		snprintf(out, size, "'\\x%02x'", c);
	else if (c < 0x80)
		snprintf(out, size, "'%c'", c);
	else if (c < 0xa0 || c == 0xad)
		/* the byte became rune U+0080..U+00FF; these are not printable */
		snprintf(out, size, "'\\u%04x'", c);
	else
		snprintf(out, size, "'%c%c'", 0xc0 | (c >> 6), 0x80 | (c & 0x3f));
}

static enum scan_result scan_error(struct scanner *s, unsigned char c, const char *context)
{
	char q[16];

	quote_char(c, q, sizeof(q));
	shoal_errorf(s->err, 400, "invalid character %s %s", q, context);
	return R_ERROR;
}

static enum scan_result scan_push(struct scanner *s, unsigned char c, int ps)
{
	if (s->depth == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 32;
		s->stack = shoal_realloc(s->stack, s->cap);
	}
	s->stack[s->depth++] = (unsigned char)ps;
	if (s->depth > GO_MAX_NESTING)
		return scan_error(s, c, "exceeded max depth");
	return R_CONTINUE;
}

static enum scan_result scan_step(struct scanner *s, unsigned char c);

static enum scan_result end_value(struct scanner *s, unsigned char c)
{
	if (s->depth == 0)
		return R_END;
	if (go_space(c)) {
		s->step = S_END_VALUE;
		return R_CONTINUE;
	}
	switch (s->stack[s->depth - 1]) {
	case P_OBJ_KEY:
		if (c == ':') {
			s->stack[s->depth - 1] = P_OBJ_VALUE;
			s->step = S_BEGIN_VALUE;
			return R_CONTINUE;
		}
		return scan_error(s, c, "after object key");
	case P_OBJ_VALUE:
		if (c == ',') {
			s->stack[s->depth - 1] = P_OBJ_KEY;
			s->step = S_BEGIN_STRING;
			return R_CONTINUE;
		}
		if (c == '}') {
			s->depth--;
			s->step = S_END_VALUE;
			return R_CLOSE;
		}
		return scan_error(s, c, "after object key:value pair");
	default:
		if (c == ',') {
			s->step = S_BEGIN_VALUE;
			return R_CONTINUE;
		}
		if (c == ']') {
			s->depth--;
			s->step = S_END_VALUE;
			return R_CLOSE;
		}
		return scan_error(s, c, "after array element");
	}
}

static enum scan_result begin_value(struct scanner *s, unsigned char c)
{
	if (go_space(c))
		return R_CONTINUE;
	switch (c) {
	case '{':
		s->step = S_BEGIN_STRING_OR_EMPTY;
		return scan_push(s, c, P_OBJ_KEY);
	case '[':
		s->step = S_BEGIN_VALUE_OR_EMPTY;
		return scan_push(s, c, P_ARR_VALUE);
	case '"':
		s->step = S_IN_STRING;
		return R_CONTINUE;
	case '-':
		s->step = S_NEG;
		return R_CONTINUE;
	case '0':
		s->step = S_0;
		return R_CONTINUE;
	case 't':
		s->step = S_T;
		return R_CONTINUE;
	case 'f':
		s->step = S_F;
		return R_CONTINUE;
	case 'n':
		s->step = S_N;
		return R_CONTINUE;
	default:
		break;
	}
	if (c >= '1' && c <= '9') {
		s->step = S_1;
		return R_CONTINUE;
	}
	return scan_error(s, c, "looking for beginning of value");
}

static enum scan_result literal(struct scanner *s, unsigned char c, char want, enum scan_state next,
				const char *context)
{
	if (c == want) {
		s->step = next;
		return R_CONTINUE;
	}
	return scan_error(s, c, context);
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static enum scan_result scan_step(struct scanner *s, unsigned char c)
{
	switch (s->step) {
	case S_BEGIN_VALUE:
		return begin_value(s, c);
	case S_BEGIN_VALUE_OR_EMPTY:
		if (go_space(c))
			return R_CONTINUE;
		if (c == ']')
			return end_value(s, c);
		return begin_value(s, c);
	case S_BEGIN_STRING_OR_EMPTY:
		if (go_space(c))
			return R_CONTINUE;
		if (c == '}') {
			s->stack[s->depth - 1] = P_OBJ_VALUE;
			return end_value(s, c);
		}
		/* fall through */
	case S_BEGIN_STRING:
		if (go_space(c))
			return R_CONTINUE;
		if (c == '"') {
			s->step = S_IN_STRING;
			return R_CONTINUE;
		}
		return scan_error(s, c, "looking for beginning of object key string");
	case S_END_VALUE:
		return end_value(s, c);
	case S_IN_STRING:
		if (c == '"') {
			s->step = S_END_VALUE;
			return R_CONTINUE;
		}
		if (c == '\\') {
			s->step = S_IN_STRING_ESC;
			return R_CONTINUE;
		}
		if (c < 0x20)
			return scan_error(s, c, "in string literal");
		return R_CONTINUE;
	case S_IN_STRING_ESC:
		if (strchr("bfnrt\\/\"", c) != NULL && c != '\0') {
			s->step = S_IN_STRING;
			return R_CONTINUE;
		}
		if (c == 'u') {
			s->step = S_ESC_U;
			return R_CONTINUE;
		}
		return scan_error(s, c, "in string escape code");
	case S_ESC_U:
	case S_ESC_U1:
	case S_ESC_U12:
	case S_ESC_U123:
		if (!is_hex(c))
			return scan_error(s, c, "in \\u hexadecimal character escape");
		s->step = s->step == S_ESC_U123 ? S_IN_STRING : s->step + 1;
		return R_CONTINUE;
	case S_NEG:
		if (c == '0') {
			s->step = S_0;
			return R_CONTINUE;
		}
		if (c >= '1' && c <= '9') {
			s->step = S_1;
			return R_CONTINUE;
		}
		return scan_error(s, c, "in numeric literal");
	case S_1:
		if (c >= '0' && c <= '9')
			return R_CONTINUE;
		/* fall through */
	case S_0:
		if (c == '.') {
			s->step = S_DOT;
			return R_CONTINUE;
		}
		if (c == 'e' || c == 'E') {
			s->step = S_E;
			return R_CONTINUE;
		}
		return end_value(s, c);
	case S_DOT:
		if (c >= '0' && c <= '9') {
			s->step = S_DOT0;
			return R_CONTINUE;
		}
		return scan_error(s, c, "after decimal point in numeric literal");
	case S_DOT0:
		if (c >= '0' && c <= '9')
			return R_CONTINUE;
		if (c == 'e' || c == 'E') {
			s->step = S_E;
			return R_CONTINUE;
		}
		return end_value(s, c);
	case S_E:
		if (c == '+' || c == '-') {
			s->step = S_ESIGN;
			return R_CONTINUE;
		}
		/* fall through */
	case S_ESIGN:
		if (c >= '0' && c <= '9') {
			s->step = S_E0;
			return R_CONTINUE;
		}
		return scan_error(s, c, "in exponent of numeric literal");
	case S_E0:
		if (c >= '0' && c <= '9')
			return R_CONTINUE;
		return end_value(s, c);
	case S_T:
		return literal(s, c, 'r', S_TR, "in literal true (expecting 'r')");
	case S_TR:
		return literal(s, c, 'u', S_TRU, "in literal true (expecting 'u')");
	case S_TRU:
		return literal(s, c, 'e', S_END_VALUE, "in literal true (expecting 'e')");
	case S_F:
		return literal(s, c, 'a', S_FA, "in literal false (expecting 'a')");
	case S_FA:
		return literal(s, c, 'l', S_FAL, "in literal false (expecting 'l')");
	case S_FAL:
		return literal(s, c, 's', S_FALS, "in literal false (expecting 's')");
	case S_FALS:
		return literal(s, c, 'e', S_END_VALUE, "in literal false (expecting 'e')");
	case S_N:
		return literal(s, c, 'u', S_NU, "in literal null (expecting 'u')");
	case S_NU:
		return literal(s, c, 'l', S_NUL, "in literal null (expecting 'l')");
	case S_NUL:
		return literal(s, c, 'l', S_END_VALUE, "in literal null (expecting 'l')");
	}
	return scan_error(s, c, "");
}

/* json.Decoder.readValue: the length of the first value in buf, or -1 with Go's error. */
static long go_first_value(const char *buf, size_t len, struct shoal_err *err)
{
	struct scanner s = { .step = S_BEGIN_VALUE, .err = err };
	long rv = -1;
	size_t i;

	for (i = 0; i < len; i++) {
		enum scan_result r = scan_step(&s, (unsigned char)buf[i]);

		if (r == R_ERROR)
			goto out;
		if (r == R_END) {
			rv = (long)i;
			goto out;
		}
		if (r == R_CLOSE && s.depth == 0) {
			rv = (long)i + 1;
			goto out;
		}
	}
	/* At EOF a top-level literal (a number) may end. */
	if (scan_step(&s, ' ') == R_END) {
		rv = (long)len;
		goto out;
	}
	for (i = 0; i < len && go_space(buf[i]); i++)
		;
	if (i == len)
		/* io.EOF: moby's routers answer this instead */
		shoal_errorf(err, 400, "got EOF while reading request body");
	else
		shoal_errorf(err, 400, "unexpected EOF");
out:
	free(s.stack);
	return rv;
}

/*
 * The Go types of moby's api/types/swarm ServiceSpec (20.10), in field order, with what
 * encoding/json needs: the kind, omitempty, pointer-ness and the type's name for errors.
 */

enum kind {
	K_STR,
	K_BOOL,
	K_INT,	/* int, int64, time.Duration */
	K_UINT, /* uint64 */
	K_U32,	/* uint32, os.FileMode */
	K_F32,
	K_MAP, /* map[string]string */
	K_STRUCT,
	K_OPAQUE, /* a struct we keep as sent (runtime.PluginSpec) */
};

#define F_OMIT	(1u << 0) /* `json:",omitempty"` */
#define F_PTR	(1u << 1) /* *T: absent means nil */
#define F_SLICE (1u << 2) /* []T (F_PTR then means []*T) */

struct schema;

struct field {
	const char *name;
	enum kind kind;
	unsigned flags;
	const char *type;	/* Go's name of T, for errors: "uint64", "swarm.TaskSpec" */
	const char *slice_type; /* "[]swarm.PortConfig" */
	const struct schema *sub;
};

struct schema {
	const char *name; /* the struct's bare name, as errors show it */
	const struct field *fields;
	size_t n;
};

#define SCHEMA(var, name, ...)                                      \
	static const struct field var##_fields[] = { __VA_ARGS__ }; \
	static const struct schema var = { name, var##_fields, SHOAL_ARRAY_SIZE(var##_fields) }
#define EMPTY_SCHEMA(var, name) static const struct schema var = { name, NULL, 0 }

#define STR(n, t, fl)                       \
	{                                   \
		n, K_STR, fl, t, NULL, NULL \
	}
#define STRS(n)                                                        \
	{                                                              \
		n, K_STR, F_OMIT | F_SLICE, "string", "[]string", NULL \
	}
#define BOOL(n, fl)                               \
	{                                         \
		n, K_BOOL, fl, "bool", NULL, NULL \
	}
#define INT(n, t, fl)                       \
	{                                   \
		n, K_INT, fl, t, NULL, NULL \
	}
#define UINT(n, fl)                                 \
	{                                           \
		n, K_UINT, fl, "uint64", NULL, NULL \
	}
#define U32(n, t, fl)                       \
	{                                   \
		n, K_U32, fl, t, NULL, NULL \
	}
#define MAP(n, fl)                                            \
	{                                                     \
		n, K_MAP, fl, "map[string]string", NULL, NULL \
	}
#define OBJ(n, t, s, fl)                     \
	{                                    \
		n, K_STRUCT, fl, t, NULL, &s \
	}
#define OBJS(n, t, st, s, fl)                          \
	{                                              \
		n, K_STRUCT, F_SLICE | (fl), t, st, &s \
	}

EMPTY_SCHEMA(s_empty, "");
SCHEMA(s_credspec, "CredentialSpec", STR("Config", "string", 0), STR("File", "string", 0),
       STR("Registry", "string", 0));
SCHEMA(s_selinux, "SELinuxContext", BOOL("Disable", 0), STR("User", "string", 0),
       STR("Role", "string", 0), STR("Type", "string", 0), STR("Level", "string", 0));
SCHEMA(s_privileges, "Privileges", OBJ("CredentialSpec", "swarm.CredentialSpec", s_credspec, F_PTR),
       OBJ("SELinuxContext", "swarm.SELinuxContext", s_selinux, F_PTR));
SCHEMA(s_bindopts, "BindOptions", STR("Propagation", "mount.Propagation", F_OMIT),
       BOOL("NonRecursive", F_OMIT));
SCHEMA(s_mount_driver, "Driver", STR("Name", "string", F_OMIT), MAP("Options", F_OMIT));
SCHEMA(s_volopts, "VolumeOptions", BOOL("NoCopy", F_OMIT), MAP("Labels", F_OMIT),
       OBJ("DriverConfig", "mount.Driver", s_mount_driver, F_PTR | F_OMIT));
SCHEMA(s_tmpfsopts, "TmpfsOptions", INT("SizeBytes", "int64", F_OMIT),
       U32("Mode", "fs.FileMode", F_OMIT));
SCHEMA(s_mount, "Mount", STR("Type", "mount.Type", F_OMIT), STR("Source", "string", F_OMIT),
       STR("Target", "string", F_OMIT), BOOL("ReadOnly", F_OMIT),
       STR("Consistency", "mount.Consistency", F_OMIT),
       OBJ("BindOptions", "mount.BindOptions", s_bindopts, F_PTR | F_OMIT),
       OBJ("VolumeOptions", "mount.VolumeOptions", s_volopts, F_PTR | F_OMIT),
       OBJ("TmpfsOptions", "mount.TmpfsOptions", s_tmpfsopts, F_PTR | F_OMIT));
SCHEMA(s_health, "HealthConfig", STRS("Test"), INT("Interval", "time.Duration", F_OMIT),
       INT("Timeout", "time.Duration", F_OMIT), INT("StartPeriod", "time.Duration", F_OMIT),
       INT("Retries", "int", F_OMIT));
SCHEMA(s_dns, "DNSConfig", STRS("Nameservers"), STRS("Search"), STRS("Options"));
SCHEMA(s_file_target, "SecretReferenceFileTarget", STR("Name", "string", 0),
       STR("UID", "string", 0), STR("GID", "string", 0), U32("Mode", "fs.FileMode", 0));
SCHEMA(s_cfile_target, "ConfigReferenceFileTarget", STR("Name", "string", 0),
       STR("UID", "string", 0), STR("GID", "string", 0), U32("Mode", "fs.FileMode", 0));
SCHEMA(s_secret_ref, "SecretReference",
       OBJ("File", "swarm.SecretReferenceFileTarget", s_file_target, F_PTR),
       STR("SecretID", "string", 0), STR("SecretName", "string", 0));
SCHEMA(s_config_ref, "ConfigReference",
       OBJ("File", "swarm.ConfigReferenceFileTarget", s_cfile_target, F_PTR | F_OMIT),
       OBJ("Runtime", "swarm.ConfigReferenceRuntimeTarget", s_empty, F_PTR | F_OMIT),
       STR("ConfigID", "string", 0), STR("ConfigName", "string", 0));
SCHEMA(s_ulimit, "Ulimit", STR("Name", "string", 0), INT("Hard", "int64", 0),
       INT("Soft", "int64", 0));
SCHEMA(s_container, "ContainerSpec", STR("Image", "string", F_OMIT), MAP("Labels", F_OMIT),
       STRS("Command"), STRS("Args"), STR("Hostname", "string", F_OMIT), STRS("Env"),
       STR("Dir", "string", F_OMIT), STR("User", "string", F_OMIT), STRS("Groups"),
       OBJ("Privileges", "swarm.Privileges", s_privileges, F_PTR | F_OMIT),
       BOOL("Init", F_PTR | F_OMIT), STR("StopSignal", "string", F_OMIT), BOOL("TTY", F_OMIT),
       BOOL("OpenStdin", F_OMIT), BOOL("ReadOnly", F_OMIT),
       OBJS("Mounts", "mount.Mount", "[]mount.Mount", s_mount, F_OMIT),
       INT("StopGracePeriod", "time.Duration", F_PTR | F_OMIT),
       OBJ("Healthcheck", "container.HealthConfig", s_health, F_PTR | F_OMIT), STRS("Hosts"),
       OBJ("DNSConfig", "swarm.DNSConfig", s_dns, F_PTR | F_OMIT),
       OBJS("Secrets", "swarm.SecretReference", "[]*swarm.SecretReference", s_secret_ref,
	    F_PTR | F_OMIT),
       OBJS("Configs", "swarm.ConfigReference", "[]*swarm.ConfigReference", s_config_ref,
	    F_PTR | F_OMIT),
       STR("Isolation", "container.Isolation", F_OMIT), MAP("Sysctls", F_OMIT),
       STRS("CapabilityAdd"), STRS("CapabilityDrop"),
       OBJS("Ulimits", "units.Ulimit", "[]*units.Ulimit", s_ulimit, F_PTR | F_OMIT));
SCHEMA(s_attachment, "NetworkAttachmentSpec", STR("ContainerID", "string", 0));
SCHEMA(s_limit, "Limit", INT("NanoCPUs", "int64", F_OMIT), INT("MemoryBytes", "int64", F_OMIT),
       INT("Pids", "int64", F_OMIT));
SCHEMA(s_named_res, "NamedGenericResource", STR("Kind", "string", F_OMIT),
       STR("Value", "string", F_OMIT));
SCHEMA(s_discrete_res, "DiscreteGenericResource", STR("Kind", "string", F_OMIT),
       INT("Value", "int64", F_OMIT));
SCHEMA(s_generic_res, "GenericResource",
       OBJ("NamedResourceSpec", "swarm.NamedGenericResource", s_named_res, F_PTR | F_OMIT),
       OBJ("DiscreteResourceSpec", "swarm.DiscreteGenericResource", s_discrete_res,
	   F_PTR | F_OMIT));
SCHEMA(s_resources, "Resources", INT("NanoCPUs", "int64", F_OMIT),
       INT("MemoryBytes", "int64", F_OMIT),
       OBJS("GenericResources", "swarm.GenericResource", "[]swarm.GenericResource", s_generic_res,
	    F_OMIT));
SCHEMA(s_requirements, "ResourceRequirements",
       OBJ("Limits", "swarm.Limit", s_limit, F_PTR | F_OMIT),
       OBJ("Reservations", "swarm.Resources", s_resources, F_PTR | F_OMIT));
SCHEMA(s_restart, "RestartPolicy", STR("Condition", "swarm.RestartPolicyCondition", F_OMIT),
       INT("Delay", "time.Duration", F_PTR | F_OMIT), UINT("MaxAttempts", F_PTR | F_OMIT),
       INT("Window", "time.Duration", F_PTR | F_OMIT));
SCHEMA(s_spread, "SpreadOver", STR("SpreadDescriptor", "string", 0));
SCHEMA(s_preference, "PlacementPreference", OBJ("Spread", "swarm.SpreadOver", s_spread, F_PTR));
SCHEMA(s_platform, "Platform", STR("Architecture", "string", F_OMIT), STR("OS", "string", F_OMIT));
SCHEMA(s_placement, "Placement", STRS("Constraints"),
       OBJS("Preferences", "swarm.PlacementPreference", "[]swarm.PlacementPreference", s_preference,
	    F_OMIT),
       UINT("MaxReplicas", F_OMIT),
       OBJS("Platforms", "swarm.Platform", "[]swarm.Platform", s_platform, F_OMIT));
SCHEMA(s_netattach, "NetworkAttachmentConfig", STR("Target", "string", F_OMIT), STRS("Aliases"),
       MAP("DriverOpts", F_OMIT));
SCHEMA(s_driver, "Driver", STR("Name", "string", F_OMIT), MAP("Options", F_OMIT));
SCHEMA(s_task, "TaskSpec", OBJ("ContainerSpec", "swarm.ContainerSpec", s_container, F_PTR | F_OMIT),
       { "PluginSpec", K_OPAQUE, F_PTR | F_OMIT, "runtime.PluginSpec", NULL, NULL },
       OBJ("NetworkAttachmentSpec", "swarm.NetworkAttachmentSpec", s_attachment, F_PTR | F_OMIT),
       OBJ("Resources", "swarm.ResourceRequirements", s_requirements, F_PTR | F_OMIT),
       OBJ("RestartPolicy", "swarm.RestartPolicy", s_restart, F_PTR | F_OMIT),
       OBJ("Placement", "swarm.Placement", s_placement, F_PTR | F_OMIT),
       OBJS("Networks", "swarm.NetworkAttachmentConfig", "[]swarm.NetworkAttachmentConfig",
	    s_netattach, F_OMIT),
       OBJ("LogDriver", "swarm.Driver", s_driver, F_PTR | F_OMIT), UINT("ForceUpdate", 0),
       STR("Runtime", "swarm.RuntimeType", F_OMIT));
SCHEMA(s_replicated, "ReplicatedService", UINT("Replicas", F_PTR | F_OMIT));
SCHEMA(s_repjob, "ReplicatedJob", UINT("MaxConcurrent", F_PTR | F_OMIT),
       UINT("TotalCompletions", F_PTR | F_OMIT));
EMPTY_SCHEMA(s_global, "GlobalService");
EMPTY_SCHEMA(s_globaljob, "GlobalJob");
SCHEMA(s_mode, "ServiceMode",
       OBJ("Replicated", "swarm.ReplicatedService", s_replicated, F_PTR | F_OMIT),
       OBJ("Global", "swarm.GlobalService", s_global, F_PTR | F_OMIT),
       OBJ("ReplicatedJob", "swarm.ReplicatedJob", s_repjob, F_PTR | F_OMIT),
       OBJ("GlobalJob", "swarm.GlobalJob", s_globaljob, F_PTR | F_OMIT));
SCHEMA(s_update, "UpdateConfig", UINT("Parallelism", 0), INT("Delay", "time.Duration", F_OMIT),
       STR("FailureAction", "string", F_OMIT), INT("Monitor", "time.Duration", F_OMIT),
       { "MaxFailureRatio", K_F32, 0, "float32", NULL, NULL }, STR("Order", "string", 0));
SCHEMA(s_port, "PortConfig", STR("Name", "string", F_OMIT),
       STR("Protocol", "swarm.PortConfigProtocol", F_OMIT), U32("TargetPort", "uint32", F_OMIT),
       U32("PublishedPort", "uint32", F_OMIT),
       STR("PublishMode", "swarm.PortConfigPublishMode", F_OMIT));
SCHEMA(s_endpoint, "EndpointSpec", STR("Mode", "swarm.ResolutionMode", F_OMIT),
       OBJS("Ports", "swarm.PortConfig", "[]swarm.PortConfig", s_port, F_OMIT));
/* Name and Labels are promoted from the embedded Annotations: errors name ServiceSpec. */
SCHEMA(s_service, "ServiceSpec", STR("Name", "string", F_OMIT), MAP("Labels", 0),
       OBJ("TaskTemplate", "swarm.TaskSpec", s_task, 0),
       OBJ("Mode", "swarm.ServiceMode", s_mode, 0),
       OBJ("UpdateConfig", "swarm.UpdateConfig", s_update, F_PTR | F_OMIT),
       OBJ("RollbackConfig", "swarm.UpdateConfig", s_update, F_PTR | F_OMIT),
       OBJS("Networks", "swarm.NetworkAttachmentConfig", "[]swarm.NetworkAttachmentConfig",
	    s_netattach, F_OMIT),
       OBJ("EndpointSpec", "swarm.EndpointSpec", s_endpoint, F_PTR | F_OMIT));

/*
 * Decoding: encoding/json's rules for the value the scanner accepted.
 */

struct decoder {
	struct shoal_err *err;
	const char *strct; /* the struct whose field is being decoded; NULL at the top */
	char path[512];	   /* the field names from the top, "Mode.Replicated.Replicas" */
	size_t pathlen;
};

/* Go's shortest decimal form of a float64 ('g', -1), as %g and errors print it. */
static void go_fmt_g(double v, char *out, size_t size)
{
	char buf[64];
	int p, exp;

	if (v == 0) {
		snprintf(out, size, "0");
		return;
	}
	for (p = 1; p < 17; p++) {
		snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
	exp = atoi(strchr(buf, 'e') + 1);
	/* strconv: with the shortest precision, %e past an exponent of 6 */
	if (exp < -4 || exp >= 6)
		snprintf(out, size, "%s", buf);
	else
		snprintf(out, size, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, v);
}

/* What an UnmarshalTypeError calls a JSON value: "string", "number", "number -1". */
static void value_text(const json_t *v, bool literal, char *out, size_t size)
{
	char num[64];

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		snprintf(out, size, "object");
		return;
	case JSON_ARRAY:
		snprintf(out, size, "array");
		return;
	case JSON_STRING:
		snprintf(out, size, "string");
		return;
	case JSON_TRUE:
	case JSON_FALSE:
		snprintf(out, size, "bool");
		return;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		go_fmt_g(json_real_value(v), num, sizeof(num));
		break;
	default:
		snprintf(out, size, "null");
		return;
	}
	if (literal)
		snprintf(out, size, "number %s", num);
	else
		snprintf(out, size, "number");
}

static json_t *type_error(struct decoder *d, const json_t *v, bool literal, const char *type)
{
	char what[96];

	value_text(v, literal, what, sizeof(what));
	if (d->strct != NULL)
		shoal_errorf(d->err, 400,
			     "json: cannot unmarshal %s into Go struct field %s.%s of type %s",
			     what, d->strct, d->path, type);
	else
		shoal_errorf(d->err, 400, "json: cannot unmarshal %s into Go value of type %s",
			     what, type);
	return NULL;
}

static json_t *dec_struct(struct decoder *d, const struct schema *s, const json_t *obj);

/* A JSON number that fits the Go float32. */
static json_t *dec_f32(struct decoder *d, const struct field *f, const json_t *v)
{
	double x = json_number_value(v);
	float r;

	if (!json_is_number(v))
		return type_error(d, v, false, f->type);
	/* reflect's OverflowFloat */
	if (x > FLT_MAX || x < -FLT_MAX)
		return type_error(d, v, true, f->type);
	r = (float)x;
	/* stored the way Go prints a float32 back: integral values as integers */
	if (r > -9e15f && r < 9e15f && (double)r == (double)(json_int_t)r)
		return json_integer((json_int_t)r);
	return json_real((double)r);
}

/* One value of f's element type (for a slice) or of f's type; NULL with the error set. */
static json_t *dec_one(struct decoder *d, const struct field *f, const json_t *v)
{
	json_int_t n;

	switch (f->kind) {
	case K_STR:
		if (!json_is_string(v))
			return type_error(d, v, false, f->type);
		return json_deep_copy(v);
	case K_BOOL:
		if (!json_is_boolean(v))
			return type_error(d, v, false, f->type);
		return json_deep_copy(v);
	case K_INT:
	case K_UINT:
	case K_U32:
		if (json_is_real(v))
			return type_error(d, v, true, f->type);
		if (!json_is_integer(v))
			return type_error(d, v, false, f->type);
		n = json_integer_value(v);
		if ((f->kind == K_UINT && n < 0) ||
		    (f->kind == K_U32 && (n < 0 || n > (json_int_t)UINT32_MAX)))
			return type_error(d, v, true, f->type);
		return json_integer(n);
	case K_F32:
		return dec_f32(d, f, v);
	case K_MAP: {
		json_t *out;
		const char *k;
		json_t *e;

		if (!json_is_object(v))
			return type_error(d, v, false, f->type);
		out = json_object();
		json_object_foreach((json_t *)v, k, e) {
			if (json_is_null(e)) {
				json_object_set_new(out, k, json_string(""));
				continue;
			}
			if (!json_is_string(e)) {
				json_decref(out);
				return type_error(d, e, false, "string");
			}
			json_object_set(out, k, e);
		}
		return out;
	}
	case K_STRUCT:
		if (!json_is_object(v))
			return type_error(d, v, false, f->type);
		return dec_struct(d, f->sub, v);
	case K_OPAQUE:
		if (!json_is_object(v))
			return type_error(d, v, false, f->type);
		return json_deep_copy(v);
	}
	return NULL;
}

/* The zero value of f's element type: what a null element of a slice decodes to. */
static json_t *zero_elem(const struct field *f)
{
	if (f->flags & F_PTR)
		return json_null();
	switch (f->kind) {
	case K_STR:
		return json_string("");
	case K_BOOL:
		return json_false();
	case K_STRUCT:
	case K_MAP:
		return json_object();
	default:
		return json_integer(0);
	}
}

/* f's value from v (not null); NULL with the error set. */
static json_t *dec_field(struct decoder *d, const struct field *f, const json_t *v)
{
	json_t *out, *e, *x;
	size_t i;

	if (!(f->flags & F_SLICE))
		return dec_one(d, f, v);
	if (!json_is_array(v))
		return type_error(d, v, false, f->slice_type);
	out = json_array();
	json_array_foreach(v, i, e) {
		x = json_is_null(e) ? zero_elem(f) : dec_one(d, f, e);
		if (x == NULL) {
			json_decref(out);
			return NULL;
		}
		json_array_append_new(out, x);
	}
	return out;
}

/* encoding/json's field lookup: the exact name first, else the first that folds equal. */
static const struct field *find_field(const struct schema *s, const char *key)
{
	const struct field *fold = NULL;
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (strcmp(s->fields[i].name, key) == 0)
			return &s->fields[i];
		if (fold == NULL && strcasecmp(s->fields[i].name, key) == 0)
			fold = &s->fields[i];
	}
	return fold;
}

static json_t *dec_struct(struct decoder *d, const struct schema *s, const json_t *obj)
{
	const char *saved_strct = d->strct;
	size_t saved_len = d->pathlen;
	json_t *out = json_object(), *v, *x;
	const struct field *f;
	const char *k;

	json_object_foreach((json_t *)obj, k, v) {
		f = find_field(s, k);
		if (f == NULL)
			continue; /* Go ignores unknown keys */
		if (json_is_null(v)) {
			/* nil for pointers, maps and slices; left alone otherwise */
			if (f->flags & (F_PTR | F_SLICE) || f->kind == K_MAP)
				json_object_del(out, f->name);
			continue;
		}
		snprintf(d->path + saved_len, sizeof(d->path) - saved_len, "%s%s",
			 saved_len > 0 ? "." : "", f->name);
		d->pathlen = strlen(d->path);
		d->strct = s->name;
		x = dec_field(d, f, v);
		d->strct = saved_strct;
		d->pathlen = saved_len;
		d->path[saved_len] = '\0';
		if (x == NULL) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, f->name, x);
	}
	return out;
}

json_t *shoal_api__service_spec_decode(const char *body, size_t len, struct shoal_err *err)
{
	struct decoder d = { .err = err };
	json_error_t jerr;
	json_t *v, *out = NULL;
	long end;

	end = go_first_value(body != NULL ? body : "", body != NULL ? len : 0, err);
	if (end < 0)
		return NULL;
	v = json_loadb(body, (size_t)end, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (v == NULL) {
		/* Go takes what jansson refuses: huge integers, invalid UTF-8 */
		shoal_errorf(err, 400, "%s", jerr.text);
		return NULL;
	}
	if (json_is_null(v))
		out = json_object();
	else if (json_is_object(v))
		out = dec_struct(&d, &s_service, v);
	else
		type_error(&d, v, false, "swarm.ServiceSpec");
	json_decref(v);
	return out;
}

/*
 * Emitting: encoding/json's encoder over the Go value, fields in declaration order,
 * omitempty honoured, nil pointers and maps without omitempty as null.
 */

static bool is_zero(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_length(v) == 0;
	case JSON_INTEGER:
		return json_integer_value(v) == 0;
	case JSON_REAL:
		return json_real_value(v) == 0;
	case JSON_FALSE:
	case JSON_NULL:
		return true;
	default:
		return false;
	}
}

static json_t *zero_value(enum kind kind)
{
	switch (kind) {
	case K_STR:
		return json_string("");
	case K_BOOL:
		return json_false();
	default:
		return json_integer(0);
	}
}

static json_t *emit_struct(const struct schema *s, const json_t *obj);

static json_t *emit_one(const struct field *f, const json_t *v)
{
	if (json_is_null(v))
		return json_null();
	if (f->kind == K_STRUCT)
		return emit_struct(f->sub, json_is_object(v) ? v : NULL);
	return json_deep_copy(v);
}

static json_t *emit_struct(const struct schema *s, const json_t *obj)
{
	json_t *out = json_object(), *v, *a, *e;
	const struct field *f;
	size_t i, j;

	for (i = 0; i < s->n; i++) {
		f = &s->fields[i];
		v = obj != NULL ? json_object_get(obj, f->name) : NULL;
		if (json_is_null(v))
			v = NULL;
		if (f->flags & F_SLICE) {
			if (v == NULL || !json_is_array(v)) {
				if (!(f->flags & F_OMIT))
					json_object_set_new(out, f->name, json_null());
				continue;
			}
			if ((f->flags & F_OMIT) && json_array_size(v) == 0)
				continue;
			a = json_array();
			json_array_foreach(v, j, e)
				json_array_append_new(a, emit_one(f, e));
			json_object_set_new(out, f->name, a);
			continue;
		}
		if (f->kind == K_MAP) {
			if (v == NULL) {
				if (!(f->flags & F_OMIT))
					json_object_set_new(out, f->name, json_null());
			} else if (!(f->flags & F_OMIT) || json_object_size(v) > 0) {
				json_object_set(out, f->name, v);
			}
			continue;
		}
		if (f->flags & F_PTR) {
			if (v != NULL)
				json_object_set_new(out, f->name, emit_one(f, v));
			else if (!(f->flags & F_OMIT))
				json_object_set_new(out, f->name, json_null());
			continue;
		}
		if (f->kind == K_STRUCT) {
			/* omitempty never drops a struct value */
			json_object_set_new(out, f->name, emit_struct(f->sub, v));
			continue;
		}
		if (v == NULL)
			v = zero_value(f->kind);
		else
			json_incref(v);
		if (!(f->flags & F_OMIT) || !is_zero(v))
			json_object_set(out, f->name, v);
		json_decref(v);
	}
	return out;
}

json_t *shoal_api__service_spec_normalize(const json_t *spec)
{
	return emit_struct(&s_service, spec);
}

/*
 * Converting: moby's daemon/cluster/convert ServiceSpecToGRPC, then serviceSpecFromGRPC,
 * in one pass over the decoded spec. Errors keep the order moby finds them in.
 */

static const char *str_of(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

static json_int_t int_of(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static bool has(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return v != NULL && !json_is_null(v);
}

/* The object at o[k], made if absent. Borrowed. */
static json_t *obj_at(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_object(v)) {
		v = json_object();
		json_object_set_new(o, k, v);
	}
	return v;
}

/* The lower-case name of a protobuf enum value given case-insensitively, or NULL. */
static const char *enum_lookup(const char *s, const char *const *names)
{
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		if (strcasecmp(s, names[i]) == 0)
			return names[i];
	return NULL;
}

static int conv_credspec(json_t *cs, struct shoal_err *err)
{
	static const char *const keys[] = { "Config", "File", "Registry" };
	const char *opts[3];
	size_t n = 0, i;

	for (i = 0; i < 3; i++)
		if (str_of(cs, keys[i])[0] != '\0')
			opts[n++] = i == 0 ? "\"config\"" : i == 1 ? "\"file\"" : "\"registry\"";
	if (n == 0)
		return shoal_errorf(
			err, 400,
			"invalid CredentialSpec: must either provide \"file\", \"registry\", or \"config\" for credential spec");
	if (n == 2)
		return shoal_errorf(
			err, 400,
			"invalid CredentialSpec: cannot specify both %s and %s credential specs",
			opts[0], opts[1]);
	if (n == 3)
		return shoal_errorf(
			err, 400,
			"invalid CredentialSpec: cannot specify both %s, %s, and %s credential specs",
			opts[0], opts[1], opts[2]);
	return 0;
}

static int conv_mount(json_t *m, struct shoal_err *err)
{
	static const char *const types[] = { "bind", "volume", "tmpfs", "npipe", NULL };
	static const char *const props[] = { "rprivate", "private", "rshared", "shared",
					     "rslave",	 "slave",   NULL };
	const char *type = str_of(m, "Type"), *t, *p;
	json_t *bo = json_object_get(m, "BindOptions");

	t = enum_lookup(type, types);
	if (t == NULL && type[0] != '\0')
		return shoal_errorf(err, 400, "invalid MountType: \"%s\"", type);
	json_object_set_new(m, "Type", json_string(t != NULL ? t : "bind"));
	json_object_del(m, "Consistency"); /* 20.10 does not carry it to swarmkit */
	if (bo != NULL) {
		bool nonrec = json_is_true(json_object_get(bo, "NonRecursive"));
		const char *prop = str_of(bo, "Propagation");

		p = enum_lookup(prop, props);
		if (p == NULL && prop[0] != '\0')
			return shoal_errorf(err, 400, "invalid MountPropagation: \"%s\"", prop);
		if (p == NULL && !nonrec) {
			json_object_del(m, "BindOptions");
		} else {
			/* the propagation defaults to rprivate */
			json_object_set_new(bo, "Propagation",
					    json_string(p != NULL ? p : "rprivate"));
		}
	}
	return 0;
}

static int conv_container(json_t *c, struct shoal_err *err)
{
	const char *iso = str_of(c, "Isolation");
	json_t *priv = json_object_get(c, "Privileges"), *cs, *a, *e;
	size_t i;

	json_object_set_new(c, "Isolation",
			    json_string(strcasecmp(iso, "hyperv") == 0	? "hyperv" :
					strcasecmp(iso, "process") == 0 ? "process" :
									  "default"));
	cs = priv != NULL ? json_object_get(priv, "CredentialSpec") : NULL;
	if (cs != NULL && conv_credspec(cs, err) < 0)
		return -1;
	a = json_object_get(c, "Configs");
	json_array_foreach(a, i, e) {
		bool file = has(e, "File"), runtime = has(e, "Runtime");

		if (!file && !runtime)
			return shoal_errorf(err, 400,
					    "invalid Config: either File or Runtime should be set");
		if (file && runtime)
			return shoal_errorf(err, 400,
					    "invalid Config: cannot specify both File and Runtime");
	}
	a = json_object_get(c, "Mounts");
	json_array_foreach(a, i, e) {
		if (conv_mount(e, err) < 0)
			return -1;
	}
	return 0;
}

static int conv_update(json_t *uc, struct shoal_err *err)
{
	const char *fa = str_of(uc, "FailureAction"), *order = str_of(uc, "Order");

	if (fa[0] == '\0')
		json_object_set_new(uc, "FailureAction", json_string("pause"));
	else if (strcmp(fa, "pause") != 0 && strcmp(fa, "continue") != 0 &&
		 strcmp(fa, "rollback") != 0)
		return shoal_errorf(err, 400, "unrecognized update failure action %s", fa);
	/* Monitor 0 means unset: swarmkit's default applies */
	if (int_of(uc, "Monitor") == 0)
		json_object_del(uc, "Monitor");
	if (order[0] == '\0')
		json_object_set_new(uc, "Order", json_string("stop-first"));
	else if (strcmp(order, "stop-first") != 0 && strcmp(order, "start-first") != 0)
		return shoal_errorf(err, 400, "unrecognized update order %s", order);
	return 0;
}

static int conv_endpoint(json_t *ep, struct shoal_err *err)
{
	static const char *const protos[] = { "tcp", "udp", "sctp", NULL };
	static const char *const modes[] = { "ingress", "host", NULL };
	const char *mode = str_of(ep, "Mode"), *v;
	json_t *p;
	size_t i;

	if (mode[0] != '\0' && strcmp(mode, "vip") != 0 && strcmp(mode, "dnsrr") != 0)
		return shoal_errorf(err, 400, "invalid resolution mode: \"%s\"", mode);
	if (mode[0] == '\0')
		json_object_set_new(ep, "Mode", json_string("vip"));
	/* unknown protocols and publish modes are enum value 0 to moby: tcp, ingress */
	json_array_foreach(json_object_get(ep, "Ports"), i, p) {
		v = enum_lookup(str_of(p, "Protocol"), protos);
		json_object_set_new(p, "Protocol", json_string(v != NULL ? v : "tcp"));
		v = enum_lookup(str_of(p, "PublishMode"), modes);
		json_object_set_new(p, "PublishMode", json_string(v != NULL ? v : "ingress"));
	}
	return 0;
}

static int conv_mode(json_t *spec, struct shoal_err *err)
{
	json_t *m = json_object_get(spec, "Mode"), *out, *rj;
	int n = has(m, "Replicated") + has(m, "Global") + has(m, "ReplicatedJob") +
		has(m, "GlobalJob");
	json_int_t mc, tc;

	if (n > 1)
		return shoal_errorf(err, 400, "must specify only one service mode");
	if (has(m, "Global")) {
		out = json_pack("{s:{}}", "Global");
	} else if (has(m, "GlobalJob")) {
		out = json_pack("{s:{}}", "GlobalJob");
	} else if (has(m, "ReplicatedJob")) {
		rj = json_object_get(m, "ReplicatedJob");
		mc = has(rj, "MaxConcurrent") ? int_of(rj, "MaxConcurrent") : 1;
		tc = has(rj, "TotalCompletions") ? int_of(rj, "TotalCompletions") : mc;
		out = json_pack("{s:{s:I, s:I}}", "ReplicatedJob", "MaxConcurrent", mc,
				"TotalCompletions", tc);
	} else if (has(json_object_get(m, "Replicated"), "Replicas")) {
		out = json_pack("{s:{s:I}}", "Replicated", "Replicas",
				int_of(json_object_get(m, "Replicated"), "Replicas"));
	} else {
		/* no mode, an unknown one or Replicated without Replicas */
		out = json_pack("{s:{s:i}}", "Replicated", "Replicas", 1);
	}
	json_object_set_new(spec, "Mode", out);
	return 0;
}

json_t *shoal_api__service_spec_convert(const json_t *decoded, struct shoal_err *err)
{
	json_t *s = json_deep_copy(decoded), *tt, *rp, *pl, *a, *e, *keep, *out = NULL;
	const char *runtime, *cond;
	bool plugin = false;
	char name[64];
	size_t i;

	if (str_of(s, "Name")[0] == '\0') {
		shoal_api__random_name(name, sizeof(name));
		json_object_set_new(s, "Name", json_string(name));
	}
	if (!json_is_object(json_object_get(s, "Labels")))
		json_object_set_new(s, "Labels", json_object());
	tt = obj_at(s, "TaskTemplate");
	runtime = str_of(tt, "Runtime");
	if (runtime[0] == '\0' || strcmp(runtime, "container") == 0) {
		if (!has(tt, "ContainerSpec")) {
			shoal_errorf(err, 400, ERR_MISMATCHED_RUNTIME);
			goto out;
		}
		if (conv_container(json_object_get(tt, "ContainerSpec"), err) < 0)
			goto out;
		json_object_del(tt, "PluginSpec");
		json_object_set_new(tt, "Runtime", json_string("container"));
	} else if (strcmp(runtime, "plugin") == 0) {
		if (!has(tt, "PluginSpec")) {
			shoal_errorf(err, 400, ERR_MISMATCHED_RUNTIME);
			goto out;
		}
		if (has(json_object_get(s, "Mode"), "Replicated")) {
			shoal_errorf(err, 400, "plugins must not use replicated mode");
			goto out;
		}
		json_object_set_new(obj_at(s, "Mode"), "Global", json_object());
		json_object_del(tt, "ContainerSpec");
		plugin = true;
	} else {
		/* "attachment" too: moby refuses to parse it */
		shoal_errorf(err, 400, "unsupported runtime");
		goto out;
	}
	json_object_del(tt, "NetworkAttachmentSpec");
	rp = json_object_get(tt, "RestartPolicy");
	if (rp != NULL) {
		cond = str_of(rp, "Condition");
		if (cond[0] == '\0')
			json_object_set_new(rp, "Condition", json_string("any"));
		else if (strcmp(cond, "none") != 0 && strcmp(cond, "on-failure") != 0 &&
			 strcmp(cond, "any") != 0) {
			shoal_errorf(err, 400, "invalid RestartCondition: \"%s\"", cond);
			goto out;
		}
		if (!has(rp, "MaxAttempts"))
			json_object_set_new(rp, "MaxAttempts", json_integer(0));
	}
	pl = json_object_get(tt, "Placement");
	a = json_object_get(pl, "Preferences");
	if (a != NULL) {
		/* preferences other than spread do not survive */
		keep = json_array();
		json_array_foreach(a, i, e) {
			if (has(e, "Spread"))
				json_array_append(keep, e);
		}
		json_object_set_new(pl, "Preferences", keep);
	}
	if ((has(s, "UpdateConfig") && conv_update(json_object_get(s, "UpdateConfig"), err) < 0) ||
	    (has(s, "RollbackConfig") &&
	     conv_update(json_object_get(s, "RollbackConfig"), err) < 0) ||
	    (has(s, "EndpointSpec") &&
	     conv_endpoint(json_object_get(s, "EndpointSpec"), err) < 0) ||
	    conv_mode(s, err) < 0)
		goto out;
	if (plugin) {
		/* CreateService's answer without the daemon's --experimental */
		shoal_errorf(err, 500, "runtime type \"plugin\" only supported in experimental");
		goto out;
	}
	out = emit_struct(&s_service, s);
out:
	json_decref(s);
	return out;
}

/*
 * Validating: swarmkit's manager/controlapi validateServiceSpec on the converted spec.
 */

static int invalid(struct shoal_err *err, const char *fmt, ...) SHOAL_PRINTF(2, 3);

static int invalid(struct shoal_err *err, const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return shoal_errorf(err, 400, RPC_INVALID "%s", msg);
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$ */
static bool valid_dns_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

static int check_resources(const json_t *r, struct shoal_err *err)
{
	json_int_t cpu = int_of(r, "NanoCPUs"), mem = int_of(r, "MemoryBytes");
	char v[64], min[64];

	if (r == NULL)
		return 0;
	if (cpu != 0 && cpu < 1000000) {
		go_fmt_g((double)cpu / 1e9, v, sizeof(v));
		go_fmt_g(1e6 / 1e9, min, sizeof(min));
		return invalid(err, "invalid cpu value %s: Must be at least %s", v, min);
	}
	if (mem != 0 && mem < 4 * 1024 * 1024)
		return invalid(
			err, "invalid memory value %" JSON_INTEGER_FORMAT ": Must be at least 4MiB",
			mem);
	return 0;
}

static size_t trim(const char *s, size_t n, const char **start)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	*start = s;
	return n;
}

/* swarmkit manager/constraint Parse; its errors are plain, so gRPC says Unknown: 500. */
static int check_constraint(const char *e, struct shoal_err *err)
{
	static const char *const ops[] = { "==", "!=" };
	const char *at, *k, *v;
	size_t i, j, kn, vn;
	bool ok;

	for (i = 0; i < 2; i++) {
		at = strstr(e, ops[i]);
		if (at == NULL)
			continue;
		kn = trim(e, (size_t)(at - e), &k);
		vn = trim(at + 2, strlen(at + 2), &v);
		/* key: ^(?i)[a-z_][a-z0-9\-_.]+$ */
		ok = kn >= 2 && (isalpha((unsigned char)k[0]) || k[0] == '_');
		for (j = 1; ok && j < kn; j++)
			ok = is_alnum(k[j]) || strchr("-_.", k[j]) != NULL;
		if (!ok)
			return shoal_errorf(err, 500, RPC_UNKNOWN "key '%.*s' is invalid", (int)kn,
					    k);
		/* value: ^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$ */
		ok = vn >= 1;
		for (j = 0; ok && j < vn; j++)
			ok = is_alnum(v[j]) || strchr(":-_ \t\n\f\r.*()?+[]\\^$|/", v[j]) != NULL;
		if (!ok)
			return shoal_errorf(err, 500, RPC_UNKNOWN "value '%.*s' is invalid",
					    (int)vn, v);
		return 0;
	}
	return shoal_errorf(err, 500, RPC_UNKNOWN "constraint expected one operator from ==, !=");
}

/* validateSecretRefsSpec and validateConfigRefsSpec. */
static int check_refs(const json_t *c, struct shoal_err *err)
{
	const char *cred = str_of(
		json_object_get(json_object_get(c, "Privileges"), "CredentialSpec"), "Config");
	json_t *targets = json_object(), *r, *file;
	bool cred_found = false;
	const char *name, *prev;
	int rv = -1;
	size_t i;

	json_array_foreach(json_object_get(c, "Secrets"), i, r) {
		if (str_of(r, "SecretID")[0] == '\0' || str_of(r, "SecretName")[0] == '\0') {
			invalid(err, "malformed secret reference");
			goto out;
		}
		file = json_object_get(r, "File");
		if (!json_is_object(file)) {
			invalid(err, "malformed secret reference, no target provided");
			goto out;
		}
		name = str_of(file, "Name");
		if (name[0] == '\0') {
			invalid(err,
				"malformed file secret reference, invalid target file name provided");
			goto out;
		}
		prev = json_string_value(json_object_get(targets, name));
		if (prev != NULL) {
			invalid(err,
				"secret references '%s' and '%s' have a conflicting target: '%s'",
				prev, str_of(r, "SecretName"), name);
			goto out;
		}
		json_object_set_new(targets, name, json_string(str_of(r, "SecretName")));
	}
	json_object_clear(targets);
	json_array_foreach(json_object_get(c, "Configs"), i, r) {
		if (str_of(r, "ConfigID")[0] == '\0' || str_of(r, "ConfigName")[0] == '\0') {
			invalid(err, "malformed config reference");
			goto out;
		}
		file = json_object_get(r, "File");
		if (!json_is_object(file) && !has(r, "Runtime")) {
			invalid(err, "malformed config reference, no target provided");
			goto out;
		}
		if (json_is_object(file)) {
			name = str_of(file, "Name");
			if (name[0] == '\0') {
				invalid(err,
					"malformed file config reference, invalid target file name provided");
				goto out;
			}
			prev = json_string_value(json_object_get(targets, name));
			if (prev != NULL) {
				invalid(err,
					"config references '%s' and '%s' have a conflicting target: '%s'",
					prev, str_of(r, "ConfigName"), name);
				goto out;
			}
			json_object_set_new(targets, name, json_string(str_of(r, "ConfigName")));
		}
		if (has(r, "Runtime") && strcmp(str_of(r, "ConfigID"), cred) == 0)
			cred_found = true;
	}
	if (cred[0] != '\0' && !cred_found) {
		invalid(err,
			"CredentialSpec references config '%s', but that config isn't in config references with RuntimeTarget",
			cred);
		goto out;
	}
	rv = 0;
out:
	json_decref(targets);
	return rv;
}

static int check_container(const json_t *c, struct shoal_err *err)
{
	static const char *const hc_durations[] = { "Interval", "Timeout", "StartPeriod" };
	const char *image = str_of(c, "Image");
	json_t *seen = json_object(), *m, *hc;
	struct shoal_ref ref;
	struct shoal_err rerr;
	json_int_t d;
	int rv = -1;
	size_t i;

	if (image[0] == '\0') {
		invalid(err, "ContainerSpec: image reference must be provided");
		goto out;
	}
	if (shoal_ref_parse(image, &ref, &rerr) < 0) {
		invalid(err, "ContainerSpec: \"%s\" is not a valid repository/tag", image);
		goto out;
	}
	json_array_foreach(json_object_get(c, "Mounts"), i, m) {
		const char *target = str_of(m, "Target");

		if (json_object_get(seen, target) != NULL) {
			invalid(err, "ContainerSpec: duplicate mount point: %s", target);
			goto out;
		}
		json_object_set_new(seen, target, json_true());
	}
	hc = json_object_get(c, "Healthcheck");
	for (i = 0; hc != NULL && i < SHOAL_ARRAY_SIZE(hc_durations); i++) {
		d = int_of(hc, hc_durations[i]);
		if (d != 0 && d < 1000000) {
			invalid(err, "ContainerSpec: %s in HealthConfig cannot be less than 1ms",
				hc_durations[i]);
			goto out;
		}
	}
	if (hc != NULL && int_of(hc, "Retries") < 0) {
		invalid(err, "ContainerSpec: Retries in HealthConfig cannot be negative");
		goto out;
	}
	rv = 0;
out:
	json_decref(seen);
	return rv;
}

static int check_update(const json_t *uc, struct shoal_err *err)
{
	double ratio = json_number_value(json_object_get(uc, "MaxFailureRatio"));

	if (uc == NULL)
		return 0;
	if (int_of(uc, "Delay") < 0)
		return invalid(err, "TaskSpec: update-delay cannot be negative");
	if (int_of(uc, "Monitor") < 0)
		return invalid(err, "TaskSpec: update-monitor cannot be negative");
	if (ratio < 0 || ratio > 1)
		return invalid(
			err,
			"TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1");
	return 0;
}

static int check_endpoint(const json_t *ep, struct shoal_err *err)
{
	bool dnsrr = strcmp(str_of(ep, "Mode"), "dnsrr") == 0;
	json_t *seen = json_object(), *p;
	char key[64];
	int rv = -1;
	size_t i;

	json_array_foreach(json_object_get(ep, "Ports"), i, p) {
		if (dnsrr && strcmp(str_of(p, "PublishMode"), "ingress") == 0) {
			invalid(err,
				"EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
			goto out;
		}
		if (int_of(p, "PublishedPort") == 0)
			continue;
		snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT "/%s",
			 int_of(p, "PublishedPort"), str_of(p, "Protocol"));
		if (json_object_get(seen, key) != NULL) {
			invalid(err, "EndpointSpec: duplicate published ports provided");
			goto out;
		}
		json_object_set_new(seen, key, json_true());
	}
	rv = 0;
out:
	json_decref(seen);
	return rv;
}

const char *shoal_api__service_mode(const json_t *spec)
{
	const json_t *m = json_object_get(spec, "Mode");

	if (has(m, "Global"))
		return "global";
	if (has(m, "ReplicatedJob"))
		return "replicated-job";
	if (has(m, "GlobalJob"))
		return "global-job";
	return "replicated";
}

int shoal_api__service_spec_validate(const json_t *spec, struct shoal_err *err)
{
	const char *name = str_of(spec, "Name"), *mode = shoal_api__service_mode(spec);
	const json_t *tt = json_object_get(spec, "TaskTemplate"), *res, *rp, *c, *v;
	size_t i;

	if (name[0] == '\0')
		return invalid(err, "meta: name must be provided");
	if (!valid_dns_name(name))
		return invalid(err, "name must be valid as a DNS name component");
	if (strlen(name) > 63)
		return invalid(err, "name must be 63 characters or fewer");
	res = json_object_get(tt, "Resources");
	if (check_resources(json_object_get(res, "Limits"), err) < 0 ||
	    check_resources(json_object_get(res, "Reservations"), err) < 0)
		return -1;
	rp = json_object_get(tt, "RestartPolicy");
	if (has(rp, "Delay") && int_of(rp, "Delay") < 0)
		return invalid(err, "TaskSpec: restart-delay cannot be negative");
	if (has(rp, "Window") && int_of(rp, "Window") < 0)
		return invalid(err, "TaskSpec: restart-window cannot be negative");
	json_array_foreach(json_object_get(json_object_get(tt, "Placement"), "Constraints"), i, v) {
		if (check_constraint(json_string_value(v), err) < 0)
			return -1;
	}
	c = json_object_get(tt, "ContainerSpec");
	if (c == NULL)
		return shoal_errorf(
			err, 501,
			"rpc error: code = Unimplemented desc = RuntimeSpec: unimplemented runtime in service spec");
	if (check_refs(c, err) < 0 || check_container(c, err) < 0)
		return -1;
	/* jobs take no UpdateConfig; the RollbackConfig is not checked at all */
	if (strcmp(mode, "replicated-job") == 0 || strcmp(mode, "global-job") == 0) {
		if (has(spec, "UpdateConfig"))
			return invalid(err, "Jobs may not have an update config");
	} else if (check_update(json_object_get(spec, "UpdateConfig"), err) < 0) {
		return -1;
	}
	return check_endpoint(json_object_get(spec, "EndpointSpec"), err);
}

/* checkSecretExistence and checkConfigExistence: Shoal has neither secrets nor configs yet. */
static int check_missing(const json_t *refs, const char *what, const char *key,
			 struct shoal_err *err)
{
	char list[256] = "";
	size_t i, n = json_array_size(refs), len = 0;
	const json_t *r;

	if (n == 0)
		return 0;
	json_array_foreach(refs, i, r) {
		len += (size_t)snprintf(list + len, len < sizeof(list) ? sizeof(list) - len : 0,
					"%s%s", i > 0 ? ", " : "", str_of(r, key));
		if (len >= sizeof(list))
			break;
	}
	return invalid(err, "%s%s not found: %s", what, n == 1 ? "" : "s", list);
}

int shoal_api__service_spec_refs_check(const json_t *spec, struct shoal_err *err)
{
	const json_t *c = json_object_get(json_object_get(spec, "TaskTemplate"), "ContainerSpec");

	if (check_missing(json_object_get(c, "Secrets"), "secret", "SecretName", err) < 0 ||
	    check_missing(json_object_get(c, "Configs"), "config", "ConfigName", err) < 0)
		return -1;
	return 0;
}

/*
 * Defaults: swarmkit's api/defaults InterpolateService, as GET ?insertDefaults=true shows.
 */

static json_t *default_update(void)
{
	return json_pack("{s:i, s:s, s:I, s:i, s:s}", "Parallelism", 1, "FailureAction", "pause",
			 "Monitor", (json_int_t)5 * NS_PER_S, "MaxFailureRatio", 0, "Order",
			 "stop-first");
}

json_t *shoal_api__service_spec_defaults(const json_t *spec)
{
	json_t *s = json_deep_copy(spec), *tt = obj_at(s, "TaskTemplate"), *c, *rp, *out;
	static const char *const updates[] = { "UpdateConfig", "RollbackConfig" };
	size_t i;

	c = json_object_get(tt, "ContainerSpec");
	if (c != NULL) {
		if (!has(c, "StopGracePeriod"))
			json_object_set_new(c, "StopGracePeriod", json_integer(10 * NS_PER_S));
		if (!has(c, "DNSConfig"))
			json_object_set_new(c, "DNSConfig", json_object());
	}
	if (!has(tt, "Resources"))
		json_object_set_new(tt, "Resources", json_object());
	rp = json_object_get(tt, "RestartPolicy");
	if (!json_is_object(rp))
		json_object_set_new(tt, "RestartPolicy",
				    json_pack("{s:s, s:I, s:i}", "Condition", "any", "Delay",
					      (json_int_t)5 * NS_PER_S, "MaxAttempts", 0));
	else if (!has(rp, "Delay"))
		json_object_set_new(rp, "Delay", json_integer(5 * NS_PER_S));
	if (!has(tt, "Placement"))
		json_object_set_new(tt, "Placement", json_object());
	for (i = 0; i < 2; i++) {
		json_t *uc = json_object_get(s, updates[i]);

		if (!json_is_object(uc))
			json_object_set_new(s, updates[i], default_update());
		else if (!has(uc, "Monitor") || int_of(uc, "Monitor") == 0)
			json_object_set_new(uc, "Monitor", json_integer(5 * NS_PER_S));
	}
	out = emit_struct(&s_service, s);
	json_decref(s);
	return out;
}

/*
 * Published ports: swarmkit's checkPortConflicts and its allocator's port spaces.
 */

static bool port_in(const json_t *set, const json_t *pc)
{
	char key[64];

	snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT "/%s", int_of(pc, "PublishedPort"),
		 str_of(pc, "Protocol"));
	return json_object_get(set, key) != NULL;
}

static void port_add(json_t *set, const json_t *pc)
{
	char key[64];

	snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT "/%s", int_of(pc, "PublishedPort"),
		 str_of(pc, "Protocol"));
	json_object_set_new(set, key, json_true());
}

static int port_in_use(const json_t *pc, const json_t *svc, const json_t *ingress,
		       const json_t *host, struct shoal_err *err)
{
	const char *mode = str_of(pc, "PublishMode"),
		   *name = str_of(json_object_get(svc, "Spec"), "Name"), *id = str_of(svc, "ID");

	if (int_of(pc, "PublishedPort") == 0)
		return 0;
	if (strcmp(mode, "host") == 0) {
		/* several services may share a host-mode port: the scheduler sorts it out */
		if (port_in(ingress, pc))
			return invalid(
				err,
				"port '%" JSON_INTEGER_FORMAT
				"' is already in use by service '%s' (%s) as a host-published port",
				int_of(pc, "PublishedPort"), name, id);
		return 0;
	}
	if (port_in(ingress, pc) || port_in(host, pc))
		return invalid(err,
			       "port '%" JSON_INTEGER_FORMAT
			       "' is already in use by service '%s' (%s) as an ingress port",
			       int_of(pc, "PublishedPort"), name, id);
	return 0;
}

int shoal_api__service_ports_check(const json_t *spec, const char *self,
				   const json_t *const *services, size_t n, struct shoal_err *err)
{
	json_t *ingress = json_object(), *host = json_object(), *pc;
	const char *lists[2][2] = { { "Spec", "EndpointSpec" }, { "Endpoint", NULL } };
	int rv = -1;
	size_t i, j, l;

	json_array_foreach(json_object_get(json_object_get(spec, "EndpointSpec"), "Ports"), j, pc) {
		if (int_of(pc, "PublishedPort") == 0)
			continue;
		port_add(strcmp(str_of(pc, "PublishMode"), "host") == 0 ? host : ingress, pc);
	}
	for (i = 0; i < n && (json_object_size(ingress) > 0 || json_object_size(host) > 0); i++) {
		if (self != NULL && strcmp(str_of(services[i], "ID"), self) == 0)
			continue;
		for (l = 0; l < 2; l++) {
			const json_t *ports = json_object_get(services[i], lists[l][0]);

			if (lists[l][1] != NULL)
				ports = json_object_get(ports, lists[l][1]);
			json_array_foreach(json_object_get(ports, "Ports"), j, pc) {
				if (port_in_use(pc, services[i], ingress, host, err) < 0)
					goto out;
			}
		}
	}
	rv = 0;
out:
	json_decref(ingress);
	json_decref(host);
	return rv;
}

static bool same_port_key(const json_t *a, const json_t *b)
{
	return strcmp(str_of(a, "Name"), str_of(b, "Name")) == 0 &&
	       strcmp(str_of(a, "Protocol"), str_of(b, "Protocol")) == 0 &&
	       int_of(a, "TargetPort") == int_of(b, "TargetPort") &&
	       strcmp(str_of(b, "PublishMode"), "ingress") == 0;
}

/* The earlier allocation of pc in prev (an array, entries taken out as they are reused):
 * for a port given, the same one; for a dynamic one, any it had. NULL if none. */
static json_t *take_previous(json_t *prev, const json_t *pc)
{
	json_int_t want = int_of(pc, "PublishedPort");
	json_t *p;
	size_t i;

	json_array_foreach(prev, i, p) {
		if (!same_port_key(pc, p) || int_of(p, "PublishedPort") == 0)
			continue;
		if (want != 0 && int_of(p, "PublishedPort") != want)
			continue;
		json_incref(p);
		json_array_remove(prev, i);
		return p;
	}
	return NULL;
}

json_t *shoal_api__service_endpoint(const json_t *spec, const json_t *old, const char *self,
				    const json_t *const *services, size_t n, struct shoal_err *err)
{
	const json_t *es = json_object_get(spec, "EndpointSpec");
	json_t *used = json_object(), *prev, *ports = json_array(), *out = NULL, *pc, *st, *p;
	size_t i, j;
	json_int_t port;

	prev = json_deep_copy(json_object_get(old, "Ports"));
	if (!json_is_array(prev)) {
		json_decref(prev);
		prev = json_array();
	}
	for (i = 0; i < n; i++) {
		if (self != NULL && strcmp(str_of(services[i], "ID"), self) == 0)
			continue;
		json_array_foreach(
			json_object_get(json_object_get(services[i], "Endpoint"), "Ports"), j, p) {
			if (strcmp(str_of(p, "PublishMode"), "ingress") == 0)
				port_add(used, p);
		}
	}
	/* ports given first, so a dynamic one never takes a port the spec names */
	json_array_foreach(json_object_get(es, "Ports"), i, pc) {
		if (strcmp(str_of(pc, "PublishMode"), "ingress") == 0 &&
		    int_of(pc, "PublishedPort") != 0)
			port_add(used, pc);
	}
	json_array_foreach(json_object_get(es, "Ports"), i, pc) {
		st = json_deep_copy(pc);
		if (strcmp(str_of(pc, "PublishMode"), "ingress") == 0) {
			p = take_previous(prev, pc);
			if (p != NULL) {
				json_object_set(st, "PublishedPort",
						json_object_get(p, "PublishedPort"));
				json_decref(p);
			} else if (int_of(pc, "PublishedPort") == 0) {
				for (port = DYN_PORT_FIRST; port <= DYN_PORT_LAST; port++) {
					json_object_set_new(st, "PublishedPort",
							    json_integer(port));
					if (!port_in(used, st))
						break;
				}
				if (port > DYN_PORT_LAST) {
					json_decref(st);
					shoal_errorf(
						err, 500,
						"could not find an available port for %s/%" JSON_INTEGER_FORMAT,
						str_of(pc, "Protocol"), int_of(pc, "TargetPort"));
					goto out;
				}
			}
			port_add(used, st);
		}
		/* in Go's field order, whatever was added */
		json_array_append_new(ports, emit_struct(&s_port, st));
		json_decref(st);
	}
	out = json_object();
	json_object_set_new(out, "Spec", emit_struct(&s_endpoint, es));
	if (json_array_size(ports) > 0)
		json_object_set(out, "Ports", ports);
out:
	json_decref(used);
	json_decref(prev);
	json_decref(ports);
	return out;
}

/*
 * Status of tasks.
 */

json_t *shoal_api__service_status(const json_t *service, const json_t *const *tasks, size_t n,
				  const json_t *node_states)
{
	const json_t *spec = json_object_get(service, "Spec"), *mode, *t, *it;
	const char *m = shoal_api__service_mode(spec), *state, *desired, *node;
	json_int_t running = 0, desired_n = 0, completed = 0, iteration = -1;
	bool global = strcmp(m, "global") == 0 || strcmp(m, "global-job") == 0;
	size_t i;

	mode = json_object_get(spec, "Mode");
	if (strcmp(m, "replicated") == 0)
		desired_n = int_of(json_object_get(mode, "Replicated"), "Replicas");
	else if (strcmp(m, "replicated-job") == 0)
		desired_n = int_of(json_object_get(mode, "ReplicatedJob"), "MaxConcurrent");
	it = json_object_get(json_object_get(service, "JobStatus"), "JobIteration");
	if (json_is_object(it))
		iteration = int_of(it, "Index");
	for (i = 0; i < n; i++) {
		t = tasks[i];
		state = str_of(json_object_get(t, "Status"), "State");
		desired = str_of(t, "DesiredState");
		node = str_of(t, "NodeID");
		/* a job's earlier runs do not count */
		if (iteration >= 0) {
			if (int_of(json_object_get(t, "JobIteration"), "Index") != iteration ||
			    !has(t, "JobIteration"))
				continue;
			if (strcmp(state, "complete") == 0)
				completed++;
		}
		if (strcmp(str_of(node_states, node), "down") == 0)
			continue;
		if (strcmp(state, "running") == 0 && strcmp(desired, "running") == 0)
			running++;
		if (global && strcmp(desired, "running") == 0)
			desired_n++;
		if (global && strcmp(state, "complete") != 0 && strcmp(desired, "complete") == 0)
			desired_n++;
	}
	return json_pack("{s:I, s:I, s:I}", "RunningTasks", running, "DesiredTasks", desired_n,
			 "CompletedTasks", completed);
}

bool shoal_api__task_up_to_date(const json_t *task, const json_t *service)
{
	json_t *want, *have;
	bool same;

	want = json_deep_copy(json_object_get(json_object_get(service, "Spec"), "TaskTemplate"));
	have = json_deep_copy(json_object_get(task, "Spec"));
	if (!json_is_object(want) || !json_is_object(have)) {
		json_decref(want);
		json_decref(have);
		return false;
	}
	/* the task's spec never shows Runtime (moby's taskSpecFromGRPC); a change of placement
	 * alone leaves tasks whose node still fits where they are */
	json_object_del(want, "Runtime");
	json_object_del(have, "Runtime");
	json_object_del(want, "Placement");
	json_object_del(have, "Placement");
	same = json_equal(want, have);
	json_decref(want);
	json_decref(have);
	return same;
}

/* A few of moby's pkg/namesgenerator lists. */
static const char *const name_left[] = {
	"admiring",   "adoring",       "affectionate", "agitated",	"amazing",   "angry",
	"awesome",    "blissful",      "bold",	       "brave",		"charming",  "clever",
	"cool",	      "compassionate", "competent",    "condescending", "confident", "cranky",
	"crazy",      "dazzling",      "determined",   "distracted",	"dreamy",    "eager",
	"ecstatic",   "elastic",       "elated",       "elegant",	"eloquent",  "epic",
	"exciting",   "fervent",       "festive",      "flamboyant",	"focused",   "friendly",
	"frosty",     "funny",	       "gallant",      "gifted",	"goofy",     "gracious",
	"happy",      "hardcore",      "heuristic",    "hopeful",	"hungry",    "infallible",
	"inspiring",  "jolly",	       "jovial",       "keen",		"kind",	     "laughing",
	"loving",     "lucid",	       "magical",      "modest",	"musing",    "mystifying",
	"naughty",    "nervous",       "nice",	       "nifty",		"nostalgic", "objective",
	"optimistic", "peaceful",      "pedantic",     "pensive",	"practical", "priceless",
	"quirky",     "quizzical",     "recursing",    "relaxed",	"reverent",  "romantic",
	"sad",	      "serene",	       "sharp",	       "silly",		"sleepy",    "stoic",
	"strange",    "stupefied",     "suspicious",   "sweet",		"tender",    "thirsty",
	"trusting",   "unruffled",     "upbeat",       "vibrant",	"vigilant",  "vigorous",
	"wizardly",   "wonderful",     "xenodochial",  "youthful",	"zealous",   "zen",
};

static const char *const name_right[] = {
	"albattani",  "allen",	   "almeida",	   "antonelli",	 "archimedes",	  "ardinghelli",
	"aryabhata",  "austin",	   "babbage",	   "banach",	 "bardeen",	  "bartik",
	"bassi",      "bell",	   "benz",	   "bhabha",	 "blackburn",	  "blackwell",
	"bohr",	      "booth",	   "borg",	   "bose",	 "boyd",	  "brahmagupta",
	"brattain",   "brown",	   "cannon",	   "carson",	 "cartwright",	  "chandrasekhar",
	"chaplygin",  "chatelet",  "chatterjee",   "chebyshev",	 "clarke",	  "colden",
	"cori",	      "cray",	   "curie",	   "darwin",	 "davinci",	  "diffie",
	"dijkstra",   "dirac",	   "driscoll",	   "dubinsky",	 "easley",	  "edison",
	"einstein",   "elgamal",   "elion",	   "ellis",	 "engelbart",	  "euclid",
	"euler",      "faraday",   "feistel",	   "fermat",	 "fermi",	  "feynman",
	"franklin",   "gagarin",   "galileo",	   "galois",	 "gates",	  "gauss",
	"germain",    "goldberg",  "goldstine",	   "goldwasser", "golick",	  "goodall",
	"hamilton",   "haslett",   "hawking",	   "heisenberg", "hellman",	  "hermann",
	"herschel",   "hertz",	   "heyrovsky",	   "hodgkin",	 "hofstadter",	  "hoover",
	"hopper",     "hugle",	   "hypatia",	   "jackson",	 "jang",	  "jennings",
	"jepsen",     "johnson",   "joliot",	   "jones",	 "kalam",	  "kapitsa",
	"kare",	      "keldysh",   "keller",	   "kepler",	 "khorana",	  "kilby",
	"kirch",      "knuth",	   "kowalevski",   "lalande",	 "lamarr",	  "lamport",
	"leakey",     "leavitt",   "lederberg",	   "lehmann",	 "lewin",	  "lichterman",
	"liskov",     "lovelace",  "lumiere",	   "mahavira",	 "margulis",	  "matsumoto",
	"maxwell",    "mayer",	   "mccarthy",	   "mcclintock", "mclaren",	  "mclean",
	"mcnulty",    "meitner",   "mendel",	   "merkle",	 "mestorf",	  "mirzakhani",
	"montalcini", "moore",	   "morse",	   "murdock",	 "napier",	  "nash",
	"neumann",    "newton",	   "nightingale",  "nobel",	 "noether",	  "northcutt",
	"noyce",      "panini",	   "pare",	   "pascal",	 "pasteur",	  "payne",
	"perlman",    "pike",	   "poincare",	   "poitras",	 "proskuriakova", "ptolemy",
	"raman",      "ramanujan", "rhodes",	   "ride",	 "ritchie",	  "robinson",
	"roentgen",   "rosalind",  "rubin",	   "saha",	 "sammet",	  "sanderson",
	"satoshi",    "shamir",	   "shannon",	   "shaw",	 "shirley",	  "shockley",
	"shtern",     "sinoussi",  "snyder",	   "solomon",	 "spence",	  "stonebraker",
	"sutherland", "swanson",   "swartz",	   "swirles",	 "taussig",	  "tesla",
	"tharp",      "thompson",  "torvalds",	   "tu",	 "turing",	  "varahamihira",
	"vaughan",    "villani",   "visvesvaraya", "volhard",	 "wescoff",	  "wilbur",
	"wiles",      "williams",  "williamson",   "wilson",	 "wing",	  "wozniak",
	"wright",     "wu",	   "yalow",	   "yonath",	 "zhukovsky",
};

void shoal_api__random_name(char *out, size_t size)
{
	unsigned char r[4] = { 0 };
	size_t l, rr;

	do {
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			memset(r, 0, sizeof(r)); /* a name, not a secret */
		l = ((size_t)r[0] * 256 + r[1]) % SHOAL_ARRAY_SIZE(name_left);
		rr = ((size_t)r[2] * 256 + r[3]) % SHOAL_ARRAY_SIZE(name_right);
		snprintf(out, size, "%s_%s", name_left[l], name_right[rr]);
		/* Steve Wozniak is not boring (moby's namesgenerator) */
	} while (strcmp(out, "boring_wozniak") == 0);
}

/*
 * List filters: swarmkit's ListServices and ListTasks matching, after moby's transforms.
 */

/* swarmkit's filterContainsPrefix: a wanted value starts s (case-sensitive); none: true. */
static bool prefix_match(const struct shoal_filters *f, const char *key, const char *s)
{
	json_t *set = json_object_get(f->m, key), *v;
	const char *want;

	if (json_object_size(set) == 0)
		return true;
	json_object_foreach(set, want, v) {
		if (strncmp(s, want, strlen(want)) == 0)
			return true;
	}
	return false;
}

/* moby lists container services and tasks only, unless a runtime filter says otherwise. */
static bool runtime_match(const struct shoal_filters *f, const char *runtime)
{
	if (shoal_filters_has(f, "runtime"))
		return shoal_filters_match(f, "runtime", runtime);
	return strcmp(runtime, "container") == 0 || runtime[0] == '\0';
}

bool shoal_api__service_match(const json_t *svc, const struct shoal_filters *f)
{
	const json_t *spec = json_object_get(svc, "Spec");

	return prefix_match(f, "name", str_of(spec, "Name")) &&
	       prefix_match(f, "id", str_of(svc, "ID")) &&
	       shoal_filters_match_labels(f, "label", json_object_get(spec, "Labels")) &&
	       shoal_filters_match(f, "mode", shoal_api__service_mode(spec)) &&
	       runtime_match(f, str_of(json_object_get(spec, "TaskTemplate"), "Runtime"));
}

/* swarmkit's naming.Task: the name the "name" filter matches the start of. */
static void task_name(const json_t *t, const json_t *svc, char *out, size_t size)
{
	const char *name = str_of(t, "Name"),
		   *service = str_of(json_object_get(svc, "Spec"), "Name");
	json_int_t slot = int_of(t, "Slot");

	if (name[0] != '\0')
		snprintf(out, size, "%s", name);
	else if (slot != 0)
		snprintf(out, size, "%s.%" JSON_INTEGER_FORMAT ".%s", service, slot,
			 str_of(t, "ID"));
	else
		snprintf(out, size, "%s.%s.%s", service, str_of(t, "NodeID"), str_of(t, "ID"));
}

/* The runtime a task's spec is for, as swarmkit's naming.Runtime. */
static const char *task_runtime(const json_t *t)
{
	const json_t *spec = json_object_get(t, "Spec");

	if (has(spec, "ContainerSpec"))
		return "container";
	if (has(spec, "PluginSpec"))
		return "plugin";
	if (has(spec, "NetworkAttachmentSpec"))
		return "attachment";
	return "";
}

bool shoal_api__task_match(const json_t *task, const json_t *svc, const struct shoal_filters *f)
{
	char name[512];

	task_name(task, svc, name, sizeof(name));
	/* labels are the service's: swarmkit matches the task's ServiceAnnotations */
	return prefix_match(f, "name", name) && prefix_match(f, "id", str_of(task, "ID")) &&
	       shoal_filters_match_labels(
		       f, "label", json_object_get(json_object_get(svc, "Spec"), "Labels")) &&
	       shoal_filters_match(f, "service", str_of(task, "ServiceID")) &&
	       shoal_filters_match(f, "node", str_of(task, "NodeID")) &&
	       shoal_filters_match(f, "desired-state", str_of(task, "DesiredState")) &&
	       runtime_match(f, task_runtime(task)) &&
	       (!shoal_filters_has(f, "_up-to-date") ||
		(svc != NULL && shoal_api__task_up_to_date(task, svc)));
}
