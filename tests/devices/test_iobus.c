/* Unit tests for devices/iobus.c: registration conflicts, dispatch, accesses to nothing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/bitmap.h"
#include "devices/iobus.h"

/* A device that records its last access. */
struct probe {
	unsigned int reads, writes;
	uint16_t offset;
	unsigned int size;
	uint32_t val;
};

static void probe_read(void *dev, uint16_t offset, unsigned int size, uint32_t *val)
{
	struct probe *p = dev;
	assert_int_equal(*val, size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1); /* pre-filled */
	p->reads++, p->offset = offset, p->size = size;
	*val = 0xa5a5a5a5u; /* wider than most accesses: the bus masks it */
}

static void probe_write(void *dev, uint16_t offset, unsigned int size, uint32_t val)
{
	struct probe *p = dev;
	p->writes++, p->offset = offset, p->size = size, p->val = val;
}

static const struct cvm_io_ops probe_ops = {probe_read, probe_write};
static const struct cvm_io_ops empty_ops = {NULL, NULL};

static struct cvm_iobus *new_bus(void)
{
	struct cvm_iobus *bus = malloc(sizeof(*bus)); /* ~330 KiB: not on the stack */
	assert_non_null(bus);
	cvm_iobus_init(bus);
	return bus;
}

static void test_register(void **state)
{
	struct cvm_iobus *bus = new_bus();
	struct probe p = {0};

	assert_int_equal(cvm_iobus_register(bus, 0x3f8, 8, &probe_ops, &p, "uart"), 0);
	/* overlaps: same, inside, straddling either end, containing */
	assert_int_equal(cvm_iobus_register(bus, 0x3f8, 8, &probe_ops, &p, "x"), -EEXIST);
	assert_int_equal(cvm_iobus_register(bus, 0x3fa, 1, &probe_ops, &p, "x"), -EEXIST);
	assert_int_equal(cvm_iobus_register(bus, 0x3f0, 9, &probe_ops, &p, "x"), -EEXIST);
	assert_int_equal(cvm_iobus_register(bus, 0x3ff, 4, &probe_ops, &p, "x"), -EEXIST);
	assert_int_equal(cvm_iobus_register(bus, 0x300, 0x200, &probe_ops, &p, "x"), -EEXIST);
	/* neighbours on both sides are fine */
	assert_int_equal(cvm_iobus_register(bus, 0x3f0, 8, &probe_ops, &p, "below"), 0);
	assert_int_equal(cvm_iobus_register(bus, 0x400, 1, &probe_ops, &p, "above"), 0);
	/* bad ranges */
	assert_int_equal(cvm_iobus_register(bus, 0x10, 0, &probe_ops, &p, "x"), -EINVAL);
	assert_int_equal(cvm_iobus_register(bus, 0xffff, 2, &probe_ops, &p, "x"), -EINVAL);
	assert_int_equal(cvm_iobus_register(bus, 0x10, 1, NULL, &p, "x"), -EINVAL);
	assert_int_equal(cvm_iobus_register(bus, 0xffff, 1, &probe_ops, &p, "last"), 0);
	assert_int_equal(bus->nranges, 4);
	/* the table fills up */
	for (uint16_t port = 0x1000; bus->nranges < CVM_IOBUS_MAX_RANGES; port += 2)
		assert_int_equal(cvm_iobus_register(bus, port, 2, &probe_ops, &p, "fill"), 0);
	assert_int_equal(cvm_iobus_register(bus, 0x2000, 1, &probe_ops, &p, "x"), -ENOSPC);
	free(bus);
}

static void test_dispatch(void **state)
{
	struct cvm_iobus *bus = new_bus();
	struct probe p = {0};
	uint32_t v;

	assert_int_equal(cvm_iobus_register(bus, 0x510, 2, &probe_ops, &p, "dev"), 0);
	assert_true(cvm_iobus_write(bus, 0x510, 2, 0x12345678));
	assert_int_equal(p.writes, 1);
	assert_int_equal(p.offset, 0);
	assert_int_equal(p.size, 2);
	assert_int_equal(p.val, 0x5678); /* only the access's bytes */
	assert_true(cvm_iobus_read(bus, 0x511, 1, &v));
	assert_int_equal(p.reads, 1);
	assert_int_equal(p.offset, 1);
	assert_int_equal(v, 0xa5);
	assert_true(cvm_iobus_read(bus, 0x510, 2, &v));
	assert_int_equal(v, 0xa5a5);
	/* an access that runs past the range's end is not the device's */
	assert_false(cvm_iobus_read(bus, 0x511, 2, &v));
	assert_int_equal(v, 0xffff);
	assert_false(cvm_iobus_write(bus, 0x50f, 4, 0));
	assert_int_equal(p.reads, 2);
	assert_int_equal(p.writes, 1);
	/* sizes other than 1, 2, 4 are never dispatched */
	assert_false(cvm_iobus_read(bus, 0x510, 3, &v));
	assert_false(cvm_iobus_write(bus, 0x510, 0, 0));
	assert_int_equal(p.reads + p.writes, 3);
	/* a device without handlers reads all ones and swallows writes, but claims its ports */
	assert_int_equal(cvm_iobus_register(bus, 0x80, 1, &empty_ops, NULL, "empty"), 0);
	assert_true(cvm_iobus_read(bus, 0x80, 1, &v));
	assert_int_equal(v, 0xff);
	assert_true(cvm_iobus_write(bus, 0x80, 1, 7));
	free(bus);
}

static void test_unhandled(void **state)
{
	struct cvm_iobus *bus = new_bus();
	uint32_t v = 0;

	assert_false(cvm_iobus_read(bus, 0x61, 1, &v));
	assert_int_equal(v, 0xff);
	assert_false(cvm_iobus_read(bus, 0x61, 2, &v));
	assert_int_equal(v, 0xffff);
	assert_false(cvm_iobus_read(bus, 0xcf8, 4, &v));
	assert_int_equal(v, 0xffffffffu);
	assert_false(cvm_iobus_write(bus, 0x80, 1, 0x42));
	assert_false(cvm_iobus_write(bus, 0xffff, 4, 0)); /* would wrap: still just counted */
	assert_int_equal(bus->unhandled_count[0x61], 2);
	assert_int_equal(bus->unhandled_count[0xcf8], 1);
	assert_int_equal(bus->unhandled_count[0x80], 1);
	assert_int_equal(bus->unhandled_count[0xffff], 1);
	assert_int_equal(bus->unhandled_total, 5);
	assert_true(cvm_bit_test(bus->unhandled_reads, 0x61));
	assert_false(cvm_bit_test(bus->unhandled_writes, 0x61));
	assert_true(cvm_bit_test(bus->unhandled_writes, 0x80));
	assert_false(cvm_bit_test(bus->unhandled_reads, 0x80));
	assert_int_equal(cvm_bitmap_weight(bus->unhandled_reads, 65536), 2);
	assert_int_equal(cvm_bitmap_weight(bus->unhandled_writes, 65536), 2);
	/* per-port counts saturate instead of wrapping */
	bus->unhandled_count[0x70] = UINT32_MAX - 1;
	for (int i = 0; i < 3; i++)
		cvm_iobus_write(bus, 0x70, 1, 0);
	assert_int_equal(bus->unhandled_count[0x70], UINT32_MAX);
	assert_int_equal(bus->unhandled_total, 8);
	free(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_register),
	        cmocka_unit_test(test_dispatch),
	        cmocka_unit_test(test_unhandled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
