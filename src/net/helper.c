/* The helper's side: `shoal-shim net-<verb> ...` in a short-lived process, where
 * unshare() and setns() are allowed because nothing else runs in it. Each verb does one
 * job through netlink and exits; a failure is one line on stderr, which the daemon
 * (child.c) turns into the operation's error.
 *
 *   net-netns-create <path>   a new network namespace bind-mounted on <path>, lo up
 *   net-lo-up <path>          lo up in the namespace at <path>
 *   net-setup --netns <path> --link <name> --ifname <eth0> --mac <mac>
 *             --addr <ip/prefix> --gw <ip>
 *                             the container side of a veth: renamed, MAC, address, up;
 *                             lo up; default route via the gateway
 * and the routing mesh's verbs, net-ingress-*, in ingress_helper.c */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if.h>
#include <linux/magic.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "base/err.h"
#include "net/internal.h"

int shoal_net__h_enter(const char *path, struct shoal_err *err)
{
	int fd, rv = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return shoal_errorf_sys(err, 500, errno, "cannot open network namespace %s: %s",
					path, strerror(errno));
	if (setns(fd, CLONE_NEWNET) < 0)
		rv = shoal_errorf_sys(err, 500, errno, "cannot enter network namespace %s: %s",
				      path, strerror(errno));
	close(fd);
	return rv;
}

struct nl_sock *shoal_net__h_nl_open(struct shoal_err *err)
{
	struct nl_sock *sk = nl_socket_alloc();
	int nle;

	if (sk == NULL) {
		shoal_errorf(err, 500, "out of memory");
		return NULL;
	}
	nle = nl_connect(sk, NETLINK_ROUTE);
	if (nle < 0) {
		shoal_errorf(err, 500, "cannot open a netlink socket: %s", nl_geterror(nle));
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

int shoal_net__h_link_up(struct nl_sock *sk, struct rtnl_link *link, const char *name,
			 struct shoal_err *err)
{
	struct rtnl_link *change = rtnl_link_alloc();
	int nle;

	rtnl_link_set_flags(change, IFF_UP);
	nle = rtnl_link_change(sk, link, change, 0);
	rtnl_link_put(change);
	if (nle < 0)
		return shoal_errorf(err, 500, "cannot bring %s up: %s", name, nl_geterror(nle));
	return 0;
}

int shoal_net__h_lo_up(struct nl_sock *sk, struct shoal_err *err)
{
	struct rtnl_link *lo = NULL;
	int nle, rv;

	nle = rtnl_link_get_kernel(sk, 0, "lo", &lo);
	if (nle < 0)
		return shoal_errorf(err, 500, "cannot find lo: %s", nl_geterror(nle));
	rv = shoal_net__h_link_up(sk, lo, "lo", err);
	rtnl_link_put(lo);
	return rv;
}

/* The file is made first: a bind mount needs something to land on. It lands in the
 * mount namespace the helper shares with shoald. */
int shoal_net__h_netns_new(const char *path, bool replace, struct shoal_err *err)
{
	struct nl_sock *sk;
	struct statfs sfs;
	int fd;

	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
	if (fd < 0)
		return shoal_errorf_sys(err, 500, errno, "cannot create %s: %s", path,
					strerror(errno));
	if (fstatfs(fd, &sfs) == 0 && sfs.f_type == NSFS_MAGIC) {
		close(fd);
		if (!replace)
			return shoal_errorf(err, 409, "network namespace %s already exists", path);
		/* a daemon that died left it: its links go with it once unmounted */
		if (umount2(path, MNT_DETACH) < 0)
			return shoal_errorf_sys(err, 500, errno, "cannot unmount %s: %s", path,
						strerror(errno));
	} else {
		close(fd);
	}
	if (unshare(CLONE_NEWNET) < 0) {
		shoal_errorf_sys(err, 500, errno, "cannot create a network namespace: %s",
				 strerror(errno));
		goto fail;
	}
	if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0) {
		shoal_errorf_sys(err, 500, errno, "cannot bind the network namespace on %s: %s",
				 path, strerror(errno));
		goto fail;
	}
	/* lo up while we are in it: a container on network none needs nothing else, and a
	 * start saves a helper run */
	sk = shoal_net__h_nl_open(err);
	if (sk == NULL || shoal_net__h_lo_up(sk, err) < 0) {
		if (sk != NULL)
			nl_socket_free(sk);
		umount2(path, MNT_DETACH);
		goto fail;
	}
	nl_socket_free(sk);
	return 0;
fail:
	unlink(path);
	return -1;
}

static int cmd_netns_create(int argc, char **argv, struct shoal_err *err)
{
	if (argc != 2)
		return shoal_errorf(err, 400, "usage: net-netns-create <path>");
	return shoal_net__h_netns_new(argv[1], false, err);
}

static int cmd_lo_up(int argc, char **argv, struct shoal_err *err)
{
	struct nl_sock *sk = NULL;
	int rv = -1;

	if (argc != 2)
		return shoal_errorf(err, 400, "usage: net-lo-up <path>");
	if (shoal_net__h_enter(argv[1], err) < 0)
		goto out;
	sk = shoal_net__h_nl_open(err);
	if (sk == NULL)
		goto out;
	rv = shoal_net__h_lo_up(sk, err);
out:
	if (sk != NULL)
		nl_socket_free(sk);
	return rv;
}

struct setup_args {
	const char *netns, *link, *ifname, *mac, *addr, *gw;
};

static int setup_parse(int argc, char **argv, struct setup_args *a, struct shoal_err *err)
{
	static const struct option opts[] = {
		{ "netns", required_argument, NULL, 'n' },
		{ "link", required_argument, NULL, 'l' },
		{ "ifname", required_argument, NULL, 'i' },
		{ "mac", required_argument, NULL, 'm' },
		{ "addr", required_argument, NULL, 'a' },
		{ "gw", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			a->netns = optarg;
			break;
		case 'l':
			a->link = optarg;
			break;
		case 'i':
			a->ifname = optarg;
			break;
		case 'm':
			a->mac = optarg;
			break;
		case 'a':
			a->addr = optarg;
			break;
		case 'g':
			a->gw = optarg;
			break;
		default:
			return shoal_errorf(err, 400, "net-setup: unknown option %s",
					    argv[optind - 1]);
		}
	}
	if (a->netns == NULL || a->link == NULL || a->ifname == NULL || a->mac == NULL ||
	    a->addr == NULL || a->gw == NULL || optind != argc)
		return shoal_errorf(
			err, 400,
			"usage: net-setup --netns <path> --link <name> --ifname <name> --mac <mac> --addr <ip/prefix> --gw <ip>");
	return 0;
}

static int parse_addr(const char *s, int family, struct nl_addr **out, struct shoal_err *err)
{
	int nle = nl_addr_parse(s, family, out);

	if (nle < 0)
		return shoal_errorf(err, 400, "invalid address %s: %s", s, nl_geterror(nle));
	return 0;
}

/* The interface's address with the subnet's broadcast, as dockerd configures it. */
int shoal_net__h_add_address(struct nl_sock *sk, int ifindex, const char *cidr,
			     struct shoal_err *err)
{
	struct nl_addr *local = NULL, *bcast = NULL;
	struct rtnl_addr *addr = rtnl_addr_alloc();
	uint32_t a, mask;
	int prefix, nle, rv = -1;

	if (parse_addr(cidr, AF_INET, &local, err) < 0)
		goto out;
	prefix = (int)nl_addr_get_prefixlen(local);
	memcpy(&a, nl_addr_get_binary_addr(local), sizeof(a));
	mask = prefix == 0 ? 0 : htonl(~0u << (32 - prefix));
	a = (a & mask) | ~mask;
	bcast = nl_addr_build(AF_INET, &a, sizeof(a));
	rtnl_addr_set_ifindex(addr, ifindex);
	rtnl_addr_set_local(addr, local);
	/* a /31 is point to point (RFC 3021): both addresses are hosts */
	if (prefix < 31)
		rtnl_addr_set_broadcast(addr, bcast);
	nle = rtnl_addr_add(sk, addr, 0);
	if (nle < 0 && nle != -NLE_EXIST) {
		shoal_errorf(err, 500, "cannot add address %s: %s", cidr, nl_geterror(nle));
		goto out;
	}
	rv = 0;
out:
	nl_addr_put(local);
	nl_addr_put(bcast);
	rtnl_addr_put(addr);
	return rv;
}

static int add_default_route(struct nl_sock *sk, int ifindex, const char *gw, struct shoal_err *err)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = NULL, *via = NULL;
	int nle, rv = -1;

	if (parse_addr("0.0.0.0/0", AF_INET, &dst, err) < 0 ||
	    parse_addr(gw, AF_INET, &via, err) < 0)
		goto out;
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_protocol(route, RTPROT_BOOT);
	rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
	rtnl_route_set_type(route, RTN_UNICAST);
	rtnl_route_set_dst(route, dst);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, via);
	rtnl_route_add_nexthop(route, nh);
	nh = NULL; /* the route owns it */
	nle = rtnl_route_add(sk, route, NLM_F_CREATE | NLM_F_REPLACE);
	if (nle < 0) {
		shoal_errorf(err, 500, "cannot add the default route via %s: %s", gw,
			     nl_geterror(nle));
		goto out;
	}
	rv = 0;
out:
	if (nh != NULL)
		rtnl_route_nh_free(nh);
	nl_addr_put(dst);
	nl_addr_put(via);
	rtnl_route_put(route);
	return rv;
}

static int cmd_setup(int argc, char **argv, struct shoal_err *err)
{
	struct rtnl_link *link = NULL, *change = NULL;
	struct nl_addr *mac = NULL;
	struct nl_sock *sk = NULL;
	struct setup_args a;
	int ifindex, nle, rv = -1;

	if (setup_parse(argc, argv, &a, err) < 0)
		return -1;
	if (shoal_net__h_enter(a.netns, err) < 0)
		goto out;
	sk = shoal_net__h_nl_open(err);
	if (sk == NULL)
		goto out;
	nle = rtnl_link_get_kernel(sk, 0, a.link, &link);
	if (nle < 0) {
		shoal_errorf(err, 500, "cannot find %s in %s: %s", a.link, a.netns,
			     nl_geterror(nle));
		goto out;
	}
	ifindex = rtnl_link_get_ifindex(link);
	if (parse_addr(a.mac, AF_LLC, &mac, err) < 0)
		goto out;
	/* Renaming needs the link down, which a new veth end is. */
	change = rtnl_link_alloc();
	rtnl_link_set_name(change, a.ifname);
	rtnl_link_set_addr(change, mac);
	nle = rtnl_link_change(sk, link, change, 0);
	if (nle < 0) {
		shoal_errorf(err, 500, "cannot rename %s to %s with MAC %s: %s", a.link, a.ifname,
			     a.mac, nl_geterror(nle));
		goto out;
	}
	/* The route needs the address and the link up: its gateway must be on-link. */
	if (shoal_net__h_add_address(sk, ifindex, a.addr, err) < 0 ||
	    shoal_net__h_link_up(sk, link, a.ifname, err) < 0 || shoal_net__h_lo_up(sk, err) < 0 ||
	    add_default_route(sk, ifindex, a.gw, err) < 0)
		goto out;
	rv = 0;
out:
	nl_addr_put(mac);
	if (change != NULL)
		rtnl_link_put(change);
	if (link != NULL)
		rtnl_link_put(link);
	if (sk != NULL)
		nl_socket_free(sk);
	return rv;
}

int shoal_net_child_main(int argc, char **argv)
{
	static const struct {
		const char *verb;
		int (*fn)(int argc, char **argv, struct shoal_err *err);
	} verbs[] = {
		{ "net-netns-create", cmd_netns_create },
		{ "net-lo-up", cmd_lo_up },
		{ "net-setup", cmd_setup },
	};
	struct shoal_err err;
	size_t i;

	if (argc < 1) {
		fprintf(stderr, "usage: net-netns-create|net-lo-up|net-setup ...\n");
		return 2;
	}
	shoal_err_clear(&err);
	switch (shoal_net__ingress_child(argc, argv, &err)) {
	case 0:
		return 0;
	case -1:
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[0], verbs[i].verb) != 0)
			continue;
		shoal_err_clear(&err);
		if (verbs[i].fn(argc, argv, &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		return 0;
	}
	fprintf(stderr, "unknown network command %s\n", argv[0]);
	return 2;
}
