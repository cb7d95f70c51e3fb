/*
 * The guest's CPUID table: KVM's supported set with a consistent topology (one
 * package, one thread per core, APIC ID = vCPU index). Pure: works on a table
 * in memory, so unit tests check it without KVM.
 */
#ifndef COREVM_VMM_CPUID_H
#define COREVM_VMM_CPUID_H

#include <linux/kvm.h>

/* Bits of the APIC ID that select a core: ceil(log2(ncpus)). */
unsigned int cvm_cpuid_core_shift(unsigned int ncpus);

/*
 * Rewrites the topology and APIC-ID fields of `c` (from KVM_GET_SUPPORTED_CPUID,
 * with room for `cap` entries) for vCPU `apic_id` of `ncpus`: leaf 1 EBX[31:16]
 * and EDX.HTT, leaves 0xB and 0x1F (added when missing, replacing what KVM gave),
 * leaf 4 core counts on Intel, 0x80000008 ECX and 0x8000001E on AMD. Everything
 * else is left as KVM gave it, so every vCPU's table differs only in ID fields.
 * Returns 0, or -ENOSPC when the entries to add do not fit in `cap`.
 */
int cvm_cpuid_set_topology(struct kvm_cpuid2 *c, unsigned int cap, unsigned int ncpus,
                           unsigned int apic_id);

/* The entry for (function, index), or NULL. */
struct kvm_cpuid_entry2 *cvm_cpuid_find(struct kvm_cpuid2 *c, unsigned int function,
                                        unsigned int index);

#endif
