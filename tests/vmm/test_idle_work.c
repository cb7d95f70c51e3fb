/*
 * The work queue, the vCPU state word, kicks and the poll()-able vCPU on real
 * KVM, in process (the test submits work while the VM runs on its own thread):
 * 10,000 idle items on a guest alternating compute and HLT (none runs while its
 * vCPU is in the guest), urgent items on a guest spinning with interrupts off
 * (each within one kick), random kicks against vCPUs cycling between the
 * guest, HLT and corevm (no lost wake-up, no hang), shutdown with items
 * pending, the eventfd's rules (positive and negative), pause and resume.
 *
 * usage: test_idle_work CASE GUEST_DIR IRQCHIP
 * Skips (77) without a usable /dev/kvm. Every wait is bounded by an event count
 * with a generous timeout; nothing asserts on time.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "tests/vmm/iw_harness.h"
#include "vmm/irqchip_user.h"
#include "vmm/vm_internal.h"
#include "vmm/workq.h"

static const char *guest_dir;
static enum cvm_irqchip_mode mode;
static int failures;

#define CHECK(cond, ...)                                            \
	do {                                                        \
		if (!(cond)) {                                      \
			printf("FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__);                        \
			printf("\n");                               \
			failures++;                                 \
		}                                                   \
	} while (0)

#define TIMEOUT 120.0 /* seconds: generous, the machine is shared */

static char elf_path[4096];

static const char *elf(void)
{
	snprintf(elf_path, sizeof(elf_path), "%s/idlework.elf", guest_dir);
	return elf_path;
}

static bool up_efd(struct iw_vm *r, unsigned int ncpus, const char *cmdline, unsigned int cap,
                   uint64_t ready, uint64_t efd_mask)
{
	struct iw_opts o = {.ncpus = ncpus,
	                    .mode = mode,
	                    .cmdline = cmdline,
	                    .capacity = cap,
	                    .ready_mask = ready,
	                    .efd_mask = efd_mask};

	if (iw_up(r, elf(), &o)) {
		/* Items ran confined: every thread class that runs them has its filter in. */
		if (r->vm->seccomp)
			for (int c = 0; c < CVM_THREAD_NCLASSES; c++)
				CHECK(c == CVM_THREAD_UEVENT || c == CVM_THREAD_PROBE ||
				              c == CVM_THREAD_TIMER ||
				              atomic_load(&r->vm->seccomp_rules[c]) > 0,
				      "no %s filter", cvm_thread_class_name(c));
		return true;
	}
	failures++;
	iw_down(r);
	return false;
}

static bool up(struct iw_vm *r, unsigned int ncpus, const char *cmdline, unsigned int cap,
               uint64_t ready)
{
	return up_efd(r, ncpus, cmdline, cap, ready, 0);
}

static bool asleep(enum cvm_vcpu_pub_state s)
{
	return s == CVM_VS_HALTED || s == CVM_VS_WAIT_SIPI || s == CVM_VS_RESET_HOLD ||
	       s == CVM_VS_PAUSED;
}

/*
 * Waits (bounded) for an item on the caller's stack; if it did not complete,
 * takes it back (cancels it, or waits for the chunk running now) so that the
 * queue no longer refers to it when the caller's frame goes. Its status, or
 * -ETIMEDOUT.
 */
static int wait_item(struct cvm_vm *vm, struct cvm_work *w)
{
	int e = cvm_work_wait(w, (uint64_t)(TIMEOUT * 1e9));

	if (e != -ETIMEDOUT)
		return e;
	if (cvm_work_cancel(vm, w) == -EINPROGRESS)
		cvm_work_wait(w, UINT64_MAX / 2);
	return -ETIMEDOUT;
}

/* Ends the VM (the guest has not) and returns its --stats JSON (docs/stats.md); caller frees. */
static struct json_object *end_and_stats(struct iw_vm *r)
{
	cvm_vm_request_end(r->vm, CVM_EXIT_OK, "test done");
	r->status = cvm_vm_join(r->vm);
	r->running = false;
	r->ended = true;
	return cvm_vm_stats_json(r->vm);
}

/* The number at dotted `path` ("vm.work.idle_items_run", "vcpus.0.work"); -1: absent or null. */
static int64_t stat_at(struct json_object *root, const char *path)
{
	char key[64];
	struct json_object *o = root;

	while (o && *path) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, strtoul(key, NULL, 10));
		else if (!json_object_object_get_ex(o, key, &o))
			return -1;
		path += n + (path[n] == '.');
	}
	return o ? json_object_get_int64(o) : -1;
}

/* ---- 10,000 idle items on a guest that alternates compute and HLT ---- */

#define IDLE_ITEMS 10000

struct idle_ctx {
	struct cvm_vm *vm;
	atomic_uint done, bad_state, bad_thread, chunks;
	atomic_uint status_bad;
};

struct idle_item {
	struct cvm_work w;
	struct idle_ctx *c;
	unsigned int want_chunks;
	atomic_uint completions;
};

static enum cvm_work_ret idle_fn(void *arg, const struct cvm_work_ctx *ctx)
{
	struct idle_item *it = arg;
	volatile unsigned int spin = 0;

	if (ctx->vcpu < 0) {
		atomic_fetch_add(&it->c->bad_thread, 1);
	} else if (!asleep(cvm_vm_vcpu_state(ctx->vm, (unsigned int)ctx->vcpu))) {
		atomic_fetch_add(&it->c->bad_state, 1); /* ran while its vCPU was not idle */
	}
	for (unsigned int k = 0; k < 200; k++)
		spin += k; /* a little work: well inside the budget */
	atomic_fetch_add(&it->c->chunks, 1);
	return ctx->chunk + 1 < it->want_chunks ? CVM_WORK_MORE : CVM_WORK_DONE;
}

static void idle_done(void *arg, int status)
{
	struct idle_item *it = arg;

	if (status != 0)
		atomic_fetch_add(&it->c->status_bad, 1);
	atomic_fetch_add(&it->completions, 1);
	atomic_fetch_add(&it->c->done, 1);
}

static bool idle_all_done(void *ctx)
{
	return atomic_load(&((struct idle_ctx *)ctx)->done) == IDLE_ITEMS;
}

static void case_idle_10k(void)
{
	struct iw_vm r;
	struct idle_ctx c = {0};
	struct idle_item *items = calloc(IDLE_ITEMS, sizeof(*items));
	uint64_t cycles0, want_chunks = 0;
	struct json_object *st;

	if (!up(&r, 1, "mode=cycle work=200 sleep=1000000", 16384, 1)) {
		free(items);
		return;
	}
	c.vm = r.vm;
	cycles0 = iw_read(&r.sh->cycles[0]);
	for (unsigned int i = 0; i < IDLE_ITEMS; i++) {
		struct idle_item *it = &items[i];
		it->c = &c;
		it->want_chunks = i % 10 == 0 ? 3 : 1; /* every tenth yields twice */
		want_chunks += it->want_chunks;
		cvm_work_init(&it->w, CVM_WORK_IDLE, idle_fn, it);
		it->w.done = idle_done;
		it->w.budget_ns = 50000;
		CHECK(cvm_work_submit(r.vm, &it->w) == 0, "idle item %u refused", i);
	}
	CHECK(iw_wait(idle_all_done, &c, TIMEOUT), "only %u of %u idle items completed",
	      atomic_load(&c.done), IDLE_ITEMS);
	CHECK(atomic_load(&c.bad_state) == 0, "%u idle chunks ran while their vCPU was not idle",
	      atomic_load(&c.bad_state));
	CHECK(atomic_load(&c.bad_thread) == 0, "%u idle chunks ran off a vCPU thread",
	      atomic_load(&c.bad_thread));
	CHECK(atomic_load(&c.status_bad) == 0, "%u idle items completed with an error",
	      atomic_load(&c.status_bad));
	CHECK(atomic_load(&c.chunks) == want_chunks, "%u chunks ran, want %llu",
	      atomic_load(&c.chunks), (unsigned long long)want_chunks);
	for (unsigned int i = 0; i < IDLE_ITEMS; i++) {
		CHECK(atomic_load(&items[i].completions) == 1, "item %u completed %u times", i,
		      atomic_load(&items[i].completions));
		CHECK(cvm_work_status(&items[i].w) == 0 && items[i].w.ran_on == 0,
		      "item %u: status %d, ran on %d", i, cvm_work_status(&items[i].w),
		      items[i].w.ran_on);
		if (failures > 10)
			break;
	}
	CHECK(iw_read(&r.sh->cycles[0]) > cycles0, "the guest made no HLT cycle meanwhile");
	st = end_and_stats(&r);
	CHECK(stat_at(st, "vm.work.idle.submitted") == IDLE_ITEMS &&
	              stat_at(st, "vm.work.idle.completed") == IDLE_ITEMS &&
	              stat_at(st, "vm.work.idle_items_run") == IDLE_ITEMS &&
	              stat_at(st, "vm.work.idle_chunks") == (int64_t)want_chunks &&
	              stat_at(st, "vcpus.0.work.idle_items") == IDLE_ITEMS,
	      "--stats: idle %lld submitted, %lld completed, %lld run, %lld chunks",
	      (long long)stat_at(st, "vm.work.idle.submitted"),
	      (long long)stat_at(st, "vm.work.idle.completed"),
	      (long long)stat_at(st, "vm.work.idle_items_run"),
	      (long long)stat_at(st, "vm.work.idle_chunks"));
	CHECK(stat_at(st, "vm.work.vcpu_idle_work_ns") > 0 &&
	              stat_at(st, "vm.work.vcpu_asleep_ns") >=
	                      stat_at(st, "vm.work.vcpu_idle_work_ns"),
	      "--stats: %lld ns asleep, %lld ns of idle work",
	      (long long)stat_at(st, "vm.work.vcpu_asleep_ns"),
	      (long long)stat_at(st, "vm.work.vcpu_idle_work_ns"));
	json_object_put(st);
	CHECK(iw_down(&r) == CVM_EXIT_OK, "VM status %d", r.status);
	free(items);
}

/* ---- urgent items on a guest spinning with interrupts off ---- */

#define URGENT_ONE_BY_ONE 300
#define URGENT_BATCH      64

struct urgent_ctx {
	atomic_uint runs, bad_state;
};

static struct urgent_ctx uc;

static enum cvm_work_ret urgent_fn(void *arg, const struct cvm_work_ctx *ctx)
{
	(void)arg;
	enum cvm_vcpu_pub_state s = cvm_vm_vcpu_state(ctx->vm, (unsigned int)ctx->vcpu);

	if (ctx->vcpu < 0 || (s != CVM_VS_IN_VMM && !asleep(s)))
		atomic_fetch_add(&uc.bad_state, 1); /* must run before the vCPU re-enters */
	atomic_fetch_add(&uc.runs, 1);
	return CVM_WORK_DONE;
}

static void case_urgent_spin(void)
{
	struct iw_vm r;
	struct cvm_work w, batch[URGENT_BATCH];
	struct json_object *st;
	uint64_t progress;

	if (!up(&r, 2, "mode=spin", 0, 3))
		return;
	memset(&uc, 0, sizeof(uc));
	for (unsigned int i = 0; i < URGENT_ONE_BY_ONE; i++) {
		cvm_work_init(&w, CVM_WORK_URGENT, urgent_fn, NULL);
		if (i % 2) {
			/*
			 * Every other one names its vCPU, once that vCPU is back in the
			 * guest, which it never leaves by itself: this item needs a kick.
			 */
			w.vcpu = (int)(i / 2 % 2);
			CHECK(iw_wait_state(&r, (unsigned int)w.vcpu, CVM_VS_IN_GUEST, TIMEOUT),
			      "vcpu %d did not re-enter the guest", w.vcpu);
		}
		CHECK(cvm_work_submit(r.vm, &w) == 0, "urgent item %u refused", i);
		CHECK(wait_item(r.vm, &w) == 0, "urgent item %u did not run: lost kick?", i);
		CHECK(w.entries <= 1, "urgent item %u waited for %u guest entries (%u kicks)", i,
		      w.entries, w.kicks);
		CHECK(w.chunks == 1 && w.ran_on >= 0, "urgent item %u: %u chunks on %d", i,
		      w.chunks, w.ran_on);
		CHECK(!(i % 2) || w.kicks >= 1, "urgent item %u ran without its kick", i);
		if (failures > 10)
			break;
	}
	for (unsigned int i = 0; i < URGENT_BATCH; i++) {
		cvm_work_init(&batch[i], CVM_WORK_URGENT, urgent_fn, NULL);
		CHECK(cvm_work_submit(r.vm, &batch[i]) == 0, "batch item %u refused", i);
	}
	for (unsigned int i = 0; i < URGENT_BATCH; i++)
		CHECK(wait_item(r.vm, &batch[i]) == 0 && batch[i].entries <= 1,
		      "batch item %u: status %d, %u guest entries", i, cvm_work_status(&batch[i]),
		      batch[i].entries);
	CHECK(atomic_load(&uc.runs) == URGENT_ONE_BY_ONE + URGENT_BATCH, "%u runs",
	      atomic_load(&uc.runs));
	CHECK(atomic_load(&uc.bad_state) == 0, "%u urgent items ran while in the guest",
	      atomic_load(&uc.bad_state));
	progress = iw_read(&r.sh->progress[0]);
	CHECK(progress > 0, "the guest did not spin");
	st = end_and_stats(&r);
	CHECK(stat_at(st, "vm.work.urgent.completed") == URGENT_ONE_BY_ONE + URGENT_BATCH &&
	              stat_at(st, "vm.work.urgent_items_run") == URGENT_ONE_BY_ONE + URGENT_BATCH &&
	              stat_at(st, "vm.work.urgent_kick_to_run_ns.samples") ==
	                      URGENT_ONE_BY_ONE + URGENT_BATCH,
	      "--stats: urgent %lld completed, %lld run, %lld latency samples",
	      (long long)stat_at(st, "vm.work.urgent.completed"),
	      (long long)stat_at(st, "vm.work.urgent_items_run"),
	      (long long)stat_at(st, "vm.work.urgent_kick_to_run_ns.samples"));
	/* The named items each needed a kick (above); the others may have found a vCPU in corevm. */
	CHECK(stat_at(st, "vm.work.urgent_kicks") >= URGENT_ONE_BY_ONE / 2, "--stats: %lld kicks",
	      (long long)stat_at(st, "vm.work.urgent_kicks"));
	CHECK(stat_at(st, "vm.work.urgent_kick_to_run_ns.p50") > 0 &&
	              stat_at(st, "vm.work.urgent_kick_to_run_ns.p50") <=
	                      stat_at(st, "vm.work.urgent_kick_to_run_ns.p99") &&
	              stat_at(st, "vm.work.urgent_kick_to_run_ns.p99") <=
	                      stat_at(st, "vm.work.urgent_kick_to_run_ns.max"),
	      "--stats: kick-to-run p50 %lld p99 %lld max %lld",
	      (long long)stat_at(st, "vm.work.urgent_kick_to_run_ns.p50"),
	      (long long)stat_at(st, "vm.work.urgent_kick_to_run_ns.p99"),
	      (long long)stat_at(st, "vm.work.urgent_kick_to_run_ns.max"));
	json_object_put(st);
	CHECK(iw_down(&r) == CVM_EXIT_OK, "VM status %d", r.status);
}

/* ---- kicks at random moments against vCPUs cycling between guest, HLT and corevm ---- */

#define STRESS_KICKS_DEFAULT 1000000ull

struct stress_ctx {
	struct iw_vm *r;
	unsigned int cpu;
	atomic_bool *stop;
	uint64_t rounds, seed;
	int fails;
	atomic_uint ran;
	uint64_t seen[CVM_VS_STOPPED + 1]; /* the vCPU's state when each item was submitted */
};

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static enum cvm_work_ret stress_fn(void *arg, const struct cvm_work_ctx *ctx)
{
	struct stress_ctx *s = arg;

	if (ctx->vcpu != (int)s->cpu)
		s->fails++;
	atomic_fetch_add(&s->ran, 1);
	return CVM_WORK_DONE;
}

/*
 * One driver per vCPU, until told to stop: moves its vCPU at random between
 * spinning in the guest (interrupts off: it never leaves by itself), an exit
 * to corevm and a HLT that only an interrupt ends, and in between submits an
 * urgent item for that vCPU at a random moment and waits for it. A lost
 * wake-up shows twice: the item waits for more than one guest entry, or
 * (the vCPU spinning or halted for good) it never runs and the bounded wait
 * fails.
 */
static void *stress_driver(void *arg)
{
	struct stress_ctx *s = arg;
	struct cvm_work w;

	prctl(PR_SET_TIMERSLACK, 1UL);
	while (!atomic_load(s->stop) && !s->fails) {
		uint64_t x = xorshift(&s->seed);
		struct timespec delay = {0, 0};
		switch (x % 6) {
		case 0:
		case 1:
			iw_cmd(s->r, s->cpu, IW_HLT, 0, false);
			break;
		case 2:
			iw_cmd(s->r, s->cpu, IW_OUT, 0, false);
			break;
		case 3:
		case 4:
			iw_pulse(s->r, IDLEWORK_PIN_IRQ(s->cpu)); /* ends a HLT */
			break;
		default:
			break;
		}
		/*
		 * A random moment: 0 to 100 us later (about one kick's round trip), slept
		 * rather than spun so that the vCPU's thread gets a CPU meanwhile.
		 */
		delay.tv_nsec = (long)((x >> 8) % 100000);
		if (delay.tv_nsec > 1000)
			nanosleep(&delay, NULL);
		s->seen[cvm_vm_vcpu_state(s->r->vm, s->cpu)]++;
		cvm_work_init(&w, CVM_WORK_URGENT, stress_fn, s);
		w.vcpu = (int)s->cpu;
		if (cvm_work_submit(s->r->vm, &w) != 0 || wait_item(s->r->vm, &w) != 0 ||
		    w.entries > 1) {
			printf("FAIL: vcpu %u: round %llu: item status %d after %u guest entries "
			       "(state %s): lost wake-up\n",
			       s->cpu, (unsigned long long)s->rounds, cvm_work_status(&w),
			       w.entries,
			       cvm_vcpu_pub_state_name(cvm_vm_vcpu_state(s->r->vm, s->cpu)));
			s->fails++;
			break;
		}
		s->rounds++;
	}
	return NULL;
}

struct storm_ctx {
	struct iw_vm *r;
	uint64_t target, kicks0, seed, sent;
	atomic_bool *stop;
};

static uint64_t kicks_sent(struct iw_vm *r)
{
	uint64_t k = 0;

	for (unsigned int i = 0; i < r->ncpus; i++)
		k += atomic_load(&r->vm->vcpu[i].kicks);
	return k;
}

/*
 * Bare kicks (immediate_exit and the signal, cvm_vcpu_kick()) at random
 * moments, 0 to 16 us apart, at whichever vCPU is in the guest or in corevm,
 * until `target` kicks in all (the drivers' and the storm's) were sent. Not at
 * a sleeping thread: its signals would only pile up in the queue.
 */
static void *kick_storm(void *arg)
{
	struct storm_ctx *c = arg;

	while (kicks_sent(c->r) - c->kicks0 < c->target) {
		uint64_t x = xorshift(&c->seed), until = iw_now_ns() + (x >> 16) % 16000;
		unsigned int i = (unsigned int)(x % c->r->ncpus);
		enum cvm_vcpu_pub_state st = cvm_vm_vcpu_state(c->r->vm, i);
		while (iw_now_ns() < until)
			;
		if (st == CVM_VS_IN_GUEST || st == CVM_VS_IN_VMM) {
			cvm_vcpu_kick(&c->r->vm->vcpu[i]);
			c->sent++;
		} else {
			sched_yield();
		}
	}
	atomic_store(c->stop, true);
	return NULL;
}

static void case_kick_stress(void)
{
	struct iw_vm r;
	struct stress_ctx s[2];
	struct storm_ctx storm;
	atomic_bool stop = false;
	pthread_t t[2], ts;
	const char *env = getenv("IDLEWORK_STRESS_KICKS");
	uint64_t target = env ? strtoull(env, NULL, 0) : STRESS_KICKS_DEFAULT, t0, kicks;
	unsigned int n = 2;

	if (!up(&r, n, "mode=cmd", 0, 1))
		return;
	CHECK(iw_cmd(&r, 0, IW_START_ALL, 0, true), "APs did not start");
	t0 = iw_now_ns();
	memset(&storm, 0, sizeof(storm));
	storm.r = &r;
	storm.target = target;
	storm.kicks0 = kicks_sent(&r);
	storm.seed = 0x2545f4914f6cdd1dull ^ t0;
	storm.stop = &stop;
	for (unsigned int i = 0; i < n; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].r = &r;
		s[i].cpu = i;
		s[i].stop = &stop;
		s[i].seed = 0x9e3779b97f4a7c15ull * (i + 1) ^ t0;
		pthread_create(&t[i], NULL, stress_driver, &s[i]);
	}
	pthread_create(&ts, NULL, kick_storm, &storm);
	for (unsigned int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		if (s[i].fails)
			atomic_store(&stop, true); /* the storm's target may not be reached now */
	}
	if (atomic_load(&stop))
		storm.target = 0;
	pthread_join(ts, NULL);
	kicks = kicks_sent(&r) - storm.kicks0;
	for (unsigned int i = 0; i < n; i++) {
		CHECK(!s[i].fails && s[i].rounds > 0, "vcpu %u: %llu rounds, %d failures", i,
		      (unsigned long long)s[i].rounds, s[i].fails);
		CHECK(atomic_load(&s[i].ran) == s[i].rounds,
		      "vcpu %u: %u items ran for %llu rounds", i, atomic_load(&s[i].ran),
		      (unsigned long long)s[i].rounds);
	}
	CHECK(kicks >= target, "only %llu of %llu kicks sent", (unsigned long long)kicks,
	      (unsigned long long)target);
	printf("kick stress: %llu kicks (%llu bare, the rest for %llu urgent items) in %.1f s\n",
	       (unsigned long long)kicks, (unsigned long long)storm.sent,
	       (unsigned long long)(s[0].rounds + s[1].rounds), (double)(iw_now_ns() - t0) / 1e9);
	for (unsigned int i = 0; i < n; i++) {
		struct cvm_vcpu *v = &r.vm->vcpu[i];
		printf("  vcpu %u: %llu kicks, %llu wake-ups from sleep, %llu KVM_RUN EINTR, %llu "
		       "guest commands, %llu interrupts\n",
		       i, (unsigned long long)atomic_load(&v->kicks),
		       (unsigned long long)atomic_load(&v->wakeups),
		       (unsigned long long)atomic_load(&v->run_eintr),
		       (unsigned long long)iw_read(&r.sh->cycles[i]),
		       (unsigned long long)iw_read(&r.sh->irqs[i]));
		printf("  vcpu %u at submission: %llu in the guest, %llu in corevm, %llu halted\n",
		       i, (unsigned long long)s[i].seen[CVM_VS_IN_GUEST],
		       (unsigned long long)s[i].seen[CVM_VS_IN_VMM],
		       (unsigned long long)s[i].seen[CVM_VS_HALTED]);
	}
	if (getenv("IDLEWORK_DEBUG")) {
		for (unsigned int i = 0; i < n; i++) {
			struct cvm_uvcpu *u = r.vm->vcpu[i].irqchip_data;
			printf("  vcpu %u: state %s cmd %llx ack %llu", i,
			       cvm_vcpu_pub_state_name(cvm_vm_vcpu_state(r.vm, i)),
			       (unsigned long long)iw_read(&r.sh->cmd[i]),
			       (unsigned long long)iw_read(&r.sh->ack[i]));
			if (mode == CVM_IRQCHIP_USER)
				printf(" mp %u irr1 %llx isr1 %llx events %u tpr %x", u->lc.mp,
				       (unsigned long long)u->lapic.irr[1],
				       (unsigned long long)u->lapic.isr[1], atomic_load(&u->events),
				       u->lapic.tpr);
			printf("\n");
		}
	}
	/* No hang: the guest still answers and ends itself (a pulse ends a HLT). */
	CHECK(iw_cmd(&r, 1, IW_SPIN, 0, false), "SPIN");
	iw_pulse(&r, IDLEWORK_PIN_IRQ(1));
	CHECK(iw_cmd(&r, 1, IW_SPIN, 0, true), "vcpu 1 no longer takes commands");
	CHECK(iw_cmd(&r, 0, IW_DONE, 0, false), "DONE");
	iw_pulse(&r, IDLEWORK_PIN_IRQ(0));
	r.status = cvm_vm_join(r.vm);
	r.running = false;
	CHECK(r.status == CVM_EXIT_OK, "the guest did not end by itself: status %d", r.status);
	iw_down(&r);
}

/* ---- shutdown with items pending ---- */

#define SHUT_EACH 40

struct shut_item {
	struct cvm_work w;
	atomic_int status;
	atomic_uint completions;
	atomic_int *gate; /* blockers wait until it is set */
	atomic_int *started;
};

static enum cvm_work_ret shut_fn(void *arg, const struct cvm_work_ctx *ctx)
{
	struct shut_item *it = arg;

	(void)ctx;
	if (it->gate) {
		atomic_store(it->started, 1);
		/* A futex wait: the one way to sleep that every corevm thread's filter allows. */
		while (!atomic_load(it->gate))
			syscall(SYS_futex, (int *)it->gate, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	}
	return CVM_WORK_DONE;
}

static void shut_done(void *arg, int status)
{
	struct shut_item *it = arg;

	atomic_store(&it->status, status);
	atomic_fetch_add(&it->completions, 1);
}

static bool flag_set(void *ctx)
{
	return atomic_load((atomic_int *)ctx) != 0;
}

static void shut_item_init(struct shut_item *it, enum cvm_work_prio p, int vcpu)
{
	memset(it, 0, sizeof(*it));
	atomic_init(&it->status, 1);
	cvm_work_init(&it->w, p, shut_fn, it);
	it->w.vcpu = vcpu;
	it->w.done = shut_done;
}

static void case_shutdown_pending(void)
{
	struct iw_vm r;
	atomic_int gate = 0, u_started = 0, b_started = 0;
	struct shut_item ublock, bblock, urgent[SHUT_EACH], idle[SHUT_EACH], bg[SHUT_EACH], extra,
	        full[8];
	unsigned int cancelled = 0;

	/* Two vCPUs spinning: idle work never finds an idle vCPU. */
	if (!up(&r, 2, "mode=spin", SHUT_EACH + 2, 3))
		return;
	shut_item_init(&ublock, CVM_WORK_URGENT, 0);
	ublock.gate = &gate;
	ublock.started = &u_started;
	shut_item_init(&bblock, CVM_WORK_BACKGROUND, -1);
	bblock.gate = &gate;
	bblock.started = &b_started;
	CHECK(cvm_work_submit(r.vm, &ublock.w) == 0, "urgent blocker refused");
	CHECK(cvm_work_submit(r.vm, &bblock.w) == 0, "background blocker refused");
	CHECK(iw_wait(flag_set, &u_started, TIMEOUT) && iw_wait(flag_set, &b_started, TIMEOUT),
	      "the blockers did not start");
	for (unsigned int i = 0; i < SHUT_EACH; i++) {
		shut_item_init(&urgent[i], CVM_WORK_URGENT, 0); /* behind the blocker on vCPU 0 */
		shut_item_init(&idle[i], CVM_WORK_IDLE, -1);
		shut_item_init(&bg[i], CVM_WORK_BACKGROUND, -1);
		CHECK(cvm_work_submit(r.vm, &urgent[i].w) == 0, "urgent %u refused", i);
		CHECK(cvm_work_submit(r.vm, &idle[i].w) == 0, "idle %u refused", i);
		CHECK(cvm_work_submit(r.vm, &bg[i].w) == 0, "background %u refused", i);
	}
	/* Bounded queues refuse with a clear error; a queued item refuses a second submission. */
	for (unsigned int i = 0; i < 8; i++)
		shut_item_init(&full[i], CVM_WORK_IDLE, -1);
	CHECK(cvm_work_submit(r.vm, &full[0].w) == 0, "idle item within capacity refused");
	CHECK(cvm_work_submit(r.vm, &full[1].w) == 0, "idle item within capacity refused");
	CHECK(cvm_work_submit(r.vm, &full[2].w) == -ENOSPC, "a full idle queue accepted more");
	CHECK(cvm_work_submit(r.vm, &idle[0].w) == -EBUSY, "resubmission of a queued item");
	full[3].w.vcpu = 7;
	CHECK(cvm_work_submit(r.vm, &full[3].w) == -EINVAL, "a vCPU beyond the VM");
	/* Cancel some queued ones: completed at once with -ECANCELED. */
	for (unsigned int i = 0; i < SHUT_EACH; i += 4) {
		CHECK(cvm_work_cancel(r.vm, &idle[i].w) == 0, "cancel idle %u", i);
		CHECK(atomic_load(&idle[i].status) == -ECANCELED, "idle %u: status %d", i,
		      atomic_load(&idle[i].status));
		cancelled++;
	}
	CHECK(cvm_work_cancel(r.vm, &ublock.w) == -EINPROGRESS, "cancel of a running item");
	/* End the VM, then let the blockers finish their one chunk. */
	cvm_vm_request_end(r.vm, CVM_EXIT_OK, "test: shutdown with work pending");
	atomic_store(&gate, 1);
	syscall(SYS_futex, (int *)&gate, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	r.status = cvm_vm_join(r.vm);
	r.running = false;
	CHECK(r.status == CVM_EXIT_OK, "status %d", r.status);
	/* The blockers returned DONE after a cancel request: done (0), once each. */
	CHECK(atomic_load(&ublock.completions) == 1 && atomic_load(&ublock.status) == 0,
	      "urgent blocker: %u completions, status %d", atomic_load(&ublock.completions),
	      atomic_load(&ublock.status));
	CHECK(atomic_load(&bblock.completions) == 1 && atomic_load(&bblock.status) == 0,
	      "background blocker: %u completions, status %d", atomic_load(&bblock.completions),
	      atomic_load(&bblock.status));
	for (unsigned int i = 0; i < SHUT_EACH; i++) {
		struct shut_item *its[3] = {&urgent[i], &idle[i], &bg[i]};
		for (unsigned int k = 0; k < 3; k++) {
			int want = k == 1 && i % 4 == 0 ? -ECANCELED : -ESHUTDOWN;
			CHECK(atomic_load(&its[k]->completions) == 1 &&
			              atomic_load(&its[k]->status) == want &&
			              cvm_work_status(&its[k]->w) == want,
			      "%s item %u: %u completions, status %d, want %d",
			      cvm_work_prio_name((enum cvm_work_prio)its[k]->w.prio), i,
			      atomic_load(&its[k]->completions), atomic_load(&its[k]->status),
			      want);
		}
	}
	for (unsigned int i = 0; i < 2; i++)
		CHECK(atomic_load(&full[i].completions) == 1 &&
		              atomic_load(&full[i].status) == -ESHUTDOWN,
		      "full %u: status %d", i, atomic_load(&full[i].status));
	CHECK(atomic_load(&full[2].completions) == 0, "a refused item completed");
	/* After the end: refused, never queued. */
	shut_item_init(&extra, CVM_WORK_BACKGROUND, -1);
	CHECK(cvm_work_submit(r.vm, &extra.w) == -ESHUTDOWN, "a submission after the end");
	CHECK(cvm_work_wait(&urgent[1].w, 0) == -ESHUTDOWN, "wait on a complete item");
	printf("shutdown: %u cancelled, %u completed -ESHUTDOWN\n", cancelled,
	       3 * SHUT_EACH - cancelled + 2);
	iw_down(&r);
}

/* ---- the eventfd: readable exactly when the rules say ---- */

static bool readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static uint64_t drain_efd(int fd)
{
	uint64_t n = 0;

	return read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n) ? n : 0;
}

/* Expects exactly one signal (after a positive step): readable within the bound, count 1. */
static void expect_one(int fd, const char *what)
{
	uint64_t n;

	CHECK(readable(fd, (int)(TIMEOUT * 1000)), "%s: the eventfd never became readable", what);
	n = drain_efd(fd);
	CHECK(n == 1, "%s: %llu signals, want exactly 1 (an earlier step signalled too)", what,
	      (unsigned long long)n);
}

static enum cvm_work_ret nop_fn(void *arg, const struct cvm_work_ctx *ctx)
{
	(void)arg;
	(void)ctx;
	return CVM_WORK_DONE;
}

/* Runs one item of priority p on vCPU i and waits for it. */
static bool run_item_on(struct iw_vm *r, enum cvm_work_prio p, unsigned int i)
{
	struct cvm_work w;

	cvm_work_init(&w, p, nop_fn, NULL);
	w.vcpu = (int)i;
	return cvm_work_submit(r->vm, &w) == 0 && wait_item(r->vm, &w) == 0 && w.ran_on == (int)i;
}

struct idle_seen_ctx {
	struct iw_vm *r;
	unsigned int i;
	bool seen;
	uint64_t samples0;
};

static bool idle_seen(void *ctx)
{
	struct idle_seen_ctx *c = ctx;

	uint64_t n = cvm_workq_samples(c->r->vm);

	if (!cvm_vm_vcpu_guest_idle(c->r->vm, c->i)) {
		c->seen = false;
		return false;
	}
	if (!c->seen) { /* halted from now on: two more looks of the sampler must pass */
		c->seen = true;
		c->samples0 = n;
	}
	return n >= c->samples0 + 2;
}

/*
 * Until vCPU i is halted as the irqchip shows it: user, asleep in corevm;
 * kernel and split, halted inside KVM and seen so by two looks of the sampler.
 */
static bool settle_halted(struct iw_vm *r, unsigned int i)
{
	struct idle_seen_ctx c = {.r = r, .i = i};

	if (mode == CVM_IRQCHIP_USER)
		return iw_wait_state(r, i, CVM_VS_HALTED, TIMEOUT);
	return iw_wait(idle_seen, &c, TIMEOUT);
}

struct wake_ctx {
	struct cvm_vcpu *v;
	uint64_t w0;
	struct iw_vm *r;
	unsigned int i;
};

/* The vCPU left its sleep at least once since w0 and is asleep again (halted). */
static bool woke_and_slept(void *ctx)
{
	struct wake_ctx *c = ctx;

	return atomic_load(&c->v->wakeups) > c->w0 &&
	       cvm_vm_vcpu_state(c->r->vm, c->i) == CVM_VS_HALTED;
}

static bool ap_ready(void *ctx)
{
	return iw_read(&((struct iw_vm *)ctx)->sh->ready) == 3;
}

static void case_eventfd(void)
{
	struct iw_vm r;
	int efd[2], ep;
	struct epoll_event ev, got[2];
	bool user = mode == CVM_IRQCHIP_USER;

	/* Made before the VM starts: the vCPU filters name them (docs/seccomp.md). */
	if (!up_efd(&r, 2, "mode=cmd", 0, 1, 3))
		return;
	for (unsigned int i = 0; i < 2; i++) {
		efd[i] = r.efd[i];
		CHECK(cvm_vm_vcpu_eventfd(r.vm, i) == efd[i], "eventfd %u asked again: another fd",
		      i);
	}
	CHECK(cvm_vm_vcpu_eventfd(r.vm, 2) == -EINVAL, "eventfd of a vCPU beyond the VM");
	if (!user) /* the AP waits inside KVM_RUN: let the sampler see it blocked */
		CHECK(settle_halted(&r, 1), "the AP is not blocked in KVM");
	/* AP 1 has never run: INIT leaves it waiting for SIPI (no signal); SIPI makes it runnable. */
	CHECK(iw_cmd(&r, 0, IW_INIT, 1, true), "INIT");
	CHECK(!readable(efd[1], 0), "INIT to a waiting AP signalled");
	CHECK(iw_cmd(&r, 0, IW_SIPI, 1, true), "SIPI");
	expect_one(efd[1], "SIPI to the AP");
	CHECK(iw_wait(ap_ready, &r, TIMEOUT), "the AP did not reach its loop");
	/* A halted vCPU (IF=1): work wakes its thread but not the vCPU; an interrupt does. */
	CHECK(iw_cmd(&r, 1, IW_HLT, 0, false), "HLT");
	CHECK(settle_halted(&r, 1), "not halted");
	CHECK(run_item_on(&r, CVM_WORK_URGENT, 1), "urgent item on the halted vCPU");
	CHECK(run_item_on(&r, CVM_WORK_IDLE, 1), "idle item on the halted vCPU");
	iw_pulse(&r, 23); /* a pin the guest left masked: nothing is delivered */
	CHECK(settle_halted(&r, 1), "not halted again after the work");
	CHECK(!readable(efd[1], 0), "work or a masked pin signalled");
	iw_pulse(&r, IDLEWORK_PIN_IRQ(1));
	expect_one(efd[1], "interrupt to the halted vCPU");
	/* Halted with interrupts off: an interrupt does not make it runnable, an NMI does. */
	CHECK(iw_cmd(&r, 1, IW_SPIN, 0, true), "SPIN");
	CHECK(iw_cmd(&r, 1, IW_CLI_HLT, 0, false), "CLI_HLT");
	CHECK(settle_halted(&r, 1), "not halted");
	if (user) {
		struct cvm_vcpu *v = &r.vm->vcpu[1];
		struct wake_ctx wc = {.v = v, .w0 = atomic_load(&v->wakeups), .r = &r, .i = 1};
		iw_pulse(&r, IDLEWORK_PIN_IRQ(1));
		CHECK(iw_wait(woke_and_slept, &wc, TIMEOUT),
		      "the interrupt did not wake the thread");
	} else {
		iw_pulse(&r, IDLEWORK_PIN_IRQ(1)); /* KVM keeps it halted: IF=0 */
		CHECK(settle_halted(&r, 1), "the held interrupt ended the halt");
	}
	CHECK(!readable(efd[1], 0), "an interrupt held by IF=0 signalled");
	iw_pulse(&r, IDLEWORK_PIN_NMI(1));
	expect_one(efd[1], "NMI to the vCPU halted with interrupts off");
	/* Running (spinning, IF=0): an interrupt makes nothing runnable; its HLT then does. */
	if (user) {
		CHECK(iw_cmd(&r, 1, IW_SPIN, 0, true), "SPIN");
		iw_pulse(&r, IDLEWORK_PIN_IRQ(1)); /* held: IF=0 */
		CHECK(run_item_on(&r, CVM_WORK_URGENT, 1) && run_item_on(&r, CVM_WORK_URGENT, 1),
		      "urgent items");
		CHECK(!readable(efd[1], 0), "an interrupt to a running vCPU signalled");
		CHECK(iw_cmd(&r, 1, IW_HLT, 0, true), "HLT with the interrupt pending");
		expect_one(efd[1], "HLT with a deliverable interrupt pending");
	}
	/* epoll over both vCPUs: only the one that woke. */
	ep = epoll_create1(EPOLL_CLOEXEC);
	for (unsigned int i = 0; i < 2; i++) {
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		epoll_ctl(ep, EPOLL_CTL_ADD, efd[i], &ev);
	}
	CHECK(iw_cmd(&r, 0, IW_HLT, 0, false), "BSP HLT");
	CHECK(settle_halted(&r, 0), "BSP not halted");
	iw_pulse(&r, IDLEWORK_PIN_IRQ(0));
	CHECK(epoll_wait(ep, got, 2, (int)(TIMEOUT * 1000)) == 1 && got[0].data.u32 == 0,
	      "epoll: expected vCPU 0 alone");
	CHECK(drain_efd(efd[0]) == 1, "vCPU 0: one signal");
	CHECK(!readable(efd[1], 0), "vCPU 1 signalled too");
	close(ep);
	iw_down(&r);
}

/* ---- pause and resume ---- */

static void case_pause_resume(void)
{
	struct iw_vm r;
	uint64_t p1, p2;

	if (!up(&r, 1, "mode=spin", 0, 1))
		return;
	CHECK(cvm_vm_vcpu_pause(r.vm, 0) == 0, "pause");
	CHECK(iw_wait_state(&r, 0, CVM_VS_PAUSED, TIMEOUT), "not paused");
	p1 = iw_read(&r.sh->progress[0]);
	CHECK(run_item_on(&r, CVM_WORK_URGENT, 0), "urgent item on the paused vCPU");
	CHECK(run_item_on(&r, CVM_WORK_IDLE, 0), "idle item on the paused vCPU");
	p2 = iw_read(&r.sh->progress[0]);
	CHECK(p1 == p2, "the guest ran while paused (%llu -> %llu)", (unsigned long long)p1,
	      (unsigned long long)p2);
	CHECK(cvm_vm_vcpu_state(r.vm, 0) == CVM_VS_PAUSED, "left PAUSED for work");
	CHECK(cvm_vm_vcpu_resume(r.vm, 0) == 0, "resume");
	CHECK(iw_wait_state(&r, 0, CVM_VS_IN_GUEST, TIMEOUT), "not resumed");
	CHECK(cvm_vm_vcpu_pause(r.vm, 5) == -EINVAL, "pause of a vCPU beyond the VM");
	/* With seccomp an eventfd must be asked for before the run: its filter names it. */
	if (r.vm->seccomp)
		CHECK(cvm_vm_vcpu_eventfd(r.vm, 0) == -EBUSY, "an eventfd after the start");
	else
		CHECK(cvm_vm_vcpu_eventfd(r.vm, 0) >= 0, "an eventfd after the start");
	CHECK(iw_down(&r) == CVM_EXIT_OK, "status %d", r.status);
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
        {"idle_10k", case_idle_10k},       {"urgent_spin", case_urgent_spin},
        {"kick_stress", case_kick_stress}, {"shutdown_pending", case_shutdown_pending},
        {"eventfd", case_eventfd},         {"pause_resume", case_pause_resume},
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4) {
		fprintf(stderr, "usage: test_idle_work CASE GUEST_DIR user|split|kernel\n");
		return 2;
	}
	guest_dir = argv[2];
	mode = !strcmp(argv[3], "kernel")  ? CVM_IRQCHIP_KERNEL
	       : !strcmp(argv[3], "split") ? CVM_IRQCHIP_SPLIT
	                                   : CVM_IRQCHIP_USER;
	if (!iw_kvm_usable())
		return 77;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(argv[1], cases[i].name))
			continue;
		cases[i].fn();
		printf("%s %s (%s irqchip)\n", failures ? "FAIL" : "PASS", argv[1], argv[3]);
		return failures ? 1 : 0;
	}
	fprintf(stderr, "unknown case %s\n", argv[1]);
	return 2;
}
