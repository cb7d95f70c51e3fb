/* Unit tests for host/placement.c: each policy on each fixture tree, failures, re-placement with minimal moves, fallback, validation, explanation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "host/placement.h"
#include "host_test.h"

#define WORDS CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)

/* A test's world: a topology, a request, host sets, and two placements. */
struct world {
	struct cvm_host_topology *t;
	struct cvm_place_request rq;
	uint64_t quarantined[WORDS], pending[WORDS], taken[WORDS];
	struct cvm_place_host h;
	struct cvm_placement a, b;
	char err[CVM_PLACE_ERR_LEN];
};

static struct world *world(const char *fixture_name, enum cvm_place_policy policy,
                           unsigned int nr_vcpus)
{
	struct world *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	w->t = read_fixture(fixture_name);
	cvm_place_request_init(&w->rq, policy, nr_vcpus);
	w->h = (struct cvm_place_host){w->t, w->quarantined, w->pending, w->taken};
	return w;
}

static void world_free(struct world *w)
{
	free(w->t);
	free(w);
}

static void host_cpus(struct world *w, const char *list)
{
	w->rq.host_cpus_given = true;
	cpus(w->rq.host_cpus, list);
}

static void assert_valid(struct world *w, const struct cvm_placement *p)
{
	char err[CVM_PLACE_ERR_LEN];
	if (cvm_placement_validate(&w->h, &w->rq, p, err, sizeof(err)))
		fail_msg("invalid placement: %s", err);
}

/* Places into w->a, expecting success, and checks the vCPUs' CPUs ("0,1,2,-1" order by vCPU). */
static void place_ok(struct world *w)
{
	int r = cvm_place(&w->h, &w->rq, &w->a, w->err, sizeof(w->err));
	if (r)
		fail_msg("cvm_place: %d: %s", r, w->err);
	assert_valid(w, &w->a);
}

static void vcpus_are(const struct cvm_placement *p, const char *want)
{
	char got[4096] = "";
	size_t n = 0;
	for (unsigned int i = 0; i < p->nr_vcpus; i++)
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%d", i ? "," : "",
		                      p->vcpu[i].cpu);
	assert_string_equal(got, want);
}

static void place_fails(struct world *w, int want, const char *msg)
{
	int r = cvm_place(&w->h, &w->rq, &w->a, w->err, sizeof(w->err));
	if (r != want || strcmp(w->err, msg))
		fail_msg("want %d '%s'\n got %d '%s'", want, msg, r, w->err);
}

static void test_pin_1s4c2t(void **state)
{
	struct world *w = world("1s4c2t", CVM_PLACE_PIN, 4);
	place_ok(w);
	vcpus_are(&w->a, "0,1,2,3"); /* one per core */
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(w->a.vcpu[i].why, CVM_WHY_FREE_CORE);
	assert_string_equal(list_of(w->a.housekeeping), "4-7");
	assert_false(w->a.housekeeping_shared);
	assert_true(cvm_bitmap_empty(w->a.reserved, CVM_MAX_HOST_CPUS));

	w->rq.nr_vcpus = 6; /* two must share a core: with vCPUs 0 and 1 */
	place_ok(w);
	vcpus_are(&w->a, "0,1,2,3,4,5");
	assert_int_equal(w->a.vcpu[4].why, CVM_WHY_SHARED_CORE);
	assert_int_equal(w->a.vcpu[4].peer, 0);
	assert_int_equal(w->a.vcpu[0].peer, 4);
	assert_int_equal(w->a.vcpu[2].why, CVM_WHY_FREE_CORE);
	assert_string_equal(list_of(w->a.housekeeping), "6-7");

	w->rq.nr_vcpus = 8;
	place_ok(w);
	assert_true(w->a.housekeeping_shared);
	assert_string_equal(list_of(w->a.housekeeping), "0-7");

	w->rq.nr_vcpus = 9;
	place_fails(
	        w, -ENOSPC,
	        "pin needs 9 host CPUs in host CPUs 0-7 (present, not isolated), found 8 usable");
	cvm_bit_set(w->quarantined, 6);
	cvm_topology_set_online(w->t, 7, false);
	w->rq.nr_vcpus = 7;
	place_fails(
	        w, -ENOSPC,
	        "pin needs 7 host CPUs in host CPUs 0-7 (present, not isolated), found 6 usable: "
	        "cpu 6 quarantined, cpu 7 offline");
	host_cpus(w, "0-3");
	w->rq.nr_vcpus = 5;
	place_fails(w, -ENOSPC, "pin needs 5 host CPUs in host CPUs 0-3, found 4 usable");
	world_free(w);
}

static void test_smt_protect_1s4c2t(void **state)
{
	struct world *w = world("1s4c2t", CVM_PLACE_SMT_PROTECT, 3);
	w->rq.cookie_support = 0;
	place_ok(w);
	vcpus_are(&w->a, "0,1,2");
	assert_string_equal(list_of(w->a.reserved), "4-6");
	assert_string_equal(list_of(w->a.housekeeping), "3,7");
	assert_true(w->a.cookies_active);
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(w->a.vcpu[i].why, CVM_WHY_WHOLE_CORE);
		assert_int_equal(w->a.vcpu[i].cookie, i + 1); /* a cookie per vCPU */
	}

	w->rq.nr_vcpus = 4;
	place_ok(w);
	assert_string_equal(list_of(w->a.reserved), "4-7");
	/* No free CPU: corevm's other threads share the vCPUs' CPUs, never the reserved ones. */
	assert_true(w->a.housekeeping_shared);
	assert_string_equal(list_of(w->a.housekeeping), "0-3");

	w->rq.nr_vcpus = 5;
	place_fails(w, -ENOSPC,
	            "smt-protect needs 5 whole cores in host CPUs 0-7 (present, not isolated), "
	            "found 4");

	/* A sibling that went offline while corevm knew it: named. */
	w->rq.nr_vcpus = 4;
	cvm_topology_set_online(w->t, 6, false);
	cvm_topology_finish(w->t);
	place_fails(w, -ENOSPC,
	            "smt-protect needs 4 whole cores in host CPUs 0-7 (present, not isolated), "
	            "found 3: core 2 (cpus 2,6) is partly offline");
	cvm_topology_set_online(w->t, 6, true);
	cvm_bit_set(w->quarantined, 1);
	cvm_bit_set(w->pending, 3);
	host_cpus(w, "0-6");
	place_fails(w, -ENOSPC,
	            "smt-protect needs 4 whole cores in host CPUs 0-6, found 2: core 1 (cpus 1,5): "
	            "cpu 1 quarantined; core 3 (cpus 3,7): cpu 7 not in the host CPUs");
	world_free(w);
}

static void test_holes(void **state)
{
	/* Package 0 has cores 0-7; core 3 is offline entirely, core 5's sibling 21 is offline. */
	struct world *w = world("2s8c2t-holes", CVM_PLACE_SMT_PROTECT, 6);
	w->rq.cookie_support = -EINVAL;
	host_cpus(w, "0-7,16-23");
	place_ok(w);
	vcpus_are(&w->a, "0,1,2,4,6,7");
	assert_false(w->a.cookies_active);
	assert_int_equal(w->a.vcpu[0].cookie, 0);
	assert_string_equal(list_of(w->a.reserved), "16-18,20,22-23");
	assert_string_equal(list_of(w->a.housekeeping), "5");

	w->rq.nr_vcpus = 7;
	place_fails(
	        w, -ENOSPC,
	        "smt-protect needs 7 whole cores in host CPUs 0-7,16-23, found 6: package 0 core "
	        "5 (cpu 5) has 1 of 2 threads known, the others offline; cpus 3,19,21 offline, "
	        "cores unknown");

	/* pin without --host-cpus: the node that fits all vCPUs on free cores, package 0 first. */
	w->rq.host_cpus_given = false;
	w->rq.policy = CVM_PLACE_PIN;
	w->rq.cookies = CVM_COOKIE_OFF;
	w->rq.nr_vcpus = 4;
	place_ok(w);
	vcpus_are(&w->a, "0,1,2,4");
	/* 10 vCPUs fit no node on free cores: the node with most free cores first (node 1: 8). */
	w->rq.nr_vcpus = 10;
	place_ok(w);
	vcpus_are(&w->a, "8,9,10,11,12,13,14,15,0,1");
	/* 23 = 15 free cores + 8 shared */
	w->rq.nr_vcpus = 23;
	place_ok(w);
	unsigned int shared = 0;
	for (unsigned int i = 0; i < 23; i++)
		shared += w->a.vcpu[i].why == CVM_WHY_SHARED_CORE;
	assert_int_equal(shared, 16); /* 8 pairs */
	assert_false(w->a.housekeeping_shared);
	assert_int_equal(cvm_bitmap_weight(w->a.housekeeping, CVM_MAX_HOST_CPUS), 2);
	w->rq.nr_vcpus = 26;
	place_fails(
	        w, -ENOSPC,
	        "pin needs 26 host CPUs in host CPUs 0-31 (present, not isolated), found 25 usable: "
	        "cpus 3,19,21,28-31 offline");
	world_free(w);
}

static void test_nosmt_and_cookies(void **state)
{
	struct world *w = world("nosmt", CVM_PLACE_SMT_PROTECT, 2);
	w->rq.cookie_support = -EINVAL;
	place_ok(w);
	vcpus_are(&w->a, "0,1");
	assert_true(cvm_bitmap_empty(w->a.reserved, CVM_MAX_HOST_CPUS));
	assert_string_equal(list_of(w->a.housekeeping), "2-3");
	assert_false(w->a.cookies_active);

	w->rq.strict = true;
	place_fails(w, -EOPNOTSUPP,
	            "smt-protect with --placement-strict: the kernel has no core scheduling (built "
	            "without CONFIG_SCHED_CORE; prctl PR_SCHED_CORE: EINVAL)");
	w->rq.cookie_support = -ENODEV;
	place_fails(
	        w, -EOPNOTSUPP,
	        "smt-protect with --placement-strict: core scheduling needs SMT and this host has "
	        "none (prctl PR_SCHED_CORE: ENODEV)");
	/* pin wants no cookies: strict does not matter. */
	w->rq.policy = CVM_PLACE_PIN;
	w->rq.cookies = CVM_COOKIE_OFF;
	place_ok(w);

	/* core-sched floats, with cookies per VM or per vCPU. */
	cvm_place_request_init(&w->rq, CVM_PLACE_CORE_SCHED, 3);
	w->rq.cookie_support = 0;
	place_ok(w);
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(w->a.vcpu[i].cpu, -1);
		assert_int_equal(w->a.vcpu[i].cookie, 1);
	}
	assert_string_equal(list_of(w->a.floating), "0-3");
	w->rq.cookies = CVM_COOKIE_VCPU;
	place_ok(w);
	assert_int_equal(w->a.vcpu[2].cookie, 3);
	w->rq.cookie_support = -EINVAL;
	w->rq.strict = true;
	place_fails(w, -EOPNOTSUPP,
	            "core-sched with --placement-strict: the kernel has no core scheduling (built "
	            "without CONFIG_SCHED_CORE; prctl PR_SCHED_CORE: EINVAL)");

	/* none floats over the usable CPUs, more vCPUs than CPUs is fine. */
	cvm_place_request_init(&w->rq, CVM_PLACE_NONE, 9);
	cvm_bit_set(w->quarantined, 2);
	place_ok(w);
	assert_string_equal(list_of(w->a.floating), "0-1,3");
	assert_string_equal(list_of(w->a.housekeeping), "0-1,3");
	uint64_t m[WORDS];
	cvm_placement_vcpu_mask(&w->a, 8, m);
	assert_string_equal(list_of(m), "0-1,3");
	cvm_bit_set(w->quarantined, 0);
	cvm_bit_set(w->quarantined, 1);
	cvm_bit_set(w->quarantined, 3);
	place_fails(w, -ENOSPC,
	            "none needs a usable CPU in host CPUs 0-3 (present, not isolated), found none: "
	            "cpus 0-3 quarantined");

	/* Bad requests. */
	w->rq.nr_vcpus = 0;
	place_fails(w, -EINVAL, "bad placement request (vCPUs must be 1-1024)");
	w->rq.nr_vcpus = 1025;
	place_fails(w, -EINVAL, "bad placement request (vCPUs must be 1-1024)");
	world_free(w);
}

static void test_isolated(void **state)
{
	struct world *w = world("isolated", CVM_PLACE_PIN, 4);
	place_ok(w); /* default: isolated CPUs are left alone */
	vcpus_are(&w->a, "0,1,4,5");
	assert_string_equal(list_of(w->a.allowed), "0-1,4-5");
	host_cpus(w, "0-7"); /* named: vCPUs prefer the isolated cores, housekeeping avoids them */
	w->rq.nr_vcpus = 2;
	place_ok(w);
	vcpus_are(&w->a, "2,3");
	assert_string_equal(list_of(w->a.housekeeping), "0-1,4-5");
	w->rq.nr_vcpus = 3;
	place_ok(w);
	vcpus_are(&w->a, "2,3,0");
	world_free(w);
}

static void test_affinity_and_taken(void **state)
{
	struct world *w = world("1s4c2t", CVM_PLACE_PIN, 2);
	w->rq.affinity_given = true;
	cpus(w->rq.affinity, "0-3");
	cpus(w->taken, "0"); /* another VM's vCPU: its core is not free for us */
	place_ok(w);
	vcpus_are(&w->a, "1,2");
	w->rq.nr_vcpus = 4;
	place_fails(
	        w, -ENOSPC,
	        "pin needs 4 host CPUs in host CPUs 0-7 (present, not isolated), found 3 usable: "
	        "cpu 0 used by another VM, cpus 4-7 outside this process's CPU set");
	world_free(w);
}

static void test_pin_avoids_other_vms(void **state)
{
	struct world *w = world("1s4c2t", CVM_PLACE_PIN, 3);
	cpus(w->taken, "0,5");
	place_ok(w);
	vcpus_are(&w->a, "2,3,4"); /* free cores 2 and 3 first, then a thread of core 0 */
	assert_int_equal(w->a.vcpu[2].why, CVM_WHY_SHARED_CORE);
	assert_int_equal(w->a.vcpu[2].peer, -1); /* with another VM's vCPU */
	world_free(w);
}

static void test_replace_pin(void **state)
{
	struct world *w = world("1s4c2t", CVM_PLACE_PIN, 4);
	place_ok(w);
	/* cpu 2 goes offline: only vCPU 2 moves, to its core's other thread (a free core). */
	cvm_topology_set_online(w->t, 2, false);
	assert_int_equal(cvm_replace(&w->h, &w->rq, &w->a, &w->b, w->err, sizeof(w->err)), 0);
	assert_valid(w, &w->b);
	vcpus_are(&w->b, "0,1,6,3");
	assert_int_equal(w->b.nr_moved, 1);
	assert_true(w->b.vcpu[2].moved);
	assert_int_equal(w->b.vcpu[2].moved_from, 2);
	assert_false(w->b.vcpu[0].moved);
	/* It comes back: nothing needs to move. */
	cvm_topology_set_online(w->t, 2, true);
	assert_int_equal(cvm_replace(&w->h, &w->rq, &w->b, &w->a, w->err, sizeof(w->err)), 0);
	assert_valid(w, &w->a);
	vcpus_are(&w->a, "0,1,6,3");
	assert_int_equal(w->a.nr_moved, 0);
	assert_string_equal(list_of(w->a.housekeeping), "2,4-5,7");

	/* 6 vCPUs, cpu 0 quarantined: vCPU 0 takes a free thread; the rest stay. */
	w->rq.nr_vcpus = 6;
	place_ok(w);
	vcpus_are(&w->a, "0,1,2,3,4,5");
	cvm_bit_set(w->quarantined, 0);
	assert_int_equal(cvm_replace(&w->h, &w->rq, &w->a, &w->b, w->err, sizeof(w->err)), 0);
	assert_valid(w, &w->b);
	vcpus_are(&w->b, "6,1,2,3,4,5");
	assert_int_equal(w->b.nr_moved, 1);

	/* pin with two vCPUs sharing core 0; a new core appears: exactly one vCPU spreads to it. */
	struct world *x = world("1s4c2t", CVM_PLACE_PIN, 4);
	cvm_topology_set_online(x->t, 3, false);
	cvm_topology_set_online(x->t, 7, false);
	host_cpus(x, "0-1,3-5,7");
	place_ok(x);
	vcpus_are(&x->a, "0,1,4,5");
	cvm_topology_set_online(x->t, 3, true);
	assert_int_equal(cvm_replace(&x->h, &x->rq, &x->a, &x->b, x->err, sizeof(x->err)), 0);
	assert_valid(x, &x->b);
	assert_int_equal(x->b.nr_moved, 1);
	vcpus_are(&x->b, "0,1,4,3");
	world_free(x);
	world_free(w);
}

static void test_replace_smt_and_fallback(void **state)
{
	struct world *w = world("1s4c2t", CVM_PLACE_SMT_PROTECT, 2);
	place_ok(w);
	vcpus_are(&w->a, "0,1");
	/* A reserved sibling goes offline: its vCPU moves to a whole core. */
	cvm_topology_set_online(w->t, 5, false);
	assert_int_equal(cvm_replace(&w->h, &w->rq, &w->a, &w->b, w->err, sizeof(w->err)), 0);
	assert_valid(w, &w->b);
	vcpus_are(&w->b, "0,2");
	assert_string_equal(list_of(w->b.reserved), "4,6");
	assert_int_equal(w->b.nr_moved, 1);
	cvm_topology_set_online(w->t, 5, true);

	/* 4 vCPUs need every core: losing one degrades to the fallback. */
	w->rq.nr_vcpus = 4;
	place_ok(w);
	cvm_topology_set_online(w->t, 5, false);
	w->rq.fallback = CVM_FALLBACK_FAIL;
	assert_int_equal(cvm_replace(&w->h, &w->rq, &w->a, &w->b, w->err, sizeof(w->err)), -ENOSPC);
	assert_string_equal(w->err,
	                    "smt-protect can no longer be met: smt-protect needs 4 whole cores "
	                    "in host CPUs 0-7 (present, not isolated), found 3: core 1 (cpus "
	                    "1,5) is partly offline (fallback: fail)");

	w->rq.fallback = CVM_FALLBACK_PIN; /* pin keeps every vCPU where it is */
	assert_int_equal(cvm_replace(&w->h, &w->rq, &w->a, &w->b, w->err, sizeof(w->err)), 0);
	assert_valid(w, &w->b);
	assert_true(w->b.degraded);
	assert_int_equal(w->b.effective, CVM_PLACE_PIN);
	assert_int_equal(w->b.nr_moved, 0);
	vcpus_are(&w->b, "0,1,2,3");
	assert_non_null(strstr(w->b.degraded_why, "core 1 (cpus 1,5) is partly offline"));

	w->rq.fallback = CVM_FALLBACK_NONE; /* none floats */
	assert_int_equal(cvm_replace(&w->h, &w->rq, &w->a, &w->b, w->err, sizeof(w->err)), 0);
	assert_valid(w, &w->b);
	assert_int_equal(w->b.effective, CVM_PLACE_NONE);
	assert_int_equal(w->b.nr_moved, 4);
	assert_string_equal(list_of(w->b.floating), "0-4,6-7");

	/* Back online: smt-protect is restored. */
	cvm_topology_set_online(w->t, 5, true);
	assert_int_equal(cvm_replace(&w->h, &w->rq, &w->b, &w->a, w->err, sizeof(w->err)), 0);
	assert_valid(w, &w->a);
	assert_false(w->a.degraded);
	assert_int_equal(w->a.effective, CVM_PLACE_SMT_PROTECT);
	vcpus_are(&w->a, "0,1,2,3");

	/* Nothing left at all: even the fallback fails. */
	cpus(w->quarantined, "0-7");
	assert_int_equal(cvm_replace(&w->h, &w->rq, &w->a, &w->b, w->err, sizeof(w->err)), -ENOSPC);
	assert_non_null(strstr(w->err, "nor can fallback none: none needs a usable CPU"));

	/* pin's fallback none; none has no fallback. */
	cvm_bitmap_zero(w->quarantined, CVM_MAX_HOST_CPUS);
	cvm_place_request_init(&w->rq, CVM_PLACE_NONE, 2);
	place_ok(w);
	cpus(w->quarantined, "0-7");
	assert_int_equal(cvm_replace(&w->h, &w->rq, &w->a, &w->b, w->err, sizeof(w->err)), -ENOSPC);
	assert_non_null(strstr(w->err, "none can no longer be met"));
	assert_int_equal(cvm_replace(&w->h, &w->rq, &w->a, &w->a, w->err, sizeof(w->err)), -EINVAL);
	world_free(w);
}

/* The validator must catch what it claims to catch. */
static void test_validate_catches(void **state)
{
	struct world *w = world("1s4c2t", CVM_PLACE_PIN, 2);
	place_ok(w);
	char err[CVM_PLACE_ERR_LEN];

	w->b = w->a;
	w->b.vcpu[1].cpu = 0;
	assert_int_equal(cvm_placement_validate(&w->h, &w->rq, &w->b, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "vcpu 1 on cpu 0, which another vCPU has");

	w->b = w->a;
	w->b.vcpu[1].cpu = 4; /* shares core 0 while cores 2 and 3 are free */
	w->b.vcpu[1].core = w->t->cpu[4].core;
	cvm_bitmap_zero(w->b.vcpu_cpus, CVM_MAX_HOST_CPUS);
	cvm_bit_set(w->b.vcpu_cpus, 0);
	cvm_bit_set(w->b.vcpu_cpus, 4);
	assert_int_equal(cvm_placement_validate(&w->h, &w->rq, &w->b, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "vCPUs share core 0 while core 1 is free");

	cvm_bit_set(w->quarantined, 1);
	assert_int_equal(cvm_placement_validate(&w->h, &w->rq, &w->a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "vcpu 1 on cpu 1, which is quarantined");
	cvm_bit_clear(w->quarantined, 1);

	w->b = w->a;
	cvm_bit_set(w->b.housekeeping, 0);
	assert_int_equal(cvm_placement_validate(&w->h, &w->rq, &w->b, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "housekeeping on vCPU CPUs although free CPUs exist");

	cvm_place_request_init(&w->rq, CVM_PLACE_SMT_PROTECT, 2);
	place_ok(w);
	w->b = w->a;
	cvm_bit_set(w->b.housekeeping, 4);
	assert_int_equal(cvm_placement_validate(&w->h, &w->rq, &w->b, err, sizeof(err)), -EINVAL);
	w->b = w->a;
	cvm_bit_clear(w->b.reserved, 5);
	assert_int_equal(cvm_placement_validate(&w->h, &w->rq, &w->b, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "reserved threads are not the vCPU cores' other threads");
	w->b = w->a;
	w->b.vcpu[0].cookie = 7;
	assert_int_equal(cvm_placement_validate(&w->h, &w->rq, &w->b, err, sizeof(err)), -EINVAL);
	w->b = w->a;
	w->b.degraded = true;
	assert_int_equal(cvm_placement_validate(&w->h, &w->rq, &w->b, err, sizeof(err)), -EINVAL);

	cvm_place_request_init(&w->rq, CVM_PLACE_NONE, 2);
	place_ok(w);
	cvm_bit_set(w->quarantined, 3);
	assert_int_equal(cvm_placement_validate(&w->h, &w->rq, &w->a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "floating CPUs are not the usable CPUs");
	world_free(w);
}

static void collect(void *ctx, const char *line)
{
	char *buf = ctx;
	size_t n = strlen(buf);
	snprintf(buf + n, 8192 - n, "%s\n", line);
}

static void test_explain(void **state)
{
	static char text[8192];
	struct world *w = world("1s4c2t", CVM_PLACE_SMT_PROTECT, 2);
	w->rq.cookie_support = -EINVAL;
	cvm_topology_set_online(w->t, 7, false);
	place_ok(w);
	text[0] = '\0';
	cvm_placement_explain(&w->h, &w->rq, &w->a, collect, text);
	assert_string_equal(
	        text,
	        "placement: smt-protect for 2 vCPUs, fallback none\n"
	        "considered: host CPUs 0-7 (present, not isolated)\n"
	        "usable: 0-6; left out: cpu 7 offline\n"
	        "smt: 2 threads per core\n"
	        "vcpu 0: cpu 0 (core 0, node 0): whole core, cpu 4 reserved\n"
	        "vcpu 1: cpu 1 (core 1, node 0): whole core, cpu 5 reserved\n"
	        "housekeeping: cpus 2-3,6 (usable CPUs no vCPU uses)\n"
	        "reserved: cpus 4-5 (siblings of vCPU cores: no corevm thread runs there)\n"
	        "cookies: wanted per vCPU but unavailable: the kernel has no core scheduling (built "
	        "without CONFIG_SCHED_CORE; prctl PR_SCHED_CORE: EINVAL); continuing without\n");

	w->rq.fallback = CVM_FALLBACK_PIN;
	w->rq.nr_vcpus = 3;
	place_ok(w);
	cvm_bit_set(w->quarantined, 2);
	assert_int_equal(cvm_replace(&w->h, &w->rq, &w->a, &w->b, w->err, sizeof(w->err)), 0);
	assert_valid(w, &w->b);
	text[0] = '\0';
	cvm_placement_explain(&w->h, &w->rq, &w->b, collect, text);
	assert_non_null(strstr(text,
	                       "degraded: running as pin (fallback): smt-protect needs 3 whole "
	                       "cores in host CPUs 0-7 (present, not isolated), found 2"));
	if (!strstr(text, "vcpu 2: cpu 6 (core 2, node 0): free core [moved from cpu 2]"))
		fail_msg("%s", text);

	struct world *n = world("nosmt", CVM_PLACE_SMT_PROTECT, 1);
	n->rq.cookie_support = -EINVAL;
	place_ok(n);
	text[0] = '\0';
	cvm_placement_explain(&n->h, &n->rq, &n->a, collect, text);
	assert_non_null(strstr(text, "smt: none on this host (one thread per core): every core is "
	                             "whole, no sibling to reserve\n"));
	world_free(n);
	world_free(w);
}

static void test_big_host(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	w->t = calloc(1, sizeof(*w->t));
	assert_int_equal(cvm_topology_synth(w->t, 2, 64, 2), 0);
	w->h = (struct cvm_place_host){w->t, w->quarantined, w->pending, w->taken};
	cvm_place_request_init(&w->rq, CVM_PLACE_PIN, 512);
	place_fails(w, -ENOSPC,
	            "pin needs 512 host CPUs in host CPUs 0-255 (present, not isolated), found 256 "
	            "usable");
	w->rq.nr_vcpus = 256;
	place_ok(w);
	cvm_place_request_init(&w->rq, CVM_PLACE_SMT_PROTECT, 128);
	place_ok(w);
	assert_true(w->a.housekeeping_shared);
	w->rq.nr_vcpus = 64; /* fits node 0 */
	place_ok(w);
	for (unsigned int i = 0; i < 64; i++)
		assert_int_equal(w->t->cpu[w->a.vcpu[i].cpu].node, 0);
	/* A second VM takes what the first one left (its CPUs and reserved threads taken). */
	cvm_bitmap_or(w->taken, w->a.vcpu_cpus, w->a.reserved, CVM_MAX_HOST_CPUS);
	place_ok(w);
	for (unsigned int i = 0; i < 64; i++)
		assert_int_equal(w->t->cpu[w->a.vcpu[i].cpu].node, 1);
	cvm_bitmap_or(w->taken, w->taken, w->a.vcpu_cpus, CVM_MAX_HOST_CPUS);
	cvm_bitmap_or(w->taken, w->taken, w->a.reserved, CVM_MAX_HOST_CPUS);
	w->rq.nr_vcpus = 1;
	place_fails(
	        w, -ENOSPC,
	        "smt-protect needs 1 whole cores in host CPUs 0-255 (present, not isolated), "
	        "found 0: package 0 core 0 (cpus 0,128): cpus 0,128 used by another VM; package "
	        "0 core 1 (cpus 1,129): cpus 1,129 used by another VM; package 0 core 2 (cpus "
	        "2,130): cpus 2,130 used by another VM; package 0 core 3 (cpus 3,131): cpus 3,131 "
	        "used by another VM; and 124 more");
	free(w->t);
	free(w);
}

static void test_names(void **state)
{
	enum cvm_place_policy p;
	enum cvm_cookie_scope c;
	enum cvm_place_fallback f;
	assert_int_equal(cvm_place_parse_policy("core-sched=vcpu", &p, &c), 0);
	assert_int_equal(p, CVM_PLACE_CORE_SCHED);
	assert_int_equal(c, CVM_COOKIE_VCPU);
	assert_int_equal(cvm_place_parse_policy("core-sched", &p, &c), 0);
	assert_int_equal(c, CVM_COOKIE_VM);
	assert_int_equal(cvm_place_parse_policy("smt-protect", &p, &c), 0);
	assert_int_equal(c, CVM_COOKIE_VCPU);
	assert_int_equal(cvm_place_parse_policy("pin", &p, &c), 0);
	assert_int_equal(c, CVM_COOKIE_OFF);
	assert_int_equal(cvm_place_parse_policy("core-sched=", &p, &c), -EINVAL);
	assert_int_equal(cvm_place_parse_policy("Pin", &p, &c), -EINVAL);
	assert_int_equal(cvm_place_parse_policy(NULL, &p, &c), -EINVAL);
	assert_int_equal(cvm_place_parse_fallback("pin", &f), 0);
	assert_int_equal(f, CVM_FALLBACK_PIN);
	assert_int_equal(cvm_place_parse_fallback("never", &f), -EINVAL);
	assert_string_equal(cvm_place_policy_name(CVM_PLACE_SMT_PROTECT), "smt-protect");
	assert_string_equal(cvm_place_why_name(CVM_WHY_SHARED_CORE), "shared-core");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pin_1s4c2t),
	        cmocka_unit_test(test_smt_protect_1s4c2t),
	        cmocka_unit_test(test_holes),
	        cmocka_unit_test(test_nosmt_and_cookies),
	        cmocka_unit_test(test_isolated),
	        cmocka_unit_test(test_affinity_and_taken),
	        cmocka_unit_test(test_pin_avoids_other_vms),
	        cmocka_unit_test(test_replace_pin),
	        cmocka_unit_test(test_replace_smt_and_fallback),
	        cmocka_unit_test(test_validate_catches),
	        cmocka_unit_test(test_explain),
	        cmocka_unit_test(test_big_host),
	        cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
