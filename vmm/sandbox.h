/*
 * The allow-lists of `corevm run`'s thread classes (docs/seccomp.md) and their
 * installation for one VM: base lists per class, a group added when host
 * placement runs, the irqchip mode's own group, and (sanitizer builds only)
 * the sanitizer runtime's group.
 */
#ifndef COREVM_VMM_SANDBOX_H
#define COREVM_VMM_SANDBOX_H

#include "vmm/seccomp_filter.h"

struct cvm_vm;
struct cvm_vcpu;

/* The groups of rules that make up a class's allow-list. */
enum cvm_sandbox_group {
	CVM_SANDBOX_BASE = 0,  /* always */
	CVM_SANDBOX_PLACEMENT, /* with host placement (--placement and friends) */
	CVM_SANDBOX_IRQCHIP, /* the irqchip mode's that this VM wants (struct cvm_irqchip_ops.seccomp) */
	CVM_SANDBOX_RUNTIME, /* the sanitizer runtime's (empty in normal builds) */
	CVM_SANDBOX_NGROUPS,
};

/* The base and placement groups of each class, for tests and docs. */
const struct cvm_seccomp_list *cvm_sandbox_list(enum cvm_thread_class cls,
                                                enum cvm_sandbox_group group);

/* The sanitizer runtime's extra rules for `cls` (seccomp_rt_*.c: the build picks one), or NULL. */
const struct cvm_seccomp_list *cvm_sandbox_runtime_list(enum cvm_thread_class cls);

/*
 * Installs the filter of class `cls` on the calling thread for `vm`: its groups
 * for this VM (placement when vm->placement, those of vm->irqchip's groups for
 * `cls` that this VM wants), with `v`'s fd for
 * a vCPU thread (else NULL). Does nothing when the VM runs without seccomp.
 * Reports a failure with one line and returns -errno; the caller ends the VM.
 * Records the class's rule count for the statistics.
 */
int cvm_vm_sandbox_thread(struct cvm_vm *vm, enum cvm_thread_class cls, const struct cvm_vcpu *v);

#endif
