/* Inside the reconciliation loop (orchestrator.c, scheduler.c, updater.c): one pass's view of
 * the cluster, the working copies of the tasks it changes, and a service's tasks grouped in
 * slots. Kept apart from internal.h, which is the manager struct's. Everything here lives for
 * one pass (but p->running): borrowed store pointers stay valid because nothing is proposed
 * until the pass has stopped reading. */
#ifndef SHOAL_MANAGER_ORCH_INTERNAL_H
#define SHOAL_MANAGER_ORCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manager/orchestrator.h"

#define SHOAL_ORCH__SECOND 1000000000LL

/* A change set this big is enough for one pass; the rest comes with the next. */
#define SHOAL_ORCH__MAX_CREATES 500

/* A node as the scheduler sees it during a pass. */
struct shoal_orch__node {
	const json_t *json; /* borrowed from the store */
	const char *id, *hostname;
	bool down;	  /* Status.State down */
	bool drained;	  /* Spec.Availability drain */
	bool paused;	  /* Spec.Availability pause */
	bool schedulable; /* ready and active: the scheduler's first filter */
	int64_t cpu, mem; /* not reserved by the tasks it runs */
	unsigned active;  /* active tasks of every service */
	json_t *ports;	  /* host-mode ports taken: "tcp/8080" -> true; NULL while none */

	/* for the service being scheduled */
	unsigned svc_active;
	unsigned svc_failures; /* failed or rejected in the last five minutes */
};

struct shoal_orch__ipam;

struct shoal_orch__pass {
	struct shoal_store *store;
	int64_t now;
	int64_t wake; /* the earliest deadline met on the way, SHOAL_ORCH_NEVER if none */

	struct shoal_orch__node *nodes; /* sorted by hostname, then ID */
	size_t nnodes;
	json_t *node_index; /* node ID -> its index in nodes */

	/* The change set of the service being reconciled. Each task is written at most once
	 * per change set, so later steps of the pass edit the same working copy. */
	json_t *writes;	 /* task ID -> working copy, updated in insertion order */
	json_t *creates; /* new task objects, with their IDs set */
	json_t *deletes; /* task ID -> true */
	/* The service's working copy when the change set rewrites it too (the updater's
	 * UpdateStatus, an automatic rollback's Spec), else NULL. */
	json_t *service;

	/* Borrowed from the orchestrator, outliving the pass: task ID -> when it was first
	 * seen running (ns). Only a cache for the updater's Monitor: a task missing from it
	 * counts as never having run. */
	json_t *running;

	/* The allocator's (allocator.c): the ingress network's addresses in use, NULL when
	 * the swarm has no ingress network. Its service writes (the VIP) go into service
	 * above, with the updater's. */
	struct shoal_orch__ipam *ipam;
};

/* A task of the service being reconciled, as the pass began. */
struct shoal_orch__tref {
	struct shoal_store_obj *o;
	int64_t created; /* CreatedAt */
	int64_t num;	 /* Slot */
	const char *node;
	bool done;	/* desired past running when the pass began */
	int64_t status; /* Status.Timestamp */
};

/* A slot: a replicated service's slot number, or a global service's node. */
struct shoal_orch__slot {
	int64_t num;
	const char *node;
	struct shoal_orch__tref *t; /* oldest first */
	size_t n;
	json_t *created; /* the task this pass adds to it (borrowed from p->creates), or NULL */
	bool runnable;	 /* counts as a replica (replicated) or stays on a valid node (global) */
	bool running;	 /* has a task observed running: scale-down keeps it first */
};

struct shoal_orch__svc {
	struct shoal_store_obj *obj;
	const json_t *json;
	bool global;
	struct shoal_store_obj **all; /* the store's tasks of the service */
	size_t nall;
	struct shoal_orch__tref *t;
	struct shoal_orch__slot *slots;
	size_t nslots;
	size_t ncreated;
};

/* The value at a path of object keys ending with NULL: get(j, "Spec", "Name", NULL). */
json_t *shoal_orch__get(const json_t *j, ...) __attribute__((sentinel));
const char *shoal_orch__str(const json_t *j, ...) __attribute__((sentinel));
int64_t shoal_orch__int(const json_t *j, ...) __attribute__((sentinel));

/* A task's observed (Status.State) and desired state; unknown strings read as NEW. */
enum shoal_task_state shoal_orch__observed(const json_t *task);
enum shoal_task_state shoal_orch__desired(const json_t *task);

/* A JSON time string in nanoseconds, 0 if absent or malformed. */
int64_t shoal_orch__time(const json_t *j);

/* A task's NodeID, "" when unassigned. */
const char *shoal_orch__node_of(const json_t *task);

/* Asks for a pass at `at` at the latest. */
void shoal_orch__wake_at(struct shoal_orch__pass *p, int64_t at);

/* The task as this pass sees it: its working copy if the pass changed it, else the store's. */
const json_t *shoal_orch__view(const struct shoal_orch__pass *p, const struct shoal_store_obj *t);

/* A working copy to change, queued as an update in the service's change set. */
json_t *shoal_orch__mut(struct shoal_orch__pass *p, const struct shoal_store_obj *t);

/* True when the pass already changed or deleted the task. */
bool shoal_orch__touched(const struct shoal_orch__pass *p, const char *id);

/* Raises a task's desired state; it never goes back. */
void shoal_orch__set_desired(struct shoal_orch__pass *p, const struct shoal_store_obj *t,
			     enum shoal_task_state st);

/* A new task of service c in slot num (global: on node) with the TaskTemplate as it is now,
 * queued in the change set; returns it, borrowed from p->creates. */
json_t *shoal_orch__task_new(struct shoal_orch__pass *p, struct shoal_orch__svc *c, int64_t num,
			     const char *node, enum shoal_task_state desired);

/* Sets Status.State/Message (and Timestamp = now, Err dropped) on a working copy. */
void shoal_orch__set_status(struct shoal_orch__pass *p, json_t *task, enum shoal_task_state st,
			    const char *msg);

/* The node table: loads every node with the reservations, counts and host ports of the tasks
 * the store says run there. */
void shoal_orch__nodes_load(struct shoal_orch__pass *p);
void shoal_orch__nodes_free(struct shoal_orch__pass *p);

/* The node with this ID in the pass's table, or NULL. */
struct shoal_orch__node *shoal_orch__node(const struct shoal_orch__pass *p, const char *id);

/* The allocator: addresses in use read from the store at the start of a pass, freed at
 * its end. */
void shoal_orch__alloc_load(struct shoal_orch__pass *p);
void shoal_orch__alloc_free(struct shoal_orch__pass *p);
/* Nodes without an ingress address get one: a change set (owned by the caller) or NULL. */
struct shoal_store_tx *shoal_orch__alloc_nodes(struct shoal_orch__pass *p);
/* The service's VIP, then its new tasks (among tasks, n of them, the store's): addresses
 * if it publishes ingress ports, then new -> pending. A task for which no address is left
 * stays new. */
void shoal_orch__allocate(struct shoal_orch__pass *p, const struct shoal_store_obj *svc,
			  struct shoal_store_obj **tasks, size_t n);
/* Whether the service (object) publishes a port in ingress mode. */
bool shoal_orch__ingress_needed(const json_t *svc);

/* The scheduler's step for one service: its pending tasks (among tasks, n of them, the store's)
 * get a node or an explanation. */
void shoal_orch__schedule(struct shoal_orch__pass *p, const struct shoal_store_obj *svc,
			  struct shoal_store_obj **tasks, size_t n);

/*
 * The rolling updater (updater.c, SWARM-SPEC §6).
 */

/* The updater's step for one service, after its orchestrator: replaces the dirty tasks of
 * the runnable slots at the pace of the UpdateConfig (RollbackConfig while rolling back),
 * watches the new ones for Monitor and keeps the service's UpdateStatus, all derived from
 * the store and p->now. */
void shoal_orch__update(struct shoal_orch__pass *p, struct shoal_orch__svc *c);

/* Whether an update put the slot's k-th task there, replacing a live task of another spec,
 * rather than the restart supervisor replacing a task that stopped or lost its node. An
 * update's replacement starts as soon as the task it replaces stopped, without the restart
 * delay. */
bool shoal_orch__replaced_by_update(const struct shoal_orch__pass *p,
				    const struct shoal_orch__slot *s, size_t k);

/* Keeps p->running (a task ID -> ns map) up to date with a store change of a task. */
void shoal_orch__note_running(json_t *running, const struct shoal_store_event *ev);

#endif
