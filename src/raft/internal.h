/* Inside src/raft: the node struct and the pieces tests drive on libraft's fixture (the FSM
 * adapter, wrapping a raft instance the fixture owns, the leader check). */
#ifndef SHOAL_RAFT_INTERNAL_H
#define SHOAL_RAFT_INTERNAL_H

#include <raft.h>
#include <raft/uv.h>

#include "base/list.h"
#include "raft/raft.h"

struct shoal_raft {
	uv_loop_t *loop;	    /* NULL when wrapping a fixture's server */
	struct raft *raft;	    /* &own, or the wrapped instance */
	struct shoal_raft_fsm *fsm; /* borrowed */
	struct raft_fsm raft_fsm;   /* adapter to fsm */
	struct raft own;
	struct raft_io io;
	struct raft_uv_transport transport;
	uv_timer_t leader_timer;
	shoal_raft_leader_cb leader_cb;
	void *leader_ctx;
	raft_id last_leader;
	bool was_leader;
	shoal_raft_close_cb close_cb;
	void *close_ctx;
	bool closing;
	struct shoal_list grave; /* closed, memory kept until shoal_raft_reap() */
};

/* Fills rt with the transport over the cluster port (transport.c); fini frees what init
 * allocated, once libraft has closed it. */
void shoal_raft__transport_init(struct raft_uv_transport *rt, uv_loop_t *loop);
void shoal_raft__transport_fini(struct raft_uv_transport *rt);

/* Fills out (libraft's FSM, version 2) to call fsm, which is borrowed and must outlive it. */
void shoal_raft__fsm_init(struct raft_fsm *out, struct shoal_raft_fsm *fsm);

/* Makes r a handle on a raft instance someone else owns (the test fixture): propose,
 * add_voter, remove, leader and the leader check work; open, start and close do not. */
void shoal_raft__wrap(struct shoal_raft *r, struct raft *raft);

/* Calls the leader callback if the leader or this node's leadership changed since the last
 * check. The timer calls it every 100 ms. */
void shoal_raft__check_leader(struct shoal_raft *r);

/* Entries are framed: an 8-byte little-endian length, the bytes, zeros up to a multiple
 * of 8. libraft 0.15's uv backend writes entries padded to 8 bytes but reads a closed
 * segment back as if they were not, so an entry of another length makes the log
 * unreadable at the next start; the frame keeps every entry a multiple of 8 and lets the
 * FSM see exactly the bytes that were proposed. */
#define SHOAL_RAFT_FRAME_HDR 8
size_t shoal_raft__frame_len(size_t len);
void shoal_raft__frame(void *dst, const void *data, size_t len);

#endif
