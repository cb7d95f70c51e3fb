/*
 * Locks for guests whose waiters sleep. On this project's hosts every vCPU is a
 * host thread and guest code is emulated, so a vCPU spinning on a lock takes
 * host CPU from the vCPU holding it: with 255 vCPUs on 2 host CPUs a line of
 * console output took ~70 ms with spinning waiters. Here a waiter that finds
 * the lock taken records its APIC ID, then sleeps in `sti; hlt` (interrupts
 * otherwise stay off); the unlocker wakes one recorded waiter with a fixed IPI
 * (KIT_WAKE_VECTOR). vCPUs that cannot take interrupts (APIC disabled, APIC ID
 * above 255) spin instead. Unfair by design: whichever vCPU is running takes
 * a free lock.
 *
 * Contract: call with interrupts off (as the kit runs all guest code); the IDT
 * must be loaded (the kit does so on every vCPU before guest code runs).
 */
#ifndef GUEST_LIB_LOCK_H
#define GUEST_LIB_LOCK_H

#include <stdbool.h>
#include <stdint.h>

struct guest_lock {
	volatile uint32_t locked;
	volatile uint32_t waiters[8]; /* bit i: APIC ID i sleeps waiting */
};

#define GUEST_LOCK_INIT   \
	{                 \
		0,        \
		{         \
			0 \
		}         \
	}

bool guest_trylock(struct guest_lock *l);
void guest_lock(struct guest_lock *l);
/* Tries up to `tries` times without sleeping; for crash reports on a maybe-held lock. */
bool guest_lock_bounded(struct guest_lock *l, uint32_t tries);
void guest_unlock(struct guest_lock *l);

#endif
