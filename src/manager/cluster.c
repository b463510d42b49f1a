/* The cluster port (2377 by default): what managers answer to other nodes. One HTTP/1.1
 * server per manager carries raft (an upgrade to libraft's stream), the root CA a joining node
 * checks against its token, joins, proposals forwarded by follower managers, and the
 * dispatcher's agent sessions (dispatcher.c). Calls that need the leader are answered by the
 * leader only; others get a 503 naming the leader, and the caller goes there, as swarmkit's
 * followers redirect (they proxy; the effect is the same).
 *
 * Peers are not authenticated yet: the join secret is checked, the rest trusts the network
 * (mutual TLS under the swarm CA comes with the security issue). */
#include "manager/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "cluster"

#define BAD_TOKEN_MSG \
	"rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster"

static struct shoal_manager *mgr(struct shoal_http_req *req)
{
	return req->ctx;
}

/* 503 with the leader's address (if one is known) so the caller can go there. */
void shoal_manager__reply_not_leader(struct shoal_manager *m, struct shoal_http_req *req)
{
	const char *addr = NULL;
	uint64_t id = 0;
	json_t *body;
	char *hdr = NULL, *s;

	if (m->raft != NULL)
		shoal_raft_leader(m->raft, &id, &addr);
	body = json_pack("{s:s, s:s?}", "message", SHOAL_RAFT_NO_LEADER_MSG, "Leader", addr);
	s = json_dumps(body, JSON_COMPACT);
	/* the agent's session reads it from a header: it streams bodies */
	if (addr != NULL)
		hdr = shoal_asprintf("Shoal-Leader: %s\r\n", addr);
	shoal_http_reply(req, 503, "application/json", hdr, s, strlen(s));
	free(s);
	free(hdr);
	json_decref(body);
}

bool shoal_manager__leading(struct shoal_manager *m)
{
	return m->state == SHOAL_MANAGER_ACTIVE && m->raft != NULL && shoal_raft_is_leader(m->raft);
}

/* ---- raft upgrade ---- */

struct adopt {
	uv_idle_t idle;
	uv_stream_t *stream;
	struct shoal_manager *m;
	uint64_t id;
	char address[64];
};

static void adopt_freed(uv_handle_t *h)
{
	free(container_of((uv_idle_t *)h, struct adopt, idle));
}

/* The 101 answer must leave before the socket changes hands: a uv_close() would cancel a
 * write still queued. It is almost always gone at once. */
static void adopt_try(uv_idle_t *idle)
{
	struct adopt *a = container_of(idle, struct adopt, idle);
	struct shoal_err err;
	uv_os_fd_t fd;
	int nfd = -1;

	if (uv_stream_get_write_queue_size(a->stream) > 0 && !a->m->closing)
		return;
	uv_idle_stop(idle);
	if (uv_fileno((uv_handle_t *)a->stream, &fd) == 0)
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	uv_close((uv_handle_t *)a->stream, shoal_http_hijack_close_cb);
	if (nfd < 0 || a->m->raft == NULL || a->m->closing) {
		if (nfd >= 0)
			close(nfd);
	} else if (shoal_raft_accept_fd(a->m->raft, a->id, a->address, nfd, &err) < 0) {
		shoal_log_warn("raft connection refused", "peer=%s error=%s", a->address,
			       shoal_log_q(err.msg));
	}
	uv_close((uv_handle_t *)idle, adopt_freed);
}

static void raft_hijacked(struct shoal_http_req *req, uv_stream_t *stream, const char *leftover,
			  size_t len)
{
	struct shoal_manager *m = mgr(req);
	const char *id = shoal_http_query(req, "id"), *address = shoal_http_query(req, "address");
	struct adopt *a;

	(void)leftover;
	if (stream == NULL)
		return;
	if (len > 0) {
		/* the peer spoke before it was answered: not our dialer */
		uv_close((uv_handle_t *)stream, shoal_http_hijack_close_cb);
		return;
	}
	a = shoal_calloc(1, sizeof(*a));
	a->stream = stream;
	a->m = m;
	a->id = strtoull(id, NULL, 10);
	snprintf(a->address, sizeof(a->address), "%s", address);
	uv_idle_init(m->loop, &a->idle);
	uv_idle_start(&a->idle, adopt_try);
}

static void route_raft(struct shoal_http_req *req)
{
	struct shoal_manager *m = mgr(req);
	const char *up = shoal_http_header_get(req, "Upgrade");
	const char *id = shoal_http_query(req, "id"), *address = shoal_http_query(req, "address");
	char *end = NULL;

	if (up == NULL || strcmp(up, SHOAL_RAFT_UPGRADE_PROTO) != 0 || id == NULL ||
	    address == NULL || strtoull(id, &end, 10) == 0 || *end != '\0' ||
	    strlen(address) >= 64) {
		shoal_http_reply_message(req, 400, "bad raft upgrade request");
		return;
	}
	if (m->raft == NULL) {
		shoal_http_reply_message(req, 503, "this node is not a raft member");
		return;
	}
	shoal_http_hijack(req, 101,
			  "Connection: Upgrade\r\nUpgrade: " SHOAL_RAFT_UPGRADE_PROTO "\r\n",
			  raft_hijacked);
}

/* ---- the root CA, for a joining node to check ---- */

static void route_ca(struct shoal_http_req *req)
{
	struct shoal_manager *m = mgr(req);
	struct shoal_store_obj *c = shoal_manager__cluster_obj(m);
	const char *pem;
	json_t *body;

	if (c == NULL) {
		shoal_http_reply_message(req, 503, SHOAL_MANAGER_PREPARING_MSG);
		return;
	}
	pem = json_string_value(json_object_get(json_object_get(c->json, "TLSInfo"), "TrustRoot"));
	body = json_pack("{s:s, s:s}", "CACert", pem ? pem : "", "ClusterID", c->id);
	shoal_http_reply_json(req, 200, body);
	json_decref(body);
}

/* ---- join (leader side) ---- */

static bool token_is(const char *given, const char *want)
{
	size_t n = strlen(want);

	return want[0] != '\0' && strlen(given) == n && CRYPTO_memcmp(given, want, n) == 0;
}

struct join_job {
	struct shoal_manager *m;
	struct shoal_http_req *req;
	json_t *answer;
	uint64_t raft_id;
	char *raft_addr;
	bool gone;
};

static void join_req_closed(struct shoal_http_req *req)
{
	struct join_job *j = req->data;

	j->gone = true;
	j->req = NULL;
	shoal_http_reply_message(req, 500, "client gone");
}

static void join_applied(void *ctx, const struct shoal_err *err)
{
	struct join_job *j = ctx;

	if (j->req != NULL) {
		j->req->on_close = NULL;
		if (err != NULL)
			shoal_http_reply_err(j->req, err);
		else
			shoal_http_reply_json(j->req, 200, j->answer);
	}
	json_decref(j->answer);
	/* a manager's raft membership follows from its ManagerStatus (roles.c) */
	free(j->raft_addr);
	free(j);
}

/* The managers a node can reach: [{NodeID, Addr}] from the store, the leader first. */
json_t *shoal_manager__managers_json(struct shoal_manager *m)
{
	struct shoal_store_obj **l;
	json_t *out = json_array();
	const char *laddr = NULL;
	uint64_t lid = 0;
	size_t n, i;

	if (m->store == NULL)
		return out;
	if (m->raft != NULL)
		shoal_raft_leader(m->raft, &lid, &laddr);
	l = shoal_store_list(m->store, SHOAL_STORE_NODE, &n);
	for (i = 0; i < n; i++) {
		json_t *ms = json_object_get(l[i]->json, "ManagerStatus");
		const char *addr = json_string_value(json_object_get(ms, "Addr"));
		json_t *e;

		if (addr == NULL)
			continue;
		e = json_pack("{s:s, s:s}", "NodeID", l[i]->id, "Addr", addr);
		if (laddr != NULL && strcmp(addr, laddr) == 0)
			json_array_insert_new(out, 0, e);
		else
			json_array_append_new(out, e);
	}
	free(l);
	return out;
}

static void route_join(struct shoal_http_req *req)
{
	struct shoal_manager *m = mgr(req);
	struct shoal_store_obj *c;
	json_t *body = NULL, *tokens, *desc, *node = NULL, *tls, *answer;
	const char *token, *addr, *raft_addr = NULL, *role;
	struct shoal_store_tx *tx = NULL;
	struct join_job *j;
	struct shoal_err err;
	char id[SHOAL_STORE_ID_LEN + 1];
	uint64_t rid = 0;

	if (!shoal_manager__leading(m)) {
		shoal_manager__reply_not_leader(m, req);
		return;
	}
	c = shoal_manager__cluster_obj(m);
	body = json_loadb(req->body.data, req->body.len, 0, NULL);
	token = json_string_value(json_object_get(body, "Token"));
	addr = json_string_value(json_object_get(body, "Addr"));
	desc = json_object_get(body, "Description");
	if (c == NULL || token == NULL || addr == NULL || !json_is_object(desc)) {
		shoal_http_reply_message(req, 400, "bad join request");
		goto out;
	}
	tokens = json_object_get(c->json, "JoinTokens");
	if (token_is(token, json_string_value(json_object_get(tokens, "Manager")))) {
		role = "manager";
		raft_addr = json_string_value(json_object_get(body, "RaftAddr"));
		if (raft_addr == NULL) {
			shoal_http_reply_message(req, 400, "bad join request: no RaftAddr");
			goto out;
		}
		while (rid == 0 || rid > INT64_MAX)
			if (getrandom(&rid, sizeof(rid), 0) != (ssize_t)sizeof(rid))
				shoal_fatal(SHOAL_LOG_MODULE, "getrandom");
	} else if (token_is(token, json_string_value(json_object_get(tokens, "Worker")))) {
		role = "worker";
	} else {
		/* the token itself is a secret: never logged */
		shoal_log_warn("join refused: bad token", "addr=%s", addr);
		shoal_http_reply_message(req, 400, BAD_TOKEN_MSG);
		goto out;
	}

	shoal_store_new_id(id);
	tls = json_object_get(c->json, "TLSInfo");
	desc = json_deep_copy(desc);
	json_object_set(desc, "TLSInfo", tls);
	node = json_pack("{s:s, s:{s:{}, s:s, s:s}, s:o, s:{s:s, s:s, s:s}}", "ID", id, "Spec",
			 "Labels", "Role", role, "Availability", "active", "Description", desc,
			 "Status", "State", "unknown", "Message", "", "Addr", addr);
	if (rid != 0)
		json_object_set_new(node, "ManagerStatus",
				    json_pack("{s:b, s:s, s:s, s:I}", "Leader", 0, "Reachability",
					      "reachable", "Addr", raft_addr, "RaftID",
					      (json_int_t)rid));
	answer = json_pack("{s:s, s:s, s:I, s:s, s:s, s:o}", "NodeID", id, "Role", role, "RaftID",
			   (json_int_t)rid, "ClusterID", c->id, "CACert",
			   json_string_value(json_object_get(tls, "TrustRoot")), "Managers",
			   shoal_manager__managers_json(m));
	tx = shoal_store_tx_new();
	shoal_store_tx_create(tx, SHOAL_STORE_NODE, node);
	node = NULL;
	j = shoal_calloc(1, sizeof(*j));
	j->m = m;
	j->req = req;
	j->answer = answer;
	j->raft_id = rid;
	j->raft_addr = raft_addr != NULL ? shoal_strdup(raft_addr) : NULL;
	req->data = j;
	req->on_close = join_req_closed;
	shoal_log_info("node joining", "node=%s role=%s addr=%s", id, role, addr);
	if (shoal_manager_propose(m, tx, join_applied, j, &err) < 0)
		join_applied(j, &err);
out:
	shoal_store_tx_free(tx);
	json_decref(node);
	json_decref(body);
}

/* ---- proposals forwarded by follower managers ---- */

static void forward_applied(void *ctx, const struct shoal_err *err)
{
	struct shoal_http_req *req = ctx;

	struct shoal_manager *m = req->ctx;
	json_t *ans;

	req->on_close = NULL;
	if (err != NULL) {
		shoal_http_reply_err(req, err);
		return;
	}
	/* the follower waits until its own copy holds the write before answering its client */
	ans = json_pack("{s:I}", "Index",
			(json_int_t)(m->store != NULL ? shoal_store_index(m->store) : 0));
	shoal_http_reply_json(req, 200, ans);
	json_decref(ans);
}

static void forward_closed(struct shoal_http_req *req)
{
	/* the proposal goes on; its answer has nowhere to go */
	req->on_close = NULL;
	shoal_http_reply_message(req, 500, "client gone");
}

static void route_propose(struct shoal_http_req *req)
{
	struct shoal_manager *m = mgr(req);
	struct shoal_err err;

	if (!shoal_manager__leading(m)) {
		shoal_manager__reply_not_leader(m, req);
		return;
	}
	req->on_close = forward_closed;
	if (shoal_manager__propose_bytes(m, req->body.data, req->body.len, forward_applied, req,
					 &err) < 0) {
		req->on_close = NULL;
		shoal_http_reply_err(req, &err);
	}
}

static const struct shoal_http_route routes[] = {
	{ "GET", SHOAL_RAFT_UPGRADE_PATH, route_raft, 0 },
	{ "GET", "/swarm/ca", route_ca, 0 },
	{ "POST", "/swarm/join", route_join, 0 },
	{ "POST", "/swarm/propose", route_propose, 0 },
	{ "POST", "/swarm/promote", shoal_manager__route_promote, 0 },
	{ "GET", "/swarm/logs", shoal_manager__route_logs, 0 },
	{ "POST", "/swarm/logs/publish", shoal_manager__route_logs_publish, 0 },
	{ "GET", "/swarm/session", shoal_manager__route_session, 0 },
	{ "POST", "/swarm/heartbeat", shoal_manager__route_heartbeat, 0 },
	{ "POST", "/swarm/status", shoal_manager__route_status, 0 },
};

static const struct shoal_http_router router = {
	.routes = routes,
	.nroutes = SHOAL_ARRAY_SIZE(routes),
	.max_major = 1,
	.max_minor = 41,
	.min_major = 1,
	.min_minor = 12,
};

int shoal_manager__cluster_listen(struct shoal_manager *m, struct shoal_err *err)
{
	char *url;
	int rv;

	if (m->csrv_up)
		return 0;
	shoal_http_server_init(&m->csrv, m->loop, &router, m, NULL);
	url = shoal_asprintf("tcp://%s", m->listen_addr);
	rv = shoal_http_server_listen(&m->csrv, url, err);
	free(url);
	if (rv < 0) {
		shoal_err_wrap(err, "cluster port");
		return -1;
	}
	m->csrv_up = true;
	shoal_log_info("cluster port listening", "addr=%s", m->listen_addr);
	return 0;
}

static void csrv_closed(struct shoal_http_server *srv)
{
	struct shoal_manager *m = container_of(srv, struct shoal_manager, csrv);
	void (*cb)(struct shoal_manager *) = m->csrv_close_cb;

	m->csrv_close_cb = NULL;
	if (cb != NULL)
		cb(m);
}

void shoal_manager__cluster_close(struct shoal_manager *m, void (*cb)(struct shoal_manager *m))
{
	if (!m->csrv_up) {
		cb(m);
		return;
	}
	m->csrv_up = false;
	m->csrv_close_cb = cb;
	shoal_http_server_close(&m->csrv, 0, csrv_closed);
}
