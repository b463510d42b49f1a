/* Image endpoints: load, import, list, inspect, history, tag, delete. The store and the
 * slow work are the engine's (src/engine); this file speaks Docker's HTTP: query
 * arguments, JSON bodies and the JSON message streams the docker CLI renders. */
#include "api/internal.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "engine/engine.h"
#include "engine/internal.h"

/* Upload bytes queued for the disk past which the client is paused. */
#define UPLOAD_HIGH_WATER (16 * 1024 * 1024)

static struct shoal_engine *engine_of(struct shoal_http_req *req)
{
	return ((struct shoal_api *)req->ctx)->cfg.engine;
}

static void reply_err(struct shoal_http_req *req, struct shoal_err *err)
{
	shoal_http_reply_err(req, err);
}

/* ---- uploads: load and import ---- */

struct upload {
	struct shoal_http_req *req;
	struct shoal_engine_job *job;
	bool quiet;
	bool streaming;
	bool gone;
};

/* Docker's JSON stream: one message per line, "\r\n"-terminated. */
static void stream_msg(struct upload *up, json_t *msg)
{
	char *s;

	if (!up->streaming) {
		shoal_http_stream_begin(up->req, 200, "application/json", NULL);
		up->streaming = true;
	}
	/* one chunk per message: docker-py parses chunk by chunk and chokes on a lone
	 * line end */
	s = json_dumps(msg, JSON_COMPACT);
	if (s != NULL) {
		char *line = shoal_asprintf("%s\r\n", s);

		shoal_http_stream_write(up->req, line, strlen(line));
		free(line);
	}
	free(s);
}

static void upload_progress(void *ctx, json_t *msg)
{
	struct upload *up = ctx;

	if (!up->gone && !(up->quiet && json_object_get(msg, "status") != NULL &&
			   json_object_get(msg, "id") != NULL))
		stream_msg(up, msg);
	json_decref(msg);
}

static void upload_done(void *ctx, const struct shoal_err *err)
{
	struct upload *up = ctx;

	if (err != NULL && !up->gone) {
		/* dockerd reports a failed load inside the stream, after a 200 */
		json_t *m = json_pack("{s:{s:s}, s:s}", "errorDetail", "message", err->msg, "error",
				      err->msg);

		stream_msg(up, m);
		json_decref(m);
	}
	if (!up->streaming) {
		shoal_http_stream_begin(up->req, 200, "application/json", NULL);
		up->streaming = true;
	}
	shoal_http_stream_end(up->req);
	free(up);
}

static void upload_resume(void *ctx)
{
	struct upload *up = ctx;

	if (!up->gone)
		shoal_http_req_pause_body(up->req, false);
}

static void upload_body(struct shoal_http_req *req, const char *data, size_t len)
{
	struct upload *up = req->data;

	if (shoal_engine_job_write(up->job, data, len) > UPLOAD_HIGH_WATER) {
		shoal_http_req_pause_body(req, true);
		shoal_engine_job_on_drain(up->job, upload_resume, up);
	}
}

static void upload_end(struct shoal_http_req *req)
{
	struct upload *up = req->data;

	req->on_close = NULL;
	shoal_engine_job_run(up->job, upload_progress, upload_done, up);
}

static void upload_gone(struct shoal_http_req *req)
{
	struct upload *up = req->data;

	up->gone = true;
	if (!req->complete) {
		/* the body will never end: drop what arrived */
		shoal_engine_job_abort(up->job);
		if (!req->finished)
			shoal_http_reply_message(req, 400, "upload interrupted");
		free(up);
	}
}

static void upload_start(struct shoal_http_req *req, enum shoal_engine_job_kind kind,
			 struct shoal_engine_import_opts *opts)
{
	struct upload *up;
	struct shoal_err err;
	struct shoal_engine_job *job = shoal_engine_job_new(engine_of(req), kind, opts, &err);

	if (job == NULL) {
		reply_err(req, &err);
		return;
	}
	up = shoal_calloc(1, sizeof(*up));
	up->req = req;
	up->job = job;
	up->quiet = shoal_http_query_bool(req, "quiet");
	req->data = up;
	req->on_body = upload_body;
	req->on_body_end = upload_end;
	req->on_close = upload_gone;
}

void shoal_api_images_load(struct shoal_http_req *req)
{
	upload_start(req, SHOAL_ENGINE_JOB_LOAD, NULL);
}

/* The Dockerfile instructions `docker import --change` accepts, into a container
 * config. */
static int parse_changes(struct shoal_http_req *req, json_t *config, struct shoal_err *err)
{
	const char *v;
	size_t i;

	for (i = 0; (v = shoal_http_query_nth(req, "changes", i)) != NULL; i++) {
		const char *sp;
		char instr[16];
		size_t n;
		json_t *arg;

		while (isspace((unsigned char)*v))
			v++;
		sp = v;
		while (*sp && !isspace((unsigned char)*sp))
			sp++;
		n = (size_t)(sp - v);
		if (n == 0 || n >= sizeof(instr))
			return shoal_errorf(err, 400, "%s is not a valid change command", v);
		for (size_t k = 0; k < n; k++)
			instr[k] = (char)toupper((unsigned char)v[k]);
		instr[n] = '\0';
		while (isspace((unsigned char)*sp))
			sp++;
		arg = json_loads(sp, JSON_DECODE_ANY, NULL);
		if (strcmp(instr, "CMD") == 0 || strcmp(instr, "ENTRYPOINT") == 0) {
			const char *key = instr[0] == 'C' ? "Cmd" : "Entrypoint";

			if (!json_is_array(arg)) {
				/* shell form */
				json_decref(arg);
				arg = json_pack("[s, s, s]", "/bin/sh", "-c", sp);
			}
			json_object_set_new(config, key, arg);
			continue;
		}
		json_decref(arg);
		if (strcmp(instr, "ENV") == 0) {
			json_t *env = json_object_get(config, "Env");
			const char *eq = strchr(sp, '=');
			const char *ws = sp;
			char *kv;

			while (*ws && !isspace((unsigned char)*ws) && *ws != '=')
				ws++;
			if (env == NULL) {
				env = json_array();
				json_object_set_new(config, "Env", env);
			}
			if (eq != NULL && eq == ws)
				kv = shoal_strdup(sp);
			else if (*ws != '\0')
				kv = shoal_asprintf("%.*s=%s", (int)(ws - sp), sp,
						    ws + strspn(ws, " \t"));
			else
				return shoal_errorf(err, 400, "ENV must have two arguments");
			json_array_append_new(env, json_string(kv));
			free(kv);
		} else if (strcmp(instr, "EXPOSE") == 0) {
			json_t *ports = json_object_get(config, "ExposedPorts");
			char *p = shoal_strdup(sp), *tok, *save = NULL;

			if (ports == NULL) {
				ports = json_object();
				json_object_set_new(config, "ExposedPorts", ports);
			}
			for (tok = strtok_r(p, " \t", &save); tok != NULL;
			     tok = strtok_r(NULL, " \t", &save)) {
				char key[64];

				snprintf(key, sizeof(key), "%s%s", tok,
					 strchr(tok, '/') != NULL ? "" : "/tcp");
				json_object_set_new(ports, key, json_object());
			}
			free(p);
		} else if (strcmp(instr, "WORKDIR") == 0) {
			json_object_set_new(config, "WorkingDir", json_string(sp));
		} else if (strcmp(instr, "USER") == 0) {
			json_object_set_new(config, "User", json_string(sp));
		} else if (strcmp(instr, "STOPSIGNAL") == 0) {
			json_object_set_new(config, "StopSignal", json_string(sp));
		} else if (strcmp(instr, "LABEL") == 0) {
			json_t *labels = json_object_get(config, "Labels");
			const char *eq = strchr(sp, '=');
			char *k;

			if (eq == NULL)
				return shoal_errorf(err, 400, "LABEL requires key=value");
			if (labels == NULL) {
				labels = json_object();
				json_object_set_new(config, "Labels", labels);
			}
			k = shoal_strndup(sp, (size_t)(eq - sp));
			json_object_set_new(labels, k, json_string(eq + 1));
			free(k);
		} else if (strcmp(instr, "VOLUME") == 0) {
			json_t *vols = json_object_get(config, "Volumes");

			if (vols == NULL) {
				vols = json_object();
				json_object_set_new(config, "Volumes", vols);
			}
			json_object_set_new(vols, sp, json_object());
		} else {
			return shoal_errorf(err, 400, "%s is not a valid change command", instr);
		}
	}
	return 0;
}

void shoal_api_images_create(struct shoal_http_req *req)
{
	struct shoal_engine_import_opts opts;
	const char *src = shoal_http_query(req, "fromSrc");
	const char *repo = shoal_http_query(req, "repo");
	const char *tag = shoal_http_query(req, "tag");
	const char *msg = shoal_http_query(req, "message");
	struct shoal_err err;
	json_t *config;

	if (shoal_http_query(req, "fromImage") != NULL &&
	    shoal_http_query(req, "fromImage")[0] != '\0') {
		shoal_api__images_pull(req, shoal_http_query(req, "fromImage"));
		return;
	}
	if (src == NULL || strcmp(src, "-") != 0) {
		shoal_errorf(&err, 400,
			     "only import from the request body (fromSrc=-) is supported");
		reply_err(req, &err);
		return;
	}
	config = json_object();
	if (parse_changes(req, config, &err) < 0) {
		json_decref(config);
		reply_err(req, &err);
		return;
	}
	memset(&opts, 0, sizeof(opts));
	if (repo != NULL && repo[0] != '\0') {
		/* the docker CLI sends repo=name:tag and no tag; a tag given apart wins */
		struct shoal_ref ref;
		char name[600], full[700];

		if (shoal_ref_parse(repo, &ref, &err) < 0)
			goto bad_ref;
		if (tag != NULL && tag[0] != '\0') {
			shoal_ref_familiar_name(&ref, name, sizeof(name));
			snprintf(full, sizeof(full), "%s:%s", name, tag);
			if (shoal_ref_parse(full, &ref, &err) < 0)
				goto bad_ref;
		}
		if (ref.digest[0] != '\0') {
			shoal_errorf(&err, 400, "cannot import digest reference");
			goto bad_ref;
		}
		shoal_ref_full(&ref, full, sizeof(full));
		opts.repo = shoal_strdup(full);
	}
	opts.message = msg != NULL ? shoal_strdup(msg) : NULL;
	opts.changes = config;
	upload_start(req, SHOAL_ENGINE_JOB_IMPORT, &opts);
	return;
bad_ref:
	json_decref(config);
	reply_err(req, &err);
}

/* ---- list, inspect, history, tag, delete ---- */

static bool matches_reference(const struct shoal_image *img, const struct shoal_filters *f)
{
	json_t *set = json_object_get(f->m, "reference");
	const char *pattern;
	json_t *v;
	size_t i;

	if (set == NULL)
		return true;
	json_object_foreach(set, pattern, v) {
		for (i = 0; i < img->ntags; i++) {
			struct shoal_ref ref;
			struct shoal_err err;
			char fam[600], name[600];

			if (shoal_ref_parse(img->tags[i], &ref, &err) < 0)
				continue;
			shoal_ref_familiar(&ref, fam, sizeof(fam));
			shoal_ref_familiar_name(&ref, name, sizeof(name));
			if (fnmatch(pattern, fam, 0) == 0 || fnmatch(pattern, name, 0) == 0)
				return true;
		}
	}
	return false;
}

void shoal_api_images_list(struct shoal_http_req *req)
{
	static const char *const allowed[] = { "before",    "dangling", "label",
					       "reference", "since",	NULL };
	struct shoal_engine *e = engine_of(req);
	struct shoal_filters f;
	struct shoal_err err;
	struct shoal_list *pos;
	json_t *out;

	if (shoal_filters_parse(shoal_http_query(req, "filters"), &f, &err) < 0) {
		reply_err(req, &err);
		return;
	}
	if (shoal_filters_validate(&f, allowed, &err) < 0) {
		shoal_filters_fini(&f);
		reply_err(req, &err);
		return;
	}
	if (shoal_filters_has(&f, "dangling") && !shoal_filters_match(&f, "dangling", "true") &&
	    !shoal_filters_match(&f, "dangling", "false") &&
	    !shoal_filters_match(&f, "dangling", "1") &&
	    !shoal_filters_match(&f, "dangling", "0")) {
		shoal_filters_fini(&f);
		shoal_errorf(&err, 400, "invalid filter 'dangling=%s'", "value");
		reply_err(req, &err);
		return;
	}
	out = json_array();
	shoal_list_foreach(pos, &e->images) {
		struct shoal_image *img = shoal_list_entry(pos, struct shoal_image, link);
		json_t *labels = json_object_get(json_object_get(img->config, "config"), "Labels");

		if (shoal_filters_has(&f, "dangling")) {
			bool want = shoal_filters_match(&f, "dangling", "true") ||
				    shoal_filters_match(&f, "dangling", "1");

			if (want != (img->ntags == 0))
				continue;
		}
		if (!matches_reference(img, &f))
			continue;
		if (!shoal_filters_match_labels(&f, "label", labels))
			continue;
		json_array_append_new(out, shoal_engine_image_summary_json(e, img));
	}
	shoal_filters_fini(&f);
	shoal_http_reply_json(req, 200, out);
	json_decref(out);
}

static struct shoal_image *find_or_reply(struct shoal_http_req *req)
{
	struct shoal_err err;
	struct shoal_image *img =
		shoal_engine_image_find(engine_of(req), shoal_http_param(req, "name"), &err);

	if (img == NULL)
		reply_err(req, &err);
	return img;
}

void shoal_api_images_inspect(struct shoal_http_req *req)
{
	struct shoal_image *img = find_or_reply(req);
	json_t *j;

	if (img == NULL)
		return;
	j = shoal_engine_image_inspect_json(engine_of(req), img);
	shoal_http_reply_json(req, 200, j);
	json_decref(j);
}

void shoal_api_images_history(struct shoal_http_req *req)
{
	struct shoal_image *img = find_or_reply(req);
	json_t *j;

	if (img == NULL)
		return;
	j = shoal_engine_image_history_json(engine_of(req), img);
	shoal_http_reply_json(req, 200, j);
	json_decref(j);
}

void shoal_api_images_tag(struct shoal_http_req *req)
{
	struct shoal_image *img = find_or_reply(req);
	struct shoal_err err;
	const char *repo;

	if (img == NULL)
		return; /* answered: req is gone */
	repo = shoal_http_query(req, "repo");
	if (repo == NULL || repo[0] == '\0') {
		shoal_errorf(&err, 400, "repository name must have at least one component");
		reply_err(req, &err);
		return;
	}
	if (shoal_engine_image_tag(engine_of(req), img, repo, shoal_http_query(req, "tag"), &err) <
	    0) {
		if (err.status == 0 || err.status == 500)
			err.status = 400;
		reply_err(req, &err);
		return;
	}
	shoal_http_reply(req, 201, NULL, NULL, "", 0);
}

void shoal_api_images_delete(struct shoal_http_req *req)
{
	struct shoal_err err;
	json_t *report = NULL;

	if (shoal_engine_image_delete(engine_of(req), shoal_http_param(req, "name"),
				      shoal_http_query_bool(req, "force"),
				      shoal_http_query_bool(req, "noprune"), &report, &err) < 0) {
		reply_err(req, &err);
		return;
	}
	shoal_http_reply_json(req, 200, report);
	json_decref(report);
}

/* ---- save: GET /images/{name}/get and GET /images/get?names= ---- */

#define SAVE_CHUNK (256 * 1024)

struct save_stream {
	struct shoal_http_req *req;
	uv_fs_t fs;
	uv_file fd;
	char *path;
	char buf[SAVE_CHUNK];
	int64_t offset;
	bool gone;
	bool reading;
	bool started; /* the tar is being streamed */
};

static void save_read_next(struct save_stream *s);

static void save_finish(struct save_stream *s)
{
	uv_fs_t req;

	if (s->fd >= 0)
		uv_fs_close(NULL, &req, s->fd, NULL); /* a close: no waiting on the disk */
	if (s->path != NULL)
		unlink(s->path);
	free(s->path);
	s->req->on_close = NULL;
	s->req->on_drain = NULL;
	shoal_http_stream_end(s->req);
	free(s);
}

static void save_on_drain(struct shoal_http_req *req)
{
	struct save_stream *s = req->data;

	if (!s->reading)
		save_read_next(s);
}

static void save_on_read(uv_fs_t *fs)
{
	struct save_stream *s = container_of(fs, struct save_stream, fs);
	ssize_t n = fs->result;

	uv_fs_req_cleanup(fs);
	s->reading = false;
	if (n <= 0 || s->gone) {
		/* a read error mid-stream can only be told by cutting the tar short */
		save_finish(s);
		return;
	}
	s->offset += n;
	shoal_http_stream_write(s->req, s->buf, (size_t)n);
	if (shoal_http_stream_pending(s->req) < 4 * SAVE_CHUNK)
		save_read_next(s);
	/* else: save_on_drain resumes */
}

static void save_read_next(struct save_stream *s)
{
	uv_buf_t b = uv_buf_init(s->buf, sizeof(s->buf));

	if (s->gone) {
		save_finish(s);
		return;
	}
	s->reading = true;
	if (uv_fs_read(s->req->server->loop, &s->fs, s->fd, &b, 1, s->offset, save_on_read) < 0) {
		s->reading = false;
		save_finish(s);
	}
}

static void save_gone(struct shoal_http_req *req)
{
	struct save_stream *s = req->data;

	s->gone = true;
	/* before the tar is ready, save_ready finishes; while a read runs, its callback */
	if (s->started && !s->reading)
		save_finish(s);
}

static void save_ready(void *ctx, const char *path, const struct shoal_err *err)
{
	struct save_stream *s = ctx;
	struct shoal_err e;
	uv_fs_t req;

	s->req->on_close = NULL;
	if (err != NULL) {
		e = *err;
		goto fail;
	}
	if (s->gone) {
		unlink(path);
		shoal_errorf(&e, 400, "client gone");
		goto fail;
	}
	s->path = shoal_strdup(path);
	/* opening our own new file: quick, and the stream needs the descriptor now */
	s->fd = uv_fs_open(NULL, &req, path, O_RDONLY | O_CLOEXEC, 0, NULL);
	uv_fs_req_cleanup(&req);
	if (s->fd < 0) {
		shoal_errorf(&e, 500, "read saved images: %s", uv_strerror(s->fd));
		unlink(s->path);
		free(s->path);
		goto fail;
	}
	s->started = true;
	s->req->on_close = save_gone;
	shoal_http_stream_begin(s->req, 200, "application/x-tar", NULL);
	s->req->on_drain = save_on_drain;
	save_read_next(s);
	return;
fail:
	shoal_http_reply_err(s->req, &e);
	free(s);
}

void shoal_api_images_save(struct shoal_http_req *req)
{
	const char *one = shoal_http_param(req, "name");
	const char **names = NULL;
	struct save_stream *s;
	struct shoal_err err;
	size_t n = 0;
	const char *v;

	if (one != NULL) {
		names = shoal_malloc(sizeof(*names));
		names[n++] = one;
	} else {
		while ((v = shoal_http_query_nth(req, "names", n)) != NULL) {
			names = shoal_realloc(names, (n + 1) * sizeof(*names));
			names[n++] = v;
		}
	}
	if (n == 0) {
		free(names);
		shoal_errorf(&err, 400, "no images named to save");
		reply_err(req, &err);
		return;
	}
	s = shoal_calloc(1, sizeof(*s));
	s->req = req;
	s->fd = -1;
	req->data = s;
	if (shoal_engine_save(engine_of(req), names, n, save_ready, s, &err) < 0) {
		free(names);
		free(s);
		req->data = NULL;
		reply_err(req, &err);
		return;
	}
	free(names);
	req->on_close = save_gone;
}
