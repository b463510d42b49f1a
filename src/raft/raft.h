/* Node-local raft for the managers: libraft (canonical/raft) with its libuv backend, a data
 * directory per node, and an FSM whose entries are opaque bytes (the store puts JSON change
 * sets in them). This module owns the raft instance, its I/O backend and a leader watch
 * timer; it knows nothing of what entries mean. Loop thread only. Pointers returned by
 * lookups (the leader's address) are borrowed, valid until control returns to the loop. */
#ifndef SHOAL_RAFT_H
#define SHOAL_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/err.h"

/* Docker's answer when a write needs a leader that this node is not, or cannot reach. */
#define SHOAL_RAFT_NO_LEADER_MSG \
	"rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online."

/* Raft rides the cluster port (2377) as Docker's does: a peer dials the address it was given
 * and sends "GET SHOAL_RAFT_UPGRADE_PATH?id=<its id>&address=<its address> HTTP/1.1" with
 * "Connection: Upgrade" and "Upgrade: SHOAL_RAFT_UPGRADE_PROTO"; the cluster server answers
 * "101 Switching Protocols" and gives the socket to shoal_raft_accept_fd(). */
#define SHOAL_RAFT_UPGRADE_PATH	 "/swarm/raft"
#define SHOAL_RAFT_UPGRADE_PROTO "shoal-raft/1"

/* The replicated state machine, called on the loop thread in log order on every manager.
 *
 * apply: one committed entry (buf borrowed for the call). *result is handed to the proposer's
 *   callback on the node that proposed it and dropped elsewhere, so it must be borrowed from
 *   the FSM (or NULL), never something to free. A change the FSM rejects is a result, not a
 *   failure: returning -1 means the FSM cannot go on, and raft stops applying (logged).
 * snapshot: the whole state as one buffer; *buf is malloc'ed (shoal_malloc) and owned by this
 *   module on success, which frees it once raft has stored it.
 * restore: replaces the whole state with a snapshot (buf borrowed for the call). */
struct shoal_raft_fsm {
	void *ctx;
	int (*apply)(void *ctx, const void *buf, size_t len, void **result, struct shoal_err *err);
	int (*snapshot)(void *ctx, void **buf, size_t *len, struct shoal_err *err);
	int (*restore)(void *ctx, const void *buf, size_t len, struct shoal_err *err);
};

/* Tunables; 0 keeps libraft's default (threshold 1024, trailing 128, election 1000 ms,
 * heartbeat 100 ms). Swarmkit's SnapshotInterval is 10000 and LogEntriesForSlowFollowers 500. */
struct shoal_raft_opts {
	unsigned snapshot_threshold; /* entries applied between snapshots */
	unsigned snapshot_trailing;  /* entries kept in the log after a snapshot */
	unsigned election_timeout_ms;
	unsigned heartbeat_ms;
};

struct shoal_raft;

/* result: the FSM's *result for the entry (borrowed); err NULL on success. */
typedef void (*shoal_raft_propose_cb)(void *ctx, void *result, const struct shoal_err *err);
/* err NULL on success. */
typedef void (*shoal_raft_change_cb)(void *ctx, const struct shoal_err *err);
/* leader_id 0 when no leader is known; is_leader says whether it is this node. */
typedef void (*shoal_raft_leader_cb)(void *ctx, uint64_t leader_id, bool is_leader);
typedef void (*shoal_raft_close_cb)(void *ctx);

/* Opens the raft node id (> 0) listening on address ("ip:port") with its log and snapshots
 * in dir (created if missing). fsm is borrowed and must outlive the node; opts may be NULL.
 * Nothing runs until shoal_raft_start. On success *out is freed by shoal_raft_close. */
int shoal_raft_open(uv_loop_t *loop, const char *dir, uint64_t id, const char *address,
		    struct shoal_raft_fsm *fsm, const struct shoal_raft_opts *opts,
		    struct shoal_raft **out, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Makes this node the single voter of a new cluster (the first manager, `swarm init`).
 * Before shoal_raft_start, on an empty dir only: otherwise 409. */
int shoal_raft_bootstrap(struct shoal_raft *r, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Makes this node the single voter of its cluster, whatever the log said (`swarm init
 * --force-new-cluster` on a survivor). Before shoal_raft_start only. */
int shoal_raft_recover(struct shoal_raft *r, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Loads the snapshot and log from dir (restore, then replay as entries commit), starts the
 * transport and the leader watch. A node that was neither bootstrapped nor added waits for
 * a leader to contact it. */
int shoal_raft_start(struct shoal_raft *r, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Calls cb(ctx, leader_id, is_leader) on the loop whenever the known leader or this node's
 * leadership changes (polled every 100 ms: libraft 0.15 has no state callback). */
void shoal_raft_set_leader_cb(struct shoal_raft *r, shoal_raft_leader_cb cb, void *ctx);

/* Appends a copy of buf (borrowed) to the log. cb runs once the entry is committed and
 * applied here, or with a 503 SHOAL_RAFT_NO_LEADER_MSG if leadership is lost first (the
 * entry may still commit later under a new leader: callers must make entries idempotent or
 * re-read). Fails with that same 503, without calling cb, when this node is not the
 * leader. */
int shoal_raft_propose(struct shoal_raft *r, const void *buf, size_t len, shoal_raft_propose_cb cb,
		       void *ctx, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Appends a barrier: cb runs once every entry before it is applied here, so a new leader
 * knows its FSM holds all that earlier terms committed. Leader only (503 otherwise). */
int shoal_raft_barrier(struct shoal_raft *r, shoal_raft_change_cb cb, void *ctx,
		       struct shoal_err *err) SHOAL_MUST_CHECK;

/* Adds server id at address as a voter (libraft adds it as a spare, then promotes it once it
 * has caught up; a member already there is only promoted; a voter already: 409). address borrowed. Leader only (503 otherwise). cb runs when both steps
 * are committed, or on the first failure. */
int shoal_raft_add_voter(struct shoal_raft *r, uint64_t id, const char *address,
			 shoal_raft_change_cb cb, void *ctx,
			 struct shoal_err *err) SHOAL_MUST_CHECK;

/* The role of server id in the latest configuration (libraft's RAFT_VOTER, RAFT_STANDBY,
 * RAFT_SPARE), or -1 when it is not a member. */
int shoal_raft_member_role(struct shoal_raft *r, uint64_t id);
#define SHOAL_RAFT_VOTER 1 /* RAFT_VOTER */

/* Whether a configuration change is under way (libraft takes one at a time). */
bool shoal_raft_changing(struct shoal_raft *r);

/* Removes server id from the configuration. Leader only (503 otherwise). */
int shoal_raft_remove(struct shoal_raft *r, uint64_t id, shoal_raft_change_cb cb, void *ctx,
		      struct shoal_err *err) SHOAL_MUST_CHECK;

/* Hands libraft a connection a peer opened (after the upgrade answer has been sent); takes
 * ownership of fd in every case. 503 when raft is not running here (fd closed). */
int shoal_raft_accept_fd(struct shoal_raft *r, uint64_t id, const char *address, int fd,
			 struct shoal_err *err) SHOAL_MUST_CHECK;

/* The leader this node knows of: *id 0 and *address NULL if none. address is borrowed. */
void shoal_raft_leader(struct shoal_raft *r, uint64_t *id, const char **address);
bool shoal_raft_is_leader(struct shoal_raft *r);

/* Stops raft (pending proposals get their callbacks with an error), closes the backend and
 * every handle, then calls cb(ctx). r must not be used after this call; its memory is kept
 * until shoal_raft_reap(). */
void shoal_raft_close(struct shoal_raft *r, shoal_raft_close_cb cb, void *ctx);

/* Frees every closed node's memory. Only once their loop has run to its end (nothing of
 * libraft's can call back any more): libraft 0.15 may still call into a closed node's
 * backend a little after its close callback. */
void shoal_raft_reap(void);

#endif
