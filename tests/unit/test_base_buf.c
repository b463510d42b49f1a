/* Unit tests for src/base/buf.c: the growable buffer every module builds strings in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/clock.h"

/* Appending past the initial capacity keeps every byte and the terminator. */
static void test_buf_grows_and_stays_terminated(void **state)
{
	struct shoal_buf b;
	int i;

	(void)state;
	shoal_buf_init(&b);
	for (i = 0; i < 1000; i++)
		shoal_buf_addf(&b, "%03d", i);
	assert_int_equal(b.len, 3000);
	assert_memory_equal(b.data + 2997, "999", 3);
	assert_int_equal(b.data[b.len], '\0');
	shoal_buf_fini(&b);
}

/* Consuming a prefix keeps the rest in order, as the connection input buffer needs. */
static void test_buf_consume_keeps_tail(void **state)
{
	struct shoal_buf b;

	(void)state;
	shoal_buf_init(&b);
	shoal_buf_adds(&b, "GET / HTTP/1.1\r\n\r\nGET /x");
	shoal_buf_consume(&b, 18);
	assert_string_equal(b.data, "GET /x");
	shoal_buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	shoal_buf_fini(&b);
}

/* Times print as Go prints time.Time in JSON, nanoseconds included. */
static void test_time_rfc3339nano(void **state)
{
	char out[64];

	(void)state;
	shoal_time_format_rfc3339nano(1465333651171892745LL, out, sizeof(out));
	assert_string_equal(out, "2016-06-07T21:07:31.171892745Z");
	shoal_time_format_http(1465333651171892745LL, out, sizeof(out));
	assert_string_equal(out, "Tue, 07 Jun 2016 21:07:31 GMT");
	/* Go's RFC3339Nano drops the fraction's trailing zeros, and an empty fraction */
	shoal_time_format_go(1465333651171892745LL, out, sizeof(out));
	assert_string_equal(out, "2016-06-07T21:07:31.171892745Z");
	shoal_time_format_go(1465333651120000000LL, out, sizeof(out));
	assert_string_equal(out, "2016-06-07T21:07:31.12Z");
	shoal_time_format_go(1465333651000000000LL, out, sizeof(out));
	assert_string_equal(out, "2016-06-07T21:07:31Z");
	shoal_time_format_go(1465333651000000010LL, out, sizeof(out));
	assert_string_equal(out, "2016-06-07T21:07:31.00000001Z");
}

/* Docker's since/until accept Unix seconds with a fraction and RFC 3339 times. */
static void test_time_parse_forms(void **state)
{
	int64_t ns;

	(void)state;
	assert_int_equal(shoal_time_parse("1465333651", &ns), 0);
	assert_true(ns == 1465333651000000000LL);
	assert_int_equal(shoal_time_parse("1465333651.5", &ns), 0);
	assert_true(ns == 1465333651500000000LL);
	assert_int_equal(shoal_time_parse("2016-06-07T21:07:31.171892745Z", &ns), 0);
	assert_true(ns == 1465333651171892745LL);
	assert_int_equal(shoal_time_parse("2016-06-07T23:07:31+02:00", &ns), 0);
	assert_true(ns == 1465333651000000000LL);
	assert_int_equal(shoal_time_parse("yesterday", &ns), -1);
	assert_int_equal(shoal_time_parse("", &ns), -1);
}

/* Base64 as RFC 4648 writes it, padding included, and back; bad text is refused. */
static void test_base64_round_trips(void **state)
{
	static const char *const cases[][2] = {
		{ "", "" },	   { "f", "Zg==" },	   { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
	};
	struct shoal_buf b, d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		shoal_buf_init(&b);
		shoal_buf_init(&d);
		shoal_buf_add_base64(&b, cases[i][0], strlen(cases[i][0]));
		assert_string_equal(b.data ? b.data : "", cases[i][1]);
		assert_int_equal(shoal_buf_add_unbase64(&d, cases[i][1], strlen(cases[i][1])), 0);
		assert_int_equal(d.len, strlen(cases[i][0]));
		assert_memory_equal(d.data ? d.data : "", cases[i][0], d.len);
		shoal_buf_fini(&b);
		shoal_buf_fini(&d);
	}
	shoal_buf_init(&d);
	assert_int_equal(shoal_buf_add_unbase64(&d, "Zm9", 3), -1);
	assert_int_equal(shoal_buf_add_unbase64(&d, "Z!==", 4), -1);
	assert_int_equal(shoal_buf_add_unbase64(&d, "Zg==Zg==", 8), -1);
	shoal_buf_fini(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_grows_and_stays_terminated),
		cmocka_unit_test(test_buf_consume_keeps_tail),
		cmocka_unit_test(test_time_rfc3339nano),
		cmocka_unit_test(test_time_parse_forms),
		cmocka_unit_test(test_base64_round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
