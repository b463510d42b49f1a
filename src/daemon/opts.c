/* shoald's command line, spelt as dockerd's so the same unit files and habits work. */
#include "daemon/daemon.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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
	OPT_REGISTRY_MIRROR,
	OPT_INSECURE_REGISTRY,
	OPT_CONFIG_FILE,
	OPT_MAX_DOWNLOADS,
	OPT_MAX_UPLOADS,
	OPT_MAX_DOWNLOAD_ATTEMPTS,
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
	{ "registry-mirror", required_argument, NULL, OPT_REGISTRY_MIRROR },
	{ "insecure-registry", required_argument, NULL, OPT_INSECURE_REGISTRY },
	{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
	{ "max-concurrent-downloads", required_argument, NULL, OPT_MAX_DOWNLOADS },
	{ "max-concurrent-uploads", required_argument, NULL, OPT_MAX_UPLOADS },
	{ "max-download-attempts", required_argument, NULL, OPT_MAX_DOWNLOAD_ATTEMPTS },
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
	       "      --config-file string  Daemon configuration file (default \"%s\")\n"
	       "      --data-root string   Root directory of persistent state (default \"%s\")\n"
	       "  -D, --debug              Enable debug mode\n"
	       "      --default-runtime string  Default OCI runtime for containers (default \"runc\")\n"
	       "      --exec-root string   Root directory for execution state files (default \"%s\")\n"
	       "  -h, --help               Print usage\n"
	       "  -H, --host list          Daemon socket(s) to connect to (default %s)\n"
	       "      --insecure-registry list  Enable insecure registry communication\n"
	       "  -l, --log-level string   Set the logging level (\"debug\"|\"info\"|\"warn\"|\"error\"|\"fatal\") (default \"info\")\n"
	       "      --max-concurrent-downloads int  Set the max concurrent downloads for each pull (default 3)\n"
	       "      --max-concurrent-uploads int  Set the max concurrent uploads for each push (default 5)\n"
	       "      --max-download-attempts int  Set the max download attempts for each pull (default 5)\n"
	       "  -p, --pidfile string     Path to use for daemon PID file (default \"%s\")\n"
	       "      --registry-mirror list  Preferred Docker registry mirror\n"
	       "  -v, --version            Print version information and quit\n",
	       argv0, SHOAL_DAEMON_DEFAULT_BIP, SHOAL_DAEMON_DEFAULT_BRIDGE,
	       SHOAL_DAEMON_DEFAULT_CONFIG, SHOAL_DAEMON_DEFAULT_DATA_ROOT,
	       SHOAL_DAEMON_DEFAULT_EXEC_ROOT, SHOAL_DAEMON_DEFAULT_HOST,
	       SHOAL_DAEMON_DEFAULT_PIDFILE);
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

static void strv_add(char ***v, size_t *n, const char *s)
{
	*v = shoal_realloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = shoal_strdup(s);
}

/* pflag's int: "invalid argument \"x\" for \"--flag\" flag: strconv.ParseInt: ..." */
static int parse_int(const char *flag, const char *v, int *out, struct shoal_err *err)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < -2147483647L || n > 2147483647L)
		return shoal_errorf(
			err, 400,
			"invalid argument \"%s\" for \"--%s\" flag: strconv.ParseInt: parsing \"%s\": invalid syntax",
			v, flag, v);
	*out = (int)n;
	return 0;
}

/* Which directives the command line gave, to refuse them in daemon.json too. */
enum {
	GIVEN_HOSTS = 1 << 0,
	GIVEN_DATA_ROOT = 1 << 1,
	GIVEN_EXEC_ROOT = 1 << 2,
	GIVEN_PIDFILE = 1 << 3,
	GIVEN_LOG_LEVEL = 1 << 4,
	GIVEN_DEBUG = 1 << 5,
	GIVEN_BRIDGE = 1 << 6,
	GIVEN_BIP = 1 << 7,
	GIVEN_RUNTIMES = 1 << 8,
	GIVEN_DEFAULT_RUNTIME = 1 << 9,
	GIVEN_MIRRORS = 1 << 10,
	GIVEN_INSECURE = 1 << 11,
	GIVEN_DOWNLOADS = 1 << 12,
	GIVEN_UPLOADS = 1 << 13,
	GIVEN_ATTEMPTS = 1 << 14,
};

struct directive {
	const char *key;
	unsigned flag;
};

static const struct directive directives[] = {
	{ "hosts", GIVEN_HOSTS },
	{ "data-root", GIVEN_DATA_ROOT },
	{ "exec-root", GIVEN_EXEC_ROOT },
	{ "pidfile", GIVEN_PIDFILE },
	{ "log-level", GIVEN_LOG_LEVEL },
	{ "debug", GIVEN_DEBUG },
	{ "bridge", GIVEN_BRIDGE },
	{ "bip", GIVEN_BIP },
	{ "runtimes", GIVEN_RUNTIMES },
	{ "default-runtime", GIVEN_DEFAULT_RUNTIME },
	{ "registry-mirrors", GIVEN_MIRRORS },
	{ "insecure-registries", GIVEN_INSECURE },
	{ "max-concurrent-downloads", GIVEN_DOWNLOADS },
	{ "max-concurrent-uploads", GIVEN_UPLOADS },
	{ "max-download-attempts", GIVEN_ATTEMPTS },
};

static int file_strings(const char *path, const char *key, json_t *v, char ***out, size_t *n,
			struct shoal_err *err)
{
	json_t *item;
	size_t i;

	if (!json_is_array(v))
		return shoal_errorf(
			err, 400,
			"unable to configure the Docker daemon with file %s: %s must be a list of strings",
			path, key);
	json_array_foreach(v, i, item) {
		if (!json_is_string(item))
			return shoal_errorf(
				err, 400,
				"unable to configure the Docker daemon with file %s: %s must be a list of strings",
				path, key);
		strv_add(out, n, json_string_value(item));
	}
	return 0;
}

static int file_string(const char *path, const char *key, json_t *v, char **out,
		       struct shoal_err *err)
{
	if (!json_is_string(v))
		return shoal_errorf(
			err, 400,
			"unable to configure the Docker daemon with file %s: %s must be a string",
			path, key);
	set_str(out, json_string_value(v));
	return 0;
}

static int file_int(const char *path, const char *key, json_t *v, int *out, struct shoal_err *err)
{
	if (!json_is_integer(v))
		return shoal_errorf(
			err, 400,
			"unable to configure the Docker daemon with file %s: %s must be a number",
			path, key);
	*out = (int)json_integer_value(v);
	return 0;
}

/* dockerd's daemon.json, after the flags. */
static int config_file_load(struct shoal_daemon_opts *o, unsigned given, bool explicit_file,
			    struct shoal_err *err)
{
	const char *path = o->config_file;
	json_error_t jerr;
	json_t *root, *v;
	const char *key;
	char conflicts[512] = "";
	size_t i;
	int rv = -1;

	root = json_load_file(path, 0, &jerr);
	if (root == NULL) {
		FILE *f = fopen(path, "r");

		if (f == NULL && errno == ENOENT && !explicit_file)
			return 0; /* the default file is optional */
		if (f == NULL)
			return shoal_errorf(err, 400, "open %s: %s", path, strerror(errno));
		fclose(f);
		return shoal_errorf(err, 400,
				    "unable to configure the Docker daemon with file %s: %s", path,
				    jerr.text);
	}
	if (!json_is_object(root)) {
		shoal_errorf(
			err, 400,
			"unable to configure the Docker daemon with file %s: not a JSON object",
			path);
		goto out;
	}
	for (i = 0; i < sizeof(directives) / sizeof(directives[0]); i++) {
		if (json_object_get(root, directives[i].key) == NULL ||
		    !(given & directives[i].flag))
			continue;
		snprintf(conflicts + strlen(conflicts), sizeof(conflicts) - strlen(conflicts),
			 "%s%s", conflicts[0] != '\0' ? ", " : "", directives[i].key);
	}
	if (conflicts[0] != '\0') {
		shoal_errorf(
			err, 400,
			"the following directives are specified both as a flag and in the configuration file: %s",
			conflicts);
		goto out;
	}
	json_object_foreach(root, key, v) {
		int r = 0;

		if (strcmp(key, "registry-mirrors") == 0) {
			r = file_strings(path, key, v, &o->mirrors, &o->nmirrors, err);
		} else if (strcmp(key, "insecure-registries") == 0) {
			r = file_strings(path, key, v, &o->insecure, &o->ninsecure, err);
		} else if (strcmp(key, "max-concurrent-downloads") == 0) {
			r = file_int(path, key, v, &o->max_downloads, err);
		} else if (strcmp(key, "max-concurrent-uploads") == 0) {
			r = file_int(path, key, v, &o->max_uploads, err);
		} else if (strcmp(key, "max-download-attempts") == 0) {
			r = file_int(path, key, v, &o->max_download_attempts, err);
		} else if (strcmp(key, "data-root") == 0) {
			r = file_string(path, key, v, &o->data_root, err);
		} else if (strcmp(key, "exec-root") == 0) {
			r = file_string(path, key, v, &o->exec_root, err);
		} else if (strcmp(key, "pidfile") == 0) {
			r = file_string(path, key, v, &o->pidfile, err);
		} else if (strcmp(key, "bridge") == 0) {
			r = file_string(path, key, v, &o->bridge, err);
		} else if (strcmp(key, "bip") == 0) {
			r = file_string(path, key, v, &o->bip, err);
		} else if (strcmp(key, "default-runtime") == 0) {
			r = file_string(path, key, v, &o->default_runtime, err);
		} else if (strcmp(key, "debug") == 0) {
			if (json_is_true(v))
				o->log_level = SHOAL_LOG_DEBUG;
		} else if (strcmp(key, "log-level") == 0) {
			if (!json_is_string(v) ||
			    shoal_log_level_parse(json_string_value(v), &o->log_level) < 0)
				r = shoal_errorf(err, 400, "unable to parse logging level: %s",
						 json_is_string(v) ? json_string_value(v) : "?");
		} else if (strcmp(key, "hosts") == 0) {
			char **hosts = NULL;
			size_t nh = 0, k;

			r = file_strings(path, key, v, &hosts, &nh, err);
			for (k = 0; r == 0 && k < nh; k++) {
				char *h = normalize_host(hosts[k], err);

				if (h == NULL) {
					r = -1;
					break;
				}
				o->hosts =
					shoal_realloc(o->hosts, (o->nhosts + 1) * sizeof(char *));
				o->hosts[o->nhosts++] = h;
			}
			for (k = 0; k < nh; k++)
				free(hosts[k]);
			free(hosts);
		} else if (strcmp(key, "runtimes") == 0) {
			const char *name;
			json_t *rt;

			json_object_foreach(v, name, rt) {
				const char *rp = json_string_value(json_object_get(rt, "path"));
				char *spec;

				if (rp == NULL) {
					r = shoal_errorf(err, 400, "runtime %s has no path", name);
					break;
				}
				spec = shoal_asprintf("%s=%s", name, rp);
				strv_add(&o->runtimes, &o->nruntimes, spec);
				free(spec);
			}
		} else {
			/* dockerd refuses what it does not know; a key Shoal does not
			 * implement is noted and left alone, so one daemon.json serves both */
			shoal_log(SHOAL_LOG_WARN, "daemon", "ignoring a daemon.json directive",
				  "key=%s file=%s", shoal_log_q(key), shoal_log_q(path));
		}
		if (r < 0)
			goto out;
	}
	rv = 0;
out:
	json_decref(root);
	return rv;
}

int shoal_daemon_opts_parse(struct shoal_daemon_opts *o, int argc, char **argv,
			    struct shoal_err *err)
{
	bool explicit_file = false;
	unsigned given = 0;
	int c;

	memset(o, 0, sizeof(*o));
	o->log_level = SHOAL_LOG_INFO;
	o->data_root = shoal_strdup(SHOAL_DAEMON_DEFAULT_DATA_ROOT);
	o->exec_root = shoal_strdup(SHOAL_DAEMON_DEFAULT_EXEC_ROOT);
	o->pidfile = shoal_strdup(SHOAL_DAEMON_DEFAULT_PIDFILE);
	o->bridge = shoal_strdup(SHOAL_DAEMON_DEFAULT_BRIDGE);
	o->bip = shoal_strdup(SHOAL_DAEMON_DEFAULT_BIP);
	o->default_runtime = shoal_strdup("runc");
	o->config_file = shoal_strdup(SHOAL_DAEMON_DEFAULT_CONFIG);
	/* 0, not 1: glibc then also forgets a half-read group of short flags */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":H:p:l:b:Dvh", long_opts, NULL)) != -1) {
		char *h;

		switch (c) {
		case 'H':
			given |= GIVEN_HOSTS;
			h = normalize_host(optarg, err);
			if (h == NULL)
				return -1;
			o->hosts = shoal_realloc(o->hosts, (o->nhosts + 1) * sizeof(*o->hosts));
			o->hosts[o->nhosts++] = h;
			break;
		case OPT_DATA_ROOT:
			given |= GIVEN_DATA_ROOT;
			set_str(&o->data_root, optarg);
			break;
		case OPT_EXEC_ROOT:
			given |= GIVEN_EXEC_ROOT;
			set_str(&o->exec_root, optarg);
			break;
		case 'p':
			given |= GIVEN_PIDFILE;
			set_str(&o->pidfile, optarg);
			break;
		case 'b':
			if (strlen(optarg) > 15)
				return shoal_errorf(err, 400,
						    "bridge name %s is longer than 15 characters",
						    optarg);
			given |= GIVEN_BRIDGE;
			set_str(&o->bridge, optarg);
			break;
		case OPT_BIP:
			given |= GIVEN_BIP;
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
			given |= GIVEN_RUNTIMES;
			break;
		}
		case OPT_DEFAULT_RUNTIME:
			given |= GIVEN_DEFAULT_RUNTIME;
			set_str(&o->default_runtime, optarg);
			break;
		case OPT_REGISTRY_MIRROR:
			given |= GIVEN_MIRRORS;
			strv_add(&o->mirrors, &o->nmirrors, optarg);
			break;
		case OPT_INSECURE_REGISTRY:
			given |= GIVEN_INSECURE;
			strv_add(&o->insecure, &o->ninsecure, optarg);
			break;
		case OPT_CONFIG_FILE:
			explicit_file = true;
			set_str(&o->config_file, optarg);
			break;
		case OPT_MAX_DOWNLOADS:
			given |= GIVEN_DOWNLOADS;
			if (parse_int("max-concurrent-downloads", optarg, &o->max_downloads, err) <
			    0)
				return -1;
			break;
		case OPT_MAX_UPLOADS:
			given |= GIVEN_UPLOADS;
			if (parse_int("max-concurrent-uploads", optarg, &o->max_uploads, err) < 0)
				return -1;
			break;
		case OPT_MAX_DOWNLOAD_ATTEMPTS:
			given |= GIVEN_ATTEMPTS;
			if (parse_int("max-download-attempts", optarg, &o->max_download_attempts,
				      err) < 0)
				return -1;
			break;
		case OPT_DEBUG_AGENT_API:
			o->debug_agent_api = true;
			break;
		case 'l':
			given |= GIVEN_LOG_LEVEL;
			if (shoal_log_level_parse(optarg, &o->log_level) < 0)
				return shoal_errorf(err, 400, "unable to parse logging level: %s",
						    optarg);
			break;
		case 'D':
			given |= GIVEN_DEBUG;
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
	if (!o->show_help && !o->show_version && config_file_load(o, given, explicit_file, err) < 0)
		return -1;
	/* dockerd's ValidatePlatformConfig checks */
	if (o->max_downloads < 0)
		return shoal_errorf(err, 400, "invalid max concurrent downloads: %d",
				    o->max_downloads);
	if (o->max_uploads < 0)
		return shoal_errorf(err, 400, "invalid max concurrent uploads: %d", o->max_uploads);
	if ((given & GIVEN_ATTEMPTS || o->max_download_attempts != 0) &&
	    o->max_download_attempts <= 0)
		return shoal_errorf(err, 400, "invalid max download attempts: %d",
				    o->max_download_attempts);
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
	for (i = 0; i < o->nmirrors; i++)
		free(o->mirrors[i]);
	free(o->mirrors);
	for (i = 0; i < o->ninsecure; i++)
		free(o->insecure[i]);
	free(o->insecure);
	free(o->config_file);
	memset(o, 0, sizeof(*o));
}
