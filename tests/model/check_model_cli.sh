#!/bin/sh
# Tests `corevm check-model` as a user runs it: verdicts, exit statuses, traces, usage errors.
# usage: check_model_cli.sh PATH/TO/corevm
set -u
corevm=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail=0

# expect STATUS COMMAND...: runs corevm with the arguments, checks the exit status.
expect() {
	want=$1
	shift
	"$corevm" "$@" >"$out" 2>&1
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL: corevm $* exited $got, want $want"
		cat "$out"
		fail=1
	fi
}

# contains TEXT: the last command's output has TEXT.
contains() {
	if ! grep -qF -- "$1" "$out"; then
		echo "FAIL: output lacks '$1'"
		cat "$out"
		fail=1
	fi
}

# The seed-004 counterexample for the single-SIPI guest, and its absence for the retrying one.
expect 0 check-model seed004-single
contains "LIVENESS VIOLATION"
contains "send SIPI -> cpu1 (discarded)"
contains "cpu1: RSM"
expect 0 check-model --expect violation seed004-single
expect 1 check-model --expect pass seed004-single
contains "NOT AS EXPECTED"
expect 0 check-model --expect pass seed004-retry
contains "PASS (no violation, exploration complete)"
expect 0 check-model --quiet --smi 4 --expect pass seed004-retry

# Every bounded scenario (all but 'bench') as expected.
expect 0 check-model --quiet
contains "scenario rules"
contains "scenario reset-hold-once"

# Mutants are caught; limits make a run incomplete (never a pass).
expect 0 check-model --quiet --mutant lose-init seed004-single
contains "an INIT latched in SMM was lost"
expect 1 check-model --quiet --max-states 50 seed004-retry
contains "INCOMPLETE"
expect 1 check-model --quiet --max-depth 3 seed004-single

# Usage errors: one line, status 2.
expect 2 check-model --smi 99
contains "--smi: '99' is not a number from 0 to 15"
expect 2 check-model --mutant nope
expect 2 check-model --expect maybe
expect 2 check-model --max-depth 0
expect 2 check-model no-such-scenario
contains "unknown scenario 'no-such-scenario'"
expect 2 check-model --bogus
expect 0 check-model --list
contains "seed004-retry"
expect 0 check-model --help
contains "usage: corevm check-model"

exit $fail
