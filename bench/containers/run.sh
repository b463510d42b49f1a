#!/usr/bin/env bash
# bench/containers/run.sh: container start latency and per-container memory of shoald, against
# dockerd 20.10 (Debian's docker.io) and raw `runc run -d`, all measured in the same run.
#
# Starts dockerd (installed with apt-get if missing) and build/shoald, each in its own network
# namespace (shoalbench-<pid>-docker, shoalbench-<pid>-shoal) and private mount namespace, with
# socket, data root, exec root and pidfile in a temp dir, and loads the demo image
# (build/images/instavote-vote-latest.tar, built with scripts/images.sh if missing) into both.
# Then bench/containers/measure.py times, over the Engine API on the unix socket:
#   - raw runc: `runc run -d` of BENCH_N containers made from the image's layers (one rootfs,
#     `runc spec` with the command, a new network namespace), each then `runc delete -f`;
#   - per daemon and network mode (none, then the default bridge): BENCH_N sequential
#     POST /containers/create + POST /containers/{id}/start (+ GET .../json until Running),
#     then DELETE ?force=1 of each;
#   - memory: BENCH_MEM_N running containers per daemon; VmRSS and PSS (smaps_rollup) of every
#     shoal-shim and containerd-shim-runc-v2, and of the daemons (and dockerd's containerd)
#     with 0 and BENCH_MEM_N containers.
# It prints a table and the ratios, and removes everything it made on exit, failure or ^C.
#
# Needs root. Env: BENCH_N (default 50), BENCH_WARMUP (unmeasured containers before each row,
# default 3), BENCH_NETWORKS (default "none bridge"), BENCH_MEM_N (default 100; 0 skips the
# memory part), BENCH_MEM_NETWORK (default none), BENCH_CMD (default "sleep 1000"),
# BENCH_IMAGE_TAR, SHOAL_BIN (default build/shoald), SHOAL_ARGS, DOCKERD_BIN (default dockerd),
# RUNC_BIN (default runc).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${BENCH_N:-50}
WARMUP=${BENCH_WARMUP:-3}
NETWORKS=${BENCH_NETWORKS:-"none bridge"}
MEM_N=${BENCH_MEM_N:-100}
MEM_NETWORK=${BENCH_MEM_NETWORK:-none}
CMD=${BENCH_CMD:-sleep 1000}
IMAGE=instavote/vote
IMAGE_TAR=${BENCH_IMAGE_TAR:-$ROOT/build/images/instavote-vote-latest.tar}
SHOAL_BIN=${SHOAL_BIN:-$ROOT/build/shoald}
SHOAL_ARGS=${SHOAL_ARGS:-}
DOCKERD_BIN=${DOCKERD_BIN:-dockerd}
RUNC_BIN=${RUNC_BIN:-runc}
# Addresses of our own; each daemon is alone in its netns anyway.
SHOAL_BRIDGE=shoalbench0
SHOAL_BIP=10.219.0.1/24
DOCKER_BIP=10.219.1.1/24
PY=/usr/bin/python3
MEASURE=$ROOT/bench/containers/measure.py
SIDES="shoal docker"

TMP=""
POLICY_RC=""
HELPER_PID=""
RUNC_CGROUP=shoalbench-$$-runc
RUN_CONTAINERD_EXISTED=1
declare -A NS PID SOCK LOG
# Where runc puts each daemon's containers under every cgroup v1 hierarchy (and v2's).
declare -A CGROUP_PARENT=([shoal]=shoal [docker]=docker) CGROUP_EXISTED
# shellcheck disable=SC2034 # read by bench/lib.sh
BENCH_NAME=bench/containers
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# runc delete -f of every container in every runc root under $TMP (a root holds ID/state.json).
delete_runc_leftovers() {
	local f dir
	while IFS= read -r f; do
		dir=${f%/state.json}
		"$RUNC_BIN" --root "${dir%/*}" delete -f "${dir##*/}" >/dev/null 2>&1 || true
	done < <(find "$TMP" -maxdepth 7 -name state.json -path '*/exec/*' 2>/dev/null;
		find "$TMP/runc-state" -maxdepth 2 -name state.json 2>/dev/null)
}

cleanup() {
	local rc=$? side pid ns d
	set +e
	trap - EXIT INT TERM
	[[ -n $HELPER_PID ]] && stop_pid "$HELPER_PID" 5
	# Remove containers through each daemon while it is up, then stop it.
	for side in $SIDES; do
		pid=${PID[$side]:-}
		if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
			timeout 300 "$PY" "$MEASURE" rm "${SOCK[$side]}" 2>/dev/null ||
				log "could not remove $side's containers through its API"
			stop_pid "$pid"
		fi
	done
	if [[ -n $TMP && -d $TMP ]]; then
		# What a crashed or killed daemon left: containers (in their own netns, so not
		# among the pids of ours), then their shims.
		delete_runc_leftovers
		kill_ours shoal-shim
		kill_ours containerd-shim-runc-v2
	fi
	# Whatever is still in our namespaces (dockerd's containerd after a KILL) is ours too.
	for side in $SIDES; do
		ns=${NS[$side]:-}
		[[ -n $ns ]] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			stop_pid "$pid" 5
		done
		ip netns del "$ns" 2>/dev/null
	done
	# runc delete removes a container's cgroups, but a runc cut short by a dying daemon may
	# leave them: every empty one of our containers', then the empty parents this run made.
	for side in $SIDES; do
		for d in "$TMP/$side/data/containers"/*; do
			[[ -d $d ]] || continue
			rmdir /sys/fs/cgroup/*/"${CGROUP_PARENT[$side]}/${d##*/}" 2>/dev/null
		done
		if [[ ${CGROUP_EXISTED[$side]:-1} == 0 ]]; then
			rmdir /sys/fs/cgroup/*/"${CGROUP_PARENT[$side]}" 2>/dev/null
		fi
	done
	rmdir /sys/fs/cgroup/*/"$RUNC_CGROUP"/* /sys/fs/cgroup/*/"$RUNC_CGROUP" 2>/dev/null
	# containerd's shims keep their sockets in /run/containerd/s whatever the exec root.
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

# snapshot SIDE WHEN CONTAINERS: the memory of SIDE's daemon and shims into mem-SIDE-WHEN.json.
snapshot() {
	helper snapshot --side "$1" --pid "${PID[$1]}" --match "$TMP/$1/" --label "$2" \
		--containers "$3" --out "$TMP/results/mem-$1-$2.json"
}

write_meta() {
	local sv dv rv
	sv=$("$PY" "$MEASURE" version "${SOCK[shoal]}" 2>/dev/null || echo "?")
	dv=$("$PY" "$MEASURE" version "${SOCK[docker]}" 2>/dev/null || echo "?")
	rv=$("$RUNC_BIN" --version 2>/dev/null | awk 'NR == 1 { print $3 }')
	"$PY" - "$TMP/results/meta.json" "$CMD" <<EOF
import json, os, sys
json.dump({"shoal_version": "$sv", "docker_version": "$dv", "runc_version": "$rv",
           "cpus": os.cpu_count(), "kernel": os.uname().release, "image": "$IMAGE",
           "cmd": sys.argv[2], "n": $N, "warmup": $WARMUP, "networks": "$NETWORKS".split(),
           "mem_n": $MEM_N, "mem_network": "$MEM_NETWORK"}, open(sys.argv[1], "w"))
EOF
}

main() {
	local net side mode out d
	[[ $(id -u) == 0 ]] || die "needs root (namespaces, runc, dockerd)"
	[[ -x $SHOAL_BIN ]] || die "$SHOAL_BIN not found; build it first (ninja -C build)"
	[[ -x ${SHOAL_BIN%/*}/shoal-shim ]] || die "no shoal-shim next to $SHOAL_BIN"
	[[ $N =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ && $MEM_N =~ ^[0-9]+$ ]] ||
		die "BENCH_N, BENCH_WARMUP and BENCH_MEM_N must be numbers (BENCH_N at least 1)"
	install_docker
	command -v "$RUNC_BIN" >/dev/null || die "$RUNC_BIN not found"
	if ! command -v nsenter >/dev/null || ! command -v unshare >/dev/null; then
		die "needs nsenter and unshare (util-linux)"
	fi
	if [[ ! -f $IMAGE_TAR ]]; then
		[[ -z ${BENCH_IMAGE_TAR:-} ]] || die "$IMAGE_TAR not found"
		log "building the demo images (scripts/images.sh build/images)"
		"$ROOT/scripts/images.sh" "$ROOT/build/images" >&2
	fi
	[[ -d /run/containerd ]] || RUN_CONTAINERD_EXISTED=0
	for side in $SIDES; do
		CGROUP_EXISTED[$side]=0
		for d in /sys/fs/cgroup/*/"${CGROUP_PARENT[$side]}"; do
			[[ -d $d ]] && CGROUP_EXISTED[$side]=1
		done
	done

	TMP=$(mktemp -d /tmp/shoalbench.XXXXXX)
	mkdir -p "$TMP/shoal" "$TMP/docker" "$TMP/results"
	# dockerd reads /etc/docker/daemon.json unless told otherwise: keep host settings out.
	# Its iptables rules, like shoald's nft table, stay inside its netns.
	echo '{}' >"$TMP/docker/daemon.json"
	log "starting dockerd"
	start_daemon docker "$DOCKERD_BIN" --config-file "$TMP/docker/daemon.json" \
		--bip "$DOCKER_BIP"
	log "starting shoald ($SHOAL_BIN)"
	# shellcheck disable=SC2086 # SHOAL_ARGS is a list of flags
	start_daemon shoal "$SHOAL_BIN" --bridge "$SHOAL_BRIDGE" --bip "$SHOAL_BIP" $SHOAL_ARGS
	for side in $SIDES; do
		log "loading $IMAGE_TAR into $side"
		helper load "${SOCK[$side]}" "$IMAGE_TAR"
	done
	write_meta
	# Idle: both up with the image, nothing asked of them for a moment.
	sleep 2
	for side in $SIDES; do
		snapshot "$side" idle 0
	done

	log "raw runc: bundle from $IMAGE_TAR, then $N x runc run -d"
	mkdir -p "$TMP/runc-bundle" "$TMP/runc-state"
	helper bundle --runc "$RUNC_BIN" "$IMAGE_TAR" "$TMP/runc-bundle" --cmd "$CMD"
	# In a private mount namespace like the daemons' (each container gets its own anyway).
	# runc run -d is the baseline; create then start (two runc processes, what a shim does)
	# is printed for scale.
	for mode in run create-start; do
		out=$TMP/results/runc.json
		[[ $mode == run ]] || out=$TMP/results/runc-$mode.json
		unshare --mount --propagation private -- "$PY" "$MEASURE" runc "$TMP/runc-bundle" \
			--runc "$RUNC_BIN" --root "$TMP/runc-state" --n "$N" --warmup "$WARMUP" \
			--mode "$mode" --prefix "shoalbench-$$-$mode" --cgroup-parent "/$RUNC_CGROUP" \
			--out "$out" &
		HELPER_PID=$!
		wait "$HELPER_PID" || log "warning: runc ($mode) failed"
		HELPER_PID=""
	done

	for net in $NETWORKS; do
		# Same order every time; each row ends with no container left.
		for side in $SIDES; do
			log "$side, network $net: $N x create+start (after $WARMUP), then rm -f"
			helper api "${SOCK[$side]}" --network "$net" --n "$N" --warmup "$WARMUP" \
				--image "$IMAGE" --out "$TMP/results/api-$side-$net.json" --cmd "$CMD" ||
				log "warning: $side, network $net failed"
		done
	done

	if ((MEM_N > 0)); then
		for side in $SIDES; do
			log "$side: $MEM_N running containers (network $MEM_NETWORK) for memory"
			helper api "${SOCK[$side]}" --network "$MEM_NETWORK" --n "$MEM_N" --warmup 0 \
				--keep --image "$IMAGE" --out "$TMP/results/fill-$side.json" --cmd "$CMD"
			sleep 2
			snapshot "$side" full "$MEM_N"
			log "$side: removing them"
			helper rm "${SOCK[$side]}"
			sleep 2
			snapshot "$side" after 0
		done
	fi
	helper report "$TMP/results"
}

main "$@"
