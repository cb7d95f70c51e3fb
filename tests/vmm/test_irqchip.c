/*
 * Unit tests of the `user` and `split` irqchips without KVM: fabricated VMs and
 * struct kvm_run exits (xAPIC MMIO, x2APIC / APIC_BASE / TSC_DEADLINE MSR
 * exits, HLT, interrupt window, IOAPIC_EOI, I/O APIC MMIO) go through the real
 * exit handlers and pre-entry logic; the KVM ioctls they issue are answered
 * and recorded by a fake, which also checks each against the seccomp filter a
 * vCPU thread of that VM would have (docs/seccomp.md): an ioctl a hook makes
 * that the mode's groups do not allow fails the test. Also the register
 * conversion and the statistics of each mode.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "vmm/ghcb.h"
#include "vmm/irqchip_user.h"
#include "vmm/regs_gate.h"
#include "vmm/sandbox.h"
#include "vmm/x86_regs.h"
#include "tests/vmm/fake_vm.h"

#define NCPUS    3
#define RUN_SIZE 8192
#define APIC     0xfee00000ull
#define IOAPIC   0xfec00000ull
#define TSC_KHZ  2000000u

/* ---- the fake KVM: answers and records ioctls ---- */

#define MAX_CALLS 64

static struct {
	unsigned int n;
	unsigned long req[MAX_CALLS];
	int fd[MAX_CALLS];
	uint32_t irq[MAX_CALLS]; /* KVM_INTERRUPT vector */
	struct kvm_msi msi[MAX_CALLS];
	uint64_t msr_data[MAX_CALLS]; /* KVM_SET_MSRS value */
	struct kvm_irq_routing_entry routes[CVM_IOAPIC_PINS];
	uint64_t guest_tsc;  /* what KVM_GET_MSRS IA32_TSC answers */
	uint64_t cr0;        /* what KVM_GET_SREGS answers */
	uint8_t nmi_pending; /* what KVM_GET_VCPU_EVENTS answers */
	bool no_sync_regs;   /* KVM_CAP_SYNC_REGS is not offered */
	/* Once set (the VM is built): every ioctl is checked against the vCPU filter. */
	const struct cvm_vm *filter_vm;
	unsigned int refused;        /* ioctls that filter would have refused */
	unsigned long first_refused; /* the first one's request */
} fake;

static bool filter_allows(const struct cvm_vm *vm, int fd, unsigned long req);

static int fake_ioctl(int fd, unsigned long req, void *arg)
{
	unsigned int i = fake.n < MAX_CALLS ? fake.n++ : MAX_CALLS - 1;

	fake.req[i] = req;
	fake.fd[i] = fd;
	if (fake.filter_vm && !filter_allows(fake.filter_vm, fd, req) && fake.refused++ == 0)
		fake.first_refused = req;
	switch (req) {
	case KVM_CHECK_EXTENSION:
		if ((long)arg == KVM_CAP_SYNC_REGS)
			return fake.no_sync_regs ? 0 : 7;
		return 1;
	case KVM_GET_TSC_KHZ:
		return TSC_KHZ;
	case KVM_GET_CPUID2:
		((struct kvm_cpuid2 *)arg)->nent = 0;
		return 0;
	case KVM_SET_MSRS:
		fake.msr_data[i] = ((struct kvm_msrs *)arg)->entries[0].data;
		return 1;
	case KVM_GET_MSRS:
		((struct kvm_msrs *)arg)->entries[0].data = fake.guest_tsc;
		return 1;
	case KVM_INTERRUPT:
		fake.irq[i] = ((struct kvm_interrupt *)arg)->irq;
		return 0;
	case KVM_GET_SREGS:
		memset(arg, 0, sizeof(struct kvm_sregs));
		((struct kvm_sregs *)arg)->cr0 = fake.cr0;
		return 0;
	case KVM_GET_DEBUGREGS: /* as after RESET */
		return cvm_fake_debugregs_reset(arg);
	case KVM_GET_VCPU_EVENTS:
		memset(arg, 0, sizeof(struct kvm_vcpu_events));
		((struct kvm_vcpu_events *)arg)->nmi.pending = fake.nmi_pending;
		return 0;
	case KVM_SIGNAL_MSI:
		fake.msi[i] = *(struct kvm_msi *)arg;
		return 1;
	case KVM_SET_GSI_ROUTING: {
		struct kvm_irq_routing *r = arg;
		assert_int_equal(r->nr, CVM_IOAPIC_PINS);
		memcpy(fake.routes, r->entries, sizeof(fake.routes));
		return 0;
	}
	default:
		return 0;
	}
}

/* How many recorded calls of `req`; *last gets the index of the last one. */
static unsigned int calls(unsigned long req, unsigned int *last)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < fake.n; i++)
		if (fake.req[i] == req) {
			k++;
			if (last)
				*last = i;
		}
	return k;
}

/*
 * Whether the seccomp filter of a vCPU thread of `vm` allows ioctl `req` on
 * `fd` (the fake's numbering: the VM is fd 100, vCPU i is 1000 + i): the base
 * group and the irqchip's groups this VM wants, as vmm/sandbox.c picks them.
 * Split-mode lines moved by the main thread need a subset of the vCPU's.
 */
static bool filter_allows(const struct cvm_vm *vm, int fd, unsigned long req)
{
	const struct cvm_seccomp_list *l[1 + CVM_IRQCHIP_SC_GROUPS];
	unsigned int n = 0;

	l[n++] = cvm_sandbox_list(CVM_THREAD_VCPU, CVM_SANDBOX_BASE);
	for (unsigned int g = 0; g < CVM_IRQCHIP_SC_GROUPS; g++) {
		const struct cvm_irqchip_sc_group *ig = &vm->irqchip->seccomp[g];
		if (ig->list && ig->cls == CVM_THREAD_VCPU && (!ig->wanted || ig->wanted(vm)))
			l[n++] = ig->list;
	}
	for (unsigned int k = 0; k < n; k++)
		for (size_t i = 0; i < l[k]->n; i++) {
			const struct cvm_sc_rule *r = &l[k]->rules[i];
			bool on_fd = r->args[0].val == CVM_SC_FD_VM
			                     ? fd == 100
			                     : fd >= 1000 && fd < 1000 + (int)vm->ncpus;
			if (!strcmp(r->name, "ioctl") && r->args[0].cmp == CVM_SC_FD &&
			    r->args[1].val == (uint32_t)req && on_fd)
				return true;
		}
	return false;
}

/* ---- fixture: a VM of NCPUS vCPUs in one irqchip mode ---- */

struct fixture {
	struct cvm_vm vm;
	struct cvm_vcpu vcpu[NCPUS];
	struct kvm_run *run[NCPUS];
};

static struct fixture *make_vm_opts(const struct cvm_irqchip_ops *ops, bool no_sync_regs,
                                    bool protected_state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	memset(&fake, 0, sizeof(fake));
	fake.no_sync_regs = no_sync_regs;
	fake.cr0 = 0x60000010; /* KVM's CR0 after RESET (CD, NW, ET) */
	assert_int_equal(cvm_fake_vm_init(&f->vm, f->vcpu, NCPUS, ops, fake_ioctl, protected_state),
	                 0);
	for (unsigned int i = 0; i < NCPUS; i++) {
		f->run[i] = aligned_alloc(4096, RUN_SIZE);
		assert_int_equal(cvm_fake_vcpu_init(&f->vm, i, f->run[i], RUN_SIZE), 0);
	}
	fake.n = 0;
	fake.filter_vm = &f->vm; /* from here on the hooks run as on a confined vCPU thread */
	return f;
}

static struct fixture *make_vm(const struct cvm_irqchip_ops *ops, bool no_sync_regs)
{
	return make_vm_opts(ops, no_sync_regs, false);
}

static int setup_user(void **state)
{
	*state = make_vm(&cvm_irqchip_user_ops, false);
	return 0;
}

static int setup_user_no_sync_regs(void **state)
{
	*state = make_vm(&cvm_irqchip_user_ops, true);
	return 0;
}

static int setup_user_protected(void **state)
{
	*state = make_vm_opts(&cvm_irqchip_user_ops, false, true);
	return 0;
}

static int setup_split(void **state)
{
	*state = make_vm(&cvm_irqchip_split_ops, false);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fake.filter_vm = NULL;
	if (fake.refused)
		fail_msg("%u ioctls a vCPU thread's seccomp filter refuses, the first 0x%lx "
		         "(docs/seccomp.md)",
		         fake.refused, fake.first_refused);

	f->vm.irqchip->destroy(&f->vm);
	for (unsigned int i = 0; i < NCPUS; i++) {
		cvm_mailbox_destroy(&f->vcpu[i].mbox);
		free(f->run[i]);
	}
	pthread_mutex_destroy(&f->vm.dev_lock);
	free(f);
	return 0;
}

/* ---- fabricated exits ---- */

static enum cvm_vcpu_action mmio(struct fixture *f, unsigned int cpu, uint64_t gpa, bool write,
                                 uint32_t len, uint32_t *val)
{
	struct kvm_run *run = f->run[cpu];
	enum cvm_vcpu_action a;

	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = len;
	run->mmio.is_write = write;
	memset(run->mmio.data, 0xee, sizeof(run->mmio.data));
	if (write)
		memcpy(run->mmio.data, val, len);
	a = cvm_vcpu_handle_exit(&f->vcpu[cpu]);
	if (!write) {
		*val = 0;
		memcpy(val, run->mmio.data, len);
	}
	return a;
}

static uint32_t apic_read(struct fixture *f, unsigned int cpu, uint32_t reg)
{
	uint32_t v = 0;

	assert_int_equal(mmio(f, cpu, APIC + reg, false, 4, &v), CVM_VACT_CONTINUE);
	return v;
}

static void apic_write(struct fixture *f, unsigned int cpu, uint32_t reg, uint32_t v)
{
	assert_int_equal(mmio(f, cpu, APIC + reg, true, 4, &v), CVM_VACT_CONTINUE);
}

/* An MSR exit; returns run->msr.error, *data in/out. */
static int msr(struct fixture *f, unsigned int cpu, bool write, uint32_t index, uint64_t *data)
{
	struct kvm_run *run = f->run[cpu];

	run->exit_reason = write ? KVM_EXIT_X86_WRMSR : KVM_EXIT_X86_RDMSR;
	run->msr.index = index;
	run->msr.reason = index >= 0x800 && index < 0x900 ? KVM_MSR_EXIT_REASON_INVAL
	                                                  : KVM_MSR_EXIT_REASON_FILTER;
	run->msr.error = 0xee;
	run->msr.data = write ? *data : 0xdeadbeef;
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[cpu]), CVM_VACT_CONTINUE);
	if (!write && !run->msr.error)
		*data = run->msr.data;
	return run->msr.error;
}

static enum cvm_vcpu_action simple_exit(struct fixture *f, unsigned int cpu, uint32_t reason)
{
	f->run[cpu]->exit_reason = reason;
	return cvm_vcpu_handle_exit(&f->vcpu[cpu]);
}

/* What the vCPU loop does before KVM_RUN (the user irqchip's pre_entry). */
static enum cvm_vcpu_action pre_entry(struct fixture *f, unsigned int cpu)
{
	return f->vm.irqchip->pre_entry(&f->vcpu[cpu]);
}

static void sw_enable_all(struct fixture *f)
{
	for (unsigned int i = 0; i < NCPUS; i++)
		apic_write(f, i, CVM_APIC_SVR, 0x1ff);
}

static bool irr(struct fixture *f, unsigned int cpu, uint8_t vec)
{
	return (cvm_uvcpu(&f->vcpu[cpu])->lapic.irr[vec / 64] >> (vec % 64)) & 1;
}

static bool isr(struct fixture *f, unsigned int cpu, uint8_t vec)
{
	return (cvm_uvcpu(&f->vcpu[cpu])->lapic.isr[vec / 64] >> (vec % 64)) & 1;
}

static uint64_t ctr(struct fixture *f, unsigned int cpu, enum cvm_counter c)
{
	return cvm_uvcpu(&f->vcpu[cpu])->ctr.n[c];
}

/* vCPU `cpu` sends ICR low `lo` to xAPIC ID `dest`. */
static void send_ipi(struct fixture *f, unsigned int cpu, uint32_t dest, uint32_t lo)
{
	apic_write(f, cpu, CVM_APIC_ICR_HI, dest << 24);
	apic_write(f, cpu, CVM_APIC_ICR_LO, lo);
}

/*
 * What the next KVM_RUN takes from kvm_run, as KVM would: the event state
 * corevm changed (kvm_dirty_regs). Returns the vector injected (-1: none) and
 * the NMIs handed over in *nmis (if not NULL).
 */
static int kvm_entry(struct fixture *f, unsigned int cpu, unsigned int *nmis)
{
	struct kvm_run *r = f->run[cpu];
	int vec = -1;

	if (nmis)
		*nmis = 0;
	if (!(r->kvm_dirty_regs & KVM_SYNC_X86_EVENTS))
		return -1;
	if (r->s.regs.events.interrupt.injected)
		vec = r->s.regs.events.interrupt.nr;
	if (nmis && (r->s.regs.events.flags & KVM_VCPUEVENT_VALID_NMI_PENDING))
		*nmis = r->s.regs.events.nmi.pending;
	r->s.regs.events.interrupt.injected = 0; /* delivered at entry */
	r->s.regs.events.nmi.pending = 0;
	r->kvm_dirty_regs &= ~(uint64_t)KVM_SYNC_X86_EVENTS;
	return vec;
}

/* The guest state KVM would report at an exit where interrupts are on and can be taken. */
static void window_open(struct fixture *f, unsigned int cpu)
{
	f->run[cpu]->if_flag = 1;
	f->run[cpu]->ready_for_interrupt_injection = 1;
}

/* ---- user mode: xAPIC MMIO ---- */

static void test_apic_mmio_id_version(void **state)
{
	struct fixture *f = *state;
	uint32_t v = 0;

	assert_int_equal(apic_read(f, 2, CVM_APIC_ID), 2u << 24);
	assert_int_equal(apic_read(f, 0, CVM_APIC_VERSION), CVM_APIC_VERSION_VALUE);
	assert_int_equal(f->vcpu[2].stats.apic_mmio, 1);
	/* Not 32 bits wide: ignored, reads 0, counted. */
	assert_int_equal(mmio(f, 1, APIC + CVM_APIC_ID, false, 2, &v), CVM_VACT_CONTINUE);
	assert_int_equal(v, 0);
	assert_int_equal(f->vcpu[1].stats.apic_mmio_odd, 1);
	/* Outside the APIC page: the generic MMIO path (unhandled, all ones). */
	assert_int_equal(mmio(f, 1, APIC + 0x1000, false, 4, &v), CVM_VACT_CONTINUE);
	assert_int_equal(v, 0xffffffffu);
	assert_int_equal(f->vm.nmmio, 1);
	assert_int_equal(fake.n, 0); /* register accesses cost no ioctl */
}

static void test_fixed_ipi_routed_and_injected(void **state)
{
	struct fixture *f = *state;

	sw_enable_all(f);
	send_ipi(f, 0, 1, 0x4041); /* fixed, vector 0x41, assert */
	assert_true(irr(f, 1, 0x41));
	assert_false(irr(f, 0, 0x41));
	assert_int_equal(atomic_load(&cvm_uvcpu(&f->vcpu[1])->events), 1);
	assert_int_equal(f->vcpu[0].stats.ipis, 1);
	assert_int_equal(cvm_uvcpu(&f->vcpu[1])->ipis_received, 1);

	/* vCPU 1 (running, window open): injected before the next entry, IRR -> ISR. */
	cvm_uvcpu(&f->vcpu[1])->lc.mp = CVM_MP_RUNNABLE;
	window_open(f, 1);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	/* Through kvm_run's event state: no KVM_INTERRUPT ioctl. */
	assert_int_equal(kvm_entry(f, 1, NULL), 0x41);
	assert_int_equal(fake.n, 0);
	assert_false(irr(f, 1, 0x41));
	assert_true(isr(f, 1, 0x41));
	assert_int_equal(ctr(f, 1, CVM_CTR_INTR_INJECTED), 1);
	/* EOI retires it. */
	apic_write(f, 1, CVM_APIC_EOI, 0);
	assert_false(isr(f, 1, 0x41));
	assert_int_equal(ctr(f, 1, CVM_CTR_EOI), 1);
}

static void test_interrupt_window(void **state)
{
	struct fixture *f = *state;

	sw_enable_all(f);
	send_ipi(f, 1, 0, 0x4050);
	/* IF=0: no injection, an interrupt window is requested instead. */
	f->run[0]->if_flag = 0;
	f->run[0]->ready_for_interrupt_injection = 0;
	assert_int_equal(pre_entry(f, 0), CVM_VACT_CONTINUE);
	assert_int_equal(kvm_entry(f, 0, NULL), -1);
	assert_int_equal(f->run[0]->request_interrupt_window, 1);
	/* The window opens. */
	window_open(f, 0);
	assert_int_equal(simple_exit(f, 0, KVM_EXIT_IRQ_WINDOW_OPEN), CVM_VACT_CONTINUE);
	assert_int_equal(pre_entry(f, 0), CVM_VACT_CONTINUE);
	assert_int_equal(kvm_entry(f, 0, NULL), 0x50);
	assert_int_equal(f->run[0]->request_interrupt_window, 0);
	assert_int_equal(f->vcpu[0].stats.exits[KVM_EXIT_IRQ_WINDOW_OPEN], 1);
}

static void test_tpr_masks_and_cr8_syncs(void **state)
{
	struct fixture *f = *state;

	sw_enable_all(f);
	apic_write(f, 0, CVM_APIC_TPR, 0x50);
	send_ipi(f, 0, 0, 0x4045); /* class 4 <= TPR class 5: stays pending */
	window_open(f, 0);
	assert_int_equal(pre_entry(f, 0), CVM_VACT_CONTINUE);
	assert_int_equal(kvm_entry(f, 0, NULL), -1);
	assert_int_equal(f->run[0]->cr8, 5); /* KVM's CR8 follows the TPR */
	assert_true(irr(f, 0, 0x45));
	/* The guest lowers CR8 itself (mov cr8): KVM_EXIT_SET_TPR with cr8 = 3. */
	f->run[0]->cr8 = 3;
	assert_int_equal(simple_exit(f, 0, KVM_EXIT_SET_TPR), CVM_VACT_CONTINUE);
	assert_int_equal(apic_read(f, 0, CVM_APIC_TPR), 0x30);
	assert_int_equal(pre_entry(f, 0), CVM_VACT_CONTINUE);
	assert_int_equal(kvm_entry(f, 0, NULL), 0x45);
}

/* ---- user mode: HLT, wake-ups, deadlock ---- */

static void test_hlt_blocks_until_interrupt(void **state)
{
	struct fixture *f = *state;

	sw_enable_all(f);
	f->run[0]->if_flag = 1;
	f->run[0]->ready_for_interrupt_injection = 1;
	assert_int_equal(simple_exit(f, 0, KVM_EXIT_HLT), CVM_VACT_CONTINUE);
	assert_int_equal(pre_entry(f, 0), CVM_VACT_BLOCK);
	assert_int_equal(cvm_uvcpu(&f->vcpu[0])->lc.mp, CVM_MP_HALTED);
	assert_int_equal(ctr(f, 0, CVM_CTR_HALTS), 1);
	/* A fixed IPI from vCPU 1 wakes it: injected, RUNNABLE, counted as an interrupt wake-up. */
	send_ipi(f, 1, 0, 0x4060);
	assert_int_equal(atomic_load(&cvm_uvcpu(&f->vcpu[0])->events), 1);
	assert_int_equal(f->vm.irqchip->block(&f->vcpu[0]), CVM_VACT_CONTINUE); /* no sleep */
	f->vcpu[0].reeval = true;
	assert_int_equal(pre_entry(f, 0), CVM_VACT_CONTINUE);
	assert_int_equal(kvm_entry(f, 0, NULL), 0x60);
	assert_int_equal(cvm_uvcpu(&f->vcpu[0])->lc.mp, CVM_MP_RUNNABLE);
	assert_int_equal(ctr(f, 0, CVM_CTR_WAKE_INTR), 1);
	assert_int_equal(atomic_load(&f->vm.end_status), -1);
}

static void test_hlt_with_interrupts_off_is_a_deadlock(void **state)
{
	struct fixture *f = *state;

	/* vCPUs 1 and 2 are UNINITIALIZED; vCPU 0 halts with IF=0: nothing can wake anyone. */
	send_ipi(f, 0, 1, 0x4040); /* a fixed IPI cannot wake an AP waiting for INIT */
	f->run[0]->if_flag = 0;
	assert_int_equal(simple_exit(f, 0, KVM_EXIT_HLT), CVM_VACT_CONTINUE);
	assert_int_equal(pre_entry(f, 0), CVM_VACT_BLOCK);
	assert_int_equal(atomic_load(&f->vm.end_status), CVM_EXIT_GUEST_ERROR);
	assert_string_equal(cvm_vm_end_cause(&f->vm), "deadlock");
}

static void test_hlt_with_nmi_pin_is_not_a_deadlock(void **state)
{
	struct fixture *f = *state;
	uint32_t v;

	/* I/O APIC pin 3 unmasked with NMI delivery: a device could still wake a vCPU. */
	v = 0x16;
	assert_int_equal(mmio(f, 0, IOAPIC, true, 4, &v), CVM_VACT_CONTINUE);
	v = 0x400;
	assert_int_equal(mmio(f, 0, IOAPIC + 0x10, true, 4, &v), CVM_VACT_CONTINUE);
	f->run[0]->if_flag = 0;
	simple_exit(f, 0, KVM_EXIT_HLT);
	assert_int_equal(pre_entry(f, 0), CVM_VACT_BLOCK);
	assert_int_equal(atomic_load(&f->vm.end_status), -1);
}

/* ---- user mode: INIT and SIPI ---- */

static void test_init_sipi_load_registers(void **state)
{
	struct fixture *f = *state;
	struct kvm_run *r1 = f->run[1];
	unsigned int last = 0;

	/* KVM hands CR0 out at every exit; the vCPU's set-up seeded it (KVM's reset CR0). */
	assert_int_equal(r1->kvm_valid_regs, KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS);
	assert_int_equal(r1->s.regs.sregs.cr0, 0x60000010);
	/* UNINITIALIZED: never enters; parks (reads the DRs while nobody waits). */
	assert_int_equal(pre_entry(f, 1), CVM_VACT_BLOCK);
	assert_int_equal(calls(KVM_GET_DEBUGREGS, &last), 1);
	assert_int_equal(fake.fd[last], 1001);
	assert_int_equal(calls(KVM_GET_SREGS, NULL), 0);
	fake.n = 0;
	send_ipi(f, 0, 1, 0x4500);                         /* INIT */
	assert_int_equal(pre_entry(f, 1), CVM_VACT_BLOCK); /* INIT reset, then wait-for-SIPI */
	assert_int_equal(cvm_uvcpu(&f->vcpu[1])->lc.mp, CVM_MP_INIT_RECEIVED);
	send_ipi(f, 0, 1, 0x4608); /* SIPI vector 8 */
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	/*
	 * The whole INIT-SIPI took no ioctl: CR0 came with the last exit, the debug
	 * registers were read while it slept (already at their INIT values: nothing
	 * to write), and the rest rides on KVM_RUN (KVM_CAP_SYNC_REGS).
	 */
	assert_int_equal(fake.n, 0);
	assert_int_equal(r1->kvm_dirty_regs,
	                 KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS);
	assert_int_equal(r1->s.regs.sregs.cs.selector, 0x0800);
	assert_int_equal(r1->s.regs.sregs.cs.base, 0x8000);
	assert_int_equal(r1->s.regs.sregs.cs.limit, 0xffff);
	assert_int_equal(r1->s.regs.regs.rip, 0);
	assert_int_equal(r1->s.regs.regs.rflags, 2);
	assert_int_equal(r1->s.regs.regs.rdx, cvm_uvcpu(&f->vcpu[1])->cpuid1_eax);
	assert_int_equal(r1->s.regs.sregs.cr0, 0x60000010);
	assert_int_equal(r1->s.regs.sregs.efer, 0);
	assert_int_equal(r1->s.regs.sregs.apic_base, APIC | CVM_APIC_BASE_EN);
	assert_int_equal(r1->s.regs.events.flags,
	                 KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW);
	assert_int_equal(r1->s.regs.events.nmi.pending + r1->s.regs.events.interrupt.injected, 0);
	assert_int_equal(ctr(f, 1, CVM_CTR_SIPI_ACCEPTED), 1);
	/* The second SIPI of INIT-SIPI-SIPI finds it running: discarded, counted. */
	send_ipi(f, 0, 1, 0x4608);
	assert_int_equal(ctr(f, 1, CVM_CTR_SIPI_DISCARDED_RUNNING), 1);
	/* A SIPI to an AP never INIT-ed is discarded too. */
	send_ipi(f, 0, 2, 0x4608);
	assert_int_equal(ctr(f, 2, CVM_CTR_SIPI_DISCARDED_UNINIT), 1);
	assert_int_equal(pre_entry(f, 2), CVM_VACT_BLOCK);
	/* Debug registers not at their INIT values: written once, before it runs. */
	fake.n = 0;
	cvm_uvcpu(&f->vcpu[1])->parked_dbg.dr7 = 0x401;
	cvm_uvcpu(&f->vcpu[1])->parked = true;
	send_ipi(f, 0, 1, 0x4500);
	send_ipi(f, 0, 1, 0x4608);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	assert_int_equal(calls(KVM_SET_DEBUGREGS, &last), 1);
	assert_int_equal(fake.fd[last], 1001);
	assert_int_equal(calls(KVM_SET_REGS, NULL) + calls(KVM_SET_SREGS, NULL), 0);
}

/*
 * Without KVM_CAP_SYNC_REGS every part of INIT/SIPI, the NMI check at HLT and
 * each injection takes an ioctl on the vCPU's own fd; the filter of such a VM
 * allows them (checked by the fake), and the filter of a VM with sync regs
 * does not.
 */
static void test_without_sync_regs(void **state)
{
	struct fixture *f = *state;
	struct kvm_run *r1 = f->run[1];
	unsigned int last = 0;

	assert_false(cvm_uchip(&f->vm)->sync_regs);
	assert_int_equal(r1->kvm_valid_regs, 0);
	apic_write(f, 0, CVM_APIC_SVR, 0x1ff);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_BLOCK); /* UNINITIALIZED: parks */
	send_ipi(f, 0, 1, 0x4500);                         /* INIT */
	assert_int_equal(pre_entry(f, 1), CVM_VACT_BLOCK);
	assert_int_equal(calls(KVM_GET_SREGS, &last), 1); /* CR0 for the INIT state */
	assert_int_equal(fake.fd[last], 1001);
	send_ipi(f, 0, 1, 0x4608); /* SIPI */
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	assert_int_equal(calls(KVM_SET_SREGS, NULL), 1);
	assert_int_equal(calls(KVM_SET_REGS, NULL), 1);
	assert_int_equal(calls(KVM_SET_VCPU_EVENTS, NULL), 1);
	assert_int_equal(r1->kvm_dirty_regs, 0);
	/* A fixed interrupt and an NMI go in by ioctl; HLT asks KVM for its NMI state. */
	apic_write(f, 1, CVM_APIC_SVR, 0x1ff); /* INIT disabled its APIC again */
	send_ipi(f, 0, 1, 0x4070);
	window_open(f, 1);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	assert_int_equal(calls(KVM_INTERRUPT, &last), 1);
	assert_int_equal(fake.irq[last], 0x70);
	send_ipi(f, 0, 1, 0x4400);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	assert_int_equal(calls(KVM_NMI, NULL), 1);
	fake.nmi_pending = 1;
	assert_int_equal(simple_exit(f, 1, KVM_EXIT_HLT), CVM_VACT_CONTINUE);
	assert_int_equal(calls(KVM_GET_VCPU_EVENTS, NULL), 1);
	assert_int_equal(f->vcpu[1].stats.hlt_nmi_in_kvm, 1);
	/* A VM with sync regs gets none of the register-load ioctls. */
	cvm_uchip(&f->vm)->sync_regs = true;
	assert_false(filter_allows(&f->vm, 1001, KVM_SET_SREGS));
	assert_false(filter_allows(&f->vm, 1001, KVM_GET_VCPU_EVENTS));
	assert_true(filter_allows(&f->vm, 1001, KVM_INTERRUPT));
	assert_false(filter_allows(&f->vm, 100, KVM_INTERRUPT)); /* only on a vCPU's fd */
	cvm_uchip(&f->vm)->sync_regs = false;
}

static void test_init_overwrites_pending_sipi(void **state)
{
	struct fixture *f = *state;

	send_ipi(f, 0, 1, 0x4500);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_BLOCK);
	send_ipi(f, 0, 1, 0x4608); /* accepted, not yet entered ... */
	send_ipi(f, 0, 1, 0x4500); /* ... and overwritten */
	assert_int_equal(ctr(f, 1, CVM_CTR_SIPI_OVERWRITTEN_BY_INIT), 1);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_BLOCK);
	assert_int_equal(cvm_uvcpu(&f->vcpu[1])->lc.mp, CVM_MP_INIT_RECEIVED);
}

static void test_nmi_ipi(void **state)
{
	struct fixture *f = *state;
	unsigned int nmis;

	sw_enable_all(f);
	f->run[2]->if_flag = 0;
	cvm_uvcpu(&f->vcpu[2])->lc.mp = CVM_MP_HALTED; /* halted with interrupts off */
	send_ipi(f, 0, 2, 0x4400);                     /* NMI */
	assert_int_equal(pre_entry(f, 2), CVM_VACT_CONTINUE);
	kvm_entry(f, 2, &nmis);
	assert_int_equal(nmis, 1);
	assert_int_equal(calls(KVM_NMI, NULL), 0);
	assert_int_equal(ctr(f, 2, CVM_CTR_WAKE_NMI), 1);
	assert_int_equal(ctr(f, 2, CVM_CTR_NMI_INJECTED), 1);
}

static void test_hlt_while_kvm_holds_nmi(void **state)
{
	struct fixture *f = *state;
	struct kvm_run *r1 = f->run[1];
	unsigned int nmis;

	sw_enable_all(f);
	send_ipi(f, 0, 1, 0x4400); /* NMI to vCPU 1 (RUNNABLE) */
	cvm_uvcpu(&f->vcpu[1])->lc.mp = CVM_MP_RUNNABLE;
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	kvm_entry(f, 1, &nmis);
	assert_int_equal(nmis, 1);
	/*
	 * The guest halts with IF=0 while KVM still holds that NMI (the exit's
	 * event state says so): no sleep, it runs again.
	 */
	r1->s.regs.events.nmi.pending = 1;
	r1->if_flag = 0;
	assert_int_equal(simple_exit(f, 1, KVM_EXIT_HLT), CVM_VACT_CONTINUE);
	assert_int_equal(cvm_uvcpu(&f->vcpu[1])->lc.mp, CVM_MP_RUNNABLE);
	assert_int_equal(f->vcpu[1].stats.hlt_nmi_in_kvm, 1);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	/* A masked one (inside an NMI handler) does not end the HLT. */
	r1->s.regs.events.nmi.masked = 1;
	assert_int_equal(simple_exit(f, 1, KVM_EXIT_HLT), CVM_VACT_CONTINUE);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_BLOCK);
	/* KVM delivered it: the next HLT sleeps, and KVM's events are no longer looked at. */
	cvm_uvcpu(&f->vcpu[1])->lc.mp = CVM_MP_RUNNABLE;
	r1->s.regs.events.nmi.masked = 0;
	r1->s.regs.events.nmi.pending = 0;
	assert_int_equal(simple_exit(f, 1, KVM_EXIT_HLT), CVM_VACT_CONTINUE);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_BLOCK);
	assert_false(cvm_uvcpu(&f->vcpu[1])->nmi_in_kvm);
	assert_int_equal(calls(KVM_NMI, NULL) + calls(KVM_GET_VCPU_EVENTS, NULL), 0);
}

/* An exception still being delivered: the interrupt takes KVM_INTERRUPT, not kvm_run. */
static void test_injection_falls_back_to_ioctl(void **state)
{
	struct fixture *f = *state;
	unsigned int last = 0;

	sw_enable_all(f);
	send_ipi(f, 1, 0, 0x4070);
	window_open(f, 0);
	f->run[0]->s.regs.events.exception.injected = 1;
	f->run[0]->s.regs.events.exception.nr = 13;
	assert_int_equal(pre_entry(f, 0), CVM_VACT_CONTINUE);
	assert_int_equal(kvm_entry(f, 0, NULL), -1);
	assert_int_equal(calls(KVM_INTERRUPT, &last), 1);
	assert_int_equal(fake.irq[last], 0x70);
	assert_int_equal(fake.fd[last], 1000);
}

static void test_init_to_asleep_ap_needs_no_wake(void **state)
{
	struct fixture *f = *state;
	struct cvm_uvcpu *u1 = cvm_uvcpu(&f->vcpu[1]);

	sw_enable_all(f);
	apic_write(f, 1, CVM_APIC_LDR, 0x02000000);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_BLOCK); /* UNINITIALIZED, asleep */
	atomic_store(&f->vcpu[1].state, CVM_VCPU_WAIT_SIPI);
	send_ipi(f, 0, 1, 0x4500); /* INIT */
	/* Not woken: the sender reset its local APIC (software-disabled, LDR 0) and routing. */
	assert_int_equal(atomic_load(&u1->events), 0);
	assert_int_equal(u1->lc.mp, CVM_MP_INIT_RECEIVED);
	assert_false(cvm_lapic_sw_enabled(&u1->lapic));
	send_ipi(f, 0, 0x02, 0x4840); /* logical to its old LDR: nobody */
	assert_false(irr(f, 1, 0x40));
	/* The SIPI wakes it; one look does INIT reset and SIPI entry. */
	send_ipi(f, 0, 1, 0x4608);
	assert_int_equal(atomic_load(&u1->events), 1);
	atomic_store(&f->vcpu[1].state, CVM_VCPU_RUNNING);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	assert_int_equal(u1->lc.mp, CVM_MP_RUNNABLE);
	assert_int_equal(f->run[1]->s.regs.sregs.cs.selector, 0x0800);
	assert_int_equal(ctr(f, 1, CVM_CTR_INIT_TAKEN), 1);
	assert_int_equal(ctr(f, 1, CVM_CTR_SIPI_ACCEPTED), 1);
}

/*
 * The wake protocol with real threads: vCPU 1's thread halts (IF=1), decides to
 * sleep and sleeps on its futex word, over and over; vCPU 0's thread sends it a
 * fixed IPI at whatever point that thread has reached. Every IPI must end in an
 * injection: an event landing between "decide to sleep" and "sleep" is not lost
 * (a lost one leaves the receiver asleep: the sender's bounded wait fails).
 */
#define RACE_ROUNDS 3000

static atomic_uint race_injected;

static void set_state(struct cvm_vcpu *v, enum cvm_vcpu_state st)
{
	atomic_store(&v->state, st); /* seq_cst, as vcpu.c does */
}

static void *race_receiver(void *arg)
{
	struct fixture *f = arg;
	struct cvm_vcpu *v = &f->vcpu[1];

	for (unsigned int i = 0; i < RACE_ROUNDS; i++) {
		enum cvm_vcpu_action a;
		set_state(v, CVM_VCPU_IN_VMM);
		f->run[1]->if_flag = 1;
		f->run[1]->ready_for_interrupt_injection = 1;
		simple_exit(f, 1, KVM_EXIT_HLT);
		set_state(v, CVM_VCPU_RUNNING);
		while ((a = pre_entry(f, 1)) == CVM_VACT_BLOCK) {
			set_state(v, CVM_VCPU_HALTED);
			f->vm.irqchip->block(v);
			set_state(v, CVM_VCPU_RUNNING);
			v->reeval = true;
		}
		assert_int_equal(a, CVM_VACT_CONTINUE);
		assert_int_equal(kvm_entry(f, 1, NULL), 0x61);
		set_state(v, CVM_VCPU_IN_VMM);
		apic_write(f, 1, CVM_APIC_EOI, 0); /* the handler's EOI */
		atomic_fetch_add(&race_injected, 1);
	}
	return NULL;
}

static void test_sleep_wake_race(void **state)
{
	struct fixture *f = *state;
	pthread_t t;

	sw_enable_all(f);
	cvm_uvcpu(&f->vcpu[1])->lc.mp = CVM_MP_RUNNABLE;
	atomic_store(&race_injected, 0);
	assert_int_equal(pthread_create(&t, NULL, race_receiver, f), 0);
	for (unsigned int i = 0; i < RACE_ROUNDS; i++) {
		struct timespec t0, now;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		send_ipi(f, 0, 1, 0x4061);
		/* Bounded wait (generous: the machine is shared) for this IPI's injection. */
		while (atomic_load(&race_injected) <= i) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec > 30)
				fail_msg("IPI %u of %u was never injected: a wake-up was lost", i,
				         RACE_ROUNDS);
			sched_yield();
		}
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(ctr(f, 1, CVM_CTR_INTR_INJECTED), RACE_ROUNDS);
	assert_true(f->vcpu[1].stats.sleeps > 0); /* it did sleep, at least sometimes */
}

static void test_smi_ipi_dropped(void **state)
{
	struct fixture *f = *state;

	send_ipi(f, 0, 1, 0x4200); /* SMI: this KVM has no SMM */
	assert_int_equal(f->vcpu[0].stats.smi_dropped, 1);
	assert_int_equal(cvm_uvcpu(&f->vcpu[1])->lc.pend & CVM_LC_P_SMI, 0);
}

static void test_shorthands_and_logical(void **state)
{
	struct fixture *f = *state;

	sw_enable_all(f);
	apic_write(f, 0, CVM_APIC_ICR_LO, 0xc4070); /* all but self, fixed 0x70 */
	assert_false(irr(f, 0, 0x70));
	assert_true(irr(f, 1, 0x70) && irr(f, 2, 0x70));
	apic_write(f, 1, CVM_APIC_ICR_LO, 0x84071); /* all including self */
	for (unsigned int i = 0; i < NCPUS; i++)
		assert_true(irr(f, i, 0x71));
	/* Logical flat: vCPU 2 takes logical ID 0x04. */
	apic_write(f, 2, CVM_APIC_LDR, 0x04000000);
	send_ipi(f, 0, 0x04, 0x4872);
	assert_true(irr(f, 2, 0x72));
	assert_false(irr(f, 1, 0x72));
}

/* ---- user mode: MSRs ---- */

static void test_msr_x2apic_transitions(void **state)
{
	struct fixture *f = *state;
	uint64_t d = 0;
	unsigned int last = 0;

	sw_enable_all(f);
	/* xAPIC mode: the x2APIC MSRs #GP. */
	assert_int_equal(msr(f, 1, false, 0x802, &d), 1);
	assert_int_equal(f->vcpu[1].stats.msr_gp, 1);
	assert_int_equal(msr(f, 1, false, CVM_MSR_APIC_BASE, &d), 0);
	assert_int_equal(d, APIC | CVM_APIC_BASE_EN);
	/* xAPIC -> x2APIC: allowed; KVM's copy follows (CPUID.APIC); the ID reads as x2APIC ID. */
	d = APIC | CVM_APIC_BASE_EN | CVM_APIC_BASE_EXTD;
	assert_int_equal(msr(f, 1, true, CVM_MSR_APIC_BASE, &d), 0);
	assert_int_equal(calls(KVM_SET_MSRS, &last), 1);
	assert_int_equal(fake.msr_data[last], d);
	assert_int_equal(msr(f, 1, false, 0x802, &d), 0);
	assert_int_equal(d, 1);
	/* The xAPIC page is no longer decoded: the access falls to unhandled MMIO. */
	assert_int_equal(f->vm.nmmio, 0);
	(void)apic_read(f, 1, CVM_APIC_ID);
	assert_int_equal(f->vm.nmmio, 1);
	/* x2APIC -> xAPIC directly: #GP, nothing changes. */
	d = APIC | CVM_APIC_BASE_EN;
	assert_int_equal(msr(f, 1, true, CVM_MSR_APIC_BASE, &d), 1);
	assert_int_equal(calls(KVM_SET_MSRS, NULL), 1);
	/* A self-IPI through the x2APIC SELF IPI register. */
	d = 0x33;
	assert_int_equal(msr(f, 1, true, 0x83f, &d), 0);
	assert_true(irr(f, 1, 0x33));
	/* Reserved bits of x2APIC registers #GP (TPR bits 31:8). */
	d = 0x100;
	assert_int_equal(msr(f, 1, true, 0x808, &d), 1);
	/* An MSR nobody knows: #GP. */
	assert_int_equal(msr(f, 0, true, 0x4b564dff, &d), 1);
}

static void test_apic_relocation(void **state)
{
	struct fixture *f = *state;
	uint64_t d = 0xfed00000ull | CVM_APIC_BASE_EN;
	uint32_t v = 0;

	assert_int_equal(msr(f, 2, true, CVM_MSR_APIC_BASE, &d), 0);
	/* The page follows the base: the new one is decoded, the old one is nobody's. */
	assert_int_equal(mmio(f, 2, 0xfed00000ull + CVM_APIC_ID, false, 4, &v), CVM_VACT_CONTINUE);
	assert_int_equal(v, 2u << 24);
	assert_int_equal(f->vm.nmmio, 0);
	assert_int_equal(mmio(f, 2, APIC + CVM_APIC_ID, false, 4, &v), CVM_VACT_CONTINUE);
	assert_int_equal(v, 0xffffffffu);
	assert_int_equal(f->vm.nmmio, 1);
	/* Other vCPUs keep theirs. */
	assert_int_equal(apic_read(f, 1, CVM_APIC_ID), 1u << 24);
}

static void test_tsc_deadline_msr(void **state)
{
	struct fixture *f = *state;
	uint64_t d;

	sw_enable_all(f);
	apic_write(f, 0, CVM_APIC_LVT_TIMER, CVM_LVT_TIMER_TSCDL | 0x58);
	/* A deadline already passed (guest TSC 5000 now) fires at the next look. */
	fake.guest_tsc = 5000;
	d = 4000;
	assert_int_equal(msr(f, 0, true, CVM_MSR_TSC_DEADLINE, &d), 0);
	assert_int_equal(calls(KVM_GET_MSRS, NULL), 1);
	window_open(f, 0);
	assert_int_equal(pre_entry(f, 0), CVM_VACT_CONTINUE);
	assert_int_equal(kvm_entry(f, 0, NULL), 0x58);
	assert_int_equal(ctr(f, 0, CVM_CTR_TIMER_FIRED), 1);
	assert_int_equal(msr(f, 0, false, CVM_MSR_TSC_DEADLINE, &d), 0);
	assert_int_equal(d, 0); /* reads 0 after firing */
	/* A far deadline is armed, not fired. */
	d = 5000 + 1000ull * TSC_KHZ;
	assert_int_equal(msr(f, 0, true, CVM_MSR_TSC_DEADLINE, &d), 0);
	assert_int_equal(msr(f, 0, false, CVM_MSR_TSC_DEADLINE, &d), 0);
	assert_int_equal(d, 5000 + 1000ull * TSC_KHZ);
	assert_true(cvm_lapic_next_deadline(&cvm_uvcpu(&f->vcpu[0])->lapic) != CVM_NO_DEADLINE);
}

/* ---- the I/O APIC, user mode ---- */

static void ioapic_write(struct fixture *f, uint32_t reg, uint32_t val)
{
	assert_int_equal(mmio(f, 0, IOAPIC, true, 4, &reg), CVM_VACT_CONTINUE);
	assert_int_equal(mmio(f, 0, IOAPIC + 0x10, true, 4, &val), CVM_VACT_CONTINUE);
}

static uint32_t ioapic_read(struct fixture *f, uint32_t reg)
{
	uint32_t v = 0;

	assert_int_equal(mmio(f, 0, IOAPIC, true, 4, &reg), CVM_VACT_CONTINUE);
	assert_int_equal(mmio(f, 0, IOAPIC + 0x10, false, 4, &v), CVM_VACT_CONTINUE);
	return v;
}

static void test_user_ioapic_level_eoi(void **state)
{
	struct fixture *f = *state;

	sw_enable_all(f);
	assert_int_equal(ioapic_read(f, 0x01), CVM_IOAPIC_VERSION);
	ioapic_write(f, 0x10 + 2 * 4 + 1, 1u << 24); /* pin 4 -> APIC ID 1 */
	ioapic_write(f, 0x10 + 2 * 4, 0x8070);       /* level, vector 0x70, unmasked */
	assert_int_equal(cvm_vm_set_irq(&f->vm, 4, 1), 0);
	assert_true(irr(f, 1, 0x70));
	assert_true(ioapic_read(f, 0x18) & CVM_RTE_REMOTE_IRR);
	cvm_uvcpu(&f->vcpu[1])->lc.mp = CVM_MP_RUNNABLE;
	window_open(f, 1);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	assert_true(isr(f, 1, 0x70));
	/* EOI with the line still up: broadcast to the I/O APIC, delivered again. */
	apic_write(f, 1, CVM_APIC_EOI, 0);
	assert_int_equal(ctr(f, 1, CVM_CTR_EOI_BROADCAST), 1);
	assert_true(irr(f, 1, 0x70));
	assert_true(ioapic_read(f, 0x18) & CVM_RTE_REMOTE_IRR);
	/* Line down, ack, EOI: remote IRR clear, nothing more. */
	assert_int_equal(cvm_vm_set_irq(&f->vm, 4, 0), 0);
	window_open(f, 1);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	apic_write(f, 1, CVM_APIC_EOI, 0);
	assert_false(irr(f, 1, 0x70));
	assert_false(ioapic_read(f, 0x18) & CVM_RTE_REMOTE_IRR);
	assert_int_equal(cvm_vm_set_irq(&f->vm, 24, 1), -EINVAL);
}

static void test_user_ioapic_edge_uart_line(void **state)
{
	struct fixture *f = *state;

	sw_enable_all(f);
	ioapic_write(f, 0x10 + 2 * 4, 0x0031); /* edge, vector 0x31, APIC ID 0 */
	assert_int_equal(cvm_vm_set_irq(&f->vm, 4, 1), 0);
	assert_true(irr(f, 0, 0x31));
	assert_int_equal(cvm_uvcpu(&f->vcpu[0])->ipis_received, 0); /* not an IPI */
	/* No new edge while the line stays up. */
	cvm_uvcpu(&f->vcpu[0])->lapic.irr[0] = 0;
	assert_int_equal(cvm_vm_set_irq(&f->vm, 4, 1), 0);
	assert_false(irr(f, 0, 0x31));
}

/* ---- split mode ---- */

static void test_split_routes_msi_and_eoi(void **state)
{
	struct fixture *f = *state;
	unsigned int last = 0;
	uint32_t v;

	ioapic_write(f, 0x10 + 2 * 4 + 1, 2u << 24);
	ioapic_write(f, 0x10 + 2 * 4, 0x8070); /* level, vector 0x70, to APIC ID 2 */
	/* KVM learns the pin's MSI route: level bit set, so it reports the vector's EOI. */
	assert_true(calls(KVM_SET_GSI_ROUTING, NULL) >= 1);
	assert_int_equal(fake.routes[4].gsi, 4);
	assert_int_equal(fake.routes[4].type, KVM_IRQ_ROUTING_MSI);
	assert_int_equal(fake.routes[4].u.msi.address_lo, 0xfee02000u);
	assert_int_equal(fake.routes[4].u.msi.data, 0xc070u);
	/* The same table again: no new ioctl. */
	v = calls(KVM_SET_GSI_ROUTING, NULL);
	ioapic_write(f, 0x10 + 2 * 4, 0x8070);
	assert_int_equal(calls(KVM_SET_GSI_ROUTING, NULL), v);

	assert_int_equal(cvm_vm_set_irq(&f->vm, 4, 1), 0);
	assert_int_equal(calls(KVM_SIGNAL_MSI, &last), 1);
	assert_int_equal(fake.fd[last], f->vm.vm_fd);
	assert_int_equal(fake.msi[last].address_lo, 0xfee02000u);
	assert_int_equal(fake.msi[last].data, 0xc070u);
	assert_true(ioapic_read(f, 0x18) & CVM_RTE_REMOTE_IRR);
	/* KVM_EXIT_IOAPIC_EOI with the line still up: delivered again. */
	f->run[2]->eoi.vector = 0x70;
	assert_int_equal(simple_exit(f, 2, KVM_EXIT_IOAPIC_EOI), CVM_VACT_CONTINUE);
	assert_int_equal(calls(KVM_SIGNAL_MSI, NULL), 2);
	assert_int_equal(cvm_vm_set_irq(&f->vm, 4, 0), 0);
	assert_int_equal(simple_exit(f, 2, KVM_EXIT_IOAPIC_EOI), CVM_VACT_CONTINUE);
	assert_int_equal(calls(KVM_SIGNAL_MSI, NULL), 2);
	assert_false(ioapic_read(f, 0x18) & CVM_RTE_REMOTE_IRR);
	/* Other MMIO and exits are not the split irqchip's. */
	assert_int_equal(mmio(f, 0, APIC, false, 4, &v), CVM_VACT_CONTINUE);
	assert_int_equal(f->vm.nmmio, 1);
	assert_int_equal(f->vcpu[2].stats.exits[KVM_EXIT_IOAPIC_EOI], 2);
}

/* ---- register conversion and statistics ---- */

static void test_regs_conversion(void **state)
{
	struct cvm_x86_regs r;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_debugregs dbg;

	(void)state;
	cvm_x86_reset_regs(&r, CVM_X86_RESET, 0x806f8);
	cvm_x86_sipi_regs(&r, 0x9a);
	cvm_regs_to_kvm(&r, APIC | CVM_APIC_BASE_EN, &regs, &sregs);
	cvm_regs_to_kvm_debug(&r, &dbg);
	assert_int_equal(regs.rdx, 0x806f8);
	assert_int_equal(regs.rip, 0);
	assert_int_equal(sregs.cs.selector, 0x9a00);
	assert_int_equal(sregs.cs.base, 0x9a000);
	assert_int_equal(sregs.cs.type, 0xb);
	assert_int_equal(sregs.cs.s, 1);
	assert_int_equal(sregs.cs.present, 1);
	assert_int_equal(sregs.cs.unusable, 0);
	assert_int_equal(sregs.cs.db + sregs.cs.l + sregs.cs.g, 0);
	assert_int_equal(sregs.ds.type, 3);
	assert_int_equal(sregs.tr.type, 0xb);
	assert_int_equal(sregs.tr.s, 0);
	assert_int_equal(sregs.ldt.type, 2);
	assert_int_equal(sregs.gdt.limit, 0xffff);
	assert_int_equal(sregs.cr0, 0x60000010);
	assert_int_equal(sregs.apic_base, APIC | CVM_APIC_BASE_EN);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(sregs.interrupt_bitmap[i], 0);
	assert_int_equal(dbg.dr6, 0xffff0ff0);
	assert_int_equal(dbg.dr7, 0x400);
}

static void test_user_stats(void **state)
{
	struct fixture *f = *state;
	struct json_object *root, *o;

	sw_enable_all(f);
	send_ipi(f, 0, 1, 0x4608); /* discarded: UNINITIALIZED */
	for (unsigned int i = 0; i < NCPUS; i++)
		f->vm.irqchip->thread_exit(&f->vcpu[i]);
	root = cvm_vm_stats_json(&f->vm);
	o = json_object_object_get(
	        json_object_array_get_idx(json_object_object_get(root, "vcpus"), 1), "lifecycle");
	assert_non_null(o);
	assert_string_equal(json_object_get_string(json_object_object_get(o, "source")), "corevm");
	assert_int_equal(json_object_get_int(json_object_object_get(o, "sipi_discarded_uninit")),
	                 1);
	assert_int_equal(json_object_get_int(json_object_object_get(o, "ipis_received")), 1);
	assert_string_equal(
	        json_object_get_string(json_object_object_get(
	                json_object_array_get_idx(json_object_object_get(root, "vcpus"), 1),
	                "mp_state_at_exit")),
	        "uninitialized");
	assert_non_null(json_object_object_get(json_object_object_get(root, "vm"), "ioapic"));
	json_object_put(root);
}

static void test_kernel_stats_nulls(void **state)
{
	struct cvm_vm vm;
	struct cvm_vcpu v;
	struct json_object *root, *o, *x;

	(void)state;
	memset(&vm, 0, sizeof(vm));
	memset(&v, 0, sizeof(v));
	vm.ncpus = 1;
	vm.vcpu = &v;
	vm.irqchip = &cvm_irqchip_kernel_ops;
	atomic_init(&vm.end_status, 0);
	v.vm = &vm;
	v.fd = -1;
	v.stats.mp_state = KVM_MP_STATE_HALTED;
	v.stats.kvm_found = (1u << CVM_KVM_STAT_HALT_EXITS) | (1u << CVM_KVM_STAT_IRQ_INJECTIONS);
	v.stats.kvm[CVM_KVM_STAT_HALT_EXITS] = 7;
	v.stats.kvm[CVM_KVM_STAT_IRQ_INJECTIONS] = 3;
	root = cvm_vm_stats_json(&vm);
	o = json_object_object_get(
	        json_object_array_get_idx(json_object_object_get(root, "vcpus"), 0), "lifecycle");
	assert_string_equal(json_object_get_string(json_object_object_get(o, "source")), "kvm");
	assert_int_equal(json_object_get_int(json_object_object_get(o, "halts")), 7);
	assert_int_equal(json_object_get_int(json_object_object_get(o, "intr_injected")), 3);
	/* Unknown with KVM's local APICs: present and null, never 0. */
	assert_true(json_object_object_get_ex(o, "sipi_accepted", &x) && x == NULL);
	assert_true(json_object_object_get_ex(o, "nmi_injected", &x) && x == NULL);
	assert_true(json_object_object_get_ex(o, "ipis_sent", &x) && x == NULL);
	json_object_put(root);
}

/* ---- protected register state, the enforcement point, the GHCB MSR protocol ---- */

/* Register-set ioctls recorded since the last fake.n = 0. */
static unsigned int reg_ioctls(void)
{
	return calls(KVM_SET_REGS, NULL) + calls(KVM_SET_SREGS, NULL) + calls(KVM_SET_FPU, NULL) +
	       calls(KVM_SET_XCRS, NULL) + calls(KVM_SET_MSRS, NULL) +
	       calls(KVM_SET_DEBUGREGS, NULL) + calls(KVM_SET_VCPU_EVENTS, NULL);
}

/* Every register set, with an argument each ioctl could take. */
static void write_every_set(struct cvm_vcpu *v, int want)
{
	struct kvm_regs regs = {0};
	struct kvm_sregs sregs = {0};
	struct kvm_fpu fpu = {0};
	struct kvm_xcrs xcrs = {0};
	struct kvm_debugregs dbg = {0};
	struct kvm_vcpu_events ev = {0};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} efer = {.hdr.nmsrs = 1, .e = {.index = 0xc0000080, .data = 0x500}};

	assert_int_equal(cvm_regs_write(v, CVM_REGSET_REGS, &regs), want);
	assert_int_equal(cvm_regs_write(v, CVM_REGSET_SREGS, &sregs), want);
	assert_int_equal(cvm_regs_write(v, CVM_REGSET_FPU, &fpu), want);
	assert_int_equal(cvm_regs_write(v, CVM_REGSET_XCRS, &xcrs), want);
	assert_int_equal(cvm_regs_write(v, CVM_REGSET_DEBUGREGS, &dbg), want);
	assert_int_equal(cvm_regs_write(v, CVM_REGSET_EVENTS, &ev), want);
	assert_int_equal(cvm_regs_write(v, CVM_REGSET_MSRS, &efer), want ? want : 1);
}

static void test_gate_refuses_after_launch(void **state)
{
	struct fixture *f = *state;
	struct cvm_vcpu *v = &f->vcpu[1];
	struct kvm_run *r = f->run[1];
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} base = {.hdr.nmsrs = 1, .e = {.index = CVM_MSR_APIC_BASE, .data = APIC | 0x800}};

	/*
	 * Before launch every set goes through: that is where measured state is
	 * loaded, on the main thread before any seccomp filter.
	 */
	fake.filter_vm = NULL;
	write_every_set(v, 0);
	assert_int_equal(reg_ioctls(), 7);
	assert_int_equal(v->stats.reg_writes, 7);
	assert_int_equal(cvm_regs_refused(v), 0);
	/* After launch: refused, not issued, counted; kvm_run's dirty bits untouched. */
	fake.filter_vm = &f->vm; /* what is issued now, a confined vCPU thread issues */
	atomic_store(&f->vm.launched, true);
	assert_true(cvm_regs_locked(v));
	fake.n = 0;
	r->kvm_dirty_regs = 0;
	write_every_set(v, -EPERM);
	assert_int_equal(cvm_regs_write_sync(v, KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS), -EPERM);
	assert_int_equal(cvm_regs_write_sync(v, KVM_SYNC_X86_EVENTS), -EPERM);
	assert_int_equal(r->kvm_dirty_regs, 0);
	assert_int_equal(fake.n, 0);
	assert_int_equal(cvm_regs_refused(v), 9);
	assert_int_equal(v->stats.reg_writes, 7);
	assert_int_equal(cvm_regs_write(v, CVM_REGSET_NR, &base), -EINVAL);
	/* APIC state and injections are not register writes: allowed. */
	assert_int_equal(cvm_regs_write(v, CVM_REGSET_MSRS, &base), 1);
	assert_int_equal(cvm_regs_inject_intr_ioctl(v, 0x41), 0);
	assert_int_equal(cvm_regs_inject_nmi_ioctl(v), 0);
	cvm_regs_inject_sync(v);
	cvm_regs_set_cr8(v, 5);
	assert_int_equal(r->kvm_dirty_regs, KVM_SYNC_X86_EVENTS);
	assert_int_equal(r->cr8, 5);
	assert_int_equal(
	        calls(KVM_SET_MSRS, NULL) + calls(KVM_INTERRUPT, NULL) + calls(KVM_NMI, NULL), 3);
	assert_int_equal(cvm_regs_refused(v), 9);
	/* The statistics say so. */
	struct json_object *root = cvm_vm_stats_json(&f->vm);
	struct json_object *vm = json_object_object_get(root, "vm");
	struct json_object *p = json_object_object_get(
	        json_object_array_get_idx(json_object_object_get(root, "vcpus"), 1), "protected");
	assert_true(json_object_get_boolean(json_object_object_get(vm, "protected_state")));
	assert_int_equal(json_object_get_int(json_object_object_get(vm, "reg_writes_refused")), 9);
	assert_int_equal(json_object_get_int(json_object_object_get(vm, "reg_log_suppressed")), 1);
	assert_int_equal(json_object_get_int(json_object_object_get(p, "reg_writes_refused")), 9);
	json_object_put(root);
}

static void test_gate_allows_without_protection(void **state)
{
	struct fixture *f = *state;
	struct cvm_vcpu *v = &f->vcpu[2];

	atomic_store(&f->vm.launched, true);
	assert_false(cvm_regs_locked(v));
	/*
	 * The gate on its own: corevm's vCPU threads never write FPU, XCRS or debug
	 * state this way, so this is not what their seccomp filter allows (the other
	 * tests check the hooks' calls against it).
	 */
	fake.filter_vm = NULL;
	write_every_set(v, 0);
	assert_int_equal(cvm_regs_write_sync(v, KVM_SYNC_X86_REGS), 0);
	assert_int_equal(f->run[2]->kvm_dirty_regs, KVM_SYNC_X86_REGS);
	assert_int_equal(reg_ioctls(), 7);
	assert_int_equal(cvm_regs_refused(v), 0);
}

/* A GHCB MSR write from `cpu`, then what the vCPU loop would do next. */
static enum cvm_vcpu_action ghcb_write(struct fixture *f, unsigned int cpu, uint64_t value)
{
	assert_int_equal(msr(f, cpu, true, CVM_MSR_GHCB, &value), 0);
	return f->vm.irqchip->pre_entry ? pre_entry(f, cpu) : CVM_VACT_CONTINUE;
}

/* A sleeping vCPU woken for nothing (or by a kick): the loop looks again (vcpu.c). */
static enum cvm_vcpu_action woken_for_nothing(struct fixture *f, unsigned int cpu)
{
	f->vcpu[cpu].reeval = true;
	return pre_entry(f, cpu);
}

static uint64_t ghcb_read(struct fixture *f, unsigned int cpu)
{
	uint64_t v = 0;

	assert_int_equal(msr(f, cpu, false, CVM_MSR_GHCB, &v), 0);
	return v;
}

/* AP 1 from power-on to running at its first SIPI (vector 0x9f: ignored when protected). */
static void boot_ap1(struct fixture *f)
{
	assert_int_equal(pre_entry(f, 1), CVM_VACT_BLOCK);
	send_ipi(f, 0, 1, 0x4500);
	send_ipi(f, 0, 1, 0x469f);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
}

/*
 * Protected state, user mode: the first INIT-SIPI-SIPI runs the measured
 * state (no register write, vector ignored); the AP parks by AP reset hold;
 * INIT alone leaves it held; SIPI releases it; its next read of the GHCB MSR
 * is the response. Not one register write, not one refusal.
 */
static void test_protected_boot_and_hold(void **state)
{
	struct fixture *f = *state;
	struct cvm_vcpu *v = &f->vcpu[1];
	struct cvm_uvcpu *u = cvm_uvcpu(v);

	atomic_store(&f->vm.launched, true);
	fake.n = 0;
	boot_ap1(f);
	assert_int_equal(reg_ioctls(), 0);
	assert_int_equal(f->run[1]->kvm_dirty_regs & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS), 0);
	assert_int_equal(v->stats.first_boots, 1);
	send_ipi(f, 0, 1, 0x469f); /* the second SIPI: discarded */
	assert_int_equal(ctr(f, 1, CVM_CTR_SIPI_DISCARDED_RUNNING), 1);

	assert_int_equal(ghcb_read(f, 1), 0);
	assert_int_equal(ghcb_write(f, 1, CVM_GHCB_AP_RESET_HOLD_REQ), CVM_VACT_BLOCK);
	assert_int_equal(u->lc.mp, CVM_MP_AP_RESET_HOLD);
	assert_int_equal(v->stats.ghcb_holds, 1);
	send_ipi(f, 0, 1, 0x469f); /* SIPI without INIT: discarded, still held */
	assert_int_equal(ctr(f, 1, CVM_CTR_SIPI_DISCARDED_HOLD), 1);
	assert_int_equal(woken_for_nothing(f, 1), CVM_VACT_BLOCK);
	send_ipi(f, 0, 1, 0x4500); /* INIT alone: still held */
	send_ipi(f, 0, 1, 0x4500);
	assert_int_equal(woken_for_nothing(f, 1), CVM_VACT_BLOCK);
	assert_int_equal(u->lc.mp, CVM_MP_AP_RESET_HOLD);
	assert_int_equal(ctr(f, 1, CVM_CTR_HOLD_INIT), 2);
	send_ipi(f, 0, 1, 0x4612); /* SIPI: released, the vector ignored */
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	assert_int_equal(u->lc.mp, CVM_MP_RUNNABLE);
	assert_int_equal(ghcb_read(f, 1), CVM_GHCB_HOLD_WOKEN);
	assert_int_equal(v->stats.ghcb_released, 1);
	assert_int_equal(ctr(f, 1, CVM_CTR_HOLD_RELEASES), 1);

	/* INIT-SIPI to the running AP: no register either; it resumes where it was. */
	send_ipi(f, 0, 1, 0x4500);
	send_ipi(f, 0, 1, 0x4612);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	assert_int_equal(v->stats.sipi_resumes, 1);
	assert_int_equal(reg_ioctls(), 0);
	assert_int_equal(f->run[1]->kvm_dirty_regs & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS), 0);
	assert_int_equal(cvm_regs_refused(v), 0);
	assert_int_equal(v->stats.reg_writes, 0);

	/* Held at the end: MP state 9 in the statistics. */
	assert_int_equal(ghcb_write(f, 1, CVM_GHCB_AP_RESET_HOLD_REQ), CVM_VACT_BLOCK);
	f->vm.irqchip->thread_exit(v);
	struct json_object *root = cvm_vm_stats_json(&f->vm);
	struct json_object *o = json_object_array_get_idx(json_object_object_get(root, "vcpus"), 1);
	assert_string_equal(json_object_get_string(json_object_object_get(o, "mp_state_at_exit")),
	                    "ap_reset_hold");
	assert_int_equal(json_object_get_int(json_object_object_get(o, "mp_state_code_at_exit")),
	                 9);
	o = json_object_object_get(o, "ghcb");
	assert_int_equal(json_object_get_int(json_object_object_get(o, "hold_requests")), 2);
	assert_int_equal(json_object_get_int(json_object_object_get(o, "hold_responses")), 1);
	json_object_put(root);
}

/* Without protected state the hold works the same: the release writes no register. */
static void test_hold_without_protection(void **state)
{
	struct fixture *f = *state;
	struct cvm_vcpu *v = &f->vcpu[1];

	boot_ap1(f); /* an ordinary SIPI entry: registers loaded */
	assert_int_equal(f->run[1]->s.regs.sregs.cs.selector, 0x9f00);
	f->run[1]->kvm_dirty_regs = 0;
	fake.n = 0;
	assert_int_equal(ghcb_write(f, 1, CVM_GHCB_AP_RESET_HOLD_REQ), CVM_VACT_BLOCK);
	send_ipi(f, 0, 1, 0x4500);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_BLOCK);
	send_ipi(f, 0, 1, 0x4612);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	assert_int_equal(reg_ioctls(), 0);
	/* Nor a read for it: a held vCPU does not park its debug registers. */
	assert_int_equal(calls(KVM_GET_DEBUGREGS, NULL), 0);
	assert_int_equal(f->run[1]->kvm_dirty_regs & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS), 0);
	assert_int_equal(ghcb_read(f, 1), CVM_GHCB_HOLD_WOKEN);
	/* An INIT that overtakes the request: the hold is refused, "not woken" is the answer. */
	send_ipi(f, 0, 1, 0x4500);
	assert_int_equal(ghcb_write(f, 1, CVM_GHCB_AP_RESET_HOLD_REQ), CVM_VACT_BLOCK);
	assert_int_equal(v->stats.ghcb_hold_ignored, 1);
	assert_int_equal(cvm_uvcpu(v)->lc.mp, CVM_MP_INIT_RECEIVED);
	send_ipi(f, 0, 1, 0x4612);
	assert_int_equal(pre_entry(f, 1), CVM_VACT_CONTINUE);
	assert_int_equal(ghcb_read(f, 1), CVM_GHCB_HOLD_PENDING);
}

static void test_ghcb_unsupported_requests(void **state)
{
	static const uint64_t bad[] = {0,
	                               1,
	                               2,
	                               5,
	                               7,
	                               CVM_GHCB_HOLD_WOKEN,
	                               0x100,
	                               0xfff,
	                               ~0ull,
	                               (1ull << 12) | 6,
	                               0x8000000000000006ull};
	struct fixture *f = *state;
	struct cvm_vcpu *v = &f->vcpu[0];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* No #GP, no hold: the value stays as written (no response), the vCPU runs on. */
		assert_int_equal(ghcb_write(f, 0, bad[i]), CVM_VACT_CONTINUE);
		assert_int_equal(ghcb_read(f, 0), bad[i]);
		assert_int_equal(cvm_uvcpu(v)->lc.mp, CVM_MP_RUNNABLE);
	}
	assert_int_equal(v->stats.ghcb_unsupported, 9);
	assert_int_equal(v->stats.ghcb_malformed, 2);
	assert_int_equal(v->stats.ghcb_holds, 0);
	assert_int_equal(v->stats.msr_gp, 0);
	/* 8 lines at once, then the rate limit: 3 held back. */
	assert_int_equal(cvm_ratelimit_suppressed(&f->vm.ghcb_log), 3);
	assert_int_equal(cvm_ghcb_classify(6), CVM_GHCB_HOLD);
	assert_int_equal(cvm_ghcb_classify(0x1006), CVM_GHCB_MALFORMED);
	assert_int_equal(cvm_ghcb_classify(0x1007), CVM_GHCB_UNSUPPORTED);
}

/* split: KVM owns INIT and SIPI, so the hold is refused (no response); other MSRs #GP. */
static void test_ghcb_split_refuses_hold(void **state)
{
	struct fixture *f = *state;
	struct cvm_vcpu *v = &f->vcpu[0];
	uint64_t x = 0;

	assert_int_equal(ghcb_write(f, 0, CVM_GHCB_AP_RESET_HOLD_REQ), CVM_VACT_CONTINUE);
	assert_int_equal(ghcb_read(f, 0), CVM_GHCB_AP_RESET_HOLD_REQ);
	assert_int_equal(v->stats.ghcb_no_hold_mode, 1);
	assert_int_equal(v->stats.ghcb_holds, 0);
	assert_int_equal(msr(f, 0, false, 0x1234, &x), 1);
	assert_int_equal(v->stats.msr_gp, 1);
}

/* The measured initial state of a note, in KVM's structures. */
static void test_ap_init_regs(void **state)
{
	struct cvm_ap_init_note n = {.version = 1,
	                             .mode = CVM_AP_MODE_LONG64,
	                             .entry = 0x1013b1,
	                             .stack_top = 0x115000,
	                             .stack_stride = 0x1000,
	                             .nr_stacks = 255,
	                             .cr3 = 0x107000,
	                             .gdt_base = 0x106020,
	                             .gdt_limit = 31,
	                             .code_sel = 0x18,
	                             .data_sel = 0x10};
	struct cvm_x86_regs r;
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	(void)state;
	cvm_regs_from_ap_init(&n, 3, 0x806f8, &r);
	cvm_regs_to_kvm(&r, APIC | CVM_APIC_BASE_EN, &regs, &sregs);
	assert_int_equal(regs.rip, 0x1013b1);
	assert_int_equal(regs.rsp, 0x117000);
	assert_int_equal(regs.rdi, 3);
	assert_int_equal(regs.rax | regs.rbx | regs.rcx | regs.rdx | regs.rsi | regs.rbp, 0);
	assert_int_equal(regs.rflags, 2);
	assert_int_equal(sregs.cs.selector, 0x18);
	assert_int_equal(sregs.cs.l, 1);
	assert_int_equal(sregs.cs.db, 0);
	assert_int_equal(sregs.ss.selector, 0x10);
	assert_int_equal(sregs.ss.db, 1);
	assert_int_equal(sregs.gdt.base, 0x106020);
	assert_int_equal(sregs.gdt.limit, 31);
	assert_int_equal(sregs.idt.limit, 0);
	assert_int_equal(sregs.cr0, 0x80000011);
	assert_int_equal(sregs.cr3, 0x107000);
	assert_int_equal(sregs.cr4, 0x20);
	assert_int_equal(sregs.efer, 0x500);
	assert_int_equal(sregs.tr.type, 0xb);
	n.mode = CVM_AP_MODE_PROT32;
	n.cr3 = 0;
	cvm_regs_from_ap_init(&n, 1, 0x806f8, &r);
	cvm_regs_to_kvm(&r, APIC | CVM_APIC_BASE_EN, &regs, &sregs);
	assert_int_equal(regs.rsp, 0x115000);
	assert_int_equal(sregs.cs.l, 0);
	assert_int_equal(sregs.cs.db, 1);
	assert_int_equal(sregs.cr0, 0x11);
	assert_int_equal(sregs.cr3 | sregs.cr4 | sregs.efer, 0);
}

#define USER(t)   cmocka_unit_test_setup_teardown(t, setup_user, teardown)
#define PROT(t)   cmocka_unit_test_setup_teardown(t, setup_user_protected, teardown)
#define SPLIT(t)  cmocka_unit_test_setup_teardown(t, setup_split, teardown)
#define NOSYNC(t) cmocka_unit_test_setup_teardown(t, setup_user_no_sync_regs, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        USER(test_apic_mmio_id_version),
	        USER(test_fixed_ipi_routed_and_injected),
	        USER(test_interrupt_window),
	        USER(test_tpr_masks_and_cr8_syncs),
	        USER(test_hlt_blocks_until_interrupt),
	        USER(test_hlt_with_interrupts_off_is_a_deadlock),
	        USER(test_hlt_with_nmi_pin_is_not_a_deadlock),
	        USER(test_init_sipi_load_registers),
	        NOSYNC(test_without_sync_regs),
	        USER(test_init_overwrites_pending_sipi),
	        USER(test_nmi_ipi),
	        USER(test_hlt_while_kvm_holds_nmi),
	        USER(test_injection_falls_back_to_ioctl),
	        USER(test_init_to_asleep_ap_needs_no_wake),
	        USER(test_sleep_wake_race),
	        USER(test_smi_ipi_dropped),
	        USER(test_shorthands_and_logical),
	        USER(test_msr_x2apic_transitions),
	        USER(test_apic_relocation),
	        USER(test_tsc_deadline_msr),
	        USER(test_user_ioapic_level_eoi),
	        USER(test_user_ioapic_edge_uart_line),
	        SPLIT(test_split_routes_msi_and_eoi),
	        cmocka_unit_test(test_regs_conversion),
	        USER(test_user_stats),
	        cmocka_unit_test(test_kernel_stats_nulls),
	        PROT(test_gate_refuses_after_launch),
	        USER(test_gate_allows_without_protection),
	        PROT(test_protected_boot_and_hold),
	        USER(test_hold_without_protection),
	        USER(test_ghcb_unsupported_requests),
	        SPLIT(test_ghcb_split_refuses_hold),
	        cmocka_unit_test(test_ap_init_regs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
