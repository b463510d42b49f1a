/* Test-only routes that drive the agent's task executor without a swarm, for the
 * integration tests (tests/integration/test_agent_exec.py). They exist only when shoald
 * runs with --debug-agent-api; otherwise they answer 404 like any unknown path:
 *   POST /_shoal/agent/assign   body: a JSON array of tasks, the executor's whole set
 *   GET  /_shoal/agent/reports  [{"TaskID", "Status"}, ...]: every report so far, in order
 * The agent session, once written, owns the executor instead; nothing else calls these. */
#include "api/internal.h"

#include <stdlib.h>

#include "agent/agent.h"
#include "base/mem.h"

#define REPORTS_KEEP 10000 /* the oldest go past this: a test never gets near it */

static struct shoal_api *api_of(struct shoal_http_req *req)
{
	return req->ctx;
}

void shoal_api_agent_report(void *ctx, const char *task_id, json_t *status)
{
	struct shoal_api *api = ctx;

	if (api->agent_reports == NULL)
		api->agent_reports = json_array();
	if (json_array_size(api->agent_reports) >= REPORTS_KEEP)
		json_array_remove(api->agent_reports, 0);
	json_array_append_new(api->agent_reports,
			      json_pack("{s:s, s:o}", "TaskID", task_id, "Status", status));
}

void shoal_api_agent_assign(struct shoal_http_req *req)
{
	struct shoal_api *api = api_of(req);
	json_error_t jerr;
	json_t *tasks;

	if (api->cfg.agent == NULL) {
		shoal_http_reply_message(req, 404, "page not found");
		return;
	}
	tasks = json_loadb(req->body.data, req->body.len, 0, &jerr);
	if (!json_is_array(tasks)) {
		json_decref(tasks);
		shoal_http_reply_message(req, 400, "invalid JSON: expected an array of tasks");
		return;
	}
	shoal_agent_exec_assign(api->cfg.agent, tasks);
	json_decref(tasks);
	shoal_http_reply(req, 204, NULL, NULL, NULL, 0);
}

void shoal_api_agent_reports(struct shoal_http_req *req)
{
	struct shoal_api *api = api_of(req);
	json_t *empty = NULL;

	if (api->cfg.agent == NULL) {
		shoal_http_reply_message(req, 404, "page not found");
		return;
	}
	if (api->agent_reports == NULL)
		empty = json_array();
	shoal_http_reply_json(req, 200, empty != NULL ? empty : api->agent_reports);
	json_decref(empty);
}
