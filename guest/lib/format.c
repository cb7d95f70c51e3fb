/*
 * printf-style formatting for guests (see serial.h), into any sink. Plain C with
 * no guest-only code, so the unit tests build it for the host too.
 */
#include "guest/lib/serial.h"

#include <stdbool.h>

static void put_buf(struct kit_sink *s, char c)
{
	if (s->n + 1 < s->cap)
		s->buf[s->n] = c;
	s->n++;
}

struct spec {
	bool left, zero;
	unsigned int width;
};

static void emit_padded(struct kit_sink *s, const struct spec *sp, const char *str, size_t len,
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

static void emit_number(struct kit_sink *s, const struct spec *sp, uint64_t v, unsigned int base,
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

void kit_format(struct kit_sink *s, const char *fmt, va_list ap)
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

size_t guest_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
{
	struct kit_sink s = {.put = put_buf, .buf = buf, .cap = len};
	kit_format(&s, fmt, ap);
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
