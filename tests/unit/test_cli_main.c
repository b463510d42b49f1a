/* Unit tests for src/cli/main.c: whole command lines run through shoal_cli_run without a
 * daemon: dispatch, docker's texts and exit statuses for bad command lines, and what version
 * and info print when the daemon is unreachable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"

/* Fixture *****************************************************************************/

struct fixture {
	char *out, *err; /* what the command printed */
	int status;
};

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct fixture));
	unsetenv("DOCKER_HOST");
	unsetenv("DOCKER_API_VERSION");
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->out);
	free(f->err);
	free(f);
	return 0;
}

/* Helpers *****************************************************************************/

/* Runs "shoal <args...>" (NULL-terminated) and keeps its output and exit status. */
static void run(struct fixture *f, ...)
{
	char *argv[16] = { "shoal" };
	size_t outlen, errlen;
	struct shoal_cli cli;
	FILE *out, *err;
	int argc = 1;
	va_list ap;

	va_start(ap, f);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	free(f->out);
	free(f->err);
	out = open_memstream(&f->out, &outlen);
	err = open_memstream(&f->err, &errlen);
	shoal_cli_init(&cli, out, err);
	f->status = shoal_cli_run(&cli, argc, argv);
	shoal_cli_fini(&cli);
	fclose(out);
	fclose(err);
}

/* Tests *******************************************************************************/

/* An unknown command gets docker's two lines and status 1. */
static void test_unknown_command(void **state)
{
	struct fixture *f = *state;

	run(f, "foo", NULL);
	assert_int_equal(f->status, 1);
	assert_string_equal(f->err, "shoal: 'foo' is not a shoal command.\nSee 'shoal --help'\n");
	assert_string_equal(f->out, "");
}

/* A bad flag is a usage error: message, usage line, hint, status 125. */
static void test_bad_flag_is_usage_error(void **state)
{
	struct fixture *f = *state;

	run(f, "version", "--bogus", NULL);
	assert_int_equal(f->status, 125);
	assert_string_equal(f->err, "unknown flag: --bogus\n\nUsage:  shoal version [OPTIONS]\n\n"
				    "Run 'shoal version --help' for more information\n");
	run(f, "-H", NULL);
	assert_int_equal(f->status, 125);
	assert_string_equal(
		f->err,
		"flag needs an argument: 'H' in -H\n\nUsage:  shoal [OPTIONS] COMMAND [ARG...]\n\n"
		"Run 'shoal --help' for more information\n");
}

/* Extra arguments to a command that takes none fail with status 1. */
static void test_extra_arguments(void **state)
{
	struct fixture *f = *state;

	run(f, "version", "extra", NULL);
	assert_int_equal(f->status, 1);
	assert_string_equal(f->err, "shoal: 'shoal version' accepts no arguments\n\n"
				    "Usage:  shoal version [OPTIONS]\n\n"
				    "Run 'shoal version --help' for more information\n");
}

/* -v prints the one-line version as `docker -v` does. */
static void test_version_flag(void **state)
{
	struct fixture *f = *state;

	run(f, "-v", NULL);
	assert_int_equal(f->status, 0);
	assert_string_equal(f->out,
			    "Shoal version " SHOAL_VERSION ", build " SHOAL_GIT_COMMIT "\n");
}

/* No command, or --help, prints the root help on stdout with status 0. */
static void test_root_help(void **state)
{
	struct fixture *f = *state;

	run(f, NULL);
	assert_int_equal(f->status, 0);
	assert_true(strncmp(f->out, "Usage:  shoal [OPTIONS] COMMAND\n", 32) == 0);
	run(f, "version", "--help", NULL);
	assert_int_equal(f->status, 0);
	assert_true(strncmp(f->out, "Usage:  shoal version [OPTIONS]\n\nShow the Shoal", 46) == 0);
}

/* Management commands print their help bare, and reject unknown subcommands. */
static void test_management_command(void **state)
{
	struct fixture *f = *state;

	run(f, "system", NULL);
	assert_int_equal(f->status, 0);
	assert_non_null(
		strstr(f->out, "Commands:\n  info        Display system-wide information\n"));
	run(f, "system", "nope", NULL);
	assert_int_equal(f->status, 1);
	assert_string_equal(f->err, "shoal: unknown command: shoal system nope\n\n"
				    "Usage:  shoal system\n\n"
				    "Run 'shoal system --help' for more information\n");
}

/* An address docker cannot parse stops every command before it runs. */
static void test_bad_host(void **state)
{
	struct fixture *f = *state;

	run(f, "-H", "foo://x", "version", NULL);
	assert_int_equal(f->status, 1);
	assert_string_equal(f->err, "Failed to initialize: unable to resolve docker endpoint: "
				    "invalid bind address format: foo://x\n");
	run(f, "-l", "loud", "version", NULL);
	assert_int_equal(f->status, 1);
	assert_string_equal(f->err, "Unable to parse logging level: loud\n");
}

/* With the daemon unreachable, version still prints the client section, then docker's
 * "Cannot connect" line naming the address, and fails. */
static void test_version_without_daemon(void **state)
{
	struct fixture *f = *state;

	run(f, "-H", "unix:///nonexistent/docker.sock", "version", NULL);
	assert_int_equal(f->status, 1);
	assert_true(strncmp(f->out,
			    "Client:\n Version:           " SHOAL_VERSION "\n"
			    " API version:       " SHOAL_CLI_API_VERSION "\n",
			    strlen("Client:\n Version:           " SHOAL_VERSION "\n"
				   " API version:       " SHOAL_CLI_API_VERSION "\n")) == 0);
	assert_non_null(strstr(f->out, " OS/Arch:           linux/"));
	assert_non_null(strstr(f->out, " Context:           default\n"));
	assert_null(strstr(f->out, "Server:"));
	assert_string_equal(f->err,
			    "Cannot connect to the Docker daemon at "
			    "unix:///nonexistent/docker.sock. Is the docker daemon running?\n");
}

/* DOCKER_HOST is used when -H is absent, and info prints its client section alone. */
static void test_info_without_daemon(void **state)
{
	struct fixture *f = *state;

	setenv("DOCKER_HOST", "unix:///nonexistent/other.sock", 1);
	run(f, "info", NULL);
	assert_int_equal(f->status, 1);
	assert_string_equal(f->out, "Client:\n Version:    " SHOAL_VERSION "\n"
				    " Context:    default\n Debug Mode: false\n\nServer:\n");
	assert_string_equal(f->err,
			    "Cannot connect to the Docker daemon at "
			    "unix:///nonexistent/other.sock. Is the docker daemon running?\n");
}

/* A format reading only client fields needs no daemon at all. */
static void test_info_client_only_format(void **state)
{
	struct fixture *f = *state;

	run(f, "-H", "unix:///nonexistent/docker.sock", "-D", "info", "-f",
	    "{{.ClientInfo.Version}} {{.ClientInfo.Debug}}", NULL);
	assert_int_equal(f->status, 0);
	assert_string_equal(f->out, SHOAL_VERSION " true\n");
	assert_string_equal(f->err, "");
}

/* A template that does not parse fails with docker's prefix and status 64. */
static void test_bad_template(void **state)
{
	struct fixture *f = *state;

	run(f, "version", "-f", "{{.Client", NULL);
	assert_int_equal(f->status, 64);
	assert_string_equal(f->err,
			    "template parsing error: template: version:1: unclosed action\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_flag_is_usage_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extra_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_help, setup, teardown),
		cmocka_unit_test_setup_teardown(test_management_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_without_daemon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_without_daemon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_client_only_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_template, setup, teardown),
	};

	if (freopen("/dev/null", "r", stdin) == NULL)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
