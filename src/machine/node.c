/* The node init: the process that is a node. The CLI forks a child that unshares the
 * namespaces and forks again, so the node init is pid 1 of the new PID namespace, in a
 * session of its own and reparented away from the CLI (machines outlive the command that
 * made them). The three talk over a SOCK_SEQPACKET pair in fixed-size, versioned
 * messages (crun's sync socket): the child sends the init's host pid; the CLI, which alone
 * sees the host's network, makes the veth with its eth0 end inside the node and sends
 * "go" with the address; the init sets up mounts and network, starts shoald, and answers
 * "ready" once shoald's socket accepts, or the error that stopped it. Then the init only
 * reaps, and turns SIGTERM into a clean shoald shutdown followed by its own exit, which
 * makes the kernel kill the rest of the node. */
#include "machine/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "machine"

#define MSG_VERSION 1
#define SYNC_FD	    3 /* where the init keeps its end of the pair */

/* How long the init gives shoald to stop on SIGTERM before SIGKILL (docker stop's 10 s). */
#define STOP_GRACE_S 10
/* How long the CLI waits for shoald to accept on its socket. */
#define READY_TIMEOUT_MS 30000

enum msg_type {
	MSG_PID = 1, /* child -> CLI: pid is the init's host pid */
	MSG_GO,	     /* CLI -> init: eth0 is there; addr, prefix, gw to give it */
	MSG_READY,   /* init -> CLI: shoald accepts on its socket */
	MSG_ERROR,   /* child or init -> CLI: text says what failed */
};

struct msg {
	uint32_t version;
	uint32_t type;
	int32_t pid;
	uint32_t addr, gw;
	int32_t prefix;
	int32_t see_log; /* MSG_ERROR: shoald's log says more */
	char text[512];
};

/* What the init needs, prepared by the CLI before the fork. */
struct boot_args {
	const char *name;
	const char *data; /* <root>/<name>/data */
	const char *shoald;
	const char *mirror;   /* --registry-mirror, "" for none */
	const char *insecure; /* --insecure-registry, "" for none */
	int log_fd;
};

static int send_msg(int fd, struct msg *m)
{
	m->version = MSG_VERSION;
	if (send(fd, m, sizeof(*m), MSG_NOSIGNAL) != (ssize_t)sizeof(*m))
		return -1;
	return 0;
}

/* Reads one message, waiting up to timeout_ms (-1: forever). A closed peer, a short or
 * foreign message is an error. */
static int recv_msg(int fd, struct msg *m, int timeout_ms, struct shoal_err *err)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return shoal_errorf(err, 500, "timed out after %d ms", timeout_ms);
	if (r < 0)
		return shoal_errorf_sys(err, 500, errno, "poll: %s", strerror(errno));
	do
		n = recv(fd, m, sizeof(*m), 0);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return shoal_errorf(err, 500, "the node init exited");
	if (n != (ssize_t)sizeof(*m) || m->version != MSG_VERSION)
		return shoal_errorf(err, 500, "bad message from the node init (%zd bytes)", n);
	m->text[sizeof(m->text) - 1] = '\0';
	return 0;
}

/* In the child and the init: report err to the CLI and exit. */
static void __attribute__((noreturn)) fail(int fd, const struct shoal_err *err, bool see_log)
{
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = MSG_ERROR;
	m.see_log = see_log;
	snprintf(m.text, sizeof(m.text), "%s", err->msg);
	send_msg(fd, &m);
	_exit(1);
}

/* Node init: mounts *********************************************************************/

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
			continue;
		}
		*d++ = *s;
	}
	*d = '\0';
}

/* The node starts with a copy of the host's mounts. Copies of the host's containers'
 * namespace files and root file systems would keep those alive as long as the node, and
 * are none of its business: detach them. */
static void drop_host_container_mounts(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *fields[10], *save = NULL, *tok, *sep, *fstype;
		int n = 0;

		for (tok = strtok_r(line, " \n", &save); tok != NULL && n < 10;
		     tok = strtok_r(NULL, " \n", &save))
			fields[n++] = tok;
		if (n < 10)
			continue;
		/* the optional fields end at "-", then comes the file system type */
		sep = NULL;
		for (int i = 6; i < n; i++) {
			if (strcmp(fields[i], "-") == 0) {
				sep = fields[i];
				fstype = i + 1 < n ? fields[i + 1] : NULL;
				break;
			}
		}
		if (sep == NULL || fstype == NULL)
			continue;
		if (strcmp(fstype, "nsfs") != 0 && strcmp(fstype, "overlay") != 0)
			continue;
		unescape(fields[4]);
		if (strcmp(fields[4], "/") != 0)
			umount2(fields[4], MNT_DETACH);
	}
	fclose(f);
}

static int mnt(const char *src, const char *dst, const char *type, unsigned long flags,
	       const char *data, struct shoal_err *err)
{
	if (mount(src, dst, type, flags, data) < 0)
		return shoal_errorf_sys(err, 500, errno, "cannot mount %s on %s: %s",
					src ? src : type, dst, strerror(errno));
	return 0;
}

static int mounts_setup(const struct boot_args *a, struct shoal_err *err)
{
	const char *cg = "/run/.shoal-machine-cgroup";
	struct stat st;

	/* nothing the node mounts may reach the host, nor the host's later mounts the node */
	if (mnt(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL, err) < 0)
		return -1;
	drop_host_container_mounts();
	/* the node's own PID namespace, as its processes see it */
	if (mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0)
		return -1;
	if (mnt("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", err) < 0)
		return -1;
	if (mkdir("/run/lock", 01777) == 0)
		chmod("/run/lock", 01777);
	/* Debian's /var/run is a link to /run; elsewhere it may be a directory of its own */
	if (lstat("/var/run", &st) == 0 && S_ISDIR(st.st_mode) &&
	    mnt("tmpfs", "/var/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", err) < 0)
		return -1;
	/* A sysfs mounted from inside the node lists the node's links under /sys/class/net
	 * (shoald writes knobs there). It would hide the cgroup mounts below it: move them
	 * aside and back on top. */
	if (mkdir(cg, 0700) < 0)
		return shoal_errorf_sys(err, 500, errno, "cannot create %s: %s", cg,
					strerror(errno));
	if (mnt("/sys/fs/cgroup", cg, NULL, MS_BIND | MS_REC, NULL, err) < 0 ||
	    mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0 ||
	    mnt(cg, "/sys/fs/cgroup", NULL, MS_MOVE, NULL, err) < 0)
		return -1;
	rmdir(cg);
	if (mnt(a->data, "/var/lib/shoal", NULL, MS_BIND, NULL, err) < 0)
		return -1;
	return 0;
}

/* Node init: shoald ********************************************************************/

static void on_signal(int sig)
{
	(void)sig;
}

static pid_t shoald_start(const struct boot_args *a, struct shoal_err *err)
{
	char *argv[12] = {
		(char *)a->shoald,    "-H",	   "unix:///var/run/docker.sock", "-H",
		"tcp://0.0.0.0:2376", "--pidfile", "/var/run/shoald.pid",	  NULL,
	};
	int argc = 7;
	sigset_t none;

	if (a->mirror != NULL && a->mirror[0] != '\0') {
		argv[argc++] = "--registry-mirror";
		argv[argc++] = (char *)a->mirror;
	}
	if (a->insecure != NULL && a->insecure[0] != '\0') {
		argv[argc++] = "--insecure-registry";
		argv[argc++] = (char *)a->insecure;
	}
	argv[argc] = NULL;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return shoal_errorf_sys(err, 500, errno, "cannot fork shoald: %s", strerror(errno));
	if (pid > 0)
		return pid;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	close(SYNC_FD);
	unsetenv("DOCKER_HOST");
	unsetenv("NOTIFY_SOCKET");
	unsetenv("LISTEN_FDS");
	execv(a->shoald, argv);
	fprintf(stderr, "shoal-machine: cannot run %s: %s\n", a->shoald, strerror(errno));
	_exit(127);
}

static void describe_exit(int status, char *out, size_t size)
{
	if (WIFEXITED(status))
		snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, size, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, size, "stopped");
}

/* Waits until shoald accepts on its socket, or exits, or READY_TIMEOUT_MS pass. */
static int shoald_wait(pid_t pid, struct shoal_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec now, end, tick = { 0, 5 * 1000 * 1000 };
	char how[64];
	int status;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", "/var/run/docker.sock");
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += READY_TIMEOUT_MS / 1000;
	for (;;) {
		int fd, r;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			describe_exit(status, how, sizeof(how));
			return shoal_errorf(err, 500, "shoald %s", how);
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return shoal_errorf_sys(err, 500, errno, "socket: %s", strerror(errno));
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (r == 0)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			return shoal_errorf(err, 504,
					    "shoald did not answer on /var/run/docker.sock in %d s",
					    READY_TIMEOUT_MS / 1000);
		nanosleep(&tick, NULL);
	}
}

/* The init's life once shoald runs: reap everything (orphans of the node come here, as
 * to any pid 1), and on SIGTERM or SIGINT stop shoald, SIGKILL it after STOP_GRACE_S,
 * and exit when it is gone. */
static void __attribute__((noreturn)) reap(int sfd, pid_t shoald)
{
	struct signalfd_siginfo si;
	bool stopping = false;
	char how[64];
	int status;
	pid_t p;

	for (;;) {
		ssize_t n = read(sfd, &si, sizeof(si));

		if (n != (ssize_t)sizeof(si)) {
			if (n < 0 && errno == EINTR)
				continue;
			_exit(1);
		}
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (stopping)
				break;
			stopping = true;
			if (shoald == 0)
				_exit(0);
			shoal_log_info("stopping the node", "shoald=%d", (int)shoald);
			kill(shoald, SIGTERM);
			alarm(STOP_GRACE_S);
			break;
		case SIGALRM:
			if (stopping && shoald > 0) {
				shoal_log_warn("shoald did not stop in time, killing it",
					       "grace=%ds", STOP_GRACE_S);
				kill(shoald, SIGKILL);
			}
			break;
		case SIGCHLD:
			while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
				if (p != shoald)
					continue;
				shoald = 0;
				describe_exit(status, how, sizeof(how));
				if (stopping)
					_exit(0);
				shoal_log_error("shoald exited; the node keeps running without it",
						"how=%s", shoal_log_q(how));
			}
			break;
		}
	}
}

/* ps shows the command line of the CLI the init was forked from: overwrite it in place
 * with "shoal-machine NAME" (setproctitle's way; PR_SET_MM would need CAP_SYS_RESOURCE).
 * The area is found in /proc/self/stat (fields 48 and 49), and is always longer: the CLI's
 * own line held "machine", the verb and the name. */
static void set_cmdline(const char *name)
{
	unsigned long start = 0, end = 0;
	char buf[1024], *p;
	ssize_t n;
	int fd, field;

	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	for (field = 2; p != NULL && field < 48; field++) {
		p = strchr(p + 1, ' ');
	}
	if (p == NULL || sscanf(p + 1, "%lu %lu", &start, &end) != 2 || end <= start ||
	    end - start < strlen(name) + sizeof("shoal-machine "))
		return;
	memset((char *)start, 0, end - start);
	snprintf((char *)start, end - start, "shoal-machine %s", name);
}

static void __attribute__((noreturn)) node_init(int fd, const struct boot_args *a)
{
	struct shoal_err err;
	struct msg m;
	sigset_t set;
	pid_t shoald;
	int sfd, null, log;

	shoal_err_clear(&err);
	prctl(PR_SET_NAME, "shoal-machine", 0, 0, 0);
	set_cmdline(a->name);
	/* Out of the way of stdio first (the CLI may have run with 0, 1 or 2 closed), then
	 * stdio of our own: nothing of the CLI's, whose caller would wait for our EOF. */
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	log = fcntl(a->log_fd, F_DUPFD_CLOEXEC, 10);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0 || log < 0 || null < 0 || dup2(null, STDIN_FILENO) < 0 ||
	    dup2(log, STDOUT_FILENO) < 0 || dup2(log, STDERR_FILENO) < 0 ||
	    dup3(fd, SYNC_FD, O_CLOEXEC) < 0)
		_exit(1); /* no way to tell the CLI: it sees the pair close */
	fd = SYNC_FD;
	close_range(SYNC_FD + 1, ~0u, 0);

	if (mounts_setup(a, &err) < 0)
		fail(fd, &err, false);
	/* keep no directory of the caller's busy (its file system could not be unmounted) */
	if (chdir("/") < 0) {
		shoal_errorf_sys(&err, 500, errno, "chdir /: %s", strerror(errno));
		fail(fd, &err, false);
	}
	umask(022);
	if (sethostname(a->name, strlen(a->name)) < 0) {
		shoal_errorf_sys(&err, 500, errno, "cannot set the hostname: %s", strerror(errno));
		fail(fd, &err, false);
	}
	if (recv_msg(fd, &m, -1, &err) < 0)
		_exit(1); /* the CLI is gone: nobody to tell */
	if (m.type != MSG_GO) {
		shoal_errorf(&err, 500, "unexpected message %u", m.type);
		fail(fd, &err, false);
	}
	if (shoal_machine__node_net_setup(m.addr, m.prefix, m.gw, &err) < 0)
		fail(fd, &err, false);

	/* Signals arrive on a signalfd. Handlers are installed too: pid 1 of a PID namespace
	 * gets no signal from outside it that it does not handle. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGALRM);
	signal(SIGCHLD, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGALRM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		shoal_errorf_sys(&err, 500, errno, "signalfd: %s", strerror(errno));
		fail(fd, &err, false);
	}
	shoald = shoald_start(a, &err);
	if (shoald < 0)
		fail(fd, &err, false);
	if (shoald_wait(shoald, &err) < 0)
		fail(fd, &err, true);
	memset(&m, 0, sizeof(m));
	m.type = MSG_READY;
	send_msg(fd, &m);
	close(fd);
	shoal_log_info("node is up", "name=%s shoald=%d", a->name, (int)shoald);
	reap(sfd, shoald);
}

/* The first child: new namespaces, then the init as its child (unsharing a PID namespace
 * puts the caller's next child, not the caller, in it). */
static void __attribute__((noreturn)) spawn(int fd, const struct boot_args *a)
{
	struct shoal_err err;
	struct msg m;
	pid_t pid;

	shoal_err_clear(&err);
	setsid();
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID) < 0) {
		shoal_errorf_sys(&err, 500, errno, "cannot create the node's namespaces: %s",
				 strerror(errno));
		fail(fd, &err, false);
	}
	pid = fork();
	if (pid < 0) {
		shoal_errorf_sys(&err, 500, errno, "cannot fork the node init: %s",
				 strerror(errno));
		fail(fd, &err, false);
	}
	if (pid == 0)
		node_init(fd, a);
	memset(&m, 0, sizeof(m));
	m.type = MSG_PID;
	m.pid = pid;
	send_msg(fd, &m);
	_exit(0);
}

/* CLI side ******************************************************************************/

/* The last non-empty line of a file (at most its last 4 KiB), or "". */
static void last_line(const char *path, char *out, size_t size)
{
	char buf[4096];
	ssize_t n;
	off_t len;
	char *end, *start;
	int fd;

	out[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	len = lseek(fd, 0, SEEK_END);
	if (len > (off_t)sizeof(buf) - 1)
		lseek(fd, len - (off_t)sizeof(buf) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	end = buf + n;
	while (end > buf && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	start = strrchr(buf, '\n');
	start = start ? start + 1 : buf;
	snprintf(out, size, "%s", start);
}

static bool gone(pid_t pid)
{
	return shoal_machine__starttime(pid) == 0;
}

static bool wait_gone(pid_t pid, int timeout_ms)
{
	struct timespec tick = { 0, 2 * 1000 * 1000 };
	int waited;

	for (waited = 0; waited < timeout_ms; waited += 2) {
		if (gone(pid))
			return true;
		nanosleep(&tick, NULL);
	}
	return gone(pid);
}

void shoal_machine__halt(pid_t pid, int sig, int timeout_ms)
{
	if (pid <= 0 || gone(pid))
		return;
	kill(pid, sig);
	if (wait_gone(pid, timeout_ms) || sig == SIGKILL)
		return;
	kill(pid, SIGKILL);
	wait_gone(pid, 5000);
}

int shoal_machine__boot(const char *root, const struct shoal_machine *m, const char *shoald,
			pid_t *pid, struct shoal_err *err)
{
	char *dir = shoal_machine__dir(root, m->name);
	char *data = shoal_asprintf("%s/data", dir), *log = shoal_asprintf("%s/shoald.log", dir);
	struct boot_args a = { .name = m->name,
			       .data = data,
			       .shoald = shoald,
			       .mirror = m->engine_mirror,
			       .insecure = m->engine_insecure,
			       .log_fd = -1 };
	struct nl_sock *nl = NULL;
	unsigned char mac[6];
	char nspath[64], tail[256];
	struct msg msg;
	uint32_t net, addr, gw;
	int prefix, sv[2] = { -1, -1 }, nsfd = -1, status, rv = -1;
	pid_t child, node = 0;
	bool veth = false;

	if (shoal_machine__subnet_parse(m->subnet, &net, &prefix) < 0 ||
	    shoal_machine__addr_parse(m->ip, &addr) < 0) {
		shoal_errorf(err, 500, "bad address %s or subnet %s", m->ip, m->subnet);
		goto out;
	}
	gw = shoal_machine__gateway(net, prefix);
	if (access(shoald, X_OK) < 0) {
		shoal_errorf_sys(err, 500, errno, "cannot run %s: %s", shoald, strerror(errno));
		goto out;
	}
	if ((mkdir(data, 0711) < 0 && errno != EEXIST) ||
	    (mkdir("/var/lib/shoal", 0711) < 0 && errno != EEXIST)) {
		shoal_errorf_sys(err, 500, errno, "cannot create the data root: %s",
				 strerror(errno));
		goto out;
	}
	a.log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (a.log_fd < 0) {
		shoal_errorf_sys(err, 500, errno, "cannot open %s: %s", log, strerror(errno));
		goto out;
	}
	nl = shoal_machine__nl_open(err);
	if (nl == NULL)
		goto out;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		shoal_errorf_sys(err, 500, errno, "socketpair: %s", strerror(errno));
		goto out;
	}
	fflush(stdout);
	fflush(stderr);
	child = fork();
	if (child < 0) {
		shoal_errorf_sys(err, 500, errno, "fork: %s", strerror(errno));
		goto out;
	}
	if (child == 0) {
		close(sv[0]);
		spawn(sv[1], &a);
	}
	close(sv[1]);
	sv[1] = -1;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (recv_msg(sv[0], &msg, 5000, err) < 0)
		goto out;
	if (msg.type == MSG_ERROR) {
		shoal_errorf(err, 500, "%s", msg.text);
		goto out;
	}
	if (msg.type != MSG_PID || msg.pid <= 0) {
		shoal_errorf(err, 500, "unexpected message %u from the node", msg.type);
		goto out;
	}
	node = msg.pid;

	/* a veth of the same name may outlive its node for a moment (the kernel frees
	 * namespaces in the background): it is that node's, take it down now */
	shoal_machine__link_delete(nl, m->veth);
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/net", (int)node);
	nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		shoal_errorf_sys(err, 500, errno, "cannot open %s: %s", nspath, strerror(errno));
		goto out;
	}
	shoal_machine__mac(addr, mac);
	if (shoal_machine__veth_create(nl, m->bridge, m->veth, mac, nsfd, err) < 0)
		goto out;
	veth = true;
	memset(&msg, 0, sizeof(msg));
	msg.type = MSG_GO;
	msg.addr = addr;
	msg.gw = gw;
	msg.prefix = prefix;
	if (send_msg(sv[0], &msg) < 0) {
		shoal_errorf(err, 500, "the node init exited");
		goto out;
	}
	if (recv_msg(sv[0], &msg, READY_TIMEOUT_MS + 5000, err) < 0)
		goto out;
	if (msg.type == MSG_ERROR) {
		shoal_errorf(err, 500, "%s", msg.text);
		if (msg.see_log) {
			/* the log goes with the machine's directory when create fails: quote it */
			last_line(log, tail, sizeof(tail));
			if (tail[0] != '\0') {
				char cause[sizeof(err->msg)];

				memcpy(cause, err->msg, sizeof(cause));
				shoal_errorf(err, 500, "%s; its log ends with: %s", cause, tail);
			}
		}
		goto out;
	}
	if (msg.type != MSG_READY) {
		shoal_errorf(err, 500, "unexpected message %u from the node", msg.type);
		goto out;
	}
	if (shoal_machine__pid_save(root, m->name, node, err) < 0)
		goto out;
	*pid = node;
	rv = 0;
out:
	if (rv < 0 && node > 0)
		shoal_machine__halt(node, SIGKILL, 5000);
	if (rv < 0 && veth)
		shoal_machine__link_delete(nl, m->veth);
	if (nsfd >= 0)
		close(nsfd);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (a.log_fd >= 0)
		close(a.log_fd);
	shoal_machine__nl_close(nl);
	free(dir);
	free(data);
	free(log);
	return rv;
}

/* Node cgroups ******************************************************************************/

static void cgroup_rmdir(const char *path)
{
	struct timespec tick = { 0, 5 * 1000 * 1000 };
	int i;

	/* the last tasks of a cgroup leave it a moment after they are reaped */
	for (i = 0; i < 200; i++) {
		if (rmdir(path) == 0 || errno != EBUSY)
			return;
		nanosleep(&tick, NULL);
	}
}

void shoal_machine__cgroups_remove(const char *root, const char *name)
{
	char *dir = shoal_asprintf("%s/%s/data/containers", root, name);
	DIR *d = opendir(dir), *cg = NULL;
	struct dirent *de, *ce;

	free(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *path;

		if (de->d_name[0] == '.')
			continue;
		/* cgroup v2: one tree; v1: a tree per controller */
		path = shoal_asprintf("/sys/fs/cgroup/shoal/%s", de->d_name);
		cgroup_rmdir(path);
		free(path);
		cg = opendir("/sys/fs/cgroup");
		if (cg == NULL)
			continue;
		while ((ce = readdir(cg)) != NULL) {
			if (ce->d_name[0] == '.')
				continue;
			path = shoal_asprintf("/sys/fs/cgroup/%s/shoal/%s", ce->d_name, de->d_name);
			cgroup_rmdir(path);
			free(path);
		}
		closedir(cg);
	}
	closedir(d);
}
