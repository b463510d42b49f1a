/* Unit tests for src/registry/auth.c: WWW-Authenticate challenges parsed as
 * distribution's challenge package does, and the X-Registry-Auth header the docker CLI
 * sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "registry/internal.h"

/* Docker Hub's bearer challenge: realm, service and scope. */
static void test_bearer_challenge(void **state)
{
	struct shoal_registry_challenge c;

	(void)state;
	assert_int_equal(
		shoal_registry__challenge_parse(
			"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\"",
			&c),
		0);
	assert_string_equal(c.scheme, "bearer");
	assert_string_equal(c.realm, "https://auth.docker.io/token");
	assert_string_equal(c.service, "registry.docker.io");
	assert_string_equal(c.scope, "repository:library/busybox:pull");
}

/* distribution's htpasswd challenge; the scheme is case-insensitive. */
static void test_basic_challenge(void **state)
{
	struct shoal_registry_challenge c;

	(void)state;
	assert_int_equal(shoal_registry__challenge_parse("BASIC realm=\"basic-realm\"", &c), 0);
	assert_string_equal(c.scheme, "basic");
	assert_string_equal(c.realm, "basic-realm");
}

/* RFC 6750 errors, tokens without quotes, escapes and spaces around commas. */
static void test_error_params_tokens_and_escapes(void **state)
{
	struct shoal_registry_challenge c;

	(void)state;
	assert_int_equal(
		shoal_registry__challenge_parse(
			"Bearer realm=\"a\\\"b\" , error=insufficient_scope, error_description=\"no way\"",
			&c),
		0);
	assert_string_equal(c.realm, "a\"b");
	assert_string_equal(c.error, "insufficient_scope");
	assert_string_equal(c.error_description, "no way");
}

/* Garbage stops the parse where it is; no scheme is an error. */
static void test_malformed_challenges(void **state)
{
	struct shoal_registry_challenge c;

	(void)state;
	assert_int_equal(shoal_registry__challenge_parse("", &c), -1);
	assert_int_equal(shoal_registry__challenge_parse(NULL, &c), -1);
	assert_int_equal(shoal_registry__challenge_parse("Bearer realm=\"unterminated", &c), 0);
	assert_string_equal(c.scheme, "bearer");
	assert_string_equal(c.realm, "");
	assert_int_equal(shoal_registry__challenge_parse("Bearer realm", &c), 0);
	assert_string_equal(c.realm, "");
}

static char *b64url(const char *json, bool pad)
{
	struct shoal_buf b;
	char *s;
	size_t i;

	shoal_buf_init(&b);
	shoal_buf_add_base64(&b, json, strlen(json));
	s = shoal_buf_detach(&b, NULL);
	shoal_buf_fini(&b);
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '+')
			s[i] = '-';
		else if (s[i] == '/')
			s[i] = '_';
		else if (s[i] == '=' && !pad)
			s[i] = '\0';
	}
	return s;
}

/* X-Registry-Auth as the docker CLI sends it: base64url of an AuthConfig. */
static void test_registry_auth_header(void **state)
{
	struct shoal_registry_auth a;
	char *h = b64url(
		"{\"username\":\"alice\",\"password\":\"p>?w\",\"serveraddress\":\"127.0.0.1:5000\"}",
		true);

	(void)state;
	shoal_registry_auth_decode(h, &a);
	assert_string_equal(a.username, "alice");
	assert_string_equal(a.password, "p>?w");
	assert_string_equal(a.serveraddress, "127.0.0.1:5000");
	assert_null(a.identitytoken);
	shoal_registry_auth_fini(&a);
	free(h);
	/* without padding, and keys in any case, as Go's decoder takes them */
	h = b64url("{\"Username\":\"bob\",\"IdentityToken\":\"tok\"}", false);
	shoal_registry_auth_decode(h, &a);
	assert_string_equal(a.username, "bob");
	assert_string_equal(a.identitytoken, "tok");
	shoal_registry_auth_fini(&a);
	free(h);
}

/* Anything undecodable, and "{}" (the CLI's empty auth), mean no credentials. */
static void test_registry_auth_empty_or_garbage(void **state)
{
	struct shoal_registry_auth a;

	(void)state;
	shoal_registry_auth_decode("e30=", &a);
	assert_null(a.username);
	assert_null(a.password);
	shoal_registry_auth_fini(&a);
	shoal_registry_auth_decode("!!!", &a);
	assert_null(a.username);
	shoal_registry_auth_fini(&a);
	shoal_registry_auth_decode(NULL, &a);
	assert_null(a.username);
}

/* The legacy "auth" field holds user:password. */
static void test_legacy_auth_field(void **state)
{
	struct shoal_registry_auth a;
	json_t *j = json_pack("{s:s}", "auth", "YWxpY2U6czNjcmV0"); /* alice:s3cret */

	(void)state;
	shoal_registry_auth_from_json(j, &a);
	assert_string_equal(a.username, "alice");
	assert_string_equal(a.password, "s3cret");
	shoal_registry_auth_fini(&a);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bearer_challenge),
		cmocka_unit_test(test_basic_challenge),
		cmocka_unit_test(test_error_params_tokens_and_escapes),
		cmocka_unit_test(test_malformed_challenges),
		cmocka_unit_test(test_registry_auth_header),
		cmocka_unit_test(test_registry_auth_empty_or_garbage),
		cmocka_unit_test(test_legacy_auth_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
