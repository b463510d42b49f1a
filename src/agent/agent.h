/* The agent's task executor: turns the tasks the managers assign to this node into
 * containers of the node's engine, and tells its owner each change of a task's observed
 * state, as swarmkit's agent does (SWARM-SPEC §2).
 *
 * Who owns what. The owner (the agent session, which talks to the dispatcher) owns the
 * executor: it hands over the full assignment set each time it changes and forwards the
 * status reports to the manager. The executor owns, per task it knows, the task object it
 * was last given (a reference), the state it last reported and the engine operation in
 * flight. The containers stay the engine's: the executor keeps only their IDs and finds
 * them again on every use, since a user may remove one at any time. Nothing is kept on
 * disk: after a shoald restart the containers that kept running are found again by their
 * com.docker.swarm.task.id label when the tasks are assigned again.
 *
 * The executor never restarts a container (swarm restarts by making new tasks) and pulls
 * an image the engine lacks once per task in its preparing state (given a registry; a pull
 * that fails is logged and the task rejected with "No such image", as dockerd does). Task
 * containers join the node's default bridge with the service's host-mode ports; one with
 * an ingress address (NetworksAttachments) also joins the routing mesh once it runs, and
 * leaves its rotations a moment before it is stopped.
 *
 * Loop thread only. Nothing is reported from inside a call: reports come from the loop,
 * later. The executor must be closed before the engine's containers are closed. */
#ifndef SHOAL_AGENT_H
#define SHOAL_AGENT_H

#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "store/store.h"

struct shoal_engine;
struct shoal_agent_exec;
struct shoal_registry;

/* A task's observed state changed. status is a new reference the callee owns:
 * {"Timestamp", "State", "Message", "Err" (failed and rejected only), "ContainerStatus":
 * {"ContainerID", "PID", "ExitCode"} (once the task has a container), "PortStatus": {}},
 * Docker's Task.Status. A task's states only ever increase. The callee may call
 * shoal_agent_exec_assign(), never shoal_agent_exec_close(). */
typedef void (*shoal_agent_report_cb)(void *ctx, const char *task_id, json_t *status);
typedef void (*shoal_agent_close_cb)(void *ctx);

/* A new executor running containers on e (borrowed; must outlive the executor). node_id
 * is this node's ID (copied): tasks without a NodeID are taken as this node's, tasks of
 * another node are ignored; "" accepts each task's own NodeID. report is called for every
 * status change of a task in the set. */
struct shoal_agent_exec *shoal_agent_exec_new(uv_loop_t *loop, struct shoal_engine *e,
					      const char *node_id, shoal_agent_report_cb report,
					      void *ctx);

/* The full set of tasks assigned to this node: a JSON array of task objects in the Engine
 * API's form (ID, ServiceID, Slot, NodeID, Spec, Status, DesiredState, Labels, Name), each
 * also carrying swarmkit's "ServiceAnnotations": {"Name": "<service name>"}, which the
 * Engine API's task has not (without it the ServiceID stands in for the name). tasks is
 * borrowed; the executor keeps references to its elements, which must not be modified
 * afterwards (the store's objects never are). Reconciles, from the loop: a new task with
 * desired state running (or ready) is prepared and started; one with desired shutdown is
 * stopped; one with desired remove, or no longer in the set, is stopped and its container
 * removed; the rest is left alone. The first call also adopts the containers a previous
 * shoald started (by their task ID label) instead of creating others, reports their
 * current state, and removes those of tasks not in the set. */
void shoal_agent_exec_assign(struct shoal_agent_exec *x, const json_t *tasks);

/* The engine's container events, forwarded by whoever receives them (the daemon): the
 * executor waits on "health_status: ..." to hold a task with a health check in starting
 * until its container is healthy. */
void shoal_agent_exec_container_event(struct shoal_agent_exec *x, const char *action,
				      const char *container_id);

/* Stops reconciling: forgets every task (engine operations in flight finish unheard;
 * containers are left as they are, running or not), then cb(ctx) from the loop (cb may
 * be NULL). x must not be used after this call. */
void shoal_agent_exec_close(struct shoal_agent_exec *x, shoal_agent_close_cb cb, void *ctx);

/* The container of a task on this node's engine (by its com.docker.swarm.task.id label),
 * or NULL. Borrowed. */
struct shoal_container *shoal_agent_container_of_task(struct shoal_engine *e, const char *task_id);

/* ---- exposed for unit tests ---- */

/* The container name of a task: its Name when set, else <service>.<slot>.<task ID>, or
 * <service>.<node ID>.<task ID> for a global service's task (no slot). node_id stands in
 * for a task without NodeID. A new string. */
char *shoal_agent_container_name(const json_t *task, const char *node_id);

/* The engine's create body (Docker's POST /containers/create form) for a task: Config
 * from Spec.ContainerSpec (Image, Command as Entrypoint and Args as Cmd, Env, Dir, User,
 * Hostname, Labels with the task's own and the com.docker.swarm.* labels over them,
 * StopSignal, StopGracePeriod as StopTimeout in seconds, Healthcheck, TTY, OpenStdin) and
 * HostConfig (Mounts, ReadonlyRootfs, Init, Sysctls, Dns*, ExtraHosts from Hosts, CapAdd,
 * CapDrop, GroupAdd, Ulimits, OomScoreAdj, Resources.Limits as NanoCpus, Memory and
 * PidsLimit, LogConfig from Spec.LogDriver; no RestartPolicy). A new reference, or NULL
 * with err (400) when the task has no ContainerSpec or no image. */
json_t *shoal_agent_container_body(const json_t *task, const char *node_id, struct shoal_err *err);

/* Docker's Task.Status for a report (see shoal_agent_report_cb): err and container_id may
 * be NULL (no "Err", no "ContainerStatus"). A new reference. */
json_t *shoal_agent_status_json(enum shoal_task_state state, const char *message, const char *err,
				const char *container_id, int pid, int exit_code, int64_t now_ns);

/* Pulls missing images through r (borrowed; must outlive the executor, or be unset
 * first). Without one a missing image rejects the task at once. */
void shoal_agent_exec_set_registry(struct shoal_agent_exec *x, struct shoal_registry *r);

#endif
