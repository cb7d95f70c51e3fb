/* vCPU-like threads on the real host under --placement pin with 2 vCPUs: each sets its own CPU set from inside the thread and verifies it, and re-applies it on mailbox requests after injected hotplug events (the host's real CPU state never changes). */
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "host/place_ctl.h"
#include "host_test.h"

#define WORDS CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)
#define NR    2

/* A mailbox per thread, as the backend has: requests are counted and answered. */
struct vthread {
	pthread_t thread;
	unsigned int index;
	unsigned int requests, answered;
	int result;     /* of the last apply */
	cpu_set_t seen; /* sched_getaffinity read inside the thread */
	int cpu;        /* sched_getcpu inside the thread after applying */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct cvm_place_ctl *ctl;
	struct vthread t[NR];
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void apply(struct vthread *v)
{
	int r = cvm_place_ctl_vcpu_apply(g.ctl, v->index);
	cpu_set_t seen;
	sched_getaffinity(0, sizeof(seen), &seen);
	int cpu = sched_getcpu();
	pthread_mutex_lock(&g.lock);
	v->result = r;
	v->seen = seen;
	v->cpu = cpu;
	v->answered++;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
}

static void *vcpu_main(void *arg)
{
	struct vthread *v = arg;
	apply(v);
	pthread_mutex_lock(&g.lock);
	for (;;) {
		while (!g.stop && v->answered > v->requests)
			pthread_cond_wait(&g.cond, &g.lock);
		if (g.stop)
			break;
		pthread_mutex_unlock(&g.lock);
		apply(v);
		pthread_mutex_lock(&g.lock);
	}
	pthread_mutex_unlock(&g.lock);
	return NULL;
}

/* The backend's side: post a request to the vCPU's mailbox (the kick is the condvar). */
static void reaffine(void *opaque, unsigned int vcpu)
{
	pthread_mutex_lock(&g.lock);
	g.t[vcpu].requests++;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
}

/* Waits until every thread has answered every request (generous timeout). */
static void settle(void)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 60;
	pthread_mutex_lock(&g.lock);
	for (;;) {
		bool done = true;
		for (int i = 0; i < NR; i++)
			done &= g.t[i].answered == g.t[i].requests + 1;
		if (done)
			break;
		if (pthread_cond_timedwait(&g.cond, &g.lock, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&g.lock);
			fail_msg("vCPU threads did not answer within 60 s");
		}
	}
	pthread_mutex_unlock(&g.lock);
}

/* Each thread's own view of its CPU set equals what the placement gives it. */
static void verify(const char *when)
{
	struct cvm_placement *p = calloc(1, sizeof(*p));
	cvm_place_ctl_snapshot(g.ctl, p, NULL, NULL, NULL);
	for (int i = 0; i < NR; i++) {
		uint64_t want[WORDS];
		cvm_placement_vcpu_mask(p, (unsigned int)i, want);
		pthread_mutex_lock(&g.lock);
		struct vthread v = g.t[i];
		pthread_mutex_unlock(&g.lock);
		if (v.result)
			fail_msg("%s: vcpu %d apply failed: %d", when, i, v.result);
		for (unsigned int cpu = 0; cpu < CPU_SETSIZE; cpu++)
			if ((bool)CPU_ISSET(cpu, &v.seen) != cvm_bit_test(want, cpu))
				fail_msg("%s: vcpu %d sees cpu %u %s, placement has %s", when, i,
				         cpu, CPU_ISSET(cpu, &v.seen) ? "set" : "clear",
				         list_of(want));
		assert_true(cvm_bit_test(want, (unsigned int)v.cpu));
	}
	free(p);
}

/* A prober that passes at once: this test is about the threads (test_cpu_probe_kvm runs KVM). */
static int pass_at_once(struct cvm_prober *pr, unsigned int cpu, uint64_t token)
{
	struct cvm_probe_report rep = {.result = CVM_PROBE_PASS, .detail = "fake"};
	pr->done(pr->done_ctx, cpu, token, &rep);
	return 0;
}

static void test_pin_two_vcpus(void **state)
{
	struct cvm_prober prober = {.start = pass_at_once};
	struct cvm_place_ctl_config cfg = {.sysfs_root = "/sys", .prober = &prober};
	cvm_place_request_init(&cfg.req, CVM_PLACE_PIN, NR);
	assert_int_equal(cvm_place_ctl_create(&cfg, &g.ctl), 0);
	struct cvm_placement *p = calloc(1, sizeof(*p));
	cvm_place_ctl_snapshot(g.ctl, p, NULL, NULL, NULL);
	int c0 = p->vcpu[0].cpu, c1 = p->vcpu[1].cpu;
	assert_true(c0 >= 0 && c1 >= 0 && c0 != c1);

	struct cvm_place_ctl_vmm vmm = {.reaffine_vcpu = reaffine};
	assert_int_equal(cvm_place_ctl_start(g.ctl, &vmm), 0);
	for (int i = 0; i < NR; i++) {
		g.t[i].index = (unsigned int)i;
		assert_int_equal(pthread_create(&g.t[i].thread, NULL, vcpu_main, &g.t[i]), 0);
	}
	settle();
	verify("start");
	assert_int_equal(g.t[0].cpu, c0);
	assert_int_equal(g.t[1].cpu, c1);

	/* vCPU 1's CPU "goes offline": pin cannot hold 2 vCPUs on 1 CPU, fallback none. */
	struct cvm_cpu_uevent off = {.kind = CVM_UEVENT_OFFLINE, .cpu = (unsigned int)c1};
	cvm_place_ctl_cpu_event(g.ctl, &off);
	settle();
	verify("after offline");
	cvm_place_ctl_snapshot(g.ctl, p, NULL, NULL, NULL);
	assert_true(p->degraded);
	assert_int_equal(g.t[1].cpu, c0);
	assert_int_equal(g.t[0].requests, 0); /* its CPU set did not change: left alone */
	assert_int_equal(g.t[1].requests, 1);

	json_object *st = cvm_place_ctl_stats(g.ctl);
	json_object *ev = json_object_object_get(st, "events");
	assert_int_equal(json_object_array_length(ev), 2);
	json_object *e1 = json_object_array_get_idx(ev, 1);
	assert_string_equal(json_object_get_string(json_object_object_get(e1, "cause")),
	                    "cpu-offline");
	assert_true(json_object_get_boolean(json_object_object_get(e1, "degraded")));
	json_object *th = json_object_array_get_idx(json_object_object_get(st, "vcpu_threads"), 1);
	assert_true(json_object_get_boolean(json_object_object_get(th, "verified")));
	assert_int_equal(json_object_get_int(json_object_object_get(th, "applies")), 2);
	json_object_put(st);

	/* It comes back and passes its probe: pin is restored, each thread re-pins itself. */
	struct cvm_cpu_uevent on = {.kind = CVM_UEVENT_ONLINE, .cpu = (unsigned int)c1};
	cvm_place_ctl_cpu_event(g.ctl, &on);
	settle();
	verify("after online");
	cvm_place_ctl_snapshot(g.ctl, p, NULL, NULL, NULL);
	assert_false(p->degraded);
	assert_true(g.t[0].cpu != g.t[1].cpu);
	assert_int_equal(g.t[0].requests, 0);
	assert_int_equal(g.t[1].requests, 2);

	pthread_mutex_lock(&g.lock);
	g.stop = true;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	for (int i = 0; i < NR; i++)
		pthread_join(g.t[i].thread, NULL);
	cvm_place_ctl_destroy(g.ctl);
	free(p);
}

int main(void)
{
	cpu_set_t mine;
	if (sched_getaffinity(0, sizeof(mine), &mine) || CPU_COUNT(&mine) < 2) {
		printf("skip: pinning 2 vCPUs needs 2 CPUs this process may run on\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pin_two_vcpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
