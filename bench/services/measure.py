#!/usr/bin/python3
"""The measuring half of bench/services/run.sh (Python 3 standard library only).

Subcommands:
  side --name NAME --sock SOCK --cli CLI --out F [options]
        on one swarm (Shoal's manager or the single dockerd), with the docker CLI on SOCK:
        BENCH samples x (`service create --detach --replicas R IMAGE` until R tasks run,
        then `service rm` until its containers are gone on every --engine), then the last
        sample's service stays: its memory, then `service scale --detach vote=N` for each N
        of --steps, until exactly N run, the memory at each count of --mem-at the first time
        it is reached; at the end `service rm` until gone. F is rewritten after every step.
  report DIR    the table and the ratios, from DIR's JSON files and sched.txt

"Converged" is MEASURED.md's: GET /v1.41/tasks?filters={"service":["vote"]} every --poll
seconds until exactly N tasks have Status.State running, all of them with DesiredState
running; the time starts before the CLI command is launched.

Memory (KiB, from /proc: VmRSS, Pss of smaps_rollup): for Shoal (--machines STORAGE) every
process under each machine's node init: the init, shoald, each shoal-shim and the task
processes under the shims; for Docker (--docker-ns NS --dockerd PID) dockerd, its containerd,
every containerd-shim-runc-v2 in dockerd's network namespace and the task processes under
them.
"""

import argparse
import json
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import (API, API_ERRORS, Api, dump, err_text, fmt, fx, get,  # noqa: E402
                      load_json, node_init, proc_mem, ratio, run)

SERVICE_LABEL = "com.docker.swarm.service.name"

# ---- processes ----


def ppids():
    """{pid: ppid} of every process now."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        out[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
    return out


def descendants(root, parent):
    """The pids under root (not root itself), from a {pid: ppid} map."""
    kids = {}
    for p, pp in parent.items():
        kids.setdefault(pp, []).append(p)
    out, todo = [], list(kids.get(root, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def mem_or_none(pid):
    try:
        return proc_mem(pid)
    except (OSError, ValueError):
        return None  # gone meanwhile


def mems(pids):
    return [m for m in (mem_or_none(p) for p in pids) if m is not None]


def shoal_memory(storage):
    """Per machine: its node init, shoald, shims, the tasks' processes and anything else."""
    parent = ppids()
    out = {}
    for name in sorted(os.listdir(storage)):
        try:
            init = node_init(storage, name)
        except (OSError, ValueError, IndexError):
            continue
        under = descendants(init, parent)
        shims = [p for p in under if comm(p) == "shoal-shim"]
        tasks = set()
        for s in shims:
            tasks.update(descendants(s, parent))
        rest = [p for p in under if p not in tasks and p not in shims]
        out[name] = {
            "init": mem_or_none(init),
            "shoald": mems([p for p in rest if comm(p) == "shoald"]),
            "shims": mems(shims),
            "tasks": mems(sorted(tasks)),
            "other": mems([p for p in rest if comm(p) != "shoald"]),
        }
    return out


def docker_memory(ns, dockerd):
    """dockerd, its containerd, the shims in its network namespace and the tasks under them."""
    parent = ppids()
    ino = os.stat(f"/run/netns/{ns}").st_ino
    shims = []
    for p in parent:
        try:
            if os.stat(f"/proc/{p}/ns/net").st_ino != ino:
                continue
        except OSError:
            continue
        if (comm(p) or "").startswith("containerd-shim"):
            shims.append(p)
    tasks = set()
    for s in shims:
        tasks.update(descendants(s, parent))
    containerd = [p for p, pp in parent.items() if pp == dockerd and comm(p) == "containerd"]
    return {"dockerd": mems([dockerd]), "containerd": mems(containerd), "shims": mems(shims),
            "tasks": mems(sorted(tasks))}


# ---- convergence ----


def task_state(t):
    return (t.get("Status") or {}).get("State", "?")


def tasks_of(api, service):
    f = urllib.parse.quote(json.dumps({"service": [service]}))
    return api.json("GET", f"{API}/tasks?filters={f}")


def running(ts):
    return [t for t in ts if task_state(t) == "running"]


def converged(ts, n):
    r = running(ts)
    return len(r) == n and all(t.get("DesiredState") == "running" for t in r)


def summary(ts):
    """{"desired/state": count} and the first few distinct task errors."""
    counts, errs = {}, []
    for t in ts:
        k = f"{t.get('DesiredState', '?')}/{task_state(t)}"
        counts[k] = counts.get(k, 0) + 1
        e = (t.get("Status") or {}).get("Err")
        if e and e not in errs and len(errs) < 5:
            errs.append(e)
    return {"counts": counts, "errors": errs}


def converge(a, api, cmd, n):
    """Runs cmd, polls until n tasks run (or a.timeout): the step's record."""
    rec = {"cmd": cmd[3:], "to": n}
    t0 = time.perf_counter()
    rec["cmd_seconds"], _ = run(cmd)
    polls = errors = 0
    first_err = None
    last_n, curve, ts = None, [], []
    while True:
        polls += 1
        try:
            ts = tasks_of(api, a.service)
        except API_ERRORS as e:
            errors += 1
            first_err = first_err or err_text(e)
            ts = None
        t = time.perf_counter() - t0
        if ts is not None:
            nr = len(running(ts))
            if nr != last_n:
                curve.append([round(t, 3), nr])
                last_n = nr
            if converged(ts, n):
                rec["seconds"] = t
                break
        if t > a.timeout:
            rec["seconds"] = None
            break
        time.sleep(a.poll)
    rec.update(polls=polls, errors=errors, first_error=first_err, curve=curve)
    if ts:
        rec["tasks"] = summary(ts)
    return rec


def service_containers(sock):
    ids = []
    for c in Api(sock, 30).json("GET", "/containers/json?all=1"):
        if (c.get("Labels") or {}).get(SERVICE_LABEL):
            ids.append(c["Id"])
    return ids


def remove(a, api):
    """`service rm`, then until the service is gone and no engine holds one of its
    containers."""
    rec = {}
    t0 = time.perf_counter()
    rec["cmd_seconds"], _ = run(cli(a) + ["service", "rm", a.service])
    engines = a.engine or [a.sock]
    left = None
    while time.perf_counter() - t0 < a.timeout:
        try:
            # the list, not GET /services/vote: dockerd logs every 404 as an error
            there = [x for x in api.json("GET", f"{API}/services")
                     if get(x, "Spec", "Name") == a.service]
            left = sum(len(service_containers(s)) for s in engines)
            if not there and left == 0:
                rec["seconds"] = time.perf_counter() - t0
                return rec
        except API_ERRORS:
            pass
        time.sleep(a.poll)
    rec["seconds"] = None
    rec["left"] = left
    return rec


def cli(a):
    return [a.cli, "-H", f"unix://{a.sock}"]


def memory(a):
    time.sleep(a.settle)
    if a.machines:
        return shoal_memory(a.machines)
    return docker_memory(a.docker_ns, a.dockerd)


def cmd_side(a):
    api = Api(a.sock, 60)
    out = {"name": a.name, "replicas": a.replicas, "creates": [], "removes": [], "steps": [],
           "mem": {}, "load": [os.getloadavg()[0]]}
    create = cli(a) + ["service", "create", "--detach", "--replicas", str(a.replicas),
                       "--name", a.service, a.image]
    for i in range(a.samples):
        print(f"measure: {a.name}: create {i + 1}/{a.samples}", file=sys.stderr)
        rec = converge(a, api, create, a.replicas)
        out["creates"].append(rec)
        dump(a.out, out)
        if rec["seconds"] is None:
            raise SystemExit(f"measure: {a.name}: {a.replicas} tasks not running within "
                             f"{a.timeout}s: {rec.get('tasks')}")
        if i + 1 < a.samples:
            out["removes"].append(remove(a, api))
            dump(a.out, out)
    n = a.replicas
    if n in a.mem_at:
        out["mem"][str(n)] = memory(a)
    for to in a.steps:
        print(f"measure: {a.name}: scale {n} -> {to}", file=sys.stderr)
        rec = converge(a, api, cli(a) + ["service", "scale", "--detach", f"{a.service}={to}"],
                       to)
        rec["from"] = n
        out["steps"].append(rec)
        out["load"].append(os.getloadavg()[0])
        dump(a.out, out)
        if rec["seconds"] is None:
            print(f"measure: {a.name}: {to} tasks not running within {a.timeout}s: "
                  f"{rec.get('tasks')}", file=sys.stderr)
        elif to in a.mem_at and str(to) not in out["mem"]:
            out["mem"][str(to)] = memory(a)
            dump(a.out, out)
        n = to
    out["final_remove"] = remove(a, api)
    dump(a.out, out)
    return 0


# ---- report ----


def stats(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None, None, None
    return xs[0], xs[len(xs) // 2], xs[-1]


def total(ms, k):
    return sum(m.get(k, 0) for m in ms) if ms else 0


def read_sched(d):
    """sched.txt: key=value words per line; the pass lines as a list."""
    out = {"passes_list": []}
    try:
        with open(os.path.join(d, "sched.txt")) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
        if "pass" in kv:
            out["passes_list"].append(kv)
        else:
            out.update(kv)
    return out


def log_lines(path, levels=("error", "warning", "warn")):
    """{(level, msg): count} of a logfmt log's lines at those levels."""
    out = {}
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = re.search(r'level=(\w+)', line)
                if not m or m.group(1) not in levels:
                    continue
                g = re.search(r'msg="((?:[^"\\]|\\.)*)"', line) or re.search(r'msg=(\S+)', line)
                msg = g.group(1) if g else line.strip()[:120]
                e = re.search(r'error="((?:[^"\\]|\\.)*)"', line)
                if e:
                    msg += ": " + re.sub(r'[0-9a-f]{12,}', '<id>', e.group(1))[:160]
                k = (m.group(1), msg[:220])
                out[k] = out.get(k, 0) + 1
    except OSError:
        return None
    return out


def cmd_report(a):
    d = a.dir
    meta = load_json(d, "meta.json") or {}
    sh = load_json(d, "shoal.json") or {}
    dk = load_json(d, "docker.json") or {}
    notes = []
    print()
    print(f"services: shoald {meta.get('shoal_version', '?')} on 3 `shoal machine` nodes "
          f"(1 manager + 2 workers) against dockerd {meta.get('docker_version', '?')} as a "
          f"single-node swarm;\n{meta.get('cpus', '?')} CPUs, kernel {meta.get('kernel', '?')}, "
          f"CLI {meta.get('cli', '?')}, image {meta.get('image', '?')}, no --publish; "
          f"load average {meta.get('load_start', '?')} at the start, "
          f"{meta.get('load_end', '?')} at the end")
    h = "{:<40} {:>22} {:>22} {:>9}"

    print()
    print(f"1. service create --detach --replicas {sh.get('replicas', 6)}, until that many "
          f"run (seconds from the CLI's start; min / median / max)")
    print(h.format("", "shoal", "docker", "dkr/shoal"))
    print("-" * 96)

    def mmm(xs):
        lo, med, hi = stats(xs)
        return "-" if med is None else f"{lo:.3f} {med:.3f} {hi:.3f}"

    def row3(title, key, recs_s, recs_d):
        xs = [r.get(key) for r in recs_s]
        ys = [r.get(key) for r in recs_d]
        r = ratio(stats(ys)[1], stats(xs)[1])
        print(h.format(title + f" [{len(xs)}, {len(ys)}]", mmm(xs), mmm(ys), fx(r)))

    row3("create until running", "seconds", sh.get("creates", []), dk.get("creates", []))
    row3("  the CLI command alone", "cmd_seconds", sh.get("creates", []), dk.get("creates", []))
    row3("service rm until its containers gone", "seconds", sh.get("removes", []),
         dk.get("removes", []))

    print()
    print("2. service scale --detach vote=N, until exactly N run (seconds; first = until the "
          "running count first moves)")
    h2 = "{:<22} {:>9} {:>7} {:>8}   {:>9} {:>7} {:>8}   {:>9}"
    print(h2.format("", "shoal", "first", "tasks/s", "docker", "first", "tasks/s", "dkr/shoal"))
    print("-" * 96)
    used = set()

    def first_move(rec):
        c = rec.get("curve") or []
        return c[1][0] if len(c) > 1 else None

    def rate(rec):
        s = rec.get("seconds")
        return abs(rec["to"] - rec["from"]) / s if s else None

    seen = {}
    for rec in sh.get("steps", []):
        k = (rec["from"], rec["to"])
        seen[k] = seen.get(k, 0) + 1
        # the Docker step with the same from -> to, each used once
        match = None
        for i, r in enumerate(dk.get("steps", [])):
            if i not in used and (r["from"], r["to"]) == k:
                match = r
                used.add(i)
                break
        title = f"{k[0]} -> {k[1]}" + (" (again)" if seen[k] > 1 else "")
        print(h2.format(title, fmt(rec.get("seconds")), fmt(first_move(rec)),
                        fmt(rate(rec), "{:.1f}"),
                        fmt(get(match, "seconds")) if match else "not run",
                        fmt(first_move(match)) if match else "",
                        fmt(rate(match), "{:.1f}") if match else "",
                        fx(ratio(get(match, "seconds"), rec.get("seconds")))))
        for side, r in (("shoal", rec), ("docker", match)):
            if r is not None and r.get("seconds") is None:
                notes.append(f"{side}: {r['from']} -> {r['to']} not converged in "
                             f"{meta.get('timeout', '?')} s: {r.get('tasks')}")
    for i, r in enumerate(dk.get("steps", [])):
        if i not in used:
            print(h2.format(f"{r['from']} -> {r['to']}", "not run", "", "",
                            fmt(r.get("seconds")), fmt(first_move(r)),
                            fmt(rate(r), "{:.1f}"), "-"))
    fr_s, fr_d = sh.get("final_remove") or {}, dk.get("final_remove") or {}
    print(h2.format("service rm (at 6)", fmt(fr_s.get("seconds")), "", "",
                    fmt(fr_d.get("seconds")), "", "",
                    fx(ratio(fr_d.get("seconds"), fr_s.get("seconds")))))
    s_max = max([r["to"] for r in sh.get("steps", [])], default=0)
    if meta.get("docker_max") and int(meta["docker_max"]) < s_max:
        print(f"  docker: scaled up to {meta['docker_max']} only (BENCH_DOCKER_STEPS), as "
              "MEASURED.md did")
    for side, rs in (("shoal", sh), ("docker", dk)):
        for r in rs.get("creates", []) + rs.get("steps", []):
            if r.get("errors"):
                notes.append(f"{side}: {r['errors']} failed polls while converging to "
                             f"{r['to']} (first: {r['first_error']})")

    print()
    print("3. memory (KiB; RSS = VmRSS, PSS = Pss of smaps_rollup), after "
          f"{meta.get('settle', '?')} s settled at each count")
    sm, dm = sh.get("mem", {}), dk.get("mem", {})
    counts = sorted({int(k) for k in list(sm) + list(dm)})
    h3 = "{:<44}" + " {:>12}" * len(counts)
    print(h3.format("tasks running:", *[str(c) for c in counts]))
    print("-" * 84)

    def mrow(title, vals, kind="{:.0f}"):
        print(h3.format(title, *[fmt(v, kind) for v in vals]))

    def node_vals(n, part, k):
        out = []
        for c in counts:
            m = get(sm, str(c), n, part)
            if isinstance(m, list):
                out.append(total(m, k) if m else None)
            else:
                out.append(get(m, k))
        return out

    nodes = sorted({n for c in sm.values() for n in c})
    for k in ("rss", "pss"):
        for i, n in enumerate(nodes):
            role = "manager" if i == 0 else "worker"
            mrow(f"shoal {n} ({role}) shoald {k.upper()}", node_vals(n, "shoald", k))
    shim_n, shim_rss, shim_pss, task_rss, task_pss, sd_rss, sd_pss = ([] for _ in range(7))
    for c in counts:
        per = sm.get(str(c))
        if per is None:
            for lst in (shim_n, shim_rss, shim_pss, task_rss, task_pss, sd_rss, sd_pss):
                lst.append(None)
            continue
        shims = [m for n in per.values() for m in n["shims"]]
        tasks = [m for n in per.values() for m in n["tasks"]]
        sds = [m for n in per.values() for m in n["shoald"]]
        shim_n.append(len(shims))
        shim_rss.append(total(shims, "rss"))
        shim_pss.append(total(shims, "pss"))
        task_rss.append(total(tasks, "rss"))
        task_pss.append(total(tasks, "pss"))
        sd_rss.append(total(sds, "rss"))
        sd_pss.append(total(sds, "pss"))
    mrow("shoal: shoald, 3 nodes together, RSS", sd_rss)
    mrow("shoal: shoald, 3 nodes together, PSS", sd_pss)
    mrow("shoal-shim count", shim_n, "{:d}")
    mrow("shoal-shim total RSS", shim_rss)
    mrow("shoal-shim total PSS", shim_pss)
    mrow("  per shim RSS", [ratio(a_, b_) for a_, b_ in zip(shim_rss, shim_n)], "{:.0f}")
    mrow("  per shim PSS", [ratio(a_, b_) for a_, b_ in zip(shim_pss, shim_n)], "{:.0f}")
    mrow("shoal: tasks' own processes, RSS", task_rss)
    mrow("shoal: tasks' own processes, PSS", task_pss)
    inits = [sum(get(sm, str(c), n, "init", "rss") or 0 for n in nodes) if str(c) in sm
             else None for c in counts]
    mrow("(shoal machine node inits, RSS, not counted)", inits)
    print("-" * 84)
    d_vals = {}
    for key, part, k in (("dockerd_rss", "dockerd", "rss"), ("dockerd_pss", "dockerd", "pss"),
                         ("containerd_rss", "containerd", "rss"),
                         ("containerd_pss", "containerd", "pss"),
                         ("shim_n", "shims", None), ("shim_rss", "shims", "rss"),
                         ("shim_pss", "shims", "pss"), ("task_rss", "tasks", "rss"),
                         ("task_pss", "tasks", "pss")):
        vals = []
        for c in counts:
            m = get(dm, str(c), part)
            if m is None:
                vals.append(None)
            elif k is None:
                vals.append(len(m))
            else:
                vals.append(total(m, k))
        d_vals[key] = vals
    mrow("docker: dockerd RSS", d_vals["dockerd_rss"])
    mrow("docker: dockerd PSS", d_vals["dockerd_pss"])
    mrow("docker: containerd RSS", d_vals["containerd_rss"])
    mrow("docker: containerd PSS", d_vals["containerd_pss"])
    mrow("containerd-shim-runc-v2 count", d_vals["shim_n"], "{:d}")
    mrow("containerd-shim-runc-v2 total RSS", d_vals["shim_rss"])
    mrow("containerd-shim-runc-v2 total PSS", d_vals["shim_pss"])
    mrow("  per shim RSS", [ratio(a_, b_) for a_, b_ in zip(d_vals["shim_rss"],
                                                            d_vals["shim_n"])])
    mrow("  per shim PSS", [ratio(a_, b_) for a_, b_ in zip(d_vals["shim_pss"],
                                                            d_vals["shim_n"])])
    mrow("docker: tasks' own processes, RSS", d_vals["task_rss"])
    mrow("docker: tasks' own processes, PSS", d_vals["task_pss"])
    print("-" * 84)

    def add(*xs):
        return None if any(x is None for x in xs) else sum(xs)

    s_all_rss = [add(a_, b_) for a_, b_ in zip(sd_rss, shim_rss)]
    s_all_pss = [add(a_, b_) for a_, b_ in zip(sd_pss, shim_pss)]
    d_all_rss = [add(a_, b_, c_) for a_, b_, c_ in zip(d_vals["dockerd_rss"],
                                                       d_vals["containerd_rss"],
                                                       d_vals["shim_rss"])]
    d_all_pss = [add(a_, b_, c_) for a_, b_, c_ in zip(d_vals["dockerd_pss"],
                                                       d_vals["containerd_pss"],
                                                       d_vals["shim_pss"])]
    mrow("shoal: 3 x shoald + shims, RSS", s_all_rss)
    mrow("docker: dockerd + containerd + shims, RSS", d_all_rss)
    print(h3.format("  docker/shoal", *[fx(ratio(b_, a_)) for a_, b_ in zip(s_all_rss,
                                                                           d_all_rss)]))
    mrow("shoal: 3 x shoald + shims, PSS", s_all_pss)
    mrow("docker: dockerd + containerd + shims, PSS", d_all_pss)
    print(h3.format("  docker/shoal", *[fx(ratio(b_, a_)) for a_, b_ in zip(s_all_pss,
                                                                           d_all_pss)]))
    print(h3.format("per shim RSS, docker/shoal",
                    *[fx(ratio(ratio(b_, bn), ratio(a_, an))) for a_, an, b_, bn in
                      zip(shim_rss, shim_n, d_vals["shim_rss"], d_vals["shim_n"])]))
    print("  above 1 means Shoal uses less. Shoal runs 3 daemons (one per node), Docker 1 "
          "dockerd + 1 containerd\n  for all tasks; the task processes (the same vote binary "
          "on both) are left out of the totals.")
    for c in counts:
        for side, m, want in (("shoal", sm.get(str(c)), "shims"), ("docker", dm.get(str(c)),
                                                                    "shims")):
            if m is None:
                continue
            n = (sum(len(x[want]) for x in m.values()) if side == "shoal"
                 else len(m[want]))
            if n != c:
                notes.append(f"{side}: {n} shims seen at {c} tasks")
        if str(c) in sm:
            other = [x for n in sm[str(c)].values() for x in n.get("other", [])]
            if other:
                notes.append(f"shoal: at {c} tasks also {len(other)} other processes under "
                             f"the nodes: {sorted({x['comm'] for x in other})}")

    print()
    sc = read_sched(d)
    print(f"4. the scheduler alone: {get(sc, 'tasks') or '?'} tasks onto "
          f"{get(sc, 'nodes') or '?'} in-memory nodes, Shoal's orchestrator core in-process "
          f"(ms; min / median / max of {get(sc, 'rounds') or '?'})")
    h4 = "{:<64} {:>30}"
    print("-" * 96)
    if sc:
        def srow(title, key):
            v = [sc.get(f"{key}_{x}") for x in ("min", "med", "max")]
            print(h4.format(title, " ".join(x or "-" for x in v)))

        srow(f"shoal_orch_run until all assigned ({sc.get('passes')} passes)", "orch_total")
        srow("  of which the passes' compute (reconcile, allocate, schedule)", "orch_compute")
        srow("  of which applying the change sets (encode + store apply)", "orch_apply")
        srow("one pass over tasks already pending: compute", "pass_compute")
        srow("  its change set applied", "pass_apply")
        srow("the scheduler's step alone (shoal_orch__schedule)", "step")
        print("  the passes of the first round (ms): pass: compute + apply, "
              "tasks created / made pending / assigned")
        pl = sc["passes_list"]
        for i in range(0, len(pl), 2):
            cells = []
            for p in pl[i:i + 2]:
                cells.append(f"{p['pass']:>3}: {float(p['compute']):7.1f} + "
                             f"{float(p['apply']):6.1f}  {p['created']:>4} / {p['pending']:>4} "
                             f"/ {p['assigned']:>4}")
            print("  " + "    ".join(cells))
        print("  the goal, for 10,000 tasks onto 1,000 nodes: under 50 ms of scheduling "
              "decisions")
    else:
        print("  (no data)")

    for side, f in (("shoal manager (node1)", "shoald-node1.log"),
                    ("dockerd", "dockerd.log")):
        lines = log_lines(os.path.join(d, f))
        if lines:
            top = sorted(lines.items(), key=lambda kv: -kv[1])[:6]
            for (lvl, msg), n in top:
                notes.append(f"{side} log: {n} x level={lvl} {msg}")
    if notes:
        print()
        for n in notes:
            print("note: " + n)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="sub", required=True)

    def ints(s):
        return [int(x) for x in s.split(",") if x]

    s = sub.add_parser("side")
    s.add_argument("--name", required=True)
    s.add_argument("--sock", required=True, help="the manager's socket")
    s.add_argument("--engine", action="append", help="every node's socket (default: --sock)")
    s.add_argument("--cli", required=True)
    s.add_argument("--image", default="instavote/vote")
    s.add_argument("--service", default="vote")
    s.add_argument("--replicas", type=int, default=6)
    s.add_argument("--samples", type=int, default=3)
    s.add_argument("--steps", type=ints, default=[100, 300, 6])
    s.add_argument("--mem-at", type=ints, default=[6, 100, 300])
    s.add_argument("--settle", type=float, default=5)
    s.add_argument("--poll", type=float, default=0.05)
    s.add_argument("--timeout", type=float, default=600)
    s.add_argument("--machines", help="Shoal: the machines' storage path")
    s.add_argument("--docker-ns", help="Docker: dockerd's network namespace")
    s.add_argument("--dockerd", type=int, help="Docker: dockerd's pid")
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_side)

    s = sub.add_parser("report")
    s.add_argument("dir")
    s.set_defaults(fn=cmd_report)

    a = p.parse_args()
    try:
        return a.fn(a)
    except API_ERRORS as e:
        print(f"measure {a.sub}: {err_text(e)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
