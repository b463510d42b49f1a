#!/usr/bin/env bash
# bench/swarm/run.sh: swarm formation, leader failover, idle memory and store write throughput
# of Shoal's swarm mode on `shoal machine` nodes, against dockerd 20.10 (Debian's docker.io)
# as a single-node swarm manager measured in the same run.
#
# Shoal: three machines (build/shoal machine create, storage in a temp dir, subnet
# BENCH_SUBNET) and bench/swarm/measure.py, which talks to each node's shoald over its unix
# socket (/proc/<shoald pid>/root/run/docker.sock) and drives the docker CLI inside the nodes
# with `shoal machine ssh`:
#   1. 3 x machine create, `docker swarm init` on node1, join-token, 2 x `docker swarm join`,
#      until node1's GET /nodes shows 3 Ready nodes: each step timed;
#   3. after BENCH_IDLE seconds idle, VmRSS, VmHWM and smaps_rollup (PSS, USS) of the
#      manager's and the workers' shoald;
#   4. BENCH_WRITE_SECONDS of sequential node label updates (GET /nodes/ID for the version,
#      POST /nodes/ID/update?version=N) on the 1-manager swarm, then after
#      `docker node promote node2 node3` on the leader and through a follower of 3 managers;
#   2. `shoal machine kill` of the leader: until a survivor reports itself Leader, until a
#      label update through a survivor succeeds, until the killed node shows Down.
# Docker: dockerd in its own network namespace (shoalbench-<pid>-docker) and private mount
# namespace, socket, data root, exec root and pidfile in the temp dir, its own containerd;
# `docker swarm init --advertise-addr 127.0.0.1` timed, BENCH_IDLE seconds, memory of dockerd +
# containerd, the same label updates. A Docker worker or 3 Docker managers need more dockerds:
# not measured here (see /work/shared/reference/docker-20.10/MEASURED.md).
# It prints a table with the ratios and removes the machines, dockerd, its namespace and the
# temp dir on exit, failure or ^C.
#
# Needs root. Env: BENCH_SUBNET (default 192.168.231.0/24; must be unused on the host),
# BENCH_IDLE (default 10), BENCH_WRITE_SECONDS (default 5), BENCH_DOWN_WAIT (seconds to wait
# for the killed node to show Down, default 40; 0 skips), SHOAL_CLI (default build/shoal, with
# shoald next to it), DOCKERD_BIN (default dockerd), DOCKER_CLI (default /usr/local/bin/docker,
# else docker), BENCH_RESULTS (a dir to keep the JSON results in; `measure.py report DIR`
# prints the table again).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SUBNET=${BENCH_SUBNET:-192.168.231.0/24}
IDLE=${BENCH_IDLE:-10}
WRITE_SECONDS=${BENCH_WRITE_SECONDS:-5}
DOWN_WAIT=${BENCH_DOWN_WAIT:-40}
SHOAL_CLI=${SHOAL_CLI:-$ROOT/build/shoal}
DOCKERD_BIN=${DOCKERD_BIN:-dockerd}
DOCKER_CLI=${DOCKER_CLI:-/usr/local/bin/docker}
RESULTS=${BENCH_RESULTS:-}
PY=/usr/bin/python3
MEASURE=$ROOT/bench/swarm/measure.py
NODES="node1 node2 node3"

TMP=""
STORAGE=""
BRIDGE=""
POLICY_RC=""
HELPER_PID=""
DOCKER_NS=""
DOCKER_PID=""
DOCKER_SOCK=""
DOCKER_VERSION=""
RUN_DOCKER_EXISTED=1
CGROUP_DOCKER_EXISTED=1
# shellcheck disable=SC2034 # read by bench/lib.sh
BENCH_NAME=bench/swarm
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	[[ -n $HELPER_PID ]] && stop_pid "$HELPER_PID" 5
	remove_machines
	stop_dockerd
	if [[ -n $TMP && -d $TMP ]]; then
		# dockerd and the nodes mount in their own namespaces; this only catches leftovers.
		umount_under "$TMP"
		rm -rf -- "$TMP"
	fi
	[[ -n $POLICY_RC ]] && rm -f -- "$POLICY_RC"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

shoal_part() {
	local i name pid sock1 sock2 sock3
	local -a mem=()
	log "shoal: 3 x machine create, swarm init, 2 x join, until 3 Ready"
	helper form --shoal "$SHOAL_CLI" --storage "$STORAGE" --subnet "$SUBNET" \
		--out "$TMP/results/form.json"
	sock1=$(nodesock node1)
	sock2=$(nodesock node2)
	sock3=$(nodesock node3)

	log "shoal: ${IDLE}s idle, then memory of the manager's and the workers' shoald"
	pause "$IDLE"
	i=0
	for name in $NODES; do
		i=$((i + 1))
		pid=$(nodepid "$name")
		if ((i == 1)); then
			mem+=(--pid "manager=$pid")
		else
			mem+=(--pid "worker$i=$pid")
		fi
	done
	helper mem "${mem[@]}" --out "$TMP/results/mem-shoal.json"

	log "shoal: ${WRITE_SECONDS}s of label updates on the 1-manager swarm"
	helper writes "$sock1" --seconds "$WRITE_SECONDS" --out "$TMP/results/writes-shoal-1.json" ||
		log "warning: writes on the 1-manager swarm failed"

	log "shoal: docker node promote node2 node3, until 3 managers are reachable"
	helper promote --sock "$sock1" --out "$TMP/results/promote.json" -- \
		"$SHOAL_CLI" machine ssh --storage-path "$STORAGE" node1 "docker node promote node2 node3"
	log "shoal: ${WRITE_SECONDS}s of label updates on the leader, then through a follower"
	helper writes "$sock1" --seconds "$WRITE_SECONDS" --out "$TMP/results/writes-shoal-3.json" ||
		log "warning: writes on the 3-manager leader failed"
	helper writes "$sock2" --seconds "$WRITE_SECONDS" --out "$TMP/results/writes-shoal-3f.json" ||
		log "warning: writes through a follower failed"

	log "shoal: machine kill of the leader, until a new leader, a write and Down (${DOWN_WAIT}s)"
	helper failover --node "node1=$sock1" --node "node2=$sock2" --node "node3=$sock3" \
		--down-wait "$DOWN_WAIT" --out "$TMP/results/failover.json" -- \
		"$SHOAL_CLI" machine kill --storage-path "$STORAGE" "{name}" ||
		log "warning: failover failed"
	log "shoal: removing the machines"
	remove_machines
}

docker_part() {
	local dir=$TMP/docker port cpid
	log "docker: starting dockerd in shoalbench-$$-docker"
	start_dockerd "$dir" --iptables=false --ip-masq=false --ip-forward=false --bridge=none \
		--log-level warn
	# Any port is free in a namespace of our own; ask the kernel for one all the same.
	port=$(nsenter --net="/run/netns/$DOCKER_NS" "$PY" -c \
		'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	log "docker: swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:$port"
	helper timecmd --out "$TMP/results/docker-init.json" -- "$DOCKER_CLI" -H "unix://$DOCKER_SOCK" \
		swarm init --advertise-addr 127.0.0.1 --listen-addr "127.0.0.1:$port"
	log "docker: ${IDLE}s idle, then memory of dockerd and its containerd"
	pause "$IDLE"
	cpid=$(pgrep -P "$DOCKER_PID" -x containerd | head -n 1) || die "dockerd has no containerd"
	helper mem --pid "dockerd=$DOCKER_PID" --pid "containerd=$cpid" \
		--out "$TMP/results/mem-docker.json"
	log "docker: ${WRITE_SECONDS}s of label updates"
	helper writes "$DOCKER_SOCK" --seconds "$WRITE_SECONDS" \
		--out "$TMP/results/writes-docker.json" || log "warning: docker writes failed"
	DOCKER_VERSION=$("$DOCKER_CLI" -H "unix://$DOCKER_SOCK" version --format '{{.Server.Version}}' \
		2>/dev/null || echo "?")
	stop_dockerd
}

write_meta() {
	local sv cli
	sv=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["shoal_version"] or "?")' \
		"$TMP/results/form.json" 2>/dev/null || echo "?")
	cli=$("$DOCKER_CLI" --version 2>/dev/null | awk '{ print $3 }' | tr -d ,)
	"$PY" - "$TMP/results/meta.json" "$sv" "${DOCKER_VERSION:-?}" "$cli" "$WRITE_SECONDS" \
		"$IDLE" <<'EOF'
import json, os, sys
out, sv, dv, cli, ws, idle = sys.argv[1:]
json.dump({"shoal_version": sv, "docker_version": dv, "cli": cli, "cpus": os.cpu_count(),
           "kernel": os.uname().release, "write_seconds": float(ws), "idle": float(idle)},
          open(out, "w"))
EOF
}

main() {
	local i
	[[ $(id -u) == 0 ]] || die "needs root (namespaces, machines, dockerd)"
	[[ -x $SHOAL_CLI ]] || die "$SHOAL_CLI not found; build it first (make)"
	[[ -x ${SHOAL_CLI%/*}/shoald ]] || die "no shoald next to $SHOAL_CLI"
	[[ $IDLE =~ ^[0-9]+$ && $WRITE_SECONDS =~ ^[0-9]+([.][0-9]+)?$ && $DOWN_WAIT =~ ^[0-9]+$ ]] ||
		die "BENCH_IDLE, BENCH_WRITE_SECONDS and BENCH_DOWN_WAIT must be numbers"
	install_docker
	if [[ ! -x $DOCKER_CLI ]]; then
		DOCKER_CLI=$(command -v docker) || die "no docker CLI"
	fi
	for i in nsenter unshare pgrep; do
		command -v "$i" >/dev/null || die "needs $i"
	done
	check_subnet
	note_docker_dirs

	TMP=$(mktemp -d /tmp/shoalbench.XXXXXX)
	STORAGE=$TMP/machines
	mkdir -p "$STORAGE" "$TMP/docker" "$TMP/results"
	shoal_part
	docker_part
	write_meta
	if [[ -n $RESULTS ]]; then
		mkdir -p "$RESULTS"
		cp "$TMP"/results/*.json "$RESULTS"/
	fi
	helper report "$TMP/results"
}

main "$@"
