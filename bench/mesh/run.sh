#!/usr/bin/env bash
# bench/mesh/run.sh: the routing mesh's data path and how fast it follows a task change, on
# three `shoal machine` nodes.
#
# Three machines (build/shoal machine create, storage in a temp dir, subnet BENCH_SUBNET), the
# demo image loaded into each, `swarm init` on node1 and 2 x `swarm join`, then `service create
# --replicas 6 --publish 8080:80 --constraint node.hostname!=node3 instavote/vote`: three tasks
# on node1, three on node2, none on node3. bench/mesh/measure.py then runs wrk (installed with
# apt-get if missing) for BENCH_MESH_SECONDS per row:
#   - from the host to node1:8080 (a node with tasks) and to node3:8080 (a node with none);
#   - inside node1 (`shoal machine ssh`): to one task container's own bridge address on port
#     80 (direct, no mesh: the host cannot reach the node's container bridge) and, for the same
#     vantage point, to node1's own address on 8080 (the mesh);
# and reports requests/s, p50 and p99 latency and the ratios mesh/direct. Then
# BENCH_MESH_ROUNDS x `service scale vote=7` and back to 6, each timed from the CLI's start
# until every node's ingress sandbox table (`nft list table ip shoal_ingress` in
# /run/shoal/netns/ingress_sbox, polled in a loop per node) balances over 7 (then 6) tasks,
# with the new task's running timestamp to tell the start from the propagation.
#
# Docker's routing mesh is IPVS, which this kernel does not have: there is no Docker baseline.
# Removes the machines and the temp dir on exit, failure or ^C.
#
# Needs root. Env: BENCH_SUBNET (default 192.168.233.0/24; must be unused on the host),
# BENCH_MESH_SECONDS (10), BENCH_MESH_CONNS (wrk connections, 16), BENCH_MESH_THREADS (wrk
# threads, 2), BENCH_MESH_ROUNDS (3), SHOAL_CLI (default build/shoal), BENCH_RESULTS (a dir to
# keep the JSON in; `measure.py report DIR` prints the table again).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SUBNET=${BENCH_SUBNET:-192.168.233.0/24}
SECONDS_PER_ROW=${BENCH_MESH_SECONDS:-10}
CONNS=${BENCH_MESH_CONNS:-16}
THREADS=${BENCH_MESH_THREADS:-2}
ROUNDS=${BENCH_MESH_ROUNDS:-3}
SHOAL_CLI=${SHOAL_CLI:-$ROOT/build/shoal}
BUILD=${SHOAL_CLI%/*}
RESULTS=${BENCH_RESULTS:-}
IMAGE_TAR=$BUILD/images/instavote-vote-latest.tar
PY=/usr/bin/python3
MEASURE=$ROOT/bench/mesh/measure.py

TMP=""
STORAGE=""
BRIDGE=""
POLICY_RC=""
HELPER_PID=""
# shellcheck disable=SC2034 # read by bench/lib.sh
BENCH_NAME=bench/mesh
# shellcheck disable=SC2034 # read by bench/lib.sh
DOCKERD_BIN=dockerd
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	[[ -n $HELPER_PID ]] && stop_pid "$HELPER_PID" 5
	remove_machines
	if [[ -n $TMP && -d $TMP ]]; then
		umount_under "$TMP"
		rm -rf -- "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wrk is the load generator; Debian packages it.
install_wrk() {
	command -v wrk >/dev/null && return 0
	log "wrk missing, installing it with apt-get"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk \
		>/dev/null || die "cannot install wrk"
}

main() {
	[[ $(id -u) == 0 ]] || die "needs root (namespaces, machines)"
	[[ -x $SHOAL_CLI ]] || die "$SHOAL_CLI not found; build it first (make)"
	[[ -f $IMAGE_TAR ]] || die "$IMAGE_TAR not found; make images"
	[[ $SECONDS_PER_ROW =~ ^[1-9][0-9]*$ && $CONNS =~ ^[1-9][0-9]*$ &&
		$THREADS =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[0-9]+$ ]] ||
		die "BENCH_MESH_SECONDS, _CONNS, _THREADS and _ROUNDS must be numbers"
	install_wrk
	check_subnet
	TMP=$(mktemp -d /tmp/shoalbench.XXXXXX)
	STORAGE=$TMP/machines
	mkdir -p "$STORAGE" "$TMP/results"
	"$PY" "$MEASURE" run --cli "$SHOAL_CLI" --storage "$STORAGE" --subnet "$SUBNET" \
		--image "$IMAGE_TAR" --seconds "$SECONDS_PER_ROW" --conns "$CONNS" \
		--threads "$THREADS" --rounds "$ROUNDS" --out "$TMP/results/mesh.json" &
	HELPER_PID=$!
	wait "$HELPER_PID" || die "the measurement failed"
	HELPER_PID=""
	cp "$STORAGE/node1/shoald.log" "$TMP/results/shoald-node1.log" 2>/dev/null || true
	remove_machines
	"$PY" "$MEASURE" report "$TMP/results"
	if [[ -n $RESULTS ]]; then
		mkdir -p "$RESULTS"
		cp -r "$TMP/results/." "$RESULTS/"
	fi
}

main "$@"
