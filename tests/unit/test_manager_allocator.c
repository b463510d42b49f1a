/* Unit tests for src/manager/allocator.c and mesh.c: ingress addresses for nodes, services
 * and tasks through a real store and orchestrator (orch_fixture.h), and the routing mesh's
 * message the dispatcher builds from the store. */
#include "orch_fixture.h"

#include "manager/internal.h"

/*
 * Fixture: a cluster object, the ingress network (10.0.0.0/24), node1..node3 ready and
 * active, and a started orchestrator.
 */

static char ingress_id[SHOAL_STORE_ID_LEN + 1];

static void ingress(struct fx *f, const char *subnet, const char *gw)
{
	fx_create(f, SHOAL_STORE_NETWORK, shoal_orch_ingress_network(subnet, gw, 4096), ingress_id);
}

static int setup(void **state)
{
	struct fx *f;
	int i;

	fx_setup_empty(state);
	f = *state;
	fx_cluster(f, 5);
	ingress(f, "10.0.0.0/24", "10.0.0.1");
	for (i = 0; i < 3; i++)
		fx_node(f, i);
	fx_start(f);
	return 0;
}

/* The same swarm without an ingress network. */
static int setup_no_ingress(void **state)
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

/* A service publishing target -> published in mode ("ingress" or "host"), as the API layer
 * stores it (Endpoint.Ports allocated). */
static json_t *published(const char *name, int replicas, const char *mode, int target,
			 int published_port)
{
	json_t *svc = fx_service_json(name, replicas);
	json_t *port = json_pack("{s:s, s:i, s:i, s:s}", "Protocol", "tcp", "TargetPort", target,
				 "PublishedPort", published_port, "PublishMode", mode);

	json_object_set_new(json_object_get(json_object_get(svc, "Spec"), "EndpointSpec"), "Ports",
			    json_pack("[O]", port));
	json_object_set_new(svc, "Endpoint",
			    json_pack("{s:{s:s, s:[O]}, s:[o]}", "Spec", "Mode", "vip", "Ports",
				      port, "Ports", port));
	return svc;
}

static const char *task_addr(const json_t *t)
{
	const json_t *a = json_array_get(json_object_get(t, "NetworksAttachments"), 0);

	return json_string_value(json_array_get(json_object_get(a, "Addresses"), 0));
}

static const char *node_addr(struct fx *f, int i)
{
	const json_t *n = shoal_store_get(f->s, SHOAL_STORE_NODE, f->node[i])->json;
	const json_t *a = json_array_get(json_object_get(n, "Attachments"), 0);

	return json_string_value(json_array_get(json_object_get(a, "Addresses"), 0));
}

static const char *vip(struct fx *f, const char *svc)
{
	const json_t *s = shoal_store_get(f->s, SHOAL_STORE_SERVICE, svc)->json;
	const json_t *v =
		json_array_get(json_object_get(json_object_get(s, "Endpoint"), "VirtualIPs"), 0);

	return json_string_value(json_object_get(v, "Addr"));
}

/* Every address of nodes, VIPs and live tasks, asserting none is there twice. */
static size_t distinct_addresses(struct fx *f)
{
	struct shoal_store_obj **l;
	json_t *seen = json_object();
	const char *a;
	size_t n, i, count;

	l = shoal_store_list(f->s, SHOAL_STORE_NODE, &n);
	for (i = 0; i < n; i++) {
		const json_t *at = json_array_get(json_object_get(l[i]->json, "Attachments"), 0);

		a = json_string_value(json_array_get(json_object_get(at, "Addresses"), 0));
		if (a == NULL)
			continue;
		assert_null(json_object_get(seen, a));
		json_object_set_new(seen, a, json_true());
	}
	free(l);
	l = shoal_store_list(f->s, SHOAL_STORE_SERVICE, &n);
	for (i = 0; i < n; i++) {
		a = vip(f, l[i]->id);
		if (a == NULL)
			continue;
		assert_null(json_object_get(seen, a));
		json_object_set_new(seen, a, json_true());
	}
	free(l);
	l = shoal_store_list(f->s, SHOAL_STORE_TASK, &n);
	for (i = 0; i < n; i++) {
		enum shoal_task_state st;

		a = task_addr(l[i]->json);
		assert_int_equal(shoal_task_state_parse(fx_str(l[i]->json, "Status", "State"), &st),
				 0);
		if (a == NULL || st > SHOAL_TASK_RUNNING)
			continue;
		assert_null(json_object_get(seen, a));
		json_object_set_new(seen, a, json_true());
	}
	free(l);
	count = json_object_size(seen);
	json_decref(seen);
	return count;
}

/*
 * Tests.
 */

/* Every node gets a sandbox address, lowest first, the gateway never. */
static void test_nodes_get_sandbox_addresses(void **state)
{
	struct fx *f = *state;
	int i, seen = 0;

	fx_run(f);
	for (i = 0; i < 3; i++) {
		const char *a = node_addr(f, i);

		assert_non_null(a);
		assert_true(strcmp(a, "10.0.0.2/24") == 0 || strcmp(a, "10.0.0.3/24") == 0 ||
			    strcmp(a, "10.0.0.4/24") == 0);
		seen |= 1 << (a[7] - '2');
	}
	assert_int_equal(seen, 7);
	/* a node joining later gets the next one */
	fx_node(f, 3);
	fx_run(f);
	assert_string_equal(node_addr(f, 3), "10.0.0.5/24");
}

/* A service publishing an ingress port gets a VIP, then each task an address with the
 * whole network object before it is scheduled; all addresses differ. */
static void test_ingress_service_tasks_get_addresses(void **state)
{
	struct fx *f = *state;
	char svc[SHOAL_STORE_ID_LEN + 1];
	const json_t *net, *att;
	struct fx_list l;
	size_t i;

	fx_run(f);
	fx_service(f, published("vote", 6, "ingress", 80, 8080), svc);
	fx_run(f);
	assert_string_equal(vip(f, svc), "10.0.0.5/24");
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 6);
	for (i = 0; i < l.n; i++) {
		assert_string_equal(fx_str(l.t[i], "Status", "State"), "assigned");
		att = json_array_get(json_object_get(l.t[i], "NetworksAttachments"), 0);
		net = json_object_get(att, "Network");
		assert_string_equal(fx_str(net, "ID", NULL), ingress_id);
		assert_string_equal(fx_str(net, "Spec", "Name"), "ingress");
		assert_true(json_is_true(json_object_get(json_object_get(net, "Spec"), "Ingress")));
		assert_non_null(task_addr(l.t[i]));
	}
	assert_int_equal(distinct_addresses(f), 3 + 1 + 6);
}

/* Host-mode ports need no ingress address: the tasks go on without one, and no VIP. */
static void test_host_mode_needs_no_address(void **state)
{
	struct fx *f = *state;
	char svc[SHOAL_STORE_ID_LEN + 1];
	struct fx_list l;
	size_t i;

	fx_service(f, published("vote2", 3, "host", 80, 8081), svc);
	fx_run(f);
	assert_null(vip(f, svc));
	fx_tasks(f, svc, "running", &l);
	assert_int_equal(l.n, 3);
	for (i = 0; i < l.n; i++) {
		assert_string_equal(fx_str(l.t[i], "Status", "State"), "assigned");
		assert_null(json_object_get(l.t[i], "NetworksAttachments"));
	}
}

/* A task's address is free again once its container stopped: scaled down then up, the
 * addresses of the stopped tasks are handed out again while their history keeps showing
 * them. */
static void test_stopped_tasks_free_their_addresses(void **state)
{
	struct fx *f = *state;
	char svc[SHOAL_STORE_ID_LEN + 1];

	fx_run(f);
	fx_service(f, published("vote", 4, "ingress", 80, 8080), svc);
	fx_run(f);
	fx_agents(f);
	assert_int_equal(distinct_addresses(f), 3 + 1 + 4);
	fx_scale(f, svc, 1);
	fx_run(f);
	fx_agents(f);
	assert_int_equal(distinct_addresses(f), 3 + 1 + 1);
	fx_scale(f, svc, 4);
	fx_run(f);
	fx_agents(f);
	/* 10.0.0.2-4 nodes, .5 VIP: four tasks within .6-.9, the freed ones reused */
	assert_int_equal(distinct_addresses(f), 3 + 1 + 4);
	{
		struct fx_list l;
		size_t i;

		fx_tasks(f, svc, "running", &l);
		for (i = 0; i < l.n; i++) {
			const char *a = task_addr(l.t[i]);

			assert_true(strcmp(a, "10.0.0.6/24") == 0 ||
				    strcmp(a, "10.0.0.7/24") == 0 ||
				    strcmp(a, "10.0.0.8/24") == 0 || strcmp(a, "10.0.0.9/24") == 0);
		}
	}
}

/* When the subnet is full, new tasks stay new (unscheduled) until an address frees up. */
static void test_full_subnet_holds_tasks_new(void **state)
{
	struct fx *f;
	char svc[SHOAL_STORE_ID_LEN + 1], waiting[SHOAL_STORE_ID_LEN + 1] = "";
	char failing[SHOAL_STORE_ID_LEN + 1] = "";
	struct fx_list l;
	size_t i;

	(void)state;
	fx_setup_empty(state);
	f = *state;
	fx_cluster(f, 5);
	/* a /29: .1 gateway, .2-.6 for five, .7 broadcast */
	ingress(f, "10.9.0.0/29", "10.9.0.1");
	fx_node(f, 0);
	fx_node(f, 1);
	fx_start(f);
	fx_service(f, published("vote", 3, "ingress", 80, 8080), svc);
	fx_run(f);
	/* two nodes, a VIP, two tasks: the third waits */
	assert_int_equal(fx_count_state(f, svc, "assigned"), 2);
	assert_int_equal(fx_count_state(f, svc, "new"), 1);
	assert_int_equal(distinct_addresses(f), 5);
	fx_tasks(f, svc, "running", &l);
	for (i = 0; i < l.n; i++)
		if (strcmp(fx_str(l.t[i], "Status", "State"), "new") == 0)
			snprintf(waiting, sizeof(waiting), "%s", fx_str(l.t[i], "ID", NULL));
	fx_agents(f);
	/* a task's container stops: its address goes to the waiting task, and its own
	 * replacement waits in turn */
	fx_tasks(f, svc, "running", &l);
	for (i = 0; i < l.n; i++)
		if (strcmp(fx_str(l.t[i], "Status", "State"), "running") == 0)
			snprintf(failing, sizeof(failing), "%s", fx_str(l.t[i], "ID", NULL));
	fx_report(f, failing, "failed", "failed");
	fx_run(f);
	assert_string_equal(fx_str(fx_task(f, waiting), "Status", "State"), "assigned");
	assert_non_null(task_addr(fx_task(f, waiting)));
	assert_int_equal(distinct_addresses(f), 5);
}

/* Without an ingress network, tasks are scheduled as before, with no address. */
static void test_no_ingress_network(void **state)
{
	struct fx *f = *state;
	char svc[SHOAL_STORE_ID_LEN + 1];

	fx_service(f, published("vote", 2, "ingress", 80, 8080), svc);
	fx_run(f);
	assert_int_equal(fx_count_state(f, svc, "assigned"), 2);
	assert_null(vip(f, svc));
	assert_null(node_addr(f, 0));
}

/* A service that stops publishing ingress ports loses its VIP. */
static void test_vip_dropped_with_ports(void **state)
{
	struct fx *f = *state;
	char svc[SHOAL_STORE_ID_LEN + 1];
	json_t *s;

	fx_service(f, published("vote", 1, "ingress", 80, 8080), svc);
	fx_run(f);
	assert_non_null(vip(f, svc));
	s = fx_copy(f, SHOAL_STORE_SERVICE, svc);
	json_object_del(json_object_get(json_object_get(s, "Spec"), "EndpointSpec"), "Ports");
	json_object_set_new(
		s, "Endpoint",
		json_pack("{s:{s:s}, s:O}", "Spec", "Mode", "vip", "VirtualIPs",
			  json_object_get(json_object_get(s, "Endpoint"), "VirtualIPs")));
	fx_put(f, SHOAL_STORE_SERVICE, s);
	fx_run(f);
	assert_null(vip(f, svc));
}

/* The subnet of the default pool, or of the pool and size asked at init. */
static void test_ingress_subnet_from_pool(void **state)
{
	char subnet[24], gw[16];
	struct shoal_err err;
	json_t *pools = json_pack("[s]", "10.20.0.0/16");

	(void)state;
	assert_int_equal(shoal_orch_ingress_subnet(NULL, 0, subnet, gw, &err), 0);
	assert_string_equal(subnet, "10.0.0.0/24");
	assert_string_equal(gw, "10.0.0.1");
	assert_int_equal(shoal_orch_ingress_subnet(pools, 26, subnet, gw, &err), 0);
	assert_string_equal(subnet, "10.20.0.0/26");
	assert_string_equal(gw, "10.20.0.1");
	assert_int_equal(shoal_orch_ingress_subnet(pools, 8, subnet, gw, &err), -1);
	assert_int_equal(err.status, 400);
	json_decref(pools);
}

/* The mesh's message: every node with its VTEP and sandbox address, the live tasks'
 * addresses, and per service its ingress ports and running tasks; a task desired shutdown
 * leaves the rotation at once but keeps its address until its container stops. */
static void test_mesh_message(void **state)
{
	struct fx *f = *state;
	char svc[SHOAL_STORE_ID_LEN + 1], first[SHOAL_STORE_ID_LEN + 1];
	json_t *msg, *s, *p;
	struct fx_list l;

	fx_service(f, published("vote", 2, "ingress", 80, 8080), svc);
	fx_run(f);
	fx_agents(f);
	msg = shoal_manager__mesh_msg(f->s);
	assert_string_equal(fx_str(msg, "Type", NULL), "network");
	assert_string_equal(fx_str(json_object_get(msg, "Network"), "ID", NULL), ingress_id);
	assert_int_equal(json_integer_value(json_object_get(msg, "DataPathPort")), 4789);
	assert_int_equal(json_array_size(json_object_get(msg, "Nodes")), 3);
	assert_int_equal(json_array_size(json_object_get(msg, "Endpoints")), 2);
	s = json_array_get(json_object_get(msg, "Services"), 0);
	assert_string_equal(fx_str(s, "Name", NULL), "vote");
	assert_int_equal(json_array_size(json_object_get(s, "Tasks")), 2);
	p = json_array_get(json_object_get(s, "Ports"), 0);
	assert_int_equal(json_integer_value(json_object_get(p, "PublishedPort")), 8080);
	assert_int_equal(json_integer_value(json_object_get(p, "TargetPort")), 80);
	json_decref(msg);

	/* scaled down: the task desired shutdown is out of the rotation, still an endpoint */
	fx_tasks(f, svc, "running", &l);
	snprintf(first, sizeof(first), "%s", fx_str(l.t[1], "ID", NULL));
	fx_scale(f, svc, 1);
	fx_run(f);
	msg = shoal_manager__mesh_msg(f->s);
	s = json_array_get(json_object_get(msg, "Services"), 0);
	assert_int_equal(json_array_size(json_object_get(s, "Tasks")), 1);
	assert_int_equal(json_array_size(json_object_get(msg, "Endpoints")), 2);
	json_decref(msg);
	fx_agents(f);
	msg = shoal_manager__mesh_msg(f->s);
	assert_int_equal(json_array_size(json_object_get(msg, "Endpoints")), 1);
	json_decref(msg);
	(void)first;
}

/* Without an ingress network the message says so. */
static void test_mesh_message_without_ingress(void **state)
{
	struct fx *f = *state;
	json_t *msg = shoal_manager__mesh_msg(f->s);

	assert_true(json_is_null(json_object_get(msg, "Network")) ||
		    json_object_get(msg, "Network") == NULL);
	assert_int_equal(json_array_size(json_object_get(msg, "Services")), 0);
	json_decref(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nodes_get_sandbox_addresses, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_ingress_service_tasks_get_addresses, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_mode_needs_no_address, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_stopped_tasks_free_their_addresses, setup,
						fx_teardown),
		cmocka_unit_test_teardown(test_full_subnet_holds_tasks_new, fx_teardown),
		cmocka_unit_test_setup_teardown(test_no_ingress_network, setup_no_ingress,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_vip_dropped_with_ports, setup, fx_teardown),
		cmocka_unit_test(test_ingress_subnet_from_pool),
		cmocka_unit_test_setup_teardown(test_mesh_message, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_mesh_message_without_ingress, setup_no_ingress,
						fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
