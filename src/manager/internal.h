/* Inside src/manager: the manager struct and the CA helpers. */
#ifndef SHOAL_MANAGER_INTERNAL_H
#define SHOAL_MANAGER_INTERNAL_H

#include "manager/manager.h"

#include <sys/types.h>

#include "base/list.h"
#include "http/client.h"
#include "http/http.h"
#include "raft/raft.h"

struct shoal_orch_uv;

struct shoal_manager {
	uv_loop_t *loop;
	char *data_root, *swarm_dir, *hostname, *engine_version;
	int ncpu;
	int64_t mem_total;
	shoal_manager_member_cb member_cb;
	void *member_ctx;
	enum shoal_manager_state state;

	/* while in a swarm */
	struct shoal_store *store;
	struct shoal_raft *raft;
	struct shoal_raft_fsm fsm;
	char node_id[SHOAL_STORE_ID_LEN + 1];
	uint64_t raft_id;
	char *addr;		    /* advertise IP */
	char *raft_addr;	    /* ip:port the raft transport uses and peers reach */
	json_t *managers;	    /* [{NodeID, Addr}] last heard of (workers' way back) */
	struct shoal_err apply_err; /* the last refused change set: a propose result */
	bool noop_sent;		    /* restored: an entry of this term commits the log */

	/* swarm init, until its objects are applied */
	char *init_buf;
	size_t init_len;
	shoal_manager_done_cb init_cb;
	void *init_ctx;

	/* leave --force */
	shoal_manager_done_cb leave_cb;
	void *leave_ctx;
	uv_work_t rm_work;
	bool rm_pending;

	/* the cluster port (cluster.c), on managers */
	char *listen_addr; /* "ip:port" */
	struct shoal_http_server csrv;
	bool csrv_up;
	void (*csrv_close_cb)(struct shoal_manager *m);

	/* the dispatcher (dispatcher.c), on the leader */
	struct shoal_list dnodes;
	uv_idle_t disp_flush;
	struct shoal_store_watch *disp_watch;
	bool disp_running;
	bool roles_dirty; /* a node changed: demotions to look at */

	/* log subscriptions (logs.c) */
	struct shoal_list logsubs;
	uv_idle_t logs_idle;
	uv_idle_t applied_idle; /* forwarded writes to answer once applied here */

	uv_timer_t roles_timer; /* starts and stops the leader's components */
	struct shoal_orch_uv *orch;
	bool barrier_pending, barrier_ok; /* this term's barrier, before the orchestrator */

	bool raft_closing;
	bool recover;	    /* the next raft_up forces a one-voter configuration */
	bool promoting;	    /* asked the leader to be let into raft */
	bool raft_changing; /* the leader is adding or removing a raft member */
	uv_timer_t roles_retry;

	/* calls to other managers (join.c) */
	struct shoal_http_client *client;
	bool client_closing;
	struct join *join;	/* a join under way */
	struct shoal_list fwds; /* proposals forwarded to the leader, in flight */

	/* close */
	bool handles_closing;
	int nhandles;
	uv_timer_t timer;
	bool closing;
	shoal_manager_close_cb close_cb;
	void *close_ctx;
};

/* A new root CA: PEM certificate and key, new strings. 500 on an OpenSSL failure. */
int shoal_manager__ca_new(char **cert_pem, char **key_pem, struct shoal_err *err) SHOAL_MUST_CHECK;

/* TLSInfo{TrustRoot, CertIssuerSubject, CertIssuerPublicKey} for a PEM root: a new reference. */
json_t *shoal_manager__tls_info(const char *cert_pem);

/* ---- manager.c, for the others ---- */

int shoal_manager__write_file(const char *path, const char *data, mode_t mode,
			      struct shoal_err *err) SHOAL_MUST_CHECK;
int shoal_manager__split_addr(const char *s, char *ip, size_t ipsize, unsigned *port, unsigned def);
bool shoal_manager__is_ipv4(const char *ip);
void shoal_manager__default_addr(char *out, size_t size);
/* An init's or a join's listen and advertise addresses (manager.c says how); lip and aip hold
 * 64 bytes. */
int shoal_manager__addrs(const char *listen, const char *advertise, char *lip, unsigned *lport,
			 char *aip, unsigned *aport, struct shoal_err *err) SHOAL_MUST_CHECK;
/* What state.json holds: a new reference. */
json_t *shoal_manager__state_json(struct shoal_manager *m);
/* This node's Description (no TLSInfo): a new reference. */
json_t *shoal_manager__description(struct shoal_manager *m);
void shoal_manager__member_changed(struct shoal_manager *m);
/* Opens and starts raft with m's IDs and addresses; PENDING on success. */
int shoal_manager__raft_up(struct shoal_manager *m, bool bootstrap,
			   struct shoal_err *err) SHOAL_MUST_CHECK;
void shoal_manager__rm_rf(const char *path);
void shoal_manager__cluster_closed_noop(struct shoal_manager *m);
/* Drops the swarm state in memory (raft and cluster port closed): back to INACTIVE. */
void shoal_manager__forget(struct shoal_manager *m);

/* ---- join.c ---- */

/* The HTTP client for calls to other managers, made on first use. */
struct shoal_http_client *shoal_manager__client(struct shoal_manager *m);
/* A JSON call to another manager's cluster port: POST body (borrowed) to http://addr/path,
 * or GET when body is NULL; a 5 s connect timeout. */
struct shoal_http_call *shoal_manager__call(struct shoal_manager *m, const char *addr,
					    const char *path, const json_t *body,
					    shoal_http_call_done_cb done, void *ctx,
					    unsigned timeout_ms, struct shoal_err *err);
/* Sends an encoded change set to the leader; cb with its answer. */
int shoal_manager__forward(struct shoal_manager *m, const char *buf, size_t len,
			   shoal_manager_done_cb cb, void *ctx,
			   struct shoal_err *err) SHOAL_MUST_CHECK;
/* The store applied more: forwarded writes waiting to be seen here are answered. */
void shoal_manager__forwards_applied(struct shoal_manager *m);
/* Answers every forwarded write in flight with the no-leader error (closing). */
void shoal_manager__forwards_fail(struct shoal_manager *m);
/* Ends a join under way with an error (daemon closing). */
void shoal_manager__join_abort(struct shoal_manager *m);

/* ---- cluster.c ---- */

/* Starts the cluster port's server on m->listen_addr (no-op if up). */
int shoal_manager__cluster_listen(struct shoal_manager *m, struct shoal_err *err) SHOAL_MUST_CHECK;
/* Stops it (in-flight requests cut), then cb(m); at once if it was not up. */
void shoal_manager__cluster_close(struct shoal_manager *m, void (*cb)(struct shoal_manager *m));
/* Whether this manager is the active leader. */
bool shoal_manager__leading(struct shoal_manager *m);
/* 503 with the no-leader text and the leader's address, if known ("Leader"). */
void shoal_manager__reply_not_leader(struct shoal_manager *m, struct shoal_http_req *req);
/* [{NodeID, Addr}] of the managers in the store, the leader first: a new reference. */
json_t *shoal_manager__managers_json(struct shoal_manager *m);
/* The cluster object, or NULL. */
struct shoal_store_obj *shoal_manager__cluster_obj(struct shoal_manager *m);
/* Proposes an encoded change set as is (leader only). */
int shoal_manager__propose_bytes(struct shoal_manager *m, const char *buf, size_t len,
				 shoal_manager_done_cb cb, void *ctx,
				 struct shoal_err *err) SHOAL_MUST_CHECK;

/* Stops the dispatcher and the orchestrator (leadership lost, leaving, closing). */
void shoal_manager__leader_parts_stop(struct shoal_manager *m);
/* Starts or stops the leader's components on a later turn, as leadership now says. */
void shoal_manager__roles_check(struct shoal_manager *m);

/* ---- logs.c ---- */

void shoal_manager__logs_init(struct shoal_manager *m);
/* Ends every subscription with an error (leaving, closing). */
void shoal_manager__logs_fini(struct shoal_manager *m);
/* The node's session is gone: subscriptions stop waiting for it. */
void shoal_manager__logs_node_gone(struct shoal_manager *m, const char *node_id);
/* Ends, on a later turn, the subscriptions with nothing to wait for. */
void shoal_manager__logs_kick(struct shoal_manager *m);
void shoal_manager__route_logs(struct shoal_http_req *req);
void shoal_manager__route_logs_publish(struct shoal_http_req *req);

/* ---- roles.c ---- */

void shoal_manager__route_promote(struct shoal_http_req *req);
/* On the leader: raft's voters made what the store's managers are, one change at a time. */
void shoal_manager__roles_reconcile(struct shoal_manager *m);
/* Runs the reconciler in ms (0: next turn). */
void shoal_manager__roles_later(struct shoal_manager *m, uint64_t ms);

/* ---- dispatcher.c ---- */

void shoal_manager__dispatcher_init(struct shoal_manager *m);
/* On gaining leadership with the store ready; stop on losing it (sessions ended). */
void shoal_manager__dispatcher_start(struct shoal_manager *m);
void shoal_manager__dispatcher_stop(struct shoal_manager *m);
/* Stops and closes its handle; cb is the handle's close callback. */
void shoal_manager__dispatcher_close(struct shoal_manager *m, uv_close_cb cb);
void shoal_manager__route_session(struct shoal_http_req *req);
void shoal_manager__route_heartbeat(struct shoal_http_req *req);
void shoal_manager__route_status(struct shoal_http_req *req);
/* 1 when the node's agent holds a session here, 0 when not, -1 when this node does not
 * dispatch (not the leader). */
int shoal_manager__dispatcher_connected(struct shoal_manager *m, const char *node_id);
/* Sends msg (taken) down the node's agent session: -1 (msg dropped) without one. */
int shoal_manager__dispatcher_send(struct shoal_manager *m, const char *node_id, json_t *msg);
/* The routing mesh's "network" message for the agents (mesh.c; net.h documents it), from
 * the store. A new reference. */
json_t *shoal_manager__mesh_msg(struct shoal_store *s);
/* A task state's place in swarmkit's order (its enum shoal_task_state), -1 if unknown. */
int shoal_manager__task_state_rank(const char *state);

/* The FSM glue, exposed for unit tests: apply (at the store's index + 1), snapshot, restore. */
void shoal_manager__fsm_init(struct shoal_manager *m);

#endif
