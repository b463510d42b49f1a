/* `shoal service logs`: the logs of a service or of one task, GET /services/REF/logs (or
 * /tasks/REF/logs) as docker/cli asks for them (cli/command/service/logs.go): with details,
 * so each line gets docker's "name.slot.task@node    | " prefix, or raw with --raw. */
#include "cli/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/mem.h"

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "";
}

static int digits(long long v)
{
	char s[32];

	return snprintf(s, sizeof(s), "%lld", v);
}

struct logs {
	struct shoal_cli *cli;
	/* lookups run while the log stream holds the main client's connection */
	struct shoal_cli_client *c;
	bool tty, raw, timestamps, details, no_trunc, no_task_ids, no_resolve;
	int padding;
	json_t *names; /* ID -> resolved name, and "task:ID" -> its prefix */
	struct shoal_buf pending;
};

static int hex(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* url.QueryUnescape */
static int unescape(const char *s, size_t len, struct shoal_buf *b)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '+') {
			shoal_buf_addc(b, ' ');
		} else if (s[i] == '%') {
			if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]))
				return -1;
			shoal_buf_addc(b, (char)(hex(s[i + 1]) << 4 | hex(s[i + 2])));
			i += 2;
		} else {
			shoal_buf_addc(b, s[i]);
		}
	}
	return 0;
}

/* logdetails.Parse: "k=v,l=w", query-escaped; a new object or NULL. */
static json_t *parse_details(const char *s, size_t len)
{
	json_t *d = json_object();
	struct shoal_buf k, v;
	size_t i = 0;

	shoal_buf_init(&k);
	shoal_buf_init(&v);
	while (i <= len) {
		const char *p = s + i, *comma = memchr(p, ',', len - i), *eq;
		size_t plen = comma ? (size_t)(comma - p) : len - i;

		eq = memchr(p, '=', plen);
		shoal_buf_reset(&k);
		shoal_buf_reset(&v);
		if (eq == NULL || eq == p || unescape(p, (size_t)(eq - p), &k) < 0 ||
		    unescape(eq + 1, plen - (size_t)(eq - p) - 1, &v) < 0) {
			json_decref(d);
			d = NULL;
			break;
		}
		json_object_set_new(d, k.data, json_string(v.data));
		i += plen + 1;
	}
	shoal_buf_fini(&k);
	shoal_buf_fini(&v);
	return d;
}

static const char *resolve(struct logs *l, bool node, const char *id)
{
	json_t *o = NULL, *v = json_object_get(l->names, id);
	const char *name = id;
	struct shoal_err e;

	if (l->no_resolve)
		return id;
	if (v != NULL)
		return json_string_value(v);
	if (node) {
		char *esc = shoal_cli_query_escape(id), *path = shoal_asprintf("/nodes/%s", esc);

		if (*id != '\0' && shoal_cli_client_call(l->c, "GET", path, NULL, &o, &e) == 0) {
			name = jstr(json_object_get(o, "Spec"), "Name");
			if (*name == '\0')
				name = jstr(json_object_get(o, "Description"), "Hostname");
			if (*name == '\0')
				name = id;
		}
		free(path);
		free(esc);
	} else if (*id != '\0' && shoal_cli__svc_get(l->c, id, false, &o, &e) == 0) {
		name = jstr(json_object_get(o, "Spec"), "Name");
	}
	json_object_set_new(l->names, id, json_string(name));
	json_decref(o);
	return json_string_value(json_object_get(l->names, id));
}

/* taskFormatter.format: "service.slot.taskid@node" padded to the widest slot. */
static int context_of(struct logs *l, const char *node, const char *svc, const char *task,
		      struct shoal_buf *b, struct shoal_err *err)
{
	char *key = shoal_asprintf("task:%s:%s:%s", node, svc, task), *esc, *path;
	json_t *cached = json_object_get(l->names, key), *t = NULL;
	const char *nname, *sname;
	long long slot;
	int pad;

	if (cached != NULL) {
		shoal_buf_adds(b, json_string_value(cached));
		free(key);
		return 0;
	}
	nname = resolve(l, true, node);
	sname = resolve(l, false, svc);
	esc = shoal_cli_query_escape(task);
	path = shoal_asprintf("/tasks/%s", esc);
	if (shoal_cli_client_call(l->c, "GET", path, NULL, &t, err) < 0) {
		free(key);
		free(path);
		free(esc);
		return -1;
	}
	slot = (long long)json_integer_value(json_object_get(t, "Slot"));
	{
		struct shoal_buf f;

		shoal_buf_init(&f);
		shoal_buf_addf(&f, "%s.%lld", sname, slot);
		if (!l->no_task_ids)
			shoal_buf_addf(&f, ".%.*s", l->no_trunc ? (int)strlen(jstr(t, "ID")) : 12,
				       jstr(t, "ID"));
		shoal_buf_addf(&f, "@%s", nname);
		for (pad = l->padding - digits(slot); pad > 0; pad--)
			shoal_buf_addc(&f, ' ');
		json_object_set_new(l->names, key, json_string(f.data));
		shoal_buf_add(b, f.data, f.len);
		shoal_buf_fini(&f);
	}
	json_decref(t);
	free(key);
	free(path);
	free(esc);
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* logWriter.Write: one line of the stream, prefixed with its task's context. */
static int write_line(struct logs *l, FILE *f, const char *buf, size_t len, struct shoal_err *err)
{
	int nparts = l->timestamps ? 3 : 2, di = l->timestamps ? 1 : 0, i;
	const char *parts[3], *p = buf, *end = buf + len;
	size_t plen[3];
	json_t *d;
	struct shoal_buf out;
	int rv = -1;

	for (i = 0; i < nparts; i++) {
		const char *sp = i < nparts - 1 ? memchr(p, ' ', (size_t)(end - p)) : NULL;

		if (i < nparts - 1 && sp == NULL)
			return shoal_errorf(err, 500, "invalid context in log message: %.*s",
					    (int)len, buf);
		parts[i] = p;
		plen[i] = sp ? (size_t)(sp - p) : (size_t)(end - p);
		p = sp ? sp + 1 : end;
	}
	d = parse_details(parts[di], plen[di]);
	if (d == NULL)
		return shoal_errorf(err, 500, "invalid details format");
	if (json_object_get(d, "com.docker.swarm.node.id") == NULL) {
		json_decref(d);
		return shoal_errorf(err, 500, "missing node id in details");
	}
	if (json_object_get(d, "com.docker.swarm.service.id") == NULL) {
		json_decref(d);
		return shoal_errorf(err, 500, "missing service id in details");
	}
	if (json_object_get(d, "com.docker.swarm.task.id") == NULL) {
		json_decref(d);
		return shoal_errorf(err, 500, "missing task id in details");
	}
	shoal_buf_init(&out);
	if (l->timestamps)
		shoal_buf_addf(&out, "%.*s ", (int)plen[0], parts[0]);
	if (context_of(l, jstr(d, "com.docker.swarm.node.id"),
		       jstr(d, "com.docker.swarm.service.id"), jstr(d, "com.docker.swarm.task.id"),
		       &out, err) < 0)
		goto out;
	shoal_buf_adds(&out, "    | ");
	if (l->details) {
		const char **pairs;
		const char *k;
		json_t *v;
		size_t n = 0, j;

		json_object_del(d, "com.docker.swarm.node.id");
		json_object_del(d, "com.docker.swarm.service.id");
		json_object_del(d, "com.docker.swarm.task.id");
		pairs = shoal_calloc(json_object_size(d) + 1, sizeof(*pairs));
		json_object_foreach(d, k, v)
			pairs[n++] = shoal_asprintf("%s=%s", k, json_string_value(v) ?: "");
		qsort(pairs, n, sizeof(*pairs), str_cmp);
		for (j = 0; j < n; j++) {
			shoal_buf_addf(&out, "%s%s", j ? "," : "", pairs[j]);
			free((char *)pairs[j]);
		}
		free(pairs);
		shoal_buf_addc(&out, ' ');
	}
	shoal_buf_add(&out, parts[di + 1], plen[di + 1]);
	fwrite(out.data, 1, out.len, f);
	fflush(f);
	rv = 0;
out:
	shoal_buf_fini(&out);
	json_decref(d);
	return rv;
}

static int on_data(const char *data, size_t len, void *arg, struct shoal_err *err)
{
	struct logs *l = arg;
	struct shoal_buf *p = &l->pending;
	size_t size;
	FILE *f;
	int r;

	if (l->tty) {
		fwrite(data, 1, len, l->cli->out);
		fflush(l->cli->out);
		return 0;
	}
	shoal_buf_add(p, data, len);
	while ((r = shoal_cli__frame_next(l->cli, p, &f, &size, err)) > 0) {
		if (l->raw) {
			fwrite(p->data + 8, 1, size, f);
			fflush(f);
		} else if (write_line(l, f, p->data + 8, size, err) < 0) {
			return -1;
		}
		shoal_buf_consume(p, 8 + size);
	}
	return r;
}

/* timetypes.GetTimestamp for --since: a duration back from now, an RFC 3339 time, or Unix
 * seconds passed through. A new string, or NULL. */
static char *since_value(const char *v, struct shoal_err *err)
{
	struct shoal_err e;
	int64_t d, ns;
	const char *p;

	if (strcmp(v, "0") != 0 && shoal_cli__go_parse_duration(v, &d, &e) == 0)
		return shoal_asprintf("%lld",
				      (long long)((shoal_cli__now_ns() - d) / 1000000000LL));
	if (shoal_cli__parse_time(v, &ns) == 0)
		return shoal_asprintf("%lld.%09lld", (long long)(ns / 1000000000LL),
				      (long long)(ns % 1000000000LL));
	for (p = v; isdigit((unsigned char)*p) || *p == '.'; p++)
		;
	if (*p == '\0' && *v != '\0' && strchr(v, '-') == NULL)
		return shoal_strdup(v);
	shoal_errorf(
		err, 400,
		"invalid value for \"since\": failed to parse value as time or duration: \"%s\"",
		v);
	return NULL;
}

static int run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	const char *target = args->argv[0], *tail = shoal_cli_flag_str(args, "tail");
	const char *since = shoal_cli_flag_str(args, "since");
	struct logs l = { .cli = cli };
	struct shoal_cli_req req = { .method = "GET" };
	struct shoal_cli_client *c;
	struct shoal_cli_resp resp;
	struct shoal_buf q;
	json_t *svc = NULL, *task = NULL;
	char *esc = NULL, *path = NULL, *s = NULL;
	const char *kind = "services";
	int rv = -1;

	shoal_buf_init(&l.pending);
	shoal_buf_init(&q);
	shoal_cli_resp_init(&resp);
	l.names = json_object();
	l.raw = shoal_cli_flag_bool(args, "raw");
	l.timestamps = shoal_cli_flag_bool(args, "timestamps");
	l.details = shoal_cli_flag_bool(args, "details");
	l.no_trunc = shoal_cli_flag_bool(args, "no-trunc");
	l.no_task_ids = shoal_cli_flag_bool(args, "no-task-ids");
	l.no_resolve = shoal_cli_flag_bool(args, "no-resolve");
	l.padding = 1;
	c = shoal_cli_get_client(cli, err);
	if (c == NULL)
		goto out;
	if (shoal_cli__svc_get(c, target, false, &svc, err) < 0) {
		if (err->status != 404)
			goto out;
		esc = shoal_cli_query_escape(target);
		path = shoal_asprintf("/tasks/%s", esc);
		if (shoal_cli_client_call(c, "GET", path, NULL, &task, err) < 0) {
			if (err->status == 404)
				shoal_errorf(err, 404, "no such task or service: %s", target);
			goto out;
		}
		l.tty = json_is_true(json_object_get(
			json_object_get(json_object_get(task, "Spec"), "ContainerSpec"), "TTY"));
		l.padding = digits((long long)json_integer_value(json_object_get(task, "Slot")));
		kind = "tasks";
	} else {
		json_t *spec = json_object_get(svc, "Spec"), *reps;

		l.tty = json_is_true(json_object_get(
			json_object_get(json_object_get(spec, "TaskTemplate"), "ContainerSpec"),
			"TTY"));
		reps = json_object_get(json_object_get(json_object_get(spec, "Mode"), "Replicated"),
				       "Replicas");
		if (json_is_integer(reps))
			l.padding = digits((long long)json_integer_value(reps));
	}
	if (l.tty && !l.raw) {
		shoal_errorf(err, 400, "tty service logs only supported with --raw");
		goto out;
	}
	/* url.Values.Encode: keys sorted */
	if (l.details || !l.raw)
		shoal_buf_adds(&q, "details=1&");
	if (shoal_cli_flag_bool(args, "follow"))
		shoal_buf_adds(&q, "follow=1&");
	if (since != NULL && *since != '\0') {
		char *sv = since_value(since, err), *e;

		if (sv == NULL)
			goto out;
		e = shoal_cli_query_escape(sv);
		shoal_buf_addf(&q, "since=%s&", e);
		free(e);
		free(sv);
	}
	shoal_buf_adds(&q, "stderr=1&stdout=1&tail=");
	s = shoal_cli_query_escape(tail ? tail : "");
	shoal_buf_adds(&q, s);
	if (l.timestamps)
		shoal_buf_adds(&q, "&timestamps=1");
	free(esc);
	free(path);
	esc = shoal_cli_query_escape(target);
	path = shoal_asprintf("/%s/%s/logs?%s", kind, esc, q.data);
	req.path = path;
	req.on_data = on_data;
	req.arg = &l;
	if (!l.raw && !l.tty) {
		l.c = shoal_cli_client_new(shoal_cli_client_host(c), err);
		if (l.c == NULL)
			goto out;
	}
	if (shoal_cli_client_do(c, &req, &resp, err) < 0)
		goto out;
	if (resp.status < 200 || resp.status >= 300) {
		shoal_cli_client_resp_err(c, &req, &resp, err);
		goto out;
	}
	rv = 0;
out:
	shoal_cli_client_free(l.c);
	json_decref(svc);
	json_decref(task);
	json_decref(l.names);
	free(esc);
	free(path);
	free(s);
	shoal_buf_fini(&q);
	shoal_buf_fini(&l.pending);
	shoal_cli_resp_fini(&resp);
	return rv;
}

static const struct shoal_cli_opt opts[] = {
	{ "details", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL, "Show extra details provided to logs" },
	{ "follow", 'f', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Follow log output" },
	{ "no-resolve", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL, "Do not map IDs to Names in output" },
	{ "no-task-ids", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL, "Do not include task IDs in output" },
	{ "no-trunc", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL, "Do not truncate output" },
	{ "raw", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL, "Do not neatly format logs" },
	{ "since", 0, SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)" },
	{ "tail", 'n', SHOAL_CLI_OPT_STRING, NULL, "all",
	  "Number of lines to show from the end of the logs" },
	{ "timestamps", 't', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Show timestamps" },
	{ NULL },
};

const struct shoal_cli_cmd shoal_cli__cmd_service_logs = {
	.name = "logs",
	.use = "logs [OPTIONS] SERVICE|TASK",
	.short_help = "Fetch the logs of a service or task",
	.opts = opts,
	.min_args = 1,
	.max_args = 1,
	.run = run,
};
