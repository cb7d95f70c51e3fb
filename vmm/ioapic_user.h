/*
 * The VMM-owned I/O APIC of the `user` and `split` irqchip modes: the core's
 * 24-pin I/O APIC (core/ioapic.h) behind its MMIO page at 0xFEC00000, the
 * device interrupt lines, and EOIs, with a lock. It never routes by itself:
 * messages go to the mode's `deliver` callback (user: corevm's local APICs;
 * split: KVM_SIGNAL_MSI), always called without the I/O APIC lock held.
 *
 * Lock order: the device lock (callers of set_irq) -> this lock -> the mode's
 * locks taken inside rte_changed. deliver runs after this lock is released.
 */
#ifndef COREVM_VMM_IOAPIC_USER_H
#define COREVM_VMM_IOAPIC_USER_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/ioapic.h"

struct json_object;

/* Routes one message; `ctx` is the one given at init. Any thread, no I/O APIC lock held. */
typedef void (*cvm_vioapic_deliver_fn)(void *ctx, const struct cvm_apic_msg *m);
/* Redirection entries changed (split: KVM's MSI routes); called with the I/O APIC lock held. */
typedef void (*cvm_vioapic_rte_fn)(void *ctx, const struct cvm_ioapic *io);

struct cvm_vioapic {
	pthread_mutex_t lock;
	struct cvm_ioapic io;
	cvm_vioapic_deliver_fn deliver;
	cvm_vioapic_rte_fn rte_changed; /* may be NULL */
	void *ctx;
	/* Counters, under the lock. */
	uint64_t mmio_reads, mmio_writes, mmio_ignored;
	uint64_t line_changes, eois;
	uint64_t delivered[CVM_IOAPIC_PINS];
	uint64_t refused_lines; /* set_irq for a pin >= 24 */
};

void cvm_vioapic_init(struct cvm_vioapic *a, cvm_vioapic_deliver_fn deliver,
                      cvm_vioapic_rte_fn rte_changed, void *ctx);
void cvm_vioapic_destroy(struct cvm_vioapic *a);

/* Whether guest-physical address `gpa` is in the I/O APIC's MMIO page. */
static inline bool cvm_vioapic_claims(uint64_t gpa)
{
	return gpa - CVM_IOAPIC_DEFAULT_BASE < 0x1000u;
}

/*
 * A KVM_EXIT_MMIO inside the page: 32-bit (or narrower, zero-extended)
 * accesses to IOREGSEL, IOWIN and EOI; anything else reads 0 and is ignored
 * (counted). Fills run->mmio.data for reads.
 */
void cvm_vioapic_mmio(struct cvm_vioapic *a, struct kvm_run *run);

/* Device line `pin` to `level` (true = asserted). -EINVAL for pin >= 24. */
int cvm_vioapic_set_irq(struct cvm_vioapic *a, unsigned int pin, bool level);

/* EOI for `vector` (a local APIC's level-triggered EOI): remote IRR, re-delivery. */
void cvm_vioapic_eoi(struct cvm_vioapic *a, uint8_t vector);

/*
 * Whether an unmasked pin delivers NMI, SMI, INIT or ExtINT (things that can
 * wake a vCPU halted with interrupts off): the deadlock check must then not
 * call the machine stuck.
 */
bool cvm_vioapic_can_wake_blocked(struct cvm_vioapic *a);

/* Adds {"ioapic": {...}} to the statistics' "vm" object (after the threads stopped). */
void cvm_vioapic_stats(struct cvm_vioapic *a, struct json_object *vm_obj);

#endif
