/* Inside src/api: what the resource files share. */
#ifndef SHOAL_API_INTERNAL_H
#define SHOAL_API_INTERNAL_H

#include "api/api.h"

/* Appends data to b behind the 8-byte header dockerd puts before each chunk of a non-TTY
 * stream (stdcopy: fd, three zeros, the length big-endian). */
void shoal_api__frame(struct shoal_buf *b, int fd, const char *data, size_t len);

/* POST /images/create?fromImage=image: the pull (distribution.c). */
void shoal_api__images_pull(struct shoal_http_req *req, const char *image);

/* Forgets every exec instance (shutdown). */
void shoal_api__execs_fini(struct shoal_api *api);

/* Ends every /events stream (shutdown) and drops the kept events. */
void shoal_api__events_close(struct shoal_api *api);

/* ---- swarm networks (networks.c) ---- */

struct shoal_filters;

/* Appends the swarm networks this node knows that pass f, in dockerd's list form. */
void shoal_api__swarm_networks_list(struct shoal_api *api, const struct shoal_filters *f,
				    json_t *out);
/* The swarm network named ref (ID, name, unique ID prefix) in dockerd's inspect form, with
 * this node's containers and peers: a new reference, or NULL. */
json_t *shoal_api__swarm_network_find(struct shoal_api *api, const char *ref);

/* ---- service specs (service_spec.c): pure, no store, no I/O ---- */

/* Decodes a request body the way moby's router does with Go's json.Decoder into a
 * swarm.ServiceSpec: the first JSON value only, Go's syntax texts ("unexpected EOF",
 * "invalid character 'x' looking for beginning of value"), "got EOF while reading request
 * body" for an empty one, Go's type errors ("json: cannot unmarshal string into Go struct
 * field ServiceSpec.Mode.Replicated.Replicas of type uint64"). Keys match case-insensitively
 * and come out in Go's spelling; unknown keys and nulls are dropped. All 400. Returns a new
 * reference (an object), or NULL with err set. */
json_t *shoal_api__service_spec_decode(const char *body, size_t len, struct shoal_err *err);

/* What dockerd and swarmkit make of a decoded spec before storing it (moby convert
 * ServiceSpecToGRPC then back): a random name for an empty one, Mode defaulted to
 * Replicated{1}, RestartPolicy.Condition "any", UpdateConfig FailureAction/Order defaults,
 * EndpointSpec Mode "vip", Protocol "tcp", PublishMode "ingress", Isolation "default",
 * Runtime "container", Labels {}; fields in Go's order with Go's omitempty. Errors are the
 * engine's (400 without an rpc prefix: "must specify only one service mode", `invalid
 * RestartCondition: "x"`, ...; 500 for the plugin runtime). Returns a new reference, or
 * NULL with err set. */
json_t *shoal_api__service_spec_convert(const json_t *decoded, struct shoal_err *err);

/* swarmkit's validateServiceSpec on a converted spec: 400 "rpc error: code =
 * InvalidArgument desc = ..." (name, image, resources, restart, update, endpoint, secret
 * and config references), 500 "rpc error: code = Unknown desc = ..." for a bad placement
 * constraint. */
int shoal_api__service_spec_validate(const json_t *spec, struct shoal_err *err) SHOAL_MUST_CHECK;

/* swarmkit's secret and config existence checks, made after the port checks: 400 "rpc
 * error: code = InvalidArgument desc = secret not found: <name>" for any reference, as Shoal
 * has no secrets or configs yet. */
int shoal_api__service_spec_refs_check(const json_t *spec, struct shoal_err *err) SHOAL_MUST_CHECK;

/* The spec with swarmkit's defaults filled in (GET /services/{id}?insertDefaults=true):
 * StopGracePeriod 10s, DNSConfig {}, Resources {}, RestartPolicy {any, 5s, 0}, Placement {},
 * Update/RollbackConfig {1, pause, 5s, 0, stop-first}. A new reference. */
json_t *shoal_api__service_spec_defaults(const json_t *spec);

/* The stored spec of a service re-emitted in Go's field order: a new reference. */
json_t *shoal_api__service_spec_normalize(const json_t *spec);

/* "replicated", "global", "replicated-job" or "global-job": the mode of a converted spec. */
const char *shoal_api__service_mode(const json_t *spec);

/* swarmkit's checkPortConflicts: spec's published ports against the n services (Engine API
 * objects) other than the one with ID self (NULL on create). 400 "rpc error: code =
 * InvalidArgument desc = port '8080' is already in use by service 'vote' (<id>) as an
 * ingress port". */
int shoal_api__service_ports_check(const json_t *spec, const char *self,
				   const json_t *const *services, size_t n,
				   struct shoal_err *err) SHOAL_MUST_CHECK;

/* The service's Endpoint as swarmkit's allocator leaves it: {Spec, Ports}, ingress ports
 * without a PublishedPort given one of 30000-32767 that no other service (of the n, self
 * excluded) holds, keeping what old (the previous Endpoint, may be NULL) had for the same
 * port. No VirtualIPs: there are no overlay networks yet. A new reference, or NULL with a
 * 500 when the range is exhausted. */
json_t *shoal_api__service_endpoint(const json_t *spec, const json_t *old, const char *self,
				    const json_t *const *services, size_t n, struct shoal_err *err);

/* ServiceStatus {RunningTasks, DesiredTasks, CompletedTasks} of service from its n tasks.
 * node_states maps node IDs to Status.State; tasks on a "down" node count for nothing.
 * A new reference. */
json_t *shoal_api__service_status(const json_t *service, const json_t *const *tasks, size_t n,
				  const json_t *node_states);

/* Whether task runs the service's current TaskTemplate (the CLI's "_up-to-date" filter,
 * swarmkit's !IsTaskDirty), comparing specs without Runtime and ignoring Placement. */
bool shoal_api__task_up_to_date(const json_t *task, const json_t *service);

/* Whether a service passes the GET /services filters (name and id prefixes, label, mode,
 * runtime, which defaults to container services). */
bool shoal_api__service_match(const json_t *svc, const struct shoal_filters *f);

/* Whether task passes the GET /tasks filters, its service and node values already resolved
 * to IDs and its desired-state values lower-cased; svc is its service (NULL when gone).
 * name matches the start of "<service>.<slot>.<id>" (global: "<service>.<node>.<id>"). */
bool shoal_api__task_match(const json_t *task, const json_t *svc, const struct shoal_filters *f);

/* A docker-style random name, "eloquent_hopper", into out. */
void shoal_api__random_name(char *out, size_t size);

#endif
