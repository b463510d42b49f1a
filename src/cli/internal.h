/* Shared between the files of src/cli: the command entries and helpers commands use that
 * nothing outside the CLI needs. */
#ifndef SHOAL_CLI_INTERNAL_H
#define SHOAL_CLI_INTERNAL_H

#include "cli/cli.h"

extern const struct shoal_cli_cmd shoal_cli__cmd_images;
extern const struct shoal_cli_cmd shoal_cli__cmd_info;
extern const struct shoal_cli_cmd shoal_cli__cmd_load;
extern const struct shoal_cli_cmd shoal_cli__cmd_logs;
extern const struct shoal_cli_cmd shoal_cli__cmd_machine;
extern const struct shoal_cli_cmd shoal_cli__cmd_ps;
extern const struct shoal_cli_cmd shoal_cli__cmd_rm;
extern const struct shoal_cli_cmd shoal_cli__cmd_start;
extern const struct shoal_cli_cmd shoal_cli__cmd_stop;
extern const struct shoal_cli_cmd shoal_cli__cmd_node;
extern const struct shoal_cli_cmd shoal_cli__cmd_service;
extern const struct shoal_cli_cmd shoal_cli__cmd_swarm;
extern const struct shoal_cli_cmd shoal_cli__cmd_version;

/* The help of every --format flag that takes "json" or a template (InspectFormatHelp). */
extern const char shoal_cli__format_help[];
extern const char shoal_cli__format_table_help[];

/* The root command: global flags and the table of top-level commands. */
extern const struct shoal_cli_cmd shoal_cli__root;

/* Appends cobra's help for cmd (invoked as path, e.g. "shoal system info") to out. */
void shoal_cli__help(const struct shoal_cli_cmd *cmd, const char *path, struct shoal_buf *out);

/* The "Client" object of `version` and `info` (docker's clientVersion): a new reference.
 * api_version may be NULL (omitted, as `info` leaves it). */
json_t *shoal_cli__client_version(const char *api_version);

/* Writes b to cli->out and flushes, so what follows on cli->err lands after it. */
void shoal_cli__print(struct shoal_cli *cli, const struct shoal_buf *b);

/* Prints the message of a --format template error the way docker does and sets exit
 * status 64: "template parsing error: <err>". Returns -1. */
int shoal_cli__tmpl_parse_failed(struct shoal_cli *cli, struct shoal_err *err);

/* `service` ****************************************************************************/

extern const struct shoal_cli_cmd shoal_cli__cmd_service_create;
extern const struct shoal_cli_cmd shoal_cli__cmd_service_inspect;
extern const struct shoal_cli_cmd shoal_cli__cmd_service_logs;
extern const struct shoal_cli_cmd shoal_cli__cmd_service_ls;
extern const struct shoal_cli_cmd shoal_cli__cmd_service_ps;
extern const struct shoal_cli_cmd shoal_cli__cmd_service_rm;
extern const struct shoal_cli_cmd shoal_cli__cmd_service_rollback;
extern const struct shoal_cli_cmd shoal_cli__cmd_service_scale;
extern const struct shoal_cli_cmd shoal_cli__cmd_service_update;

/* Go's strconv (base 0 reads 0x, 0o, 0b and leading-0 prefixes) with its messages:
 * "strconv.ParseUint: parsing \"x\": invalid syntax" or "... value out of range". */
int shoal_cli__go_parse_uint(const char *s, int base, int bits, uint64_t *out,
			     struct shoal_err *err) SHOAL_MUST_CHECK;
int shoal_cli__go_parse_int(const char *s, int base, int bits, int64_t *out,
			    struct shoal_err *err) SHOAL_MUST_CHECK;
int shoal_cli__go_parse_float(const char *s, int bits, double *out,
			      struct shoal_err *err) SHOAL_MUST_CHECK;
/* fmt's %v of a float32 (bits 32) or float64: the shortest digits that read back. */
void shoal_cli__go_format_float(struct shoal_buf *b, double v, int bits);
/* time.ParseDuration ("1m30s", ".5h"), with its messages; *out in nanoseconds. */
int shoal_cli__go_parse_duration(const char *s, int64_t *out,
				 struct shoal_err *err) SHOAL_MUST_CHECK;
/* time.Duration.String(): "1h0m0s", "1.5s", "300ms", "0s". Returns out. */
char *shoal_cli__go_format_duration(int64_t ns, char *out, size_t n);
/* units.RAMInBytes with its messages ("invalid suffix: 'q'"). */
int shoal_cli__go_ram_in_bytes(const char *s, int64_t *out, struct shoal_err *err) SHOAL_MUST_CHECK;
/* opts.ParseCPUs: "1.5" or "3/2" CPUs as nano CPUs. */
int shoal_cli__go_parse_cpus(const char *s, int64_t *out, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Flag checks (shoal_cli_opt.check) of docker's option types: uint, int, float (32 bits),
 * duration, positive duration (health), bytes, decimal (CPUs), env, label, filter, port,
 * mount, command (shell words), placement preference and credential spec. */
int shoal_cli__check_uint(const char *val, struct shoal_err *err);
int shoal_cli__check_int(const char *val, struct shoal_err *err);
int shoal_cli__check_float(const char *val, struct shoal_err *err);
int shoal_cli__check_duration(const char *val, struct shoal_err *err);
int shoal_cli__check_pos_duration(const char *val, struct shoal_err *err);
int shoal_cli__check_bytes(const char *val, struct shoal_err *err);
int shoal_cli__check_cpus(const char *val, struct shoal_err *err);
int shoal_cli__check_env(const char *val, struct shoal_err *err);
int shoal_cli__check_label(const char *val, struct shoal_err *err);
int shoal_cli__check_filter(const char *val, struct shoal_err *err);
int shoal_cli__check_port(const char *val, struct shoal_err *err);
int shoal_cli__check_mount(const char *val, struct shoal_err *err);
int shoal_cli__check_command(const char *val, struct shoal_err *err);
int shoal_cli__check_pref(const char *val, struct shoal_err *err);
int shoal_cli__check_credspec(const char *val, struct shoal_err *err);

/* encoding/csv's one record: a new array of strings, or NULL with csv's message. */
json_t *shoal_cli__csv_split(const char *s, struct shoal_err *err);
/* google/shlex's words: a new array of strings, or NULL. */
json_t *shoal_cli__shlex_split(const char *s, struct shoal_err *err);
/* --publish (either syntax): appends swarm PortConfig objects to ports. */
int shoal_cli__svc_ports_parse(const char *val, json_t *ports,
			       struct shoal_err *err) SHOAL_MUST_CHECK;
/* --mount: a new mount.Mount object, or NULL with docker's message. */
json_t *shoal_cli__svc_mount_parse(const char *val, struct shoal_err *err);

/* distribution/reference, new strings: the familiar name with a tag (":latest" added unless
 * tagged or digested; NULL when image is no valid reference) as the client sends images;
 * the image pinned to digest; the "name:tag" docker's tables show (image unchanged when it
 * has no tag or does not parse). */
char *shoal_cli__image_tagged(const char *image);
char *shoal_cli__image_with_digest(const char *image, const char *digest);
char *shoal_cli__image_display(const char *image);

/* --filter values as the API's filters object ({"name":{"value":true}}), names trimmed and
 * lower-cased as FilterOpt does; a new reference. */
json_t *shoal_cli__filters_new(const char *const *vals, size_t n);
void shoal_cli__filters_add(json_t *f, const char *key, const char *val);
/* The escaped query value of f (keys sorted, as Go marshals maps), or NULL when empty. */
char *shoal_cli__filters_query(json_t *f);

/* GET /services/REF?insertDefaults=...: *svc a new reference. */
int shoal_cli__svc_get(struct shoal_cli_client *c, const char *ref, bool defaults, json_t **svc,
		       struct shoal_err *err) SHOAL_MUST_CHECK;
/* POST /services/ID/update?[query&]version=N with svc's Spec; prints the answer's warnings,
 * then warning (if any), on cli->err. */
int shoal_cli__svc_update(struct shoal_cli *cli, struct shoal_cli_client *c, json_t *svc,
			  const char *query, const char *warning,
			  struct shoal_err *err) SHOAL_MUST_CHECK;

/* v as Go's json.Marshal (or MarshalIndent with four spaces) writes it: <, > and & escaped,
 * floats in their shortest form (MaxFailureRatio as the float32 it is). */
void shoal_cli__go_json(struct shoal_buf *b, json_t *v, bool indent);

/* Typed values of checked flags (service_spec.c); 0 when unset without a default. */
int64_t shoal_cli__flag_duration(const struct shoal_cli_args *a, const char *name);
uint64_t shoal_cli__flag_uint(const struct shoal_cli_args *a, const char *name);
int64_t shoal_cli__flag_int(const struct shoal_cli_args *a, const char *name);
double shoal_cli__flag_float(const struct shoal_cli_args *a, const char *name);
int64_t shoal_cli__flag_bytes(const struct shoal_cli_args *a, const char *name);
int64_t shoal_cli__flag_cpus(const struct shoal_cli_args *a, const char *name);
/* Whether any of the NULL-terminated flags was given. */
bool shoal_cli__flag_any(const struct shoal_cli_args *a, const char *const *names);
int shoal_cli__check_secret(const char *val, struct shoal_err *err);
int shoal_cli__check_ulimit(const char *val, struct shoal_err *err);
int shoal_cli__check_generic_resource(const char *val, struct shoal_err *err);
/* The UpdateConfig (prefix "update") or RollbackConfig ("rollback") with the prefix's flags
 * over base (borrowed; swarmkit's defaults when NULL): a new reference, or NULL when none of
 * those flags was given. */
json_t *shoal_cli__svc_update_config(const struct shoal_cli_args *a, const char *prefix,
				     json_t *base);
int shoal_cli__check_config(const char *val, struct shoal_err *err);

/* New references: a float32 as Go marshals it; ConvertKVStringsToMap ("k=v", "k" for "");
 * swarmkit's default UpdateConfig (also the rollback's) and RestartPolicy. */
json_t *shoal_cli__json_f32(double v);
json_t *shoal_cli__kv_map(const char *const *vals, size_t n);
json_t *shoal_cli__svc_update_defaults(void);
json_t *shoal_cli__svc_restart_defaults(void);
/* o's object under key, made empty when missing (borrowed). */
json_t *shoal_cli__jobj(json_t *o, const char *key);
/* --env's value as ValidateEnv keeps it: a bare NAME takes this process's $NAME. New. */
char *shoal_cli__env_value(const char *v);
/* --network values as NetworkAttachmentConfigs with the networks' IDs (GET
 * /networks/NAME?scope=swarm), appended to out sorted by ID. */
int shoal_cli__svc_networks(struct shoal_cli_client *c, const char *const *vals, size_t n,
			    json_t *out, struct shoal_err *err) SHOAL_MUST_CHECK;
int shoal_cli__svc_network_id(struct shoal_cli_client *c, const char *name, char **id,
			      struct shoal_err *err) SHOAL_MUST_CHECK;
void shoal_cli__svc_sort_networks(json_t *nets);
/* --secret or --config values as references with their IDs (GET /secrets or /configs by
 * name), appended to out. */
int shoal_cli__svc_refs(struct shoal_cli_client *c, bool secrets, const char *const *vals, size_t n,
			json_t *out, struct shoal_err *err) SHOAL_MUST_CHECK;
/* The --health-* and --no-healthcheck flags as a HealthConfig (*out NULL when none). */
int shoal_cli__svc_healthcheck(const struct shoal_cli_args *a, json_t **out,
			       struct shoal_err *err) SHOAL_MUST_CHECK;
/* The client's image handling before create and update: tags the image, then (query) asks
 * GET /distribution/IMAGE/json to pin its digest and platforms; when that fails *warning is
 * docker's "could not be accessed on a registry" text (new), printed after the answer. */
void shoal_cli__svc_resolve_image(struct shoal_cli_client *c, json_t *task_template, bool query,
				  char **warning);

/* sortorder.NaturalLess: runs of digits compare as numbers ("vote.2" < "vote.10"). */
bool shoal_cli__natural_less(const char *a, const char *b);
/* An RFC 3339 time ("2026-11-24T20:01:47.326096897Z") as Unix nanoseconds. */
int shoal_cli__parse_time(const char *s, int64_t *ns);
int64_t shoal_cli__now_ns(void);

/* jsonmessage's display of a progress stream: on a terminal one line per ID, redrawn with
 * ANSI cursor moves; otherwise only the lines without a bar, each printed in turn. */
struct shoal_cli_jm {
	struct shoal_buf *out;
	bool tty;
	int width; /* the terminal's columns: bars need more than 110 */
	char **ids;
	size_t nids;
};

/* One progress.Progress: a message (status line), or an action with counts. */
struct shoal_cli_progress {
	const char *id;
	const char *message;
	const char *action;
	int64_t current, total;
	bool hide_counts;
};

void shoal_cli__jm_init(struct shoal_cli_jm *d, struct shoal_buf *out, bool tty, int width);
void shoal_cli__jm_fini(struct shoal_cli_jm *d);
void shoal_cli__jm_write(struct shoal_cli_jm *d, const struct shoal_cli_progress *p);

/* service.WaitOnService: polls until service (as the user named it) converges, printing
 * docker's progress on cli->out unless quiet. Fails as docker's progress does ("service
 * update paused: ..."). */
int shoal_cli__svc_wait(struct shoal_cli *cli, const char *service, bool quiet,
			struct shoal_err *err) SHOAL_MUST_CHECK;

/* The next whole frame of a stdcopy stream (dockerd's 8-byte header before each chunk) in p:
 * 1 with its output stream in *f and length in *size (the bytes at p->data + 8), 0 when more
 * is needed, -1 with Docker's error for a stream error frame or a bad header (cmd_logs.c). */
int shoal_cli__frame_next(struct shoal_cli *cli, struct shoal_buf *p, FILE **f, size_t *size,
			  struct shoal_err *err);

#endif
