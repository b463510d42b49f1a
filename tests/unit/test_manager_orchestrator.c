/* Unit tests for src/manager/orchestrator.c: slots, scaling, the restart supervisor, node
 * drain/down/pause, global services, service removal, task history, refused change sets and a
 * new leader taking over, all on a real store and a stepped clock (orch_fixture.h). */
#include "orch_fixture.h"

#include "base/mem.h"

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

static json_t *with_restart(json_t *svc, const char *cond, int max, int64_t window)
{
	json_t *rp = json_pack("{s:s, s:I, s:i}", "Condition", cond, "Delay", (json_int_t)(5 * SEC),
			       "MaxAttempts", max);

	if (window > 0)
		json_object_set_new(rp, "Window", json_integer(window));
	json_object_set_new(fx_template(svc), "RestartPolicy", rp);
	return svc;
}

/* Creates the service and lets agents run every task. */
static const char *running_service(struct fx *f, json_t *svc, char *id)
{
	fx_service(f, svc, id);
	fx_run(f);
	fx_agents(f);
	return id;
}

static void copy_id(const json_t *t, char *out)
{
	assert_non_null(t);
	snprintf(out, SHOAL_STORE_ID_LEN + 1, "%s", fx_str(t, "ID", NULL));
}

/* Asserts that no slot of the service has two live tasks and that live tasks number n. */
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
		assert_true(fx_slot(l.t[k]) > 0 && fx_slot(l.t[k]) < 64);
		assert_int_equal(seen[fx_slot(l.t[k])]++, 0);
		live++;
	}
	assert_int_equal(live, n);
}

static const char *node_of(const json_t *t)
{
	return fx_str(t, "NodeID", NULL);
}

/*
 * Tests.
 */

/* Creating a 6-replica service on 3 nodes gives slots 1..6, scheduled two per node. */
static void test_create_fills_six_slots_two_per_node(void **state)
{
	struct fx *f = *state;
	char svc[32];
	struct fx_list l;
	size_t k;
	int i;

	fx_service(f, fx_service_json("vote", 6), svc);
	fx_run(f);
	fx_tasks(f, svc, NULL, &l);
	assert_int_equal(l.n, 6);
	for (k = 0; k < l.n; k++) {
		assert_int_equal(fx_slot(l.t[k]), (long long)k + 1);
		assert_string_equal(fx_str(l.t[k], "ServiceID", NULL), svc);
		assert_string_equal(fx_str(l.t[k], "DesiredState", NULL), "running");
		assert_string_equal(fx_str(l.t[k], "Status", "State"), "assigned");
		assert_string_equal(fx_str(l.t[k], "Status", "Message"),
				    "scheduler assigned task to node");
		assert_non_null(node_of(l.t[k]));
	}
	for (i = 0; i < 3; i++)
		assert_int_equal(fx_on_node(f, svc, i), 2);
	/* slots 1, 2, 3 went to node1, node2, node3 */
	assert_string_equal(node_of(l.t[0]), f->node[0]);
	assert_string_equal(node_of(l.t[1]), f->node[1]);
	assert_string_equal(node_of(l.t[2]), f->node[2]);
}

/* A new task has Docker's task JSON: its members in order, Spec = the template without
 * Runtime, Labels {}, Status with PortStatus {} and no Err. */
static void test_task_json_matches_docker(void **state)
{
	static const char *const keys[] = { "ID",     "Version", "CreatedAt",	"UpdatedAt",
					    "Labels", "Spec",	 "ServiceID",	"Slot",
					    "NodeID", "Status",	 "DesiredState" };
	static const char *const skeys[] = { "Timestamp", "State", "Message", "PortStatus" };
	struct fx *f = *state;
	json_t *svc = fx_service_json("vote", 1), *want;
	const json_t *t, *v;
	char id[32];
	const char *k;
	size_t i = 0;

	want = json_deep_copy(fx_template(svc));
	json_object_del(want, "Runtime");
	fx_service(f, svc, id);
	fx_run(f);
	t = fx_live(f, id, 1);
	assert_non_null(t);
	json_object_foreach((json_t *)t, k, v) {
		assert_true(i < SHOAL_ARRAY_SIZE(keys));
		assert_string_equal(k, keys[i++]);
	}
	assert_int_equal(i, SHOAL_ARRAY_SIZE(keys));
	i = 0;
	json_object_foreach(json_object_get(t, "Status"), k, v) {
		assert_true(i < SHOAL_ARRAY_SIZE(skeys));
		assert_string_equal(k, skeys[i++]);
	}
	assert_true(json_equal(json_object_get(t, "Spec"), want));
	assert_int_equal(json_object_size(json_object_get(t, "Labels")), 0);
	assert_int_equal(
		json_object_size(json_object_get(json_object_get(t, "Status"), "PortStatus")), 0);
	assert_int_equal(strlen(fx_str(t, "ID", NULL)), SHOAL_STORE_ID_LEN);
	json_decref(want);
}

/* A task is created "new"/"created", then the allocator makes it "pending", then the
 * scheduler "assigned": one change set each. */
static void test_task_goes_new_pending_assigned(void **state)
{
	struct fx *f = *state;
	char svc[32];
	const json_t *t;

	f->hold = true;
	fx_service(f, fx_service_json("vote", 1), svc);
	fx_run(f);
	assert_null(fx_live(f, svc, 1));
	fx_commit(f);
	t = fx_live(f, svc, 1);
	assert_string_equal(fx_str(t, "Status", "State"), "new");
	assert_string_equal(fx_str(t, "Status", "Message"), "created");
	assert_null(node_of(t));
	fx_run(f);
	fx_commit(f);
	t = fx_live(f, svc, 1);
	assert_string_equal(fx_str(t, "Status", "State"), "pending");
	assert_string_equal(fx_str(t, "Status", "Message"), "pending task scheduling");
	fx_release(f);
	t = fx_live(f, svc, 1);
	assert_string_equal(fx_str(t, "Status", "State"), "assigned");
	assert_string_equal(node_of(t), f->node[0]);
}

/* While change sets are in flight no other pass runs; once answered, one more does. */
static void test_no_pass_while_change_sets_in_flight(void **state)
{
	struct fx *f = *state;
	char svc[32];
	unsigned before;

	f->hold = true;
	fx_service(f, fx_service_json("vote", 2), svc);
	fx_run(f);
	before = f->proposals;
	assert_int_equal(before, 1);
	fx_scale(f, svc, 4);
	fx_node_label(f, 1, "zone", "b");
	fx_advance(f, 10 * SEC);
	assert_int_equal(f->proposals, before);
	fx_release(f);
	assert_live_slots(f, svc, 4);
}

/* Scaling 6 to 3 removes slots 4, 5 and 6 (one per node); they go once stopped. */
static void test_scale_down_removes_highest_slots(void **state)
{
	struct fx *f = *state;
	struct fx_list l;
	char svc[32];
	size_t k;
	int i;

	running_service(f, fx_service_json("vote", 6), svc);
	fx_scale(f, svc, 3);
	fx_run(f);
	fx_tasks(f, svc, "remove", &l);
	assert_int_equal(l.n, 3);
	for (k = 0; k < l.n; k++)
		assert_int_equal(fx_slot(l.t[k]), (long long)k + 4);
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(fx_on_node(f, svc, i), 1);
	/* the agents stop them, the reaper deletes them */
	assert_int_equal(fx_agents(f), 3);
	fx_tasks(f, svc, NULL, &l);
	assert_int_equal(l.n, 3);
}

/* Scaling 3 to 8 fills slots 4..8 and spreads them 3, 3, 2. */
static void test_scale_up_fills_lowest_free_slots(void **state)
{
	struct fx *f = *state;
	struct fx_list l;
	char svc[32];
	size_t k;

	running_service(f, fx_service_json("vote", 6), svc);
	fx_scale(f, svc, 3);
	fx_run(f);
	fx_agents(f);
	fx_scale(f, svc, 8);
	fx_run(f);
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 8);
	for (k = 0; k < l.n; k++)
		assert_int_equal(fx_slot(l.t[k]), (long long)k + 1);
	assert_int_equal(fx_on_node(f, svc, 0), 3);
	assert_int_equal(fx_on_node(f, svc, 1), 3);
	assert_int_equal(fx_on_node(f, svc, 2), 2);
	assert_live_slots(f, svc, 8);
}

/* Scaling down while nothing runs yet removes the unassigned tasks at once. */
static void test_scale_down_pending_tasks_deleted_at_once(void **state)
{
	struct fx *f = *state;
	json_t *svc = fx_service_json("vote", 4);
	struct fx_list l;
	char id[32];

	json_object_set_new(json_object_get(fx_template(svc), "Placement"), "Constraints",
			    json_pack("[s]", "node.hostname==nowhere"));
	fx_service(f, svc, id);
	fx_run(f);
	assert_int_equal(fx_count_state(f, id, "pending"), 4);
	fx_scale(f, id, 1);
	fx_run(f);
	fx_tasks(f, id, NULL, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(fx_slot(l.t[0]), 1);
}

/* A failed task is shut down and replaced in its slot; the replacement waits at desired
 * "ready" for the 5 s restart delay, and the failed one stays as history. */
static void test_failed_task_replaced_after_restart_delay(void **state)
{
	struct fx *f = *state;
	char svc[32], old[32];
	const json_t *t;
	struct fx_list l;

	running_service(f, fx_service_json("vote", 6), svc);
	copy_id(fx_live(f, svc, 2), old);
	fx_report(f, old, "failed", "started");
	fx_run(f);
	assert_string_equal(fx_str(fx_task(f, old), "DesiredState", NULL), "shutdown");
	t = fx_live(f, svc, 2);
	assert_non_null(t);
	assert_string_not_equal(fx_str(t, "ID", NULL), old);
	assert_string_equal(fx_str(t, "DesiredState", NULL), "ready");
	assert_string_equal(fx_str(t, "Status", "State"), "assigned");
	fx_advance(f, 5 * SEC - 1);
	assert_string_equal(fx_str(fx_live(f, svc, 2), "DesiredState", NULL), "ready");
	fx_advance(f, 1);
	assert_string_equal(fx_str(fx_live(f, svc, 2), "DesiredState", NULL), "running");
	fx_tasks(f, svc, NULL, &l);
	assert_int_equal(l.n, 7);
	assert_non_null(fx_task(f, old));
	assert_live_slots(f, svc, 6);
}

/* Restart condition none: a failed task is shut down and its slot stays empty. */
static void test_restart_none_not_replaced(void **state)
{
	struct fx *f = *state;
	char svc[32], old[32];
	struct fx_list l;

	running_service(f, with_restart(fx_service_json("vote", 3), "none", 0, 0), svc);
	copy_id(fx_live(f, svc, 1), old);
	fx_report(f, old, "failed", "started");
	fx_advance(f, 60 * SEC);
	assert_null(fx_live(f, svc, 1));
	assert_string_equal(fx_str(fx_task(f, old), "DesiredState", NULL), "shutdown");
	fx_tasks(f, svc, NULL, &l);
	assert_int_equal(l.n, 3);
	assert_live_slots(f, svc, 2);
}

/* Restart condition on-failure: a task that completes stays down, one that fails is
 * replaced. */
static void test_restart_on_failure(void **state)
{
	struct fx *f = *state;
	char svc[32], a[32], b[32];

	running_service(f, with_restart(fx_service_json("vote", 2), "on-failure", 0, 0), svc);
	copy_id(fx_live(f, svc, 1), a);
	copy_id(fx_live(f, svc, 2), b);
	fx_report(f, a, "complete", "finished");
	fx_report(f, b, "failed", "started");
	fx_advance(f, 5 * SEC);
	assert_null(fx_live(f, svc, 1));
	assert_string_equal(fx_str(fx_live(f, svc, 2), "DesiredState", NULL), "running");
}

/* MaxAttempts 2: the slot is restarted twice, then left stopped; its history is kept
 * (MaxAttempts + 1 tasks). */
static void test_restart_max_attempts(void **state)
{
	struct fx *f = *state;
	char svc[32], id[32];
	struct fx_list l;
	int i;

	running_service(f, with_restart(fx_service_json("vote", 1), "any", 2, 0), svc);
	for (i = 0; i < 3; i++) {
		copy_id(fx_live(f, svc, 1), id);
		fx_report(f, id, "failed", "started");
		fx_advance(f, 5 * SEC);
		fx_agents(f);
	}
	assert_null(fx_live(f, svc, 1));
	fx_tasks(f, svc, NULL, &l);
	assert_int_equal(l.n, 3);
	fx_advance(f, 60 * SEC);
	fx_tasks(f, svc, NULL, &l);
	assert_int_equal(l.n, 3);
}

/* MaxAttempts with a Window: only restarts within the window before the failure count. A
 * slot given up stays so; one failing again after the window is restarted. */
static void test_restart_window(void **state)
{
	struct fx *f = *state;
	char svc[32], id[32];

	running_service(f, with_restart(fx_service_json("vote", 2), "any", 1, 30 * SEC), svc);
	copy_id(fx_live(f, svc, 1), id);
	fx_report(f, id, "failed", "started");
	copy_id(fx_live(f, svc, 2), id);
	fx_report(f, id, "failed", "started");
	fx_advance(f, 5 * SEC);
	fx_agents(f);
	/* slot 1 fails again 10 s after its restart: not restarted, ever */
	copy_id(fx_live(f, svc, 1), id);
	fx_advance(f, 5 * SEC);
	fx_report(f, id, "failed", "started");
	fx_advance(f, 60 * SEC);
	assert_null(fx_live(f, svc, 1));
	/* slot 2 fails 70 s after its restart: restarted */
	copy_id(fx_live(f, svc, 2), id);
	fx_report(f, id, "failed", "started");
	fx_advance(f, 5 * SEC);
	assert_string_equal(fx_str(fx_live(f, svc, 2), "DesiredState", NULL), "running");
	assert_live_slots(f, svc, 1);
}

/* Draining a node shuts its tasks down and replaces them elsewhere with no delay; each
 * replacement runs once the old task reports it stopped. */
static void test_drain_moves_tasks_elsewhere(void **state)
{
	struct fx *f = *state;
	struct fx_list l;
	char svc[32], old[32];
	size_t k;

	running_service(f, fx_service_json("vote", 6), svc);
	copy_id(fx_live(f, svc, 2), old);
	assert_string_equal(node_of(fx_task(f, old)), f->node[1]);
	fx_node_set(f, 1, "Spec", "Availability", json_string("drain"));
	fx_run(f);
	assert_string_equal(fx_str(fx_task(f, old), "DesiredState", NULL), "shutdown");
	fx_tasks(f, svc, "ready", &l);
	assert_int_equal(l.n, 2);
	for (k = 0; k < l.n; k++) {
		assert_string_equal(fx_str(l.t[k], "Status", "State"), "assigned");
		assert_string_not_equal(node_of(l.t[k]), f->node[1]);
	}
	/* the agent on node2 stops them: the replacements start, no restart delay */
	fx_agents(f);
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 6);
	assert_int_equal(fx_on_node(f, svc, 0), 3);
	assert_int_equal(fx_on_node(f, svc, 1), 0);
	assert_int_equal(fx_on_node(f, svc, 2), 3);
	assert_int_equal(fx_count_state(f, svc, "shutdown"), 2);
	assert_live_slots(f, svc, 6);
}

/* A drained node's replacement runs after one minute even if the old task never reports. */
static void test_drain_replacement_runs_after_one_minute(void **state)
{
	struct fx *f = *state;
	struct fx_list l;
	char svc[32];

	running_service(f, fx_service_json("vote", 3), svc);
	fx_node_set(f, 2, "Spec", "Availability", json_string("drain"));
	fx_run(f);
	fx_advance(f, 60 * SEC - 1);
	fx_tasks(f, svc, "ready", &l);
	assert_int_equal(l.n, 1);
	fx_advance(f, 1);
	fx_tasks(f, svc, "ready", &l);
	assert_int_equal(l.n, 0);
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 3);
}

/* A node back to active gets nothing back; only tasks created later land there. */
static void test_node_back_active_nothing_moves_back(void **state)
{
	struct fx *f = *state;
	char svc[32];
	unsigned before;

	running_service(f, fx_service_json("vote", 6), svc);
	fx_node_set(f, 1, "Spec", "Availability", json_string("drain"));
	fx_run(f);
	fx_agents(f);
	before = f->proposals;
	fx_node_set(f, 1, "Spec", "Availability", json_string("active"));
	fx_advance(f, 120 * SEC);
	assert_int_equal(f->proposals, before);
	assert_int_equal(fx_on_node(f, svc, 1), 0);
	fx_scale(f, svc, 8);
	fx_run(f);
	assert_int_equal(fx_on_node(f, svc, 1), 2);
	assert_live_slots(f, svc, 8);
}

/* A node going down: its tasks are shut down and replaced elsewhere after the restart delay,
 * without waiting for the lost tasks to report. */
static void test_node_down_replaced(void **state)
{
	struct fx *f = *state;
	struct fx_list l;
	char svc[32], old[32];
	size_t k;

	running_service(f, fx_service_json("vote", 6), svc);
	copy_id(fx_live(f, svc, 3), old);
	fx_node_set(f, 2, "Status", "State", json_string("down"));
	fx_run(f);
	assert_string_equal(fx_str(fx_task(f, old), "DesiredState", NULL), "shutdown");
	assert_string_equal(fx_str(fx_task(f, old), "Status", "State"), "running");
	fx_tasks(f, svc, "ready", &l);
	assert_int_equal(l.n, 2);
	for (k = 0; k < l.n; k++)
		assert_string_not_equal(node_of(l.t[k]), f->node[2]);
	fx_advance(f, 5 * SEC - 1);
	fx_tasks(f, svc, "ready", &l);
	assert_int_equal(l.n, 2);
	fx_advance(f, 1);
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 6);
	assert_int_equal(fx_on_node(f, svc, 2), 0);
	assert_live_slots(f, svc, 6);
}

/* A node that is only unknown (leader change) keeps its tasks. */
static void test_node_unknown_keeps_tasks(void **state)
{
	struct fx *f = *state;
	char svc[32];
	unsigned before;

	running_service(f, fx_service_json("vote", 3), svc);
	before = f->proposals;
	fx_node_set(f, 2, "Status", "State", json_string("unknown"));
	fx_advance(f, 30 * SEC);
	assert_int_equal(f->proposals, before);
	assert_int_equal(fx_on_node(f, svc, 2), 1);
}

/* A paused node keeps its tasks but gets no new ones; a task failing there moves away. */
static void test_pause_no_new_tasks_there(void **state)
{
	struct fx *f = *state;
	char svc[32], id[32];
	const json_t *t;

	running_service(f, fx_service_json("vote", 6), svc);
	fx_node_set(f, 2, "Spec", "Availability", json_string("pause"));
	fx_scale(f, svc, 9);
	fx_run(f);
	assert_int_equal(fx_on_node(f, svc, 2), 2);
	assert_int_equal(fx_on_node(f, svc, 0) + fx_on_node(f, svc, 1), 7);
	copy_id(fx_live(f, svc, 3), id);
	assert_string_equal(node_of(fx_task(f, id)), f->node[2]);
	fx_report(f, id, "failed", "started");
	fx_advance(f, 5 * SEC);
	t = fx_live(f, svc, 3);
	assert_string_not_equal(node_of(t), f->node[2]);
	assert_live_slots(f, svc, 9);
}

/* A global service runs one task per node (no Slot, NodeID preset), follows new nodes,
 * leaves drained and down ones, and comes back to a reactivated node. */
static void test_global_one_task_per_node(void **state)
{
	struct fx *f = *state;
	struct fx_list l;
	char svc[32];
	size_t k;

	fx_service(f, fx_service_json("agent", -1), svc);
	fx_run(f);
	fx_tasks(f, svc, NULL, &l);
	assert_int_equal(l.n, 3);
	for (k = 0; k < l.n; k++) {
		assert_null(json_object_get(l.t[k], "Slot"));
		assert_string_equal(fx_str(l.t[k], "Status", "State"), "assigned");
		assert_string_equal(fx_str(l.t[k], "Status", "Message"),
				    "scheduler confirmed task can run on preassigned node");
	}
	fx_agents(f);
	fx_node(f, 3);
	fx_run(f);
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 4);

	fx_node_set(f, 1, "Spec", "Availability", json_string("drain"));
	fx_run(f);
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 3);
	fx_tasks(f, svc, "shutdown", &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(node_of(l.t[0]), f->node[1]);
	fx_agents(f);

	fx_node_set(f, 1, "Spec", "Availability", json_string("active"));
	fx_run(f);
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 4);

	fx_node_set(f, 3, "Status", "State", json_string("down"));
	fx_advance(f, 10 * SEC);
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 3);
}

/* Global: a failed task is restarted on its node after the delay, but on a paused node it
 * is only shut down. */
static void test_global_restart_and_pause(void **state)
{
	struct fx *f = *state;
	struct fx_list l;
	char svc[32], id[32];
	size_t k;

	running_service(f, fx_service_json("agent", -1), svc);
	fx_tasks(f, svc, "running", &l);
	for (k = 0; k < l.n && strcmp(node_of(l.t[k]), f->node[0]) != 0; k++)
		;
	copy_id(l.t[k], id);
	fx_report(f, id, "failed", "started");
	fx_run(f);
	fx_tasks(f, svc, "ready", &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(node_of(l.t[0]), f->node[0]);
	fx_advance(f, 5 * SEC);
	fx_agents(f);
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 3);

	fx_node_set(f, 2, "Spec", "Availability", json_string("pause"));
	fx_tasks(f, svc, "running", &l);
	for (k = 0; k < l.n && strcmp(node_of(l.t[k]), f->node[2]) != 0; k++)
		;
	copy_id(l.t[k], id);
	fx_report(f, id, "failed", "started");
	fx_advance(f, 10 * SEC);
	assert_string_equal(fx_str(fx_task(f, id), "DesiredState", NULL), "shutdown");
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 2);
	fx_tasks(f, svc, "ready", &l);
	assert_int_equal(l.n, 0);
}

/* Global with a constraint: only matching nodes get a task; a node that stops matching
 * loses it. */
static void test_global_constraints(void **state)
{
	struct fx *f = *state;
	json_t *svc = fx_service_json("agent", -1);
	struct fx_list l;
	char id[32];

	json_object_set_new(json_object_get(fx_template(svc), "Placement"), "Constraints",
			    json_pack("[s]", "node.role==worker"));
	fx_service(f, svc, id);
	fx_run(f);
	fx_tasks(f, id, "running", &l);
	assert_int_equal(l.n, 2);
	fx_node_label(f, 1, "x", "y"); /* an unrelated change: nothing moves */
	fx_run(f);
	fx_tasks(f, id, "running", &l);
	assert_int_equal(l.n, 2);
}

/* Removing a service sets its tasks to desired "remove"; they are deleted once stopped, and
 * never-scheduled ones at once. */
static void test_service_removed_tasks_reaped(void **state)
{
	struct fx *f = *state;
	json_t *stuck = fx_service_json("stuck", 2);
	struct fx_list l;
	char svc[32], other[32];

	running_service(f, fx_service_json("vote", 6), svc);
	json_object_set_new(json_object_get(fx_template(stuck), "Placement"), "Constraints",
			    json_pack("[s]", "node.labels.none==x"));
	fx_service(f, stuck, other);
	fx_run(f);
	fx_tasks(f, other, NULL, &l);
	assert_int_equal(l.n, 2);

	fx_delete(f, SHOAL_STORE_SERVICE, svc);
	fx_delete(f, SHOAL_STORE_SERVICE, other);
	fx_run(f);
	fx_tasks(f, other, NULL, &l);
	assert_int_equal(l.n, 0);
	fx_tasks(f, svc, "remove", &l);
	assert_int_equal(l.n, 6);
	assert_int_equal(fx_agents(f), 6);
	fx_tasks(f, svc, NULL, &l);
	assert_int_equal(l.n, 0);
	assert_int_equal(shoal_store_count(f->s, SHOAL_STORE_TASK), 0);
}

/* TaskHistoryRetentionLimit caps the tasks kept per slot, deleting the oldest dead ones. */
static void test_history_retention_limit(void **state)
{
	struct fx *f = *state;
	json_t *c = fx_copy(f, SHOAL_STORE_CLUSTER, f->cluster);
	char svc[32], id[32], first[32], second[32];
	struct fx_list l;
	int i;

	json_object_set_new(json_object_get(json_object_get(c, "Spec"), "Orchestration"),
			    "TaskHistoryRetentionLimit", json_integer(2));
	fx_put(f, SHOAL_STORE_CLUSTER, c);
	running_service(f, fx_service_json("vote", 2), svc);
	copy_id(fx_live(f, svc, 1), first);
	for (i = 0; i < 3; i++) {
		copy_id(fx_live(f, svc, 1), id);
		if (i == 1)
			snprintf(second, sizeof(second), "%s", id);
		fx_report(f, id, "failed", "started");
		fx_advance(f, 5 * SEC);
		fx_agents(f);
	}
	fx_tasks(f, svc, NULL, &l);
	assert_int_equal(l.n, 3); /* slot 1: two, slot 2: one */
	assert_null(fx_task(f, first));
	assert_null(fx_task(f, second));
	assert_string_equal(fx_str(fx_live(f, svc, 1), "DesiredState", NULL), "running");
}

/* The default limit is 5 per slot. */
static void test_history_default_five(void **state)
{
	struct fx *f = *state;
	char svc[32], id[32];
	struct fx_list l;
	int i;

	/* no cluster object at all: the default applies */
	fx_delete(f, SHOAL_STORE_CLUSTER, f->cluster);
	running_service(f, fx_service_json("vote", 1), svc);
	for (i = 0; i < 7; i++) {
		copy_id(fx_live(f, svc, 1), id);
		fx_report(f, id, "failed", "started");
		fx_advance(f, 5 * SEC);
		fx_agents(f);
	}
	fx_tasks(f, svc, NULL, &l);
	assert_int_equal(l.n, 5);
}

/* A propose that fails is retried after a short backoff, and the slots are filled once. */
static void test_failing_propose_retried_without_duplicates(void **state)
{
	struct fx *f = *state;
	char svc[32];

	f->fail_sync = 1;
	fx_service(f, fx_service_json("vote", 6), svc);
	fx_run(f);
	assert_int_equal(shoal_store_count(f->s, SHOAL_STORE_TASK), 0);
	assert_int_equal(f->wake_at, f->now + 100 * MS);
	fx_advance(f, 100 * MS);
	assert_live_slots(f, svc, 6);

	f->fail_async = 2;
	fx_scale(f, svc, 8);
	fx_run(f);
	assert_live_slots(f, svc, 6);
	fx_advance(f, 100 * MS);
	assert_live_slots(f, svc, 6);
	fx_advance(f, 200 * MS);
	assert_live_slots(f, svc, 8);
	fx_advance(f, 60 * SEC);
	assert_live_slots(f, svc, 8);
	assert_int_equal(shoal_store_count(f->s, SHOAL_STORE_TASK), 8);
}

static void fail_race_task(struct fx *f)
{
	fx_report(f, f->race_task, "failed", "started");
}

/* A change set refused because the dispatcher updated a task meanwhile is recomputed from
 * the fresh store: the slot gets exactly one replacement. */
static void test_race_with_dispatcher_recomputed(void **state)
{
	struct fx *f = *state;
	struct fx_list l;
	char svc[32];

	running_service(f, fx_service_json("vote", 3), svc);
	copy_id(fx_live(f, svc, 1), f->race_task);
	f->race = fail_race_task;
	fx_node_set(f, 0, "Spec", "Availability", json_string("drain"));
	fx_run(f);
	assert_null(f->race);
	assert_string_equal(fx_str(fx_task(f, f->race_task), "Status", "State"), "failed");
	assert_string_equal(fx_str(fx_task(f, f->race_task), "DesiredState", NULL), "shutdown");
	assert_live_slots(f, svc, 3);
	fx_agents(f);
	fx_advance(f, 10 * SEC);
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 3);
	assert_int_equal(fx_on_node(f, svc, 0), 0);
	assert_int_equal(shoal_store_count(f->s, SHOAL_STORE_TASK), 4);
}

/* A new leader picks up what the old one left half done: tasks it created but never
 * scheduled, and a replacement whose restart delay was running. */
static void test_leader_start_picks_up_half_done(void **state)
{
	struct fx *f = *state;
	char svc[32], id[32];
	int64_t failed_at;

	f->hold = true;
	fx_service(f, fx_service_json("vote", 6), svc);
	fx_run(f);
	/* leadership lost with the change set still in the log; the next leader commits it */
	fx_stop(f);
	fx_commit(f);
	f->hold = false;
	fx_run(f);
	assert_int_equal(fx_count_state(f, svc, "new"), 6);
	fx_start(f);
	assert_int_equal(fx_count_state(f, svc, "assigned"), 6);
	assert_live_slots(f, svc, 6);
	fx_agents(f);

	copy_id(fx_live(f, svc, 4), id);
	fx_report(f, id, "failed", "started");
	failed_at = f->now;
	fx_run(f);
	fx_advance(f, 2 * SEC);
	fx_stop(f);
	fx_start(f);
	assert_int_equal(f->wake_at, failed_at + 5 * SEC);
	fx_advance(f, 3 * SEC - 1);
	assert_string_equal(fx_str(fx_live(f, svc, 4), "DesiredState", NULL), "ready");
	fx_advance(f, 1);
	assert_string_equal(fx_str(fx_live(f, svc, 4), "DesiredState", NULL), "running");
	assert_live_slots(f, svc, 6);
	assert_int_equal(shoal_store_count(f->s, SHOAL_STORE_TASK), 7);
}

/* Deleting a node restarts its replicated tasks elsewhere. */
static void test_node_deleted_tasks_replaced(void **state)
{
	struct fx *f = *state;
	char svc[32];

	running_service(f, fx_service_json("vote", 3), svc);
	fx_delete(f, SHOAL_STORE_NODE, f->node[2]);
	fx_advance(f, 5 * SEC);
	assert_live_slots(f, svc, 3);
	assert_int_equal(fx_on_node(f, svc, 0) + fx_on_node(f, svc, 1), 3);
}

/* A task is dirty when its Spec differs from the TaskTemplate, but not when only constraints
 * its node meets changed: such a change replaces nothing (test_manager_updater.c has the
 * rest). */
static void test_task_is_dirty(void **state)
{
	struct fx *f = *state;
	json_t *svc = fx_service_json("vote", 1), *s2;
	const json_t *t, *node;
	char id[32];
	unsigned before;

	fx_service(f, svc, id);
	fx_run(f);
	t = fx_live(f, id, 1);
	node = shoal_store_get(f->s, SHOAL_STORE_NODE, f->node[0])->json;
	s2 = fx_copy(f, SHOAL_STORE_SERVICE, id);
	assert_false(shoal_orch_task_is_dirty(s2, t, node));
	json_object_set_new(json_object_get(fx_template(s2), "Placement"), "Constraints",
			    json_pack("[s]", "node.role==manager"));
	assert_false(shoal_orch_task_is_dirty(s2, t, node));
	json_object_set_new(json_object_get(fx_template(s2), "Placement"), "Constraints",
			    json_pack("[s]", "node.role==worker"));
	assert_true(shoal_orch_task_is_dirty(s2, t, node));
	json_object_set_new(json_object_get(fx_template(s2), "Placement"), "Constraints",
			    json_pack("[s]", "node.role==manager"));
	before = f->proposals;
	fx_put(f, SHOAL_STORE_SERVICE, s2);
	fx_run(f);
	assert_int_equal(f->proposals, before);
	s2 = fx_copy(f, SHOAL_STORE_SERVICE, id);
	json_object_set_new(json_object_get(fx_template(s2), "ContainerSpec"), "Image",
			    json_string("instavote/vote:indent"));
	assert_true(shoal_orch_task_is_dirty(s2, t, node));
	json_decref(s2);
}

/* Task state names parse both ways, in lamport order. */
static void test_task_state_names(void **state)
{
	enum shoal_task_state st;

	(void)state;
	assert_int_equal(shoal_task_state_parse("running", &st), 0);
	assert_int_equal(st, SHOAL_TASK_RUNNING);
	assert_int_equal(shoal_task_state_parse("remove", &st), 0);
	assert_int_equal(st, SHOAL_TASK_REMOVE);
	assert_int_equal(shoal_task_state_parse("Running", &st), -1);
	assert_int_equal(shoal_task_state_parse(NULL, &st), -1);
	assert_string_equal(shoal_task_state_name(SHOAL_TASK_ORPHANED), "orphaned");
	assert_null(shoal_task_state_name((enum shoal_task_state)1));
	assert_true(SHOAL_TASK_COMPLETE > SHOAL_TASK_RUNNING);
}

/*
 * The libuv backend: the same core on the real clock and a uv timer.
 */

struct uvfx {
	uv_loop_t loop;
	uv_idle_t idle; /* answers proposals on a later loop turn */
	struct shoal_store *s;
	uint64_t index;
	struct fx_prop q[64];
	size_t nq;
	bool closed;
};

static void uvfx_answer(uv_idle_t *h)
{
	struct uvfx *u = container_of(h, struct uvfx, idle);
	struct fx_prop p;

	while (u->nq > 0) {
		p = u->q[0];
		memmove(&u->q[0], &u->q[1], (u->nq - 1) * sizeof(u->q[0]));
		u->nq--;
		p.cb(p.ctx, p.failed ? &p.err : NULL);
	}
	uv_idle_stop(h);
}

static int uvfx_propose(void *data, const struct shoal_store_tx *tx, shoal_orch_done_cb cb,
			void *ctx, struct shoal_err *err)
{
	struct uvfx *u = data;
	struct fx_prop *p = &u->q[u->nq++];
	size_t len;
	char *buf = shoal_store_tx_encode(tx, &len);

	(void)err;
	assert_true(u->nq <= 64);
	memset(p, 0, sizeof(*p));
	p->cb = cb;
	p->ctx = ctx;
	p->failed = shoal_store_apply(u->s, buf, len, ++u->index, &p->err) < 0;
	free(buf);
	uv_idle_start(&u->idle, uvfx_answer);
	return 0;
}

static void uvfx_apply(struct uvfx *u, enum shoal_store_table t, json_t *obj)
{
	struct shoal_store_tx *tx = shoal_store_tx_new();
	struct shoal_err err;
	size_t len;
	char *buf;

	shoal_store_tx_create(tx, t, obj);
	buf = shoal_store_tx_encode(tx, &len);
	assert_int_equal(shoal_store_apply(u->s, buf, len, ++u->index, &err), 0);
	free(buf);
	shoal_store_tx_free(tx);
}

static void uvfx_closed(void *ctx)
{
	((struct uvfx *)ctx)->closed = true;
}

/* On a real loop the orchestrator creates and schedules the tasks, then stops cleanly. */
static void test_uv_backend_converges_and_stops(void **state)
{
	struct uvfx *u = calloc(1, sizeof(*u));
	struct shoal_orch_uv *o;
	struct shoal_store_obj **l;
	json_t *n;
	size_t nt, i, assigned;
	int64_t deadline = shoal_time_now_ns() + 5 * SEC;

	(void)state;
	assert_int_equal(uv_loop_init(&u->loop), 0);
	uv_idle_init(&u->loop, &u->idle);
	u->s = shoal_store_new(NULL);
	n = json_pack("{s:{s:{}, s:s, s:s}, s:{s:s}, s:{s:s}}", "Spec", "Labels", "Role", "worker",
		      "Availability", "active", "Description", "Hostname", "node1", "Status",
		      "State", "ready");
	uvfx_apply(u, SHOAL_STORE_NODE, n);
	o = shoal_orch_start(&u->loop, u->s, uvfx_propose, u);
	uvfx_apply(u, SHOAL_STORE_SERVICE, fx_service_json("vote", 3));
	do {
		uv_run(&u->loop, UV_RUN_ONCE);
		l = shoal_store_list(u->s, SHOAL_STORE_TASK, &nt);
		for (i = 0, assigned = 0; i < nt; i++)
			assigned += strcmp(fx_str(l[i]->json, "Status", "State"), "assigned") == 0;
		free(l);
	} while (assigned < 3 && shoal_time_now_ns() < deadline);
	assert_int_equal(nt, 3);
	assert_int_equal(assigned, 3);
	shoal_orch_stop(o, uvfx_closed, u);
	while (!u->closed)
		uv_run(&u->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&u->idle, NULL);
	uv_run(&u->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&u->loop), 0);
	for (i = 0; i < u->nq; i++)
		u->q[i].cb(u->q[i].ctx, NULL);
	shoal_store_free(u->s);
	free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_fills_six_slots_two_per_node, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_task_json_matches_docker, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_task_goes_new_pending_assigned, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_no_pass_while_change_sets_in_flight, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_scale_down_removes_highest_slots, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_scale_up_fills_lowest_free_slots, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_scale_down_pending_tasks_deleted_at_once,
						setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_failed_task_replaced_after_restart_delay,
						setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_restart_none_not_replaced, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_restart_on_failure, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_restart_max_attempts, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_restart_window, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_drain_moves_tasks_elsewhere, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_drain_replacement_runs_after_one_minute, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_node_back_active_nothing_moves_back, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_node_down_replaced, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_node_unknown_keeps_tasks, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pause_no_new_tasks_there, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_global_one_task_per_node, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_global_restart_and_pause, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_global_constraints, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_service_removed_tasks_reaped, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_history_retention_limit, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_history_default_five, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_failing_propose_retried_without_duplicates,
						setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_race_with_dispatcher_recomputed, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_leader_start_picks_up_half_done, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_node_deleted_tasks_replaced, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_task_is_dirty, setup, fx_teardown),
		cmocka_unit_test(test_task_state_names),
		cmocka_unit_test(test_uv_backend_converges_and_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
