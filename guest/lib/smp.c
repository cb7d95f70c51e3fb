/* INIT-SIPI-SIPI AP bring-up and the AP side of the kit (see smp.h). */
#include "guest/lib/smp.h"

#include "arch/x86/guest_abi.h"
#include "guest/lib/apic.h"
#include "guest/lib/atomic.h"
#include "guest/lib/fwcfg.h"
#include "guest/lib/trap.h"
#include "guest/lib/ucall.h"
#include "guest/lib/util.h"
#include "guest/lib/wait.h"
#include "guest/lib/x86.h"

extern const uint8_t kit_trampoline_start[], kit_trampoline_end[];
extern volatile uint32_t kit_ap_counter, kit_ap_overflow;

/* The trampoline must leave 0x9000 alone: QEMU's multiboot loader puts its info there. */
#define TRAMPOLINE_MAX 0x1000u

static guest_ap_fn ap_fn;
static volatile uint32_t ap_ids[KIT_MAX_APS]; /* APIC ID + 1 by AP index; 0 = not yet */
static volatile uint32_t ap_apic_mode;
static volatile uint32_t aps_finished;
static volatile uint32_t aps_started; /* APIC enabled, callback about to run */

void guest_smp_prepare(guest_ap_fn fn)
{
	size_t len = (size_t)(kit_trampoline_end - kit_trampoline_start);
	GUEST_ASSERT(fn);
	GUEST_ASSERT_MSG(len <= TRAMPOLINE_MAX && len <= CVM_GUEST_TRAMPOLINE_SIZE,
	                 "smp: trampoline is %lu bytes", (uint64_t)len);
	memcpy((void *)(uintptr_t)CVM_GUEST_TRAMPOLINE, kit_trampoline_start, len);
	ap_fn = fn;
}

unsigned int guest_smp_aps_arrived(void)
{
	return atomic_load32(&kit_ap_counter);
}

unsigned int guest_smp_aps_finished(void)
{
	return atomic_load32(&aps_finished);
}

unsigned int guest_smp_aps_overflow(void)
{
	return atomic_load32(&kit_ap_overflow);
}

bool guest_smp_wait_finished(unsigned int n, uint64_t timeout_tsc)
{
	return guest_wait_ge(&aps_finished, n, timeout_tsc);
}

static void send_or_fail(uint32_t dest, uint32_t icr_lo)
{
	if (!guest_apic_send_ipi(dest, icr_lo))
		GUEST_FAIL("smp: IPI 0x%x to APIC ID %u stays send-pending", icr_lo, dest);
}

void guest_smp_send_init(uint32_t dest, uint32_t shorthand)
{
	ap_apic_mode = guest_apic_mode();
	send_or_fail(dest, shorthand | APIC_DM_INIT | APIC_LEVEL_ASSERT | APIC_TRIGGER_LEVEL);
	/* The de-assert only exists in xAPIC mode (the SDM drops it for x2APIC). */
	if (ap_apic_mode == GUEST_APIC_XAPIC)
		send_or_fail(dest, shorthand | APIC_DM_INIT | APIC_TRIGGER_LEVEL);
}

void guest_smp_send_sipi(uint32_t dest, uint32_t shorthand, uint8_t vector)
{
	ap_apic_mode = guest_apic_mode();
	send_or_fail(dest, shorthand | APIC_DM_STARTUP | vector);
}

/* INIT assert, [INIT de-assert], SIPI, wait (bounded) for target, SIPI, wait. */
static bool init_sipi_sipi(uint32_t dest, uint32_t shorthand, uint32_t target, uint64_t timeout_tsc)
{
	GUEST_ASSERT_MSG(ap_fn, "smp: guest_smp_prepare() was not called");
	guest_smp_send_init(dest, shorthand);
	guest_smp_send_sipi(dest, shorthand, KIT_SIPI_VECTOR);
	guest_wait_ge(&kit_ap_counter, target, KIT_TSC_SIPI_GAP);
	guest_smp_send_sipi(dest, shorthand, KIT_SIPI_VECTOR);
	return guest_wait_ge(&kit_ap_counter, target, timeout_tsc);
}

unsigned int guest_smp_boot(guest_ap_fn fn)
{
	unsigned int n = guest_fwcfg_nb_cpus();
	guest_smp_prepare(fn);
	if (n > 1) {
		unsigned int got = guest_smp_start_all(n - 1, KIT_TSC_TIMEOUT_LONG);
		GUEST_ASSERT_MSG(got == n - 1, "smp: %u of %u APs arrived", got, n - 1);
		/* A software-disabled APIC drops fixed IPIs: wait until every AP enabled its own. */
		GUEST_ASSERT_MSG(guest_wait_ge(&aps_started, n - 1, KIT_TSC_TIMEOUT_LONG),
		                 "smp: %u of %u APs got to their callback", aps_started, n - 1);
	}
	return n;
}

uint32_t guest_smp_ap_id(unsigned int index)
{
	GUEST_ASSERT_MSG(index < KIT_MAX_APS, "smp: AP index %u", index);
	GUEST_ASSERT_MSG(guest_wait_ge(&ap_ids[index], 1, KIT_TSC_TIMEOUT_LONG),
	                 "smp: AP %u never reported its APIC ID", index);
	return atomic_load32(&ap_ids[index]) - 1;
}

void guest_smp_release_aps(unsigned int n_aps, uint8_t vector)
{
	for (unsigned int i = 0; i < n_aps; i++)
		send_or_fail(guest_smp_ap_id(i), APIC_DM_FIXED | APIC_LEVEL_ASSERT | vector);
	GUEST_ASSERT_MSG(guest_smp_wait_finished(n_aps, KIT_TSC_TIMEOUT_LONG),
	                 "smp: %u of %u APs finished after the release IPI",
	                 guest_smp_aps_finished(), n_aps);
}

unsigned int guest_smp_start_all(unsigned int expected, uint64_t timeout_tsc)
{
	uint32_t before = guest_smp_aps_arrived();
	init_sipi_sipi(0, APIC_DEST_ALL_BUT_SELF, before + expected, timeout_tsc);
	return guest_smp_aps_arrived() - before;
}

bool guest_smp_start_one(uint32_t apic_id, uint64_t timeout_tsc)
{
	uint32_t before = guest_smp_aps_arrived();
	return init_sipi_sipi(apic_id, 0, before + 1, timeout_tsc);
}

/* hold.c: the mode APs take (the BSP's at its last INIT or SIPI; xAPIC before any). */
enum guest_apic_mode kit_smp_ap_apic_mode(void);
enum guest_apic_mode kit_smp_ap_apic_mode(void)
{
	return ap_apic_mode ? (enum guest_apic_mode)ap_apic_mode : GUEST_APIC_XAPIC;
}

/* Called by entry.S on the AP's own stack; never returns. */
__attribute__((noreturn)) void kit_ap_main(unsigned int index);
void kit_ap_main(unsigned int index)
{
	kit_idt_load();
	guest_apic_set_mode((enum guest_apic_mode)ap_apic_mode);
	uint32_t id = guest_apic_id();
	atomic_store32(&ap_ids[index], id + 1);
	atomic_fetch_add32(&aps_started, 1);
	ap_fn(index, id);
	atomic_fetch_add32(&aps_finished, 1);
	kit_halt_forever();
}
