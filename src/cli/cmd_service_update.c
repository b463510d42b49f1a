/* `shoal service update`: GET the service, change its spec as docker/cli's updateService
 * does for each flag given (cli/command/service/update.go), POST it back at its version
 * (registryAuthFrom=spec, or rollback=previous with --rollback), print the name, then unless
 * -d docker's convergence progress, rolling update included. */
#include "cli/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static size_t list(const struct shoal_cli_args *a, const char *name, const char *const **vals)
{
	return shoal_cli_flag_list(a, name, vals);
}

static bool in_list(const char *const *vals, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(vals[i], s) == 0)
			return true;
	return false;
}

/* Sets key to v, or deletes it when v is empty (Go's omitempty); steals v. */
static void set_or_del(json_t *o, const char *key, json_t *v)
{
	if ((json_is_array(v) && json_array_size(v) == 0) ||
	    (json_is_object(v) && json_object_size(v) == 0) ||
	    (json_is_string(v) && json_string_length(v) == 0) ||
	    (json_is_integer(v) && json_integer_value(v) == 0) || json_is_false(v)) {
		json_decref(v);
		json_object_del(o, key);
		return;
	}
	json_object_set_new(o, key, v);
}

/* updateLabels, updateContainerLabels, updateSysCtls: remove the keys, then add. */
static void update_map(const struct shoal_cli_args *a, json_t *parent, const char *key,
		       const char *add, const char *rm, bool keep_empty)
{
	json_t *m = json_object_get(parent, key);
	const char *const *vals;
	size_t n, i;

	if (json_is_object(m) && shoal_cli_flag_changed(a, rm)) {
		n = list(a, rm, &vals);
		for (i = 0; i < n; i++) {
			const char *eq = strchr(vals[i], '=');
			char *k = eq ? shoal_strndup(vals[i], (size_t)(eq - vals[i])) :
				       shoal_strdup(vals[i]);

			/* labels are removed by the whole value, sysctls by the key */
			json_object_del(m, strcmp(rm, "sysctl-rm") == 0 ? k : vals[i]);
			free(k);
		}
	}
	if (shoal_cli_flag_changed(a, add)) {
		json_t *kv;

		m = shoal_cli__jobj(parent, key);
		n = list(a, add, &vals);
		kv = shoal_cli__kv_map(vals, n);
		json_object_update(m, kv);
		json_decref(kv);
	}
	if (!keep_empty && json_is_object(m) && json_object_size(m) == 0)
		json_object_del(parent, key);
}

static const char *env_key(const char *v, size_t *len)
{
	const char *eq = strchr(v, '=');

	*len = eq ? (size_t)(eq - v) : strlen(v);
	return v;
}

/* updateEnvironment: --env-rm by name, then --env-add replacing a name's value. */
static void update_env(const struct shoal_cli_args *a, json_t *cs)
{
	json_t *env = json_object_get(cs, "Env"), *out = json_array(), *v;
	const char *const *rm, *const *add;
	size_t nrm = list(a, "env-rm", &rm), nadd = list(a, "env-add", &add), i, j;

	json_array_foreach(env, i, v) {
		size_t len;
		const char *k = env_key(json_string_value(v), &len);
		bool drop = false;

		for (j = 0; j < nrm; j++)
			if (strlen(rm[j]) == len && strncmp(rm[j], k, len) == 0)
				drop = true;
		if (!drop)
			json_array_append(out, v);
	}
	for (i = 0; i < nadd; i++) {
		char *e = shoal_cli__env_value(add[i]);
		size_t len, l2;
		const char *k = env_key(e, &len);

		json_array_foreach(out, j, v) {
			env_key(json_string_value(v), &l2);
			if (l2 == len && strncmp(json_string_value(v), k, len) == 0)
				break;
		}
		if (j < json_array_size(out))
			json_array_set_new(out, j, json_string(e));
		else
			json_array_append_new(out, json_string(e));
		free(e);
	}
	set_or_del(cs, "Env", out);
}

/* --constraint-add/-rm, --group-add/-rm: append, remove, sort (docker sorts for stability). */
static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static json_t *add_rm_sorted(json_t *cur, const char *const *add, size_t nadd,
			     const char *const *rm, size_t nrm)
{
	const char **all = shoal_calloc(json_array_size(cur) + nadd + 1, sizeof(*all));
	size_t n = 0, i;
	json_t *v, *out = json_array();

	json_array_foreach(cur, i, v)
		all[n++] = json_string_value(v);
	for (i = 0; i < nadd; i++)
		all[n++] = add[i];
	qsort(all, n, sizeof(*all), str_cmp);
	for (i = 0; i < n; i++)
		if (!in_list(rm, nrm, all[i]))
			json_array_append_new(out, json_string(all[i]));
	free(all);
	return out;
}

/* removeDuplicates then drop, then sort: the DNS lists. */
static json_t *dns_list(json_t *cur, const char *const *add, size_t nadd, const char *const *rm,
			size_t nrm)
{
	const char **all = shoal_calloc(json_array_size(cur) + nadd + 1, sizeof(*all));
	size_t n = 0, i, j;
	json_t *v, *out = json_array();

	json_array_foreach(cur, i, v)
		all[n++] = json_string_value(v);
	for (i = 0; i < nadd; i++)
		all[n++] = add[i];
	qsort(all, n, sizeof(*all), str_cmp);
	for (i = 0; i < n; i++) {
		bool dup = false;

		for (j = 0; j < i; j++)
			if (strcmp(all[j], all[i]) == 0)
				dup = true;
		if (!dup && !in_list(rm, nrm, all[i]))
			json_array_append_new(out, json_string(all[i]));
	}
	free(all);
	return out;
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "";
}

/* portConfigToString */
static char *port_key(json_t *p)
{
	return shoal_asprintf("%lld:%lld/%s/%s",
			      (long long)json_integer_value(json_object_get(p, "PublishedPort")),
			      (long long)json_integer_value(json_object_get(p, "TargetPort")),
			      jstr(p, "Protocol"), jstr(p, "PublishMode"));
}

static int port_cmp(const void *x, const void *y)
{
	char *a = port_key(*(json_t *const *)x), *b = port_key(*(json_t *const *)y);
	int c = strcmp(a, b);

	free(a);
	free(b);
	return c;
}

static bool same_or(const char *a, const char *b, const char *def)
{
	return strcmp(a, b) == 0 || (*a == '\0' && strcmp(b, def) == 0) ||
	       (*b == '\0' && strcmp(a, def) == 0);
}

/* updatePorts */
static void update_ports(const struct shoal_cli_args *a, json_t *ep)
{
	json_t *cur = json_object_get(ep, "Ports"), *rm = json_array(), *add = json_array(), *p, *q;
	json_t **keep;
	const char *const *vals;
	size_t n, i, j, k = 0;
	struct shoal_err e;

	n = list(a, "publish-rm", &vals);
	for (i = 0; i < n; i++)
		if (shoal_cli__svc_ports_parse(vals[i], rm, &e) < 0)
			continue;
	n = list(a, "publish-add", &vals);
	for (i = 0; i < n; i++)
		if (shoal_cli__svc_ports_parse(vals[i], add, &e) < 0)
			continue;
	keep = shoal_calloc(json_array_size(cur) + json_array_size(add) + 1, sizeof(*keep));
	json_array_foreach(cur, i, p) {
		char *key = port_key(p);
		bool drop = false, dup = false;

		for (j = 0; j < k; j++) {
			char *other = port_key(keep[j]);

			dup = dup || strcmp(key, other) == 0;
			free(other);
		}
		json_array_foreach(rm, j, q)
			if (same_or(jstr(p, "Protocol"), jstr(q, "Protocol"), "tcp") &&
			    json_integer_value(json_object_get(p, "TargetPort")) ==
				    json_integer_value(json_object_get(q, "TargetPort")) &&
			    same_or(jstr(p, "PublishMode"), jstr(q, "PublishMode"), "ingress"))
				drop = true;
		free(key);
		if (!drop && !dup)
			keep[k++] = p;
	}
	json_array_foreach(add, i, p) {
		char *key = port_key(p);
		bool exists = false;

		json_array_foreach(cur, j, q) {
			char *other = port_key(q);

			exists = exists || strcmp(key, other) == 0;
			free(other);
		}
		free(key);
		if (!exists)
			keep[k++] = p;
	}
	qsort(keep, k, sizeof(*keep), port_cmp);
	q = json_array();
	for (i = 0; i < k; i++)
		json_array_append(q, keep[i]);
	set_or_del(ep, "Ports", q);
	free(keep);
	json_decref(rm);
	json_decref(add);
}

static int mount_cmp(const void *x, const void *y)
{
	json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int c = strcmp(jstr(a, "Source"), jstr(b, "Source"));

	return c != 0 ? c : strcmp(jstr(a, "Target"), jstr(b, "Target"));
}

/* updateMounts: added mounts replace those at their targets; removed by target; sorted. */
static int update_mounts(const struct shoal_cli_args *a, json_t *cs, struct shoal_err *err)
{
	json_t *add = json_array(), *m, **all, *out;
	const char *const *vals, *const *rm;
	size_t n = list(a, "mount-add", &vals), nrm = list(a, "mount-rm", &rm), i, j, k = 0;

	for (i = 0; i < n; i++) {
		m = shoal_cli__svc_mount_parse(vals[i], err);
		if (m == NULL) {
			json_decref(add);
			return -1;
		}
		json_array_foreach(add, j, out)
			if (strcmp(jstr(out, "Target"), jstr(m, "Target")) == 0) {
				json_decref(m);
				json_decref(add);
				return shoal_errorf(err, 400, "duplicate mount target");
			}
		json_array_append_new(add, m);
	}
	all = shoal_calloc(json_array_size(add) + json_array_size(json_object_get(cs, "Mounts")) +
				   1,
			   sizeof(*all));
	json_array_foreach(add, i, m)
		all[k++] = m;
	json_array_foreach(json_object_get(cs, "Mounts"), i, m) {
		bool replaced = false;

		json_array_foreach(add, j, out)
			if (strcmp(jstr(out, "Target"), jstr(m, "Target")) == 0)
				replaced = true;
		if (!replaced)
			all[k++] = m;
	}
	qsort(all, k, sizeof(*all), mount_cmp);
	out = json_array();
	for (i = 0; i < k; i++)
		if (!in_list(rm, nrm, jstr(all[i], "Target")))
			json_array_append(out, all[i]);
	set_or_del(cs, "Mounts", out);
	free(all);
	json_decref(add);
	return 0;
}

/* updateHosts: "host[:ip]" removals from "IP host..." entries, then the additions. */
static void update_hosts(const struct shoal_cli_args *a, json_t *cs)
{
	const char *const *rm, *const *add;
	size_t nrm = list(a, "host-rm", &rm), nadd = list(a, "host-add", &add), i, j;
	json_t *out = json_array(), *v;

	json_array_foreach(json_object_get(cs, "Hosts"), i, v) {
		char *entry = shoal_strdup(json_string_value(v)), *save = NULL, *tok, *ip;
		struct shoal_buf b;

		ip = strtok_r(entry, " \t", &save);
		if (ip == NULL) {
			free(entry);
			continue;
		}
		shoal_buf_init(&b);
		while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
			bool drop = false;

			for (j = 0; j < nrm; j++) {
				const char *colon = strchr(rm[j], ':');
				size_t hl = colon ? (size_t)(colon - rm[j]) : strlen(rm[j]);

				if (colon != NULL && colon[1] != '\0' && strcmp(colon + 1, ip) != 0)
					continue;
				if (strlen(tok) == hl && strncmp(tok, rm[j], hl) == 0)
					drop = true;
			}
			if (!drop)
				shoal_buf_addf(&b, " %s", tok);
		}
		if (b.len > 0)
			json_array_append_new(out, json_sprintf("%s%s", ip, b.data));
		shoal_buf_fini(&b);
		free(entry);
	}
	for (i = 0; i < nadd; i++) {
		const char *colon = strchr(add[i], ':');

		if (colon != NULL)
			json_array_append_new(out, json_sprintf("%s %.*s", colon + 1,
								(int)(colon - add[i]), add[i]));
	}
	/* removeDuplicates */
	for (i = 0; i < json_array_size(out); i++)
		for (j = i + 1; j < json_array_size(out);)
			if (strcmp(json_string_value(json_array_get(out, i)),
				   json_string_value(json_array_get(out, j))) == 0)
				json_array_remove(out, j);
			else
				j++;
	set_or_del(cs, "Hosts", out);
}

static int update_healthcheck(const struct shoal_cli_args *a, json_t *cs, struct shoal_err *err)
{
	static const char *const flags[] = { "no-healthcheck",
					     "health-cmd",
					     "health-interval",
					     "health-retries",
					     "health-timeout",
					     "health-start-period",
					     NULL };
	json_t *hc, *t;

	if (!shoal_cli__flag_any(a, flags))
		return 0;
	hc = shoal_cli__jobj(cs, "Healthcheck");
	if (shoal_cli_flag_bool(a, "no-healthcheck")) {
		if (!shoal_cli__flag_any(a, flags + 1)) {
			json_object_set_new(cs, "Healthcheck",
					    json_pack("{s:[s]}", "Test", "NONE"));
			return 0;
		}
		return shoal_errorf(err, 400, "--no-healthcheck conflicts with --health-* options");
	}
	t = json_object_get(hc, "Test");
	if (json_array_size(t) > 0 &&
	    strcmp(json_string_value(json_array_get(t, 0)) ?: "", "NONE") == 0)
		json_object_del(hc, "Test");
	if (shoal_cli_flag_changed(a, "health-interval"))
		set_or_del(hc, "Interval",
			   json_integer(shoal_cli__flag_duration(a, "health-interval")));
	if (shoal_cli_flag_changed(a, "health-timeout"))
		set_or_del(hc, "Timeout",
			   json_integer(shoal_cli__flag_duration(a, "health-timeout")));
	if (shoal_cli_flag_changed(a, "health-start-period"))
		set_or_del(hc, "StartPeriod",
			   json_integer(shoal_cli__flag_duration(a, "health-start-period")));
	if (shoal_cli_flag_changed(a, "health-retries"))
		set_or_del(hc, "Retries", json_integer(shoal_cli__flag_int(a, "health-retries")));
	if (shoal_cli_flag_changed(a, "health-cmd")) {
		const char *cmd = shoal_cli_flag_str(a, "health-cmd");

		if (*cmd != '\0')
			json_object_set_new(hc, "Test", json_pack("[s, s]", "CMD-SHELL", cmd));
		else
			json_object_del(hc, "Test");
	}
	return 0;
}

/* updateNetworks: --network-rm by name or ID, --network-add resolved, sorted by ID. */
static int update_networks(struct shoal_cli_client *c, const struct shoal_cli_args *a, json_t *spec,
			   json_t *tt, struct shoal_err *err)
{
	json_t *cur = json_object_get(tt, "Networks"), *out = json_array(), *added = json_array();
	json_t *rmids = json_array(), *n, *m;
	const char *const *rm, *const *add;
	size_t nrm = list(a, "network-rm", &rm), nadd = list(a, "network-add", &add), i, j;
	int rv = -1;

	if (json_array_size(cur) == 0)
		cur = json_object_get(spec, "Networks");
	for (i = 0; i < nrm; i++) {
		char *id = NULL;

		if (shoal_cli__svc_network_id(c, rm[i], &id, err) < 0)
			goto out;
		json_array_append_new(rmids, json_string(id));
		free(id);
	}
	json_array_foreach(cur, i, n) {
		bool drop = false;

		json_array_foreach(rmids, j, m)
			if (strcmp(json_string_value(m), jstr(n, "Target")) == 0)
				drop = true;
		if (!drop)
			json_array_append(out, n);
	}
	if (shoal_cli__svc_networks(c, add, nadd, added, err) < 0)
		goto out;
	json_array_foreach(added, i, n) {
		json_array_foreach(out, j, m)
			if (strcmp(jstr(m, "Target"), jstr(n, "Target")) == 0) {
				shoal_errorf(err, 400, "service is already attached to network %s",
					     add[i]);
				goto out;
			}
		json_array_append(out, n);
	}
	shoal_cli__svc_sort_networks(out);
	json_object_del(spec, "Networks");
	set_or_del(tt, "Networks", json_incref(out));
	rv = 0;
out:
	json_decref(out);
	json_decref(added);
	json_decref(rmids);
	return rv;
}

/* getUpdatedSecrets / getUpdatedConfigs: kept unless removed by name, then the added ones. */
static int update_refs(struct shoal_cli_client *c, const struct shoal_cli_args *a, json_t *cs,
		       bool secrets, struct shoal_err *err)
{
	const char *key = secrets ? "Secrets" : "Configs",
		   *name = secrets ? "SecretName" : "ConfigName";
	const char *const *rm, *const *add;
	size_t nrm = list(a, secrets ? "secret-rm" : "config-rm", &rm);
	size_t nadd = list(a, secrets ? "secret-add" : "config-add", &add), i;
	json_t *out = json_array(), *r;

	json_array_foreach(json_object_get(cs, key), i, r)
		if (json_object_get(r, "Runtime") != NULL || !in_list(rm, nrm, jstr(r, name)))
			json_array_append(out, r);
	if (nadd > 0 && shoal_cli__svc_refs(c, secrets, add, nadd, out, err) < 0) {
		json_decref(out);
		return -1;
	}
	set_or_del(cs, key, out);
	return 0;
}

/* updateCapabilities, the common cases: added caps leave the drop list and join the add
 * list, dropped ones the other way round. */
static void update_caps(const struct shoal_cli_args *a, json_t *cs)
{
	const char *const *add, *const *drop;
	size_t nadd = list(a, "cap-add", &add), ndrop = list(a, "cap-drop", &drop), i;
	json_t *ca = json_object(), *cd = json_object(), *v;
	const char *k;

	json_array_foreach(json_object_get(cs, "CapabilityAdd"), i, v)
		json_object_set_new(ca, json_string_value(v), json_true());
	json_array_foreach(json_object_get(cs, "CapabilityDrop"), i, v)
		json_object_set_new(cd, json_string_value(v), json_true());
	for (i = 0; i < ndrop + nadd; i++) {
		bool is_add = i >= ndrop;
		char *c = shoal_strdup(is_add ? add[i - ndrop] : drop[i]), *p, *norm;

		for (p = c; *p != '\0'; p++)
			*p = (char)toupper((unsigned char)*p);
		norm = strcmp(c, "ALL") == 0 || strcmp(c, "RESET") == 0 ||
				       strncmp(c, "CAP_", 4) == 0 ?
			       shoal_strdup(c) :
			       shoal_asprintf("CAP_%s", c);
		if (strcmp(norm, "RESET") == 0) {
			json_object_clear(is_add ? ca : cd);
		} else if (is_add) {
			if (json_object_get(cd, norm))
				json_object_del(cd, norm);
			else
				json_object_set_new(ca, norm, json_true());
		} else if (!in_list(add, nadd, drop[i])) {
			if (json_object_get(ca, norm))
				json_object_del(ca, norm);
			else
				json_object_set_new(cd, norm, json_true());
		}
		free(norm);
		free(c);
	}
	{
		json_t *lists[2] = { ca, cd };
		const char *keys[2] = { "CapabilityAdd", "CapabilityDrop" };
		int l;

		for (l = 0; l < 2; l++) {
			const char **names =
				shoal_calloc(json_object_size(lists[l]) + 1, sizeof(*names));
			size_t n = 0;
			json_t *arr = json_array();

			json_object_foreach(lists[l], k, v)
				names[n++] = k;
			qsort(names, n, sizeof(*names), str_cmp);
			if (json_object_get(lists[l], "ALL"))
				json_array_append_new(arr, json_string("ALL"));
			else
				for (i = 0; i < n; i++)
					json_array_append_new(arr, json_string(names[i]));
			set_or_del(cs, keys[l], arr);
			free(names);
		}
	}
	json_decref(ca);
	json_decref(cd);
}

/* updateService */
static int update_spec(struct shoal_cli_client *c, const struct shoal_cli_args *a, json_t *spec,
		       struct shoal_err *err)
{
	static const char *const limit_flags[] = { "limit-cpu", "limit-memory", "limit-pids",
						   NULL };
	static const char *const res_flags[] = { "reserve-cpu", "reserve-memory", NULL };
	static const char *const restart_flags[] = { "restart-condition", "restart-delay",
						     "restart-max-attempts", "restart-window",
						     NULL };
	static const char *const dns_flags[] = {
		"dns-add",	 "dns-rm", "dns-option-add", "dns-option-rm", "dns-search-add",
		"dns-search-rm", NULL
	};
	json_t *tt = shoal_cli__jobj(spec, "TaskTemplate"),
	       *cs = shoal_cli__jobj(tt, "ContainerSpec");
	json_t *v, *o;
	const char *const *vals, *const *rm;
	size_t n, nrm;
	const char *s;

	update_map(a, spec, "Labels", "label-add", "label-rm", true);
	update_map(a, cs, "Labels", "container-label-add", "container-label-rm", false);
	if (shoal_cli_flag_changed(a, "image"))
		json_object_set_new(cs, "Image", json_string(shoal_cli_flag_str(a, "image")));
	if (shoal_cli_flag_changed(a, "args"))
		set_or_del(cs, "Args", shoal_cli__shlex_split(shoal_cli_flag_str(a, "args"), err));
	if (shoal_cli_flag_changed(a, "entrypoint"))
		set_or_del(cs, "Command",
			   shoal_cli__shlex_split(shoal_cli_flag_str(a, "entrypoint"), err));
	update_env(a, cs);
	if (shoal_cli_flag_changed(a, "workdir"))
		set_or_del(cs, "Dir", json_string(shoal_cli_flag_str(a, "workdir")));
	if (shoal_cli_flag_changed(a, "user"))
		set_or_del(cs, "User", json_string(shoal_cli_flag_str(a, "user")));
	if (shoal_cli_flag_changed(a, "hostname"))
		set_or_del(cs, "Hostname", json_string(shoal_cli_flag_str(a, "hostname")));
	if (shoal_cli_flag_changed(a, "init"))
		json_object_set_new(cs, "Init", json_boolean(shoal_cli_flag_bool(a, "init")));
	if (shoal_cli_flag_changed(a, "isolation"))
		set_or_del(cs, "Isolation", json_string(shoal_cli_flag_str(a, "isolation")));
	if (update_mounts(a, cs, err) < 0)
		return -1;
	update_map(a, cs, "Sysctls", "sysctl-add", "sysctl-rm", false);
	if (shoal_cli_flag_changed(a, "ulimit-add") || shoal_cli_flag_changed(a, "ulimit-rm")) {
		json_t *out = json_array(), *u;
		size_t i, j;

		n = list(a, "ulimit-add", &vals);
		nrm = list(a, "ulimit-rm", &rm);
		json_array_foreach(json_object_get(cs, "Ulimits"), i, u)
			if (!in_list(rm, nrm, jstr(u, "Name")))
				json_array_append(out, u);
		for (i = 0; i < n; i++) {
			const char *eq = strchr(vals[i], '='), *colon = strchr(vals[i], ':');
			char *name = shoal_strndup(vals[i], (size_t)(eq - vals[i]));
			long long soft = atoll(eq + 1), hard = colon ? atoll(colon + 1) : soft;

			json_array_foreach(out, j, u)
				if (strcmp(jstr(u, "Name"), name) == 0)
					break;
			if (j < json_array_size(out))
				json_array_remove(out, j);
			json_array_append_new(out, json_pack("{s:s, s:I, s:I}", "Name", name,
							     "Hard", (json_int_t)hard, "Soft",
							     (json_int_t)soft));
			free(name);
		}
		set_or_del(cs, "Ulimits", out);
	}
	if (shoal_cli__flag_any(a, limit_flags)) {
		o = shoal_cli__jobj(shoal_cli__jobj(tt, "Resources"), "Limits");
		shoal_cli__jobj(json_object_get(tt, "Resources"), "Reservations");
		if (shoal_cli_flag_changed(a, "limit-cpu"))
			set_or_del(o, "NanoCPUs",
				   json_integer(shoal_cli__flag_cpus(a, "limit-cpu")));
		if (shoal_cli_flag_changed(a, "limit-memory"))
			set_or_del(o, "MemoryBytes",
				   json_integer(shoal_cli__flag_bytes(a, "limit-memory")));
		if (shoal_cli_flag_changed(a, "limit-pids"))
			set_or_del(o, "Pids", json_integer(shoal_cli__flag_int(a, "limit-pids")));
	}
	if (shoal_cli__flag_any(a, res_flags)) {
		o = shoal_cli__jobj(shoal_cli__jobj(tt, "Resources"), "Reservations");
		shoal_cli__jobj(json_object_get(tt, "Resources"), "Limits");
		if (shoal_cli_flag_changed(a, "reserve-cpu"))
			set_or_del(o, "NanoCPUs",
				   json_integer(shoal_cli__flag_cpus(a, "reserve-cpu")));
		if (shoal_cli_flag_changed(a, "reserve-memory"))
			set_or_del(o, "MemoryBytes",
				   json_integer(shoal_cli__flag_bytes(a, "reserve-memory")));
	}
	if (shoal_cli_flag_changed(a, "stop-grace-period"))
		json_object_set_new(cs, "StopGracePeriod",
				    json_integer(shoal_cli__flag_duration(a, "stop-grace-period")));
	if (shoal_cli__flag_any(a, restart_flags)) {
		o = json_object_get(tt, "RestartPolicy");
		if (!json_is_object(o)) {
			o = shoal_cli__svc_restart_defaults();
			json_object_set_new(tt, "RestartPolicy", o);
		}
		if (shoal_cli_flag_changed(a, "restart-condition"))
			set_or_del(o, "Condition",
				   json_string(shoal_cli_flag_str(a, "restart-condition")));
		if (shoal_cli_flag_changed(a, "restart-delay"))
			json_object_set_new(
				o, "Delay",
				json_integer(shoal_cli__flag_duration(a, "restart-delay")));
		if (shoal_cli_flag_changed(a, "restart-max-attempts"))
			json_object_set_new(o, "MaxAttempts",
					    json_integer((json_int_t)shoal_cli__flag_uint(
						    a, "restart-max-attempts")));
		if (shoal_cli_flag_changed(a, "restart-window"))
			json_object_set_new(
				o, "Window",
				json_integer(shoal_cli__flag_duration(a, "restart-window")));
	}
	if (shoal_cli_flag_changed(a, "constraint-add") ||
	    shoal_cli_flag_changed(a, "constraint-rm")) {
		o = shoal_cli__jobj(tt, "Placement");
		n = list(a, "constraint-add", &vals);
		nrm = list(a, "constraint-rm", &rm);
		set_or_del(o, "Constraints",
			   add_rm_sorted(json_object_get(o, "Constraints"), vals, n, rm, nrm));
	}
	if (shoal_cli_flag_changed(a, "placement-pref-add") ||
	    shoal_cli_flag_changed(a, "placement-pref-rm")) {
		json_t *prefs = json_array(), *p;
		size_t i;

		o = shoal_cli__jobj(tt, "Placement");
		nrm = list(a, "placement-pref-rm", &rm);
		json_array_foreach(json_object_get(o, "Preferences"), i, p) {
			const char *d = json_string_value(
				json_object_get(json_object_get(p, "Spread"), "SpreadDescriptor"));
			size_t j;
			bool drop = false;

			for (j = 0; d != NULL && j < nrm; j++)
				if (strcmp(strchr(rm[j], '=') + 1, d) == 0)
					drop = true;
			if (!drop)
				json_array_append(prefs, p);
		}
		n = list(a, "placement-pref-add", &vals);
		for (i = 0; i < n; i++)
			json_array_append_new(prefs,
					      json_pack("{s:{s:s}}", "Spread", "SpreadDescriptor",
							strchr(vals[i], '=') + 1));
		set_or_del(o, "Preferences", prefs);
	}
	if ((shoal_cli_flag_changed(a, "network-add") || shoal_cli_flag_changed(a, "network-rm")) &&
	    update_networks(c, a, spec, tt, err) < 0)
		return -1;
	if (shoal_cli_flag_changed(a, "replicas")) {
		o = json_object_get(json_object_get(spec, "Mode"), "Replicated");
		if (!json_is_object(o))
			return shoal_errorf(err, 400,
					    "replicas can only be used with replicated mode");
		json_object_set_new(o, "Replicas",
				    json_integer((json_int_t)shoal_cli__flag_uint(a, "replicas")));
	}
	if (shoal_cli_flag_changed(a, "replicas-max-per-node"))
		set_or_del(
			shoal_cli__jobj(tt, "Placement"), "MaxReplicas",
			json_integer((json_int_t)shoal_cli__flag_uint(a, "replicas-max-per-node")));
	v = shoal_cli__svc_update_config(a, "update", json_object_get(spec, "UpdateConfig"));
	if (v != NULL)
		json_object_set_new(spec, "UpdateConfig", v);
	v = shoal_cli__svc_update_config(a, "rollback", json_object_get(spec, "RollbackConfig"));
	if (v != NULL)
		json_object_set_new(spec, "RollbackConfig", v);
	if (shoal_cli_flag_changed(a, "endpoint-mode"))
		set_or_del(shoal_cli__jobj(spec, "EndpointSpec"), "Mode",
			   json_string(shoal_cli_flag_str(a, "endpoint-mode")));
	if (shoal_cli_flag_changed(a, "group-add") || shoal_cli_flag_changed(a, "group-rm")) {
		n = list(a, "group-add", &vals);
		nrm = list(a, "group-rm", &rm);
		set_or_del(cs, "Groups",
			   add_rm_sorted(json_object_get(cs, "Groups"), vals, n, rm, nrm));
	}
	if (shoal_cli_flag_changed(a, "publish-add") || shoal_cli_flag_changed(a, "publish-rm"))
		update_ports(a, shoal_cli__jobj(spec, "EndpointSpec"));
	if (shoal_cli__flag_any(a, dns_flags)) {
		json_t *dns = shoal_cli__jobj(cs, "DNSConfig"), *nd = json_object();

		n = list(a, "dns-add", &vals);
		nrm = list(a, "dns-rm", &rm);
		set_or_del(nd, "Nameservers",
			   dns_list(json_object_get(dns, "Nameservers"), vals, n, rm, nrm));
		n = list(a, "dns-search-add", &vals);
		nrm = list(a, "dns-search-rm", &rm);
		set_or_del(nd, "Search",
			   dns_list(json_object_get(dns, "Search"), vals, n, rm, nrm));
		n = list(a, "dns-option-add", &vals);
		nrm = list(a, "dns-option-rm", &rm);
		set_or_del(nd, "Options",
			   dns_list(json_object_get(dns, "Options"), vals, n, rm, nrm));
		json_object_set_new(cs, "DNSConfig", nd);
	}
	if (shoal_cli_flag_changed(a, "host-add") || shoal_cli_flag_changed(a, "host-rm"))
		update_hosts(a, cs);
	s = shoal_cli_flag_str(a, "log-driver");
	if (shoal_cli_flag_changed(a, "log-driver") && *s != '\0') {
		json_t *ld = json_pack("{s:s}", "Name", s);

		n = list(a, "log-opt", &vals);
		set_or_del(ld, "Options", shoal_cli__kv_map(vals, n));
		json_object_set_new(tt, "LogDriver", ld);
	}
	if (shoal_cli_flag_bool(a, "force"))
		json_object_set_new(
			tt, "ForceUpdate",
			json_integer(json_integer_value(json_object_get(tt, "ForceUpdate")) + 1));
	if (update_healthcheck(a, cs, err) < 0)
		return -1;
	if (shoal_cli_flag_changed(a, "tty"))
		set_or_del(cs, "TTY", json_boolean(shoal_cli_flag_bool(a, "tty")));
	if (shoal_cli_flag_changed(a, "read-only"))
		set_or_del(cs, "ReadOnly", json_boolean(shoal_cli_flag_bool(a, "read-only")));
	if (shoal_cli_flag_changed(a, "stop-signal"))
		set_or_del(cs, "StopSignal", json_string(shoal_cli_flag_str(a, "stop-signal")));
	if (shoal_cli_flag_changed(a, "cap-add") || shoal_cli_flag_changed(a, "cap-drop"))
		update_caps(a, cs);
	return 0;
}

static int run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	struct shoal_cli_client *c = shoal_cli_get_client(cli, err);
	const char *name = args->argv[0];
	bool rollback = shoal_cli_flag_bool(args, "rollback");
	json_t *svc = NULL, *spec, *cs;
	char *warning = NULL;
	int rv = -1;
	size_t i;

	if (c == NULL || shoal_cli__svc_get(c, name, false, &svc, err) < 0)
		return -1;
	if (rollback) {
		/* only -d and -q may go with --rollback */
		for (i = 0; args->opts[i].name != NULL; i++) {
			const char *f = args->opts[i].name;

			if (strcmp(f, "rollback") != 0 && strcmp(f, "detach") != 0 &&
			    strcmp(f, "quiet") != 0 && shoal_cli_flag_changed(args, f)) {
				shoal_errorf(err, 400,
					     "other flags may not be combined with --rollback");
				goto out;
			}
		}
	}
	spec = shoal_cli__jobj(svc, "Spec");
	if (update_spec(c, args, spec, err) < 0)
		goto out;
	cs = shoal_cli__jobj(shoal_cli__jobj(spec, "TaskTemplate"), "ContainerSpec");
	if (update_refs(c, args, cs, true, err) < 0 || update_refs(c, args, cs, false, err) < 0)
		goto out;
	if (shoal_cli_flag_changed(args, "credential-spec")) {
		const char *v = shoal_cli_flag_str(args, "credential-spec");

		if (*v == '\0') {
			json_object_del(json_object_get(cs, "Privileges"), "CredentialSpec");
		} else {
			json_t *cred = json_object();

			if (strncmp(v, "config://", 9) == 0)
				json_object_set_new(cred, "Config", json_string(v + 9));
			else if (strncmp(v, "file://", 7) == 0)
				json_object_set_new(cred, "File", json_string(v + 7));
			else
				json_object_set_new(cred, "Registry", json_string(v + 11));
			json_object_set_new(shoal_cli__jobj(cs, "Privileges"), "CredentialSpec",
					    cred);
		}
	}
	/* the client library's ServiceUpdate: negotiate, tag the image, pin it when changed */
	if (shoal_cli_client_negotiate(c, err) < 0)
		goto out;
	shoal_cli__svc_resolve_image(c, json_object_get(spec, "TaskTemplate"),
				     shoal_cli_flag_changed(args, "image") &&
					     !shoal_cli_flag_bool(args, "no-resolve-image"),
				     &warning);
	if (shoal_cli__svc_update(cli, c, svc,
				  rollback ? "registryAuthFrom=spec&rollback=previous" :
					     "registryAuthFrom=spec",
				  warning, err) < 0)
		goto out;
	fprintf(cli->out, "%s\n", name);
	fflush(cli->out);
	rv = 0;
	if (!shoal_cli_flag_bool(args, "detach"))
		rv = shoal_cli__svc_wait(cli, name, shoal_cli_flag_bool(args, "quiet"), err);
out:
	free(warning);
	json_decref(svc);
	return rv;
}

/* The flags of update, sorted as pflag lists them. */
static const struct shoal_cli_opt opts[] = {
	{ "args", 0, SHOAL_CLI_OPT_STRING, "command", NULL, "Service command args" },
	{ "cap-add", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Add Linux capabilities" },
	{ "cap-drop", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Drop Linux capabilities" },
	{ "config-add", 0, SHOAL_CLI_OPT_LIST, "config", NULL,
	  "Add or update a config file on a service" },
	{ "config-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Remove a configuration file" },
	{ "constraint-add", 0, SHOAL_CLI_OPT_LIST, NULL, NULL,
	  "Add or update a placement constraint" },
	{ "constraint-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Remove a constraint" },
	{ "container-label-add", 0, SHOAL_CLI_OPT_LIST, NULL, NULL,
	  "Add or update a container label" },
	{ "container-label-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL,
	  "Remove a container label by its key" },
	{ "credential-spec", 0, SHOAL_CLI_OPT_STRING, "credential-spec", NULL,
	  "Credential spec for managed service account (Windows only)" },
	{ "detach", 'd', SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Exit immediately instead of waiting for the service to converge" },
	{ "dns-add", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Add or update a custom DNS server" },
	{ "dns-option-add", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Add or update a DNS option" },
	{ "dns-option-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Remove a DNS option" },
	{ "dns-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Remove a custom DNS server" },
	{ "dns-search-add", 0, SHOAL_CLI_OPT_LIST, NULL, NULL,
	  "Add or update a custom DNS search domain" },
	{ "dns-search-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Remove a DNS search domain" },
	{ "endpoint-mode", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Endpoint mode (vip or dnsrr)" },
	{ "entrypoint", 0, SHOAL_CLI_OPT_STRING, "command", NULL,
	  "Overwrite the default ENTRYPOINT of the image" },
	{ "env-add", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Add or update an environment variable" },
	{ "env-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Remove an environment variable" },
	{ "force", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Force update even if no changes require it" },
	{ "generic-resource-add", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Add a Generic resource" },
	{ "generic-resource-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Remove a Generic resource" },
	{ "group-add", 0, SHOAL_CLI_OPT_LIST, NULL, NULL,
	  "Add an additional supplementary user group to the container" },
	{ "group-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL,
	  "Remove a previously added supplementary user group from the container" },
	{ "health-cmd", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Command to run to check health" },
	{ "health-interval", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Time between running the check (ms|s|m|h)" },
	{ "health-retries", 0, SHOAL_CLI_OPT_STRING, "int", NULL,
	  "Consecutive failures needed to report unhealthy" },
	{ "health-start-period", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)" },
	{ "health-timeout", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Maximum time to allow one check to run (ms|s|m|h)" },
	{ "host-add", 0, SHOAL_CLI_OPT_LIST, NULL, NULL,
	  "Add a custom host-to-IP mapping (\"host:ip\")" },
	{ "host-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL,
	  "Remove a custom host-to-IP mapping (\"host:ip\")" },
	{ "hostname", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Container hostname" },
	{ "image", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Service image tag" },
	{ "init", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Use an init inside each service container to forward signals and reap processes" },
	{ "isolation", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Service container isolation mode" },
	{ "label-add", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Add or update a service label" },
	{ "label-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Remove a label by its key" },
	{ "limit-cpu", 0, SHOAL_CLI_OPT_STRING, "decimal", NULL, "Limit CPUs" },
	{ "limit-memory", 0, SHOAL_CLI_OPT_STRING, "bytes", NULL, "Limit Memory" },
	{ "limit-pids", 0, SHOAL_CLI_OPT_STRING, "int", NULL,
	  "Limit maximum number of processes (default 0 = unlimited)" },
	{ "log-driver", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Logging driver for service" },
	{ "log-opt", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Logging driver options" },
	{ "max-concurrent", 0, SHOAL_CLI_OPT_STRING, "uint", NULL,
	  "Number of job tasks to run concurrently (default equal to --replicas)" },
	{ "mount-add", 0, SHOAL_CLI_OPT_LIST, "mount", NULL, "Add or update a mount on a service" },
	{ "mount-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Remove a mount by its target path" },
	{ "network-add", 0, SHOAL_CLI_OPT_LIST, "network", NULL, "Add a network" },
	{ "network-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Remove a network" },
	{ "no-healthcheck", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Disable any container-specified HEALTHCHECK" },
	{ "no-resolve-image", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Do not query the registry to resolve image digest and supported platforms" },
	{ "placement-pref-add", 0, SHOAL_CLI_OPT_LIST, "pref", NULL, "Add a placement preference" },
	{ "placement-pref-rm", 0, SHOAL_CLI_OPT_LIST, "pref", NULL,
	  "Remove a placement preference" },
	{ "publish-add", 0, SHOAL_CLI_OPT_LIST, "port", NULL, "Add or update a published port" },
	{ "publish-rm", 0, SHOAL_CLI_OPT_LIST, "port", NULL,
	  "Remove a published port by its target port" },
	{ "quiet", 'q', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Suppress progress output" },
	{ "read-only", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Mount the container's root filesystem as read only" },
	{ "replicas", 0, SHOAL_CLI_OPT_STRING, "uint", NULL, "Number of tasks" },
	{ "replicas-max-per-node", 0, SHOAL_CLI_OPT_STRING, "uint", NULL,
	  "Maximum number of tasks per node (default 0 = unlimited)" },
	{ "reserve-cpu", 0, SHOAL_CLI_OPT_STRING, "decimal", NULL, "Reserve CPUs" },
	{ "reserve-memory", 0, SHOAL_CLI_OPT_STRING, "bytes", NULL, "Reserve Memory" },
	{ "restart-condition", 0, SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Restart when condition is met (\"none\", \"on-failure\", \"any\")" },
	{ "restart-delay", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Delay between restart attempts (ns|us|ms|s|m|h)" },
	{ "restart-max-attempts", 0, SHOAL_CLI_OPT_STRING, "uint", NULL,
	  "Maximum number of restarts before giving up" },
	{ "restart-window", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Window used to evaluate the restart policy (ns|us|ms|s|m|h)" },
	{ "rollback", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL, "Rollback to previous specification" },
	{ "rollback-delay", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Delay between task rollbacks (ns|us|ms|s|m|h)" },
	{ "rollback-failure-action", 0, SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Action on rollback failure (\"pause\", \"continue\")" },
	{ "rollback-max-failure-ratio", 0, SHOAL_CLI_OPT_STRING, "float", NULL,
	  "Failure rate to tolerate during a rollback" },
	{ "rollback-monitor", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Duration after each task rollback to monitor for failure (ns|us|ms|s|m|h)" },
	{ "rollback-order", 0, SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Rollback order (\"start-first\", \"stop-first\")" },
	{ "rollback-parallelism", 0, SHOAL_CLI_OPT_STRING, "uint", NULL,
	  "Maximum number of tasks rolled back simultaneously (0 to roll back all at once)" },
	{ "secret-add", 0, SHOAL_CLI_OPT_LIST, "secret", NULL,
	  "Add or update a secret on a service" },
	{ "secret-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Remove a secret" },
	{ "stop-grace-period", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Time to wait before force killing a container (ns|us|ms|s|m|h)" },
	{ "stop-signal", 0, SHOAL_CLI_OPT_STRING, NULL, NULL, "Signal to stop the container" },
	{ "sysctl-add", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Add or update a Sysctl option" },
	{ "sysctl-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Remove a Sysctl option" },
	{ "tty", 't', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Allocate a pseudo-TTY" },
	{ "ulimit-add", 0, SHOAL_CLI_OPT_LIST, "ulimit", NULL,
	  "Add or update a ulimit option (default [])" },
	{ "ulimit-rm", 0, SHOAL_CLI_OPT_LIST, NULL, NULL, "Remove a ulimit option" },
	{ "update-delay", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Delay between updates (ns|us|ms|s|m|h)" },
	{ "update-failure-action", 0, SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Action on update failure (\"pause\", \"continue\", \"rollback\")" },
	{ "update-max-failure-ratio", 0, SHOAL_CLI_OPT_STRING, "float", NULL,
	  "Failure rate to tolerate during an update" },
	{ "update-monitor", 0, SHOAL_CLI_OPT_STRING, "duration", NULL,
	  "Duration after each task update to monitor for failure (ns|us|ms|s|m|h)" },
	{ "update-order", 0, SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Update order (\"start-first\", \"stop-first\")" },
	{ "update-parallelism", 0, SHOAL_CLI_OPT_STRING, "uint", NULL,
	  "Maximum number of tasks updated simultaneously (0 to update all at once)" },
	{ "user", 'u', SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Username or UID (format: <name|uid>[:<group|gid>])" },
	{ "with-registry-auth", 0, SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Send registry authentication details to swarm agents" },
	{ "workdir", 'w', SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Working directory inside the container" },
	{ NULL },
};

static const struct shoal_cli_check checks[] = {
	{ "args", shoal_cli__check_command },
	{ "config-add", shoal_cli__check_config },
	{ "container-label-add", shoal_cli__check_label },
	{ "credential-spec", shoal_cli__check_credspec },
	{ "entrypoint", shoal_cli__check_command },
	{ "env-add", shoal_cli__check_env },
	{ "generic-resource-add", shoal_cli__check_generic_resource },
	{ "health-interval", shoal_cli__check_pos_duration },
	{ "health-retries", shoal_cli__check_int },
	{ "health-start-period", shoal_cli__check_pos_duration },
	{ "health-timeout", shoal_cli__check_pos_duration },
	{ "label-add", shoal_cli__check_label },
	{ "limit-cpu", shoal_cli__check_cpus },
	{ "limit-memory", shoal_cli__check_bytes },
	{ "limit-pids", shoal_cli__check_int },
	{ "max-concurrent", shoal_cli__check_uint },
	{ "mount-add", shoal_cli__check_mount },
	{ "placement-pref-add", shoal_cli__check_pref },
	{ "placement-pref-rm", shoal_cli__check_pref },
	{ "publish-add", shoal_cli__check_port },
	{ "publish-rm", shoal_cli__check_port },
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
	{ "secret-add", shoal_cli__check_secret },
	{ "stop-grace-period", shoal_cli__check_duration },
	{ "ulimit-add", shoal_cli__check_ulimit },
	{ "update-delay", shoal_cli__check_duration },
	{ "update-max-failure-ratio", shoal_cli__check_float },
	{ "update-monitor", shoal_cli__check_duration },
	{ "update-parallelism", shoal_cli__check_uint },
	{ NULL },
};

const struct shoal_cli_cmd shoal_cli__cmd_service_update = {
	.name = "update",
	.use = "update [OPTIONS] SERVICE",
	.short_help = "Update a service",
	.opts = opts,
	.checks = checks,
	.min_args = 1,
	.max_args = 1,
	.run = run,
};
