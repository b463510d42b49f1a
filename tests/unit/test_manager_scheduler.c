/* Unit tests for src/manager/scheduler.c: filters, Docker's "no suitable node" texts, spread,
 * placement preferences and constraint parsing, through a real store and orchestrator
 * (orch_fixture.h). */
#include "orch_fixture.h"

/*
 * Fixture: a cluster object, node1 (manager), node2, node3, ready and active, and a started
 * orchestrator.
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

/* The same without nodes. */
static int setup_no_nodes(void **state)
{
	struct fx *f;

	fx_setup_empty(state);
	f = *state;
	fx_cluster(f, 5);
	fx_start(f);
	return 0;
}

/*
 * Helpers.
 */

static json_t *placement(json_t *svc)
{
	return json_object_get(fx_template(svc), "Placement");
}

static json_t *constrained(const char *name, int replicas, const char *c1, const char *c2)
{
	json_t *svc = fx_service_json(name, replicas), *arr = json_array();

	json_array_append_new(arr, json_string(c1));
	if (c2 != NULL)
		json_array_append_new(arr, json_string(c2));
	json_object_set_new(placement(svc), "Constraints", arr);
	return svc;
}

/* The Err of the service's pending tasks, asserting they all carry the same. */
static const char *pending_err(struct fx *f, const char *svc, size_t want_pending)
{
	struct fx_list l;
	const char *err = NULL;
	size_t k, n = 0;

	fx_tasks(f, svc, NULL, &l);
	for (k = 0; k < l.n; k++) {
		if (strcmp(fx_str(l.t[k], "Status", "State"), "pending") != 0)
			continue;
		assert_string_equal(fx_str(l.t[k], "Status", "Message"), "pending task scheduling");
		if (err != NULL)
			assert_string_equal(fx_str(l.t[k], "Status", "Err"), err);
		err = fx_str(l.t[k], "Status", "Err");
		n++;
	}
	assert_int_equal(n, want_pending);
	return err;
}

static const json_t *node_json(struct fx *f, int i)
{
	return shoal_store_get(f->s, SHOAL_STORE_NODE, f->node[i])->json;
}

static bool matches(struct fx *f, int i, const char *c)
{
	json_t *arr = json_pack("[s]", c);
	bool ok = shoal_sched_constraints_match(arr, node_json(f, i));

	json_decref(arr);
	return ok;
}

/*
 * Tests.
 */

/* Spread: fewest tasks of the service first, then fewest tasks overall. */
static void test_spread_fewest_service_then_total(void **state)
{
	struct fx *f = *state;
	char a[32], b[32];

	fx_service(f, constrained("a", 2, "node.hostname==node1", NULL), a);
	fx_run(f);
	assert_int_equal(fx_on_node(f, a, 0), 2);
	fx_service(f, fx_service_json("b", 3), b);
	fx_run(f);
	assert_int_equal(fx_on_node(f, b, 0), 1);
	assert_int_equal(fx_on_node(f, b, 1), 1);
	assert_int_equal(fx_on_node(f, b, 2), 1);
	/* b's fourth task: every node has one of b, node1 has more tasks overall */
	fx_scale(f, b, 4);
	fx_run(f);
	assert_int_equal(fx_on_node(f, b, 0), 1);
	assert_int_equal(fx_on_node(f, b, 1), 2);
}

/* Ties are broken by hostname, so placement is repeatable. */
static void test_ties_broken_by_hostname(void **state)
{
	struct fx *f = *state;
	char a[32];
	const json_t *t;

	fx_service(f, fx_service_json("a", 1), a);
	fx_run(f);
	t = fx_live(f, a, 1);
	assert_string_equal(fx_str(t, "NodeID", NULL), f->node[0]);
}

/* node.role==manager keeps every task on the manager. */
static void test_constraint_role_manager(void **state)
{
	struct fx *f = *state;
	char a[32];

	fx_service(f, constrained("viz", 3, "node.role == manager", NULL), a);
	fx_run(f);
	assert_int_equal(fx_on_node(f, a, 0), 3);
}

/* node.labels constraints, == and !=, with a missing label comparing as "". */
static void test_constraint_node_labels(void **state)
{
	struct fx *f = *state;
	char a[32], b[32];

	fx_node_label(f, 1, "zone", "east");
	fx_node_label(f, 2, "zone", "east");
	fx_service(f, constrained("a", 4, "node.labels.zone==east", NULL), a);
	fx_service(f, constrained("b", 2, "node.labels.zone!=east", NULL), b);
	fx_run(f);
	assert_int_equal(fx_on_node(f, a, 1), 2);
	assert_int_equal(fx_on_node(f, a, 2), 2);
	assert_int_equal(fx_on_node(f, b, 0), 2);
}

/* Every constraint key, matched against one node. */
static void test_constraint_keys(void **state)
{
	struct fx *f = *state;
	char c[128];

	snprintf(c, sizeof(c), "node.id==%s", f->node[1]);
	assert_true(matches(f, 1, c));
	assert_false(matches(f, 0, c));
	assert_true(matches(f, 1, "node.hostname==NODE2"));
	assert_true(matches(f, 1, "node.hostname!=node1"));
	assert_true(matches(f, 1, "node.role==worker"));
	assert_true(matches(f, 0, "node.role==manager"));
	assert_true(matches(f, 1, "node.platform.os==linux"));
	assert_true(matches(f, 1, "node.platform.arch==x86_64"));
	assert_true(matches(f, 1, "engine.labels.foo!=bar"));
	assert_false(matches(f, 1, "engine.labels.foo==bar"));
	assert_true(matches(f, 1, "node.ip==192.168.99.102"));
	assert_true(matches(f, 1, "node.ip==192.168.99.0/24"));
	assert_false(matches(f, 1, "node.ip!=192.168.99.0/24"));
	assert_false(matches(f, 1, "node.ip==10.0.0.0/8"));
	assert_false(matches(f, 1, "node.ip==nonsense"));
	assert_false(matches(f, 1, "node.unknown==x"));
	assert_false(matches(f, 1, "node.unknown!=x"));
	fx_node_label(f, 1, "Zone", "a");
	assert_true(matches(f, 1, "node.labels.Zone==A"));
	assert_false(matches(f, 1, "node.labels.zone==a"));
}

/* Constraint syntax errors carry Docker's texts. */
static void test_constraints_check_errors(void **state)
{
	struct shoal_err err;
	json_t *c;

	(void)state;
	c = json_pack("[s, s]", "node.role==manager", " node.labels.a != b ");
	assert_int_equal(shoal_sched_constraints_check(c, &err), 0);
	json_decref(c);
	assert_int_equal(shoal_sched_constraints_check(NULL, &err), 0);

	c = json_pack("[s]", "node.role=manager");
	assert_int_equal(shoal_sched_constraints_check(c, &err), -1);
	assert_int_equal(err.status, 500);
	assert_string_equal(
		err.msg,
		"rpc error: code = Unknown desc = constraint expected one operator from ==, !=");
	json_decref(c);
	c = json_pack("[s]", "n==x");
	assert_int_equal(shoal_sched_constraints_check(c, &err), -1);
	assert_string_equal(err.msg, "rpc error: code = Unknown desc = key 'n' is invalid");
	json_decref(c);
	c = json_pack("[s]", "node.role==man>ager");
	assert_int_equal(shoal_sched_constraints_check(c, &err), -1);
	assert_string_equal(err.msg,
			    "rpc error: code = Unknown desc = value 'man>ager' is invalid");
	json_decref(c);
	c = json_pack("[s]", "node.role==");
	assert_int_equal(shoal_sched_constraints_check(c, &err), -1);
	assert_string_equal(err.msg, "rpc error: code = Unknown desc = value '' is invalid");
	json_decref(c);
}

/* No node fits: the task stays pending with the failed filters, most failures first; it is
 * placed as soon as a node fits. */
static void test_no_suitable_node_message(void **state)
{
	struct fx *f = *state;
	char a[32];
	unsigned before;
	const json_t *t;

	fx_node_set(f, 2, "Spec", "Availability", json_string("pause"));
	fx_service(f, constrained("a", 1, "node.hostname==node3", NULL), a);
	fx_run(f);
	assert_string_equal(
		pending_err(f, a, 1),
		"no suitable node (scheduling constraints not satisfied on 2 nodes; 1 node not available for new tasks)");
	/* unrelated changes do not rewrite it */
	before = f->proposals;
	fx_node_label(f, 0, "x", "y");
	fx_advance(f, 10 * SEC);
	assert_int_equal(f->proposals, before);

	fx_node_set(f, 2, "Spec", "Availability", json_string("active"));
	fx_run(f);
	t = fx_live(f, a, 1);
	assert_string_equal(fx_str(t, "Status", "State"), "assigned");
	assert_string_equal(fx_str(t, "NodeID", NULL), f->node[2]);
	assert_null(fx_str(t, "Status", "Err"));
}

/* With no node at all the explanation is empty. */
static void test_no_nodes_bare_message(void **state)
{
	struct fx *f = *state;
	char a[32];

	fx_service(f, fx_service_json("a", 2), a);
	fx_run(f);
	assert_string_equal(pending_err(f, a, 2), "no suitable node");
}

/* Down and unknown nodes are not available; singular and plural texts. */
static void test_not_available_texts(void **state)
{
	struct fx *f = *state;
	char a[32];

	fx_node_set(f, 0, "Status", "State", json_string("down"));
	fx_node_set(f, 1, "Status", "State", json_string("unknown"));
	fx_node_set(f, 2, "Spec", "Availability", json_string("drain"));
	fx_service(f, fx_service_json("a", 1), a);
	fx_run(f);
	assert_string_equal(pending_err(f, a, 1),
			    "no suitable node (3 nodes not available for new tasks)");
}

/* Reservations count against the node's resources, including tasks placed in the same pass. */
static void test_resources_reserved(void **state)
{
	struct fx *f = *state;
	json_t *svc = fx_service_json("a", 7);
	char a[32];
	int i;

	json_object_set_new(
		json_object_get(json_object_get(fx_template(svc), "Resources"), "Reservations"),
		"NanoCPUs", json_integer(1000000000));
	fx_service(f, svc, a);
	fx_run(f);
	for (i = 0; i < 3; i++)
		assert_int_equal(fx_on_node(f, a, i), 2);
	assert_int_equal(fx_count_state(f, a, "assigned"), 6);
	assert_string_equal(pending_err(f, a, 1),
			    "no suitable node (insufficient resources on 3 nodes)");
	/* a finished task gives its reservation back */
	fx_agents(f);
	fx_report(f, fx_str(fx_live(f, a, 1), "ID", NULL), "complete", "finished");
	fx_advance(f, 5 * SEC);
	assert_int_equal(fx_count_state(f, a, "pending"), 1);
}

/* MaxReplicas caps the service's tasks per node. */
static void test_max_replicas(void **state)
{
	struct fx *f = *state;
	json_t *svc = fx_service_json("a", 4);
	char a[32];
	int i;

	json_object_set_new(placement(svc), "MaxReplicas", json_integer(1));
	fx_service(f, svc, a);
	fx_run(f);
	for (i = 0; i < 3; i++)
		assert_int_equal(fx_on_node(f, a, i), 1);
	assert_string_equal(pending_err(f, a, 1),
			    "no suitable node (max replicas per node limit exceed)");
}

/* Platforms: amd64 matches x86_64 nodes; arm64 matches none. */
static void test_platforms(void **state)
{
	struct fx *f = *state;
	json_t *ok = fx_service_json("ok", 1), *bad = fx_service_json("bad", 1);
	char a[32], b[32];

	json_object_set_new(placement(ok), "Platforms",
			    json_pack("[{s:s, s:s}]", "Architecture", "amd64", "OS", "linux"));
	json_object_set_new(placement(bad), "Platforms",
			    json_pack("[{s:s}]", "Architecture", "arm64"));
	fx_service(f, ok, a);
	fx_service(f, bad, b);
	fx_run(f);
	assert_int_equal(fx_count_state(f, a, "assigned"), 1);
	assert_string_equal(pending_err(f, b, 1),
			    "no suitable node (unsupported platform on 3 nodes)");
}

/* A host-mode published port fits once per node. */
static void test_host_port_once_per_node(void **state)
{
	struct fx *f = *state;
	json_t *svc = fx_service_json("a", 4);
	char a[32];

	json_object_set_new(json_object_get(json_object_get(svc, "Spec"), "EndpointSpec"), "Ports",
			    json_pack("[{s:s, s:i, s:i, s:s}]", "Protocol", "tcp", "TargetPort", 80,
				      "PublishedPort", 8080, "PublishMode", "host"));
	fx_service(f, svc, a);
	fx_run(f);
	assert_int_equal(fx_count_state(f, a, "assigned"), 3);
	assert_string_equal(pending_err(f, a, 1),
			    "no suitable node (host-mode port already in use on 3 nodes)");
}

/* A log driver no node has: missing plugin. */
static void test_missing_plugin(void **state)
{
	struct fx *f = *state;
	json_t *bad = fx_service_json("bad", 1), *ok = fx_service_json("ok", 1);
	char a[32], b[32];

	json_object_set_new(fx_template(bad), "LogDriver", json_pack("{s:s}", "Name", "gelf"));
	json_object_set_new(fx_template(ok), "LogDriver", json_pack("{s:s}", "Name", "json-file"));
	fx_service(f, bad, b);
	fx_service(f, ok, a);
	fx_run(f);
	assert_string_equal(pending_err(f, b, 1), "no suitable node (missing plugin on 3 nodes)");
	assert_int_equal(fx_count_state(f, a, "assigned"), 1);
}

/* Placement preferences spread tasks evenly over the label's values first. */
static void test_preferences_spread_over_zones(void **state)
{
	struct fx *f = *state;
	json_t *svc = fx_service_json("a", 4);
	char a[32];

	fx_node_label(f, 0, "zone", "a");
	fx_node_label(f, 1, "zone", "b");
	fx_node_label(f, 2, "zone", "b");
	json_object_set_new(
		placement(svc), "Preferences",
		json_pack("[{s:{s:s}}]", "Spread", "SpreadDescriptor", "node.labels.zone"));
	fx_service(f, svc, a);
	fx_run(f);
	assert_int_equal(fx_on_node(f, a, 0), 2);
	assert_int_equal(fx_on_node(f, a, 1), 1);
	assert_int_equal(fx_on_node(f, a, 2), 1);
}

/* A global task on a node that is not ready stays pending with the bare explanation. */
static void test_global_preassigned_not_ready(void **state)
{
	struct fx *f = *state;
	char a[32];

	fx_node_set(f, 2, "Status", "State", json_string("unknown"));
	fx_service(f, fx_service_json("g", -1), a);
	fx_run(f);
	assert_int_equal(fx_count_state(f, a, "assigned"), 2);
	assert_string_equal(pending_err(f, a, 1), "1 node not available for new tasks");
	fx_node_set(f, 2, "Status", "State", json_string("ready"));
	fx_run(f);
	assert_int_equal(fx_count_state(f, a, "assigned"), 3);
}

/* A pending task nobody wants any more is marked shutdown instead of scheduled. */
static void test_pending_unwanted_marked_shutdown(void **state)
{
	struct fx *f = *state;
	char a[32], t[32];
	json_t *task;

	fx_service(f, fx_service_json("a", 1), a);
	fx_run(f);
	task = json_deep_copy(fx_live(f, a, 1));
	json_object_del(task, "ID");
	json_object_del(task, "NodeID");
	json_object_set_new(json_object_get(task, "Status"), "State", json_string("pending"));
	json_object_set_new(task, "DesiredState", json_string("shutdown"));
	fx_create(f, SHOAL_STORE_TASK, task, t);
	fx_run(f);
	assert_string_equal(fx_str(fx_task(f, t), "Status", "State"), "shutdown");
	assert_null(fx_str(fx_task(f, t), "NodeID", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spread_fewest_service_then_total, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_ties_broken_by_hostname, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_constraint_role_manager, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_constraint_node_labels, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_constraint_keys, setup, fx_teardown),
		cmocka_unit_test(test_constraints_check_errors),
		cmocka_unit_test_setup_teardown(test_no_suitable_node_message, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_no_nodes_bare_message, setup_no_nodes,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_not_available_texts, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_resources_reserved, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_max_replicas, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_platforms, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_port_once_per_node, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_missing_plugin, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_preferences_spread_over_zones, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_global_preassigned_not_ready, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_unwanted_marked_shutdown, setup,
						fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
