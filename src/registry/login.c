/* Two short conversations with a registry: a login (POST /auth: dockerd's loginV2, a GET
 * /v2/ with the credentials the registry's challenge asks for), and a lookup (GET
 * /distribution/{name}/json: the manifest's descriptor and platforms, which the docker
 * CLI uses to pin a service's image to a digest). Loop thread only. */
#include "registry/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "engine/internal.h"
#include "http/http.h"

#define SHOAL_LOG_MODULE "registry"

#define MANIFEST_ACCEPT                                                                          \
	"Accept: " SHOAL_MT_DOCKER_MANIFEST ", " SHOAL_MT_DOCKER_LIST ", " SHOAL_MT_OCI_MANIFEST \
	", " SHOAL_MT_OCI_INDEX

/* What both keep. */
struct talk {
	struct shoal_registry_op op;
	shoal_registry_json_cb done;
	struct shoal_registry_auth auth;
	struct shoal_registry_endpoint *eps;
	size_t neps, ep;
	struct shoal_registry_session *sess;
	uv_timer_t start;
	bool finished;
	/* the lookup */
	struct shoal_ref ref;
	json_t *result;
	bool tag_get; /* the HEAD gave no digest: a GET by tag */
};

static void start_closed(uv_handle_t *h);

static void talk_cancel(struct shoal_registry_op *op)
{
	struct talk *t = container_of(op, struct talk, op);

	shoal_registry__session_free(t->sess);
	t->sess = NULL;
	if (!uv_is_closing((uv_handle_t *)&t->start))
		uv_close((uv_handle_t *)&t->start, start_closed);
}

static void start_closed(uv_handle_t *h)
{
	struct talk *t = h->data;

	shoal_registry__op_unpend(&t->op);
}

static void talk_destroy(struct shoal_registry_op *op)
{
	struct talk *t = container_of(op, struct talk, op);

	shoal_registry__session_free(t->sess);
	shoal_registry_auth_fini(&t->auth);
	shoal_registry__endpoints_free(t->eps, t->neps);
	json_decref(t->result);
	free(t);
}

static void talk_finish(struct talk *t, json_t *result, const struct shoal_err *err)
{
	if (t->finished) {
		json_decref(result);
		return;
	}
	t->finished = true;
	shoal_registry__session_free(t->sess);
	t->sess = NULL;
	t->done(t->op.ctx, result, err);
	shoal_registry__op_finish(&t->op);
}

static struct talk *talk_new(struct shoal_registry *r, const struct shoal_registry_auth *auth,
			     shoal_registry_json_cb done, void *ctx, uv_timer_cb start)
{
	struct talk *t = shoal_calloc(1, sizeof(*t));

	t->op.ctx = ctx;
	t->op.cancel = talk_cancel;
	t->op.destroy = talk_destroy;
	t->done = done;
	shoal_registry_auth_copy(&t->auth, auth);
	shoal_registry__op_add(r, &t->op);
	/* the first step runs on a turn of its own: no callback before the start returns */
	uv_timer_init(r->loop, &t->start);
	t->start.data = t;
	t->op.pending++; /* the timer, until closed */
	uv_timer_start(&t->start, start, 0, 0);
	return t;
}

/* ---- login ---- */

static void login_try(struct talk *t);

static void login_next(struct talk *t, const struct shoal_registry_error *e)
{
	if (e->fallback && t->ep + 1 < t->neps) {
		shoal_log_info("Error logging in to endpoint, trying next endpoint", "error=%s",
			       shoal_log_q(e->err.msg));
		shoal_registry__session_free(t->sess);
		t->sess = NULL;
		t->ep++;
		login_try(t);
		return;
	}
	{
		struct shoal_err out = e->err;

		out.status = 500;
		talk_finish(t, NULL, &out);
	}
}

static void login_get_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
			   const char *body, size_t len, const struct shoal_registry_error *err,
			   void *ctx)
{
	struct talk *t = ctx;
	struct shoal_registry_error e;
	bool found_v2;

	(void)rq;
	(void)body;
	(void)len;
	if (err != NULL) {
		login_next(t, err);
		return;
	}
	if (status == 200) {
		talk_finish(
			t,
			json_pack("{s:s, s:s}", "IdentityToken", "", "Status", "Login Succeeded"),
			NULL);
		return;
	}
	found_v2 = call != NULL &&
		   shoal_http_call_header(call, "Docker-Distribution-Api-Version") != NULL;
	memset(&e, 0, sizeof(e));
	shoal_errorf(&e.err, 500, "login attempt to %s/v2/ failed with status: %d %s",
		     t->eps[t->ep].url, status, shoal_http_status_text(status));
	e.fallback = !found_v2;
	login_next(t, &e);
}

static void login_ping_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
			    const char *body, size_t len, const struct shoal_registry_error *err,
			    void *ctx)
{
	struct talk *t = ctx;
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	char *url;

	(void)rq;
	(void)call;
	(void)status;
	(void)body;
	(void)len;
	if (err != NULL) {
		login_next(t, err);
		return;
	}
	url = shoal_asprintf("%s/v2/", t->eps[t->ep].url);
	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.url = url;
	o.timeout_ms = 15000;
	if (shoal_registry__request(t->sess, &o, login_get_done, t, &e) == NULL)
		login_next(t, &e);
	free(url);
}

static void login_try(struct talk *t)
{
	struct shoal_registry_error e;

	t->sess = shoal_registry__session_new(t->op.r, t->eps[t->ep].url, NULL, "", &t->auth);
	if (shoal_registry__session_ping(t->sess, login_ping_done, t, &e) < 0)
		login_next(t, &e);
}

static void login_start(uv_timer_t *timer)
{
	uv_close((uv_handle_t *)timer, start_closed);
	login_try(timer->data);
}

struct shoal_registry_op *shoal_registry_login(struct shoal_registry *r,
					       const struct shoal_registry_auth *auth,
					       shoal_registry_json_cb done, void *ctx,
					       struct shoal_err *err)
{
	const char *server = auth->serveraddress;
	struct talk *t;
	char host[256];
	size_t n;

	if (r->closing) {
		shoal_errorf(err, 503, "the daemon is shutting down");
		return NULL;
	}
	/* the address may be a URL: only its host counts ("https://index.docker.io/v1/") */
	if (server == NULL || server[0] == '\0')
		server = "index.docker.io";
	if (strncmp(server, "https://", 8) == 0)
		server += 8;
	else if (strncmp(server, "http://", 7) == 0)
		server += 7;
	n = strcspn(server, "/");
	if (n == 0 || n >= sizeof(host)) {
		shoal_errorf(err, 400, "unable to parse server address: %s", auth->serveraddress);
		return NULL;
	}
	snprintf(host, sizeof(host), "%.*s", (int)n, server);
	if (strcmp(host, "index.docker.io") == 0 || strcmp(host, "registry-1.docker.io") == 0)
		snprintf(host, sizeof(host), "docker.io");
	t = talk_new(r, auth, done, ctx, login_start);
	/* no mirrors: a mirror never sees the credentials of the registry it mirrors */
	shoal_registry__endpoints(r, host, true, &t->eps, &t->neps);
	return &t->op;
}

/* ---- lookup ---- */

static void inspect_try(struct talk *t);

static void inspect_fail(struct talk *t, const struct shoal_registry_error *e)
{
	talk_finish(t, NULL, &e->err);
}

static void platform_add(json_t *platforms, const char *arch, const char *os, const char *variant)
{
	json_t *p = json_object();

	json_object_set_new(p, "architecture", json_string(arch != NULL ? arch : ""));
	json_object_set_new(p, "os", json_string(os != NULL ? os : ""));
	if (variant != NULL && variant[0] != '\0')
		json_object_set_new(p, "variant", json_string(variant));
	json_array_append_new(platforms, p);
}

static void inspect_config_done(struct shoal_registry_req *rq, struct shoal_http_call *call,
				int status, const char *body, size_t len,
				const struct shoal_registry_error *err, void *ctx)
{
	struct talk *t = ctx;
	json_t *platforms = json_object_get(t->result, "Platforms");

	(void)rq;
	(void)call;
	/* dockerd leaves the platform out when the config cannot be read */
	if (err == NULL && status == 200) {
		json_t *cfg = json_loadb(body, len, 0, NULL);
		const char *os = json_string_value(json_object_get(cfg, "os"));
		const char *arch = json_string_value(json_object_get(cfg, "architecture"));

		if ((os != NULL && os[0] != '\0') || (arch != NULL && arch[0] != '\0'))
			platform_add(platforms, arch, os,
				     json_string_value(json_object_get(cfg, "variant")));
		json_decref(cfg);
	}
	talk_finish(t, json_incref(t->result), NULL);
}

static void inspect_manifest_done(struct shoal_registry_req *rq, struct shoal_http_call *call,
				  int status, const char *body, size_t len,
				  const struct shoal_registry_error *err, void *ctx)
{
	struct talk *t = ctx;
	struct shoal_registry_manifest m;
	struct shoal_registry_error e;
	struct shoal_err perr;
	json_t *desc, *platforms;
	size_t i;

	(void)rq;
	if (err != NULL) {
		inspect_fail(t, err);
		return;
	}
	if (status < 200 || status >= 300) {
		shoal_registry__error_from_response(
			status, body, len, shoal_http_call_header(call, "WWW-Authenticate"), &e);
		inspect_fail(t, &e);
		return;
	}
	if (shoal_registry__manifest_parse(body, len, shoal_http_call_header(call, "Content-Type"),
					   &m, &perr) < 0) {
		memset(&e, 0, sizeof(e));
		e.err = perr;
		inspect_fail(t, &e);
		return;
	}
	desc = json_object_get(t->result, "Descriptor");
	json_object_set_new(desc, "mediaType", json_string(m.media_type));
	if (json_integer_value(json_object_get(desc, "size")) == 0)
		json_object_set_new(desc, "size", json_integer((json_int_t)len));
	platforms = json_object_get(t->result, "Platforms");
	if (m.is_list) {
		for (i = 0; i < m.nitems; i++)
			platform_add(platforms, m.items[i].arch, m.items[i].os, m.items[i].variant);
		shoal_registry__manifest_fini(&m);
		talk_finish(t, json_incref(t->result), NULL);
		return;
	}
	{
		struct shoal_registry_req_opts o;
		char *url = shoal_registry__url(t->sess, "blobs/%s", m.config.digest);

		memset(&o, 0, sizeof(o));
		o.method = "GET";
		o.url = url;
		o.max_redirects = 10;
		shoal_registry__manifest_fini(&m);
		if (shoal_registry__request(t->sess, &o, inspect_config_done, t, &e) == NULL)
			talk_finish(t, json_incref(t->result), NULL);
		free(url);
	}
}

static void inspect_get_manifest(struct talk *t, const char *digest)
{
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	const char *headers[] = { MANIFEST_ACCEPT, NULL };
	char *url = shoal_registry__url(t->sess, "manifests/%s", digest);

	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.url = url;
	o.headers = headers;
	if (shoal_registry__request(t->sess, &o, inspect_manifest_done, t, &e) == NULL)
		inspect_fail(t, &e);
	free(url);
}

/* distribution's tags.Get: HEAD, and a GET when the HEAD gives no digest or failed. */
static void inspect_tag_done(struct shoal_registry_req *rq, struct shoal_http_call *call,
			     int status, const char *body, size_t len,
			     const struct shoal_registry_error *err, void *ctx)
{
	struct talk *t = ctx;
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	const char *headers[] = { MANIFEST_ACCEPT, NULL };
	const char *d, *ct, *cl;
	char *url;

	(void)rq;
	if (err != NULL) {
		inspect_fail(t, err);
		return;
	}
	d = shoal_http_call_header(call, "Docker-Content-Digest");
	if (status >= 200 && status < 400 && d != NULL) {
		json_t *desc = json_object_get(t->result, "Descriptor");

		ct = shoal_http_call_header(call, "Content-Type");
		cl = shoal_http_call_header(call, "Content-Length");
		json_object_set_new(desc, "mediaType", json_string(ct != NULL ? ct : ""));
		json_object_set_new(desc, "digest", json_string(d));
		json_object_set_new(desc, "size",
				    json_integer(cl != NULL ? strtoll(cl, NULL, 10) : 0));
		inspect_get_manifest(t, d);
		return;
	}
	if (t->tag_get) {
		shoal_registry__error_from_response(
			status, body, len, shoal_http_call_header(call, "WWW-Authenticate"), &e);
		inspect_fail(t, &e);
		return;
	}
	t->tag_get = true;
	url = shoal_registry__url(t->sess, "manifests/%s", t->ref.tag);
	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.url = url;
	o.headers = headers;
	if (shoal_registry__request(t->sess, &o, inspect_tag_done, t, &e) == NULL)
		inspect_fail(t, &e);
	free(url);
}

static void inspect_ping_done(struct shoal_registry_req *rq, struct shoal_http_call *call,
			      int status, const char *body, size_t len,
			      const struct shoal_registry_error *err, void *ctx)
{
	struct talk *t = ctx;
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	const char *headers[] = { MANIFEST_ACCEPT, NULL };
	char *url;

	(void)rq;
	(void)call;
	(void)status;
	(void)body;
	(void)len;
	if (err != NULL) {
		/* dockerd's GetRepository: the next endpoint, else the last error */
		if (t->ep + 1 < t->neps) {
			shoal_registry__session_free(t->sess);
			t->sess = NULL;
			t->ep++;
			inspect_try(t);
			return;
		}
		inspect_fail(t, err);
		return;
	}
	if (t->ref.digest[0] != '\0') {
		json_object_set_new(json_object_get(t->result, "Descriptor"), "digest",
				    json_string(t->ref.digest));
		inspect_get_manifest(t, t->ref.digest);
		return;
	}
	url = shoal_registry__url(t->sess, "manifests/%s", t->ref.tag);
	memset(&o, 0, sizeof(o));
	o.method = "HEAD";
	o.url = url;
	o.headers = headers;
	if (shoal_registry__request(t->sess, &o, inspect_tag_done, t, &e) == NULL)
		inspect_fail(t, &e);
	free(url);
}

static void inspect_try(struct talk *t)
{
	struct shoal_registry_error e;

	t->sess = shoal_registry__session_new(t->op.r, t->eps[t->ep].url, t->ref.path, "pull",
					      &t->auth);
	if (shoal_registry__session_ping(t->sess, inspect_ping_done, t, &e) < 0)
		inspect_fail(t, &e);
}

static void inspect_start(uv_timer_t *timer)
{
	uv_close((uv_handle_t *)timer, start_closed);
	inspect_try(timer->data);
}

struct shoal_registry_op *shoal_registry_inspect(struct shoal_registry *r, const char *name,
						 const struct shoal_registry_auth *auth,
						 shoal_registry_json_cb done, void *ctx,
						 struct shoal_err *err)
{
	struct shoal_ref ref;
	struct talk *t;

	if (r->closing) {
		shoal_errorf(err, 503, "the daemon is shutting down");
		return NULL;
	}
	if (shoal_ref_is_id_prefix(name) && strlen(name) >= 64)
		return shoal_errorf(err, 500, "no manifest found for full image ID"), NULL;
	if (shoal_ref_parse(name, &ref, err) < 0)
		return NULL;
	t = talk_new(r, auth, done, ctx, inspect_start);
	t->ref = ref;
	t->result = json_pack("{s:{s:s, s:s, s:i}, s:[]}", "Descriptor", "mediaType", "", "digest",
			      "", "size", 0, "Platforms");
	shoal_registry__endpoints(r, ref.domain, false, &t->eps, &t->neps);
	return &t->op;
}
