/* The node's packet rules: one nftables table of Shoal's own, written whole and swapped
 * in one transaction ("add; delete; table { ... }" in one libnftables batch), so the
 * kernel never holds half of it and other tables are never touched. What it does is what
 * dockerd's bridge driver does with iptables and userland-proxy=false:
 *   - published ports: DNAT for traffic arriving at any local address (prerouting) and
 *     for traffic from the node itself (output), 127.0.0.1 included;
 *   - masquerade: the subnet going out any other interface; connections from the node's
 *     loopback to a container (the bridge has route_localnet=1 so they may leave lo's
 *     range, and the container must answer the bridge, not its own 127.0.0.1); and
 *     hairpin, containers reaching a published port through a node address, so the
 *     answer comes back through the node and its conntrack entry;
 *   - forward: bridge traffic accepted. nftables runs every base chain of the hook: an
 *     accept here does not override a drop in another table's forward chain (a firewall
 *     with policy drop still needs its own rule for the bridge; we don't edit it).
 * libnftables is called on the loop: a batch of a few hundred rules is milliseconds of
 * netlink, the cost of one spawn of nft. */
#include "net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/internal.h"

static void add_published(struct shoal_buf *b, const struct shoal_net__ep *ep)
{
	const struct shoal_net_port *p;
	size_t i;

	for (i = 0; i < ep->pub.nports; i++) {
		p = &ep->pub.ports[i];
		shoal_buf_adds(b, "\t\t");
		if (p->host_ip[0] != '\0' && strcmp(p->host_ip, "0.0.0.0") != 0)
			shoal_buf_addf(b, "ip daddr %s ", p->host_ip);
		shoal_buf_addf(b, "%s dport %d dnat to %s:%d comment \"%.12s\"\n", p->proto,
			       p->host_port, ep->pub.ip, p->container_port, ep->pub.id);
	}
}

/* Endpoints come sorted by address (shoal_net__ep_insert), so the same endpoints give
 * the same text. */
char *shoal_net_ruleset(const struct shoal_net *n)
{
	const struct shoal_net__ep *ep;
	struct shoal_list *pos;
	struct shoal_buf b;
	const char *t = n->table, *br = n->bridge, *sub = n->subnet;
	char *text;

	shoal_buf_init(&b);
	/* "add" first so that "delete" never fails on a missing table. */
	shoal_buf_addf(&b, "add table ip %s\ndelete table ip %s\n", t, t);
	shoal_buf_addf(&b, "table ip %s {\n", t);

	shoal_buf_adds(&b, "\tchain published {\n");
	shoal_list_foreach(pos, &n->eps) {
		ep = shoal_list_entry(pos, struct shoal_net__ep, link);
		if (ep->ready)
			add_published(&b, ep);
	}
	shoal_buf_adds(&b, "\t}\n");

	shoal_buf_adds(&b, "\tchain prerouting {\n"
			   "\t\ttype nat hook prerouting priority -100; policy accept;\n"
			   "\t\tfib daddr type local jump published\n"
			   "\t}\n");
	shoal_buf_adds(&b, "\tchain output {\n"
			   "\t\ttype nat hook output priority -100; policy accept;\n"
			   "\t\tfib daddr type local jump published\n"
			   "\t}\n");
	shoal_buf_addf(&b,
		       "\tchain postrouting {\n"
		       "\t\ttype nat hook postrouting priority 100; policy accept;\n"
		       "\t\toifname \"%s\" ct status dnat ip saddr %s masquerade\n"
		       "\t\toifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n"
		       "\t\toifname != \"%s\" ip saddr %s masquerade\n"
		       "\t}\n",
		       br, sub, br, br, sub);
	shoal_buf_addf(&b,
		       "\tchain forward {\n"
		       "\t\ttype filter hook forward priority 0; policy accept;\n"
		       "\t\tiifname \"%s\" accept\n"
		       "\t\toifname \"%s\" ct state established,related accept\n"
		       "\t\toifname \"%s\" ct status dnat accept\n"
		       "\t}\n",
		       br, br, br);
	shoal_buf_adds(&b, "}\n");
	text = shoal_buf_detach(&b, NULL);
	shoal_buf_fini(&b);
	return text;
}

static struct nft_ctx *nft_get(struct shoal_net *n)
{
	if (n->nft == NULL) {
		n->nft = nft_ctx_new(NFT_CTX_DEFAULT);
		if (n->nft == NULL)
			shoal_fatalx("net", "out of memory");
		nft_ctx_buffer_output(n->nft);
		nft_ctx_buffer_error(n->nft);
	}
	return n->nft;
}

/* nft's error text is several lines (the message, then the input line with carets);
 * the first line is what a user can read. */
int shoal_net__nft_run(struct shoal_net *n, const char *text, const char *what, const char *table,
		       struct shoal_err *err)
{
	struct nft_ctx *ctx = nft_get(n);
	const char *e;
	size_t len;

	if (nft_run_cmd_from_buffer(ctx, text) == 0) {
		(void)nft_ctx_get_error_buffer(ctx);
		return 0;
	}
	e = nft_ctx_get_error_buffer(ctx);
	if (e == NULL)
		e = "";
	len = strcspn(e, "\n");
	return shoal_errorf(err, 500, "cannot %s nftables table ip %s: %.*s", what, table, (int)len,
			    e);
}

int shoal_net__rules_apply(struct shoal_net *n, struct shoal_err *err)
{
	char *text = shoal_net_ruleset(n);
	int rv;

	rv = shoal_net__nft_run(n, text, "write", n->table, err);
	free(text);
	return rv;
}

int shoal_net__rules_delete(struct shoal_net *n, struct shoal_err *err)
{
	char *text = shoal_asprintf("add table ip %s\ndelete table ip %s\n", n->table, n->table);
	int rv;

	rv = shoal_net__nft_run(n, text, "delete", n->table, err);
	free(text);
	return rv;
}
