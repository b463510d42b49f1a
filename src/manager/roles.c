/* Promotion and demotion. `docker node promote|demote` only changes a node's Spec.Role in the
 * store; the rest follows from it, as in swarmkit's role manager:
 *  - promote: the node's agent hears of its new role, the node opens its cluster port and an
 *    empty raft, and asks the leader to let it in (POST /swarm/promote); the leader writes its
 *    ManagerStatus and adds it to raft as a voter, and raft brings it the store;
 *  - demote: the leader takes the node out of raft and drops its ManagerStatus; the node
 *    hears of it and closes its raft and cluster port, keeping its agent.
 * The node side runs wherever the node is; the leader side on the leader only. */
#include "manager/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "roles"

static const char *role_of(const json_t *node)
{
	return json_string_value(json_object_get(json_object_get(node, "Spec"), "Role"));
}

/* ---- leader side ---- */

struct promote_job {
	struct shoal_manager *m;
	struct shoal_http_req *req;
};

static void promote_req_closed(struct shoal_http_req *req)
{
	struct promote_job *j = req->data;

	req->on_close = NULL;
	j->req = NULL;
	shoal_http_reply_message(req, 500, "client gone");
}

static void promote_applied(void *ctx, const struct shoal_err *err)
{
	struct promote_job *j = ctx;

	if (j->req != NULL) {
		j->req->on_close = NULL;
		if (err != NULL)
			shoal_http_reply_err(j->req, err);
		else
			shoal_http_reply(j->req, 200, "application/json", NULL, "{}\n", 3);
	}
	free(j);
}

/* POST /swarm/promote {NodeID, RaftID, RaftAddr}: a node whose Spec.Role is manager is ready
 * to be a raft member. Its ManagerStatus is written; the reconciler below adds it. */
void shoal_manager__route_promote(struct shoal_http_req *req)
{
	struct shoal_manager *m = req->ctx;
	json_t *body = NULL, *n;
	const char *id, *addr;
	json_int_t rid;
	struct shoal_store_obj *o;
	struct shoal_store_tx *tx;
	struct promote_job *j;
	struct shoal_err err;

	if (!shoal_manager__leading(m)) {
		shoal_manager__reply_not_leader(m, req);
		return;
	}
	body = json_loadb(req->body.data, req->body.len, 0, NULL);
	id = json_string_value(json_object_get(body, "NodeID"));
	addr = json_string_value(json_object_get(body, "RaftAddr"));
	rid = json_integer_value(json_object_get(body, "RaftID"));
	if (id == NULL || addr == NULL || rid <= 0 ||
	    (o = shoal_store_get(m->store, SHOAL_STORE_NODE, id)) == NULL) {
		shoal_http_reply_message(req, 400, "bad promote request");
		goto out;
	}
	if (role_of(o->json) == NULL || strcmp(role_of(o->json), "manager") != 0) {
		shoal_http_reply_message(req, 409, "node is not to be a manager");
		goto out;
	}
	n = json_deep_copy(o->json);
	json_object_set_new(n, "ManagerStatus",
			    json_pack("{s:b, s:s, s:s, s:I}", "Leader", 0, "Reachability",
				      "reachable", "Addr", addr, "RaftID", rid));
	tx = shoal_store_tx_new();
	shoal_store_tx_update(tx, SHOAL_STORE_NODE, n, o->version);
	j = shoal_calloc(1, sizeof(*j));
	j->m = m;
	j->req = req;
	req->data = j;
	req->on_close = promote_req_closed;
	shoal_log_info("node promoted", "node=%s raft=%s", id, addr);
	if (shoal_manager_propose(m, tx, promote_applied, j, &err) < 0)
		promote_applied(j, &err);
	shoal_store_tx_free(tx);
out:
	json_decref(body);
}

struct change_job {
	struct shoal_manager *m;
	char node_id[SHOAL_STORE_ID_LEN + 1];
	bool demote;
};

static void change_end(struct change_job *j)
{
	j->m->raft_changing = false;
	/* more may be waiting */
	shoal_manager__roles_later(j->m, 0);
	free(j);
}

static void demote_written(void *ctx, const struct shoal_err *err)
{
	struct change_job *j = ctx;

	if (err != NULL)
		shoal_log_warn("cannot write the demotion", "node=%s error=%s", j->node_id,
			       shoal_log_q(err->msg));
	change_end(j);
}

static void changed(void *ctx, const struct shoal_err *err)
{
	struct change_job *j = ctx;
	struct shoal_manager *m = j->m;
	struct shoal_store_obj *o;
	struct shoal_store_tx *tx;
	struct shoal_err e2;
	json_t *n;

	if (err != NULL && err->status != 404) {
		shoal_log_warn(j->demote ? "cannot take the manager out of raft" :
					   "cannot add the manager to raft",
			       "node=%s error=%s", j->node_id, shoal_log_q(err->msg));
		j->m->raft_changing = false;
		shoal_manager__roles_later(m, 1000);
		free(j);
		return;
	}
	shoal_log_info(j->demote ? "manager out of raft" : "manager in raft", "node=%s",
		       j->node_id);
	o = m->store != NULL ? shoal_store_get(m->store, SHOAL_STORE_NODE, j->node_id) : NULL;
	if (!j->demote || o == NULL) {
		change_end(j);
		return;
	}
	n = json_deep_copy(o->json);
	json_object_del(n, "ManagerStatus");
	tx = shoal_store_tx_new();
	shoal_store_tx_update(tx, SHOAL_STORE_NODE, n, o->version);
	if (shoal_manager_propose(m, tx, demote_written, j, &e2) < 0)
		demote_written(j, &e2);
	shoal_store_tx_free(tx);
}

/* Makes raft's voters what the store says: a node with a ManagerStatus and the manager role
 * is a voter, one whose role says worker leaves raft and loses its ManagerStatus. One change
 * at a time, as raft takes them; a leader that took over half-way finishes the job. */
void shoal_manager__roles_reconcile(struct shoal_manager *m)
{
	struct shoal_store_obj **l;
	struct change_job *j = NULL;
	struct shoal_err err;
	size_t n, i;
	int rv = 0;

	if (m->raft_changing || !shoal_manager__leading(m))
		return;
	if (shoal_raft_changing(m->raft)) {
		shoal_manager__roles_later(m, 200);
		return;
	}
	l = shoal_store_list(m->store, SHOAL_STORE_NODE, &n);
	for (i = 0; i < n && j == NULL; i++) {
		json_t *ms = json_object_get(l[i]->json, "ManagerStatus");
		const char *role = role_of(l[i]->json);
		const char *addr = json_string_value(json_object_get(ms, "Addr"));
		json_int_t rid = json_integer_value(json_object_get(ms, "RaftID"));
		int member;

		if (ms == NULL || role == NULL || rid <= 0 || addr == NULL)
			continue;
		member = shoal_raft_member_role(m->raft, (uint64_t)rid);
		if (strcmp(role, "worker") == 0) {
			j = shoal_calloc(1, sizeof(*j));
			j->demote = true;
		} else if (member != SHOAL_RAFT_VOTER) {
			j = shoal_calloc(1, sizeof(*j));
		} else {
			continue;
		}
		j->m = m;
		snprintf(j->node_id, sizeof(j->node_id), "%s", l[i]->id);
		m->raft_changing = true;
		if (j->demote && member < 0) {
			changed(j, NULL); /* out of raft already: only the store is left */
			break;
		}
		shoal_log_info(j->demote ? "taking a manager out of raft" :
					   "adding a manager to raft",
			       "node=%s raft=%s", l[i]->id, addr);
		rv = j->demote ?
			     shoal_raft_remove(m->raft, (uint64_t)rid, changed, j, &err) :
			     shoal_raft_add_voter(m->raft, (uint64_t)rid, addr, changed, j, &err);
		if (rv < 0)
			changed(j, &err);
	}
	free(l);
}

static void roles_timer(uv_timer_t *t)
{
	shoal_manager__roles_reconcile(container_of(t, struct shoal_manager, roles_retry));
}

void shoal_manager__roles_later(struct shoal_manager *m, uint64_t ms)
{
	if (!m->closing && !m->handles_closing)
		uv_timer_start(&m->roles_retry, roles_timer, ms, 0);
}

/* ---- node side ---- */

static void promote_answered(struct shoal_http_call *c, int status, const char *body, size_t len,
			     const struct shoal_err *err, void *ctx)
{
	struct shoal_manager *m = ctx;

	(void)c;
	(void)body;
	(void)len;
	m->promoting = false;
	if (err != NULL || status != 200)
		shoal_log_warn("the leader did not take the promotion", "status=%d error=%s",
			       status, err ? shoal_log_q(err->msg) : "");
}

static void ask_leader(struct shoal_manager *m)
{
	const char *leader = NULL;
	struct shoal_err err;
	json_t *body, *e;
	size_t i;

	/* the first other manager: the dispatcher lists the leader first */
	json_array_foreach(m->managers, i, e) {
		const char *a = json_string_value(json_object_get(e, "Addr"));

		if (a != NULL && strcmp(a, m->raft_addr) != 0) {
			leader = a;
			break;
		}
	}
	if (leader == NULL) {
		m->promoting = false;
		return;
	}
	body = json_pack("{s:s, s:I, s:s}", "NodeID", m->node_id, "RaftID", (json_int_t)m->raft_id,
			 "RaftAddr", m->raft_addr);
	if (shoal_manager__call(m, leader, "/swarm/promote", body, promote_answered, m, 10000,
				&err) == NULL) {
		shoal_log_warn("cannot ask for the promotion", "error=%s", shoal_log_q(err.msg));
		m->promoting = false;
	}
	json_decref(body);
}

static int save_state(struct shoal_manager *m, struct shoal_err *err)
{
	json_t *st = shoal_manager__state_json(m);
	char *data = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
	char *path = shoal_asprintf("%s/state.json", m->swarm_dir);
	int rv = shoal_manager__write_file(path, data, 0600, err);

	free(path);
	free(data);
	json_decref(st);
	return rv;
}

static void promote_self(struct shoal_manager *m)
{
	struct shoal_err err;
	uint64_t rid = 0;
	const char *port;

	while (rid == 0 || rid > INT64_MAX)
		if (getrandom(&rid, sizeof(rid), 0) != (ssize_t)sizeof(rid))
			shoal_fatal(SHOAL_LOG_MODULE, "getrandom");
	port = m->listen_addr != NULL ? strrchr(m->listen_addr, ':') : NULL;
	m->raft_id = rid;
	m->raft_addr = shoal_asprintf("%s%s", m->addr, port ? port : ":2377");
	if (m->listen_addr == NULL)
		m->listen_addr = shoal_strdup("0.0.0.0:2377");
	if (shoal_manager__cluster_listen(m, &err) < 0 ||
	    shoal_manager__raft_up(m, false, &err) < 0 || save_state(m, &err) < 0) {
		shoal_log_error("cannot become a manager", "error=%s", shoal_log_q(err.msg));
		if (m->raft != NULL) {
			shoal_raft_close(m->raft, NULL, NULL);
			m->raft = NULL;
		}
		shoal_store_free(m->store);
		m->store = NULL;
		free(m->raft_addr);
		m->raft_addr = NULL;
		m->raft_id = 0;
		m->state = SHOAL_MANAGER_WORKER;
		return;
	}
	shoal_log_info("becoming a manager", "node=%s raft=%s", m->node_id, m->raft_addr);
	m->promoting = true;
	shoal_manager__member_changed(m);
	ask_leader(m);
}

static void demoted_raft_closed(void *ctx)
{
	struct shoal_manager *m = ctx;
	char *dir = shoal_asprintf("%s/raft", m->swarm_dir);

	m->raft_closing = false;
	/* the old log must not come back if the node is promoted again */
	shoal_manager__rm_rf(dir);
	free(dir);
}

static void demote_self(struct shoal_manager *m)
{
	struct shoal_err err;

	shoal_log_info("no longer a manager", "node=%s", m->node_id);
	shoal_manager__leader_parts_stop(m);
	if (m->raft != NULL) {
		m->raft_closing = true;
		shoal_raft_close(m->raft, demoted_raft_closed, m);
		m->raft = NULL;
	}
	shoal_manager__cluster_close(m, shoal_manager__cluster_closed_noop);
	shoal_store_free(m->store);
	m->store = NULL;
	free(m->raft_addr);
	m->raft_addr = NULL;
	m->raft_id = 0;
	m->state = SHOAL_MANAGER_WORKER;
	if (save_state(m, &err) < 0)
		shoal_log_warn("cannot save the swarm state", "error=%s", shoal_log_q(err.msg));
	shoal_manager__member_changed(m);
}

void shoal_manager_node_changed(struct shoal_manager *m, const json_t *node)
{
	const char *role = role_of(node);

	if (role == NULL || m->closing || m->join != NULL)
		return;
	if (strcmp(role, "manager") == 0 && m->state == SHOAL_MANAGER_WORKER && !m->promoting)
		promote_self(m);
	else if (strcmp(role, "worker") == 0 && m->raft != NULL &&
		 json_object_get(node, "ManagerStatus") == NULL &&
		 (m->state == SHOAL_MANAGER_ACTIVE || m->state == SHOAL_MANAGER_PENDING))
		demote_self(m);
}

void shoal_manager_remember_managers(struct shoal_manager *m, const json_t *managers)
{
	struct shoal_err err;

	if (m->state != SHOAL_MANAGER_WORKER || json_equal(managers, m->managers) ||
	    json_array_size(managers) == 0)
		return;
	json_decref(m->managers);
	m->managers = json_deep_copy(managers);
	/* a worker restarted later finds its managers here */
	if (save_state(m, &err) < 0)
		shoal_log_warn("cannot save the swarm state", "error=%s", shoal_log_q(err.msg));
}
