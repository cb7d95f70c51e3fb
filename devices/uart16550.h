/*
 * A 16550A UART model (8 registers on the port bus): transmit through a
 * callback, receive through a bounded FIFO the host pushes into, and a level
 * interrupt line. Pure: no syscalls, no clock, no allocation. Not thread-safe:
 * the caller serialises every call (the KVM backend holds its device lock) and
 * callbacks run under that serialisation, so they must not call back into the
 * device.
 */
#ifndef COREVM_DEVICES_UART16550_H
#define COREVM_DEVICES_UART16550_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/iobus.h"

/* Register offsets from the base port. */
enum cvm_uart_reg {
	CVM_UART_RBR_THR_DLL = 0, /* read RBR / write THR; DLL when LCR.DLAB */
	CVM_UART_IER_DLM = 1,     /* IER; DLM when LCR.DLAB */
	CVM_UART_IIR_FCR = 2,     /* read IIR / write FCR */
	CVM_UART_LCR = 3,
	CVM_UART_MCR = 4,
	CVM_UART_LSR = 5,
	CVM_UART_MSR = 6,
	CVM_UART_SCR = 7,
	CVM_UART_NREGS = 8,
};

#define CVM_UART_IER_RDI  0x01 /* received data available (and character timeout) */
#define CVM_UART_IER_THRI 0x02 /* transmitter holding register empty */
#define CVM_UART_IER_RLSI 0x04 /* receiver line status */
#define CVM_UART_IER_MSI  0x08 /* modem status */

#define CVM_UART_IIR_NO_INT  0x01
#define CVM_UART_IIR_MSI     0x00
#define CVM_UART_IIR_THRI    0x02
#define CVM_UART_IIR_RDI     0x04
#define CVM_UART_IIR_RLSI    0x06
#define CVM_UART_IIR_TIMEOUT 0x0c
#define CVM_UART_IIR_FIFOS   0xc0 /* both set when the FIFOs are enabled */

#define CVM_UART_FCR_ENABLE   0x01
#define CVM_UART_FCR_CLEAR_RX 0x02
#define CVM_UART_FCR_CLEAR_TX 0x04

#define CVM_UART_LCR_DLAB 0x80

#define CVM_UART_MCR_DTR  0x01
#define CVM_UART_MCR_RTS  0x02
#define CVM_UART_MCR_OUT1 0x04
#define CVM_UART_MCR_OUT2 0x08 /* gates the interrupt line on PC boards */
#define CVM_UART_MCR_LOOP 0x10

#define CVM_UART_LSR_DR   0x01
#define CVM_UART_LSR_OE   0x02
#define CVM_UART_LSR_THRE 0x20
#define CVM_UART_LSR_TEMT 0x40

#define CVM_UART_MSR_DCTS 0x01
#define CVM_UART_MSR_DDSR 0x02
#define CVM_UART_MSR_TERI 0x04
#define CVM_UART_MSR_DDCD 0x08
#define CVM_UART_MSR_CTS  0x10
#define CVM_UART_MSR_DSR  0x20
#define CVM_UART_MSR_RI   0x40
#define CVM_UART_MSR_DCD  0x80

#define CVM_UART_FIFO_SIZE 16 /* the 16550A's receive FIFO */

/* What the device asks of its host. tx and set_irq are required; rx_room may be NULL. */
struct cvm_uart_callbacks {
	/* One byte the guest transmitted (not called in loopback), exactly as written. */
	void (*tx)(void *ctx, uint8_t byte);
	/* The interrupt line's new level; called only when it changes. */
	void (*set_irq)(void *ctx, bool level);
	/* The receive FIFO gained room (the guest read RBR or cleared the FIFO). */
	void (*rx_room)(void *ctx);
};

struct cvm_uart {
	const struct cvm_uart_callbacks *cb;
	void *ctx;
	/* registers */
	uint8_t ier, fcr, lcr, mcr, lsr, msr, scr, dll, dlm;
	uint8_t rbr_last;  /* what RBR reads when the FIFO is empty */
	bool thri_pending; /* THR-empty interrupt armed (cleared by IIR read or THR write) */
	bool irq_level;
	/* receive FIFO (capacity 16 with FIFOs enabled, 1 without) */
	uint8_t rx[CVM_UART_FIFO_SIZE];
	unsigned int rx_head, rx_count;
	/* counters */
	uint64_t tx_bytes;     /* bytes given to cb->tx */
	uint64_t rx_bytes;     /* bytes the guest read from RBR */
	uint64_t rx_overruns;  /* bytes lost because the FIFO was full (LSR.OE set) */
	uint64_t rx_discarded; /* host bytes refused in loopback mode */
};

/* Resets the device to its power-on state (LSR THRE|TEMT, MSR CTS|DSR|DCD). cb must outlive u. */
void cvm_uart_init(struct cvm_uart *u, const struct cvm_uart_callbacks *cb, void *ctx);

/* Claims [base, base + 8) on bus (CVM_PORT_UART0 for COM1); iobus errors. */
int cvm_uart_register(struct cvm_iobus *bus, struct cvm_uart *u, uint16_t base);

/* One 8-bit register access; reg < 8 (higher values read 0xff / are ignored). */
uint8_t cvm_uart_read(struct cvm_uart *u, unsigned int reg);
void cvm_uart_write(struct cvm_uart *u, unsigned int reg, uint8_t val);

/*
 * Host input: queues up to len bytes in the receive FIFO. Bytes that find it
 * full are lost as on hardware (LSR.OE, rx_overruns); in loopback mode all are
 * refused (rx_discarded). Returns the number queued. To lose nothing, push at
 * most cvm_uart_rx_room() bytes and push again after cb->rx_room.
 */
size_t cvm_uart_push_rx(struct cvm_uart *u, const uint8_t *buf, size_t len);

/* How many bytes the receive FIFO takes now (0 in loopback mode). */
unsigned int cvm_uart_rx_room(const struct cvm_uart *u);

/* The port-bus handlers (dev = struct cvm_uart *); wider accesses act byte by byte. */
extern const struct cvm_io_ops cvm_uart_io_ops;

#endif
