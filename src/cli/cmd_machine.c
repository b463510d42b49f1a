/* `shoal machine`: docker-machine's commands for local nodes made of namespaces
 * (src/machine does the work). The texts are docker-machine's, so the tutorials' outputs
 * read the same: `ls` prints its table (DRIVER "shoal" where it showed "virtualbox"),
 * `env` its export lines (no TLS variables: nodes speak plain HTTP on 2376), `rm` its
 * "About to remove" lines. Every subcommand takes -s/--storage-path (default
 * $MACHINE_STORAGE_PATH, else /var/lib/shoal-machine), as docker-machine's global flag. */
#include "cli/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "machine/machine.h"

#define STORAGE_OPT                                                                                                     \
	{                                                                                                               \
		"storage-path", 's', SHOAL_CLI_OPT_STRING, NULL, NULL,                                                  \
			"Configures storage path (default $MACHINE_STORAGE_PATH, else \"" SHOAL_MACHINE_DEFAULT_STORAGE \
			"\")"                                                                                           \
	}

/* docker-machine ls's default format and its tabwriter (5, 1, 3, ' ', 0). */
static const char ls_default_format[] =
	"table {{ .Name }}\\t{{ .Active }}\\t{{ .DriverName}}\\t{{ .State }}\\t{{ .URL }}\\t{{ .Swarm }}\\t{{ .DockerVersion }}\\t{{ .Error}}";
#define LS_MINWIDTH 5
#define LS_PADDING  3

static const char *storage(const struct shoal_cli_args *args)
{
	const char *s = shoal_cli_flag_str(args, "storage-path");

	if (s == NULL || *s == '\0')
		s = getenv("MACHINE_STORAGE_PATH");
	return s != NULL && *s != '\0' ? s : SHOAL_MACHINE_DEFAULT_STORAGE;
}

static const char *state_name(enum shoal_machine_state s)
{
	switch (s) {
	case SHOAL_MACHINE_RUNNING:
		return "Running";
	case SHOAL_MACHINE_STOPPED:
		return "Stopped";
	default:
		return "Error";
	}
}

/* Collects the per-machine errors of a command over several machines as docker-machine's
 * consolidateErrs: one per line. */
static void add_error(struct shoal_buf *errs, const char *prefix, const char *msg)
{
	if (errs->len > 0)
		shoal_buf_addc(errs, '\n');
	shoal_buf_addf(errs, "%s%s", prefix, msg);
}

static int errors_out(struct shoal_buf *errs, struct shoal_err *err)
{
	int rv = 0;

	if (errs->len > 0)
		rv = shoal_errorf(err, 500, "%s", errs->data);
	shoal_buf_fini(errs);
	return rv;
}

/* create ********************************************************************************/

static int create_run(struct shoal_cli *cli, const struct shoal_cli_args *args,
		      struct shoal_err *err)
{
	const char *driver = shoal_cli_flag_str(args, "driver"), *name = args->argv[0];
	struct shoal_machine m;
	char *shoald = NULL;
	int rv = -1;

	if (strcmp(driver, SHOAL_MACHINE_DRIVER) != 0 && strcmp(driver, "virtualbox") != 0)
		return shoal_errorf(
			err, 400,
			"Driver \"%s\" not found. Do you have the plugin binary \"docker-machine-driver-%s\" accessible in your PATH?",
			driver, driver);
	if (!shoal_machine_name_valid(name))
		return shoal_errorf(
			err, 400,
			"Error creating machine: Invalid hostname specified. Allowed hostname chars are: 0-9a-zA-Z . -");
	if (shoal_machine_get(storage(args), name, &m, err) == 0)
		return shoal_errorf(err, 409, "Host already exists: \"%s\"", name);
	if (err->status != 404)
		return -1;
	shoal_err_clear(err);
	shoald = shoal_machine_shoald_path();
	fprintf(cli->out, "Creating machine...\n");
	fflush(cli->out);
	if (shoal_machine_create_engine(storage(args), name, shoal_cli_flag_str(args, "subnet"),
					shoald, shoal_cli_flag_str(args, "engine-registry-mirror"),
					shoal_cli_flag_str(args, "engine-insecure-registry"), &m,
					err) < 0) {
		if (err->status == 500)
			shoal_err_wrap(
				err,
				"Error creating machine: Error in driver during machine creation");
		else if (strncmp(err->msg, "Host already exists", 19) != 0)
			shoal_err_wrap(err, "Error creating machine");
		goto out;
	}
	fprintf(cli->out, "(%s) Address %s on bridge %s, shoald listening on tcp://%s:%d\n", name,
		m.ip, m.bridge, m.ip, SHOAL_MACHINE_DOCKER_PORT);
	fprintf(cli->out, "Docker is up and running!\n");
	fprintf(cli->out,
		"To see how to connect your Docker Client to the Docker Engine running on this virtual machine, run: shoal machine env %s\n",
		name);
	rv = 0;
out:
	free(shoald);
	return rv;
}

static const struct shoal_cli_opt create_opts[] = {
	{ "driver", 'd', SHOAL_CLI_OPT_STRING, NULL, SHOAL_MACHINE_DRIVER,
	  "Driver to create machine with (\"virtualbox\" is taken as \"shoal\")" },
	STORAGE_OPT,
	{ "subnet", 0, SHOAL_CLI_OPT_STRING, "cidr", NULL,
	  "Subnet of the host bridge (default: the subnet of the other machines, else \"" SHOAL_MACHINE_DEFAULT_SUBNET
	  "\")" },
	{ "engine-registry-mirror", 0, SHOAL_CLI_OPT_STRING, "string", NULL,
	  "Specify registry mirrors to use" },
	{ "engine-insecure-registry", 0, SHOAL_CLI_OPT_STRING, "string", NULL,
	  "Specify insecure registries to allow with the created engine" },
	{ NULL },
};

static const struct shoal_cli_cmd cmd_create = {
	.name = "create",
	.use = "create [OPTIONS] NAME",
	.short_help = "Create a machine",
	.group = SHOAL_CLI_GROUP_OTHER,
	.opts = create_opts,
	.min_args = 1,
	.max_args = 1,
	.run = create_run,
};

/* ls ************************************************************************************/

/* One row of `ls` as docker-machine's HostListItem, with a timeout for the version. */
static json_t *ls_item(const struct shoal_machine *m, long timeout_ms)
{
	const char *docker_host = getenv("DOCKER_HOST");
	char version[64], url[64] = "", dv[80] = "Unknown", error[600] = "", rt[32];
	struct shoal_err verr;
	struct timespec t0, t1;
	bool active = false;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (m->state == SHOAL_MACHINE_ERROR)
		return json_pack("{s:s, s:s, s:b, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Name",
				 m->name, "Active", "", "ActiveHost", 0, "ActiveSwarm", 0,
				 "DriverName", "not found", "State", "Error", "URL", "", "Swarm",
				 "", "DockerVersion", "", "Error", m->error, "ResponseTime", "0s");
	if (m->state == SHOAL_MACHINE_RUNNING) {
		snprintf(url, sizeof(url), "tcp://%s:%d", m->ip, SHOAL_MACHINE_DOCKER_PORT);
		shoal_err_clear(&verr);
		if (shoal_machine_docker_version(m, timeout_ms, version, sizeof(version), &verr) ==
		    0)
			snprintf(dv, sizeof(dv), "v%s", version);
		else
			snprintf(error, sizeof(error), "Unable to query docker version: %s",
				 verr.msg);
		active = docker_host != NULL && strcmp(docker_host, url) == 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	snprintf(rt, sizeof(rt), "%ldms", ms);
	return json_pack("{s:s, s:s, s:b, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Name", m->name,
			 "Active", active ? "*" : "-", "ActiveHost", active, "ActiveSwarm", 0,
			 "DriverName", SHOAL_MACHINE_DRIVER, "State", state_name(m->state), "URL",
			 url, "Swarm", "", "DockerVersion", dv, "Error", error, "ResponseTime", rt);
}

/* docker-machine's parseFormat and its loop: "table" prefix means a header through the
 * tabwriter; the template always gets a newline appended. */
static int ls_render(const char *format, json_t *items, struct shoal_buf *out,
		     struct shoal_err *err)
{
	struct shoal_cli_tmpl *t = NULL;
	struct shoal_cli_tabwriter tw;
	struct shoal_buf rows;
	json_t *header = NULL;
	const char *text;
	char *src = NULL;
	bool table;
	size_t i, len;
	int rv = -1;

	shoal_buf_init(&rows);
	if (format == NULL || *format == '\0')
		format = ls_default_format;
	table = strncmp(format, "table", 5) == 0;
	text = table ? format + 5 : format;
	while (*text == ' ')
		text++;
	len = strlen(text);
	while (len > 0 && text[len - 1] == ' ')
		len--;
	src = shoal_asprintf("%.*s\n", (int)len, text);
	t = shoal_cli_tmpl_parse("", src, SHOAL_CLI_TMPL_ESCAPES, err);
	if (t == NULL)
		goto out;
	if (table) {
		header = json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Name",
			"NAME", "Active", "ACTIVE", "ActiveHost", "ACTIVE_HOST", "ActiveSwarm",
			"ACTIVE_SWARM", "DriverName", "DRIVER", "State", "STATE", "URL", "URL",
			"SwarmOptions", "SWARM_OPTIONS", "Swarm", "SWARM", "EngineOptions",
			"ENGINE_OPTIONS", "Error", "ERRORS", "DockerVersion", "DOCKER",
			"ResponseTime", "RESPONSE");
		if (shoal_cli_tmpl_exec(t, header, 0, &rows, err) < 0)
			goto out;
	}
	for (i = 0; i < json_array_size(items); i++)
		if (shoal_cli_tmpl_exec(t, json_array_get(items, i), 0, &rows, err) < 0)
			goto out;
	if (!table) {
		shoal_buf_add(out, rows.data, rows.len);
	} else {
		shoal_cli_tabwriter_init(&tw, out, LS_MINWIDTH, 1, LS_PADDING, ' ');
		shoal_cli_tabwriter_write(&tw, rows.data, rows.len);
		shoal_cli_tabwriter_flush(&tw);
		shoal_cli_tabwriter_fini(&tw);
	}
	rv = 0;
out:
	json_decref(header);
	shoal_cli_tmpl_free(t);
	free(src);
	shoal_buf_fini(&rows);
	return rv;
}

static int ls_run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	const char *tstr = shoal_cli_flag_str(args, "timeout");
	struct shoal_machine *ms = NULL;
	json_t *items = NULL;
	struct shoal_buf out;
	size_t n = 0, i;
	char *end;
	long timeout;
	int rv = -1;

	shoal_buf_init(&out);
	timeout = strtol(tstr, &end, 10);
	if (*end != '\0' || timeout <= 0) {
		cli->exit_status = 125;
		shoal_errorf(err, 400, "invalid value \"%s\" for flag -t: parse error", tstr);
		goto out;
	}
	if (shoal_machine_list(storage(args), &ms, &n, err) < 0)
		goto out;
	if (shoal_cli_flag_bool(args, "quiet")) {
		for (i = 0; i < n; i++)
			shoal_buf_addf(&out, "%s\n", ms[i].name);
		shoal_cli__print(cli, &out);
		rv = 0;
		goto out;
	}
	items = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(items, ls_item(&ms[i], timeout * 1000));
	if (ls_render(shoal_cli_flag_str(args, "format"), items, &out, err) < 0) {
		shoal_cli__tmpl_parse_failed(cli, err);
		goto out;
	}
	shoal_cli__print(cli, &out);
	rv = 0;
out:
	json_decref(items);
	free(ms);
	shoal_buf_fini(&out);
	return rv;
}

static const struct shoal_cli_opt ls_opts[] = {
	{ "format", 'f', SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Pretty-print machines using a Go template" },
	{ "quiet", 'q', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Enable quiet mode" },
	STORAGE_OPT,
	{ "timeout", 't', SHOAL_CLI_OPT_STRING, "seconds", "2",
	  "Timeout in seconds for each machine's Docker version" },
	{ NULL },
};

static const char *const ls_alt[] = { "list", NULL };

static const struct shoal_cli_cmd cmd_ls = {
	.name = "ls",
	.alt_names = ls_alt,
	.use = "ls [OPTIONS]",
	.short_help = "List machines",
	.group = SHOAL_CLI_GROUP_OTHER,
	.opts = ls_opts,
	.max_args = 0,
	.run = ls_run,
};

/* ip, url, status, env *********************************************************************/

static const struct shoal_cli_opt storage_opts[] = {
	STORAGE_OPT,
	{ NULL },
};

/* Loads a machine that must run: docker-machine's "Host is not running" otherwise. */
static int get_running(const struct shoal_cli_args *args, const char *name, struct shoal_machine *m,
		       struct shoal_err *err)
{
	if (shoal_machine_get(storage(args), name, m, err) < 0)
		return -1;
	if (m->state != SHOAL_MACHINE_RUNNING)
		return shoal_errorf(err, 409, "Host is not running");
	return 0;
}

static int ip_run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	struct shoal_machine m;
	struct shoal_buf errs;
	int i;

	shoal_buf_init(&errs);
	for (i = 0; i < args->argc; i++) {
		struct shoal_err e;

		shoal_err_clear(&e);
		if (get_running(args, args->argv[i], &m, &e) < 0) {
			add_error(&errs,
				  e.status == 404 ? "" : "Error getting IP address: ", e.msg);
			continue;
		}
		fprintf(cli->out, "%s\n", m.ip);
	}
	fflush(cli->out);
	return errors_out(&errs, err);
}

static const struct shoal_cli_cmd cmd_ip = {
	.name = "ip",
	.use = "ip [OPTIONS] NAME [NAME...]",
	.short_help = "Get the IP address of a machine",
	.group = SHOAL_CLI_GROUP_OTHER,
	.opts = storage_opts,
	.min_args = 1,
	.max_args = -1,
	.run = ip_run,
};

static int url_run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	struct shoal_machine m;

	if (get_running(args, args->argv[0], &m, err) < 0)
		return -1;
	fprintf(cli->out, "tcp://%s:%d\n", m.ip, SHOAL_MACHINE_DOCKER_PORT);
	return 0;
}

static const struct shoal_cli_cmd cmd_url = {
	.name = "url",
	.use = "url [OPTIONS] NAME",
	.short_help = "Get the URL of a machine",
	.group = SHOAL_CLI_GROUP_OTHER,
	.opts = storage_opts,
	.min_args = 1,
	.max_args = 1,
	.run = url_run,
};

static int status_run(struct shoal_cli *cli, const struct shoal_cli_args *args,
		      struct shoal_err *err)
{
	struct shoal_machine m;

	if (shoal_machine_get(storage(args), args->argv[0], &m, err) < 0)
		return -1;
	fprintf(cli->out, "%s\n", state_name(m.state));
	return 0;
}

static const struct shoal_cli_cmd cmd_status = {
	.name = "status",
	.use = "status [OPTIONS] NAME",
	.short_help = "Get the status of a machine",
	.group = SHOAL_CLI_GROUP_OTHER,
	.opts = storage_opts,
	.min_args = 1,
	.max_args = 1,
	.run = status_run,
};

/* docker-machine's shell syntaxes for env: prefix, delimiter, suffix. */
struct shell_syntax {
	const char *name, *prefix, *delim, *suffix, *unset_prefix, *unset_suffix, *hint;
};

static const struct shell_syntax shells[] = {
	{ "bash", "export ", "=\"", "\"\n", "unset ", "\n",
	  "# Run this command to configure your shell: \n# eval $(%s)\n" },
	{ "fish", "set -gx ", " \"", "\";\n", "set -e ", ";\n",
	  "# Run this command to configure your shell: \n# eval (%s)\n" },
	{ "tcsh", "setenv ", " \"", "\";\n", "unsetenv ", ";\n",
	  ": Run this command to configure your shell: \n: eval `%s`\n" },
};

static const struct shell_syntax *shell_for(const char *name)
{
	const char *base;
	size_t i;

	if (name == NULL || *name == '\0')
		name = getenv("SHELL");
	if (name == NULL)
		return &shells[0];
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (strcmp(base, "csh") == 0)
		base = "tcsh";
	for (i = 0; i < SHOAL_ARRAY_SIZE(shells); i++)
		if (strcmp(shells[i].name, base) == 0)
			return &shells[i];
	return &shells[0];
}

/* The command line the hint tells to eval: this one, as docker-machine prints os.Args. */
static char *env_cmdline(const struct shoal_cli_args *args)
{
	struct shoal_buf b;
	char *s;
	int i;

	shoal_buf_init(&b);
	shoal_buf_adds(&b, "shoal machine env");
	if (shoal_cli_flag_changed(args, "storage-path"))
		shoal_buf_addf(&b, " --storage-path %s", shoal_cli_flag_str(args, "storage-path"));
	if (shoal_cli_flag_changed(args, "shell"))
		shoal_buf_addf(&b, " --shell %s", shoal_cli_flag_str(args, "shell"));
	if (shoal_cli_flag_bool(args, "unset"))
		shoal_buf_adds(&b, " -u");
	for (i = 0; i < args->argc; i++)
		shoal_buf_addf(&b, " %s", args->argv[i]);
	s = shoal_buf_detach(&b, NULL);
	shoal_buf_fini(&b); /* detach left it initialised */
	return s;
}

static int env_run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	const struct shell_syntax *sh = shell_for(shoal_cli_flag_str(args, "shell"));
	struct shoal_machine m;
	struct shoal_buf out;
	char *cmdline;

	if (shoal_cli_flag_bool(args, "unset")) {
		if (args->argc != 0)
			return shoal_errorf(
				err, 400,
				"Error: Expected no machine name when the -u flag is present");
	} else {
		if (args->argc != 1)
			return shoal_errorf(err, 400,
					    "Error: Expected one machine name as an argument");
		if (get_running(args, args->argv[0], &m, err) < 0)
			return -1;
	}
	shoal_buf_init(&out);
	cmdline = env_cmdline(args);
	if (shoal_cli_flag_bool(args, "unset")) {
		shoal_buf_addf(&out, "%sDOCKER_TLS_VERIFY%s", sh->unset_prefix, sh->unset_suffix);
		shoal_buf_addf(&out, "%sDOCKER_HOST%s", sh->unset_prefix, sh->unset_suffix);
		shoal_buf_addf(&out, "%sDOCKER_CERT_PATH%s", sh->unset_prefix, sh->unset_suffix);
		shoal_buf_addf(&out, "%sDOCKER_MACHINE_NAME%s", sh->unset_prefix, sh->unset_suffix);
	} else {
		shoal_buf_addf(&out, "%sDOCKER_HOST%stcp://%s:%d%s", sh->prefix, sh->delim, m.ip,
			       SHOAL_MACHINE_DOCKER_PORT, sh->suffix);
		shoal_buf_addf(&out, "%sDOCKER_MACHINE_NAME%s%s%s", sh->prefix, sh->delim, m.name,
			       sh->suffix);
	}
	shoal_buf_addf(&out, sh->hint, cmdline);
	shoal_cli__print(cli, &out);
	shoal_buf_fini(&out);
	free(cmdline);
	return 0;
}

static const struct shoal_cli_opt env_opts[] = {
	{ "shell", 0, SHOAL_CLI_OPT_STRING, NULL, NULL,
	  "Force environment to be configured for a specified shell: [fish, tcsh, bash], default is auto-detect" },
	STORAGE_OPT,
	{ "unset", 'u', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Unset variables instead of setting them" },
	{ NULL },
};

static const struct shoal_cli_cmd cmd_env = {
	.name = "env",
	.use = "env [OPTIONS] [NAME]",
	.short_help = "Display the commands to set up the environment for the Docker client",
	.group = SHOAL_CLI_GROUP_OTHER,
	.opts = env_opts,
	.max_args = 1,
	.run = env_run,
};

/* ssh ***********************************************************************************/

/* As ssh: the words of the command are joined with spaces and run by the shell. */
static int ssh_run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	char *argv[4] = { "/bin/sh", "-c", NULL, NULL };
	struct shoal_machine m;
	struct shoal_buf cmd;
	int i, status = 0, rv = -1;

	shoal_buf_init(&cmd);
	if (get_running(args, args->argv[0], &m, err) < 0)
		goto out;
	for (i = 1; i < args->argc; i++) {
		if (i > 1)
			shoal_buf_addc(&cmd, ' ');
		shoal_buf_adds(&cmd, args->argv[i]);
	}
	argv[2] = cmd.data;
	fflush(cli->out);
	if (shoal_machine_exec(&m, args->argc > 1 ? argv : NULL, &status, err) < 0)
		goto out;
	if (status != 0) {
		cli->exit_status = status;
		shoal_err_clear(err); /* the command said why */
		goto out;
	}
	rv = 0;
out:
	shoal_buf_fini(&cmd);
	return rv;
}

static const struct shoal_cli_cmd cmd_ssh = {
	.name = "ssh",
	.use = "ssh [OPTIONS] NAME [COMMAND...]",
	.short_help = "Log into or run a command on a machine",
	.group = SHOAL_CLI_GROUP_OTHER,
	.opts = storage_opts,
	.min_args = 1,
	.max_args = -1,
	.no_interspersed = true,
	.run = ssh_run,
};

/* start, stop, restart, kill, rm ************************************************************/

enum action {
	ACT_START,
	ACT_STOP,
	ACT_RESTART,
	ACT_KILL,
};

static int act_one(struct shoal_cli *cli, const char *root, const char *name, enum action act,
		   struct shoal_err *err)
{
	static const char *const doing[] = { "Starting", "Stopping", "Restarting", "Killing" };
	static const char *const done[] = { "started", "stopped", "restarted", "killed" };
	struct shoal_machine m;
	char *shoald = NULL;
	int rv = -1;

	if (shoal_machine_get(root, name, &m, err) < 0)
		return -1;
	fprintf(cli->out, "%s \"%s\"...\n", doing[act], name);
	fflush(cli->out);
	if (act == ACT_START && m.state == SHOAL_MACHINE_RUNNING)
		return shoal_errorf(err, 409, "Machine \"%s\" is already running.", name);
	if ((act == ACT_STOP || act == ACT_KILL) && m.state != SHOAL_MACHINE_RUNNING)
		return shoal_errorf(err, 409, "Machine \"%s\" is already stopped.", name);
	if (act == ACT_START || act == ACT_RESTART)
		shoald = shoal_machine_shoald_path();
	switch (act) {
	case ACT_START:
		rv = shoal_machine_start(root, name, shoald, err);
		break;
	case ACT_STOP:
		rv = shoal_machine_stop(root, name, err);
		break;
	case ACT_RESTART:
		rv = shoal_machine_stop(root, name, err);
		if (rv == 0)
			rv = shoal_machine_start(root, name, shoald, err);
		break;
	case ACT_KILL:
		rv = shoal_machine_kill(root, name, err);
		break;
	}
	free(shoald);
	if (rv == 0)
		fprintf(cli->out, "Machine \"%s\" was %s.\n", name, done[act]);
	fflush(cli->out);
	return rv;
}

static int act_run(struct shoal_cli *cli, const struct shoal_cli_args *args, enum action act,
		   struct shoal_err *err)
{
	struct shoal_buf errs;
	int i;

	shoal_buf_init(&errs);
	for (i = 0; i < args->argc; i++) {
		struct shoal_err e;

		shoal_err_clear(&e);
		if (act_one(cli, storage(args), args->argv[i], act, &e) < 0)
			add_error(&errs, "", e.msg);
	}
	return errors_out(&errs, err);
}

static int start_run(struct shoal_cli *cli, const struct shoal_cli_args *args,
		     struct shoal_err *err)
{
	return act_run(cli, args, ACT_START, err);
}

static int stop_run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	return act_run(cli, args, ACT_STOP, err);
}

static int restart_run(struct shoal_cli *cli, const struct shoal_cli_args *args,
		       struct shoal_err *err)
{
	return act_run(cli, args, ACT_RESTART, err);
}

static int kill_run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	return act_run(cli, args, ACT_KILL, err);
}

static const struct shoal_cli_cmd cmd_start = {
	.name = "start",
	.use = "start [OPTIONS] NAME [NAME...]",
	.short_help = "Start a machine",
	.group = SHOAL_CLI_GROUP_OTHER,
	.opts = storage_opts,
	.min_args = 1,
	.max_args = -1,
	.run = start_run,
};

static const struct shoal_cli_cmd cmd_stop = {
	.name = "stop",
	.use = "stop [OPTIONS] NAME [NAME...]",
	.short_help = "Stop a machine (shoald stops cleanly, everything else in it is killed)",
	.group = SHOAL_CLI_GROUP_OTHER,
	.opts = storage_opts,
	.min_args = 1,
	.max_args = -1,
	.run = stop_run,
};

static const struct shoal_cli_cmd cmd_restart = {
	.name = "restart",
	.use = "restart [OPTIONS] NAME [NAME...]",
	.short_help = "Restart a machine",
	.group = SHOAL_CLI_GROUP_OTHER,
	.opts = storage_opts,
	.min_args = 1,
	.max_args = -1,
	.run = restart_run,
};

static const struct shoal_cli_cmd cmd_kill = {
	.name = "kill",
	.use = "kill [OPTIONS] NAME [NAME...]",
	.short_help = "Kill a machine (SIGKILL to all its processes, as a power loss)",
	.group = SHOAL_CLI_GROUP_OTHER,
	.opts = storage_opts,
	.min_args = 1,
	.max_args = -1,
	.run = kill_run,
};

/* docker-machine asks "Are you sure?" unless -y or -f; we ask only a terminal, so that
 * scripts need no flag. */
static bool confirm(struct shoal_cli *cli)
{
	char line[64];

	if (!isatty(STDIN_FILENO))
		return true;
	fprintf(cli->out, "Are you sure? (y/n): ");
	fflush(cli->out);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	return tolower((unsigned char)line[0]) == 'y';
}

static int rm_run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	bool force = shoal_cli_flag_bool(args, "force");
	struct shoal_buf errs, names;
	int i;

	shoal_buf_init(&names);
	for (i = 0; i < args->argc; i++)
		shoal_buf_addf(&names, "%s%s", i ? ", " : "", args->argv[i]);
	fprintf(cli->out, "About to remove %s\n", names.data);
	fprintf(cli->out,
		"WARNING: This action will delete both local reference and remote instance.\n");
	shoal_buf_fini(&names);
	if (!force && !shoal_cli_flag_bool(args, "y") && !confirm(cli))
		return 0;
	shoal_buf_init(&errs);
	for (i = 0; i < args->argc; i++) {
		struct shoal_err e;

		shoal_err_clear(&e);
		if (shoal_machine_remove(storage(args), args->argv[i], force, &e) < 0) {
			char *prefix =
				shoal_asprintf("Error removing host \"%s\": ", args->argv[i]);

			add_error(&errs, prefix, e.msg);
			free(prefix);
			if (force) {
				fflush(cli->out);
				fprintf(cli->err, "Error removing host \"%s\": %s\n", args->argv[i],
					e.msg);
			}
			continue;
		}
		fprintf(cli->out, "Successfully removed %s\n", args->argv[i]);
	}
	fflush(cli->out);
	if (force) {
		shoal_buf_fini(&errs);
		return 0;
	}
	return errors_out(&errs, err);
}

static const struct shoal_cli_opt rm_opts[] = {
	{ "force", 'f', SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Remove local configuration even if machine cannot be removed, also implies an automatic yes (`-y`)" },
	STORAGE_OPT,
	{ "y", 'y', SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Assumes automatic yes to proceed with remove, without prompting further user confirmation" },
	{ NULL },
};

static const struct shoal_cli_cmd cmd_rm = {
	.name = "rm",
	.use = "rm [OPTIONS] NAME [NAME...]",
	.short_help = "Remove a machine",
	.group = SHOAL_CLI_GROUP_OTHER,
	.opts = rm_opts,
	.min_args = 1,
	.max_args = -1,
	.run = rm_run,
};

/* machine *******************************************************************************/

static const struct shoal_cli_cmd *const machine_cmds[] = {
	&cmd_create, &cmd_env,	 &cmd_ip,     &cmd_kill, &cmd_ls,  &cmd_restart, &cmd_rm,
	&cmd_ssh,    &cmd_start, &cmd_status, &cmd_stop, &cmd_url, NULL,
};

const struct shoal_cli_cmd shoal_cli__cmd_machine = {
	.name = "machine",
	.use = "machine",
	.short_help = "Manage local nodes made of namespaces (docker-machine)",
	.group = SHOAL_CLI_GROUP_MANAGEMENT,
	.subcmds = machine_cmds,
};
