/*
 * `corevm calibrate`'s reference measurement: what bare KVM costs on this host
 * (raw ioctls on one-instruction real-mode guests, no corevm backend), to set
 * beside what corevm's backend costs (vmm/calibrate.h).
 */
#ifndef COREVM_TOOLS_CALIBRATE_RAW_H
#define COREVM_TOOLS_CALIBRATE_RAW_H

#include <stdint.h>

/* Medians, ns. */
struct cvm_calib_raw {
	uint64_t exit_rt; /* KVM_RUN of `out 0x80; jmp back`: one exit to userspace and back */
	uint64_t
	        kick; /* immediate_exit + SIGUSR1 to a thread in KVM_RUN of `jmp $`, to its return */
	uint64_t wake; /* the same kick to a vCPU halted in KVM (in-kernel irqchip, `cli; hlt`) */
};

/*
 * Measures on the open KVM device `kvm` (samples kicks and wakes, 20 times as
 * many exits). Installs a SIGUSR1 handler and starts a thread per measurement:
 * call before anything confines the calling thread. Returns 0 or -errno
 * (reported with one line).
 */
int cvm_calibrate_raw(int kvm, unsigned int samples, struct cvm_calib_raw *out);

#endif
