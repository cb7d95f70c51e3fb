/* Local APIC helpers for guests, xAPIC and x2APIC (see apic.h). */
#include "guest/lib/apic.h"

#include "arch/x86/guest_abi.h"
#include "guest/lib/bootinfo.h"
#include "guest/lib/ucall.h"
#include "guest/lib/util.h"
#include "guest/lib/x86.h"

#define ICR_IDLE_SPIN 100000

bool guest_x2apic_supported(void)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	return c & (1u << 21);
}

enum guest_apic_mode guest_apic_mode(void)
{
	uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
	if (!(base & APIC_BASE_EN))
		return GUEST_APIC_DISABLED;
	return (base & APIC_BASE_EXTD) ? GUEST_APIC_X2APIC : GUEST_APIC_XAPIC;
}

uint32_t guest_apic_read(uint32_t reg)
{
	if (guest_apic_mode() == GUEST_APIC_X2APIC)
		return (uint32_t)rdmsr(MSR_X2APIC_BASE + (reg >> 4));
	return mmio_read32(CVM_GUEST_LAPIC_BASE + reg);
}

void guest_apic_write(uint32_t reg, uint32_t val)
{
	if (guest_apic_mode() == GUEST_APIC_X2APIC)
		wrmsr(MSR_X2APIC_BASE + (reg >> 4), val);
	else
		mmio_write32(CVM_GUEST_LAPIC_BASE + reg, val);
}

void guest_apic_set_mode(enum guest_apic_mode mode)
{
	uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
	enum guest_apic_mode cur = guest_apic_mode();
	if (mode == cur)
		goto sw_enable;
	if (mode == GUEST_APIC_X2APIC && !guest_x2apic_supported())
		GUEST_FAIL("apic: x2APIC asked for but CPUID.1:ECX[21] is clear");
	/* Leaving x2APIC (or disabling): only EN=0, EXTD=0 is allowed. */
	if (cur == GUEST_APIC_X2APIC || mode == GUEST_APIC_DISABLED) {
		base &= ~(uint64_t)(APIC_BASE_EN | APIC_BASE_EXTD);
		wrmsr(MSR_IA32_APIC_BASE, base);
		if (mode == GUEST_APIC_DISABLED)
			return;
	}
	base |= APIC_BASE_EN; /* disabled -> xAPIC */
	wrmsr(MSR_IA32_APIC_BASE, base);
	if (mode == GUEST_APIC_X2APIC)
		wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_EXTD);
sw_enable:
	if (mode != GUEST_APIC_DISABLED)
		guest_apic_write(APIC_REG_SVR,
		                 guest_apic_read(APIC_REG_SVR) | APIC_SVR_ENABLE | 0xff);
}

uint32_t guest_apic_id(void)
{
	if (guest_apic_mode() == GUEST_APIC_X2APIC)
		return (uint32_t)rdmsr(MSR_X2APIC_BASE + (APIC_REG_ID >> 4));
	return mmio_read32(CVM_GUEST_LAPIC_BASE + APIC_REG_ID) >> 24;
}

void guest_apic_eoi(void)
{
	guest_apic_write(APIC_REG_EOI, 0);
}

static bool xapic_wait_idle(void)
{
	for (uint32_t i = 0; i < ICR_IDLE_SPIN; i++) {
		if (!(mmio_read32(CVM_GUEST_LAPIC_BASE + APIC_REG_ICR_LO) & APIC_DELIVERY_PENDING))
			return true;
		cpu_relax();
	}
	return false;
}

bool guest_apic_send_ipi(uint32_t dest, uint32_t icr_lo)
{
	if (guest_apic_mode() == GUEST_APIC_X2APIC) {
		wrmsr(MSR_X2APIC_BASE + (APIC_REG_ICR_LO >> 4), ((uint64_t)dest << 32) | icr_lo);
		return true;
	}
	xapic_wait_idle();
	mmio_write32(CVM_GUEST_LAPIC_BASE + APIC_REG_ICR_HI, dest << 24);
	mmio_write32(CVM_GUEST_LAPIC_BASE + APIC_REG_ICR_LO, icr_lo);
	return xapic_wait_idle();
}

bool guest_apic_self_ipi(uint8_t vector)
{
	if (guest_apic_mode() == GUEST_APIC_X2APIC) {
		wrmsr(MSR_X2APIC_SELF_IPI, vector);
		return true;
	}
	return guest_apic_send_ipi(0, APIC_DEST_SELF | APIC_DM_FIXED | APIC_LEVEL_ASSERT | vector);
}

static bool vector_bit(uint32_t base, uint8_t vector)
{
	return (guest_apic_read(base + (uint32_t)(vector / 32) * 0x10) >> (vector % 32)) & 1;
}

bool guest_apic_irr(uint8_t vector)
{
	return vector_bit(APIC_REG_IRR, vector);
}

bool guest_apic_isr(uint8_t vector)
{
	return vector_bit(APIC_REG_ISR, vector);
}

bool guest_apic_tmr(uint8_t vector)
{
	return vector_bit(APIC_REG_TMR, vector);
}

void guest_apic_set_tpr(uint32_t tpr)
{
	guest_apic_write(APIC_REG_TPR, tpr & 0xff);
}

uint32_t guest_apic_tpr(void)
{
	return guest_apic_read(APIC_REG_TPR) & 0xff;
}

void guest_apic_set_logical(uint32_t dfr, uint8_t logical_id)
{
	GUEST_ASSERT_MSG(guest_apic_mode() == GUEST_APIC_XAPIC,
	                 "apic: logical destination set-up needs xAPIC mode (now %s)",
	                 guest_apic_mode_name(guest_apic_mode()));
	guest_apic_write(APIC_REG_DFR, dfr);
	guest_apic_write(APIC_REG_LDR, (uint32_t)logical_id << 24);
}

uint32_t guest_apic_logical_id(void)
{
	uint32_t ldr = guest_apic_read(APIC_REG_LDR);
	return guest_apic_mode() == GUEST_APIC_X2APIC ? ldr : ldr >> 24;
}

enum guest_apic_mode guest_apic_mode_from_cmdline(void)
{
	return kit_cmdline_is(guest_boot_cmdline(), "apic", "x2apic") ? GUEST_APIC_X2APIC
	                                                              : GUEST_APIC_XAPIC;
}

const char *guest_apic_mode_name(enum guest_apic_mode mode)
{
	return mode == GUEST_APIC_X2APIC  ? "x2APIC"
	       : mode == GUEST_APIC_XAPIC ? "xAPIC"
	                                  : "disabled";
}

void kit_apic_init(void)
{
	enum guest_apic_mode mode = guest_apic_mode();
	if (mode == GUEST_APIC_DISABLED)
		return;
	guest_apic_set_mode(mode);
	guest_apic_write(APIC_REG_LVT_LINT0, APIC_LVT_MASKED);
}
