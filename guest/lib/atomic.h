/*
 * Atomics for guests, built only on `lock xadd` and `lock cmpxchg` (both
 * emulated by this project's KVM; see host-kvm.md). x86 is TSO, so plain
 * aligned loads and stores with a compiler barrier are acquire/release.
 * Locks are in lock.h.
 */
#ifndef GUEST_LIB_ATOMIC_H
#define GUEST_LIB_ATOMIC_H

#include <stdint.h>

#include "guest/lib/x86.h"

/* Adds v to *p atomically; returns the previous value. */
static inline uint32_t atomic_fetch_add32(volatile uint32_t *p, uint32_t v)
{
	__asm__ volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
	return v;
}

static inline uint64_t atomic_fetch_add64(volatile uint64_t *p, uint64_t v)
{
	__asm__ volatile("lock xaddq %0, %1" : "+r"(v), "+m"(*p) : : "memory");
	return v;
}

/* If *p == old, stores new; returns the value *p held before (== old on success). */
static inline uint32_t atomic_cmpxchg32(volatile uint32_t *p, uint32_t old, uint32_t new)
{
	__asm__ volatile("lock cmpxchgl %2, %1" : "+a"(old), "+m"(*p) : "r"(new) : "memory");
	return old;
}

static inline uint32_t atomic_load32(const volatile uint32_t *p)
{
	uint32_t v = *p;
	barrier();
	return v;
}

static inline void atomic_store32(volatile uint32_t *p, uint32_t v)
{
	barrier();
	*p = v;
}

#endif
