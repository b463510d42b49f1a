/* The reconciliation loop's test fixture, shared by test_manager_orchestrator.c and
 * test_manager_scheduler.c: a real store on a stepped clock, an orchestrator whose wake is a
 * recorded deadline, and a propose that applies change sets to the store at once and answers
 * on the next step (or holds, refuses or fails them on demand). Helpers play the API layer
 * (services), the dispatcher (nodes, task reports) and check what users would see.
 * FX_DEBUG=1 in the environment prints every proposal and report. */
#ifndef SHOAL_TESTS_ORCH_FIXTURE_H
#define SHOAL_TESTS_ORCH_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/clock.h"
#include "base/log.h"
#include "manager/orchestrator.h"
#include "store/store.h"

#define FX __attribute__((unused)) static

#define SEC   1000000000LL
#define MS    1000000LL
#define T0    1790000000000000000LL
#define NEVER SHOAL_ORCH_NEVER

struct fx_prop {
	shoal_orch_done_cb cb;
	void *ctx;
	char *buf; /* held: not applied yet */
	size_t len;
	struct shoal_err err;
	bool failed;
};

struct fx {
	struct shoal_store *s;
	struct shoal_store_clock clock;
	int64_t now;
	uint64_t index;
	struct shoal_orch *o;
	int64_t wake_at;

	struct fx_prop q[512];
	size_t nq;
	unsigned proposals, passes_proposed;
	int fail_sync;	/* the next N proposals fail before proposing (e.g. not leader) */
	int fail_async; /* the next N proposals are refused as out of sequence */
	bool hold;	/* proposals wait for fx_release */
	void (*race)(struct fx *f); /* runs just before the next proposal applies */
	char race_task[SHOAL_STORE_ID_LEN + 1];

	char node[8][SHOAL_STORE_ID_LEN + 1];
	char cluster[SHOAL_STORE_ID_LEN + 1];
};

static int64_t fx_now(void *data)
{
	return ((struct fx *)data)->now;
}

static void fx_wake(void *data, int64_t at)
{
	((struct fx *)data)->wake_at = at;
}

static int fx_propose(void *data, const struct shoal_store_tx *tx, shoal_orch_done_cb cb, void *ctx,
		      struct shoal_err *err)
{
	struct fx *f = data;
	struct fx_prop *p;

	f->proposals++;
	if (f->fail_sync > 0) {
		f->fail_sync--;
		return shoal_errorf(err, 503, "not the leader");
	}
	assert_true(f->nq < 512);
	p = &f->q[f->nq++];
	memset(p, 0, sizeof(*p));
	p->cb = cb;
	p->ctx = ctx;
	p->buf = shoal_store_tx_encode(tx, &p->len);
	if (getenv("FX_DEBUG"))
		fprintf(stderr, "propose %u: %s\n", f->proposals, p->buf);
	if (f->hold)
		return 0;
	if (f->fail_async > 0) {
		f->fail_async--;
		p->failed = true;
		shoal_errorf(&p->err, 500,
			     "rpc error: code = Unknown desc = update out of sequence");
	} else {
		if (f->race != NULL) {
			void (*race)(struct fx *) = f->race;

			f->race = NULL;
			race(f);
		}
		p->failed = shoal_store_apply(f->s, p->buf, p->len, ++f->index, &p->err) < 0;
	}
	free(p->buf);
	p->buf = NULL;
	return 0;
}

/* Answers queued proposals and runs due wakes until nothing is left at this time. */
FX void fx_run(struct fx *f)
{
	struct fx_prop p;
	int i;

	for (i = 0;; i++) {
		assert_true(i < 100000); /* it must converge */
		if (f->nq > 0 && f->q[0].buf == NULL) {
			p = f->q[0];
			memmove(&f->q[0], &f->q[1], (f->nq - 1) * sizeof(f->q[0]));
			f->nq--;
			p.cb(p.ctx, p.failed ? &p.err : NULL);
			continue;
		}
		if (f->o != NULL && f->wake_at != NEVER && f->wake_at <= f->now) {
			f->wake_at = NEVER;
			shoal_orch_run(f->o);
			continue;
		}
		break;
	}
}

/* Applies the held proposals in order (raft committing them) and nothing else. */
FX void fx_commit(struct fx *f)
{
	size_t i;

	for (i = 0; i < f->nq; i++) {
		if (f->q[i].buf == NULL)
			continue;
		f->q[i].failed = shoal_store_apply(f->s, f->q[i].buf, f->q[i].len, ++f->index,
						   &f->q[i].err) < 0;
		free(f->q[i].buf);
		f->q[i].buf = NULL;
	}
}

/* Stops holding: commits what was held, then runs. */
FX void fx_release(struct fx *f)
{
	f->hold = false;
	fx_commit(f);
	fx_run(f);
}

/* Steps the clock by ns, firing each wake at its time on the way. */
FX void fx_advance(struct fx *f, int64_t ns)
{
	int64_t end = f->now + ns;

	fx_run(f);
	while (f->wake_at != NEVER && f->wake_at <= end) {
		if (f->wake_at > f->now)
			f->now = f->wake_at;
		fx_run(f);
	}
	f->now = end;
	fx_run(f);
}

FX void fx_start(struct fx *f)
{
	struct shoal_orch_env env = { fx_now, fx_wake, fx_propose, f };

	f->o = shoal_orch_new(f->s, &env);
	fx_run(f);
}

FX void fx_stop(struct fx *f)
{
	shoal_orch_free(f->o);
	f->o = NULL;
	f->wake_at = NEVER;
}

/* Another writer's change set (API layer, dispatcher), applied at once. */
FX void fx_apply(struct fx *f, struct shoal_store_tx *tx)
{
	struct shoal_err err;
	size_t len;
	char *buf = shoal_store_tx_encode(tx, &len);
	int rv = shoal_store_apply(f->s, buf, len, ++f->index, &err);

	if (rv < 0)
		fail_msg("apply: %s", err.msg);
	free(buf);
	shoal_store_tx_free(tx);
}

FX const char *fx_create(struct fx *f, enum shoal_store_table t, json_t *obj, char *id_out)
{
	struct shoal_store_tx *tx = shoal_store_tx_new();
	const char *id = shoal_store_tx_create(tx, t, obj);

	snprintf(id_out, SHOAL_STORE_ID_LEN + 1, "%s", id);
	fx_apply(f, tx);
	return id_out;
}

/* A copy of an object to change and put back with fx_put. */
FX json_t *fx_copy(struct fx *f, enum shoal_store_table t, const char *id)
{
	struct shoal_store_obj *o = shoal_store_get(f->s, t, id);

	assert_non_null(o);
	return json_deep_copy(o->json);
}

FX void fx_put(struct fx *f, enum shoal_store_table t, json_t *obj)
{
	struct shoal_store_tx *tx = shoal_store_tx_new();
	uint64_t v = (uint64_t)json_integer_value(
		json_object_get(json_object_get(obj, "Version"), "Index"));

	shoal_store_tx_update(tx, t, obj, v);
	fx_apply(f, tx);
}

FX void fx_delete(struct fx *f, enum shoal_store_table t, const char *id)
{
	struct shoal_store_tx *tx = shoal_store_tx_new();

	shoal_store_tx_delete(tx, t, id);
	fx_apply(f, tx);
}

static int fx_setup_empty(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	shoal_log_set_level(SHOAL_LOG_ERROR);
	f->now = T0;
	f->wake_at = NEVER;
	f->clock.now_ns = fx_now;
	f->clock.data = f;
	f->s = shoal_store_new(&f->clock);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	size_t i;

	shoal_orch_free(f->o);
	/* what raft does on close: every proposal still out is answered */
	for (i = 0; i < f->nq; i++) {
		free(f->q[i].buf);
		shoal_errorf(&f->q[i].err, 503, "raft closed");
		f->q[i].cb(f->q[i].ctx, &f->q[i].err);
	}
	shoal_store_free(f->s);
	free(f);
	return 0;
}

/*
 * Cluster objects as the other components write them.
 */

FX void fx_cluster(struct fx *f, int history)
{
	json_t *c = json_pack("{s:{s:s, s:{}, s:{s:i}}}", "Spec", "Name", "default", "Labels",
			      "Orchestration", "TaskHistoryRetentionLimit", history);

	fx_create(f, SHOAL_STORE_CLUSTER, c, f->cluster);
}

/* A ready, active node "nodeK" (K = i + 1) with 2 CPUs and 2 GiB; node1 is the manager. */
FX const char *fx_node(struct fx *f, int i)
{
	char host[16], addr[32];
	json_t *n;

	snprintf(host, sizeof(host), "node%d", i + 1);
	snprintf(addr, sizeof(addr), "192.168.99.%d", 100 + i + 1);
	n = json_pack("{s:{s:{}, s:s, s:s}, s:{s:s, s:{s:s, s:s}, s:{s:I, s:I},"
		      " s:{s:s, s:{}, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}},"
		      " s:{s:s, s:s}}",
		      "Spec", "Labels", "Role", i == 0 ? "manager" : "worker", "Availability",
		      "active", "Description", "Hostname", host, "Platform", "Architecture",
		      "x86_64", "OS", "linux", "Resources", "NanoCPUs", (json_int_t)2000000000LL,
		      "MemoryBytes", (json_int_t)(2LL << 30), "Engine", "EngineVersion", "20.10.24",
		      "Labels", "Plugins", "Type", "Log", "Name", "json-file", "Type", "Network",
		      "Name", "overlay", "Type", "Volume", "Name", "local", "Status", "State",
		      "ready", "Addr", addr);
	if (i == 0)
		json_object_set_new(n, "ManagerStatus",
				    json_pack("{s:b, s:s, s:s}", "Leader", 1, "Reachability",
					      "reachable", "Addr", "192.168.99.101:2377"));
	return fx_create(f, SHOAL_STORE_NODE, n, f->node[i]);
}

/* Sets a node field: what "Spec"/"Availability" or "Status"/"State" becomes. */
FX void fx_node_set(struct fx *f, int i, const char *obj, const char *key, json_t *v)
{
	json_t *n = fx_copy(f, SHOAL_STORE_NODE, f->node[i]);

	json_object_set_new(json_object_get(n, obj), key, v);
	fx_put(f, SHOAL_STORE_NODE, n);
}

FX void fx_node_label(struct fx *f, int i, const char *k, const char *v)
{
	json_t *n = fx_copy(f, SHOAL_STORE_NODE, f->node[i]);

	json_object_set_new(json_object_get(json_object_get(n, "Spec"), "Labels"), k,
			    json_string(v));
	fx_put(f, SHOAL_STORE_NODE, n);
}

/* A replicated service spec as the API layer stores it (replicas < 0: global). */
FX json_t *fx_service_json(const char *name, int replicas)
{
	json_t *s = json_pack(
		"{s:{s:s, s:{}, s:{s:{s:s, s:b, s:{}, s:s}, s:{s:{}, s:{}}, s:{}, s:i, s:s},"
		" s:{s:s}}}",
		"Spec", "Name", name, "Labels", "TaskTemplate", "ContainerSpec", "Image",
		"instavote/vote:latest", "Init", 0, "DNSConfig", "Isolation", "default",
		"Resources", "Limits", "Reservations", "Placement", "ForceUpdate", 0, "Runtime",
		"container", "EndpointSpec", "Mode", "vip");
	json_t *spec = json_object_get(s, "Spec");

	if (replicas >= 0)
		json_object_set_new(spec, "Mode",
				    json_pack("{s:{s:i}}", "Replicated", "Replicas", replicas));
	else
		json_object_set_new(spec, "Mode", json_pack("{s:{}}", "Global"));
	return s;
}

FX json_t *fx_template(json_t *svc)
{
	return json_object_get(json_object_get(svc, "Spec"), "TaskTemplate");
}

FX const char *fx_service(struct fx *f, json_t *svc, char *id)
{
	return fx_create(f, SHOAL_STORE_SERVICE, svc, id);
}

FX void fx_scale(struct fx *f, const char *id, int replicas)
{
	json_t *s = fx_copy(f, SHOAL_STORE_SERVICE, id);

	json_object_set_new(
		json_object_get(json_object_get(json_object_get(s, "Spec"), "Mode"), "Replicated"),
		"Replicas", json_integer(replicas));
	fx_put(f, SHOAL_STORE_SERVICE, s);
}

/*
 * Tasks.
 */

FX const json_t *fx_task(struct fx *f, const char *id)
{
	struct shoal_store_obj *o = shoal_store_get(f->s, SHOAL_STORE_TASK, id);

	return o != NULL ? o->json : NULL;
}

FX const char *fx_str(const json_t *j, const char *k1, const char *k2)
{
	j = json_object_get(j, k1);
	if (k2 != NULL)
		j = json_object_get(j, k2);
	return json_string_value(j);
}

FX long long fx_slot(const json_t *t)
{
	return json_integer_value(json_object_get(t, "Slot"));
}

/* The dispatcher writing an agent's report. */
FX void fx_report(struct fx *f, const char *task_id, const char *state, const char *msg)
{
	json_t *t = fx_copy(f, SHOAL_STORE_TASK, task_id), *st = json_object_get(t, "Status");
	char ts[64];

	shoal_time_format_rfc3339nano(f->now, ts, sizeof(ts));
	json_object_set_new(st, "Timestamp", json_string(ts));
	json_object_set_new(st, "State", json_string(state));
	json_object_set_new(st, "Message", json_string(msg));
	if (strcmp(state, "failed") == 0 || strcmp(state, "rejected") == 0)
		json_object_set_new(st, "Err", json_string("task: non-zero exit (1)"));
	json_object_set_new(st, "ContainerStatus",
			    json_pack("{s:s, s:i, s:i}", "ContainerID", "c0ffee", "PID",
				      strcmp(state, "running") == 0 ? 4242 : 0, "ExitCode",
				      strcmp(state, "failed") == 0 ? 1 : 0));
	if (getenv("FX_DEBUG"))
		fprintf(stderr, "report %s %s\n", task_id, state);
	fx_put(f, SHOAL_STORE_TASK, t);
}

/* Every agent does its job: assigned tasks desired running start, tasks desired shutdown or
 * remove that still run stop. Returns how many reports it made. */
FX int fx_agents(struct fx *f)
{
	struct shoal_store_obj **l;
	enum shoal_task_state st, want;
	char id[SHOAL_STORE_ID_LEN + 1];
	size_t n, i;
	int reports = 0;

	for (;;) {
		id[0] = '\0';
		l = shoal_store_list(f->s, SHOAL_STORE_TASK, &n);
		for (i = 0; i < n && id[0] == '\0'; i++) {
			if (shoal_task_state_parse(fx_str(l[i]->json, "Status", "State"), &st) <
				    0 ||
			    shoal_task_state_parse(fx_str(l[i]->json, "DesiredState", NULL),
						   &want) < 0)
				continue;
			if ((st >= SHOAL_TASK_ASSIGNED && st < SHOAL_TASK_RUNNING &&
			     want == SHOAL_TASK_RUNNING) ||
			    (st >= SHOAL_TASK_ASSIGNED && st <= SHOAL_TASK_RUNNING &&
			     want >= SHOAL_TASK_SHUTDOWN))
				snprintf(id, sizeof(id), "%s", l[i]->id);
		}
		free(l);
		if (id[0] == '\0')
			return reports;
		want = SHOAL_TASK_RUNNING;
		(void)shoal_task_state_parse(fx_str(fx_task(f, id), "DesiredState", NULL), &want);
		if (want == SHOAL_TASK_RUNNING)
			fx_report(f, id, "running", "started");
		else
			fx_report(f, id, "shutdown", "shutdown");
		reports++;
		fx_run(f);
	}
}

/* The service's tasks matching desired state (NULL: any), sorted by slot then CreatedAt. */
struct fx_list {
	const json_t *t[256];
	size_t n;
};

static int fx_cmp_task(const void *a, const void *b)
{
	const json_t *const *x = a, *const *y = b;
	long long sx = fx_slot(*x), sy = fx_slot(*y);
	int c;

	if (sx != sy)
		return sx < sy ? -1 : 1;
	c = strcmp(fx_str(*x, "NodeID", NULL) ? fx_str(*x, "NodeID", NULL) : "",
		   fx_str(*y, "NodeID", NULL) ? fx_str(*y, "NodeID", NULL) : "");
	if (c != 0)
		return c;
	return strcmp(fx_str(*x, "CreatedAt", NULL), fx_str(*y, "CreatedAt", NULL));
}

FX void fx_tasks(struct fx *f, const char *svc, const char *desired, struct fx_list *out)
{
	struct shoal_store_obj **l = shoal_store_tasks_by_service(f->s, svc, &out->n);
	size_t i, k = 0;

	assert_true(out->n <= 256);
	for (i = 0; i < out->n; i++)
		if (desired == NULL ||
		    strcmp(fx_str(l[i]->json, "DesiredState", NULL), desired) == 0)
			out->t[k++] = l[i]->json;
	out->n = k;
	free(l);
	qsort(out->t, out->n, sizeof(out->t[0]), fx_cmp_task);
}

/* How many of the service's tasks desired running sit on node i. */
FX int fx_on_node(struct fx *f, const char *svc, int i)
{
	struct fx_list l;
	size_t k;
	int n = 0;

	fx_tasks(f, svc, "running", &l);
	for (k = 0; k < l.n; k++)
		if (fx_str(l.t[k], "NodeID", NULL) != NULL &&
		    strcmp(fx_str(l.t[k], "NodeID", NULL), f->node[i]) == 0)
			n++;
	return n;
}

/* The live task of a slot (desired running or ready), or NULL. */
FX const json_t *fx_live(struct fx *f, const char *svc, long long slot)
{
	struct fx_list l;
	size_t k;
	const char *d;

	fx_tasks(f, svc, NULL, &l);
	for (k = 0; k < l.n; k++) {
		d = fx_str(l.t[k], "DesiredState", NULL);
		if (fx_slot(l.t[k]) == slot &&
		    (strcmp(d, "running") == 0 || strcmp(d, "ready") == 0))
			return l.t[k];
	}
	return NULL;
}

FX int fx_count_state(struct fx *f, const char *svc, const char *state)
{
	struct fx_list l;
	size_t k;
	int n = 0;

	fx_tasks(f, svc, NULL, &l);
	for (k = 0; k < l.n; k++)
		if (strcmp(fx_str(l.t[k], "Status", "State"), state) == 0)
			n++;
	return n;
}

#endif
