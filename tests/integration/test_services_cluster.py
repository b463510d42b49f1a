"""Services across `shoal machine` nodes, the tutorial's acts with the real docker CLI: six
replicas spread two per node, `service ps`, drain and reactivation (nothing moves back),
scale, a node lost, removal. Tasks are real containers on each node's engine.

Each test makes its own machines (the `machines` fixture of test_machine.py) and removes
them even when it fails.
"""
import json
import select
import subprocess
import time

import pytest

from conftest import SHOAL, wait_until
from test_images import vote_images  # noqa: F401  (the session fixture)
from test_machine import Machines, machines  # noqa: F401  (the fixture)
from test_swarm_cluster import cluster, docker, nodes, ok


def load_vote(m, names, tar):
    for name in names:
        ok(docker(m, name, "load", "-i", tar))


def tasks(m, service, on="node1"):
    """[(name, node, desired, current state word)] of `service ps`, history rows included."""
    r = docker(m, on, "service", "ps", service, "--format",
               "{{.Name}}|{{.Node}}|{{.DesiredState}}|{{.CurrentState}}")
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        name, node, desired, current = line.split("|")
        out.append((name.strip().lstrip("\\_ "), node, desired, current.split()[0]))
    return out


def running(m, service, on="node1"):
    """node -> number of tasks desired and observed running."""
    count = {}
    for _, node, desired, current in tasks(m, service, on):
        if desired == "Running" and current == "Running":
            count[node] = count.get(node, 0) + 1
    return count


def containers(m, name):
    """Names of the swarm task containers on a node (docker ps, running)."""
    r = ok(docker(m, name, "ps", "--filter", "label=com.docker.swarm.task.id", "--format",
                  "{{.Names}}"))
    return sorted(r.split())


# service create waits for convergence and lands two tasks on each node, as containers named
# <service>.<slot>.<task id> carrying the swarm labels; service ls shows 6/6.
def test_create_spreads_and_converges(machines, vote_images):
    cluster(machines)
    load_vote(machines, ["node1", "node2", "node3"], vote_images[0])
    t0 = time.monotonic()
    out = ok(docker(machines, "node1", "service", "create", "--name", "vote", "--publish",
                    "8080:80", "--replicas", "6", "instavote/vote", timeout=120))
    print(f"service create (with the CLI's 5 s verify): {time.monotonic() - t0:.1f} s")
    assert "verify: Service" in out and "converged" in out
    assert running(machines, "vote") == {"node1": 2, "node2": 2, "node3": 2}
    slots = sorted(int(n.split(".")[1]) for n, _, _, _ in tasks(machines, "vote"))
    assert slots == [1, 2, 3, 4, 5, 6]
    names = containers(machines, "node2")
    assert len(names) == 2 and all(n.startswith("vote.") for n in names)
    info = json.loads(ok(docker(machines, "node2", "inspect", names[0])))[0]
    labels = info["Config"]["Labels"]
    assert labels["com.docker.swarm.service.name"] == "vote"
    assert labels["com.docker.swarm.node.id"] == json.loads(ok(docker(
        machines, "node1", "node", "inspect", "node2")))[0]["ID"]
    assert names[0] == "vote.%s.%s" % (labels["com.docker.swarm.task.name"].split(".")[1],
                                       labels["com.docker.swarm.task.id"])
    ls = ok(docker(machines, "node1", "service", "ls", "--format",
                   "{{.Name}} {{.Mode}} {{.Replicas}} {{.Ports}}"))
    assert ls.split("\n")[0] == "vote replicated 6/6 *:8080->80/tcp"


# Draining node2 shuts its two tasks down and replaces them elsewhere (history rows show
# Shutdown on node2); making it active again moves nothing back; a scale-up lands there.
def test_drain_active_scale(machines, vote_images):
    cluster(machines)
    load_vote(machines, ["node1", "node2", "node3"], vote_images[0])
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--replicas",
              "6", "instavote/vote"))
    assert wait_until(lambda: running(machines, "vote") ==
                      {"node1": 2, "node2": 2, "node3": 2}, 30)
    ok(docker(machines, "node1", "node", "update", "--availability", "drain", "node2"))
    assert wait_until(lambda: running(machines, "vote") == {"node1": 3, "node3": 3}, 30), \
        tasks(machines, "vote")
    shut = [t for t in tasks(machines, "vote") if t[1] == "node2"]
    assert len(shut) == 2 and all(t[2] == "Shutdown" and t[3] == "Shutdown" for t in shut)
    assert wait_until(lambda: containers(machines, "node2") == [], 20)
    assert nodes(machines)["node2"][1] == "Drain"
    ok(docker(machines, "node1", "node", "update", "--availability", "active", "node2"))
    time.sleep(2)
    assert running(machines, "vote") == {"node1": 3, "node3": 3}
    ok(docker(machines, "node1", "service", "scale", "vote=8", timeout=120))
    assert running(machines, "vote") == {"node1": 3, "node2": 2, "node3": 3}
    ok(docker(machines, "node1", "service", "scale", "vote=2", timeout=120))
    assert sum(running(machines, "vote").values()) == 2
    assert wait_until(lambda: sum(len(containers(machines, n)) for n in
                                  ("node1", "node2", "node3")) == 2, 30)


# A node that goes away (its heartbeats stop) is marked down and its tasks are replaced on
# the others; `service rm` takes every task container away on every node.
def test_node_down_and_rm(machines, vote_images):
    cluster(machines, heartbeat="1s")
    load_vote(machines, ["node1", "node2", "node3"], vote_images[0])
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--replicas",
              "6", "--restart-delay", "1s", "instavote/vote"))
    assert wait_until(lambda: running(machines, "vote") ==
                      {"node1": 2, "node2": 2, "node3": 2}, 30)
    machines("kill", "node3")
    t0 = time.monotonic()
    assert wait_until(lambda: running(machines, "vote").get("node1", 0) +
                      running(machines, "vote").get("node2", 0) == 6, 40), \
        tasks(machines, "vote")
    print(f"tasks of a lost node running elsewhere after {time.monotonic() - t0:.1f} s")
    assert nodes(machines)["node3"][0] == "Down"
    ok(docker(machines, "node1", "service", "rm", "vote"))
    assert wait_until(lambda: containers(machines, "node1") == [] and
                      containers(machines, "node2") == [], 30)
    r = docker(machines, "node1", "service", "ps", "vote")
    assert r.returncode != 0 and "no such service: vote" in r.stderr


# service logs gathers every task's lines from the nodes that ran them, stdout and stderr
# apart, with Docker's "<task>@<node> | line" prefixes; --tail and -t as docker shows them;
# a follower manager reads them through the leader; -f goes on streaming.
def test_service_logs(machines, vote_images):
    cluster(machines, n=2)
    load_vote(machines, ["node1", "node2"], vote_images[0])
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "hello", "--replicas", "2",
              "instavote/vote", "sh", "-c",
              "echo hello from $(hostname); echo err >&2; sleep 2; echo late; sleep 1000"))
    assert wait_until(lambda: running(machines, "hello") == {"node1": 1, "node2": 1}, 30)
    time.sleep(3)
    r = docker(machines, "node1", "service", "logs", "hello")
    assert r.returncode == 0, r.stderr
    out = sorted(r.stdout.splitlines())
    assert len(out) == 4, r.stdout
    assert sorted(l.split("|")[1].strip().split()[0] for l in out) == ["hello", "hello",
                                                                       "late", "late"]
    prefixes = {l.split("|")[0].strip() for l in out}
    assert {p.split("@")[1] for p in prefixes} == {"node1", "node2"}
    assert all(p.startswith("hello.") for p in prefixes)
    assert sorted(l.split("|")[1].strip() for l in r.stderr.splitlines()) == ["err", "err"]
    r = docker(machines, "node1", "service", "logs", "--tail", "1", "-t", "--no-task-ids",
               "hello")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2, r.stdout + r.stderr
    assert all(l.split()[0].endswith("Z") and l.split("|")[1].strip() == "late"
               for l in r.stdout.splitlines())
    ok(docker(machines, "node1", "node", "promote", "node2"))
    assert wait_until(lambda: docker(machines, "node2", "service", "logs", "hello")
                      .stdout.count("late") == 2, 20)
    # -f: lines keep coming from both nodes while the command runs
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "ticker", "--replicas",
              "2", "instavote/vote", "sh", "-c",
              "i=0; while true; i=$((i+1)); do echo tick $i; sleep 0.5; done"))
    assert wait_until(lambda: running(machines, "ticker") == {"node1": 1, "node2": 1}, 30)
    proc = subprocess.Popen([SHOAL, "machine", "ssh", "--storage-path", machines.storage,
                             "node1", "docker service logs -f ticker"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(0.5)
        seen = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                seen.append((time.monotonic(), proc.stdout.readline()))
            if len({l.split("@")[1].split()[0] for _, l in seen if "@" in l}) == 2 and \
                    seen[-1][0] - seen[0][0] > 2:
                break
        nodes_seen = {l.split("@")[1].split()[0] for _, l in seen if "@" in l}
        assert nodes_seen == {"node1", "node2"}, seen
        assert seen[-1][0] - seen[0][0] > 2, seen
    finally:
        proc.kill()
        proc.wait()


# pause keeps what runs and places nothing new; a constraint on the manager role lands on
# node1 only; a global service puts one task on each node and follows a new join.
@pytest.mark.plain_only
def test_pause_constraint_global(machines, vote_images):
    ip1, token = cluster(machines, n=2)
    load_vote(machines, ["node1", "node2"], vote_images[0])
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--replicas",
              "2", "instavote/vote"))
    assert wait_until(lambda: running(machines, "vote") == {"node1": 1, "node2": 1}, 30)
    ok(docker(machines, "node1", "node", "update", "--availability", "pause", "node2"))
    ok(docker(machines, "node1", "service", "scale", "-d", "vote=4"))
    assert wait_until(lambda: running(machines, "vote") == {"node1": 3, "node2": 1}, 30), \
        tasks(machines, "vote")
    ok(docker(machines, "node1", "node", "update", "--availability", "active", "node2"))
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "mgr", "--replicas", "3",
              "--constraint", "node.role == manager", "instavote/vote"))
    assert wait_until(lambda: running(machines, "mgr") == {"node1": 3}, 30)
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "glob", "--mode",
              "global", "instavote/vote"))
    assert wait_until(lambda: running(machines, "glob") == {"node1": 1, "node2": 1}, 30)
    machines.create("node3")
    load_vote(machines, ["node3"], vote_images[0])
    ok(docker(machines, "node3", "swarm", "join", "--token", token, f"{ip1}:2377"))
    assert wait_until(lambda: running(machines, "glob") ==
                      {"node1": 1, "node2": 1, "node3": 1}, 30), tasks(machines, "glob")
    # an unknown node in a constraint leaves the task pending, not an error
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "nowhere",
              "--constraint", "node.hostname == node9", "instavote/vote"))
    assert wait_until(lambda: [t[3] for t in tasks(machines, "nowhere")] == ["Pending"], 20)
    r = ok(docker(machines, "node1", "service", "ps", "nowhere", "--no-trunc", "--format",
                  "{{.Error}}"))
    # the CLI quotes the error, as docker's formatter does
    assert r.strip() == '"no suitable node (scheduling constraints not satisfied on 3 nodes)"'


# A task's container killed by hand is replaced per the restart policy, in the same slot,
# and a slot keeps at most the cluster's history limit of dead tasks.
@pytest.mark.plain_only
def test_restart_and_history(machines, vote_images):
    cluster(machines, n=1)
    load_vote(machines, ["node1"], vote_images[0])
    ok(docker(machines, "node1", "swarm", "update", "--task-history-limit", "2"))
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote",
              "--restart-delay", "100ms", "instavote/vote"))
    assert wait_until(lambda: running(machines, "vote") == {"node1": 1}, 30)
    for i in range(4):
        name = containers(machines, "node1")[0]
        ok(docker(machines, "node1", "kill", name))
        assert wait_until(lambda: containers(machines, "node1") not in ([], [name]), 30)
        assert wait_until(lambda: running(machines, "vote") == {"node1": 1}, 30)
    rows = tasks(machines, "vote")
    assert [r[0] for r in rows] == ["vote.1"] * len(rows)
    # the limit counts the slot's running task too, as swarmkit's task reaper does
    assert wait_until(lambda: len(tasks(machines, "vote")) == 2, 20), tasks(machines, "vote")
    states = [r[3] for r in tasks(machines, "vote")]
    assert states == ["Running", "Failed"]


# A node lost while its tasks were replaced elsewhere comes back: the containers of the
# tasks it no longer owns are stopped and removed.
@pytest.mark.plain_only
def test_returning_node_cleans_up(machines, vote_images):
    cluster(machines, n=2, heartbeat="1s")
    load_vote(machines, ["node1", "node2"], vote_images[0])
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--replicas",
              "4", "--restart-delay", "100ms", "instavote/vote"))
    assert wait_until(lambda: running(machines, "vote") == {"node1": 2, "node2": 2}, 30)
    ok(machines("stop", "node2"))
    assert wait_until(lambda: running(machines, "vote") == {"node1": 4}, 40), \
        tasks(machines, "vote")
    ok(machines("start", "node2"))
    assert wait_until(lambda: nodes(machines)["node2"][0] == "Ready", 30)
    assert wait_until(lambda: containers(machines, "node2") == [], 30)
    assert running(machines, "vote") == {"node1": 4}


# A worker leaving the swarm takes its task containers away, as dockerd's leave does; the
# manager replaces its tasks once the node is down.
def test_leave_removes_task_containers(machines, vote_images):
    cluster(machines, n=2, heartbeat="1s")
    load_vote(machines, ["node1", "node2"], vote_images[0])
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--replicas",
              "2", "--restart-delay", "100ms", "instavote/vote"))
    assert wait_until(lambda: running(machines, "vote") == {"node1": 1, "node2": 1}, 30)
    assert len(containers(machines, "node2")) == 1
    ok(docker(machines, "node2", "swarm", "leave"))
    assert wait_until(lambda: ok(docker(machines, "node2", "ps", "-aq")).strip() == "", 20)
    assert wait_until(lambda: running(machines, "vote") == {"node1": 2}, 30)


# docker-py drives the same services: create, tasks, scale, logs, update, remove.
@pytest.mark.plain_only
def test_docker_py_services(machines, vote_images):
    import docker as dockerpy
    cluster(machines, n=2)
    load_vote(machines, ["node1", "node2"], vote_images[0])
    client = dockerpy.DockerClient(base_url=f"tcp://{machines.ip('node1')}:2376",
                                   version="1.41")
    try:
        svc = client.services.create("instavote/vote", name="pyvote", command=["sh", "-c",
                                     "echo from $(hostname); sleep 1000"],
                                     mode=dockerpy.types.ServiceMode("replicated", 2))
        assert wait_until(lambda: sum(1 for t in svc.tasks()
                                      if t["Status"]["State"] == "running") == 2, 30)
        assert {t["NodeID"] for t in svc.tasks()} == {n.id for n in client.nodes.list()}
        assert svc.scale(3)
        assert wait_until(lambda: sum(1 for t in svc.tasks(filters={"desired-state": "running"})
                                      if t["Status"]["State"] == "running") == 3, 30)
        # docker-py's scale sends back the spec read with insertDefaults, which changes the
        # task template: Docker replaces the tasks then, and so does Shoal. The logs hold
        # the three running tasks' lines and those of the replaced ones still kept.
        logs = b"".join(svc.logs(stdout=True, stderr=True, timestamps=False))
        assert logs.count(b"from ") >= 3, logs
        svc.reload()
        assert svc.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 3
        svc.update(labels={"tier": "front"})
        svc.reload()
        assert svc.attrs["Spec"]["Labels"] == {"tier": "front"}
        assert [s.name for s in client.services.list()] == ["pyvote"]
        svc.remove()
        assert client.services.list() == []
    finally:
        client.close()
