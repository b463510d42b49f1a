# bench/lib.sh: shell functions the benchmarks share; sourced, never run.
#
# The sourcing script sets BENCH_NAME (the prefix of its log lines) and DOCKERD_BIN, and keeps
# POLICY_RC="" among its globals: its cleanup removes "$POLICY_RC" if install_docker is cut
# short while the file is in place. helper runs its PY and MEASURE and keeps HELPER_PID; the
# machine and dockerd sections below list the globals they read and set.
# shellcheck shell=bash

log() {
	printf '%s: %s\n' "${BENCH_NAME:-bench}" "$*" >&2
}

die() {
	log "error: $*"
	exit 1
}

# Stops one process we started: TERM, up to $2 seconds, then KILL; reaps it if it is our child.
stop_pid() {
	local pid=$1 grace=${2:-20} i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < grace * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid ignored SIGTERM for ${grace}s, killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# Installs Debian's docker.io (dockerd 20.10, containerd, runc) without letting the package
# start a system dockerd: that one would own /var/run/docker.sock and the host's iptables.
install_docker() {
	command -v "$DOCKERD_BIN" >/dev/null && return 0
	[[ $DOCKERD_BIN == dockerd ]] || die "$DOCKERD_BIN not found"
	log "dockerd missing, installing docker.io with apt-get"
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		POLICY_RC=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
		chmod 755 "$POLICY_RC"
	fi
	# a fresh machine may have no package lists yet
	DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io >&2 ||
		{ apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io >&2; } ||
		die "apt-get install docker.io failed"
	if [[ -n $POLICY_RC ]]; then
		rm -f -- "$POLICY_RC"
		POLICY_RC=""
	fi
	command -v dockerd >/dev/null || die "docker.io installed but no dockerd"
}

# Lazily unmounts every mount at or under $1 (deepest first), in our mount namespace.
umount_under() {
	local mnt
	awk -v t="$1" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r mnt; do
			umount -l "$mnt"
		done
}

# VmRSS of a pid in KiB, or empty.
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

# ratio NUM DEN: "1.23x", or "-" when either side is missing or zero.
ratio() {
	awk -v a="${1:-}" -v b="${2:-}" \
		'BEGIN { if (a == "" || b == "" || a + 0 == 0 || b + 0 == 0) print "-";
		else printf "%.2fx\n", a / b }'
}

# mib KIB: "12.3", or "-".
mib() {
	awk -v v="${1:-}" 'BEGIN { if (v == "") print "-"; else printf "%.1f\n", v / 1024 }'
}

# num VALUE FORMAT: VALUE printed with the printf FORMAT, or "-".
num() {
	awk -v v="${1:-}" -v f="$2" 'BEGIN { if (v == "") print "-"; else printf f "\n", v }'
}

# Runs "$PY" "$MEASURE" ARGS... (the sourcing script's measure.py) in the background, so that a
# signal reaches the script's trap without waiting for it; the trap stops "$HELPER_PID".
helper() {
	local rc=0
	"$PY" "$MEASURE" "$@" &
	HELPER_PID=$!
	wait "$HELPER_PID" || rc=$?
	HELPER_PID=""
	return "$rc"
}

# sleep in the background, so that a signal reaches the trap at once.
pause() {
	sleep "$1" &
	HELPER_PID=$!
	wait "$HELPER_PID" || true
	HELPER_PID=""
}

# bench/benchlib.py, run by the functions below.
BENCHLIB_PY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/benchlib.py

#
# `shoal machine` nodes. Globals: SHOAL_CLI (the CLI, shoald next to it), STORAGE (the
# machines' storage path, in the script's temp dir), SUBNET (theirs, a /24), BRIDGE (set by
# check_subnet).
#

# Checks that nothing on the host uses the subnet's addresses, nor the name of the bridge
# `shoal machine` makes for it ("shoalm" + the network address in hex), which remove_machines
# deletes if the machines leave it behind. `shoal machine create` also refuses a subnet
# overlapping a route. Sets BRIDGE.
check_subnet() {
	local net=${SUBNET%/*} a b c br
	[[ $SUBNET =~ ^[0-9]+\.[0-9]+\.[0-9]+\.0/24$ ]] || die "BENCH_SUBNET must be a /24 (a.b.c.0/24)"
	IFS=. read -r a b c _ <<<"$net"
	if ip -4 -o addr show | grep -qF " inet $a.$b.$c." ||
		ip -4 route show | grep -qE "^$a\.$b\.$c\.0(/| )"; then
		die "$SUBNET is in use on this host (ip route / ip addr); set BENCH_SUBNET"
	fi
	br=$(printf 'shoalm%02x%02x%02x00' "$a" "$b" "$c")
	if ip link show "$br" >/dev/null 2>&1; then
		die "a link named $br (shoal machine's bridge for $SUBNET) exists already"
	fi
	BRIDGE=$br
}

# Removes every machine under $STORAGE; a node init that survives that is killed (which ends
# its whole node, containers included: they live in its pid namespace), and the subnet's bridge
# goes when no machine is left on it.
remove_machines() {
	local d name pid
	[[ -n $STORAGE && -d $STORAGE ]] || return 0
	for d in "$STORAGE"/*/; do
		[[ -d $d ]] || continue
		name=${d%/}
		name=${name##*/}
		timeout 60 "$SHOAL_CLI" machine rm -f --storage-path "$STORAGE" "$name" >/dev/null ||
			log "warning: shoal machine rm -f $name failed"
		if [[ -f $d/pid ]]; then
			pid=$(awk '{ print $1 }' "$d/pid")
			if [[ -n $pid && $(readlink "/proc/$pid/exe" 2>/dev/null) == "$SHOAL_CLI" ]]; then
				log "killing $name's node init ($pid)"
				kill -KILL "$pid" 2>/dev/null || true
			fi
		fi
	done
	if [[ -n $BRIDGE ]] && ip link show "$BRIDGE" >/dev/null 2>&1; then
		log "deleting the bridge $BRIDGE left behind"
		ip link del "$BRIDGE" || true
	fi
}

# nodepid NAME: the host pid of machine NAME's shoald.
nodepid() {
	"$PY" "$BENCHLIB_PY" nodepid "$STORAGE" "$1"
}

# nodesock NAME: machine NAME's docker.sock, reached through its shoald's root.
nodesock() {
	echo "/proc/$(nodepid "$1")/root/run/docker.sock"
}

#
# dockerd in a network namespace (shoalbench-<pid>-docker) and private mount namespace of its
# own. Globals: DOCKERD_BIN, DOCKER_NS, DOCKER_PID, DOCKER_SOCK, RUN_DOCKER_EXISTED and
# CGROUP_DOCKER_EXISTED (set by note_docker_dirs; 1 = leave alone), TMP.
#

# Notes whether /run/docker and the docker cgroup parents exist before dockerd makes them.
note_docker_dirs() {
	local d
	RUN_DOCKER_EXISTED=1
	[[ -d /run/docker ]] || RUN_DOCKER_EXISTED=0
	CGROUP_DOCKER_EXISTED=0
	for d in /sys/fs/cgroup/*/docker; do
		[[ -d $d ]] && CGROUP_DOCKER_EXISTED=1
	done
	return 0
}

# start_dockerd DIR ARGS...: dockerd with socket DIR/api.sock, data root, exec root, pidfile
# and log (DIR/daemon.log) in DIR, an empty --config-file (host settings stay out) and ARGS;
# waits until /_ping answers. nsenter rather than "ip netns exec", which remounts /sys and
# hides the cgroup mounts dockerd needs; nsenter and unshare exec, so $! is dockerd itself.
start_dockerd() {
	local dir=$1 i
	shift
	DOCKER_NS=shoalbench-$$-docker
	ip netns add "$DOCKER_NS"
	ip -n "$DOCKER_NS" link set lo up
	DOCKER_SOCK=$dir/api.sock
	echo '{}' >"$dir/daemon.json"
	nsenter --net="/run/netns/$DOCKER_NS" unshare --mount --propagation private -- \
		"$DOCKERD_BIN" -H "unix://$DOCKER_SOCK" --data-root "$dir/data" --exec-root "$dir/exec" \
		--pidfile "$dir/daemon.pid" --config-file "$dir/daemon.json" "$@" \
		>"$dir/daemon.log" 2>&1 &
	DOCKER_PID=$!
	for ((i = 0; ; i++)); do
		if ! kill -0 "$DOCKER_PID" 2>/dev/null; then
			tail -n 20 "$dir/daemon.log" >&2
			die "dockerd exited during startup"
		fi
		"$PY" "$BENCHLIB_PY" ping "$DOCKER_SOCK" && break
		((i < 600)) || die "dockerd did not answer /_ping within 60s"
		sleep 0.1
	done
}

# Stops dockerd and whatever is still in its namespace (its containerd after a KILL, shims),
# deletes the namespace and the directories dockerd made outside $TMP (those another dockerd
# still uses stay). Safe under set -e and to call twice.
stop_dockerd() {
	local pid
	if [[ -n $DOCKER_PID ]]; then
		stop_pid "$DOCKER_PID"
		DOCKER_PID=""
	fi
	if [[ -n $DOCKER_NS ]]; then
		for pid in $(ip netns pids "$DOCKER_NS" 2>/dev/null); do
			stop_pid "$pid" 5
		done
		ip netns del "$DOCKER_NS" 2>/dev/null || true
		DOCKER_NS=""
	fi
	# dockerd makes /run/docker/plugins whatever its exec root.
	if [[ ${RUN_DOCKER_EXISTED:-1} == 0 ]]; then
		rmdir /run/docker/plugins /run/docker 2>/dev/null || true
	fi
	if [[ ${CGROUP_DOCKER_EXISTED:-1} == 0 ]]; then
		rmdir /sys/fs/cgroup/*/docker 2>/dev/null || true
	fi
}

# Kills every process whose executable is named $1 and whose command line mentions $TMP. A
# killed containerd-shim-runc-v2 leaves its socket, /run/containerd/s/<sha256 of
# ADDRESS/NS/ID>, behind (containerd puts it there whatever the exec root): removed too.
kill_ours() {
	local p exe args i ns id addr
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		[[ ${exe##*/} == "$1" ]] || continue
		mapfile -d '' -t args <"$p/cmdline" 2>/dev/null || continue
		[[ "${args[*]}" == *"$TMP"* ]] || continue
		kill -KILL "${p#/proc/}" 2>/dev/null || true
		ns="" id="" addr=""
		for ((i = 1; i + 1 < ${#args[@]}; i++)); do
			case ${args[i]} in
			-namespace) ns=${args[i + 1]} ;;
			-id) id=${args[i + 1]} ;;
			-address) addr=${args[i + 1]} ;;
			esac
		done
		if [[ -n $ns && -n $id && $addr == "$TMP"/* ]]; then
			rm -f "/run/containerd/s/$(printf '%s' "$addr/$ns/$id" | sha256sum | cut -d' ' -f1)"
		fi
	done
}
