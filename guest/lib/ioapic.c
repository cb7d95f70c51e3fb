/* I/O APIC register access and redirection entries for guests (see ioapic.h). */
#include "guest/lib/ioapic.h"

#include "arch/x86/guest_abi.h"
#include "guest/lib/ucall.h"
#include "guest/lib/x86.h"

#define IOREGSEL 0x00
#define IOWIN    0x10

uint32_t guest_ioapic_read(uint8_t reg)
{
	mmio_write32(CVM_GUEST_IOAPIC_BASE + IOREGSEL, reg);
	return mmio_read32(CVM_GUEST_IOAPIC_BASE + IOWIN);
}

void guest_ioapic_write(uint8_t reg, uint32_t val)
{
	mmio_write32(CVM_GUEST_IOAPIC_BASE + IOREGSEL, reg);
	mmio_write32(CVM_GUEST_IOAPIC_BASE + IOWIN, val);
}

unsigned int guest_ioapic_pins(void)
{
	return ((guest_ioapic_read(IOAPIC_REG_VER) >> 16) & 0xff) + 1;
}

static uint8_t rte_reg(unsigned int pin)
{
	GUEST_ASSERT_MSG(pin < guest_ioapic_pins(), "ioapic: pin %u does not exist (%u pins)", pin,
	                 guest_ioapic_pins());
	return (uint8_t)(IOAPIC_REG_RTE + 2 * pin);
}

void guest_ioapic_route(unsigned int pin, uint8_t vector, uint32_t flags, uint8_t dest)
{
	uint8_t reg = rte_reg(pin);
	guest_ioapic_write(reg, IOAPIC_RTE_MASKED);
	guest_ioapic_write(reg + 1, (uint32_t)dest << 24);
	guest_ioapic_write(reg, flags | vector);
}

uint64_t guest_ioapic_rte(unsigned int pin)
{
	uint8_t reg = rte_reg(pin);
	uint32_t lo = guest_ioapic_read(reg);
	return ((uint64_t)guest_ioapic_read(reg + 1) << 32) | lo;
}

void guest_ioapic_mask(unsigned int pin, bool masked)
{
	uint8_t reg = rte_reg(pin);
	uint32_t lo = guest_ioapic_read(reg);
	lo = masked ? lo | IOAPIC_RTE_MASKED : lo & ~(uint32_t)IOAPIC_RTE_MASKED;
	guest_ioapic_write(reg, lo);
}
