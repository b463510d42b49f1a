/* The reconciliation loop's driver and orchestrators (SWARM-SPEC §2, §4, §5): passes over the
 * store, one change set per service, the replicated and global orchestrators with the restart
 * supervisor and the task reaper. Choosing nodes is scheduler.c's, addresses allocator.c's
 * (new -> pending), rolling updates updater.c's (called last by each orchestrator, over the
 * slots it keeps); the libuv timer is orch_uv.c's. Jobs (ReplicatedJob, GlobalJob) and the
 * constraint enforcer are left to later issues. */
#include "manager/orch_internal.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "orchestrator"

/* SWARM-SPEC §9 */
#define DEFAULT_RESTART_DELAY (5 * SHOAL_ORCH__SECOND)
#define OLD_TASK_TIMEOUT      (60 * SHOAL_ORCH__SECOND)
#define DEFAULT_HISTORY	      5

/* Retrying refused change sets when no store change wakes us first. */
#define RETRY_MIN (100 * 1000000LL)
#define RETRY_MAX (10 * SHOAL_ORCH__SECOND)

/*
 * JSON helpers.
 */

static json_t *vget(const json_t *j, va_list ap)
{
	const char *k;

	while ((k = va_arg(ap, const char *)) != NULL)
		j = json_object_get(j, k);
	return (json_t *)j;
}

json_t *shoal_orch__get(const json_t *j, ...)
{
	va_list ap;
	json_t *v;

	va_start(ap, j);
	v = vget(j, ap);
	va_end(ap);
	return v;
}

const char *shoal_orch__str(const json_t *j, ...)
{
	va_list ap;
	json_t *v;

	va_start(ap, j);
	v = vget(j, ap);
	va_end(ap);
	return json_string_value(v);
}

int64_t shoal_orch__int(const json_t *j, ...)
{
	va_list ap;
	json_t *v;

	va_start(ap, j);
	v = vget(j, ap);
	va_end(ap);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static enum shoal_task_state state_at(const json_t *j)
{
	enum shoal_task_state st = SHOAL_TASK_NEW;

	(void)shoal_task_state_parse(json_string_value(j), &st);
	return st;
}

enum shoal_task_state shoal_orch__observed(const json_t *task)
{
	return state_at(shoal_orch__get(task, "Status", "State", NULL));
}

enum shoal_task_state shoal_orch__desired(const json_t *task)
{
	return state_at(json_object_get(task, "DesiredState"));
}

int64_t shoal_orch__time(const json_t *j)
{
	int64_t ns;

	return shoal_time_parse(json_string_value(j), &ns) == 0 ? ns : 0;
}

const char *shoal_orch__node_of(const json_t *task)
{
	const char *n = shoal_orch__str(task, "NodeID", NULL);

	return n != NULL ? n : "";
}

/*
 * Working copies.
 */

const json_t *shoal_orch__view(const struct shoal_orch__pass *p, const struct shoal_store_obj *t)
{
	const json_t *w = json_object_get(p->writes, t->id);

	return w != NULL ? w : t->json;
}

json_t *shoal_orch__mut(struct shoal_orch__pass *p, const struct shoal_store_obj *t)
{
	json_t *w = json_object_get(p->writes, t->id);

	assert(json_object_get(p->deletes, t->id) == NULL);
	if (w == NULL) {
		w = json_deep_copy(t->json);
		json_object_set_new(p->writes, t->id, w);
	}
	return w;
}

bool shoal_orch__touched(const struct shoal_orch__pass *p, const char *id)
{
	return json_object_get(p->writes, id) != NULL || json_object_get(p->deletes, id) != NULL;
}

void shoal_orch__set_status(struct shoal_orch__pass *p, json_t *task, enum shoal_task_state st,
			    const char *msg)
{
	json_t *status = json_object_get(task, "Status");
	char ts[64];

	if (!json_is_object(status)) {
		status = json_object();
		json_object_set_new(task, "Status", status);
	}
	shoal_time_format_rfc3339nano(p->now, ts, sizeof(ts));
	json_object_set_new(status, "Timestamp", json_string(ts));
	json_object_set_new(status, "State", json_string(shoal_task_state_name(st)));
	json_object_set_new(status, "Message", json_string(msg != NULL ? msg : ""));
	json_object_del(status, "Err");
}

/* Raises a task's desired state (it never goes back). */
void shoal_orch__set_desired(struct shoal_orch__pass *p, const struct shoal_store_obj *t,
			     enum shoal_task_state st)
{
	if (shoal_orch__desired(shoal_orch__view(p, t)) >= st)
		return;
	json_object_set_new(shoal_orch__mut(p, t), "DesiredState",
			    json_string(shoal_task_state_name(st)));
}

static void delete_task(struct shoal_orch__pass *p, const struct shoal_store_obj *t)
{
	if (shoal_orch__touched(p, t->id))
		return; /* changed in this change set: deleted by a later pass */
	json_object_set_new(p->deletes, t->id, json_true());
}

/* Copies obj's members in Docker's order (moby api/types/swarm/task.go), the rest after. */
static json_t *reorder(const json_t *obj, const char *const *order)
{
	json_t *out = json_object(), *v;
	const char *k;
	size_t i;

	for (i = 0; order[i] != NULL; i++) {
		v = json_object_get(obj, order[i]);
		if (v != NULL)
			json_object_set(out, order[i], v);
	}
	json_object_foreach((json_t *)obj, k, v) {
		if (json_object_get(out, k) == NULL)
			json_object_set(out, k, v);
	}
	return out;
}

/* A new task object with its members in Docker's order. */
static json_t *canon(const json_t *task)
{
	static const char *const order[] = {
		"ID",
		"Version",
		"CreatedAt",
		"UpdatedAt",
		"Name",
		"Labels",
		"Spec",
		"ServiceID",
		"Slot",
		"NodeID",
		"Status",
		"DesiredState",
		"NetworksAttachments",
		"GenericResources",
		"JobIteration",
		"Volumes",
		NULL,
	};
	static const char *const status_order[] = {
		"Timestamp", "State", "Message", "Err", "ContainerStatus", "PortStatus", NULL,
	};
	json_t *out = reorder(task, order), *status = json_object_get(out, "Status");

	if (json_is_object(status))
		json_object_set_new(out, "Status", reorder(status, status_order));
	return out;
}

/*
 * The services' view of their tasks: slots.
 */

static int cmp_tref(const void *a, const void *b)
{
	const struct shoal_orch__tref *x = a, *y = b;
	int c = strcmp(x->node, y->node);

	if (x->num != y->num)
		return x->num < y->num ? -1 : 1;
	if (c != 0)
		return c;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	/* Same time (a coarse clock): a task given up is older than the one replacing it,
	 * and of two given up the one that stopped first. */
	if (x->done != y->done)
		return x->done ? -1 : 1;
	if (x->status != y->status)
		return x->status < y->status ? -1 : 1;
	return strcmp(x->o->id, y->o->id);
}

static void svc_load(struct shoal_orch__pass *p, struct shoal_orch__svc *c,
		     struct shoal_store_obj *svc)
{
	size_t i, j;

	memset(c, 0, sizeof(*c));
	c->obj = svc;
	c->json = svc->json;
	c->global = shoal_orch__get(c->json, "Spec", "Mode", "Global", NULL) != NULL;
	c->all = shoal_store_tasks_by_service(p->store, svc->id, &c->nall);
	c->t = shoal_calloc(c->nall + 1, sizeof(*c->t));
	for (i = 0; i < c->nall; i++) {
		c->t[i].o = c->all[i];
		c->t[i].created = shoal_orch__time(json_object_get(c->all[i]->json, "CreatedAt"));
		/* a global service's slot is its node; a replicated one's its number */
		c->t[i].num = c->global ? 0 : shoal_orch__int(c->all[i]->json, "Slot", NULL);
		c->t[i].node = c->global ? shoal_orch__node_of(c->all[i]->json) : "";
		c->t[i].done = shoal_orch__desired(c->all[i]->json) > SHOAL_TASK_RUNNING;
		c->t[i].status = shoal_orch__time(
			shoal_orch__get(c->all[i]->json, "Status", "Timestamp", NULL));
	}
	if (c->nall > 1)
		qsort(c->t, c->nall, sizeof(*c->t), cmp_tref);
	c->slots = shoal_calloc(c->nall + 1, sizeof(*c->slots));
	for (i = 0; i < c->nall; i = j) {
		for (j = i + 1; j < c->nall && c->t[j].num == c->t[i].num &&
				strcmp(c->t[j].node, c->t[i].node) == 0;
		     j++)
			;
		c->slots[c->nslots++] = (struct shoal_orch__slot){
			.num = c->t[i].num, .node = c->t[i].node, .t = &c->t[i], .n = j - i
		};
	}
}

static void svc_fini(struct shoal_orch__svc *c)
{
	free(c->all);
	free(c->t);
	free(c->slots);
}

static struct shoal_orch__slot *slot_by_node(struct shoal_orch__svc *c, const char *node)
{
	size_t i;

	for (i = 0; i < c->nslots; i++)
		if (strcmp(c->slots[i].node, node) == 0)
			return &c->slots[i];
	return NULL;
}

/* A new task of the service (SWARM-SPEC §1.3): Spec is the TaskTemplate as it is now. */
json_t *shoal_orch__task_new(struct shoal_orch__pass *p, struct shoal_orch__svc *c, int64_t num,
			     const char *node, enum shoal_task_state desired)
{
	json_t *spec = json_deep_copy(shoal_orch__get(c->json, "Spec", "TaskTemplate", NULL));
	char id[SHOAL_STORE_ID_LEN + 1], ts[64];
	json_t *t;

	/* moby shows Runtime on the service's template only */
	if (spec == NULL)
		spec = json_object();
	json_object_del(spec, "Runtime");
	shoal_store_new_id(id);
	shoal_time_format_rfc3339nano(p->now, ts, sizeof(ts));
	t = json_pack("{s:s, s:{}, s:o, s:s}", "ID", id, "Labels", "Spec", spec, "ServiceID",
		      c->obj->id);
	assert(t != NULL);
	if (num > 0)
		json_object_set_new(t, "Slot", json_integer((json_int_t)num));
	if (node != NULL && *node != '\0')
		json_object_set_new(t, "NodeID", json_string(node));
	json_object_set_new(t, "Status",
			    json_pack("{s:s, s:s, s:s, s:{}}", "Timestamp", ts, "State", "new",
				      "Message", "created", "PortStatus"));
	json_object_set_new(t, "DesiredState", json_string(shoal_task_state_name(desired)));
	json_array_append_new(p->creates, t);
	c->ncreated++;
	return t;
}

/*
 * The restart supervisor (swarmkit manager/orchestrator/restart/restart.go), level-triggered:
 * what it decides follows from the tasks of the slot and now.
 */

static bool node_invalid(const struct shoal_orch__node *n)
{
	return n == NULL || n->down || n->drained;
}

/* Whether a task that stopped, or whose node went away, gets a replacement. */
static bool should_restart(const struct shoal_orch__pass *p, const struct shoal_orch__slot *s,
			   const json_t *t)
{
	const json_t *rp = shoal_orch__get(t, "Spec", "RestartPolicy", NULL);
	const char *cond = shoal_orch__str(rp, "Condition", NULL);
	int64_t max = shoal_orch__int(rp, "MaxAttempts", NULL);
	int64_t window = shoal_orch__int(rp, "Window", NULL);
	const json_t *spec = json_object_get(t, "Spec"), *u;
	int64_t at = shoal_orch__time(shoal_orch__get(t, "Status", "Timestamp", NULL));
	bool first = true;
	int64_t restarts = 0;
	size_t i;

	if (cond != NULL && strcmp(cond, "none") == 0)
		return false;
	if (cond != NULL && strcmp(cond, "on-failure") == 0 &&
	    shoal_orch__observed(t) == SHOAL_TASK_COMPLETE)
		return false;
	if (max <= 0)
		return true;
	/* Restarts are the slot's tasks with this spec but its first: swarmkit forgets the
	 * history when the spec changes, and keeps MaxAttempts + 1 tasks so it can be
	 * counted again from the store. The window ends when the task stopped (its last
	 * status), so a slot given up stays given up. */
	for (i = 0; i < s->n; i++) {
		u = shoal_orch__view(p, s->t[i].o);
		if (!json_equal(json_object_get(u, "Spec"), spec))
			continue;
		if (first) {
			first = false;
			continue;
		}
		if (window > 0 && (s->t[i].created < at - window || s->t[i].created >= at))
			continue;
		restarts++;
	}
	return restarts < max;
}

static bool needs_restart(const struct shoal_orch__pass *p, const json_t *t)
{
	const char *node = shoal_orch__node_of(t);

	if (shoal_orch__observed(t) > SHOAL_TASK_RUNNING)
		return true;
	return *node != '\0' && node_invalid(shoal_orch__node(p, node));
}

void shoal_orch__wake_at(struct shoal_orch__pass *p, int64_t at)
{
	if (at < p->wake)
		p->wake = at;
}

/* When a replacement held at desired "ready" may run: CreatedAt plus the restart delay, no
 * delay when the task it replaces sat on a drained node or when an update put it there. */
static int64_t start_time(const struct shoal_orch__pass *p, const struct shoal_orch__slot *s,
			  size_t k)
{
	const json_t *t = shoal_orch__view(p, s->t[k].o), *prev;
	const json_t *rp = shoal_orch__get(t, "Spec", "RestartPolicy", NULL);
	int64_t delay = DEFAULT_RESTART_DELAY;
	const struct shoal_orch__node *n;
	size_t i;

	/* an update's replacement waits only for the task it replaces to stop */
	if (shoal_orch__replaced_by_update(p, s, k))
		return s->t[k].created;
	if (json_object_get(rp, "Delay") != NULL)
		delay = shoal_orch__int(rp, "Delay", NULL);
	for (i = k; i-- > 0;) {
		prev = shoal_orch__view(p, s->t[i].o);
		if (shoal_orch__desired(prev) <= SHOAL_TASK_RUNNING)
			continue;
		n = shoal_orch__node(p, shoal_orch__node_of(prev));
		if (n != NULL && n->drained)
			delay = 0;
		break;
	}
	return s->t[k].created + delay;
}

/* Moves a replacement from desired "ready" to "running" once its delay is over and the tasks
 * it replaces have stopped (or their node is down or gone, or a minute went by). */
static void start_if_due(struct shoal_orch__pass *p, const struct shoal_orch__slot *s, size_t k)
{
	int64_t start = start_time(p, s, k), timeout = s->t[k].created + OLD_TASK_TIMEOUT;
	const struct shoal_orch__node *n;
	enum shoal_task_state st;
	const json_t *u;
	size_t i;

	if (p->now < start) {
		shoal_orch__wake_at(p, start);
		return;
	}
	for (i = 0; i < s->n && p->now < timeout; i++) {
		u = shoal_orch__view(p, s->t[i].o);
		st = shoal_orch__observed(u);
		if (i == k || shoal_orch__desired(u) <= SHOAL_TASK_RUNNING ||
		    st < SHOAL_TASK_ASSIGNED || st > SHOAL_TASK_RUNNING)
			continue;
		n = shoal_orch__node(p, shoal_orch__node_of(u));
		if (n == NULL || n->down)
			continue;
		shoal_orch__wake_at(p, timeout);
		return; /* its stop report wakes us */
	}
	shoal_orch__set_desired(p, s->t[k].o, SHOAL_TASK_RUNNING);
}

/* Shuts the task down and, if its restart policy says so, puts a replacement in its slot,
 * held at desired "ready" until start_if_due lets it run. Returns whether it did. */
static bool restart(struct shoal_orch__pass *p, struct shoal_orch__svc *c,
		    struct shoal_orch__slot *s, size_t k, const char *why)
{
	const struct shoal_store_obj *o = s->t[k].o;
	json_t *nt;

	if (c->ncreated >= SHOAL_ORCH__MAX_CREATES)
		return true; /* left as it is for the next pass */
	shoal_orch__set_desired(p, o, SHOAL_TASK_SHUTDOWN);
	if (!should_restart(p, s, shoal_orch__view(p, o))) {
		shoal_log_debug("task not restarted", "task=%s service=%s reason=%s", o->id,
				c->obj->id, why);
		return false;
	}
	nt = shoal_orch__task_new(p, c, s->num, c->global ? s->node : NULL, SHOAL_TASK_READY);
	s->created = nt;
	shoal_log_info("task restarted", "task=%s service=%s new=%s reason=%s", o->id, c->obj->id,
		       shoal_orch__str(nt, "ID", NULL), why);
	return true;
}

static const char *restart_reason(const struct shoal_orch__pass *p, const json_t *t)
{
	const struct shoal_orch__node *n;

	if (shoal_orch__observed(t) > SHOAL_TASK_RUNNING)
		return shoal_orch__str(t, "Status", "State", NULL);
	n = shoal_orch__node(p, shoal_orch__node_of(t));
	if (n == NULL)
		return "node-removed";
	return n->down ? "node-down" : "node-drained";
}

/* The restart supervisor over one slot's live tasks (desired <= running). Returns whether the
 * slot still has one. */
static bool supervise(struct shoal_orch__pass *p, struct shoal_orch__svc *c,
		      struct shoal_orch__slot *s)
{
	bool live = false;
	const json_t *v;
	size_t k;

	for (k = 0; k < s->n; k++) {
		v = shoal_orch__view(p, s->t[k].o);
		if (shoal_orch__desired(v) > SHOAL_TASK_RUNNING)
			continue;
		if (needs_restart(p, v)) {
			/* a replacement whose own delay still runs waits it out first, so a
			 * task failing at once cannot spin */
			if (shoal_orch__desired(v) == SHOAL_TASK_READY &&
			    p->now < start_time(p, s, k)) {
				shoal_orch__wake_at(p, start_time(p, s, k));
				live = true;
				continue;
			}
			if (restart(p, c, s, k, restart_reason(p, v)))
				live = true;
			continue;
		}
		live = true;
		if (shoal_orch__desired(v) == SHOAL_TASK_READY)
			start_if_due(p, s, k);
	}
	return live;
}

/* A slot without live tasks still counts as a replica when its last task stopped and its
 * restart policy keeps it stopped (swarmkit's UpdatableTasksInSlot); one whose last task is
 * being removed does not. */
static bool kept_stopped(const struct shoal_orch__pass *p, const struct shoal_orch__slot *s)
{
	const json_t *last;

	if (s->n == 0)
		return false;
	last = shoal_orch__view(p, s->t[s->n - 1].o);
	return shoal_orch__desired(last) < SHOAL_TASK_REMOVE && !should_restart(p, s, last);
}

/* Never placed: nothing runs it anywhere. */
static bool never_ran(const json_t *t)
{
	return shoal_orch__observed(t) < SHOAL_TASK_ASSIGNED;
}

static bool reapable(const json_t *t)
{
	return shoal_orch__observed(t) > SHOAL_TASK_RUNNING ||
	       (never_ran(t) && shoal_orch__desired(t) > SHOAL_TASK_RUNNING);
}

/*
 * The replicated orchestrator (swarmkit manager/orchestrator/replicated).
 */

static int64_t replicas(const json_t *svc)
{
	const json_t *mode = shoal_orch__get(svc, "Spec", "Mode", NULL);
	const json_t *rep = json_object_get(mode, "Replicated");

	/* Mode or Replicas absent: one replica, as moby's converter defaults it */
	if (rep != NULL && json_object_get(rep, "Replicas") != NULL)
		return shoal_orch__int(rep, "Replicas", NULL);
	return 1;
}

/* The slot's tasks a scale-down removes or keeps: its live ones, or its stopped last. */
static void slot_members(const struct shoal_orch__pass *p, const struct shoal_orch__slot *s,
			 const json_t **out, size_t *n)
{
	const json_t *v;
	size_t i;

	*n = 0;
	for (i = 0; i < s->n; i++) {
		v = shoal_orch__view(p, s->t[i].o);
		if (shoal_orch__desired(v) <= SHOAL_TASK_RUNNING)
			out[(*n)++] = v;
	}
	if (s->created != NULL)
		out[(*n)++] = s->created;
	if (*n == 0 && s->n > 0)
		out[(*n)++] = shoal_orch__view(p, s->t[s->n - 1].o);
}

struct ranked {
	struct shoal_orch__slot *s;
	long index; /* nth copy of the service on its node; -1 sorts last */
	size_t pos;
};

static int cmp_running(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->s->running != y->s->running)
		return x->s->running ? -1 : 1;
	return x->s->num < y->s->num ? -1 : x->s->num > y->s->num;
}

static int cmp_index(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if ((x->index < 0) != (y->index < 0))
		return x->index < 0 ? 1 : -1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Scale-down order (swarmkit replicated/services.go): running slots first, lower numbers
 * first, then by how many copies of the service their node already has, so the nodes with
 * most copies lose theirs and non-running or unassigned tasks go before running ones. */
static void scale_down(struct shoal_orch__pass *p, struct shoal_orch__svc *c, size_t nrun,
		       int64_t want)
{
	struct ranked *r = shoal_calloc(nrun + 1, sizeof(*r));
	const json_t **m = shoal_calloc(c->nall + 2, sizeof(*m));
	json_t *per_node = json_object(), *cnt;
	const char *node;
	size_t i, j, n, k = 0;

	for (i = 0; i < c->nslots; i++)
		if (c->slots[i].runnable)
			r[k++].s = &c->slots[i];
	if (nrun > 1)
		qsort(r, nrun, sizeof(*r), cmp_running);
	for (i = 0; i < nrun; i++) {
		slot_members(p, r[i].s, m, &n);
		r[i].pos = i;
		r[i].index = -1;
		node = n == 1 ? shoal_orch__node_of(m[0]) : "";
		if (*node == '\0')
			continue;
		cnt = json_object_get(per_node, node);
		r[i].index = (cnt != NULL ? (long)json_integer_value(cnt) : 0) + 1;
		json_object_set_new(per_node, node, json_integer(r[i].index));
	}
	if (nrun > 1)
		qsort(r, nrun, sizeof(*r), cmp_index);
	for (i = (size_t)want; i < nrun; i++) {
		struct shoal_orch__slot *s = r[i].s;

		shoal_log_debug("slot removed", "service=%s slot=%lld", c->obj->id,
				(long long)s->num);
		bool live = s->created != NULL;

		if (s->created != NULL)
			json_object_set_new(s->created, "DesiredState", json_string("remove"));
		for (j = 0; j < s->n; j++)
			if (shoal_orch__desired(shoal_orch__view(p, s->t[j].o)) <=
			    SHOAL_TASK_RUNNING)
				live = true;
		/* the same tasks slot_members counted */
		for (j = 0; j < s->n; j++) {
			const json_t *v = shoal_orch__view(p, s->t[j].o);

			if (live ? shoal_orch__desired(v) <= SHOAL_TASK_RUNNING : j == s->n - 1)
				shoal_orch__set_desired(p, s->t[j].o, SHOAL_TASK_REMOVE);
		}
	}
	json_decref(per_node);
	free(m);
	free(r);
}

static int cmp_int64(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

static void reconcile_replicated(struct shoal_orch__pass *p, struct shoal_orch__svc *c)
{
	int64_t want = replicas(c->json), *used, next = 1;
	size_t i, j, k, nrun = 0;
	const json_t *v;
	json_t *nt;

	for (i = 0; i < c->nslots; i++) {
		struct shoal_orch__slot *s = &c->slots[i];

		s->runnable = supervise(p, c, s) || kept_stopped(p, s);
		for (j = 0; j < s->n; j++) {
			v = shoal_orch__view(p, s->t[j].o);
			if (shoal_orch__desired(v) <= SHOAL_TASK_RUNNING &&
			    shoal_orch__observed(v) == SHOAL_TASK_RUNNING)
				s->running = true;
		}
		nrun += s->runnable;
	}
	if ((int64_t)nrun < want) {
		/* the lowest slot numbers no runnable slot holds; a dead slot's number is
		 * reused and its history stays with it */
		used = shoal_calloc(nrun + 1, sizeof(*used));
		for (i = 0, j = 0; i < c->nslots; i++)
			if (c->slots[i].runnable)
				used[j++] = c->slots[i].num;
		if (nrun > 1)
			qsort(used, nrun, sizeof(*used), cmp_int64);
		for (i = 0, j = 0;
		     (int64_t)(nrun + i) < want && c->ncreated < SHOAL_ORCH__MAX_CREATES; i++) {
			for (; j < nrun && used[j] <= next; j++)
				if (used[j] == next)
					next++;
			nt = shoal_orch__task_new(p, c, next, NULL, SHOAL_TASK_RUNNING);
			for (k = 0; k < c->nslots; k++)
				if (c->slots[k].num == next)
					c->slots[k].created = nt;
			next++;
		}
		if (i > 0)
			shoal_log_info("service scaled up", "service=%s tasks=%zu replicas=%lld",
				       c->obj->id, i, (long long)want);
		free(used);
	} else if ((int64_t)nrun > want) {
		shoal_log_info("service scaled down", "service=%s from=%zu replicas=%lld",
			       c->obj->id, nrun, (long long)want);
		scale_down(p, c, nrun, want < 0 ? 0 : want);
	}
	/* A dead slot nobody reuses loses its history, as swarmkit deletes dead slots; a
	 * removed task still running goes when it stops (reap). */
	for (i = 0; i < c->nslots; i++) {
		struct shoal_orch__slot *s = &c->slots[i];

		if (s->runnable || s->created != NULL)
			continue;
		for (j = 0; j < s->n; j++)
			if (reapable(shoal_orch__view(p, s->t[j].o)))
				delete_task(p, s->t[j].o);
	}
	shoal_orch__update(p, c);
}

/*
 * The global orchestrator (swarmkit manager/orchestrator/global): one task per node that is
 * not down or drained and meets the constraints.
 */

static void shut_down_live(struct shoal_orch__pass *p, struct shoal_orch__slot *s,
			   bool only_stopped)
{
	const json_t *v;
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++) {
		v = shoal_orch__view(p, s->t[i].o);
		if (shoal_orch__desired(v) > SHOAL_TASK_RUNNING)
			continue;
		if (only_stopped && shoal_orch__observed(v) <= SHOAL_TASK_RUNNING)
			continue;
		shoal_orch__set_desired(p, s->t[i].o, SHOAL_TASK_SHUTDOWN);
	}
}

/* Lets the slot's held replacements run when due, restarting nothing. */
static void start_held(struct shoal_orch__pass *p, const struct shoal_orch__slot *s)
{
	const json_t *v;
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++) {
		v = shoal_orch__view(p, s->t[i].o);
		if (shoal_orch__desired(v) == SHOAL_TASK_READY &&
		    shoal_orch__observed(v) <= SHOAL_TASK_RUNNING)
			start_if_due(p, s, i);
	}
}

static void reconcile_global(struct shoal_orch__pass *p, struct shoal_orch__svc *c)
{
	const json_t *cons =
		shoal_orch__get(c->json, "Spec", "TaskTemplate", "Placement", "Constraints", NULL);
	const struct shoal_orch__node *n;
	struct shoal_orch__slot *s;
	const json_t *last;
	size_t i;
	bool live;

	for (i = 0; i < c->nslots; i++) {
		/* tasks of nodes that are gone */
		if (shoal_orch__node(p, c->slots[i].node) == NULL)
			shut_down_live(p, &c->slots[i], false);
	}
	for (i = 0; i < p->nnodes; i++) {
		n = &p->nodes[i];
		s = slot_by_node(c, n->id);
		if (n->down || n->drained || !shoal_sched_constraints_match(cons, n->json)) {
			shut_down_live(p, s, false);
			continue;
		}
		if (n->paused) {
			/* nothing added or restarted there: a stopped task is only shut down */
			shut_down_live(p, s, true);
			start_held(p, s);
			continue;
		}
		live = s != NULL && supervise(p, c, s);
		if (s != NULL)
			s->runnable = live; /* the updater's */
		if (live || c->ncreated >= SHOAL_ORCH__MAX_CREATES)
			continue;
		if (s != NULL && s->n > 0) {
			last = shoal_orch__view(p, s->t[s->n - 1].o);
			if (shoal_orch__desired(last) < SHOAL_TASK_REMOVE &&
			    !should_restart(p, s, last))
				continue; /* stopped for good by its restart policy */
		}
		shoal_orch__task_new(p, c, 0, n->id, SHOAL_TASK_RUNNING);
		shoal_log_debug("global task added", "service=%s node=%s", c->obj->id, n->id);
	}
	shoal_orch__update(p, c);
}

/*
 * The task reaper (swarmkit manager/orchestrator/taskreaper).
 */

struct aged {
	const struct shoal_store_obj *o;
	int64_t ts;
};

static int cmp_aged(const void *a, const void *b)
{
	const struct aged *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return strcmp(x->o->id, y->o->id);
}

static int64_t history_limit(const struct shoal_orch__pass *p, const struct shoal_orch__svc *c)
{
	struct shoal_store_obj **l;
	const json_t *v = NULL;
	int64_t limit = DEFAULT_HISTORY;
	int64_t max = shoal_orch__int(c->json, "Spec", "TaskTemplate", "RestartPolicy",
				      "MaxAttempts", NULL);
	size_t n;

	/* the restart history is counted from the store: keep enough of it */
	if (max > 0)
		return max + 1;
	l = shoal_store_list(p->store, SHOAL_STORE_CLUSTER, &n);
	if (n > 0)
		v = shoal_orch__get(l[0]->json, "Spec", "Orchestration",
				    "TaskHistoryRetentionLimit", NULL);
	if (json_is_integer(v))
		limit = (int64_t)json_integer_value(v);
	free(l);
	return limit;
}

static void reap(struct shoal_orch__pass *p, struct shoal_orch__svc *c)
{
	int64_t limit = history_limit(p, c), count;
	struct aged *old = shoal_calloc(c->nall + 1, sizeof(*old));
	const json_t *v;
	size_t i, k, n;

	for (i = 0; i < c->nslots; i++) {
		struct shoal_orch__slot *s = &c->slots[i];

		count = 0;
		n = 0;
		for (k = 0; k < s->n; k++) {
			v = shoal_orch__view(p, s->t[k].o);
			/* a removed slot's task goes once stopped, or at once if it never ran */
			if (shoal_orch__desired(v) == SHOAL_TASK_REMOVE &&
			    (shoal_orch__observed(v) > SHOAL_TASK_RUNNING || never_ran(v))) {
				delete_task(p, s->t[k].o);
				continue;
			}
			count++;
			if (reapable(v) && !shoal_orch__touched(p, s->t[k].o->id))
				old[n++] = (struct aged){
					s->t[k].o,
					shoal_orch__time(
						shoal_orch__get(v, "Status", "Timestamp", NULL)),
				};
		}
		if (limit < 0 || count <= limit)
			continue;
		if (n > 1)
			qsort(old, n, sizeof(*old), cmp_aged);
		for (k = 0; k < n && count > limit; k++, count--)
			delete_task(p, old[k].o);
	}
	free(old);
}

/*
 * A pass.
 */

struct txs {
	struct shoal_store_tx **v;
	size_t n, cap;
};

static void txs_add(struct txs *out, struct shoal_store_tx *tx)
{
	if (out->n == out->cap) {
		out->cap = out->cap ? 2 * out->cap : 8;
		out->v = shoal_realloc(out->v, out->cap * sizeof(*out->v));
	}
	out->v[out->n++] = tx;
}

/* Turns what the pass changed into one change set. */
static void flush(struct shoal_orch__pass *p, struct txs *out)
{
	struct shoal_store_tx *tx;
	const char *id;
	json_t *w;
	size_t i;

	if (json_object_size(p->writes) == 0 && json_array_size(p->creates) == 0 &&
	    json_object_size(p->deletes) == 0 && p->service == NULL)
		return;
	tx = shoal_store_tx_new();
	if (p->service != NULL) {
		shoal_store_tx_update(
			tx, SHOAL_STORE_SERVICE, p->service,
			(uint64_t)shoal_orch__int(p->service, "Version", "Index", NULL));
		p->service = NULL; /* moved into tx */
	}
	json_object_foreach(p->writes, id, w) {
		shoal_store_tx_update(tx, SHOAL_STORE_TASK, canon(w),
				      (uint64_t)shoal_orch__int(w, "Version", "Index", NULL));
	}
	json_array_foreach(p->creates, i, w) {
		shoal_store_tx_create(tx, SHOAL_STORE_TASK, canon(w));
	}
	json_object_foreach(p->deletes, id, w) {
		shoal_store_tx_delete(tx, SHOAL_STORE_TASK, id);
	}
	json_object_clear(p->writes);
	json_array_clear(p->creates);
	json_object_clear(p->deletes);
	txs_add(out, tx);
}

static void reconcile_service(struct shoal_orch__pass *p, struct shoal_store_obj *svc)
{
	const json_t *mode = shoal_orch__get(svc->json, "Spec", "Mode", NULL);
	struct shoal_orch__svc c;

	svc_load(p, &c, svc);
	if (c.global)
		reconcile_global(p, &c);
	else if (mode == NULL || json_object_get(mode, "Replicated") != NULL)
		reconcile_replicated(p, &c);
	/* job modes are not orchestrated yet */
	shoal_orch__allocate(p, svc, c.all, c.nall);
	shoal_orch__schedule(p, svc, c.all, c.nall);
	reap(p, &c);
	svc_fini(&c);
}

/* Tasks whose service is gone: each is set to desired "remove" and deleted once stopped (or
 * at once if it never ran or already stopped), so the whole history goes with the service. */
static void reap_orphans(struct shoal_orch__pass *p, struct txs *out)
{
	struct shoal_store_obj **tasks;
	const char *sid, *last = NULL;
	size_t n, i, k;
	const json_t *t;
	struct {
		const char *sid;
		struct shoal_store_obj *o;
	} * orph;

	tasks = shoal_store_list(p->store, SHOAL_STORE_TASK, &n);
	orph = shoal_calloc(n + 1, sizeof(*orph));
	for (i = 0, k = 0; i < n; i++) {
		sid = shoal_orch__str(tasks[i]->json, "ServiceID", NULL);
		if (sid != NULL && *sid != '\0' &&
		    shoal_store_get(p->store, SHOAL_STORE_SERVICE, sid) != NULL)
			continue;
		orph[k].sid = sid != NULL ? sid : "";
		orph[k++].o = tasks[i];
	}
	/* one change set per vanished service, in task ID order within it */
	for (;;) {
		const char *next = NULL;

		for (i = 0; i < k; i++)
			if ((last == NULL || strcmp(orph[i].sid, last) > 0) &&
			    (next == NULL || strcmp(orph[i].sid, next) < 0))
				next = orph[i].sid;
		if (next == NULL)
			break;
		for (i = 0; i < k; i++) {
			if (strcmp(orph[i].sid, next) != 0)
				continue;
			t = orph[i].o->json;
			if (*next == '\0') {
				if (shoal_orch__observed(t) >= SHOAL_TASK_ORPHANED)
					delete_task(p, orph[i].o);
			} else if (shoal_orch__observed(t) > SHOAL_TASK_RUNNING || never_ran(t)) {
				delete_task(p, orph[i].o);
			} else {
				shoal_orch__set_desired(p, orph[i].o, SHOAL_TASK_REMOVE);
			}
		}
		flush(p, out);
		last = next;
	}
	free(orph);
	free(tasks);
}

/*
 * The driver.
 */

/* A change set in flight; detached (o = NULL) when the orchestrator goes first. */
struct flight {
	struct shoal_list link;
	struct shoal_orch *o;
};

struct shoal_orch {
	struct shoal_store *store;
	struct shoal_orch_env env;
	struct shoal_store_watch *watch;
	struct shoal_list flights;
	json_t *running; /* the pass's p->running */
	unsigned in_flight;
	bool dirty;	  /* the store changed since the last pass read it */
	bool failed;	  /* a change set of this round was refused */
	int64_t armed;	  /* the wake last asked for */
	int64_t deadline; /* the earliest deadline the last pass found */
	int64_t retry_at; /* when to retry refused change sets */
	int64_t backoff;
};

/* Asks for the next wake: at once when the store changed, else the earliest deadline; none
 * while change sets are in flight, whose last answer asks again. */
static void rearm(struct shoal_orch *o)
{
	int64_t at = SHOAL_ORCH_NEVER;

	if (o->in_flight == 0) {
		at = o->deadline < o->retry_at ? o->deadline : o->retry_at;
		if (o->dirty)
			at = o->env.now_ns(o->env.data);
	}
	if (at == o->armed)
		return;
	o->armed = at;
	o->env.wake(o->env.data, at);
}

static void on_change(const struct shoal_store_event *ev, void *data)
{
	struct shoal_orch *o = data;

	if (ev->table == SHOAL_STORE_TASK)
		shoal_orch__note_running(o->running, ev);
	o->dirty = true;
	rearm(o);
}

static void refused(struct shoal_orch *o, const struct shoal_err *err)
{
	o->failed = true;
	/* a race with the dispatcher's status reports is expected: its change wakes us */
	if (err->status == 500 && strstr(err->msg, "update out of sequence") != NULL)
		shoal_log_debug("change set refused, recomputing", "error=%s",
				shoal_log_q(err->msg));
	else
		shoal_log_warn("change set refused, will retry", "error=%s", shoal_log_q(err->msg));
}

/* The last answer of a round: back off if something was refused, then ask for a wake. */
static void round_over(struct shoal_orch *o)
{
	if (o->failed) {
		o->backoff = o->backoff ? o->backoff * 2 : RETRY_MIN;
		if (o->backoff > RETRY_MAX)
			o->backoff = RETRY_MAX;
		o->retry_at = o->env.now_ns(o->env.data) + o->backoff;
	} else {
		o->backoff = 0;
		o->retry_at = SHOAL_ORCH_NEVER;
	}
	o->failed = false;
	rearm(o);
}

static void proposed(void *ctx, const struct shoal_err *err)
{
	struct flight *f = ctx;
	struct shoal_orch *o = f->o;

	shoal_list_del(&f->link);
	free(f);
	if (o == NULL)
		return;
	assert(o->in_flight > 0);
	o->in_flight--;
	if (err != NULL)
		refused(o, err);
	if (o->in_flight == 0)
		round_over(o);
}

static void propose(struct shoal_orch *o, struct shoal_store_tx *tx)
{
	struct flight *f = shoal_calloc(1, sizeof(*f));
	struct shoal_err err;

	f->o = o;
	shoal_list_add_tail(&o->flights, &f->link);
	o->in_flight++;
	if (o->env.propose(o->env.data, tx, proposed, f, &err) < 0) {
		shoal_list_del(&f->link);
		free(f);
		o->in_flight--;
		refused(o, &err);
	}
}

static void pass(struct shoal_orch *o, int64_t now)
{
	struct shoal_orch__pass p = {
		.store = o->store,
		.now = now,
		.wake = SHOAL_ORCH_NEVER,
		.writes = json_object(),
		.creates = json_array(),
		.deletes = json_object(),
		.running = o->running,
	};
	struct shoal_store_obj **svcs;
	struct shoal_store_tx *tx;
	struct txs txs = { 0 };
	size_t n, i;

	shoal_orch__nodes_load(&p);
	shoal_orch__alloc_load(&p);
	/* nodes first: a node has its sandbox's address before a task is sent there */
	tx = shoal_orch__alloc_nodes(&p);
	if (tx != NULL)
		txs_add(&txs, tx);
	svcs = shoal_store_list(o->store, SHOAL_STORE_SERVICE, &n);
	for (i = 0; i < n; i++) {
		reconcile_service(&p, svcs[i]);
		flush(&p, &txs);
	}
	free(svcs);
	reap_orphans(&p, &txs);
	shoal_orch__alloc_free(&p);
	shoal_orch__nodes_free(&p);
	json_decref(p.writes);
	json_decref(p.creates);
	json_decref(p.deletes);
	o->deadline = p.wake;

	/* Only now: a propose that applies at once frees store objects the pass was reading. */
	for (i = 0; i < txs.n; i++) {
		propose(o, txs.v[i]);
		shoal_store_tx_free(txs.v[i]);
	}
	free(txs.v);
	if (txs.n > 0)
		shoal_log_debug("pass", "changesets=%zu in_flight=%u", txs.n, o->in_flight);
}

void shoal_orch_run(struct shoal_orch *o)
{
	o->armed = SHOAL_ORCH_NEVER; /* this was the wake, or a wake comes anyway */
	if (o->in_flight > 0)
		return;
	o->dirty = false;
	pass(o, o->env.now_ns(o->env.data));
	if (o->in_flight == 0)
		round_over(o);
}

struct shoal_orch *shoal_orch_new(struct shoal_store *s, const struct shoal_orch_env *env)
{
	struct shoal_orch *o = shoal_calloc(1, sizeof(*o));

	o->store = s;
	o->env = *env;
	shoal_list_init(&o->flights);
	o->running = json_object();
	o->armed = o->deadline = o->retry_at = SHOAL_ORCH_NEVER;
	o->watch = shoal_store_watch_add(s,
					 SHOAL_STORE_TABLE_BIT(SHOAL_STORE_SERVICE) |
						 SHOAL_STORE_TABLE_BIT(SHOAL_STORE_TASK) |
						 SHOAL_STORE_TABLE_BIT(SHOAL_STORE_NODE) |
						 SHOAL_STORE_TABLE_BIT(SHOAL_STORE_NETWORK) |
						 SHOAL_STORE_TABLE_BIT(SHOAL_STORE_CLUSTER),
					 SHOAL_STORE_ALL_KINDS, on_change, o);
	/* a new leader reconciles everything the store holds */
	o->dirty = true;
	rearm(o);
	return o;
}

void shoal_orch_free(struct shoal_orch *o)
{
	struct shoal_list *pos, *tmp;

	if (o == NULL)
		return;
	shoal_store_watch_remove(o->store, o->watch);
	shoal_list_foreach_safe(pos, tmp, &o->flights) {
		struct flight *f = shoal_list_entry(pos, struct flight, link);

		f->o = NULL;
		shoal_list_del(&f->link);
	}
	json_decref(o->running);
	free(o);
}

/*
 * The updater's predicate (swarmkit manager/orchestrator/task.go IsTaskDirty).
 */

/* Whether two objects are equal but for the members skip1 and skip2 (either may be NULL). */
static bool equal_but(const json_t *a, const json_t *b, const char *skip1, const char *skip2)
{
	const char *k;
	json_t *v;
	size_t n = 0, m = 0;

	json_object_foreach((json_t *)a, k, v) {
		if ((skip1 != NULL && strcmp(k, skip1) == 0) ||
		    (skip2 != NULL && strcmp(k, skip2) == 0))
			continue;
		if (!json_equal(v, json_object_get(b, k)))
			return false;
		n++;
	}
	json_object_foreach((json_t *)b, k, v) {
		if ((skip1 == NULL || strcmp(k, skip1) != 0) &&
		    (skip2 == NULL || strcmp(k, skip2) != 0))
			m++;
	}
	return n == m;
}

/* Runs for every slot on every pass: compares in place rather than on copies. */
bool shoal_orch_task_is_dirty(const json_t *service, const json_t *task, const json_t *node)
{
	const json_t *want = shoal_orch__get(service, "Spec", "TaskTemplate", NULL);
	const json_t *have = json_object_get(task, "Spec");
	json_t *empty = json_object();
	bool dirty = true;

	if (!json_is_object(want))
		want = empty;
	if (!json_is_object(have))
		have = empty;
	/* moby shows Runtime on the service's template only */
	if (equal_but(want, have, "Runtime", NULL))
		dirty = false;
	/* only the placement changed and the task's node still meets it */
	else if (node != NULL && equal_but(want, have, "Runtime", "Placement") &&
		 shoal_sched_constraints_match(
			 shoal_orch__get(want, "Placement", "Constraints", NULL), node))
		dirty = false;
	json_decref(empty);
	return dirty;
}
