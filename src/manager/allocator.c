/* The allocator's step of a pass (swarmkit manager/allocator, SWARM-SPEC §7): addresses on
 * the ingress network. Every node gets one for its ingress sandbox (Node.Attachments, kept
 * out of GET /nodes as Docker's API has no such field); a service publishing ports in
 * ingress mode gets a virtual IP there (Endpoint.VirtualIPs) and each of its new tasks an
 * address (Task.NetworksAttachments, with the whole network object as Docker shows it)
 * before it may leave "new" for "pending". Addresses come lowest first from the subnet,
 * never the network, broadcast or gateway address.
 *
 * Level-triggered like the rest of the pass: what is in use is read from the store at the
 * start of each pass (nodes, services, and tasks that may still run: a task's address is
 * free again once its container stopped, or the task was deleted), and what the pass
 * hands out is marked as it goes, so two change sets of one pass never share an address.
 * A refused change set frees nothing it had: the next pass reads the store again.
 *
 * Also the network object made at swarm init. Networks other than ingress, and the
 * deallocation of a service's VIP once it publishes nothing, follow the same model; only
 * ingress exists yet. */
#include "manager/orch_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "allocator"

#define VXLAN_LIST_OPTION "com.docker.network.driver.overlay.vxlanid_list"
/* Smaller prefixes would need a bitmap of megabytes each pass: not an ingress network. */
#define MIN_PREFIX 16

struct shoal_orch__ipam {
	const struct shoal_store_obj *net;
	uint32_t base, gw; /* host byte order */
	int prefix;
	unsigned char *used; /* one bit per address of the subnet */
	bool full_logged;
};

/* ---- addresses ---- */

static int cidr_parse(const char *s, uint32_t *addr, int *prefix)
{
	char ip[16];
	const char *slash = s != NULL ? strchr(s, '/') : NULL;
	struct in_addr in;
	char *end;
	long p;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	if (inet_pton(AF_INET, ip, &in) != 1)
		return -1;
	p = strtol(slash + 1, &end, 10);
	if (slash[1] == '\0' || *end != '\0' || p < 1 || p > 30)
		return -1;
	*addr = ntohl(in.s_addr);
	*prefix = (int)p;
	return 0;
}

static int ip_parse(const char *s, uint32_t *addr)
{
	struct in_addr in;

	if (s == NULL || inet_pton(AF_INET, s, &in) != 1)
		return -1;
	*addr = ntohl(in.s_addr);
	return 0;
}

static void ip_format(uint32_t a, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

static uint32_t mask_of(int prefix)
{
	return prefix == 0 ? 0 : ~0u << (32 - prefix);
}

/* Marks "10.0.0.5/24" (or a bare address) as taken, if it is in the subnet. */
static void mark(struct shoal_orch__ipam *m, const char *s)
{
	uint32_t a, off;
	char ip[16];
	size_t len;

	if (s == NULL)
		return;
	len = strcspn(s, "/");
	if (len >= sizeof(ip))
		return;
	memcpy(ip, s, len);
	ip[len] = '\0';
	if (ip_parse(ip, &a) < 0 || (a & mask_of(m->prefix)) != m->base)
		return;
	off = a - m->base;
	m->used[off / 8] |= (unsigned char)(1u << (off % 8));
}

/* The lowest free address as "a.b.c.d/prefix" into out, 0; -1 when the subnet is full. */
static int take(struct shoal_orch__ipam *m, char out[24])
{
	uint32_t size = ~mask_of(m->prefix) + 1, off;
	char ip[16];

	for (off = 1; off + 1 < size; off++) {
		if (m->used[off / 8] & (1u << (off % 8)))
			continue;
		m->used[off / 8] |= (unsigned char)(1u << (off % 8));
		ip_format(m->base + off, ip);
		snprintf(out, 24, "%s/%d", ip, m->prefix);
		return 0;
	}
	if (!m->full_logged)
		shoal_log_error("no address left on the ingress network", "network=%s", m->net->id);
	m->full_logged = true;
	return -1;
}

/* The first address of the attachments (an array of {Network{ID}, Addresses[]}) on the
 * network, or NULL. */
static const char *attachment_addr(const json_t *atts, const char *net_id)
{
	const json_t *a;
	size_t i;

	json_array_foreach(atts, i, a) {
		const char *id = shoal_orch__str(a, "Network", "ID", NULL);

		if (id != NULL && strcmp(id, net_id) == 0)
			return json_string_value(
				json_array_get(json_object_get(a, "Addresses"), 0));
	}
	return NULL;
}

static const char *vip_addr(const json_t *svc, const char *net_id)
{
	const json_t *v;
	size_t i;

	json_array_foreach(shoal_orch__get(svc, "Endpoint", "VirtualIPs", NULL), i, v) {
		const char *id = shoal_orch__str(v, "NetworkID", NULL);

		if (id != NULL && strcmp(id, net_id) == 0)
			return shoal_orch__str(v, "Addr", NULL);
	}
	return NULL;
}

/* ---- the pass ---- */

bool shoal_orch__ingress_needed(const json_t *svc)
{
	const json_t *ports = shoal_orch__get(svc, "Endpoint", "Ports", NULL), *p;
	const char *mode;
	size_t i;

	if (ports == NULL)
		ports = shoal_orch__get(svc, "Spec", "EndpointSpec", "Ports", NULL);
	json_array_foreach(ports, i, p) {
		mode = shoal_orch__str(p, "PublishMode", NULL);
		if (mode == NULL || strcmp(mode, "ingress") == 0)
			return true;
	}
	return false;
}

/* An address of a task is in use until its container has stopped. */
static bool task_holds(const json_t *t)
{
	return shoal_orch__observed(t) <= SHOAL_TASK_RUNNING;
}

void shoal_orch__alloc_load(struct shoal_orch__pass *p)
{
	struct shoal_store_obj **l;
	struct shoal_orch__ipam *m;
	const json_t *cfg;
	const char *id;
	size_t n, i;

	l = shoal_store_list(p->store, SHOAL_STORE_NETWORK, &n);
	for (i = 0; i < n && p->ipam == NULL; i++) {
		if (!json_is_true(shoal_orch__get(l[i]->json, "Spec", "Ingress", NULL)))
			continue;
		m = shoal_calloc(1, sizeof(*m));
		m->net = l[i];
		cfg = json_array_get(shoal_orch__get(l[i]->json, "IPAMOptions", "Configs", NULL),
				     0);
		if (cidr_parse(shoal_orch__str(cfg, "Subnet", NULL), &m->base, &m->prefix) < 0 ||
		    m->prefix < MIN_PREFIX) {
			shoal_log_error("ingress network with an unusable subnet", "network=%s",
					l[i]->id);
			free(m);
			continue;
		}
		m->base &= mask_of(m->prefix);
		m->used = shoal_calloc(((size_t)~mask_of(m->prefix) + 1) / 8 + 1, 1);
		if (ip_parse(shoal_orch__str(cfg, "Gateway", NULL), &m->gw) == 0) {
			char g[16];

			ip_format(m->gw, g);
			mark(m, g);
		}
		p->ipam = m;
	}
	free(l);
	if (p->ipam == NULL)
		return;
	m = p->ipam;
	id = m->net->id;
	l = shoal_store_list(p->store, SHOAL_STORE_NODE, &n);
	for (i = 0; i < n; i++)
		mark(m, attachment_addr(json_object_get(l[i]->json, "Attachments"), id));
	free(l);
	l = shoal_store_list(p->store, SHOAL_STORE_SERVICE, &n);
	for (i = 0; i < n; i++)
		mark(m, vip_addr(l[i]->json, id));
	free(l);
	l = shoal_store_list(p->store, SHOAL_STORE_TASK, &n);
	for (i = 0; i < n; i++)
		if (task_holds(l[i]->json))
			mark(m, attachment_addr(json_object_get(l[i]->json, "NetworksAttachments"),
						id));
	free(l);
}

void shoal_orch__alloc_free(struct shoal_orch__pass *p)
{
	if (p->ipam == NULL)
		return;
	free(p->ipam->used);
	free(p->ipam);
	p->ipam = NULL;
}

struct shoal_store_tx *shoal_orch__alloc_nodes(struct shoal_orch__pass *p)
{
	struct shoal_orch__ipam *m = p->ipam;
	struct shoal_store_tx *tx = NULL;
	struct shoal_store_obj **l;
	json_t *node, *keep, *a;
	char addr[24];
	size_t n, i, k;

	if (m == NULL)
		return NULL;
	l = shoal_store_list(p->store, SHOAL_STORE_NODE, &n);
	for (i = 0; i < n; i++) {
		if (attachment_addr(json_object_get(l[i]->json, "Attachments"), m->net->id) != NULL)
			continue;
		if (take(m, addr) < 0)
			break;
		node = json_deep_copy(l[i]->json);
		/* an attachment to a network that is gone goes too */
		keep = json_array();
		json_array_foreach(json_object_get(node, "Attachments"), k, a) {
			if (shoal_store_get(p->store, SHOAL_STORE_NETWORK,
					    shoal_orch__str(a, "Network", "ID", NULL) ?: "") !=
			    NULL)
				json_array_append(keep, a);
		}
		json_array_append_new(keep, json_pack("{s:{s:s}, s:[s]}", "Network", "ID",
						      m->net->id, "Addresses", addr));
		json_object_set_new(node, "Attachments", keep);
		if (tx == NULL)
			tx = shoal_store_tx_new();
		shoal_store_tx_update(tx, SHOAL_STORE_NODE, node, l[i]->version);
		shoal_log_info("node ingress address", "node=%s addr=%s", l[i]->id, addr);
	}
	free(l);
	return tx;
}

/* The service's VIP on ingress, added when it publishes ingress ports, dropped when not. */
static void service_vip(struct shoal_orch__pass *p, const struct shoal_store_obj *svc, bool need)
{
	struct shoal_orch__ipam *m = p->ipam;
	const char *have = vip_addr(svc->json, m->net->id);
	json_t *s, *ep, *vips, *v;
	char addr[24];
	size_t i;

	if ((have != NULL) == need)
		return;
	if (need && take(m, addr) < 0)
		return;
	/* the service's working copy, shared with the updater: one write per change set */
	s = p->service != NULL ? p->service : json_deep_copy(svc->json);
	ep = json_object_get(s, "Endpoint");
	if (!json_is_object(ep)) {
		ep = json_object();
		json_object_set_new(s, "Endpoint", ep);
	}
	vips = json_array();
	json_array_foreach(json_object_get(ep, "VirtualIPs"), i, v) {
		if (strcmp(shoal_orch__str(v, "NetworkID", NULL) ?: "", m->net->id) != 0)
			json_array_append(vips, v);
	}
	if (need)
		json_array_append_new(
			vips, json_pack("{s:s, s:s}", "NetworkID", m->net->id, "Addr", addr));
	if (json_array_size(vips) > 0)
		json_object_set_new(ep, "VirtualIPs", vips);
	else {
		json_object_del(ep, "VirtualIPs");
		json_decref(vips);
	}
	p->service = s;
	if (need)
		shoal_log_info("service virtual IP", "service=%s addr=%s", svc->id, addr);
}

void shoal_orch__allocate(struct shoal_orch__pass *p, const struct shoal_store_obj *svc,
			  struct shoal_store_obj **tasks, size_t n)
{
	bool need = p->ipam != NULL && shoal_orch__ingress_needed(svc->json);
	const json_t *v;
	json_t *t, *att;
	char addr[24];
	size_t i;

	if (p->ipam != NULL)
		service_vip(p, svc, need);
	for (i = 0; i < n; i++) {
		v = shoal_orch__view(p, tasks[i]);
		if (shoal_orch__observed(v) != SHOAL_TASK_NEW ||
		    shoal_orch__desired(v) > SHOAL_TASK_RUNNING ||
		    json_object_get(p->deletes, tasks[i]->id) != NULL)
			continue;
		if (need && attachment_addr(json_object_get(v, "NetworksAttachments"),
					    p->ipam->net->id) == NULL) {
			/* stays new until an address frees up */
			if (take(p->ipam, addr) < 0)
				continue;
			t = shoal_orch__mut(p, tasks[i]);
			att = json_pack("{s:O, s:[s]}", "Network", p->ipam->net->json, "Addresses",
					addr);
			json_object_set_new(t, "NetworksAttachments", json_pack("[o]", att));
		}
		shoal_orch__set_status(p, shoal_orch__mut(p, tasks[i]), SHOAL_TASK_PENDING,
				       "pending task scheduling");
	}
}

/* ---- the network made at swarm init ---- */

int shoal_orch_ingress_subnet(const json_t *pools, int size, char subnet[24], char gateway[16],
			      struct shoal_err *err)
{
	const char *pool = json_string_value(json_array_get(pools, 0));
	uint32_t base, mask;
	char ip[16];
	int prefix;

	if (pool == NULL)
		pool = "10.0.0.0/8";
	if (size == 0)
		size = 24;
	if (cidr_parse(pool, &base, &prefix) < 0)
		return shoal_errorf(err, 400, "invalid default address pool %s", pool);
	if (size < prefix || size > 29 || size < MIN_PREFIX)
		return shoal_errorf(
			err, 400,
			"invalid subnet size %d: it must be from %d to 29 and within the pool %s",
			size, prefix > MIN_PREFIX ? prefix : MIN_PREFIX, pool);
	mask = mask_of(size);
	base &= mask_of(prefix);
	ip_format(base & mask, ip);
	snprintf(subnet, 24, "%s/%d", ip, size);
	/* libnetwork's default IPAM: the first address is the gateway */
	ip_format((base & mask) + 1, gateway);
	return 0;
}

json_t *shoal_orch_ingress_network(const char *subnet, const char *gateway, int vni)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", vni);
	return json_pack("{s:{s:s, s:{}, s:{}, s:b, s:{s:{}}, s:s}, s:{s:s, s:{s:s}},"
			 " s:{s:{s:s}, s:[{s:s, s:s}]}}",
			 "Spec", "Name", "ingress", "Labels", "DriverConfiguration", "Ingress", 1,
			 "IPAMOptions", "Driver", "Scope", "swarm", "DriverState", "Name",
			 "overlay", "Options", VXLAN_LIST_OPTION, v, "IPAMOptions", "Driver",
			 "Name", "default", "Configs", "Subnet", subnet, "Gateway", gateway);
}
