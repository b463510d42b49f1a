/* The node's agent, as the swarm membership says: while this node is in a swarm, a session
 * with the managers feeds the task executor, and the executor's reports go back up the
 * session. Started, moved to new managers and stopped from the manager's membership
 * callback. A node whose object says it should be a manager (or a worker) while it is the
 * other is told so (promotion and demotion go through the leader's store). */
#include "daemon/daemon.h"

#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/session.h"
#include "api/api.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "manager/manager.h"
#include "net/net.h"

#define SHOAL_LOG_MODULE "daemon"

static void on_report(void *ctx, const char *task_id, json_t *status)
{
	struct shoal_daemon *d = ctx;

	if (d->session != NULL)
		shoal_agent_session_report(d->session, task_id, status);
	else
		json_decref(status);
}

static void on_assignments(void *ctx, const json_t *tasks, const json_t *node)
{
	struct shoal_daemon *d = ctx;

	if (d->exec != NULL && json_is_array(tasks))
		shoal_agent_exec_assign(d->exec, tasks);
	if (node != NULL && d->manager != NULL)
		shoal_manager_node_changed(d->manager, node);
}

/* The routing mesh's view of the cluster: the node's part of it follows. */
static void on_network(void *ctx, const json_t *msg)
{
	struct shoal_daemon *d = ctx;
	struct shoal_err err;

	if (d->net != NULL && d->agent_node != NULL &&
	    shoal_net_ingress_update(d->net, d->agent_node, msg, &err) < 0)
		shoal_log_error("bad routing mesh message", "error=%s", shoal_log_q(err.msg));
}

static void on_managers(void *ctx, const json_t *managers)
{
	struct shoal_daemon *d = ctx;

	if (d->manager != NULL)
		shoal_manager_remember_managers(d->manager, managers);
}

/* ---- logs: the node's side of a log subscription ---- */

struct alog_reader {
	struct alog *l;
	struct shoal_api_logstream *ls;
	char *task_id, *service_id;
};

struct alog {
	struct shoal_list link;
	struct shoal_daemon *d;
	char *id;
	struct alog_reader *readers;
	size_t nreaders, open;
	json_t *batch; /* messages not sent yet */
	bool inflight; /* a publish under way */
	bool closed;   /* Close sent */
};

static void alog_free(struct alog *l)
{
	size_t i;

	shoal_list_del(&l->link);
	for (i = 0; i < l->nreaders; i++) {
		if (l->readers[i].ls != NULL)
			shoal_api_logstream_close(l->readers[i].ls);
		free(l->readers[i].task_id);
		free(l->readers[i].service_id);
	}
	free(l->readers);
	json_decref(l->batch);
	free(l->id);
	free(l);
}

static void alog_flush(struct alog *l);

static void alog_published(void *ctx, int status, const struct shoal_err *err)
{
	struct alog *l = ctx;

	l->inflight = false;
	if (err != NULL || status != 200 || l->closed) {
		/* the reader is gone (404) or the manager is: stop reading */
		if (err != NULL || status != 200)
			shoal_log_info("log subscription over", "id=%s status=%d", l->id, status);
		alog_free(l);
		return;
	}
	alog_flush(l);
}

static void alog_flush(struct alog *l)
{
	bool last = l->open == 0;
	json_t *body;

	if (l->inflight || (json_array_size(l->batch) == 0 && !last))
		return;
	body = json_pack("{s:s, s:s, s:o, s:b}", "ID", l->id, "NodeID", l->d->agent_node,
			 "Messages", l->batch, "Close", last);
	l->batch = json_array();
	l->inflight = true;
	l->closed = last;
	if (shoal_agent_session_post(l->d->session, "/swarm/logs/publish", body, alog_published,
				     l) < 0) {
		l->inflight = false;
		alog_free(l);
	}
}

static void alog_out(void *ctx, int fd, const char *data, size_t len)
{
	struct alog_reader *r = ctx;
	const char *sp = memchr(data, ' ', len);
	char ts[64];
	int64_t ns = 0;
	struct shoal_buf b;

	/* the stream is asked with timestamps: "<RFC 3339> <line>" */
	if (sp != NULL && (size_t)(sp - data) < sizeof(ts)) {
		memcpy(ts, data, (size_t)(sp - data));
		ts[sp - data] = '\0';
		if (shoal_time_parse(ts, &ns) == 0) {
			len -= (size_t)(sp + 1 - data);
			data = sp + 1;
		}
	}
	shoal_buf_init(&b);
	shoal_buf_add_base64(&b, data, len);
	json_array_append_new(r->l->batch,
			      json_pack("{s:s, s:s?, s:i, s:I, s:s}", "TaskID", r->task_id,
					"ServiceID", r->service_id, "Stream", fd, "Time",
					(json_int_t)ns, "Data", b.data ? b.data : ""));
	shoal_buf_fini(&b);
	alog_flush(r->l);
}

static void alog_end(void *ctx)
{
	struct alog_reader *r = ctx;

	r->ls = NULL;
	r->l->open--;
	alog_flush(r->l);
}

static struct alog *alog_find(struct shoal_daemon *d, const char *id)
{
	struct shoal_list *p;

	shoal_list_foreach(p, &d->alogs) {
		struct alog *l = shoal_list_entry(p, struct alog, link);

		if (strcmp(l->id, id) == 0)
			return l;
	}
	return NULL;
}

static void on_logs(void *ctx, const json_t *msg)
{
	struct shoal_daemon *d = ctx;
	const char *type = json_string_value(json_object_get(msg, "Type"));
	const char *id = json_string_value(json_object_get(msg, "ID"));
	const json_t *tasks = json_object_get(msg, "Tasks"), *t;
	struct shoal_api_logstream_opts o;
	struct alog *l;
	size_t i;

	if (id == NULL)
		return;
	if (strcmp(type, "logs-cancel") == 0) {
		l = alog_find(d, id);
		if (l != NULL && !l->inflight)
			alog_free(l);
		else if (l != NULL)
			l->closed = true; /* freed when its publish comes back */
		return;
	}
	memset(&o, 0, sizeof(o));
	o.stdout_ = o.stderr_ = true;
	o.timestamps = true;
	o.follow = json_is_true(json_object_get(msg, "Follow"));
	o.tail = (long)json_integer_value(json_object_get(msg, "Tail"));
	if (json_object_get(msg, "Tail") == NULL)
		o.tail = -1;
	o.since_ns = json_integer_value(json_object_get(msg, "Since"));
	l = shoal_calloc(1, sizeof(*l));
	l->d = d;
	l->id = shoal_strdup(id);
	l->batch = json_array();
	l->readers = shoal_calloc(json_array_size(tasks) + 1, sizeof(*l->readers));
	shoal_list_add_tail(&d->alogs, &l->link);
	json_array_foreach(tasks, i, t) {
		struct shoal_container *c =
			shoal_agent_container_of_task(&d->engine, json_string_value(t));
		struct alog_reader *r = &l->readers[l->nreaders];
		struct shoal_err err;

		if (c == NULL)
			continue; /* gone: nothing to read */
		r->l = l;
		r->task_id = shoal_strdup(json_string_value(t));
		r->service_id = shoal_strdup(
			json_string_value(json_object_get(json_object_get(c->config, "Labels"), "com.docker.swarm.service.id")) ?:
				"");
		l->nreaders++;
		l->open++;
		if (shoal_api_logstream_open(&d->loop, c, &o, alog_out, alog_end, r, &r->ls, &err) <
		    0) {
			l->open--;
			shoal_log_warn("cannot read task logs", "task=%s error=%s", r->task_id,
				       shoal_log_q(err.msg));
		}
	}
	alog_flush(l);
}

static void agent_stop(struct shoal_daemon *d)
{
	while (d->alogs.next != NULL && !shoal_list_empty(&d->alogs))
		alog_free(shoal_list_entry(d->alogs.next, struct alog, link));
	if (d->session != NULL) {
		shoal_agent_session_close(d->session, NULL, NULL);
		d->session = NULL;
	}
	if (d->exec != NULL) {
		shoal_agent_exec_close(d->exec, NULL, NULL);
		d->exec = NULL;
	}
	free(d->agent_node);
	d->agent_node = NULL;
	/* out of the swarm (or stopping): the mesh goes, tasks' eth1 with it */
	shoal_net_ingress_leave(d->net);
}

static void left_container_removed(void *ctx, struct shoal_container *c,
				   const struct shoal_err *err)
{
	(void)ctx;
	(void)c;
	if (err != NULL)
		shoal_log_warn("cannot remove a task container after leaving the swarm", "error=%s",
			       shoal_log_q(err->msg));
}

/* A node that leaves the swarm removes its tasks' containers, as dockerd's Leave does. */
static void remove_task_containers(struct shoal_daemon *d, const char *node_id)
{
	struct shoal_list *pos, *tmp;
	struct shoal_err err;

	shoal_list_foreach_safe(pos, tmp, &d->engine.containers) {
		struct shoal_container *c = shoal_list_entry(pos, struct shoal_container, link);
		const char *owner = json_string_value(json_object_get(
			json_object_get(c->config, "Labels"), "com.docker.swarm.node.id"));

		if (owner == NULL || strcmp(owner, node_id) != 0 || c->removing)
			continue;
		if (shoal_engine_container_remove(c, true, false, left_container_removed, NULL,
						  &err) < 0)
			shoal_log_warn("cannot remove a task container after leaving the swarm",
				       "container=%s error=%s", c->id, shoal_log_q(err.msg));
	}
}

void shoal_daemon__agent_member(void *ctx, struct shoal_manager *m)
{
	struct shoal_daemon *d = ctx;
	struct shoal_manager_member mem;
	struct shoal_agent_session_cbs cbs;

	if (d->stopping)
		return;
	shoal_manager_member(m, &mem);
	if (mem.node_id == NULL) {
		char *left = d->agent_node != NULL ? shoal_strdup(d->agent_node) : NULL;

		agent_stop(d);
		if (left != NULL) {
			shoal_log_info("agent stopped", "node=%s", left);
			remove_task_containers(d, left);
			free(left);
		}
		return;
	}
	if (d->agent_node != NULL && strcmp(d->agent_node, mem.node_id) == 0) {
		shoal_agent_session_set_managers(d->session, mem.managers);
		return;
	}
	agent_stop(d);
	shoal_list_init(&d->alogs);
	if (d->agent_client == NULL)
		d->agent_client = shoal_http_client_new(&d->loop);
	d->agent_node = shoal_strdup(mem.node_id);
	d->exec = shoal_agent_exec_new(&d->loop, &d->engine, mem.node_id, on_report, d);
	shoal_agent_exec_set_registry(d->exec, d->registry);
	memset(&cbs, 0, sizeof(cbs));
	cbs.assignments = on_assignments;
	cbs.managers = on_managers;
	cbs.logs = on_logs;
	cbs.network = on_network;
	cbs.ctx = d;
	d->session = shoal_agent_session_new(&d->loop, d->agent_client, mem.node_id, mem.addr,
					     mem.managers, &cbs);
	shoal_agent_session_connect(d->session);
	shoal_log_info("agent started", "node=%s", mem.node_id);
}

void shoal_daemon__agent_container_event(struct shoal_daemon *d, const char *action, const char *id)
{
	if (d->exec != NULL)
		shoal_agent_exec_container_event(d->exec, action, id);
}

void shoal_daemon__agent_close(struct shoal_daemon *d)
{
	agent_stop(d);
	if (d->agent_client != NULL) {
		shoal_http_client_close(d->agent_client, NULL, NULL);
		d->agent_client = NULL;
	}
}
