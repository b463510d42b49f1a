/* Pushing an image, as dockerd's distribution/push_v2.go does it: for each tag of the
 * repository (or the one asked for), each layer is skipped when this push sent it
 * already or the registry has it ("Layer already exists", checked with HEAD for a blob
 * digest the layer was seen as), mounted from another repository of the same registry
 * when one is known to hold it ("Mounted from x"), or compressed with gzip on the thread
 * pool and uploaded: one PUT for a small blob, PATCH chunks then a PUT for a big one.
 * Then the config blob, and the Docker schema 2 manifest under the tag. At most
 * max_uploads layers at once, of which two compress at a time so the thread pool keeps
 * room for the file system. Loop thread only. */
#include "registry/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/engine.h"
#include "engine/internal.h"

#define SHOAL_LOG_MODULE "registry"

#define CHUNK_MAX	    (8 * 1024 * 1024) /* a blob bigger than this goes in PATCH chunks */
#define MAX_COMPRESSING	    2
#define PROGRESS_MS	    100
#define SMALL_LAYER	    (100 * 1024)
#define MIDDLE_LAYER	    (10 * 1024 * 1024)
#define UPLOAD_TIMEOUT_MS   (10 * 60 * 1000)
#define MAX_UPLOAD_ATTEMPTS 5 /* dockerd's, with 5 s more to wait after each */

enum pl_state {
	PL_WAITING,
	PL_QUEUED,   /* to be compressed, waiting for a compressor */
	PL_CHECKING, /* HEAD for a known digest */
	PL_MOUNTING,
	PL_COMPRESSING,
	PL_UPLOADING,
	PL_RETRY, /* counting down to another attempt */
	PL_DONE,
};

struct push;

struct player {
	struct push *p;
	char diff_id[72];
	char chain_id[72];
	char id[13];
	int64_t size;
	enum pl_state state;
	/* candidates from the v2 metadata: [{"Digest", "SourceRepository"}] */
	json_t *checks;
	json_t *mounts;
	size_t next_check, next_mount;
	char digest[72]; /* the blob's, once known */
	int64_t blob_size;
	char *blob_path;
	char *location; /* the upload's URL */
	int64_t nread;	/* compression progress, written on the pool */
	int64_t last_nread;
	int fd;
	int64_t offset;
	uv_fs_t fs;
	char *chunk;
	size_t chunk_len;
	bool reading;
	struct shoal_registry_req *req;
	int retries;
	int countdown;	   /* seconds left before the next attempt */
	uint64_t next_sec; /* uv_now() of the next countdown step */
};

struct push {
	struct shoal_registry_op op;
	shoal_registry_done_cb done;
	struct shoal_registry_auth auth;
	struct shoal_ref ref; /* domain and path */
	char repo_full[600];  /* "127.0.0.1:5000/vote" */
	char fam_name[600];
	json_t *tags; /* the tags to push, in order */
	size_t next_tag;
	char tag[129];
	char image_id[72];
	struct shoal_registry_endpoint *eps;
	size_t neps, ep;
	struct shoal_registry_session *sess;
	struct shoal_registry_req *req;
	struct player *layers; /* base first */
	size_t nlayers;
	int active;
	int compressing;
	json_t *remote; /* diff ID -> {"digest", "size"} sent or found in this push */
	char *config;
	size_t config_len;
	char config_digest[72];
	uv_timer_t timer;
	bool timer_running;
	bool failed;
};

static void push_schedule(struct push *p);
static void layer_next_step(struct player *l);
static void tag_start(struct push *p);
static void try_endpoint(struct push *p);

/* ---- the end ---- */

static void layer_tidy(struct push *p, struct player *l)
{
	if (l->req != NULL)
		shoal_registry__req_cancel(l->req);
	l->req = NULL;
	if (l->reading || l->state == PL_COMPRESSING)
		return; /* the job's callback tidies */
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->blob_path != NULL)
		unlink(l->blob_path);
	free(l->blob_path);
	l->blob_path = NULL;
	free(l->chunk);
	l->chunk = NULL;
	free(l->location);
	l->location = NULL;
	json_decref(l->checks);
	json_decref(l->mounts);
	l->checks = l->mounts = NULL;
	(void)p;
}

static bool layers_busy(struct push *p)
{
	size_t i;

	for (i = 0; i < p->nlayers; i++)
		if (p->layers[i].reading || p->layers[i].state == PL_COMPRESSING)
			return true;
	return false;
}

static void layers_drop(struct push *p)
{
	struct shoal_engine *e = p->op.r->engine;
	size_t i;

	for (i = 0; i < p->nlayers; i++) {
		layer_tidy(p, &p->layers[i]);
		shoal_engine_layer_release(e, p->layers[i].chain_id);
	}
	free(p->layers);
	p->layers = NULL;
	p->nlayers = 0;
	p->active = 0;
	p->compressing = 0;
}

static void endpoint_reset(struct push *p)
{
	size_t i;

	for (i = 0; i < p->nlayers; i++)
		layer_tidy(p, &p->layers[i]);
	shoal_registry__session_free(p->sess);
	p->sess = NULL;
	p->req = NULL;
	if (p->timer_running)
		uv_timer_stop(&p->timer);
	p->timer_running = false;
}

static void timer_closed(uv_handle_t *h)
{
	struct push *p = h->data;

	shoal_registry__op_unpend(&p->op);
}

static void push_cancel(struct shoal_registry_op *op)
{
	struct push *p = container_of(op, struct push, op);

	endpoint_reset(p);
	uv_close((uv_handle_t *)&p->timer, timer_closed);
}

static void push_destroy(struct shoal_registry_op *op)
{
	struct push *p = container_of(op, struct push, op);

	endpoint_reset(p);
	layers_drop(p);
	shoal_registry_auth_fini(&p->auth);
	shoal_registry__endpoints_free(p->eps, p->neps);
	json_decref(p->tags);
	json_decref(p->remote);
	free(p->config);
	free(p);
}

static void push_finish(struct push *p, const struct shoal_err *err)
{
	shoal_registry_done_cb done = p->done;
	void *ctx = p->op.ctx;

	if (p->failed || p->op.cancelled)
		return;
	p->failed = true;
	endpoint_reset(p);
	uv_close((uv_handle_t *)&p->timer, timer_closed);
	if (err != NULL)
		shoal_log_info("push failed", "repository=%s error=%s", shoal_log_q(p->repo_full),
			       shoal_log_q(err->msg));
	done(ctx, err);
	shoal_registry__op_finish(&p->op);
}

static void emit(struct push *p, json_t *msg)
{
	shoal_registry__op_emit(&p->op, msg);
}

/* An endpoint failed: the next one, or the end. */
static void push_failed(struct push *p, const struct shoal_registry_error *e)
{
	struct shoal_err out;

	if (e->fallback && p->ep + 1 < p->neps) {
		shoal_log_info("Attempting next endpoint for push after error", "error=%s",
			       shoal_log_q(e->err.msg));
		endpoint_reset(p);
		p->ep++;
		push_schedule(p);
		return;
	}
	out = e->err;
	out.status = 500;
	push_finish(p, &out);
}

/* A layer's upload failed as dockerd reports it: url.Errors about credentials lose their
 * URL (retryOnError unwraps them). */
/* dockerd's retryOnError: a hiccup of the network or the registry is worth another
 * attempt, a refusal is not. */
static bool retryable(const struct shoal_registry_error *e)
{
	static const char *const final[] = { "UNAUTHORIZED", "DENIED", "UNSUPPORTED",
					     "TOOMANYREQUESTS", "NAME_UNKNOWN" };
	size_t i;

	if (e->kind == SHOAL_REGISTRY_ERR_TRANSPORT)
		return true;
	if (e->kind != SHOAL_REGISTRY_ERR_CODE)
		return false;
	for (i = 0; i < sizeof(final) / sizeof(final[0]); i++)
		if (strcmp(e->code, final[i]) == 0)
			return false;
	return true;
}

static void emit_retrying(struct player *l)
{
	char text[64];

	snprintf(text, sizeof(text), "Retrying in %d second%s", l->countdown,
		 l->countdown != 1 ? "s" : "");
	shoal_registry__op_emit(&l->p->op, shoal_registry__msg_progress(l->id, text, 0, 0));
}

static void layer_failed(struct player *l, const struct shoal_registry_error *e)
{
	struct push *p = l->p;
	struct shoal_registry_error w = *e;
	const char *nb = strstr(w.err.msg, ": no basic auth credentials");

	if (retryable(e) && l->retries + 1 < MAX_UPLOAD_ATTEMPTS && !p->failed &&
	    !p->op.cancelled && p->sess != NULL) {
		/* the upload starts over after a wait that grows; the layer keeps its slot */
		l->retries++;
		shoal_log_error("Upload failed, retrying", "layer=%s attempt=%d error=%s", l->id,
				l->retries, shoal_log_q(e->err.msg));
		layer_tidy(p, l);
		l->state = PL_RETRY;
		l->countdown = l->retries * 5;
		l->next_sec = uv_now(p->op.r->loop) + 1000;
		emit_retrying(l);
		push_schedule(p);
		return;
	}

	if (nb != NULL && nb[strlen(": no basic auth credentials")] == '\0')
		snprintf(w.err.msg, sizeof(w.err.msg), "no basic auth credentials");
	w.fallback = false;
	l->p->active--;
	push_failed(l->p, &w);
}

/* ---- uploads ---- */

static void layer_done(struct player *l, const char *status)
{
	struct push *p = l->p;
	struct shoal_engine *e = p->op.r->engine;

	if (status != NULL)
		emit(p, shoal_registry__msg_progress(l->id, status, 0, 0));
	json_object_set_new(
		p->remote, l->diff_id,
		json_pack("{s:s, s:I}", "digest", l->digest, "size", (json_int_t)l->blob_size));
	shoal_engine_blob_note(e, l->diff_id, l->digest, p->repo_full);
	layer_tidy(p, l);
	l->state = PL_DONE;
	p->active--;
	push_schedule(p);
}

static void put_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
		     const char *body, size_t len, const struct shoal_registry_error *err,
		     void *ctx)
{
	struct player *l = ctx;
	struct shoal_registry_error e;

	(void)rq;
	l->req = NULL;
	if (err != NULL) {
		layer_failed(l, err);
		return;
	}
	if (status != 201 && status != 204 && status != 200) {
		shoal_registry__error_from_response(
			status, body, len, shoal_http_call_header(call, "WWW-Authenticate"), &e);
		layer_failed(l, &e);
		return;
	}
	emit(l->p, shoal_registry__msg_progress(l->id, "Pushing", l->size, l->size));
	layer_done(l, "Pushed");
}

static char *with_digest(const char *location, const char *digest)
{
	return shoal_asprintf("%s%sdigest=%s", location, strchr(location, '?') ? "&" : "?", digest);
}

static void send_put(struct player *l, const char *body, size_t len)
{
	struct push *p = l->p;
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	const char *headers[] = { "Content-Type: application/octet-stream", NULL };
	char *url = with_digest(l->location, l->digest);

	memset(&o, 0, sizeof(o));
	o.method = "PUT";
	o.url = url;
	o.headers = headers;
	o.body = body != NULL ? body : "";
	o.body_len = len;
	o.timeout_ms = UPLOAD_TIMEOUT_MS;
	l->req = shoal_registry__request(p->sess, &o, put_done, l, &e);
	free(url);
	if (l->req == NULL)
		layer_failed(l, &e);
}

static void read_chunk(struct player *l);

static void patch_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
		       const char *body, size_t len, const struct shoal_registry_error *err,
		       void *ctx)
{
	struct player *l = ctx;
	struct shoal_registry_error e;
	char *loc;

	(void)rq;
	l->req = NULL;
	if (err != NULL) {
		layer_failed(l, err);
		return;
	}
	if (status != 202 && status != 204) {
		shoal_registry__error_from_response(
			status, body, len, shoal_http_call_header(call, "WWW-Authenticate"), &e);
		layer_failed(l, &e);
		return;
	}
	loc = shoal_registry__location(l->p->sess, call);
	if (loc != NULL) {
		free(l->location);
		l->location = loc;
	}
	read_chunk(l);
}

static void chunk_read(uv_fs_t *fs)
{
	struct player *l = container_of(fs, struct player, fs);
	struct push *p = l->p;
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	ssize_t n = fs->result;
	const char *headers[3] = { "Content-Type: application/octet-stream", NULL, NULL };
	char range[80];

	uv_fs_req_cleanup(fs);
	l->reading = false;
	if (p->failed || p->op.cancelled || p->sess == NULL) {
		bool alive = !p->failed && !p->op.cancelled;

		layer_tidy(p, l);
		shoal_registry__op_unpend(&p->op); /* p may be gone now, unless alive */
		if (alive)
			push_schedule(p);
		return;
	}
	shoal_registry__op_unpend(&p->op);
	if (n < 0) {
		memset(&e, 0, sizeof(e));
		shoal_errorf(&e.err, 500, "read %s: %s", l->blob_path, uv_strerror((int)n));
		layer_failed(l, &e);
		return;
	}
	if (n == 0) {
		/* every chunk is in: the PUT closes the upload */
		send_put(l, NULL, 0);
		return;
	}
	snprintf(range, sizeof(range), "Content-Range: %lld-%lld", (long long)l->offset,
		 (long long)(l->offset + n - 1));
	headers[1] = range;
	l->offset += n;
	memset(&o, 0, sizeof(o));
	o.method = "PATCH";
	o.url = l->location;
	o.headers = headers;
	o.body = l->chunk;
	o.body_len = (size_t)n;
	o.timeout_ms = UPLOAD_TIMEOUT_MS;
	l->req = shoal_registry__request(p->sess, &o, patch_done, l, &e);
	if (l->req == NULL)
		layer_failed(l, &e);
}

/* The next piece of the compressed blob, read on the pool. */
static void read_chunk(struct player *l)
{
	struct push *p = l->p;
	uv_buf_t b;

	if (l->chunk == NULL)
		l->chunk = shoal_malloc(CHUNK_MAX);
	b = uv_buf_init(l->chunk, CHUNK_MAX);
	l->reading = true;
	p->op.pending++;
	if (uv_fs_read(p->op.r->loop, &l->fs, l->fd, &b, 1, l->offset, chunk_read) < 0) {
		struct shoal_registry_error e;

		l->reading = false;
		p->op.pending--;
		memset(&e, 0, sizeof(e));
		shoal_errorf(&e.err, 500, "read %s", l->blob_path);
		layer_failed(l, &e);
	}
}

static void upload_begin(struct player *l)
{
	l->fd = open(l->blob_path, O_RDONLY | O_CLOEXEC);
	if (l->fd < 0) {
		struct shoal_registry_error e;

		memset(&e, 0, sizeof(e));
		shoal_errorf_sys(&e.err, 500, errno, "open %s: %s", l->blob_path, strerror(errno));
		layer_failed(l, &e);
		return;
	}
	l->offset = 0;
	l->state = PL_UPLOADING;
	read_chunk(l);
}

static void post_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
		      const char *body, size_t len, const struct shoal_registry_error *err,
		      void *ctx)
{
	struct player *l = ctx;
	struct shoal_registry_error e;

	(void)rq;
	l->req = NULL;
	if (err != NULL) {
		layer_failed(l, err);
		return;
	}
	if (status != 202) {
		shoal_registry__error_from_response(
			status, body, len, shoal_http_call_header(call, "WWW-Authenticate"), &e);
		layer_failed(l, &e);
		return;
	}
	l->location = shoal_registry__location(l->p->sess, call);
	if (l->location == NULL) {
		memset(&e, 0, sizeof(e));
		shoal_errorf(&e.err, 500, "registry gave no upload location");
		layer_failed(l, &e);
		return;
	}
	if (l->blob_path != NULL)
		upload_begin(l);
	/* else the compression is still running: its end goes on */
}

static void upload_post(struct player *l)
{
	struct push *p = l->p;
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	char *url = shoal_registry__url(p->sess, "blobs/uploads/");

	memset(&o, 0, sizeof(o));
	o.method = "POST";
	o.url = url;
	o.body = "";
	l->req = shoal_registry__request(p->sess, &o, post_done, l, &e);
	free(url);
	if (l->req == NULL)
		layer_failed(l, &e);
}

static void compressed(void *ctx, const char *path, const char *digest, int64_t size,
		       const struct shoal_err *err)
{
	struct player *l = ctx;
	struct push *p = l->p;
	bool live = !p->failed && !p->op.cancelled && p->sess != NULL;

	p->compressing--;
	l->state = PL_UPLOADING;
	if (path != NULL) {
		l->blob_path = shoal_strdup(path);
		snprintf(l->digest, sizeof(l->digest), "%s", digest);
		l->blob_size = size;
	}
	if (!live) {
		bool alive = !p->failed && !p->op.cancelled;

		layer_tidy(p, l);
		/* p may be gone after this unless it is alive */
		shoal_registry__op_unpend(&p->op);
		if (alive)
			push_schedule(p);
		return;
	}
	shoal_registry__op_unpend(&p->op);
	if (err != NULL) {
		struct shoal_registry_error e;

		memset(&e, 0, sizeof(e));
		e.err = *err;
		layer_failed(l, &e);
		return;
	}
	emit(p, shoal_registry__msg_progress(l->id, "Pushing", l->size, l->size));
	if (l->location != NULL)
		upload_begin(l); /* a mount attempt left an upload open */
	else
		upload_post(l);
	push_schedule(p);
}

static void random_hex(char *out, size_t nbytes)
{
	unsigned char r[16];
	size_t i;

	if (getrandom(r, nbytes, 0) != (ssize_t)nbytes)
		for (i = 0; i < nbytes; i++)
			r[i] = (unsigned char)rand();
	for (i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

static void compress_start(struct player *l)
{
	struct push *p = l->p;
	struct shoal_err err;
	char hex[33];
	char *dst;

	random_hex(hex, 16);
	dst = shoal_asprintf("%s/push-%s.gz", p->op.r->engine->tmp_root, hex);
	l->state = PL_COMPRESSING;
	l->nread = 0;
	l->last_nread = 0;
	if (shoal_engine_layer_compress(p->op.r->engine, l->chain_id, dst, &l->nread, compressed, l,
					&err) < 0) {
		struct shoal_registry_error e;

		free(dst);
		l->state = PL_UPLOADING;
		memset(&e, 0, sizeof(e));
		e.err = err;
		layer_failed(l, &e);
		return;
	}
	free(dst);
	p->compressing++;
	p->op.pending++;
}

/* ---- mounts and existence checks ---- */

static void stat_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
		      const char *body, size_t len, const struct shoal_registry_error *err,
		      void *ctx)
{
	struct player *l = ctx;
	const char *cl;

	(void)rq;
	(void)body;
	(void)len;
	l->req = NULL;
	if (err == NULL && status == 200) {
		cl = shoal_http_call_header(call, "Content-Length");
		l->blob_size = cl != NULL ? strtoll(cl, NULL, 10) : 0;
		layer_done(l, l->state == PL_MOUNTING ? NULL : "Layer already exists");
		return;
	}
	if (err == NULL && status == 404 && l->state == PL_CHECKING) {
		const json_t *m = json_array_get(l->checks, l->next_check - 1);
		const char *src = json_string_value(json_object_get(m, "SourceRepository"));

		/* the target forgot it: so does the metadata */
		if (src != NULL && strcmp(src, l->p->repo_full) == 0)
			shoal_engine_blob_forget(l->p->op.r->engine, l->diff_id, l->digest, src);
	}
	l->digest[0] = '\0';
	layer_next_step(l);
}

static void blob_stat(struct player *l, const char *digest)
{
	struct push *p = l->p;
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	char *url = shoal_registry__url(p->sess, "blobs/%s", digest);

	if (digest != l->digest)
		snprintf(l->digest, sizeof(l->digest), "%s", digest);
	memset(&o, 0, sizeof(o));
	o.method = "HEAD";
	o.url = url;
	l->req = shoal_registry__request(p->sess, &o, stat_done, l, &e);
	free(url);
	if (l->req == NULL)
		layer_failed(l, &e);
}

static void mount_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
		       const char *body, size_t len, const struct shoal_registry_error *err,
		       void *ctx)
{
	struct player *l = ctx;
	const json_t *m = json_array_get(l->mounts, l->next_mount - 1);
	const char *src = json_string_value(json_object_get(m, "SourceRepository"));
	struct shoal_ref sref;
	struct shoal_err perr;

	(void)rq;
	(void)body;
	(void)len;
	l->req = NULL;
	if (err == NULL && status == 201 && shoal_ref_parse(src, &sref, &perr) == 0) {
		char msg[400];

		/* ErrBlobMounted: the registry has it in this repository now */
		snprintf(msg, sizeof(msg), "Mounted from %s", sref.path);
		emit(l->p, shoal_registry__msg_progress(l->id, msg, 0, 0));
		blob_stat(l, l->digest);
		return;
	}
	if (err == NULL && status == 202 && l->location == NULL) {
		/* no mount, but an upload session to use */
		l->location = shoal_registry__location(l->p->sess, call);
	} else if (err == NULL && src != NULL) {
		shoal_engine_blob_forget(l->p->op.r->engine, l->diff_id, l->digest, src);
	}
	l->digest[0] = '\0';
	layer_next_step(l);
}

static void blob_mount(struct player *l, const char *digest, const char *src)
{
	struct push *p = l->p;
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	struct shoal_ref sref;
	struct shoal_err perr;
	char *url;

	if (shoal_ref_parse(src, &sref, &perr) < 0) {
		layer_next_step(l);
		return;
	}
	snprintf(l->digest, sizeof(l->digest), "%s", digest);
	url = shoal_registry__url(p->sess, "blobs/uploads/?mount=%s&from=%s", digest, sref.path);
	memset(&o, 0, sizeof(o));
	o.method = "POST";
	o.url = url;
	o.body = "";
	l->req = shoal_registry__request(p->sess, &o, mount_done, l, &e);
	free(url);
	if (l->req == NULL)
		layer_failed(l, &e);
}

/* The metadata's candidates, as dockerd picks them: a check of the target repository's
 * newest digest first, then mounts from other repositories of the same registry. */
static void candidates(struct player *l)
{
	struct push *p = l->p;
	const json_t *meta = shoal_engine_blobs_of(p->op.r->engine, l->diff_id);
	int max_mounts = l->size > MIDDLE_LAYER ? 4 : l->size > SMALL_LAYER ? 3 : 1;
	size_t i;

	l->checks = json_array();
	l->mounts = json_array();
	/* newest first, the target repository's own ahead of the others */
	for (int pass = 0; pass < 2; pass++) {
		for (i = json_array_size(meta); i-- > 0;) {
			json_t *m = json_array_get(meta, i);
			const char *src = json_string_value(json_object_get(m, "SourceRepository"));
			bool own = src != NULL && strcmp(src, p->repo_full) == 0;

			if (src == NULL || own != (pass == 0))
				continue;
			if (json_array_size(l->checks) == 0)
				json_array_append(l->checks, m);
		}
	}
	for (i = json_array_size(meta); i-- > 0 && (int)json_array_size(l->mounts) < max_mounts;) {
		json_t *m = json_array_get(meta, i);
		const char *src = json_string_value(json_object_get(m, "SourceRepository"));
		struct shoal_ref sref;
		struct shoal_err perr;

		if (src == NULL || strcmp(src, p->repo_full) == 0 ||
		    shoal_ref_parse(src, &sref, &perr) < 0 ||
		    strcmp(sref.domain, p->ref.domain) != 0)
			continue;
		json_array_append(l->mounts, m);
	}
}

static void layer_next_step(struct player *l)
{
	struct push *p = l->p;

	if (l->checks == NULL)
		candidates(l);
	if (l->next_check < json_array_size(l->checks)) {
		const char *d = json_string_value(
			json_object_get(json_array_get(l->checks, l->next_check++), "Digest"));

		l->state = PL_CHECKING;
		blob_stat(l, d != NULL ? d : "");
		return;
	}
	if (l->next_mount < json_array_size(l->mounts)) {
		json_t *m = json_array_get(l->mounts, l->next_mount++);

		l->state = PL_MOUNTING;
		blob_mount(l, json_string_value(json_object_get(m, "Digest")) ?: "",
			   json_string_value(json_object_get(m, "SourceRepository")) ?: "");
		return;
	}
	/* upload it: compressing waits for a free compressor */
	l->state = PL_WAITING;
	l->next_check = l->next_mount = 0;
	json_decref(l->checks);
	json_decref(l->mounts);
	l->checks = json_array();
	l->mounts = json_array();
	if (p->compressing < MAX_COMPRESSING)
		compress_start(l);
	else
		l->state = PL_QUEUED;
}

/* ---- the manifest ---- */

static void manifest_put_done(struct shoal_registry_req *rq, struct shoal_http_call *call,
			      int status, const char *body, size_t len,
			      const struct shoal_registry_error *err, void *ctx);

static char *manifest_build(struct push *p)
{
	json_t *layers = json_array();
	json_t *m;
	char *text;
	size_t i;

	for (i = 0; i < p->nlayers; i++) {
		json_t *r = json_object_get(p->remote, p->layers[i].diff_id);

		json_array_append_new(
			layers,
			json_pack("{s:s, s:I, s:s}", "mediaType", SHOAL_MT_DOCKER_LAYER, "size",
				  json_integer_value(json_object_get(r, "size")), "digest",
				  json_string_value(json_object_get(r, "digest"))));
	}
	m = json_pack("{s:i, s:s, s:{s:s, s:I, s:s}, s:o}", "schemaVersion", 2, "mediaType",
		      SHOAL_MT_DOCKER_MANIFEST, "config", "mediaType", SHOAL_MT_DOCKER_CONFIG,
		      "size", (json_int_t)p->config_len, "digest", p->config_digest, "layers",
		      layers);
	/* Go's json.MarshalIndent(m, "", "   "), which is what the digest is of */
	text = json_dumps(m, JSON_INDENT(3));
	json_decref(m);
	return text;
}

static void manifest_put(struct push *p)
{
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	const char *headers[] = { "Content-Type: " SHOAL_MT_DOCKER_MANIFEST, NULL };
	char *text = manifest_build(p);
	char *url = shoal_registry__url(p->sess, "manifests/%s", p->tag);

	memset(&o, 0, sizeof(o));
	o.method = "PUT";
	o.url = url;
	o.headers = headers;
	o.body = text;
	o.body_len = strlen(text);
	p->req = shoal_registry__request(p->sess, &o, manifest_put_done, p, &e);
	free(url);
	free(text);
	if (p->req == NULL)
		push_failed(p, &e);
}

static void manifest_put_done(struct shoal_registry_req *rq, struct shoal_http_call *call,
			      int status, const char *body, size_t len,
			      const struct shoal_registry_error *err, void *ctx)
{
	struct push *p = ctx;
	struct shoal_engine *e = p->op.r->engine;
	struct shoal_registry_error re;
	struct shoal_err ierr;
	struct shoal_image *img;
	char digest[72], msg[300], full[700], fam[700];
	char *text;
	json_t *aux;
	size_t size;

	(void)rq;
	p->req = NULL;
	if (err != NULL) {
		push_failed(p, err);
		return;
	}
	if (status != 201 && status != 200 && status != 202) {
		shoal_registry__error_from_response(
			status, body, len, shoal_http_call_header(call, "WWW-Authenticate"), &re);
		re.fallback = false;
		push_failed(p, &re);
		return;
	}
	text = manifest_build(p);
	size = strlen(text);
	shoal_sha256_digest(text, size, digest);
	snprintf(msg, sizeof(msg), "%s: digest: %s size: %zu", p->tag, digest, size);
	free(text);
	emit(p, shoal_registry__msg_status(NULL, msg));
	/* addDigestReference: the image is now also name@digest */
	img = shoal_engine_image_find(e, p->image_id, &ierr);
	snprintf(full, sizeof(full), "%s@%s", p->repo_full, digest);
	if (img != NULL && shoal_engine__digest_add(e, img, full))
		shoal_engine__persist(e);
	/* progress.Aux: the PushResult the CLI reads for content trust */
	aux = json_pack("{s:{}, s:{s:s, s:s, s:I}}", "progressDetail", "aux", "Tag", p->tag,
			"Digest", digest, "Size", (json_int_t)size);
	emit(p, aux);
	snprintf(fam, sizeof(fam), "%s:%s", p->fam_name, p->tag);
	if (e->event != NULL)
		e->event(e->event_ctx, "image", "push", fam,
			 json_pack("{s:s}", "name", p->fam_name));
	/* the next tag, or the end */
	layers_drop(p);
	free(p->config);
	p->config = NULL;
	tag_start(p);
}

static void config_put_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
			    const char *body, size_t len, const struct shoal_registry_error *err,
			    void *ctx)
{
	struct push *p = ctx;
	struct shoal_registry_error e;

	(void)rq;
	p->req = NULL;
	if (err != NULL) {
		push_failed(p, err);
		return;
	}
	if (status != 201 && status != 204 && status != 200) {
		shoal_registry__error_from_response(
			status, body, len, shoal_http_call_header(call, "WWW-Authenticate"), &e);
		push_failed(p, &e);
		return;
	}
	manifest_put(p);
}

static void config_post_done(struct shoal_registry_req *rq, struct shoal_http_call *call,
			     int status, const char *body, size_t len,
			     const struct shoal_registry_error *err, void *ctx)
{
	struct push *p = ctx;
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	const char *headers[] = { "Content-Type: application/octet-stream", NULL };
	char *loc, *url;

	(void)rq;
	p->req = NULL;
	if (err != NULL) {
		push_failed(p, err);
		return;
	}
	if (status != 202 || (loc = shoal_registry__location(p->sess, call)) == NULL) {
		shoal_registry__error_from_response(
			status, body, len, shoal_http_call_header(call, "WWW-Authenticate"), &e);
		push_failed(p, &e);
		return;
	}
	/* a monolithic upload: the whole config in the PUT */
	url = with_digest(loc, p->config_digest);
	free(loc);
	memset(&o, 0, sizeof(o));
	o.method = "PUT";
	o.url = url;
	o.headers = headers;
	o.body = p->config;
	o.body_len = p->config_len;
	p->req = shoal_registry__request(p->sess, &o, config_put_done, p, &e);
	free(url);
	if (p->req == NULL)
		push_failed(p, &e);
}

static void config_stat_done(struct shoal_registry_req *rq, struct shoal_http_call *call,
			     int status, const char *body, size_t len,
			     const struct shoal_registry_error *err, void *ctx)
{
	struct push *p = ctx;
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	char *url;

	(void)rq;
	(void)call;
	(void)body;
	(void)len;
	p->req = NULL;
	if (err != NULL) {
		push_failed(p, err);
		return;
	}
	if (status == 200) {
		manifest_put(p);
		return;
	}
	url = shoal_registry__url(p->sess, "blobs/uploads/");
	memset(&o, 0, sizeof(o));
	o.method = "POST";
	o.url = url;
	o.body = "";
	p->req = shoal_registry__request(p->sess, &o, config_post_done, p, &e);
	free(url);
	if (p->req == NULL)
		push_failed(p, &e);
}

/* Every layer is there: the config blob (unless the registry has it), the manifest. */
static void config_push(struct push *p)
{
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	char *url = shoal_registry__url(p->sess, "blobs/%s", p->config_digest);

	memset(&o, 0, sizeof(o));
	o.method = "HEAD";
	o.url = url;
	p->req = shoal_registry__request(p->sess, &o, config_stat_done, p, &e);
	free(url);
	if (p->req == NULL)
		push_failed(p, &e);
}

/* ---- scheduling ---- */

static void on_tick(uv_timer_t *t)
{
	struct push *p = t->data;
	size_t i;

	p->timer_running = false;
	for (i = 0; i < p->nlayers; i++) {
		struct player *l = &p->layers[i];
		int64_t n;

		if (l->state == PL_RETRY && uv_now(p->op.r->loop) >= l->next_sec) {
			l->next_sec += 1000;
			if (--l->countdown > 0) {
				emit_retrying(l);
				continue;
			}
			/* every check again: the registry may have it by now */
			l->state = PL_WAITING;
			l->next_check = l->next_mount = 0;
			layer_next_step(l);
			if (p->failed || p->op.cancelled)
				return;
			continue;
		}
		if (l->state != PL_COMPRESSING)
			continue;
		n = __atomic_load_n(&l->nread, __ATOMIC_RELAXED);
		if (n > l->last_nread && n < l->size) {
			l->last_nread = n;
			emit(p, shoal_registry__msg_progress(l->id, "Pushing", n, l->size));
		}
	}
	push_schedule(p);
}

static void push_schedule(struct push *p)
{
	size_t i;
	bool all_done = true, counting = false;

	if (p->failed || p->op.cancelled)
		return;
	if (p->sess == NULL) {
		/* between endpoints: start over once no job uses the layer table */
		if (!layers_busy(p)) {
			layers_drop(p);
			try_endpoint(p);
		}
		return;
	}
	if (p->layers == NULL)
		return; /* the ping is under way */
	for (i = 0; i < p->nlayers; i++) {
		struct player *l = &p->layers[i];

		if (l->state == PL_QUEUED && p->compressing < MAX_COMPRESSING)
			compress_start(l);
	}
	/* start waiting layers top first, as dockerd's descriptors are ordered */
	for (i = p->nlayers; i-- > 0 && p->active < p->op.r->max_uploads;) {
		struct player *l = &p->layers[i];
		json_t *r;

		if (l->state != PL_WAITING || l->checks != NULL)
			continue;
		p->active++;
		r = json_object_get(p->remote, l->diff_id);
		if (r != NULL) {
			snprintf(l->digest, sizeof(l->digest), "%s",
				 json_string_value(json_object_get(r, "digest")));
			l->blob_size = json_integer_value(json_object_get(r, "size"));
			layer_done(l, "Layer already exists");
			return;
		}
		layer_next_step(l);
		if (p->failed || p->op.cancelled || p->sess == NULL)
			return;
	}
	for (i = 0; i < p->nlayers; i++) {
		if (p->layers[i].state != PL_DONE)
			all_done = false;
	}
	if (all_done) {
		if (p->req == NULL)
			config_push(p);
		return;
	}
	for (i = 0; i < p->nlayers; i++)
		if (p->layers[i].state == PL_RETRY)
			counting = true;
	if ((p->compressing > 0 || counting) && !p->timer_running) {
		p->timer_running = true;
		uv_timer_start(&p->timer, on_tick, PROGRESS_MS, 0);
	}
}

/* ---- tags and endpoints ---- */

static void layers_plan(struct push *p, const struct shoal_image *img)
{
	struct shoal_engine *e = p->op.r->engine;
	size_t i;

	p->nlayers = img->nlayers;
	p->layers = shoal_calloc(p->nlayers + 1, sizeof(*p->layers));
	for (i = 0; i < p->nlayers; i++) {
		struct player *l = &p->layers[i];
		struct shoal_layer *sl = shoal_engine_layer_find(e, img->layers[i]);

		l->p = p;
		l->fd = -1;
		l->state = PL_WAITING;
		snprintf(l->chain_id, sizeof(l->chain_id), "%s", img->layers[i]);
		snprintf(l->diff_id, sizeof(l->diff_id), "%s", sl != NULL ? sl->diff_id : "");
		snprintf(l->id, sizeof(l->id), "%.12s", l->diff_id + 7);
		l->size = sl != NULL ? sl->size : 0;
		shoal_engine_layer_hold(e, l->chain_id);
	}
	/* dockerd's upload manager: top layer first */
	for (i = p->nlayers; i-- > 0;)
		emit(p, shoal_registry__msg_progress(p->layers[i].id, "Preparing", 0, 0));
	for (i = p->nlayers; i-- > 0;)
		if (p->nlayers - i > (size_t)p->op.r->max_uploads)
			emit(p, shoal_registry__msg_progress(p->layers[i].id, "Waiting", 0, 0));
}

/* The endpoint answers: the tag's image and its layers. */
static void tag_begin(struct push *p)
{
	struct shoal_engine *e = p->op.r->engine;
	struct shoal_err ierr;
	struct shoal_image *img;
	char full[700];

	snprintf(full, sizeof(full), "%s:%s", p->repo_full, p->tag);
	img = shoal_engine_image_find(e, full, &ierr);
	if (img == NULL) {
		struct shoal_err out;

		shoal_errorf(&out, 500, "tag does not exist: %s:%s", p->fam_name, p->tag);
		push_finish(p, &out);
		return;
	}
	snprintf(p->image_id, sizeof(p->image_id), "%s", img->id);
	p->config = shoal_strndup(img->config_raw, img->config_len);
	p->config_len = img->config_len;
	snprintf(p->config_digest, sizeof(p->config_digest), "%s", img->id);
	layers_plan(p, img);
	push_schedule(p);
}

static void ping_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
		      const char *body, size_t len, const struct shoal_registry_error *err,
		      void *ctx)
{
	struct push *p = ctx;

	(void)rq;
	(void)call;
	(void)status;
	(void)body;
	(void)len;
	if (err != NULL) {
		push_failed(p, err);
		return;
	}
	tag_begin(p);
}

static void try_endpoint(struct push *p)
{
	struct shoal_registry_error e;

	p->sess = shoal_registry__session_new(p->op.r, p->eps[p->ep].url, p->ref.path, "push,pull",
					      &p->auth);
	if (shoal_registry__session_ping(p->sess, ping_done, p, &e) < 0)
		push_failed(p, &e);
}

static void tag_start(struct push *p)
{
	const char *tag;

	if (p->next_tag >= json_array_size(p->tags)) {
		shoal_log_info("image pushed", "repository=%s", shoal_log_q(p->repo_full));
		push_finish(p, NULL);
		return;
	}
	tag = json_string_value(json_array_get(p->tags, p->next_tag++));
	snprintf(p->tag, sizeof(p->tag), "%s", tag);
	if (p->sess != NULL) {
		/* the endpoint that took the last tag takes this one */
		tag_begin(p);
		return;
	}
	p->ep = 0;
	try_endpoint(p);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void on_start(uv_timer_t *t)
{
	struct push *p = t->data;
	struct shoal_engine *e = p->op.r->engine;
	struct shoal_list *pos;
	char msg[700];
	size_t i;

	snprintf(msg, sizeof(msg), "The push refers to repository [%s]", p->repo_full);
	emit(p, shoal_registry__msg_status(NULL, msg));
	{
		/* the repository's tags, sorted as dockerd's reference store gives them */
		size_t n = strlen(p->repo_full);
		const char **v = NULL;
		size_t nv = 0;

		shoal_list_foreach(pos, &e->images) {
			struct shoal_image *img = shoal_list_entry(pos, struct shoal_image, link);

			for (i = 0; i < img->ntags; i++) {
				if (strncmp(img->tags[i], p->repo_full, n) != 0 ||
				    img->tags[i][n] != ':')
					continue;
				v = shoal_realloc(v, (nv + 1) * sizeof(*v));
				v[nv++] = img->tags[i] + n + 1;
			}
		}
		if (nv == 0) {
			struct shoal_err out;

			free(v);
			shoal_errorf(&out, 500, "An image does not exist locally with the tag: %s",
				     p->fam_name);
			push_finish(p, &out);
			return;
		}
		qsort(v, nv, sizeof(*v), cmp_str);
		/* no tag asked for: every one of them */
		if (json_array_size(p->tags) == 0)
			for (i = 0; i < nv; i++)
				json_array_append_new(p->tags, json_string(v[i]));
		free(v);
	}
	tag_start(p);
}

struct shoal_registry_op *
shoal_registry_push(struct shoal_registry *r, const char *name, const char *tag,
		    const struct shoal_registry_auth *auth, shoal_registry_progress_cb progress,
		    shoal_registry_done_cb done, void *ctx, struct shoal_err *err)
{
	struct push *p;
	struct shoal_ref base;
	char *s;

	if (r->closing) {
		shoal_errorf(err, 503, "the daemon is shutting down");
		return NULL;
	}
	s = tag != NULL && tag[0] != '\0' ? shoal_asprintf("%s:%s", name, tag) : shoal_strdup(name);
	if (shoal_ref_parse(s, &base, err) < 0) {
		free(s);
		return NULL;
	}
	free(s);
	if (base.digest[0] != '\0') {
		shoal_errorf(err, 400, "cannot push a digest reference");
		return NULL;
	}
	p = shoal_calloc(1, sizeof(*p));
	p->ref = base;
	snprintf(p->repo_full, sizeof(p->repo_full), "%s/%s", base.domain, base.path);
	base.tag[0] = '\0';
	shoal_ref_familiar_name(&base, p->fam_name, sizeof(p->fam_name));
	p->tags = json_array();
	if (tag != NULL && tag[0] != '\0')
		json_array_append_new(p->tags, json_string(p->ref.tag));
	p->remote = json_object();
	p->op.progress = progress;
	p->op.ctx = ctx;
	p->op.cancel = push_cancel;
	p->op.destroy = push_destroy;
	p->done = done;
	shoal_registry_auth_copy(&p->auth, auth);
	shoal_registry__endpoints(r, p->ref.domain, true, &p->eps, &p->neps);
	uv_timer_init(r->loop, &p->timer);
	p->timer.data = p;
	p->op.pending++;
	shoal_registry__op_add(r, &p->op);
	uv_timer_start(&p->timer, on_start, 0, 0);
	return &p->op;
}
