/* The corevm machine: UART, debug exit, fw_cfg and i8042 on the port bus, wired to a VM. */
#include "vmm/board.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "arch/x86/guest_abi.h"
#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/i8042.h"
#include "devices/iobus.h"
#include "devices/uart16550.h"
#include "util/log.h"

#define CVM_UART0_IRQ 4

struct cvm_board {
	struct cvm_vm *vm;
	struct cvm_iobus bus;
	struct cvm_uart uart;
	struct cvm_debug_exit debug_exit;
	struct cvm_fw_cfg fw_cfg;
	struct cvm_i8042 i8042;
};

static void board_pio(void *ctx, unsigned int vcpu, uint16_t port, unsigned int size, bool is_write,
                      uint32_t *val)
{
	struct cvm_board *b = ctx;

	if (is_write)
		cvm_iobus_write(&b->bus, port, size, *val);
	else
		cvm_iobus_read(&b->bus, port, size, val);
}

static void uart_tx(void *ctx, uint8_t byte)
{
	struct cvm_board *b = ctx;
	cvm_vm_console_put(b->vm, byte);
}

static void uart_set_irq(void *ctx, bool level)
{
	struct cvm_board *b = ctx;
	cvm_vm_set_irq(b->vm, CVM_UART0_IRQ, level);
}

static void uart_rx_room(void *ctx)
{
	struct cvm_board *b = ctx;
	cvm_vm_console_rx_ready(b->vm);
}

static const struct cvm_uart_callbacks uart_cb = {
        .tx = uart_tx,
        .set_irq = uart_set_irq,
        .rx_room = uart_rx_room,
};

/* Console input for the UART: only what its FIFO takes, so nothing is overrun. */
static unsigned int uart_push(void *ctx, const uint8_t *buf, unsigned int len)
{
	struct cvm_board *b = ctx;
	unsigned int room = cvm_uart_rx_room(&b->uart);

	return (unsigned int)cvm_uart_push_rx(&b->uart, buf, len < room ? len : room);
}

static void debug_exit(void *ctx, uint32_t value, uint32_t status)
{
	struct cvm_board *b = ctx;
	/* A process exit status keeps its low 8 bits (as with QEMU): say so in the statistics too. */
	cvm_vm_request_end(b->vm, (int)(status & 0xff), "debug-exit");
}

static void i8042_reset(void *ctx)
{
	struct cvm_board *b = ctx;
	cvm_vm_request_end(b->vm, CVM_EXIT_RESET, "reset");
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

/* Unclaimed ports listed one by one in the statistics; the rest are only counted (docs/limits.md). */
#define CVM_STATS_PIO_LISTED 256

/* Adds the unhandled ports and device counters to the statistics' "vm" object. */
static void board_stats(void *ctx, struct json_object *vm_obj)
{
	struct cvm_board *b = ctx;
	struct json_object *ports = json_object_new_array();
	struct json_object *dev = json_object_new_object();
	struct json_object *o;
	uint64_t nports = 0;

	for (unsigned int p = 0; p < 65536; p++) {
		bool r = b->bus.unhandled_reads[p / 64] >> (p % 64) & 1;
		bool w = b->bus.unhandled_writes[p / 64] >> (p % 64) & 1;
		if (!r && !w && !b->bus.unhandled_count[p])
			continue;
		if (nports++ >= CVM_STATS_PIO_LISTED)
			continue; /* counted in unhandled_pio_ports, not listed */
		o = json_object_new_object();
		add_u64(o, "port", p);
		add_u64(o, "count", b->bus.unhandled_count[p]);
		json_object_object_add(o, "read", json_object_new_boolean(r));
		json_object_object_add(o, "write", json_object_new_boolean(w));
		json_object_array_add(ports, o);
	}
	json_object_object_add(vm_obj, "unhandled_pio", ports);
	add_u64(vm_obj, "unhandled_pio_total", b->bus.unhandled_total);
	add_u64(vm_obj, "unhandled_pio_ports", nports);

	o = json_object_new_object();
	add_u64(o, "tx_bytes", b->uart.tx_bytes);
	add_u64(o, "rx_bytes", b->uart.rx_bytes);
	add_u64(o, "rx_overruns", b->uart.rx_overruns);
	add_u64(o, "rx_discarded", b->uart.rx_discarded);
	json_object_object_add(dev, "uart", o);
	o = json_object_new_object();
	add_u64(o, "writes", b->debug_exit.writes);
	json_object_object_add(dev, "debug_exit", o);
	o = json_object_new_object();
	add_u64(o, "selects", b->fw_cfg.selects);
	add_u64(o, "past_end", b->fw_cfg.past_end);
	json_object_object_add(dev, "fw_cfg", o);
	o = json_object_new_object();
	add_u64(o, "resets", b->i8042.resets);
	add_u64(o, "ignored", b->i8042.ignored);
	json_object_object_add(dev, "i8042", o);
	json_object_object_add(vm_obj, "devices", dev);
}

int cvm_board_create(struct cvm_vm *vm, unsigned int ncpus, uint64_t ram_size,
                     struct cvm_board **out)
{
	struct cvm_board *b = calloc(1, sizeof(*b));
	int e;

	*out = NULL;
	if (!b) {
		cvm_err("board", "out of memory");
		return -ENOMEM;
	}
	b->vm = vm;
	cvm_iobus_init(&b->bus);
	cvm_uart_init(&b->uart, &uart_cb, b);
	cvm_debug_exit_init(&b->debug_exit, debug_exit, b);
	cvm_fw_cfg_init(&b->fw_cfg, ram_size, (uint16_t)ncpus, (uint16_t)ncpus);
	cvm_i8042_init(&b->i8042, i8042_reset, b);
	e = cvm_uart_register(&b->bus, &b->uart, CVM_PORT_UART0);
	if (e == 0)
		e = cvm_debug_exit_register(&b->bus, &b->debug_exit);
	if (e == 0)
		e = cvm_fw_cfg_register(&b->bus, &b->fw_cfg);
	if (e == 0)
		e = cvm_i8042_register(&b->bus, &b->i8042);
	if (e < 0) {
		cvm_err("board", "registering the devices on the port bus: %s", strerror(-e));
		free(b);
		return e;
	}
	cvm_vm_set_pio(vm, board_pio, b);
	cvm_vm_console_set_rx(vm, uart_push, b);
	cvm_vm_set_stats_hook(vm, board_stats, b);
	*out = b;
	return 0;
}

void cvm_board_destroy(struct cvm_board *b)
{
	free(b);
}
