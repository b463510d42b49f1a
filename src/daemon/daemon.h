/* shoald's life: its flags (spelt as dockerd's), the data and exec roots, the pidfile,
 * the engine ID, probing the OCI runtime, signals, and bringing the API up and down.
 * Owns the loop it runs. Loop thread only. */
#ifndef SHOAL_DAEMON_H
#define SHOAL_DAEMON_H

#include <stdbool.h>

#include <uv.h>

#include "agent/agent.h"
#include "api/api.h"
#include "engine/engine.h"
#include "manager/manager.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"

#define SHOAL_DAEMON_DEFAULT_HOST      "unix:///var/run/docker.sock"
#define SHOAL_DAEMON_DEFAULT_DATA_ROOT "/var/lib/shoal"
#define SHOAL_DAEMON_DEFAULT_EXEC_ROOT "/run/shoal"
#define SHOAL_DAEMON_DEFAULT_PIDFILE   "/var/run/shoald.pid"
#define SHOAL_DAEMON_SHUTDOWN_GRACE_MS 3000
#define SHOAL_DAEMON_DEFAULT_BRIDGE    "shoal0"
#define SHOAL_DAEMON_DEFAULT_BIP       "172.17.0.1/16"
#define SHOAL_DAEMON_DEFAULT_CONFIG    "/etc/shoal/daemon.json"

struct shoal_daemon_opts {
	char **hosts; /* owned */
	size_t nhosts;
	char *data_root;
	char *exec_root;
	char *pidfile;
	char *bridge;	 /* the default bridge's name, "shoal0" */
	char *bip;	 /* its address and subnet, "172.17.0.1/16" */
	char **runtimes; /* --add-runtime "name=path", owned */
	size_t nruntimes;
	char *default_runtime;
	/* registries (src/registry): --registry-mirror, --insecure-registry, owned */
	char **mirrors;
	size_t nmirrors;
	char **insecure;
	size_t ninsecure;
	int max_downloads; /* --max-concurrent-downloads; 0: the default */
	int max_uploads;
	int max_download_attempts;
	char *config_file; /* --config-file, dockerd's daemon.json */
	enum shoal_log_level log_level;
	bool show_version;
	bool show_help;
	bool debug_agent_api; /* test-only: the /_shoal/agent routes drive a task executor */
};

/* Parses argv, then the daemon.json that --config-file names (default
 * SHOAL_DAEMON_DEFAULT_CONFIG, which may be absent) with dockerd's keys and rules: a
 * directive both in the file and on the command line is refused. Returns 0, or -1 with
 * a message for the user in err. */
/* The manager's membership callback: starts, moves or stops the node's agent (agent.c). */
struct shoal_manager;
struct shoal_daemon;
void shoal_daemon__agent_member(void *ctx, struct shoal_manager *m);
/* Engine container events for the agent's executor. */
void shoal_daemon__agent_container_event(struct shoal_daemon *d, const char *action,
					 const char *id);
/* Stops the agent and its client (daemon stopping). */
void shoal_daemon__agent_close(struct shoal_daemon *d);

int shoal_daemon_opts_parse(struct shoal_daemon_opts *o, int argc, char **argv,
			    struct shoal_err *err) SHOAL_MUST_CHECK;
void shoal_daemon_opts_fini(struct shoal_daemon_opts *o);
/* Prints --help to stdout. */
void shoal_daemon_usage(const char *argv0);

struct shoal_daemon {
	uv_loop_t loop;
	struct shoal_daemon_opts *opts; /* borrowed */
	struct shoal_api api;
	struct shoal_engine engine;
	bool engine_open;
	struct shoal_net *net;
	struct shoal_manager *manager; /* swarm mode; NULL once closing */
	bool manager_closed;
	struct shoal_agent_exec *agent;	 /* --debug-agent-api only, for now */
	struct shoal_registry *registry; /* pulls and pushes */
	bool registry_closed;

	/* the swarm agent (agent.c), while this node is in a swarm */
	struct shoal_http_client *agent_client;
	struct shoal_agent_session *session;
	struct shoal_agent_exec *exec;
	char *agent_node;
	struct shoal_list alogs; /* log subscriptions this node serves (agent.c) */
	char *engine_id;
	uv_signal_t sigterm, sigint;
	bool loop_inited;
	bool stopping;
	bool pidfile_written;
	/* the runtime's --version, probed once at start */
	uv_process_t probe;
	uv_pipe_t probe_out;
	struct shoal_buf probe_buf;
	int probe_handles;
	char runc_version[64];
	char runc_commit[128];
};

/* Prepares the daemon: roots, pidfile, engine ID, listeners. On failure the caller
 * still calls shoal_daemon_fini. */
int shoal_daemon_init(struct shoal_daemon *d, struct shoal_daemon_opts *opts,
		      struct shoal_err *err) SHOAL_MUST_CHECK;
/* Runs the loop until a stop signal has been handled; returns the exit status. */
int shoal_daemon_run(struct shoal_daemon *d);
void shoal_daemon_fini(struct shoal_daemon *d);

/* Checks a pidfile: 0 if absent or stale, -1 if it names a live shoald. Exposed for
 * unit tests. */
int shoal_daemon_pidfile_check(const char *path, struct shoal_err *err) SHOAL_MUST_CHECK;

#endif
