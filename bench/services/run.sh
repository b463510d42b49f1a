#!/usr/bin/env bash
# bench/services/run.sh: services on Shoal's swarm against dockerd 20.10 (Debian's docker.io) as
# a single-node swarm measured in the same run: create and scale until the tasks run, the
# memory per task, and Shoal's scheduler alone in-process.
#
# 1. The scheduler: bench/services/sched.c, built with cc against build/'s static libraries
#    (the build itself is left alone), runs Shoal's orchestrator core on a store holding
#    BENCH_SCHED_NODES ready nodes and one service of BENCH_SCHED_TASKS replicas until every
#    task is assigned, pass by pass; then one pass over tasks already pending, and the
#    scheduler's step alone.
# 2. Shoal: three machines (build/shoal machine create, storage in a temp dir, subnet
#    BENCH_SUBNET), the demo image loaded into each, `docker swarm init` on node1 and 2 x
#    `swarm join`. bench/services/measure.py then drives the docker CLI on node1's socket
#    (/proc/<shoald pid>/root/run/docker.sock): BENCH_SAMPLES x `service create --detach
#    --replicas 6 instavote/vote` until 6 tasks run (each but the last followed by `service rm`
#    until its containers are gone), then `service scale --detach vote=N` for each N of
#    BENCH_STEPS until exactly N run, with the memory of every shoald, shoal-shim and task
#    process at 6, 100 and 300 tasks; then (back at 6) the rolling update: BENCH_UPDATES x
#    `service update --detach --update-parallelism 2 --update-delay 0s --image
#    instavote/vote:indent vote` until the 6 tasks run the new image, and BENCH_UPDATES x the
#    blocking form (no --detach, its wall time), :latest -> :indent and back in turn.
# 3. Docker: dockerd in its own network namespace (shoalbench-<pid>-docker) with its docker0 at
#    BENCH_DOCKER_BIP and --iptables=false, private mount namespace, socket, data root, exec
#    root and pidfile in the temp dir, its own containerd; the images loaded, `swarm init
#    --advertise-addr 127.0.0.1`, and the same creates and scales (BENCH_DOCKER_STEPS), with the
#    memory of dockerd, containerd, every containerd-shim-runc-v2 and task process, and the
#    same updates.
# No --publish on either side: dockerd's ingress needs IPVS, which this kernel lacks. It prints a table with the
# ratios and removes the machines, dockerd, its namespace and the temp dir on exit, failure
# or ^C.
#
# Needs root. Env: BENCH_SUBNET (default 192.168.232.0/24; must be unused on the host),
# BENCH_SAMPLES (creates per side, default 3), BENCH_STEPS (Shoal's scales, default
# 100,300,6,100,6), BENCH_DOCKER_STEPS (default: BENCH_STEPS; 100,6 is MEASURED.md's range),
# BENCH_SETTLE (seconds before memory is read, default 5), BENCH_TIMEOUT (seconds per step,
# default 600), BENCH_DOCKER_BIP (default 172.17.0.1/16: a /24 runs out of addresses before
# 300 tasks), BENCH_SCHED_NODES (1000), BENCH_SCHED_TASKS (10000), BENCH_SCHED_ROUNDS (3; 0
# skips the scheduler), BENCH_UPDATES (updates of each form per side, default 3; 0 skips
# them), SHOAL_CLI (default build/shoal, with shoald next to it and the static
# libraries under its src/), DOCKERD_BIN (default dockerd), DOCKER_CLI (default
# /usr/local/bin/docker, else docker), BENCH_RESULTS (a dir to keep the results in;
# `measure.py report DIR` prints the table again).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SUBNET=${BENCH_SUBNET:-192.168.232.0/24}
SAMPLES=${BENCH_SAMPLES:-3}
STEPS=${BENCH_STEPS:-100,300,6,100,6}
DOCKER_STEPS=${BENCH_DOCKER_STEPS:-$STEPS}
SETTLE=${BENCH_SETTLE:-5}
TIMEOUT=${BENCH_TIMEOUT:-600}
DOCKER_BIP=${BENCH_DOCKER_BIP:-172.17.0.1/16}
SCHED_NODES=${BENCH_SCHED_NODES:-1000}
SCHED_TASKS=${BENCH_SCHED_TASKS:-10000}
SCHED_ROUNDS=${BENCH_SCHED_ROUNDS:-3}
UPDATES=${BENCH_UPDATES:-3}
SHOAL_CLI=${SHOAL_CLI:-$ROOT/build/shoal}
BUILD=${SHOAL_CLI%/*}
DOCKERD_BIN=${DOCKERD_BIN:-dockerd}
DOCKER_CLI=${DOCKER_CLI:-/usr/local/bin/docker}
RESULTS=${BENCH_RESULTS:-}
IMAGE=instavote/vote
IMAGE_TAR=$BUILD/images/instavote-vote-latest.tar
NEW_IMAGE=instavote/vote:indent
NEW_IMAGE_TAR=$BUILD/images/instavote-vote-indent.tar
REPLICAS=6
MEM_AT=6,100,300
PY=/usr/bin/python3
MEASURE=$ROOT/bench/services/measure.py
NODES="node1 node2 node3"

TMP=""
STORAGE=""
BRIDGE=""
POLICY_RC=""
HELPER_PID=""
DOCKER_NS=""
DOCKER_PID=""
DOCKER_SOCK=""
RUN_DOCKER_EXISTED=1
CGROUP_DOCKER_EXISTED=1
RUN_CONTAINERD_EXISTED=1
SHOAL_VERSION=""
DOCKER_VERSION=""
LOAD_START=""
# shellcheck disable=SC2034 # read by bench/lib.sh
BENCH_NAME=bench/services
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# What a failed run leaves of Docker's tasks: the containers under the shims in dockerd's
# namespace (each in a netns of its own, so not among its pids), then the shims and their
# sockets; then the containers' cgroups.
kill_docker_tasks() {
	local pid kid d
	if [[ -n $DOCKER_NS ]]; then
		for pid in $(ip netns pids "$DOCKER_NS" 2>/dev/null); do
			[[ $(cat "/proc/$pid/comm" 2>/dev/null) == containerd-shim* ]] || continue
			# shellcheck disable=SC2013 # the file is one line of pids
			for kid in $(cat "/proc/$pid/task/"*/children 2>/dev/null); do
				kill -KILL "$kid" 2>/dev/null || true
			done
		done
	fi
	kill_ours containerd-shim-runc-v2
	for d in "$TMP/docker/data/containers"/*; do
		[[ -d $d ]] && { rmdir /sys/fs/cgroup/*/docker/"${d##*/}" 2>/dev/null || true; }
	done
	return 0
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	[[ -n $HELPER_PID ]] && stop_pid "$HELPER_PID" 5
	remove_machines
	if [[ -n $TMP && -d $TMP ]]; then
		kill_docker_tasks
	fi
	stop_dockerd
	# containerd's shims keep their sockets in /run/containerd/s whatever the exec root.
	if [[ $RUN_CONTAINERD_EXISTED == 0 ]]; then
		rmdir /run/containerd/s /run/containerd 2>/dev/null
	fi
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

sched_part() {
	local b=$BUILD/src
	if ((SCHED_ROUNDS == 0)); then
		return 0
	fi
	log "scheduler: building bench/services/sched.c against $b"
	# shellcheck disable=SC2046 # pkg-config prints several words
	cc -O2 -g -std=gnu11 -D_GNU_SOURCE -I"$ROOT/src" -o "$TMP/sched" \
		"$ROOT/bench/services/sched.c" "$b/manager/libshoal_manager.a" \
		"$b/store/libshoal_store.a" "$b/base/libshoal_base.a" \
		$(pkg-config --libs jansson libuv) || die "cannot build the scheduler benchmark"
	log "scheduler: $SCHED_TASKS tasks onto $SCHED_NODES nodes, $SCHED_ROUNDS rounds"
	"$TMP/sched" -n "$SCHED_NODES" -t "$SCHED_TASKS" -r "$SCHED_ROUNDS" \
		>"$TMP/results/sched.txt" &
	HELPER_PID=$!
	wait "$HELPER_PID" || die "the scheduler benchmark failed"
	HELPER_PID=""
}

# wait_ready SOCK N: until node ls on SOCK shows N Ready nodes (60 s).
wait_ready() {
	local i
	for ((i = 0; i < 300; i++)); do
		[[ $("$DOCKER_CLI" -H "unix://$1" node ls --format '{{.Status}}' 2>/dev/null |
			grep -c '^Ready$') == "$2" ]] && return 0
		sleep 0.2
	done
	die "$2 Ready nodes not seen within 60s"
}

# load_images SOCK: the demo image, and the update's when there are updates.
load_images() {
	"$DOCKER_CLI" -H "unix://$1" load -i "$IMAGE_TAR" >/dev/null
	if ((UPDATES > 0)); then
		"$DOCKER_CLI" -H "unix://$1" load -i "$NEW_IMAGE_TAR" >/dev/null
	fi
}

shoal_part() {
	local name ip1 token sock1 sock
	local -a engines=()
	log "shoal: 3 x machine create ($SUBNET), images load, swarm init, 2 x join"
	for name in $NODES; do
		"$SHOAL_CLI" machine create --storage-path "$STORAGE" --subnet "$SUBNET" "$name" \
			>/dev/null
		sock=$(nodesock "$name")
		load_images "$sock"
		engines+=(--engine "$sock")
	done
	sock1=$(nodesock node1)
	ip1=$("$SHOAL_CLI" machine ip --storage-path "$STORAGE" node1)
	"$DOCKER_CLI" -H "unix://$sock1" swarm init --advertise-addr "$ip1" >/dev/null
	token=$("$DOCKER_CLI" -H "unix://$sock1" swarm join-token -q worker)
	for name in node2 node3; do
		"$DOCKER_CLI" -H "unix://$(nodesock "$name")" swarm join --token "$token" "$ip1:2377" \
			>/dev/null
	done
	wait_ready "$sock1" 3
	SHOAL_VERSION=$("$DOCKER_CLI" -H "unix://$sock1" version --format '{{.Server.Version}}' \
		2>/dev/null || echo "?")
	log "shoal: creates, then scales to $STEPS, then $UPDATES + $UPDATES updates"
	helper side --name shoal --sock "$sock1" "${engines[@]}" --cli "$DOCKER_CLI" \
		--image "$IMAGE" --replicas "$REPLICAS" --samples "$SAMPLES" --steps "$STEPS" \
		--mem-at "$MEM_AT" --settle "$SETTLE" --timeout "$TIMEOUT" --updates "$UPDATES" \
		--update-image "$NEW_IMAGE" --machines "$STORAGE" \
		--out "$TMP/results/shoal.json" || log "warning: the shoal side failed"
	cp "$STORAGE/node1/shoald.log" "$TMP/results/shoald-node1.log" 2>/dev/null || true
	log "shoal: removing the machines"
	remove_machines
}

docker_part() {
	local dir=$TMP/docker port
	log "docker: starting dockerd in shoalbench-$$-docker (--bip $DOCKER_BIP)"
	start_dockerd "$dir" --iptables=false --ip-masq=false --ip-forward=false \
		--bip "$DOCKER_BIP" --log-level warn
	DOCKER_VERSION=$("$DOCKER_CLI" -H "unix://$DOCKER_SOCK" version \
		--format '{{.Server.Version}}' 2>/dev/null || echo "?")
	load_images "$DOCKER_SOCK"
	# Any port is free in a namespace of our own; ask the kernel for one all the same.
	port=$(nsenter --net="/run/netns/$DOCKER_NS" "$PY" -c \
		'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$DOCKER_CLI" -H "unix://$DOCKER_SOCK" swarm init --advertise-addr 127.0.0.1 \
		--listen-addr "127.0.0.1:$port" >/dev/null
	wait_ready "$DOCKER_SOCK" 1
	log "docker: creates, then scales to $DOCKER_STEPS, then $UPDATES + $UPDATES updates"
	helper side --name docker --sock "$DOCKER_SOCK" --cli "$DOCKER_CLI" --image "$IMAGE" \
		--replicas "$REPLICAS" --samples "$SAMPLES" --steps "$DOCKER_STEPS" --mem-at "$MEM_AT" \
		--settle "$SETTLE" --timeout "$TIMEOUT" --updates "$UPDATES" \
		--update-image "$NEW_IMAGE" --docker-ns "$DOCKER_NS" \
		--dockerd "$DOCKER_PID" --out "$TMP/results/docker.json" ||
		log "warning: the docker side failed"
	cp "$dir/daemon.log" "$TMP/results/dockerd.log"
	kill_docker_tasks
	stop_dockerd
}

write_meta() {
	local cli load
	cli=$("$DOCKER_CLI" --version 2>/dev/null | awk '{ print $3 }' | tr -d ,)
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	"$PY" - "$TMP/results/meta.json" "${SHOAL_VERSION:-?}" "${DOCKER_VERSION:-?}" "$cli" \
		"$SETTLE" "$TIMEOUT" "$DOCKER_STEPS" "$IMAGE" "$LOAD_START" "$load" <<'EOF'
import json, os, sys
out, sv, dv, cli, settle, timeout, dsteps, image, l0, l1 = sys.argv[1:]
json.dump({"shoal_version": sv, "docker_version": dv, "cli": cli, "cpus": os.cpu_count(),
           "kernel": os.uname().release, "settle": float(settle), "timeout": float(timeout),
           "docker_max": max(int(x) for x in dsteps.split(",") if x), "image": image,
           "load_start": l0, "load_end": l1}, open(out, "w"))
EOF
}

main() {
	local i
	[[ $(id -u) == 0 ]] || die "needs root (namespaces, machines, dockerd)"
	[[ -x $SHOAL_CLI ]] || die "$SHOAL_CLI not found; build it first (make)"
	[[ -x $BUILD/shoald ]] || die "no shoald next to $SHOAL_CLI"
	[[ $SAMPLES =~ ^[1-9][0-9]*$ && $SETTLE =~ ^[0-9]+([.][0-9]+)?$ &&
		$TIMEOUT =~ ^[0-9]+$ && $SCHED_ROUNDS =~ ^[0-9]+$ && $UPDATES =~ ^[0-9]+$ ]] ||
		die "BENCH_SAMPLES, BENCH_SETTLE, BENCH_TIMEOUT, BENCH_SCHED_ROUNDS and BENCH_UPDATES" \
			"must be numbers"
	[[ $STEPS =~ ^[0-9]+(,[0-9]+)*$ && $DOCKER_STEPS =~ ^[0-9]+(,[0-9]+)*$ ]] ||
		die "BENCH_STEPS and BENCH_DOCKER_STEPS are comma-separated replica counts"
	install_docker
	if [[ ! -x $DOCKER_CLI ]]; then
		DOCKER_CLI=$(command -v docker) || die "no docker CLI"
	fi
	for i in nsenter unshare cc pkg-config; do
		command -v "$i" >/dev/null || die "needs $i"
	done
	if [[ ! -f $IMAGE_TAR || ! -f $NEW_IMAGE_TAR ]]; then
		log "building the demo images (scripts/images.sh $BUILD/images)"
		"$ROOT/scripts/images.sh" "$BUILD/images" >&2
	fi
	check_subnet
	note_docker_dirs
	[[ -d /run/containerd ]] || RUN_CONTAINERD_EXISTED=0
	LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

	TMP=$(mktemp -d /tmp/shoalbench.XXXXXX)
	STORAGE=$TMP/machines
	mkdir -p "$STORAGE" "$TMP/docker" "$TMP/results"
	sched_part
	shoal_part
	docker_part
	write_meta
	if [[ -n $RESULTS ]]; then
		mkdir -p "$RESULTS"
		cp "$TMP"/results/* "$RESULTS"/
	fi
	helper report "$TMP/results"
}

main "$@"
