/* Service and task logs, gathered from the nodes that ran the tasks: swarmkit's log broker.
 * The leader holds the subscriptions: it asks each node with tasks of the subscription, down
 * its agent session, to read their containers' logs, and the agents publish the lines back
 * (POST /swarm/logs/publish, batched, base64 data). A follower manager asked for logs opens
 * the same subscription on the leader (GET /swarm/logs, a stream of JSON lines) and passes
 * the lines on, as swarmkit's followers proxy the broker. */
#include "manager/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "logs"

#define MAX_LINE (4 * 1024 * 1024)

struct shoal_manager_logsub {
	struct shoal_list link;
	struct shoal_manager *m;
	char id[SHOAL_STORE_ID_LEN + 1];
	shoal_manager_log_cb on_log;
	shoal_manager_log_end_cb on_end;
	void *ctx;
	bool follow;
	json_t *pending; /* node ID -> true: nodes not done yet */
	/* following a service: tasks that start later are read too */
	char *service_id;
	json_t *tasks; /* task ID -> true: asked for already */
	struct shoal_store_watch *watch;
	/* a follower's subscription on the leader */
	struct shoal_http_call *call;
	struct shoal_http_lines lines;
	bool remote;
};

/* ---- on the leader ---- */

static struct shoal_manager_logsub *sub_find(struct shoal_manager *m, const char *id)
{
	struct shoal_list *p;

	shoal_list_foreach(p, &m->logsubs) {
		struct shoal_manager_logsub *s =
			shoal_list_entry(p, struct shoal_manager_logsub, link);

		if (strcmp(s->id, id) == 0)
			return s;
	}
	return NULL;
}

static void sub_free(struct shoal_manager_logsub *s)
{
	shoal_list_del(&s->link);
	if (s->watch != NULL && s->m->store != NULL)
		shoal_store_watch_remove(s->m->store, s->watch);
	free(s->service_id);
	json_decref(s->tasks);
	json_decref(s->pending);
	if (s->remote)
		shoal_http_lines_fini(&s->lines);
	free(s);
}

static void sub_end(struct shoal_manager_logsub *s, const struct shoal_err *err)
{
	shoal_manager_log_end_cb cb = s->on_end;
	void *ctx = s->ctx;

	sub_free(s);
	cb(ctx, err);
}

/* The node is done (it said so, or its session is gone). */
static void node_done(struct shoal_manager_logsub *s, const char *node_id)
{
	json_object_del(s->pending, node_id);
	if (json_object_size(s->pending) == 0 && !s->follow)
		sub_end(s, NULL);
}

void shoal_manager__logs_node_gone(struct shoal_manager *m, const char *node_id)
{
	struct shoal_list *p, *tmp;

	shoal_list_foreach_safe(p, tmp, &m->logsubs) {
		struct shoal_manager_logsub *s =
			shoal_list_entry(p, struct shoal_manager_logsub, link);

		if (!s->remote && json_object_get(s->pending, node_id) != NULL)
			node_done(s, node_id);
	}
}

/* The tasks the subscription reads, grouped by node: {node ID: [task ID...]}. Tasks that
 * never reached a node have no logs. */
static json_t *tasks_by_node(struct shoal_manager *m, const char *service_id, const char *task_id)
{
	json_t *out = json_object();
	struct shoal_store_obj **l = NULL, *one;
	size_t n = 0, i;

	if (task_id != NULL) {
		one = shoal_store_get(m->store, SHOAL_STORE_TASK, task_id);
		l = shoal_calloc(2, sizeof(*l));
		l[0] = one;
		n = one != NULL ? 1 : 0;
	} else {
		l = shoal_store_tasks_by_service(m->store, service_id, &n);
	}
	for (i = 0; i < n; i++) {
		const char *node = json_string_value(json_object_get(l[i]->json, "NodeID"));
		const char *st = json_string_value(
			json_object_get(json_object_get(l[i]->json, "Status"), "State"));
		json_t *a;

		if (node == NULL || node[0] == '\0' ||
		    shoal_manager__task_state_rank(st) < (int)SHOAL_TASK_ASSIGNED)
			continue;
		a = json_object_get(out, node);
		if (a == NULL) {
			a = json_array();
			json_object_set_new(out, node, a);
		}
		json_array_append_new(a, json_string(l[i]->id));
	}
	free(l);
	return out;
}

/* A following subscription sees the service's tasks that run later, as docker service
 * logs -f does: their nodes are asked for them as soon as they run. */
static void task_changed(const struct shoal_store_event *ev, void *data)
{
	struct shoal_manager_logsub *s = data;
	const json_t *t = ev->new;
	const char *node = json_string_value(json_object_get(t, "NodeID"));
	const char *st = json_string_value(json_object_get(json_object_get(t, "Status"), "State"));
	json_t *msg;

	if (t == NULL || node == NULL || node[0] == '\0' ||
	    json_object_get(s->tasks, ev->id) != NULL ||
	    strcmp(json_string_value(json_object_get(t, "ServiceID")) ?: "", s->service_id) != 0 ||
	    shoal_manager__task_state_rank(st) < (int)SHOAL_TASK_RUNNING)
		return;
	json_object_set_new(s->tasks, ev->id, json_true());
	msg = json_pack("{s:s, s:s, s:[s], s:b, s:I, s:I}", "Type", "logs", "ID", s->id, "Tasks",
			ev->id, "Follow", 1, "Tail", (json_int_t)-1, "Since", (json_int_t)0);
	if (shoal_manager__dispatcher_send(s->m, node, msg) == 0)
		json_object_set_new(s->pending, node, json_true());
}

static int local_subscribe(struct shoal_manager *m, const struct shoal_manager_logs_req *req,
			   struct shoal_manager_logsub *s)
{
	json_t *by_node = tasks_by_node(m, req->service_id, req->task_id), *ids, *id;
	const char *node;
	size_t i;

	s->pending = json_object();
	s->tasks = json_object();
	json_object_foreach(by_node, node, ids) {
		json_array_foreach(ids, i, id)
			json_object_set(s->tasks, json_string_value(id), json_true());
	}
	if (req->follow && req->service_id != NULL) {
		s->service_id = shoal_strdup(req->service_id);
		s->watch = shoal_store_watch_add(m->store, SHOAL_STORE_TABLE_BIT(SHOAL_STORE_TASK),
						 SHOAL_STORE_KIND_BIT(SHOAL_STORE_CREATE) |
							 SHOAL_STORE_KIND_BIT(SHOAL_STORE_UPDATE),
						 task_changed, s);
	}
	json_object_foreach(by_node, node, ids) {
		json_t *msg = json_pack("{s:s, s:s, s:O, s:b, s:I, s:I}", "Type", "logs", "ID",
					s->id, "Tasks", ids, "Follow", req->follow, "Tail",
					(json_int_t)req->tail, "Since", (json_int_t)req->since_ns);

		/* a node without a session (down) has nothing to say now */
		if (shoal_manager__dispatcher_send(m, node, msg) == 0)
			json_object_set_new(s->pending, node, json_true());
	}
	json_decref(by_node);
	shoal_list_add_tail(&m->logsubs, &s->link);
	return 0;
}

/* POST /swarm/logs/publish {ID, NodeID, Messages: [{TaskID, ServiceID, Stream, Time, Data}],
 * Close}: lines from an agent. */
void shoal_manager__route_logs_publish(struct shoal_http_req *req)
{
	struct shoal_manager *m = req->ctx;
	json_t *body = json_loadb(req->body.data, req->body.len, 0, NULL), *msg;
	const char *id = json_string_value(json_object_get(body, "ID"));
	const char *node = json_string_value(json_object_get(body, "NodeID"));
	struct shoal_manager_logsub *s = id != NULL ? sub_find(m, id) : NULL;
	struct shoal_buf data;
	size_t i;

	if (s == NULL || node == NULL || s->remote) {
		/* the reader went away: the agent stops its readers */
		shoal_http_reply_message(req, 404, "no such log subscription");
		json_decref(body);
		return;
	}
	shoal_buf_init(&data);
	json_array_foreach(json_object_get(body, "Messages"), i, msg) {
		struct shoal_manager_log_msg lm;
		const char *b64 = json_string_value(json_object_get(msg, "Data"));

		data.len = 0;
		if (b64 == NULL || shoal_buf_add_unbase64(&data, b64, strlen(b64)) < 0)
			continue;
		memset(&lm, 0, sizeof(lm));
		lm.node_id = node;
		lm.task_id = json_string_value(json_object_get(msg, "TaskID"));
		lm.service_id = json_string_value(json_object_get(msg, "ServiceID"));
		lm.fd = (int)json_integer_value(json_object_get(msg, "Stream"));
		lm.time_ns = json_integer_value(json_object_get(msg, "Time"));
		lm.data = data.data ? data.data : "";
		lm.len = data.len;
		if (lm.task_id != NULL)
			s->on_log(s->ctx, &lm);
	}
	shoal_buf_fini(&data);
	shoal_http_reply(req, 200, "application/json", NULL, "{}\n", 3);
	if (json_is_true(json_object_get(body, "Close")))
		node_done(s, node);
	json_decref(body);
}

/* ---- a follower's subscription, on the leader ---- */

static int remote_line(const char *line, size_t len, void *ctx, struct shoal_err *err)
{
	struct shoal_manager_logsub *s = ctx;
	json_t *msg = json_loadb(line, len, 0, NULL);
	const char *b64 = json_string_value(json_object_get(msg, "Data"));
	struct shoal_manager_log_msg lm;
	struct shoal_buf data;

	(void)err;
	shoal_buf_init(&data);
	if (b64 != NULL && shoal_buf_add_unbase64(&data, b64, strlen(b64)) == 0) {
		memset(&lm, 0, sizeof(lm));
		lm.node_id = json_string_value(json_object_get(msg, "NodeID"));
		lm.task_id = json_string_value(json_object_get(msg, "TaskID"));
		lm.service_id = json_string_value(json_object_get(msg, "ServiceID"));
		lm.fd = (int)json_integer_value(json_object_get(msg, "Stream"));
		lm.time_ns = json_integer_value(json_object_get(msg, "Time"));
		lm.data = data.data ? data.data : "";
		lm.len = data.len;
		if (lm.task_id != NULL && lm.node_id != NULL)
			s->on_log(s->ctx, &lm);
	}
	shoal_buf_fini(&data);
	json_decref(msg);
	return 0;
}

static void remote_data(struct shoal_http_call *c, const char *data, size_t len, void *ctx)
{
	struct shoal_manager_logsub *s = ctx;
	struct shoal_err err;

	if (shoal_http_call_status(c) == 200 &&
	    shoal_http_lines_feed(&s->lines, data, len, &err) < 0)
		shoal_log_warn("bad log relay from the leader", "error=%s", shoal_log_q(err.msg));
}

static void remote_done(struct shoal_http_call *c, int status, const char *body, size_t len,
			const struct shoal_err *terr, void *ctx)
{
	struct shoal_manager_logsub *s = ctx;
	struct shoal_err err;

	(void)c;
	(void)body;
	(void)len;
	s->call = NULL;
	if (terr != NULL) {
		sub_end(s, terr);
		return;
	}
	if (status != 200) {
		shoal_errorf(&err, status, "%s", SHOAL_RAFT_NO_LEADER_MSG);
		sub_end(s, &err);
		return;
	}
	if (shoal_http_lines_end(&s->lines, &err) < 0)
		shoal_log_warn("bad log relay from the leader", "error=%s", shoal_log_q(err.msg));
	sub_end(s, NULL);
}

static int remote_subscribe(struct shoal_manager *m, const struct shoal_manager_logs_req *req,
			    struct shoal_manager_logsub *s, struct shoal_err *err)
{
	struct shoal_http_call_opts o = { 0 };
	const char *leader = NULL;
	uint64_t lid = 0;
	char *url;

	if (m->raft != NULL)
		shoal_raft_leader(m->raft, &lid, &leader);
	if (leader == NULL)
		return shoal_errorf(err, 503, "%s", SHOAL_RAFT_NO_LEADER_MSG);
	url = shoal_asprintf("http://%s/swarm/logs?%s=%s&follow=%d&tail=%ld&since=%lld", leader,
			     req->task_id ? "task" : "service",
			     req->task_id ? req->task_id : req->service_id, req->follow ? 1 : 0,
			     req->tail, (long long)req->since_ns);
	s->remote = true;
	shoal_http_lines_init(&s->lines, MAX_LINE, remote_line, s);
	o.url = url;
	o.no_proxy = true;
	o.connect_timeout_ms = 5000;
	o.on_data = remote_data;
	o.on_done = remote_done;
	o.ctx = s;
	s->call = shoal_http_call_start(shoal_manager__client(m), &o, err);
	free(url);
	if (s->call == NULL) {
		shoal_http_lines_fini(&s->lines);
		return -1;
	}
	shoal_list_add_tail(&m->logsubs, &s->link);
	return 0;
}

/* GET /swarm/logs?service=|task=&follow=&tail=&since=: a follower's subscription. */
struct relay {
	struct shoal_http_req *req;
	struct shoal_manager_logsub *sub;
};

static void relay_log(void *ctx, const struct shoal_manager_log_msg *lm)
{
	struct relay *r = ctx;
	struct shoal_buf b;
	json_t *msg;
	char *s;

	shoal_buf_init(&b);
	shoal_buf_add_base64(&b, lm->data, lm->len);
	msg = json_pack("{s:s, s:s, s:s?, s:i, s:I, s:s}", "NodeID", lm->node_id, "TaskID",
			lm->task_id, "ServiceID", lm->service_id, "Stream", lm->fd, "Time",
			(json_int_t)lm->time_ns, "Data", b.data ? b.data : "");
	s = json_dumps(msg, JSON_COMPACT);
	shoal_http_stream_write(r->req, s, strlen(s));
	shoal_http_stream_write(r->req, "\n", 1);
	free(s);
	json_decref(msg);
	shoal_buf_fini(&b);
}

static void relay_end(void *ctx, const struct shoal_err *err)
{
	struct relay *r = ctx;

	(void)err;
	r->req->on_close = NULL;
	shoal_http_stream_end(r->req);
	free(r);
}

static void relay_gone(struct shoal_http_req *req)
{
	struct relay *r = req->data;

	req->on_close = NULL;
	shoal_manager_logs_cancel(r->sub);
	shoal_http_stream_end(req);
	free(r);
}

void shoal_manager__route_logs(struct shoal_http_req *req)
{
	struct shoal_manager *m = req->ctx;
	struct shoal_manager_logs_req lr;
	struct shoal_err err;
	struct relay *r;
	const char *tail = shoal_http_query(req, "tail"), *since = shoal_http_query(req, "since");

	if (!shoal_manager__leading(m)) {
		shoal_manager__reply_not_leader(m, req);
		return;
	}
	memset(&lr, 0, sizeof(lr));
	lr.service_id = shoal_http_query(req, "service");
	lr.task_id = shoal_http_query(req, "task");
	lr.follow = shoal_http_query_bool(req, "follow");
	lr.tail = tail != NULL ? atol(tail) : -1;
	lr.since_ns = since != NULL ? atoll(since) : 0;
	r = shoal_calloc(1, sizeof(*r));
	r->req = req;
	shoal_http_stream_begin(req, 200, "application/json", NULL);
	if (shoal_manager_logs(m, &lr, relay_log, relay_end, r, &r->sub, &err) < 0) {
		shoal_http_stream_end(req);
		free(r);
		return;
	}
	req->data = r;
	req->on_close = relay_gone;
}

/* ---- the contract ---- */

int shoal_manager_logs(struct shoal_manager *m, const struct shoal_manager_logs_req *req,
		       shoal_manager_log_cb on_log, shoal_manager_log_end_cb on_end, void *ctx,
		       struct shoal_manager_logsub **out, struct shoal_err *err)
{
	struct shoal_manager_logsub *s;

	if (shoal_manager_check(m, err) < 0)
		return -1;
	s = shoal_calloc(1, sizeof(*s));
	s->m = m;
	shoal_store_new_id(s->id);
	s->on_log = on_log;
	s->on_end = on_end;
	s->ctx = ctx;
	s->follow = req->follow;
	if (m->raft != NULL && !shoal_raft_is_leader(m->raft)) {
		if (remote_subscribe(m, req, s, err) < 0) {
			free(s);
			return -1;
		}
		*out = s;
		return 0;
	}
	local_subscribe(m, req, s);
	*out = s;
	if (json_object_size(s->pending) == 0 && !s->follow) {
		/* nothing to read: end on a later turn, as any stream does */
		s->follow = false;
		shoal_manager__logs_kick(m);
	}
	return 0;
}

void shoal_manager_logs_cancel(struct shoal_manager_logsub *s)
{
	struct shoal_manager *m = s->m;
	const char *node;
	json_t *v;

	if (s->remote) {
		if (s->call != NULL)
			shoal_http_call_cancel(s->call);
		sub_free(s);
		return;
	}
	json_object_foreach(s->pending, node, v) {
		(void)v;
		shoal_manager__dispatcher_send(
			m, node, json_pack("{s:s, s:s}", "Type", "logs-cancel", "ID", s->id));
	}
	sub_free(s);
}

/* Ends the subscriptions with nothing left to wait for (from the loop). */
static void kick(uv_idle_t *idle)
{
	struct shoal_manager *m = container_of(idle, struct shoal_manager, logs_idle);
	struct shoal_list *p, *tmp;

	uv_idle_stop(idle);
	shoal_list_foreach_safe(p, tmp, &m->logsubs) {
		struct shoal_manager_logsub *s =
			shoal_list_entry(p, struct shoal_manager_logsub, link);

		if (!s->remote && !s->follow && json_object_size(s->pending) == 0)
			sub_end(s, NULL);
	}
}

void shoal_manager__logs_kick(struct shoal_manager *m)
{
	uv_idle_start(&m->logs_idle, kick);
}

void shoal_manager__logs_init(struct shoal_manager *m)
{
	shoal_list_init(&m->logsubs);
	uv_idle_init(m->loop, &m->logs_idle);
}

void shoal_manager__logs_fini(struct shoal_manager *m)
{
	struct shoal_err err;

	shoal_errorf(&err, 503, "%s", SHOAL_MANAGER_NOT_MEMBER_MSG);
	while (!shoal_list_empty(&m->logsubs)) {
		struct shoal_manager_logsub *s =
			shoal_list_entry(m->logsubs.next, struct shoal_manager_logsub, link);

		if (s->remote && s->call != NULL) {
			shoal_http_call_cancel(s->call);
			s->call = NULL;
		}
		sub_end(s, &err);
	}
}
