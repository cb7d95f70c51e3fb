/* Polling 16550A driver and printf-style formatting for guests (see serial.h). */
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

/* ---- formatting ---- */

struct sink {
	void (*put)(struct sink *s, char c);
	char *buf; /* snprintf target */
	size_t cap;
	size_t n; /* characters produced */
};

static void put_serial(struct sink *s, char c)
{
	if (c == '\n')
		guest_serial_putc_raw('\r');
	guest_serial_putc_raw((uint8_t)c);
	s->n++;
}

static void put_buf(struct sink *s, char c)
{
	if (s->n + 1 < s->cap)
		s->buf[s->n] = c;
	s->n++;
}

struct spec {
	bool left, zero;
	unsigned int width;
};

static void emit_padded(struct sink *s, const struct spec *sp, const char *str, size_t len,
                        bool negative)
{
	size_t total = len + (negative ? 1 : 0);
	size_t pad = sp->width > total ? sp->width - total : 0;
	if (!sp->left && !sp->zero) {
		for (; pad; pad--)
			s->put(s, ' ');
	}
	if (negative)
		s->put(s, '-');
	if (!sp->left && sp->zero) {
		for (; pad; pad--)
			s->put(s, '0');
	}
	for (size_t i = 0; i < len; i++)
		s->put(s, str[i]);
	for (; pad; pad--)
		s->put(s, ' ');
}

static void emit_number(struct sink *s, const struct spec *sp, uint64_t v, unsigned int base,
                        bool upper, bool negative)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = digits[v % base];
		v /= base;
	} while (v);
	emit_padded(s, sp, tmp + i, sizeof(tmp) - i, negative);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			s->put(s, *p);
			continue;
		}
		struct spec sp = {false, false, 0};
		for (p++;; p++) {
			if (*p == '-')
				sp.left = true;
			else if (*p == '0')
				sp.zero = true;
			else
				break;
		}
		while (*p >= '0' && *p <= '9')
			sp.width = sp.width * 10 + (unsigned int)(*p++ - '0');
		int longs = 0;
		for (;; p++) {
			if (*p == 'l' || *p == 'z')
				longs++;
			else if (*p != 'h')
				break;
		}
		uint64_t u;
		int64_t d;
		switch (*p) {
		case 'd':
		case 'i':
			d = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
			u = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
			emit_number(s, &sp, u, 10, false, d < 0);
			break;
		case 'u':
		case 'x':
		case 'X':
			u = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
			emit_number(s, &sp, u, *p == 'u' ? 10 : 16, *p == 'X', false);
			break;
		case 'p':
			s->put(s, '0');
			s->put(s, 'x');
			emit_number(s, &sp, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, false,
			            false);
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			size_t n = 0;
			while (str[n])
				n++;
			emit_padded(s, &sp, str, n, false);
			break;
		}
		case 'c': {
			char c = (char)va_arg(ap, int);
			emit_padded(s, &sp, &c, 1, false);
			break;
		}
		case '%':
			s->put(s, '%');
			break;
		case '\0':
			return;
		default: /* unknown conversion: print it as written */
			s->put(s, '%');
			s->put(s, *p);
			break;
		}
	}
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
	struct sink s = {.put = put_serial};
	format(&s, fmt, ap);
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

size_t guest_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
{
	struct sink s = {.put = put_buf, .buf = buf, .cap = len};
	format(&s, fmt, ap);
	if (len)
		buf[s.n < len ? s.n : len - 1] = '\0';
	return s.n;
}

size_t guest_snprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = guest_vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n;
}
