/* The root of the shoal command: global flags (-H, -D, -l, -v, --help), the table of
 * commands, and dispatch down management commands ("system info") to a command's run(),
 * with docker's texts and exit statuses for every way a command line can be wrong. What
 * each command does lives in its cmd_<name>.c. */
#include "cli/internal.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/log.h"
#include "base/mem.h"

/* Add new commands here, and in a management command's table. */
static const struct shoal_cli_cmd *const system_cmds[] = {
	&shoal_cli__cmd_info,
	NULL,
};

static const struct shoal_cli_cmd cmd_system = {
	.name = "system",
	.use = "system",
	.short_help = "Manage Shoal",
	.group = SHOAL_CLI_GROUP_MANAGEMENT,
	.subcmds = system_cmds,
};

static const struct shoal_cli_cmd *const root_cmds[] = {
	&shoal_cli__cmd_version,
	&shoal_cli__cmd_info,
	&cmd_system,
	&shoal_cli__cmd_machine,
	&shoal_cli__cmd_ps,
	&shoal_cli__cmd_images,
	&shoal_cli__cmd_load,
	&shoal_cli__cmd_rm,
	&shoal_cli__cmd_stop,
	&shoal_cli__cmd_start,
	&shoal_cli__cmd_logs,
	/* swarm mode */
	&shoal_cli__cmd_node,
	&shoal_cli__cmd_service,
	&shoal_cli__cmd_swarm,
	NULL,
};

static const struct shoal_cli_opt root_opts[] = {
	{ "debug", 'D', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Enable debug mode" },
	{ "host", 'H', SHOAL_CLI_OPT_LIST, NULL, NULL, "Daemon socket to connect to" },
	{ "log-level", 'l', SHOAL_CLI_OPT_STRING, NULL, "info",
	  "Set the logging level (\"debug\", \"info\", \"warn\", \"error\", \"fatal\")" },
	{ "version", 'v', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Print version information and quit" },
	{ NULL },
};

const struct shoal_cli_cmd shoal_cli__root = {
	.name = "shoal",
	.use = "shoal [OPTIONS] COMMAND [ARG...]",
	.short_help = "A docker-compatible client for Shoal, Docker swarm mode in C",
	.opts = root_opts,
	.max_args = -1,
	.no_interspersed = true,
	.subcmds = root_cmds,
};

void shoal_cli_init(struct shoal_cli *cli, FILE *out, FILE *err)
{
	memset(cli, 0, sizeof(*cli));
	cli->out = out;
	cli->err = err;
	cli->exit_status = 1;
}

void shoal_cli_fini(struct shoal_cli *cli)
{
	shoal_cli_client_free(cli->client);
	free(cli->host);
	cli->client = NULL;
	cli->host = NULL;
}

struct shoal_cli_client *shoal_cli_get_client(struct shoal_cli *cli, struct shoal_err *err)
{
	if (cli->client == NULL)
		cli->client =
			shoal_cli_client_new(cli->host ? cli->host : SHOAL_CLI_DEFAULT_HOST, err);
	return cli->client;
}

void shoal_cli__print(struct shoal_cli *cli, const struct shoal_buf *b)
{
	fwrite(b->data, 1, b->len, cli->out);
	fflush(cli->out);
}

int shoal_cli__tmpl_parse_failed(struct shoal_cli *cli, struct shoal_err *err)
{
	cli->exit_status = 64;
	return shoal_err_wrap(err, "template parsing error");
}

static const struct shoal_cli_cmd *find_cmd(const struct shoal_cli_cmd *parent, const char *name)
{
	size_t i, j;

	for (i = 0; parent->subcmds[i] != NULL; i++) {
		const struct shoal_cli_cmd *c = parent->subcmds[i];

		if (strcmp(c->name, name) == 0)
			return c;
		for (j = 0; c->alt_names != NULL && c->alt_names[j] != NULL; j++)
			if (strcmp(c->alt_names[j], name) == 0)
				return c;
	}
	return NULL;
}

static void print_help(struct shoal_cli *cli, const struct shoal_cli_cmd *cmd, const char *path)
{
	struct shoal_buf b;

	shoal_buf_init(&b);
	shoal_cli__help(cmd, path, &b);
	shoal_cli__print(cli, &b);
	shoal_buf_fini(&b);
}

static const char *plural(int n)
{
	return n == 1 ? "argument" : "arguments";
}

/* cobra's positional-argument checks (cli/required.go), exit status 1. */
static int check_args(const struct shoal_cli_args *a, struct shoal_err *err)
{
	const struct shoal_cli_cmd *c = a->cmd;
	const char *use = strchr(c->use, ' ') ?: "";
	const char *path = a->path;

	if (a->argc >= c->min_args && (c->max_args < 0 || a->argc <= c->max_args))
		return 0;
	if (c->max_args == 0)
		return shoal_errorf(
			err, 400,
			"shoal: '%s' accepts no arguments\n\nUsage:  %s%s\n\nRun '%s --help' for more information",
			path, path, use, path);
	if (c->min_args == c->max_args)
		return shoal_errorf(
			err, 400,
			"shoal: '%s' requires %d %s\n\nUsage:  %s%s\n\nRun '%s --help' for more information",
			path, c->min_args, plural(c->min_args), path, use, path);
	if (c->max_args < 0)
		return shoal_errorf(
			err, 400,
			"shoal: '%s' requires at least %d %s\n\nUsage:  %s%s\n\nSee '%s --help' for more information",
			path, c->min_args, plural(c->min_args), path, use, path);
	if (c->min_args == 0)
		return shoal_errorf(
			err, 400,
			"shoal: '%s' requires at most %d %s\n\nUsage:  %s%s\n\nRun '%s --help' for more information",
			path, c->max_args, plural(c->max_args), path, use, path);
	return shoal_errorf(
		err, 400,
		"shoal: '%s' requires at least %d and at most %d %s\n\nUsage:  %s%s\n\nRun '%s --help' for more information",
		path, c->min_args, c->max_args, plural(c->max_args), path, use, path);
}

/* Parses argv (after the command's name) for cmd, then runs it or walks into its
 * subcommands. Returns 0, or -1 with err set (and cli->exit_status when not 1). */
static int dispatch(struct shoal_cli *cli, const struct shoal_cli_cmd *cmd, const char *path,
		    int argc, char **argv, struct shoal_err *err)
{
	struct shoal_cli_args a;
	const struct shoal_cli_cmd *sub;
	int rv = -1;

	if (shoal_cli_args_parse_checked(&a, cmd->opts, cmd->checks, argc, argv,
					 !cmd->no_interspersed && !cmd->subcmds, err) < 0) {
		char msg[sizeof(err->msg)];

		memcpy(msg, err->msg, sizeof(msg));
		a.cmd = cmd;
		a.path = shoal_strdup(path);
		shoal_cli_usage_errorf(cli, &a, err, "%s", msg);
		goto out;
	}
	a.cmd = cmd;
	a.path = shoal_strdup(path);
	if (a.help) {
		print_help(cli, cmd, path);
		rv = 0;
		goto out;
	}
	if (cmd->subcmds == NULL) {
		if (check_args(&a, err) < 0)
			goto out;
		rv = cmd->run(cli, &a, err);
		goto out;
	}
	if (cmd == &shoal_cli__root) {
		rv = 0;
		goto out; /* the root's own flags are handled by shoal_cli_run */
	}
	if (a.argc == 0) {
		print_help(cli, cmd, path);
		rv = 0;
		goto out;
	}
	sub = find_cmd(cmd, a.argv[0]);
	if (sub == NULL) {
		shoal_errorf(
			err, 400,
			"shoal: unknown command: %s %s\n\nUsage:  %s%s\n\nRun '%s --help' for more information",
			path, a.argv[0], path, strchr(cmd->use, ' ') ?: "", path);
		goto out;
	}
	{
		char *subpath = shoal_asprintf("%s %s", path, sub->name);

		rv = dispatch(cli, sub, subpath, a.argc - 1, a.argv + 1, err);
		free(subpath);
	}
out:
	shoal_cli_args_fini(&a);
	return rv;
}

/* Reads the global flags the way docker's root command does; sets *done when they alone
 * answered (--version, --help, no command). */
static int root_flags(struct shoal_cli *cli, const struct shoal_cli_args *a, bool *done,
		      struct shoal_err *err)
{
	const char *const *hosts;
	const char *host, *level;
	enum shoal_log_level lvl;
	size_t nhosts;

	*done = true;
	if (a->help || (a->argc == 0 && !shoal_cli_flag_bool(a, "version"))) {
		print_help(cli, &shoal_cli__root, "shoal");
		return 0;
	}
	if (shoal_cli_flag_bool(a, "version")) {
		fprintf(cli->out, "Shoal version %s, build %s\n", SHOAL_VERSION, SHOAL_GIT_COMMIT);
		return 0;
	}
	*done = false;
	cli->debug = shoal_cli_flag_bool(a, "debug");
	level = shoal_cli_flag_str(a, "log-level");
	if (shoal_log_level_parse(level, &lvl) < 0)
		return shoal_errorf(err, 400, "Unable to parse logging level: %s", level);
	shoal_log_set_level(cli->debug ? SHOAL_LOG_DEBUG : lvl);

	nhosts = shoal_cli_flag_list(a, "host", &hosts);
	if (nhosts > 1)
		return shoal_errorf(err, 400, "Specify only one -H");
	host = nhosts == 1 ? hosts[0] : getenv("DOCKER_HOST");
	cli->host = shoal_cli_host_parse(host ? host : "", err);
	if (cli->host == NULL)
		return shoal_err_wrap(err,
				      "Failed to initialize: unable to resolve docker endpoint");
	return 0;
}

int shoal_cli_run(struct shoal_cli *cli, int argc, char **argv)
{
	struct shoal_err err;
	struct shoal_cli_args a;
	const struct shoal_cli_cmd *cmd;
	bool done;
	int rv = -1;

	shoal_err_clear(&err);
	if (shoal_cli_args_parse(&a, root_opts, argc - 1, argv + 1, false, &err) < 0) {
		char msg[sizeof(err.msg)];

		memcpy(msg, err.msg, sizeof(msg));
		a.cmd = &shoal_cli__root;
		a.path = shoal_strdup("shoal");
		shoal_cli_usage_errorf(cli, &a, &err, "%s", msg);
		goto out;
	}
	if (root_flags(cli, &a, &done, &err) < 0)
		goto out;
	if (done) {
		rv = 0;
		goto out;
	}
	cmd = find_cmd(&shoal_cli__root, a.argv[0]);
	if (cmd == NULL) {
		shoal_errorf(&err, 400, "shoal: '%s' is not a shoal command.\nSee 'shoal --help'",
			     a.argv[0]);
		goto out;
	}
	{
		char *path = shoal_asprintf("shoal %s", cmd->name);

		rv = dispatch(cli, cmd, path, a.argc - 1, a.argv + 1, &err);
		free(path);
	}
out:
	shoal_cli_args_fini(&a);
	fflush(cli->out);
	if (rv == 0)
		return 0;
	if (err.msg[0] != '\0')
		fprintf(cli->err, "%s\n", err.msg);
	return cli->exit_status;
}

int shoal_cli_main(int argc, char **argv)
{
	struct shoal_cli cli;
	int status;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "shoal: cannot initialise libcurl\n");
		return 1;
	}
	shoal_cli_init(&cli, stdout, stderr);
	status = shoal_cli_run(&cli, argc, argv);
	shoal_cli_fini(&cli);
	curl_global_cleanup();
	return status;
}
