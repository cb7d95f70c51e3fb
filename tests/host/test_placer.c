/* Unit tests for host/placer.c: hotplug, probes, flapping CPUs, quarantine, entry failures, fallback and the event log; invariants after every event. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "host/placer.h"
#include "host_test.h"

#define WORDS CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)

struct fix {
	struct cvm_host_topology *t;
	struct cvm_placer *pl;
	struct cvm_placer_actions act;
	uint64_t now;
};

/* After every event: the placement is valid and no quarantined or unadmitted CPU is used. */
static void invariants(struct fix *f)
{
	struct cvm_place_host h;
	char err[CVM_PLACE_ERR_LEN];
	const struct cvm_placer *pl = f->pl;
	if (pl->failed)
		return;
	cvm_placer_host(pl, &h);
	if (cvm_placement_validate(&h, &pl->req, &pl->cur, err, sizeof(err)))
		fail_msg("invalid after event %llu: %s", (unsigned long long)pl->seq, err);
	uint64_t bad[WORDS], x[WORDS];
	cvm_bitmap_or(bad, pl->quarantined, pl->pending, CVM_MAX_HOST_CPUS);
	for (unsigned int i = 0; i < pl->cur.nr_vcpus; i++) {
		cvm_placement_vcpu_mask(&pl->cur, i, x);
		cvm_bitmap_and(x, x, bad, CVM_MAX_HOST_CPUS);
		if (!cvm_bitmap_empty(x, CVM_MAX_HOST_CPUS))
			fail_msg("vcpu %u may run on quarantined/unadmitted cpus %s", i,
			         list_of(x));
	}
	cvm_bitmap_and(x, pl->cur.housekeeping, bad, CVM_MAX_HOST_CPUS);
	assert_true(cvm_bitmap_empty(x, CVM_MAX_HOST_CPUS));
}

static struct fix *fix_new(const char *fixture_name, enum cvm_place_policy policy,
                           unsigned int nr_vcpus, enum cvm_place_fallback fb, unsigned int max_fail)
{
	struct fix *f = calloc(1, sizeof(*f));
	f->t = read_fixture(fixture_name);
	f->pl = calloc(1, sizeof(*f->pl));
	struct cvm_place_request rq;
	cvm_place_request_init(&rq, policy, nr_vcpus);
	rq.fallback = fb;
	char err[CVM_PLACE_ERR_LEN];
	if (cvm_placer_init(f->pl, f->t, &rq, max_fail, 0, err, sizeof(err)))
		fail_msg("init: %s", err);
	invariants(f);
	return f;
}

static void fix_free(struct fix *f)
{
	free(f->pl);
	free(f->t);
	free(f);
}

static void offline(struct fix *f, unsigned int cpu)
{
	assert_int_equal(cvm_placer_cpu_offline(f->pl, cpu, ++f->now, &f->act), 0);
	invariants(f);
}

/* Returns the probe token asked for (0 when none). */
static uint64_t online(struct fix *f, unsigned int cpu)
{
	assert_int_equal(cvm_placer_cpu_online(f->pl, cpu, ++f->now, &f->act), 0);
	invariants(f);
	return f->act.probe_cpu == (int)cpu ? f->act.probe_token : 0;
}

static void probed(struct fix *f, unsigned int cpu, uint64_t token, enum cvm_probe_result r)
{
	assert_int_equal(cvm_placer_probe_done(f->pl, cpu, token, r, "test", ++f->now, &f->act), 0);
	invariants(f);
}

static const struct cvm_place_event *last(struct fix *f)
{
	return cvm_placer_event(f->pl, cvm_placer_nr_events(f->pl) - 1);
}

static int vcpu_cpu(struct fix *f, unsigned int i)
{
	return f->pl->cur.vcpu[i].cpu;
}

static void test_offline_online(void **state)
{
	struct fix *f = fix_new("1s4c2t", CVM_PLACE_PIN, 4, CVM_FALLBACK_NONE, 3);
	assert_int_equal(cvm_placer_nr_events(f->pl), 1);
	assert_int_equal(cvm_placer_event(f->pl, 0)->cause, CVM_CAUSE_START);

	offline(f, 2);
	assert_int_equal(vcpu_cpu(f, 2), 6);
	assert_true(cvm_bit_test(f->act.reaffine, 2));
	assert_int_equal(cvm_bitmap_weight(f->act.reaffine, CVM_MAX_VCPUS), 1);
	assert_true(f->act.housekeeping); /* cpu 6 was a housekeeping CPU */
	const struct cvm_place_event *e = last(f);
	assert_int_equal(e->cause, CVM_CAUSE_CPU_OFFLINE);
	assert_int_equal(e->cpu, 2);
	assert_int_equal(e->nr_moved, 1);
	assert_int_equal(e->moves[0].vcpu, 2);
	assert_int_equal(e->moves[0].from, 2);
	assert_int_equal(e->moves[0].to, 6);
	assert_string_equal(e->note, "cpu 2 offline: 1 vCPU re-placed");

	offline(f, 2); /* repeated: ignored, nothing logged */
	assert_false(f->act.logged);
	assert_int_equal(f->pl->ignored, 1);

	uint64_t tok = online(f, 2);
	assert_true(tok != 0);
	assert_true(cvm_bit_test(f->pl->pending, 2)); /* not used before its probe passes */
	assert_false(cvm_bit_test(f->pl->cur.housekeeping, 2));
	assert_int_equal(online(f, 2), 0); /* repeated online while probing: ignored */
	probed(f, 2, tok, CVM_PROBE_PASS);
	assert_false(cvm_bit_test(f->pl->pending, 2));
	assert_int_equal(vcpu_cpu(f, 2), 6); /* no move needed */
	assert_true(cvm_bit_test(f->pl->cur.housekeeping, 2));
	assert_true(f->act.housekeeping);
	assert_int_equal(last(f)->cause, CVM_CAUSE_CPU_ONLINE);
	assert_string_equal(last(f)->note, "cpu 2 online, probe passed: test: no vCPU moved");

	/* CPUs the VM may never use (outside --host-cpus) are not probed. */
	f->pl->req.host_cpus_given = true;
	cpus(f->pl->req.host_cpus, "0-6");
	offline(f, 7);
	assert_int_equal(online(f, 7), 0);
	assert_int_equal(cvm_placer_cpu_online(f->pl, 4000, 0, &f->act), -ERANGE);
	assert_int_equal(cvm_placer_cpu_offline(f->pl, 40, 0, &f->act), -ERANGE);
	fix_free(f);
}

static void test_probe_fail_and_flapping(void **state)
{
	struct fix *f = fix_new("1s4c2t", CVM_PLACE_PIN, 4, CVM_FALLBACK_NONE, 3);
	offline(f, 3);
	assert_int_equal(vcpu_cpu(f, 3), 7);

	uint64_t t1 = online(f, 3);
	offline(f, 3); /* while its probe is in flight */
	assert_int_equal(last(f)->cause, CVM_CAUSE_CPU_OFFLINE);
	assert_non_null(strstr(last(f)->note, "while its probe ran"));
	uint64_t t2 = online(f, 3);
	assert_true(t2 != t1);
	unsigned int events = cvm_placer_nr_events(f->pl);
	probed(f, 3, t1, CVM_PROBE_PASS); /* stale result of the first probe */
	assert_int_equal(cvm_placer_nr_events(f->pl), events);
	assert_true(cvm_bit_test(f->pl->pending, 3));
	assert_int_equal(f->pl->ignored, 1);

	probed(f, 3, t2, CVM_PROBE_FAIL);
	assert_true(cvm_bit_test(f->pl->quarantined, 3));
	assert_int_equal(f->pl->quarantine_cause[3], CVM_CAUSE_PROBE_FAILED);
	assert_int_equal(last(f)->cause, CVM_CAUSE_PROBE_FAILED);
	assert_string_equal(last(f)->note,
	                    "cpu 3 failed its probe (test); quarantined: no vCPU moved");

	/* The quarantine holds across offline/online cycles: no probe, never used. */
	for (int i = 0; i < 5; i++) {
		offline(f, 3);
		assert_int_equal(online(f, 3), 0);
		assert_int_equal(last(f)->cause, CVM_CAUSE_QUARANTINE);
		assert_string_equal(last(f)->note,
		                    "cpu 3 online again: stays quarantined, never used");
	}
	probed(f, 3, t2, CVM_PROBE_PASS); /* a late result cannot lift it */
	assert_true(cvm_bit_test(f->pl->quarantined, 3));

	/* No verdict: not admitted until the CPU cycles. */
	offline(f, 1);
	uint64_t t3 = online(f, 1);
	probed(f, 1, t3, CVM_PROBE_VOID);
	assert_true(cvm_bit_test(f->pl->pending, 1));
	assert_non_null(strstr(last(f)->note, "not admitted"));
	assert_int_equal(online(f, 1), 0);
	offline(f, 1);
	uint64_t t4 = online(f, 1);
	assert_true(t4 != 0);
	probed(f, 1, t4, CVM_PROBE_PASS);
	assert_false(cvm_bit_test(f->pl->pending, 1));

	/* Rapid flapping of many CPUs, probes answered out of order. */
	uint64_t tok[8] = {0};
	for (int round = 0; round < 20; round++) {
		for (unsigned int c = 4; c < 8; c++) {
			if (round % 2)
				tok[c] = online(f, c);
			else
				offline(f, c);
		}
		for (unsigned int c = 7; c >= 4; c--)
			if (tok[c])
				probed(f, c, tok[c],
				       (round + c) % 3 ? CVM_PROBE_PASS : CVM_PROBE_FAIL);
	}
	assert_false(f->pl->failed);
	fix_free(f);
}

static void test_entry_failures(void **state)
{
	struct fix *f = fix_new("1s4c2t", CVM_PLACE_PIN, 2, CVM_FALLBACK_NONE, 2);
	assert_int_equal(cvm_placer_entry_failure(f->pl, 0, 0, "KVM_EXIT_FAIL_ENTRY", 1, &f->act),
	                 0);
	invariants(f);
	assert_true(cvm_bit_test(f->pl->quarantined, 0));
	assert_int_equal(f->pl->quarantine_cause[0], CVM_CAUSE_ENTRY_FAILURE);
	assert_true(cvm_bit_test(f->act.reaffine, 0));
	assert_int_equal(vcpu_cpu(f, 0), 4); /* its core's other thread: a free core */
	assert_string_equal(last(f)->note,
	                    "vcpu 0: guest entry failed on cpu 0 (KVM_EXIT_FAIL_ENTRY); "
	                    "quarantined: 1 vCPU re-placed");
	assert_int_equal(last(f)->vcpu, 0);

	assert_int_equal(cvm_placer_entry_failure(f->pl, 0, -1, "EIO", 2, &f->act), 0);
	assert_false(f->act.vm_failed);
	assert_non_null(strstr(last(f)->note, "retrying where it is"));

	assert_int_equal(cvm_placer_entry_failure(f->pl, 1, 1, "EIO", 3, &f->act), 0);
	assert_true(f->act.vm_failed);
	assert_true(f->pl->failed);
	assert_string_equal(
	        f->pl->fail_msg,
	        "vcpu 1: guest entry failed on cpu 1 (EIO): 3 guest-entry failures, more "
	        "than the 2 allowed: giving up (when every CPU fails, suspect the vCPU "
	        "state rather than the CPUs)");
	assert_true(last(f)->vm_failed);
	/* A failed placer does nothing more. */
	unsigned int n = cvm_placer_nr_events(f->pl);
	offline(f, 5);
	assert_int_equal(cvm_placer_nr_events(f->pl), n);
	assert_int_equal(cvm_placer_entry_failure(f->pl, 5, 1, "x", 3, &f->act), 0);
	fix_free(f);

	f = fix_new("1s4c2t", CVM_PLACE_PIN, 2, CVM_FALLBACK_NONE, 2);
	assert_int_equal(cvm_placer_entry_failure(f->pl, 2, 1, "x", 3, &f->act), -ERANGE);
	assert_int_equal(cvm_placer_entry_failure(f->pl, 0, 99, "x", 3, &f->act), -ERANGE);
	assert_int_equal(cvm_placer_quarantine(f->pl, 1, "operator", 3, &f->act), 0);
	invariants(f);
	assert_int_equal(vcpu_cpu(f, 1), 5);
	assert_int_equal(cvm_placer_quarantine(f->pl, 1, "again", 3, &f->act), 0);
	assert_false(f->act.logged);
	fix_free(f);
}

static void test_smt_degrade_restore(void **state)
{
	struct fix *f = fix_new("1s4c2t", CVM_PLACE_SMT_PROTECT, 4, CVM_FALLBACK_PIN, 3);
	offline(f, 6);
	assert_true(f->pl->cur.degraded);
	assert_int_equal(f->pl->cur.effective, CVM_PLACE_PIN);
	assert_int_equal(last(f)->nr_moved, 0);
	assert_true(last(f)->degraded);
	assert_non_null(strstr(last(f)->note, "degraded to pin: smt-protect needs 4 whole cores"));
	assert_non_null(strstr(last(f)->note, "core 2 (cpus 2,6) is partly offline"));
	uint64_t tok = online(f, 6);
	assert_true(f->pl->cur.degraded); /* not before the probe passes */
	probed(f, 6, tok, CVM_PROBE_PASS);
	assert_false(f->pl->cur.degraded);
	assert_int_equal(f->pl->cur.effective, CVM_PLACE_SMT_PROTECT);
	assert_non_null(strstr(last(f)->note, "smt-protect restored"));
	fix_free(f);

	f = fix_new("1s4c2t", CVM_PLACE_SMT_PROTECT, 4, CVM_FALLBACK_FAIL, 3);
	offline(f, 6);
	assert_true(f->act.vm_failed);
	assert_true(f->pl->failed);
	assert_string_equal(f->pl->fail_msg,
	                    "smt-protect can no longer be met: smt-protect needs 4 whole cores in "
	                    "host CPUs 0-7 (present, not isolated), found 3: core 2 (cpus 2,6) is "
	                    "partly offline (fallback: fail)");
	assert_true(last(f)->vm_failed);
	fix_free(f);
}

static void test_log_ring(void **state)
{
	struct fix *f = fix_new("nosmt", CVM_PLACE_NONE, 1, CVM_FALLBACK_FAIL, 3);
	for (int i = 0; i < 200; i++) {
		offline(f, 3);
		probed(f, 3, online(f, 3), CVM_PROBE_PASS);
	}
	/* 400 events after START: the ring keeps the latest 256 and counts the rest. */
	assert_int_equal(cvm_placer_nr_events(f->pl), 1 + CVM_PLACER_LOG);
	assert_int_equal(f->pl->log_dropped, 400 - CVM_PLACER_LOG);
	assert_int_equal(cvm_placer_event(f->pl, 0)->cause, CVM_CAUSE_START);
	assert_int_equal(cvm_placer_event(f->pl, 0)->seq, 1);
	assert_int_equal(cvm_placer_event(f->pl, 1)->seq, 2 + 400 - CVM_PLACER_LOG);
	assert_int_equal(last(f)->seq, 401);
	assert_null(cvm_placer_event(f->pl, CVM_PLACER_LOG + 1));
	/* Floating vCPUs get their new CPU set each time. */
	assert_true(cvm_bit_test(f->act.reaffine, 0));
	fix_free(f);
}

static void test_names(void **state)
{
	assert_string_equal(cvm_place_cause_name(CVM_CAUSE_ENTRY_FAILURE), "entry-failure");
	assert_string_equal(cvm_probe_result_name(CVM_PROBE_VOID), "void");
	assert_string_equal(cvm_place_cause_name((enum cvm_place_cause)99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_offline_online),
	        cmocka_unit_test(test_probe_fail_and_flapping),
	        cmocka_unit_test(test_entry_failures),
	        cmocka_unit_test(test_smt_degrade_restore),
	        cmocka_unit_test(test_log_ring),
	        cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
