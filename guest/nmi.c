/*
 * NMI-IPI test guest: the handler must run exactly once per NMI and never
 * nest. Needs at least 2 vCPUs; APs wait in HLT with interrupts off (only an
 * NMI wakes them).
 *   1. three rounds: the BSP sends an NMI IPI to each AP in turn and waits
 *      (bounded) until that AP's handler counted it;
 *   2. each AP's handler, on the next NMI, sends an NMI to its own APIC ID and
 *      spins for a while inside the handler: the second NMI must stay pending
 *      (blocked until the handler's iretq), then run once, not nested;
 *   3. the BSP sends itself an NMI (physical destination, interrupts off):
 *      handled once;
 *   4. a last NMI to each AP ends its wait.
 * Each AP must count 3 + 2 + 1 NMIs, the BSP 1, with no nesting.
 * Command line: apic=xapic|x2apic (default xapic).
 *
 * Reports (ucall):
 *   each AP once, from itself: REPORT stage 100, args[1] = APIC ID,
 *     args[2] = NMIs handled (6), args[3] = nested entries (0)
 *   the BSP last: REPORT stage 101, args[1] = NMI IPIs the BSP sent, args[2] = NMIs
 *     handled by all vCPUs, args[3] = nested entries (0); then DONE.
 * Serial: "nmi: PASS: <sent> NMIs sent, <handled> handled, none nested (<apic>)".
 */
#include "guest/lib/kit.h"

#define ROUNDS        3
#define PER_AP        (ROUNDS + 2 + 1)
#define IN_NMI_WINDOW (1ull << 21)

static volatile uint32_t count[256], depth[256], nested[256], self_sent[256];
static volatile uint32_t self_phase, done, ready;

extern const uint8_t nmi_test_hlt[], nmi_test_after_hlt[];

/*
 * HLT with interrupts off until an NMI. An NMI that lands just before the HLT
 * (after the caller checked its condition) makes the handler skip the HLT.
 */
__attribute__((noinline, noclone)) static void hlt_for_nmi(void)
{
	__asm__ volatile(".globl nmi_test_hlt, nmi_test_after_hlt\n"
	                 "nmi_test_hlt: hlt\n"
	                 "nmi_test_after_hlt:" ::
	                         : "memory");
}

static void on_nmi(struct guest_exception_frame *f)
{
	if (f->rip == (uint64_t)(uintptr_t)nmi_test_hlt)
		f->rip = (uint64_t)(uintptr_t)nmi_test_after_hlt;
	uint32_t id = guest_apic_id();
	if (id >= 256)
		return;
	if (atomic_fetch_add32(&depth[id], 1) != 0)
		atomic_fetch_add32(&nested[id], 1);
	atomic_fetch_add32(&count[id], 1);
	if (self_phase && !self_sent[id]) {
		self_sent[id] = 1;
		guest_apic_send_ipi(id, APIC_DM_NMI | APIC_LEVEL_ASSERT);
		uint64_t t0 = rdtsc();
		while (rdtsc() - t0 < IN_NMI_WINDOW)
			cpu_relax();
	}
	atomic_fetch_add32(&depth[id], (uint32_t)-1);
}

static void ap_main(unsigned int index, uint32_t id)
{
	GUEST_ASSERT_MSG(id < 256, "nmi: APIC ID %u", id);
	atomic_fetch_add32(&ready, 1);
	/*
	 * Until the last NMI, not only until `done`: the BSP moves on once the
	 * handler counted an NMI, so `done` can be set while this AP is still on
	 * its way back from the handler of the fifth.
	 */
	while (!atomic_load32(&done) || atomic_load32(&count[id]) < PER_AP)
		hlt_for_nmi();
	GUEST_REPORT(CVM_STAGE_USER, id, count[id], nested[id]);
}

static uint32_t sent;

static void nmi_to(uint32_t id, uint32_t want_count)
{
	GUEST_ASSERT(guest_apic_send_ipi(id, APIC_DM_NMI | APIC_LEVEL_ASSERT));
	sent++;
	GUEST_ASSERT_MSG(guest_wait_ge(&count[id], want_count, KIT_TSC_TIMEOUT_STEP),
	                 "nmi: APIC ID %u handled %u NMIs, want %u", id, count[id], want_count);
}

void guest_main(void)
{
	enum guest_apic_mode mode = guest_apic_mode_from_cmdline();
	guest_apic_set_mode(mode);
	uint32_t bsp_id = guest_apic_id();
	guest_set_nmi_handler(on_nmi);
	unsigned int n = guest_smp_boot(ap_main);
	GUEST_ASSERT_MSG(n >= 2, "nmi: needs at least 2 vCPUs");
	GUEST_ASSERT(guest_wait_ge(&ready, n - 1, KIT_TSC_TIMEOUT_LONG));

	for (uint32_t r = 1; r <= ROUNDS; r++)
		for (unsigned int i = 0; i < n - 1; i++)
			nmi_to(guest_smp_ap_id(i), r);
	self_phase = 1;
	for (unsigned int i = 0; i < n - 1; i++)
		nmi_to(guest_smp_ap_id(i), ROUNDS + 2);
	self_phase = 0;
	nmi_to(bsp_id, 1);
	done = 1;
	for (unsigned int i = 0; i < n - 1; i++)
		nmi_to(guest_smp_ap_id(i), PER_AP);
	GUEST_ASSERT_MSG(guest_smp_wait_finished(n - 1, KIT_TSC_TIMEOUT_LONG),
	                 "nmi: %u of %u APs finished", guest_smp_aps_finished(), n - 1);

	uint32_t handled = 0, nest = 0;
	for (unsigned int id = 0; id < 256; id++) {
		uint32_t want = id == bsp_id ? 1 : id < n ? PER_AP : 0;
		GUEST_ASSERT_MSG(count[id] == want, "nmi: APIC ID %u handled %u NMIs, want %u", id,
		                 count[id], want);
		handled += count[id];
		nest += nested[id];
	}
	GUEST_ASSERT_MSG(nest == 0, "nmi: %u nested NMI handler entries", nest);
	GUEST_REPORT(CVM_STAGE_USER + 1, sent, handled, nest);
	guest_printf("nmi: PASS: %u NMIs sent, %u handled, none nested (%s)\n", sent, handled,
	             guest_apic_mode_name(mode));
	GUEST_DONE();
}
