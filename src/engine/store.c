/* The store's file work off the loop: metadata writes and tree removals go to the thread
 * pool one at a time, in the order they were asked for, so a tag written after a delete
 * never lands before it. A write queued behind another write of the same file replaces
 * it: only the newest repositories.json matters. */
#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "engine/internal.h"

#define SHOAL_LOG_MODULE "engine"

enum fsop_kind {
	FSOP_WRITE,
	FSOP_RMTREE,
	FSOP_UNLINK,
};

struct fsop {
	struct shoal_list link;
	uv_work_t work;
	struct shoal_engine *e;
	enum fsop_kind kind;
	char *path;
	char *data;
	size_t len;
	int result;
};

static void fsop_free(struct fsop *op)
{
	free(op->path);
	free(op->data);
	free(op);
}

static void fsop_next(struct shoal_engine *e);

static void fsop_work(uv_work_t *w)
{
	struct fsop *op = container_of(w, struct fsop, work);

	switch (op->kind) {
	case FSOP_WRITE:
		op->result = shoal_engine__write_file(op->path, op->data, op->len);
		break;
	case FSOP_RMTREE:
		op->result = shoal_rmtree(op->path);
		break;
	case FSOP_UNLINK:
		op->result = unlink(op->path) < 0 ? -1 : 0;
		break;
	}
}

static void fsop_done(uv_work_t *w, int status)
{
	struct fsop *op = container_of(w, struct fsop, work);
	struct shoal_engine *e = op->e;

	if (status == 0 && op->result < 0)
		shoal_log_error("store file operation failed", "path=%s error=%d",
				shoal_log_q(op->path), op->result);
	e->fsop_busy = false;
	e->jobs--;
	fsop_free(op);
	fsop_next(e);
}

static void fsop_next(struct shoal_engine *e)
{
	struct fsop *op;

	if (e->fsop_busy || shoal_list_empty(&e->fsops))
		return;
	op = shoal_list_entry(e->fsops.next, struct fsop, link);
	shoal_list_del(&op->link);
	e->fsop_busy = true;
	e->jobs++;
	if (uv_queue_work(e->loop, &op->work, fsop_work, fsop_done) < 0) {
		/* the loop is closing: do it here rather than lose it */
		fsop_work(&op->work);
		fsop_done(&op->work, 0);
	}
}

static void fsop_queue(struct shoal_engine *e, enum fsop_kind kind, char *path, char *data,
		       size_t len)
{
	struct fsop *op;

	if (kind == FSOP_WRITE && !shoal_list_empty(&e->fsops)) {
		op = shoal_list_entry(e->fsops.prev, struct fsop, link);
		if (op->kind == FSOP_WRITE && strcmp(op->path, path) == 0) {
			free(op->data);
			op->data = data;
			op->len = len;
			free(path);
			return;
		}
	}
	op = shoal_calloc(1, sizeof(*op));
	op->e = e;
	op->kind = kind;
	op->path = path;
	op->data = data;
	op->len = len;
	shoal_list_add_tail(&e->fsops, &op->link);
	fsop_next(e);
}

void shoal_engine__store_init(struct shoal_engine *e)
{
	shoal_list_init(&e->fsops);
	e->fsop_busy = false;
}

void shoal_engine__store_fini(struct shoal_engine *e)
{
	struct shoal_list *pos, *tmp;

	/* the loop has run dry before fini: anything left was never started */
	shoal_list_foreach_safe(pos, tmp, &e->fsops) {
		struct fsop *op = shoal_list_entry(pos, struct fsop, link);

		shoal_list_del(&op->link);
		fsop_work(&op->work);
		fsop_free(op);
	}
}

void shoal_engine__persist(struct shoal_engine *e)
{
	json_t *repos = json_object();
	struct shoal_list *pos;
	char *text;
	size_t i;

	shoal_list_foreach(pos, &e->images) {
		struct shoal_image *img = shoal_list_entry(pos, struct shoal_image, link);

		for (i = 0; i < img->ntags; i++) {
			struct shoal_ref ref;
			struct shoal_err err;
			char name[600];
			json_t *r;

			if (shoal_ref_parse(img->tags[i], &ref, &err) < 0)
				continue;
			snprintf(name, sizeof(name), "%s/%s", ref.domain, ref.path);
			r = json_object_get(repos, name);
			if (r == NULL) {
				r = json_object();
				json_object_set_new(repos, name, r);
			}
			json_object_set_new(r, img->tags[i], json_string(img->id));
		}
		/* digests beside the tags, under their repository, as dockerd keeps them */
		for (i = 0; i < img->ndigests; i++) {
			const char *at = strchr(img->digests[i], '@');
			char *name;
			json_t *r;

			if (at == NULL)
				continue;
			name = shoal_strndup(img->digests[i], (size_t)(at - img->digests[i]));
			r = json_object_get(repos, name);
			if (r == NULL) {
				r = json_object();
				json_object_set_new(repos, name, r);
			}
			json_object_set_new(r, img->digests[i], json_string(img->id));
			free(name);
		}
	}
	repos = json_pack("{s:o}", "Repositories", repos);
	text = json_dumps(repos, JSON_COMPACT);
	json_decref(repos);
	fsop_queue(e, FSOP_WRITE, shoal_asprintf("%s/repositories.json", e->image_root), text,
		   strlen(text));
}

/* Moves path out of the store's sight at once (a rename: one metadata call) and removes
 * it on the pool. A load running on the pool meanwhile must not find a layer that is on
 * its way out and build an image on it. */
static void trash(struct shoal_engine *e, const char *path)
{
	static unsigned seq;
	char *dst = shoal_asprintf("%s/trash-%d-%u", e->tmp_root, (int)getpid(), seq++);

	if (rename(path, dst) == 0) {
		fsop_queue(e, FSOP_RMTREE, dst, NULL, 0);
		return;
	}
	free(dst);
	fsop_queue(e, FSOP_RMTREE, shoal_strdup(path), NULL, 0);
}

void shoal_engine__layer_remove(struct shoal_engine *e, struct shoal_layer *l)
{
	char *db = shoal_asprintf("%s/layerdb/sha256/%s", e->image_root, l->chain_id + 7);
	char *dir = shoal_asprintf("%s/%s", e->layer_root, l->cache_id);

	trash(e, db);
	trash(e, dir);
	free(db);
	free(dir);
	shoal_list_del(&l->link);
	free(l);
}

void shoal_engine__write_async(struct shoal_engine *e, char *path, char *data, size_t len)
{
	fsop_queue(e, FSOP_WRITE, path, data, len);
}

void shoal_engine__rmtree_async(struct shoal_engine *e, char *path)
{
	fsop_queue(e, FSOP_RMTREE, path, NULL, 0);
}

struct pool_job {
	uv_work_t work;
	struct shoal_engine *e;
	void (*fn)(void *arg);
	void (*done)(void *arg, int status);
	void *arg;
};

static void pool_work(uv_work_t *w)
{
	struct pool_job *j = container_of(w, struct pool_job, work);

	j->fn(j->arg);
}

static void pool_done(uv_work_t *w, int status)
{
	struct pool_job *j = container_of(w, struct pool_job, work);

	j->e->jobs--;
	j->done(j->arg, status);
	free(j);
}

int shoal_engine__pool(struct shoal_engine *e, void (*work)(void *arg),
		       void (*done)(void *arg, int status), void *arg)
{
	struct pool_job *j = shoal_calloc(1, sizeof(*j));
	int rv;

	j->e = e;
	j->fn = work;
	j->done = done;
	j->arg = arg;
	rv = uv_queue_work(e->loop, &j->work, pool_work, pool_done);
	if (rv < 0) {
		free(j);
		return rv;
	}
	e->jobs++;
	return 0;
}

void shoal_engine__image_files_remove(struct shoal_engine *e, const char *id)
{
	fsop_queue(e, FSOP_UNLINK, shoal_asprintf("%s/imagedb/sha256/%s", e->image_root, id + 7),
		   NULL, 0);
}
