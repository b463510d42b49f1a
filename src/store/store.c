/* The store proper: tables and indexes, lookups, applying change sets atomically, watch,
 * snapshot and restore. Building change sets is tx.c's; hash maps are hmap.c's. Nothing here
 * does I/O: raft hands entries in and takes snapshots out. */
#include "store/store.h"

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/mem.h"
#include "store/internal.h"

/* Secondary (non-unique) indexes, each a map from key to a struct bucket. */
enum {
	MI_TASK_SERVICE,
	MI_TASK_NODE,
	MI_NODE_HOST,
	NMULTI,
};

struct bucket {
	struct shoal_list head;
};

/* Everything restore replaces in one swap. */
struct db {
	struct shoal_store__hmap ids[SHOAL_STORE_NTABLES];
	struct shoal_store__hmap names[SHOAL_STORE_NTABLES]; /* lower-cased Spec.Name -> obj */
	struct shoal_store__hmap multi[NMULTI];
	uint64_t index;
};

struct shoal_store_watch {
	struct shoal_list link;
	unsigned tables, kinds;
	shoal_store_watch_cb cb;
	void *data;
	uint64_t seq; /* the delivery round it was added in: it sees later rounds only */
	bool dead;
};

struct shoal_store {
	struct db *db;
	const struct shoal_store_clock *clock;
	struct shoal_list watches;
	uint64_t seq; /* delivery rounds so far */
	bool notifying;
};

struct change {
	enum shoal_store_event_kind kind;
	struct shoal_store_obj *old, *new;
};

static const char *const table_names[SHOAL_STORE_NTABLES] = {
	[SHOAL_STORE_CLUSTER] = "cluster", [SHOAL_STORE_NODE] = "node",
	[SHOAL_STORE_SERVICE] = "service", [SHOAL_STORE_TASK] = "task",
	[SHOAL_STORE_NETWORK] = "network",
};

const char *shoal_store_table_name(enum shoal_store_table t)
{
	if ((unsigned)t >= SHOAL_STORE_NTABLES)
		return NULL;
	return table_names[t];
}

static int table_from_name(const char *name)
{
	int t;

	for (t = 0; name && t < SHOAL_STORE_NTABLES; t++)
		if (strcmp(name, table_names[t]) == 0)
			return t;
	return -1;
}

static bool has_unique_name(enum shoal_store_table t)
{
	return t == SHOAL_STORE_SERVICE || t == SHOAL_STORE_NETWORK;
}

static const char *str_at(const json_t *j, const char *k1, const char *k2)
{
	j = json_object_get(j, k1);
	if (k2)
		j = json_object_get(j, k2);
	return json_string_value(j);
}

/* The key an object is indexed under in its slot'th secondary index, or NULL. */
static const char *slot_key(const struct shoal_store_obj *o, int slot, int *mi)
{
	if (o->table == SHOAL_STORE_TASK) {
		*mi = slot == 0 ? MI_TASK_SERVICE : MI_TASK_NODE;
		return str_at(o->json, slot == 0 ? "ServiceID" : "NodeID", NULL);
	}
	if (o->table == SHOAL_STORE_NODE && slot == 0) {
		*mi = MI_NODE_HOST;
		return str_at(o->json, "Description", "Hostname");
	}
	return NULL;
}

static struct shoal_store_obj *slot_obj(struct shoal_list *l, int slot)
{
	return (struct shoal_store_obj *)((char *)l - offsetof(struct shoal_store_obj, link) -
					  (size_t)slot * sizeof(struct shoal_list));
}

static char *lower(const char *s)
{
	char *l = shoal_strdup(s), *p;

	for (p = l; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return l;
}

static struct shoal_store_obj *obj_new(enum shoal_store_table t, const char *id, json_t *json)
{
	struct shoal_store_obj *o = shoal_calloc(1, sizeof(*o));

	snprintf(o->id, sizeof(o->id), "%s", id);
	o->table = t;
	o->json = json;
	o->version = (uint64_t)json_integer_value(
		json_object_get(json_object_get(json, "Version"), "Index"));
	shoal_list_init(&o->link[0]);
	shoal_list_init(&o->link[1]);
	return o;
}

static void obj_free(void *p)
{
	struct shoal_store_obj *o = p;

	if (o == NULL)
		return;
	json_decref(o->json);
	free(o->name_key);
	free(o->key[0]);
	free(o->key[1]);
	free(o);
}

/* Puts o into every index of db; fails with 409 on a name conflict, leaving db unchanged. */
static int db_link(struct db *db, struct shoal_store_obj *o, struct shoal_err *err)
{
	struct bucket *b;
	const char *name, *key;
	char *k;
	int slot, mi;

	assert(shoal_store__hmap_get(&db->ids[o->table], o->id) == NULL);
	name = has_unique_name(o->table) ? str_at(o->json, "Spec", "Name") : NULL;
	if (name && *name) {
		k = lower(name);
		if (shoal_store__hmap_get(&db->names[o->table], k)) {
			free(k);
			return shoal_errorf(
				err, 409,
				"rpc error: code = AlreadyExists desc = name conflicts with an existing object: %s %s already exists",
				table_names[o->table], name);
		}
		shoal_store__hmap_put(&db->names[o->table], k, o);
		o->name_key = k;
	}
	shoal_store__hmap_put(&db->ids[o->table], o->id, o);
	for (slot = 0; slot < 2; slot++) {
		key = slot_key(o, slot, &mi);
		if (key == NULL || *key == '\0')
			continue;
		b = shoal_store__hmap_get(&db->multi[mi], key);
		if (b == NULL) {
			b = shoal_malloc(sizeof(*b));
			shoal_list_init(&b->head);
			shoal_store__hmap_put(&db->multi[mi], key, b);
		}
		shoal_list_add_tail(&b->head, &o->link[slot]);
		o->key[slot] = shoal_strdup(key);
	}
	return 0;
}

static void db_unlink(struct db *db, struct shoal_store_obj *o)
{
	struct bucket *b;
	int slot, mi;

	if (o->name_key) {
		shoal_store__hmap_del(&db->names[o->table], o->name_key);
		free(o->name_key);
		o->name_key = NULL;
	}
	shoal_store__hmap_del(&db->ids[o->table], o->id);
	for (slot = 0; slot < 2; slot++) {
		if (o->key[slot] == NULL)
			continue;
		slot_key(o, slot, &mi);
		shoal_list_del(&o->link[slot]);
		b = shoal_store__hmap_get(&db->multi[mi], o->key[slot]);
		if (shoal_list_empty(&b->head))
			free(shoal_store__hmap_del(&db->multi[mi], o->key[slot]));
		free(o->key[slot]);
		o->key[slot] = NULL;
	}
}

static struct db *db_new(void)
{
	struct db *db = shoal_calloc(1, sizeof(*db));
	int i;

	for (i = 0; i < SHOAL_STORE_NTABLES; i++) {
		shoal_store__hmap_init(&db->ids[i]);
		shoal_store__hmap_init(&db->names[i]);
	}
	for (i = 0; i < NMULTI; i++)
		shoal_store__hmap_init(&db->multi[i]);
	return db;
}

static void db_free(struct db *db)
{
	int i;

	if (db == NULL)
		return;
	for (i = 0; i < SHOAL_STORE_NTABLES; i++) {
		shoal_store__hmap_fini(&db->names[i], NULL);
		shoal_store__hmap_fini(&db->ids[i], obj_free);
	}
	for (i = 0; i < NMULTI; i++)
		shoal_store__hmap_fini(&db->multi[i], free);
	free(db);
}

struct shoal_store *shoal_store_new(const struct shoal_store_clock *clock)
{
	struct shoal_store *s = shoal_calloc(1, sizeof(*s));

	s->db = db_new();
	s->clock = clock;
	shoal_list_init(&s->watches);
	return s;
}

void shoal_store_free(struct shoal_store *s)
{
	struct shoal_list *pos, *tmp;

	if (s == NULL)
		return;
	assert(!s->notifying);
	shoal_list_foreach_safe(pos, tmp, &s->watches) {
		free(shoal_list_entry(pos, struct shoal_store_watch, link));
	}
	db_free(s->db);
	free(s);
}

uint64_t shoal_store_index(const struct shoal_store *s)
{
	return s->db->index;
}

size_t shoal_store_count(const struct shoal_store *s, enum shoal_store_table t)
{
	assert((unsigned)t < SHOAL_STORE_NTABLES);
	return s->db->ids[t].n;
}

struct shoal_store_obj *shoal_store_get(const struct shoal_store *s, enum shoal_store_table t,
					const char *id)
{
	assert((unsigned)t < SHOAL_STORE_NTABLES);
	return shoal_store__hmap_get(&s->db->ids[t], id);
}

struct shoal_store_obj *shoal_store_get_by_name(const struct shoal_store *s,
						enum shoal_store_table t, const char *name)
{
	struct shoal_store_obj *o;
	char *k;

	if (!has_unique_name(t))
		return NULL;
	k = lower(name);
	o = shoal_store__hmap_get(&s->db->names[t], k);
	free(k);
	return o;
}

static int cmp_id(const void *a, const void *b)
{
	const struct shoal_store_obj *const *x = a, *const *y = b;

	return strcmp((*x)->id, (*y)->id);
}

struct shoal_store_obj **shoal_store_list(const struct shoal_store *s, enum shoal_store_table t,
					  size_t *n)
{
	struct shoal_store_obj **v;

	assert((unsigned)t < SHOAL_STORE_NTABLES);
	v = (struct shoal_store_obj **)shoal_store__hmap_values(&s->db->ids[t]);
	*n = s->db->ids[t].n;
	qsort(v, *n, sizeof(*v), cmp_id);
	return v;
}

static struct shoal_store_obj **list_multi(const struct shoal_store *s, int mi, int slot,
					   const char *key, size_t *n)
{
	struct bucket *b = shoal_store__hmap_get(&s->db->multi[mi], key);
	struct shoal_store_obj **v;
	struct shoal_list *pos;
	size_t i = 0;

	*n = 0;
	if (b)
		shoal_list_foreach(pos, &b->head)
			(*n)++;
	v = shoal_calloc(*n + 1, sizeof(*v));
	if (b)
		shoal_list_foreach(pos, &b->head)
			v[i++] = slot_obj(pos, slot);
	qsort(v, *n, sizeof(*v), cmp_id);
	return v;
}

struct shoal_store_obj **shoal_store_tasks_by_service(const struct shoal_store *s,
						      const char *service_id, size_t *n)
{
	return list_multi(s, MI_TASK_SERVICE, 0, service_id, n);
}

struct shoal_store_obj **shoal_store_tasks_by_node(const struct shoal_store *s, const char *node_id,
						   size_t *n)
{
	return list_multi(s, MI_TASK_NODE, 1, node_id, n);
}

struct shoal_store_obj **shoal_store_nodes_by_hostname(const struct shoal_store *s,
						       const char *hostname, size_t *n)
{
	return list_multi(s, MI_NODE_HOST, 0, hostname, n);
}

static int ambiguous(struct shoal_err *err, enum shoal_store_table t, const char *ref, size_t n)
{
	return shoal_errorf(err, 400, "%s %s is ambiguous (%zu matches found)", table_names[t], ref,
			    n);
}

int shoal_store_find(const struct shoal_store *s, enum shoal_store_table t, const char *ref,
		     struct shoal_store_obj **out, struct shoal_err *err)
{
	struct shoal_store_obj **v = NULL, *o = NULL;
	size_t n = 0, i, len = strlen(ref);
	int rv = -1;

	assert((unsigned)t < SHOAL_STORE_NTABLES);
	if (len == 0)
		goto not_found;
	o = shoal_store_get(s, t, ref);
	if (o)
		goto found;
	o = shoal_store_get_by_name(s, t, ref);
	if (o)
		goto found;
	if (t == SHOAL_STORE_NODE) {
		v = shoal_store_nodes_by_hostname(s, ref, &n);
		if (n == 1) {
			o = v[0];
			goto found;
		}
		if (n > 1) {
			ambiguous(err, t, ref, n);
			goto out;
		}
		free(v);
	}
	v = shoal_store_list(s, t, &n);
	for (i = 0; i < n; i++) {
		if (strncmp(v[i]->id, ref, len) != 0)
			continue;
		if (o) {
			size_t matches = 2;

			while (++i < n)
				matches += strncmp(v[i]->id, ref, len) == 0;
			ambiguous(err, t, ref, matches);
			goto out;
		}
		o = v[i];
	}
	if (o)
		goto found;
not_found:
	shoal_errorf(err, 404, "%s %s not found", table_names[t], ref);
	goto out;
found:
	*out = o;
	rv = 0;
out:
	free(v);
	return rv;
}

/*
 * Applying change sets.
 */

static int bad_set(struct shoal_err *err, const char *why)
{
	return shoal_errorf(err, 500, "invalid change set: %s", why);
}

/* A new object: ID, Version, CreatedAt, UpdatedAt first (the API's order), then the rest of
 * obj's members, which are shared, not copied. */
static json_t *stamp(json_t *obj, const char *id, uint64_t index, const char *created,
		     const char *updated)
{
	json_t *out, *v;
	const char *k;

	out = json_pack("{s:s, s:{s:I}, s:s, s:s}", "ID", id, "Version", "Index", (json_int_t)index,
			"CreatedAt", created, "UpdatedAt", updated);
	assert(out != NULL);
	json_object_foreach(obj, k, v) {
		if (strcmp(k, "ID") && strcmp(k, "Version") && strcmp(k, "CreatedAt") &&
		    strcmp(k, "UpdatedAt"))
			json_object_set(out, k, v);
	}
	return out;
}

static bool valid_id(const char *id)
{
	size_t i, len = id ? strlen(id) : 0;

	if (len == 0 || len > SHOAL_STORE_ID_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)id[i]))
			return false;
	return true;
}

static int apply_op(struct db *db, json_t *op, uint64_t index, const char *now, struct change *c,
		    struct shoal_err *err)
{
	const char *name = str_at(op, "op", NULL), *id, *created;
	int t = table_from_name(str_at(op, "table", NULL));
	json_t *obj = json_object_get(op, "object"), *ver;
	struct shoal_store_obj *old = NULL, *nw;
	struct shoal_err scratch;

	if (name == NULL || t < 0)
		return bad_set(err, "bad operation");
	if (strcmp(name, "delete") == 0) {
		id = str_at(op, "id", NULL);
		if (id == NULL)
			return bad_set(err, "delete without id");
	} else if (strcmp(name, "create") == 0 || strcmp(name, "update") == 0) {
		id = str_at(obj, "ID", NULL);
		if (!json_is_object(obj) || !valid_id(id))
			return bad_set(err, "object without a valid ID");
	} else {
		return bad_set(err, "bad operation");
	}
	if (strcmp(name, "create") != 0) {
		old = shoal_store__hmap_get(&db->ids[t], id);
		if (old == NULL)
			return shoal_errorf(err, 404, "%s %s not found", table_names[t], id);
	}

	if (strcmp(name, "create") == 0) {
		/* swarmkit's ErrExist reaches the client as a raw gRPC error. */
		if (shoal_store__hmap_get(&db->ids[t], id))
			return shoal_errorf(
				err, 500, "rpc error: code = Unknown desc = object already exists");
		nw = obj_new(t, id, stamp(obj, id, index, now, now));
		if (db_link(db, nw, err) < 0) {
			obj_free(nw);
			return -1;
		}
		*c = (struct change){ SHOAL_STORE_CREATE, NULL, nw };
	} else if (strcmp(name, "update") == 0) {
		ver = json_object_get(op, "version");
		if (!json_is_integer(ver) || json_integer_value(ver) < 0)
			return bad_set(err, "update without a version");
		if ((uint64_t)json_integer_value(ver) != old->version)
			return shoal_errorf(
				err, 500,
				"rpc error: code = Unknown desc = update out of sequence");
		created = str_at(old->json, "CreatedAt", NULL);
		nw = obj_new(t, id, stamp(obj, id, index, created ? created : now, now));
		db_unlink(db, old);
		if (db_link(db, nw, err) < 0) {
			obj_free(nw);
			/* Puts back exactly what was there, so it cannot conflict. */
			if (db_link(db, old, &scratch) < 0)
				assert(!"relinking an unlinked object failed");
			return -1;
		}
		*c = (struct change){ SHOAL_STORE_UPDATE, old, nw };
	} else {
		db_unlink(db, old);
		*c = (struct change){ SHOAL_STORE_DELETE, old, NULL };
	}
	return 0;
}

static void undo(struct db *db, struct change *c)
{
	struct shoal_err scratch;

	if (c->new) {
		db_unlink(db, c->new);
		obj_free(c->new);
	}
	if (c->old && db_link(db, c->old, &scratch) < 0)
		assert(!"relinking an unlinked object failed");
}

static void notify(struct shoal_store *s, const struct shoal_store_event *evs, size_t n)
{
	struct shoal_list *pos, *tmp;
	struct shoal_store_watch *w;
	size_t i;

	s->notifying = true;
	s->seq++;
	for (i = 0; i < n; i++) {
		shoal_list_foreach(pos, &s->watches) {
			w = shoal_list_entry(pos, struct shoal_store_watch, link);
			if (w->dead || w->seq >= s->seq)
				continue;
			if (!(w->kinds & SHOAL_STORE_KIND_BIT(evs[i].kind)))
				continue;
			if (evs[i].kind != SHOAL_STORE_RESET &&
			    !(w->tables & SHOAL_STORE_TABLE_BIT(evs[i].table)))
				continue;
			w->cb(&evs[i], w->data);
		}
	}
	s->notifying = false;
	/* Removals from callbacks were deferred until no iteration could hold the watch. */
	shoal_list_foreach_safe(pos, tmp, &s->watches) {
		w = shoal_list_entry(pos, struct shoal_store_watch, link);
		if (w->dead) {
			shoal_list_del(&w->link);
			free(w);
		}
	}
}

int shoal_store_apply(struct shoal_store *s, const void *buf, size_t len, uint64_t index,
		      struct shoal_err *err)
{
	int64_t ns = s->clock ? s->clock->now_ns(s->clock->data) : shoal_time_now_ns();
	struct shoal_store_event *evs = NULL;
	struct change *ch = NULL;
	json_t *root = NULL, *op;
	json_error_t jerr;
	size_t n = 0, i;
	char now[64];
	int rv = -1;

	assert(!s->notifying);
	if (index <= s->db->index)
		return shoal_errorf(err, 500, "change set at index %" PRIu64 " after %" PRIu64,
				    index, s->db->index);
	root = json_loadb(buf, len, 0, &jerr);
	if (!json_is_array(root)) {
		bad_set(err, root ? "not an array" : jerr.text);
		goto out;
	}
	shoal_time_format_go(ns, now, sizeof(now));
	ch = shoal_calloc(json_array_size(root) + 1, sizeof(*ch));
	json_array_foreach(root, i, op) {
		if (apply_op(s->db, op, index, now, &ch[n], err) < 0)
			goto rollback;
		n++;
	}

	evs = shoal_calloc(n + 1, sizeof(*evs));
	for (i = 0; i < n; i++) {
		struct shoal_store_obj *o = ch[i].new ? ch[i].new : ch[i].old;

		evs[i] = (struct shoal_store_event){
			.kind = ch[i].kind,
			.table = o->table,
			.index = index,
			.id = o->id,
			.old = ch[i].old ? ch[i].old->json : NULL,
			.new = ch[i].new ? ch[i].new->json : NULL,
		};
	}
	s->db->index = index;
	notify(s, evs, n);
	for (i = 0; i < n; i++)
		obj_free(ch[i].old);
	rv = 0;
	goto out;
rollback:
	while (n > 0)
		undo(s->db, &ch[--n]);
out:
	/* The raft entry is consumed whether or not its change set applied. */
	s->db->index = index;
	free(evs);
	free(ch);
	json_decref(root);
	return rv;
}

/*
 * Watch.
 */

struct shoal_store_watch *shoal_store_watch_add(struct shoal_store *s, unsigned tables,
						unsigned kinds, shoal_store_watch_cb cb, void *data)
{
	struct shoal_store_watch *w = shoal_calloc(1, sizeof(*w));

	w->tables = tables;
	w->kinds = kinds;
	w->cb = cb;
	w->data = data;
	w->seq = s->seq;
	shoal_list_add_tail(&s->watches, &w->link);
	return w;
}

void shoal_store_watch_remove(struct shoal_store *s, struct shoal_store_watch *w)
{
	if (s->notifying) {
		w->dead = true;
		return;
	}
	shoal_list_del(&w->link);
	free(w);
}

/*
 * Snapshot and restore.
 */

char *shoal_store_snapshot(const struct shoal_store *s, size_t *len)
{
	json_t *root, *tables, *arr;
	struct shoal_store_obj **v;
	size_t n, i;
	char *out;
	int t;

	tables = json_object();
	for (t = 0; t < SHOAL_STORE_NTABLES; t++) {
		arr = json_array();
		v = shoal_store_list(s, t, &n);
		for (i = 0; i < n; i++)
			json_array_append(arr, v[i]->json);
		free(v);
		json_object_set_new(tables, table_names[t], arr);
	}
	root = json_pack("{s:I, s:o}", "Index", (json_int_t)s->db->index, "Tables", tables);
	assert(root != NULL);
	out = json_dumps(root, JSON_COMPACT);
	assert(out != NULL);
	json_decref(root);
	*len = strlen(out);
	return out;
}

static int bad_snapshot(struct shoal_err *err, const char *why)
{
	return shoal_errorf(err, 400, "invalid snapshot: %s", why);
}

int shoal_store_restore(struct shoal_store *s, const void *buf, size_t len, struct shoal_err *err)
{
	struct shoal_store_event ev = { .kind = SHOAL_STORE_RESET, .table = SHOAL_STORE_NTABLES };
	json_t *root = NULL, *tables, *arr, *j, *index;
	struct shoal_store_obj *o;
	struct db *db = NULL;
	const char *tname, *id;
	json_error_t jerr;
	size_t i;
	int t, rv = -1;

	assert(!s->notifying);
	root = json_loadb(buf, len, 0, &jerr);
	if (root == NULL) {
		bad_snapshot(err, jerr.text);
		goto out;
	}
	index = json_object_get(root, "Index");
	tables = json_object_get(root, "Tables");
	if (!json_is_integer(index) || json_integer_value(index) < 0 || !json_is_object(tables)) {
		bad_snapshot(err, "no Index or Tables");
		goto out;
	}
	db = db_new();
	db->index = (uint64_t)json_integer_value(index);
	json_object_foreach(tables, tname, arr) {
		t = table_from_name(tname);
		if (t < 0 || !json_is_array(arr)) {
			shoal_errorf(err, 400, "invalid snapshot: bad table %s", tname);
			goto out;
		}
		json_array_foreach(arr, i, j) {
			id = str_at(j, "ID", NULL);
			if (!json_is_object(j) || !valid_id(id) ||
			    shoal_store__hmap_get(&db->ids[t], id)) {
				bad_snapshot(err, "object without a valid, unique ID");
				goto out;
			}
			o = obj_new(t, id, json_incref(j));
			if (db_link(db, o, err) < 0) {
				obj_free(o);
				shoal_err_wrap(err, "invalid snapshot");
				err->status = 400;
				goto out;
			}
		}
	}
	db_free(s->db);
	s->db = db;
	db = NULL;
	ev.index = s->db->index;
	notify(s, &ev, 1);
	rv = 0;
out:
	db_free(db);
	json_decref(root);
	return rv;
}
