/* The node engine: the image store (content-addressed configs, layers extracted once and
 * shared, repository:tag references) and the containers (their root file systems, OCI
 * bundles, shims, network endpoints, logs, restart policies) and the local volumes. Owns
 * everything under <data-root>/image, <data-root>/overlay, <data-root>/containers and
 * <data-root>/volumes, and <exec-root>/containers. Loop thread only; slow work (hashing,
 * extracting, packing, copying into volumes) runs as jobs on the libuv thread pool and
 * completes on the loop.
 * Returned image and layer pointers are borrowed: valid until control returns to the
 * loop (an image can be deleted by the next request). */
#ifndef SHOAL_ENGINE_H
#define SHOAL_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "base/list.h"

struct shoal_engine;
struct shoal_net;
struct shoal_shim;

/* What the engine tells the rest of the daemon: Docker events (type "image", action
 * "load", "tag", "untag", "delete", "import", "save"; "container"; "volume", action
 * "create", "destroy", "mount"). attrs is a new reference. */
typedef void (*shoal_engine_event_cb)(void *ctx, const char *type, const char *action,
				      const char *id, json_t *attrs);

struct shoal_layer {
	struct shoal_list link;
	char chain_id[72]; /* "sha256:<hex>", the layer's identity in the store */
	char diff_id[72];  /* digest of its uncompressed tar */
	char parent[72];   /* parent's chain ID, "" for a base layer */
	char cache_id[65]; /* directory under <data-root>/overlay */
	int64_t size;	   /* bytes of its uncompressed tar */
	int refs;	   /* images holding it, and pulls and pushes using it */
};

struct shoal_image {
	struct shoal_list link;
	char id[72];	  /* "sha256:<hex>" of the config */
	json_t *config;	  /* the OCI/Docker image config, parsed; owned */
	char *config_raw; /* its bytes as stored: their digest is the ID; owned */
	size_t config_len;
	char **tags; /* full references, "docker.io/library/busybox:latest"; owned */
	size_t ntags;
	char **digests; /* repository digests it was pulled or pushed as, full references
			 * ("127.0.0.1:5000/vote@sha256:..."); owned */
	size_t ndigests;
	char **layers; /* chain IDs, base first; owned */
	size_t nlayers;
	int64_t created_ns;
	int64_t size; /* sum of its layers */
	int users;    /* containers using it (a later part counts them) */
};

struct shoal_engine {
	uv_loop_t *loop;
	char *root;	  /* the data root */
	char *image_root; /* <root>/image */
	char *layer_root; /* <root>/overlay */
	char *tmp_root;	  /* <root>/tmp: uploads and staging, emptied at start */
	struct shoal_list images;
	size_t nimages;
	struct shoal_list layers;
	int jobs;		 /* in flight on the thread pool; fini waits for them */
	struct shoal_list fsops; /* file operations queued for the pool, in order */
	bool fsop_busy;
	shoal_engine_event_cb event;
	void *event_ctx;
	/* containers */
	char *exec_root;       /* <exec-root>: bundles and shim state */
	char *container_root;  /* <root>/containers */
	char *shim_path;       /* the shoal-shim binary */
	char *runtime;	       /* the default runtime's name, "runc" */
	json_t *runtimes;      /* name -> {"path": ...}: runc, and --add-runtime's */
	char *init_path;       /* docker-init for HostConfig.Init, NULL when none found */
	struct shoal_net *net; /* the node's bridge networking; borrowed */
	struct shoal_list containers;
	size_t ncontainers;
	bool closing; /* shoald is stopping: containers are left running, not restarted */
	/* volumes (volumes.c) */
	char *volume_root;	      /* <root>/volumes */
	struct shoal_list volumes;    /* struct shoal_volume, by creation */
	struct shoal_list volume_ops; /* their file work, done in order on the pool */
	bool volume_op_busy;
	/* distribution.c: blob digests of layers in registries, read at first use */
	json_t *distribution;
};

enum shoal_container_state {
	SHOAL_CONTAINER_CREATED,
	SHOAL_CONTAINER_RUNNING,
	SHOAL_CONTAINER_PAUSED,
	SHOAL_CONTAINER_RESTARTING,
	SHOAL_CONTAINER_REMOVING,
	SHOAL_CONTAINER_EXITED,
	SHOAL_CONTAINER_DEAD,
};

struct shoal_container_waiter;
struct shoal_health;

struct shoal_container {
	struct shoal_list link;
	struct shoal_engine *e;
	char id[65];
	char *name;		     /* "/web", as Docker keeps it */
	json_t *config;		     /* the merged Config */
	json_t *host_config;	     /* HostConfig as created */
	json_t *spec;		     /* the OCI spec it last started with, NULL before */
	struct shoal_health *health; /* its health checks while it runs (health.c) */
	json_t *health_state;	     /* State.Health: Status, FailingStreak, Log */
	char image_id[72];
	char *image;	/* the image as asked for ("instavote/vote") */
	char *layer_id; /* its read-write layer under overlay/ */
	int64_t created_ns;
	enum shoal_container_state state;
	int pid;
	int exit_code;
	bool oom_killed;
	char *error; /* the last start error, "" when none */
	int64_t started_ns, finished_ns;
	int restart_count;
	bool manual_stop;    /* stopped by a user: unless-stopped and always do not restart */
	bool remove_volumes; /* rm -v: its anonymous volumes go with it */
	bool has_been_started;
	bool mounted;
	bool starting, stopping, removing;
	char *netns; /* its network namespace path, NULL when none */
	struct shoal_shim *shim;
	struct shoal_list waiters;
	uv_timer_t *restart_timer; /* while a restart is pending */
	uv_timer_t *stop_timer;	   /* SIGKILL after the stop timeout */
	struct shoal_list stop_waiters;
	void *start_op;	   /* the start in progress, lifecycle.c's */
	void *teardown_op; /* the cleanup in progress */
	void *remove_cb;   /* who asked for the removal in progress */
	uv_timer_t *remove_timer;
	bool tearing_down;
	int restart_delay_ms;
	void *api; /* the API's own per-container state (attach streams) */
};

/* ---- containers ---- */

typedef void (*shoal_container_done_cb)(void *ctx, struct shoal_container *c,
					const struct shoal_err *err);
typedef void (*shoal_container_wait_cb)(void *ctx, int exit_code, const char *error);

/* Opens the containers recorded under <root>/containers: reconnects to the shims of the
 * ones that were running (they kept running while shoald was down), notes the ones that
 * died meanwhile, and restarts those whose policy says so. Startup only. */
int shoal_engine_containers_init(struct shoal_engine *e, struct shoal_err *err) SHOAL_MUST_CHECK;
/* shoald is stopping: timers stop, shims are let go (containers keep running). */
void shoal_engine_containers_close(struct shoal_engine *e);

/* Finds a container by full or short ID or by name (with or without "/"). 404
 * "No such container: <name>". */
struct shoal_container *shoal_engine_container_find(struct shoal_engine *e, const char *name,
						    struct shoal_err *err);

/* POST /containers/create: body is Docker's create body (Config fields, HostConfig,
 * NetworkingConfig); name may be NULL (a name is made up). Returns the new container. */
struct shoal_container *shoal_engine_container_create(struct shoal_engine *e, const char *name,
						      const json_t *body, json_t *warnings,
						      struct shoal_err *err);
/* Starts it: root file system, network, bundle, shim. 304 (Docker's "container already
 * started") when running. done is called once it runs or failed to. */
int shoal_engine_container_start(struct shoal_container *c, shoal_container_done_cb done, void *ctx,
				 struct shoal_err *err) SHOAL_MUST_CHECK;
/* Stops it: its StopSignal (or signal), SIGKILL after timeout seconds (-1: its
 * StopTimeout, else 10). 304 when not running. done once it exited. */
int shoal_engine_container_stop(struct shoal_container *c, int timeout, const char *signal,
				shoal_container_done_cb done, void *ctx,
				struct shoal_err *err) SHOAL_MUST_CHECK;
/* Sends a signal ("KILL", "SIGTERM", "15"). 409 "Container <id> is not running". */
int shoal_engine_container_kill(struct shoal_container *c, const char *signal,
				struct shoal_err *err) SHOAL_MUST_CHECK;
int shoal_engine_container_pause(struct shoal_container *c, bool pause,
				 shoal_container_done_cb done, void *ctx,
				 struct shoal_err *err) SHOAL_MUST_CHECK;
/* Waits for condition "not-running" (default), "next-exit" or "removed". */
int shoal_engine_container_wait(struct shoal_container *c, const char *condition,
				shoal_container_wait_cb cb, void *ctx,
				struct shoal_container_waiter **out,
				struct shoal_err *err) SHOAL_MUST_CHECK;
/* Forgets a waiter whose client left; its callback is not called. */
void shoal_engine_container_wait_cancel(struct shoal_container_waiter *w);
/* DELETE: 409 when running and not force ("You cannot remove a running container ...").
 * done after it is gone (c is freed then: done gets NULL for c). */
int shoal_engine_container_remove(struct shoal_container *c, bool force, bool volumes,
				  shoal_container_done_cb done, void *ctx,
				  struct shoal_err *err) SHOAL_MUST_CHECK;
int shoal_engine_container_rename(struct shoal_container *c, const char *name,
				  struct shoal_err *err) SHOAL_MUST_CHECK;

/* Docker's JSON: GET /containers/{id}/json, an item of GET /containers/json. */
json_t *shoal_engine_container_inspect_json(struct shoal_container *c);
json_t *shoal_engine_container_summary_json(struct shoal_container *c);
/* The OCI process for `docker exec`: the container's own process settings with the exec's
 * Cmd, Env, WorkingDir, User, Tty. 409 when not running or paused. New reference. */
json_t *shoal_engine_container_exec_process(struct shoal_container *c, const json_t *exec_config,
					    struct shoal_err *err);
/* "running", "exited", ... */
const char *shoal_container_state_name(enum shoal_container_state s);
/* The json-file log's path. New string. */
char *shoal_engine_container_log_path(const struct shoal_container *c);

/* Opens the store under root, creating it if new, dropping staging leftovers. Reads
 * small metadata files: startup only. */
int shoal_engine_init(struct shoal_engine *e, uv_loop_t *loop, const char *root,
		      struct shoal_err *err) SHOAL_MUST_CHECK;
void shoal_engine_fini(struct shoal_engine *e);

/* ---- images ---- */

/* Finds an image by reference (name[:tag], name@digest), full or short ID, as Docker
 * resolves names. 404 "No such image: <name>". */
struct shoal_image *shoal_engine_image_find(struct shoal_engine *e, const char *name,
					    struct shoal_err *err);
struct shoal_layer *shoal_engine_layer_find(struct shoal_engine *e, const char *chain_id);

/* Docker's JSON: GET /images/{name}/json (inspect), an item of GET /images/json, and
 * GET /images/{name}/history. New references. */
json_t *shoal_engine_image_inspect_json(struct shoal_engine *e, const struct shoal_image *img);
json_t *shoal_engine_image_summary_json(struct shoal_engine *e, const struct shoal_image *img);
json_t *shoal_engine_image_history_json(struct shoal_engine *e, const struct shoal_image *img);

/* Points repo[:tag] at img (moving the tag off another image). 400 for a bad name. */
int shoal_engine_image_tag(struct shoal_engine *e, struct shoal_image *img, const char *repo,
			   const char *tag, struct shoal_err *err) SHOAL_MUST_CHECK;

/* DELETE /images/{name}: untags, and deletes the image when no tag is left (or when
 * named by ID with force). *report gets Docker's list of {"Untagged": ...} and
 * {"Deleted": ...} entries (new reference). 409 when a container uses it and not
 * force, or when an ID names an image with several tags and not force. */
int shoal_engine_image_delete(struct shoal_engine *e, const char *name, bool force, bool noprune,
			      json_t **report, struct shoal_err *err) SHOAL_MUST_CHECK;

/* ---- volumes (volumes.c) ---- */

/* A volume of the local driver: its files in <volume_root>/<name>/_data, its metadata in
 * <name>/opts.json. */
struct shoal_volume {
	struct shoal_list link;
	char *name;
	json_t *labels;	 /* an object, or JSON null; owned */
	json_t *options; /* DriverOpts: an object, or JSON null; owned */
	int64_t created_ns;
};

/* Removal finished: deleted is the array of the names removed (borrowed), reclaimed the
 * bytes their files held. */
typedef void (*shoal_engine_volumes_removed_cb)(void *ctx, const json_t *deleted,
						int64_t reclaimed);
/* A container's volumes are ready (err NULL) or could not be made ready. */
typedef void (*shoal_engine_volumes_ready_cb)(void *ctx, const struct shoal_err *err);

/* cb(ctx, NULL) once every volume operation queued before this call is done on disk (the
 * volume operations run in order): an API answer waits for it, so a client that creates a
 * volume finds its directory there. */
void shoal_engine_volumes_sync(struct shoal_engine *e, shoal_engine_volumes_ready_cb cb, void *ctx);

/* Opens <root>/volumes, creating it, and reads each volume's opts.json. Startup only. */
int shoal_engine_volumes_init(struct shoal_engine *e, struct shoal_err *err) SHOAL_MUST_CHECK;
/* Frees the volume objects (after the loop ran dry). */
void shoal_engine_volumes_fini(struct shoal_engine *e);

/* 404 "get <name>: no such volume". */
struct shoal_volume *shoal_engine_volume_find(struct shoal_engine *e, const char *name,
					      struct shoal_err *err);
/* POST /volumes/create: name "" or NULL makes up an anonymous one (64 hex). A name that
 * exists gives the existing volume. driver must be "local" (or ""); opts and labels
 * (objects or NULL) are copied. 400 for a bad name or option, 404 for another driver. */
struct shoal_volume *shoal_engine_volume_create(struct shoal_engine *e, const char *name,
						const char *driver, const json_t *opts,
						const json_t *labels, struct shoal_err *err);
/* The IDs of the containers that use the volume (a new array, empty when dangling). */
json_t *shoal_engine_volume_users(struct shoal_engine *e, const char *name);
/* Removes the named volumes (names may be the volumes' own strings): each must exist (404,
 * unless force) and be unused (409 "remove <name>: volume is in use - [<ids>]"); checked
 * for all before any is removed. done is called once their files are gone (measured
 * first when measure is set), later, on the loop. */
int shoal_engine_volumes_remove(struct shoal_engine *e, const char *const *names, size_t n,
				bool force, bool measure, shoal_engine_volumes_removed_cb done,
				void *ctx, struct shoal_err *err) SHOAL_MUST_CHECK;
/* Docker's JSON: GET /volumes/{name}, an item of GET /volumes. New reference. */
json_t *shoal_engine_volume_json(struct shoal_engine *e, const struct shoal_volume *v);

/* A container's mounts as inspect's "Mounts" shows them (binds, volumes, tmpfs). New
 * reference. */
json_t *shoal_engine_container_mounts_json(struct shoal_container *c);
/* Creates the volumes a new container names that do not exist yet, as dockerd does at
 * create (Binds and Mounts sources, and an anonymous volume per Config.Volumes path no
 * other mount covers). */
void shoal_engine_container_volumes_create(struct shoal_container *c);
/* Before a start, with the root file system mounted: every volume of c exists on disk,
 * and a volume whose directory is empty gets the image's files at its mount point (unless
 * nocopy), as dockerd copies them; then a "mount" event per volume. done is called once,
 * later, on the loop, and not at all when this returns -1 (500: a volume with driver
 * options, which would need a mount of its own). */
int shoal_engine_container_volumes_prepare(struct shoal_container *c,
					   shoal_engine_volumes_ready_cb done, void *ctx,
					   struct shoal_err *err) SHOAL_MUST_CHECK;
/* HostConfig for the spec: c's, plus a Binds entry "<name>:<path>" per anonymous volume.
 * New reference. */
json_t *shoal_engine_container_volumes_host_config(struct shoal_container *c);
/* rm -v and AutoRemove: removes c's anonymous volumes no other container uses. c is
 * already out of the engine's list. */
void shoal_engine_container_volumes_remove(struct shoal_container *c);

/* ---- loading and importing (jobs) ---- */

struct shoal_engine_job;

/* Called on the loop for each progress message (a new reference, Docker's JSON message
 * form: {"stream": "..."} or {"status", "progressDetail", "id"}). */
typedef void (*shoal_engine_progress_cb)(void *ctx, json_t *msg);
/* Called once on the loop when the job is over; err is NULL on success. */
typedef void (*shoal_engine_done_cb)(void *ctx, const struct shoal_err *err);

enum shoal_engine_job_kind {
	SHOAL_ENGINE_JOB_LOAD,	 /* a `docker save` or OCI layout tar */
	SHOAL_ENGINE_JOB_IMPORT, /* a root file system tar: one layer */
};

struct shoal_engine_import_opts {
	char *repo; /* the full reference to tag it with ("docker.io/library/x:1"); NULL: none */
	char *tag;  /* unused: repo carries the tag */
	json_t *changes; /* the container config the changes made (an object), may be NULL */
	char *message;	 /* history comment */
	char *platform;
};

/* Starts receiving an upload: bytes go to a file under tmp_root as they arrive.
 * opts (import only) is taken over. Returns NULL with err set on failure. */
struct shoal_engine_job *shoal_engine_job_new(struct shoal_engine *e,
					      enum shoal_engine_job_kind kind,
					      struct shoal_engine_import_opts *opts,
					      struct shoal_err *err);
/* Queues bytes of the upload. Returns the bytes queued but not yet on disk, so the
 * caller can pause its source past a limit; ready (may be NULL) is called when the
 * queue drains. */
size_t shoal_engine_job_write(struct shoal_engine_job *job, const void *data, size_t len);
void shoal_engine_job_on_drain(struct shoal_engine_job *job, void (*ready)(void *ctx), void *ctx);
/* The upload is complete: process it on the thread pool, then call progress for each
 * message and done once. The job frees itself after done. */
void shoal_engine_job_run(struct shoal_engine_job *job, shoal_engine_progress_cb progress,
			  shoal_engine_done_cb done, void *ctx);
/* The upload was abandoned (client gone): remove what it wrote. done is not called. */
void shoal_engine_job_abort(struct shoal_engine_job *job);

/* ---- distribution: what pulls and pushes need (distribution.c) ---- */

/* A pulled layer is in the store (l held for the caller: release it), or err. */
typedef void (*shoal_engine_layer_cb)(void *ctx, struct shoal_layer *l,
				      const struct shoal_err *err);
/* A layer was compressed into the blob at path (digest and size of its bytes), or err. */
typedef void (*shoal_engine_blob_cb)(void *ctx, const char *path, const char *digest, int64_t size,
				     const struct shoal_err *err);

/* Keeps a layer in the store while a pull or push uses it, whether or not an image holds
 * it; release lets go, and removes a layer nothing holds any more. */
void shoal_engine_layer_hold(struct shoal_engine *e, const char *chain_id);
void shoal_engine_layer_release(struct shoal_engine *e, const char *chain_id);

/* Extracts the downloaded layer blob at path (tar, gzip or zstd; removed afterwards) on
 * the thread pool into a layer on top of parent ("" for a base layer), refusing it unless
 * its uncompressed digest is diff_id (400 "layer digest mismatch"). *nread (may be NULL;
 * the caller keeps it alive until done) follows the bytes read, for progress. done is
 * called once, later, on the loop; not at all when this returns -1. */
int shoal_engine_layer_add_blob(struct shoal_engine *e, const char *path, const char *parent,
				const char *diff_id, int64_t *nread, shoal_engine_layer_cb done,
				void *ctx, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Compresses a layer's tar with gzip into dst on the thread pool, for a push; *nread
 * follows the uncompressed bytes read. The caller holds the layer until done. */
int shoal_engine_layer_compress(struct shoal_engine *e, const char *chain_id, const char *dst,
				int64_t *nread, shoal_engine_blob_cb done, void *ctx,
				struct shoal_err *err) SHOAL_MUST_CHECK;

/* Stores a pulled image from its config bytes (its layers are in the store) unless it is
 * here, and points tag (a full reference, or NULL) and digest_ref ("name@sha256:...", or
 * NULL) at it. *changed tells whether the image or tag is new (dockerd's "Downloaded
 * newer image" against "Image is up to date"). Returns the image, or NULL with err. */
struct shoal_image *shoal_engine_image_put(struct shoal_engine *e, const char *config, size_t len,
					   const char *tag, const char *digest_ref, bool *changed,
					   struct shoal_err *err);

/* dockerd's v2 metadata: layer diff_id is blob digest in repository repo (a full name,
 * "127.0.0.1:5000/vote"). Kept in <data-root>/image/distribution.json. */
void shoal_engine_blob_note(struct shoal_engine *e, const char *diff_id, const char *digest,
			    const char *repo);
void shoal_engine_blob_forget(struct shoal_engine *e, const char *diff_id, const char *digest,
			      const char *repo);
/* [{"Digest", "SourceRepository"}], oldest first, or NULL. Borrowed. */
const json_t *shoal_engine_blobs_of(struct shoal_engine *e, const char *diff_id);
/* The layer diff ID a blob digest was seen as, or NULL. */
const char *shoal_engine_diff_of_blob(struct shoal_engine *e, const char *digest);

/* ---- saving ---- */

/* Writes the images named (references or IDs) as one `docker save` tar into a new
 * temporary file; done gets its path (the caller streams then unlinks it). 404 for a
 * name that resolves to nothing. */
typedef void (*shoal_engine_save_cb)(void *ctx, const char *path, const struct shoal_err *err);
int shoal_engine_save(struct shoal_engine *e, const char *const *names, size_t nnames,
		      shoal_engine_save_cb done, void *ctx, struct shoal_err *err) SHOAL_MUST_CHECK;

#endif
