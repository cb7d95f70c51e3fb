/*
 * An interrupt-driven driver for the UART at 0x3f8 (16550A): its interrupt line
 * (ISA IRQ 4) is routed through I/O APIC pin 4 to a vector on the calling vCPU;
 * the handler drains the receive FIFO into a ring and refills the transmit
 * FIFO from another ring while the transmit interrupt is enabled (only while
 * there is something to send). Polling output (guest_printf) keeps working
 * when the transmit ring is empty.
 *
 * Contract: init, write, read and the waits run on the vCPU the interrupt is
 * routed to, with interrupts off (as the kit runs guest code); interrupts are
 * taken only inside the waits (sti; hlt). Rings hold 256 bytes each; when the
 * receive ring is full the handler leaves bytes in the UART's FIFO and turns
 * the receive interrupt off until guest_uart_irq_read() makes room (flow
 * control: the host then holds back its input, nothing is lost).
 */
#ifndef GUEST_LIB_UART_IRQ_H
#define GUEST_LIB_UART_IRQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Installs the handler for vector, routes pin 4 to this vCPU (edge-triggered,
 * or level-triggered when level is true, active high), sets MCR OUT2 (which
 * gates the line on PC boards) and enables the receive interrupts.
 */
void guest_uart_irq_init(uint8_t vector, bool level);

/* Masks pin 4 and disables the UART's interrupts. */
void guest_uart_irq_stop(void);

/* Queues up to len bytes for transmission; returns how many fitted. */
size_t guest_uart_irq_write(const void *buf, size_t len);

/* Takes up to max received bytes; returns how many. */
size_t guest_uart_irq_read(void *buf, size_t max);

/*
 * Sleep (sti; hlt) until at least n bytes are received / until the transmit
 * ring is empty, re-checking after each interrupt and giving up after
 * timeout_tsc ticks (checked on each wake-up). Return whether it happened.
 */
bool guest_uart_irq_wait_rx(size_t n, uint64_t timeout_tsc);
bool guest_uart_irq_wait_tx_empty(uint64_t timeout_tsc);

/* Handler runs, and the causes it handled: received data, transmitter empty. */
struct guest_uart_irq_counts {
	uint32_t irqs, rx_irqs, tx_irqs;
	uint32_t stuck; /* handler runs that gave up with the UART still asking (bug) */
};
struct guest_uart_irq_counts guest_uart_irq_counts(void);

#endif
