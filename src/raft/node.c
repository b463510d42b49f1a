/* A manager's raft node: libraft with the libuv backend (segments and snapshots in the data
 * dir, TCP between managers), bootstrap of a new cluster, proposals and membership changes,
 * and a leader watch. The FSM adapter is in fsm.c; what entries mean is left to the store. */
#include "raft/internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "raft"

#define LEADER_POLL_MS 100

struct propose_req {
	struct raft_apply req;
	shoal_raft_propose_cb cb;
	void *ctx;
};

struct change_req {
	struct raft_change req;
	struct shoal_raft *r;
	raft_id id;
	shoal_raft_change_cb cb;
	void *ctx;
};

/* Turns a libraft code into a Shoal error; returns -1. */
static int raft_error(struct shoal_err *err, int code, const char *what)
{
	switch (code) {
	case RAFT_NOTLEADER:
	case RAFT_LEADERSHIPLOST:
		/* Docker answers 503 with swarmkit's text; clients show it as is. */
		return shoal_errorf_sys(err, 503, code, "%s", SHOAL_RAFT_NO_LEADER_MSG);
	case RAFT_CANTBOOTSTRAP:
		return shoal_errorf_sys(err, 409, code, "%s: raft data already exists", what);
	case RAFT_DUPLICATEID:
	case RAFT_DUPLICATEADDRESS:
		return shoal_errorf_sys(err, 409, code, "%s: %s", what, raft_strerror(code));
	case RAFT_BADID:
	case RAFT_NOTFOUND:
		return shoal_errorf_sys(err, 404, code, "%s: %s", what, raft_strerror(code));
	default:
		return shoal_errorf_sys(err, 500, code, "%s: %s", what, raft_strerror(code));
	}
}

void shoal_raft__wrap(struct shoal_raft *r, struct raft *raft)
{
	memset(r, 0, sizeof(*r));
	r->raft = raft;
}

static void leader_tick(uv_timer_t *t)
{
	shoal_raft__check_leader(container_of(t, struct shoal_raft, leader_timer));
}

void shoal_raft__check_leader(struct shoal_raft *r)
{
	raft_id id = 0;
	const char *address = NULL;
	bool leader;

	raft_leader(r->raft, &id, &address);
	leader = raft_state(r->raft) == RAFT_LEADER;
	if (id == r->last_leader && leader == r->was_leader)
		return;
	r->last_leader = id;
	r->was_leader = leader;
	shoal_log_info("raft leader changed", "leader=%llu self=%llu", id, r->raft->id);
	if (r->leader_cb != NULL)
		r->leader_cb(r->leader_ctx, id, leader);
}

int shoal_raft_open(uv_loop_t *loop, const char *dir, uint64_t id, const char *address,
		    struct shoal_raft_fsm *fsm, const struct shoal_raft_opts *opts,
		    struct shoal_raft **out, struct shoal_err *err)
{
	struct shoal_raft *r = NULL;
	int rv;

	assert(id > 0);
	/* Startup, one directory: not worth the thread pool. */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return shoal_errorf_sys(err, 500, errno, "raft: cannot create %s: %s", dir,
					strerror(errno));
	r = shoal_calloc(1, sizeof(*r));
	r->loop = loop;
	r->fsm = fsm;
	r->raft = &r->own;
	shoal_raft__fsm_init(&r->raft_fsm, fsm);

	shoal_raft__transport_init(&r->transport, loop);
	rv = raft_uv_init(&r->io, loop, dir, &r->transport);
	if (rv != 0) {
		shoal_errorf_sys(err, 500, rv, "raft: %s: %s", dir, r->io.errmsg);
		goto out_transport;
	}
	rv = raft_init(&r->own, &r->io, &r->raft_fsm, id, address);
	if (rv != 0) {
		shoal_errorf_sys(err, 500, rv, "raft: %s: %s", dir, raft_errmsg(&r->own));
		goto out_io;
	}
	r->own.data = r;
	if (opts != NULL) {
		if (opts->snapshot_threshold > 0)
			raft_set_snapshot_threshold(&r->own, opts->snapshot_threshold);
		if (opts->snapshot_trailing > 0)
			raft_set_snapshot_trailing(&r->own, opts->snapshot_trailing);
		if (opts->election_timeout_ms > 0)
			raft_set_election_timeout(&r->own, opts->election_timeout_ms);
		if (opts->heartbeat_ms > 0)
			raft_set_heartbeat_timeout(&r->own, opts->heartbeat_ms);
	}
	uv_timer_init(loop, &r->leader_timer);
	*out = r;
	return 0;

out_io:
	raft_uv_close(&r->io);
out_transport:
	shoal_raft__transport_fini(&r->transport);
	free(r);
	return -1;
}

int shoal_raft_bootstrap(struct shoal_raft *r, struct shoal_err *err)
{
	struct raft_configuration conf;
	int rv;

	raft_configuration_init(&conf);
	rv = raft_configuration_add(&conf, r->raft->id, r->raft->address, RAFT_VOTER);
	if (rv == 0)
		rv = raft_bootstrap(r->raft, &conf);
	raft_configuration_close(&conf);
	if (rv != 0)
		return raft_error(err, rv, "raft: bootstrap");
	return 0;
}

int shoal_raft_recover(struct shoal_raft *r, struct shoal_err *err)
{
	struct raft_configuration conf;
	int rv;

	raft_configuration_init(&conf);
	rv = raft_configuration_add(&conf, r->raft->id, r->raft->address, RAFT_VOTER);
	if (rv == 0)
		rv = raft_recover(r->raft, &conf);
	raft_configuration_close(&conf);
	if (rv != 0)
		return shoal_errorf_sys(err, 500, rv, "raft: recover: %s", raft_errmsg(r->raft));
	return 0;
}

int shoal_raft_start(struct shoal_raft *r, struct shoal_err *err)
{
	int rv;

	assert(r->loop != NULL);
	rv = raft_start(r->raft);
	if (rv != 0)
		return shoal_errorf_sys(err, 500, rv, "raft: start: %s", raft_errmsg(r->raft));
	uv_timer_start(&r->leader_timer, leader_tick, 0, LEADER_POLL_MS);
	return 0;
}

void shoal_raft_set_leader_cb(struct shoal_raft *r, shoal_raft_leader_cb cb, void *ctx)
{
	r->leader_cb = cb;
	r->leader_ctx = ctx;
}

static void propose_done(struct raft_apply *req, int status, void *result)
{
	struct propose_req *p = container_of(req, struct propose_req, req);
	struct shoal_err err;

	if (status == 0) {
		p->cb(p->ctx, result, NULL);
	} else {
		raft_error(&err, status, "raft: propose");
		p->cb(p->ctx, NULL, &err);
	}
	free(p);
}

int shoal_raft_propose(struct shoal_raft *r, const void *buf, size_t len, shoal_raft_propose_cb cb,
		       void *ctx, struct shoal_err *err)
{
	struct propose_req *p = NULL;
	struct raft_buffer rb = { NULL, 0 };
	int rv;

	if (r->closing || raft_state(r->raft) != RAFT_LEADER)
		return raft_error(err, RAFT_NOTLEADER, "raft: propose");
	/* raft_apply takes a raft_malloc'ed buffer, and only if it returns 0. */
	rb.len = shoal_raft__frame_len(len);
	rb.base = raft_malloc(rb.len);
	if (rb.base == NULL)
		shoal_fatalx(SHOAL_LOG_MODULE, "out of memory");
	shoal_raft__frame(rb.base, buf, len);
	p = shoal_calloc(1, sizeof(*p));
	p->cb = cb;
	p->ctx = ctx;
	rv = raft_apply(r->raft, &p->req, &rb, 1, propose_done);
	if (rv != 0) {
		raft_free(rb.base);
		free(p);
		return raft_error(err, rv, "raft: propose");
	}
	return 0;
}

struct barrier_req {
	struct raft_barrier req;
	shoal_raft_change_cb cb;
	void *ctx;
};

static void barrier_done(struct raft_barrier *req, int status)
{
	struct barrier_req *b = container_of(req, struct barrier_req, req);
	struct shoal_err err;

	if (status == 0) {
		b->cb(b->ctx, NULL);
	} else {
		raft_error(&err, status, "raft: barrier");
		b->cb(b->ctx, &err);
	}
	free(b);
}

int shoal_raft_barrier(struct shoal_raft *r, shoal_raft_change_cb cb, void *ctx,
		       struct shoal_err *err)
{
	struct barrier_req *b;
	int rv;

	if (r->closing || raft_state(r->raft) != RAFT_LEADER)
		return raft_error(err, RAFT_NOTLEADER, "raft: barrier");
	b = shoal_calloc(1, sizeof(*b));
	b->cb = cb;
	b->ctx = ctx;
	rv = raft_barrier(r->raft, &b->req, barrier_done);
	if (rv != 0) {
		free(b);
		return raft_error(err, rv, "raft: barrier");
	}
	return 0;
}

static void change_finish(struct change_req *c, int status, const char *what)
{
	struct shoal_err err;

	if (status == 0) {
		c->cb(c->ctx, NULL);
	} else {
		raft_error(&err, status, what);
		c->cb(c->ctx, &err);
	}
	free(c);
}

static void assign_done(struct raft_change *req, int status)
{
	change_finish(container_of(req, struct change_req, req), status, "raft: promote to voter");
}

static void add_done(struct raft_change *req, int status)
{
	struct change_req *c = container_of(req, struct change_req, req);
	int rv;

	if (status != 0) {
		change_finish(c, status, "raft: add server");
		return;
	}
	/* Leadership may have moved between the two steps: raft_assign then says NOTLEADER. */
	rv = raft_assign(c->r->raft, &c->req, c->id, RAFT_VOTER, assign_done);
	if (rv != 0)
		change_finish(c, rv, "raft: promote to voter");
}

static struct change_req *change_new(struct shoal_raft *r, raft_id id, shoal_raft_change_cb cb,
				     void *ctx)
{
	struct change_req *c = shoal_calloc(1, sizeof(*c));

	c->r = r;
	c->id = id;
	c->cb = cb;
	c->ctx = ctx;
	return c;
}

/* The role of server id in the latest configuration, or -1 if it is not there. */
int shoal_raft_member_role(struct shoal_raft *r, uint64_t id)
{
	unsigned i;

	for (i = 0; i < r->raft->configuration.n; i++)
		if (r->raft->configuration.servers[i].id == id)
			return r->raft->configuration.servers[i].role;
	return -1;
}

bool shoal_raft_changing(struct shoal_raft *r)
{
	/* libraft takes one configuration change at a time */
	return r->raft->configuration_uncommitted_index != 0;
}

int shoal_raft_add_voter(struct shoal_raft *r, uint64_t id, const char *address,
			 shoal_raft_change_cb cb, void *ctx, struct shoal_err *err)
{
	struct change_req *c;
	int role, rv;

	if (r->closing || raft_state(r->raft) != RAFT_LEADER)
		return raft_error(err, RAFT_NOTLEADER, "raft: add server");
	c = change_new(r, id, cb, ctx);
	role = shoal_raft_member_role(r, id);
	if (role == RAFT_VOTER) {
		free(c);
		return shoal_errorf(err, 409, "raft: server %llu is a voter already",
				    (unsigned long long)id);
	}
	if (role >= 0) {
		/* added before (a leader lost half-way): only the promotion is left */
		rv = raft_assign(r->raft, &c->req, id, RAFT_VOTER, assign_done);
		if (rv != 0) {
			free(c);
			return raft_error(err, rv, "raft: promote to voter");
		}
		return 0;
	}
	rv = raft_add(r->raft, &c->req, id, address, add_done);
	if (rv != 0) {
		free(c);
		return raft_error(err, rv, "raft: add server");
	}
	return 0;
}

static void remove_done(struct raft_change *req, int status)
{
	change_finish(container_of(req, struct change_req, req), status, "raft: remove server");
}

int shoal_raft_remove(struct shoal_raft *r, uint64_t id, shoal_raft_change_cb cb, void *ctx,
		      struct shoal_err *err)
{
	struct change_req *c;
	int rv;

	if (r->closing || raft_state(r->raft) != RAFT_LEADER)
		return raft_error(err, RAFT_NOTLEADER, "raft: remove server");
	c = change_new(r, id, cb, ctx);
	rv = raft_remove(r->raft, &c->req, id, remove_done);
	if (rv != 0) {
		free(c);
		return raft_error(err, rv, "raft: remove server");
	}
	return 0;
}

void shoal_raft_leader(struct shoal_raft *r, uint64_t *id, const char **address)
{
	raft_id lid = 0;

	*address = NULL;
	raft_leader(r->raft, &lid, address);
	*id = lid;
	if (lid == 0)
		*address = NULL;
}

bool shoal_raft_is_leader(struct shoal_raft *r)
{
	return raft_state(r->raft) == RAFT_LEADER;
}

/* Closed nodes whose memory waits for the end of the loop (see raft_closed). */
static struct shoal_list graveyard = { &graveyard, &graveyard };

static void timer_closed(uv_handle_t *h)
{
	struct shoal_raft *r = container_of((uv_timer_t *)h, struct shoal_raft, leader_timer);

	if (r->close_cb != NULL)
		r->close_cb(r->close_ctx);
	shoal_list_add_tail(&graveyard, &r->grave);
}

static void raft_closed(struct raft *raft)
{
	struct shoal_raft *r = raft->data;

	/* libraft 0.15 can call its io close callback a second time, from a segment writer that
	 * finishes closing later (canonical/raft#341, fixed upstream after 0.15): that call
	 * frees what the first freed and reads the backend. So the fields it frees are
	 * cleared here, making a second call a no-op, and the memory (this struct with the
	 * raft, its backend and transport) is kept until shoal_raft_reap() at the end. */
	raft->address = NULL;
	raft->log.entries = NULL;
	raft->log.refs = NULL;
	raft->configuration.servers = NULL;
	raft->configuration.n = 0;
	raft->close_cb = NULL;
	uv_close((uv_handle_t *)&r->leader_timer, timer_closed);
}

void shoal_raft_reap(void)
{
	while (!shoal_list_empty(&graveyard)) {
		struct shoal_raft *r = shoal_list_entry(graveyard.next, struct shoal_raft, grave);

		shoal_list_del(&r->grave);
		raft_uv_close(&r->io);
		shoal_raft__transport_fini(&r->transport);
		free(r);
	}
}

static void close_start(uv_timer_t *t)
{
	struct shoal_raft *r = container_of(t, struct shoal_raft, leader_timer);

	raft_close(r->raft, raft_closed);
}

void shoal_raft_close(struct shoal_raft *r, shoal_raft_close_cb cb, void *ctx)
{
	assert(r->loop != NULL && !r->closing);
	r->closing = true;
	r->close_cb = cb;
	r->close_ctx = ctx;
	/* Callers often close from a proposal's callback, deep inside libraft's handling of a
	 * backend event; closing the backend there trips libuv's asserts. Start from the loop. */
	uv_timer_stop(&r->leader_timer);
	uv_timer_start(&r->leader_timer, close_start, 0, 0);
}
