#!/usr/bin/python3
"""What the benchmarks' measure.py scripts share (Python 3 standard library only): an Engine
API client over a unix socket, running and timing commands, `shoal machine` nodes' pids and
sockets, a process's memory, JSON results and the report's number formats.

A measure.py imports it with its own directory's parent on sys.path:

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchlib import Api, ...

Run as a script, for bench/lib.sh:
  ping SOCK              exit 0 when GET /_ping answers 200
  nodepid STORAGE NAME   prints the host pid of machine NAME's shoald
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import time

API = "/v1.41"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class ApiError(Exception):
    def __init__(self, status, data):
        try:
            msg = json.loads(data).get("message", "")
        except (ValueError, AttributeError):
            msg = data[:200].decode(errors="replace")
        super().__init__(f"HTTP {status}: {msg}")
        self.status = status


class Api:
    """One keep-alive connection to a daemon's unix socket, as the docker CLI keeps one;
    a new one after any error."""

    def __init__(self, sock, timeout=30):
        self.sock = sock
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, method, path, body=None):
        headers = {}
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                self.conn = UnixHTTPConnection(self.sock, self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The daemon closed an idle keep-alive connection: once more on a new one.
                self.close()
                if fresh or attempt:
                    raise
                continue
            except Exception:
                self.close()
                raise
            if resp.will_close:
                self.close()
            return resp.status, data
        raise AssertionError("unreachable")

    def json(self, method, path, body=None):
        status, data = self.call(method, path, body)
        if status // 100 != 2:
            raise ApiError(status, data)
        return json.loads(data) if data else None


# What a request to a daemon that is busy, restarting or gone can raise.
API_ERRORS = (OSError, ApiError, http.client.HTTPException, ValueError)


def ping(sock):
    """True when GET /_ping on sock answers 200."""
    try:
        status, _ = Api(sock, 5).call("GET", "/_ping")
    except OSError:
        return False
    return status == 200


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def err_text(e):
    s = str(e) or type(e).__name__
    return s if len(s) < 300 else s[:300] + "..."


def run(cmd, check=True):
    """Runs cmd, returns (seconds, stdout); stderr goes to ours."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    t = time.perf_counter() - t0
    out = p.stdout.decode(errors="replace").strip()
    if check and p.returncode != 0:
        raise SystemExit(f"measure: {' '.join(cmd)}: exit {p.returncode}: {out[-500:]}")
    return t, out


# ---- `shoal machine` nodes ----


def node_init(storage, name):
    """The host pid of the machine's node init (the first number in STORAGE/NAME/pid)."""
    with open(os.path.join(storage, name, "pid")) as f:
        return int(f.read().split()[0])


def node_pid(storage, name):
    """The host pid of the machine's shoald: the child of the node init named shoald."""
    init = node_init(storage, name)
    with open(f"/proc/{init}/task/{init}/children") as f:
        kids = [int(x) for x in f.read().split()]
    for k in kids:
        try:
            with open(f"/proc/{k}/comm") as f:
                if f.read().strip() == "shoald":
                    return k
        except OSError:
            pass
    raise SystemExit(f"measure: no shoald among the children of {name}'s init ({init})")


def node_sock(storage, name):
    """The node's /var/run/docker.sock, reached through its shoald's root. /var/run is an
    absolute link to /run, which /proc/PID/root would resolve in our namespace: /run."""
    return f"/proc/{node_pid(storage, name)}/root/run/docker.sock"


# ---- memory ----


def proc_mem(pid):
    """{pid, comm, rss (VmRSS), hwm (VmHWM), pss, uss (private clean + dirty)} in KiB."""
    out = {"pid": pid}
    with open(f"/proc/{pid}/comm") as f:
        out["comm"] = f.read().strip()
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                out["rss"] = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                out["hwm"] = int(line.split()[1])
    uss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == "Pss":
                out["pss"] = int(v.split()[0])
            elif k in ("Private_Clean", "Private_Dirty"):
                uss += int(v.split()[0])
    out["uss"] = uss
    return out


# ---- results and the report ----


def pct(xs, p):
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def load_json(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fmt(v, f="{:.3f}"):
    return "-" if v is None else f.format(v)


def ratio(a, b):
    return None if a is None or b is None or a == 0 or b == 0 else a / b


def fx(r):
    return "-" if r is None else f"{r:.2f}x"


def get(d, *keys):
    for k in keys:
        if d is None:
            return None
        d = d[k] if isinstance(d, list) and isinstance(k, int) and k < len(d) else (
            d.get(k) if isinstance(d, dict) else None)
    return d


def main(argv):
    if len(argv) == 2 and argv[0] == "ping":
        return 0 if ping(argv[1]) else 1
    if len(argv) == 3 and argv[0] == "nodepid":
        print(node_pid(argv[1], argv[2]))
        return 0
    print("usage: benchlib.py ping SOCK | nodepid STORAGE NAME", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
