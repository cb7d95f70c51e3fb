/* Interrupt-driven UART receive and transmit through I/O APIC pin 4 (see uart_irq.h). */
#include "guest/lib/uart_irq.h"

#include "arch/x86/guest_abi.h"
#include "guest/lib/apic.h"
#include "guest/lib/atomic.h"
#include "guest/lib/ioapic.h"
#include "guest/lib/trap.h"
#include "guest/lib/x86.h"

#define RBR 0 /* read: receive buffer; write: THR */
#define IER 1
#define IIR 2
#define MCR 4
#define LSR 5
#define MSR 6

#define IER_RDI  0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IIR_NONE 0x01
#define IIR_ID   0x0e
#define LSR_DR   0x01
#define MCR_OUT2 0x08
#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define FIFO     16
#define RING     256u /* power of two */

static volatile uint8_t rx[RING], tx[RING];
static volatile uint32_t rx_head, rx_tail, tx_head, tx_tail; /* head: producer, tail: consumer */
static volatile struct guest_uart_irq_counts counts;
static uint8_t ier;

static void port_out(unsigned int reg, uint8_t v)
{
	outb((uint16_t)(CVM_PORT_UART0 + reg), v);
}

static uint8_t port_in(unsigned int reg)
{
	return inb((uint16_t)(CVM_PORT_UART0 + reg));
}

static void set_ier(uint8_t v)
{
	ier = v;
	port_out(IER, v);
}

/* Moves received bytes to the ring; with the ring full, leaves them in the FIFO and stops RDI. */
static void drain_rx(void)
{
	while (port_in(LSR) & LSR_DR) {
		if (rx_head - rx_tail == RING) {
			set_ier(ier &
			        (uint8_t)~IER_RDI); /* guest_uart_irq_read() turns it on again */
			return;
		}
		rx[rx_head % RING] = port_in(RBR);
		rx_head++;
	}
}

static void fill_tx(void)
{
	unsigned int n = 0;
	while (n < FIFO && tx_tail != tx_head) {
		port_out(RBR, tx[tx_tail % RING]);
		tx_tail++;
		n++;
	}
	if (tx_tail == tx_head)
		set_ier(ier & (uint8_t)~IER_THRI);
}

static void uart_isr(struct guest_exception_frame *f)
{
	(void)f;
	counts.irqs++;
	for (unsigned int i = 0;; i++) {
		uint8_t iir = port_in(IIR);
		if (iir & IIR_NONE)
			break;
		if (i == 1024) {
			counts.stuck++;
			break;
		}
		switch (iir & IIR_ID) {
		case 0x06: /* line status */
			port_in(LSR);
			break;
		case 0x04: /* received data */
		case 0x0c: /* character timeout */
			counts.rx_irqs++;
			drain_rx();
			break;
		case 0x02: /* transmitter empty (reading IIR acknowledged it) */
			counts.tx_irqs++;
			fill_tx();
			break;
		default: /* modem status */
			port_in(MSR);
			break;
		}
	}
	guest_apic_eoi();
}

void guest_uart_irq_init(uint8_t vector, bool level)
{
	guest_set_irq_handler(vector, uart_isr);
	guest_ioapic_route(IOAPIC_PIN_UART0, vector, level ? IOAPIC_RTE_LEVEL : 0,
	                   (uint8_t)guest_apic_id());
	port_out(MCR, MCR_OUT2 | MCR_DTR | MCR_RTS);
	set_ier(IER_RDI | IER_RLSI);
}

void guest_uart_irq_stop(void)
{
	set_ier(0);
	guest_ioapic_mask(IOAPIC_PIN_UART0, true);
}

size_t guest_uart_irq_write(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t n = 0;
	while (n < len && tx_head - tx_tail < RING) {
		tx[tx_head % RING] = p[n++];
		tx_head++;
	}
	if (n)
		set_ier(ier | IER_THRI); /* THR empty: the interrupt comes at once */
	return n;
}

size_t guest_uart_irq_read(void *buf, size_t max)
{
	uint8_t *p = buf;
	size_t n = 0;
	while (n < max && rx_tail != rx_head) {
		p[n++] = rx[rx_tail % RING];
		rx_tail++;
	}
	if (n && !(ier & IER_RDI))
		set_ier(ier | IER_RDI);
	return n;
}

static bool wait_until(bool (*done)(size_t), size_t arg, uint64_t timeout_tsc)
{
	uint64_t t0 = rdtsc();
	while (!done(arg)) {
		if (rdtsc() - t0 > timeout_tsc)
			return false;
		sti_hlt_cli();
	}
	return true;
}

static bool rx_has(size_t n)
{
	return rx_head - rx_tail >= n;
}

static bool tx_empty(size_t unused)
{
	(void)unused;
	return tx_tail == tx_head;
}

bool guest_uart_irq_wait_rx(size_t n, uint64_t timeout_tsc)
{
	return wait_until(rx_has, n, timeout_tsc);
}

bool guest_uart_irq_wait_tx_empty(uint64_t timeout_tsc)
{
	return wait_until(tx_empty, 0, timeout_tsc);
}

struct guest_uart_irq_counts guest_uart_irq_counts(void)
{
	struct guest_uart_irq_counts c = {counts.irqs, counts.rx_irqs, counts.tx_irqs,
	                                  counts.stuck};
	return c;
}
