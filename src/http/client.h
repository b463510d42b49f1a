/* HTTP/1.1 client on the daemon's loop: libcurl's multi interface driven by libuv (one
 * uv_poll_t per socket curl watches, one uv_timer_t for curl's timeouts), so no call
 * blocks the loop. Used by an agent for its long-lived stream from a manager
 * (newline-delimited JSON, see shoal_http_lines) and its small JSON POSTs, and by image
 * pulls (HTTPS, token auth, redirects to blob stores, big downloads with flow control).
 * Calls to the same host reuse keep-alive connections. Loop thread only.
 *
 * Owns its calls. A call ends in exactly one of three ways: its on_done callback (the
 * transfer finished or failed), shoal_http_call_cancel(), or shoal_http_client_close();
 * the call is freed once on_done returns, or on a later turn after a cancel or close.
 * Pointers a call hands out (headers, body) are borrowed and live until then. */
#ifndef SHOAL_HTTP_CLIENT_H
#define SHOAL_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "base/buf.h"
#include "base/err.h"

/* A buffered response body larger than this fails the call (opts.max_body lowers it). */
#define SHOAL_HTTP_CLIENT_MAX_BODY (16 * 1024 * 1024)
/* A response head (status line and headers) larger than this fails the call. */
#define SHOAL_HTTP_CLIENT_MAX_HEAD (64 * 1024)

struct shoal_http_client;
struct shoal_http_call;

/* The final response's status line and headers are in (not a 100 Continue, nor a
 * redirect being followed). */
typedef void (*shoal_http_call_head_cb)(struct shoal_http_call *call, int status, void *ctx);
/* Body bytes of the final response as they arrive (chunked framing removed). */
typedef void (*shoal_http_call_data_cb)(struct shoal_http_call *call, const char *data, size_t len,
					void *ctx);
/* The call is over. err is NULL when a whole response arrived, whatever its status; else
 * the transport failed or a limit was hit, and status is the response's status if its
 * head arrived (0 if not). err->status is 503 when the peer could not be reached (no
 * such host, connection refused), 504 on a timeout or stall, 500 otherwise; err->msg
 * reads like Go's net/http ("Get \"http://h:1/x\": dial tcp h:1: connect: connection
 * refused"). body is the buffered body (NUL-terminated) when there is no on_data and err
 * is NULL; otherwise NULL with len 0. The call and body are freed when this returns. */
typedef void (*shoal_http_call_done_cb)(struct shoal_http_call *call, int status, const char *body,
					size_t len, const struct shoal_err *err, void *ctx);

struct shoal_http_call_opts {
	const char *method; /* "GET", "POST", ...; NULL means GET */
	const char *url;    /* http:// or https://; over a unix socket the host is only a name */
	const char *unix_socket; /* connect to this path instead of the URL's host; optional */
	/* "Name: value" lines, NULL-terminated; optional. Without a Content-Type none is sent
	 * (not curl's form type); "Name:" removes a header curl would add. */
	const char *const *headers;
	const void *body; /* request body, copied; POST, PUT and PATCH send one even if empty */
	size_t body_len;

	unsigned connect_timeout_ms; /* 0: curl's 300 s */
	unsigned timeout_ms;	     /* whole call; 0: none, for streams */
	unsigned stall_timeout_ms;   /* fail when no byte comes for this long; 0: never */
	/* Redirects followed; 0: a 3xx is the response. A custom Authorization header is not
	 * sent on to another host (curl's rule), so a registry token stays with the registry
	 * when it redirects a blob to a store. */
	unsigned max_redirects;
	size_t max_body; /* buffered body limit; 0: SHOAL_HTTP_CLIENT_MAX_BODY */
	bool no_proxy;	 /* never through http_proxy/https_proxy (swarm peers) */

	/* In-memory PEM, copied; optional. A CA replaces the system's trusted roots; cert and
	 * key (both or neither) authenticate this end (mutual TLS with a manager). */
	const char *tls_ca_pem;
	const char *tls_cert_pem;
	const char *tls_key_pem;

	shoal_http_call_head_cb on_head; /* optional */
	shoal_http_call_data_cb on_data; /* optional; NULL: the body is buffered for on_done */
	shoal_http_call_done_cb on_done; /* required */
	void *ctx;			 /* passed to the callbacks */
};

/* A client with no calls. Returns a new client; never NULL. */
struct shoal_http_client *shoal_http_client_new(uv_loop_t *loop);

/* Ends every call still running without calling its callbacks, closes the connections
 * and handles, frees the client, then calls cb(ctx) on a later turn. Safe from inside
 * any call's callback; the client takes no new calls meanwhile. Call it once. */
void shoal_http_client_close(struct shoal_http_client *c, void (*cb)(void *ctx), void *ctx);

/* Starts a call; its callbacks run on later turns of the loop, never before this returns.
 * o and everything it points to are borrowed for the duration of this call only. Returns
 * the call, or NULL with err set (bad URL or header, client closing), and then no
 * callback is ever called. */
struct shoal_http_call *shoal_http_call_start(struct shoal_http_client *c,
					      const struct shoal_http_call_opts *o,
					      struct shoal_err *err) SHOAL_MUST_CHECK;

/* A JSON call to a swarm peer (another node's cluster port): method POST when body is not
 * NULL (JSON text, len bytes, copied; "Content-Type: application/json"), else GET; never
 * through a proxy; a connect timeout of connect_ms and a whole-call timeout of timeout_ms
 * (0: none). on_done and ctx as in the options. Returns as shoal_http_call_start. */
struct shoal_http_call *shoal_http_call_peer(struct shoal_http_client *c, const char *url,
					     const char *body, size_t len, unsigned connect_ms,
					     unsigned timeout_ms, shoal_http_call_done_cb on_done,
					     void *ctx, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Ends the call: no callback of it is called afterwards, its connection is dropped if a
 * response was under way, its memory freed on a later turn. Safe from inside any of its
 * callbacks but on_done (where the call is over already and this does nothing). */
void shoal_http_call_cancel(struct shoal_http_call *call);

/* Stops (true) or resumes (false) taking body bytes, so a download can wait for the disk:
 * curl stops reading the socket and TCP pushes back on the sender. A paused call is
 * exempt from stall_timeout_ms but not from timeout_ms. on_data runs again from a later
 * turn after a resume. */
void shoal_http_call_pause(struct shoal_http_call *call, bool pause);

/* The final response's status, 0 until on_head. */
int shoal_http_call_status(const struct shoal_http_call *call);

/* The first value of a response header (name is case-insensitive), NULL if absent or
 * before on_head. The string lives as long as the call. */
const char *shoal_http_call_header(const struct shoal_http_call *call, const char *name);

/* Newline-delimited framing for a streamed body (JSON lines): feed it what on_data gets,
 * it calls back once per complete line, whatever the chunking. Embedded by its owner. */

/* line is NUL-terminated, without its "\n" or "\r\n". Return 0 to go on, or -1 with err
 * set to stop: shoal_http_lines_feed() then returns -1 with that err. */
typedef int (*shoal_http_line_cb)(const char *line, size_t len, void *ctx, struct shoal_err *err);

struct shoal_http_lines {
	struct shoal_buf buf; /* bytes of the line not yet ended */
	size_t max_line;
	shoal_http_line_cb cb;
	void *ctx;
	bool failed;
};

/* Lines longer than max_line bytes fail the feed; blank lines (keep-alives) are skipped. */
void shoal_http_lines_init(struct shoal_http_lines *l, size_t max_line, shoal_http_line_cb cb,
			   void *ctx);
void shoal_http_lines_fini(struct shoal_http_lines *l);

/* Calls back for each line data completes. After a failure (a line too long, or the
 * callback's -1) it refuses more input: the framing is lost. The callback must not fini
 * l; it returns -1 instead and the caller finishes afterwards. */
int shoal_http_lines_feed(struct shoal_http_lines *l, const void *data, size_t len,
			  struct shoal_err *err) SHOAL_MUST_CHECK;

/* The stream ended: a last line without its newline is delivered (Go's json.Decoder takes
 * it too). Then l is empty again. */
int shoal_http_lines_end(struct shoal_http_lines *l, struct shoal_err *err) SHOAL_MUST_CHECK;

#endif
