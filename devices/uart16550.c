/*
 * The 16550A UART model: register file, interrupt identification by priority,
 * receive FIFO with overrun, loopback, and the OUT2-gated interrupt line.
 */
#include <string.h>

#include "devices/uart16550.h"

#define LSR_ERRORS   0x1e /* OE, PE, FE, BI: cleared by reading LSR */
#define MSR_DELTAS   0x0f
#define MSR_LINES    0xf0
#define MSR_IDLE     (CVM_UART_MSR_CTS | CVM_UART_MSR_DSR | CVM_UART_MSR_DCD)
#define FCR_WRITABLE 0xc9 /* enable, DMA mode, trigger level */

static bool fifo_on(const struct cvm_uart *u)
{
	return u->fcr & CVM_UART_FCR_ENABLE;
}

static unsigned int rx_capacity(const struct cvm_uart *u)
{
	return fifo_on(u) ? CVM_UART_FIFO_SIZE : 1;
}

static unsigned int rx_trigger(const struct cvm_uart *u)
{
	static const unsigned int level[4] = {1, 4, 8, 14};
	return fifo_on(u) ? level[u->fcr >> 6] : 1;
}

/*
 * The pending interrupt of highest priority: line status, received data (the
 * character timeout counts as elapsed at once, there being no clock), THR
 * empty, modem status; CVM_UART_IIR_NO_INT when none.
 */
static uint8_t iir_id(const struct cvm_uart *u)
{
	if ((u->ier & CVM_UART_IER_RLSI) && (u->lsr & LSR_ERRORS))
		return CVM_UART_IIR_RLSI;
	if ((u->ier & CVM_UART_IER_RDI) && u->rx_count)
		return u->rx_count >= rx_trigger(u) ? CVM_UART_IIR_RDI : CVM_UART_IIR_TIMEOUT;
	if ((u->ier & CVM_UART_IER_THRI) && u->thri_pending)
		return CVM_UART_IIR_THRI;
	if ((u->ier & CVM_UART_IER_MSI) && (u->msr & MSR_DELTAS))
		return CVM_UART_IIR_MSI;
	return CVM_UART_IIR_NO_INT;
}

/* On PC boards OUT2 gates the line; loopback forces OUT2's pin inactive. */
static void update_irq(struct cvm_uart *u)
{
	bool level = iir_id(u) != CVM_UART_IIR_NO_INT && (u->mcr & CVM_UART_MCR_OUT2) &&
	             !(u->mcr & CVM_UART_MCR_LOOP);

	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->cb->set_irq)
			u->cb->set_irq(u->ctx, level);
	}
}

static void rx_room_changed(struct cvm_uart *u)
{
	if (u->cb->rx_room)
		u->cb->rx_room(u->ctx);
}

static bool rx_put(struct cvm_uart *u, uint8_t byte)
{
	if (u->rx_count >= rx_capacity(u)) {
		u->lsr |= CVM_UART_LSR_OE;
		u->rx_overruns++;
		return false;
	}
	u->rx[(u->rx_head + u->rx_count) % CVM_UART_FIFO_SIZE] = byte;
	u->rx_count++;
	return true;
}

static void rx_clear(struct cvm_uart *u)
{
	u->rx_head = u->rx_count = 0;
	rx_room_changed(u);
}

/* Modem input lines: the other end's when connected, our own outputs in loopback. */
static uint8_t modem_lines(const struct cvm_uart *u)
{
	uint8_t m = u->mcr;

	if (!(m & CVM_UART_MCR_LOOP))
		return MSR_IDLE;
	return (uint8_t)(((m & CVM_UART_MCR_RTS) ? CVM_UART_MSR_CTS : 0) |
	                 ((m & CVM_UART_MCR_DTR) ? CVM_UART_MSR_DSR : 0) |
	                 ((m & CVM_UART_MCR_OUT1) ? CVM_UART_MSR_RI : 0) |
	                 ((m & CVM_UART_MCR_OUT2) ? CVM_UART_MSR_DCD : 0));
}

static void set_lines(struct cvm_uart *u, uint8_t lines)
{
	uint8_t changed = (uint8_t)((u->msr ^ lines) & MSR_LINES);

	if (changed & CVM_UART_MSR_CTS)
		u->msr |= CVM_UART_MSR_DCTS;
	if (changed & CVM_UART_MSR_DSR)
		u->msr |= CVM_UART_MSR_DDSR;
	if (changed & CVM_UART_MSR_DCD)
		u->msr |= CVM_UART_MSR_DDCD;
	if ((changed & CVM_UART_MSR_RI) && !(lines & CVM_UART_MSR_RI))
		u->msr |= CVM_UART_MSR_TERI; /* trailing edge only */
	u->msr = (uint8_t)((u->msr & MSR_DELTAS) | lines);
}

void cvm_uart_init(struct cvm_uart *u, const struct cvm_uart_callbacks *cb, void *ctx)
{
	static const struct cvm_uart_callbacks none;

	memset(u, 0, sizeof(*u));
	u->cb = cb ? cb : &none;
	u->ctx = ctx;
	u->lsr = CVM_UART_LSR_THRE | CVM_UART_LSR_TEMT;
	u->msr = MSR_IDLE;
	u->dll = 0x0c; /* 9600 baud, as a PC BIOS leaves it */
}

int cvm_uart_register(struct cvm_iobus *bus, struct cvm_uart *u, uint16_t base)
{
	return cvm_iobus_register(bus, base, CVM_UART_NREGS, &cvm_uart_io_ops, u, "uart16550");
}

static uint8_t read_rbr(struct cvm_uart *u)
{
	if (u->rx_count) {
		u->rbr_last = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % CVM_UART_FIFO_SIZE;
		u->rx_count--;
		u->rx_bytes++;
		rx_room_changed(u);
	}
	return u->rbr_last;
}

static uint8_t read_reg(struct cvm_uart *u, unsigned int reg)
{
	bool dlab = u->lcr & CVM_UART_LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case CVM_UART_RBR_THR_DLL:
		return dlab ? u->dll : read_rbr(u);
	case CVM_UART_IER_DLM:
		return dlab ? u->dlm : u->ier;
	case CVM_UART_IIR_FCR:
		v = iir_id(u);
		if (v == CVM_UART_IIR_THRI)
			u->thri_pending = false; /* reading IIR acknowledges THR empty */
		return (uint8_t)(v | (fifo_on(u) ? CVM_UART_IIR_FIFOS : 0));
	case CVM_UART_LCR:
		return u->lcr;
	case CVM_UART_MCR:
		return u->mcr;
	case CVM_UART_LSR:
		/* transmission is immediate: THR and the shift register are always empty */
		v = (uint8_t)(u->lsr | CVM_UART_LSR_THRE | CVM_UART_LSR_TEMT |
		              (u->rx_count ? CVM_UART_LSR_DR : 0));
		u->lsr &= (uint8_t)~LSR_ERRORS;
		return v;
	case CVM_UART_MSR:
		v = u->msr;
		u->msr &= MSR_LINES;
		return v;
	case CVM_UART_SCR:
		return u->scr;
	default:
		return 0xff;
	}
}

static void write_thr(struct cvm_uart *u, uint8_t val)
{
	if (u->mcr & CVM_UART_MCR_LOOP) {
		rx_put(u, val);
	} else {
		u->tx_bytes++;
		if (u->cb->tx)
			u->cb->tx(u->ctx, val);
	}
	u->thri_pending = true; /* the byte left at once: THR is empty again */
}

static void write_fcr(struct cvm_uart *u, uint8_t val)
{
	bool was_on = fifo_on(u);

	if (!(val & CVM_UART_FCR_ENABLE)) {
		u->fcr = 0;
		if (was_on)
			rx_clear(u);
		return;
	}
	u->fcr = val & FCR_WRITABLE;
	if (!was_on || (val & CVM_UART_FCR_CLEAR_RX))
		rx_clear(u);
}

static void write_reg(struct cvm_uart *u, unsigned int reg, uint8_t val)
{
	bool dlab = u->lcr & CVM_UART_LCR_DLAB;

	switch (reg) {
	case CVM_UART_RBR_THR_DLL:
		if (dlab)
			u->dll = val;
		else
			write_thr(u, val);
		break;
	case CVM_UART_IER_DLM:
		if (dlab) {
			u->dlm = val;
		} else {
			/* enabling THRI while THR is empty raises it at once */
			if ((val & CVM_UART_IER_THRI) && !(u->ier & CVM_UART_IER_THRI))
				u->thri_pending = true;
			u->ier = val & 0x0f;
		}
		break;
	case CVM_UART_IIR_FCR:
		write_fcr(u, val);
		break;
	case CVM_UART_LCR:
		u->lcr = val;
		break;
	case CVM_UART_MCR:
		u->mcr = val & 0x1f;
		set_lines(u, modem_lines(u));
		break;
	case CVM_UART_SCR:
		u->scr = val;
		break;
	default: /* LSR and MSR writes (factory test) are ignored */
		break;
	}
}

uint8_t cvm_uart_read(struct cvm_uart *u, unsigned int reg)
{
	uint8_t v = read_reg(u, reg);
	update_irq(u);
	return v;
}

void cvm_uart_write(struct cvm_uart *u, unsigned int reg, uint8_t val)
{
	write_reg(u, reg, val);
	update_irq(u);
}

size_t cvm_uart_push_rx(struct cvm_uart *u, const uint8_t *buf, size_t len)
{
	size_t queued = 0;

	if (u->mcr & CVM_UART_MCR_LOOP) {
		u->rx_discarded += len;
		return 0;
	}
	for (size_t i = 0; i < len; i++)
		queued += rx_put(u, buf[i]);
	update_irq(u);
	return queued;
}

unsigned int cvm_uart_rx_room(const struct cvm_uart *u)
{
	if (u->mcr & CVM_UART_MCR_LOOP)
		return 0;
	return rx_capacity(u) - u->rx_count;
}

static void io_read(void *dev, uint16_t offset, unsigned int size, uint32_t *val)
{
	*val = 0;
	for (unsigned int i = 0; i < size; i++)
		*val |= (uint32_t)cvm_uart_read(dev, offset + i) << (8 * i);
}

static void io_write(void *dev, uint16_t offset, unsigned int size, uint32_t val)
{
	for (unsigned int i = 0; i < size; i++)
		cvm_uart_write(dev, offset + i, (uint8_t)(val >> (8 * i)));
}

const struct cvm_io_ops cvm_uart_io_ops = {.read = io_read, .write = io_write};
