/* `shoal service rollback`: asks the daemon to roll the service back to its previous spec
 * (POST .../update?rollback=previous with the current spec), then, unless -d, waits for the
 * rollback to converge with docker's progress (cli/command/service/rollback.go). */
#include "cli/internal.h"

static int run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	struct shoal_cli_client *c = shoal_cli_get_client(cli, err);
	const char *name = args->argv[0];
	json_t *svc = NULL;
	int rv;

	if (c == NULL || shoal_cli__svc_get(c, name, false, &svc, err) < 0)
		return -1;
	rv = shoal_cli__svc_update(cli, c, svc, "rollback=previous", NULL, err);
	json_decref(svc);
	if (rv < 0)
		return -1;
	fprintf(cli->out, "%s\n", name);
	fflush(cli->out);
	if (shoal_cli_flag_bool(args, "detach"))
		return 0;
	return shoal_cli__svc_wait(cli, name, shoal_cli_flag_bool(args, "quiet"), err);
}

static const struct shoal_cli_opt opts[] = {
	{ "detach", 'd', SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Exit immediately instead of waiting for the service to converge" },
	{ "quiet", 'q', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Suppress progress output" },
	{ NULL },
};

const struct shoal_cli_cmd shoal_cli__cmd_service_rollback = {
	.name = "rollback",
	.use = "rollback [OPTIONS] SERVICE",
	.short_help = "Revert changes to a service's configuration",
	.opts = opts,
	.min_args = 1,
	.max_args = 1,
	.run = run,
};
