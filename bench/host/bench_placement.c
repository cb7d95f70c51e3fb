/* Benchmark of the pure placement code on a large synthetic host: decision, re-placement after an offline, uevent parsing (medians). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/hotplug.h"
#include "host/placement.h"

#define RUNS 101

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, unsigned int n)
{
	qsort(v, n, sizeof(v[0]), cmp);
	return v[n / 2];
}

/* Median time of cvm_place() and of cvm_replace() after the first vCPU's CPU went offline. */
static int bench(const char *name, struct cvm_host_topology *t, enum cvm_place_policy policy,
                 unsigned int nr_vcpus)
{
	static struct cvm_placement a, b;
	uint64_t place[RUNS], replace[RUNS];
	char err[CVM_PLACE_ERR_LEN];
	struct cvm_place_request rq;
	cvm_place_request_init(&rq, policy, nr_vcpus);
	struct cvm_place_host h = {t, NULL, NULL, NULL};
	for (unsigned int i = 0; i < RUNS; i++) {
		uint64_t t0 = now_ns();
		if (cvm_place(&h, &rq, &a, err, sizeof(err))) {
			fprintf(stderr, "bench_placement: %s: %s\n", name, err);
			return 1;
		}
		uint64_t t1 = now_ns();
		unsigned int cpu = a.vcpu[0].cpu >= 0 ? (unsigned int)a.vcpu[0].cpu : 0;
		cvm_topology_set_online(t, cpu, false);
		uint64_t t2 = now_ns();
		int r = cvm_replace(&h, &rq, &a, &b, err, sizeof(err));
		uint64_t t3 = now_ns();
		cvm_topology_set_online(t, cpu, true);
		if (r) {
			fprintf(stderr, "bench_placement: %s: %s\n", name, err);
			return 1;
		}
		place[i] = t1 - t0;
		replace[i] = t3 - t2;
	}
	printf("%-36s place %8.1f us   replace %8.1f us   (moved %u)\n", name,
	       (double)median(place, RUNS) / 1e3, (double)median(replace, RUNS) / 1e3, b.nr_moved);
	return 0;
}

int main(void)
{
	static struct cvm_host_topology t;
	int r = 0;
	cvm_topology_synth(&t, 2, 64, 2);
	printf("host 2 sockets x 64 cores x 2 threads (256 CPUs), medians of %d runs\n", RUNS);
	r |= bench("pin, 256 vCPUs (every CPU)", &t, CVM_PLACE_PIN, 256);
	r |= bench("pin, 128 vCPUs", &t, CVM_PLACE_PIN, 128);
	r |= bench("smt-protect, 64 vCPUs", &t, CVM_PLACE_SMT_PROTECT, 64);
	r |= bench("smt-protect, 128 vCPUs (every core)", &t, CVM_PLACE_SMT_PROTECT, 128);
	r |= bench("none, 512 vCPUs", &t, CVM_PLACE_NONE, 512);

	static const char ev[] = "offline@/devices/system/cpu/cpu17\0ACTION=offline\0"
	                         "DEVPATH=/devices/system/cpu/cpu17\0SUBSYSTEM=cpu\0SEQNUM=4242\0";
	struct cvm_cpu_uevent out;
	const char *why;
	uint64_t t0 = now_ns();
	unsigned int n = 1000000, ok = 0;
	for (unsigned int i = 0; i < n; i++)
		ok += cvm_uevent_parse(ev, sizeof(ev) - 1, 256, &out, &why) == 1;
	uint64_t t1 = now_ns();
	printf("uevent parse: %.0f ns per datagram (%u parsed)\n", (double)(t1 - t0) / n, ok);
	return r;
}
