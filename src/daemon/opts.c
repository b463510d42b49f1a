/* shoald's command line, spelt as dockerd's so the same unit files and habits work. */
#include "daemon/daemon.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

enum {
	OPT_DATA_ROOT = 256,
	OPT_EXEC_ROOT,
	OPT_PIDFILE,
	OPT_LOG_LEVEL,
	OPT_BRIDGE,
	OPT_BIP,
	OPT_ADD_RUNTIME,
	OPT_DEFAULT_RUNTIME,
	OPT_DEBUG_AGENT_API,
};

static const struct option long_opts[] = {
	{ "host", required_argument, NULL, 'H' },
	{ "data-root", required_argument, NULL, OPT_DATA_ROOT },
	{ "exec-root", required_argument, NULL, OPT_EXEC_ROOT },
	{ "pidfile", required_argument, NULL, 'p' },
	{ "log-level", required_argument, NULL, 'l' },
	{ "debug", no_argument, NULL, 'D' },
	{ "bridge", required_argument, NULL, 'b' },
	{ "bip", required_argument, NULL, OPT_BIP },
	{ "add-runtime", required_argument, NULL, OPT_ADD_RUNTIME },
	{ "default-runtime", required_argument, NULL, OPT_DEFAULT_RUNTIME },
	/* test-only, left out of --help: tests drive the task executor over the API */
	{ "debug-agent-api", no_argument, NULL, OPT_DEBUG_AGENT_API },
	{ "version", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void shoal_daemon_usage(const char *argv0)
{
	printf("Usage:\t%s [OPTIONS]\n"
	       "\n"
	       "A self-sufficient runtime for containers, in swarm mode (Shoal).\n"
	       "\n"
	       "Options:\n"
	       "      --add-runtime runtime  Register an additional OCI compatible runtime (name=path)\n"
	       "      --bip string         Specify network bridge IP (default \"%s\")\n"
	       "  -b, --bridge string      Attach containers to a network bridge (default \"%s\")\n"
	       "      --data-root string   Root directory of persistent state (default \"%s\")\n"
	       "  -D, --debug              Enable debug mode\n"
	       "      --default-runtime string  Default OCI runtime for containers (default \"runc\")\n"
	       "      --exec-root string   Root directory for execution state files (default \"%s\")\n"
	       "  -h, --help               Print usage\n"
	       "  -H, --host list          Daemon socket(s) to connect to (default %s)\n"
	       "  -l, --log-level string   Set the logging level (\"debug\"|\"info\"|\"warn\"|\"error\"|\"fatal\") (default \"info\")\n"
	       "  -p, --pidfile string     Path to use for daemon PID file (default \"%s\")\n"
	       "  -v, --version            Print version information and quit\n",
	       argv0, SHOAL_DAEMON_DEFAULT_BIP, SHOAL_DAEMON_DEFAULT_BRIDGE,
	       SHOAL_DAEMON_DEFAULT_DATA_ROOT, SHOAL_DAEMON_DEFAULT_EXEC_ROOT,
	       SHOAL_DAEMON_DEFAULT_HOST, SHOAL_DAEMON_DEFAULT_PIDFILE);
}

/* dockerd accepts a bare path, "fd://" aside, and host:port as tcp. */
static char *normalize_host(const char *h, struct shoal_err *err)
{
	if (strncmp(h, "unix://", 7) == 0) {
		if (h[7] == '\0')
			return shoal_strdup(SHOAL_DAEMON_DEFAULT_HOST);
		return shoal_strdup(h);
	}
	if (strncmp(h, "tcp://", 6) == 0) {
		/* dockerd's defaults: tcp://HOST means HOST:2375, an empty host 127.0.0.1 */
		const char *host = h[6] != '\0' ? h + 6 : "127.0.0.1";

		if (strchr(host, ':') == NULL || host[strlen(host) - 1] == ':')
			return shoal_asprintf("tcp://%s%s2375", host,
					      host[strlen(host) - 1] == ':' ? "" : ":");
		return shoal_strdup(h);
	}
	if (h[0] == '/')
		return shoal_asprintf("unix://%s", h);
	if (strstr(h, "://") != NULL) {
		shoal_errorf(err, 400, "invalid bind address format: %s", h);
		return NULL;
	}
	if (strchr(h, ':') != NULL)
		return shoal_asprintf("tcp://%s", h);
	shoal_errorf(err, 400, "invalid bind address format: %s", h);
	return NULL;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = shoal_strdup(v);
}

int shoal_daemon_opts_parse(struct shoal_daemon_opts *o, int argc, char **argv,
			    struct shoal_err *err)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->log_level = SHOAL_LOG_INFO;
	o->data_root = shoal_strdup(SHOAL_DAEMON_DEFAULT_DATA_ROOT);
	o->exec_root = shoal_strdup(SHOAL_DAEMON_DEFAULT_EXEC_ROOT);
	o->pidfile = shoal_strdup(SHOAL_DAEMON_DEFAULT_PIDFILE);
	o->bridge = shoal_strdup(SHOAL_DAEMON_DEFAULT_BRIDGE);
	o->bip = shoal_strdup(SHOAL_DAEMON_DEFAULT_BIP);
	o->default_runtime = shoal_strdup("runc");
	/* 0, not 1: glibc then also forgets a half-read group of short flags */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":H:p:l:b:Dvh", long_opts, NULL)) != -1) {
		char *h;

		switch (c) {
		case 'H':
			h = normalize_host(optarg, err);
			if (h == NULL)
				return -1;
			o->hosts = shoal_realloc(o->hosts, (o->nhosts + 1) * sizeof(*o->hosts));
			o->hosts[o->nhosts++] = h;
			break;
		case OPT_DATA_ROOT:
			set_str(&o->data_root, optarg);
			break;
		case OPT_EXEC_ROOT:
			set_str(&o->exec_root, optarg);
			break;
		case 'p':
			set_str(&o->pidfile, optarg);
			break;
		case 'b':
			if (strlen(optarg) > 15)
				return shoal_errorf(err, 400,
						    "bridge name %s is longer than 15 characters",
						    optarg);
			set_str(&o->bridge, optarg);
			break;
		case OPT_BIP:
			set_str(&o->bip, optarg);
			break;
		case OPT_ADD_RUNTIME: {
			const char *eq = strchr(optarg, '=');

			if (eq == NULL || eq == optarg || eq[1] == '\0')
				return shoal_errorf(
					err, 400, "invalid runtime %s: use --add-runtime name=path",
					optarg);
			o->runtimes = shoal_realloc(o->runtimes,
						    (o->nruntimes + 1) * sizeof(*o->runtimes));
			o->runtimes[o->nruntimes++] = shoal_strdup(optarg);
			break;
		}
		case OPT_DEFAULT_RUNTIME:
			set_str(&o->default_runtime, optarg);
			break;
		case OPT_DEBUG_AGENT_API:
			o->debug_agent_api = true;
			break;
		case 'l':
			if (shoal_log_level_parse(optarg, &o->log_level) < 0)
				return shoal_errorf(err, 400, "unable to parse logging level: %s",
						    optarg);
			break;
		case 'D':
			o->log_level = SHOAL_LOG_DEBUG;
			break;
		case 'v':
			o->show_version = true;
			break;
		case 'h':
			o->show_help = true;
			break;
		case ':':
			return shoal_errorf(err, 400, "flag needs an argument: %s",
					    argv[optind - 1]);
		default:
			if (optopt != 0)
				return shoal_errorf(err, 400, "unknown flag: -%c", optopt);
			return shoal_errorf(err, 400, "unknown flag: %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return shoal_errorf(err, 400, "shoald takes no arguments, got \"%s\"",
				    argv[optind]);
	if (o->nhosts == 0) {
		o->hosts = shoal_malloc(sizeof(*o->hosts));
		o->hosts[o->nhosts++] = shoal_strdup(SHOAL_DAEMON_DEFAULT_HOST);
	}
	if (o->data_root[0] != '/' || o->exec_root[0] != '/' || o->pidfile[0] != '/')
		return shoal_errorf(
			err, 400, "--data-root, --exec-root and --pidfile must be absolute paths");
	return 0;
}

void shoal_daemon_opts_fini(struct shoal_daemon_opts *o)
{
	size_t i;

	for (i = 0; i < o->nhosts; i++)
		free(o->hosts[i]);
	free(o->hosts);
	free(o->data_root);
	free(o->exec_root);
	free(o->pidfile);
	free(o->bridge);
	free(o->bip);
	for (i = 0; i < o->nruntimes; i++)
		free(o->runtimes[i]);
	free(o->runtimes);
	free(o->default_runtime);
	memset(o, 0, sizeof(*o));
}
