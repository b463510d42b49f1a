/* runc commands as jobs on the shim's loop. Each gets its own --log file in JSON, so its
 * error text is runc's own message even when its stderr is the container's (create and
 * exec pass their stdio through to the process), and a console socket when the process
 * gets a pty: runc connects to it and sends the pty master with SCM_RIGHTS. Jobs are
 * reaped by the shim's SIGCHLD handling, which hands their pids here. */
#include "shim/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "shim"

/* runc's error entry is one line; a log longer than this is cut to its end */
#define RUNC_LOG_READ_MAX (64 * 1024)

extern char **environ;

int shoal_shim__spawn(const char *const *argv, const int fds[3], pid_t *pid, struct shoal_err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int i, rv;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	for (i = 0; i < 3; i++) {
		if (fds[i] >= 0)
			posix_spawn_file_actions_adddup2(&fa, fds[i], i);
		else
			posix_spawn_file_actions_addopen(&fa, i, "/dev/null", O_RDWR, 0);
	}
	/* the child gets its stdio and nothing else: not the start pipe, not the clients */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	sigfillset(&none);
	posix_spawnattr_setsigdefault(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rv = posix_spawnp(pid, argv[0], &fa, &attr, (char *const *)argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (rv != 0)
		return shoal_errorf_sys(err, 500, rv, "exec %s: %s", argv[0], strerror(rv));
	return 0;
}

/* ---- runc's JSON log ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_utf8(char **o, char *end, unsigned cp)
{
	char tmp[4];
	int n, i;

	if (cp < 0x80) {
		tmp[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (char)(0xc0 | cp >> 6), tmp[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (char)(0xe0 | cp >> 12), tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	} else {
		tmp[0] = (char)(0xf0 | cp >> 18), tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), tmp[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	for (i = 0; i < n && *o < end; i++)
		*(*o)++ = tmp[i];
}

static unsigned hex4(const char *s)
{
	int i, v;
	unsigned cp = 0;

	for (i = 0; i < 4; i++) {
		v = hexval(s[i]);
		if (v < 0)
			return 0xfffd;
		cp = cp << 4 | (unsigned)v;
	}
	return cp;
}

/* Decodes the JSON string starting after its opening quote at s, up to line_end. */
static void json_unquote(const char *s, const char *line_end, char *out, size_t size)
{
	char *o = out, *end = out + size - 1;
	unsigned cp, lo;

	while (s < line_end && *s != '"' && o < end) {
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		if (++s >= line_end)
			break;
		switch (*s) {
		case 'n':
			*o++ = '\n';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'u':
			if (line_end - s < 5) {
				s = line_end;
				continue;
			}
			cp = hex4(s + 1);
			s += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && line_end - s >= 7 && s[1] == '\\' &&
			    s[2] == 'u') {
				lo = hex4(s + 3);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					s += 6;
				}
			}
			put_utf8(&o, end, cp);
			break;
		default: /* \" \\ \/ */
			*o++ = *s;
			break;
		}
		s++;
	}
	*o = '\0';
}

int shoal_shim__runc_log_error(const char *path, char *out, size_t size)
{
	char *text = NULL, *line, *next, *msg;
	int fd, rv = -1;
	struct stat st;
	off_t from = 0;
	ssize_t n;
	size_t len = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto out;
	if (st.st_size > RUNC_LOG_READ_MAX)
		from = st.st_size - RUNC_LOG_READ_MAX;
	text = shoal_malloc(RUNC_LOG_READ_MAX + 1);
	while (len < RUNC_LOG_READ_MAX) {
		n = pread(fd, text + len, RUNC_LOG_READ_MAX - len, from + (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	text[len] = '\0';
	for (line = text; line != NULL && *line; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (strstr(line, "\"level\":\"error\"") == NULL &&
		    strstr(line, "\"level\":\"fatal\"") == NULL)
			continue;
		msg = strstr(line, "\"msg\":\"");
		if (msg == NULL)
			continue;
		json_unquote(msg + 7, line + strlen(line), out, size);
		rv = 0; /* keep looking: the last one is the one that ended runc */
	}
out:
	free(text);
	close(fd);
	return rv;
}

/* ---- console sockets ---- */

static void console_close(struct shoal_shim__job *j)
{
	shoal_shim__watch_stop(&j->console_w);
	if (j->console_cfd >= 0)
		close(j->console_cfd);
	if (j->console_lfd >= 0)
		close(j->console_lfd);
	j->console_cfd = j->console_lfd = -1;
	if (j->console_path != NULL) {
		unlink(j->console_path);
		free(j->console_path);
		j->console_path = NULL;
	}
	free(j->console_arg);
	j->console_arg = NULL;
}

/* Takes the fd from runc's message if it is there; 1 when got, 0 not yet, -1 gone. */
static int console_recv(struct shoal_shim__job *j)
{
	char data[4096];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr mh = { 0 };
	struct cmsghdr *c;
	ssize_t n;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	n = recvmsg(j->console_cfd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int))) {
			memcpy(&j->master, CMSG_DATA(c), sizeof(int));
			return 1;
		}
	}
	return -1;
}

static void on_console(struct shoal_shim__watch *w, short revents);

/* Accepts runc's connection, then reads its message; both non-blocking. */
static void console_step(struct shoal_shim__job *j)
{
	int fd;

	if (j->console_cfd < 0 && j->console_lfd >= 0) {
		fd = accept4(j->console_lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		j->console_cfd = fd;
		shoal_shim__watch_start(j->rc->loop, &j->console_w, fd, POLLIN, on_console);
	}
	if (j->console_cfd >= 0 && j->master < 0 && console_recv(j) != 0)
		console_close(j);
}

static void on_console(struct shoal_shim__watch *w, short revents)
{
	struct shoal_shim__job *j = container_of(w, struct shoal_shim__job, console_w);

	(void)revents;
	console_step(j);
}

static int console_listen(struct shoal_shim__job *j, struct shoal_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[32];
	int fd;

	/* Bound relative to our working directory, the state directory, since sun_path is
	 * short; runc is told the way to it through /proc, because it resolves relative
	 * paths from the bundle it changed into. */
	snprintf(name, sizeof(name), "console-%u.sock", j->rc->seq);
	j->console_path = shoal_strdup(name);
	j->console_arg = shoal_asprintf("/proc/%d/cwd/%s", (int)getpid(), name);
	memcpy(sa.sun_path, name, strlen(name) + 1);
	unlink(name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return shoal_errorf_sys(err, 500, errno, "console socket: %s", strerror(errno));
	j->console_lfd = fd;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
		return shoal_errorf_sys(err, 500, errno, "console socket: %s", strerror(errno));
	shoal_shim__watch_start(j->rc->loop, &j->console_w, fd, POLLIN, on_console);
	return 0;
}

/* ---- jobs ---- */

static void job_free(struct shoal_shim__defer *d)
{
	struct shoal_shim__job *j = container_of(d, struct shoal_shim__job, defer);

	console_close(j);
	if (j->master >= 0)
		close(j->master);
	if (j->log_path != NULL)
		unlink(j->log_path);
	free(j->log_path);
	free(j->what);
	free(j);
}

static void on_timeout(struct shoal_shim__timer *t)
{
	struct shoal_shim__job *j = container_of(t, struct shoal_shim__job, timer);

	/* the callback runs when it has been reaped, like any other end */
	shoal_log_warn("runc timed out", "command=%s pid=%d", j->what, (int)j->pid);
	j->timed_out = true;
	kill(j->pid, SIGKILL);
}

struct shoal_shim__job *shoal_shim__job_start(struct shoal_shim__runc *rc, const char *const *args,
					      const int fds[3], bool console, int timeout_ms,
					      shoal_shim__job_cb cb, void *ctx,
					      struct shoal_err *err)
{
	struct shoal_shim__job *j = shoal_calloc(1, sizeof(*j));
	const char **argv = NULL;
	size_t nargs = 0, i, k = 0;

	j->rc = rc;
	j->what = shoal_strdup(args[0]);
	j->console_lfd = j->console_cfd = j->master = -1;
	j->cb = cb;
	j->ctx = ctx;
	rc->seq++;
	j->log_path = shoal_asprintf("%s/runc-%u.log", rc->dir, rc->seq);
	unlink(j->log_path);
	if (console && console_listen(j, err) < 0)
		goto fail;
	while (args[nargs] != NULL)
		nargs++;
	argv = shoal_calloc(nargs + 10, sizeof(*argv));
	argv[k++] = rc->runtime;
	argv[k++] = "--root";
	argv[k++] = rc->root;
	argv[k++] = "--log";
	argv[k++] = j->log_path;
	argv[k++] = "--log-format";
	argv[k++] = "json";
	argv[k++] = args[0];
	if (console) {
		argv[k++] = "--console-socket";
		argv[k++] = j->console_arg;
	}
	for (i = 1; i < nargs; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	if (shoal_shim__spawn(argv, fds, &j->pid, err) < 0)
		goto fail;
	free(argv);
	shoal_list_add_tail(&rc->jobs, &j->link);
	shoal_shim__timer_start(rc->loop, &j->timer, timeout_ms, on_timeout);
	shoal_log_debug("runc started", "command=%s pid=%d", j->what, (int)j->pid);
	return j;
fail:
	free(argv);
	console_close(j);
	free(j->log_path);
	free(j->what);
	free(j);
	return NULL;
}

void shoal_shim__runc_fini(struct shoal_shim__runc *rc)
{
	struct shoal_shim__job *j;

	while (!shoal_list_empty(&rc->jobs)) {
		j = shoal_list_entry(rc->jobs.next, struct shoal_shim__job, link);
		shoal_list_del(&j->link);
		shoal_shim__timer_stop(&j->timer);
		if (j->ctx_free != NULL)
			j->ctx_free(j->ctx);
		job_free(&j->defer);
	}
}

bool shoal_shim__runc_reaped(struct shoal_shim__runc *rc, pid_t pid, int status)
{
	struct shoal_shim__job *j = NULL;
	struct shoal_list *pos;
	struct shoal_err err;
	char msg[sizeof(err.msg)];
	bool failed;

	shoal_list_foreach(pos, &rc->jobs) {
		struct shoal_shim__job *x = shoal_list_entry(pos, struct shoal_shim__job, link);

		if (x->pid == pid) {
			j = x;
			break;
		}
	}
	if (j == NULL)
		return false;
	shoal_list_del(&j->link);
	shoal_shim__timer_stop(&j->timer);
	/* runc sent the master before it exited: it is in the socket even if the poll that
	 * would have said so has not run yet */
	if (j->console_path != NULL && j->master < 0) {
		console_step(j);
		if (j->master < 0 && j->console_cfd >= 0)
			console_step(j);
	}
	console_close(j);
	failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	shoal_err_clear(&err);
	if (j->timed_out) {
		shoal_errorf(&err, 500, "runc %s timed out", j->what);
	} else if (failed) {
		if (shoal_shim__runc_log_error(j->log_path, msg, sizeof(msg)) == 0)
			shoal_errorf(&err, 500, "%s", msg);
		else if (WIFEXITED(status))
			shoal_errorf(&err, 500, "runc %s failed: exit status %d", j->what,
				     WEXITSTATUS(status));
		else
			shoal_errorf(&err, 500, "runc %s failed: %s", j->what,
				     strsignal(WTERMSIG(status)));
	}
	j->cb(j, failed || j->timed_out ? &err : NULL);
	shoal_shim__defer(rc->loop, &j->defer, job_free);
	return true;
}
