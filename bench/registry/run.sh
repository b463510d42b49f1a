#!/usr/bin/env bash
# bench/registry/run.sh: push and pull time of a 100 MB, 5-layer image through a local
# registry, shoald against dockerd 20.10 (Debian's docker.io), measured in the same run.
#
# Everything runs inside one network namespace and private mount namespace of its own
# (unshare), so only its loopback carries traffic: Debian's docker-registry (distribution
# 2.8) with storage in a temp dir, dockerd (--bridge none
# --iptables=false, its own roots and socket, an empty config file) and build/shoald (its
# own bridge). bench/registry/measure.py generates the image (seeded bytes, the same on
# every run), loads it into both, then for each daemon in turn pushes it to a fresh
# repository and pulls it back after removing it, BENCH_REGISTRY_N times (default 3). It
# prints medians, minimums and the docker/shoal ratios. Everything it made goes on exit,
# failure or ^C. Needs root. Env: BENCH_REGISTRY_N, SHOAL_BIN (default build/shoald),
# DOCKERD_BIN (default dockerd).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${BENCH_REGISTRY_N:-3}
SHOAL_BIN=${SHOAL_BIN:-$ROOT/build/shoald}
DOCKERD_BIN=${DOCKERD_BIN:-dockerd}
PY=/usr/bin/python3
MEASURE=$ROOT/bench/registry/measure.py
POLICY_RC=""
# shellcheck disable=SC2034 # read by bench/lib.sh
BENCH_NAME=bench/registry
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

if [[ ${SHOALBENCH_INSIDE:-} != 1 ]]; then
	[[ $(id -u) -eq 0 ]] || die "needs root"
	[[ -x $SHOAL_BIN ]] || die "$SHOAL_BIN missing: run make first"
	install_docker
	command -v docker-registry >/dev/null || die "docker-registry missing: scripts/deps.sh installs it"
	# a namespace of its own: nothing of this run reaches beyond its loopback
	exec env SHOALBENCH_INSIDE=1 unshare --net --mount --propagation private "$0" "$@"
fi

TMP=$(mktemp -d /tmp/shoalbench-registry.XXXXXX)
declare -a PIDS=()
cleanup() {
	local rc=$? pid
	set +e
	trap - EXIT INT TERM
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid=${PIDS[i]}
		stop_pid "$pid" 20
	done
	umount_under "$TMP"
	ip link del shoalbenchr 2>/dev/null
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip link set lo up
log "generating the image (100 MB, 5 layers)"
$PY "$MEASURE" gen "$TMP/image.tar"

REGS=()
for ((i = 0; i < N; i++)); do
	port=$((5000 + i))
	cat >"$TMP/registry-$i.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $TMP/registry-$i
http:
  addr: 127.0.0.1:$port
  secret: shoalbench
YML
	docker-registry serve "$TMP/registry-$i.yml" >"$TMP/registry-$i.log" 2>&1 &
	PIDS+=($!)
	REGS+=(--registry "127.0.0.1:$port")
done

echo '{}' >"$TMP/daemon.json"
"$DOCKERD_BIN" --data-root "$TMP/docker" --exec-root "$TMP/docker-exec" \
	--pidfile "$TMP/docker.pid" -H "unix://$TMP/docker.sock" --config-file "$TMP/daemon.json" \
	--bridge none --iptables=false --ip-masq=false --ip-forward=false \
	>"$TMP/dockerd.log" 2>&1 &
PIDS+=($!)
"$SHOAL_BIN" --data-root "$TMP/shoal" --exec-root "$TMP/shoal-exec" --pidfile "$TMP/shoal.pid" \
	-H "unix://$TMP/shoal.sock" --config-file "$TMP/daemon.json" --bridge shoalbenchr \
	--bip 10.219.8.1/24 >"$TMP/shoald.log" 2>&1 &
PIDS+=($!)
for sock in docker shoal; do
	for ((i = 0; i < 300; i++)); do
		$PY "$MEASURE" ping "$TMP/$sock.sock" && break
		sleep 0.1
	done
	$PY "$MEASURE" ping "$TMP/$sock.sock" || die "$sock did not start"
	curl -sf --unix-socket "$TMP/$sock.sock" -X POST -H 'Content-Type: application/x-tar' \
		--data-binary "@$TMP/image.tar" http://d/images/load?quiet=1 >/dev/null ||
		die "load into $sock failed"
done
log "pushing and pulling $N times each (shoald $($SHOAL_BIN --version 2>/dev/null | head -1))"
$PY "$MEASURE" bench --side shoal "$TMP/shoal.sock" --side docker "$TMP/docker.sock" \
	"${REGS[@]}" --out "$TMP/result.json"
$PY "$MEASURE" report "$TMP/result.json"
