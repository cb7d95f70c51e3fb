#!/bin/sh
# Checks that vmm/regs_gate.c is the only file of the KVM backend that writes
# vCPU register state or injects (docs/protected-state.md): no other vmm/ file
# names a register-setting ioctl, KVM_INTERRUPT/KVM_NMI, kvm_run's dirty bits
# or kvm_run's CR8 outside comments. usage: regs_gate_only.sh SOURCE_ROOT
set -u
root=$1
fail=0
pattern='KVM_SET_(REGS|SREGS|SREGS2|FPU|XSAVE|XSAVE2|XCRS|MSRS|DEBUGREGS|VCPU_EVENTS|LAPIC|NESTED_STATE)\b|\bKVM_(INTERRUPT|NMI|SMI)\b|kvm_dirty_regs|run->cr8[[:space:]]*=[^=]'
n=0
for f in "$root"/vmm/*.c "$root"/vmm/*.h; do
	case "$f" in
	*/vmm/regs_gate.c | */vmm/regs_gate.h) continue ;;
	esac
	n=$((n + 1))
	# Drop string literals (error messages name the ioctls), comments and comment
	# lines, and seccomp allow-list entries (CVM_SC_*: they name calls, make none).
	hits=$(sed -e 's|"[^"]*"|""|g' -e 's|/\*.*\*/||g' -e 's|//.*$||' "$f" | grep -nE "$pattern" | grep -vE '^[0-9]+:[[:space:]]*(\*|/\*)|CVM_SC_' || true)
	if [ -n "$hits" ]; then
		echo "FAIL: $f writes vCPU state outside vmm/regs_gate.c:"
		echo "$hits"
		fail=1
	fi
done
[ $fail -eq 0 ] && echo "vmm/: $n files checked, only regs_gate.c writes vCPU state"
exit $fail
