/* Image manifests as a registry serves them: Docker schema 2 and OCI image manifests (a
 * config and layers), manifest lists and OCI indexes (one manifest per platform), and the
 * platform choice dockerd makes among a list's entries. Schema 1 is refused. Pure; any
 * thread. */
#include "registry/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"

static bool valid_digest(const char *d)
{
	size_t i;

	if (d == NULL || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return false;
	for (i = 7; i < 71; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			return false;
	return true;
}

static int desc_parse(const json_t *j, struct shoal_registry_desc *d, bool platform,
		      struct shoal_err *err)
{
	const char *mt = json_string_value(json_object_get(j, "mediaType"));
	const char *digest = json_string_value(json_object_get(j, "digest"));
	json_t *size = json_object_get(j, "size");
	json_t *urls = json_object_get(j, "urls");

	memset(d, 0, sizeof(*d));
	if (!json_is_object(j))
		return shoal_errorf(err, 400, "invalid manifest: bad descriptor");
	if (!valid_digest(digest))
		return shoal_errorf(err, 400, "could not validate layer digest \"%s\": %s",
				    digest != NULL ? digest : "", "invalid checksum digest format");
	snprintf(d->media_type, sizeof(d->media_type), "%s", mt != NULL ? mt : "");
	snprintf(d->digest, sizeof(d->digest), "%s", digest);
	d->size = json_is_integer(size) ? json_integer_value(size) : 0;
	d->foreign = json_is_array(urls) && json_array_size(urls) > 0;
	if (platform) {
		json_t *p = json_object_get(j, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "architecture"));
		const char *variant = json_string_value(json_object_get(p, "variant"));

		snprintf(d->os, sizeof(d->os), "%s", os != NULL ? os : "");
		snprintf(d->arch, sizeof(d->arch), "%s", arch != NULL ? arch : "");
		snprintf(d->variant, sizeof(d->variant), "%s", variant != NULL ? variant : "");
	}
	return 0;
}

static int items_parse(const json_t *arr, struct shoal_registry_manifest *m, bool platform,
		       struct shoal_err *err)
{
	size_t i;
	json_t *v;

	if (arr != NULL && !json_is_array(arr))
		return shoal_errorf(err, 400, "invalid manifest: not a list of descriptors");
	m->items = shoal_calloc(json_array_size(arr) + 1, sizeof(*m->items));
	json_array_foreach(arr, i, v) {
		if (desc_parse(v, &m->items[m->nitems], platform, err) < 0)
			return -1;
		m->nitems++;
	}
	return 0;
}

int shoal_registry__manifest_parse(const char *data, size_t len, const char *content_type,
				   struct shoal_registry_manifest *m, struct shoal_err *err)
{
	json_t *root = NULL;
	const char *body_mt;
	char mt[128] = "";
	int rv = -1;

	memset(m, 0, sizeof(*m));
	if (content_type != NULL) {
		size_t n = strcspn(content_type, "; \t");

		snprintf(mt, sizeof(mt), "%.*s", (int)n, content_type);
	}
	root = json_loadb(data, len, 0, NULL);
	if (!json_is_object(root)) {
		shoal_errorf(err, 400, "invalid manifest: not a JSON object");
		goto out;
	}
	body_mt = json_string_value(json_object_get(root, "mediaType"));
	if (mt[0] == '\0' || strcasecmp(mt, "application/json") == 0 ||
	    strcasecmp(mt, "text/plain") == 0) {
		/* no usable header: the body says, or its shape does */
		if (body_mt != NULL)
			snprintf(mt, sizeof(mt), "%s", body_mt);
		else if (json_object_get(root, "manifests") != NULL)
			snprintf(mt, sizeof(mt), "%s", SHOAL_MT_OCI_INDEX);
		else if (json_integer_value(json_object_get(root, "schemaVersion")) == 2)
			snprintf(mt, sizeof(mt), "%s", SHOAL_MT_OCI_MANIFEST);
		else
			snprintf(mt, sizeof(mt), "%s", SHOAL_MT_DOCKER_SCHEMA1);
	}
	snprintf(m->media_type, sizeof(m->media_type), "%s", mt);
	if (strcmp(mt, SHOAL_MT_DOCKER_MANIFEST) == 0 || strcmp(mt, SHOAL_MT_OCI_MANIFEST) == 0) {
		bool oci = strcmp(mt, SHOAL_MT_OCI_MANIFEST) == 0;

		if (!oci && (body_mt == NULL || strcmp(body_mt, mt) != 0)) {
			shoal_errorf(err, 400, "mediaType in manifest should be '%s' not '%s'", mt,
				     body_mt != NULL ? body_mt : "");
			goto out;
		}
		if (oci && body_mt != NULL && strcmp(body_mt, mt) != 0) {
			shoal_errorf(err, 400,
				     "if present, mediaType in manifest should be '%s' not '%s'",
				     mt, body_mt);
			goto out;
		}
		if (desc_parse(json_object_get(root, "config"), &m->config, false, err) < 0 ||
		    items_parse(json_object_get(root, "layers"), m, false, err) < 0)
			goto out;
	} else if (strcmp(mt, SHOAL_MT_DOCKER_LIST) == 0 || strcmp(mt, SHOAL_MT_OCI_INDEX) == 0) {
		bool oci = strcmp(mt, SHOAL_MT_OCI_INDEX) == 0;

		if (!oci && (body_mt == NULL || strcmp(body_mt, mt) != 0)) {
			shoal_errorf(err, 400, "mediaType in manifest list should be '%s' not '%s'",
				     mt, body_mt != NULL ? body_mt : "");
			goto out;
		}
		if (oci && body_mt != NULL && strcmp(body_mt, mt) != 0) {
			shoal_errorf(err, 400,
				     "if present, mediaType in image index should be '%s' not '%s'",
				     mt, body_mt);
			goto out;
		}
		m->is_list = true;
		if (items_parse(json_object_get(root, "manifests"), m, true, err) < 0)
			goto out;
	} else {
		/* schema 1 (signed, deprecated) and anything else */
		shoal_errorf(err, 400, "unsupported manifest format");
		goto out;
	}
	rv = 0;
out:
	if (rv < 0)
		shoal_registry__manifest_fini(m);
	json_decref(root);
	return rv;
}

void shoal_registry__manifest_fini(struct shoal_registry_manifest *m)
{
	free(m->items);
	m->items = NULL;
	m->nitems = 0;
}

/* containerd's normalizeArch: the spellings uname and others use. */
static void normalize(const char *arch, const char *variant, char *a, size_t an, char *v, size_t vn)
{
	snprintf(a, an, "%s", arch);
	snprintf(v, vn, "%s", variant);
	if (strcasecmp(arch, "x86_64") == 0 || strcasecmp(arch, "x86-64") == 0 ||
	    strcasecmp(arch, "amd64") == 0) {
		snprintf(a, an, "amd64");
		if (strcmp(variant, "v1") == 0)
			v[0] = '\0';
	} else if (strcasecmp(arch, "aarch64") == 0 || strcasecmp(arch, "arm64") == 0) {
		snprintf(a, an, "arm64");
		if (strcmp(variant, "8") == 0 || strcmp(variant, "v8") == 0)
			v[0] = '\0';
	} else if (strcasecmp(arch, "i386") == 0) {
		snprintf(a, an, "386");
	}
}

int shoal_registry__manifest_select(const struct shoal_registry_manifest *list, const char *os,
				    const char *arch, struct shoal_err *err)
{
	char want_a[32], want_v[32], a[32], v[32];
	size_t i;

	normalize(arch, "", want_a, sizeof(want_a), want_v, sizeof(want_v));
	for (i = 0; i < list->nitems; i++) {
		const struct shoal_registry_desc *d = &list->items[i];

		normalize(d->arch, d->variant, a, sizeof(a), v, sizeof(v));
		if (strcasecmp(d->os, os) == 0 && strcmp(a, want_a) == 0 && strcmp(v, want_v) == 0)
			return (int)i;
	}
	shoal_errorf(err, 500, "no matching manifest for %s/%s in the manifest list entries", os,
		     want_a);
	return -1;
}

bool shoal_registry__media_type_ok(const char *mt)
{
	/* dockerd's supportedMediaTypes: prefixes, then exact old spellings */
	static const char *const prefixes[] = { "application/vnd.oci.image",
						"application/vnd.docker" };
	static const char *const exact[] = { "application/octet-stream", "application/json",
					     "text/html", "" };
	size_t i;

	for (i = 0; i < 2; i++) {
		size_t n = strlen(prefixes[i]);

		if (strncasecmp(mt, prefixes[i], n) == 0 && (mt[n] == '\0' || mt[n] == '.'))
			return true;
	}
	for (i = 0; i < 4; i++)
		if (strcasecmp(mt, exact[i]) == 0)
			return true;
	return false;
}
