/* Swarm-scope networks in GET /networks and GET /networks/{id} (the ingress network), as
 * dockerd shows them beside its local ones: a manager lists the store's networks, any node
 * in a swarm (a worker too, as Docker's) the one its agent was told of. Inspect adds what
 * is on this node: its task containers on the network, its sandbox ("ingress-sbox") and
 * the peers. The local networks (bridge, host, none) stay containers.c's. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "manager/manager.h"
#include "net/net.h"

static const char *str_at(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	if (b != NULL)
		v = json_object_get(v, b);
	return json_string_value(v);
}

/* Docker's endpoint IDs are 64 hex digits; these are stable ones derived from a name. */
static void endpoint_id(const char *a, const char *b, char out[65])
{
	uint64_t h = 1469598103934665603ULL;
	const unsigned char *p;
	int i;

	for (i = 0; i < 4; i++) {
		for (p = (const unsigned char *)a; *p != '\0'; p++)
			h = (h ^ *p) * 1099511628211ULL;
		for (p = (const unsigned char *)b; *p != '\0'; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ (uint64_t)i) * 1099511628211ULL;
		snprintf(out + 16 * i, 17, "%016llx", (unsigned long long)h);
	}
}

static void mac_of(const char *cidr, char out[18])
{
	unsigned a, b, c, d;

	out[0] = '\0';
	if (cidr != NULL && sscanf(cidr, "%u.%u.%u.%u", &a, &b, &c, &d) == 4)
		snprintf(out, 18, "02:42:%02x:%02x:%02x:%02x", a & 0xff, b & 0xff, c & 0xff,
			 d & 0xff);
}

static json_t *endpoint_json(const char *name, const char *id, const char *cidr)
{
	char mac[18];

	mac_of(cidr, mac);
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "Name", name, "EndpointID", id, "MacAddress",
			 mac, "IPv4Address", cidr, "IPv6Address", "");
}

/* This node's containers and sandbox on the network. */
static json_t *containers_json(struct shoal_api *api, const json_t *info)
{
	const json_t *attached = json_object_get(info, "Containers");
	struct shoal_engine *e = api->cfg.engine;
	json_t *out = json_object();
	struct shoal_list *pos;
	const char *cidr;
	char eid[65];

	shoal_list_foreach(pos, &e->containers) {
		struct shoal_container *c = shoal_list_entry(pos, struct shoal_container, link);

		cidr = json_string_value(json_object_get(attached, c->id));
		if (cidr == NULL ||
		    (c->state != SHOAL_CONTAINER_RUNNING && c->state != SHOAL_CONTAINER_PAUSED))
			continue;
		endpoint_id(c->id, cidr, eid);
		json_object_set_new(out, c->id, endpoint_json(c->name + 1, eid, cidr));
	}
	cidr = str_at(info, "Address", NULL);
	if (cidr != NULL) {
		endpoint_id("ingress-sbox", cidr, eid);
		json_object_set_new(out, "ingress-sbox",
				    endpoint_json("ingress-endpoint", eid, cidr));
	}
	return out;
}

/* A swarm Network object as dockerd's NetworkResource; inspect adds this node's view. */
static json_t *network_json(struct shoal_api *api, const json_t *net, const json_t *info,
			    bool inspect)
{
	const json_t *ipam = json_object_get(net, "IPAMOptions"), *cfg, *opts, *labels;
	json_t *config = json_array(), *out;
	size_t i;
	bool here;

	json_array_foreach(json_object_get(ipam, "Configs"), i, cfg) {
		json_t *c = json_pack("{s:s}", "Subnet", str_at(cfg, "Subnet", NULL) ?: "");

		if (str_at(cfg, "Gateway", NULL) != NULL)
			json_object_set_new(c, "Gateway",
					    json_string(str_at(cfg, "Gateway", NULL)));
		json_array_append_new(config, c);
	}
	opts = json_object_get(json_object_get(net, "DriverState"), "Options");
	labels = json_object_get(json_object_get(net, "Spec"), "Labels");
	here = info != NULL && strcmp(str_at(json_object_get(info, "Network"), "ID", NULL) ?: "",
				      str_at(net, "ID", NULL) ?: "") == 0;
	/* the list leaves Containers and Labels null, as dockerd's does for swarm networks */
	out = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s, s:n, s:o}, s:b, s:b, s:b, "
		"s:{s:s}, s:b, s:o, s:O, s:o}",
		"Name", str_at(net, "Spec", "Name") ?: "", "Id", str_at(net, "ID", NULL) ?: "",
		"Created", str_at(net, "CreatedAt", NULL) ?: "", "Scope", "swarm", "Driver",
		str_at(json_object_get(net, "DriverState"), "Name", NULL) ?: "overlay",
		"EnableIPv6", 0, "IPAM", "Driver",
		str_at(json_object_get(ipam, "Driver"), "Name", NULL) ?: "default", "Options",
		"Config", config, "Internal", 0, "Attachable", 0, "Ingress",
		json_is_true(json_object_get(json_object_get(net, "Spec"), "Ingress")),
		"ConfigFrom", "Network", "", "ConfigOnly", 0, "Containers",
		inspect && here ? containers_json(api, info) : json_null(), "Options",
		json_is_object(opts) ? opts : json_object(), "Labels",
		inspect ? (json_is_object(labels) ? json_deep_copy(labels) : json_object()) :
			  json_null());
	if (inspect && here)
		json_object_set(out, "Peers", json_object_get(info, "Peers"));
	return out;
}

/* The swarm networks this node knows: the store's on an active manager, else the one its
 * agent was told of. A new array of borrowed objects' copies. */
static json_t *swarm_networks(struct shoal_api *api, json_t **info)
{
	struct shoal_manager *m = api->cfg.manager;
	struct shoal_engine *e = api->cfg.engine;
	struct shoal_store_obj **l;
	struct shoal_err err;
	json_t *out = json_array();
	size_t n, i;

	*info = e != NULL ? shoal_net_ingress_info(e->net) : NULL;
	if (m != NULL && shoal_manager_check(m, &err) == 0) {
		l = shoal_store_list(shoal_manager_store(m), SHOAL_STORE_NETWORK, &n);
		for (i = 0; i < n; i++)
			json_array_append(out, l[i]->json);
		free(l);
	} else if (*info != NULL) {
		json_array_append(out, json_object_get(*info, "Network"));
	}
	return out;
}

void shoal_api__swarm_networks_list(struct shoal_api *api, const struct shoal_filters *f,
				    json_t *out)
{
	json_t *info, *nets = swarm_networks(api, &info), *net;
	const char *name, *id;
	size_t i;

	json_array_foreach(nets, i, net) {
		name = str_at(net, "Spec", "Name") ?: "";
		id = str_at(net, "ID", NULL) ?: "";
		if (!shoal_filters_match(f, "name", name) ||
		    !shoal_filters_fuzzy_match(f, "id", id) ||
		    !shoal_filters_match(f, "driver", "overlay") ||
		    !shoal_filters_match(f, "scope", "swarm") ||
		    !shoal_filters_match(f, "type", "custom") ||
		    !shoal_filters_match_labels(
			    f, "label", json_object_get(json_object_get(net, "Spec"), "Labels")))
			continue;
		json_array_append_new(out, network_json(api, net, info, false));
	}
	json_decref(nets);
	json_decref(info);
}

json_t *shoal_api__swarm_network_find(struct shoal_api *api, const char *ref)
{
	json_t *info, *nets = swarm_networks(api, &info), *net, *found = NULL, *out = NULL;
	size_t i, nprefix = 0;

	/* as dockerd: full ID, then name, then a unique ID prefix */
	json_array_foreach(nets, i, net) {
		if (strcmp(str_at(net, "ID", NULL) ?: "", ref) == 0)
			found = net;
	}
	json_array_foreach(nets, i, net) {
		if (found == NULL && strcmp(str_at(net, "Spec", "Name") ?: "", ref) == 0)
			found = net;
	}
	json_array_foreach(nets, i, net) {
		if (found == NULL && ref[0] != '\0' &&
		    strncmp(str_at(net, "ID", NULL) ?: "", ref, strlen(ref)) == 0 && nprefix++ == 0)
			out = net;
	}
	if (found == NULL && nprefix == 1)
		found = out;
	out = found != NULL ? network_json(api, found, info, true) : NULL;
	json_decref(nets);
	json_decref(info);
	return out;
}
