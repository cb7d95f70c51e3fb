/*
 * QEMU's isa-debug-exit (iosize 4): a guest write of V asks for the end of the
 * VM with process exit status (V << 1) | 1. Pure; the caller serialises calls.
 */
#ifndef COREVM_DEVICES_DEBUG_EXIT_H
#define COREVM_DEVICES_DEBUG_EXIT_H

#include <stdint.h>

#include "devices/iobus.h"

#define CVM_DEBUG_EXIT_IOSIZE 4

/*
 * Called on every write: `value` as written (1, 2 or 4 bytes wide), `status`
 * = (value << 1) | 1 in 32 bits; a process exit status keeps its low 8 bits, as
 * with QEMU. The host ends the VM; later writes call again.
 */
typedef void cvm_debug_exit_fn(void *ctx, uint32_t value, uint32_t status);

struct cvm_debug_exit {
	cvm_debug_exit_fn *request_exit;
	void *ctx;
	uint64_t writes;
	uint32_t last_value;
};

void cvm_debug_exit_init(struct cvm_debug_exit *d, cvm_debug_exit_fn *request_exit, void *ctx);

/* Claims [CVM_PORT_DEBUG_EXIT, +4) on bus; iobus errors. */
int cvm_debug_exit_register(struct cvm_iobus *bus, struct cvm_debug_exit *d);

/* The status a write of `value` asks for. */
static inline uint32_t cvm_debug_exit_status(uint32_t value)
{
	return (value << 1) | 1;
}

/* Reads return 0 (as QEMU's); any write at any offset requests the exit. */
extern const struct cvm_io_ops cvm_debug_exit_io_ops;

#endif
