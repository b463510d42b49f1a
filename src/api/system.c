/* System endpoints: /_ping, /version, /info. Field names, types and headers follow the
 * Engine API and what dockerd 20.10 answers (shared/reference/docker-20.10/api). */
#include "api/api.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "engine/engine.h"
#include "manager/manager.h"
#include "registry/registry.h"

#ifndef SHOAL_BUILD_TIME
#define SHOAL_BUILD_TIME ""
#endif

static struct shoal_api *api_of(struct shoal_http_req *req)
{
	return req->ctx;
}

void shoal_api_system_ping(struct shoal_http_req *req)
{
	/* dockerd writes no body for HEAD, so its Content-Length is 0 there. */
	shoal_http_reply(req, 200, "text/plain; charset=utf-8",
			 "Cache-Control: no-cache, no-store, must-revalidate\r\n"
			 "Pragma: no-cache\r\n",
			 req->head ? "" : "OK", req->head ? 0 : 2);
}

json_t *shoal_api_version_json(const struct shoal_api *api)
{
	const struct shoal_sysinfo *s = &api->sys;
	json_t *components = json_array();
	json_t *engine;

	engine = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}", "Name",
			   "Engine", "Version", SHOAL_VERSION, "Details", "ApiVersion",
			   SHOAL_API_VERSION, "Arch", s->go_arch, "BuildTime", SHOAL_BUILD_TIME,
			   "Experimental", "false", "GitCommit", SHOAL_GIT_COMMIT, "GoVersion", "",
			   "KernelVersion", s->kernel_version, "MinAPIVersion",
			   SHOAL_API_MIN_VERSION, "Os", "linux");
	json_array_append_new(components, engine);
	if (api->cfg.runc_version != NULL && api->cfg.runc_version[0] != '\0')
		json_array_append_new(components,
				      json_pack("{s:s, s:s, s:{s:s}}", "Name", "runc", "Version",
						api->cfg.runc_version, "Details", "GitCommit",
						api->cfg.runc_commit ? api->cfg.runc_commit : ""));
	return json_pack("{s:{s:s}, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Platform",
			 "Name", "Shoal", "Components", components, "Version", SHOAL_VERSION,
			 "ApiVersion", SHOAL_API_VERSION, "MinAPIVersion", SHOAL_API_MIN_VERSION,
			 "GitCommit", SHOAL_GIT_COMMIT, "GoVersion", "", "Os", "linux", "Arch",
			 s->go_arch, "KernelVersion", s->kernel_version, "BuildTime",
			 SHOAL_BUILD_TIME);
}

void shoal_api_system_version(struct shoal_http_req *req)
{
	json_t *v = shoal_api_version_json(api_of(req));

	shoal_http_reply_json(req, 200, v);
	json_decref(v);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static const char *env_either(const char *a, const char *b)
{
	const char *v = getenv(a);

	if (v == NULL)
		v = getenv(b);
	return v != NULL ? v : "";
}

static json_t *strings(const char *const *v)
{
	json_t *a = json_array();

	for (; *v != NULL; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

json_t *shoal_api_info_json(const struct shoal_api *api)
{
	static const char *const volume_plugins[] = { "local", NULL };
	static const char *const network_plugins[] = { "bridge", "host", "null", "overlay", NULL };
	static const char *const log_plugins[] = { "json-file", NULL };
	const struct shoal_sysinfo *s = &api->sys;
	char now[64];
	json_t *info, *warnings, *runtimes;

	shoal_time_format_rfc3339nano(shoal_time_now_ns(), now, sizeof(now));
	warnings = json_array();
	if (!s->swap_limit)
		json_array_append_new(warnings, json_string("WARNING: No swap limit support"));
	if (!s->ipv4_forwarding)
		json_array_append_new(warnings,
				      json_string("WARNING: IPv4 forwarding is disabled"));
	if (!s->bridge_nf_iptables)
		json_array_append_new(warnings,
				      json_string("WARNING: bridge-nf-call-iptables is disabled"));
	if (!s->bridge_nf_ip6tables)
		json_array_append_new(warnings,
				      json_string("WARNING: bridge-nf-call-ip6tables is disabled"));
	runtimes = api->cfg.engine != NULL && api->cfg.engine->runtimes != NULL ?
			   json_deep_copy(api->cfg.engine->runtimes) :
			   json_pack("{s:{s:s}}", "runc", "path", "runc");

	info = json_object();
	json_object_set_new(info, "ID", json_string(api->cfg.engine_id));
	/* containers come with the engine's next part */
	json_object_set_new(info, "Containers", json_integer(0));
	json_object_set_new(info, "ContainersRunning", json_integer(0));
	json_object_set_new(info, "ContainersPaused", json_integer(0));
	json_object_set_new(info, "ContainersStopped", json_integer(0));
	json_object_set_new(
		info, "Images",
		json_integer(api->cfg.engine != NULL ? (json_int_t)api->cfg.engine->nimages : 0));
	json_object_set_new(info, "Driver", json_string("overlay2"));
	json_object_set_new(info, "DriverStatus",
			    json_pack("[[s,s],[s,s],[s,s],[s,s]]", "Backing Filesystem",
				      s->backing_fs, "Supports d_type", "true",
				      "Native Overlay Diff", "true", "userxattr", "false"));
	json_object_set_new(info, "Plugins",
			    json_pack("{s:o, s:o, s:n, s:o}", "Volume", strings(volume_plugins),
				      "Network", strings(network_plugins), "Authorization", "Log",
				      strings(log_plugins)));
	json_object_set_new(info, "MemoryLimit", json_boolean(s->memory_limit));
	json_object_set_new(info, "SwapLimit", json_boolean(s->swap_limit));
	json_object_set_new(info, "KernelMemory", json_boolean(s->kernel_memory));
	json_object_set_new(info, "KernelMemoryTCP", json_boolean(s->kernel_memory_tcp));
	json_object_set_new(info, "CpuCfsPeriod", json_boolean(s->cpu_cfs_period));
	json_object_set_new(info, "CpuCfsQuota", json_boolean(s->cpu_cfs_quota));
	json_object_set_new(info, "CPUShares", json_boolean(s->cpu_shares));
	json_object_set_new(info, "CPUSet", json_boolean(s->cpuset));
	json_object_set_new(info, "PidsLimit", json_boolean(s->pids_limit));
	json_object_set_new(info, "IPv4Forwarding", json_boolean(s->ipv4_forwarding));
	json_object_set_new(info, "BridgeNfIptables", json_boolean(s->bridge_nf_iptables));
	json_object_set_new(info, "BridgeNfIp6tables", json_boolean(s->bridge_nf_ip6tables));
	json_object_set_new(info, "Debug", json_boolean(api->cfg.debug));
	json_object_set_new(info, "NFd", json_integer(count_fds()));
	json_object_set_new(info, "OomKillDisable", json_boolean(s->oom_kill_disable));
	/* One loop thread: the closest thing to Go's goroutine count. */
	json_object_set_new(info, "NGoroutines", json_integer(1));
	json_object_set_new(info, "SystemTime", json_string(now));
	json_object_set_new(info, "LoggingDriver", json_string("json-file"));
	json_object_set_new(info, "CgroupDriver", json_string("cgroupfs"));
	json_object_set_new(info, "CgroupVersion", json_string(s->cgroup_version));
	json_object_set_new(info, "NEventsListener",
			    json_integer((json_int_t)api->events.nsubscribers));
	json_object_set_new(info, "KernelVersion", json_string(s->kernel_version));
	json_object_set_new(info, "OperatingSystem", json_string(s->operating_system));
	json_object_set_new(info, "OSVersion", json_string(s->os_version));
	json_object_set_new(info, "OSType", json_string("linux"));
	json_object_set_new(info, "Architecture", json_string(s->architecture));
	json_object_set_new(info, "IndexServerAddress", json_string("https://index.docker.io/v1/"));
	json_object_set_new(
		info, "RegistryConfig",
		api->cfg.registry != NULL ?
			shoal_registry_info_json(api->cfg.registry) :
			json_pack("{s:[], s:[], s:[s], s:{s:{s:s, s:[], s:b, s:b}}, s:[]}",
				  "AllowNondistributableArtifactsCIDRs",
				  "AllowNondistributableArtifactsHostnames",
				  "InsecureRegistryCIDRs", "127.0.0.0/8", "IndexConfigs",
				  "docker.io", "Name", "docker.io", "Mirrors", "Secure", 1,
				  "Official", 1, "Mirrors"));
	json_object_set_new(info, "NCPU", json_integer(s->ncpu));
	json_object_set_new(info, "MemTotal", json_integer(s->mem_total));
	json_object_set_new(info, "GenericResources", json_null());
	json_object_set_new(info, "DockerRootDir", json_string(api->cfg.data_root));
	json_object_set_new(info, "HttpProxy", json_string(env_either("HTTP_PROXY", "http_proxy")));
	json_object_set_new(info, "HttpsProxy",
			    json_string(env_either("HTTPS_PROXY", "https_proxy")));
	json_object_set_new(info, "NoProxy", json_string(env_either("NO_PROXY", "no_proxy")));
	json_object_set_new(info, "Name", json_string(s->hostname));
	json_object_set_new(info, "Labels", json_array());
	json_object_set_new(info, "ExperimentalBuild", json_false());
	json_object_set_new(info, "ServerVersion", json_string(SHOAL_VERSION));
	json_object_set_new(info, "Runtimes", runtimes);
	json_object_set_new(
		info, "DefaultRuntime",
		json_string(api->cfg.engine != NULL && api->cfg.engine->runtime != NULL ?
				    api->cfg.engine->runtime :
				    "runc"));
	/* the inactive section when there is no manager (unit tests) */
	json_object_set_new(info, "Swarm", shoal_manager_info_json(api->cfg.manager));
	json_object_set_new(info, "LiveRestoreEnabled", json_false());
	json_object_set_new(info, "Isolation", json_string(""));
	json_object_set_new(info, "InitBinary", json_string(""));
	json_object_set_new(info, "ContainerdCommit",
			    json_pack("{s:s, s:s}", "ID", "", "Expected", ""));
	json_object_set_new(info, "RuncCommit",
			    json_pack("{s:s, s:s}", "ID",
				      api->cfg.runc_commit ? api->cfg.runc_commit : "", "Expected",
				      api->cfg.runc_commit ? api->cfg.runc_commit : ""));
	json_object_set_new(info, "InitCommit", json_pack("{s:s, s:s}", "ID", "", "Expected", ""));
	json_object_set_new(info, "SecurityOptions", json_array());
	if (json_array_size(warnings) > 0)
		json_object_set_new(info, "Warnings", warnings);
	else {
		json_decref(warnings);
		json_object_set_new(info, "Warnings", json_null());
	}
	return info;
}

void shoal_api_system_info(struct shoal_http_req *req)
{
	json_t *info = shoal_api_info_json(api_of(req));

	shoal_http_reply_json(req, 200, info);
	json_decref(info);
}
