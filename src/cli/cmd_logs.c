/* `shoal logs`: GET /containers/NAME/json for the TTY flag, then GET .../logs streamed to
 * stdout: raw for a TTY container, else the 8-byte frames of stdcopy demultiplexed to stdout
 * and stderr as docker's StdCopy does. */
#include "cli/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

struct demux {
	struct shoal_cli *cli;
	bool tty;
	struct shoal_buf pending; /* a frame not yet whole */
};

int shoal_cli__frame_next(struct shoal_cli *cli, struct shoal_buf *p, FILE **f, size_t *size,
			  struct shoal_err *err)
{
	const unsigned char *h = (const unsigned char *)p->data;

	if (p->len < 8)
		return 0;
	*size = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
	if (p->len < 8 + *size)
		return 0;
	switch (h[0]) {
	case 0:
	case 1:
		*f = cli->out;
		return 1;
	case 2:
		*f = cli->err;
		return 1;
	case 3:
		return shoal_errorf(err, 500, "Error from daemon in stream: %.*s", (int)*size,
				    p->data + 8);
	default:
		return shoal_errorf(err, 500, "Unrecognized input header: %d", h[0]);
	}
}

static int on_data(const char *data, size_t len, void *arg, struct shoal_err *err)
{
	struct demux *d = arg;
	struct shoal_buf *p = &d->pending;
	size_t size;
	FILE *f;
	int r;

	if (d->tty) {
		fwrite(data, 1, len, d->cli->out);
		fflush(d->cli->out);
		return 0;
	}
	shoal_buf_add(p, data, len);
	while ((r = shoal_cli__frame_next(d->cli, p, &f, &size, err)) > 0) {
		fwrite(p->data + 8, 1, size, f);
		fflush(f);
		shoal_buf_consume(p, 8 + size);
	}
	return r;
}

static int run(struct shoal_cli *cli, const struct shoal_cli_args *args, struct shoal_err *err)
{
	const char *tail = shoal_cli_flag_str(args, "tail");
	struct shoal_cli_client *c;
	struct shoal_cli_req req = { .method = "GET" };
	struct shoal_cli_resp resp;
	struct demux d = { .cli = cli };
	json_t *info = NULL;
	char *esc = NULL, *path = NULL, *etail = NULL;
	int rv = -1;

	shoal_buf_init(&d.pending);
	shoal_cli_resp_init(&resp);
	c = shoal_cli_get_client(cli, err);
	if (c == NULL)
		goto out;
	esc = shoal_cli_query_escape(args->argv[0]);
	path = shoal_asprintf("/containers/%s/json", esc);
	if (shoal_cli_client_call(c, "GET", path, NULL, &info, err) < 0)
		goto out;
	d.tty = json_is_true(json_object_get(json_object_get(info, "Config"), "Tty"));
	free(path);
	etail = shoal_cli_query_escape(tail ? tail : "all");
	path = shoal_asprintf("/containers/%s/logs?stdout=1&stderr=1%s%s&tail=%s", esc,
			      shoal_cli_flag_bool(args, "timestamps") ? "&timestamps=1" : "",
			      shoal_cli_flag_bool(args, "follow") ? "&follow=1" : "", etail);
	req.path = path;
	req.on_data = on_data;
	req.arg = &d;
	if (shoal_cli_client_do(c, &req, &resp, err) < 0)
		goto out;
	if (resp.status < 200 || resp.status >= 300) {
		shoal_cli_client_resp_err(c, &req, &resp, err);
		goto out;
	}
	rv = 0;
out:
	json_decref(info);
	free(esc);
	free(etail);
	free(path);
	shoal_cli_resp_fini(&resp);
	shoal_buf_fini(&d.pending);
	return rv;
}

static const struct shoal_cli_opt opts[] = {
	{ "follow", 'f', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Follow log output" },
	{ "tail", 'n', SHOAL_CLI_OPT_STRING, NULL, "all",
	  "Number of lines to show from the end of the logs" },
	{ "timestamps", 't', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Show timestamps" },
	{ NULL },
};

const struct shoal_cli_cmd shoal_cli__cmd_logs = {
	.name = "logs",
	.use = "logs [OPTIONS] CONTAINER",
	.short_help = "Fetch the logs of a container",
	.aliases = "shoal container logs, shoal logs",
	.group = SHOAL_CLI_GROUP_OTHER,
	.opts = opts,
	.min_args = 1,
	.max_args = 1,
	.run = run,
};
