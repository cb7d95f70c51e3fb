/*
 * What every libFuzzer target shares: a reader that decodes the input as a
 * byte-code (operands read past the end are zero), and a check that reports a
 * broken invariant on one line and aborts, so libFuzzer saves the input.
 */
#ifndef COREVM_FUZZ_FUZZ_H
#define COREVM_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry point, defined once by every target (fuzz/fuzz_<target>.c). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * At most this many operations are decoded from one input, so that an input
 * costs a bounded time whatever -max_len is.
 */
#define FZ_MAX_OPS 4096

/* The undecoded rest of the input. */
struct fz {
	const uint8_t *p;
	size_t n;
};

static inline struct fz fz_start(const uint8_t *data, size_t size)
{
	return (struct fz){.p = data, .n = size};
}

static inline bool fz_more(const struct fz *f)
{
	return f->n > 0;
}

static inline uint8_t fz_u8(struct fz *f)
{
	if (!f->n)
		return 0;
	f->n--;
	return *f->p++;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t lo = fz_u8(f);
	return (uint16_t)(lo | fz_u8(f) << 8);
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint32_t lo = fz_u16(f);
	return lo | (uint32_t)fz_u16(f) << 16;
}

static inline uint64_t fz_u64(struct fz *f)
{
	uint64_t lo = fz_u32(f);
	return lo | (uint64_t)fz_u32(f) << 32;
}

/* Up to `want` bytes of the input (fewer at its end); *got says how many. */
static inline const uint8_t *fz_bytes(struct fz *f, size_t want, size_t *got)
{
	const uint8_t *p = f->p;

	*got = want < f->n ? want : f->n;
	f->p += *got;
	f->n -= *got;
	return p;
}

/*
 * The driver of a target whose input is a header and then operations:
 * setup(w, f) builds the whole state in `w` afresh from the header, then
 * step(w, f) decodes and runs one operation (and checks), until the input ends
 * or FZ_MAX_OPS operations ran. Returns 0 (for LLVMFuzzerTestOneInput).
 */
typedef void fz_setup_fn(void *w, struct fz *f);
typedef void fz_step_fn(void *w, struct fz *f);
int fz_run_ops(const uint8_t *data, size_t size, fz_setup_fn *setup, fz_step_fn *step, void *w);

/*
 * With CVM_FUZZ_TRACE=1 in the environment, targets describe each step on
 * stderr (for reading a crash input or a seed: run the target on the file).
 */
__attribute__((format(printf, 1, 2))) void fz_trace(const char *fmt, ...);

__attribute__((noreturn, format(printf, 4, 5))) void
fz_fail(const char *file, int line, const char *cond, const char *fmt, ...);

/* A broken invariant: one line naming the check and the values, then abort(). */
#define FZ_CHECK(cond, ...)                                              \
	do {                                                             \
		if (!(cond))                                             \
			fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

#endif
