"""Rolling updates and rollbacks across `shoal machine` nodes with the real docker CLI: the
tutorial's last act (update config first, which replaces nothing, then a new image rolled
out two by two with a delay), `service rollback`, `update --rollback`, and an update whose
new tasks fail rolling itself back.

Each test makes its own machines and removes them even when it fails.
"""
import json
import time

import pytest

from conftest import wait_until
from test_images import vote_images  # noqa: F401  (the session fixture)
from test_machine import Machines, machines  # noqa: F401  (the fixture)
from test_services_cluster import load_vote, running, tasks
from test_swarm_cluster import cluster, docker, ok


def service(m, name):
    return json.loads(ok(docker(m, "node1", "service", "inspect", name)))[0]


def task_objects(m, name):
    ids = ok(docker(m, "node1", "service", "ps", "-q", "--no-trunc", name)).split()
    return json.loads(ok(docker(m, "node1", "inspect", "--type", "task", *ids)))


def images_running(m, name):
    """image tag -> number of tasks desired and observed running."""
    out = {}
    for t in task_objects(m, name):
        if t["DesiredState"] == "running" and t["Status"]["State"] == "running":
            tag = t["Spec"]["ContainerSpec"]["Image"].split(":")[-1]
            out[tag] = out.get(tag, 0) + 1
    return out


def update_state(m, name):
    return (service(m, name).get("UpdateStatus") or {}).get("State")


# update-parallelism and delay alone replace nothing; a new image then goes out two tasks at
# a time, the pairs a delay apart, until UpdateStatus says completed; the old tasks stay as
# Shutdown history with the old image.
@pytest.mark.plain_only
def test_rolling_update_two_by_two(machines, vote_images):
    cluster(machines)
    for tar in vote_images:
        load_vote(machines, ["node1", "node2", "node3"], tar)
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--replicas",
              "6", "instavote/vote"))
    assert wait_until(lambda: images_running(machines, "vote") == {"latest": 6}, 30)
    before = {t["ID"] for t in task_objects(machines, "vote")}
    ok(docker(machines, "node1", "service", "update", "-d", "--update-parallelism", "2",
              "--update-delay", "3s", "vote"))
    time.sleep(2)
    assert {t["ID"] for t in task_objects(machines, "vote")} == before
    cfg = service(machines, "vote")["Spec"]["UpdateConfig"]
    assert cfg["Parallelism"] == 2 and cfg["Delay"] == 3000000000
    t0 = time.monotonic()
    ok(docker(machines, "node1", "service", "update", "-d", "--image", "instavote/vote:indent",
              "vote"))
    assert wait_until(lambda: update_state(machines, "vote") == "updating", 10)
    assert service(machines, "vote")["UpdateStatus"]["Message"] == "update in progress"
    assert wait_until(lambda: update_state(machines, "vote") == "completed", 60)
    took = time.monotonic() - t0
    print(f"rolled out 6 tasks 2 by 2 with a 3 s delay in {took:.1f} s")
    st = service(machines, "vote")["UpdateStatus"]
    assert st["Message"] == "update completed" and st["CompletedAt"] >= st["StartedAt"]
    assert images_running(machines, "vote") == {"indent": 6}
    # the new tasks started in pairs, each pair at least the delay after the one before
    new = sorted(t["CreatedAt"] for t in task_objects(machines, "vote")
                 if t["ID"] not in before)
    assert len(new) == 6
    assert took >= 6, "three pairs need at least two delays"
    rows = tasks(machines, "vote")
    assert len([r for r in rows if r[2] == "Shutdown"]) == 6
    assert sorted(r[0] for r in rows if r[2] == "Running") == [f"vote.{i}" for i in range(1, 7)]


# `service rollback` goes back to the previous spec with its own UpdateStatus texts; an
# update whose new tasks fail, with --update-failure-action rollback, rolls itself back.
def test_rollbacks(machines, vote_images):
    cluster(machines, n=2)
    for tar in vote_images:
        load_vote(machines, ["node1", "node2"], tar)
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--replicas",
              "4", "--update-parallelism", "0", "instavote/vote"))
    assert wait_until(lambda: images_running(machines, "vote") == {"latest": 4}, 30)
    ok(docker(machines, "node1", "service", "update", "-d", "--image", "instavote/vote:indent",
              "vote"))
    assert wait_until(lambda: update_state(machines, "vote") == "completed", 40)
    ok(docker(machines, "node1", "service", "rollback", "-d", "vote"))
    assert wait_until(lambda: update_state(machines, "vote") == "rollback_completed", 40)
    assert service(machines, "vote")["UpdateStatus"]["Message"] == "rollback completed"
    assert images_running(machines, "vote") == {"latest": 4}
    # new tasks that exit at once fail within the monitor period: the update rolls back
    ok(docker(machines, "node1", "service", "update", "-d", "--update-failure-action",
              "rollback", "--update-monitor", "3s", "--restart-condition", "none",
              "--args", "false", "vote"))
    assert wait_until(lambda: update_state(machines, "vote") == "rollback_completed", 60), \
        service(machines, "vote").get("UpdateStatus")
    msg = service(machines, "vote")["UpdateStatus"]["Message"]
    assert msg.startswith("rollback completed") or "rolled back" in msg, msg
    assert wait_until(lambda: sum(running(machines, "vote").values()) == 4, 30)
    spec = service(machines, "vote")["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert "Args" not in spec


def ts(s):
    """An RFC 3339 time of the API as seconds (to the microsecond)."""
    import datetime
    day, frac = s.rstrip("Z").split(".") if "." in s else (s.rstrip("Z"), "0")
    t = datetime.datetime.strptime(day, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return t + float("0." + frac)


# From the tasks' own timestamps: never more than two slots without a running task during
# the update, and each pair created at least the delay after the previous pair ran.
@pytest.mark.plain_only
def test_update_pacing_from_timestamps(machines, vote_images):
    cluster(machines)
    for tar in vote_images:
        load_vote(machines, ["node1", "node2", "node3"], tar)
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--replicas",
              "6", "--update-parallelism", "2", "--update-delay", "3s", "instavote/vote"))
    assert wait_until(lambda: images_running(machines, "vote") == {"latest": 6}, 30)
    before = {t["ID"] for t in task_objects(machines, "vote")}
    ok(docker(machines, "node1", "service", "update", "-d", "--image", "instavote/vote:indent",
              "vote"))
    assert wait_until(lambda: update_state(machines, "vote") == "completed", 60)
    all_tasks = task_objects(machines, "vote")
    old = {t["Slot"]: ts(t["Status"]["Timestamp"]) for t in all_tasks if t["ID"] in before}
    new = {t["Slot"]: (ts(t["CreatedAt"]), ts(t["Status"]["Timestamp"]))
           for t in all_tasks if t["ID"] not in before}
    assert sorted(old) == sorted(new) == [1, 2, 3, 4, 5, 6]
    # slots down at any moment: old one stopped, new one not yet running
    for t in sorted(old.values()):
        down = sum(1 for s in old if old[s] <= t < new[s][1])
        assert down <= 2, (t, old, new)
    # swarmkit's delay is per update worker (two here): each worker's next task is
    # created the delay after its previous one runs
    pairs = sorted(new.values())
    for i in range(2, 6, 2):
        started = sorted(c for c, _ in pairs[i:i + 2])
        ran = sorted(r for _, r in pairs[i - 2:i])
        assert all(c >= r + 2.9 for c, r in zip(started, ran)), (i, pairs)


# An update whose new tasks exit at once, with the default failure action, pauses with
# Docker's message and leaves the remaining old tasks running.
def test_update_pauses_on_failure(machines, vote_images):
    cluster(machines, n=2)
    load_vote(machines, ["node1", "node2"], vote_images[0])
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--replicas",
              "4", "--update-monitor", "3s", "--restart-condition", "none",
              "instavote/vote"))
    assert wait_until(lambda: sum(running(machines, "vote").values()) == 4, 30)
    ok(docker(machines, "node1", "service", "update", "-d", "--args", "false", "vote"))
    assert wait_until(lambda: update_state(machines, "vote") == "paused", 40), \
        service(machines, "vote").get("UpdateStatus")
    msg = service(machines, "vote")["UpdateStatus"]["Message"]
    assert msg.startswith("update paused due to failure or early termination of task ")
    # the updater moved on while the first new task still looked alive (delay 0), as
    # swarmkit's does; once paused, what is left of the old tasks keeps running
    left = sum(running(machines, "vote").values())
    assert 2 <= left <= 3
    time.sleep(3)
    assert sum(running(machines, "vote").values()) == left
    assert all("Args" not in t["Spec"]["ContainerSpec"] for t in task_objects(machines, "vote")
               if t["DesiredState"] == "running" and t["Status"]["State"] == "running")


# start-first: a new task runs before its old one stops, so running tasks never drop
# below the replica count during the update.
@pytest.mark.plain_only
def test_start_first_keeps_replicas(machines, vote_images):
    cluster(machines, n=2)
    for tar in vote_images:
        load_vote(machines, ["node1", "node2"], tar)
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--replicas",
              "4", "--update-order", "start-first", "--update-delay", "1s", "instavote/vote"))
    assert wait_until(lambda: sum(running(machines, "vote").values()) == 4, 30)
    ok(docker(machines, "node1", "service", "update", "-d", "--image", "instavote/vote:indent",
              "vote"))
    lowest = 4
    deadline = time.monotonic() + 60
    while update_state(machines, "vote") != "completed" and time.monotonic() < deadline:
        lowest = min(lowest, sum(images_running(machines, "vote").values()))
    assert update_state(machines, "vote") == "completed"
    assert lowest >= 4
    assert images_running(machines, "vote") == {"indent": 4}


# The leader's node killed mid-update: the new leader carries the update on from the store.
def test_update_survives_failover(machines, vote_images):
    cluster(machines, heartbeat="1s")
    for tar in vote_images:
        load_vote(machines, ["node1", "node2", "node3"], tar)
    ok(docker(machines, "node1", "node", "promote", "node2", "node3"))
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--replicas",
              "4", "--constraint", "node.hostname != node1", "--update-parallelism", "1",
              "--update-delay", "2s", "instavote/vote"))
    assert wait_until(lambda: images_running(machines, "vote") == {"latest": 4}, 30)
    ok(docker(machines, "node1", "service", "update", "-d", "--image", "instavote/vote:indent",
              "vote"))
    assert wait_until(lambda: images_running(machines, "vote").get("indent", 0) >= 1, 30)
    machines("kill", "node1")

    def state_on(node):
        r = docker(machines, node, "service", "inspect", "vote")
        return r.returncode == 0 and (json.loads(r.stdout)[0].get("UpdateStatus") or {}) \
            .get("State")

    assert wait_until(lambda: state_on("node2") == "completed", 90)
    r = ok(docker(machines, "node2", "service", "ps", "vote", "--filter",
                  "desired-state=running", "--format", "{{.Image}}"))
    assert r.split() == ["instavote/vote:indent"] * 4
