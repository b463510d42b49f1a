/* The registry service's life: its settings, its HTTP client, and the operations in
 * flight, each of which ends by its done callback or a cancel and is freed only once its
 * thread-pool jobs and timers are back (they hold pointers into it). */
#include "registry/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "registry"

static void strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void registry_free(struct shoal_registry *r)
{
	strv_free(r->mirrors, r->nmirrors);
	strv_free(r->insecure_names, r->ninsecure_names);
	strv_free(r->insecure_cidrs, r->ninsecure_cidrs);
	free(r->hub_url);
	free(r);
}

struct shoal_registry *shoal_registry_new(uv_loop_t *loop, struct shoal_engine *engine,
					  const struct shoal_registry_config *cfg,
					  struct shoal_err *err)
{
	struct shoal_registry *r = shoal_calloc(1, sizeof(*r));

	r->loop = loop;
	r->engine = engine;
	shoal_list_init(&r->ops);
	if (shoal_registry__config_load(r, cfg, err) < 0) {
		registry_free(r);
		return NULL;
	}
	r->http = shoal_http_client_new(loop);
	return r;
}

static void maybe_closed(struct shoal_registry *r);

static void http_closed(void *ctx)
{
	struct shoal_registry *r = ctx;

	r->http = NULL;
	maybe_closed(r);
}

/* The last of the service is gone once its client closed and its ops are freed. */
static void maybe_closed(struct shoal_registry *r)
{
	void (*cb)(void *) = r->close_cb;
	void *ctx = r->close_ctx;

	if (!r->closing || r->http != NULL || !shoal_list_empty(&r->ops))
		return;
	registry_free(r);
	if (cb != NULL)
		cb(ctx);
}

void shoal_registry_close(struct shoal_registry *r, void (*cb)(void *ctx), void *ctx)
{
	struct shoal_list *pos, *tmp;

	r->closing = true;
	r->close_cb = cb;
	r->close_ctx = ctx;
	shoal_list_foreach_safe(pos, tmp, &r->ops) {
		struct shoal_registry_op *op =
			shoal_list_entry(pos, struct shoal_registry_op, link);

		if (!op->cancelled)
			shoal_registry_op_cancel(op);
	}
	shoal_http_client_close(r->http, http_closed, r);
}

/* ---- operations ---- */

void shoal_registry__op_add(struct shoal_registry *r, struct shoal_registry_op *op)
{
	op->r = r;
	shoal_list_add_tail(&r->ops, &op->link);
}

void shoal_registry__op_emit(struct shoal_registry_op *op, json_t *msg)
{
	if (op->cancelled || op->progress == NULL) {
		json_decref(msg);
		return;
	}
	op->started = true;
	op->progress(op->ctx, msg);
}

bool shoal_registry_op_started(const struct shoal_registry_op *op)
{
	return op->started;
}

static void op_destroy_if_idle(struct shoal_registry_op *op)
{
	struct shoal_registry *r = op->r;

	if (!op->cancelled || op->pending > 0)
		return;
	shoal_list_del(&op->link);
	op->destroy(op);
	maybe_closed(r);
}

void shoal_registry__op_finish(struct shoal_registry_op *op)
{
	/* from here on it is as good as cancelled: nothing more is reported */
	op->cancelled = true;
	op->progress = NULL;
	op_destroy_if_idle(op);
}

void shoal_registry__op_unpend(struct shoal_registry_op *op)
{
	op->pending--;
	op_destroy_if_idle(op);
}

void shoal_registry_op_cancel(struct shoal_registry_op *op)
{
	if (op->cancelled)
		return;
	if (!op->r->closing && op->detach != NULL && op->detach(op))
		return;
	op->cancelled = true;
	op->progress = NULL;
	op->cancel(op);
	op_destroy_if_idle(op);
}
