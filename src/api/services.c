/* Service endpoints: GET /services, POST /services/create, GET /services/{id},
 * POST /services/{id}/update, DELETE /services/{id}, and their events. The checks follow
 * moby's daemon/cluster/services.go then swarmkit's controlapi, in their order, so the first
 * error a client gets is Docker's; the spec rules themselves are service_spec.c's. Writes go
 * through the manager's change sets; running the service's tasks is the orchestrator's. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "manager/manager.h"

#define SHOAL_LOG_MODULE "api"

struct write_ctx {
	struct shoal_http_req *req;
	char id[SHOAL_STORE_ID_LEN + 1];
	json_t *old; /* the service before (update, remove), owned */
	json_t *new; /* after (create, update), owned */
};

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

/* Go's strconv.ParseBool on ?name=, as moby's routers use it ("" or absent: false). */
static int query_parse_bool(struct shoal_http_req *req, const char *name, bool *out,
			    struct shoal_err *err)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True", NULL };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False", NULL };
	const char *v = shoal_http_query(req, name);
	size_t i;

	*out = false;
	if (v == NULL || v[0] == '\0')
		return 0;
	for (i = 0; yes[i] != NULL; i++)
		if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
			*out = strcmp(v, yes[i]) == 0;
			return 0;
		}
	return shoal_errorf(
		err, 400,
		"invalid value for %s: %s: strconv.ParseBool: parsing \"%s\": invalid syntax", name,
		v, v);
}

static json_t **service_jsons(struct shoal_store *s, struct shoal_store_obj ***objs, size_t *n)
{
	json_t **v;
	size_t i;

	*objs = shoal_store_list(s, SHOAL_STORE_SERVICE, n);
	v = shoal_calloc(*n + 1, sizeof(*v));
	for (i = 0; i < *n; i++)
		v[i] = (*objs)[i]->json;
	return v;
}

/* The service's ServiceStatus from the store's tasks and nodes: a new reference. */
static json_t *status_of(struct shoal_store *s, const json_t *svc, const json_t *node_states)
{
	struct shoal_store_obj **tasks;
	const json_t **tj;
	json_t *st;
	size_t n, i;

	tasks = shoal_store_tasks_by_service(s, str_at(svc, "ID", NULL), &n);
	tj = shoal_calloc(n + 1, sizeof(*tj));
	for (i = 0; i < n; i++)
		tj[i] = tasks[i]->json;
	st = shoal_api__service_status(svc, tj, n, node_states);
	free(tj);
	free(tasks);
	return st;
}

/* svc with ServiceStatus where Go puts it (before JobStatus): a new reference. */
static json_t *with_status(const json_t *svc, json_t *status)
{
	json_t *out = json_object(), *v;
	const char *k;

	json_object_foreach((json_t *)svc, k, v) {
		if (strcmp(k, "JobStatus") == 0 && status != NULL) {
			json_object_set_new(out, "ServiceStatus", status);
			status = NULL;
		}
		json_object_set(out, k, v);
	}
	if (status != NULL)
		json_object_set_new(out, "ServiceStatus", status);
	return out;
}

void shoal_api_services_list(struct shoal_http_req *req)
{
	static const char *const allowed[] = { "name", "id", "label", "mode", "runtime", NULL };
	struct shoal_manager *m = manager_of(req);
	struct shoal_store_obj **l = NULL, **nodes = NULL;
	struct shoal_filters f = { 0 };
	struct shoal_store *s;
	struct shoal_err err;
	json_t *out = NULL, *node_states = NULL;
	bool status = false;
	size_t n, i;

	if (shoal_filters_parse(shoal_http_query(req, "filters"), &f, &err) < 0)
		goto fail;
	/* ?status= exists from API 1.41 on; older clients' is ignored */
	if ((req->api_major == 0 || req->api_major > 1 ||
	     (req->api_major == 1 && req->api_minor >= 41)) &&
	    query_parse_bool(req, "status", &status, &err) < 0)
		goto fail;
	if (shoal_manager_check(m, &err) < 0 || shoal_filters_validate(&f, allowed, &err) < 0)
		goto fail;
	s = shoal_manager_store(m);
	if (status) {
		node_states = json_object();
		nodes = shoal_store_list(s, SHOAL_STORE_NODE, &n);
		for (i = 0; i < n; i++)
			json_object_set_new(
				node_states, nodes[i]->id,
				json_string(str_at(nodes[i]->json, "Status", "State") ?: ""));
	}
	out = json_array();
	l = shoal_store_list(s, SHOAL_STORE_SERVICE, &n);
	for (i = 0; i < n; i++) {
		const json_t *svc = l[i]->json;

		if (!shoal_api__service_match(svc, &f))
			continue;
		if (status)
			json_array_append_new(out,
					      with_status(svc, status_of(s, svc, node_states)));
		else
			json_array_append(out, (json_t *)svc);
	}
	shoal_http_reply_json(req, 200, out);
	goto out;
fail:
	shoal_http_reply_err(req, &err);
out:
	free(l);
	free(nodes);
	json_decref(out);
	json_decref(node_states);
	shoal_filters_fini(&f);
}

/* The service a user named, or NULL with the error set. */
static struct shoal_store_obj *find_service(struct shoal_http_req *req, struct shoal_err *err)
{
	struct shoal_manager *m = manager_of(req);
	struct shoal_store_obj *o = NULL;

	if (shoal_manager_check(m, err) < 0)
		return NULL;
	if (shoal_store_find(shoal_manager_store(m), SHOAL_STORE_SERVICE,
			     shoal_http_param(req, "id"), &o, err) < 0)
		return NULL;
	return o;
}

void shoal_api_services_inspect(struct shoal_http_req *req)
{
	struct shoal_store_obj *o;
	struct shoal_err err;
	bool defaults;
	json_t *svc;

	if (query_parse_bool(req, "insertDefaults", &defaults, &err) < 0 ||
	    (o = find_service(req, &err)) == NULL) {
		shoal_http_reply_err(req, &err);
		return;
	}
	if (!defaults) {
		shoal_http_reply_json(req, 200, o->json);
		return;
	}
	svc = json_deep_copy(o->json);
	json_object_set_new(svc, "Spec",
			    shoal_api__service_spec_defaults(json_object_get(o->json, "Spec")));
	shoal_http_reply_json(req, 200, svc);
	json_decref(svc);
}

/* moby's populateNetworkID: network names in the spec become the swarm networks' IDs. */
static int resolve_networks(struct shoal_store *s, json_t *spec, struct shoal_err *err)
{
	static const char *const predefined[] = { "bridge", "host", "none", NULL };
	json_t *nets = json_object_get(json_object_get(spec, "TaskTemplate"), "Networks"), *n;
	struct shoal_store_obj *o;
	const char *target;
	size_t i, j;

	if (json_array_size(nets) == 0)
		nets = json_object_get(spec, "Networks");
	json_array_foreach(nets, i, n) {
		target = str_at(n, "Target", NULL) ?: "";
		if (shoal_store_find(s, SHOAL_STORE_NETWORK, target, &o, err) == 0) {
			json_object_set_new(n, "Target", json_string(o->id));
			continue;
		}
		if (err->status != 404)
			return -1;
		for (j = 0; predefined[j] != NULL; j++)
			if (strcmp(target, predefined[j]) == 0)
				return shoal_errorf(
					err, 404,
					"could not find the corresponding predefined swarm network: network %s not found",
					target);
		/* a plain error in moby: 500 */
		err->status = 500;
		return -1;
	}
	return 0;
}

/* swarmkit's validateNetworks: the ingress network is not for services to join. */
static int check_networks(struct shoal_store *s, const json_t *spec, struct shoal_err *err)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(spec, "TaskTemplate"), "Networks"), i,
			   n) {
		struct shoal_store_obj *o =
			shoal_store_get(s, SHOAL_STORE_NETWORK, str_at(n, "Target", NULL) ?: "");

		if (o != NULL &&
		    json_is_true(json_object_get(json_object_get(o->json, "Spec"), "Ingress")))
			return shoal_errorf(
				err, 400,
				"rpc error: code = InvalidArgument desc = Service cannot be explicitly attached to the ingress network \"%s\"",
				str_at(o->json, "Spec", "Name"));
	}
	return 0;
}

/* swarmkit's allocator refuses a service publishing ingress ports in a swarm without an
 * ingress network (one that was removed). */
static int check_ingress(struct shoal_store *s, const json_t *endpoint, struct shoal_err *err)
{
	struct shoal_store_obj **l;
	const json_t *p;
	const char *mode;
	bool need = false, have = false;
	size_t n, i;

	json_array_foreach(json_object_get(endpoint, "Ports"), i, p) {
		mode = str_at(p, "PublishMode", NULL);
		if (mode == NULL || strcmp(mode, "ingress") == 0)
			need = true;
	}
	if (!need)
		return 0;
	l = shoal_store_list(s, SHOAL_STORE_NETWORK, &n);
	for (i = 0; i < n; i++)
		if (json_is_true(json_object_get(json_object_get(l[i]->json, "Spec"), "Ingress")))
			have = true;
	free(l);
	if (!have)
		return shoal_errorf(
			err, 400,
			"rpc error: code = InvalidArgument desc = service needs ingress network, but no ingress network is present");
	return 0;
}

/* The service's virtual IPs stay the allocator's across an update: kept while it still
 * publishes ingress ports (it drops the ingress one otherwise). */
static void keep_vips(json_t *endpoint, const json_t *old)
{
	const json_t *vips = json_object_get(json_object_get(old, "Endpoint"), "VirtualIPs");

	if (json_array_size(vips) > 0)
		json_object_set_new(endpoint, "VirtualIPs", json_deep_copy(vips));
}

/* The body as a converted spec with network IDs: moby's steps before swarmkit's. */
static json_t *spec_from_body(struct shoal_http_req *req, json_t *decoded, struct shoal_err *err)
{
	struct shoal_manager *m = manager_of(req);

	if (shoal_manager_check(m, err) < 0 ||
	    resolve_networks(shoal_manager_store(m), decoded, err) < 0)
		return NULL;
	return shoal_api__service_spec_convert(decoded, err);
}

static char *time_now(void)
{
	char buf[64];

	shoal_time_format_rfc3339nano(shoal_time_now_ns(), buf, sizeof(buf));
	return shoal_strdup(buf);
}

static void write_ctx_free(struct write_ctx *w)
{
	json_decref(w->old);
	json_decref(w->new);
	free(w);
}

/* The "service" event moby's cluster watch sends for a change. */
static void publish(struct shoal_http_req *req, const char *action, const char *id,
		    const json_t *old, const json_t *new)
{
	const json_t *cur = new != NULL ? new : old;
	const char *img, *old_img, *st, *old_st;
	json_t *attrs = json_object(), *r, *old_r;

	json_object_set_new(attrs, "name", json_string(str_at(cur, "Spec", "Name") ?: ""));
	if (strcmp(action, "update") == 0 && old != NULL && new != NULL) {
		const json_t *tt = json_object_get(json_object_get(new, "Spec"), "TaskTemplate");
		const json_t *ott = json_object_get(json_object_get(old, "Spec"), "TaskTemplate");

		img = str_at(tt, "ContainerSpec", "Image");
		old_img = str_at(ott, "ContainerSpec", "Image");
		if (img != NULL && old_img != NULL && strcmp(img, old_img) != 0) {
			json_object_set_new(attrs, "image.old", json_string(old_img));
			json_object_set_new(attrs, "image.new", json_string(img));
		}
		r = json_object_get(json_object_get(json_object_get(new, "Spec"), "Mode"),
				    "Replicated");
		old_r = json_object_get(json_object_get(json_object_get(old, "Spec"), "Mode"),
					"Replicated");
		if (r != NULL && old_r != NULL &&
		    !json_equal(json_object_get(r, "Replicas"),
				json_object_get(old_r, "Replicas"))) {
			char v[32];

			snprintf(v, sizeof(v), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(json_object_get(old_r, "Replicas")));
			json_object_set_new(attrs, "replicas.old", json_string(v));
			snprintf(v, sizeof(v), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(json_object_get(r, "Replicas")));
			json_object_set_new(attrs, "replicas.new", json_string(v));
		}
		st = str_at(new, "UpdateStatus", "State");
		old_st = str_at(old, "UpdateStatus", "State");
		if (st != NULL && old_st == NULL) {
			json_object_set_new(attrs, "updatestate.new", json_string(st));
		} else if (st != NULL && strcmp(st, old_st) != 0) {
			json_object_set_new(attrs, "updatestate.old", json_string(old_st));
			json_object_set_new(attrs, "updatestate.new", json_string(st));
		}
	}
	shoal_api_event_publish(req->ctx, "service", action, id, attrs, "swarm");
}

/* ---- create ---- */

static void create_done(void *ctx, const struct shoal_err *err)
{
	struct write_ctx *w = ctx;
	json_t *out;

	if (err != NULL) {
		shoal_http_reply_err(w->req, err);
	} else {
		shoal_log_info("service created", "service=%s name=%s", w->id,
			       shoal_log_q(str_at(w->new, "Spec", "Name")));
		publish(w->req, "create", w->id, NULL, w->new);
		/* dockerd 20.10 leaves out an empty Warnings (omitempty) */
		out = json_pack("{s:s}", "ID", w->id);
		shoal_http_reply_json(w->req, 201, out);
		json_decref(out);
	}
	write_ctx_free(w);
}

void shoal_api_services_create(struct shoal_http_req *req)
{
	struct shoal_manager *m = manager_of(req);
	struct shoal_store_obj **objs = NULL;
	struct shoal_store_tx *tx = NULL;
	struct write_ctx *w = NULL;
	struct shoal_store *s;
	struct shoal_err err;
	json_t *decoded = NULL, *spec = NULL, *endpoint = NULL, *obj = NULL, **svcs = NULL;
	const char *mode;
	char *now = NULL;
	size_t n;

	/* X-Registry-Auth is taken and ignored: Shoal has no registry client yet */
	decoded = shoal_api__service_spec_decode(req->body.data, req->body.len, &err);
	if (decoded == NULL)
		goto fail;
	spec = spec_from_body(req, decoded, &err);
	if (spec == NULL || shoal_api__service_spec_validate(spec, &err) < 0)
		goto fail;
	s = shoal_manager_store(m);
	svcs = service_jsons(s, &objs, &n);
	if (check_networks(s, spec, &err) < 0 ||
	    shoal_api__service_ports_check(spec, NULL, (const json_t *const *)svcs, n, &err) < 0 ||
	    shoal_api__service_spec_refs_check(spec, &err) < 0)
		goto fail;
	endpoint =
		shoal_api__service_endpoint(spec, NULL, NULL, (const json_t *const *)svcs, n, &err);
	if (endpoint == NULL || check_ingress(s, endpoint, &err) < 0)
		goto fail;
	obj = json_pack("{s:O, s:O}", "Spec", spec, "Endpoint", endpoint);
	mode = shoal_api__service_mode(spec);
	if (strcmp(mode, "replicated-job") == 0 || strcmp(mode, "global-job") == 0) {
		now = time_now();
		json_object_set_new(obj, "JobStatus",
				    json_pack("{s:{}, s:s}", "JobIteration", "LastExecution", now));
	}
	w = shoal_calloc(1, sizeof(*w));
	w->req = req;
	w->new = json_deep_copy(obj);
	tx = shoal_store_tx_new();
	snprintf(w->id, sizeof(w->id), "%s", shoal_store_tx_create(tx, SHOAL_STORE_SERVICE, obj));
	obj = NULL;
	if (shoal_manager_propose(m, tx, create_done, w, &err) < 0)
		goto fail;
	w = NULL;
	goto out;
fail:
	shoal_http_reply_err(req, &err);
out:
	if (w != NULL)
		write_ctx_free(w);
	shoal_store_tx_free(tx);
	json_decref(obj);
	json_decref(endpoint);
	json_decref(spec);
	json_decref(decoded);
	free(svcs);
	free(objs);
	free(now);
}

/* ---- update ---- */

static void update_done(void *ctx, const struct shoal_err *err)
{
	struct write_ctx *w = ctx;
	json_t *out;

	if (err != NULL) {
		shoal_http_reply_err(w->req, err);
	} else {
		shoal_log_info("service updated", "service=%s", w->id);
		publish(w->req, "update", w->id, w->old, w->new);
		out = json_pack("{s:n}", "Warnings");
		shoal_http_reply_json(w->req, 200, out);
		json_decref(out);
	}
	write_ctx_free(w);
}

/* The service object in Go's field order (the store puts ID and Meta first). */
static json_t *service_object(const json_t *old, json_t *spec, json_t *prev, json_t *endpoint,
			      json_t *update_status, json_t *job_status)
{
	json_t *o = json_object();

	json_object_set(o, "ID", json_object_get(old, "ID"));
	json_object_set_new(o, "Spec", spec);
	if (prev != NULL)
		json_object_set_new(o, "PreviousSpec", prev);
	json_object_set_new(o, "Endpoint", endpoint);
	if (update_status != NULL)
		json_object_set_new(o, "UpdateStatus", update_status);
	if (job_status != NULL)
		json_object_set_new(o, "JobStatus", job_status);
	return o;
}

/* moby's registryAuthFrom and rollback arguments; both are plain errors there: 500. */
static int update_flags(struct shoal_http_req *req, const json_t *old, bool *rollback,
			struct shoal_err *err)
{
	const char *from = shoal_http_query(req, "registryAuthFrom") ?: "";
	const char *rb = shoal_http_query(req, "rollback") ?: "";
	const char *auth = shoal_http_header_get(req, "X-Registry-Auth");

	if (auth == NULL || auth[0] == '\0') {
		if (strcmp(from, "previous-spec") == 0) {
			if (json_object_get(old, "PreviousSpec") == NULL)
				return shoal_errorf(err, 500,
						    "service does not have a previous spec");
		} else if (from[0] != '\0' && strcmp(from, "spec") != 0) {
			return shoal_errorf(err, 500, "unsupported registryAuthFrom value");
		}
	}
	if (strcmp(rb, "previous") == 0)
		*rollback = true;
	else if (rb[0] != '\0' && strcmp(rb, "none") != 0)
		return shoal_errorf(err, 500, "unrecognized rollback option %s", rb);
	return 0;
}

/* swarmkit's UpdateService checks against the stored service, in its order. */
static int update_checks(struct shoal_store *s, const struct shoal_store_obj *o, const json_t *spec,
			 struct shoal_err *err)
{
	const json_t *old = json_object_get(o->json, "Spec"), *ep;
	struct shoal_store_obj **objs;
	json_t **svcs;
	size_t n;
	int rv = 0;

	ep = json_object_get(spec, "EndpointSpec");
	if (ep != NULL && !json_equal(ep, json_object_get(old, "EndpointSpec"))) {
		svcs = service_jsons(s, &objs, &n);
		rv = shoal_api__service_ports_check(spec, o->id, (const json_t *const *)svcs, n,
						    err);
		free(svcs);
		free(objs);
		if (rv < 0)
			return -1;
	}
	/* the deprecated Spec.Networks may only change along with TaskTemplate.Networks */
	if ((json_array_size(json_object_get(spec, "Networks")) != 0 ||
	     json_array_size(json_object_get(old, "Networks")) != 0) &&
	    !json_equal(json_object_get(spec, "Networks"), json_object_get(old, "Networks")) &&
	    json_equal(json_object_get(json_object_get(spec, "TaskTemplate"), "Networks") ?:
			       json_null(),
		       json_object_get(json_object_get(old, "TaskTemplate"), "Networks") ?:
			       json_null()))
		return shoal_errorf(
			err, 501,
			"rpc error: code = Unimplemented desc = networks must be migrated to TaskSpec before being changed");
	if (shoal_api__service_spec_refs_check(spec, err) < 0)
		return -1;
	if (strcmp(shoal_api__service_mode(spec), shoal_api__service_mode(old)) != 0)
		return shoal_errorf(
			err, 501,
			"rpc error: code = Unimplemented desc = service mode change is not allowed");
	if (strcmp(str_at(spec, "Name", NULL) ?: "", str_at(old, "Name", NULL) ?: "") != 0)
		return shoal_errorf(
			err, 501,
			"rpc error: code = Unimplemented desc = renaming services is not supported");
	return 0;
}

void shoal_api_services_update(struct shoal_http_req *req)
{
	struct shoal_manager *m = manager_of(req);
	struct shoal_store_obj *o, **objs = NULL;
	struct shoal_store_tx *tx = NULL;
	struct write_ctx *w = NULL;
	struct shoal_store *s;
	struct shoal_err err;
	json_t *decoded = NULL, *spec = NULL, *obj = NULL, *endpoint, *us = NULL, *js,
	       **svcs = NULL;
	json_t *new_spec, *prev;
	bool rollback = false;
	uint64_t version;
	char *now = NULL;
	size_t n;

	decoded = shoal_api__service_spec_decode(req->body.data, req->body.len, &err);
	if (decoded == NULL || shoal_api_parse_version(req, "service", &version, &err) < 0)
		goto fail;
	spec = spec_from_body(req, decoded, &err);
	if (spec == NULL)
		goto fail;
	o = find_service(req, &err);
	if (o == NULL || update_flags(req, o->json, &rollback, &err) < 0 ||
	    shoal_api__service_spec_validate(spec, &err) < 0)
		goto fail;
	s = shoal_manager_store(m);
	if (check_networks(s, spec, &err) < 0 || update_checks(s, o, spec, &err) < 0)
		goto fail;
	now = time_now();
	js = json_deep_copy(json_object_get(o->json, "JobStatus"));
	if (js != NULL) {
		/* a job runs again with each update */
		json_t *it = json_object_get(js, "JobIteration");

		json_object_set_new(
			it, "Index",
			json_integer(json_integer_value(json_object_get(it, "Index")) + 1));
		json_object_set_new(js, "LastExecution", json_string(now));
	}
	if (rollback) {
		prev = json_object_get(o->json, "PreviousSpec");
		if (prev == NULL) {
			json_decref(js);
			shoal_errorf(
				&err, 400,
				"rpc error: code = FailedPrecondition desc = service %s does not have a previous spec",
				o->id);
			goto fail;
		}
		new_spec = json_deep_copy(prev);
		prev = json_deep_copy(json_object_get(o->json, "Spec"));
		us = json_pack("{s:s, s:s, s:s}", "State", "rollback_started", "StartedAt", now,
			       "Message", "manually requested rollback");
	} else {
		new_spec = json_incref(spec);
		prev = json_deep_copy(json_object_get(o->json, "Spec"));
	}
	if (o->version != version) {
		json_decref(new_spec);
		json_decref(prev);
		json_decref(js);
		json_decref(us);
		shoal_errorf(&err, 500, "%s", SHOAL_MANAGER_OUT_OF_SEQUENCE_MSG);
		goto fail;
	}
	svcs = service_jsons(s, &objs, &n);
	endpoint = shoal_api__service_endpoint(new_spec, json_object_get(o->json, "Endpoint"),
					       o->id, (const json_t *const *)svcs, n, &err);
	if (endpoint == NULL || check_ingress(s, endpoint, &err) < 0) {
		json_decref(endpoint);
		json_decref(new_spec);
		json_decref(prev);
		json_decref(js);
		json_decref(us);
		goto fail;
	}
	keep_vips(endpoint, o->json);
	obj = service_object(o->json, new_spec, prev, endpoint, us, js);
	w = shoal_calloc(1, sizeof(*w));
	w->req = req;
	snprintf(w->id, sizeof(w->id), "%s", o->id);
	w->old = json_deep_copy(o->json);
	w->new = json_deep_copy(obj);
	tx = shoal_store_tx_new();
	shoal_store_tx_update(tx, SHOAL_STORE_SERVICE, obj, version);
	obj = NULL;
	if (shoal_manager_propose(m, tx, update_done, w, &err) < 0)
		goto fail;
	w = NULL;
	goto out;
fail:
	shoal_http_reply_err(req, &err);
out:
	if (w != NULL)
		write_ctx_free(w);
	shoal_store_tx_free(tx);
	json_decref(obj);
	json_decref(spec);
	json_decref(decoded);
	free(svcs);
	free(objs);
	free(now);
}

/* ---- remove ---- */

static void delete_done(void *ctx, const struct shoal_err *err)
{
	struct write_ctx *w = ctx;

	if (err != NULL) {
		shoal_http_reply_err(w->req, err);
	} else {
		shoal_log_info("service removed", "service=%s", w->id);
		publish(w->req, "remove", w->id, w->old, NULL);
		shoal_http_reply(w->req, 200, NULL, NULL, "", 0);
	}
	write_ctx_free(w);
}

void shoal_api_services_delete(struct shoal_http_req *req)
{
	struct shoal_store_tx *tx = NULL;
	struct write_ctx *w = NULL;
	struct shoal_store_obj *o;
	struct shoal_err err;

	o = find_service(req, &err);
	if (o == NULL)
		goto fail;
	w = shoal_calloc(1, sizeof(*w));
	w->req = req;
	snprintf(w->id, sizeof(w->id), "%s", o->id);
	w->old = json_deep_copy(o->json);
	tx = shoal_store_tx_new();
	/* the tasks are the orchestrator's to take down once the service is gone */
	shoal_store_tx_delete(tx, SHOAL_STORE_SERVICE, o->id);
	if (shoal_manager_propose(manager_of(req), tx, delete_done, w, &err) < 0)
		goto fail;
	w = NULL;
	goto out;
fail:
	shoal_http_reply_err(req, &err);
out:
	if (w != NULL)
		write_ctx_free(w);
	shoal_store_tx_free(tx);
}
