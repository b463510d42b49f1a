/* Inside src/engine: the pieces the image store, the containers and the API glue share.
 * Functions marked "any thread" touch only their arguments and the file system, so they
 * run on the libuv thread pool; everything else is loop thread only. */
#ifndef SHOAL_ENGINE_INTERNAL_H
#define SHOAL_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "base/err.h"

/* ---- image references (reference.c) ---- */

/* A parsed image reference, normalised as Docker does: "instavote/vote" is
 * domain "docker.io", path "instavote/vote", tag "latest"; "busybox" is path
 * "library/busybox". */
struct shoal_ref {
	char domain[256];
	char path[256];
	char tag[129];	 /* "" when a digest is given without a tag */
	char digest[72]; /* "sha256:<64 hex>" or "" */
};

/* Parses s (any form: name, name:tag, name@digest, domain:port/name:tag). Docker's
 * messages: "invalid reference format", "invalid reference format: repository name must
 * be lowercase". A missing tag becomes "latest" unless a digest is given. */
int shoal_ref_parse(const char *s, struct shoal_ref *ref, struct shoal_err *err) SHOAL_MUST_CHECK;
/* "docker.io/library/busybox:latest" */
void shoal_ref_full(const struct shoal_ref *ref, char *out, size_t size);
/* Docker's familiar form: "busybox:latest", "instavote/vote:indent",
 * "localhost:5000/x:1", "busybox@sha256:..." */
void shoal_ref_familiar(const struct shoal_ref *ref, char *out, size_t size);
/* The familiar repository name without tag or digest: "busybox", "instavote/vote". */
void shoal_ref_familiar_name(const struct shoal_ref *ref, char *out, size_t size);
/* Whether s looks like a full or short hex image ID ("sha256:" prefix optional). */
bool shoal_ref_is_id_prefix(const char *s);

/* ---- digests (digest.c) ---- */

struct shoal_sha256;
/* Incremental sha256 (OpenSSL EVP). Any thread. */
struct shoal_sha256 *shoal_sha256_new(void);
void shoal_sha256_update(struct shoal_sha256 *h, const void *data, size_t len);
/* Writes "sha256:<64 hex>" into out (72 bytes at least) and frees h. */
void shoal_sha256_final(struct shoal_sha256 *h, char *out);
/* Digest of a buffer, "sha256:<hex>". */
void shoal_sha256_digest(const void *data, size_t len, char *out);

/* ---- layer archives (archive.c); any thread ---- */

/* A source of archive bytes, as libarchive's read callback: sets *buf and returns the
 * number of bytes (0 at the end, -1 on error with err set). */
typedef ssize_t (*shoal_archive_read_fn)(void *ctx, const void **buf, struct shoal_err *err);

struct shoal_layer_info {
	char digest[72];  /* sha256 of the bytes as read (compressed or not) */
	char diff_id[72]; /* sha256 of the uncompressed tar */
	int64_t size;	  /* bytes of the uncompressed tar */
};

/* Extracts a layer tar (plain, gzip or zstd) from read into dir, which exists and is
 * empty, refusing what could escape dir or harm the host: ".." components, absolute
 * paths, writing through a symlink, hard links to outside dir, device nodes, entries
 * claiming more bytes than the stream holds. Whiteouts become overlayfs whiteouts:
 * ".wh.NAME" a 0:0 character device NAME, ".wh..wh..opq" the trusted.overlay.opaque
 * xattr on its directory. On failure dir may hold a partial tree: the caller removes it.
 * Fills info. Errors: 400 with a message naming the entry for bad archives. When tee_fd
 * is >= 0 the uncompressed tar is also written there, byte for byte. */
int shoal_layer_extract(shoal_archive_read_fn read, void *ctx, const char *dir, int tee_fd,
			struct shoal_layer_info *info, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Writes dir as an uncompressed tar to fd (for save and export), overlay whiteouts
 * turned back into ".wh." entries; fills info with the tar's digest and size. */
int shoal_layer_pack(const char *dir, int fd, struct shoal_layer_info *info,
		     struct shoal_err *err) SHOAL_MUST_CHECK;

/* Removes a tree (rm -rf), not following symlinks. Returns 0 or -errno. */
int shoal_rmtree(const char *path);

/* ---- the store's files (images.c, store.c) ---- */

struct shoal_engine;
struct shoal_image;
struct shoal_layer;

/* Reads a small file whole (startup, or a thread-pool job); NULL with errno set. */
char *shoal_engine__read_file(const char *path, size_t max, size_t *len);
/* Writes a file atomically (temp + fsync + rename). Returns 0 or -errno. Any thread. */
int shoal_engine__write_file(const char *path, const void *data, size_t len);
/* The same without fsync: for files a start writes again each time (a bundle, /etc/hosts),
 * where a crash loses nothing that matters and a sync costs the start milliseconds. */
int shoal_engine__write_file_nosync(const char *path, const void *data, size_t len);
/* mkdir -p, the last component with mode. Returns 0 or -errno. Any thread. */
int shoal_engine__mkdirs(const char *path, mode_t mode);
/* chain(parent, diff) = diff for a base layer, else sha256("<parent> <diff>"). */
void shoal_engine__chain_id(const char *parent_chain, const char *diff_id, char *out);

/* Adds an image whose layers are in the store, from its config bytes (copied). Returns
 * the image (an existing one with that ID if any), or NULL with err set. */
struct shoal_image *shoal_engine__image_add(struct shoal_engine *e, const char *id, const char *raw,
					    size_t len, struct shoal_err *err);
/* Adds a repository digest reference ("name@sha256:...") to img, unless an image holds
 * it already (dockerd never moves one). Returns whether it was added. */
bool shoal_engine__digest_add(struct shoal_engine *e, struct shoal_image *img, const char *full);
/* Extracts a layer read from fd (plain tar, gzip or zstd) into the store as the child of
 * parent ("" for a base layer), refusing it unless its uncompressed digest is diff_id.
 * Thread pool: touches only the roots given and the file system. *nread (may be NULL)
 * follows the bytes read. Fills out (an existing layer with that chain ID is reused). */
int shoal_engine__layer_extract_fd(const char *image_root, const char *layer_root,
				   const char *tmp_root, int fd, const char *parent,
				   const char *diff_id, int64_t *nread, struct shoal_layer *out,
				   struct shoal_err *err) SHOAL_MUST_CHECK;
/* Points the full reference at img; returns the image it was taken from, if any. */
struct shoal_image *shoal_engine__tag_set(struct shoal_engine *e, struct shoal_image *img,
					  const char *full);

/* File work is done in order on the thread pool, one operation at a time (store.c). */
void shoal_engine__store_init(struct shoal_engine *e);
void shoal_engine__store_fini(struct shoal_engine *e);
/* Writes repositories.json from the tags in memory. */
void shoal_engine__persist(struct shoal_engine *e);
/* Forgets a layer nobody holds and removes its files. */
void shoal_engine__layer_remove(struct shoal_engine *e, struct shoal_layer *l);
/* Removes an image's config file. */
void shoal_engine__image_files_remove(struct shoal_engine *e, const char *id);
/* Writes path with data (both taken over) in the store's order. */
void shoal_engine__write_async(struct shoal_engine *e, char *path, char *data, size_t len);
/* Removes a tree (path taken over) in the store's order. */
void shoal_engine__rmtree_async(struct shoal_engine *e, char *path);

/* Runs work(arg) on the thread pool, then done(arg, status) on the loop. */
int shoal_engine__pool(struct shoal_engine *e, void (*work)(void *arg),
		       void (*done)(void *arg, int status), void *arg);

/* ---- containers (containers.c, lifecycle.c) ---- */

struct shoal_container;
void shoal_engine__container_save(struct shoal_container *c);
void shoal_engine__container_free(struct shoal_container *c);
int shoal_engine__containers_load(struct shoal_engine *e);
/* A "container" event; old_name for rename. */
void shoal_engine__container_event(struct shoal_container *c, const char *action,
				   const char *old_name);
/* Signal names and numbers as docker kill takes them: "KILL", "SIGKILL", "9". */
int shoal_engine__signal_parse(const char *s);
/* "10m", "1g", "512k" as Docker's log max-size; 0 for none. */
int64_t shoal_engine__parse_size(const char *s);
/* Starts a running container's health checks when its config has a Healthcheck; stops
 * them (exit, shutdown). */
void shoal_engine__health_start(struct shoal_container *c);
void shoal_engine__health_stop(struct shoal_container *c);
/* The restart manager (restart.c): whether policy (HostConfig.RestartPolicy) restarts a
 * container that exited with exit_code after restart_count restarts, and the delay
 * before the next restart after one of previous_ms, for a run that lasted ran_ns. */
bool shoal_engine__restart_wanted(const json_t *policy, int exit_code, int restart_count,
				  bool manual_stop);
int shoal_engine__restart_delay(int previous_ms, int64_t ran_ns);
/* The local volume driver's name rule, [a-zA-Z0-9][a-zA-Z0-9_.-]+ (which also keeps a
 * name from walking out of the volumes root), with dockerd's 400 texts. */
int shoal_engine__volume_name_check(const char *name, struct shoal_err *err) SHOAL_MUST_CHECK;
/* Frees every container object (after the loop ran dry). */
void shoal_engine__containers_fini(struct shoal_engine *e);

#endif
