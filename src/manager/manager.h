/* A node's swarm role, first part: a single-node manager. Owns <data-root>/swarm (state.json,
 * the raft dir, the root CA under certificates/), the raft node and the cluster store the raft
 * FSM feeds, the swarm's life (init, restore at start, leave) and the join tokens. What the
 * objects mean to users (the Engine API's JSON) is built here; HTTP is left to src/api.
 * Loop thread only. Pointers returned by lookups are borrowed, valid until control returns to
 * the loop. */
#ifndef SHOAL_MANAGER_H
#define SHOAL_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "store/store.h"

/* Docker's texts (moby daemon/cluster/errors.go), which clients show as they are. */
#define SHOAL_MANAGER_NOT_MANAGER_MSG \
	"This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again."
#define SHOAL_MANAGER_PREPARING_MSG \
	"This node is not a swarm manager. Manager is being prepared or has trouble connecting to the cluster."
#define SHOAL_MANAGER_WORKER_MSG \
	"This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager."
#define SHOAL_MANAGER_ALREADY_MSG \
	"This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join another one."
#define SHOAL_MANAGER_JOIN_TIMEOUT_MSG \
	"Timeout was reached before node joined. The attempt to join the swarm will continue in the background. Use the \"docker info\" command to see the current swarm status of your node."
#define SHOAL_MANAGER_NOT_MEMBER_MSG "This node is not part of a swarm"
#define SHOAL_MANAGER_LEAVE_MANAGER_MSG \
	"You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message."
#define SHOAL_MANAGER_OUT_OF_SEQUENCE_MSG "rpc error: code = Unknown desc = update out of sequence"

#define SHOAL_MANAGER_DEFAULT_PORT 2377

enum shoal_manager_state {
	SHOAL_MANAGER_INACTIVE, /* not in a swarm */
	SHOAL_MANAGER_PENDING,	/* raft started, no leader or no state yet */
	SHOAL_MANAGER_ACTIVE,	/* leader with the cluster object applied */
	SHOAL_MANAGER_LEAVING,	/* raft closing, swarm dir going */
	SHOAL_MANAGER_WORKER,	/* in a swarm as a worker: no raft, no store */
	SHOAL_MANAGER_JOINING,	/* swarm join under way */
};

struct shoal_manager;

/* The node's membership changed (joined, restored, promoted, left): read it again with
 * shoal_manager_member(). */
typedef void (*shoal_manager_member_cb)(void *ctx, struct shoal_manager *m);

/* What the manager tells about its node. Strings are copied. */
struct shoal_manager_config {
	const char *data_root;	    /* the swarm lives in <data_root>/swarm */
	const char *hostname;	    /* Description.Hostname */
	const char *engine_version; /* Description.Engine.EngineVersion */
	int ncpu;
	int64_t mem_total;
	shoal_manager_member_cb member_cb; /* may be NULL */
	void *member_ctx;
};

/* The node's place in a swarm, for its agent. Strings and JSON borrowed until the next
 * membership change. */
struct shoal_manager_member {
	const char *node_id;	/* NULL when not in a swarm */
	const char *addr;	/* this node's advertise IP */
	const json_t *managers; /* [{NodeID, Addr "ip:port"}], where the agent can go */
};

void shoal_manager_member(struct shoal_manager *m, struct shoal_manager_member *out);

/* POST /swarm/init's request, borrowed for the call. */
struct shoal_manager_init_req {
	const char *listen_addr;    /* "ip:port", "ip" or NULL: 0.0.0.0:2377 */
	const char *advertise_addr; /* "ip" or "ip:port" or NULL: see shoal_manager_init */
	const json_t *spec;	    /* SwarmSpec to merge over the defaults, may be NULL */
	bool force_new_cluster;	    /* on a manager: become the only voter, keeping the state */
	const json_t *default_addr_pool; /* ["10.20.0.0/16"] or NULL: 10.0.0.0/8 */
	int subnet_size;		 /* 0: 24 */
	int data_path_port;		 /* 0: 4789; else 1024-49151 */
};

/* POST /swarm/join's request, borrowed for the call. */
struct shoal_manager_join_req {
	const char *remote_addr;    /* "ip:port" of a manager (the first RemoteAddrs) */
	const char *token;	    /* SWMTKN-1-... */
	const char *listen_addr;    /* as for init */
	const char *advertise_addr; /* as for init */
};

/* err NULL on success. */
typedef void (*shoal_manager_done_cb)(void *ctx, const struct shoal_err *err);
typedef void (*shoal_manager_close_cb)(void *ctx);

/* A new, inactive manager. Reads nothing yet. */
struct shoal_manager *shoal_manager_new(uv_loop_t *loop, const struct shoal_manager_config *cfg);

/* Daemon start: if <data_root>/swarm/state.json exists, reopens the raft node from its dir (not
 * bootstrapped) and starts it; the store is rebuilt as raft restores its snapshot and replays
 * its log, and the manager turns ACTIVE once it leads with the cluster applied. Without a
 * state.json it stays INACTIVE and touches nothing. Tiny startup reads only. */
SHOAL_MUST_CHECK int shoal_manager_restore(struct shoal_manager *m, struct shoal_err *err);

enum shoal_manager_state shoal_manager_state(const struct shoal_manager *m);

/* 0 when the manager can serve cluster calls; else 503 with Docker's text for the state. */
SHOAL_MUST_CHECK int shoal_manager_check(const struct shoal_manager *m, struct shoal_err *err);

/* The cluster store (NULL when inactive) and this node's ID ("" when inactive). */
struct shoal_store *shoal_manager_store(struct shoal_manager *m);
const char *shoal_manager_node_id(const struct shoal_manager *m);

/* `docker swarm init`: creates <data_root>/swarm, a root CA, the join tokens, bootstraps a
 * one-voter raft on advertise-ip:listen-port and proposes the cluster and node objects. The
 * advertise address is, in order: advertise_addr, the listen address's IP unless 0.0.0.0, the
 * IPv4 address of the default route's interface, 127.0.0.1. The ingress network is made
 * with the cluster, on the first subnet of the default address pool. cb runs once the
 * objects are applied (or on failure, after undoing). Errors before starting (no cb): 503 already part of
 * a swarm, 400 bad address. */
SHOAL_MUST_CHECK int shoal_manager_init(struct shoal_manager *m,
					const struct shoal_manager_init_req *req,
					shoal_manager_done_cb cb, void *ctx, struct shoal_err *err);

/* `docker swarm join`: checks the remote's CA against the token, asks the leader to admit
 * this node and becomes a worker or a manager as the token says. cb once joined (or on
 * failure, with Docker's texts: "invalid join token", "remote CA does not match
 * fingerprint...", "A valid join token is necessary...", the 20 s timeout). Errors before
 * starting (no cb): 503 already in a swarm, 400 bad token or address. */
SHOAL_MUST_CHECK int shoal_manager_join(struct shoal_manager *m,
					const struct shoal_manager_join_req *req,
					shoal_manager_done_cb cb, void *ctx, struct shoal_err *err);

/* Proposes a change set (borrowed: encoded here) and calls cb once it is applied, with the
 * store's error if applying refused it ("update out of sequence"). 503 when not active. */
SHOAL_MUST_CHECK int shoal_manager_propose(struct shoal_manager *m, const struct shoal_store_tx *tx,
					   shoal_manager_done_cb cb, void *ctx,
					   struct shoal_err *err);

/* `docker swarm leave`: a manager needs force (503 otherwise; not in a swarm: 503). Closes raft,
 * removes <data_root>/swarm, back to INACTIVE, then cb. */
SHOAL_MUST_CHECK int shoal_manager_leave(struct shoal_manager *m, bool force,
					 shoal_manager_done_cb cb, void *ctx,
					 struct shoal_err *err);

/* The agent heard this node's object from the dispatcher: if its Spec.Role says this node
 * should be a manager (worker) while it is a worker (manager, already out of raft), the node
 * becomes one. node borrowed. */
void shoal_manager_node_changed(struct shoal_manager *m, const json_t *node);

/* The agent heard the managers' list ([{NodeID, Addr}], borrowed): a worker keeps it (in
 * state.json too) to find the swarm again after a restart. */
void shoal_manager_remember_managers(struct shoal_manager *m, const json_t *managers);

/* ---- service and task logs (logs.c) ---- */

/* What to read: a service's tasks or one task. Strings borrowed for the call. */
struct shoal_manager_logs_req {
	const char *service_id; /* a service ID, or NULL with task_id */
	const char *task_id;
	bool follow;
	long tail;	  /* last lines per task; -1: all */
	int64_t since_ns; /* 0: from the start */
};

/* One line of a task's output. Everything borrowed for the callback. */
struct shoal_manager_log_msg {
	const char *node_id, *service_id, *task_id;
	int fd; /* 1 stdout, 2 stderr */
	int64_t time_ns;
	const char *data; /* the line, its newline included */
	size_t len;
};

typedef void (*shoal_manager_log_cb)(void *ctx, const struct shoal_manager_log_msg *msg);
/* The subscription is over (every node done, or err); it is freed before this is called. */
typedef void (*shoal_manager_log_end_cb)(void *ctx, const struct shoal_err *err);

struct shoal_manager_logsub;

/* Reads the logs of the tasks req names from the nodes that ran them (through the leader);
 * on_log for each line, then on_end once, on later turns. 503 when not a manager. */
SHOAL_MUST_CHECK int shoal_manager_logs(struct shoal_manager *m,
					const struct shoal_manager_logs_req *req,
					shoal_manager_log_cb on_log,
					shoal_manager_log_end_cb on_end, void *ctx,
					struct shoal_manager_logsub **out, struct shoal_err *err);

/* Stops a subscription (the reader left): no callback afterwards. */
void shoal_manager_logs_cancel(struct shoal_manager_logsub *s);

/* A node as GET /nodes shows it: Leader and Reachability as raft sees them now, the private
 * RaftID dropped. A new reference. */
json_t *shoal_manager_node_json(struct shoal_manager *m, const struct shoal_store_obj *o);

/* GET /swarm: the cluster object with JoinTokens, a new reference; NULL when not active. */
json_t *shoal_manager_swarm_json(struct shoal_manager *m);

/* The /info "Swarm" section: a new reference, whatever the state. */
json_t *shoal_manager_info_json(struct shoal_manager *m);

/* A fresh join token for the CA whose PEM is given: "SWMTKN-1-<digest>-<secret>", the digest
 * the sha256 of the PEM in base 36 padded to 50, the secret 16 random bytes in base 36 padded
 * to 25. A new string. */
char *shoal_manager_join_token(const char *ca_pem);

/* Writes n big-endian bytes as a lower-case base-36 number left-padded with '0' to width
 * characters (more if needed) into out (at least max(width, 2n) + 1 bytes). */
void shoal_manager_base36(const unsigned char *b, size_t n, size_t width, char *out);

/* Stops raft (if running), frees everything, then cb(ctx) on a later loop turn (cb may be
 * NULL). m must not be used after this call. */
void shoal_manager_close(struct shoal_manager *m, shoal_manager_close_cb cb, void *ctx);

#endif
