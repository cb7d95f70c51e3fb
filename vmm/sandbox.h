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
 * Builds the filter of class `cls` for `vm` into *out, on any thread: its
 * groups for this VM (placement when vm->placement, those of vm->irqchip's
 * groups for `cls` that this VM wants, the sanitizer runtime's), with `v`'s fd
 * for a vCPU thread (else NULL). Leaves *out empty when the VM runs without
 * seccomp. Reports a failure with one line and returns -errno.
 */
int cvm_vm_sandbox_build(struct cvm_vm *vm, enum cvm_thread_class cls, const struct cvm_vcpu *v,
                         struct cvm_seccomp_prog *out);

/*
 * Loads a filter built by cvm_vm_sandbox_build() on the calling thread, which
 * must be the thread it was built for; allocates nothing (vCPU threads and the
 * APIC timer thread get theirs built by the thread that creates them, so that
 * they never allocate: docs/seccomp.md). Does nothing without seccomp. Records
 * the class's sizes for the statistics. Reports a failure with one line and
 * returns -errno; the caller ends the VM.
 */
int cvm_vm_sandbox_load(struct cvm_vm *vm, enum cvm_thread_class cls,
                        const struct cvm_seccomp_prog *p);

/* Both on the calling thread (the main thread, host placement's threads). */
int cvm_vm_sandbox_thread(struct cvm_vm *vm, enum cvm_thread_class cls, const struct cvm_vcpu *v);

#endif
