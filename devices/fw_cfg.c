/* fw_cfg over the legacy I/O ports: the selected item is built into a fixed buffer on selection. */
#include <string.h>

#include "arch/x86/guest_abi.h"
#include "devices/fw_cfg.h"

void cvm_fw_cfg_init(struct cvm_fw_cfg *f, uint64_t ram_size, uint16_t nb_cpus, uint16_t max_cpus)
{
	memset(f, 0, sizeof(*f));
	f->ram_size = ram_size;
	f->nb_cpus = nb_cpus;
	f->max_cpus = max_cpus;
	cvm_fw_cfg_select(f, CVM_FW_CFG_SIGNATURE);
	f->selects = 0;
}

int cvm_fw_cfg_register(struct cvm_iobus *bus, struct cvm_fw_cfg *f)
{
	return cvm_iobus_register(bus, CVM_PORT_FW_CFG_SEL, 2, &cvm_fw_cfg_io_ops, f, "fw_cfg");
}

static void put_le(struct cvm_fw_cfg *f, uint64_t v, uint8_t len)
{
	for (uint8_t i = 0; i < len; i++)
		f->item[i] = (uint8_t)(v >> (8 * i));
	f->item_len = len;
}

void cvm_fw_cfg_select(struct cvm_fw_cfg *f, uint16_t key)
{
	f->key = key;
	f->offset = 0;
	f->item_len = 0;
	f->selects++;
	switch (key) {
	case CVM_FW_CFG_SIGNATURE:
		memcpy(f->item, "QEMU", 4);
		f->item_len = 4;
		break;
	case CVM_FW_CFG_ID:
		put_le(f, CVM_FW_CFG_ID_TRADITIONAL, 4);
		break;
	case CVM_FW_CFG_RAM_SIZE:
		put_le(f, f->ram_size, 8);
		break;
	case CVM_FW_CFG_NB_CPUS:
		put_le(f, f->nb_cpus, 2);
		break;
	case CVM_FW_CFG_MAX_CPUS:
		put_le(f, f->max_cpus, 2);
		break;
	default:
		break;
	}
}

uint8_t cvm_fw_cfg_read_byte(struct cvm_fw_cfg *f)
{
	if (f->offset >= f->item_len) {
		f->past_end++;
		return 0;
	}
	return f->item[f->offset++];
}

static void io_read(void *dev, uint16_t offset, unsigned int size, uint32_t *val)
{
	if (offset == CVM_FW_CFG_PORT_DATA && size == 1)
		*val = cvm_fw_cfg_read_byte(dev);
}

static void io_write(void *dev, uint16_t offset, unsigned int size, uint32_t val)
{
	if (offset == CVM_FW_CFG_PORT_SEL && size == 2)
		cvm_fw_cfg_select(dev, (uint16_t)val);
}

const struct cvm_io_ops cvm_fw_cfg_io_ops = {.read = io_read, .write = io_write};
