/* The route table and the API's servers: one src/http server per -H address, all
 * sharing the routes, the headers dockerd puts on every answer, and this context. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "api"

static const struct shoal_http_route routes[] = {
	{ "GET", "/_ping", shoal_api_system_ping, 0 },
	{ "HEAD", "/_ping", shoal_api_system_ping, 0 },
	{ "GET", "/version", shoal_api_system_version, 0 },
	{ "GET", "/info", shoal_api_system_info, 0 },
	{ "GET", "/events", shoal_api_system_events, 0 },
	{ "POST", "/images/load", shoal_api_images_load, SHOAL_HTTP_ROUTE_STREAM_BODY },
	{ "POST", "/images/create", shoal_api_images_create, SHOAL_HTTP_ROUTE_STREAM_BODY },
	{ "GET", "/images/json", shoal_api_images_list, 0 },
	{ "GET", "/images/get", shoal_api_images_save, 0 },
	{ "GET", "/images/{name:.*}/get", shoal_api_images_save, 0 },
	{ "GET", "/images/{name:.*}/json", shoal_api_images_inspect, 0 },
	{ "GET", "/images/{name:.*}/history", shoal_api_images_history, 0 },
	{ "POST", "/images/{name:.*}/tag", shoal_api_images_tag, 0 },
	{ "POST", "/images/{name:.*}/push", shoal_api_images_push, 0 },
	{ "GET", "/distribution/{name:.*}/json", shoal_api_distribution_inspect, 0 },
	{ "POST", "/auth", shoal_api_system_auth, 0 },
	{ "DELETE", "/images/{name:.*}", shoal_api_images_delete, 0 },
	{ "POST", "/containers/create", shoal_api_containers_create, 0 },
	{ "GET", "/containers/json", shoal_api_containers_list, 0 },
	{ "POST", "/containers/prune", shoal_api_containers_prune, 0 },
	{ "GET", "/containers/{name}/json", shoal_api_containers_inspect, 0 },
	{ "POST", "/containers/{name}/start", shoal_api_containers_start, 0 },
	{ "POST", "/containers/{name}/stop", shoal_api_containers_stop, 0 },
	{ "POST", "/containers/{name}/restart", shoal_api_containers_restart, 0 },
	{ "POST", "/containers/{name}/kill", shoal_api_containers_kill, 0 },
	{ "POST", "/containers/{name}/pause", shoal_api_containers_pause, 0 },
	{ "POST", "/containers/{name}/unpause", shoal_api_containers_unpause, 0 },
	{ "POST", "/containers/{name}/wait", shoal_api_containers_wait, 0 },
	{ "POST", "/containers/{name}/rename", shoal_api_containers_rename, 0 },
	{ "POST", "/containers/{name}/attach", shoal_api_containers_attach, 0 },
	{ "POST", "/containers/{name}/resize", shoal_api_containers_resize, 0 },
	{ "GET", "/containers/{name}/logs", shoal_api_containers_logs, 0 },
	{ "GET", "/containers/{name}/top", shoal_api_containers_top, 0 },
	{ "GET", "/containers/{name}/stats", shoal_api_containers_stats, 0 },
	{ "DELETE", "/containers/{name}", shoal_api_containers_delete, 0 },
	{ "POST", "/containers/{name}/exec", shoal_api_exec_create, 0 },
	{ "POST", "/exec/{id}/start", shoal_api_exec_start, 0 },
	{ "GET", "/exec/{id}/json", shoal_api_exec_inspect, 0 },
	{ "POST", "/exec/{id}/resize", shoal_api_exec_resize, 0 },
	{ "GET", "/networks", shoal_api_networks_list, 0 },
	{ "GET", "/networks/{name}", shoal_api_networks_inspect, 0 },
	{ "POST", "/volumes/create", shoal_api_volumes_create, 0 },
	{ "POST", "/volumes/prune", shoal_api_volumes_prune, 0 },
	{ "GET", "/volumes", shoal_api_volumes_list, 0 },
	{ "GET", "/volumes/{name}", shoal_api_volumes_inspect, 0 },
	{ "DELETE", "/volumes/{name}", shoal_api_volumes_delete, 0 },
	{ "POST", "/swarm/init", shoal_api_swarm_init, 0 },
	{ "POST", "/swarm/join", shoal_api_swarm_join, 0 },
	{ "GET", "/swarm", shoal_api_swarm_inspect, 0 },
	{ "POST", "/swarm/update", shoal_api_swarm_update, 0 },
	{ "GET", "/swarm/unlockkey", shoal_api_swarm_unlockkey, 0 },
	{ "POST", "/swarm/leave", shoal_api_swarm_leave, 0 },
	{ "GET", "/nodes", shoal_api_nodes_list, 0 },
	{ "GET", "/nodes/{id}", shoal_api_nodes_inspect, 0 },
	{ "POST", "/nodes/{id}/update", shoal_api_nodes_update, 0 },
	{ "DELETE", "/nodes/{id}", shoal_api_nodes_delete, 0 },
	/* test-only: 404 unless shoald runs with --debug-agent-api */
	{ "POST", "/_shoal/agent/assign", shoal_api_agent_assign, 0 },
	{ "GET", "/_shoal/agent/reports", shoal_api_agent_reports, 0 },
	{ "GET", "/services", shoal_api_services_list, 0 },
	{ "POST", "/services/create", shoal_api_services_create, 0 },
	{ "GET", "/services/{id}", shoal_api_services_inspect, 0 },
	{ "POST", "/services/{id}/update", shoal_api_services_update, 0 },
	{ "DELETE", "/services/{id}", shoal_api_services_delete, 0 },
	{ "GET", "/services/{id}/logs", shoal_api_services_logs, 0 },
	{ "GET", "/tasks", shoal_api_tasks_list, 0 },
	{ "GET", "/tasks/{id}", shoal_api_tasks_inspect, 0 },
	{ "GET", "/tasks/{id}/logs", shoal_api_tasks_logs, 0 },
};

static const struct shoal_http_router router = {
	.routes = routes,
	.nroutes = SHOAL_ARRAY_SIZE(routes),
	.max_major = 1,
	.max_minor = 41,
	.min_major = 1,
	.min_minor = 12,
};

const struct shoal_http_router *shoal_api_router(void)
{
	return &router;
}

void shoal_api_init(struct shoal_api *api, uv_loop_t *loop, const struct shoal_api_config *cfg)
{
	memset(api, 0, sizeof(*api));
	api->loop = loop;
	api->cfg = *cfg;
	api->started_ns = shoal_time_now_ns();
	shoal_list_init(&api->events.recent);
	shoal_list_init(&api->events.subscribers);
	shoal_list_init(&api->execs);
	shoal_sysinfo_collect(&api->sys, cfg->data_root);
}

int shoal_api_listen(struct shoal_api *api, const char *const *hosts, size_t nhosts,
		     struct shoal_err *err)
{
	char *headers;
	size_t i;

	headers = shoal_asprintf("Api-Version: %s\r\n"
				 "Docker-Experimental: false\r\n"
				 "Ostype: linux\r\n"
				 "Server: Shoal/%s (linux)\r\n",
				 SHOAL_API_VERSION, SHOAL_VERSION);
	api->servers = shoal_calloc(nhosts, sizeof(*api->servers));
	for (i = 0; i < nhosts; i++) {
		shoal_http_server_init(&api->servers[i], api->loop, &router, api, headers);
		api->nservers++;
		if (shoal_http_server_listen(&api->servers[i], hosts[i], err) < 0) {
			free(headers);
			return -1;
		}
	}
	free(headers);
	return 0;
}

static void server_closed(struct shoal_http_server *srv)
{
	struct shoal_api *api = srv->ctx;

	if (--api->nclosing > 0)
		return;
	shoal_api__execs_fini(api);
	json_decref(api->agent_reports);
	api->agent_reports = NULL;
	free(api->servers);
	api->servers = NULL;
	api->nservers = 0;
	if (api->close_cb != NULL)
		api->close_cb(api);
}

void shoal_api_close(struct shoal_api *api, unsigned grace_ms, void (*cb)(struct shoal_api *api))
{
	size_t i;

	api->close_cb = cb;
	/* Streams end first so their connections can close within the grace. */
	shoal_api__events_close(api);
	if (api->nservers == 0) {
		shoal_api__execs_fini(api);
		json_decref(api->agent_reports);
		api->agent_reports = NULL;
		free(api->servers);
		api->servers = NULL;
		if (cb != NULL)
			cb(api);
		return;
	}
	api->nclosing = api->nservers;
	for (i = 0; i < api->nservers; i++)
		shoal_http_server_close(&api->servers[i], grace_ms, server_closed);
}
