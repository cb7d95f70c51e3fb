/* One-line diagnostics to stderr, each written with a single write so threads do not interleave. */
#include "util/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int verbose;

void cvm_log_set_verbose(int level)
{
	verbose = level;
}

int cvm_log_verbose(void)
{
	return verbose;
}

/*
 * Copies `in` to `out` (of `cap` bytes, cap >= 5) with control characters as
 * visible escapes (\n, \t, \r, \xNN): a message quoting guest or file data
 * (a JSON key with newlines in it, say) still takes exactly one line. Returns
 * the length written; what does not fit is cut.
 */
static size_t escape(char *out, size_t cap, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *in && n + 4 < cap; in++) {
		unsigned char c = (unsigned char)*in;
		if (c >= 0x20 && c != 0x7f) {
			out[n++] = (char)c;
			continue;
		}
		out[n++] = '\\';
		if (c == '\n' || c == '\t' || c == '\r') {
			out[n++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		} else {
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	return n;
}

__attribute__((format(printf, 3, 0))) static void emit(const char *level, const char *subsys,
                                                       const char *fmt, va_list ap)
{
	char msg[1024], line[1024];
	int n = snprintf(line, sizeof(line), "corevm: %s%s%s", level, subsys ? subsys : "",
	                 subsys ? ": " : "");
	if (n < 0 || (size_t)n >= sizeof(line) - 8 || vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		return;
	size_t len = (size_t)n + escape(line + n, sizeof(line) - 1 - (size_t)n, msg);
	line[len++] = '\n';
	ssize_t unused = write(STDERR_FILENO, line, len);
	(void)unused;
}

void cvm_err(const char *subsys, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("", subsys, fmt, ap);
	va_end(ap);
}

void cvm_warn(const char *subsys, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("warning: ", subsys, fmt, ap);
	va_end(ap);
}

void cvm_info(const char *subsys, const char *fmt, ...)
{
	if (!verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	emit("", subsys, fmt, ap);
	va_end(ap);
}
