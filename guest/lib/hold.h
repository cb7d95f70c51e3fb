/*
 * Protected-state AP boot and the AP reset hold for guests
 * (docs/protected-state.md).
 *
 * Linking any of this declares the kit's AP initial-state note (measured.S):
 * under `corevm run --protected-state` every AP's first INIT-SIPI-SIPI starts
 * it at the kit's measured entry, in long mode on the kit's page tables, with
 * the stack of its vCPU index, whatever the SIPI vector. Without protected
 * state the same entry is reached by SIPIs to KIT_MEASURED_SIPI_VECTOR (a
 * trampoline rebuilds that state), so one guest runs both ways. The entry
 * loads the IDT, enables the APIC in the mode the BSP had when it sent its
 * INIT (guest_smp_send_init) and calls the callback. Do not mix it with
 * guest_smp_start_*(): both use the kit's AP stacks, by different indices.
 *
 * Call order on the BSP: read the command line (QEMU's multiboot loader may
 * leave boot information in the trampoline page), guest_measured_prepare(fn),
 * then INIT and SIPIs (guest_smp_send_init / guest_smp_send_sipi with
 * KIT_MEASURED_SIPI_VECTOR).
 */
#ifndef GUEST_LIB_HOLD_H
#define GUEST_LIB_HOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "guest/lib/layout.h"

/* The SIPI vector of the measured-entry trampoline (page 0x9000). */
#define KIT_MEASURED_SIPI_VECTOR 0x09

/* GHCB MSR protocol (the GHCB specification, section "GHCB MSR protocol"). */
#define KIT_MSR_GHCB           0xC0010130u
#define KIT_GHCB_INFO_MASK     0xfffull
#define KIT_GHCB_HOLD_REQUEST  0x006u
#define KIT_GHCB_HOLD_RESPONSE 0x007u

/*
 * Runs on an AP at the measured entry: `vcpu` its index (= initial APIC ID),
 * `entries` how many times this vCPU came through the entry before (0 on its
 * first boot; more when an INIT-SIPI restarted it without protected state).
 * May return: the AP then halts for good with interrupts off.
 */
typedef void (*guest_measured_fn)(unsigned int vcpu, unsigned int entries);

/* Installs the measured trampoline at KIT_MEASURED_SIPI_VECTOR and records fn (not NULL). */
void guest_measured_prepare(guest_measured_fn fn);

/* Times vCPU `vcpu` entered the measured entry (its callback started). */
unsigned int guest_measured_entries(unsigned int vcpu);

/* Waits (bounded) until vCPU `vcpu` entered the measured entry `n` times; whether it did. */
bool guest_measured_wait(unsigned int vcpu, unsigned int n, uint64_t timeout_tsc);

/* The GHCB MSR, raw. */
uint64_t guest_ghcb_read(void);
void guest_ghcb_write(uint64_t value);

/*
 * Parks this vCPU by AP reset hold until an INIT-SIPI wakes it: requests the
 * hold and reads the response, again while the response says "not woken"
 * (0x007 with GHCBData 0), at most `tries` times. Then re-enables the local
 * APIC (INIT left it software-disabled). Returns the last response (0x007
 * with non-zero bits 63:12 when woken).
 */
uint64_t guest_ap_reset_hold(unsigned int tries);

/* The registers after a checked hold, as kit_hold_checked stored them. */
struct kit_hold_regs {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax, rsp;
};

/* What guest_ap_reset_hold_checked() found. */
struct guest_hold_result {
	uint64_t response; /* EDX:EAX of the RDMSR after the wake */
	uint32_t bad_regs; /* bit per register that does not hold its function of the canary */
	bool woken;        /* response 0x007 with non-zero GHCBData */
};

/* Bits of guest_hold_result.bad_regs. */
#define KIT_HOLD_BAD_RBP 0x001
#define KIT_HOLD_BAD_RSI 0x002
#define KIT_HOLD_BAD_RDI 0x004
#define KIT_HOLD_BAD_R8  0x008
#define KIT_HOLD_BAD_R9  0x010
#define KIT_HOLD_BAD_R10 0x020
#define KIT_HOLD_BAD_R11 0x040
#define KIT_HOLD_BAD_R12 0x080
#define KIT_HOLD_BAD_R13 0x100
#define KIT_HOLD_BAD_R15 0x200
#define KIT_HOLD_BAD_RSP 0x400 /* RSP moved, or R14 changed */
#define KIT_HOLD_BAD_RCX 0x800

/*
 * One AP reset hold with a register check (kit_hold_checked in measured.S):
 * a canary from RDRAND and the TSC, kept only in registers while the vCPU is
 * held, must be intact in every general-purpose register and RSP after the
 * wake. Does not re-enable the APIC (see guest_ap_reset_hold()).
 */
void guest_ap_reset_hold_checked(struct guest_hold_result *res);

/* Software-enables this vCPU's APIC in the mode the BSP used for its INIT (after a wake). */
void guest_hold_apic_on(void);

#endif
