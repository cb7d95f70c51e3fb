/* Strict parsers for numbers, sizes and CPU lists given on the command line or in files. */
#ifndef COREVM_UTIL_PARSE_H
#define COREVM_UTIL_PARSE_H

#include <stdint.h>

/*
 * Each returns 0 on success or -EINVAL (not a number, trailing junk, empty) or
 * -ERANGE (does not fit, or outside [min, max]). Nothing is printed: callers
 * name the option in their own error line.
 */

/* Decimal, or hexadecimal with 0x. No sign, no spaces. */
int cvm_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * A byte size: a decimal number with an optional suffix K, M, G or T (binary
 * multiples, either case, optional trailing 'B' or 'iB' as in "64M", "64MiB").
 * A bare number is bytes.
 */
int cvm_parse_size(const char *s, uint64_t *out);

/*
 * A duration for simulator and CLI options: a decimal number with a unit ns, us,
 * ms or s (fractions allowed: "1.5ms"). A bare number is nanoseconds.
 */
int cvm_parse_duration_ns(const char *s, uint64_t *out);

/*
 * A Linux CPU list ("0-3,8,10-11", as in sysfs and taskset -c) into a bitmap of
 * `nbits` bits (bits >= nbits are an -ERANGE error). An empty string or "\n" is
 * an empty set, as in sysfs files for empty masks.
 */
int cvm_parse_cpulist(const char *s, uint64_t *map, unsigned int nbits);

/* Formats a bitmap as a CPU list ("0-3,8"); returns the length or -ERANGE if it does not fit. */
int cvm_format_cpulist(const uint64_t *map, unsigned int nbits, char *buf, unsigned long len);

#endif
