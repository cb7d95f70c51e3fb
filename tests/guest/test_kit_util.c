/* Unit tests for the guest kit's plain-C parts, built for the host: formatting, parsing, FNV-1a. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "guest/lib/serial.h"
#include "guest/lib/util.h"

#define FMT(want, ...)                                                       \
	do {                                                                 \
		char buf_[128];                                              \
		size_t n_ = guest_snprintf(buf_, sizeof(buf_), __VA_ARGS__); \
		assert_string_equal(buf_, want);                             \
		assert_int_equal(n_, strlen(want));                          \
	} while (0)

/* For formats the compiler would reject: no format attribute here. */
static size_t unchecked(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = guest_vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

static void test_format_conversions(void **state)
{
	FMT("42 -7 0", "%d %i %u", 42, -7, 0u);
	FMT("ff FF 0xdeadbeef", "%x %X %p", 255u, 255u, (void *)(uintptr_t)0xdeadbeef);
	FMT("18446744073709551615", "%lu", UINT64_MAX);
	FMT("-9223372036854775808", "%ld", INT64_MIN);
	FMT("ffffffffffffffff", "%llx", (unsigned long long)UINT64_MAX);
	FMT("12345", "%zu", (size_t)12345);
	char buf[32];
	assert_int_equal(unchecked(buf, sizeof(buf), "%c%% %q", 'x'), 5); /* unknown: printed */
	assert_string_equal(buf, "x% %q");
	const char *null = NULL;
	assert_int_equal(unchecked(buf, sizeof(buf), "%s", null), 6);
	assert_string_equal(buf, "(null)");
	FMT("", "%s", "");
	FMT("7", "%hhu", 7);
}

static void test_format_width(void **state)
{
	FMT("   42|42   |00042", "%5d|%-5d|%05d", 42, 42, 42);
	FMT("-0042|  -42", "%05d|%5d", -42, -42);
	FMT("  ab|ab  ", "%4s|%-4s", "ab", "ab");
	FMT("000000ff", "%08x", 255u);
	FMT("toolong", "%3s", "toolong");
}

static void test_format_truncation(void **state)
{
	char buf[8];
	memset(buf, 'z', sizeof(buf));
	assert_int_equal(guest_snprintf(buf, sizeof(buf), "%s-%d", "abcdef", 1234), 11);
	assert_string_equal(buf, "abcdef-");
	assert_int_equal(guest_snprintf(buf, 1, "abc"), 3);
	assert_int_equal(buf[0], '\0');
	buf[0] = 'q';
	assert_int_equal(guest_snprintf(buf, 0, "abc"), 3);
	assert_int_equal(buf[0], 'q');
	assert_int_equal(unchecked(buf, sizeof(buf), "end%"), 3); /* a trailing % is dropped */
	assert_string_equal(buf, "end");
}

static void test_parse_u64(void **state)
{
	uint64_t v = 0;
	assert_true(kit_parse_u64("42", 2, &v));
	assert_int_equal(v, 42);
	assert_true(kit_parse_u64("0x2A", 4, &v));
	assert_int_equal(v, 42);
	assert_true(kit_parse_u64("429", 2, &v)); /* only len bytes count */
	assert_int_equal(v, 42);
	assert_true(kit_parse_u64("18446744073709551615", 20, &v));
	assert_true(v == UINT64_MAX);
	assert_true(kit_parse_u64("0xffffffffffffffff", 18, &v));
	assert_true(v == UINT64_MAX);
	assert_false(kit_parse_u64("18446744073709551616", 20, &v));
	assert_false(kit_parse_u64("0x10000000000000000", 19, &v));
	assert_false(kit_parse_u64("", 0, &v));
	assert_false(kit_parse_u64("0x", 2, &v));
	assert_false(kit_parse_u64("12a", 3, &v));
	assert_false(kit_parse_u64("-1", 2, &v));
	assert_false(kit_parse_u64(" 1", 2, &v));
}

static void test_cmdline(void **state)
{
	const char *cl = "/boot/img.elf  exit=42 mode=targeted unexpected apic= exitx=9";
	const char *val;
	size_t len;
	assert_true(kit_cmdline_find(cl, "exit", &val, &len));
	assert_int_equal(len, 2);
	assert_memory_equal(val, "42", 2);
	assert_true(kit_cmdline_find(cl, "unexpected", &val, &len));
	assert_int_equal(len, 0);
	assert_true(kit_cmdline_find(cl, "apic", &val, &len));
	assert_int_equal(len, 0);
	assert_false(kit_cmdline_find(cl, "mod", &val, &len));
	assert_false(kit_cmdline_find(cl, "exi", &val, &len));
	assert_false(kit_cmdline_find("", "exit", &val, &len));
	assert_false(kit_cmdline_find("   ", "exit", &val, &len));
	assert_true(kit_cmdline_is(cl, "mode", "targeted"));
	assert_false(kit_cmdline_is(cl, "mode", "target"));
	assert_false(kit_cmdline_is(cl, "mode", "targeted2"));
	assert_false(kit_cmdline_is(cl, "apicx", "x2apic"));
	assert_true(kit_cmdline_has(cl, "unexpected"));
	assert_true(kit_cmdline_has(cl, "exit"));
	assert_false(kit_cmdline_has(cl, "exi"));
}

static void test_cmdline_u64(void **state)
{
	const char *cl = "cycles=1000 report=0x10 n=12x big=99999999999999999999 bare";
	uint64_t v = 7;
	assert_int_equal(kit_cmdline_u64(cl, "cycles", &v), 1);
	assert_true(v == 1000);
	assert_int_equal(kit_cmdline_u64(cl, "report", &v), 1);
	assert_true(v == 16);
	v = 7;
	assert_int_equal(kit_cmdline_u64(cl, "missing", &v), 0);
	assert_true(v == 7); /* untouched: the caller's default stays */
	assert_int_equal(kit_cmdline_u64(cl, "n", &v), -1);
	assert_int_equal(kit_cmdline_u64(cl, "big", &v), -1);
	assert_int_equal(kit_cmdline_u64(cl, "bare", &v), -1);
}

static void test_median(void **state)
{
	uint64_t odd[] = {5, 1, 4, 2, 3}, even[] = {10, 40, 20, 30}, one[] = {9};
	uint64_t dup[] = {3, 3, 1, 3, 2, 2};
	assert_true(kit_median_u64(odd, 5) == 3);
	for (unsigned int i = 0; i < 5; i++)
		assert_true(odd[i] == i + 1); /* sorted in place */
	assert_true(kit_median_u64(even, 4) == 25);
	assert_true(kit_median_u64(one, 1) == 9);
	assert_true(kit_median_u64(dup, 6) == 2); /* 1 2 2 3 3 3: (2 + 3) / 2 rounded down */
	assert_true(kit_median_u64(NULL, 0) == 0);
	uint64_t big[] = {UINT64_MAX - 1, UINT64_MAX - 3};
	assert_true(kit_median_u64(big, 2) == UINT64_MAX - 2); /* no overflow on the way */
}

static void test_fnv1a(void **state)
{
	/* Published FNV-1a 64-bit test vectors. */
	assert_true(kit_fnv1a(KIT_FNV1A_INIT, "", 0) == 0xcbf29ce484222325ull);
	assert_true(kit_fnv1a(KIT_FNV1A_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
	assert_true(kit_fnv1a(KIT_FNV1A_INIT, "foobar", 6) == 0x85944171f73967e8ull);
	/* Continuing a hash equals hashing the concatenation. */
	assert_true(kit_fnv1a(kit_fnv1a(KIT_FNV1A_INIT, "foo", 3), "bar", 3) ==
	            0x85944171f73967e8ull);
}

static void test_strings(void **state)
{
	char buf[4];
	assert_int_equal(kit_strnlen("abc", 10), 3);
	assert_int_equal(kit_strnlen("abcdef", 4), 4);
	kit_strlcpy(buf, "abcdef", sizeof(buf));
	assert_string_equal(buf, "abc");
	kit_strlcpy(buf, "", sizeof(buf));
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_format_conversions),
	        cmocka_unit_test(test_format_width),
	        cmocka_unit_test(test_format_truncation),
	        cmocka_unit_test(test_parse_u64),
	        cmocka_unit_test(test_cmdline),
	        cmocka_unit_test(test_cmdline_u64),
	        cmocka_unit_test(test_median),
	        cmocka_unit_test(test_fnv1a),
	        cmocka_unit_test(test_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
