/* Unit tests for src/cli/service.c: flag values parsed and refused as docker/cli's option
 * types do, image references, ordering, and Go's JSON output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/internal.h"

#define SEC 1000000000LL

/* Helpers ********************************************************************************/

static char *dump(json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void assert_json(json_t *v, const char *want)
{
	char *s = dump(v);

	assert_string_equal(s, want);
	free(s);
}

/* time.ParseDuration reads sums of units and decimals; time.Duration.String writes them back
 * the way docker's --pretty and defaults show them. */
static void test_duration_round_trip(void **state)
{
	static const struct {
		const char *in, *out;
		int64_t ns;
	} cases[] = {
		{ "5s", "5s", 5 * SEC },	{ "1m30s", "1m30s", 90 * SEC },
		{ "1h", "1h0m0s", 3600 * SEC }, { "1.5s", "1.5s", 1500000000LL },
		{ ".5m", "30s", 30 * SEC },	{ "300ms", "300ms", 300000000LL },
		{ "2us", "2\xc2\xb5s", 2000 },	{ "0", "0s", 0 },
		{ "-3s", "-3s", -3 * SEC },
	};
	struct shoal_err err;
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ns = -1;

		assert_int_equal(shoal_cli__go_parse_duration(cases[i].in, &ns, &err), 0);
		assert_true(ns == cases[i].ns);
		assert_string_equal(shoal_cli__go_format_duration(ns, out, sizeof(out)),
				    cases[i].out);
	}
}

/* Bad durations carry Go's messages, which docker prints after the flag. */
static void test_duration_errors(void **state)
{
	struct shoal_err err;
	int64_t ns;

	(void)state;
	assert_int_equal(shoal_cli__go_parse_duration("1x", &ns, &err), -1);
	assert_string_equal(err.msg, "time: unknown unit \"x\" in duration \"1x\"");
	assert_int_equal(shoal_cli__go_parse_duration("10", &ns, &err), -1);
	assert_string_equal(err.msg, "time: missing unit in duration \"10\"");
	assert_int_equal(shoal_cli__go_parse_duration("", &ns, &err), -1);
	assert_string_equal(err.msg, "time: invalid duration \"\"");
	assert_int_equal(shoal_cli__go_parse_duration("s", &ns, &err), -1);
	assert_string_equal(err.msg, "time: invalid duration \"s\"");
	assert_int_equal(shoal_cli__check_pos_duration("-1s", &err), -1);
	assert_string_equal(err.msg, "duration cannot be negative");
}

/* strconv's base 0 reads prefixes; its errors name the function and the input. */
static void test_strconv(void **state)
{
	struct shoal_err err;
	uint64_t u;
	int64_t i;
	double f;

	(void)state;
	assert_int_equal(shoal_cli__go_parse_uint("0x10", 0, 64, &u, &err), 0);
	assert_true(u == 16);
	assert_int_equal(shoal_cli__go_parse_uint("010", 0, 64, &u, &err), 0);
	assert_true(u == 8);
	assert_int_equal(shoal_cli__go_parse_uint("x", 0, 64, &u, &err), -1);
	assert_string_equal(err.msg, "strconv.ParseUint: parsing \"x\": invalid syntax");
	assert_int_equal(shoal_cli__go_parse_uint("-1", 10, 64, &u, &err), -1);
	assert_int_equal(shoal_cli__go_parse_uint("70000", 10, 16, &u, &err), -1);
	assert_string_equal(err.msg, "strconv.ParseUint: parsing \"70000\": value out of range");
	assert_int_equal(shoal_cli__go_parse_int("-5", 0, 64, &i, &err), 0);
	assert_true(i == -5);
	assert_int_equal(shoal_cli__go_parse_float("0.25", 32, &f, &err), 0);
	assert_true(f == 0.25);
	assert_int_equal(shoal_cli__go_parse_float(" 1", 32, &f, &err), -1);
	assert_string_equal(err.msg, "strconv.ParseFloat: parsing \" 1\": invalid syntax");
}

/* Float32s print in their shortest form, as --pretty's "Max failure ratio". */
static void test_format_float(void **state)
{
	struct shoal_buf b;

	(void)state;
	shoal_buf_init(&b);
	shoal_cli__go_format_float(&b, (float)0.2, 32);
	assert_string_equal(b.data, "0.2");
	shoal_buf_reset(&b);
	shoal_cli__go_format_float(&b, 0, 32);
	assert_string_equal(b.data, "0");
	shoal_buf_reset(&b);
	shoal_cli__go_format_float(&b, 1500000, 64);
	assert_string_equal(b.data, "1.5e+06");
	shoal_buf_fini(&b);
}

/* --limit-memory and --limit-cpu read go-units sizes and decimal CPUs. */
static void test_bytes_and_cpus(void **state)
{
	struct shoal_err err;
	int64_t v;

	(void)state;
	assert_int_equal(shoal_cli__go_ram_in_bytes("64m", &v, &err), 0);
	assert_true(v == 64 << 20);
	assert_int_equal(shoal_cli__go_ram_in_bytes("1q", &v, &err), -1);
	assert_string_equal(err.msg, "invalid suffix: 'q'");
	assert_int_equal(shoal_cli__go_ram_in_bytes("m", &v, &err), -1);
	assert_string_equal(err.msg, "invalid size: 'm'");
	assert_int_equal(shoal_cli__go_parse_cpus("1.5", &v, &err), 0);
	assert_true(v == 1500000000LL);
	assert_int_equal(shoal_cli__go_parse_cpus("3/4", &v, &err), 0);
	assert_true(v == 750000000LL);
	assert_int_equal(shoal_cli__go_parse_cpus("2e-1", &v, &err), 0);
	assert_true(v == 200000000LL);
	assert_int_equal(shoal_cli__go_parse_cpus("0.0000000001", &v, &err), -1);
	assert_string_equal(err.msg, "value is too precise");
	assert_int_equal(shoal_cli__go_parse_cpus("abc", &v, &err), -1);
	assert_string_equal(err.msg, "failed to parse abc as a rational number");
}

/* --publish: the short form with ranges, and the long form with its defaults. */
static void test_ports(void **state)
{
	struct shoal_err err;
	json_t *p = json_array();

	(void)state;
	assert_int_equal(shoal_cli__svc_ports_parse("8080:80", p, &err), 0);
	assert_json(p, "[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,"
		       "\"PublishMode\":\"ingress\"}]");
	json_array_clear(p);
	assert_int_equal(shoal_cli__svc_ports_parse(
				 "mode=host,target=80,published=8080,protocol=udp", p, &err),
			 0);
	assert_json(p, "[{\"Protocol\":\"udp\",\"TargetPort\":80,\"PublishedPort\":8080,"
		       "\"PublishMode\":\"host\"}]");
	json_array_clear(p);
	assert_int_equal(shoal_cli__svc_ports_parse("8000-8001:80-81/udp", p, &err), 0);
	assert_int_equal(json_array_size(p), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(p, 1), "PublishedPort")),
			 8001);
	json_array_clear(p);
	assert_int_equal(shoal_cli__svc_ports_parse("53", p, &err), 0);
	assert_json(p, "[{\"Protocol\":\"tcp\",\"TargetPort\":53,\"PublishMode\":\"ingress\"}]");
	assert_int_equal(shoal_cli__svc_ports_parse("80:abc", p, &err), -1);
	assert_string_equal(err.msg, "invalid containerPort: abc");
	assert_int_equal(shoal_cli__svc_ports_parse("published=80", p, &err), -1);
	assert_string_equal(err.msg, "missing mandatory field 'target'");
	assert_int_equal(shoal_cli__svc_ports_parse("target=80,mode=x", p, &err), -1);
	assert_string_equal(err.msg,
			    "invalid publish mode value (x): must be either 'ingress' or 'host'");
	assert_int_equal(shoal_cli__svc_ports_parse("1.2.3.4:80:80", p, &err), -1);
	assert_string_equal(err.msg, "hostip is not supported");
	json_decref(p);
}

/* --mount: volume by default, Go's field order, docker's refusals. */
static void test_mounts(void **state)
{
	struct shoal_err err;
	json_t *m;

	(void)state;
	m = shoal_cli__svc_mount_parse("type=bind,source=/tmp,target=/b,readonly", &err);
	assert_non_null(m);
	assert_json(m,
		    "{\"Type\":\"bind\",\"Source\":\"/tmp\",\"Target\":\"/b\",\"ReadOnly\":true}");
	json_decref(m);
	m = shoal_cli__svc_mount_parse("target=/v,volume-label=a=b", &err);
	assert_non_null(m);
	assert_json(m, "{\"Type\":\"volume\",\"Target\":\"/v\",\"VolumeOptions\":{\"Labels\":"
		       "{\"a\":\"b\"},\"DriverConfig\":{}}}");
	json_decref(m);
	assert_null(shoal_cli__svc_mount_parse("type=foo", &err));
	assert_string_equal(err.msg, "target is required");
	assert_null(shoal_cli__svc_mount_parse("type=tmpfs,target=/t,volume-nocopy", &err));
	assert_string_equal(err.msg, "cannot mix 'volume-*' options with mount type 'tmpfs'");
	assert_null(shoal_cli__svc_mount_parse("target=/t,bogus=1", &err));
	assert_string_equal(err.msg, "unexpected key 'bogus' in 'bogus=1'");
}

/* CSV fields may be quoted; shell words split and unquote. */
static void test_csv_and_shlex(void **state)
{
	struct shoal_err err;
	json_t *v;

	(void)state;
	v = shoal_cli__csv_split("a,\"b,c\",d", &err);
	assert_json(v, "[\"a\",\"b,c\",\"d\"]");
	json_decref(v);
	v = shoal_cli__shlex_split("/bin/sh -c 'echo hi' \"a b\" c\\ d", &err);
	assert_json(v, "[\"/bin/sh\",\"-c\",\"echo hi\",\"a b\",\"c d\"]");
	json_decref(v);
	assert_null(shoal_cli__shlex_split("'open", &err));
}

/* Images are sent tagged and shown familiar, without digests. */
static void test_image_references(void **state)
{
	char *s;

	(void)state;
	s = shoal_cli__image_tagged("instavote/vote");
	assert_string_equal(s, "instavote/vote:latest");
	free(s);
	s = shoal_cli__image_tagged("docker.io/library/busybox");
	assert_string_equal(s, "busybox:latest");
	free(s);
	s = shoal_cli__image_tagged("localhost:5000/a/b:1");
	assert_string_equal(s, "localhost:5000/a/b:1");
	free(s);
	assert_null(shoal_cli__image_tagged("Upper/Case"));
	s = shoal_cli__image_display("instavote/vote:indent@sha256:abcd");
	assert_string_equal(s, "instavote/vote:indent");
	free(s);
	s = shoal_cli__image_display("busybox@sha256:abcd");
	assert_string_equal(s, "busybox@sha256:abcd");
	free(s);
	s = shoal_cli__image_with_digest("vote:1", "sha256:ff");
	assert_string_equal(s, "vote:1@sha256:ff");
	free(s);
}

/* Task names sort with their numbers read as numbers. */
static void test_natural_less(void **state)
{
	(void)state;
	assert_true(shoal_cli__natural_less("vote.2", "vote.10"));
	assert_false(shoal_cli__natural_less("vote.10", "vote.2"));
	assert_true(shoal_cli__natural_less("a", "b"));
	assert_true(shoal_cli__natural_less("vote", "vote.1"));
	assert_false(shoal_cli__natural_less("x1", "x1"));
}

/* --filter keys are trimmed and lower-cased; the query has Go's sorted keys. */
static void test_filters(void **state)
{
	const char *vals[] = { " Name = vote ", "id=abc", "" };
	json_t *f = shoal_cli__filters_new(vals, 3);
	char *q;

	(void)state;
	assert_json(f, "{\"name\":{\"vote\":true},\"id\":{\"abc\":true}}");
	q = shoal_cli__filters_query(f);
	assert_string_equal(q, "%7B%22id%22%3A%7B%22abc%22%3Atrue%7D%2C%22name%22%3A%7B%22vote%22%"
			       "3Atrue%7D%7D");
	free(q);
	json_decref(f);
}

/* Go's encoder escapes HTML characters and writes float32 ratios short. */
static void test_go_json(void **state)
{
	json_t *v = json_pack("{s:s, s:f, s:{}, s:[]}", "P", "*:80->80/tcp", "MaxFailureRatio",
			      (double)(float)0.2, "E", "L");
	struct shoal_buf b;

	(void)state;
	shoal_buf_init(&b);
	shoal_cli__go_json(&b, v, false);
	assert_string_equal(
		b.data, "{\"P\":\"*:80-\\u003e80/tcp\",\"MaxFailureRatio\":0.2,\"E\":{},\"L\":[]}");
	shoal_buf_reset(&b);
	shoal_cli__go_json(&b, json_object_get(v, "E"), true);
	assert_string_equal(b.data, "{}");
	shoal_buf_fini(&b);
	json_decref(v);
}

/* Times from the API read back to the nanosecond. */
static void test_parse_time(void **state)
{
	int64_t ns;

	(void)state;
	assert_int_equal(shoal_cli__parse_time("1970-01-01T00:00:01.5Z", &ns), 0);
	assert_true(ns == 1500000000LL);
	assert_int_equal(shoal_cli__parse_time("2026-11-24T20:01:47.326096897Z", &ns), 0);
	assert_true(ns % SEC == 326096897);
	assert_int_equal(shoal_cli__parse_time("garbage", &ns), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_round_trip),
		cmocka_unit_test(test_duration_errors),
		cmocka_unit_test(test_strconv),
		cmocka_unit_test(test_format_float),
		cmocka_unit_test(test_bytes_and_cpus),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_mounts),
		cmocka_unit_test(test_csv_and_shlex),
		cmocka_unit_test(test_image_references),
		cmocka_unit_test(test_natural_less),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_go_json),
		cmocka_unit_test(test_parse_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
