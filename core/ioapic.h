/* The I/O APIC: 24 redirection entries behind IOREGSEL/IOWIN, edge and level pins, remote IRR and EOI. */
#ifndef COREVM_CORE_IOAPIC_H
#define COREVM_CORE_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/apic_msg.h"

/*
 * Contract. Plain data, owned by the caller and protected by its lock. The
 * I/O APIC never delivers anything itself: functions that may cause
 * deliveries return a pin mask; for each pin in it the caller builds the
 * message with cvm_ioapic_msg() and routes it (cvm_apic_resolve() and
 * cvm_apic_accept()). A level-triggered pin's remote IRR is set when its
 * message is handed out and cleared by an EOI for its vector (the local APIC
 * reports the EOI with CVM_FX_EOI, or the guest writes the EOI register).
 *
 * Pin levels are logical: `true` means asserted, whatever the polarity bit
 * (the polarity is stored for the guest to read back).
 *
 * MMIO (default base 0xFEC00000): 0x00 IOREGSEL, 0x10 IOWIN, 0x40 EOI
 * (version 0x20). Indirect registers: 0x00 ID (bits 27:24), 0x01 version
 * (0x00170020: 24 entries), 0x02 arbitration ID (read-only), 0x10 + 2n and
 * 0x11 + 2n the low and high halves of redirection entry n.
 */

#define CVM_IOAPIC_PINS         24u
#define CVM_IOAPIC_DEFAULT_BASE UINT64_C(0xfec00000)
#define CVM_IOAPIC_VERSION      0x00170020u

#define CVM_IOAPIC_REGSEL 0x00u
#define CVM_IOAPIC_WIN    0x10u
#define CVM_IOAPIC_EOIREG 0x40u

/* Redirection entry bits. */
#define CVM_RTE_VECTOR     0xffull
#define CVM_RTE_DM_SHIFT   8
#define CVM_RTE_LOGICAL    (1ull << 11)
#define CVM_RTE_PENDING    (1ull << 12) /* delivery status, read-only */
#define CVM_RTE_POLARITY   (1ull << 13) /* 1 = active low */
#define CVM_RTE_REMOTE_IRR (1ull << 14) /* read-only */
#define CVM_RTE_LEVEL      (1ull << 15)
#define CVM_RTE_MASKED     (1ull << 16)
#define CVM_RTE_DEST_SHIFT 56

struct cvm_ioapic {
	uint64_t rte[CVM_IOAPIC_PINS];
	uint32_t level;  /* bit n: pin n asserted */
	uint32_t id;     /* ID register value (bits 27:24) */
	uint32_t regsel; /* IOREGSEL */
	uint32_t reserved;
};

/* Reset: all entries masked (0x10000), ID `id` (0-15), pins deasserted. */
void cvm_ioapic_reset(struct cvm_ioapic *io, uint8_t id);

/*
 * 32-bit MMIO read/write at `offset` from the base. Unknown offsets read 0
 * and ignore writes. A write may unmask a level pin that is asserted with
 * its remote IRR clear: the returned mask names pins to deliver now (the
 * write to the EOI register likewise). Reads return 0 for the mask.
 */
uint32_t cvm_ioapic_read(struct cvm_ioapic *io, uint32_t offset);
uint32_t cvm_ioapic_write(struct cvm_ioapic *io, uint32_t offset, uint32_t val);

/*
 * Sets pin `pin` (< 24) to `level`. Returns the pins to deliver now: an
 * unmasked edge pin on a rising edge; an unmasked level pin while asserted
 * with its remote IRR clear (the remote IRR is then set). Masked or
 * out-of-range pins deliver nothing; a masked edge is lost (as on hardware).
 */
uint32_t cvm_ioapic_set_irq(struct cvm_ioapic *io, unsigned int pin, bool level);

/*
 * EOI for `vector` (from a local APIC's CVM_FX_EOI or the EOI register):
 * clears the remote IRR of every level pin with that vector; a pin still
 * asserted and unmasked is returned for re-delivery (remote IRR set again).
 */
uint32_t cvm_ioapic_eoi(struct cvm_ioapic *io, uint8_t vector);

/* The message for pin `pin` from its redirection entry (8-bit destination form). */
void cvm_ioapic_msg(const struct cvm_ioapic *io, unsigned int pin, struct cvm_apic_msg *m);

#endif
