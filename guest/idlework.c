/*
 * Idle-work test guest (tests/vmm/test_idle_work.c, bench/idle): every vCPU
 * runs a loop whose progress the host reads in the shared page
 * (guest/idlework.h, IDLEWORK_SHARED), so that the host can tell what the guest
 * did while it submitted work, kicked vCPUs or raised interrupts. It runs until
 * the host ends the VM (or a DONE command).
 *
 * Command line: mode=cycle|spin|cmd (default cycle).
 *   cycle: every vCPU alternates compute (work=N loop turns, default 200,
 *     progress[i] += 1 per turn) and a HLT with interrupts on until its local
 *     APIC's TSC-deadline timer (the kit's wake vector) fires sleep=TICKS later
 *     (default 1000000);
 *     cycles[i] counts the HLTs. APs are started first.
 *   spin: every vCPU spins with interrupts off, bumping progress[i]: it never
 *     leaves the guest by itself.
 *   cmd: each vCPU carries out the commands the host writes to cmd[i] (enum
 *     idlework_op), acking each in ack[i]; between commands it spins with
 *     interrupts off. The BSP starts no AP by itself.
 * Interrupts: I/O APIC pin IDLEWORK_PIN_IRQ(i) is routed to vCPU i (fixed,
 *   edge, vector IDLEWORK_VECTOR(i), counted in irqs[i]); pin
 *   IDLEWORK_PIN_NMI(i) sends it an NMI (counted in nmis[i]).
 * Reports: REPORT stage 100 once per vCPU when its loop starts (args[1] = APIC
 * ID); ASSERT when a vCPU's APIC ID is beyond IDLEWORK_MAX_CPUS.
 */
#include "guest/idlework.h"

#include "arch/x86/guest_abi.h"
#include "guest/lib/kit.h"

enum { MODE_CYCLE, MODE_SPIN, MODE_CMD };

static int mode = MODE_CYCLE;
static uint64_t work = 200, sleep_ticks = 1000000;

static struct idlework_shared *sh(void)
{
	return (struct idlework_shared *)(uintptr_t)IDLEWORK_SHARED;
}

static void on_irq(struct guest_exception_frame *f)
{
	(void)f;
	sh()->irqs[guest_apic_id() % IDLEWORK_MAX_CPUS]++;
	guest_apic_eoi();
}

static void on_nmi(struct guest_exception_frame *f)
{
	(void)f;
	sh()->nmis[guest_apic_id() % IDLEWORK_MAX_CPUS]++;
}

static void cycle_loop(uint32_t id)
{
	struct idlework_shared *s = sh();

	for (;;) {
		for (uint64_t k = 0; k < work; k++)
			s->progress[id]++;
		guest_timer_deadline(KIT_WAKE_VECTOR, rdtsc() + sleep_ticks);
		while (rdmsr(MSR_IA32_TSC_DEADLINE) != 0)
			sti_hlt_cli();
		s->cycles[id]++;
	}
}

static void spin_loop(uint32_t id)
{
	struct idlework_shared *s = sh();

	cli();
	for (;;)
		s->progress[id]++;
}

/* Waits (interrupts off) for a command other than `last`; bumps progress meanwhile. */
static uint64_t next_cmd(uint32_t id, uint64_t last)
{
	struct idlework_shared *s = sh();
	uint64_t c;

	while ((c = s->cmd[id]) == last)
		s->progress[id]++;
	return c;
}

static void cmd_loop(uint32_t id)
{
	struct idlework_shared *s = sh();
	uint64_t c = 0;

	for (;;) {
		c = next_cmd(id, c);
		switch (c & 0xff) {
		case IW_SPIN:
			break;
		case IW_HLT:
			sti_hlt_cli();
			break;
		case IW_CLI_HLT:
			__asm__ volatile("cli; hlt" ::: "memory");
			break;
		case IW_OUT:
			outb(0x80, (uint8_t)id);
			break;
		case IW_START_ALL: {
			unsigned int n = guest_fwcfg_nb_cpus();
			GUEST_ASSERT_EQ(guest_smp_start_all(n - 1, KIT_TSC_TIMEOUT_LONG), n - 1);
			break;
		}
		case IW_INIT:
			guest_smp_send_init((uint32_t)s->arg[id], 0);
			break;
		case IW_SIPI:
			guest_smp_send_sipi((uint32_t)s->arg[id], 0, KIT_SIPI_VECTOR);
			break;
		case IW_DONE:
			GUEST_DONE();
			break;
		default:
			GUEST_FAIL("idlework: unknown command 0x%lx on vcpu %u", c, id);
		}
		s->cycles[id]++;
		s->ack[id] = c >> 8;
	}
}

static void vcpu_main(void)
{
	uint32_t id = guest_apic_id();

	GUEST_ASSERT_MSG(id < IDLEWORK_MAX_CPUS, "idlework: APIC ID %u beyond %u", id,
	                 IDLEWORK_MAX_CPUS);
	__atomic_fetch_or(&sh()->ready, 1ull << id, __ATOMIC_SEQ_CST);
	GUEST_REPORT(CVM_STAGE_USER, id, 0, 0);
	if (mode == MODE_SPIN)
		spin_loop(id);
	else if (mode == MODE_CMD)
		cmd_loop(id);
	else
		cycle_loop(id);
}

static void ap_main(unsigned int index, uint32_t apic_id)
{
	(void)index;
	(void)apic_id;
	vcpu_main();
}

static uint64_t arg_u64(const char *key, uint64_t def, uint64_t lo, uint64_t hi)
{
	uint64_t v;
	int r = kit_cmdline_u64(guest_boot_cmdline(), key, &v);

	if (r == 0)
		return def;
	GUEST_ASSERT_MSG(r == 1 && v >= lo && v <= hi, "idlework: bad %s= on the command line",
	                 key);
	return v;
}

void guest_main(void)
{
	const char *cl = guest_boot_cmdline();
	unsigned int n = guest_fwcfg_nb_cpus();

	if (kit_cmdline_is(cl, "mode", "spin"))
		mode = MODE_SPIN;
	else if (kit_cmdline_is(cl, "mode", "cmd"))
		mode = MODE_CMD;
	else
		GUEST_ASSERT_MSG(!kit_cmdline_has(cl, "mode") ||
		                         kit_cmdline_is(cl, "mode", "cycle"),
		                 "idlework: unknown mode= (cycle, spin, cmd)");
	work = arg_u64("work", 200, 1, 1ull << 32);
	sleep_ticks = arg_u64("sleep", 1000000, 1, 1ull << 40);
	memset(sh(), 0, sizeof(*sh()));
	guest_set_nmi_handler(on_nmi);
	for (unsigned int i = 0; i < IDLEWORK_MAX_CPUS && i < n; i++) {
		guest_set_irq_handler(IDLEWORK_VECTOR(i), on_irq);
		guest_ioapic_route(IDLEWORK_PIN_IRQ(i), (uint8_t)IDLEWORK_VECTOR(i), 0, (uint8_t)i);
		if (i < IDLEWORK_NMI_CPUS)
			guest_ioapic_route(IDLEWORK_PIN_NMI(i), 0, 0x400 /* NMI */, (uint8_t)i);
	}
	guest_smp_prepare(ap_main);
	if (mode != MODE_CMD && n > 1)
		GUEST_ASSERT_EQ(guest_smp_start_all(n - 1, KIT_TSC_TIMEOUT_LONG), n - 1);
	vcpu_main();
}
