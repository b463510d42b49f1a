#!/usr/bin/python3
"""The measuring half of bench/swarm/run.sh (Python 3 standard library only).

Subcommands (each writes JSON into a file run.sh keeps in its temp dir):
  form --storage S --subnet C --out F  3 x `shoal machine create`, `swarm init` on node1,
                                       join-token, 2 x `swarm join`, then GET /nodes on node1
                                       until 3 nodes are Ready; every step timed
  timecmd --out F -- CMD...            the wall time of one command (which must succeed)
  promote --sock SOCK --out F -- CMD   runs CMD (`docker node promote ...`), then polls
                                       GET /nodes until --managers managers are reachable
  mem --pid NAME=PID... --out F        VmRSS, VmHWM, Pss and private memory of each pid
  writes SOCK --seconds S --out F      node label updates (GET /nodes/ID for the version,
                                       POST /nodes/ID/update?version=N), one after the
                                       other, for S seconds
  failover --node NAME=SOCK... --out F -- CMD
                                       finds the leader, runs CMD with {name} replaced by
                                       its name (`shoal machine kill`), then polls every
                                       survivor's GET /nodes until one reports itself
                                       Leader, and writes a label through a survivor until
                                       it succeeds; optionally waits for the killed node
                                       to show Down
  report DIR                           the table and the ratios, from DIR's JSON files

Times are time.perf_counter() around the command or request, in seconds (ms in writes).
The API client, machine and memory helpers are bench/benchlib.py's.
"""

import argparse
import http.client
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import (API, Api, ApiError, dump, err_text, fmt, fx, get, load_json,  # noqa: E402
                      node_sock, pct, proc_mem, ratio, run)


# ---- machines ----


def nodes(api):
    return api.json("GET", API + "/nodes")


def hostname(n):
    return (n.get("Description") or {}).get("Hostname", "?")


def state(n):
    return (n.get("Status") or {}).get("State", "?")


def leader_of(ns):
    for n in ns:
        if (n.get("ManagerStatus") or {}).get("Leader"):
            return hostname(n)
    return None


def poll_until(api, pred, timeout, every):
    """Polls GET /nodes until pred(nodes) holds; returns (seconds, polls, errors)."""
    t0 = time.perf_counter()
    polls = errors = 0
    while True:
        polls += 1
        try:
            if pred(nodes(api)):
                return time.perf_counter() - t0, polls, errors
        except (OSError, ApiError, http.client.HTTPException, ValueError):
            errors += 1
        if time.perf_counter() - t0 > timeout:
            return None, polls, errors
        time.sleep(every)


def cmd_form(a):
    m = [a.shoal, "machine"]
    st = ["--storage-path", a.storage]
    names = ["node1", "node2", "node3"]
    out = {"names": names, "create": []}
    t_all = time.perf_counter()
    for n in names:
        t, _ = run(m + ["create"] + st + ["--subnet", a.subnet, n])
        out["create"].append(t)
    ip1 = run(m + ["ip"] + st + ["node1"])[1]
    ssh = m + ["ssh"] + st
    out["init"], _ = run(ssh + ["node1", f"docker swarm init --advertise-addr {ip1}"])
    out["token"], token = run(ssh + ["node1", "docker swarm join-token -q worker"])
    out["join"] = []
    for n in names[1:]:
        t, _ = run(ssh + [n, f"docker swarm join --token {token} {ip1}:2377"])
        out["join"].append(t)
    api = Api(node_sock(a.storage, "node1"), 10)
    t, polls, errors = poll_until(
        api, lambda ns: len(ns) == 3 and all(state(n) == "ready" for n in ns),
        a.timeout, a.poll)
    out["ready"], out["ready_polls"], out["ready_errors"] = t, polls, errors
    if t is not None:
        out["total"] = time.perf_counter() - t_all
    # The cost of `shoal machine ssh` itself, inside init and the joins (untimed above).
    out["ssh_true"] = sorted(run(ssh + ["node1", "true"])[0] for _ in range(5))[2]
    out["shoal_version"] = run(ssh + ["node1", "docker version --format '{{.Server.Version}}'"],
                               check=False)[1]
    dump(a.out, out)
    if t is None:
        raise SystemExit(f"measure: node1 did not show 3 Ready nodes within {a.timeout}s")
    return 0


def cmd_timecmd(a):
    t, _ = run(a.cmd)
    dump(a.out, {"seconds": t})
    return 0


def cmd_promote(a):
    out = {}
    out["command"], _ = run(a.cmd)
    api = Api(a.sock, 10)

    def ok(ns):
        r = [n for n in ns if (n.get("ManagerStatus") or {}).get("Reachability") == "reachable"]
        return len(r) >= a.managers and leader_of(ns) is not None

    t, polls, errors = poll_until(api, ok, a.timeout, a.poll)
    out["reachable"] = t
    out["polls"], out["errors"] = polls, errors
    dump(a.out, out)
    if t is None:
        raise SystemExit(f"measure: {a.managers} reachable managers not seen in {a.timeout}s")
    return 0


# ---- memory ----


def cmd_mem(a):
    out = {}
    for spec in a.pid:
        name, _, pid = spec.partition("=")
        out[name] = proc_mem(int(pid))
    dump(a.out, out)
    return 0


# ---- store writes ----


def self_node_id(api):
    return api.json("GET", API + "/info")["Swarm"]["NodeID"]


def label_update(api, node_id, i):
    """One `docker node update --label-add`: GET for the version and spec, then POST.
    Returns the POST's seconds."""
    n = api.json("GET", f"{API}/nodes/{node_id}")
    spec = n["Spec"]
    labels = spec.get("Labels") or {}
    labels["shoalbench"] = str(i)
    spec["Labels"] = labels
    t0 = time.perf_counter()
    api.json("POST", f"{API}/nodes/{node_id}/update?version={n['Version']['Index']}", spec)
    return time.perf_counter() - t0


def cmd_writes(a):
    api = Api(a.sock, 30)
    node_id = a.node or self_node_id(api)
    for i in range(a.warmup):
        try:
            label_update(api, node_id, -1 - i)
        except ApiError:
            pass
    posts, errors, first_err = [], 0, None
    t0 = time.perf_counter()
    end = t0 + a.seconds
    i = 0
    while time.perf_counter() < end:
        i += 1
        try:
            posts.append(label_update(api, node_id, i))
        except (OSError, ApiError, http.client.HTTPException, ValueError) as e:
            errors += 1
            first_err = first_err or err_text(e)
    wall = time.perf_counter() - t0
    ns = nodes(api)
    me = [hostname(n) for n in ns if n["ID"] == node_id]
    out = {"node": node_id, "hostname": me[0] if me else None, "leader": leader_of(ns),
           "updates": len(posts), "errors": errors, "first_error": first_err,
           "seconds": wall, "per_s": len(posts) / wall,
           "post_p50_ms": (pct(posts, 50) or 0) * 1000, "post_p99_ms": (pct(posts, 99) or 0) * 1000}
    dump(a.out, out)
    return 0


# ---- failover ----


def cmd_failover(a):
    socks = dict(s.partition("=")[::2] for s in a.node)
    before = None
    for name in sorted(socks):
        try:
            before = nodes(Api(socks[name], 10))
            break
        except (OSError, ApiError, http.client.HTTPException):
            continue
    if before is None:
        raise SystemExit("measure: no node answers GET /nodes")
    killed = leader_of(before)
    if killed is None or killed not in socks:
        raise SystemExit(f"measure: no leader among {sorted(socks)} (leader: {killed})")
    ids = {hostname(n): n["ID"] for n in before}
    survivors = sorted(n for n in socks if n != killed)
    res = {"killed": killed, "survivors": {}, "write": {}, "write_every": a.write_every}
    lock = threading.Lock()
    done = threading.Event()
    t0 = [None]

    def now():
        return time.perf_counter() - t0[0]

    def poller(name):
        api = Api(socks[name], a.req_timeout)
        r = {"polls": 0, "errors": 0, "first_error": None, "self_leader": None,
             "leader": None, "leader_name": None, "killed_down": None, "stale_leader": 0}
        with lock:
            res["survivors"][name] = r
        while not done.is_set():
            t = now()
            try:
                ns = nodes(api)
            except (OSError, ApiError, http.client.HTTPException, ValueError) as e:
                with lock:
                    r["errors"] += 1
                    r["first_error"] = r["first_error"] or f"{t:.3f}s: {err_text(e)}"
                time.sleep(a.poll)
                continue
            t = now()
            ld = leader_of(ns)
            k = [n for n in ns if hostname(n) == killed]
            with lock:
                r["polls"] += 1
                if ld == killed:
                    r["stale_leader"] += 1
                if ld is not None and ld != killed and r["leader"] is None:
                    r["leader"], r["leader_name"] = t, ld
                if ld == name and r["self_leader"] is None:
                    r["self_leader"] = t
                if k and state(k[0]) == "down" and r["killed_down"] is None:
                    r["killed_down"] = t
            time.sleep(a.poll)

    def attempt(name, w, i):
        """One label update through name on a connection of its own."""
        api = Api(socks[name], a.req_timeout)
        t = now()
        try:
            label_update(api, ids[name], i)
            ok, e = True, None
        except (OSError, ApiError, http.client.HTTPException, ValueError) as x:
            ok, e = False, err_text(x)
        api.close()
        with lock:
            w["attempts"].append({"start": t, "end": now(), "ok": ok, "error": e})
            if ok and (w["ok"] is None or now() < w["ok"]):
                w["ok"], w["ok_started"] = now(), t

    def writing(name):
        """A new attempt every write_every seconds until one succeeds: a blocked request
        does not hide a leader that would answer a new one."""
        w = {"attempts": [], "ok": None, "ok_started": None}
        with lock:
            res["write"][name] = w
        i = 0
        while not done.is_set():
            with lock:
                if w["ok"] is not None:
                    return
            i += 1
            threading.Thread(target=attempt, args=(name, w, i), daemon=True).start()
            time.sleep(a.write_every)

    kill = [x.replace("{name}", killed) for x in a.kill]
    t_start = time.perf_counter()
    res["kill_cmd"], _ = run(kill)
    t0[0] = time.perf_counter()
    res["kill_cmd_returned_after"] = t0[0] - t_start
    threads = [threading.Thread(target=poller, args=(n,), daemon=True) for n in survivors]
    threads += [threading.Thread(target=writing, args=(n,), daemon=True) for n in survivors]
    for th in threads:
        th.start()
    while True:
        time.sleep(a.poll)
        with lock:
            leader = any(r["self_leader"] is not None for r in res["survivors"].values())
            wrote = len(res["write"]) == len(survivors) and all(
                w["ok"] is not None for w in res["write"].values())
            down = any(r["killed_down"] is not None for r in res["survivors"].values())
        t = now()
        if leader and wrote and (down or t > a.down_wait):
            break
        if t > a.timeout:
            break
    done.set()
    for th in threads:
        th.join(a.req_timeout + 1)
    # Attempt threads still blocked end within req_timeout; wait so their results land.
    time.sleep(min(a.req_timeout, 1))
    with lock:
        res["watched"] = now()
        dump(a.out, res)
    return 0


# ---- report ----


def cmd_report(a):
    d = a.dir
    meta = load_json(d, "meta.json") or {}
    notes = []
    print()
    print(f"swarm: shoald {meta.get('shoal_version', '?')} in `shoal machine` nodes against "
          f"dockerd {meta.get('docker_version', '?')}, {meta.get('cpus', '?')} CPUs, "
          f"kernel {meta.get('kernel', '?')}; CLI {meta.get('cli', '?')}")
    h = "{:<52} {:>10} {:>10} {:>9}"
    print()
    print("1. nothing to 3 Ready nodes (shoal: 3 machines; seconds, wall of each command)")
    print(h.format("", "shoal", "docker", "dkr/shoal"))
    print("-" * 84)
    f = load_json(d, "form.json")
    di = load_json(d, "docker-init.json")

    def row(title, sv, dv=None, r=True, form="{:.3f}"):
        print(h.format(title, fmt(sv, form), fmt(dv, form), fx(ratio(dv, sv)) if r else ""))

    if f:
        for i, t in enumerate(f.get("create", [])):
            row(f"shoal machine create node{i + 1}", t)
        row("  3 creates", sum(f.get("create", [])) if f.get("create") else None)
        row("docker swarm init (via machine ssh)*", f.get("init"),
            get(di, "seconds"))
        row("docker swarm join-token -q worker*", f.get("token"))
        for i, t in enumerate(f.get("join", [])):
            row(f"docker swarm join node{i + 2}*", t)
        row("from the last join until node ls shows 3 Ready", f.get("ready"))
        row("total, first create to 3 Ready", f.get("total"))
        row("  * of which `shoal machine ssh node1 true`", f.get("ssh_true"))
        if f.get("ready") is None:
            notes.append("3 Ready nodes were never seen")
    else:
        print("  (no data: the run failed before or during this part)")
    print("  docker: one dockerd of this run, `docker -H unix://... swarm init --advertise-addr "
          "127.0.0.1`; its\n  joins need more dockerds: not measured here (the reference, "
          "MEASURED.md: init 0.541 s,\n  join 0.132 s medians on this machine kind)")

    print()
    print("2. leader failover: `shoal machine kill` of the leader of 3 managers (seconds after "
          "the kill returned)")
    fo = load_json(d, "failover.json")
    pr = load_json(d, "promote.json")
    h2 = "{:<72} {:>11}"
    print("-" * 84)
    if pr:
        print(h2.format("docker node promote node2 node3 (via machine ssh)",
                        fmt(pr.get("command"))))
        print(h2.format("  then until 3 managers Reachable/Leader", fmt(pr.get("reachable"))))
    if fo:
        surv = fo.get("survivors", {})
        print(h2.format(f"shoal machine kill {fo.get('killed')} (the command)",
                        fmt(fo.get("kill_cmd"))))
        sl = [(r["self_leader"], n) for n, r in surv.items() if r.get("self_leader") is not None]
        anyl = [(r["leader"], n) for n, r in surv.items() if r.get("leader") is not None]
        if sl:
            t, n = min(sl)
            print(h2.format(f"until a survivor reports itself Leader ({n})", fmt(t)))
        else:
            print(h2.format("until a survivor reports itself Leader", "never"))
            notes.append("no survivor reported itself Leader within "
                         f"{fmt(fo.get('watched'), '{:.0f}')} s")
        for n in sorted(surv):
            r = surv[n]
            print(h2.format(f"  {n}'s node ls shows a new leader "
                            f"({r.get('leader_name') or '-'})", fmt(r.get("leader"))))
        ws = fo.get("write", {})
        oks = [(w["ok"], n) for n, w in ws.items() if w.get("ok") is not None]
        if oks:
            t, n = min(oks)
            print(h2.format(f"until a label update through a survivor succeeds ({n})", fmt(t)))
        else:
            print(h2.format("until a label update through a survivor succeeds", "never"))
        for n in sorted(ws):
            w = ws[n]
            at = sorted(w.get("attempts", []), key=lambda x: x["start"])
            if at:
                f0 = at[0]
                print(h2.format(f"  via {n}: the write started at {f0['start']:.3f} "
                                f"{'succeeded' if f0['ok'] else 'failed'} at", fmt(f0["end"])))
            print(h2.format(f"  via {n}: first success (started at {fmt(w.get('ok_started'))}; "
                            f"one every {fo.get('write_every', '?')} s)", fmt(w.get("ok"))))
        downs = [r["killed_down"] for r in surv.values() if r.get("killed_down") is not None]
        print(h2.format(f"until node ls shows {fo.get('killed')} Down",
                        fmt(min(downs)) if downs else
                        f"not in {fmt(fo.get('watched'), '{:.0f}')}"))
        for n in sorted(ws):
            errs = {}
            for x in ws[n].get("attempts", []):
                if not x["ok"]:
                    errs.setdefault(x["error"], []).append(x)
            for e, xs in errs.items():
                xs.sort(key=lambda x: x["start"])
                notes.append(f"failover: {len(xs)} writes through {n} failed (first started "
                             f"{xs[0]['start']:.3f}s, ended {xs[0]['end']:.3f}s): {e}")
        for n in sorted(surv):
            r = surv[n]
            notes.append(f"failover: {n} answered GET /nodes {r['polls']} times, "
                         f"{r['errors']} errors"
                         + (f" (first {r['first_error']})" if r.get("first_error") else "")
                         + (f", still naming the dead leader {r['stale_leader']} times"
                            if r.get("stale_leader") else ""))
    else:
        print("  (no data)")
    print("  docker: not measured in this run (needs 3 dockerds)")

    print()
    print("3. idle memory, 10 s after the swarm formed (KiB; RSS = VmRSS, PSS from "
          "smaps_rollup, USS = private)")
    ms = load_json(d, "mem-shoal.json") or {}
    md = load_json(d, "mem-docker.json") or {}
    h3 = "{:<44} {:>10} {:>10} {:>10} {:>10}"
    print(h3.format("", "RSS", "PSS", "USS", "HWM"))
    print("-" * 88)

    def mrow(title, m):
        print(h3.format(title, fmt(get(m, "rss"), "{:.0f}"), fmt(get(m, "pss"), "{:.0f}"),
                        fmt(get(m, "uss"), "{:.0f}"), fmt(get(m, "hwm"), "{:.0f}")))

    mrow("shoal manager node1: shoald", ms.get("manager"))
    mrow("shoal worker node2: shoald", ms.get("worker2"))
    mrow("shoal worker node3: shoald", ms.get("worker3"))
    mrow("docker single-node manager: dockerd", md.get("dockerd"))
    mrow("  its containerd", md.get("containerd"))
    dsum = {}
    for k in ("rss", "pss", "uss", "hwm"):
        a_, b_ = get(md, "dockerd", k), get(md, "containerd", k)
        dsum[k] = None if a_ is None or b_ is None else a_ + b_
    mrow("  dockerd + containerd", dsum)
    for k, name in (("rss", "RSS"), ("pss", "PSS")):
        print(f"  docker/shoal, manager {name}: "
              f"{fx(ratio(dsum[k], get(ms, 'manager', k)))} (dockerd + containerd / shoald)")
    print("  above 1 means Shoal uses less. Docker: one dockerd alone as a single-node swarm "
          "manager\n  (a Docker worker needs a second dockerd: not measured here; MEASURED.md "
          "has 3-node figures).\n  PSS: the three shoalds share their binary's pages, so "
          "their PSS is below their RSS.")

    print()
    print("4. store writes: sequential node label updates through the Engine API "
          "(GET for the version + POST update)")
    h4 = "{:<44} {:>10} {:>9} {:>9} {:>7} {:>10}"
    print(h4.format("", "updates/s", "POST p50", "POST p99", "errors", "shoal/dkr"))
    print("-" * 94)
    dw = load_json(d, "writes-docker.json")

    def wrow(title, w, baseline=True):
        if w and w.get("hostname"):
            role = "leader" if w.get("leader") == w["hostname"] else "follower"
            title = title.format(f"{w['hostname']}, {role}")
        else:
            title = title.format("?")
        r = fx(ratio(get(w, "per_s"), get(dw, "per_s"))) if baseline else ""
        print(h4.format(title, fmt(get(w, "per_s"), "{:.0f}"),
                        fmt(get(w, "post_p50_ms"), "{:.2f}"), fmt(get(w, "post_p99_ms"), "{:.2f}"),
                        fmt(get(w, "errors"), "{:d}"), r))
        if w and w.get("first_error"):
            notes.append(f"{title.strip()}: {w['errors']} errors, first: {w['first_error']}")

    wrow("shoal, 1 manager + 2 workers, on {}", load_json(d, "writes-shoal-1.json"))
    wrow("shoal, 3 managers, on {}", load_json(d, "writes-shoal-3.json"))
    wrow("shoal, 3 managers, on {}", load_json(d, "writes-shoal-3f.json"))
    wrow("docker, single-node swarm", dw, baseline=False)
    print(f"  {meta.get('write_seconds', '?')} s each, unix socket, one keep-alive connection; "
          "POST latency in ms;\n  shoal/dkr above 1 means Shoal writes faster (Docker has one "
          "manager: its writes commit\n  without a quorum round-trip)")
    if notes:
        print()
        for n in notes:
            print("note: " + n)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="sub", required=True)

    s = sub.add_parser("form")
    s.add_argument("--shoal", required=True, help="the shoal CLI")
    s.add_argument("--storage", required=True)
    s.add_argument("--subnet", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--timeout", type=float, default=60)
    s.add_argument("--poll", type=float, default=0.02)
    s.set_defaults(fn=cmd_form)

    s = sub.add_parser("timecmd")
    s.add_argument("--out", required=True)
    s.add_argument("cmd", nargs="+")
    s.set_defaults(fn=cmd_timecmd)

    s = sub.add_parser("promote")
    s.add_argument("--sock", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--managers", type=int, default=3)
    s.add_argument("--timeout", type=float, default=60)
    s.add_argument("--poll", type=float, default=0.02)
    s.add_argument("cmd", nargs="+")
    s.set_defaults(fn=cmd_promote)

    s = sub.add_parser("mem")
    s.add_argument("--pid", action="append", required=True, help="NAME=PID")
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_mem)

    s = sub.add_parser("writes")
    s.add_argument("sock")
    s.add_argument("--out", required=True)
    s.add_argument("--seconds", type=float, default=5)
    s.add_argument("--warmup", type=int, default=3)
    s.add_argument("--node", help="node ID to update (default: the daemon's own node)")
    s.set_defaults(fn=cmd_writes)

    s = sub.add_parser("failover")
    s.add_argument("--node", action="append", required=True, help="NAME=SOCK, every node")
    s.add_argument("--out", required=True)
    s.add_argument("--poll", type=float, default=0.05)
    s.add_argument("--req-timeout", type=float, default=10)
    s.add_argument("--write-every", type=float, default=0.25,
                   help="seconds between the starts of write attempts through a survivor")
    s.add_argument("--down-wait", type=float, default=40,
                   help="seconds to wait for the killed node to show Down (0: don't)")
    s.add_argument("--timeout", type=float, default=120)
    s.add_argument("kill", nargs="+", help="the kill command; {name} is the leader's name")
    s.set_defaults(fn=cmd_failover)

    s = sub.add_parser("report")
    s.add_argument("dir")
    s.set_defaults(fn=cmd_report)

    a = p.parse_args()
    try:
        return a.fn(a)
    except (OSError, ApiError, http.client.HTTPException) as e:
        print(f"measure {a.sub}: {err_text(e)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
