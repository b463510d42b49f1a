#!/usr/bin/python3
"""The measuring half of bench/registry/run.sh (Python 3 standard library only).

Subcommands:
  gen TAR                    writes a `docker save` tar of about 100 MB in 5 layers (seeded,
                             incompressible bytes: the same on every run)
  ping SOCK                  exit 0 when GET /_ping answers 200
  bench --side NAME SOCK ... --registry HOST ... --out F
                             for each daemon in turn and each registry (one per run, empty,
                             so every layer goes up: no mount, no "already exists"): push
                             the loaded image, remove it, pull it back
  report F                   the table and the docker/shoal ratios

Times are time.perf_counter() around the request, until its JSON stream ends without an
error.
"""

import argparse
import hashlib
import http.client
import io
import json
import socket
import statistics
import sys
import tarfile
import time

NAME = "shoalbench/registry:latest"
LAYERS = 5
LAYER_SIZE = 20_000_000


class Unix(http.client.HTTPConnection):
    def __init__(self, path, timeout=600):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def request(sock, method, path, headers=None):
    c = Unix(sock)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def stream_ok(status, body):
    if status != 200:
        raise SystemExit(f"HTTP {status}: {body[:300]!r}")
    for line in body.splitlines():
        if line.strip() and b'"error"' in line:
            raise SystemExit(f"stream error: {line[:300]!r}")


def seeded(seed, size):
    out = bytearray()
    n = 0
    while len(out) < size:
        out += hashlib.shake_256(seed + n.to_bytes(8, "big")).digest(1 << 20)
        n += 1
    return bytes(out[:size])


def gen(path):
    diffs, layers = [], []
    for i in range(LAYERS):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            data = seeded(b"shoalbench/registry/%d" % i, LAYER_SIZE)
            info = tarfile.TarInfo(f"layer{i}.bin")
            info.size, info.mtime = len(data), 1704067200
            t.addfile(info, io.BytesIO(data))
        blob = buf.getvalue()
        layers.append(blob)
        diffs.append("sha256:" + hashlib.sha256(blob).hexdigest())
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "created": "2024-01-01T00:00:00Z",
                         "rootfs": {"type": "layers", "diff_ids": diffs},
                         "history": [{"created_by": f"layer {i}"} for i in range(LAYERS)]},
                        separators=(",", ":")).encode()
    cid = hashlib.sha256(config).hexdigest()
    manifest = [{"Config": f"{cid}.json", "RepoTags": [NAME],
                 "Layers": [f"l{i}/layer.tar" for i in range(LAYERS)]}]
    with tarfile.open(path, "w") as t:
        files = [(f"{cid}.json", config)] + [(f"l{i}/layer.tar", b)
                                             for i, b in enumerate(layers)]
        files.append(("manifest.json", json.dumps(manifest).encode()))
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1704067200
            t.addfile(info, io.BytesIO(data))


def ping(sock):
    try:
        return 0 if request(sock, "GET", "/_ping")[0] == 200 else 1
    except OSError:
        return 1


def bench(args):
    auth = {"X-Registry-Auth": "e30="}
    out = {}
    for name, sock in args.side:
        push_t, pull_t = [], []
        for i, reg in enumerate(args.registry):
            repo = f"{reg}/bench/{name}"
            status, body = request(sock, "POST",
                                   f"/images/{NAME}/tag?repo={repo}&tag=latest")
            if status != 201:
                raise SystemExit(f"{name}: tag: {status} {body!r}")
            t0 = time.perf_counter()
            stream_ok(*request(sock, "POST", f"/images/{repo}/push?tag=latest", auth))
            push_t.append(time.perf_counter() - t0)
            # pulled back from scratch: the image goes, the loaded name with it
            status, body = request(sock, "DELETE", f"/images/{NAME}?force=1")
            status, body = request(sock, "DELETE", f"/images/{repo}:latest?force=1")
            if status != 200:
                raise SystemExit(f"{name}: rmi: {status} {body!r}")
            time.sleep(1)  # the layers' files go on the daemon's own pace
            t0 = time.perf_counter()
            stream_ok(*request(sock, "POST",
                               f"/images/create?fromImage={repo}&tag=latest", auth))
            pull_t.append(time.perf_counter() - t0)
            request(sock, "POST", f"/images/{repo}:latest/tag?repo=shoalbench/registry"
                    "&tag=latest")
            request(sock, "DELETE", f"/images/{repo}:latest")
        out[name] = {"push": push_t, "pull": pull_t}
    with open(args.out, "w") as f:
        json.dump(out, f)


def report(path):
    d = json.load(open(path))
    print(f"{'':8} {'push median s':>14} {'push min':>9} {'pull median s':>14} {'pull min':>9}")
    for side, r in d.items():
        print(f"{side:8} {statistics.median(r['push']):14.2f} {min(r['push']):9.2f} "
              f"{statistics.median(r['pull']):14.2f} {min(r['pull']):9.2f}")
    if "shoal" in d and "docker" in d:
        for op in ("push", "pull"):
            ratio = statistics.median(d["docker"][op]) / statistics.median(d["shoal"][op])
            print(f"{op}: docker/shoal {ratio:.2f}x (above 1: Shoal is faster)")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("tar")
    pg = sub.add_parser("ping")
    pg.add_argument("sock")
    b = sub.add_parser("bench")
    b.add_argument("--side", nargs=2, action="append", required=True)
    b.add_argument("--registry", action="append", required=True)
    b.add_argument("--out", required=True)
    r = sub.add_parser("report")
    r.add_argument("file")
    a = p.parse_args()
    if a.cmd == "gen":
        gen(a.tar)
    elif a.cmd == "ping":
        sys.exit(ping(a.sock))
    elif a.cmd == "bench":
        bench(a)
    else:
        report(a.file)


if __name__ == "__main__":
    main()
