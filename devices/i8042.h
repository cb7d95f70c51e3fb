/*
 * The PC keyboard controller, as much as guests use to reset the machine: a
 * command write of 0xFE (any 0xF0-0xFE with bit 0 clear: pulse the reset line)
 * or an output-port write with bit 0 clear asks the host for a reset. There is
 * no keyboard. Pure; the caller serialises calls.
 */
#ifndef COREVM_DEVICES_I8042_H
#define COREVM_DEVICES_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/iobus.h"

#define CVM_I8042_STS_OBF    0x01 /* output buffer full: a byte waits at the data port */
#define CVM_I8042_STS_IBF    0x02 /* input buffer full: never, commands complete at once */
#define CVM_I8042_STS_SYS    0x04 /* system flag: self-test passed */
#define CVM_I8042_STS_CMD    0x08 /* the last write went to the command port */
#define CVM_I8042_STS_UNLOCK 0x10 /* keyboard not inhibited */

#define CVM_I8042_CMD_READ_CONFIG   0x20
#define CVM_I8042_CMD_WRITE_CONFIG  0x60
#define CVM_I8042_CMD_SELF_TEST     0xaa /* answers 0x55 */
#define CVM_I8042_CMD_WRITE_OUTPORT 0xd1 /* next data byte is the output port; bit 0 = reset */
#define CVM_I8042_CMD_RESET         0xfe

typedef void cvm_i8042_reset_fn(void *ctx);

struct cvm_i8042 {
	cvm_i8042_reset_fn *request_reset;
	void *ctx;
	uint8_t status;
	uint8_t config;   /* the controller command byte */
	uint8_t out;      /* the byte at the data port when OBF */
	uint8_t pending;  /* command waiting for its data byte, or 0 */
	uint64_t resets;  /* reset requests made */
	uint64_t ignored; /* commands and data bytes without effect */
};

void cvm_i8042_init(struct cvm_i8042 *k, cvm_i8042_reset_fn *request_reset, void *ctx);

/* Claims CVM_PORT_I8042_DATA (0x60) and CVM_PORT_I8042_CMD (0x64) on bus; iobus errors. */
int cvm_i8042_register(struct cvm_iobus *bus, struct cvm_i8042 *k);

/* The two ports as functions, for tests and callers not on the bus. */
uint8_t cvm_i8042_read(struct cvm_i8042 *k, bool cmd_port);
void cvm_i8042_write(struct cvm_i8042 *k, bool cmd_port, uint8_t val);

/* Handlers for the data port (0x60) and the command/status port (0x64); dev = struct cvm_i8042 *. */
extern const struct cvm_io_ops cvm_i8042_data_io_ops;
extern const struct cvm_io_ops cvm_i8042_cmd_io_ops;

#endif
