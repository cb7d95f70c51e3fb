/*
 * QEMU's fw_cfg, legacy I/O interface only: a 16-bit selector write picks an
 * item, 8-bit data reads walk its bytes. Items: signature, ID, RAM size and CPU
 * counts, with QEMU's key numbers and byte order. Pure, allocation-free; the
 * caller serialises calls.
 */
#ifndef COREVM_DEVICES_FW_CFG_H
#define COREVM_DEVICES_FW_CFG_H

#include <stdint.h>

#include "devices/iobus.h"

/* Keys (QEMU's numbering). Any other key is an empty item. */
#define CVM_FW_CFG_SIGNATURE 0x0000 /* "QEMU" */
#define CVM_FW_CFG_ID        0x0001 /* 32-bit LE feature bitmap */
#define CVM_FW_CFG_RAM_SIZE  0x0003 /* 64-bit LE bytes */
#define CVM_FW_CFG_NB_CPUS   0x0005 /* 16-bit LE */
#define CVM_FW_CFG_MAX_CPUS  0x000f /* 16-bit LE */

#define CVM_FW_CFG_ID_TRADITIONAL 0x1u /* bit 0: the I/O port interface; no DMA (bit 1) */

/* Port offsets from CVM_PORT_FW_CFG_SEL. */
#define CVM_FW_CFG_PORT_SEL  0
#define CVM_FW_CFG_PORT_DATA 1

struct cvm_fw_cfg {
	uint64_t ram_size;
	uint16_t nb_cpus;
	uint16_t max_cpus;
	/* the selected item, materialised on selection */
	uint16_t key;
	uint8_t item[8];
	uint8_t item_len;
	uint8_t offset;    /* next byte to read; reads past item_len return 0 */
	uint64_t selects;  /* selector writes */
	uint64_t past_end; /* data reads past the end of the item */
};

/* Fixes the values the guest can read; selects the signature (as at reset). */
void cvm_fw_cfg_init(struct cvm_fw_cfg *f, uint64_t ram_size, uint16_t nb_cpus, uint16_t max_cpus);

/* Claims [CVM_PORT_FW_CFG_SEL, +2) on bus; iobus errors. */
int cvm_fw_cfg_register(struct cvm_iobus *bus, struct cvm_fw_cfg *f);

/* The selector write and the data read, for callers that are not on the bus. */
void cvm_fw_cfg_select(struct cvm_fw_cfg *f, uint16_t key);
uint8_t cvm_fw_cfg_read_byte(struct cvm_fw_cfg *f);

/*
 * Port handlers (dev = struct cvm_fw_cfg *): a 16-bit write at the selector
 * selects; an 8-bit read at data returns the next byte. Other sizes, selector
 * reads (all ones) and data writes (ignored, as QEMU since 2.4) do nothing.
 */
extern const struct cvm_io_ops cvm_fw_cfg_io_ops;

#endif
