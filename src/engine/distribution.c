/* What image distribution (src/registry) needs of the store: layers held while a pull or
 * push uses them, a downloaded blob extracted into a layer on the thread pool, a layer
 * compressed into a blob for a push, an image stored from its config with its tag and
 * repository digest, and dockerd's "v2 metadata": which blob digest a layer has in which
 * repository (image/distribution.json), so a push can skip or mount what a registry has
 * and a pull can tell a layer is here already. The HTTP side is src/registry's. */
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "base/log.h"
#include "base/mem.h"
#include "engine/internal.h"

#define SHOAL_LOG_MODULE "engine"

/* ---- holds ---- */

void shoal_engine_layer_hold(struct shoal_engine *e, const char *chain_id)
{
	struct shoal_layer *l = shoal_engine_layer_find(e, chain_id);

	if (l != NULL)
		l->refs++;
}

void shoal_engine_layer_release(struct shoal_engine *e, const char *chain_id)
{
	struct shoal_layer *l = shoal_engine_layer_find(e, chain_id);
	struct shoal_list *pos;

	if (l == NULL || --l->refs > 0)
		return;
	/* a layer under another one stays while its child does */
	shoal_list_foreach(pos, &e->layers) {
		struct shoal_layer *c = shoal_list_entry(pos, struct shoal_layer, link);

		if (strcmp(c->parent, l->chain_id) == 0)
			return;
	}
	shoal_log_debug("dropping a layer nothing holds", "layer=%s", l->chain_id);
	shoal_engine__layer_remove(e, l);
}

/* ---- a blob into a layer ---- */

struct blob_job {
	struct shoal_engine *e;
	char *path;
	char *image_root, *layer_root, *tmp_root;
	char parent[72];
	char diff_id[72];
	int64_t *nread;
	struct shoal_layer layer;
	struct shoal_err err;
	bool failed;
	shoal_engine_layer_cb done;
	void *ctx;
};

static void blob_work(void *arg)
{
	struct blob_job *j = arg;
	int fd = open(j->path, O_RDONLY | O_CLOEXEC);

	shoal_err_clear(&j->err);
	if (fd < 0) {
		shoal_errorf_sys(&j->err, 500, errno, "open downloaded layer: %s", strerror(errno));
		j->failed = true;
		return;
	}
	if (shoal_engine__layer_extract_fd(j->image_root, j->layer_root, j->tmp_root, fd, j->parent,
					   j->diff_id, j->nread, &j->layer, &j->err) < 0)
		j->failed = true;
	close(fd);
	unlink(j->path);
}

static void blob_done(void *arg, int status)
{
	struct blob_job *j = arg;
	struct shoal_engine *e = j->e;
	struct shoal_layer *l = NULL;

	if (status < 0 && !j->failed) {
		shoal_errorf(&j->err, 500, "layer registration cancelled");
		j->failed = true;
	}
	if (!j->failed) {
		l = shoal_engine_layer_find(e, j->layer.chain_id);
		if (l == NULL) {
			l = shoal_calloc(1, sizeof(*l));
			*l = j->layer;
			l->refs = 0;
			shoal_list_add_tail(&e->layers, &l->link);
		}
		l->refs++;
	}
	j->done(j->ctx, l, j->failed ? &j->err : NULL);
	free(j->path);
	free(j->image_root);
	free(j->layer_root);
	free(j->tmp_root);
	free(j);
}

int shoal_engine_layer_add_blob(struct shoal_engine *e, const char *path, const char *parent,
				const char *diff_id, int64_t *nread, shoal_engine_layer_cb done,
				void *ctx, struct shoal_err *err)
{
	struct blob_job *j = shoal_calloc(1, sizeof(*j));

	j->e = e;
	j->path = shoal_strdup(path);
	j->image_root = shoal_strdup(e->image_root);
	j->layer_root = shoal_strdup(e->layer_root);
	j->tmp_root = shoal_strdup(e->tmp_root);
	snprintf(j->parent, sizeof(j->parent), "%s", parent != NULL ? parent : "");
	snprintf(j->diff_id, sizeof(j->diff_id), "%s", diff_id);
	j->nread = nread;
	j->done = done;
	j->ctx = ctx;
	if (shoal_engine__pool(e, blob_work, blob_done, j) < 0) {
		free(j->path);
		free(j->image_root);
		free(j->layer_root);
		free(j->tmp_root);
		free(j);
		return shoal_errorf(err, 500, "cannot queue the layer extraction");
	}
	return 0;
}

/* ---- a layer into a blob ---- */

struct pack_job {
	char *src; /* the layer's tar */
	char *dst;
	int64_t *nread;
	int level;
	char digest[72];
	int64_t size;
	struct shoal_err err;
	bool failed;
	shoal_engine_blob_cb done;
	void *ctx;
};

/* gzip as Go's compress/gzip writes it for dockerd: no name, no time. */
static int gzip_file(struct pack_job *j)
{
	int in = -1, out = -1, rv = -1, zrc = Z_OK;
	struct shoal_sha256 *h = shoal_sha256_new();
	unsigned char ibuf[65536], obuf[65536];
	int64_t total = 0;
	z_stream z;
	bool z_open = false;

	in = open(j->src, O_RDONLY | O_CLOEXEC);
	out = open(j->dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (in < 0 || out < 0) {
		shoal_errorf_sys(&j->err, 500, errno, "compress layer: %s", strerror(errno));
		goto out;
	}
	memset(&z, 0, sizeof(z));
	/* windowBits 16+15: a gzip wrapper with a zeroed header */
	if (deflateInit2(&z, j->level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		shoal_errorf(&j->err, 500, "compress layer: zlib init failed");
		goto out;
	}
	z_open = true;
	for (;;) {
		ssize_t n = read(in, ibuf, sizeof(ibuf));
		int flush;

		if (n < 0) {
			shoal_errorf_sys(&j->err, 500, errno, "compress layer: %s",
					 strerror(errno));
			goto out;
		}
		total += n;
		if (j->nread != NULL)
			__atomic_store_n(j->nread, total, __ATOMIC_RELAXED);
		flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
		z.next_in = ibuf;
		z.avail_in = (uInt)n;
		do {
			size_t have;

			z.next_out = obuf;
			z.avail_out = sizeof(obuf);
			zrc = deflate(&z, flush);
			if (zrc == Z_STREAM_ERROR) {
				shoal_errorf(&j->err, 500, "compress layer: zlib failed");
				goto out;
			}
			have = sizeof(obuf) - z.avail_out;
			if (have > 0) {
				if (write(out, obuf, have) != (ssize_t)have) {
					shoal_errorf_sys(&j->err, 500, errno, "compress layer: %s",
							 strerror(errno ? errno : ENOSPC));
					goto out;
				}
				shoal_sha256_update(h, obuf, have);
				j->size += (int64_t)have;
			}
		} while (z.avail_out == 0);
		if (n == 0)
			break;
	}
	if (zrc != Z_STREAM_END) {
		shoal_errorf(&j->err, 500, "compress layer: zlib did not finish");
		goto out;
	}
	rv = 0;
out:
	if (z_open)
		deflateEnd(&z);
	shoal_sha256_final(h, j->digest);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (rv < 0) {
		unlink(j->dst);
		j->failed = true;
	}
	return rv;
}

static void pack_work(void *arg)
{
	gzip_file(arg);
}

static void pack_done(void *arg, int status)
{
	struct pack_job *j = arg;

	if (status < 0 && !j->failed) {
		shoal_errorf(&j->err, 500, "compress layer: cancelled");
		j->failed = true;
		unlink(j->dst);
	}
	j->done(j->ctx, j->failed ? NULL : j->dst, j->digest, j->size, j->failed ? &j->err : NULL);
	free(j->src);
	free(j->dst);
	free(j);
}

int shoal_engine_layer_compress(struct shoal_engine *e, const char *chain_id, const char *dst,
				int64_t *nread, shoal_engine_blob_cb done, void *ctx,
				struct shoal_err *err)
{
	struct shoal_layer *l = shoal_engine_layer_find(e, chain_id);
	struct pack_job *j;

	if (l == NULL)
		return shoal_errorf(err, 404, "layer %s is missing from the store", chain_id);
	j = shoal_calloc(1, sizeof(*j));
	j->src = shoal_asprintf("%s/%s/layer.tar", e->layer_root, l->cache_id);
	j->dst = shoal_strdup(dst);
	j->nread = nread;
	j->level = Z_DEFAULT_COMPRESSION;
	j->done = done;
	j->ctx = ctx;
	if (shoal_engine__pool(e, pack_work, pack_done, j) < 0) {
		free(j->src);
		free(j->dst);
		free(j);
		return shoal_errorf(err, 500, "cannot queue the layer compression");
	}
	return 0;
}

/* ---- images from a registry ---- */

struct shoal_image *shoal_engine_image_put(struct shoal_engine *e, const char *config, size_t len,
					   const char *tag, const char *digest_ref, bool *changed,
					   struct shoal_err *err)
{
	struct shoal_image *img, *prev = NULL;
	char id[72];

	*changed = false;
	shoal_sha256_digest(config, len, id);
	img = shoal_engine_image_find(e, id, err);
	if (img == NULL) {
		img = shoal_engine__image_add(e, id, config, len, err);
		if (img == NULL)
			return NULL;
		/* the config is on disk before repositories.json names it: same queue */
		shoal_engine__write_async(
			e, shoal_asprintf("%s/imagedb/sha256/%s", e->image_root, id + 7),
			shoal_strndup(config, len), len);
		*changed = true;
	}
	if (tag != NULL) {
		size_t i;
		bool had = false;

		for (i = 0; i < img->ntags; i++)
			if (strcmp(img->tags[i], tag) == 0)
				had = true;
		if (!had) {
			prev = shoal_engine__tag_set(e, img, tag);
			(void)prev;
			*changed = true;
		}
	}
	if (digest_ref != NULL && shoal_engine__digest_add(e, img, digest_ref) && tag == NULL)
		*changed = true;
	shoal_engine__persist(e);
	return img;
}

/* ---- v2 metadata ---- */

static char *meta_path(struct shoal_engine *e)
{
	return shoal_asprintf("%s/distribution.json", e->image_root);
}

static json_t *meta_get(struct shoal_engine *e)
{
	if (e->distribution == NULL) {
		/* a small file read once, at the first pull or push */
		char *p = meta_path(e);

		e->distribution = json_load_file(p, 0, NULL);
		free(p);
		if (!json_is_object(e->distribution)) {
			json_decref(e->distribution);
			e->distribution = json_pack("{s:{}, s:{}}", "v2metadata-by-diffid",
						    "diffid-by-digest");
		}
	}
	return e->distribution;
}

static void meta_save(struct shoal_engine *e)
{
	char *text = json_dumps(e->distribution, JSON_COMPACT);

	shoal_engine__write_async(e, meta_path(e), text, strlen(text));
}

void shoal_engine_blob_note(struct shoal_engine *e, const char *diff_id, const char *digest,
			    const char *repo)
{
	json_t *m = meta_get(e);
	json_t *by_diff = json_object_get(m, "v2metadata-by-diffid");
	json_t *list = json_object_get(by_diff, diff_id);
	json_t *v;
	size_t i;

	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(by_diff, diff_id, list);
	}
	json_array_foreach(list, i, v) {
		if (strcmp(json_string_value(json_object_get(v, "Digest")) ?: "", digest) == 0 &&
		    strcmp(json_string_value(json_object_get(v, "SourceRepository")) ?: "", repo) ==
			    0) {
			/* newest last, as dockerd orders them */
			json_incref(v);
			json_array_remove(list, i);
			json_array_append_new(list, v);
			goto saved;
		}
	}
	json_array_append_new(list,
			      json_pack("{s:s, s:s}", "Digest", digest, "SourceRepository", repo));
	/* a bounded history per layer: dockerd keeps 50 */
	while (json_array_size(list) > 50)
		json_array_remove(list, 0);
saved:
	json_object_set_new(json_object_get(m, "diffid-by-digest"), digest, json_string(diff_id));
	meta_save(e);
}

void shoal_engine_blob_forget(struct shoal_engine *e, const char *diff_id, const char *digest,
			      const char *repo)
{
	json_t *list =
		json_object_get(json_object_get(meta_get(e), "v2metadata-by-diffid"), diff_id);
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v) {
		if (strcmp(json_string_value(json_object_get(v, "Digest")) ?: "", digest) == 0 &&
		    strcmp(json_string_value(json_object_get(v, "SourceRepository")) ?: "", repo) ==
			    0) {
			json_array_remove(list, i);
			meta_save(e);
			return;
		}
	}
}

const json_t *shoal_engine_blobs_of(struct shoal_engine *e, const char *diff_id)
{
	return json_object_get(json_object_get(meta_get(e), "v2metadata-by-diffid"), diff_id);
}

const char *shoal_engine_diff_of_blob(struct shoal_engine *e, const char *digest)
{
	return json_string_value(
		json_object_get(json_object_get(meta_get(e), "diffid-by-digest"), digest));
}
