/* A vCPU thread on a simulated host CPU: host work, entry (with the SMT-protection check), guest mode, exits, the IDLE_REQUIRED loop. */
#include "sim/sim_internal.h"
#include "sim/strategy.h"

/*
 * Modes while the thread is its CPU's current task (sim_internal.h):
 *
 *   VM_OFF --picked--> VM_HOST --decide: RUN--> [strategy before_entry] --> VM_ENTER --> VM_GUEST
 *                        ^   \--decide: BLOCK--> blocked (VM_OFF)                          |
 *                        |                                                            exit |
 *                        +------ [strategy after_exit] <------ VM_EXIT <-------------------+
 *
 *   protected vCPU, siblings busy at VMRUN: VM_SPIN (retry loop, IDLE_REQUIRED each turn)
 *   or VM_WAIT (the strategy keeps the siblings and waits), then VM_ENTER.
 *   sibling-offline: VM_HOTPLUG around entries and exits.
 *
 * A thread covered by an interrupt or a kernel thread on its CPU exits first
 * (the exit's cost is charged to the covering work) and resumes in VM_HOST.
 */

static const char *const exit_names[EXIT_NR] = {
        [EXIT_IRQ] = "irq",
        [EXIT_KICK] = "kick",
        [EXIT_PREEMPT] = "preempt",
        [EXIT_IDLE_REQUIRED] = "idle-required",
        [EXIT_HLT_WAKEUP] = "hlt-wakeup",
        [EXIT_HLT] = "hlt",
        [EXIT_MWAIT] = "mwait",
        [EXIT_ICR] = "icr",
        [EXIT_RSM] = "rsm",
        [EXIT_WINDOW] = "intr-window",
        [EXIT_FAIL_ENTRY] = "fail-entry",
};

const char *sim_exit_name(enum sim_exit e)
{
	return e < EXIT_NR ? exit_names[e] : "?";
}

static struct sim_cpu *cpu_of(struct cvm_sim *s, struct sim_vcpu *v)
{
	return &s->cpus[v->task.cpu];
}

/* Whether v's thread executes now (current on its CPU, not covered). */
static bool executing(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (v->task.state != TS_CURRENT)
		return false;
	struct sim_cpu *c = cpu_of(s, v);
	return c->curr == &v->task && !c->irq_active && !c->kth_active;
}

/* ---- accounting and the watchdog ---- */

void vcpu_acct(struct cvm_sim *s, struct sim_vcpu *v)
{
	uint8_t a;
	if (v->mode == VM_GUEST && executing(s, v))
		a = guest_idle_chunk(v) ? 1 : 0;
	else if (v->quiescent)
		a = 3;
	else
		a = 2;
	uint64_t d = sim_now(s) - v->acct_since;
	switch (v->acct) {
	case 0:
		v->t_guest += d;
		break;
	case 1:
		v->t_guest_idle += d;
		break;
	case 2:
		v->t_wait += d;
		break;
	default:
		v->t_quiet += d;
		break;
	}
	v->acct = a;
	v->acct_since = sim_now(s);
}

static void record_stretch(struct cvm_sim *s, struct sim_vcpu *v, uint64_t len)
{
	if (len > v->longest)
		v->longest = len;
	if (len > s->thresholds[0] && sim_tracing(s))
		sim_trace(s, "vcpu%u stall: %lluns without progress", v->gid,
		          (unsigned long long)len);
	else if (len >= 100000000 && sim_tracing(s))
		sim_trace(s, "vcpu%u went %lluns without progress", v->gid,
		          (unsigned long long)len);
	for (unsigned int i = 0; i < s->nthresholds; i++)
		if (len > s->thresholds[i])
			s->stalls_at[i]++;
	if (len > s->thresholds[0])
		v->vm->stalls++;
}

void vcpu_progress(struct cvm_sim *s, struct sim_vcpu *v, uint64_t guest_ns, uint64_t start)
{
	uint64_t q = s->sc->watchdog.quantum;
	if (v->quiescent || !guest_ns)
		return;
	if (v->progress_acc + guest_ns < q) {
		v->progress_acc += guest_ns;
		return;
	}
	uint64_t first = start + (q - v->progress_acc);
	record_stretch(s, v, first - v->need_since);
	uint64_t rest = guest_ns - (q - v->progress_acc);
	v->need_since = first + rest / q * q;
	v->progress_acc = rest % q;
}

void vcpu_set_quiescent(struct cvm_sim *s, struct sim_vcpu *v, bool q)
{
	if (q == v->quiescent)
		return;
	if (q)
		record_stretch(s, v, sim_now(s) - v->need_since);
	v->quiescent = q;
	v->need_since = sim_now(s);
	v->progress_acc = 0;
	vcpu_acct(s, v);
}

/* ---- modes ---- */

void vcpu_set_mode(struct cvm_sim *s, struct sim_vcpu *v, enum sim_vmode m, uint64_t seg)
{
	v->mode = (uint8_t)m;
	v->seg_left = seg;
	vcpu_acct(s, v);
	if (v->task.state != TS_CURRENT)
		return;
	struct sim_cpu *c = cpu_of(s, v);
	if (executing(s, v))
		cpu_arm_segment(s, c);
	cpu_acct(s, c);
}

static uint64_t spin_period(const struct cvm_sim *s)
{
	const struct cvm_sim_costs *k = &s->sc->costs;
	uint64_t p = k->entry + k->exit + k->idle_required_retry;
	return p ? p : 1;
}

static void count_idle_required(struct cvm_sim *s, struct sim_vcpu *v, uint64_t n)
{
	s->st.idle_required += n;
	s->st.exits[EXIT_IDLE_REQUIRED] += n;
	v->vm->exits += n;
	v->vm->idle_required += n;
}

/* VMRUN: the SMT-protection check, then the entry. */
static void enter(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_cpu *c = cpu_of(s, v);
	if (v->protect && !siblings_idle(s, c)) {
		enum sim_vmode m = strat_blocked_entry(s, v);
		if (m == VM_SPIN) {
			count_idle_required(s, v, 1);
			v->spin_start = sim_now(s);
			v->spin_armed = false;
			if (sim_tracing(s))
				sim_trace(s, "vcpu%u cpu%u vmrun idle-required (sibling busy)",
				          v->gid, c->id);
		}
		vcpu_set_mode(s, v, m, CVM_SIM_NEVER);
		return;
	}
	vcpu_set_mode(s, v, VM_ENTER, s->sc->costs.entry);
}

static void continue_entry(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (strat_before_entry(s, v))
		enter(s, v);
	else
		v->hp_next = 1;
}

/* The entry decision in the host: the core says run or block. */
static void decide(struct cvm_sim *s, struct sim_vcpu *v)
{
	uint64_t work = 0;
	if (v->want_yield) {
		/* MWAIT "yield" policy: sched_yield() before going back in */
		v->want_yield = false;
		if (cpu_of(s, v)->uq.n) {
			task_yield(s, &v->task);
			return;
		}
	}
	if (guest_prepare(s, v, &work) == GACT_BLOCK) {
		v->blocked = true;
		v->mode = VM_OFF;
		vcpu_set_quiescent(s, v, true);
		if (sim_tracing(s))
			sim_trace(s, "vcpu%u blocks", v->gid);
		task_block(s, &v->task);
		return;
	}
	struct sim_cpu *c = cpu_of(s, v);
	if (!c->virt_ok) {
		/* VMRUN fails where virtualization could not be enabled: report, move. */
		s->st.entry_failures++;
		s->st.exits[EXIT_FAIL_ENTRY]++;
		if (sim_tracing(s))
			sim_trace(s, "vcpu%u cpu%u entry failed: no virtualization", v->gid, c->id);
		vcpu_set_mode(s, v, VM_HOST, s->sc->costs.exit_user);
		place_entry_failed(s, v, c->id);
		return;
	}
	v->work = work;
	continue_entry(s, v);
}

void vcpu_strategy_done(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (v->hp_next == 1) {
		v->hp_next = 0;
		enter(s, v);
	} else {
		v->hp_next = 0;
		vcpu_set_mode(s, v, VM_HOST,
		              v->host_next + guest_exit_work(s, v, (enum sim_exit)v->pending_exit));
	}
}

void vcpu_resume(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_cpu *c = cpu_of(s, v);
	switch (v->mode) {
	case VM_OFF:
		vcpu_set_mode(s, v, VM_HOST,
		              v->woken ? s->sc->costs.wake : s->sc->costs.ctx_switch);
		v->woken = false;
		return;
	case VM_SPIN:
		if (siblings_idle(s, c)) {
			vcpu_set_mode(s, v, VM_ENTER, s->sc->costs.entry);
		} else {
			count_idle_required(s, v, 1);
			v->spin_start = sim_now(s);
			v->spin_armed = false;
			vcpu_set_mode(s, v, VM_SPIN, CVM_SIM_NEVER);
		}
		return;
	case VM_WAIT:
		if (siblings_idle(s, c))
			continue_entry(s, v);
		else
			cpu_acct(s, c);
		return;
	case VM_ENTER:
	case VM_GUEST:
		vcpu_set_mode(s, v, VM_HOST, 0);
		return;
	default:
		if (v->resched) {
			v->resched = false;
			if (v->seg_left != CVM_SIM_NEVER)
				v->seg_left += s->sc->costs.ctx_switch;
		}
		cpu_arm_segment(s, c);
		cpu_acct(s, c);
		return;
	}
}

/* Leaves guest mode after `elapsed` ns of guest execution in this segment. */
static void leave_guest(struct cvm_sim *s, struct sim_vcpu *v, uint64_t elapsed)
{
	if (v->mode == VM_GUEST)
		guest_account(s, v, elapsed);
	v->kick_gen++;
	v->kick_pending = false;
}

void vcpu_covered(struct cvm_sim *s, struct sim_vcpu *v, uint64_t elapsed)
{
	switch (v->mode) {
	case VM_GUEST:
	case VM_ENTER:
		/* the exit's cost is charged to the covering work; its handling follows */
		leave_guest(s, v, elapsed);
		s->st.exits[EXIT_IRQ]++;
		v->vm->exits++;
		v->mode = VM_EXIT;
		v->seg_left = 0;
		v->pending_exit = EXIT_IRQ;
		v->host_next = 0;
		vcpu_acct(s, v);
		smtp_vcpu_exited(s, v);
		break;
	case VM_SPIN: {
		uint64_t n = (sim_now(s) - v->spin_start) / spin_period(s);
		count_idle_required(s, v, n);
		v->spin_armed = false;
		break;
	}
	case VM_WAIT:
		break;
	default:
		if (v->seg_left != CVM_SIM_NEVER)
			v->seg_left = elapsed >= v->seg_left ? 0 : v->seg_left - elapsed;
		break;
	}
}

void vcpu_descheduled(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (v->mode == VM_SPIN || v->mode == VM_WAIT) {
		v->mode = VM_HOST;
		v->seg_left = 0;
	}
	v->resched = true;
	vcpu_acct(s, v);
}

static void do_exit(struct cvm_sim *s, struct sim_vcpu *v, enum sim_exit reason, uint64_t host)
{
	v->kick_gen++;
	v->kick_pending = false;
	s->st.exits[reason]++;
	v->vm->exits++;
	v->pending_exit = (uint8_t)reason;
	v->host_next = host;
	if (sim_tracing(s))
		sim_trace(s, "vcpu%u cpu%d exit %s", v->gid, v->task.cpu, sim_exit_name(reason));
	vcpu_set_mode(s, v, VM_EXIT, s->sc->costs.exit);
}

void vcpu_force_exit(struct cvm_sim *s, struct sim_vcpu *v, enum sim_exit reason)
{
	if (!vcpu_in_guest(v) || !executing(s, v))
		return;
	struct sim_cpu *c = cpu_of(s, v);
	leave_guest(s, v, sim_now(s) - c->seg_start);
	if (reason == EXIT_IDLE_REQUIRED) {
		s->st.idle_required++;
		v->vm->idle_required++;
	}
	do_exit(s, v, reason, reason == EXIT_IRQ ? s->sc->costs.irq_entry : 0);
}

void vcpu_end_chunk(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (v->mode != VM_GUEST || !executing(s, v))
		return;
	struct sim_cpu *c = cpu_of(s, v);
	guest_account(s, v, sim_now(s) - c->seg_start);
	v->seg_left = 0;
	cpu_arm_segment(s, c);
}

void vcpu_kick(struct cvm_sim *s, struct sim_vcpu *v, uint64_t latency, enum sim_exit reason)
{
	if (v->kick_pending || !vcpu_in_guest(v))
		return;
	v->kick_pending = true;
	sim_arm(s, vcpu_timer(s, v->gid, T_KICK), sim_now(s) + latency, EV_KICK, v->gid,
	        v->kick_gen, reason);
}

void vcpu_kick_event(struct cvm_sim *s, struct sim_vcpu *v, uint32_t gen, uint32_t reason)
{
	if (gen != v->kick_gen)
		return;
	v->kick_pending = false;
	vcpu_force_exit(s, v, (enum sim_exit)reason);
}

void vcpu_wake(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (v->blocked) {
		v->blocked = false;
		v->woken = true;
		v->wake_time = sim_now(s);
		vcpu_set_quiescent(s, v, false);
		if (sim_tracing(s))
			sim_trace(s, "vcpu%u wakes", v->gid);
		task_wake(s, &v->task);
	} else if (vcpu_in_guest(v)) {
		vcpu_kick(s, v, s->sc->costs.kick, EXIT_KICK);
	}
}

void vcpu_siblings_idle(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (!executing(s, v))
		return;
	if (v->mode == VM_WAIT) {
		continue_entry(s, v);
		return;
	}
	if (v->mode != VM_SPIN || v->spin_armed)
		return;
	/* The retry loop's next VMRUN after now succeeds if the siblings are still idle then. */
	uint64_t p = spin_period(s), el = sim_now(s) - v->spin_start;
	uint64_t k = (el + p - 1) / p;
	if (!k)
		k = 1;
	count_idle_required(s, v, k - 1);
	v->spin_start += (k - 1) * p;
	v->spin_armed = true;
	vcpu_set_mode(s, v, VM_SPIN, v->spin_start + p - sim_now(s));
}

void vcpu_segment_done(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_cpu *c = cpu_of(s, v);
	switch (v->mode) {
	case VM_HOST:
		decide(s, v);
		return;
	case VM_ENTER:
		s->st.entries++;
		if (v->wake_time) {
			sim_hist_add(&s->wake_latency, sim_now(s) - v->wake_time);
			sim_hist_add(&v->vm->wake_latency, sim_now(s) - v->wake_time);
			v->wake_time = 0;
		}
		vcpu_set_mode(s, v, VM_GUEST, v->work);
		return;
	case VM_GUEST: {
		uint64_t work = 0, host = 0;
		guest_account(s, v, sim_now(s) - c->seg_start);
		enum sim_exit r = guest_step(s, v, &work, &host);
		if (r == EXIT_NR)
			vcpu_set_mode(s, v, VM_GUEST, work);
		else
			do_exit(s, v, r, host);
		return;
	}
	case VM_EXIT:
		smtp_vcpu_exited(s, v);
		if (!strat_after_exit(s, v)) {
			v->hp_next = 2;
			return;
		}
		vcpu_set_mode(s, v, VM_HOST,
		              v->host_next + guest_exit_work(s, v, (enum sim_exit)v->pending_exit));
		return;
	case VM_SPIN:
		v->spin_armed = false;
		if (siblings_idle(s, c)) {
			vcpu_set_mode(s, v, VM_ENTER, s->sc->costs.entry);
		} else {
			count_idle_required(s, v, 1);
			v->spin_start = sim_now(s);
			vcpu_set_mode(s, v, VM_SPIN, CVM_SIM_NEVER);
		}
		return;
	case VM_HOTPLUG:
		if (s->ops->hotplug_done)
			s->ops->hotplug_done(s, v);
		return;
	default:
		return;
	}
}
