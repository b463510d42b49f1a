/* Swarm endpoints: /swarm/init, /swarm, /swarm/update, /swarm/unlockkey, /swarm/leave. The
 * swarm itself is src/manager's; this file speaks the Engine API's JSON and texts. */
#include "api/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "manager/manager.h"

static struct shoal_manager *manager_of(struct shoal_http_req *req)
{
	struct shoal_api *api = req->ctx;

	return api->cfg.manager;
}

/* Parses ?version= as Go's strconv.ParseUint, with Docker's texts. what: "swarm", "node". */
int shoal_api_parse_version(struct shoal_http_req *req, const char *what, uint64_t *out,
			    struct shoal_err *err)
{
	const char *v = shoal_http_query(req, "version");
	char *end;
	unsigned long long n;

	if (v == NULL)
		v = "";
	errno = 0;
	n = strtoull(v, &end, 10);
	if (v[0] == '\0' || *end != '\0' || v[0] == '-' || v[0] == '+')
		return shoal_errorf(
			err, 400,
			"invalid %s version '%s': strconv.ParseUint: parsing \"%s\": invalid syntax",
			what, v, v);
	if (errno == ERANGE)
		return shoal_errorf(
			err, 400,
			"invalid %s version '%s': strconv.ParseUint: parsing \"%s\": value out of range",
			what, v, v);
	*out = n;
	return 0;
}

/* The request body as a JSON object: a new reference, or NULL with a 400. An empty body
 * counts as {}. */
json_t *shoal_api_body_json(struct shoal_http_req *req, struct shoal_err *err)
{
	json_error_t jerr;
	json_t *j;

	if (req->body.len == 0)
		return json_object();
	j = json_loadb(req->body.data, req->body.len, 0, &jerr);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		shoal_errorf(err, 400, "invalid JSON: %s", j == NULL ? jerr.text : "not an object");
		return NULL;
	}
	return j;
}

static void done_empty(void *ctx, const struct shoal_err *err)
{
	struct shoal_http_req *req = ctx;

	if (err != NULL)
		shoal_http_reply_err(req, err);
	else
		shoal_http_reply(req, 200, NULL, NULL, "", 0);
}

static void init_done(void *ctx, const struct shoal_err *err)
{
	struct shoal_http_req *req = ctx;
	json_t *id;

	if (err != NULL) {
		shoal_http_reply_err(req, err);
		return;
	}
	/* dockerd answers the node ID as a JSON string */
	id = json_string(shoal_manager_node_id(manager_of(req)));
	shoal_http_reply_json(req, 200, id);
	json_decref(id);
}

static const char *str_field(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

void shoal_api_swarm_init(struct shoal_http_req *req)
{
	struct shoal_manager *m = manager_of(req);
	struct shoal_manager_init_req ir;
	struct shoal_err err;
	json_t *body;

	if (m == NULL) {
		shoal_http_reply_message(req, 500, "swarm mode is not available");
		return;
	}
	body = shoal_api_body_json(req, &err);
	if (body == NULL) {
		shoal_http_reply_err(req, &err);
		return;
	}
	memset(&ir, 0, sizeof(ir));
	ir.listen_addr = str_field(body, "ListenAddr");
	ir.advertise_addr = str_field(body, "AdvertiseAddr");
	ir.spec = json_object_get(body, "Spec");
	ir.force_new_cluster = json_is_true(json_object_get(body, "ForceNewCluster"));
	ir.default_addr_pool = json_object_get(body, "DefaultAddrPool");
	ir.subnet_size = (int)json_integer_value(json_object_get(body, "SubnetSize"));
	ir.data_path_port = (int)json_integer_value(json_object_get(body, "DataPathPort"));
	if (shoal_manager_init(m, &ir, init_done, req, &err) < 0)
		shoal_http_reply_err(req, &err);
	json_decref(body);
}

void shoal_api_swarm_join(struct shoal_http_req *req)
{
	struct shoal_manager *m = manager_of(req);
	struct shoal_manager_join_req jr;
	struct shoal_err err;
	json_t *body, *remotes;

	if (m == NULL) {
		shoal_http_reply_message(req, 500, "swarm mode is not available");
		return;
	}
	body = shoal_api_body_json(req, &err);
	if (body == NULL) {
		shoal_http_reply_err(req, &err);
		return;
	}
	memset(&jr, 0, sizeof(jr));
	remotes = json_object_get(body, "RemoteAddrs");
	/* the first address is the one tried, as dockerd does before any other */
	jr.remote_addr = json_string_value(json_array_get(remotes, 0));
	jr.token = str_field(body, "JoinToken");
	jr.listen_addr = str_field(body, "ListenAddr");
	jr.advertise_addr = str_field(body, "AdvertiseAddr");
	if (shoal_manager_join(m, &jr, done_empty, req, &err) < 0)
		shoal_http_reply_err(req, &err);
	json_decref(body);
}

void shoal_api_swarm_inspect(struct shoal_http_req *req)
{
	struct shoal_manager *m = manager_of(req);
	struct shoal_err err;
	json_t *s;

	if (shoal_manager_check(m, &err) < 0) {
		shoal_http_reply_err(req, &err);
		return;
	}
	s = shoal_manager_swarm_json(m);
	shoal_http_reply_json(req, 200, s);
	json_decref(s);
}

void shoal_api_swarm_unlockkey(struct shoal_http_req *req)
{
	struct shoal_err err;
	json_t *k;

	if (shoal_manager_check(manager_of(req), &err) < 0) {
		shoal_http_reply_err(req, &err);
		return;
	}
	/* autolock is not supported: the key is empty, as dockerd's without autolock */
	k = json_pack("{s:s}", "UnlockKey", "");
	shoal_http_reply_json(req, 200, k);
	json_decref(k);
}

void shoal_api_swarm_update(struct shoal_http_req *req)
{
	struct shoal_manager *m = manager_of(req);
	struct shoal_store_tx *tx = NULL;
	struct shoal_store_obj **l = NULL;
	struct shoal_err err;
	json_t *spec = NULL, *obj = NULL, *jt;
	const char *name, *ca;
	uint64_t version;
	size_t n;

	if (shoal_manager_check(m, &err) < 0 ||
	    shoal_api_parse_version(req, "swarm", &version, &err) < 0)
		goto fail;
	spec = shoal_api_body_json(req, &err);
	if (spec == NULL)
		goto fail;
	name = str_field(spec, "Name");
	if (name == NULL || name[0] == '\0')
		json_object_set_new(spec, "Name", json_string("default"));
	else if (strcmp(name, "default") != 0) {
		shoal_errorf(
			&err, 400,
			"rpc error: code = InvalidArgument desc = swarm spec must be named \"default\"");
		goto fail;
	}
	if (!json_is_object(json_object_get(spec, "Labels")))
		json_object_set_new(spec, "Labels", json_object());
	l = shoal_store_list(shoal_manager_store(m), SHOAL_STORE_CLUSTER, &n);
	if (n == 0) {
		shoal_errorf(&err, 503, "%s", SHOAL_MANAGER_PREPARING_MSG);
		goto fail;
	}
	if (l[0]->version != version) {
		shoal_errorf(&err, 500, "%s", SHOAL_MANAGER_OUT_OF_SEQUENCE_MSG);
		goto fail;
	}
	obj = json_deep_copy(l[0]->json);
	json_object_set(obj, "Spec", spec);
	jt = json_object_get(obj, "JoinTokens");
	ca = str_field(json_object_get(obj, "TLSInfo"), "TrustRoot");
	if (shoal_http_query_bool(req, "rotateWorkerToken") && jt != NULL && ca != NULL) {
		char *t = shoal_manager_join_token(ca);

		json_object_set_new(jt, "Worker", json_string(t));
		free(t);
	}
	if (shoal_http_query_bool(req, "rotateManagerToken") && jt != NULL && ca != NULL) {
		char *t = shoal_manager_join_token(ca);

		json_object_set_new(jt, "Manager", json_string(t));
		free(t);
	}
	tx = shoal_store_tx_new();
	shoal_store_tx_update(tx, SHOAL_STORE_CLUSTER, obj, version);
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
	free(l);
}

void shoal_api_swarm_leave(struct shoal_http_req *req)
{
	struct shoal_manager *m = manager_of(req);
	struct shoal_err err;

	if (m == NULL) {
		shoal_http_reply_message(req, 503, SHOAL_MANAGER_NOT_MEMBER_MSG);
		return;
	}
	if (shoal_manager_leave(m, shoal_http_query_bool(req, "force"), done_empty, req, &err) < 0)
		shoal_http_reply_err(req, &err);
}
