"""Fixtures for Shoal's integration tests: real daemons, real clients.

`shoald` starts a daemon on a temporary unix socket (and a TCP port on 127.0.0.1),
data root, exec root and pidfile, and always stops it and removes what it made.
Which build is tested comes from SHOAL_BUILD (default: build/); under the sanitized
build every daemon must also exit cleanly with no sanitizer report.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "plain_only: a long multi-node timing test, run on the plain build only "
        "(tests/run.py's sanitized pass skips it; shorter tests cover the same code there)")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, os.environ.get("SHOAL_BUILD", "build"))
SHOALD = os.path.join(BUILD, "shoald")
SHOAL = os.path.join(BUILD, "shoal")
DOCKER = os.environ.get("DOCKER_CLI") or shutil.which("docker", path="/usr/local/bin:/usr/bin")

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

# Docker Hub, for every shoald the tests start (machine nodes too, which inherit it): a
# closed loopback port, so a docker.io name never sends a byte off this machine.
os.environ.setdefault("SHOAL_DOCKER_HUB_URL", "https://127.0.0.1:9")


def wait_until(pred, timeout=10.0, interval=0.02, what="condition"):
    """Polls pred until it returns a true value; fails the test after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket, as the docker CLI talks to dockerd."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


_bridge_seq = [0]


def _next_bridge():
    """A bridge name and subnet of the test's own, so daemons never share shoal0."""
    _bridge_seq[0] += 1
    n = (os.getpid() * 7 + _bridge_seq[0]) % 250
    return f"shoalt{os.getpid() % 10000}x{_bridge_seq[0]}"[:15], f"10.213.{n}.1/24"


class Daemon:
    """One shoald process with its own socket, roots, pidfile and bridge."""

    def __init__(self, name, tcp=True, args=()):
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:40]
        self.dir = tempfile.mkdtemp(prefix=f"shoal-{safe}-", dir="/tmp")
        self.sock = os.path.join(self.dir, "docker.sock")
        self.data_root = os.path.join(self.dir, "data")
        self.exec_root = os.path.join(self.dir, "exec")
        self.pidfile = os.path.join(self.dir, "shoald.pid")
        self.log_path = os.path.join(self.dir, "shoald.log")
        self.port = free_port() if tcp else None
        self.bridge, self.bip = _next_bridge()
        self.args = list(args)
        self.proc = None
        self.log = None

    @property
    def host(self):
        return "unix://" + self.sock

    @property
    def tcp_host(self):
        return f"tcp://127.0.0.1:{self.port}"

    def argv(self):
        argv = [SHOALD, "-H", self.host]
        if self.port:
            argv += ["-H", self.tcp_host]
        argv += ["--data-root", self.data_root, "--exec-root", self.exec_root,
                 "--pidfile", self.pidfile, "--log-level", "debug",
                 "--bridge", self.bridge, "--bip", self.bip]
        return argv + self.args

    def start(self, wait=True):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=self.log, stderr=self.log, env=env,
                                     stdin=subprocess.DEVNULL)
        if wait:
            wait_until(self.ping, timeout=20, what="shoald to answer /_ping")
        return self

    def ping(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"shoald exited with {self.proc.returncode}:\n{self.log_text()}")
        try:
            status, _, body = self.request("GET", "/_ping")
            return status == 200 and body == b"OK"
        except OSError:
            return False

    def connection(self, timeout=10):
        return UnixHTTPConnection(self.sock, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10):
        """One request on a fresh connection: (status, headers dict, body bytes)."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def get_json(self, path):
        status, _, body = self.request("GET", path)
        assert status == 200, body
        return json.loads(body)

    def pid(self):
        return self.proc.pid

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stops the daemon; returns its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"shoald did not stop within {timeout}s:\n{self.log_text()}")

    def assert_clean_log(self):
        text = self.log_text()
        for mark in SANITIZER_MARKS:
            assert mark not in text, f"sanitizer report in shoald's log:\n{text}"

    def remove_containers(self):
        """Force-removes every container, as a test must leave nothing running."""
        try:
            status, _, body = self.request("GET", "/containers/json?all=1", timeout=10)
        except OSError:
            return
        if status != 200:
            return
        for c in json.loads(body):
            try:
                self.request("DELETE", f"/containers/{c['Id']}?force=1", timeout=30)
            except OSError:
                pass

    def cleanup(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        finally:
            if self.log:
                self.log.close()
            scrub(self.dir, self.bridge)
            shutil.rmtree(self.dir, ignore_errors=True)


def scrub(root, bridge):
    """Whatever a daemon under root left, even after a crash: shims and their containers,
    mounts, network namespaces, the bridge and the nft table."""
    runc_root = os.path.join(root, "exec", "runc")
    if os.path.isdir(runc_root):
        for cid in os.listdir(runc_root):
            subprocess.run(["runc", "--root", runc_root, "delete", "-f", cid],
                           capture_output=True)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"shoal-shim") and any(root.encode() in a for a in argv):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
    with open("/proc/self/mountinfo") as f:
        mounts = [l.split()[4] for l in f]
    for m in sorted((m for m in mounts if m.startswith(root)), key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    subprocess.run(["ip", "link", "del", bridge], capture_output=True)
    subprocess.run(["nft", "delete", "table", "ip", "shoal_" + bridge], capture_output=True)
    # the routing mesh's (its link went with its sandbox's mount above)
    subprocess.run(["nft", "delete", "table", "ip", "shoal_" + bridge + "_ingress"],
                   capture_output=True)


@pytest.fixture
def make_daemon(request):
    """Factory: make_daemon(tcp=True, args=(), start=True) -> a started Daemon.

    Every daemon made is stopped with SIGTERM at the end; the test fails if one did not
    exit 0 or left a sanitizer report."""
    made = []

    def make(tcp=True, args=(), start=True):
        d = Daemon(request.node.name, tcp=tcp, args=args)
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    errors = []
    for d in made:
        try:
            if d.proc is not None and d.proc.poll() is None:
                d.remove_containers()
                rc = d.stop()
                if rc != 0:
                    errors.append(f"shoald exited {rc}:\n{d.log_text()}")
            d.assert_clean_log()
        except AssertionError as e:
            errors.append(str(e))
        finally:
            d.cleanup()
    if errors:
        pytest.fail("\n".join(errors))


@pytest.fixture
def shoald(make_daemon):
    """A started daemon listening on a unix socket and on 127.0.0.1:<free port>."""
    return make_daemon()


@pytest.fixture
def docker_cli():
    if DOCKER is None:
        pytest.fail("the docker CLI is not installed (expected at /usr/local/bin/docker)")
    return DOCKER


def run(argv, env=None, timeout=30, input=None):
    """Runs a client program; returns CompletedProcess with text output."""
    e = dict(os.environ)
    e.pop("DOCKER_HOST", None)
    if env:
        e.update(env)
    return subprocess.run(argv, capture_output=True, text=True, env=e, timeout=timeout,
                          input=input)
