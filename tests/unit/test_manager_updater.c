/* Unit tests for src/manager/updater.c: rolling updates and rollbacks (SWARM-SPEC §6) on a
 * real store and a stepped clock (orch_fixture.h): pacing by Parallelism and Delay,
 * stop-first and start-first, Monitor and the failure actions, UpdateStatus with Docker's
 * texts, superseded updates, and a new leader carrying an update on from the store. */
#include "orch_fixture.h"

#include "base/mem.h"

#define LATEST "instavote/vote:latest"
#define INDENT "instavote/vote:indent"
#define V3     "instavote/vote:v3"

/*
 * Fixture: a cluster object (history 5), node1 (manager), node2, node3, all ready and active,
 * and a started orchestrator.
 */

static int setup(void **state)
{
	struct fx *f;
	int i;

	fx_setup_empty(state);
	f = *state;
	fx_cluster(f, 5);
	for (i = 0; i < 3; i++)
		fx_node(f, i);
	fx_start(f);
	return 0;
}

/*
 * Helpers.
 */

/* An UpdateConfig (or RollbackConfig) as the API stores what the CLI sends. */
static json_t *update_config(int parallelism, int64_t delay, const char *action, double ratio,
			     const char *order)
{
	return json_pack("{s:i, s:I, s:s, s:I, s:f, s:s}", "Parallelism", parallelism, "Delay",
			 (json_int_t)delay, "FailureAction", action, "Monitor",
			 (json_int_t)(5 * SEC), "MaxFailureRatio", ratio, "Order", order);
}

static json_t *with_update(json_t *svc, int parallelism, int64_t delay, const char *action,
			   double ratio, const char *order)
{
	json_object_set_new(json_object_get(svc, "Spec"), "UpdateConfig",
			    update_config(parallelism, delay, action, ratio, order));
	return svc;
}

static json_t *with_rollback(json_t *svc, int parallelism, const char *action)
{
	json_object_set_new(json_object_get(svc, "Spec"), "RollbackConfig",
			    update_config(parallelism, 0, action, 0, "stop-first"));
	return svc;
}

/* Creates the service and lets agents run every task, then lets a second pass so that the
 * update's tasks are created later than the first ones. */
static const char *running_service(struct fx *f, json_t *svc, char *id)
{
	fx_service(f, svc, id);
	fx_run(f);
	fx_agents(f);
	fx_advance(f, SEC);
	return id;
}

static json_t *spec_of(json_t *svc)
{
	return json_object_get(svc, "Spec");
}

/* What the API layer does on POST /services/ID/update: PreviousSpec := Spec, the change,
 * UpdateStatus cleared. */
static json_t *api_begin(struct fx *f, const char *id)
{
	json_t *s = fx_copy(f, SHOAL_STORE_SERVICE, id);

	json_object_set_new(s, "PreviousSpec", json_deep_copy(spec_of(s)));
	json_object_del(s, "UpdateStatus");
	return s;
}

static void update_image(struct fx *f, const char *id, const char *image)
{
	json_t *s = api_begin(f, id);

	json_object_set_new(json_object_get(fx_template(s), "ContainerSpec"), "Image",
			    json_string(image));
	fx_put(f, SHOAL_STORE_SERVICE, s);
	fx_run(f);
}

/* POST /services/ID/update?rollback=previous. */
static void api_rollback(struct fx *f, const char *id)
{
	json_t *s = fx_copy(f, SHOAL_STORE_SERVICE, id), *prev;
	char ts[64];

	prev = json_incref(json_object_get(s, "PreviousSpec"));
	assert_non_null(prev);
	json_object_set_new(s, "PreviousSpec", json_deep_copy(spec_of(s)));
	json_object_set_new(s, "Spec", prev);
	shoal_time_format_rfc3339nano(f->now, ts, sizeof(ts));
	json_object_set_new(s, "UpdateStatus",
			    json_pack("{s:s, s:s, s:s}", "State", "rollback_started", "StartedAt",
				      ts, "Message", "manually requested rollback"));
	fx_put(f, SHOAL_STORE_SERVICE, s);
	fx_run(f);
}

static const json_t *service(struct fx *f, const char *id)
{
	return shoal_store_get(f->s, SHOAL_STORE_SERVICE, id)->json;
}

static const char *us(struct fx *f, const char *id, const char *key)
{
	return fx_str(json_object_get(service(f, id), "UpdateStatus"), key, NULL);
}

static const char *fmt(int64_t ns)
{
	static char buf[64];

	shoal_time_format_rfc3339nano(ns, buf, sizeof(buf));
	return buf;
}

static const char *image_of(const json_t *t)
{
	return fx_str(json_object_get(t, "Spec"), "ContainerSpec", "Image");
}

/* How many of the service's tasks run image with this desired state (NULL: any). */
static int count_image(struct fx *f, const char *svc, const char *image, const char *desired)
{
	struct fx_list l;
	size_t k;
	int n = 0;

	fx_tasks(f, svc, desired, &l);
	for (k = 0; k < l.n; k++)
		n += strcmp(image_of(l.t[k]), image) == 0;
	return n;
}

/* The image of a slot's live task. */
static const char *slot_image(struct fx *f, const char *svc, long long slot)
{
	const json_t *t = fx_live(f, svc, slot);

	assert_non_null(t);
	return image_of(t);
}

/* The newest task of a slot. */
static const json_t *newest(struct fx *f, const char *svc, long long slot)
{
	const json_t *last = NULL;
	struct fx_list l;
	size_t k;

	fx_tasks(f, svc, NULL, &l);
	for (k = 0; k < l.n; k++)
		if (fx_slot(l.t[k]) == slot &&
		    (last == NULL || strcmp(fx_str(l.t[k], "CreatedAt", NULL),
					    fx_str(last, "CreatedAt", NULL)) > 0))
			last = l.t[k];
	assert_non_null(last);
	return last;
}

static void copy_id(const json_t *t, char *out)
{
	assert_non_null(t);
	snprintf(out, SHOAL_STORE_ID_LEN + 1, "%s", fx_str(t, "ID", NULL));
}

/* Asserts that no slot has two live tasks and that live tasks number n. */
static void assert_live_slots(struct fx *f, const char *svc, size_t n)
{
	struct fx_list l;
	long long seen[64] = { 0 };
	size_t k, live = 0;
	const char *d;

	fx_tasks(f, svc, NULL, &l);
	for (k = 0; k < l.n; k++) {
		d = fx_str(l.t[k], "DesiredState", NULL);
		if (strcmp(d, "running") != 0 && strcmp(d, "ready") != 0)
			continue;
		assert_true(fx_slot(l.t[k]) >= 0 && fx_slot(l.t[k]) < 64);
		if (fx_slot(l.t[k]) > 0)
			assert_int_equal(seen[fx_slot(l.t[k])]++, 0);
		live++;
	}
	assert_int_equal(live, n);
}

static void assert_status(struct fx *f, const char *id, const char *state, const char *msg)
{
	assert_non_null(us(f, id, "State"));
	assert_string_equal(us(f, id, "State"), state);
	assert_string_equal(us(f, id, "Message"), msg);
}

/* The message naming a task, as Docker writes it. */
static const char *failure_msg(const char *what, const char *task)
{
	static char buf[200];

	snprintf(buf, sizeof(buf), "%s due to failure or early termination of task %s", what, task);
	return buf;
}

/*
 * Tests.
 */

/* Parallelism 2, Delay 15 s, a new image: UpdateStatus "updating" at once, slots replaced two
 * by two, each pair 15 s after the previous one runs, old task shut down before its
 * replacement starts; "completed" once Delay and Monitor (stretched to Delay + 1 s) passed. */
static void test_update_replaces_pairs_with_delay(void **state)
{
	static const char *const keys[] = { "State", "StartedAt", "CompletedAt", "Message" };
	static const char *const skeys[] = { "ID",   "Version",	     "CreatedAt",   "UpdatedAt",
					     "Spec", "PreviousSpec", "UpdateStatus" };
	struct fx *f = *state;
	char svc[32], old1[32];
	int64_t started, ran;
	const json_t *t, *v;
	const char *k;
	size_t i = 0;

	running_service(
		f, with_update(fx_service_json("vote", 6), 2, 15 * SEC, "pause", 0, "stop-first"),
		svc);
	copy_id(fx_live(f, svc, 1), old1);
	started = f->now;
	update_image(f, svc, INDENT);
	assert_status(f, svc, "updating", "update in progress");
	assert_string_equal(us(f, svc, "StartedAt"), fmt(started));
	assert_null(us(f, svc, "CompletedAt"));

	/* slots 1 and 2: the old task shut down, its replacement held until it stopped */
	assert_string_equal(fx_str(fx_task(f, old1), "DesiredState", NULL), "shutdown");
	t = fx_live(f, svc, 1);
	assert_string_equal(image_of(t), INDENT);
	assert_string_equal(fx_str(t, "DesiredState", NULL), "ready");
	assert_string_equal(slot_image(f, svc, 2), INDENT);
	assert_int_equal(count_image(f, svc, INDENT, NULL), 2);
	assert_int_equal(count_image(f, svc, LATEST, "running"), 4);

	fx_agents(f);
	assert_int_equal(count_image(f, svc, INDENT, "running"), 2);
	assert_int_equal(fx_count_state(f, svc, "running"), 6);
	ran = f->now;
	fx_advance(f, 15 * SEC - 1);
	assert_int_equal(count_image(f, svc, INDENT, NULL), 2);
	fx_advance(f, 1);
	assert_int_equal(count_image(f, svc, INDENT, NULL), 4);
	assert_string_equal(slot_image(f, svc, 3), INDENT);
	assert_string_equal(slot_image(f, svc, 4), INDENT);
	fx_agents(f);
	fx_advance(f, 15 * SEC);
	assert_int_equal(count_image(f, svc, INDENT, NULL), 6);
	fx_agents(f);
	ran = f->now;
	assert_int_equal(count_image(f, svc, INDENT, "running"), 6);
	assert_live_slots(f, svc, 6);
	assert_status(f, svc, "updating", "update in progress");

	fx_advance(f, 15 * SEC + 16 * SEC - 1);
	assert_status(f, svc, "updating", "update in progress");
	fx_advance(f, 1);
	assert_status(f, svc, "completed", "update completed");
	assert_string_equal(us(f, svc, "StartedAt"), fmt(started));
	assert_string_equal(us(f, svc, "CompletedAt"), fmt(ran + 31 * SEC));
	json_object_foreach(json_object_get(service(f, svc), "UpdateStatus"), k, v) {
		assert_true(i < SHOAL_ARRAY_SIZE(keys));
		assert_string_equal(k, keys[i++]);
	}
	assert_int_equal(i, 4);
	/* the service keeps Docker's member order, UpdateStatus last, and its PreviousSpec */
	i = 0;
	json_object_foreach((json_t *)service(f, svc), k, v) {
		assert_true(i < SHOAL_ARRAY_SIZE(skeys));
		assert_string_equal(k, skeys[i++]);
	}
	assert_int_equal(i, SHOAL_ARRAY_SIZE(skeys));
	/* each slot keeps its old task as history */
	assert_int_equal(count_image(f, svc, LATEST, "shutdown"), 6);
	assert_int_equal(fx_count_state(f, svc, "shutdown"), 6);
}

/* Parallelism 0 replaces every slot at once; with no Delay the update completes Monitor after
 * the last task runs. */
static void test_parallelism_zero_replaces_all_at_once(void **state)
{
	struct fx *f = *state;
	char svc[32];
	int64_t ran;

	running_service(f, with_update(fx_service_json("vote", 6), 0, 0, "pause", 0, "stop-first"),
			svc);
	update_image(f, svc, INDENT);
	assert_int_equal(count_image(f, svc, INDENT, "ready"), 6);
	assert_int_equal(count_image(f, svc, LATEST, "shutdown"), 6);
	fx_advance(f, 2 * SEC);
	fx_agents(f);
	ran = f->now;
	assert_int_equal(count_image(f, svc, INDENT, "running"), 6);
	fx_advance(f, 5 * SEC - 1);
	assert_status(f, svc, "updating", "update in progress");
	fx_advance(f, 1);
	assert_status(f, svc, "completed", "update completed");
	assert_string_equal(us(f, svc, "CompletedAt"), fmt(ran + 5 * SEC));
}

/* Without an UpdateConfig the defaults apply: one slot at a time. */
static void test_default_config_one_at_a_time(void **state)
{
	struct fx *f = *state;
	char svc[32];

	running_service(f, fx_service_json("vote", 3), svc);
	update_image(f, svc, INDENT);
	assert_int_equal(count_image(f, svc, INDENT, NULL), 1);
	/* no Delay: each slot is taken as soon as the previous one runs */
	fx_agents(f);
	assert_int_equal(count_image(f, svc, INDENT, "running"), 3);
	fx_advance(f, 5 * SEC - 1);
	assert_status(f, svc, "updating", "update in progress");
	fx_advance(f, 1);
	assert_status(f, svc, "completed", "update completed");
}

/* Start-first: the new task runs next to the old one, which is shut down only once the new
 * one reports running. */
static void test_start_first_stops_old_once_new_runs(void **state)
{
	struct fx *f = *state;
	char svc[32], old[32], neu[32];
	struct fx_list l;
	size_t k;

	running_service(f, with_update(fx_service_json("vote", 2), 1, 0, "pause", 0, "start-first"),
			svc);
	copy_id(fx_live(f, svc, 1), old);
	update_image(f, svc, INDENT);
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 3);
	neu[0] = '\0';
	for (k = 0; k < l.n; k++)
		if (strcmp(image_of(l.t[k]), INDENT) == 0)
			copy_id(l.t[k], neu);
	assert_int_equal(fx_slot(fx_task(f, neu)), 1);
	assert_string_equal(fx_str(fx_task(f, neu), "Status", "State"), "assigned");
	assert_string_equal(fx_str(fx_task(f, old), "DesiredState", NULL), "running");

	fx_advance(f, 10 * SEC);
	assert_string_equal(fx_str(fx_task(f, old), "DesiredState", NULL), "running");
	fx_report(f, neu, "running", "started");
	fx_run(f);
	assert_string_equal(fx_str(fx_task(f, old), "DesiredState", NULL), "shutdown");
	/* and slot 2 is next, the same way */
	assert_int_equal(count_image(f, svc, INDENT, "running"), 2);
	assert_int_equal(count_image(f, svc, LATEST, "running"), 1);
	fx_agents(f);
	assert_live_slots(f, svc, 2);
	assert_int_equal(count_image(f, svc, INDENT, "running"), 2);
	fx_advance(f, 5 * SEC);
	assert_status(f, svc, "completed", "update completed");
}

/* Start-first with a Delay: the old task goes as soon as the new one runs, not after the
 * Delay, which only holds back the next slot. */
static void test_start_first_with_delay(void **state)
{
	struct fx *f = *state;
	char svc[32], old[32], neu[32];

	running_service(
		f, with_update(fx_service_json("vote", 2), 1, 10 * SEC, "pause", 0, "start-first"),
		svc);
	copy_id(fx_live(f, svc, 1), old);
	update_image(f, svc, INDENT);
	copy_id(newest(f, svc, 1), neu);
	assert_string_equal(image_of(fx_task(f, neu)), INDENT);
	fx_report(f, neu, "running", "started");
	fx_run(f);
	assert_int_equal(count_image(f, svc, INDENT, "running"), 1);
	assert_int_equal(count_image(f, svc, INDENT, NULL), 1);
	assert_string_equal(fx_str(fx_task(f, old), "DesiredState", NULL), "shutdown");
	fx_advance(f, 10 * SEC);
	assert_int_equal(count_image(f, svc, INDENT, NULL), 2);
}

/* FailureAction pause: a new task failing within Monitor pauses the update with Docker's
 * message; no further slot is replaced while paused, whatever the time. */
static void test_failure_pauses_update(void **state)
{
	struct fx *f = *state;
	char svc[32], bad[32];

	running_service(
		f, with_update(fx_service_json("vote", 4), 1, 10 * SEC, "pause", 0, "stop-first"),
		svc);
	update_image(f, svc, INDENT);
	fx_agents(f);
	copy_id(fx_live(f, svc, 1), bad);
	assert_string_equal(image_of(fx_task(f, bad)), INDENT);
	fx_advance(f, 3 * SEC);
	fx_report(f, bad, "failed", "started");
	fx_run(f);
	assert_status(f, svc, "paused", failure_msg("update paused", bad));
	assert_null(us(f, svc, "CompletedAt"));
	fx_advance(f, 60 * SEC);
	fx_agents(f);
	fx_advance(f, 60 * SEC);
	assert_status(f, svc, "paused", failure_msg("update paused", bad));
	/* the failed slot is restarted by its restart policy; the others stay as they were */
	assert_string_equal(slot_image(f, svc, 1), INDENT);
	assert_string_equal(slot_image(f, svc, 2), LATEST);
	assert_string_equal(slot_image(f, svc, 3), LATEST);
	assert_string_equal(slot_image(f, svc, 4), LATEST);
}

/* A task rejected before it ever ran is a failure too. */
static void test_rejected_task_is_a_failure(void **state)
{
	struct fx *f = *state;
	char svc[32], old[32], bad[32];

	running_service(f, fx_service_json("vote", 2), svc);
	copy_id(fx_live(f, svc, 1), old);
	update_image(f, svc, INDENT);
	fx_report(f, old, "shutdown", "shutdown");
	fx_run(f);
	copy_id(fx_live(f, svc, 1), bad);
	assert_string_equal(fx_str(fx_task(f, bad), "DesiredState", NULL), "running");
	fx_report(f, bad, "rejected", "preparing");
	fx_run(f);
	assert_status(f, svc, "paused", failure_msg("update paused", bad));
}

/* A new task failing after Monitor is over is no failure of the update. */
static void test_failure_after_monitor_ignored(void **state)
{
	struct fx *f = *state;
	char svc[32], t1[32];

	running_service(
		f, with_update(fx_service_json("vote", 3), 1, 20 * SEC, "pause", 0, "stop-first"),
		svc);
	update_image(f, svc, INDENT);
	fx_agents(f);
	copy_id(fx_live(f, svc, 1), t1);
	fx_advance(f, 5 * SEC + 1);
	fx_report(f, t1, "failed", "started");
	fx_run(f);
	assert_status(f, svc, "updating", "update in progress");
	fx_advance(f, 30 * SEC);
	fx_agents(f);
	/* slot 1 restarted by its policy, slot 2 taken 20 s after slot 1 ran */
	assert_string_equal(slot_image(f, svc, 1), INDENT);
	assert_string_equal(slot_image(f, svc, 2), INDENT);
	assert_string_equal(slot_image(f, svc, 3), LATEST);
	assert_int_equal(count_image(f, svc, INDENT, NULL), 3);
	assert_status(f, svc, "updating", "update in progress");
}

/* A task whose running report came between two passes is still judged from when it ran:
 * stopping 6 s later is past Monitor. */
static void test_running_seen_between_passes(void **state)
{
	struct fx *f = *state;
	char svc[32], old[32], t1[32];

	running_service(f, with_update(fx_service_json("vote", 2), 1, 0, "pause", 0, "stop-first"),
			svc);
	copy_id(fx_live(f, svc, 1), old);
	update_image(f, svc, INDENT);
	fx_report(f, old, "shutdown", "shutdown");
	fx_run(f);
	copy_id(fx_live(f, svc, 1), t1);
	/* no pass runs between the two reports */
	fx_report(f, t1, "running", "started");
	f->now += 6 * SEC;
	fx_report(f, t1, "failed", "started");
	fx_run(f);
	assert_status(f, svc, "updating", "update in progress");
}

/* Once every slot is handed out and Delay >= Monitor, swarmkit watches for Delay + 1 s: a
 * task stopping 8 s after it ran (Monitor 5 s, Delay 10 s) is a failure then. */
static void test_last_slot_watched_for_delay(void **state)
{
	struct fx *f = *state;
	char svc[32], last[32];

	running_service(
		f, with_update(fx_service_json("vote", 2), 1, 10 * SEC, "pause", 0, "stop-first"),
		svc);
	update_image(f, svc, INDENT);
	fx_agents(f);
	fx_advance(f, 10 * SEC);
	fx_agents(f);
	copy_id(fx_live(f, svc, 2), last);
	assert_string_equal(image_of(fx_task(f, last)), INDENT);
	fx_advance(f, 8 * SEC);
	fx_report(f, last, "failed", "started");
	fx_run(f);
	assert_status(f, svc, "paused", failure_msg("update paused", last));
}

/* FailureAction continue: failures are ignored and the update completes. */
static void test_failure_continue_completes(void **state)
{
	struct fx *f = *state;
	char svc[32], bad[32];
	int i;

	running_service(
		f, with_update(fx_service_json("vote", 3), 1, 0, "continue", 0, "stop-first"), svc);
	update_image(f, svc, INDENT);
	fx_agents(f);
	copy_id(fx_live(f, svc, 1), bad);
	fx_report(f, bad, "failed", "started");
	fx_run(f);
	assert_status(f, svc, "updating", "update in progress");
	for (i = 0; i < 4; i++) {
		fx_agents(f);
		fx_advance(f, 5 * SEC);
	}
	assert_status(f, svc, "completed", "update completed");
	assert_int_equal(count_image(f, svc, INDENT, "running"), 3);
	assert_live_slots(f, svc, 3);
}

/* FailureAction rollback: the failure brings PreviousSpec back ("rollback_started", Docker's
 * message, StartedAt kept), the tasks go back to it with RollbackConfig, and it ends
 * "rollback_completed". */
static void test_failure_rolls_back(void **state)
{
	struct fx *f = *state;
	char svc[32], bad[32], started[64];
	json_t *s = fx_service_json("vote", 4);
	int i;

	with_update(s, 1, 10 * SEC, "rollback", 0, "stop-first");
	running_service(f, with_rollback(s, 0, "pause"), svc);
	update_image(f, svc, INDENT);
	snprintf(started, sizeof(started), "%s", us(f, svc, "StartedAt"));
	fx_agents(f);
	/* slot 1 runs the new image; 10 s later slot 2 is in hand and fails */
	assert_string_equal(slot_image(f, svc, 1), INDENT);
	fx_advance(f, 10 * SEC);
	copy_id(fx_live(f, svc, 2), bad);
	assert_string_equal(image_of(fx_task(f, bad)), INDENT);
	fx_report(f, bad, "failed", "starting");
	fx_run(f);
	assert_status(f, svc, "rollback_started", failure_msg("update rolled back", bad));
	assert_string_equal(us(f, svc, "StartedAt"), started);
	assert_string_equal(
		fx_str(fx_template((json_t *)service(f, svc)), "ContainerSpec", "Image"), LATEST);
	assert_null(json_object_get(service(f, svc), "PreviousSpec"));

	/* RollbackConfig parallelism 0: every slot running the new image goes back at once */
	for (i = 0; i < 3; i++) {
		fx_agents(f);
		fx_advance(f, 5 * SEC);
	}
	assert_status(f, svc, "rollback_completed", "rollback completed");
	assert_string_equal(us(f, svc, "StartedAt"), started);
	assert_non_null(us(f, svc, "CompletedAt"));
	assert_int_equal(count_image(f, svc, LATEST, "running"), 4);
	assert_int_equal(count_image(f, svc, INDENT, "running"), 0);
	assert_live_slots(f, svc, 4);
}

/* A rollback is never rolled back: a failure during it pauses it ("rollback_paused"). */
static void test_failure_during_rollback_pauses_it(void **state)
{
	struct fx *f = *state;
	char svc[32], bad[32];
	json_t *s = fx_service_json("vote", 2);

	with_update(s, 1, 0, "rollback", 0, "stop-first");
	running_service(f, with_rollback(s, 1, "rollback"), svc);
	update_image(f, svc, INDENT);
	fx_agents(f);
	assert_int_equal(count_image(f, svc, INDENT, "running"), 2);
	fx_advance(f, 10 * SEC);
	assert_status(f, svc, "completed", "update completed");
	api_rollback(f, svc);
	assert_status(f, svc, "rollback_started", "manually requested rollback");
	copy_id(fx_live(f, svc, 1), bad);
	assert_string_equal(image_of(fx_task(f, bad)), LATEST);
	fx_agents(f);
	fx_report(f, bad, "failed", "started");
	fx_run(f);
	assert_status(f, svc, "rollback_paused", failure_msg("rollback paused", bad));
}

/* With RollbackConfig FailureAction pause, a rollback's failure gives "rollback_paused" with
 * swarmkit's "update paused" message. */
static void test_rollback_pause_message(void **state)
{
	struct fx *f = *state;
	char svc[32], bad[32];
	json_t *s = fx_service_json("vote", 2);

	with_update(s, 0, 0, "pause", 0, "stop-first");
	running_service(f, with_rollback(s, 1, "pause"), svc);
	update_image(f, svc, INDENT);
	fx_agents(f);
	fx_advance(f, 10 * SEC);
	api_rollback(f, svc);
	fx_agents(f);
	copy_id(fx_live(f, svc, 1), bad);
	assert_string_equal(image_of(fx_task(f, bad)), LATEST);
	fx_report(f, bad, "failed", "started");
	fx_run(f);
	assert_status(f, svc, "rollback_paused", failure_msg("update paused", bad));
}

/* A manual rollback (the API swapped Spec and PreviousSpec) replaces the tasks with the
 * RollbackConfig's pace and ends "rollback_completed". */
static void test_manual_rollback_completes(void **state)
{
	struct fx *f = *state;
	char svc[32];
	json_t *s = fx_service_json("vote", 4);

	with_update(s, 1, 0, "pause", 0, "stop-first");
	running_service(f, with_rollback(s, 0, "pause"), svc);
	update_image(f, svc, INDENT);
	while (count_image(f, svc, INDENT, "running") < 4)
		assert_true(fx_agents(f) > 0);
	fx_advance(f, 5 * SEC);
	assert_status(f, svc, "completed", "update completed");
	api_rollback(f, svc);
	/* parallelism 0 */
	assert_int_equal(count_image(f, svc, LATEST, "ready"), 4);
	fx_agents(f);
	fx_advance(f, 5 * SEC - 1);
	assert_status(f, svc, "rollback_started", "manually requested rollback");
	fx_advance(f, 1);
	assert_status(f, svc, "rollback_completed", "rollback completed");
	assert_int_equal(count_image(f, svc, LATEST, "running"), 4);
}

/* A manual rollback with nothing to replace completes at once. */
static void test_rollback_with_nothing_dirty_completes_at_once(void **state)
{
	struct fx *f = *state;
	char svc[32];

	running_service(f, fx_service_json("vote", 2), svc);
	/* an update that changes nothing, so there is a PreviousSpec */
	update_image(f, svc, LATEST);
	assert_null(us(f, svc, "State"));
	api_rollback(f, svc);
	assert_status(f, svc, "rollback_completed", "rollback completed");
	assert_string_equal(us(f, svc, "CompletedAt"), fmt(f->now));
}

/* MaxFailureRatio 0.3 over 4 slots: the first failure (1/4) is tolerated, the second (2/4)
 * pauses the update and is the task named. */
static void test_max_failure_ratio(void **state)
{
	struct fx *f = *state;
	char svc[32], bad1[32], bad2[32];

	running_service(
		f, with_update(fx_service_json("vote", 4), 1, 0, "pause", 0.3, "stop-first"), svc);
	update_image(f, svc, INDENT);
	fx_agents(f);
	copy_id(fx_live(f, svc, 1), bad1);
	fx_report(f, bad1, "failed", "started");
	fx_run(f);
	assert_status(f, svc, "updating", "update in progress");
	fx_agents(f);
	copy_id(fx_live(f, svc, 3), bad2);
	assert_string_equal(image_of(fx_task(f, bad2)), INDENT);
	fx_advance(f, SEC);
	fx_report(f, bad2, "failed", "started");
	fx_run(f);
	assert_status(f, svc, "paused", failure_msg("update paused", bad2));
}

/* A new update while one runs supersedes it: UpdateStatus starts again and every slot,
 * including those already updated, goes to the newest spec, without waiting for the old
 * update's Delay. */
static void test_update_superseded(void **state)
{
	struct fx *f = *state;
	char svc[32];
	int64_t second;
	int i;

	running_service(
		f, with_update(fx_service_json("vote", 3), 1, 30 * SEC, "pause", 0, "stop-first"),
		svc);
	update_image(f, svc, INDENT);
	fx_agents(f);
	assert_string_equal(slot_image(f, svc, 1), INDENT);
	fx_advance(f, 5 * SEC);
	second = f->now;
	update_image(f, svc, V3);
	assert_status(f, svc, "updating", "update in progress");
	assert_string_equal(us(f, svc, "StartedAt"), fmt(second));
	assert_string_equal(slot_image(f, svc, 1), V3);
	assert_string_equal(slot_image(f, svc, 2), LATEST);
	for (i = 0; i < 3; i++) {
		fx_agents(f);
		fx_advance(f, 30 * SEC);
	}
	fx_advance(f, 31 * SEC);
	assert_status(f, svc, "completed", "update completed");
	assert_int_equal(count_image(f, svc, V3, "running"), 3);
	assert_int_equal(count_image(f, svc, INDENT, NULL), 1);
	assert_live_slots(f, svc, 3);
}

/* Changing Replicas, labels or the UpdateConfig replaces nothing and sets no UpdateStatus. */
static void test_non_template_change_replaces_nothing(void **state)
{
	struct fx *f = *state;
	char svc[32];
	json_t *s;

	running_service(f, fx_service_json("vote", 3), svc);
	s = api_begin(f, svc);
	json_object_set_new(json_object_get(spec_of(s), "Labels"), "tier", json_string("front"));
	json_object_set_new(spec_of(s), "UpdateConfig",
			    update_config(2, SEC, "rollback", 0.5, "start-first"));
	json_object_set_new(json_object_get(json_object_get(spec_of(s), "Mode"), "Replicated"),
			    "Replicas", json_integer(5));
	fx_put(f, SHOAL_STORE_SERVICE, s);
	fx_run(f);
	fx_agents(f);
	fx_advance(f, 60 * SEC);
	assert_null(json_object_get(service(f, svc), "UpdateStatus"));
	assert_int_equal(shoal_store_count(f->s, SHOAL_STORE_TASK), 5);
	assert_live_slots(f, svc, 5);
	assert_int_equal(fx_count_state(f, svc, "running"), 5);
}

/* --force (TaskTemplate.ForceUpdate + 1) replaces every task with an identical one. */
static void test_force_update_replaces_all(void **state)
{
	struct fx *f = *state;
	char svc[32];
	json_t *s;

	running_service(f, with_update(fx_service_json("vote", 3), 0, 0, "pause", 0, "stop-first"),
			svc);
	s = api_begin(f, svc);
	json_object_set_new(fx_template(s), "ForceUpdate", json_integer(1));
	fx_put(f, SHOAL_STORE_SERVICE, s);
	fx_run(f);
	assert_status(f, svc, "updating", "update in progress");
	assert_int_equal(count_image(f, svc, LATEST, "ready"), 3);
	fx_agents(f);
	fx_advance(f, 5 * SEC);
	assert_status(f, svc, "completed", "update completed");
	assert_int_equal(count_image(f, svc, LATEST, "running"), 3);
	assert_int_equal(count_image(f, svc, LATEST, "shutdown"), 3);
	assert_int_equal(shoal_store_count(f->s, SHOAL_STORE_TASK), 6);
}

/* A leader change mid-update: the new leader reads the progress from the store, keeps the
 * Delay from when the last pair ran, and does not replace updated slots again. */
static void test_new_leader_carries_update_on(void **state)
{
	struct fx *f = *state;
	char svc[32];
	int64_t ran;
	unsigned tasks;

	running_service(
		f, with_update(fx_service_json("vote", 6), 2, 15 * SEC, "pause", 0, "stop-first"),
		svc);
	update_image(f, svc, INDENT);
	fx_agents(f);
	ran = f->now;
	fx_advance(f, 5 * SEC);
	tasks = shoal_store_count(f->s, SHOAL_STORE_TASK);
	fx_stop(f);
	fx_start(f);
	assert_int_equal(shoal_store_count(f->s, SHOAL_STORE_TASK), tasks);
	assert_int_equal(f->wake_at, ran + 15 * SEC);
	fx_advance(f, 10 * SEC - 1);
	assert_int_equal(count_image(f, svc, INDENT, NULL), 2);
	fx_advance(f, 1);
	assert_int_equal(count_image(f, svc, INDENT, NULL), 4);

	/* and again while the next pair is held, waiting for its old tasks to stop */
	fx_stop(f);
	fx_start(f);
	assert_int_equal(count_image(f, svc, INDENT, NULL), 4);
	assert_int_equal(count_image(f, svc, INDENT, "ready"), 2);
	fx_agents(f);
	assert_int_equal(count_image(f, svc, INDENT, "running"), 4);
	fx_advance(f, 15 * SEC);
	fx_agents(f);
	ran = f->now;
	fx_stop(f);
	fx_start(f);
	fx_advance(f, 31 * SEC - 1);
	assert_status(f, svc, "updating", "update in progress");
	fx_advance(f, 1);
	assert_status(f, svc, "completed", "update completed");
	assert_string_equal(us(f, svc, "CompletedAt"), fmt(ran + 31 * SEC));
	assert_int_equal(count_image(f, svc, INDENT, NULL), 6);
	assert_int_equal(count_image(f, svc, LATEST, NULL), 6);
}

/* A new leader still sees a failure of a task the old one created, and pauses. */
static void test_new_leader_sees_failures(void **state)
{
	struct fx *f = *state;
	char svc[32], bad[32];

	running_service(
		f, with_update(fx_service_json("vote", 3), 1, 10 * SEC, "pause", 0, "stop-first"),
		svc);
	update_image(f, svc, INDENT);
	fx_agents(f);
	copy_id(fx_live(f, svc, 1), bad);
	fx_stop(f);
	fx_start(f);
	fx_advance(f, 2 * SEC);
	fx_report(f, bad, "failed", "started");
	fx_run(f);
	assert_status(f, svc, "paused", failure_msg("update paused", bad));
}

/* A paused update stays paused until the next service update clears the status: a no-op
 * update then resumes it with a new StartedAt. */
static void test_paused_update_resumes_after_service_update(void **state)
{
	struct fx *f = *state;
	char svc[32], bad[32];
	json_t *s;
	int i;

	running_service(
		f, with_update(fx_service_json("vote", 3), 1, 10 * SEC, "pause", 0, "stop-first"),
		svc);
	update_image(f, svc, INDENT);
	fx_agents(f);
	copy_id(fx_live(f, svc, 1), bad);
	fx_report(f, bad, "failed", "started");
	fx_run(f);
	assert_status(f, svc, "paused", failure_msg("update paused", bad));
	fx_advance(f, 30 * SEC);
	fx_agents(f);
	assert_string_equal(slot_image(f, svc, 1), INDENT);
	assert_string_equal(slot_image(f, svc, 2), LATEST);
	assert_string_equal(slot_image(f, svc, 3), LATEST);

	s = api_begin(f, svc);
	fx_put(f, SHOAL_STORE_SERVICE, s);
	fx_run(f);
	assert_status(f, svc, "updating", "update in progress");
	assert_string_equal(us(f, svc, "StartedAt"), fmt(f->now));
	for (i = 0; i < 4; i++) {
		fx_agents(f);
		fx_advance(f, 15 * SEC);
	}
	assert_status(f, svc, "completed", "update completed");
	assert_int_equal(count_image(f, svc, INDENT, "running"), 3);
	assert_live_slots(f, svc, 3);
}

/* A global service is updated node by node, each new task on the node of the one it
 * replaces. */
static void test_global_service_updated_per_node(void **state)
{
	struct fx *f = *state;
	char svc[32];
	struct fx_list l;
	size_t k;
	int i;

	running_service(f, fx_service_json("agent", -1), svc);
	update_image(f, svc, INDENT);
	assert_int_equal(count_image(f, svc, INDENT, NULL), 1);
	for (i = 0; i < 3; i++)
		fx_agents(f);
	fx_advance(f, 5 * SEC);
	assert_status(f, svc, "completed", "update completed");
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 3);
	for (k = 0; k < l.n; k++)
		assert_string_equal(image_of(l.t[k]), INDENT);
	for (i = 0; i < 3; i++)
		assert_int_equal(fx_on_node(f, svc, i), 1);
}

/* An update's replacement starts as soon as the old task stopped, without the restart delay,
 * and at the latest a minute after it was created if the old task never reports. */
static void test_replacement_starts_when_old_stops(void **state)
{
	struct fx *f = *state;
	char svc[32], old[32];
	const json_t *t;

	running_service(f, fx_service_json("vote", 1), svc);
	copy_id(fx_live(f, svc, 1), old);
	update_image(f, svc, INDENT);
	t = fx_live(f, svc, 1);
	assert_string_equal(fx_str(t, "DesiredState", NULL), "ready");
	fx_advance(f, 59 * SEC);
	assert_string_equal(fx_str(fx_live(f, svc, 1), "DesiredState", NULL), "ready");
	fx_advance(f, SEC);
	assert_string_equal(fx_str(fx_live(f, svc, 1), "DesiredState", NULL), "running");

	update_image(f, svc, V3);
	fx_report(f, fx_str(fx_task(f, old), "ID", NULL), "shutdown", "shutdown");
	fx_agents(f);
	assert_string_equal(slot_image(f, svc, 1), V3);
	assert_string_equal(fx_str(fx_live(f, svc, 1), "DesiredState", NULL), "running");
	assert_string_equal(fx_str(fx_live(f, svc, 1), "Status", "State"), "running");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_update_replaces_pairs_with_delay, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_parallelism_zero_replaces_all_at_once, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_default_config_one_at_a_time, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_start_first_stops_old_once_new_runs, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_start_first_with_delay, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_failure_pauses_update, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rejected_task_is_a_failure, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_failure_after_monitor_ignored, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_running_seen_between_passes, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_last_slot_watched_for_delay, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_failure_continue_completes, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_failure_rolls_back, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_failure_during_rollback_pauses_it, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_rollback_pause_message, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_manual_rollback_completes, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rollback_with_nothing_dirty_completes_at_once,
						setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_max_failure_ratio, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_update_superseded, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_non_template_change_replaces_nothing, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_force_update_replaces_all, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_new_leader_carries_update_on, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_new_leader_sees_failures, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_paused_update_resumes_after_service_update,
						setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_global_service_updated_per_node, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_replacement_starts_when_old_stops, setup,
						fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
