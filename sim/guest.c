/* The simulated guests run through the real core: lifecycle state machine, local APIC and IPI routing for every vCPU. */
#include "sim/guest.h"

#include <errno.h>
#include <stdlib.h>

#include "sim/strategy.h"

/*
 * How a vCPU's guest time is spent: the guest executes "chunks" (work, an
 * interrupt handler, the SMI handler, boot code, an idle loop). Entering the
 * guest, the host asks the core for the next action (cvm_lc_next with the
 * local APIC's pending state): INIT reset, SIPI entry, SMM entry and interrupt
 * injection push or replace chunks; BLOCK puts the thread to sleep. When a
 * chunk ends the guest acts: EOI (local APIC), RSM (lifecycle), or the
 * workload's next step (HLT, an ICR write routed by the apic bus, ...). A
 * chunk cut short by an exit keeps its remaining guest time.
 */

#define X2APIC_MSR(off) (CVM_MSR_X2APIC_FIRST + (off) / 16u)

static uint64_t now_of(struct cvm_sim *s)
{
	return sim_now(s);
}

static void timer_sync(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_guest *g = G(v);
	uint64_t d = cvm_lapic_next_deadline(&g->apic);
	g->timer_gen++;
	if (d != CVM_NO_DEADLINE)
		sim_arm(s, vcpu_timer(s, v->gid, T_LAPIC), d, EV_LAPIC, v->gid, g->timer_gen, 0);
}

int guest_init(struct cvm_sim *s)
{
	for (unsigned int i = 0; i < s->nvms; i++) {
		struct sim_vm *vm = &s->vms[i];
		struct sim_gvm *gvm = calloc(1, sizeof(*gvm));
		if (!gvm)
			return -ENOMEM;
		vm->wl = gvm;
		if (cvm_apic_bus_init(&gvm->bus, vm->nvcpus))
			return -EINVAL;
		for (unsigned int j = 0; j < vm->nvcpus; j++) {
			struct sim_vcpu *v = &vm->vcpus[j];
			struct sim_guest *g = calloc(1, sizeof(*g));
			if (!g)
				return -ENOMEM;
			v->g = g;
			cvm_lc_power_on(&g->lc, j == 0 ? CVM_LC_OPT_BSP : 0);
			struct cvm_lapic_config cfg = {
			        .apic_id = j,
			        .bsp = j == 0,
			        .x2apic = true,
			        .bus_cycle_ns = 1,
			};
			cvm_lapic_power_on(&g->apic, &cfg);
			cvm_apic_bus_update(&gvm->bus, j, &g->apic);
			cvm_rng_init(&g->rng, s->opt.seed, (UINT64_C(5) << 40) + v->gid);
		}
		/* Power on: the BSP runs its boot code; the APs wait for INIT-SIPI. */
		struct sim_vcpu *bsp = &vm->vcpus[0];
		guest_set_phase(s, bsp, PH_BOOT, 20000);
		vcpu_wake(s, bsp);
	}
	return wl_init(s);
}

void guest_fini(struct cvm_sim *s)
{
	if (!s->vcpus)
		return;
	wl_fini(s);
	for (unsigned int i = 0; i < s->nvcpus; i++) {
		struct sim_guest *g = s->vcpus[i].g;
		if (g) {
			itemq_free(&g->vmmq);
			free(g->worker);
		}
		free(g);
		s->vcpus[i].g = NULL;
	}
	for (unsigned int i = 0; s->vms && i < s->nvms; i++) {
		free(s->vms[i].wl);
		s->vms[i].wl = NULL;
	}
}

void guest_set_phase(struct cvm_sim *s, struct sim_vcpu *v, enum gphase ph, uint64_t left)
{
	struct sim_guest *g = G(v);
	g->phase = (uint8_t)ph;
	g->left = left;
	if (ph == PH_SPIN || ph == PH_POLL)
		vcpu_set_quiescent(s, v, true);
	else if (ph == PH_WORK || ph == PH_HANDLER || ph == PH_BOOT)
		vcpu_set_quiescent(s, v, false);
}

static void push(struct sim_guest *g)
{
	if (g->depth < sizeof(g->stack) / sizeof(g->stack[0]))
		g->stack[g->depth++] = (struct gframe){g->phase, g->if_flag, g->left};
}

static void pop(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_guest *g = G(v);
	if (!g->depth) {
		guest_set_phase(s, v, PH_NONE, 0);
		return;
	}
	struct gframe f = g->stack[--g->depth];
	g->if_flag = f.if_flag;
	guest_set_phase(s, v, (enum gphase)f.phase, f.left);
}

bool guest_idle_chunk(const struct sim_vcpu *v)
{
	uint8_t ph = G(v)->phase;
	return ph == PH_SPIN || ph == PH_POLL || ph == PH_SMM;
}

static bool wl_due(const struct sim_vcpu *v)
{
	return v->idx == 0 && GVM(v->vm)->due && !cvm_lc_in_smm(&G(v)->lc);
}

enum sim_gact guest_prepare(struct cvm_sim *s, struct sim_vcpu *v, uint64_t *work)
{
	struct sim_guest *g = G(v);
	const struct cvm_sim_workload *w = &v->vm->cfg->workload;
	for (unsigned int guard = 0; guard < 16; guard++) {
		struct cvm_lc_inputs in = {
		        .intr_pending = cvm_lapic_pending(&g->apic) >= 0,
		        .intr_window = g->if_flag && g->phase != PH_HANDLER && g->phase != PH_SMM,
		};
		struct cvm_lc_action act = cvm_lc_next(&g->lc, &g->ctr, &in);
		switch ((enum cvm_lc_act)act.kind) {
		case CVM_ACT_RUN:
			*work = wl_due(v) ? 0 : g->left;
			return GACT_RUN;
		case CVM_ACT_BLOCK:
		case CVM_ACT_STOP:
		case CVM_ACT_PAUSE:
			return GACT_BLOCK;
		case CVM_ACT_INIT_RESET: {
			struct cvm_lapic_fx fx;
			cvm_lapic_init_reset(&g->apic, &fx);
			if (fx.flags & CVM_FX_ROUTE)
				cvm_apic_bus_update(&GVM(v->vm)->bus, v->idx, &g->apic);
			if (fx.flags & CVM_FX_TIMER)
				timer_sync(s, v);
			g->depth = 0;
			g->if_flag = false;
			g->online = false;
			guest_set_phase(s, v, PH_NONE, 0);
			if (sim_tracing(s))
				sim_trace(s, "vcpu%u INIT reset (%s)", v->gid,
				          cvm_mp_state_name(cvm_lc_mp_state(&g->lc)));
			continue;
		}
		case CVM_ACT_SIPI_ENTRY:
			g->depth = 0;
			g->if_flag = false;
			guest_set_phase(s, v, PH_BOOT, w->ap_boot);
			if (sim_tracing(s))
				sim_trace(s, "vcpu%u SIPI entry vector 0x%02x", v->gid, act.vector);
			continue;
		case CVM_ACT_SMM_ENTER:
			push(g);
			g->if_flag = false;
			g->phase = PH_SMM;
			if (g->smm_until > sim_now(s)) {
				g->left = g->smm_until -
				          sim_now(s); /* released with the rendezvous */
				g->smm_until = 0;
			} else {
				g->left = cvm_sim_dist_draw(&w->smm_time, &g->rng);
			}

			if (sim_tracing(s))
				sim_trace(s, "vcpu%u enters SMM", v->gid);
			vcpu_acct(s, v);
			continue;
		case CVM_ACT_INJECT_INTR: {
			int vec = cvm_lapic_ack(&g->apic, &g->ctr);
			if (vec < 0)
				continue;
			push(g);
			g->if_flag = false;
			g->vec = (uint8_t)vec;
			guest_set_phase(s, v, PH_HANDLER, w->handler ? w->handler : 1);
			continue;
		}
		case CVM_ACT_HOLD_RELEASE:
		case CVM_ACT_INJECT_NMI:
			continue;
		}
	}
	*work = g->left;
	return GACT_RUN;
}

void guest_account(struct cvm_sim *s, struct sim_vcpu *v, uint64_t ran)
{
	struct sim_guest *g = G(v);
	if (g->left != CVM_SIM_NEVER)
		g->left = ran >= g->left ? 0 : g->left - ran;
	if (g->phase == PH_WORK || g->phase == PH_HANDLER || g->phase == PH_BOOT)
		vcpu_progress(s, v, ran, sim_now(s) - ran);
}

enum sim_exit guest_step(struct cvm_sim *s, struct sim_vcpu *v, uint64_t *work, uint64_t *host)
{
	struct sim_guest *g = G(v);
	*host = 0;
	switch ((enum gphase)g->phase) {
	case PH_HANDLER: {
		struct cvm_lapic_fx fx = {0};
		uint8_t vec = g->vec;
		cvm_lapic_eoi(&g->apic, &g->ctr, &fx);
		pop(s, v);
		wl_after_irq(s, v, vec);
		if (cvm_lapic_pending(&g->apic) >= 0 && g->if_flag)
			return EXIT_WINDOW;
		break;
	}
	case PH_SMM:
		cvm_lc_rsm(&g->lc, &g->ctr);
		pop(s, v);
		if (sim_tracing(s))
			sim_trace(s, "vcpu%u RSM (%s)", v->gid,
			          cvm_mp_state_name(cvm_lc_mp_state(&g->lc)));
		return EXIT_RSM;
	case PH_BOOT:
		guest_set_phase(s, v, PH_NONE, 0);
		g->boots++;
		wl_booted(s, v);
		break;
	default:
		break;
	}
	if (g->left && !wl_due(v) && g->phase != PH_NONE) {
		*work = g->left;
		return EXIT_NR;
	}
	enum sim_exit e = wl_next(s, v, work, host);
	if (e == EXIT_NR && !*work)
		*work = 1;
	return e;
}

uint64_t guest_exit_work(struct cvm_sim *s, struct sim_vcpu *v, enum sim_exit reason)
{
	return wl_exit_work(s, v, reason);
}

enum sim_exit guest_hlt(struct cvm_sim *s, struct sim_vcpu *v, bool if_flag)
{
	struct sim_guest *g = G(v);
	g->if_flag = if_flag;
	guest_set_phase(s, v, PH_NONE, 0);
	cvm_lc_hlt(&g->lc, &g->ctr);
	return EXIT_HLT;
}

/* An interrupt or signal was accepted for v: wake its thread, or kick it out of the guest. */
static void notify(struct cvm_sim *s, struct sim_vcpu *v, unsigned int mode)
{
	if (v->blocked && (mode == CVM_DM_FIXED || mode == CVM_DM_LOWEST) && !G(v)->if_flag)
		return; /* halted with interrupts off: only INIT, NMI, SMI wake it */
	vcpu_wake(s, v);
}

static void deliver(struct cvm_sim *s, struct sim_vm *vm, const struct cvm_apic_msg *m)
{
	cvm_apic_set targets;
	struct sim_gvm *gvm = GVM(vm);
	if (!cvm_apic_resolve(&gvm->bus, m, NULL, NULL, targets))
		return;
	unsigned int i;
	cvm_bitmap_for_each(i, targets, vm->nvcpus)
	{
		struct sim_vcpu *t = &vm->vcpus[i];
		if (m->src != CVM_APIC_SRC_NONE)
			G(t)->ipis_received++;
		enum cvm_disp d = cvm_apic_accept(&G(t)->apic, &G(t)->lc, &G(t)->ctr, m);
		if (m->mode == CVM_DM_FIXED && d == CVM_DISP_ACCEPTED)
			s->st.ipis_delivered++;
		if (sim_tracing(s))
			sim_trace(s, "vcpu%u accepts mode %u vector 0x%02x: %s", t->gid, m->mode,
			          m->vector,
			          d == CVM_DISP_ACCEPTED  ? "accepted"
			          : d == CVM_DISP_LATCHED ? "latched"
			          : d == CVM_DISP_MERGED  ? "merged"
			                                  : "discarded");
		if (d == CVM_DISP_ACCEPTED)
			notify(s, t, m->mode);
	}
}

void guest_send_icr(struct cvm_sim *s, struct sim_vcpu *v, uint64_t icr)
{
	struct sim_guest *g = G(v);
	struct cvm_lapic_fx fx = {0};
	if (cvm_lapic_msr_write(&g->apic, &g->ctr, X2APIC_MSR(CVM_APIC_ICR_LO), icr, now_of(s),
	                        &fx) != CVM_APIC_OK)
		return;
	unsigned int mode = (unsigned int)(icr >> 8) & 7u;
	if (fx.flags & CVM_FX_IPI)
		g->ipis_sent++;
	if (mode == CVM_DM_STARTUP)
		s->st.sipis_sent++;
	else if (mode == CVM_DM_INIT)
		s->st.inits_sent++;
	else
		s->st.ipis_sent++;
	if (fx.flags & CVM_FX_IPI)
		deliver(s, v->vm, &fx.ipi);
}

void guest_vmm_signal(struct cvm_sim *s, struct sim_vm *vm, struct sim_vcpu *to, unsigned int mode)
{
	struct cvm_apic_msg m = {
	        .src = CVM_APIC_SRC_NONE,
	        .mode = (uint8_t)mode,
	        .flags = CVM_MSG_ASSERT,
	};
	for (unsigned int i = 0; i < vm->nvcpus; i++) {
		struct sim_vcpu *t = &vm->vcpus[i];
		if (to && t != to)
			continue;
		enum cvm_disp d = cvm_apic_accept(&G(t)->apic, &G(t)->lc, &G(t)->ctr, &m);
		if (sim_tracing(s))
			sim_trace(s, "vcpu%u VMM signal mode %u: %s (%s%s)", t->gid, mode,
			          d == CVM_DISP_ACCEPTED  ? "accepted"
			          : d == CVM_DISP_LATCHED ? "latched"
			          : d == CVM_DISP_MERGED  ? "merged"
			                                  : "discarded",
			          cvm_mp_state_name(cvm_lc_mp_state(&G(t)->lc)),
			          cvm_lc_in_smm(&G(t)->lc) ? ", in SMM" : "");
		if (d == CVM_DISP_ACCEPTED)
			notify(s, t, mode);
	}
}

void guest_lapic_setup(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_guest *g = G(v);
	const struct cvm_sim_workload *w = &v->vm->cfg->workload;
	struct cvm_lapic_fx fx = {0};
	uint64_t base = CVM_APIC_DEFAULT_BASE | CVM_APIC_BASE_EN | CVM_APIC_BASE_EXTD |
	                (v->idx == 0 ? CVM_APIC_BASE_BSP : 0);
	cvm_lapic_set_base(&g->apic, base, false, &fx);
	cvm_lapic_msr_write(&g->apic, &g->ctr, X2APIC_MSR(CVM_APIC_SVR), CVM_SVR_ENABLE | 0xffu,
	                    now_of(s), &fx);
	if (w->tick_hz) {
		cvm_lapic_msr_write(&g->apic, &g->ctr, X2APIC_MSR(CVM_APIC_TDCR), 0xbu, now_of(s),
		                    &fx);
		cvm_lapic_msr_write(&g->apic, &g->ctr, X2APIC_MSR(CVM_APIC_LVT_TIMER),
		                    VEC_TIMER | (w->oneshot ? 0 : CVM_LVT_TIMER_PERIODIC),
		                    now_of(s), &fx);
		cvm_lapic_msr_write(&g->apic, &g->ctr, X2APIC_MSR(CVM_APIC_TMICT),
		                    1000000000ull / w->tick_hz, now_of(s), &fx);
	}
	cvm_apic_bus_update(&GVM(v->vm)->bus, v->idx, &g->apic);
	timer_sync(s, v);
}

void guest_lapic_stop_timer(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_guest *g = G(v);
	struct cvm_lapic_fx fx = {0};
	cvm_lapic_msr_write(&g->apic, &g->ctr, X2APIC_MSR(CVM_APIC_TMICT), 0, now_of(s), &fx);
	timer_sync(s, v);
}

void guest_lapic_oneshot(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_guest *g = G(v);
	const struct cvm_sim_workload *w = &v->vm->cfg->workload;
	struct cvm_lapic_fx fx = {0};
	if (cvm_lapic_next_deadline(&g->apic) != CVM_NO_DEADLINE)
		return;
	cvm_lapic_msr_write(&g->apic, &g->ctr, X2APIC_MSR(CVM_APIC_TMICT),
	                    1000000000ull / w->tick_hz, now_of(s), &fx);
	timer_sync(s, v);
}

void guest_lapic_event(struct cvm_sim *s, struct sim_vcpu *v, uint32_t gen)
{
	struct sim_guest *g = G(v);
	if (gen != g->timer_gen)
		return;
	cvm_lapic_timer_expire(&g->apic, &g->ctr, now_of(s));
	timer_sync(s, v);
	if (cvm_lapic_pending(&g->apic) < 0 || v->task.cpu < 0)
		return;
	if (v->blocked && !g->if_flag)
		return;
	/* KVM's hrtimer behind the guest's timer fires on the CPU of the vCPU's thread. */
	struct sim_cpu *c = &s->cpus[v->task.cpu];
	if (!c->online) {
		vcpu_wake(s, v);
		return;
	}
	struct sim_item it = {.arrival = now_of(s), .src = SIM_SRC_VTIMER, .wake = v->gid + 1};
	irq_enqueue(s, c, it);
}

void guest_device_event(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_guest *g = G(v);
	const struct cvm_sim_workload *w = &v->vm->cfg->workload;
	uint64_t gap = cvm_sim_arrival_gap(&w->wake, &g->rng);
	if (gap != CVM_SIM_NEVER)
		sim_at(s, now_of(s) + gap, EV_DEVICE, v->gid, 0, 0);
	if (!g->online)
		return;
	if (cvm_lapic_accept_irq(&g->apic, &g->ctr, VEC_DEVICE, false) == CVM_DISP_ACCEPTED)
		notify(s, v, CVM_DM_FIXED);
}

void guest_poke(struct cvm_sim *s, struct sim_vcpu *v)
{
	vcpu_end_chunk(s, v);
}

void guest_worker_done(struct cvm_sim *s, struct sim_task *t)
{
	wl_worker_done(s, t);
}

void guest_collect(struct cvm_sim *s, struct cvm_sim_result *r)
{
	for (unsigned int i = 0; i < s->nvcpus; i++) {
		const struct cvm_counters *c = &G(&s->vcpus[i])->ctr;
		r->sipis_accepted += c->n[CVM_CTR_SIPI_ACCEPTED];
		r->sipis_discarded +=
		        c->n[CVM_CTR_SIPI_DISCARDED_SMM] + c->n[CVM_CTR_SIPI_DISCARDED_RUNNING] +
		        c->n[CVM_CTR_SIPI_DISCARDED_HALTED] + c->n[CVM_CTR_SIPI_DISCARDED_UNINIT] +
		        c->n[CVM_CTR_SIPI_DISCARDED_PENDING] + c->n[CVM_CTR_SIPI_DISCARDED_HOLD] +
		        c->n[CVM_CTR_SIPI_DISCARDED_OTHER];
		r->smis += c->n[CVM_CTR_SMI_TAKEN];
		r->halts += c->n[CVM_CTR_HALTS];
		r->intr_injected += c->n[CVM_CTR_INTR_INJECTED];
	}
	r->ipis_delivered = s->st.ipis_delivered;
}

void guest_collect_vm(const struct sim_vm *vm, struct cvm_sim_vm_result *x)
{
	for (unsigned int j = 0; j < vm->nvcpus; j++) {
		const struct sim_guest *g = G(&vm->vcpus[j]);
		for (unsigned int k = 0; k < CVM_CTR_NR; k++)
			x->lc[k] += g->ctr.n[k];
		x->ipis_sent += g->ipis_sent;
		x->ipis_received += g->ipis_received;
	}
}
