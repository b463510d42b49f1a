/* Attach and detach: a container's namespace joined to the bridge, and undone.
 *
 * Attach does the quick parts on the loop, in an order where a failure has the least to
 * undo: the address (memory), the published ports (sockets: a conflict fails the call
 * itself, before any link exists), the veth pair (netlink), then the helper configures
 * eth0 inside the namespace; when it is done the table is rewritten and the record
 * written, and only then does the callback run. Detach is synchronous but for removing
 * the record; a detach that arrives while its attach runs makes the attach fail and is
 * answered after it. */
#include "net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/errno.h>

#include "base/log.h"
#include "base/mem.h"
#include "net/internal.h"

#define SHOAL_LOG_MODULE "net"

/* What a detach reports once the record is gone. */
struct detach_job {
	shoal_net_done_cb cb;
	void *ctx;
	bool failed;
	struct shoal_err err;
};

static void detach_recorded(struct shoal_net *n, void *data, int result)
{
	struct detach_job *j = data;
	shoal_net_done_cb cb = j->cb;
	void *ctx = j->ctx;
	struct shoal_err err = j->err;
	bool failed = j->failed;

	free(j);
	if (n == NULL || cb == NULL)
		return;
	if (result < 0 && !failed) {
		shoal_errorf_sys(&err, 500, -result, "cannot remove the endpoint record: %s",
				 strerror(-result));
		failed = true;
	}
	cb(ctx, failed ? &err : NULL);
}

static void detach_job_queue(struct shoal_net *n, const char *id, struct detach_job *j)
{
	shoal_net__fsop_queue(n, SHOAL_NET_FSOP_UNLINK, shoal_net__ep_path(n, id), NULL,
			      detach_recorded, j);
}

/* Takes ep out of the network and frees it: rules, reservations, veth pair (deleting one
 * end deletes both), address. Goes on past failures; the first is reported. */
static int ep_undo(struct shoal_net *n, struct shoal_net__ep *ep, struct shoal_err *err)
{
	int rv = 0, nle;

	shoal_list_del(&ep->link);
	/* only published ports put an endpoint in the table */
	if (ep->ready && ep->pub.nports > 0 && shoal_net__rules_apply(n, err) < 0)
		rv = -1;
	shoal_net__ports_release(ep);
	nle = shoal_net__link_delete(n, ep->pub.veth_host);
	if (nle < 0 && rv == 0)
		rv = shoal_errorf(err, 500, "cannot delete %s: %s", ep->pub.veth_host,
				  nl_geterror(nle));
	shoal_log_debug("endpoint removed", "container=%s ip=%s", ep->pub.id, ep->pub.ip);
	shoal_net__ep_free(ep);
	return rv;
}

/* The attach ends in failure (its own, or a detach during it): undo, answer the waiting
 * detaches through the file queue, then the attach's callback, last. */
static void attach_fail(struct shoal_net *n, struct shoal_net__ep *ep,
			const struct shoal_err *cause)
{
	shoal_net_attach_cb cb = ep->cb;
	void *ctx = ep->ctx;
	struct shoal_err err = *cause, uerr;
	struct shoal_net__req *req;
	struct shoal_list *pos, *tmp;
	struct detach_job *j;
	bool answered = false;

	shoal_list_foreach_safe(pos, tmp, &ep->detaches) {
		req = shoal_list_entry(pos, struct shoal_net__req, link);
		shoal_list_del(pos);
		j = shoal_calloc(1, sizeof(*j));
		j->cb = req->cb;
		j->ctx = req->ctx;
		detach_job_queue(n, ep->pub.id, j);
		free(req);
		answered = true;
	}
	if (ep->saved && !answered)
		detach_job_queue(n, ep->pub.id, shoal_calloc(1, sizeof(struct detach_job)));
	if (ep_undo(n, ep, &uerr) < 0)
		shoal_log_error("cannot undo a failed attach", "error=%s", shoal_log_q(uerr.msg));
	cb(ctx, NULL, &err);
}

static void attach_recorded(struct shoal_net *n, void *data, int result)
{
	struct shoal_net__ep *ep = data;
	struct shoal_err err;

	if (n == NULL)
		return; /* ep went with the network */
	if (result < 0)
		shoal_log_error(
			"cannot write the endpoint record; a restarted daemon will not know it",
			"container=%s error=%s", ep->pub.id, strerror(-result));
	if (ep->cancel) {
		shoal_errorf(&err, 500, "container %s was disconnected while connecting",
			     ep->pub.id);
		attach_fail(n, ep, &err);
		return;
	}
	ep->attaching = false;
	shoal_log_debug("endpoint attached", "container=%s ip=%s veth=%s ports=%zu", ep->pub.id,
			ep->pub.ip, ep->pub.veth_host, ep->pub.nports);
	ep->cb(ep->ctx, &ep->pub, NULL);
}

static void attach_configured(struct shoal_net *n, void *data, const struct shoal_err *cerr)
{
	struct shoal_net__ep *ep = data;
	struct shoal_err err;
	json_t *rec;

	if (n == NULL)
		return;
	if (cerr != NULL) {
		err = *cerr;
		shoal_err_wrap(&err, "cannot configure the network of container %s", ep->pub.id);
		attach_fail(n, ep, &err);
		return;
	}
	if (ep->cancel) {
		shoal_errorf(&err, 500, "container %s was disconnected while connecting",
			     ep->pub.id);
		attach_fail(n, ep, &err);
		return;
	}
	ep->ready = true;
	/* the table holds the published ports only: without any, it stays as it is (a
	 * rewrite is a netlink transaction every start would pay for) */
	if (ep->pub.nports > 0 && shoal_net__rules_apply(n, &err) < 0) {
		shoal_err_wrap(
			&err, "driver failed programming external connectivity on endpoint %s (%s)",
			ep->name, ep->pub.id);
		attach_fail(n, ep, &err);
		return;
	}
	ep->saved = true;
	rec = shoal_net__ep_to_json(ep);
	shoal_net__fsop_queue(n, SHOAL_NET_FSOP_WRITE, shoal_net__ep_path(n, ep->pub.id),
			      json_dumps(rec, JSON_COMPACT), attach_recorded, ep);
	json_decref(rec);
}

static int ports_copy(struct shoal_net__ep *ep, const struct shoal_net_port *ports, size_t nports,
		      struct shoal_err *err)
{
	const struct shoal_net_port *p;
	size_t i;

	ep->pub.ports = shoal_calloc(nports + 1, sizeof(*ep->pub.ports));
	ep->fds = shoal_malloc((nports + 1) * sizeof(*ep->fds));
	ep->pub.nports = nports;
	for (i = 0; i < nports; i++) {
		p = &ports[i];
		ep->fds[i] = -1;
		if (strcmp(p->proto, "tcp") != 0 && strcmp(p->proto, "udp") != 0)
			return shoal_errorf(err, 400, "Invalid proto: %.4s", p->proto);
		if (p->container_port < 1 || p->container_port > 65535)
			return shoal_errorf(err, 400, "Invalid containerPort: %d",
					    p->container_port);
		if (p->host_port < 0 || p->host_port > 65535)
			return shoal_errorf(err, 400, "Invalid hostPort: %d", p->host_port);
		if (memchr(p->host_ip, '\0', sizeof(p->host_ip)) == NULL)
			return shoal_errorf(err, 400, "Invalid host IP");
		ep->pub.ports[i] = *p;
	}
	return 0;
}

int shoal_net_attach(struct shoal_net *n, const char *id, const char *name, const char *netns,
		     const struct shoal_net_port *ports, size_t nports, shoal_net_attach_cb cb,
		     void *ctx, struct shoal_err *err)
{
	struct shoal_net__ep *ep = NULL;
	char peer[16], cidr[24];
	const char *args[14];
	bool veth = false;
	char *knob = NULL;
	int nsfd = -1, rv = -1, r;

	if (!shoal_net__id_valid(id))
		return shoal_errorf(err, 400, "invalid container ID %s", id ? id : "");
	if (name == NULL)
		name = id;
	if (shoal_net__ep_find(n, id) != NULL)
		return shoal_errorf(err, 403,
				    "endpoint with name %s already exists in network bridge", name);
	ep = shoal_net__ep_new(id, name);
	if (netns == NULL || netns[0] == '\0' || strlen(netns) >= sizeof(ep->pub.netns)) {
		shoal_errorf(err, 400, "invalid network namespace path %s", netns ? netns : "");
		goto out;
	}
	snprintf(ep->pub.netns, sizeof(ep->pub.netns), "%s", netns);
	if (ports_copy(ep, ports, ports ? nports : 0, err) < 0 ||
	    shoal_net__ep_address(n, ep, err) < 0)
		goto out;
	if (shoal_net__ports_reserve(n, ep, err) < 0) {
		shoal_err_wrap(
			err, "driver failed programming external connectivity on endpoint %s (%s)",
			name, id);
		goto out;
	}
	nsfd = open(netns, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		shoal_errorf_sys(err, 500, errno, "cannot open network namespace %s: %s", netns,
				 strerror(errno));
		goto out;
	}
	shoal_net__link_name("vp", id, peer);
	if (shoal_net__veth_create(n, ep->pub.veth_host, peer, nsfd, err) < 0)
		goto out;
	veth = true;
	/* With br_netfilter loaded, a container's packet to its own published port is
	 * DNATed while being bridged and must go back out the port it came in by. */
	knob = shoal_asprintf("/sys/class/net/%s/brport/hairpin_mode", ep->pub.veth_host);
	r = shoal_net__write_knob(knob, "1");
	if (r < 0)
		shoal_log_warn("cannot set hairpin mode", "veth=%s error=%s", ep->pub.veth_host,
			       strerror(-r));

	snprintf(cidr, sizeof(cidr), "%s/%d", ep->pub.ip, ep->pub.prefix);
	args[0] = "net-setup";
	args[1] = "--netns";
	args[2] = netns;
	args[3] = "--link";
	args[4] = peer;
	args[5] = "--ifname";
	args[6] = "eth0";
	args[7] = "--mac";
	args[8] = ep->pub.mac;
	args[9] = "--addr";
	args[10] = cidr;
	args[11] = "--gw";
	args[12] = ep->pub.gateway;
	args[13] = NULL;
	if (shoal_net__child_run(n, args, attach_configured, ep, err) < 0)
		goto out;
	ep->attaching = true;
	ep->cb = cb;
	ep->ctx = ctx;
	shoal_net__ep_insert(n, ep);
	ep = NULL;
	rv = 0;
out:
	if (ep != NULL && veth && shoal_net__link_delete(n, ep->pub.veth_host) < 0)
		shoal_log_warn("cannot delete a veth", "veth=%s", ep->pub.veth_host);
	shoal_net__ep_free(ep);
	if (nsfd >= 0)
		close(nsfd);
	free(knob);
	return rv;
}

static bool veth_owned(const struct shoal_net *n, const char *veth)
{
	struct shoal_list *pos;

	shoal_list_foreach(pos, &n->eps) {
		if (strcmp(shoal_list_entry(pos, struct shoal_net__ep, link)->pub.veth_host,
			   veth) == 0)
			return true;
	}
	return false;
}

int shoal_net_detach(struct shoal_net *n, const char *id, shoal_net_done_cb cb, void *ctx,
		     struct shoal_err *err)
{
	struct shoal_net__ep *ep;
	struct shoal_net__req *req;
	struct detach_job *j;
	char veth[16];
	int nle;

	if (!shoal_net__id_valid(id))
		return shoal_errorf(err, 400, "invalid container ID %s", id ? id : "");
	/* eth1, if any, goes with the namespace */
	shoal_net__ingress_forget(n, id);
	ep = shoal_net__ep_find(n, id);
	if (ep != NULL && ep->attaching) {
		req = shoal_calloc(1, sizeof(*req));
		req->cb = cb;
		req->ctx = ctx;
		shoal_list_add_tail(&ep->detaches, &req->link);
		ep->cancel = true;
		return 0;
	}
	j = shoal_calloc(1, sizeof(*j));
	j->cb = cb;
	j->ctx = ctx;
	if (ep != NULL) {
		if (ep_undo(n, ep, &j->err) < 0)
			j->failed = true;
	} else {
		/* No record (a crash before the attach ended, or a second detach): the veth
		 * name is derived from the ID, so a leftover pair still goes, unless the name
		 * is another endpoint's (two IDs with the same 28-bit hash). */
		shoal_net__link_name("veth", id, veth);
		nle = veth_owned(n, veth) ? 0 : shoal_net__link_delete(n, veth);
		if (nle < 0) {
			shoal_errorf(&j->err, 500, "cannot delete %s: %s", veth, nl_geterror(nle));
			j->failed = true;
		}
	}
	detach_job_queue(n, id, j);
	return 0;
}
