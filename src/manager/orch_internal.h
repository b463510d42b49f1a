/* Inside the reconciliation loop (orchestrator.c, scheduler.c): one pass's view of the
 * cluster, and the working copies of the tasks it changes. Kept apart from internal.h, which
 * is the manager struct's. Everything here lives for one pass: borrowed store pointers stay
 * valid because nothing is proposed until the pass has stopped reading. */
#ifndef SHOAL_MANAGER_ORCH_INTERNAL_H
#define SHOAL_MANAGER_ORCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manager/orchestrator.h"

#define SHOAL_ORCH__SECOND 1000000000LL

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
};

/* The value at a path of object keys ending with NULL: get(j, "Spec", "Name", NULL). */
json_t *shoal_orch__get(const json_t *j, ...) __attribute__((sentinel));
const char *shoal_orch__str(const json_t *j, ...) __attribute__((sentinel));
int64_t shoal_orch__int(const json_t *j, ...) __attribute__((sentinel));

/* A task's observed (Status.State) and desired state; unknown strings read as NEW. */
enum shoal_task_state shoal_orch__observed(const json_t *task);
enum shoal_task_state shoal_orch__desired(const json_t *task);

/* The task as this pass sees it: its working copy if the pass changed it, else the store's. */
const json_t *shoal_orch__view(const struct shoal_orch__pass *p, const struct shoal_store_obj *t);

/* A working copy to change, queued as an update in the service's change set. */
json_t *shoal_orch__mut(struct shoal_orch__pass *p, const struct shoal_store_obj *t);

/* True when the pass already changed or deleted the task. */
bool shoal_orch__touched(const struct shoal_orch__pass *p, const char *id);

/* Sets Status.State/Message (and Timestamp = now, Err dropped) on a working copy. */
void shoal_orch__set_status(struct shoal_orch__pass *p, json_t *task, enum shoal_task_state st,
			    const char *msg);

/* The node table: loads every node with the reservations, counts and host ports of the tasks
 * the store says run there. */
void shoal_orch__nodes_load(struct shoal_orch__pass *p);
void shoal_orch__nodes_free(struct shoal_orch__pass *p);

/* The node with this ID in the pass's table, or NULL. */
struct shoal_orch__node *shoal_orch__node(const struct shoal_orch__pass *p, const char *id);

/* The scheduler's step for one service: its pending tasks (among tasks, n of them, the store's)
 * get a node or an explanation. */
void shoal_orch__schedule(struct shoal_orch__pass *p, const struct shoal_store_obj *svc,
			  struct shoal_store_obj **tasks, size_t n);

#endif
