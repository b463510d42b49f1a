#!/usr/bin/env bash
# bench/images/run.sh: image load time of shoald against dockerd 20.10 (Debian's docker.io),
# measured in the same run.
#
# Writes a docker-save tar of about 100 MB into a temp dir (bench/images/measure.py gen: three
# layers, a small base, one 60 MB file of seeded pseudo-random bytes and 2000 small files of
# 40 MB in all; the same bytes on every run). Starts dockerd (installed with apt-get if missing)
# and build/shoald, each in its own network namespace (shoalbench-<pid>-docker,
# shoalbench-<pid>-shoal) and private mount namespace, with socket, data root, exec root and
# pidfile in the temp dir. Then bench/images/measure.py times, the daemons taking turns:
#   - POST /images/load?quiet=1 of the tar over the unix socket, until the JSON message stream
#     ends (checked: no error, "Loaded image: shoalbench/load:latest", the image's ID and layers);
#   - `docker load -i` of it with Debian's docker CLI (the whole process);
# BENCH_LOAD_N times each after BENCH_LOAD_WARMUP unmeasured, deleting the image
# (DELETE ?force=1, then waiting until its layer directories are gone) and running sync
# before every load, so each one is a full load. It prints median/min/max, the docker/shoal
# ratios and both daemons' RSS, and removes everything it made on exit, failure or ^C.
#
# Needs root. Env: BENCH_LOAD_N (default 5), BENCH_LOAD_WARMUP (default 1), BENCH_LOAD_CLI
# (default 1; 0 skips `docker load -i`), DOCKER_CLI (default /usr/bin/docker, docker.io's),
# SHOAL_BIN (default build/shoald), SHOAL_ARGS, DOCKERD_BIN (default dockerd).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${BENCH_LOAD_N:-5}
WARMUP=${BENCH_LOAD_WARMUP:-1}
USE_CLI=${BENCH_LOAD_CLI:-1}
DOCKER_CLI=${DOCKER_CLI:-/usr/bin/docker}
SHOAL_BIN=${SHOAL_BIN:-$ROOT/build/shoald}
SHOAL_ARGS=${SHOAL_ARGS:-}
DOCKERD_BIN=${DOCKERD_BIN:-dockerd}
# Addresses of our own; each daemon is alone in its netns anyway.
SHOAL_BRIDGE=shoalbench1
SHOAL_BIP=10.219.2.1/24
DOCKER_BIP=10.219.3.1/24
PY=/usr/bin/python3
MEASURE=$ROOT/bench/images/measure.py
SIDES="shoal docker"

TMP=""
POLICY_RC=""
HELPER_PID=""
CLI=""
RUN_CONTAINERD_EXISTED=1
declare -A NS PID SOCK LOG
# The cgroup parents the daemons may make under every cgroup v1 hierarchy (and v2's).
declare -A CGROUP_PARENT=([shoal]=shoal [docker]=docker) CGROUP_EXISTED
# shellcheck disable=SC2034 # read by bench/lib.sh
BENCH_NAME=bench/images
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

cleanup() {
	local rc=$? side pid ns
	set +e
	trap - EXIT INT TERM
	[[ -n $HELPER_PID ]] && stop_pid "$HELPER_PID" 5
	for side in $SIDES; do
		[[ -n ${PID[$side]:-} ]] && stop_pid "${PID[$side]}"
	done
	# Whatever is still in our namespaces (dockerd's containerd after a KILL) is ours too.
	for side in $SIDES; do
		ns=${NS[$side]:-}
		[[ -n $ns ]] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			stop_pid "$pid" 5
		done
		ip netns del "$ns" 2>/dev/null
	done
	# No container runs here, but remove the daemons' cgroup parents if this run made them.
	for side in $SIDES; do
		if [[ ${CGROUP_EXISTED[$side]:-1} == 0 ]]; then
			rmdir /sys/fs/cgroup/*/"${CGROUP_PARENT[$side]}" 2>/dev/null
		fi
	done
	if [[ $RUN_CONTAINERD_EXISTED == 0 ]]; then
		rmdir /run/containerd/s /run/containerd 2>/dev/null
	fi
	if [[ -n $TMP && -d $TMP ]]; then
		# The daemons mount in their own private mount namespaces; this only catches
		# leftovers if that ever changes.
		umount_under "$TMP"
		rm -rf -- "$TMP"
	fi
	[[ -n $POLICY_RC ]] && rm -f -- "$POLICY_RC"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_daemon SIDE BIN ARGS...: runs the daemon in the side's netns and in a private mount
# namespace (so its mounts die with it), waits until /_ping answers. nsenter rather than
# "ip netns exec": the latter remounts /sys, hiding the cgroup mounts dockerd needs. nsenter and
# unshare exec, so $! is the daemon itself.
start_daemon() {
	local side=$1 bin=$2 dir=$TMP/$1 i
	shift 2
	NS[$side]=shoalbench-$$-$side
	ip netns add "${NS[$side]}"
	ip -n "${NS[$side]}" link set lo up
	SOCK[$side]=$dir/api.sock
	LOG[$side]=$dir/daemon.log
	nsenter --net="/run/netns/${NS[$side]}" unshare --mount --propagation private -- \
		"$bin" -H "unix://${SOCK[$side]}" --data-root "$dir/data" --exec-root "$dir/exec" \
		--pidfile "$dir/daemon.pid" --log-level warn "$@" >"${LOG[$side]}" 2>&1 &
	PID[$side]=$!
	for ((i = 0; i < 600; i++)); do
		if ! kill -0 "${PID[$side]}" 2>/dev/null; then
			tail -n 20 "${LOG[$side]}" >&2
			die "$side daemon ($bin) exited during startup"
		fi
		"$PY" "$MEASURE" ping "${SOCK[$side]}" && return 0
		sleep 0.1
	done
	tail -n 20 "${LOG[$side]}" >&2
	die "$side daemon ($bin) did not answer /_ping within 60s"
}

write_meta() {
	local sv dv cv
	sv=$("$PY" "$MEASURE" version "${SOCK[shoal]}" 2>/dev/null || echo "?")
	dv=$("$PY" "$MEASURE" version "${SOCK[docker]}" 2>/dev/null || echo "?")
	cv=""
	[[ -n $CLI ]] && cv=$("$CLI" --version 2>/dev/null | awk '{ print $3 }' | tr -d ,)
	"$PY" - "$TMP/results/meta.json" "$CLI" "$cv" <<EOF
import json, os, sys
json.dump({"shoal_version": "$sv", "docker_version": "$dv", "cli": sys.argv[2] or "-",
           "cli_version": sys.argv[3], "cpus": os.cpu_count(), "kernel": os.uname().release},
          open(sys.argv[1], "w"))
EOF
}

main() {
	local side d
	[[ $(id -u) == 0 ]] || die "needs root (namespaces, dockerd)"
	[[ -x $SHOAL_BIN ]] || die "$SHOAL_BIN not found; build it first (ninja -C build)"
	[[ $N =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ ]] ||
		die "BENCH_LOAD_N and BENCH_LOAD_WARMUP must be numbers (BENCH_LOAD_N at least 1)"
	install_docker
	if ! command -v nsenter >/dev/null || ! command -v unshare >/dev/null; then
		die "needs nsenter and unshare (util-linux)"
	fi
	CLI=""
	if [[ $USE_CLI == 1 ]]; then
		CLI=$(command -v "$DOCKER_CLI") || die "$DOCKER_CLI not found (BENCH_LOAD_CLI=0 skips it)"
	fi
	[[ -d /run/containerd ]] || RUN_CONTAINERD_EXISTED=0
	for side in $SIDES; do
		CGROUP_EXISTED[$side]=0
		for d in /sys/fs/cgroup/*/"${CGROUP_PARENT[$side]}"; do
			[[ -d $d ]] && CGROUP_EXISTED[$side]=1
		done
	done

	TMP=$(mktemp -d /tmp/shoalbench.XXXXXX)
	mkdir -p "$TMP/shoal" "$TMP/docker" "$TMP/results" "$TMP/cli"
	log "writing the image tar ($TMP/image.tar)"
	helper gen "$TMP/image.tar" --meta "$TMP/results/image.json"

	# dockerd reads /etc/docker/daemon.json unless told otherwise: keep host settings out.
	# Its iptables rules, like shoald's nft table, stay inside its netns.
	echo '{}' >"$TMP/docker/daemon.json"
	log "starting dockerd"
	start_daemon docker "$DOCKERD_BIN" --config-file "$TMP/docker/daemon.json" \
		--bip "$DOCKER_BIP"
	log "starting shoald ($SHOAL_BIN)"
	# shellcheck disable=SC2086 # SHOAL_ARGS is a list of flags
	start_daemon shoal "$SHOAL_BIN" --bridge "$SHOAL_BRIDGE" --bip "$SHOAL_BIP" $SHOAL_ARGS
	write_meta
	# Idle: both up, nothing asked of them for a moment.
	sleep 2

	log "$N loads per daemon$([[ -n $CLI ]] && echo " and $N docker load -i") after $WARMUP unmeasured"
	helper bench --image "$TMP/results/image.json" --out "$TMP/results/load.json" \
		--n "$N" --warmup "$WARMUP" --cli "$CLI" --cli-config "$TMP/cli" \
		--side shoal "${SOCK[shoal]}" "$TMP/shoal/data" "${PID[shoal]}" \
		--side docker "${SOCK[docker]}" "$TMP/docker/data" "${PID[docker]}"
	helper report "$TMP/results"
}

main "$@"
