/* Volume endpoints: create, list (with dockerd's filters), inspect, remove, prune. The
 * engine keeps the volumes and their files (src/engine/volumes.c); this file reads
 * Docker's arguments and writes Docker's answers. */
#include "api/internal.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "engine/engine.h"

#define SHOAL_LOG_MODULE "api"

static struct shoal_engine *engine_of(struct shoal_http_req *req)
{
	return ((struct shoal_api *)req->ctx)->cfg.engine;
}

/* ---- create ---- */

/* Body: {"Name", "Driver", "DriverOpts", "Labels"}, each optional. */
static void created_on_disk(void *ctx, const struct shoal_err *err)
{
	struct shoal_http_req *req = ctx;
	json_t *out = req->data;

	(void)err;
	shoal_http_reply_json(req, 201, out);
	json_decref(out);
}

void shoal_api_volumes_create(struct shoal_http_req *req)
{
	struct shoal_engine *e = engine_of(req);
	struct shoal_volume *v;
	struct shoal_err err;
	json_error_t jerr;
	json_t *body = NULL, *name, *driver, *opts, *labels;

	if (req->body.len > 0) {
		body = json_loadb(req->body.data, req->body.len, 0, &jerr);
		if (body == NULL) {
			shoal_errorf(&err, 400, "invalid JSON: %s", jerr.text);
			shoal_http_reply_err(req, &err);
			return;
		}
	} else {
		body = json_object();
	}
	if (!json_is_object(body)) {
		shoal_errorf(&err, 400, "invalid JSON: not an object");
		goto out_err;
	}
	name = json_object_get(body, "Name");
	driver = json_object_get(body, "Driver");
	opts = json_object_get(body, "DriverOpts");
	labels = json_object_get(body, "Labels");
	if ((name != NULL && !json_is_string(name) && !json_is_null(name)) ||
	    (driver != NULL && !json_is_string(driver) && !json_is_null(driver))) {
		shoal_errorf(&err, 400, "json: Name and Driver must be strings");
		goto out_err;
	}
	if ((opts != NULL && !json_is_object(opts) && !json_is_null(opts)) ||
	    (labels != NULL && !json_is_object(labels) && !json_is_null(labels))) {
		shoal_errorf(&err, 400, "json: DriverOpts and Labels must be objects");
		goto out_err;
	}
	v = shoal_engine_volume_create(e, json_string_value(name), json_string_value(driver), opts,
				       labels, &err);
	if (v == NULL)
		goto out_err;
	/* answered once its directory is made: the client may use it at once */
	req->data = shoal_engine_volume_json(e, v);
	shoal_engine_volumes_sync(e, created_on_disk, req);
	json_decref(body);
	return;
out_err:
	shoal_http_reply_err(req, &err);
	json_decref(body);
}

/* ---- list and inspect ---- */

/* Docker's Args.Match: each wanted value is a regular expression tried on the name. */
static bool name_matches(const struct shoal_filters *f, const char *name)
{
	json_t *set = json_object_get(f->m, "name");
	const char *want;
	json_t *v;

	if (set == NULL || json_object_size(set) == 0)
		return true;
	json_object_foreach(set, want, v) {
		regex_t re;
		bool ok;

		if (regcomp(&re, want, REG_EXTENDED | REG_NOSUB) != 0) {
			if (strstr(name, want) != NULL)
				return true;
			continue;
		}
		ok = regexec(&re, name, 0, NULL, 0) == 0;
		regfree(&re);
		if (ok)
			return true;
	}
	return false;
}

/* "dangling": 1 only unused volumes, 0 only used ones, -1 no filter; -2 a bad value. */
static int dangling_of(const struct shoal_filters *f, const char **bad)
{
	json_t *set = json_object_get(f->m, "dangling");
	const char *want;
	json_t *v;
	int d = -1;

	json_object_foreach(set, want, v) {
		if (strcmp(want, "true") == 0 || strcmp(want, "1") == 0) {
			d = 1;
		} else if (strcmp(want, "false") == 0 || strcmp(want, "0") == 0) {
			d = 0;
		} else {
			*bad = want;
			return -2;
		}
	}
	return d;
}

void shoal_api_volumes_list(struct shoal_http_req *req)
{
	static const char *const allowed[] = { "dangling", "driver", "label", "name", NULL };
	struct shoal_engine *e = engine_of(req);
	struct shoal_filters f;
	struct shoal_err err;
	struct shoal_list *pos;
	const char *bad = NULL;
	json_t *vols, *out;
	int dangling;

	if (shoal_filters_parse(shoal_http_query(req, "filters"), &f, &err) < 0 ||
	    shoal_filters_validate(&f, allowed, &err) < 0) {
		if (f.m != NULL)
			shoal_filters_fini(&f);
		shoal_http_reply_err(req, &err);
		return;
	}
	dangling = dangling_of(&f, &bad);
	if (dangling == -2) {
		shoal_errorf(&err, 400, "invalid filter 'dangling=%s'", bad);
		shoal_filters_fini(&f);
		shoal_http_reply_err(req, &err);
		return;
	}
	vols = json_array();
	shoal_list_foreach(pos, &e->volumes) {
		struct shoal_volume *v = shoal_list_entry(pos, struct shoal_volume, link);

		if (!name_matches(&f, v->name) || !shoal_filters_match(&f, "driver", "local") ||
		    !shoal_filters_match_labels(&f, "label", v->labels))
			continue;
		if (dangling >= 0) {
			json_t *users = shoal_engine_volume_users(e, v->name);
			bool unused = json_array_size(users) == 0;

			json_decref(users);
			if (unused != (dangling == 1))
				continue;
		}
		json_array_append_new(vols, shoal_engine_volume_json(e, v));
	}
	shoal_filters_fini(&f);
	out = json_pack("{s:o, s:n}", "Volumes", vols, "Warnings");
	shoal_http_reply_json(req, 200, out);
	json_decref(out);
}

void shoal_api_volumes_inspect(struct shoal_http_req *req)
{
	struct shoal_engine *e = engine_of(req);
	struct shoal_volume *v;
	struct shoal_err err;
	json_t *j;

	v = shoal_engine_volume_find(e, shoal_http_param(req, "name"), &err);
	if (v == NULL) {
		shoal_http_reply_err(req, &err);
		return;
	}
	j = shoal_engine_volume_json(e, v);
	shoal_http_reply_json(req, 200, j);
	json_decref(j);
}

/* ---- remove and prune ---- */

/* A request waiting for the volume files to go; the client may leave meanwhile, which the
 * server's contract makes harmless: the finishing call then just frees the request. */
static void deleted(void *ctx, const json_t *names, int64_t reclaimed)
{
	struct shoal_http_req *req = ctx;

	(void)names;
	(void)reclaimed;
	shoal_http_reply(req, 204, NULL, NULL, "", 0);
}

void shoal_api_volumes_delete(struct shoal_http_req *req)
{
	const char *name = shoal_http_param(req, "name");
	struct shoal_err err;

	if (shoal_engine_volumes_remove(engine_of(req), &name, 1,
					shoal_http_query_bool(req, "force"), false, deleted, req,
					&err) < 0)
		shoal_http_reply_err(req, &err);
}

static void pruned(void *ctx, const json_t *names, int64_t reclaimed)
{
	struct shoal_http_req *req = ctx;
	struct shoal_api *api = req->ctx;
	char n[32];
	json_t *out;

	snprintf(n, sizeof(n), "%lld", (long long)reclaimed);
	shoal_api_event_publish(api, "volume", "prune", "", json_pack("{s:s}", "reclaimed", n),
				"local");
	/* dockerd's report holds null, not [], when nothing went */
	out = json_pack("{s:O, s:I}", "VolumesDeleted",
			json_array_size(names) > 0 ? names : json_null(), "SpaceReclaimed",
			(json_int_t)reclaimed);
	shoal_http_reply_json(req, 200, out);
	json_decref(out);
}

/* "label!": none of the given labels (or label=value pairs) is on the volume. */
static bool label_excluded(const struct shoal_filters *f, const json_t *labels)
{
	json_t *set = json_object_get(f->m, "label!");
	const char *want;
	json_t *v;

	json_object_foreach(set, want, v) {
		const char *eq = strchr(want, '=');
		char *k =
			eq != NULL ? shoal_strndup(want, (size_t)(eq - want)) : shoal_strdup(want);
		json_t *have = json_object_get(labels, k);
		bool hit = have != NULL &&
			   (eq == NULL ||
			    (json_is_string(have) && strcmp(json_string_value(have), eq + 1) == 0));

		free(k);
		if (hit)
			return true;
	}
	return false;
}

void shoal_api_volumes_prune(struct shoal_http_req *req)
{
	/* "all" comes with API 1.42; older clients prune every unused volume anyway */
	static const char *const allowed[] = { "label", "label!", "all", NULL };
	struct shoal_engine *e = engine_of(req);
	struct shoal_filters f;
	struct shoal_err err;
	struct shoal_list *pos;
	const char **names = NULL;
	size_t n = 0;

	if (shoal_filters_parse(shoal_http_query(req, "filters"), &f, &err) < 0 ||
	    shoal_filters_validate(&f, allowed, &err) < 0) {
		if (f.m != NULL)
			shoal_filters_fini(&f);
		shoal_http_reply_err(req, &err);
		return;
	}
	shoal_list_foreach(pos, &e->volumes) {
		struct shoal_volume *v = shoal_list_entry(pos, struct shoal_volume, link);
		json_t *users;
		bool unused;

		if (!shoal_filters_match_labels(&f, "label", v->labels) ||
		    label_excluded(&f, v->labels))
			continue;
		users = shoal_engine_volume_users(e, v->name);
		unused = json_array_size(users) == 0;
		json_decref(users);
		if (!unused)
			continue;
		names = shoal_realloc(names, (n + 1) * sizeof(*names));
		names[n++] = v->name;
	}
	shoal_filters_fini(&f);
	/* names borrow the volumes' own strings, which the engine allows */
	if (shoal_engine_volumes_remove(e, names, n, true, true, pruned, req, &err) < 0)
		shoal_http_reply_err(req, &err);
	free(names);
}
