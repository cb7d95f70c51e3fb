/*
 * Serial console for guests: a polling driver for the 16550A at 0x3f8 and
 * printf-style formatting (%d %i %u %x %X %p %s %c %%, flags '-' and '0', a
 * width, length modifiers l, ll, z, h, hh). guest_printf writes "\r\n" for each
 * "\n" and holds the console lock for the whole call, so lines from different
 * vCPUs do not interleave. The raw functions translate nothing.
 */
#ifndef GUEST_LIB_SERIAL_H
#define GUEST_LIB_SERIAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Programs 115200 8N1, FIFOs on, interrupts off. Called by the kit before guest_main(). */
void guest_serial_init(void);

/* Writes bytes exactly as given (waits for THR empty before each, bounded). */
void guest_serial_putc_raw(uint8_t c);
void guest_serial_write_raw(const void *buf, size_t len);

__attribute__((format(printf, 1, 2))) void guest_printf(const char *fmt, ...);
void guest_vprintf(const char *fmt, va_list ap);

/* Formats into buf (always NUL-terminated when len > 0); returns the untruncated length. */
__attribute__((format(printf, 3, 4))) size_t guest_snprintf(char *buf, size_t len, const char *fmt,
                                                            ...);
size_t guest_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap);

/*
 * Console lock: guest_printf takes it. A caller that prints several calls as one
 * block may hold it and use guest_printf_locked. kit code that reports a crash
 * takes it with a bound, so a vCPU that faulted while printing still reports.
 */
void guest_console_lock(void);
void guest_console_unlock(void);
__attribute__((format(printf, 1, 2))) void guest_printf_locked(const char *fmt, ...);

/* For crash reports: tries the console lock a bounded number of times; true if taken. */
bool guest_console_lock_bounded(void);

/* The formatter behind the functions above (format.c): calls put for each character. */
struct kit_sink {
	void (*put)(struct kit_sink *s, char c);
	char *buf; /* guest_vsnprintf's target */
	size_t cap;
	size_t n; /* characters produced so far */
};
void kit_format(struct kit_sink *s, const char *fmt, va_list ap);

#endif
