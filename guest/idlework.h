/*
 * The page the idlework guest shares with its host (tests/vmm/test_idle_work.c,
 * bench/idle): progress counters the guest bumps and commands the host gives,
 * at a fixed guest-physical address, plain fixed-width fields only.
 */
#ifndef GUEST_IDLEWORK_H
#define GUEST_IDLEWORK_H

#include <stdint.h>

#define IDLEWORK_SHARED   0x6000u /* guest-physical; below the trampoline, unused by the kit */
#define IDLEWORK_MAX_CPUS 8

/* I/O APIC pins: vCPU i's fixed interrupt on pin 16 + i (vector 0x40 + i), its NMI on 20 + i. */
#define IDLEWORK_PIN_IRQ(i) (16u + (i))
#define IDLEWORK_PIN_NMI(i) (20u + (i))
#define IDLEWORK_VECTOR(i)  (0x40u + (i))
#define IDLEWORK_NMI_CPUS   4 /* pins 20..23 */

/* Commands (mode=cmd): cmd[i] = seq << 8 | op; the guest acks with ack[i] = seq when done. */
enum idlework_op {
	IW_SPIN = 1,  /* spin with interrupts off until the next command */
	IW_HLT,       /* sti; hlt; cli once (an interrupt ends it), then spin */
	IW_CLI_HLT,   /* hlt with interrupts off (only an NMI ends it), then spin */
	IW_OUT,       /* one port write (an exit to corevm), then spin */
	IW_START_ALL, /* BSP: start every AP (INIT-SIPI-SIPI broadcast), wait for them */
	IW_INIT,      /* BSP: INIT to the APIC ID in arg */
	IW_SIPI,      /* BSP: SIPI (the kit's trampoline) to the APIC ID in arg */
	IW_DONE,      /* end the guest (ucall DONE) */
};

struct idlework_shared {
	volatile uint64_t progress[IDLEWORK_MAX_CPUS]; /* compute loop turns */
	volatile uint64_t cycles[IDLEWORK_MAX_CPUS];   /* mode=cycle: HLTs done; cmd: commands */
	volatile uint64_t irqs[IDLEWORK_MAX_CPUS];     /* interrupts on IDLEWORK_VECTOR(i) */
	volatile uint64_t nmis[IDLEWORK_MAX_CPUS];
	volatile uint64_t cmd[IDLEWORK_MAX_CPUS];
	volatile uint64_t arg[IDLEWORK_MAX_CPUS];
	volatile uint64_t ack[IDLEWORK_MAX_CPUS];
	volatile uint64_t ready; /* bit i: vCPU i runs its loop */
};

#endif
