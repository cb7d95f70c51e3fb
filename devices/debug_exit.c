/* QEMU's isa-debug-exit: a port write becomes a request to end the VM with a status. */
#include "arch/x86/guest_abi.h"
#include "devices/debug_exit.h"

void cvm_debug_exit_init(struct cvm_debug_exit *d, cvm_debug_exit_fn *request_exit, void *ctx)
{
	*d = (struct cvm_debug_exit){.request_exit = request_exit, .ctx = ctx};
}

int cvm_debug_exit_register(struct cvm_iobus *bus, struct cvm_debug_exit *d)
{
	return cvm_iobus_register(bus, CVM_PORT_DEBUG_EXIT, CVM_DEBUG_EXIT_IOSIZE,
	                          &cvm_debug_exit_io_ops, d, "debug-exit");
}

static void io_read(void *dev, uint16_t offset, unsigned int size, uint32_t *val)
{
	*val = 0;
}

static void io_write(void *dev, uint16_t offset, unsigned int size, uint32_t val)
{
	struct cvm_debug_exit *d = dev;

	d->writes++;
	d->last_value = val;
	if (d->request_exit)
		d->request_exit(d->ctx, val, cvm_debug_exit_status(val));
}

const struct cvm_io_ops cvm_debug_exit_io_ops = {.read = io_read, .write = io_write};
