/* Registry settings as dockerd's registry service keeps them: mirrors for Docker Hub,
 * insecure registries (by host:port, or by CIDR with 127.0.0.0/8 always in), the
 * endpoints a pull or push tries in order, and RegistryConfig for /info. Loop thread. */
#include "registry/internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "registry"

/* ---- CIDRs ---- */

struct cidr {
	int family;
	unsigned char addr[16];
	int bits;
};

static int cidr_parse(const char *s, struct cidr *c)
{
	char host[64];
	const char *slash = strchr(s, '/');
	char *end;
	long bits;
	int i, len;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(host))
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(slash - s), s);
	bits = strtol(slash + 1, &end, 10);
	if (*end != '\0' || end == slash + 1)
		return -1;
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, host, c->addr) == 1) {
		c->family = AF_INET;
		len = 4;
	} else if (inet_pton(AF_INET6, host, c->addr) == 1) {
		c->family = AF_INET6;
		len = 16;
	} else {
		return -1;
	}
	if (bits < 0 || bits > len * 8)
		return -1;
	c->bits = (int)bits;
	/* Go keeps the network address: 10.1.2.3/8 is 10.0.0.0/8 */
	for (i = 0; i < len; i++) {
		int keep = c->bits - i * 8;

		if (keep >= 8)
			continue;
		c->addr[i] &= keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
	}
	return 0;
}

static void cidr_format(const struct cidr *c, char *out, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->addr, a, sizeof(a));
	snprintf(out, n, "%s/%d", a, c->bits);
}

static bool cidr_contains(const struct cidr *c, const char *ip)
{
	unsigned char a[16];
	int i;

	if (inet_pton(c->family, ip, a) != 1)
		return false;
	for (i = 0; i < c->bits / 8; i++)
		if (a[i] != c->addr[i])
			return false;
	if (c->bits % 8 != 0) {
		unsigned char mask = (unsigned char)(0xff << (8 - c->bits % 8));

		if ((a[i] & mask) != c->addr[i])
			return false;
	}
	return true;
}

/* The host of "host:port" or "[v6]:port", without brackets. */
static void host_of(const char *hostport, char *out, size_t n)
{
	const char *colon;

	if (hostport[0] == '[') {
		const char *end = strchr(hostport, ']');

		snprintf(out, n, "%.*s", end != NULL ? (int)(end - hostport - 1) : 0, hostport + 1);
		return;
	}
	colon = strrchr(hostport, ':');
	if (colon != NULL && strchr(hostport, ':') == colon)
		snprintf(out, n, "%.*s", (int)(colon - hostport), hostport);
	else
		snprintf(out, n, "%s", hostport);
}

bool shoal_registry__insecure(const struct shoal_registry *r, const char *hostport)
{
	char host[256];
	size_t i;

	for (i = 0; i < r->ninsecure_names; i++)
		if (strcasecmp(r->insecure_names[i], hostport) == 0)
			return true;
	host_of(hostport, host, sizeof(host));
	/* dockerd resolves a name to test it; Shoal does not block on DNS, but the name
	 * every resolver maps to loopback is known */
	if (strcasecmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	for (i = 0; i < r->ninsecure_cidrs; i++) {
		struct cidr c;

		if (cidr_parse(r->insecure_cidrs[i], &c) == 0 && cidr_contains(&c, host))
			return true;
	}
	return false;
}

/* ---- settings ---- */

static int mirror_check(const char *v, char **out, struct shoal_err *err)
{
	const char *rest;
	size_t n;

	if (strncmp(v, "http://", 7) == 0)
		rest = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		rest = v + 8;
	else {
		const char *sep = strstr(v, "://");

		return shoal_errorf(err, 400,
				    "invalid mirror: unsupported scheme \"%.*s\" in \"%s\"",
				    sep != NULL ? (int)(sep - v) : 0, v, v);
	}
	if (strchr(rest, '@') != NULL)
		return shoal_errorf(
			err, 400, "invalid mirror: username/password not allowed in URI \"%s\"", v);
	n = strcspn(rest, "/?#");
	if (n == 0)
		return shoal_errorf(err, 400, "invalid mirror: \"%s\" is not a valid URI", v);
	if (rest[n] != '\0' && strcmp(rest + n, "/") != 0)
		return shoal_errorf(
			err, 400,
			"invalid mirror: path, query, or fragment at end of the URI \"%s\"", v);
	*out = shoal_asprintf("%.*s/", (int)(rest + n - v), v);
	return 0;
}

static int insecure_add(struct shoal_registry *r, const char *v, struct shoal_err *err)
{
	struct cidr c;
	char canon[80];
	size_t i;

	if (strncasecmp(v, "http://", 7) == 0) {
		shoal_log_warn(
			"insecure registry should not contain 'http://' and 'http://' has been removed from the insecure registry config",
			"registry=%s", shoal_log_q(v));
		v += 7;
	} else if (strncasecmp(v, "https://", 8) == 0) {
		shoal_log_warn(
			"insecure registry should not contain 'https://' and 'https://' has been removed from the insecure registry config",
			"registry=%s", shoal_log_q(v));
		v += 8;
	} else if (strstr(v, "://") != NULL) {
		return shoal_errorf(err, 400, "insecure registry %s should not contain '://'", v);
	}
	if (cidr_parse(v, &c) == 0) {
		cidr_format(&c, canon, sizeof(canon));
		for (i = 0; i < r->ninsecure_cidrs; i++)
			if (strcmp(r->insecure_cidrs[i], canon) == 0)
				return 0;
		r->insecure_cidrs =
			shoal_realloc(r->insecure_cidrs, (r->ninsecure_cidrs + 1) * sizeof(char *));
		r->insecure_cidrs[r->ninsecure_cidrs++] = shoal_strdup(canon);
		return 0;
	}
	if (v[0] == '\0' || v[0] == '-' || v[strlen(v) - 1] == '-' || strchr(v, '/') != NULL ||
	    strchr(v, ' ') != NULL)
		return shoal_errorf(err, 400,
				    "insecure registry %s is not valid: invalid host \"%s\"", v, v);
	for (i = 0; i < r->ninsecure_names; i++)
		if (strcmp(r->insecure_names[i], v) == 0)
			return 0;
	r->insecure_names =
		shoal_realloc(r->insecure_names, (r->ninsecure_names + 1) * sizeof(char *));
	r->insecure_names[r->ninsecure_names++] = shoal_strdup(v);
	return 0;
}

int shoal_registry__config_load(struct shoal_registry *r, const struct shoal_registry_config *cfg,
				struct shoal_err *err)
{
	size_t i;

	r->insecure_cidrs = shoal_calloc(1, sizeof(char *));
	r->insecure_cidrs[r->ninsecure_cidrs++] = shoal_strdup("127.0.0.0/8");
	for (i = 0; i < cfg->nmirrors; i++) {
		char *m = NULL;

		if (mirror_check(cfg->mirrors[i], &m, err) < 0)
			return -1;
		r->mirrors = shoal_realloc(r->mirrors, (r->nmirrors + 1) * sizeof(char *));
		r->mirrors[r->nmirrors++] = m;
	}
	for (i = 0; i < cfg->ninsecure; i++)
		if (insecure_add(r, cfg->insecure[i], err) < 0)
			return -1;
	r->hub_url = shoal_strdup(cfg->hub_url != NULL && cfg->hub_url[0] != '\0' ?
					  cfg->hub_url :
					  SHOAL_REGISTRY_HUB_URL);
	r->max_downloads = cfg->max_concurrent_downloads > 0 ? cfg->max_concurrent_downloads : 3;
	r->max_uploads = cfg->max_concurrent_uploads > 0 ? cfg->max_concurrent_uploads : 5;
	r->max_download_attempts = cfg->max_download_attempts > 0 ? cfg->max_download_attempts : 5;
	return 0;
}

/* ---- endpoints ---- */

static void endpoint_add(struct shoal_registry_endpoint **v, size_t *n, char *url, bool mirror,
			 bool official)
{
	size_t len = strlen(url);

	while (len > 0 && url[len - 1] == '/')
		url[--len] = '\0';
	*v = shoal_realloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n].url = url;
	(*v)[*n].mirror = mirror;
	(*v)[*n].official = official;
	(*n)++;
}

void shoal_registry__endpoints(const struct shoal_registry *r, const char *domain, bool push,
			       struct shoal_registry_endpoint **out, size_t *n)
{
	size_t i;

	*out = NULL;
	*n = 0;
	if (strcmp(domain, "docker.io") == 0 || strcmp(domain, "index.docker.io") == 0) {
		for (i = 0; i < r->nmirrors && !push; i++)
			endpoint_add(out, n, shoal_strdup(r->mirrors[i]), true, false);
		endpoint_add(out, n, shoal_strdup(r->hub_url), false, true);
		return;
	}
	endpoint_add(out, n, shoal_asprintf("https://%s", domain), false, false);
	if (shoal_registry__insecure(r, domain))
		endpoint_add(out, n, shoal_asprintf("http://%s", domain), false, false);
}

void shoal_registry__endpoints_free(struct shoal_registry_endpoint *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].url);
	free(v);
}

/* ---- /info ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *shoal_registry_info_json(const struct shoal_registry *r)
{
	json_t *cidrs = json_array(), *mirrors = json_array(), *index = json_object();
	const char **names = shoal_calloc(r->ninsecure_names + 1, sizeof(char *));
	bool hub_done = false;
	size_t i;

	for (i = 0; i < r->ninsecure_cidrs; i++)
		json_array_append_new(cidrs, json_string(r->insecure_cidrs[i]));
	for (i = 0; i < r->nmirrors; i++)
		json_array_append_new(mirrors, json_string(r->mirrors[i]));
	for (i = 0; i < r->ninsecure_names; i++)
		names[i] = r->insecure_names[i];
	/* Go's encoder sorts map keys */
	qsort(names, r->ninsecure_names, sizeof(char *), cmp_str);
	for (i = 0; i <= r->ninsecure_names; i++) {
		if (!hub_done && (i == r->ninsecure_names || strcmp(names[i], "docker.io") > 0)) {
			json_object_set_new(index, "docker.io",
					    json_pack("{s:s, s:O, s:b, s:b}", "Name", "docker.io",
						      "Mirrors", mirrors, "Secure", 1, "Official",
						      1));
			hub_done = true;
		}
		if (i < r->ninsecure_names && strcmp(names[i], "docker.io") != 0)
			json_object_set_new(index, names[i],
					    json_pack("{s:s, s:[], s:b, s:b}", "Name", names[i],
						      "Mirrors", "Secure", 0, "Official", 0));
	}
	free(names);
	return json_pack("{s:[], s:[], s:o, s:o, s:o}", "AllowNondistributableArtifactsCIDRs",
			 "AllowNondistributableArtifactsHostnames", "InsecureRegistryCIDRs", cidrs,
			 "IndexConfigs", index, "Mirrors", mirrors);
}
