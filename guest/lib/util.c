/*
 * String, parsing and checksum helpers for guests (see util.h). Plain C with no
 * guest-only code, so the unit tests build it for the host too.
 */
#include "guest/lib/util.h"

size_t kit_strnlen(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n])
		n++;
	return n;
}

void kit_strlcpy(char *dst, const char *src, size_t dstlen)
{
	size_t n = kit_strnlen(src, dstlen - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

bool kit_parse_u64(const char *s, size_t len, uint64_t *out)
{
	unsigned int base = 10;
	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		len -= 2;
	}
	if (len == 0)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		int d = digit_value(s[i]);
		if (d >= (int)base || v > (UINT64_MAX - (uint64_t)d) / base)
			return false;
		v = v * base + (uint64_t)d;
	}
	*out = v;
	return true;
}

bool kit_cmdline_find(const char *cmdline, const char *key, const char **val, size_t *len)
{
	size_t klen = strlen(key);
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *tok = p;
		while (*p && *p != ' ')
			p++;
		size_t tlen = (size_t)(p - tok);
		if (tlen >= klen && memcmp(tok, key, klen) == 0) {
			if (tlen == klen) {
				*val = tok + tlen;
				*len = 0;
				return true;
			}
			if (tok[klen] == '=') {
				*val = tok + klen + 1;
				*len = tlen - klen - 1;
				return true;
			}
		}
	}
	return false;
}

bool kit_cmdline_is(const char *cmdline, const char *key, const char *word)
{
	const char *v;
	size_t n;
	return kit_cmdline_find(cmdline, key, &v, &n) && n == strlen(word) &&
	       memcmp(v, word, n) == 0;
}

uint64_t kit_fnv1a(uint64_t hash, const void *p, size_t len)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < len; i++) {
		hash ^= b[i];
		hash *= KIT_FNV1A_PRIME;
	}
	return hash;
}

bool kit_cmdline_has(const char *cmdline, const char *key)
{
	const char *v;
	size_t len;
	return kit_cmdline_find(cmdline, key, &v, &len);
}

int kit_cmdline_u64(const char *cmdline, const char *key, uint64_t *out)
{
	const char *v;
	size_t len;
	if (!kit_cmdline_find(cmdline, key, &v, &len))
		return 0;
	return kit_parse_u64(v, len, out) ? 1 : -1;
}

void kit_sort_u64(uint64_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint64_t x = v[i];
		size_t j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

uint64_t kit_median_u64(uint64_t *v, size_t n)
{
	if (!n)
		return 0;
	kit_sort_u64(v, n);
	return n % 2 ? v[n / 2] : v[n / 2 - 1] + (v[n / 2] - v[n / 2 - 1]) / 2; /* no overflow */
}
