/* The interrupt message that local APICs (ICR, self-IPI, LVT) and I/O APICs send to the routing layer. */
#ifndef COREVM_CORE_APIC_MSG_H
#define COREVM_CORE_APIC_MSG_H

#include <stdbool.h>
#include <stdint.h>

/* Delivery modes, encoded as in the ICR and in I/O APIC redirection entries (bits 10:8). */
enum cvm_apic_dm {
	CVM_DM_FIXED = 0,
	CVM_DM_LOWEST = 1,
	CVM_DM_SMI = 2,
	CVM_DM_RESERVED3 = 3,
	CVM_DM_NMI = 4,
	CVM_DM_INIT = 5,
	CVM_DM_STARTUP = 6,
	CVM_DM_EXTINT = 7,
};

/* Destination shorthands (ICR bits 19:18). */
enum cvm_apic_shorthand {
	CVM_SH_NONE = 0,
	CVM_SH_SELF = 1,
	CVM_SH_ALL = 2,         /* all including self */
	CVM_SH_ALL_BUT_SELF = 3 /* all excluding self */
};

/* struct cvm_apic_msg.flags */
#define CVM_MSG_LOGICAL 0x01u /* logical destination mode (ICR bit 11) */
#define CVM_MSG_LEVEL   0x02u /* level-triggered (ICR bit 15) */
#define CVM_MSG_ASSERT  0x04u /* level assert (ICR bit 14); clear with INIT + LEVEL = de-assert */
#define CVM_MSG_X2APIC  0x08u /* `dest` is a 32-bit x2APIC destination, else 8-bit xAPIC form */

/* No sending vCPU (I/O APIC, MSI, the VMM). */
#define CVM_APIC_SRC_NONE 0xffffu

/* Broadcast destinations. */
#define CVM_APIC_BCAST_XAPIC  0xffu
#define CVM_APIC_BCAST_X2APIC 0xffffffffu

/*
 * One message: plain data, 12 bytes. `dest` is interpreted with the
 * destination mode and the CVM_MSG_X2APIC flag: physical APIC ID or logical
 * destination (xAPIC: 8 bits, flat bitmask or cluster<<4|mask; x2APIC:
 * cluster<<16 | 16-bit member mask). Messages from I/O APICs and MSIs are in
 * the 8-bit form with `src` = CVM_APIC_SRC_NONE.
 */
struct cvm_apic_msg {
	uint32_t dest;
	uint16_t src; /* sending vCPU index, for the self shorthands */
	uint8_t vector;
	uint8_t mode;      /* enum cvm_apic_dm */
	uint8_t shorthand; /* enum cvm_apic_shorthand */
	uint8_t flags;     /* CVM_MSG_* */
	uint8_t reserved[2];
};

/*
 * Decodes an interrupt command (x2APIC: the 64-bit ICR; xAPIC: ICR high << 32
 * | ICR low) sent by vCPU `src`. CVM_MSG_ASSERT is set for every message but
 * INIT level de-assert (INIT, level-triggered, level bit clear).
 */
void cvm_apic_msg_from_icr(struct cvm_apic_msg *m, uint64_t icr, bool x2apic, unsigned int src);

#endif
