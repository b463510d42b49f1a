/* The leader's reconciliation loop: the replicated and global orchestrators with their restart
 * supervisor and rolling updater, the task reaper, the allocator step and the scheduler, as one
 * pure core driven by store watches and an injected clock, timer and propose function
 * (SWARM-SPEC §2-§6, §9).
 *
 * Who writes what. The core owns no object: it reads the store and writes change sets only
 * through env->propose. It creates and deletes tasks, moves a task's DesiredState (never
 * backwards), moves Status from new to pending once the task has its addresses (the
 * allocator: NetworksAttachments, Message "pending task scheduling") and from pending to
 * assigned with NodeID (the scheduler), sets Status.Err on a task no node can take, and marks
 * a never-scheduled task shutdown. On a service it writes only the allocator's
 * Endpoint.VirtualIPs and what swarmkit's updater does: UpdateStatus, and Spec :=
 * PreviousSpec when an update fails with FailureAction rollback; on a node, the allocator's
 * Attachments (its ingress sandbox's address). Everything else belongs to others: services
 * to the API layer, nodes and a task's Status from assigned on to the dispatcher, the
 * cluster object and networks to the manager. Tasks are written in Docker's JSON shape
 * (moby api/types/swarm/task.go): the fields a task has in GET /tasks, nothing more.
 *
 * How it runs. Level-triggered: each pass recomputes, for every service, what should change
 * from the store and now_ns alone, and proposes one change set per service (all or nothing,
 * so a restart's "shut the old task down" and "create its replacement" land together). While
 * change sets are in flight no pass runs; once they are all answered, another pass runs if the
 * store changed meanwhile. A refused change set ("update out of sequence" after a race with
 * the dispatcher) is dropped and recomputed from the fresh store by the next pass, so a slot is
 * never filled twice. Deadlines (restart delay, the one-minute wait for an old task to stop, an
 * update's Delay and Monitor) are derived from the tasks' CreatedAt and Status.Timestamp and
 * the service's UpdateStatus.StartedAt, so a new leader picks up where the old one stopped.
 *
 * Loop thread only. Only the raft leader runs one, and it must start it only once the store
 * holds every entry of the previous terms (after a barrier or an applied entry of its own
 * term), or it could fill a slot whose task is still in the log. */
#ifndef SHOAL_MANAGER_ORCHESTRATOR_H
#define SHOAL_MANAGER_ORCHESTRATOR_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "store/store.h"

/* A wake time meaning "no wake wanted". */
#define SHOAL_ORCH_NEVER INT64_MAX

/* err NULL when the change set was applied. */
typedef void (*shoal_orch_done_cb)(void *ctx, const struct shoal_err *err);

/* Proposes tx (borrowed, read during the call only) and calls cb once the store has applied
 * it or refused it, never before returning and never if it returns -1 (err set then).
 * shoal_manager_propose has this shape. */
typedef int (*shoal_orch_propose_fn)(void *data, const struct shoal_store_tx *tx,
				     shoal_orch_done_cb cb, void *ctx, struct shoal_err *err);

/* What the core needs from the world; tests step time through it. */
struct shoal_orch_env {
	/* Wall-clock nanoseconds since the Unix epoch: the clock the store stamps CreatedAt on. */
	int64_t (*now_ns)(void *data);
	/* Asks for one shoal_orch_run() once now_ns() >= at_ns (at once when already due), from
	 * the loop and never from inside this call. A new request replaces the previous one;
	 * SHOAL_ORCH_NEVER cancels it. */
	void (*wake)(void *data, int64_t at_ns);
	shoal_orch_propose_fn propose;
	void *data; /* passed to all three */
};

struct shoal_orch;

/*
 * The pure core.
 */

/* A new orchestrator over s (borrowed; must outlive it). env is copied. It starts watching
 * services, tasks, nodes and the cluster, and asks for a wake at once: the first pass
 * reconciles everything the store holds. */
struct shoal_orch *shoal_orch_new(struct shoal_store *s, const struct shoal_orch_env *env);

/* env->wake's target: runs a pass now, unless change sets are in flight (the last answer
 * asks for the next wake). Calling it at any other time is harmless. */
void shoal_orch_run(struct shoal_orch *o);

/* Stops watching and frees o. Change sets still in flight keep going; their callbacks,
 * when they come, find o gone and do nothing. No wake is requested after this. NULL is a
 * no-op. Not from inside env's functions. */
void shoal_orch_free(struct shoal_orch *o);

/*
 * The libuv backend: the core on the real clock with a uv_timer_t.
 */

struct shoal_orch_uv;

/* Starts an orchestrator on loop for the leader: s is borrowed and must outlive it; propose
 * (and data) is how it writes, e.g. a wrapper around shoal_manager_propose. Never NULL. */
struct shoal_orch_uv *shoal_orch_start(uv_loop_t *loop, struct shoal_store *s,
				       shoal_orch_propose_fn propose, void *data);

/* Stops it (on losing leadership, leaving, closing): no pass runs after this call. The memory
 * goes once its timer is closed, then cb(ctx) runs (cb may be NULL). Not from inside the
 * propose function. Change sets in flight still get their callbacks, which then do nothing,
 * so the manager may close raft after this call. */
void shoal_orch_stop(struct shoal_orch_uv *u, void (*cb)(void *ctx), void *ctx);

/*
 * Pure helpers, shared with the API layer and the rolling updater.
 */

/* Checks Placement.Constraints (a JSON array of strings, or NULL) as swarmkit parses them.
 * The errors are the text Docker clients see, with status 500 because swarmkit returns them
 * as plain errors: "rpc error: code = Unknown desc = constraint expected one operator from
 * ==, !=", "... key 'x' is invalid", "... value 'x' is invalid". */
SHOAL_MUST_CHECK int shoal_sched_constraints_check(const json_t *constraints,
						   struct shoal_err *err);

/* True when node (a node object) satisfies every constraint. An unknown key never matches;
 * a list that does not parse constrains nothing, as in swarmkit, which checked it at create. */
bool shoal_sched_constraints_match(const json_t *constraints, const json_t *node);

/* swarmkit's IsTaskDirty: true when task (a task object) no longer runs what service (a
 * service object) asks, so an update must replace it: its Spec differs from the TaskTemplate,
 * unless only Placement differs and node (the task's node object, may be NULL) still meets
 * the new constraints. The rolling updater's predicate. */
bool shoal_orch_task_is_dirty(const json_t *service, const json_t *task, const json_t *node);

/* The ingress network a swarm starts with: the first subnet of size bits (24 when 0) of
 * the first pool of pools (a JSON array of CIDR strings, "10.0.0.0/8" when empty or NULL),
 * its first address the gateway. 400 when the pool or size does not fit. */
SHOAL_MUST_CHECK int shoal_orch_ingress_subnet(const json_t *pools, int size, char subnet[24],
					       char gateway[16], struct shoal_err *err);

/* The ingress network object (swarm form: Spec, DriverState, IPAMOptions) for subnet
 * ("10.0.0.0/24"), gateway and VXLAN ID. A new reference; the store adds ID and Meta. */
json_t *shoal_orch_ingress_network(const char *subnet, const char *gateway, int vni);

#endif
