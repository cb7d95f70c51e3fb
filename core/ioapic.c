/* The I/O APIC: redirection table behind IOREGSEL/IOWIN, pin levels, remote IRR and EOI. */
#include "core/ioapic.h"

#include <string.h>

/* Bits of a redirection entry's low half the guest may write. */
#define RTE_LO_WRITABLE                                                                     \
	(CVM_RTE_VECTOR | (7ull << CVM_RTE_DM_SHIFT) | CVM_RTE_LOGICAL | CVM_RTE_POLARITY | \
	 CVM_RTE_LEVEL | CVM_RTE_MASKED)
#define RTE_HI_WRITABLE (0xffull << CVM_RTE_DEST_SHIFT)

void cvm_ioapic_reset(struct cvm_ioapic *io, uint8_t id)
{
	memset(io, 0, sizeof(*io));
	for (unsigned int i = 0; i < CVM_IOAPIC_PINS; i++)
		io->rte[i] = CVM_RTE_MASKED;
	io->id = (uint32_t)(id & 0xfu) << 24;
}

/* A level pin that is asserted, unmasked and not awaiting EOI sends (and sets remote IRR). */
static uint32_t level_check(struct cvm_ioapic *io, unsigned int pin)
{
	uint64_t *e = &io->rte[pin];

	if (!(*e & CVM_RTE_LEVEL) || (*e & (CVM_RTE_MASKED | CVM_RTE_REMOTE_IRR)) ||
	    !((io->level >> pin) & 1u))
		return 0;
	*e |= CVM_RTE_REMOTE_IRR;
	return 1u << pin;
}

static uint32_t read_indirect(const struct cvm_ioapic *io, uint32_t idx)
{
	switch (idx) {
	case 0x00:
	case 0x02: /* arbitration ID: same as the ID */
		return io->id;
	case 0x01:
		return CVM_IOAPIC_VERSION;
	default:
		if (idx >= 0x10 && idx < 0x10 + 2 * CVM_IOAPIC_PINS) {
			uint64_t e = io->rte[(idx - 0x10) / 2];
			return (uint32_t)((idx & 1u) ? e >> 32 : e);
		}
		return 0;
	}
}

static uint32_t write_indirect(struct cvm_ioapic *io, uint32_t idx, uint32_t val)
{
	unsigned int pin;
	uint64_t *e, old;

	if (idx == 0x00) {
		io->id = val & 0x0f000000u;
		return 0;
	}
	if (idx < 0x10 || idx >= 0x10 + 2 * CVM_IOAPIC_PINS)
		return 0; /* read-only or reserved */
	pin = (idx - 0x10) / 2;
	e = &io->rte[pin];
	old = *e;
	if (idx & 1u) {
		*e = (old & ~RTE_HI_WRITABLE) | (((uint64_t)val << 32) & RTE_HI_WRITABLE);
		return 0;
	}
	*e = (old & ~RTE_LO_WRITABLE) | (val & RTE_LO_WRITABLE);
	if (!(*e & CVM_RTE_LEVEL))
		*e &= ~CVM_RTE_REMOTE_IRR; /* switching to edge clears a stale remote IRR */
	return level_check(io, pin);
}

uint32_t cvm_ioapic_read(struct cvm_ioapic *io, uint32_t offset)
{
	switch (offset) {
	case CVM_IOAPIC_REGSEL:
		return io->regsel;
	case CVM_IOAPIC_WIN:
		return read_indirect(io, io->regsel);
	default:
		return 0;
	}
}

uint32_t cvm_ioapic_write(struct cvm_ioapic *io, uint32_t offset, uint32_t val)
{
	switch (offset) {
	case CVM_IOAPIC_REGSEL:
		io->regsel = val & 0xffu;
		return 0;
	case CVM_IOAPIC_WIN:
		return write_indirect(io, io->regsel, val);
	case CVM_IOAPIC_EOIREG:
		return cvm_ioapic_eoi(io, (uint8_t)val);
	default:
		return 0;
	}
}

uint32_t cvm_ioapic_set_irq(struct cvm_ioapic *io, unsigned int pin, bool level)
{
	bool was;

	if (pin >= CVM_IOAPIC_PINS)
		return 0;
	was = (io->level >> pin) & 1u;
	io->level = (io->level & ~(1u << pin)) | ((uint32_t)level << pin);
	if (io->rte[pin] & CVM_RTE_LEVEL)
		return level_check(io, pin);
	if (level && !was && !(io->rte[pin] & CVM_RTE_MASKED))
		return 1u << pin;
	return 0;
}

uint32_t cvm_ioapic_eoi(struct cvm_ioapic *io, uint8_t vector)
{
	uint32_t send = 0;

	for (unsigned int pin = 0; pin < CVM_IOAPIC_PINS; pin++) {
		uint64_t *e = &io->rte[pin];
		if (!(*e & CVM_RTE_REMOTE_IRR) || (uint8_t)(*e & CVM_RTE_VECTOR) != vector)
			continue;
		*e &= ~CVM_RTE_REMOTE_IRR;
		send |= level_check(io, pin);
	}
	return send;
}

void cvm_ioapic_msg(const struct cvm_ioapic *io, unsigned int pin, struct cvm_apic_msg *m)
{
	uint64_t e = pin < CVM_IOAPIC_PINS ? io->rte[pin] : CVM_RTE_MASKED;

	*m = (struct cvm_apic_msg){
	        .dest = (uint32_t)(e >> CVM_RTE_DEST_SHIFT),
	        .src = CVM_APIC_SRC_NONE,
	        .vector = (uint8_t)(e & CVM_RTE_VECTOR),
	        .mode = (uint8_t)((e >> CVM_RTE_DM_SHIFT) & 7u),
	        .shorthand = CVM_SH_NONE,
	        .flags = CVM_MSG_ASSERT,
	};
	if (e & CVM_RTE_LOGICAL)
		m->flags |= CVM_MSG_LOGICAL;
	if (e & CVM_RTE_LEVEL)
		m->flags |= CVM_MSG_LEVEL;
}
