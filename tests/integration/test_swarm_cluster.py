"""A swarm across `shoal machine` nodes, driven with the real docker CLI inside each node:
joins, agents' sessions and heartbeats, promotion, leader failover, quorum loss and
recovery, a worker going down and coming back, leave and rejoin, bad tokens.

Every test makes its own machines on a storage root and subnet of its own (the
`machines` fixture of test_machine.py) and removes them even when it fails.
"""
import json
import shlex
import time

import pytest

from conftest import wait_until
from test_machine import Machines, machines  # noqa: F401  (the fixture)

NO_LEADER = ("The swarm does not have a leader. It's possible that too few managers are "
             "online. Make sure more than half of the managers are online.")
WORKER_MSG = ("This node is not a swarm manager. Worker nodes can't be used to view or modify "
              "cluster state. Please run this command on a manager node or promote the current "
              "node to a manager.")


def docker(m, name, *args, timeout=60):
    """The docker CLI in a node; `machine ssh` runs its words through the shell, as ssh."""
    return m.ssh(name, *[shlex.quote(a) for a in ["docker", *args]], timeout=timeout)


def ok(r):
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def nodes(m, on="node1"):
    """hostname -> (status, availability, manager status) from `docker node ls`."""
    r = docker(m, on, "node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.Availability}} "
                 "{{.ManagerStatus}}")
    if r.returncode != 0:
        return {}
    out = {}
    for line in r.stdout.splitlines():
        words = line.split()
        out[words[0]] = tuple(words[1:]) + ("",) * (4 - len(words))
    return {h: v[:3] for h, v in out.items()}


def cluster(m, n=3, heartbeat=None):
    """node1..nodeN, a swarm initialized on node1 and the others joined as workers."""
    names = [f"node{i}" for i in range(1, n + 1)]
    for name in names:
        m.create(name)
    ip1 = m.ip("node1")
    ok(docker(m, "node1", "swarm", "init", "--advertise-addr", ip1))
    if heartbeat:
        ok(docker(m, "node1", "swarm", "update", "--dispatcher-heartbeat", heartbeat))
    token = ok(docker(m, "node1", "swarm", "join-token", "-q", "worker")).strip()
    for name in names[1:]:
        out = ok(docker(m, name, "swarm", "join", "--token", token, f"{ip1}:2377"))
        assert out.strip() == "This node joined a swarm as a worker."
    assert wait_until(lambda: [v[0] for v in nodes(m).values()] == ["Ready"] * n, 20), \
        nodes(m)
    return ip1, token


def leader(m, among):
    """The hostname `node ls` shows as Leader, asking each of among in turn."""
    for name in among:
        for host, v in nodes(m, on=name).items():
            if v[2] == "Leader":
                return host
    return None


# Two workers join with the worker token: node ls shows three Ready/Active nodes, node1
# Leader and marked as self, and the workers refuse cluster calls with Docker's text.
def test_join_workers(machines):
    ip1, _ = cluster(machines)
    table = nodes(machines)
    assert table["node1"] == ("Ready", "Active", "Leader")
    assert table["node2"][:2] == ("Ready", "Active") and table["node2"][2] == ""
    out = ok(docker(machines, "node1", "node", "ls"))
    self_line = [l for l in out.splitlines() if " node1 " in l][0]
    assert " * " in self_line
    r = docker(machines, "node2", "node", "ls")
    assert r.returncode != 0 and WORKER_MSG in r.stderr
    info = json.loads(ok(docker(machines, "node2", "info", "--format", "{{json .Swarm}}")))
    assert info["LocalNodeState"] == "active" and info["ControlAvailable"] is False
    assert info["RemoteManagers"][0]["Addr"] == f"{ip1}:2377"
    desc = json.loads(ok(docker(machines, "node1", "node", "inspect", "node2")))[0]
    assert desc["Description"]["Hostname"] == "node2"
    assert desc["Status"]["Addr"] == machines.ip("node2")


# A token with a wrong secret is refused by the manager; one whose CA digest is not the
# swarm's is refused by the joining node itself, before it sends the secret anywhere.
def test_bad_tokens(machines):
    for name in ("node1", "node2"):
        machines.create(name)
    ip1 = machines.ip("node1")
    ok(docker(machines, "node1", "swarm", "init", "--advertise-addr", ip1))
    token = ok(docker(machines, "node1", "swarm", "join-token", "-q", "worker")).strip()
    bad_secret = token[:-5] + ("00000" if not token.endswith("00000") else "11111")
    r = docker(machines, "node2", "swarm", "join", "--token", bad_secret, f"{ip1}:2377")
    assert r.returncode != 0
    assert "A valid join token is necessary to join this cluster" in r.stderr
    parts = token.split("-")
    parts[2] = "0" * len(parts[2])
    r = docker(machines, "node2", "swarm", "join", "--token", "-".join(parts), f"{ip1}:2377")
    assert r.returncode != 0 and "remote CA does not match fingerprint" in r.stderr
    r = docker(machines, "node2", "swarm", "join", "--token", "SWMTKN-1-nope", f"{ip1}:2377")
    assert r.returncode != 0 and "invalid join token" in r.stderr
    info = json.loads(ok(docker(machines, "node2", "info", "--format", "{{json .Swarm}}")))
    assert info["LocalNodeState"] == "inactive"
    # a rotated token no longer admits anyone
    ok(docker(machines, "node1", "swarm", "join-token", "-q", "--rotate", "worker"))
    r = docker(machines, "node2", "swarm", "join", "--token", token, f"{ip1}:2377")
    assert r.returncode != 0
    assert "A valid join token is necessary to join this cluster" in r.stderr


# Promoted workers become reachable managers; killing the leader's node elects another
# within seconds and writes go on; the old leader comes back as a follower with the write.
def test_promote_and_failover(machines):
    cluster(machines)
    ok(docker(machines, "node1", "node", "promote", "node2", "node3"))
    assert wait_until(lambda: nodes(machines).get("node3", ("",) * 3)[2] == "Reachable"
                      and nodes(machines).get("node2", ("",) * 3)[2] == "Reachable", 20), \
        nodes(machines)
    # a manager's view: node ls works on a promoted node too
    assert wait_until(lambda: nodes(machines, on="node3").get("node1", ("",) * 3)[2]
                      == "Leader", 20)
    # writes through a follower, one after the other, each reading what the last wrote
    for i in range(5):
        ok(docker(machines, "node3", "node", "update", "--label-add", f"k{i}=v", "node1"))
    labels = json.loads(ok(docker(machines, "node3", "node", "inspect", "node1")))[0]
    assert sorted(labels["Spec"]["Labels"]) == [f"k{i}" for i in range(5)]
    machines("kill", "node1")
    t0 = time.monotonic()
    assert wait_until(lambda: leader(machines, ["node2", "node3"]) in ("node2", "node3"), 30)
    print(f"failover: {time.monotonic() - t0:.1f} s")
    new = leader(machines, ["node2", "node3"])
    other = "node3" if new == "node2" else "node2"
    assert wait_until(lambda: docker(machines, other, "node", "update", "--label-add",
                                              "zone=a", "node2").returncode == 0, 20)
    ok(machines("start", "node1"))

    def zone_on_node1():
        r = docker(machines, "node1", "node", "inspect", "node2")
        return r.returncode == 0 and json.loads(r.stdout)[0]["Spec"]["Labels"].get("zone")

    assert wait_until(lambda: zone_on_node1() == "a", 30)
    assert leader(machines, ["node1"]) == new


# With two of three managers stopped, writes fail with Docker's no-leader text; once they
# are back, writes work again without anyone's help.
@pytest.mark.plain_only
def test_quorum_loss_and_recovery(machines):
    cluster(machines)
    ok(docker(machines, "node1", "node", "promote", "node2", "node3"))
    assert wait_until(lambda: [v[2] for v in nodes(machines).values()].count("Reachable")
                      == 2, 20), nodes(machines)
    ok(machines("stop", "node2"))
    ok(machines("stop", "node3"))
    r = docker(machines, "node1", "node", "update", "--label-add", "x=1", "node1",
                        timeout=90)
    assert r.returncode != 0 and NO_LEADER in r.stderr, r.stderr
    ok(machines("start", "node2"))
    ok(machines("start", "node3"))
    assert wait_until(lambda: docker(machines, "node1", "node", "update", "--label-add",
                                              "x=2", "node1").returncode == 0, 30)


# A stopped worker is Down after the heartbeat grace and Ready again once it is back.
def test_worker_down_and_back(machines):
    cluster(machines, n=2, heartbeat="1s")
    ok(machines("stop", "node2"))
    t0 = time.monotonic()
    assert wait_until(lambda: nodes(machines)["node2"][0] == "Down", 20), nodes(machines)
    print(f"down after {time.monotonic() - t0:.1f} s")
    ok(machines("start", "node2"))
    assert wait_until(lambda: nodes(machines)["node2"][0] == "Ready", 20), nodes(machines)


# A worker leaves (its node object stays, Down) and joins again as a new node.
def test_leave_and_rejoin(machines):
    ip1, token = cluster(machines, n=2, heartbeat="1s")
    out = ok(docker(machines, "node2", "swarm", "leave"))
    assert out.strip() == "Node left the swarm."
    info = json.loads(ok(docker(machines, "node2", "info", "--format", "{{json .Swarm}}")))
    assert info["LocalNodeState"] == "inactive"
    assert wait_until(lambda: nodes(machines)["node2"][0] == "Down", 20)
    ok(docker(machines, "node2", "swarm", "join", "--token", token, f"{ip1}:2377"))
    r = ok(docker(machines, "node1", "node", "ls", "--format", "{{.Hostname}} {{.Status}}"))
    assert wait_until(lambda: sorted(ok(docker(machines, 
        "node1", "node", "ls", "--format", "{{.Hostname}} {{.Status}}")).split("\n")) ==
        sorted(["node1 Ready", "node2 Down", "node2 Ready", ""]), 20), r


# The last manager standing of three recovers the swarm with --force-new-cluster: it keeps
# the state (a label written before), leads alone, and writes work again.
@pytest.mark.plain_only
def test_force_new_cluster(machines):
    cluster(machines)
    ok(docker(machines, "node1", "node", "promote", "node2", "node3"))
    assert wait_until(lambda: [v[2] for v in nodes(machines).values()].count("Reachable")
                      == 2, 20), nodes(machines)
    ok(docker(machines, "node1", "node", "update", "--label-add", "kept=yes", "node1"))
    machines("kill", "node2")
    machines("kill", "node3")
    r = docker(machines, "node1", "node", "update", "--label-add", "x=1", "node1", timeout=90)
    assert r.returncode != 0 and NO_LEADER in r.stderr, r.stderr
    ip1 = machines.ip("node1")
    ok(docker(machines, "node1", "swarm", "init", "--force-new-cluster", "--advertise-addr",
              ip1))
    assert wait_until(lambda: docker(machines, "node1", "node", "update", "--label-add",
                                     "x=2", "node1").returncode == 0, 20)
    out = json.loads(ok(docker(machines, "node1", "node", "inspect", "node1")))[0]
    assert out["Spec"]["Labels"] == {"kept": "yes", "x": "2"}
    assert nodes(machines)["node1"][2] == "Leader"


# A worker whose manager dies finds another: with three managers, killing the leader leaves
# the worker Ready in the new leader's node ls, holding its session there.
@pytest.mark.plain_only
def test_worker_follows_new_leader(machines):
    ip1, token = cluster(machines, heartbeat="1s")
    ok(docker(machines, "node1", "node", "promote", "node2", "node3"))
    assert wait_until(lambda: [v[2] for v in nodes(machines).values()].count("Reachable")
                      == 2, 20), nodes(machines)
    machines.create("node4")
    ok(docker(machines, "node4", "swarm", "join", "--token", token, f"{ip1}:2377"))
    assert wait_until(lambda: nodes(machines).get("node4", ("",))[0] == "Ready", 20)
    machines("kill", "node1")
    assert wait_until(lambda: leader(machines, ["node2", "node3"]) in ("node2", "node3"), 30)
    new = leader(machines, ["node2", "node3"])
    # the new leader marks everyone unknown until their agents come back to it
    assert wait_until(lambda: nodes(machines, on=new).get("node4", ("",))[0] == "Ready" and
                      nodes(machines, on=new)["node1"][0] == "Down", 40), nodes(machines, new)
    info = json.loads(ok(docker(machines, "node4", "info", "--format", "{{json .Swarm}}")))
    assert info["LocalNodeState"] == "active"
    assert {m["Addr"].split(":")[0] for m in info["RemoteManagers"]} >= \
        {machines.ip("node2"), machines.ip("node3")}
