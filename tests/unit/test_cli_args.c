/* Unit tests for src/cli/args.c: pflag's option syntax and error texts, and cobra's help page
 * layout, which docker users and scripts know by heart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/internal.h"

/* Fixture *****************************************************************************/

static const struct shoal_cli_opt opts[] = {
	{ "quiet", 'q', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Only display IDs" },
	{ "all", 'a', SHOAL_CLI_OPT_BOOL, NULL, NULL, "Show all" },
	{ "format", 'f', SHOAL_CLI_OPT_STRING, NULL, NULL, "Pretty-print" },
	{ "filter", 0, SHOAL_CLI_OPT_LIST, "filter", NULL, "Filter output" },
	{ "replicas", 'n', SHOAL_CLI_OPT_STRING, "uint", "1", "Number of tasks" },
	{ NULL },
};

struct fixture {
	struct shoal_cli_args a;
	struct shoal_err err;
};

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct fixture));
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	shoal_cli_args_fini(&f->a);
	free(f);
	return 0;
}

/* Helpers *****************************************************************************/

/* Parses a NULL-terminated argument list; returns what shoal_cli_args_parse returns. */
static int parse(struct fixture *f, bool interspersed, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;

	va_start(ap, interspersed);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	shoal_cli_args_fini(&f->a);
	return shoal_cli_args_parse(&f->a, opts, argc, argv, interspersed, &f->err);
}

/* Tests *******************************************************************************/

/* Long and short forms, "=" values, attached values and bundled booleans all parse. */
static void test_option_forms(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(parse(f, true, "-qa", "--format={{.ID}}", "-n3", NULL), 0);
	assert_true(shoal_cli_flag_bool(&f->a, "quiet"));
	assert_true(shoal_cli_flag_bool(&f->a, "all"));
	assert_string_equal(shoal_cli_flag_str(&f->a, "format"), "{{.ID}}");
	assert_string_equal(shoal_cli_flag_str(&f->a, "replicas"), "3");
	assert_int_equal(parse(f, true, "-f", "json", "--replicas", "5", "--quiet=false", NULL), 0);
	assert_string_equal(shoal_cli_flag_str(&f->a, "format"), "json");
	assert_string_equal(shoal_cli_flag_str(&f->a, "replicas"), "5");
	assert_false(shoal_cli_flag_bool(&f->a, "quiet"));
	assert_true(shoal_cli_flag_changed(&f->a, "quiet"));
}

/* Unset options give their default, list options keep every value in order. */
static void test_defaults_and_lists(void **state)
{
	struct fixture *f = *state;
	const char *const *vals;

	assert_int_equal(parse(f, true, "--filter", "name=a", "--filter=id=b", NULL), 0);
	assert_string_equal(shoal_cli_flag_str(&f->a, "replicas"), "1");
	assert_null(shoal_cli_flag_str(&f->a, "format"));
	assert_false(shoal_cli_flag_changed(&f->a, "format"));
	assert_int_equal(shoal_cli_flag_list(&f->a, "filter", &vals), 2);
	assert_string_equal(vals[0], "name=a");
	assert_string_equal(vals[1], "id=b");
}

/* Options may follow positionals unless the command stops at the first one (run, the
 * root); "--" always ends the options. */
static void test_interspersed_and_double_dash(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(parse(f, true, "web", "-q", "db", "--", "-a", NULL), 0);
	assert_int_equal(f->a.argc, 3);
	assert_string_equal(f->a.argv[0], "web");
	assert_string_equal(f->a.argv[1], "db");
	assert_string_equal(f->a.argv[2], "-a");
	assert_true(shoal_cli_flag_bool(&f->a, "quiet"));
	assert_false(shoal_cli_flag_bool(&f->a, "all"));
	assert_int_equal(parse(f, false, "web", "-q", NULL), 0);
	assert_int_equal(f->a.argc, 2);
	assert_false(shoal_cli_flag_bool(&f->a, "quiet"));
}

/* -h and --help are understood by every command without being listed. */
static void test_help_flag(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(parse(f, true, "--help", NULL), 0);
	assert_true(f->a.help);
	assert_int_equal(parse(f, true, "-qh", NULL), 0);
	assert_true(f->a.help);
}

/* Errors carry pflag's words. */
static void test_error_texts(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(parse(f, true, "--bogus", NULL), -1);
	assert_string_equal(f->err.msg, "unknown flag: --bogus");
	assert_int_equal(parse(f, true, "-qx", NULL), -1);
	assert_string_equal(f->err.msg, "unknown shorthand flag: 'x' in -qx");
	assert_int_equal(parse(f, true, "-f", NULL), -1);
	assert_string_equal(f->err.msg, "flag needs an argument: 'f' in -f");
	assert_int_equal(parse(f, true, "--format", NULL), -1);
	assert_string_equal(f->err.msg, "flag needs an argument: --format");
	assert_int_equal(parse(f, true, "--quiet=maybe", NULL), -1);
	assert_string_equal(
		f->err.msg,
		"invalid argument \"maybe\" for \"-q, --quiet\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax");
}

static int check_digits(const char *val, struct shoal_err *err)
{
	if (strspn(val, "0123456789") != strlen(val) || *val == '\0')
		return shoal_errorf(err, 400, "not a number");
	return 0;
}

/* A value its check refuses stops parsing where it appears, worded as pflag words it. */
static void test_checked_values(void **state)
{
	static const struct shoal_cli_check checks[] = {
		{ "replicas", check_digits },
		{ NULL },
	};
	struct fixture *f = *state;
	char *argv[] = { "-n", "x", "--bogus" };

	assert_int_equal(shoal_cli_args_parse_checked(&f->a, opts, checks, 3, argv, true, &f->err),
			 -1);
	assert_string_equal(f->err.msg,
			    "invalid argument \"x\" for \"-n, --replicas\" flag: not a number");
	shoal_cli_args_fini(&f->a);
	argv[1] = "3";
	assert_int_equal(shoal_cli_args_parse_checked(&f->a, opts, checks, 2, argv, true, &f->err),
			 0);
	assert_string_equal(shoal_cli_flag_str(&f->a, "replicas"), "3");
}

/* A command's help is cobra's page, options wrapped at 80 columns as docker prints them. */
static void test_help_page(void **state)
{
	struct shoal_buf b;

	(void)state;
	shoal_buf_init(&b);
	shoal_cli__help(&shoal_cli__cmd_info, "shoal info", &b);
	assert_string_equal(
		b.data,
		"Usage:  shoal info [OPTIONS]\n"
		"\n"
		"Display system-wide information\n"
		"\n"
		"Aliases:\n"
		"  shoal system info, shoal info\n"
		"\n"
		"Options:\n"
		"  -f, --format string   Format output using a custom template:\n"
		"                        'json':             Print in JSON format\n"
		"                        'TEMPLATE':         Print output using the given\n"
		"                        Go template.\n"
		"                        Refer to https://docs.docker.com/go/formatting/\n"
		"                        for more information about formatting output with\n"
		"                        templates\n");
	shoal_buf_fini(&b);
}

/* The root help lists commands by group and the global options. */
static void test_root_help(void **state)
{
	struct shoal_buf b;

	(void)state;
	shoal_buf_init(&b);
	shoal_cli__help(&shoal_cli__root, "shoal", &b);
	assert_non_null(strstr(b.data, "Usage:  shoal [OPTIONS] COMMAND\n"));
	assert_non_null(strstr(b.data, "Common Commands:\n  version     Show the Shoal version"));
	assert_non_null(strstr(b.data, "Management Commands:\n  system      Manage Shoal\n"));
	assert_non_null(strstr(b.data, "Global Options:\n  -D, --debug              Enable"));
	assert_non_null(strstr(b.data, "  -H, --host list          Daemon socket to connect to\n"));
	assert_non_null(strstr(
		b.data, "\n\nRun 'shoal COMMAND --help' for more information on a command.\n"));
	shoal_buf_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_option_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults_and_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interspersed_and_double_dash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_texts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checked_values, setup, teardown),
		cmocka_unit_test(test_help_page),
		cmocka_unit_test(test_root_help),
	};

	/* help wraps to the width of a terminal on stdin: make it 80 columns */
	if (freopen("/dev/null", "r", stdin) == NULL)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
