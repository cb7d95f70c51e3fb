/*
 * Logical-destination test guest: fixed IPIs (vector 0x58) addressed by
 * logical destination, in one of three models (command line mode=):
 *   flat      xAPIC, DFR flat: logical ID = 1 << APIC ID (up to 8 vCPUs);
 *   cluster   xAPIC, DFR cluster: logical ID = cluster (APIC ID / 4) << 4 |
 *             1 << (APIC ID % 4) (up to 60 vCPUs);
 *   x2cluster x2APIC: the read-only LDR must read (APIC ID >> 4) << 16 |
 *             1 << (APIC ID & 15); IPIs use it (up to 255 vCPUs).
 * Every vCPU sets (or checks) its logical ID; then the BSP sends:
 *   1. one IPI to each AP's own logical ID;
 *   2. one IPI per group addressing all APs of the group at once (flat: one
 *      for all APs; cluster models: one per cluster, all its APs);
 *   3. one IPI to a logical destination that matches no vCPU.
 * After each IPI the BSP waits (bounded) until every target counted it; at
 * the end each AP takes a physical barrier IPI (0x59), and every vCPU must
 * have received exactly the IPIs addressed to it (the BSP none).
 *
 * Reports (ucall):
 *   each vCPU once, from itself: REPORT stage 100, args[1] = APIC ID,
 *     args[2] = logical ID (LDR as read), args[3] = DFR (xAPIC) or 0
 *   the BSP last: REPORT stage 101, args[1] = IPIs sent, args[2] =
 *     deliveries counted, args[3] = model (1 flat, 2 cluster, 3 x2cluster);
 *   then DONE.
 * Serial: "ipi_logical: PASS: <model>, <n> vCPUs, <k> IPIs, <d> deliveries".
 */
#include "guest/lib/kit.h"

#define VEC     0x58
#define BARRIER 0x59

enum model { FLAT = 1, CLUSTER = 2, X2CLUSTER = 3 };

static enum model model;
static volatile uint32_t hits[256], arrived_barrier[256], want[256];
static volatile uint32_t ready;
static uint32_t bsp_id;

static void on_ipi(struct guest_exception_frame *f)
{
	uint32_t id = guest_apic_id();
	if (id < 256)
		atomic_fetch_add32(f->vector == VEC ? &hits[id] : &arrived_barrier[id], 1);
	guest_apic_eoi();
}

/* The logical ID an APIC ID gets (or has, in x2APIC mode) in this model. */
static uint32_t logical_of(uint32_t id)
{
	switch (model) {
	case FLAT:
		return 1u << id;
	case CLUSTER:
		return (id / 4) << 4 | 1u << (id % 4);
	default:
		return (id >> 4) << 16 | 1u << (id & 15);
	}
}

/* Sets up (xAPIC) or checks (x2APIC) this vCPU's logical ID and reports it. */
static void setup_logical(void)
{
	uint32_t id = guest_apic_id();
	uint32_t dfr = 0;
	if (model == X2CLUSTER) {
		GUEST_ASSERT_MSG(guest_apic_logical_id() == logical_of(id),
		                 "ipi_logical: x2APIC ID %u has LDR 0x%x, want 0x%x", id,
		                 guest_apic_logical_id(), logical_of(id));
	} else {
		dfr = model == FLAT ? APIC_DFR_FLAT : APIC_DFR_CLUSTER;
		guest_apic_set_logical(dfr, (uint8_t)logical_of(id));
		GUEST_ASSERT_EQ(guest_apic_logical_id(), logical_of(id));
		GUEST_ASSERT_EQ(guest_apic_read(APIC_REG_DFR), dfr);
	}
	GUEST_REPORT(CVM_STAGE_USER, id, guest_apic_read(APIC_REG_LDR), dfr);
}

static void ap_main(unsigned int index, uint32_t id)
{
	setup_logical();
	atomic_fetch_add32(&ready, 1);
	GUEST_ASSERT(guest_wait_ge_hlt(&arrived_barrier[id], 1, KIT_TSC_TIMEOUT_LONG));
}

static uint32_t sent;

/* Sends one logical IPI to dest, expected by the APIC IDs in targets[0..n). */
static void send(uint32_t dest, const uint32_t *targets, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		want[targets[i]]++;
	GUEST_ASSERT(guest_apic_send_ipi(dest, APIC_DEST_LOGICAL | APIC_DM_FIXED |
	                                               APIC_LEVEL_ASSERT | VEC));
	sent++;
	for (unsigned int i = 0; i < n; i++)
		GUEST_ASSERT_MSG(
		        guest_wait_ge(&hits[targets[i]], want[targets[i]], KIT_TSC_TIMEOUT_STEP),
		        "ipi_logical: IPI to logical 0x%x lost at APIC ID %u", dest, targets[i]);
}

void guest_main(void)
{
	const char *cmdline = guest_boot_cmdline();
	model = kit_cmdline_is(cmdline, "mode", "x2cluster") ? X2CLUSTER
	        : kit_cmdline_is(cmdline, "mode", "cluster") ? CLUSTER
	                                                     : FLAT;
	static const unsigned int max[4] = {0, 8, 60, 255};
	static const char *const names[4] = {"", "flat", "cluster", "x2cluster"};
	unsigned int n = guest_fwcfg_nb_cpus();
	GUEST_ASSERT_MSG(n >= 2 && n <= max[model], "ipi_logical: %s needs 2 to %u vCPUs, not %u",
	                 names[model], max[model], n);
	guest_apic_set_mode(model == X2CLUSTER ? GUEST_APIC_X2APIC : GUEST_APIC_XAPIC);
	bsp_id = guest_apic_id();
	guest_set_irq_handler(VEC, on_ipi);
	guest_set_irq_handler(BARRIER, on_ipi);
	setup_logical();
	guest_smp_boot(ap_main);
	GUEST_ASSERT(guest_wait_ge(&ready, n - 1, KIT_TSC_TIMEOUT_LONG));

	uint32_t ids[256], k = 0;
	for (unsigned int i = 0; i < n - 1; i++)
		ids[k++] = guest_smp_ap_id(i);
	for (unsigned int i = 0; i < k; i++)
		send(logical_of(ids[i]), &ids[i], 1);

	/* Groups: flat is one group; cluster models group by everything but the member bit. */
	uint32_t group_mask = model == FLAT ? 0 : model == CLUSTER ? 0xf0 : 0xffff0000u;
	for (unsigned int i = 0; i < k; i++) {
		uint32_t group = logical_of(ids[i]) & group_mask, dest = group, members[256];
		unsigned int m = 0;
		bool first = true;
		for (unsigned int j = 0; j < k; j++) {
			if ((logical_of(ids[j]) & group_mask) != group)
				continue;
			first = first && j >= i;
			dest |= logical_of(ids[j]) & ~group_mask;
			members[m++] = ids[j];
		}
		if (first) /* one IPI per group, sent when its first member comes up */
			send(dest, members, m);
	}

	/* Nobody: flat bit 7 with fewer than 8 vCPUs; an empty cluster otherwise. */
	uint32_t nobody = model == FLAT      ? (n < 8 ? 0x80u : 0)
	                  : model == CLUSTER ? 0xe1u
	                                     : 0x00ff0001u;
	if (nobody) {
		GUEST_ASSERT(guest_apic_send_ipi(nobody, APIC_DEST_LOGICAL | APIC_DM_FIXED |
		                                                 APIC_LEVEL_ASSERT | VEC));
		sent++;
	}

	guest_smp_release_aps(n - 1, BARRIER);
	guest_irq_window(KIT_TSC_WINDOW);
	uint32_t total = 0;
	for (unsigned int id = 0; id < 256; id++) {
		GUEST_ASSERT_MSG(hits[id] == want[id],
		                 "ipi_logical: APIC ID %u got %u IPIs, want %u", id, hits[id],
		                 want[id]);
		total += hits[id];
	}
	GUEST_REPORT(CVM_STAGE_USER + 1, sent, total, model);
	guest_printf("ipi_logical: PASS: %s, %u vCPUs, %u IPIs, %u deliveries\n", names[model], n,
	             sent, total);
	GUEST_DONE();
}
