/* The shim process: it becomes a child subreaper, creates and starts the container with
 * runc (the container's init is reparented to it when `runc create` exits, so it reaps
 * it and learns the exit status), copies the container's output to the json-file log and
 * to attached clients, and serves its unix socket: state, kill, pause, resize, attach,
 * exec, delete and the exit event. It never blocks: one poll() loop, non-blocking
 * descriptors, bounded queues (a client that stops reading is dropped; the log keeps
 * being written). The exit status is also written to the state directory, for a daemon
 * that comes back after the shim is gone. What the daemon makes of it all is
 * src/engine/shim.c's. */
#include "shim/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "shim"

#define CLIENTS_MAX 64
#define EXECS_MAX   32
/* Output queued for one client before it counts as not reading and is dropped. */
#define CLIENT_OUT_MAX (1024 * 1024)
/* Input queued for a stdin; past it, the clients feeding it are not read. */
#define STDIN_MAX	(1024 * 1024)
#define RUNC_TIMEOUT_MS 120000
/* After an exit, output still held by processes that kept the stdio open (a daemon
 * started in the background) is waited for this long. */
#define DRAIN_MS 2000
/* After delete, clients get this long to take their last messages. */
#define EXIT_GRACE_MS 2000
#define ORPHANS_MAX   16

enum cstate {
	C_CREATING, /* runc create */
	C_STARTING, /* runc start */
	C_RUNNING,
	C_EXITED,   /* init reaped; output still draining */
	C_STOPPED,  /* exit told */
	C_DELETING, /* runc delete */
	C_GONE,	    /* deleted, or never started: the shim ends */
};

enum mode {
	CL_NEW, /* until HELLO */
	CL_CONTROL,
	CL_ATTACH,
	CL_EXEC,
};

struct shim;

struct client {
	struct shoal_list link;
	struct shim *sh;
	uint64_t cid; /* replies find their client by it: it may be gone by then */
	int fd;
	struct shoal_shim__watch w;
	struct shoal_buf in, out;
	size_t out_off;
	enum mode mode;
	uint32_t attach; /* SHOAL_SHIM_ATTACH_ flags */
	bool subscribed;
	bool closing; /* reads no more; closed once out is written */
	bool dead;
	struct exec *exec;
	struct shoal_shim__defer defer;
};

struct exec {
	struct shoal_list link;
	struct shim *sh;
	struct client *client; /* NULL once it left: the process runs on, unheard */
	unsigned seq;
	bool tty, want_stdin;
	struct shoal_shim__io io;
	pid_t pid;
	bool exited;
	int exit_code;
	char *process_path, *pid_path;
	struct shoal_shim__timer drain;
	struct shoal_shim__defer defer;
};

/* Where a runc job's result goes. */
struct reply {
	struct shim *sh;
	uint64_t cid;
	uint32_t req;
	int arg;
};

struct shim {
	char *id, *bundle, *dir, *runtime, *root, *log_path;
	int64_t log_max_size;
	int log_max_files;
	bool tty, open_stdin;

	struct shoal_shim__loop loop;
	struct shoal_shim__runc rc;
	int start_fd; /* fd 3 until the start result is written */
	int listen_fd;
	struct shoal_shim__watch listen_w;
	int sig_fd;
	struct shoal_shim__watch sig_w;
	struct shoal_shim_log *log;
	bool log_failing; /* its error was logged; said again once it recovers */
	char *rbuf;

	enum cstate state;
	pid_t pid;
	bool init_exited, paused, oom, busy;
	int exit_code;
	int64_t started_ns, finished_ns;
	char *oom_path;
	struct shoal_shim__io io;
	struct shoal_shim__timer drain;

	struct shoal_list clients, execs;
	uint64_t next_cid;
	unsigned nclients, nexecs, exec_seq;
	struct {
		pid_t pid;
		int status;
	} orphans[ORPHANS_MAX];
	unsigned norphans;
	struct shoal_shim__timer exit_timer;
	bool exiting;
};

static void client_send(struct client *c, const struct shoal_shim_msg *m);
static void client_drop(struct client *c);
static void container_check(struct shim *sh);
static void exec_exit(struct exec *e, int status);
static void exec_finish(struct exec *e, int code);
static void begin_exit(struct shim *sh);

/* ---- small helpers ---- */

static int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* Reads a small file whole into buf (NUL-terminated); -1 on error. */
static int read_small(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (len + 1 < size) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes path through a temporary file and a rename, so a reader sees all or nothing. */
static int write_file_atomic(const char *path, const char *data, size_t len)
{
	char *tmp = shoal_asprintf("%s.tmp", path);
	int fd, rv = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	if (write_all(fd, data, len) < 0) {
		close(fd);
		goto out;
	}
	close(fd);
	rv = rename(tmp, path);
out:
	if (rv < 0)
		unlink(tmp);
	free(tmp);
	return rv;
}

static pid_t read_pid_file(const char *path)
{
	char buf[32];
	long v;
	char *end;

	if (read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	v = strtol(buf, &end, 10);
	if (end == buf || v <= 0 || v > INT_MAX)
		return -1;
	return (pid_t)v;
}

/* Docker answers a missing or unusable executable with 400 (exit code 127 or 126);
 * anything else the runtime refuses is its fault, 500. */
static int start_error_status(const char *msg)
{
	if (strstr(msg, "executable file not found") != NULL ||
	    strstr(msg, "no such file or directory") != NULL ||
	    strstr(msg, "permission denied") != NULL)
		return 400;
	return 500;
}

static int exec_error_code(const char *msg)
{
	if (strstr(msg, "executable file not found") != NULL ||
	    strstr(msg, "no such file or directory") != NULL)
		return 127;
	return 126;
}

/* ---- orphans: children reaped before we knew their pid ---- */

static void orphan_add(struct shim *sh, pid_t pid, int status)
{
	if (sh->norphans == ORPHANS_MAX) {
		memmove(&sh->orphans[0], &sh->orphans[1],
			(ORPHANS_MAX - 1) * sizeof(sh->orphans[0]));
		sh->norphans--;
	}
	sh->orphans[sh->norphans].pid = pid;
	sh->orphans[sh->norphans].status = status;
	sh->norphans++;
}

static bool orphan_take(struct shim *sh, pid_t pid, int *status)
{
	unsigned i;

	for (i = 0; i < sh->norphans; i++) {
		if (sh->orphans[i].pid != pid)
			continue;
		*status = sh->orphans[i].status;
		memmove(&sh->orphans[i], &sh->orphans[i + 1],
			(sh->norphans - i - 1) * sizeof(sh->orphans[0]));
		sh->norphans--;
		return true;
	}
	return false;
}

/* ---- clients ---- */

static struct client *client_find(struct shim *sh, uint64_t cid)
{
	struct shoal_list *pos;

	shoal_list_foreach(pos, &sh->clients) {
		struct client *c = shoal_list_entry(pos, struct client, link);

		if (c->cid == cid)
			return c->dead ? NULL : c;
	}
	return NULL;
}

static void client_free(struct shoal_shim__defer *d)
{
	struct client *c = container_of(d, struct client, defer);

	shoal_buf_fini(&c->in);
	shoal_buf_fini(&c->out);
	free(c);
}

static void client_drop(struct client *c)
{
	struct shim *sh = c->sh;

	if (c->dead)
		return;
	c->dead = true;
	shoal_shim__watch_stop(&c->w);
	close(c->fd);
	c->fd = -1;
	shoal_list_del(&c->link);
	sh->nclients--;
	if (c->exec != NULL) {
		/* as containerd: a client that leaves takes the exec's stdin with it */
		c->exec->client = NULL;
		shoal_shim__io_close_stdin(&c->exec->io);
		c->exec = NULL;
	}
	shoal_shim__defer(&sh->loop, &c->defer, client_free);
}

static void client_send(struct client *c, const struct shoal_shim_msg *m)
{
	if (c->dead)
		return;
	if (c->out_off > 0 && c->out_off * 2 >= c->out.len) {
		shoal_buf_consume(&c->out, c->out_off);
		c->out_off = 0;
	}
	shoal_shim_msg_encode(&c->out, m);
	if (c->out.len - c->out_off > CLIENT_OUT_MAX) {
		shoal_log_warn("client dropped: not reading its output", "queued=%zu",
			       c->out.len - c->out_off);
		client_drop(c);
	}
}

/* Refuses what the client sent: says why, then closes. */
static void client_refuse(struct client *c, int status, const char *msg)
{
	struct shoal_shim_msg m = { .type = SHOAL_SHIM_MSG_ERROR, .a = status };

	m.data = msg;
	m.len = strlen(msg);
	shoal_log_debug("client refused", "error=%s", shoal_log_q(msg));
	client_send(c, &m);
	c->closing = true;
}

static void client_end(struct client *c, int code)
{
	struct shoal_shim_msg m = { .type = SHOAL_SHIM_MSG_END, .a = code };

	if (c->closing)
		return;
	client_send(c, &m);
	c->closing = true;
}

static void client_output(struct client *c, int stream, const char *data, size_t len)
{
	struct shoal_shim_msg m = { .type = SHOAL_SHIM_MSG_OUTPUT, .a = stream };

	if (c->closing)
		return;
	m.data = data;
	m.len = len;
	client_send(c, &m);
}

static void send_result(struct shim *sh, uint64_t cid, uint32_t req, int status, const char *msg)
{
	struct shoal_shim_msg m = { .type = SHOAL_SHIM_MSG_RESULT, .req = req, .a = status };
	struct client *c = client_find(sh, cid);

	if (c == NULL)
		return;
	m.data = msg;
	m.len = msg != NULL ? strlen(msg) : 0;
	client_send(c, &m);
}

static struct reply *reply_new(struct client *c, uint32_t req, int arg)
{
	struct reply *r = shoal_malloc(sizeof(*r));

	r->sh = c->sh;
	r->cid = c->cid;
	r->req = req;
	r->arg = arg;
	return r;
}

/* ---- the container ---- */

static bool alive(const struct shim *sh)
{
	return sh->state == C_RUNNING && !sh->init_exited;
}

static void status_of(const struct shim *sh, struct shoal_shim_status *st)
{
	memset(st, 0, sizeof(*st));
	st->pid = sh->init_exited ? 0 : (int32_t)sh->pid;
	if (alive(sh))
		st->flags |= SHOAL_SHIM_ST_RUNNING;
	if (alive(sh) && sh->paused)
		st->flags |= SHOAL_SHIM_ST_PAUSED;
	if (sh->oom)
		st->flags |= SHOAL_SHIM_ST_OOM;
	st->started_ns = sh->started_ns;
	if (sh->init_exited) {
		st->exit_code = sh->exit_code;
		st->finished_ns = sh->finished_ns;
	}
}

/* Where the memory cgroup counts OOM kills: v1 memory.oom_control, v2 memory.events. */
static void oom_find(struct shim *sh)
{
	char path[64], buf[4096], *line, *next, *c1, *c2;
	char *v2 = NULL;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)sh->pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return;
	for (line = buf; line != NULL && *line; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		c1 = strchr(line, ':');
		c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c2 = '\0';
		if (strcmp(c1 + 1, "") == 0 && strncmp(line, "0:", 2) == 0) {
			v2 = c2 + 1;
			continue;
		}
		/* "4:memory:/path", or memory among a comma list */
		if (strcmp(c1 + 1, "memory") == 0 || strstr(c1 + 1, ",memory") != NULL ||
		    strstr(c1 + 1, "memory,") != NULL) {
			sh->oom_path = shoal_asprintf("/sys/fs/cgroup/memory%s/memory.oom_control",
						      c2 + 1);
			return;
		}
	}
	if (v2 != NULL)
		sh->oom_path = shoal_asprintf("/sys/fs/cgroup%s/memory.events", v2);
}

static bool oom_read(struct shim *sh)
{
	char buf[1024], *p;

	if (sh->oom_path == NULL || read_small(sh->oom_path, buf, sizeof(buf)) < 0)
		return false;
	p = strstr(buf, "oom_kill ");
	return p != NULL && strtoll(p + 9, NULL, 10) > 0;
}

static void write_exit_file(struct shim *sh)
{
	struct shoal_shim_status st;
	struct shoal_buf b;

	status_of(sh, &st);
	shoal_buf_init(&b);
	shoal_shim_status_format(&b, &st);
	if (write_file_atomic(SHOAL_SHIM_EXIT_NAME, b.data, b.len) < 0)
		shoal_log_error("cannot record the exit status", "error=%s",
				shoal_log_q(strerror(errno)));
	shoal_buf_fini(&b);
}

/* Tells the daemon how the start went, once, on fd 3. */
static void report_start(struct shim *sh, const struct shoal_err *err)
{
	struct shoal_shim_msg m = { 0 };
	struct shoal_buf b;

	if (sh->start_fd < 0)
		return;
	if (err != NULL) {
		m.type = SHOAL_SHIM_MSG_ERROR;
		m.a = err->status;
		m.data = err->msg;
		m.len = strlen(err->msg);
	} else {
		m.type = SHOAL_SHIM_MSG_STARTED;
		status_of(sh, &m.st);
		/* started means running, even if init has already been reaped: its exit
		 * is told next, as an exit */
		m.st.pid = (int32_t)sh->pid;
		m.st.flags |= SHOAL_SHIM_ST_RUNNING;
		m.st.exit_code = 0;
		m.st.finished_ns = 0;
	}
	shoal_buf_init(&b);
	shoal_shim_msg_encode(&b, &m);
	/* a few bytes into an empty socket: this cannot block. A daemon gone meanwhile
	 * gets EPIPE, ignored. */
	if (write_all(sh->start_fd, b.data, b.len) < 0)
		shoal_log_warn("cannot report the start", "error=%s", shoal_log_q(strerror(errno)));
	shoal_buf_fini(&b);
	close(sh->start_fd);
	sh->start_fd = -1;
}

static void container_output(struct shoal_shim__io *io, int stream, const char *data, size_t len)
{
	struct shim *sh = container_of(io, struct shim, io);
	struct shoal_list *pos, *tmp;
	struct shoal_err err;
	uint32_t want = stream == 2 ? SHOAL_SHIM_ATTACH_ERR : SHOAL_SHIM_ATTACH_OUT;

	if (sh->log != NULL) {
		if (shoal_shim_log_write(sh->log, stream, data, len, shoal_time_now_ns(), &err) <
		    0) {
			if (!sh->log_failing)
				shoal_log_error("cannot write the log", "error=%s",
						shoal_log_q(err.msg));
			sh->log_failing = true;
		} else if (sh->log_failing) {
			shoal_log_info("log written again", "%s", "");
			sh->log_failing = false;
		}
	}
	shoal_list_foreach_safe(pos, tmp, &sh->clients) {
		struct client *c = shoal_list_entry(pos, struct client, link);

		if (c->mode == CL_ATTACH && (c->attach & want))
			client_output(c, stream, data, len);
	}
}

static void container_eof(struct shoal_shim__io *io, int stream)
{
	struct shim *sh = container_of(io, struct shim, io);
	struct shoal_err err;

	if (sh->log != NULL && shoal_shim_log_flush(sh->log, stream, shoal_time_now_ns(), &err) < 0)
		shoal_log_error("cannot write the log", "error=%s", shoal_log_q(err.msg));
	container_check(sh);
}

/* The exit is told once the output is all in (or the drain time is over): clients see
 * the last line before the exit, as with Docker. */
static void publish_exit(struct shim *sh)
{
	struct shoal_list *pos, *tmp;
	struct shoal_shim_msg m = { .type = SHOAL_SHIM_MSG_EXIT };
	struct shoal_err err;
	int i;

	shoal_shim__timer_stop(&sh->drain);
	for (i = 1; i <= 2 && sh->log != NULL; i++)
		if (shoal_shim_log_flush(sh->log, i, shoal_time_now_ns(), &err) < 0)
			shoal_log_error("cannot write the log", "error=%s", shoal_log_q(err.msg));
	shoal_shim__io_fini(&sh->io);
	sh->state = C_STOPPED;
	status_of(sh, &m.st);
	shoal_list_foreach_safe(pos, tmp, &sh->clients) {
		struct client *c = shoal_list_entry(pos, struct client, link);

		if (c->subscribed)
			client_send(c, &m);
		if (c->mode == CL_ATTACH)
			client_end(c, sh->exit_code);
	}
}

static void on_drain(struct shoal_shim__timer *t)
{
	struct shim *sh = container_of(t, struct shim, drain);

	if (sh->state == C_EXITED) {
		shoal_log_info("output still open after exit; closing it", "%s", "");
		publish_exit(sh);
	}
}

static void container_check(struct shim *sh)
{
	if (sh->state == C_RUNNING && sh->init_exited) {
		sh->state = C_EXITED;
		shoal_shim__io_close_stdin(&sh->io);
		shoal_shim__timer_start(&sh->loop, &sh->drain, DRAIN_MS, on_drain);
	}
	if (sh->state == C_EXITED && sh->io.nopen == 0)
		publish_exit(sh);
}

static void init_exit(struct shim *sh, int status)
{
	sh->init_exited = true;
	sh->exit_code = exit_code_of(status);
	sh->finished_ns = shoal_time_now_ns();
	sh->oom = oom_read(sh);
	write_exit_file(sh);
	shoal_log_info("container exited", "pid=%d exit_code=%d oom=%d", (int)sh->pid,
		       sh->exit_code, sh->oom);
	container_check(sh);
}

static void on_cleanup_done(struct shoal_shim__job *j, const struct shoal_err *err)
{
	struct shim *sh = j->ctx;

	if (err != NULL)
		shoal_log_debug("cleanup after a failed start", "error=%s", shoal_log_q(err->msg));
	begin_exit(sh);
}

/* The start failed: say so, remove what runc may have left, and end. */
static void start_failed(struct shim *sh, const struct shoal_err *cause)
{
	const char *a[] = { "delete", "--force", sh->id, NULL };
	const int none[3] = { -1, -1, -1 };
	struct shoal_err err = *cause;

	if (err.status == 0 || err.status == 500)
		err.status = start_error_status(err.msg);
	shoal_log_warn("container failed to start", "error=%s", shoal_log_q(err.msg));
	report_start(sh, &err);
	shoal_shim__io_fini(&sh->io);
	sh->state = C_GONE;
	if (shoal_shim__job_start(&sh->rc, a, none, false, RUNC_TIMEOUT_MS, on_cleanup_done, sh,
				  &err) == NULL)
		begin_exit(sh);
}

static void on_start_done(struct shoal_shim__job *j, const struct shoal_err *err)
{
	struct shim *sh = j->ctx;

	if (err != NULL) {
		start_failed(sh, err);
		return;
	}
	sh->state = C_RUNNING;
	shoal_log_info("container started", "pid=%d", (int)sh->pid);
	report_start(sh, NULL);
	container_check(sh);
}

static void on_create_done(struct shoal_shim__job *j, const struct shoal_err *err)
{
	struct shim *sh = j->ctx;
	const char *args[] = { "start", sh->id, NULL };
	const int none[3] = { -1, -1, -1 };
	struct shoal_err e;
	int status;

	if (err != NULL) {
		start_failed(sh, err);
		return;
	}
	shoal_err_clear(&e);
	sh->pid = read_pid_file("init.pid");
	if (sh->pid <= 0) {
		shoal_errorf(&e, 500, "runc create left no pid file");
		start_failed(sh, &e);
		return;
	}
	oom_find(sh);
	if (sh->tty) {
		if (j->master < 0) {
			shoal_errorf(&e, 500, "runc create sent no console");
			start_failed(sh, &e);
			return;
		}
		shoal_shim__io_tty(&sh->io, j->master);
		j->master = -1;
	}
	shoal_shim__io_start(&sh->io);
	sh->state = C_STARTING;
	/* the process runs from the moment runc start opens its way: an exit reaped before
	 * runc start returns is still after this */
	sh->started_ns = shoal_time_now_ns();
	if (orphan_take(sh, sh->pid, &status))
		init_exit(sh, status);
	if (shoal_shim__job_start(&sh->rc, args, none, false, RUNC_TIMEOUT_MS, on_start_done, sh,
				  &e) == NULL)
		start_failed(sh, &e);
}

static int start_container(struct shim *sh, struct shoal_err *err)
{
	char *pid_file = shoal_asprintf("%s/init.pid", sh->dir);
	const char *args[] = { "create", "--bundle", sh->bundle, "--pid-file",
			       pid_file, sh->id,     NULL };
	const int none[3] = { -1, -1, -1 };
	int rv = -1;

	unlink(pid_file);
	if (!sh->tty && shoal_shim__io_pipes(&sh->io, sh->open_stdin, err) < 0)
		goto out;
	sh->io.in_later = sh->tty && sh->open_stdin;
	if (shoal_shim__job_start(&sh->rc, args, sh->tty ? none : sh->io.child, sh->tty,
				  RUNC_TIMEOUT_MS, on_create_done, sh, err) == NULL)
		goto out;
	/* runc and then the container hold them now: EOF comes when the container is done */
	shoal_shim__io_close_child(&sh->io);
	rv = 0;
out:
	free(pid_file);
	return rv;
}

/* ---- requests ---- */

static void on_kill_done(struct shoal_shim__job *j, const struct shoal_err *err)
{
	struct reply *r = j->ctx;
	struct shim *sh = r->sh;
	char msg[256];

	if (err != NULL && !alive(sh)) {
		snprintf(msg, sizeof(msg), "Container %s is not running", sh->id);
		send_result(sh, r->cid, r->req, 409, msg);
	} else {
		send_result(sh, r->cid, r->req, err != NULL ? 500 : 0,
			    err != NULL ? err->msg : NULL);
	}
	free(r);
}

static void do_kill(struct client *c, const struct shoal_shim_msg *m)
{
	struct shim *sh = c->sh;
	const int none[3] = { -1, -1, -1 };
	char sig[16], msg[256];
	const char *args[] = { "kill", sh->id, sig, NULL };
	struct shoal_shim__job *j;
	struct reply *r;
	struct shoal_err err;

	if (!alive(sh)) {
		snprintf(msg, sizeof(msg), "Container %s is not running", sh->id);
		send_result(sh, c->cid, m->req, 409, msg);
		return;
	}
	if (m->a <= 0 || m->a > 64) {
		snprintf(msg, sizeof(msg), "Invalid signal: %d", m->a);
		send_result(sh, c->cid, m->req, 400, msg);
		return;
	}
	snprintf(sig, sizeof(sig), "%d", m->a);
	r = reply_new(c, m->req, m->a);
	j = shoal_shim__job_start(&sh->rc, args, none, false, RUNC_TIMEOUT_MS, on_kill_done, r,
				  &err);
	if (j == NULL) {
		send_result(sh, c->cid, m->req, 500, err.msg);
		free(r);
		return;
	}
	/* a reply is ours to free if the shim ends before runc does */
	j->ctx_free = free;
}

static void on_pause_done(struct shoal_shim__job *j, const struct shoal_err *err)
{
	struct reply *r = j->ctx;
	struct shim *sh = r->sh;

	sh->busy = false;
	if (err == NULL)
		sh->paused = r->arg != 0;
	send_result(sh, r->cid, r->req, err != NULL ? 500 : 0, err != NULL ? err->msg : NULL);
	free(r);
}

static void do_pause(struct client *c, const struct shoal_shim_msg *m)
{
	struct shim *sh = c->sh;
	const int none[3] = { -1, -1, -1 };
	const char *args[] = { m->a ? "pause" : "resume", sh->id, NULL };
	struct shoal_err err;
	struct shoal_shim__job *j;
	struct reply *r;
	char msg[256];

	/* Docker's texts */
	if (!alive(sh))
		snprintf(msg, sizeof(msg), "Container %s is not running", sh->id);
	else if (m->a && sh->paused)
		snprintf(msg, sizeof(msg), "Container %s is already paused", sh->id);
	else if (!m->a && !sh->paused)
		snprintf(msg, sizeof(msg), "Container %s is not paused", sh->id);
	else if (sh->busy)
		snprintf(msg, sizeof(msg), "Container %s is busy: try again", sh->id);
	else
		msg[0] = '\0';
	if (msg[0] != '\0') {
		send_result(sh, c->cid, m->req, 409, msg);
		return;
	}
	r = reply_new(c, m->req, m->a);
	sh->busy = true;
	j = shoal_shim__job_start(&sh->rc, args, none, false, RUNC_TIMEOUT_MS, on_pause_done, r,
				  &err);
	if (j == NULL) {
		sh->busy = false;
		send_result(sh, c->cid, m->req, 500, err.msg);
		free(r);
		return;
	}
	/* a reply is ours to free if the shim ends before runc does */
	j->ctx_free = free;
}

static void on_delete_done(struct shoal_shim__job *j, const struct shoal_err *err)
{
	struct reply *r = j->ctx;
	struct shim *sh = r->sh;

	/* a container runc no longer knows is as deleted as can be */
	if (err != NULL && strstr(err->msg, "does not exist") == NULL) {
		sh->state = C_STOPPED;
		send_result(sh, r->cid, r->req, 500, err->msg);
		free(r);
		return;
	}
	shoal_log_info("container deleted", "%s", "");
	send_result(sh, r->cid, r->req, 0, NULL);
	free(r);
	begin_exit(sh);
}

static void do_delete(struct client *c, const struct shoal_shim_msg *m)
{
	struct shim *sh = c->sh;
	const int none[3] = { -1, -1, -1 };
	const char *args[] = { "delete", sh->id, NULL };
	struct shoal_err err;
	struct shoal_shim__job *j;
	struct reply *r;
	char msg[256];

	if (sh->state == C_DELETING || sh->state == C_GONE) {
		snprintf(msg, sizeof(msg), "removal of container %s is already in progress",
			 sh->id);
		send_result(sh, c->cid, m->req, 409, msg);
		return;
	}
	if (!sh->init_exited || sh->state < C_RUNNING) {
		snprintf(msg, sizeof(msg), "Container %s is running", sh->id);
		send_result(sh, c->cid, m->req, 409, msg);
		return;
	}
	if (sh->state == C_EXITED)
		publish_exit(sh);
	r = reply_new(c, m->req, 0);
	sh->state = C_DELETING;
	j = shoal_shim__job_start(&sh->rc, args, none, false, RUNC_TIMEOUT_MS, on_delete_done, r,
				  &err);
	if (j == NULL) {
		sh->state = C_STOPPED;
		send_result(sh, c->cid, m->req, 500, err.msg);
		free(r);
		return;
	}
	/* a reply is ours to free if the shim ends before runc does */
	j->ctx_free = free;
}

static void do_attach(struct client *c, const struct shoal_shim_msg *m)
{
	struct shim *sh = c->sh;

	c->mode = CL_ATTACH;
	c->attach = m->flags;
	if (!sh->open_stdin)
		c->attach &= ~SHOAL_SHIM_ATTACH_STDIN;
	/* nothing more will come: say so at once */
	if (sh->state >= C_STOPPED)
		client_end(c, sh->init_exited ? sh->exit_code : -1);
}

/* ---- exec ---- */

static struct exec *exec_find(struct shim *sh, pid_t pid)
{
	struct shoal_list *pos;

	shoal_list_foreach(pos, &sh->execs) {
		struct exec *e = shoal_list_entry(pos, struct exec, link);

		if (e->pid == pid)
			return e;
	}
	return NULL;
}

static void exec_free(struct shoal_shim__defer *d)
{
	struct exec *e = container_of(d, struct exec, defer);

	shoal_shim__io_release(&e->io);
	free(e->process_path);
	free(e->pid_path);
	free(e);
}

static void exec_output(struct shoal_shim__io *io, int stream, const char *data, size_t len)
{
	struct exec *e = container_of(io, struct exec, io);

	if (e->client != NULL)
		client_output(e->client, stream, data, len);
}

static void exec_check(struct exec *e)
{
	if (e->exited && e->io.nopen == 0)
		exec_finish(e, e->exit_code);
}

static void exec_eof(struct shoal_shim__io *io, int stream)
{
	(void)stream;
	exec_check(container_of(io, struct exec, io));
}

static void on_exec_drain(struct shoal_shim__timer *t)
{
	struct exec *e = container_of(t, struct exec, drain);

	exec_finish(e, e->exit_code);
}

/* The exec is over: its client gets END, then the exec is forgotten. */
static void exec_finish(struct exec *e, int code)
{
	struct shim *sh = e->sh;

	if (e->client != NULL) {
		client_end(e->client, code);
		e->client->exec = NULL;
		e->client = NULL;
	}
	shoal_shim__timer_stop(&e->drain);
	shoal_shim__io_fini(&e->io);
	unlink(e->process_path);
	unlink(e->pid_path);
	shoal_list_del(&e->link);
	sh->nexecs--;
	shoal_shim__defer(&sh->loop, &e->defer, exec_free);
}

static const struct shoal_err *own_error(struct shoal_err *err, const char *msg)
{
	shoal_errorf(err, 500, "%s", msg);
	return err;
}

static void exec_exit(struct exec *e, int status)
{
	e->exited = true;
	e->exit_code = exit_code_of(status);
	shoal_log_debug("exec exited", "pid=%d exit_code=%d", (int)e->pid, e->exit_code);
	if (e->io.nopen > 0)
		shoal_shim__timer_start(&e->sh->loop, &e->drain, DRAIN_MS, on_exec_drain);
	exec_check(e);
}

static void on_exec_started(struct shoal_shim__job *j, const struct shoal_err *err)
{
	struct exec *e = j->ctx;
	struct shim *sh = e->sh;
	struct shoal_shim_msg m = { 0 };
	struct shoal_err own;
	int status;

	unlink(e->process_path);
	if (err == NULL) {
		e->pid = read_pid_file(e->pid_path);
		if (e->pid <= 0)
			err = own_error(&own, "runc exec left no pid file");
		else if (e->tty && j->master < 0)
			err = own_error(&own, "runc exec sent no console");
	}
	if (err != NULL) {
		e->pid = 0;
		if (e->client != NULL) {
			m.type = SHOAL_SHIM_MSG_ERROR;
			m.a = start_error_status(err->msg);
			m.data = err->msg;
			m.len = strlen(err->msg);
			client_send(e->client, &m);
		}
		exec_finish(e, exec_error_code(err->msg));
		return;
	}
	if (e->tty) {
		shoal_shim__io_tty(&e->io, j->master);
		j->master = -1;
	}
	shoal_shim__io_start(&e->io);
	if (e->client != NULL) {
		m.type = SHOAL_SHIM_MSG_EXEC_PID;
		m.a = (int32_t)e->pid;
		client_send(e->client, &m);
	}
	if (orphan_take(sh, e->pid, &status))
		exec_exit(e, status);
}

static void do_exec(struct client *c, const struct shoal_shim_msg *m)
{
	struct shim *sh = c->sh;
	const int none[3] = { -1, -1, -1 };
	const char *args[] = { "exec",	     "--process", NULL,	  "--detach",
			       "--pid-file", NULL,	  sh->id, NULL };
	struct shoal_err err;
	struct exec *e;
	char msg[256];
	int fd;

	if (!alive(sh)) {
		snprintf(msg, sizeof(msg), "Container %s is not running", sh->id);
		client_refuse(c, 409, msg);
		return;
	}
	if (sh->paused) {
		snprintf(msg, sizeof(msg),
			 "Container %s is paused, unpause the container before exec", sh->id);
		client_refuse(c, 409, msg);
		return;
	}
	if (sh->nexecs >= EXECS_MAX) {
		client_refuse(c, 503, "too many execs running in this container");
		return;
	}
	e = shoal_calloc(1, sizeof(*e));
	e->sh = sh;
	e->seq = ++sh->exec_seq;
	e->tty = (m->flags & SHOAL_SHIM_EXEC_TTY) != 0;
	e->want_stdin = (m->flags & SHOAL_SHIM_EXEC_STDIN) != 0;
	e->process_path = shoal_asprintf("%s/exec-%u.json", sh->dir, e->seq);
	e->pid_path = shoal_asprintf("%s/exec-%u.pid", sh->dir, e->seq);
	shoal_shim__io_init(&e->io, &sh->loop, sh->rbuf, exec_output, exec_eof);
	args[2] = e->process_path;
	args[5] = e->pid_path;
	shoal_err_clear(&err);
	unlink(e->pid_path);
	fd = open(e->process_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, m->data, m->len) < 0) {
		shoal_errorf_sys(&err, 500, errno, "cannot write the exec's process: %s",
				 strerror(errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	close(fd);
	if (!e->tty && shoal_shim__io_pipes(&e->io, e->want_stdin, &err) < 0)
		goto fail;
	e->io.in_later = e->tty && e->want_stdin;
	if (shoal_shim__job_start(&sh->rc, args, e->tty ? none : e->io.child, e->tty,
				  RUNC_TIMEOUT_MS, on_exec_started, e, &err) == NULL)
		goto fail;
	shoal_shim__io_close_child(&e->io);
	shoal_list_add_tail(&sh->execs, &e->link);
	sh->nexecs++;
	c->mode = CL_EXEC;
	c->exec = e;
	e->client = c;
	shoal_log_debug("exec started", "exec_id=%s", shoal_log_q(m->name));
	return;
fail:
	shoal_shim__io_release(&e->io);
	unlink(e->process_path);
	free(e->process_path);
	free(e->pid_path);
	free(e);
	client_refuse(c, err.status ? err.status : 500, err.msg);
}

/* ---- the protocol ---- */

static void client_msg(struct client *c, const struct shoal_shim_msg *m)
{
	struct shim *sh = c->sh;
	struct shoal_shim_msg r = { 0 };
	char msg[128];

	if (c->mode == CL_NEW) {
		if (m->type != SHOAL_SHIM_MSG_HELLO) {
			client_refuse(c, 400, "HELLO expected");
			return;
		}
		if (m->a != SHOAL_SHIM_PROTO_VERSION) {
			snprintf(msg, sizeof(msg), "shim protocol version %d, client speaks %d",
				 SHOAL_SHIM_PROTO_VERSION, m->a);
			client_refuse(c, 400, msg);
			return;
		}
		r.type = SHOAL_SHIM_MSG_HELLO;
		r.a = SHOAL_SHIM_PROTO_VERSION;
		r.b = (int32_t)getpid();
		r.flags = (sh->tty ? SHOAL_SHIM_HELLO_TTY : 0) |
			  (sh->open_stdin ? SHOAL_SHIM_HELLO_STDIN : 0);
		snprintf(r.name, sizeof(r.name), "%s", sh->id);
		client_send(c, &r);
		c->mode = CL_CONTROL;
		return;
	}
	if (m->type == SHOAL_SHIM_MSG_RESIZE) {
		shoal_shim__io_resize(c->exec != NULL ? &c->exec->io : &sh->io, m->a, m->b);
		return;
	}
	if (c->mode == CL_ATTACH || c->mode == CL_EXEC) {
		if (m->type != SHOAL_SHIM_MSG_INPUT) {
			snprintf(msg, sizeof(msg), "%s not allowed on a stream",
				 shoal_shim_msg_name(m->type));
			client_refuse(c, 400, msg);
		} else if (c->mode == CL_ATTACH && (c->attach & SHOAL_SHIM_ATTACH_STDIN)) {
			shoal_shim__io_input(&sh->io, m->data, m->len);
		} else if (c->mode == CL_EXEC && c->exec != NULL) {
			shoal_shim__io_input(&c->exec->io, m->data, m->len);
		}
		return;
	}
	switch (m->type) {
	case SHOAL_SHIM_MSG_STATE:
		r.type = SHOAL_SHIM_MSG_STATUS;
		r.req = m->req;
		status_of(sh, &r.st);
		client_send(c, &r);
		break;
	case SHOAL_SHIM_MSG_KILL:
		do_kill(c, m);
		break;
	case SHOAL_SHIM_MSG_PAUSE:
		do_pause(c, m);
		break;
	case SHOAL_SHIM_MSG_ATTACH:
		do_attach(c, m);
		break;
	case SHOAL_SHIM_MSG_EXEC:
		do_exec(c, m);
		break;
	case SHOAL_SHIM_MSG_DELETE:
		do_delete(c, m);
		break;
	case SHOAL_SHIM_MSG_SUBSCRIBE:
		c->subscribed = true;
		if (sh->state >= C_STOPPED && sh->init_exited) {
			r.type = SHOAL_SHIM_MSG_EXIT;
			status_of(sh, &r.st);
			client_send(c, &r);
		}
		break;
	default:
		snprintf(msg, sizeof(msg), "%s not allowed here", shoal_shim_msg_name(m->type));
		client_refuse(c, 400, msg);
		break;
	}
}

static void client_read(struct client *c)
{
	struct shoal_shim_msg m;
	struct shoal_err err;
	size_t off = 0, used;
	ssize_t n;

	n = read(c->fd, c->sh->rbuf, SHOAL_SHIM_OUTPUT_CHUNK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_drop(c);
		return;
	}
	if (c->closing)
		return;
	shoal_buf_add(&c->in, c->sh->rbuf, (size_t)n);
	while (!c->dead && !c->closing) {
		if (shoal_shim_msg_decode(c->in.data + off, c->in.len - off, true, &m, &used,
					  &err) < 0) {
			client_refuse(c, err.status, err.msg);
			break;
		}
		if (used == 0)
			break;
		client_msg(c, &m);
		off += used;
	}
	if (!c->dead)
		shoal_buf_consume(&c->in, off);
}

static void client_flush(struct client *c)
{
	ssize_t n;

	while (c->out_off < c->out.len) {
		n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			client_drop(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	shoal_buf_reset(&c->out);
	c->out_off = 0;
}

static void on_client(struct shoal_shim__watch *w, short revents)
{
	struct client *c = container_of(w, struct client, w);

	if (revents & POLLOUT)
		client_flush(c);
	if (!c->dead && (revents & (POLLIN | POLLHUP | POLLERR)))
		client_read(c);
}

static void on_listen(struct shoal_shim__watch *w, short revents)
{
	struct shim *sh = container_of(w, struct shim, listen_w);
	struct client *c;
	int fd;

	(void)revents;
	for (;;) {
		fd = accept4(sh->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		/* shed past the limit: the daemon needs a handful */
		if (sh->nclients >= CLIENTS_MAX) {
			shoal_log_warn("too many clients; connection refused", "%s", "");
			close(fd);
			continue;
		}
		c = shoal_calloc(1, sizeof(*c));
		c->sh = sh;
		c->cid = ++sh->next_cid;
		c->fd = fd;
		shoal_buf_init(&c->in);
		shoal_buf_init(&c->out);
		shoal_list_add_tail(&sh->clients, &c->link);
		sh->nclients++;
		shoal_shim__watch_start(&sh->loop, &c->w, fd, POLLIN, on_client);
	}
}

/* Settles every client's events before the loop sleeps: write when something is queued,
 * read unless closing or the stdin it feeds is full; close those done. */
static void before_poll(struct shoal_shim__loop *loop)
{
	struct shim *sh = container_of(loop, struct shim, loop);
	struct shoal_list *pos, *tmp;
	bool pending, full;

	shoal_list_foreach_safe(pos, tmp, &sh->clients) {
		struct client *c = shoal_list_entry(pos, struct client, link);

		pending = c->out_off < c->out.len;
		if (c->closing && !pending) {
			client_drop(c);
			continue;
		}
		full = (c->mode == CL_ATTACH && shoal_shim__io_input_full(&sh->io)) ||
		       (c->exec != NULL && shoal_shim__io_input_full(&c->exec->io));
		c->w.events = (short)((c->closing || full ? 0 : POLLIN) | (pending ? POLLOUT : 0));
	}
	if (sh->exiting && shoal_list_empty(&sh->clients))
		loop->stop = true;
}

/* ---- signals and the end ---- */

static void reaped(struct shim *sh, pid_t pid, int status)
{
	struct exec *e;

	if (shoal_shim__runc_reaped(&sh->rc, pid, status))
		return;
	if (sh->pid > 0 && pid == sh->pid && !sh->init_exited) {
		init_exit(sh, status);
		return;
	}
	e = exec_find(sh, pid);
	if (e != NULL && !e->exited) {
		exec_exit(e, status);
		return;
	}
	/* a pid file not read yet, or a process that escaped to us */
	orphan_add(sh, pid, status);
}

static void on_signal(struct shoal_shim__watch *w, short revents)
{
	struct shim *sh = container_of(w, struct shim, sig_w);
	struct signalfd_siginfo si[8];
	int status;
	pid_t pid;

	(void)revents;
	while (read(sh->sig_fd, si, sizeof(si)) > 0)
		;
	/* SIGCHLDs merge: reap all there is */
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		reaped(sh, pid, status);
}

static void on_exit_timer(struct shoal_shim__timer *t)
{
	struct shim *sh = container_of(t, struct shim, exit_timer);

	sh->loop.stop = true;
}

static void begin_exit(struct shim *sh)
{
	struct shoal_list *pos, *tmp;

	if (sh->exiting)
		return;
	sh->exiting = true;
	sh->state = C_GONE;
	shoal_shim__watch_stop(&sh->listen_w);
	if (sh->listen_fd >= 0)
		close(sh->listen_fd);
	sh->listen_fd = -1;
	unlink(SHOAL_SHIM_SOCK_NAME);
	shoal_list_foreach_safe(pos, tmp, &sh->clients) {
		struct client *c = shoal_list_entry(pos, struct client, link);

		if (c->mode == CL_ATTACH || c->mode == CL_EXEC)
			client_end(c, sh->init_exited ? sh->exit_code : -1);
		else
			c->closing = true;
	}
	shoal_shim__timer_start(&sh->loop, &sh->exit_timer, EXIT_GRACE_MS, on_exit_timer);
}

/* ---- setup ---- */

static int mkdir_p(const char *path, mode_t mode)
{
	char *p = shoal_strdup(path), *s;
	int rv = 0;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			rv = -1;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		rv = -1;
	free(p);
	return rv;
}

static int listen_socket(struct shim *sh, struct shoal_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	/* bound relative to the state directory, our working directory: sun_path holds 107
	 * bytes and state paths can be longer (the daemon's side needs the full path to fit) */
	memcpy(sa.sun_path, SHOAL_SHIM_SOCK_NAME, sizeof(SHOAL_SHIM_SOCK_NAME));
	unlink(SHOAL_SHIM_SOCK_NAME);
	sh->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sh->listen_fd < 0 || bind(sh->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(SHOAL_SHIM_SOCK_NAME, 0600) < 0 || listen(sh->listen_fd, 16) < 0)
		return shoal_errorf_sys(err, 500, errno, "shim socket: %s", strerror(errno));
	shoal_shim__watch_start(&sh->loop, &sh->listen_w, sh->listen_fd, POLLIN, on_listen);
	return 0;
}

static int setup(struct shim *sh, struct shoal_err *err)
{
	char pid[32];
	sigset_t mask;
	int fd;

	if (mkdir_p(sh->dir, 0700) < 0 || chdir(sh->dir) < 0)
		return shoal_errorf_sys(err, 500, errno, "state directory %s: %s", sh->dir,
					strerror(errno));
	/* the shim's own log; its stdio was /dev/null */
	fd = open("shim.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	/* a session of its own even when not spawned detached: no terminal's signals */
	setsid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return shoal_errorf_sys(err, 500, errno, "subreaper: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sh->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sh->sig_fd < 0)
		return shoal_errorf_sys(err, 500, errno, "signalfd: %s", strerror(errno));
	shoal_shim__watch_start(&sh->loop, &sh->sig_w, sh->sig_fd, POLLIN, on_signal);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (write_file_atomic(SHOAL_SHIM_PID_NAME, pid, strlen(pid)) < 0)
		return shoal_errorf_sys(err, 500, errno, "pid file: %s", strerror(errno));
	unlink(SHOAL_SHIM_EXIT_NAME);
	if (listen_socket(sh, err) < 0)
		return -1;
	if (sh->log_path != NULL) {
		sh->log =
			shoal_shim_log_open(sh->log_path, sh->log_max_size, sh->log_max_files, err);
		if (sh->log == NULL)
			return shoal_err_wrap(err, "log");
	}
	return 0;
}

static int parse_args(struct shim *sh, int argc, char **argv, struct shoal_err *err)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "bundle", required_argument, NULL, 'b' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "runtime", required_argument, NULL, 'r' },
		{ "runtime-root", required_argument, NULL, 'R' },
		{ "log-path", required_argument, NULL, 'l' },
		{ "log-max-size", required_argument, NULL, 'S' },
		{ "log-max-files", required_argument, NULL, 'F' },
		{ "tty", no_argument, NULL, 't' },
		{ "open-stdin", no_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			sh->id = optarg;
			break;
		case 'b':
			sh->bundle = optarg;
			break;
		case 's':
			sh->dir = optarg;
			break;
		case 'r':
			sh->runtime = optarg;
			break;
		case 'R':
			sh->root = optarg;
			break;
		case 'l':
			sh->log_path = optarg;
			break;
		case 'S':
			sh->log_max_size = strtoll(optarg, &end, 10);
			if (*end != '\0' || sh->log_max_size < 0)
				return shoal_errorf(err, 400, "bad --log-max-size %s", optarg);
			break;
		case 'F':
			sh->log_max_files = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || sh->log_max_files < 1)
				return shoal_errorf(err, 400, "bad --log-max-files %s", optarg);
			break;
		case 't':
			sh->tty = true;
			break;
		case 'I':
			sh->open_stdin = true;
			break;
		default:
			return shoal_errorf(err, 400, "shoal-shim: bad option %s",
					    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return shoal_errorf(err, 400, "shoal-shim: unexpected argument %s", argv[optind]);
	if (sh->id == NULL || sh->id[0] == '\0' || strchr(sh->id, '/') != NULL)
		return shoal_errorf(err, 400, "shoal-shim: --id is required");
	if (sh->bundle == NULL || sh->bundle[0] != '/' || sh->dir == NULL || sh->dir[0] != '/' ||
	    sh->root == NULL || sh->root[0] != '/' ||
	    (sh->log_path != NULL && sh->log_path[0] != '/'))
		return shoal_errorf(err, 400, "shoal-shim: paths must be absolute");
	if (sh->runtime == NULL)
		sh->runtime = "runc";
	if (sh->log_max_files == 0)
		sh->log_max_files = 1;
	return 0;
}

int shoal_shim_main(int argc, char **argv)
{
	struct shim *sh = shoal_calloc(1, sizeof(*sh));
	struct shoal_list *pos, *tmp;
	struct shoal_err err;
	int rv = 1;

	shoal_err_clear(&err);
	/* shoald's, not ours nor runc's: under systemd, NOTIFY_SOCKET would have runc start
	 * wait for the container to say READY=1, and JOURNAL_STREAM would take the time off
	 * the lines of shim.log */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("JOURNAL_STREAM");
	/* fd 3 is the start pipe; anything else the daemon leaked is not ours to hold */
	sh->start_fd = fcntl(3, F_GETFD) >= 0 ? 3 : -1;
	if (sh->start_fd >= 0)
		fcntl(3, F_SETFD, FD_CLOEXEC);
	close_range(4, ~0U, 0);
	sh->listen_fd = sh->sig_fd = -1;
	shoal_shim__loop_init(&sh->loop);
	sh->loop.before_poll = before_poll;
	shoal_list_init(&sh->clients);
	shoal_list_init(&sh->execs);
	shoal_list_init(&sh->rc.jobs);
	sh->rbuf = shoal_malloc(SHOAL_SHIM_OUTPUT_CHUNK);
	shoal_shim__io_init(&sh->io, &sh->loop, sh->rbuf, container_output, container_eof);
	if (parse_args(sh, argc, argv, &err) < 0 || setup(sh, &err) < 0) {
		shoal_log_error("shim failed", "error=%s", shoal_log_q(err.msg));
		report_start(sh, &err);
		goto out;
	}
	sh->rc.loop = &sh->loop;
	sh->rc.runtime = sh->runtime;
	sh->rc.root = sh->root;
	sh->rc.dir = sh->dir;
	if (start_container(sh, &err) < 0) {
		report_start(sh, &err);
		goto out;
	}
	shoal_shim__loop_run(&sh->loop);
	rv = 0;
out:
	if (sh->dir != NULL && sh->exiting)
		unlink(SHOAL_SHIM_PID_NAME);
	shoal_list_foreach_safe(pos, tmp, &sh->clients) {
		client_drop(shoal_list_entry(pos, struct client, link));
	}
	shoal_list_foreach_safe(pos, tmp, &sh->execs) {
		struct exec *e = shoal_list_entry(pos, struct exec, link);

		e->client = NULL;
		exec_finish(e, -1);
	}
	shoal_shim__runc_fini(&sh->rc);
	sh->loop.stop = true;
	shoal_shim__loop_run(&sh->loop); /* stop is set: only the deferred frees run */
	shoal_shim__io_release(&sh->io);
	if (sh->listen_fd >= 0)
		close(sh->listen_fd);
	if (sh->sig_fd >= 0)
		close(sh->sig_fd);
	shoal_shim_log_close(sh->log);
	shoal_shim__loop_fini(&sh->loop);
	free(sh->oom_path);
	free(sh->rbuf);
	free(sh);
	return rv;
}
