/* Polling 16550A driver and the serial console for guests (see serial.h). */
#include "guest/lib/serial.h"

#include "arch/x86/guest_abi.h"
#include "guest/lib/lock.h"
#include "guest/lib/x86.h"

#define UART_THR 0 /* transmit holding (write), DLL when DLAB=1 */
#define UART_IER 1 /* interrupt enable, DLM when DLAB=1 */
#define UART_FCR 2 /* FIFO control (write) */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

#define UART_LCR_DLAB  0x80
#define UART_LCR_8N1   0x03
#define UART_LSR_THRE  0x20
#define UART_THRE_SPIN 100000 /* bounded wait: a missing UART reads LSR as 0xff anyway */

static struct guest_lock console_lock = GUEST_LOCK_INIT;

void guest_serial_init(void)
{
	outb(CVM_PORT_UART0 + UART_IER, 0x00);
	outb(CVM_PORT_UART0 + UART_LCR, UART_LCR_DLAB);
	outb(CVM_PORT_UART0 + UART_THR, 0x01); /* divisor 1: 115200 baud */
	outb(CVM_PORT_UART0 + UART_IER, 0x00);
	outb(CVM_PORT_UART0 + UART_LCR, UART_LCR_8N1);
	outb(CVM_PORT_UART0 + UART_FCR, 0x07); /* enable and clear FIFOs */
	outb(CVM_PORT_UART0 + UART_MCR, 0x03); /* DTR, RTS */
}

void guest_serial_putc_raw(uint8_t c)
{
	for (uint32_t i = 0; i < UART_THRE_SPIN; i++) {
		if (inb(CVM_PORT_UART0 + UART_LSR) & UART_LSR_THRE)
			break;
	}
	outb(CVM_PORT_UART0 + UART_THR, c);
}

void guest_serial_write_raw(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		guest_serial_putc_raw(p[i]);
}

static void put_serial(struct kit_sink *s, char c)
{
	if (c == '\n')
		guest_serial_putc_raw('\r');
	guest_serial_putc_raw((uint8_t)c);
	s->n++;
}

void guest_console_lock(void)
{
	guest_lock(&console_lock);
}

bool guest_console_lock_bounded(void)
{
	return guest_lock_bounded(&console_lock, 200000);
}

void guest_console_unlock(void)
{
	guest_unlock(&console_lock);
}

static void vprintf_unlocked(const char *fmt, va_list ap)
{
	struct kit_sink s = {.put = put_serial};
	kit_format(&s, fmt, ap);
}

void guest_printf_locked(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf_unlocked(fmt, ap);
	va_end(ap);
}

void guest_vprintf(const char *fmt, va_list ap)
{
	guest_console_lock();
	vprintf_unlocked(fmt, ap);
	guest_console_unlock();
}

void guest_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	guest_vprintf(fmt, ap);
	va_end(ap);
}
