/* IPI routing: which vCPUs an interrupt message targets (resolution), and per-target acceptance. */
#ifndef COREVM_CORE_APIC_BUS_H
#define COREVM_CORE_APIC_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/apic_msg.h"
#include "core/bitmap.h"
#include "core/counters.h"
#include "core/lapic.h"
#include "core/lifecycle.h"

/*
 * Routing is two separate steps so that a multi-threaded backend can lock
 * them differently:
 *
 *   1. Resolution, cvm_apic_resolve(): reads only the struct cvm_apic_bus (a
 *      routing view: who is enabled, in which mode, with which IDs) and, for
 *      lowest-priority messages, each candidate's priority through a callback.
 *      It writes nothing shared, so many threads may resolve at once under a
 *      read lock. The view changes only through cvm_apic_bus_update(), called
 *      under the write lock when a register write reports CVM_FX_ROUTE.
 *   2. Acceptance, cvm_apic_accept(): per target, under that target's lock:
 *      fixed/lowest go to its local APIC, NMI/SMI/INIT/SIPI to its lifecycle.
 *
 * The simulator and the model checker call both in a row on one thread.
 *
 * Cost: physical unicast is O(1) through APIC-ID tables; broadcasts and
 * shorthands are bitmap operations over CVM_APIC_MAX_VCPUS bits; xAPIC flat
 * and cluster logical destinations are unions of precomputed bitmaps; x2APIC
 * cluster destinations look up at most 16 IDs. Only ID collisions (guests
 * giving two xAPICs one ID) fall back to a scan.
 */

#define CVM_APIC_MAX_VCPUS 1024u
/* x2APIC IDs must be below this to be routed (the topology may leave gaps). */
#define CVM_APIC_MAX_X2ID 4096u

/* A target set: one bit per vCPU index. */
typedef uint64_t cvm_apic_set[CVM_BITMAP_WORDS(CVM_APIC_MAX_VCPUS)];

/* Per-vCPU routing identity, copied from its local APIC by cvm_apic_bus_update(). */
struct cvm_apic_bus_ent {
	uint32_t x2id; /* x2APIC ID */
	uint8_t xid;   /* xAPIC ID */
	uint8_t ldr;   /* xAPIC logical ID (LDR bits 31:24) */
	uint8_t mode;  /* enum cvm_apic_mode */
	uint8_t flat;  /* xAPIC DFR model: 1 flat, 0 cluster */
};

/* The routing view of one VM. Plain data (about 27 KiB); zero it with cvm_apic_bus_init(). */
struct cvm_apic_bus {
	unsigned int nr;              /* vCPUs 0..nr-1 exist */
	cvm_apic_set enabled;         /* local APIC hardware-enabled (receives messages) */
	cvm_apic_set x2;              /* ... and in x2APIC mode */
	cvm_apic_set xflat[8];        /* xAPIC, flat model: logical ID has bit i */
	cvm_apic_set xcluster[16][4]; /* xAPIC, cluster model: cluster c, member bit b */
	uint16_t xid_map[256];        /* xAPIC ID -> vCPU + 1; 0 none; CVM_BUS_MANY collision */
	uint16_t x2id_map[CVM_APIC_MAX_X2ID]; /* x2APIC ID -> vCPU + 1 (x2APIC-mode vCPUs) */
	struct cvm_apic_bus_ent ent[CVM_APIC_MAX_VCPUS];
};

#define CVM_BUS_MANY 0xffffu

/* Empty view for `nr` vCPUs (none enabled until updated). -EINVAL if nr is 0 or too large. */
int cvm_apic_bus_init(struct cvm_apic_bus *b, unsigned int nr);

/*
 * Publishes vCPU `vcpu`'s routing identity from its local APIC (after
 * power-on, and whenever a write reports CVM_FX_ROUTE). -EINVAL for a bad
 * index, -ERANGE for an x2APIC ID >= CVM_APIC_MAX_X2ID (in x2APIC mode the
 * vCPU is then unreachable by physical and logical destinations; broadcasts
 * and shorthands still reach it).
 */
int cvm_apic_bus_update(struct cvm_apic_bus *b, unsigned int vcpu, const struct cvm_lapic *a);

/*
 * Lowest-priority arbitration input: the arbitration priority (APR, see
 * cvm_lapic_apr()) of vCPU `vcpu`. The backend decides how to read it
 * safely (e.g. a per-vCPU shadow updated on TPR/ISR changes).
 */
typedef uint8_t (*cvm_apic_prio_fn)(void *ctx, unsigned int vcpu);

/*
 * Fills `targets` with the vCPUs message `m` is delivered to and returns how
 * many. Shorthands use m->src; a broadcast destination (0xFF in 8-bit form,
 * 0xFFFFFFFF in x2APIC form) reaches every enabled APIC; INIT level
 * de-assert reaches every enabled APIC whatever the destination (each then
 * ignores it). Lowest priority picks exactly one target: the lowest
 * arbitration priority from `prio` (all equal if `prio` is NULL), ties broken
 * by vector hashing (the (vector mod n)-th of the tied candidates), so the
 * choice is deterministic. Reserved delivery modes resolve to nobody.
 */
unsigned int cvm_apic_resolve(const struct cvm_apic_bus *b, const struct cvm_apic_msg *m,
                              cvm_apic_prio_fn prio, void *prio_ctx, cvm_apic_set targets);

/*
 * Accepts message `m` at one resolved target (its local APIC `a` and
 * lifecycle `lc`, counters `c` may be NULL), under that target's lock.
 * Returns what happened; CVM_DISP_ACCEPTED means: kick or wake the target.
 * CVM_DISP_EXTINT means the target's PIC must provide the vector.
 */
enum cvm_disp cvm_apic_accept(struct cvm_lapic *a, struct cvm_lc *lc, struct cvm_counters *c,
                              const struct cvm_apic_msg *m);

#endif
