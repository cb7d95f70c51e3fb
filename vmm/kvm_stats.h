/*
 * KVM's own per-vCPU counters (binary statistics, KVM_GET_STATS_FD): the few
 * that show what corevm cannot see with the in-kernel irqchip (halts, interrupt
 * injections). Read once, when a vCPU thread ends; never on the exit path.
 */
#ifndef COREVM_VMM_KVM_STATS_H
#define COREVM_VMM_KVM_STATS_H

#include <stdint.h>

enum cvm_kvm_stat {
	CVM_KVM_STAT_HALT_EXITS = 0,
	CVM_KVM_STAT_HALT_WAKEUP,
	CVM_KVM_STAT_IRQ_INJECTIONS,
	CVM_KVM_STAT_NMI_INJECTIONS,
	CVM_KVM_STAT_EXITS,
	CVM_KVM_STAT_IO_EXITS,
	CVM_KVM_STAT_MMIO_EXITS,
	CVM_KVM_STAT_SIGNAL_EXITS,
	CVM_KVM_STAT_INSN_EMULATION,
	CVM_KVM_STAT_HALT_WAIT_NS, /* time halted inside KVM (kernel, split: docs/idle-work.md) */
	CVM_KVM_NSTATS,
};

/* KVM's names for the counters above ("halt_exits", ...). */
extern const char *const cvm_kvm_stat_names[CVM_KVM_NSTATS];

/*
 * Reads the counters of the vCPU behind `vcpu_fd` into out[]; bit i of the
 * result says out[i] was found. Returns 0 (nothing found) when KVM has no
 * binary statistics. Bounded: refuses absurd header values from the kernel.
 */
uint32_t cvm_kvm_vcpu_stats(int vcpu_fd, uint64_t out[CVM_KVM_NSTATS]);

/*
 * Opens the statistics of the vCPU behind `vcpu_fd` for repeated reads of the
 * counter `name` (e.g. "blocking"): returns the statistics fd and sets *off to
 * the counter's file offset (read it with one 8-byte pread), or -errno
 * (-ENOENT: KVM has no such counter; the fd is then closed).
 */
int cvm_kvm_stat_open(int vcpu_fd, const char *name, uint64_t *off);

#endif
