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
#include "base/log.h"
#include "base/mem.h"
#include "manager/manager.h"

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

static void on_managers(void *ctx, const json_t *managers)
{
	struct shoal_daemon *d = ctx;

	if (d->manager != NULL)
		shoal_manager_remember_managers(d->manager, managers);
}

static void agent_stop(struct shoal_daemon *d)
{
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
		if (d->agent_node != NULL)
			shoal_log_info("agent stopped", "%s", "");
		agent_stop(d);
		return;
	}
	if (d->agent_node != NULL && strcmp(d->agent_node, mem.node_id) == 0) {
		shoal_agent_session_set_managers(d->session, mem.managers);
		return;
	}
	agent_stop(d);
	if (d->agent_client == NULL)
		d->agent_client = shoal_http_client_new(&d->loop);
	d->agent_node = shoal_strdup(mem.node_id);
	d->exec = shoal_agent_exec_new(&d->loop, &d->engine, mem.node_id, on_report, d);
	memset(&cbs, 0, sizeof(cbs));
	cbs.assignments = on_assignments;
	cbs.managers = on_managers;
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
