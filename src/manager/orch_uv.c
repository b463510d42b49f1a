/* The reconciliation loop on libuv: the core (orchestrator.c) on the real clock, woken by one
 * uv_timer_t. What a pass does is the core's; when to start and stop it is the manager's. */
#include "manager/orchestrator.h"

#include <stdlib.h>

#include "base/clock.h"
#include "base/mem.h"

struct shoal_orch_uv {
	uv_timer_t timer;
	struct shoal_orch *orch;
	shoal_orch_propose_fn propose;
	void *data;
	void (*close_cb)(void *ctx);
	void *close_ctx;
};

static int64_t uv_now_ns(void *data)
{
	(void)data;
	return shoal_time_now_ns();
}

static void on_timer(uv_timer_t *t)
{
	struct shoal_orch_uv *u = container_of(t, struct shoal_orch_uv, timer);

	shoal_orch_run(u->orch);
}

static void uv_wake(void *data, int64_t at_ns)
{
	struct shoal_orch_uv *u = data;
	int64_t wait;

	if (at_ns == SHOAL_ORCH_NEVER) {
		uv_timer_stop(&u->timer);
		return;
	}
	wait = at_ns - shoal_time_now_ns();
	/* rounded up: a wake a little late finds the deadline passed, one early would not */
	uv_timer_start(&u->timer, on_timer, wait <= 0 ? 0 : (uint64_t)(wait + 999999) / 1000000, 0);
}

static int uv_propose(void *data, const struct shoal_store_tx *tx, shoal_orch_done_cb cb, void *ctx,
		      struct shoal_err *err)
{
	struct shoal_orch_uv *u = data;

	return u->propose(u->data, tx, cb, ctx, err);
}

struct shoal_orch_uv *shoal_orch_start(uv_loop_t *loop, struct shoal_store *s,
				       shoal_orch_propose_fn propose, void *data)
{
	struct shoal_orch_uv *u = shoal_calloc(1, sizeof(*u));
	struct shoal_orch_env env = {
		.now_ns = uv_now_ns,
		.wake = uv_wake,
		.propose = uv_propose,
		.data = u,
	};

	u->propose = propose;
	u->data = data;
	uv_timer_init(loop, &u->timer);
	u->orch = shoal_orch_new(s, &env);
	return u;
}

static void closed(uv_handle_t *h)
{
	struct shoal_orch_uv *u = container_of((uv_timer_t *)h, struct shoal_orch_uv, timer);
	void (*cb)(void *ctx) = u->close_cb;
	void *ctx = u->close_ctx;

	free(u);
	if (cb != NULL)
		cb(ctx);
}

void shoal_orch_stop(struct shoal_orch_uv *u, void (*cb)(void *ctx), void *ctx)
{
	shoal_orch_free(u->orch);
	u->orch = NULL;
	u->close_cb = cb;
	u->close_ctx = ctx;
	uv_close((uv_handle_t *)&u->timer, closed);
}
