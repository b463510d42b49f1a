"""`shoal swarm` and `shoal node` against a single-node swarm, compared with what the real
docker CLI prints for the same daemon (the IDs are the same, so the texts must match)."""
import json
import re
import difflib
import time

from conftest import DOCKER, SHOAL, free_port, run

TOKEN = re.compile(r"SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}")


def shoal(d, *args):
    return run([SHOAL, "-H", d.host] + list(args))


def docker(d, *args):
    return run([DOCKER, "-H", d.host] + list(args))


def same(d, *args, mask_tokens=False):
    """Runs args through both CLIs; asserts equal stdout, stderr and status; returns shoal's.

    The node object can change between the two runs (the manager records the node's
    status just after init), so a mismatch is tried again a few times before it fails."""
    last = None
    for _ in range(5):
        s, k = shoal(d, *args), docker(d, *args)
        out_s, out_k = s.stdout, k.stdout
        if mask_tokens:
            out_s, out_k = TOKEN.sub("TOKEN", out_s), TOKEN.sub("TOKEN", out_k)
        last = ((s.returncode, out_s, s.stderr), (k.returncode, out_k, k.stderr))
        if last[0] == last[1]:
            return s
        time.sleep(0.2)
    diff = "\n".join(difflib.unified_diff(last[0][1].splitlines(), last[1][1].splitlines(),
                                         "shoal", "docker", lineterm=""))
    assert last[0] == last[1], f"{args}\n{diff}"
    return s


def init(d):
    port = free_port()
    r = shoal(d, "swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr",
              f"127.0.0.1:{port}")
    assert r.returncode == 0, r.stderr + d.log_text()
    return r, port


def test_preswarm_errors(shoald, docker_cli):
    r = same(shoald, "node", "ls")
    assert r.returncode == 1
    assert r.stderr.startswith("Error response from daemon: This node is not a swarm manager.")
    same(shoald, "node", "inspect", "self")
    same(shoald, "swarm", "leave")


def test_swarm_init_and_join_token(shoald, docker_cli):
    r, port = init(shoald)
    node_id = shoald.get_json("/info")["Swarm"]["NodeID"]
    token = shoald.get_json("/swarm")["JoinTokens"]["Worker"]
    assert r.stdout == (
        f"Swarm initialized: current node ({node_id}) is now a manager.\n\n"
        "To add a worker to this swarm, run the following command:\n\n"
        f"    docker swarm join --token {token} 127.0.0.1:{port}\n\n"
        "To add a manager to this swarm, run 'docker swarm join-token manager' and follow the "
        "instructions.\n\n")
    assert r.stderr == ""
    # a second init: the daemon's error, as docker prints it
    r = same(shoald, "swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr",
             f"127.0.0.1:{free_port()}")
    assert r.returncode == 1
    for role in ("worker", "manager"):
        same(shoald, "swarm", "join-token", role)
        same(shoald, "swarm", "join-token", "-q", role)
    # rotation: both print the same text around a new token
    old = shoald.get_json("/swarm")["JoinTokens"]["Worker"]
    same(shoald, "swarm", "join-token", "--rotate", "worker", mask_tokens=True)
    r = shoal(shoald, "swarm", "join-token", "-q", "--rotate", "worker")
    assert r.returncode == 0, r.stderr
    new = r.stdout.strip()
    assert new != old and TOKEN.fullmatch(new)
    assert shoald.get_json("/swarm")["JoinTokens"]["Worker"] == new
    r = same(shoald, "swarm", "join-token", "bogus")
    assert r.returncode == 1 and r.stderr == "unknown role bogus\n"


def test_node_ls_inspect(shoald, docker_cli):
    init(shoald)
    node_id = shoald.get_json("/info")["Swarm"]["NodeID"]
    r = same(shoald, "node", "ls")
    lines = r.stdout.splitlines()
    assert lines[0] == ("ID                            HOSTNAME   STATUS    AVAILABILITY   "
                        "MANAGER STATUS   ENGINE VERSION")
    assert lines[1].startswith(node_id + " *   ")
    same(shoald, "node", "ls", "-q")
    same(shoald, "node", "list", "--format", "{{.ID}} {{.Hostname}} {{.Self}} {{.Status}}")
    same(shoald, "node", "ls", "--format", "table {{.ID}}\t{{.ManagerStatus}}")
    same(shoald, "node", "ls", "--filter", "role=manager", "-q")
    same(shoald, "node", "ls", "--filter", "role=worker")
    r = same(shoald, "node", "inspect", "self")
    assert json.loads(r.stdout)[0]["ID"] == node_id
    same(shoald, "node", "inspect", node_id)
    same(shoald, "node", "inspect", node_id[:5], "self")
    same(shoald, "node", "inspect", "--format", "{{.ID}} {{json .Spec}}", "self")
    same(shoald, "node", "inspect", "--pretty", "self")


def test_node_update_promote_demote_rm(shoald, docker_cli):
    init(shoald)
    node_id = shoald.get_json("/info")["Swarm"]["NodeID"]
    r = same(shoald, "node", "update", "--label-add", "a=b", "--label-add", "c", node_id[:6])
    assert r.stdout == node_id[:6] + "\n"
    assert shoald.get_json(f"/nodes/{node_id}")["Spec"]["Labels"] == {"a": "b", "c": ""}
    r = shoal(shoald, "node", "update", "--label-rm", "a", node_id)
    assert (r.returncode, r.stdout) == (0, node_id + "\n"), r.stderr
    assert shoald.get_json(f"/nodes/{node_id}")["Spec"]["Labels"] == {"c": ""}
    r = same(shoald, "node", "update", "--label-rm", "nosuch", node_id)
    assert r.returncode == 1
    same(shoald, "node", "inspect", "--pretty", "self")
    for avail in ("drain", "pause", "active"):
        r = shoal(shoald, "node", "update", "--availability", avail, node_id)
        assert r.returncode == 0, r.stderr
        assert shoald.get_json(f"/nodes/{node_id}")["Spec"]["Availability"] == avail
        same(shoald, "node", "ls")
    same(shoald, "node", "update", "--availability", "bogus", node_id)
    r = same(shoald, "node", "promote", node_id)
    assert r.stdout == f"Node {node_id} is already a manager.\n"
    r = same(shoald, "node", "demote", node_id)
    assert r.returncode == 1 and "demote the last manager" in r.stderr
    r = same(shoald, "node", "rm", node_id)
    assert r.returncode == 1
    same(shoald, "node", "rm", "-f", "nosuch")
    same(shoald, "node", "inspect", "nosuch")


def test_leave(shoald, docker_cli):
    init(shoald)
    r = same(shoald, "swarm", "leave")
    assert r.returncode == 1 and "Use `--force` to ignore this message." in r.stderr
    r = shoal(shoald, "swarm", "leave", "-f")
    assert (r.returncode, r.stdout, r.stderr) == (0, "Node left the swarm.\n", "")
    assert shoald.get_json("/info")["Swarm"]["LocalNodeState"] == "inactive"
    same(shoald, "node", "ls")
