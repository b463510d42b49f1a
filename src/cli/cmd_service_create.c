/* `shoal service create`: a ServiceSpec from the flags as docker/cli's serviceOptions.ToService
 * makes it (cli/command/service/create.go, opts.go), POST /services/create, the ID, then
 * unless -d docker's convergence progress. */
#include "cli/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static size_t list(const struct shoal_cli_args *a, const char *name, const char *const **vals)
{
	return shoal_cli_flag_list(a, name, vals);
}

static json_t *str_array(const char *const *vals, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(vals[i]));
	return arr;
}

/* Sets key to v unless v is an empty array, object or string (Go's omitempty); steals v. */
static void set_nonempty(json_t *o, const char *key, json_t *v)
{
	if ((json_is_array(v) && json_array_size(v) == 0) ||
	    (json_is_object(v) && json_object_size(v) == 0) ||
	    (json_is_string(v) && json_string_length(v) == 0)) {
		json_decref(v);
		return;
	}
	json_object_set_new(o, key, v);
}

/* opts.ReadKVEnvStrings: the --env-file lines, then the --env values. */
static int read_env(const struct shoal_cli_args *a, json_t *env, struct shoal_err *err)
{
	const char *const *vals;
	size_t n, i;
	json_t *all = json_array(), *v;

	n = list(a, "env-file", &vals);
	for (i = 0; i < n; i++) {
		FILE *f = fopen(vals[i], "r");
		char line[8192];
		int lineno = 0;

		if (f == NULL) {
			json_decref(all);
			return shoal_errorf(err, 400, "open %s: %s", vals[i], strerror(errno));
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			char *l = line, *end;

			lineno++;
			end = l + strlen(l);
			while (end > l && (end[-1] == '\n' || end[-1] == '\r'))
				*--end = '\0';
			while (*l == ' ' || *l == '\t')
				l++;
			if (*l == '\0' || *l == '#')
				continue;
			if (strchr(l, '=') == l) {
				fclose(f);
				json_decref(all);
				return shoal_errorf(err, 400, "no variable name on line '%s'", l);
			}
			if (strchr(l, '=') != NULL) {
				json_array_append_new(all, json_string(l));
			} else if (getenv(l) != NULL) {
				json_array_append_new(all, json_sprintf("%s=%s", l, getenv(l)));
			}
		}
		fclose(f);
	}
	n = list(a, "env", &vals);
	for (i = 0; i < n; i++) {
		char *e = shoal_cli__env_value(vals[i]);

		json_array_append_new(all, json_string(e));
		free(e);
	}
	/* makeEnv: a later value of a name replaces the earlier ones */
	json_array_foreach(all, i, v) {
		const char *s = json_string_value(v), *eq = strchr(s, '=');
		size_t klen = eq ? (size_t)(eq - s) : strlen(s), j;

		for (j = 0; j < json_array_size(env);) {
			const char *cur = json_string_value(json_array_get(env, j));

			if (strcmp(cur, s) != 0 && strncmp(cur, s, klen) == 0 && cur[klen] == '=')
				json_array_remove(env, j);
			else
				j++;
		}
		json_array_append_new(env, json_string(s));
	}
	json_decref(all);
	return 0;
}

/* opts.EffectiveCapAddCapDrop, without ALL's special cases beyond keeping it alone. */
static json_t *caps(const char *const *vals, size_t n)
{
	json_t *arr = json_array();
	size_t i, j;

	for (i = 0; i < n; i++) {
		char *c = shoal_strdup(vals[i]), *p, *norm;
		bool dup = false;

		for (p = c; *p != '\0'; p++)
			*p = (char)toupper((unsigned char)*p);
		norm = strcmp(c, "ALL") == 0 || strncmp(c, "CAP_", 4) == 0 ?
			       shoal_strdup(c) :
			       shoal_asprintf("CAP_%s", c);
		for (j = 0; j < json_array_size(arr); j++)
			if (strcmp(json_string_value(json_array_get(arr, j)), norm) == 0)
				dup = true;
		if (!dup)
			json_array_append_new(arr, json_string(norm));
		free(norm);
		free(c);
	}
	return arr;
}

static int ulimits(const struct shoal_cli_args *a, const char *flag, json_t **out,
		   struct shoal_err *err)
{
	const char *const *vals;
	size_t n = list(a, flag, &vals), i;
	json_t *arr = json_array();

	for (i = 0; i < n; i++) {
		const char *eq = strchr(vals[i], '='), *colon;
		char *name;
		int64_t soft, hard;
		struct shoal_err e;

		if (eq == NULL) {
			json_decref(arr);
			return shoal_errorf(err, 400, "invalid ulimit argument: %s", vals[i]);
		}
		name = shoal_strndup(vals[i], (size_t)(eq - vals[i]));
		colon = strchr(eq + 1, ':');
		if (colon != NULL) {
			char *s = shoal_strndup(eq + 1, (size_t)(colon - eq - 1));
			int r = shoal_cli__go_parse_int(s, 10, 64, &soft, &e);

			free(s);
			if (r < 0 || shoal_cli__go_parse_int(colon + 1, 10, 64, &hard, &e) < 0) {
				free(name);
				json_decref(arr);
				return shoal_errorf(err, 400, "invalid ulimit argument: %s",
						    vals[i]);
			}
		} else if (shoal_cli__go_parse_int(eq + 1, 10, 64, &soft, &e) < 0) {
			free(name);
			json_decref(arr);
			return shoal_errorf(err, 400, "invalid ulimit argument: %s", vals[i]);
		} else {
			hard = soft;
		}
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "Name", name, "Hard",
						     (json_int_t)hard, "Soft", (json_int_t)soft));
		free(name);
	}
	*out = arr;
	return 0;
}

int shoal_cli__check_ulimit(const char *val, struct shoal_err *err)
{
	const char *eq = strchr(val, '=');

	if (eq == NULL)
		return shoal_errorf(err, 400, "invalid ulimit argument: %s", val);
	return 0;
}

/* A GenericResource from "kind=value": discrete when the value is a number. */
static json_t *generic_resources(const char *const *vals, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		const char *eq = strchr(vals[i], '=');
		char *kind =
			eq ? shoal_strndup(vals[i], (size_t)(eq - vals[i])) : shoal_strdup(vals[i]);
		int64_t v;
		struct shoal_err e;

		if (eq != NULL && shoal_cli__go_parse_int(eq + 1, 10, 64, &v, &e) == 0)
			json_array_append_new(arr,
					      json_pack("{s:{s:s, s:I}}", "DiscreteResourceSpec",
							"Kind", kind, "Value", (json_int_t)v));
		else
			json_array_append_new(arr,
					      json_pack("{s:{s:s, s:s}}", "NamedResourceSpec",
							"Kind", kind, "Value", eq ? eq + 1 : ""));
		free(kind);
	}
	return arr;
}

int shoal_cli__check_generic_resource(const char *val, struct shoal_err *err)
{
	if (strchr(val, '=') == NULL)
		return shoal_errorf(err, 400,
				    "invalid generic-resource request `%s`, expected `name=value`",
				    val);
	return 0;
}

/* updateConfig / rollbackConfig: swarmkit's defaults with the given flags over them; NULL
 * when no flag of the prefix ("update", "rollback") was given. */
json_t *shoal_cli__svc_update_config(const struct shoal_cli_args *a, const char *p, json_t *base)
{
	static const char *const keys[] = { "parallelism",	 "delay",
					    "monitor",		 "failure-action",
					    "max-failure-ratio", "order" };
	json_t *def = base ? base : shoal_cli__svc_update_defaults(), *uc;
	json_int_t par, delay, monitor;
	double ratio;
	const char *action, *order;
	char flag[64];
	size_t i;
	bool any = false;

	for (i = 0; i < SHOAL_ARRAY_SIZE(keys); i++) {
		snprintf(flag, sizeof(flag), "%s-%s", p, keys[i]);
		any = any || shoal_cli_flag_changed(a, flag);
	}
	if (!any) {
		if (base == NULL)
			json_decref(def);
		return NULL;
	}
	par = json_integer_value(json_object_get(def, "Parallelism"));
	delay = json_integer_value(json_object_get(def, "Delay"));
	monitor = json_integer_value(json_object_get(def, "Monitor"));
	ratio = json_number_value(json_object_get(def, "MaxFailureRatio"));
	action = json_string_value(json_object_get(def, "FailureAction")) ?: "";
	order = json_string_value(json_object_get(def, "Order")) ?: "";
#define FLAG(k) (snprintf(flag, sizeof(flag), "%s-" k, p), flag)
	if (shoal_cli_flag_changed(a, FLAG("parallelism")))
		par = (json_int_t)shoal_cli__flag_uint(a, flag);
	if (shoal_cli_flag_changed(a, FLAG("delay")))
		delay = shoal_cli__flag_duration(a, flag);
	if (shoal_cli_flag_changed(a, FLAG("monitor")))
		monitor = shoal_cli__flag_duration(a, flag);
	if (shoal_cli_flag_changed(a, FLAG("failure-action")))
		action = shoal_cli_flag_str(a, flag);
	if (shoal_cli_flag_changed(a, FLAG("max-failure-ratio")))
		ratio = shoal_cli__flag_float(a, flag);
	if (shoal_cli_flag_changed(a, FLAG("order")))
		order = shoal_cli_flag_str(a, flag);
#undef FLAG
	/* swarm.UpdateConfig's fields in order, Delay, FailureAction and Monitor omitempty */
	uc = json_pack("{s:I}", "Parallelism", par);
	if (delay != 0)
		json_object_set_new(uc, "Delay", json_integer(delay));
	if (*action != '\0')
		json_object_set_new(uc, "FailureAction", json_string(action));
	if (monitor != 0)
		json_object_set_new(uc, "Monitor", json_integer(monitor));
	json_object_set_new(uc, "MaxFailureRatio", shoal_cli__json_f32(ratio));
	json_object_set_new(uc, "Order", json_string(order));
	if (base == NULL)
		json_decref(def);
	return uc;
}

/* serviceOptions.ToServiceMode */
static json_t *service_mode(const struct shoal_cli_args *a, struct shoal_err *err)
{
	const char *mode = shoal_cli_flag_str(a, "mode");
	bool reps = shoal_cli_flag_changed(a, "replicas");
	bool conc = shoal_cli_flag_changed(a, "max-concurrent");
	bool maxr = shoal_cli__flag_uint(a, "replicas-max-per-node") > 0;
	json_t *m = json_object(), *r;

	if (strcmp(mode, "global") == 0 || strcmp(mode, "global-job") == 0) {
		const char *msg = NULL;

		if (strcmp(mode, "global") == 0)
			msg = reps ? "replicas can only be used with replicated or replicated-job mode" :
			      maxr ? "replicas-max-per-node can only be used with replicated or replicated-job mode" :
			      conc ? "max-concurrent can only be used with replicated-job mode" :
				     NULL;
		else
			msg = maxr ? "replicas-max-per-node can only be used with replicated or replicated-job mode" :
			      conc ? "max-concurrent can only be used with replicated-job mode" :
			      reps ? "replicas can only be used with replicated or replicated-job mode" :
				     NULL;
		if (msg != NULL) {
			json_decref(m);
			shoal_errorf(err, 400, "%s", msg);
			return NULL;
		}
		json_object_set_new(m, strcmp(mode, "global") == 0 ? "Global" : "GlobalJob",
				    json_object());
	} else if (strcmp(mode, "replicated") == 0) {
		if (conc) {
			json_decref(m);
			shoal_errorf(err, 400,
				     "max-concurrent can only be used with replicated-job mode");
			return NULL;
		}
		r = json_object();
		if (reps)
			json_object_set_new(
				r, "Replicas",
				json_integer((json_int_t)shoal_cli__flag_uint(a, "replicas")));
		json_object_set_new(m, "Replicated", r);
	} else if (strcmp(mode, "replicated-job") == 0) {
		r = json_object();
		if (conc || reps)
			json_object_set_new(r, "MaxConcurrent",
					    json_integer((json_int_t)shoal_cli__flag_uint(
						    a, conc ? "max-concurrent" : "replicas")));
		if (reps)
			json_object_set_new(
				r, "TotalCompletions",
				json_integer((json_int_t)shoal_cli__flag_uint(a, "replicas")));
		json_object_set_new(m, "ReplicatedJob", r);
	} else {
		json_decref(m);
		shoal_errorf(err, 400, "Unknown mode: %s, only replicated and global supported",
			     mode);
		return NULL;
	}
	return m;
}

static json_t *resources(const struct shoal_cli_args *a)
{
	json_t *lim = json_object(), *res = json_object(), *gr;
	const char *const *vals;
	size_t n;

	if (shoal_cli__flag_cpus(a, "limit-cpu") != 0)
		json_object_set_new(lim, "NanoCPUs",
				    json_integer(shoal_cli__flag_cpus(a, "limit-cpu")));
	if (shoal_cli__flag_bytes(a, "limit-memory") != 0)
		json_object_set_new(lim, "MemoryBytes",
				    json_integer(shoal_cli__flag_bytes(a, "limit-memory")));
	if (shoal_cli__flag_int(a, "limit-pids") != 0)
		json_object_set_new(lim, "Pids",
				    json_integer(shoal_cli__flag_int(a, "limit-pids")));
	if (shoal_cli__flag_cpus(a, "reserve-cpu") != 0)
		json_object_set_new(res, "NanoCPUs",
				    json_integer(shoal_cli__flag_cpus(a, "reserve-cpu")));
	if (shoal_cli__flag_bytes(a, "reserve-memory") != 0)
		json_object_set_new(res, "MemoryBytes",
				    json_integer(shoal_cli__flag_bytes(a, "reserve-memory")));
	n = list(a, "generic-resource", &vals);
	gr = generic_resources(vals, n);
	set_nonempty(res, "GenericResources", gr);
	return json_pack("{s:o, s:o}", "Limits", lim, "Reservations", res);
}

static json_t *restart_policy(const struct shoal_cli_args *a)
{
	static const char *const flags[] = { "restart-delay", "restart-max-attempts",
					     "restart-window", "restart-condition", NULL };
	json_t *rp;

	if (!shoal_cli__flag_any(a, flags))
		return NULL;
	rp = shoal_cli__svc_restart_defaults();
	if (shoal_cli_flag_changed(a, "restart-condition"))
		json_object_set_new(rp, "Condition",
				    json_string(shoal_cli_flag_str(a, "restart-condition")));
	if (shoal_cli_flag_changed(a, "restart-delay"))
		json_object_set_new(rp, "Delay",
				    json_integer(shoal_cli__flag_duration(a, "restart-delay")));
	if (shoal_cli_flag_changed(a, "restart-max-attempts"))
		json_object_set_new(
			rp, "MaxAttempts",
			json_integer((json_int_t)shoal_cli__flag_uint(a, "restart-max-attempts")));
	if (shoal_cli_flag_changed(a, "restart-window"))
		json_object_set_new(rp, "Window",
				    json_integer(shoal_cli__flag_duration(a, "restart-window")));
	if (shoal_cli_flag_str(a, "restart-condition") != NULL &&
	    *shoal_cli_flag_str(a, "restart-condition") == '\0')
		json_object_del(rp, "Condition");
	return rp;
}

static json_t *placement(const struct shoal_cli_args *a)
{
	const char *const *vals;
	size_t n, i;
	json_t *p = json_object(), *prefs = json_array();

	n = list(a, "constraint", &vals);
	set_nonempty(p, "Constraints", str_array(vals, n));
	n = list(a, "placement-pref", &vals);
	for (i = 0; i < n; i++)
		json_array_append_new(prefs, json_pack("{s:{s:s}}", "Spread", "SpreadDescriptor",
						       strchr(vals[i], '=') + 1));
	set_nonempty(p, "Preferences", prefs);
	if (shoal_cli__flag_uint(a, "replicas-max-per-node") != 0)
		json_object_set_new(
			p, "MaxReplicas",
			json_integer((json_int_t)shoal_cli__flag_uint(a, "replicas-max-per-node")));
	return p;
}

static json_t *cred_spec(const char *v)
{
	if (strncmp(v, "config://", 9) == 0)
		return json_pack("{s:s}", "Config", v + 9);
	if (strncmp(v, "file://", 7) == 0)
		return json_pack("{s:s}", "File", v + 7);
	if (strncmp(v, "registry://", 11) == 0)
		return json_pack("{s:s}", "Registry", v + 11);
	return json_object();
}

/* serviceOptions.ToService, with the secrets and configs runCreate adds. */
static json_t *to_spec(struct shoal_cli_client *c, const struct shoal_cli_args *a,
		       struct shoal_err *err)
{
	json_t *spec = NULL, *env = json_array(), *hc = NULL, *mode = NULL, *uc = NULL, *rc = NULL;
	json_t *nets = json_array(), *cs, *tt, *dns, *ep, *v, *mounts, *ports, *ul = NULL;
	json_t *secrets = json_array(), *configs = json_array();
	const char *const *vals;
	const char *s;
	size_t n, i;

	if (read_env(a, env, err) < 0 || shoal_cli__svc_healthcheck(a, &hc, err) < 0)
		goto fail;
	mode = service_mode(a, err);
	if (mode == NULL)
		goto fail;
	uc = shoal_cli__svc_update_config(a, "update", NULL);
	rc = shoal_cli__svc_update_config(a, "rollback", NULL);
	if ((json_object_get(mode, "ReplicatedJob") || json_object_get(mode, "GlobalJob")) &&
	    (uc != NULL || rc != NULL)) {
		shoal_errorf(err, 400,
			     "update and rollback configuration is not supported for jobs");
		goto fail;
	}
	n = list(a, "network", &vals);
	if (shoal_cli__svc_networks(c, vals, n, nets, err) < 0)
		goto fail;
	if (ulimits(a, "ulimit", &ul, err) < 0)
		goto fail;
	n = list(a, "secret", &vals);
	if (n > 0 && shoal_cli__svc_refs(c, true, vals, n, secrets, err) < 0)
		goto fail;
	n = list(a, "config", &vals);
	if (n > 0 && shoal_cli__svc_refs(c, false, vals, n, configs, err) < 0)
		goto fail;

	spec = json_object();
	s = shoal_cli_flag_str(a, "name");
	if (s != NULL && *s != '\0')
		json_object_set_new(spec, "Name", json_string(s));
	n = list(a, "label", &vals);
	json_object_set_new(spec, "Labels", shoal_cli__kv_map(vals, n));

	cs = json_object();
	json_object_set_new(cs, "Image", json_string(a->argv[0]));
	n = list(a, "container-label", &vals);
	set_nonempty(cs, "Labels", shoal_cli__kv_map(vals, n));
	s = shoal_cli_flag_str(a, "entrypoint");
	if (s != NULL && (v = shoal_cli__shlex_split(s, err)) != NULL)
		set_nonempty(cs, "Command", v);
	if (a->argc > 1)
		json_object_set_new(
			cs, "Args",
			str_array((const char *const *)a->argv + 1, (size_t)a->argc - 1));
	set_nonempty(cs, "Hostname", json_string(shoal_cli_flag_str(a, "hostname") ?: ""));
	set_nonempty(cs, "Env", json_incref(env));
	set_nonempty(cs, "Dir", json_string(shoal_cli_flag_str(a, "workdir") ?: ""));
	set_nonempty(cs, "User", json_string(shoal_cli_flag_str(a, "user") ?: ""));
	n = list(a, "group", &vals);
	set_nonempty(cs, "Groups", str_array(vals, n));
	s = shoal_cli_flag_str(a, "credential-spec");
	if (s != NULL && *s != '\0')
		json_object_set_new(cs, "Privileges",
				    json_pack("{s:o}", "CredentialSpec", cred_spec(s)));
	json_object_set_new(cs, "Init", json_boolean(shoal_cli_flag_bool(a, "init")));
	set_nonempty(cs, "StopSignal", json_string(shoal_cli_flag_str(a, "stop-signal") ?: ""));
	if (shoal_cli_flag_bool(a, "tty"))
		json_object_set_new(cs, "TTY", json_true());
	if (shoal_cli_flag_bool(a, "read-only"))
		json_object_set_new(cs, "ReadOnly", json_true());
	mounts = json_array();
	n = list(a, "mount", &vals);
	for (i = 0; i < n; i++) {
		json_t *m = shoal_cli__svc_mount_parse(vals[i], err);

		if (m == NULL) {
			json_decref(mounts);
			json_decref(cs);
			goto fail;
		}
		json_array_append_new(mounts, m);
	}
	set_nonempty(cs, "Mounts", mounts);
	if (shoal_cli_flag_changed(a, "stop-grace-period"))
		json_object_set_new(cs, "StopGracePeriod",
				    json_integer(shoal_cli__flag_duration(a, "stop-grace-period")));
	if (hc != NULL) {
		json_object_set_new(cs, "Healthcheck", hc);
		hc = NULL;
	}
	{
		json_t *hosts = json_array();

		n = list(a, "host", &vals);
		for (i = 0; i < n; i++) {
			const char *colon = strchr(vals[i], ':');

			if (colon != NULL)
				json_array_append_new(hosts, json_sprintf("%s %.*s", colon + 1,
									  (int)(colon - vals[i]),
									  vals[i]));
		}
		set_nonempty(cs, "Hosts", hosts);
	}
	dns = json_object();
	n = list(a, "dns", &vals);
	set_nonempty(dns, "Nameservers", str_array(vals, n));
	n = list(a, "dns-search", &vals);
	set_nonempty(dns, "Search", str_array(vals, n));
	n = list(a, "dns-option", &vals);
	set_nonempty(dns, "Options", str_array(vals, n));
	json_object_set_new(cs, "DNSConfig", dns);
	set_nonempty(cs, "Secrets", json_incref(secrets));
	set_nonempty(cs, "Configs", json_incref(configs));
	set_nonempty(cs, "Isolation", json_string(shoal_cli_flag_str(a, "isolation") ?: ""));
	n = list(a, "sysctl", &vals);
	set_nonempty(cs, "Sysctls", shoal_cli__kv_map(vals, n));
	n = list(a, "cap-add", &vals);
	set_nonempty(cs, "CapabilityAdd", caps(vals, n));
	n = list(a, "cap-drop", &vals);
	set_nonempty(cs, "CapabilityDrop", caps(vals, n));
	set_nonempty(cs, "Ulimits", ul);
	ul = NULL;

	tt = json_object();
	json_object_set_new(tt, "ContainerSpec", cs);
	json_object_set_new(tt, "Resources", resources(a));
	v = restart_policy(a);
	if (v != NULL)
		json_object_set_new(tt, "RestartPolicy", v);
	json_object_set_new(tt, "Placement", placement(a));
	set_nonempty(tt, "Networks", json_incref(nets));
	s = shoal_cli_flag_str(a, "log-driver");
	if (s != NULL && *s != '\0') {
		json_t *ld = json_pack("{s:s}", "Name", s);

		n = list(a, "log-opt", &vals);
		set_nonempty(ld, "Options", shoal_cli__kv_map(vals, n));
		json_object_set_new(tt, "LogDriver", ld);
	}
	json_object_set_new(tt, "ForceUpdate", json_integer(0));
	json_object_set_new(spec, "TaskTemplate", tt);
	json_object_set_new(spec, "Mode", mode);
	mode = NULL;
	if (uc != NULL)
		json_object_set_new(spec, "UpdateConfig", uc);
	if (rc != NULL)
		json_object_set_new(spec, "RollbackConfig", rc);
	uc = rc = NULL;
	ep = json_object();
	{
		char *m = shoal_strdup(shoal_cli_flag_str(a, "endpoint-mode") ?: ""), *p;

		for (p = m; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		set_nonempty(ep, "Mode", json_string(m));
		free(m);
	}
	ports = json_array();
	n = list(a, "publish", &vals);
	for (i = 0; i < n; i++)
		if (shoal_cli__svc_ports_parse(vals[i], ports, err) < 0)
			break;
	set_nonempty(ep, "Ports", ports);
	json_object_set_new(spec, "EndpointSpec", ep);
	goto out;
fail:
	json_decref(spec);
	spec = NULL;
out:
	json_decref(env);
	json_decref(hc);
	json_decref(mode);
	json_decref(uc);
	json_decref(rc);
	json_decref(nets);
	json_decref(ul);
	json_decref(secrets);
	json_decref(configs);
	return spec;
}

static int run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	struct shoal_cli_client *c = shoal_cli_get_client(cli, err);
	json_t *spec = NULL, *resp = NULL, *w;
	char *warning = NULL;
	const char *id;
	size_t i;
	int rv = -1;

	if (c == NULL)
		return -1;
	spec = to_spec(c, args, err);
	if (spec == NULL)
		goto out;
	/* the client library's ServiceCreate: negotiate, tag the image, pin it */
	if (shoal_cli_client_negotiate(c, err) < 0)
		goto out;
	shoal_cli__svc_resolve_image(c, json_object_get(spec, "TaskTemplate"),
				     !shoal_cli_flag_bool(args, "no-resolve-image"), &warning);
	if (shoal_cli_client_call(c, "POST", "/services/create", spec, &resp, err) < 0)
		goto out;
	json_array_foreach(json_object_get(resp, "Warnings"), i, w)
		fprintf(cli->err, "%s\n", json_string_value(w) ?: "");
	if (warning != NULL)
		fprintf(cli->err, "%s\n", warning);
	fflush(cli->err);
	id = json_string_value(json_object_get(resp, "ID")) ?: "";
	fprintf(cli->out, "%s\n", id);
	fflush(cli->out);
	if (shoal_cli_flag_bool(args, "detach")) {
		rv = 0;
		goto out;
	}
	rv = shoal_cli__svc_wait(cli, id, shoal_cli_flag_bool(args, "quiet"), err);
out:
	free(warning);
	json_decref(spec);
	json_decref(resp);
	return rv;
}

/* The flags of create, sorted as pflag lists them. */
static const struct shoal_cli_opt opts[] = {
	{ "cap-add", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Add Linux capabilities" },
	{ "cap-drop", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Drop Linux capabilities" },
	{ "config", 0, SHOAL_CLI_OPT_LIST, "config", NULL,
	  "Specify configurations to expose to the service" },
	{ "constraint", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Placement constraints" },
	{ "container-label", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Container labels" },
	{ "credential-spec", 0, SHOAL_CLI_OPT_STRING, "credential-spec", NULL,
	  "Credential spec for managed service account (Windows only)" },
	{ "detach", 'd', SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Exit immediately instead of waiting for the service to converge" },
	{ "dns", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Set custom DNS servers" },
	{ "dns-option", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Set DNS options" },
	{ "dns-search", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Set custom DNS search domains" },
	{ "endpoint-mode", 0, SHOAL_CLI_OPT_STRING, NULL, "vip", "Endpoint mode (vip or dnsrr)" },
	{ "entrypoint", 0, SHOAL_CLI_OPT_STRING, "command", NULL,
	  "Overwrite the default ENTRYPOINT of the image" },
	{ "env", 'e', SHOAL_CLI_OPT_LIST, NULL, NULL, "Set environment variables" },
	{ "env-file", 0, SHOAL_CLI_OPT_LIST, NULL, NULL,
	  "Read in a file of environment variables" },
	{ "generic-resource", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "User defined resources" },
	{ "group", 0, SHOAL_CLI_OPT_LIST, NULL, NULL,
	  "Set one or more supplementary user groups for the container" },
	{ "health-cmd", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Command to run to check health" },
	{ "health-interval", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Time between running the check (ms|s|m|h)" },
	{ "health-retries", 0, SHOAL_CLI_OPT_STRING, "int", NULL,
	  "Consecutive failures needed to report unhealthy" },
	{ "health-start-period", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)" },
	{ "health-timeout", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Maximum time to allow one check to run (ms|s|m|h)" },
	{ "host", 0, SHOAL_CLI_OPT_LIST, NULL, NULL,
	  "Set one or more custom host-to-IP mappings (host:ip)" },
	{ "hostname", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Container hostname" },
	{ "init", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Use an init inside each service container to forward signals and reap processes" },
	{ "isolation", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Service container isolation mode" },
	{ "label", 'l', SHOAL_CLI_OPT_LIST, NULL, NULL, "Service labels" },
	{ "limit-cpu", 0, SHOAL_CLI_OPT_STRING, "decimal", NULL, "Limit CPUs" },
	{ "limit-memory", 0, SHOAL_CLI_OPT_STRING, "bytes", NULL, "Limit Memory" },
	{ "limit-pids", 0, SHOAL_CLI_OPT_STRING, "int", NULL,
	  "Limit maximum number of processes (default 0 = unlimited)" },
	{ "log-driver", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Logging driver for service" },
	{ "log-opt", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Logging driver options" },
	{ "max-concurrent", 0, SHOAL_CLI_OPT_STRING, "uint", NULL,
	  "Number of job tasks to run concurrently (default equal to --replicas)" },
	{ "mode", 0, SHOAL_CLI_OPT_STRING, NULL, "replicated",
	  "Service mode (\"replicated\", \"global\", \"replicated-job\", \"global-job\")" },
	{ "mount", 0, SHOAL_CLI_OPT_LIST, "mount", NULL,
	  "Attach a filesystem mount to the service" },
	{ "name", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Service name" },
	{ "network", 0, SHOAL_CLI_OPT_LIST, "network", NULL, "Network attachments" },
	{ "no-healthcheck", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Disable any container-specified HEALTHCHECK" },
	{ "no-resolve-image", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Do not query the registry to resolve image digest and supported platforms" },
	{ "placement-pref", 0, SHOAL_CLI_OPT_LIST, "pref", NULL, "Add a placement preference" },
	{ "publish", 'p', SHOAL_CLI_OPT_LIST, "port", NULL, "Publish a port as a node port" },
	{ "quiet", 'q', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Suppress progress output" },
	{ "read-only", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Mount the container's root filesystem as read only" },
	{ "replicas", 0, SHOAL_CLI_OPT_STRING, "uint", NULL, "Number of tasks" },
	{ "replicas-max-per-node", 0, SHOAL_CLI_OPT_STRING, "uint", NULL,
	  "Maximum number of tasks per node (default 0 = unlimited)" },
	{ "reserve-cpu", 0, SHOAL_CLI_OPT_STRING, "decimal", NULL, "Reserve CPUs" },
	{ "reserve-memory", 0, SHOAL_CLI_OPT_STRING, "bytes", NULL, "Reserve Memory" },
	{ "restart-condition", 0, SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Restart when condition is met (\"none\", \"on-failure\", \"any\") (default \"any\")" },
	{ "restart-delay", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Delay between restart attempts (ns|us|ms|s|m|h) (default 5s)" },
	{ "restart-max-attempts", 0, SHOAL_CLI_OPT_STRING, "uint", NULL,
	  "Maximum number of restarts before giving up" },
	{ "restart-window", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Window used to evaluate the restart policy (ns|us|ms|s|m|h)" },
	{ "rollback-delay", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Delay between task rollbacks (ns|us|ms|s|m|h) (default 0s)" },
	{ "rollback-failure-action", 0, SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Action on rollback failure (\"pause\", \"continue\") (default \"pause\")" },
	{ "rollback-max-failure-ratio", 0, SHOAL_CLI_OPT_STRING, "float", NULL,
	  "Failure rate to tolerate during a rollback (default 0)" },
	{ "rollback-monitor", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Duration after each task rollback to monitor for failure (ns|us|ms|s|m|h) (default 5s)" },
	{ "rollback-order", 0, SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Rollback order (\"start-first\", \"stop-first\") (default \"stop-first\")" },
	{ "rollback-parallelism", 0, SHOAL_CLI_OPT_STRING, "uint", NULL,
	  "Maximum number of tasks rolled back simultaneously (0 to roll back all at once) (default 1)" },
	{ "secret", 0, SHOAL_CLI_OPT_LIST, "secret", NULL,
	  "Specify secrets to expose to the service" },
	{ "stop-grace-period", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Time to wait before force killing a container (ns|us|ms|s|m|h) (default 10s)" },
	{ "stop-signal", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Signal to stop the container" },
	{ "sysctl", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Sysctl options" },
	{ "tty", 't', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Allocate a pseudo-TTY" },
	{ "ulimit", 0, SHOAL_CLI_OPT_LIST, "ulimit", NULL, "Ulimit options (default [])" },
	{ "update-delay", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Delay between updates (ns|us|ms|s|m|h) (default 0s)" },
	{ "update-failure-action", 0, SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Action on update failure (\"pause\", \"continue\", \"rollback\") (default \"pause\")" },
	{ "update-max-failure-ratio", 0, SHOAL_CLI_OPT_STRING, "float", NULL,
	  "Failure rate to tolerate during an update (default 0)" },
	{ "update-monitor", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Duration after each task update to monitor for failure (ns|us|ms|s|m|h) (default 5s)" },
	{ "update-order", 0, SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Update order (\"start-first\", \"stop-first\") (default \"stop-first\")" },
	{ "update-parallelism", 0, SHOAL_CLI_OPT_STRING, "uint", NULL,
	  "Maximum number of tasks updated simultaneously (0 to update all at once) (default 1)" },
	{ "user", 'u', SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Username or UID (format: <name|uid>[:<group|gid>])" },
	{ "with-registry-auth", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Send registry authentication details to swarm agents" },
	{ "workdir", 'w', SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Working directory inside the container" },
	{ NULL },
};

static const struct shoal_cli_check checks[] = {
	{ "config", shoal_cli__check_config },
	{ "container-label", shoal_cli__check_label },
	{ "credential-spec", shoal_cli__check_credspec },
	{ "entrypoint", shoal_cli__check_command },
	{ "env", shoal_cli__check_env },
	{ "generic-resource", shoal_cli__check_generic_resource },
	{ "health-interval", shoal_cli__check_pos_duration },
	{ "health-retries", shoal_cli__check_int },
	{ "health-start-period", shoal_cli__check_pos_duration },
	{ "health-timeout", shoal_cli__check_pos_duration },
	{ "label", shoal_cli__check_label },
	{ "limit-cpu", shoal_cli__check_cpus },
	{ "limit-memory", shoal_cli__check_bytes },
	{ "limit-pids", shoal_cli__check_int },
	{ "max-concurrent", shoal_cli__check_uint },
	{ "mount", shoal_cli__check_mount },
	{ "placement-pref", shoal_cli__check_pref },
	{ "publish", shoal_cli__check_port },
	{ "replicas", shoal_cli__check_uint },
	{ "replicas-max-per-node", shoal_cli__check_uint },
	{ "reserve-cpu", shoal_cli__check_cpus },
	{ "reserve-memory", shoal_cli__check_bytes },
	{ "restart-delay", shoal_cli__check_duration },
	{ "restart-max-attempts", shoal_cli__check_uint },
	{ "restart-window", shoal_cli__check_duration },
	{ "rollback-delay", shoal_cli__check_duration },
	{ "rollback-max-failure-ratio", shoal_cli__check_float },
	{ "rollback-monitor", shoal_cli__check_duration },
	{ "rollback-parallelism", shoal_cli__check_uint },
	{ "secret", shoal_cli__check_secret },
	{ "stop-grace-period", shoal_cli__check_duration },
	{ "ulimit", shoal_cli__check_ulimit },
	{ "update-delay", shoal_cli__check_duration },
	{ "update-max-failure-ratio", shoal_cli__check_float },
	{ "update-monitor", shoal_cli__check_duration },
	{ "update-parallelism", shoal_cli__check_uint },
	{ NULL },
};

const struct shoal_cli_cmd shoal_cli__cmd_service_create = {
	.name = "create",
	.use = "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
	.short_help = "Create a new service",
	.opts = opts,
	.checks = checks,
	.min_args = 1,
	.max_args = -1,
	.no_interspersed = true,
	.run = run,
};
