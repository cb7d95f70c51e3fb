/*
 * Hostile local-APIC guest: every AP writes garbage to its own local APIC and
 * sends IPIs to APIC IDs that do not exist, while the BSP keeps making
 * progress steps (guest/hostile.h). Needs at least 2 vCPUs. Each AP, in
 * lock-step with the others (a barrier between phases):
 *   1. xAPIC page: every 16-byte register slot 0x000-0xff0 and the three
 *      unaligned dwords inside it, read then written with xorshift garbage
 *      (except the ICR, whose garbage is phase 2's); then the registers that
 *      matter are restored (ID, LDR, DFR, TPR, SVR, LVTs masked, timer off,
 *      ESR cleared);
 *   2. xAPIC ICR: fixed, lowest-priority, SMI, NMI, INIT assert, INIT
 *      de-assert and SIPI to every physical APIC ID from NB_CPUS to 254, then
 *      256 garbage ICR values (random vector, delivery, level, trigger and
 *      destination mode, no shorthand) aimed at an ID that does not exist
 *      (logical destinations match nobody: every LDR is 0);
 *   (midpoint: waits until the BSP made progress, see hostile.h)
 *   3. x2APIC: switches to x2APIC and reads then writes garbage to every MSR
 *      0x800-0x8ff but the ICR (guest_rdmsr_safe/wrmsr_safe); invalid accesses
 *      raise #GP, which the guest counts; then restores as in 1;
 *   4. x2APIC ICR: the delivery modes of 2 to IDs NB_CPUS..NB_CPUS+255,
 *      0x1000, 0xffff, 0x10000 and 0xfffffffe, logical cluster 0xfffe, then
 *      256 garbage ICRs aimed at IDs that do not exist;
 *   5. timer storms: the fastest periodic timer there is (initial count 1,
 *      divide by 1: a 1 ns period), masked, then unmasked with interrupts off,
 *      each for TIMER_STEPS steps of the AP's own (port reads); then 256
 *      TSC-deadline writes in the past (where offered). The AP must keep
 *      running meanwhile: the VMM may fold ticks, not stop the vCPU;
 *   6. I/O APIC: reads of every byte, word and dword offset of its first 256
 *      bytes and writes to those it does not decode (ignored), 64-bit
 *      accesses, then IOREGSEL/IOWIN garbage (every index 0-0xff, random
 *      values: redirection entries of every delivery mode, trigger and
 *      destination) and EOI-register garbage; no pin is ever asserted, so no
 *      entry may deliver anything; then every entry is masked again.
 * Nothing sent may reach any vCPU: the BSP and every AP count NMIs (an NMI
 * handler is installed) and no AP may restart (the kit counts arrivals).
 *
 * Reports (ucall):
 *   each AP, from itself: REPORT stage 101 (HOSTILE_STAGE_AP), args[1] =
 *     xAPIC accesses (2048), args[2] = x2APIC #GPs taken (MSRs and ICRs),
 *     args[3] = ICRs sent; then REPORT stage 103, args[1] = timer-storm steps
 *     made (2 * TIMER_STEPS), args[2] = I/O APIC accesses a decoder must
 *     ignore, args[3] = I/O APIC register writes (IOREGSEL, IOWIN, EOI)
 *   the BSP: REPORT stage 100 (HOSTILE_STAGE_SUMMARY), args[1] = progress
 *     steps, args[2] = misbehaving APs (NB_CPUS - 1), args[3] = 0; then
 *     REPORT stage 102, args[1] = NMIs seen by all vCPUs (0), args[2] = AP
 *     arrivals (NB_CPUS - 1: none restarted); then DONE.
 * Fails (ASSERT) if an AP restarted, an NMI arrived, or an xAPIC IPI stayed
 * send-pending.
 */
#include "guest/hostile.h"

#define REG_LDR   0x0d0
#define REG_DFR   0x0e0
#define REG_ESR   0x280
#define REG_LVT0  0x320 /* timer; LVTs 0x2f0 and 0x320-0x370 */
#define REG_TMICT 0x380
#define REG_TDCR  0x3e0
#define MSR_ICR   (MSR_X2APIC_BASE + (APIC_REG_ICR_LO >> 4))

#define HOSTILE_STAGE_APIC_END  (CVM_STAGE_USER + 2)
#define HOSTILE_STAGE_APIC_MORE (CVM_STAGE_USER + 3)

#define TIMER_STEPS   2000
#define TIMER_VECTOR  0xd7
#define TIMER_PORT    0x84 /* unclaimed: the AP's own steps under a timer storm */
#define MSR_TSC_DL    0x6e0
#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN    0x10
#define IOAPIC_EOI    0x40
#define IOAPIC_NPINS  24

static unsigned int ncpus, naps;
static volatile uint32_t nmis, phase_arrived[7];

static void on_nmi(struct guest_exception_frame *f)
{
	(void)f;
	atomic_fetch_add32(&nmis, 1);
}

/* Every AP waits for the others at the end of phase p (bounded). */
static void phase_barrier(unsigned int p)
{
	uint64_t t0 = rdtsc();
	atomic_fetch_add32(&phase_arrived[p], 1);
	while (atomic_load32(&phase_arrived[p]) < naps) {
		GUEST_ASSERT_MSG(rdtsc() - t0 < KIT_TSC_TIMEOUT_LONG,
		                 "hostile_apic: %u of %u APs reached phase %u", phase_arrived[p],
		                 naps, p);
		cpu_relax();
	}
}

/* A register write that may not exist in this mode (x2APIC: #GP, ignored here). */
static void put(uint32_t reg, uint32_t val)
{
	if (guest_apic_mode() == GUEST_APIC_X2APIC)
		(void)guest_wrmsr_safe(MSR_X2APIC_BASE + (reg >> 4), val);
	else
		guest_apic_write(reg, val);
}

/* The registers whose garbage could reach other vCPUs or wake this one, put back. */
static void restore(uint32_t id, uint32_t ldr, uint32_t dfr, uint32_t svr)
{
	if (guest_apic_mode() != GUEST_APIC_X2APIC) {
		put(APIC_REG_ID, id);
		put(REG_DFR, dfr);
		put(REG_LDR, ldr);
	}
	put(APIC_REG_TPR, 0);
	put(APIC_REG_SVR, svr | APIC_SVR_ENABLE);
	put(0x2f0, APIC_LVT_MASKED);
	for (uint32_t r = REG_LVT0; r <= 0x370; r += 0x10)
		put(r, APIC_LVT_MASKED);
	put(REG_TMICT, 0);
	put(REG_TDCR, 0);
	put(REG_ESR, 0);
	put(REG_ESR, 0);
}

static uint64_t xapic_garbage(uint64_t *seed)
{
	uint32_t id = guest_apic_read(APIC_REG_ID), ldr = guest_apic_read(REG_LDR);
	uint32_t dfr = guest_apic_read(REG_DFR), svr = guest_apic_read(APIC_REG_SVR);
	uint64_t n = 0;

	for (uint32_t slot = 0; slot < 0x1000; slot += 0x10) {
		for (uint32_t off = 0; off < 0x10; off += 4) {
			uint64_t addr = CVM_GUEST_LAPIC_BASE + slot + off;
			(void)mmio_read32(addr);
			if (slot != APIC_REG_ICR_LO && slot != APIC_REG_ICR_HI)
				mmio_write32(addr, (uint32_t)hostile_rand(seed));
			n += 2;
		}
	}
	restore(id, ldr, dfr, svr);
	return n;
}

/* Garbage for the ICR's low word: no shorthand (bits 18-19), any other field. */
static uint32_t icr_garbage(uint64_t *seed)
{
	return (uint32_t)hostile_rand(seed) & ~(uint32_t)APIC_DEST_ALL_BUT_SELF;
}

static const uint32_t modes[] = {
        APIC_DM_FIXED | KIT_WAKE_VECTOR,
        0x100 | KIT_WAKE_VECTOR, /* lowest priority */
        0x200,                   /* SMI */
        APIC_DM_NMI,
        APIC_DM_INIT | APIC_LEVEL_ASSERT | APIC_TRIGGER_LEVEL,
        APIC_DM_INIT | APIC_TRIGGER_LEVEL,
        APIC_DM_STARTUP | KIT_SIPI_VECTOR,
};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

static uint64_t xapic_icrs(uint64_t *seed)
{
	uint64_t n = 0;
	for (uint32_t dest = ncpus; dest < 255; dest++)
		for (unsigned int m = 0; m < NMODES; m++, n++)
			GUEST_ASSERT_MSG(guest_apic_send_ipi(dest, modes[m]),
			                 "hostile_apic: IPI 0x%x to %u stays pending", modes[m],
			                 dest);
	for (unsigned int i = 0; i < 256; i++, n++) {
		uint32_t dest = ncpus + (uint32_t)(hostile_rand(seed) % (255 - ncpus));
		/* Whatever the APIC says about delivery, nothing may arrive anywhere. */
		guest_apic_send_ipi(dest, icr_garbage(seed));
	}
	return n;
}

/* Returns the #GPs taken: invalid accesses are refused that way. */
static uint64_t x2apic_garbage(uint64_t *seed)
{
	uint64_t gps = 0, v;
	uint32_t svr;

	guest_apic_set_mode(GUEST_APIC_X2APIC);
	svr = guest_apic_read(APIC_REG_SVR);
	for (uint32_t msr = MSR_X2APIC_BASE; msr < MSR_X2APIC_BASE + 0x100; msr++) {
		unsigned int vec = guest_rdmsr_safe(msr, &v);
		GUEST_ASSERT_MSG(vec == 0 || vec == 13, "rdmsr 0x%x raised vector %u", msr, vec);
		gps += vec == 13;
		if (msr == MSR_ICR)
			continue;
		/* 64 or 32 bits of garbage */
		vec = guest_wrmsr_safe(msr, hostile_rand(seed) >> (msr & 1 ? 0 : 32));
		GUEST_ASSERT_MSG(vec == 0 || vec == 13, "wrmsr 0x%x raised vector %u", msr, vec);
		gps += vec == 13;
	}
	restore(0, 0, 0, svr);
	return gps;
}

/* An x2APIC ICR write; a reserved bit set raises #GP (counted in *gps). */
static void x2_icr(uint32_t dest, uint32_t lo, uint64_t *gps)
{
	unsigned int vec = guest_wrmsr_safe(MSR_ICR, (uint64_t)dest << 32 | lo);
	GUEST_ASSERT_MSG(vec == 0 || vec == 13, "ICR write raised vector %u", vec);
	*gps += vec == 13;
}

static uint64_t x2apic_icrs(uint64_t *seed, uint64_t *gps)
{
	static const uint32_t far[] = {0x1000, 0xffff, 0x10000, 0xfffffffe};
	uint64_t n = 0;
	for (uint32_t i = 0; i < 256 + 4; i++) {
		uint32_t dest = i < 256 ? ncpus + i : far[i - 256];
		for (unsigned int m = 0; m < NMODES; m++, n++)
			x2_icr(dest, modes[m], gps);
	}
	/* Logical: cluster 0xfffe, every member bit (0xffffffff would be the broadcast). */
	for (unsigned int m = 0; m < NMODES; m++, n++)
		x2_icr(0xfffe0000u | 0xffff, modes[m] | 0x800, gps);
	for (unsigned int i = 0; i < 256; i++, n++) {
		uint32_t lo = icr_garbage(seed),
		         dest = ncpus + (uint32_t)hostile_rand(seed) % 0x10000;
		if (lo & 0x800)
			dest |= 0xfff00000u; /* logical: a cluster that does not exist */
		x2_icr(dest, lo, gps);
	}
	return n;
}

/* TIMER_STEPS steps of the AP's own, each an exit; returns how many were made. */
static uint64_t own_steps(void)
{
	uint64_t n = 0;
	for (unsigned int i = 0; i < TIMER_STEPS; i++, n++)
		GUEST_ASSERT_EQ(inb(TIMER_PORT), 0xff);
	return n;
}

/* Phase 5; returns the steps made under the two periodic storms. */
static uint64_t timer_storms(void)
{
	uint64_t n;

	guest_apic_write(APIC_REG_TIMER_DCR, 0xb); /* divide by 1 */
	guest_apic_write(APIC_REG_LVT_TIMER, APIC_LVT_MASKED | APIC_TIMER_PERIODIC | TIMER_VECTOR);
	guest_apic_write(APIC_REG_TIMER_ICR, 1);
	n = own_steps();
	/* Unmasked with interrupts off: the vector stays pending, never delivered. */
	guest_apic_write(APIC_REG_LVT_TIMER, APIC_TIMER_PERIODIC | TIMER_VECTOR);
	n += own_steps();
	guest_apic_write(APIC_REG_TIMER_ICR, 0);
	if (guest_tsc_deadline_supported()) {
		guest_apic_write(APIC_REG_LVT_TIMER, APIC_TIMER_TSC_DEADLINE | TIMER_VECTOR);
		for (unsigned int i = 0; i < 256; i++)
			wrmsr(MSR_TSC_DL, 1 + i); /* long past: fires at once */
		wrmsr(MSR_TSC_DL, 0);
	}
	guest_apic_write(APIC_REG_LVT_TIMER, APIC_LVT_MASKED);
	return n;
}

static uint64_t ioapic_addr(uint32_t off)
{
	return CVM_GUEST_IOAPIC_BASE + off;
}

static bool ioapic_decodes(uint32_t off)
{
	return off == IOAPIC_REGSEL || off == IOAPIC_WIN || off == IOAPIC_EOI;
}

/* Phase 6; returns the accesses to ignore in *ignored, the register writes in *writes. */
static void ioapic_garbage(uint64_t *seed, uint64_t *ignored, uint64_t *writes)
{
	for (uint32_t off = 0; off < 0x100; off++) {
		volatile uint8_t *b = (volatile uint8_t *)(uintptr_t)ioapic_addr(off);
		(void)*b;
		*ignored += !ioapic_decodes(off);
		if (!ioapic_decodes(off)) {
			*b = (uint8_t)hostile_rand(seed);
			*ignored += 1;
		}
		if (off % 2 == 0) {
			(void)*(volatile uint16_t *)(uintptr_t)ioapic_addr(off);
			*ignored += !ioapic_decodes(off);
		}
		if (off % 4 == 0) {
			(void)mmio_read32(ioapic_addr(off));
			*ignored += !ioapic_decodes(off);
		}
		if (off % 8 == 0) { /* 64-bit: no register is that wide */
			(void)*(volatile uint64_t *)(uintptr_t)ioapic_addr(off);
			*(volatile uint64_t *)(uintptr_t)ioapic_addr(off) = hostile_rand(seed);
			*ignored += 2;
		}
	}
	for (uint32_t idx = 0; idx < 0x100; idx++) {
		uint32_t v = (uint32_t)hostile_rand(seed);
		mmio_write32(ioapic_addr(IOAPIC_REGSEL), idx);
		(void)mmio_read32(ioapic_addr(IOAPIC_WIN));
		mmio_write32(ioapic_addr(IOAPIC_WIN), v);
		mmio_write32(ioapic_addr(IOAPIC_EOI), (uint32_t)hostile_rand(seed));
		*writes += 3;
	}
}

/* Every redirection entry masked again (one AP, after all are done with phase 6). */
static void ioapic_restore(void)
{
	for (uint32_t pin = 0; pin < IOAPIC_NPINS; pin++) {
		mmio_write32(ioapic_addr(IOAPIC_REGSEL), 0x10 + 2 * pin);
		mmio_write32(ioapic_addr(IOAPIC_WIN), 0x10000);
	}
}

static void ap(unsigned int index, uint32_t apic_id)
{
	uint64_t seed = 0x2545f4914f6cdd1dull * (apic_id + 1), icrs;
	uint64_t s0 = hostile_steps_now(), xapic, gps;

	(void)index;
	xapic = xapic_garbage(&seed);
	phase_barrier(0);
	icrs = xapic_icrs(&seed);
	phase_barrier(1);
	hostile_wait_progress(s0);
	gps = x2apic_garbage(&seed);
	phase_barrier(2);
	icrs += x2apic_icrs(&seed, &gps);
	phase_barrier(3);
	GUEST_REPORT(HOSTILE_STAGE_AP, xapic, gps, icrs);
	uint64_t storm = timer_storms(), ignored = 0, writes = 0;
	phase_barrier(4);
	ioapic_garbage(&seed, &ignored, &writes);
	phase_barrier(5);
	if (index == 0)
		ioapic_restore();
	GUEST_REPORT(HOSTILE_STAGE_APIC_MORE, storm, ignored, writes);
	hostile_ap_done();
}

void guest_main(void)
{
	ncpus = guest_fwcfg_nb_cpus();
	naps = ncpus - 1;
	guest_set_nmi_handler(on_nmi);
	hostile_start(ap, 2);
	hostile_progress(naps, 0);
	GUEST_ASSERT_EQ(guest_smp_aps_arrived(), naps); /* no AP was INIT'ed and restarted */
	GUEST_ASSERT_EQ(atomic_load32(&nmis), 0);
	GUEST_REPORT(HOSTILE_STAGE_APIC_END, nmis, guest_smp_aps_arrived(), 0);
	GUEST_DONE();
}
