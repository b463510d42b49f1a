/* Unit tests for src/manager/manager.c with real raft I/O: swarm init on a temp data root and
 * a free 127.0.0.1 port, the store fed by the FSM, restore after close, leave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "manager/manager.h"
#include "raft/raft.h"
#include "base/mem.h"

#define GUARD_MS 20000

/* --- fixture ---------------------------------------------------------------------------- */

struct fix {
	char dir[64];
	char listen[32];
	uv_loop_t loop;
	uv_timer_t guard;
	bool done, timed_out;
	struct shoal_err err;
	bool failed;
};

static int free_port(void)
{
	struct sockaddr_in sa = { 0 };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int setup(void **state)
{
	struct fix *x = shoal_calloc(1, sizeof(*x));

	snprintf(x->dir, sizeof(x->dir), "/tmp/shoal-test-manager-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->listen, sizeof(x->listen), "127.0.0.1:%d", free_port());
	assert_int_equal(uv_loop_init(&x->loop), 0);
	*state = x;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fix *x = *state;

	assert_int_equal(uv_loop_close(&x->loop), 0);
	shoal_raft_reap();
	nftw(x->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(x);
	return 0;
}

/* --- helpers ---------------------------------------------------------------------------- */

static void guard_fired(uv_timer_t *t)
{
	struct fix *x = t->data;

	x->timed_out = true;
	uv_stop(&x->loop);
}

/* Runs the loop until *flag or the guard. */
static void run_until(struct fix *x, bool *flag)
{
	uv_timer_init(&x->loop, &x->guard);
	x->guard.data = x;
	uv_timer_start(&x->guard, guard_fired, GUARD_MS, 0);
	while (!*flag && !x->timed_out)
		uv_run(&x->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&x->guard, NULL);
	uv_run(&x->loop, UV_RUN_NOWAIT);
	assert_false(x->timed_out);
}

static void done(void *ctx, const struct shoal_err *err)
{
	struct fix *x = ctx;

	x->done = true;
	x->failed = err != NULL;
	if (err != NULL)
		x->err = *err;
}

static void closed(void *ctx)
{
	struct fix *x = ctx;

	x->done = true;
}

static struct shoal_manager *new_manager(struct fix *x)
{
	struct shoal_manager_config c = { .data_root = x->dir,
					  .hostname = "h1",
					  .engine_version = "0.1.0",
					  .ncpu = 2,
					  .mem_total = 1 << 30 };

	return shoal_manager_new(&x->loop, &c);
}

static void close_manager(struct fix *x, struct shoal_manager *m)
{
	x->done = false;
	shoal_manager_close(m, closed, x);
	run_until(x, &x->done);
	uv_run(&x->loop, UV_RUN_DEFAULT);
}

static struct shoal_manager *init_swarm(struct fix *x)
{
	struct shoal_manager *m = new_manager(x);
	struct shoal_manager_init_req r = { .listen_addr = x->listen,
					    .advertise_addr = "127.0.0.1" };
	struct shoal_err err;

	x->done = false;
	assert_int_equal(shoal_manager_init(m, &r, done, x, &err), 0);
	run_until(x, &x->done);
	assert_false(x->failed);
	assert_int_equal(shoal_manager_state(m), SHOAL_MANAGER_ACTIVE);
	return m;
}

/* --- tests ------------------------------------------------------------------------------ */

/* Init applies the cluster and node objects through raft into the store. */
static void test_init_applies_cluster_and_node(void **state)
{
	struct fix *x = *state;
	struct shoal_manager *m = init_swarm(x);
	struct shoal_store *s = shoal_manager_store(m);
	struct shoal_store_obj *node;
	json_t *sw, *info;

	assert_int_equal(shoal_store_count(s, SHOAL_STORE_CLUSTER), 1);
	assert_int_equal(shoal_store_count(s, SHOAL_STORE_NODE), 1);
	node = shoal_store_get(s, SHOAL_STORE_NODE, shoal_manager_node_id(m));
	assert_non_null(node);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(node->json, "ManagerStatus"), "Addr")),
			    x->listen);
	sw = shoal_manager_swarm_json(m);
	assert_string_equal(json_string_value(json_object_get(json_object_get(sw, "Spec"), "Name")),
			    "default");
	assert_non_null(json_object_get(json_object_get(sw, "JoinTokens"), "Worker"));
	info = shoal_manager_info_json(m);
	assert_string_equal(json_string_value(json_object_get(info, "LocalNodeState")), "active");
	assert_int_equal(json_integer_value(json_object_get(info, "Nodes")), 1);
	json_decref(sw);
	json_decref(info);
	close_manager(x, m);
}

/* A change set with a stale version comes back as Docker's "update out of sequence". */
static void test_stale_update_is_out_of_sequence(void **state)
{
	struct fix *x = *state;
	struct shoal_manager *m = init_swarm(x);
	struct shoal_store_obj *node;
	struct shoal_store_tx *tx;
	struct shoal_err err;

	node = shoal_store_get(shoal_manager_store(m), SHOAL_STORE_NODE, shoal_manager_node_id(m));
	tx = shoal_store_tx_new();
	shoal_store_tx_update(tx, SHOAL_STORE_NODE, json_deep_copy(node->json), node->version + 7);
	x->done = false;
	assert_int_equal(shoal_manager_propose(m, tx, done, x, &err), 0);
	shoal_store_tx_free(tx);
	run_until(x, &x->done);
	assert_true(x->failed);
	assert_string_equal(x->err.msg, SHOAL_MANAGER_OUT_OF_SEQUENCE_MSG);
	close_manager(x, m);
}

/* A closed manager comes back from its data root with the same swarm, and init is refused. */
static void test_restore_brings_the_same_swarm_back(void **state)
{
	struct fix *x = *state;
	struct shoal_manager *m = init_swarm(x);
	struct shoal_manager_init_req r = { 0 };
	char id[64], node_id[32];
	json_t *sw = shoal_manager_swarm_json(m);
	struct shoal_err err;
	bool active = false;
	int i;

	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(sw, "ID")));
	snprintf(node_id, sizeof(node_id), "%s", shoal_manager_node_id(m));
	json_decref(sw);
	close_manager(x, m);

	m = new_manager(x);
	assert_int_equal(shoal_manager_restore(m, &err), 0);
	assert_int_equal(shoal_manager_init(m, &r, done, x, &err), -1);
	assert_int_equal(err.status, 503);
	assert_string_equal(err.msg, SHOAL_MANAGER_ALREADY_MSG);
	/* raft's leader watch ticks every 100 ms, so each turn returns; 20 s at most */
	for (i = 0; i < 200 && !active; i++) {
		uv_run(&x->loop, UV_RUN_ONCE);
		active = shoal_manager_state(m) == SHOAL_MANAGER_ACTIVE;
	}
	assert_true(active);
	sw = shoal_manager_swarm_json(m);
	assert_string_equal(json_string_value(json_object_get(sw, "ID")), id);
	assert_string_equal(shoal_manager_node_id(m), node_id);
	json_decref(sw);
	close_manager(x, m);
}

/* leave needs force; with it the swarm dir goes and the manager is inactive. */
static void test_leave_force_removes_the_swarm(void **state)
{
	struct fix *x = *state;
	struct shoal_manager *m = init_swarm(x);
	struct shoal_err err;
	char path[128];

	assert_int_equal(shoal_manager_leave(m, false, done, x, &err), -1);
	assert_string_equal(err.msg, SHOAL_MANAGER_LEAVE_MANAGER_MSG);
	x->done = false;
	assert_int_equal(shoal_manager_leave(m, true, done, x, &err), 0);
	run_until(x, &x->done);
	assert_false(x->failed);
	assert_int_equal(shoal_manager_state(m), SHOAL_MANAGER_INACTIVE);
	snprintf(path, sizeof(path), "%s/swarm", x->dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(shoal_manager_check(m, &err), -1);
	assert_string_equal(err.msg, SHOAL_MANAGER_NOT_MANAGER_MSG);
	close_manager(x, m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_applies_cluster_and_node, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_update_is_out_of_sequence, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_restore_brings_the_same_swarm_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_leave_force_removes_the_swarm, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
