/*
 * fw_cfg reader for guests, over QEMU's legacy I/O interface: a 16-bit key
 * written to the selector port 0x510, then the item's bytes read one at a time
 * from the data port 0x511. Key numbers and byte order as in QEMU (numbers are
 * little endian).
 */
#ifndef GUEST_LIB_FWCFG_H
#define GUEST_LIB_FWCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_CFG_SIGNATURE 0x00 /* 4 bytes "QEMU" */
#define FW_CFG_ID        0x01 /* 32-bit feature bitmap */
#define FW_CFG_RAM_SIZE  0x03 /* 64-bit */
#define FW_CFG_NB_CPUS   0x05 /* 16-bit: vCPUs present at boot */
#define FW_CFG_MAX_CPUS  0x0f /* 16-bit */

/* Selects key and reads len bytes of it into buf. */
void guest_fwcfg_read(uint16_t key, void *buf, size_t len);
uint16_t guest_fwcfg_read16(uint16_t key);
uint32_t guest_fwcfg_read32(uint16_t key);
uint64_t guest_fwcfg_read64(uint16_t key);

/* Whether the signature item reads "QEMU". */
bool guest_fwcfg_present(void);

/* NB_CPUS, checked: fails the test unless fw_cfg is present and 1 <= n <= 255. */
unsigned int guest_fwcfg_nb_cpus(void);

#endif
