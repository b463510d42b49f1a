/* shoald's start and stop. Start: make the roots, refuse a live pidfile, keep the engine
 * ID, listen, probe runc. Stop (SIGTERM/SIGINT): stop accepting, end streams, give
 * in-flight answers a short grace, remove the socket and pidfile, exit 0. */
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mem.h"
#include "net/net.h"
#include "raft/raft.h"
#include "registry/registry.h"

#define SHOAL_LOG_MODULE "daemon"

/* mkdir -p with a mode for the last component. */
static int mkdir_all(const char *path, mode_t mode, struct shoal_err *err)
{
	char *p = shoal_strdup(path);
	char *s;
	int rv = -1;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			shoal_errorf_sys(err, 500, errno, "create %s: %s", p, strerror(errno));
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST) {
		shoal_errorf_sys(err, 500, errno, "create %s: %s", p, strerror(errno));
		goto out;
	}
	rv = 0;
out:
	free(p);
	return rv;
}

static int read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

int shoal_daemon_pidfile_check(const char *path, struct shoal_err *err)
{
	char buf[32], proc[64], comm[64];
	long pid;

	if (read_small(path, buf, sizeof(buf)) < 0)
		return 0;
	pid = strtol(buf, NULL, 10);
	if (pid <= 0 || pid == (long)getpid())
		return 0;
	snprintf(proc, sizeof(proc), "/proc/%ld/comm", pid);
	if (read_small(proc, comm, sizeof(comm)) < 0)
		return 0; /* no such process: stale */
	comm[strcspn(comm, "\n")] = '\0';
	/* A recycled PID that is not a daemon does not hold the file. */
	if (strcmp(comm, "shoald") != 0 && strcmp(comm, "dockerd") != 0)
		return 0;
	return shoal_errorf(err, 500,
			    "pid file found, ensure shoald is not running or delete %s (pid %ld)",
			    path, pid);
}

static int pidfile_write(const char *path, struct shoal_err *err)
{
	char *dir = shoal_strdup(path);
	char *slash = strrchr(dir, '/');
	char buf[32];
	int fd, n, rv = -1;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir_all(dir, 0755, err) < 0)
			goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		shoal_errorf_sys(err, 500, errno, "write pid file %s: %s", path, strerror(errno));
		goto out;
	}
	n = snprintf(buf, sizeof(buf), "%d", (int)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		shoal_errorf_sys(err, 500, errno, "write pid file %s: %s", path, strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	rv = 0;
out:
	free(dir);
	return rv;
}

/* The engine ID, in the form dockerd 20.10 shows ("SVGQ:WBAC:..."), kept across restarts. */
static char *engine_id_load(const char *data_root, struct shoal_err *err)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	char *path = shoal_asprintf("%s/engine-id", data_root);
	unsigned char rnd[30];
	char id[64];
	char *out = NULL;
	int fd, i, o = 0;

	if (read_small(path, id, sizeof(id)) > 0) {
		id[strcspn(id, "\n")] = '\0';
		if (strlen(id) == 59) {
			out = shoal_strdup(id);
			goto done;
		}
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		shoal_errorf_sys(err, 500, errno, "generate engine ID: %s", strerror(errno));
		goto done;
	}
	/* 240 random bits as 48 base32 characters, in 12 groups of 4 */
	for (i = 0; i < 48; i++) {
		int bit = i * 5, byte = bit / 8, shift = bit % 8;
		unsigned v = (unsigned)rnd[byte] << 8 | (byte + 1 < 30 ? rnd[byte + 1] : 0);

		if (i > 0 && i % 4 == 0)
			id[o++] = ':';
		id[o++] = b32[(v >> (11 - shift)) & 31];
	}
	id[o] = '\0';
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, id, strlen(id)) != (ssize_t)strlen(id)) {
		shoal_errorf_sys(err, 500, errno, "write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto done;
	}
	close(fd);
	out = shoal_strdup(id);
done:
	free(path);
	return out;
}

/* ---- probing runc --version ---- */

static void probe_closed(uv_handle_t *h)
{
	struct shoal_daemon *d = h->data;

	d->probe_handles--;
}

static void probe_parse(struct shoal_daemon *d)
{
	char *line = d->probe_buf.data;

	while (line != NULL && *line != '\0') {
		char *nl = strchr(line, '\n');

		if (nl != NULL)
			*nl = '\0';
		if (strncmp(line, "runc version ", 13) == 0)
			snprintf(d->runc_version, sizeof(d->runc_version), "%s", line + 13);
		else if (strncmp(line, "commit: ", 8) == 0)
			snprintf(d->runc_commit, sizeof(d->runc_commit), "%s", line + 8);
		line = nl != NULL ? nl + 1 : NULL;
	}
	shoal_log_debug("runtime found", "runc=%s commit=%s", shoal_log_q(d->runc_version),
			shoal_log_q(d->runc_commit));
}

static void probe_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = shoal_malloc(4096);
	buf->len = 4096;
}

static void probe_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct shoal_daemon *d = s->data;

	if (n > 0 && d->probe_buf.len < 16384)
		shoal_buf_add(&d->probe_buf, buf->base, (size_t)n);
	free(buf->base);
	if (n < 0) {
		probe_parse(d);
		uv_close((uv_handle_t *)s, probe_closed);
	}
}

static void probe_exit(uv_process_t *p, int64_t status, int sig)
{
	if (status != 0 || sig != 0)
		shoal_log_warn("runc --version failed", "status=%lld signal=%d", (long long)status,
			       sig);
	uv_close((uv_handle_t *)p, probe_closed);
}

static void probe_runc(struct shoal_daemon *d)
{
	char *args[] = { "runc", "--version", NULL };
	uv_stdio_container_t stdio[3];
	uv_process_options_t po;
	int rv;

	memset(&po, 0, sizeof(po));
	uv_pipe_init(&d->loop, &d->probe_out, 0);
	d->probe_out.data = d;
	d->probe_handles = 1;
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&d->probe_out;
	stdio[2].flags = UV_IGNORE;
	po.file = "runc";
	po.args = args;
	po.stdio = stdio;
	po.stdio_count = 3;
	po.exit_cb = probe_exit;
	d->probe.data = d;
	rv = uv_spawn(&d->loop, &d->probe, &po);
	if (rv < 0) {
		shoal_log_warn("OCI runtime not found; containers cannot run",
			       "runtime=runc error=%s", uv_strerror(rv));
		uv_close((uv_handle_t *)&d->probe_out, probe_closed);
		return;
	}
	d->probe_handles++;
	uv_read_start((uv_stream_t *)&d->probe_out, probe_alloc, probe_read);
}

/* ---- signals and stop ---- */

static void signals_closed(uv_handle_t *h)
{
	(void)h;
}

static void manager_closed(void *ctx)
{
	struct shoal_daemon *d = ctx;

	d->manager_closed = true;
}

static void registry_closed(void *ctx)
{
	struct shoal_daemon *d = ctx;

	d->registry_closed = true;
}

static void api_closed(struct shoal_api *api)
{
	struct shoal_daemon *d = container_of(api, struct shoal_daemon, api);

	/* the executor lets go of the containers before the engine closes them */
	if (d->agent != NULL) {
		shoal_agent_exec_close(d->agent, NULL, NULL);
		d->agent = NULL;
		d->api.cfg.agent = NULL;
	}
	shoal_daemon__agent_close(d);
	/* pulls and pushes stop; their temp files go once their pool jobs are back */
	if (d->registry != NULL) {
		shoal_registry_close(d->registry, registry_closed, d);
		d->registry = NULL;
		d->api.cfg.registry = NULL;
	}
	/* raft closes on the loop; the loop runs until it is done */
	if (d->manager != NULL) {
		shoal_manager_close(d->manager, manager_closed, d);
		d->manager = NULL;
	}
	/* containers keep running under their shims; a restarted shoald takes them back */
	if (d->engine_open)
		shoal_engine_containers_close(&d->engine);
	uv_close((uv_handle_t *)&d->sigterm, signals_closed);
	uv_close((uv_handle_t *)&d->sigint, signals_closed);
	if (d->probe_handles > 0 && !uv_is_closing((uv_handle_t *)&d->probe))
		uv_process_kill(&d->probe, SIGKILL);
	shoal_log_info("Daemon shutdown complete", "%s", "");
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct shoal_daemon *d = s->data;

	if (d->stopping) {
		shoal_log_info("already shutting down", "signal=%d", signum);
		return;
	}
	d->stopping = true;
	shoal_log_info("Processing signal", "signal=%s", shoal_log_q(strsignal(signum)));
	shoal_api_close(&d->api, SHOAL_DAEMON_SHUTDOWN_GRACE_MS, api_closed);
}

/* The programs shoald runs live beside it: build/shoal-shim next to build/shoald. */
static char *sibling(const char *name)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return shoal_strdup(name);
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	return shoal_asprintf("%s/%s", self, name);
}

/* The engine's containers: their bridge, shims and runtime. Networking comes up first,
 * so containers that kept running while shoald was down find their endpoints. */
static int containers_init(struct shoal_daemon *d, struct shoal_err *err)
{
	struct shoal_daemon_opts *o = d->opts;
	struct shoal_net_opts no;
	char *state = shoal_asprintf("%s/net", o->exec_root);
	char *netns = shoal_asprintf("%s/netns", o->exec_root);
	int rv;

	d->engine.exec_root = shoal_strdup(o->exec_root);
	d->engine.shim_path = sibling("shoal-shim");
	d->engine.runtimes = json_pack("{s:{s:s}}", "runc", "path", "runc");
	for (size_t i = 0; i < o->nruntimes; i++) {
		char *eq = strchr(o->runtimes[i], '=');
		char *name = shoal_strndup(o->runtimes[i], (size_t)(eq - o->runtimes[i]));

		json_object_set_new(d->engine.runtimes, name, json_pack("{s:s}", "path", eq + 1));
		free(name);
	}
	{
		const char *def = o->default_runtime != NULL ? o->default_runtime : "runc";

		if (json_object_get(d->engine.runtimes, def) == NULL)
			return shoal_errorf(err, 400,
					    "specified default runtime '%s' does not exist", def);
		d->engine.runtime = shoal_strdup(def);
	}
	if (access("/usr/bin/tini-static", X_OK) == 0)
		d->engine.init_path = shoal_strdup("/usr/bin/tini-static");
	else if (access("/usr/bin/docker-init", X_OK) == 0)
		d->engine.init_path = shoal_strdup("/usr/bin/docker-init");
	memset(&no, 0, sizeof(no));
	no.bridge = o->bridge;
	no.bip = o->bip;
	no.state_dir = state;
	no.netns_dir = netns;
	no.helper_path = d->engine.shim_path;
	if (shoal_net_init(&d->net, &d->loop, &no, err) < 0) {
		/* containers on host or none networks still run; bridge ones say why not */
		shoal_log_error("bridge networking is unavailable", "bridge=%s error=%s", o->bridge,
				shoal_log_q(err->msg));
		d->net = NULL;
	}
	d->engine.net = d->net;
	rv = shoal_engine_containers_init(&d->engine, err);
	free(state);
	free(netns);
	return rv;
}

/* The engine's events go out on /events. */
static void engine_event(void *ctx, const char *type, const char *action, const char *id,
			 json_t *attrs)
{
	struct shoal_daemon *d = ctx;

	if (d->agent != NULL && strcmp(type, "container") == 0)
		shoal_agent_exec_container_event(d->agent, action, id);
	if (strcmp(type, "container") == 0)
		shoal_daemon__agent_container_event(d, action, id);
	shoal_api_event_publish(&d->api, type, action, id, attrs, "local");
}

/* The swarm manager, restored from <data-root>/swarm if this node was in a swarm. A swarm
 * that cannot come back is logged and left inactive, as dockerd starts without it. */
static struct shoal_manager *manager_start(struct shoal_daemon *d)
{
	struct shoal_manager_config mc;
	struct shoal_err err = { 0 };

	memset(&mc, 0, sizeof(mc));
	mc.data_root = d->opts->data_root;
	mc.hostname = d->api.sys.hostname;
	mc.engine_version = SHOAL_VERSION;
	mc.ncpu = d->api.sys.ncpu;
	mc.mem_total = d->api.sys.mem_total;
	mc.member_cb = shoal_daemon__agent_member;
	mc.member_ctx = d;
	d->manager = shoal_manager_new(&d->loop, &mc);
	if (shoal_manager_restore(d->manager, &err) < 0)
		shoal_log_error("swarm component could not be started", "error=%s",
				shoal_log_q(err.msg));
	return d->manager;
}

int shoal_daemon_init(struct shoal_daemon *d, struct shoal_daemon_opts *opts, struct shoal_err *err)
{
	struct shoal_api_config cfg;

	memset(d, 0, sizeof(*d));
	d->opts = opts;
	shoal_buf_init(&d->probe_buf);
	if (uv_loop_init(&d->loop) < 0)
		return shoal_errorf(err, 500, "cannot start the event loop");
	d->loop_inited = true;
	/* A client that goes away mid-write must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	if (mkdir_all(opts->data_root, 0711, err) < 0 || mkdir_all(opts->exec_root, 0700, err) < 0)
		return -1;
	if (shoal_daemon_pidfile_check(opts->pidfile, err) < 0)
		return -1;
	d->engine_id = engine_id_load(opts->data_root, err);
	if (d->engine_id == NULL)
		return -1;

	if (shoal_engine_init(&d->engine, &d->loop, opts->data_root, err) < 0)
		return -1;
	d->engine_open = true;
	d->engine.event = engine_event;
	d->engine.event_ctx = d;
	if (containers_init(d, err) < 0)
		return -1;

	{
		struct shoal_registry_config rc;

		memset(&rc, 0, sizeof(rc));
		rc.mirrors = (const char *const *)opts->mirrors;
		rc.nmirrors = opts->nmirrors;
		rc.insecure = (const char *const *)opts->insecure;
		rc.ninsecure = opts->ninsecure;
		rc.max_concurrent_downloads = opts->max_downloads;
		rc.max_concurrent_uploads = opts->max_uploads;
		rc.max_download_attempts = opts->max_download_attempts;
		/* where Docker Hub is; tests point it at a closed loopback port */
		rc.hub_url = getenv("SHOAL_DOCKER_HUB_URL");
		d->registry = shoal_registry_new(&d->loop, &d->engine, &rc, err);
		if (d->registry == NULL)
			return -1;
	}

	memset(&cfg, 0, sizeof(cfg));
	cfg.data_root = opts->data_root;
	cfg.exec_root = opts->exec_root;
	cfg.engine_id = d->engine_id;
	cfg.runc_version = d->runc_version;
	cfg.runc_commit = d->runc_commit;
	cfg.debug = opts->log_level == SHOAL_LOG_DEBUG;
	cfg.engine = &d->engine;
	cfg.registry = d->registry;
	shoal_api_init(&d->api, &d->loop, &cfg);
	d->api.cfg.manager = manager_start(d);
	if (opts->debug_agent_api) {
		/* test-only: tasks come from POST /_shoal/agent/assign, each with its NodeID */
		d->agent = shoal_agent_exec_new(&d->loop, &d->engine, "", shoal_api_agent_report,
						&d->api);
		shoal_agent_exec_set_registry(d->agent, d->registry);
		d->api.cfg.agent = d->agent;
		shoal_log_warn("task executor driven by the test-only /_shoal/agent routes", "%s",
			       "");
	}
	if (shoal_api_listen(&d->api, (const char *const *)opts->hosts, opts->nhosts, err) < 0)
		return -1;
	if (pidfile_write(opts->pidfile, err) < 0)
		return -1;
	d->pidfile_written = true;

	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	d->sigterm.data = d->sigint.data = d;
	uv_signal_start(&d->sigterm, on_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_signal, SIGINT);
	probe_runc(d);
	shoal_log_info("Daemon has completed initialization", "version=%s data-root=%s",
		       SHOAL_VERSION, shoal_log_q(opts->data_root));
	return 0;
}

int shoal_daemon_run(struct shoal_daemon *d)
{
	uv_run(&d->loop, UV_RUN_DEFAULT);
	return 0;
}

static bool engine_has_running(struct shoal_engine *e)
{
	struct shoal_list *pos;

	if (!e->containers.next)
		return false;
	shoal_list_foreach(pos, &e->containers) {
		struct shoal_container *c = shoal_list_entry(pos, struct shoal_container, link);

		if (c->state == SHOAL_CONTAINER_RUNNING || c->state == SHOAL_CONTAINER_PAUSED)
			return true;
	}
	return false;
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void shoal_daemon_fini(struct shoal_daemon *d)
{
	if (d->loop_inited) {
		if (!d->stopping && d->api.loop != NULL) {
			/* init failed half-way: close what was opened */
			d->stopping = true;
			shoal_api_close(&d->api, 0, NULL);
			/* let the servers finish closing their own handles first */
			while (d->api.servers != NULL && uv_run(&d->loop, UV_RUN_ONCE) != 0)
				;
		}
		if (d->agent != NULL) {
			shoal_agent_exec_close(d->agent, NULL, NULL);
			d->agent = NULL;
		}
		shoal_daemon__agent_close(d);
		if (d->registry != NULL) {
			shoal_registry_close(d->registry, registry_closed, d);
			d->registry = NULL;
			while (!d->registry_closed && uv_run(&d->loop, UV_RUN_ONCE) != 0)
				;
		}
		if (d->manager != NULL) {
			/* raft's handles must close through libraft, before the walk below */
			shoal_manager_close(d->manager, manager_closed, d);
			d->manager = NULL;
			while (!d->manager_closed && uv_run(&d->loop, UV_RUN_ONCE) != 0)
				;
		}
		uv_walk(&d->loop, close_any, NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		/* nothing can call back into a closed raft node now */
		shoal_raft_reap();
		/* the run above also let the engine's pool jobs land */
		if (d->net != NULL) {
			/* the bridge and table go with the last running container */
			shoal_net_close(d->net, !engine_has_running(&d->engine));
			d->net = NULL;
		}
		if (d->engine_open)
			shoal_engine_fini(&d->engine);
		if (uv_loop_close(&d->loop) == UV_EBUSY)
			shoal_log_warn("handles left open at exit", "%s", "");
	}
	if (d->pidfile_written)
		unlink(d->opts->pidfile);
	free(d->engine_id);
	shoal_buf_fini(&d->probe_buf);
}
