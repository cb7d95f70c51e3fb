#!/bin/sh
# corevm calibrate on the real /dev/kvm writes a profile that corevm sim accepts (skips without KVM).
set -u
COREVM=$1
SCENARIOS=$2
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
grep -q "exit round trip" "$dir/err" || { echo "calibrate: no summary line"; exit 1; }
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
