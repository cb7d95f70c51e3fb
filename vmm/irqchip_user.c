/*
 * The `user` irqchip mode: no in-kernel irqchip. Each vCPU owns a local APIC
 * and a lifecycle state of the pure core; every xAPIC access (MMIO), x2APIC,
 * IA32_APIC_BASE and IA32_TSC_DEADLINE access (MSR exits), HLT and interrupt
 * window reaches this file, which applies the core's rules, routes IPIs, and
 * carries out the core's actions on the vCPU's own thread: INIT and SIPI
 * register loads, KVM_INTERRUPT, KVM_NMI, sleeping. docs/irqchip.md.
 */
#include "vmm/irqchip_user.h"
#include "vmm/seccomp_rules.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util/log.h"
#include "vmm/ghcb.h"
#include "vmm/regs_gate.h"
#include "vmm/workq.h"
#include "vmm/x86_regs.h"

#define MSR_IA32_TSC 0x10u

/* KVM_GET_CPUID2 room when reading a vCPU's table back. */
#define CPUID_READ_ENTRIES 512

uint64_t cvm_uchip_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* ---- events, wake-ups, kicks and the deadlock check ---- */

/*
 * Sleeping vCPUs wait on their group's futex word (32 vCPUs per word, one
 * bitset bit each), so that one FUTEX_WAKE_BITSET wakes every sleeping target
 * of a broadcast: the sender issues one syscall per 32 targets instead of one
 * per target, each of which is a point where the woken vCPU may take the
 * sender's CPU (KVM's own kicks all happen inside one exit).
 */
#define SLEEP_GROUP 32u

static _Atomic uint32_t *sleep_word(struct cvm_uchip *c, unsigned int vcpu)
{
	return &c->sleep_seq[vcpu / SLEEP_GROUP];
}

static uint32_t sleep_bit(unsigned int vcpu)
{
	return 1u << (vcpu % SLEEP_GROUP);
}

/* Wake-ups collected while a message is accepted, issued together afterwards. */
struct wake_batch {
	uint32_t groups; /* bit g: sleep_bits[g] is not empty */
	uint32_t sleep_bits[CVM_APIC_MAX_VCPUS / SLEEP_GROUP];
	unsigned int nkick;
	uint16_t kick[CVM_APIC_MAX_VCPUS]; /* in KVM_RUN or about to enter: signal */
};

/*
 * vCPU `v` has something new: set its events flag and, if nobody has done so
 * since it last looked and it is not in the VMM (where it looks again before
 * entering or sleeping), plan its wake-up or kick.
 */
static void wake_add(struct wake_batch *b, struct cvm_vcpu *v)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	int s;

	if (atomic_exchange(&u->events, 1))
		return;
	s = atomic_load(&v->state); /* seq_cst after the exchange: see the header */
	if (cvm_vcpu_state_asleep(s)) {
		unsigned int g = v->index / SLEEP_GROUP;
		/* sleep_bits[g] is valid only once its group is in. */
		if (!(b->groups & (1u << g))) {
			b->groups |= 1u << g;
			b->sleep_bits[g] = 0;
		}
		b->sleep_bits[g] |= sleep_bit(v->index);
	} else if (s == CVM_VCPU_RUNNING) {
		b->kick[b->nkick++] = (uint16_t)v->index;
	}
}

static void futex_wake_bits(_Atomic uint32_t *w, uint32_t bits)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, bits);
}

static void wake_flush(struct cvm_vm *vm, struct wake_batch *b)
{
	struct cvm_uchip *c = cvm_uchip(vm);

	for (uint32_t g = b->groups; g; g &= g - 1) {
		unsigned int i = (unsigned int)__builtin_ctz(g);
		if (vm->probe)
			for (uint32_t bits = b->sleep_bits[i]; bits; bits &= bits - 1)
				__cvm_probe_wake(&vm->vcpu[i * SLEEP_GROUP +
				                           (unsigned int)__builtin_ctz(bits)]);
		/* The bump makes a sleeper that has not reached futex_wait yet return at once. */
		atomic_fetch_add(&c->sleep_seq[i], 1);
		futex_wake_bits(&c->sleep_seq[i], b->sleep_bits[i]);
	}
	for (unsigned int i = 0; i < b->nkick; i++)
		cvm_vcpu_kick(&vm->vcpu[b->kick[i]]);
}

void cvm_uchip_notify(struct cvm_vcpu *v)
{
	struct wake_batch b;

	b.groups = 0;
	b.nkick = 0;
	wake_add(&b, v);
	if (b.groups || b.nkick)
		wake_flush(v->vm, &b);
}

/* Under u->lock: the vCPU is no longer asleep for good. */
static void undead(struct cvm_uchip *c, struct cvm_uvcpu *u)
{
	if (u->dead) {
		u->dead = false;
		atomic_fetch_sub(&c->ndead, 1);
	}
}

/*
 * Every vCPU sleeps where only NMI, SMI, INIT or SIPI could wake it, and no
 * vCPU is left to send one: certain only if no I/O APIC pin can deliver one.
 */
static void check_deadlock(struct cvm_vm *vm)
{
	struct cvm_uchip *c = cvm_uchip(vm);

	if (atomic_load(&c->ndead) != vm->ncpus || cvm_vioapic_can_wake_blocked(&c->ioapic))
		return;
	if (cvm_vm_request_end(vm, CVM_EXIT_GUEST_ERROR, "deadlock"))
		cvm_err("vm",
		        "deadlock: all %u vCPUs are halted with interrupts disabled, wait for "
		        "SIPI or are held (AP reset hold), and nothing can wake them",
		        vm->ncpus);
}

/* Under u->lock, after anything that may change TPR, ISR or IRR. */
static void publish_apr(struct cvm_uvcpu *u)
{
	atomic_store_explicit(&u->apr, cvm_lapic_apr(&u->lapic), memory_order_relaxed);
}

static uint8_t read_apr(void *ctx, unsigned int vcpu)
{
	struct cvm_uchip *c = ctx;

	return atomic_load_explicit(&c->v[vcpu].apr, memory_order_relaxed);
}

/*
 * Publishes vCPU `i`'s routing identity; the caller holds that vCPU's lock
 * (so two publishers of one vCPU cannot cross), never the bus lock.
 */
static void publish_route_locked(struct cvm_uchip *c, unsigned int i)
{
	pthread_rwlock_wrlock(&c->bus_lock);
	cvm_apic_bus_update(&c->bus, i, &c->v[i].lapic);
	pthread_rwlock_unlock(&c->bus_lock);
}

static void publish_route(struct cvm_vcpu *v)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);

	pthread_mutex_lock(&u->lock);
	publish_route_locked(cvm_uchip(v->vm), v->index);
	pthread_mutex_unlock(&u->lock);
}

/* ---- routing: resolve under the read lock, accept per target under its lock ---- */

/*
 * An INIT that leaves an asleep AP in a wait state (wait-for-SIPI, or AP reset
 * hold) needs no wake-up: the AP would only reset its local APIC and sleep
 * again. The sender does that reset here, under the AP's lock, and publishes
 * the reset routing identity; the register load waits for the SIPI, which
 * wakes the AP, whose INIT_RESET action then finds its local APIC reset
 * already (resetting it again changes nothing: a software-disabled APIC
 * accepts no fixed interrupt meanwhile).
 */
static bool init_without_wake(struct cvm_uchip *c, struct cvm_vcpu *t, const struct cvm_apic_msg *m)
{
	struct cvm_uvcpu *u = cvm_uvcpu(t);

	if (m->mode != CVM_DM_INIT || !cvm_lc_waiting(&u->lc) ||
	    !cvm_vcpu_state_asleep(atomic_load(&t->state)))
		return false;
	struct cvm_lapic_fx fx;
	cvm_lapic_init_reset(&u->lapic, &fx);
	if (fx.flags & CVM_FX_ROUTE)
		publish_route_locked(c, t->index);
	/* CVM_FX_TIMER: the timer is stopped; the vCPU re-arms from its deadline when it runs. */
	u->apic_reset_by_sender = true;
	if (!u->dead) { /* asleep until INIT or SIPI: counts for the deadlock check */
		u->dead = true;
		atomic_fetch_add(&c->ndead, 1);
	}
	return true;
}

static void accept_one(struct cvm_vm *vm, unsigned int i, const struct cvm_apic_msg *m,
                       struct wake_batch *b)
{
	struct cvm_uchip *c = cvm_uchip(vm);
	struct cvm_uvcpu *u = &c->v[i];
	enum cvm_disp d;
	bool wake;

	pthread_mutex_lock(&u->lock);
	d = cvm_apic_accept(&u->lapic, &u->lc, &u->ctr, m);
	if (m->src != CVM_APIC_SRC_NONE)
		u->ipis_received++;
	wake = d == CVM_DISP_ACCEPTED && !init_without_wake(c, &vm->vcpu[i], m);
	if (wake)
		undead(c, u);
	publish_apr(u);
	pthread_mutex_unlock(&u->lock);
	if (wake)
		wake_add(b, &vm->vcpu[i]);
}

/*
 * Delivers message `m` (an IPI from vCPU m->src, or an I/O APIC message).
 * SMIs are dropped and counted: this KVM has no SMM, and KVM would run RSM
 * without telling corevm, so the core could never leave SMM (docs/irqchip.md).
 */
static void route(struct cvm_vm *vm, const struct cvm_apic_msg *m)
{
	struct cvm_uchip *c = cvm_uchip(vm);
	struct wake_batch b;
	cvm_apic_set t;
	unsigned int i;

	if (m->mode == CVM_DM_SMI) {
		if (m->src < vm->ncpus)
			vm->vcpu[m->src].stats.smi_dropped++; /* the sender's own thread */
		return;
	}
	pthread_rwlock_rdlock(&c->bus_lock);
	i = cvm_apic_resolve(&c->bus, m, read_apr, c, t);
	pthread_rwlock_unlock(&c->bus_lock);
	if (!i)
		return;
	b.groups = 0;
	b.nkick = 0;
	cvm_bitmap_for_each(i, t, vm->ncpus) accept_one(vm, i, m, &b);
	wake_flush(vm, &b);
}

static void ioapic_deliver(void *ctx, const struct cvm_apic_msg *m)
{
	route(ctx, m);
}

/* Carries out a register access's side effects (no vCPU lock held). */
static void do_fx(struct cvm_vcpu *v, const struct cvm_lapic_fx *fx)
{
	if (fx->flags & CVM_FX_IPI) {
		v->stats.ipis++;
		route(v->vm, &fx->ipi);
	}
	if (fx->flags & CVM_FX_LOCAL) {
		struct wake_batch b = {.groups = 0, .nkick = 0};
		accept_one(v->vm, v->index, &fx->local,
		           &b); /* to itself: it looks before entering */
	}
	if (fx->flags & CVM_FX_EOI)
		cvm_vioapic_eoi(&cvm_uchip(v->vm)->ioapic, fx->eoi_vector);
	if (fx->flags & CVM_FX_ROUTE)
		publish_route(v);
	/* Timer, priorities, EOI: whatever changed, look again before entering. */
	v->reeval = true;
}

/* ---- carrying out actions on the vCPU's own thread ---- */

/* Ends the VM after a KVM call on the exit path failed (cannot happen unless KVM misbehaves). */
static void kvm_failed(struct cvm_vcpu *v, const char *what, int e)
{
	char why[64];

	snprintf(why, sizeof(why), "%s failed on vcpu %u", what, v->index);
	if (cvm_vm_request_end(v->vm, CVM_EXIT_FAILURE, why))
		cvm_err("kvm", "%s on vcpu %u: %s", what, v->index, strerror(-e));
}

/*
 * Hands the register image in u->regs to KVM, lazily: an AP between INIT and
 * SIPI never runs, so the INIT state and the SIPI entry state are loaded once,
 * by flush_regs() right before the next KVM_RUN. General and special
 * registers and the event state ride on KVM_RUN itself (KVM_CAP_SYNC_REGS: no
 * ioctl); the debug registers take KVM_SET_DEBUGREGS. Without
 * KVM_CAP_SYNC_REGS every part takes an ioctl.
 */
static void stage_regs(struct cvm_vcpu *v)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	struct kvm_run *run = v->run;

	u->regs.cr8 = 0;
	u->regs_dirty = true;
	/* The last exit's view of the guest no longer holds: IF is 0 in both states. */
	run->if_flag = 0;
	run->ready_for_interrupt_injection = 0;
	run->request_interrupt_window = 0;
	u->intr_wait = false;
}

static int flush_regs(struct cvm_vcpu *v)
{
	struct cvm_uchip *c = cvm_uchip(v->vm);
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	struct kvm_run *run = v->run;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_debugregs dbg;
	struct kvm_vcpu_events ev;
	int e;

	u->regs_dirty = false;
	/* Nothing pending in KVM survives INIT or SIPI entry: no exception, interrupt, NMI, shadow. */
	memset(&ev, 0, sizeof(ev));
	ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
	cvm_regs_to_kvm(&u->regs, u->kvm_apic_base, &regs, &sregs);
	cvm_regs_to_kvm_debug(&u->regs, &dbg);
	if (!u->parked || memcmp(dbg.db, u->parked_dbg.db, sizeof(dbg.db)) ||
	    dbg.dr6 != u->parked_dbg.dr6 || dbg.dr7 != u->parked_dbg.dr7) {
		e = cvm_regs_write(v, CVM_REGSET_DEBUGREGS, &dbg);
		if (e < 0)
			return e;
	}
	if (c->sync_regs) {
		if (cvm_regs_locked(v)) /* refused and reported there; leave kvm_run's copy alone */
			return cvm_regs_write_sync(v, KVM_SYNC_X86_REGS);
		run->s.regs.regs = regs;
		run->s.regs.sregs = sregs;
		run->s.regs.events = ev;
		return cvm_regs_write_sync(v, KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS |
		                                      KVM_SYNC_X86_EVENTS);
	}
	e = cvm_regs_write(v, CVM_REGSET_SREGS, &sregs);
	if (e == 0)
		e = cvm_regs_write(v, CVM_REGSET_REGS, &regs);
	return e < 0 ? e : cvm_regs_write(v, CVM_REGSET_EVENTS, &ev);
}

/*
 * INIT_RESET: the INIT state of core/x86_reset.h. CR0 keeps CD/NW, so the
 * current CR0 is needed: KVM hands the special registers out at every exit
 * (kvm_valid_regs, KVM_CAP_SYNC_REGS: no ioctl), else KVM_GET_SREGS. INIT keeps the FPU/SSE state, XCR0, PAT, the TSC and the
 * other MSRs: nothing to write for those.
 */
static int load_init(struct cvm_vcpu *v, unsigned int flags)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	struct kvm_sregs sregs;
	int e;

	if (flags & CVM_ACTF_NO_REGS)
		return 0;
	if (cvm_uchip(v->vm)->sync_regs) {
		/* KVM's special registers as of the last exit, or the image staged since. */
		cvm_regs_from_kvm_sregs(&v->run->s.regs.sregs, &u->regs);
	} else if (!u->regs_dirty) {
		e = v->vm->ioctl(v->fd, KVM_GET_SREGS, &sregs);
		if (e < 0)
			return e;
		cvm_regs_from_kvm_sregs(&sregs, &u->regs);
	}
	cvm_x86_reset_regs(&u->regs, CVM_X86_INIT, u->cpuid1_eax);
	u->regs_valid = true;
	stage_regs(v);
	return 0;
}

/*
 * SIPI_ENTRY: only CS and RIP change from the INIT state. With protected
 * state nothing changes: the first entry runs the measured initial state
 * loaded before launch, a later one resumes the AP where it was (the vector
 * is ignored, as KVM does for SEV-ES).
 */
static int load_sipi(struct cvm_vcpu *v, uint8_t vector, unsigned int flags)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);

	if (flags & CVM_ACTF_NO_REGS) {
		if (flags & CVM_ACTF_FIRST)
			v->stats.first_boots++;
		else
			v->stats.sipi_resumes++;
		return 0;
	}
	if (!u->regs_valid) /* a SIPI entry always follows an INIT reset; be safe anyway */
		cvm_x86_reset_regs(&u->regs, CVM_X86_INIT, u->cpuid1_eax);
	cvm_x86_sipi_regs(&u->regs, vector);
	stage_regs(v);
	return 0;
}

/* How late this vCPU's thread expired its timer: the first samples are kept for --stats. */
static void note_timer_late(struct cvm_vcpu *v, uint64_t ns)
{
	struct cvm_vcpu_stats *s = &v->stats;

	if (s->ntimer_late < CVM_VCPU_TIMER_SAMPLES)
		s->timer_late_ns[s->ntimer_late++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/*
 * A vCPU about to sleep where INIT is what usually comes next (halted with
 * interrupts off, waiting for SIPI; not held: INIT-SIPI ends a hold without
 * writing a register): read KVM's debug registers now, while
 * nobody waits, so that the INIT-SIPI that wakes it writes them only if they
 * are not at their INIT values already (they seldom are not): no ioctl on its
 * critical path. Valid until it next enters the guest.
 */
static void park(struct cvm_vcpu *v)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);

	if (u->parked || u->regs_dirty || v->vm->protected_state)
		return; /* protected: INIT writes no register, nothing to compare with */
	u->parked = v->vm->ioctl(v->fd, KVM_GET_DEBUGREGS, &u->parked_dbg) == 0;
}

/* MP states in which the vCPU cannot run (the eventfd's "before" side, vm.h). */
static bool mp_asleep(uint8_t mp)
{
	return mp == CVM_MP_HALTED || mp == CVM_MP_UNINITIALIZED || mp == CVM_MP_INIT_RECEIVED ||
	       mp == CVM_MP_SIPI_RECEIVED || mp == CVM_MP_AP_RESET_HOLD;
}

/* The vCPU thread's asleep state for the core's state at a BLOCK. */
static uint8_t sleep_state_of(const struct cvm_lc *lc)
{
	if (lc->mp == CVM_MP_AP_RESET_HOLD)
		return CVM_VCPU_RESET_HOLD;
	if (cvm_lc_waiting(lc))
		return CVM_VCPU_WAIT_SIPI;
	return CVM_VCPU_HALTED; /* HALTED; a core PAUSE is never asked for by corevm */
}

/* Whether a sleeping vCPU in this state can only be woken by NMI, SMI, INIT or SIPI. */
static bool sleeps_for_good(const struct cvm_uvcpu *u, const struct kvm_run *run)
{
	if (u->lc.mp == CVM_MP_HALTED)
		return !run->if_flag;
	return cvm_lc_waiting(&u->lc);
}

/*
 * Injections. KVM hands its event state out at every exit (kvm_valid_regs) and
 * takes it back on KVM_RUN (kvm_dirty_regs), so an interrupt or NMI goes in
 * without an ioctl of its own (KVM_INTERRUPT and KVM_NMI cost as much as an
 * exit here): the exit's event state with the new event added. That state is
 * KVM's current one: corevm changes KVM's events through kvm_run only. An
 * exception or an interrupt still being delivered makes it take KVM_INTERRUPT
 * instead (the round trip through the events would turn a pending exception
 * into an injected one).
 */
static int inject_intr(struct cvm_vcpu *v, uint8_t vec)
{
	struct kvm_vcpu_events *ev = &v->run->s.regs.events;

	if (!cvm_uchip(v->vm)->sync_regs || ev->exception.injected || ev->exception.pending ||
	    ev->interrupt.injected)
		return cvm_regs_inject_intr_ioctl(v, vec);
	ev->interrupt.injected = 1;
	ev->interrupt.nr = vec;
	ev->interrupt.soft = 0;
	cvm_regs_inject_sync(v);
	return 0;
}

static int inject_nmi(struct cvm_vcpu *v)
{
	struct kvm_vcpu_events *ev = &v->run->s.regs.events;

	cvm_uvcpu(v)->nmi_in_kvm = true;
	if (!cvm_uchip(v->vm)->sync_regs || ev->exception.injected || ev->exception.pending)
		return cvm_regs_inject_nmi_ioctl(v);
	ev->nmi.pending++; /* KVM keeps at most two: the core hands over one at a time */
	ev->flags |= KVM_VCPUEVENT_VALID_NMI_PENDING;
	cvm_regs_inject_sync(v);
	return 0;
}

/*
 * Looks at this vCPU's state (its own thread) and carries out what the core
 * says until the vCPU can enter the guest (CONTINUE), must sleep (BLOCK) or
 * stop. The events flag is cleared under the lock before the state is read:
 * an event accepted after that sets it again (and kicks), so nothing is lost
 * between this decision and KVM_RUN or the sleep.
 */
static enum cvm_vcpu_action evaluate(struct cvm_vcpu *v)
{
	struct cvm_vm *vm = v->vm;
	struct cvm_uchip *c = cvm_uchip(vm);
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	struct kvm_run *run = v->run;
	bool intr_ok = true;

	for (;;) {
		struct cvm_lc_inputs in = {0};
		struct cvm_lc_action a;
		uint64_t now = 0, deadline;
		int vec = -1, e = 0;
		bool more = false, check = false, for_good = false, held = false, woke;
		uint8_t mp0;

		pthread_mutex_lock(&u->lock);
		atomic_store_explicit(&u->events, 0, memory_order_relaxed);
		if (cvm_lapic_next_deadline(&u->lapic) != CVM_NO_DEADLINE) {
			now = cvm_uchip_now();
			if (now >= cvm_lapic_next_deadline(&u->lapic))
				note_timer_late(v, now - cvm_lapic_next_deadline(&u->lapic));
			cvm_lapic_timer_expire(&u->lapic, &u->ctr, now);
		}
		in.intr_pending = cvm_lapic_pending(&u->lapic) >= 0;
		in.intr_window = intr_ok && run->if_flag &&
		                 (u->lc.mp == CVM_MP_HALTED || run->ready_for_interrupt_injection);
		mp0 = u->lc.mp;
		a = cvm_lc_next(&u->lc, &u->ctr, &in);
		woke = mp_asleep(mp0) && u->lc.mp == CVM_MP_RUNNABLE;
		switch (a.kind) {
		case CVM_ACT_INJECT_INTR:
			vec = cvm_lapic_ack(&u->lapic, &u->ctr);
			more = cvm_lapic_pending(&u->lapic) >= 0;
			break;
		case CVM_ACT_INIT_RESET:
			if (!u->apic_reset_by_sender) {
				struct cvm_lapic_fx fx;
				cvm_lapic_init_reset(&u->lapic, &fx);
				if (fx.flags & CVM_FX_ROUTE)
					publish_route_locked(c, v->index);
				/* CVM_FX_TIMER: re-armed below from the (now absent) deadline. */
			}
			u->apic_reset_by_sender = false;
			cvm_regs_set_cr8(v, 0);
			break;
		case CVM_ACT_BLOCK:
			v->sleep_state = sleep_state_of(&u->lc);
			u->sleep_until = cvm_lapic_next_deadline(&u->lapic);
			for_good = sleeps_for_good(u, run);
			held = u->lc.mp == CVM_MP_AP_RESET_HOLD;
			if (for_good && !u->dead) {
				u->dead = true;
				check = atomic_fetch_add(&c->ndead, 1) + 1 == vm->ncpus;
			}
			break;
		default:
			break;
		}
		if (a.kind != CVM_ACT_BLOCK)
			undead(c, u);
		publish_apr(u);
		deadline = cvm_lapic_next_deadline(&u->lapic);
		pthread_mutex_unlock(&u->lock);

		if (woke)
			cvm_vcpu_signal_runnable(v); /* the poll()-able vCPU: vm.h has the rule */
		c->timer->arm(v, deadline, now);
		switch (a.kind) {
		case CVM_ACT_RUN:
			u->intr_wait = a.flags & CVM_ACTF_WINDOW;
			run->request_interrupt_window = u->intr_wait;
			return CVM_VACT_CONTINUE;
		case CVM_ACT_BLOCK:
		case CVM_ACT_PAUSE:
			if (check)
				check_deadlock(vm);
			if (for_good && !held) /* a hold's INIT-SIPI writes no register */
				park(v);
			return CVM_VACT_BLOCK;
		case CVM_ACT_STOP:
			return CVM_VACT_STOP;
		case CVM_ACT_INJECT_INTR:
			e = inject_intr(v, (uint8_t)vec);
			if (e < 0) {
				kvm_failed(v, "KVM_INTERRUPT", e);
				return CVM_VACT_STOP;
			}
			/* One interrupt at a time: KVM reports readiness again at the next exit. */
			run->ready_for_interrupt_injection = 0;
			u->intr_wait = more;
			run->request_interrupt_window = more;
			return CVM_VACT_CONTINUE;
		case CVM_ACT_INJECT_NMI:
			e = inject_nmi(v);
			if (e < 0) {
				kvm_failed(v, "KVM_NMI", e);
				return CVM_VACT_STOP;
			}
			intr_ok = false; /* the NMI goes first; an interrupt waits for the window */
			continue;
		case CVM_ACT_INIT_RESET:
			e = load_init(v, a.flags);
			break;
		case CVM_ACT_SIPI_ENTRY:
			e = load_sipi(v, a.vector, a.flags);
			break;
		case CVM_ACT_HOLD_RELEASE: /* no register: the guest reads the response */
			cvm_ghcb_hold_released(v);
			break;
		default: /* SMM_ENTER: never produced (no SMI reaches the core) */
			break;
		}
		if (e < 0) {
			kvm_failed(v, "KVM_GET_SREGS for INIT", e);
			return CVM_VACT_STOP;
		}
	}
}

/* ---- hooks ---- */

static enum cvm_vcpu_action user_pre_entry(struct cvm_vcpu *v)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);

	/* seq_cst load after the seq_cst store of RUNNING: see cvm_uchip_notify(). */
	if (v->reeval || atomic_load(&u->events)) {
		enum cvm_vcpu_action a;
		v->reeval = false;
		a = evaluate(v);
		if (a != CVM_VACT_CONTINUE)
			return a;
	}
	if (u->regs_dirty) {
		int e = flush_regs(v);
		if (e < 0 && e != -EPERM) { /* -EPERM: refused, reported and counted by the gate */
			kvm_failed(v, "loading the INIT/SIPI registers", e);
			return CVM_VACT_STOP;
		}
	}
	/* KVM loads CR8 from here on every KVM_RUN without an in-kernel APIC. */
	cvm_regs_set_cr8(v, u->lapic.tpr >> 4);
	u->parked = false; /* the guest runs: what park() read may change */
	return CVM_VACT_CONTINUE;
}

/*
 * Asleep: sleep on the group's futex word with this vCPU's bit until a waker
 * bumps it, or (vcpu timer strategy) until the local APIC timer's deadline.
 * The state is asleep (seq_cst) already and the word is read before the events
 * flag, the mailbox and the work lists: news published before the read is
 * seen here; news published after it bumps the word (futex_wait then returns
 * at once) or wakes the sleeper (docs/idle-work.md).
 */
static enum cvm_vcpu_action user_block(struct cvm_vcpu *v)
{
	struct cvm_uchip *c = cvm_uchip(v->vm);
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	_Atomic uint32_t *w = sleep_word(c, v->index);
	uint32_t seen = atomic_load(w);
	uint64_t until = c->timer->sleep_timeout ? u->sleep_until : CVM_NO_DEADLINE;
	struct timespec ts = {.tv_sec = (time_t)(until / 1000000000ull),
	                      .tv_nsec = (long)(until % 1000000000ull)};

	if (atomic_load(&v->mbox.pending) || atomic_load(&u->events) || cvm_workq_pending(v) ||
	    (until != CVM_NO_DEADLINE && cvm_uchip_now() >= until))
		return CVM_VACT_CONTINUE;
	v->stats.sleeps++;
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_BITSET_PRIVATE, seen,
	        until == CVM_NO_DEADLINE ? NULL : &ts, NULL, sleep_bit(v->index));
	return CVM_VACT_CONTINUE;
}

/* Asleep: an accepted event, or (vcpu timer strategy) the APIC timer's deadline passed. */
static bool user_wake_pending(struct cvm_vcpu *v)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	uint64_t until = cvm_uchip(v->vm)->timer->sleep_timeout ? u->sleep_until : CVM_NO_DEADLINE;

	return atomic_load(&u->events) || (until != CVM_NO_DEADLINE && cvm_uchip_now() >= until);
}

/* A mailbox request or work for a sleeping vCPU: the kick signal does not end a futex sleep. */
static void user_wake(struct cvm_vcpu *v)
{
	struct cvm_uchip *c = cvm_uchip(v->vm);

	atomic_fetch_add(sleep_word(c, v->index), 1);
	futex_wake_bits(sleep_word(c, v->index), sleep_bit(v->index));
}

/*
 * Whether KVM still holds an NMI that corevm handed it (KVM_NMI) and that can
 * be delivered now. KVM opens its NMI window lazily on this host: after the
 * guest's IRET from an NMI handler, a second NMI may still wait inside KVM when
 * the guest reaches HLT. Read from the exit's event state (kvm_valid_regs),
 * else one KVM_GET_VCPU_EVENTS, and only until KVM has nothing left.
 */
static bool kvm_holds_nmi(struct cvm_vcpu *v)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	struct kvm_vcpu_events ev;

	if (!u->nmi_in_kvm)
		return false;
	if (cvm_uchip(v->vm)->sync_regs) {
		ev = v->run->s.regs.events; /* as of this exit */
	} else {
		memset(&ev, 0, sizeof(ev));
		if (v->vm->ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
			return false;
	}
	if (!ev.nmi.pending && !ev.nmi.injected) {
		u->nmi_in_kvm = false;
		return false;
	}
	return !ev.nmi.masked; /* a blocked NMI does not end a HLT inside an NMI handler */
}

static enum cvm_vcpu_action exit_hlt(struct cvm_vcpu *v)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);

	/* The NMI KVM still holds ends this HLT as soon as the vCPU enters again. */
	if (kvm_holds_nmi(v)) {
		v->stats.hlt_nmi_in_kvm++;
		return CVM_VACT_CONTINUE;
	}
	pthread_mutex_lock(&u->lock);
	cvm_lc_hlt(&u->lc, &u->ctr);
	pthread_mutex_unlock(&u->lock);
	v->reeval = true;
	return CVM_VACT_CONTINUE;
}

/* An access to the xAPIC page (the APIC is in xAPIC mode and the address is in its page). */
static enum cvm_vcpu_action exit_apic_mmio(struct cvm_vcpu *v, struct kvm_run *run, uint32_t off)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	struct cvm_lapic_fx fx = {0};
	uint32_t val = 0, len = run->mmio.len;

	v->stats.apic_mmio++;
	if (len != 4) {
		/* The SDM defines 32-bit accesses only: reads give 0, writes are dropped. */
		v->stats.apic_mmio_odd++;
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0, sizeof(run->mmio.data));
		return CVM_VACT_CONTINUE;
	}
	if (run->mmio.is_write)
		memcpy(&val, run->mmio.data, 4);
	pthread_mutex_lock(&u->lock);
	if (run->mmio.is_write)
		cvm_lapic_mmio_write(&u->lapic, &u->ctr, off, val, cvm_uchip_now(), &fx);
	else
		cvm_lapic_mmio_read(&u->lapic, off, cvm_uchip_now(), &val);
	publish_apr(u);
	pthread_mutex_unlock(&u->lock);
	if (!run->mmio.is_write) {
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
		memcpy(run->mmio.data, &val, 4);
		return CVM_VACT_CONTINUE;
	}
	cvm_regs_set_cr8(v, u->lapic.tpr >>
	                            4); /* the TPR may have changed: CR8 is the same register */
	do_fx(v, &fx);
	return CVM_VACT_CONTINUE;
}

/* KVM's own copy of IA32_APIC_BASE drives the guest's CPUID.1:EDX.APIC bit: keep it in step. */
static void push_apic_base(struct cvm_vcpu *v, uint64_t base)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = {.hdr.nmsrs = 1, .e = {.index = CVM_MSR_APIC_BASE, .data = base}};
	int e;

	if (base == u->kvm_apic_base)
		return;
	e = cvm_regs_write(v, CVM_REGSET_MSRS, &m); /* APIC state: allowed with protected state */
	if (e == 1)
		u->kvm_apic_base = base;
	else
		cvm_warn("kvm", "KVM_SET_MSRS IA32_APIC_BASE 0x%llx on vcpu %u: %s",
		         (unsigned long long)base, v->index, e < 0 ? strerror(-e) : "refused");
}

/* The guest TSC now, as KVM runs it (offset and scaling included): one KVM_GET_MSRS. */
static int guest_tsc(struct cvm_vcpu *v, uint64_t *tsc)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = {.hdr.nmsrs = 1, .e = {.index = MSR_IA32_TSC}};
	int e = v->vm->ioctl(v->fd, KVM_GET_MSRS, &m);

	if (e != 1)
		return e < 0 ? e : -EIO;
	*tsc = m.e.data;
	return 0;
}

static enum cvm_vcpu_action exit_msr(struct cvm_vcpu *v, struct kvm_run *run)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	struct cvm_lapic_fx fx = {0};
	bool write = run->exit_reason == KVM_EXIT_X86_WRMSR;
	uint32_t idx = run->msr.index;
	enum cvm_apic_status st = CVM_APIC_OK;
	uint64_t data = write ? run->msr.data : 0, tsc = 0;

	if (idx == CVM_MSR_GHCB)
		return cvm_ghcb_msr_exit(v, run);
	v->stats.apic_msr++;
	if (idx >= CVM_MSR_X2APIC_FIRST && idx <= CVM_MSR_X2APIC_LAST) {
		pthread_mutex_lock(&u->lock);
		st = write ? cvm_lapic_msr_write(&u->lapic, &u->ctr, idx, data, cvm_uchip_now(),
		                                 &fx)
		           : cvm_lapic_msr_read(&u->lapic, idx, cvm_uchip_now(), &data);
		publish_apr(u);
		pthread_mutex_unlock(&u->lock);
	} else if (idx == CVM_MSR_APIC_BASE) {
		pthread_mutex_lock(&u->lock);
		if (write)
			st = cvm_lapic_set_base(&u->lapic, data, false, &fx);
		else
			data = cvm_lapic_get_base(&u->lapic);
		publish_apr(u);
		pthread_mutex_unlock(&u->lock);
		if (write && st == CVM_APIC_OK)
			push_apic_base(v, data);
	} else if (idx == CVM_MSR_TSC_DEADLINE) {
		if (write && guest_tsc(v, &tsc) < 0) {
			kvm_failed(v, "KVM_GET_MSRS IA32_TSC", -EIO);
			return CVM_VACT_STOP;
		}
		pthread_mutex_lock(&u->lock);
		if (write)
			cvm_lapic_set_tsc_deadline(&u->lapic, data, cvm_uchip_now(), tsc, &fx);
		else
			data = cvm_lapic_get_tsc_deadline(&u->lapic);
		pthread_mutex_unlock(&u->lock);
	} else {
		/* An MSR KVM does not know either (reason INVAL): #GP, as KVM would inject. */
		v->stats.apic_msr--;
		st = CVM_APIC_GP;
	}
	run->msr.error = st == CVM_APIC_GP;
	if (st == CVM_APIC_GP) {
		v->stats.msr_gp++;
		return CVM_VACT_CONTINUE;
	}
	if (!write) {
		run->msr.data = data;
		return CVM_VACT_CONTINUE;
	}
	cvm_regs_set_cr8(v, u->lapic.tpr >> 4);
	do_fx(v, &fx);
	return CVM_VACT_CONTINUE;
}

static enum cvm_vcpu_action user_handle_exit(struct cvm_vcpu *v, struct kvm_run *run)
{
	struct cvm_uchip *c = cvm_uchip(v->vm);
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	uint64_t gpa;

	/* CR8 is the TPR: the guest may have changed it without an exit of ours. */
	if ((run->cr8 & 0xfu) != (u->lapic.tpr >> 4u)) {
		pthread_mutex_lock(&u->lock);
		cvm_lapic_set_tpr(&u->lapic, (uint8_t)((run->cr8 & 0xfu) << 4));
		publish_apr(u);
		pthread_mutex_unlock(&u->lock);
		v->reeval = true;
	}
	/* A waiting interrupt can go in at any exit where the window is open. */
	if (u->intr_wait && run->if_flag && run->ready_for_interrupt_injection)
		v->reeval = true;
	switch (run->exit_reason) {
	case KVM_EXIT_HLT:
		return exit_hlt(v);
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_SET_TPR:
		v->reeval = true;
		return CVM_VACT_CONTINUE;
	case KVM_EXIT_MMIO:
		gpa = run->mmio.phys_addr;
		if (cvm_lapic_mode(&u->lapic) == CVM_APIC_MODE_XAPIC &&
		    gpa - cvm_lapic_mmio_base(&u->lapic) < 0x1000u)
			return exit_apic_mmio(v, run,
			                      (uint32_t)(gpa - cvm_lapic_mmio_base(&u->lapic)));
		if (cvm_vioapic_claims(gpa)) {
			cvm_vioapic_mmio(&c->ioapic, run);
			return CVM_VACT_CONTINUE;
		}
		return CVM_VACT_NOT_MINE;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		return exit_msr(v, run);
	default:
		return CVM_VACT_NOT_MINE;
	}
}

/*
 * AP reset hold (GHCB MSR request 0x006, vmm/ghcb.c): RUNNABLE -> AP_RESET_HOLD.
 * The next look finds the vCPU waiting and puts its thread to sleep (no
 * KVM_RUN) until INIT and then SIPI arrive; HOLD_RELEASE then sets the
 * response. Registers are not touched, with or without protected state.
 */
static int user_ap_reset_hold(struct cvm_vcpu *v)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	enum cvm_disp d;

	pthread_mutex_lock(&u->lock);
	d = cvm_lc_ap_reset_hold(&u->lc, &u->ctr);
	pthread_mutex_unlock(&u->lock);
	v->reeval = true;
	return d == CVM_DISP_ACCEPTED ? 0 : -EBUSY;
}

static int user_set_irq(struct cvm_vm *vm, unsigned int irq, int level)
{
	return cvm_vioapic_set_irq(&cvm_uchip(vm)->ioapic, irq, level != 0);
}

/* ---- set-up and tear-down ---- */

static const struct cvm_apic_timer_ops *pick_timer(void)
{
	const char *s = getenv(CVM_APIC_TIMER_ENV);

	if (s && !strcmp(s, cvm_apic_timer_thread_ops.name))
		return &cvm_apic_timer_thread_ops;
	if (s && *s && strcmp(s, cvm_apic_timer_vcpu_ops.name))
		cvm_warn("irqchip", "%s=%s: unknown (vcpu, thread); using vcpu", CVM_APIC_TIMER_ENV,
		         s);
	return &cvm_apic_timer_vcpu_ops;
}

int cvm_uchip_setup(struct cvm_vm *vm, uint32_t tsc_khz)
{
	struct cvm_uchip *c = calloc(1, sizeof(*c));
	size_t vsize = sizeof(struct cvm_uvcpu) * vm->ncpus;

	if (!c)
		return -ENOMEM;
	int e = cvm_apic_bus_init(&c->bus, vm->ncpus) < 0 ? -E2BIG : 0;

	c->v = e ? NULL : aligned_alloc(64, (vsize + 63) & ~(size_t)63);
	if (!c->v) {
		free(c);
		return e ? e : -ENOMEM;
	}
	memset(c->v, 0, vsize);
	c->sleep_seq = calloc(vm->ncpus / SLEEP_GROUP + 1, sizeof(*c->sleep_seq));
	if (!c->sleep_seq) {
		free(c->v);
		free(c);
		return -ENOMEM;
	}
	pthread_rwlock_init(&c->bus_lock, NULL);
	cvm_vioapic_init(&c->ioapic, ioapic_deliver, NULL, vm);
	atomic_init(&c->ndead, 0);
	c->tsc_khz = tsc_khz;
	c->timer = pick_timer();
	atomic_init(&c->timer_next, CVM_NO_DEADLINE);
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		pthread_mutex_init(&c->v[i].lock, NULL);
		atomic_init(&c->v[i].due_ns, CVM_NO_DEADLINE);
		c->v[i].armed_ns = CVM_NO_DEADLINE;
	}
	vm->irqchip_data = c;
	return 0;
}

static int user_create(struct cvm_vm *vm)
{
	static const uint8_t deny = 0; /* bit clear: the access exits to corevm */
	struct kvm_enable_cap cap = {
	        .cap = KVM_CAP_X86_USER_SPACE_MSR,
	        .args = {KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_FILTER},
	};
	struct kvm_msr_filter filter = {
	        .flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
	        .ranges = {{.flags = KVM_MSR_FILTER_WRITE, /* reads: KVM's copy, kept in step */
	                    .nmsrs = 1,
	                    .base = CVM_MSR_APIC_BASE,
	                    .bitmap = (uint8_t *)&deny},
	                   {.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
	                    .nmsrs = 1,
	                    .base = CVM_MSR_TSC_DEADLINE,
	                    .bitmap = (uint8_t *)&deny},
	                   cvm_ghcb_filter_range()},
	};
	int e;

	if (vm->ncpus > CVM_APIC_MAX_VCPUS)
		return -E2BIG; /* the routing bitmaps' size */
	if (vm->ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_X86_MSR_FILTER) <= 0 ||
	    vm->ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_X86_USER_SPACE_MSR) <=
	            0)
		return -ENOTSUP; /* the x2APIC MSRs could not reach corevm */
	e = vm->ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap);
	if (e == 0)
		e = vm->ioctl(vm->vm_fd, KVM_X86_SET_MSR_FILTER, &filter);
	if (e < 0)
		return e;
	e = cvm_uchip_setup(vm, 0);
	if (e < 0)
		return e;
	cvm_uchip(vm)->sync_regs =
	        (vm->ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_SYNC_REGS) &
	         (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)) ==
	        (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS);
	return cvm_uchip(vm)->timer->create(vm);
}

void cvm_uchip_vcpu_setup(struct cvm_vcpu *v, bool is_bsp, bool x2apic, uint8_t phys_bits,
                          uint32_t cpuid1_eax)
{
	struct cvm_uchip *c = cvm_uchip(v->vm);
	struct cvm_uvcpu *u = &c->v[v->index];
	struct cvm_lapic_config cfg = {
	        .apic_id = v->index,
	        .vcpu = (uint16_t)v->index,
	        .bsp = is_bsp,
	        .x2apic = x2apic,
	        .phys_bits = phys_bits,
	        .tsc_khz = c->tsc_khz,
	        .min_period_ns = CVM_UCHIP_MIN_TIMER_PERIOD_NS,
	};

	v->irqchip_data = u;
	u->cpuid1_eax = cpuid1_eax;
	atomic_store(&u->events,
	             1); /* power-on: the first entry asks the core (APs never enter unasked) */
	cvm_lapic_power_on(&u->lapic, &cfg);
	cvm_lc_power_on(&u->lc, (is_bsp ? CVM_LC_OPT_BSP : 0) | CVM_LC_OPT_NMI_BY_HV |
	                                (v->vm->protected_state ? CVM_LC_OPT_PROTECTED : 0));
	publish_apr(u);
	if (!is_bsp) {
		u->dead = true; /* UNINITIALIZED: only INIT can wake it */
		atomic_fetch_add(&c->ndead, 1);
	}
	pthread_mutex_lock(&u->lock);
	publish_route_locked(c, v->index);
	pthread_mutex_unlock(&u->lock);
}

/* Reads the vCPU's CPUID table back: CPUID.1 EAX (RDX after INIT), x2APIC, MAXPHYADDR. */
static void read_cpuid(struct cvm_vcpu *v, uint32_t *eax1, bool *x2apic, uint8_t *phys_bits)
{
	struct kvm_cpuid2 *t =
	        calloc(1, sizeof(*t) + CPUID_READ_ENTRIES * sizeof(struct kvm_cpuid_entry2));

	*eax1 = 0x600;
	*x2apic = true;
	*phys_bits = 0;
	if (!t)
		return;
	t->nent = CPUID_READ_ENTRIES;
	if (v->vm->ioctl(v->fd, KVM_GET_CPUID2, t) == 0) {
		for (unsigned int i = 0; i < t->nent; i++) {
			const struct kvm_cpuid_entry2 *e = &t->entries[i];
			if (e->function == 1) {
				*eax1 = e->eax;
				*x2apic = e->ecx & (1u << 21);
			} else if (e->function == 0x80000008) {
				*phys_bits = (uint8_t)e->eax;
			}
		}
	}
	free(t);
}

static int user_vcpu_init(struct cvm_vcpu *v, bool is_bsp)
{
	struct cvm_uchip *c = cvm_uchip(v->vm);
	uint32_t eax1;
	uint8_t phys_bits;
	bool x2apic;
	int khz;

	if (!c->tsc_khz) {
		khz = v->vm->ioctl(v->fd, KVM_GET_TSC_KHZ, NULL);
		if (khz <= 0)
			return khz < 0 ? khz : -EINVAL;
		c->tsc_khz = (uint32_t)khz;
	}
	read_cpuid(v, &eax1, &x2apic, &phys_bits);
	cvm_uchip_vcpu_setup(v, is_bsp, x2apic, phys_bits, eax1);
	if (c->sync_regs) {
		/* KVM refreshes these at every exit; the seed serves a vCPU that never ran. */
		int e = v->vm->ioctl(v->fd, KVM_GET_SREGS, &v->run->s.regs.sregs);
		if (e == 0)
			e = v->vm->ioctl(v->fd, KVM_GET_VCPU_EVENTS, &v->run->s.regs.events);
		if (e < 0)
			return e;
		/* About 0.25 us per exit here (KVM copies them inside the exit). */
		v->run->kvm_valid_regs = KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;
	}
	push_apic_base(v, cvm_lapic_get_base(&cvm_uvcpu(v)->lapic));
	return cvm_uvcpu(v)->kvm_apic_base == cvm_lapic_get_base(&cvm_uvcpu(v)->lapic) ? 0 : -EIO;
}

static int user_thread_init(struct cvm_vcpu *v)
{
	return cvm_uchip(v->vm)->timer->thread_init(v);
}

static void user_thread_exit(struct cvm_vcpu *v)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	struct cvm_vcpu_stats *s = &v->stats;

	cvm_uchip(v->vm)->timer->thread_exit(v);
	pthread_mutex_lock(&u->lock);
	s->lc = u->ctr;
	s->mp_state = u->lc.mp;
	s->halts = u->ctr.n[CVM_CTR_HALTS];
	s->ipis_received = u->ipis_received;
	pthread_mutex_unlock(&u->lock);
}

static void user_stats(struct cvm_vm *vm, struct json_object *vm_obj)
{
	struct cvm_uchip *c = cvm_uchip(vm);

	cvm_vioapic_stats(&c->ioapic, vm_obj);
	json_object_object_add(vm_obj, "apic_timer", json_object_new_string(c->timer->name));
	json_object_object_add(vm_obj, "sync_regs", json_object_new_boolean(c->sync_regs));
}

static void user_destroy(struct cvm_vm *vm)
{
	struct cvm_uchip *c = cvm_uchip(vm);

	if (!c)
		return;
	c->timer->destroy(vm);
	for (unsigned int i = 0; i < vm->ncpus; i++)
		pthread_mutex_destroy(&c->v[i].lock);
	cvm_vioapic_destroy(&c->ioapic);
	pthread_rwlock_destroy(&c->bus_lock);
	free((void *)c->sleep_seq);
	free(c->v);
	free(c);
	vm->irqchip_data = NULL;
}

/*
 * What the user irqchip's hooks call on a vCPU thread (docs/seccomp.md): on
 * the vCPU's own fd, the injection fallbacks (an exception still being
 * delivered), the debug registers of parking and INIT, and the MSRs KVM keeps
 * (IA32_APIC_BASE, the TSC for IA32_TSC_DEADLINE); kicks of other vCPUs.
 * Without KVM_CAP_SYNC_REGS the INIT/SIPI register loads and the event state
 * take ioctls; with the vCPU-thread APIC timers, their POSIX timer is armed
 * and deleted by the vCPU (created in thread_init, before the filter).
 */
static const struct cvm_sc_rule user_vcpu_rules[] = {
        CVM_SC_IOCTL_ON(CVM_SC_FD_VCPU, KVM_INTERRUPT,
                        "inject an interrupt: no sync regs, or an exception is being delivered"),
        CVM_SC_IOCTL_ON(CVM_SC_FD_VCPU, KVM_NMI,
                        "inject an NMI: no sync regs, or an exception is being delivered"),
        CVM_SC_IOCTL_ON(CVM_SC_FD_VCPU, KVM_GET_DEBUGREGS,
                        "a parking vCPU's debug registers (INIT)"),
        CVM_SC_IOCTL_ON(CVM_SC_FD_VCPU, KVM_SET_DEBUGREGS,
                        "INIT: debug registers not at their INIT values"),
        CVM_SC_IOCTL_ON(CVM_SC_FD_VCPU, KVM_GET_MSRS,
                        "IA32_TSC when the guest writes IA32_TSC_DEADLINE"),
        CVM_SC_IOCTL_ON(CVM_SC_FD_VCPU, KVM_SET_MSRS, "KVM's copy of IA32_APIC_BASE"),
        CVM_SC_TGKILL_KICK("IPIs and I/O APIC messages kick the target vCPU"),
};
static const struct cvm_sc_rule user_vcpu_nosync_rules[] = {
        CVM_SC_IOCTL_ON(CVM_SC_FD_VCPU, KVM_GET_SREGS, "INIT: CR0 (no sync regs)"),
        CVM_SC_IOCTL_ON(CVM_SC_FD_VCPU, KVM_SET_SREGS, "INIT/SIPI register load (no sync regs)"),
        CVM_SC_IOCTL_ON(CVM_SC_FD_VCPU, KVM_SET_REGS, "INIT/SIPI register load (no sync regs)"),
        CVM_SC_IOCTL_ON(CVM_SC_FD_VCPU, KVM_SET_VCPU_EVENTS,
                        "INIT/SIPI: clear pending events (no sync regs)"),
        CVM_SC_IOCTL_ON(CVM_SC_FD_VCPU, KVM_GET_VCPU_EVENTS,
                        "HLT: whether KVM still holds an NMI (no sync regs)"),
};
static const struct cvm_sc_rule user_vcpu_timer_rules[] = {
        CVM_SC_ALLOW("timer_settime", "arm the vCPU's APIC timer (COREVM_APIC_TIMER=vcpu)"),
        CVM_SC_ALLOW("timer_delete", "thread end: delete the vCPU's APIC timer"),
};
static const struct cvm_seccomp_list user_vcpu_list = CVM_SC_LIST("irqchip user", user_vcpu_rules);
static const struct cvm_seccomp_list user_vcpu_nosync_list =
        CVM_SC_LIST("irqchip user, no sync regs", user_vcpu_nosync_rules);
static const struct cvm_seccomp_list user_vcpu_timer_list =
        CVM_SC_LIST("irqchip user, vcpu timers", user_vcpu_timer_rules);

static bool without_sync_regs(const struct cvm_vm *vm)
{
	return !cvm_uchip(vm)->sync_regs;
}

static bool with_vcpu_timers(const struct cvm_vm *vm)
{
	return cvm_uchip(vm)->timer == &cvm_apic_timer_vcpu_ops;
}

const struct cvm_irqchip_ops cvm_irqchip_user_ops = {
        .name = "user",
        .create = user_create,
        .destroy = user_destroy,
        .vcpu_init = user_vcpu_init,
        .thread_init = user_thread_init,
        .pre_entry = user_pre_entry,
        .handle_exit = user_handle_exit,
        .block = user_block,
        .wake = user_wake,
        .wake_pending = user_wake_pending,
        .thread_exit = user_thread_exit,
        .set_irq = user_set_irq,
        .stats = user_stats,
        .ap_reset_hold = user_ap_reset_hold,
        .msr_filter = true,
        .sees_halts = true,
        .owns_lifecycle = true,
        .seccomp = {{CVM_THREAD_VCPU, &user_vcpu_list, NULL},
                    {CVM_THREAD_VCPU, &user_vcpu_nosync_list, without_sync_regs},
                    {CVM_THREAD_VCPU, &user_vcpu_timer_list, with_vcpu_timers}},
};
