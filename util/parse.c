/* Strict parsers for numbers, sizes, durations and CPU lists. */
#include "util/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/bitmap.h"

/* Parses the leading unsigned number of s; *end points after it. */
static int leading_u64(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int base = 10;
	const char *p = s;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	const char *digits = p;
	for (;; p++) {
		unsigned int d;
		if (*p >= '0' && *p <= '9')
			d = (unsigned int)(*p - '0');
		else if (base == 16 && isxdigit((unsigned char)*p))
			d = (unsigned int)(tolower((unsigned char)*p) - 'a' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	if (p == digits)
		return -EINVAL;
	*end = p;
	*out = v;
	return 0;
}

int cvm_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *end;
	uint64_t v;

	if (!s)
		return -EINVAL;
	int r = leading_u64(s, &end, &v);
	if (r)
		return r;
	if (*end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int cvm_parse_size(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v;
	unsigned int shift = 0;

	if (!s)
		return -EINVAL;
	int r = leading_u64(s, &end, &v);
	if (r)
		return r;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	case 'b':
	case 'B':
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (shift) {
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B") || !strcmp(end, "b"))
			end += strlen(end);
	} else if (*end == 'b' || *end == 'B') {
		end++;
	}
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int cvm_parse_duration_ns(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t whole, frac = 0, frac_scale = 1, mult = 1;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	int r = leading_u64(s, &end, &whole);
	if (r)
		return r;
	if (*end == '.') {
		end++;
		if (!isdigit((unsigned char)*end))
			return -EINVAL;
		for (; isdigit((unsigned char)*end); end++) {
			if (frac_scale >= UINT64_C(1000000000))
				continue; /* nine digits are a nanosecond at the largest unit */
			frac = frac * 10 + (uint64_t)(*end - '0');
			frac_scale *= 10;
		}
	}
	if (!strcmp(end, "") || !strcmp(end, "ns"))
		mult = 1;
	else if (!strcmp(end, "us"))
		mult = 1000;
	else if (!strcmp(end, "ms"))
		mult = 1000000;
	else if (!strcmp(end, "s"))
		mult = 1000000000;
	else
		return -EINVAL;
	if (whole > UINT64_MAX / mult)
		return -ERANGE;
	uint64_t v = whole * mult;
	uint64_t f = frac * mult / frac_scale; /* frac < frac_scale <= 1e9, mult <= 1e9: fits */
	if (v > UINT64_MAX - f)
		return -ERANGE;
	*out = v + f;
	return 0;
}

int cvm_parse_cpulist(const char *s, uint64_t *map, unsigned int nbits)
{
	const char *p = s;

	if (!s)
		return -EINVAL;
	cvm_bitmap_zero(map, nbits);
	if (*p == '\0' || !strcmp(p, "\n"))
		return 0;
	for (;;) {
		uint64_t lo, hi;
		const char *end;
		int r = leading_u64(p, &end, &lo);
		if (r)
			return r;
		hi = lo;
		p = end;
		if (*p == '-') {
			r = leading_u64(p + 1, &end, &hi);
			if (r)
				return r;
			p = end;
			if (hi < lo)
				return -EINVAL;
		}
		if (hi >= nbits)
			return -ERANGE;
		for (uint64_t c = lo; c <= hi; c++)
			cvm_bit_set(map, (unsigned int)c);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\n' && p[1] == '\0')
			return 0;
		return *p ? -EINVAL : 0;
	}
}

int cvm_format_cpulist(const uint64_t *map, unsigned int nbits, char *buf, unsigned long len)
{
	unsigned long pos = 0;
	unsigned int bit = cvm_bitmap_next(map, nbits, 0);

	if (len == 0)
		return -ERANGE;
	buf[0] = '\0';
	while (bit < nbits) {
		unsigned int end = bit;
		while (end + 1 < nbits && cvm_bit_test(map, end + 1))
			end++;
		int n = end == bit ? snprintf(buf + pos, len - pos, "%s%u", pos ? "," : "", bit)
		                   : snprintf(buf + pos, len - pos, "%s%u-%u", pos ? "," : "", bit,
		                              end);
		if (n < 0 || (unsigned long)n >= len - pos)
			return -ERANGE;
		pos += (unsigned long)n;
		bit = cvm_bitmap_next(map, nbits, end + 1);
	}
	return (int)pos;
}
