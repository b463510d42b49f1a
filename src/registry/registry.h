/* Image distribution: the Registry HTTP API v2 client that pulls images into the engine's
 * store and pushes them out, as dockerd's distribution package does. Owns the registry
 * settings (mirrors, insecure registries, concurrency), an HTTP client on the loop, and
 * the pulls, pushes, logins and lookups in flight. Every byte from a registry is checked
 * against its digest before the engine keeps it; layers are hashed, written and
 * extracted on the thread pool. Loop thread only.
 *
 * An operation ends in exactly one of two ways: its done callback, or a cancel (then no
 * callback of it runs again). Progress messages are Docker's JSON stream messages. */
#ifndef SHOAL_REGISTRY_H
#define SHOAL_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"

struct shoal_engine;
struct shoal_registry;
struct shoal_registry_op;

/* Docker Hub's registry; a mirror goes first for docker.io names. */
#define SHOAL_REGISTRY_HUB_URL "https://registry-1.docker.io"

/* What dockerd's flags and daemon.json say about registries. Strings are copied. */
struct shoal_registry_config {
	const char *const *mirrors; /* --registry-mirror: "http://host:port" or a host */
	size_t nmirrors;
	const char *const *insecure; /* --insecure-registry: "host:port" or a CIDR */
	size_t ninsecure;
	int max_concurrent_downloads; /* 0: dockerd's 3 */
	int max_concurrent_uploads;   /* 0: dockerd's 5 */
	int max_download_attempts;    /* 0: dockerd's 5 */
	/* Where docker.io's own registry is; NULL: SHOAL_REGISTRY_HUB_URL. Tests point it
	 * at a closed loopback port so that nothing leaves the machine. */
	const char *hub_url;
};

/* Credentials as the X-Registry-Auth header and POST /auth carry them. */
struct shoal_registry_auth {
	char *username;
	char *password;
	char *identitytoken; /* an OAuth refresh token */
	char *registrytoken; /* a bearer token to send as is */
	char *serveraddress;
};

/* Decodes X-Registry-Auth (base64url JSON). Like dockerd, anything undecodable means "no
 * credentials": a is always filled (empty strings become NULL). */
void shoal_registry_auth_decode(const char *header, struct shoal_registry_auth *a);
/* From a JSON object (POST /auth's body). */
void shoal_registry_auth_from_json(const json_t *j, struct shoal_registry_auth *a);
void shoal_registry_auth_copy(struct shoal_registry_auth *dst,
			      const struct shoal_registry_auth *src);
void shoal_registry_auth_fini(struct shoal_registry_auth *a);

/* A message of the stream (a new reference). */
typedef void (*shoal_registry_progress_cb)(void *ctx, json_t *msg);
/* The operation is over: err NULL on success. Whether a progress message went out before
 * (dockerd then reports the error inside the stream, after a 200) is
 * shoal_registry_op_started()'s. */
typedef void (*shoal_registry_done_cb)(void *ctx, const struct shoal_err *err);
/* A lookup or login answered: result is a new reference on success, NULL with err. */
typedef void (*shoal_registry_json_cb)(void *ctx, json_t *result, const struct shoal_err *err);

/* Checks cfg (dockerd's texts: "invalid mirror: ...", "insecure registry ... is not
 * valid: ...") and makes the service. Returns NULL with err set. */
struct shoal_registry *shoal_registry_new(uv_loop_t *loop, struct shoal_engine *engine,
					  const struct shoal_registry_config *cfg,
					  struct shoal_err *err);
/* Cancels every operation (their callbacks are not called), waits for their pool jobs,
 * then frees r and calls cb(ctx) on a later turn. */
void shoal_registry_close(struct shoal_registry *r, void (*cb)(void *ctx), void *ctx);

/* GET /info's RegistryConfig. New reference. */
json_t *shoal_registry_info_json(const struct shoal_registry *r);

/* POST /images/create?fromImage=image&tag=tag: tag may be empty, a tag or a digest.
 * Errors before any progress are the request's (404 "manifest for x:y not found: ...",
 * 400 for a bad reference); later ones end the stream. Returns the operation, or NULL
 * with err set (then no callback runs). auth is copied. */
struct shoal_registry_op *
shoal_registry_pull(struct shoal_registry *r, const char *image, const char *tag,
		    const struct shoal_registry_auth *auth, shoal_registry_progress_cb progress,
		    shoal_registry_done_cb done, void *ctx, struct shoal_err *err);

/* POST /images/{name}/push?tag=: every tag of name when tag is empty. */
struct shoal_registry_op *
shoal_registry_push(struct shoal_registry *r, const char *name, const char *tag,
		    const struct shoal_registry_auth *auth, shoal_registry_progress_cb progress,
		    shoal_registry_done_cb done, void *ctx, struct shoal_err *err);

/* POST /auth: checks the credentials against the registry; the result is
 * {"IdentityToken": "", "Status": "Login Succeeded"}. */
struct shoal_registry_op *shoal_registry_login(struct shoal_registry *r,
					       const struct shoal_registry_auth *auth,
					       shoal_registry_json_cb done, void *ctx,
					       struct shoal_err *err);

/* GET /distribution/{name}/json: {"Descriptor": {...}, "Platforms": [...]}. */
struct shoal_registry_op *shoal_registry_inspect(struct shoal_registry *r, const char *name,
						 const struct shoal_registry_auth *auth,
						 shoal_registry_json_cb done, void *ctx,
						 struct shoal_err *err);

/* A stream message as dockerd writes it (Go's escaping, "\r\n" at the end). New string. */
char *shoal_registry_msg_line(const json_t *msg);

/* Whether the operation sent a progress message yet. */
bool shoal_registry_op_started(const struct shoal_registry_op *op);

/* Abandons the operation (client gone): its HTTP calls stop, what it half-wrote is
 * removed once its pool jobs return, nothing it fetched is kept as an image. No callback
 * runs afterwards. Not from inside its own done callback. */
void shoal_registry_op_cancel(struct shoal_registry_op *op);

#endif
