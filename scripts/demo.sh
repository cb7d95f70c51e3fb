#!/usr/bin/env bash
# Boots the bundled demo guest on 4 vCPUs and explains how it ended.
# The guest ends through the debug-exit port; as with QEMU's isa-debug-exit a
# guest value V becomes process status (V << 1) | 1, so status 1 means V = 0.
set -u
corevm=$1 image=$2
"$corevm" run --cpus 4 --mem 64M "$image"
st=$?
if [ "$st" -eq 1 ]; then
	echo "demo: guest exited through debug-exit with value 0 (process status 1): success"
	exit 0
fi
echo "demo: failed, corevm exit status $st" >&2
exit 1
