/*
 * Local APIC helpers for guests, in xAPIC mode (MMIO page at 0xfee00000) and
 * x2APIC mode (MSRs 0x800-0x8ff): mode switches through IA32_APIC_BASE, the ID,
 * EOI, register access and IPIs through the ICR. Every function acts on the
 * calling vCPU's APIC and works in whichever mode that APIC is in.
 */
#ifndef GUEST_LIB_APIC_H
#define GUEST_LIB_APIC_H

#include <stdbool.h>
#include <stdint.h>

#define MSR_IA32_APIC_BASE 0x1b
#define APIC_BASE_BSP      (1u << 8)
#define APIC_BASE_EXTD     (1u << 10)
#define APIC_BASE_EN       (1u << 11)
#define MSR_X2APIC_BASE    0x800

/* Register offsets in the xAPIC page (x2APIC MSR = 0x800 + offset / 16). */
#define APIC_REG_ID         0x020
#define APIC_REG_VER        0x030
#define APIC_REG_TPR        0x080
#define APIC_REG_PPR        0x0a0
#define APIC_REG_EOI        0x0b0
#define APIC_REG_LDR        0x0d0
#define APIC_REG_DFR        0x0e0 /* xAPIC only */
#define APIC_REG_SVR        0x0f0
#define APIC_REG_ISR        0x100 /* 8 registers, 0x10 apart: vectors 0-31, 32-63, ... */
#define APIC_REG_TMR        0x180
#define APIC_REG_IRR        0x200
#define APIC_REG_ESR        0x280
#define APIC_REG_ICR_LO     0x300
#define APIC_REG_ICR_HI     0x310 /* xAPIC only: x2APIC has one 64-bit ICR */
#define APIC_REG_LVT_TIMER  0x320
#define APIC_REG_LVT_LINT0  0x350
#define APIC_REG_LVT_LINT1  0x360
#define APIC_REG_LVT_ERROR  0x370
#define APIC_REG_TIMER_ICR  0x380 /* initial count */
#define APIC_REG_TIMER_CCR  0x390 /* current count */
#define APIC_REG_TIMER_DCR  0x3e0 /* divide configuration */
#define MSR_X2APIC_SELF_IPI 0x83f /* x2APIC only: write a vector to send it to self */

#define APIC_LVT_MASKED 0x10000

/* DFR models (xAPIC logical destinations); the LDR's logical ID is bits 31:24. */
#define APIC_DFR_FLAT    0xffffffffu
#define APIC_DFR_CLUSTER 0x0fffffffu

#define APIC_SVR_ENABLE 0x100

/* ICR low word. */
#define APIC_DM_FIXED          0x00000
#define APIC_DM_LOWEST         0x00100
#define APIC_DM_SMI            0x00200
#define APIC_DM_NMI            0x00400
#define APIC_DM_INIT           0x00500
#define APIC_DM_STARTUP        0x00600
#define APIC_DEST_LOGICAL      0x00800
#define APIC_DELIVERY_PENDING  0x01000 /* xAPIC only: send pending */
#define APIC_LEVEL_ASSERT      0x04000
#define APIC_TRIGGER_LEVEL     0x08000
#define APIC_DEST_SELF         0x40000
#define APIC_DEST_ALL          0x80000
#define APIC_DEST_ALL_BUT_SELF 0xc0000

enum guest_apic_mode {
	GUEST_APIC_DISABLED = 0,
	GUEST_APIC_XAPIC = 1,
	GUEST_APIC_X2APIC = 2,
};

/*
 * Kit start-up on the BSP: software-enables the APIC in its current mode and
 * masks LINT0 (KVM leaves the BSP's LINT0 in ExtINT mode, which would let a
 * legacy PIC interrupt in while a vCPU sleeps in a lock wait).
 */
void kit_apic_init(void);

/* CPUID.1:ECX[21]: whether the VMM offers x2APIC (KVM emulates it; trust this bit). */
bool guest_x2apic_supported(void);

/* The mode IA32_APIC_BASE says this vCPU's APIC is in. */
enum guest_apic_mode guest_apic_mode(void);

/*
 * Switches this vCPU's APIC to mode through the transitions the SDM allows
 * (x2APIC -> xAPIC goes through disabled), and when enabling also sets the
 * software-enable bit in the SVR (spurious vector 0xff). Fails the test if
 * x2APIC is asked for and not supported.
 */
void guest_apic_set_mode(enum guest_apic_mode mode);

/* Reads/writes a 32-bit register given by its xAPIC offset, in either mode. */
uint32_t guest_apic_read(uint32_t reg);
void guest_apic_write(uint32_t reg, uint32_t val);

/* This vCPU's APIC ID (8 bits in xAPIC mode, 32 in x2APIC mode). */
uint32_t guest_apic_id(void);

void guest_apic_eoi(void);

/*
 * Sends an IPI: icr_lo is the low ICR word (vector, delivery mode, level,
 * trigger, shorthand), dest the destination APIC ID (ignored with a shorthand).
 * In xAPIC mode waits (bounded) for the previous and this IPI to leave "send
 * pending"; returns false if the APIC never reported it sent.
 */
bool guest_apic_send_ipi(uint32_t dest, uint32_t icr_lo);

/*
 * Sends vector to this vCPU: the x2APIC SELF IPI register in x2APIC mode, the
 * ICR's self shorthand in xAPIC mode. Returns as guest_apic_send_ipi().
 */
bool guest_apic_self_ipi(uint8_t vector);

/* Whether vector's bit is set in IRR, ISR or TMR (the 256-bit registers). */
bool guest_apic_irr(uint8_t vector);
bool guest_apic_isr(uint8_t vector);
bool guest_apic_tmr(uint8_t vector);

/* Task priority (bits 7:4 the class that, with all below it, is masked). */
void guest_apic_set_tpr(uint32_t tpr);
uint32_t guest_apic_tpr(void);

/*
 * xAPIC logical destination set-up: DFR (APIC_DFR_FLAT or APIC_DFR_CLUSTER) and
 * the 8-bit logical ID in LDR[31:24]. Fails the test in x2APIC mode, whose LDR
 * is read-only (use guest_apic_logical_id()).
 */
void guest_apic_set_logical(uint32_t dfr, uint8_t logical_id);

/*
 * This vCPU's logical destination: xAPIC LDR[31:24]; in x2APIC mode the whole
 * read-only LDR ((ID >> 4) << 16 | 1 << (ID & 15), cluster and member bit).
 */
uint32_t guest_apic_logical_id(void);

/*
 * The APIC mode a test guest's command line asks for: apic=x2apic gives
 * GUEST_APIC_X2APIC, anything else (apic=xapic, no apic=) GUEST_APIC_XAPIC.
 */
enum guest_apic_mode guest_apic_mode_from_cmdline(void);

/* "xAPIC", "x2APIC" or "disabled". */
const char *guest_apic_mode_name(enum guest_apic_mode mode);

#endif
