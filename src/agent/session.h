/* The agent's session with the managers (session.c): owns the stream of assignments from the
 * dispatcher, the heartbeats and the batching of task status reports. It knows nothing of
 * containers: assignments go to the callback, reports come in through
 * shoal_agent_session_report(). Loop thread only. */
#ifndef SHOAL_AGENT_SESSION_H
#define SHOAL_AGENT_SESSION_H

#include <jansson.h>
#include <uv.h>

#include "http/client.h"

struct shoal_agent_session_cbs {
	/* The tasks assigned to this node (borrowed array of Task objects) and this node's
	 * object (borrowed, may be NULL), sent again whenever any of them changes. */
	void (*assignments)(void *ctx, const json_t *tasks, const json_t *node);
	/* The managers the dispatcher knows of ([{NodeID, Addr}], borrowed), to remember. */
	void (*managers)(void *ctx, const json_t *managers);
	/* A log subscription ({"Type": "logs", ID, Tasks, Follow, Tail, Since}) or its end
	 * ({"Type": "logs-cancel", ID}), borrowed. */
	void (*logs)(void *ctx, const json_t *msg);
	/* The routing mesh's "network" message (borrowed; net.h documents it), sent again
	 * whenever it changes, before the assignments of the same change. May be NULL. */
	void (*network)(void *ctx, const json_t *msg);
	void *ctx;
};

struct shoal_agent_session;

/* A session for node_id advertising addr, to open with one of managers ([{NodeID, Addr}],
 * copied). client is borrowed and must outlive the session. cbs is copied. */
struct shoal_agent_session *shoal_agent_session_new(uv_loop_t *loop,
						    struct shoal_http_client *client,
						    const char *node_id, const char *addr,
						    const json_t *managers,
						    const struct shoal_agent_session_cbs *cbs);

/* Opens the session (and keeps reopening it, with a backoff, whenever it is lost). */
void shoal_agent_session_connect(struct shoal_agent_session *s);

/* Replaces the managers to try (copied); the open session is kept. */
void shoal_agent_session_set_managers(struct shoal_agent_session *s, const json_t *managers);

/* Queues a task's new status (takes the reference): sent with others as soon as a session
 * is open; only the latest status of a task is kept. */
void shoal_agent_session_report(struct shoal_agent_session *s, const char *task_id, json_t *status);

/* POSTs body (taken) to path on the session's manager; cb(ctx, status, err) when answered
 * (status 0 with err on a transport failure). -1 (cb never called) without a session. */
typedef void (*shoal_agent_session_post_cb)(void *ctx, int status, const struct shoal_err *err);
int shoal_agent_session_post(struct shoal_agent_session *s, const char *path, json_t *body,
			     shoal_agent_session_post_cb cb, void *ctx);

/* Ends the session and its calls, frees s, then cb(ctx) on a later turn. */
void shoal_agent_session_close(struct shoal_agent_session *s, void (*cb)(void *ctx), void *ctx);

#endif
