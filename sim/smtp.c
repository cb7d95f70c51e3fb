/* The SMT-protection hardware model (AMD SEV-SNP): IDLE_REQUIRED exits and HLT_WAKEUP_ICR kicks, as the reference describes. */
#include "sim/sim_internal.h"
#include "sim/strategy.h"

/*
 * The rules (../shared/reference/x86-vcpu-lifecycle.md, "SMT protection"):
 *  - a protected vCPU runs only while every other thread of its core is idle;
 *    a VMRUN with a busy sibling, or a sibling leaving idle during guest
 *    execution, ends in an IDLE_REQUIRED exit (vcpu.c checks the first, the
 *    second is smtp_cpu_left_idle());
 *  - an interrupt for an idle sibling of a running protected vCPU is first
 *    turned into a kick of that vCPU (HLT_WAKEUP_ICR); the sibling leaves idle
 *    to serve it only once the vCPU has exited (smtp_irq_for_idle(), then
 *    smtp_vcpu_exited()).
 * "Idle" is the hardware's view: the CPU executes nothing (HLT / C-state), or
 * it is offline. A forced-idle CPU is idle.
 */

/* The protected vCPU executing guest code on c, if any. */
static struct sim_vcpu *guest_on(const struct sim_cpu *c)
{
	if (c->irq_active || c->kth_active || !c->curr || c->curr->kind != TASK_VCPU)
		return NULL;
	struct sim_vcpu *v = c->curr->vcpu;
	return v->protect && vcpu_in_guest(v) ? v : NULL;
}

struct sim_vcpu *smtp_guest_sibling(struct cvm_sim *s, const struct sim_cpu *c)
{
	const uint32_t *cc = core_cpus(s, c->core);
	for (unsigned int i = 0; i < s->tpc; i++) {
		struct sim_cpu *sb = &s->cpus[cc[i]];
		struct sim_vcpu *v = sb != c ? guest_on(sb) : NULL;
		if (v)
			return v;
	}
	return NULL;
}

void smtp_cpu_left_idle(struct cvm_sim *s, struct sim_cpu *c)
{
	if (c->held)
		cpu_release_held(s, c); /* busy now: its interrupts are taken normally */
	const uint32_t *cc = core_cpus(s, c->core);
	for (unsigned int i = 0; i < s->tpc; i++) {
		struct sim_cpu *sb = &s->cpus[cc[i]];
		struct sim_vcpu *v = sb != c ? guest_on(sb) : NULL;
		if (v) {
			if (sim_tracing(s))
				sim_trace(s, "cpu%u leaves idle: vcpu%u idle-required", c->id,
				          v->gid);
			vcpu_force_exit(s, v, EXIT_IDLE_REQUIRED);
		}
	}
}

void smtp_cpu_became_idle(struct cvm_sim *s, struct sim_cpu *c)
{
	const uint32_t *cc = core_cpus(s, c->core);
	for (unsigned int i = 0; i < s->tpc; i++) {
		struct sim_cpu *sb = &s->cpus[cc[i]];
		if (sb == c || sb->irq_active || sb->kth_active || !sb->curr ||
		    sb->curr->kind != TASK_VCPU)
			continue;
		struct sim_vcpu *v = sb->curr->vcpu;
		if ((v->mode == VM_SPIN || v->mode == VM_WAIT) && siblings_idle(s, sb))
			vcpu_siblings_idle(s, v);
	}
}

bool smtp_irq_for_idle(struct cvm_sim *s, struct sim_cpu *c)
{
	struct sim_vcpu *v = smtp_guest_sibling(s, c);
	if (!v)
		return false;
	c->held = true;
	c->held_for = v;
	s->st.hlt_wakeups++;
	if (sim_tracing(s))
		sim_trace(s, "cpu%u irq while idle: hlt-wakeup-icr kicks vcpu%u", c->id, v->gid);
	vcpu_kick(s, v, s->sc->costs.hlt_wakeup, EXIT_HLT_WAKEUP);
	return true;
}

void smtp_vcpu_exited(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (v->task.cpu < 0)
		return;
	const struct sim_cpu *c = &s->cpus[v->task.cpu];
	const uint32_t *cc = core_cpus(s, c->core);
	for (unsigned int i = 0; i < s->tpc; i++) {
		struct sim_cpu *sb = &s->cpus[cc[i]];
		if (sb->held && sb->held_for == v)
			cpu_release_held(s, sb);
	}
}
