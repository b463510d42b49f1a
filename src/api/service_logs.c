/* GET /services/{id}/logs and GET /tasks/{id}/logs: the lines of a service's (or a task's)
 * containers, gathered from every node by the manager's log broker, written as dockerd's
 * write_log_stream does: stdcopy frames unless the service has a TTY, each line behind its
 * time (timestamps) and the swarm context as "k=v,..." (details), which is what
 * `docker service logs` parses to print "vote.1.<id>@node1 | ...". */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/mem.h"
#include "manager/manager.h"

struct slogs {
	struct shoal_http_req *req;
	struct shoal_manager_logsub *sub;
	bool tty, timestamps, details, out, err;
};

static void slogs_line(void *ctx, const struct shoal_manager_log_msg *lm)
{
	struct slogs *l = ctx;
	struct shoal_buf line, framed;
	char ts[64];

	if ((lm->fd == 1 && !l->out) || (lm->fd == 2 && !l->err))
		return;
	shoal_buf_init(&line);
	if (l->timestamps) {
		/* jsonmessage.RFC3339NanoFixed: always nine digits */
		shoal_time_format_rfc3339nano(lm->time_ns, ts, sizeof(ts));
		shoal_buf_addf(&line, "%s ", ts);
	}
	if (l->details)
		shoal_buf_addf(&line,
			       "com.docker.swarm.node.id=%s,com.docker.swarm.service.id=%s,"
			       "com.docker.swarm.task.id=%s ",
			       lm->node_id, lm->service_id ? lm->service_id : "", lm->task_id);
	shoal_buf_add(&line, lm->data, lm->len);
	if (l->tty) {
		shoal_http_stream_write(l->req, line.data, line.len);
	} else {
		shoal_buf_init(&framed);
		shoal_api__frame(&framed, lm->fd == 2 ? 2 : 1, line.data, line.len);
		shoal_http_stream_write(l->req, framed.data, framed.len);
		shoal_buf_fini(&framed);
	}
	shoal_buf_fini(&line);
}

static void slogs_end(void *ctx, const struct shoal_err *err)
{
	struct slogs *l = ctx;

	(void)err; /* the head is sent: the stream just ends, as dockerd's does */
	l->req->on_close = NULL;
	shoal_http_stream_end(l->req);
	free(l);
}

static void slogs_gone(struct shoal_http_req *req)
{
	struct slogs *l = req->data;

	req->on_close = NULL;
	shoal_manager_logs_cancel(l->sub);
	shoal_http_stream_end(req);
	free(l);
}

static void logs_of(struct shoal_http_req *req, enum shoal_store_table table)
{
	struct shoal_api *api = req->ctx;
	struct shoal_manager *m = api->cfg.manager;
	struct shoal_manager_logs_req lr;
	struct shoal_store_obj *o, *svc;
	const char *tail = shoal_http_query(req, "tail"), *since = shoal_http_query(req, "since");
	struct shoal_err err;
	struct slogs *l;
	int64_t since_ns = 0;

	if (shoal_manager_check(m, &err) < 0 ||
	    shoal_store_find(shoal_manager_store(m), table, shoal_http_param(req, "id"), &o, &err) <
		    0) {
		shoal_http_reply_err(req, &err);
		return;
	}
	l = shoal_calloc(1, sizeof(*l));
	l->req = req;
	l->out = shoal_http_query_bool(req, "stdout");
	l->err = shoal_http_query_bool(req, "stderr");
	l->timestamps = shoal_http_query_bool(req, "timestamps");
	l->details = shoal_http_query_bool(req, "details");
	if (!l->out && !l->err) {
		free(l);
		shoal_http_reply_message(req, 400,
					 "Bad parameters: you must choose at least one stream");
		return;
	}
	svc = table == SHOAL_STORE_SERVICE ?
		      o :
		      shoal_store_get(shoal_manager_store(m), SHOAL_STORE_SERVICE,
				      json_string_value(json_object_get(o->json, "ServiceID")));
	l->tty = svc != NULL &&
		 json_is_true(json_object_get(
			 json_object_get(json_object_get(json_object_get(svc->json, "Spec"),
							 "TaskTemplate"),
					 "ContainerSpec"),
			 "TTY"));
	if (since != NULL && since[0] != '\0' && shoal_time_parse(since, &since_ns) < 0)
		since_ns = 0;
	memset(&lr, 0, sizeof(lr));
	lr.service_id = table == SHOAL_STORE_SERVICE ? o->id : NULL;
	lr.task_id = table == SHOAL_STORE_TASK ? o->id : NULL;
	lr.follow = shoal_http_query_bool(req, "follow");
	lr.tail = tail == NULL || tail[0] == '\0' || strcmp(tail, "all") == 0 ? -1 : atol(tail);
	lr.since_ns = since_ns;
	if (shoal_manager_logs(m, &lr, slogs_line, slogs_end, l, &l->sub, &err) < 0) {
		free(l);
		shoal_http_reply_err(req, &err);
		return;
	}
	req->data = l;
	req->on_close = slogs_gone;
	shoal_http_stream_begin(req, 200,
				l->tty ? "application/vnd.docker.raw-stream" :
					 "application/vnd.docker.multiplexed-stream",
				NULL);
}

void shoal_api_services_logs(struct shoal_http_req *req)
{
	logs_of(req, SHOAL_STORE_SERVICE);
}

void shoal_api_tasks_logs(struct shoal_http_req *req)
{
	logs_of(req, SHOAL_STORE_TASK);
}
