/* The Engine API: Docker's routes, their handlers and the JSON they speak, served by
 * src/http. Owns the route table, the API servers (one per -H address), the event bus
 * and the filters codec every list endpoint uses. Loop thread only. */
#ifndef SHOAL_API_H
#define SHOAL_API_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "base/list.h"
#include "http/http.h"

struct shoal_engine;
struct shoal_registry;
struct shoal_manager;
struct shoal_agent_exec;

#define SHOAL_API_VERSION     "1.41"
#define SHOAL_API_MIN_VERSION "1.12"
#define SHOAL_API_EVENTS_KEEP 256 /* events replayed to ?since=, as dockerd keeps */

/* Facts about this host and daemon, gathered once at start (src/api/sysinfo.c). */
struct shoal_sysinfo {
	char kernel_version[128];
	char operating_system[128];
	char os_version[64];
	char architecture[32]; /* uname: x86_64 */
	char go_arch[16];      /* Docker's spelling: amd64 */
	char hostname[256];
	int ncpu;
	int64_t mem_total;
	char cgroup_version[4];
	char backing_fs[32];
	bool memory_limit, swap_limit, kernel_memory, kernel_memory_tcp;
	bool cpu_cfs_period, cpu_cfs_quota, cpu_shares, cpuset, pids_limit, oom_kill_disable;
	bool ipv4_forwarding, bridge_nf_iptables, bridge_nf_ip6tables;
};

/* What the daemon tells the API about itself. Strings are borrowed for the API's life. */
struct shoal_api_config {
	const char *data_root;
	const char *exec_root;
	const char *engine_id;	  /* "SVGQ:WBAC:..." kept under the data root */
	const char *runc_version; /* "" until known */
	const char *runc_commit;
	bool debug;
	struct shoal_engine *engine;	 /* the node's engine: images (and containers) */
	struct shoal_registry *registry; /* pulls and pushes; NULL: not available (tests) */
	struct shoal_manager *manager;	 /* swarm mode; NULL: not available (tests) */
	/* test-only (shoald --debug-agent-api): the task executor the /_shoal/agent routes
	 * drive; NULL: those routes answer 404 */
	struct shoal_agent_exec *agent;
};

/* ---- events ---- */

struct shoal_event {
	struct shoal_list link;
	char *type;   /* container, image, network, daemon, node, service, ... */
	char *action; /* create, start, die, ... */
	char *actor_id;
	json_t *attributes; /* object of strings; owned */
	char *scope;	    /* "local" or "swarm" */
	int64_t time_ns;
};

struct shoal_api_events {
	struct shoal_list recent; /* oldest first, at most SHOAL_API_EVENTS_KEEP */
	size_t nrecent;
	struct shoal_list subscribers;
	size_t nsubscribers;
};

/* ---- filters (the ?filters= argument of list endpoints) ---- */

struct shoal_filters {
	json_t *m; /* key -> object whose keys are the accepted values */
};

/* Parses Docker's filters JSON, both {"k":["v"]} and the legacy {"k":{"v":true}}. An
 * empty or NULL string gives no filters. Fills f (release with shoal_filters_fini). */
int shoal_filters_parse(const char *json, struct shoal_filters *f,
			struct shoal_err *err) SHOAL_MUST_CHECK;
/* Refuses keys not in allowed (NULL-terminated) with Docker's "invalid filter 'k'". */
int shoal_filters_validate(const struct shoal_filters *f, const char *const *allowed,
			   struct shoal_err *err) SHOAL_MUST_CHECK;
void shoal_filters_fini(struct shoal_filters *f);
bool shoal_filters_has(const struct shoal_filters *f, const char *key);
/* True when key is not filtered, or value is one of its values. */
bool shoal_filters_match(const struct shoal_filters *f, const char *key, const char *value);
/* Like shoal_filters_match, also accepting a wanted value that is a prefix of value
 * (Docker's FuzzyMatch: short IDs). */
bool shoal_filters_fuzzy_match(const struct shoal_filters *f, const char *key, const char *value);
/* For "label": every wanted "k" or "k=v" is present in labels (a JSON object). */
bool shoal_filters_match_labels(const struct shoal_filters *f, const char *key,
				const json_t *labels);

/* ---- container logs (logstream.c) ---- */

struct shoal_container;
struct shoal_api_logstream;

struct shoal_api_logstream_opts {
	bool stdout_, stderr_;
	bool follow;		    /* keep going until the container stops */
	bool timestamps;	    /* each line starts with its RFC 3339 time */
	bool from_end;		    /* only what is written from now on (attach) */
	long tail;		    /* the last N lines of what is there; -1: all */
	int64_t since_ns, until_ns; /* 0: no bound */
};

/* A line of output (timestamped if asked), from fd 1 or 2. */
typedef void (*shoal_api_logstream_out_cb)(void *ctx, int fd, const char *data, size_t len);
/* Nothing more will come. */
typedef void (*shoal_api_logstream_end_cb)(void *ctx);

int shoal_api_logstream_open(uv_loop_t *loop, struct shoal_container *c,
			     const struct shoal_api_logstream_opts *o,
			     shoal_api_logstream_out_cb out, shoal_api_logstream_end_cb end,
			     void *ctx, struct shoal_api_logstream **lsp,
			     struct shoal_err *err) SHOAL_MUST_CHECK;
/* Stops early (the client left); end is not called. */
void shoal_api_logstream_close(struct shoal_api_logstream *ls);

/* ---- the API ---- */

struct shoal_api {
	uv_loop_t *loop;
	struct shoal_api_config cfg;
	struct shoal_sysinfo sys;
	struct shoal_api_events events;
	struct shoal_http_server *servers;
	size_t nservers;
	size_t nclosing;
	int64_t started_ns;
	void (*close_cb)(struct shoal_api *api);
	struct shoal_list execs; /* docker exec instances (exec.c) */
	json_t *agent_reports;	 /* test-only: the executor's reports so far (agent_debug.c) */
};

/* The Engine API's route table (static; for the servers, tests and the fuzzer). */
const struct shoal_http_router *shoal_api_router(void);

/* Prepares the API; cfg is copied (its strings stay borrowed). */
void shoal_api_init(struct shoal_api *api, uv_loop_t *loop, const struct shoal_api_config *cfg);
/* Starts serving on each address ("unix:///path", "tcp://host:port"). */
int shoal_api_listen(struct shoal_api *api, const char *const *hosts, size_t nhosts,
		     struct shoal_err *err) SHOAL_MUST_CHECK;
/* Stops accepting, ends event streams, gives in-flight requests grace_ms, then cb. */
void shoal_api_close(struct shoal_api *api, unsigned grace_ms, void (*cb)(struct shoal_api *api));

/* Publishes an event to subscribers and keeps it for ?since=. Takes ownership of
 * attributes (a JSON object of strings, may be NULL). */
void shoal_api_event_publish(struct shoal_api *api, const char *type, const char *action,
			     const char *actor_id, json_t *attributes, const char *scope);

/* Gathers host facts (tiny procfs/sysfs reads and statfs: startup only). */
void shoal_sysinfo_collect(struct shoal_sysinfo *sys, const char *data_root);

/* Handlers (one file per resource). */
void shoal_api_system_ping(struct shoal_http_req *req);
void shoal_api_system_version(struct shoal_http_req *req);
void shoal_api_system_info(struct shoal_http_req *req);
void shoal_api_system_events(struct shoal_http_req *req);
void shoal_api_images_load(struct shoal_http_req *req);
void shoal_api_images_create(struct shoal_http_req *req);
void shoal_api_images_list(struct shoal_http_req *req);
void shoal_api_images_inspect(struct shoal_http_req *req);
void shoal_api_images_history(struct shoal_http_req *req);
void shoal_api_images_tag(struct shoal_http_req *req);
void shoal_api_images_delete(struct shoal_http_req *req);
void shoal_api_images_save(struct shoal_http_req *req);
void shoal_api_images_push(struct shoal_http_req *req);
void shoal_api_distribution_inspect(struct shoal_http_req *req);
void shoal_api_system_auth(struct shoal_http_req *req);
void shoal_api_containers_create(struct shoal_http_req *req);
void shoal_api_containers_list(struct shoal_http_req *req);
void shoal_api_containers_prune(struct shoal_http_req *req);
void shoal_api_containers_inspect(struct shoal_http_req *req);
void shoal_api_containers_start(struct shoal_http_req *req);
void shoal_api_containers_stop(struct shoal_http_req *req);
void shoal_api_containers_restart(struct shoal_http_req *req);
void shoal_api_containers_kill(struct shoal_http_req *req);
void shoal_api_containers_pause(struct shoal_http_req *req);
void shoal_api_containers_unpause(struct shoal_http_req *req);
void shoal_api_containers_wait(struct shoal_http_req *req);
void shoal_api_containers_rename(struct shoal_http_req *req);
void shoal_api_containers_attach(struct shoal_http_req *req);
void shoal_api_containers_resize(struct shoal_http_req *req);
void shoal_api_containers_logs(struct shoal_http_req *req);
void shoal_api_containers_delete(struct shoal_http_req *req);
void shoal_api_containers_top(struct shoal_http_req *req);
void shoal_api_containers_stats(struct shoal_http_req *req);
void shoal_api_volumes_create(struct shoal_http_req *req);
void shoal_api_volumes_list(struct shoal_http_req *req);
void shoal_api_volumes_inspect(struct shoal_http_req *req);
void shoal_api_volumes_delete(struct shoal_http_req *req);
void shoal_api_volumes_prune(struct shoal_http_req *req);
void shoal_api_networks_list(struct shoal_http_req *req);
void shoal_api_networks_inspect(struct shoal_http_req *req);
void shoal_api_exec_create(struct shoal_http_req *req);
void shoal_api_exec_start(struct shoal_http_req *req);
void shoal_api_exec_inspect(struct shoal_http_req *req);
void shoal_api_exec_resize(struct shoal_http_req *req);
void shoal_api_swarm_init(struct shoal_http_req *req);
void shoal_api_swarm_join(struct shoal_http_req *req);
void shoal_api_swarm_inspect(struct shoal_http_req *req);
void shoal_api_swarm_update(struct shoal_http_req *req);
void shoal_api_swarm_unlockkey(struct shoal_http_req *req);
void shoal_api_swarm_leave(struct shoal_http_req *req);
void shoal_api_nodes_list(struct shoal_http_req *req);
void shoal_api_nodes_inspect(struct shoal_http_req *req);
void shoal_api_nodes_update(struct shoal_http_req *req);
void shoal_api_nodes_delete(struct shoal_http_req *req);
/* Test-only (agent_debug.c): drive cfg.agent; 404 when it is NULL. */
void shoal_api_agent_assign(struct shoal_http_req *req);
void shoal_api_agent_reports(struct shoal_http_req *req);
/* The executor's report callback for cfg.agent (ctx: the API): keeps the reports for
 * GET /_shoal/agent/reports. Takes ownership of status. */
void shoal_api_agent_report(void *ctx, const char *task_id, json_t *status);
void shoal_api_services_list(struct shoal_http_req *req);
void shoal_api_services_create(struct shoal_http_req *req);
void shoal_api_services_inspect(struct shoal_http_req *req);
void shoal_api_services_update(struct shoal_http_req *req);
void shoal_api_services_delete(struct shoal_http_req *req);
void shoal_api_tasks_list(struct shoal_http_req *req);
void shoal_api_tasks_inspect(struct shoal_http_req *req);
void shoal_api_services_logs(struct shoal_http_req *req);
void shoal_api_tasks_logs(struct shoal_http_req *req);

/* Parses ?version= (Docker's "invalid <what> version '<v>': strconv.ParseUint: ..." 400). */
int shoal_api_parse_version(struct shoal_http_req *req, const char *what, uint64_t *out,
			    struct shoal_err *err) SHOAL_MUST_CHECK;
/* The request body as a JSON object (empty: {}): a new reference, or NULL with a 400. */
json_t *shoal_api_body_json(struct shoal_http_req *req, struct shoal_err *err);

/* Builds the /version and /info bodies: new references. Exposed for unit tests. */
json_t *shoal_api_version_json(const struct shoal_api *api);
json_t *shoal_api_info_json(const struct shoal_api *api);
/* An event as the Engine API encodes it: a new reference. */
json_t *shoal_api_event_json(const struct shoal_event *ev);
/* Whether ev passes the /events filters. */
bool shoal_api_event_match(const struct shoal_event *ev, const struct shoal_filters *f);

#endif
