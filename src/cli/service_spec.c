/* Pieces of a swarm ServiceSpec that `service create` and `service update` both make from
 * their flags, as docker/cli's serviceOptions does (cli/command/service/opts.go): typed flag
 * values, swarmkit's defaults for the update, rollback and restart configs, env and label
 * lists, networks, secrets and configs looked up by name, and the image reference the
 * client pins (or warns about) through GET /distribution. JSON keys follow the Go structs'
 * order so requests read like docker's. */
#include "cli/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"

/* Typed values: the flags were checked when parsed, so these cannot fail. */

int64_t shoal_cli__flag_duration(const struct shoal_cli_args *a, const char *name)
{
	const char *v = shoal_cli_flag_str(a, name);
	struct shoal_err e;
	int64_t d = 0;

	if (v != NULL && shoal_cli__go_parse_duration(v, &d, &e) < 0)
		d = 0;
	return d;
}

uint64_t shoal_cli__flag_uint(const struct shoal_cli_args *a, const char *name)
{
	const char *v = shoal_cli_flag_str(a, name);
	struct shoal_err e;
	uint64_t u = 0;

	if (v != NULL && shoal_cli__go_parse_uint(v, 0, 64, &u, &e) < 0)
		u = 0;
	return u;
}

int64_t shoal_cli__flag_int(const struct shoal_cli_args *a, const char *name)
{
	const char *v = shoal_cli_flag_str(a, name);
	struct shoal_err e;
	int64_t i = 0;

	if (v != NULL && shoal_cli__go_parse_int(v, 0, 64, &i, &e) < 0)
		i = 0;
	return i;
}

double shoal_cli__flag_float(const struct shoal_cli_args *a, const char *name)
{
	const char *v = shoal_cli_flag_str(a, name);
	struct shoal_err e;
	double f = 0;

	if (v != NULL && shoal_cli__go_parse_float(v, 32, &f, &e) < 0)
		f = 0;
	return f;
}

int64_t shoal_cli__flag_bytes(const struct shoal_cli_args *a, const char *name)
{
	const char *v = shoal_cli_flag_str(a, name);
	struct shoal_err e;
	int64_t b = 0;

	if (v != NULL && shoal_cli__go_ram_in_bytes(v, &b, &e) < 0)
		b = 0;
	return b;
}

int64_t shoal_cli__flag_cpus(const struct shoal_cli_args *a, const char *name)
{
	const char *v = shoal_cli_flag_str(a, name);
	struct shoal_err e;
	int64_t n = 0;

	if (v != NULL && shoal_cli__go_parse_cpus(v, &n, &e) < 0)
		n = 0;
	return n;
}

bool shoal_cli__flag_any(const struct shoal_cli_args *a, const char *const *names)
{
	for (; *names != NULL; names++)
		if (shoal_cli_flag_changed(a, *names))
			return true;
	return false;
}

/* A float32 as Go marshals it: whole values as integers. */
json_t *shoal_cli__json_f32(double v)
{
	float f = (float)v;

	if ((double)f == (double)(json_int_t)f)
		return json_integer((json_int_t)f);
	return json_real((double)f);
}

json_t *shoal_cli__kv_map(const char *const *vals, size_t n)
{
	json_t *m = json_object();
	size_t i;

	for (i = 0; i < n; i++) {
		const char *eq = strchr(vals[i], '=');
		char *k =
			eq ? shoal_strndup(vals[i], (size_t)(eq - vals[i])) : shoal_strdup(vals[i]);

		json_object_set_new(m, k, json_string(eq ? eq + 1 : ""));
		free(k);
	}
	return m;
}

char *shoal_cli__env_value(const char *v)
{
	const char *env;

	/* opts.ValidateEnv: a bare name takes its value from this environment */
	if (strchr(v, '=') != NULL)
		return shoal_strdup(v);
	env = getenv(v);
	return env ? shoal_asprintf("%s=%s", v, env) : shoal_strdup(v);
}

json_t *shoal_cli__svc_update_defaults(void)
{
	return json_pack("{s:i, s:s, s:I, s:i, s:s}", "Parallelism", 1, "FailureAction", "pause",
			 "Monitor", (json_int_t)5000000000LL, "MaxFailureRatio", 0, "Order",
			 "stop-first");
}

json_t *shoal_cli__svc_restart_defaults(void)
{
	return json_pack("{s:s, s:I, s:i}", "Condition", "any", "Delay", (json_int_t)5000000000LL,
			 "MaxAttempts", 0);
}

/* Sets key to a new object unless it holds one; returns it. */
json_t *shoal_cli__jobj(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_object(v)) {
		v = json_object();
		json_object_set_new(o, key, v);
	}
	return v;
}

/* Networks *******************************************************************************/

/* opts.NetworkOpt.Set, the fields services keep: a new NetworkAttachmentConfig. */
static json_t *network_opt(const char *val, struct shoal_err *err)
{
	json_t *n = json_object(), *fields, *f;
	const char *p;
	bool lng = false;
	size_t i;

	for (p = strchr(val, '='); p != NULL; p = strchr(p + 1, '='))
		if (p > val && p[1] != '\0')
			lng = true;
	if (!lng) {
		json_object_set_new(n, "Target", json_string(val));
		return n;
	}
	fields = shoal_cli__csv_split(val, err);
	if (fields == NULL) {
		json_decref(n);
		return NULL;
	}
	json_array_foreach(fields, i, f) {
		const char *s = json_string_value(f), *eq = strchr(s, '=');
		char *key = eq ? shoal_strndup(s, (size_t)(eq - s)) : shoal_strdup(s);

		int bad = 0;

		if (eq == NULL) {
			bad = shoal_errorf(err, 400, "invalid field key %s", key);
		} else if (strcmp(key, "name") == 0) {
			json_object_set_new(n, "Target", json_string(eq + 1));
		} else if (strcmp(key, "alias") == 0) {
			json_t *al = json_object_get(n, "Aliases");

			if (al == NULL) {
				al = json_array();
				json_object_set_new(n, "Aliases", al);
			}
			json_array_append_new(al, json_string(eq + 1));
		} else if (strcmp(key, "driver-opt") == 0) {
			const char *eq2 = strchr(eq + 1, '=');
			char *k2;

			if (eq2 == NULL) {
				bad = shoal_errorf(
					err, 400,
					"invalid key value pair format in driver options");
			} else {
				k2 = shoal_strndup(eq + 1, (size_t)(eq2 - eq - 1));
				json_object_set_new(shoal_cli__jobj(n, "DriverOpts"), k2,
						    json_string(eq2 + 1));
				free(k2);
			}
		} else {
			bad = shoal_errorf(err, 400, "invalid field key %s", key);
		}
		free(key);
		if (bad < 0) {
			json_decref(fields);
			json_decref(n);
			return NULL;
		}
	}
	json_decref(fields);
	return n;
}

int shoal_cli__svc_network_id(struct shoal_cli_client *c, const char *name, char **id,
			      struct shoal_err *err)
{
	char *esc = shoal_cli_query_escape(name);
	char *path = shoal_asprintf("/networks/%s?scope=swarm", esc);
	json_t *nw = NULL;
	int rv;

	rv = shoal_cli_client_call(c, "GET", path, NULL, &nw, err);
	if (rv == 0)
		*id = shoal_strdup(json_string_value(json_object_get(nw, "Id")) ?: "");
	json_decref(nw);
	free(path);
	free(esc);
	return rv;
}

static int target_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "Target")) ?: "",
		      json_string_value(json_object_get(*(json_t *const *)b, "Target")) ?: "");
}

void shoal_cli__svc_sort_networks(json_t *nets)
{
	size_t i, n = json_array_size(nets);
	json_t **v = shoal_calloc(n + 1, sizeof(*v));

	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(nets, i));
	qsort(v, n, sizeof(*v), target_cmp);
	json_array_clear(nets);
	for (i = 0; i < n; i++)
		json_array_append_new(nets, v[i]);
	free(v);
}

int shoal_cli__svc_networks(struct shoal_cli_client *c, const char *const *vals, size_t n,
			    json_t *out, struct shoal_err *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *net = network_opt(vals[i], err);
		char *id = NULL;

		if (net == NULL)
			return -1;
		if (shoal_cli__svc_network_id(
			    c, json_string_value(json_object_get(net, "Target")) ?: "", &id, err) <
		    0) {
			json_decref(net);
			return -1;
		}
		json_object_set_new(net, "Target", json_string(id));
		free(id);
		json_array_append_new(out, net);
	}
	shoal_cli__svc_sort_networks(out);
	return 0;
}

/* Secrets and configs ********************************************************************/

/* swarmopts.SecretOpt/ConfigOpt.Set: a new reference without its ID. */
static json_t *ref_opt(const char *val, const char *name_key, struct shoal_err *err)
{
	json_t *fields = shoal_cli__csv_split(val, err), *f, *ref = NULL, *file;
	char *source = NULL, *target = NULL, *uid = shoal_strdup("0"), *gid = shoal_strdup("0");
	uint64_t mode = 0444;
	size_t i;

	if (fields == NULL)
		goto out;
	if (json_array_size(fields) == 1 &&
	    strchr(json_string_value(json_array_get(fields, 0)), '=') == NULL) {
		source = shoal_strdup(json_string_value(json_array_get(fields, 0)));
	} else {
		json_array_foreach(fields, i, f) {
			const char *s = json_string_value(f), *eq = strchr(s, '=');
			char *key, *k;

			if (eq == NULL || eq == s) {
				shoal_errorf(err, 400,
					     "invalid field '%s' must be a key=value pair", s);
				goto out;
			}
			key = shoal_strndup(s, (size_t)(eq - s));
			for (k = key; *k != '\0'; k++)
				*k = (char)tolower((unsigned char)*k);
			if (strcmp(key, "source") == 0 || strcmp(key, "src") == 0) {
				free(source);
				source = shoal_strdup(eq + 1);
			} else if (strcmp(key, "target") == 0) {
				free(target);
				target = shoal_strdup(eq + 1);
			} else if (strcmp(key, "uid") == 0) {
				free(uid);
				uid = shoal_strdup(eq + 1);
			} else if (strcmp(key, "gid") == 0) {
				free(gid);
				gid = shoal_strdup(eq + 1);
			} else if (strcmp(key, "mode") == 0) {
				struct shoal_err e;

				if (shoal_cli__go_parse_uint(eq + 1, 0, 32, &mode, &e) < 0) {
					shoal_errorf(err, 400, "invalid mode specified: %s", e.msg);
					free(key);
					goto out;
				}
			} else {
				shoal_errorf(err, 400, "invalid field in %s request: %s",
					     name_key[0] == 'S' ? "secret" : "config", key);
				free(key);
				goto out;
			}
			free(key);
		}
	}
	if (source == NULL || *source == '\0') {
		shoal_errorf(err, 400, "source is required");
		goto out;
	}
	file = json_pack("{s:s, s:s, s:s, s:I}", "Name", target ? target : source, "UID", uid,
			 "GID", gid, "Mode", (json_int_t)mode);
	ref = json_pack("{s:o, s:s}", "File", file, name_key, source);
out:
	json_decref(fields);
	free(source);
	free(target);
	free(uid);
	free(gid);
	return ref;
}

int shoal_cli__check_secret(const char *val, struct shoal_err *err)
{
	json_t *r = ref_opt(val, "SecretName", err);

	json_decref(r);
	return r ? 0 : -1;
}

int shoal_cli__check_config(const char *val, struct shoal_err *err)
{
	json_t *r = ref_opt(val, "ConfigName", err);

	json_decref(r);
	return r ? 0 : -1;
}

int shoal_cli__svc_refs(struct shoal_cli_client *c, bool secrets, const char *const *vals, size_t n,
			json_t *out, struct shoal_err *err)
{
	const char *name_key = secrets ? "SecretName" : "ConfigName";
	const char *id_key = secrets ? "SecretID" : "ConfigID";
	json_t *refs = json_array(), *f = json_object(), *list = NULL, *r, *o;
	char *q = NULL, *path = NULL;
	size_t i, j;
	int rv = -1;

	for (i = 0; i < n; i++) {
		r = ref_opt(vals[i], name_key, err);
		if (r == NULL)
			goto out;
		json_array_foreach(refs, j, o) {
			if (strcmp(json_string_value(
					   json_object_get(json_object_get(o, "File"), "Name")),
				   json_string_value(json_object_get(json_object_get(r, "File"),
								     "Name"))) == 0) {
				shoal_errorf(err, 400, "duplicate %s target for %s not allowed",
					     secrets ? "secret" : "config",
					     json_string_value(json_object_get(r, name_key)));
				json_decref(r);
				goto out;
			}
		}
		shoal_cli__filters_add(f, "name", json_string_value(json_object_get(r, name_key)));
		json_array_append_new(refs, r);
	}
	if (json_array_size(refs) == 0) {
		rv = 0;
		goto out;
	}
	q = shoal_cli__filters_query(f);
	path = shoal_asprintf("/%s?filters=%s", secrets ? "secrets" : "configs", q);
	if (shoal_cli_client_call(c, "GET", path, NULL, &list, err) < 0)
		goto out;
	json_array_foreach(refs, i, r) {
		const char *want = json_string_value(json_object_get(r, name_key));
		const char *id = NULL;

		json_array_foreach(list, j, o)
			if (strcmp(json_string_value(json_object_get(json_object_get(o, "Spec"), "Name")) ?:
					   "",
				   want) == 0)
				id = json_string_value(json_object_get(o, "ID"));
		if (id == NULL) {
			shoal_errorf(err, 404, "%s not found: %s", secrets ? "secret" : "config",
				     want);
			goto out;
		}
		json_object_set_new(r, id_key, json_string(id));
		/* Go's field order: File, SecretID, SecretName */
		o = json_incref(json_object_get(r, name_key));
		json_object_del(r, name_key);
		json_object_set_new(r, name_key, o);
		json_array_append(out, r);
	}
	rv = 0;
out:
	json_decref(refs);
	json_decref(f);
	json_decref(list);
	free(q);
	free(path);
	return rv;
}

/* Health checks **************************************************************************/

int shoal_cli__svc_healthcheck(const struct shoal_cli_args *a, json_t **out, struct shoal_err *err)
{
	json_t *hc;
	const char *cmd = shoal_cli_flag_str(a, "health-cmd");
	bool have = (cmd != NULL && *cmd != '\0') || shoal_cli_flag_changed(a, "health-interval") ||
		    shoal_cli_flag_changed(a, "health-timeout") ||
		    shoal_cli_flag_changed(a, "health-start-period") ||
		    shoal_cli__flag_int(a, "health-retries") != 0;

	*out = NULL;
	if (shoal_cli_flag_bool(a, "no-healthcheck")) {
		if (have)
			return shoal_errorf(err, 400,
					    "--no-healthcheck conflicts with --health-* options");
		*out = json_pack("{s:[s]}", "Test", "NONE");
		return 0;
	}
	if (!have)
		return 0;
	hc = json_object();
	if (cmd != NULL && *cmd != '\0')
		json_object_set_new(hc, "Test", json_pack("[s, s]", "CMD-SHELL", cmd));
	if (shoal_cli__flag_duration(a, "health-interval") != 0)
		json_object_set_new(hc, "Interval",
				    json_integer(shoal_cli__flag_duration(a, "health-interval")));
	if (shoal_cli__flag_duration(a, "health-timeout") != 0)
		json_object_set_new(hc, "Timeout",
				    json_integer(shoal_cli__flag_duration(a, "health-timeout")));
	if (shoal_cli__flag_duration(a, "health-start-period") != 0)
		json_object_set_new(
			hc, "StartPeriod",
			json_integer(shoal_cli__flag_duration(a, "health-start-period")));
	if (shoal_cli__flag_int(a, "health-retries") != 0)
		json_object_set_new(hc, "Retries",
				    json_integer(shoal_cli__flag_int(a, "health-retries")));
	*out = hc;
	return 0;
}

/* The image ******************************************************************************/

void shoal_cli__svc_resolve_image(struct shoal_cli_client *c, json_t *task_template, bool query,
				  char **warning)
{
	json_t *cs = json_object_get(task_template, "ContainerSpec"), *dist = NULL, *p;
	const char *image = json_string_value(json_object_get(cs, "Image")) ?: "";
	char *tagged = shoal_cli__image_tagged(image), *path;
	struct shoal_err e;
	size_t i;

	*warning = NULL;
	if (tagged != NULL) {
		json_object_set_new(cs, "Image", json_string(tagged));
		free(tagged);
		image = json_string_value(json_object_get(cs, "Image"));
	}
	if (!query)
		return;
	path = shoal_asprintf("/distribution/%s/json", image);
	if (shoal_cli_client_call(c, "GET", path, NULL, &dist, &e) < 0) {
		/* the client's digestWarning, added to the answer's warnings */
		*warning = shoal_asprintf(
			"image %s could not be accessed on a registry to record\nits digest. Each node will access %s independently,\npossibly leading to different nodes running different\nversions of the image.\n",
			image, image);
		free(path);
		return;
	}
	free(path);
	{
		const char *digest = json_string_value(
			json_object_get(json_object_get(dist, "Descriptor"), "digest"));
		json_t *plats = json_array();
		char *pinned = shoal_cli__image_with_digest(image, digest ? digest : "");

		json_object_set_new(cs, "Image", json_string(pinned));
		free(pinned);
		json_array_foreach(json_object_get(dist, "Platforms"), i, p) {
			const char *arch =
				json_string_value(json_object_get(p, "architecture")) ?: "";
			const char *os = json_string_value(json_object_get(p, "os")) ?: "";
			json_t *pl = json_object();

			/* swarmkit#2294: arm images would match no armv7l node */
			if (strcasecmp(arch, "arm") == 0)
				arch = "";
			if (*arch != '\0')
				json_object_set_new(pl, "Architecture", json_string(arch));
			if (*os != '\0')
				json_object_set_new(pl, "OS", json_string(os));
			json_array_append_new(plats, pl);
		}
		if (json_array_size(plats) > 0)
			json_object_set_new(shoal_cli__jobj(task_template, "Placement"),
					    "Platforms", plats);
		else
			json_decref(plats);
	}
	json_decref(dist);
}
