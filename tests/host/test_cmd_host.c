/* Tests of `corevm host` as a user runs it: topology and placement output (text and JSON) on fixture trees, and one clear line for each bad input. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/placement.h"
#include "host/sched_core.h"
#include "host_test.h"

static const char *corevm;

struct run {
	int status;
	char out[65536], err[8192];
};

static void slurp(int fd, char *buf, size_t len)
{
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* Runs corevm host ARGS... (NULL-terminated) and captures status, stdout and stderr. */
static struct run *run(const char *first, ...)
{
	const char *argv[32] = {corevm, "host", first};
	unsigned int argc = first ? 3 : 2;
	va_list ap;
	va_start(ap, first);
	while (first && argc < 31 && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	struct run *r = calloc(1, sizeof(*r));
	char out_name[] = "/tmp/corevm-host-out-XXXXXX", err_name[] = "/tmp/corevm-host-err-XXXXXX";
	int out = mkstemp(out_name), err = mkstemp(err_name);
	assert_true(out >= 0 && err >= 0);
	unlink(out_name);
	unlink(err_name);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out, 1);
		dup2(err, 2);
		execv(corevm, (char *const *)argv);
		_exit(127);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	return r;
}

/* Exactly one line on stderr, equal to `line` (or containing it when `exact` is false). */
static void one_line(const struct run *r, const char *line, bool exact)
{
	const char *nl = strchr(r->err, '\n');
	if (!nl || nl[1] != '\0')
		fail_msg("want one line on stderr, got: '%s'", r->err);
	if (exact ? strncmp(r->err, line, strlen(line)) || strlen(line) + 1 != strlen(r->err)
	          : !strstr(r->err, line))
		fail_msg("want '%s', got '%s'", line, r->err);
}

static void has(const struct run *r, const char *text)
{
	if (!strstr(r->out, text))
		fail_msg("stdout lacks '%s':\n%s", text, r->out);
}

static void test_topology_text(void **state)
{
	struct run *r = run("--sysfs", fixture("1s4c2t"), NULL);
	assert_int_equal(r->status, 0);
	has(r,
	    "host: 1 package, 1 NUMA node, 4 cores known, 2 threads per core (smt control: on)\n");
	has(r, "cpus: possible 0-7, present 0-7, online 0-7, isolated none\n");
	has(r, "core 3 (node 0): cpus 3,7\n");
	assert_string_equal(r->err, "");
	free(r);
	r = run("--sysfs", fixture("2s8c2t-holes"), NULL);
	assert_int_equal(r->status, 0);
	has(r, "offline since before corevm looked (core unknown): 3,19,21,28-31\n");
	has(r, "package 1 core 4 (node 1): cpu 12 (may miss offline threads)\n");
	free(r);
}

static void test_json(void **state)
{
	struct run *r = run("--sysfs", fixture("2s8c2t-holes"), "--json", "--placement",
	                    "smt-protect", "--cpus", "2", "--host-cpus", "0-7,16-23", NULL);
	assert_int_equal(r->status, 0);
	json_object *o = json_tokener_parse(r->out);
	assert_non_null(o);
	json_object *topo = json_object_object_get(o, "topology");
	assert_int_equal(json_object_array_length(json_object_object_get(topo, "cores")), 15);
	assert_int_equal(json_object_get_int(json_object_object_get(topo, "smt_width")), 2);
	json_object *d = json_object_object_get(json_object_object_get(o, "placement"), "decision");
	assert_string_equal(json_object_get_string(json_object_object_get(d, "reserved")), "16-17");
	json_object *v0 = json_object_array_get_idx(json_object_object_get(d, "vcpus"), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(v0, "cpus")), "0");
	assert_string_equal(json_object_get_string(json_object_object_get(v0, "why")),
	                    "whole-core");
	assert_string_equal(json_object_get_string(json_object_object_get(v0, "core")),
	                    "package 0 core 0");
	json_object_put(o);
	free(r);
}

static void test_placement_text(void **state)
{
	struct run *r =
	        run("--sysfs", fixture("1s4c2t"), "--placement", "pin", "--cpus", "6", NULL);
	assert_int_equal(r->status, 0);
	has(r, "placement: pin for 6 vCPUs, fallback none\n");
	has(r, "vcpu 3: cpu 3 (core 3, node 0): free core\n");
	has(r, "vcpu 5: cpu 5 (core 1, node 0): shares its core with vcpu 1: no free core left\n");
	has(r, "housekeeping: cpus 6-7 (usable CPUs no vCPU uses)\n");
	free(r);
	r = run("--sysfs", fixture("isolated"), "--placement", "pin", "--cpus", "2", NULL);
	has(r, "considered: host CPUs 0-1,4-5 (present, not isolated); isolated 2-3,6-7 left out");
	free(r);
	r = run("--sysfs", fixture("1s4c2t"), "--placement", "pin", "--cpus", "2", "--quarantine",
	        "0-1", NULL);
	has(r, "usable: 2-7; left out: cpus 0-1 quarantined\n");
	free(r);
}

static void test_refusals(void **state)
{
	struct run *r = run("--sysfs", fixture("1s4c2t"), "--placement", "smt-protect", "--cpus",
	                    "5", NULL);
	assert_int_equal(r->status, 4);
	one_line(r,
	         "corevm: placement: smt-protect needs 5 whole cores in host CPUs 0-7 (present, "
	         "not isolated), found 4",
	         true);
	free(r);

	/* Where the kernel lacks core scheduling, smt-protect says so in one line, or refuses. */
	int support = __cvm_sched_core_supported(&cvm_sched_core_sys);
	r = run("--sysfs", fixture("nosmt"), "--placement", "smt-protect", "--cpus", "1", NULL);
	assert_int_equal(r->status, 0);
	if (support) {
		char want[512];
		snprintf(want, sizeof(want),
		         "corevm: warning: placement: smt-protect: %s; continuing without "
		         "core-scheduling cookies",
		         cvm_cookie_unsupported_why(support));
		one_line(r, want, true);
		has(r, "cookies: wanted per vCPU but unavailable: ");
	} else {
		has(r, "cookies: core scheduling, one cookie per vCPU thread\n");
	}
	free(r);
	r = run("--sysfs", fixture("nosmt"), "--placement", "smt-protect", "--cpus", "1",
	        "--placement-strict", NULL);
	if (support) {
		char want[512];
		snprintf(want, sizeof(want),
		         "corevm: placement: smt-protect with --placement-strict: %s",
		         cvm_cookie_unsupported_why(support));
		assert_int_equal(r->status, 4);
		one_line(r, want, true);
	} else {
		assert_int_equal(r->status, 0);
	}
	free(r);
}

static void test_bad_input(void **state)
{
	static const struct {
		const char *args[6];
		int status;
		const char *line;
	} cases[] = {
	        {{"--placement", "bogus"},
	         2,
	         "corevm: host: --placement bogus: unknown policy (none, pin, smt-protect, "
	         "core-sched, core-sched=vm, core-sched=vcpu)"},
	        {{"--placement", "pin", "--host-cpus", "5-2"},
	         2,
	         "corevm: host: --host-cpus 5-2: not a list of CPUs (e.g. 0-3,8)"},
	        {{"--placement", "pin", "--host-cpus", "0-5000"},
	         2,
	         "corevm: host: --host-cpus 0-5000: names a CPU beyond corevm's limit of 1024"},
	        {{"--placement", "pin", "--cpus", "0"},
	         2,
	         "corevm: host: --cpus: '0' is not a number from 1 to 1024"},
	        {{"--placement", "pin", "--cpus", "2x"},
	         2,
	         "corevm: host: --cpus: '2x' is not a number from 1 to 1024"},
	        {{"--cpus", "2"}, 2, "corevm: host: --cpus and --quarantine need --placement"},
	        {{"--placement", "pin", "--placement-fallback", "pin"},
	         2,
	         "corevm: host: --placement-fallback pin: not weaker than --placement pin (use none "
	         "or fail)"},
	        {{"--placement", "core-sched", "--placement-fallback", "none"},
	         2,
	         "corevm: host: --placement-fallback none: not weaker than --placement core-sched "
	         "(only fail applies)"},
	        {{"--placement", "pin", "--placement-fallback", "maybe"},
	         2,
	         "corevm: host: --placement-fallback maybe: unknown fallback (fail, pin, none)"},
	        {{"--placement", "pin", "--placement-retries", "-1"},
	         2,
	         "corevm: host: --placement-retries -1: not a number from 0 to 1000"},
	        {{"--frobnicate"},
	         2,
	         "corevm: host: unknown or incomplete option '--frobnicate' (see 'corevm host "
	         "--help')"},
	        {{"--sysfs"},
	         2,
	         "corevm: host: unknown or incomplete option '--sysfs' (see 'corevm host --help')"},
	        {{"extra"},
	         2,
	         "corevm: host: unexpected argument 'extra' (see 'corevm host --help')"},
	        {{"--probe", "x"},
	         2,
	         "corevm: host: --probe: 'x' is not a list of CPUs below 1024 (e.g. 0-3,8)"},
	        {{"--sysfs", "/nonexistent-corevm"},
	         4,
	         "corevm: host: topology: /nonexistent-corevm/devices/system/cpu/possible: missing"},
	};
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *a = cases[i].args;
		struct run *r = run(a[0], a[1], a[2], a[3], a[4], a[5]);
		if (r->status != cases[i].status)
			fail_msg("case %u (%s): status %d, want %d; stderr: %s", i, a[0], r->status,
			         cases[i].status, r->err);
		one_line(r, cases[i].line, true);
		free(r);
	}
	struct run *r = run("--help", NULL);
	assert_int_equal(r->status, 0);
	has(r, "--placement POLICY");
	free(r);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH-TO-COREVM\n", argv[0]);
		return 1;
	}
	corevm = argv[1];
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_topology_text),  cmocka_unit_test(test_json),
	        cmocka_unit_test(test_placement_text), cmocka_unit_test(test_refusals),
	        cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
