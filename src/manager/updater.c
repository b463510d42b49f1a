/* The rolling updater (SWARM-SPEC §6; swarmkit manager/orchestrator/update/updater.go): when a
 * service's TaskTemplate changes, its dirty tasks are replaced slot by slot at the pace of its
 * UpdateConfig (RollbackConfig while rolling back), each new task is watched for Monitor, and
 * the service's UpdateStatus tells how it goes: updating, paused, completed, rollback_started,
 * rollback_paused, rollback_completed, with Docker's messages.
 *
 * swarmkit runs a goroutine per update whose progress lives in memory. Here the update is a
 * step of every pass that works its progress out of the store again, so that a new leader
 * carries it on where the old one stopped:
 * - the update runs since UpdateStatus.StartedAt; its tasks are those an update put in a slot
 *   since then (shoal_orch__replaced_by_update) that run the current spec;
 * - a worker is busy while its slot's new task has not reached running, then for Delay after
 *   it did (the task's running Status.Timestamp), so at most Parallelism slots are in hand;
 * - a failure is such a task that stopped before it ran or within Monitor of running;
 * - the update completes once no slot is dirty and Monitor has passed since the last worker
 *   was done.
 * Timers are only wake-ups (p->wake). The one thing kept in memory is when a task was first
 * seen running (p->running): a task missing from it, e.g. one that ran and stopped during a
 * leader election, counts as having failed before it ran.
 *
 * Starting a held replacement (desired "ready") once the task it replaces stopped is the
 * restart supervisor's (orchestrator.c start_if_due), without the restart delay for the
 * replacements an update made. Endpoint changes of an automatic rollback are left to the
 * allocator to come, events for UpdateStatus changes to the API layer. */
#include "manager/orch_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "updater"

/* SWARM-SPEC §9: swarmkit api/defaults/service.go */
#define DEFAULT_MONITOR (5 * SHOAL_ORCH__SECOND)

enum failure_action {
	ACTION_PAUSE,
	ACTION_CONTINUE,
	ACTION_ROLLBACK,
};

struct config {
	int64_t parallelism; /* 0: every dirty slot at once */
	int64_t delay;
	int64_t monitor;
	float max_failure_ratio; /* swarmkit compares in float32 */
	enum failure_action action;
	bool start_first;
};

/* What a pass finds in one slot. */
struct uslot {
	bool dirty;   /* needs a worker: a dirty task, or more than one live task */
	bool touched; /* this update put a task in it */
	bool waiting; /* that task has not reached running yet */
	bool busy;    /* its worker is not free yet: waiting, or within Delay after */
};

struct failure {
	const char *id;
	int64_t at; /* Status.Timestamp of the stop */
};

static bool state_is(const char *state, const char *what)
{
	return state != NULL && strcmp(state, what) == 0;
}

/* The UpdateConfig or RollbackConfig, defaults filled in as swarmkit does: absent means
 * parallelism 1, pause, monitor 5 s, stop-first; present with Parallelism left out means 0,
 * all at once; Monitor 0 means the default. */
static void config_load(const json_t *svc, bool rollback, struct config *cfg)
{
	const json_t *uc =
		shoal_orch__get(svc, "Spec", rollback ? "RollbackConfig" : "UpdateConfig", NULL);
	const json_t *ratio = json_object_get(uc, "MaxFailureRatio");
	const char *action = shoal_orch__str(uc, "FailureAction", NULL);
	const char *order = shoal_orch__str(uc, "Order", NULL);

	*cfg = (struct config){
		.parallelism = 1,
		.monitor = DEFAULT_MONITOR,
		.action = ACTION_PAUSE,
	};
	if (!json_is_object(uc))
		return;
	cfg->parallelism = shoal_orch__int(uc, "Parallelism", NULL);
	if (cfg->parallelism < 0)
		cfg->parallelism = 0;
	cfg->delay = shoal_orch__int(uc, "Delay", NULL);
	if (cfg->delay < 0)
		cfg->delay = 0;
	if (shoal_orch__int(uc, "Monitor", NULL) > 0)
		cfg->monitor = shoal_orch__int(uc, "Monitor", NULL);
	if (json_is_number(ratio))
		cfg->max_failure_ratio = (float)json_number_value(ratio);
	if (action != NULL && strcmp(action, "continue") == 0)
		cfg->action = ACTION_CONTINUE;
	else if (action != NULL && strcmp(action, "rollback") == 0)
		cfg->action = ACTION_ROLLBACK;
	cfg->start_first = order != NULL && strcmp(order, "start-first") == 0;
}

static bool dirty(const struct shoal_orch__pass *p, const struct shoal_orch__svc *c,
		  const json_t *t)
{
	const struct shoal_orch__node *n = shoal_orch__node(p, shoal_orch__node_of(t));

	return shoal_orch_task_is_dirty(c->json, t, n != NULL ? n->json : NULL);
}

static bool live(const json_t *t)
{
	return shoal_orch__desired(t) <= SHOAL_TASK_RUNNING;
}

/* The restart supervisor replaces a task that stopped on its own (complete, failed, rejected,
 * orphaned) or whose node went away, with the spec of the moment; an update replaces a live
 * one, which it then stops ("shutdown"), by one of another spec. The store keeps no more than
 * that to tell them apart. */
bool shoal_orch__replaced_by_update(const struct shoal_orch__pass *p,
				    const struct shoal_orch__slot *s, size_t k)
{
	const json_t *t, *prev;
	const struct shoal_orch__node *n;
	enum shoal_task_state st;
	const char *node;

	if (k == 0 || k >= s->n)
		return false;
	t = shoal_orch__view(p, s->t[k].o);
	prev = shoal_orch__view(p, s->t[k - 1].o);
	if (json_equal(json_object_get(t, "Spec"), json_object_get(prev, "Spec")))
		return false;
	st = shoal_orch__observed(prev);
	if (st > SHOAL_TASK_RUNNING && st != SHOAL_TASK_SHUTDOWN)
		return false;
	node = shoal_orch__node_of(prev);
	n = shoal_orch__node(p, node);
	return *node == '\0' || (n != NULL && !n->down && !n->drained);
}

void shoal_orch__note_running(json_t *running, const struct shoal_store_event *ev)
{
	if (ev->kind == SHOAL_STORE_DELETE) {
		json_object_del(running, ev->id);
		return;
	}
	if (ev->new == NULL || shoal_orch__observed(ev->new) != SHOAL_TASK_RUNNING ||
	    json_object_get(running, ev->id) != NULL)
		return;
	json_object_set_new(running, ev->id,
			    json_integer(shoal_orch__time(
				    shoal_orch__get(ev->new, "Status", "Timestamp", NULL))));
}

/* When the task reached running, as well as the store and the cache tell: for a task that
 * stopped without being seen running, when it stopped. */
static int64_t running_since(const struct shoal_orch__pass *p, const json_t *t, const char *id)
{
	const json_t *seen = json_object_get(p->running, id);
	int64_t ts = shoal_orch__time(shoal_orch__get(t, "Status", "Timestamp", NULL));

	if (seen != NULL)
		return (int64_t)json_integer_value(seen);
	if (shoal_orch__observed(t) == SHOAL_TASK_RUNNING)
		json_object_set_new(p->running, id, json_integer(ts));
	return ts;
}

/*
 * UpdateStatus, written in the service's working copy: the change set carries it with the
 * tasks it goes with.
 */

static json_t *service_mut(struct shoal_orch__pass *p, const struct shoal_orch__svc *c)
{
	if (p->service == NULL)
		p->service = json_deep_copy(c->json);
	return p->service;
}

/* UpdateStatus in Go's member order; StartedAt is kept unless start. */
static void status_set(struct shoal_orch__pass *p, const struct shoal_orch__svc *c,
		       const char *state, const char *msg, bool start, bool complete)
{
	json_t *svc = service_mut(p, c), *us = json_object();
	const char *started = shoal_orch__str(svc, "UpdateStatus", "StartedAt", NULL);
	char now[64];

	shoal_time_format_rfc3339nano(p->now, now, sizeof(now));
	json_object_set_new(us, "State", json_string(state));
	if (start || started != NULL)
		json_object_set_new(us, "StartedAt", json_string(start ? now : started));
	if (complete)
		json_object_set_new(us, "CompletedAt", json_string(now));
	json_object_set_new(us, "Message", json_string(msg));
	json_object_set_new(svc, "UpdateStatus", us);
	shoal_log_info("service update status", "service=%s state=%s message=%s", c->obj->id, state,
		       shoal_log_q(msg));
}

/* FailureAction rollback: the previous spec comes back, and the next pass rolls back to it
 * with its RollbackConfig. */
static void rollback(struct shoal_orch__pass *p, const struct shoal_orch__svc *c, const char *msg)
{
	const json_t *prev = json_object_get(c->json, "PreviousSpec");
	json_t *svc;

	if (prev == NULL) {
		/* swarmkit leaves the service as it is and the update stopped */
		shoal_log_error("cannot roll back service because no previous spec is available",
				"service=%s", c->obj->id);
		return;
	}
	svc = service_mut(p, c);
	json_object_set_new(svc, "Spec", json_deep_copy(prev));
	json_object_del(svc, "PreviousSpec");
	status_set(p, c, "rollback_started", msg, false, false);
}

/* The FailureAction once failures outnumber MaxFailureRatio of the slots. */
static void fail(struct shoal_orch__pass *p, const struct shoal_orch__svc *c,
		 const struct config *cfg, bool rolling_back, const char *task)
{
	char msg[160];

	if (cfg->action == ACTION_ROLLBACK && !rolling_back) {
		snprintf(msg, sizeof(msg),
			 "update rolled back due to failure or early termination of task %s", task);
		rollback(p, c, msg);
		return;
	}
	/* a rollback is never rolled back */
	if (cfg->action == ACTION_ROLLBACK)
		snprintf(msg, sizeof(msg),
			 "rollback paused due to failure or early termination of task %s", task);
	else
		snprintf(msg, sizeof(msg),
			 "update paused due to failure or early termination of task %s", task);
	status_set(p, c, rolling_back ? "rollback_paused" : "paused", msg, false, false);
}

static int cmp_failure(const void *a, const void *b)
{
	const struct failure *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return strcmp(x->id, y->id);
}

/*
 * A slot in the update's hands.
 */

/* Whether the slot's k-th task is one this update (running since `since`) put there. */
static bool update_task(const struct shoal_orch__pass *p, const struct shoal_orch__svc *c,
			const struct shoal_orch__slot *s, size_t k, int64_t since)
{
	return s->t[k].created >= since && !dirty(p, c, shoal_orch__view(p, s->t[k].o)) &&
	       shoal_orch__replaced_by_update(p, s, k);
}

/* Looks at the task this update put in the slot last: its worker is busy until it runs, then
 * for Delay; a start-first replacement that runs sees the tasks it replaces shut down.
 * Returns when the worker is free again, or INT64_MIN. */
static int64_t slot_progress(struct shoal_orch__pass *p, const struct shoal_orch__svc *c,
			     const struct shoal_orch__slot *s, int64_t since,
			     const struct config *cfg, struct uslot *u, int64_t *handed)
{
	const json_t *t = NULL;
	enum shoal_task_state st;
	int64_t free_at;
	size_t k, last = 0;

	for (k = 0; k < s->n; k++) {
		if (update_task(p, c, s, k, since)) {
			t = shoal_orch__view(p, s->t[k].o);
			last = k;
		}
	}
	if (t == NULL)
		return INT64_MIN;
	u->touched = true;
	if (s->t[last].created > *handed)
		*handed = s->t[last].created;
	st = shoal_orch__observed(t);
	if (live(t) && st < SHOAL_TASK_RUNNING) {
		u->waiting = u->busy = true;
		return INT64_MIN;
	}
	free_at = running_since(p, t, s->t[last].o->id) + cfg->delay;
	if (p->now < free_at) {
		u->busy = true;
		shoal_orch__wake_at(p, free_at);
	}
	if (live(t) && st == SHOAL_TASK_RUNNING) {
		for (k = 0; k < s->n; k++)
			if (k != last && live(shoal_orch__view(p, s->t[k].o)))
				shoal_orch__set_desired(p, s->t[k].o, SHOAL_TASK_SHUTDOWN);
	}
	return free_at;
}

/* The slot's failures (swarmkit's failureTriggersAction): tasks this update put there that
 * stopped before they were seen running, or within Monitor of it. A task being removed (scale
 * down) is not one. Once every slot is handed out swarmkit watches for Delay + 1 s when that
 * is longer, so a task stopping after `stretch` (the last hand-out, INT64_MAX while slots are
 * left) gets that window. */
static void slot_failures(struct shoal_orch__pass *p, const struct shoal_orch__svc *c,
			  const struct shoal_orch__slot *s, int64_t since, const struct config *cfg,
			  int64_t stretch, struct failure *fails, size_t *n)
{
	int64_t at, window;
	const char *id;
	const json_t *v;
	size_t k;

	for (k = 0; k < s->n; k++) {
		v = shoal_orch__view(p, s->t[k].o);
		id = s->t[k].o->id;
		if (shoal_orch__observed(v) <= SHOAL_TASK_RUNNING ||
		    shoal_orch__desired(v) == SHOAL_TASK_REMOVE || !update_task(p, c, s, k, since))
			continue;
		at = shoal_orch__time(shoal_orch__get(v, "Status", "Timestamp", NULL));
		window = cfg->monitor;
		if (at >= stretch && cfg->delay >= cfg->monitor)
			window = cfg->delay + SHOAL_ORCH__SECOND;
		if (json_object_get(p->running, id) != NULL &&
		    at - running_since(p, v, id) > window)
			continue;
		fails[(*n)++] = (struct failure){ id, at };
	}
}

/* Whether the slot needs a worker: more than one live task, or one that is dirty; a slot kept
 * stopped by its restart policy is judged by its last task. */
static bool slot_dirty(const struct shoal_orch__pass *p, const struct shoal_orch__svc *c,
		       const struct shoal_orch__slot *s)
{
	const json_t *v, *one = NULL;
	size_t k, n = 0;

	if (!s->runnable || s->created != NULL)
		return false;
	for (k = 0; k < s->n; k++) {
		v = shoal_orch__view(p, s->t[k].o);
		if (live(v)) {
			one = v;
			n++;
		}
	}
	if (n == 0 && s->n > 0) {
		one = shoal_orch__view(p, s->t[s->n - 1].o);
		if (shoal_orch__desired(one) >= SHOAL_TASK_REMOVE)
			return false;
	}
	return n > 1 || (one != NULL && dirty(p, c, one));
}

/* A worker's job on one slot (swarmkit's worker): a clean task already there only needs the
 * others shut down; otherwise a new task goes in, held at desired "ready" until the old ones
 * stopped (stop-first, shut down in the same change set) or running at once next to them
 * (start-first, they go once it runs). */
static void replace(struct shoal_orch__pass *p, struct shoal_orch__svc *c,
		    struct shoal_orch__slot *s, const struct config *cfg)
{
	const struct shoal_store_obj *keep = NULL;
	const json_t *v;
	bool had_live = false;
	size_t k;

	for (k = 0; k < s->n; k++) {
		v = shoal_orch__view(p, s->t[k].o);
		if (!live(v) || dirty(p, c, v))
			continue;
		keep = s->t[k].o;
		if (shoal_orch__desired(v) == SHOAL_TASK_RUNNING)
			break;
	}
	for (k = 0; k < s->n; k++) {
		v = shoal_orch__view(p, s->t[k].o);
		if (!live(v) || s->t[k].o == keep)
			continue;
		had_live = true;
		if (keep != NULL || !cfg->start_first)
			shoal_orch__set_desired(p, s->t[k].o, SHOAL_TASK_SHUTDOWN);
	}
	if (keep != NULL) {
		shoal_log_debug("slot updated to its clean task", "service=%s task=%s", c->obj->id,
				keep->id);
		return;
	}
	s->created = shoal_orch__task_new(p, c, s->num, c->global ? s->node : NULL,
					  had_live && !cfg->start_first ? SHOAL_TASK_READY :
									  SHOAL_TASK_RUNNING);
	shoal_log_debug("slot updated", "service=%s slot=%lld node=%s task=%s", c->obj->id,
			(long long)s->num, s->node, shoal_orch__str(s->created, "ID", NULL));
}

/*
 * The step.
 */

void shoal_orch__update(struct shoal_orch__pass *p, struct shoal_orch__svc *c)
{
	const json_t *us = json_object_get(c->json, "UpdateStatus");
	const char *state = shoal_orch__str(us, "State", NULL);
	bool rolling_back = state_is(state, "rollback_started");
	bool active = rolling_back || state_is(state, "updating");
	struct uslot *u = shoal_calloc(c->nslots + 1, sizeof(*u));
	struct failure *fails = shoal_calloc(c->nall + 1, sizeof(*fails));
	int64_t since = SHOAL_ORCH_NEVER, last = INT64_MIN, handed = INT64_MIN, at, room;
	size_t i, nfails = 0, ndirty = 0, ntodo = 0, nbusy = 0, nwaiting = 0, total = 0;
	struct config cfg;

	config_load(c->json, rolling_back, &cfg);
	/* a new update's tasks are all still to come */
	if (us != NULL)
		since = shoal_orch__time(json_object_get(us, "StartedAt"));

	for (i = 0; i < c->nslots; i++) {
		at = slot_progress(p, c, &c->slots[i], since, &cfg, &u[i], &handed);
		if (at > last)
			last = at;
		nbusy += u[i].busy;
		nwaiting += u[i].waiting;
	}
	/* after slot_progress: a start-first slot whose old tasks just went is clean */
	for (i = 0; i < c->nslots; i++) {
		u[i].dirty = slot_dirty(p, c, &c->slots[i]);
		ndirty += u[i].dirty;
		ntodo += u[i].dirty && !u[i].busy;
		total += u[i].dirty || u[i].touched;
	}
	for (i = 0; i < c->nslots; i++)
		slot_failures(p, c, &c->slots[i], since, &cfg, ntodo == 0 ? handed : INT64_MAX,
			      fails, &nfails);

	/* paused: only the slots in hand finish (swarmkit's workers end their slot) */
	if (state_is(state, "paused") || state_is(state, "rollback_paused"))
		goto out;

	if (active && cfg.action != ACTION_CONTINUE && nfails > 0) {
		qsort(fails, nfails, sizeof(*fails), cmp_failure);
		for (i = 0; i < nfails; i++) {
			if ((float)(i + 1) / (float)total > cfg.max_failure_ratio) {
				fail(p, c, &cfg, rolling_back, fails[i].id);
				goto out;
			}
		}
	}

	if (us == NULL) {
		if (ndirty == 0)
			goto out;
		status_set(p, c, "updating", "update in progress", true, false);
		active = true;
	}

	room = cfg.parallelism == 0 ? (int64_t)ntodo : cfg.parallelism - (int64_t)nbusy;
	for (i = 0; i < c->nslots && room > 0; i++) {
		if (!u[i].dirty || u[i].busy)
			continue;
		if (c->ncreated >= SHOAL_ORCH__MAX_CREATES)
			break;
		replace(p, c, &c->slots[i], &cfg);
		room--;
	}

	if (!active || ndirty > 0 || nwaiting > 0)
		goto out;
	/* every slot done: watch one more Monitor after the last worker's Delay */
	if (last != INT64_MIN) {
		at = last +
		     (cfg.delay >= cfg.monitor ? cfg.delay + SHOAL_ORCH__SECOND : cfg.monitor);
		if (p->now < at) {
			shoal_orch__wake_at(p, at);
			goto out;
		}
	}
	if (rolling_back)
		status_set(p, c, "rollback_completed", "rollback completed", false, true);
	else
		status_set(p, c, "completed", "update completed", false, true);
out:
	free(fails);
	free(u);
}
