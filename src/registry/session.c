/* Talking to one registry endpoint about one repository, with the credentials it asks
 * for: the ping (GET /v2/) that returns its challenge, then every request authorized as
 * distribution's client does it: Basic with the user's password, or Bearer with a token
 * fetched once from the challenge's realm for "repository:<name>:<actions>" (with the
 * password, or a refresh token, or anonymously). A request made while the token is on
 * its way waits for it. Failures read as Go's url.Error does ("Head \"<url>\": no basic
 * auth credentials"). Loop thread only. */
#include "registry/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "http/http.h"

#define SHOAL_LOG_MODULE "registry"

#define PING_TIMEOUT_MS	   15000
#define CONNECT_TIMEOUT_MS 30000
#define TOKEN_TIMEOUT_MS   30000
#define STALL_TIMEOUT_MS   (60 * 1000)

struct shoal_registry_session {
	struct shoal_registry *r;
	char *base; /* "http://127.0.0.1:5000" */
	char *repo; /* "instavote/vote" */
	char *actions;
	struct shoal_registry_auth auth;
	struct shoal_registry_challenge chal;
	char *authorization; /* the header value once known; NULL: none needed */
	bool token_fetching;
	bool token_failed;
	struct shoal_registry_error token_err;
	struct shoal_http_call *token_call;
	struct shoal_list reqs;
};

struct shoal_registry_req {
	struct shoal_list link;
	struct shoal_registry_session *s;
	char *method;
	char *url;
	char **headers; /* NULL-terminated, with Authorization added when sent */
	size_t nheaders;
	char *body;
	size_t body_len;
	unsigned max_redirects;
	unsigned stall_timeout_ms;
	unsigned timeout_ms;
	shoal_http_call_head_cb on_head;
	shoal_http_call_data_cb on_data;
	shoal_registry_req_cb cb;
	void *ctx;
	struct shoal_http_call *call;
	bool waiting; /* for the token */
};

/* ---- helpers ---- */

char *shoal_registry__url(const struct shoal_registry_session *s, const char *fmt, ...)
{
	struct shoal_buf b;
	va_list ap;
	char *what, *url;

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		shoal_fatalx(SHOAL_LOG_MODULE, "out of memory");
	va_end(ap);
	shoal_buf_init(&b);
	shoal_buf_addf(&b, "%s/v2/%s/%s", s->base, s->repo, what);
	free(what);
	url = shoal_buf_detach(&b, NULL);
	shoal_buf_fini(&b);
	return url;
}

static void op_name(const char *method, char *out, size_t n)
{
	size_t i;

	snprintf(out, n, "%s", method);
	for (i = 1; out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
}

void shoal_registry__url_error(struct shoal_registry_error *e, const char *method, const char *url,
			       const char *fmt, ...)
{
	char op[16], why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	op_name(method, op, sizeof(op));
	memset(e, 0, sizeof(*e));
	e->kind = SHOAL_REGISTRY_ERR_OTHER;
	shoal_errorf(&e->err, 500, "%s \"%s\": %s", op, url, why);
}

char *shoal_registry__location(const struct shoal_registry_session *s, struct shoal_http_call *call)
{
	const char *loc = shoal_http_call_header(call, "Location");

	if (loc == NULL || loc[0] == '\0')
		return NULL;
	if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
		return shoal_strdup(loc);
	if (loc[0] == '/')
		return shoal_asprintf("%s%s", s->base, loc);
	return shoal_asprintf("%s/%s", s->base, loc);
}

static void transport_error(const struct shoal_err *err, struct shoal_registry_error *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = SHOAL_REGISTRY_ERR_TRANSPORT;
	out->err = *err;
	out->err.status = 500;
}

/* ---- lifetime ---- */

struct shoal_registry_session *shoal_registry__session_new(struct shoal_registry *r,
							   const char *base_url, const char *repo,
							   const char *actions,
							   const struct shoal_registry_auth *auth)
{
	struct shoal_registry_session *s = shoal_calloc(1, sizeof(*s));

	s->r = r;
	s->base = shoal_strdup(base_url);
	s->repo = repo != NULL ? shoal_strdup(repo) : NULL;
	s->actions = shoal_strdup(actions);
	shoal_registry_auth_copy(&s->auth, auth);
	shoal_list_init(&s->reqs);
	return s;
}

static void req_free(struct shoal_registry_req *rq)
{
	size_t i;

	shoal_list_del(&rq->link);
	for (i = 0; i < rq->nheaders; i++)
		free(rq->headers[i]);
	free(rq->headers);
	free(rq->method);
	free(rq->url);
	free(rq->body);
	free(rq);
}

void shoal_registry__req_cancel(struct shoal_registry_req *rq)
{
	if (rq->call != NULL)
		shoal_http_call_cancel(rq->call);
	req_free(rq);
}

void shoal_registry__session_free(struct shoal_registry_session *s)
{
	struct shoal_list *pos, *tmp;

	if (s == NULL)
		return;
	shoal_list_foreach_safe(pos, tmp, &s->reqs) {
		shoal_registry__req_cancel(shoal_list_entry(pos, struct shoal_registry_req, link));
	}
	if (s->token_call != NULL)
		shoal_http_call_cancel(s->token_call);
	free(s->base);
	free(s->repo);
	free(s->actions);
	free(s->authorization);
	shoal_registry_auth_fini(&s->auth);
	free(s);
}

/* ---- sending ---- */

static void req_head(struct shoal_http_call *call, int status, void *ctx)
{
	struct shoal_registry_req *rq = ctx;

	if (rq->on_head != NULL)
		rq->on_head(call, status, rq->ctx);
}

static void req_data(struct shoal_http_call *call, const char *data, size_t len, void *ctx)
{
	struct shoal_registry_req *rq = ctx;

	rq->on_data(call, data, len, rq->ctx);
}

static void req_done(struct shoal_http_call *call, int status, const char *body, size_t len,
		     const struct shoal_err *err, void *ctx)
{
	struct shoal_registry_req *rq = ctx;
	struct shoal_registry_error e;

	rq->call = NULL;
	/* unlinked first: the callback may free the session */
	shoal_list_del(&rq->link);
	if (err != NULL) {
		transport_error(err, &e);
		rq->cb(rq, call, status, NULL, 0, &e, rq->ctx);
	} else {
		rq->cb(rq, call, status, body, len, NULL, rq->ctx);
	}
	shoal_list_init(&rq->link);
	req_free(rq);
}

static void req_fail(struct shoal_registry_req *rq, const struct shoal_registry_error *e)
{
	shoal_list_del(&rq->link);
	rq->cb(rq, NULL, 0, NULL, 0, e, rq->ctx);
	shoal_list_init(&rq->link);
	req_free(rq);
}

/* Starts the HTTP call; on failure sets e and leaves rq to the caller. */
static int req_send(struct shoal_registry_req *rq, struct shoal_registry_error *e)
{
	struct shoal_registry_session *s = rq->s;
	struct shoal_http_call_opts o;
	struct shoal_err err;
	char *auth_hdr = NULL;

	rq->waiting = false;
	if (s->authorization != NULL) {
		auth_hdr = shoal_asprintf("Authorization: %s", s->authorization);
		rq->headers[rq->nheaders] = auth_hdr;
	}
	memset(&o, 0, sizeof(o));
	o.method = rq->method;
	o.url = rq->url;
	o.headers = (const char *const *)rq->headers;
	o.body = rq->body;
	o.body_len = rq->body_len;
	o.connect_timeout_ms = CONNECT_TIMEOUT_MS;
	o.timeout_ms = rq->timeout_ms;
	/* a registry that accepts and then says nothing must not hold a pull forever */
	o.stall_timeout_ms = rq->stall_timeout_ms > 0 ? rq->stall_timeout_ms : STALL_TIMEOUT_MS;
	o.max_redirects = rq->max_redirects;
	o.max_body = SHOAL_REGISTRY_META_MAX;
	o.on_head = req_head;
	o.on_data = rq->on_data != NULL ? req_data : NULL;
	o.on_done = req_done;
	o.ctx = rq;
	rq->call = shoal_http_call_start(s->r->http, &o, &err);
	rq->headers[rq->nheaders] = NULL;
	free(auth_hdr);
	if (rq->call == NULL) {
		transport_error(&err, e);
		e->fallback = true;
		return -1;
	}
	return 0;
}

/* The token arrived (or could not be had): send what waited for it. */
static void release_waiting(struct shoal_registry_session *s)
{
	struct shoal_list *pos, *tmp;

	shoal_list_foreach_safe(pos, tmp, &s->reqs) {
		struct shoal_registry_req *rq =
			shoal_list_entry(pos, struct shoal_registry_req, link);
		struct shoal_registry_error e;

		if (!rq->waiting)
			continue;
		if (s->token_failed) {
			/* as Go's client wraps what failed inside RoundTrip */
			shoal_registry__url_error(&e, rq->method, rq->url, "%s",
						  s->token_err.err.msg);
			e.fallback = true;
			req_fail(rq, &e);
		} else if (req_send(rq, &e) < 0) {
			req_fail(rq, &e);
		}
	}
}

static void token_done(struct shoal_http_call *call, int status, const char *body, size_t len,
		       const struct shoal_err *err, void *ctx)
{
	struct shoal_registry_session *s = ctx;
	json_t *j = NULL;
	const char *tok;

	s->token_call = NULL;
	s->token_fetching = false;
	if (err != NULL) {
		transport_error(err, &s->token_err);
		s->token_failed = true;
		goto out;
	}
	if (status != 200) {
		shoal_registry__error_from_response(
			status, body, len, shoal_http_call_header(call, "WWW-Authenticate"),
			&s->token_err);
		s->token_failed = true;
		goto out;
	}
	j = json_loadb(body, len, 0, NULL);
	tok = json_string_value(json_object_get(j, "token"));
	if (tok == NULL || tok[0] == '\0')
		tok = json_string_value(json_object_get(j, "access_token"));
	if (tok == NULL || tok[0] == '\0') {
		memset(&s->token_err, 0, sizeof(s->token_err));
		shoal_errorf(&s->token_err.err, 500,
			     "authorization server did not include a token in the response");
		s->token_failed = true;
		goto out;
	}
	free(s->authorization);
	s->authorization = shoal_asprintf("Bearer %s", tok);
out:
	json_decref(j);
	release_waiting(s);
}

/* Appends k=v to a query or form, v percent-encoded (Go's url.Values.Encode). */
static void add_form(struct shoal_buf *b, const char *k, const char *v)
{
	const char *p;

	shoal_buf_addf(b, "%s%s=", b->len > 0 ? "&" : "", k);
	for (p = v; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			shoal_buf_addc(b, (char)c);
		else if (c == ' ')
			shoal_buf_addc(b, '+');
		else
			shoal_buf_addf(b, "%%%02X", c);
	}
}

/* Starts fetching the bearer token (distribution's tokenHandler). */
static void token_fetch(struct shoal_registry_session *s)
{
	struct shoal_http_call_opts o;
	struct shoal_buf q, hdr;
	const char *headers[3] = { NULL, NULL, NULL };
	char *scope =
		s->repo != NULL ? shoal_asprintf("repository:%s:%s", s->repo, s->actions) : NULL;
	char *url = NULL;
	struct shoal_err err;

	shoal_buf_init(&q);
	shoal_buf_init(&hdr);
	memset(&o, 0, sizeof(o));
	if (s->auth.identitytoken != NULL) {
		/* an OAuth refresh token: POST the form */
		add_form(&q, "grant_type", "refresh_token");
		add_form(&q, "refresh_token", s->auth.identitytoken);
		if (s->chal.service[0] != '\0')
			add_form(&q, "service", s->chal.service);
		add_form(&q, "client_id", "docker");
		if (scope != NULL)
			add_form(&q, "scope", scope);
		o.method = "POST";
		o.body = q.data;
		o.body_len = q.len;
		headers[0] = "Content-Type: application/x-www-form-urlencoded";
		url = shoal_strdup(s->chal.realm);
	} else {
		if (s->chal.service[0] != '\0')
			add_form(&q, "service", s->chal.service);
		if (scope != NULL) {
			add_form(&q, "scope", scope);
		} else {
			/* a login: ask for a refresh token to keep, as dockerd does */
			add_form(&q, "offline_token", "true");
			add_form(&q, "client_id", "docker");
		}
		url = shoal_asprintf("%s%s%s", s->chal.realm,
				     strchr(s->chal.realm, '?') ? "&" : "?", q.data);
		if (s->auth.username != NULL) {
			char *up = shoal_asprintf("%s:%s", s->auth.username,
						  s->auth.password != NULL ? s->auth.password : "");

			shoal_buf_adds(&hdr, "Authorization: Basic ");
			shoal_buf_add_base64(&hdr, up, strlen(up));
			free(up);
			headers[0] = hdr.data;
		}
	}
	o.url = url;
	o.headers = headers;
	o.connect_timeout_ms = CONNECT_TIMEOUT_MS;
	o.timeout_ms = TOKEN_TIMEOUT_MS;
	o.max_redirects = 5;
	o.max_body = SHOAL_REGISTRY_META_MAX;
	o.on_done = token_done;
	o.ctx = s;
	s->token_fetching = true;
	s->token_call = shoal_http_call_start(s->r->http, &o, &err);
	if (s->token_call == NULL) {
		s->token_fetching = false;
		transport_error(&err, &s->token_err);
		s->token_failed = true;
	}
	shoal_buf_fini(&q);
	shoal_buf_fini(&hdr);
	free(scope);
	free(url);
}

struct shoal_registry_req *shoal_registry__request(struct shoal_registry_session *s,
						   const struct shoal_registry_req_opts *o,
						   shoal_registry_req_cb cb, void *ctx,
						   struct shoal_registry_error *err)
{
	struct shoal_registry_req *rq;
	const char *method = o->method != NULL ? o->method : "GET";
	size_t n = 0, i;

	if (s->token_failed) {
		/* the token could not be had: every request fails as Go's client reports it */
		shoal_registry__url_error(err, method, o->url, "%s", s->token_err.err.msg);
		err->fallback = true;
		return NULL;
	}
	if (s->authorization == NULL && s->auth.registrytoken != NULL)
		s->authorization = shoal_asprintf("Bearer %s", s->auth.registrytoken);
	if (s->authorization == NULL && strcmp(s->chal.scheme, "basic") == 0) {
		struct shoal_buf b;
		char *up;

		if (s->auth.username == NULL && s->auth.password == NULL) {
			/* auth.ErrNoBasicAuthCredentials, before anything is sent */
			shoal_registry__url_error(err, method, o->url, "no basic auth credentials");
			err->fallback = true;
			return NULL;
		}
		shoal_buf_init(&b);
		up = shoal_asprintf("%s:%s", s->auth.username != NULL ? s->auth.username : "",
				    s->auth.password != NULL ? s->auth.password : "");
		shoal_buf_adds(&b, "Basic ");
		shoal_buf_add_base64(&b, up, strlen(up));
		free(up);
		s->authorization = shoal_buf_detach(&b, NULL);
		shoal_buf_fini(&b);
	}
	rq = shoal_calloc(1, sizeof(*rq));
	rq->s = s;
	rq->method = shoal_strdup(method);
	rq->url = shoal_strdup(o->url);
	while (o->headers != NULL && o->headers[n] != NULL)
		n++;
	rq->headers = shoal_calloc(n + 2, sizeof(char *));
	for (i = 0; i < n; i++)
		rq->headers[i] = shoal_strdup(o->headers[i]);
	rq->nheaders = n;
	if (o->body_len > 0) {
		rq->body = shoal_malloc(o->body_len);
		memcpy(rq->body, o->body, o->body_len);
		rq->body_len = o->body_len;
	} else if (o->body != NULL) {
		rq->body = shoal_strdup("");
	}
	rq->max_redirects = o->max_redirects;
	rq->stall_timeout_ms = o->stall_timeout_ms;
	rq->timeout_ms = o->timeout_ms;
	rq->on_head = o->on_head;
	rq->on_data = o->on_data;
	rq->cb = cb;
	rq->ctx = ctx;
	shoal_list_add_tail(&s->reqs, &rq->link);
	if (s->authorization != NULL || strcmp(s->chal.scheme, "bearer") != 0 ||
	    s->chal.realm[0] == '\0') {
		/* no challenge, or one we do not speak: the request goes as it is */
		if (req_send(rq, err) < 0) {
			req_free(rq);
			return NULL;
		}
		return rq;
	}
	rq->waiting = true;
	if (!s->token_fetching)
		token_fetch(s);
	return rq;
}

void shoal_registry__req_pause(struct shoal_registry_req *rq, bool pause)
{
	if (rq->call != NULL)
		shoal_http_call_pause(rq->call, pause);
}

/* ---- ping ---- */

struct ping {
	struct shoal_registry_session *s;
	shoal_registry_req_cb cb;
	void *ctx;
};

static void ping_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
		      const char *body, size_t len, const struct shoal_registry_error *err,
		      void *ctx)
{
	struct ping *p = ctx;
	struct shoal_registry_session *s = p->s;
	shoal_registry_req_cb cb = p->cb;
	void *cctx = p->ctx;
	struct shoal_registry_error e;

	free(p);
	if (err != NULL) {
		/* the registry could not be reached this way: try the next endpoint */
		e = *err;
		e.fallback = true;
		cb(rq, call, status, body, len, &e, cctx);
		return;
	}
	if (status == 401) {
		const char *h = shoal_http_call_header(call, "WWW-Authenticate");

		if (shoal_registry__challenge_parse(h, &s->chal) < 0)
			memset(&s->chal, 0, sizeof(s->chal));
	}
	cb(rq, call, status, body, len, NULL, cctx);
}

int shoal_registry__session_ping(struct shoal_registry_session *s, shoal_registry_req_cb cb,
				 void *ctx, struct shoal_registry_error *err)
{
	struct shoal_registry_req_opts o;
	struct ping *p = shoal_calloc(1, sizeof(*p));
	char *url = shoal_asprintf("%s/v2/", s->base);
	struct shoal_registry_req *rq;

	p->s = s;
	p->cb = cb;
	p->ctx = ctx;
	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.url = url;
	o.timeout_ms = PING_TIMEOUT_MS;
	/* nothing is known of the registry yet: the request goes without credentials */
	memset(&s->chal, 0, sizeof(s->chal));
	rq = shoal_registry__request(s, &o, ping_done, p, err);
	free(url);
	if (rq == NULL) {
		free(p);
		err->fallback = true;
		return -1;
	}
	return 0;
}
