/* `shoal service`: the management command listing the subcommands docker's swarm tutorial
 * uses, each in its cmd_service_<name>.c; what they share is service.c's. */
#include "cli/internal.h"

/* In help's order: sorted by name. */
static const struct shoal_cli_cmd *const service_cmds[] = {
	&shoal_cli__cmd_service_create,
	&shoal_cli__cmd_service_inspect,
	&shoal_cli__cmd_service_logs,
	&shoal_cli__cmd_service_ls,
	&shoal_cli__cmd_service_ps,
	&shoal_cli__cmd_service_rm,
	/* rollback, scale, update */
	&shoal_cli__cmd_service_rollback,
	&shoal_cli__cmd_service_scale,
	&shoal_cli__cmd_service_update,
	NULL,
};

const struct shoal_cli_cmd shoal_cli__cmd_service = {
	.name = "service",
	.use = "service",
	.short_help = "Manage Swarm services",
	.group = SHOAL_CLI_GROUP_MANAGEMENT,
	.subcmds = service_cmds,
};
