/*
 * The I/O APIC at CVM_GUEST_IOAPIC_BASE (0xfec00000) for guests: indirect
 * register access (IOREGSEL at +0x00, IOWIN at +0x10) and redirection-table
 * entries, one per input pin. ISA interrupts arrive on the pin of the same
 * number (the UART's IRQ 4 on pin 4). Not locked: one vCPU programs it at a
 * time, as the tests do.
 */
#ifndef GUEST_LIB_IOAPIC_H
#define GUEST_LIB_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define IOAPIC_REG_ID  0x00
#define IOAPIC_REG_VER 0x01 /* bits 23:16: number of pins - 1 */
#define IOAPIC_REG_RTE 0x10 /* pin p: low dword at 0x10 + 2p, high dword at 0x11 + 2p */

/* Redirection-entry low dword (vector in bits 7:0, fixed delivery = 0). */
#define IOAPIC_RTE_LOGICAL    0x00800 /* destination mode */
#define IOAPIC_RTE_PENDING    0x01000 /* delivery status (read-only) */
#define IOAPIC_RTE_ACTIVE_LOW 0x02000
#define IOAPIC_RTE_REMOTE_IRR 0x04000 /* level: accepted by a local APIC, EOI not yet seen */
#define IOAPIC_RTE_LEVEL      0x08000 /* trigger mode */
#define IOAPIC_RTE_MASKED     0x10000

#define IOAPIC_PIN_UART0 4

uint32_t guest_ioapic_read(uint8_t reg);
void guest_ioapic_write(uint8_t reg, uint32_t val);

/* Number of input pins (from the version register). */
unsigned int guest_ioapic_pins(void);

/*
 * Programs pin's entry: flags (IOAPIC_RTE_LEVEL, _ACTIVE_LOW, _LOGICAL, _MASKED)
 * | vector, delivered to dest (physical APIC ID, or logical destination with
 * IOAPIC_RTE_LOGICAL; 8 bits). Masks the pin while it rewrites the entry. Fails
 * the test when pin does not exist.
 */
void guest_ioapic_route(unsigned int pin, uint8_t vector, uint32_t flags, uint8_t dest);

/* Reads pin's entry (high dword in bits 63:32). */
uint64_t guest_ioapic_rte(unsigned int pin);

/* Sets or clears the mask bit of pin's entry, keeping the rest. */
void guest_ioapic_mask(unsigned int pin, bool masked);

#endif
