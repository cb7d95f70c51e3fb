/*
 * Fuzz target: the GHCB MSR protocol (vmm/ghcb.c) of 2-4 fabricated vCPUs of a
 * fabricated VM in the user irqchip, as tests/vmm/test_irqchip.c builds it:
 * guest RDMSR/WRMSR exits of MSR 0xC0010130 (arbitrary values and the AP reset
 * hold request), INIT and SIPI IPIs sent through the sender's xAPIC ICR page
 * or x2APIC ICR MSR, and each vCPU's look before KVM_RUN. Checked after every
 * step: the GHCB statistics add up, a read returns what the protocol says
 * (the value written, "not woken" after a hold request, the response after a
 * release), a hold is released only by INIT then SIPI, and with protected
 * state no register write reaches KVM after launch.
 */
#include <string.h>

#include "fuzz/fuzz.h"
#include "fuzz/fuzz_ops.h"
#include "tests/vmm/fake_vm.h"
#include "vmm/ghcb.h"
#include "vmm/irqchip_user.h"
#include "vmm/regs_gate.h"

#define MAXV     4u
#define RUN_SIZE 8192
#define APIC     0xfee00000ull

/* ---- a fake KVM: answers what the user irqchip asks, counts register writes ---- */

static bool no_sync_regs;
static unsigned int reg_sets; /* register-set ioctls issued (APIC_BASE excluded) */

static int fake_ioctl(int fd, unsigned long req, void *arg)
{
	(void)fd;
	switch (req) {
	case KVM_CHECK_EXTENSION:
		if ((long)arg == KVM_CAP_SYNC_REGS)
			return no_sync_regs ? 0 : 7;
		return 1;
	case KVM_GET_TSC_KHZ:
		return 2000000;
	case KVM_GET_CPUID2:
		((struct kvm_cpuid2 *)arg)->nent = 0;
		return 0;
	case KVM_SET_MSRS:
		/* The APIC base is APIC state, not a register write (regs_gate.h). */
		if (((struct kvm_msrs *)arg)->entries[0].index != CVM_MSR_APIC_BASE)
			reg_sets++;
		return 1;
	case KVM_GET_MSRS:
		((struct kvm_msrs *)arg)->entries[0].data = 0;
		return 1;
	case KVM_GET_SREGS:
		memset(arg, 0, sizeof(struct kvm_sregs));
		((struct kvm_sregs *)arg)->cr0 = 0x60000010; /* after RESET */
		return 0;
	case KVM_GET_DEBUGREGS:
		return cvm_fake_debugregs_reset(arg);
	case KVM_GET_VCPU_EVENTS:
		memset(arg, 0, sizeof(struct kvm_vcpu_events));
		return 0;
	case KVM_SET_REGS:
	case KVM_SET_SREGS:
	case KVM_SET_FPU:
	case KVM_SET_XCRS:
	case KVM_SET_DEBUGREGS:
	case KVM_SET_VCPU_EVENTS:
		reg_sets++;
		return 0;
	case KVM_SIGNAL_MSI:
		return 1;
	default:
		return 0;
	}
}

/* ---- the world: a VM and what the target knows of each vCPU ---- */

struct gv {
	bool running;      /* its last look said CONTINUE: it executes guest code */
	bool stopped;      /* its last look said STOP */
	uint64_t expect;   /* what a GHCB MSR read must return */
	bool held;         /* a hold request was accepted and not yet released */
	bool init_in_hold; /* an INIT was sent to it while held */
	bool sipi_after;   /* and a SIPI after that INIT */
	uint64_t reads, holds, released;
};

struct gw {
	struct cvm_vm vm;
	struct cvm_vcpu vcpu[MAXV];
	struct kvm_run *run[MAXV];
	struct gv g[MAXV];
	unsigned int n;
	bool built;
};

static struct gw world;

static struct cvm_uvcpu *uv(struct gw *w, unsigned int i)
{
	return cvm_uvcpu(&w->vcpu[i]);
}

/* What the vCPU loop does before KVM_RUN, and what it says about the vCPU. */
static void look(struct gw *w, unsigned int i, bool woken)
{
	enum cvm_vcpu_action a;

	if (w->g[i].stopped)
		return;
	w->vcpu[i].reeval |= woken;
	a = w->vm.irqchip->pre_entry(&w->vcpu[i]);
	w->g[i].running = a == CVM_VACT_CONTINUE;
	w->g[i].stopped = a == CVM_VACT_STOP;
	fz_trace("look vcpu %u: %d (mp %d)", i, (int)a, (int)uv(w, i)->lc.mp);
}

/* An MSR exit of vCPU i; returns run->msr.error, *data in/out. */
static uint8_t msr_exit(struct gw *w, unsigned int i, bool write, uint32_t index, uint64_t *data)
{
	struct kvm_run *run = w->run[i];
	enum cvm_vcpu_action a;

	run->exit_reason = write ? KVM_EXIT_X86_WRMSR : KVM_EXIT_X86_RDMSR;
	run->msr.index = index;
	run->msr.reason = index >= 0x800 && index < 0x900 ? KVM_MSR_EXIT_REASON_INVAL
	                                                  : KVM_MSR_EXIT_REASON_FILTER;
	run->msr.error = 0xee;
	run->msr.data = write ? *data : 0xdeadbeef;
	a = cvm_vcpu_handle_exit(&w->vcpu[i]);
	FZ_CHECK(a == CVM_VACT_CONTINUE, "vcpu %u MSR %#x exit: action %d", i, index, (int)a);
	if (!write)
		*data = run->msr.data;
	return run->msr.error;
}

/* vCPU `from` writes ICR low `lo` for APIC ID `to` (the ID is the index) in its mode. */
static void send_ipi(struct gw *w, unsigned int from, unsigned int to, uint32_t lo)
{
	if (cvm_lapic_x2apic(&uv(w, from)->lapic)) {
		uint64_t icr = (uint64_t)to << 32 | lo;
		FZ_CHECK(msr_exit(w, from, true, 0x830, &icr) == 0, "x2APIC ICR write #GP");
		return;
	}
	struct kvm_run *run = w->run[from];
	uint32_t val[2] = {to << 24, lo};
	for (unsigned int k = 0; k < 2; k++) {
		run->exit_reason = KVM_EXIT_MMIO;
		run->mmio.phys_addr = cvm_lapic_mmio_base(&uv(w, from)->lapic) +
		                      (k ? CVM_APIC_ICR_LO : CVM_APIC_ICR_HI);
		run->mmio.len = 4;
		run->mmio.is_write = true;
		memcpy(run->mmio.data, &val[k], 4);
		FZ_CHECK(cvm_vcpu_handle_exit(&w->vcpu[from]) == CVM_VACT_CONTINUE,
		         "ICR MMIO write");
	}
}

static void setup(void *arg, struct fz *f)
{
	struct gw *w = arg;
	uint8_t flags = fz_u8(f);

	memset(w, 0, sizeof(*w));
	reg_sets = 0;
	no_sync_regs = flags & FZ_GHCB_CFG_NO_SYNC_REGS;
	w->n = 2 + ((flags >> FZ_GHCB_CFG_N_SHIFT) & 3u) % 3;
	FZ_CHECK(cvm_fake_vm_init(&w->vm, w->vcpu, w->n, &cvm_irqchip_user_ops, fake_ioctl,
	                          flags & FZ_GHCB_CFG_PROTECTED) == 0,
	         "user irqchip create");
	for (unsigned int i = 0; i < w->n; i++) {
		w->run[i] = aligned_alloc(4096, RUN_SIZE);
		FZ_CHECK(w->run[i] != NULL, "kvm_run allocation");
		FZ_CHECK(cvm_fake_vcpu_init(&w->vm, i, w->run[i], RUN_SIZE) == 0, "vcpu_init %u",
		         i);
	}
	w->built = true;
	/* Measured state (if any) is loaded: from here on no register write. */
	atomic_store(&w->vm.launched, true);
	reg_sets = 0;
	for (unsigned int i = 0; i < w->n; i++)
		look(w, i, false);
	fz_trace("%u vCPUs, protected %d, sync regs %d", w->n, w->vm.protected_state,
	         !no_sync_regs);
}

static void teardown(struct gw *w)
{
	if (!w->built)
		return;
	w->vm.irqchip->destroy(&w->vm);
	for (unsigned int i = 0; i < w->n; i++) {
		cvm_mailbox_destroy(&w->vcpu[i].mbox);
		free(w->run[i]);
	}
	pthread_mutex_destroy(&w->vm.dev_lock);
	w->built = false;
}

static void check(struct gw *w)
{
	for (unsigned int i = 0; i < w->n; i++) {
		const struct cvm_vcpu *v = &w->vcpu[i];
		const struct cvm_vcpu_stats *s = &v->stats;
		struct gv *g = &w->g[i];

		FZ_CHECK(s->ghcb_writes == s->ghcb_unsupported + s->ghcb_malformed +
		                                   s->ghcb_no_hold_mode + s->ghcb_holds +
		                                   s->ghcb_hold_ignored,
		         "vcpu %u: %llu writes", i, (unsigned long long)s->ghcb_writes);
		FZ_CHECK(s->ghcb_reads == g->reads, "vcpu %u: %llu reads, %llu done", i,
		         (unsigned long long)s->ghcb_reads, (unsigned long long)g->reads);
		FZ_CHECK(s->ghcb_no_hold_mode == 0, "vcpu %u: the user irqchip holds", i);
		if (s->ghcb_holds != g->holds) {
			FZ_CHECK(s->ghcb_holds == g->holds + 1 && !g->held,
			         "vcpu %u: hold count %llu, %llu seen", i,
			         (unsigned long long)s->ghcb_holds, (unsigned long long)g->holds);
			g->holds++;
			g->held = true;
			g->init_in_hold = g->sipi_after = false;
		}
		if (s->ghcb_released != g->released) {
			FZ_CHECK(s->ghcb_released == g->released + 1, "vcpu %u: %llu releases", i,
			         (unsigned long long)s->ghcb_released);
			FZ_CHECK(g->held && g->init_in_hold && g->sipi_after,
			         "vcpu %u released: held %d, INIT %d, SIPI after it %d", i, g->held,
			         g->init_in_hold, g->sipi_after);
			g->released++;
			g->held = false;
			g->expect = CVM_GHCB_HOLD_WOKEN;
		}
		FZ_CHECK(s->ghcb_released == cvm_uvcpu(v)->ctr.n[CVM_CTR_HOLD_RELEASES],
		         "vcpu %u: %llu GHCB releases, %llu lifecycle hold releases", i,
		         (unsigned long long)s->ghcb_released,
		         (unsigned long long)cvm_uvcpu(v)->ctr.n[CVM_CTR_HOLD_RELEASES]);
		FZ_CHECK(!g->held || !g->running, "vcpu %u runs guest code while held", i);
		FZ_CHECK(v->ghcb_msr == g->expect, "vcpu %u: GHCB MSR %#llx, expected %#llx", i,
		         (unsigned long long)v->ghcb_msr, (unsigned long long)g->expect);
		if (w->vm.protected_state) {
			FZ_CHECK(!(w->run[i]->kvm_dirty_regs &
			           (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)),
			         "vcpu %u: registers marked dirty in kvm_run", i);
			FZ_CHECK(cvm_regs_refused(v) == 0, "vcpu %u: %llu register writes refused",
			         i, (unsigned long long)cvm_regs_refused(v));
		}
	}
	FZ_CHECK(!w->vm.protected_state || reg_sets == 0,
	         "%u register writes reached KVM after launch", reg_sets);
}

static void step(void *arg, struct fz *f)
{
	struct gw *w = arg;
	unsigned int op = fz_u8(f) % FZ_GHCB_NR_OPS;
	unsigned int i = fz_u8(f) % w->n;
	struct gv *g = &w->g[i];
	uint64_t val = 0;

	switch (op) {
	case FZ_GHCB_WRITE:
	case FZ_GHCB_HOLD:
		val = op == FZ_GHCB_HOLD ? CVM_GHCB_AP_RESET_HOLD_REQ : fz_u64(f);
		if (!g->running)
			break;
		fz_trace("vcpu %u writes %#llx", i, (unsigned long long)val);
		FZ_CHECK(msr_exit(w, i, true, CVM_MSR_GHCB, &val) == 0, "GHCB write #GP");
		g->expect = val == CVM_GHCB_AP_RESET_HOLD_REQ ? CVM_GHCB_HOLD_PENDING : val;
		look(w, i, false);
		break;
	case FZ_GHCB_READ:
		if (!g->running)
			break;
		FZ_CHECK(msr_exit(w, i, false, CVM_MSR_GHCB, &val) == 0, "GHCB read #GP");
		g->reads++;
		fz_trace("vcpu %u reads %#llx", i, (unsigned long long)val);
		FZ_CHECK(val == g->expect, "vcpu %u read %#llx, expected %#llx", i,
		         (unsigned long long)val, (unsigned long long)g->expect);
		look(w, i, false);
		break;
	case FZ_GHCB_INIT:
	case FZ_GHCB_SIPI: {
		unsigned int from = (i + 1 + fz_u8(f) % (w->n - 1)) % w->n;
		uint8_t vec = op == FZ_GHCB_SIPI ? fz_u8(f) : 0;
		if (!w->g[from].running)
			break;
		fz_trace("vcpu %u sends %s to %u", from, op == FZ_GHCB_INIT ? "INIT" : "SIPI", i);
		send_ipi(w, from, i, op == FZ_GHCB_INIT ? 0x4500 : 0x4600u | vec);
		if (g->held && op == FZ_GHCB_INIT)
			g->init_in_hold = true;
		else if (g->held && g->init_in_hold)
			g->sipi_after = true;
		look(w, from, false);
		break;
	}
	case FZ_GHCB_X2APIC:
		if (!g->running)
			break;
		val = APIC | CVM_APIC_BASE_EN | CVM_APIC_BASE_EXTD;
		(void)msr_exit(w, i, true, CVM_MSR_APIC_BASE, &val);
		look(w, i, false);
		break;
	default: /* FZ_GHCB_LOOK: woken (by an IPI's kick or for nothing) */
		look(w, i, true);
		break;
	}
	check(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_run_ops(data, size, setup, step, &world);
	teardown(&world);
	return 0;
}
