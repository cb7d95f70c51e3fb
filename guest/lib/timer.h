/*
 * The local APIC timer for guests, in its three modes: one-shot and periodic
 * (initial count, counted down at the APIC timer frequency divided by the
 * divide configuration) and TSC-deadline (IA32_TSC_DEADLINE, MSR 0x6e0: fires
 * when the TSC reaches the value written). Works in xAPIC and x2APIC mode and
 * acts on the calling vCPU's timer. The timer interrupt is a fixed,
 * edge-triggered vector: register a handler with guest_set_irq_handler() first;
 * the handler sends the EOI.
 */
#ifndef GUEST_LIB_TIMER_H
#define GUEST_LIB_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define APIC_TIMER_ONESHOT      0x00000
#define APIC_TIMER_PERIODIC     0x20000
#define APIC_TIMER_TSC_DEADLINE 0x40000
#define APIC_TIMER_MODE_MASK    0x60000
#define MSR_IA32_TSC_DEADLINE   0x6e0

/* CPUID.1:ECX[24]: whether the VMM offers TSC-deadline mode (KVM emulates it; trust this bit). */
bool guest_tsc_deadline_supported(void);

/*
 * Arms a one-shot or periodic timer: divide (1, 2, 4, ..., 128) into DCR, the
 * LVT timer entry (mode | vector, unmasked), then the initial count (count > 0
 * starts it). Fails the test on a bad divide or a zero count.
 */
void guest_timer_oneshot(uint8_t vector, uint32_t count, unsigned int divide);
void guest_timer_periodic(uint8_t vector, uint32_t count, unsigned int divide);

/*
 * Arms the TSC-deadline timer to fire when the TSC reaches tsc (switches the
 * LVT entry to TSC-deadline mode first, as the SDM requires). Fails the test
 * when the mode is not offered.
 */
void guest_timer_deadline(uint8_t vector, uint64_t tsc);

/* Stops the timer in any mode: initial count 0, deadline 0, LVT entry masked. */
void guest_timer_stop(void);

/* The current count (one-shot/periodic; 0 once a one-shot timer expired). */
uint32_t guest_timer_current(void);

#endif
