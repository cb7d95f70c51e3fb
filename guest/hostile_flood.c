/*
 * Flood guest: tries to make corevm allocate without bound, while the BSP
 * keeps making progress steps (guest/hostile.h). Needs at least 2 vCPUs; the
 * four floods go to the APs round-robin (task t to APIC ID 1 + t % APs):
 *   0. UART: `uart=N` KiB (default 64; 16 times corevm's console buffer) of
 *      output with rep outsb, a 4 KiB pattern (byte i of the output is
 *      'a' + i % 26, '\n' every 64th) that the host compares byte for byte
 *      (the guest's string I/O is emulated a byte at a time here: about 25
 *      KiB/s, so more is slow, not more telling);
 *   1. fw_cfg: selects the 4-byte signature and reads 64 KiB from the data
 *      port with rep insb (all but 4 bytes past the end);
 *   2. MMIO: reads and writes one dword in each of 1024 distinct pages of the
 *      MMIO hole from 0xd0000000 (nothing there; corevm tracks 64 pages);
 *   3. ucall: 100000 REPORTs (stage 120, args[1] = sequence number), 10000
 *      PRINTs ("flood"), and 11 kinds of refusable ucalls, 100 each (odd,
 *      4-aligned, at the last dword of RAM, straddling the end of RAM, past
 *      RAM, in the local APIC page, at 0xfffffff8, an unknown command, OUTB,
 *      OUTW, IN): 1100 refusals.
 * Each flood does half its work, waits for BSP progress, then the rest.
 *
 * Reports (ucall):
 *   each AP, once per task it ran: REPORT stage 101 (HOSTILE_STAGE_AP),
 *     args[1] = task, args[2] = bytes or items, args[3] = BSP steps meanwhile
 *     (the ucall task reports before its flood, so that this report is among
 *     the 32 corevm keeps)
 *   the BSP: REPORT stage 100 (HOSTILE_STAGE_SUMMARY); then DONE.
 */
#include "guest/hostile.h"

#define TASKS       4
#define STAGE_FLOOD (CVM_STAGE_USER + 20)
#define REPORTS     100000
#define PRINTS      10000
#define BAD_EACH    100
#define MMIO_PAGES  1024
#define MMIO_BASE   0xd0000000ull
#define FWCFG_BYTES (64u << 10)

static unsigned int naps;
static uint64_t ram_size, uart_bytes;
static uint8_t out_buf[4096], in_buf[4096]; /* APs run the floods at the same time */

static void uart_flood(uint64_t s0)
{
	for (unsigned int i = 0; i < sizeof(out_buf); i++)
		out_buf[i] = (i % 64 == 63) ? '\n' : (uint8_t)('a' + i % 26);
	for (uint64_t done = 0; done < uart_bytes; done += sizeof(out_buf)) {
		if (done == uart_bytes / 2)
			hostile_wait_progress(s0);
		__asm__ volatile("rep outsb"
		                 : "+S"((const uint8_t *){out_buf}),
		                   "+c"((uint64_t){sizeof(out_buf)})
		                 : "d"(CVM_PORT_UART0)
		                 : "memory");
	}
}

static void fwcfg_flood(uint64_t s0)
{
	outw(CVM_PORT_FW_CFG_SEL, FW_CFG_SIGNATURE);
	for (uint32_t done = 0; done < FWCFG_BYTES; done += sizeof(in_buf)) {
		if (done == FWCFG_BYTES / 2)
			hostile_wait_progress(s0);
		__asm__ volatile("rep insb"
		                 : "+D"((uint8_t *){in_buf}), "+c"((uint64_t){sizeof(in_buf)})
		                 : "d"(CVM_PORT_FW_CFG_DATA)
		                 : "memory");
	}
}

static void mmio_flood(uint64_t s0)
{
	for (uint64_t p = 0; p < MMIO_PAGES; p++) {
		uint64_t a = MMIO_BASE + (p << 12);
		if (p == MMIO_PAGES / 2)
			hostile_wait_progress(s0);
		GUEST_ASSERT_EQ(mmio_read32(a), 0xffffffffu); /* nothing there: all ones */
		mmio_write32(a, (uint32_t)p);
	}
}

/* One ucall corevm must refuse; `how` picks the kind. */
static void bad_ucall(unsigned int how, struct cvm_ucall *uc)
{
	uint32_t gpa = (uint32_t)(uintptr_t)uc;
	switch (how) {
	case 0:
		outl(CVM_PORT_UCALL, gpa | 1);
		break;
	case 1:
		outl(CVM_PORT_UCALL, gpa + 4);
		break;
	case 2:
		outl(CVM_PORT_UCALL, (uint32_t)ram_size - 8);
		break;
	case 3:
		outl(CVM_PORT_UCALL, (uint32_t)ram_size - 64);
		break;
	case 4:
		outl(CVM_PORT_UCALL, (uint32_t)ram_size);
		break;
	case 5:
		outl(CVM_PORT_UCALL, CVM_GUEST_LAPIC_BASE);
		break;
	case 6:
		outl(CVM_PORT_UCALL, 0xfffffff8u);
		break;
	case 7:
		uc->cmd = 0x7fff;
		outl(CVM_PORT_UCALL, gpa);
		break;
	case 8:
		outb(CVM_PORT_UCALL, (uint8_t)gpa);
		break;
	case 9:
		outw(CVM_PORT_UCALL, (uint16_t)gpa);
		break;
	default:
		(void)inl(CVM_PORT_UCALL);
		break;
	}
}
#define BAD_KINDS 11

/* Floods with one prepared ucall structure, as a hostile guest would (a store and an OUT each). */
static void ucall_flood(uint64_t s0)
{
	static struct cvm_ucall uc __attribute__((aligned(8)));
	uint32_t gpa = (uint32_t)(uintptr_t)&uc;

	memset(&uc, 0, sizeof(uc));
	uc.cmd = CVM_UCALL_REPORT;
	uc.args[0] = STAGE_FLOOD;
	for (unsigned int i = 0; i < REPORTS; i++) {
		if (i == REPORTS / 2)
			hostile_wait_progress(s0);
		uc.args[1] = i;
		outl(CVM_PORT_UCALL, gpa);
	}
	uc.cmd = CVM_UCALL_PRINT;
	memcpy(uc.msg, "flood", 6);
	for (unsigned int i = 0; i < PRINTS; i++)
		outl(CVM_PORT_UCALL, gpa);
	for (unsigned int i = 0; i < BAD_KINDS * BAD_EACH; i++) {
		uc.cmd = CVM_UCALL_REPORT;
		bad_ucall(i % BAD_KINDS, &uc);
	}
}

static void ap(unsigned int index, uint32_t apic_id)
{
	(void)index;
	for (unsigned int t = 0; t < TASKS; t++) {
		uint64_t s0 = hostile_steps_now(), items;
		if (1 + t % naps != apic_id)
			continue;
		switch (t) {
		case 0:
			items = uart_bytes;
			break;
		case 1:
			items = FWCFG_BYTES;
			break;
		case 2:
			items = MMIO_PAGES;
			break;
		default:
			items = REPORTS + PRINTS + BAD_KINDS * BAD_EACH;
			break;
		}
		if (t ==
		    3) /* before the flood, or it would not be among the reports corevm keeps */
			GUEST_REPORT(HOSTILE_STAGE_AP, t, items, 0);
		switch (t) {
		case 0:
			uart_flood(s0);
			break;
		case 1:
			fwcfg_flood(s0);
			break;
		case 2:
			mmio_flood(s0);
			break;
		default:
			ucall_flood(s0);
			break;
		}
		if (t != 3)
			GUEST_REPORT(HOSTILE_STAGE_AP, t, items, hostile_steps_now() - s0);
	}
	hostile_ap_done();
}

void guest_main(void)
{
	uint64_t kib = 64;
	const char *v;
	size_t len;

	naps = guest_fwcfg_nb_cpus() - 1;
	ram_size = guest_fwcfg_read64(FW_CFG_RAM_SIZE);
	GUEST_ASSERT_MSG(ram_size >= (8u << 20) && ram_size < 0xc0000000ull,
	                 "flood: needs 8 MiB to 3 GiB of RAM, has %lu", ram_size);
	if (kit_cmdline_find(guest_boot_cmdline(), "uart", &v, &len))
		GUEST_ASSERT(kit_parse_u64(v, len, &kib) && kib % 4 == 0 && kib <= 65536);
	uart_bytes = kib << 10;
	hostile_start(ap, 2);
	hostile_progress(naps, 0);
	GUEST_DONE();
}
