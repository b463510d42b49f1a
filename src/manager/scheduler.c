/* The scheduler's step of a pass: each pending task of a service gets a node, or stays pending
 * with Docker's "no suitable node (...)" explanation (SWARM-SPEC §3, swarmkit
 * manager/scheduler). Filters in swarmkit's order (ready, resources, plugins, constraints,
 * platform, host ports, max replicas), then placement preferences, then spread: fewest tasks of
 * the service, then fewest tasks overall, then hostname and ID so the choice is repeatable.
 * Also the node table every step of a pass reads, and constraint parsing. Proposing is the
 * orchestrator's (orchestrator.c); CSI volumes and generic resources are not filtered yet. */
#include "manager/orch_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "scheduler"

/* swarmkit scheduler.go: a node with this many failures of the service within the window
 * loses to any node with fewer. */
#define MAX_FAILURES   5
#define FAILURE_WINDOW (5 * 60 * SHOAL_ORCH__SECOND)
#define CONSTRAINT_ERR "rpc error: code = Unknown desc = "
#define NODE_LABELS    "node.labels."
#define ENGINE_LABELS  "engine.labels."

/*
 * Constraints (swarmkit manager/constraint/constraint.go).
 */

struct constraint {
	char *key, *value;
	bool eq;
};

static char *trim(const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return shoal_strndup(s, n);
}

/* ^(?i)[a-z_][a-z0-9\-_.]+$ */
static bool key_ok(const char *k)
{
	const char *p;

	if (!isalpha((unsigned char)k[0]) && k[0] != '_')
		return false;
	if (k[1] == '\0')
		return false;
	for (p = k + 1; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
			return false;
	return true;
}

/* ^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$, Go's \s being [\t\n\f\r ] */
static bool value_ok(const char *v)
{
	const char *p;

	if (*v == '\0')
		return false;
	for (p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(":-_.*()?+[]\\^$|/\t\n\f\r ", *p))
			return false;
	return true;
}

static void constraints_free(struct constraint *c, size_t n)
{
	size_t i;

	for (i = 0; c != NULL && i < n; i++) {
		free(c[i].key);
		free(c[i].value);
	}
	free(c);
}

/* Parses a Constraints array (NULL: none) into *out (*n of them). On a bad one, returns -1
 * with the reason in why. */
static int constraints_parse(const json_t *arr, struct constraint **out, size_t *n, char *why,
			     size_t size)
{
	static const char *const ops[] = { "==", "!=" };
	struct constraint *c = NULL;
	const json_t *v;
	size_t i, k, len = json_array_size(arr);
	const char *e, *at;

	*out = NULL;
	*n = 0;
	if (len == 0)
		return 0;
	c = shoal_calloc(len, sizeof(*c));
	json_array_foreach(arr, i, v) {
		e = json_string_value(v) ? json_string_value(v) : "";
		for (k = 0; k < SHOAL_ARRAY_SIZE(ops); k++) {
			at = strstr(e, ops[k]);
			if (at != NULL)
				break;
		}
		if (at == NULL) {
			snprintf(why, size, "constraint expected one operator from ==, !=");
			goto fail;
		}
		c[i].key = trim(e, (size_t)(at - e));
		c[i].value = trim(at + 2, strlen(at + 2));
		c[i].eq = k == 0;
		if (!key_ok(c[i].key)) {
			snprintf(why, size, "key '%s' is invalid", c[i].key);
			goto fail;
		}
		if (!value_ok(c[i].value)) {
			snprintf(why, size, "value '%s' is invalid", c[i].value);
			goto fail;
		}
	}
	*out = c;
	*n = len;
	return 0;
fail:
	constraints_free(c, len);
	return -1;
}

int shoal_sched_constraints_check(const json_t *constraints, struct shoal_err *err)
{
	struct constraint *c;
	char why[300];
	size_t n;

	if (constraints_parse(constraints, &c, &n, why, sizeof(why)) < 0)
		return shoal_errorf(err, 500, CONSTRAINT_ERR "%s", why);
	constraints_free(c, n);
	return 0;
}

static bool has_prefix_ci(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strlen(s) > n && strncasecmp(s, prefix, n) == 0;
}

/* Parses an IPv4 or IPv6 address into a 16-byte form; returns the family's length or 0. */
static size_t parse_ip(const char *s, unsigned char out[16])
{
	memset(out, 0, 16);
	if (s != NULL && inet_pton(AF_INET, s, out) == 1)
		return 4;
	if (s != NULL && inet_pton(AF_INET6, s, out) == 1)
		return 16;
	return 0;
}

/* node.ip: an address or a CIDR network matched against Status.Addr. */
static bool match_ip(const struct constraint *c, const json_t *node)
{
	unsigned char want[16], have[16];
	size_t wl, hl, bits, i;
	char addr[64], *slash, *end;
	bool in;

	hl = parse_ip(shoal_orch__str(node, "Status", "Addr", NULL), have);
	snprintf(addr, sizeof(addr), "%s", c->value);
	slash = strchr(addr, '/');
	if (slash == NULL) {
		wl = parse_ip(addr, want);
		if (wl == 0)
			return false;
		in = hl == wl && memcmp(want, have, wl) == 0;
		return c->eq ? in : !in;
	}
	*slash = '\0';
	wl = parse_ip(addr, want);
	bits = strtoul(slash + 1, &end, 10);
	if (wl == 0 || *end != '\0' || slash[1] == '\0' || bits > wl * 8)
		return false;
	in = hl == wl;
	for (i = 0; in && i < bits; i++)
		if (((want[i / 8] ^ have[i / 8]) >> (7 - i % 8)) & 1)
			in = false;
	return c->eq ? in : !in;
}

static const char *node_role(const json_t *node)
{
	/* the observed role: raft members carry ManagerStatus */
	return json_object_get(node, "ManagerStatus") != NULL ? "manager" : "worker";
}

static bool match_one(const struct constraint *c, const json_t *node)
{
	const char *what;
	const json_t *labels;

	if (strcasecmp(c->key, "node.ip") == 0)
		return match_ip(c, node);
	if (strcasecmp(c->key, "node.id") == 0) {
		what = shoal_orch__str(node, "ID", NULL);
	} else if (strcasecmp(c->key, "node.hostname") == 0) {
		what = shoal_orch__str(node, "Description", "Hostname", NULL);
	} else if (strcasecmp(c->key, "node.role") == 0) {
		what = node_role(node);
	} else if (strcasecmp(c->key, "node.platform.os") == 0) {
		what = shoal_orch__str(node, "Description", "Platform", "OS", NULL);
	} else if (strcasecmp(c->key, "node.platform.arch") == 0) {
		what = shoal_orch__str(node, "Description", "Platform", "Architecture", NULL);
	} else if (has_prefix_ci(c->key, NODE_LABELS)) {
		/* the label name itself is case-sensitive */
		labels = shoal_orch__get(node, "Spec", "Labels", NULL);
		what = json_string_value(json_object_get(labels, c->key + strlen(NODE_LABELS)));
	} else if (has_prefix_ci(c->key, ENGINE_LABELS)) {
		labels = shoal_orch__get(node, "Description", "Engine", "Labels", NULL);
		what = json_string_value(json_object_get(labels, c->key + strlen(ENGINE_LABELS)));
	} else {
		return false; /* an unknown key parses but never matches */
	}
	/* a missing attribute compares as "" */
	if (strcasecmp(c->value, what != NULL ? what : "") == 0)
		return c->eq;
	return !c->eq;
}

static bool constraints_match(const struct constraint *c, size_t n, const json_t *node)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!match_one(&c[i], node))
			return false;
	return true;
}

bool shoal_sched_constraints_match(const json_t *constraints, const json_t *node)
{
	struct constraint *c;
	char why[300];
	size_t n;
	bool ok;

	/* swarmkit validates at service create; here a bad list constrains nothing */
	if (constraints_parse(constraints, &c, &n, why, sizeof(why)) < 0)
		return true;
	ok = constraints_match(c, n, node);
	constraints_free(c, n);
	return ok;
}

/*
 * The node table.
 */

static int cmp_node(const void *a, const void *b)
{
	const struct shoal_orch__node *x = a, *y = b;
	int c = strcmp(x->hostname, y->hostname);

	return c != 0 ? c : strcmp(x->id, y->id);
}

/* The host-mode ports a service publishes: "tcp/8080" strings, a new array. */
static json_t *host_ports(const json_t *svc)
{
	json_t *out = json_array(), *ports, *port;
	const char *proto, *mode;
	char key[32];
	size_t i;

	ports = shoal_orch__get(svc, "Endpoint", "Ports", NULL);
	if (ports == NULL)
		ports = shoal_orch__get(svc, "Spec", "EndpointSpec", "Ports", NULL);
	json_array_foreach(ports, i, port) {
		mode = shoal_orch__str(port, "PublishMode", NULL);
		proto = shoal_orch__str(port, "Protocol", NULL);
		if (mode == NULL || strcmp(mode, "host") != 0 ||
		    shoal_orch__int(port, "PublishedPort", NULL) == 0)
			continue;
		snprintf(key, sizeof(key), "%s/%lld", proto && *proto ? proto : "tcp",
			 (long long)shoal_orch__int(port, "PublishedPort", NULL));
		json_array_append_new(out, json_string(key));
	}
	return out;
}

static void take_ports(struct shoal_orch__node *n, const json_t *ports)
{
	const json_t *v;
	size_t i;

	json_array_foreach(ports, i, v) {
		if (n->ports == NULL)
			n->ports = json_object();
		json_object_set_new(n->ports, json_string_value(v), json_true());
	}
}

static bool tracked(const json_t *task)
{
	enum shoal_task_state st = shoal_orch__observed(task);

	return st >= SHOAL_TASK_ASSIGNED && st <= SHOAL_TASK_RUNNING;
}

void shoal_orch__nodes_load(struct shoal_orch__pass *p)
{
	struct shoal_store_obj **nodes, **tasks, *svc;
	struct shoal_orch__node *n;
	const json_t *t;
	json_t *ports;
	const char *state, *avail;
	size_t nn, nt, i;

	nodes = shoal_store_list(p->store, SHOAL_STORE_NODE, &nn);
	p->nodes = shoal_calloc(nn + 1, sizeof(*p->nodes));
	p->nnodes = nn;
	for (i = 0; i < nn; i++) {
		n = &p->nodes[i];
		n->json = nodes[i]->json;
		n->id = nodes[i]->id;
		n->hostname = shoal_orch__str(n->json, "Description", "Hostname", NULL);
		if (n->hostname == NULL)
			n->hostname = "";
		state = shoal_orch__str(n->json, "Status", "State", NULL);
		avail = shoal_orch__str(n->json, "Spec", "Availability", NULL);
		n->down = state != NULL && strcmp(state, "down") == 0;
		n->drained = avail != NULL && strcmp(avail, "drain") == 0;
		n->paused = avail != NULL && strcmp(avail, "pause") == 0;
		n->schedulable = state != NULL && strcmp(state, "ready") == 0 && avail != NULL &&
				 strcmp(avail, "active") == 0;
		n->cpu = shoal_orch__int(n->json, "Description", "Resources", "NanoCPUs", NULL);
		n->mem = shoal_orch__int(n->json, "Description", "Resources", "MemoryBytes", NULL);
	}
	free(nodes);
	if (nn > 1)
		qsort(p->nodes, nn, sizeof(*p->nodes), cmp_node);
	p->node_index = json_object();
	for (i = 0; i < nn; i++)
		json_object_set_new(p->node_index, p->nodes[i].id, json_integer((json_int_t)i));

	tasks = shoal_store_list(p->store, SHOAL_STORE_TASK, &nt);
	for (i = 0; i < nt; i++) {
		t = tasks[i]->json;
		n = shoal_orch__node(p, shoal_orch__str(t, "NodeID", NULL));
		if (n == NULL || !tracked(t))
			continue;
		n->cpu -= shoal_orch__int(t, "Spec", "Resources", "Reservations", "NanoCPUs", NULL);
		n->mem -= shoal_orch__int(t, "Spec", "Resources", "Reservations", "MemoryBytes",
					  NULL);
		if (shoal_orch__desired(t) <= SHOAL_TASK_COMPLETE)
			n->active++;
		svc = shoal_store_get(p->store, SHOAL_STORE_SERVICE,
				      shoal_orch__str(t, "ServiceID", NULL));
		if (svc != NULL) {
			ports = host_ports(svc->json);
			take_ports(n, ports);
			json_decref(ports);
		}
	}
	free(tasks);
}

void shoal_orch__nodes_free(struct shoal_orch__pass *p)
{
	size_t i;

	for (i = 0; i < p->nnodes; i++)
		json_decref(p->nodes[i].ports);
	free(p->nodes);
	json_decref(p->node_index);
	p->nodes = NULL;
	p->node_index = NULL;
	p->nnodes = 0;
}

struct shoal_orch__node *shoal_orch__node(const struct shoal_orch__pass *p, const char *id)
{
	json_t *i;

	if (id == NULL || *id == '\0')
		return NULL;
	i = json_object_get(p->node_index, id);
	return i != NULL ? &p->nodes[json_integer_value(i)] : NULL;
}

/*
 * Filters (swarmkit manager/scheduler/filter.go, in pipeline order).
 */

enum {
	F_READY,
	F_RESOURCES,
	F_PLUGIN,
	F_CONSTRAINTS,
	F_PLATFORM,
	F_HOST_PORTS,
	F_MAX_REPLICAS,
	NFILTERS,
};

/* What one task asks of a node. */
struct req {
	const json_t *task, *spec;
	int64_t cpu, mem;
	struct constraint *cons;
	size_t ncons;
	const json_t *platforms;
	json_t *ports; /* host-mode ports wanted */
	int64_t max_replicas;
};

static void req_init(struct req *r, const struct shoal_orch__pass *p, const json_t *svc,
		     const json_t *task)
{
	char why[300];

	(void)p;
	memset(r, 0, sizeof(*r));
	r->task = task;
	r->spec = json_object_get(task, "Spec");
	r->cpu = shoal_orch__int(r->spec, "Resources", "Reservations", "NanoCPUs", NULL);
	r->mem = shoal_orch__int(r->spec, "Resources", "Reservations", "MemoryBytes", NULL);
	/* a list that does not parse disables the filter, as swarmkit's SetTask does */
	if (constraints_parse(shoal_orch__get(r->spec, "Placement", "Constraints", NULL), &r->cons,
			      &r->ncons, why, sizeof(why)) < 0)
		r->ncons = 0;
	r->platforms = shoal_orch__get(r->spec, "Placement", "Platforms", NULL);
	if (json_array_size(r->platforms) == 0)
		r->platforms = NULL;
	r->ports = host_ports(svc);
	r->max_replicas = shoal_orch__int(r->spec, "Placement", "MaxReplicas", NULL);
}

static void req_fini(struct req *r)
{
	constraints_free(r->cons, r->ncons);
	json_decref(r->ports);
}

/* Whether the node lists a plugin of this type and name ("x" also matches "x:latest");
 * *typed says whether it lists any of the type. */
static bool has_plugin(const json_t *node, const char *type, const char *name, bool *typed)
{
	const json_t *plugins = shoal_orch__get(node, "Description", "Engine", "Plugins", NULL);
	const json_t *pl;
	const char *t, *n;
	size_t i, len = strlen(name);

	*typed = false;
	json_array_foreach(plugins, i, pl) {
		t = shoal_orch__str(pl, "Type", NULL);
		n = shoal_orch__str(pl, "Name", NULL);
		if (t == NULL || n == NULL || strcmp(t, type) != 0)
			continue;
		*typed = true;
		if (strcmp(n, name) == 0 ||
		    (strncmp(n, name, len) == 0 && strcmp(n + len, ":latest") == 0))
			return true;
	}
	return false;
}

static bool plugins_ok(const struct req *r, const json_t *node)
{
	const json_t *mounts, *m, *att;
	const char *name;
	bool typed;
	size_t i;

	if (shoal_orch__get(node, "Description", "Engine", NULL) == NULL)
		return true;
	mounts = shoal_orch__get(r->spec, "ContainerSpec", "Mounts", NULL);
	json_array_foreach(mounts, i, m) {
		const char *type = shoal_orch__str(m, "Type", NULL);

		name = shoal_orch__str(m, "VolumeOptions", "DriverConfig", "Name", NULL);
		if (type == NULL || strcmp(type, "volume") != 0 || name == NULL || *name == '\0' ||
		    strcmp(name, "local") == 0)
			continue;
		if (!has_plugin(node, "Volume", name, &typed))
			return false;
	}
	json_array_foreach(json_object_get(r->task, "NetworksAttachments"), i, att) {
		name = shoal_orch__str(att, "Network", "DriverState", "Name", NULL);
		if (name != NULL && *name != '\0' && !has_plugin(node, "Network", name, &typed))
			return false;
	}
	/* a node that lists no log drivers at all is an older engine: not filtered */
	name = shoal_orch__str(r->spec, "LogDriver", "Name", NULL);
	if (name != NULL && *name != '\0' && strcmp(name, "none") != 0 &&
	    !has_plugin(node, "Log", name, &typed) && typed)
		return false;
	return true;
}

static const char *norm_arch(const char *a)
{
	if (a == NULL)
		return "";
	if (strcmp(a, "x86_64") == 0)
		return "amd64";
	if (strcmp(a, "aarch64") == 0)
		return "arm64";
	return a;
}

static bool platform_ok(const struct req *r, const json_t *node)
{
	const char *os = shoal_orch__str(node, "Description", "Platform", "OS", NULL);
	const char *arch =
		norm_arch(shoal_orch__str(node, "Description", "Platform", "Architecture", NULL));
	const json_t *pl;
	const char *want_os, *want_arch;
	size_t i;

	if (shoal_orch__get(node, "Description", "Platform", NULL) == NULL)
		return false;
	json_array_foreach(r->platforms, i, pl) {
		want_os = shoal_orch__str(pl, "OS", NULL);
		want_arch = norm_arch(shoal_orch__str(pl, "Architecture", NULL));
		if ((*want_arch == '\0' || strcmp(want_arch, arch) == 0) &&
		    (want_os == NULL || *want_os == '\0' || (os && strcmp(want_os, os) == 0)))
			return true;
	}
	return false;
}

static bool ports_free(const struct req *r, const struct shoal_orch__node *n)
{
	const json_t *v;
	size_t i;

	json_array_foreach(r->ports, i, v) {
		if (json_object_get(n->ports, json_string_value(v)) != NULL)
			return false;
	}
	return true;
}

/* The first of the filters that depend only on the task's spec and the node (plugins,
 * constraints, platforms) the node fails, or -1. */
static int check_static(const struct req *r, const struct shoal_orch__node *n)
{
	if (!plugins_ok(r, n->json))
		return F_PLUGIN;
	if (!constraints_match(r->cons, r->ncons, n->json))
		return F_CONSTRAINTS;
	if (r->platforms != NULL && !platform_ok(r, n->json))
		return F_PLATFORM;
	return -1;
}

/* The first filter the node fails for this task, or -1 if it passes them all. stat is the
 * node's check_static() for this spec, or -2 to compute it. */
static int check(const struct req *r, const struct shoal_orch__node *n, int stat)
{
	if (!n->schedulable)
		return F_READY;
	if ((r->cpu > 0 || r->mem > 0) && (r->cpu > n->cpu || r->mem > n->mem))
		return F_RESOURCES;
	if (stat == -2)
		stat = check_static(r, n);
	if (stat >= 0)
		return stat;
	if (!ports_free(r, n))
		return F_HOST_PORTS;
	if (r->max_replicas > 0 && (int64_t)n->svc_active >= r->max_replicas)
		return F_MAX_REPLICAS;
	return -1;
}

static void explain_one(int f, unsigned nodes, char *out, size_t size)
{
	static const char *const what[NFILTERS] = {
		[F_READY] = "not available for new tasks",
		[F_RESOURCES] = "insufficient resources on",
		[F_PLUGIN] = "missing plugin on",
		[F_CONSTRAINTS] = "scheduling constraints not satisfied on",
		[F_PLATFORM] = "unsupported platform on",
		[F_HOST_PORTS] = "host-mode port already in use on",
	};
	const char *noun = nodes == 1 ? "node" : "nodes";

	if (f == F_MAX_REPLICAS)
		snprintf(out, size, "max replicas per node limit exceed");
	else if (f == F_READY)
		snprintf(out, size, "%u %s %s", nodes, noun, what[f]);
	else
		snprintf(out, size, "%s %u %s", what[f], nodes, noun);
}

/* swarmkit's Pipeline.Explain: each failing filter's text, most failures first, "; "-joined. */
static void explain(const unsigned counts[NFILTERS], char *out, size_t size)
{
	bool used[NFILTERS] = { false };
	size_t len = 0;
	char one[128];
	int f, best;

	out[0] = '\0';
	for (;;) {
		best = -1;
		for (f = 0; f < NFILTERS; f++)
			if (!used[f] && counts[f] > 0 && (best < 0 || counts[f] > counts[best]))
				best = f;
		if (best < 0)
			break;
		used[best] = true;
		explain_one(best, counts[best], one, sizeof(one));
		len += (size_t)snprintf(out + len, len < size ? size - len : 0, "%s%s",
					len > 0 ? "; " : "", one);
	}
}

/*
 * Ranking.
 */

/* swarmkit's nodeLess: repeated failures first, then spread over this service, then over all. */
static bool better(const struct shoal_orch__node *a, const struct shoal_orch__node *b)
{
	int c;

	if ((a->svc_failures >= MAX_FAILURES || b->svc_failures >= MAX_FAILURES) &&
	    a->svc_failures != b->svc_failures)
		return a->svc_failures < b->svc_failures;
	if (a->svc_active != b->svc_active)
		return a->svc_active < b->svc_active;
	if (a->active != b->active)
		return a->active < b->active;
	c = strcmp(a->hostname, b->hostname);
	return c != 0 ? c < 0 : strcmp(a->id, b->id) < 0;
}

/* The value a spread descriptor reads on a node ("" when missing, as swarmkit counts it). */
static const char *spread_value(const char *desc, const json_t *node)
{
	const json_t *labels;
	const char *v;

	if (has_prefix_ci(desc, NODE_LABELS)) {
		labels = shoal_orch__get(node, "Spec", "Labels", NULL);
		v = json_string_value(json_object_get(labels, desc + strlen(NODE_LABELS)));
	} else if (has_prefix_ci(desc, ENGINE_LABELS)) {
		labels = shoal_orch__get(node, "Description", "Engine", "Labels", NULL);
		v = json_string_value(json_object_get(labels, desc + strlen(ENGINE_LABELS)));
	} else {
		v = NULL; /* other descriptors are ignored: one branch */
	}
	return v != NULL ? v : "";
}

/* Placement preferences: one level per preference, keep the candidates in the branch (label
 * value) holding the fewest tasks of the service, so branches fill evenly. */
static size_t prefer(const json_t *prefs, struct shoal_orch__node **cand, size_t n)
{
	const json_t *pref;
	const char *desc, *v, *best;
	size_t i, j, k, keep;
	unsigned count, best_count;

	json_array_foreach(prefs, i, pref) {
		desc = shoal_orch__str(pref, "Spread", "SpreadDescriptor", NULL);
		if (desc == NULL || n == 0)
			continue;
		best = NULL;
		best_count = 0;
		for (j = 0; j < n; j++) {
			v = spread_value(desc, cand[j]->json);
			count = 0;
			for (k = 0; k < n; k++)
				if (strcmp(spread_value(desc, cand[k]->json), v) == 0)
					count += cand[k]->svc_active;
			if (best == NULL || count < best_count ||
			    (count == best_count && strcmp(v, best) < 0)) {
				best = v;
				best_count = count;
			}
		}
		keep = 0;
		for (j = 0; j < n; j++)
			if (strcmp(spread_value(desc, cand[j]->json), best) == 0)
				cand[keep++] = cand[j];
		n = keep;
	}
	return n;
}

/*
 * The step.
 */

static void set_err(struct shoal_orch__pass *p, const struct shoal_store_obj *t, const char *msg)
{
	const char *cur = shoal_orch__str(shoal_orch__view(p, t), "Status", "Err", NULL);
	json_t *m, *status;
	char ts[64];

	/* Written only when it changes: rewriting it would wake the next pass forever. */
	if (strcmp(cur != NULL ? cur : "", msg) == 0)
		return;
	m = shoal_orch__mut(p, t);
	status = json_object_get(m, "Status");
	shoal_time_format_rfc3339nano(p->now, ts, sizeof(ts));
	json_object_set_new(status, "Timestamp", json_string(ts));
	if (*msg == '\0')
		json_object_del(status, "Err");
	else
		json_object_set_new(status, "Err", json_string(msg));
}

static void took(struct shoal_orch__node *n, const struct req *r)
{
	n->cpu -= r->cpu;
	n->mem -= r->mem;
	n->active++;
	n->svc_active++;
	take_ports(n, r->ports);
}

/* The static filters' results per node for the last spec seen: the tasks of a service
 * share theirs (but during an update), so a pass checks plugins, constraints and platforms
 * once per node rather than once per task and node. */
struct static_cache {
	const json_t *spec; /* borrowed; NULL: nothing cached */
	int *f;		    /* per node, check_static() */
};

static void assign(struct shoal_orch__pass *p, const struct shoal_store_obj *svc,
		   const struct shoal_store_obj *t, struct shoal_orch__node **cand,
		   struct static_cache *sc)
{
	unsigned counts[NFILTERS] = { 0 };
	struct shoal_orch__node *best = NULL;
	const json_t *task = shoal_orch__view(p, t);
	struct req r;
	char why[512], msg[600];
	size_t i, n = 0;
	int f;
	json_t *m;

	req_init(&r, p, svc->json, task);
	if (sc->spec == NULL || !json_equal(sc->spec, r.spec)) {
		for (i = 0; i < p->nnodes; i++)
			sc->f[i] = check_static(&r, &p->nodes[i]);
		sc->spec = r.spec;
	}
	for (i = 0; i < p->nnodes; i++) {
		f = check(&r, &p->nodes[i], sc->f[i]);
		if (f >= 0)
			counts[f]++;
		else
			cand[n++] = &p->nodes[i];
	}
	if (n == 0) {
		explain(counts, why, sizeof(why));
		if (why[0] != '\0')
			snprintf(msg, sizeof(msg), "no suitable node (%s)", why);
		else
			snprintf(msg, sizeof(msg), "no suitable node");
		shoal_log_debug("no suitable node", "task=%s why=%s", t->id, shoal_log_q(why));
		set_err(p, t, msg);
		goto out;
	}
	n = prefer(shoal_orch__get(r.spec, "Placement", "Preferences", NULL), cand, n);
	for (i = 0; i < n; i++)
		if (best == NULL || better(cand[i], best))
			best = cand[i];
	m = shoal_orch__mut(p, t);
	json_object_set_new(m, "NodeID", json_string(best->id));
	shoal_orch__set_status(p, m, SHOAL_TASK_ASSIGNED, "scheduler assigned task to node");
	took(best, &r);
	shoal_log_debug("task assigned", "task=%s node=%s", t->id, best->id);
out:
	req_fini(&r);
}

/* A task created for its node (global services): only checked against that node. */
static void confirm(struct shoal_orch__pass *p, const struct shoal_store_obj *svc,
		    const struct shoal_store_obj *t)
{
	const json_t *task = shoal_orch__view(p, t);
	struct shoal_orch__node *n = shoal_orch__node(p, shoal_orch__str(task, "NodeID", NULL));
	unsigned counts[NFILTERS] = { 0 };
	struct req r;
	char why[512];
	int f;
	json_t *m;

	if (n == NULL)
		return; /* the node is gone: the orchestrator shuts the task down */
	req_init(&r, p, svc->json, task);
	f = check(&r, n, -2);
	if (f >= 0) {
		/* swarmkit puts the bare explanation here, without "no suitable node" */
		counts[f] = 1;
		explain(counts, why, sizeof(why));
		set_err(p, t, why);
	} else {
		m = shoal_orch__mut(p, t);
		shoal_orch__set_status(p, m, SHOAL_TASK_ASSIGNED,
				       "scheduler confirmed task can run on preassigned node");
		took(n, &r);
	}
	req_fini(&r);
}

static int cmp_slot(const void *a, const void *b)
{
	const struct shoal_store_obj *const *x = a, *const *y = b;
	int64_t sx = shoal_orch__int((*x)->json, "Slot", NULL);
	int64_t sy = shoal_orch__int((*y)->json, "Slot", NULL);

	if (sx != sy)
		return sx < sy ? -1 : 1;
	return strcmp((*x)->id, (*y)->id);
}

void shoal_orch__schedule(struct shoal_orch__pass *p, const struct shoal_store_obj *svc,
			  struct shoal_store_obj **tasks, size_t n)
{
	struct shoal_store_obj **pending = shoal_calloc(n + 1, sizeof(*pending));
	struct shoal_orch__node **cand = shoal_calloc(p->nnodes + 1, sizeof(*cand));
	struct static_cache sc = { NULL, shoal_calloc(p->nnodes + 1, sizeof(int)) };
	struct shoal_orch__node *node;
	enum shoal_task_state st;
	const json_t *v;
	size_t i, np = 0;
	int64_t ts;
	json_t *m;

	for (i = 0; i < p->nnodes; i++)
		p->nodes[i].svc_active = p->nodes[i].svc_failures = 0;
	for (i = 0; i < n; i++) {
		v = shoal_orch__view(p, tasks[i]);
		st = shoal_orch__observed(v);
		node = shoal_orch__node(p, shoal_orch__str(v, "NodeID", NULL));
		/* pending in the store: what the allocator moved in this pass is scheduled by
		 * the next one, so "pending" is committed as in swarmkit */
		if (shoal_orch__observed(tasks[i]->json) == SHOAL_TASK_PENDING &&
		    st == SHOAL_TASK_PENDING && json_object_get(p->deletes, tasks[i]->id) == NULL)
			pending[np++] = tasks[i];
		if (node == NULL)
			continue;
		if (tracked(v) && shoal_orch__desired(v) <= SHOAL_TASK_COMPLETE)
			node->svc_active++;
		if ((st == SHOAL_TASK_FAILED || st == SHOAL_TASK_REJECTED) &&
		    shoal_time_parse(shoal_orch__str(v, "Status", "Timestamp", NULL), &ts) == 0 &&
		    ts >= p->now - FAILURE_WINDOW)
			node->svc_failures++;
	}
	if (np > 1)
		qsort(pending, np, sizeof(*pending), cmp_slot);
	for (i = 0; i < np; i++) {
		v = shoal_orch__view(p, pending[i]);
		if (shoal_orch__desired(v) > SHOAL_TASK_RUNNING) {
			/* Never placed and no longer wanted: it will not run. A task to remove is
			 * the reaper's to delete. */
			if (shoal_orch__desired(v) < SHOAL_TASK_REMOVE) {
				m = shoal_orch__mut(p, pending[i]);
				shoal_orch__set_status(
					p, m, SHOAL_TASK_SHUTDOWN,
					shoal_orch__str(m, "Status", "Message", NULL));
			}
			continue;
		}
		if (shoal_orch__str(v, "NodeID", NULL) != NULL &&
		    *shoal_orch__str(v, "NodeID", NULL) != '\0')
			confirm(p, svc, pending[i]);
		else
			assign(p, svc, pending[i], cand, &sc);
	}
	free(sc.f);
	free(cand);
	free(pending);
}
