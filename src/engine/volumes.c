/* Volumes of the local driver, as dockerd keeps them: the files under
 * <data-root>/volumes/<name>/_data, the metadata (CreatedAt, Labels, Options) in
 * <name>/opts.json. Also a container's side of them: its mount points read from Binds,
 * Mounts and Config.Volumes (anonymous volumes), what inspect shows as "Mounts", which
 * containers hold a volume, and getting its volumes ready before a start (made when
 * missing, the image's files at the mount point copied into an empty one). The spec
 * turns the mounts into bind mounts (spec_mounts.c); lifecycle.c calls in at start and at
 * removal. File work goes through one queue on the thread pool, done in order, so that a
 * volume removed and made again never has its removal land after its creation. */
#include "engine/engine.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/internal.h"
#include "engine/spec.h"

#define SHOAL_LOG_MODULE "engine"

/* A tree deeper than this is not copied into a volume: each level holds two descriptors. */
#define COPY_MAX_DEPTH 128
#define OPTS_MAX       (64 * 1024)

/* ---- names and times ---- */

/* The local driver's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+, which also keeps a name from
 * walking out of the volumes root. */
int shoal_engine__volume_name_check(const char *name, struct shoal_err *err)
{
	size_t i, n = strlen(name);
	bool ok = n >= 2;

	if (n == 1)
		return shoal_errorf(
			err, 400,
			"create %s: volume name is too short, names should be at least two alphanumeric characters",
			name);
	for (i = 0; ok && i < n; i++) {
		char c = name[i];
		bool alnum =
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		ok = alnum || (i > 0 && (c == '_' || c == '.' || c == '-'));
	}
	if (!ok)
		return shoal_errorf(
			err, 400,
			"create %s: \"%s\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
			name, name);
	return 0;
}

static void random_name(char *out)
{
	unsigned char r[32];
	size_t i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		for (i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)rand();
	for (i = 0; i < sizeof(r); i++)
		sprintf(out + 2 * i, "%02x", r[i]);
	out[64] = '\0';
}

/* An anonymous volume's name is derived from its container and path rather than drawn at
 * random: the container's record then needs no list of them, and a start, an inspect and
 * an rm -v all find the same one. It looks like dockerd's (64 hex). */
static void anonymous_name(const char *id, const char *dest, char *out)
{
	char *key = shoal_asprintf("%s:%s", id, dest);
	char digest[72];

	shoal_sha256_digest(key, strlen(key), digest);
	free(key);
	snprintf(out, 65, "%s", digest + 7);
}

/* Go's time.RFC3339 in UTC, as `docker volume inspect` prints CreatedAt. */
static void format_time(int64_t ns, char *out, size_t size)
{
	time_t t = (time_t)(ns / 1000000000LL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *volume_dir(const struct shoal_engine *e, const char *name)
{
	return shoal_asprintf("%s/%s", e->volume_root, name);
}

static char *data_dir(const struct shoal_engine *e, const char *name)
{
	return shoal_asprintf("%s/%s/_data", e->volume_root, name);
}

/* ---- the ordered queue of file work ---- */

struct vop {
	struct shoal_list link;
	struct shoal_engine *e;
	void (*work)(void *arg); /* on the pool */
	void (*done)(void *arg); /* on the loop; frees arg */
	void *arg;
};

static void vq_next(struct shoal_engine *e);

static void vop_work(void *arg)
{
	struct vop *op = arg;

	op->work(op->arg);
}

static void vop_done(void *arg, int status)
{
	struct vop *op = arg;
	struct shoal_engine *e = op->e;

	(void)status; /* nothing cancels pool work here */
	e->volume_op_busy = false;
	op->done(op->arg);
	free(op);
	vq_next(e);
}

static void vq_next(struct shoal_engine *e)
{
	struct vop *op;

	if (e->volume_op_busy || shoal_list_empty(&e->volume_ops))
		return;
	op = shoal_list_entry(e->volume_ops.next, struct vop, link);
	shoal_list_del(&op->link);
	e->volume_op_busy = true;
	if (shoal_engine__pool(e, vop_work, vop_done, op) < 0) {
		/* uv_queue_work refuses only bad arguments: do it here rather than lose it */
		vop_work(op);
		vop_done(op, 0);
	}
}

static void vq_push(struct shoal_engine *e, void (*work)(void *arg), void (*done)(void *arg),
		    void *arg)
{
	struct vop *op = shoal_calloc(1, sizeof(*op));

	op->e = e;
	op->work = work;
	op->done = done;
	op->arg = arg;
	shoal_list_add_tail(&e->volume_ops, &op->link);
	vq_next(e);
}

struct sync_job {
	shoal_engine_volumes_ready_cb cb;
	void *ctx;
};

static void sync_work(void *arg)
{
	(void)arg;
}

static void sync_done(void *arg)
{
	struct sync_job *j = arg;

	j->cb(j->ctx, NULL);
	free(j);
}

void shoal_engine_volumes_sync(struct shoal_engine *e, shoal_engine_volumes_ready_cb cb, void *ctx)
{
	struct sync_job *j = shoal_calloc(1, sizeof(*j));

	j->cb = cb;
	j->ctx = ctx;
	vq_push(e, sync_work, sync_done, j);
}

/* ---- file work (any thread) ---- */

/* Makes <dir>/_data and, when missing (or always with overwrite), <dir>/opts.json. */
static int ensure_files(const char *dir, const char *opts_text, bool overwrite)
{
	char *data = shoal_asprintf("%s/_data", dir);
	char *opts = shoal_asprintf("%s/opts.json", dir);
	int rv;

	rv = shoal_engine__mkdirs(data, 0755);
	if (rv == 0 && (overwrite || access(opts, F_OK) < 0))
		rv = shoal_engine__write_file(opts, opts_text, strlen(opts_text));
	free(data);
	free(opts);
	return rv;
}

/* Bytes of the regular files under the directory fd (a file with several links counts
 * once per link): what a prune reports as reclaimed. */
static int64_t tree_size(int fd, int depth)
{
	int64_t total = 0;
	struct dirent *de;
	DIR *d;
	int dfd;

	if (depth > COPY_MAX_DEPTH)
		return 0;
	dfd = dup(fd);
	if (dfd < 0)
		return 0;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			total += st.st_size;
		} else if (S_ISDIR(st.st_mode)) {
			sub = openat(fd, de->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				continue;
			total += tree_size(sub, depth + 1);
			close(sub);
		}
	}
	closedir(d);
	return total;
}

static int set_attrs(int fd, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	/* chown first: it clears set-id bits that the chmod then puts back */
	if (fchown(fd, st->st_uid, st->st_gid) < 0 || fchmod(fd, st->st_mode & 07777) < 0 ||
	    futimens(fd, ts) < 0)
		return -errno;
	return 0;
}

static int copy_data(int from, int to)
{
	char *buf = NULL;
	ssize_t n;
	int rv = 0;

	for (;;) {
		n = copy_file_range(from, NULL, to, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n < 0)
			break;
	}
	if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -errno;
	/* a file system that cannot: copy through a buffer, from where the kernel stopped */
	buf = shoal_malloc(64 * 1024);
	while ((n = read(from, buf, 64 * 1024)) > 0) {
		char *p = buf;

		while (n > 0) {
			ssize_t w = write(to, p, (size_t)n);

			if (w < 0) {
				rv = -errno;
				goto out;
			}
			p += w;
			n -= w;
		}
	}
	if (n < 0)
		rv = -errno;
out:
	free(buf);
	return rv;
}

static int copy_dir(int from, int to, int depth, char *where, size_t size);

/* Copies one entry of the directory from into to: a file with its bytes, a directory with
 * its tree, a symbolic link as it reads, a device or fifo as a node; each with owner,
 * mode and times. Sockets are left out. */
static int copy_entry(int from, int to, const char *name, const struct stat *st, int depth,
		      char *where, size_t size)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	char target[PATH_MAX];
	int s = -1, t = -1, rv = 0;
	ssize_t n;

	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		if (mkdirat(to, name, 0700) < 0 && errno != EEXIST)
			goto fail;
		s = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s < 0)
			goto fail;
		t = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (t < 0)
			goto fail;
		rv = copy_dir(s, t, depth + 1, where, size);
		if (rv == 0)
			rv = set_attrs(t, st);
		break;
	case S_IFREG:
		s = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (s < 0)
			goto fail;
		t = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (t < 0)
			goto fail;
		rv = copy_data(s, t);
		if (rv == 0)
			rv = set_attrs(t, st);
		break;
	case S_IFLNK:
		n = readlinkat(from, name, target, sizeof(target) - 1);
		if (n < 0)
			goto fail;
		target[n] = '\0';
		if (symlinkat(target, to, name) < 0 ||
		    fchownat(to, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    utimensat(to, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
			goto fail;
		break;
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
		if (mknodat(to, name, st->st_mode, st->st_rdev) < 0 ||
		    fchownat(to, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(to, name, st->st_mode & 07777, 0) < 0 ||
		    utimensat(to, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
			goto fail;
		break;
	default:
		break;
	}
	goto out;
fail:
	rv = -errno;
out:
	if (rv < 0 && where[0] == '\0')
		snprintf(where, size, "%s", name);
	if (s >= 0)
		close(s);
	if (t >= 0)
		close(t);
	return rv;
}

static int copy_dir(int from, int to, int depth, char *where, size_t size)
{
	struct dirent *de;
	DIR *d;
	int dfd, rv = 0;

	if (depth > COPY_MAX_DEPTH)
		return -ELOOP;
	dfd = dup(from);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (d == NULL) {
		rv = -errno;
		close(dfd);
		return rv;
	}
	for (;;) {
		struct stat st;

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			rv = -errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(from, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rv = -errno;
			break;
		}
		rv = copy_entry(from, to, de->d_name, &st, depth, where, size);
		if (rv < 0)
			break;
	}
	closedir(d);
	return rv;
}

static bool dir_empty(int fd)
{
	struct dirent *de;
	bool empty = true;
	DIR *d;
	int dfd = dup(fd);

	if (dfd < 0)
		return false;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return false;
	}
	while (empty && (de = readdir(d)) != NULL)
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/* Opens path (absolute in the container) as a directory of the root file system at root,
 * symbolic links resolved inside root as the container would see them, so an image
 * cannot point the copy at the host's files. Returns the fd, or -errno. */
static int open_in_root(const char *root, const char *path)
{
	struct open_how how;
	int rfd, fd;

	while (*path == '/')
		path++;
	rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, rfd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) {
		/* before Linux 5.6: no symbolic link at all on the way */
		char *copy = shoal_strdup(path), *save = NULL, *part;
		int cur = dup(rfd);

		for (part = strtok_r(copy, "/", &save); part != NULL && cur >= 0;
		     part = strtok_r(NULL, "/", &save)) {
			int next =
				openat(cur, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			close(cur);
			cur = next;
		}
		free(copy);
		fd = cur;
	}
	if (fd < 0)
		fd = -errno;
	close(rfd);
	return fd;
}

/* ---- volume objects ---- */

static void volume_free(struct shoal_volume *v)
{
	free(v->name);
	json_decref(v->labels);
	json_decref(v->options);
	free(v);
}

static char *opts_text(const struct shoal_volume *v)
{
	char created[64];
	json_t *j;
	char *s;

	format_time(v->created_ns, created, sizeof(created));
	j = json_pack("{s:s, s:O, s:O}", "CreatedAt", created, "Labels", v->labels, "Options",
		      v->options);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

struct shoal_volume *shoal_engine_volume_find(struct shoal_engine *e, const char *name,
					      struct shoal_err *err)
{
	struct shoal_list *pos;

	shoal_list_foreach(pos, &e->volumes) {
		struct shoal_volume *v = shoal_list_entry(pos, struct shoal_volume, link);

		if (strcmp(v->name, name) == 0)
			return v;
	}
	shoal_errorf(err, 404, "get %s: no such volume", name);
	return NULL;
}

static void volume_event(struct shoal_engine *e, const char *action, const char *name,
			 json_t *attrs)
{
	if (e->event == NULL) {
		json_decref(attrs);
		return;
	}
	json_object_set_new(attrs, "driver", json_string("local"));
	e->event(e->event_ctx, "volume", action, name, attrs);
}

struct create_job {
	char *dir;
	char *opts;
	int result;
};

static void create_work(void *arg)
{
	struct create_job *j = arg;

	j->result = ensure_files(j->dir, j->opts, true);
}

static void create_done(void *arg)
{
	struct create_job *j = arg;

	if (j->result < 0)
		shoal_log_error("cannot create the volume's files", "path=%s error=%s",
				shoal_log_q(j->dir), strerror(-j->result));
	free(j->dir);
	free(j->opts);
	free(j);
}

/* A new volume in memory, its files queued. Takes labels and opts (JSON null when NULL). */
static struct shoal_volume *volume_add(struct shoal_engine *e, const char *name, json_t *labels,
				       json_t *opts)
{
	struct shoal_volume *v = shoal_calloc(1, sizeof(*v));
	struct create_job *j = shoal_calloc(1, sizeof(*j));

	v->name = shoal_strdup(name);
	v->labels = labels != NULL ? labels : json_null();
	v->options = opts != NULL ? opts : json_null();
	v->created_ns = shoal_time_now_ns();
	shoal_list_add_tail(&e->volumes, &v->link);
	j->dir = volume_dir(e, name);
	j->opts = opts_text(v);
	vq_push(e, create_work, create_done, j);
	volume_event(e, "create", name, json_object());
	shoal_log_info("volume created", "volume=%s", name);
	return v;
}

/* The local driver's DriverOpts: type, device and o go together; size needs quotas. */
static int check_opts(const char *name, const json_t *opts, struct shoal_err *err)
{
	static const char *const valid[] = { "type", "device", "o", "size" };
	const char *k;
	json_t *val;
	size_t i;

	json_object_foreach((json_t *)opts, k, val) {
		bool ok = false;

		for (i = 0; i < SHOAL_ARRAY_SIZE(valid); i++)
			ok = ok || strcmp(k, valid[i]) == 0;
		if (!ok)
			return shoal_errorf(err, 400, "create %s: invalid option: \"%s\"", name, k);
		if (!json_is_string(val))
			return shoal_errorf(err, 400, "create %s: option %s: not a string", name,
					    k);
	}
	if (json_object_get(opts, "size") != NULL)
		return shoal_errorf(err, 400,
				    "create %s: quota size requested but no quota support", name);
	if (json_object_get(opts, "device") != NULL && json_object_get(opts, "type") == NULL)
		return shoal_errorf(err, 400, "create %s: missing required option: \"type\"", name);
	if ((json_object_get(opts, "type") != NULL || json_object_get(opts, "o") != NULL) &&
	    json_object_get(opts, "device") == NULL)
		return shoal_errorf(err, 400, "create %s: missing required option: \"device\"",
				    name);
	if (json_object_get(opts, "o") != NULL && json_object_get(opts, "type") == NULL)
		return shoal_errorf(err, 400, "create %s: missing required option: \"type\"", name);
	return 0;
}

struct shoal_volume *shoal_engine_volume_create(struct shoal_engine *e, const char *name,
						const char *driver, const json_t *opts,
						const json_t *labels, struct shoal_err *err)
{
	struct shoal_volume *v;
	struct shoal_err ignored;
	const char *k;
	json_t *val;
	char anon[65];

	if (driver != NULL && driver[0] != '\0' && strcmp(driver, "local") != 0) {
		shoal_errorf(err, 404, "error looking up volume plugin %s: plugin \"%s\" not found",
			     driver, driver);
		return NULL;
	}
	if (name == NULL || name[0] == '\0') {
		random_name(anon);
		name = anon;
	}
	if (shoal_engine__volume_name_check(name, err) < 0)
		return NULL;
	v = shoal_engine_volume_find(e, name, &ignored);
	if (v != NULL)
		return v; /* dockerd's create is idempotent for the same driver */
	if (opts != NULL && !json_is_null(opts) && check_opts(name, opts, err) < 0)
		return NULL;
	json_object_foreach((json_t *)labels, k, val) {
		if (!json_is_string(val)) {
			shoal_errorf(err, 400, "create %s: label %s: not a string", name, k);
			return NULL;
		}
	}
	return volume_add(e, name, json_is_object(labels) ? json_deep_copy(labels) : NULL,
			  json_is_object(opts) ? json_deep_copy(opts) : NULL);
}

json_t *shoal_engine_volume_json(struct shoal_engine *e, const struct shoal_volume *v)
{
	char created[64];
	char *mp = data_dir(e, v->name);
	json_t *j;

	format_time(v->created_ns, created, sizeof(created));
	j = json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:s}", "CreatedAt", created, "Driver",
		      "local", "Labels", json_deep_copy(v->labels), "Mountpoint", mp, "Name",
		      v->name, "Options", json_deep_copy(v->options), "Scope", "local");
	free(mp);
	return j;
}

/* ---- a container's mount points ---- */

enum mp_type {
	MP_BIND,
	MP_VOLUME,
	MP_TMPFS,
};

struct mpoint {
	enum mp_type type;
	char *name; /* volume */
	char *src;  /* bind: the host path */
	char *dest; /* cleaned */
	char *mode; /* as Docker shows it: the Binds mode, "z" for a named volume */
	const char *propagation;
	bool rw, nocopy, anonymous;
	bool implicit; /* an anonymous volume for a Config.Volumes path */
};

struct mlist {
	struct mpoint *v;
	size_t n;
};

static struct mpoint *mlist_add(struct mlist *l)
{
	l->v = shoal_realloc(l->v, (l->n + 1) * sizeof(*l->v));
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	l->v[l->n].propagation = "";
	l->v[l->n].rw = true;
	return &l->v[l->n++];
}

static void mlist_fini(struct mlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].src);
		free(l->v[i].dest);
		free(l->v[i].mode);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool mlist_has(const struct mlist *l, const char *dest)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].dest, dest) == 0)
			return true;
	return false;
}

static const char *const propagations[] = {
	"private", "rprivate", "slave", "rslave", "shared", "rshared",
};

/* The words of a Binds mode ("ro,nocopy", "rw,rslave"). */
static void read_mode(struct mpoint *m, const char *mode)
{
	char *copy = shoal_strdup(mode), *save = NULL, *w;
	size_t i;

	for (w = strtok_r(copy, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
		if (strcmp(w, "ro") == 0)
			m->rw = false;
		else if (strcmp(w, "nocopy") == 0)
			m->nocopy = true;
		for (i = 0; i < SHOAL_ARRAY_SIZE(propagations); i++)
			if (strcmp(w, propagations[i]) == 0)
				m->propagation = propagations[i];
	}
	free(copy);
}

/* One Binds entry, "src:dst[:mode]", as create already checked it. */
static void read_bind(struct mlist *l, const char *raw)
{
	const char *c1 = strchr(raw, ':');
	const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	char *dst;
	struct mpoint *m;

	if (c1 == NULL || c1 == raw)
		return; /* a bare path: refused at create */
	dst = c2 != NULL ? shoal_strndup(c1 + 1, (size_t)(c2 - c1 - 1)) : shoal_strdup(c1 + 1);
	m = mlist_add(l);
	m->dest = shoal_spec__clean_path(dst);
	free(dst);
	m->mode = shoal_strdup(c2 != NULL ? c2 + 1 : "");
	read_mode(m, m->mode);
	if (raw[0] == '/') {
		char *src = shoal_strndup(raw, (size_t)(c1 - raw));

		m->type = MP_BIND;
		m->src = shoal_spec__clean_path(src);
		free(src);
		if (m->propagation[0] == '\0')
			m->propagation = "rprivate";
		return;
	}
	m->type = MP_VOLUME;
	m->name = shoal_strndup(raw, (size_t)(c1 - raw));
	m->propagation = "";
	/* dockerd's setBindModeIfNull for the local driver */
	if (m->mode[0] == '\0') {
		free(m->mode);
		m->mode = shoal_strdup("z");
	}
}

/* One Mounts item. */
static void read_mount(struct mlist *l, const char *id, const json_t *item)
{
	const char *type = json_string_value(json_object_get(item, "Type"));
	const char *src = json_string_value(json_object_get(item, "Source"));
	const char *target = json_string_value(json_object_get(item, "Target"));
	const char *prop = json_string_value(
		json_object_get(json_object_get(item, "BindOptions"), "Propagation"));
	struct mpoint *m;
	size_t i;

	if (type == NULL || target == NULL)
		return;
	m = mlist_add(l);
	m->dest = shoal_spec__clean_path(target);
	m->rw = !json_is_true(json_object_get(item, "ReadOnly"));
	m->mode = shoal_strdup("");
	if (strcmp(type, "bind") == 0) {
		m->type = MP_BIND;
		m->src = shoal_spec__clean_path(src != NULL ? src : "");
		m->propagation = "rprivate";
		for (i = 0; prop != NULL && i < SHOAL_ARRAY_SIZE(propagations); i++)
			if (strcmp(prop, propagations[i]) == 0)
				m->propagation = propagations[i];
	} else if (strcmp(type, "volume") == 0) {
		m->type = MP_VOLUME;
		m->nocopy = json_is_true(
			json_object_get(json_object_get(item, "VolumeOptions"), "NoCopy"));
		if (src == NULL || src[0] == '\0') {
			char anon[65];

			anonymous_name(id, m->dest, anon);
			m->name = shoal_strdup(anon);
			m->anonymous = true;
		} else {
			m->name = shoal_strdup(src);
			free(m->mode);
			m->mode = shoal_strdup("z");
		}
	} else {
		m->type = MP_TMPFS;
	}
}

/* c's mount points as dockerd registers them: Binds, Mounts, then an anonymous volume for
 * each Config.Volumes path that neither they nor Tmpfs cover. */
static void mounts_of(const struct shoal_container *c, struct mlist *l)
{
	json_t *hc = c->host_config;
	json_t *tmpfs = json_object_get(hc, "Tmpfs");
	const char *k;
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(hc, "Binds"), i, v) {
		if (json_is_string(v))
			read_bind(l, json_string_value(v));
	}
	json_array_foreach(json_object_get(hc, "Mounts"), i, v)
		read_mount(l, c->id, v);
	json_object_foreach(json_object_get(c->config, "Volumes"), k, v) {
		char *dest = shoal_spec__clean_path(k);
		bool covered = dest[0] != '/' || strcmp(dest, "/") == 0 || mlist_has(l, dest) ||
			       strchr(dest, ':') != NULL;
		const char *t;
		json_t *tv;
		char anon[65];
		struct mpoint *m;

		json_object_foreach(tmpfs, t, tv) {
			char *td = shoal_spec__clean_path(t);

			covered = covered || strcmp(td, dest) == 0;
			free(td);
		}
		if (covered) {
			free(dest);
			continue;
		}
		m = mlist_add(l);
		m->type = MP_VOLUME;
		m->dest = dest;
		anonymous_name(c->id, dest, anon);
		m->name = shoal_strdup(anon);
		m->mode = shoal_strdup("");
		m->anonymous = true;
		m->implicit = true;
	}
}

static bool container_uses(const struct shoal_container *c, const char *name)
{
	struct mlist l = { 0 };
	bool found = false;
	size_t i;

	mounts_of(c, &l);
	for (i = 0; i < l.n && !found; i++)
		found = l.v[i].type == MP_VOLUME && strcmp(l.v[i].name, name) == 0;
	mlist_fini(&l);
	return found;
}

json_t *shoal_engine_volume_users(struct shoal_engine *e, const char *name)
{
	json_t *ids = json_array();
	struct shoal_list *pos;

	shoal_list_foreach(pos, &e->containers) {
		struct shoal_container *c = shoal_list_entry(pos, struct shoal_container, link);

		if (container_uses(c, name))
			json_array_append_new(ids, json_string(c->id));
	}
	return ids;
}

json_t *shoal_engine_container_mounts_json(struct shoal_container *c)
{
	struct mlist l = { 0 };
	json_t *out = json_array();
	size_t i;

	mounts_of(c, &l);
	for (i = 0; i < l.n; i++) {
		const struct mpoint *m = &l.v[i];
		char *src;

		switch (m->type) {
		case MP_BIND:
			json_array_append_new(out,
					      json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type",
							"bind", "Source", m->src, "Destination",
							m->dest, "Mode", m->mode, "RW", m->rw,
							"Propagation", m->propagation));
			break;
		case MP_VOLUME:
			src = data_dir(c->e, m->name);
			json_array_append_new(
				out, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "Type",
					       "volume", "Name", m->name, "Source", src,
					       "Destination", m->dest, "Driver", "local", "Mode",
					       m->mode, "RW", m->rw, "Propagation", ""));
			free(src);
			break;
		case MP_TMPFS:
			json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}",
							     "Type", "tmpfs", "Source", "",
							     "Destination", m->dest, "Mode", "",
							     "RW", m->rw, "Propagation", ""));
			break;
		}
	}
	mlist_fini(&l);
	return out;
}

void shoal_engine_container_volumes_create(struct shoal_container *c)
{
	struct shoal_engine *e = c->e;
	struct mlist l = { 0 };
	struct shoal_err err;
	size_t i;

	mounts_of(c, &l);
	for (i = 0; i < l.n; i++) {
		if (l.v[i].type != MP_VOLUME || shoal_engine_volume_find(e, l.v[i].name, &err))
			continue;
		volume_add(e, l.v[i].name, NULL, NULL);
	}
	mlist_fini(&l);
}

json_t *shoal_engine_container_volumes_host_config(struct shoal_container *c)
{
	struct mlist l = { 0 };
	json_t *hc = NULL, *binds = NULL;
	size_t i;

	mounts_of(c, &l);
	for (i = 0; i < l.n; i++) {
		const struct mpoint *m = &l.v[i];

		if (!m->implicit)
			continue;
		if (hc == NULL) {
			hc = json_deep_copy(c->host_config);
			binds = json_object_get(hc, "Binds");
			if (!json_is_array(binds)) {
				binds = json_array();
				json_object_set_new(hc, "Binds", binds);
			}
		}
		json_array_append_new(binds, json_sprintf("%s:%s", m->name, m->dest));
	}
	mlist_fini(&l);
	return hc != NULL ? hc : json_incref(c->host_config);
}

/* ---- removal ---- */

struct remove_job {
	struct shoal_engine *e;
	char **dirs;
	size_t n;
	bool measure;
	int64_t reclaimed;
	json_t *deleted; /* names; loop only */
	shoal_engine_volumes_removed_cb done;
	void *ctx;
};

static void remove_work(void *arg)
{
	struct remove_job *j = arg;
	size_t i;
	int rv;

	for (i = 0; i < j->n; i++) {
		if (j->measure) {
			char *data = shoal_asprintf("%s/_data", j->dirs[i]);
			int fd = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (fd >= 0) {
				j->reclaimed += tree_size(fd, 0);
				close(fd);
			}
			free(data);
		}
		rv = shoal_rmtree(j->dirs[i]);
		if (rv < 0 && rv != -ENOENT)
			shoal_log_error("cannot remove the volume's files", "path=%s error=%s",
					shoal_log_q(j->dirs[i]), strerror(-rv));
	}
}

static void remove_done(void *arg)
{
	struct remove_job *j = arg;
	size_t i;

	if (j->done != NULL)
		j->done(j->ctx, j->deleted, j->reclaimed);
	for (i = 0; i < j->n; i++)
		free(j->dirs[i]);
	free(j->dirs);
	json_decref(j->deleted);
	free(j);
}

/* Forgets v and queues its files' removal in j. */
static void volume_drop(struct shoal_engine *e, struct shoal_volume *v, struct remove_job *j)
{
	j->dirs = shoal_realloc(j->dirs, (j->n + 1) * sizeof(*j->dirs));
	j->dirs[j->n++] = volume_dir(e, v->name);
	json_array_append_new(j->deleted, json_string(v->name));
	shoal_list_del(&v->link);
	volume_event(e, "destroy", v->name, json_object());
	shoal_log_info("volume removed", "volume=%s", v->name);
	volume_free(v);
}

static struct remove_job *remove_job_new(struct shoal_engine *e, bool measure,
					 shoal_engine_volumes_removed_cb done, void *ctx)
{
	struct remove_job *j = shoal_calloc(1, sizeof(*j));

	j->e = e;
	j->measure = measure;
	j->deleted = json_array();
	j->done = done;
	j->ctx = ctx;
	return j;
}

int shoal_engine_volumes_remove(struct shoal_engine *e, const char *const *names, size_t n,
				bool force, bool measure, shoal_engine_volumes_removed_cb done,
				void *ctx, struct shoal_err *err)
{
	struct shoal_volume **found;
	struct remove_job *j;
	size_t i;

	for (i = 0; i < n; i++) {
		struct shoal_err nf;
		json_t *users;

		if (shoal_engine_volume_find(e, names[i], &nf) == NULL) {
			if (force)
				continue;
			*err = nf;
			return -1;
		}
		users = shoal_engine_volume_users(e, names[i]);
		if (json_array_size(users) > 0) {
			struct shoal_buf b;
			json_t *id;
			size_t k;

			shoal_buf_init(&b);
			json_array_foreach(users, k, id)
				shoal_buf_addf(&b, "%s%s", k > 0 ? ", " : "",
					       json_string_value(id));
			shoal_errorf(err, 409, "remove %s: volume is in use - [%s]", names[i],
				     b.data);
			shoal_buf_fini(&b);
			json_decref(users);
			return -1;
		}
		json_decref(users);
	}
	/* found first, dropped after: names may be the volumes' own strings */
	found = shoal_calloc(n + 1, sizeof(*found));
	for (i = 0; i < n; i++) {
		struct shoal_err nf;

		found[i] = shoal_engine_volume_find(e, names[i], &nf);
	}
	j = remove_job_new(e, measure, done, ctx);
	for (i = 0; i < n; i++) {
		size_t k;
		bool dup = false;

		for (k = 0; k < i; k++)
			dup = dup || found[k] == found[i];
		if (found[i] != NULL && !dup)
			volume_drop(e, found[i], j);
	}
	free(found);
	vq_push(e, remove_work, remove_done, j);
	return 0;
}

void shoal_engine_container_volumes_remove(struct shoal_container *c)
{
	struct shoal_engine *e = c->e;
	struct remove_job *j = NULL;
	struct mlist l = { 0 };
	size_t i;

	mounts_of(c, &l);
	for (i = 0; i < l.n; i++) {
		struct shoal_volume *v;
		struct shoal_err err;
		json_t *users;

		/* dockerd's rm -v keeps named volumes, and ones another container holds */
		if (l.v[i].type != MP_VOLUME || !l.v[i].anonymous)
			continue;
		v = shoal_engine_volume_find(e, l.v[i].name, &err);
		if (v == NULL)
			continue;
		users = shoal_engine_volume_users(e, v->name);
		if (json_array_size(users) == 0) {
			if (j == NULL)
				j = remove_job_new(e, false, NULL, NULL);
			volume_drop(e, v, j);
		}
		json_decref(users);
	}
	mlist_fini(&l);
	if (j != NULL)
		vq_push(e, remove_work, remove_done, j);
}

/* ---- before a start ---- */

struct prep_item {
	char *name;
	char *dir;  /* <volume_root>/<name> */
	char *opts; /* opts.json, written when missing */
	char *dest; /* the mount point; NULL: nothing to copy (nocopy) */
	bool rw;
	char *event_dest;
};

struct prep_job {
	struct shoal_container *c; /* starting: not removed while the job runs */
	char *rootfs;
	struct prep_item *items;
	size_t n;
	shoal_engine_volumes_ready_cb done;
	void *ctx;
	int result;
	char msg[512];
};

/* The image's files at dest into the volume's empty _data, with the mount point's owner
 * and mode, as dockerd's copyExistingContents. */
static int populate(struct prep_job *j, const struct prep_item *it)
{
	char *data = shoal_asprintf("%s/_data", it->dir);
	char where[256] = "";
	struct stat st;
	int from = -1, to = -1, rv = 0;

	from = open_in_root(j->rootfs, it->dest);
	if (from < 0) {
		/* nothing there in the image (or not a directory): nothing to copy */
		goto out;
	}
	to = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (to < 0) {
		rv = -errno;
		snprintf(j->msg, sizeof(j->msg), "open %s: %s", data, strerror(errno));
		goto out;
	}
	if (!dir_empty(to))
		goto out;
	rv = copy_dir(from, to, 0, where, sizeof(where));
	if (rv == 0 && fstat(from, &st) == 0)
		rv = set_attrs(to, &st);
	if (rv < 0)
		snprintf(j->msg, sizeof(j->msg), "copy %s%s%s into volume %s: %s", it->dest,
			 where[0] ? "/.../" : "", where, it->name, strerror(-rv));
out:
	if (from >= 0)
		close(from);
	if (to >= 0)
		close(to);
	free(data);
	return rv;
}

static void prep_work(void *arg)
{
	struct prep_job *j = arg;
	size_t i;
	int rv;

	for (i = 0; i < j->n; i++) {
		const struct prep_item *it = &j->items[i];

		rv = ensure_files(it->dir, it->opts, false);
		if (rv < 0) {
			j->result = rv;
			snprintf(j->msg, sizeof(j->msg), "create volume %s: %s", it->name,
				 strerror(-rv));
			return;
		}
		if (it->dest != NULL) {
			rv = populate(j, it);
			if (rv < 0) {
				j->result = rv;
				return;
			}
		}
	}
}

static void prep_free(struct prep_job *j)
{
	size_t i;

	for (i = 0; i < j->n; i++) {
		free(j->items[i].name);
		free(j->items[i].dir);
		free(j->items[i].opts);
		free(j->items[i].dest);
		free(j->items[i].event_dest);
	}
	free(j->items);
	free(j->rootfs);
	free(j);
}

static void prep_done(void *arg)
{
	struct prep_job *j = arg;
	struct shoal_container *c = j->c;
	struct shoal_err err;
	size_t i;

	if (j->result < 0) {
		shoal_errorf_sys(&err, 500, j->result, "%s", j->msg);
		j->done(j->ctx, &err);
		prep_free(j);
		return;
	}
	for (i = 0; i < j->n; i++) {
		const struct prep_item *it = &j->items[i];

		volume_event(c->e, "mount", it->name,
			     json_pack("{s:s, s:s, s:s, s:s}", "container", c->id, "destination",
				       it->event_dest, "propagation", "", "read/write",
				       it->rw ? "true" : "false"));
	}
	j->done(j->ctx, NULL);
	prep_free(j);
}

static void pool_prep_done(void *arg, int status)
{
	(void)status;
	prep_done(arg);
}

static void nothing(void *arg)
{
	(void)arg;
}

int shoal_engine_container_volumes_prepare(struct shoal_container *c,
					   shoal_engine_volumes_ready_cb done, void *ctx,
					   struct shoal_err *err)
{
	struct shoal_engine *e = c->e;
	struct prep_job *j;
	struct mlist l = { 0 };
	size_t i;
	int rv = -1;

	j = shoal_calloc(1, sizeof(*j));
	j->c = c;
	j->done = done;
	j->ctx = ctx;
	j->rootfs = shoal_asprintf("%s/%s/merged", e->layer_root, c->layer_id);
	mounts_of(c, &l);
	for (i = 0; i < l.n; i++) {
		const struct mpoint *m = &l.v[i];
		struct shoal_err nf;
		struct shoal_volume *v;
		struct prep_item *it;

		if (m->type != MP_VOLUME)
			continue;
		v = shoal_engine_volume_find(e, m->name, &nf);
		if (v == NULL)
			v = volume_add(e, m->name, NULL, NULL);
		if (json_object_size(v->options) > 0) {
			/* mounting a device or tmpfs for the volume is not done here */
			char *dir = data_dir(e, v->name);

			shoal_errorf(
				err, 500,
				"error while mounting volume '%s': volumes with driver options (type, device, o) are not supported",
				dir);
			free(dir);
			goto out;
		}
		j->items = shoal_realloc(j->items, (j->n + 1) * sizeof(*j->items));
		it = &j->items[j->n++];
		memset(it, 0, sizeof(*it));
		it->name = shoal_strdup(v->name);
		it->dir = volume_dir(e, v->name);
		it->opts = opts_text(v);
		it->dest = m->nocopy ? NULL : shoal_strdup(m->dest);
		it->event_dest = shoal_strdup(m->dest);
		it->rw = m->rw;
	}
	if (j->n == 0) {
		/* no volume: still answered after the call returns, off the volume queue */
		if (shoal_engine__pool(e, nothing, pool_prep_done, j) < 0) {
			shoal_errorf(err, 500, "cannot queue the volumes' preparation");
			goto out;
		}
	} else {
		vq_push(e, prep_work, prep_done, j);
	}
	j = NULL;
	rv = 0;
out:
	if (j != NULL)
		prep_free(j);
	mlist_fini(&l);
	return rv;
}

/* ---- startup and shutdown ---- */

static struct shoal_volume *volume_load(struct shoal_engine *e, const char *name)
{
	char *dir = volume_dir(e, name);
	char *path = shoal_asprintf("%s/opts.json", dir);
	char *text = shoal_engine__read_file(path, OPTS_MAX, NULL);
	json_t *j = text != NULL ? json_loads(text, 0, NULL) : NULL;
	struct shoal_volume *v = shoal_calloc(1, sizeof(*v));
	const char *created = json_string_value(json_object_get(j, "CreatedAt"));
	json_t *labels = json_object_get(j, "Labels");
	json_t *opts = json_object_get(j, "Options");
	struct stat st;

	v->name = shoal_strdup(name);
	v->labels = json_is_object(labels) ? json_incref(labels) : json_null();
	v->options = json_is_object(opts) ? json_incref(opts) : json_null();
	if (created == NULL || shoal_time_parse(created, &v->created_ns) < 0) {
		/* no record of ours: the directory's age, as the local driver tells it */
		v->created_ns = stat(dir, &st) == 0 ? (int64_t)st.st_mtime * 1000000000LL :
						      shoal_time_now_ns();
	}
	json_decref(j);
	free(text);
	free(path);
	free(dir);
	return v;
}

int shoal_engine_volumes_init(struct shoal_engine *e, struct shoal_err *err)
{
	struct shoal_err bad;
	struct dirent *de;
	DIR *d;
	int rv;

	shoal_list_init(&e->volumes);
	shoal_list_init(&e->volume_ops);
	e->volume_op_busy = false;
	e->volume_root = shoal_asprintf("%s/volumes", e->root);
	/* only root lists the volumes; a container reaches its own through the bind mount */
	rv = shoal_engine__mkdirs(e->volume_root, 0701);
	if (rv < 0)
		return shoal_errorf_sys(err, 500, -rv, "create %s: %s", e->volume_root,
					strerror(-rv));
	d = opendir(e->volume_root);
	if (d == NULL)
		return shoal_errorf_sys(err, 500, errno, "open %s: %s", e->volume_root,
					strerror(errno));
	while ((de = readdir(d)) != NULL) {
		struct shoal_volume *v;

		if (de->d_name[0] == '.' || shoal_engine__volume_name_check(de->d_name, &bad) < 0)
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		v = volume_load(e, de->d_name);
		shoal_list_add_tail(&e->volumes, &v->link);
	}
	closedir(d);
	return 0;
}

void shoal_engine_volumes_fini(struct shoal_engine *e)
{
	struct shoal_list *pos, *tmp;

	if (e->volume_root == NULL)
		return;
	/* the loop has run dry: every queued operation has completed */
	assert(shoal_list_empty(&e->volume_ops));
	shoal_list_foreach_safe(pos, tmp, &e->volumes) {
		struct shoal_volume *v = shoal_list_entry(pos, struct shoal_volume, link);

		shoal_list_del(&v->link);
		volume_free(v);
	}
	free(e->volume_root);
	e->volume_root = NULL;
}
