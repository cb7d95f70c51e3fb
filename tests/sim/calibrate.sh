#!/bin/sh
# corevm calibrate on the real /dev/kvm, through corevm's backend, writes a profile that corevm sim accepts (skips without KVM).
set -u
COREVM=$1
SCENARIOS=$2
GUESTS=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# without KVM: one line and a failure status, nothing written
if COREVM_KVM_DEV=/nonexistent/kvm "$COREVM" calibrate --out "$dir/none.json" 2>"$dir/err0"; then
	echo "calibrate: succeeded without KVM"
	exit 1
fi
grep -q "corevm: calibrate: /nonexistent/kvm: No such file or directory: nothing measured" \
	"$dir/err0" || { cat "$dir/err0"; exit 1; }
[ ! -e "$dir/none.json" ] || { echo "calibrate: wrote a profile without KVM"; exit 1; }
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "calibrate: /dev/kvm is not usable here: skipped"
	exit 77
fi

if ! "$COREVM" calibrate --samples 5 --out "$dir/p.json" 2>"$dir/err"; then
	cat "$dir/err"
	echo "calibrate: failed"
	exit 1
fi
for key in entry exit exit_user kick wake; do
	if ! grep -q "\"$key\": \"[1-9][0-9]*ns\"" "$dir/p.json"; then
		echo "calibrate: no positive \"$key\" in the profile:"
		cat "$dir/p.json"
		exit 1
	fi
done
for row in "exit round trip" "kick" "wake"; do
	grep -q "^  $row .* us (p90 .* us) .* us .* us (.*x)\$" "$dir/err" ||
		{ cat "$dir/err"; echo "calibrate: no '$row' row beside bare KVM"; exit 1; }
done
grep -q "\"source\": \"corevm calibrate --samples 5, through corevm's KVM backend" \
	"$dir/p.json" && grep -q "bare KVM p50: exit [1-9]" "$dir/p.json" ||
	{ cat "$dir/p.json"; echo "calibrate: the profile does not say how it was measured"; exit 1; }
# without --out the profile is standard output, and nothing else is (the guest prints nothing)
"$COREVM" calibrate --samples 5 >"$dir/stdout.json" 2>/dev/null &&
	python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$dir/stdout.json" ||
	{ cat "$dir/stdout.json"; echo "calibrate: standard output is not the profile alone"; exit 1; }
# a guest that is not the calibration guest: one line, a failure, nothing written
if [ -r "$GUESTS/exitcode.elf" ] && "$COREVM" calibrate --samples 5 --guest "$GUESTS/exitcode.elf" --out "$dir/wrong.json" \
	2>"$dir/err3"; then
	echo "calibrate: succeeded with a guest that measures nothing"
	exit 1
fi
[ ! -r "$GUESTS/exitcode.elf" ] ||
	grep -q "corevm: calibrate: the calibration guest ended with status" "$dir/err3" ||
	{ cat "$dir/err3"; exit 1; }
[ ! -e "$dir/wrong.json" ] || { echo "calibrate: wrote a profile that measured nothing"; exit 1; }
if "$COREVM" calibrate --guest /nonexistent/calib.elf 2>"$dir/err4"; then
	echo "calibrate: a missing --guest was accepted"
	exit 1
fi
grep -q "corevm: calibrate: --guest /nonexistent/calib.elf: No such file or directory" \
	"$dir/err4" || { cat "$dir/err4"; exit 1; }
# the profile drives a simulation
"$COREVM" sim "$SCENARIOS/smi-hotplug-race.json" --until 20ms --profile "$dir/p.json" >"$dir/out" ||
	{ echo "sim --profile failed"; exit 1; }
# a bad profile is one clear line
echo '{"kick": "soon"}' >"$dir/bad.json"
if "$COREVM" sim "$SCENARIOS/smi-hotplug-race.json" --until 1ms --profile "$dir/bad.json" \
	>/dev/null 2>"$dir/err2"; then
	echo "a bad profile was accepted"
	exit 1
fi
grep -q "bad.json: kick: not a duration: 'soon'" "$dir/err2" || { cat "$dir/err2"; exit 1; }
echo "calibrate: ok"
