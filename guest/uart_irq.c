/*
 * Interrupt-driven serial test guest: the kit's uart_irq driver (I/O APIC pin
 * 4, vector 0x64, edge-triggered; "level" on the command line routes it
 * level-triggered) echoes every byte received on the UART until a newline,
 * sleeping in HLT between interrupts: receive interrupts fill a ring, the
 * guest copies it to the transmit ring, transmit-empty interrupts drain that.
 * Nothing is polled. Then it waits (bounded) for the transmit ring to empty,
 * switches the driver off and prints a summary with the polling console.
 * Input longer than 4096 bytes without a newline fails the test.
 * Leading STX bytes (0x02) are dropped, not echoed: input that arrives before
 * the kit enables the UART's FIFOs is lost (enabling them clears the receive
 * FIFO, as on hardware), so a host should send a few STX bytes first.
 *
 * Reports (ucall): REPORT stage 100, args[1] = bytes echoed (with the
 *   newline), args[2] = interrupts taken (handler runs), args[3] = causes
 *   handled: received data in bits 31:0, transmitter empty in bits 63:32;
 *   then DONE.
 * Serial: the input bytes (after the leading STX bytes) exactly, then
 *   "uart_irq: PASS: <n> bytes echoed, <i> interrupts (<r> receive, <t> transmit causes)".
 */
#include "guest/lib/kit.h"

#define VEC       0x64
#define MAX_INPUT 4096
#define STX       0x02

void guest_main(void)
{
	bool level = kit_cmdline_has(guest_boot_cmdline(), "level");
	guest_uart_irq_init(VEC, level);
	size_t total = 0;
	bool newline = false, started = false;
	while (!newline) {
		uint8_t buf[64];
		GUEST_ASSERT_MSG(guest_uart_irq_wait_rx(1, KIT_TSC_TIMEOUT_LONG),
		                 "uart_irq: no input for a long time after %lu bytes", total);
		size_t got = guest_uart_irq_read(buf, sizeof(buf)), n = 0;
		for (size_t i = 0; i < got; i++) {
			started = started || buf[i] != STX;
			if (started)
				buf[n++] = buf[i];
			newline = newline || buf[i] == '\n';
		}
		for (size_t done = 0; done < n;) {
			done += guest_uart_irq_write(buf + done, n - done);
			if (done < n)
				GUEST_ASSERT(guest_uart_irq_wait_tx_empty(KIT_TSC_TIMEOUT_STEP));
		}
		total += n;
		GUEST_ASSERT_MSG(total <= MAX_INPUT, "uart_irq: %lu bytes and no newline", total);
	}
	GUEST_ASSERT_MSG(guest_uart_irq_wait_tx_empty(KIT_TSC_TIMEOUT_STEP),
	                 "uart_irq: the transmit ring never drained");
	guest_uart_irq_stop();
	struct guest_uart_irq_counts c = guest_uart_irq_counts();
	GUEST_REPORT(CVM_STAGE_USER, total, c.irqs, (uint64_t)c.tx_irqs << 32 | c.rx_irqs);
	GUEST_ASSERT_MSG(!c.stuck, "uart_irq: the handler gave up %u times", c.stuck);
	guest_printf("uart_irq: PASS: %lu bytes echoed, %u interrupts (%u receive, %u transmit "
	             "causes)\n",
	             total, c.irqs, c.rx_irqs, c.tx_irqs);
	GUEST_DONE();
}
