"""The routing mesh across three `shoal machine` nodes: a published port answers on every
node, round robin over every task of the service on every node (the vote page names the
container that answered), from the host, from inside a node (localhost), from a node with
no task of the service, after a scale and after a drain; host-mode ports are bound only
where a task runs; a port published without a number gets one in 30000-32767; UDP is
meshed too; the ingress network is shown as Docker shows it; and a node leaving the swarm
takes its part of the mesh with it.

Every test makes its own machines on a storage root and subnet of its own (the `machines`
fixture of test_machine.py) and removes them even when it fails. Requests from the host go
straight to the nodes' addresses on the test's bridge, never through a proxy.
"""
import http.client
import json
import os
import re
import shlex
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
from collections import Counter

import pytest

from conftest import wait_until
from test_images import INDENT, LATEST, vote_images  # noqa: F401  (the session fixture)
from test_machine import Machines, machines  # noqa: F401  (the fixture)
from test_swarm_cluster import docker, nodes, ok

REF = "/work/shared/reference/docker-20.10"
CID = re.compile(r"Processed by container ID ([0-9a-f]{12})")


# ---- helpers ----

def mesh_cluster(m, n=3, images=(LATEST,)):
    """node1 (manager, leader) and workers node2..nodeN, each with the vote image (and the
    other images given); their addresses."""
    names = [f"node{i}" for i in range(1, n + 1)]
    for name in names:
        m.create(name)
        for tar in images:
            ok(m.ssh(name, "docker", "load", "-i", tar))
    ips = [m.ip(name) for name in names]
    ok(docker(m, "node1", "swarm", "init", "--advertise-addr", ips[0]))
    token = ok(docker(m, "node1", "swarm", "join-token", "-q", "worker")).strip()
    for name in names[1:]:
        ok(docker(m, name, "swarm", "join", "--token", token, f"{ips[0]}:2377"))
    wait_until(lambda: [v[0] for v in nodes(m).values()] == ["Ready"] * n, 20, 0.1,
               "nodes ready")
    return ips


def page(ip, port, timeout=5):
    """The container ID the vote page at ip:port names, with a fresh connection."""
    c = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        c.request("GET", "/")
        body = c.getresponse().read().decode()
    finally:
        c.close()
    mo = CID.search(body)
    assert mo, body
    return mo.group(1)


def hits(ip, port, count):
    """The containers count fresh connections land on ([] while the port refuses)."""
    try:
        return [page(ip, port) for _ in range(count)]
    except OSError:
        return []


def running(m, service, on="node1"):
    """node hostname -> [12-char container IDs] of the service's running tasks."""
    r = docker(m, on, "service", "ps", "-q", "--no-trunc", "--filter",
               "desired-state=running", service)
    ids = r.stdout.split()
    if r.returncode != 0 or not ids:
        return {}
    tasks = json.loads(ok(docker(m, on, "inspect", *ids)))
    if any(not t.get("NodeID") or t["Status"]["State"] != "running" for t in tasks):
        return {}  # not all placed and running yet
    nodes = {n["ID"]: n["Description"]["Hostname"]
             for n in json.loads(ok(docker(m, on, "node", "inspect",
                                           *{t["NodeID"] for t in tasks})))}
    out = {}
    for t in tasks:
        if t["Status"]["State"] != "running":
            return {}
        out.setdefault(nodes[t["NodeID"]], []).append(
            t["Status"]["ContainerStatus"]["ContainerID"][:12])
    return out


def converged(m, service, replicas):
    run = running(m, service)
    return run if sum(len(v) for v in run.values()) == replicas else None


def all_ids(run):
    return {c for cs in run.values() for c in cs}


def round_robin(ip, port, ids):
    """Each run of len(ids) new connections lands once on each container."""
    seen = hits(ip, port, 2 * len(ids))
    assert set(seen) == ids, (ip, seen, ids)
    assert len(set(seen[:len(ids)])) == len(ids), (ip, seen)


def keys(j):
    """The shape of a JSON value: the keys of its objects, recursively."""
    if isinstance(j, dict):
        return {k: keys(v) for k, v in j.items()}
    if isinstance(j, list):
        return [keys(j[0])] if j else []
    return None


# ---- the mesh ----

# vote --publish 8080:80 --replicas 6: every node answers, round robin over the six
# containers on all three nodes, from the host and from inside a node (localhost); scaled to
# two, the node left without a task answers too; a drained node still answers with the
# tasks that moved; scaled back to six, every node balances over the six again.
def test_mesh_round_robin_everywhere(machines):
    ips = mesh_cluster(machines)
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--publish",
              "8080:80", "--replicas", "6", "instavote/vote"))
    run = wait_until(lambda: converged(machines, "vote", 6), 60, 0.2, "6 running")
    assert sorted(len(v) for v in run.values()) == [2, 2, 2], run
    ids = all_ids(run)
    for ip in ips:
        wait_until(lambda: set(hits(ip, 8080, 6)) == ids, 10, 0.2, f"mesh on {ip}")
        round_robin(ip, 8080, ids)
    # from inside a node, its own processes: localhost and its own address
    for name in ("node2", "node3"):
        out = ok(machines.ssh(name, "for i in 1 2 3 4 5 6; do wget -qO- localhost:8080; done"))
        assert set(CID.findall(out)) == ids, out
    out = ok(machines.ssh("node1", f"for i in 1 2 3 4 5 6; do wget -qO- {ips[1]}:8080; done"))
    assert set(CID.findall(out)) == ids, out
    # from a container: one of the tasks, through its own node's address and another's
    for ip in (ips[0], ips[2]):
        out = ok(machines.ssh("node1", "c=$(docker ps -q | head -1); for i in 1 2 3 4 5 6; "
                              f"do docker exec $c wget -qO- {ip}:8080; done"))
        assert set(CID.findall(out)) == ids, out

    # two tasks on three nodes: one node has none and still answers
    ok(docker(machines, "node1", "service", "scale", "-d", "vote=2"))
    run = wait_until(lambda: converged(machines, "vote", 2), 60, 0.2, "2 running")
    ids = all_ids(run)
    idle = [f"node{i}" for i in (1, 2, 3) if f"node{i}" not in run]
    assert idle, run
    for ip in ips:
        wait_until(lambda: set(hits(ip, 8080, 4)) == ids, 10, 0.2, f"scaled mesh on {ip}")
        round_robin(ip, 8080, ids)

    # a drained node's task moves; the drained node still answers
    busy = sorted(run)[-1]
    ok(docker(machines, "node1", "node", "update", "--availability", "drain", busy))
    run = wait_until(lambda: (lambda r: r if busy not in r and sum(map(len, r.values())) == 2
                              else None)(running(machines, "vote")), 60, 0.2, "drain")
    ids = all_ids(run)
    for ip in ips:
        wait_until(lambda: set(hits(ip, 8080, 4)) == ids, 10, 0.2, f"mesh after drain {ip}")
    ok(docker(machines, "node1", "node", "update", "--availability", "active", busy))

    ok(docker(machines, "node1", "service", "scale", "-d", "vote=6"))
    run = wait_until(lambda: converged(machines, "vote", 6), 60, 0.2, "6 running again")
    ids = all_ids(run)
    for ip in ips:
        wait_until(lambda: set(hits(ip, 8080, 6)) == ids, 10, 0.2, f"mesh on {ip}")
        round_robin(ip, 8080, ids)


def refused(ip, port):
    """Whether a connection to ip:port is refused (nothing answers the port)."""
    try:
        socket.create_connection((ip, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def rules(m, name):
    """A node's nftables rules: its own namespace's and its ingress sandbox's."""
    return ok(m.ssh(name, "nft -n list ruleset; nsenter --net=/run/shoal/netns/ingress_sbox "
                    "nft -n list ruleset 2>/dev/null; true"))


class Prober(threading.Thread):
    """Requests ip:port in a loop, a new connection each, until stopped; counts the answers
    and keeps every failure (refused, reset, timed out, or a page naming no container)."""

    def __init__(self, ip, port):
        super().__init__(daemon=True)
        self.ip, self.port = ip, port
        self.done = threading.Event()
        self.ok = 0
        self.failed = []

    def run(self):
        while not self.done.is_set():
            try:
                page(self.ip, self.port, timeout=3)
                self.ok += 1
            except (OSError, AssertionError, http.client.HTTPException) as e:
                self.failed.append(f"{time.strftime('%H:%M:%S')} {e!r}"[:200])

    def stop(self):
        self.done.set()
        self.join(10)
        return self.ok, self.failed


def image_of(m, service):
    """The images of the service's running tasks, {} while any is not running."""
    r = docker(m, "node1", "service", "ps", "--filter", "desired-state=running", "--format",
               "{{.Image}} {{.CurrentState}}", service)
    rows = [line.split() for line in r.stdout.splitlines()]
    if r.returncode != 0 or any(row[1] != "Running" for row in rows):
        return {}
    return Counter(row[0] for row in rows)


# 60 requests from the host to each node's 8080 with six replicas: all answer 200, each
# container exactly 10 times (round robin over all six on all nodes); the same from inside
# node1 to node3's address; scaled to three, only the three left answer, 20 times each;
# removed, the port is refused on every node and no rule of it is left in any table.
@pytest.mark.plain_only
def test_mesh_sixty_requests_scale_and_rm(machines):
    ips = mesh_cluster(machines)
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--publish",
              "8080:80", "--replicas", "6", "instavote/vote"))
    run = wait_until(lambda: converged(machines, "vote", 6), 60, 0.2, "6 running")
    ids = all_ids(run)
    for ip in ips:
        wait_until(lambda: set(hits(ip, 8080, 6)) == ids, 10, 0.2, f"mesh on {ip}")
        seen = Counter(hits(ip, 8080, 60))
        assert seen == {c: 10 for c in ids}, (ip, seen)
    out = ok(machines.ssh("node1", f"for i in $(seq 60); do wget -qO- {ips[2]}:8080; done"))
    seen = Counter(CID.findall(out))
    assert seen == {c: 10 for c in ids}, seen

    ok(docker(machines, "node1", "service", "scale", "-d", "vote=3"))
    run = wait_until(lambda: converged(machines, "vote", 3), 60, 0.2, "3 running")
    left = all_ids(run)
    assert left < ids, (left, ids)
    for ip in ips:
        wait_until(lambda: set(hits(ip, 8080, 6)) == left, 10, 0.2, f"scaled mesh on {ip}")
        seen = Counter(hits(ip, 8080, 60))
        assert seen == {c: 20 for c in left}, (ip, seen)

    assert all("8080" in rules(machines, f"node{i}") for i in (1, 2, 3))
    ok(docker(machines, "node1", "service", "rm", "vote"))
    for i, ip in enumerate(ips):
        wait_until(lambda: refused(ip, 8080), 20, 0.2, f"8080 closed on {ip}")
        wait_until(lambda: "8080" not in rules(machines, f"node{i + 1}"), 20, 0.2,
                   f"no rule of 8080 on node{i + 1}")
        # and nothing of it in the sandbox's round robin either (its tasks' addresses)
        assert "numgen" not in rules(machines, f"node{i + 1}")


# A loop of requests from the host to node1's 8080, a new connection each, counts no failed
# connection during a start-first rolling update (a task enters the rotation once it runs,
# leaves it before its container stops) nor during the drain of a node running tasks.
@pytest.mark.plain_only
def test_mesh_drops_nothing_during_update_and_drain(machines):
    ips = mesh_cluster(machines, images=(LATEST, INDENT))
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--publish",
              "8080:80", "--replicas", "6", "instavote/vote"))
    run = wait_until(lambda: converged(machines, "vote", 6), 60, 0.2, "6 running")
    for ip in ips:
        wait_until(lambda: set(hits(ip, 8080, 6)) == all_ids(run), 10, 0.2, f"mesh on {ip}")

    probe = Prober(ips[0], 8080)
    probe.start()
    try:
        ok(docker(machines, "node1", "service", "update", "-d", "--update-order",
                  "start-first", "--image", "instavote/vote:indent", "vote"))
        wait_until(lambda: image_of(machines, "vote") == {"instavote/vote:indent": 6}, 120,
                   0.5, "updated")
        wait_until(lambda: ok(docker(machines, "node1", "service", "inspect", "--format",
                                     "{{.UpdateStatus.State}}", "vote")).strip() ==
                   "completed", 60, 0.5, "update completed")
    finally:
        n, failed = probe.stop()
    assert n > 50 and not failed, (n, failed)
    run = wait_until(lambda: converged(machines, "vote", 6), 60, 0.2, "6 running")
    for ip in ips:
        wait_until(lambda: set(hits(ip, 8080, 6)) == all_ids(run), 10, 0.2, f"updated {ip}")

    busy = "node2"
    assert run.get(busy), run
    probe = Prober(ips[0], 8080)
    probe.start()
    try:
        ok(docker(machines, "node1", "node", "update", "--availability", "drain", busy))
        run = wait_until(lambda: (lambda r: r if busy not in r and sum(map(len, r.values()))
                                  == 6 else None)(running(machines, "vote")), 60, 0.2, "drain")
        wait_until(lambda: set(hits(ips[2], 8080, 6)) == all_ids(run), 10, 0.2, "drained mesh")
    finally:
        n, failed = probe.stop()
    assert n > 20 and not failed, (n, failed)


# --publish-add 8081:80 and then --publish-rm of 8080 rewire the mesh on every node; a service
# published nothing gets its ingress attachment with --publish-add (its tasks are replaced,
# as swarmkit replaces tasks whose endpoint no longer matches the service's).
@pytest.mark.plain_only
def test_mesh_publish_add_and_rm(machines):
    ips = mesh_cluster(machines)
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--publish",
              "8080:80", "--replicas", "3", "instavote/vote"))
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "plain", "--replicas",
              "3", "instavote/vote"))
    run = wait_until(lambda: converged(machines, "vote", 3), 60, 0.2, "vote running")
    ids = all_ids(run)
    for ip in ips:
        wait_until(lambda: set(hits(ip, 8080, 3)) == ids, 10, 0.2, f"mesh on {ip}")

    ok(docker(machines, "node1", "service", "update", "-d", "--publish-add", "8081:80", "vote"))
    run = wait_until(lambda: converged(machines, "vote", 3), 60, 0.2, "vote running")
    for ip in ips:
        wait_until(lambda: set(hits(ip, 8081, 6)) == all_ids(converged(machines, "vote", 3)
                                                             or {}), 30, 0.3, f"8081 on {ip}")
        wait_until(lambda: set(hits(ip, 8080, 6)) == all_ids(converged(machines, "vote", 3)
                                                             or {}), 30, 0.3, f"8080 on {ip}")
    # Docker's CLI removes ports by target port (`--publish-rm 8080` matches nothing here):
    # 80 takes both away, and the tasks their ingress addresses (they are replaced)
    ok(docker(machines, "node1", "service", "update", "-d", "--publish-rm", "80", "vote"))
    assert json.loads(ok(docker(machines, "node1", "service", "inspect", "--format",
                                "{{json .Endpoint.Ports}}", "vote"))) is None
    for i, ip in enumerate(ips):
        wait_until(lambda: refused(ip, 8080) and refused(ip, 8081), 30, 0.3, f"closed on {ip}")
        wait_until(lambda: "808" not in rules(machines, f"node{i + 1}"), 30, 0.3,
                   f"no rules on node{i + 1}")
    ok(docker(machines, "node1", "service", "update", "-d", "--publish-add", "8081:80", "vote"))
    for i, ip in enumerate(ips):
        wait_until(lambda: set(hits(ip, 8081, 6)) == all_ids(converged(machines, "vote", 3)
                                                             or {"x": ["-"]}), 60, 0.3,
                   f"8081 on {ip}")
        assert refused(ip, 8080), ip
        assert "8080" not in rules(machines, f"node{i + 1}")

    ok(docker(machines, "node1", "service", "update", "-d", "--publish-add", "8082:80", "plain"))
    for ip in ips:
        wait_until(lambda: set(hits(ip, 8082, 6)) == all_ids(converged(machines, "plain", 3)
                                                             or {"x": ["-"]}), 90, 0.5,
                   f"8082 on {ip}")
    tasks = ok(docker(machines, "node1", "service", "ps", "-q", "--filter",
                      "desired-state=running", "plain")).split()
    for t in json.loads(ok(docker(machines, "node1", "inspect", *tasks))):
        assert t["NetworksAttachments"][0]["Network"]["Spec"]["Name"] == "ingress", t



# A static program answering each UDP datagram with its hostname (the container's ID),
# imported as an image: the vote image's busybox has no UDP server.
UDP_ECHO = r"""
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53) }, p;
	socklen_t pl;
	char name[64], buf[512];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	gethostname(name, sizeof(name));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return 1;
	for (;;) {
		pl = sizeof(p);
		if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&p, &pl) >= 0)
			sendto(fd, name, strlen(name), 0, (struct sockaddr *)&p, pl);
	}
}
"""


def udp_image(tmp):
    src = os.path.join(tmp, "udpecho.c")
    exe = os.path.join(tmp, "udpecho")
    with open(src, "w") as f:
        f.write(UDP_ECHO)
    r = subprocess.run(["gcc", "-static", "-O2", "-o", exe, src], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    tar = os.path.join(tmp, "udpecho.tar")
    with tarfile.open(tar, "w") as t:
        t.add(exe, arcname="udpecho")
    return tar


def udp_ask(ip, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(b"?", (ip, port))
        return s.recv(64).decode()


# --publish mode=host: each node answers with its own task, and only nodes running one bind
# the port; service ps shows the port, service ls does not (Docker's tables). A port
# published without a number gets the first free one of 30000-32767 and is meshed; a UDP
# port is meshed round robin too.
def test_host_mode_dynamic_and_udp_ports(machines):
    ips = mesh_cluster(machines)
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote2", "--publish",
              "mode=host,target=80,published=8081", "--replicas", "2",
              "--constraint", "node.hostname!=node3", "instavote/vote"))
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote3", "--publish",
              "80", "--replicas", "3", "instavote/vote"))
    run = wait_until(lambda: converged(machines, "vote2", 2), 60, 0.2, "vote2 running")
    for i, ip in enumerate(ips[:2]):
        assert set(hits(ip, 8081, 3)) == set(run[f"node{i + 1}"]), ip
    with pytest.raises(OSError):
        page(ips[2], 8081, timeout=2)
    out = ok(docker(machines, "node1", "service", "ps", "vote2"))
    ref = open(os.path.join(REF, "cli", "docker-service-ps-vote2-hostmode.txt")).read()
    assert ref.splitlines()[1].split()[-1].startswith("PORTS")
    for line in out.splitlines()[1:]:
        # Docker 20.10 lists each port once per address family it bound (IPv4, IPv6);
        # Shoal binds IPv4 only
        assert line.split()[-1] == "*:8081->80/tcp", line
    ls = {line.split()[1]: line for line in ok(docker(machines, "node1", "service",
                                                      "ls")).splitlines()[1:]}
    assert ls["vote2"].rstrip().endswith("instavote/vote:latest"), ls
    assert ls["vote3"].rstrip().endswith("*:30000->80/tcp"), ls

    ep = json.loads(ok(docker(machines, "node1", "service", "inspect", "vote3")))[0]["Endpoint"]
    port = ep["Ports"][0]["PublishedPort"]
    assert 30000 <= port <= 32767
    run = wait_until(lambda: converged(machines, "vote3", 3), 60, 0.2, "vote3 running")
    for ip in ips:
        wait_until(lambda: set(hits(ip, port, 3)) == all_ids(run), 10, 0.2, f"{ip}:{port}")

    with tempfile.TemporaryDirectory(prefix="shoal-mesh-udp-") as tmp:
        tar = udp_image(tmp)
        for i in (1, 2, 3):
            ok(machines.ssh(f"node{i}", "docker", "import", "--change",
                            shlex.quote('CMD ["/udpecho"]'), tar, "udpecho:latest"))
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "udp", "--publish",
              "5353:53/udp", "--replicas", "3", "udpecho:latest"))
    run = wait_until(lambda: converged(machines, "udp", 3), 60, 0.2, "udp running")
    ids = all_ids(run)
    for ip in ips:
        def answered():
            try:
                return {udp_ask(ip, 5353)[:12] for _ in range(6)} == ids
            except OSError:
                return False
        wait_until(answered, 15, 0.2, f"udp mesh on {ip}")


# ---- what users see of the ingress network ----

# network ls shows ingress (overlay, swarm) on the manager and on a worker; GET /networks
# and network inspect have Docker's shape, with this node's task containers, its
# ingress-sbox endpoint and the three peers; the service's VIP and the tasks' attachments
# name the network.
def test_ingress_network_as_docker_shows_it(machines):
    ips = mesh_cluster(machines)
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--publish",
              "8080:80", "--replicas", "3", "instavote/vote"))
    run = wait_until(lambda: converged(machines, "vote", 3), 60, 0.2, "vote running")

    ref_list = json.load(open(os.path.join(REF, "api", "GET-networks.json")))
    ref_ing = json.load(open(os.path.join(REF, "api", "GET-networks-ingress.json")))
    for name in ("node1", "node2"):
        out = ok(docker(machines, name, "network", "ls", "--filter", "name=ingress"))
        rows = [line.split() for line in out.splitlines()]
        assert rows[0] == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
        assert rows[1][1:] == ["ingress", "overlay", "swarm"], out
        nets = json.loads(ok(machines.ssh(name, "curl", "-s", "--unix-socket",
                                          "/var/run/docker.sock", "http://x/v1.41/networks")))
        ing = [n for n in nets if n["Name"] == "ingress"]
        assert len(ing) == 1 and nets[0]["Name"] == "ingress"
        assert keys(ing[0]) == keys(ref_list[0]), ing[0]
        assert ing[0]["Containers"] is None and ing[0]["Labels"] is None
        assert rows[1][0] == ing[0]["Id"][:12]

        got = json.loads(ok(docker(machines, name, "network", "inspect", "ingress")))[0]
        assert keys(got) == {**keys(ref_ing), "Containers": keys(got["Containers"])}
        for k in ("Name", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal", "Attachable",
                  "Ingress", "ConfigFrom", "ConfigOnly", "Options", "Labels"):
            assert got[k] == ref_ing[k], k
        assert len(got["Id"]) == 25
        assert sorted(p["IP"] for p in got["Peers"]) == sorted(ips)
        sbox = got["Containers"]["ingress-sbox"]
        assert sbox["Name"] == "ingress-endpoint"
        assert keys(sbox) == keys(ref_ing["Containers"]["ingress-sbox"])
        assert re.fullmatch(r"10\.0\.0\.\d+/24", sbox["IPv4Address"])
        local = {c["Name"].split(".")[0]: c for k, c in got["Containers"].items()
                 if k != "ingress-sbox"}
        assert len([k for k in got["Containers"] if k != "ingress-sbox"]) == \
            len(run.get(name, [])), got["Containers"]
        for c in local.values():
            ip = c["IPv4Address"].split("/")[0]
            assert c["MacAddress"] == "02:42:" + ":".join(
                "%02x" % int(b) for b in ip.split("."))

    net = json.loads(ok(docker(machines, "node1", "network", "inspect", "ingress")))[0]
    svc = json.loads(ok(docker(machines, "node1", "service", "inspect", "vote")))[0]
    ref_svc = json.load(open(os.path.join(REF, "api", "GET-services-ID.json")))
    assert keys(svc["Endpoint"]) == keys(ref_svc["Endpoint"])
    assert svc["Endpoint"]["VirtualIPs"][0]["NetworkID"] == net["Id"]
    ids = ok(docker(machines, "node1", "service", "ps", "-q", "vote")).split()
    task = json.loads(ok(docker(machines, "node1", "inspect", ids[0])))[0]
    ref_task = json.load(open(os.path.join(REF, "api", "GET-tasks-ID.json")))
    assert keys(task["NetworksAttachments"]) == keys(ref_task["NetworksAttachments"])
    att = task["NetworksAttachments"][0]
    assert att["Network"]["ID"] == net["Id"]
    assert att["Network"]["Spec"] == ref_task["NetworksAttachments"][0]["Network"]["Spec"]
    assert att["Network"]["DriverState"] == \
        ref_task["NetworksAttachments"][0]["Network"]["DriverState"]
    addrs = {svc["Endpoint"]["VirtualIPs"][0]["Addr"]}
    for t in ids:
        a = json.loads(ok(docker(machines, "node1", "inspect", t)))[0]
        addrs.add(a["NetworksAttachments"][0]["Addresses"][0])
    assert len(addrs) == 4  # a VIP and three task addresses, all different
    # node objects keep their sandbox's address to themselves, as Docker's API
    node = json.loads(ok(docker(machines, "node1", "node", "inspect", "node2")))[0]
    assert "Attachments" not in node


# ---- leaving ----

# A worker that leaves the swarm loses its link, table and sandbox (its containers'
# eth1 with it), and the others stop sending it anything; `machine rm` leaves nothing on
# the host.
def test_leave_removes_the_mesh(machines):
    ips = mesh_cluster(machines)
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--publish",
              "8080:80", "--replicas", "3", "instavote/vote"))
    wait_until(lambda: converged(machines, "vote", 3), 60, 0.2, "vote running")
    state = "ip -br link; nft list tables; ls /run/shoal/netns"
    before = ok(machines.ssh("node3", state))
    assert "table ip shoal_ingress" in before and "ingress_sbox" in before
    assert re.search(r"^sgw", before, re.M)

    ok(docker(machines, "node3", "swarm", "leave"))
    after = wait_until(lambda: (lambda s: s if "shoal_ingress" not in s else None)(
        ok(machines.ssh("node3", state))), 10, 0.2, "mesh gone")
    assert "ingress_sbox" not in after and not re.search(r"^sgw", after, re.M), after
    assert "ingress_sbox" not in ok(machines.ssh("node3", "cat /proc/mounts"))
    # the others go on without it
    ok(docker(machines, "node1", "node", "rm", "--force", "node3"))
    run = wait_until(lambda: converged(machines, "vote", 3), 60, 0.2, "rescheduled")
    for ip in ips[:2]:
        wait_until(lambda: set(hits(ip, 8080, 3)) == all_ids(run), 10, 0.2, ip)

    for name in ("node1", "node2", "node3"):
        ok(machines("rm", "-f", name))
    host = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    assert not re.search(r"^(sgw|vi)[0-9a-f]{7}\b", host, re.M), host


# ---- swarm init options ----

# --default-addr-pool and its mask length choose the ingress subnet; --data-path-port the
# VXLAN port, over which the mesh of two nodes still balances.
@pytest.mark.plain_only
def test_init_address_pool_and_data_path_port(machines):
    for name in ("node1", "node2"):
        machines.create(name)
        ok(machines.ssh(name, "docker", "load", "-i", LATEST))
    ips = [machines.ip("node1"), machines.ip("node2")]
    ok(docker(machines, "node1", "swarm", "init", "--advertise-addr", ips[0],
              "--default-addr-pool", "10.20.0.0/16", "--default-addr-pool-mask-length", "26",
              "--data-path-port", "7789"))
    token = ok(docker(machines, "node1", "swarm", "join-token", "-q", "worker")).strip()
    ok(docker(machines, "node2", "swarm", "join", "--token", token, f"{ips[0]}:2377"))
    info = json.loads(ok(docker(machines, "node1", "info", "--format", "{{json .Swarm.Cluster}}")))
    assert info["DefaultAddrPool"] == ["10.20.0.0/16"]
    assert info["SubnetSize"] == 26 and info["DataPathPort"] == 7789
    net = json.loads(ok(docker(machines, "node1", "network", "inspect", "ingress")))[0]
    assert net["IPAM"]["Config"] == [{"Subnet": "10.20.0.0/26", "Gateway": "10.20.0.1"}]
    ok(docker(machines, "node1", "service", "create", "-d", "--name", "vote", "--publish",
              "8080:80", "--replicas", "2", "instavote/vote"))
    run = wait_until(lambda: converged(machines, "vote", 2), 60, 0.2, "vote running")
    assert sorted(run) == ["node1", "node2"], run
    for ip in ips:
        wait_until(lambda: set(hits(ip, 8080, 4)) == all_ids(run), 10, 0.2, f"mesh on {ip}")
    link = ok(machines.ssh("node1", "nsenter", "--net=/run/shoal/netns/ingress_sbox", "ip",
                           "-d", "link", "show", "vxlan0"))
    assert "dstport 7789" in link and "nolearning" in link and "proxy" in link, link
