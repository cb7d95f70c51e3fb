/* Unit tests for scenario loading: the bundled scenarios load, and every kind of bad scenario gets one line naming the key and the problem. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/bitmap.h"
#include "sim/scenario.h"

static const char *scenario_dir;

/* Parses `text`; returns what was written to stderr (static buffer) and the result in *rc. */
static const char *parse_capture(const char *text, int *rc, struct cvm_sim_scenario **out)
{
	static char buf[2048];
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	int saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	*rc = cvm_sim_scenario_parse("s.json", text, out);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	size_t n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return buf;
}

/* A minimal valid scenario with `host_extra` inside "host" and `top_extra` at the top level. */
static char *make(const char *host_extra, const char *vm, const char *top_extra)
{
	static char text[8192];
	snprintf(text, sizeof(text),
	         "{\"duration\": \"1s\", \"host\": {\"sockets\": 1, \"cores_per_socket\": 4, "
	         "\"threads_per_core\": 2%s%s}, \"vms\": [%s]%s%s}",
	         host_extra[0] ? ", " : "", host_extra,
	         vm ? vm : "{\"vcpus\": 2, \"workload\": {\"type\": \"cpu-bound\"}}",
	         top_extra[0] ? ", " : "", top_extra);
	return text;
}

/* Expects a failure whose single line contains `want`. */
static void expect_error(const char *text, const char *want)
{
	int rc;
	struct cvm_sim_scenario *sc = NULL;
	const char *err = parse_capture(text, &rc, &sc);
	if (rc == 0 || !strstr(err, want)) {
		fprintf(stderr, "scenario: %s\nwanted an error containing: %s\ngot (rc %d): %s\n",
		        text, want, rc, err);
		fail();
	}
	assert_null(sc);
	/* exactly one line */
	assert_non_null(strchr(err, '\n'));
	assert_null(strchr(strchr(err, '\n') + 1, '\n'));
	assert_non_null(strstr(err, "corevm: sim: s.json: "));
}

static void test_minimal_loads(void **state)
{
	int rc;
	struct cvm_sim_scenario *sc = NULL;
	const char *err = parse_capture(make("", NULL, ""), &rc, &sc);
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
	assert_non_null(sc);
	assert_int_equal(sc->host.ncpus, 8);
	assert_int_equal(sc->total_vcpus, 2);
	assert_true(sc->duration == 1000000000ull);
	assert_true(sc->watchdog.threshold == 21000000000ull);
	assert_int_equal(sc->vms[0].workload.tick_hz, 250);
	cvm_sim_scenario_free(sc);
}

static void test_negative_rate(void **state)
{
	expect_error(make("\"noise\": [{\"kind\": \"irq\", \"rate\": 10, \"duration\": \"1us\"}, "
	                  "{\"kind\": \"softirq\", \"rate\": -3, \"duration\": \"1us\"}]",
	                  NULL, ""),
	             "s.json: host.noise[1].rate: must be >= 0, got -3");
}

static void test_unknown_keys(void **state)
{
	expect_error(make("", NULL, "\"colour\": 1"), "s.json: colour: unknown key");
	expect_error(make("\"sokets\": 2", NULL, ""), "host.sokets: unknown key");
	expect_error(make("",
	                  "{\"vcpus\": 2, \"workload\": {\"type\": \"cpu-bound\", \"wake\": 1}}",
	                  ""),
	             "vms[0].workload.wake: unknown key");
	expect_error(make("\"noise\": [{\"kind\": \"irq\", \"rate\": 1, \"duration\": {\"dist\": "
	                  "\"exp\", \"mean\": \"1us\", \"sigma\": 2}}]",
	                  NULL, ""),
	             "host.noise[0].duration.sigma: unknown key");
}

static void test_wrong_types(void **state)
{
	expect_error(make("", NULL, "\"duration\": 5.5"), "duration: ");
	expect_error(make("\"tick_hz\": \"fast\"", NULL, ""),
	             "host.tick_hz: expected an integer, got a string");
	expect_error(make("", "{\"vcpus\": true, \"workload\": {\"type\": \"cpu-bound\"}}", ""),
	             "vms[0].vcpus: expected an integer, got a boolean");
	expect_error(make("\"housekeeping\": 3", NULL, ""),
	             "host.housekeeping: expected a CPU list such as \"0-3,8\", got an integer");
	expect_error(make("", "{\"vcpus\": 2, \"workload\": []}", ""),
	             "vms[0].workload: expected an object");
	expect_error(
	        make("\"noise\": [{\"kind\": \"irq\", \"rate\": 1, \"duration\": \"5parsecs\"}]",
	             NULL, ""),
	        "host.noise[0].duration: not a duration: '5parsecs'");
}

static void test_impossible_topologies(void **state)
{
	expect_error("{\"duration\": \"1s\", \"host\": {\"sockets\": 0, \"cores_per_socket\": 4, "
	             "\"threads_per_core\": 2}, \"vms\": []}",
	             "host.sockets: must be >= 1, got 0");
	expect_error(
	        "{\"duration\": \"1s\", \"host\": {\"sockets\": 4, \"cores_per_socket\": 256, "
	        "\"threads_per_core\": 2}, \"vms\": []}",
	        "host: sockets x cores_per_socket x threads_per_core = 2048 CPUs, more than the "
	        "1024");
	expect_error("{\"duration\": \"1s\", \"host\": {\"sockets\": 1, \"cores_per_socket\": 4, "
	             "\"threads_per_core\": 16}, \"vms\": []}",
	             "host.threads_per_core: must be <= 8, got 16");
	expect_error(make("\"housekeeping\": \"0,9\"", NULL, ""),
	             "host.housekeeping: CPU list '0,9' names a CPU >= 8");
	expect_error(make("\"hotplug\": {\"events\": [{\"at\": \"1s\", \"cpu\": 8, \"op\": "
	                  "\"offline\"}]}",
	                  NULL, ""),
	             "host.hotplug.events[0].cpu: must be <= 7, got 8");
	expect_error(make("\"hotplug\": {\"events\": [{\"at\": \"1s\", \"cpu\": 0, \"op\": "
	                  "\"offline\"}]}",
	                  NULL, ""),
	             "host.hotplug.events[0].cpu: CPU 0 (the boot CPU) cannot go offline");
	expect_error(make("", "{\"vcpus\": 2000, \"workload\": {\"type\": \"cpu-bound\"}}", ""),
	             "vms[0].vcpus: must be <= 1024, got 2000");
}

static void test_other_problems(void **state)
{
	expect_error("{\"duration\": \"1s\"", "s.json: line 1, column 18: ");
	expect_error("{\"duration\": \"1s\"} x", "trailing text after the JSON value");
	expect_error("{\"host\": {}}", "s.json: duration: missing (required)");
	expect_error(make("", NULL, "\"duration\": \"-2s\""), "duration: must be >= 0, got -2s");
	expect_error(make("\"noise\": [{\"kind\": \"dust\", \"rate\": 1, \"duration\": \"1us\"}]",
	                  NULL, ""),
	             "host.noise[0].kind: unknown kind 'dust' (irq, softirq, kthread)");
	expect_error(make("\"noise\": [{\"kind\": \"irq\", \"duration\": \"1us\"}]", NULL, ""),
	             "host.noise[0]: needs a rate (per second) or a period");
	expect_error(make("\"noise\": [{\"kind\": \"irq\", \"rate\": 1, \"period\": \"1ms\", "
	                  "\"duration\": \"1us\"}]",
	                  NULL, ""),
	             "host.noise[0].period: give either rate or period, not both");
	expect_error(make("\"noise\": [{\"kind\": \"irq\", \"rate\": 1, \"duration\": {\"dist\": "
	                  "\"uniform\", \"min\": \"2us\", \"max\": \"1us\"}}]",
	                  NULL, ""),
	             "host.noise[0].duration.max: must be >= min");
	expect_error(make("", "{\"vcpus\": 3, \"workload\": {\"type\": \"ipi-pingpong\"}}", ""),
	             "vms[0].workload: ipi-pingpong pairs vCPUs: the VM needs an even count");
	expect_error(
	        make("",
	             "{\"vcpus\": 2, \"workload\": {\"type\": \"mwait-idle\", \"policy\": "
	             "\"snooze\", \"wake\": {\"rate\": 1}, \"busy\": \"1us\"}}",
	             ""),
	        "vms[0].workload.policy: unknown MWAIT policy 'snooze' (native, nop, yield, exit)");
	expect_error(make("", "{\"vcpus\": 2, \"workload\": {\"type\": \"hlt-idle\"}}", ""),
	             "vms[0].workload.wake: missing (required)");
	expect_error(make("", NULL, "\"vms\": []"), "vms: needs at least one VM");
	expect_error(make("", NULL, "\"watchdog\": {\"thresholds\": [\"1s\", 0]}"),
	             "watchdog.thresholds[1]: must be > 0");
	expect_error(make("", NULL, "\"cost_profile\": {\"kick\": \"-1us\"}"),
	             "cost_profile.kick: must be >= 0, got -1us");
	expect_error(
	        make("", NULL, "\"cost_profile\": \"/nonexistent/profile.json\""),
	        "cost_profile: cannot use cost profile '/nonexistent/profile.json': No such file");
	expect_error(
	        make("\"hotplug\": {\"enable_fail\": [{\"cpus\": \"3\", \"probability\": 1.5}]}",
	             NULL, ""),
	        "host.hotplug.enable_fail[0].probability: must be <= 1, got 1.5");
	expect_error(make("\"tick_hz\": 1000, \"tick_cost\": \"2ms\"", NULL, ""),
	             "host.tick_cost: must be shorter than the tick period");
	/* the bounded workloads of the KVM cross-check */
	expect_error(
	        make("",
	             "{\"vcpus\": 2, \"workload\": {\"type\": \"timer\", \"tick_hz\": 0, "
	             "\"oneshot\": true}}",
	             ""),
	        "vms[0].workload.oneshot: needs tick_hz > 0 (the one-shot delay is 1/tick_hz)");
	expect_error(make("",
	                  "{\"vcpus\": 2, \"workload\": {\"type\": \"ipi-pingpong\", \"rounds\": "
	                  "-1}}",
	                  ""),
	             "vms[0].workload.rounds: must be >= 0, got -1");
	expect_error(make("", "{\"vcpus\": 1, \"workload\": {\"type\": \"init-sipi\"}}", ""),
	             "vms[0].workload: init-sipi needs a VM of at least 2 vCPUs");
	expect_error(make("",
	                  "{\"vcpus\": 3, \"workload\": {\"type\": \"init-sipi\", \"cycles\": "
	                  "0}}",
	                  ""),
	             "vms[0].workload.cycles: must be >= 1, got 0");
	expect_error(make("",
	                  "{\"vcpus\": 3, \"workload\": {\"type\": \"cpu-bound\", \"cycles\": "
	                  "2}}",
	                  ""),
	             "vms[0].workload.cycles: unknown key");
}

static void test_bundled_scenarios_load(void **state)
{
	static const char *const names[] = {
	        "snp-smt-protect.json", "hotplug-enable-fail.json", "smi-hotplug-race.json",
	        "large-host.json",      "mwait-policies.json",      "kvm-xcheck.json",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", scenario_dir, names[i]);
		struct cvm_sim_scenario *sc = NULL;
		assert_int_equal(cvm_sim_scenario_load(path, &sc), 0);
		assert_non_null(sc);
		assert_true(sc->nvms > 0);
		cvm_sim_scenario_free(sc);
	}
	struct cvm_sim_scenario *sc = NULL;
	assert_int_equal(cvm_sim_scenario_load("/nonexistent.json", &sc), -ENOENT);
}

int main(int argc, char **argv)
{
	scenario_dir = argc > 1 ? argv[1] : "scenarios";
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_minimal_loads),
	        cmocka_unit_test(test_negative_rate),
	        cmocka_unit_test(test_unknown_keys),
	        cmocka_unit_test(test_wrong_types),
	        cmocka_unit_test(test_impossible_topologies),
	        cmocka_unit_test(test_other_problems),
	        cmocka_unit_test(test_bundled_scenarios_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
