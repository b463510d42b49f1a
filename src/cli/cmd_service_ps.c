/* `shoal service ps`: the tasks of services as docker/cli's task printer shows them
 * (cli/command/service/ps.go, cli/command/task): services matched by full ID, then name,
 * then ID prefix; tasks of a slot together, newest first, earlier ones indented with " \_ ";
 * service and node IDs resolved to names. */
#include "cli/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static const char def_table[] = "table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t"
				"{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}";
static const char raw_format[] =
	"id: {{.ID}}\\nname: {{.Name}}\\nimage: {{.Image}}\\nnode: {{.Node}}\\n"
	"desired_state: {{.DesiredState}}\\ncurrent_state: {{.CurrentState}}\\n"
	"error: {{.Error}}\\nports: {{.Ports}}\\n";

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "";
}

/* GET /services?filters={"KEY":{...refs}} */
static int list_by(struct shoal_cli_client *c, const char *key, const struct shoal_cli_args *a,
		   json_t **out, struct shoal_err *err)
{
	json_t *f = json_object();
	char *q, *path;
	int i, rv;

	for (i = 0; i < a->argc; i++)
		shoal_cli__filters_add(f, key, a->argv[i]);
	q = shoal_cli__filters_query(f);
	path = q ? shoal_asprintf("/services?filters=%s", q) : shoal_strdup("/services");
	rv = shoal_cli_client_call(c, "GET", path, NULL, out, err);
	free(path);
	free(q);
	json_decref(f);
	return rv;
}

/* createFilter: adds "service" filters for the SERVICE arguments; *notfound collects the
 * ones that matched nothing. */
static int service_filter(struct shoal_cli_client *c, const struct shoal_cli_args *a, json_t *f,
			  struct shoal_buf *notfound, struct shoal_err *err)
{
	json_t *by_id = NULL, *by_name = NULL, *s = NULL;
	int i, count = 0, rv = -1;
	size_t j;

	if (list_by(c, "id", a, &by_id, err) < 0 || list_by(c, "name", a, &by_name, err) < 0)
		goto out;
	for (i = 0; i < a->argc; i++) {
		const char *ref = a->argv[i];
		bool found = false;

		json_array_foreach(by_id, j, s)
			if (strcmp(jstr(s, "ID"), ref) == 0)
				break;
		if (j < json_array_size(by_id)) {
			shoal_cli__filters_add(f, "service", jstr(s, "ID"));
			count++;
			continue;
		}
		json_array_foreach(by_name, j, s)
			if (strcmp(jstr(json_object_get(s, "Spec"), "Name"), ref) == 0)
				break;
		if (j < json_array_size(by_name)) {
			shoal_cli__filters_add(f, "service", jstr(s, "ID"));
			count++;
			continue;
		}
		json_array_foreach(by_id, j, s) {
			if (strncmp(jstr(s, "ID"), ref, strlen(ref)) != 0)
				continue;
			if (found) {
				shoal_errorf(err, 400,
					     "multiple services found with provided prefix: %s",
					     ref);
				goto out;
			}
			shoal_cli__filters_add(f, "service", jstr(s, "ID"));
			count++;
			found = true;
		}
		if (!found)
			shoal_buf_addf(notfound, "%sno such service: %s", notfound->len ? "\n" : "",
				       ref);
	}
	if (count == 0) {
		shoal_errorf(err, 404, "%s", notfound->data);
		goto out;
	}
	rv = 0;
out:
	json_decref(by_id);
	json_decref(by_name);
	return rv;
}

/* updateNodeFilter: "node=self" means this node's ID. */
static int node_filter(struct shoal_cli_client *c, json_t *f, struct shoal_err *err)
{
	json_t *nodes = json_object_get(f, "node"), *info = NULL, *list = NULL;
	const char *id;

	if (json_object_get(nodes, "self") == NULL)
		return 0;
	if (shoal_cli_client_call(c, "GET", "/info", NULL, &info, err) < 0)
		return -1;
	id = jstr(json_object_get(info, "Swarm"), "NodeID");
	if (*id == '\0') {
		json_decref(info);
		if (shoal_cli_client_call(c, "GET", "/nodes", NULL, &list, err) < 0)
			return -1;
		json_decref(list);
		return shoal_errorf(err, 500, "node ID not found in /info");
	}
	json_object_del(nodes, "self");
	json_object_set_new(nodes, id, json_true());
	json_decref(info);
	return 0;
}

/* idresolver: names of services and nodes, looked up once each; the ID when the lookup
 * fails (best effort, as docker's). */
struct resolver {
	struct shoal_cli_client *c;
	bool off;
	json_t *cache;
};

static const char *resolve(struct resolver *r, bool node, const char *id)
{
	json_t *o = NULL, *v;
	const char *name;
	struct shoal_err e;

	if (r->off)
		return id;
	v = json_object_get(r->cache, id);
	if (v != NULL)
		return json_string_value(v);
	name = id;
	if (*id == '\0') {
		/* docker's client refuses an empty ID before asking */
	} else if (node) {
		char *esc = shoal_cli_query_escape(id), *path = shoal_asprintf("/nodes/%s", esc);

		if (shoal_cli_client_call(r->c, "GET", path, NULL, &o, &e) == 0) {
			name = jstr(json_object_get(o, "Spec"), "Name");
			if (*name == '\0')
				name = jstr(json_object_get(o, "Description"), "Hostname");
			if (*name == '\0')
				name = id;
		}
		free(path);
		free(esc);
	} else if (shoal_cli__svc_get(r->c, id, false, &o, &e) == 0) {
		name = jstr(json_object_get(o, "Spec"), "Name");
	}
	json_object_set_new(r->cache, id, json_string(name));
	json_decref(o);
	return json_string_value(json_object_get(r->cache, id));
}

struct task {
	json_t *t;
	char *name;
	int64_t created;
	size_t idx;
};

static int task_cmp(const void *a, const void *b)
{
	const struct task *x = a, *y = b;

	if (strcmp(x->name, y->name) != 0)
		return shoal_cli__natural_less(x->name, y->name) ? -1 : 1;
	/* the same slot: the most recent first; stable otherwise */
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void pretty(struct shoal_buf *b, const char *s)
{
	if (*s != '\0')
		shoal_buf_addf(b, "%c%s", toupper((unsigned char)*s), s + 1);
}

/* formatter.Ellipsis for single-width runes */
static void ellipsis(struct shoal_buf *b, const char *s, int max)
{
	int n = 0;
	const char *p;

	for (p = s; *p != '\0'; p++)
		if (((unsigned char)*p & 0xc0) != 0x80)
			n++;
	if (n <= max) {
		shoal_buf_adds(b, s);
		return;
	}
	for (n = 0, p = s; *p != '\0'; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80 && ++n == max)
			break;
		shoal_buf_addc(b, *p);
	}
	shoal_buf_adds(b, "\xe2\x80\xa6");
}

static json_t *bstr(struct shoal_buf *b)
{
	json_t *s = json_stringn(b->data, b->len);

	shoal_buf_reset(b);
	return s;
}

/* The row taskContext gives templates, keys sorted as its MarshalJSON's map. */
static json_t *row(const struct task *tk, const char *name, const char *node, bool trunc,
		   int64_t now)
{
	json_t *t = tk->t, *st = json_object_get(t, "Status"), *r = json_object(), *p;
	const char *image =
		jstr(json_object_get(json_object_get(t, "Spec"), "ContainerSpec"), "Image");
	const char *e = jstr(st, "Err");
	char dur[64];
	int64_t ts = now;
	struct shoal_buf b;
	size_t i;

	shoal_buf_init(&b);
	if (shoal_cli__parse_time(jstr(st, "Timestamp"), &ts) < 0)
		ts = 0;
	pretty(&b, jstr(st, "State"));
	shoal_cli_units_human_duration(now - ts, dur, sizeof(dur));
	for (i = 0; dur[i] != '\0'; i++)
		dur[i] = (char)tolower((unsigned char)dur[i]);
	shoal_buf_addf(&b, " %s ago", dur);
	json_object_set_new(r, "CurrentState", bstr(&b));
	pretty(&b, jstr(t, "DesiredState"));
	json_object_set_new(r, "DesiredState", bstr(&b));
	if (*e != '\0') {
		shoal_buf_addc(&b, '"');
		if (trunc)
			ellipsis(&b, e, 30);
		else
			shoal_buf_adds(&b, e);
		shoal_buf_addc(&b, '"');
	}
	json_object_set_new(r, "Error", bstr(&b));
	shoal_buf_addf(&b, "%.*s", trunc ? 12 : (int)strlen(jstr(t, "ID")), jstr(t, "ID"));
	json_object_set_new(r, "ID", bstr(&b));
	if (trunc) {
		char *d = shoal_cli__image_display(image);

		json_object_set_new(r, "Image", json_string(d));
		free(d);
	} else {
		json_object_set_new(r, "Image", json_string(image));
	}
	json_object_set_new(r, "Name", json_string(name));
	json_object_set_new(r, "Node", json_string(node));
	json_array_foreach(json_object_get(json_object_get(st, "PortStatus"), "Ports"), i, p)
		shoal_buf_addf(&b, "%s*:%lld->%lld/%s", i ? "," : "",
			       (long long)json_integer_value(json_object_get(p, "PublishedPort")),
			       (long long)json_integer_value(json_object_get(p, "TargetPort")),
			       jstr(p, "Protocol"));
	json_object_set_new(r, "Ports", bstr(&b));
	shoal_buf_fini(&b);
	return r;
}

static int run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	const char *format = shoal_cli_flag_str(args, "format");
	bool quiet = shoal_cli_flag_bool(args, "quiet");
	bool trunc = !shoal_cli_flag_bool(args, "no-trunc") && !quiet;
	struct resolver res = { .off = shoal_cli_flag_bool(args, "no-resolve") };
	json_t *f = NULL, *tasks = NULL, *rows = NULL, *header = NULL, *t;
	const char *const *vals;
	struct task *list = NULL;
	struct shoal_buf notfound, out;
	char *q = NULL, *path = NULL;
	const char *indent;
	int64_t now;
	size_t i, n;
	int rv = -1;

	shoal_buf_init(&notfound);
	shoal_buf_init(&out);
	res.cache = json_object();
	res.c = shoal_cli_get_client(cli, err);
	if (res.c == NULL)
		goto out;
	n = shoal_cli_flag_list(args, "filter", &vals);
	f = shoal_cli__filters_new(vals, n);
	if (service_filter(res.c, args, f, &notfound, err) < 0 || node_filter(res.c, f, err) < 0)
		goto out;
	q = shoal_cli__filters_query(f);
	path = shoal_asprintf("/tasks?filters=%s", q);
	if (shoal_cli_client_call(res.c, "GET", path, NULL, &tasks, err) < 0)
		goto out;
	if (format == NULL || *format == '\0' || strcmp(format, "table") == 0)
		format = quiet ? "{{.ID}}" : def_table;
	else if (strcmp(format, "raw") == 0)
		format = quiet ? "id: {{.ID}}" : raw_format;
	indent = strncmp(format, "table", 5) == 0 ? " \\_ " : "";

	/* generateTaskNames, then the sort that puts a slot's tasks together */
	n = json_array_size(tasks);
	list = shoal_calloc(n + 1, sizeof(*list));
	json_array_foreach(tasks, i, t) {
		const char *svc = resolve(&res, false, jstr(t, "ServiceID"));
		json_int_t slot = json_integer_value(json_object_get(t, "Slot"));

		list[i].t = t;
		list[i].idx = i;
		list[i].name = slot != 0 ? shoal_asprintf("%s.%lld", svc, (long long)slot) :
					   shoal_asprintf("%s.%s", svc, jstr(t, "NodeID"));
		if (shoal_cli__parse_time(jstr(t, "CreatedAt"), &list[i].created) < 0)
			list[i].created = 0;
	}
	qsort(list, n, sizeof(*list), task_cmp);
	now = shoal_cli__now_ns();
	rows = json_array();
	for (i = 0; i < n; i++) {
		bool prev = i > 0 && strcmp(list[i - 1].name, list[i].name) == 0;
		char *name = shoal_asprintf("%s%s", prev ? indent : "", list[i].name);
		const char *node = resolve(&res, true, jstr(list[i].t, "NodeID"));

		json_array_append_new(rows, row(&list[i], name, node, trunc, now));
		free(name);
	}
	header =
		json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "CurrentState",
			  "CURRENT STATE", "DesiredState", "DESIRED STATE", "Error", "ERROR", "ID",
			  "ID", "Image", "IMAGE", "Name", "NAME", "Node", "NODE", "Ports", "PORTS");
	if (shoal_cli_format_list(format, def_table, header, rows, &out, err) < 0)
		goto out;
	shoal_cli__print(cli, &out);
	if (notfound.len > 0) {
		shoal_errorf(err, 404, "%s", notfound.data);
		goto out;
	}
	rv = 0;
out:
	for (i = 0; list != NULL && i < json_array_size(tasks); i++)
		free(list[i].name);
	free(list);
	free(q);
	free(path);
	json_decref(f);
	json_decref(tasks);
	json_decref(rows);
	json_decref(header);
	json_decref(res.cache);
	shoal_buf_fini(&notfound);
	shoal_buf_fini(&out);
	return rv;
}

static const struct shoal_cli_opt opts[] = {
	{ "filter", 'f', SHOAL_CLI_OPT_LIST, "filter", NULL,
	  "Filter output based on conditions provided" },
	{ "format", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Pretty-print tasks using a Go template" },
	{ "no-resolve", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL, "Do not map IDs to Names" },
	{ "no-trunc", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL, "Do not truncate output" },
	{ "quiet", 'q', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Only display task IDs" },
	{ NULL },
};

static const struct shoal_cli_check checks[] = {
	{ "filter", shoal_cli__check_filter },
	{ NULL },
};

const struct shoal_cli_cmd shoal_cli__cmd_service_ps = {
	.name = "ps",
	.use = "ps [OPTIONS] SERVICE [SERVICE...]",
	.short_help = "List the tasks of one or more services",
	.opts = opts,
	.checks = checks,
	.min_args = 1,
	.max_args = -1,
	.run = run,
};
