/*
 * Calibration of the KVM backend for the simulator's cost profile (`corevm
 * calibrate`, docs/sim.md): runs a calibration guest (guest/calib.c) on two
 * vCPUs in `user` irqchip mode, exactly as `corevm run` runs guests (vCPU
 * threads, exit dispatch, the kick, the user irqchip's routing, HLT sleep and
 * wake-up), and measures on the host clock, at the backend's own code paths:
 *
 *   exit round trip  vCPU 0 loops on an 8-bit OUT to CVM_PORT_CALIB: from one
 *                    return of its KVM_RUN to the next, the whole loop (exit
 *                    dispatch, the port bus, the irqchip's pre-entry look,
 *                    KVM_RUN and the guest's OUT);
 *   kick             vCPU 1 spins in the guest; vCPU 0 sends it a fixed IPI,
 *                    whose routing kicks vCPU 1 (cvm_vcpu_kick: immediate_exit,
 *                    fence, signal): from the kick to vCPU 1's KVM_RUN
 *                    returning EINTR;
 *   wake             vCPU 1 halts and its thread sleeps; vCPU 0's IPI wakes it
 *                    (the user irqchip's futex wake-up): from the wake-up to
 *                    vCPU 1's thread entering KVM_RUN again, the interrupt
 *                    injected.
 *
 * The guest marks its phases with OUTs to CVM_PORT_CALIB (enum
 * cvm_calib_phase, arch/x86/guest_abi.h); a sample counts only in its phase.
 */
#ifndef COREVM_VMM_CALIBRATE_H
#define COREVM_VMM_CALIBRATE_H

#include <stddef.h>
#include <stdint.h>

struct cvm_calib_config {
	const uint8_t *image; /* the calibration guest's ELF (guest/calib.c), owned by the caller */
	size_t image_len;
	unsigned int samples; /* kicks and wake-ups measured; exits: 20 times as many (5..100000) */
	const char *kvm_dev;  /* NULL: $COREVM_KVM_DEV, else /dev/kvm */
};

/* One measured quantity, ns. */
struct cvm_calib_stat {
	uint64_t p50, p90;
	unsigned int n; /* samples taken */
};

struct cvm_calib_result {
	struct cvm_calib_stat exit_rt, kick, wake;
};

/*
 * Runs the calibration guest and fills *res. Returns 0, or a negative errno
 * after one line saying what failed (no KVM device: -ENODEV/-EACCES/-ENOENT;
 * the guest did not end well or a quantity got fewer than half its samples:
 * -EIO). Call from a process's main thread with no VM running (it runs one).
 */
int cvm_calibrate(const struct cvm_calib_config *cfg, struct cvm_calib_result *res);

#endif
