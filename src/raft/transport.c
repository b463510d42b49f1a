/* Raft's transport over the cluster port. Docker's managers speak raft on 2377 beside every
 * other cluster call, so Shoal's do too: a node dials the peer's ip:port, sends an HTTP/1.1
 * upgrade request naming itself, waits for "101 Switching Protocols" and hands the socket
 * to libraft; on the other side the manager's cluster server answers the upgrade and gives
 * the socket to shoal_raft_accept_fd(). After the upgrade a connection only ever carries
 * libraft's frames one way (each node dials the other to send), so nothing is read past
 * the answer's head. */
#include "raft/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/list.h"
#include "base/log.h"
#include "base/mem.h"

#define SHOAL_LOG_MODULE "raft"

#define HANDSHAKE_TIMEOUT_MS 5000
#define ANSWER_MAX	     1024

struct transport {
	uv_loop_t *loop;
	raft_id id;
	char address[64];
	raft_uv_accept_cb accept_cb;
	struct shoal_list dials;
	bool closing;
	uv_idle_t closer; /* defers the close callback to the next turn, as libraft expects */
	struct raft_uv_transport *rt;
	raft_uv_transport_close_cb close_cb;
};

struct dial {
	struct shoal_list link;
	struct transport *t;
	struct raft_uv_connect *req;
	raft_uv_connect_cb cb;
	uv_tcp_t *tcp; /* handed to libraft on success, which frees it with raft_free */
	uv_connect_t connect;
	uv_write_t write;
	uv_timer_t timer;
	char *request;
	char answer[ANSWER_MAX];
	size_t alen;
	int handles; /* open handles of ours: the timer, and the tcp until handed over */
	bool done;
};

static void dial_free_maybe(struct dial *d)
{
	if (d->handles > 0)
		return;
	free(d->request);
	free(d);
}

static void dial_handle_closed(uv_handle_t *h)
{
	struct dial *d = h->data;

	if ((uv_handle_t *)d->tcp == h) {
		free(d->tcp);
		d->tcp = NULL;
	}
	d->handles--;
	dial_free_maybe(d);
}

/* Ends a dial once: status 0 hands the stream to libraft, else the socket is closed and
 * libraft told the connection failed. */
static void dial_finish(struct dial *d, int status)
{
	if (d->done)
		return;
	d->done = true;
	shoal_list_del(&d->link);
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, dial_handle_closed);
	if (status == 0) {
		uv_tcp_t *tcp = d->tcp;

		uv_read_stop((uv_stream_t *)tcp);
		tcp->data = NULL;
		d->tcp = NULL;
		d->handles--;
		d->cb(d->req, (uv_stream_t *)tcp, 0);
		return;
	}
	if (!uv_is_closing((uv_handle_t *)d->tcp))
		uv_close((uv_handle_t *)d->tcp, dial_handle_closed);
	d->cb(d->req, NULL, status);
}

static void dial_timeout(uv_timer_t *timer)
{
	struct dial *d = timer->data;

	shoal_log_warn("raft dial timed out", "address=%s", d->t->address);
	dial_finish(d, RAFT_NOCONNECTION);
}

static void answer_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct dial *d = h->data;

	(void)suggested;
	/* One byte at a time: libraft must get every byte after the head. The answer is a
	 * few dozen bytes, once per connection. */
	buf->base = d->answer + d->alen;
	buf->len = d->alen + 1 < sizeof(d->answer) ? 1 : 0;
}

static void answer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct dial *d = s->data;

	(void)buf;
	if (n == 0)
		return;
	if (n < 0 || d->alen + 1 >= sizeof(d->answer)) {
		dial_finish(d, RAFT_NOCONNECTION);
		return;
	}
	d->alen += (size_t)n;
	d->answer[d->alen] = '\0';
	if (d->alen < 4 || strcmp(d->answer + d->alen - 4, "\r\n\r\n") != 0)
		return;
	if (strncmp(d->answer, "HTTP/1.1 101 ", 13) != 0) {
		char *eol = strchr(d->answer, '\r');

		if (eol != NULL)
			*eol = '\0';
		shoal_log_warn("raft peer refused the connection", "answer=%s", d->answer);
		dial_finish(d, RAFT_NOCONNECTION);
		return;
	}
	dial_finish(d, 0);
}

static void request_written(uv_write_t *w, int status)
{
	struct dial *d = w->data;

	if (d->done)
		return;
	if (status < 0) {
		dial_finish(d, RAFT_NOCONNECTION);
		return;
	}
	if (uv_read_start((uv_stream_t *)d->tcp, answer_alloc, answer_read) < 0)
		dial_finish(d, RAFT_NOCONNECTION);
}

static void connected(uv_connect_t *c, int status)
{
	struct dial *d = c->data;
	uv_buf_t b;

	if (d->done)
		return;
	if (status < 0) {
		dial_finish(d, RAFT_NOCONNECTION);
		return;
	}
	b = uv_buf_init(d->request, (unsigned)strlen(d->request));
	d->write.data = d;
	if (uv_write(&d->write, (uv_stream_t *)d->tcp, &b, 1, request_written) < 0)
		dial_finish(d, RAFT_NOCONNECTION);
}

/* "ip:port" to a sockaddr; IPv4 only, as the advertise addresses are. */
static int parse_addr(const char *address, struct sockaddr_in *sa)
{
	char ip[INET_ADDRSTRLEN];
	const char *colon = strrchr(address, ':');
	char *end;
	long port;

	if (colon == NULL || (size_t)(colon - address) >= sizeof(ip))
		return -1;
	memcpy(ip, address, (size_t)(colon - address));
	ip[colon - address] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port <= 0 || port > 65535)
		return -1;
	return uv_ip4_addr(ip, (int)port, sa) == 0 ? 0 : -1;
}

static int t_init(struct raft_uv_transport *rt, raft_id id, const char *address)
{
	struct transport *t = rt->impl;

	t->id = id;
	snprintf(t->address, sizeof(t->address), "%s", address);
	return 0;
}

static int t_listen(struct raft_uv_transport *rt, raft_uv_accept_cb cb)
{
	struct transport *t = rt->impl;

	t->accept_cb = cb;
	return 0;
}

static int t_connect(struct raft_uv_transport *rt, struct raft_uv_connect *req, raft_id id,
		     const char *address, raft_uv_connect_cb cb)
{
	struct transport *t = rt->impl;
	struct sockaddr_in sa;
	struct dial *d;

	(void)id;
	if (t->closing)
		return RAFT_CANCELED;
	if (parse_addr(address, &sa) < 0) {
		snprintf(rt->errmsg, sizeof(rt->errmsg), "bad raft address %s", address);
		return RAFT_NOCONNECTION;
	}
	d = shoal_calloc(1, sizeof(*d));
	d->t = t;
	d->req = req;
	d->cb = cb;
	d->request = shoal_asprintf("GET %s?id=%llu&address=%s HTTP/1.1\r\n"
				    "Host: %s\r\n"
				    "Connection: Upgrade\r\n"
				    "Upgrade: %s\r\n\r\n",
				    SHOAL_RAFT_UPGRADE_PATH, (unsigned long long)t->id, t->address,
				    address, SHOAL_RAFT_UPGRADE_PROTO);
	/* libraft releases the stream it is given with raft_free(): our own allocation. */
	d->tcp = raft_malloc(sizeof(*d->tcp));
	if (d->tcp == NULL)
		shoal_fatalx(SHOAL_LOG_MODULE, "out of memory");
	uv_tcp_init(t->loop, d->tcp);
	uv_tcp_nodelay(d->tcp, 1);
	uv_timer_init(t->loop, &d->timer);
	d->tcp->data = d;
	d->timer.data = d;
	d->connect.data = d;
	d->handles = 2;
	shoal_list_add_tail(&t->dials, &d->link);
	uv_timer_start(&d->timer, dial_timeout, HANDSHAKE_TIMEOUT_MS, 0);
	if (uv_tcp_connect(&d->connect, d->tcp, (struct sockaddr *)&sa, connected) < 0)
		dial_finish(d, RAFT_NOCONNECTION);
	return 0;
}

static void closer_closed(uv_handle_t *h)
{
	struct transport *t = container_of((uv_idle_t *)h, struct transport, closer);

	t->close_cb(t->rt);
}

static void t_close(struct raft_uv_transport *rt, raft_uv_transport_close_cb cb)
{
	struct transport *t = rt->impl;

	t->closing = true;
	t->accept_cb = NULL;
	while (!shoal_list_empty(&t->dials))
		dial_finish(shoal_list_entry(t->dials.next, struct dial, link), RAFT_CANCELED);
	/* The dials' handles close on their own; none refers to t any more. */
	t->rt = rt;
	t->close_cb = cb;
	uv_idle_init(t->loop, &t->closer);
	uv_close((uv_handle_t *)&t->closer, closer_closed);
}

void shoal_raft__transport_init(struct raft_uv_transport *rt, uv_loop_t *loop)
{
	struct transport *t = shoal_calloc(1, sizeof(*t));

	t->loop = loop;
	shoal_list_init(&t->dials);
	memset(rt, 0, sizeof(*rt));
	rt->impl = t;
	rt->init = t_init;
	rt->listen = t_listen;
	rt->connect = t_connect;
	rt->close = t_close;
}

void shoal_raft__transport_fini(struct raft_uv_transport *rt)
{
	free(rt->impl);
	rt->impl = NULL;
}

static void adopt_failed(uv_handle_t *h)
{
	raft_free(h);
}

int shoal_raft_accept_fd(struct shoal_raft *r, uint64_t id, const char *address, int fd,
			 struct shoal_err *err)
{
	struct transport *t = r->transport.impl;
	uv_tcp_t *tcp;

	if (r->closing || t == NULL || t->accept_cb == NULL) {
		close(fd);
		return shoal_errorf(err, 503, "raft is not running on this node");
	}
	tcp = raft_malloc(sizeof(*tcp));
	if (tcp == NULL)
		shoal_fatalx(SHOAL_LOG_MODULE, "out of memory");
	uv_tcp_init(r->loop, tcp);
	if (uv_tcp_open(tcp, fd) < 0) {
		close(fd);
		uv_close((uv_handle_t *)tcp, adopt_failed);
		return shoal_errorf(err, 500, "raft: cannot adopt the connection");
	}
	uv_tcp_nodelay(tcp, 1);
	t->accept_cb(&r->transport, id, address, (uv_stream_t *)tcp);
	return 0;
}
