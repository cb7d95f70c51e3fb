/* Unit tests for util/parse.c: numbers, sizes, durations, CPU lists. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/bitmap.h"
#include "util/parse.h"

static void test_u64(void **state)
{
	uint64_t v;
	assert_int_equal(cvm_parse_u64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(cvm_parse_u64("0x1f", 0, 100, &v), 0);
	assert_int_equal(v, 31);
	assert_int_equal(cvm_parse_u64("101", 0, 100, &v), -ERANGE);
	assert_int_equal(cvm_parse_u64("0", 1, 100, &v), -ERANGE);
	assert_int_equal(cvm_parse_u64("", 0, 100, &v), -EINVAL);
	assert_int_equal(cvm_parse_u64("4x", 0, 100, &v), -EINVAL);
	assert_int_equal(cvm_parse_u64("-1", 0, 100, &v), -EINVAL);
	assert_int_equal(cvm_parse_u64(" 1", 0, 100, &v), -EINVAL);
	assert_int_equal(cvm_parse_u64("0x", 0, 100, &v), -EINVAL);
	assert_int_equal(cvm_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(cvm_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
}

static void test_size(void **state)
{
	uint64_t v;
	assert_int_equal(cvm_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(cvm_parse_size("64K", &v), 0);
	assert_int_equal(v, 64 << 10);
	assert_int_equal(cvm_parse_size("256M", &v), 0);
	assert_int_equal(v, 256 << 20);
	assert_int_equal(cvm_parse_size("256MiB", &v), 0);
	assert_int_equal(v, 256 << 20);
	assert_int_equal(cvm_parse_size("2g", &v), 0);
	assert_true(v == (UINT64_C(2) << 30));
	assert_int_equal(cvm_parse_size("1T", &v), 0);
	assert_true(v == (UINT64_C(1) << 40));
	assert_int_equal(cvm_parse_size("12B", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(cvm_parse_size("1X", &v), -EINVAL);
	assert_int_equal(cvm_parse_size("M", &v), -EINVAL);
	assert_int_equal(cvm_parse_size("1MM", &v), -EINVAL);
	assert_int_equal(cvm_parse_size("1.5G", &v), -EINVAL);
	assert_int_equal(cvm_parse_size("99999999999T", &v), -ERANGE);
}

static void test_duration(void **state)
{
	uint64_t v;
	assert_int_equal(cvm_parse_duration_ns("10", &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(cvm_parse_duration_ns("3us", &v), 0);
	assert_int_equal(v, 3000);
	assert_int_equal(cvm_parse_duration_ns("1.5ms", &v), 0);
	assert_int_equal(v, 1500000);
	assert_int_equal(cvm_parse_duration_ns("21s", &v), 0);
	assert_true(v == UINT64_C(21000000000));
	assert_int_equal(cvm_parse_duration_ns("0.000000001s", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(cvm_parse_duration_ns("1.999999999999s", &v), 0);
	assert_true(v == UINT64_C(1999999999));
	assert_int_equal(cvm_parse_duration_ns("0.123456789999ms", &v), 0);
	assert_int_equal(v, 123456);
	assert_int_equal(cvm_parse_duration_ns("1h", &v), -EINVAL);
	assert_int_equal(cvm_parse_duration_ns("-1s", &v), -EINVAL);
	assert_int_equal(cvm_parse_duration_ns("1.s", &v), -EINVAL);
}

static void test_cpulist(void **state)
{
	CVM_BITMAP(m, 128);
	char buf[64];
	assert_int_equal(cvm_parse_cpulist("0-3,8,10-11\n", m, 128), 0);
	assert_int_equal(cvm_bitmap_weight(m, 128), 7);
	assert_true(cvm_bit_test(m, 8) && !cvm_bit_test(m, 9));
	assert_int_equal(cvm_format_cpulist(m, 128, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "0-3,8,10-11");
	assert_int_equal(cvm_parse_cpulist("", m, 128), 0);
	assert_true(cvm_bitmap_empty(m, 128));
	assert_int_equal(cvm_parse_cpulist("127", m, 128), 0);
	assert_int_equal(cvm_bitmap_next(m, 128, 0), 127);
	assert_int_equal(cvm_parse_cpulist("128", m, 128), -ERANGE);
	assert_int_equal(cvm_parse_cpulist("3-1", m, 128), -EINVAL);
	assert_int_equal(cvm_parse_cpulist("1,", m, 128), -EINVAL);
	assert_int_equal(cvm_parse_cpulist("a", m, 128), -EINVAL);
	assert_int_equal(cvm_parse_cpulist("0-3", m, 128), 0);
	assert_int_equal(cvm_format_cpulist(m, 128, buf, 3), -ERANGE);
}

static void test_bitmap(void **state)
{
	CVM_BITMAP(a, 130);
	CVM_BITMAP(b, 130);
	unsigned int bit, n = 0;
	cvm_bitmap_fill(a, 130);
	assert_int_equal(cvm_bitmap_weight(a, 130), 130);
	cvm_bitmap_zero(b, 130);
	cvm_bit_set(b, 64);
	cvm_bit_set(b, 129);
	cvm_bitmap_andnot(a, a, b, 130);
	assert_int_equal(cvm_bitmap_weight(a, 130), 128);
	cvm_bitmap_for_each(bit, b, 130) n += bit;
	assert_int_equal(n, 64 + 129);
	assert_int_equal(cvm_bitmap_next(b, 130, 65), 129);
	assert_int_equal(cvm_bitmap_next(b, 129, 65), 129);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_u64),      cmocka_unit_test(test_size),
	        cmocka_unit_test(test_duration), cmocka_unit_test(test_cpulist),
	        cmocka_unit_test(test_bitmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
