/* The agent's session with the dispatcher: one long GET on a manager's cluster port that
 * streams this node's assignments as JSON lines, heartbeats at the period the dispatcher
 * asks for, and task status reports sent in batches. When the manager goes away or stops
 * leading, the session moves on to the next manager it knows of (the leader named in a
 * refusal first), so a worker whose manager dies finds another by itself. */
#include "agent/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "agent"

#define CONNECT_TIMEOUT_MS 3000
#define CALL_TIMEOUT_MS	   10000
#define MAX_LINE	   (16 * 1024 * 1024)
#define BACKOFF_MIN_MS	   100
#define BACKOFF_MAX_MS	   2000
/* where a manager that does not lead says the leader is (src/manager/cluster.c) */
#define SHOAL_LEADER_HEADER "Shoal-Leader"

struct shoal_agent_session {
	uv_loop_t *loop;
	struct shoal_http_client *client;
	struct shoal_agent_session_cbs cbs;
	char *node_id, *addr;
	json_t *managers; /* [{NodeID, Addr}] */
	size_t next;	  /* index of the manager to try next */
	char *current;	  /* the manager of the open session */
	char *prefer;	  /* a leader named in a refusal: tried first */

	struct shoal_http_call *stream;
	struct shoal_http_lines lines;
	char session_id[64];
	uint64_t period_ms;
	uv_timer_t beat; /* heartbeats, and the reconnect backoff when there is no session */
	unsigned backoff_ms;
	struct shoal_http_call *hb;

	json_t *pending;  /* TaskID -> Status not yet sent */
	json_t *inflight; /* the batch being sent */
	struct shoal_http_call *st;

	struct shoal_list posts; /* shoal_agent_session_post calls in flight */

	bool closing;
	void (*close_cb)(void *ctx);
	void *close_ctx;
	int nclosing;
};

static void reconnect_later(struct shoal_agent_session *s);
static void flush_reports(struct shoal_agent_session *s);

static struct shoal_http_call *post(struct shoal_agent_session *s, const char *path, json_t *body,
				    shoal_http_call_done_cb done, void *ctx)
{
	struct shoal_http_call *c;
	struct shoal_err err;
	char *url = shoal_asprintf("http://%s%s", s->current, path);
	char *data = json_dumps(body, JSON_COMPACT);

	c = shoal_http_call_peer(s->client, url, data, strlen(data), CONNECT_TIMEOUT_MS,
				 CALL_TIMEOUT_MS, done, ctx, &err);
	if (c == NULL)
		shoal_log_warn("agent call failed", "url=%s error=%s", url, shoal_log_q(err.msg));
	free(url);
	free(data);
	json_decref(body);
	return c;
}

/* ---- the session stream ---- */

static void end_session(struct shoal_agent_session *s)
{
	if (s->stream != NULL) {
		shoal_http_call_cancel(s->stream);
		s->stream = NULL;
	}
	if (s->hb != NULL) {
		shoal_http_call_cancel(s->hb);
		s->hb = NULL;
	}
	s->session_id[0] = '\0';
	uv_timer_stop(&s->beat);
	shoal_http_lines_fini(&s->lines);
}

static void set_managers(struct shoal_agent_session *s, json_t *managers)
{
	if (!json_is_array(managers) || json_array_size(managers) == 0)
		return;
	json_decref(s->managers);
	s->managers = json_incref(managers);
	if (s->cbs.managers != NULL)
		s->cbs.managers(s->cbs.ctx, managers);
}

static void beat_done(struct shoal_http_call *c, int status, const char *body, size_t len,
		      const struct shoal_err *err, void *ctx)
{
	struct shoal_agent_session *s = ctx;
	json_t *ans;
	json_int_t period;

	(void)c;
	s->hb = NULL;
	if (err != NULL || status != 200) {
		shoal_log_warn("heartbeat refused", "manager=%s status=%d", s->current, status);
		end_session(s);
		reconnect_later(s);
		return;
	}
	ans = json_loadb(body, len, 0, NULL);
	period = json_integer_value(json_object_get(ans, "Period"));
	json_decref(ans);
	if (period > 0)
		s->period_ms = (uint64_t)(period / 1000000);
}

static void beat(uv_timer_t *t)
{
	struct shoal_agent_session *s = t->data;

	if (s->session_id[0] == '\0') {
		/* no session: this is the reconnect backoff */
		shoal_agent_session_connect(s);
		return;
	}
	if (s->hb == NULL)
		s->hb = post(
			s, "/swarm/heartbeat",
			json_pack("{s:s, s:s}", "NodeID", s->node_id, "SessionID", s->session_id),
			beat_done, s);
	uv_timer_start(&s->beat, beat, s->period_ms, 0);
}

static int on_line(const char *line, size_t len, void *ctx, struct shoal_err *err)
{
	struct shoal_agent_session *s = ctx;
	json_t *msg = json_loadb(line, len, 0, NULL);
	const char *type = json_string_value(json_object_get(msg, "Type"));

	(void)err;
	if (type != NULL && strcmp(type, "session") == 0) {
		json_int_t p = json_integer_value(json_object_get(msg, "HeartbeatPeriod"));

		snprintf(s->session_id, sizeof(s->session_id), "%s",
			 json_string_value(json_object_get(msg, "SessionID")) ?: "");
		s->period_ms = p > 0 ? (uint64_t)(p / 1000000) : 5000;
		s->backoff_ms = 0;
		shoal_log_info("agent session open", "manager=%s", s->current);
		uv_timer_start(&s->beat, beat, s->period_ms, 0);
		/* reports left over from the last session go to this one */
		flush_reports(s);
	} else if (type != NULL &&
		   (strcmp(type, "logs") == 0 || strcmp(type, "logs-cancel") == 0)) {
		if (s->cbs.logs != NULL)
			s->cbs.logs(s->cbs.ctx, msg);
	} else if (type != NULL && strcmp(type, "network") == 0) {
		if (s->cbs.network != NULL)
			s->cbs.network(s->cbs.ctx, msg);
	} else if (type != NULL && strcmp(type, "assignments") == 0) {
		set_managers(s, json_object_get(msg, "Managers"));
		if (s->cbs.assignments != NULL)
			s->cbs.assignments(s->cbs.ctx, json_object_get(msg, "Tasks"),
					   json_object_get(msg, "Node"));
	}
	json_decref(msg);
	return 0;
}

static void stream_head(struct shoal_http_call *c, int status, void *ctx)
{
	(void)c;
	(void)status;
	(void)ctx;
}

static void stream_data(struct shoal_http_call *c, const char *data, size_t len, void *ctx)
{
	struct shoal_agent_session *s = ctx;
	struct shoal_err err;

	if (shoal_http_call_status(c) != 200)
		return; /* an error answer: read whole in stream_done */
	if (shoal_http_lines_feed(&s->lines, data, len, &err) < 0) {
		shoal_log_warn("bad session stream", "manager=%s error=%s", s->current,
			       shoal_log_q(err.msg));
		end_session(s);
		reconnect_later(s);
	}
}

static void stream_done(struct shoal_http_call *c, int status, const char *body, size_t len,
			const struct shoal_err *err, void *ctx)
{
	struct shoal_agent_session *s = ctx;

	(void)body;
	(void)len;
	s->stream = NULL;
	if (status == 503 && shoal_http_call_header(c, SHOAL_LEADER_HEADER) != NULL) {
		free(s->prefer);
		s->prefer = shoal_strdup(shoal_http_call_header(c, SHOAL_LEADER_HEADER));
		s->backoff_ms = 0;
	}
	if (err != NULL)
		shoal_log_info("agent session lost", "manager=%s error=%s", s->current,
			       shoal_log_q(err->msg));
	else if (status != 200)
		shoal_log_info("agent session refused", "manager=%s status=%d", s->current, status);
	else
		shoal_log_info("agent session ended", "manager=%s", s->current);
	end_session(s);
	reconnect_later(s);
}

static const char *pick(struct shoal_agent_session *s)
{
	size_t n = json_array_size(s->managers);
	const char *a;

	if (s->prefer != NULL) {
		free(s->current);
		s->current = s->prefer;
		s->prefer = NULL;
		return s->current;
	}
	if (n == 0)
		return NULL;
	a = json_string_value(json_object_get(json_array_get(s->managers, s->next % n), "Addr"));
	s->next++;
	free(s->current);
	s->current = shoal_strdup(a ? a : "");
	return s->current;
}

void shoal_agent_session_connect(struct shoal_agent_session *s)
{
	struct shoal_http_call_opts o = { 0 };
	struct shoal_err err;
	const char *mgr;
	char *url;

	if (s->closing || s->stream != NULL)
		return;
	end_session(s);
	mgr = pick(s);
	if (mgr == NULL || mgr[0] == '\0') {
		reconnect_later(s);
		return;
	}
	shoal_http_lines_init(&s->lines, MAX_LINE, on_line, s);
	url = shoal_asprintf("http://%s/swarm/session?node=%s&addr=%s", mgr, s->node_id, s->addr);
	o.url = url;
	o.no_proxy = true;
	o.connect_timeout_ms = CONNECT_TIMEOUT_MS;
	o.on_head = stream_head;
	o.on_data = stream_data;
	o.on_done = stream_done;
	o.ctx = s;
	s->stream = shoal_http_call_start(s->client, &o, &err);
	free(url);
	if (s->stream == NULL) {
		shoal_log_warn("cannot open a session", "manager=%s error=%s", mgr,
			       shoal_log_q(err.msg));
		reconnect_later(s);
	}
}

static void reconnect_later(struct shoal_agent_session *s)
{
	if (s->closing)
		return;
	s->backoff_ms = s->backoff_ms == 0 ? BACKOFF_MIN_MS : s->backoff_ms * 2;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	uv_timer_start(&s->beat, beat, s->backoff_ms, 0);
}

/* ---- status reports ---- */

static void reports_done(struct shoal_http_call *c, int status, const char *body, size_t len,
			 const struct shoal_err *err, void *ctx)
{
	struct shoal_agent_session *s = ctx;
	const char *k;
	json_t *v;

	(void)c;
	(void)body;
	(void)len;
	s->st = NULL;
	if (err != NULL || status != 200) {
		/* put the batch back under anything newer, for the next session */
		json_object_foreach(s->inflight, k, v) {
			if (json_object_get(s->pending, k) == NULL)
				json_object_set(s->pending, k, v);
		}
		json_decref(s->inflight);
		s->inflight = NULL;
		shoal_log_warn("status reports refused", "manager=%s status=%d", s->current,
			       status);
		return;
	}
	json_decref(s->inflight);
	s->inflight = NULL;
	flush_reports(s);
}

static void flush_reports(struct shoal_agent_session *s)
{
	json_t *updates;
	const char *k;
	json_t *v;

	if (s->st != NULL || s->session_id[0] == '\0' || json_object_size(s->pending) == 0)
		return;
	s->inflight = s->pending;
	s->pending = json_object();
	updates = json_array();
	json_object_foreach(s->inflight, k, v) {
		json_array_append_new(updates, json_pack("{s:s, s:O}", "TaskID", k, "Status", v));
	}
	s->st = post(s, "/swarm/status",
		     json_pack("{s:s, s:s, s:o}", "NodeID", s->node_id, "SessionID", s->session_id,
			       "Updates", updates),
		     reports_done, s);
	if (s->st == NULL) {
		json_object_update_missing(s->pending, s->inflight);
		json_decref(s->inflight);
		s->inflight = NULL;
	}
}

void shoal_agent_session_report(struct shoal_agent_session *s, const char *task_id, json_t *status)
{
	/* only the latest state of a task matters; the dispatcher never goes back */
	json_object_set_new(s->pending, task_id, status);
	flush_reports(s);
}

/* ---- other calls to the manager ---- */

struct post {
	shoal_agent_session_post_cb cb;
	void *ctx;
	struct shoal_agent_session *s;
	struct shoal_list link;
	struct shoal_http_call *c;
};

static void post_done(struct shoal_http_call *c, int status, const char *body, size_t len,
		      const struct shoal_err *err, void *ctx)
{
	struct post *p = ctx;

	(void)c;
	(void)body;
	(void)len;
	shoal_list_del(&p->link);
	p->cb(p->ctx, err != NULL ? 0 : status, err);
	free(p);
}

int shoal_agent_session_post(struct shoal_agent_session *s, const char *path, json_t *body,
			     shoal_agent_session_post_cb cb, void *ctx)
{
	struct post *p;

	if (s->closing || s->session_id[0] == '\0' || s->current == NULL) {
		json_decref(body);
		return -1;
	}
	p = shoal_calloc(1, sizeof(*p));
	p->cb = cb;
	p->ctx = ctx;
	p->s = s;
	p->c = post(s, path, body, post_done, p);
	if (p->c == NULL) {
		free(p);
		return -1;
	}
	shoal_list_add_tail(&s->posts, &p->link);
	return 0;
}

/* ---- life ---- */

struct shoal_agent_session *shoal_agent_session_new(uv_loop_t *loop,
						    struct shoal_http_client *client,
						    const char *node_id, const char *addr,
						    const json_t *managers,
						    const struct shoal_agent_session_cbs *cbs)
{
	struct shoal_agent_session *s = shoal_calloc(1, sizeof(*s));

	s->loop = loop;
	s->client = client;
	s->cbs = *cbs;
	s->node_id = shoal_strdup(node_id);
	s->addr = shoal_strdup(addr ? addr : "");
	s->managers = json_deep_copy(managers ? managers : json_array());
	s->pending = json_object();
	shoal_list_init(&s->posts);
	uv_timer_init(loop, &s->beat);
	s->beat.data = s;
	shoal_http_lines_init(&s->lines, MAX_LINE, on_line, s);
	return s;
}

void shoal_agent_session_set_managers(struct shoal_agent_session *s, const json_t *managers)
{
	json_t *copy = json_deep_copy(managers);

	if (json_array_size(copy) > 0) {
		json_decref(s->managers);
		s->managers = copy;
		s->next = 0;
	} else {
		json_decref(copy);
	}
}

static void beat_closed(uv_handle_t *h)
{
	struct shoal_agent_session *s = h->data;
	void (*cb)(void *) = s->close_cb;
	void *ctx = s->close_ctx;

	shoal_http_lines_fini(&s->lines);
	json_decref(s->managers);
	json_decref(s->pending);
	json_decref(s->inflight);
	free(s->node_id);
	free(s->addr);
	free(s->current);
	free(s->prefer);
	free(s);
	if (cb != NULL)
		cb(ctx);
}

void shoal_agent_session_close(struct shoal_agent_session *s, void (*cb)(void *ctx), void *ctx)
{
	s->closing = true;
	s->close_cb = cb;
	s->close_ctx = ctx;
	end_session(s);
	if (s->st != NULL) {
		shoal_http_call_cancel(s->st);
		s->st = NULL;
	}
	/* their owners are closing too: no callback */
	while (!shoal_list_empty(&s->posts)) {
		struct post *p = shoal_list_entry(s->posts.next, struct post, link);

		shoal_list_del(&p->link);
		shoal_http_call_cancel(p->c);
		free(p);
	}
	uv_close((uv_handle_t *)&s->beat, beat_closed);
}
