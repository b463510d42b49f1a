/* `shoal service scale SERVICE=N...`: sets the replica count (or a replicated job's total)
 * of each service with a whole-spec update, then, unless -d, waits for each to converge with
 * docker's progress (cli/command/service/scale.go). */
#include "cli/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static int scale_one(struct shoal_cli *cli, struct shoal_cli_client *c, const char *name,
		     uint64_t n, struct shoal_err *err)
{
	json_t *svc = NULL, *mode;
	int rv = -1;

	if (shoal_cli__svc_get(c, name, false, &svc, err) < 0)
		return -1;
	mode = json_object_get(json_object_get(svc, "Spec"), "Mode");
	if (json_object_get(mode, "Replicated") != NULL) {
		json_t *r = json_object_get(mode, "Replicated");

		if (!json_is_object(r)) {
			r = json_object();
			json_object_set_new(mode, "Replicated", r);
		}
		json_object_set_new(r, "Replicas", json_integer((json_int_t)n));
	} else if (json_object_get(mode, "ReplicatedJob") != NULL) {
		json_object_set_new(json_object_get(mode, "ReplicatedJob"), "TotalCompletions",
				    json_integer((json_int_t)n));
	} else {
		shoal_errorf(err, 400,
			     "scale can only be used with replicated or replicated-job mode");
		goto out;
	}
	rv = shoal_cli__svc_update(cli, c, svc, NULL, NULL, err);
out:
	json_decref(svc);
	return rv;
}

static int run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	struct shoal_cli_client *c;
	struct shoal_buf errs;
	char **scaled = NULL;
	int i, nscaled = 0;

	for (i = 0; i < args->argc; i++) {
		const char *eq = strchr(args->argv[i], '=');

		if (eq == NULL || eq == args->argv[i] || eq[1] == '\0')
			return shoal_errorf(
				err, 400,
				"invalid scale specifier '%s'.\nSee '%s --help'.\n\nUsage:  %s SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\nScale one or multiple replicated services",
				args->argv[i], args->path, args->path);
	}
	c = shoal_cli_get_client(cli, err);
	if (c == NULL)
		return -1;
	shoal_buf_init(&errs);
	scaled = shoal_calloc((size_t)args->argc + 1, sizeof(*scaled));
	for (i = 0; i < args->argc; i++) {
		const char *eq = strchr(args->argv[i], '=');
		char *name = shoal_strndup(args->argv[i], (size_t)(eq - args->argv[i]));
		struct shoal_err e;
		uint64_t n;

		shoal_err_clear(&e);
		if (shoal_cli__go_parse_uint(eq + 1, 10, 64, &n, &e) < 0) {
			shoal_buf_addf(&errs, "%s%s: invalid replicas value %s: %s",
				       errs.len ? "\n" : "", name, eq + 1, e.msg);
			free(name);
			continue;
		}
		if (scale_one(cli, c, name, n, &e) < 0) {
			shoal_buf_addf(&errs, "%s%s: %s", errs.len ? "\n" : "", name, e.msg);
			free(name);
			continue;
		}
		fprintf(cli->out, "%s scaled to %llu\n", name, (unsigned long long)n);
		fflush(cli->out);
		scaled[nscaled++] = name;
	}
	for (i = 0; !shoal_cli_flag_bool(args, "detach") && i < nscaled; i++) {
		struct shoal_err e;

		shoal_err_clear(&e);
		if (shoal_cli__svc_wait(cli, scaled[i], false, &e) < 0)
			shoal_buf_addf(&errs, "%s%s: %s", errs.len ? "\n" : "", scaled[i], e.msg);
	}
	for (i = 0; i < nscaled; i++)
		free(scaled[i]);
	free(scaled);
	if (errs.len > 0)
		shoal_errorf(err, 400, "%s", errs.data);
	shoal_buf_fini(&errs);
	return err->msg[0] ? -1 : 0;
}

static const struct shoal_cli_opt opts[] = {
	{ "detach", 'd', SHOAL_CLI_OPT_BOOL, NULL, NULL,
	  "Exit immediately instead of waiting for the service to converge" },
	{ NULL },
};

const struct shoal_cli_cmd shoal_cli__cmd_service_scale = {
	.name = "scale",
	.use = "scale SERVICE=REPLICAS [SERVICE=REPLICAS...]",
	.short_help = "Scale one or multiple replicated services",
	.opts = opts,
	.min_args = 1,
	.max_args = -1,
	.run = run,
};
