/* `shoal service ls`: GET /services?status=true as docker/cli's service list shows it
 * (cli/command/service/list.go, formatter.go): names in natural order, truncated IDs,
 * "running/desired" replicas, familiar image names and the ingress ports grouped in
 * ranges. */
#include "cli/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static const char def_table[] =
	"table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}";
static const char raw_format[] =
	"id: {{.ID}}\\nname: {{.Name}}\\nmode: {{.Mode}}\\n"
	"replicas: {{.Replicas}}\\nimage: {{.Image}}\\nports: {{.Ports}}\\n";

static json_t *jget(json_t *o, const char *path)
{
	char key[64];

	while (o != NULL && *path != '\0') {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);

		snprintf(key, sizeof(key), "%.*s", (int)len, path);
		o = json_object_get(o, key);
		path += len + (dot ? 1 : 0);
	}
	return o;
}

static unsigned long long jull(json_t *o, const char *path)
{
	return (unsigned long long)json_integer_value(jget(o, path));
}

/* serviceContext.Mode() */
static const char *mode_of(json_t *mode)
{
	if (json_object_get(mode, "Global") != NULL)
		return "global";
	if (json_object_get(mode, "Replicated") != NULL)
		return "replicated";
	if (json_object_get(mode, "ReplicatedJob") != NULL)
		return "replicated job";
	if (json_object_get(mode, "GlobalJob") != NULL)
		return "global job";
	return "";
}

static json_t *replicas_of(json_t *svc)
{
	json_t *mode = jget(svc, "Spec.Mode");
	unsigned long long running = jull(svc, "ServiceStatus.RunningTasks");
	unsigned long long desired = jull(svc, "ServiceStatus.DesiredTasks");
	unsigned long long completed = jull(svc, "ServiceStatus.CompletedTasks");
	unsigned long long max = jull(svc, "Spec.TaskTemplate.Placement.MaxReplicas");

	if (json_object_get(mode, "ReplicatedJob") != NULL)
		return json_sprintf("%llu/%llu (%llu/%llu completed)", running, desired, completed,
				    jull(mode, "ReplicatedJob.TotalCompletions"));
	if (json_object_get(mode, "GlobalJob") != NULL)
		return json_sprintf("%llu/%llu (%llu/%llu completed)", running, desired, completed,
				    desired + completed);
	if (strcmp(mode_of(mode), "replicated") == 0 && max > 0)
		return json_sprintf("%llu/%llu (max %llu per node)", running, desired, max);
	return json_sprintf("%llu/%llu", running, desired);
}

struct port {
	const char *proto, *mode;
	uint32_t pub, target;
};

static int port_cmp(const void *a, const void *b)
{
	const struct port *x = a, *y = b;
	int c = strcmp(x->proto, y->proto);

	if (c != 0)
		return c;
	return x->pub < y->pub ? -1 : x->pub > y->pub;
}

static void add_range(struct shoal_buf *b, const struct port *start, uint32_t pend, uint32_t tend)
{
	if (b->len > 0)
		shoal_buf_adds(b, ", ");
	shoal_buf_addf(b, "*:%u", start->pub);
	if (pend > start->pub)
		shoal_buf_addf(b, "-%u", pend);
	shoal_buf_addf(b, "->%u", start->target);
	if (tend > start->target)
		shoal_buf_addf(b, "-%u", tend);
	shoal_buf_addf(b, "/%s", start->proto);
}

/* serviceContext.Ports(): ingress ports, consecutive ones grouped. Go's uint32 arithmetic
 * is kept: a port below the range's end wraps around and starts a new range. */
static json_t *ports_of(json_t *svc)
{
	json_t *list = jget(svc, "Endpoint.Ports"), *p, *res;
	size_t i, n = json_array_size(list);
	struct port *ports = shoal_calloc(n + 1, sizeof(*ports)), cur = { "", "", 0, 0 };
	uint32_t pend = 0, tend = 0;
	struct shoal_buf b;

	shoal_buf_init(&b);
	json_array_foreach(list, i, p) {
		ports[i].proto = json_string_value(json_object_get(p, "Protocol")) ?: "";
		ports[i].mode = json_string_value(json_object_get(p, "PublishMode")) ?: "";
		ports[i].pub = (uint32_t)json_integer_value(json_object_get(p, "PublishedPort"));
		ports[i].target = (uint32_t)json_integer_value(json_object_get(p, "TargetPort"));
	}
	qsort(ports, n, sizeof(*ports), port_cmp);
	for (i = 0; i < n; i++) {
		const struct port *q = &ports[i];
		bool is_range = tend != cur.target;

		if (strcmp(q->mode, "ingress") != 0)
			continue;
		if (strcmp(q->proto, cur.proto) != 0 || (uint32_t)(q->pub - pend) > 1 ||
		    (uint32_t)(q->target - tend) > 1 || (is_range && q->target <= tend)) {
			if (cur.pub > 0)
				add_range(&b, &cur, pend, tend);
			cur = *q;
			pend = q->pub;
			tend = q->target;
			continue;
		}
		pend = q->pub;
		tend = q->target;
	}
	if (cur.pub > 0)
		add_range(&b, &cur, pend, tend);
	res = json_string(b.data);
	shoal_buf_fini(&b);
	free(ports);
	return res;
}

/* The row serviceContext gives templates, keys sorted as its MarshalJSON's map. */
static json_t *row(json_t *svc)
{
	json_t *r = json_object();
	const char *id = json_string_value(json_object_get(svc, "ID")) ?: "";
	char *image = shoal_cli__image_display(
		json_string_value(jget(svc, "Spec.TaskTemplate.ContainerSpec.Image")) ?: "");

	json_object_set_new(r, "ID", json_sprintf("%.12s", id));
	json_object_set_new(r, "Image", json_string(image));
	json_object_set_new(r, "Mode", json_string(mode_of(jget(svc, "Spec.Mode"))));
	json_object_set_new(r, "Name",
			    json_string(json_string_value(jget(svc, "Spec.Name")) ?: ""));
	json_object_set_new(r, "Ports", ports_of(svc));
	json_object_set_new(r, "Replicas", replicas_of(svc));
	free(image);
	return r;
}

/* AppendServiceStatus: daemons before API 1.41 leave ServiceStatus out; count tasks. */
static int append_status(struct shoal_cli_client *c, json_t *services, struct shoal_err *err)
{
	json_t *f = json_object(), *s, *tasks = NULL, *nodes = NULL, *t, *n;
	char *q = NULL, *path = NULL;
	size_t i, j;
	int rv = -1;

	json_array_foreach(services, i, s) {
		json_t *mode = jget(s, "Spec.Mode");

		if (json_object_get(s, "ServiceStatus") != NULL)
			continue;
		if (json_object_get(mode, "Replicated") != NULL) {
			json_object_set_new(
				s, "ServiceStatus",
				json_pack("{s:I}", "DesiredTasks",
					  json_integer_value(jget(mode, "Replicated.Replicas"))));
			json_object_set_new(s, "__count", json_true());
		} else if (json_object_get(mode, "Global") != NULL) {
			json_object_set_new(s, "ServiceStatus", json_object());
			json_object_set_new(s, "__count", json_true());
		} else {
			continue;
		}
		shoal_cli__filters_add(f, "service",
				       json_string_value(json_object_get(s, "ID")) ?: "");
	}
	if (json_object_size(f) == 0) {
		rv = 0;
		goto out;
	}
	q = shoal_cli__filters_query(f);
	path = shoal_asprintf("/tasks?filters=%s", q);
	if (shoal_cli_client_call(c, "GET", path, NULL, &tasks, err) < 0)
		goto out;
	if (json_array_size(tasks) == 0) {
		rv = 0;
		goto out;
	}
	if (shoal_cli_client_call(c, "GET", "/nodes", NULL, &nodes, err) < 0)
		goto out;
	json_array_foreach(services, i, s) {
		json_int_t desired = 0, running = 0;

		if (json_object_get(s, "__count") == NULL)
			continue;
		json_array_foreach(tasks, j, t) {
			const char *node = json_string_value(json_object_get(t, "NodeID")) ?: "";
			bool up = false;
			size_t k;

			if (strcmp(json_string_value(json_object_get(t, "ServiceID")) ?: "",
				   json_string_value(json_object_get(s, "ID")) ?: "") != 0)
				continue;
			if (strcmp(json_string_value(json_object_get(t, "DesiredState")) ?: "",
				   "shutdown") != 0)
				desired++;
			json_array_foreach(nodes, k, n)
				if (strcmp(json_string_value(json_object_get(n, "ID")) ?: "",
					   node) == 0 &&
				    strcmp(json_string_value(jget(n, "Status.State")) ?: "",
					   "down") != 0)
					up = true;
			if (up && strcmp(json_string_value(jget(t, "Status.State")) ?: "",
					 "running") == 0)
				running++;
		}
		json_object_set_new(
			s, "ServiceStatus",
			json_pack("{s:I, s:I}", "RunningTasks", running, "DesiredTasks", desired));
	}
	rv = 0;
out:
	json_decref(f);
	json_decref(tasks);
	json_decref(nodes);
	free(q);
	free(path);
	return rv;
}

static int name_cmp(const void *a, const void *b)
{
	const char *x = json_string_value(jget(*(json_t *const *)a, "Spec.Name")) ?: "";
	const char *y = json_string_value(jget(*(json_t *const *)b, "Spec.Name")) ?: "";

	if (shoal_cli__natural_less(x, y))
		return -1;
	return shoal_cli__natural_less(y, x) ? 1 : 0;
}

static int run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	bool quiet = shoal_cli_flag_bool(args, "quiet");
	const char *format = shoal_cli_flag_str(args, "format");
	struct shoal_cli_client *c = shoal_cli_get_client(cli, err);
	json_t *services = NULL, *rows = NULL, *header = NULL, *f = NULL, **sorted = NULL;
	const char *const *vals;
	char *q = NULL, *path = NULL;
	struct shoal_buf out;
	size_t i, n;
	int rv = -1;

	shoal_buf_init(&out);
	if (c == NULL)
		goto out;
	n = shoal_cli_flag_list(args, "filter", &vals);
	f = shoal_cli__filters_new(vals, n);
	q = shoal_cli__filters_query(f);
	path = shoal_asprintf("/services%s%s%s%s", q || !quiet ? "?" : "", q ? "filters=" : "",
			      q ? q : "",
			      quiet ? "" :
			      q	    ? "&status=true" :
				      "status=true");
	if (shoal_cli_client_call(c, "GET", path, NULL, &services, err) < 0)
		goto out;
	if (!quiet && append_status(c, services, err) < 0)
		goto out;
	n = json_array_size(services);
	sorted = shoal_calloc(n + 1, sizeof(*sorted));
	for (i = 0; i < n; i++)
		sorted[i] = json_array_get(services, i);
	qsort(sorted, n, sizeof(*sorted), name_cmp);
	rows = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(rows, row(sorted[i]));
	header = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "ID", "ID", "Image", "IMAGE", "Mode",
			   "MODE", "Name", "NAME", "Ports", "PORTS", "Replicas", "REPLICAS");
	if (format == NULL || *format == '\0' || strcmp(format, "table") == 0)
		format = quiet ? "{{.ID}}" : def_table;
	else if (strcmp(format, "raw") == 0)
		format = quiet ? "id: {{.ID}}" : raw_format;
	if (shoal_cli_format_list(format, def_table, header, rows, &out, err) < 0)
		goto out;
	shoal_cli__print(cli, &out);
	rv = 0;
out:
	free(sorted);
	free(q);
	free(path);
	json_decref(f);
	json_decref(services);
	json_decref(rows);
	json_decref(header);
	shoal_buf_fini(&out);
	return rv;
}

static const char *const alts[] = { "list", NULL };

static const struct shoal_cli_opt opts[] = {
	{ "filter", 'f', SHOAL_CLI_OPT_LIST, "filter", NULL,
	  "Filter output based on conditions provided" },
	{ "format", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, shoal_cli__format_table_help },
	{ "quiet", 'q', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Only display IDs" },
	{ NULL },
};

static const struct shoal_cli_check checks[] = {
	{ "filter", shoal_cli__check_filter },
	{ NULL },
};

const struct shoal_cli_cmd shoal_cli__cmd_service_ls = {
	.name = "ls",
	.alt_names = alts,
	.use = "ls [OPTIONS]",
	.short_help = "List services",
	.aliases = "shoal service ls, shoal service list",
	.opts = opts,
	.checks = checks,
	.max_args = 0,
	.run = run,
};
