/* The registry endpoints: pulls (POST /images/create?fromImage=), pushes (POST
 * /images/{name}/push), logins (POST /auth) and lookups (GET /distribution/{name}/json).
 * The work is src/registry's; this file reads Docker's arguments and X-Registry-Auth and
 * speaks the JSON message stream. As dockerd does, an error before the first message is
 * the request's status and {"message"}; after it, a last {"errorDetail"} in the stream. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "registry/registry.h"

static struct shoal_registry *registry_of(struct shoal_http_req *req, struct shoal_err *err)
{
	struct shoal_registry *r = ((struct shoal_api *)req->ctx)->cfg.registry;

	if (r == NULL)
		shoal_errorf(err, 501, "registry access is not available in this daemon");
	return r;
}

/* ---- streams ---- */

struct stream {
	struct shoal_http_req *req;
	struct shoal_registry_op *op;
	bool streaming;
};

static void stream_write(struct stream *st, json_t *msg)
{
	char *line = shoal_registry_msg_line(msg);

	if (!st->streaming) {
		shoal_http_stream_begin(st->req, 200, "application/json", NULL);
		st->streaming = true;
	}
	/* one chunk per message: docker-py parses chunk by chunk */
	shoal_http_stream_write(st->req, line, strlen(line));
	free(line);
}

static void stream_progress(void *ctx, json_t *msg)
{
	stream_write(ctx, msg);
	json_decref(msg);
}

static void stream_done(void *ctx, const struct shoal_err *err)
{
	struct stream *st = ctx;

	st->req->on_close = NULL;
	if (err != NULL && !st->streaming) {
		shoal_http_reply_err(st->req, err);
		free(st);
		return;
	}
	if (err != NULL) {
		json_t *m = json_pack("{s:{s:s}, s:s}", "errorDetail", "message", err->msg, "error",
				      err->msg);

		stream_write(st, m);
		json_decref(m);
	}
	if (!st->streaming)
		shoal_http_stream_begin(st->req, 200, "application/json", NULL);
	shoal_http_stream_end(st->req);
	free(st);
}

/* The client left: the operation stops (dockerd cancels its context), and what it
 * half-fetched goes. */
static void stream_gone(struct shoal_http_req *req)
{
	struct stream *st = req->data;

	req->on_close = NULL;
	shoal_registry_op_cancel(st->op);
	if (st->streaming)
		shoal_http_stream_end(req);
	else
		shoal_http_reply_message(req, 400, "client gone");
	free(st);
}

static void auth_of(struct shoal_http_req *req, struct shoal_registry_auth *a)
{
	shoal_registry_auth_decode(shoal_http_header_get(req, "X-Registry-Auth"), a);
}

void shoal_api__images_pull(struct shoal_http_req *req, const char *image)
{
	struct shoal_registry_auth auth;
	struct shoal_err err;
	struct stream *st;
	struct shoal_registry *r = registry_of(req, &err);

	if (r == NULL) {
		shoal_http_reply_err(req, &err);
		return;
	}
	auth_of(req, &auth);
	st = shoal_calloc(1, sizeof(*st));
	st->req = req;
	st->op = shoal_registry_pull(r, image, shoal_http_query(req, "tag"), &auth, stream_progress,
				     stream_done, st, &err);
	shoal_registry_auth_fini(&auth);
	if (st->op == NULL) {
		free(st);
		shoal_http_reply_err(req, &err);
		return;
	}
	req->data = st;
	req->on_close = stream_gone;
}

void shoal_api_images_push(struct shoal_http_req *req)
{
	struct shoal_registry_auth auth;
	struct shoal_err err;
	struct stream *st;
	struct shoal_registry *r = registry_of(req, &err);
	const char *hdr = shoal_http_header_get(req, "X-Registry-Auth");

	if (r == NULL) {
		shoal_http_reply_err(req, &err);
		return;
	}
	if (hdr != NULL && hdr[0] != '\0') {
		shoal_registry_auth_decode(hdr, &auth);
	} else {
		/* the old form: the AuthConfig as the body */
		json_error_t jerr;
		json_t *j =
			json_loadb(req->body.data, req->body.len, JSON_DISABLE_EOF_CHECK, &jerr);

		if (j == NULL) {
			shoal_errorf(&err, 400, "Bad parameters and missing X-Registry-Auth: %s",
				     req->body.len == 0 ? "EOF" : jerr.text);
			shoal_http_reply_err(req, &err);
			return;
		}
		shoal_registry_auth_from_json(j, &auth);
		json_decref(j);
	}
	st = shoal_calloc(1, sizeof(*st));
	st->req = req;
	st->op = shoal_registry_push(r, shoal_http_param(req, "name"), shoal_http_query(req, "tag"),
				     &auth, stream_progress, stream_done, st, &err);
	shoal_registry_auth_fini(&auth);
	if (st->op == NULL) {
		free(st);
		shoal_http_reply_err(req, &err);
		return;
	}
	req->data = st;
	req->on_close = stream_gone;
}

/* ---- answers in one piece ---- */

struct lookup {
	struct shoal_http_req *req;
	struct shoal_registry_op *op;
};

static void lookup_done(void *ctx, json_t *result, const struct shoal_err *err)
{
	struct lookup *lk = ctx;

	lk->req->on_close = NULL;
	if (err != NULL)
		shoal_http_reply_err(lk->req, err);
	else
		shoal_http_reply_json(lk->req, 200, result);
	json_decref(result);
	free(lk);
}

static void lookup_gone(struct shoal_http_req *req)
{
	struct lookup *lk = req->data;

	req->on_close = NULL;
	shoal_registry_op_cancel(lk->op);
	shoal_http_reply_message(req, 400, "client gone");
	free(lk);
}

void shoal_api_distribution_inspect(struct shoal_http_req *req)
{
	struct shoal_registry_auth auth;
	struct shoal_err err;
	struct lookup *lk;
	struct shoal_registry *r = registry_of(req, &err);

	if (r == NULL) {
		shoal_http_reply_err(req, &err);
		return;
	}
	auth_of(req, &auth);
	lk = shoal_calloc(1, sizeof(*lk));
	lk->req = req;
	lk->op = shoal_registry_inspect(r, shoal_http_param(req, "name"), &auth, lookup_done, lk,
					&err);
	shoal_registry_auth_fini(&auth);
	if (lk->op == NULL) {
		free(lk);
		shoal_http_reply_err(req, &err);
		return;
	}
	req->data = lk;
	req->on_close = lookup_gone;
}

void shoal_api_system_auth(struct shoal_http_req *req)
{
	struct shoal_registry_auth auth;
	struct shoal_err err;
	struct lookup *lk;
	struct shoal_registry *r = registry_of(req, &err);
	json_error_t jerr;
	json_t *j;

	if (r == NULL) {
		shoal_http_reply_err(req, &err);
		return;
	}
	j = json_loadb(req->body.data, req->body.len, JSON_DISABLE_EOF_CHECK, &jerr);
	if (j == NULL) {
		/* Go's json.Decoder on an empty body */
		shoal_errorf(&err, 500, "%s", req->body.len == 0 ? "EOF" : jerr.text);
		shoal_http_reply_err(req, &err);
		return;
	}
	shoal_registry_auth_from_json(j, &auth);
	json_decref(j);
	lk = shoal_calloc(1, sizeof(*lk));
	lk->req = req;
	lk->op = shoal_registry_login(r, &auth, lookup_done, lk, &err);
	shoal_registry_auth_fini(&auth);
	if (lk->op == NULL) {
		free(lk);
		shoal_http_reply_err(req, &err);
		return;
	}
	req->data = lk;
	req->on_close = lookup_gone;
}
