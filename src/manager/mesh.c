/* What the dispatcher tells every agent about the routing mesh (net.h documents the message):
 * the ingress network, each node's VTEP and sandbox address, the ingress address of every
 * task that may run, and for each service publishing ingress ports the tasks that run and
 * should, the rotation. Built from the store alone, so it is the same on any leader; a task
 * whose desired state went past running leaves the rotation in the next message, before its
 * agent stops it. */
#include "manager/internal.h"

#include <stdlib.h>
#include <string.h>

#include "manager/orch_internal.h"

static const char *attachment(const json_t *atts, const char *net_id)
{
	const json_t *a;
	size_t i;

	json_array_foreach(atts, i, a) {
		if (strcmp(shoal_orch__str(a, "Network", "ID", NULL) ?: "", net_id) == 0)
			return json_string_value(
				json_array_get(json_object_get(a, "Addresses"), 0));
	}
	return NULL;
}

static json_t *ingress_ports(const json_t *svc)
{
	const json_t *ports = shoal_orch__get(svc, "Endpoint", "Ports", NULL), *p;
	json_t *out = json_array();
	const char *mode;
	size_t i;

	json_array_foreach(ports, i, p) {
		mode = shoal_orch__str(p, "PublishMode", NULL);
		if ((mode != NULL && strcmp(mode, "ingress") != 0) ||
		    shoal_orch__int(p, "PublishedPort", NULL) == 0)
			continue;
		json_array_append_new(
			out, json_pack("{s:s, s:I, s:I}", "Protocol",
				       shoal_orch__str(p, "Protocol", NULL) ?: "tcp", "TargetPort",
				       (json_int_t)shoal_orch__int(p, "TargetPort", NULL),
				       "PublishedPort",
				       (json_int_t)shoal_orch__int(p, "PublishedPort", NULL)));
	}
	return out;
}

json_t *shoal_manager__mesh_msg(struct shoal_store *s)
{
	struct shoal_store_obj **l, **tl, *net = NULL, *c;
	json_t *nodes = json_array(), *eps = json_array(), *svcs = json_array(), *run, *ports;
	const char *id, *addr, *node;
	enum shoal_task_state st;
	json_int_t dpp = 0;
	size_t n, i, k, nt;

	l = shoal_store_list(s, SHOAL_STORE_NETWORK, &n);
	for (i = 0; i < n && net == NULL; i++)
		if (json_is_true(shoal_orch__get(l[i]->json, "Spec", "Ingress", NULL)))
			net = l[i];
	free(l);
	l = shoal_store_list(s, SHOAL_STORE_CLUSTER, &n);
	c = n > 0 ? l[0] : NULL;
	if (c != NULL)
		dpp = shoal_orch__int(c->json, "DataPathPort", NULL);
	free(l);
	if (net == NULL)
		goto out;
	id = net->id;

	l = shoal_store_list(s, SHOAL_STORE_NODE, &n);
	for (i = 0; i < n; i++) {
		addr = attachment(json_object_get(l[i]->json, "Attachments"), id);
		json_array_append_new(
			nodes,
			json_pack("{s:s, s:s, s:s, s:s}", "ID", l[i]->id, "Hostname",
				  shoal_orch__str(l[i]->json, "Description", "Hostname", NULL) ?:
												 "",
				  "Addr", shoal_orch__str(l[i]->json, "Status", "Addr", NULL) ?: "",
				  "IngressAddr", addr ?: ""));
	}
	free(l);

	tl = shoal_store_list(s, SHOAL_STORE_TASK, &nt);
	for (i = 0; i < nt; i++) {
		addr = attachment(json_object_get(tl[i]->json, "NetworksAttachments"), id);
		node = shoal_orch__str(tl[i]->json, "NodeID", NULL);
		st = shoal_orch__observed(tl[i]->json);
		if (addr == NULL || node == NULL || st < SHOAL_TASK_ASSIGNED ||
		    st > SHOAL_TASK_RUNNING)
			continue;
		json_array_append_new(eps, json_pack("{s:s, s:s, s:s}", "Task", tl[i]->id, "Node",
						     node, "Addr", addr));
	}
	l = shoal_store_list(s, SHOAL_STORE_SERVICE, &n);
	for (i = 0; i < n; i++) {
		if (!shoal_orch__ingress_needed(l[i]->json))
			continue;
		ports = ingress_ports(l[i]->json);
		run = json_array();
		free(tl);
		tl = shoal_store_tasks_by_service(s, l[i]->id, &nt);
		for (k = 0; k < nt; k++) {
			if (shoal_orch__observed(tl[k]->json) != SHOAL_TASK_RUNNING ||
			    shoal_orch__desired(tl[k]->json) != SHOAL_TASK_RUNNING ||
			    attachment(json_object_get(tl[k]->json, "NetworksAttachments"), id) ==
				    NULL)
				continue;
			json_array_append_new(run, json_string(tl[k]->id));
		}
		json_array_append_new(
			svcs, json_pack("{s:s, s:s, s:o, s:o}", "ID", l[i]->id, "Name",
					shoal_orch__str(l[i]->json, "Spec", "Name", NULL) ?: "",
					"Ports", ports, "Tasks", run));
	}
	free(l);
	free(tl);
out:
	return json_pack("{s:s, s:O?, s:I, s:o, s:o, s:o}", "Type", "network", "Network",
			 net != NULL ? net->json : NULL, "DataPathPort", dpp != 0 ? dpp : 4789,
			 "Nodes", nodes, "Endpoints", eps, "Services", svcs);
}
