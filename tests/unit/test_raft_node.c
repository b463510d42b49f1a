/* Unit tests for src/raft/node.c with real I/O: one node on the libuv backend, a temp data
 * dir and a free 127.0.0.1 port, run on a real loop. */
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
#include <cmocka.h>

#include "raft/raft.h"
#include "base/err.h"
#include "base/mem.h"

#define N_ENTRIES 100
#define GUARD_MS  20000

/* --- fixture ---------------------------------------------------------------------------- */

struct fix {
	char dir[64];
	char address[32];
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

	snprintf(x->dir, sizeof(x->dir), "/tmp/shoal-test-raft-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->address, sizeof(x->address), "127.0.0.1:%d", free_port());
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

	nftw(x->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(x);
	return 0;
}

/* --- helpers ---------------------------------------------------------------------------- */

/* One run of the node on its own loop: propose entries [from, to) once leader, then close. */
struct run {
	uv_loop_t loop;
	uv_timer_t guard;
	struct shoal_raft *r;
	struct shoal_raft_fsm fsm;
	uint64_t count, hash;
	unsigned restores;
	uint64_t from, to, applied;
	uint64_t leader_id;
	bool proposing, closed;
};

static int fsm_apply(void *ctx, const void *buf, size_t len, void **result, struct shoal_err *err)
{
	struct run *u = ctx;
	uint64_t v;

	if (len != sizeof(v))
		return shoal_errorf(err, 400, "bad entry length %zu", len);
	memcpy(&v, buf, sizeof(v));
	u->count++;
	u->hash = u->hash * 1000003 + v;
	*result = &u->count;
	return 0;
}

static int fsm_snapshot(void *ctx, void **buf, size_t *len, struct shoal_err *err)
{
	struct run *u = ctx;
	uint64_t *p = shoal_malloc(2 * sizeof(*p));

	(void)err;
	p[0] = u->count;
	p[1] = u->hash;
	*buf = p;
	*len = 2 * sizeof(*p);
	return 0;
}

static int fsm_restore(void *ctx, const void *buf, size_t len, struct shoal_err *err)
{
	struct run *u = ctx;
	uint64_t p[2];

	if (len != sizeof(p))
		return shoal_errorf(err, 500, "bad snapshot length %zu", len);
	memcpy(p, buf, sizeof(p));
	u->count = p[0];
	u->hash = p[1];
	u->restores++;
	return 0;
}

static uint64_t expected_hash(uint64_t n)
{
	uint64_t h = 0, v;

	for (v = 0; v < n; v++)
		h = h * 1000003 + v;
	return h;
}

static void closed_cb(void *ctx)
{
	struct run *u = ctx;

	u->closed = true;
	uv_close((uv_handle_t *)&u->guard, NULL);
}

static void propose_cb(void *ctx, void *result, const struct shoal_err *err);

/* One at a time, so that libraft snapshots along the way rather than once at the end. */
static void propose_next(struct run *u)
{
	struct shoal_err err;
	uint64_t v = u->from + u->applied;

	assert_int_equal(shoal_raft_propose(u->r, &v, sizeof(v), propose_cb, u, &err), 0);
}

static void propose_cb(void *ctx, void *result, const struct shoal_err *err)
{
	struct run *u = ctx;

	if (err != NULL)
		fail_msg("proposal failed: %s", err->msg);
	u->applied++;
	/* Applied in proposal order, after whatever the log held before. */
	assert_int_equal(*(uint64_t *)result, u->from + u->applied);
	if (u->from + u->applied == u->to)
		shoal_raft_close(u->r, closed_cb, u);
	else
		propose_next(u);
}

static void leader_cb(void *ctx, uint64_t leader_id, bool is_leader)
{
	struct run *u = ctx;

	u->leader_id = leader_id;
	if (!is_leader || u->proposing)
		return;
	u->proposing = true;
	propose_next(u);
}

static void guard_cb(uv_timer_t *t)
{
	(void)t;
	fail_msg("timed out");
}

static void run_node(struct fix *x, struct run *u, bool bootstrap)
{
	struct shoal_raft_opts opts = { .snapshot_threshold = 32, .snapshot_trailing = 8 };
	struct shoal_err err;

	assert_int_equal(uv_loop_init(&u->loop), 0);
	u->fsm = (struct shoal_raft_fsm){ u, fsm_apply, fsm_snapshot, fsm_restore };
	assert_int_equal(
		shoal_raft_open(&u->loop, x->dir, 1, x->address, &u->fsm, &opts, &u->r, &err), 0);
	if (bootstrap) {
		assert_int_equal(shoal_raft_bootstrap(u->r, &err), 0);
	} else {
		assert_int_equal(shoal_raft_bootstrap(u->r, &err), -1);
		assert_int_equal(err.status, 409);
	}
	shoal_raft_set_leader_cb(u->r, leader_cb, u);
	assert_int_equal(shoal_raft_start(u->r, &err), 0);
	uv_timer_init(&u->loop, &u->guard);
	uv_timer_start(&u->guard, guard_cb, GUARD_MS, 0);
	uv_run(&u->loop, UV_RUN_DEFAULT);
	assert_true(u->closed);
	/* Every handle, ours and libraft's, is closed: the loop closes cleanly. */
	assert_int_equal(uv_loop_close(&u->loop), 0);
	shoal_raft_reap();
}

/* --- tests ------------------------------------------------------------------------------ */

/* A bootstrapped single node leads, applies 100 proposals in order, and after a restart on
 * the same dir rebuilds the same FSM state from its snapshot and log. */
static void test_single_node_applies_and_restores_after_reopen(void **state)
{
	struct fix *x = *state;
	struct run *u = shoal_calloc(1, sizeof(*u));

	u->from = 0;
	u->to = N_ENTRIES;
	run_node(x, u, true);
	assert_int_equal(u->leader_id, 1);
	assert_int_equal(u->count, N_ENTRIES);
	assert_int_equal(u->hash, expected_hash(N_ENTRIES));
	free(u);

	/* Reopen: one more entry, applied only after the old ones are back in the FSM. */
	u = shoal_calloc(1, sizeof(*u));
	u->from = N_ENTRIES;
	u->to = N_ENTRIES + 1;
	run_node(x, u, false);
	assert_true(u->restores > 0);
	assert_int_equal(u->count, N_ENTRIES + 1);
	assert_int_equal(u->hash, expected_hash(N_ENTRIES + 1));
	free(u);
}

/* Opening on a path that cannot be a directory fails with an error, not a crash. */
static void test_open_bad_dir_fails(void **state)
{
	struct fix *x = *state;
	struct shoal_raft_fsm fsm = { NULL, fsm_apply, fsm_snapshot, fsm_restore };
	struct shoal_raft *r = NULL;
	struct shoal_err err;
	uv_loop_t loop;

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(
		shoal_raft_open(&loop, "/proc/version/raft", 1, x->address, &fsm, NULL, &r, &err),
		-1);
	assert_int_equal(err.status, 500);
	assert_null(r);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_single_node_applies_and_restores_after_reopen,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_bad_dir_fails, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
