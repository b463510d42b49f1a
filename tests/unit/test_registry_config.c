/* Unit tests for src/registry/config.c: mirrors and insecure registries checked as
 * dockerd checks them, the endpoints a pull or push tries, and /info's RegistryConfig. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/mem.h"
#include "registry/internal.h"

/* ---- fixture ---- */

static struct shoal_registry *load(const char *const *mirrors, size_t nm,
				   const char *const *insecure, size_t ni, struct shoal_err *err)
{
	struct shoal_registry_config cfg;
	struct shoal_registry *r = shoal_calloc(1, sizeof(*r));

	memset(&cfg, 0, sizeof(cfg));
	cfg.mirrors = mirrors;
	cfg.nmirrors = nm;
	cfg.insecure = insecure;
	cfg.ninsecure = ni;
	cfg.hub_url = "https://127.0.0.1:9";
	if (shoal_registry__config_load(r, &cfg, err) < 0) {
		/* what config_load kept so far is freed with the rest */
	}
	return r;
}

static void unload(struct shoal_registry *r)
{
	size_t i;

	for (i = 0; i < r->nmirrors; i++)
		free(r->mirrors[i]);
	free(r->mirrors);
	for (i = 0; i < r->ninsecure_names; i++)
		free(r->insecure_names[i]);
	free(r->insecure_names);
	for (i = 0; i < r->ninsecure_cidrs; i++)
		free(r->insecure_cidrs[i]);
	free(r->insecure_cidrs);
	free(r->hub_url);
	free(r);
}

/* ---- tests ---- */

/* A docker.io name tries the mirrors, then Docker Hub; a push leaves the mirrors out. */
static void test_mirrors_first_for_docker_io(void **state)
{
	const char *m[] = { "http://127.0.0.1:5000", "https://mirror.example/" };
	struct shoal_registry_endpoint *ep;
	struct shoal_err err;
	struct shoal_registry *r = load(m, 2, NULL, 0, &err);
	size_t n;

	(void)state;
	assert_string_equal(r->mirrors[0], "http://127.0.0.1:5000/");
	assert_string_equal(r->mirrors[1], "https://mirror.example/");
	shoal_registry__endpoints(r, "docker.io", false, &ep, &n);
	assert_int_equal(n, 3);
	assert_string_equal(ep[0].url, "http://127.0.0.1:5000");
	assert_true(ep[0].mirror);
	assert_string_equal(ep[2].url, "https://127.0.0.1:9");
	assert_true(ep[2].official);
	shoal_registry__endpoints_free(ep, n);
	shoal_registry__endpoints(r, "docker.io", true, &ep, &n);
	assert_int_equal(n, 1);
	shoal_registry__endpoints_free(ep, n);
	unload(r);
}

/* dockerd's ValidateMirror texts. */
static void test_bad_mirrors_refused(void **state)
{
	const char *bad[][2] = {
		{ "ftp://x", "invalid mirror: unsupported scheme \"ftp\" in \"ftp://x\"" },
		{ "mirror.example",
		  "invalid mirror: unsupported scheme \"\" in \"mirror.example\"" },
		{ "http://m/path",
		  "invalid mirror: path, query, or fragment at end of the URI \"http://m/path\"" },
		{ "http://u:p@m",
		  "invalid mirror: username/password not allowed in URI \"http://u:p@m\"" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct shoal_err err;
		const char *m[] = { bad[i][0] };
		struct shoal_registry *r;

		shoal_err_clear(&err);
		r = load(m, 1, NULL, 0, &err);
		assert_string_equal(err.msg, bad[i][1]);
		unload(r);
	}
}

/* Loopback is always insecure: https first, then http; another registry is https only
 * unless listed by name or CIDR. */
static void test_insecure_registries(void **state)
{
	const char *ins[] = { "reg.example:5000", "10.1.2.3/8", "http://other:1" };
	struct shoal_registry_endpoint *ep;
	struct shoal_err err;
	struct shoal_registry *r = load(NULL, 0, ins, 3, &err);
	size_t n;

	(void)state;
	shoal_registry__endpoints(r, "127.0.0.1:5000", false, &ep, &n);
	assert_int_equal(n, 2);
	assert_string_equal(ep[0].url, "https://127.0.0.1:5000");
	assert_string_equal(ep[1].url, "http://127.0.0.1:5000");
	shoal_registry__endpoints_free(ep, n);
	assert_true(shoal_registry__insecure(r, "localhost:5000"));
	assert_true(shoal_registry__insecure(r, "reg.example:5000"));
	assert_false(shoal_registry__insecure(r, "reg.example:5001"));
	assert_true(shoal_registry__insecure(r, "10.200.0.1:443"));
	assert_false(shoal_registry__insecure(r, "11.0.0.1"));
	assert_true(shoal_registry__insecure(r, "other:1"));
	shoal_registry__endpoints(r, "quay.io", false, &ep, &n);
	assert_int_equal(n, 1);
	shoal_registry__endpoints_free(ep, n);
	unload(r);
}

/* "://" inside an insecure registry is refused with dockerd's text. */
static void test_bad_insecure_refused(void **state)
{
	const char *ins[] = { "ftp://x:1" };
	struct shoal_err err;
	struct shoal_registry *r = load(NULL, 0, ins, 1, &err);

	(void)state;
	assert_string_equal(err.msg, "insecure registry ftp://x:1 should not contain '://'");
	unload(r);
}

/* RegistryConfig as dockerd 20.10 shows it, IndexConfigs sorted by name. */
static void test_info_json(void **state)
{
	const char *m[] = { "http://127.0.0.1:5000" };
	const char *ins[] = { "zz:1", "aa:1" };
	struct shoal_err err;
	struct shoal_registry *r = load(m, 1, ins, 2, &err);
	json_t *j = shoal_registry_info_json(r);
	char *s = json_dumps(j, JSON_COMPACT);

	(void)state;
	assert_string_equal(
		s,
		"{\"AllowNondistributableArtifactsCIDRs\":[],\"AllowNondistributableArtifactsHostnames\":[],"
		"\"InsecureRegistryCIDRs\":[\"127.0.0.0/8\"],\"IndexConfigs\":{"
		"\"aa:1\":{\"Name\":\"aa:1\",\"Mirrors\":[],\"Secure\":false,\"Official\":false},"
		"\"docker.io\":{\"Name\":\"docker.io\",\"Mirrors\":[\"http://127.0.0.1:5000/\"],\"Secure\":true,\"Official\":true},"
		"\"zz:1\":{\"Name\":\"zz:1\",\"Mirrors\":[],\"Secure\":false,\"Official\":false}},"
		"\"Mirrors\":[\"http://127.0.0.1:5000/\"]}");
	free(s);
	json_decref(j);
	unload(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirrors_first_for_docker_io),
		cmocka_unit_test(test_bad_mirrors_refused),
		cmocka_unit_test(test_insecure_registries),
		cmocka_unit_test(test_bad_insecure_refused),
		cmocka_unit_test(test_info_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
