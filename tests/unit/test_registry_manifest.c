/* Unit tests for src/registry/manifest.c: manifests parsed as distribution's client does,
 * and the platform dockerd picks from a manifest list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "registry/internal.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static const char schema2[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" SHOAL_MT_DOCKER_MANIFEST "\","
	"\"config\":{\"mediaType\":\"" SHOAL_MT_DOCKER_CONFIG "\",\"size\":1009,"
	"\"digest\":\"" D1 "\"},"
	"\"layers\":[{\"mediaType\":\"" SHOAL_MT_DOCKER_LAYER "\",\"size\":10,\"digest\":\"" D2
	"\"},{\"mediaType\":\"" SHOAL_MT_DOCKER_LAYER "\",\"size\":20,\"digest\":\"" D3 "\"}]}";

static const char oci_no_media_type[] =
	"{\"schemaVersion\":2,"
	"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":5,"
	"\"digest\":\"" D1 "\"},"
	"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":7,"
	"\"digest\":\"" D2 "\"}]}";

static const char list[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" SHOAL_MT_DOCKER_LIST "\",\"manifests\":["
	"{\"mediaType\":\"" SHOAL_MT_DOCKER_MANIFEST "\",\"size\":1,\"digest\":\"" D1 "\","
	"\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}},"
	"{\"mediaType\":\"" SHOAL_MT_DOCKER_MANIFEST "\",\"size\":2,\"digest\":\"" D2 "\","
	"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
	"{\"mediaType\":\"" SHOAL_MT_DOCKER_MANIFEST "\",\"size\":3,\"digest\":\"" D3 "\","
	"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}";

static const char list_arm_only[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" SHOAL_MT_DOCKER_LIST "\",\"manifests\":["
	"{\"mediaType\":\"" SHOAL_MT_DOCKER_MANIFEST "\",\"size\":1,\"digest\":\"" D1 "\","
	"\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
	"{\"mediaType\":\"" SHOAL_MT_DOCKER_MANIFEST "\",\"size\":1,\"digest\":\"" D2 "\","
	"\"platform\":{\"architecture\":\"amd64\",\"os\":\"windows\"}}]}";

static void parse_ok(const char *text, const char *ct, struct shoal_registry_manifest *m)
{
	struct shoal_err err;

	shoal_err_clear(&err);
	if (shoal_registry__manifest_parse(text, strlen(text), ct, m, &err) < 0)
		fail_msg("refused: %s", err.msg);
}

static void parse_refused(const char *text, const char *ct, const char *msg)
{
	struct shoal_registry_manifest m;
	struct shoal_err err;

	assert_int_equal(shoal_registry__manifest_parse(text, strlen(text), ct, &m, &err), -1);
	assert_string_equal(err.msg, msg);
}

/* A Docker schema 2 manifest gives its config and its layers, base first. */
static void test_schema2_config_and_layers(void **state)
{
	struct shoal_registry_manifest m;

	(void)state;
	parse_ok(schema2, SHOAL_MT_DOCKER_MANIFEST, &m);
	assert_false(m.is_list);
	assert_string_equal(m.media_type, SHOAL_MT_DOCKER_MANIFEST);
	assert_string_equal(m.config.digest, D1);
	assert_int_equal(m.config.size, 1009);
	assert_int_equal(m.nitems, 2);
	assert_string_equal(m.items[0].digest, D2);
	assert_int_equal(m.items[1].size, 20);
	shoal_registry__manifest_fini(&m);
}

/* The content type's parameters are ignored; without a usable type the body decides. */
static void test_type_from_header_or_body(void **state)
{
	struct shoal_registry_manifest m;

	(void)state;
	parse_ok(schema2, SHOAL_MT_DOCKER_MANIFEST "; charset=utf-8", &m);
	assert_string_equal(m.media_type, SHOAL_MT_DOCKER_MANIFEST);
	shoal_registry__manifest_fini(&m);
	parse_ok(schema2, "application/json", &m);
	assert_string_equal(m.media_type, SHOAL_MT_DOCKER_MANIFEST);
	shoal_registry__manifest_fini(&m);
	/* an OCI manifest may leave mediaType out */
	parse_ok(oci_no_media_type, NULL, &m);
	assert_string_equal(m.media_type, SHOAL_MT_OCI_MANIFEST);
	assert_int_equal(m.nitems, 1);
	shoal_registry__manifest_fini(&m);
	parse_ok(oci_no_media_type, SHOAL_MT_OCI_MANIFEST, &m);
	shoal_registry__manifest_fini(&m);
}

/* A Docker manifest whose body names another type is refused with distribution's text. */
static void test_media_type_mismatch_refused(void **state)
{
	(void)state;
	parse_refused(oci_no_media_type, SHOAL_MT_DOCKER_MANIFEST,
		      "mediaType in manifest should be '" SHOAL_MT_DOCKER_MANIFEST "' not ''");
	parse_refused(schema2, SHOAL_MT_OCI_MANIFEST,
		      "if present, mediaType in manifest should be '" SHOAL_MT_OCI_MANIFEST
		      "' not '" SHOAL_MT_DOCKER_MANIFEST "'");
}

/* Schema 1, other types and broken JSON are refused. */
static void test_unsupported_refused(void **state)
{
	(void)state;
	parse_refused("{\"schemaVersion\":1,\"name\":\"x\"}", NULL, "unsupported manifest format");
	parse_refused(schema2, SHOAL_MT_DOCKER_SCHEMA1, "unsupported manifest format");
	parse_refused("not json", SHOAL_MT_DOCKER_MANIFEST, "invalid manifest: not a JSON object");
}

/* A layer with a malformed digest is refused before anything is fetched. */
static void test_bad_layer_digest_refused(void **state)
{
	static const char bad[] = "{\"schemaVersion\":2,\"mediaType\":\"" SHOAL_MT_DOCKER_MANIFEST
				  "\",\"config\":{\"digest\":\"" D1 "\"},\"layers\":[{\"digest\":"
				  "\"sha256:ABC\"}]}";

	(void)state;
	parse_refused(
		bad, NULL,
		"could not validate layer digest \"sha256:ABC\": invalid checksum digest format");
}

/* The first linux/amd64 entry of a list is chosen, as containerd's matcher does. */
static void test_list_selects_first_linux_amd64(void **state)
{
	struct shoal_registry_manifest m;
	struct shoal_err err;

	(void)state;
	parse_ok(list, SHOAL_MT_DOCKER_LIST, &m);
	assert_true(m.is_list);
	assert_int_equal(m.nitems, 3);
	assert_string_equal(m.items[0].variant, "v7");
	assert_int_equal(shoal_registry__manifest_select(&m, "linux", "amd64", &err), 1);
	assert_int_equal(shoal_registry__manifest_select(&m, "linux", "x86_64", &err), 1);
	shoal_registry__manifest_fini(&m);
}

/* An OCI index works the same; its entries' aliases are normalised. */
static void test_index_normalises_architectures(void **state)
{
	static const char index[] =
		"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" SHOAL_MT_OCI_MANIFEST
		"\",\"size\":1,\"digest\":\"" D1 "\",\"platform\":{\"architecture\":\"x86_64\","
		"\"os\":\"linux\",\"variant\":\"v1\"}}]}";
	struct shoal_registry_manifest m;
	struct shoal_err err;

	(void)state;
	parse_ok(index, SHOAL_MT_OCI_INDEX, &m);
	assert_true(m.is_list);
	assert_int_equal(shoal_registry__manifest_select(&m, "linux", "amd64", &err), 0);
	shoal_registry__manifest_fini(&m);
	parse_ok(index, NULL, &m);
	assert_string_equal(m.media_type, SHOAL_MT_OCI_INDEX);
	shoal_registry__manifest_fini(&m);
}

/* No linux/amd64 entry: dockerd's text. */
static void test_list_without_amd64_refused(void **state)
{
	struct shoal_registry_manifest m;
	struct shoal_err err;

	(void)state;
	parse_ok(list_arm_only, SHOAL_MT_DOCKER_LIST, &m);
	assert_int_equal(shoal_registry__manifest_select(&m, "linux", "amd64", &err), -1);
	assert_string_equal(err.msg,
			    "no matching manifest for linux/amd64 in the manifest list entries");
	shoal_registry__manifest_fini(&m);
}

/* dockerd's supported media types: Docker and OCI families, and old spellings. */
static void test_media_types(void **state)
{
	(void)state;
	assert_true(shoal_registry__media_type_ok(SHOAL_MT_DOCKER_LAYER));
	assert_true(shoal_registry__media_type_ok("application/vnd.oci.image.layer.v1.tar+gzip"));
	assert_true(shoal_registry__media_type_ok("application/octet-stream"));
	assert_true(shoal_registry__media_type_ok(""));
	assert_false(shoal_registry__media_type_ok("application/vnd.oci.images_are_fun"));
	assert_false(shoal_registry__media_type_ok(
		"application/vnd.cncf.helm.chart.content.v1.tar+gzip"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema2_config_and_layers),
		cmocka_unit_test(test_type_from_header_or_body),
		cmocka_unit_test(test_media_type_mismatch_refused),
		cmocka_unit_test(test_unsupported_refused),
		cmocka_unit_test(test_bad_layer_digest_refused),
		cmocka_unit_test(test_list_selects_first_linux_amd64),
		cmocka_unit_test(test_index_normalises_architectures),
		cmocka_unit_test(test_list_without_amd64_refused),
		cmocka_unit_test(test_media_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
