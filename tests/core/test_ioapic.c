/* Unit tests for core/ioapic.c: registers, edge and level pins, remote IRR, EOI, masking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ioapic.h"

static uint32_t rd(struct cvm_ioapic *io, uint32_t idx)
{
	cvm_ioapic_write(io, CVM_IOAPIC_REGSEL, idx);
	return cvm_ioapic_read(io, CVM_IOAPIC_WIN);
}

static uint32_t wr(struct cvm_ioapic *io, uint32_t idx, uint32_t val)
{
	cvm_ioapic_write(io, CVM_IOAPIC_REGSEL, idx);
	return cvm_ioapic_write(io, CVM_IOAPIC_WIN, val);
}

/* Program pin `pin`: low half `lo`, destination `dest`. */
static uint32_t program(struct cvm_ioapic *io, unsigned int pin, uint32_t lo, uint8_t dest)
{
	wr(io, 0x11 + 2 * pin, (uint32_t)dest << 24);
	return wr(io, 0x10 + 2 * pin, lo);
}

static void test_registers(void **state)
{
	struct cvm_ioapic io;

	cvm_ioapic_reset(&io, 2);
	assert_int_equal(rd(&io, 0), 2u << 24);
	assert_int_equal(rd(&io, 1), 0x00170020);
	assert_int_equal(rd(&io, 2), 2u << 24);
	assert_int_equal(cvm_ioapic_read(&io, CVM_IOAPIC_REGSEL), 2);
	for (unsigned int pin = 0; pin < CVM_IOAPIC_PINS; pin++) {
		assert_int_equal(rd(&io, 0x10 + 2 * pin), 0x10000);
		assert_int_equal(rd(&io, 0x11 + 2 * pin), 0);
	}
	wr(&io, 0, 0xffffffff);
	assert_int_equal(rd(&io, 0), 0x0f000000);
	wr(&io, 1, 0);
	wr(&io, 2, 0);
	assert_int_equal(rd(&io, 1), 0x00170020);
	assert_int_equal(rd(&io, 0x40), 0); /* beyond the table */
	assert_int_equal(wr(&io, 0x40, 1), 0);
	/* writable bits; delivery status and remote IRR are read-only */
	wr(&io, 0x10, 0xffffffff);
	assert_int_equal(rd(&io, 0x10), 0x1afff);
	wr(&io, 0x11, 0xffffffff);
	assert_int_equal(rd(&io, 0x11), 0xff000000);
	/* unknown MMIO offsets */
	assert_int_equal(cvm_ioapic_read(&io, 0x20), 0);
	assert_int_equal(cvm_ioapic_write(&io, 0x20, 5), 0);
	assert_int_equal(cvm_ioapic_read(&io, CVM_IOAPIC_EOIREG), 0);
}

static void test_messages(void **state)
{
	struct cvm_ioapic io;
	struct cvm_apic_msg m;

	cvm_ioapic_reset(&io, 0);
	program(&io, 4, 0x0000a931, 0x0c); /* level, logical, lowest priority, vector 0x31 */
	cvm_ioapic_msg(&io, 4, &m);
	assert_int_equal(m.dest, 0x0c);
	assert_int_equal(m.vector, 0x31);
	assert_int_equal(m.mode, CVM_DM_LOWEST);
	assert_int_equal(m.src, CVM_APIC_SRC_NONE);
	assert_int_equal(m.shorthand, CVM_SH_NONE);
	assert_int_equal(m.flags, CVM_MSG_LOGICAL | CVM_MSG_LEVEL | CVM_MSG_ASSERT);
	program(&io, 5, 0x00000700, 0);
	cvm_ioapic_msg(&io, 5, &m);
	assert_int_equal(m.mode, CVM_DM_EXTINT);
	assert_int_equal(m.flags, CVM_MSG_ASSERT);
	cvm_ioapic_msg(&io, 99, &m);
	assert_int_equal(m.vector, 0);
}

/* Edge: one delivery per rising edge; nothing while masked (the edge is lost). */
static void test_edge(void **state)
{
	struct cvm_ioapic io;

	cvm_ioapic_reset(&io, 0);
	assert_int_equal(cvm_ioapic_set_irq(&io, 3, true), 0); /* masked */
	cvm_ioapic_set_irq(&io, 3, false);
	assert_int_equal(program(&io, 3, 0x23, 0), 0);
	assert_int_equal(cvm_ioapic_set_irq(&io, 3, true), 1u << 3);
	assert_int_equal(cvm_ioapic_set_irq(&io, 3, true), 0);
	assert_int_equal(cvm_ioapic_set_irq(&io, 3, false), 0);
	assert_int_equal(cvm_ioapic_set_irq(&io, 3, true), 1u << 3);
	assert_int_equal(cvm_ioapic_eoi(&io, 0x23), 0); /* edge pins ignore EOI */
	assert_int_equal(cvm_ioapic_set_irq(&io, 24, true), 0);
	/* unmasking an asserted edge pin sends nothing */
	cvm_ioapic_set_irq(&io, 3, false);
	program(&io, 3, 0x10023, 0);
	cvm_ioapic_set_irq(&io, 3, true);
	assert_int_equal(program(&io, 3, 0x23, 0), 0);
}

/* Level: delivery sets remote IRR; no re-delivery until EOI; EOI while asserted re-delivers. */
static void test_level_remote_irr(void **state)
{
	struct cvm_ioapic io;

	cvm_ioapic_reset(&io, 0);
	program(&io, 9, 0x8041, 1);
	assert_int_equal(cvm_ioapic_set_irq(&io, 9, true), 1u << 9);
	assert_true(rd(&io, 0x10 + 18) & CVM_RTE_REMOTE_IRR);
	assert_int_equal(cvm_ioapic_set_irq(&io, 9, true), 0);
	assert_int_equal(cvm_ioapic_eoi(&io, 0x42), 0); /* other vector */
	assert_int_equal(cvm_ioapic_eoi(&io, 0x41), 1u << 9);
	assert_true(rd(&io, 0x10 + 18) & CVM_RTE_REMOTE_IRR);
	cvm_ioapic_set_irq(&io, 9, false);
	assert_int_equal(cvm_ioapic_eoi(&io, 0x41), 0);
	assert_false(rd(&io, 0x10 + 18) & CVM_RTE_REMOTE_IRR);
	/* the EOI register (version 0x20) does the same */
	assert_int_equal(cvm_ioapic_set_irq(&io, 9, true), 1u << 9);
	assert_int_equal(cvm_ioapic_write(&io, CVM_IOAPIC_EOIREG, 0x41), 1u << 9);
	/* two pins sharing a vector are both re-delivered */
	program(&io, 10, 0x8041, 1);
	assert_int_equal(cvm_ioapic_set_irq(&io, 10, true), 1u << 10);
	assert_int_equal(cvm_ioapic_eoi(&io, 0x41), (1u << 9) | (1u << 10));
}

/* Masking a level pin holds it; unmasking an asserted pin with clear remote IRR delivers. */
static void test_level_mask(void **state)
{
	struct cvm_ioapic io;

	cvm_ioapic_reset(&io, 0);
	program(&io, 1, 0x18051, 0); /* level, masked */
	assert_int_equal(cvm_ioapic_set_irq(&io, 1, true), 0);
	assert_int_equal(program(&io, 1, 0x8051, 0), 1u << 1);
	/* remote IRR set: rewriting the entry does not deliver again */
	assert_int_equal(program(&io, 1, 0x8051, 0), 0);
	/* switching to edge clears a stale remote IRR */
	program(&io, 1, 0x0051, 0);
	assert_false(rd(&io, 0x12) & CVM_RTE_REMOTE_IRR);
	/* deassert before EOI: EOI clears, nothing to send */
	program(&io, 1, 0x8051, 0);
	cvm_ioapic_set_irq(&io, 1, false);
	assert_int_equal(cvm_ioapic_eoi(&io, 0x51), 0);
	assert_int_equal(cvm_ioapic_set_irq(&io, 1, true), 1u << 1);
	/* masked when EOI arrives: cleared, not re-sent until unmasked */
	program(&io, 1, 0x18051, 0);
	assert_int_equal(cvm_ioapic_eoi(&io, 0x51), 0);
	assert_int_equal(program(&io, 1, 0x8051, 0), 1u << 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_registers),  cmocka_unit_test(test_messages),
	        cmocka_unit_test(test_edge),       cmocka_unit_test(test_level_remote_irr),
	        cmocka_unit_test(test_level_mask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
