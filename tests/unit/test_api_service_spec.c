/* Unit tests for src/api/service_spec.c: decoding service specs with Go's JSON rules and
 * texts, moby's conversion (what dockerd stores and shows), swarmkit's validation, the
 * insertDefaults defaults, published-port conflicts and allocation, ServiceStatus and the
 * "_up-to-date" task filter. Expected JSON comes from the recorded Docker 20.10 answers in
 * shared/reference/docker-20.10/api. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/internal.h"
#include "base/mem.h"

/* What `docker service create --name vote --replicas 6 --publish 8080:80 instavote/vote`
 * (CLI 28) sends (cli-traffic/service-create-blocking.log). */
static const char VOTE_BODY[] =
	"{\"Name\":\"vote\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
	"\"instavote/vote:latest\",\"Init\":false,\"DNSConfig\":{}},\"Resources\":{\"Limits\":{},"
	"\"Reservations\":{}},\"Placement\":{},\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{"
	"\"Replicas\":6}},\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":\"tcp\","
	"\"TargetPort\":80,\"PublishedPort\":8080,\"PublishMode\":\"ingress\"}]}}";

/* Its Spec in GET /services/{id} (api/GET-services-ID.http), byte for byte. */
static const char VOTE_STORED[] =
	"{\"Name\":\"vote\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
	"\"instavote/vote:latest\",\"Init\":false,\"DNSConfig\":{},\"Isolation\":\"default\"},"
	"\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{},\"ForceUpdate\":0,"
	"\"Runtime\":\"container\"},\"Mode\":{\"Replicated\":{\"Replicas\":6}},\"EndpointSpec\":{"
	"\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,"
	"\"PublishMode\":\"ingress\"}]}}";

/* And with ?insertDefaults=true (api/GET-services-ID-insertDefaults.http). */
static const char VOTE_DEFAULTS[] =
	"{\"Name\":\"vote\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
	"\"instavote/vote:latest\",\"Init\":false,\"StopGracePeriod\":10000000000,\"DNSConfig\":{},"
	"\"Isolation\":\"default\"},\"Resources\":{\"Limits\":{},\"Reservations\":{}},"
	"\"RestartPolicy\":{\"Condition\":\"any\",\"Delay\":5000000000,\"MaxAttempts\":0},"
	"\"Placement\":{},\"ForceUpdate\":0,\"Runtime\":\"container\"},\"Mode\":{\"Replicated\":{"
	"\"Replicas\":6}},\"UpdateConfig\":{\"Parallelism\":1,\"FailureAction\":\"pause\","
	"\"Monitor\":5000000000,\"MaxFailureRatio\":0,\"Order\":\"stop-first\"},"
	"\"RollbackConfig\":{\"Parallelism\":1,\"FailureAction\":\"pause\",\"Monitor\":5000000000,"
	"\"MaxFailureRatio\":0,\"Order\":\"stop-first\"},\"EndpointSpec\":{\"Mode\":\"vip\","
	"\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,"
	"\"PublishMode\":\"ingress\"}]}}";

/* ---- fixture ---- */

struct fixture {
	struct shoal_err err;
	json_t *out;
	json_t *services[4];
	size_t nservices;
};

static int setup(void **state)
{
	struct fixture *fx = shoal_calloc(1, sizeof(*fx));

	shoal_err_clear(&fx->err);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	size_t i;

	json_decref(fx->out);
	for (i = 0; i < fx->nservices; i++)
		json_decref(fx->services[i]);
	free(fx);
	return 0;
}

/* ---- helpers ---- */

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, JSON_DECODE_ANY, &e);

	if (j == NULL)
		fail_msg("bad test JSON %s: %s", s, e.text);
	return j;
}

static void assert_json(const json_t *j, const char *want)
{
	char *got = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (strcmp(got, want) != 0)
		fail_msg("got  %s\nwant %s", got, want);
	free(got);
}

static void assert_same_json(const json_t *a, const json_t *b)
{
	char *want = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);

	assert_json(a, want);
	free(want);
}

/* The body decoded and converted: what the store would hold. */
static json_t *stored(struct fixture *fx, const char *body)
{
	json_t *d = shoal_api__service_spec_decode(body, strlen(body), &fx->err), *s;

	if (d == NULL)
		fail_msg("decode %s: %s", body, fx->err.msg);
	s = shoal_api__service_spec_convert(d, &fx->err);
	json_decref(d);
	if (s == NULL)
		fail_msg("convert %s: %s", body, fx->err.msg);
	json_decref(fx->out);
	fx->out = s;
	return s;
}

static void decode_fails(struct fixture *fx, const char *body, size_t len, const char *msg)
{
	json_t *d;

	shoal_err_clear(&fx->err);
	d = shoal_api__service_spec_decode(body, len, &fx->err);
	if (d != NULL)
		fail_msg("decode %s: no error", body);
	assert_int_equal(fx->err.status, 400);
	assert_string_equal(fx->err.msg, msg);
}

static void convert_fails(struct fixture *fx, const char *body, int status, const char *msg)
{
	json_t *d = shoal_api__service_spec_decode(body, strlen(body), &fx->err), *s;

	if (d == NULL)
		fail_msg("decode %s: %s", body, fx->err.msg);
	shoal_err_clear(&fx->err);
	s = shoal_api__service_spec_convert(d, &fx->err);
	json_decref(d);
	if (s != NULL) {
		json_decref(s);
		fail_msg("convert %s: no error", body);
	}
	assert_int_equal(fx->err.status, status);
	assert_string_equal(fx->err.msg, msg);
}

static void validate_fails(struct fixture *fx, const char *body, int status, const char *msg)
{
	json_t *s = stored(fx, body);

	shoal_err_clear(&fx->err);
	assert_int_equal(shoal_api__service_spec_validate(s, &fx->err), -1);
	assert_int_equal(fx->err.status, status);
	assert_string_equal(fx->err.msg, msg);
}

/* A spec body with the given TaskTemplate members after the image. */
#define WITH_TT(extra) \
	"{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"nginx\"}" extra "}}"

/* A stored service with ID id and the given EndpointSpec / Endpoint ports. */
static void add_service(struct fixture *fx, const char *id, const char *name, const char *ports,
			const char *endpoint_ports)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{\"ID\":\"%s\",\"Spec\":{\"Name\":\"%s\",\"EndpointSpec\":{\"Mode\":\"vip\","
		 "\"Ports\":%s}},\"Endpoint\":{\"Ports\":%s}}",
		 id, name, ports, endpoint_ports);
	fx->services[fx->nservices++] = parse(buf);
}

/* ---- decoding ---- */

/* An empty body gets moby's own text, a cut one Go's "unexpected EOF". */
static void test_decode_eof_texts(void **state)
{
	struct fixture *fx = *state;

	decode_fails(fx, "", 0, "got EOF while reading request body");
	decode_fails(fx, "  \n", 3, "got EOF while reading request body");
	decode_fails(fx, "{\"Name\": \"bad\", \"TaskTemplate\": {", 33, "unexpected EOF");
	decode_fails(fx, "12.", 3, "unexpected EOF");
}

/* Syntax errors carry encoding/json's scanner texts. */
static void test_decode_syntax_texts(void **state)
{
	struct fixture *fx = *state;

	decode_fails(fx, "x", 1, "invalid character 'x' looking for beginning of value");
	decode_fails(fx, "{\"a\" 1}", 7, "invalid character '1' after object key");
	decode_fails(fx, "{\"a\":1 \"b\"}", 11,
		     "invalid character '\"' after object key:value pair");
	decode_fails(fx, "{'a':1}", 7,
		     "invalid character '\\'' looking for beginning of object key string");
	decode_fails(fx, "[1,]", 4, "invalid character ']' looking for beginning of value");
	decode_fails(fx, "{\"a\":tru}", 9, "invalid character '}' in literal true (expecting 'e')");
	decode_fails(fx, "{\"a\":\"\n\"}", 8, "invalid character '\\n' in string literal");
	decode_fails(fx, "{\"a\":-x}", 8, "invalid character 'x' in numeric literal");
}

/* json.Decoder reads the first value and leaves what follows it alone. */
static void test_decode_ignores_trailing_data(void **state)
{
	struct fixture *fx = *state;
	const char body[] = "{\"Name\":\"a\"} trailing {garbage";
	json_t *d = shoal_api__service_spec_decode(body, sizeof(body) - 1, &fx->err);

	assert_non_null(d);
	assert_json(d, "{\"Name\":\"a\"}");
	json_decref(d);
}

/* Type errors name the innermost struct, the field path and the Go type. */
static void test_decode_type_errors(void **state)
{
	struct fixture *fx = *state;
	const char neg[] = "{\"Mode\":{\"Replicated\":{\"Replicas\":-1}}}";
	const char str_tt[] = "{\"TaskTemplate\":\"x\"}";
	const char label[] = "{\"Labels\":{\"a\":1}}";
	const char port[] = "{\"EndpointSpec\":{\"Ports\":[\"x\"]}}";
	const char big[] = "{\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":4294967296}]}}";
	const char frac[] = "{\"UpdateConfig\":{\"Delay\":1.5}}";
	const char top[] = "[]";

	decode_fails(fx, neg, sizeof(neg) - 1,
		     "json: cannot unmarshal number -1 into Go struct field "
		     "ReplicatedService.Mode.Replicated.Replicas of type uint64");
	decode_fails(fx, str_tt, sizeof(str_tt) - 1,
		     "json: cannot unmarshal string into Go struct field ServiceSpec.TaskTemplate "
		     "of type swarm.TaskSpec");
	decode_fails(fx, label, sizeof(label) - 1,
		     "json: cannot unmarshal number into Go struct field ServiceSpec.Labels of "
		     "type string");
	decode_fails(fx, port, sizeof(port) - 1,
		     "json: cannot unmarshal string into Go struct field "
		     "EndpointSpec.EndpointSpec.Ports of type swarm.PortConfig");
	decode_fails(fx, big, sizeof(big) - 1,
		     "json: cannot unmarshal number 4294967296 into Go struct field "
		     "PortConfig.EndpointSpec.Ports.TargetPort of type uint32");
	decode_fails(fx, frac, sizeof(frac) - 1,
		     "json: cannot unmarshal number 1.5 into Go struct field "
		     "UpdateConfig.UpdateConfig.Delay of type time.Duration");
	decode_fails(fx, top, sizeof(top) - 1,
		     "json: cannot unmarshal array into Go value of type swarm.ServiceSpec");
}

/* Keys match Go's fields case-insensitively (docker-py sends "replicated"); unknown keys
 * and nulls go. */
static void test_decode_folds_keys_and_drops_unknown(void **state)
{
	struct fixture *fx = *state;
	const char body[] = "{\"name\":\"a\",\"mode\":{\"replicated\":{\"replicas\":2}},"
			    "\"Bogus\":1,\"EndpointSpec\":null}";
	json_t *d = shoal_api__service_spec_decode(body, sizeof(body) - 1, &fx->err);

	assert_non_null(d);
	assert_json(d, "{\"Name\":\"a\",\"Mode\":{\"Replicated\":{\"Replicas\":2}}}");
	json_decref(d);
}

/* ---- conversion ---- */

/* The CLI's vote spec is stored exactly as dockerd 20.10 shows it. */
static void test_convert_vote_as_dockerd_stores_it(void **state)
{
	assert_json(stored(*state, VOTE_BODY), VOTE_STORED);
}

/* No Mode and an unknown mode both become one replica (api/GET-services-bad-*). */
static void test_convert_mode_defaults_to_one_replica(void **state)
{
	struct fixture *fx = *state;

	stored(fx, WITH_TT(""));
	assert_json(json_object_get(fx->out, "Mode"), "{\"Replicated\":{\"Replicas\":1}}");
	stored(fx, "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		   "\"Mode\":{\"Bogus\":{}}}");
	assert_json(json_object_get(fx->out, "Mode"), "{\"Replicated\":{\"Replicas\":1}}");
	stored(fx, "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		   "\"Mode\":{\"Replicated\":{}}}");
	assert_json(json_object_get(fx->out, "Mode"), "{\"Replicated\":{\"Replicas\":1}}");
	stored(fx, "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		   "\"Mode\":{\"ReplicatedJob\":{\"MaxConcurrent\":3}}}");
	assert_json(json_object_get(fx->out, "Mode"),
		    "{\"ReplicatedJob\":{\"MaxConcurrent\":3,\"TotalCompletions\":3}}");
}

/* The engine's own errors come without an rpc prefix. */
static void test_convert_engine_errors(void **state)
{
	struct fixture *fx = *state;

	convert_fails(fx,
		      "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		      "\"Mode\":{\"Replicated\":{\"Replicas\":1},\"Global\":{}}}",
		      400, "must specify only one service mode");
	convert_fails(fx, "{\"Name\":\"a\"}", 400, "mismatched Runtime and *Spec fields");
	convert_fails(fx, WITH_TT(",\"Runtime\":\"attachment\""), 400, "unsupported runtime");
	convert_fails(fx, WITH_TT(",\"RestartPolicy\":{\"Condition\":\"sometimes\"}"), 400,
		      "invalid RestartCondition: \"sometimes\"");
	convert_fails(fx,
		      "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		      "\"UpdateConfig\":{\"FailureAction\":\"explode\"}}",
		      400, "unrecognized update failure action explode");
	convert_fails(fx,
		      "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		      "\"RollbackConfig\":{\"Order\":\"sideways\"}}",
		      400, "unrecognized update order sideways");
	convert_fails(fx,
		      "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		      "\"EndpointSpec\":{\"Mode\":\"VIP\"}}",
		      400, "invalid resolution mode: \"VIP\"");
	convert_fails(fx,
		      "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\",\"Mounts\":[{\"Type\":"
		      "\"nfs\",\"Target\":\"/x\"}]}}}",
		      400, "invalid MountType: \"nfs\"");
	convert_fails(fx,
		      "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\",\"Mounts\":[{"
		      "\"Target\":\"/x\",\"BindOptions\":{\"Propagation\":\"wide\"}}]}}}",
		      400, "invalid MountPropagation: \"wide\"");
}

/* Unknown protocols and publish modes quietly become tcp and ingress, as in moby. */
static void test_convert_port_enums_default(void **state)
{
	struct fixture *fx = *state;

	stored(fx, "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		   "\"EndpointSpec\":{\"Ports\":[{\"Protocol\":\"UDP\",\"TargetPort\":53},"
		   "{\"Protocol\":\"icmp\",\"TargetPort\":1,\"PublishMode\":\"HOST\"}]}}");
	assert_json(json_object_get(fx->out, "EndpointSpec"),
		    "{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":\"udp\",\"TargetPort\":53,"
		    "\"PublishMode\":\"ingress\"},{\"Protocol\":\"tcp\",\"TargetPort\":1,"
		    "\"PublishMode\":\"host\"}]}");
}

/* Update configs, restart policies and mounts get moby's round-trip values. */
static void test_convert_fills_round_trip_values(void **state)
{
	struct fixture *fx = *state;

	stored(fx, "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\","
		   "\"Hostname\":\"\",\"Mounts\":[{\"Target\":\"/d\",\"Consistency\":\"cached\"}]},"
		   "\"RestartPolicy\":{}},\"UpdateConfig\":{\"Parallelism\":2,\"Monitor\":0}}");
	assert_json(fx->out,
		    "{\"Name\":\"a\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
		    "\"x\",\"Mounts\":[{\"Type\":\"bind\",\"Target\":\"/d\"}],\"Isolation\":"
		    "\"default\"},\"RestartPolicy\":{\"Condition\":\"any\",\"MaxAttempts\":0},"
		    "\"ForceUpdate\":0,\"Runtime\":\"container\"},\"Mode\":{\"Replicated\":{"
		    "\"Replicas\":1}},\"UpdateConfig\":{\"Parallelism\":2,\"FailureAction\":"
		    "\"pause\",\"MaxFailureRatio\":0,\"Order\":\"stop-first\"}}");
}

/* An empty name becomes a docker-style random one. */
static void test_convert_names_nameless_service(void **state)
{
	struct fixture *fx = *state;
	const char *name;

	stored(fx, "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}");
	name = json_string_value(json_object_get(fx->out, "Name"));
	assert_non_null(name);
	assert_non_null(strchr(name, '_'));
	assert_int_equal(shoal_api__service_spec_validate(fx->out, &fx->err), 0);
}

/* ---- validation ---- */

/* The reference's bad requests get swarmkit's InvalidArgument texts. */
static void test_validate_reference_errors(void **state)
{
	struct fixture *fx = *state;

	validate_fails(fx,
		       "{\"Name\":\"bad name!\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
		       "\"x\"}}}",
		       400,
		       "rpc error: code = InvalidArgument desc = name must be valid as a DNS name "
		       "component");
	validate_fails(fx, "{\"Name\":\"bad-noimage\",\"TaskTemplate\":{\"ContainerSpec\":{}}}",
		       400,
		       "rpc error: code = InvalidArgument desc = ContainerSpec: image reference "
		       "must be provided");
}

/* Names are DNS labels: no dots, no trailing dash, 63 characters at most. */
static void test_validate_names(void **state)
{
	struct fixture *fx = *state;
	char body[256];

	validate_fails(fx,
		       "{\"Name\":\"a.b\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}",
		       400,
		       "rpc error: code = InvalidArgument desc = name must be valid as a DNS name "
		       "component");
	validate_fails(fx,
		       "{\"Name\":\"ab-\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}",
		       400,
		       "rpc error: code = InvalidArgument desc = name must be valid as a DNS name "
		       "component");
	snprintf(body, sizeof(body),
		 "{\"Name\":\"%064d\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}", 0);
	validate_fails(fx, body, 400,
		       "rpc error: code = InvalidArgument desc = name must be 63 characters or "
		       "fewer");
	stored(fx,
	       "{\"Name\":\"a_b-c--9\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}");
	assert_int_equal(shoal_api__service_spec_validate(fx->out, &fx->err), 0);
}

/* Images, mounts, resources, restart delays and health checks are checked. */
static void test_validate_task_spec(void **state)
{
	struct fixture *fx = *state;

	validate_fails(fx,
		       "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"Bad\"}}}",
		       400,
		       "rpc error: code = InvalidArgument desc = ContainerSpec: \"Bad\" is not a "
		       "valid repository/tag");
	validate_fails(fx,
		       "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\","
		       "\"Mounts\":[{\"Type\":\"volume\",\"Target\":\"/d\"},{\"Type\":\"tmpfs\","
		       "\"Target\":\"/d\"}]}}}",
		       400,
		       "rpc error: code = InvalidArgument desc = ContainerSpec: duplicate mount "
		       "point: /d");
	validate_fails(fx, WITH_TT(",\"Resources\":{\"Limits\":{\"NanoCPUs\":500000}}"), 400,
		       "rpc error: code = InvalidArgument desc = invalid cpu value 0.0005: Must be "
		       "at least 0.001");
	validate_fails(fx, WITH_TT(",\"Resources\":{\"Reservations\":{\"MemoryBytes\":1024}}"), 400,
		       "rpc error: code = InvalidArgument desc = invalid memory value 1024: Must "
		       "be at least 4MiB");
	validate_fails(fx, WITH_TT(",\"RestartPolicy\":{\"Delay\":-1}"), 400,
		       "rpc error: code = InvalidArgument desc = TaskSpec: restart-delay cannot be "
		       "negative");
	validate_fails(fx,
		       "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\","
		       "\"Healthcheck\":{\"Interval\":1000}}}}",
		       400,
		       "rpc error: code = InvalidArgument desc = ContainerSpec: Interval in "
		       "HealthConfig cannot be less than 1ms");
}

/* Update configs, endpoints and jobs follow swarmkit's rules. */
static void test_validate_update_endpoint_and_jobs(void **state)
{
	struct fixture *fx = *state;

	validate_fails(fx,
		       "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		       "\"UpdateConfig\":{\"Delay\":-5}}",
		       400,
		       "rpc error: code = InvalidArgument desc = TaskSpec: update-delay cannot be "
		       "negative");
	validate_fails(fx,
		       "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		       "\"UpdateConfig\":{\"MaxFailureRatio\":1.5}}",
		       400,
		       "rpc error: code = InvalidArgument desc = TaskSpec: update-maxfailureratio "
		       "cannot be less than 0 or bigger than 1");
	validate_fails(fx,
		       "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		       "\"EndpointSpec\":{\"Mode\":\"dnsrr\",\"Ports\":[{\"TargetPort\":80}]}}",
		       400,
		       "rpc error: code = InvalidArgument desc = EndpointSpec: port published with "
		       "ingress mode can't be used with dnsrr mode");
	validate_fails(fx,
		       "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		       "\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80,\"PublishedPort\":8080},"
		       "{\"TargetPort\":81,\"PublishedPort\":8080}]}}",
		       400,
		       "rpc error: code = InvalidArgument desc = EndpointSpec: duplicate published "
		       "ports provided");
	validate_fails(
		fx,
		"{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		"\"Mode\":{\"GlobalJob\":{}},\"UpdateConfig\":{}}",
		400, "rpc error: code = InvalidArgument desc = Jobs may not have an update config");
	/* the same port over tcp and udp is fine */
	stored(fx, "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		   "\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":53,\"PublishedPort\":53},"
		   "{\"Protocol\":\"udp\",\"TargetPort\":53,\"PublishedPort\":53}]}}");
	assert_int_equal(shoal_api__service_spec_validate(fx->out, &fx->err), 0);
}

/* Bad placement constraints are plain errors in swarmkit, so gRPC makes them 500 Unknown. */
static void test_validate_constraints(void **state)
{
	struct fixture *fx = *state;

	validate_fails(fx, WITH_TT(",\"Placement\":{\"Constraints\":[\"node.role=manager\"]}"), 500,
		       "rpc error: code = Unknown desc = constraint expected one operator from "
		       "==, !=");
	validate_fails(fx, WITH_TT(",\"Placement\":{\"Constraints\":[\"x == y\"]}"), 500,
		       "rpc error: code = Unknown desc = key 'x' is invalid");
	validate_fails(fx, WITH_TT(",\"Placement\":{\"Constraints\":[\"node.id == a>b\"]}"), 500,
		       "rpc error: code = Unknown desc = value 'a>b' is invalid");
	stored(fx, WITH_TT(",\"Placement\":{\"Constraints\":[\" node.labels.zone != east-1 \","
			   "\"node.role==manager\"]}"));
	assert_int_equal(shoal_api__service_spec_validate(fx->out, &fx->err), 0);
}

/* Secret references are checked for shape, then found missing: there are no secrets. */
static void test_validate_secret_refs(void **state)
{
	struct fixture *fx = *state;

	validate_fails(fx,
		       "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\","
		       "\"Secrets\":[{\"SecretID\":\"i\",\"SecretName\":\"s\"}]}}}",
		       400,
		       "rpc error: code = InvalidArgument desc = malformed secret reference, no "
		       "target provided");
	stored(fx,
	       "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\","
	       "\"Secrets\":[{\"File\":{\"Name\":\"s\"},\"SecretID\":\"i\",\"SecretName\":\"s\"}]}}}");
	assert_int_equal(shoal_api__service_spec_validate(fx->out, &fx->err), 0);
	assert_int_equal(shoal_api__service_spec_refs_check(fx->out, &fx->err), -1);
	assert_string_equal(fx->err.msg,
			    "rpc error: code = InvalidArgument desc = secret not found: s");
}

/* ---- defaults ---- */

/* ?insertDefaults=true shows the vote service as dockerd 20.10 does. */
static void test_defaults_match_reference(void **state)
{
	struct fixture *fx = *state;
	json_t *d = shoal_api__service_spec_defaults(stored(fx, VOTE_BODY));

	assert_json(d, VOTE_DEFAULTS);
	json_decref(d);
}

/* A given restart policy and update config keep their values; missing ones are filled. */
static void test_defaults_keep_given_values(void **state)
{
	struct fixture *fx = *state;
	json_t *d;

	stored(fx, "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\","
		   "\"StopGracePeriod\":1},\"RestartPolicy\":{\"Condition\":\"none\"}},"
		   "\"UpdateConfig\":{\"Parallelism\":3}}");
	d = shoal_api__service_spec_defaults(fx->out);
	assert_json(json_object_get(json_object_get(d, "TaskTemplate"), "RestartPolicy"),
		    "{\"Condition\":\"none\",\"Delay\":5000000000,\"MaxAttempts\":0}");
	assert_json(json_object_get(
			    json_object_get(json_object_get(d, "TaskTemplate"), "ContainerSpec"),
			    "StopGracePeriod"),
		    "1");
	assert_json(json_object_get(d, "UpdateConfig"),
		    "{\"Parallelism\":3,\"FailureAction\":\"pause\",\"Monitor\":5000000000,"
		    "\"MaxFailureRatio\":0,\"Order\":\"stop-first\"}");
	json_decref(d);
}

/* ---- ports ---- */

/* A published port another service holds is refused with swarmkit's text. */
static void test_ports_conflict_texts(void **state)
{
	struct fixture *fx = *state;

	add_service(fx, "vote1", "vote",
		    "[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,"
		    "\"PublishMode\":\"ingress\"}]",
		    "[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,"
		    "\"PublishMode\":\"ingress\"}]");
	add_service(fx, "host1", "hostsvc",
		    "[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":9000,"
		    "\"PublishMode\":\"host\"}]",
		    "[]");
	stored(fx, "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		   "\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80,\"PublishedPort\":8080}]}}");
	assert_int_equal(shoal_api__service_ports_check(fx->out, NULL,
							(const json_t *const *)fx->services,
							fx->nservices, &fx->err),
			 -1);
	assert_int_equal(fx->err.status, 400);
	assert_string_equal(
		fx->err.msg,
		"rpc error: code = InvalidArgument desc = port '8080' is already in use "
		"by service 'vote' (vote1) as an ingress port");
	/* the service itself is left out on update */
	assert_int_equal(shoal_api__service_ports_check(fx->out, "vote1",
							(const json_t *const *)fx->services,
							fx->nservices, &fx->err),
			 0);
	stored(fx, "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		   "\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80,\"PublishedPort\":9000}]}}");
	assert_int_equal(shoal_api__service_ports_check(fx->out, NULL,
							(const json_t *const *)fx->services,
							fx->nservices, &fx->err),
			 -1);
	assert_string_equal(
		fx->err.msg,
		"rpc error: code = InvalidArgument desc = port '9000' is already in use "
		"by service 'hostsvc' (host1) as a host-published port");
	/* host mode beside host mode is the scheduler's business */
	stored(fx, "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		   "\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80,\"PublishedPort\":9000,"
		   "\"PublishMode\":\"host\"}]}}");
	assert_int_equal(shoal_api__service_ports_check(fx->out, NULL,
							(const json_t *const *)fx->services,
							fx->nservices, &fx->err),
			 0);
}

/* Ingress ports without a published port get the first free one from 30000 up. */
static void test_endpoint_allocates_dynamic_ports(void **state)
{
	struct fixture *fx = *state;
	json_t *ep, *again;

	add_service(fx, "other", "other", "[{\"Protocol\":\"tcp\",\"TargetPort\":80}]",
		    "[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":30000,"
		    "\"PublishMode\":\"ingress\"}]");
	stored(fx, "{\"Name\":\"a\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}},"
		   "\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80},{\"TargetPort\":81,"
		   "\"PublishedPort\":30001},{\"TargetPort\":82,\"PublishMode\":\"host\"}]}}");
	ep = shoal_api__service_endpoint(fx->out, NULL, NULL, (const json_t *const *)fx->services,
					 fx->nservices, &fx->err);
	assert_non_null(ep);
	assert_json(json_object_get(ep, "Ports"),
		    "[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":30002,"
		    "\"PublishMode\":\"ingress\"},{\"Protocol\":\"tcp\",\"TargetPort\":81,"
		    "\"PublishedPort\":30001,\"PublishMode\":\"ingress\"},{\"Protocol\":\"tcp\","
		    "\"TargetPort\":82,\"PublishMode\":\"host\"}]");
	assert_same_json(json_object_get(ep, "Spec"), json_object_get(fx->out, "EndpointSpec"));
	/* an update keeps what was allocated */
	again = shoal_api__service_endpoint(fx->out, ep, "self", NULL, 0, &fx->err);
	assert_same_json(json_object_get(again, "Ports"), json_object_get(ep, "Ports"));
	json_decref(again);
	json_decref(ep);
	/* no EndpointSpec: an empty Spec, as api/GET-services-bad-mode-as-accepted shows */
	stored(fx, WITH_TT(""));
	ep = shoal_api__service_endpoint(fx->out, NULL, NULL, NULL, 0, &fx->err);
	assert_json(ep, "{\"Spec\":{}}");
	json_decref(ep);
}

/* ---- status ---- */

/* Running counts running tasks desired running on nodes not down; desired is the replica
 * count, or for global services the tasks desired running. */
static void test_status_counts(void **state)
{
	struct fixture *fx = *state;
	json_t *svc = parse("{\"ID\":\"s\",\"Spec\":{\"Mode\":{\"Replicated\":{\"Replicas\":6}}}}");
	json_t *global = parse("{\"ID\":\"g\",\"Spec\":{\"Mode\":{\"Global\":{}}}}");
	json_t *nodes = parse("{\"n1\":\"ready\",\"n2\":\"down\"}");
	json_t *t[4], *st;
	size_t i;

	(void)fx;
	t[0] = parse("{\"NodeID\":\"n1\",\"DesiredState\":\"running\",\"Status\":{\"State\":"
		     "\"running\"}}");
	t[1] = parse("{\"NodeID\":\"n2\",\"DesiredState\":\"running\",\"Status\":{\"State\":"
		     "\"running\"}}");
	t[2] = parse("{\"NodeID\":\"n1\",\"DesiredState\":\"shutdown\",\"Status\":{\"State\":"
		     "\"running\"}}");
	t[3] = parse("{\"NodeID\":\"n1\",\"DesiredState\":\"running\",\"Status\":{\"State\":"
		     "\"pending\"}}");
	st = shoal_api__service_status(svc, (const json_t *const *)t, 4, nodes);
	assert_json(st, "{\"RunningTasks\":1,\"DesiredTasks\":6,\"CompletedTasks\":0}");
	json_decref(st);
	st = shoal_api__service_status(global, (const json_t *const *)t, 4, nodes);
	assert_json(st, "{\"RunningTasks\":1,\"DesiredTasks\":2,\"CompletedTasks\":0}");
	json_decref(st);
	for (i = 0; i < 4; i++)
		json_decref(t[i]);
	json_decref(svc);
	json_decref(global);
	json_decref(nodes);
}

/* A task is up to date when its spec is the TaskTemplate, Runtime and Placement aside. */
static void test_task_up_to_date(void **state)
{
	struct fixture *fx = *state;
	json_t *svc, *task;

	svc = json_pack("{s:O}", "Spec", stored(fx, VOTE_BODY));
	task = parse(
		"{\"Spec\":{\"ContainerSpec\":{\"Image\":\"instavote/vote:latest\",\"Init\":"
		"false,\"DNSConfig\":{},\"Isolation\":\"default\"},\"Resources\":{\"Limits\":{},"
		"\"Reservations\":{}},\"ForceUpdate\":0}}");
	assert_true(shoal_api__task_up_to_date(task, svc));
	json_object_set_new(json_object_get(json_object_get(task, "Spec"), "ContainerSpec"),
			    "Image", json_string("instavote/vote:indent"));
	assert_false(shoal_api__task_up_to_date(task, svc));
	json_decref(task);
	json_decref(svc);
}

/* ---- list filters ---- */

static bool service_passes(const json_t *svc, const char *filters)
{
	struct shoal_filters f;
	struct shoal_err err;
	bool ok;

	if (shoal_filters_parse(filters, &f, &err) < 0)
		fail_msg("filters %s: %s", filters, err.msg);
	ok = shoal_api__service_match(svc, &f);
	shoal_filters_fini(&f);
	return ok;
}

static bool task_passes(const json_t *task, const json_t *svc, const char *filters)
{
	struct shoal_filters f;
	struct shoal_err err;
	bool ok;

	if (shoal_filters_parse(filters, &f, &err) < 0)
		fail_msg("filters %s: %s", filters, err.msg);
	ok = shoal_api__task_match(task, svc, &f);
	shoal_filters_fini(&f);
	return ok;
}

/* Services match name and ID prefixes (case-sensitive), labels, exact modes, and only
 * container services show unless another runtime is asked for. */
static void test_service_filters(void **state)
{
	struct fixture *fx = *state;
	json_t *svc =
		json_pack("{s:s, s:O}", "ID", "abc123", "Spec",
			  stored(fx, "{\"Name\":\"vote\",\"Labels\":{\"tier\":\"front\"},"
				     "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}"));

	assert_true(service_passes(svc, NULL));
	assert_true(service_passes(svc, "{\"name\":[\"vo\"]}"));
	assert_false(service_passes(svc, "{\"name\":[\"VO\"]}"));
	assert_false(service_passes(svc, "{\"name\":[\"ote\"]}"));
	assert_true(service_passes(svc, "{\"id\":{\"abc\":true}}"));
	assert_false(service_passes(svc, "{\"id\":[\"bc\"]}"));
	assert_true(service_passes(svc, "{\"label\":[\"tier=front\"]}"));
	assert_false(service_passes(svc, "{\"label\":[\"tier=back\"]}"));
	assert_true(service_passes(svc, "{\"mode\":[\"replicated\"]}"));
	assert_false(service_passes(svc, "{\"mode\":[\"global\"]}"));
	assert_false(service_passes(svc, "{\"runtime\":[\"plugin\"]}"));
	json_decref(svc);
}

/* Tasks match "<service>.<slot>.<id>" name prefixes, the service's labels, resolved service
 * and node IDs, desired states, and "_up-to-date". */
static void test_task_filters(void **state)
{
	struct fixture *fx = *state;
	json_t *svc = json_pack("{s:s, s:O}", "ID", "svc1", "Spec", stored(fx, VOTE_BODY));
	json_t *task = parse(
		"{\"ID\":\"task1\",\"Spec\":{\"ContainerSpec\":{\"Image\":\"instavote/vote:latest\","
		"\"Init\":false,\"DNSConfig\":{},\"Isolation\":\"default\"},\"Resources\":{"
		"\"Limits\":{},\"Reservations\":{}},\"Placement\":{},\"ForceUpdate\":0},"
		"\"ServiceID\":\"svc1\",\"Slot\":1,\"NodeID\":\"node1\",\"DesiredState\":"
		"\"running\"}");

	assert_true(task_passes(task, svc, "{\"name\":[\"vote.1\"]}"));
	assert_true(task_passes(task, svc, "{\"name\":[\"vote.1.task1\"]}"));
	assert_false(task_passes(task, svc, "{\"name\":[\"vote.2\"]}"));
	assert_true(task_passes(task, svc, "{\"service\":[\"svc1\"],\"node\":[\"node1\"]}"));
	assert_false(task_passes(task, svc, "{\"node\":[\"node2\"]}"));
	assert_true(task_passes(task, svc, "{\"desired-state\":[\"running\",\"shutdown\"]}"));
	assert_false(task_passes(task, svc, "{\"desired-state\":[\"shutdown\"]}"));
	assert_true(task_passes(task, svc, "{\"_up-to-date\":{\"true\":true}}"));
	assert_false(task_passes(task, NULL, "{\"_up-to-date\":{\"true\":true}}"));
	assert_false(task_passes(task, svc, "{\"label\":[\"tier\"]}"));
	json_decref(task);
	json_decref(svc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_decode_eof_texts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_syntax_texts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_ignores_trailing_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_type_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_folds_keys_and_drops_unknown, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_convert_vote_as_dockerd_stores_it, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_convert_mode_defaults_to_one_replica, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_convert_engine_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_convert_port_enums_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_convert_fills_round_trip_values, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_convert_names_nameless_service, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_validate_reference_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validate_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validate_task_spec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validate_update_endpoint_and_jobs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_validate_constraints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validate_secret_refs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults_match_reference, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults_keep_given_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports_conflict_texts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endpoint_allocates_dynamic_ports, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_status_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_up_to_date, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_filters, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
