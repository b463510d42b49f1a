/* Local nodes made of Linux namespaces, the way docker-machine made VirtualBox VMs: what
 * `shoal machine` drives. This module owns, per storage root (--storage-path, default
 * /var/lib/shoal-machine):
 *  - <root>/<NAME>/config.json (name, address, subnet, bridge, veth), <root>/<NAME>/pid
 *    (the node init's host pid and start time), <root>/<NAME>/shoald.log, and
 *    <root>/<NAME>/data, the node's data root; <root>/.lock serialises the commands that
 *    change anything;
 *  - on the host: one bridge per subnet ("shoalm" + the network address in hex, e.g.
 *    shoalmc0a86300 for 192.168.99.0/24) holding the subnet's first address, and one veth
 *    per running node ("smv" + the node's address in hex) on it. Nothing else is added to
 *    the host: no route, no NAT, no nftables rule, no mount (the node's mounts live in its
 *    own mount namespace), and no process but each node's init;
 *  - per running node, a "node init" process forked from the CLI: pid 1 of new PID, mount,
 *    network, UTS and IPC namespaces. It makes / private, mounts its own /proc, a fresh
 *    sysfs (so /sys/class/net is the node's), a tmpfs on /run (Debian's /var/run, so
 *    /var/run/docker.sock and shoald's exec root /run/shoal are the node's own), binds
 *    <root>/<NAME>/data on /var/lib/shoal (created empty on the host if missing, and
 *    left there), sets the hostname, brings lo and eth0 (address, default route via the
 *    bridge) up, then runs shoald -H unix:///var/run/docker.sock -H tcp://0.0.0.0:2376
 *    (found next to the running program) and reaps. Killing it kills the whole node: the
 *    kernel SIGKILLs every process of a PID namespace whose init dies (shims and
 *    containers too, which live in nested namespaces), and the namespaces, the veth and
 *    the mounts go with the last process.
 * A node's shoald makes its own bridge (shoal0) and nftables table inside the node's
 * network namespace. Containers' cgroups (/sys/fs/cgroup/.../shoal/<id>) are host-wide:
 * stop, kill and rm remove those of the node's containers once its processes are gone.
 *
 * For the CLI only (a short-lived, single-threaded process): these calls fork, setns and
 * wait, and they block for up to a few seconds. Nothing here may run in shoald. */
#ifndef SHOAL_MACHINE_H
#define SHOAL_MACHINE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define SHOAL_MACHINE_DEFAULT_STORAGE "/var/lib/shoal-machine"
#define SHOAL_MACHINE_DEFAULT_SUBNET  "192.168.99.0/24"
#define SHOAL_MACHINE_DRIVER	      "shoal"
/* The node's shoald listens here on every address, plain HTTP (docker-machine's port,
 * without its TLS). */
#define SHOAL_MACHINE_DOCKER_PORT 2376
/* Nodes get addresses from the subnet's network address + 100 up (192.168.99.100, .101,
 * ...), the first free one; subnets too small for that start at + 2. */
#define SHOAL_MACHINE_FIRST_HOST 100
#define SHOAL_MACHINE_NAME_MAX	 63

enum shoal_machine_state {
	SHOAL_MACHINE_STOPPED,
	SHOAL_MACHINE_RUNNING,
	SHOAL_MACHINE_ERROR, /* its config cannot be read: error says why */
};

/* A machine as its config and the host's processes describe it. */
struct shoal_machine {
	char name[SHOAL_MACHINE_NAME_MAX + 1];
	char ip[16];	  /* "192.168.99.100" */
	char subnet[19];  /* "192.168.99.0/24" */
	char gateway[16]; /* the bridge's address, "192.168.99.1" */
	char bridge[16];  /* "shoalmc0a86300" */
	char veth[16];	  /* the host end, "smvc0a86364"; eth0 inside */
	enum shoal_machine_state state;
	int pid;	 /* the node init's pid on the host; 0 unless running */
	char error[256]; /* why the state is SHOAL_MACHINE_ERROR */
	/* docker-machine's engine options, given to the node's shoald at each start: its
	 * --registry-mirror and --insecure-registry, "" for none */
	char engine_mirror[256];
	char engine_insecure[256];
};

/* docker-machine's rule: a letter or digit, then letters, digits, '.' and '-' (at most
 * SHOAL_MACHINE_NAME_MAX characters: the name is the node's hostname). */
bool shoal_machine_name_valid(const char *name);

/* The shoald to run in nodes: "shoald" in the directory of the running program. New
 * string. */
char *shoal_machine_shoald_path(void);

/* Creates machine name under root and starts it; returns once its shoald answers on its
 * socket. subnet is a CIDR ("192.168.250.0/24"; any address inside names the subnet) or
 * NULL: then the subnet of the root's existing machines, else
 * SHOAL_MACHINE_DEFAULT_SUBNET. A subnet overlapping a host route of another device is
 * refused. Errors use docker-machine's words: 409 "Host already exists: \"node1\"", 400
 * "Invalid hostname specified. ...". On failure nothing of the machine is left. Fills
 * *out when out is not NULL. */
int shoal_machine_create(const char *root, const char *name, const char *subnet, const char *shoald,
			 struct shoal_machine *out, struct shoal_err *err) SHOAL_MUST_CHECK;
/* The same, with docker-machine's --engine-registry-mirror and --engine-insecure-registry
 * (each may be NULL), kept in the machine's config for its later starts. */
int shoal_machine_create_engine(const char *root, const char *name, const char *subnet,
				const char *shoald, const char *mirror, const char *insecure,
				struct shoal_machine *out, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Starts a stopped machine again with the same address and data root. Starting a
 * running machine does nothing. */
int shoal_machine_start(const char *root, const char *name, const char *shoald,
			struct shoal_err *err) SHOAL_MUST_CHECK;

/* Stops a machine cleanly, as a powered-off VM: SIGTERM to shoald through the node init,
 * which waits up to 10 s for it to exit (then SIGKILLs it) and exits, which kills
 * everything else in the node. Keeps the machine's config and data. Stopping a stopped
 * machine does nothing. */
int shoal_machine_stop(const char *root, const char *name, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Kills a machine abruptly, as a host losing power: SIGKILL to its init, so every process
 * in it dies at once; shoald cleans nothing. Keeps config and data. */
int shoal_machine_kill(const char *root, const char *name, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Kills the machine if it runs and removes everything it made: its veth, its state and
 * data, its containers' cgroups, and the bridge when no node is left on it. With force,
 * the state is removed even when the rest fails. */
int shoal_machine_remove(const char *root, const char *name, bool force,
			 struct shoal_err *err) SHOAL_MUST_CHECK;

/* Reads machine name: 404 "Host does not exist: \"name\"" when root has no such
 * machine. */
int shoal_machine_get(const char *root, const char *name, struct shoal_machine *m,
		      struct shoal_err *err) SHOAL_MUST_CHECK;

/* Every machine under root (a missing root has none), sorted by name as docker-machine
 * sorts (natural order, case-insensitive). *out is a new array for free(). Machines
 * whose config is unreadable come with state SHOAL_MACHINE_ERROR. */
int shoal_machine_list(const char *root, struct shoal_machine **out, size_t *n,
		       struct shoal_err *err) SHOAL_MUST_CHECK;

/* The Engine version of a running machine's shoald ("0.1.0"), asked with GET /version on
 * the node's own /var/run/docker.sock, giving up after timeout_ms. */
int shoal_machine_docker_version(const struct shoal_machine *m, long timeout_ms, char *out,
				 size_t size, struct shoal_err *err) SHOAL_MUST_CHECK;

/* Runs argv (argv[0] looked up in PATH; NULL or empty: $SHELL, else /bin/sh) inside a
 * running machine: in its PID, mount, network, UTS and IPC namespaces, in /, with the
 * caller's stdio and environment less DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH,
 * DOCKER_CONTEXT and DOCKER_MACHINE_NAME (so `docker` reaches the node's own socket).
 * Waits for it; *status is its exit status (128 + signal when killed). */
int shoal_machine_exec(const struct shoal_machine *m, char *const *argv, int *status,
		       struct shoal_err *err) SHOAL_MUST_CHECK;

#endif
