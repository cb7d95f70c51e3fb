#!/usr/bin/env bash
# Installs the Debian packages corevm needs to build, test, fuzz or benchmark.
#
# usage: scripts/install-deps.sh [build|bench]
#   build (default): compilers, Meson, libraries, test and coverage tools
#   bench:           adds the peers the benchmarks compare against (QEMU)
# As root it runs apt-get; otherwise it prints the exact command and exits 1.
set -euo pipefail

want=(gcc binutils make meson ninja-build pkg-config
      libcmocka-dev libjson-c-dev libseccomp-dev
      clang libclang-rt-14-dev clang-format gcovr gnuplot-nox strace)
if [ "${1:-build}" = bench ]; then
	want+=(qemu-system-x86)
fi

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "corevm: missing Debian packages; run as root: apt-get update && $cmd" >&2
	exit 1
fi
echo "corevm: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have empty package lists.
apt-get update -qq
$cmd >/dev/null
