/*
 * Unit tests for the small platform devices, wired on a port bus as the backend
 * wires them: debug exit (values and statuses), fw_cfg (items, byte order,
 * reads past the end), i8042 (status register, reset paths).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/guest_abi.h"
#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/i8042.h"
#include "devices/iobus.h"

static struct cvm_iobus *new_bus(void)
{
	struct cvm_iobus *bus = malloc(sizeof(*bus));
	assert_non_null(bus);
	cvm_iobus_init(bus);
	return bus;
}

static uint32_t in(struct cvm_iobus *bus, uint16_t port, unsigned int size)
{
	uint32_t v;
	assert_true(cvm_iobus_read(bus, port, size, &v));
	return v;
}

static void out(struct cvm_iobus *bus, uint16_t port, unsigned int size, uint32_t v)
{
	assert_true(cvm_iobus_write(bus, port, size, v));
}

/* ---- debug exit ---- */

struct exit_log {
	unsigned int calls;
	uint32_t value, status;
};

static void on_exit_request(void *ctx, uint32_t value, uint32_t status)
{
	struct exit_log *l = ctx;
	l->calls++, l->value = value, l->status = status;
}

static void test_debug_exit(void **state)
{
	struct cvm_iobus *bus = new_bus();
	struct cvm_debug_exit d;
	struct exit_log log = {0};
	const struct {
		uint16_t port;
		unsigned int size;
		uint32_t value, status;
	} cases[] = {
	        {0xf4, 1, 0x00, 0x01},
	        {0xf4, 1, 0x41, 0x83},
	        {0xf4, 1, 0x7f, 0xff},
	        {0xf4, 1, 0xff, 0x1ff}, /* the process exit status keeps 0xff */
	        {0xf4, 2, 0x1234, 0x2469},
	        {0xf4, 4, 0x7fffffff, 0xffffffff},
	        {0xf5, 1, 0x02, 0x05}, /* iosize 4: every port of the range */
	        {0xf7, 1, 0x03, 0x07},
	};

	cvm_debug_exit_init(&d, on_exit_request, &log);
	assert_int_equal(cvm_debug_exit_register(bus, &d), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out(bus, cases[i].port, cases[i].size, cases[i].value);
		assert_int_equal(log.calls, i + 1);
		assert_int_equal(log.value, cases[i].value);
		assert_int_equal(log.status, cases[i].status);
		assert_int_equal(cvm_debug_exit_status(cases[i].value), cases[i].status);
	}
	assert_int_equal(d.writes, sizeof(cases) / sizeof(cases[0]));
	assert_int_equal(in(bus, 0xf4, 1), 0); /* reads return 0, request nothing */
	assert_int_equal(log.calls, sizeof(cases) / sizeof(cases[0]));
	uint32_t v;
	assert_false(cvm_iobus_write(bus, 0xf8, 1, 0)); /* outside the 4 ports */
	assert_false(cvm_iobus_read(bus, 0xf3, 1, &v));
	assert_int_equal(cvm_debug_exit_register(bus, &d), -EEXIST);
	free(bus);
}

/* ---- fw_cfg ---- */

static void read_item(struct cvm_iobus *bus, uint16_t key, uint8_t *buf, size_t n)
{
	out(bus, CVM_PORT_FW_CFG_SEL, 2, key);
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)in(bus, CVM_PORT_FW_CFG_DATA, 1);
}

static void test_fw_cfg_items(void **state)
{
	struct cvm_iobus *bus = new_bus();
	struct cvm_fw_cfg f;
	uint8_t buf[12];

	cvm_fw_cfg_init(&f, UINT64_C(0x0000000123456789), 4, 255);
	assert_int_equal(cvm_fw_cfg_register(bus, &f), 0);

	/* the signature is selected after reset */
	buf[0] = (uint8_t)in(bus, CVM_PORT_FW_CFG_DATA, 1);
	assert_int_equal(buf[0], 'Q');

	read_item(bus, 0x0000, buf, 8);
	assert_memory_equal(buf, "QEMU\0\0\0\0", 8); /* then zeros past the end */
	read_item(bus, 0x0001, buf, 4);
	assert_memory_equal(buf, "\x01\x00\x00\x00", 4); /* traditional interface, no DMA */
	read_item(bus, 0x0003, buf, 9);
	assert_memory_equal(buf, "\x89\x67\x45\x23\x01\x00\x00\x00\x00", 9);
	read_item(bus, 0x0005, buf, 3);
	assert_memory_equal(buf, "\x04\x00\x00", 3);
	read_item(bus, 0x000f, buf, 3);
	assert_memory_equal(buf, "\xff\x00\x00", 3);

	/* unknown keys are empty: all reads are 0 */
	const uint16_t unknown[] = {0x0002, 0x0004, 0x0019, 0x4000, 0x8000, 0xffff};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		read_item(bus, unknown[i], buf, 4);
		assert_memory_equal(buf, "\0\0\0\0", 4);
	}

	/* re-selecting restarts at byte 0; long reads past the end stay at 0 */
	read_item(bus, 0x0005, buf, 1);
	read_item(bus, 0x0005, buf, 2);
	assert_memory_equal(buf, "\x04\x00", 2);
	uint64_t before = f.past_end;
	for (int i = 0; i < 100000; i++)
		assert_int_equal(in(bus, CVM_PORT_FW_CFG_DATA, 1), 0);
	assert_int_equal(f.past_end, before + 100000);
	assert_int_equal(f.offset, 2);
	free(bus);
}

static void test_fw_cfg_port_sizes(void **state)
{
	struct cvm_iobus *bus = new_bus();
	struct cvm_fw_cfg f;

	cvm_fw_cfg_init(&f, 64 << 20, 1, 1);
	assert_int_equal(cvm_fw_cfg_register(bus, &f), 0);
	out(bus, CVM_PORT_FW_CFG_SEL, 2, CVM_FW_CFG_NB_CPUS);
	uint64_t selects = f.selects;
	/* an 8-bit selector write selects nothing; data writes are ignored */
	out(bus, CVM_PORT_FW_CFG_SEL, 1, CVM_FW_CFG_SIGNATURE);
	out(bus, CVM_PORT_FW_CFG_DATA, 1, 0x55);
	assert_int_equal(f.selects, selects);
	assert_int_equal(f.key, CVM_FW_CFG_NB_CPUS);
	/* the selector reads as all ones; a 16-bit read of both ports reads no data */
	assert_int_equal(in(bus, CVM_PORT_FW_CFG_SEL, 1), 0xff);
	assert_int_equal(in(bus, CVM_PORT_FW_CFG_SEL, 2), 0xffff);
	assert_int_equal(f.offset, 0);
	assert_int_equal(in(bus, CVM_PORT_FW_CFG_DATA, 1), 1);
	/* the same through the functions */
	cvm_fw_cfg_select(&f, CVM_FW_CFG_RAM_SIZE);
	assert_int_equal(cvm_fw_cfg_read_byte(&f), 0x00);
	assert_int_equal(cvm_fw_cfg_read_byte(&f), 0x00);
	assert_int_equal(cvm_fw_cfg_read_byte(&f), 0x00);
	assert_int_equal(cvm_fw_cfg_read_byte(&f), 0x04);
	free(bus);
}

/* ---- i8042 ---- */

static void on_reset(void *ctx)
{
	(*(unsigned int *)ctx)++;
}

static void test_i8042(void **state)
{
	struct cvm_iobus *bus = new_bus();
	struct cvm_i8042 k;
	unsigned int resets = 0;

	cvm_i8042_init(&k, on_reset, &resets);
	assert_int_equal(cvm_i8042_register(bus, &k), 0);
	/* status: system flag and unlocked, input buffer empty (reset code polls it) */
	assert_int_equal(in(bus, CVM_PORT_I8042_CMD, 1), 0x14);
	/* the classic reset */
	out(bus, CVM_PORT_I8042_CMD, 1, 0xfe);
	assert_int_equal(resets, 1);
	assert_int_equal(in(bus, CVM_PORT_I8042_CMD, 1), 0x1c); /* last write: command */
	/* other pulses of the reset line (bit 0 low) reset; 0xff pulses nothing */
	out(bus, CVM_PORT_I8042_CMD, 1, 0xf0);
	assert_int_equal(resets, 2);
	out(bus, CVM_PORT_I8042_CMD, 1, 0xff);
	out(bus, CVM_PORT_I8042_CMD, 1, 0xfd);
	assert_int_equal(resets, 2);
	/* the output port: bit 0 low resets, high does not */
	out(bus, CVM_PORT_I8042_CMD, 1, 0xd1);
	out(bus, CVM_PORT_I8042_DATA, 1, 0xdf);
	assert_int_equal(resets, 2);
	out(bus, CVM_PORT_I8042_CMD, 1, 0xd1);
	out(bus, CVM_PORT_I8042_DATA, 1, 0xfe);
	assert_int_equal(resets, 3);
	assert_int_equal(in(bus, CVM_PORT_I8042_CMD, 1), 0x14); /* last write: data */
	/* a data byte without a command goes to the absent keyboard */
	out(bus, CVM_PORT_I8042_DATA, 1, 0xfe);
	assert_int_equal(resets, 3);
	assert_int_equal(k.resets, 3);
	/* self-test and the command byte answer through the output buffer */
	out(bus, CVM_PORT_I8042_CMD, 1, 0xaa);
	assert_int_equal(in(bus, CVM_PORT_I8042_CMD, 1) & 0x01, 0x01);
	assert_int_equal(in(bus, CVM_PORT_I8042_DATA, 1), 0x55);
	assert_int_equal(in(bus, CVM_PORT_I8042_CMD, 1) & 0x01, 0x00);
	out(bus, CVM_PORT_I8042_CMD, 1, 0x60);
	out(bus, CVM_PORT_I8042_DATA, 1, 0x47);
	out(bus, CVM_PORT_I8042_CMD, 1, 0x20);
	assert_int_equal(in(bus, CVM_PORT_I8042_DATA, 1), 0x47);
	/* other commands are ignored and counted */
	uint64_t ignored = k.ignored;
	out(bus, CVM_PORT_I8042_CMD, 1, 0xa7);
	out(bus, CVM_PORT_I8042_CMD, 1, 0xad);
	assert_int_equal(k.ignored, ignored + 2);
	assert_int_equal(resets, 3);
	/* port 0x61 (and the rest between) is not the controller's */
	uint32_t v;
	assert_false(cvm_iobus_read(bus, 0x61, 1, &v));
	free(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_debug_exit),
	        cmocka_unit_test(test_fw_cfg_items),
	        cmocka_unit_test(test_fw_cfg_port_sizes),
	        cmocka_unit_test(test_i8042),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
