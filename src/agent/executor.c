/* The task executor (agent.h): one record per task it was given, and a reconciler that moves
 * each record along swarmkit's agent algorithm (agent/exec/controller.go, SWARM-SPEC §2):
 * accept, prepare (find the image, create the container), start, watch the exit; stop what
 * should stop, remove what should go. moby's executor (daemon/cluster/executor/container)
 * is the model for the container's name, labels and configuration.
 *
 * Every engine call is made from a pass of the reconciler, never from inside an engine
 * callback: callbacks only note what happened and schedule a pass. The engine is not
 * reentrant there (a removal asked from inside its own exit handling would race the
 * removal it may be doing itself), and the owner gets no report from inside its own call.
 *
 * Networks: the container joins the node's default bridge, with the service's host-mode
 * ports; a task with an ingress address also gets eth1 on the routing mesh (net.h) once
 * its container runs, and leaves the mesh's rotations before it is stopped.
 *
 * Left to others: image pulls, other networks, secrets and configs, the ContainerSpec
 * templates ({{.Node.Hostname}}), and the session that feeds this. */
#include "agent/agent.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mem.h"
#include "registry/registry.h"
#include "engine/engine.h"
#include "net/net.h"

#define SHOAL_LOG_MODULE "agent"

#define TASK_ID_LABEL "com.docker.swarm.task.id"
#define NODE_ID_LABEL "com.docker.swarm.node.id"

/* A task in the routing mesh leaves every node's rotation before its container stops:
 * the managers' next message takes it out everywhere, this node takes it out at once,
 * and the stop waits this long for the other nodes (Docker waits 2 s, its gossip's
 * convergence delay; the managers here tell every node in the same turn). */
#define DRAIN_MS 1000

/* ---- task states ---- */

static const struct {
	enum shoal_task_state state;
	const char *message; /* what the agent says on reaching it; NULL: not the agent's */
} states[] = {
	{ SHOAL_TASK_NEW, NULL },
	{ SHOAL_TASK_PENDING, NULL },
	{ SHOAL_TASK_ASSIGNED, NULL },
	{ SHOAL_TASK_ACCEPTED, "accepted" },
	{ SHOAL_TASK_PREPARING, "preparing" },
	{ SHOAL_TASK_READY, "prepared" },
	{ SHOAL_TASK_STARTING, "starting" },
	{ SHOAL_TASK_RUNNING, "started" },
	{ SHOAL_TASK_COMPLETE, "finished" },
	{ SHOAL_TASK_SHUTDOWN, "shutdown" },
	/* swarmkit keeps the message of the state the error ended: Err says why */
	{ SHOAL_TASK_FAILED, NULL },
	{ SHOAL_TASK_REJECTED, NULL },
	{ SHOAL_TASK_REMOVE, NULL },
	{ SHOAL_TASK_ORPHANED, NULL },
};

/* The state named s, or -1 (NULL, unknown names). */
static int state_parse(const char *s)
{
	enum shoal_task_state st;

	return shoal_task_state_parse(s, &st) == 0 ? (int)st : -1;
}

static const char *state_message(enum shoal_task_state s)
{
	size_t i;

	for (i = 0; i < SHOAL_ARRAY_SIZE(states); i++)
		if (states[i].state == s)
			return states[i].message;
	return NULL;
}

/* ---- a task's container configuration (pure) ---- */

static const json_t *container_spec(const json_t *task)
{
	return json_object_get(json_object_get(task, "Spec"), "ContainerSpec");
}

static const char *str(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	return s != NULL && s[0] != '\0' ? s : NULL;
}

/* The service's name: swarmkit's dispatcher sends it as ServiceAnnotations. */
static const char *service_name(const json_t *task)
{
	const char *name = str(json_object_get(task, "ServiceAnnotations"), "Name");

	return name != NULL ? name : str(task, "ServiceID");
}

static const char *node_of(const json_t *task, const char *node_id)
{
	const char *n = str(task, "NodeID");

	return n != NULL ? n : (node_id != NULL ? node_id : "");
}

char *shoal_agent_container_name(const json_t *task, const char *node_id)
{
	const char *name = str(task, "Name");
	const char *svc = service_name(task);
	json_int_t slot = json_integer_value(json_object_get(task, "Slot"));

	if (name != NULL)
		return shoal_strdup(name);
	if (slot > 0)
		return shoal_asprintf("%s.%lld.%s", svc != NULL ? svc : "", (long long)slot,
				      str(task, "ID") != NULL ? str(task, "ID") : "");
	/* a global service's task has no slot: the node tells its tasks apart */
	return shoal_asprintf("%s.%s.%s", svc != NULL ? svc : "", node_of(task, node_id),
			      str(task, "ID") != NULL ? str(task, "ID") : "");
}

/* Copies src[skey] into dst[dkey] when it is of the type given (strings: non-empty). */
static void copy(json_t *dst, const char *dkey, const json_t *src, const char *skey, json_type type)
{
	json_t *v = json_object_get(src, skey);

	if (v == NULL || json_typeof(v) != type)
		return;
	if (type == JSON_STRING && json_string_length(v) == 0)
		return;
	json_object_set_new(dst, dkey, json_deep_copy(v));
}

static void copy_bool(json_t *dst, const char *dkey, const json_t *src, const char *skey)
{
	json_t *v = json_object_get(src, skey);

	if (json_is_boolean(v))
		json_object_set(dst, dkey, v);
}

static void set_positive(json_t *dst, const char *dkey, const json_t *src, const char *skey)
{
	json_int_t v = json_integer_value(json_object_get(src, skey));

	if (v > 0)
		json_object_set_new(dst, dkey, json_integer(v));
}

/* The spec's labels, the task's over them, the system's over all (moby's labels()). */
static json_t *labels_json(const json_t *task, const char *name, const char *node_id)
{
	json_t *labels = json_object();
	const char *svc = service_name(task);
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)json_object_get(container_spec(task), "Labels"), k, v) {
		if (json_is_string(v))
			json_object_set(labels, k, v);
	}
	json_object_foreach((json_t *)json_object_get(task, "Labels"), k, v) {
		if (json_is_string(v))
			json_object_set(labels, k, v);
	}
	json_object_set_new(labels, "com.docker.swarm.task", json_string(""));
	json_object_set_new(labels, TASK_ID_LABEL, json_string(str(task, "ID")));
	json_object_set_new(labels, "com.docker.swarm.task.name", json_string(name));
	json_object_set_new(labels, NODE_ID_LABEL, json_string(node_of(task, node_id)));
	json_object_set_new(
		labels, "com.docker.swarm.service.id",
		json_string(str(task, "ServiceID") != NULL ? str(task, "ServiceID") : ""));
	json_object_set_new(labels, "com.docker.swarm.service.name",
			    json_string(svc != NULL ? svc : ""));
	return labels;
}

/* Hosts entries are hosts(5) lines, "IP name [aliases...]"; ExtraHosts wants "name:IP",
 * one per name. */
static json_t *extra_hosts_json(const json_t *hosts)
{
	json_t *out = json_array();
	json_t *v;
	size_t i;

	json_array_foreach(hosts, i, v) {
		const char *line = json_string_value(v);
		char *copy_, *ip, *name, *save = NULL;

		if (line == NULL)
			continue;
		copy_ = shoal_strdup(line);
		ip = strtok_r(copy_, " \t", &save);
		while (ip != NULL && (name = strtok_r(NULL, " \t", &save)) != NULL)
			json_array_append_new(out, json_sprintf("%s:%s", name, ip));
		free(copy_);
	}
	return out;
}

static json_t *host_config_json(const json_t *task)
{
	const json_t *cs = container_spec(task);
	const json_t *dns = json_object_get(cs, "DNSConfig");
	const json_t *limits = json_object_get(
		json_object_get(json_object_get(task, "Spec"), "Resources"), "Limits");
	const json_t *log = json_object_get(json_object_get(task, "Spec"), "LogDriver");
	json_t *hc = json_object();

	copy(hc, "Mounts", cs, "Mounts", JSON_ARRAY);
	copy_bool(hc, "ReadonlyRootfs", cs, "ReadOnly");
	copy_bool(hc, "Init", cs, "Init");
	copy(hc, "Sysctls", cs, "Sysctls", JSON_OBJECT);
	copy(hc, "Dns", dns, "Nameservers", JSON_ARRAY);
	copy(hc, "DnsSearch", dns, "Search", JSON_ARRAY);
	copy(hc, "DnsOptions", dns, "Options", JSON_ARRAY);
	if (json_array_size(json_object_get(cs, "Hosts")) > 0)
		json_object_set_new(hc, "ExtraHosts",
				    extra_hosts_json(json_object_get(cs, "Hosts")));
	copy(hc, "CapAdd", cs, "CapabilityAdd", JSON_ARRAY);
	copy(hc, "CapDrop", cs, "CapabilityDrop", JSON_ARRAY);
	copy(hc, "GroupAdd", cs, "Groups", JSON_ARRAY);
	copy(hc, "Ulimits", cs, "Ulimits", JSON_ARRAY);
	copy(hc, "OomScoreAdj", cs, "OomScoreAdj", JSON_INTEGER);
	set_positive(hc, "NanoCpus", limits, "NanoCPUs");
	set_positive(hc, "Memory", limits, "MemoryBytes");
	/* API 1.41 has it in the ContainerSpec, later ones in Resources.Limits */
	set_positive(hc, "PidsLimit", cs, "PidsLimit");
	set_positive(hc, "PidsLimit", limits, "Pids");
	if (str(log, "Name") != NULL) {
		json_t *opts = json_object_get(log, "Options");

		json_object_set_new(hc, "LogConfig",
				    json_pack("{s:s, s:O}", "Type", str(log, "Name"), "Config",
					      json_is_object(opts) ? opts : json_object()));
	}
	/* no RestartPolicy: swarm restarts a task by making a new one */
	return hc;
}

/* Host-mode published ports (the service's Endpoint, which the dispatcher sends along) as
 * the engine's port bindings: bound on this node only. PublishedPort 0: the engine picks
 * one. Ingress ports are the routing mesh's, not the container's. */
static void host_ports(json_t *body, json_t *hc, const json_t *task)
{
	const json_t *ports = json_object_get(json_object_get(task, "Endpoint"), "Ports"), *p;
	json_t *bindings = json_object(), *exposed = json_object();
	const char *proto, *mode;
	char key[32], hp[16];
	json_int_t published;
	size_t i;

	json_array_foreach(ports, i, p) {
		mode = str(p, "PublishMode");
		proto = str(p, "Protocol");
		if (mode == NULL || strcmp(mode, "host") != 0)
			continue;
		snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT "/%s",
			 json_integer_value(json_object_get(p, "TargetPort")),
			 proto != NULL ? proto : "tcp");
		published = json_integer_value(json_object_get(p, "PublishedPort"));
		hp[0] = '\0';
		if (published > 0)
			snprintf(hp, sizeof(hp), "%" JSON_INTEGER_FORMAT, published);
		if (json_object_get(bindings, key) == NULL)
			json_object_set_new(bindings, key, json_array());
		json_array_append_new(json_object_get(bindings, key),
				      json_pack("{s:s, s:s}", "HostIp", "", "HostPort", hp));
		json_object_set_new(exposed, key, json_object());
	}
	if (json_object_size(bindings) > 0) {
		json_object_set(hc, "PortBindings", bindings);
		json_object_set(body, "ExposedPorts", exposed);
	}
	json_decref(bindings);
	json_decref(exposed);
}

/* The task's address on the ingress network ("10.0.0.5/24"), NULL without one. */
static const char *ingress_addr(const json_t *task)
{
	const json_t *a;
	size_t i;

	json_array_foreach(json_object_get(task, "NetworksAttachments"), i, a) {
		const json_t *net = json_object_get(a, "Network");

		if (json_is_true(json_object_get(json_object_get(net, "Spec"), "Ingress")))
			return json_string_value(
				json_array_get(json_object_get(a, "Addresses"), 0));
	}
	return NULL;
}

json_t *shoal_agent_container_body(const json_t *task, const char *node_id, struct shoal_err *err)
{
	const json_t *cs = container_spec(task);
	json_t *body, *cmd = json_object_get(cs, "Command"), *args = json_object_get(cs, "Args");
	json_t *grace = json_object_get(cs, "StopGracePeriod");
	char *name;

	if (!json_is_object(cs)) {
		shoal_errorf(err, 400, "dockerexec: runtime type unsupported: no ContainerSpec");
		return NULL;
	}
	if (str(cs, "Image") == NULL) {
		shoal_errorf(err, 400, "dockerexec: image reference not supported");
		return NULL;
	}
	name = shoal_agent_container_name(task, node_id);
	body = json_object();
	json_object_set_new(body, "Image", json_string(str(cs, "Image")));
	json_object_set_new(body, "Labels", labels_json(task, name, node_id));
	/* Command replaces the image's whole invocation, Args then being its arguments;
	 * Args alone are arguments to the image's entrypoint */
	if (json_array_size(cmd) > 0) {
		json_object_set_new(body, "Entrypoint", json_deep_copy(cmd));
		if (json_array_size(args) > 0)
			json_object_set_new(body, "Cmd", json_deep_copy(args));
	} else if (json_array_size(args) > 0) {
		json_object_set_new(body, "Cmd", json_deep_copy(args));
	}
	copy(body, "Env", cs, "Env", JSON_ARRAY);
	copy(body, "WorkingDir", cs, "Dir", JSON_STRING);
	copy(body, "User", cs, "User", JSON_STRING);
	copy(body, "Hostname", cs, "Hostname", JSON_STRING);
	copy(body, "StopSignal", cs, "StopSignal", JSON_STRING);
	copy(body, "Healthcheck", cs, "Healthcheck", JSON_OBJECT);
	copy_bool(body, "Tty", cs, "TTY");
	copy_bool(body, "OpenStdin", cs, "OpenStdin");
	if (json_is_integer(grace) && json_integer_value(grace) >= 0)
		json_object_set_new(body, "StopTimeout",
				    json_integer(json_integer_value(grace) / 1000000000));
	json_object_set_new(body, "HostConfig", host_config_json(task));
	host_ports(body, json_object_get(body, "HostConfig"), task);
	free(name);
	return body;
}

json_t *shoal_agent_status_json(enum shoal_task_state state, const char *message, const char *err,
				const char *container_id, int pid, int exit_code, int64_t now_ns)
{
	char ts[64];
	json_t *st;

	shoal_time_format_go(now_ns, ts, sizeof(ts));
	st = json_pack("{s:s, s:s, s:s}", "Timestamp", ts, "State", shoal_task_state_name(state),
		       "Message", message != NULL ? message : "");
	if (err != NULL)
		json_object_set_new(st, "Err", json_string(err));
	if (container_id != NULL && container_id[0] != '\0')
		json_object_set_new(st, "ContainerStatus",
				    json_pack("{s:s, s:i, s:i}", "ContainerID", container_id, "PID",
					      pid, "ExitCode", exit_code));
	json_object_set_new(st, "PortStatus", json_object());
	return st;
}

/* ---- the executor ---- */

struct task;

/* An engine call in flight for a task. The task may be forgotten before the engine
 * answers (close): then t is NULL and the answer is dropped. */
struct op {
	struct task *t;
};

struct task {
	struct shoal_list link;
	struct shoal_agent_exec *x;
	char *id;
	json_t *obj;  /* the task as last assigned (a reference); NULL for an orphan */
	char *name;   /* its container's name */
	char cid[65]; /* its container's ID, "" until it has one */
	enum shoal_task_state observed; /* as last reported, or as the task said */
	const char *message;		/* Message of the last report (static) */
	int exit_code;			/* the container's, once it exited */
	bool exited;			/* a waiter saw it stop */
	char *start_err;		/* why the start failed */
	int start_pid;			/* its process, once the start succeeded */
	bool held;			/* the start left it to a health check */
	struct op *op;			/* the engine call in flight */
	struct shoal_container_waiter *waiter;
	bool ingress_done;   /* eth1 made (or given up on) for its running container */
	int64_t drain_until; /* out of the rotation, stopped from then on; 0: not yet */
	bool in_set;	     /* in the last assignment set */
	bool looked;	     /* searched for a container a previous shoald made */
	bool dirty;	     /* the next pass looks at it */
	bool unhealthy;	     /* stopped for failing its health check */
	/* registry pulls (shoal_agent_exec_set_registry) */
	struct shoal_registry_op *pull; /* in flight, with op */
	bool pull_tried;		/* once per task: then a missing image rejects it */
	bool forget;			/* done with: freed at the end of the pass */
};

struct shoal_agent_exec {
	uv_loop_t *loop;
	struct shoal_engine *e;
	char *node_id;
	shoal_agent_report_cb report;
	void *ctx;
	struct shoal_list tasks;
	uv_timer_t pass;  /* a pass of the reconciler, due on the next loop turn */
	uv_timer_t drain; /* the next end of a task's drain (DRAIN_MS) */
	int closing;	  /* handles left to close */
	bool assigned;	  /* a set came: containers of unknown tasks were dealt with */
	shoal_agent_close_cb close_cb;
	void *close_ctx;
	struct shoal_registry *registry; /* pulls missing images; NULL: none */
};

static void pass_run(uv_timer_t *h);

static void kick(struct shoal_agent_exec *x)
{
	if (!uv_is_active((uv_handle_t *)&x->pass))
		uv_timer_start(&x->pass, pass_run, 0, 0);
}

static void mark(struct task *t)
{
	t->dirty = true;
	kick(t->x);
}

static struct op *op_new(struct task *t)
{
	struct op *op = shoal_calloc(1, sizeof(*op));

	assert(t->op == NULL);
	op->t = t;
	t->op = op;
	return op;
}

/* The engine answered (or the call failed at once): frees op and gives its task, NULL when
 * the task was forgotten meanwhile. */
static struct task *op_end(struct op *op)
{
	struct task *t = op->t;

	free(op);
	if (t != NULL)
		t->op = NULL;
	return t;
}

static struct task *task_new(struct shoal_agent_exec *x, const char *id, const json_t *obj)
{
	struct task *t = shoal_calloc(1, sizeof(*t));
	int st = state_parse(str(json_object_get(obj, "Status"), "State"));

	t->x = x;
	t->id = shoal_strdup(id);
	t->obj = json_incref((json_t *)obj);
	t->name = obj != NULL ? shoal_agent_container_name(obj, x->node_id) : shoal_strdup(id);
	/* the manager's last word is where this executor starts from (a restarted shoald) */
	t->observed = st >= 0 ? (enum shoal_task_state)st : SHOAL_TASK_NEW;
	t->message = state_message(t->observed);
	if (t->message == NULL)
		t->message = "";
	shoal_list_add_tail(&x->tasks, &t->link);
	return t;
}

static void task_free(struct task *t)
{
	shoal_list_del(&t->link);
	if (t->pull != NULL) {
		/* a cancelled pull calls nobody back: its op goes here */
		shoal_registry_op_cancel(t->pull);
		free(t->op);
		t->op = NULL;
		t->pull = NULL;
	}
	if (t->op != NULL)
		t->op->t = NULL;
	if (t->waiter != NULL)
		shoal_engine_container_wait_cancel(t->waiter);
	json_decref(t->obj);
	free(t->id);
	free(t->name);
	free(t->start_err);
	free(t);
}

static struct task *task_find(struct shoal_agent_exec *x, const char *id)
{
	struct shoal_list *pos;

	shoal_list_foreach(pos, &x->tasks) {
		struct task *t = shoal_list_entry(pos, struct task, link);

		if (strcmp(t->id, id) == 0)
			return t;
	}
	return NULL;
}

static enum shoal_task_state desired_state(const struct task *t)
{
	int d;

	if (!t->in_set)
		return SHOAL_TASK_REMOVE;
	d = state_parse(str(t->obj, "DesiredState"));
	return d >= 0 ? (enum shoal_task_state)d : SHOAL_TASK_RUNNING;
}

/* The host ports its container got (moby's PortStatus: what the node bound). */
static void port_status(struct task *t, json_t *status)
{
	const struct shoal_net_endpoint *ep = t->x->e->net != NULL && t->cid[0] != '\0' ?
						      shoal_net_endpoint_get(t->x->e->net, t->cid) :
						      NULL;
	json_t *ports;
	size_t i;

	if (ep == NULL || ep->nports == 0)
		return;
	ports = json_array();
	for (i = 0; i < ep->nports; i++)
		json_array_append_new(
			ports, json_pack("{s:s, s:i, s:i, s:s}", "Protocol", ep->ports[i].proto,
					 "TargetPort", ep->ports[i].container_port, "PublishedPort",
					 ep->ports[i].host_port, "PublishMode", "host"));
	json_object_set_new(status, "PortStatus", json_pack("{s:o}", "Ports", ports));
}

static void say(struct task *t, enum shoal_task_state state, const char *err, int pid)
{
	struct shoal_agent_exec *x = t->x;
	const char *msg = state_message(state);
	json_t *status;

	/* a task's observed state never goes back (the dispatcher drops such reports) */
	assert(state >= t->observed);
	if (msg == NULL)
		msg = t->message;
	status = shoal_agent_status_json(state, msg, err, t->cid, pid,
					 state >= SHOAL_TASK_COMPLETE ? t->exit_code : 0,
					 shoal_time_now_ns());
	port_status(t, status);
	t->observed = state;
	t->message = msg;
	shoal_log_info("task state", "task=%s state=%s container=%.12s%s%s", t->id,
		       shoal_task_state_name(state), t->cid, err != NULL ? " error=" : "",
		       err != NULL ? shoal_log_q(err) : "");
	x->report(x->ctx, t->id, status);
}

/* Its container, NULL when it has none (or a user removed it). */
static struct shoal_container *task_container(struct task *t)
{
	struct shoal_err err;
	struct shoal_container *c;

	if (t->cid[0] == '\0')
		return NULL;
	c = shoal_engine_container_find(t->x->e, t->cid, &err);
	return c != NULL && strcmp(c->id, t->cid) == 0 ? c : NULL;
}

static bool is_running(const struct shoal_container *c)
{
	return c->state == SHOAL_CONTAINER_RUNNING || c->state == SHOAL_CONTAINER_PAUSED ||
	       c->state == SHOAL_CONTAINER_RESTARTING || c->starting || c->stopping;
}

/* Its health check's verdict: NULL when it has none running. */
static const char *health(const struct shoal_container *c)
{
	if (c->health == NULL)
		return NULL;
	return json_string_value(json_object_get(c->health_state, "Status"));
}

static const char *label(const struct shoal_container *c, const char *key)
{
	return json_string_value(json_object_get(json_object_get(c->config, "Labels"), key));
}

struct shoal_container *shoal_agent_container_of_task(struct shoal_engine *e, const char *id)
{
	struct shoal_list *pos;

	shoal_list_foreach(pos, &e->containers) {
		struct shoal_container *c = shoal_list_entry(pos, struct shoal_container, link);
		const char *l = label(c, TASK_ID_LABEL);

		if (l != NULL && strcmp(l, id) == 0 && !c->removing)
			return c;
	}
	return NULL;
}

/* ---- engine callbacks: note, then let a pass act ---- */

static void waited(void *ctx, int exit_code, const char *error)
{
	struct task *t = ctx;

	(void)error;
	t->waiter = NULL;
	t->exited = true;
	t->exit_code = exit_code;
	mark(t);
}

static void started(void *ctx, struct shoal_container *c, const struct shoal_err *err)
{
	struct task *t = op_end(ctx);

	if (t == NULL)
		return;
	if (err != NULL) {
		t->start_err = shoal_strdup(err->msg);
	} else {
		t->start_pid = c->pid;
		t->held = c->health != NULL;
	}
	mark(t);
}

static void op_done(void *ctx, struct shoal_container *c, const struct shoal_err *err)
{
	struct task *t = op_end(ctx);

	(void)c;
	if (t == NULL)
		return;
	if (err != NULL)
		shoal_log_warn("container operation failed", "task=%s container=%.12s error=%s",
			       t->id, t->cid, shoal_log_q(err->msg));
	mark(t);
}

/* ---- moves; each returns true when the task can move on at once ---- */

static void watch(struct task *t, struct shoal_container *c)
{
	struct shoal_err err;

	if (t->waiter != NULL)
		return;
	t->exited = false;
	if (shoal_engine_container_wait(c, "not-running", waited, t, &t->waiter, &err) < 0)
		shoal_log_warn("cannot watch container", "task=%s error=%s", t->id,
			       shoal_log_q(err.msg));
}

/* Stops its container with the service's grace period and signal (swarmkit's Shutdown). */
static bool stop(struct task *t, struct shoal_container *c)
{
	json_t *grace = json_object_get(container_spec(t->obj), "StopGracePeriod");
	int timeout = json_is_integer(grace) ? (int)(json_integer_value(grace) / 1000000000) : -1;
	struct shoal_err err;
	struct op *op = op_new(t);

	if (shoal_engine_container_stop(c, timeout, NULL, op_done, op, &err) == 0)
		return false;
	if (err.status != 304) {
		/* a stop signal the runtime refuses must not keep the task alive */
		shoal_log_warn("stop failed; killing", "task=%s error=%s", t->id,
			       shoal_log_q(err.msg));
		if (shoal_engine_container_stop(c, 0, NULL, op_done, op, &err) == 0)
			return false;
	}
	op_end(op);
	return err.status == 304;
}

static bool remove_container(struct task *t, struct shoal_container *c)
{
	struct shoal_err err;
	struct op *op = op_new(t);

	/* moby removes a task's anonymous volumes with it */
	if (shoal_engine_container_remove(c, true, true, op_done, op, &err) == 0)
		return false;
	op_end(op);
	shoal_log_warn("cannot remove container", "task=%s container=%.12s error=%s", t->id, c->id,
		       shoal_log_q(err.msg));
	if (!t->in_set)
		t->forget = true;
	return false;
}

/* Its container stopped on its own (or was stopped for its health): complete or failed. */
static bool exited(struct task *t, int exit_code)
{
	char msg[128];

	t->exit_code = exit_code;
	if (t->unhealthy) {
		snprintf(msg, sizeof(msg),
			 "task: non-zero exit (%d): dockerexec: unhealthy container", exit_code);
		say(t, SHOAL_TASK_FAILED, msg, 0);
	} else if (exit_code == 0) {
		say(t, SHOAL_TASK_COMPLETE, NULL, 0);
	} else {
		snprintf(msg, sizeof(msg), "task: non-zero exit (%d)", exit_code);
		say(t, SHOAL_TASK_FAILED, msg, 0);
	}
	return false;
}

/* A started task whose container is gone: its exit if a waiter saw it, else moby's error
 * for a container that cannot be found. */
static bool lost(struct task *t)
{
	char msg[512];

	if (t->exited)
		return exited(t, t->exit_code);
	snprintf(msg, sizeof(msg), "No such container: %s", t->name);
	say(t, SHOAL_TASK_FAILED, msg, 0);
	return false;
}

static void drain_fire(uv_timer_t *h);

/* Asks for a pass in ms unless one is due sooner. */
static void drain_arm(struct shoal_agent_exec *x, uint64_t ms)
{
	if (uv_is_active((uv_handle_t *)&x->drain) && uv_timer_get_due_in(&x->drain) <= ms)
		return;
	uv_timer_start(&x->drain, drain_fire, ms, 0);
}

static void drain_fire(uv_timer_t *h)
{
	struct shoal_agent_exec *x = h->data;
	struct shoal_list *pos;

	shoal_list_foreach(pos, &x->tasks) {
		struct task *t = shoal_list_entry(pos, struct task, link);

		if (t->drain_until != 0)
			mark(t);
	}
}

/* Whether a running task may be stopped now: one in the routing mesh first leaves the
 * rotations, on this node at once, then the stop waits DRAIN_MS for the others. */
static bool drained(struct task *t)
{
	struct shoal_net *net = t->x->e->net;
	int64_t now = shoal_time_now_ns(), left;

	if (net == NULL || !t->ingress_done || ingress_addr(t->obj) == NULL ||
	    t->observed != SHOAL_TASK_RUNNING)
		return true;
	if (t->drain_until == 0) {
		shoal_net_ingress_quiesce(net, t->id);
		t->drain_until = now + (int64_t)DRAIN_MS * 1000000;
	}
	left = t->drain_until - now;
	if (left <= 0)
		return true;
	drain_arm(t->x, (uint64_t)(left + 999999) / 1000000);
	return false;
}

/* Desired shutdown or remove, or no longer assigned: stop, say so, remove if it goes. */
static bool wind_down(struct task *t, struct shoal_container *c, enum shoal_task_state desired)
{
	if (c != NULL && is_running(c)) {
		if (c->removing) {
			watch(t, c); /* someone else removes it: its exit wakes us */
			return false;
		}
		if (!drained(t))
			return false;
		return stop(t, c);
	}
	if (t->in_set && t->observed < SHOAL_TASK_COMPLETE) {
		if (c != NULL)
			t->exit_code = c->exit_code;
		say(t, SHOAL_TASK_SHUTDOWN, NULL, 0);
	}
	if (desired == SHOAL_TASK_REMOVE && c != NULL && !c->removing)
		return remove_container(t, c);
	if (!t->in_set)
		t->forget = true;
	return false;
}

/* The pull prepare() started is over; a failure is only logged, as moby's controller does:
 * the next prepare() finds the image or rejects the task with "No such image". */
static void pulled(void *ctx, const struct shoal_err *err)
{
	struct task *t = op_end(ctx);

	if (t == NULL)
		return;
	t->pull = NULL;
	if (err != NULL)
		shoal_log_error("pulling image failed", "task=%s error=%s", t->id,
				shoal_log_q(err->msg));
	mark(t);
}

/* A missing image is pulled once (with a registry): true while the pull runs. */
static bool pull_start(struct task *t, const char *image)
{
	struct shoal_err err;
	struct op *op;

	if (t->x->registry == NULL || t->pull_tried)
		return false;
	t->pull_tried = true;
	op = op_new(t);
	t->pull = shoal_registry_pull(t->x->registry, image, NULL, NULL, NULL, pulled, op, &err);
	if (t->pull == NULL) {
		op_end(op);
		shoal_log_error("pulling image failed", "task=%s error=%s", t->id,
				shoal_log_q(err.msg));
		return false;
	}
	return true;
}

/* PREPARING -> READY: the image must be here (pulled if missing, with a registry), then
 * the container is made. Errors before STARTING reject the task. */
static bool prepare(struct task *t)
{
	struct shoal_agent_exec *x = t->x;
	const char *image = str(container_spec(t->obj), "Image");
	struct shoal_container *c;
	struct shoal_err err;
	json_t *body = NULL;

	if (image != NULL && shoal_engine_image_find(x->e, image, &err) == NULL &&
	    pull_start(t, image))
		return false;
	if (image == NULL || shoal_engine_image_find(x->e, image, &err) == NULL) {
		if (image == NULL)
			shoal_errorf(&err, 400, "dockerexec: image reference not supported");
		say(t, SHOAL_TASK_REJECTED, err.msg, 0);
		return false;
	}
	body = shoal_agent_container_body(t->obj, x->node_id, &err);
	c = body != NULL ? shoal_engine_container_create(x->e, t->name, body, NULL, &err) : NULL;
	json_decref(body);
	if (c == NULL) {
		say(t, SHOAL_TASK_REJECTED, err.msg, 0);
		return false;
	}
	memcpy(t->cid, c->id, sizeof(t->cid));
	t->exited = false;
	if (t->observed < SHOAL_TASK_READY)
		say(t, SHOAL_TASK_READY, NULL, 0);
	return true;
}

/* READY -> STARTING, and the start; its answer comes to started(). */
static bool start(struct task *t, struct shoal_container *c)
{
	struct shoal_err err;
	struct op *op;

	say(t, SHOAL_TASK_STARTING, NULL, 0);
	op = op_new(t);
	if (shoal_engine_container_start(c, started, op, &err) == 0)
		return false;
	op_end(op);
	if (err.status != 304) /* 304: running already */
		t->start_err = shoal_strdup(err.msg);
	return true;
}

static void ingress_attached(void *ctx, const struct shoal_err *err)
{
	struct task *t = op_end(ctx);

	if (t == NULL)
		return;
	t->ingress_done = true;
	if (err != NULL && t->observed == SHOAL_TASK_STARTING)
		t->start_err = shoal_strdup(err->msg);
	else if (err != NULL)
		shoal_log_error("task off the routing mesh", "task=%s error=%s", t->id,
				shoal_log_q(err->msg));
	mark(t);
}

/* The task's container on the ingress network (eth1), once it runs and before it is
 * reported running, which puts it in the rotations; again for a container taken over
 * after a restart, whose eth1 went with the old sandbox. */
static bool ingress_attach(struct task *t, struct shoal_container *c)
{
	struct shoal_err err;
	struct op *op = op_new(t);

	if (shoal_net_ingress_attach(t->x->e->net, c->id, c->netns, ingress_addr(t->obj),
				     ingress_attached, op, &err) == 0)
		return false;
	op_end(op);
	t->ingress_done = true;
	if (t->observed == SHOAL_TASK_STARTING) {
		t->start_err = shoal_strdup(err.msg);
		return true;
	}
	shoal_log_error("task off the routing mesh", "task=%s error=%s", t->id,
			shoal_log_q(err.msg));
	return false;
}

/* STARTING and RUNNING: watch the container; a health check holds the task in STARTING
 * until it passes, and a failing one stops the container (moby's controller). */
static bool watch_run(struct task *t, struct shoal_container *c)
{
	const char *h;
	char msg[600];

	if (t->start_err != NULL) {
		if (c != NULL)
			t->exit_code = c->exit_code;
		snprintf(msg, sizeof(msg), "starting container failed: %s", t->start_err);
		say(t, SHOAL_TASK_FAILED, msg, 0);
		return false;
	}
	/* swarmkit says running once the start succeeded, even of a container that has
	 * exited by the time we look */
	if (t->observed == SHOAL_TASK_STARTING && t->start_pid > 0 && !t->held &&
	    (c == NULL || !is_running(c)))
		say(t, SHOAL_TASK_RUNNING, NULL, t->start_pid);
	if (c == NULL)
		return lost(t);
	if (!is_running(c))
		return exited(t, c->exit_code);
	if (!t->ingress_done && t->x->e->net != NULL && ingress_addr(t->obj) != NULL)
		return ingress_attach(t, c);
	h = health(c);
	if (h != NULL && strcmp(h, "unhealthy") == 0 && !t->unhealthy) {
		t->unhealthy = true;
		return stop(t, c);
	}
	watch(t, c);
	if (t->observed == SHOAL_TASK_STARTING && (h == NULL || strcmp(h, "healthy") == 0)) {
		say(t, SHOAL_TASK_RUNNING, NULL, c->pid);
		return true;
	}
	return false;
}

/* A task seen for the first time may have a container already: a previous shoald made it
 * and it outlived that shoald under its shim. Takes it over and reports what it is now. */
static bool adopt(struct task *t, enum shoal_task_state desired)
{
	struct shoal_container *c = shoal_agent_container_of_task(t->x->e, t->id);

	if (c == NULL)
		return false;
	memcpy(t->cid, c->id, sizeof(t->cid));
	shoal_log_info("adopting container", "task=%s container=%.12s state=%s", t->id, c->id,
		       shoal_container_state_name(c->state));
	/* what is over stays over; what should stop, wind_down stops */
	if (t->observed >= SHOAL_TASK_COMPLETE || desired >= SHOAL_TASK_SHUTDOWN)
		return true;
	if (is_running(c)) {
		const char *h = health(c);

		if (h != NULL && strcmp(h, "healthy") != 0) {
			if (t->observed < SHOAL_TASK_STARTING)
				say(t, SHOAL_TASK_STARTING, NULL, 0);
		} else {
			say(t, SHOAL_TASK_RUNNING, NULL, c->pid);
		}
		return true;
	}
	if (c->has_been_started)
		return exited(t, c->exit_code);
	if (t->observed < SHOAL_TASK_READY)
		say(t, SHOAL_TASK_READY, NULL, 0);
	return true;
}

/* One move of a task along swarmkit's controller (SWARM-SPEC §2). */
static bool advance(struct task *t)
{
	enum shoal_task_state desired = desired_state(t);
	struct shoal_container *c;

	if (t->op != NULL || t->forget)
		return false;
	if (!t->looked) {
		t->looked = true;
		if (adopt(t, desired))
			return true;
	}
	c = task_container(t);
	if (desired >= SHOAL_TASK_SHUTDOWN)
		return wind_down(t, c, desired);
	if (t->observed >= SHOAL_TASK_COMPLETE)
		return false;
	if (t->observed < SHOAL_TASK_ACCEPTED) {
		say(t, SHOAL_TASK_ACCEPTED, NULL, 0);
		return true;
	}
	switch (t->observed) {
	case SHOAL_TASK_ACCEPTED:
		if (desired <= SHOAL_TASK_ACCEPTED)
			return false;
		say(t, SHOAL_TASK_PREPARING, NULL, 0);
		return true;
	case SHOAL_TASK_PREPARING:
		return prepare(t);
	case SHOAL_TASK_READY:
		/* a container lost before its start is made again */
		if (c == NULL)
			return prepare(t);
		if (desired <= SHOAL_TASK_READY)
			return false;
		return start(t, c);
	case SHOAL_TASK_STARTING:
	case SHOAL_TASK_RUNNING:
		return watch_run(t, c);
	default:
		return false;
	}
}

static void pass_run(uv_timer_t *h)
{
	struct shoal_agent_exec *x = h->data;
	struct shoal_list *pos, *tmp;

	shoal_list_foreach_safe(pos, tmp, &x->tasks) {
		struct task *t = shoal_list_entry(pos, struct task, link);

		if (!t->dirty)
			continue;
		t->dirty = false;
		while (advance(t))
			;
		if (t->forget)
			task_free(t);
	}
}

/* Containers of tasks that are not in the first set a (re)started executor gets: the
 * manager deleted their tasks while no executor watched. They go. */
static void orphans_remove(struct shoal_agent_exec *x)
{
	struct shoal_list *pos;

	shoal_list_foreach(pos, &x->e->containers) {
		struct shoal_container *c = shoal_list_entry(pos, struct shoal_container, link);
		const char *id = label(c, TASK_ID_LABEL);
		const char *node = label(c, NODE_ID_LABEL);
		struct task *t;

		if (id == NULL || task_find(x, id) != NULL || c->removing)
			continue;
		if (x->node_id[0] != '\0' && (node == NULL || strcmp(node, x->node_id) != 0))
			continue;
		shoal_log_info("removing the container of a task no longer assigned",
			       "task=%s container=%.12s", id, c->id);
		t = task_new(x, id, NULL);
		memcpy(t->cid, c->id, sizeof(t->cid));
		t->looked = true;
		t->observed = SHOAL_TASK_COMPLETE;
		mark(t);
	}
}

void shoal_agent_exec_assign(struct shoal_agent_exec *x, const json_t *tasks)
{
	struct shoal_list *pos;
	json_t *obj;
	size_t i;

	shoal_list_foreach(pos, &x->tasks) {
		struct task *t = shoal_list_entry(pos, struct task, link);

		t->in_set = false;
		t->dirty = true;
	}
	json_array_foreach(tasks, i, obj) {
		const char *id = str(obj, "ID");
		const char *node = str(obj, "NodeID");
		struct task *t;

		if (id == NULL) {
			shoal_log_warn("ignoring an assigned task without ID", "%s", "");
			continue;
		}
		if (x->node_id[0] != '\0' && node != NULL && strcmp(node, x->node_id) != 0) {
			shoal_log_warn("ignoring a task of another node", "task=%s node=%s", id,
				       shoal_log_q(node));
			continue;
		}
		t = task_find(x, id);
		if (t == NULL) {
			t = task_new(x, id, obj);
		} else if (t->obj != obj) {
			json_decref(t->obj);
			t->obj = json_incref(obj);
		}
		t->in_set = true;
		t->dirty = true;
	}
	if (!x->assigned) {
		x->assigned = true;
		orphans_remove(x);
	}
	kick(x);
}

void shoal_agent_exec_container_event(struct shoal_agent_exec *x, const char *action,
				      const char *container_id)
{
	struct shoal_list *pos;

	if (strncmp(action, "health_status", 13) != 0)
		return;
	shoal_list_foreach(pos, &x->tasks) {
		struct task *t = shoal_list_entry(pos, struct task, link);

		if (strcmp(t->cid, container_id) == 0)
			mark(t);
	}
}

struct shoal_agent_exec *shoal_agent_exec_new(uv_loop_t *loop, struct shoal_engine *e,
					      const char *node_id, shoal_agent_report_cb report,
					      void *ctx)
{
	struct shoal_agent_exec *x = shoal_calloc(1, sizeof(*x));

	x->loop = loop;
	x->e = e;
	x->node_id = shoal_strdup(node_id != NULL ? node_id : "");
	x->report = report;
	x->ctx = ctx;
	shoal_list_init(&x->tasks);
	uv_timer_init(loop, &x->pass);
	x->pass.data = x;
	uv_timer_init(loop, &x->drain);
	x->drain.data = x;
	return x;
}

static void exec_closed(uv_handle_t *h)
{
	struct shoal_agent_exec *x = h->data;

	if (--x->closing > 0)
		return;
	if (x->close_cb != NULL)
		x->close_cb(x->close_ctx);
	free(x->node_id);
	free(x);
}

void shoal_agent_exec_set_registry(struct shoal_agent_exec *x, struct shoal_registry *r)
{
	x->registry = r;
}

void shoal_agent_exec_close(struct shoal_agent_exec *x, shoal_agent_close_cb cb, void *ctx)
{
	x->close_cb = cb;
	x->close_ctx = ctx;
	while (!shoal_list_empty(&x->tasks))
		task_free(shoal_list_entry(x->tasks.next, struct task, link));
	x->closing = 2;
	uv_close((uv_handle_t *)&x->pass, exec_closed);
	uv_close((uv_handle_t *)&x->drain, exec_closed);
}
