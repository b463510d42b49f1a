/* Inside src/net: the network object, its endpoints, and the pieces the files share.
 * Loop thread only, except where a function says "any thread" (those touch only their
 * arguments and the file system, and also run in the thread pool or in a child). */
#ifndef SHOAL_NET_INTERNAL_H
#define SHOAL_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "base/list.h"
#include "net/net.h"

struct nl_sock;
struct nft_ctx;
struct rtnl_link;
struct shoal_net__ingress;

/* The range dockerd picks published ports from when none is asked
 * (/proc/sys/net/ipv4/ip_local_port_range's default). */
#define SHOAL_NET_PORT_MIN 32768
#define SHOAL_NET_PORT_MAX 60999

/* A detach asked while the attach of the same container is still running. */
struct shoal_net__req {
	struct shoal_list link;
	shoal_net_done_cb cb;
	void *ctx;
};

struct shoal_net__ep {
	struct shoal_list link; /* in shoal_net.eps */
	struct shoal_net_endpoint pub;
	uint32_t addr; /* pub.ip, host byte order */
	char *name;    /* the container's name, for messages */
	int *fds;      /* a reservation per port (pub.ports[i]); -1 when not held */
	bool ready;    /* its rules are in the table */
	bool attaching;
	bool saved;		    /* its file may exist in state_dir */
	bool cancel;		    /* detached while attaching: the attach fails */
	struct shoal_list detaches; /* struct shoal_net__req, answered when attach ends */
	shoal_net_attach_cb cb;
	void *ctx;
};

struct shoal_net {
	uv_loop_t *loop;
	char *bridge;
	char *state_dir;
	char *netns_dir;
	char *helper_path;
	char *table;	  /* nft table name: "shoal" for shoal0 */
	char subnet[19];  /* "172.17.0.0/16" */
	char gateway[16]; /* "172.17.0.1" */
	uint32_t net;	  /* network address, host byte order */
	uint32_t gw;
	int prefix;
	struct nl_sock *nl; /* NULL in a shoal_net__new object (tests) */
	struct nft_ctx *nft;
	struct shoal_list eps;	    /* struct shoal_net__ep */
	struct shoal_list children; /* struct shoal_net__child in flight */
	struct shoal_list fsops;    /* file jobs; the first one runs */
	bool fsop_busy;
	bool closing;  /* no new job goes to the thread pool: close runs them itself */
	int next_port; /* where the search for a free published port starts */
	struct shoal_net__ingress *ing; /* the routing mesh (ingress.c), NULL outside a swarm */
};

/* ---- net.c ---- */

/* A network object from opts without touching the kernel or the disk: what init
 * starts from, and what the rule tests use. Free with shoal_net_close(n, false). */
struct shoal_net *shoal_net__new(uv_loop_t *loop, const struct shoal_net_opts *opts,
				 struct shoal_err *err);
struct shoal_net__ep *shoal_net__ep_find(const struct shoal_net *n, const char *id);
/* Puts an endpoint in the list, kept sorted by address so that the rules come out in the
 * same order whatever the order of attaches. Takes ownership. */
void shoal_net__ep_insert(struct shoal_net *n, struct shoal_net__ep *ep);
struct shoal_net__ep *shoal_net__ep_new(const char *id, const char *name);
/* Closes the reservations too. NULL-safe. */
void shoal_net__ep_free(struct shoal_net__ep *ep);
/* Container IDs and namespace names become file names: no '/', no dot names. */
bool shoal_net__id_valid(const char *id);

/* ---- ipam.c: addresses (any thread) ---- */

/* "172.17.0.1/16" into address and prefix; -1 unless a valid IPv4 CIDR with a prefix
 * from 8 to 30. */
int shoal_net__cidr_parse(const char *s, uint32_t *addr, int *prefix);
void shoal_net__addr_format(uint32_t addr, char out[16]);
/* The first free address of net/prefix that is neither the network, the broadcast nor
 * gw and not in used[]; -1 when the subnet is full. */
int shoal_net__ipam_next(uint32_t net, int prefix, uint32_t gw, const uint32_t *used, size_t n,
			 uint32_t *out);
/* Docker's MAC for an address: 02:42 then the four bytes of the IP. */
void shoal_net__mac_from_addr(uint32_t addr, char out[18]);
/* "<prefix><7 hex of a hash of id>": veth names are stable, so detach finds the link
 * even without a record. */
void shoal_net__link_name(const char *prefix, const char *id, char out[16]);

/* Picks an address for ep and fills ip, prefix, gateway, mac and veth_host. */
int shoal_net__ep_address(struct shoal_net *n, struct shoal_net__ep *ep,
			  struct shoal_err *err) SHOAL_MUST_CHECK;

/* ---- ports.c: published port reservations ---- */

/* Binds a socket for each of ep's ports (choosing host ports asked as 0) and keeps it,
 * so that nothing else on the node gets the port. Errors are dockerd's "Bind for
 * 0.0.0.0:8080 failed: port is already allocated" (500); on error nothing is held. */
int shoal_net__ports_reserve(struct shoal_net *n, struct shoal_net__ep *ep,
			     struct shoal_err *err) SHOAL_MUST_CHECK;
/* Like reserve for a reloaded endpoint: ports that cannot be bound again are logged
 * and left without a reservation (their rules stay). */
void shoal_net__ports_rebind(struct shoal_net__ep *ep);
void shoal_net__ports_release(struct shoal_net__ep *ep);

/* ---- rules.c: the nftables table ---- */

/* Runs an nft script in the daemon's namespace as one transaction; what names the table
 * in the error ("cannot <what> nftables table ip <table>: <nft's first line>"). */
int shoal_net__nft_run(struct shoal_net *n, const char *text, const char *what, const char *table,
		       struct shoal_err *err) SHOAL_MUST_CHECK;

/* Replaces the table in one transaction. Blocking, but short: a netlink batch. */
int shoal_net__rules_apply(struct shoal_net *n, struct shoal_err *err) SHOAL_MUST_CHECK;
/* Deletes the table; a missing table is fine. */
int shoal_net__rules_delete(struct shoal_net *n, struct shoal_err *err) SHOAL_MUST_CHECK;

/* ---- link.c: links in the host namespace, by netlink ---- */

/* Creates or adopts the bridge with its address, up; *created says whether it is new. */
int shoal_net__bridge_setup(struct shoal_net *n, bool *created,
			    struct shoal_err *err) SHOAL_MUST_CHECK;
/* A veth pair: host on the bridge and up, peer created straight inside the namespace
 * open at nsfd. */
int shoal_net__veth_create(struct shoal_net *n, const char *host, const char *peer, int nsfd,
			   struct shoal_err *err) SHOAL_MUST_CHECK;
/* Deletes a link of the host namespace: 0, also when it is already gone, else a negative
 * libnl code (nl_geterror). */
int shoal_net__link_delete(struct shoal_net *n, const char *name);
/* Writes a short value to a /proc or /sys file; -errno on failure. Any thread. */
int shoal_net__write_knob(const char *path, const char *value);

/* ---- helper.c: pieces the helper verbs share (child processes only) ---- */

int shoal_net__h_enter(const char *path, struct shoal_err *err) SHOAL_MUST_CHECK;
struct nl_sock *shoal_net__h_nl_open(struct shoal_err *err);
int shoal_net__h_lo_up(struct nl_sock *sk, struct shoal_err *err) SHOAL_MUST_CHECK;
/* Sets IFF_UP on link; name is for the message. */
int shoal_net__h_link_up(struct nl_sock *sk, struct rtnl_link *link, const char *name,
			 struct shoal_err *err) SHOAL_MUST_CHECK;
/* Adds "a.b.c.d/p" with its subnet's broadcast to ifindex. */
int shoal_net__h_add_address(struct nl_sock *sk, int ifindex, const char *cidr,
			     struct shoal_err *err) SHOAL_MUST_CHECK;
/* A new network namespace bind-mounted on path, lo up; the calling process is left in
 * it. A namespace already mounted there (a crashed daemon's) is replaced. */
int shoal_net__h_netns_new(const char *path, bool replace, struct shoal_err *err) SHOAL_MUST_CHECK;

/* ---- ingress_helper.c: the routing mesh's helper verbs ---- */

/* "net-ingress-up", "net-ingress-sync", "net-ingress-attach": 1 when verb is not one of
 * them, else 0 or -1 with err. */
int shoal_net__ingress_child(int argc, char **argv, struct shoal_err *err);

/* ---- ingress.c: the routing mesh, pure parts exposed for tests ---- */

/* A published ingress port of a service and the ingress addresses it balances over. */
struct shoal_net__ing_port {
	char name[64]; /* the service's, for the rule's comment */
	char proto[4];
	int published, target;
	uint32_t *backends; /* sorted */
	size_t nbackends;
};

/* An address on another node: where its VXLAN frames go. */
struct shoal_net__ing_peer {
	uint32_t addr, vtep;
};

/* What the managers' "network" message means for this node. */
struct shoal_net__ing_conf {
	json_t *network; /* the swarm network object; NULL: no ingress here (yet) */
	json_t *peers;	 /* [{Name, IP}] of the nodes, as network inspect shows them */
	char net_id[64];
	uint32_t subnet, addr, local; /* the network, this node's address, its VTEP */
	int prefix, vni, port;
	struct shoal_net__ing_peer *peers_v; /* remote addresses, sorted */
	size_t npeers;
	struct shoal_net__ing_port *ports; /* sorted by protocol then port */
	size_t nports;
};

/* Reads msg (net.h's "network" message) for node node_id; backends of tasks in excluded
 * (task ID -> true, may be NULL) are left out. out->network NULL: nothing to build. */
int shoal_net__ingress_parse(const json_t *msg, const char *node_id, const json_t *excluded,
			     struct shoal_net__ing_conf *out,
			     struct shoal_err *err) SHOAL_MUST_CHECK;
void shoal_net__ingress_conf_fini(struct shoal_net__ing_conf *c);
/* A container's record goes (detach). */
void shoal_net__ingress_forget(struct shoal_net *n, const char *id);
/* Startup: removes what a daemon that died in a swarm left (table, link, sandbox). */
void shoal_net__ingress_cleanup(struct shoal_net *n);
/* Close: everything of the mesh goes at once, waiting attaches fail. */
void shoal_net__ingress_close(struct shoal_net *n);
/* The node's table: published ports DNATed to the sandbox's link address. New string. */
char *shoal_net__ingress_node_ruleset(const char *table, const char *link, uint32_t sbox_ip,
				      const struct shoal_net__ing_conf *c);
/* The sandbox's table: round robin over each port's backends. New string. */
char *shoal_net__ingress_sbox_ruleset(const struct shoal_net__ing_conf *c);

/* ---- child.c: helper processes (`shoal-shim net-...`) ---- */

/* Called once the helper exited and its handles are closed: err is NULL on success,
 * else its stderr line (500). n is NULL when the network was closed meanwhile: free
 * data and report nothing. */
typedef void (*shoal_net__child_cb)(struct shoal_net *n, void *data, const struct shoal_err *err);

/* Runs helper_path with args (args[0] is the verb, NULL-terminated). cb is called once,
 * never if this returns -1. */
int shoal_net__child_run(struct shoal_net *n, const char *const *args, shoal_net__child_cb cb,
			 void *data, struct shoal_err *err) SHOAL_MUST_CHECK;
/* For close: kills the helpers and makes their callbacks run with n NULL. */
void shoal_net__children_orphan(struct shoal_net *n);

/* ---- state.c: endpoint records and the file queue ---- */

json_t *shoal_net__ep_to_json(const struct shoal_net__ep *ep);
/* A record read back; NULL and err on a malformed one. */
struct shoal_net__ep *shoal_net__ep_from_json(json_t *root, struct shoal_err *err);
/* Reads every record of state_dir into n (blocking: startup only). */
int shoal_net__state_load(struct shoal_net *n, struct shoal_err *err) SHOAL_MUST_CHECK;

enum shoal_net__fsop_kind {
	SHOAL_NET_FSOP_WRITE,
	SHOAL_NET_FSOP_UNLINK,
	SHOAL_NET_FSOP_NETNS_REMOVE,
};

/* Called when a queued file job is done; result is 0 or -errno. n is NULL when the
 * network was closed meanwhile. */
typedef void (*shoal_net__fsop_cb)(struct shoal_net *n, void *data, int result);

/* File jobs run in the thread pool, one at a time in the order asked, so a record's
 * unlink never overtakes its write. Takes ownership of path and data (NULL but for
 * writes); cb may be NULL. */
void shoal_net__fsop_queue(struct shoal_net *n, enum shoal_net__fsop_kind kind, char *path,
			   char *data, shoal_net__fsop_cb cb, void *cbdata);
/* For close: jobs not started run here, synchronously; the running one finishes
 * alone. Their callbacks are called with n NULL, to free their data. */
void shoal_net__fsops_flush(struct shoal_net *n);
/* The record's path: <state_dir>/endpoints/<id>.json. New string. */
char *shoal_net__ep_path(const struct shoal_net *n, const char *id);

#endif
