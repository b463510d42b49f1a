"""Services and tasks on a single-node swarm, through the docker CLI, docker-py and the raw
Engine API, compared with what Docker 20.10 answered (shared/reference/docker-20.10).

No task runs yet here: the services are created with -d and their images do not exist, so
REPLICAS stays 0/N. IDs, versions and times differ per run and are masked; VirtualIPs are
left out (there are no overlay networks)."""
import json
import os
import re
import time
import urllib.parse

import docker
import pytest

from conftest import wait_until, DOCKER, free_port, run

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "..", "..", "shared", "reference", "docker-20.10")
REF_VOTE_ID = "jvpuuqpfvg9v0t9vng1rd3dum"
NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm '
               'join" to connect this node to swarm and try again.')
JSON = {"Content-Type": "application/json"}


# ---- helpers ----

def ref_text(*parts):
    with open(os.path.join(REF, *parts)) as f:
        return f.read()


def ref_cli(name):
    """A CLI capture: its output lines without the command line and the exit status."""
    lines = ref_text("cli", name).split("\n")
    assert lines[0].startswith("$ ") and lines[-2].startswith("[exit status")
    return "\n".join(lines[1:-2]) + "\n", int(lines[-2].split()[-1].rstrip("]"))


def ref_http(name):
    """(method, path, body, status, response body) of an api/*.http capture."""
    req, resp = ref_text("api", name + ".http").split("---- response ----")
    head, _, body = req.strip("\n").partition("\n\n")
    method, path, _ = head.split("\n")[0].split(" ")
    rhead, _, rbody = resp.strip("\n").partition("\n\n")
    return method, path, body.strip("\n") or None, int(rhead.split()[1]), rbody


def docker_(d, *args, timeout=30):
    return run([DOCKER, "-H", d.host] + list(args), timeout=timeout)


def init(d):
    r = docker_(d, "swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr",
                f"127.0.0.1:{free_port()}")
    assert r.returncode == 0, r.stderr + d.log_text()


def create_vote(d):
    """The reference's `docker service create --name vote --replicas 6 --publish 8080:80
    instavote/vote`, detached; returns the service ID."""
    r = docker_(d, "service", "create", "-d", "--name", "vote", "--replicas", "6", "--publish",
                "8080:80", "instavote/vote")
    assert r.returncode == 0, r.stderr + d.log_text()
    sid = r.stdout.strip()
    assert re.fullmatch(r"[0-9a-z]{25}", sid), r.stdout
    return sid


def call(d, method, path, body=None):
    """(status, decoded JSON or raw text) of one API request."""
    if body is not None and not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    status, _, raw = d.request(method, path, body=body, headers=JSON if body else {})
    text = raw.decode()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def q(filters):
    return urllib.parse.quote(json.dumps(filters))


def masked(obj, ids=()):
    """obj without what differs per run: IDs, versions, times and VirtualIPs."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in ("VirtualIPs",):
                continue
            if k in ("CreatedAt", "UpdatedAt", "StartedAt", "CompletedAt"):
                v = "T"
            elif k == "Version":
                v = {"Index": "N"}
            else:
                v = masked(v, ids)
            out[k] = v
        return out
    if isinstance(obj, list):
        return [masked(v, ids) for v in obj]
    if isinstance(obj, str):
        for real, ref in ids:
            obj = obj.replace(real, ref)
    return obj


def same_json(ours, ref, ids=()):
    """Equal after masking, keys in the same order too (json.dumps keeps dict order)."""
    assert json.dumps(masked(ours, ids)) == json.dumps(masked(ref, ids))


# ---- before a swarm ----

# Every service and task endpoint answers Docker's 503 until the node joins a swarm.
def test_preswarm_503(shoald, docker_cli):
    for method, path in (("GET", "/services"), ("GET", "/services/x"), ("DELETE", "/services/x"),
                         ("GET", "/tasks"), ("GET", "/tasks/x")):
        status, body = call(shoald, method, path)
        assert (status, body) == (503, {"message": NOT_MANAGER}), path
    status, body = call(shoald, "POST", "/services/create",
                        {"Name": "a", "TaskTemplate": {"ContainerSpec": {"Image": "x"}}})
    assert (status, body) == (503, {"message": NOT_MANAGER})
    out, code = ref_cli("preswarm-docker-service-ls-error.txt")
    r = docker_(shoald, "service", "ls")
    assert (r.stdout + r.stderr, r.returncode) == (out, code)


# ---- the vote service through the CLI ----

# create, ls, inspect and inspect --pretty print what Docker printed for the same service.
def test_cli_create_ls_inspect_as_reference(shoald, docker_cli):
    init(shoald)
    out, _ = ref_cli("docker-service-ls-empty.txt")
    assert docker_(shoald, "service", "ls").stdout == out
    r = docker_(shoald, "service", "create", "-d", "--name", "vote", "--replicas", "6",
                "--publish", "8080:80", "instavote/vote")
    assert r.returncode == 0, r.stderr
    sid = r.stdout.strip()
    # the registry warning is the CLI's own, after its /distribution request failed
    assert "image instavote/vote:latest could not be accessed on a registry" in r.stderr
    out, _ = ref_cli("docker-service-ls.txt")
    want = out.replace(REF_VOTE_ID[:12], sid[:12]).replace("6/6", "0/6")
    assert docker_(shoald, "service", "ls").stdout == want
    out, code = ref_cli("docker-service-inspect-pretty-vote.txt")
    r = docker_(shoald, "service", "inspect", "--pretty", "vote")
    assert (r.stdout + r.stderr, r.returncode) == (out.replace(REF_VOTE_ID, sid), code)
    out, code = ref_cli("docker-service-inspect-vote.txt")
    r = docker_(shoald, "service", "inspect", "vote")
    assert r.returncode == code
    same_json(json.loads(r.stdout), json.loads(out), ids=[(sid, REF_VOTE_ID)])
    # byte for byte as dockerd sent it, apart from IDs, times and VirtualIPs
    for name in ("GET-services-ID", "GET-services-ID-insertDefaults", "GET-services-byname-vote"):
        method, path, _, rstatus, rbody = ref_http(name)
        status, body = call(shoald, method, path.replace(REF_VOTE_ID, sid))
        assert status == rstatus
        same_json(body, json.loads(rbody), ids=[(sid, REF_VOTE_ID)])
    status, body = call(shoald, "GET", "/v1.41/services?status=true")
    ref = json.loads(ref_http("GET-services-status-true")[4])
    ref[0]["ServiceStatus"]["RunningTasks"] = 0
    same_json(body, ref, ids=[(sid, REF_VOTE_ID)])


# The API requests the reference made get the same status and body.
def test_api_answers_as_reference(shoald, docker_cli):
    init(shoald)
    vote = create_vote(shoald)
    ids = [(vote, REF_VOTE_ID)]

    def replay(name, version=None, new_id=None):
        method, path, body, rstatus, rbody = ref_http(name)
        for real, ref in ids:
            path = path.replace(ref, real)
        if version is not None:
            path = re.sub(r"version=\d+", f"version={version}", path)
        status, got = call(shoald, method, path, body)
        assert status == rstatus, (name, got)
        if new_id is not None:
            ids.append((got["ID"], new_id))
        if rbody:
            same_json(got, json.loads(rbody), ids=ids)
        return got

    api = replay("POST-services-create-201", new_id="qa0a7bks5amzjxpqqu7n5s08c")["ID"]
    replay("POST-services-create-same-spec-as-vote-port-checked-first-400")
    replay("POST-services-create-name-exists-409")
    replay("POST-services-create-invalid-json-400")
    replay("POST-services-create-replicas-negative")
    replay("POST-services-create-two-modes")
    replay("POST-services-create-no-image")
    replay("POST-services-create-bad-name")
    replay("POST-services-create-published-port-in-use")
    replay("POST-services-create-unknown-mode-key", new_id="mgldi94ubrakr211ek20dyt5d")
    replay("GET-services-bad-mode-as-accepted")
    replay("POST-services-create-no-mode-key", new_id="il9uqwxw7l080b3taftkf491u")
    replay("GET-services-bad-nomode-as-accepted")
    before = replay("GET-services-ID-vote-api-before-update")
    replay("POST-services-ID-update-no-version")
    replay("POST-services-ID-update-ok", version=before["Version"]["Index"])
    replay("POST-services-ID-update-stale-version", version=before["Version"]["Index"])
    replay("POST-services-nosuch-update-404")
    after = call(shoald, "GET", f"/v1.41/services/{api}")[1]
    ref = json.loads(ref_http("GET-services-ID-vote-api-after-update")[4])
    # UpdateStatus is the updater's, which moves on its own time: its state is checked, the
    # rest of the object compared
    assert ref["UpdateStatus"]["State"] == "updating"
    if "UpdateStatus" in after:
        assert after["UpdateStatus"]["State"] in ("updating", "paused", "completed")
        del after["UpdateStatus"]
    del ref["UpdateStatus"]
    same_json(after, ref, ids=ids)
    replay("GET-services-nosuch-404")
    replay("GET-tasks-nosuch-404")
    replay("DELETE-services-nosuch-404")
    replay("DELETE-services-ID-200")
    assert call(shoald, "GET", f"/services/{api}")[0] == 404


# update --replicas / --label-add / --image, scale, rollback and rm change what inspect and
# ls show; update keeps the old spec as PreviousSpec.
def test_cli_update_scale_rollback_rm(shoald, docker_cli):
    init(shoald)
    sid = create_vote(shoald)
    r = docker_(shoald, "service", "update", "-d", "--replicas", "3", "vote")
    assert (r.returncode, r.stdout) == (0, "vote\n"), r.stderr
    r = docker_(shoald, "service", "update", "-d", "--label-add", "tier=front", "--image",
                "instavote/vote:indent", "vote")
    assert (r.returncode, r.stdout) == (0, "vote\n"), r.stderr
    svc = call(shoald, "GET", "/services/vote")[1]
    assert svc["ID"] == sid
    assert svc["Spec"]["Labels"] == {"tier": "front"}
    assert svc["Spec"]["Mode"] == {"Replicated": {"Replicas": 3}}
    assert svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "instavote/vote:indent"
    assert svc["PreviousSpec"]["Labels"] == {}
    assert svc["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Image"] == \
        "instavote/vote:latest"
    # a new image starts a rolling update (the tasks have no image here: it cannot end well)
    wait_until(lambda: "UpdateStatus" in call(shoald, "GET", "/services/vote")[1], 10)
    svc = call(shoald, "GET", "/services/vote")[1]
    assert svc["UpdateStatus"]["State"] in ("updating", "paused", "completed")
    r = docker_(shoald, "service", "ls")
    assert re.search(r"vote\s+replicated\s+0/3\s+instavote/vote:indent\s+\*:8080->80/tcp",
                     r.stdout), r.stdout
    r = docker_(shoald, "service", "scale", "-d", "vote=5")
    assert (r.returncode, r.stdout) == (0, "vote scaled to 5\n"), r.stderr
    # rollback swaps back to the spec before the scale
    r = docker_(shoald, "service", "rollback", "-d", "vote")
    assert (r.returncode, r.stdout) == (0, "vote\n"), r.stderr
    svc = call(shoald, "GET", "/services/vote")[1]
    assert svc["Spec"]["Mode"] == {"Replicated": {"Replicas": 3}}
    assert svc["PreviousSpec"]["Mode"] == {"Replicated": {"Replicas": 5}}
    # the rollback starts as the API writes it; the updater may have finished it already
    st = svc["UpdateStatus"]
    assert (st["State"], st["Message"]) in (("rollback_started", "manually requested rollback"),
                                           ("rollback_completed", "rollback completed"))
    r = docker_(shoald, "service", "inspect", "--pretty", "vote")
    assert re.search(r" State:\t\trollback_(started|completed)\n", r.stdout), r.stdout
    assert "Labels:\n tier=front\n" in r.stdout
    r = docker_(shoald, "service", "rm", "vote")
    assert (r.returncode, r.stdout) == (0, "vote\n"), r.stderr
    out, _ = ref_cli("docker-service-ls-empty.txt")
    assert docker_(shoald, "service", "ls").stdout == out


# A taken name, an unknown service and the daemon's validation errors reach the CLI.
def test_cli_errors(shoald, docker_cli):
    init(shoald)
    sid = create_vote(shoald)
    r = docker_(shoald, "service", "create", "-d", "--name", "VOTE", "busybox")
    assert r.returncode == 1
    assert r.stderr.endswith(
        "Error response from daemon: rpc error: code = AlreadyExists desc = name conflicts "
        "with an existing object: service VOTE already exists\n")
    r = docker_(shoald, "service", "create", "-d", "--name", "other", "-p", "8080:80", "busybox")
    assert r.returncode == 1
    assert r.stderr.endswith(
        "Error response from daemon: rpc error: code = InvalidArgument desc = port '8080' is "
        f"already in use by service 'vote' ({sid}) as an ingress port\n")
    r = docker_(shoald, "service", "inspect", "nosuch")
    assert (r.returncode, r.stdout, r.stderr) == (1, "[]\n", "Error: no such service: nosuch\n")
    r = docker_(shoald, "service", "rm", "nosuch")
    assert r.returncode == 1
    assert "service nosuch not found" in r.stderr
    r = docker_(shoald, "service", "create", "-d", "--name", "c1", "--constraint",
                "node.role=manager", "busybox")
    assert r.returncode == 1
    assert r.stderr.endswith(
        "Error response from daemon: rpc error: code = Unknown desc = constraint expected one "
        "operator from ==, !=\n")
    r = docker_(shoald, "service", "create", "-d", "--name", "c2", "--mount",
                "type=tmpfs,target=/x", "--mount", "type=volume,target=/x", "busybox")
    assert r.returncode == 1
    assert r.stderr.endswith(
        "Error response from daemon: rpc error: code = InvalidArgument desc = ContainerSpec: "
        "duplicate mount point: /x\n")
    r = docker_(shoald, "service", "create", "-d", "--name", "c3", "--limit-cpu", "0.0001",
                "busybox")
    assert r.returncode == 1
    assert r.stderr.endswith(
        "Error response from daemon: rpc error: code = InvalidArgument desc = invalid cpu "
        "value 0.0001: Must be at least 0.001\n")
    r = docker_(shoald, "service", "create", "-d", "--name", "bad.name", "busybox")
    assert r.returncode == 1
    assert r.stderr.endswith(
        "Error response from daemon: rpc error: code = InvalidArgument desc = name must be "
        "valid as a DNS name component\n")
    assert [s["Spec"]["Name"] for s in call(shoald, "GET", "/services")[1]] == ["vote"]


# Bad specs sent straight to the API get the engine's and swarmkit's texts and codes.
def test_api_bad_specs(shoald):
    init(shoald)
    image = {"ContainerSpec": {"Image": "busybox"}}

    def create(spec):
        return call(shoald, "POST", "/services/create", spec)

    assert create("") == (400, {"message": "got EOF while reading request body"})
    assert create("{\"Name\": x}") == (
        400, {"message": "invalid character 'x' looking for beginning of value"})
    assert create({"Name": "a", "TaskTemplate": image, "Labels": ["x"]}) == (
        400, {"message": "json: cannot unmarshal array into Go struct field ServiceSpec.Labels "
                         "of type map[string]string"})
    assert create({"Name": "a", "TaskTemplate": {"ContainerSpec": {"Image": "busybox"},
                                                  "RestartPolicy": {"Condition": "always"}}}) == (
        400, {"message": "invalid RestartCondition: \"always\""})
    assert create({"Name": "a", "TaskTemplate": image,
                   "UpdateConfig": {"FailureAction": "explode"}}) == (
        400, {"message": "unrecognized update failure action explode"})
    assert create({"Name": "a", "TaskTemplate": image, "RollbackConfig": {"Order": "random"}}) == (
        400, {"message": "unrecognized update order random"})
    assert create({"Name": "a", "TaskTemplate": image,
                   "UpdateConfig": {"MaxFailureRatio": 2}}) == (
        400, {"message": "rpc error: code = InvalidArgument desc = TaskSpec: "
                         "update-maxfailureratio cannot be less than 0 or bigger than 1"})
    assert create({"Name": "a", "TaskTemplate": {
        "ContainerSpec": {"Image": "busybox", "Mounts": [{"Type": "nfs", "Target": "/x"}]}}}) == (
        400, {"message": "invalid MountType: \"nfs\""})
    assert create({"Name": "a", "TaskTemplate": image, "EndpointSpec": {"Ports": [
        {"TargetPort": 80, "PublishedPort": 81}, {"TargetPort": 90, "PublishedPort": 81}]}}) == (
        400, {"message": "rpc error: code = InvalidArgument desc = EndpointSpec: duplicate "
                         "published ports provided"})
    assert create({"Name": "a", "TaskTemplate": image, "EndpointSpec": {"Mode": "dnsrr", "Ports": [
        {"TargetPort": 80}]}}) == (
        400, {"message": "rpc error: code = InvalidArgument desc = EndpointSpec: port published "
                         "with ingress mode can't be used with dnsrr mode"})
    assert create({"Name": "a", "TaskTemplate": {"ContainerSpec": {"Image": "busybox", "Secrets": [
        {"File": {"Name": "s"}, "SecretID": "i", "SecretName": "s"}]}}}) == (
        400, {"message": "rpc error: code = InvalidArgument desc = secret not found: s"})
    assert create({"Name": "a", "TaskTemplate": {"Networks": [{"Target": "nosuch"}],
                                                  "ContainerSpec": {"Image": "busybox"}}}) == (
        500, {"message": "network nosuch not found"})
    assert call(shoald, "GET", "/services")[1] == []


# Unknown keys go, lower-case keys are Go's fields, ports get the defaults and a dynamic
# published port, global services show 0/0.
def test_api_normalizes_and_allocates(shoald, docker_cli):
    init(shoald)
    status, body = call(shoald, "POST", "/services/create", {
        "name": "web", "bogus": 1, "taskTemplate": {"containerSpec": {"image": "nginx"}},
        "endpointSpec": {"ports": [{"targetPort": 80}, {"targetPort": 53, "protocol": "UDP"}]}})
    assert status == 201, body
    web = call(shoald, "GET", f"/services/{body['ID']}")[1]
    assert list(web["Spec"]) == ["Name", "Labels", "TaskTemplate", "Mode", "EndpointSpec"]
    assert web["Spec"]["Mode"] == {"Replicated": {"Replicas": 1}}
    assert web["Endpoint"]["Ports"] == [
        {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 30000, "PublishMode": "ingress"},
        {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 30000, "PublishMode": "ingress"}]
    r = docker_(shoald, "service", "create", "-d", "--name", "g", "--mode", "global", "-p", "80",
                "busybox")
    assert r.returncode == 0, r.stderr
    r = docker_(shoald, "service", "ls")
    lines = r.stdout.splitlines()
    # one node, no busybox image: its global task comes (or not yet), and does not run
    assert re.fullmatch(r"[0-9a-z]{12}\s+g\s+global\s+0/[01]\s+busybox:latest\s+\*:30001->80/tcp",
                        lines[1]), r.stdout
    assert re.fullmatch(r"[0-9a-z]{12}\s+web\s+replicated\s+0/1\s+nginx\s+"
                        r"\*:30000->80/tcp, \*:30000->53/udp", lines[2]), r.stdout
    # an update that keeps the port keeps its allocation (read again: the allocator writes
    # the service's virtual IP after its creation, as swarmkit's does)
    web = call(shoald, "GET", "/services/web")[1]
    spec = web["Spec"]
    spec["Labels"] = {"a": "b"}
    status, body = call(shoald, "POST",
                        f"/services/web/update?version={web['Version']['Index']}", spec)
    assert (status, body) == (200, {"Warnings": None})
    assert call(shoald, "GET", "/services/web")[1]["Endpoint"]["Ports"] == web["Endpoint"]["Ports"]


# GET /services filters by name and ID prefix, label and mode; bad arguments are refused.
def test_list_filters_and_arguments(shoald, docker_cli):
    init(shoald)
    vote = create_vote(shoald)
    r = docker_(shoald, "service", "create", "-d", "--name", "worker", "--mode", "global",
                "--label", "tier=back", "busybox")
    assert r.returncode == 0, r.stderr

    def names(filters):
        status, body = call(shoald, "GET", "/services?filters=" + q(filters))
        assert status == 200, body
        return [s["Spec"]["Name"] for s in body]

    assert names({"name": ["vo"]}) == ["vote"]
    assert names({"name": {"w": True}}) == ["worker"]
    assert names({"id": [vote[:5]]}) == ["vote"]
    assert names({"label": ["tier=back"]}) == ["worker"]
    assert names({"label": ["tier"]}) == ["worker"]
    assert names({"mode": ["replicated"]}) == ["vote"]
    assert names({"mode": ["global"]}) == ["worker"]
    assert names({"runtime": ["plugin"]}) == []
    assert call(shoald, "GET", "/services?filters=" + q({"bogus": ["x"]})) == (
        400, {"message": "invalid filter 'bogus'"})
    assert call(shoald, "GET", "/services?status=maybe") == (
        400, {"message": "invalid value for status: maybe: strconv.ParseBool: parsing "
                         "\"maybe\": invalid syntax"})
    assert call(shoald, "GET", "/services/vote?insertDefaults=2") == (
        400, {"message": "invalid value for insertDefaults: 2: strconv.ParseBool: parsing "
                         "\"2\": invalid syntax"})
    status, body = call(shoald, "GET", "/services?status=1&filters=" + q({"name": ["worker"]}))
    # the global task on the one node may not be there yet; it never runs (no image)
    assert body[0]["ServiceStatus"] in ({"RunningTasks": 0, "DesiredTasks": d,
                                         "CompletedTasks": 0} for d in (0, 1))
    # a prefix shared by both IDs is ambiguous, none is not found
    status, body = call(shoald, "GET", "/services/" + vote[:1])
    assert status in (200, 400)
    if status == 400:
        assert body == {"message": f"service {vote[:1]} is ambiguous (2 matches found)"}


# Updates that change the mode or the name, or roll back without a previous spec, are
# refused with swarmkit's codes; so are bad registryAuthFrom and rollback arguments.
def test_update_refusals(shoald, docker_cli):
    init(shoald)
    create_vote(shoald)
    # the allocator gives the service its virtual IP just after its creation: read after
    wait_until(lambda: call(shoald, "GET", "/services/vote")[1]["Endpoint"].get("VirtualIPs"),
               10)
    svc = call(shoald, "GET", "/services/vote")[1]
    version, spec = svc["Version"]["Index"], svc["Spec"]
    path = f"/services/vote/update?version={version}"

    def update(s, extra=""):
        return call(shoald, "POST", path + extra, s)

    assert update(dict(spec, Mode={"Global": {}})) == (
        501, {"message": "rpc error: code = Unimplemented desc = service mode change is not "
                         "allowed"})
    assert update(dict(spec, Name="vote2")) == (
        501, {"message": "rpc error: code = Unimplemented desc = renaming services is not "
                         "supported"})
    assert update(spec, "&rollback=previous") == (
        400, {"message": "rpc error: code = FailedPrecondition desc = service "
                         f"{svc['ID']} does not have a previous spec"})
    assert update(spec, "&rollback=sideways") == (
        500, {"message": "unrecognized rollback option sideways"})
    assert update(spec, "&registryAuthFrom=elsewhere") == (
        500, {"message": "unsupported registryAuthFrom value"})
    assert update(spec, "&registryAuthFrom=previous-spec") == (
        500, {"message": "service does not have a previous spec"})
    assert call(shoald, "GET", "/services/vote")[1]["Version"]["Index"] == version


# GET /tasks resolves service and node names, validates its filters and state names.
def test_tasks_endpoint(shoald, docker_cli):
    init(shoald)
    vote = create_vote(shoald)
    node = shoald.get_json("/info")["Swarm"]["NodeID"]
    hostname = shoald.get_json(f"/nodes/{node}")["Description"]["Hostname"]
    status, body = call(shoald, "GET", "/tasks")
    assert status == 200 and isinstance(body, list)
    for filters in ({"service": ["vote"]}, {"service": {vote: True}, "_up-to-date": {"true": True}},
                    {"node": [hostname]}, {"desired-state": ["RUNNING", "shutdown"]}):
        status, body = call(shoald, "GET", "/tasks?filters=" + q(filters))
        assert status == 200, body
        # whatever the orchestrator made by now, only matching tasks come back
        for t in body:
            if "service" in filters:
                assert t["ServiceID"] == vote
            if "node" in filters:
                assert t["NodeID"] == node
    assert call(shoald, "GET", "/tasks?filters=" + q({"service": ["nosuch"]})) == (
        404, {"message": "service nosuch not found"})
    assert call(shoald, "GET", "/tasks?filters=" + q({"node": ["nosuch"]})) == (
        404, {"message": "node nosuch not found"})
    assert call(shoald, "GET", "/tasks?filters=" + q({"desired-state": ["sleeping"]})) == (
        500, {"message": "Invalid desired-state filter: 'sleeping'"})
    assert call(shoald, "GET", "/tasks?filters=" + q({"slot": ["1"]})) == (
        400, {"message": "invalid filter 'slot'"})
    assert call(shoald, "GET", "/tasks/nosuch") == (404, {"message": "task nosuch not found"})
    r = docker_(shoald, "service", "ps", "vote")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].split() == [
        "ID", "NAME", "IMAGE", "NODE", "DESIRED", "STATE", "CURRENT", "STATE", "ERROR", "PORTS"]


# docker-py creates, lists, finds, updates, scales and removes services.
def test_docker_py(shoald):
    client = docker.DockerClient(base_url=shoald.host, version="1.41", timeout=30)
    client.swarm.init(advertise_addr="127.0.0.1", listen_addr=f"127.0.0.1:{free_port()}")
    svc = client.services.create(
        "instavote/vote", name="vote", labels={"app": "vote"}, env=["A=1"],
        mode=docker.types.ServiceMode("replicated", replicas=2),
        endpoint_spec=docker.types.EndpointSpec(ports={8080: 80}))
    assert svc.name == "vote"
    assert svc.attrs["Spec"]["Mode"] == {"Replicated": {"Replicas": 2}}
    assert svc.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=1"]
    assert svc.attrs["Endpoint"]["Ports"][0]["PublishedPort"] == 8080
    other = client.services.create("busybox", command=["sleep", "60"], mode="global")
    assert re.fullmatch(r"[a-z]+_[a-z]+", other.name)
    assert sorted(s.name for s in client.services.list()) == sorted(["vote", other.name])
    assert [s.id for s in client.services.list(filters={"label": "app=vote"})] == [svc.id]
    assert client.services.get("vote").id == svc.id
    assert client.services.get(svc.id[:8]).name == "vote"
    def retried(call):
        # docker-py sends back the spec it read with insertDefaults: the template changes
        # and the updater writes the service while it works (here its tasks have no image,
        # so it never settles): a write may meet a newer version, as with Docker
        for _ in range(10):
            svc.reload()
            try:
                return call()
            except docker.errors.APIError as e:
                if "update out of sequence" not in str(e):
                    raise
                time.sleep(0.2)
        return call()

    retried(lambda: svc.update(mode=docker.types.ServiceMode("replicated", replicas=4)))
    svc.reload()
    assert svc.attrs["Spec"]["Mode"] == {"Replicated": {"Replicas": 4}}
    assert svc.attrs["PreviousSpec"]["Mode"] == {"Replicated": {"Replicas": 2}}
    assert retried(lambda: svc.scale(1))
    svc.reload()
    assert svc.attrs["Spec"]["Mode"] == {"Replicated": {"Replicas": 1}}
    assert isinstance(svc.tasks(), list)
    with pytest.raises(docker.errors.NotFound) as e:
        client.services.get("nosuch")
    assert e.value.explanation == "service nosuch not found"
    with pytest.raises(docker.errors.APIError) as e:
        client.services.create("instavote/vote", name="vote")
    assert e.value.status_code == 409
    svc.remove()
    other.remove()
    assert client.services.list() == []
    client.close()


# Creating, updating and removing a service publishes Docker's "service" events.
def test_service_events(shoald, docker_cli):
    init(shoald)
    since = int(time.time()) - 1
    sid = create_vote(shoald)
    r = docker_(shoald, "service", "update", "-d", "--replicas", "2", "--image",
                "instavote/vote:indent", "vote")
    assert r.returncode == 0, r.stderr
    r = docker_(shoald, "service", "rm", "vote")
    assert r.returncode == 0, r.stderr
    until = int(time.time()) + 1
    r = docker_(shoald, "events", "--since", str(since), "--until", str(until), "--filter",
                "type=service", "--format", "{{json .}}")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(e["Action"], e["Actor"]["ID"], e["scope"]) for e in events] == [
        ("create", sid, "swarm"), ("update", sid, "swarm"), ("remove", sid, "swarm")]
    assert events[0]["Actor"]["Attributes"] == {"name": "vote"}
    assert events[1]["Actor"]["Attributes"] == {
        "name": "vote", "image.old": "instavote/vote:latest", "image.new": "instavote/vote:indent",
        "replicas.old": "6", "replicas.new": "2"}
