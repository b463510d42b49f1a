/* Unit tests for src/registry/errors.c and progress.c: registry answers into dockerd's
 * error texts, and the progress messages dockerd streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "registry/internal.h"

static void answer(int status, const char *body, const char *www, struct shoal_registry_error *e)
{
	shoal_registry__error_from_response(status, body, body != NULL ? strlen(body) : 0, www, e);
}

/* distribution's MANIFEST_UNKNOWN with detail: "code text: message", its 404. */
static void test_errcode_with_detail(void **state)
{
	struct shoal_registry_error e;

	(void)state;
	answer(404,
	       "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\",\"detail\":{\"Tag\":\"nope\"}}]}",
	       NULL, &e);
	assert_int_equal(e.kind, SHOAL_REGISTRY_ERR_CODE);
	assert_string_equal(e.code, "MANIFEST_UNKNOWN");
	assert_string_equal(e.err.msg, "manifest unknown: manifest unknown");
	assert_int_equal(e.err.status, 404);
}

/* With no detail and the code's own message, only the code's text remains (a bare
 * ErrorCode, as Errors.UnmarshalJSON keeps it). */
static void test_errcode_without_detail(void **state)
{
	struct shoal_registry_error e;

	(void)state;
	answer(404,
	       "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"blob unknown to registry\"}]}",
	       NULL, &e);
	assert_string_equal(e.err.msg, "blob unknown");
	answer(401,
	       "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\",\"detail\":[{\"Type\":\"repository\"}]}]}",
	       "Basic realm=\"basic-realm\"", &e);
	assert_string_equal(e.err.msg, "unauthorized: authentication required");
	assert_int_equal(e.err.status, 401);
	answer(400, "{\"errors\":[{\"code\":\"SOMETHING_NEW\",\"message\":\"hm\",\"detail\":1}]}",
	       NULL, &e);
	assert_string_equal(e.code, "UNKNOWN");
	assert_string_equal(e.err.msg, "unknown: hm");
}

/* A bearer challenge's error comes first: insufficient_scope is DENIED (Docker Hub's
 * answer for a repository that is not there). */
static void test_bearer_challenge_errors(void **state)
{
	struct shoal_registry_error e;
	struct shoal_err out;

	(void)state;
	answer(401,
	       "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\",\"detail\":null}]}",
	       "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",error=\"insufficient_scope\"",
	       &e);
	assert_string_equal(e.code, "DENIED");
	assert_string_equal(e.err.msg, "denied: requested access to the resource is denied");
	shoal_registry__translate_pull(&e, "nothere:latest", "nothere", &out);
	assert_int_equal(out.status, 404);
	assert_string_equal(
		out.msg,
		"pull access denied for nothere, repository does not exist or may require 'docker login': denied: requested access to the resource is denied");
}

/* Answers that are not registry errors read as distribution's client words them. */
static void test_unexpected_answers(void **state)
{
	struct shoal_registry_error e;

	(void)state;
	answer(500, "oops", NULL, &e);
	assert_string_equal(e.err.msg,
			    "received unexpected HTTP status: 500 Internal Server Error");
	answer(404, "404 page not found\n", NULL, &e);
	assert_int_equal(e.kind, SHOAL_REGISTRY_ERR_HTTP);
	assert_string_equal(
		e.err.msg,
		"error parsing HTTP 404 response body: invalid character '4' looking for beginning of value: \"404 page not found\\n\"");
	answer(401, "", NULL, &e);
	assert_string_equal(e.err.msg, "unauthorized: authentication required");
	answer(429, "{\"details\":\"slow down\"}", NULL, &e);
	assert_string_equal(e.err.msg, "toomanyrequests: slow down");
}

/* dockerd's TranslatePullError: the not-found codes name the image, the rest are 500s. */
static void test_translate_pull(void **state)
{
	struct shoal_registry_error e;
	struct shoal_err out;

	(void)state;
	answer(404,
	       "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\",\"detail\":{}}]}",
	       NULL, &e);
	shoal_registry__translate_pull(&e, "localhost:5000/x:y", "localhost:5000/x", &out);
	assert_int_equal(out.status, 404);
	assert_string_equal(
		out.msg,
		"manifest for localhost:5000/x:y not found: manifest unknown: manifest unknown");
	answer(404,
	       "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"repository name not known to registry\",\"detail\":{}}]}",
	       NULL, &e);
	shoal_registry__translate_pull(&e, "x:y", "x", &out);
	assert_string_equal(
		out.msg,
		"repository x not found: name unknown: repository name not known to registry");
	answer(401,
	       "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\",\"detail\":[]}]}",
	       NULL, &e);
	shoal_registry__translate_pull(&e, "x:y", "x", &out);
	assert_int_equal(out.status, 500);
	assert_string_equal(out.msg, "unauthorized: authentication required");
}

/* go-units sizes: decimal units, four significant digits. */
static void test_human_size(void **state)
{
	char s[32];

	(void)state;
	shoal_registry__human_size(500, s, sizeof(s));
	assert_string_equal(s, "500B");
	shoal_registry__human_size(36352, s, sizeof(s));
	assert_string_equal(s, "36.35kB");
	shoal_registry__human_size(790016, s, sizeof(s));
	assert_string_equal(s, "790kB");
	shoal_registry__human_size(1985629, s, sizeof(s));
	assert_string_equal(s, "1.986MB");
	shoal_registry__human_size(2140160, s, sizeof(s));
	assert_string_equal(s, "2.14MB");
}

/* JSONProgress.String() as recorded from dockerd 20.10's push and pull streams. */
static void test_progress_bar_matches_dockerd(void **state)
{
	char s[160];

	(void)state;
	shoal_registry__progress_bar(36352, 859119, s, sizeof(s));
	assert_string_equal(
		s, "[==>                                                ]  36.35kB/859.1kB");
	shoal_registry__progress_bar(35328, 1985629, s, sizeof(s));
	assert_string_equal(
		s, "[>                                                  ]  35.33kB/1.986MB");
	shoal_registry__progress_bar(790016, 859119, s, sizeof(s));
	assert_string_equal(
		s, "[=============================================>     ]    790kB/859.1kB");
	/* past the total: only the count */
	shoal_registry__progress_bar(870400, 859119, s, sizeof(s));
	assert_string_equal(s, "[==================================================>]  870.4kB");
	shoal_registry__progress_bar(0, 0, s, sizeof(s));
	assert_string_equal(s, "");
}

/* The messages, field for field and byte for byte as dockerd writes them. */
static void test_message_lines(void **state)
{
	json_t *m;
	char *line;

	(void)state;
	m = shoal_registry__msg_progress("c0a18191c8be", "Downloading", 36445, 1069061);
	line = shoal_registry__msg_line(m);
	assert_string_equal(
		line,
		"{\"status\":\"Downloading\",\"progressDetail\":{\"current\":36445,\"total\":1069061},\"progress\":\"[=\\u003e                                                 ]  36.45kB/1.069MB\",\"id\":\"c0a18191c8be\"}\r\n");
	free(line);
	json_decref(m);
	m = shoal_registry__msg_progress("6ebe3b790202", "Pull complete", 0, 0);
	line = shoal_registry__msg_line(m);
	assert_string_equal(
		line,
		"{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"6ebe3b790202\"}\r\n");
	free(line);
	json_decref(m);
	m = shoal_registry__msg_status("latest", "Pulling from instavote/vote");
	line = shoal_registry__msg_line(m);
	assert_string_equal(line,
			    "{\"status\":\"Pulling from instavote/vote\",\"id\":\"latest\"}\r\n");
	free(line);
	json_decref(m);
	m = shoal_registry__msg_error("a <b> & c");
	line = shoal_registry__msg_line(m);
	assert_string_equal(
		line,
		"{\"errorDetail\":{\"message\":\"a \\u003cb\\u003e \\u0026 c\"},\"error\":\"a \\u003cb\\u003e \\u0026 c\"}\r\n");
	free(line);
	json_decref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errcode_with_detail),
		cmocka_unit_test(test_errcode_without_detail),
		cmocka_unit_test(test_bearer_challenge_errors),
		cmocka_unit_test(test_unexpected_answers),
		cmocka_unit_test(test_translate_pull),
		cmocka_unit_test(test_human_size),
		cmocka_unit_test(test_progress_bar_matches_dockerd),
		cmocka_unit_test(test_message_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
