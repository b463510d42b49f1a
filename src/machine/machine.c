/* The machine commands' operations: create, start, stop, kill, remove, get and list, each
 * under the storage root's lock when it changes anything. The node init (node.c), the
 * host's links (host.c) and the state files (store.c) do the work. */
#include "machine/internal.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mem.h"

/* How long stop waits for a node: the init's own grace for shoald, and some. */
#define STOP_TIMEOUT_MS 15000
#define KILL_TIMEOUT_MS 5000

char *shoal_machine_shoald_path(void)
{
	char self[4096], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return shoal_strdup("shoald");
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	return shoal_asprintf("%s/shoald", self);
}

static void fill_state(const char *root, struct shoal_machine *m)
{
	m->pid = shoal_machine__pid_load(root, m->name);
	m->state = m->pid > 0 ? SHOAL_MACHINE_RUNNING : SHOAL_MACHINE_STOPPED;
}

int shoal_machine_get(const char *root, const char *name, struct shoal_machine *m,
		      struct shoal_err *err)
{
	memset(m, 0, sizeof(*m));
	if (!shoal_machine_name_valid(name))
		return shoal_errorf(err, 404, "Host does not exist: \"%s\"", name);
	if (shoal_machine__config_load(root, name, m, err) < 0)
		return -1;
	fill_state(root, m);
	return 0;
}

static int cmp_machines(const void *a, const void *b)
{
	const struct shoal_machine *x = a, *y = b;

	return shoal_machine__name_cmp(x->name, y->name);
}

int shoal_machine_list(const char *root, struct shoal_machine **out, size_t *n,
		       struct shoal_err *err)
{
	struct shoal_machine *ms = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	*out = NULL;
	*n = 0;
	d = opendir(root);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		return shoal_errorf_sys(err, 500, errno, "cannot read %s: %s", root,
					strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		struct shoal_machine *m;
		struct shoal_err lerr;
		struct stat st;
		char *dir;

		if (!shoal_machine_name_valid(de->d_name))
			continue;
		dir = shoal_machine__dir(root, de->d_name);
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			free(dir);
			continue;
		}
		free(dir);
		if (count == cap) {
			cap = cap ? 2 * cap : 8;
			ms = shoal_realloc(ms, cap * sizeof(*ms));
		}
		m = &ms[count++];
		memset(m, 0, sizeof(*m));
		shoal_err_clear(&lerr);
		if (shoal_machine__config_load(root, de->d_name, m, &lerr) < 0) {
			/* a machine being created has no config yet: not one to list */
			if (lerr.status == 404) {
				count--;
				continue;
			}
			m->state = SHOAL_MACHINE_ERROR;
			snprintf(m->error, sizeof(m->error), "%s", lerr.msg);
			continue;
		}
		fill_state(root, m);
	}
	closedir(d);
	if (count > 1)
		qsort(ms, count, sizeof(*ms), cmp_machines);
	*out = ms;
	*n = count;
	return 0;
}

/* The subnet a new machine goes on when none is asked: the one its siblings use. */
static void default_subnet(const char *root, char *out, size_t size)
{
	struct shoal_machine *ms = NULL;
	struct shoal_err err;
	size_t n = 0, i;

	snprintf(out, size, "%s", SHOAL_MACHINE_DEFAULT_SUBNET);
	if (shoal_machine_list(root, &ms, &n, &err) < 0)
		return;
	for (i = 0; i < n; i++) {
		if (ms[i].state != SHOAL_MACHINE_ERROR) {
			snprintf(out, size, "%s", ms[i].subnet);
			break;
		}
	}
	free(ms);
}

/* Picks the machine's address: the first free one of the subnet, skipping those of the
 * root's machines and those whose veth exists on the host (a node of another root on the
 * same subnet). */
static int pick_address(const char *root, struct nl_sock *nl, uint32_t net, int prefix,
			uint32_t *addr, struct shoal_err *err)
{
	struct shoal_machine *ms = NULL;
	uint32_t *used = NULL, a;
	size_t n = 0, nused = 0, i;
	char veth[16];
	int rv = -1;

	if (shoal_machine_list(root, &ms, &n, err) < 0)
		return -1;
	used = shoal_calloc(n + 1, sizeof(*used));
	for (i = 0; i < n; i++)
		if (ms[i].state != SHOAL_MACHINE_ERROR &&
		    shoal_machine__addr_parse(ms[i].ip, &used[nused]) == 0)
			nused++;
	for (;;) {
		if (shoal_machine__addr_next(net, prefix, used, nused, &a) < 0) {
			shoal_errorf(err, 507, "no address left in the subnet");
			goto out;
		}
		shoal_machine__veth_name(a, veth);
		if (!shoal_machine__link_exists(nl, veth))
			break;
		used = shoal_realloc(used, (nused + 1) * sizeof(*used));
		used[nused++] = a;
	}
	*addr = a;
	rv = 0;
out:
	free(used);
	free(ms);
	return rv;
}

int shoal_machine_create(const char *root, const char *name, const char *subnet, const char *shoald,
			 struct shoal_machine *out, struct shoal_err *err)
{
	return shoal_machine_create_engine(root, name, subnet, shoald, NULL, NULL, out, err);
}

int shoal_machine_create_engine(const char *root, const char *name, const char *subnet,
				const char *shoald, const char *mirror, const char *insecure,
				struct shoal_machine *out, struct shoal_err *err)
{
	struct shoal_machine m;
	struct nl_sock *nl = NULL;
	char *dir = NULL, sub[19], text[16];
	const char *want;
	uint32_t net, addr;
	int prefix, lock = -1, rv = -1;
	bool made_dir = false;
	struct stat st;
	pid_t pid;

	memset(&m, 0, sizeof(m));
	if (!shoal_machine_name_valid(name))
		return shoal_errorf(
			err, 400,
			"Invalid hostname specified. Allowed hostname chars are: 0-9a-zA-Z . -");
	lock = shoal_machine__lock(root, err);
	if (lock < 0)
		return -1;
	dir = shoal_machine__dir(root, name);
	if (lstat(dir, &st) == 0) {
		shoal_errorf(err, 409, "Host already exists: \"%s\"", name);
		goto out;
	}
	want = subnet;
	if (want == NULL || *want == '\0') {
		default_subnet(root, sub, sizeof(sub));
		want = sub;
	}
	if (shoal_machine__subnet_parse(want, &net, &prefix) < 0) {
		shoal_errorf(
			err, 400,
			"invalid subnet %s: give an IPv4 CIDR with a prefix from 8 to 30, such as %s",
			want, SHOAL_MACHINE_DEFAULT_SUBNET);
		goto out;
	}
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.engine_mirror, sizeof(m.engine_mirror), "%s", mirror != NULL ? mirror : "");
	snprintf(m.engine_insecure, sizeof(m.engine_insecure), "%s",
		 insecure != NULL ? insecure : "");
	shoal_machine__addr_format(net, text);
	snprintf(m.subnet, sizeof(m.subnet), "%s/%d", text, prefix);
	shoal_machine__addr_format(shoal_machine__gateway(net, prefix), m.gateway);
	shoal_machine__bridge_name(net, m.bridge);

	nl = shoal_machine__nl_open(err);
	if (nl == NULL)
		goto out;
	if (shoal_machine__subnet_check(nl, net, prefix, m.bridge, err) < 0) {
		shoal_err_wrap(err, "subnet %s", m.subnet);
		goto out;
	}
	if (pick_address(root, nl, net, prefix, &addr, err) < 0) {
		shoal_err_wrap(err, "subnet %s", m.subnet);
		goto out;
	}
	shoal_machine__addr_format(addr, m.ip);
	shoal_machine__veth_name(addr, m.veth);
	if (mkdir(dir, 0700) < 0) {
		shoal_errorf_sys(err, 500, errno, "cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	made_dir = true;
	if (shoal_machine__config_save(root, &m, err) < 0 ||
	    shoal_machine__bridge_setup(nl, m.bridge, shoal_machine__gateway(net, prefix), prefix,
					err) < 0 ||
	    shoal_machine__boot(root, &m, shoald, &pid, err) < 0)
		goto out;
	m.pid = pid;
	m.state = SHOAL_MACHINE_RUNNING;
	if (out != NULL)
		*out = m;
	rv = 0;
out:
	if (rv < 0 && made_dir) {
		shoal_machine__cgroups_remove(root, name);
		shoal_machine__rmtree(dir);
	}
	if (rv < 0 && nl != NULL && m.bridge[0] != '\0')
		shoal_machine__bridge_gc(nl, m.bridge);
	shoal_machine__nl_close(nl);
	shoal_machine__unlock(lock);
	free(dir);
	return rv;
}

int shoal_machine_start(const char *root, const char *name, const char *shoald,
			struct shoal_err *err)
{
	struct shoal_machine m;
	struct nl_sock *nl = NULL;
	uint32_t net;
	int prefix, lock, rv = -1;
	pid_t pid;

	lock = shoal_machine__lock(root, err);
	if (lock < 0)
		return -1;
	if (shoal_machine_get(root, name, &m, err) < 0)
		goto out;
	if (m.state == SHOAL_MACHINE_RUNNING) {
		rv = 0;
		goto out;
	}
	shoal_machine__pid_remove(root, name);
	/* what a kill left behind: the containers' cgroups */
	shoal_machine__cgroups_remove(root, name);
	if (shoal_machine__subnet_parse(m.subnet, &net, &prefix) < 0) {
		shoal_errorf(err, 500, "bad subnet %s in the machine's config", m.subnet);
		goto out;
	}
	nl = shoal_machine__nl_open(err);
	if (nl == NULL)
		goto out;
	if (shoal_machine__bridge_setup(nl, m.bridge, shoal_machine__gateway(net, prefix), prefix,
					err) < 0 ||
	    shoal_machine__boot(root, &m, shoald, &pid, err) < 0)
		goto out;
	rv = 0;
out:
	shoal_machine__nl_close(nl);
	shoal_machine__unlock(lock);
	return rv;
}

/* Stops or kills a machine's processes and cleans what the kernel does not: the
 * containers' cgroups, and a veth still draining. */
static int halt(const char *root, const char *name, int sig, int timeout_ms, struct shoal_err *err)
{
	struct shoal_machine m;
	struct nl_sock *nl;
	int lock, rv = -1;

	lock = shoal_machine__lock(root, err);
	if (lock < 0)
		return -1;
	if (shoal_machine_get(root, name, &m, err) < 0)
		goto out;
	if (m.state == SHOAL_MACHINE_RUNNING)
		shoal_machine__halt(m.pid, sig, timeout_ms);
	shoal_machine__pid_remove(root, name);
	shoal_machine__cgroups_remove(root, name);
	nl = shoal_machine__nl_open(err);
	if (nl != NULL) {
		shoal_machine__link_delete(nl, m.veth);
		shoal_machine__nl_close(nl);
	}
	rv = 0;
out:
	shoal_machine__unlock(lock);
	return rv;
}

int shoal_machine_stop(const char *root, const char *name, struct shoal_err *err)
{
	return halt(root, name, SIGTERM, STOP_TIMEOUT_MS, err);
}

int shoal_machine_kill(const char *root, const char *name, struct shoal_err *err)
{
	return halt(root, name, SIGKILL, KILL_TIMEOUT_MS, err);
}

int shoal_machine_remove(const char *root, const char *name, bool force, struct shoal_err *err)
{
	struct shoal_machine m;
	struct nl_sock *nl = NULL;
	char *dir = NULL;
	int lock, r, rv = -1;

	lock = shoal_machine__lock(root, err);
	if (lock < 0)
		return -1;
	if (!shoal_machine_name_valid(name)) {
		shoal_errorf(err, 404, "Host does not exist: \"%s\"", name);
		goto out;
	}
	memset(&m, 0, sizeof(m));
	if (shoal_machine__config_load(root, name, &m, err) < 0) {
		if (err->status == 404 || !force)
			goto out;
		/* a broken config: with force, the directory goes anyway */
	}
	fill_state(root, &m);
	if (m.state == SHOAL_MACHINE_RUNNING)
		shoal_machine__halt(m.pid, SIGKILL, KILL_TIMEOUT_MS);
	shoal_machine__cgroups_remove(root, name);
	nl = shoal_machine__nl_open(err);
	if (nl == NULL && !force)
		goto out;
	if (nl != NULL && m.veth[0] != '\0')
		shoal_machine__link_delete(nl, m.veth);
	dir = shoal_machine__dir(root, name);
	r = shoal_machine__rmtree(dir);
	if (r < 0) {
		shoal_errorf_sys(err, 500, -r, "cannot remove %s: %s", dir, strerror(-r));
		goto out;
	}
	if (nl != NULL && m.bridge[0] != '\0')
		shoal_machine__bridge_gc(nl, m.bridge);
	rv = 0;
out:
	shoal_machine__nl_close(nl);
	shoal_machine__unlock(lock);
	free(dir);
	return rv;
}
