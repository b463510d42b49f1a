/* The dispatcher: on the raft leader only, as swarmkit's. Every node's agent holds a session
 * (a long GET on the cluster port answered with newline-delimited JSON messages), sends
 * heartbeats and task status reports. The dispatcher pushes each node the tasks assigned to
 * it whenever they change, with the routing mesh's view of the cluster (mesh.c), marks a
 * node ready when its session opens and down when its heartbeats stop for three periods,
 * and writes agents' reports into the tasks. */
#include "manager/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "dispatcher"

#define GRACE_MULTIPLIER       3
#define STATUS_RETRIES	       3
#define DEFAULT_PERIOD_NS      5000000000LL
#define NOT_REGISTERED_MSG     "rpc error: code = NotFound desc = node not registered"
#define LEADERSHIP_UNKNOWN_MSG "Node moved to \"unknown\" state due to leadership change in cluster"

struct dnode {
	struct shoal_list link;
	struct shoal_manager *m;
	char node_id[SHOAL_STORE_ID_LEN + 1];
	char session_id[SHOAL_STORE_ID_LEN + 1];
	struct shoal_http_req *stream; /* the session's stream while it is open */
	json_t *mesh_sent;	       /* the last "network" message sent on it */
	uv_timer_t deadline;
	bool dirty; /* its assignments changed since they were last sent */
	bool gone;  /* closing: freed in the timer's close callback */
};

/* ---- node status ---- */

static int64_t period_ns(struct shoal_manager *m)
{
	struct shoal_store_obj *c = shoal_manager__cluster_obj(m);
	json_int_t p = json_integer_value(json_object_get(
		json_object_get(json_object_get(c ? c->json : NULL, "Spec"), "Dispatcher"),
		"HeartbeatPeriod"));

	return p > 0 ? p : DEFAULT_PERIOD_NS;
}

static void set_node_status(struct shoal_manager *m, const char *node_id, const char *state,
			    const char *message, const char *addr);

struct status_write {
	struct shoal_manager *m;
	char *node_id, *state, *message, *addr;
};

static void status_proposed(void *ctx, const struct shoal_err *err)
{
	struct status_write *w = ctx;

	/* another writer of the node (the allocator giving it its ingress address) got
	 * there first: write it again over the fresh object */
	if (err != NULL && err->status == 500 && strstr(err->msg, "out of sequence") != NULL &&
	    w->m->disp_running)
		set_node_status(w->m, w->node_id, w->state, w->message, w->addr);
	else if (err != NULL)
		shoal_log_warn("cannot write node status", "node=%s error=%s", w->node_id,
			       shoal_log_q(err->msg));
	free(w->node_id);
	free(w->state);
	free(w->message);
	free(w->addr);
	free(w);
}

/* Writes the node's Status if it differs. addr NULL keeps the one stored. */
static void set_node_status(struct shoal_manager *m, const char *node_id, const char *state,
			    const char *message, const char *addr)
{
	struct shoal_store_obj *o = shoal_store_get(m->store, SHOAL_STORE_NODE, node_id);
	const json_t *st;
	struct shoal_store_tx *tx;
	struct shoal_err err;
	struct status_write *ctx;
	json_t *n;

	if (o == NULL)
		return;
	st = json_object_get(o->json, "Status");
	if (addr == NULL)
		addr = json_string_value(json_object_get(st, "Addr"));
	if (addr == NULL)
		addr = "";
	if (strcmp(json_string_value(json_object_get(st, "State")) ?: "", state) == 0 &&
	    strcmp(json_string_value(json_object_get(st, "Addr")) ?: "", addr) == 0)
		return;
	n = json_deep_copy(o->json);
	json_object_set_new(
		n, "Status",
		json_pack("{s:s, s:s, s:s}", "State", state, "Message", message, "Addr", addr));
	tx = shoal_store_tx_new();
	shoal_store_tx_update(tx, SHOAL_STORE_NODE, n, o->version);
	ctx = shoal_calloc(1, sizeof(*ctx));
	ctx->m = m;
	ctx->node_id = shoal_strdup(node_id);
	ctx->state = shoal_strdup(state);
	ctx->message = shoal_strdup(message);
	ctx->addr = shoal_strdup(addr);
	shoal_log_info("node status", "node=%s state=%s", node_id, state);
	if (shoal_manager_propose(m, tx, status_proposed, ctx, &err) < 0)
		status_proposed(ctx, &err);
	shoal_store_tx_free(tx);
}

/* ---- the node table ---- */

static struct dnode *dnode_find(struct shoal_manager *m, const char *node_id)
{
	struct shoal_list *p;

	shoal_list_foreach(p, &m->dnodes) {
		struct dnode *d = shoal_list_entry(p, struct dnode, link);

		if (strcmp(d->node_id, node_id) == 0)
			return d;
	}
	return NULL;
}

static void deadline_fired(uv_timer_t *t)
{
	struct dnode *d = t->data;
	struct shoal_store_obj *o = shoal_store_get(d->m->store, SHOAL_STORE_NODE, d->node_id);
	const char *state = json_string_value(
		json_object_get(json_object_get(o ? o->json : NULL, "Status"), "State"));
	bool unknown = state != NULL && strcmp(state, "unknown") == 0;

	shoal_log_warn("node missed its heartbeats", "node=%s", d->node_id);
	shoal_manager__logs_node_gone(d->m, d->node_id);
	if (d->stream != NULL) {
		struct shoal_http_req *req = d->stream;

		d->stream = NULL;
		req->on_close = NULL;
		shoal_http_stream_end(req);
	}
	d->session_id[0] = '\0';
	set_node_status(d->m, d->node_id, "down",
			unknown ? "heartbeat failure for node in \"unknown\" state" :
				  "heartbeat failure",
			NULL);
}

static void arm(struct dnode *d, int64_t period, int mult)
{
	uv_timer_start(&d->deadline, deadline_fired, (uint64_t)(period / 1000000) * (uint64_t)mult,
		       0);
}

static struct dnode *dnode_get(struct shoal_manager *m, const char *node_id)
{
	struct dnode *d = dnode_find(m, node_id);

	if (d != NULL)
		return d;
	d = shoal_calloc(1, sizeof(*d));
	d->m = m;
	snprintf(d->node_id, sizeof(d->node_id), "%s", node_id);
	uv_timer_init(m->loop, &d->deadline);
	d->deadline.data = d;
	shoal_list_add_tail(&m->dnodes, &d->link);
	return d;
}

static void dnode_freed(uv_handle_t *h)
{
	free(((uv_timer_t *)h)->data);
}

static void dnode_drop(struct dnode *d)
{
	shoal_list_del(&d->link);
	shoal_manager__logs_node_gone(d->m, d->node_id);
	json_decref(d->mesh_sent);
	d->mesh_sent = NULL;
	if (d->stream != NULL) {
		struct shoal_http_req *req = d->stream;

		d->stream = NULL;
		req->on_close = NULL;
		shoal_http_stream_end(req);
	}
	d->gone = true;
	uv_close((uv_handle_t *)&d->deadline, dnode_freed);
}

/* ---- assignments ---- */

int shoal_manager__task_state_rank(const char *state)
{
	enum shoal_task_state st;

	return shoal_task_state_parse(state, &st) == 0 ? (int)st : -1;
}

static json_t *assignments(struct shoal_manager *m, const char *node_id)
{
	size_t n, i;
	struct shoal_store_obj **l = shoal_store_tasks_by_node(m->store, node_id, &n), *node;
	json_t *tasks = json_array();

	/* Every task the node holds, dead ones too: their containers stay (docker ps -a) until
	 * the task reaper deletes the task, and then the agent removes them. */
	for (i = 0; i < n; i++) {
		const char *st = json_string_value(
			json_object_get(json_object_get(l[i]->json, "Status"), "State"));

		const char *sid = json_string_value(json_object_get(l[i]->json, "ServiceID"));
		struct shoal_store_obj *svc;
		json_t *t;

		if (shoal_manager__task_state_rank(st) < shoal_manager__task_state_rank("assigned"))
			continue;
		/* the agent names containers after the service, which the Engine API's task
		 * does not carry: swarmkit's dispatcher sends its annotations along */
		t = json_deep_copy(l[i]->json);
		svc = sid != NULL ? shoal_store_get(m->store, SHOAL_STORE_SERVICE, sid) : NULL;
		if (svc != NULL)
			json_object_set_new(
				t, "ServiceAnnotations",
				json_pack("{s:O?}", "Name",
					  json_object_get(json_object_get(svc->json, "Spec"),
							  "Name")));
		/* and its endpoint, as swarmkit's task carries it: host-mode ports */
		if (svc != NULL && json_object_get(svc->json, "Endpoint") != NULL)
			json_object_set(t, "Endpoint", json_object_get(svc->json, "Endpoint"));
		json_array_append_new(tasks, t);
	}
	free(l);
	node = shoal_store_get(m->store, SHOAL_STORE_NODE, node_id);
	return json_pack("{s:s, s:o, s:o, s:O?}", "Type", "assignments", "Tasks", tasks, "Managers",
			 shoal_manager__managers_json(m), "Node", node != NULL ? node->json : NULL);
}

static void send_json(struct shoal_http_req *req, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	size_t n = strlen(s);

	s[n] = '\n';
	shoal_http_stream_write(req, s, n + 1);
	free(s);
	json_decref(msg);
}

int shoal_manager__dispatcher_connected(struct shoal_manager *m, const char *node_id)
{
	struct dnode *d;

	if (!m->disp_running)
		return -1;
	d = dnode_find(m, node_id);
	return d != NULL && d->stream != NULL ? 1 : 0;
}

int shoal_manager__dispatcher_send(struct shoal_manager *m, const char *node_id, json_t *msg)
{
	struct dnode *d = m->disp_running ? dnode_find(m, node_id) : NULL;

	if (d == NULL || d->stream == NULL) {
		json_decref(msg);
		return -1;
	}
	send_json(d->stream, msg);
	return 0;
}

/* The routing mesh's message to every session whose last one differs: before the
 * assignments of the same turn, so that a task leaves the rotations before its agent hears
 * it must stop. */
static void mesh_flush(struct shoal_manager *m)
{
	struct shoal_list *p;
	json_t *msg = NULL;

	shoal_list_foreach(p, &m->dnodes) {
		struct dnode *d = shoal_list_entry(p, struct dnode, link);

		if (d->stream == NULL)
			continue;
		if (msg == NULL)
			msg = shoal_manager__mesh_msg(m->store);
		if (d->mesh_sent != NULL && json_equal(d->mesh_sent, msg))
			continue;
		json_decref(d->mesh_sent);
		d->mesh_sent = json_incref(msg);
		send_json(d->stream, json_incref(msg));
	}
	json_decref(msg);
}

static void flush(uv_idle_t *idle)
{
	struct shoal_manager *m = container_of(idle, struct shoal_manager, disp_flush);
	struct shoal_list *p;

	uv_idle_stop(idle);
	if (!m->disp_running)
		return;
	if (m->roles_dirty) {
		m->roles_dirty = false;
		shoal_manager__roles_reconcile(m);
	}
	mesh_flush(m);
	shoal_list_foreach(p, &m->dnodes) {
		struct dnode *d = shoal_list_entry(p, struct dnode, link);

		if (!d->dirty || d->stream == NULL)
			continue;
		d->dirty = false;
		send_json(d->stream, assignments(m, d->node_id));
	}
}

static void mark(struct shoal_manager *m, struct dnode *d)
{
	if (d == NULL)
		return;
	d->dirty = true;
	uv_idle_start(&m->disp_flush, flush);
}

static void on_change(const struct shoal_store_event *ev, void *data)
{
	struct shoal_manager *m = data;
	struct shoal_list *p;
	const char *a, *b;

	/* any change may change the mesh's message: the flush looks */
	uv_idle_start(&m->disp_flush, flush);
	if (ev->table == SHOAL_STORE_SERVICE || ev->table == SHOAL_STORE_NETWORK)
		return;
	if (ev->kind == SHOAL_STORE_RESET || ev->table == SHOAL_STORE_NODE) {
		/* the manager list may have changed: everyone hears of it */
		shoal_list_foreach(p, &m->dnodes)
			mark(m, shoal_list_entry(p, struct dnode, link));
		/* proposing from inside raft's apply is not safe: the flush does it */
		m->roles_dirty = true;
		uv_idle_start(&m->disp_flush, flush);
		if (ev->kind == SHOAL_STORE_DELETE && ev->table == SHOAL_STORE_NODE) {
			struct dnode *d = dnode_find(m, ev->id);

			if (d != NULL)
				dnode_drop(d);
		}
		return;
	}
	a = json_string_value(json_object_get(ev->old, "NodeID"));
	b = json_string_value(json_object_get(ev->new, "NodeID"));
	if (a != NULL)
		mark(m, dnode_find(m, a));
	if (b != NULL && (a == NULL || strcmp(a, b) != 0))
		mark(m, dnode_find(m, b));
}

/* ---- routes ---- */

static void session_closed(struct shoal_http_req *req)
{
	struct dnode *d = req->data;

	req->on_close = NULL;
	if (d != NULL && d->stream == req) {
		d->stream = NULL;
		shoal_manager__logs_node_gone(d->m, d->node_id);
	}
	shoal_http_stream_end(req);
}

void shoal_manager__route_session(struct shoal_http_req *req)
{
	struct shoal_manager *m = req->ctx;
	const char *node_id = shoal_http_query(req, "node"), *addr = shoal_http_query(req, "addr");
	struct shoal_store_obj *o;
	struct dnode *d;
	int64_t period;

	if (!shoal_manager__leading(m) || !m->disp_running) {
		shoal_manager__reply_not_leader(m, req);
		return;
	}
	if (node_id == NULL || (o = shoal_store_get(m->store, SHOAL_STORE_NODE, node_id)) == NULL) {
		char *msg = shoal_asprintf(
			"rpc error: code = PermissionDenied desc = Permission denied: node %s was removed from swarm",
			node_id ? node_id : "");

		shoal_http_reply_message(req, 403, msg);
		free(msg);
		return;
	}
	d = dnode_get(m, node_id);
	if (d->stream != NULL) {
		struct shoal_http_req *old = d->stream;

		d->stream = NULL;
		old->on_close = NULL;
		shoal_http_stream_end(old);
	}
	shoal_store_new_id(d->session_id);
	json_decref(d->mesh_sent);
	d->mesh_sent = NULL;
	d->stream = req;
	req->data = d;
	req->on_close = session_closed;
	period = period_ns(m);
	shoal_http_stream_begin(req, 200, "application/json", NULL);
	send_json(req,
		  json_pack("{s:s, s:s, s:s, s:I}", "Type", "session", "SessionID", d->session_id,
			    "NodeID", node_id, "HeartbeatPeriod", (json_int_t)period));
	mark(m, d);
	arm(d, period, GRACE_MULTIPLIER);
	set_node_status(m, node_id, "ready", "", addr != NULL && addr[0] ? addr : NULL);
	shoal_log_info("agent session", "node=%s addr=%s", node_id, addr ? addr : "");
}

/* The body's NodeID and SessionID against the open session: the node's entry, or NULL after
 * answering. */
static struct dnode *session_of(struct shoal_http_req *req, json_t **body)
{
	struct shoal_manager *m = req->ctx;
	const char *node_id, *sid;
	struct dnode *d;

	if (!shoal_manager__leading(m) || !m->disp_running) {
		shoal_manager__reply_not_leader(m, req);
		return NULL;
	}
	*body = json_loadb(req->body.data, req->body.len, 0, NULL);
	node_id = json_string_value(json_object_get(*body, "NodeID"));
	sid = json_string_value(json_object_get(*body, "SessionID"));
	if (node_id == NULL || sid == NULL || (d = dnode_find(m, node_id)) == NULL ||
	    strcmp(d->session_id, sid) != 0) {
		shoal_http_reply_message(req, 404, NOT_REGISTERED_MSG);
		return NULL;
	}
	return d;
}

void shoal_manager__route_heartbeat(struct shoal_http_req *req)
{
	struct shoal_manager *m = req->ctx;
	json_t *body = NULL, *ans;
	struct dnode *d = session_of(req, &body);
	int64_t period, eps, jitter = 0;

	if (d != NULL) {
		period = period_ns(m);
		/* swarmkit jitters each period by up to half a second (a tenth here for periods
		 * under 5 s) so that nodes do not beat in step */
		eps = period / 10 < 500000000LL ? period / 10 : 500000000LL;
		if (eps > 0 && getrandom(&jitter, sizeof(jitter), 0) == (ssize_t)sizeof(jitter))
			jitter = (int64_t)((uint64_t)jitter % (uint64_t)(2 * eps)) - eps;
		period += jitter;
		arm(d, period, GRACE_MULTIPLIER);
		ans = json_pack("{s:I}", "Period", (json_int_t)period);
		shoal_http_reply_json(req, 200, ans);
		json_decref(ans);
	}
	json_decref(body);
}

/* ---- status reports ---- */

struct status_job {
	struct shoal_manager *m;
	struct shoal_http_req *req;
	char node_id[SHOAL_STORE_ID_LEN + 1];
	json_t *updates;
	int tries;
};

static void status_apply(struct status_job *j);

static void status_job_free(struct status_job *j)
{
	json_decref(j->updates);
	free(j);
}

static void status_req_closed(struct shoal_http_req *req)
{
	struct status_job *j = req->data;

	req->on_close = NULL;
	j->req = NULL;
	shoal_http_reply_message(req, 500, "client gone");
}

static void status_applied(void *ctx, const struct shoal_err *err)
{
	struct status_job *j = ctx;

	/* a task written meanwhile (by the orchestrator) makes the set stale: build it again */
	if (err != NULL && err->status == 500 && strstr(err->msg, "out of sequence") != NULL &&
	    ++j->tries < STATUS_RETRIES && j->m->disp_running) {
		status_apply(j);
		return;
	}
	if (j->req != NULL) {
		j->req->on_close = NULL;
		if (err != NULL)
			shoal_http_reply_err(j->req, err);
		else
			shoal_http_reply(j->req, 200, "application/json", NULL, "{}\n", 3);
	}
	status_job_free(j);
}

static void status_apply(struct status_job *j)
{
	struct shoal_manager *m = j->m;
	struct shoal_store_tx *tx = shoal_store_tx_new();
	struct shoal_err err;
	size_t i;
	json_t *u;

	json_array_foreach(j->updates, i, u) {
		const char *tid = json_string_value(json_object_get(u, "TaskID"));
		json_t *st = json_object_get(u, "Status"), *t;
		struct shoal_store_obj *o;
		const char *node, *cur;

		if (tid == NULL || !json_is_object(st) ||
		    (o = shoal_store_get(m->store, SHOAL_STORE_TASK, tid)) == NULL)
			continue;
		node = json_string_value(json_object_get(o->json, "NodeID"));
		cur = json_string_value(
			json_object_get(json_object_get(o->json, "Status"), "State"));
		/* a node reports on its own tasks only, and a state never goes back */
		if (node == NULL || strcmp(node, j->node_id) != 0 ||
		    shoal_manager__task_state_rank(json_string_value(
			    json_object_get(st, "State"))) <= shoal_manager__task_state_rank(cur))
			continue;
		t = json_deep_copy(o->json);
		json_t *port_status = json_object_get(json_object_get(t, "Status"), "PortStatus");
		st = json_deep_copy(st);
		if (port_status != NULL && json_object_get(st, "PortStatus") == NULL)
			json_object_set(st, "PortStatus", port_status);
		json_object_set_new(t, "Status", st);
		shoal_store_tx_update(tx, SHOAL_STORE_TASK, t, o->version);
	}
	if (shoal_store_tx_len(tx) == 0) {
		shoal_store_tx_free(tx);
		status_applied(j, NULL);
		return;
	}
	if (shoal_manager_propose(m, tx, status_applied, j, &err) < 0)
		status_applied(j, &err);
	shoal_store_tx_free(tx);
}

void shoal_manager__route_status(struct shoal_http_req *req)
{
	json_t *body = NULL;
	struct dnode *d = session_of(req, &body);
	struct status_job *j;

	if (d == NULL) {
		json_decref(body);
		return;
	}
	j = shoal_calloc(1, sizeof(*j));
	j->m = req->ctx;
	j->req = req;
	snprintf(j->node_id, sizeof(j->node_id), "%s", d->node_id);
	j->updates = json_incref(json_object_get(body, "Updates"));
	if (!json_is_array(j->updates)) {
		json_decref(j->updates);
		j->updates = json_array();
	}
	json_decref(body);
	req->data = j;
	req->on_close = status_req_closed;
	status_apply(j);
}

/* ---- life ---- */

void shoal_manager__dispatcher_init(struct shoal_manager *m)
{
	shoal_list_init(&m->dnodes);
	uv_idle_init(m->loop, &m->disp_flush);
}

void shoal_manager__dispatcher_start(struct shoal_manager *m)
{
	struct shoal_store_obj **l;
	struct shoal_store_tx *tx;
	struct shoal_err err;
	int64_t period;
	size_t n, i;

	if (m->disp_running)
		return;
	m->disp_running = true;
	m->disp_watch = shoal_store_watch_add(m->store,
					      SHOAL_STORE_TABLE_BIT(SHOAL_STORE_TASK) |
						      SHOAL_STORE_TABLE_BIT(SHOAL_STORE_NODE) |
						      SHOAL_STORE_TABLE_BIT(SHOAL_STORE_SERVICE) |
						      SHOAL_STORE_TABLE_BIT(SHOAL_STORE_NETWORK),
					      SHOAL_STORE_ALL_KINDS, on_change, m);
	period = period_ns(m);
	/* A new leader does not know who is alive: every node gets twice the grace to find it,
	 * and the others are told they are unknown until then, as swarmkit does. */
	tx = shoal_store_tx_new();
	l = shoal_store_list(m->store, SHOAL_STORE_NODE, &n);
	for (i = 0; i < n; i++) {
		const char *st = json_string_value(
			json_object_get(json_object_get(l[i]->json, "Status"), "State"));
		json_t *node;

		if (st != NULL && strcmp(st, "down") == 0)
			continue;
		arm(dnode_get(m, l[i]->id), period, 2 * GRACE_MULTIPLIER);
		if (strcmp(l[i]->id, m->node_id) == 0 || (st != NULL && strcmp(st, "unknown") == 0))
			continue;
		node = json_deep_copy(l[i]->json);
		json_object_set_new(json_object_get(node, "Status"), "State",
				    json_string("unknown"));
		json_object_set_new(json_object_get(node, "Status"), "Message",
				    json_string(LEADERSHIP_UNKNOWN_MSG));
		shoal_store_tx_update(tx, SHOAL_STORE_NODE, node, l[i]->version);
	}
	free(l);
	if (shoal_store_tx_len(tx) > 0 && shoal_manager_propose(m, tx, NULL, NULL, &err) < 0)
		shoal_log_warn("cannot mark nodes unknown", "error=%s", shoal_log_q(err.msg));
	shoal_store_tx_free(tx);
	shoal_log_info("dispatcher started", "nodes=%zu", n);
	shoal_manager__roles_reconcile(m);
}

void shoal_manager__dispatcher_stop(struct shoal_manager *m)
{
	if (!m->disp_running)
		return;
	m->disp_running = false;
	if (m->store != NULL && m->disp_watch != NULL)
		shoal_store_watch_remove(m->store, m->disp_watch);
	m->disp_watch = NULL;
	uv_idle_stop(&m->disp_flush);
	while (!shoal_list_empty(&m->dnodes))
		dnode_drop(shoal_list_entry(m->dnodes.next, struct dnode, link));
	shoal_log_info("dispatcher stopped", "%s", "");
}

void shoal_manager__dispatcher_close(struct shoal_manager *m, uv_close_cb cb)
{
	shoal_manager__dispatcher_stop(m);
	uv_close((uv_handle_t *)&m->disp_flush, cb);
}
