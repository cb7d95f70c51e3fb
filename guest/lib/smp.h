/*
 * AP bring-up for guests: INIT-SIPI-SIPI, broadcast or per APIC ID, through a
 * real-mode trampoline at CVM_GUEST_TRAMPOLINE (SIPI vector 0x08). Each AP goes
 * real mode -> 32-bit -> long mode on the kit's page tables, takes an index
 * (0, 1, ... in arrival order, from a lock xadd counter) and that index's 4 KiB
 * stack, loads the IDT, switches its APIC to the mode the BSP was in when it
 * started the APs, calls the AP callback, and then halts for good
 * (interrupts off).
 *
 * Call order on the BSP: guest_smp_prepare(fn) once, then guest_smp_start_all()
 * or guest_smp_start_one() for each AP, then guest_smp_wait_finished().
 * Indices run up to KIT_MAX_APS - 1; an AP arriving beyond that is parked
 * without running the callback (counted in guest_smp_aps_overflow()).
 * Every wait is bounded by a TSC tick count; this host emulates guest code, so
 * the waits spin on counters rather than sleep for fixed times.
 */
#ifndef GUEST_LIB_SMP_H
#define GUEST_LIB_SMP_H

#include <stdbool.h>
#include <stdint.h>

#include "guest/lib/layout.h"

#define KIT_SIPI_VECTOR (CVM_GUEST_TRAMPOLINE >> 12)

/* Generous bound for bring-up waits: 2^36 ticks, about half a minute at 2.4 GHz. */
#define KIT_TSC_TIMEOUT_LONG (1ull << 36)

/* Bound of the wait between the two SIPIs: about 1 ms at 2.4 GHz. */
#define KIT_TSC_SIPI_GAP 2500000ull

/* Runs on each AP with its index and APIC ID; may print, report and assert. */
typedef void (*guest_ap_fn)(unsigned int ap_index, uint32_t apic_id);

/* Copies the trampoline to CVM_GUEST_TRAMPOLINE and records fn (not NULL). */
void guest_smp_prepare(guest_ap_fn fn);

/*
 * Broadcast: INIT assert to all-excluding-self, INIT de-assert (xAPIC mode
 * only), SIPI, a wait of at most KIT_TSC_SIPI_GAP ticks for `expected` APs to
 * arrive, SIPI again, then a wait of at most timeout_tsc ticks. Returns the
 * number of APs that arrived since the call (may exceed expected if more APs
 * exist than expected).
 */
unsigned int guest_smp_start_all(unsigned int expected, uint64_t timeout_tsc);

/*
 * Targeted: the same sequence addressed to one APIC ID. Returns true when an AP
 * arrived within timeout_tsc ticks.
 */
bool guest_smp_start_one(uint32_t apic_id, uint64_t timeout_tsc);

/*
 * The two halves of a start-up sequence, for guests that compose their own
 * (other SIPI vectors, orders, retries): INIT assert then, in xAPIC mode, INIT
 * de-assert; and one SIPI with vector (the AP starts at vector << 12 in real
 * mode). shorthand is 0 (dest is an APIC ID) or APIC_DEST_ALL_BUT_SELF. Both
 * record the sender's APIC mode, which APs entering the kit's trampoline adopt.
 * Fail the test if the APIC keeps an IPI send-pending.
 */
void guest_smp_send_init(uint32_t dest, uint32_t shorthand);
void guest_smp_send_sipi(uint32_t dest, uint32_t shorthand, uint8_t vector);

/*
 * The usual start: NB_CPUS from fw_cfg, guest_smp_prepare(fn), one broadcast
 * guest_smp_start_all(); fails the test unless all NB_CPUS - 1 APs arrive.
 * Returns NB_CPUS once every AP has enabled its APIC (an AP leaves INIT with
 * its APIC software-disabled, which drops fixed IPIs) and entered its
 * callback; the callbacks may still be running.
 */
unsigned int guest_smp_boot(guest_ap_fn fn);

/*
 * Sends a fixed IPI of vector to each of the first n_aps APs (by index) and
 * waits (bounded) until all n_aps callbacks returned; fails the test if they
 * do not. For guests whose APs sleep until a last "barrier" IPI.
 */
void guest_smp_release_aps(unsigned int n_aps, uint8_t vector);

/* APIC ID of the AP with index (waits, bounded, until that AP got there). */
uint32_t guest_smp_ap_id(unsigned int index);

/* APs that arrived in the kit (took an index, including overflowed ones). */
unsigned int guest_smp_aps_arrived(void);
/* APs whose callback returned. */
unsigned int guest_smp_aps_finished(void);
/* APs parked for lack of a stack. */
unsigned int guest_smp_aps_overflow(void);

/* Waits until `n` callbacks returned or timeout_tsc ticks passed; returns whether they did. */
bool guest_smp_wait_finished(unsigned int n, uint64_t timeout_tsc);

#endif
