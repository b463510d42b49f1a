/* The client half of src/http: libcurl's multi interface on the libuv loop, the standard
 * socket-action pattern. curl tells us which sockets to watch (on_socket) and when to
 * wake it (on_curl_timer); the loop tells curl what happened (on_poll, on_timer); after
 * each nudge we collect finished transfers (check_done).
 *
 * curl forbids removing or cleaning up a transfer from inside its own callbacks, and a
 * caller may cancel a call or close the client from inside ours, so both only mark the
 * call and arm an idle handle (later) that does the removal on a turn of its own: the
 * server's deferred frees, for the same reason. Resuming a paused call waits for it too,
 * because curl hands over the data it held back from inside curl_easy_pause().
 *
 * Left to others: TLS (curl's OpenSSL), name lookups (curl's resolver threads), what
 * a response means. */
#include "http/client.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "base/list.h"
#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "http"

/* TCP keep-alive on every connection, so a manager that vanished without a FIN (power
 * loss, partition) ends a long stream instead of leaving it open forever. */
#define KEEPALIVE_IDLE_S     30
#define KEEPALIVE_INTERVAL_S 15

struct shoal_http_client {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer; /* curl's next timeout */
	uv_idle_t later;  /* deferred frees, resumes and the close */
	bool later_armed;
	uv_timer_t stall; /* the earliest stall deadline among the calls */
	struct shoal_list calls;
	struct shoal_list socks;
	int handles_open; /* timer, later, stall, and each sock's poll: freed at 0 */
	bool closing;
	bool torn_down; /* the multi handle is gone; handles are closing */
	void (*close_cb)(void *ctx);
	void *close_ctx;
};

/* One socket curl asked us to watch. */
struct sock {
	struct shoal_list link;
	struct shoal_http_client *client;
	uv_poll_t poll;
	curl_socket_t fd;
};

enum call_state {
	CALL_RUNNING,
	CALL_DONE,	/* inside on_done; freed when it returns */
	CALL_CANCELLED, /* cancelled or client closing; later() frees it */
};

struct resp_header {
	char *name;
	char *value;
};

struct shoal_http_call {
	struct shoal_list link;
	struct shoal_http_client *client;
	CURL *easy;
	bool in_multi;
	struct curl_slist *req_headers; /* curl borrows the list: it lives as long as easy */
	enum call_state state;

	/* for messages */
	char *op;   /* "Get": Go's url.Error spelling */
	char *url;  /* as given */
	char *host; /* the URL's, for "lookup" */
	char *peer; /* "host:port", or the unix socket path */
	bool unix_sock;
	unsigned timeout_ms, stall_timeout_ms, max_redirects;
	uint64_t last_byte; /* uv_now() when a byte last came (or the call started) */
	size_t max_body;

	shoal_http_call_head_cb on_head;
	shoal_http_call_data_cb on_data;
	shoal_http_call_done_cb on_done;
	void *ctx;

	/* the response */
	int status;
	bool head_done; /* the final head is in and on_head was called */
	size_t head_bytes;
	struct resp_header *headers;
	size_t nheaders, cap_headers;
	struct shoal_buf body;

	bool failed; /* a limit of ours stopped the transfer: fail says why */
	struct shoal_err fail;
	bool paused;
	bool resume_pending;
	char errbuf[CURL_ERROR_SIZE];
};

static void on_later(uv_idle_t *idle);

/* ---- client lifetime ---- */

static void client_unref(struct shoal_http_client *c)
{
	void (*cb)(void *ctx) = c->close_cb;
	void *ctx = c->close_ctx;

	if (--c->handles_open > 0)
		return;
	free(c);
	/* balances the init in shoal_http_client_new */
	curl_global_cleanup();
	if (cb != NULL)
		cb(ctx);
}

static void handle_closed(uv_handle_t *h)
{
	client_unref(h->data);
}

static void sock_closed(uv_handle_t *h)
{
	struct sock *s = container_of((uv_poll_t *)h, struct sock, poll);
	struct shoal_http_client *c = s->client;

	free(s);
	client_unref(c);
}

static void sock_close(struct sock *s)
{
	shoal_list_del(&s->link);
	uv_close((uv_handle_t *)&s->poll, sock_closed);
}

/* Arms later(): the work runs on a turn where no curl function and no caller's callback
 * is on the stack. */
static void schedule(struct shoal_http_client *c)
{
	if (c->later_armed || c->torn_down)
		return;
	c->later_armed = true;
	uv_idle_start(&c->later, on_later);
}

/* ---- calls: response head ---- */

static void headers_reset(struct shoal_http_call *call)
{
	size_t i;

	for (i = 0; i < call->nheaders; i++) {
		free(call->headers[i].name);
		free(call->headers[i].value);
	}
	call->nheaders = 0;
	call->head_bytes = 0;
}

static void header_add(struct shoal_http_call *call, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	const char *v, *end = line + len;
	struct resp_header *h;

	if (colon == NULL || colon == line)
		return; /* not a header; obsolete line folding is not worth supporting */
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (call->nheaders == call->cap_headers) {
		call->cap_headers = call->cap_headers ? 2 * call->cap_headers : 16;
		call->headers =
			shoal_realloc(call->headers, call->cap_headers * sizeof(*call->headers));
	}
	h = &call->headers[call->nheaders++];
	h->name = shoal_strndup(line, (size_t)(colon - line));
	h->value = shoal_strndup(v, (size_t)(end - v));
}

static void call_fail(struct shoal_http_call *call, int status, int sys, const char *why)
{
	call->failed = true;
	shoal_errorf_sys(&call->fail, status, sys, "%s \"%s\": %s", call->op, call->url, why);
}

/* The head curl is done with is the final response's: tell the caller. */
static void head_final(struct shoal_http_call *call)
{
	long code = 0;

	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &code);
	call->status = (int)code;
	call->head_done = true;
	if (call->on_head != NULL)
		call->on_head(call, call->status, call->ctx);
}

/* curl follows any 3xx that has a Location when told to follow. */
static bool is_followed_redirect(const struct shoal_http_call *call, long code)
{
	return call->max_redirects > 0 && code >= 300 && code < 400 &&
	       shoal_http_call_header(call, "Location") != NULL;
}

/* A head ended (blank line): skip interim responses (100 Continue) and redirects curl is
 * about to follow; their headers are dropped so lookups see the final response only. */
static void head_end(struct shoal_http_call *call)
{
	long code = 0;

	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &code);
	if ((code >= 100 && code < 200 && code != 101) || is_followed_redirect(call, code)) {
		headers_reset(call);
		return;
	}
	head_final(call);
}

static size_t on_header(char *data, size_t size, size_t n, void *p)
{
	struct shoal_http_call *call = p;
	size_t len = size * n;
	char why[64];

	if (call->state != CALL_RUNNING)
		return 0;
	call->last_byte = uv_now(call->client->loop);
	if (call->head_done)
		return len; /* trailers after a chunked body: nothing uses them */
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
		headers_reset(call); /* a new response starts */
	call->head_bytes += len;
	if (call->head_bytes > SHOAL_HTTP_CLIENT_MAX_HEAD) {
		snprintf(why, sizeof(why), "response head larger than %d bytes",
			 SHOAL_HTTP_CLIENT_MAX_HEAD);
		call_fail(call, 500, EMSGSIZE, why);
		return 0;
	}
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
		return len;
	if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
		head_end(call);
		return call->state == CALL_RUNNING ? len : 0;
	}
	header_add(call, data, len);
	return len;
}

/* ---- calls: response body ---- */

static size_t on_body(char *data, size_t size, size_t n, void *p)
{
	struct shoal_http_call *call = p;
	size_t len = size * n;
	char why[64];

	if (call->state != CALL_RUNNING)
		return 0;
	call->last_byte = uv_now(call->client->loop);
	if (!call->head_done) {
		/* a head we took for a redirect was final after all */
		head_final(call);
		if (call->state != CALL_RUNNING)
			return 0;
	}
	if (call->on_data == NULL) {
		if (len > call->max_body - call->body.len) {
			snprintf(why, sizeof(why), "response body larger than %zu bytes",
				 call->max_body);
			call_fail(call, 500, EFBIG, why);
			return 0;
		}
		shoal_buf_add(&call->body, data, len);
		return len;
	}
	call->on_data(call, data, len, call->ctx);
	/* 0 makes curl abort the transfer and drop the connection mid-body */
	return call->state == CALL_RUNNING ? len : 0;
}

/* ---- calls: the end ---- */

static void call_free(struct shoal_http_call *call)
{
	struct shoal_http_client *c = call->client;

	if (call->in_multi)
		curl_multi_remove_handle(c->multi, call->easy);
	curl_easy_cleanup(call->easy);
	curl_slist_free_all(call->req_headers);
	headers_reset(call);
	free(call->headers);
	shoal_buf_fini(&call->body);
	free(call->op);
	free(call->url);
	free(call->host);
	free(call->peer);
	shoal_list_del(&call->link);
	free(call);
}

/* strerror() in the lower case Go prints errno texts in. */
static void errno_text(int e, char *buf, size_t size)
{
	snprintf(buf, size, "%s", strerror(e));
	buf[0] = (char)tolower((unsigned char)buf[0]);
}

/* Turns curl's failure into Shoal's: 503 unreachable, 504 too slow, 500 anything else,
 * worded as Go's net/http would (Docker users read those). */
static void describe(struct shoal_http_call *call, CURLcode result, struct shoal_err *err)
{
	const char *net = call->unix_sock ? "unix" : "tcp";
	const char *why = call->errbuf[0] != '\0' ? call->errbuf : curl_easy_strerror(result);
	long os_errno = 0, req_size = 0;
	curl_off_t connect_us = 0, total_us = 0;
	long long ms;
	char text[128];

	curl_easy_getinfo(call->easy, CURLINFO_OS_ERRNO, &os_errno);
	curl_easy_getinfo(call->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
	curl_easy_getinfo(call->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	curl_easy_getinfo(call->easy, CURLINFO_REQUEST_SIZE, &req_size);
	ms = (long long)(total_us / 1000);
	switch (result) {
	case CURLE_COULDNT_RESOLVE_HOST:
		shoal_errorf(err, 503, "%s \"%s\": dial tcp: lookup %s: no such host", call->op,
			     call->url, call->host);
		return;
	case CURLE_COULDNT_CONNECT:
		if (os_errno != 0)
			errno_text((int)os_errno, text, sizeof(text));
		else
			snprintf(text, sizeof(text), "%s", why);
		shoal_errorf_sys(err, 503, (int)os_errno, "%s \"%s\": dial %s %s: connect: %s",
				 call->op, call->url, net, call->peer, text);
		return;
	case CURLE_OPERATION_TIMEDOUT:
		/* curl has one code for both; its timings tell them apart */
		if (connect_us == 0 && req_size == 0 && call->head_bytes == 0 && !call->head_done)
			shoal_errorf_sys(err, 504, ETIMEDOUT,
					 "%s \"%s\": dial %s %s: connect: timed out after %lld ms",
					 call->op, call->url, net, call->peer, ms);
		else if (call->timeout_ms > 0 && ms + 5 >= call->timeout_ms)
			shoal_errorf_sys(err, 504, ETIMEDOUT,
					 "%s \"%s\": request to %s timed out after %u ms", call->op,
					 call->url, call->peer, call->timeout_ms);
		else
			shoal_errorf_sys(err, 504, ETIMEDOUT, "%s \"%s\": %s", call->op, call->url,
					 why);
		return;
	case CURLE_TOO_MANY_REDIRECTS:
		shoal_errorf(err, 500, "%s \"%s\": stopped after %u redirects", call->op, call->url,
			     call->max_redirects);
		return;
	default:
		shoal_errorf_sys(err, 500, (int)os_errno, "%s \"%s\": %s", call->op, call->url,
				 why);
		return;
	}
}

/* curl finished the transfer: tell the caller, then free the call. */
static void call_finish(struct shoal_http_call *call, CURLcode result)
{
	struct shoal_http_client *c = call->client;
	struct shoal_err err;
	const struct shoal_err *errp = NULL;
	const char *body = NULL;
	size_t len = 0;

	curl_multi_remove_handle(c->multi, call->easy);
	call->in_multi = false;
	if (call->failed) {
		err = call->fail;
		errp = &err;
	} else if (result != CURLE_OK) {
		describe(call, result, &err);
		errp = &err;
	} else if (!call->head_done) {
		/* a bodiless redirect we expected curl to follow */
		head_final(call);
		if (call->state != CALL_RUNNING)
			return; /* cancelled in on_head; later() frees it */
	}
	call->state = CALL_DONE;
	if (errp == NULL && call->on_data == NULL) {
		body = call->body.data;
		len = call->body.len;
	}
	if (errp != NULL)
		shoal_log_debug("call failed", "peer=%s error=%s", shoal_log_q(call->peer),
				shoal_log_q(errp->msg));
	else
		shoal_log_debug("call done", "peer=%s status=%d", shoal_log_q(call->peer),
				call->status);
	call->on_done(call, call->status, body, len, errp, call->ctx);
	call_free(call);
}

static void check_done(struct shoal_http_client *c)
{
	struct shoal_http_call *call;
	CURLMsg *m;
	CURLcode result;
	int left;

	for (;;) {
		m = curl_multi_info_read(c->multi, &left);
		if (m == NULL)
			break;
		if (m->msg != CURLMSG_DONE)
			continue;
		result = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&call);
		if (call->state == CALL_RUNNING)
			call_finish(call, result);
	}
}

/* ---- driving curl from the loop ---- */

static void on_timer(uv_timer_t *t)
{
	struct shoal_http_client *c = t->data;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct sock *s = container_of(h, struct sock, poll);
	struct shoal_http_client *c = s->client;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(c->multi, s->fd, flags, &running);
	check_done(c);
}

/* curl's CURLMOPT_TIMERFUNCTION. It must not call curl back: the timer does, later. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct shoal_http_client *c = userp;

	(void)multi;
	if (c->torn_down)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

/* curl's CURLMOPT_SOCKETFUNCTION: start, change or stop watching one socket. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct shoal_http_client *c = userp;
	struct sock *s = socketp;
	int events = 0, rv;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			curl_multi_assign(c->multi, fd, NULL);
			sock_close(s);
		}
		return 0;
	}
	if (s == NULL) {
		s = shoal_calloc(1, sizeof(*s));
		rv = uv_poll_init_socket(c->loop, &s->poll, fd);
		if (rv < 0) {
			shoal_log_error("cannot watch socket", "fd=%d error=%s", fd,
					uv_strerror(rv));
			free(s);
			return -1; /* curl fails the transfer */
		}
		s->client = c;
		s->fd = fd;
		c->handles_open++;
		shoal_list_add_tail(&c->socks, &s->link);
		curl_multi_assign(c->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	rv = uv_poll_start(&s->poll, events, on_poll);
	if (rv < 0) {
		shoal_log_error("cannot watch socket", "fd=%d error=%s", fd, uv_strerror(rv));
		return -1;
	}
	return 0;
}

/* ---- stall watch ---- */

/* curl's own low-speed check averages over the last five seconds or so, which makes
 * "nothing for N seconds" take N + 5; a deadline per call is exact and as cheap. */

static void on_stall(uv_timer_t *t);

/* When the call counts as stalled; 0 if it is not watched now (a paused call waits on
 * its caller, not on its peer). */
static uint64_t stall_deadline(const struct shoal_http_call *call)
{
	if (call->state != CALL_RUNNING || call->stall_timeout_ms == 0 || call->paused)
		return 0;
	return call->last_byte + call->stall_timeout_ms;
}

/* Arms the timer for the earliest deadline. Bytes arriving only move last_byte: the
 * timer finds out when it fires, rather than being restarted for every read. */
static void stall_arm(struct shoal_http_client *c)
{
	uint64_t now = uv_now(c->loop), first = 0, d;
	struct shoal_list *pos;

	shoal_list_foreach(pos, &c->calls) {
		d = stall_deadline(shoal_list_entry(pos, struct shoal_http_call, link));
		if (d != 0 && (first == 0 || d < first))
			first = d;
	}
	if (first == 0) {
		uv_timer_stop(&c->stall);
		return;
	}
	uv_timer_start(&c->stall, on_stall, first > now ? first - now : 0, 0);
}

static void on_stall(uv_timer_t *t)
{
	struct shoal_http_client *c = t->data;
	uint64_t now = uv_now(c->loop), d;
	struct shoal_list *pos, *tmp;
	char why[PATH_MAX + 64];

	shoal_list_foreach_safe(pos, tmp, &c->calls) {
		struct shoal_http_call *call = shoal_list_entry(pos, struct shoal_http_call, link);

		d = stall_deadline(call);
		if (d == 0 || d > now)
			continue;
		snprintf(why, sizeof(why), "%s stalled: no data for %u ms", call->peer,
			 call->stall_timeout_ms);
		call_fail(call, 504, ETIMEDOUT, why);
		/* outside curl here: the transfer can be removed and reported at once */
		call_finish(call, CURLE_OPERATION_TIMEDOUT);
	}
	stall_arm(c);
}

/* Everything is removed: close curl, then our handles; the last close frees c. */
static void teardown(struct shoal_http_client *c)
{
	struct shoal_list *pos, *tmp;

	curl_multi_cleanup(c->multi);
	c->torn_down = true;
	/* curl said REMOVE for each socket it watched; any it did not is closed here */
	shoal_list_foreach_safe(pos, tmp, &c->socks) {
		sock_close(shoal_list_entry(pos, struct sock, link));
	}
	uv_close((uv_handle_t *)&c->timer, handle_closed);
	uv_close((uv_handle_t *)&c->later, handle_closed);
	uv_close((uv_handle_t *)&c->stall, handle_closed);
}

static void on_later(uv_idle_t *idle)
{
	struct shoal_http_client *c = idle->data;
	struct shoal_list *pos, *tmp;

	uv_idle_stop(idle);
	c->later_armed = false;
	/* Resumes first: curl delivers held-back data from inside curl_easy_pause, and the
	 * caller's on_data may cancel calls, which the loop below then frees. */
	shoal_list_foreach_safe(pos, tmp, &c->calls) {
		struct shoal_http_call *call = shoal_list_entry(pos, struct shoal_http_call, link);

		if (call->state != CALL_RUNNING || !call->resume_pending)
			continue;
		call->resume_pending = false;
		call->paused = false;
		call->last_byte = uv_now(c->loop);
		curl_easy_pause(call->easy, CURLPAUSE_CONT);
	}
	stall_arm(c);
	shoal_list_foreach_safe(pos, tmp, &c->calls) {
		struct shoal_http_call *call = shoal_list_entry(pos, struct shoal_http_call, link);

		if (call->state == CALL_CANCELLED)
			call_free(call);
	}
	if (c->closing && shoal_list_empty(&c->calls))
		teardown(c);
}

/* ---- public: client ---- */

struct shoal_http_client *shoal_http_client_new(uv_loop_t *loop)
{
	struct shoal_http_client *c = shoal_calloc(1, sizeof(*c));
	static bool checked;

	/* reference-counted by curl; the first call is at startup, before any thread */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		shoal_fatalx(SHOAL_LOG_MODULE, "cannot initialise libcurl");
	if (!checked) {
		checked = true;
		if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS))
			shoal_log_warn("libcurl lacks async DNS: lookups block the loop", "%s", "");
	}
	c->loop = loop;
	c->multi = curl_multi_init();
	if (c->multi == NULL)
		shoal_fatalx(SHOAL_LOG_MODULE, "cannot initialise libcurl");
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	uv_timer_init(loop, &c->timer);
	uv_idle_init(loop, &c->later);
	c->timer.data = c;
	c->later.data = c;
	uv_timer_init(loop, &c->stall);
	c->stall.data = c;
	c->handles_open = 3;
	shoal_list_init(&c->calls);
	shoal_list_init(&c->socks);
	return c;
}

void shoal_http_client_close(struct shoal_http_client *c, void (*cb)(void *ctx), void *ctx)
{
	struct shoal_list *pos;

	assert(!c->closing);
	c->closing = true;
	c->close_cb = cb;
	c->close_ctx = ctx;
	shoal_list_foreach(pos, &c->calls) {
		struct shoal_http_call *call = shoal_list_entry(pos, struct shoal_http_call, link);

		/* a call inside on_done is freed when that returns */
		if (call->state == CALL_RUNNING)
			call->state = CALL_CANCELLED;
	}
	schedule(c);
}

/* ---- public: calls ---- */

static void slist_add(struct curl_slist **l, const char *s)
{
	struct curl_slist *n = curl_slist_append(*l, s);

	if (n == NULL)
		shoal_fatalx(SHOAL_LOG_MODULE, "out of memory");
	*l = n;
}

static bool has_header(const char *const *headers, const char *name)
{
	size_t n = strlen(name);

	for (; headers != NULL && *headers != NULL; headers++)
		if (strncasecmp(*headers, name, n) == 0 && (*headers)[n] == ':')
			return true;
	return false;
}

/* "Name: value" with a token name and no line breaks: anything else would let a caller's
 * value smuggle a header or a request. */
static bool header_ok(const char *h)
{
	const char *colon = strchr(h, ':');
	const char *p;

	if (colon == NULL || colon == h || strpbrk(h, "\r\n") != NULL)
		return false;
	for (p = h; p < colon; p++)
		if (!isgraph((unsigned char)*p))
			return false;
	return true;
}

static bool method_ok(const char *m)
{
	if (*m == '\0')
		return false;
	for (; *m != '\0'; m++)
		if (!isupper((unsigned char)*m))
			return false;
	return true;
}

/* Splits the URL for messages: host, and peer ("host:port"). */
static int parse_url(struct shoal_http_call *call, const char *url, struct shoal_err *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rv = -1;

	if (u == NULL)
		shoal_fatalx(SHOAL_LOG_MODULE, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		shoal_errorf(err, 400, "invalid URL %s", url);
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		shoal_errorf(err, 400, "invalid URL %s: unsupported scheme %s", url, scheme);
		goto out;
	}
	call->host = shoal_strdup(host);
	call->peer = shoal_asprintf("%s:%s", host, port);
	rv = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rv;
}

static int set_blob(CURL *e, CURLoption opt, const char *pem, const char *what,
		    struct shoal_err *err)
{
	struct curl_blob b = {
		.data = (void *)pem,
		.len = strlen(pem),
		.flags = CURL_BLOB_COPY,
	};
	CURLcode rc = curl_easy_setopt(e, opt, &b);

	if (rc != CURLE_OK)
		return shoal_errorf(err, 500, "TLS %s: %s", what, curl_easy_strerror(rc));
	return 0;
}

static int set_tls(CURL *e, const struct shoal_http_call_opts *o, struct shoal_err *err)
{
	if ((o->tls_cert_pem == NULL) != (o->tls_key_pem == NULL))
		return shoal_errorf(err, 400, "TLS client certificate and key must come together");
	if (o->tls_ca_pem != NULL) {
		if (set_blob(e, CURLOPT_CAINFO_BLOB, o->tls_ca_pem, "CA", err) < 0)
			return -1;
		/* only the given CA: a manager's cluster CA is not to be mixed with the
		 * system's public roots */
		curl_easy_setopt(e, CURLOPT_CAPATH, (char *)NULL);
	}
	if (o->tls_cert_pem != NULL) {
		if (set_blob(e, CURLOPT_SSLCERT_BLOB, o->tls_cert_pem, "certificate", err) < 0 ||
		    set_blob(e, CURLOPT_SSLKEY_BLOB, o->tls_key_pem, "key", err) < 0)
			return -1;
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	return 0;
}

/* Returns whether a body is sent. */
static bool set_method(struct shoal_http_call *call, const char *method,
		       const struct shoal_http_call_opts *o)
{
	CURL *e = call->easy;
	bool send_body = o->body_len > 0 || strcmp(method, "POST") == 0 ||
			 strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;

	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		return false;
	}
	if (strcmp(method, "GET") == 0 && !send_body) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		return false;
	}
	if (send_body) {
		/* an empty body still gets Content-Length: 0, which registries insist on */
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->body_len > 0 ? o->body : "");
	}
	if (strcmp(method, "POST") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	return send_body;
}

static void set_headers(struct shoal_http_call *call, const struct shoal_http_call_opts *o,
			bool has_body)
{
	const char *const *h;

	for (h = o->headers; h != NULL && *h != NULL; h++)
		slist_add(&call->req_headers, *h);
	/* curl would label a body a form; Go's client sends no type it was not given */
	if (has_body && !has_header(o->headers, "Content-Type"))
		slist_add(&call->req_headers, "Content-Type:");
	/* no waiting up to a second for a 100 Continue before sending a large body */
	if (!has_header(o->headers, "Expect"))
		slist_add(&call->req_headers, "Expect:");
	curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, call->req_headers);
}

struct shoal_http_call *shoal_http_call_start(struct shoal_http_client *c,
					      const struct shoal_http_call_opts *o,
					      struct shoal_err *err)
{
	struct shoal_http_call *call = NULL;
	const char *method = o->method != NULL ? o->method : "GET";
	const char *const *h;
	CURL *e;
	size_t i;

	assert(o->on_done != NULL && o->url != NULL);
	assert(o->body != NULL || o->body_len == 0);
	if (c->closing) {
		shoal_errorf(err, 503, "HTTP client is closing");
		return NULL;
	}
	if (!method_ok(method)) {
		shoal_errorf(err, 400, "invalid method %s", method);
		return NULL;
	}
	for (h = o->headers; h != NULL && *h != NULL; h++) {
		if (!header_ok(*h)) {
			shoal_errorf(err, 400, "invalid request header %s", *h);
			return NULL;
		}
	}
	call = shoal_calloc(1, sizeof(*call));
	shoal_list_init(&call->link);
	call->client = c;
	shoal_buf_init(&call->body);
	call->url = shoal_strdup(o->url);
	call->op = shoal_strdup(method);
	for (i = 1; call->op[i] != '\0'; i++)
		call->op[i] = (char)tolower((unsigned char)call->op[i]);
	if (parse_url(call, o->url, err) < 0)
		goto fail;
	if (o->unix_socket != NULL) {
		free(call->peer);
		call->peer = shoal_strdup(o->unix_socket);
		call->unix_sock = true;
	}
	call->timeout_ms = o->timeout_ms;
	call->stall_timeout_ms = o->stall_timeout_ms;
	call->last_byte = uv_now(c->loop);
	call->max_redirects = o->max_redirects;
	call->max_body = o->max_body > 0 ? o->max_body : SHOAL_HTTP_CLIENT_MAX_BODY;
	call->on_head = o->on_head;
	call->on_data = o->on_data;
	call->on_done = o->on_done;
	call->ctx = o->ctx;

	e = curl_easy_init();
	if (e == NULL) {
		shoal_errorf(err, 500, "cannot initialise libcurl");
		goto fail;
	}
	call->easy = e;
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)call);
	curl_easy_setopt(e, CURLOPT_URL, o->url);
	/* nothing but HTTP, also where a redirect points (no file://, no gopher://) */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
	/* a proxy's CONNECT answer is not the response: keep it from on_header */
	curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "shoal/" SHOAL_VERSION);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, (long)KEEPALIVE_IDLE_S);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, (long)KEEPALIVE_INTERVAL_S);
	if (o->unix_socket != NULL)
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
	/* a local socket or a swarm peer is never reached through http_proxy */
	if (o->unix_socket != NULL || o->no_proxy)
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	if (o->connect_timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
	if (o->timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
	if (o->max_redirects > 0) {
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)o->max_redirects);
	}
	if (set_tls(e, o, err) < 0)
		goto fail;
	set_headers(call, o, set_method(call, method, o));

	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		shoal_errorf(err, 500, "cannot start HTTP call to %s", call->peer);
		goto fail;
	}
	call->in_multi = true;
	shoal_list_add_tail(&c->calls, &call->link);
	if (call->stall_timeout_ms > 0)
		stall_arm(c);
	return call;
fail:
	call_free(call);
	return NULL;
}

struct shoal_http_call *shoal_http_call_peer(struct shoal_http_client *c, const char *url,
					     const char *body, size_t len, unsigned connect_ms,
					     unsigned timeout_ms, shoal_http_call_done_cb on_done,
					     void *ctx, struct shoal_err *err)
{
	static const char *const json[] = { "Content-Type: application/json", NULL };
	struct shoal_http_call_opts o = { 0 };

	o.method = body != NULL ? "POST" : "GET";
	o.url = url;
	o.headers = body != NULL ? json : NULL;
	o.body = body;
	o.body_len = len;
	o.no_proxy = true;
	o.connect_timeout_ms = connect_ms;
	o.timeout_ms = timeout_ms;
	o.on_done = on_done;
	o.ctx = ctx;
	return shoal_http_call_start(c, &o, err);
}

void shoal_http_call_cancel(struct shoal_http_call *call)
{
	if (call->state != CALL_RUNNING)
		return;
	call->state = CALL_CANCELLED;
	schedule(call->client);
}

void shoal_http_call_pause(struct shoal_http_call *call, bool pause)
{
	if (call->state != CALL_RUNNING)
		return;
	if (pause) {
		call->resume_pending = false;
		if (!call->paused) {
			call->paused = true;
			curl_easy_pause(call->easy, CURLPAUSE_RECV);
		}
		return;
	}
	if (call->paused && !call->resume_pending) {
		call->resume_pending = true;
		schedule(call->client);
	}
}

int shoal_http_call_status(const struct shoal_http_call *call)
{
	return call->status;
}

const char *shoal_http_call_header(const struct shoal_http_call *call, const char *name)
{
	size_t i;

	for (i = 0; i < call->nheaders; i++)
		if (strcasecmp(call->headers[i].name, name) == 0)
			return call->headers[i].value;
	return NULL;
}

/* ---- newline-delimited framing ---- */

void shoal_http_lines_init(struct shoal_http_lines *l, size_t max_line, shoal_http_line_cb cb,
			   void *ctx)
{
	shoal_buf_init(&l->buf);
	l->max_line = max_line;
	l->cb = cb;
	l->ctx = ctx;
	l->failed = false;
}

void shoal_http_lines_fini(struct shoal_http_lines *l)
{
	shoal_buf_fini(&l->buf);
}

/* line points into l->buf, which has a byte to spare at line[len] (the '\n' or the
 * buffer's NUL). */
static int deliver(struct shoal_http_lines *l, char *line, size_t len, struct shoal_err *err)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > l->max_line) {
		l->failed = true;
		return shoal_errorf(err, 500, "line longer than %zu bytes", l->max_line);
	}
	if (len == 0)
		return 0;
	line[len] = '\0';
	if (l->cb(line, len, l->ctx, err) < 0) {
		l->failed = true;
		return -1;
	}
	return 0;
}

int shoal_http_lines_feed(struct shoal_http_lines *l, const void *data, size_t len,
			  struct shoal_err *err)
{
	size_t start = 0;
	char *nl;

	if (l->failed)
		return shoal_errorf(err, 500, "line stream already failed");
	shoal_buf_add(&l->buf, data, len);
	for (;;) {
		nl = memchr(l->buf.data + start, '\n', l->buf.len - start);
		if (nl == NULL)
			break;
		if (deliver(l, l->buf.data + start, (size_t)(nl - l->buf.data) - start, err) < 0)
			return -1;
		start = (size_t)(nl - l->buf.data) + 1;
	}
	shoal_buf_consume(&l->buf, start);
	/* + 1: the line's '\r' may be in already */
	if (l->buf.len > l->max_line + 1) {
		l->failed = true;
		return shoal_errorf(err, 500, "line longer than %zu bytes", l->max_line);
	}
	return 0;
}

int shoal_http_lines_end(struct shoal_http_lines *l, struct shoal_err *err)
{
	int rv = 0;

	if (l->failed)
		return shoal_errorf(err, 500, "line stream already failed");
	if (l->buf.len > 0)
		rv = deliver(l, l->buf.data, l->buf.len, err);
	shoal_buf_reset(&l->buf);
	return rv;
}
