/*
 * The legacy I/O port bus: devices claim port ranges; accesses to nothing read
 * as all ones, are ignored on write, and are counted per port. Not thread-safe:
 * the caller serialises access (the KVM backend holds its device lock).
 */
#ifndef COREVM_DEVICES_IOBUS_H
#define COREVM_DEVICES_IOBUS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A device's port handlers. `offset` is relative to the range's first port,
 * `size` is 1, 2 or 4. read stores the value in *val (the bus pre-fills all
 * ones). Either may be NULL (reads all ones / writes ignored).
 */
struct cvm_io_ops {
	void (*read)(void *dev, uint16_t offset, unsigned int size, uint32_t *val);
	void (*write)(void *dev, uint16_t offset, unsigned int size, uint32_t val);
};

#define CVM_IOBUS_MAX_RANGES 32

struct cvm_io_range {
	uint16_t base;
	uint16_t len;
	const struct cvm_io_ops *ops;
	void *dev;
	const char *name;
};

struct cvm_iobus {
	struct cvm_io_range range[CVM_IOBUS_MAX_RANGES];
	unsigned int nranges;
	uint64_t unhandled_reads[65536 / 64];  /* bitmap: ports read with no device */
	uint64_t unhandled_writes[65536 / 64]; /* bitmap: ports written with no device */
	uint32_t unhandled_count[65536];       /* accesses per port with no device (saturating) */
	uint64_t unhandled_total;
};

void cvm_iobus_init(struct cvm_iobus *bus);

/* Claims [base, base + len); -EEXIST on overlap, -ENOSPC when full, -EINVAL on len 0 or wrap. */
int cvm_iobus_register(struct cvm_iobus *bus, uint16_t base, uint16_t len,
                       const struct cvm_io_ops *ops, void *dev, const char *name);

/*
 * Dispatches one access of `size` bytes (1, 2 or 4; anything else is treated as
 * unhandled). A device claims the access only when all its bytes lie in the
 * device's range; otherwise it is unhandled and counted at `port`. Returns true
 * when a device claimed the port.
 */
bool cvm_iobus_read(struct cvm_iobus *bus, uint16_t port, unsigned int size, uint32_t *val);
bool cvm_iobus_write(struct cvm_iobus *bus, uint16_t port, unsigned int size, uint32_t val);

#endif
