/* Unit tests for core/x86_reset.c: the RESET and INIT register state and the SIPI entry state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/x86_reset.h"

static void check_real_mode_segments(const struct cvm_x86_regs *r)
{
	const struct cvm_x86_seg *data[] = {&r->ds, &r->es, &r->fs, &r->gs, &r->ss};

	assert_int_equal(r->cs.selector, 0xf000);
	assert_true(r->cs.base == 0xffff0000u);
	assert_int_equal(r->cs.limit, 0xffff);
	assert_int_equal(r->cs.ar, 0x9b);
	for (unsigned int i = 0; i < 5; i++) {
		assert_int_equal(data[i]->selector, 0);
		assert_true(data[i]->base == 0);
		assert_int_equal(data[i]->limit, 0xffff);
		assert_int_equal(data[i]->ar, 0x93);
	}
	assert_int_equal(r->ldtr.ar, 0x82);
	assert_int_equal(r->tr.ar, 0x8b);
	assert_int_equal(r->gdtr.limit, 0xffff);
	assert_int_equal(r->idtr.limit, 0xffff);
	assert_true(r->gdtr.base == 0 && r->idtr.base == 0);
}

static void test_reset(void **state)
{
	struct cvm_x86_regs r;

	memset(&r, 0xa5, sizeof(r));
	cvm_x86_reset_regs(&r, CVM_X86_RESET, 0x000806f8);
	assert_true(r.rip == 0xfff0);
	assert_true(r.rflags == 0x2);
	assert_true(r.gpr[CVM_RDX] == 0x000806f8);
	for (unsigned int i = 0; i < CVM_NR_GPRS; i++)
		if (i != CVM_RDX)
			assert_true(r.gpr[i] == 0);
	assert_true(r.cr0 == 0x60000010);
	assert_true(r.cr2 == 0 && r.cr3 == 0 && r.cr4 == 0 && r.cr8 == 0 && r.efer == 0);
	assert_true(r.dr6 == 0xffff0ff0 && r.dr7 == 0x400);
	for (unsigned int i = 0; i < 4; i++)
		assert_true(r.dr[i] == 0);
	assert_true(r.pat == 0x0007040600070406ull);
	assert_true(r.smbase == 0x30000 && r.xcr0 == 1 && r.tsc == 0);
	assert_int_equal(r.mxcsr, 0x1f80);
	assert_int_equal(r.fcw, 0x40);
	assert_int_equal(r.ftw, 0x5555);
	check_real_mode_segments(&r);
}

/* INIT: as RESET except CR0.CD/NW, PAT, SMBASE, XCR0, TSC, x87/SSE state, which it keeps. */
static void test_init_keeps(void **state)
{
	struct cvm_x86_regs r;

	cvm_x86_reset_regs(&r, CVM_X86_RESET, 0x806f8);
	r.cr0 = 0x80000011 | CVM_CR0_CD; /* PG, PE, ET, CD */
	r.cr4 = 0x20;
	r.efer = 0xd01;
	r.pat = 0x0606060606060606ull;
	r.smbase = 0xa0000;
	r.xcr0 = 7;
	r.tsc = 123456;
	r.mxcsr = 0x1fa0;
	r.fcw = 0x37f;
	r.rip = 0x1234;
	r.gpr[CVM_RAX] = 42;
	r.cs.selector = 0x10;
	r.dr7 = 0x4ff;
	cvm_x86_reset_regs(&r, CVM_X86_INIT, 0x806f9);
	assert_true(r.cr0 == (CVM_CR0_CD | CVM_CR0_ET)); /* NW was clear and stays clear */
	assert_true(r.cr4 == 0 && r.efer == 0 && r.rip == 0xfff0 && r.gpr[CVM_RAX] == 0);
	assert_true(r.gpr[CVM_RDX] == 0x806f9);
	assert_true(r.dr7 == 0x400);
	assert_true(r.pat == 0x0606060606060606ull);
	assert_true(r.smbase == 0xa0000 && r.xcr0 == 7 && r.tsc == 123456);
	assert_int_equal(r.mxcsr, 0x1fa0);
	assert_int_equal(r.fcw, 0x37f);
	check_real_mode_segments(&r);
}

/* The table: every INIT-kept row is named; CR0 is the only partial row. */
static void test_table(void **state)
{
	unsigned int keep = 0, partial = 0, rows = 0;

	for (const struct cvm_x86_reset_row *row = cvm_x86_reset_table; row->name; row++) {
		rows++;
		assert_true(row->size == 2 || row->size == 4 || row->size == 8);
		assert_true(row->offset + row->size <= sizeof(struct cvm_x86_regs));
		keep += row->init == CVM_INIT_KEEP;
		if (row->init == CVM_INIT_KEEP_BITS) {
			partial++;
			assert_string_equal(row->name, "cr0");
		}
	}
	assert_int_equal(keep, 8);
	assert_int_equal(partial, 1);
	assert_true(rows > 40);
	for (const struct cvm_x86_seg_row *row = cvm_x86_seg_table; row->name; row++)
		assert_true(row->value.limit == 0xffff);
}

static void test_sipi(void **state)
{
	struct cvm_x86_regs r, init;

	cvm_x86_reset_regs(&r, CVM_X86_RESET, 0x806f8);
	memcpy(&init, &r, sizeof(r));
	cvm_x86_sipi_regs(&r, 0x9f);
	assert_int_equal(r.cs.selector, 0x9f00);
	assert_true(r.cs.base == 0x9f000);
	assert_int_equal(r.cs.limit, 0xffff);
	assert_true(r.rip == 0);
	/* nothing else changes */
	r.cs = init.cs;
	r.rip = init.rip;
	assert_memory_equal(&r, &init, sizeof(r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_reset),
	        cmocka_unit_test(test_init_keeps),
	        cmocka_unit_test(test_table),
	        cmocka_unit_test(test_sipi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
