/* The keyboard controller's reset paths, with a status register that polling code accepts. */
#include <stdbool.h>
#include <string.h>

#include "arch/x86/guest_abi.h"
#include "devices/i8042.h"

#define CONFIG_DEFAULT 0x44 /* system flag, scan-code translation; no interrupts */

void cvm_i8042_init(struct cvm_i8042 *k, cvm_i8042_reset_fn *request_reset, void *ctx)
{
	memset(k, 0, sizeof(*k));
	k->request_reset = request_reset;
	k->ctx = ctx;
	k->status = CVM_I8042_STS_SYS | CVM_I8042_STS_UNLOCK;
	k->config = CONFIG_DEFAULT;
}

int cvm_i8042_register(struct cvm_iobus *bus, struct cvm_i8042 *k)
{
	int rc = cvm_iobus_register(bus, CVM_PORT_I8042_DATA, 1, &cvm_i8042_data_io_ops, k,
	                            "i8042-data");
	if (rc == 0)
		rc = cvm_iobus_register(bus, CVM_PORT_I8042_CMD, 1, &cvm_i8042_cmd_io_ops, k,
		                        "i8042-cmd");
	return rc;
}

static void reset(struct cvm_i8042 *k)
{
	k->resets++;
	if (k->request_reset)
		k->request_reset(k->ctx);
}

static void output(struct cvm_i8042 *k, uint8_t byte)
{
	k->out = byte;
	k->status |= CVM_I8042_STS_OBF;
}

static void command(struct cvm_i8042 *k, uint8_t cmd)
{
	k->pending = 0;
	if (cmd >= 0xf0 && !(cmd & 1)) { /* pulse output lines; bit 0 low = reset line */
		reset(k);
		return;
	}
	switch (cmd) {
	case CVM_I8042_CMD_READ_CONFIG:
		output(k, k->config);
		break;
	case CVM_I8042_CMD_SELF_TEST:
		output(k, 0x55);
		break;
	case CVM_I8042_CMD_WRITE_CONFIG:
	case CVM_I8042_CMD_WRITE_OUTPORT:
		k->pending = cmd;
		break;
	default:
		k->ignored++;
		break;
	}
}

static void data(struct cvm_i8042 *k, uint8_t val)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	if (cmd == CVM_I8042_CMD_WRITE_CONFIG)
		k->config = val;
	else if (cmd == CVM_I8042_CMD_WRITE_OUTPORT && !(val & 1))
		reset(k);
	else if (cmd != CVM_I8042_CMD_WRITE_OUTPORT)
		k->ignored++; /* a byte for the (absent) keyboard */
}

uint8_t cvm_i8042_read(struct cvm_i8042 *k, bool cmd_port)
{
	if (cmd_port)
		return k->status;
	k->status &= (uint8_t)~CVM_I8042_STS_OBF;
	return k->out;
}

void cvm_i8042_write(struct cvm_i8042 *k, bool cmd_port, uint8_t val)
{
	if (cmd_port) {
		k->status |= CVM_I8042_STS_CMD;
		command(k, val);
	} else {
		k->status &= (uint8_t)~CVM_I8042_STS_CMD;
		data(k, val);
	}
}

static void data_read(void *dev, uint16_t offset, unsigned int size, uint32_t *val)
{
	*val = cvm_i8042_read(dev, false);
}

static void data_write(void *dev, uint16_t offset, unsigned int size, uint32_t val)
{
	cvm_i8042_write(dev, false, (uint8_t)val);
}

static void cmd_read(void *dev, uint16_t offset, unsigned int size, uint32_t *val)
{
	*val = cvm_i8042_read(dev, true);
}

static void cmd_write(void *dev, uint16_t offset, unsigned int size, uint32_t val)
{
	cvm_i8042_write(dev, true, (uint8_t)val);
}

const struct cvm_io_ops cvm_i8042_data_io_ops = {.read = data_read, .write = data_write};
const struct cvm_io_ops cvm_i8042_cmd_io_ops = {.read = cmd_read, .write = cmd_write};
