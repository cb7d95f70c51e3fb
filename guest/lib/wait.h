/*
 * Bounded waits on counters for guests. Guest code is emulated on this
 * project's hosts and timers fire late, so a test waits for an event (a
 * counter another vCPU or a handler bumps) with a generous TSC bound, never for
 * a fixed time. The one exception is guest_irq_window(), for negative checks
 * ("this interrupt must not arrive"), which can only give the wrong event a
 * chance to show.
 */
#ifndef GUEST_LIB_WAIT_H
#define GUEST_LIB_WAIT_H

#include <stdbool.h>
#include <stdint.h>

/* Spins until *p >= target or timeout_tsc ticks passed; returns whether it got there. */
bool guest_wait_ge(const volatile uint32_t *p, uint32_t target, uint64_t timeout_tsc);

/* The same with interrupts enabled while it spins (off again on return). */
bool guest_wait_ge_irq(const volatile uint32_t *p, uint32_t target, uint64_t timeout_tsc);

/*
 * Sleeps in `sti; hlt` until *p >= target, re-checking after every interrupt;
 * gives up after timeout_tsc ticks, which is only checked when an interrupt
 * wakes the vCPU (an event that never comes leaves it halted: the host's
 * --timeout ends such a test). Interrupts are off on return.
 */
bool guest_wait_ge_hlt(const volatile uint32_t *p, uint32_t target, uint64_t timeout_tsc);

/*
 * Enables interrupts for about `ticks` TSC ticks (spinning), then disables
 * them: for negative checks only (an interrupt that must stay pending).
 */
void guest_irq_window(uint64_t ticks);

/* A generous bound for one step of an interrupt test: 2^34 ticks, ~7 s at 2.4 GHz. */
#define KIT_TSC_TIMEOUT_STEP (1ull << 34)

/* Length of a negative-check window: 2^23 ticks, ~3.5 ms at 2.4 GHz (several injection delays). */
#define KIT_TSC_WINDOW (1ull << 23)

#endif
