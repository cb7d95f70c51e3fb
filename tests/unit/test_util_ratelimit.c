/* Unit tests of util/ratelimit.h: the burst, one line per interval after it, the count of refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/ratelimit.h"

#define SEC 1000000000ull

static void burst_then_interval(void **state)
{
	struct cvm_ratelimit rl;

	(void)state;
	cvm_ratelimit_init(&rl, 3, SEC);
	for (int i = 0; i < 3; i++)
		assert_true(cvm_ratelimit_allow(&rl, 100));
	/* A flood right after the burst: every line refused and counted. */
	for (int i = 0; i < 1000; i++)
		assert_false(cvm_ratelimit_allow(&rl, 100 + (uint64_t)i));
	assert_int_equal(cvm_ratelimit_suppressed(&rl), 1000);
	/* One interval after the burst ended: exactly one more line. */
	assert_false(cvm_ratelimit_allow(&rl, 100 + SEC - 1));
	assert_true(cvm_ratelimit_allow(&rl, 100 + SEC));
	assert_false(cvm_ratelimit_allow(&rl, 100 + SEC + 1));
	assert_true(cvm_ratelimit_allow(&rl, 100 + 3 * SEC));
	assert_int_equal(cvm_ratelimit_suppressed(&rl), 1002);
}

static void zero_burst(void **state)
{
	struct cvm_ratelimit rl;

	(void)state;
	cvm_ratelimit_init(&rl, 0, SEC);
	assert_true(cvm_ratelimit_allow(&rl, 5 * SEC)); /* next_ns starts at 0 */
	assert_false(cvm_ratelimit_allow(&rl, 5 * SEC + 1));
	assert_int_equal(cvm_ratelimit_suppressed(&rl), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(burst_then_interval),
	        cmocka_unit_test(zero_burst),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
