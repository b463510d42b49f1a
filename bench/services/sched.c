/* The scheduler micro-benchmark of bench/services/run.sh: Shoal's reconciliation core
 * (src/manager/orchestrator.h) in-process, on a store holding NODES ready nodes and one
 * replicated service of TASKS replicas, with a propose that applies each change set to the
 * store at once and answers it on the next step, as tests/unit/orch_fixture.h does (no raft,
 * no I/O). Three rows, each ROUNDS times on a fresh store:
 *
 *   orch   shoal_orch_new + shoal_orch_run until every task is assigned, passes one after the
 *          other (the core creates at most 500 tasks per pass, and a task goes new -> pending
 *          in one pass and pending -> assigned in the next), each pass split into its compute
 *          (from shoal_orch_run to its first propose) and its apply (encoding the change set
 *          and shoal_store_apply, inside propose);
 *   pass   the same core on a store whose TASKS tasks are already pending (as the allocator
 *          leaves them): the one pass that assigns them all;
 *   step   the scheduler's step alone (shoal_orch__schedule, orch_internal.h) on those
 *          pending tasks: the scheduling decisions without the rest of the pass.
 *
 * Prints key=value lines (times in ms) for bench/services/measure.py; -v prints every pass.
 * Build: see bench/services/run.sh (cc against build/'s static libraries). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "manager/orch_internal.h"
#include "manager/orchestrator.h"
#include "store/store.h"

#define MAX_PASSES 1000

struct answer {
	shoal_orch_done_cb cb;
	void *ctx;
	bool failed;
	struct shoal_err err;
};

struct pass_stat {
	double compute_ms, apply_ms;
	unsigned changesets;
	unsigned created, pending, assigned; /* tasks that reached the state in this pass */
};

struct bench {
	struct shoal_store *s;
	uint64_t index;
	struct shoal_orch *o;
	int64_t wake_at;

	struct answer *q; /* answers owed, in proposal order */
	size_t nq, cap;

	/* the pass running now */
	double pass_start, first_propose;
	struct pass_stat *cur;

	/* task states, kept by a watch */
	unsigned ntasks, npending, nassigned;
	double all_assigned; /* when the last task got its node, 0 until then */
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int64_t env_now(void *data)
{
	(void)data;
	return shoal_time_now_ns();
}

static void env_wake(void *data, int64_t at)
{
	((struct bench *)data)->wake_at = at;
}

static void apply_or_die(struct bench *b, const struct shoal_store_tx *tx, struct shoal_err *err,
			 bool *failed)
{
	size_t len;
	char *buf = shoal_store_tx_encode(tx, &len);

	*failed = shoal_store_apply(b->s, buf, len, ++b->index, err) < 0;
	free(buf);
}

/* Applies tx at once (raft committing it on the spot); the answer waits for the next step. */
static int env_propose(void *data, const struct shoal_store_tx *tx, shoal_orch_done_cb cb,
		       void *ctx, struct shoal_err *err)
{
	struct bench *b = data;
	struct answer *a;
	double t0 = now_ms();

	(void)err;
	if (b->first_propose == 0)
		b->first_propose = t0;
	if (b->nq == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		b->q = shoal_realloc(b->q, b->cap * sizeof(*b->q));
	}
	a = &b->q[b->nq++];
	memset(a, 0, sizeof(*a));
	a->cb = cb;
	a->ctx = ctx;
	apply_or_die(b, tx, &a->err, &a->failed);
	if (b->cur != NULL) {
		b->cur->apply_ms += now_ms() - t0;
		b->cur->changesets++;
	}
	return 0;
}

static const char *task_state(const json_t *t)
{
	const char *s = json_string_value(json_object_get(json_object_get(t, "Status"), "State"));

	return s != NULL ? s : "";
}

/* Counts tasks reaching pending and assigned (with a node), per pass and in all. */
static void on_task(const struct shoal_store_event *ev, void *data)
{
	struct bench *b = data;
	const char *was = ev->old != NULL ? task_state(ev->old) : "", *is;

	if (ev->new == NULL)
		return;
	is = task_state(ev->new);
	if (ev->kind == SHOAL_STORE_CREATE) {
		b->ntasks++;
		if (b->cur != NULL)
			b->cur->created++;
	}
	if (strcmp(is, was) == 0)
		return;
	if (strcmp(is, "pending") == 0) {
		b->npending++;
		if (b->cur != NULL)
			b->cur->pending++;
	} else if (strcmp(is, "assigned") == 0) {
		b->nassigned++;
		if (b->cur != NULL)
			b->cur->assigned++;
	}
}

static void put(struct bench *b, struct shoal_store_tx *tx)
{
	struct shoal_err err;
	bool failed;

	apply_or_die(b, tx, &err, &failed);
	if (failed) {
		fprintf(stderr, "sched: apply: %s\n", err.msg);
		exit(1);
	}
	shoal_store_tx_free(tx);
}

/* A ready, active worker with 2 CPUs and 2 GiB, as the agents register them. */
static json_t *node_json(unsigned i)
{
	char host[32], addr[32];

	snprintf(host, sizeof(host), "node%04u", i + 1);
	snprintf(addr, sizeof(addr), "10.%u.%u.%u", 100 + i / 65536, i / 256 % 256, i % 256);
	return json_pack("{s:{s:{}, s:s, s:s}, s:{s:s, s:{s:s, s:s}, s:{s:I, s:I},"
			 " s:{s:s, s:{}, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}},"
			 " s:{s:s, s:s}}",
			 "Spec", "Labels", "Role", "worker", "Availability", "active",
			 "Description", "Hostname", host, "Platform", "Architecture", "x86_64",
			 "OS", "linux", "Resources", "NanoCPUs", (json_int_t)2000000000LL,
			 "MemoryBytes", (json_int_t)(2LL << 30), "Engine", "EngineVersion",
			 "20.10.24", "Labels", "Plugins", "Type", "Log", "Name", "json-file",
			 "Type", "Network", "Name", "overlay", "Type", "Volume", "Name", "local",
			 "Status", "State", "ready", "Addr", addr);
}

/* The service as the API layer stores `docker service create --replicas N instavote/vote`. */
static json_t *service_json(unsigned replicas)
{
	return json_pack("{s:{s:s, s:{}, s:{s:{s:s, s:b, s:{}, s:s}, s:{s:{}, s:{}}, s:{}, s:i,"
			 " s:s}, s:{s:{s:I}}, s:{s:s}}}",
			 "Spec", "Name", "vote", "Labels", "TaskTemplate", "ContainerSpec", "Image",
			 "instavote/vote:latest", "Init", 0, "DNSConfig", "Isolation", "default",
			 "Resources", "Limits", "Reservations", "Placement", "ForceUpdate", 0,
			 "Runtime", "container", "Mode", "Replicated", "Replicas",
			 (json_int_t)replicas, "EndpointSpec", "Mode", "vip");
}

/* A task as the orchestrator's allocator step leaves it: pending, no node yet. */
static json_t *pending_json(const char *svc_id, const json_t *svc, unsigned slot)
{
	json_t *spec =
		json_deep_copy(json_object_get(json_object_get(svc, "Spec"), "TaskTemplate"));
	char ts[64];

	json_object_del(spec, "Runtime");
	shoal_time_format_rfc3339nano(shoal_time_now_ns(), ts, sizeof(ts));
	return json_pack("{s:{}, s:o, s:s, s:I, s:{s:s, s:s, s:s, s:{}}, s:s}", "Labels", "Spec",
			 spec, "ServiceID", svc_id, "Slot", (json_int_t)slot, "Status", "Timestamp",
			 ts, "State", "pending", "Message", "pending task scheduling", "PortStatus",
			 "DesiredState", "running");
}

/* A store with nnodes nodes, the cluster object and the service; with pending set, also its
 * replicas as pending tasks. Sets svc_id. */
static void fill(struct bench *b, unsigned nnodes, unsigned ntasks, bool pending, char *svc_id)
{
	struct shoal_store_tx *tx = shoal_store_tx_new();
	struct shoal_store_obj *svc;
	unsigned i;

	shoal_store_tx_create(tx, SHOAL_STORE_CLUSTER,
			      json_pack("{s:{s:s, s:{}, s:{s:i}}}", "Spec", "Name", "default",
					"Labels", "Orchestration", "TaskHistoryRetentionLimit", 5));
	for (i = 0; i < nnodes; i++)
		shoal_store_tx_create(tx, SHOAL_STORE_NODE, node_json(i));
	put(b, tx);
	tx = shoal_store_tx_new();
	snprintf(svc_id, SHOAL_STORE_ID_LEN + 1, "%s",
		 shoal_store_tx_create(tx, SHOAL_STORE_SERVICE, service_json(ntasks)));
	put(b, tx);
	if (!pending)
		return;
	svc = shoal_store_get(b->s, SHOAL_STORE_SERVICE, svc_id);
	tx = shoal_store_tx_new();
	for (i = 0; i < ntasks; i++)
		shoal_store_tx_create(tx, SHOAL_STORE_TASK, pending_json(svc_id, svc->json, i + 1));
	put(b, tx);
}

static void bench_init(struct bench *b)
{
	memset(b, 0, sizeof(*b));
	b->s = shoal_store_new(NULL);
	b->wake_at = SHOAL_ORCH_NEVER;
}

static void bench_fini(struct bench *b)
{
	size_t i;

	shoal_orch_free(b->o);
	for (i = 0; i < b->nq; i++)
		b->q[i].cb(b->q[i].ctx, &b->q[i].err);
	free(b->q);
	shoal_store_free(b->s);
}

/* Runs the core from shoal_orch_new until every one of want tasks is assigned (or it stops
 * asking for wakes). Fills stats (one per pass); returns the number of passes, or -1. Time
 * from the first shoal_orch_run in *total_ms. */
static int drive(struct bench *b, unsigned want, struct pass_stat *stats, double *total_ms,
		 bool verbose)
{
	struct shoal_orch_env env = { env_now, env_wake, env_propose, b };
	struct shoal_store_watch *w;
	double t0 = 0;
	size_t i, n;
	int passes = 0;

	w = shoal_store_watch_add(b->s, SHOAL_STORE_TABLE_BIT(SHOAL_STORE_TASK),
				  SHOAL_STORE_ALL_KINDS, on_task, b);
	b->o = shoal_orch_new(b->s, &env);
	for (;;) {
		if (b->nq > 0) {
			/* the answers, in order; the last one asks for the next wake */
			n = b->nq;
			b->nq = 0;
			for (i = 0; i < n; i++)
				b->q[i].cb(b->q[i].ctx, b->q[i].failed ? &b->q[i].err : NULL);
			continue;
		}
		if (b->nassigned >= want || b->wake_at == SHOAL_ORCH_NEVER)
			break;
		if (passes == MAX_PASSES) {
			fprintf(stderr, "sched: no convergence after %d passes\n", passes);
			break;
		}
		/* a wake in the future (restart delay, retry) would be a failure here */
		if (b->wake_at > shoal_time_now_ns() + 1000000000LL) {
			fprintf(stderr, "sched: the core wants a wake %.1f s from now\n",
				(double)(b->wake_at - shoal_time_now_ns()) / 1e9);
			break;
		}
		b->wake_at = SHOAL_ORCH_NEVER;
		b->cur = &stats[passes];
		memset(b->cur, 0, sizeof(*b->cur));
		b->first_propose = 0;
		b->pass_start = now_ms();
		if (passes == 0)
			t0 = b->pass_start;
		shoal_orch_run(b->o);
		b->cur->compute_ms =
			(b->first_propose ? b->first_propose : now_ms()) - b->pass_start;
		if (b->nassigned >= want && b->all_assigned == 0)
			b->all_assigned = now_ms();
		if (verbose)
			fprintf(stderr,
				"pass %d: compute %.2f ms, apply %.2f ms (%u change sets): created "
				"%u, pending %u, assigned %u\n",
				passes + 1, b->cur->compute_ms, b->cur->apply_ms,
				b->cur->changesets, b->cur->created, b->cur->pending,
				b->cur->assigned);
		b->cur = NULL;
		passes++;
	}
	*total_ms = b->all_assigned ? b->all_assigned - t0 : -1;
	shoal_store_watch_remove(b->s, w);
	return b->nassigned >= want ? passes : -1;
}

/* The scheduler's step alone over the service's pending tasks, as a pass calls it: ms, or -1
 * if it did not assign every one of ntasks. */
static double step_alone(struct bench *b, const char *svc_id, unsigned ntasks)
{
	struct shoal_orch__pass ps = {
		.store = b->s,
		.now = shoal_time_now_ns(),
		.wake = SHOAL_ORCH_NEVER,
		.writes = json_object(),
		.creates = json_array(),
		.deletes = json_object(),
	};
	struct shoal_store_obj *svc = shoal_store_get(b->s, SHOAL_STORE_SERVICE, svc_id);
	struct shoal_store_obj **tasks;
	size_t n;
	double t0, ms;

	tasks = shoal_store_tasks_by_service(b->s, svc_id, &n);
	shoal_orch__nodes_load(&ps);
	t0 = now_ms();
	shoal_orch__schedule(&ps, svc, tasks, n);
	ms = now_ms() - t0;
	if (json_object_size(ps.writes) != ntasks) {
		fprintf(stderr, "sched: the step assigned %zu of %u tasks\n",
			json_object_size(ps.writes), ntasks);
		ms = -1;
	}
	shoal_orch__nodes_free(&ps);
	free(tasks);
	json_decref(ps.writes);
	json_decref(ps.creates);
	json_decref(ps.deletes);
	return ms;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* key_min= key_med= key_max= over n samples */
static void print_stat(const char *key, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	printf("%s_min=%.3f %s_med=%.3f %s_max=%.3f\n", key, v[0], key, v[n / 2], key, v[n - 1]);
}

static void usage(void)
{
	fprintf(stderr, "usage: sched [-n NODES] [-t TASKS] [-r ROUNDS] [-v]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned nnodes = 1000, ntasks = 10000;
	int rounds = 3, c, r, p, np = 0;
	bool verbose = false;
	struct pass_stat *stats = shoal_calloc(MAX_PASSES, sizeof(*stats));
	double *orch_total, *orch_compute, *orch_apply, *pass_compute, *pass_apply, *step;
	double total;
	char svc_id[SHOAL_STORE_ID_LEN + 1];
	struct bench b;

	while ((c = getopt(argc, argv, "n:t:r:v")) != -1) {
		switch (c) {
		case 'n':
			nnodes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			ntasks = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage();
		}
	}
	if (nnodes == 0 || ntasks == 0 || rounds < 1)
		usage();
	shoal_log_set_level(SHOAL_LOG_WARN);
	orch_total = shoal_calloc((size_t)rounds, sizeof(double));
	orch_compute = shoal_calloc((size_t)rounds, sizeof(double));
	orch_apply = shoal_calloc((size_t)rounds, sizeof(double));
	pass_compute = shoal_calloc((size_t)rounds, sizeof(double));
	pass_apply = shoal_calloc((size_t)rounds, sizeof(double));
	step = shoal_calloc((size_t)rounds, sizeof(double));
	printf("nodes=%u tasks=%u rounds=%d\n", nnodes, ntasks, rounds);

	for (r = 0; r < rounds; r++) {
		/* orch: from nothing to every task assigned */
		bench_init(&b);
		fill(&b, nnodes, ntasks, false, svc_id);
		if (verbose)
			fprintf(stderr, "round %d: orch\n", r + 1);
		np = drive(&b, ntasks, stats, &total, verbose);
		if (np < 0) {
			fprintf(stderr, "sched: only %u of %u tasks assigned (%u created)\n",
				b.nassigned, ntasks, b.ntasks);
			return 1;
		}
		orch_total[r] = total;
		for (p = 0; p < np; p++) {
			orch_compute[r] += stats[p].compute_ms;
			orch_apply[r] += stats[p].apply_ms;
		}
		if (r == 0) {
			/* the passes of the first round, for the table */
			for (p = 0; p < np; p++)
				printf("pass=%d compute=%.3f apply=%.3f changesets=%u created=%u "
				       "pending=%u assigned=%u\n",
				       p + 1, stats[p].compute_ms, stats[p].apply_ms,
				       stats[p].changesets, stats[p].created, stats[p].pending,
				       stats[p].assigned);
		}
		bench_fini(&b);

		/* pass: every task already pending */
		bench_init(&b);
		fill(&b, nnodes, ntasks, true, svc_id);
		if (verbose)
			fprintf(stderr, "round %d: pass\n", r + 1);
		p = drive(&b, ntasks, stats, &total, verbose);
		if (p != 1) {
			fprintf(stderr, "sched: pending tasks took %d passes\n", p);
			return 1;
		}
		pass_compute[r] = stats[0].compute_ms;
		pass_apply[r] = stats[0].apply_ms;
		bench_fini(&b);

		/* step: the scheduler alone, on the same pending tasks */
		bench_init(&b);
		fill(&b, nnodes, ntasks, true, svc_id);
		step[r] = step_alone(&b, svc_id, ntasks);
		if (step[r] < 0)
			return 1;
		bench_fini(&b);
	}
	printf("passes=%d\n", np);
	print_stat("orch_total", orch_total, rounds);
	print_stat("orch_compute", orch_compute, rounds);
	print_stat("orch_apply", orch_apply, rounds);
	print_stat("pass_compute", pass_compute, rounds);
	print_stat("pass_apply", pass_apply, rounds);
	print_stat("step", step, rounds);
	free(stats);
	free(orch_total);
	free(orch_compute);
	free(orch_apply);
	free(pass_compute);
	free(pass_apply);
	free(step);
	return 0;
}
