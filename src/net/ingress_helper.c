/* The routing mesh's helper verbs: what ingress.c needs done inside the ingress sandbox or a
 * container's namespace, in a short-lived `shoal-shim net-ingress-...` process, since the
 * daemon never calls setns(). Each verb opens the namespaces it needs first, then moves
 * between them; links that must live in one namespace and send from another (the VXLAN
 * device, whose UDP socket belongs to the namespace that creates it) are made from the
 * node's namespace with the target's fd.
 *
 *   net-ingress-up --sbox <path> --link <name> --link-addr <ip/31> --peer-addr <ip/31>
 *                  --addr <ip/prefix> --mac <mac>
 *        the sandbox namespace (replacing a dead daemon's), lo, br0 with the node's ingress
 *        address and MAC, forwarding on; a veth pair <name> (node) / gw0 (sandbox) with the
 *        link addresses, route_localnet on the node's end (127.0.0.1 may be DNATed to it)
 *   net-ingress-sync --sbox <path> [--vxlan <vni>,<port>,<local ip>] [--add <ip>=<vtep>]...
 *                    [--del <ip>]... [--rules <nft script>]
 *        vxlan0 made if asked and missing (no learning, ARP proxy, on br0); for each --del
 *        the static neighbour and FDB entries of the address removed, for each --add
 *        (re)written; then the sandbox's table replaced by the script, one transaction
 *   net-ingress-attach --sbox <path> --netns <path> --link <name> --addr <ip/prefix>
 *                      --mac <mac>
 *        a veth pair <name> on br0 (sandbox) / eth1 (container, MAC and address, up); an
 *        eth1 already there (the one of a sandbox that was replaced) is removed first */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <nftables/libnftables.h>

#include "base/err.h"
#include "net/internal.h"

#define MAX_ENTRIES 4096

static int open_ns(const char *path, struct shoal_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return shoal_errorf_sys(err, 500, errno, "cannot open network namespace %s: %s",
					path, strerror(errno));
	return fd;
}

static int enter_fd(int fd, const char *what, struct shoal_err *err)
{
	if (setns(fd, CLONE_NEWNET) < 0)
		return shoal_errorf_sys(err, 500, errno, "cannot enter network namespace %s: %s",
					what, strerror(errno));
	return 0;
}

static int write_knob(const char *path, const char *value, struct shoal_err *err)
{
	int r = shoal_net__write_knob(path, value);

	if (r < 0)
		return shoal_errorf_sys(err, 500, -r, "cannot set %s: %s", path, strerror(-r));
	return 0;
}

static struct nl_addr *addr_or_die(const char *s, int family, struct shoal_err *err)
{
	struct nl_addr *a = NULL;
	int nle = nl_addr_parse(s, family, &a);

	if (nle < 0) {
		shoal_errorf(err, 400, "invalid address %s: %s", s, nl_geterror(nle));
		return NULL;
	}
	return a;
}

/* The link's ifindex in the current namespace, 0 when there is none. */
static int ifindex_of(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l = NULL;
	int idx;

	if (rtnl_link_get_kernel(sk, 0, name, &l) < 0)
		return 0;
	idx = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	return idx;
}

static int link_delete(struct nl_sock *sk, const char *name, struct shoal_err *err)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int nle;

	rtnl_link_set_name(l, name);
	nle = rtnl_link_delete(sk, l);
	rtnl_link_put(l);
	if (nle < 0 && nle != -NLE_NODEV && nle != -NLE_OBJ_NOTFOUND)
		return shoal_errorf(err, 500, "cannot delete %s: %s", name, nl_geterror(nle));
	return 0;
}

/* Up, and on br0 when master > 0. */
static int link_set(struct nl_sock *sk, const char *name, int master, struct shoal_err *err)
{
	struct rtnl_link *l = NULL, *change = NULL;
	int nle, rv = -1;

	nle = rtnl_link_get_kernel(sk, 0, name, &l);
	if (nle < 0) {
		shoal_errorf(err, 500, "cannot find %s: %s", name, nl_geterror(nle));
		goto out;
	}
	change = rtnl_link_alloc();
	if (master > 0)
		rtnl_link_set_master(change, master);
	rtnl_link_set_flags(change, IFF_UP);
	nle = rtnl_link_change(sk, l, change, 0);
	if (nle < 0) {
		shoal_errorf(err, 500, "cannot bring %s up: %s", name, nl_geterror(nle));
		goto out;
	}
	rv = 0;
out:
	if (change != NULL)
		rtnl_link_put(change);
	if (l != NULL)
		rtnl_link_put(l);
	return rv;
}

/* ---- net-ingress-up ---- */

struct up_args {
	const char *sbox, *link, *link_addr, *peer_addr, *addr, *mac;
};

/* The bridge of the sandbox, given the MAC its address implies: remote nodes reach the
 * sandbox's address at that MAC through their FDB. */
static int bridge_make(struct nl_sock *sk, const struct up_args *a, struct shoal_err *err)
{
	struct rtnl_link *br = rtnl_link_bridge_alloc();
	struct nl_addr *mac = addr_or_die(a->mac, AF_LLC, err);
	int nle, idx;

	if (mac == NULL) {
		rtnl_link_put(br);
		return -1;
	}
	rtnl_link_set_name(br, "br0");
	rtnl_link_set_addr(br, mac);
	nle = rtnl_link_add(sk, br, NLM_F_CREATE | NLM_F_EXCL);
	nl_addr_put(mac);
	rtnl_link_put(br);
	if (nle < 0)
		return shoal_errorf(err, 500, "cannot create br0: %s", nl_geterror(nle));
	idx = ifindex_of(sk, "br0");
	if (shoal_net__h_add_address(sk, idx, a->addr, err) < 0 || link_set(sk, "br0", 0, err) < 0)
		return -1;
	return 0;
}

static int veth_make(struct nl_sock *sk, const char *name, const char *peer, int peer_ns,
		     int master, const char *peer_mac, struct shoal_err *err)
{
	struct rtnl_link *l = rtnl_link_veth_alloc(), *p;
	struct nl_addr *mac = NULL;
	int nle;

	rtnl_link_set_name(l, name);
	if (master > 0)
		rtnl_link_set_master(l, master);
	rtnl_link_set_flags(l, IFF_UP);
	p = rtnl_link_veth_get_peer(l);
	rtnl_link_set_name(p, peer);
	rtnl_link_set_ns_fd(p, peer_ns);
	if (peer_mac != NULL) {
		mac = addr_or_die(peer_mac, AF_LLC, err);
		if (mac == NULL) {
			rtnl_link_put(p);
			rtnl_link_veth_release(l);
			return -1;
		}
		rtnl_link_set_addr(p, mac);
		nl_addr_put(mac);
	}
	rtnl_link_put(p);
	nle = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_veth_release(l);
	if (nle < 0)
		return shoal_errorf(err, 500, "could not create veth pair %s: %s", name,
				    nl_geterror(nle));
	return 0;
}

static int cmd_up(int argc, char **argv, struct shoal_err *err)
{
	static const struct option opts[] = {
		{ "sbox", required_argument, NULL, 's' },
		{ "link", required_argument, NULL, 'l' },
		{ "link-addr", required_argument, NULL, 'L' },
		{ "peer-addr", required_argument, NULL, 'P' },
		{ "addr", required_argument, NULL, 'a' },
		{ "mac", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct up_args a = { 0 };
	struct nl_sock *sk = NULL;
	char knob[128];
	int c, node = -1, sbox = -1, rv = -1;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			a.sbox = optarg;
			break;
		case 'l':
			a.link = optarg;
			break;
		case 'L':
			a.link_addr = optarg;
			break;
		case 'P':
			a.peer_addr = optarg;
			break;
		case 'a':
			a.addr = optarg;
			break;
		case 'm':
			a.mac = optarg;
			break;
		default:
			return shoal_errorf(err, 400, "net-ingress-up: unknown option %s",
					    argv[optind - 1]);
		}
	}
	if (a.sbox == NULL || a.link == NULL || a.link_addr == NULL || a.peer_addr == NULL ||
	    a.addr == NULL || a.mac == NULL || optind != argc || strlen(a.link) >= IFNAMSIZ)
		return shoal_errorf(err, 400,
				    "usage: net-ingress-up --sbox <path> --link <name> --link-addr "
				    "<ip/31> --peer-addr <ip/31> --addr <ip/prefix> --mac <mac>");
	node = open_ns("/proc/self/ns/net", err);
	if (node < 0)
		goto out;
	/* now in the sandbox */
	if (shoal_net__h_netns_new(a.sbox, true, err) < 0)
		goto out;
	sbox = open_ns(a.sbox, err);
	sk = shoal_net__h_nl_open(err);
	if (sbox < 0 || sk == NULL || bridge_make(sk, &a, err) < 0 ||
	    write_knob("/proc/sys/net/ipv4/ip_forward", "1", err) < 0)
		goto out;
	nl_socket_free(sk);
	sk = NULL;

	/* the link between the node and the sandbox, made from the node's side */
	if (enter_fd(node, "of the node", err) < 0 || (sk = shoal_net__h_nl_open(err)) == NULL ||
	    link_delete(sk, a.link, err) < 0 ||
	    veth_make(sk, a.link, "gw0", sbox, 0, NULL, err) < 0 ||
	    shoal_net__h_add_address(sk, ifindex_of(sk, a.link), a.link_addr, err) < 0)
		goto out;
	/* the node's own 127.0.0.1 connections are DNATed out of this link */
	snprintf(knob, sizeof(knob), "/proc/sys/net/ipv4/conf/%s/route_localnet", a.link);
	if (write_knob(knob, "1", err) < 0)
		goto out;
	nl_socket_free(sk);
	sk = NULL;

	if (enter_fd(sbox, a.sbox, err) < 0 || (sk = shoal_net__h_nl_open(err)) == NULL ||
	    shoal_net__h_add_address(sk, ifindex_of(sk, "gw0"), a.peer_addr, err) < 0 ||
	    link_set(sk, "gw0", 0, err) < 0)
		goto out;
	rv = 0;
out:
	if (sk != NULL)
		nl_socket_free(sk);
	if (node >= 0)
		close(node);
	if (sbox >= 0)
		close(sbox);
	return rv;
}

/* ---- net-ingress-sync ---- */

struct sync_args {
	const char *sbox, *vxlan, *rules;
	const char *add[MAX_ENTRIES];
	const char *del[MAX_ENTRIES];
	size_t nadd, ndel;
};

/* "4096,4789,192.168.99.2": vxlan0 from the node's namespace (its socket stays there),
 * moved into the sandbox at creation, then put on br0 from inside. */
static int vxlan_make(int node, int sbox, const char *spec, struct shoal_err *err)
{
	struct rtnl_link *v = NULL;
	struct nl_sock *sk = NULL;
	struct nl_addr *local = NULL;
	unsigned vni, port;
	char ip[16];
	int nle, rv = -1;

	if (sscanf(spec, "%u,%u,%15s", &vni, &port, ip) != 3 || vni == 0 || vni > 0xffffff ||
	    port == 0 || port > 65535)
		return shoal_errorf(err, 400, "invalid --vxlan %s", spec);
	if ((local = addr_or_die(ip, AF_INET, err)) == NULL)
		goto out;
	if ((sk = shoal_net__h_nl_open(err)) == NULL)
		goto out;
	if (ifindex_of(sk, "vxlan0") > 0) {
		rv = 0;
		goto out;
	}
	nl_socket_free(sk);
	sk = NULL;
	if (enter_fd(node, "of the node", err) < 0 || (sk = shoal_net__h_nl_open(err)) == NULL)
		goto out;
	v = rtnl_link_vxlan_alloc();
	rtnl_link_set_name(v, "vxlan0");
	rtnl_link_vxlan_set_id(v, vni);
	rtnl_link_vxlan_set_port(v, port);
	rtnl_link_vxlan_set_local(v, local);
	/* addresses come from the managers, never from the wire: no learning; the device
	 * answers ARP from its static neighbours itself, so no broadcast crosses nodes */
	rtnl_link_vxlan_set_learning(v, 0);
	rtnl_link_vxlan_set_proxy(v, 1);
	/* VXLAN adds 50 bytes: keep frames within a 1500-byte underlay */
	rtnl_link_set_mtu(v, 1450);
	rtnl_link_set_ns_fd(v, sbox);
	nle = rtnl_link_add(sk, v, NLM_F_CREATE | NLM_F_EXCL);
	if (nle < 0) {
		shoal_errorf(err, 500, "cannot create vxlan0 (VNI %u, port %u): %s", vni, port,
			     nl_geterror(nle));
		goto out;
	}
	nl_socket_free(sk);
	sk = NULL;
	if (enter_fd(sbox, "of the ingress sandbox", err) < 0 ||
	    (sk = shoal_net__h_nl_open(err)) == NULL ||
	    link_set(sk, "vxlan0", ifindex_of(sk, "br0"), err) < 0)
		goto out;
	rv = 0;
out:
	if (v != NULL)
		rtnl_link_put(v);
	if (sk != NULL)
		nl_socket_free(sk);
	nl_addr_put(local);
	return rv;
}

static void mac_of(const char *ip, char out[18])
{
	struct in_addr in;

	inet_pton(AF_INET, ip, &in);
	shoal_net__mac_from_addr(ntohl(in.s_addr), out);
}

/* The ARP answer the device gives for ip (proxy), and where frames for its MAC go. With
 * vtep NULL both are deleted. */
static int entry_set(struct nl_sock *sk, int vx, const char *ip, const char *vtep,
		     struct shoal_err *err)
{
	struct rtnl_neigh *arp = rtnl_neigh_alloc(), *fdb = rtnl_neigh_alloc();
	struct nl_addr *dst = NULL, *mac = NULL, *under = NULL;
	char m[18];
	int nle, rv = -1;

	mac_of(ip, m);
	if ((dst = addr_or_die(ip, AF_INET, err)) == NULL ||
	    (mac = addr_or_die(m, AF_LLC, err)) == NULL)
		goto out;
	if (vtep != NULL && (under = addr_or_die(vtep, AF_INET, err)) == NULL)
		goto out;

	rtnl_neigh_set_ifindex(arp, vx);
	rtnl_neigh_set_dst(arp, dst);
	rtnl_neigh_set_lladdr(arp, mac);
	rtnl_neigh_set_state(arp, NUD_PERMANENT);

	rtnl_neigh_set_ifindex(fdb, vx);
	rtnl_neigh_set_lladdr(fdb, mac);
	if (under != NULL)
		rtnl_neigh_set_dst(fdb, under);
	/* after the address: libnl takes the family from the first address set */
	rtnl_neigh_set_family(fdb, AF_BRIDGE);
	rtnl_neigh_set_flags(fdb, NTF_SELF);
	rtnl_neigh_set_state(fdb, NUD_PERMANENT);

	if (vtep == NULL) {
		nle = rtnl_neigh_delete(sk, arp, 0);
		if (nle < 0 && nle != -NLE_OBJ_NOTFOUND && nle != -NLE_NOADDR) {
			shoal_errorf(err, 500, "cannot delete the neighbour %s: %s", ip,
				     nl_geterror(nle));
			goto out;
		}
		nle = rtnl_neigh_delete(sk, fdb, 0);
		if (nle < 0 && nle != -NLE_OBJ_NOTFOUND && nle != -NLE_NOADDR) {
			shoal_errorf(err, 500, "cannot delete the FDB entry of %s: %s", ip,
				     nl_geterror(nle));
			goto out;
		}
		rv = 0;
		goto out;
	}
	nle = rtnl_neigh_add(sk, arp, NLM_F_CREATE | NLM_F_REPLACE);
	if (nle < 0) {
		shoal_errorf(err, 500, "cannot add the neighbour %s: %s", ip, nl_geterror(nle));
		goto out;
	}
	nle = rtnl_neigh_add(sk, fdb, NLM_F_CREATE | NLM_F_REPLACE);
	if (nle < 0) {
		shoal_errorf(err, 500, "cannot add the FDB entry %s via %s: %s", ip, vtep,
			     nl_geterror(nle));
		goto out;
	}
	rv = 0;
out:
	nl_addr_put(dst);
	nl_addr_put(mac);
	nl_addr_put(under);
	rtnl_neigh_put(arp);
	rtnl_neigh_put(fdb);
	return rv;
}

static int rules_apply(const char *text, struct shoal_err *err)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *e;
	int rv = 0;

	if (ctx == NULL)
		return shoal_errorf(err, 500, "out of memory");
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (nft_run_cmd_from_buffer(ctx, text) != 0) {
		e = nft_ctx_get_error_buffer(ctx);
		rv = shoal_errorf(err, 500, "cannot write the ingress sandbox's table: %.*s",
				  (int)strcspn(e != NULL ? e : "", "\n"), e != NULL ? e : "");
	}
	nft_ctx_free(ctx);
	return rv;
}

static int cmd_sync(int argc, char **argv, struct shoal_err *err)
{
	static const struct option opts[] = {
		{ "sbox", required_argument, NULL, 's' },
		{ "vxlan", required_argument, NULL, 'x' },
		{ "add", required_argument, NULL, 'a' },
		{ "del", required_argument, NULL, 'd' },
		{ "rules", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct sync_args *a = calloc(1, sizeof(*a));
	struct nl_sock *sk = NULL;
	char ip[16];
	const char *eq;
	int c, node = -1, sbox = -1, vx, rv = -1;
	size_t i;

	if (a == NULL)
		return shoal_errorf(err, 500, "out of memory");
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			a->sbox = optarg;
			break;
		case 'x':
			a->vxlan = optarg;
			break;
		case 'r':
			a->rules = optarg;
			break;
		case 'a':
			if (a->nadd == MAX_ENTRIES) {
				shoal_errorf(err, 400, "too many --add");
				goto out;
			}
			a->add[a->nadd++] = optarg;
			break;
		case 'd':
			if (a->ndel == MAX_ENTRIES) {
				shoal_errorf(err, 400, "too many --del");
				goto out;
			}
			a->del[a->ndel++] = optarg;
			break;
		default:
			shoal_errorf(err, 400, "net-ingress-sync: unknown option %s",
				     argv[optind - 1]);
			goto out;
		}
	}
	if (a->sbox == NULL || optind != argc) {
		shoal_errorf(err, 400,
			     "usage: net-ingress-sync --sbox <path> [--vxlan <vni>,<port>,<ip>] "
			     "[--add <ip>=<vtep>]... [--del <ip>]... [--rules <text>]");
		goto out;
	}
	if ((node = open_ns("/proc/self/ns/net", err)) < 0 || (sbox = open_ns(a->sbox, err)) < 0 ||
	    enter_fd(sbox, a->sbox, err) < 0)
		goto out;
	if (a->vxlan != NULL && vxlan_make(node, sbox, a->vxlan, err) < 0)
		goto out;
	if ((sk = shoal_net__h_nl_open(err)) == NULL)
		goto out;
	vx = ifindex_of(sk, "vxlan0");
	for (i = 0; i < a->ndel && vx > 0; i++)
		if (entry_set(sk, vx, a->del[i], NULL, err) < 0)
			goto out;
	for (i = 0; i < a->nadd; i++) {
		eq = strchr(a->add[i], '=');
		if (eq == NULL || (size_t)(eq - a->add[i]) >= sizeof(ip)) {
			shoal_errorf(err, 400, "invalid --add %s", a->add[i]);
			goto out;
		}
		if (vx <= 0) {
			shoal_errorf(err, 500, "no vxlan0 in %s for %s", a->sbox, a->add[i]);
			goto out;
		}
		memcpy(ip, a->add[i], (size_t)(eq - a->add[i]));
		ip[eq - a->add[i]] = '\0';
		if (entry_set(sk, vx, ip, eq + 1, err) < 0)
			goto out;
	}
	if (a->rules != NULL && rules_apply(a->rules, err) < 0)
		goto out;
	rv = 0;
out:
	if (sk != NULL)
		nl_socket_free(sk);
	if (node >= 0)
		close(node);
	if (sbox >= 0)
		close(sbox);
	free(a);
	return rv;
}

/* ---- net-ingress-attach ---- */

static int cmd_attach(int argc, char **argv, struct shoal_err *err)
{
	static const struct option opts[] = {
		{ "sbox", required_argument, NULL, 's' }, { "netns", required_argument, NULL, 'n' },
		{ "link", required_argument, NULL, 'l' }, { "addr", required_argument, NULL, 'a' },
		{ "mac", required_argument, NULL, 'm' },  { NULL, 0, NULL, 0 },
	};
	const char *sbox_path = NULL, *netns = NULL, *link = NULL, *addr = NULL, *mac = NULL;
	struct nl_sock *sk = NULL;
	int c, sbox = -1, ctr = -1, rv = -1;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sbox_path = optarg;
			break;
		case 'n':
			netns = optarg;
			break;
		case 'l':
			link = optarg;
			break;
		case 'a':
			addr = optarg;
			break;
		case 'm':
			mac = optarg;
			break;
		default:
			return shoal_errorf(err, 400, "net-ingress-attach: unknown option %s",
					    argv[optind - 1]);
		}
	}
	if (sbox_path == NULL || netns == NULL || link == NULL || addr == NULL || mac == NULL ||
	    optind != argc || strlen(link) >= IFNAMSIZ)
		return shoal_errorf(err, 400,
				    "usage: net-ingress-attach --sbox <path> --netns <path> --link "
				    "<name> --addr <ip/prefix> --mac <mac>");
	if ((sbox = open_ns(sbox_path, err)) < 0 || (ctr = open_ns(netns, err)) < 0)
		goto out;
	if (enter_fd(ctr, netns, err) < 0 || (sk = shoal_net__h_nl_open(err)) == NULL ||
	    link_delete(sk, "eth1", err) < 0)
		goto out;
	nl_socket_free(sk);
	sk = NULL;
	if (enter_fd(sbox, sbox_path, err) < 0 || (sk = shoal_net__h_nl_open(err)) == NULL ||
	    link_delete(sk, link, err) < 0 ||
	    veth_make(sk, link, "eth1", ctr, ifindex_of(sk, "br0"), mac, err) < 0)
		goto out;
	nl_socket_free(sk);
	sk = NULL;
	if (enter_fd(ctr, netns, err) < 0 || (sk = shoal_net__h_nl_open(err)) == NULL ||
	    shoal_net__h_add_address(sk, ifindex_of(sk, "eth1"), addr, err) < 0 ||
	    link_set(sk, "eth1", 0, err) < 0)
		goto out;
	rv = 0;
out:
	if (sk != NULL)
		nl_socket_free(sk);
	if (sbox >= 0)
		close(sbox);
	if (ctr >= 0)
		close(ctr);
	return rv;
}

int shoal_net__ingress_child(int argc, char **argv, struct shoal_err *err)
{
	if (strcmp(argv[0], "net-ingress-up") == 0)
		return cmd_up(argc, argv, err);
	if (strcmp(argv[0], "net-ingress-sync") == 0)
		return cmd_sync(argc, argv, err);
	if (strcmp(argv[0], "net-ingress-attach") == 0)
		return cmd_attach(argc, argv, err);
	return 1;
}
