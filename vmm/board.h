/*
 * The corevm machine: its devices on the legacy port bus (16550A UART at 0x3f8
 * on IRQ 4, debug exit at 0xf4, fw_cfg at 0x510/0x511, i8042 reset at 0x64),
 * wired to a VM: port I/O, console, interrupt line, end of the VM, statistics.
 */
#ifndef COREVM_VMM_BOARD_H
#define COREVM_VMM_BOARD_H

#include <stdint.h>

#include "vmm/vm.h"

struct cvm_board;

/*
 * Creates the devices and installs them on `vm` (cvm_vm_set_pio, console
 * receive, statistics hook). fw_cfg reports `ncpus` and `ram_size`. Call after
 * cvm_vm_create() and before cvm_vm_run(). Returns 0 or -errno (reported).
 */
int cvm_board_create(struct cvm_vm *vm, unsigned int ncpus, uint64_t ram_size,
                     struct cvm_board **out);

/* Frees the devices; only once the VM's threads are stopped. Safe on NULL. */
void cvm_board_destroy(struct cvm_board *b);

#endif
