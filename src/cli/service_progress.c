/* The convergence progress of `service create`, `update`, `scale` and `rollback` without -d,
 * as docker/cli's service/progress package computes it (one poll of the service, its
 * up-to-date tasks and the nodes every 200ms; a bar per slot or node; five seconds of
 * "verify" once every task runs) and as moby's jsonmessage renders that stream: ANSI cursor
 * moves redrawing one line per ID on a terminal, only the lines without a bar otherwise.
 * Where docker walks a Go map (slots, nodes) this walks them in order. */
#include "cli/internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"

/* jsonmessage ****************************************************************************/

void shoal_cli__jm_init(struct shoal_cli_jm *d, struct shoal_buf *out, bool tty, int width)
{
	memset(d, 0, sizeof(*d));
	d->out = out;
	d->tty = tty;
	d->width = width;
}

static void forget_ids(struct shoal_cli_jm *d)
{
	size_t i;

	for (i = 0; i < d->nids; i++)
		free(d->ids[i]);
	d->nids = 0;
}

void shoal_cli__jm_fini(struct shoal_cli_jm *d)
{
	forget_ids(d);
	free(d->ids);
	d->ids = NULL;
}

/* JSONProgress.String() for the counts the progress package sends (no units, no start). */
static void bar(struct shoal_buf *b, const struct shoal_cli_progress *p, int width)
{
	int pct, i;

	if (p->current <= 0 && p->total <= 0)
		return;
	if (p->total <= 0) {
		char size[32];

		shoal_cli_units_human_size((double)p->current, 4, size, sizeof(size));
		shoal_buf_addf(b, "%8s", size);
		return;
	}
	pct = (int)((double)p->current / (double)p->total * 100) / 2;
	if (pct > 50)
		pct = 50;
	if (width > 110) {
		shoal_buf_addc(b, '[');
		for (i = 0; i < pct; i++)
			shoal_buf_addc(b, '=');
		shoal_buf_addc(b, '>');
		for (i = pct; i < 50; i++)
			shoal_buf_addc(b, ' ');
		shoal_buf_adds(b, "] ");
	}
	if (!p->hide_counts) {
		char cur[32], tot[32];

		shoal_cli_units_human_size((double)p->current, 4, cur, sizeof(cur));
		shoal_cli_units_human_size((double)p->total, 4, tot, sizeof(tot));
		if (p->current > p->total)
			shoal_buf_addf(b, "%8s", cur);
		else
			shoal_buf_addf(b, "%8s/%s", cur, tot);
	}
}

/* One message through DisplayJSONMessagesStream and JSONMessage.Display. A message with an
 * action carries a progress detail (maybe all zero); one with a message text does not. */
void shoal_cli__jm_write(struct shoal_cli_jm *d, const struct shoal_cli_progress *p)
{
	bool progress = p->message == NULL;
	const char *id = p->id ? p->id : "";
	const char *status = progress ? (p->action ? p->action : "") : p->message;
	struct shoal_buf pb;
	size_t line = 0, diff = 0, i;

	shoal_buf_init(&pb);
	bar(&pb, p, d->width);
	if (*id != '\0' && progress) {
		for (i = 0; i < d->nids && strcmp(d->ids[i], id) != 0; i++)
			;
		line = i;
		if (i == d->nids) {
			d->ids = shoal_realloc(d->ids, (d->nids + 1) * sizeof(*d->ids));
			d->ids[d->nids++] = shoal_strdup(id);
			if (d->tty)
				shoal_buf_addc(d->out, '\n');
		}
		diff = d->nids - line;
		if (d->tty && diff > 0)
			shoal_buf_addf(d->out, "\x1b[%zuA", diff);
	} else {
		/* anything without an ID's line forgets the lines drawn so far */
		forget_ids(d);
	}
	if (d->tty && progress) {
		shoal_buf_adds(d->out, "\x1b[2K\r");
		if (*id != '\0')
			shoal_buf_addf(d->out, "%s: ", id);
		shoal_buf_addf(d->out, "%s %s\r", status, pb.data);
	} else if (progress && pb.len > 0) {
		/* no bars without a terminal */
	} else {
		if (*id != '\0')
			shoal_buf_addf(d->out, "%s: ", id);
		shoal_buf_addf(d->out, "%s\n", status);
	}
	if (*id != '\0' && d->tty && diff > 0)
		shoal_buf_addf(d->out, "\x1b[%zuB", diff);
	shoal_buf_fini(&pb);
}

/* The updaters ***************************************************************************/

enum state_num {
	ST_UNKNOWN = 0,
	ST_RUNNING = 9,
	ST_COMPLETE = 10,
};

static int state_num(const char *s)
{
	static const char *const states[] = {
		"new",	    "allocated", "pending",  "assigned", "accepted", "preparing", "ready",
		"starting", "running",	 "complete", "shutdown", "failed",   "rejected",
	};
	size_t i;

	for (i = 0; s != NULL && i < SHOAL_ARRAY_SIZE(states); i++)
		if (strcmp(s, states[i]) == 0)
			return (int)i + 1;
	return ST_UNKNOWN;
}

/* The longest state a bar shows ("preparing", "allocated", "complete" fits). */
#define LONGEST_STATE 9
#define MAX_PROGRESS  9
#define MAX_BARS      20
#define MAX_JOB_BARS  10

static bool terminal(int n)
{
	return n > ST_RUNNING;
}

static const char *tstr(json_t *t, const char *a, const char *b)
{
	json_t *v = json_object_get(t, a);

	if (b != NULL)
		v = json_object_get(v, b);
	return json_string_value(v) ?: "";
}

struct updater {
	enum {
		UP_REPLICATED,
		UP_GLOBAL,
		UP_RJOB,
		UP_GJOB
	} kind;
	bool initialized, done;
	json_int_t *slots; /* replicated: slots in the order first seen (mapped slot - 1) */
	size_t nslots;
	json_int_t iteration; /* jobs: JobStatus.JobIteration.Index */
	long long concurrent, total;
	int progress_digits, active_digits;
	char **nodes; /* global job: the nodes of the first tasks */
	size_t nnodes;
};

static void updater_fini(struct updater *u)
{
	size_t i;

	free(u->slots);
	for (i = 0; i < u->nnodes; i++)
		free(u->nodes[i]);
	free(u->nodes);
}

static void emit(struct shoal_cli_jm *d, const char *id, const char *action, int64_t cur,
		 int64_t total)
{
	struct shoal_cli_progress p = {
		.id = id, .action = action, .current = cur, .total = total, .hide_counts = true
	};

	shoal_cli__jm_write(d, &p);
}

static void overall(struct shoal_cli_jm *d, long long n, long long of, bool rollback)
{
	char action[96];

	snprintf(action, sizeof(action), "%s%lld out of %lld tasks",
		 rollback ? "rolling back update: " : "", n, of);
	emit(d, "overall progress", action, 0, 0);
}

/* truncError */
static void trunc_error(const char *msg, char *out, size_t n)
{
	size_t i, len = strlen(msg);

	if (len > 75) {
		snprintf(out, n, "%.74s\xe2\x80\xa6", msg);
	} else {
		snprintf(out, n, "%s", msg);
	}
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] == '\n')
			out[i] = ' ';
}

static void task_bar(struct shoal_cli_jm *d, json_t *t, const char *id, int max)
{
	const char *e = tstr(t, "Status", "Err"), *st = tstr(t, "Status", "State");
	char action[128];

	if (*e != '\0') {
		trunc_error(e, action, sizeof(action));
		emit(d, id, action, 0, 0);
		return;
	}
	if (max == MAX_PROGRESS &&
	    (terminal(state_num(tstr(t, "DesiredState", NULL))) || terminal(state_num(st))))
		return;
	snprintf(action, sizeof(action), "%-*s", LONGEST_STATE, st);
	emit(d, id, action, state_num(st), max);
}

static bool active(json_t *nodes, const char *id)
{
	return json_object_get(nodes, id) != NULL;
}

/* Picks per key the task with the lowest desired state, then the lowest observed state. */
static bool better(json_t *cur, json_t *t)
{
	int cd = state_num(tstr(cur, "DesiredState", NULL)),
	    td = state_num(tstr(t, "DesiredState", NULL));

	if (cd < td)
		return false;
	if (cd == td &&
	    state_num(tstr(cur, "Status", "State")) <= state_num(tstr(t, "Status", "State")))
		return false;
	return true;
}

static int slot_cmp(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "Slot"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "Slot"));

	return x < y ? -1 : x > y;
}

static int update_replicated(struct updater *u, struct shoal_cli_jm *d, json_t *svc, json_t *tasks,
			     json_t *nodes, bool rollback, bool *converged, struct shoal_err *err)
{
	json_t *r = json_object_get(json_object_get(json_object_get(svc, "Spec"), "Mode"),
				    "Replicated");
	json_t *reps = json_object_get(r, "Replicas"), **by = NULL, *t;
	long long replicas, running = 0;
	size_t i, j, n = 0;

	if (!json_is_integer(reps))
		return shoal_errorf(err, 500, "no replica count");
	replicas = json_integer_value(reps);
	if (!u->initialized) {
		overall(d, 0, replicas, rollback);
		if (replicas <= MAX_BARS)
			for (i = 1; i <= (size_t)replicas; i++) {
				char id[48];

				snprintf(id, sizeof(id), "%zu/%lld", i, replicas);
				emit(d, id, " ", 0, 0);
			}
		u->initialized = true;
	}
	/* tasksBySlot */
	by = shoal_calloc(json_array_size(tasks) + 1, sizeof(*by));
	json_array_foreach(tasks, i, t) {
		json_int_t slot = json_integer_value(json_object_get(t, "Slot"));
		const char *node = tstr(t, "NodeID", NULL);

		if (state_num(tstr(t, "DesiredState", NULL)) == ST_UNKNOWN ||
		    state_num(tstr(t, "Status", "State")) == ST_UNKNOWN)
			continue;
		for (j = 0; j < n; j++)
			if (json_integer_value(json_object_get(by[j], "Slot")) == slot)
				break;
		if (j < n && !better(by[j], t))
			continue;
		if (*node != '\0' && !active(nodes, node))
			continue;
		by[j] = t;
		if (j == n)
			n++;
	}
	qsort(by, n, sizeof(*by), slot_cmp);
	if (u->done)
		for (i = 0; i < n; i++)
			if (strcmp(tstr(by[i], "Status", "State"), "running") != 0)
				u->done = false;
	for (i = 0; i < n; i++) {
		json_int_t slot = json_integer_value(json_object_get(by[i], "Slot"));
		size_t mapped;

		for (mapped = 0; mapped < u->nslots && u->slots[mapped] != slot; mapped++)
			;
		if (mapped == u->nslots) {
			u->slots = shoal_realloc(u->slots, (u->nslots + 1) * sizeof(*u->slots));
			u->slots[u->nslots++] = slot;
		}
		mapped++;
		if (!terminal(state_num(tstr(by[i], "DesiredState", NULL))) &&
		    strcmp(tstr(by[i], "Status", "State"), "running") == 0)
			running++;
		if (!u->done && replicas <= MAX_BARS && (long long)mapped <= replicas) {
			char id[48];

			snprintf(id, sizeof(id), "%zu/%lld", mapped, replicas);
			task_bar(d, by[i], id, MAX_PROGRESS);
		}
	}
	if (!u->done) {
		overall(d, running, replicas, rollback);
		if (running == replicas)
			u->done = true;
	}
	free(by);
	*converged = running == replicas;
	return 0;
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp(tstr(*(json_t *const *)a, "NodeID", NULL),
		      tstr(*(json_t *const *)b, "NodeID", NULL));
}

static void update_global(struct updater *u, struct shoal_cli_jm *d, json_t *tasks, json_t *nodes,
			  bool rollback, bool *converged)
{
	json_t **by = shoal_calloc(json_array_size(tasks) + 1, sizeof(*by)), *t;
	long long running = 0;
	size_t i, j, n = 0;

	*converged = false;
	json_array_foreach(tasks, i, t) {
		if (state_num(tstr(t, "DesiredState", NULL)) == ST_UNKNOWN ||
		    state_num(tstr(t, "Status", "State")) == ST_UNKNOWN)
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(tstr(by[j], "NodeID", NULL), tstr(t, "NodeID", NULL)) == 0)
				break;
		if (j < n && !better(by[j], t))
			continue;
		by[j] = t;
		if (j == n)
			n++;
	}
	qsort(by, n, sizeof(*by), node_cmp);
	if (!u->initialized) {
		if (n == 0) {
			emit(d, "overall progress", "waiting for new tasks", 0, 0);
			free(by);
			return;
		}
		overall(d, 0, (long long)n, rollback);
		u->initialized = true;
	}
	if (u->done)
		for (i = 0; i < n; i++)
			if (strcmp(tstr(by[i], "Status", "State"), "running") != 0)
				u->done = false;
	for (i = 0; i < n; i++) {
		const char *node = tstr(by[i], "NodeID", NULL);
		char id[16];

		if (!active(nodes, node))
			continue;
		if (!terminal(state_num(tstr(by[i], "DesiredState", NULL))) &&
		    strcmp(tstr(by[i], "Status", "State"), "running") == 0)
			running++;
		if (!u->done && n <= MAX_BARS) {
			snprintf(id, sizeof(id), "%.12s", node);
			task_bar(d, by[i], id, MAX_PROGRESS);
		}
	}
	if (!u->done) {
		overall(d, running, (long long)n, rollback);
		if (running == (long long)n)
			u->done = true;
	}
	free(by);
	*converged = running == (long long)n;
}

static json_int_t job_iteration(json_t *o)
{
	return json_integer_value(json_object_get(
		json_object_get(json_object_get(o, "JobStatus"), "JobIteration"), "Index"));
}

static bool same_iteration(json_t *t, json_int_t it)
{
	json_t *ji = json_object_get(t, "JobIteration");

	return json_is_object(ji) && json_integer_value(json_object_get(ji, "Index")) == it;
}

static void job_overall(struct updater *u, struct shoal_cli_jm *d, long long activ,
			long long completed, bool with_active)
{
	char action[96];
	long long want = u->total - completed;

	snprintf(action, sizeof(action), "%*lld out of %lld complete", u->progress_digits,
		 completed, u->total);
	emit(d, "job progress", action, completed, u->total);
	if (!with_active)
		return;
	if (want > u->concurrent)
		want = u->concurrent;
	snprintf(action, sizeof(action), "%*lld out of %*lld tasks", u->active_digits, activ,
		 u->active_digits, want);
	emit(d, "active tasks", action, 0, 0);
}

static int digits(long long v)
{
	char s[32];

	return snprintf(s, sizeof(s), "%lld", v);
}

static void update_rjob(struct updater *u, struct shoal_cli_jm *d, json_t *tasks, bool *converged)
{
	json_t **by = NULL, *t;
	long long activ = 0, complete = 0, i;
	size_t k;

	if (!u->initialized) {
		job_overall(u, d, 0, 0, true);
		if (u->total <= MAX_BARS)
			for (i = 1; i <= u->total; i++) {
				char id[48];

				snprintf(id, sizeof(id), "%lld/%lld", i, u->total);
				emit(d, id, " ", 0, 0);
			}
		u->initialized = true;
	}
	/* slots 0..len-1, as docker reads its map by index */
	by = shoal_calloc(json_array_size(tasks) + 1, sizeof(*by));
	json_array_foreach(tasks, k, t) {
		json_int_t slot = json_integer_value(json_object_get(t, "Slot"));

		if (!same_iteration(t, u->iteration) ||
		    state_num(tstr(t, "DesiredState", NULL)) == ST_UNKNOWN ||
		    state_num(tstr(t, "Status", "State")) == ST_UNKNOWN)
			continue;
		if (slot < 0 || (size_t)slot >= json_array_size(tasks))
			continue;
		if (by[slot] == NULL || state_num(tstr(by[slot], "Status", "State")) >
						state_num(tstr(t, "Status", "State")))
			by[slot] = t;
	}
	for (k = 0; k < json_array_size(tasks) && by[k] != NULL; k++) {
		const char *st = tstr(by[k], "Status", "State");

		if (u->total <= MAX_BARS) {
			char id[48];

			snprintf(id, sizeof(id), "%lld/%lld",
				 (long long)json_integer_value(json_object_get(by[k], "Slot")) + 1,
				 u->total);
			task_bar(d, by[k], id, MAX_JOB_BARS);
		}
		if (state_num(st) < ST_COMPLETE)
			activ++;
		if (strcmp(st, "complete") == 0)
			complete++;
	}
	job_overall(u, d, activ, complete, true);
	free(by);
	*converged = complete == u->total;
}

static void update_gjob(struct updater *u, struct shoal_cli_jm *d, json_t *tasks, json_t *nodes,
			bool *converged)
{
	json_t **by, *t;
	long long complete = 0;
	size_t i, j;

	*converged = false;
	if (!u->initialized) {
		if (json_array_size(tasks) == 0 && json_object_size(nodes) != 0) {
			emit(d, "job progress", "waiting for tasks", 0, 0);
			return;
		}
		json_array_foreach(tasks, i, t) {
			const char *node = tstr(t, "NodeID", NULL);

			if (!same_iteration(t, u->iteration))
				continue;
			for (j = 0; j < u->nnodes && strcmp(u->nodes[j], node) != 0; j++)
				;
			if (j == u->nnodes) {
				u->nodes = shoal_realloc(u->nodes,
							 (u->nnodes + 1) * sizeof(*u->nodes));
				u->nodes[u->nnodes++] = shoal_strdup(node);
			}
		}
		u->total = (long long)u->nnodes;
		u->progress_digits = digits(u->total);
		job_overall(u, d, 0, 0, false);
		u->initialized = true;
	}
	by = shoal_calloc(u->nnodes + 1, sizeof(*by));
	json_array_foreach(tasks, i, t) {
		const char *node = tstr(t, "NodeID", NULL);

		if (!same_iteration(t, u->iteration))
			continue;
		for (j = 0; j < u->nnodes && strcmp(u->nodes[j], node) != 0; j++)
			;
		if (j == u->nnodes)
			continue;
		if (by[j] == NULL || state_num(tstr(by[j], "Status", "State")) >
					     state_num(tstr(t, "Status", "State")))
			by[j] = t;
	}
	for (j = 0; j < u->nnodes; j++) {
		if (by[j] == NULL)
			continue;
		if (u->total <= MAX_BARS)
			task_bar(d, by[j], u->nodes[j], MAX_JOB_BARS);
		if (strcmp(tstr(by[j], "Status", "State"), "complete") == 0)
			complete++;
	}
	job_overall(u, d, 0, complete, false);
	free(by);
	*converged = complete == u->total;
}

static int updater_init(struct updater *u, json_t *svc, struct shoal_err *err)
{
	json_t *mode = json_object_get(json_object_get(svc, "Spec"), "Mode"), *j;

	memset(u, 0, sizeof(*u));
	if (json_is_integer(json_object_get(json_object_get(mode, "Replicated"), "Replicas"))) {
		u->kind = UP_REPLICATED;
	} else if (json_object_get(mode, "Global") != NULL) {
		u->kind = UP_GLOBAL;
	} else if ((j = json_object_get(mode, "ReplicatedJob")) != NULL) {
		u->kind = UP_RJOB;
		u->concurrent = (long long)json_integer_value(json_object_get(j, "MaxConcurrent"));
		u->total = (long long)json_integer_value(json_object_get(j, "TotalCompletions"));
		u->iteration = job_iteration(svc);
		u->progress_digits = digits(u->total);
		u->active_digits = digits(u->concurrent);
	} else if (json_object_get(mode, "GlobalJob") != NULL) {
		u->kind = UP_GJOB;
		u->iteration = job_iteration(svc);
	} else {
		return shoal_errorf(err, 500, "unrecognized service mode");
	}
	return 0;
}

/* The loop *******************************************************************************/

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int term_width(int fd)
{
	struct winsize ws;

	/* JSONProgress.width(): 200 when the size is unknown */
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0)
		return ws.ws_col;
	return 200;
}

/* GET /nodes as the set of IDs of nodes not down. */
static int active_nodes(struct shoal_cli_client *c, json_t **out, struct shoal_err *err)
{
	json_t *list = NULL, *n;
	size_t i;

	if (shoal_cli_client_call(c, "GET", "/nodes", NULL, &list, err) < 0)
		return -1;
	*out = json_object();
	json_array_foreach(list, i, n) {
		const char *id = tstr(n, "ID", NULL);

		if (strcmp(tstr(n, "Status", "State"), "down") != 0)
			json_object_set_new(*out, id, json_true());
	}
	json_decref(list);
	return 0;
}

static void flush(struct shoal_cli *cli, struct shoal_buf *b, bool quiet)
{
	if (!quiet)
		fwrite(b->data, 1, b->len, cli->out);
	fflush(cli->out);
	shoal_buf_reset(b);
}

int shoal_cli__svc_wait(struct shoal_cli *cli, const char *service, bool quiet,
			struct shoal_err *err)
{
	struct shoal_cli_client *c = shoal_cli_get_client(cli, err);
	struct sigaction sa, old;
	struct shoal_cli_jm d;
	struct updater u;
	struct shoal_buf out;
	bool have_updater = false, converged = false, rollback = false;
	int64_t converged_at = 0, monitor = 5000000000LL;
	char *message = NULL;
	int fd, rv = -1;

	if (c == NULL)
		return -1;
	fd = fileno(cli->out);
	shoal_buf_init(&out);
	shoal_cli__jm_init(&d, &out, isatty(fd), isatty(fd) ? term_width(fd) : 200);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	interrupted = 0;
	sigaction(SIGINT, &sa, &old);
	for (;;) {
		json_t *svc = NULL, *tasks = NULL, *nodes = NULL, *us, *f = NULL;
		const char *state, *msg;
		json_int_t mon;
		char *q = NULL, *path = NULL;
		int step = -1;

		if (shoal_cli__svc_get(c, service, false, &svc, err) < 0)
			goto out;
		mon = json_integer_value(json_object_get(
			json_object_get(json_object_get(svc, "Spec"), "UpdateConfig"), "Monitor"));
		if (mon != 0)
			monitor = mon;
		if (!have_updater) {
			if (updater_init(&u, svc, err) < 0) {
				json_decref(svc);
				goto out;
			}
			have_updater = true;
		}
		us = json_object_get(svc, "UpdateStatus");
		state = tstr(us, "State", NULL);
		msg = tstr(us, "Message", NULL);
		if (strcmp(state, "updating") == 0) {
			rollback = false;
		} else if (strcmp(state, "completed") == 0) {
			if (!converged) {
				json_decref(svc);
				rv = 0;
				goto out;
			}
		} else if (strcmp(state, "paused") == 0) {
			shoal_errorf(err, 500, "service update paused: %s", msg);
			json_decref(svc);
			goto out;
		} else if (strcmp(state, "rollback_started") == 0) {
			if (!rollback && *msg != '\0')
				emit(&d, "rollback", msg, 0, 0);
			rollback = true;
		} else if (strcmp(state, "rollback_paused") == 0) {
			shoal_errorf(err, 500, "service rollback paused: %s", msg);
			json_decref(svc);
			goto out;
		} else if (strcmp(state, "rollback_completed") == 0) {
			if (!converged) {
				free(message);
				message = shoal_strdup(msg);
			}
			rollback = true;
		}
		if (converged && mono_ns() - converged_at >= monitor) {
			struct shoal_cli_progress p = { .id = "rollback", .message = message };
			char *action = shoal_asprintf("Service %s converged", service);

			emit(&d, "verify", action, 0, 0);
			free(action);
			if (message != NULL)
				shoal_cli__jm_write(&d, &p);
			json_decref(svc);
			rv = 0;
			goto out;
		}
		f = json_object();
		shoal_cli__filters_add(f, "service", tstr(svc, "ID", NULL));
		shoal_cli__filters_add(f, "_up-to-date", "true");
		q = shoal_cli__filters_query(f);
		path = shoal_asprintf("/tasks?filters=%s", q);
		if (shoal_cli_client_call(c, "GET", path, NULL, &tasks, err) < 0 ||
		    active_nodes(c, &nodes, err) < 0)
			goto next;
		switch (u.kind) {
		case UP_REPLICATED:
			if (update_replicated(&u, &d, svc, tasks, nodes, rollback, &converged,
					      err) < 0)
				goto next;
			break;
		case UP_GLOBAL:
			update_global(&u, &d, tasks, nodes, rollback, &converged);
			break;
		case UP_RJOB:
			update_rjob(&u, &d, tasks, &converged);
			break;
		case UP_GJOB:
			update_gjob(&u, &d, tasks, nodes, &converged);
			break;
		}
		if (converged && json_object_get(svc, "JobStatus") != NULL) {
			struct shoal_cli_progress p = { .message = "job complete" };

			shoal_cli__jm_write(&d, &p);
			step = 1;
			goto next;
		}
		if (converged) {
			int64_t wait;

			if (converged_at == 0)
				converged_at = mono_ns();
			wait = monitor - (mono_ns() - converged_at);
			if (wait >= 0) {
				char action[96];

				snprintf(action, sizeof(action),
					 "Waiting %lld seconds to verify that tasks are stable...",
					 (long long)(wait / 1000000000LL + 1));
				emit(&d, "verify", action, 0, 0);
			}
		} else {
			if (converged_at != 0)
				emit(&d, "verify", "Detected task failure", 0, 0);
			converged_at = 0;
		}
		step = 0;
next:
		json_decref(svc);
		json_decref(tasks);
		json_decref(nodes);
		json_decref(f);
		free(q);
		free(path);
		flush(cli, &out, quiet);
		if (step != 0) {
			rv = step > 0 ? 0 : -1;
			goto out;
		}
		{
			struct timespec ts = { 0, 200000000 };

			nanosleep(&ts, NULL);
		}
		if (interrupted) {
			if (!converged) {
				struct shoal_cli_progress p = {
					.message = "Operation continuing in background."
				};
				char *m = shoal_asprintf(
					"Use `docker service ps %s` to check progress.", service);

				shoal_cli__jm_write(&d, &p);
				p.message = m;
				shoal_cli__jm_write(&d, &p);
				free(m);
			}
			rv = 0;
			goto out;
		}
	}
out:
	flush(cli, &out, quiet);
	sigaction(SIGINT, &old, NULL);
	if (have_updater)
		updater_fini(&u);
	shoal_cli__jm_fini(&d);
	shoal_buf_fini(&out);
	free(message);
	return rv;
}
