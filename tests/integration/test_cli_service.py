"""`shoal service` against a single-node swarm, compared with what the real docker CLI prints
for the same daemon: read-only commands byte for byte on the same services; commands that
change a service run by each CLI on a service of its own, then compared with the names and
IDs masked; convergence progress compared line by line once the counters that depend on
timing (how many polls saw each state) are folded."""
import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
import threading
import time
import urllib.parse

import pytest

from conftest import DOCKER, SHOAL, free_port, run, wait_until
from test_images import vote_images  # noqa: F401  (the session fixture)

ID = re.compile(r"\b[0-9a-z]{25}\b")
WARNING = ("image instavote/vote:{tag} could not be accessed on a registry to record\n"
           "its digest. Each node will access instavote/vote:{tag} independently,\n"
           "possibly leading to different nodes running different\n"
           "versions of the image.\n\n")


# ---- helpers ----

def shoal(d, *args, timeout=90):
    return run([SHOAL, "-H", d.host] + list(args), timeout=timeout)


def docker(d, *args, timeout=90):
    return run([DOCKER, "-H", d.host] + list(args), timeout=timeout)


def both(d, shoal_args, docker_args, timeout=90):
    """Runs the two CLIs at once (each on its own service); returns (shoal's, docker's)."""
    out = {}

    def go(key, fn, args):
        out[key] = fn(d, *args, timeout=timeout)

    threads = [threading.Thread(target=go, args=("s", shoal, shoal_args)),
               threading.Thread(target=go, args=("d", docker, docker_args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out["d"].stderr = progname(out["d"].stderr)
    return out["s"], out["d"]


def progname(text):
    """docker's usage lines with shoal's name; the daemon's texts ("docker swarm init") kept."""
    return re.sub(r"docker(?= service|: )", "shoal", text)


def same(d, *args, mask=None):
    """Runs args through both CLIs until they agree (times shown tick between the runs);
    asserts equal stdout, stderr and status; returns shoal's result."""
    for _ in range(5):
        s, k = shoal(d, *args), docker(d, *args)
        k.stderr = progname(k.stderr)
        sout, kout = s.stdout, k.stdout
        if mask:
            sout, kout = mask(sout), mask(kout)
        if (sout, s.stderr, s.returncode) == (kout, k.stderr, k.returncode):
            return s
        time.sleep(0.3)
    assert sout == kout, args
    assert s.stderr == k.stderr, args
    assert s.returncode == k.returncode, args
    return s


def init(d, vote_images):  # noqa: F811
    r = shoal(d, "swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr",
              f"127.0.0.1:{free_port()}")
    assert r.returncode == 0, r.stderr + d.log_text()
    for path in vote_images:
        r = docker(d, "load", "-i", path)
        assert r.returncode == 0, r.stderr


def create(d, cli, name, *args):
    r = cli(d, "service", "create", "-d", "--name", name, *args)
    assert r.returncode == 0, r.stderr + d.log_text()
    assert ID.fullmatch(r.stdout.strip()), r.stdout
    return r.stdout.strip()


def running(d, name, n):
    """Waits until n tasks of the service run."""
    sid = d.get_json(f"/services/{name}")["ID"]
    query = urllib.parse.quote(json.dumps({"service": {sid: True},
                                           "desired-state": {"running": True}}))

    def ok():
        tasks = d.get_json("/tasks?filters=" + query)
        return sum(t["Status"]["State"] == "running" for t in tasks) == n
    wait_until(ok, timeout=60, what=f"{n} running tasks of {name}")


def settled(d, name):
    """Waits until no rolling update or rollback of the service is under way, so that the
    next update does not race the updater's own writes ("update out of sequence")."""
    def ok():
        state = (d.get_json(f"/services/{name}").get("UpdateStatus") or {}).get("State")
        return state not in ("updating", "rollback_started")
    wait_until(ok, timeout=90, what=f"the update of {name} to settle")


def fold(text, names=()):
    """A progress transcript without what timing decides: IDs and the names given masked,
    runs of one line kept once, the intermediate "overall progress" counts and the
    countdown of "verify" dropped."""
    for n in names:
        text = re.sub(rf"\b{re.escape(n)}\b", "SVC", text)
    text = ID.sub("ID", text)
    out = []
    for line in text.split("\n"):
        m = re.match(r"overall progress: (?:rolling back update: )?(\d+) out of (\d+) tasks", line)
        if m and out and m.group(1) != m.group(2) and any(l.startswith("overall") for l in out):
            continue
        if line.startswith("verify: Waiting"):
            line = "verify: Waiting"
        if out and out[-1] == line:
            continue
        out.append(line)
    return "\n".join(out)


def spec(d, name, *mask):
    """The service's spec as JSON text, its name and the strings given masked."""
    spec = d.get_json(f"/services/{name}")["Spec"]
    cs = spec.get("TaskTemplate", {}).get("ContainerSpec", {})
    if "Env" in cs:
        cs["Env"].sort()  # docker adds --env-add's through a Go map: in any order
    text = json.dumps(spec)
    text = text.replace(f'"{name}"', '"X"')
    for m in mask:
        text = text.replace(m, "X")
    return text


def on_tty(d, cli, *args, cols=120, timeout=90):
    """Runs the CLI with a 120x40 pseudo-terminal as stdout; returns (raw bytes, status)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    env = dict(os.environ)
    env.pop("DOCKER_HOST", None)
    p = subprocess.Popen([cli, "-H", d.host] + list(args), stdout=slave,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return data.decode(), p.wait(timeout=10)


def drawn(raw):
    """The lines a terminal transcript draws: each "ESC[2K CR text CR" redraw, in order."""
    return re.findall(r"\x1b\[2K\r([^\r]*)\r", raw)


# ---- before a swarm, usage and help ----

# Every subcommand answers the daemon's "not a swarm manager" before init; argument and flag
# errors are docker's, exit 125 or 1 as docker's.
def test_errors_before_swarm_and_usage(shoald, docker_cli):
    for args in (("ls",), ("ps", "x"), ("inspect", "x"), ("rm", "x"), ("scale", "x=1"),
                 ("update", "--replicas", "2", "x"), ("rollback", "x"), ("logs", "x"),
                 ("create", "-d", "busybox")):
        r = same(shoald, "service", *args)
        assert r.returncode == 1 and "not a swarm manager" in r.stderr, args
    for args in (("create",), ("create", "--replicas", "x", "img"),
                 ("create", "-p", "80:abc", "img"), ("create", "--limit-memory", "1q", "img"),
                 ("create", "--update-delay", "1x", "img"), ("create", "--mount", "type=foo", "img"),
                 ("create", "-e", "", "img"), ("create", "--bogus", "img"),
                 ("create", "--mode", "bogus", "img"), ("create", "--publish",
                                                        "mode=x,target=80", "img"),
                 ("update",), ("update", "a", "b"), ("scale",), ("scale", "vote"),
                 ("scale", "vote="), ("ps",), ("inspect",), ("rm",), ("logs",), ("rollback",),
                 ("ls", "x"), ("inspect", "--pretty", "--format", "x", "vote"),
                 ("update", "--health-interval", "-1s", "x"), ("bogus",)):
        r = same(shoald, "service", *args)
        assert r.returncode != 0, args


# Every help page matches docker's (program name aside).
def test_help(shoald, docker_cli):
    for sub in ("", "create", "inspect", "logs", "ls", "ps", "rm", "rollback", "scale",
                "update"):
        args = ["service"] + ([sub] if sub else []) + ["--help"]
        s, k = shoal(shoald, *args), docker(shoald, *args)
        assert s.returncode == k.returncode == 0
        assert s.stdout == k.stdout.replace("docker service", "shoal service"), sub


# ---- reading services ----

# create -d prints the ID (and the client's registry warning); ls, ps, inspect and their
# formats and errors print what docker prints for the same services.
def test_create_detached_ls_ps_inspect(shoald, docker_cli, vote_images):  # noqa: F811
    init(shoald, vote_images)
    same(shoald, "service", "ls")
    s, k = both(shoald, ["service", "create", "-d", "--name", "vote", "--replicas", "3",
                         "--publish", "8080:80", "instavote/vote"],
                ["service", "create", "-d", "--name", "web", "--replicas", "2",
                 "instavote/vote:indent"])
    assert s.returncode == k.returncode == 0, s.stderr + k.stderr
    assert s.stderr == WARNING.format(tag="latest")
    assert k.stderr == WARNING.format(tag="indent")
    assert ID.fullmatch(s.stdout.strip()) and ID.fullmatch(k.stdout.strip())
    running(shoald, "vote", 3)
    running(shoald, "web", 2)
    r = same(shoald, "service", "ls")
    assert r.stdout.splitlines()[1].split()[1:] == ["vote", "replicated", "3/3",
                                                    "instavote/vote:latest", "*:8080->80/tcp"]
    for args in (("ls", "-q"), ("list", "--format", "{{.Name}}\t{{.Replicas}}"),
                 ("ls", "--format", "table {{.Name}}\t{{.Ports}}"), ("ls", "--format", "json"),
                 ("ls", "--format", "raw"), ("ls", "-f", "name=vote"), ("ls", "-f", "mode=global"),
                 ("ps", "vote"), ("ps", "vote", "web"), ("ps", "--no-trunc", "vote"),
                 ("ps", "-q", "web"), ("ps", "--no-resolve", "web"),
                 ("ps", "--format", "{{.Name}} {{.Node}} {{.DesiredState}}", "vote"),
                 ("ps", "-f", "desired-state=running", "-f", "node=self", "vote"),
                 ("ps", "vote", "nosuch"), ("ps", "nosuch"), ("ps", s.stdout.strip()[:4]),
                 ("inspect", "vote"), ("inspect", "vote", "web"), ("inspect", "--pretty", "vote"),
                 ("inspect", "--pretty", "web", "vote"), ("inspect", "-f", "{{.Spec.Name}}",
                                                          "vote", "web"),
                 ("inspect", "-f", "json", "web"), ("inspect", "nosuch"),
                 ("inspect", "nosuch", "vote", "other"), ("inspect", "--pretty", "nosuch"),
                 ("inspect", "-f", "{{.Spec.Name", "vote"), ("logs", "nosuch"),
                 ("rm", "nosuch", "other"), ("scale", "nosuch=2"),
                 ("update", "--replicas", "2", "nosuch"), ("rollback", "nosuch"),
                 ("create", "-d", "--name", "vote", "instavote/vote"),
                 ("create", "-d", "--mode", "global", "--replicas", "2", "instavote/vote"),
                 ("create", "-d", "--secret", "nosuch", "instavote/vote")):
        same(shoald, "service", *args)
    r = same(shoald, "service", "ps", "vote")
    assert re.search(r"vote\.1 +instavote/vote:latest +\S+ +Running +Running ", r.stdout)


# A service made with the tutorial's and the less common flags has the same spec whichever
# CLI made it, and inspect --pretty shows it the same.
def test_create_flags_make_the_same_spec(shoald, docker_cli, vote_images):  # noqa: F811
    init(shoald, vote_images)
    sets = [
        ["--replicas", "2", "-p", "mode=host,target=80,published={p},protocol=udp", "-e", "A=1",
         "-e", "B", "--label", "x=y", "--container-label", "c=d", "--constraint",
         "node.role==manager", "instavote/vote"],
        ["--mount", "type=tmpfs,target=/t", "--mount", "type=volume,source=v1,target=/v,readonly",
         "--mount", "type=bind,source=/tmp,target=/b", "--hostname", "h", "--workdir", "/w",
         "--user", "1000", "--entrypoint", "/bin/sh -c", "instavote/vote", "echo", "hi"],
        ["--update-parallelism", "2", "--update-delay", "10s", "--update-failure-action",
         "rollback", "--update-order", "start-first", "--update-monitor", "3s",
         "--update-max-failure-ratio", "0.2", "--rollback-parallelism", "0", "--rollback-delay",
         "1s", "--rollback-failure-action", "continue", "--rollback-monitor", "2s",
         "--rollback-max-failure-ratio", "0.5", "--rollback-order", "start-first",
         "instavote/vote"],
        ["--restart-condition", "on-failure", "--restart-delay", "3s", "--restart-max-attempts",
         "4", "--restart-window", "1m", "--limit-cpu", "0.5", "--limit-memory", "64m",
         "--reserve-cpu", "0.25", "--reserve-memory", "32m", "--stop-grace-period", "20s",
         "--stop-signal", "SIGINT", "--health-cmd", "true", "--health-interval", "5s",
         "--health-retries", "3", "--health-timeout", "2s", "--health-start-period", "1s",
         "instavote/vote"],
        ["--mode", "global", "--no-healthcheck", "--with-registry-auth", "--dns", "1.1.1.1",
         "--host", "foo:1.2.3.4", "--group", "10", "--init", "--read-only", "--cap-add",
         "net_admin", "--ulimit", "nofile=100:200", "--placement-pref", "spread=node.id",
         "--log-driver", "json-file", "--log-opt", "max-size=1m", "instavote/vote"],
    ]
    for i, flags in enumerate(sets):
        a, b = f"s{i}", f"d{i}"
        s, k = both(shoald,
                    ["service", "create", "-d", "--no-resolve-image", "--name", a] +
                    [f.format(p=9100 + i) for f in flags],
                    ["service", "create", "-d", "--no-resolve-image", "--name", b] +
                    [f.format(p=9200 + i) for f in flags])
        assert (s.returncode, s.stderr) == (k.returncode, k.stderr), flags
        assert spec(shoald, a, str(9100 + i)) == spec(shoald, b, str(9200 + i)), flags
        same(shoald, "service", "inspect", "--pretty", a,
             mask=lambda t: ID.sub("ID", t))
        same(shoald, "service", "rm", a, b)


# ---- convergence ----

# Without -d, create waits for the tasks with docker's progress; without a terminal only the
# lines without a bar show (docker-service-create-vote-nontty.txt).
def test_create_progress_without_tty(shoald, docker_cli, vote_images):  # noqa: F811
    init(shoald, vote_images)
    s, k = both(shoald, ["service", "create", "--name", "a", "--replicas", "3", "instavote/vote"],
                ["service", "create", "--name", "b", "--replicas", "3", "instavote/vote"])
    assert s.returncode == k.returncode == 0, s.stderr + k.stderr
    assert s.stderr == k.stderr == WARNING.format(tag="latest")
    assert fold(s.stdout) == fold(k.stdout)
    assert fold(s.stdout) == ("ID\noverall progress: 0 out of 3 tasks\n1/3:  \n2/3:  \n3/3:  \n"
                              "overall progress: 3 out of 3 tasks\nverify: Waiting\n"
                              "verify: Service ID converged\n")
    # -q waits as quietly as docker
    s, k = both(shoald, ["service", "create", "-q", "--name", "c", "instavote/vote:indent"],
                ["service", "create", "-q", "--name", "e", "instavote/vote:indent"])
    assert ID.fullmatch(s.stdout.strip()) and ID.fullmatch(k.stdout.strip())
    assert s.stderr == k.stderr


# On a terminal the progress redraws one line per slot with ANSI cursor moves and bars, as
# docker does (docker-service-create-vote.tty.txt).
def test_create_progress_on_tty(shoald, docker_cli, vote_images):  # noqa: F811
    init(shoald, vote_images)
    out = {}

    def go(key, cli, name):
        out[key] = on_tty(shoald, cli, "service", "create", "--name", name, "--replicas", "2",
                          "--no-resolve-image", "instavote/vote")

    threads = [threading.Thread(target=go, args=("s", SHOAL, "a")),
               threading.Thread(target=go, args=("d", DOCKER, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (s, srv), (k, krv) = out["s"], out["d"]
    assert srv == krv == 0
    head = "\r\n\x1b[1A\x1b[2K\roverall progress: 0 out of 2 tasks \r\x1b[1B\r\n"
    assert ID.sub("ID", s).startswith("ID\r\n" + head)
    assert ID.sub("ID", k).startswith("ID\r\n" + head)
    full = "[" + "=" * 50 + ">] "
    for raw, name in ((s, "a"), (k, "b")):
        lines = drawn(ID.sub("ID", raw))
        assert lines[:3] == ["overall progress: 0 out of 2 tasks ", "1/2:   ", "2/2:   "]
        assert "1/2: running   " + full in lines and "2/2: running   " + full in lines
        assert "overall progress: 2 out of 2 tasks " in lines
        assert lines[-1] == "verify: Service ID converged "
        assert raw.endswith("converged \r\x1b[1B")


# scale and update --replicas, --image (a rolling update) and --rollback wait as docker does;
# afterwards ps shows the replaced tasks under each slot (" \_ ") and inspect --pretty the
# update status, both byte for byte.
def test_scale_update_rollback(shoald, docker_cli, vote_images):  # noqa: F811
    init(shoald, vote_images)
    for cli, name in ((shoal, "a"), (docker, "b")):
        create(shoald, cli, name, "--replicas", "3", "instavote/vote")
    running(shoald, "a", 3)
    running(shoald, "b", 3)

    s, k = both(shoald, ["service", "scale", "a=5"], ["service", "scale", "b=5"])
    assert s.returncode == k.returncode == 0, s.stderr + k.stderr
    assert s.stdout.startswith("a scaled to 5\n")
    assert fold(s.stdout, ["a"]) == fold(k.stdout, ["b"])
    s, k = both(shoald, ["service", "scale", "-d", "a=2"], ["service", "scale", "-d", "b=2"])
    assert (s.stdout, k.stdout) == ("a scaled to 2\n", "b scaled to 2\n")
    running(shoald, "a", 2)
    same(shoald, "service", "ps", "a")

    s, k = both(shoald, ["service", "update", "--replicas", "3", "a"],
                ["service", "update", "--replicas", "3", "b"])
    assert s.returncode == k.returncode == 0, s.stderr + k.stderr
    assert fold(s.stdout, ["a"]) == fold(k.stdout, ["b"])

    s, k = both(shoald, ["service", "update", "--update-parallelism", "2", "--update-delay", "0s",
                         "--image", "instavote/vote:indent", "a"],
                ["service", "update", "--update-parallelism", "2", "--update-delay", "0s",
                 "--image", "instavote/vote:indent", "b"], timeout=150)
    assert s.returncode == k.returncode == 0, s.stderr + k.stderr
    assert s.stderr == k.stderr == WARNING.format(tag="indent")
    assert fold(s.stdout, ["a"]) == fold(k.stdout, ["b"])
    assert fold(s.stdout, ["a"]).endswith("verify: Service SVC converged\n")
    r = same(shoald, "service", "ps", "a")
    assert re.search(r"\n\S+ +a\.1 +instavote/vote:indent .*\n\S+ +\\_ a\.1 +instavote/vote:latest"
                     r" +\S+ +Shutdown +Shutdown ", r.stdout), r.stdout
    same(shoald, "service", "ps", "--no-trunc", "a", "b")
    r = same(shoald, "service", "inspect", "--pretty", "a")
    assert " State:\t\tcompleted\n" in r.stdout and " Image:\t\tinstavote/vote:indent\n" in r.stdout
    assert spec(shoald, "a") == spec(shoald, "b")

    s, k = both(shoald, ["service", "rollback", "a"], ["service", "rollback", "b"], timeout=150)
    assert s.returncode == k.returncode == 0, s.stderr + k.stderr
    assert fold(s.stdout, ["a"]) == fold(k.stdout, ["b"])
    assert "rollback: manually requested rollback\n" in s.stdout
    same(shoald, "service", "inspect", "--pretty", "a")
    assert spec(shoald, "a") == spec(shoald, "b")
    s, k = both(shoald, ["service", "update", "-d", "--rollback", "a"],
                ["service", "update", "-d", "--rollback", "b"])
    assert (s.returncode, s.stdout, s.stderr) == (k.returncode, "a\n", k.stderr)
    same(shoald, "service", "update", "--rollback", "--replicas", "1", "a")
    same(shoald, "service", "scale", "a=x", "nosuch=1")

    s, k = both(shoald, ["service", "rm", "a", "nosuch"], ["service", "rm", "b", "nosuch"])
    assert (s.stdout, k.stdout) == ("a\n", "b\n")
    assert (s.stderr, s.returncode) == (k.stderr, k.returncode)
    assert s.returncode == 1
    same(shoald, "service", "ls")


# update's flags change the spec as docker's do, one change after another (on services of
# no replicas, so that no rolling update has to run in between).
def test_update_flags_make_the_same_spec(shoald, docker_cli, vote_images):  # noqa: F811
    init(shoald, vote_images)
    base = ["--replicas", "0", "-e", "A=1", "-e", "B=2", "--label", "x=y", "--constraint",
            "node.role==manager", "--mount", "type=tmpfs,target=/t", "--dns", "1.1.1.1",
            "--host", "foo:1.2.3.4", "--group", "10", "--no-resolve-image"]
    create(shoald, shoal, "a", "-p", "9000:80", *base, "instavote/vote")
    create(shoald, docker, "b", "-p", "9001:80", *base, "instavote/vote")
    steps = [
        ["--replicas", "0", "--replicas-max-per-node", "2"],
        ["--env-add", "C=3", "--env-rm", "A", "--label-add", "z=w", "--label-rm", "x",
         "--container-label-add", "q=1"],
        ["--constraint-add", "node.role!=worker", "--constraint-rm", "node.role==manager",
         "--dns-add", "8.8.8.8", "--dns-rm", "1.1.1.1", "--host-add", "bar:5.6.7.8", "--host-rm",
         "foo", "--group-add", "20", "--group-rm", "10"],
        ["--publish-rm", "80", "--mount-add", "type=volume,source=vv,target=/v", "--mount-rm",
         "/t", "--update-parallelism", "3", "--update-delay", "2s", "--rollback-order",
         "start-first", "--restart-condition", "none", "--limit-memory", "100m", "--reserve-cpu",
         "1", "--force"],
        ["--image", "instavote/vote:indent", "--no-resolve-image", "--hostname", "hh", "--workdir",
         "/x", "--user", "nobody", "--entrypoint", "/bin/true x", "--args", "x y", "--stop-signal",
         "SIGTERM", "--stop-grace-period", "3s", "--health-cmd", "exit 0", "--health-interval",
         "7s", "--init", "--tty", "--read-only", "--cap-add", "NET_RAW"],
        ["--no-healthcheck", "--tty=false", "--update-failure-action", "continue",
         "--update-monitor", "0s"],
        ["--rollback"],
        ["--health-cmd", "x", "--no-healthcheck"],
        ["--rollback", "--replicas", "3"],
        ["--replicas", "x"],
    ]
    for flags in steps:
        settled(shoald, "a")
        settled(shoald, "b")
        s, k = both(shoald, ["service", "update", "-d"] + flags + ["a"],
                    ["service", "update", "-d"] + flags + ["b"])
        assert (s.returncode, s.stderr) == (k.returncode, k.stderr), flags
        assert s.stdout.replace("a", "b") == k.stdout
        assert spec(shoald, "a", "9000") == spec(shoald, "b", "9001"), flags
    same(shoald, "service", "inspect", "--pretty", "a", mask=lambda t: ID.sub("ID", t))


# logs asks the daemon as docker does and prefixes each line with the task's context; the
# order of lines from different tasks is the daemon's, so lines are compared sorted.
def test_logs(shoald, docker_cli, vote_images):  # noqa: F811
    init(shoald, vote_images)
    create(shoald, shoal, "vote", "--replicas", "2", "instavote/vote")
    running(shoald, "vote", 2)
    task = shoald.get_json("/tasks")[0]["ID"]

    def lines(t):
        return sorted(t.splitlines())

    for args in (("vote",), ("--raw", "vote"), ("--no-task-ids", "--no-trunc", "vote"),
                 ("--no-resolve", "vote"), ("-t", "--details", "vote"), ("--tail", "1", "vote"),
                 ("--since", "1h", "vote"), (task,), (task[:12],), ("nosuch",),
                 ("--since", "bogus", "vote")):
        s, k = shoal(shoald, "service", "logs", *args), docker(shoald, "service", "logs", *args)
        assert (lines(s.stdout), lines(s.stderr), s.returncode) == \
            (lines(k.stdout), lines(k.stderr), k.returncode), args
    s = shoal(shoald, "service", "logs", "vote")
    assert re.search(r"^vote\.[12]\.[0-9a-z]{12}@\S+ +\| ", s.stdout + s.stderr, re.M), s
