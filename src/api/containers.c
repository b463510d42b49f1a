/* Container endpoints: create, list, inspect, start, stop, restart, kill, pause, wait,
 * remove, rename, logs, attach, resize, prune, and the networks list that shows them.
 * The engine does the work; this file reads Docker's arguments and writes Docker's
 * answers, including the hijacked attach stream and the multiplexed log frames. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/engine.h"
#include "engine/shim.h"
#include "net/net.h"

#define SHOAL_LOG_MODULE "api"

static struct shoal_engine *engine_of(struct shoal_http_req *req)
{
	return ((struct shoal_api *)req->ctx)->cfg.engine;
}

static struct shoal_container *find_or_reply(struct shoal_http_req *req)
{
	struct shoal_err err;
	struct shoal_container *c =
		shoal_engine_container_find(engine_of(req), shoal_http_param(req, "name"), &err);

	if (c == NULL)
		shoal_http_reply_err(req, &err);
	return c;
}

static void reply_204(struct shoal_http_req *req)
{
	shoal_http_reply(req, 204, NULL, NULL, "", 0);
}

/* dockerd answers "already started/stopped" with an empty 304 */
static void reply_err_or_304(struct shoal_http_req *req, struct shoal_err *err)
{
	if (err->status == 304) {
		shoal_http_reply(req, 304, NULL, NULL, "", 0);
		return;
	}
	shoal_http_reply_err(req, err);
}

/* ---- create ---- */

void shoal_api_containers_create(struct shoal_http_req *req)
{
	struct shoal_err err;
	json_error_t jerr;
	json_t *body, *warnings = json_array(), *out;
	struct shoal_container *c;

	body = json_loadb(req->body.data, req->body.len, 0, &jerr);
	if (body == NULL || !json_is_object(body)) {
		json_decref(body);
		json_decref(warnings);
		shoal_errorf(&err, 400, "invalid JSON: %s",
			     body == NULL ? jerr.text : "not an object");
		shoal_http_reply_err(req, &err);
		return;
	}
	c = shoal_engine_container_create(engine_of(req), shoal_http_query(req, "name"), body,
					  warnings, &err);
	json_decref(body);
	if (c == NULL) {
		json_decref(warnings);
		shoal_http_reply_err(req, &err);
		return;
	}
	out = json_pack("{s:s, s:o}", "Id", c->id, "Warnings", warnings);
	shoal_http_reply_json(req, 201, out);
	json_decref(out);
}

/* ---- list and inspect ---- */

static bool matches(struct shoal_container *c, const struct shoal_filters *f)
{
	const char *state = shoal_container_state_name(c->state);
	json_t *labels = json_object_get(c->config, "Labels");
	char code[16];

	if (!shoal_filters_fuzzy_match(f, "id", c->id))
		return false;
	if (shoal_filters_has(f, "name")) {
		json_t *set = json_object_get(f->m, "name");
		const char *want;
		json_t *v;
		bool ok = false;

		/* Docker matches names as regular expressions; a substring covers most uses */
		json_object_foreach(set, want, v) {
			if (strstr(c->name + 1, want[0] == '/' ? want + 1 : want) != NULL)
				ok = true;
		}
		if (!ok)
			return false;
	}
	if (c->state == SHOAL_CONTAINER_EXITED && !c->has_been_started)
		state = "created";
	if (!shoal_filters_match(f, "status", state))
		return false;
	snprintf(code, sizeof(code), "%d", c->exit_code);
	if (shoal_filters_has(f, "exited") &&
	    (c->state != SHOAL_CONTAINER_EXITED || !shoal_filters_match(f, "exited", code)))
		return false;
	if (!shoal_filters_match_labels(f, "label", labels))
		return false;
	if (shoal_filters_has(f, "ancestor") && !shoal_filters_match(f, "ancestor", c->image) &&
	    !shoal_filters_fuzzy_match(f, "ancestor", c->image_id) &&
	    !shoal_filters_fuzzy_match(f, "ancestor", c->image_id + 7))
		return false;
	return true;
}

void shoal_api_containers_list(struct shoal_http_req *req)
{
	static const char *const allowed[] = { "ancestor", "before", "expose",	  "exited",
					       "health",   "id",     "isolation", "is-task",
					       "label",	   "name",   "network",	  "publish",
					       "since",	   "status", "volume",	  NULL };
	struct shoal_engine *e = engine_of(req);
	bool all = shoal_http_query_bool(req, "all");
	const char *limit_s = shoal_http_query(req, "limit");
	long limit = limit_s != NULL ? strtol(limit_s, NULL, 10) : -1;
	struct shoal_filters f;
	struct shoal_err err;
	struct shoal_list *pos;
	json_t *out;

	if (shoal_filters_parse(shoal_http_query(req, "filters"), &f, &err) < 0 ||
	    shoal_filters_validate(&f, allowed, &err) < 0) {
		if (f.m != NULL)
			shoal_filters_fini(&f);
		shoal_http_reply_err(req, &err);
		return;
	}
	if (limit > 0)
		all = true;
	out = json_array();
	/* newest first, as dockerd lists them */
	for (pos = e->containers.prev; pos != &e->containers; pos = pos->prev) {
		struct shoal_container *c = shoal_list_entry(pos, struct shoal_container, link);
		bool running = c->state == SHOAL_CONTAINER_RUNNING ||
			       c->state == SHOAL_CONTAINER_PAUSED ||
			       c->state == SHOAL_CONTAINER_RESTARTING;

		if (!all && !running && !shoal_filters_has(&f, "status"))
			continue;
		if (!matches(c, &f))
			continue;
		json_array_append_new(out, shoal_engine_container_summary_json(c));
		if (limit > 0 && (long)json_array_size(out) >= limit)
			break;
	}
	shoal_filters_fini(&f);
	shoal_http_reply_json(req, 200, out);
	json_decref(out);
}

void shoal_api_containers_inspect(struct shoal_http_req *req)
{
	struct shoal_container *c = find_or_reply(req);
	json_t *j;

	if (c == NULL)
		return;
	j = shoal_engine_container_inspect_json(c);
	shoal_http_reply_json(req, 200, j);
	json_decref(j);
}

/* ---- start, stop, restart, kill, pause ---- */

/* A request waiting on the engine; the client may leave meanwhile. */
struct pending {
	struct shoal_http_req *req;
	bool gone;
	int timeout; /* restart: the stop timeout */
};

static void pending_gone(struct shoal_http_req *req)
{
	struct pending *p = req->data;

	p->gone = true;
}

static struct pending *pending_new(struct shoal_http_req *req)
{
	struct pending *p = shoal_calloc(1, sizeof(*p));

	p->req = req;
	req->data = p;
	req->on_close = pending_gone;
	return p;
}

static void pending_done(void *ctx, struct shoal_container *c, const struct shoal_err *err)
{
	struct pending *p = ctx;
	struct shoal_err e;

	(void)c;
	p->req->on_close = NULL;
	if (err != NULL) {
		e = *err;
		reply_err_or_304(p->req, &e);
	} else {
		reply_204(p->req);
	}
	free(p);
}

void shoal_api_containers_start(struct shoal_http_req *req)
{
	struct shoal_container *c = find_or_reply(req);
	struct shoal_err err;
	struct pending *p;

	if (c == NULL)
		return;
	if (req->body.len > 0 && strcmp(req->body.data, "null") != 0 &&
	    strcmp(req->body.data, "{}") != 0) {
		shoal_errorf(
			&err, 400,
			"starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24");
		shoal_http_reply_err(req, &err);
		return;
	}
	p = pending_new(req);
	if (shoal_engine_container_start(c, pending_done, p, &err) < 0) {
		req->on_close = NULL;
		free(p);
		reply_err_or_304(req, &err);
	}
}

static int query_int(struct shoal_http_req *req, const char *name, int def)
{
	const char *v = shoal_http_query(req, name);

	return v != NULL && v[0] != '\0' ? atoi(v) : def;
}

void shoal_api_containers_stop(struct shoal_http_req *req)
{
	struct shoal_container *c = find_or_reply(req);
	struct shoal_err err;
	struct pending *p;

	if (c == NULL)
		return;
	p = pending_new(req);
	if (shoal_engine_container_stop(c, query_int(req, "t", -1), shoal_http_query(req, "signal"),
					pending_done, p, &err) < 0) {
		req->on_close = NULL;
		free(p);
		reply_err_or_304(req, &err);
	}
}

static void restart_stopped(void *ctx, struct shoal_container *c, const struct shoal_err *err)
{
	struct pending *p = ctx;
	struct shoal_err e;

	if (err != NULL && err->status != 304) {
		pending_done(p, c, err);
		return;
	}
	if (shoal_engine_container_start(c, pending_done, p, &e) < 0)
		pending_done(p, c, &e);
}

void shoal_api_containers_restart(struct shoal_http_req *req)
{
	struct shoal_container *c = find_or_reply(req);
	struct shoal_err err;
	struct pending *p;

	if (c == NULL)
		return;
	p = pending_new(req);
	if (shoal_engine_container_stop(c, query_int(req, "t", -1), NULL, restart_stopped, p,
					&err) < 0) {
		if (err.status == 304) {
			/* not running: restart is a start */
			restart_stopped(p, c, &err);
			return;
		}
		req->on_close = NULL;
		free(p);
		shoal_http_reply_err(req, &err);
	}
}

void shoal_api_containers_kill(struct shoal_http_req *req)
{
	struct shoal_container *c = find_or_reply(req);
	struct shoal_err err;

	if (c == NULL)
		return;
	if (shoal_engine_container_kill(c, shoal_http_query(req, "signal"), &err) < 0) {
		shoal_http_reply_err(req, &err);
		return;
	}
	reply_204(req);
}

static void pause_common(struct shoal_http_req *req, bool pause)
{
	struct shoal_container *c = find_or_reply(req);
	struct shoal_err err;
	struct pending *p;

	if (c == NULL)
		return;
	p = pending_new(req);
	if (shoal_engine_container_pause(c, pause, pending_done, p, &err) < 0) {
		req->on_close = NULL;
		free(p);
		shoal_http_reply_err(req, &err);
	}
}

void shoal_api_containers_pause(struct shoal_http_req *req)
{
	pause_common(req, true);
}

void shoal_api_containers_unpause(struct shoal_http_req *req)
{
	pause_common(req, false);
}

/* ---- wait ---- */

struct waiting {
	struct shoal_http_req *req;
	struct shoal_container_waiter *w;
};

static void waited(void *ctx, int exit_code, const char *error)
{
	struct waiting *wt = ctx;
	json_t *j;
	char *s;

	wt->req->on_close = NULL;
	j = error != NULL ? json_pack("{s:i, s:{s:s}}", "StatusCode", exit_code, "Error", "Message",
				      error) :
			    json_pack("{s:i, s:n}", "StatusCode", exit_code, "Error");
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	shoal_http_stream_write(wt->req, s, strlen(s));
	shoal_http_stream_write(wt->req, "\n", 1);
	free(s);
	shoal_http_stream_end(wt->req);
	free(wt);
}

static void wait_gone(struct shoal_http_req *req)
{
	struct waiting *wt = req->data;

	req->on_close = NULL;
	shoal_engine_container_wait_cancel(wt->w);
	shoal_http_stream_end(req);
	free(wt);
}

void shoal_api_containers_wait(struct shoal_http_req *req)
{
	struct shoal_container *c = find_or_reply(req);
	struct waiting *wt;
	struct shoal_err err;

	if (c == NULL)
		return;
	wt = shoal_calloc(1, sizeof(*wt));
	wt->req = req;
	if (shoal_engine_container_wait(c, shoal_http_query(req, "condition"), waited, wt, &wt->w,
					&err) < 0) {
		free(wt);
		shoal_http_reply_err(req, &err);
		return;
	}
	/* dockerd sends the head at once, so a client knows the wait is in place before it
	 * starts the container */
	req->data = wt;
	req->on_close = wait_gone;
	shoal_http_stream_begin(req, 200, "application/json", NULL);
}

/* ---- remove, rename, prune ---- */

static void removed(void *ctx, struct shoal_container *c, const struct shoal_err *err)
{
	pending_done(ctx, c, err);
}

void shoal_api_containers_delete(struct shoal_http_req *req)
{
	struct shoal_container *c = find_or_reply(req);
	struct shoal_err err;
	struct pending *p;

	if (c == NULL)
		return;
	if (shoal_http_query_bool(req, "link")) {
		shoal_errorf(&err, 400,
			     "Conflict, cannot remove the default link name of the container");
		shoal_http_reply_err(req, &err);
		return;
	}
	p = pending_new(req);
	if (shoal_engine_container_remove(c, shoal_http_query_bool(req, "force"),
					  shoal_http_query_bool(req, "v"), removed, p, &err) < 0) {
		req->on_close = NULL;
		free(p);
		shoal_http_reply_err(req, &err);
	}
}

void shoal_api_containers_rename(struct shoal_http_req *req)
{
	struct shoal_container *c = find_or_reply(req);
	struct shoal_err err;

	if (c == NULL)
		return;
	if (shoal_engine_container_rename(c, shoal_http_query(req, "name"), &err) < 0) {
		shoal_http_reply_err(req, &err);
		return;
	}
	reply_204(req);
}

struct prune {
	struct shoal_http_req *req;
	json_t *deleted;
	int left;
};

static void pruned_one(void *ctx, struct shoal_container *c, const struct shoal_err *err)
{
	struct prune *pr = ctx;
	json_t *out;

	(void)c;
	(void)err;
	if (--pr->left > 0)
		return;
	out = json_pack("{s:o, s:i}", "ContainersDeleted", pr->deleted, "SpaceReclaimed", 0);
	shoal_http_reply_json(pr->req, 200, out);
	json_decref(out);
	free(pr);
}

void shoal_api_containers_prune(struct shoal_http_req *req)
{
	struct shoal_engine *e = engine_of(req);
	struct prune *pr = shoal_calloc(1, sizeof(*pr));
	struct shoal_list *pos, *tmp;
	struct shoal_err err;

	pr->req = req;
	pr->deleted = json_array();
	pr->left = 1;
	shoal_list_foreach_safe(pos, tmp, &e->containers) {
		struct shoal_container *c = shoal_list_entry(pos, struct shoal_container, link);

		if (c->state != SHOAL_CONTAINER_EXITED && c->state != SHOAL_CONTAINER_CREATED &&
		    c->state != SHOAL_CONTAINER_DEAD)
			continue;
		if (c->starting || c->removing)
			continue;
		json_array_append_new(pr->deleted, json_string(c->id));
		pr->left++;
		if (shoal_engine_container_remove(c, false, false, pruned_one, pr, &err) < 0)
			pr->left--;
	}
	pruned_one(pr, NULL, NULL);
}

/* ---- logs ---- */

struct logs {
	struct shoal_http_req *req;
	struct shoal_api_logstream *ls;
	bool tty;
};

void shoal_api__frame(struct shoal_buf *b, int fd, const char *data, size_t len)
{
	unsigned char h[8] = { (unsigned char)fd,
			       0,
			       0,
			       0,
			       (unsigned char)(len >> 24),
			       (unsigned char)(len >> 16),
			       (unsigned char)(len >> 8),
			       (unsigned char)len };

	shoal_buf_add(b, h, 8);
	shoal_buf_add(b, data, len);
}

static void logs_out(void *ctx, int fd, const char *data, size_t len)
{
	struct logs *l = ctx;
	struct shoal_buf b;

	if (l->tty) {
		shoal_http_stream_write(l->req, data, len);
		return;
	}
	shoal_buf_init(&b);
	shoal_api__frame(&b, fd, data, len);
	shoal_http_stream_write(l->req, b.data, b.len);
	shoal_buf_fini(&b);
}

static void logs_end(void *ctx)
{
	struct logs *l = ctx;

	l->req->on_close = NULL;
	shoal_http_stream_end(l->req);
	free(l);
}

static void logs_gone(struct shoal_http_req *req)
{
	struct logs *l = req->data;

	req->on_close = NULL;
	shoal_api_logstream_close(l->ls);
	shoal_http_stream_end(req);
	free(l);
}

static int64_t time_arg(struct shoal_http_req *req, const char *name)
{
	const char *v = shoal_http_query(req, name);
	int64_t ns = 0;

	if (v == NULL || v[0] == '\0' || shoal_time_parse(v, &ns) < 0)
		return 0;
	return ns;
}

void shoal_api_containers_logs(struct shoal_http_req *req)
{
	struct shoal_container *c = find_or_reply(req);
	struct shoal_api_logstream_opts o;
	const char *tail = shoal_http_query(req, "tail");
	const char *driver;
	struct shoal_err err;
	struct logs *l;

	if (c == NULL)
		return;
	memset(&o, 0, sizeof(o));
	o.stdout_ = shoal_http_query_bool(req, "stdout");
	o.stderr_ = shoal_http_query_bool(req, "stderr");
	if (!o.stdout_ && !o.stderr_) {
		shoal_errorf(&err, 400, "Bad parameters: you must choose at least one stream");
		shoal_http_reply_err(req, &err);
		return;
	}
	driver = json_string_value(
		json_object_get(json_object_get(c->host_config, "LogConfig"), "Type"));
	if (driver != NULL && driver[0] != '\0' && strcmp(driver, "json-file") != 0) {
		shoal_errorf(&err, 501, "configured logging driver does not support reading");
		shoal_http_reply_err(req, &err);
		return;
	}
	o.follow = shoal_http_query_bool(req, "follow");
	o.timestamps = shoal_http_query_bool(req, "timestamps");
	o.tail = tail == NULL || strcmp(tail, "all") == 0 || tail[0] == '\0' ? -1 : atol(tail);
	o.since_ns = time_arg(req, "since");
	o.until_ns = time_arg(req, "until");
	l = shoal_calloc(1, sizeof(*l));
	l->req = req;
	l->tty = json_is_true(json_object_get(c->config, "Tty"));
	req->data = l;
	shoal_http_stream_begin(req, 200,
				l->tty ? "application/vnd.docker.raw-stream" :
					 "application/vnd.docker.multiplexed-stream",
				NULL);
	if (shoal_api_logstream_open(req->server->loop, c, &o, logs_out, logs_end, l, &l->ls,
				     &err) < 0) {
		shoal_http_stream_end(req);
		free(l);
		return;
	}
	req->on_close = logs_gone;
}

/* ---- attach: a hijacked connection carrying the container's stdio ---- */

struct attach {
	uv_stream_t *stream;
	struct shoal_container *c;
	struct shoal_api_logstream *ls;
	struct shoal_shim_stream *in; /* stdin to the shim */
	bool tty;
	bool want_stdin;
	bool closing;
	size_t pending;
};

struct attach_write {
	uv_write_t w;
	struct attach *a;
	size_t len;
	char data[];
};

static void attach_close(struct attach *a);

static void attach_written(uv_write_t *w, int status)
{
	struct attach_write *aw = container_of(w, struct attach_write, w);
	struct attach *a = aw->a;

	a->pending -= aw->len;
	free(aw);
	if (status < 0)
		attach_close(a);
}

static void attach_send(struct attach *a, const char *data, size_t len)
{
	struct attach_write *aw;
	uv_buf_t b;

	if (a->closing || a->stream == NULL || len == 0)
		return;
	if (a->pending > SHOAL_HTTP_MAX_OUTPUT) {
		/* a reader this slow loses its attach, not the daemon its memory */
		attach_close(a);
		return;
	}
	aw = shoal_malloc(sizeof(*aw) + len);
	aw->a = a;
	aw->len = len;
	memcpy(aw->data, data, len);
	b = uv_buf_init(aw->data, (unsigned)len);
	if (uv_write(&aw->w, a->stream, &b, 1, attach_written) < 0) {
		free(aw);
		attach_close(a);
		return;
	}
	a->pending += len;
}

static void attach_out(void *ctx, int fd, const char *data, size_t len)
{
	struct attach *a = ctx;
	struct shoal_buf b;

	if (a->tty) {
		attach_send(a, data, len);
		return;
	}
	shoal_buf_init(&b);
	shoal_api__frame(&b, fd, data, len);
	attach_send(a, b.data, b.len);
	shoal_buf_fini(&b);
}

static void attach_freed(uv_handle_t *h)
{
	shoal_http_hijack_close_cb(h);
}

static void attach_shutdown(uv_shutdown_t *s, int status)
{
	struct attach *a = s->data;

	(void)status;
	free(s);
	uv_close((uv_handle_t *)a->stream, attach_freed);
	free(a);
}

static void attach_close(struct attach *a)
{
	uv_shutdown_t *s;

	if (a->closing)
		return;
	a->closing = true;
	if (a->ls != NULL) {
		shoal_api_logstream_close(a->ls);
		a->ls = NULL;
	}
	if (a->in != NULL) {
		shoal_shim_stream_close(a->in);
		a->in = NULL;
	}
	uv_read_stop(a->stream);
	s = shoal_malloc(sizeof(*s));
	s->data = a;
	/* what is queued still goes out, then the connection closes */
	if (uv_shutdown(s, a->stream, attach_shutdown) < 0) {
		free(s);
		uv_close((uv_handle_t *)a->stream, attach_freed);
		free(a);
	}
}

static void attach_end(void *ctx)
{
	struct attach *a = ctx;

	a->ls = NULL;
	attach_close(a);
}

static void attach_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = shoal_malloc(16 * 1024);
	buf->len = 16 * 1024;
}

static void stdin_end(void *ctx, int exit_code)
{
	struct attach *a = ctx;

	(void)exit_code;
	a->in = NULL;
}

static void attach_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct attach *a = s->data;
	struct shoal_err err;

	if (n > 0 && a->want_stdin) {
		if (a->in == NULL && a->c->shim != NULL &&
		    shoal_shim_attach(a->c->shim, true, false, false, NULL, stdin_end, a, &a->in,
				      &err) < 0)
			a->in = NULL;
		if (a->in != NULL)
			shoal_shim_stream_write(a->in, buf->base, (size_t)n);
	}
	free(buf->base);
	if (n < 0) {
		/* the client closed its side: stdin ends, output goes on */
		uv_read_stop(s);
		if (a->in != NULL)
			shoal_shim_stream_write(a->in, NULL, 0);
	}
}

static void attach_hijacked(struct shoal_http_req *req, uv_stream_t *stream, const char *left,
			    size_t len)
{
	struct attach *a = req->data;
	struct shoal_api_logstream_opts o;
	struct shoal_err err;

	if (stream == NULL) {
		free(a);
		return;
	}
	a->stream = stream;
	stream->data = a;
	memset(&o, 0, sizeof(o));
	o.stdout_ = shoal_http_query_bool(req, "stdout");
	o.stderr_ = shoal_http_query_bool(req, "stderr");
	o.follow = true;
	o.from_end = !shoal_http_query_bool(req, "logs");
	o.tail = -1;
	if (!o.stdout_ && !o.stderr_) {
		/* stdin only: nothing to read back, the connection stays for input */
	} else if (shoal_api_logstream_open(stream->loop, a->c, &o, attach_out, attach_end, a,
					    &a->ls, &err) < 0) {
		a->ls = NULL;
	}
	if (len > 0 && a->want_stdin && a->c->shim != NULL &&
	    shoal_shim_attach(a->c->shim, true, false, false, NULL, stdin_end, a, &a->in, &err) ==
		    0)
		shoal_shim_stream_write(a->in, left, len);
	uv_read_start(stream, attach_alloc, attach_read);
}

void shoal_api_containers_attach(struct shoal_http_req *req)
{
	struct shoal_container *c = find_or_reply(req);
	struct attach *a;
	const char *upgrade;
	bool tty;

	if (c == NULL)
		return;
	tty = json_is_true(json_object_get(c->config, "Tty"));
	a = shoal_calloc(1, sizeof(*a));
	a->c = c;
	a->tty = tty;
	a->want_stdin = shoal_http_query_bool(req, "stdin") &&
			json_is_true(json_object_get(c->config, "OpenStdin"));
	req->data = a;
	upgrade = shoal_http_header_get(req, "Upgrade");
	if (upgrade != NULL)
		shoal_http_hijack(
			req, 101,
			tty ? "Content-Type: application/vnd.docker.raw-stream\r\n"
			      "Connection: Upgrade\r\nUpgrade: tcp\r\n" :
			      "Content-Type: application/vnd.docker.multiplexed-stream\r\n"
			      "Connection: Upgrade\r\nUpgrade: tcp\r\n",
			attach_hijacked);
	else
		shoal_http_hijack(
			req, 200,
			tty ? "Content-Type: application/vnd.docker.raw-stream\r\n" :
			      "Content-Type: application/vnd.docker.multiplexed-stream\r\n",
			attach_hijacked);
}

void shoal_api_containers_resize(struct shoal_http_req *req)
{
	struct shoal_container *c = find_or_reply(req);
	struct shoal_err err;

	if (c == NULL)
		return;
	if (c->shim == NULL) {
		shoal_errorf(&err, 409, "Container %s is not running", c->id);
		shoal_http_reply_err(req, &err);
		return;
	}
	if (shoal_shim_resize(c->shim, (unsigned)query_int(req, "h", 0),
			      (unsigned)query_int(req, "w", 0), &err) < 0) {
		shoal_http_reply_err(req, &err);
		return;
	}
	shoal_http_reply(req, 200, "text/plain; charset=utf-8", NULL, "", 0);
}

/* ---- networks: bridge, host, none as dockerd shows them ---- */

static json_t *network_json(struct shoal_api *api, const char *name, bool verbose)
{
	struct shoal_engine *e = api->cfg.engine;
	struct shoal_net *n = e->net;
	json_t *containers = json_object(), *ipam_config = json_array(), *opts = json_object();
	struct shoal_list *pos;
	bool bridge = strcmp(name, "bridge") == 0;
	char created[64];

	(void)verbose;
	shoal_time_format_rfc3339nano(api->started_ns, created, sizeof(created));
	if (bridge && n != NULL) {
		json_array_append_new(ipam_config,
				      json_pack("{s:s, s:s}", "Subnet", shoal_net_subnet(n),
						"Gateway", shoal_net_gateway(n)));
		json_object_set_new(opts, "com.docker.network.bridge.name",
				    json_string(shoal_net_bridge(n)));
		json_object_set_new(opts, "com.docker.network.bridge.default_bridge",
				    json_string("true"));
		json_object_set_new(opts, "com.docker.network.bridge.enable_ip_masquerade",
				    json_string("true"));
		json_object_set_new(opts, "com.docker.network.driver.mtu", json_string("1500"));
	}
	shoal_list_foreach(pos, &e->containers) {
		struct shoal_container *c = shoal_list_entry(pos, struct shoal_container, link);
		const char *mode =
			json_string_value(json_object_get(c->host_config, "NetworkMode"));
		const struct shoal_net_endpoint *ep;
		bool mine;

		if (c->state != SHOAL_CONTAINER_RUNNING && c->state != SHOAL_CONTAINER_PAUSED)
			continue;
		mine = bridge ? mode == NULL || strcmp(mode, "default") == 0 ||
					strcmp(mode, "bridge") == 0 :
				mode != NULL && strcmp(mode, name) == 0;
		if (!mine)
			continue;
		ep = n != NULL && bridge ? shoal_net_endpoint_get(n, c->id) : NULL;
		if (ep != NULL) {
			char addr[32];

			snprintf(addr, sizeof(addr), "%s/%d", ep->ip, ep->prefix);
			json_object_set_new(containers, c->id,
					    json_pack("{s:s, s:s, s:s, s:s, s:s}", "Name",
						      c->name + 1, "EndpointID", c->id,
						      "MacAddress", ep->mac, "IPv4Address", addr,
						      "IPv6Address", ""));
		} else {
			json_object_set_new(containers, c->id,
					    json_pack("{s:s, s:s, s:s, s:s, s:s}", "Name",
						      c->name + 1, "EndpointID", "", "MacAddress",
						      "", "IPv4Address", "", "IPv6Address", ""));
		}
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s, s:n, s:o}, s:b, s:b, s:b, "
			 "s:{s:s}, s:b, s:o, s:o, s:{}}",
			 "Name", name, "Id", name, "Created", created, "Scope", "local", "Driver",
			 bridge ? "bridge" : name, "EnableIPv6", 0, "IPAM", "Driver", "default",
			 "Options", "Config", ipam_config, "Internal", 0, "Attachable", 0,
			 "Ingress", 0, "ConfigFrom", "Network", "", "ConfigOnly", 0, "Containers",
			 containers, "Options", opts, "Labels");
}

static const char *const network_names[] = { "bridge", "host", "none" };

void shoal_api_networks_list(struct shoal_http_req *req)
{
	struct shoal_api *api = req->ctx;
	static const char *const allowed[] = { "dangling", "driver", "id",   "label",
					       "name",	   "scope",  "type", NULL };
	struct shoal_filters f;
	struct shoal_err err;
	json_t *out;
	size_t i;

	if (shoal_filters_parse(shoal_http_query(req, "filters"), &f, &err) < 0 ||
	    shoal_filters_validate(&f, allowed, &err) < 0) {
		if (f.m != NULL)
			shoal_filters_fini(&f);
		shoal_http_reply_err(req, &err);
		return;
	}
	out = json_array();
	/* dockerd lists the swarm's first */
	shoal_api__swarm_networks_list(api, &f, out);
	for (i = 0; i < SHOAL_ARRAY_SIZE(network_names); i++) {
		const char *n = network_names[i];

		if (!shoal_filters_match(&f, "name", n) ||
		    !shoal_filters_fuzzy_match(&f, "id", n) ||
		    !shoal_filters_match(&f, "driver", strcmp(n, "bridge") == 0 ? "bridge" : n) ||
		    !shoal_filters_match(&f, "scope", "local") ||
		    !shoal_filters_match(&f, "type", "builtin"))
			continue;
		json_array_append_new(out, network_json(api, n, false));
	}
	shoal_filters_fini(&f);
	shoal_http_reply_json(req, 200, out);
	json_decref(out);
}

void shoal_api_networks_inspect(struct shoal_http_req *req)
{
	const char *name = shoal_http_param(req, "name");
	struct shoal_err err;
	json_t *j;
	size_t i;

	for (i = 0; i < SHOAL_ARRAY_SIZE(network_names); i++) {
		if (strcmp(name, network_names[i]) != 0)
			continue;
		j = network_json(req->ctx, name, shoal_http_query_bool(req, "verbose"));
		shoal_http_reply_json(req, 200, j);
		json_decref(j);
		return;
	}
	j = shoal_api__swarm_network_find(req->ctx, name);
	if (j != NULL) {
		shoal_http_reply_json(req, 200, j);
		json_decref(j);
		return;
	}
	shoal_errorf(&err, 404, "network %s not found", name);
	shoal_http_reply_err(req, &err);
}
