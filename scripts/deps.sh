#!/usr/bin/env bash
# Installs what Shoal needs to build, test and demo on Debian 12, with apt-get.
# Quick when everything is there already: it only asks dpkg.
set -euo pipefail

packages=(
	# build
	build-essential meson ninja-build pkg-config clang clang-format libclang-rt-14-dev
	# libraries (DESIGN.md: chosen dependencies)
	libuv1-dev libhttp-parser-dev libjansson-dev libssl-dev libcurl4-openssl-dev
	libarchive-dev libraft-dev libnl-route-3-dev libnftables-dev libcmocka-dev zlib1g-dev
	# run time: the OCI runtime, packet rules, namespaces
	runc nftables iproute2 procps util-linux
	# tests: real clients
	python3 python3-pytest python3-docker curl
	# tests and the demo: a real registry (distribution 2.8), run by them, never as a service
	docker-registry
	# the demo images: a static shell for their root file systems
	busybox-static
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if ((${#missing[@]} == 0)); then
	exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# docker-registry's package would start a system registry on :5000: tests run their own
policy=""
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f -- "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
