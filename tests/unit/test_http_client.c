/* Unit tests for src/http/client.c: the client against Shoal's own server on a real unix
 * socket (and TCP on 127.0.0.1) in one real libuv loop, no mocks. The server's handlers
 * hold streams open so a test can write the next piece when it chooses; teardown closes
 * the client, then the server, and checks the loop ends with no handle left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "http/client.h"
#include "http/http.h"

#define RUN_TIMEOUT_MS 5000
#define MAX_RECS       4

/* ---- fixture ---- */

struct fixture;

/* What one call saw, and what its callbacks should do. */
struct rec {
	struct fixture *fx;
	struct shoal_http_call *call;
	int heads, datas, dones;
	int head_status, status;
	char data[8192];
	size_t data_len;
	bool body_null;
	char body[8192];
	size_t body_len;
	bool has_err;
	struct shoal_err err;
	char head_xtest[64], done_xtest[64], done_ctype[64], done_location[64];
	bool saw_data_before_done;

	/* actions taken from the callbacks */
	bool cancel_on_head, cancel_on_data, close_on_data, pause_on_data, close_on_done;

	/* lines fed from on_data */
	bool use_lines;
	struct shoal_http_lines lines;
	char lines_got[256];
	int nlines;
};

struct fixture {
	uv_loop_t loop;
	struct shoal_http_server srv;
	struct shoal_http_client *client;
	char dir[64];
	char sock[128];
	char addr[160];
	char url[64]; /* URL prefix for the unix socket */
	uv_timer_t guard;
	bool timed_out;
	uv_timer_t tick; /* lets time pass in a test */
	bool ticked;
	int client_closed;
	bool client_close_started;
	int server_closed;

	/* the server's side */
	struct shoal_http_req *stream; /* /stream held open */
	struct shoal_http_req *hang;   /* /hang never answered */
	int stream_gone, hang_gone;    /* their clients left */
	size_t stream_reqs;

	struct rec recs[MAX_RECS];
};

static void on_client_closed(void *ctx)
{
	struct fixture *fx = ctx;

	fx->client_closed++;
}

static void on_server_closed(struct shoal_http_server *srv)
{
	struct fixture *fx = container_of(srv, struct fixture, srv);

	fx->server_closed++;
}

/* ---- handlers ---- */

static struct fixture *fx_of(struct shoal_http_req *req)
{
	return req->ctx;
}

static void h_hello(struct shoal_http_req *req)
{
	shoal_http_reply(req, 200, "text/plain", "X-Test: yes\r\n", "hello", 5);
}

/* Says what it got: the Content-Type, X-Req, the body. */
static void h_echo(struct shoal_http_req *req)
{
	const char *ct = shoal_http_header_get(req, "Content-Type");
	const char *x = shoal_http_header_get(req, "X-Req");
	char *body =
		shoal_asprintf("ct=%s x=%s body=%s", ct ? ct : "-", x ? x : "-", req->body.data);

	shoal_http_reply(req, 201, "text/plain", NULL, body, strlen(body));
	free(body);
}

static void stream_gone(struct shoal_http_req *req)
{
	struct fixture *fx = fx_of(req);

	fx->stream_gone++;
	shoal_http_stream_end(req);
	fx->stream = NULL;
}

/* Sends "one\n" and waits for the test to write more. */
static void h_stream(struct shoal_http_req *req)
{
	struct fixture *fx = fx_of(req);

	fx->stream_reqs++;
	shoal_http_stream_begin(req, 200, "application/json", "X-Test: stream\r\n");
	shoal_http_stream_write(req, "one\n", 4);
	req->on_close = stream_gone;
	fx->stream = req;
}

static void hang_gone(struct shoal_http_req *req)
{
	struct fixture *fx = fx_of(req);

	fx->hang_gone++;
	shoal_http_reply(req, 200, "text/plain", NULL, "late", 4);
	fx->hang = NULL;
}

/* Never answers until its client leaves. */
static void h_hang(struct shoal_http_req *req)
{
	struct fixture *fx = fx_of(req);

	req->on_close = hang_gone;
	fx->hang = req;
}

static void h_redirect(struct shoal_http_req *req)
{
	shoal_http_reply(req, 307, NULL, "Location: /hello\r\n", NULL, 0);
}

static const struct shoal_http_route routes[] = {
	{ "GET", "/hello", h_hello, 0 },       { "HEAD", "/hello", h_hello, 0 },
	{ "POST", "/echo", h_echo, 0 },	       { "PUT", "/echo", h_echo, 0 },
	{ "GET", "/stream", h_stream, 0 },     { "GET", "/hang", h_hang, 0 },
	{ "GET", "/redirect", h_redirect, 0 },
};

static const struct shoal_http_router router = {
	.routes = routes,
	.nroutes = SHOAL_ARRAY_SIZE(routes),
	.max_major = 1,
	.max_minor = 41,
	.min_major = 1,
	.min_minor = 12,
};

/* ---- the client's callbacks ---- */

static void copy_header(struct shoal_http_call *call, const char *name, char *out, size_t size)
{
	const char *v = shoal_http_call_header(call, name);

	snprintf(out, size, "%s", v != NULL ? v : "(null)");
}

static void rec_head(struct shoal_http_call *call, int status, void *ctx)
{
	struct rec *r = ctx;

	r->heads++;
	r->head_status = status;
	copy_header(call, "x-test", r->head_xtest, sizeof(r->head_xtest));
	if (r->cancel_on_head)
		shoal_http_call_cancel(call);
}

static int rec_line(const char *line, size_t len, void *ctx, struct shoal_err *err)
{
	struct rec *r = ctx;
	size_t used = strlen(r->lines_got);

	(void)err;
	r->nlines++;
	snprintf(r->lines_got + used, sizeof(r->lines_got) - used, "[%.*s]", (int)len, line);
	return 0;
}

static void rec_data(struct shoal_http_call *call, const char *data, size_t len, void *ctx)
{
	struct rec *r = ctx;
	struct shoal_err err;

	r->datas++;
	if (r->data_len + len < sizeof(r->data)) {
		memcpy(r->data + r->data_len, data, len);
		r->data_len += len;
		r->data[r->data_len] = '\0';
	}
	if (r->use_lines && shoal_http_lines_feed(&r->lines, data, len, &err) < 0)
		fail_msg("lines: %s", err.msg);
	if (r->cancel_on_data)
		shoal_http_call_cancel(call);
	if (r->close_on_data) {
		r->fx->client_close_started = true;
		shoal_http_client_close(r->fx->client, on_client_closed, r->fx);
	}
	if (r->pause_on_data) {
		r->pause_on_data = false;
		shoal_http_call_pause(call, true);
	}
}

static void rec_done(struct shoal_http_call *call, int status, const char *body, size_t len,
		     const struct shoal_err *err, void *ctx)
{
	struct rec *r = ctx;

	r->dones++;
	r->status = status;
	r->saw_data_before_done = r->datas > 0;
	r->body_null = body == NULL;
	if (body != NULL) {
		assert_true(len < sizeof(r->body));
		memcpy(r->body, body, len);
		r->body_len = len;
		assert_int_equal(body[len], '\0');
	}
	r->has_err = err != NULL;
	if (err != NULL)
		r->err = *err;
	copy_header(call, "X-TEST", r->done_xtest, sizeof(r->done_xtest));
	copy_header(call, "content-type", r->done_ctype, sizeof(r->done_ctype));
	copy_header(call, "Location", r->done_location, sizeof(r->done_location));
	/* over already: cancelling or pausing does nothing */
	shoal_http_call_cancel(call);
	shoal_http_call_pause(call, true);
	if (r->close_on_done) {
		r->fx->client_close_started = true;
		shoal_http_client_close(r->fx->client, on_client_closed, r->fx);
	}
}

/* Default options for recs[i]: path on the unix socket, buffered, recorded. */
static struct shoal_http_call_opts opts_for(struct fixture *fx, int i, const char *path, char *url,
					    size_t url_size)
{
	struct shoal_http_call_opts o = {
		.url = url,
		.unix_socket = fx->sock,
		.on_head = rec_head,
		.on_done = rec_done,
		.ctx = &fx->recs[i],
	};

	snprintf(url, url_size, "%s%s", fx->url, path);
	fx->recs[i].fx = fx;
	return o;
}

static struct shoal_http_call *start(struct fixture *fx, int i,
				     const struct shoal_http_call_opts *o)
{
	struct shoal_err err;
	struct shoal_http_call *call = shoal_http_call_start(fx->client, o, &err);

	if (call == NULL)
		fail_msg("start: %s", err.msg);
	fx->recs[i].call = call;
	return call;
}

/* ---- running the loop ---- */

typedef bool (*cond_fn)(struct fixture *fx);

static void on_guard(uv_timer_t *t)
{
	struct fixture *fx = t->data;

	fx->timed_out = true;
}

/* Runs the loop until cond holds; fails the test after RUN_TIMEOUT_MS. */
static void run_until(struct fixture *fx, cond_fn cond)
{
	fx->timed_out = false;
	uv_timer_start(&fx->guard, on_guard, RUN_TIMEOUT_MS, 0);
	while (!cond(fx) && !fx->timed_out)
		uv_run(&fx->loop, UV_RUN_ONCE);
	uv_timer_stop(&fx->guard);
	assert_false(fx->timed_out);
}

static void on_tick(uv_timer_t *t)
{
	struct fixture *fx = t->data;

	fx->ticked = true;
}

static bool ticked(struct fixture *fx)
{
	return fx->ticked;
}

/* Lets the loop run for ms: for checking that something does not happen. */
static void run_for(struct fixture *fx, unsigned ms)
{
	fx->ticked = false;
	uv_timer_start(&fx->tick, on_tick, ms, 0);
	run_until(fx, ticked);
}

static bool rec0_done(struct fixture *fx)
{
	return fx->recs[0].dones > 0;
}

static bool rec0_has_data(struct fixture *fx)
{
	return fx->recs[0].datas > 0;
}

static bool rec0_has_head(struct fixture *fx)
{
	return fx->recs[0].heads > 0;
}

static bool hang_is_gone(struct fixture *fx)
{
	return fx->hang_gone > 0;
}

static bool rec0_has_three(struct fixture *fx)
{
	return strstr(fx->recs[0].data, "thr") != NULL;
}

static bool recs01_done(struct fixture *fx)
{
	return fx->recs[0].dones > 0 && fx->recs[1].dones > 0;
}

static bool stream_is_gone(struct fixture *fx)
{
	return fx->stream_gone > 0;
}

static bool stream_and_hang_gone(struct fixture *fx)
{
	return fx->stream_gone > 0 && fx->hang_gone > 0;
}

static bool stream_held(struct fixture *fx)
{
	return fx->stream != NULL;
}

static bool stream_and_hang_held(struct fixture *fx)
{
	return fx->stream != NULL && fx->hang != NULL && fx->recs[0].datas > 0;
}

static bool client_is_closed(struct fixture *fx)
{
	return fx->client_closed > 0;
}

static bool server_is_closed(struct fixture *fx)
{
	return fx->server_closed > 0;
}

static bool no_connections(struct fixture *fx)
{
	return shoal_http_server_nconns(&fx->srv) == 0;
}

static int setup(void **state)
{
	struct fixture *fx = shoal_calloc(1, sizeof(*fx));
	struct shoal_err err;

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/shoal-test-client-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->sock, sizeof(fx->sock), "%s/api.sock", fx->dir);
	snprintf(fx->addr, sizeof(fx->addr), "unix://%s", fx->sock);
	snprintf(fx->url, sizeof(fx->url), "http://shoal");
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	uv_timer_init(&fx->loop, &fx->guard);
	uv_timer_init(&fx->loop, &fx->tick);
	fx->guard.data = fx->tick.data = fx;
	shoal_http_server_init(&fx->srv, &fx->loop, &router, fx, "Server: shoal-test\r\n");
	if (shoal_http_server_listen(&fx->srv, fx->addr, &err) < 0)
		fail_msg("listen: %s", err.msg);
	fx->client = shoal_http_client_new(&fx->loop);
	*state = fx;
	return 0;
}

/* Closes the client (unless a test did), then the server; nothing may be left open. */
static int teardown(void **state)
{
	struct fixture *fx = *state;
	int i;

	if (!fx->client_close_started)
		shoal_http_client_close(fx->client, on_client_closed, fx);
	run_until(fx, client_is_closed);
	assert_int_equal(fx->client_closed, 1);
	/* the held requests are finished once their clients are seen leaving */
	run_until(fx, no_connections);
	shoal_http_server_close(&fx->srv, 1000, on_server_closed);
	run_until(fx, server_is_closed);
	assert_null(fx->stream);
	assert_null(fx->hang);
	uv_close((uv_handle_t *)&fx->guard, NULL);
	uv_close((uv_handle_t *)&fx->tick, NULL);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	for (i = 0; i < MAX_RECS; i++)
		if (fx->recs[i].use_lines)
			shoal_http_lines_fini(&fx->recs[i].lines);
	unlink(fx->sock);
	assert_int_equal(rmdir(fx->dir), 0);
	free(fx);
	return 0;
}

/* A TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it). */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* ---- buffered calls ---- */

/* A GET hands the whole body to on_done, after on_head; headers are readable in both,
 * by any case of their name. */
static void test_get_buffers_body(void **state)
{
	struct fixture *fx = *state;
	struct rec *r = &fx->recs[0];
	char url[128];
	struct shoal_http_call_opts o = opts_for(fx, 0, "/hello", url, sizeof(url));

	start(fx, 0, &o);
	assert_int_equal(r->heads + r->dones, 0); /* never before start returns */
	run_until(fx, rec0_done);
	assert_int_equal(r->heads, 1);
	assert_int_equal(r->head_status, 200);
	assert_string_equal(r->head_xtest, "yes");
	assert_int_equal(r->dones, 1);
	assert_int_equal(r->status, 200);
	assert_false(r->has_err);
	assert_int_equal(r->datas, 0);
	assert_false(r->body_null);
	assert_int_equal(r->body_len, 5);
	assert_string_equal(r->body, "hello");
	assert_string_equal(r->done_xtest, "yes");
	assert_string_equal(r->done_ctype, "text/plain");
	assert_string_equal(r->done_location, "(null)");
}

/* An error status is a response like any other: no err, the body is there. */
static void test_error_status_is_not_a_failure(void **state)
{
	struct fixture *fx = *state;
	struct rec *r = &fx->recs[0];
	char url[128];
	struct shoal_http_call_opts o = opts_for(fx, 0, "/nope", url, sizeof(url));

	start(fx, 0, &o);
	run_until(fx, rec0_done);
	assert_int_equal(r->status, 404);
	assert_false(r->has_err);
	assert_non_null(strstr(r->body, "\"message\""));
	assert_string_equal(r->done_ctype, "application/json");
}

/* A POST sends its body (copied: the caller's buffer is gone before it is sent) and
 * headers; a PUT without a body sends an empty one; without a Content-Type none is sent
 * rather than curl's form type. */
static void test_post_sends_body_and_headers(void **state)
{
	struct fixture *fx = *state;
	char url0[128], url1[128];
	const char *hdrs[] = { "Content-Type: application/json", "X-Req: 42", NULL };
	struct shoal_http_call_opts o0 = opts_for(fx, 0, "/echo", url0, sizeof(url0));
	struct shoal_http_call_opts o1 = opts_for(fx, 1, "/echo", url1, sizeof(url1));
	char *json = shoal_strdup("{\"a\":1}");

	o0.method = "POST";
	o0.headers = hdrs;
	o0.body = json;
	o0.body_len = strlen(json);
	start(fx, 0, &o0);
	memset(json, 'x', strlen(json));
	free(json);
	o1.method = "PUT";
	start(fx, 1, &o1);
	run_until(fx, recs01_done);
	assert_int_equal(fx->recs[0].status, 201);
	assert_string_equal(fx->recs[0].body, "ct=application/json x=42 body={\"a\":1}");
	assert_int_equal(fx->recs[1].status, 201);
	assert_string_equal(fx->recs[1].body, "ct=- x=- body=");
}

/* A HEAD response has headers and no body. */
static void test_head_has_no_body(void **state)
{
	struct fixture *fx = *state;
	struct rec *r = &fx->recs[0];
	char url[128];
	struct shoal_http_call_opts o = opts_for(fx, 0, "/hello", url, sizeof(url));

	o.method = "HEAD";
	start(fx, 0, &o);
	run_until(fx, rec0_done);
	assert_int_equal(r->status, 200);
	assert_false(r->has_err);
	assert_int_equal(r->body_len, 0);
	assert_string_equal(r->done_xtest, "yes");
}

static struct shoal_http_call *start_next(struct fixture *fx, int i, const char *path)
{
	char url[128];
	struct shoal_http_call_opts o = opts_for(fx, i, path, url, sizeof(url));

	return start(fx, i, &o);
}

/* Calls one after the other reuse the keep-alive connection. */
static void test_calls_reuse_connection(void **state)
{
	struct fixture *fx = *state;

	start_next(fx, 0, "/hello");
	run_until(fx, rec0_done);
	start_next(fx, 1, "/hello");
	run_until(fx, recs01_done);
	assert_string_equal(fx->recs[1].body, "hello");
	assert_int_equal(shoal_http_server_nconns(&fx->srv), 1);
}

/* Over TCP as over the unix socket. */
static void test_get_over_tcp(void **state)
{
	struct fixture *fx = *state;
	struct rec *r = &fx->recs[0];
	struct shoal_err err;
	char addr[64], url[128];
	int port = free_port();
	struct shoal_http_call_opts o = opts_for(fx, 0, "", url, sizeof(url));

	snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", port);
	if (shoal_http_server_listen(&fx->srv, addr, &err) < 0)
		fail_msg("listen: %s", err.msg);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", port);
	o.unix_socket = NULL;
	start(fx, 0, &o);
	run_until(fx, rec0_done);
	assert_false(r->has_err);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "hello");
}

/* A redirect is followed when asked, and is the response otherwise. */
static void test_redirect(void **state)
{
	struct fixture *fx = *state;
	char url0[128], url1[128];
	struct shoal_http_call_opts o0 = opts_for(fx, 0, "/redirect", url0, sizeof(url0));
	struct shoal_http_call_opts o1 = opts_for(fx, 1, "/redirect", url1, sizeof(url1));

	o0.max_redirects = 3;
	start(fx, 0, &o0);
	start(fx, 1, &o1);
	run_until(fx, recs01_done);
	assert_false(fx->recs[0].has_err);
	assert_int_equal(fx->recs[0].heads, 1);
	assert_int_equal(fx->recs[0].head_status, 200);
	assert_int_equal(fx->recs[0].status, 200);
	assert_string_equal(fx->recs[0].body, "hello");
	assert_string_equal(fx->recs[0].done_location, "(null)");
	assert_false(fx->recs[1].has_err);
	assert_int_equal(fx->recs[1].status, 307);
	assert_string_equal(fx->recs[1].done_location, "/hello");
}

/* A buffered body over the limit fails the call; the status that came is kept. */
static void test_buffered_body_limit(void **state)
{
	struct fixture *fx = *state;
	struct rec *r = &fx->recs[0];
	char url[128];
	struct shoal_http_call_opts o = opts_for(fx, 0, "/hello", url, sizeof(url));

	o.max_body = 4;
	start(fx, 0, &o);
	run_until(fx, rec0_done);
	assert_true(r->has_err);
	assert_int_equal(r->status, 200);
	assert_true(r->body_null);
	assert_string_equal(r->err.msg,
			    "Get \"http://shoal/hello\": response body larger than 4 bytes");
}

/* ---- failures ---- */

/* Nothing listening: 503, with the address in Go's wording, for TCP and unix sockets. */
static void test_connection_refused(void **state)
{
	struct fixture *fx = *state;
	char url0[128], url1[128], want[256], path[160];
	int port = free_port();
	struct shoal_http_call_opts o0 = opts_for(fx, 0, "", url0, sizeof(url0));
	struct shoal_http_call_opts o1 = opts_for(fx, 1, "/hello", url1, sizeof(url1));

	snprintf(url0, sizeof(url0), "http://127.0.0.1:%d/x", port);
	o0.unix_socket = NULL;
	o0.method = "POST";
	start(fx, 0, &o0);
	snprintf(path, sizeof(path), "%s/none.sock", fx->dir);
	o1.unix_socket = path;
	start(fx, 1, &o1);
	run_until(fx, recs01_done);
	assert_true(fx->recs[0].has_err);
	assert_int_equal(fx->recs[0].err.status, 503);
	assert_int_equal(fx->recs[0].status, 0);
	assert_int_equal(fx->recs[0].heads, 0);
	snprintf(want, sizeof(want),
		 "Post \"http://127.0.0.1:%d/x\": dial tcp 127.0.0.1:%d: connect: connection "
		 "refused",
		 port, port);
	assert_string_equal(fx->recs[0].err.msg, want);
	assert_true(fx->recs[1].has_err);
	assert_int_equal(fx->recs[1].err.status, 503);
	snprintf(want, sizeof(want),
		 "Get \"http://shoal/hello\": dial unix %s: connect: no such file or directory",
		 path);
	assert_string_equal(fx->recs[1].err.msg, want);
}

/* A server that never answers: the call fails at timeout_ms with 504, the connection is
 * dropped (the server sees its client leave). */
static void test_timeout(void **state)
{
	struct fixture *fx = *state;
	struct rec *r = &fx->recs[0];
	char url[128], want[256];
	struct shoal_http_call_opts o = opts_for(fx, 0, "/hang", url, sizeof(url));

	o.timeout_ms = 200;
	start(fx, 0, &o);
	run_until(fx, rec0_done);
	assert_true(r->has_err);
	assert_int_equal(r->err.status, 504);
	assert_int_equal(r->status, 0);
	snprintf(want, sizeof(want),
		 "Get \"http://shoal/hang\": request to %s timed out after 200 ms", fx->sock);
	assert_string_equal(r->err.msg, want);
	run_until(fx, hang_is_gone);
}

/* A stream that goes quiet fails after stall_timeout_ms with 504 "stalled", keeping the
 * status that came. */
static void test_stall(void **state)
{
	struct fixture *fx = *state;
	struct rec *r = &fx->recs[0];
	char url[128], want[256];
	struct shoal_http_call_opts o = opts_for(fx, 0, "/stream", url, sizeof(url));

	o.on_data = rec_data;
	o.stall_timeout_ms = 200;
	start(fx, 0, &o);
	run_until(fx, rec0_done);
	assert_true(r->has_err);
	assert_int_equal(r->err.status, 504);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->data, "one\n");
	snprintf(want, sizeof(want), "Get \"http://shoal/stream\": %s stalled: no data for 200 ms",
		 fx->sock);
	assert_string_equal(r->err.msg, want);
	run_until(fx, stream_is_gone);
}

/* Bad input is refused at start, and no callback follows. */
static void test_start_refuses_bad_input(void **state)
{
	struct fixture *fx = *state;
	struct shoal_err err;
	char url[128];
	const char *bad_hdr[] = { "X-A: 1\r\nX-B: 2", NULL };
	struct shoal_http_call_opts o = opts_for(fx, 0, "/hello", url, sizeof(url));

	o.url = "ftp://x/y";
	assert_null(shoal_http_call_start(fx->client, &o, &err));
	assert_int_equal(err.status, 400);
	assert_string_equal(err.msg, "invalid URL ftp://x/y: unsupported scheme ftp");
	o.url = "not a url";
	assert_null(shoal_http_call_start(fx->client, &o, &err));
	assert_int_equal(err.status, 400);
	o.url = url;
	o.headers = bad_hdr;
	assert_null(shoal_http_call_start(fx->client, &o, &err));
	assert_string_equal(err.msg, "invalid request header X-A: 1\r\nX-B: 2");
	o.headers = NULL;
	o.method = "G T";
	assert_null(shoal_http_call_start(fx->client, &o, &err));
	assert_string_equal(err.msg, "invalid method G T");
	o.method = NULL;
	o.tls_key_pem = "-----BEGIN PRIVATE KEY-----\n";
	assert_null(shoal_http_call_start(fx->client, &o, &err));
	assert_string_equal(err.msg, "TLS client certificate and key must come together");
	run_for(fx, 20);
	assert_int_equal(fx->recs[0].heads + fx->recs[0].dones, 0);
}

/* ---- streams ---- */

/* A chunked stream reaches on_data piece by piece while it is still open, and the line
 * splitter frames it whatever the chunking; on_done then has no body. */
static void test_stream_arrives_in_pieces(void **state)
{
	struct fixture *fx = *state;
	struct rec *r = &fx->recs[0];
	struct shoal_err err;
	char url[128];
	struct shoal_http_call_opts o = opts_for(fx, 0, "/stream", url, sizeof(url));

	o.on_data = rec_data;
	r->use_lines = true;
	shoal_http_lines_init(&r->lines, 64, rec_line, r);
	start(fx, 0, &o);
	run_until(fx, rec0_has_data);
	assert_int_equal(r->heads, 1);
	assert_string_equal(r->head_xtest, "stream");
	assert_string_equal(r->data, "one\n");
	assert_string_equal(r->lines_got, "[one]");
	assert_int_equal(r->dones, 0);

	shoal_http_stream_write(fx->stream, "two\r\nthr", 8);
	run_until(fx, rec0_has_three);
	assert_string_equal(r->lines_got, "[one][two]");
	assert_int_equal(r->dones, 0);

	shoal_http_stream_write(fx->stream, "ee\n\n{\"x\":", 9);
	shoal_http_stream_write(fx->stream, "1}", 2);
	shoal_http_stream_end(fx->stream);
	fx->stream = NULL;
	run_until(fx, rec0_done);
	assert_false(r->has_err);
	assert_int_equal(r->status, 200);
	assert_true(r->body_null);
	assert_true(r->saw_data_before_done);
	assert_string_equal(r->data, "one\ntwo\r\nthree\n\n{\"x\":1}");
	assert_string_equal(r->lines_got, "[one][two][three]");
	assert_int_equal(shoal_http_lines_end(&r->lines, &err), 0);
	assert_string_equal(r->lines_got, "[one][two][three][{\"x\":1}]");
}

/* Cancelling from inside on_data ends the call there: no more data, no on_done, the
 * connection is dropped and the server sees its client leave. */
static void test_cancel_mid_stream(void **state)
{
	struct fixture *fx = *state;
	struct rec *r = &fx->recs[0];
	char url[128];
	struct shoal_http_call_opts o = opts_for(fx, 0, "/stream", url, sizeof(url));

	o.on_data = rec_data;
	r->cancel_on_data = true;
	start(fx, 0, &o);
	run_until(fx, rec0_has_data);
	/* the cancelled call takes no more, even if more is sent */
	if (fx->stream != NULL)
		shoal_http_stream_write(fx->stream, "two\n", 4);
	run_until(fx, stream_is_gone);
	run_for(fx, 20);
	assert_int_equal(r->datas, 1);
	assert_int_equal(r->dones, 0);
	assert_int_equal(shoal_http_server_nconns(&fx->srv), 0);
}

/* Cancelling from outside any callback, before and after the response began. */
static void test_cancel_from_outside(void **state)
{
	struct fixture *fx = *state;
	struct shoal_http_call *a, *b;

	a = start_next(fx, 0, "/stream");
	b = start_next(fx, 1, "/hello");
	shoal_http_call_cancel(b); /* before anything happened */
	run_until(fx, stream_held);
	run_until(fx, rec0_has_head);
	shoal_http_call_cancel(a);
	shoal_http_call_cancel(a); /* twice is harmless */
	run_until(fx, stream_is_gone);
	run_for(fx, 20);
	assert_int_equal(fx->recs[0].dones, 0);
	assert_int_equal(fx->recs[1].heads + fx->recs[1].dones, 0);
}

/* A paused call takes no data until resumed, then gets what was held back; it does not
 * count as stalled meanwhile. */
static void test_pause_and_resume(void **state)
{
	struct fixture *fx = *state;
	struct rec *r = &fx->recs[0];
	char url[128];
	struct shoal_http_call_opts o = opts_for(fx, 0, "/stream", url, sizeof(url));

	o.on_data = rec_data;
	o.stall_timeout_ms = 150; /* not while paused */
	r->pause_on_data = true;
	start(fx, 0, &o);
	run_until(fx, rec0_has_data);
	shoal_http_stream_write(fx->stream, "two\n", 4);
	shoal_http_stream_write(fx->stream, "three\n", 6);
	run_for(fx, 300);
	assert_string_equal(r->data, "one\n");
	shoal_http_call_pause(r->call, false);
	assert_string_equal(r->data, "one\n"); /* on a later turn */
	run_until(fx, rec0_has_three);
	assert_string_equal(r->data, "one\ntwo\nthree\n");
	assert_int_equal(r->dones, 0);
	/* resumed, it is watched again */
	run_until(fx, rec0_done);
	assert_true(r->has_err);
	assert_int_equal(r->err.status, 504);
}

/* Cancelling from inside on_head: no data, no on_done. */
static void test_cancel_in_head(void **state)
{
	struct fixture *fx = *state;
	struct rec *r = &fx->recs[0];
	char url[128];
	struct shoal_http_call_opts o = opts_for(fx, 0, "/stream", url, sizeof(url));

	o.on_data = rec_data;
	r->cancel_on_head = true;
	start(fx, 0, &o);
	run_until(fx, stream_is_gone);
	run_for(fx, 20);
	assert_int_equal(r->heads, 1);
	assert_int_equal(r->datas + r->dones, 0);
}

/* ---- closing the client ---- */

/* Closing with calls in flight ends them all without their callbacks, drops their
 * connections, and calls back once, on a later turn. */
static void test_close_with_calls_in_flight(void **state)
{
	struct fixture *fx = *state;
	struct shoal_err err;
	char url[128];
	struct shoal_http_call_opts o0 = opts_for(fx, 0, "/stream", url, sizeof(url));

	o0.on_data = rec_data;
	start(fx, 0, &o0);
	start_next(fx, 1, "/hang");
	run_until(fx, stream_and_hang_held);
	start_next(fx, 2, "/hello"); /* not even connected yet */
	fx->client_close_started = true;
	shoal_http_client_close(fx->client, on_client_closed, fx);
	assert_int_equal(fx->client_closed, 0);
	assert_null(shoal_http_call_start(fx->client, &o0, &err));
	assert_string_equal(err.msg, "HTTP client is closing");
	run_until(fx, client_is_closed);
	run_until(fx, stream_and_hang_gone);
	run_for(fx, 20);
	assert_int_equal(fx->recs[0].dones + fx->recs[1].dones + fx->recs[2].dones, 0);
	assert_int_equal(fx->recs[2].heads, 0);
	assert_int_equal(fx->client_closed, 1);
}

/* Closing from inside a call's on_data. */
static void test_close_from_callback(void **state)
{
	struct fixture *fx = *state;
	struct rec *r = &fx->recs[0];
	char url[128];
	struct shoal_http_call_opts o = opts_for(fx, 0, "/stream", url, sizeof(url));

	o.on_data = rec_data;
	r->close_on_data = true;
	start(fx, 0, &o);
	run_until(fx, client_is_closed);
	run_until(fx, stream_is_gone);
	assert_int_equal(r->datas, 1);
	assert_int_equal(r->dones, 0);
}

/* Closing from inside on_done, with another call in flight. */
static void test_close_from_done(void **state)
{
	struct fixture *fx = *state;

	start_next(fx, 0, "/hang");
	start_next(fx, 1, "/hello");
	fx->recs[1].close_on_done = true;
	run_until(fx, client_is_closed);
	run_until(fx, hang_is_gone);
	assert_int_equal(fx->recs[1].dones, 1);
	assert_string_equal(fx->recs[1].body, "hello");
	assert_int_equal(fx->recs[0].dones, 0);
}

/* ---- line splitter ---- */

struct lines_fx {
	char got[256];
	int n;
	int fail_at; /* the callback fails on this line (1-based); 0: never */
};

static int lines_cb(const char *line, size_t len, void *ctx, struct shoal_err *err)
{
	struct lines_fx *lf = ctx;
	size_t used = strlen(lf->got);

	assert_int_equal(strlen(line), len);
	lf->n++;
	if (lf->n == lf->fail_at)
		return shoal_errorf(err, 400, "bad line %s", line);
	snprintf(lf->got + used, sizeof(lf->got) - used, "[%s]", line);
	return 0;
}

/* Lines split across feeds come out whole; CRLF and blank lines are handled; a last line
 * without a newline comes at the end. */
static void test_lines_split_across_chunks(void **state)
{
	struct shoal_http_lines l;
	struct lines_fx lf = { 0 };
	struct shoal_err err;
	const char *in = "{\"a\":1}\n{\"b\"\r\n:2}\r\n\n\r\nab";
	size_t i;

	(void)state;
	shoal_http_lines_init(&l, 16, lines_cb, &lf);
	for (i = 0; in[i] != '\0'; i++)
		assert_int_equal(shoal_http_lines_feed(&l, in + i, 1, &err), 0);
	assert_string_equal(lf.got, "[{\"a\":1}][{\"b\"][:2}]");
	assert_int_equal(shoal_http_lines_end(&l, &err), 0);
	assert_string_equal(lf.got, "[{\"a\":1}][{\"b\"][:2}][ab]");
	/* and all in one feed */
	lf.got[0] = '\0';
	assert_int_equal(shoal_http_lines_feed(&l, in, strlen(in), &err), 0);
	assert_string_equal(lf.got, "[{\"a\":1}][{\"b\"][:2}]");
	assert_int_equal(shoal_http_lines_end(&l, &err), 0);
	assert_int_equal(shoal_http_lines_end(&l, &err), 0); /* nothing left */
	assert_string_equal(lf.got, "[{\"a\":1}][{\"b\"][:2}][ab]");
	shoal_http_lines_fini(&l);
}

/* A line may be max_line bytes long, CRLF or not; one byte more fails, whether it ended
 * or is still arriving, and the splitter refuses more input after. */
static void test_lines_max_size(void **state)
{
	struct shoal_http_lines l;
	struct lines_fx lf = { 0 };
	struct shoal_err err;

	(void)state;
	shoal_http_lines_init(&l, 4, lines_cb, &lf);
	assert_int_equal(shoal_http_lines_feed(&l, "abcd\nefgh\r", 10, &err), 0);
	assert_int_equal(shoal_http_lines_feed(&l, "\n", 1, &err), 0);
	assert_string_equal(lf.got, "[abcd][efgh]");
	assert_int_equal(shoal_http_lines_feed(&l, "abcde\n", 6, &err), -1);
	assert_string_equal(err.msg, "line longer than 4 bytes");
	assert_int_equal(shoal_http_lines_feed(&l, "x\n", 2, &err), -1);
	assert_string_equal(err.msg, "line stream already failed");
	shoal_http_lines_fini(&l);

	/* a partial line that outgrows the limit fails before its newline comes */
	shoal_http_lines_init(&l, 4, lines_cb, &lf);
	assert_int_equal(shoal_http_lines_feed(&l, "abc", 3, &err), 0);
	assert_int_equal(shoal_http_lines_feed(&l, "def", 3, &err), -1);
	assert_string_equal(err.msg, "line longer than 4 bytes");
	shoal_http_lines_fini(&l);
}

/* The callback's failure stops the feed with its error; later lines are not delivered. */
static void test_lines_callback_failure_stops(void **state)
{
	struct shoal_http_lines l;
	struct lines_fx lf = { .fail_at = 2 };
	struct shoal_err err;

	(void)state;
	shoal_http_lines_init(&l, 16, lines_cb, &lf);
	assert_int_equal(shoal_http_lines_feed(&l, "a\nb\nc\n", 6, &err), -1);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.msg, "bad line b");
	assert_string_equal(lf.got, "[a]");
	assert_int_equal(lf.n, 2);
	assert_int_equal(shoal_http_lines_end(&l, &err), -1);
	shoal_http_lines_fini(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_buffers_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_status_is_not_a_failure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_post_sends_body_and_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_has_no_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_calls_reuse_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_over_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffered_body_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_refuses_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_arrives_in_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_mid_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_from_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_and_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_with_calls_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_in_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_from_done, setup, teardown),
		cmocka_unit_test(test_lines_split_across_chunks),
		cmocka_unit_test(test_lines_max_size),
		cmocka_unit_test(test_lines_callback_failure_stops),
	};

	/* a server writing to a client that left must not kill the test, as in shoald */
	signal(SIGPIPE, SIG_IGN);
	/* the client honours http_proxy for TCP, as shoald's pulls should; not here */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	shoal_log_set_level(SHOAL_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
