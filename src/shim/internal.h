/* Inside src/shim: the pieces of the shim process. A poll() loop small enough to read in
 * one sitting (a shim watches a handful of descriptors), and runc commands run as jobs
 * on it. Single-threaded: everything here runs on the shim's one loop. */
#ifndef SHOAL_SHIM_INTERNAL_H
#define SHOAL_SHIM_INTERNAL_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/list.h"
#include "shim/shim.h"

/* ---- the loop (loop.c) ---- */

struct shoal_shim__watch;
struct shoal_shim__timer;
struct shoal_shim__defer;

typedef void (*shoal_shim__watch_cb)(struct shoal_shim__watch *w, short revents);
typedef void (*shoal_shim__timer_cb)(struct shoal_shim__timer *t);
typedef void (*shoal_shim__defer_fn)(struct shoal_shim__defer *d);

/* A descriptor polled for events (POLLIN, POLLOUT; 0 pauses it). Embedded by its owner,
 * which may change events at any time. */
struct shoal_shim__watch {
	struct shoal_list link;
	int fd;
	short events;
	bool active;
	shoal_shim__watch_cb cb;
};

struct shoal_shim__timer {
	struct shoal_list link;
	int64_t due_ms; /* CLOCK_MONOTONIC */
	bool active;
	shoal_shim__timer_cb cb;
};

/* A free run after the current round of callbacks, so no object is freed while a
 * callback of the same round may still hold it. */
struct shoal_shim__defer {
	struct shoal_list link;
	shoal_shim__defer_fn fn;
	bool queued;
};

struct shoal_shim__loop {
	struct shoal_list watches, timers, deferred;
	struct pollfd *pfd;
	struct shoal_shim__watch **pw;
	size_t cap;
	bool stop;
	/* called before each poll, to settle the watches' events */
	void (*before_poll)(struct shoal_shim__loop *loop);
};

void shoal_shim__loop_init(struct shoal_shim__loop *loop);
void shoal_shim__loop_fini(struct shoal_shim__loop *loop);
/* Runs rounds until loop->stop is set, then runs what is deferred. */
void shoal_shim__loop_run(struct shoal_shim__loop *loop);
int64_t shoal_shim__now_ms(void);

void shoal_shim__watch_start(struct shoal_shim__loop *loop, struct shoal_shim__watch *w, int fd,
			     short events, shoal_shim__watch_cb cb);
/* NULL-safe on a watch never started (zeroed). */
void shoal_shim__watch_stop(struct shoal_shim__watch *w);
void shoal_shim__timer_start(struct shoal_shim__loop *loop, struct shoal_shim__timer *t, int64_t ms,
			     shoal_shim__timer_cb cb);
void shoal_shim__timer_stop(struct shoal_shim__timer *t);
void shoal_shim__defer(struct shoal_shim__loop *loop, struct shoal_shim__defer *d,
		       shoal_shim__defer_fn fn);

/* ---- a process's stdio (io.c) ---- */

/* Input queued for a stdin; past it, the clients feeding it are not read. */
#define SHOAL_SHIM__STDIN_MAX (1024 * 1024)

struct shoal_shim__io;
typedef void (*shoal_shim__io_output_fn)(struct shoal_shim__io *io, int stream, const char *data,
					 size_t len);
/* One output reached its end (all writers gone); io->nopen says how many are left. */
typedef void (*shoal_shim__io_eof_fn)(struct shoal_shim__io *io, int stream);

/* One output descriptor: a pipe's read end, or the pty master. */
struct shoal_shim__pump {
	struct shoal_shim__watch w;
	struct shoal_shim__io *io;
	int stream; /* 1 stdout, 2 stderr */
	int fd;
};

/* Embedded by its owner, which finds itself with container_of in the callbacks. */
struct shoal_shim__io {
	struct shoal_shim__loop *loop;
	char *rbuf; /* SHOAL_SHIM_OUTPUT_CHUNK bytes of scratch, shared */
	struct shoal_shim__pump out[2];
	int nopen;    /* outputs not at their end yet */
	int child[3]; /* the ends the process gets, until runc has them */
	int in_fd;    /* stdin's write end (a dup of the master for a pty); -1 */
	struct shoal_shim__watch in_w;
	struct shoal_buf inq;
	bool in_close; /* close stdin once inq is written */
	bool in_later; /* a pty's stdin before runc sent the master: input is kept */
	int master;    /* the pty master, for resizes; -1 */
	shoal_shim__io_output_fn output;
	shoal_shim__io_eof_fn eof;
};

void shoal_shim__io_init(struct shoal_shim__io *io, struct shoal_shim__loop *loop, char *rbuf,
			 shoal_shim__io_output_fn output, shoal_shim__io_eof_fn eof);
/* Pipes for a process without a pty; its stdin is /dev/null unless want_stdin. */
int shoal_shim__io_pipes(struct shoal_shim__io *io, bool want_stdin,
			 struct shoal_err *err) SHOAL_MUST_CHECK;
/* Takes the pty master runc sent: output is stdout only; stdin goes to it when in_later
 * was set (with what was queued meanwhile). */
void shoal_shim__io_tty(struct shoal_shim__io *io, int master);
/* Starts reading the outputs. */
void shoal_shim__io_start(struct shoal_shim__io *io);
/* Queues stdin bytes; len 0 closes stdin once the queue is written. */
void shoal_shim__io_input(struct shoal_shim__io *io, const char *data, size_t len);
bool shoal_shim__io_input_full(const struct shoal_shim__io *io);
void shoal_shim__io_resize(struct shoal_shim__io *io, int rows, int cols);
/* Closes the child's ends once runc holds them, so EOF comes when the process is done. */
void shoal_shim__io_close_child(struct shoal_shim__io *io);
void shoal_shim__io_close_stdin(struct shoal_shim__io *io);
/* Closes every descriptor; idempotent. io_release also frees the queue. */
void shoal_shim__io_fini(struct shoal_shim__io *io);
void shoal_shim__io_release(struct shoal_shim__io *io);

/* ---- runc commands (runc.c) ---- */

/* What every runc command of one container shares. */
struct shoal_shim__runc {
	struct shoal_shim__loop *loop;
	const char *runtime; /* "runc" or a path */
	const char *root;    /* runc --root */
	const char *dir;     /* the state directory: logs, console sockets */
	unsigned seq;
	struct shoal_list jobs;
};

struct shoal_shim__job;
/* The command ended; err is NULL on success, else runc's own error text (500). */
typedef void (*shoal_shim__job_cb)(struct shoal_shim__job *j, const struct shoal_err *err);

struct shoal_shim__job {
	struct shoal_list link;
	struct shoal_shim__runc *rc;
	char *what; /* the subcommand, for messages */
	pid_t pid;
	char *log_path;
	char *console_path; /* relative to the state directory */
	char *console_arg;  /* the same through /proc/<pid>/cwd, for runc */
	int console_lfd;    /* listening for runc's console connection */
	int console_cfd;    /* that connection */
	struct shoal_shim__watch console_w;
	int master; /* the pty master runc sent; the callback may take it (set -1) */
	struct shoal_shim__timer timer;
	struct shoal_shim__defer defer;
	bool timed_out;
	shoal_shim__job_cb cb;
	void *ctx;
	void (*ctx_free)(void *ctx); /* frees ctx if the job is forgotten (shim ending) */
};

/* Spawns `runtime --root R --log L --log-format json args...`, with --console-socket
 * inserted after args[0] when console. fds are its stdin, stdout, stderr (-1:
 * /dev/null). cb is called once, from the loop, when it has been reaped (or killed at
 * timeout_ms). Returns NULL with err when it cannot be spawned. */
struct shoal_shim__job *shoal_shim__job_start(struct shoal_shim__runc *rc, const char *const *args,
					      const int fds[3], bool console, int timeout_ms,
					      shoal_shim__job_cb cb, void *ctx,
					      struct shoal_err *err);
/* Forgets the jobs still running (the shim is ending): no callback, no kill. */
void shoal_shim__runc_fini(struct shoal_shim__runc *rc);
/* A child was reaped: true if it was a job's (whose callback has now run). */
bool shoal_shim__runc_reaped(struct shoal_shim__runc *rc, pid_t pid, int status);

/* Spawns argv with fds as stdio (-1: /dev/null) and nothing else open, default signals. */
int shoal_shim__spawn(const char *const *argv, const int fds[3], pid_t *pid,
		      struct shoal_err *err) SHOAL_MUST_CHECK;

/* The last "error" entry's msg in a runc --log-format json file, into out; -1 if none. */
int shoal_shim__runc_log_error(const char *path, char *out, size_t size);

#endif
