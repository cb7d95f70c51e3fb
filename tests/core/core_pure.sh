#!/bin/sh
# Checks that core/ stays pure: only libc headers from an allow-list, no allocation, threads,
# clocks or system calls. usage: core_pure.sh SOURCE_ROOT
set -u
root=$1
fail=0
allowed='^(stdbool|stddef|stdint|string|errno|limits)\.h$'
for f in "$root"/core/*.c "$root"/core/*.h; do
	for h in $(sed -n 's/^#include <\([^>]*\)>.*/\1/p' "$f"); do
		if ! echo "$h" | grep -Eq "$allowed"; then
			echo "FAIL: $f includes <$h> (core/ may use only: $allowed)"
			fail=1
		fi
	done
	for q in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
		case "$q" in
		core/*) ;;
		*) echo "FAIL: $f includes \"$q\" from outside core/"; fail=1 ;;
		esac
	done
	if grep -En '\b(malloc|calloc|realloc|free|pthread_[a-z_]+|clock_gettime|gettimeofday|time|syscall|ioctl|printf|fprintf)\s*\(' "$f"; then
		echo "FAIL: $f calls something the pure core must not"
		fail=1
	fi
done
[ $fail -eq 0 ] && echo "core/ is pure: $(ls "$root"/core/*.c | wc -l) sources checked"
exit $fail
