/* bench/core: costs of the pure core's hot paths and the model checker's speed (medians of runs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/apic_bus.h"
#include "core/lapic.h"
#include "model/mc.h"
#include "model/world.h"

#define RUNS 9

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static volatile int sink;

/* One local APIC: accept a fixed edge interrupt, acknowledge it, EOI. */
static double bench_accept_ack_eoi(void)
{
	struct cvm_lapic_config cfg = {.apic_id = 0, .bsp = true};
	struct cvm_lapic a;
	struct cvm_counters c = {0};
	struct cvm_lapic_fx fx;
	double runs[RUNS];
	const unsigned int iters = 2000000;

	cvm_lapic_power_on(&a, &cfg);
	a.svr = 0x1ff;
	for (unsigned int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		for (unsigned int i = 0; i < iters; i++) {
			uint8_t v = (uint8_t)(0x20 + (i & 0xdf));
			cvm_lapic_accept_irq(&a, &c, v, false);
			sink += cvm_lapic_ack(&a, &c);
			sink += cvm_lapic_eoi(&a, &c, &fx);
		}
		runs[r] = (now_ns() - t0) / iters;
	}
	return median(runs, RUNS);
}

static struct cvm_apic_bus bus;
static struct cvm_lapic apics[CVM_APIC_MAX_VCPUS];
static struct cvm_lc lcs[CVM_APIC_MAX_VCPUS];
static struct cvm_counters ctrs[CVM_APIC_MAX_VCPUS];

static void setup_bus(void)
{
	struct cvm_lapic_fx fx;

	cvm_apic_bus_init(&bus, CVM_APIC_MAX_VCPUS);
	for (unsigned int i = 0; i < CVM_APIC_MAX_VCPUS; i++) {
		struct cvm_lapic_config cfg = {
		        .apic_id = i, .bsp = i == 0, .x2apic = true, .vcpu = (uint16_t)i};
		cvm_lapic_power_on(&apics[i], &cfg);
		cvm_lapic_set_base(&apics[i], apics[i].apic_base | CVM_APIC_BASE_EXTD, false, &fx);
		apics[i].svr = 0x1ff;
		cvm_lc_power_on(&lcs[i], i == 0 ? CVM_LC_OPT_BSP : 0);
		cvm_apic_bus_update(&bus, i, &apics[i]);
	}
}

/* Resolution only (`deliver` false), or resolution plus accept + ack + EOI at every target. */
static double bench_broadcast(const struct cvm_apic_msg *m, bool deliver, unsigned int iters,
                              unsigned int *ntargets)
{
	cvm_apic_set set;
	struct cvm_lapic_fx fx;
	double runs[RUNS];
	unsigned int v;

	for (unsigned int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		for (unsigned int i = 0; i < iters; i++) {
			*ntargets = cvm_apic_resolve(&bus, m, NULL, NULL, set);
			if (!deliver)
				continue;
			cvm_bitmap_for_each(v, set, CVM_APIC_MAX_VCPUS)
			{
				cvm_apic_accept(&apics[v], &lcs[v], &ctrs[v], m);
				sink += cvm_lapic_ack(&apics[v], &ctrs[v]);
				sink += cvm_lapic_eoi(&apics[v], &ctrs[v], &fx);
			}
		}
		runs[r] = (now_ns() - t0) / iters;
	}
	return median(runs, RUNS);
}

static void bench_model(const char *name)
{
	static struct w_world w;
	struct mc_model m;
	struct mc_limits lim = {0};
	struct mc_result r;
	double runs[3], t0, states = 0;

	if (w_world_init(&w, w_find_scenario(name), W_MUT_NONE)) {
		fprintf(stderr, "bench_core: scenario %s is missing\n", name);
		exit(1);
	}
	w_model(&w, &m);
	for (unsigned int k = 0; k < 3; k++) {
		t0 = now_ns();
		if (mc_run(&m, &lim, &r)) {
			fprintf(stderr, "bench_core: model checker out of memory\n");
			exit(1);
		}
		runs[k] = (now_ns() - t0) / 1e9;
		states = (double)r.states;
		mc_result_free(&r);
	}
	double s = median(runs, 3);
	printf("%-58s %12.0f states in %.2f s: %.0f states/s\n",
	       "model checker, scenario 'bench' (median of 3)", states, s, states / s);
}

int main(int argc, char **argv)
{
	struct cvm_apic_msg bcast = {.dest = CVM_APIC_BCAST_X2APIC,
	                             .vector = 0x40,
	                             .mode = CVM_DM_FIXED,
	                             .flags = CVM_MSG_X2APIC | CVM_MSG_ASSERT};
	struct cvm_apic_msg unicast = bcast, abs = bcast, logical = bcast;
	unsigned int n;
	double t;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: bench_core (no options)\n");
		return 2;
	}
	printf("bench/core: medians of %d runs, ns per operation\n", RUNS);
	printf("%-58s %8.1f ns\n", "local APIC: accept + ack + EOI (one interrupt)",
	       bench_accept_ack_eoi());

	setup_bus();
	unicast.dest = 777;
	abs.shorthand = CVM_SH_ALL_BUT_SELF;
	abs.src = 5;
	logical.flags |= CVM_MSG_LOGICAL;
	logical.dest = (40u << 16) | 0xffff;
	t = bench_broadcast(&unicast, false, 2000000, &n);
	printf("%-58s %8.1f ns (%u target)\n", "resolve: physical unicast, 1024 x2APIC vCPUs", t,
	       n);
	t = bench_broadcast(&logical, false, 2000000, &n);
	printf("%-58s %8.1f ns (%u targets)\n", "resolve: x2APIC cluster, 16 members", t, n);
	t = bench_broadcast(&bcast, false, 2000000, &n);
	printf("%-58s %8.1f ns (%u targets)\n", "resolve: broadcast 0xFFFFFFFF", t, n);
	t = bench_broadcast(&abs, false, 2000000, &n);
	printf("%-58s %8.1f ns (%u targets)\n", "resolve: all-but-self shorthand", t, n);
	t = bench_broadcast(&bcast, true, 2000, &n);
	printf("%-58s %8.1f ns (%u targets, %.1f ns each)\n",
	       "broadcast IPI: resolve + accept + ack + EOI at every target", t, n, t / n);
	bench_model("bench");
	return sink == 42 ? 3 : 0;
}
