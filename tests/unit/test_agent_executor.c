/* Unit tests for src/agent/executor.c: the pure parts, task -> container configuration, the
 * container name, the state names and the status reports. Running tasks with real
 * containers is tests/integration/test_agent_exec.py's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "agent/agent.h"

/* ---- helpers ---- */

static json_t *task_of(const char *json)
{
	json_error_t jerr;
	json_t *t = json_loads(json, 0, &jerr);

	if (t == NULL)
		fail_msg("bad test JSON: %s", jerr.text);
	return t;
}

static json_t *body_of(const char *json)
{
	json_t *t = task_of(json);
	struct shoal_err err;
	json_t *b = shoal_agent_container_body(t, "nodeself", &err);

	if (b == NULL)
		fail_msg("no body: %s", err.msg);
	json_decref(t);
	return b;
}

static void assert_json(const json_t *got, const char *want)
{
	json_t *w = task_of(want);

	if (!json_equal((json_t *)got, w)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);

		print_error("got  %s\nwant %s\n", g, want);
		free(g);
		json_decref(w);
		fail();
	}
	json_decref(w);
}

static const char *sget(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

/* ---- names ---- */

/* A replicated task's container is <service>.<slot>.<task ID>. */
static void test_name_replicated(void **state)
{
	json_t *t = task_of("{\"ID\": \"t1\", \"Slot\": 2, \"NodeID\": \"n1\", "
			    "\"ServiceAnnotations\": {\"Name\": \"vote\"}}");
	char *n = shoal_agent_container_name(t, "self");

	(void)state;
	assert_string_equal(n, "vote.2.t1");
	free(n);
	json_decref(t);
}

/* A global task has no slot: the node's ID stands in, the executor's when the task has
 * none. */
static void test_name_global_uses_node(void **state)
{
	json_t *t = task_of("{\"ID\": \"t1\", \"NodeID\": \"n1\", "
			    "\"ServiceAnnotations\": {\"Name\": \"agent\"}}");
	json_t *u = task_of("{\"ID\": \"t2\", \"Slot\": 0, "
			    "\"ServiceAnnotations\": {\"Name\": \"agent\"}}");
	char *n = shoal_agent_container_name(t, "self");
	char *m = shoal_agent_container_name(u, "self");

	(void)state;
	assert_string_equal(n, "agent.n1.t1");
	assert_string_equal(m, "agent.self.t2");
	free(n);
	free(m);
	json_decref(t);
	json_decref(u);
}

/* A task's own Name wins; without a service name the service ID stands in. */
static void test_name_overrides_and_fallback(void **state)
{
	json_t *t = task_of("{\"ID\": \"t1\", \"Slot\": 1, \"Name\": \"custom\"}");
	json_t *u = task_of("{\"ID\": \"t2\", \"Slot\": 1, \"ServiceID\": \"s9\"}");
	char *n = shoal_agent_container_name(t, "self");
	char *m = shoal_agent_container_name(u, "self");

	(void)state;
	assert_string_equal(n, "custom");
	assert_string_equal(m, "s9.1.t2");
	free(n);
	free(m);
	json_decref(t);
	json_decref(u);
}

/* ---- container body ---- */

/* The swarm labels go over the task's labels, which go over the spec's. */
static void test_body_labels(void **state)
{
	json_t *b = body_of(
		"{\"ID\": \"t1\", \"Slot\": 3, \"NodeID\": \"n1\", \"ServiceID\": \"s1\", "
		"\"ServiceAnnotations\": {\"Name\": \"web\"}, \"Labels\": {\"b\": \"task\"}, "
		"\"Spec\": {\"ContainerSpec\": {\"Image\": \"busybox\", \"Labels\": "
		"{\"a\": \"spec\", \"b\": \"spec\", \"com.docker.swarm.task.id\": \"forged\"}}}}");

	(void)state;
	assert_json(
		json_object_get(b, "Labels"),
		"{\"a\": \"spec\", \"b\": \"task\", \"com.docker.swarm.task\": \"\", "
		"\"com.docker.swarm.task.id\": \"t1\", "
		"\"com.docker.swarm.task.name\": \"web.3.t1\", "
		"\"com.docker.swarm.node.id\": \"n1\", \"com.docker.swarm.service.id\": \"s1\", "
		"\"com.docker.swarm.service.name\": \"web\"}");
	assert_string_equal(sget(b, "Image"), "busybox");
	json_decref(b);
}

/* Command replaces the entrypoint with Args as its arguments; Args alone are the
 * image entrypoint's arguments. */
static void test_body_command_and_args(void **state)
{
	json_t *b =
		body_of("{\"ID\": \"t\", \"Slot\": 1, \"Spec\": {\"ContainerSpec\": "
			"{\"Image\": \"i\", \"Command\": [\"sh\", \"-c\"], \"Args\": [\"x\"]}}}");
	json_t *c = body_of("{\"ID\": \"t\", \"Slot\": 1, \"Spec\": {\"ContainerSpec\": "
			    "{\"Image\": \"i\", \"Args\": [\"-v\"]}}}");
	json_t *d = body_of("{\"ID\": \"t\", \"Slot\": 1, \"Spec\": {\"ContainerSpec\": "
			    "{\"Image\": \"i\"}}}");

	(void)state;
	assert_json(json_object_get(b, "Entrypoint"), "[\"sh\", \"-c\"]");
	assert_json(json_object_get(b, "Cmd"), "[\"x\"]");
	assert_null(json_object_get(c, "Entrypoint"));
	assert_json(json_object_get(c, "Cmd"), "[\"-v\"]");
	assert_null(json_object_get(d, "Entrypoint"));
	assert_null(json_object_get(d, "Cmd"));
	json_decref(b);
	json_decref(c);
	json_decref(d);
}

/* The ContainerSpec's process settings become Config fields; StopGracePeriod is in
 * nanoseconds, StopTimeout in seconds; empty strings are left out. */
static void test_body_config_fields(void **state)
{
	json_t *b = body_of(
		"{\"ID\": \"t\", \"Slot\": 1, \"Spec\": {\"ContainerSpec\": {\"Image\": \"i\", "
		"\"Env\": [\"A=1\"], \"Dir\": \"/w\", \"User\": \"nobody\", \"Hostname\": \"h\", "
		"\"StopSignal\": \"SIGINT\", \"StopGracePeriod\": 2500000000, \"TTY\": true, "
		"\"OpenStdin\": false, \"Healthcheck\": {\"Test\": [\"CMD\", \"true\"], "
		"\"Interval\": 1000000000}}}}");
	json_t *c = body_of("{\"ID\": \"t\", \"Slot\": 1, \"Spec\": {\"ContainerSpec\": "
			    "{\"Image\": \"i\", \"Dir\": \"\", \"StopSignal\": \"\"}}}");

	(void)state;
	assert_json(json_object_get(b, "Env"), "[\"A=1\"]");
	assert_string_equal(sget(b, "WorkingDir"), "/w");
	assert_string_equal(sget(b, "User"), "nobody");
	assert_string_equal(sget(b, "Hostname"), "h");
	assert_string_equal(sget(b, "StopSignal"), "SIGINT");
	assert_int_equal(json_integer_value(json_object_get(b, "StopTimeout")), 2);
	assert_true(json_is_true(json_object_get(b, "Tty")));
	assert_true(json_is_false(json_object_get(b, "OpenStdin")));
	assert_json(json_object_get(b, "Healthcheck"),
		    "{\"Test\": [\"CMD\", \"true\"], \"Interval\": 1000000000}");
	assert_null(json_object_get(c, "WorkingDir"));
	assert_null(json_object_get(c, "StopSignal"));
	assert_null(json_object_get(c, "StopTimeout"));
	json_decref(b);
	json_decref(c);
}

/* Resources, mounts, DNS, hosts and the rest land in HostConfig under Docker's names; no
 * restart policy is passed on. */
static void test_body_host_config(void **state)
{
	json_t *b = body_of(
		"{\"ID\": \"t\", \"Slot\": 1, \"Spec\": {\"ContainerSpec\": {\"Image\": \"i\", "
		"\"Mounts\": [{\"Type\": \"bind\", \"Source\": \"/s\", \"Target\": \"/t\"}], "
		"\"ReadOnly\": true, \"Init\": true, \"Sysctls\": {\"net.core.somaxconn\": \"1\"}, "
		"\"DNSConfig\": {\"Nameservers\": [\"1.1.1.1\"], \"Search\": [\"x\"], "
		"\"Options\": [\"ndots:2\"]}, \"Hosts\": [\"10.0.0.1 db alias\", \"bad\"], "
		"\"CapabilityAdd\": [\"NET_ADMIN\"], \"CapabilityDrop\": [\"CHOWN\"], "
		"\"Groups\": [\"audio\"], \"Ulimits\": [{\"Name\": \"nofile\", \"Soft\": 10, "
		"\"Hard\": 20}], \"OomScoreAdj\": 5}, "
		"\"Resources\": {\"Limits\": {\"NanoCPUs\": 1500000000, \"MemoryBytes\": 1048576, "
		"\"Pids\": 50}, \"Reservations\": {\"MemoryBytes\": 1}}, "
		"\"RestartPolicy\": {\"Condition\": \"any\"}, "
		"\"LogDriver\": {\"Name\": \"json-file\", \"Options\": {\"max-size\": \"1m\"}}}}");

	(void)state;
	assert_json(
		json_object_get(b, "HostConfig"),
		"{\"Mounts\": [{\"Type\": \"bind\", \"Source\": \"/s\", \"Target\": \"/t\"}], "
		"\"ReadonlyRootfs\": true, \"Init\": true, "
		"\"Sysctls\": {\"net.core.somaxconn\": \"1\"}, \"Dns\": [\"1.1.1.1\"], "
		"\"DnsSearch\": [\"x\"], \"DnsOptions\": [\"ndots:2\"], "
		"\"ExtraHosts\": [\"db:10.0.0.1\", \"alias:10.0.0.1\"], "
		"\"CapAdd\": [\"NET_ADMIN\"], \"CapDrop\": [\"CHOWN\"], "
		"\"GroupAdd\": [\"audio\"], "
		"\"Ulimits\": [{\"Name\": \"nofile\", \"Soft\": 10, \"Hard\": 20}], "
		"\"OomScoreAdj\": 5, \"NanoCpus\": 1500000000, \"Memory\": 1048576, "
		"\"PidsLimit\": 50, "
		"\"LogConfig\": {\"Type\": \"json-file\", \"Config\": {\"max-size\": \"1m\"}}}");
	assert_null(json_object_get(b, "RestartPolicy"));
	json_decref(b);
}

/* A task without a ContainerSpec or an image cannot make a container. */
static void test_body_needs_image(void **state)
{
	json_t *t = task_of("{\"ID\": \"t\", \"Spec\": {}}");
	json_t *u = task_of("{\"ID\": \"t\", \"Spec\": {\"ContainerSpec\": {\"Image\": \"\"}}}");
	struct shoal_err err;

	(void)state;
	assert_null(shoal_agent_container_body(t, "n", &err));
	assert_int_equal(err.status, 400);
	assert_null(shoal_agent_container_body(u, "n", &err));
	assert_int_equal(err.status, 400);
	json_decref(t);
	json_decref(u);
}

/* ---- states and reports ---- */

/* State names round-trip and keep swarmkit's order. */
static void test_state_names(void **state)
{
	enum shoal_task_state st;

	(void)state;
	assert_string_equal(shoal_task_state_name(SHOAL_TASK_READY), "ready");
	assert_int_equal(shoal_task_state_parse("running", &st), 0);
	assert_int_equal(st, SHOAL_TASK_RUNNING);
	assert_int_equal(shoal_task_state_parse("rejected", &st), 0);
	assert_int_equal(st, SHOAL_TASK_REJECTED);
	assert_int_equal(shoal_task_state_parse("bogus", &st), -1);
	assert_int_equal(shoal_task_state_parse(NULL, &st), -1);
	assert_null(shoal_task_state_name(1));
	assert_true(SHOAL_TASK_COMPLETE < SHOAL_TASK_SHUTDOWN);
	assert_true(SHOAL_TASK_SHUTDOWN < SHOAL_TASK_FAILED);
}

/* A report is Docker's Task.Status: ContainerStatus only once there is a container, Err
 * only when given, PortStatus always. */
static void test_status_json(void **state)
{
	json_t *a = shoal_agent_status_json(SHOAL_TASK_ACCEPTED, "accepted", NULL, NULL, 0, 0,
					    1700000000123456789LL);
	json_t *f = shoal_agent_status_json(SHOAL_TASK_FAILED, "started", "task: non-zero exit (3)",
					    "abc", 0, 3, 1700000000000000000LL);

	(void)state;
	assert_json(a, "{\"Timestamp\": \"2023-11-14T22:13:20.123456789Z\", "
		       "\"State\": \"accepted\", \"Message\": \"accepted\", \"PortStatus\": {}}");
	assert_json(f, "{\"Timestamp\": \"2023-11-14T22:13:20Z\", \"State\": \"failed\", "
		       "\"Message\": \"started\", \"Err\": \"task: non-zero exit (3)\", "
		       "\"ContainerStatus\": {\"ContainerID\": \"abc\", \"PID\": 0, "
		       "\"ExitCode\": 3}, \"PortStatus\": {}}");
	json_decref(a);
	json_decref(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_replicated),
		cmocka_unit_test(test_name_global_uses_node),
		cmocka_unit_test(test_name_overrides_and_fallback),
		cmocka_unit_test(test_body_labels),
		cmocka_unit_test(test_body_command_and_args),
		cmocka_unit_test(test_body_config_fields),
		cmocka_unit_test(test_body_host_config),
		cmocka_unit_test(test_body_needs_image),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_status_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
