/* Unit tests for src/net/ingress.c's pure parts: what the managers' "network" message means
 * for one node (its address and VTEP, the remote addresses and where they live, each
 * published port's rotation), and the two tables made from it. One test asks libnftables
 * to check both tables (dry run) and is skipped when not root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include <nftables/libnftables.h>

#include "base/mem.h"
#include "net/internal.h"

/* ---- fixture: a three-node swarm with vote (8080:80, six tasks) and dns (5353:53/udp) ---- */

#define N1 "node1aaaaaaaaaaaaaaaaaaaa"
#define N2 "node2bbbbbbbbbbbbbbbbbbbb"
#define N3 "node3cccccccccccccccccccc"

static json_t *message(void)
{
	json_error_t jerr;
	json_t *m = json_loads(
		"{\"Type\": \"network\","
		" \"Network\": {\"ID\": \"ingressid\", \"Spec\": {\"Name\": \"ingress\", \"Ingress\": true},"
		"  \"DriverState\": {\"Name\": \"overlay\", \"Options\":"
		"   {\"com.docker.network.driver.overlay.vxlanid_list\": \"4096\"}},"
		"  \"IPAMOptions\": {\"Configs\": [{\"Subnet\": \"10.0.0.0/24\", \"Gateway\": \"10.0.0.1\"}]}},"
		" \"DataPathPort\": 4789,"
		" \"Nodes\": ["
		"  {\"ID\": \"" N1
		"\", \"Hostname\": \"node1\", \"Addr\": \"192.168.99.100\", \"IngressAddr\": \"10.0.0.2/24\"},"
		"  {\"ID\": \"" N2
		"\", \"Hostname\": \"node2\", \"Addr\": \"192.168.99.101\", \"IngressAddr\": \"10.0.0.3/24\"},"
		"  {\"ID\": \"" N3
		"\", \"Hostname\": \"node3\", \"Addr\": \"192.168.99.102\", \"IngressAddr\": \"10.0.0.4/24\"}],"
		" \"Endpoints\": ["
		"  {\"Task\": \"t1\", \"Node\": \"" N1 "\", \"Addr\": \"10.0.0.6/24\"},"
		"  {\"Task\": \"t2\", \"Node\": \"" N2 "\", \"Addr\": \"10.0.0.7/24\"},"
		"  {\"Task\": \"t3\", \"Node\": \"" N3 "\", \"Addr\": \"10.0.0.8/24\"},"
		"  {\"Task\": \"t4\", \"Node\": \"" N1 "\", \"Addr\": \"10.0.0.9/24\"},"
		"  {\"Task\": \"t5\", \"Node\": \"" N2 "\", \"Addr\": \"10.0.0.10/24\"},"
		"  {\"Task\": \"t6\", \"Node\": \"" N3 "\", \"Addr\": \"10.0.0.11/24\"},"
		"  {\"Task\": \"u1\", \"Node\": \"" N2 "\", \"Addr\": \"10.0.0.13/24\"}],"
		" \"Services\": ["
		"  {\"ID\": \"v\", \"Name\": \"vote\", \"Ports\": [{\"Protocol\": \"tcp\", \"TargetPort\": 80,"
		"    \"PublishedPort\": 8080}], \"Tasks\": [\"t6\", \"t5\", \"t4\", \"t3\", \"t2\", \"t1\"]},"
		"  {\"ID\": \"d\", \"Name\": \"dns\", \"Ports\": [{\"Protocol\": \"udp\", \"TargetPort\": 53,"
		"    \"PublishedPort\": 5353}], \"Tasks\": [\"u1\"]},"
		"  {\"ID\": \"e\", \"Name\": \"idle\", \"Ports\": [{\"Protocol\": \"tcp\", \"TargetPort\": 80,"
		"    \"PublishedPort\": 30000}], \"Tasks\": []}]}",
		0, &jerr);

	if (m == NULL)
		fail_msg("fixture: %s", jerr.text);
	return m;
}

static uint32_t ip(const char *s)
{
	uint32_t a;
	int prefix;
	char buf[24];

	snprintf(buf, sizeof(buf), "%s/24", s);
	assert_int_equal(shoal_net__cidr_parse(buf, &a, &prefix), 0);
	return a;
}

/* ---- tests ---- */

/* node1 sees its own address and VTEP, and every remote address (the other sandboxes and
 * tasks) at its node's VTEP, sorted, never its own tasks. */
static void test_parse_peers_of_a_node(void **state)
{
	struct shoal_net__ing_conf c;
	struct shoal_err err;
	json_t *m = message();

	(void)state;
	assert_int_equal(shoal_net__ingress_parse(m, N1, NULL, &c, &err), 0);
	assert_non_null(c.network);
	assert_string_equal(c.net_id, "ingressid");
	assert_int_equal(c.addr, ip("10.0.0.2"));
	assert_int_equal(c.local, ip("192.168.99.100"));
	assert_int_equal(c.subnet, ip("10.0.0.0"));
	assert_int_equal(c.prefix, 24);
	assert_int_equal(c.vni, 4096);
	assert_int_equal(c.port, 4789);
	/* .3 .4 sandboxes, .7 .8 .10 .11 .13 tasks of node2 and node3 */
	assert_int_equal(c.npeers, 7);
	assert_int_equal(c.peers_v[0].addr, ip("10.0.0.3"));
	assert_int_equal(c.peers_v[0].vtep, ip("192.168.99.101"));
	assert_int_equal(c.peers_v[2].addr, ip("10.0.0.7"));
	assert_int_equal(c.peers_v[2].vtep, ip("192.168.99.101"));
	assert_int_equal(c.peers_v[3].addr, ip("10.0.0.8"));
	assert_int_equal(c.peers_v[3].vtep, ip("192.168.99.102"));
	assert_int_equal(c.peers_v[6].addr, ip("10.0.0.13"));
	assert_int_equal(json_array_size(c.peers), 3);
	shoal_net__ingress_conf_fini(&c);
	json_decref(m);
}

/* Each published port balances over its running tasks' addresses on every node, sorted;
 * ports come sorted by protocol and number; a port with no task has no backend. */
static void test_parse_ports_and_rotations(void **state)
{
	struct shoal_net__ing_conf c;
	struct shoal_err err;
	json_t *m = message();

	(void)state;
	assert_int_equal(shoal_net__ingress_parse(m, N2, NULL, &c, &err), 0);
	assert_int_equal(c.nports, 3);
	assert_string_equal(c.ports[0].proto, "tcp");
	assert_int_equal(c.ports[0].published, 8080);
	assert_int_equal(c.ports[0].target, 80);
	assert_string_equal(c.ports[0].name, "vote");
	assert_int_equal(c.ports[0].nbackends, 6);
	assert_int_equal(c.ports[0].backends[0], ip("10.0.0.6"));
	assert_int_equal(c.ports[0].backends[5], ip("10.0.0.11"));
	assert_int_equal(c.ports[1].published, 30000);
	assert_int_equal(c.ports[1].nbackends, 0);
	assert_string_equal(c.ports[2].proto, "udp");
	assert_int_equal(c.ports[2].backends[0], ip("10.0.0.13"));
	shoal_net__ingress_conf_fini(&c);
	json_decref(m);
}

/* A task quiesced on this node is out of its rotation at once. */
static void test_parse_excludes_leaving_tasks(void **state)
{
	struct shoal_net__ing_conf c;
	struct shoal_err err;
	json_t *m = message(), *ex = json_pack("{s:b}", "t4", 1);

	(void)state;
	assert_int_equal(shoal_net__ingress_parse(m, N1, ex, &c, &err), 0);
	assert_int_equal(c.ports[0].nbackends, 5);
	assert_int_not_equal(c.ports[0].backends[1], ip("10.0.0.9"));
	shoal_net__ingress_conf_fini(&c);
	json_decref(m);
	json_decref(ex);
}

/* Nothing is built for a swarm without ingress, nor for a node the allocator has not given
 * an address yet; a message that cannot be right is refused. */
static void test_parse_not_ready_and_bad(void **state)
{
	struct shoal_net__ing_conf c;
	struct shoal_err err;
	json_t *m = message(), *svc, *port;

	(void)state;
	assert_int_equal(shoal_net__ingress_parse(m, "nosuchnode", NULL, &c, &err), 0);
	assert_null(c.network);
	json_object_set_new(m, "Network", json_null());
	assert_int_equal(shoal_net__ingress_parse(m, N1, NULL, &c, &err), 0);
	assert_null(c.network);
	json_decref(m);

	m = message();
	svc = json_array_get(json_object_get(m, "Services"), 0);
	port = json_array_get(json_object_get(svc, "Ports"), 0);
	json_object_set_new(port, "PublishedPort", json_integer(70000));
	assert_int_equal(shoal_net__ingress_parse(m, N1, NULL, &c, &err), -1);
	assert_int_equal(err.status, 400);
	json_decref(m);
}

/* The node's table sends every published port arriving at a local address to the
 * sandbox's end of the link and masquerades what leaves through it. */
static void test_node_ruleset(void **state)
{
	struct shoal_net__ing_conf c;
	struct shoal_err err;
	json_t *m = message();
	char *t;

	(void)state;
	assert_int_equal(shoal_net__ingress_parse(m, N1, NULL, &c, &err), 0);
	t = shoal_net__ingress_node_ruleset("shoal_ingress", "sgw1234567", ip("169.254.7.1"), &c);
	assert_non_null(strstr(t, "add table ip shoal_ingress\ndelete table ip shoal_ingress\n"));
	assert_non_null(strstr(t, "\t\ttcp dport 8080 dnat to 169.254.7.1 comment \"vote\"\n"));
	assert_non_null(strstr(t, "\t\tudp dport 5353 dnat to 169.254.7.1 comment \"dns\"\n"));
	assert_non_null(strstr(t, "\t\ttcp dport 30000 dnat to 169.254.7.1 comment \"idle\"\n"));
	assert_non_null(strstr(t, "type nat hook prerouting priority -100; policy accept;\n"
				  "\t\tfib daddr type local jump published\n"));
	assert_non_null(strstr(t, "type nat hook output priority -100; policy accept;\n"
				  "\t\tfib daddr type local jump published\n"));
	assert_non_null(strstr(t, "\t\toifname \"sgw1234567\" masquerade\n"));
	free(t);
	shoal_net__ingress_conf_fini(&c);
	json_decref(m);
}

/* The sandbox's table: a numgen round robin per port over its backends, the same on every
 * node, nothing for a port with no task, masquerade onto br0. */
static void test_sbox_ruleset(void **state)
{
	struct shoal_net__ing_conf c1, c3;
	struct shoal_err err;
	json_t *m = message();
	char *t1, *t3;

	(void)state;
	assert_int_equal(shoal_net__ingress_parse(m, N1, NULL, &c1, &err), 0);
	assert_int_equal(shoal_net__ingress_parse(m, N3, NULL, &c3, &err), 0);
	t1 = shoal_net__ingress_sbox_ruleset(&c1);
	t3 = shoal_net__ingress_sbox_ruleset(&c3);
	assert_string_equal(t1, t3);
	assert_non_null(strstr(
		t1, "\t\ttcp dport 8080 dnat to numgen inc mod 6 map { 0 : 10.0.0.6, 1 : 10.0.0.7, "
		    "2 : 10.0.0.8, 3 : 10.0.0.9, 4 : 10.0.0.10, 5 : 10.0.0.11 } : 80 comment "
		    "\"vote\"\n"));
	assert_non_null(strstr(
		t1,
		"\t\tudp dport 5353 dnat to numgen inc mod 1 map { 0 : 10.0.0.13 } : 53 comment \"dns\"\n"));
	assert_null(strstr(t1, "30000"));
	assert_non_null(strstr(t1, "\t\tiifname \"gw0\" jump published\n"));
	assert_non_null(strstr(t1, "\t\toifname \"br0\" masquerade\n"));
	free(t1);
	free(t3);
	shoal_net__ingress_conf_fini(&c1);
	shoal_net__ingress_conf_fini(&c3);
	json_decref(m);
}

/* Service names only reach the comments as plain characters. */
static void test_names_cannot_break_the_ruleset(void **state)
{
	struct shoal_net__ing_conf c;
	struct shoal_err err;
	json_t *m = message();
	char *t;

	(void)state;
	json_object_set_new(json_array_get(json_object_get(m, "Services"), 0), "Name",
			    json_string("vo\"te; flush ruleset"));
	assert_int_equal(shoal_net__ingress_parse(m, N1, NULL, &c, &err), 0);
	t = shoal_net__ingress_sbox_ruleset(&c);
	assert_non_null(strstr(t, "comment \"voteflushruleset\"\n"));
	free(t);
	shoal_net__ingress_conf_fini(&c);
	json_decref(m);
}

/* libnftables accepts both tables as written (dry run: nothing reaches the kernel). */
static void test_rulesets_parse_in_nft(void **state)
{
	struct shoal_net__ing_conf c;
	struct shoal_err err;
	struct nft_ctx *ctx;
	json_t *m = message();
	char *texts[2];
	int i;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(shoal_net__ingress_parse(m, N1, NULL, &c, &err), 0);
	texts[0] = shoal_net__ingress_node_ruleset("shoal_ingress", "sgw1234567", ip("169.254.7.1"),
						   &c);
	texts[1] = shoal_net__ingress_sbox_ruleset(&c);
	for (i = 0; i < 2; i++) {
		ctx = nft_ctx_new(NFT_CTX_DEFAULT);
		nft_ctx_set_dry_run(ctx, true);
		nft_ctx_buffer_error(ctx);
		if (nft_run_cmd_from_buffer(ctx, texts[i]) != 0)
			fail_msg("%s\n%s", nft_ctx_get_error_buffer(ctx), texts[i]);
		nft_ctx_free(ctx);
		free(texts[i]);
	}
	shoal_net__ingress_conf_fini(&c);
	json_decref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_peers_of_a_node),
		cmocka_unit_test(test_parse_ports_and_rotations),
		cmocka_unit_test(test_parse_excludes_leaving_tasks),
		cmocka_unit_test(test_parse_not_ready_and_bad),
		cmocka_unit_test(test_node_ruleset),
		cmocka_unit_test(test_sbox_ruleset),
		cmocka_unit_test(test_names_cannot_break_the_ruleset),
		cmocka_unit_test(test_rulesets_parse_in_nft),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
