/* Unit tests for src/cli/service_progress.c: jsonmessage's rendering of the convergence
 * progress, on a terminal and off it, byte for byte as docker's captures show it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/internal.h"

/* Fixture ********************************************************************************/

struct fixture {
	struct shoal_buf out;
	struct shoal_cli_jm d;
};

static int setup_tty(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	shoal_buf_init(&f->out);
	shoal_cli__jm_init(&f->d, &f->out, true, 120);
	*state = f;
	return 0;
}

static int setup_pipe(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	shoal_buf_init(&f->out);
	shoal_cli__jm_init(&f->d, &f->out, false, 200);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	shoal_cli__jm_fini(&f->d);
	shoal_buf_fini(&f->out);
	free(f);
	return 0;
}

/* Helpers ********************************************************************************/

static void action(struct fixture *f, const char *id, const char *act, int64_t cur, int64_t total)
{
	struct shoal_cli_progress p = {
		.id = id, .action = act, .current = cur, .total = total, .hide_counts = true
	};

	shoal_cli__jm_write(&f->d, &p);
}

/* Tests **********************************************************************************/

/* A new ID gets a new line; redrawing it moves the cursor up to it and back down
 * (docker-service-create-vote.tty.txt). */
static void test_tty_lines_per_id(void **state)
{
	struct fixture *f = *state;

	action(f, "overall progress", "0 out of 2 tasks", 0, 0);
	action(f, "1/2", " ", 0, 0);
	action(f, "1/2", "pending  ", 3, 9);
	assert_string_equal(
		f->out.data,
		"\n\x1b[1A\x1b[2K\roverall progress: 0 out of 2 tasks \r\x1b[1B"
		"\n\x1b[1A\x1b[2K\r1/2:   \r\x1b[1B"
		"\x1b[1A\x1b[2K\r1/2: pending   [================>                                  ] \r\x1b[1B");
}

/* A finished task's bar is full; a narrow terminal shows no bar at all. */
static void test_tty_bar_width(void **state)
{
	struct fixture *f = *state;

	action(f, "1/1", "running  ", 9, 9);
	assert_non_null(
		strstr(f->out.data, "[==================================================>] "));
	shoal_buf_reset(&f->out);
	f->d.width = 80;
	action(f, "1/1", "running  ", 9, 9);
	assert_string_equal(f->out.data, "\x1b[1A\x1b[2K\r1/1: running   \r\x1b[1B");
}

/* Without a terminal the bars are left out and every other line printed as it comes
 * (docker-service-create-vote-nontty.txt). */
static void test_pipe_skips_bars(void **state)
{
	struct fixture *f = *state;

	action(f, "overall progress", "0 out of 1 tasks", 0, 0);
	action(f, "1/1", " ", 0, 0);
	action(f, "1/1", "starting ", 8, 9);
	action(f, "verify", "Waiting 5 seconds to verify that tasks are stable...", 0, 0);
	assert_string_equal(f->out.data,
			    "overall progress: 0 out of 1 tasks\n"
			    "1/1:  \n"
			    "verify: Waiting 5 seconds to verify that tasks are stable...\n");
}

/* A message (no progress detail) is a plain line that forgets the drawn lines. */
static void test_message_resets_lines(void **state)
{
	struct fixture *f = *state;
	struct shoal_cli_progress msg = { .message = "Operation continuing in background." };

	action(f, "verify", "x", 0, 0);
	shoal_cli__jm_write(&f->d, &msg);
	action(f, "verify", "y", 0, 0);
	assert_string_equal(f->out.data, "\n\x1b[1A\x1b[2K\rverify: x \r\x1b[1B"
					 "Operation continuing in background.\n"
					 "\n\x1b[1A\x1b[2K\rverify: y \r\x1b[1B");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tty_lines_per_id, setup_tty, teardown),
		cmocka_unit_test_setup_teardown(test_tty_bar_width, setup_tty, teardown),
		cmocka_unit_test_setup_teardown(test_pipe_skips_bars, setup_pipe, teardown),
		cmocka_unit_test_setup_teardown(test_message_resets_lines, setup_tty, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
