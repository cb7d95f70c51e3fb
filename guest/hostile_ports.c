/*
 * Hostile port I/O guest: the APs read every I/O port 0x0000-0xffff with sizes
 * 1, 2 and 4 and write garbage to each (xorshift values), while the BSP keeps
 * making progress steps (guest/hostile.h). Needs at least 2 vCPUs; the port
 * space is split evenly between the APs (APIC ID k sweeps the k-th part), so
 * they also contend for corevm's device lock.
 *
 * Writes that have a defined effect on the VM are left out of the sweep,
 * because their effect is the test's end, not garbage: the debug-exit ports
 * 0xf4-0xf7 (end the VM), the i8042 command port 0x64 (0xFE resets) and the
 * ucall port 0xe0, which instead gets three refusable writes (OUTB, OUTW, and
 * an odd address with OUTL). Reads cover every port, 0xe0 included (refused).
 * The UART, fw_cfg, i8042 data port and the in-kernel PIC get garbage too: no
 * output is checked after the sweep, only reports.
 *
 * Reports (ucall):
 *   each AP, from itself: REPORT stage 101 (HOSTILE_STAGE_AP), args[1] = reads,
 *     args[2] = writes, args[3] = BSP steps made while it misbehaved (>= 64)
 *   the BSP: REPORT stage 100 (HOSTILE_STAGE_SUMMARY), args[1] = progress
 *     steps, args[2] = misbehaving APs (NB_CPUS - 1), args[3] = 0; then DONE.
 * Over all APs: 196608 reads and 196593 writes. corevm must survive, count
 * the ucall port's 6 refusals (3 reads, 3 writes) on APIC ID 1 (its part holds
 * port 0xe0), count the unclaimed ports, and answer every progress step.
 */
#include "guest/hostile.h"

static bool write_allowed(uint32_t port)
{
	return port != CVM_PORT_I8042_CMD && port != CVM_PORT_UCALL &&
	       !(port >= CVM_PORT_DEBUG_EXIT && port < CVM_PORT_DEBUG_EXIT + 4);
}

/* Reads every port of [first, end) with each size, writes garbage where allowed; returns reads. */
static uint64_t sweep(uint32_t first, uint32_t end, uint64_t *seed, uint64_t *writes)
{
	uint64_t reads = 0;
	for (uint32_t p = first; p < end; p++) {
		uint16_t port = (uint16_t)p;
		(void)inb(port);
		(void)inw(port);
		(void)inl(port);
		reads += 3;
		if (!write_allowed(p))
			continue;
		uint64_t r = hostile_rand(seed);
		outb(port, (uint8_t)r);
		outw(port, (uint16_t)(r >> 8));
		outl(port, (uint32_t)(r >> 24));
		*writes += 3;
	}
	return reads;
}

static unsigned int naps;

/* APIC ID k (1..naps) sweeps [first, end) of the k-th part, half, waits for progress, half. */
static void ap(unsigned int index, uint32_t apic_id)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull * apic_id, writes = 0, reads;
	uint64_t s0 = hostile_steps_now();
	uint32_t first = 0x10000 * (apic_id - 1) / naps, end = 0x10000 * apic_id / naps;
	uint32_t mid = first + (end - first) / 2;

	(void)index;
	GUEST_ASSERT(apic_id >= 1 && apic_id <= naps);
	reads = sweep(first, mid, &seed, &writes);
	hostile_wait_progress(s0);
	reads += sweep(mid, end, &seed, &writes);
	if (first <= CVM_PORT_UCALL && CVM_PORT_UCALL < end) {
		/* The ucall port: garbage corevm must refuse (size, alignment). */
		outb(CVM_PORT_UCALL, 0x55);
		outw(CVM_PORT_UCALL, 0x1234);
		outl(CVM_PORT_UCALL, 0x00100001);
		writes += 3;
	}
	GUEST_REPORT(HOSTILE_STAGE_AP, reads, writes, hostile_steps_now() - s0);
	hostile_ap_done();
}

void guest_main(void)
{
	naps = guest_fwcfg_nb_cpus() - 1;
	hostile_start(ap, 2);
	hostile_progress(naps, 0);
	GUEST_DONE();
}
