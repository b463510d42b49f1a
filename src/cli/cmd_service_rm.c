/* `shoal service rm`: DELETE /services/REF for each argument, printing each one removed and
 * then every failure, as docker/cli's service remove does. */
#include "cli/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static int run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	struct shoal_cli_client *c = shoal_cli_get_client(cli, err);
	struct shoal_buf errs;
	int i;

	if (c == NULL)
		return -1;
	shoal_buf_init(&errs);
	for (i = 0; i < args->argc; i++) {
		char *esc = shoal_cli_query_escape(args->argv[i]);
		char *path = shoal_asprintf("/services/%s", esc);
		struct shoal_err e;

		shoal_err_clear(&e);
		if (args->argv[i][0] == '\0')
			shoal_errorf(&e, 400, "invalid service name or ID: value is empty");
		else if (shoal_cli_client_call(c, "DELETE", path, NULL, NULL, &e) == 0) {
			fprintf(cli->out, "%s\n", args->argv[i]);
			fflush(cli->out);
		}
		if (e.msg[0] != '\0')
			shoal_buf_addf(&errs, "%s%s", errs.len ? "\n" : "", e.msg);
		free(path);
		free(esc);
	}
	if (errs.len > 0)
		shoal_errorf(err, 400, "%s", errs.data);
	shoal_buf_fini(&errs);
	return err->msg[0] ? -1 : 0;
}

static const char *const alts[] = { "remove", NULL };

const struct shoal_cli_cmd shoal_cli__cmd_service_rm = {
	.name = "rm",
	.alt_names = alts,
	.use = "rm SERVICE [SERVICE...]",
	.short_help = "Remove one or more services",
	.aliases = "shoal service rm, shoal service remove",
	.min_args = 1,
	.max_args = -1,
	.run = run,
};
