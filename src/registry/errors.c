/* Registry failures in dockerd's words: distribution's errcode table, its client's
 * HandleErrorResponse (which turns an error answer into "manifest unknown: manifest
 * unknown"), and dockerd's TranslatePullError. Pure; any thread. */
#include "registry/internal.h"

#include "http/http.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

struct code_info {
	const char *code;
	const char *message; /* the descriptor's default message */
	int status;
};

/* distribution/registry/api/errcode/register.go and api/v2/errors.go */
static const struct code_info codes[] = {
	{ "UNKNOWN", "unknown error", 500 },
	{ "UNSUPPORTED", "The operation is unsupported.", 405 },
	{ "UNAUTHORIZED", "authentication required", 401 },
	{ "DENIED", "requested access to the resource is denied", 403 },
	{ "UNAVAILABLE", "service unavailable", 503 },
	{ "TOOMANYREQUESTS", "too many requests", 429 },
	{ "DIGEST_INVALID", "provided digest did not match uploaded content", 400 },
	{ "SIZE_INVALID", "provided length did not match content length", 400 },
	{ "NAME_INVALID", "invalid repository name", 400 },
	{ "TAG_INVALID", "manifest tag did not match URI", 400 },
	{ "NAME_UNKNOWN", "repository name not known to registry", 404 },
	{ "MANIFEST_UNKNOWN", "manifest unknown", 404 },
	{ "MANIFEST_INVALID", "manifest invalid", 400 },
	{ "MANIFEST_UNVERIFIED", "manifest failed signature verification", 400 },
	{ "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", 400 },
	{ "BLOB_UNKNOWN", "blob unknown to registry", 404 },
	{ "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", 404 },
	{ "BLOB_UPLOAD_INVALID", "blob upload invalid", 404 },
	{ "PAGINATION_NUMBER_INVALID", "invalid number of results requested", 400 },
	{ "RANGE_INVALID", "invalid content range", 416 },
};

static const struct code_info *code_find(const char *code)
{
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (code != NULL && strcmp(codes[i].code, code) == 0)
			return &codes[i];
	return &codes[0]; /* ParseErrorCode: anything else is UNKNOWN */
}

void shoal_registry__code_describe(const char *code, const char **text, const char **message,
				   int *status)
{
	/* the lower-case texts, spelt out so they can be returned as constants */
	static const char *const texts[] = {
		"unknown",
		"unsupported",
		"unauthorized",
		"denied",
		"unavailable",
		"toomanyrequests",
		"digest invalid",
		"size invalid",
		"name invalid",
		"tag invalid",
		"name unknown",
		"manifest unknown",
		"manifest invalid",
		"manifest unverified",
		"manifest blob unknown",
		"blob unknown",
		"blob upload unknown",
		"blob upload invalid",
		"pagination number invalid",
		"range invalid",
	};
	const struct code_info *c = code_find(code);

	if (text != NULL)
		*text = texts[c - codes];
	if (message != NULL)
		*message = c->message;
	if (status != NULL)
		*status = c->status;
}

/* errcode.Error (or a bare ErrorCode when it says nothing more) as its Error() prints. */
static void set_code(struct shoal_registry_error *out, const char *code, const char *message,
		     bool has_detail)
{
	const struct code_info *c = code_find(code);
	const char *text;
	int status;

	shoal_registry__code_describe(c->code, &text, NULL, &status);
	memset(out, 0, sizeof(*out));
	out->kind = SHOAL_REGISTRY_ERR_CODE;
	snprintf(out->code, sizeof(out->code), "%s", c->code);
	/* Errors.UnmarshalJSON keeps a bare ErrorCode for an error with no detail whose
	 * message is empty or the code's own; its Error() is just the code's text */
	if (!has_detail &&
	    (message == NULL || message[0] == '\0' || strcmp(message, c->message) == 0))
		shoal_errorf(&out->err, status, "%s", text);
	else
		shoal_errorf(&out->err, status, "%s: %s", text,
			     message != NULL && message[0] != '\0' ? message : c->message);
}

/* A Go json error for a body that is not JSON, near enough for a log line. */
static void json_problem(const char *body, size_t len, char *out, size_t n)
{
	size_t i = 0;

	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len)
		snprintf(out, n, "unexpected end of JSON input");
	else
		snprintf(out, n, "invalid character '%c' looking for beginning of value", body[i]);
}

/* Go's %q of the body, shortened. */
static void quote(const char *s, size_t len, char *out, size_t n)
{
	size_t o = 0, i;

	if (n < 8)
		return;
	out[o++] = '"';
	for (i = 0; i < len && o + 6 < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

static void unexpected_body(int status, const char *body, size_t len, const char *why,
			    struct shoal_registry_error *out)
{
	char q[200];

	memset(out, 0, sizeof(*out));
	out->kind = SHOAL_REGISTRY_ERR_HTTP;
	quote(body, len, q, sizeof(q));
	shoal_errorf(&out->err, 500, "error parsing HTTP %d response body: %s: %s", status, why, q);
}

void shoal_registry__error_from_response(int status, const char *body, size_t len,
					 const char *www_authenticate,
					 struct shoal_registry_error *out)
{
	json_t *root = NULL, *first;
	const char *details;
	char why[128];

	if (body == NULL)
		len = 0;
	if (status < 400 || status >= 500) {
		memset(out, 0, sizeof(*out));
		out->kind = SHOAL_REGISTRY_ERR_HTTP;
		shoal_errorf(&out->err, 500, "received unexpected HTTP status: %d %s", status,
			     shoal_http_status_text(status));
		return;
	}
	if (www_authenticate != NULL) {
		struct shoal_registry_challenge c;

		/* RFC 6750's error codes in a bearer challenge come first */
		if (shoal_registry__challenge_parse(www_authenticate, &c) == 0 &&
		    strcmp(c.scheme, "bearer") == 0) {
			const char *code = NULL;

			if (strcmp(c.error, "invalid_token") == 0)
				code = "UNAUTHORIZED";
			else if (strcmp(c.error, "insufficient_scope") == 0)
				code = "DENIED";
			if (code != NULL) {
				set_code(out, code,
					 c.error_description[0] != '\0' ? c.error_description :
									  NULL,
					 true);
				return;
			}
		}
	}
	if (len > 0)
		root = json_loadb(body, len, JSON_DISABLE_EOF_CHECK, NULL);
	details = json_string_value(json_object_get(root, "details"));
	if (details != NULL && details[0] != '\0') {
		set_code(out,
			 status == 401 ? "UNAUTHORIZED" :
			 status == 429 ? "TOOMANYREQUESTS" :
					 "UNKNOWN",
			 details, true);
		goto out;
	}
	if (!json_is_object(root)) {
		if (status == 401) {
			set_code(out, "UNAUTHORIZED", NULL, true);
			goto out;
		}
		json_problem(body, len, why, sizeof(why));
		unexpected_body(status, body, len, why, out);
		goto out;
	}
	first = json_array_get(json_object_get(root, "errors"), 0);
	if (!json_is_object(first)) {
		if (status == 401) {
			set_code(out, "UNAUTHORIZED", NULL, true);
			goto out;
		}
		unexpected_body(status, body, len, "no error details found in HTTP response body",
				out);
		goto out;
	}
	{
		json_t *detail = json_object_get(first, "detail");

		set_code(out, json_string_value(json_object_get(first, "code")),
			 json_string_value(json_object_get(first, "message")),
			 detail != NULL && !json_is_null(detail));
	}
out:
	json_decref(root);
}

void shoal_registry__translate_pull(const struct shoal_registry_error *e, const char *fam_ref,
				    const char *fam_name, struct shoal_err *out)
{
	if (e->kind == SHOAL_REGISTRY_ERR_CODE) {
		if (strcmp(e->code, "DENIED") == 0) {
			shoal_errorf(
				out, 404,
				"pull access denied for %s, repository does not exist or may require 'docker login': %s",
				fam_name, e->err.msg);
			return;
		}
		if (strcmp(e->code, "MANIFEST_UNKNOWN") == 0) {
			shoal_errorf(out, 404, "manifest for %s not found: %s", fam_ref,
				     e->err.msg);
			return;
		}
		if (strcmp(e->code, "NAME_UNKNOWN") == 0) {
			shoal_errorf(out, 404, "repository %s not found: %s", fam_name, e->err.msg);
			return;
		}
	}
	*out = e->err;
	/* errdefs.Unknown: a 500 whatever the code said */
	if (e->kind != SHOAL_REGISTRY_ERR_OTHER || out->status == 0)
		out->status = 500;
}
