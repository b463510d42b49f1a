/* Credentials and challenges: the X-Registry-Auth header the docker CLI sends (base64url
 * JSON of an AuthConfig) and the WWW-Authenticate challenges a registry answers with,
 * parsed as distribution's challenge package does. Pure; any thread. */
#include "registry/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/mem.h"

/* ---- AuthConfig ---- */

static char *str_or_null(const json_t *j, const char *key)
{
	const char *v = NULL;
	const char *k;
	json_t *val;

	/* Go's json matches field names without regard to case */
	json_object_foreach((json_t *)j, k, val) {
		if (strcasecmp(k, key) == 0 && json_is_string(val))
			v = json_string_value(val);
	}
	return v != NULL && v[0] != '\0' ? shoal_strdup(v) : NULL;
}

void shoal_registry_auth_from_json(const json_t *j, struct shoal_registry_auth *a)
{
	memset(a, 0, sizeof(*a));
	if (!json_is_object(j))
		return;
	a->username = str_or_null(j, "username");
	a->password = str_or_null(j, "password");
	a->identitytoken = str_or_null(j, "identitytoken");
	a->registrytoken = str_or_null(j, "registrytoken");
	a->serveraddress = str_or_null(j, "serveraddress");
	if (a->username == NULL && a->password == NULL) {
		/* the legacy "auth" field: base64 of user:password */
		char *b64 = str_or_null(j, "auth");
		struct shoal_buf b;

		shoal_buf_init(&b);
		if (b64 != NULL && shoal_buf_add_unbase64(&b, b64, strlen(b64)) == 0) {
			char *colon = strchr(b.data, ':');

			if (colon != NULL) {
				*colon = '\0';
				a->username = b.data[0] != '\0' ? shoal_strdup(b.data) : NULL;
				a->password = colon[1] != '\0' ? shoal_strdup(colon + 1) : NULL;
			}
		}
		shoal_buf_fini(&b);
		free(b64);
	}
}

void shoal_registry_auth_decode(const char *header, struct shoal_registry_auth *a)
{
	struct shoal_buf std, raw;
	json_t *j = NULL;
	size_t i;

	memset(a, 0, sizeof(*a));
	if (header == NULL || header[0] == '\0')
		return;
	/* base64.URLEncoding, tolerating missing padding and the standard alphabet */
	shoal_buf_init(&std);
	shoal_buf_init(&raw);
	for (i = 0; header[i] != '\0'; i++) {
		char c = header[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (c == ' ' || c == '\n' || c == '\r')
			continue;
		shoal_buf_addc(&std, c);
	}
	while (std.len % 4 != 0)
		shoal_buf_addc(&std, '=');
	if (shoal_buf_add_unbase64(&raw, std.data, std.len) == 0)
		j = json_loadb(raw.data, raw.len, JSON_DISABLE_EOF_CHECK, NULL);
	shoal_registry_auth_from_json(j, a);
	json_decref(j);
	shoal_buf_fini(&std);
	shoal_buf_fini(&raw);
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? shoal_strdup(s) : NULL;
}

void shoal_registry_auth_copy(struct shoal_registry_auth *dst,
			      const struct shoal_registry_auth *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src == NULL)
		return;
	dst->username = dup_or_null(src->username);
	dst->password = dup_or_null(src->password);
	dst->identitytoken = dup_or_null(src->identitytoken);
	dst->registrytoken = dup_or_null(src->registrytoken);
	dst->serveraddress = dup_or_null(src->serveraddress);
}

void shoal_registry_auth_fini(struct shoal_registry_auth *a)
{
	free(a->username);
	free(a->password);
	free(a->identitytoken);
	free(a->registrytoken);
	free(a->serveraddress);
	memset(a, 0, sizeof(*a));
}

/* ---- WWW-Authenticate ---- */

/* RFC 2616 token characters. */
static bool is_token(char c)
{
	if (c <= ' ' || c >= 127)
		return false;
	return strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Copies a token into out; returns what follows, or NULL when there is none. */
static const char *expect_token(const char *s, char *out, size_t n)
{
	size_t i = 0;

	while (is_token(s[i]))
		i++;
	if (i == 0)
		return NULL;
	snprintf(out, n, "%.*s", (int)i, s);
	return s + i;
}

static const char *expect_token_or_quoted(const char *s, char *out, size_t n)
{
	size_t o = 0;

	if (*s != '"')
		return expect_token(s, out, n);
	for (s++; *s != '\0'; s++) {
		if (*s == '"') {
			out[o < n ? o : n - 1] = '\0';
			return s + 1;
		}
		if (*s == '\\' && s[1] != '\0')
			s++;
		if (o + 1 < n)
			out[o++] = *s;
	}
	return NULL; /* unterminated */
}

int shoal_registry__challenge_parse(const char *header, struct shoal_registry_challenge *c)
{
	char key[64], value[512];
	const char *s;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (header == NULL)
		return -1;
	s = expect_token(skip_space(header), c->scheme, sizeof(c->scheme));
	if (s == NULL)
		return -1;
	for (i = 0; c->scheme[i] != '\0'; i++)
		c->scheme[i] = (char)(c->scheme[i] >= 'A' && c->scheme[i] <= 'Z' ?
					      c->scheme[i] - 'A' + 'a' :
					      c->scheme[i]);
	/* the first parameter follows the scheme after a space, the others after commas */
	s = skip_space(s);
	for (bool first = true;; first = false) {
		if (!first) {
			if (*s != ',')
				break;
			s = skip_space(s + 1);
		}
		s = expect_token(s, key, sizeof(key));
		if (s == NULL || *s != '=')
			break;
		s = expect_token_or_quoted(s + 1, value, sizeof(value));
		if (s == NULL || value[0] == '\0')
			break;
		for (i = 0; key[i] != '\0'; i++)
			if (key[i] >= 'A' && key[i] <= 'Z')
				key[i] = (char)(key[i] - 'A' + 'a');
		if (strcmp(key, "realm") == 0)
			snprintf(c->realm, sizeof(c->realm), "%s", value);
		else if (strcmp(key, "service") == 0)
			snprintf(c->service, sizeof(c->service), "%s", value);
		else if (strcmp(key, "scope") == 0)
			snprintf(c->scope, sizeof(c->scope), "%s", value);
		else if (strcmp(key, "error") == 0)
			snprintf(c->error, sizeof(c->error), "%s", value);
		else if (strcmp(key, "error_description") == 0)
			snprintf(c->error_description, sizeof(c->error_description), "%s", value);
		s = skip_space(s);
	}
	return 0;
}
