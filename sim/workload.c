/* Guest workloads: what each simulated vCPU does between core events (cpu-bound, timer, HLT idle, IPI ping-pong, MWAIT idle, CPU hotplug with SMIs, INIT-SIPI cycles). */
#include <errno.h>
#include <stdlib.h>

#include "sim/guest.h"
#include "sim/strategy.h"

/* Workload states (sim_guest.ws). */
enum {
	WS_BOOT_INIT = 0, /* BSP after boot: INIT the APs */
	WS_BOOT_SIPI,     /* BSP: SIPI the APs */
	WS_START,         /* first step of the workload */
	WS_RUN,
	WS_SEND,     /* ipi-pingpong: send when the think time is over */
	WS_HLT_NEXT, /* halt at the next step */
	WS_OFFLINE,  /* cpu-hotplug AP: cli; hlt */
	WS_DONE,     /* a bounded workload is over: compute from now on */
};

/* cpu-hotplug script steps (EV_GUEST arg) and the BSP actions they make due. */
enum {
	G_OFFLINE = 1,
	G_ONLINE,
	G_SIPI,
	G_CHECK,
	G_EXTRA_SMI,
	G_INIT,
};

enum {
	D_NONE,
	D_OFFLINE,
	D_INIT,
	D_SIPI,
	D_EXTRA_SIPI, /* init-sipi: a SIPI to the target that runs again (discarded) */
};

/* init-sipi: what the BSP waits for (sim_gvm.step). */
enum {
	CS_BOOT, /* every AP to come up after the boot's INIT-SIPI */
	CS_SENT, /* the target to come up after this cycle's INIT-SIPI */
	CS_DONE,
};

#define CHUNK_NS   1000000000ull /* a cpu-bound guest's work chunk */
#define MAX_TRIES  10u           /* retrying guest: INIT-SIPI attempts per AP */
#define INIT_DELAY 10000u        /* INIT to SIPI, as Linux's udelay(10) */

/* x2APIC ICR values: physical destination in bits 63:32. */
static uint64_t icr(unsigned int dest, unsigned int mode, unsigned int vector, unsigned int sh)
{
	uint64_t v = (uint64_t)dest << 32 | (uint64_t)mode << 8 | vector | (uint64_t)sh << 18;
	if (mode == CVM_DM_INIT)
		v |= 1u << 14 | 1u << 15; /* level assert, as Linux sends it */
	return v;
}

static const struct cvm_sim_workload *W(const struct sim_vcpu *v)
{
	return &v->vm->cfg->workload;
}

int wl_init(struct cvm_sim *s)
{
	for (unsigned int i = 0; i < s->nvcpus; i++) {
		struct sim_vcpu *v = &s->vcpus[i];
		struct sim_guest *g = G(v);
		const struct cvm_sim_workload *w = W(v);
		g->ws = v->idx == 0 ? WS_BOOT_INIT : WS_START;
		if (w->type == CVM_WL_HLT_IDLE || w->type == CVM_WL_MWAIT_IDLE) {
			uint64_t gap = cvm_sim_arrival_gap(&w->wake, &g->rng);
			if (gap != CVM_SIM_NEVER)
				sim_at(s, gap, EV_DEVICE, v->gid, 0, 0);
		}
		if (w->type == CVM_WL_MWAIT_IDLE) {
			uint64_t gap = cvm_sim_arrival_gap(&w->vmm_work, &g->rng);
			if (gap != CVM_SIM_NEVER)
				sim_at(s, gap, EV_VMM_WORK, v->gid, 0, 0);
			if (w->mwait != CVM_MWAIT_EXIT) {
				/* the VMM's worker thread shares the vCPU's CPUs */
				struct sim_task *t = calloc(1, sizeof(*t));
				if (!t)
					return -ENOMEM;
				t->kind = TASK_HOST;
				t->state = TS_BLOCKED;
				t->cpu = -1;
				t->pinned = -1;
				t->allowed = v->task.allowed;
				t->vcpu = v;
				g->worker = t;
			}
		}
	}
	for (unsigned int i = 0; i < s->nvms; i++) {
		struct sim_vm *vm = &s->vms[i];
		if (vm->cfg->workload.type == CVM_WL_CPU_HOTPLUG)
			sim_at(s, vm->cfg->workload.online_period, EV_GUEST, i, 0, G_OFFLINE);
	}
	return 0;
}

void wl_fini(struct cvm_sim *s)
{
	(void)s;
}

/* ---- cpu-hotplug: the BSP's script ---- */

static void script_at(struct cvm_sim *s, struct sim_vm *vm, uint64_t delay, unsigned int step)
{
	sim_at(s, sim_now(s) + delay, EV_GUEST, vm->id, 0, step);
}

static void make_due(struct cvm_sim *s, struct sim_vm *vm, uint8_t d)
{
	GVM(vm)->due = d;
	guest_poke(s, &vm->vcpus[0]);
}

/* The next AP to cycle, after the current one: online and not given up. */
static bool next_target(struct sim_vm *vm)
{
	struct sim_gvm *gvm = GVM(vm);
	for (unsigned int k = 1; k < vm->nvcpus; k++) {
		unsigned int i = 1 + (gvm->target + k - 1) % (vm->nvcpus - 1);
		if (!G(&vm->vcpus[i])->lost && G(&vm->vcpus[i])->online) {
			gvm->target = i;
			return true;
		}
	}
	return false;
}

void guest_script_event(struct cvm_sim *s, struct sim_vm *vm, uint32_t step)
{
	struct sim_gvm *gvm = GVM(vm);
	const struct cvm_sim_workload *w = &vm->cfg->workload;
	struct sim_vcpu *ap = &vm->vcpus[gvm->target ? gvm->target : 1];
	struct sim_guest *bg = G(&vm->vcpus[0]);
	if (gvm->stopped)
		return;
	switch (step) {
	case G_OFFLINE:
		if (!next_target(vm)) {
			gvm->stopped = true;
			return;
		}
		make_due(s, vm, D_OFFLINE);
		return;
	case G_ONLINE: {
		/* Firmware's SMM rendezvous for the hotplug: an SMI to every vCPU, all released
		 * together, and sometimes a second SMI to the AP that seemed not to arrive,
		 * which lands late (seed 004). */
		uint64_t smm = cvm_sim_dist_draw(&w->smm_time, &bg->rng);
		for (unsigned int i = 0; i < vm->nvcpus; i++)
			G(&vm->vcpus[i])->smm_until = sim_now(s) + smm;
		guest_vmm_signal(s, vm, NULL, CVM_DM_SMI);
		/* the kernel brings the AP up some time after the rendezvous; the re-sent SMI
		 * comes independently, within the same window */
		uint64_t win = w->smi_window;
		script_at(s, vm, smm + (win ? cvm_rng_below(&bg->rng, win) : 0), G_INIT);
		if (w->extra_smi_probability > 0 &&
		    cvm_rng_unit(&bg->rng) < w->extra_smi_probability)
			script_at(s, vm,
			          smm + w->extra_smi_delay +
			                  (win ? cvm_rng_below(&bg->rng, win) : 0),
			          G_EXTRA_SMI);
		gvm->tries = 0;
		return;
	}
	case G_INIT:
		make_due(s, vm, D_INIT);
		return;

	case G_EXTRA_SMI:
		guest_vmm_signal(s, vm, ap, CVM_DM_SMI);
		return;
	case G_SIPI:
		make_due(s, vm, D_SIPI);
		return;
	case G_CHECK:
		if (G(ap)->online) {
			script_at(s, vm, w->online_period, G_OFFLINE);
		} else if (w->sipi == CVM_SIPI_RETRY && gvm->tries + 1 < MAX_TRIES) {
			gvm->tries++;
			s->st.ap_retries++;
			if (sim_tracing(s))
				sim_trace(s, "vcpu%u did not come up: INIT-SIPI again", ap->gid);
			make_due(s, vm, D_INIT);
		} else {
			G(ap)->lost = true;
			s->st.aps_lost++;
			if (sim_tracing(s))
				sim_trace(s, "vcpu%u lost: never came online (%s)", ap->gid,
				          cvm_mp_state_name(cvm_lc_mp_state(&G(ap)->lc)));
			script_at(s, vm, w->online_period, G_OFFLINE);
		}
		return;
	default:
		return;
	}
}

/*
 * ---- init-sipi: the BSP's script ----
 *
 * As guest/xcheck.c's `cycle` mode does it: once every AP is up after the
 * boot, for each cycle and each AP in turn: INIT, SIPI, wait (computing) until
 * the AP runs again, then `extra_sipis` SIPIs to the running AP, which
 * discards them. The APs compute between restarts; nothing halts.
 */

static void cycle_next_target(struct cvm_sim *s, struct sim_vm *vm)
{
	struct sim_gvm *gvm = GVM(vm);
	const struct cvm_sim_workload *w = &vm->cfg->workload;
	if (++gvm->target >= vm->nvcpus) {
		gvm->target = 1;
		gvm->cycle++;
	}
	if (gvm->cycle > w->cycles) {
		gvm->step = CS_DONE;
		if (sim_tracing(s))
			sim_trace(s, "vm%u: %u INIT-SIPI cycles done", vm->id, w->cycles);
		return;
	}
	make_due(s, vm, D_INIT);
}

/* An AP of an init-sipi VM came up: the BSP's wait may be over. */
static void cycle_ap_up(struct cvm_sim *s, struct sim_vm *vm)
{
	struct sim_gvm *gvm = GVM(vm);
	if (gvm->step == CS_BOOT) {
		for (unsigned int i = 1; i < vm->nvcpus; i++)
			if (!G(&vm->vcpus[i])->boots)
				return;
		gvm->cycle = 1;
		gvm->target = 0;
		gvm->step = CS_SENT;
		cycle_next_target(s, vm);
	} else if (gvm->step == CS_SENT && gvm->due == D_NONE && gvm->target &&
	           G(&vm->vcpus[gvm->target])->boots == gvm->awaits) {
		gvm->extra = 0;
		if (vm->cfg->workload.extra_sipis)
			make_due(s, vm, D_EXTRA_SIPI);
		else
			cycle_next_target(s, vm);
	}
}

static enum sim_exit cycle_act(struct cvm_sim *s, struct sim_vcpu *bsp, uint8_t d)
{
	struct sim_vm *vm = bsp->vm;
	struct sim_gvm *gvm = GVM(vm);
	struct sim_vcpu *ap = &vm->vcpus[gvm->target];
	switch (d) {
	case D_INIT:
		s->st.ap_attempts++;
		guest_send_icr(s, bsp, icr(ap->idx, CVM_DM_INIT, 0, CVM_SH_NONE));
		gvm->due = D_SIPI; /* right behind it, as the guest sends them */
		break;
	case D_SIPI:
		gvm->awaits = G(ap)->boots + 1;
		guest_send_icr(s, bsp, icr(ap->idx, CVM_DM_STARTUP, SIPI_VEC, CVM_SH_NONE));
		break;
	default:
		guest_send_icr(s, bsp, icr(ap->idx, CVM_DM_STARTUP, SIPI_VEC, CVM_SH_NONE));
		if (++gvm->extra < vm->cfg->workload.extra_sipis)
			gvm->due = D_EXTRA_SIPI;
		else
			cycle_next_target(s, vm);
		break;
	}
	return EXIT_ICR;
}

/* The BSP runs the action that is due. */
static enum sim_exit script_act(struct cvm_sim *s, struct sim_vcpu *bsp, uint64_t *host)
{
	struct sim_vm *vm = bsp->vm;
	struct sim_gvm *gvm = GVM(vm);
	const struct cvm_sim_workload *w = W(bsp);
	struct sim_vcpu *ap = &vm->vcpus[gvm->target];
	uint8_t d = gvm->due;
	gvm->due = D_NONE;
	*host = s->sc->costs.irq_entry;
	if (w->type == CVM_WL_INIT_SIPI)
		return cycle_act(s, bsp, d);
	switch (d) {
	case D_OFFLINE:
		G(ap)->go_offline = true;
		guest_send_icr(s, bsp, icr(ap->idx, CVM_DM_FIXED, VEC_RESCHED, CVM_SH_NONE));
		script_at(s, vm, w->online_period, G_ONLINE);
		break;
	case D_INIT:
		s->st.ap_attempts++;
		guest_send_icr(s, bsp, icr(ap->idx, CVM_DM_INIT, 0, CVM_SH_NONE));
		script_at(s, vm, INIT_DELAY, G_SIPI);
		break;
	default:
		guest_send_icr(s, bsp, icr(ap->idx, CVM_DM_STARTUP, SIPI_VEC, CVM_SH_NONE));
		script_at(s, vm, w->sipi_timeout, G_CHECK);
		break;
	}
	return EXIT_ICR;
}

void wl_booted(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_guest *g = G(v);
	guest_lapic_setup(s, v);
	g->if_flag = true;
	g->online = true;
	if (v->idx != 0)
		g->ws = WS_START;
	if (sim_tracing(s))
		sim_trace(s, "vcpu%u online", v->gid);
	if (v->idx != 0 && W(v)->type == CVM_WL_INIT_SIPI)
		cycle_ap_up(s, v->vm);
}

/* ---- steps ---- */

static enum sim_exit run(struct cvm_sim *s, struct sim_vcpu *v, uint64_t ns, uint64_t *work)
{
	guest_set_phase(s, v, PH_WORK, ns ? ns : 1);
	*work = G(v)->left;
	return EXIT_NR;
}

static enum sim_exit go_idle(struct cvm_sim *s, struct sim_vcpu *v, uint64_t *work)
{
	const struct cvm_sim_workload *w = W(v);
	if (w->type != CVM_WL_MWAIT_IDLE)
		return guest_hlt(s, v, true);
	if (w->mwait == CVM_MWAIT_NATIVE) {
		guest_set_phase(s, v, PH_SPIN, CVM_SIM_NEVER);
		*work = CVM_SIM_NEVER;
		return EXIT_NR;
	}
	guest_set_phase(s, v, PH_POLL, w->mwait_poll);
	*work = w->mwait_poll;
	return EXIT_NR;
}

enum sim_exit wl_next(struct cvm_sim *s, struct sim_vcpu *v, uint64_t *work, uint64_t *host)
{
	struct sim_guest *g = G(v);
	const struct cvm_sim_workload *w = W(v);
	if (v->idx == 0 && GVM(v->vm)->due && !cvm_lc_in_smm(&g->lc))
		return script_act(s, v, host);
	switch (g->ws) {
	case WS_BOOT_INIT:
		g->ws = WS_BOOT_SIPI;
		if (v->vm->nvcpus > 1) {
			*host = s->sc->costs.irq_entry;
			guest_send_icr(s, v, icr(0, CVM_DM_INIT, 0, CVM_SH_ALL_BUT_SELF));
			return EXIT_ICR;
		}
		break;
	case WS_BOOT_SIPI:
		g->ws = WS_START;
		if (v->vm->nvcpus > 1) {
			*host = s->sc->costs.irq_entry;
			guest_send_icr(s, v, icr(0, CVM_DM_STARTUP, SIPI_VEC, CVM_SH_ALL_BUT_SELF));
			return EXIT_ICR;
		}
		break;
	case WS_HLT_NEXT:
		g->ws = WS_RUN;
		return guest_hlt(s, v, true);
	case WS_OFFLINE:
		return guest_hlt(s, v, false);
	case WS_DONE:
		return run(s, v, CHUNK_NS, work);
	default:
		break;
	}
	if (g->phase == PH_WORK && g->left) {
		*work = g->left;
		return EXIT_NR;
	}
	bool start = g->ws == WS_START;
	if (start)
		g->ws = WS_RUN;
	switch (w->type) {
	case CVM_WL_CPU_BOUND:
	case CVM_WL_CPU_HOTPLUG:
	case CVM_WL_INIT_SIPI:
		return run(s, v, CHUNK_NS, work);
	case CVM_WL_TIMER:
		if (w->oneshot)
			guest_lapic_oneshot(s, v);
		return guest_hlt(s, v, true);
	case CVM_WL_HLT_IDLE:
		return guest_hlt(s, v, true);
	case CVM_WL_IPI_PINGPONG:
		if (start && v->idx % 2 == 0) {
			g->ws = WS_SEND;
			return run(s, v, cvm_sim_dist_draw(&w->think, &g->rng), work);
		}
		if (g->ws == WS_SEND) {
			/* the partner's local APIC refuses fixed IPIs until it is up: wait */
			if (!G(&v->vm->vcpus[v->idx ^ 1u])->online)
				return run(s, v, cvm_sim_dist_draw(&w->think, &g->rng), work);
			g->sent++;
			g->ws = w->rounds && g->got >= w->rounds ? WS_DONE : WS_HLT_NEXT;
			*host = s->sc->costs.irq_entry;
			guest_send_icr(s, v, icr(v->idx ^ 1u, CVM_DM_FIXED, VEC_IPI, CVM_SH_NONE));
			return EXIT_ICR;
		}
		return guest_hlt(s, v, true);
	case CVM_WL_MWAIT_IDLE:
		if (g->phase == PH_POLL) {
			/* one turn of the idle loop ends in MWAIT, which exits under these policies */
			s->st.mwait_exits++;
			v->vm->mwait_exits++;
			guest_set_phase(s, v, PH_POLL, w->mwait_poll);
			return EXIT_MWAIT;
		}
		return go_idle(s, v, work);
	}
	return run(s, v, CHUNK_NS, work);
}

void wl_after_irq(struct cvm_sim *s, struct sim_vcpu *v, uint8_t vec)
{
	struct sim_guest *g = G(v);
	const struct cvm_sim_workload *w = W(v);
	bool idle = g->phase == PH_NONE || g->phase == PH_SPIN || g->phase == PH_POLL;
	switch (w->type) {
	case CVM_WL_TIMER:
		if (vec != VEC_TIMER)
			break;
		if (w->rounds && ++g->got >= w->rounds) {
			guest_lapic_stop_timer(s, v);
			g->ws = WS_DONE;
		} else if (idle) {
			guest_set_phase(s, v, PH_WORK, cvm_sim_dist_draw(&w->work, &g->rng));
		}
		break;
	case CVM_WL_HLT_IDLE:
	case CVM_WL_MWAIT_IDLE:
		if (vec != VEC_DEVICE)
			break;
		if (idle)
			guest_set_phase(s, v, PH_WORK, cvm_sim_dist_draw(&w->busy, &g->rng));
		else if (g->phase == PH_WORK)
			g->left += cvm_sim_dist_draw(&w->busy, &g->rng);
		break;
	case CVM_WL_IPI_PINGPONG:
		if (vec != VEC_IPI)
			break;
		g->got++;
		if (w->rounds && g->sent >= w->rounds) {
			g->ws = WS_DONE; /* the partner's last answer */
			break;
		}
		g->ws = WS_SEND;
		guest_set_phase(s, v, PH_WORK, cvm_sim_dist_draw(&w->think, &g->rng));
		break;
	case CVM_WL_CPU_HOTPLUG:
		if (vec == VEC_RESCHED && g->go_offline) {
			/* play_dead: the AP stops its timer and halts with interrupts off */
			g->go_offline = false;
			g->online = false;
			g->ws = WS_OFFLINE;
			g->depth = 0;
			guest_lapic_stop_timer(s, v);
			guest_set_phase(s, v, PH_NONE, 0);
			if (sim_tracing(s))
				sim_trace(s, "vcpu%u offline (cli; hlt)", v->gid);
		}
		break;
	default:
		break;
	}
}

/* ---- VMM work (mwait-idle) ---- */

static void record_vmm(struct cvm_sim *s, struct sim_vm *vm, const struct sim_item *it,
                       uint64_t start)
{
	uint64_t d = start > it->arrival ? start - it->arrival : 0;
	sim_hist_add(&s->vmm_delay, d);
	sim_hist_add(&vm->vmm_delay, d);
	s->st.vmm_work_done++;
	vm->vmm_work_done++;
}

void guest_vmm_work_event(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_guest *g = G(v);
	const struct cvm_sim_workload *w = W(v);
	uint64_t gap = cvm_sim_arrival_gap(&w->vmm_work, &g->rng);
	if (gap != CVM_SIM_NEVER)
		sim_at(s, sim_now(s) + gap, EV_VMM_WORK, v->gid, 0, 0);
	struct sim_item it = {.arrival = sim_now(s),
	                      .left = cvm_sim_dist_draw(&w->vmm_work_cost, &g->rng)};
	if (!itemq_push(&g->vmmq, it)) {
		sim_fail(s, -ENOMEM);
		return;
	}
	struct sim_task *t = g->worker;
	if (t && t->state == TS_BLOCKED) {
		t->left = it.left + s->sc->costs.wake;
		task_wake(s, t);
	}
}

void wl_worker_done(struct cvm_sim *s, struct sim_task *t)
{
	struct sim_guest *g = G(t->vcpu);
	struct sim_item *it = itemq_front(&g->vmmq);
	if (it) {
		uint64_t cost = it->left;
		record_vmm(s, t->vcpu->vm, it, sim_now(s) - cost);
		itemq_pop(&g->vmmq);
	}
	it = itemq_front(&g->vmmq);
	if (it) {
		t->left = it->left;
		cpu_arm_segment(s, &s->cpus[t->cpu]);
		return;
	}
	task_block(s, t);
}

uint64_t wl_exit_work(struct cvm_sim *s, struct sim_vcpu *v, enum sim_exit reason)
{
	const struct cvm_sim_workload *w = W(v);
	if (w->type != CVM_WL_MWAIT_IDLE || reason != EXIT_MWAIT)
		return 0;
	if (w->mwait == CVM_MWAIT_YIELD) {
		v->want_yield = true;
		return s->sc->costs.yield;
	}
	if (w->mwait != CVM_MWAIT_EXIT)
		return 0;
	/* out to the VMM, which runs its queued work on the vCPU's thread, then re-enters */
	struct sim_guest *g = G(v);
	uint64_t cost = s->sc->costs.exit_user;
	for (; g->vmmq.n; itemq_pop(&g->vmmq)) {
		struct sim_item *it = itemq_front(&g->vmmq);
		record_vmm(s, v->vm, it, sim_now(s) + cost);
		cost += it->left;
	}
	return cost;
}
