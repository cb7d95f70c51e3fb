/* The real KVM probe on CPUs that are already online (CPU 0, and CPU 1 through the controller); exits 77 without /dev/kvm. Never changes any CPU's online state. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/cpu_probe.h"
#include "host/place_ctl.h"
#include "host_test.h"

static void test_probe_cpu0(void **state)
{
	cpu_set_t before, after;
	assert_int_equal(sched_getaffinity(0, sizeof(before), &before), 0);
	struct cvm_probe_report rep;
	assert_int_equal(__cvm_cpu_probe_kvm(0, &rep), 0);
	printf("# cpu 0: %s (%s)\n", cvm_probe_result_name(rep.result), rep.detail);
	assert_int_equal(rep.result, CVM_PROBE_PASS);
	assert_string_equal(rep.detail, "KVM_EXIT_IO port 0x80");
	assert_int_equal(sched_getaffinity(0, sizeof(after), &after), 0);
	assert_true(CPU_EQUAL(&before, &after)); /* the thread's CPU set is restored */

	/* A CPU this thread cannot run on gives no verdict: not a failure, no quarantine. */
	assert_int_equal(__cvm_cpu_probe_kvm(CPU_SETSIZE - 1, &rep), 0);
	assert_int_equal(rep.result, CVM_PROBE_VOID);
	assert_int_equal(__cvm_cpu_probe_kvm(CPU_SETSIZE, &rep), -ERANGE);
}

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
	unsigned int cpu;
	uint64_t token;
	struct cvm_probe_report rep;
};

static void on_done(void *ctx, unsigned int cpu, uint64_t token, const struct cvm_probe_report *rep)
{
	struct waiter *w = ctx;
	pthread_mutex_lock(&w->lock);
	w->done++;
	w->cpu = cpu;
	w->token = token;
	w->rep = *rep;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void test_prober_worker(void **state)
{
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, {0}};
	struct cvm_prober p = {.done = on_done, .done_ctx = &w};
	assert_int_equal(cvm_prober_kvm_init(&p), 0);
	assert_int_equal(p.start(&p, 0, 77), 0);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 60;
	pthread_mutex_lock(&w.lock);
	while (!w.done && pthread_cond_timedwait(&w.cond, &w.lock, &until) == 0)
		;
	pthread_mutex_unlock(&w.lock);
	p.stop(&p);
	assert_int_equal(w.done, 1);
	assert_int_equal(w.cpu, 0);
	assert_true(w.token == 77);
	assert_int_equal(w.rep.result, CVM_PROBE_PASS);
}

/*
 * The controller on the real host with the real prober: CPU 1 is reported offline and
 * online again by injected events (its real state never changes), and is admitted only
 * after the KVM probe passed on it.
 */
static void test_ctl_admits_after_probe(void **state)
{
	struct cvm_place_ctl_config cfg = {.sysfs_root = "/sys"};
	cvm_place_request_init(&cfg.req, CVM_PLACE_PIN, 1);
	struct cvm_place_ctl *ctl;
	assert_int_equal(cvm_place_ctl_create(&cfg, &ctl), 0);
	struct cvm_place_ctl_vmm vmm = {0};
	assert_int_equal(cvm_place_ctl_start(ctl, &vmm), 0);
	struct cvm_cpu_uevent off = {.kind = CVM_UEVENT_OFFLINE, .cpu = 1};
	struct cvm_cpu_uevent on = {.kind = CVM_UEVENT_ONLINE, .cpu = 1};
	uint64_t seq = cvm_place_ctl_seq(ctl);
	cvm_place_ctl_cpu_event(ctl, &off);
	assert_int_equal(cvm_place_ctl_wait_seq(ctl, seq + 1, 10000), 0);
	struct cvm_placement *p = calloc(1, sizeof(*p));
	uint64_t pending[CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)];
	cvm_place_ctl_cpu_event(ctl, &on);
	/* The probe result is the next event; until then cpu 1 is not used. */
	cvm_place_ctl_snapshot(ctl, p, NULL, NULL, pending);
	if (cvm_place_ctl_seq(ctl) == seq + 1) {
		assert_true(cvm_bit_test(pending, 1));
		assert_false(cvm_bit_test(p->usable, 1));
	}
	assert_int_equal(cvm_place_ctl_wait_seq(ctl, seq + 2, 60000), 0);
	cvm_place_ctl_snapshot(ctl, p, NULL, NULL, pending);
	assert_false(cvm_bit_test(pending, 1));
	assert_true(cvm_bit_test(p->usable, 1));
	free(p);
	cvm_place_ctl_destroy(ctl);
}

int main(void)
{
	if (access("/dev/kvm", R_OK | W_OK)) {
		printf("skip: /dev/kvm is not usable here (%s); the KVM probe needs it\n",
		       strerror(errno));
		return 77;
	}
	cpu_set_t mine;
	if (sched_getaffinity(0, sizeof(mine), &mine) || !CPU_ISSET(0, &mine) ||
	    !CPU_ISSET(1, &mine)) {
		printf("skip: this process may not run on both cpu 0 and cpu 1\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_probe_cpu0),
	        cmocka_unit_test(test_prober_worker),
	        cmocka_unit_test(test_ctl_admits_after_probe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
