/* The legacy I/O port bus: range registration, dispatch, and counting of accesses to nothing. */
#include <errno.h>
#include <string.h>

#include "core/bitmap.h"
#include "devices/iobus.h"

void cvm_iobus_init(struct cvm_iobus *bus)
{
	memset(bus, 0, sizeof(*bus));
}

int cvm_iobus_register(struct cvm_iobus *bus, uint16_t base, uint16_t len,
                       const struct cvm_io_ops *ops, void *dev, const char *name)
{
	uint32_t end = (uint32_t)base + len;

	if (len == 0 || end > 0x10000 || !ops)
		return -EINVAL;
	for (unsigned int i = 0; i < bus->nranges; i++) {
		const struct cvm_io_range *r = &bus->range[i];
		if (base < (uint32_t)r->base + r->len && r->base < end)
			return -EEXIST;
	}
	if (bus->nranges == CVM_IOBUS_MAX_RANGES)
		return -ENOSPC;
	bus->range[bus->nranges++] = (struct cvm_io_range){base, len, ops, dev, name};
	return 0;
}

/* The range holding every byte of [port, port + size), or NULL. */
static const struct cvm_io_range *find(const struct cvm_iobus *bus, uint16_t port,
                                       unsigned int size)
{
	if (size != 1 && size != 2 && size != 4)
		return NULL;
	for (unsigned int i = 0; i < bus->nranges; i++) {
		const struct cvm_io_range *r = &bus->range[i];
		if (port >= r->base && (uint32_t)port + size <= (uint32_t)r->base + r->len)
			return r;
	}
	return NULL;
}

static void count_unhandled(struct cvm_iobus *bus, uint16_t port, uint64_t *map)
{
	cvm_bit_set(map, port);
	if (bus->unhandled_count[port] != UINT32_MAX)
		bus->unhandled_count[port]++;
	bus->unhandled_total++;
}

static uint32_t ones(unsigned int size)
{
	return size >= 4 ? UINT32_MAX : (UINT32_C(1) << (8 * size)) - 1;
}

bool cvm_iobus_read(struct cvm_iobus *bus, uint16_t port, unsigned int size, uint32_t *val)
{
	const struct cvm_io_range *r = find(bus, port, size);

	*val = ones(size);
	if (!r) {
		count_unhandled(bus, port, bus->unhandled_reads);
		return false;
	}
	if (r->ops->read) {
		r->ops->read(r->dev, (uint16_t)(port - r->base), size, val);
		*val &= ones(size);
	}
	return true;
}

bool cvm_iobus_write(struct cvm_iobus *bus, uint16_t port, unsigned int size, uint32_t val)
{
	const struct cvm_io_range *r = find(bus, port, size);

	if (!r) {
		count_unhandled(bus, port, bus->unhandled_writes);
		return false;
	}
	if (r->ops->write)
		r->ops->write(r->dev, (uint16_t)(port - r->base), size, val & ones(size));
	return true;
}
