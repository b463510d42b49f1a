/* Cluster objects in memory, rebuilt from the raft log. Loop thread only.
 * Lookups return borrowed pointers, valid until control returns to the loop.
 *
 * The store owns every cluster object (cluster, node, service, task, network) as jansson JSON
 * in Engine API form, with ID, Version{Index}, CreatedAt and UpdatedAt kept up to date here.
 * Tables are indexed by ID; services and networks by (case-insensitive, unique) Spec.Name;
 * nodes by Description.Hostname; tasks by ServiceID and NodeID.
 *
 * The only way to write is a change set (struct shoal_store_tx), encoded to bytes that the raft
 * layer carries as an entry and hands back to shoal_store_apply() at its index. A change set
 * applies whole or not at all. Watchers are told of every change after a set is applied.
 * Proposing, persisting and replicating are left to src/raft. */
#ifndef SHOAL_STORE_H
#define SHOAL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"
#include "base/list.h"

/* IDs as swarmkit makes them: 128 random bits in base36, zero-padded to 25 characters. */
#define SHOAL_STORE_ID_LEN 25

enum shoal_store_table {
	SHOAL_STORE_CLUSTER,
	SHOAL_STORE_NODE,
	SHOAL_STORE_SERVICE,
	SHOAL_STORE_TASK,
	SHOAL_STORE_NETWORK,
	SHOAL_STORE_NTABLES,
};

/* Bit for a table in a watch filter. */
#define SHOAL_STORE_TABLE_BIT(t) (1u << (t))
#define SHOAL_STORE_ALL_TABLES	 ((1u << SHOAL_STORE_NTABLES) - 1)

/* swarmkit's task states (api/types.proto TaskState); the numeric order is the lamport order
 * an observed state only ever moves forward in. Everyone who reads or writes a task's
 * Status.State or DesiredState uses these. */
enum shoal_task_state {
	SHOAL_TASK_NEW = 0,
	SHOAL_TASK_PENDING = 64,
	SHOAL_TASK_ASSIGNED = 192,
	SHOAL_TASK_ACCEPTED = 256,
	SHOAL_TASK_PREPARING = 320,
	SHOAL_TASK_READY = 384,
	SHOAL_TASK_STARTING = 448,
	SHOAL_TASK_RUNNING = 512,
	SHOAL_TASK_COMPLETE = 576,
	SHOAL_TASK_SHUTDOWN = 640,
	SHOAL_TASK_FAILED = 704,
	SHOAL_TASK_REJECTED = 768,
	SHOAL_TASK_REMOVE = 800,
	SHOAL_TASK_ORPHANED = 832,
};

/* The state named as the Engine API spells it ("running"); 0 and *out set, or -1. */
int shoal_task_state_parse(const char *name, enum shoal_task_state *out);

/* The Engine API name of a state ("running"), or NULL if st is not one. */
const char *shoal_task_state_name(enum shoal_task_state st);

struct shoal_store_obj {
	char id[SHOAL_STORE_ID_LEN + 1];
	enum shoal_store_table table;
	json_t *json;	  /* the object as the API shows it; owned by the store, never modify */
	uint64_t version; /* == Version.Index: the raft index of the last write */

	/* Private to the store: secondary index keys and links. */
	char *name_key;
	char *key[2];
	struct shoal_list link[2];
};

struct shoal_store;

/* Where the store reads time for CreatedAt/UpdatedAt; tests pass a fixed clock. */
struct shoal_store_clock {
	int64_t (*now_ns)(void *data); /* nanoseconds since the Unix epoch */
	void *data;
};

/* A new empty store. clock is borrowed and must outlive the store; NULL means the real
 * clock (shoal_time_now_ns). */
struct shoal_store *shoal_store_new(const struct shoal_store_clock *clock);

/* Frees the store, its objects and its watches. NULL is a no-op. */
void shoal_store_free(struct shoal_store *s);

/* The table's name in change sets and snapshots ("service"), or NULL if out of range. */
const char *shoal_store_table_name(enum shoal_store_table t);

/* Writes a new random ID (SHOAL_STORE_ID_LEN lower-case base36 characters and a NUL) into id. */
void shoal_store_new_id(char id[SHOAL_STORE_ID_LEN + 1]);

/* The raft index of the last applied change set (0 for a new store). */
uint64_t shoal_store_index(const struct shoal_store *s);

/* Number of objects in a table. */
size_t shoal_store_count(const struct shoal_store *s, enum shoal_store_table t);

/* The object with exactly this ID, or NULL. */
struct shoal_store_obj *shoal_store_get(const struct shoal_store *s, enum shoal_store_table t,
					const char *id);

/* The service or network with this Spec.Name (case-insensitive), or NULL. Other tables have
 * no unique name and always give NULL. */
struct shoal_store_obj *shoal_store_get_by_name(const struct shoal_store *s,
						enum shoal_store_table t, const char *name);

/* Resolves what a user typed as Docker does (moby daemon/cluster/helpers.go): exact ID, then
 * exact name (node: hostname; tasks have none), then unique ID prefix. Sets *out on success.
 * None: 404 "service x not found"; several: 400 "service x is ambiguous (n matches found)". */
SHOAL_MUST_CHECK int shoal_store_find(const struct shoal_store *s, enum shoal_store_table t,
				      const char *ref, struct shoal_store_obj **out,
				      struct shoal_err *err);

/* The lists below return a new array of *n borrowed pointers sorted by ID, NULL-terminated;
 * the caller frees the array (not the objects) with free(). */
struct shoal_store_obj **shoal_store_list(const struct shoal_store *s, enum shoal_store_table t,
					  size_t *n);
struct shoal_store_obj **shoal_store_tasks_by_service(const struct shoal_store *s,
						      const char *service_id, size_t *n);
struct shoal_store_obj **shoal_store_tasks_by_node(const struct shoal_store *s, const char *node_id,
						   size_t *n);
struct shoal_store_obj **shoal_store_nodes_by_hostname(const struct shoal_store *s,
						       const char *hostname, size_t *n);

/*
 * Change sets. Encoded as a JSON array of operations:
 *   {"op":"create","table":"service","object":{...}}
 *   {"op":"update","table":"service","object":{...},"version":N}
 *   {"op":"delete","table":"service","id":"..."}
 */
struct shoal_store_tx;

struct shoal_store_tx *shoal_store_tx_new(void);

/* NULL is a no-op. */
void shoal_store_tx_free(struct shoal_store_tx *tx);

/* Number of operations queued. */
size_t shoal_store_tx_len(const struct shoal_store_tx *tx);

/* Queues the creation of obj (a JSON object), taking ownership of the reference. If obj has no
 * "ID", a new one is set in it (IDs are chosen by the proposer, so every replica agrees).
 * Returns the object's ID, borrowed from obj, valid while tx lives. Version, CreatedAt and
 * UpdatedAt are set by shoal_store_apply(). */
const char *shoal_store_tx_create(struct shoal_store_tx *tx, enum shoal_store_table t, json_t *obj);

/* Queues the replacement of the object with obj's "ID" by obj (the whole object), taking
 * ownership of the reference. version is the Version.Index the caller read; if the store holds
 * another, the whole change set fails with "update out of sequence". */
void shoal_store_tx_update(struct shoal_store_tx *tx, enum shoal_store_table t, json_t *obj,
			   uint64_t version);

/* Queues the deletion of the object with this ID. */
void shoal_store_tx_delete(struct shoal_store_tx *tx, enum shoal_store_table t, const char *id);

/* The change set as bytes for a raft entry: a new string (NUL-terminated, *len bytes without
 * the NUL), freed by the caller with free(). */
char *shoal_store_tx_encode(const struct shoal_store_tx *tx, size_t *len);

/* Applies an encoded change set at raft index `index` (greater than shoal_store_index()):
 * every object written gets Version.Index = index and UpdatedAt = now (and CreatedAt = now on
 * create; an update keeps the old CreatedAt and ID). All or nothing: on failure no object
 * changes and no watcher is told. Either way the index counts as applied, because the raft
 * entry is consumed. Errors, Docker's texts:
 *   500 "rpc error: code = Unknown desc = update out of sequence" (stale version),
 *   409 "rpc error: code = AlreadyExists desc = name conflicts with an existing object:
 *        service x already exists" (also for networks),
 *   404 "service x not found" (update/delete of a missing object),
 *   500 "rpc error: code = Unknown desc = object already exists" (create of an existing ID),
 *   500 "invalid change set: ..." (malformed bytes).
 * Must not be called from a watch callback. */
SHOAL_MUST_CHECK int shoal_store_apply(struct shoal_store *s, const void *buf, size_t len,
				       uint64_t index, struct shoal_err *err);

/*
 * Watch.
 */
enum shoal_store_event_kind {
	SHOAL_STORE_CREATE,
	SHOAL_STORE_UPDATE,
	SHOAL_STORE_DELETE,
	SHOAL_STORE_RESET, /* the store was restored from a snapshot: re-read everything */
};

#define SHOAL_STORE_KIND_BIT(k) (1u << (k))
#define SHOAL_STORE_ALL_KINDS	((1u << (SHOAL_STORE_RESET + 1)) - 1)

/* One change. Everything is borrowed for the duration of the callback. For RESET, table is
 * SHOAL_STORE_NTABLES and id, old and new are NULL; it reaches every watcher whose kind filter
 * allows it, whatever its table filter. */
struct shoal_store_event {
	enum shoal_store_event_kind kind;
	enum shoal_store_table table;
	uint64_t index;	   /* the raft index of the change set */
	const char *id;	   /* the object's ID */
	const json_t *old; /* before (UPDATE, DELETE), else NULL */
	const json_t *new; /* after (CREATE, UPDATE), else NULL */
};

typedef void (*shoal_store_watch_cb)(const struct shoal_store_event *ev, void *data);

struct shoal_store_watch;

/* Calls cb, in order, for each change of an applied change set whose table is in tables
 * (SHOAL_STORE_TABLE_BIT mask) and kind in kinds (SHOAL_STORE_KIND_BIT mask). A watch added
 * from a callback sees changes from the next change set on. The store owns the watch. */
struct shoal_store_watch *shoal_store_watch_add(struct shoal_store *s, unsigned tables,
						unsigned kinds, shoal_store_watch_cb cb,
						void *data);

/* Stops and frees a watch. Safe from inside any watch callback (the free is deferred). */
void shoal_store_watch_remove(struct shoal_store *s, struct shoal_store_watch *w);

/*
 * Snapshot and restore (the raft FSM's).
 */

/* All tables and the last applied index as bytes: a new string (NUL-terminated, *len without
 * the NUL), freed by the caller with free(). Objects are in ID order, so two stores holding the
 * same objects give the same bytes. */
char *shoal_store_snapshot(const struct shoal_store *s, size_t *len);

/* Replaces the whole content of the store with a snapshot's, then tells watchers RESET. On
 * failure (400 "invalid snapshot: ...") the store is unchanged. Must not be called from a watch
 * callback. */
SHOAL_MUST_CHECK int shoal_store_restore(struct shoal_store *s, const void *buf, size_t len,
					 struct shoal_err *err);

#endif
