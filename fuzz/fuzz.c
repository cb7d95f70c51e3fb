/* The failure report shared by the fuzz targets. */
#include <stdarg.h>

#include "fuzz/fuzz.h"

int fz_run_ops(const uint8_t *data, size_t size, fz_setup_fn *setup, fz_step_fn *step, void *w)
{
	struct fz f = fz_start(data, size);

	setup(w, &f);
	for (unsigned int i = 0; i < FZ_MAX_OPS && fz_more(&f); i++)
		step(w, &f);
	return 0;
}

void fz_trace(const char *fmt, ...)
{
	static int on = -1;
	va_list ap;

	if (on < 0) {
		const char *e = getenv("CVM_FUZZ_TRACE");
		on = e && *e && *e != '0';
	}
	if (!on)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz: invariant broken at %s:%d: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
