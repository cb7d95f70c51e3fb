/*
 * Interrupt-controller modes as an ops table: who owns the local APICs, the I/O
 * APIC and therefore INIT, SIPI and HLT. `kernel` (irqchip_kernel.c) leaves
 * them all to KVM; `split` (irqchip_split.c) keeps KVM's local APICs and puts
 * the I/O APIC in corevm; `user` (irqchip_user.c) owns everything: every APIC
 * access, HLT, INIT and SIPI reaches corevm's pure core. docs/irqchip.md.
 */
#ifndef COREVM_VMM_IRQCHIP_H
#define COREVM_VMM_IRQCHIP_H

#include <stdbool.h>

#include "vmm/seccomp_filter.h"

struct cvm_vm;
struct cvm_vcpu;
struct kvm_run;
struct json_object;

/* What an exit handler or an irqchip hook tells the vCPU loop to do next. */
enum cvm_vcpu_action {
	CVM_VACT_CONTINUE = 0, /* (re-)enter the guest */
	CVM_VACT_BLOCK,        /* sleep in userspace (the irqchip's block hook) until woken */
	CVM_VACT_STOP,         /* this vCPU is done (the VM is ending) */
	CVM_VACT_NOT_MINE,     /* irqchip exit hook only: pass the exit on */
};

/*
 * One group of the system calls an irqchip mode's hooks make on threads of
 * class `cls`. `wanted` says whether a VM needs it (called after create, on
 * the thread about to install its filter; NULL: always), so that a filter
 * holds only what this VM's configuration can reach (e.g. the register-load
 * ioctls that KVM_CAP_SYNC_REGS makes unnecessary). An entry with list NULL
 * ends the table.
 */
struct cvm_irqchip_sc_group {
	enum cvm_thread_class cls;
	const struct cvm_seccomp_list *list;
	bool (*wanted)(const struct cvm_vm *vm);
};

#define CVM_IRQCHIP_SC_GROUPS 6

/*
 * Every hook but create may be NULL. Call order:
 *   create (VM fd exists, no vCPU yet) -> vcpu_init (each vCPU fd, main thread,
 *   after KVM_SET_CPUID2) -> on each vCPU thread: thread_init once, then
 *   pre_entry before every KVM_RUN, handle_exit on every exit before the
 *   generic dispatch, block in the asleep states, thread_exit once in EXITING
 *   -> after every thread is joined: stats (main thread) -> destroy.
 * set_irq may be called from any thread at any time between create and
 * destroy (devices, with the device lock held).
 * seccomp (docs/seccomp.md): thread_init runs before the vCPU thread's filter
 * is installed; pre_entry, handle_exit, block, wake, thread_exit and set_irq run
 * under the filters of the vCPU or main thread, so every system call they (and
 * any thread the mode starts) make must be in the mode's `seccomp` groups.
 */
struct cvm_irqchip_ops {
	const char *name;
	int (*create)(struct cvm_vm *vm);
	void (*destroy)(struct cvm_vm *vm);
	/* Initial MP state: the BSP runs, APs wait for INIT-SIPI-SIPI. */
	int (*vcpu_init)(struct cvm_vcpu *vcpu, bool is_bsp);
	/* On the vCPU's own thread before its loop (e.g. per-thread host timers); 0 or -errno. */
	int (*thread_init)(struct cvm_vcpu *vcpu);
	/*
	 * Right before KVM_RUN, on the vCPU thread: injection, pending INIT/SIPI.
	 * CONTINUE enters the guest, BLOCK sleeps (block hook), STOP ends the vCPU.
	 */
	enum cvm_vcpu_action (*pre_entry)(struct cvm_vcpu *vcpu);
	/* Exits the irqchip owns (HLT, APIC MMIO, MSRs, EOI); CVM_VACT_NOT_MINE otherwise. */
	enum cvm_vcpu_action (*handle_exit)(struct cvm_vcpu *vcpu, struct kvm_run *run);
	/*
	 * Asleep (HALTED, WAIT_SIPI, RESET_HOLD: the state pre_entry chose through
	 * vcpu->sleep_state): sleep until an event for this vCPU, a mailbox request
	 * or work (cvm_workq_pending()) arrives, or return at once if one is there;
	 * returns CONTINUE or STOP. The wake hook must end the sleep. Irqchips
	 * without it never block.
	 */
	enum cvm_vcpu_action (*block)(struct cvm_vcpu *vcpu);
	/* Ends the block hook's sleep (a mailbox request or work was posted); any thread. */
	void (*wake)(struct cvm_vcpu *vcpu);
	/*
	 * On the vCPU thread, asleep (between idle-work chunks, and after block
	 * returned): whether something for the guest ends the sleep (an accepted
	 * event, a due timer). False: only work woke it, stay asleep. Required
	 * with block.
	 */
	bool (*wake_pending)(struct cvm_vcpu *vcpu);
	/* EXITING, on the vCPU thread: final MP state and counters into vcpu->stats. */
	void (*thread_exit)(struct cvm_vcpu *vcpu);
	/* Device interrupt line (GSI) level change; returns 0 or -errno. */
	int (*set_irq)(struct cvm_vm *vm, unsigned int irq, int level);
	/* Adds the irqchip's VM-wide entries (I/O APIC counters...) to the statistics' "vm" object. */
	void (*stats)(struct cvm_vm *vm, struct json_object *vm_obj);
	/*
	 * AP reset hold requested by the guest (GHCB MSR protocol, vmm/ghcb.c), on
	 * the vCPU's own thread at its MSR exit: park the vCPU in AP_RESET_HOLD
	 * until INIT-SIPI, without touching a register, and call
	 * cvm_ghcb_hold_released() when it wakes. 0 held; -EBUSY not running (an
	 * INIT got there first). NULL: the mode cannot hold (KVM owns INIT/SIPI).
	 */
	int (*ap_reset_hold)(struct cvm_vcpu *vcpu);
	/* The mode installs its own MSR filter, with the GHCB MSR's range (cvm_ghcb_filter_range). */
	bool msr_filter;
	/* Whether corevm sees HLT and IPIs (the halts / ipis counters are corevm's own). */
	bool sees_halts;
	/* Whether the pure core runs each vCPU's lifecycle (its counters are corevm's own). */
	bool owns_lifecycle;
	/* System calls the mode's hooks make (docs/seccomp.md): up to CVM_IRQCHIP_SC_GROUPS groups. */
	struct cvm_irqchip_sc_group seccomp[CVM_IRQCHIP_SC_GROUPS];
};

extern const struct cvm_irqchip_ops cvm_irqchip_kernel_ops;
extern const struct cvm_irqchip_ops cvm_irqchip_split_ops;
extern const struct cvm_irqchip_ops cvm_irqchip_user_ops;

#endif
