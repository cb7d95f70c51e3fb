/*
 * Real-mode SIPI stubs: a few instructions that an AP runs straight from
 * INIT-SIPI, without going to long mode. The stub records, per initial APIC ID
 * (CPUID.1:EBX[31:24]), the TSC at entry and the value of `cycle`, optionally
 * sends one ucall prepared by the BSP (so that corevm can count reports per
 * vCPU without the AP leaving real mode), counts its arrival with lock incl,
 * and parks in HLT with interrupts off until the next INIT (or, with `spin`
 * set, spins there: an AP that never halts is RUNNABLE whatever the timing).
 *
 * A stub occupies the 4 KiB page vector << 12 (code first, then struct
 * kit_rmstub at KIT_RMSTUB_DATA); vectors 0x0a-0x0f lie in the trampoline area
 * the guest ABI reserves, above the kit's own trampoline (0x08) and the page
 * QEMU's multiboot loader uses (0x09). Installing overwrites whatever boot
 * information a loader may have left there: read the command line first.
 * Initial APIC IDs above 254 are not supported (the kit's limit too).
 */
#ifndef GUEST_LIB_RMSTUB_H
#define GUEST_LIB_RMSTUB_H

#define KIT_RMSTUB_DATA       0x100 /* offset of struct kit_rmstub in the stub's page */
#define KIT_RMSTUB_ARRIVED    0x00
#define KIT_RMSTUB_CYCLE      0x04
#define KIT_RMSTUB_UCALL      0x08
#define KIT_RMSTUB_SPIN       0x0c
#define KIT_RMSTUB_SEEN       0x10
#define KIT_RMSTUB_TSC        0x410
#define KIT_RMSTUB_UCALL_BUF  0xc10
#define KIT_RMSTUB_FIRST_VEC  0x0a
#define KIT_RMSTUB_LAST_VEC   0x0f
#define KIT_RMSTUB_UCALL_PORT 0xe0 /* CVM_PORT_UCALL (checked in rmstub.c) */

#ifndef __ASSEMBLER__
#include <stdint.h>

#include "arch/x86/guest_abi.h"

struct kit_rmstub {
	volatile uint32_t arrived;   /* APs that entered the stub (lock incl) */
	volatile uint32_t cycle;     /* set by the BSP; each AP copies it to seen[] */
	volatile uint32_t ucall;     /* if not 0: guest-physical address of a ucall to send */
	volatile uint32_t spin;      /* if not 0: park by spinning (pause loop) instead of HLT */
	volatile uint32_t seen[256]; /* per initial APIC ID: `cycle` when it last arrived */
	volatile uint64_t tsc[256];  /* per initial APIC ID: TSC when it last arrived */
	struct cvm_ucall ucall_buf;  /* where guest_rmstub_set_report() prepares the ucall */
};

_Static_assert(__builtin_offsetof(struct kit_rmstub, spin) == KIT_RMSTUB_SPIN, "spin");
_Static_assert(__builtin_offsetof(struct kit_rmstub, seen) == KIT_RMSTUB_SEEN, "seen");
_Static_assert(__builtin_offsetof(struct kit_rmstub, tsc) == KIT_RMSTUB_TSC, "tsc");
_Static_assert(__builtin_offsetof(struct kit_rmstub, ucall_buf) == KIT_RMSTUB_UCALL_BUF, "ucall");
_Static_assert(KIT_RMSTUB_DATA + sizeof(struct kit_rmstub) <= 0x1000, "one page");

/*
 * Copies the stub to vector << 12 (KIT_RMSTUB_FIRST_VEC..KIT_RMSTUB_LAST_VEC),
 * clears its data (seen[] to 0xffffffff: never arrived) and returns it.
 */
struct kit_rmstub *guest_rmstub_install(uint8_t vector);

/*
 * Makes every AP entering the stub from now on send REPORT(stage, v1, v2, v3)
 * (the same ucall for all of them: the host tells vCPUs apart); off again with
 * guest_rmstub_clear_report(). Change it only while no AP can enter the stub.
 */
void guest_rmstub_set_report(struct kit_rmstub *s, uint64_t stage, uint64_t v1, uint64_t v2,
                             uint64_t v3);
void guest_rmstub_clear_report(struct kit_rmstub *s);

#endif
#endif
