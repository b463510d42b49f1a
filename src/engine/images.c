/* The image store: configs by digest under image/imagedb, layers by chain ID under
 * image/layerdb with their trees in overlay/<cache-id>/diff, tags in
 * image/repositories.json (the layout dockerd's overlay2 store uses). Lookups, Docker's
 * JSON for images, tagging and deleting. Loading is in load.c, saving in save.c. */
#include "engine/engine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/internal.h"

#define SHOAL_LOG_MODULE "engine"

/* ---- small files (startup reads; writes go through store_persist on the pool) ---- */

char *shoal_engine__read_file(const char *path, size_t max, size_t *len)
{
	struct shoal_buf b;
	char tmp[8192];
	char *data;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	shoal_buf_init(&b);
	while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
		if (b.len + (size_t)n > max) {
			close(fd);
			shoal_buf_fini(&b);
			errno = EFBIG;
			return NULL;
		}
		shoal_buf_add(&b, tmp, (size_t)n);
	}
	close(fd);
	if (n < 0) {
		shoal_buf_fini(&b);
		return NULL;
	}
	data = shoal_buf_detach(&b, len);
	shoal_buf_fini(&b);
	return data;
}

static int write_file(const char *path, const void *data, size_t len, bool sync)
{
	char *tmp = shoal_asprintf("%s.tmp-%d", path, (int)getpid());
	int fd, rv = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rv = -errno;
		goto out;
	}
	if (write(fd, data, len) != (ssize_t)len || (sync && fsync(fd) < 0)) {
		rv = errno ? -errno : -EIO;
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		rv = -errno;
		unlink(tmp);
	}
out:
	free(tmp);
	return rv;
}

int shoal_engine__write_file(const char *path, const void *data, size_t len)
{
	return write_file(path, data, len, true);
}

int shoal_engine__write_file_nosync(const char *path, const void *data, size_t len)
{
	return write_file(path, data, len, false);
}

int shoal_engine__mkdirs(const char *path, mode_t mode)
{
	char *p = shoal_strdup(path);
	char *s;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			free(p);
			return -errno;
		}
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST) {
		free(p);
		return -errno;
	}
	free(p);
	return 0;
}

/* ---- layers and images in memory ---- */

struct shoal_layer *shoal_engine_layer_find(struct shoal_engine *e, const char *chain_id)
{
	struct shoal_list *pos;

	shoal_list_foreach(pos, &e->layers) {
		struct shoal_layer *l = shoal_list_entry(pos, struct shoal_layer, link);

		if (strcmp(l->chain_id, chain_id) == 0)
			return l;
	}
	return NULL;
}

void shoal_engine__chain_id(const char *parent_chain, const char *diff_id, char *out)
{
	char *s;

	if (parent_chain == NULL || parent_chain[0] == '\0') {
		snprintf(out, 72, "%s", diff_id);
		return;
	}
	s = shoal_asprintf("%s %s", parent_chain, diff_id);
	shoal_sha256_digest(s, strlen(s), out);
	free(s);
}

static void image_free(struct shoal_image *img)
{
	size_t i;

	for (i = 0; i < img->ntags; i++)
		free(img->tags[i]);
	free(img->tags);
	for (i = 0; i < img->ndigests; i++)
		free(img->digests[i]);
	free(img->digests);
	for (i = 0; i < img->nlayers; i++)
		free(img->layers[i]);
	free(img->layers);
	json_decref(img->config);
	free(img->config_raw);
	free(img);
}

static struct shoal_image *image_by_id(struct shoal_engine *e, const char *id)
{
	struct shoal_list *pos;

	shoal_list_foreach(pos, &e->images) {
		struct shoal_image *img = shoal_list_entry(pos, struct shoal_image, link);

		if (strcmp(img->id, id) == 0)
			return img;
	}
	return NULL;
}

/* Builds an image from its config bytes; its layers must be in the store. The image is
 * added to e (or the existing one with that ID is returned). */
struct shoal_image *shoal_engine__image_add(struct shoal_engine *e, const char *id, const char *raw,
					    size_t len, struct shoal_err *err)
{
	struct shoal_image *img = image_by_id(e, id);
	json_t *config, *diff_ids;
	const char *created;
	char chain[72] = "";
	json_t *d;
	size_t i;

	if (img != NULL)
		return img;
	config = json_loadb(raw, len, 0, NULL);
	diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
	created = json_string_value(json_object_get(config, "created"));
	if (!json_is_object(config) || !json_is_array(diff_ids)) {
		json_decref(config);
		shoal_errorf(err, 400, "invalid image config %s: no rootfs.diff_ids", id);
		return NULL;
	}
	img = shoal_calloc(1, sizeof(*img));
	snprintf(img->id, sizeof(img->id), "%s", id);
	img->config = config;
	img->config_raw = shoal_strndup(raw, len);
	img->config_len = len;
	if (created == NULL || shoal_time_parse(created, &img->created_ns) < 0)
		img->created_ns = 0;
	img->layers = shoal_calloc(json_array_size(diff_ids) + 1, sizeof(*img->layers));
	json_array_foreach(diff_ids, i, d) {
		struct shoal_layer *l;

		if (!json_is_string(d)) {
			shoal_errorf(err, 400, "invalid image config %s: bad diff_id", id);
			goto fail;
		}
		shoal_engine__chain_id(chain, json_string_value(d), chain);
		l = shoal_engine_layer_find(e, chain);
		if (l == NULL) {
			shoal_errorf(err, 500, "image %s: layer %s is missing from the store", id,
				     chain);
			goto fail;
		}
		img->layers[img->nlayers++] = shoal_strdup(chain);
		img->size += l->size;
	}
	for (i = 0; i < img->nlayers; i++)
		shoal_engine_layer_find(e, img->layers[i])->refs++;
	shoal_list_add_tail(&e->images, &img->link);
	e->nimages++;
	return img;
fail:
	image_free(img);
	return NULL;
}

static bool image_has_tag(const struct shoal_image *img, const char *full)
{
	size_t i;

	for (i = 0; i < img->ntags; i++)
		if (strcmp(img->tags[i], full) == 0)
			return true;
	return false;
}

static struct shoal_image *image_by_tag(struct shoal_engine *e, const char *full)
{
	struct shoal_list *pos;

	shoal_list_foreach(pos, &e->images) {
		struct shoal_image *img = shoal_list_entry(pos, struct shoal_image, link);

		if (image_has_tag(img, full))
			return img;
	}
	return NULL;
}

static bool tag_remove(struct shoal_image *img, const char *full)
{
	size_t i;

	for (i = 0; i < img->ntags; i++) {
		if (strcmp(img->tags[i], full) != 0)
			continue;
		free(img->tags[i]);
		memmove(&img->tags[i], &img->tags[i + 1], (img->ntags - i - 1) * sizeof(char *));
		img->ntags--;
		return true;
	}
	return false;
}

/* Points full at img; returns the image it was taken from, if any. */
struct shoal_image *shoal_engine__tag_set(struct shoal_engine *e, struct shoal_image *img,
					  const char *full)
{
	struct shoal_image *old = image_by_tag(e, full);

	if (old == img)
		return NULL;
	if (old != NULL)
		tag_remove(old, full);
	img->tags = shoal_realloc(img->tags, (img->ntags + 1) * sizeof(*img->tags));
	img->tags[img->ntags++] = shoal_strdup(full);
	return old;
}

static bool image_has_digest(const struct shoal_image *img, const char *full)
{
	size_t i;

	for (i = 0; i < img->ndigests; i++)
		if (strcmp(img->digests[i], full) == 0)
			return true;
	return false;
}

static struct shoal_image *image_by_digest(struct shoal_engine *e, const char *full)
{
	struct shoal_list *pos;

	shoal_list_foreach(pos, &e->images) {
		struct shoal_image *img = shoal_list_entry(pos, struct shoal_image, link);

		if (image_has_digest(img, full))
			return img;
	}
	return NULL;
}

bool shoal_engine__digest_add(struct shoal_engine *e, struct shoal_image *img, const char *full)
{
	/* the reference store keeps a digest on the image it first named */
	if (image_by_digest(e, full) != NULL)
		return false;
	img->digests = shoal_realloc(img->digests, (img->ndigests + 1) * sizeof(char *));
	img->digests[img->ndigests++] = shoal_strdup(full);
	return true;
}

static void digest_remove_at(struct shoal_image *img, size_t i)
{
	free(img->digests[i]);
	memmove(&img->digests[i], &img->digests[i + 1], (img->ndigests - i - 1) * sizeof(char *));
	img->ndigests--;
}

static void familiar_of(const char *full, char *out, size_t size)
{
	struct shoal_ref ref;
	struct shoal_err err;

	if (shoal_ref_parse(full, &ref, &err) < 0) {
		snprintf(out, size, "%s", full);
		return;
	}
	shoal_ref_familiar(&ref, out, size);
}

struct shoal_image *shoal_engine_image_find(struct shoal_engine *e, const char *name,
					    struct shoal_err *err)
{
	struct shoal_image *found = NULL;
	struct shoal_ref ref;
	struct shoal_err perr;
	char full[600];
	const char *hex = name;
	struct shoal_list *pos;
	size_t n;

	if (strncmp(name, "sha256:", 7) == 0 && strlen(name) == 71) {
		found = image_by_id(e, name);
		if (found != NULL)
			return found;
	}
	if (shoal_ref_parse(name, &ref, &perr) == 0) {
		if (ref.digest[0] != '\0') {
			/* name@digest (a tag beside it is ignored, as dockerd does): the digest
			 * of a pulled or pushed manifest, or the config's */
			ref.tag[0] = '\0';
			shoal_ref_full(&ref, full, sizeof(full));
			found = image_by_digest(e, full);
			if (found == NULL)
				found = image_by_id(e, ref.digest);
		} else {
			shoal_ref_full(&ref, full, sizeof(full));
			found = image_by_tag(e, full);
		}
		if (found != NULL)
			return found;
	}
	if (shoal_ref_is_id_prefix(name)) {
		if (strncmp(hex, "sha256:", 7) == 0)
			hex += 7;
		n = strlen(hex);
		shoal_list_foreach(pos, &e->images) {
			struct shoal_image *img = shoal_list_entry(pos, struct shoal_image, link);

			if (strncmp(img->id + 7, hex, n) != 0)
				continue;
			if (found != NULL) {
				shoal_errorf(err, 404, "No such image: %s", name);
				return NULL;
			}
			found = img;
		}
		if (found != NULL)
			return found;
	}
	shoal_errorf(err, 404, "No such image: %s", name);
	return NULL;
}

/* ---- Docker's JSON ---- */

static json_t *repo_tags_json(const struct shoal_image *img, bool none_placeholder)
{
	json_t *a = json_array();
	char fam[600];
	size_t i;

	for (i = 0; i < img->ntags; i++) {
		familiar_of(img->tags[i], fam, sizeof(fam));
		json_array_append_new(a, json_string(fam));
	}
	if (img->ntags == 0 && none_placeholder)
		json_array_append_new(a, json_string("<none>:<none>"));
	return a;
}

static json_t *repo_digests_json(const struct shoal_image *img)
{
	json_t *a = json_array();
	char fam[600];
	size_t i;

	for (i = 0; i < img->ndigests; i++) {
		familiar_of(img->digests[i], fam, sizeof(fam));
		json_array_append_new(a, json_string(fam));
	}
	return a;
}

static json_t *diff_ids_json(struct shoal_engine *e, const struct shoal_image *img)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < img->nlayers; i++) {
		struct shoal_layer *l = shoal_engine_layer_find(e, img->layers[i]);

		json_array_append_new(a, json_string(l != NULL ? l->diff_id : img->layers[i]));
	}
	return a;
}

static json_t *created_json(const struct shoal_image *img)
{
	const char *c = json_string_value(json_object_get(img->config, "created"));
	char buf[64];

	if (c != NULL)
		return json_string(c);
	shoal_time_format_rfc3339nano(img->created_ns, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *config_or_null(const json_t *config, const char *key)
{
	json_t *v = json_object_get(config, key);

	return v != NULL ? json_deep_copy(v) : json_null();
}

json_t *shoal_engine_image_inspect_json(struct shoal_engine *e, const struct shoal_image *img)
{
	json_t *j = json_object();
	json_t *lower = NULL;
	struct shoal_buf b;
	size_t i;
	const char *s;

	json_object_set_new(j, "Id", json_string(img->id));
	json_object_set_new(j, "RepoTags", repo_tags_json(img, false));
	json_object_set_new(j, "RepoDigests", repo_digests_json(img));
	json_object_set_new(j, "Parent", json_string(""));
	s = json_string_value(json_object_get(img->config, "comment"));
	json_object_set_new(j, "Comment", json_string(s != NULL ? s : ""));
	json_object_set_new(j, "Created", created_json(img));
	s = json_string_value(json_object_get(img->config, "container"));
	json_object_set_new(j, "Container", json_string(s != NULL ? s : ""));
	json_object_set_new(j, "ContainerConfig", config_or_null(img->config, "container_config"));
	s = json_string_value(json_object_get(img->config, "docker_version"));
	json_object_set_new(j, "DockerVersion", json_string(s != NULL ? s : ""));
	s = json_string_value(json_object_get(img->config, "author"));
	json_object_set_new(j, "Author", json_string(s != NULL ? s : ""));
	json_object_set_new(j, "Config", config_or_null(img->config, "config"));
	s = json_string_value(json_object_get(img->config, "architecture"));
	json_object_set_new(j, "Architecture", json_string(s != NULL ? s : ""));
	s = json_string_value(json_object_get(img->config, "variant"));
	if (s != NULL)
		json_object_set_new(j, "Variant", json_string(s));
	s = json_string_value(json_object_get(img->config, "os"));
	json_object_set_new(j, "Os", json_string(s != NULL ? s : ""));
	json_object_set_new(j, "Size", json_integer(img->size));
	json_object_set_new(j, "VirtualSize", json_integer(img->size));
	/* overlay lower dirs, top first, as dockerd lists them */
	shoal_buf_init(&b);
	for (i = img->nlayers; i-- > 1;) {
		struct shoal_layer *l = shoal_engine_layer_find(e, img->layers[i - 1]);

		if (l == NULL)
			continue;
		if (b.len > 0)
			shoal_buf_addc(&b, ':');
		shoal_buf_addf(&b, "%s/%s/diff", e->layer_root, l->cache_id);
	}
	if (b.len > 0)
		lower = json_string(b.data);
	shoal_buf_fini(&b);
	{
		struct shoal_layer *top =
			img->nlayers > 0 ?
				shoal_engine_layer_find(e, img->layers[img->nlayers - 1]) :
				NULL;
		json_t *data = json_object();
		char *p;

		if (lower != NULL)
			json_object_set_new(data, "LowerDir", lower);
		if (top != NULL) {
			p = shoal_asprintf("%s/%s/merged", e->layer_root, top->cache_id);
			json_object_set_new(data, "MergedDir", json_string(p));
			free(p);
			p = shoal_asprintf("%s/%s/diff", e->layer_root, top->cache_id);
			json_object_set_new(data, "UpperDir", json_string(p));
			free(p);
			p = shoal_asprintf("%s/%s/work", e->layer_root, top->cache_id);
			json_object_set_new(data, "WorkDir", json_string(p));
			free(p);
		}
		json_object_set_new(j, "GraphDriver",
				    json_pack("{s:o, s:s}", "Data", data, "Name", "overlay2"));
	}
	json_object_set_new(
		j, "RootFS",
		json_pack("{s:s, s:o}", "Type", "layers", "Layers", diff_ids_json(e, img)));
	json_object_set_new(j, "Metadata",
			    json_pack("{s:s}", "LastTagTime", "0001-01-01T00:00:00Z"));
	return j;
}

json_t *shoal_engine_image_summary_json(struct shoal_engine *e, const struct shoal_image *img)
{
	json_t *labels = json_object_get(json_object_get(img->config, "config"), "Labels");
	json_t *digests = repo_digests_json(img);
	json_t *tags;

	(void)e;
	/* dockerd: placeholders only for an image with neither; digests alone leave the tags
	 * null */
	if (img->ntags == 0 && img->ndigests == 0) {
		json_array_append_new(digests, json_string("<none>@<none>"));
		tags = repo_tags_json(img, true);
	} else {
		tags = img->ntags > 0 ? repo_tags_json(img, false) : json_null();
	}
	return json_pack("{s:i, s:I, s:s, s:o, s:s, s:o, s:o, s:i, s:I, s:I}", "Containers", -1,
			 "Created", (json_int_t)(img->created_ns / 1000000000LL), "Id", img->id,
			 "Labels", json_is_object(labels) ? json_deep_copy(labels) : json_null(),
			 "ParentId", "", "RepoDigests", digests, "RepoTags", tags, "SharedSize", -1,
			 "Size", (json_int_t)img->size, "VirtualSize", (json_int_t)img->size);
}

json_t *shoal_engine_image_history_json(struct shoal_engine *e, const struct shoal_image *img)
{
	json_t *hist = json_object_get(img->config, "history");
	json_t *out = json_array();
	size_t layer = 0, i;
	json_t *h;
	json_t *items = json_array();

	/* history runs oldest first; layers are consumed by entries that are not empty */
	json_array_foreach(hist, i, h) {
		const char *created = json_string_value(json_object_get(h, "created"));
		const char *by = json_string_value(json_object_get(h, "created_by"));
		const char *comment = json_string_value(json_object_get(h, "comment"));
		int64_t ns = 0, size = 0;

		if (created != NULL)
			shoal_time_parse(created, &ns);
		if (!json_is_true(json_object_get(h, "empty_layer")) && layer < img->nlayers) {
			struct shoal_layer *l = shoal_engine_layer_find(e, img->layers[layer++]);

			size = l != NULL ? l->size : 0;
		}
		json_array_append_new(
			items, json_pack("{s:s, s:I, s:s, s:n, s:I, s:s}", "Id", "<missing>",
					 "Created", (json_int_t)(ns / 1000000000LL), "CreatedBy",
					 by != NULL ? by : "", "Tags", "Size", (json_int_t)size,
					 "Comment", comment != NULL ? comment : ""));
	}
	if (json_array_size(items) == 0)
		json_array_append_new(items, json_pack("{s:s, s:I, s:s, s:n, s:I, s:s}", "Id",
						       "<missing>", "Created",
						       (json_int_t)(img->created_ns / 1000000000LL),
						       "CreatedBy", "", "Tags", "Size",
						       (json_int_t)img->size, "Comment", ""));
	/* newest first; the newest entry is the image itself */
	for (i = json_array_size(items); i-- > 0;)
		json_array_append(out, json_array_get(items, i));
	json_decref(items);
	h = json_array_get(out, 0);
	json_object_set_new(h, "Id", json_string(img->id));
	json_object_set_new(h, "Tags", img->ntags > 0 ? repo_tags_json(img, false) : json_null());
	return out;
}

/* ---- tag and delete ---- */

static void emit(struct shoal_engine *e, const char *action, const struct shoal_image *img,
		 const char *name)
{
	if (e->event == NULL)
		return;
	e->event(e->event_ctx, "image", action, img->id,
		 json_pack("{s:s}", "name", name != NULL ? name : img->id));
}

int shoal_engine_image_tag(struct shoal_engine *e, struct shoal_image *img, const char *repo,
			   const char *tag, struct shoal_err *err)
{
	struct shoal_ref ref;
	char *s;
	char full[600], fam[600];

	if (tag != NULL && tag[0] != '\0')
		s = shoal_asprintf("%s:%s", repo, tag);
	else
		s = shoal_strdup(repo);
	if (shoal_ref_parse(s, &ref, err) < 0) {
		free(s);
		return -1;
	}
	free(s);
	if (ref.digest[0] != '\0')
		return shoal_errorf(err, 400, "refusing to create a tag with a digest reference");
	if (ref.tag[0] == '\0')
		snprintf(ref.tag, sizeof(ref.tag), "latest");
	shoal_ref_full(&ref, full, sizeof(full));
	shoal_engine__tag_set(e, img, full);
	shoal_engine__persist(e);
	shoal_ref_familiar(&ref, fam, sizeof(fam));
	emit(e, "tag", img, fam);
	return 0;
}

/* Drops img from memory and queues removal of its files and of layers nobody holds. */
static void image_remove(struct shoal_engine *e, struct shoal_image *img, json_t *report)
{
	size_t i;

	json_array_append_new(report, json_pack("{s:s}", "Deleted", img->id));
	for (i = img->nlayers; i-- > 0;) {
		struct shoal_layer *l = shoal_engine_layer_find(e, img->layers[i]);

		if (l == NULL || --l->refs > 0)
			continue;
		/* a layer also counts as held while a child layer exists */
		json_array_append_new(report, json_pack("{s:s}", "Deleted", l->chain_id));
		shoal_engine__layer_remove(e, l);
	}
	shoal_list_del(&img->link);
	e->nimages--;
	shoal_engine__image_files_remove(e, img->id);
	emit(e, "delete", img, img->id);
	image_free(img);
}

int shoal_engine_image_delete(struct shoal_engine *e, const char *name, bool force, bool noprune,
			      json_t **report, struct shoal_err *err)
{
	struct shoal_image *img = shoal_engine_image_find(e, name, err);
	struct shoal_ref ref;
	struct shoal_err perr;
	char full[600], fam[600];
	bool by_ref = false, by_digest = false;
	char shortid[13];
	size_t i;

	(void)noprune;
	*report = NULL;
	if (img == NULL)
		return -1;
	snprintf(shortid, sizeof(shortid), "%.12s", img->id + 7);
	if (shoal_ref_parse(name, &ref, &perr) == 0 && ref.tag[0] != '\0') {
		shoal_ref_full(&ref, full, sizeof(full));
		by_ref = image_has_tag(img, full);
	} else if (ref.digest[0] != '\0' && ref.tag[0] == '\0') {
		shoal_ref_full(&ref, full, sizeof(full));
		by_digest = image_has_digest(img, full);
	}
	if (img->users > 0) {
		/* dockerd names a container that holds it; a running one cannot be forced */
		struct shoal_container *user = NULL, *running = NULL;
		struct shoal_list *pos;

		shoal_list_foreach(pos, &e->containers) {
			struct shoal_container *c =
				shoal_list_entry(pos, struct shoal_container, link);

			if (strcmp(c->image_id, img->id) != 0)
				continue;
			user = c;
			if (c->state == SHOAL_CONTAINER_RUNNING ||
			    c->state == SHOAL_CONTAINER_PAUSED)
				running = c;
		}
		if (running != NULL && !(by_ref && img->ntags > 1))
			return shoal_errorf(
				err, 409,
				"conflict: unable to delete %s (cannot be forced) - image is being used by running container %.12s",
				by_ref ? name : shortid, running->id);
		if (user != NULL && !force && !(by_ref && img->ntags > 1))
			return shoal_errorf(
				err, 409,
				"conflict: unable to delete %s (must be forced) - image is being used by stopped container %.12s",
				by_ref ? name : shortid, user->id);
	}
	*report = json_array();
	if (by_digest) {
		for (i = 0; i < img->ndigests; i++)
			if (strcmp(img->digests[i], full) == 0)
				digest_remove_at(img, i);
		shoal_ref_familiar(&ref, fam, sizeof(fam));
		json_array_append_new(*report, json_pack("{s:s}", "Untagged", fam));
		emit(e, "untag", img, fam);
		if (img->ntags == 0 && img->ndigests == 0 && img->users == 0)
			image_remove(e, img, *report);
		shoal_engine__persist(e);
		return 0;
	}
	if (by_ref) {
		char repo[600];
		bool repo_tagged = false;

		tag_remove(img, full);
		shoal_ref_familiar(&ref, fam, sizeof(fam));
		json_array_append_new(*report, json_pack("{s:s}", "Untagged", fam));
		emit(e, "untag", img, fam);
		/* dockerd: with the repository's last tag go its digest references */
		snprintf(repo, sizeof(repo), "%s/%s", ref.domain, ref.path);
		for (i = 0; i < img->ntags; i++)
			if (strncmp(img->tags[i], repo, strlen(repo)) == 0 &&
			    img->tags[i][strlen(repo)] == ':')
				repo_tagged = true;
		for (i = 0; !repo_tagged && i < img->ndigests;) {
			if (strncmp(img->digests[i], repo, strlen(repo)) != 0 ||
			    img->digests[i][strlen(repo)] != '@') {
				i++;
				continue;
			}
			familiar_of(img->digests[i], fam, sizeof(fam));
			json_array_append_new(*report, json_pack("{s:s}", "Untagged", fam));
			digest_remove_at(img, i);
		}
		if (img->ntags == 0 && img->ndigests == 0 && img->users == 0)
			image_remove(e, img, *report);
		shoal_engine__persist(e);
		return 0;
	}
	if (img->ntags > 1 && !force) {
		json_decref(*report);
		*report = NULL;
		return shoal_errorf(
			err, 409,
			"conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories",
			shortid);
	}
	while (img->ntags > 0) {
		familiar_of(img->tags[img->ntags - 1], fam, sizeof(fam));
		json_array_append_new(*report, json_pack("{s:s}", "Untagged", fam));
		emit(e, "untag", img, fam);
		free(img->tags[--img->ntags]);
	}
	while (img->ndigests > 0) {
		familiar_of(img->digests[img->ndigests - 1], fam, sizeof(fam));
		json_array_append_new(*report, json_pack("{s:s}", "Untagged", fam));
		digest_remove_at(img, img->ndigests - 1);
	}
	if (img->users == 0)
		image_remove(e, img, *report);
	shoal_engine__persist(e);
	return 0;
}

/* ---- opening the store ---- */

static int load_layers(struct shoal_engine *e)
{
	char *dir = shoal_asprintf("%s/layerdb/sha256", e->image_root);
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		free(dir);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct shoal_layer *l;
		char *p, *v;

		if (de->d_name[0] == '.' || strlen(de->d_name) != 64)
			continue;
		l = shoal_calloc(1, sizeof(*l));
		snprintf(l->chain_id, sizeof(l->chain_id), "sha256:%s", de->d_name);
		p = shoal_asprintf("%s/%s/diff", dir, de->d_name);
		v = shoal_engine__read_file(p, 100, NULL);
		free(p);
		if (v != NULL)
			snprintf(l->diff_id, sizeof(l->diff_id), "%s", v);
		free(v);
		p = shoal_asprintf("%s/%s/parent", dir, de->d_name);
		v = shoal_engine__read_file(p, 100, NULL);
		free(p);
		if (v != NULL)
			snprintf(l->parent, sizeof(l->parent), "%s", v);
		free(v);
		p = shoal_asprintf("%s/%s/cache-id", dir, de->d_name);
		v = shoal_engine__read_file(p, 100, NULL);
		free(p);
		if (v != NULL)
			snprintf(l->cache_id, sizeof(l->cache_id), "%s", v);
		free(v);
		p = shoal_asprintf("%s/%s/size", dir, de->d_name);
		v = shoal_engine__read_file(p, 100, NULL);
		free(p);
		if (v != NULL)
			l->size = strtoll(v, NULL, 10);
		free(v);
		if (l->diff_id[0] == '\0' || l->cache_id[0] == '\0') {
			shoal_log_warn("ignoring incomplete layer", "layer=%s", l->chain_id);
			free(l);
			continue;
		}
		shoal_list_add_tail(&e->layers, &l->link);
	}
	closedir(d);
	free(dir);
	return 0;
}

static void load_images(struct shoal_engine *e)
{
	char *dir = shoal_asprintf("%s/imagedb/sha256", e->image_root);
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct shoal_err err;
		char id[72], digest[72];
		char *p, *bytes;
		size_t len;

		if (de->d_name[0] == '.' || strlen(de->d_name) != 64)
			continue;
		p = shoal_asprintf("%s/%s", dir, de->d_name);
		bytes = shoal_engine__read_file(p, 16 * 1024 * 1024, &len);
		free(p);
		if (bytes == NULL)
			continue;
		snprintf(id, sizeof(id), "sha256:%s", de->d_name);
		shoal_sha256_digest(bytes, len, digest);
		if (strcmp(digest, id) != 0 ||
		    shoal_engine__image_add(e, id, bytes, len, &err) == NULL)
			shoal_log_warn("ignoring broken image", "image=%s", id);
		free(bytes);
	}
	closedir(d);
	free(dir);
}

static void load_tags(struct shoal_engine *e)
{
	char *p = shoal_asprintf("%s/repositories.json", e->image_root);
	json_t *root = json_load_file(p, 0, NULL);
	json_t *repos = json_object_get(root, "Repositories");
	const char *repo, *full;
	json_t *tags, *id;

	free(p);
	json_object_foreach(repos, repo, tags) {
		json_object_foreach(tags, full, id) {
			struct shoal_image *img = image_by_id(e, json_string_value(id));

			if (img == NULL)
				continue;
			if (strchr(full, '@') != NULL)
				shoal_engine__digest_add(e, img, full);
			else if (!image_has_tag(img, full))
				shoal_engine__tag_set(e, img, full);
		}
	}
	json_decref(root);
}

int shoal_engine_init(struct shoal_engine *e, uv_loop_t *loop, const char *root,
		      struct shoal_err *err)
{
	const char *dirs[4];
	size_t i;
	int rv;

	memset(e, 0, sizeof(*e));
	e->loop = loop;
	e->root = shoal_strdup(root);
	e->image_root = shoal_asprintf("%s/image", root);
	e->layer_root = shoal_asprintf("%s/overlay", root);
	e->tmp_root = shoal_asprintf("%s/tmp", root);
	shoal_list_init(&e->images);
	shoal_list_init(&e->layers);
	shoal_list_init(&e->containers);
	shoal_engine__store_init(e);
	/* uploads and staging trees of a previous run are of no use now */
	shoal_rmtree(e->tmp_root);
	dirs[0] = e->image_root;
	dirs[1] = e->layer_root;
	dirs[2] = e->tmp_root;
	dirs[3] = NULL;
	for (i = 0; dirs[i] != NULL; i++) {
		rv = shoal_engine__mkdirs(dirs[i], 0700);
		if (rv < 0)
			return shoal_errorf_sys(err, 500, rv, "create %s: %s", dirs[i],
						strerror(-rv));
	}
	load_layers(e);
	load_images(e);
	load_tags(e);
	shoal_log_info("image store open", "images=%zu root=%s", e->nimages,
		       shoal_log_q(e->image_root));
	return shoal_engine_volumes_init(e, err);
}

void shoal_engine_fini(struct shoal_engine *e)
{
	struct shoal_list *pos, *tmp;

	shoal_engine__containers_fini(e);
	shoal_engine_volumes_fini(e);
	shoal_list_foreach_safe(pos, tmp, &e->images) {
		struct shoal_image *img = shoal_list_entry(pos, struct shoal_image, link);

		shoal_list_del(&img->link);
		image_free(img);
	}
	shoal_list_foreach_safe(pos, tmp, &e->layers) {
		struct shoal_layer *l = shoal_list_entry(pos, struct shoal_layer, link);

		shoal_list_del(&l->link);
		free(l);
	}
	shoal_engine__store_fini(e);
	json_decref(e->distribution);
	free(e->root);
	free(e->exec_root);
	free(e->shim_path);
	free(e->runtime);
	json_decref(e->runtimes);
	free(e->init_path);
	free(e->image_root);
	free(e->layer_root);
	free(e->tmp_root);
}
