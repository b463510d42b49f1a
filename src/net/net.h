/* Node networking for plain containers: the default bridge (shoal0, docker0's role),
 * a network namespace and a veth pair per container, IP allocation on the bridge's
 * subnet, outbound masquerade and published ports as one nftables table of Shoal's own
 * ("shoal"), replaced atomically. Links and addresses are made through netlink
 * (libnl-route-3), never by running `ip`; what must happen inside a container's network
 * namespace runs in a short-lived child (`shoal-shim net-...`, shoal_net_child_main),
 * because setns() is never called in the daemon. Owns the bridge, the veths, the
 * namespaces it creates under its netns directory, the port reservations and the
 * table. Loop thread only; operations are asynchronous and call back exactly once. */
#ifndef SHOAL_NET_H
#define SHOAL_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"

struct shoal_net;

struct shoal_net_opts {
	const char *bridge;	 /* "shoal0" */
	const char *bip;	 /* the bridge's address and subnet: "172.17.0.1/16" */
	const char *state_dir;	 /* files of its own (allocations), e.g. <exec-root>/net */
	const char *netns_dir;	 /* where container namespaces are bind-mounted */
	const char *helper_path; /* shoal-shim, run as `shoal-shim net-... ` for child work */
};

/* A published port: HostConfig.PortBindings resolved. host_port 0 asks for a free one
 * from the ephemeral range, as dockerd does. */
struct shoal_net_port {
	char proto[4]; /* "tcp" or "udp" */
	int container_port;
	char host_ip[46]; /* "" or "0.0.0.0": every address of the node */
	int host_port;	  /* filled in when 0 was asked */
};

struct shoal_net_endpoint {
	char id[65];	    /* the container's ID */
	char netns[256];    /* the namespace's path */
	char ip[16];	    /* "172.17.0.2" */
	int prefix;	    /* 16 */
	char gateway[16];   /* "172.17.0.1" */
	char mac[18];	    /* "02:42:ac:11:00:02" as Docker derives it from the IP */
	char veth_host[16]; /* the host side, "veth1a2b3c4" */
	struct shoal_net_port *ports;
	size_t nports;
};

typedef void (*shoal_net_done_cb)(void *ctx, const struct shoal_err *err);
typedef void (*shoal_net_ns_cb)(void *ctx, const char *path, const struct shoal_err *err);
typedef void (*shoal_net_attach_cb)(void *ctx, const struct shoal_net_endpoint *ep,
				    const struct shoal_err *err);

/* Makes (or adopts) the bridge with its address, turns on IPv4 forwarding, writes the
 * table (masquerade for the subnet, forwarding to and from the bridge), and reloads the
 * endpoints recorded in state_dir (containers that kept running while shoald was down).
 * Blocking netlink and nft calls are acceptable here: it runs once, before the loop. */
int shoal_net_init(struct shoal_net **out, uv_loop_t *loop, const struct shoal_net_opts *opts,
		   struct shoal_err *err) SHOAL_MUST_CHECK;
/* Frees the object. With remove, also deletes the bridge, the table and the namespace
 * directory's leftovers (no container is running). */
void shoal_net_close(struct shoal_net *n, bool remove);

/* Creates a new network namespace bound at <netns_dir>/<id>, its loopback up; cb gets its
 * path. */
int shoal_net_netns_create(struct shoal_net *n, const char *id, shoal_net_ns_cb cb, void *ctx,
			   struct shoal_err *err) SHOAL_MUST_CHECK;
/* Brings the loopback up in a namespace with no other link (network none). */
int shoal_net_netns_loopback(struct shoal_net *n, const char *path, shoal_net_done_cb cb, void *ctx,
			     struct shoal_err *err) SHOAL_MUST_CHECK;
/* Unmounts and removes a namespace made by shoal_net_netns_create. */
int shoal_net_netns_remove(struct shoal_net *n, const char *id, shoal_net_done_cb cb, void *ctx,
			   struct shoal_err *err) SHOAL_MUST_CHECK;

/* Connects the namespace of container id to the bridge: an address, a veth pair with
 * eth0 inside (MAC, address, default route via the bridge, lo up), and the ports
 * published (reserved on the host so a second container or another program cannot take
 * them: 500 "driver failed programming external connectivity on endpoint <name>: Bind
 * for 0.0.0.0:8080 failed: port is already allocated", as dockerd). The endpoint is
 * recorded in state_dir. ports may be NULL. */
int shoal_net_attach(struct shoal_net *n, const char *id, const char *name, const char *netns,
		     const struct shoal_net_port *ports, size_t nports, shoal_net_attach_cb cb,
		     void *ctx, struct shoal_err *err) SHOAL_MUST_CHECK;
/* Undoes attach: rules, reservations, the veth pair, the address. Idempotent. */
int shoal_net_detach(struct shoal_net *n, const char *id, shoal_net_done_cb cb, void *ctx,
		     struct shoal_err *err) SHOAL_MUST_CHECK;
/* The endpoint of a container, NULL when it has none. Borrowed. */
const struct shoal_net_endpoint *shoal_net_endpoint_get(struct shoal_net *n, const char *id);

/* The bridge network's facts for GET /networks: subnet, gateway, bridge name. */
const char *shoal_net_subnet(const struct shoal_net *n);  /* "172.17.0.0/16" */
const char *shoal_net_gateway(const struct shoal_net *n); /* "172.17.0.1" */
const char *shoal_net_bridge(const struct shoal_net *n);  /* "shoal0" */

/* ---- the routing mesh (ingress.c) ----
 *
 * The managers' "network" message, as the agent receives it on its session:
 *   {"Type": "network",
 *    "Network": the ingress network (swarm Network object: ID, Spec, DriverState.Options
 *               "com.docker.network.driver.overlay.vxlanid_list", IPAMOptions.Configs[0]
 *               Subnet and Gateway), or null when the swarm has none,
 *    "DataPathPort": the VXLAN UDP port (4789),
 *    "Nodes": [{"ID", "Hostname", "Addr": advertise IP (its VTEP), "IngressAddr":
 *               "10.0.0.2/24", its sandbox's address}],
 *    "Endpoints": [{"Task", "Node", "Addr": "10.0.0.5/24"}] every task that may run,
 *    "Services": [{"ID", "Name", "Ports": [{"Protocol", "TargetPort", "PublishedPort"}]
 *                  (ingress ports only), "Tasks": [task IDs running, in the rotation]}]} */

/* Makes the node's part of the mesh what msg (borrowed) says for node node_id: the
 * sandbox, its VXLAN peers, the published ports and their rotations. Asynchronous: the
 * sandbox's side is done in helpers, one at a time, always towards the latest message.
 * 400 on a message that cannot be read (nothing changes then). */
int shoal_net_ingress_update(struct shoal_net *n, const char *node_id, const json_t *msg,
			     struct shoal_err *err) SHOAL_MUST_CHECK;
/* The node left the swarm: everything of the mesh goes (tables, link, sandbox, and with it
 * the task containers' eth1). NULL-safe. */
void shoal_net_ingress_leave(struct shoal_net *n);
/* Gives container id (namespace at netns) an eth1 on the ingress network with address cidr
 * ("10.0.0.5/24"); an eth1 it already has is replaced. cb once done; 500 at once when the
 * node has no ingress sandbox (yet). */
int shoal_net_ingress_attach(struct shoal_net *n, const char *id, const char *netns,
			     const char *cidr, shoal_net_done_cb cb, void *ctx,
			     struct shoal_err *err) SHOAL_MUST_CHECK;
/* Takes a task out of this node's rotations at once, before its container stops (the
 * managers' next messages leave it out too). NULL-safe. */
void shoal_net_ingress_quiesce(struct shoal_net *n, const char *task_id);
/* What GET /networks shows of the ingress network on this node: {"Network": the swarm
 * object, "Address": this node's "10.0.0.2/24", "Containers": {container ID: address}
 * (eth1s made here; the caller keeps the running ones), "Peers": [{Name, IP}]}. A new
 * reference, NULL outside a swarm. */
json_t *shoal_net_ingress_info(struct shoal_net *n);

/* The nftables ruleset for a set of endpoints, as text for `nft -f` (exposed for unit
 * tests: this is what the table becomes). New string. */
char *shoal_net_ruleset(const struct shoal_net *n);

/* The children's entry point: `shoal-shim net-<verb> ...`. Returns an exit status;
 * errors are printed on stderr in one line for the parent to report. */
int shoal_net_child_main(int argc, char **argv);

#endif
