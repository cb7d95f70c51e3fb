/*
 * bench/idle: the work queue on real KVM (docs/idle-work.md), each figure
 * against a peer measured in the same run, alternating:
 *   (a) kick-to-run latency, p50 and p99: an urgent item for a vCPU spinning
 *       in the guest with interrupts off (submission to its first chunk on
 *       the vCPU's thread), against a bare VM whose thread sits in KVM_RUN on
 *       a `jmp $` and is kicked with immediate_exit + pthread_kill (kick to
 *       KVM_RUN's return on that thread);
 *   (b) idle-work throughput with the guest about 50% idle: items of 20 us
 *       kept queued for a fixed window; items per second, and how much of the
 *       guest's idle time they used;
 *   (c) the guest's progress cost: the same guest's compute-loop rate over a
 *       window with 10,000 idle items submitted at its start, against windows
 *       without.
 * corevm runs with its irqchip (user) and with KVM's (kernel). Prints a
 * Markdown table (bench/README.md keeps one). Targets are not assertions.
 *
 * usage: bench_idle GUEST_DIR [ROUNDS]   (ROUNDS: alternating rounds, default 5)
 * A benchmark, not a test: errors print one line and exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/kvm.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "tests/vmm/iw_harness.h"
#include "vmm/vm_internal.h"
#include "vmm/workq.h"

#define KICKS_PER_BATCH 200
#define ITEM_NS         20000ull /* one idle item's work */
#define IDLE_ITEMS      10000
#define WINDOW_S        3.0 /* (b), (c) */
#define POOL            256 /* (b): idle items kept queued */

static char elf[4096];

static void fail(const char *what)
{
	fprintf(stderr, "bench_idle: %s\n", what);
	exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of v[n], sorting v. */
static double quantile(uint64_t *v, size_t n, double q)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return (double)v[(size_t)(q * (double)(n - 1))];
}

static double median(double *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

static void futex_wait_u32(_Atomic uint32_t *w, uint32_t seen)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

static void futex_wake_u32(_Atomic uint32_t *w)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* ---- the peer of (a): a bare vCPU thread in KVM_RUN, kicked with immediate_exit + pthread_kill ---- */

struct bare {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	uint8_t *mem;
	pthread_t thread;
	_Atomic uint32_t acks;   /* EINTR returns seen by the thread (futex word) */
	_Atomic uint32_t parked; /* 1: the thread waits here instead of entering the guest */
	atomic_bool quit;
	uint64_t t_ret; /* CLOCK_MONOTONIC ns of the last EINTR return, written before acks++ */
};

static void on_sigusr1(int sig)
{
	(void)sig;
}

static void *bare_thread(void *arg)
{
	struct bare *b = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	while (!atomic_load(&b->quit)) {
		uint32_t p = atomic_load(&b->parked);
		int r;
		if (p) {
			futex_wait_u32(&b->parked, p);
			continue;
		}
		r = ioctl(b->vcpu, KVM_RUN, NULL);
		if (r < 0 && errno == EINTR) {
			struct timespec zero = {0, 0};
			b->t_ret = iw_now_ns();
			b->run->immediate_exit = 0;
			while (sigtimedwait(&set, NULL, &zero) >= 0)
				;
			atomic_fetch_add(&b->acks, 1);
			futex_wake_u32(&b->acks);
		} else if (r < 0) {
			fail("bare VM: KVM_RUN failed");
		}
	}
	return NULL;
}

/* A real-mode vCPU on `jmp $` at 0x1000, no irqchip: it never leaves KVM_RUN by itself. */
static void bare_up(struct bare *b)
{
	struct kvm_userspace_memory_region mr = {0};
	struct kvm_sregs sr;
	struct kvm_regs regs = {0};
	struct sigaction sa = {0};
	struct {
		struct kvm_signal_mask hdr;
		uint8_t bits[8];
	} m;
	sigset_t cur;
	int size;

	memset(b, 0, sizeof(*b));
	b->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (b->kvm < 0)
		fail("bare VM: /dev/kvm");
	b->vm = ioctl(b->kvm, KVM_CREATE_VM, 0);
	b->mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->vm < 0 || b->mem == MAP_FAILED)
		fail("bare VM: KVM_CREATE_VM / memory");
	b->mem[0x1000] = 0xeb; /* jmp $ */
	b->mem[0x1001] = 0xfe;
	mr.memory_size = 0x10000;
	mr.userspace_addr = (uintptr_t)b->mem;
	if (ioctl(b->vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
		fail("bare VM: KVM_SET_USER_MEMORY_REGION");
	b->vcpu = ioctl(b->vm, KVM_CREATE_VCPU, 0);
	size = ioctl(b->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (b->vcpu < 0 || size <= 0)
		fail("bare VM: KVM_CREATE_VCPU");
	b->run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, b->vcpu, 0);
	if (b->run == MAP_FAILED || ioctl(b->vcpu, KVM_GET_SREGS, &sr) < 0)
		fail("bare VM: kvm_run / KVM_GET_SREGS");
	sr.cs.base = 0;
	sr.cs.selector = 0;
	regs.rip = 0x1000;
	regs.rflags = 2;
	if (ioctl(b->vcpu, KVM_SET_SREGS, &sr) < 0 || ioctl(b->vcpu, KVM_SET_REGS, &regs) < 0)
		fail("bare VM: KVM_SET_SREGS / KVM_SET_REGS");
	sa.sa_handler = on_sigusr1;
	sigaction(SIGUSR1, &sa, NULL);
	/* Inside KVM_RUN the thread's mask minus SIGUSR1 (corevm does the same with its kick). */
	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	sigdelset(&cur, SIGUSR1);
	m.hdr.len = 8;
	memcpy(m.bits, &cur, 8);
	if (ioctl(b->vcpu, KVM_SET_SIGNAL_MASK, &m) < 0)
		fail("bare VM: KVM_SET_SIGNAL_MASK");
	atomic_store(&b->parked, 1);
	if (pthread_create(&b->thread, NULL, bare_thread, b))
		fail("bare VM: pthread_create");
}

static void bare_park(struct bare *b, bool park)
{
	atomic_store(&b->parked, park);
	futex_wake_u32(&b->parked);
	if (park) { /* a kick brings it out of KVM_RUN to see the flag */
		b->run->immediate_exit = 1;
		pthread_kill(b->thread, SIGUSR1);
	}
}

static void bare_down(struct bare *b)
{
	atomic_store(&b->quit, true);
	bare_park(b, true);
	atomic_store(&b->parked, 0);
	futex_wake_u32(&b->parked);
	b->run->immediate_exit = 1;
	pthread_kill(b->thread, SIGUSR1);
	pthread_join(b->thread, NULL);
	close(b->vcpu);
	close(b->vm);
	close(b->kvm);
}

/* One bare kick: immediate_exit + pthread_kill, then wait for the thread's EINTR. */
static uint64_t bare_kick(struct bare *b)
{
	uint32_t a = atomic_load(&b->acks);
	uint64_t t0 = iw_now_ns();

	b->run->immediate_exit = 1;
	atomic_thread_fence(memory_order_seq_cst);
	pthread_kill(b->thread, SIGUSR1);
	while (atomic_load(&b->acks) == a)
		futex_wait_u32(&b->acks, a);
	return b->t_ret - t0;
}

/* ---- corevm VMs ---- */

static bool up(struct iw_vm *r, enum cvm_irqchip_mode mode, const char *cmdline)
{
	struct iw_opts o = {.ncpus = 1,
	                    .mode = mode,
	                    .cmdline = cmdline,
	                    .ready_mask = 1,
	                    .capacity = IDLE_ITEMS + POOL};

	return iw_up(r, elf, &o);
}

static enum cvm_work_ret urgent_nop(void *arg, const struct cvm_work_ctx *ctx)
{
	(void)arg;
	(void)ctx;
	return CVM_WORK_DONE;
}

/* (a): urgent items on a vCPU spinning with interrupts off, vs the bare kick; both modes. */
static void bench_kick(unsigned int rounds, const enum cvm_irqchip_mode *modes, size_t nmodes)
{
	size_t n = (size_t)rounds * KICKS_PER_BATCH;
	uint64_t *lat[3];
	size_t got[3] = {0};
	struct iw_vm r[2];
	struct bare b;

	for (size_t m = 0; m < 3; m++)
		if (!(lat[m] = calloc(n, sizeof(uint64_t))))
			fail("out of memory");
	for (size_t m = 0; m < nmodes; m++) {
		if (!up(&r[m], modes[m], "mode=spin"))
			fail("corevm VM did not come up");
		cvm_vm_vcpu_pause(r[m].vm, 0);
	}
	bare_up(&b);
	for (unsigned int round = 0; round < rounds; round++) {
		for (size_t m = 0; m < nmodes; m++) { /* corevm, one mode at a time */
			struct cvm_work w;
			cvm_vm_vcpu_resume(r[m].vm, 0);
			for (unsigned int k = 0; k < KICKS_PER_BATCH; k++) {
				while (cvm_vm_vcpu_state(r[m].vm, 0) != CVM_VS_IN_GUEST)
					sched_yield();
				cvm_work_init(&w, CVM_WORK_URGENT, urgent_nop, NULL);
				w.vcpu = 0;
				if (cvm_work_submit(r[m].vm, &w) ||
				    cvm_work_wait(&w, 60000000000ull))
					fail("an urgent item did not run");
				lat[m][got[m]++] = w.kick_to_run_ns;
			}
			cvm_vm_vcpu_pause(r[m].vm, 0);
			while (cvm_vm_vcpu_state(r[m].vm, 0) != CVM_VS_PAUSED)
				sched_yield();
		}
		bare_park(&b, false);
		for (unsigned int k = 0; k < KICKS_PER_BATCH; k++) {
			struct timespec settle = {0, 20000}; /* let it re-enter the guest */
			nanosleep(&settle, NULL);
			lat[2][got[2]++] = bare_kick(&b);
		}
		bare_park(&b, true);
	}
	bare_down(&b);
	for (size_t m = 0; m < nmodes; m++)
		iw_down(&r[m]);
	{
		double bp50 = quantile(lat[2], got[2], 0.5), bp99 = quantile(lat[2], got[2], 0.99);
		for (size_t m = 0; m < nmodes; m++) {
			double p50 = quantile(lat[m], got[m], 0.5),
			       p99 = quantile(lat[m], got[m], 0.99);
			printf("| (a) kick to run, p50 | %s | %.1f | %.1f | %.2fx |\n",
			       cvm_irqchip_mode_name(modes[m]), p50 / 1e3, bp50 / 1e3, p50 / bp50);
			printf("| (a) kick to run, p99 | %s | %.1f | %.1f | %.2fx |\n",
			       cvm_irqchip_mode_name(modes[m]), p99 / 1e3, bp99 / 1e3, p99 / bp99);
		}
		printf("|   (%zu kicks each; peer: bare immediate_exit + pthread_kill to KVM_RUN's "
		       "return) | | | | |\n",
		       got[2]);
	}
	for (size_t m = 0; m < 3; m++)
		free(lat[m]);
}

/* ---- (b) and (c): idle items on a guest about 50% idle ---- */

static void spin_ns(uint64_t ns)
{
	uint64_t end = iw_now_ns() + ns;

	while (iw_now_ns() < end)
		;
}

struct pool;

struct pitem {
	struct cvm_work w;
	struct pool *p;
};

struct pool {
	struct cvm_vm *vm;
	atomic_bool resubmit;
	atomic_uint done;
	struct pitem it[IDLE_ITEMS];
};

static enum cvm_work_ret idle_fn(void *arg, const struct cvm_work_ctx *ctx)
{
	(void)arg;
	(void)ctx;
	spin_ns(ITEM_NS);
	return CVM_WORK_DONE;
}

/* Counts a completed item and, for (b), queues it again at once. */
static void pool_done(void *arg, int status)
{
	struct pitem *it = arg;

	if (status != 0)
		return;
	atomic_fetch_add(&it->p->done, 1);
	if (atomic_load(&it->p->resubmit))
		__cvm_work_submit(it->p->vm, &it->w);
}

static void pool_submit(struct pool *p, unsigned int n, bool resubmit)
{
	atomic_store(&p->done, 0);
	atomic_store(&p->resubmit, resubmit);
	for (unsigned int i = 0; i < n; i++) {
		struct pitem *it = &p->it[i];
		it->p = p;
		cvm_work_init(&it->w, CVM_WORK_IDLE, idle_fn, it);
		it->w.done = pool_done;
		it->w.budget_ns = 2 * ITEM_NS;
		if (__cvm_work_submit(p->vm, &it->w))
			fail("an idle item was refused");
	}
}

static void sleep_s(double s)
{
	struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	nanosleep(&t, NULL);
}

struct window {
	double progress_per_s; /* guest compute-loop turns per second */
	double idle_frac;      /* guest idle (halted) share of the window */
	double items_per_s;    /* idle items completed per second */
	double used_frac;      /* idle work time / halted time */
	double all_done_s;     /* (c): when the 10,000 items had all run; -1: not within it */
};

/* Halted time of the VM (corevm's asleep time, or KVM's for its own halts), from --stats. */
static double halted_ns(struct json_object *st, enum cvm_irqchip_mode mode)
{
	struct json_object *vm, *work, *x;
	double v = 0;

	if (!json_object_object_get_ex(st, "vm", &vm) ||
	    !json_object_object_get_ex(vm, "work", &work))
		return 0;
	if (json_object_object_get_ex(work, "vcpu_asleep_ns", &x))
		v += (double)json_object_get_int64(x);
	if (mode != CVM_IRQCHIP_USER &&
	    json_object_object_get_ex(work, "vcpu_halted_in_kvm_ns", &x))
		v += (double)json_object_get_int64(x);
	return v;
}

static double work_ns(struct json_object *st)
{
	struct json_object *vm, *work, *x;

	return json_object_object_get_ex(st, "vm", &vm) &&
	                       json_object_object_get_ex(vm, "work", &work) &&
	                       json_object_object_get_ex(work, "vcpu_idle_work_ns", &x)
	               ? (double)json_object_get_int64(x)
	               : 0;
}

/*
 * One window of WINDOW_S on a fresh VM running `cmdline`: `items` idle items
 * at its start (resubmitted as they finish when `keep`), or none.
 */
static struct window run_window(enum cvm_irqchip_mode mode, const char *cmdline, unsigned int items,
                                bool keep, struct pool *p)
{
	struct iw_vm r;
	struct window w = {0};
	uint64_t p0, t0, t1, done_at = 0;
	struct json_object *st;

	if (!up(&r, mode, cmdline))
		fail("corevm VM did not come up");
	p->vm = r.vm;
	sleep_s(0.1); /* past the start */
	p0 = iw_read(&r.sh->progress[0]);
	t0 = iw_now_ns();
	if (items)
		pool_submit(p, items, keep);
	while ((t1 = iw_now_ns()) < t0 + (uint64_t)(WINDOW_S * 1e9)) {
		sleep_s(0.005);
		if (items && !keep && !done_at && atomic_load(&p->done) == items)
			done_at = iw_now_ns();
	}
	w.progress_per_s = (double)(iw_read(&r.sh->progress[0]) - p0) / ((double)(t1 - t0) / 1e9);
	atomic_store(&p->resubmit, false);
	w.items_per_s = (double)atomic_load(&p->done) / ((double)(t1 - t0) / 1e9);
	w.all_done_s = done_at ? (double)(done_at - t0) / 1e9 : -1;
	st = NULL;
	cvm_vm_request_end(r.vm, CVM_EXIT_OK, "bench done");
	r.status = cvm_vm_join(r.vm);
	r.running = false;
	st = cvm_vm_stats_json(r.vm);
	{
		struct json_object *vm, *wall;
		double wall_ns = json_object_object_get_ex(st, "vm", &vm) &&
		                                 json_object_object_get_ex(vm, "wall_ns", &wall)
		                         ? (double)json_object_get_int64(wall)
		                         : 1;
		double h = halted_ns(st, mode);
		w.idle_frac = h / wall_ns;
		w.used_frac = h > 0 ? work_ns(st) / h : 0;
	}
	json_object_put(st);
	iw_down(&r);
	return w;
}

/* The guest's HLT length (TSC ticks) that makes it about 50% idle with `work` turns (user). */
static unsigned long long calibrate(unsigned long long work, struct pool *p)
{
	unsigned long long sleep = 1000000;
	char cl[128];

	for (int i = 0; i < 4; i++) {
		struct window w;
		snprintf(cl, sizeof(cl), "mode=cycle work=%llu sleep=%llu", work, sleep);
		w = run_window(CVM_IRQCHIP_USER, cl, 0, false, p);
		if (w.idle_frac <= 0.01 || w.idle_frac >= 0.99)
			break;
		if (w.idle_frac > 0.45 && w.idle_frac < 0.55)
			break;
		/* idle time per cycle scales with the HLT length (plus a fixed wake-up cost) */
		sleep = (unsigned long long)((double)sleep * (1 - w.idle_frac) / w.idle_frac);
		if (sleep < 10000)
			sleep = 10000;
	}
	return sleep;
}

static void bench_idle_work(unsigned int rounds, const enum cvm_irqchip_mode *modes, size_t nmodes)
{
	struct pool *p = calloc(1, sizeof(*p));
	unsigned long long work = 300, sleep;
	char cl[128];

	if (!p)
		fail("out of memory");
	sleep = calibrate(work, p);
	snprintf(cl, sizeof(cl), "mode=cycle work=%llu sleep=%llu", work, sleep);
	for (size_t m = 0; m < nmodes; m++) {
		double base[16], with[16], thr[16], used[16], idle[16], done_s[16];
		unsigned int n = rounds > 16 ? 16 : rounds, late = 0;
		for (unsigned int i = 0; i < n; i++) {
			struct window a = run_window(modes[m], cl, 0, false, p);
			struct window b = run_window(modes[m], cl, IDLE_ITEMS, false, p);
			struct window c = run_window(modes[m], cl, POOL, true, p);
			base[i] = a.progress_per_s;
			idle[i] = a.idle_frac;
			with[i] = b.progress_per_s;
			done_s[i] = b.all_done_s;
			late += b.all_done_s < 0;
			thr[i] = c.items_per_s;
			used[i] = c.used_frac;
		}
		{
			double mb = median(base, n), mw = median(with, n);
			printf("| (b) idle-work throughput, guest %.0f%% idle | %s | %.0f items/s "
			       "(%.0f%% of halted time) | | |\n",
			       100 * median(idle, n), cvm_irqchip_mode_name(modes[m]),
			       median(thr, n), 100 * median(used, n));
			printf("| (c) guest progress with %d idle items | %s | %.0f turns/s | %.0f "
			       "turns/s | %.3fx |\n",
			       IDLE_ITEMS, cvm_irqchip_mode_name(modes[m]), mw, mb, mw / mb);
			printf("|   (%u of %u windows ran all %d items; median %.2f s of the %.1f s "
			       "window) | | | | |\n",
			       n - late, n, IDLE_ITEMS, median(done_s, n), WINDOW_S);
		}
	}
	printf("|   (guest: %s, %llu ns per item; peer of (c): the same guest without items) "
	       "| | | | |\n",
	       cl, ITEM_NS);
	free(p);
}

int main(int argc, char **argv)
{
	static const enum cvm_irqchip_mode modes[] = {CVM_IRQCHIP_USER, CVM_IRQCHIP_KERNEL};
	unsigned int rounds = argc > 2 ? (unsigned int)strtoul(argv[2], NULL, 10) : 5;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || rounds == 0) {
		fprintf(stderr, "usage: bench_idle GUEST_DIR [ROUNDS]\n");
		return 2;
	}
	snprintf(elf, sizeof(elf), "%s/idlework.elf", argv[1]);
	if (!iw_kvm_usable())
		return 1;
	prctl(PR_SET_TIMERSLACK, 1UL);
	printf("bench/idle: %u alternating rounds, microseconds unless said\n\n", rounds);
	printf("| measurement | corevm irqchip | corevm | peer | corevm/peer |\n");
	printf("| --- | --- | --- | --- | --- |\n");
	bench_kick(rounds * 5, modes, 2);
	bench_idle_work(rounds, modes, 2);
	return 0;
}
