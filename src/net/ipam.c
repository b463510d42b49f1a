/* Addresses on the bridge's subnet: the first free one, as libnetwork's default IPAM
 * hands them out, and the names and MACs derived from them. The allocations themselves
 * are the endpoints (net.c keeps them, state.c records them). */
#include "net/net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "net/internal.h"

int shoal_net__cidr_parse(const char *s, uint32_t *addr, int *prefix)
{
	char ip[16];
	const char *slash = strchr(s, '/');
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
	if (slash[1] == '\0' || *end != '\0' || p < 8 || p > 30)
		return -1;
	*addr = ntohl(in.s_addr);
	*prefix = (int)p;
	return 0;
}

void shoal_net__addr_format(uint32_t addr, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
		 addr & 0xff);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int shoal_net__ipam_next(uint32_t net, int prefix, uint32_t gw, const uint32_t *used, size_t n,
			 uint32_t *out)
{
	uint32_t mask = prefix == 0 ? 0 : ~0u << (32 - prefix);
	uint32_t first = (net & mask) + 1, last = (net & mask) + ~mask - 1;
	uint32_t *sorted = NULL, a = first;
	size_t i = 0;
	int rv = -1;

	if (n > 0) {
		sorted = shoal_malloc(n * sizeof(*sorted));
		memcpy(sorted, used, n * sizeof(*sorted));
		if (n > 1)
			qsort(sorted, n, sizeof(*sorted), cmp_u32);
	}
	/* One walk over the sorted allocations: a is the lowest candidate left. */
	while (a <= last) {
		while (i < n && sorted[i] < a)
			i++;
		if (a == gw || (i < n && sorted[i] == a)) {
			a++;
			continue;
		}
		*out = a;
		rv = 0;
		break;
	}
	free(sorted);
	return rv;
}

void shoal_net__mac_from_addr(uint32_t addr, char out[18])
{
	snprintf(out, 18, "02:42:%02x:%02x:%02x:%02x", addr >> 24, (addr >> 16) & 0xff,
		 (addr >> 8) & 0xff, addr & 0xff);
}

void shoal_net__link_name(const char *prefix, const char *id, char out[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	const unsigned char *p;

	for (p = (const unsigned char *)id; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	snprintf(out, 16, "%s%07x", prefix, h & 0xfffffff);
}

int shoal_net__ep_address(struct shoal_net *n, struct shoal_net__ep *ep, struct shoal_err *err)
{
	struct shoal_list *pos;
	uint32_t *used = NULL, addr;
	size_t nused = 0, cap = 0;
	int rv = -1;

	shoal_list_foreach(pos, &n->eps) {
		if (nused == cap) {
			cap = cap ? 2 * cap : 16;
			used = shoal_realloc(used, cap * sizeof(*used));
		}
		used[nused++] = shoal_list_entry(pos, struct shoal_net__ep, link)->addr;
	}
	if (shoal_net__ipam_next(n->net, n->prefix, n->gw, used, nused, &addr) < 0) {
		shoal_errorf(
			err, 500,
			"no available IPv4 addresses on this network's address pools: bridge (%s)",
			n->subnet);
		goto out;
	}
	ep->addr = addr;
	shoal_net__addr_format(addr, ep->pub.ip);
	ep->pub.prefix = n->prefix;
	snprintf(ep->pub.gateway, sizeof(ep->pub.gateway), "%s", n->gateway);
	shoal_net__mac_from_addr(addr, ep->pub.mac);
	shoal_net__link_name("veth", ep->pub.id, ep->pub.veth_host);
	rv = 0;
out:
	free(used);
	return rv;
}
