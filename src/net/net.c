/* The network object: its options, its endpoints, startup (bridge, sysctls, records,
 * table) and shutdown. Attach and detach are in endpoint.c, namespaces in netns.c, the
 * helper's side in helper.c. */
#include "net/net.h"

#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <nftables/libnftables.h>

#include "base/log.h"
#include "base/mem.h"
#include "net/internal.h"

#define SHOAL_LOG_MODULE "net"

bool shoal_net__id_valid(const char *id)
{
	const char *p;

	if (id == NULL || id[0] == '\0' || id[0] == '.' || strlen(id) > 64)
		return false;
	for (p = id; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return false;
	return true;
}

struct shoal_net__ep *shoal_net__ep_new(const char *id, const char *name)
{
	struct shoal_net__ep *ep = shoal_calloc(1, sizeof(*ep));

	snprintf(ep->pub.id, sizeof(ep->pub.id), "%s", id);
	ep->name = shoal_strdup(name != NULL ? name : id);
	shoal_list_init(&ep->link);
	shoal_list_init(&ep->detaches);
	return ep;
}

void shoal_net__ep_free(struct shoal_net__ep *ep)
{
	struct shoal_list *pos, *tmp;

	if (ep == NULL)
		return;
	if (ep->fds != NULL)
		shoal_net__ports_release(ep);
	shoal_list_foreach_safe(pos, tmp, &ep->detaches) {
		shoal_list_del(pos);
		free(shoal_list_entry(pos, struct shoal_net__req, link));
	}
	free(ep->fds);
	free(ep->pub.ports);
	free(ep->name);
	free(ep);
}

struct shoal_net__ep *shoal_net__ep_find(const struct shoal_net *n, const char *id)
{
	struct shoal_net__ep *ep;
	struct shoal_list *pos;

	shoal_list_foreach(pos, &n->eps) {
		ep = shoal_list_entry(pos, struct shoal_net__ep, link);
		if (strcmp(ep->pub.id, id) == 0)
			return ep;
	}
	return NULL;
}

void shoal_net__ep_insert(struct shoal_net *n, struct shoal_net__ep *ep)
{
	struct shoal_list *pos;

	shoal_list_foreach(pos, &n->eps) {
		if (shoal_list_entry(pos, struct shoal_net__ep, link)->addr > ep->addr)
			break;
	}
	/* Adding before pos is adding at the tail of the list that ends at pos. */
	shoal_list_add_tail(pos, &ep->link);
}

const struct shoal_net_endpoint *shoal_net_endpoint_get(struct shoal_net *n, const char *id)
{
	struct shoal_net__ep *ep = shoal_net__ep_find(n, id);

	if (ep == NULL || ep->attaching)
		return NULL;
	return &ep->pub;
}

const char *shoal_net_subnet(const struct shoal_net *n)
{
	return n->subnet;
}

const char *shoal_net_gateway(const struct shoal_net *n)
{
	return n->gateway;
}

const char *shoal_net_bridge(const struct shoal_net *n)
{
	return n->bridge;
}

/* The default bridge's table is "shoal", as the header promises; any other bridge gets
 * one of its own, so a test bridge (or a second network) never replaces the real one. */
static char *table_name(const char *bridge)
{
	char *t, *p;

	if (strcmp(bridge, "shoal0") == 0)
		return shoal_strdup("shoal");
	t = shoal_asprintf("shoal_%s", bridge);
	for (p = t; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			*p = '_';
	return t;
}

struct shoal_net *shoal_net__new(uv_loop_t *loop, const struct shoal_net_opts *opts,
				 struct shoal_err *err)
{
	struct shoal_net *n;
	uint32_t addr, mask;
	int prefix;

	/* The name goes into the nft text and /proc paths: a plain interface name only. */
	if (opts->bridge == NULL || strlen(opts->bridge) >= IFNAMSIZ ||
	    !shoal_net__id_valid(opts->bridge)) {
		shoal_errorf(err, 400, "invalid bridge name %s", opts->bridge ? opts->bridge : "");
		return NULL;
	}
	if (opts->bip == NULL || shoal_net__cidr_parse(opts->bip, &addr, &prefix) < 0) {
		shoal_errorf(
			err, 400,
			"invalid bridge IP %s: an IPv4 address with a prefix length from 8 to 30 is expected",
			opts->bip ? opts->bip : "");
		return NULL;
	}
	mask = ~0u << (32 - prefix);
	if ((addr & ~mask) == 0 || (addr & ~mask) == ~mask) {
		shoal_errorf(
			err, 400,
			"invalid bridge IP %s: the network and broadcast addresses cannot be the gateway",
			opts->bip);
		return NULL;
	}
	if (opts->state_dir == NULL || opts->netns_dir == NULL || opts->helper_path == NULL) {
		shoal_errorf(
			err, 400,
			"network options need a state directory, a namespace directory and a helper");
		return NULL;
	}
	n = shoal_calloc(1, sizeof(*n));
	n->loop = loop;
	n->bridge = shoal_strdup(opts->bridge);
	n->state_dir = shoal_strdup(opts->state_dir);
	n->netns_dir = shoal_strdup(opts->netns_dir);
	n->helper_path = shoal_strdup(opts->helper_path);
	n->table = table_name(opts->bridge);
	n->gw = addr;
	n->net = addr & mask;
	n->prefix = prefix;
	shoal_net__addr_format(n->gw, n->gateway);
	shoal_net__addr_format(n->net, n->subnet);
	snprintf(n->subnet + strlen(n->subnet), sizeof(n->subnet) - strlen(n->subnet), "/%d",
		 prefix);
	shoal_list_init(&n->eps);
	shoal_list_init(&n->children);
	shoal_list_init(&n->fsops);
	n->next_port = SHOAL_NET_PORT_MIN;
	return n;
}

static int mkdir_all(const char *path, mode_t mode, struct shoal_err *err)
{
	char *p = shoal_strdup(path), *s, c;
	int rv = 0;

	for (s = p + 1; rv == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			rv = shoal_errorf_sys(err, 500, errno, "cannot create %s: %s", p,
					      strerror(errno));
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rv;
}

int shoal_net_init(struct shoal_net **out, uv_loop_t *loop, const struct shoal_net_opts *opts,
		   struct shoal_err *err)
{
	struct shoal_net *n;
	bool created = false;
	char *knob = NULL;
	int rv = -1, r;

	n = shoal_net__new(loop, opts, err);
	if (n == NULL)
		return -1;
	if (mkdir_all(n->state_dir, 0700, err) < 0 || mkdir_all(n->netns_dir, 0755, err) < 0)
		goto out;
	n->nl = nl_socket_alloc();
	if (n->nl == NULL)
		shoal_fatalx("net", "out of memory");
	r = nl_connect(n->nl, NETLINK_ROUTE);
	if (r < 0) {
		shoal_errorf(err, 500, "cannot open a netlink socket: %s", nl_geterror(r));
		goto out;
	}
	if (shoal_net__bridge_setup(n, &created, err) < 0)
		goto out;
	r = shoal_net__write_knob("/proc/sys/net/ipv4/ip_forward", "1");
	if (r < 0) {
		shoal_errorf_sys(err, 500, -r, "cannot enable IPv4 forwarding: %s", strerror(-r));
		goto out;
	}
	/* Published ports answer on 127.0.0.1 too: after DNAT those packets leave through
	 * the bridge with a loopback source, which the kernel drops as martian unless the
	 * bridge may route 127.0.0.0/8 (dockerd does the same without its userland proxy). */
	knob = shoal_asprintf("/proc/sys/net/ipv4/conf/%s/route_localnet", n->bridge);
	r = shoal_net__write_knob(knob, "1");
	if (r < 0) {
		shoal_errorf_sys(err, 500, -r, "cannot set %s: %s", knob, strerror(-r));
		goto out;
	}
	if (shoal_net__state_load(n, err) < 0 || shoal_net__rules_apply(n, err) < 0)
		goto out;
	shoal_net__ingress_cleanup(n);
	shoal_log_info("bridge network ready", "bridge=%s subnet=%s gateway=%s table=%s created=%s",
		       n->bridge, n->subnet, n->gateway, n->table, created ? "true" : "false");
	*out = n;
	n = NULL;
	rv = 0;
out:
	if (n != NULL && created && shoal_net__link_delete(n, n->bridge) < 0)
		shoal_log_warn("cannot remove the bridge", "bridge=%s", n->bridge);
	if (n != NULL)
		shoal_net_close(n, false);
	free(knob);
	return rv;
}

/* Namespaces left under netns_dir: no container runs, so none is wanted. */
static void remove_netns_leftovers(struct shoal_net *n)
{
	struct dirent *de;
	char *path;
	DIR *d;

	d = opendir(n->netns_dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		path = shoal_asprintf("%s/%s", n->netns_dir, de->d_name);
		shoal_net__fsop_queue(n, SHOAL_NET_FSOP_NETNS_REMOVE, path, NULL, NULL, NULL);
	}
	closedir(d);
}

static void remove_records(struct shoal_net *n)
{
	struct shoal_net__ep *ep;
	struct shoal_list *pos;

	shoal_list_foreach(pos, &n->eps) {
		ep = shoal_list_entry(pos, struct shoal_net__ep, link);
		if (shoal_net__link_delete(n, ep->pub.veth_host) < 0)
			shoal_log_warn("cannot delete a veth", "veth=%s", ep->pub.veth_host);
		shoal_net__fsop_queue(n, SHOAL_NET_FSOP_UNLINK, shoal_net__ep_path(n, ep->pub.id),
				      NULL, NULL, NULL);
	}
}

void shoal_net_close(struct shoal_net *n, bool remove)
{
	struct shoal_list *pos, *tmp;
	struct shoal_err err;
	char *dir;
	int r;

	if (n == NULL)
		return;
	n->closing = true;
	shoal_net__children_orphan(n);
	shoal_net__ingress_close(n);
	if (remove && n->nl != NULL) {
		if (shoal_net__rules_delete(n, &err) < 0)
			shoal_log_warn("cannot delete the table", "error=%s", shoal_log_q(err.msg));
		remove_records(n);
		r = shoal_net__link_delete(n, n->bridge);
		if (r < 0)
			shoal_log_warn("cannot delete the bridge", "bridge=%s error=%s", n->bridge,
				       nl_geterror(r));
		remove_netns_leftovers(n);
	}
	/* Jobs not yet started run now: a record asked for is a record written. */
	shoal_net__fsops_flush(n);
	if (remove && n->nl != NULL) {
		rmdir(n->netns_dir);
		dir = shoal_asprintf("%s/endpoints", n->state_dir);
		rmdir(dir);
		free(dir);
	}
	shoal_list_foreach_safe(pos, tmp, &n->eps) {
		shoal_list_del(pos);
		shoal_net__ep_free(shoal_list_entry(pos, struct shoal_net__ep, link));
	}
	if (n->nl != NULL)
		nl_socket_free(n->nl);
	if (n->nft != NULL)
		nft_ctx_free(n->nft);
	free(n->bridge);
	free(n->state_dir);
	free(n->netns_dir);
	free(n->helper_path);
	free(n->table);
	free(n);
}
