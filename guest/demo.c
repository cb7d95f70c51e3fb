/*
 * The bundled demo guest (what `make demo` runs): starts every AP with one
 * broadcast INIT-SIPI-SIPI, lets each say hello, prints a summary and ends the
 * VM through the debug-exit port.
 *
 * Reports (ucall):
 *   each AP: REPORT stage CVM_STAGE_AP_ONLINE, args[1] = APIC ID, args[2] = AP index
 * Serial output:
 *   "demo: booted by <multiboot|PVH> on <N> vCPUs, BSP APIC ID <id>"
 *   per AP, one line: "demo: AP <index> online, APIC ID <id>"
 *   then "demo: summary: ..." lines and finally "demo: all <N> vCPUs online, exiting with 0"
 * Ends: debug exit value 0 (process status 1) when all NB_CPUS - 1 APs came up
 * with distinct APIC IDs; otherwise a failed assertion (ucall ASSERT, then
 * debug exit KIT_EXIT_VALUE_ASSERT).
 */
#include "guest/lib/kit.h"

static volatile uint32_t id_seen[256];

static void ap_main(unsigned int index, uint32_t apic_id)
{
	GUEST_REPORT(CVM_STAGE_AP_ONLINE, apic_id, index, 0);
	GUEST_ASSERT_MSG(apic_id < ARRAY_SIZE(id_seen), "demo: AP %u has APIC ID %u", index,
	                 apic_id);
	atomic_fetch_add32(&id_seen[apic_id], 1);
	guest_printf("demo: AP %u online, APIC ID %u\n", index, apic_id);
}

/* Prints the set of APIC IDs seen as ranges: "0-3 5 7-9". */
static void print_ids(void)
{
	guest_console_lock();
	guest_printf_locked("demo: summary: APIC IDs online:");
	for (unsigned int i = 0; i < ARRAY_SIZE(id_seen); i++) {
		if (!id_seen[i])
			continue;
		unsigned int j = i;
		while (j + 1 < ARRAY_SIZE(id_seen) && id_seen[j + 1])
			j++;
		if (j == i)
			guest_printf_locked(" %u", i);
		else
			guest_printf_locked(" %u-%u", i, j);
		i = j;
	}
	guest_printf_locked("\n");
	guest_console_unlock();
}

void guest_main(void)
{
	uint64_t t0 = rdtsc();
	unsigned int ncpus = guest_fwcfg_nb_cpus();
	uint32_t bsp_id = guest_apic_id();
	const char *proto = guest_boot_protocol_name(guest_boot_protocol());
	guest_printf("demo: booted by %s on %u vCPUs, BSP APIC ID %u\n", proto, ncpus, bsp_id);
	GUEST_ASSERT_MSG(bsp_id < ARRAY_SIZE(id_seen), "demo: BSP APIC ID %u", bsp_id);
	id_seen[bsp_id] = 1;

	guest_apic_set_mode(GUEST_APIC_XAPIC);
	guest_smp_prepare(ap_main);
	unsigned int arrived = ncpus > 1 ? guest_smp_start_all(ncpus - 1, KIT_TSC_TIMEOUT_LONG) : 0;
	GUEST_ASSERT_MSG(arrived == ncpus - 1, "demo: %u of %u APs arrived", arrived, ncpus - 1);
	GUEST_ASSERT_MSG(guest_smp_wait_finished(ncpus - 1, KIT_TSC_TIMEOUT_LONG),
	                 "demo: %u of %u APs finished", guest_smp_aps_finished(), ncpus - 1);
	uint64_t ticks = rdtsc() - t0;

	unsigned int online = 0;
	for (unsigned int i = 0; i < ARRAY_SIZE(id_seen); i++) {
		GUEST_ASSERT_MSG(id_seen[i] <= 1, "demo: APIC ID %u reported %u times", i,
		                 id_seen[i]);
		online += id_seen[i];
	}
	uint64_t ram = guest_fwcfg_read64(FW_CFG_RAM_SIZE);
	print_ids();
	guest_printf("demo: summary: boot protocol %s, command line \"%s\"\n", proto,
	             guest_boot_cmdline());
	guest_printf("demo: summary: %u vCPUs (fw_cfg NB_CPUS), RAM %lu MiB (fw_cfg RAM_SIZE)\n",
	             ncpus, ram >> 20);
	guest_printf("demo: summary: bring-up took %lu TSC ticks\n", ticks);
	GUEST_ASSERT_MSG(online == ncpus, "demo: %u distinct APIC IDs for %u vCPUs", online, ncpus);
	guest_printf("demo: all %u vCPUs online, exiting with 0\n", ncpus);
	guest_debug_exit(0);
}
