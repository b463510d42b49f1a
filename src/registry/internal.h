/* Inside src/registry: the wire formats (pure, unit tested) and the pieces the pull, push
 * and login state machines share. Pure functions may run on any thread; the rest is loop
 * thread only. */
#ifndef SHOAL_REGISTRY_INTERNAL_H
#define SHOAL_REGISTRY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"
#include "base/list.h"
#include "http/client.h"
#include "registry/registry.h"

#define SHOAL_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define SHOAL_MT_DOCKER_LIST	 "application/vnd.docker.distribution.manifest.list.v2+json"
#define SHOAL_MT_DOCKER_SCHEMA1	 "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define SHOAL_MT_DOCKER_CONFIG	 "application/vnd.docker.container.image.v1+json"
#define SHOAL_MT_DOCKER_LAYER	 "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define SHOAL_MT_OCI_MANIFEST	 "application/vnd.oci.image.manifest.v1+json"
#define SHOAL_MT_OCI_INDEX	 "application/vnd.oci.image.index.v1+json"

/* Manifests, configs and token answers are small; a bigger one is refused. */
#define SHOAL_REGISTRY_META_MAX (4 * 1024 * 1024)

/* ---- errors (errors.c) ---- */

enum shoal_registry_err_kind {
	SHOAL_REGISTRY_ERR_OTHER,
	SHOAL_REGISTRY_ERR_TRANSPORT, /* no answer: refused, reset, timed out, TLS */
	SHOAL_REGISTRY_ERR_CODE,      /* the registry's {"errors": [...]} */
	SHOAL_REGISTRY_ERR_HTTP,      /* an answer that was not one */
};

/* A failure as distribution's client reports it. err.msg is Docker's Error() text
 * ("manifest unknown: manifest unknown"), err.status the HTTP status dockerd's API gives
 * for it when nothing translates it (the error code's own, else 500). */
struct shoal_registry_error {
	struct shoal_err err;
	enum shoal_registry_err_kind kind;
	char code[40]; /* "MANIFEST_UNKNOWN" for ERR_CODE */
	bool fallback; /* another endpoint may be tried (dockerd's fallbackError) */
};

/* distribution's HandleErrorResponse: a 4xx/5xx answer into an error. www_authenticate
 * (may be NULL) holds a bearer challenge's error="invalid_token"/"insufficient_scope". */
void shoal_registry__error_from_response(int status, const char *body, size_t len,
					 const char *www_authenticate,
					 struct shoal_registry_error *out);
/* The lower-case text of an error code ("manifest unknown"), its default message and its
 * HTTP status, as distribution's errcode table has them. */
void shoal_registry__code_describe(const char *code, const char **text, const char **message,
				   int *status);
/* dockerd's TranslatePullError: DENIED, MANIFEST_UNKNOWN and NAME_UNKNOWN become 404s
 * naming the image ("pull access denied for x, repository does not exist or may require
 * 'docker login': denied: ..."); the rest stays a 500 with its own text. fam_ref is
 * FamiliarString(ref), fam_name FamiliarName(ref). */
void shoal_registry__translate_pull(const struct shoal_registry_error *e, const char *fam_ref,
				    const char *fam_name, struct shoal_err *out);

/* ---- authentication (auth.c) ---- */

struct shoal_registry_challenge {
	char scheme[16]; /* "basic", "bearer" (lower case), "" when none */
	char realm[512];
	char service[256];
	char scope[256];
	char error[64];
	char error_description[256];
};

/* Parses one WWW-Authenticate value (RFC 7235: a scheme, then key=value or key="quoted
 * value" pairs). Returns 0, or -1 when no scheme can be read. */
int shoal_registry__challenge_parse(const char *header, struct shoal_registry_challenge *c);

/* ---- manifests (manifest.c) ---- */

struct shoal_registry_desc {
	char media_type[128];
	char digest[72];
	int64_t size;
	/* a list entry's platform */
	char os[32];
	char arch[32];
	char variant[32];
	bool foreign; /* has "urls": a layer the registry does not serve */
};

struct shoal_registry_manifest {
	char media_type[128];
	bool is_list; /* a manifest list or OCI index: entries; else config and layers */
	struct shoal_registry_desc config;
	struct shoal_registry_desc *items; /* layers (base first) or list entries */
	size_t nitems;
};

/* Parses a manifest as distribution's UnmarshalManifest does: the type comes from
 * content_type (parameters ignored), else from the body's mediaType, else from its shape.
 * Docker schema 2, OCI image manifest, manifest list, OCI index. 400-class errors with
 * dockerd's texts ("unsupported manifest format", "unsupported media type x"). */
int shoal_registry__manifest_parse(const char *data, size_t len, const char *content_type,
				   struct shoal_registry_manifest *m,
				   struct shoal_err *err) SHOAL_MUST_CHECK;
void shoal_registry__manifest_fini(struct shoal_registry_manifest *m);
/* The first entry of a list for os/arch (containerd's matcher on a normalized platform:
 * "x86_64" is "amd64", "aarch64" is "arm64"; an amd64 entry has no variant). Returns its
 * index, or -1 with "no matching manifest for linux/amd64 in the manifest list entries". */
int shoal_registry__manifest_select(const struct shoal_registry_manifest *list, const char *os,
				    const char *arch, struct shoal_err *err);
/* Whether dockerd accepts a layer or config media type (its supportedMediaTypes). */
bool shoal_registry__media_type_ok(const char *mt);

/* ---- progress messages (progress.c) ---- */

/* go-units HumanSize: "12.35kB", "2.812MB", "500B". */
void shoal_registry__human_size(double size, char *out, size_t n);
/* JSONProgress.String() at dockerd's width: "[==>   ]  1.2MB/5.6MB". */
void shoal_registry__progress_bar(int64_t current, int64_t total, char *out, size_t n);
/* {"status": status, "id": id} (id omitted when NULL or ""): progress.Message. */
json_t *shoal_registry__msg_status(const char *id, const char *status);
/* {"status", "progressDetail": {current, total}, "progress", "id"}: progress.Update and
 * the progress readers. current and total 0 give an empty progressDetail. */
json_t *shoal_registry__msg_progress(const char *id, const char *action, int64_t current,
				     int64_t total);
/* {"errorDetail": {"message"}, "error"}. */
json_t *shoal_registry__msg_error(const char *message);
/* Encodes a message as Go's json.Encoder does (<, > and & escaped), "\r\n"-terminated.
 * New string. */
char *shoal_registry__msg_line(const json_t *msg);

/* ---- settings and endpoints (config.c) ---- */

struct shoal_registry_endpoint {
	char *url; /* "https://host:port", no trailing slash */
	bool mirror;
	bool official;
};

/* Whether host[:port] may be reached over plain HTTP: listed as insecure by name, or an
 * address in an insecure CIDR (127.0.0.0/8 always). Names are not resolved: "localhost"
 * counts as loopback. */
bool shoal_registry__insecure(const struct shoal_registry *r, const char *hostport);
/* dockerd's lookupV2Endpoints: mirrors then Docker Hub for docker.io, else https and,
 * for an insecure registry, http. push leaves mirrors out. */
void shoal_registry__endpoints(const struct shoal_registry *r, const char *domain, bool push,
			       struct shoal_registry_endpoint **out, size_t *n);
void shoal_registry__endpoints_free(struct shoal_registry_endpoint *v, size_t n);

/* ---- sessions (session.c) ---- */

/* A repository on one endpoint, with its credentials and what the registry asked for
 * (basic or bearer); bearer tokens are fetched once for the scope and reused. */
struct shoal_registry_session;
struct shoal_registry_req;

struct shoal_registry_req_opts {
	const char *method;
	const char *url; /* absolute */
	const char *const *headers;
	const void *body;
	size_t body_len;
	unsigned max_redirects;
	/* streamed body (blobs); NULL: buffered up to SHOAL_REGISTRY_META_MAX */
	shoal_http_call_head_cb on_head;
	shoal_http_call_data_cb on_data;
	unsigned stall_timeout_ms;
	unsigned timeout_ms;
};

/* The request's answer: status and body for any HTTP answer (err NULL), or err for a
 * transport failure, or a failure to authenticate. call is valid for header lookups. */
typedef void (*shoal_registry_req_cb)(struct shoal_registry_req *rq, struct shoal_http_call *call,
				      int status, const char *body, size_t len,
				      const struct shoal_registry_error *err, void *ctx);

struct shoal_registry_session *shoal_registry__session_new(struct shoal_registry *r,
							   const char *base_url, const char *repo,
							   const char *actions,
							   const struct shoal_registry_auth *auth);
/* Cancels its requests (no callbacks) and frees it. */
void shoal_registry__session_free(struct shoal_registry_session *s);
/* GET /v2/: notes the challenge. cb gets err for a failure to reach the registry. */
int shoal_registry__session_ping(struct shoal_registry_session *s, shoal_registry_req_cb cb,
				 void *ctx, struct shoal_registry_error *err) SHOAL_MUST_CHECK;
/* Sends a request with the credentials the challenge asks for (a token fetched first if
 * needed). Returns NULL with err set (no basic credentials for a basic challenge, a token
 * that could not be had, a bad URL); else cb is called once, later. cb must not cancel
 * its own request. */
struct shoal_registry_req *shoal_registry__request(struct shoal_registry_session *s,
						   const struct shoal_registry_req_opts *o,
						   shoal_registry_req_cb cb, void *ctx,
						   struct shoal_registry_error *err);
/* Pauses or resumes a streamed request's body. */
void shoal_registry__req_pause(struct shoal_registry_req *rq, bool pause);
/* Ends a request; its callback is not called. */
void shoal_registry__req_cancel(struct shoal_registry_req *rq);
/* "http://host/v2/<repo>/<what>" */
char *shoal_registry__url(const struct shoal_registry_session *s, const char *fmt, ...)
	SHOAL_PRINTF(2, 3);
/* Go's url.Error prefix for a request: "Head \"http://...\"". */
void shoal_registry__url_error(struct shoal_registry_error *e, const char *method, const char *url,
			       const char *fmt, ...) SHOAL_PRINTF(4, 5);
/* The registry's Location header, made absolute against the session's base. New string. */
char *shoal_registry__location(const struct shoal_registry_session *s,
			       struct shoal_http_call *call);

/* ---- the service (registry.c) ---- */

/* Checks and keeps cfg's settings in r (config.c). */
int shoal_registry__config_load(struct shoal_registry *r, const struct shoal_registry_config *cfg,
				struct shoal_err *err) SHOAL_MUST_CHECK;

struct shoal_registry_op;

struct shoal_registry {
	uv_loop_t *loop;
	struct shoal_engine *engine;
	struct shoal_http_client *http;
	char **mirrors; /* normalized: "http://127.0.0.1:5000/" */
	size_t nmirrors;
	char **insecure_names; /* "host:port" */
	size_t ninsecure_names;
	char **insecure_cidrs; /* "127.0.0.0/8" first */
	size_t ninsecure_cidrs;
	char *hub_url;
	int max_downloads;
	int max_uploads;
	int max_download_attempts;
	struct shoal_list ops;
	bool closing;
	void (*close_cb)(void *ctx);
	void *close_ctx;
};

/* What every operation shares: its place in r->ops and its end. */
struct shoal_registry_op {
	struct shoal_list link;
	struct shoal_registry *r;
	bool started; /* a progress message went out */
	bool cancelled;
	/* the operation's own teardown: stops its calls; it frees itself when its pool jobs
	 * are back (shoal_registry__op_release) */
	void (*cancel)(struct shoal_registry_op *op);
	int pending; /* pool jobs and timers still to come back */
	void (*destroy)(struct shoal_registry_op *op);
	/* optional: the client left but others wait on this op; returns true to go on
	 * without calling anyone back (a pull that tasks joined) */
	bool (*detach)(struct shoal_registry_op *op);
	shoal_registry_progress_cb progress;
	void *ctx;
};

void shoal_registry__op_add(struct shoal_registry *r, struct shoal_registry_op *op);
/* Sends a progress message (takes msg) unless cancelled. */
void shoal_registry__op_emit(struct shoal_registry_op *op, json_t *msg);
/* The operation is finished (done called or cancelled): unlinks it, and destroys it
 * once nothing of it is pending. */
void shoal_registry__op_finish(struct shoal_registry_op *op);
/* A pool job or timer of op came back: destroys a finished op with nothing pending. */
void shoal_registry__op_unpend(struct shoal_registry_op *op);

#endif
