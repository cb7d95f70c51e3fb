/* Unit tests for util/log.c: every diagnostic is exactly one line, whatever it quotes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"

static char out[4096];

/* What cvm_err() wrote to stderr for this message. */
static const char *capture(const char *subsys, const char *msg)
{
	int fd = memfd_create("log", 0), saved = dup(2);
	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	cvm_err(subsys, "%s", msg);
	assert_int_equal(dup2(saved, 2), 2);
	ssize_t n = pread(fd, out, sizeof(out) - 1, 0);
	assert_true(n >= 0);
	out[n] = '\0';
	close(fd);
	close(saved);
	return out;
}

static unsigned int lines(const char *s)
{
	unsigned int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_plain(void **state)
{
	assert_string_equal(capture("sim", "s.json: colour: unknown key"),
	                    "corevm: sim: s.json: colour: unknown key\n");
	assert_string_equal(capture(NULL, "x"), "corevm: x\n");
}

/* A quoted JSON key with raw newlines (found by fuzz_scenario) stays on one line. */
static void test_control_characters_escaped(void **state)
{
	const char *s = capture("sim", "f.json: d\n\nesc\tr\x01\x7f: unknown key");
	assert_int_equal(lines(s), 1);
	assert_string_equal(s, "corevm: sim: f.json: d\\n\\nesc\\tr\\x01\\x7f: unknown key\n");
}

/* A message longer than the line is cut, still one line ending in a newline. */
static void test_long_message_cut(void **state)
{
	static char big[3000];
	memset(big, '\n', sizeof(big) - 1);
	const char *s = capture("loader", big);
	size_t n = strlen(s);
	assert_int_equal(lines(s), 1);
	assert_true(n <= 1023 && n > 900);
	assert_int_equal(s[n - 1], '\n');
	assert_true(!strncmp(s, "corevm: loader: \\n\\n", 20));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plain),
	        cmocka_unit_test(test_control_characters_escaped),
	        cmocka_unit_test(test_long_message_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
