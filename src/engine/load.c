/* Loading and importing images. An upload is written to a file under tmp/ as it arrives
 * (async writes; the caller pauses its source when too much is queued), then processed
 * on the thread pool: `docker save` tars (manifest.json), OCI layouts (index.json) and
 * plain root file systems (import). The pool job touches only its job struct and the
 * file system; it extracts new layers into staging trees, checks every digest against
 * the image config, and moves finished layers and configs into the store. The loop then
 * adds them to the in-memory store, moves tags, and reports. */
#include "engine/engine.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/internal.h"

#define SHOAL_LOG_MODULE "engine"

#define META_MAX	 (8 * 1024 * 1024) /* manifest, index and config files */
#define UPLOAD_CHUNK_MAX (4 * 1024 * 1024)

struct chunk {
	struct shoal_list link;
	uv_fs_t req;
	struct shoal_engine_job *job;
	size_t len;
	char data[];
};

/* A layer the job extracted or found, to be registered on the loop. */
struct new_layer {
	char chain_id[72];
	char diff_id[72];
	char parent[72];
	char cache_id[65];
	int64_t size;
};

/* An image the job stored. */
struct new_image {
	char id[72];
	char *config; /* bytes */
	size_t config_len;
	json_t *tags; /* array of full references */
};

struct shoal_engine_job {
	struct shoal_engine *e;
	enum shoal_engine_job_kind kind;
	struct shoal_engine_import_opts opts;
	/* the upload */
	char *path;
	int fd;
	struct shoal_list chunks;
	size_t queued;
	int64_t offset;
	bool writing;
	bool upload_failed;
	int upload_errno;
	bool ended; /* job_run was called: process when the last write lands */
	void (*ready)(void *ctx);
	void *ready_ctx;
	/* processing, on the pool */
	uv_work_t work;
	char *layer_root, *image_root, *tmp_root; /* copies: the pool never reads e */
	struct shoal_err err;
	bool failed;
	struct new_layer *layers;
	size_t nlayers;
	struct new_image *images;
	size_t nimages;
	json_t *messages; /* stream lines produced on the pool */
	/* reporting */
	shoal_engine_progress_cb progress;
	shoal_engine_done_cb done;
	void *ctx;
};

static void job_free(struct shoal_engine_job *job)
{
	size_t i;

	if (job->fd >= 0)
		close(job->fd);
	if (job->path != NULL)
		unlink(job->path);
	free(job->path);
	free(job->layer_root);
	free(job->image_root);
	free(job->tmp_root);
	free(job->layers);
	for (i = 0; i < job->nimages; i++) {
		free(job->images[i].config);
		json_decref(job->images[i].tags);
	}
	free(job->images);
	json_decref(job->messages);
	free(job->opts.repo);
	free(job->opts.tag);
	json_decref(job->opts.changes);
	free(job->opts.message);
	free(job->opts.platform);
	free(job);
}

static void random_hex(char *out, size_t nbytes)
{
	unsigned char r[32];
	size_t i;

	if (nbytes > sizeof(r))
		nbytes = sizeof(r);
	if (getrandom(r, nbytes, 0) != (ssize_t)nbytes) {
		/* getrandom on Linux does not fail for small sizes once booted */
		for (i = 0; i < nbytes; i++)
			r[i] = (unsigned char)rand();
	}
	for (i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
	out[2 * nbytes] = '\0';
}

/* ---- the upload ---- */

struct shoal_engine_job *shoal_engine_job_new(struct shoal_engine *e,
					      enum shoal_engine_job_kind kind,
					      struct shoal_engine_import_opts *opts,
					      struct shoal_err *err)
{
	struct shoal_engine_job *job = shoal_calloc(1, sizeof(*job));
	char hex[33];

	job->e = e;
	job->kind = kind;
	if (opts != NULL) {
		job->opts = *opts;
		memset(opts, 0, sizeof(*opts));
	}
	job->fd = -1;
	shoal_list_init(&job->chunks);
	random_hex(hex, 16);
	job->path = shoal_asprintf("%s/upload-%s.tar", e->tmp_root, hex);
	/* one open of a new file in our own directory: cheap, and needed before the first
	 * write can be queued */
	job->fd = open(job->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (job->fd < 0) {
		shoal_errorf_sys(err, 500, errno, "store upload %s: %s", job->path,
				 strerror(errno));
		free(job->path);
		job->path = NULL;
		job_free(job);
		return NULL;
	}
	job->messages = json_array();
	e->jobs++;
	return job;
}

static void job_start(struct shoal_engine_job *job);
static void write_next(struct shoal_engine_job *job);

static void on_written(uv_fs_t *req)
{
	struct chunk *c = container_of(req, struct chunk, req);
	struct shoal_engine_job *job = c->job;

	if (req->result < 0) {
		job->upload_failed = true;
		job->upload_errno = (int)-req->result;
	} else if ((size_t)req->result < c->len) {
		/* a short write to a regular file means the disk is full */
		job->upload_failed = true;
		job->upload_errno = ENOSPC;
	}
	uv_fs_req_cleanup(req);
	job->offset += (int64_t)c->len;
	job->queued -= c->len;
	shoal_list_del(&c->link);
	free(c);
	job->writing = false;
	write_next(job);
}

static void drop_chunks(struct shoal_engine_job *job)
{
	struct shoal_list *pos, *tmp;

	/* chunks not yet handed to the kernel; the one in flight must land first */
	shoal_list_foreach_safe(pos, tmp, &job->chunks) {
		struct chunk *c = shoal_list_entry(pos, struct chunk, link);

		if (job->writing && pos == job->chunks.next)
			continue;
		job->queued -= c->len;
		shoal_list_del(&c->link);
		free(c);
	}
}

static void write_next(struct shoal_engine_job *job)
{
	struct chunk *c;
	uv_buf_t b;

	if (job->writing)
		return;
	if (job->upload_failed)
		drop_chunks(job);
	if (shoal_list_empty(&job->chunks)) {
		void (*ready)(void *) = job->ready;

		if (job->ended) {
			job_start(job);
			return;
		}
		job->ready = NULL;
		if (ready != NULL)
			ready(job->ready_ctx); /* may free the job (abort) */
		return;
	}
	c = shoal_list_entry(job->chunks.next, struct chunk, link);
	b = uv_buf_init(c->data, (unsigned)c->len);
	job->writing = true;
	if (uv_fs_write(job->e->loop, &c->req, job->fd, &b, 1, job->offset, on_written) < 0) {
		job->writing = false;
		job->upload_failed = true;
		job->upload_errno = EIO;
		write_next(job);
	}
}

size_t shoal_engine_job_write(struct shoal_engine_job *job, const void *data, size_t len)
{
	while (len > 0 && !job->upload_failed) {
		size_t n = len < UPLOAD_CHUNK_MAX ? len : UPLOAD_CHUNK_MAX;
		struct chunk *c = shoal_malloc(sizeof(*c) + n);

		c->job = job;
		c->len = n;
		memcpy(c->data, data, n);
		shoal_list_add_tail(&job->chunks, &c->link);
		job->queued += n;
		data = (const char *)data + n;
		len -= n;
	}
	write_next(job);
	return job->queued;
}

void shoal_engine_job_on_drain(struct shoal_engine_job *job, void (*ready)(void *ctx), void *ctx)
{
	job->ready = ready;
	job->ready_ctx = ctx;
	if (!job->writing && shoal_list_empty(&job->chunks))
		write_next(job);
}

/* ---- on the pool: reading the upload ---- */

static struct archive *outer_open(struct shoal_engine_job *job)
{
	struct archive *a = archive_read_new();

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open_filename(a, job->path, 64 * 1024) != ARCHIVE_OK) {
		shoal_errorf(&job->err, 400, "invalid tar file: %s", archive_error_string(a));
		job->failed = true;
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Entry names as the archive has them, "./" prefixes dropped. */
static const char *clean_name(const char *n)
{
	while (n[0] == '.' && n[1] == '/')
		n += 2;
	while (n[0] == '/')
		n++;
	return n;
}

struct meta {
	char *name;
	char *data;
	size_t len;
};

struct meta_set {
	struct meta *v;
	size_t n;
};

static const struct meta *meta_get(const struct meta_set *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->v[i].name, clean_name(name)) == 0)
			return &m->v[i];
	return NULL;
}

static void meta_fini(struct meta_set *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].data);
	}
	free(m->v);
}

/* Pass 1: keeps the small files that describe the images (manifest.json, index.json,
 * configs, OCI manifests). Layers are left for pass 2. */
static int read_meta(struct shoal_engine_job *job, struct meta_set *m)
{
	struct archive *a = outer_open(job);
	struct archive_entry *ent;
	int r;

	if (a == NULL)
		return -1;
	while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
		const char *name = clean_name(archive_entry_pathname(ent));
		int64_t size = archive_entry_size(ent);
		struct shoal_buf b;
		char tmp[65536];
		la_ssize_t n;
		size_t l = strlen(name);

		if (archive_entry_filetype(ent) != AE_IFREG || size > META_MAX)
			continue;
		if (!(l > 5 && strcmp(name + l - 5, ".json") == 0) &&
		    strncmp(name, "blobs/", 6) != 0 && strcmp(name, "repositories") != 0 &&
		    strcmp(name, "oci-layout") != 0)
			continue;
		shoal_buf_init(&b);
		while ((n = archive_read_data(a, tmp, sizeof(tmp))) > 0)
			shoal_buf_add(&b, tmp, (size_t)n);
		if (n < 0) {
			shoal_buf_fini(&b);
			shoal_errorf(&job->err, 400, "invalid tar file: %s: %s", name,
				     archive_error_string(a));
			goto fail;
		}
		m->v = shoal_realloc(m->v, (m->n + 1) * sizeof(*m->v));
		m->v[m->n].name = shoal_strdup(name);
		m->v[m->n].data = shoal_buf_detach(&b, &m->v[m->n].len);
		shoal_buf_fini(&b);
		m->n++;
	}
	if (r != ARCHIVE_EOF) {
		shoal_errorf(&job->err, 400, "invalid tar file: %s", archive_error_string(a));
		goto fail;
	}
	archive_read_free(a);
	return 0;
fail:
	job->failed = true;
	archive_read_free(a);
	return -1;
}

/* What pass 2 must extract: a layer file in the archive and where it goes. */
struct want {
	char *path;
	char chain_id[72];
	char parent[72];
	char diff_id[72]; /* expected, from the config */
	bool done;
};

struct plan {
	struct want *v;
	size_t n;
};

static bool layer_on_disk(struct shoal_engine_job *job, const char *chain_id)
{
	char *p = shoal_asprintf("%s/layerdb/sha256/%s/cache-id", job->image_root, chain_id + 7);
	bool ok = access(p, F_OK) == 0;

	free(p);
	return ok;
}

static void plan_layer(struct shoal_engine_job *job, struct plan *plan, const char *path,
		       const char *chain, const char *parent, const char *diff)
{
	size_t i;

	for (i = 0; i < plan->n; i++)
		if (strcmp(plan->v[i].chain_id, chain) == 0)
			return;
	for (i = 0; i < job->nlayers; i++)
		if (strcmp(job->layers[i].chain_id, chain) == 0)
			return;
	plan->v = shoal_realloc(plan->v, (plan->n + 1) * sizeof(*plan->v));
	memset(&plan->v[plan->n], 0, sizeof(plan->v[0]));
	plan->v[plan->n].path = shoal_strdup(clean_name(path));
	snprintf(plan->v[plan->n].chain_id, 72, "%s", chain);
	snprintf(plan->v[plan->n].parent, 72, "%s", parent);
	snprintf(plan->v[plan->n].diff_id, 72, "%s", diff);
	plan->n++;
}

static void note_existing_layer(struct shoal_engine_job *job, const char *chain)
{
	struct new_layer *l;
	char *base = shoal_asprintf("%s/layerdb/sha256/%s", job->image_root, chain + 7);
	char *p, *v;
	size_t i;

	for (i = 0; i < job->nlayers; i++)
		if (strcmp(job->layers[i].chain_id, chain) == 0)
			goto out;
	job->layers = shoal_realloc(job->layers, (job->nlayers + 1) * sizeof(*job->layers));
	l = &job->layers[job->nlayers++];
	memset(l, 0, sizeof(*l));
	snprintf(l->chain_id, sizeof(l->chain_id), "%s", chain);
	p = shoal_asprintf("%s/diff", base);
	v = shoal_engine__read_file(p, 100, NULL);
	snprintf(l->diff_id, sizeof(l->diff_id), "%s", v != NULL ? v : "");
	free(v);
	free(p);
	p = shoal_asprintf("%s/parent", base);
	v = shoal_engine__read_file(p, 100, NULL);
	snprintf(l->parent, sizeof(l->parent), "%s", v != NULL ? v : "");
	free(v);
	free(p);
	p = shoal_asprintf("%s/cache-id", base);
	v = shoal_engine__read_file(p, 100, NULL);
	snprintf(l->cache_id, sizeof(l->cache_id), "%s", v != NULL ? v : "");
	free(v);
	free(p);
	p = shoal_asprintf("%s/size", base);
	v = shoal_engine__read_file(p, 100, NULL);
	l->size = v != NULL ? strtoll(v, NULL, 10) : 0;
	free(v);
	free(p);
out:
	free(base);
}

/* Moves an extracted tree into the store under a new cache ID and writes its layerdb
 * entry. Another job may have stored the same layer meanwhile: then ours is dropped. */
static int layer_commit(struct shoal_engine_job *job, const char *staging, const char *tar,
			const struct want *w, const struct shoal_layer_info *info)
{
	char cache[65];
	char *dst = NULL, *db = NULL, *dbtmp = NULL, *p = NULL;
	char num[32];
	int rv = -1;

	if (layer_on_disk(job, w->chain_id)) {
		shoal_rmtree(staging);
		unlink(tar);
		note_existing_layer(job, w->chain_id);
		return 0;
	}
	random_hex(cache, 32);
	dst = shoal_asprintf("%s/%s", job->layer_root, cache);
	if (shoal_engine__mkdirs(dst, 0700) < 0)
		goto fail;
	p = shoal_asprintf("%s/diff", dst);
	if (rename(staging, p) < 0)
		goto fail;
	free(p);
	p = shoal_asprintf("%s/layer.tar", dst);
	if (rename(tar, p) < 0)
		goto fail;
	free(p);
	p = NULL;
	dbtmp = shoal_asprintf("%s/layer-db-%s", job->tmp_root, cache);
	if (shoal_engine__mkdirs(dbtmp, 0700) < 0)
		goto fail;
	snprintf(num, sizeof(num), "%lld", (long long)info->size);
	p = shoal_asprintf("%s/diff", dbtmp);
	if (shoal_engine__write_file(p, info->diff_id, strlen(info->diff_id)) < 0)
		goto fail;
	free(p);
	p = shoal_asprintf("%s/size", dbtmp);
	if (shoal_engine__write_file(p, num, strlen(num)) < 0)
		goto fail;
	free(p);
	p = shoal_asprintf("%s/cache-id", dbtmp);
	if (shoal_engine__write_file(p, cache, strlen(cache)) < 0)
		goto fail;
	free(p);
	p = NULL;
	if (w->parent[0] != '\0') {
		p = shoal_asprintf("%s/parent", dbtmp);
		if (shoal_engine__write_file(p, w->parent, strlen(w->parent)) < 0)
			goto fail;
		free(p);
		p = NULL;
	}
	db = shoal_asprintf("%s/layerdb/sha256", job->image_root);
	if (shoal_engine__mkdirs(db, 0700) < 0)
		goto fail;
	free(db);
	db = shoal_asprintf("%s/layerdb/sha256/%s", job->image_root, w->chain_id + 7);
	if (rename(dbtmp, db) < 0) {
		/* stored by another job between our check and now */
		shoal_rmtree(dbtmp);
		shoal_rmtree(dst);
		note_existing_layer(job, w->chain_id);
		rv = 0;
		goto out;
	}
	job->layers = shoal_realloc(job->layers, (job->nlayers + 1) * sizeof(*job->layers));
	{
		struct new_layer *l = &job->layers[job->nlayers++];

		memset(l, 0, sizeof(*l));
		snprintf(l->chain_id, sizeof(l->chain_id), "%s", w->chain_id);
		snprintf(l->diff_id, sizeof(l->diff_id), "%s", info->diff_id);
		snprintf(l->parent, sizeof(l->parent), "%s", w->parent);
		snprintf(l->cache_id, sizeof(l->cache_id), "%s", cache);
		l->size = info->size;
	}
	rv = 0;
	goto out;
fail:
	shoal_errorf_sys(&job->err, 500, errno, "store layer %s: %s", w->chain_id, strerror(errno));
	job->failed = true;
	if (dst != NULL)
		shoal_rmtree(dst);
	if (dbtmp != NULL)
		shoal_rmtree(dbtmp);
out:
	free(p);
	free(dst);
	free(db);
	free(dbtmp);
	return rv;
}

/* Reads an inner layer tar straight from the outer archive's current entry. */
struct inner {
	struct archive *outer;
	char buf[65536];
};

static ssize_t inner_read(void *ctx, const void **buf, struct shoal_err *err)
{
	struct inner *in = ctx;
	la_ssize_t n = archive_read_data(in->outer, in->buf, sizeof(in->buf));

	if (n < 0) {
		shoal_errorf(err, 400, "invalid tar file: %s", archive_error_string(in->outer));
		return -1;
	}
	*buf = in->buf;
	return (ssize_t)n;
}

static int extract_one(struct shoal_engine_job *job, shoal_archive_read_fn read, void *ctx,
		       struct want *w, const char *label)
{
	struct shoal_layer_info info;
	char hex[33];
	char *staging, *tar;
	int rv, fd;

	random_hex(hex, 16);
	staging = shoal_asprintf("%s/staging-%s", job->tmp_root, hex);
	tar = shoal_asprintf("%s/staging-%s.tar", job->tmp_root, hex);
	fd = open(tar, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || mkdir(staging, 0755) < 0) {
		shoal_errorf_sys(&job->err, 500, errno, "create %s: %s", staging, strerror(errno));
		job->failed = true;
		if (fd >= 0)
			close(fd);
		unlink(tar);
		free(staging);
		free(tar);
		return -1;
	}
	rv = shoal_layer_extract(read, ctx, staging, fd, &info, &job->err);
	if (rv == 0 && fsync(fd) < 0)
		rv = shoal_errorf_sys(&job->err, 500, errno, "keep layer tar: %s", strerror(errno));
	close(fd);
	if (rv < 0) {
		shoal_err_wrap(&job->err, "%s", label);
		goto fail;
	}
	if (w->diff_id[0] != '\0' && strcmp(info.diff_id, w->diff_id) != 0) {
		shoal_errorf(
			&job->err, 400,
			"%s: layer digest mismatch: the archive holds %s, the image config says %s",
			label, info.diff_id, w->diff_id);
		goto fail;
	}
	if (w->chain_id[0] == '\0') {
		/* import: the chain is known only now */
		snprintf(w->chain_id, sizeof(w->chain_id), "%s", info.diff_id);
		snprintf(w->diff_id, sizeof(w->diff_id), "%s", info.diff_id);
	}
	rv = layer_commit(job, staging, tar, w, &info);
	free(staging);
	free(tar);
	w->done = rv == 0;
	return rv;
fail:
	job->failed = true;
	shoal_rmtree(staging);
	unlink(tar);
	free(staging);
	free(tar);
	return -1;
}

/* Pass 2: extracts the planned layers as their files come by. */
static int extract_planned(struct shoal_engine_job *job, struct plan *plan)
{
	struct archive *a;
	struct archive_entry *ent;
	struct inner *in;
	size_t i, left = 0;
	int r;

	for (i = 0; i < plan->n; i++)
		left += !plan->v[i].done;
	if (left == 0)
		return 0;
	a = outer_open(job);
	if (a == NULL)
		return -1;
	in = shoal_malloc(sizeof(*in));
	in->outer = a;
	while (left > 0 && (r = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
		const char *name = clean_name(archive_entry_pathname(ent));

		for (i = 0; i < plan->n; i++) {
			struct want *w = &plan->v[i];
			char label[300];

			if (w->done || strcmp(w->path, name) != 0)
				continue;
			snprintf(label, sizeof(label), "layer %.12s", w->diff_id + 7);
			json_array_append_new(job->messages,
					      json_pack("{s:s, s:{}, s:s#}", "status",
							"Loading layer", "progressDetail", "id",
							w->diff_id + 7, 12));
			if (extract_one(job, inner_read, in, w, label) < 0)
				goto fail;
			left--;
			break;
		}
	}
	if (left > 0) {
		for (i = 0; i < plan->n; i++)
			if (!plan->v[i].done)
				break;
		shoal_errorf(&job->err, 400,
			     "invalid tar file: layer %s is missing from the archive",
			     plan->v[i].path);
		goto fail;
	}
	free(in);
	archive_read_free(a);
	return 0;
fail:
	job->failed = true;
	free(in);
	archive_read_free(a);
	return -1;
}

/* Stores a config and notes the image; its layers are in job->layers or on disk. */
static int image_commit(struct shoal_engine_job *job, const char *config, size_t len, json_t *tags)
{
	struct new_image *ni;
	char id[72];
	char *dir, *p;
	int rv;

	shoal_sha256_digest(config, len, id);
	dir = shoal_asprintf("%s/imagedb/sha256", job->image_root);
	rv = shoal_engine__mkdirs(dir, 0700);
	p = shoal_asprintf("%s/%s", dir, id + 7);
	if (rv == 0)
		rv = shoal_engine__write_file(p, config, len);
	free(p);
	free(dir);
	if (rv < 0) {
		json_decref(tags);
		shoal_errorf_sys(&job->err, 500, -rv, "store image config %s: %s", id,
				 strerror(-rv));
		job->failed = true;
		return -1;
	}
	job->images = shoal_realloc(job->images, (job->nimages + 1) * sizeof(*job->images));
	ni = &job->images[job->nimages++];
	snprintf(ni->id, sizeof(ni->id), "%s", id);
	ni->config = shoal_strndup(config, len);
	ni->config_len = len;
	ni->tags = tags;
	return 0;
}

/* The layers of a config, as chain IDs paired with the archive paths that hold them. */
static int plan_image(struct shoal_engine_job *job, struct plan *plan, const char *config,
		      size_t len, json_t *layer_paths, const char *what)
{
	json_error_t jerr;
	json_t *c = json_loadb(config, len, 0, &jerr);
	json_t *diffs = json_object_get(json_object_get(c, "rootfs"), "diff_ids");
	char chain[72] = "", parent[72] = "";
	size_t i;
	json_t *d;

	if (c == NULL || !json_is_array(diffs) ||
	    json_array_size(diffs) != json_array_size(layer_paths)) {
		json_decref(c);
		shoal_errorf(&job->err, 400,
			     "invalid image %s: the config's rootfs does not match its layers",
			     what);
		job->failed = true;
		return -1;
	}
	json_array_foreach(diffs, i, d) {
		const char *diff = json_string_value(d);
		const char *path = json_string_value(json_array_get(layer_paths, i));

		if (diff == NULL || path == NULL || strncmp(diff, "sha256:", 7) != 0 ||
		    strlen(diff) != 71) {
			json_decref(c);
			shoal_errorf(&job->err, 400, "invalid image %s: bad layer entry", what);
			job->failed = true;
			return -1;
		}
		snprintf(parent, sizeof(parent), "%s", chain);
		shoal_engine__chain_id(parent, diff, chain);
		if (layer_on_disk(job, chain))
			note_existing_layer(job, chain);
		else
			plan_layer(job, plan, path, chain, parent, diff);
	}
	json_decref(c);
	return 0;
}

static void plan_fini(struct plan *plan)
{
	size_t i;

	for (i = 0; i < plan->n; i++)
		free(plan->v[i].path);
	free(plan->v);
}

/* manifest.json: [{"Config": "x.json", "RepoTags": [...], "Layers": ["a/layer.tar"]}] */
static void load_docker(struct shoal_engine_job *job, struct meta_set *m, json_t *manifest)
{
	struct plan plan = { 0 };
	size_t i;
	json_t *entry;

	if (!json_is_array(manifest)) {
		shoal_errorf(&job->err, 400, "invalid manifest.json: not a list");
		job->failed = true;
		return;
	}
	json_array_foreach(manifest, i, entry) {
		const char *cfg = json_string_value(json_object_get(entry, "Config"));
		const struct meta *cm = cfg != NULL ? meta_get(m, cfg) : NULL;

		if (cm == NULL) {
			shoal_errorf(&job->err, 400, "invalid manifest.json: config %s not found",
				     cfg != NULL ? cfg : "(none)");
			job->failed = true;
			goto out;
		}
		if (plan_image(job, &plan, cm->data, cm->len, json_object_get(entry, "Layers"),
			       cfg) < 0)
			goto out;
	}
	if (extract_planned(job, &plan) < 0)
		goto out;
	json_array_foreach(manifest, i, entry) {
		const char *cfg = json_string_value(json_object_get(entry, "Config"));
		const struct meta *cm = meta_get(m, cfg);
		json_t *tags = json_array();
		json_t *t;
		size_t k;

		json_array_foreach(json_object_get(entry, "RepoTags"), k, t) {
			struct shoal_ref ref;
			struct shoal_err perr;
			char full[600];

			if (!json_is_string(t) ||
			    shoal_ref_parse(json_string_value(t), &ref, &perr) < 0 ||
			    ref.digest[0] != '\0') {
				json_decref(tags);
				shoal_errorf(&job->err, 400,
					     "invalid reference in manifest.json: %s",
					     json_is_string(t) ? json_string_value(t) : "?");
				job->failed = true;
				goto out;
			}
			shoal_ref_full(&ref, full, sizeof(full));
			json_array_append_new(tags, json_string(full));
		}
		if (image_commit(job, cm->data, cm->len, tags) < 0)
			goto out;
	}
out:
	plan_fini(&plan);
}

/* An OCI image layout: index.json -> manifests (or nested indexes) -> config + layers,
 * all under blobs/<alg>/<hex>. */
static void load_oci(struct shoal_engine_job *job, struct meta_set *m, json_t *index)
{
	struct plan plan = { 0 };
	json_t *todo = json_array(); /* [manifest JSON, tag or null] */
	json_t *item;
	size_t i;

	json_array_foreach(json_object_get(index, "manifests"), i, item) {
		const char *digest = json_string_value(json_object_get(item, "digest"));
		json_t *ann = json_object_get(item, "annotations");
		const char *name =
			json_string_value(json_object_get(ann, "io.containerd.image.name"));
		const struct meta *mm;
		char path[200];
		json_t *man;

		if (name == NULL)
			name = json_string_value(
				json_object_get(ann, "org.opencontainers.image.ref.name"));
		if (digest == NULL || strncmp(digest, "sha256:", 7) != 0)
			continue;
		snprintf(path, sizeof(path), "blobs/sha256/%s", digest + 7);
		mm = meta_get(m, path);
		if (mm == NULL)
			continue;
		man = json_loadb(mm->data, mm->len, 0, NULL);
		if (json_object_get(man, "manifests") != NULL) {
			/* an index: take the linux/amd64 entry */
			json_t *sub;
			size_t k;

			json_array_foreach(json_object_get(man, "manifests"), k, sub) {
				json_t *pl = json_object_get(sub, "platform");
				const char *arch =
					json_string_value(json_object_get(pl, "architecture"));
				const char *d2 = json_string_value(json_object_get(sub, "digest"));

				if (arch != NULL && strcmp(arch, "amd64") != 0)
					continue;
				if (d2 == NULL || strncmp(d2, "sha256:", 7) != 0)
					continue;
				snprintf(path, sizeof(path), "blobs/sha256/%s", d2 + 7);
				mm = meta_get(m, path);
				break;
			}
			json_decref(man);
			man = mm != NULL ? json_loadb(mm->data, mm->len, 0, NULL) : NULL;
		}
		if (man == NULL)
			continue;
		json_array_append_new(todo, json_pack("[o, s?]", man, name));
	}
	if (json_array_size(todo) == 0) {
		shoal_errorf(&job->err, 400, "invalid OCI layout: no image manifest found");
		job->failed = true;
		goto out;
	}
	for (int pass = 0; pass < 2; pass++) {
		json_array_foreach(todo, i, item) {
			json_t *man = json_array_get(item, 0);
			const char *cd = json_string_value(
				json_object_get(json_object_get(man, "config"), "digest"));
			json_t *paths = json_array();
			const struct meta *cm;
			char path[200];
			json_t *l;
			size_t k;

			json_array_foreach(json_object_get(man, "layers"), k, l) {
				const char *d = json_string_value(json_object_get(l, "digest"));

				snprintf(path, sizeof(path), "blobs/sha256/%s",
					 d != NULL && strlen(d) > 7 ? d + 7 : "");
				json_array_append_new(paths, json_string(path));
			}
			snprintf(path, sizeof(path), "blobs/sha256/%s",
				 cd != NULL && strlen(cd) > 7 ? cd + 7 : "");
			cm = meta_get(m, path);
			if (cm == NULL) {
				json_decref(paths);
				shoal_errorf(&job->err, 400,
					     "invalid OCI layout: config %s not found",
					     cd != NULL ? cd : "(none)");
				job->failed = true;
				goto out;
			}
			if (pass == 0) {
				int rv = plan_image(job, &plan, cm->data, cm->len, paths, path);

				json_decref(paths);
				if (rv < 0)
					goto out;
			} else {
				json_t *tags = json_array();
				const char *name = json_string_value(json_array_get(item, 1));
				struct shoal_ref ref;
				struct shoal_err perr;
				char full[600];

				json_decref(paths);
				if (name != NULL && shoal_ref_parse(name, &ref, &perr) == 0 &&
				    ref.digest[0] == '\0') {
					shoal_ref_full(&ref, full, sizeof(full));
					json_array_append_new(tags, json_string(full));
				}
				if (image_commit(job, cm->data, cm->len, tags) < 0)
					goto out;
			}
		}
		if (pass == 0 && extract_planned(job, &plan) < 0)
			goto out;
	}
out:
	json_decref(todo);
	plan_fini(&plan);
}

static void work_load(struct shoal_engine_job *job)
{
	struct meta_set m = { 0 };
	const struct meta *mf;
	json_t *j;

	if (read_meta(job, &m) < 0)
		goto out;
	mf = meta_get(&m, "manifest.json");
	if (mf != NULL) {
		j = json_loadb(mf->data, mf->len, 0, NULL);
		load_docker(job, &m, j);
		json_decref(j);
		goto out;
	}
	mf = meta_get(&m, "index.json");
	if (mf != NULL) {
		j = json_loadb(mf->data, mf->len, 0, NULL);
		load_oci(job, &m, j);
		json_decref(j);
		goto out;
	}
	shoal_errorf(&job->err, 400,
		     "invalid tar file: no manifest.json or index.json: not an image archive");
	job->failed = true;
out:
	meta_fini(&m);
}

/* ---- import ---- */

struct fd_src {
	int fd;
	char buf[65536];
};

static ssize_t fd_read(void *ctx, const void **buf, struct shoal_err *err)
{
	struct fd_src *s = ctx;
	ssize_t n = read(s->fd, s->buf, sizeof(s->buf));

	if (n < 0) {
		shoal_errorf_sys(err, 500, errno, "read upload: %s", strerror(errno));
		return -1;
	}
	*buf = s->buf;
	return n;
}

static void work_import(struct shoal_engine_job *job)
{
	struct fd_src *src = shoal_malloc(sizeof(*src));
	struct want w;
	json_t *config = NULL, *tags = json_array();
	char now[64];
	char *text = NULL;

	memset(&w, 0, sizeof(w));
	src->fd = job->fd;
	if (lseek(job->fd, 0, SEEK_SET) < 0 || extract_one(job, fd_read, src, &w, "import") < 0) {
		json_decref(tags);
		goto out;
	}
	shoal_time_format_rfc3339nano(shoal_time_now_ns(), now, sizeof(now));
	/* opts.changes is the container config the API built from the changes */
	config = json_pack(
		"{s:s, s:s, s:o, s:s, s:s, s:{s:s, s:[s]}, s:[{s:s, s:s}]}", "architecture",
		"amd64", "os", "linux", "config",
		job->opts.changes != NULL ? json_deep_copy(job->opts.changes) : json_object(),
		"created", now, "comment", job->opts.message ? job->opts.message : "", "rootfs",
		"type", "layers", "diff_ids", w.diff_id, "history", "created", now, "comment",
		job->opts.message != NULL && job->opts.message[0] != '\0' ? job->opts.message :
									    "Imported from -");
	if (job->opts.repo != NULL && job->opts.repo[0] != '\0') {
		struct shoal_ref ref;
		char full[600];

		/* the API checked it and made it whole: "docker.io/library/x:latest" */
		if (shoal_ref_parse(job->opts.repo, &ref, &job->err) < 0) {
			job->failed = true;
			json_decref(tags);
			goto out;
		}
		shoal_ref_full(&ref, full, sizeof(full));
		json_array_append_new(tags, json_string(full));
	}
	text = json_dumps(config, JSON_COMPACT);
	image_commit(job, text, strlen(text), tags);
out:
	free(text);
	json_decref(config);
	free(src);
}

static void pool_work(uv_work_t *w)
{
	struct shoal_engine_job *job = container_of(w, struct shoal_engine_job, work);

	shoal_err_clear(&job->err);
	if (job->kind == SHOAL_ENGINE_JOB_LOAD)
		work_load(job);
	else
		work_import(job);
}

/* ---- back on the loop ---- */

static void register_results(struct shoal_engine_job *job)
{
	struct shoal_engine *e = job->e;
	size_t i, k;

	for (i = 0; i < job->nlayers; i++) {
		struct new_layer *nl = &job->layers[i];
		struct shoal_layer *l;

		if (shoal_engine_layer_find(e, nl->chain_id) != NULL || nl->cache_id[0] == '\0')
			continue;
		l = shoal_calloc(1, sizeof(*l));
		memcpy(l->chain_id, nl->chain_id, sizeof(l->chain_id));
		memcpy(l->diff_id, nl->diff_id, sizeof(l->diff_id));
		memcpy(l->parent, nl->parent, sizeof(l->parent));
		memcpy(l->cache_id, nl->cache_id, sizeof(l->cache_id));
		l->size = nl->size;
		shoal_list_add_tail(&e->layers, &l->link);
	}
	for (i = 0; i < job->nimages; i++) {
		struct new_image *ni = &job->images[i];
		struct shoal_image *img;
		struct shoal_err err;
		json_t *t;

		img = shoal_engine__image_add(e, ni->id, ni->config, ni->config_len, &err);
		if (img == NULL) {
			shoal_log_error("loaded image could not be added", "image=%s", ni->id);
			continue;
		}
		json_array_foreach(ni->tags, k, t) {
			const char *full = json_string_value(t);
			struct shoal_image *old = shoal_engine__tag_set(e, img, full);
			struct shoal_ref ref;
			char fam[600];

			if (shoal_ref_parse(full, &ref, &err) < 0)
				continue;
			shoal_ref_familiar(&ref, fam, sizeof(fam));
			if (old != NULL) {
				char line[1024];

				snprintf(
					line, sizeof(line),
					"The image %s already exists, renaming the old one with ID %s to empty string\n",
					fam, old->id);
				json_array_append_new(job->messages,
						      json_pack("{s:s}", "stream", line));
			}
			if (job->kind == SHOAL_ENGINE_JOB_LOAD) {
				char line[700];

				snprintf(line, sizeof(line), "Loaded image: %s\n", fam);
				json_array_append_new(job->messages,
						      json_pack("{s:s}", "stream", line));
			}
			if (e->event != NULL)
				e->event(e->event_ctx, "image",
					 job->kind == SHOAL_ENGINE_JOB_LOAD ? "load" : "import",
					 img->id, json_pack("{s:s}", "name", fam));
		}
		if (json_array_size(ni->tags) == 0) {
			char line[200];

			snprintf(line, sizeof(line), "Loaded image ID: %s\n", img->id);
			if (job->kind == SHOAL_ENGINE_JOB_LOAD)
				json_array_append_new(job->messages,
						      json_pack("{s:s}", "stream", line));
			if (e->event != NULL)
				e->event(e->event_ctx, "image",
					 job->kind == SHOAL_ENGINE_JOB_LOAD ? "load" : "import",
					 img->id, json_pack("{s:s}", "name", img->id));
		}
		if (job->kind == SHOAL_ENGINE_JOB_IMPORT)
			json_array_append_new(job->messages, json_pack("{s:s}", "status", img->id));
	}
	shoal_engine__persist(e);
}

static void pool_done(uv_work_t *w, int status)
{
	struct shoal_engine_job *job = container_of(w, struct shoal_engine_job, work);
	size_t i;
	json_t *msg;

	if (status < 0) {
		shoal_errorf(&job->err, 500, "the load was cancelled");
		job->failed = true;
	}
	/* Layers stored before a failure stay in the store (as dockerd's do) but an image
	 * is only listed when all of it arrived. */
	if (!job->failed || job->nlayers > 0) {
		if (job->failed) {
			for (i = 0; i < job->nimages; i++) {
				free(job->images[i].config);
				json_decref(job->images[i].tags);
			}
			job->nimages = 0;
		}
		register_results(job);
	}
	json_array_foreach(job->messages, i, msg) {
		if (job->progress != NULL)
			job->progress(job->ctx, json_incref(msg));
	}
	job->e->jobs--;
	if (job->done != NULL)
		job->done(job->ctx, job->failed ? &job->err : NULL);
	job_free(job);
}

static void job_start(struct shoal_engine_job *job)
{
	struct shoal_engine *e = job->e;

	job->ended = false; /* started once */
	if (job->upload_failed) {
		shoal_errorf_sys(&job->err, 500, job->upload_errno, "store upload: %s",
				 strerror(job->upload_errno));
		job->failed = true;
		pool_done(&job->work, 0);
		return;
	}
	job->layer_root = shoal_strdup(e->layer_root);
	job->image_root = shoal_strdup(e->image_root);
	job->tmp_root = shoal_strdup(e->tmp_root);
	if (uv_queue_work(e->loop, &job->work, pool_work, pool_done) < 0) {
		shoal_errorf(&job->err, 500, "cannot queue the load");
		job->failed = true;
		pool_done(&job->work, 0);
	}
}

void shoal_engine_job_run(struct shoal_engine_job *job, shoal_engine_progress_cb progress,
			  shoal_engine_done_cb done, void *ctx)
{
	job->progress = progress;
	job->done = done;
	job->ctx = ctx;
	job->ended = true;
	if (!job->writing && shoal_list_empty(&job->chunks))
		job_start(job);
}

static void abort_when_idle(struct shoal_engine_job *job);

static void abort_ready(void *ctx)
{
	abort_when_idle(ctx);
}

static void abort_when_idle(struct shoal_engine_job *job)
{
	if (job->writing) {
		job->ready = abort_ready;
		job->ready_ctx = job;
		return;
	}
	job->e->jobs--;
	job_free(job);
}

void shoal_engine_job_abort(struct shoal_engine_job *job)
{
	drop_chunks(job);
	job->ended = false;
	job->done = NULL;
	job->progress = NULL;
	abort_when_idle(job);
}

/* ---- a pulled layer (for src/registry, through distribution.c) ---- */

struct counted_fd {
	int fd;
	int64_t *nread;
	int64_t total;
	char buf[65536];
};

static ssize_t counted_read(void *ctx, const void **buf, struct shoal_err *err)
{
	struct counted_fd *s = ctx;
	ssize_t n = read(s->fd, s->buf, sizeof(s->buf));

	if (n < 0) {
		shoal_errorf_sys(err, 500, errno, "read layer: %s", strerror(errno));
		return -1;
	}
	s->total += n;
	if (s->nread != NULL)
		__atomic_store_n(s->nread, s->total, __ATOMIC_RELAXED);
	*buf = s->buf;
	return n;
}

int shoal_engine__layer_extract_fd(const char *image_root, const char *layer_root,
				   const char *tmp_root, int fd, const char *parent,
				   const char *diff_id, int64_t *nread, struct shoal_layer *out,
				   struct shoal_err *err)
{
	struct shoal_engine_job *job = shoal_calloc(1, sizeof(*job));
	struct counted_fd *src = shoal_malloc(sizeof(*src));
	struct want w;
	char label[80];
	int rv = -1;

	/* a job of its own, so the load's steps run unchanged; it owns no upload */
	job->fd = -1;
	job->layer_root = shoal_strdup(layer_root);
	job->image_root = shoal_strdup(image_root);
	job->tmp_root = shoal_strdup(tmp_root);
	memset(&w, 0, sizeof(w));
	snprintf(w.parent, sizeof(w.parent), "%s", parent != NULL ? parent : "");
	snprintf(w.diff_id, sizeof(w.diff_id), "%s", diff_id);
	shoal_engine__chain_id(w.parent, diff_id, w.chain_id);
	src->fd = fd;
	src->nread = nread;
	src->total = 0;
	snprintf(label, sizeof(label), "layer %.12s", diff_id + 7);
	if (layer_on_disk(job, w.chain_id))
		note_existing_layer(job, w.chain_id);
	else if (extract_one(job, counted_read, src, &w, label) < 0) {
		*err = job->err;
		goto out;
	}
	if (job->nlayers != 1 || job->layers[0].cache_id[0] == '\0') {
		shoal_errorf(err, 500, "store layer %s: not found after extraction", w.chain_id);
		goto out;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->chain_id, job->layers[0].chain_id, sizeof(out->chain_id));
	memcpy(out->diff_id, job->layers[0].diff_id, sizeof(out->diff_id));
	memcpy(out->parent, job->layers[0].parent, sizeof(out->parent));
	memcpy(out->cache_id, job->layers[0].cache_id, sizeof(out->cache_id));
	out->size = job->layers[0].size;
	rv = 0;
out:
	free(src);
	job_free(job);
	return rv;
}
