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

static void emit(const char *level, const char *subsys, const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "corevm: %s%s%s", level, subsys ? subsys : "",
	                 subsys ? ": " : "");
	if (n < 0)
		return;
	if ((size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t unused = write(STDERR_FILENO, line, (size_t)n);
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
