/* Pulling an image, as dockerd's distribution/pull_v2.go does it: for each endpoint in
 * turn (a mirror, then the registry; https, then http for an insecure one) ping, resolve
 * the tag to a manifest digest (HEAD, else GET), fetch the manifest by digest and verify
 * it, pick linux/amd64 from a list, fetch and verify the config, then the layers: those
 * already in the store are "Already exists", the others are downloaded at most
 * max_downloads at a time into temp files, each chunk written and hashed on the thread
 * pool, verified against its digest, then extracted in order by the engine on the pool.
 * The image is stored and tagged only when all of it is there. A failure, or a client
 * that leaves, removes the temp files and the layers nothing else holds.
 *
 * The progress stream is dockerd's, message for message. Left to others: the HTTP
 * client, authentication (session.c), the store (src/engine). */
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

#define CHUNK	       (1024 * 1024)	 /* bytes per write job */
#define HIGH_WATER     (8 * 1024 * 1024) /* queued bytes that pause the download */
#define LOW_WATER      (2 * 1024 * 1024)
#define PROGRESS_MS    100 /* dockerd's progress rate limit */
#define UPDATE_EVERY   (512 * 1024)
#define BLOB_STALL_MS  (60 * 1000)
#define BLOB_REDIRECTS 10
#define MANIFEST_ACCEPT                                                                          \
	"Accept: " SHOAL_MT_DOCKER_MANIFEST ", " SHOAL_MT_DOCKER_LIST ", " SHOAL_MT_OCI_MANIFEST \
	", " SHOAL_MT_OCI_INDEX

enum layer_state {
	L_EXISTS,      /* in the store already */
	L_WAITING,     /* for a download slot */
	L_DOWNLOADING, /* transfer or its writes under way, or waiting to retry */
	L_DOWNLOADED,  /* verified, waiting its turn to be extracted */
	L_EXTRACTING,
	L_DONE,
};

struct pull;

struct layer {
	struct pull *p;
	size_t index;
	struct shoal_registry_desc desc;
	char id[13]; /* the blob digest's short form, the stream's id */
	char diff_id[72];
	char chain_id[72];
	char parent[72];
	enum layer_state state;
	bool held; /* we hold chain_id in the store */
	/* the download */
	struct shoal_registry_req *req;
	char *path;
	int fd;
	struct shoal_sha256 *hash; /* touched by the write job in flight only */
	struct shoal_buf buf;	   /* received, not yet handed to a write job */
	size_t queued;		   /* bytes in buf and in the write job */
	bool writing;
	bool transfer_done;
	bool paused;
	bool bad_status; /* the answer was an error: its body is the message */
	int status;
	int write_errno;
	int64_t received;
	int64_t last_update;
	uint64_t last_emit_ms;
	int retries;
	int countdown;			  /* seconds before the next attempt */
	struct shoal_registry_error terr; /* the transfer's failure, if any */
	bool terr_set;
	/* the extraction */
	int64_t nread; /* written by the pool thread */
	int64_t last_nread;
};

struct pull {
	struct shoal_registry_op op;
	shoal_registry_done_cb done;
	struct shoal_registry_auth auth;
	struct shoal_ref ref;
	bool by_digest;
	char fam_ref[600];  /* FamiliarString(ref) */
	char fam_name[600]; /* FamiliarName(ref) */
	char full_tag[600]; /* "docker.io/library/busybox:latest", "" for a digest pull */
	char tag_or_digest[700];
	struct shoal_registry_endpoint *eps;
	size_t neps, ep;
	struct shoal_registry_session *sess;
	struct shoal_registry_req *req; /* the manifest or config request */
	char manifest_digest[72];	/* what "Digest:" reports */
	char expect_digest[72];		/* what the next manifest must hash to, "" if nothing */
	struct shoal_registry_manifest m;
	char *config;
	size_t config_len;
	json_t *diff_ids;
	struct layer *layers;
	size_t nlayers;
	int active;
	size_t next_extract;
	bool extracting;
	uv_timer_t timer; /* extraction progress and retry countdowns */
	bool timer_running;
	bool failed;
	char key[1400]; /* what an equal pull would ask: reference and user */
	/* a name without tag or digest: every tag of the repository, one after the other */
	bool all_tags;
	json_t *tags;
	size_t next_tag;
	bool any_new;
	struct shoal_list followers; /* struct follower: equal pulls waiting on this one */
};

/* A pull asked for, with no stream to show, while an equal one runs: it waits for that
 * one's end instead of fetching the same bytes again, as dockerd's transfer manager joins
 * equal downloads (two tasks of a service on one node). */
struct follower {
	struct shoal_registry_op op;
	struct shoal_list link;
	struct pull *leader; /* NULL once the leader ended */
	shoal_registry_done_cb done;
};

static void try_endpoint(struct pull *p);
static void endpoint_failed(struct pull *p, const struct shoal_registry_error *e);
static void schedule(struct pull *p);
static void download_start(struct layer *l);

/* ---- the end ---- */

static void layers_release(struct pull *p)
{
	struct shoal_engine *e = p->op.r->engine;
	size_t i;

	/* top first: a layer is removed only once nothing sits on it */
	for (i = p->nlayers; i-- > 0;) {
		struct layer *l = &p->layers[i];

		if (l->held)
			shoal_engine_layer_release(e, l->chain_id);
		l->held = false;
	}
}

/* Stops the endpoint's transfers and forgets what it fetched. Write and extraction jobs
 * still running keep their layers until they are back. */
static void endpoint_reset(struct pull *p)
{
	size_t i;

	shoal_registry__session_free(p->sess);
	p->sess = NULL;
	p->req = NULL;
	for (i = 0; i < p->nlayers; i++) {
		struct layer *l = &p->layers[i];

		l->req = NULL;
		if (l->writing || l->state == L_EXTRACTING)
			continue; /* their jobs free what they use */
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
		if (l->path != NULL)
			unlink(l->path);
		free(l->path);
		l->path = NULL;
		if (l->hash != NULL) {
			char tmp[72];

			shoal_sha256_final(l->hash, tmp);
			l->hash = NULL;
		}
		shoal_buf_fini(&l->buf);
	}
	layers_release(p);
	if (p->timer_running)
		uv_timer_stop(&p->timer);
	p->timer_running = false;
}

static bool layers_busy(struct pull *p)
{
	size_t i;

	for (i = 0; i < p->nlayers; i++)
		if (p->layers[i].writing || p->layers[i].state == L_EXTRACTING)
			return true;
	return false;
}

static void layers_free(struct pull *p)
{
	size_t i;

	for (i = 0; i < p->nlayers; i++)
		shoal_buf_fini(&p->layers[i].buf);
	free(p->layers);
	p->layers = NULL;
	p->nlayers = 0;
	p->active = 0;
	p->next_extract = 0;
	p->extracting = false;
}

static void timer_closed(uv_handle_t *h)
{
	struct pull *p = h->data;

	shoal_registry__op_unpend(&p->op);
}

static void pull_cancel(struct shoal_registry_op *op)
{
	struct pull *p = container_of(op, struct pull, op);

	endpoint_reset(p);
	uv_close((uv_handle_t *)&p->timer, timer_closed);
}

static void pull_destroy(struct shoal_registry_op *op)
{
	struct pull *p = container_of(op, struct pull, op);

	endpoint_reset(p);
	layers_free(p);
	shoal_registry_auth_fini(&p->auth);
	shoal_registry__endpoints_free(p->eps, p->neps);
	shoal_registry__manifest_fini(&p->m);
	free(p->config);
	json_decref(p->diff_ids);
	json_decref(p->tags);
	free(p);
}

/* Reports the end once; the op is freed when its jobs are back. */
static void pull_finish(struct pull *p, const struct shoal_err *err)
{
	shoal_registry_done_cb done = p->done;
	void *ctx = p->op.ctx;

	if (p->failed || p->op.cancelled)
		return;
	p->failed = true;
	endpoint_reset(p);
	uv_close((uv_handle_t *)&p->timer, timer_closed);
	if (err != NULL)
		shoal_log_info("pull failed", "image=%s error=%s", shoal_log_q(p->fam_ref),
			       shoal_log_q(err->msg));
	/* the op stays alive until its pending jobs return; done is its last word */
	if (done != NULL)
		done(ctx, err);
	while (!shoal_list_empty(&p->followers)) {
		struct follower *f = shoal_list_entry(p->followers.next, struct follower, link);

		shoal_list_del(&f->link);
		f->leader = NULL;
		f->done(f->op.ctx, err);
		shoal_registry__op_finish(&f->op);
	}
	shoal_registry__op_finish(&p->op);
}

/* The client left: the pull goes on, silent, while a follower waits on it. */
static bool pull_detach(struct shoal_registry_op *op)
{
	struct pull *p = container_of(op, struct pull, op);

	if (shoal_list_empty(&p->followers))
		return false;
	p->done = NULL;
	p->op.progress = NULL;
	return true;
}

static void follower_cancel(struct shoal_registry_op *op)
{
	struct follower *f = container_of(op, struct follower, op);
	struct pull *leader = f->leader;

	shoal_list_del(&f->link);
	f->leader = NULL;
	/* a leader whose own client left runs for its followers only */
	if (leader != NULL && leader->done == NULL && shoal_list_empty(&leader->followers))
		shoal_registry_op_cancel(&leader->op);
}

static void follower_destroy(struct shoal_registry_op *op)
{
	free(container_of(op, struct follower, op));
}

static void pull_fail(struct pull *p, const struct shoal_registry_error *e)
{
	struct shoal_err out;

	shoal_registry__translate_pull(e, p->fam_ref, p->fam_name, &out);
	pull_finish(p, &out);
}

static void emit(struct pull *p, json_t *msg)
{
	shoal_registry__op_emit(&p->op, msg);
}

/* ---- endpoints ---- */

static void endpoint_failed(struct pull *p, const struct shoal_registry_error *e)
{
	const struct shoal_registry_endpoint *ep = &p->eps[p->ep];
	bool fallback = e->fallback;

	/* dockerd's continueOnError: a mirror gives way on any registry error */
	if (ep->mirror &&
	    (e->kind == SHOAL_REGISTRY_ERR_CODE || e->kind == SHOAL_REGISTRY_ERR_HTTP))
		fallback = true;
	if (!fallback || p->ep + 1 >= p->neps) {
		pull_fail(p, e);
		return;
	}
	shoal_log_info("Attempting next endpoint for pull after error", "error=%s",
		       shoal_log_q(e->err.msg));
	endpoint_reset(p);
	p->ep++;
	/* a job of this endpoint may still use the layer table: schedule starts the next
	 * endpoint once none does */
	schedule(p);
}

/* The registry's answer as an error, with dockerd's fallback rules for manifests. */
static void answer_error(struct shoal_http_call *call, int status, const char *body, size_t len,
			 struct shoal_registry_error *e)
{
	shoal_registry__error_from_response(
		status, body, len,
		call != NULL ? shoal_http_call_header(call, "WWW-Authenticate") : NULL, e);
	/* allowV1Fallback and continueOnError */
	if (e->kind == SHOAL_REGISTRY_ERR_HTTP)
		e->fallback = true;
	if (e->kind == SHOAL_REGISTRY_ERR_CODE &&
	    (strcmp(e->code, "UNAUTHORIZED") == 0 || strcmp(e->code, "MANIFEST_UNKNOWN") == 0 ||
	     strcmp(e->code, "NAME_UNKNOWN") == 0))
		e->fallback = true;
}

/* ---- layers: writing and hashing on the pool ---- */

struct wjob {
	uv_work_t work;
	struct layer *l;
	char *data;
	size_t len;
	int err;
};

static void write_next(struct layer *l);
static void download_finished(struct layer *l);

static void wjob_work(uv_work_t *w)
{
	struct wjob *j = container_of(w, struct wjob, work);
	size_t off = 0;

	while (off < j->len) {
		ssize_t n = write(j->l->fd, j->data + off, j->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			j->err = n < 0 ? errno : ENOSPC;
			return;
		}
		off += (size_t)n;
	}
	shoal_sha256_update(j->l->hash, j->data, j->len);
}

static void wjob_done(uv_work_t *w, int status)
{
	struct wjob *j = container_of(w, struct wjob, work);
	struct layer *l = j->l;
	struct pull *p = l->p;
	int werr = j->err != 0 ? j->err : status < 0 ? ECANCELED : 0;
	bool live = !p->failed && !p->op.cancelled;

	l->writing = false;
	l->queued -= j->len;
	free(j->data);
	free(j);
	if (p->failed || p->op.cancelled || (l->req == NULL && !l->transfer_done)) {
		/* the pull or this attempt was abandoned meanwhile: tidy this layer */
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
		if (l->path != NULL)
			unlink(l->path);
		free(l->path);
		l->path = NULL;
		if (l->hash != NULL) {
			char tmp[72];

			shoal_sha256_final(l->hash, tmp);
			l->hash = NULL;
		}
		shoal_buf_fini(&l->buf);
		/* p may be gone after this when it was cancelled */
		shoal_registry__op_unpend(&p->op);
		if (live)
			schedule(p);
		return;
	}
	shoal_registry__op_unpend(&p->op);
	if (werr != 0 && l->write_errno == 0)
		l->write_errno = werr;
	if (l->paused && l->queued < LOW_WATER && l->req != NULL) {
		l->paused = false;
		shoal_registry__req_pause(l->req, false);
	}
	write_next(l);
}

static void write_next(struct layer *l)
{
	struct pull *p = l->p;
	struct wjob *j;
	size_t len;

	if (l->writing)
		return;
	if (l->write_errno != 0) {
		shoal_buf_reset(&l->buf);
		l->queued = 0;
		if (l->transfer_done)
			download_finished(l);
		else if (l->req != NULL) {
			struct shoal_registry_error e;

			/* no point in fetching what cannot be kept */
			shoal_registry__req_cancel(l->req);
			l->req = NULL;
			l->transfer_done = true;
			download_finished(l);
			(void)e;
		}
		return;
	}
	if (l->buf.len == 0 || (l->buf.len < CHUNK && !l->transfer_done)) {
		if (l->transfer_done && l->buf.len == 0)
			download_finished(l);
		return;
	}
	j = shoal_calloc(1, sizeof(*j));
	j->l = l;
	j->data = shoal_buf_detach(&l->buf, &len);
	j->len = len;
	l->writing = true;
	p->op.pending++;
	if (uv_queue_work(p->op.r->loop, &j->work, wjob_work, wjob_done) < 0) {
		/* the loop is closing: write here rather than lose the bytes' order */
		wjob_work(&j->work);
		wjob_done(&j->work, 0);
	}
}

/* ---- layers: the transfer ---- */

static void emit_downloading(struct layer *l, bool force)
{
	struct pull *p = l->p;
	uint64_t now = uv_now(p->op.r->loop);
	int64_t every = UPDATE_EVERY;

	/* dockerd's progress reader: every 512 kB or 1 %, at most every 100 ms, and the end */
	if (l->desc.size > 0 && l->desc.size / 100 < every)
		every = l->desc.size / 100;
	if (!force && l->received - l->last_update <= every)
		return;
	if (!force && l->received != l->desc.size && l->last_emit_ms != 0 &&
	    now - l->last_emit_ms < PROGRESS_MS)
		return;
	l->last_update = l->received;
	l->last_emit_ms = now;
	emit(p, shoal_registry__msg_progress(l->id, "Downloading", l->received, l->desc.size));
}

static void blob_head(struct shoal_http_call *call, int status, void *ctx)
{
	struct layer *l = ctx;

	(void)call;
	l->status = status;
	l->bad_status = status < 200 || status >= 300;
}

static void blob_data(struct shoal_http_call *call, const char *data, size_t len, void *ctx)
{
	struct layer *l = ctx;

	(void)call;
	if (l->bad_status) {
		/* an error answer: keep its start for the message */
		if (l->buf.len < 64 * 1024)
			shoal_buf_add(&l->buf, data, len);
		return;
	}
	l->received += (int64_t)len;
	if (l->desc.size > 0 && l->received > l->desc.size) {
		/* more than the manifest promised: it cannot verify, stop taking it */
		l->write_errno = EFBIG;
		shoal_registry__req_pause(l->req, true);
		l->paused = true;
		return;
	}
	shoal_buf_add(&l->buf, data, len);
	l->queued += len;
	emit_downloading(l, false);
	if (l->queued > HIGH_WATER && !l->paused) {
		l->paused = true;
		shoal_registry__req_pause(l->req, true);
	}
	write_next(l);
}

static void blob_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
		      const char *body, size_t len, const struct shoal_registry_error *err,
		      void *ctx)
{
	struct layer *l = ctx;

	(void)rq;
	(void)body;
	(void)len;
	l->req = NULL;
	l->transfer_done = true;
	l->paused = false;
	if (l->write_errno == EFBIG) {
		memset(&l->terr, 0, sizeof(l->terr));
		shoal_errorf(&l->terr.err, 500,
			     "filesystem layer verification failed for digest %s", l->desc.digest);
		l->terr_set = true;
		l->write_errno = 0;
		shoal_buf_reset(&l->buf);
	} else if (err != NULL) {
		l->terr = *err;
		if (l->status >= 200 && l->status < 300) {
			/* the body stopped short: what Go's io.Copy says */
			memset(&l->terr, 0, sizeof(l->terr));
			l->terr.kind = SHOAL_REGISTRY_ERR_TRANSPORT;
			shoal_errorf(&l->terr.err, 500, "unexpected EOF");
		}
		l->terr_set = true;
	} else if (l->bad_status || status < 200 || status >= 300) {
		shoal_registry__error_from_response(
			status, l->buf.data, l->buf.len,
			call != NULL ? shoal_http_call_header(call, "WWW-Authenticate") : NULL,
			&l->terr);
		l->terr_set = true;
		l->retries = 1 << 20; /* an answer, not a hiccup: dockerd does not retry */
		shoal_buf_reset(&l->buf);
	}
	if (l->terr_set)
		shoal_buf_reset(&l->buf);
	write_next(l);
}

static void layer_fail(struct layer *l, const struct shoal_registry_error *e)
{
	struct pull *p = l->p;

	p->active--;
	endpoint_failed(p, e);
}

/* The transfer and every write are over: verify, retry or move on. */
static void download_finished(struct layer *l)
{
	struct pull *p = l->p;
	struct shoal_registry_error e;
	char digest[72];

	if (l->hash != NULL) {
		shoal_sha256_final(l->hash, digest);
		l->hash = NULL;
	} else {
		digest[0] = '\0';
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->write_errno != 0) {
		memset(&e, 0, sizeof(e));
		e.kind = SHOAL_REGISTRY_ERR_OTHER;
		shoal_errorf_sys(&e.err, 500, l->write_errno, "write %s: %s", l->path,
				 strerror(l->write_errno));
		unlink(l->path);
		p->active--;
		pull_fail(p, &e);
		return;
	}
	if (l->terr_set) {
		unlink(l->path);
		l->terr_set = false;
		l->retries++;
		if (l->retries > p->op.r->max_download_attempts ||
		    l->terr.kind != SHOAL_REGISTRY_ERR_TRANSPORT) {
			shoal_log_error("Download failed", "layer=%s attempts=%d error=%s", l->id,
					l->retries, shoal_log_q(l->terr.err.msg));
			e = l->terr;
			e.fallback = true;
			layer_fail(l, &e);
			return;
		}
		shoal_log_info("Download failed, retrying", "layer=%s attempt=%d error=%s", l->id,
			       l->retries, shoal_log_q(l->terr.err.msg));
		l->countdown = l->retries * 5;
		{
			/* progress.Updatef: a status with an empty progressDetail */
			char text[64];

			snprintf(text, sizeof(text), "Retrying in %d second%s", l->countdown,
				 l->countdown != 1 ? "s" : "");
			emit(p, shoal_registry__msg_progress(l->id, text, 0, 0));
		}
		schedule(p); /* the timer counts down */
		return;
	}
	if (l->received != l->last_update)
		emit(p,
		     shoal_registry__msg_progress(l->id, "Downloading", l->received, l->desc.size));
	emit(p, shoal_registry__msg_progress(l->id, "Verifying Checksum", 0, 0));
	if (strcmp(digest, l->desc.digest) != 0) {
		shoal_log_error("filesystem layer verification failed", "digest=%s got=%s",
				l->desc.digest, digest);
		unlink(l->path);
		memset(&e, 0, sizeof(e));
		e.kind = SHOAL_REGISTRY_ERR_OTHER;
		shoal_errorf(&e.err, 500, "filesystem layer verification failed for digest %s",
			     l->desc.digest);
		/* DoNotRetry; another endpoint may have it right */
		e.fallback = true;
		layer_fail(l, &e);
		return;
	}
	emit(p, shoal_registry__msg_progress(l->id, "Download complete", 0, 0));
	l->state = L_DOWNLOADED;
	p->active--;
	schedule(p);
}

static void random_hex(char *out, size_t nbytes)
{
	unsigned char r[16];
	size_t i;

	if (nbytes > sizeof(r))
		nbytes = sizeof(r);
	if (getrandom(r, nbytes, 0) != (ssize_t)nbytes)
		for (i = 0; i < nbytes; i++)
			r[i] = (unsigned char)rand();
	for (i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

static void download_start(struct layer *l)
{
	struct pull *p = l->p;
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	char hex[33];
	char *url;

	l->state = L_DOWNLOADING;
	l->received = 0;
	l->last_update = 0;
	l->last_emit_ms = 0;
	l->status = 0;
	l->bad_status = false;
	l->transfer_done = false;
	l->write_errno = 0;
	if (l->buf.data == NULL)
		shoal_buf_init(&l->buf);
	shoal_buf_reset(&l->buf);
	if (l->path == NULL) {
		random_hex(hex, 16);
		hex[32] = '\0';
		l->path = shoal_asprintf("%s/pull-%s", p->op.r->engine->tmp_root, hex);
	}
	/* a new file in our own tmp directory: one quick open */
	l->fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (l->fd < 0) {
		memset(&e, 0, sizeof(e));
		shoal_errorf_sys(&e.err, 500, errno, "create %s: %s", l->path, strerror(errno));
		layer_fail(l, &e);
		return;
	}
	l->hash = shoal_sha256_new();
	url = shoal_registry__url(p->sess, "blobs/%s", l->desc.digest);
	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.url = url;
	o.max_redirects = BLOB_REDIRECTS;
	o.on_head = blob_head;
	o.on_data = blob_data;
	o.stall_timeout_ms = BLOB_STALL_MS;
	l->req = shoal_registry__request(p->sess, &o, blob_done, l, &e);
	free(url);
	if (l->req == NULL) {
		close(l->fd);
		l->fd = -1;
		shoal_sha256_final(l->hash, hex);
		l->hash = NULL;
		layer_fail(l, &e);
	}
}

/* ---- layers: extraction, in order ---- */

static void image_store(struct pull *p);

static void layer_added(void *ctx, struct shoal_layer *sl, const struct shoal_err *err)
{
	struct layer *l = ctx;
	struct pull *p = l->p;
	struct shoal_engine *e = p->op.r->engine;

	p->extracting = false;
	l->state = L_DONE;
	free(l->path); /* the engine removed the file */
	l->path = NULL;
	if (p->failed || p->op.cancelled) {
		if (sl != NULL)
			shoal_engine_layer_release(e, sl->chain_id);
		shoal_registry__op_unpend(&p->op);
		return;
	}
	shoal_registry__op_unpend(&p->op);
	if (err != NULL) {
		struct shoal_registry_error re;

		memset(&re, 0, sizeof(re));
		re.kind = SHOAL_REGISTRY_ERR_OTHER;
		shoal_errorf(&re.err, 500, "failed to register layer: %s", err->msg);
		pull_fail(p, &re);
		return;
	}
	l->held = true;
	/* the config's chain, whatever the store called it (the same by construction) */
	snprintf(l->chain_id, sizeof(l->chain_id), "%s", sl->chain_id);
	{
		char repo[600];

		snprintf(repo, sizeof(repo), "%s/%s", p->ref.domain, p->ref.path);
		shoal_engine_blob_note(e, l->diff_id, l->desc.digest, repo);
	}
	emit(p, shoal_registry__msg_progress(l->id, "Extracting", l->desc.size, l->desc.size));
	emit(p, shoal_registry__msg_progress(l->id, "Pull complete", 0, 0));
	p->next_extract++;
	schedule(p);
}

static void extract_next(struct pull *p)
{
	struct shoal_err err;
	struct layer *l;

	while (p->next_extract < p->nlayers && p->layers[p->next_extract].state == L_EXISTS)
		p->next_extract++;
	if (p->extracting || p->next_extract >= p->nlayers)
		return;
	l = &p->layers[p->next_extract];
	if (l->state != L_DOWNLOADED)
		return;
	l->state = L_EXTRACTING;
	l->nread = 0;
	l->last_nread = 0;
	p->extracting = true;
	if (shoal_engine_layer_add_blob(p->op.r->engine, l->path, l->parent, l->diff_id, &l->nread,
					layer_added, l, &err) < 0) {
		struct shoal_registry_error re;

		p->extracting = false;
		l->state = L_DONE;
		memset(&re, 0, sizeof(re));
		re.err = err;
		pull_fail(p, &re);
		return;
	}
	p->op.pending++;
}

/* ---- the timer: extraction progress and retry countdowns ---- */

static void on_tick(uv_timer_t *t)
{
	struct pull *p = t->data;
	size_t i;

	p->timer_running = false;
	for (i = 0; i < p->nlayers; i++) {
		struct layer *l = &p->layers[i];

		if (l->state == L_EXTRACTING) {
			int64_t n = __atomic_load_n(&l->nread, __ATOMIC_RELAXED);

			if (n > l->last_nread && n < l->desc.size) {
				l->last_nread = n;
				emit(p, shoal_registry__msg_progress(l->id, "Extracting", n,
								     l->desc.size));
			}
		}
	}
	schedule(p);
}

static void on_second(struct pull *p)
{
	size_t i;

	for (i = 0; i < p->nlayers; i++) {
		struct layer *l = &p->layers[i];
		char text[64];

		if (l->state != L_DOWNLOADING || l->countdown <= 0 || l->req != NULL || l->writing)
			continue;
		if (--l->countdown == 0) {
			download_start(l);
			if (p->failed || p->op.cancelled)
				return;
			continue;
		}
		snprintf(text, sizeof(text), "Retrying in %d second%s", l->countdown,
			 l->countdown != 1 ? "s" : "");
		emit(p, shoal_registry__msg_progress(l->id, text, 0, 0));
	}
}

static void on_retry_tick(uv_timer_t *t)
{
	struct pull *p = t->data;

	p->timer_running = false;
	on_second(p);
	if (!p->failed && !p->op.cancelled)
		schedule(p);
}

/* Starts what can start, and the image once every layer is in. */
static void schedule(struct pull *p)
{
	bool countdown = false, extracting;
	size_t i;

	if (p->failed || p->op.cancelled)
		return;
	if (p->sess == NULL) {
		/* between endpoints: go on once no job uses the layer table */
		if (!layers_busy(p)) {
			layers_release(p);
			layers_free(p);
			try_endpoint(p);
		}
		return;
	}
	for (i = 0; i < p->nlayers && p->active < p->op.r->max_downloads; i++) {
		struct layer *l = &p->layers[i];

		if (l->state != L_WAITING)
			continue;
		p->active++;
		download_start(l);
		if (p->failed || p->op.cancelled || p->sess == NULL)
			return;
	}
	extract_next(p);
	if (p->failed || p->op.cancelled)
		return;
	for (i = 0; i < p->nlayers; i++) {
		if (p->layers[i].state == L_DOWNLOADING && p->layers[i].countdown > 0)
			countdown = true;
		if (p->layers[i].state != L_EXISTS && p->layers[i].state != L_DONE)
			goto busy;
	}
	image_store(p);
	return;
busy:
	extracting = p->extracting;
	if (p->timer_running)
		return;
	if (countdown) {
		p->timer_running = true;
		uv_timer_start(&p->timer, on_retry_tick, 1000, 0);
	} else if (extracting) {
		p->timer_running = true;
		uv_timer_start(&p->timer, on_tick, PROGRESS_MS, 0);
	}
}

/* ---- the image ---- */

static void next_tag_begin(struct pull *p);

static void image_store(struct pull *p)
{
	struct shoal_engine *e = p->op.r->engine;
	struct shoal_err err;
	char digest_ref[700], status[800];
	bool changed;
	struct shoal_image *img;

	snprintf(digest_ref, sizeof(digest_ref), "%s/%s@%s", p->ref.domain, p->ref.path,
		 p->manifest_digest);
	if (p->config != NULL) {
		img = shoal_engine_image_put(e, p->config, p->config_len,
					     p->by_digest ? NULL : p->full_tag, digest_ref,
					     &changed, &err);
	} else {
		/* the image was here already: only the references move */
		img = shoal_engine_image_find(e, p->m.config.digest, &err);
		if (img != NULL) {
			img = shoal_engine_image_put(e, img->config_raw, img->config_len,
						     p->by_digest ? NULL : p->full_tag, digest_ref,
						     &changed, &err);
		}
	}
	if (img == NULL) {
		struct shoal_registry_error re;

		memset(&re, 0, sizeof(re));
		re.err = err;
		re.err.status = 500;
		pull_fail(p, &re);
		return;
	}
	snprintf(status, sizeof(status), "Digest: %s", p->manifest_digest);
	emit(p, shoal_registry__msg_status(NULL, status));
	if (p->all_tags) {
		p->any_new = p->any_new || changed;
		if (p->next_tag < json_array_size(p->tags)) {
			/* the image holds its layers now: on to the next tag */
			layers_release(p);
			layers_free(p);
			next_tag_begin(p);
			return;
		}
		changed = p->any_new;
	}
	snprintf(status, sizeof(status), "Status: %s for %s",
		 changed ? "Downloaded newer image" : "Image is up to date", p->fam_ref);
	emit(p, shoal_registry__msg_status(NULL, status));
	if (e->event != NULL)
		e->event(e->event_ctx, "image", "pull", p->fam_ref,
			 json_pack("{s:s}", "name", p->fam_name));
	shoal_log_info("image pulled", "image=%s id=%s", shoal_log_q(p->fam_ref), img->id);
	pull_finish(p, NULL);
}

/* ---- config and layer plan ---- */

static void plan_layers(struct pull *p)
{
	struct shoal_engine *e = p->op.r->engine;
	char chain[72] = "";
	bool missing = false;
	size_t i, n;

	p->nlayers = p->m.nitems;
	p->layers = shoal_calloc(p->nlayers + 1, sizeof(*p->layers));
	for (i = 0; i < p->nlayers; i++) {
		struct layer *l = &p->layers[i];

		l->p = p;
		l->index = i;
		l->fd = -1;
		l->desc = p->m.items[i];
		snprintf(l->id, sizeof(l->id), "%.12s", l->desc.digest + 7);
		snprintf(l->diff_id, sizeof(l->diff_id), "%s",
			 json_string_value(json_array_get(p->diff_ids, i)));
		snprintf(l->parent, sizeof(l->parent), "%s", chain);
		shoal_engine__chain_id(chain, l->diff_id, chain);
		snprintf(l->chain_id, sizeof(l->chain_id), "%s", chain);
		shoal_buf_init(&l->buf);
		/* dockerd stops looking once one layer is missing */
		if (!missing && shoal_engine_layer_find(e, chain) != NULL) {
			l->state = L_EXISTS;
			shoal_engine_layer_hold(e, chain);
			l->held = true;
			emit(p, shoal_registry__msg_progress(l->id, "Already exists", 0, 0));
			continue;
		}
		missing = true;
		l->state = L_WAITING;
		emit(p, shoal_registry__msg_progress(l->id, "Pulling fs layer", 0, 0));
	}
	/* the transfer manager's "Waiting": downloads past the first max_downloads */
	for (i = 0, n = 0; i < p->nlayers; i++)
		if (p->layers[i].state == L_WAITING && ++n > (size_t)p->op.r->max_downloads)
			emit(p, shoal_registry__msg_progress(p->layers[i].id, "Waiting", 0, 0));
}

static void config_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
			const char *body, size_t len, const struct shoal_registry_error *err,
			void *ctx)
{
	struct pull *p = ctx;
	struct shoal_registry_error e;
	json_t *cfg = NULL, *diffs;
	char digest[72];
	size_t i;

	(void)rq;
	p->req = NULL;
	if (err != NULL) {
		e = *err;
		goto fail;
	}
	if (status < 200 || status >= 300) {
		answer_error(call, status, body, len, &e);
		goto fail;
	}
	shoal_sha256_digest(body, len, digest);
	if (strcmp(digest, p->m.config.digest) != 0) {
		memset(&e, 0, sizeof(e));
		shoal_errorf(&e.err, 500, "image config verification failed for digest %s",
			     p->m.config.digest);
		goto fail;
	}
	cfg = json_loadb(body, len, 0, NULL);
	diffs = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	if (!json_is_array(diffs)) {
		memset(&e, 0, sizeof(e));
		shoal_errorf(&e.err, 500, "invalid rootfs in image configuration");
		json_decref(cfg);
		pull_fail(p, &e);
		return;
	}
	if (json_array_size(diffs) != p->m.nitems) {
		memset(&e, 0, sizeof(e));
		shoal_errorf(&e.err, 500, "layers from manifest don't match image configuration");
		json_decref(cfg);
		pull_fail(p, &e);
		return;
	}
	for (i = 0; i < json_array_size(diffs); i++) {
		const char *d = json_string_value(json_array_get(diffs, i));

		if (d == NULL || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71) {
			memset(&e, 0, sizeof(e));
			shoal_errorf(&e.err, 500, "invalid rootfs in image configuration");
			json_decref(cfg);
			pull_fail(p, &e);
			return;
		}
	}
	p->diff_ids = json_incref(diffs);
	json_decref(cfg);
	p->config = shoal_strndup(body, len);
	p->config_len = len;
	plan_layers(p);
	schedule(p);
	return;
fail : {
	/* dockerd's ImageConfigPullError: a mirror gives way, a registry does not */
	struct shoal_registry_error w = e;

	shoal_errorf(&w.err, 500, "error pulling image configuration: %s", e.err.msg);
	w.kind = SHOAL_REGISTRY_ERR_OTHER;
	w.fallback = p->eps[p->ep].mirror;
	endpoint_failed(p, &w);
}
}

/* The image manifest is in: the config, unless the image is here. */
static void image_manifest(struct pull *p)
{
	struct shoal_engine *e = p->op.r->engine;
	struct shoal_registry_req_opts o;
	struct shoal_registry_error err;
	struct shoal_err ierr;
	size_t i;
	char *url;

	if (!shoal_registry__media_type_ok(p->m.config.media_type)) {
		memset(&err, 0, sizeof(err));
		shoal_errorf(&err.err, 400, "unsupported media type %s", p->m.config.media_type);
		pull_fail(p, &err);
		return;
	}
	for (i = 0; i < p->m.nitems; i++) {
		if (!shoal_registry__media_type_ok(p->m.items[i].media_type) ||
		    p->m.items[i].foreign) {
			memset(&err, 0, sizeof(err));
			shoal_errorf(&err.err, 400, "unsupported media type %s",
				     p->m.items[i].media_type);
			pull_fail(p, &err);
			return;
		}
	}
	if (shoal_engine_image_find(e, p->m.config.digest, &ierr) != NULL &&
	    strncmp(p->m.config.digest, "sha256:", 7) == 0) {
		/* the image is here: nothing to download */
		image_store(p);
		return;
	}
	url = shoal_registry__url(p->sess, "blobs/%s", p->m.config.digest);
	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.url = url;
	o.max_redirects = BLOB_REDIRECTS;
	p->req = shoal_registry__request(p->sess, &o, config_done, p, &err);
	free(url);
	if (p->req == NULL)
		endpoint_failed(p, &err);
}

/* ---- manifests ---- */

static void fetch_manifest(struct pull *p, const char *reference);

static void manifest_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
			  const char *body, size_t len, const struct shoal_registry_error *err,
			  void *ctx)
{
	struct pull *p = ctx;
	struct shoal_registry_error e;
	struct shoal_err perr;
	char digest[72];
	const char *hdr;
	bool first = p->manifest_digest[0] == '\0';

	(void)rq;
	p->req = NULL;
	if (err != NULL) {
		endpoint_failed(p, err);
		return;
	}
	if (status < 200 || status >= 300) {
		answer_error(call, status, body, len, &e);
		endpoint_failed(p, &e);
		return;
	}
	shoal_sha256_digest(body, len, digest);
	hdr = shoal_http_call_header(call, "Docker-Content-Digest");
	/* fetched by digest, the bytes must hash to it; fetched by tag, to what the
	 * registry's header says */
	if (p->expect_digest[0] == '\0' && hdr != NULL && strncmp(hdr, "sha256:", 7) == 0)
		snprintf(p->expect_digest, sizeof(p->expect_digest), "%s", hdr);
	if (p->expect_digest[0] != '\0' && strcmp(digest, p->expect_digest) != 0) {
		memset(&e, 0, sizeof(e));
		shoal_errorf(&e.err, 500, "manifest verification failed for digest %s",
			     p->expect_digest);
		pull_fail(p, &e);
		return;
	}
	p->expect_digest[0] = '\0';
	if (first)
		snprintf(p->manifest_digest, sizeof(p->manifest_digest), "%s", digest);
	shoal_registry__manifest_fini(&p->m);
	if (shoal_registry__manifest_parse(body, len, shoal_http_call_header(call, "Content-Type"),
					   &p->m, &perr) < 0) {
		memset(&e, 0, sizeof(e));
		e.err = perr;
		e.err.status = 500;
		pull_fail(p, &e);
		return;
	}
	if (first) {
		char msg[700];

		/* FamiliarName of the repository's remote name: "library/busybox" */
		snprintf(msg, sizeof(msg), "Pulling from %s", p->ref.path);
		emit(p, shoal_registry__msg_status(p->tag_or_digest, msg));
	}
	if (p->m.is_list) {
		int idx;

		if (!first) {
			memset(&e, 0, sizeof(e));
			shoal_errorf(&e.err, 500, "unsupported manifest format");
			pull_fail(p, &e);
			return;
		}
		idx = shoal_registry__manifest_select(&p->m, "linux", "amd64", &perr);
		if (idx < 0) {
			memset(&e, 0, sizeof(e));
			e.err = perr;
			pull_fail(p, &e);
			return;
		}
		/* keep the chosen entry first: the next answer is checked against it */
		p->m.items[0] = p->m.items[idx];
		p->m.nitems = 1;
		snprintf(digest, sizeof(digest), "%s", p->m.items[0].digest);
		fetch_manifest(p, digest);
		return;
	}
	image_manifest(p);
}

/* GET a manifest by tag or by digest; a digest is what the bytes must hash to. */
static void fetch_manifest(struct pull *p, const char *reference)
{
	struct shoal_registry_req_opts o;
	struct shoal_registry_error err;
	const char *headers[] = { MANIFEST_ACCEPT, NULL };
	char *url = shoal_registry__url(p->sess, "manifests/%s", reference);

	if (strncmp(reference, "sha256:", 7) == 0)
		snprintf(p->expect_digest, sizeof(p->expect_digest), "%s", reference);
	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.url = url;
	o.headers = headers;
	p->req = shoal_registry__request(p->sess, &o, manifest_done, p, &err);
	free(url);
	if (p->req == NULL)
		endpoint_failed(p, &err);
}

static void head_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
		      const char *body, size_t len, const struct shoal_registry_error *err,
		      void *ctx)
{
	struct pull *p = ctx;
	const char *d = call != NULL ? shoal_http_call_header(call, "Docker-Content-Digest") : NULL;

	(void)rq;
	(void)body;
	(void)len;
	p->req = NULL;
	if (err != NULL) {
		endpoint_failed(p, err);
		return;
	}
	/* distribution's tags.Get: a HEAD that names a digest, else a GET by tag (also for
	 * the error's details) */
	if (status >= 200 && status < 400 && d != NULL && strncmp(d, "sha256:", 7) == 0 &&
	    strlen(d) == 71) {
		char digest[72];

		snprintf(digest, sizeof(digest), "%s", d);
		fetch_manifest(p, digest);
		return;
	}
	fetch_manifest(p, p->ref.tag);
}

/* A tag to a digest: HEAD, else GET (distribution's tags.Get). */
static void tag_begin(struct pull *p)
{
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	const char *headers[] = { MANIFEST_ACCEPT, NULL };
	char *url = shoal_registry__url(p->sess, "manifests/%s", p->ref.tag);

	memset(&o, 0, sizeof(o));
	o.method = "HEAD";
	o.url = url;
	o.headers = headers;
	p->req = shoal_registry__request(p->sess, &o, head_done, p, &e);
	free(url);
	if (p->req == NULL)
		endpoint_failed(p, &e);
}

/* The next tag of an all-tags pull, with nothing of the previous one's left. */
static void next_tag_begin(struct pull *p)
{
	const char *tag = json_string_value(json_array_get(p->tags, p->next_tag++));

	snprintf(p->ref.tag, sizeof(p->ref.tag), "%s", tag);
	shoal_ref_full(&p->ref, p->full_tag, sizeof(p->full_tag));
	snprintf(p->tag_or_digest, sizeof(p->tag_or_digest), "%s", tag);
	p->manifest_digest[0] = '\0';
	p->expect_digest[0] = '\0';
	shoal_registry__manifest_fini(&p->m);
	memset(&p->m, 0, sizeof(p->m));
	free(p->config);
	p->config = NULL;
	json_decref(p->diff_ids);
	p->diff_ids = NULL;
	tag_begin(p);
}

static void tags_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
		      const char *body, size_t len, const struct shoal_registry_error *err,
		      void *ctx)
{
	struct pull *p = ctx;
	struct shoal_registry_error e;
	json_t *j, *tags;
	size_t i;

	(void)rq;
	p->req = NULL;
	if (err != NULL) {
		endpoint_failed(p, err);
		return;
	}
	if (status < 200 || status >= 300) {
		answer_error(call, status, body, len, &e);
		endpoint_failed(p, &e);
		return;
	}
	j = json_loadb(body, len, 0, NULL);
	tags = json_object_get(j, "tags");
	json_decref(p->tags);
	p->tags = json_array();
	for (i = 0; i < json_array_size(tags); i++)
		if (json_is_string(json_array_get(tags, i)))
			json_array_append(p->tags, json_array_get(tags, i));
	json_decref(j);
	p->next_tag = 0;
	p->any_new = false;
	if (json_array_size(p->tags) == 0) {
		char status_msg[800];

		snprintf(status_msg, sizeof(status_msg), "Status: Image is up to date for %s",
			 p->fam_ref);
		emit(p, shoal_registry__msg_status(NULL, status_msg));
		pull_finish(p, NULL);
		return;
	}
	next_tag_begin(p);
}

static void ping_done(struct shoal_registry_req *rq, struct shoal_http_call *call, int status,
		      const char *body, size_t len, const struct shoal_registry_error *err,
		      void *ctx)
{
	struct pull *p = ctx;
	struct shoal_registry_req_opts o;
	struct shoal_registry_error e;
	char *url;

	(void)rq;
	(void)call;
	(void)status;
	(void)body;
	(void)len;
	p->req = NULL;
	if (err != NULL) {
		shoal_log_warn("Error getting v2 registry", "error=%s", shoal_log_q(err->err.msg));
		endpoint_failed(p, err);
		return;
	}
	if (p->by_digest) {
		fetch_manifest(p, p->ref.digest);
		return;
	}
	if (p->all_tags) {
		url = shoal_registry__url(p->sess, "tags/list");
		memset(&o, 0, sizeof(o));
		o.method = "GET";
		o.url = url;
		p->req = shoal_registry__request(p->sess, &o, tags_done, p, &e);
		free(url);
		if (p->req == NULL)
			endpoint_failed(p, &e);
		return;
	}
	tag_begin(p);
}

static void try_endpoint(struct pull *p)
{
	const struct shoal_registry_endpoint *ep = &p->eps[p->ep];
	struct shoal_registry_error e;

	shoal_log_debug("Trying to pull", "image=%s endpoint=%s", shoal_log_q(p->fam_name),
			shoal_log_q(ep->url));
	p->manifest_digest[0] = '\0';
	p->expect_digest[0] = '\0';
	shoal_registry__manifest_fini(&p->m);
	memset(&p->m, 0, sizeof(p->m));
	free(p->config);
	p->config = NULL;
	json_decref(p->diff_ids);
	p->diff_ids = NULL;
	p->sess = shoal_registry__session_new(p->op.r, ep->url, p->ref.path, "pull", &p->auth);
	if (shoal_registry__session_ping(p->sess, ping_done, p, &e) < 0)
		endpoint_failed(p, &e);
}

/* ---- the start ---- */

/* The first endpoint is tried on a turn of its own: no callback before the start
 * returns. */
static void on_start(uv_timer_t *t)
{
	struct pull *p = t->data;

	try_endpoint(p);
}

struct shoal_registry_op *
shoal_registry_pull(struct shoal_registry *r, const char *image, const char *tag,
		    const struct shoal_registry_auth *auth, shoal_registry_progress_cb progress,
		    shoal_registry_done_cb done, void *ctx, struct shoal_err *err)
{
	struct pull *p;
	char *name = NULL, *full = NULL;
	size_t n;
	bool tagged;
	const char *slash, *colon;

	if (r->closing) {
		shoal_errorf(err, 503, "the daemon is shutting down");
		return NULL;
	}
	/* "pull -a" may send a trailing ":" (moby keeps the API working) */
	name = shoal_strdup(image);
	n = strlen(name);
	if (n > 0 && name[n - 1] == ':')
		name[n - 1] = '\0';
	p = shoal_calloc(1, sizeof(*p));
	if (shoal_ref_parse(name, &p->ref, err) < 0)
		goto fail;
	slash = strrchr(name, '/');
	colon = strrchr(slash != NULL ? slash : name, ':');
	tagged = colon != NULL || strchr(name, '@') != NULL;
	if (tag != NULL && tag[0] != '\0') {
		struct shoal_ref base = p->ref;

		base.tag[0] = '\0';
		base.digest[0] = '\0';
		shoal_ref_familiar_name(&base, p->fam_name, sizeof(p->fam_name));
		if (strncmp(tag, "sha256:", 7) == 0)
			full = shoal_asprintf("%s@%s", p->fam_name, tag);
		else
			full = shoal_asprintf("%s:%s", p->fam_name, tag);
		if (shoal_ref_parse(full, &p->ref, err) < 0)
			goto fail;
	} else if (!tagged) {
		/* a bare name asks for every tag (docker pull -a) */
		p->all_tags = true;
	}
	if (strcmp(p->ref.path, "library/scratch") == 0 &&
	    strcmp(p->ref.domain, "docker.io") == 0) {
		shoal_errorf(err, 403, "'scratch' is a reserved name");
		goto fail;
	}
	p->by_digest = p->ref.digest[0] != '\0';
	if (p->by_digest || p->all_tags)
		p->ref.tag[0] = '\0';
	/* FamiliarString: a bare name for an all-tags pull */
	shoal_ref_familiar(&p->ref, p->fam_ref, sizeof(p->fam_ref));
	shoal_ref_familiar_name(&p->ref, p->fam_name, sizeof(p->fam_name));
	if (p->by_digest) {
		/* reference.Canonical's String(): the whole name */
		shoal_ref_full(&p->ref, p->tag_or_digest, sizeof(p->tag_or_digest));
	} else {
		snprintf(p->tag_or_digest, sizeof(p->tag_or_digest), "%s", p->ref.tag);
		shoal_ref_full(&p->ref, p->full_tag, sizeof(p->full_tag));
	}
	p->op.progress = progress;
	p->op.ctx = ctx;
	p->op.cancel = pull_cancel;
	p->op.destroy = pull_destroy;
	p->op.detach = pull_detach;
	p->done = done;
	shoal_list_init(&p->followers);
	{
		char refname[700];
		struct shoal_list *pos;

		shoal_ref_full(&p->ref, refname, sizeof(refname));
		snprintf(p->key, sizeof(p->key), "%s\n%s", refname,
			 auth != NULL && auth->username != NULL ? auth->username : "");
		shoal_list_foreach(pos, &r->ops) {
			struct shoal_registry_op *o =
				shoal_list_entry(pos, struct shoal_registry_op, link);
			struct pull *lead;
			struct follower *f;

			if (progress != NULL || o->destroy != pull_destroy || o->cancelled)
				continue;
			lead = container_of(o, struct pull, op);
			if (lead->failed || strcmp(lead->key, p->key) != 0)
				continue;
			f = shoal_calloc(1, sizeof(*f));
			f->op.ctx = ctx;
			f->op.cancel = follower_cancel;
			f->op.destroy = follower_destroy;
			f->done = done;
			f->leader = lead;
			shoal_list_add_tail(&lead->followers, &f->link);
			shoal_registry__op_add(r, &f->op);
			shoal_log_debug("pull joins one under way", "image=%s",
					shoal_log_q(refname));
			free(name);
			free(full);
			free(p);
			return &f->op;
		}
	}
	shoal_registry_auth_copy(&p->auth, auth);
	shoal_registry__endpoints(r, p->ref.domain, false, &p->eps, &p->neps);
	uv_timer_init(r->loop, &p->timer);
	p->timer.data = p;
	p->op.pending++; /* the timer, until closed */
	shoal_registry__op_add(r, &p->op);
	free(name);
	free(full);
	uv_timer_start(&p->timer, on_start, 0, 0);
	return &p->op;
fail:
	free(p);
	free(name);
	free(full);
	return NULL;
}
