/* The routing mesh on a node (DESIGN.md, Networking; SWARM-SPEC §7): what the managers'
 * "network" message says, made real with a VXLAN overlay and nftables, as Docker's
 * ingress network does with IPVS, which this kernel lacks.
 *
 * Per node:
 *   - the ingress sandbox, a network namespace of its own (<netns_dir>/ingress_sbox) with
 *     br0 holding the node's ingress address, vxlan0 on br0 (VNI and UDP port of the
 *     cluster, created from the node's namespace so that it sends from the node's address,
 *     no learning: each remote address gets a static neighbour and FDB entry pointing at
 *     its node, and the device answers ARP from them), gw0 linked to the node;
 *   - a veth pair between the node and the sandbox (<link> / gw0) on a link-local /31 that
 *     depends on the bridge's name, so daemons sharing a namespace (tests) never clash and
 *     nothing of the ingress subnet is routed in the node's namespace;
 *   - the node's table (<bridge table>_ingress): every published port arriving at a local
 *     address, from outside, from the node itself (127.0.0.1 too) or from its containers,
 *     is DNATed to the sandbox's end of the link and masqueraded;
 *   - the sandbox's table: each port DNATed round robin (numgen inc mod N) over the
 *     running tasks' ingress addresses of the service, on every node, and masqueraded to
 *     the node's ingress address, so that the answers come back the same way;
 *   - a second interface, eth1, in each task container, on br0 with the task's address.
 * Task containers and the sandbox reach each other across nodes through vxlan0. Tables are
 * replaced whole, in one transaction each. The sandbox's side runs in helper processes
 * (ingress_helper.c), one at a time, always with the latest state; the node's side on the
 * loop, through libnftables and netlink.
 *
 * Left to others: which tasks run where (the managers), starting containers (the agent's
 * executor, which asks for eth1 once a task's container runs and takes a task out of the
 * rotation before stopping it). */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/errno.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/internal.h"

#define SHOAL_LOG_MODULE "net"

#define DEFAULT_VNI	   4096
#define DEFAULT_PORT	   4789
#define VXLAN_LIST_OPTION  "com.docker.network.driver.overlay.vxlanid_list"
#define SBOX_LINK	   "gw0"
#define SBOX_TABLE	   "shoal_ingress"
#define NOT_READY_MSG	   "the ingress network is not ready on this node"
#define SANDBOX_REPLACED   "the ingress sandbox was replaced"
#define MAX_PORTS_PER_NODE 4096

enum ing_state {
	ING_DOWN,     /* nothing of it exists */
	ING_CREATING, /* net-ingress-up runs */
	ING_UP,
	ING_FAILED,   /* up failed: torn down and tried again on the next message */
	ING_REMOVING, /* the sandbox's namespace is being unmounted */
};

struct ing_attach {
	struct shoal_list link; /* in ing->attaches while waiting for the sandbox */
	struct shoal_net *n;
	uint64_t gen; /* the sandbox it went into */
	char id[65];
	char *netns;
	char cidr[24];
	shoal_net_done_cb cb;
	void *ctx;
};

struct shoal_net__ingress {
	char *sbox;	  /* the sandbox's namespace path */
	char *table;	  /* the node's table */
	char link[16];	  /* the node's end of the link to the sandbox */
	uint32_t link_ip; /* the node's end; the sandbox's is link_ip + 1 */
	json_t *msg;	  /* the managers' last message, NULL before the first */
	char node_id[64];
	json_t *excluded; /* task ID -> true: out of the rotation, leaving */
	json_t *attached; /* container ID -> "10.0.0.3/24": eth1 made here */
	json_t *ports;	  /* "tcp/8080" -> reservation fd, -1 when it could not be bound */

	struct shoal_net__ing_conf conf; /* what the message means now */
	struct shoal_net__ing_conf base; /* what the sandbox was built with (network NULL: none) */
	enum ing_state state;
	uint64_t gen;	  /* bumped each time the sandbox goes: late answers are dropped */
	bool busy;	  /* a helper of up, sync, or the removal, is running */
	char *node_rules; /* the node's table as last written */
	char *sbox_rules; /* the sandbox's as last written */
	struct shoal_net__ing_peer *prog; /* entries believed to be in vxlan0 */
	size_t nprog;
	bool resync;		    /* the last sync failed: write every entry again */
	struct shoal_list attaches; /* struct ing_attach waiting for the sandbox */
};

static void step(struct shoal_net *n);

/* ---- parsing the managers' message (pure) ---- */

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int ip_parse(const char *s, uint32_t *out)
{
	struct in_addr in;
	char buf[16];
	size_t len;

	if (s == NULL)
		return -1;
	len = strcspn(s, "/");
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &in) != 1)
		return -1;
	*out = ntohl(in.s_addr);
	return 0;
}

static int cmp_peer(const void *a, const void *b)
{
	const struct shoal_net__ing_peer *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_port(const void *a, const void *b)
{
	const struct shoal_net__ing_port *x = a, *y = b;
	int c = strcmp(x->proto, y->proto);

	if (c != 0)
		return c;
	return x->published - y->published;
}

void shoal_net__ingress_conf_fini(struct shoal_net__ing_conf *c)
{
	size_t i;

	json_decref(c->network);
	json_decref(c->peers);
	for (i = 0; i < c->nports; i++)
		free(c->ports[i].backends);
	free(c->ports);
	free(c->peers_v);
	memset(c, 0, sizeof(*c));
}

/* Names go into an nft comment: keep what cannot break out of it. */
static void safe_name(char *dst, size_t size, const char *src)
{
	size_t i, j = 0;

	for (i = 0; src != NULL && src[i] != '\0' && j + 1 < size; i++)
		if ((src[i] >= 'a' && src[i] <= 'z') || (src[i] >= 'A' && src[i] <= 'Z') ||
		    (src[i] >= '0' && src[i] <= '9') || src[i] == '-' || src[i] == '_' ||
		    src[i] == '.')
			dst[j++] = src[i];
	dst[j] = '\0';
}

static void add_peer(struct shoal_net__ing_conf *c, uint32_t addr, uint32_t vtep)
{
	c->peers_v = shoal_realloc(c->peers_v, (c->npeers + 1) * sizeof(*c->peers_v));
	c->peers_v[c->npeers].addr = addr;
	c->peers_v[c->npeers].vtep = vtep;
	c->npeers++;
}

/* The VTEP of a node of the message, 0 when unknown. */
static uint32_t vtep_of(const json_t *nodes, const char *id)
{
	const json_t *nd;
	uint32_t ip;
	size_t i;

	json_array_foreach(nodes, i, nd) {
		if (id != NULL && jstr(nd, "ID") != NULL && strcmp(jstr(nd, "ID"), id) == 0)
			return ip_parse(jstr(nd, "Addr"), &ip) == 0 ? ip : 0;
	}
	return 0;
}

static int parse_ports(const json_t *msg, const json_t *excluded, struct shoal_net__ing_conf *c,
		       struct shoal_err *err)
{
	const json_t *svc, *p, *tid, *ep, *eps = json_object_get(msg, "Endpoints");
	json_t *addr_of = json_object(); /* task ID -> address */
	struct shoal_net__ing_port *port;
	json_int_t target, published;
	const char *proto;
	uint32_t a;
	size_t i, j, k, w;
	int rv = -1;

	json_array_foreach(eps, i, ep) {
		if (jstr(ep, "Task") != NULL && ip_parse(jstr(ep, "Addr"), &a) == 0)
			json_object_set_new(addr_of, jstr(ep, "Task"), json_integer(a));
	}
	json_array_foreach(json_object_get(msg, "Services"), i, svc) {
		json_array_foreach(json_object_get(svc, "Ports"), j, p) {
			proto = jstr(p, "Protocol");
			target = json_integer_value(json_object_get(p, "TargetPort"));
			published = json_integer_value(json_object_get(p, "PublishedPort"));
			if (proto == NULL ||
			    (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0))
				continue; /* sctp: not meshed */
			if (target < 1 || target > 65535 || published < 1 || published > 65535) {
				shoal_errorf(err, 400,
					     "invalid port %s %" JSON_INTEGER_FORMAT
					     "->%" JSON_INTEGER_FORMAT,
					     proto, published, target);
				goto out;
			}
			if (c->nports == MAX_PORTS_PER_NODE) {
				shoal_errorf(err, 400, "too many published ports");
				goto out;
			}
			c->ports = shoal_realloc(c->ports, (c->nports + 1) * sizeof(*c->ports));
			port = &c->ports[c->nports++];
			memset(port, 0, sizeof(*port));
			safe_name(port->name, sizeof(port->name), jstr(svc, "Name"));
			snprintf(port->proto, sizeof(port->proto), "%s", proto);
			port->published = (int)published;
			port->target = (int)target;
			port->backends =
				shoal_calloc(json_array_size(json_object_get(svc, "Tasks")) + 1,
					     sizeof(*port->backends));
			json_array_foreach(json_object_get(svc, "Tasks"), k, tid) {
				const json_t *v =
					json_object_get(addr_of, json_string_value(tid) ?: "");

				if (v == NULL || json_object_get(excluded, json_string_value(tid)))
					continue;
				port->backends[port->nbackends++] = (uint32_t)json_integer_value(v);
			}
			if (port->nbackends > 1)
				qsort(port->backends, port->nbackends, sizeof(*port->backends),
				      cmp_u32);
		}
	}
	if (c->nports > 1)
		qsort(c->ports, c->nports, sizeof(*c->ports), cmp_port);
	/* one service per port and protocol (the managers see to it): keep the first */
	for (i = 0, w = 0; i < c->nports; i++) {
		if (w > 0 && cmp_port(&c->ports[w - 1], &c->ports[i]) == 0) {
			free(c->ports[i].backends);
			continue;
		}
		c->ports[w++] = c->ports[i];
	}
	c->nports = w;
	rv = 0;
out:
	json_decref(addr_of);
	return rv;
}

int shoal_net__ingress_parse(const json_t *msg, const char *node_id, const json_t *excluded,
			     struct shoal_net__ing_conf *c, struct shoal_err *err)
{
	const json_t *net = json_object_get(msg, "Network"), *nodes = json_object_get(msg, "Nodes");
	const json_t *cfg, *nd, *ep;
	const char *vni_s, *id;
	json_int_t port;
	uint32_t a, vtep;
	size_t i, w;
	long vni;
	char *end;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(net))
		return 0;
	cfg = json_array_get(json_object_get(json_object_get(net, "IPAMOptions"), "Configs"), 0);
	if (jstr(net, "ID") == NULL || jstr(cfg, "Subnet") == NULL ||
	    shoal_net__cidr_parse(jstr(cfg, "Subnet"), &c->subnet, &c->prefix) < 0)
		return shoal_errorf(err, 400, "invalid ingress network: no ID or subnet");
	snprintf(c->net_id, sizeof(c->net_id), "%s", jstr(net, "ID"));
	vni = DEFAULT_VNI;
	vni_s = jstr(json_object_get(json_object_get(net, "DriverState"), "Options"),
		     VXLAN_LIST_OPTION);
	if (vni_s != NULL) {
		vni = strtol(vni_s, &end, 10);
		if (end == vni_s || (*end != '\0' && *end != ',') || vni < 1 || vni > 0xffffff)
			return shoal_errorf(err, 400, "invalid VXLAN ID %s", vni_s);
	}
	c->vni = (int)vni;
	port = json_integer_value(json_object_get(msg, "DataPathPort"));
	if (port == 0)
		port = DEFAULT_PORT;
	if (port < 1 || port > 65535)
		return shoal_errorf(err, 400, "invalid data path port %" JSON_INTEGER_FORMAT, port);
	c->port = (int)port;

	c->peers = json_array();
	json_array_foreach(nodes, i, nd) {
		id = jstr(nd, "ID");
		if (ip_parse(jstr(nd, "Addr"), &vtep) < 0)
			continue;
		json_array_append_new(c->peers,
				      json_pack("{s:s, s:s}", "Name", jstr(nd, "Hostname") ?: "",
						"IP", jstr(nd, "Addr")));
		if (id != NULL && strcmp(id, node_id) == 0) {
			c->local = vtep;
			if (ip_parse(jstr(nd, "IngressAddr"), &c->addr) < 0)
				c->addr = 0;
			continue;
		}
		if (ip_parse(jstr(nd, "IngressAddr"), &a) == 0)
			add_peer(c, a, vtep);
	}
	json_array_foreach(json_object_get(msg, "Endpoints"), i, ep) {
		id = jstr(ep, "Node");
		if (id == NULL || strcmp(id, node_id) == 0 || ip_parse(jstr(ep, "Addr"), &a) < 0)
			continue;
		vtep = vtep_of(nodes, id);
		if (vtep != 0)
			add_peer(c, a, vtep);
	}
	if (c->npeers > 1)
		qsort(c->peers_v, c->npeers, sizeof(*c->peers_v), cmp_peer);
	for (i = 0, w = 0; i < c->npeers; i++)
		if (w == 0 || c->peers_v[w - 1].addr != c->peers_v[i].addr)
			c->peers_v[w++] = c->peers_v[i];
	c->npeers = w;
	if (parse_ports(msg, excluded, c, err) < 0) {
		shoal_net__ingress_conf_fini(c);
		return -1;
	}
	/* without an address of its own (not allocated yet) or a VTEP, nothing is built */
	if (c->addr == 0 || c->local == 0 ||
	    (c->addr & (~0u << (32 - c->prefix))) != (c->subnet & (~0u << (32 - c->prefix)))) {
		shoal_net__ingress_conf_fini(c);
		return 0;
	}
	c->network = json_deep_copy(net);
	return 0;
}

/* ---- the rules (pure) ---- */

static void addr_add(struct shoal_buf *b, uint32_t a)
{
	char s[16];

	shoal_net__addr_format(a, s);
	shoal_buf_adds(b, s);
}

char *shoal_net__ingress_node_ruleset(const char *table, const char *link, uint32_t sbox_ip,
				      const struct shoal_net__ing_conf *c)
{
	struct shoal_buf b;
	char *text;
	size_t i;

	shoal_buf_init(&b);
	shoal_buf_addf(&b, "add table ip %s\ndelete table ip %s\ntable ip %s {\n", table, table,
		       table);
	shoal_buf_adds(&b, "\tchain published {\n");
	for (i = 0; i < c->nports; i++) {
		shoal_buf_addf(&b, "\t\t%s dport %d dnat to ", c->ports[i].proto,
			       c->ports[i].published);
		addr_add(&b, sbox_ip);
		shoal_buf_addf(&b, " comment \"%s\"\n", c->ports[i].name);
	}
	shoal_buf_adds(&b, "\t}\n");
	shoal_buf_adds(&b, "\tchain prerouting {\n"
			   "\t\ttype nat hook prerouting priority -100; policy accept;\n"
			   "\t\tfib daddr type local jump published\n"
			   "\t}\n"
			   "\tchain output {\n"
			   "\t\ttype nat hook output priority -100; policy accept;\n"
			   "\t\tfib daddr type local jump published\n"
			   "\t}\n");
	shoal_buf_addf(&b,
		       "\tchain postrouting {\n"
		       "\t\ttype nat hook postrouting priority 100; policy accept;\n"
		       "\t\toifname \"%s\" masquerade\n"
		       "\t}\n"
		       "\tchain forward {\n"
		       "\t\ttype filter hook forward priority 0; policy accept;\n"
		       "\t\toifname \"%s\" accept\n"
		       "\t\tiifname \"%s\" accept\n"
		       "\t}\n}\n",
		       link, link, link);
	text = shoal_buf_detach(&b, NULL);
	shoal_buf_fini(&b);
	return text;
}

char *shoal_net__ingress_sbox_ruleset(const struct shoal_net__ing_conf *c)
{
	const struct shoal_net__ing_port *p;
	struct shoal_buf b;
	char *text;
	size_t i, k;

	shoal_buf_init(&b);
	shoal_buf_addf(&b, "add table ip %s\ndelete table ip %s\ntable ip %s {\n", SBOX_TABLE,
		       SBOX_TABLE, SBOX_TABLE);
	shoal_buf_adds(&b, "\tchain published {\n");
	for (i = 0; i < c->nports; i++) {
		p = &c->ports[i];
		/* no task running: nothing listens in the sandbox, which refuses by itself */
		if (p->nbackends == 0)
			continue;
		shoal_buf_addf(&b, "\t\t%s dport %d dnat to numgen inc mod %zu map { ", p->proto,
			       p->published, p->nbackends);
		for (k = 0; k < p->nbackends; k++) {
			shoal_buf_addf(&b, "%s%zu : ", k > 0 ? ", " : "", k);
			addr_add(&b, p->backends[k]);
		}
		shoal_buf_addf(&b, " } : %d comment \"%s\"\n", p->target, p->name);
	}
	shoal_buf_adds(&b, "\t}\n");
	shoal_buf_addf(&b,
		       "\tchain prerouting {\n"
		       "\t\ttype nat hook prerouting priority -100; policy accept;\n"
		       "\t\tiifname \"%s\" jump published\n"
		       "\t}\n"
		       "\tchain postrouting {\n"
		       "\t\ttype nat hook postrouting priority 100; policy accept;\n"
		       "\t\toifname \"br0\" masquerade\n"
		       "\t}\n}\n",
		       SBOX_LINK);
	text = shoal_buf_detach(&b, NULL);
	shoal_buf_fini(&b);
	return text;
}

/* ---- the node's side: table, port reservations, link ---- */

static bool base_same(const struct shoal_net__ing_conf *a, const struct shoal_net__ing_conf *b)
{
	return a->network != NULL && b->network != NULL && strcmp(a->net_id, b->net_id) == 0 &&
	       a->subnet == b->subnet && a->prefix == b->prefix && a->addr == b->addr &&
	       a->local == b->local && a->vni == b->vni && a->port == b->port;
}

/* Docker keeps a socket bound on each ingress port of every node, so that nothing else on
 * the node takes it (moby's plumbProxy); so does this. */
static void ports_reserve(struct shoal_net__ingress *ing, const struct shoal_net__ing_conf *c)
{
	json_t *want = json_object(), *v;
	struct sockaddr_in sa;
	const char *k;
	void *tmp;
	char key[16];
	size_t i;
	int fd;

	for (i = 0; i < c->nports; i++) {
		snprintf(key, sizeof(key), "%s/%d", c->ports[i].proto, c->ports[i].published);
		v = json_object_get(ing->ports, key);
		if (v != NULL) {
			json_object_set(want, key, v);
			continue;
		}
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)c->ports[i].published);
		fd = socket(AF_INET,
			    (strcmp(c->ports[i].proto, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM) |
				    SOCK_CLOEXEC,
			    0);
		if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			shoal_log_warn(
				"published port in use on this node; the mesh takes it anyway",
				"port=%s error=%s", key, strerror(errno));
			close(fd);
			fd = -1;
		}
		json_object_set_new(want, key, json_integer(fd));
	}
	json_object_foreach_safe(ing->ports, tmp, k, v)
	{
		if (json_object_get(want, k) == NULL && json_integer_value(v) >= 0)
			close((int)json_integer_value(v));
	}
	json_decref(ing->ports);
	ing->ports = want;
}

static void ports_release(struct shoal_net__ingress *ing)
{
	const char *k;
	json_t *v;

	json_object_foreach(ing->ports, k, v) {
		if (json_integer_value(v) >= 0)
			close((int)json_integer_value(v));
	}
	json_object_clear(ing->ports);
}

static int node_rules_write(struct shoal_net *n, struct shoal_err *err)
{
	struct shoal_net__ingress *ing = n->ing;
	char *text = shoal_net__ingress_node_ruleset(ing->table, ing->link, ing->link_ip + 1,
						     &ing->conf);

	if (ing->node_rules != NULL && strcmp(ing->node_rules, text) == 0) {
		free(text);
		return 0;
	}
	if (shoal_net__nft_run(n, text, "write", ing->table, err) < 0) {
		free(text);
		return -1;
	}
	free(ing->node_rules);
	ing->node_rules = text;
	ports_reserve(ing, &ing->conf);
	return 0;
}

/* The node's side goes at once; the sandbox's namespace through the file queue, whose
 * answer lets the next sandbox be made (never at the same path while the old one is being
 * unmounted). Everything in the sandbox, task ends of eth1 included, dies with it. */
static void sandbox_removed(struct shoal_net *n, void *data, int result);

static void node_side_remove(struct shoal_net *n)
{
	struct shoal_net__ingress *ing = n->ing;
	char *text;
	struct shoal_err err;
	int nle;

	text = shoal_asprintf("add table ip %s\ndelete table ip %s\n", ing->table, ing->table);
	if (n->nl != NULL && shoal_net__nft_run(n, text, "delete", ing->table, &err) < 0)
		shoal_log_warn("cannot delete the ingress table", "error=%s", shoal_log_q(err.msg));
	free(text);
	ports_release(ing);
	nle = n->nl != NULL ? shoal_net__link_delete(n, ing->link) : 0;
	if (nle < 0)
		shoal_log_warn("cannot delete the ingress link", "link=%s error=%s", ing->link,
			       nl_geterror(nle));
	free(ing->node_rules);
	ing->node_rules = NULL;
	free(ing->sbox_rules);
	ing->sbox_rules = NULL;
	free(ing->prog);
	ing->prog = NULL;
	ing->nprog = 0;
	ing->resync = false;
}

static void teardown(struct shoal_net *n, bool wait)
{
	struct shoal_net__ingress *ing = n->ing;

	node_side_remove(n);
	shoal_net__ingress_conf_fini(&ing->base);
	ing->gen++;
	ing->state = wait ? ING_REMOVING : ING_DOWN;
	if (wait)
		ing->busy = true;
	shoal_net__fsop_queue(n, SHOAL_NET_FSOP_NETNS_REMOVE, shoal_strdup(ing->sbox), NULL,
			      wait ? sandbox_removed : NULL, wait ? n->ing : NULL);
	shoal_log_info("ingress sandbox removed", "sbox=%s", ing->sbox);
}

/* ---- attaches ---- */

static void attach_free(struct ing_attach *a)
{
	free(a->netns);
	free(a);
}

static void attach_done(struct shoal_net *n, void *data, const struct shoal_err *cerr);

/* Runs the helper; on failure (-1, err set) its callback is not called. */
static int attach_spawn(struct shoal_net *n, struct ing_attach *a, struct shoal_err *err)
{
	struct shoal_net__ingress *ing = n->ing;
	const char *args[12];
	char link[16], mac[18];
	uint32_t ip;
	int prefix;

	shoal_net__link_name("vi", a->id, link);
	shoal_net__cidr_parse(a->cidr, &ip, &prefix);
	shoal_net__mac_from_addr(ip, mac);
	args[0] = "net-ingress-attach";
	args[1] = "--sbox";
	args[2] = ing->sbox;
	args[3] = "--netns";
	args[4] = a->netns;
	args[5] = "--link";
	args[6] = link;
	args[7] = "--addr";
	args[8] = a->cidr;
	args[9] = "--mac";
	args[10] = mac;
	args[11] = NULL;
	a->gen = ing->gen;
	return shoal_net__child_run(n, args, attach_done, a, err);
}

static void attach_done(struct shoal_net *n, void *data, const struct shoal_err *cerr)
{
	struct ing_attach *a = data;
	struct shoal_net__ingress *ing = n != NULL ? n->ing : NULL;
	struct shoal_err err;

	if (n == NULL) {
		attach_free(a);
		return;
	}
	if (ing != NULL && a->gen != ing->gen) {
		/* made in a sandbox that has gone since: make it again in the new one */
		if (ing->conf.network != NULL && ing->state != ING_FAILED) {
			shoal_list_add_tail(&ing->attaches, &a->link);
			step(n);
			return;
		}
		shoal_errorf(&err, 500, "%s", SANDBOX_REPLACED);
		cerr = &err;
	}
	if (cerr != NULL) {
		err = *cerr;
		shoal_err_wrap(&err, "cannot connect container %.12s to the ingress network",
			       a->id);
		a->cb(a->ctx, &err);
	} else {
		if (ing != NULL)
			json_object_set_new(ing->attached, a->id, json_string(a->cidr));
		shoal_log_debug("container on the ingress network", "container=%.12s addr=%s",
				a->id, a->cidr);
		a->cb(a->ctx, NULL);
	}
	attach_free(a);
}

static void attaches_fail(struct shoal_net *n, const char *why)
{
	struct shoal_list *pos, *tmp;
	struct ing_attach *a;
	struct shoal_err err;

	shoal_list_foreach_safe(pos, tmp, &n->ing->attaches) {
		a = shoal_list_entry(pos, struct ing_attach, link);
		shoal_list_del(pos);
		shoal_errorf(&err, 500, "cannot connect container %.12s to the ingress network: %s",
			     a->id, why);
		a->cb(a->ctx, &err);
		attach_free(a);
	}
}

/* ---- the sandbox's side ---- */

struct job {
	struct shoal_net__ingress *ing; /* compared on return: a closed ingress is not it */
	uint64_t gen;
	struct shoal_net__ing_peer *add; /* what this sync writes and deletes */
	size_t nadd;
	struct shoal_net__ing_peer *del;
	size_t ndel;
	char *rules; /* NULL: unchanged */
};

static void job_free(struct job *j)
{
	free(j->add);
	free(j->del);
	free(j->rules);
	free(j);
}

/* The answer of a helper that is still ours, else NULL. */
static struct shoal_net__ingress *job_owner(struct shoal_net *n, struct job *j)
{
	if (n == NULL || n->ing != j->ing)
		return NULL;
	return n->ing;
}

static void up_done(struct shoal_net *n, void *data, const struct shoal_err *err)
{
	struct job *j = data;
	struct shoal_net__ingress *ing = job_owner(n, j);

	if (ing == NULL) {
		job_free(j);
		return;
	}
	ing->busy = false;
	if (j->gen == ing->gen) {
		if (err != NULL) {
			shoal_log_error("cannot make the ingress sandbox", "error=%s",
					shoal_log_q(err->msg));
			ing->state = ING_FAILED;
			attaches_fail(n, err->msg);
		} else {
			ing->state = ING_UP;
			shoal_log_info("ingress sandbox ready", "sbox=%s link=%s", ing->sbox,
				       ing->link);
		}
	}
	job_free(j);
	step(n);
}

static void sandbox_removed(struct shoal_net *n, void *data, int result)
{
	struct shoal_net__ingress *ing = data;

	if (n == NULL || n->ing != ing)
		return;
	if (result < 0)
		shoal_log_warn("cannot remove the ingress sandbox", "sbox=%s error=%s", ing->sbox,
			       strerror(-result));
	ing->busy = false;
	ing->state = ING_DOWN;
	step(n);
}

static void up_start(struct shoal_net *n)
{
	struct shoal_net__ingress *ing = n->ing;
	struct job *j = shoal_calloc(1, sizeof(*j));
	char link_addr[24], peer_addr[24], addr[24], mac[18], ip[16];
	const char *args[14];
	struct shoal_err err;

	shoal_net__addr_format(ing->link_ip, ip);
	snprintf(link_addr, sizeof(link_addr), "%s/31", ip);
	shoal_net__addr_format(ing->link_ip + 1, ip);
	snprintf(peer_addr, sizeof(peer_addr), "%s/31", ip);
	shoal_net__addr_format(ing->conf.addr, ip);
	snprintf(addr, sizeof(addr), "%s/%d", ip, ing->conf.prefix);
	shoal_net__mac_from_addr(ing->conf.addr, mac);
	args[0] = "net-ingress-up";
	args[1] = "--sbox";
	args[2] = ing->sbox;
	args[3] = "--link";
	args[4] = ing->link;
	args[5] = "--link-addr";
	args[6] = link_addr;
	args[7] = "--peer-addr";
	args[8] = peer_addr;
	args[9] = "--addr";
	args[10] = addr;
	args[11] = "--mac";
	args[12] = mac;
	args[13] = NULL;
	shoal_net__ingress_conf_fini(&ing->base);
	ing->base.network = json_incref(ing->conf.network);
	snprintf(ing->base.net_id, sizeof(ing->base.net_id), "%s", ing->conf.net_id);
	ing->base.subnet = ing->conf.subnet;
	ing->base.prefix = ing->conf.prefix;
	ing->base.addr = ing->conf.addr;
	ing->base.local = ing->conf.local;
	ing->base.vni = ing->conf.vni;
	ing->base.port = ing->conf.port;
	j->ing = ing;
	j->gen = ing->gen;
	ing->state = ING_CREATING;
	ing->busy = true;
	shoal_log_info("making the ingress sandbox", "sbox=%s addr=%s vni=%d port=%d", ing->sbox,
		       addr, ing->conf.vni, ing->conf.port);
	if (shoal_net__child_run(n, args, up_done, j, &err) < 0) {
		ing->busy = false;
		ing->state = ING_FAILED;
		shoal_log_error("cannot make the ingress sandbox", "error=%s",
				shoal_log_q(err.msg));
		attaches_fail(n, err.msg);
		job_free(j);
	}
}

static bool peer_in(const struct shoal_net__ing_peer *v, size_t n, uint32_t addr, uint32_t vtep,
		    bool any_vtep)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].addr == addr && (any_vtep || v[i].vtep == vtep))
			return true;
	return false;
}

static void sync_done(struct shoal_net *n, void *data, const struct shoal_err *err)
{
	struct job *j = data;
	struct shoal_net__ingress *ing = job_owner(n, j);
	struct shoal_net__ing_peer *next;
	size_t i, k = 0;

	if (ing == NULL) {
		job_free(j);
		return;
	}
	ing->busy = false;
	if (j->gen != ing->gen) {
		job_free(j);
		step(n);
		return;
	}
	/* what is in vxlan0 now: everything but the deleted, the written on top; after a
	 * failure the written may be there too, and the next sync writes all again */
	next = shoal_calloc(ing->nprog + j->nadd + 1, sizeof(*next));
	for (i = 0; i < ing->nprog; i++)
		if ((err != NULL || !peer_in(j->del, j->ndel, ing->prog[i].addr, 0, true)) &&
		    !peer_in(j->add, j->nadd, ing->prog[i].addr, 0, true))
			next[k++] = ing->prog[i];
	for (i = 0; i < j->nadd; i++)
		next[k++] = j->add[i];
	free(ing->prog);
	ing->prog = next;
	ing->nprog = k;
	if (err != NULL) {
		shoal_log_error("cannot program the ingress sandbox", "error=%s",
				shoal_log_q(err->msg));
		ing->resync = true;
		free(ing->sbox_rules);
		ing->sbox_rules = NULL;
	} else {
		ing->resync = false;
		if (j->rules != NULL) {
			free(ing->sbox_rules);
			ing->sbox_rules = j->rules;
			j->rules = NULL;
		}
	}
	job_free(j);
	step(n);
}

/* Writes the difference between what vxlan0 and the sandbox's table hold and what the
 * managers ask; false when there is none. */
static bool sync_start(struct shoal_net *n)
{
	struct shoal_net__ingress *ing = n->ing;
	const struct shoal_net__ing_conf *c = &ing->conf;
	struct job *j = shoal_calloc(1, sizeof(*j));
	char *rules = shoal_net__ingress_sbox_ruleset(c);
	struct shoal_buf vx;
	const char **args = NULL;
	char **owned = NULL;
	struct shoal_err err;
	char a[16], v[16];
	size_t i, na = 0, no = 0;

	shoal_buf_init(&vx);
	j->ing = ing;
	j->gen = ing->gen;
	j->add = shoal_calloc(c->npeers + 1, sizeof(*j->add));
	j->del = shoal_calloc(ing->nprog + 1, sizeof(*j->del));
	for (i = 0; i < c->npeers; i++)
		if (ing->resync ||
		    !peer_in(ing->prog, ing->nprog, c->peers_v[i].addr, c->peers_v[i].vtep, false))
			j->add[j->nadd++] = c->peers_v[i];
	for (i = 0; i < ing->nprog; i++)
		if (!peer_in(c->peers_v, c->npeers, ing->prog[i].addr, 0, true))
			j->del[j->ndel++] = ing->prog[i];
	if (ing->sbox_rules == NULL || strcmp(ing->sbox_rules, rules) != 0) {
		j->rules = rules;
		rules = NULL;
	}
	free(rules);
	if (j->nadd == 0 && j->ndel == 0 && j->rules == NULL) {
		shoal_buf_fini(&vx);
		job_free(j);
		return false;
	}
	args = shoal_calloc(2 * (j->nadd + j->ndel) + 10, sizeof(*args));
	owned = shoal_calloc(j->nadd + j->ndel + 2, sizeof(*owned));
	args[na++] = "net-ingress-sync";
	args[na++] = "--sbox";
	args[na++] = ing->sbox;
	if (c->npeers > 0) {
		shoal_net__addr_format(c->local, v);
		shoal_buf_addf(&vx, "%d,%d,%s", c->vni, c->port, v);
		args[na++] = "--vxlan";
		args[na++] = vx.data;
	}
	for (i = 0; i < j->ndel; i++) {
		shoal_net__addr_format(j->del[i].addr, a);
		owned[no] = shoal_strdup(a);
		args[na++] = "--del";
		args[na++] = owned[no++];
	}
	for (i = 0; i < j->nadd; i++) {
		shoal_net__addr_format(j->add[i].addr, a);
		shoal_net__addr_format(j->add[i].vtep, v);
		owned[no] = shoal_asprintf("%s=%s", a, v);
		args[na++] = "--add";
		args[na++] = owned[no++];
	}
	if (j->rules != NULL) {
		args[na++] = "--rules";
		args[na++] = j->rules;
	}
	args[na] = NULL;
	ing->busy = true;
	shoal_log_debug("programming the ingress sandbox", "add=%zu del=%zu rules=%s", j->nadd,
			j->ndel, j->rules != NULL ? "yes" : "no");
	if (shoal_net__child_run(n, args, sync_done, j, &err) < 0) {
		ing->busy = false;
		shoal_log_error("cannot program the ingress sandbox", "error=%s",
				shoal_log_q(err.msg));
		job_free(j);
	}
	for (i = 0; i < no; i++)
		free(owned[i]);
	free(owned);
	free(args);
	shoal_buf_fini(&vx);
	return ing->busy;
}

/* Moves the sandbox one step towards what the last message asks, one helper at a time. */
static void step(struct shoal_net *n)
{
	struct shoal_net__ingress *ing = n->ing;
	struct shoal_list *pos, *tmp;
	struct shoal_err err;

	if (ing == NULL || ing->busy || n->closing)
		return;
	if (ing->state != ING_DOWN && !base_same(&ing->conf, &ing->base)) {
		/* left the swarm, the address moved, or the last try failed */
		teardown(n, true);
		if (ing->conf.network == NULL)
			attaches_fail(n, NOT_READY_MSG);
		return;
	}
	if (ing->state == ING_FAILED)
		return; /* tried again when the next message comes */
	if (ing->state == ING_DOWN) {
		if (ing->conf.network == NULL) {
			attaches_fail(n, NOT_READY_MSG);
			return;
		}
		up_start(n);
		return;
	}
	if (ing->state != ING_UP)
		return;
	shoal_list_foreach_safe(pos, tmp, &ing->attaches) {
		struct ing_attach *a = shoal_list_entry(pos, struct ing_attach, link);

		shoal_list_del(pos);
		if (attach_spawn(n, a, &err) < 0) {
			a->cb(a->ctx, &err);
			attach_free(a);
		}
	}
	/* rotations first, so that the node never sends a port to a sandbox that has no
	 * rule for it */
	if (sync_start(n))
		return;
	if (node_rules_write(n, &err) < 0)
		shoal_log_error("cannot write the ingress table", "error=%s", shoal_log_q(err.msg));
}

/* The conf again from the last message, the exclusions applied. */
static void reparse(struct shoal_net *n)
{
	struct shoal_net__ingress *ing = n->ing;
	struct shoal_net__ing_conf c;
	struct shoal_err err;

	if (shoal_net__ingress_parse(ing->msg, ing->node_id, ing->excluded, &c, &err) < 0) {
		shoal_log_error("ignoring an ingress network message", "error=%s",
				shoal_log_q(err.msg));
		return;
	}
	shoal_net__ingress_conf_fini(&ing->conf);
	ing->conf = c;
}

/* A /31 of 169.254.0.0/16 that depends on the bridge's name (not 169.254.169.x, where
 * clouds keep their metadata service). */
static uint32_t link_net(const char *bridge)
{
	uint32_t h = 2166136261u, y, z;
	const unsigned char *p;

	for (p = (const unsigned char *)bridge; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	y = 1 + (h % 253);
	if (y == 169)
		y = 170;
	z = ((h >> 8) % 127) * 2;
	return (169u << 24) | (254u << 16) | (y << 8) | z;
}

static struct shoal_net__ingress *ing_new(struct shoal_net *n)
{
	struct shoal_net__ingress *ing = shoal_calloc(1, sizeof(*ing));

	ing->sbox = shoal_asprintf("%s/ingress_sbox", n->netns_dir);
	ing->table = shoal_asprintf("%s_ingress", n->table);
	shoal_net__link_name("sgw", n->bridge, ing->link);
	ing->link_ip = link_net(n->bridge);
	ing->excluded = json_object();
	ing->attached = json_object();
	ing->ports = json_object();
	shoal_list_init(&ing->attaches);
	return ing;
}

static void ing_free(struct shoal_net__ingress *ing)
{
	json_decref(ing->msg);
	json_decref(ing->excluded);
	json_decref(ing->attached);
	json_decref(ing->ports);
	shoal_net__ingress_conf_fini(&ing->conf);
	shoal_net__ingress_conf_fini(&ing->base);
	free(ing->node_rules);
	free(ing->sbox_rules);
	free(ing->prog);
	free(ing->sbox);
	free(ing->table);
	free(ing);
}

/* ---- the module's interface ---- */

int shoal_net_ingress_update(struct shoal_net *n, const char *node_id, const json_t *msg,
			     struct shoal_err *err)
{
	struct shoal_net__ing_conf c;
	struct shoal_net__ingress *ing;
	const json_t *svc, *tid, *ep;
	json_t *live;
	const char *k;
	json_t *v;
	void *tmp;
	size_t i, j;

	if (node_id == NULL || strlen(node_id) >= sizeof(ing->node_id))
		return shoal_errorf(err, 400, "invalid node ID");
	/* checked before it replaces anything */
	if (shoal_net__ingress_parse(msg, node_id, NULL, &c, err) < 0)
		return -1;
	shoal_net__ingress_conf_fini(&c);
	if (n->ing == NULL)
		n->ing = ing_new(n);
	ing = n->ing;
	snprintf(ing->node_id, sizeof(ing->node_id), "%s", node_id);
	json_decref(ing->msg);
	ing->msg = json_deep_copy(msg);
	/* a task leaving stays out until the managers forget it */
	live = json_object();
	json_array_foreach(json_object_get(msg, "Endpoints"), i, ep)
		json_object_set_new(live, jstr(ep, "Task") ?: "", json_true());
	json_array_foreach(json_object_get(msg, "Services"), i, svc)
		json_array_foreach(json_object_get(svc, "Tasks"), j, tid)
			json_object_set_new(live, json_string_value(tid) ?: "", json_true());
	json_object_foreach_safe(ing->excluded, tmp, k, v)
	{
		if (json_object_get(live, k) == NULL)
			json_object_del(ing->excluded, k);
	}
	json_decref(live);
	reparse(n);
	/* a sandbox that failed is torn down and made again with each new message */
	if (ing->state == ING_FAILED)
		shoal_net__ingress_conf_fini(&ing->base);
	step(n);
	return 0;
}

void shoal_net_ingress_leave(struct shoal_net *n)
{
	if (n == NULL || n->ing == NULL)
		return;
	json_decref(n->ing->msg);
	n->ing->msg = NULL;
	shoal_net__ingress_conf_fini(&n->ing->conf);
	json_object_clear(n->ing->excluded);
	json_object_clear(n->ing->attached);
	step(n);
}

int shoal_net_ingress_attach(struct shoal_net *n, const char *id, const char *netns,
			     const char *cidr, shoal_net_done_cb cb, void *ctx,
			     struct shoal_err *err)
{
	struct shoal_net__ingress *ing = n->ing;
	struct ing_attach *a;
	uint32_t ip;
	int prefix;

	if (!shoal_net__id_valid(id))
		return shoal_errorf(err, 400, "invalid container ID %s", id ? id : "");
	if (netns == NULL || netns[0] == '\0')
		return shoal_errorf(err, 400, "container %.12s has no network namespace", id);
	if (cidr == NULL || strlen(cidr) >= sizeof(a->cidr) ||
	    shoal_net__cidr_parse(cidr, &ip, &prefix) < 0)
		return shoal_errorf(err, 400, "invalid ingress address %s", cidr ? cidr : "");
	if (ing == NULL || ing->conf.network == NULL || ing->state == ING_FAILED)
		return shoal_errorf(err, 500,
				    "cannot connect container %.12s to the ingress network: %s", id,
				    NOT_READY_MSG);
	a = shoal_calloc(1, sizeof(*a));
	a->n = n;
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->netns = shoal_strdup(netns);
	snprintf(a->cidr, sizeof(a->cidr), "%s", cidr);
	a->cb = cb;
	a->ctx = ctx;
	shoal_list_init(&a->link);
	if (ing->state == ING_UP) {
		if (attach_spawn(n, a, err) < 0) {
			attach_free(a);
			return -1;
		}
		return 0;
	}
	/* the sandbox is being made (or remade): the step that ends it spawns this */
	shoal_list_add_tail(&ing->attaches, &a->link);
	return 0;
}

void shoal_net_ingress_quiesce(struct shoal_net *n, const char *task_id)
{
	if (n == NULL || n->ing == NULL || task_id == NULL ||
	    json_object_get(n->ing->excluded, task_id) != NULL)
		return;
	json_object_set_new(n->ing->excluded, task_id, json_true());
	shoal_log_debug("task leaves the ingress rotation", "task=%s", task_id);
	reparse(n);
	step(n);
}

json_t *shoal_net_ingress_info(struct shoal_net *n)
{
	struct shoal_net__ingress *ing = n != NULL ? n->ing : NULL;
	char ip[16], addr[24];

	if (ing == NULL || ing->conf.network == NULL)
		return NULL;
	shoal_net__addr_format(ing->conf.addr, ip);
	snprintf(addr, sizeof(addr), "%s/%d", ip, ing->conf.prefix);
	return json_pack("{s:O, s:s, s:O, s:O}", "Network", ing->conf.network, "Address", addr,
			 "Containers", ing->attached, "Peers", ing->conf.peers);
}

void shoal_net__ingress_forget(struct shoal_net *n, const char *id)
{
	if (n->ing != NULL)
		json_object_del(n->ing->attached, id);
}

void shoal_net__ingress_cleanup(struct shoal_net *n)
{
	struct shoal_net__ingress *ing = ing_new(n);
	char *text;
	struct shoal_err err;

	/* a daemon that died in a swarm left these; a restart in the swarm makes them anew */
	text = shoal_asprintf("add table ip %s\ndelete table ip %s\n", ing->table, ing->table);
	if (shoal_net__nft_run(n, text, "delete", ing->table, &err) < 0)
		shoal_log_warn("cannot delete the ingress table", "error=%s", shoal_log_q(err.msg));
	free(text);
	if (shoal_net__link_delete(n, ing->link) < 0)
		shoal_log_warn("cannot delete the ingress link", "link=%s", ing->link);
	umount2(ing->sbox, MNT_DETACH);
	unlink(ing->sbox);
	ing_free(ing);
}

void shoal_net__ingress_close(struct shoal_net *n)
{
	struct shoal_net__ingress *ing = n->ing;

	if (ing == NULL)
		return;
	if (ing->state != ING_DOWN || ing->busy) {
		shoal_net__ingress_conf_fini(&ing->conf);
		teardown(n, false);
	}
	attaches_fail(n, "shoald is stopping");
	n->ing = NULL;
	ing_free(ing);
}
