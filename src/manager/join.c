/* The joining side of `docker swarm join`, and the calls a manager makes to the leader:
 * proposals forwarded from a follower and a promoted node's entry into raft. All go over
 * the cluster port with the daemon's HTTP client, never blocking the loop.
 *
 * Join: fetch the root CA from the remote manager and check it against the token's digest
 * (a node must not join a swarm it was not invited to), send the token with this node's
 * description to the leader (following the Leader a follower names), then become what the
 * answer says: a worker (state.json and an agent) or a manager (also the cluster port and a
 * raft member the leader adds). */
#include "manager/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "join"

#define JOIN_TIMEOUT_MS	  20000
#define CALL_TIMEOUT_MS	  10000
#define MAX_REDIRECTS	  3
#define TOKEN_PREFIX	  "SWMTKN-1-"
#define TOKEN_DIGEST_LEN  50
#define TOKEN_SECRET_LEN  25
#define INVALID_TOKEN_MSG "invalid join token"

struct shoal_http_client *shoal_manager__client(struct shoal_manager *m)
{
	if (m->client == NULL)
		m->client = shoal_http_client_new(m->loop);
	return m->client;
}

struct shoal_http_call *shoal_manager__call(struct shoal_manager *m, const char *addr,
					    const char *path, const json_t *body,
					    shoal_http_call_done_cb done, void *ctx,
					    unsigned timeout_ms, struct shoal_err *err)
{
	struct shoal_http_call *c;
	char *url = shoal_asprintf("http://%s%s", addr, path);
	char *data = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	c = shoal_http_call_peer(shoal_manager__client(m), url, data, data ? strlen(data) : 0, 5000,
				 timeout_ms, done, ctx, err);
	free(url);
	free(data);
	return c;
}

/* The message of an error answer ({"message": ...}) or the body itself. A new string. */
static char *answer_message(const char *body, size_t len)
{
	json_t *j = json_loadb(body ? body : "", len, 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "message"));
	char *out = shoal_strdup(msg != NULL ? msg : (body ? body : ""));

	json_decref(j);
	return out;
}

/* ---- join ---- */

struct join {
	struct shoal_manager *m;
	shoal_manager_done_cb cb;
	void *ctx;
	char *token, *digest;
	char *remote;	 /* where the next call goes */
	char *addr;	 /* this node's advertise IP */
	char *raft_addr; /* this node's advertise ip:port, if it becomes a manager */
	char *listen_addr;
	json_t *desc;
	int redirects;
	struct shoal_http_call *c;
	uv_timer_t timer;
	bool done;
};

static void join_timer_closed(uv_handle_t *h)
{
	struct join *j = h->data;

	free(j->token);
	free(j->digest);
	free(j->remote);
	free(j->addr);
	free(j->raft_addr);
	free(j->listen_addr);
	json_decref(j->desc);
	free(j);
}

static void join_finish(struct join *j, const struct shoal_err *err)
{
	struct shoal_manager *m = j->m;

	if (j->done)
		return;
	j->done = true;
	if (j->c != NULL) {
		shoal_http_call_cancel(j->c);
		j->c = NULL;
	}
	m->join = NULL;
	if (err != NULL) {
		shoal_log_warn("join failed", "remote=%s error=%s", j->remote,
			       shoal_log_q(err->msg));
		if (m->state == SHOAL_MANAGER_JOINING)
			m->state = SHOAL_MANAGER_INACTIVE;
	}
	if (j->cb != NULL)
		j->cb(j->ctx, err);
	uv_close((uv_handle_t *)&j->timer, join_timer_closed);
}

static void join_timeout(uv_timer_t *t)
{
	struct join *j = t->data;
	struct shoal_err err;

	shoal_errorf(&err, 503, "%s", SHOAL_MANAGER_JOIN_TIMEOUT_MSG);
	join_finish(j, &err);
}

static int become(struct join *j, const json_t *ans, struct shoal_err *err)
{
	struct shoal_manager *m = j->m;
	const char *node_id = json_string_value(json_object_get(ans, "NodeID"));
	const char *role = json_string_value(json_object_get(ans, "Role"));
	json_int_t rid = json_integer_value(json_object_get(ans, "RaftID"));
	json_t *st;
	char *path, *data;
	int rv;

	if (node_id == NULL || strlen(node_id) != SHOAL_STORE_ID_LEN || role == NULL ||
	    (strcmp(role, "manager") == 0 && rid <= 0))
		return shoal_errorf(err, 500, "bad join answer from %s", j->remote);
	snprintf(m->node_id, sizeof(m->node_id), "%s", node_id);
	m->addr = shoal_strdup(j->addr);
	m->listen_addr = shoal_strdup(j->listen_addr);
	m->managers = json_incref(json_object_get(ans, "Managers"));
	if (!json_is_array(m->managers)) {
		json_decref(m->managers);
		m->managers = json_array();
	}
	if (strcmp(role, "manager") == 0) {
		m->raft_id = (uint64_t)rid;
		m->raft_addr = shoal_strdup(j->raft_addr);
	}
	if (mkdir(m->swarm_dir, 0700) < 0 && errno != EEXIST)
		return shoal_errorf_sys(err, 500, errno, "create %s: %s", m->swarm_dir,
					strerror(errno));
	st = shoal_manager__state_json(m);
	data = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(st);
	path = shoal_asprintf("%s/state.json", m->swarm_dir);
	rv = shoal_manager__write_file(path, data, 0600, err);
	free(path);
	free(data);
	if (rv < 0)
		return -1;
	if (m->raft_id == 0) {
		m->state = SHOAL_MANAGER_WORKER;
		shoal_log_info("joined the swarm as a worker", "node=%s", m->node_id);
		shoal_manager__member_changed(m);
		return 0;
	}
	if (shoal_manager__cluster_listen(m, err) < 0 || shoal_manager__raft_up(m, false, err) < 0)
		return -1;
	shoal_log_info("joined the swarm as a manager", "node=%s raft=%s", m->node_id,
		       m->raft_addr);
	shoal_manager__member_changed(m);
	return 0;
}

static void join_send(struct join *j);

static void join_answered(struct shoal_http_call *c, int status, const char *body, size_t len,
			  const struct shoal_err *terr, void *ctx)
{
	struct join *j = ctx;
	struct shoal_err err;
	json_t *ans;
	char *msg;

	(void)c;
	j->c = NULL;
	if (terr != NULL) {
		join_finish(j, terr);
		return;
	}
	ans = json_loadb(body ? body : "", len, 0, NULL);
	if (status == 503 && json_is_string(json_object_get(ans, "Leader")) &&
	    j->redirects++ < MAX_REDIRECTS) {
		free(j->remote);
		j->remote = shoal_strdup(json_string_value(json_object_get(ans, "Leader")));
		json_decref(ans);
		join_send(j);
		return;
	}
	if (status != 200) {
		msg = answer_message(body, len);
		shoal_errorf(&err, status >= 400 && status < 600 ? status : 500, "%s", msg);
		free(msg);
		json_decref(ans);
		join_finish(j, &err);
		return;
	}
	if (become(j, ans, &err) < 0) {
		shoal_manager__forget(j->m);
		json_decref(ans);
		join_finish(j, &err);
		return;
	}
	json_decref(ans);
	join_finish(j, NULL);
}

static void join_send(struct join *j)
{
	struct shoal_err err;
	json_t *body;

	body = json_pack("{s:s, s:s, s:s, s:O}", "Token", j->token, "Addr", j->addr, "RaftAddr",
			 j->raft_addr, "Description", j->desc);
	j->c = shoal_manager__call(j->m, j->remote, "/swarm/join", body, join_answered, j,
				   CALL_TIMEOUT_MS, &err);
	json_decref(body);
	if (j->c == NULL)
		join_finish(j, &err);
}

/* The sha256 of the PEM in base 36, as the token writes it. */
static void ca_digest(const char *pem, char out[TOKEN_DIGEST_LEN + 16])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(pem, strlen(pem), md, &n, EVP_sha256(), NULL);
	shoal_manager_base36(md, n, TOKEN_DIGEST_LEN, out);
}

static void ca_answered(struct shoal_http_call *c, int status, const char *body, size_t len,
			const struct shoal_err *terr, void *ctx)
{
	struct join *j = ctx;
	struct shoal_err err;
	char got[TOKEN_DIGEST_LEN + 16];
	const char *pem;
	json_t *ans;

	(void)c;
	j->c = NULL;
	if (terr != NULL) {
		join_finish(j, terr);
		return;
	}
	ans = json_loadb(body ? body : "", len, 0, NULL);
	pem = json_string_value(json_object_get(ans, "CACert"));
	if (status != 200 || pem == NULL) {
		char *msg = answer_message(body, len);

		shoal_errorf(&err, 500, "cannot get the swarm CA from %s: %s", j->remote, msg);
		free(msg);
		json_decref(ans);
		join_finish(j, &err);
		return;
	}
	ca_digest(pem, got);
	if (strcmp(got, j->digest) != 0) {
		shoal_errorf(&err, 500, "remote CA does not match fingerprint. Expected: %s",
			     j->digest);
		json_decref(ans);
		join_finish(j, &err);
		return;
	}
	json_decref(ans);
	join_send(j);
}

/* "SWMTKN-1-<50 base36>-<25 base36>": the digest part, or -1. */
static int token_digest(const char *token, char *digest)
{
	size_t plen = strlen(TOKEN_PREFIX), i;

	if (strncmp(token, TOKEN_PREFIX, plen) != 0 ||
	    strlen(token) != plen + TOKEN_DIGEST_LEN + 1 + TOKEN_SECRET_LEN ||
	    token[plen + TOKEN_DIGEST_LEN] != '-')
		return -1;
	for (i = plen; token[i] != '\0'; i++)
		if (i != plen + TOKEN_DIGEST_LEN &&
		    !((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'z')))
			return -1;
	memcpy(digest, token + plen, TOKEN_DIGEST_LEN);
	digest[TOKEN_DIGEST_LEN] = '\0';
	return 0;
}

int shoal_manager_join(struct shoal_manager *m, const struct shoal_manager_join_req *req,
		       shoal_manager_done_cb cb, void *ctx, struct shoal_err *err)
{
	char digest[TOKEN_DIGEST_LEN + 1], lip[64], aip[64], rip[64];
	unsigned lport, aport, rport;
	struct join *j;

	if (m->state != SHOAL_MANAGER_INACTIVE || m->closing)
		return shoal_errorf(err, 503, "%s", SHOAL_MANAGER_ALREADY_MSG);
	if (req->remote_addr == NULL || req->remote_addr[0] == '\0')
		return shoal_errorf(err, 400, "at least 1 RemoteAddr is required to join");
	if (req->token == NULL || token_digest(req->token, digest) < 0)
		return shoal_errorf(err, 400, INVALID_TOKEN_MSG);
	if (shoal_manager__split_addr(req->remote_addr, rip, sizeof(rip), &rport,
				      SHOAL_MANAGER_DEFAULT_PORT) < 0 ||
	    !shoal_manager__is_ipv4(rip))
		return shoal_errorf(err, 400, "invalid remote address %s", req->remote_addr);
	if (shoal_manager__addrs(req->listen_addr, req->advertise_addr, lip, &lport, aip, &aport,
				 err) < 0)
		return -1;

	j = shoal_calloc(1, sizeof(*j));
	j->m = m;
	j->cb = cb;
	j->ctx = ctx;
	j->token = shoal_strdup(req->token);
	j->digest = shoal_strdup(digest);
	j->remote = shoal_asprintf("%s:%u", rip, rport);
	j->addr = shoal_strdup(aip);
	j->raft_addr = shoal_asprintf("%s:%u", aip, aport);
	j->listen_addr = shoal_asprintf("%s:%u", lip[0] ? lip : "0.0.0.0", lport);
	j->desc = shoal_manager__description(m);
	uv_timer_init(m->loop, &j->timer);
	j->timer.data = j;
	uv_timer_start(&j->timer, join_timeout, JOIN_TIMEOUT_MS, 0);
	m->join = j;
	m->state = SHOAL_MANAGER_JOINING;
	shoal_log_info("joining a swarm", "remote=%s addr=%s", j->remote, j->addr);
	j->c = shoal_manager__call(m, j->remote, "/swarm/ca", NULL, ca_answered, j, CALL_TIMEOUT_MS,
				   err);
	if (j->c == NULL) {
		m->join = NULL;
		m->state = SHOAL_MANAGER_INACTIVE;
		j->done = true;
		uv_close((uv_handle_t *)&j->timer, join_timer_closed);
		return -1;
	}
	return 0;
}

void shoal_manager__join_abort(struct shoal_manager *m)
{
	struct shoal_err err;

	if (m->join == NULL)
		return;
	shoal_errorf(&err, 503, "%s", SHOAL_MANAGER_NOT_MEMBER_MSG);
	join_finish(m->join, &err);
}

/* ---- proposals forwarded to the leader ---- */

/* How long a follower keeps trying the leader: a leader just lost is replaced in a few
 * seconds, and a client should see the new one rather than an error. */
#define FWD_DEADLINE_MS 10000
#define FWD_CONNECT_MS	1000
#define FWD_RETRY_MS	250
#define FWD_CATCH_UP_MS 5000

struct fwd {
	struct shoal_list link; /* in m->fwds */
	struct shoal_manager *m;
	shoal_manager_done_cb cb;
	void *ctx;
	char *buf;
	size_t len;
	int redirects;
	uint64_t deadline; /* uv_now() */
	uint64_t index;	   /* the store index the write landed at: wait for it here */
	struct shoal_http_call *call;
	uv_timer_t timer; /* retry, or the catch-up limit */
	bool done;
};

static void fwd_try(struct fwd *f, const char *leader);

static void fwd_closed(uv_handle_t *h)
{
	struct fwd *f = h->data;

	free(f->buf);
	free(f);
}

static void fwd_done(struct fwd *f, const struct shoal_err *err)
{
	if (f->done)
		return;
	f->done = true;
	shoal_list_del(&f->link);
	if (f->call != NULL) {
		shoal_http_call_cancel(f->call);
		f->call = NULL;
	}
	uv_timer_stop(&f->timer);
	uv_close((uv_handle_t *)&f->timer, fwd_closed);
	if (f->cb != NULL)
		f->cb(f->ctx, err);
}

static void fwd_retry(uv_timer_t *t)
{
	struct fwd *f = t->data;
	struct shoal_err err;

	if (f->index != 0) {
		/* the write is in; this node's copy has not caught up in time: answer anyway */
		fwd_done(f, NULL);
		return;
	}
	if (uv_now(f->m->loop) >= f->deadline || f->m->raft == NULL) {
		shoal_errorf(&err, 503, "%s", SHOAL_RAFT_NO_LEADER_MSG);
		fwd_done(f, &err);
		return;
	}
	fwd_try(f, NULL);
}

static void fwd_later(struct fwd *f)
{
	uv_timer_start(&f->timer, fwd_retry, FWD_RETRY_MS, 0);
}

void shoal_manager__forwards_applied(struct shoal_manager *m)
{
	struct shoal_list *p, *tmp;
	uint64_t index = m->store != NULL ? shoal_store_index(m->store) : 0;

	shoal_list_foreach_safe(p, tmp, &m->fwds) {
		struct fwd *f = shoal_list_entry(p, struct fwd, link);

		if (f->index != 0 && f->index <= index)
			fwd_done(f, NULL);
	}
}

void shoal_manager__forwards_fail(struct shoal_manager *m)
{
	struct shoal_err err;

	shoal_errorf(&err, 503, "%s", SHOAL_RAFT_NO_LEADER_MSG);
	while (!shoal_list_empty(&m->fwds))
		fwd_done(shoal_list_entry(m->fwds.next, struct fwd, link), &err);
}

static void fwd_answered(struct shoal_http_call *c, int status, const char *body, size_t len,
			 const struct shoal_err *terr, void *ctx)
{
	struct fwd *f = ctx;
	struct shoal_err err;
	json_t *ans;
	char *msg;

	(void)c;
	f->call = NULL;
	if (terr != NULL) {
		/* the leader is gone or going: ask raft again until a new one answers */
		fwd_later(f);
		return;
	}
	ans = json_loadb(body ? body : "", len, 0, NULL);
	if (status == 200) {
		json_int_t idx = json_integer_value(json_object_get(ans, "Index"));

		json_decref(ans);
		/* read your writes: the caller reads this node's copy next */
		if (idx > 0 && f->m->store != NULL &&
		    shoal_store_index(f->m->store) < (uint64_t)idx) {
			f->index = (uint64_t)idx;
			uv_timer_start(&f->timer, fwd_retry, FWD_CATCH_UP_MS, 0);
			return;
		}
		fwd_done(f, NULL);
		return;
	}
	if (status == 503 && f->redirects++ < MAX_REDIRECTS) {
		const char *leader = json_string_value(json_object_get(ans, "Leader"));

		if (leader != NULL)
			fwd_try(f, leader);
		else
			fwd_later(f);
		json_decref(ans);
		return;
	}
	json_decref(ans);
	msg = answer_message(body, len);
	shoal_errorf(&err, status, "%s", msg);
	free(msg);
	fwd_done(f, &err);
}

/* Sends the change set to leader, or to the leader raft knows of now. */
static void fwd_try(struct fwd *f, const char *leader)
{
	struct shoal_err err;
	uint64_t id = 0;
	char *url;

	if (leader == NULL && f->m->raft != NULL)
		shoal_raft_leader(f->m->raft, &id, &leader);
	if (leader == NULL) {
		fwd_later(f);
		return;
	}
	if (f->m->raft != NULL && shoal_raft_is_leader(f->m->raft)) {
		/* this node leads now */
		if (shoal_manager__propose_bytes(f->m, f->buf, f->len, f->cb, f->ctx, &err) < 0) {
			fwd_done(f, &err);
			return;
		}
		f->cb = NULL;
		fwd_done(f, NULL);
		return;
	}
	url = shoal_asprintf("http://%s/swarm/propose", leader);
	f->call = shoal_http_call_peer(shoal_manager__client(f->m), url, f->buf, f->len,
				       FWD_CONNECT_MS, JOIN_TIMEOUT_MS, fwd_answered, f, &err);
	free(url);
	if (f->call == NULL)
		fwd_done(f, &err);
}

int shoal_manager__forward(struct shoal_manager *m, const char *buf, size_t len,
			   shoal_manager_done_cb cb, void *ctx, struct shoal_err *err)
{
	struct fwd *f;

	if (m->closing || m->raft == NULL)
		return shoal_errorf(err, 503, "%s", SHOAL_RAFT_NO_LEADER_MSG);
	f = shoal_calloc(1, sizeof(*f));
	f->m = m;
	f->cb = cb;
	f->ctx = ctx;
	f->buf = shoal_malloc(len + 1);
	memcpy(f->buf, buf, len);
	f->buf[len] = '\0';
	f->len = len;
	f->deadline = uv_now(m->loop) + FWD_DEADLINE_MS;
	uv_timer_init(m->loop, &f->timer);
	f->timer.data = f;
	shoal_list_add_tail(&m->fwds, &f->link);
	fwd_try(f, NULL);
	return 0;
}
