/* Unit tests for `corevm run` option parsing: defaults, every option, and the refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tools/run_args.h"

/* Parses a NULL-terminated list of words; argv is copied so the parser may modify it. */
static int parse(struct cvm_run_args *a, char *err, const char *const *words)
{
	static char store[64][128];
	static char *argv[65];
	int argc = 0;

	for (; words[argc]; argc++) {
		assert_true(argc < 64);
		snprintf(store[argc], sizeof(store[argc]), "%s", words[argc]);
		argv[argc] = store[argc];
	}
	argv[argc] = NULL;
	return cvm_run_parse_args(argc, argv, a, err, 160);
}

#define PARSE(a, err, ...) parse(a, err, (const char *const[]){"run", __VA_ARGS__, NULL})

static void test_defaults(void **state)
{
	struct cvm_run_args a;
	char err[160];

	assert_int_equal(PARSE(&a, err, "guest.elf"), 0);
	assert_int_equal(a.cpus, 1);
	assert_int_equal(a.mem, 128ull << 20);
	assert_int_equal(a.irqchip, CVM_IRQCHIP_USER);
	assert_int_equal(a.boot, CVM_BOOT_AUTO);
	assert_null(a.cmdline);
	assert_int_equal(a.nmodules, 0);
	assert_null(a.stats);
	assert_int_equal(a.timeout_ns, 0);
	assert_false(a.protected_state);
	assert_string_equal(a.image, "guest.elf");
}

static void test_protected_state(void **state)
{
	struct cvm_run_args a;
	char err[160];

	assert_int_equal(PARSE(&a, err, "--protected-state", "--cpus", "4", "img"), 0);
	assert_true(a.protected_state);
	assert_int_equal(PARSE(&a, err, "--irqchip", "user", "img", "--protected-state"), 0);
	assert_true(a.protected_state);
	/* KVM owns INIT and SIPI in the other modes: one line naming both options. */
	assert_int_equal(PARSE(&a, err, "--protected-state", "--irqchip", "split", "img"), -EINVAL);
	assert_non_null(strstr(err, "--protected-state needs --irqchip user"));
	assert_non_null(strstr(err, "--irqchip split"));
	assert_int_equal(PARSE(&a, err, "--irqchip", "kernel", "--protected-state", "img"),
	                 -EINVAL);
	assert_non_null(strstr(err, "--irqchip kernel"));
	assert_int_equal(PARSE(&a, err, "--protected-state=yes", "img"), -EINVAL);
}

static void test_every_option(void **state)
{
	struct cvm_run_args a;
	char err[160];

	assert_int_equal(PARSE(&a, err, "--cpus", "255", "--mem", "256M", "--irqchip", "kernel",
	                       "--cmdline", "a b=c", "--module", "m1.bin,first string",
	                       "--module=m2.bin", "--stats", "s.json", "--boot", "pvh", "--timeout",
	                       "1.5s", "-v", "img"),
	                 0);
	assert_int_equal(a.cpus, 255);
	assert_int_equal(a.mem, 256ull << 20);
	assert_int_equal(a.irqchip, CVM_IRQCHIP_KERNEL);
	assert_string_equal(a.cmdline, "a b=c");
	assert_int_equal(a.nmodules, 2);
	assert_string_equal(a.module[0].file, "m1.bin");
	assert_string_equal(a.module[0].string, "first string");
	assert_string_equal(a.module[1].file, "m2.bin");
	assert_null(a.module[1].string);
	assert_string_equal(a.stats, "s.json");
	assert_int_equal(a.boot, CVM_BOOT_PVH);
	assert_int_equal(a.timeout_ns, 1500000000ull);
	assert_int_equal(a.verbose, 1);
	assert_string_equal(a.image, "img");

	assert_int_equal(PARSE(&a, err, "img", "--boot=multiboot", "--mem", "2G"), 0);
	assert_int_equal(a.boot, CVM_BOOT_MULTIBOOT);
	assert_int_equal(a.mem, 2ull << 30);
	assert_int_equal(PARSE(&a, err, "--mem", "65536K", "--cpus", "0x10", "img"), 0);
	assert_int_equal(a.mem, 64ull << 20);
	assert_int_equal(a.cpus, 16);
}

static void test_irqchip_modes(void **state)
{
	struct cvm_run_args a;
	char err[160];

	assert_int_equal(PARSE(&a, err, "--irqchip", "user", "img"), 0);
	assert_int_equal(a.irqchip, CVM_IRQCHIP_USER);
	assert_int_equal(PARSE(&a, err, "--irqchip=split", "img"), 0);
	assert_int_equal(a.irqchip, CVM_IRQCHIP_SPLIT);
	assert_int_equal(PARSE(&a, err, "--irqchip", "split", "--irqchip", "kernel", "img"), 0);
	assert_int_equal(a.irqchip, CVM_IRQCHIP_KERNEL); /* the last one wins */
}

static void test_mwait_policies(void **state)
{
	struct cvm_run_args a;
	char err[160];

	assert_int_equal(PARSE(&a, err, "img"), 0);
	assert_int_equal(a.mwait, CVM_VM_MWAIT_DEFAULT);
	assert_int_equal(PARSE(&a, err, "--mwait", "native", "img"), 0);
	assert_int_equal(a.mwait, CVM_VM_MWAIT_NATIVE);
	assert_int_equal(PARSE(&a, err, "--mwait=nop", "img"), 0);
	assert_int_equal(a.mwait, CVM_VM_MWAIT_NOP);
	assert_int_equal(PARSE(&a, err, "--mwait", "yield", "img"), 0);
	assert_int_equal(a.mwait, CVM_VM_MWAIT_YIELD);
	assert_int_equal(PARSE(&a, err, "--mwait", "exit", "img"), 0);
	assert_int_equal(a.mwait, CVM_VM_MWAIT_EXIT);
}

static void test_help(void **state)
{
	struct cvm_run_args a;
	char err[160];

	assert_int_equal(PARSE(&a, err, "--help"), 1);
	assert_int_equal(PARSE(&a, err, "--cpus", "0", "-h"), -EINVAL); /* first error wins */
	assert_int_equal(PARSE(&a, err, "-h", "--cpus", "0"), 1);
}

/* Each bad command line is refused with a line that names the option and the value. */
static void refused(const char *const *words, const char *must_contain)
{
	struct cvm_run_args a;
	char err[160];

	assert_int_equal(parse(&a, err, words), -EINVAL);
	if (!strstr(err, must_contain))
		fail_msg("error '%s' does not mention '%s'", err, must_contain);
	assert_null(strchr(err, '\n'));
}

#define REFUSED(want, ...) refused((const char *const[]){"run", __VA_ARGS__, NULL}, want)

static void test_refusals(void **state)
{
	REFUSED("no IMAGE", "--cpus", "2");
	REFUSED("--cpus 0", "--cpus", "0", "img");
	REFUSED("--cpus 4097", "--cpus", "4097", "img");
	REFUSED("--cpus -1", "--cpus", "-1", "img");
	REFUSED("--cpus 2x", "--cpus", "2x", "img");
	REFUSED("--cpus ", "--cpus", "", "img");
	REFUSED("--cpus 99999999999999999999", "--cpus", "99999999999999999999", "img");
	REFUSED("--mem 12Q", "--mem", "12Q", "img");
	REFUSED("--mem M", "--mem", "M", "img");
	REFUSED("--mem 0", "--mem", "0", "img");
	REFUSED("--mem 512K", "--mem", "512K", "img");
	REFUSED("--mem 2T", "--mem", "2T", "img");
	REFUSED("--mem 99999999999G", "--mem", "99999999999G", "img");
	REFUSED("--mem 1000001", "--mem", "1000001", "img");
	REFUSED("--irqchip pic", "--irqchip", "pic", "img");
	REFUSED("--irqchip USER", "--irqchip", "USER", "img");
	REFUSED("--irqchip ", "--irqchip", "", "img");
	REFUSED("--boot linux", "--boot", "linux", "img");
	REFUSED("--mwait poll: unknown policy", "--mwait", "poll", "img");
	REFUSED("--mwait : unknown policy", "--mwait", "", "img");
	REFUSED("--timeout 10", "--timeout", "10", "img");
	REFUSED("--timeout 5 minutes", "--timeout", "5 minutes", "img");
	REFUSED("--timeout 0s", "--timeout", "0s", "img");
	REFUSED("--module ',x'", "--module", ",x", "img");
	REFUSED("--stats ''", "--stats", "", "img");
	REFUSED("--cpus needs a value", "img", "--cpus");
	REFUSED("'--frobnicate'", "--frobnicate", "img");
	REFUSED("'-x'", "-x", "img");
	REFUSED("unexpected argument 'b'", "a", "b");
	REFUSED("more than 16 modules", "--module", "1", "--module", "2", "--module", "3",
	        "--module", "4", "--module", "5", "--module", "6", "--module", "7", "--module", "8",
	        "--module", "9", "--module", "10", "--module", "11", "--module", "12", "--module",
	        "13", "--module", "14", "--module", "15", "--module", "16", "--module", "17",
	        "img");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),       cmocka_unit_test(test_protected_state),
	        cmocka_unit_test(test_every_option),   cmocka_unit_test(test_irqchip_modes),
	        cmocka_unit_test(test_help),           cmocka_unit_test(test_refusals),
	        cmocka_unit_test(test_mwait_policies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
