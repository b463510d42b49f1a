#!/usr/bin/python3
"""bench/mesh/measure.py: the routing mesh's throughput and latency against direct access
to a task, and the time a task change takes to reach every node's rules (bench/mesh/run.sh
makes the temp dir and removes the machines).

  run --cli SHOAL --storage DIR --subnet NET --image TAR --seconds S --conns C --threads T
      --rounds R --out FILE
  report DIR     prints the table of DIR/mesh.json
"""

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import dump, load_json  # noqa: E402

NODES = ("node1", "node2", "node3")
SBOX = "/run/shoal/netns/ingress_sbox"


class Cluster:
    def __init__(self, a):
        self.a = a

    def machine(self, verb, *args, check=True, timeout=120):
        r = subprocess.run([self.a.cli, "machine", verb, "--storage-path", self.a.storage,
                            *args], capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"machine {verb} {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def ssh(self, node, cmd, check=True, timeout=120):
        return self.machine("ssh", node, cmd, check=check, timeout=timeout)

    def docker(self, node, *args, check=True):
        return self.ssh(node, " ".join(shlex.quote(x) for x in ("docker", *args)), check=check)

    def ip(self, node):
        return self.machine("ip", node).strip()

    def running(self):
        """Task ID -> (node hostname, container ID, running timestamp) of running tasks."""
        ids = self.docker("node1", "service", "ps", "-q", "--no-trunc", "--filter",
                          "desired-state=running", "vote", check=False).split()
        if not ids:
            return {}
        out = {}
        for t in json.loads(self.docker("node1", "inspect", *ids)):
            if t["Status"]["State"] == "running":
                out[t["ID"]] = (t["NodeID"], t["Status"]["ContainerStatus"]["ContainerID"],
                                t["Status"]["Timestamp"])
        return out


def wait(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def secs(s):
    mo = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", s)
    return float(mo.group(1)) * UNITS[mo.group(2)]


def wrk_parse(out):
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    lat = {p: secs(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    errs = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"],
            "errors": (errs.group(1) if errs else "") +
            (f" non-2xx {non2xx.group(1)}" if non2xx else "")}


def wrk(a, url, node=None):
    cmd = ["wrk", "-t", str(a.threads), "-c", str(a.conns), "-d", f"{a.seconds}s",
           "--latency", url]
    if node is None:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    else:
        out = Cluster(a).ssh(node, " ".join(cmd), timeout=a.seconds + 60)
    return wrk_parse(out)


def sbox_tasks(c, node):
    """How many tasks the node's sandbox balances 8080 over (0 without a rule)."""
    out = c.ssh(node, f"nsenter --net={SBOX} nft list table ip shoal_ingress", check=False)
    mo = re.search(r"dport 8080 dnat to numgen inc mod (\d+)", out)
    return int(mo.group(1)) if mo else 0


def propagation(c, n):
    """Scales vote to n; seconds from the CLI's start until each node's rules balance over
    n tasks, polled by one thread per node."""
    seen = {}
    stop = threading.Event()

    def poll(node):
        while not stop.is_set():
            if sbox_tasks(c, node) == n:
                seen[node] = time.time()
                return

    threads = [threading.Thread(target=poll, args=(node,), daemon=True) for node in NODES]
    t0 = time.time()
    c.docker("node1", "service", "scale", "-d", f"vote={n}")
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stop.set()
    if len(seen) != len(NODES):
        raise RuntimeError(f"rules for {n} tasks not seen on every node: {seen}")
    return t0, seen


def ts(s):
    """Docker's RFC 3339 nanosecond timestamp as Unix seconds."""
    mo = re.match(r"(\d+-\d+-\d+T\d+:\d+:\d+)(\.\d+)?Z", s)
    base = time.mktime(time.strptime(mo.group(1), "%Y-%m-%dT%H:%M:%S")) - time.timezone
    return base + float(mo.group(2) or 0)


def cmd_run(a):
    c = Cluster(a)
    for node in NODES:
        c.machine("create", "--subnet", a.subnet, node)
        c.ssh(node, f"docker load -i {shlex.quote(a.image)}")
    ips = {node: c.ip(node) for node in NODES}
    c.docker("node1", "swarm", "init", "--advertise-addr", ips["node1"])
    token = c.docker("node1", "swarm", "join-token", "-q", "worker").strip()
    for node in NODES[1:]:
        c.docker(node, "swarm", "join", "--token", token, f"{ips['node1']}:2377")
    wait(lambda: c.docker("node1", "node", "ls", "--format", "{{.Status}}",
                          check=False).split() == ["Ready"] * 3, 60, "3 nodes ready")
    c.docker("node1", "service", "create", "-d", "--name", "vote", "--publish", "8080:80",
             "--replicas", "6", "--constraint", "node.hostname!=node3", "instavote/vote")
    run = wait(lambda: (lambda r: r if len(r) == 6 else None)(c.running()), 120, "6 running")
    wait(lambda: all(sbox_tasks(c, node) == 6 for node in NODES), 30, "rules for 6 tasks")
    node1_id = json.loads(c.docker("node1", "node", "inspect", "node1"))[0]["ID"]
    cid = next(v[1] for v in run.values() if v[0] == node1_id)
    direct = json.loads(c.docker("node1", "inspect", cid))[0]["NetworkSettings"]["IPAddress"]

    rows = []
    for name, url, node in (
            ("host -> node1:8080 (mesh, local tasks)", f"http://{ips['node1']}:8080/", None),
            ("host -> node3:8080 (mesh, no local task)", f"http://{ips['node3']}:8080/", None),
            ("node1 -> node1:8080 (mesh)", f"http://{ips['node1']}:8080/", "node1"),
            ("node1 -> container:80 (direct)", f"http://{direct}:80/", "node1")):
        r = wrk(a, url, node)
        r["name"] = name
        rows.append(r)
        print(f"{name}: {r['rps']:.0f} req/s p50 {r['p50'] * 1e6:.0f} us "
              f"p99 {r['p99'] * 1e6:.0f} us {r['errors']}", file=sys.stderr, flush=True)

    changes = []
    for _ in range(a.rounds):
        before = set(c.running())
        t0, seen = propagation(c, 7)
        new = wait(lambda: (lambda r: r if len(r) == 7 else None)(c.running()), 60, "7 running")
        started = [ts(v[2]) for k, v in new.items() if k not in before]
        changes.append({"n": 7, "cli": t0, "seen": seen,
                        "running": started[0] if started else None})
        t0, seen = propagation(c, 6)
        changes.append({"n": 6, "cli": t0, "seen": seen, "running": None})
    dump(a.out, {"rows": rows, "changes": changes, "seconds": a.seconds, "conns": a.conns,
                 "threads": a.threads, "cpus": os.cpu_count(),
                 "kernel": os.uname().release, "load": open("/proc/loadavg").read().split()[:3]})
    return 0


def cmd_report(d):
    res = load_json(d, "mesh.json")
    rows = {r["name"]: r for r in res["rows"]}
    print(f"bench/mesh: wrk -t{res['threads']} -c{res['conns']} -d{res['seconds']}s, "
          f"{res['cpus']} CPUs, kernel {res['kernel']}, load {' '.join(res['load'])}")
    print()
    print(f"| {'path':<42} | {'req/s':>8} | {'p50 µs':>7} | {'p99 µs':>7} | errors |")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 9}|{'-' * 9}|--------|")
    for r in res["rows"]:
        print(f"| {r['name']:<42} | {r['rps']:>8.0f} | {r['p50'] * 1e6:>7.0f} | "
              f"{r['p99'] * 1e6:>7.0f} | {r['errors'] or '-'} |")
    d_ = rows.get("node1 -> container:80 (direct)")
    m_ = rows.get("node1 -> node1:8080 (mesh)")
    if d_ and m_:
        print()
        print(f"mesh/direct from inside node1: throughput {m_['rps'] / d_['rps']:.2f} "
              f"(goal >= 0.9), p50 added {(m_['p50'] - d_['p50']) * 1e6:+.0f} µs "
              f"(goal < 50), p99 added {(m_['p99'] - d_['p99']) * 1e6:+.0f} µs")
        for name in ("host -> node1:8080 (mesh, local tasks)",
                     "host -> node3:8080 (mesh, no local task)"):
            r = rows.get(name)
            if r:
                print(f"{name} / direct: throughput {r['rps'] / d_['rps']:.2f}, "
                      f"p50 {(r['p50'] - d_['p50']) * 1e6:+.0f} µs")
    print()
    print("task change until every node's sandbox rules balance over the new set "
          "(nft list table polled per node):")
    print(f"| {'change':<8} | {'first node s':>12} | {'last node s':>11} | "
          f"{'after running s':>15} |")
    print(f"|{'-' * 10}|{'-' * 14}|{'-' * 13}|{'-' * 17}|")
    lasts = {6: [], 7: []}
    for ch in res["changes"]:
        first = min(ch["seen"].values()) - ch["cli"]
        last = max(ch["seen"].values()) - ch["cli"]
        lasts[ch["n"]].append(last)
        after = (f"{max(ch['seen'].values()) - ch['running']:.3f}"
                 if ch.get("running") else "-")
        label = "6 -> 7" if ch["n"] == 7 else "7 -> 6"
        print(f"| {label:<8} | {first:>12.3f} | {last:>11.3f} | {after:>15} |")
    for n, xs in lasts.items():
        if xs:
            print(f"median to the last node, {'6 -> 7' if n == 7 else '7 -> 6'}: "
                  f"{statistics.median(xs):.3f} s")
    print()
    print("Docker's routing mesh (IPVS) cannot run on this kernel (no ip_vs): no baseline.")
    return 0


def main(argv):
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    for k in ("cli", "storage", "subnet", "image", "out"):
        r.add_argument(f"--{k}", required=True)
    for k in ("seconds", "conns", "threads", "rounds"):
        r.add_argument(f"--{k}", type=int, required=True)
    rep = sub.add_parser("report")
    rep.add_argument("dir")
    a = p.parse_args(argv)
    if a.cmd == "run":
        return cmd_run(a)
    return cmd_report(a.dir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
