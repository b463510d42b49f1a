/* Command-line options as docker's libraries (spf13/pflag, cobra) parse and describe them:
 * flag syntax and error texts, the wrapped "Options:" block and the help page of a command.
 * Dispatch between commands is main.c's. */
#include "cli/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/mem.h"

/* The same for list commands, which also print tables (ps, images, ...). */
const char shoal_cli__format_table_help[] =
	"Format output using a custom template:\n"
	"'table':            Print output in table format with column headers (default)\n"
	"'table TEMPLATE':   Print output in table format using the given Go template\n"
	"'json':             Print in JSON format\n"
	"'TEMPLATE':         Print output using the given Go template.\n"
	"Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

const char shoal_cli__format_help[] =
	"Format output using a custom template:\n"
	"'json':             Print in JSON format\n"
	"'TEMPLATE':         Print output using the given Go template.\n"
	"Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

static const struct shoal_cli_opt help_opt = {
	"help", 'h', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Print usage",
};

/* Parsing ******************************************************************************/

static ssize_t opt_by_name(const struct shoal_cli_args *a, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < a->nopts; i++)
		if (strlen(a->opts[i].name) == len && strncmp(a->opts[i].name, name, len) == 0)
			return (ssize_t)i;
	return -1;
}

static ssize_t opt_by_short(const struct shoal_cli_args *a, char c)
{
	size_t i;

	for (i = 0; i < a->nopts; i++)
		if (a->opts[i].shorthand == c)
			return (ssize_t)i;
	return -1;
}

/* strconv.ParseBool */
static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
	size_t i;

	for (i = 0; i < SHOAL_ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int check_value(const struct shoal_cli_args *a, const struct shoal_cli_opt *o,
		       const char *value, struct shoal_err *err)
{
	const struct shoal_cli_check *c;

	for (c = a->checks; c != NULL && c->flag != NULL; c++)
		if (strcmp(c->flag, o->name) == 0)
			return c->fn(value, err);
	return 0;
}

static int set_value(struct shoal_cli_args *a, ssize_t idx, const char *value,
		     struct shoal_err *err)
{
	const struct shoal_cli_opt *o = idx >= 0 ? &a->opts[idx] : &help_opt;
	struct shoal_cli_flag_val *v;
	bool b;

	if (o->type == SHOAL_CLI_OPT_BOOL) {
		if (parse_bool(value, &b) < 0) {
			if (o->shorthand)
				return shoal_errorf(
					err, 400,
					"invalid argument \"%s\" for \"-%c, --%s\" flag: strconv.ParseBool: parsing \"%s\": invalid syntax",
					value, o->shorthand, o->name, value);
			return shoal_errorf(
				err, 400,
				"invalid argument \"%s\" for \"--%s\" flag: strconv.ParseBool: parsing \"%s\": invalid syntax",
				value, o->name, value);
		}
		value = b ? "true" : "false";
	}
	if (check_value(a, o, value, err) < 0) {
		char why[sizeof(err->msg)];

		memcpy(why, err->msg, sizeof(why));
		if (o->shorthand)
			return shoal_errorf(err, 400,
					    "invalid argument \"%s\" for \"-%c, --%s\" flag: %s",
					    value, o->shorthand, o->name, why);
		return shoal_errorf(err, 400, "invalid argument \"%s\" for \"--%s\" flag: %s",
				    value, o->name, why);
	}
	if (idx < 0) {
		a->help = strcmp(value, "true") == 0;
		return 0;
	}
	v = &a->vals[idx];
	v->count++;
	v->str = value;
	if (o->type == SHOAL_CLI_OPT_LIST) {
		v->list = shoal_realloc(v->list, ((size_t)v->count + 1) * sizeof(*v->list));
		v->list[v->count - 1] = value;
		v->list[v->count] = NULL;
	}
	return 0;
}

/* "--name", "--name=value", "--name value"; returns how many extra argv items it used. */
static int parse_long(struct shoal_cli_args *a, char **argv, int left, struct shoal_err *err)
{
	const char *name = argv[0] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	ssize_t idx = opt_by_name(a, name, len);
	enum shoal_cli_opt_type type;

	if (idx < 0 && !(len == 4 && strncmp(name, "help", 4) == 0))
		return shoal_errorf(err, 400, "unknown flag: --%.*s", (int)len, name);
	type = idx >= 0 ? a->opts[idx].type : SHOAL_CLI_OPT_BOOL;
	if (eq != NULL)
		return set_value(a, idx, eq + 1, err);
	if (type == SHOAL_CLI_OPT_BOOL)
		return set_value(a, idx, "true", err);
	if (left < 2)
		return shoal_errorf(err, 400, "flag needs an argument: --%s", name);
	if (set_value(a, idx, argv[1], err) < 0)
		return -1;
	return 1;
}

/* "-abc", "-fvalue", "-f value", "-f=value"; returns how many extra argv items it used. */
static int parse_short(struct shoal_cli_args *a, char **argv, int left, struct shoal_err *err)
{
	const char *s = argv[0] + 1;

	for (; *s != '\0'; s++) {
		ssize_t idx = opt_by_short(a, *s);
		enum shoal_cli_opt_type type;

		if (idx < 0 && *s != 'h')
			return shoal_errorf(err, 400, "unknown shorthand flag: '%c' in %s", *s,
					    argv[0]);
		type = idx >= 0 ? a->opts[idx].type : SHOAL_CLI_OPT_BOOL;
		if (s[1] == '=')
			return set_value(a, idx, s + 2, err);
		if (type == SHOAL_CLI_OPT_BOOL) {
			if (set_value(a, idx, "true", err) < 0)
				return -1;
			continue;
		}
		if (s[1] != '\0')
			return set_value(a, idx, s + 1, err);
		if (left < 2)
			return shoal_errorf(err, 400, "flag needs an argument: '%c' in %s", *s,
					    argv[0]);
		if (set_value(a, idx, argv[1], err) < 0)
			return -1;
		return 1;
	}
	return 0;
}

int shoal_cli_args_parse(struct shoal_cli_args *a, const struct shoal_cli_opt *opts, int argc,
			 char **argv, bool interspersed, struct shoal_err *err)
{
	return shoal_cli_args_parse_checked(a, opts, NULL, argc, argv, interspersed, err);
}

int shoal_cli_args_parse_checked(struct shoal_cli_args *a, const struct shoal_cli_opt *opts,
				 const struct shoal_cli_check *checks, int argc, char **argv,
				 bool interspersed, struct shoal_err *err)
{
	int i, used;

	memset(a, 0, sizeof(*a));
	a->opts = opts;
	a->checks = checks;
	while (opts != NULL && opts[a->nopts].name != NULL)
		a->nopts++;
	a->vals = shoal_calloc(a->nopts + 1, sizeof(*a->vals));
	a->argv = shoal_calloc((size_t)argc + 1, sizeof(*a->argv));
	for (i = 0; i < argc; i++) {
		char *s = argv[i];

		if (strcmp(s, "--") == 0) {
			for (i++; i < argc; i++)
				a->argv[a->argc++] = argv[i];
			break;
		}
		if (s[0] != '-' || s[1] == '\0') {
			if (!interspersed) {
				for (; i < argc; i++)
					a->argv[a->argc++] = argv[i];
				break;
			}
			a->argv[a->argc++] = s;
			continue;
		}
		if (s[1] == '-')
			used = parse_long(a, argv + i, argc - i, err);
		else
			used = parse_short(a, argv + i, argc - i, err);
		if (used < 0)
			return -1;
		i += used;
	}
	return 0;
}

void shoal_cli_args_fini(struct shoal_cli_args *a)
{
	size_t i;

	if (a->vals != NULL)
		for (i = 0; i < a->nopts; i++)
			free(a->vals[i].list);
	free(a->vals);
	free(a->argv);
	free(a->path);
	memset(a, 0, sizeof(*a));
}

static const struct shoal_cli_flag_val *val_of(const struct shoal_cli_args *a, const char *name,
					       const struct shoal_cli_opt **opt)
{
	ssize_t idx = opt_by_name(a, name, strlen(name));

	/* asking for an option the command does not define is a programming error */
	if (idx < 0) {
		fprintf(stderr, "shoal: internal error: no option --%s\n", name);
		abort();
	}
	if (opt != NULL)
		*opt = &a->opts[idx];
	return &a->vals[idx];
}

bool shoal_cli_flag_changed(const struct shoal_cli_args *a, const char *name)
{
	return val_of(a, name, NULL)->count > 0;
}

bool shoal_cli_flag_bool(const struct shoal_cli_args *a, const char *name)
{
	const struct shoal_cli_opt *o;
	const struct shoal_cli_flag_val *v = val_of(a, name, &o);

	if (v->count == 0)
		return o->def != NULL && strcmp(o->def, "true") == 0;
	return strcmp(v->str, "true") == 0;
}

const char *shoal_cli_flag_str(const struct shoal_cli_args *a, const char *name)
{
	const struct shoal_cli_opt *o;
	const struct shoal_cli_flag_val *v = val_of(a, name, &o);

	return v->count > 0 ? v->str : o->def;
}

size_t shoal_cli_flag_list(const struct shoal_cli_args *a, const char *name,
			   const char *const **vals)
{
	const struct shoal_cli_flag_val *v = val_of(a, name, NULL);

	*vals = v->list;
	return (size_t)v->count;
}

/* Help *********************************************************************************/

/* pflag's wrapN: splits s at whitespace near i, allowing slop over to finish the text. */
static size_t wrap_n(const char *s, size_t len, size_t i, size_t slop, size_t *rest)
{
	size_t w, nl = 0;
	bool has_nl = false;
	ssize_t k;

	if (i + slop > len) {
		*rest = len;
		return len;
	}
	for (k = (ssize_t)i - 1; k >= 0; k--)
		if (s[k] == ' ' || s[k] == '\t' || s[k] == '\n')
			break;
	if (k <= 0) {
		*rest = len;
		return len;
	}
	w = (size_t)k;
	for (k = (ssize_t)i - 1; k >= 0; k--) {
		if (s[k] == '\n') {
			nl = (size_t)k;
			has_nl = true;
			break;
		}
	}
	if (has_nl && nl > 0 && nl < w) {
		*rest = nl + 1;
		return nl;
	}
	*rest = w + 1;
	return w;
}

static void add_indented(struct shoal_buf *b, const char *s, size_t len, size_t indent)
{
	size_t i, j;

	for (i = 0; i < len; i++) {
		shoal_buf_addc(b, s[i]);
		if (s[i] == '\n')
			for (j = 0; j < indent; j++)
				shoal_buf_addc(b, ' ');
	}
}

/* pflag's wrap: s wrapped to width w, continuation lines indented by i. */
static void wrap(struct shoal_buf *b, size_t i, size_t w, const char *s)
{
	size_t len = strlen(s), n, rest, width, j;

	if (w == 0) {
		add_indented(b, s, len, i);
		return;
	}
	width = w > i ? w - i : 0;
	if (width < 24) {
		i = 16;
		width = w > i ? w - i : 0;
		shoal_buf_addc(b, '\n');
		for (j = 0; j < i; j++)
			shoal_buf_addc(b, ' ');
	}
	if (width < 24) {
		add_indented(b, s, len, i);
		return;
	}
	width -= 5;
	n = wrap_n(s, len, width, 5, &rest);
	add_indented(b, s, n, i);
	s += rest;
	len -= rest;
	while (len > 0) {
		n = wrap_n(s, len, width, 5, &rest);
		shoal_buf_addc(b, '\n');
		for (j = 0; j < i; j++)
			shoal_buf_addc(b, ' ');
		add_indented(b, s, n, i);
		s += rest;
		len -= rest;
	}
}

static size_t term_cols(void)
{
	struct winsize ws;

	/* docker measures stdin, and falls back to 80 columns */
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* pflag's FlagUsagesWrapped(cols - 1), without its trailing newline. */
static void flag_usages(struct shoal_buf *b, const struct shoal_cli_opt *opts)
{
	size_t cols = term_cols() - 1, maxlen = 0, i, n = 0;
	struct shoal_buf *lines;

	while (opts[n].name != NULL)
		n++;
	lines = shoal_calloc(n + 1, sizeof(*lines));
	for (i = 0; i < n; i++) {
		const struct shoal_cli_opt *o = &opts[i];
		const char *var = o->arg_name;

		shoal_buf_init(&lines[i]);
		if (o->shorthand)
			shoal_buf_addf(&lines[i], "  -%c, --%s", o->shorthand, o->name);
		else
			shoal_buf_addf(&lines[i], "      --%s", o->name);
		if (var == NULL && o->type == SHOAL_CLI_OPT_STRING)
			var = "string";
		if (var == NULL && o->type == SHOAL_CLI_OPT_LIST)
			var = "list";
		if (var != NULL && o->type != SHOAL_CLI_OPT_BOOL)
			shoal_buf_addf(&lines[i], " %s", var);
		if (lines[i].len + 1 > maxlen)
			maxlen = lines[i].len + 1;
	}
	for (i = 0; i < n; i++) {
		const struct shoal_cli_opt *o = &opts[i];
		struct shoal_buf usage;
		size_t j;

		shoal_buf_init(&usage);
		shoal_buf_adds(&usage, o->help);
		if (o->def != NULL && o->type == SHOAL_CLI_OPT_STRING && *o->def != '\0')
			shoal_buf_addf(&usage, " (default \"%s\")", o->def);
		else if (o->def != NULL && o->type != SHOAL_CLI_OPT_STRING &&
			 strcmp(o->def, "false") != 0)
			shoal_buf_addf(&usage, " (default %s)", o->def);
		if (i > 0)
			shoal_buf_addc(b, '\n');
		shoal_buf_add(b, lines[i].data, lines[i].len);
		/* fmt.Fprintln(line, spacing, usage): maxlen counts the NUL marker */
		for (j = lines[i].len; j < maxlen + 2; j++)
			shoal_buf_addc(b, ' ');
		wrap(b, maxlen + 2, cols, usage.data);
		shoal_buf_fini(&usage);
		shoal_buf_fini(&lines[i]);
	}
	free(lines);
	/* trimRightSpace */
	while (b->len > 0 && (b->data[b->len - 1] == ' ' || b->data[b->len - 1] == '\n'))
		b->data[--b->len] = '\0';
}

static bool has_opts(const struct shoal_cli_cmd *cmd)
{
	return cmd->opts != NULL && cmd->opts[0].name != NULL;
}

static void list_cmds(struct shoal_buf *b, const struct shoal_cli_cmd *cmd, const char *title,
		      bool (*pick)(const struct shoal_cli_cmd *, const struct shoal_cli_cmd *))
{
	size_t i, pad = 11; /* cobra's minimum name padding */
	bool any = false;

	for (i = 0; cmd->subcmds[i] != NULL; i++)
		if (strlen(cmd->subcmds[i]->name) > pad)
			pad = strlen(cmd->subcmds[i]->name);
	for (i = 0; cmd->subcmds[i] != NULL; i++) {
		const struct shoal_cli_cmd *c = cmd->subcmds[i];

		if (!pick(cmd, c))
			continue;
		if (!any)
			shoal_buf_addf(b, "\n\n%s:", title);
		any = true;
		shoal_buf_addf(b, "\n  %-*s %s", (int)pad, c->name, c->short_help);
	}
}

static bool pick_common(const struct shoal_cli_cmd *parent, const struct shoal_cli_cmd *c)
{
	return parent == &shoal_cli__root && c->group == SHOAL_CLI_GROUP_COMMON;
}

static bool pick_management(const struct shoal_cli_cmd *parent, const struct shoal_cli_cmd *c)
{
	(void)parent;
	return c->subcmds != NULL;
}

static bool pick_swarm(const struct shoal_cli_cmd *parent, const struct shoal_cli_cmd *c)
{
	return parent == &shoal_cli__root && c->subcmds == NULL &&
	       c->group == SHOAL_CLI_GROUP_SWARM;
}

static bool pick_other(const struct shoal_cli_cmd *parent, const struct shoal_cli_cmd *c)
{
	if (parent != &shoal_cli__root)
		return c->subcmds == NULL;
	return c->subcmds == NULL && c->group == SHOAL_CLI_GROUP_OTHER;
}

void shoal_cli__help(const struct shoal_cli_cmd *cmd, const char *path, struct shoal_buf *out)
{
	bool root = cmd == &shoal_cli__root;

	if (cmd->subcmds != NULL)
		shoal_buf_addf(out, "Usage:  %s%s COMMAND\n\n", path,
			       has_opts(cmd) ? " [OPTIONS]" : "");
	else
		shoal_buf_addf(out, "Usage:  %s%s\n\n", path, strchr(cmd->use, ' ') ?: "");
	shoal_buf_adds(out, cmd->short_help);
	if (cmd->aliases != NULL)
		shoal_buf_addf(out, "\n\nAliases:\n  %s", cmd->aliases);
	if (!root && has_opts(cmd)) {
		shoal_buf_adds(out, "\n\nOptions:\n");
		flag_usages(out, cmd->opts);
	}
	if (cmd->subcmds != NULL) {
		list_cmds(out, cmd, "Common Commands", pick_common);
		list_cmds(out, cmd, "Management Commands", pick_management);
		list_cmds(out, cmd, "Swarm Commands", pick_swarm);
		list_cmds(out, cmd, "Commands", pick_other);
	}
	if (root && has_opts(cmd)) {
		shoal_buf_adds(out, "\n\nGlobal Options:\n");
		flag_usages(out, cmd->opts);
	}
	if (cmd->subcmds != NULL)
		shoal_buf_addf(out,
			       "\n\nRun '%s COMMAND --help' for more information on a command.",
			       path);
	shoal_buf_addc(out, '\n');
}

int shoal_cli_usage_errorf(struct shoal_cli *cli, const struct shoal_cli_args *a,
			   struct shoal_err *err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli->exit_status = 125;
	return shoal_errorf(err, 400, "%s\n\nUsage:  %s%s\n\nRun '%s --help' for more information",
			    msg, a->path, strchr(a->cmd->use, ' ') ?: "", a->path);
}
