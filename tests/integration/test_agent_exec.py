"""The agent's task executor (src/agent) with real runc containers.

There is no agent session yet, so each test drives the executor through shoald's test-only
routes (shoald --debug-agent-api): POST /_shoal/agent/assign gives it the node's whole task
set, GET /_shoal/agent/reports returns every status report so far. What the executor made
is checked the way users see it, with the real docker CLI against the same shoald.
"""
import json
import os
import random
import signal
import string

import pytest

from conftest import run, wait_until
from test_images import vote_images  # noqa: F401  (the session fixture)

IMAGE = "instavote/vote:latest"
NODE = "nodeagentexec0000000000001"[:25]
SERVICE_ID = "svcagentexec0000000000001"[:25]


def new_id():
    """A swarm object ID: 25 lower-case base-36 characters."""
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(25))


def task(service="web", slot=1, command=None, args=None, desired="running", image=IMAGE,
         **container_spec):
    """A task as the dispatcher sends it: Engine API form plus ServiceAnnotations."""
    spec = {"Image": image, **container_spec}
    if command is not None:
        spec["Command"] = command
    if args is not None:
        spec["Args"] = args
    t = {
        "ID": new_id(),
        "ServiceID": SERVICE_ID,
        "ServiceAnnotations": {"Name": service},
        "NodeID": NODE,
        "Spec": {"ContainerSpec": spec},
        "Status": {"State": "assigned", "Message": "scheduler assigned task to node"},
        "DesiredState": desired,
    }
    if slot:
        t["Slot"] = slot
    return t


@pytest.fixture
def agent(make_daemon, docker_cli, vote_images):  # noqa: F811
    """A shoald whose executor the test drives, with the vote images loaded."""
    d = make_daemon(args=("--debug-agent-api",))
    r = run([docker_cli, "-H", d.host, "load", "-i", vote_images[0]])
    assert r.returncode == 0, r.stderr
    return Agent(d, docker_cli)


class Agent:
    def __init__(self, daemon, cli):
        self.d = daemon
        self.cli = cli

    def assign(self, *tasks):
        status, _, body = self.d.request("POST", "/_shoal/agent/assign",
                                         body=json.dumps(list(tasks)),
                                         headers={"Content-Type": "application/json"})
        assert status == 204, body

    def reports(self, task_id):
        return [r["Status"] for r in self.d.get_json("/_shoal/agent/reports")
                if r["TaskID"] == task_id]

    def states(self, task_id):
        return [s["State"] for s in self.reports(task_id)]

    def wait_state(self, task_id, state, timeout=20):
        """Waits for a report of state; returns it."""
        def seen():
            return next((s for s in self.reports(task_id) if s["State"] == state), None)
        return wait_until(seen, timeout=timeout, what=f"task {task_id} {state}")

    def docker(self, *args):
        r = run([self.cli, "-H", self.d.host, *args], timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def inspect(self, name):
        return json.loads(self.docker("inspect", name))[0]

    def names(self, all_=True):
        out = self.docker("ps", "--format", "{{.Names}}", *(["-a"] if all_ else []))
        return sorted(out.split())


# A task runs as a container named <service>.<slot>.<task ID>, with the swarm labels and
# the spec's settings, and its reports climb from accepted to running with the PID.
def test_task_runs_as_labelled_container(agent):
    t = task(command=["sh", "-c"], args=["echo started; exec sleep 1000"],
             Env=["COLOR=blue"], Dir="/tmp", Labels={"team": "blue"}, Hostname="taskhost",
             StopGracePeriod=3 * 10**9, ReadOnly=True, Hosts=["10.9.9.9 db db.local"],
             DNSConfig={"Nameservers": ["10.0.0.53"], "Search": ["example.org"]},
             Sysctls={"net.ipv4.ip_forward": "1"})
    t["Spec"]["Resources"] = {"Limits": {"NanoCPUs": 500000000, "MemoryBytes": 64 << 20,
                                         "Pids": 100}}
    t["Spec"]["RestartPolicy"] = {"Condition": "any"}
    agent.assign(t)
    running = agent.wait_state(t["ID"], "running")
    assert agent.states(t["ID"]) == ["accepted", "preparing", "ready", "starting", "running"]
    msgs = [s["Message"] for s in agent.reports(t["ID"])]
    assert msgs == ["accepted", "preparing", "prepared", "starting", "started"]
    cs = running["ContainerStatus"]
    assert cs["PID"] > 0 and cs["ExitCode"] == 0 and len(cs["ContainerID"]) == 64
    assert os.path.exists(f"/proc/{cs['PID']}")
    assert running["PortStatus"] == {} and "Err" not in running
    assert "ContainerStatus" not in agent.reports(t["ID"])[0]

    name = f"web.1.{t['ID']}"
    assert agent.names(all_=False) == [name]
    info = agent.inspect(name)
    assert info["Id"] == cs["ContainerID"] and info["State"]["Pid"] == cs["PID"]
    # the image's own labels come along, as with docker run
    labels = {k: v for k, v in info["Config"]["Labels"].items()
              if not k.startswith("org.opencontainers.image.")}
    assert labels == {
        "team": "blue",
        "com.docker.swarm.node.id": NODE,
        "com.docker.swarm.service.id": SERVICE_ID,
        "com.docker.swarm.service.name": "web",
        "com.docker.swarm.task": "",
        "com.docker.swarm.task.id": t["ID"],
        "com.docker.swarm.task.name": name,
    }
    assert info["Config"]["Image"] == IMAGE
    assert info["Config"]["Entrypoint"] == ["sh", "-c"]
    assert info["Config"]["Cmd"] == ["echo started; exec sleep 1000"]
    assert "COLOR=blue" in info["Config"]["Env"]
    assert info["Config"]["WorkingDir"] == "/tmp"
    assert info["Config"]["Hostname"] == "taskhost"
    assert info["Config"]["StopTimeout"] == 3
    hc = info["HostConfig"]
    assert hc["RestartPolicy"]["Name"] == "no"
    assert hc["ReadonlyRootfs"] is True
    assert hc["NanoCpus"] == 500000000 and hc["Memory"] == 64 << 20 and hc["PidsLimit"] == 100
    assert hc["ExtraHosts"] == ["db:10.9.9.9", "db.local:10.9.9.9"]
    assert hc["Dns"] == ["10.0.0.53"] and hc["DnsSearch"] == ["example.org"]
    assert agent.docker("exec", name, "hostname").strip() == "taskhost"
    assert "10.9.9.9\tdb" in agent.docker("exec", name, "cat", "/etc/hosts")
    assert "started" in agent.docker("logs", name)

    # assigning the same set again changes nothing
    agent.assign(t)
    agent.assign(t)
    assert agent.names(all_=False) == [name]
    assert agent.states(t["ID"])[-1] == "running"

    # out of the set: stopped and removed, and nothing more is reported
    before = len(agent.reports(t["ID"]))
    agent.assign()
    wait_until(lambda: agent.names() == [], timeout=20, what="the container to go")
    assert len(agent.reports(t["ID"])) == before


# A container that exits 0 completes its task; one that exits 3 fails it with swarmkit's
# error; both were running first.
def test_exit_codes_complete_and_fail(agent):
    ok = task(slot=1, command=["sh", "-c", "exit 0"])
    bad = task(slot=2, command=["sh", "-c", "exit 3"])
    agent.assign(ok, bad)
    done = agent.wait_state(ok["ID"], "complete")
    failed = agent.wait_state(bad["ID"], "failed")
    assert agent.states(ok["ID"]) == ["accepted", "preparing", "ready", "starting",
                                      "running", "complete"]
    assert agent.states(bad["ID"]) == ["accepted", "preparing", "ready", "starting",
                                       "running", "failed"]
    assert done["Message"] == "finished" and "Err" not in done
    assert done["ContainerStatus"]["ExitCode"] == 0
    assert failed["Message"] == "started"
    assert failed["Err"] == "task: non-zero exit (3)"
    assert failed["ContainerStatus"]["ExitCode"] == 3
    assert failed["ContainerStatus"]["PID"] == 0
    # swarm restarts with new tasks: the containers stay exited
    info = agent.inspect(f"web.2.{bad['ID']}")
    assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 3


# Desired shutdown stops the container, SIGKILL after the grace period when the process
# ignores the signal, and reports shutdown; desired remove then removes the container.
def test_desired_shutdown_then_remove(agent):
    # sleep as PID 1 ignores SIGTERM: only the grace period's SIGKILL ends it
    t = task(command=["sleep", "1000"], StopGracePeriod=1 * 10**9)
    agent.assign(t)
    agent.wait_state(t["ID"], "running")
    name = f"web.1.{t['ID']}"
    agent.assign(dict(t, DesiredState="shutdown"))
    down = agent.wait_state(t["ID"], "shutdown", timeout=15)
    assert down["Message"] == "shutdown" and "Err" not in down
    assert down["ContainerStatus"]["ExitCode"] == 137
    assert down["ContainerStatus"]["PID"] == 0
    info = agent.inspect(name)
    assert info["State"]["Status"] == "exited"
    agent.assign(dict(t, DesiredState="remove"))
    wait_until(lambda: agent.names() == [], timeout=20, what="the container to go")
    assert agent.states(t["ID"])[-1] == "shutdown"


# A user who removes a task's running container fails the task with the kill's exit; the
# executor makes no other container for it (swarm replaces tasks, not containers).
def test_container_removed_by_user_fails_task(agent):
    t = task(command=["sleep", "1000"])
    agent.assign(t)
    agent.wait_state(t["ID"], "running")
    agent.docker("rm", "-f", f"web.1.{t['ID']}")
    failed = agent.wait_state(t["ID"], "failed")
    assert failed["Err"] == "task: non-zero exit (137)"
    # a later task running proves the pass that saw the failed one is over
    other = task(slot=2, command=["sleep", "1000"])
    agent.assign(t, other)
    agent.wait_state(other["ID"], "running")
    assert agent.names() == [f"web.2.{other['ID']}"]
    assert agent.states(t["ID"])[-1] == "failed"


# A task whose image is not on the node is rejected with Docker's text; no container is
# made.
def test_missing_image_rejected(agent):
    t = task(image="nosuch/image:1")
    agent.assign(t)
    rejected = agent.wait_state(t["ID"], "rejected")
    assert agent.states(t["ID"]) == ["accepted", "preparing", "rejected"]
    assert rejected["Err"] == "No such image: nosuch/image:1"
    assert rejected["Message"] == "preparing"
    assert "ContainerStatus" not in rejected
    assert agent.names() == []


# A global service's task has no slot: its container is named after the node.
def test_global_task_named_by_node(agent):
    t = task(service="agent", slot=0, command=["sleep", "1000"])
    agent.assign(t)
    agent.wait_state(t["ID"], "running")
    assert agent.names() == [f"agent.{NODE}.{t['ID']}"]


# A health check holds the task in starting until it passes; a failing one stops the
# container and fails the task.
def test_healthcheck_gates_running(agent):
    hc = {"Interval": 200 * 10**6, "Timeout": 2 * 10**9, "Retries": 1}
    good = task(slot=1, command=["sleep", "1000"], Healthcheck=dict(hc, Test=["CMD", "true"]))
    bad = task(slot=2, command=["sleep", "1000"], StopGracePeriod=0,
               Healthcheck=dict(hc, Test=["CMD", "false"]))
    agent.assign(good, bad)
    agent.wait_state(good["ID"], "running")
    assert agent.inspect(f"web.1.{good['ID']}")["State"]["Health"]["Status"] == "healthy"
    failed = agent.wait_state(bad["ID"], "failed")
    assert "running" not in agent.states(bad["ID"])
    assert failed["Err"] == "task: non-zero exit (137): dockerexec: unhealthy container"
    assert failed["Message"] == "starting"


# After a shoald restart the containers that kept running are taken back, not made again:
# a running task reports running with the same container and PID, a task whose container
# died meanwhile fails with its exit, and a task no longer assigned loses its container.
def test_restart_adopts_containers(agent):
    keep = task(slot=1, command=["sleep", "1000"])
    dies = task(slot=2, command=["sleep", "1000"])
    gone = task(slot=3, command=["sleep", "1000"], StopGracePeriod=0)
    agent.assign(keep, dies, gone)
    before = {t["ID"]: agent.wait_state(t["ID"], "running")["ContainerStatus"]
              for t in (keep, dies, gone)}
    d = agent.d
    assert d.stop() == 0
    # while no shoald watches: one container dies
    os.kill(before[dies["ID"]]["PID"], signal.SIGKILL)
    d.start()
    wait_until(lambda: agent.inspect(f"web.2.{dies['ID']}")["State"]["Status"] == "exited",
               timeout=20, what="the dead container to be noticed")
    # the manager's view: all three were running; gone was deleted meanwhile
    def as_running(t):
        return dict(t, Status={"State": "running", "Message": "started",
                               "ContainerStatus": before[t["ID"]]})
    agent.assign(as_running(keep), as_running(dies))
    again = agent.wait_state(keep["ID"], "running")
    assert again["ContainerStatus"]["ContainerID"] == before[keep["ID"]]["ContainerID"]
    assert again["ContainerStatus"]["PID"] == before[keep["ID"]]["PID"]
    failed = agent.wait_state(dies["ID"], "failed")
    assert failed["Err"] == "task: non-zero exit (137)"
    assert failed["Message"] == "started"
    wait_until(lambda: agent.names() == sorted([f"web.1.{keep['ID']}",
                                                f"web.2.{dies['ID']}"]),
               timeout=20, what="the unassigned task's container to go")
    assert agent.names(all_=False) == [f"web.1.{keep['ID']}"]
    # and the adopted container is watched as before
    os.kill(before[keep["ID"]]["PID"], signal.SIGKILL)
    failed = agent.wait_state(keep["ID"], "failed")
    assert failed["Err"] == "task: non-zero exit (137)"


# Without --debug-agent-api the test-only routes do not exist.
def test_debug_routes_off_by_default(shoald):
    status, _, body = shoald.request("GET", "/_shoal/agent/reports")
    assert status == 404 and json.loads(body) == {"message": "page not found"}
    status, _, _ = shoald.request("POST", "/_shoal/agent/assign", body="[]")
    assert status == 404
