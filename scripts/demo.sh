#!/usr/bin/env bash
# The demo: the swarm tutorial of shared/seed/ played with the real docker CLI on three
# `shoal machine` nodes (node1 manager, node2 and node3 workers, 192.168.99.0/24 as the
# tutorial's docker-machine VMs had): swarm init and joins, `service create --replicas 6
# --publish 8080:80`, `service ps`, the routing mesh answering on every node's 8080 in
# turn, `service logs`, drain, reactivation, pause, scale, and
# a manager's failover, a rolling update two by two. Each command is printed, then run inside node1 as the tutorial
# runs it (`shoal machine ssh node1 docker ...`).
#
# The images come from a registry, as the tutorial's hosts pulled them: Debian's
# docker-registry runs on the machine bridge's address (port DEMO_REGISTRY_PORT, default
# 5000, storage in a temp dir), the demo images are pushed to it from node1, and every
# node's shoald uses it as its docker.io mirror (docker-machine's --engine-registry-mirror).
#
# It pauses between acts when run in a terminal, not otherwise; DEMO_FAST=1 shortens the
# waits; DEMO_SUBNET picks the machines' subnet (default: shoal machine's). It ends leaving
# the cluster and the registry running and prints how to reach and remove them.
# What is not in yet (the visualizer) is said where the tutorial would use it.
set -euo pipefail
cd "$(dirname "$0")/.."

shoal=build/shoal
machine() { "$shoal" machine "$@"; }
images=build/images
nodes=(node1 node2 node3)

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
say() { printf '\033[2m# %s\033[0m\n' "$*"; }
# Runs a docker command inside a node, printed as the tutorial shows it.
on() {
	local node=$1
	shift
	printf '\033[1m%s$ docker %s\033[0m\n' "$node" "$*"
	machine ssh "$node" "docker $*" || true
}
pause() {
	if [[ -t 0 && -t 1 && ${DEMO_FAST:-0} != 1 ]]; then
		read -r -p $'\n(press Enter for the next act) ' _ || true
	fi
}
wait_s() { sleep "$([[ ${DEMO_FAST:-0} == 1 ]] && echo 1 || echo "$1")"; }
# Waits (30 s at most) until a command inside a node prints something matching a pattern.
wait_for() {
	local node=$1 pattern=$2
	shift 2
	for _ in $(seq 150); do
		machine ssh "$node" "$*" 2>/dev/null | grep -q -- "$pattern" && return 0
		sleep 0.2
	done
}

[[ -f $images/instavote-vote-latest.tar && -f $images/instavote-vote-indent.tar ]] ||
	scripts/images.sh "$images" >/dev/null

command -v docker-registry >/dev/null || scripts/deps.sh

bold "Act 1: three hosts, as docker-machine made them, and a registry"
for n in "${nodes[@]}"; do
	if machine ls -q | grep -qx "$n"; then
		say "$n exists from an earlier run: removing it"
		machine rm -f "$n" >/dev/null
	fi
done
subnet=()
[[ -n ${DEMO_SUBNET:-} ]] && subnet=(--subnet "$DEMO_SUBNET")
# The registry listens on the bridge's own address (x.y.z.1), where the nodes reach the
# host; a first node shows which subnet the machines get.
machine create "${subnet[@]}" node1 >/dev/null
ip1=$(machine ip node1)
machine rm -f node1 >/dev/null
registry="${ip1%.*}.1:${DEMO_REGISTRY_PORT:-5000}"
for n in "${nodes[@]}"; do
	printf '\033[1m$ shoal machine create --engine-registry-mirror http://%s %s\033[0m\n' \
		"$registry" "$n"
	machine create "${subnet[@]}" --engine-registry-mirror "http://$registry" \
		--engine-insecure-registry "$registry" "$n"
done
printf '\033[1m$ shoal machine ls\033[0m\n'
machine ls
ip1=$(machine ip node1)
regdir=$(mktemp -d /tmp/shoal-demo-registry.XXXXXX)
printf '%s\n' "version: 0.1" "log:" "  level: error" "  accesslog:" "    disabled: true" \
	"storage:" "  filesystem:" "    rootdirectory: $regdir/data" "http:" \
	"  addr: $registry" "  secret: shoal-demo" >"$regdir/config.yml"
nohup docker-registry serve "$regdir/config.yml" >"$regdir/registry.log" 2>&1 &
echo $! >"$regdir/pid"
for _ in $(seq 50); do
	curl -sf "http://$registry/v2/" >/dev/null && break
	sleep 0.1
done
say "docker-registry serves http://$registry (storage in $regdir)"
# The tutorial pulls instavote/vote from Docker Hub: here it goes to the mirror, whose
# instavote/vote is docker.io's, then node1 forgets it so that every node pulls.
for tag in latest indent; do
	machine ssh node1 docker load -i "$PWD/$images/instavote-vote-$tag.tar" >/dev/null
	machine ssh node1 docker tag "instavote/vote:$tag" "$registry/instavote/vote:$tag"
	machine ssh node1 docker push "$registry/instavote/vote:$tag" >/dev/null
	machine ssh node1 docker rmi "instavote/vote:$tag" "$registry/instavote/vote:$tag" >/dev/null
done
say "instavote/vote:latest and :indent are in the registry; no node has an image"
pause

bold "Act 2: the swarm"
on node1 swarm init --advertise-addr "$ip1"
token=$(machine ssh node1 docker swarm join-token -q worker)
on node2 swarm join --token "$token" "$ip1:2377"
on node3 swarm join --token "$token" "$ip1:2377"
on node1 node ls
pause

bold "Act 3: the vote service, six replicas"
on node1 service create --name vote --publish 8080:80 --replicas 6 instavote/vote
say "each node pulled instavote/vote from the mirror while its tasks were preparing:"
on node2 images --digests
on node1 service ls
on node1 service ps vote
say "two tasks on each node; each is a container named vote.<slot>.<task id>:"
on node2 ps
say "the routing mesh: every node answers on 8080, round-robin over the six tasks"
for n in "${nodes[@]}"; do
	ip=$(machine ip "$n")
	printf '\033[1m$ curl -s %s:8080 (x6)\033[0m\n' "$ip"
	for _ in 1 2 3 4 5 6; do
		curl -s --max-time 2 "http://$ip:8080/" | grep -o 'Processed by container ID [0-9a-f]*' || echo "(no answer)"
	done
done
on node1 service logs --tail 2 vote
pause

bold "Act 4: drain node2, then bring it back"
on node1 node update --availability drain node2
wait_s 3
on node1 service ps vote
on node1 node ls
ip2=$(machine ip node2)
say "node2 runs no task now, and still answers on 8080 through the mesh:"
printf '\033[1m$ curl -s %s:8080 (x3)\033[0m\n' "$ip2"
for _ in 1 2 3; do
	curl -s --max-time 2 "http://$ip2:8080/" | grep -o 'Processed by container ID [0-9a-f]*' || echo "(no answer)"
done
on node1 node update --availability active node2
wait_s 2
say "nothing moves back to node2:"
on node1 service ps vote --filter desired-state=running
on node1 node update --availability pause node3
on node1 service scale vote=8
say "node3 is paused: the two new tasks land on node2"
on node1 service ps vote --filter desired-state=running
on node1 node update --availability active node3
on node1 service scale vote=6
pause

bold "Act 5: more managers, and losing one"
on node1 node promote node2 node3
wait_s 3
on node1 node ls
printf '\033[1m$ shoal machine kill node1\033[0m\n'
machine kill node1
say "raft elects another leader among node2 and node3 within a few seconds"
wait_for node2 '^[^*]*node[23] .*Leader' docker node ls --format "'{{.Hostname}} {{.ManagerStatus}}'"
on node2 node ls
say "node2 or node3 leads now; the service is still there:"
on node2 service ls
printf '\033[1m$ shoal machine start node1\033[0m\n'
machine start node1
wait_for node1 Leader docker node ls
on node1 node ls
say "node1's containers died with it: the orchestrator replaces its two tasks"
wait_for node1 "6/6" docker service ls
on node1 service ls
pause

bold "Act 6: a rolling update, two by two"
delay=$([[ ${DEMO_FAST:-0} == 1 ]] && echo 3s || echo 15s)
on node1 service update --update-parallelism 2 --update-delay "$delay" vote
say "changing the update config replaces nothing; a new image does, pair by pair:"
on node1 service update --image instavote/vote:indent vote
on node1 service ps vote
on node1 service inspect --pretty vote

bold "The cluster keeps running"
cat <<EOF
  shoal machine ls                       the nodes
  shoal machine ssh node1 docker ...     the docker CLI inside node1 (its own docker.sock)
  eval \$(shoal machine env node1)        point this shell's docker at node1
  shoal machine rm -f node1 node2 node3  remove the nodes
  kill \$(cat $regdir/pid); rm -rf $regdir
                                         stop and remove the registry
EOF
