/* Node endpoints: GET /nodes, GET /nodes/{id}, POST /nodes/{id}/update, DELETE /nodes/{id}.
 * Objects come from the manager's store; writes go through its change sets. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "manager/manager.h"

static struct shoal_manager *manager_of(struct shoal_http_req *req)
{
	struct shoal_api *api = req->ctx;

	return api->cfg.manager;
}

static const char *str_at(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	if (b != NULL)
		v = json_object_get(v, b);
	return json_string_value(v);
}

static bool node_matches(const struct shoal_filters *f, const json_t *n)
{
	const char *hostname = str_at(json_object_get(n, "Description"), "Hostname", NULL);
	const char *role = str_at(n, "Spec", "Role");
	bool ok;

	if (!shoal_filters_fuzzy_match(f, "id", str_at(n, "ID", NULL)))
		return false;
	/* name: a prefix of the hostname, as swarmkit's name filter */
	if (shoal_filters_has(f, "name")) {
		const char *k;
		json_t *v;

		ok = false;
		json_object_foreach(json_object_get(f->m, "name"), k, v) {
			if (hostname != NULL && strncmp(hostname, k, strlen(k)) == 0)
				ok = true;
		}
		if (!ok)
			return false;
	}
	if (!shoal_filters_match(f, "role", role != NULL ? role : ""))
		return false;
	/* every node here was accepted: pending only exists for joins with auto-accept off */
	if (!shoal_filters_match(f, "membership", "accepted"))
		return false;
	if (!shoal_filters_match_labels(
		    f, "label",
		    json_object_get(json_object_get(json_object_get(n, "Description"), "Engine"),
				    "Labels")))
		return false;
	if (!shoal_filters_match_labels(f, "node.label",
					json_object_get(json_object_get(n, "Spec"), "Labels")))
		return false;
	return true;
}

void shoal_api_nodes_list(struct shoal_http_req *req)
{
	static const char *const allowed[] = { "id",   "label", "node.label", "membership",
					       "name", "role",	NULL };
	struct shoal_manager *m = manager_of(req);
	struct shoal_store_obj **l = NULL;
	struct shoal_filters f = { 0 };
	struct shoal_err err;
	json_t *out = NULL, *roles;
	const char *k;
	json_t *v;
	size_t n, i;

	if (shoal_manager_check(m, &err) < 0 ||
	    shoal_filters_parse(shoal_http_query(req, "filters"), &f, &err) < 0 ||
	    shoal_filters_validate(&f, allowed, &err) < 0)
		goto fail;
	roles = json_object_get(f.m, "role");
	json_object_foreach(roles, k, v) {
		if (strcmp(k, "manager") != 0 && strcmp(k, "worker") != 0) {
			shoal_errorf(&err, 500, "Invalid role filter: '%s'", k);
			goto fail;
		}
	}
	out = json_array();
	l = shoal_store_list(shoal_manager_store(m), SHOAL_STORE_NODE, &n);
	for (i = 0; i < n; i++)
		if (node_matches(&f, l[i]->json))
			json_array_append_new(out, shoal_manager_node_json(m, l[i]));
	shoal_http_reply_json(req, 200, out);
	goto out;
fail:
	shoal_http_reply_err(req, &err);
out:
	free(l);
	json_decref(out);
	shoal_filters_fini(&f);
}

/* The node a user named, or NULL with the error set. */
static struct shoal_store_obj *find_node(struct shoal_http_req *req, struct shoal_err *err)
{
	struct shoal_manager *m = manager_of(req);
	struct shoal_store_obj *o = NULL;

	if (shoal_manager_check(m, err) < 0)
		return NULL;
	if (shoal_store_find(shoal_manager_store(m), SHOAL_STORE_NODE, shoal_http_param(req, "id"),
			     &o, err) < 0)
		return NULL;
	return o;
}

void shoal_api_nodes_inspect(struct shoal_http_req *req)
{
	struct shoal_store_obj *o;
	struct shoal_err err;
	json_t *n;

	o = find_node(req, &err);
	if (o == NULL) {
		shoal_http_reply_err(req, &err);
		return;
	}
	n = shoal_manager_node_json(manager_of(req), o);
	shoal_http_reply_json(req, 200, n);
	json_decref(n);
}

static void done_empty(void *ctx, const struct shoal_err *err)
{
	struct shoal_http_req *req = ctx;

	if (err != NULL)
		shoal_http_reply_err(req, err);
	else
		shoal_http_reply(req, 200, NULL, NULL, "", 0);
}

static size_t count_managers(struct shoal_store *s)
{
	struct shoal_store_obj **l;
	size_t n, i, managers = 0;

	l = shoal_store_list(s, SHOAL_STORE_NODE, &n);
	for (i = 0; i < n; i++) {
		const char *role = str_at(l[i]->json, "Spec", "Role");

		if (role != NULL && strcmp(role, "manager") == 0)
			managers++;
	}
	free(l);
	return managers;
}

void shoal_api_nodes_update(struct shoal_http_req *req)
{
	struct shoal_manager *m = manager_of(req);
	struct shoal_store_tx *tx = NULL;
	struct shoal_store_obj *o;
	struct shoal_err err;
	json_t *spec = NULL, *obj = NULL, *labels;
	const char *role, *avail, *old_role;
	uint64_t version;

	o = find_node(req, &err);
	if (o == NULL || shoal_api_parse_version(req, "node", &version, &err) < 0)
		goto fail;
	spec = shoal_api_body_json(req, &err);
	if (spec == NULL)
		goto fail;
	/* moby's NodeSpecToGRPC wants a complete spec */
	role = str_at(spec, "Role", NULL);
	avail = str_at(spec, "Availability", NULL);
	if (role == NULL || (strcmp(role, "manager") != 0 && strcmp(role, "worker") != 0)) {
		shoal_errorf(&err, 400, "invalid Role: \"%s\"", role ? role : "");
		goto fail;
	}
	if (avail == NULL || (strcmp(avail, "active") != 0 && strcmp(avail, "pause") != 0 &&
			      strcmp(avail, "drain") != 0)) {
		shoal_errorf(&err, 400, "invalid Availability: \"%s\"", avail ? avail : "");
		goto fail;
	}
	old_role = str_at(o->json, "Spec", "Role");
	if (strcmp(role, "worker") == 0 && old_role != NULL && strcmp(old_role, "manager") == 0 &&
	    count_managers(shoal_manager_store(m)) <= 1) {
		shoal_errorf(
			&err, 400,
			"rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm");
		goto fail;
	}
	if (o->version != version) {
		shoal_errorf(&err, 500, "%s", SHOAL_MANAGER_OUT_OF_SEQUENCE_MSG);
		goto fail;
	}
	labels = json_object_get(spec, "Labels");
	if (!json_is_object(labels))
		json_object_set_new(spec, "Labels", json_object());
	if (json_is_string(json_object_get(spec, "Name")) &&
	    json_string_length(json_object_get(spec, "Name")) == 0)
		json_object_del(spec, "Name");
	obj = json_deep_copy(o->json);
	json_object_set(obj, "Spec", spec);
	tx = shoal_store_tx_new();
	shoal_store_tx_update(tx, SHOAL_STORE_NODE, obj, version);
	obj = NULL;
	if (shoal_manager_propose(m, tx, done_empty, req, &err) < 0)
		goto fail;
	goto out;
fail:
	shoal_http_reply_err(req, &err);
out:
	shoal_store_tx_free(tx);
	json_decref(obj);
	json_decref(spec);
}

void shoal_api_nodes_delete(struct shoal_http_req *req)
{
	struct shoal_manager *m = manager_of(req);
	struct shoal_store_tx *tx = NULL;
	struct shoal_store_obj *o;
	struct shoal_err err;
	const char *state;

	o = find_node(req, &err);
	if (o == NULL)
		goto fail;
	if (json_object_get(o->json, "ManagerStatus") != NULL) {
		shoal_errorf(
			&err, 400,
			"rpc error: code = FailedPrecondition desc = node %s is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal",
			o->id);
		goto fail;
	}
	state = str_at(o->json, "Status", "State");
	if (!shoal_http_query_bool(req, "force") && (state == NULL || strcmp(state, "down") != 0)) {
		shoal_errorf(
			&err, 400,
			"rpc error: code = FailedPrecondition desc = node %s is not down and can't be removed",
			o->id);
		goto fail;
	}
	tx = shoal_store_tx_new();
	shoal_store_tx_delete(tx, SHOAL_STORE_NODE, o->id);
	if (shoal_manager_propose(m, tx, done_empty, req, &err) < 0)
		goto fail;
	goto out;
fail:
	shoal_http_reply_err(req, &err);
out:
	shoal_store_tx_free(tx);
}
