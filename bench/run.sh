#!/usr/bin/env bash
# bench/run.sh: runs every Shoal benchmark from the repository root (what `make bench` calls).
# Each benchmark starts what it measures, prints its own table and cleans up after itself.
# Benchmarks are never part of `make test`, and no timing in them is asserted.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

child=""
# Pass ^C or TERM on to the running benchmark and let it clean up before we go.
# shellcheck disable=SC2317 # called from the traps
stop() {
	if [[ -n $child ]]; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" || true
	fi
	exit "$1"
}
trap 'stop 130' INT
trap 'stop 143' TERM

benches=(bench/api/run.sh)
benches+=(bench/containers/run.sh)
benches+=(bench/images/run.sh)
benches+=(bench/registry/run.sh)
benches+=(bench/swarm/run.sh)
benches+=(bench/services/run.sh)
benches+=(bench/mesh/run.sh)
rc=0
for b in "${benches[@]}"; do
	# In the background so that wait, unlike a foreground child, is cut short by a signal.
	"$b" "$@" &
	child=$!
	wait "$child" || rc=1
	child=""
done
exit "$rc"
