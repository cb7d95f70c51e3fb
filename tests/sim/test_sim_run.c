/* Tests of whole simulator runs: determinism of traces and results, and strategy invariants checked after every event. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim.h"

static const char *scenario_dir;

static struct cvm_sim_scenario *load(const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", scenario_dir, name);
	struct cvm_sim_scenario *sc = NULL;
	assert_int_equal(cvm_sim_scenario_load(path, &sc), 0);
	return sc;
}

/* FNV-1a over a buffer. */
static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * UINT64_C(0x100000001b3);
	return h;
}

/* Runs and returns the trace's hash; *len gets the trace length, *res the result. */
static uint64_t traced_run(const struct cvm_sim_scenario *sc, enum cvm_sim_strategy_id st,
                           uint64_t seed, uint64_t until, size_t *len, struct cvm_sim_result *res)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	assert_non_null(f);
	struct cvm_sim_options o = {.seed = seed, .until = until, .strategy = st, .trace = f};
	assert_int_equal(cvm_sim_run(sc, &o, res), 0);
	fclose(f);
	uint64_t h = fnv1a(buf, n);
	*len = n;
	free(buf);
	return h;
}

static void test_determinism(void **state)
{
	struct cvm_sim_scenario *sc = load("snp-smt-protect.json");
	for (unsigned int st = 0; st < CVM_STRAT_NR; st++) {
		struct cvm_sim_result a, b, c;
		size_t la, lb, lc;
		uint64_t ha = traced_run(sc, st, 42, 300000000, &la, &a);
		uint64_t hb = traced_run(sc, st, 42, 300000000, &lb, &b);
		uint64_t hc = traced_run(sc, st, 43, 300000000, &lc, &c);
		assert_true(la > 100000); /* a real trace, not an empty one */
		assert_true(ha == hb && la == lb);
		assert_true(ha != hc);
		assert_true(a.events == b.events && a.exits == b.exits &&
		            a.idle_required == b.idle_required &&
		            a.longest_stretch == b.longest_stretch &&
		            a.noise_delay_p99 == b.noise_delay_p99);
		assert_true(a.events != c.events || a.exits != c.exits);
		cvm_sim_result_free(&a);
		cvm_sim_result_free(&b);
		cvm_sim_result_free(&c);
	}
	cvm_sim_scenario_free(sc);
}

/* What the hook saw. */
struct check {
	unsigned long events;
	unsigned long violations;
	char first[256];
	unsigned long
	        gang_busy_sibling; /* protected vCPU thread current, sibling busy (negative control) */
};

static void violation(struct check *k, const struct cvm_sim *s, const char *what, unsigned int cpu)
{
	if (!k->violations++)
		snprintf(k->first, sizeof(k->first), "t=%llu cpu%u: %s",
		         (unsigned long long)cvm_sim_now(s), cpu, what);
}

static void hook(const struct cvm_sim *s, void *ctx)
{
	struct check *k = ctx;
	enum cvm_sim_strategy_id st = cvm_sim_strategy(s);
	unsigned int n = cvm_sim_ncpus(s);
	struct cvm_sim_cpu_view v[1024];
	k->events++;
	for (unsigned int i = 0; i < n; i++)
		cvm_sim_cpu_view(s, i, &v[i]);
	for (unsigned int i = 0; i < n; i++) {
		/* everywhere: no vCPU on a quarantined CPU, no guest mode without virtualization */
		if (v[i].vcpu >= 0 && v[i].quarantined)
			violation(k, s, "a vCPU thread on a quarantined CPU", i);
		if (v[i].in_guest && !v[i].virt_ok)
			violation(k, s, "guest mode on a CPU whose virtualization failed", i);
		if (!v[i].online && (!v[i].idle || v[i].user_task || v[i].noise))
			violation(k, s, "an offline CPU runs something", i);
		for (unsigned int j = 0; j < n; j++) {
			if (j == i || v[j].core != v[i].core)
				continue;
			/* the hardware rule: a protected vCPU in guest mode has idle siblings */
			if (v[i].in_guest && v[i].protected_vcpu && !v[j].idle)
				violation(k, s,
				          "protected vCPU in guest mode beside a busy sibling", i);
			/* core-cookie: tasks of different cookies never share a core */
			if (st == CVM_STRAT_CORE_COOKIE && v[i].user_task && v[j].user_task &&
			    v[i].cookie != v[j].cookie)
				violation(k, s, "two cookies on one core", i);
			/* gang: the siblings of a protected vCPU's running thread stay idle */
			if (v[i].vcpu >= 0 && v[i].protected_vcpu && !v[i].noise && !v[j].idle &&
			    (v[j].user_task || v[j].noise)) {
				if (st == CVM_STRAT_GANG && v[i].in_guest)
					violation(k, s,
					          "gang: protected vCPU runs with a busy sibling",
					          i);
				k->gang_busy_sibling++;
			}
		}
	}
}

static struct check run_checked(const char *name, enum cvm_sim_strategy_id st, uint64_t until,
                                struct cvm_sim_result *res)
{
	struct cvm_sim_scenario *sc = load(name);
	struct check k = {0};
	struct cvm_sim_options o = {
	        .seed = sc->seed, .until = until, .strategy = st, .hook = hook, .hook_ctx = &k};
	assert_int_equal(cvm_sim_run(sc, &o, res), 0);
	cvm_sim_scenario_free(sc);
	if (k.violations)
		fprintf(stderr, "%s under %s: %lu violations, first: %s\n", name,
		        cvm_sim_strategy_name(st), k.violations, k.first);
	return k;
}

static void test_invariants_snp(void **state)
{
	for (unsigned int st = 0; st < CVM_STRAT_NR; st++) {
		struct cvm_sim_result r;
		struct check k = run_checked("snp-smt-protect.json", st, 400000000, &r);
		assert_true(k.events > 10000);
		assert_int_equal(k.violations, 0);
		if (st == CVM_STRAT_GANG || st == CVM_STRAT_PARTITION ||
		    st == CVM_STRAT_SIBLING_OFFLINE)
			assert_true(r.idle_required == 0);
		if (st == CVM_STRAT_PLAIN) {
			/* negative control: plain lets the siblings work, so the gang check can fire */
			assert_true(k.gang_busy_sibling > 0);
			assert_true(r.idle_required > 0);
		}
		cvm_sim_result_free(&r);
	}
}

static void test_invariants_hotplug(void **state)
{
	for (unsigned int st = 0; st < CVM_STRAT_NR; st++) {
		struct cvm_sim_result r;
		struct check k = run_checked("hotplug-enable-fail.json", st, 6000000000ull, &r);
		assert_int_equal(k.violations, 0);
		assert_true(r.host_hotplug_events > 10);
		assert_true(r.quarantined >= 1);       /* CPU 12 always fails */
		assert_int_equal(r.entry_failures, 0); /* probes keep vCPUs off failed CPUs */
		assert_true(r.replacements > 0);
		cvm_sim_result_free(&r);
	}
}

/* Without probes the VMM trusts returning CPUs: entries fail there, are reported, and quarantine them. */
static void test_no_probe_entry_failures_quarantine(void **state)
{
	struct cvm_sim_scenario *sc = load("hotplug-enable-fail.json");
	sc->host.hotplug.probe = false;
	struct check k = {0};
	struct cvm_sim_result r;
	struct cvm_sim_options o = {.seed = sc->seed,
	                            .until = 8000000000ull,
	                            .strategy = CVM_STRAT_PLAIN,
	                            .hook = hook,
	                            .hook_ctx = &k};
	assert_int_equal(cvm_sim_run(sc, &o, &r), 0);
	assert_int_equal(k.violations, 0);
	assert_true(r.entry_failures >= 1);
	assert_true(r.quarantined >= 1);
	cvm_sim_result_free(&r);
	cvm_sim_scenario_free(sc);
}

static void test_smi_race(void **state)
{
	struct cvm_sim_result r;
	struct check k = run_checked("smi-hotplug-race.json", CVM_STRAT_PLAIN, 0, &r);
	assert_int_equal(k.violations, 0);
	assert_int_equal(r.nvms, 2);
	assert_string_equal(r.vms[0].name, "single-sipi");
	assert_true(r.aps_lost >= 1);
	assert_true(r.sipis_discarded >= 1);
	assert_true(r.ap_retries >= 1);
	cvm_sim_result_free(&r);
}

int main(int argc, char **argv)
{
	scenario_dir = argc > 1 ? argv[1] : "scenarios";
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_determinism),
	        cmocka_unit_test(test_invariants_snp),
	        cmocka_unit_test(test_invariants_hotplug),
	        cmocka_unit_test(test_no_probe_entry_failures_quarantine),
	        cmocka_unit_test(test_smi_race),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
