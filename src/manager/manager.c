/* The manager's life: swarm init (CA, tokens, a bootstrapped one-voter raft and the first
 * change set), restore at daemon start from <data-root>/swarm, the FSM glue that feeds raft
 * entries to the store, proposals, leave and close. The HTTP side is in src/api. Joining other
 * nodes, node certificates and the dispatcher are left out for now. */
#include "manager/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "manager/orchestrator.h"

#define SHOAL_LOG_MODULE "manager"

/* ---- small files (startup and swarm init only: a few hundred bytes each) ---- */

int shoal_manager__write_file(const char *path, const char *data, mode_t mode,
			      struct shoal_err *err)
{
	char *tmp = shoal_asprintf("%s.tmp", path);
	size_t len = strlen(data);
	int fd, rv = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) < 0) {
		shoal_errorf_sys(err, 500, errno, "write %s: %s", path, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) < 0) {
		shoal_errorf_sys(err, 500, errno, "write %s: %s", path, strerror(errno));
		goto out;
	}
	rv = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rv < 0)
		unlink(tmp);
	free(tmp);
	return rv;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void shoal_manager__rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- addresses ---- */

/* Splits "ip", "ip:port" or ":port" into ip (may be "") and port (def if absent). */
int shoal_manager__split_addr(const char *s, char *ip, size_t ipsize, unsigned *port, unsigned def)
{
	const char *colon = strrchr(s, ':');
	size_t n = colon != NULL ? (size_t)(colon - s) : strlen(s);
	char *end;
	unsigned long p;

	if (n >= ipsize)
		return -1;
	memcpy(ip, s, n);
	ip[n] = '\0';
	*port = def;
	if (colon != NULL) {
		errno = 0;
		p = strtoul(colon + 1, &end, 10);
		if (errno != 0 || *end != '\0' || colon[1] == '\0' || p == 0 || p > 65535)
			return -1;
		*port = (unsigned)p;
	}
	return 0;
}

bool shoal_manager__is_ipv4(const char *ip)
{
	struct in_addr a;

	return inet_pton(AF_INET, ip, &a) == 1;
}

/* The IPv4 address of the default route's interface, or 127.0.0.1. dockerd refuses to choose
 * when several interfaces could do ("could not choose an IP address to advertise"); we take
 * the first default route's and leave the choice to --advertise-addr. */
void shoal_manager__default_addr(char *out, size_t size)
{
	char line[256], iface[IF_NAMESIZE + 1] = "";
	struct ifaddrs *ifs = NULL, *i;
	FILE *f = fopen("/proc/net/route", "re");

	snprintf(out, size, "127.0.0.1");
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			char name[IF_NAMESIZE + 1];
			unsigned long dest;

			if (sscanf(line, "%16s %lx", name, &dest) == 2 && dest == 0) {
				snprintf(iface, sizeof(iface), "%s", name);
				break;
			}
		}
		fclose(f);
	}
	if (iface[0] == '\0' || getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
		    strcmp(i->ifa_name, iface) != 0)
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out,
			  (socklen_t)size);
		break;
	}
	freeifaddrs(ifs);
}

/* ---- the FSM glue ---- */

static void applied_idle(uv_idle_t *idle)
{
	struct shoal_manager *m = container_of(idle, struct shoal_manager, applied_idle);

	uv_idle_stop(idle);
	shoal_manager__forwards_applied(m);
}

static int fsm_apply(void *ctx, const void *buf, size_t len, void **result, struct shoal_err *err)
{
	struct shoal_manager *m = ctx;

	(void)err;
	*result = NULL;
	if (m->store == NULL)
		return 0; /* demoted or leaving: raft is closing */
	/* The FSM is not told the entry's raft index: command entries get consecutive indexes
	 * from the store's own, which every replica computes alike (snapshots keep it). */
	if (shoal_store_apply(m->store, buf, len, shoal_store_index(m->store) + 1, &m->apply_err) <
	    0) {
		/* A refused change set is the proposer's answer, not an FSM failure. libraft hands
		 * the result to the proposer's callback before applying the next entry. */
		*result = &m->apply_err;
		return 0;
	}
	/* forwarded writes wait for this copy to hold them: answered from the loop, not from
	 * inside raft's apply */
	if (!shoal_list_empty(&m->fwds))
		uv_idle_start(&m->applied_idle, applied_idle);
	if (m->state == SHOAL_MANAGER_PENDING && m->init_buf == NULL && m->raft != NULL &&
	    shoal_store_count(m->store, SHOAL_STORE_CLUSTER) > 0) {
		m->state = SHOAL_MANAGER_ACTIVE;
		shoal_manager__roles_check(m);
	}
	return 0;
}

static int fsm_snapshot(void *ctx, void **buf, size_t *len, struct shoal_err *err)
{
	struct shoal_manager *m = ctx;

	(void)err;
	*buf = shoal_store_snapshot(m->store, len);
	return 0;
}

static int fsm_restore(void *ctx, const void *buf, size_t len, struct shoal_err *err)
{
	struct shoal_manager *m = ctx;

	return shoal_store_restore(m->store, buf, len, err);
}

void shoal_manager__fsm_init(struct shoal_manager *m)
{
	m->fsm.ctx = m;
	m->fsm.apply = fsm_apply;
	m->fsm.snapshot = fsm_snapshot;
	m->fsm.restore = fsm_restore;
}

/* ---- membership ---- */

void shoal_manager_member(struct shoal_manager *m, struct shoal_manager_member *out)
{
	bool in = m->node_id[0] != '\0' && m->state != SHOAL_MANAGER_INACTIVE &&
		  m->state != SHOAL_MANAGER_LEAVING;

	out->node_id = in ? m->node_id : NULL;
	out->addr = in ? m->addr : NULL;
	out->managers = in ? m->managers : NULL;
}

/* Tells the owner; a manager's own raft address comes first in its agent's list. */
void shoal_manager__member_changed(struct shoal_manager *m)
{
	if (m->raft_addr != NULL) {
		json_t *l = json_array();
		size_t i;
		json_t *e;

		json_array_append_new(
			l, json_pack("{s:s, s:s}", "NodeID", m->node_id, "Addr", m->raft_addr));
		json_array_foreach(m->managers, i, e) {
			const char *a = json_string_value(json_object_get(e, "Addr"));

			if (a != NULL && strcmp(a, m->raft_addr) != 0)
				json_array_append(l, e);
		}
		json_decref(m->managers);
		m->managers = l;
	}
	if (m->member_cb != NULL)
		m->member_cb(m->member_ctx, m);
}

/* ---- what the leader runs ---- */

static int orch_propose(void *data, const struct shoal_store_tx *tx, shoal_orch_done_cb cb,
			void *ctx, struct shoal_err *err)
{
	return shoal_manager_propose(data, tx, cb, ctx, err);
}

static void barrier_done(void *ctx, const struct shoal_err *err)
{
	struct shoal_manager *m = ctx;

	m->barrier_pending = false;
	if (err != NULL) {
		shoal_log_warn("raft barrier failed", "error=%s", shoal_log_q(err->msg));
		return; /* leadership lost: the next leader check decides */
	}
	m->barrier_ok = true;
	shoal_manager__roles_check(m);
}

void shoal_manager__leader_parts_stop(struct shoal_manager *m)
{
	/* the subscriptions live on the leader's sessions: readers are told to retry */
	shoal_manager__logs_fini(m);
	shoal_manager__dispatcher_stop(m);
	if (m->orch != NULL) {
		shoal_orch_stop(m->orch, NULL, NULL);
		m->orch = NULL;
		shoal_log_info("orchestrator stopped", "%s", "");
	}
	m->barrier_ok = false;
}

static void roles_run(uv_timer_t *t)
{
	struct shoal_manager *m = container_of(t, struct shoal_manager, roles_timer);
	bool lead = !m->closing && m->state == SHOAL_MANAGER_ACTIVE && m->raft != NULL &&
		    shoal_raft_is_leader(m->raft);
	struct shoal_err err;

	if (!lead) {
		shoal_manager__leader_parts_stop(m);
		return;
	}
	shoal_manager__dispatcher_start(m);
	if (m->orch != NULL)
		return;
	/* the orchestrator must see every entry earlier terms committed, or it could fill a
	 * slot whose task is still on its way through the log */
	if (m->barrier_ok) {
		m->orch = shoal_orch_start(m->loop, m->store, orch_propose, m);
		shoal_log_info("orchestrator started", "%s", "");
	} else if (!m->barrier_pending) {
		m->barrier_pending = true;
		if (shoal_raft_barrier(m->raft, barrier_done, m, &err) < 0) {
			m->barrier_pending = false;
			shoal_log_warn("raft barrier refused", "error=%s", shoal_log_q(err.msg));
		}
	}
}

/* The leader's components start and stop on a later turn: leadership and the store change
 * inside libraft's callbacks, where proposing again is not safe. */
void shoal_manager__roles_check(struct shoal_manager *m)
{
	if (!m->closing)
		uv_timer_start(&m->roles_timer, roles_run, 0, 0);
}

/* ---- proposals ---- */

struct propose_job {
	struct shoal_manager *m;
	shoal_manager_done_cb cb;
	void *ctx;
};

static void propose_done(void *ctx, void *result, const struct shoal_err *err)
{
	struct propose_job *j = ctx;

	if (err == NULL && result != NULL)
		err = result;
	if (j->cb != NULL)
		j->cb(j->ctx, err);
	free(j);
}

int shoal_manager__propose_bytes(struct shoal_manager *m, const char *buf, size_t len,
				 shoal_manager_done_cb cb, void *ctx, struct shoal_err *err)
{
	struct propose_job *j = shoal_calloc(1, sizeof(*j));

	j->m = m;
	j->cb = cb;
	j->ctx = ctx;
	if (shoal_raft_propose(m->raft, buf, len, propose_done, j, err) < 0) {
		free(j);
		return -1;
	}
	return 0;
}

int shoal_manager_propose(struct shoal_manager *m, const struct shoal_store_tx *tx,
			  shoal_manager_done_cb cb, void *ctx, struct shoal_err *err)
{
	char *buf;
	size_t len;
	int rv;

	if (shoal_manager_check(m, err) < 0)
		return -1;
	buf = shoal_store_tx_encode(tx, &len);
	/* a follower's writes go to the leader, as swarmkit's followers proxy them */
	if (m->raft != NULL && !shoal_raft_is_leader(m->raft))
		rv = shoal_manager__forward(m, buf, len, cb, ctx, err);
	else
		rv = shoal_manager__propose_bytes(m, buf, len, cb, ctx, err);
	free(buf);
	return rv;
}

/* ---- init ---- */

static void init_applied(void *ctx, const struct shoal_err *err)
{
	struct shoal_manager *m = ctx;
	shoal_manager_done_cb cb = m->init_cb;
	void *cb_ctx = m->init_ctx;

	m->init_cb = NULL;
	m->init_ctx = NULL;
	if (err == NULL) {
		m->state = SHOAL_MANAGER_ACTIVE;
		shoal_manager__roles_check(m);
		shoal_manager__member_changed(m);
		shoal_log_info("swarm initialized", "node=%s addr=%s", m->node_id, m->raft_addr);
	} else {
		shoal_log_error("swarm init failed", "error=%s", shoal_log_q(err->msg));
	}
	if (cb != NULL)
		cb(cb_ctx, err);
}

static void on_leader(void *ctx, uint64_t leader_id, bool is_leader)
{
	struct shoal_manager *m = ctx;
	struct shoal_err err;

	(void)leader_id;
	if (m->state == SHOAL_MANAGER_LEAVING)
		return;
	if (!is_leader)
		m->barrier_ok = false; /* a later term needs its own barrier */
	shoal_manager__roles_check(m);
	if (!is_leader) {
		/* a follower with the store serves reads and forwards writes */
		if (m->state == SHOAL_MANAGER_PENDING && leader_id != 0 &&
		    shoal_store_count(m->store, SHOAL_STORE_CLUSTER) > 0)
			m->state = SHOAL_MANAGER_ACTIVE;
		return;
	}
	if (m->init_buf != NULL) {
		char *buf = m->init_buf;
		size_t len = m->init_len;

		m->init_buf = NULL;
		if (shoal_manager__propose_bytes(m, buf, len, init_applied, m, &err) < 0)
			init_applied(m, &err);
		free(buf);
		return;
	}
	if (shoal_store_count(m->store, SHOAL_STORE_CLUSTER) > 0) {
		m->state = SHOAL_MANAGER_ACTIVE;
		shoal_manager__roles_check(m);
		return;
	}
	/* Restored: entries of past terms commit only with one of this term. */
	if (!m->noop_sent) {
		struct shoal_store_tx *tx = shoal_store_tx_new();
		char *buf;
		size_t len;

		m->noop_sent = true;
		buf = shoal_store_tx_encode(tx, &len);
		if (shoal_manager__propose_bytes(m, buf, len, NULL, NULL, &err) < 0)
			shoal_log_warn("cannot commit the restored log", "error=%s",
				       shoal_log_q(err.msg));
		free(buf);
		shoal_store_tx_free(tx);
	}
}

static const char *const plugins[][2] = {
	{ "Log", "json-file" }, { "Network", "bridge" },  { "Network", "host" },
	{ "Network", "null" },	{ "Network", "overlay" }, { "Volume", "local" },
};

static json_t *cluster_spec(const json_t *user)
{
	json_t *spec =
		json_pack("{s:s, s:{}, s:{s:i}, s:{s:i, s:i, s:i, s:i, s:i}, s:{s:I}, s:{s:I},"
			  " s:{}, s:{s:b}}",
			  "Name", "default", "Labels", "Orchestration", "TaskHistoryRetentionLimit",
			  5, "Raft", "SnapshotInterval", 10000, "KeepOldSnapshots", 0,
			  "LogEntriesForSlowFollowers", 500, "ElectionTick", 10, "HeartbeatTick", 1,
			  "Dispatcher", "HeartbeatPeriod", (json_int_t)5000000000LL, "CAConfig",
			  "NodeCertExpiry", (json_int_t)7776000000000000LL, "TaskDefaults",
			  "EncryptionConfig", "AutoLockManagers", 0);
	const char *k, *k2;
	json_t *v, *v2;

	if (!json_is_object(user))
		return spec;
	/* Go's zero values mean "default" in the request: merge only what is set. */
	json_object_foreach((json_t *)user, k, v) {
		json_t *cur = json_object_get(spec, k);

		if (json_is_object(v) && json_is_object(cur) && strcmp(k, "Labels") != 0) {
			json_object_foreach(v, k2, v2) {
				if (json_is_null(v2) ||
				    (json_is_integer(v2) && !json_integer_value(v2)))
					continue;
				json_object_set(cur, k2, v2);
			}
		} else if (strcmp(k, "Labels") == 0 && json_is_object(v)) {
			json_object_set(spec, k, v);
		}
	}
	return spec;
}

json_t *shoal_manager__description(struct shoal_manager *m)
{
	json_t *pl = json_array();
	size_t i;

	for (i = 0; i < SHOAL_ARRAY_SIZE(plugins); i++)
		json_array_append_new(
			pl, json_pack("{s:s, s:s}", "Type", plugins[i][0], "Name", plugins[i][1]));
	return json_pack("{s:s, s:{s:s, s:s}, s:{s:I, s:I}, s:{s:s, s:o}}", "Hostname", m->hostname,
			 "Platform", "Architecture", "x86_64", "OS", "linux", "Resources",
			 "NanoCPUs", (json_int_t)m->ncpu * 1000000000LL, "MemoryBytes",
			 (json_int_t)m->mem_total, "Engine", "EngineVersion", m->engine_version,
			 "Plugins", pl);
}

static json_t *node_json(struct shoal_manager *m, const json_t *tls)
{
	json_t *desc = shoal_manager__description(m);

	json_object_set(desc, "TLSInfo", (json_t *)tls);
	return json_pack("{s:s, s:{s:{}, s:s, s:s}, s:o, s:{s:s, s:s}, s:{s:b, s:s, s:s, s:I}}",
			 "ID", m->node_id, "Spec", "Labels", "Role", "manager", "Availability",
			 "active", "Description", desc, "Status", "State", "ready", "Addr", m->addr,
			 "ManagerStatus", "Leader", 1, "Reachability", "reachable", "Addr",
			 m->raft_addr, "RaftID", (json_int_t)m->raft_id);
}

void shoal_manager__cluster_closed_noop(struct shoal_manager *m)
{
	(void)m;
}

static void leave_swarm_state(struct shoal_manager *m)
{
	shoal_store_free(m->store);
	m->store = NULL;
	free(m->addr);
	free(m->raft_addr);
	free(m->listen_addr);
	free(m->init_buf);
	json_decref(m->managers);
	m->managers = NULL;
	m->addr = m->raft_addr = m->listen_addr = m->init_buf = NULL;
	m->node_id[0] = '\0';
	m->raft_id = 0;
	m->noop_sent = false;
	m->state = SHOAL_MANAGER_INACTIVE;
}

void shoal_manager__forget(struct shoal_manager *m)
{
	if (m->raft != NULL) {
		shoal_raft_close(m->raft, NULL, NULL);
		m->raft = NULL;
	}
	shoal_manager__cluster_close(m, shoal_manager__cluster_closed_noop);
	leave_swarm_state(m);
}

/* Opens raft for the swarm in m (addresses and IDs set), bootstrapping a new cluster if asked. */
int shoal_manager__raft_up(struct shoal_manager *m, bool bootstrap, struct shoal_err *err)
{
	char *dir = shoal_asprintf("%s/raft", m->swarm_dir);
	struct shoal_raft_opts o = { .snapshot_threshold = 10000, .snapshot_trailing = 500 };
	int rv = -1;

	m->store = shoal_store_new(NULL);
	if (shoal_raft_open(m->loop, dir, m->raft_id, m->raft_addr, &m->fsm, &o, &m->raft, err) < 0)
		goto out;
	if ((bootstrap && shoal_raft_bootstrap(m->raft, err) < 0) ||
	    (m->recover && shoal_raft_recover(m->raft, err) < 0) ||
	    shoal_raft_start(m->raft, err) < 0) {
		/* the raft closes on the loop; the caller's state reset does not touch it */
		shoal_raft_close(m->raft, NULL, NULL);
		m->raft = NULL;
		goto out;
	}
	shoal_raft_set_leader_cb(m->raft, on_leader, m);
	m->state = SHOAL_MANAGER_PENDING;
	rv = 0;
out:
	m->recover = false;
	free(dir);
	return rv;
}

/* ---- swarm init --force-new-cluster ---- */

static void close_step(struct shoal_manager *m);

static void recover_raft_closed(void *ctx)
{
	struct shoal_manager *m = ctx;
	struct shoal_err err;

	m->raft_closing = false;
	shoal_store_free(m->store);
	m->store = NULL;
	if (m->closing) {
		free(m->init_buf);
		m->init_buf = NULL;
		close_step(m);
		return;
	}
	m->recover = true;
	if (shoal_manager__raft_up(m, false, &err) < 0) {
		shoal_log_error("cannot recover the swarm", "error=%s", shoal_log_q(err.msg));
		free(m->init_buf);
		m->init_buf = NULL;
		init_applied(m, &err);
		return;
	}
	shoal_log_info("swarm recovered as a new cluster", "node=%s", m->node_id);
}

/* The other managers are out of raft now: their ManagerStatus loses its RaftID so the
 * reconciler does not add them back (they show unreachable until demoted or removed). */
static int force_new_cluster(struct shoal_manager *m, shoal_manager_done_cb cb, void *ctx,
			     struct shoal_err *err)
{
	struct shoal_store_obj **l;
	struct shoal_store_tx *tx;
	size_t n, i;

	if (m->raft == NULL || m->store == NULL || m->init_cb != NULL || m->raft_closing)
		return shoal_errorf(err, 503, "%s", SHOAL_MANAGER_ALREADY_MSG);
	tx = shoal_store_tx_new();
	l = shoal_store_list(m->store, SHOAL_STORE_NODE, &n);
	for (i = 0; i < n; i++) {
		json_t *node, *ms = json_object_get(l[i]->json, "ManagerStatus");

		if (ms == NULL || strcmp(l[i]->id, m->node_id) == 0)
			continue;
		node = json_deep_copy(l[i]->json);
		json_object_del(json_object_get(node, "ManagerStatus"), "RaftID");
		json_object_set_new(json_object_get(node, "ManagerStatus"), "Reachability",
				    json_string("unreachable"));
		shoal_store_tx_update(tx, SHOAL_STORE_NODE, node, l[i]->version);
	}
	free(l);
	free(m->init_buf);
	m->init_buf = shoal_store_tx_encode(tx, &m->init_len);
	shoal_store_tx_free(tx);
	m->init_cb = cb;
	m->init_ctx = ctx;
	shoal_manager__leader_parts_stop(m);
	m->state = SHOAL_MANAGER_PENDING;
	m->raft_closing = true;
	shoal_raft_close(m->raft, recover_raft_closed, m);
	m->raft = NULL;
	return 0;
}

/* What state.json keeps: who this node is in the swarm. A new reference. */
json_t *shoal_manager__state_json(struct shoal_manager *m)
{
	return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:o}", "NodeID", m->node_id, "Role",
			 m->raft_id != 0 ? "manager" : "worker", "RaftID", (json_int_t)m->raft_id,
			 "AdvertiseAddr", m->addr, "RaftAddr", m->raft_addr ? m->raft_addr : "",
			 "ListenAddr", m->listen_addr ? m->listen_addr : "", "Managers",
			 m->managers ? json_incref(m->managers) : json_array());
}

/* The listen and advertise addresses of an init or a join, as dockerd works them out:
 * listen (default 0.0.0.0:2377) into lip/lport ("" for no IP), advertise into aip/aport:
 * the advertise address given, else the listen IP unless 0.0.0.0, else the default route's.
 * lip and aip hold 64 bytes. 400 with Docker's texts. */
int shoal_manager__addrs(const char *listen, const char *advertise, char *lip, unsigned *lport,
			 char *aip, unsigned *aport, struct shoal_err *err)
{
	if (shoal_manager__split_addr(listen && *listen ? listen : "0.0.0.0:2377", lip, 64, lport,
				      SHOAL_MANAGER_DEFAULT_PORT) < 0 ||
	    (lip[0] != '\0' && !shoal_manager__is_ipv4(lip)))
		return shoal_errorf(err, 400, "invalid listen address %s", listen);
	*aport = *lport;
	if (advertise != NULL && advertise[0] != '\0') {
		if (shoal_manager__split_addr(advertise, aip, 64, aport, *lport) < 0 ||
		    !shoal_manager__is_ipv4(aip) || strcmp(aip, "0.0.0.0") == 0)
			return shoal_errorf(
				err, 400,
				"advertise address must be a non-zero IP address or network interface (with optional port number)");
	} else if (lip[0] != '\0' && strcmp(lip, "0.0.0.0") != 0) {
		snprintf(aip, 64, "%s", lip);
	} else {
		shoal_manager__default_addr(aip, 64);
	}
	return 0;
}

int shoal_manager_init(struct shoal_manager *m, const struct shoal_manager_init_req *req,
		       shoal_manager_done_cb cb, void *ctx, struct shoal_err *err)
{
	char lip[64], aip[64], *cert = NULL, *key = NULL, *path = NULL, *state = NULL;
	char *certdir = NULL, subnet[24], gateway[16];
	unsigned lport, aport;
	json_t *tls = NULL, *cluster = NULL, *node = NULL, *pool;
	struct shoal_store_tx *tx = NULL;
	int dpp = req->data_path_port != 0 ? req->data_path_port : 4789;
	uint64_t rid = 0;
	int rv = -1;

	if (req->force_new_cluster && m->raft_id != 0 && !m->closing &&
	    (m->state == SHOAL_MANAGER_ACTIVE || m->state == SHOAL_MANAGER_PENDING))
		return force_new_cluster(m, cb, ctx, err);
	if (m->state != SHOAL_MANAGER_INACTIVE || m->closing)
		return shoal_errorf(err, 503, "%s", SHOAL_MANAGER_ALREADY_MSG);
	if (shoal_manager__addrs(req->listen_addr, req->advertise_addr, lip, &lport, aip, &aport,
				 err) < 0)
		return -1;

	if (dpp < 1024 || dpp > 49151)
		return shoal_errorf(
			err, 400,
			"data path port %d is out of range: it must be from 1024 to 49151", dpp);
	if (shoal_orch_ingress_subnet(req->default_addr_pool, req->subnet_size, subnet, gateway,
				      err) < 0)
		return -1;

	/* A swarm dir without state.json is what a failed init or leave left: start over. */
	shoal_manager__rm_rf(m->swarm_dir);
	certdir = shoal_asprintf("%s/certificates", m->swarm_dir);
	if ((mkdir(m->swarm_dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(certdir, 0700) < 0 && errno != EEXIST)) {
		shoal_errorf_sys(err, 500, errno, "create %s: %s", certdir, strerror(errno));
		goto out;
	}
	if (shoal_manager__ca_new(&cert, &key, err) < 0)
		goto out;
	path = shoal_asprintf("%s/swarm-root-ca.crt", certdir);
	if (shoal_manager__write_file(path, cert, 0644, err) < 0)
		goto out;
	free(path);
	path = shoal_asprintf("%s/swarm-root-ca.key", certdir);
	if (shoal_manager__write_file(path, key, 0600, err) < 0)
		goto out;

	while (rid == 0 || rid > INT64_MAX)
		if (getrandom(&rid, sizeof(rid), 0) != (ssize_t)sizeof(rid))
			shoal_fatal(SHOAL_LOG_MODULE, "getrandom");
	m->raft_id = rid;
	shoal_store_new_id(m->node_id);
	m->addr = shoal_strdup(aip);
	m->raft_addr = shoal_asprintf("%s:%u", aip, aport);
	m->listen_addr = shoal_asprintf("%s:%u", lip[0] != '\0' ? lip : "0.0.0.0", lport);
	if (aport != lport)
		shoal_log_warn("raft listens on the advertised port", "listen=%u advertise=%u",
			       lport, aport);

	tls = shoal_manager__tls_info(cert);
	/* Docker shows the pool as null unless one was given */
	pool = json_array_size(req->default_addr_pool) > 0 ?
		       json_deep_copy(req->default_addr_pool) :
		       json_null();
	cluster = json_pack("{s:o, s:O, s:b, s:o, s:i, s:i, s:{s:s, s:s}}", "Spec",
			    cluster_spec(req->spec), "TLSInfo", tls, "RootRotationInProgress", 0,
			    "DefaultAddrPool", pool, "SubnetSize",
			    req->subnet_size != 0 ? req->subnet_size : 24, "DataPathPort", dpp,
			    "JoinTokens", "Worker", "", "Manager", "");
	{
		char *w = shoal_manager_join_token(cert), *mg = shoal_manager_join_token(cert);
		json_t *jt = json_object_get(cluster, "JoinTokens");

		json_object_set_new(jt, "Worker", json_string(w));
		json_object_set_new(jt, "Manager", json_string(mg));
		free(w);
		free(mg);
	}
	node = node_json(m, tls);
	tx = shoal_store_tx_new();
	shoal_store_tx_create(tx, SHOAL_STORE_CLUSTER, cluster);
	cluster = NULL;
	shoal_store_tx_create(tx, SHOAL_STORE_NODE, node);
	node = NULL;
	/* VXLAN ID 4096 as Docker's: the first of its overlay range */
	shoal_store_tx_create(tx, SHOAL_STORE_NETWORK,
			      shoal_orch_ingress_network(subnet, gateway, 4096));

	if (shoal_manager__cluster_listen(m, err) < 0)
		goto out;
	if (shoal_manager__raft_up(m, true, err) < 0)
		goto out;
	node = shoal_manager__state_json(m);
	state = json_dumps(node, JSON_COMPACT | JSON_SORT_KEYS);
	free(path);
	path = shoal_asprintf("%s/state.json", m->swarm_dir);
	m->init_buf = shoal_store_tx_encode(tx, &m->init_len);
	m->init_cb = cb;
	m->init_ctx = ctx;
	/* Written last: a swarm dir holding it is one restore can bring back. */
	if (shoal_manager__write_file(path, state, 0600, err) < 0) {
		m->init_cb = NULL;
		shoal_raft_close(m->raft, NULL, NULL);
		m->raft = NULL;
		goto out;
	}
	shoal_log_info("swarm init", "node=%s raft=%s", m->node_id, m->raft_addr);
	rv = 0;
out:
	if (rv < 0) {
		shoal_manager__cluster_close(m, shoal_manager__cluster_closed_noop);
		leave_swarm_state(m);
	}
	shoal_store_tx_free(tx);
	json_decref(cluster);
	json_decref(node);
	json_decref(tls);
	free(cert);
	free(key);
	free(path);
	free(certdir);
	free(state);
	return rv;
}

/* ---- restore, state, JSON ---- */

struct shoal_manager *shoal_manager_new(uv_loop_t *loop, const struct shoal_manager_config *cfg)
{
	struct shoal_manager *m = shoal_calloc(1, sizeof(*m));

	m->loop = loop;
	m->data_root = shoal_strdup(cfg->data_root);
	m->swarm_dir = shoal_asprintf("%s/swarm", cfg->data_root);
	m->hostname = shoal_strdup(cfg->hostname ? cfg->hostname : "");
	m->engine_version = shoal_strdup(cfg->engine_version ? cfg->engine_version : "");
	m->ncpu = cfg->ncpu;
	m->mem_total = cfg->mem_total;
	m->member_cb = cfg->member_cb;
	m->member_ctx = cfg->member_ctx;
	m->state = SHOAL_MANAGER_INACTIVE;
	shoal_manager__fsm_init(m);
	uv_timer_init(loop, &m->timer);
	uv_timer_init(loop, &m->roles_timer);
	uv_timer_init(loop, &m->roles_retry);
	shoal_manager__logs_init(m);
	shoal_list_init(&m->fwds);
	uv_idle_init(loop, &m->applied_idle);
	shoal_manager__dispatcher_init(m);
	return m;
}

int shoal_manager_restore(struct shoal_manager *m, struct shoal_err *err)
{
	char *path = shoal_asprintf("%s/state.json", m->swarm_dir);
	json_error_t jerr;
	json_t *st = NULL;
	const char *id, *addr, *raddr = "", *laddr = "", *role = "manager";
	json_int_t rid = 0;
	int rv = -1;

	if (access(path, F_OK) < 0) {
		rv = 0; /* not in a swarm */
		goto out;
	}
	st = json_load_file(path, 0, &jerr);
	if (st == NULL ||
	    json_unpack(st, "{s:s, s?s, s?I, s:s, s?s, s?s}", "NodeID", &id, "Role", &role,
			"RaftID", &rid, "AdvertiseAddr", &addr, "RaftAddr", &raddr, "ListenAddr",
			&laddr) < 0 ||
	    strlen(id) != SHOAL_STORE_ID_LEN ||
	    (strcmp(role, "manager") == 0 && (rid <= 0 || raddr[0] == '\0'))) {
		shoal_errorf(err, 500, "invalid swarm state in %s", path);
		goto out;
	}
	snprintf(m->node_id, sizeof(m->node_id), "%s", id);
	m->addr = shoal_strdup(addr);
	m->managers = json_incref(json_object_get(st, "Managers"));
	if (!json_is_array(m->managers)) {
		json_decref(m->managers);
		m->managers = json_array();
	}
	if (strcmp(role, "worker") == 0) {
		m->state = SHOAL_MANAGER_WORKER;
		shoal_log_info("swarm worker restored", "node=%s", m->node_id);
		shoal_manager__member_changed(m);
		rv = 0;
		goto out;
	}
	m->raft_id = (uint64_t)rid;
	m->raft_addr = shoal_strdup(raddr);
	if (laddr[0] != '\0')
		m->listen_addr = shoal_strdup(laddr);
	else
		m->listen_addr = shoal_asprintf("0.0.0.0%s", strrchr(raddr, ':'));
	if (shoal_manager__cluster_listen(m, err) < 0 ||
	    shoal_manager__raft_up(m, false, err) < 0) {
		shoal_manager__cluster_close(m, shoal_manager__cluster_closed_noop);
		leave_swarm_state(m);
		shoal_err_wrap(err, "swarm");
		goto out;
	}
	shoal_log_info("swarm manager restored", "node=%s raft=%s", m->node_id, m->raft_addr);
	shoal_manager__member_changed(m);
	rv = 0;
out:
	json_decref(st);
	free(path);
	return rv;
}

enum shoal_manager_state shoal_manager_state(const struct shoal_manager *m)
{
	return m->state;
}

int shoal_manager_check(const struct shoal_manager *m, struct shoal_err *err)
{
	if (m == NULL || m->state == SHOAL_MANAGER_INACTIVE || m->state == SHOAL_MANAGER_LEAVING)
		return shoal_errorf(err, 503, "%s", SHOAL_MANAGER_NOT_MANAGER_MSG);
	if (m->state == SHOAL_MANAGER_WORKER)
		return shoal_errorf(err, 503, "%s", SHOAL_MANAGER_WORKER_MSG);
	if (m->state == SHOAL_MANAGER_PENDING)
		return shoal_errorf(err, 503, "%s", SHOAL_MANAGER_PREPARING_MSG);
	return 0;
}

struct shoal_store *shoal_manager_store(struct shoal_manager *m)
{
	return m->store;
}

const char *shoal_manager_node_id(const struct shoal_manager *m)
{
	return m->node_id;
}

struct shoal_store_obj *shoal_manager__cluster_obj(struct shoal_manager *m)
{
	struct shoal_store_obj **l, *c;
	size_t n;

	if (m->store == NULL)
		return NULL;
	l = shoal_store_list(m->store, SHOAL_STORE_CLUSTER, &n);
	c = n > 0 ? l[0] : NULL;
	free(l);
	return c;
}

json_t *shoal_manager_swarm_json(struct shoal_manager *m)
{
	struct shoal_store_obj *c;

	if (m->state != SHOAL_MANAGER_ACTIVE || (c = shoal_manager__cluster_obj(m)) == NULL)
		return NULL;
	return json_deep_copy(c->json);
}

json_t *shoal_manager_node_json(struct shoal_manager *m, const struct shoal_store_obj *o)
{
	json_t *n = json_deep_copy(o->json), *ms = json_object_get(n, "ManagerStatus");
	const char *state =
		json_string_value(json_object_get(json_object_get(n, "Status"), "State"));
	const char *laddr = NULL;
	uint64_t lid = 0;
	bool self = strcmp(o->id, m->node_id) == 0;
	const char *reach = "unreachable";
	json_int_t rid;

	/* the ingress sandbox's address: the allocator's, not in Docker's Node */
	json_object_del(n, "Attachments");
	if (ms == NULL)
		return n;
	if (m->raft != NULL)
		shoal_raft_leader(m->raft, &lid, &laddr);
	rid = json_integer_value(json_object_get(ms, "RaftID"));
	/* Leadership and reachability are raft's, not the store's: they change without a
	 * write. A manager is reachable while it heartbeats, as far as this node knows. */
	json_object_set_new(ms, "Leader", json_boolean(lid != 0 && (uint64_t)rid == lid));
	if (m->raft != NULL && rid > 0 &&
	    shoal_raft_member_role(m->raft, (uint64_t)rid) != SHOAL_RAFT_VOTER)
		reach = "unknown"; /* not (yet, or any more) a voter */
	else if (self)
		reach = "reachable";
	else if (shoal_manager__dispatcher_connected(m, o->id) >= 0)
		/* the leader knows who holds a session right now */
		reach = shoal_manager__dispatcher_connected(m, o->id) ? "reachable" : "unreachable";
	else if (state != NULL && strcmp(state, "ready") == 0)
		reach = "reachable";
	json_object_set_new(ms, "Reachability", json_string(reach));
	json_object_del(ms, "RaftID");
	return n;
}

/* The managers in the store, sorted by NodeID as Docker lists them. */
static json_t *remote_managers(struct shoal_manager *m)
{
	struct shoal_store_obj **l;
	json_t *out = json_array();
	size_t n, i;

	l = shoal_store_list(m->store, SHOAL_STORE_NODE, &n);
	for (i = 0; i < n; i++) {
		const char *a = json_string_value(
			json_object_get(json_object_get(l[i]->json, "ManagerStatus"), "Addr"));

		if (a != NULL)
			json_array_append_new(
				out, json_pack("{s:s, s:s}", "NodeID", l[i]->id, "Addr", a));
	}
	free(l);
	return out;
}

json_t *shoal_manager_info_json(struct shoal_manager *m)
{
	struct shoal_store_obj *c, **nodes;
	json_t *info, *cluster;
	size_t n, i, managers = 0;

	if (m == NULL || m->state == SHOAL_MANAGER_INACTIVE || m->state == SHOAL_MANAGER_LEAVING)
		return json_pack("{s:s, s:s, s:s, s:b, s:s, s:n}", "NodeID", "", "NodeAddr", "",
				 "LocalNodeState", "inactive", "ControlAvailable", 0, "Error", "",
				 "RemoteManagers");
	if (m->state == SHOAL_MANAGER_WORKER)
		return json_pack("{s:s, s:s, s:s, s:b, s:s, s:O}", "NodeID", m->node_id, "NodeAddr",
				 m->addr, "LocalNodeState", "active", "ControlAvailable", 0,
				 "Error", "", "RemoteManagers", m->managers);
	if (m->state == SHOAL_MANAGER_PENDING || (c = shoal_manager__cluster_obj(m)) == NULL)
		return json_pack("{s:s, s:s, s:s, s:b, s:s, s:[{s:s, s:s}]}", "NodeID", m->node_id,
				 "NodeAddr", m->addr, "LocalNodeState", "pending",
				 "ControlAvailable", 0, "Error", "", "RemoteManagers", "NodeID",
				 m->node_id, "Addr", m->raft_addr);
	nodes = shoal_store_list(m->store, SHOAL_STORE_NODE, &n);
	for (i = 0; i < n; i++)
		if (json_object_get(nodes[i]->json, "ManagerStatus") != NULL)
			managers++;
	free(nodes);
	cluster = json_deep_copy(c->json);
	json_object_del(cluster, "JoinTokens");
	info = json_pack("{s:s, s:s, s:s, s:b, s:s, s:o, s:I, s:I, s:o}", "NodeID", m->node_id,
			 "NodeAddr", m->addr, "LocalNodeState", "active", "ControlAvailable", 1,
			 "Error", "", "RemoteManagers", remote_managers(m), "Nodes", (json_int_t)n,
			 "Managers", (json_int_t)managers, "Cluster", cluster);
	return info;
}

/* ---- leave and close ---- */

static void rm_work(uv_work_t *w)
{
	struct shoal_manager *m = container_of(w, struct shoal_manager, rm_work);

	/* only the path, set before queueing and unchanged until done */
	shoal_manager__rm_rf(m->swarm_dir);
}

static void rm_done(uv_work_t *w, int status)
{
	struct shoal_manager *m = container_of(w, struct shoal_manager, rm_work);
	shoal_manager_done_cb cb = m->leave_cb;

	(void)status;
	m->rm_pending = false;
	m->leave_cb = NULL;
	m->state = SHOAL_MANAGER_INACTIVE;
	shoal_log_info("left the swarm", "%s", "");
	if (cb != NULL)
		cb(m->leave_ctx, NULL);
	if (m->closing)
		close_step(m);
}

static void leave_finish(struct shoal_manager *m)
{
	leave_swarm_state(m);
	m->state = SHOAL_MANAGER_LEAVING;
	shoal_manager__member_changed(m);
	m->rm_pending = true;
	if (uv_queue_work(m->loop, &m->rm_work, rm_work, rm_done) < 0) {
		shoal_manager__rm_rf(m->swarm_dir);
		rm_done(&m->rm_work, 0);
	}
}

static void leave_raft_closed(void *ctx)
{
	struct shoal_manager *m = ctx;

	m->raft_closing = false;
	if (!m->csrv_up && m->csrv_close_cb == NULL)
		leave_finish(m);
}

static void leave_cluster_closed(struct shoal_manager *m)
{
	if (!m->raft_closing)
		leave_finish(m);
}

int shoal_manager_leave(struct shoal_manager *m, bool force, shoal_manager_done_cb cb, void *ctx,
			struct shoal_err *err)
{
	struct shoal_err gone;

	if (m->state == SHOAL_MANAGER_INACTIVE || m->state == SHOAL_MANAGER_LEAVING || m->closing)
		return shoal_errorf(err, 503, "%s", SHOAL_MANAGER_NOT_MEMBER_MSG);
	if (!force && m->state != SHOAL_MANAGER_WORKER)
		return shoal_errorf(err, 503, "%s", SHOAL_MANAGER_LEAVE_MANAGER_MSG);
	m->leave_cb = cb;
	m->leave_ctx = ctx;
	if (m->state == SHOAL_MANAGER_WORKER) {
		leave_finish(m);
		return 0;
	}
	m->state = SHOAL_MANAGER_LEAVING;
	shoal_manager__leader_parts_stop(m);
	if (m->init_cb != NULL) {
		shoal_errorf(&gone, 503, "%s", SHOAL_MANAGER_NOT_MEMBER_MSG);
		init_applied(m, &gone);
	}
	if (m->raft != NULL) {
		m->raft_closing = true;
		shoal_raft_close(m->raft, leave_raft_closed, m);
		m->raft = NULL;
	}
	shoal_manager__cluster_close(m, leave_cluster_closed);
	return 0;
}

static void handle_closed(uv_handle_t *h)
{
	struct shoal_manager *m = h->data;

	m->nhandles--;
	close_step(m);
}

/* Closing goes on as each part reports: raft, the cluster port, a pending removal, then the
 * handles; m is freed when the last one is closed. */
static void close_step(struct shoal_manager *m)
{
	shoal_manager_close_cb cb;
	void *ctx;

	if (m->raft_closing || m->rm_pending || m->csrv_up || m->csrv_close_cb != NULL ||
	    m->client_closing)
		return;
	if (!m->handles_closing) {
		m->handles_closing = true;
		m->nhandles = 6;
		m->applied_idle.data = m;
		uv_close((uv_handle_t *)&m->applied_idle, handle_closed);
		m->timer.data = m->roles_timer.data = m->roles_retry.data = m;
		m->logs_idle.data = m;
		uv_close((uv_handle_t *)&m->logs_idle, handle_closed);
		uv_close((uv_handle_t *)&m->timer, handle_closed);
		uv_close((uv_handle_t *)&m->roles_timer, handle_closed);
		uv_close((uv_handle_t *)&m->roles_retry, handle_closed);
		m->disp_flush.data = m;
		shoal_manager__dispatcher_close(m, handle_closed);
		return;
	}
	if (m->nhandles > 0)
		return;
	cb = m->close_cb;
	ctx = m->close_ctx;
	leave_swarm_state(m);
	free(m->data_root);
	free(m->swarm_dir);
	free(m->hostname);
	free(m->engine_version);
	free(m);
	if (cb != NULL)
		cb(ctx);
}

static void client_closed(void *ctx)
{
	struct shoal_manager *m = ctx;

	m->client_closing = false;
	close_step(m);
}

static void close_raft_closed(void *ctx)
{
	struct shoal_manager *m = ctx;

	m->raft_closing = false;
	close_step(m);
}

static void close_cluster_closed(struct shoal_manager *m)
{
	close_step(m);
}

void shoal_manager_close(struct shoal_manager *m, shoal_manager_close_cb cb, void *ctx)
{
	struct shoal_err gone;

	m->closing = true;
	m->close_cb = cb;
	m->close_ctx = ctx;
	shoal_manager__join_abort(m);
	shoal_manager__forwards_fail(m);
	shoal_manager__leader_parts_stop(m);
	if (m->client != NULL) {
		m->client_closing = true;
		shoal_http_client_close(m->client, client_closed, m);
		m->client = NULL;
	}
	if (m->init_cb != NULL) {
		shoal_errorf(&gone, 503, "%s", SHOAL_MANAGER_PREPARING_MSG);
		init_applied(m, &gone);
	}
	if (m->raft != NULL) {
		struct shoal_raft *r = m->raft;

		m->raft = NULL;
		m->raft_closing = true;
		shoal_raft_close(r, close_raft_closed, m);
	}
	if (m->csrv_up) {
		shoal_manager__cluster_close(m, close_cluster_closed);
		return;
	}
	close_step(m);
}
