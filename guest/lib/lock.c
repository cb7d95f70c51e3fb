/* Locks whose waiters sleep in HLT until the unlocker's IPI (see lock.h). */
#include "guest/lib/lock.h"

#include "guest/lib/apic.h"
#include "guest/lib/atomic.h"
#include "guest/lib/layout.h"
#include "guest/lib/x86.h"

static void waiter_set(struct guest_lock *l, uint32_t id, bool on)
{
	volatile uint32_t *w = &l->waiters[id / 32];
	uint32_t bit = 1u << (id % 32);
	uint32_t old = atomic_load32(w);
	for (;;) {
		uint32_t new = on ? old | bit : old & ~bit;
		uint32_t seen = atomic_cmpxchg32(w, old, new);
		if (seen == old)
			return;
		old = seen;
	}
}

/* Clears and returns the lowest waiter, or -1 when none waits. */
static int waiter_take(struct guest_lock *l)
{
	for (uint32_t i = 0; i < 8; i++) {
		uint32_t old = atomic_load32(&l->waiters[i]);
		while (old) {
			uint32_t b = 0;
			while (!(old &
			         (1u << b))) /* a loop, not bsf/tzcnt: keep to plain ALU ops */
				b++;
			uint32_t seen = atomic_cmpxchg32(&l->waiters[i], old, old & ~(1u << b));
			if (seen == old)
				return (int)(i * 32 + b);
			old = seen;
		}
	}
	return -1;
}

bool guest_trylock(struct guest_lock *l)
{
	return atomic_load32(&l->locked) == 0 && atomic_cmpxchg32(&l->locked, 0, 1) == 0;
}

bool guest_lock_bounded(struct guest_lock *l, uint32_t tries)
{
	for (uint32_t i = 0; i < tries; i++) {
		if (guest_trylock(l))
			return true;
		cpu_relax();
	}
	return false;
}

void guest_lock(struct guest_lock *l)
{
	if (guest_trylock(l))
		return;
	uint32_t id = guest_apic_mode() == GUEST_APIC_DISABLED ? 256 : guest_apic_id();
	while (id >= 256) {
		if (guest_trylock(l))
			return;
		cpu_relax();
	}
	for (;;) {
		/* Locked op first: an unlocker that misses our bit saw its store after ours. */
		waiter_set(l, id, true);
		if (guest_trylock(l)) {
			waiter_set(l, id, false);
			return;
		}
		/* sti's one-instruction shadow: the wake-up IPI cannot slip in before hlt. */
		__asm__ volatile("sti; hlt; cli" : : : "memory");
	}
}

void guest_unlock(struct guest_lock *l)
{
	atomic_store32(&l->locked, 0);
	__asm__ volatile("mfence" : : : "memory"); /* store, then read the waiters */
	int id = waiter_take(l);
	if (id >= 0)
		guest_apic_send_ipi((uint32_t)id,
		                    APIC_DM_FIXED | APIC_LEVEL_ASSERT | KIT_WAKE_VECTOR);
}
