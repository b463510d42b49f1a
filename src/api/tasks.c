/* Task endpoints: GET /tasks and GET /tasks/{id}. Tasks are written by the orchestrator and
 * the dispatcher in the Engine API's shape already; this file only finds them and applies
 * moby's filter transforms (service and node names resolved to IDs, desired states checked)
 * before service_spec.c's matching (swarmkit's ListTasks rules, "_up-to-date" included). */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "manager/manager.h"

static struct shoal_manager *manager_of(struct shoal_http_req *req)
{
	struct shoal_api *api = req->ctx;

	return api->cfg.manager;
}

static const char *str_of(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

/* swarmkit's TaskState names: what ?filters={"desired-state":[...]} accepts. */
static const char *const task_states[] = {
	"new",	    "allocated", "pending",  "assigned", "accepted", "preparing",
	"ready",    "starting",	 "running",  "complete", "shutdown", "failed",
	"rejected", "remove",	 "orphaned", NULL,
};

/* Replaces each wanted value of key (a service or node as typed) by its ID, as moby's
 * transform does before swarmkit sees the filter; the lookup errors are Docker's. */
static int resolve(struct shoal_store *s, struct shoal_filters *f, const char *key,
		   enum shoal_store_table t, struct shoal_err *err)
{
	json_t *set = json_object_get(f->m, key), *ids;
	struct shoal_store_obj *o;
	const char *want;
	json_t *v;

	if (set == NULL)
		return 0;
	ids = json_object();
	json_object_foreach(set, want, v) {
		if (shoal_store_find(s, t, want, &o, err) < 0) {
			json_decref(ids);
			return -1;
		}
		json_object_set_new(ids, o->id, json_true());
	}
	json_object_set_new(f->m, key, ids);
	return 0;
}

/* desired-state values must be task states in any case; they are kept lower-cased. */
static int desired_states(struct shoal_filters *f, struct shoal_err *err)
{
	json_t *set = json_object_get(f->m, "desired-state"), *lower, *v;
	const char *want;
	size_t i;

	if (set == NULL)
		return 0;
	lower = json_object();
	json_object_foreach(set, want, v) {
		for (i = 0; task_states[i] != NULL; i++)
			if (strcasecmp(want, task_states[i]) == 0)
				break;
		if (task_states[i] != NULL) {
			json_object_set_new(lower, task_states[i], json_true());
			continue;
		}
		if (want[0] == '\0')
			continue;
		json_decref(lower);
		/* a plain error in moby: 500 */
		return shoal_errorf(err, 500, "Invalid desired-state filter: '%s'", want);
	}
	json_object_set_new(f->m, "desired-state", lower);
	return 0;
}

static bool task_matches(struct shoal_store *s, const struct shoal_filters *f, const json_t *t)
{
	struct shoal_store_obj *svc =
		shoal_store_get(s, SHOAL_STORE_SERVICE, str_of(t, "ServiceID"));

	return shoal_api__task_match(t, svc != NULL ? svc->json : NULL, f);
}

void shoal_api_tasks_list(struct shoal_http_req *req)
{
	static const char *const allowed[] = { "name",	      "id",	 "label",
					       "service",     "node",	 "desired-state",
					       "_up-to-date", "runtime", NULL };
	struct shoal_manager *m = manager_of(req);
	struct shoal_store_obj **l = NULL;
	struct shoal_filters f = { 0 };
	struct shoal_store *s;
	struct shoal_err err;
	json_t *out = NULL;
	size_t n, i;

	if (shoal_filters_parse(shoal_http_query(req, "filters"), &f, &err) < 0 ||
	    shoal_manager_check(m, &err) < 0 || shoal_filters_validate(&f, allowed, &err) < 0)
		goto fail;
	s = shoal_manager_store(m);
	if (resolve(s, &f, "service", SHOAL_STORE_SERVICE, &err) < 0 ||
	    resolve(s, &f, "node", SHOAL_STORE_NODE, &err) < 0 || desired_states(&f, &err) < 0)
		goto fail;
	out = json_array();
	l = shoal_store_list(s, SHOAL_STORE_TASK, &n);
	for (i = 0; i < n; i++)
		if (task_matches(s, &f, l[i]->json))
			json_array_append(out, l[i]->json);
	shoal_http_reply_json(req, 200, out);
	goto out;
fail:
	shoal_http_reply_err(req, &err);
out:
	free(l);
	json_decref(out);
	shoal_filters_fini(&f);
}

void shoal_api_tasks_inspect(struct shoal_http_req *req)
{
	struct shoal_manager *m = manager_of(req);
	struct shoal_store_obj *o = NULL;
	struct shoal_err err;

	if (shoal_manager_check(m, &err) < 0 ||
	    shoal_store_find(shoal_manager_store(m), SHOAL_STORE_TASK, shoal_http_param(req, "id"),
			     &o, &err) < 0) {
		shoal_http_reply_err(req, &err);
		return;
	}
	shoal_http_reply_json(req, 200, o->json);
}
