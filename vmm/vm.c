/* VM set-up on /dev/kvm: device checks, memory slots, irqchip, CPUID and vCPU creation. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"
#include "core/apic_bus.h"
#include "vmm/cpuid.h"
#include "vmm/ghcb.h"
#include "vmm/regs_gate.h"
#include "vmm/seccomp_filter.h"
#include "vmm/vm_internal.h"
#include "vmm/workq.h"
#include "vmm/x86_regs.h"

#define KVM_API_VERSION_WANTED 12

/* Addresses KVM needs for its own real-mode helpers (VMX): inside the MMIO hole, above the APICs. */
#define CVM_KVM_IDENTITY_MAP_ADDR 0xfeffc000u
#define CVM_KVM_TSS_ADDR          0xfeffd000u /* three pages */

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
        {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
        {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
        {KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
        {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
        {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
        {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
        {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
};

const char *cvm_irqchip_mode_name(enum cvm_irqchip_mode m)
{
	switch (m) {
	case CVM_IRQCHIP_KERNEL:
		return "kernel";
	case CVM_IRQCHIP_SPLIT:
		return "split";
	case CVM_IRQCHIP_USER:
		return "user";
	}
	return "?";
}

const char *cvm_mwait_policy_name(enum cvm_mwait_policy p)
{
	switch (p) {
	case CVM_VM_MWAIT_DEFAULT:
		return "default";
	case CVM_VM_MWAIT_NATIVE:
		return "native";
	case CVM_VM_MWAIT_NOP:
		return "nop";
	case CVM_VM_MWAIT_YIELD:
		return "yield";
	case CVM_VM_MWAIT_EXIT:
		return "exit";
	}
	return "?";
}

static const struct cvm_irqchip_ops *irqchip_ops(enum cvm_irqchip_mode m)
{
	switch (m) {
	case CVM_IRQCHIP_SPLIT:
		return &cvm_irqchip_split_ops;
	case CVM_IRQCHIP_USER:
		return &cvm_irqchip_user_ops;
	default:
		return &cvm_irqchip_kernel_ops;
	}
}

int cvm_kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int r = ioctl(fd, req, arg);

	return r < 0 ? -errno : r;
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/* Opens the KVM device and checks the API version: -ENODEV, -EACCES or -errno, reported. */
static int open_kvm(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int v;

	if (fd < 0) {
		int e = errno;
		if (e == ENOENT || e == ENXIO || e == ENODEV) {
			cvm_err("kvm", "%s: %s (KVM is not available on this host)", path,
			        strerror(e));
			return -ENODEV;
		}
		cvm_err("kvm", "cannot open %s: %s", path, strerror(e));
		return e == EACCES || e == EPERM ? -EACCES : -e;
	}
	v = xioctl(fd, KVM_GET_API_VERSION, NULL);
	if (v < 0) {
		cvm_err("kvm", "%s is not a KVM device (KVM_GET_API_VERSION: %s)", path,
		        strerror(-v));
		close(fd);
		return -ENODEV;
	}
	if (v != KVM_API_VERSION_WANTED) {
		cvm_err("kvm", "%s: KVM API version %d, corevm needs %d", path, v,
		        KVM_API_VERSION_WANTED);
		close(fd);
		return -ENODEV;
	}
	return fd;
}

static int check_caps(struct cvm_vm *vm, unsigned int ncpus)
{
	int max, max_id;

	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (xioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, (void *)(long)required_caps[i].cap) <=
		    0) {
			cvm_err("kvm", "required capability %s is missing", required_caps[i].name);
			return -ENOTSUP;
		}
	}
	max = xioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = xioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_NR_VCPUS);
	max_id = xioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_MAX_VCPU_ID);
	if (max_id > 0 && max_id < max)
		max = max_id;
	if (max <= 0)
		max = 1;
	vm->max_cpus = (unsigned int)max;
	if (ncpus < 1 || ncpus > vm->max_cpus) {
		cvm_err("kvm", "--cpus %u: KVM on this host allows 1 to %u vCPUs", ncpus,
		        vm->max_cpus);
		return -E2BIG;
	}
	return 0;
}

static int set_memory(struct cvm_vm *vm)
{
	for (unsigned int i = 0; i < vm->gmem.nregions; i++) {
		const struct cvm_gmem_region *r = &vm->gmem.region[i];
		struct kvm_userspace_memory_region m = {
		        .slot = i,
		        .guest_phys_addr = r->gpa,
		        .memory_size = r->size,
		        .userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};
		int e = xioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &m);
		if (e < 0) {
			cvm_err("kvm",
			        "KVM_SET_USER_MEMORY_REGION slot %u (gpa 0x%llx, %llu bytes): %s",
			        i, (unsigned long long)r->gpa, (unsigned long long)r->size,
			        strerror(-e));
			return e;
		}
	}
	return 0;
}

/* KVM's supported CPUID, grown until it fits; the caller frees it. `*cap` gets the room. */
static struct kvm_cpuid2 *supported_cpuid(int kvm_fd, unsigned int *cap)
{
	for (unsigned int n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (n + 8) * sizeof(c->entries[0]));
		int e;
		if (!c)
			return NULL;
		c->nent = n;
		e = xioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
		if (e == 0) {
			*cap = n + 8; /* room for the topology leaves cvm_cpuid_set_topology adds */
			return c;
		}
		free(c);
		if (e != -E2BIG) {
			cvm_err("kvm", "KVM_GET_SUPPORTED_CPUID: %s", strerror(-e));
			return NULL;
		}
	}
	cvm_err("kvm", "KVM_GET_SUPPORTED_CPUID: table too large");
	return NULL;
}

static void flat_segment(struct kvm_segment *s, uint16_t selector, uint8_t type)
{
	*s = (struct kvm_segment){
	        .base = 0,
	        .limit = 0xffffffff,
	        .selector = selector,
	        .type = type,
	        .present = 1,
	        .dpl = 0,
	        .db = 1,
	        .s = 1,
	        .l = 0,
	        .g = 1,
	};
}

static int load_state(struct cvm_vcpu *v, struct kvm_regs *regs, struct kvm_sregs *sr);

/* KVM's special registers of a vCPU not yet run (the base its entry state is built on). */
static int get_sregs(struct cvm_vcpu *v, struct kvm_sregs *sr)
{
	int e = xioctl(v->fd, KVM_GET_SREGS, sr);

	if (e < 0)
		cvm_err("kvm", "KVM_GET_SREGS on vcpu %u: %s", v->index, strerror(-e));
	return e;
}

/* The BSP in 32-bit flat protected mode at the loader's entry (see struct cvm_boot_entry). */
static int set_bsp_entry(struct cvm_vcpu *v, const struct cvm_boot_entry *entry)
{
	struct kvm_sregs sr;
	struct kvm_regs regs;
	int e = get_sregs(v, &sr);

	if (e < 0)
		return e;
	flat_segment(&sr.cs, 0x10, 0xb); /* code, execute/read, accessed */
	flat_segment(&sr.ds, 0x18, 0x3); /* data, read/write, accessed */
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.tr = (struct kvm_segment){
	        .selector = 0x20, .limit = 0x67, .type = 0xb, .present = 1}; /* busy 32-bit TSS */
	sr.ldt = (struct kvm_segment){.selector = 0, .limit = 0xffff, .type = 0x2, .present = 1};
	sr.gdt.base = 0;
	sr.gdt.limit = 0xffff;
	sr.idt.base = 0;
	sr.idt.limit = 0xffff;
	sr.cr0 = 0x11; /* PE, ET; paging off */
	sr.cr3 = 0;
	sr.cr4 = 0;
	sr.efer = 0;
	memset(&regs, 0, sizeof(regs));
	regs.rip = entry->eip;
	regs.rax = entry->eax;
	regs.rbx = entry->ebx;
	regs.rflags = 0x2;
	return load_state(v, &regs, &sr);
}

/* Hands a vCPU its state before launch (through the enforcement point, vmm/regs_gate.h). */
static int load_state(struct cvm_vcpu *v, struct kvm_regs *regs, struct kvm_sregs *sr)
{
	int e = cvm_regs_write(v, CVM_REGSET_SREGS, sr);

	if (e < 0) {
		cvm_err("kvm", "KVM_SET_SREGS on vcpu %u: %s", v->index, strerror(-e));
		return e;
	}
	e = cvm_regs_write(v, CVM_REGSET_REGS, regs);
	if (e < 0)
		cvm_err("kvm", "KVM_SET_REGS on vcpu %u: %s", v->index, strerror(-e));
	return e;
}

/*
 * Protected state: AP `v` holds the measured initial state of the image's note
 * from now on; its first INIT-SIPI-SIPI runs it (docs/protected-state.md).
 */
static int set_ap_initial_state(struct cvm_vcpu *v, const struct cvm_ap_init_note *n,
                                uint32_t cpuid1_eax)
{
	struct cvm_x86_regs r;
	struct kvm_sregs sr;
	struct kvm_regs regs;
	int e = get_sregs(v, &sr);

	if (e < 0)
		return e;
	cvm_regs_from_ap_init(n, v->index, cpuid1_eax, &r);
	cvm_regs_to_kvm(&r, sr.apic_base, &regs, &sr);
	return load_state(v, &regs, &sr);
}

/* CPUID.1:EAX (the processor signature) of a vCPU's table: RDX after RESET. */
static uint32_t cpuid1_eax(const struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			return c->entries[i].eax;
	return 0x600;
}

static int create_vcpu(struct cvm_vm *vm, unsigned int i, struct kvm_cpuid2 *tmpl, unsigned int cap,
                       struct kvm_cpuid2 *scratch, const struct cvm_boot_entry *entry)
{
	struct cvm_vcpu *v = &vm->vcpu[i];
	int e;

	v->vm = vm;
	v->index = i;
	v->stats.mp_state = -1;
	cvm_mailbox_init(&v->mbox);
	e = xioctl(vm->vm_fd, KVM_CREATE_VCPU, (void *)(long)i);
	if (e < 0) {
		cvm_err("kvm", "KVM_CREATE_VCPU %u: %s", i, strerror(-e));
		return e;
	}
	v->fd = e;
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		e = -errno;
		v->run = NULL;
		cvm_err("kvm", "mmap of kvm_run for vcpu %u: %s", i, strerror(-e));
		return e;
	}
	v->run_size = vm->run_size;

	memcpy(scratch, tmpl, sizeof(*tmpl) + tmpl->nent * sizeof(tmpl->entries[0]));
	e = cvm_cpuid_set_topology(scratch, cap, vm->ncpus, i);
	if (e == 0)
		e = xioctl(v->fd, KVM_SET_CPUID2, scratch);
	if (e < 0) {
		cvm_err("kvm", "KVM_SET_CPUID2 on vcpu %u: %s", i, strerror(-e));
		return e;
	}
	if (vm->protected_state && i > 0) {
		e = set_ap_initial_state(v, &entry->ap_init, cpuid1_eax(scratch));
		if (e < 0)
			return e;
	}
	e = vm->irqchip->vcpu_init ? vm->irqchip->vcpu_init(v, i == 0) : 0;
	if (e < 0) {
		cvm_err("kvm", "initial MP state of vcpu %u (irqchip %s): %s", i, vm->irqchip->name,
		        strerror(-e));
		return e;
	}
	if (!vm->irqchip->sees_halts) {
		/* KVM halts this vCPU inside KVM_RUN: its `blocking` counter says when. */
		e = cvm_kvm_stat_open(v->fd, "blocking", &v->stats_off);
		v->stats_on = e >= 0;
		v->stats_fd = e;
	}
	return i == 0 ? set_bsp_entry(v, entry) : 0;
}

/* Whether KVM's supported CPUID offers MONITOR/MWAIT (CPUID.1:ECX bit 3). */
static bool cpuid_has_mwait(const struct kvm_cpuid2 *c)
{
	for (unsigned int i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			return c->entries[i].ecx & (1u << 3);
	return false;
}

/*
 * --mwait (docs/idle-work.md): probes what KVM offers and says in one line what
 * is unavailable and what corevm does instead. Before the vCPUs exist (KVM
 * takes KVM_CAP_X86_DISABLE_EXITS only then). Returns 0 or -ENOTSUP (native
 * refused, reported).
 */
static int mwait_setup(struct cvm_vm *vm, const struct kvm_cpuid2 *tmpl)
{
	struct cvm_mwait *m = &vm->mwait;
	const char *name = cvm_mwait_policy_name(m->asked);
	const char *idle = vm->irqchip->sees_halts
	                           ? "which exits to corevm, where idle work runs"
	                           : "which KVM keeps: idle work reaches halted vCPUs by kicks";
	struct kvm_enable_cap cap = {.cap = KVM_CAP_X86_DISABLE_EXITS,
	                             .args = {KVM_X86_DISABLE_EXITS_MWAIT}};
	int e;

	m->disable_exits =
	        xioctl(vm->vm_fd, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_X86_DISABLE_EXITS);
	if (m->disable_exits < 0)
		m->disable_exits = 0;
	m->cpuid_mwait = cpuid_has_mwait(tmpl);
	m->in_force = m->cpuid_mwait ? "nop" : "not-offered";
	switch (m->asked) {
	case CVM_VM_MWAIT_DEFAULT:
		return 0;
	case CVM_VM_MWAIT_NATIVE:
		if (!(m->disable_exits & KVM_X86_DISABLE_EXITS_MWAIT) || !m->cpuid_mwait) {
			cvm_err("mwait",
			        "--mwait native: this KVM cannot let the guest run MWAIT "
			        "(KVM_CAP_X86_DISABLE_EXITS offers 0x%x, MWAIT is 0x%x; MONITOR/MWAIT "
			        "%s in its CPUID); use --mwait nop, yield or exit",
			        (unsigned int)m->disable_exits, KVM_X86_DISABLE_EXITS_MWAIT,
			        m->cpuid_mwait ? "is" : "is not");
			return -ENOTSUP;
		}
		e = xioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap);
		if (e < 0) {
			cvm_err("mwait",
			        "--mwait native: KVM_ENABLE_CAP(KVM_CAP_X86_DISABLE_EXITS): %s",
			        strerror(-e));
			return -ENOTSUP;
		}
		m->in_force = "native";
		cvm_info("mwait", "--mwait native: MWAIT runs in the guest without exits");
		return 0;
	case CVM_VM_MWAIT_NOP:
		if (m->cpuid_mwait)
			cvm_info("mwait", "--mwait nop: MWAIT is offered; KVM treats it as a NOP");
		else
			cvm_warn(
			        "mwait",
			        "--mwait nop: unavailable: KVM offers no MONITOR/MWAIT in CPUID, so "
			        "the guest is not offered MWAIT; it idles with HLT, %s",
			        idle);
		return 0;
	default:
		if (m->cpuid_mwait)
			cvm_warn("mwait",
			         "--mwait %s: unavailable: KVM has no %s (no upstream KVM has); "
			         "corevm gives nop: MWAIT is offered and KVM treats it as a NOP",
			         name,
			         m->asked == CVM_VM_MWAIT_YIELD ? "yield on MWAIT"
			                                        : "MWAIT exit to userspace");
		else
			cvm_warn(
			        "mwait",
			        "--mwait %s: unavailable: KVM has no %s and offers no MONITOR/MWAIT "
			        "in CPUID, so the guest is not offered MWAIT; it idles with HLT, %s",
			        name,
			        m->asked == CVM_VM_MWAIT_YIELD ? "yield on MWAIT"
			                                       : "MWAIT exit to userspace",
			        idle);
		return 0;
	}
}

static int create_vcpus(struct cvm_vm *vm, const struct cvm_boot_entry *entry)
{
	unsigned int cap = 0;
	struct kvm_cpuid2 *tmpl = supported_cpuid(vm->kvm_fd, &cap);
	struct kvm_cpuid2 *scratch;
	int e = 0;

	if (!tmpl)
		return -ENOMEM;
	e = mwait_setup(vm, tmpl);
	if (e < 0) {
		free(tmpl);
		return e;
	}
	scratch = calloc(1, sizeof(*scratch) + cap * sizeof(scratch->entries[0]));
	if (!scratch) {
		free(tmpl);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < vm->ncpus && e == 0; i++)
		e = create_vcpu(vm, i, tmpl, cap, scratch, entry);
	free(scratch);
	free(tmpl);
	return e;
}

/* What --protected-state needs from the mode and the image; one line and -ENOTSUP otherwise. */
static int check_protected(const struct cvm_vm *vm, const struct cvm_boot_entry *entry)
{
	if (!vm->protected_state)
		return 0;
	if (vm->irqchip != &cvm_irqchip_user_ops) {
		cvm_err("protected",
		        "--protected-state needs --irqchip user: with %s KVM's local APICs apply "
		        "INIT and SIPI to the registers themselves",
		        vm->irqchip->name);
		return -ENOTSUP;
	}
	if (vm->ncpus > 1 && !entry->has_ap_init) {
		cvm_err("protected",
		        "--protected-state with %u vCPUs: the image has no AP initial-state note "
		        "(ELF note \"%s\" type 0x%x, docs/protected-state.md)",
		        vm->ncpus, CVM_NOTE_NAME, CVM_NOTE_AP_INIT);
		return -ENOTSUP;
	}
	if (vm->ncpus > 1 && vm->ncpus - 1 > entry->ap_init.nr_stacks) {
		cvm_err("protected",
		        "--protected-state with %u vCPUs: the image's AP initial-state note has "
		        "stacks for %u APs only",
		        vm->ncpus, entry->ap_init.nr_stacks);
		return -ENOTSUP;
	}
	return 0;
}

static int __vm_create(struct cvm_vm *vm, const struct cvm_vm_config *cfg,
                       const struct cvm_boot_entry *entry)
{
	const char *dev = cfg->kvm_dev ? cfg->kvm_dev : getenv(CVM_KVM_DEV_ENV);
	int e = check_protected(vm, entry);

	if (e < 0)
		return e;

	vm->kvm_fd = open_kvm(dev && *dev ? dev : CVM_KVM_DEV_DEFAULT);
	if (vm->kvm_fd < 0)
		return vm->kvm_fd;
	e = check_caps(vm, cfg->ncpus);
	if (e < 0)
		return e;
	e = xioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (e < (int)sizeof(struct kvm_run)) {
		cvm_err("kvm", "KVM_GET_VCPU_MMAP_SIZE: %s", e < 0 ? strerror(-e) : "too small");
		return e < 0 ? e : -EINVAL;
	}
	vm->run_size = (size_t)e;
	e = xioctl(vm->kvm_fd, KVM_CREATE_VM, NULL);
	if (e < 0) {
		cvm_err("kvm", "KVM_CREATE_VM: %s", strerror(-e));
		return e;
	}
	vm->vm_fd = e;
	uint64_t idmap = CVM_KVM_IDENTITY_MAP_ADDR;
	e = xioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	if (e == 0)
		e = xioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)(long)CVM_KVM_TSS_ADDR);
	if (e < 0) {
		cvm_err("kvm", "setting KVM's TSS and identity-map addresses: %s", strerror(-e));
		return e;
	}
	e = set_memory(vm);
	if (e < 0)
		return e;
	e = vm->irqchip->create(vm);
	if (e == -E2BIG)
		cvm_err("kvm", "--cpus %u: the %s irqchip handles at most %u vCPUs", vm->ncpus,
		        vm->irqchip->name, CVM_APIC_MAX_VCPUS);
	else if (e == -ENOTSUP)
		cvm_err("kvm", "the %s irqchip needs a capability this KVM lacks (docs/irqchip.md)",
		        vm->irqchip->name);
	else if (e < 0)
		cvm_err("kvm", "creating the %s irqchip: %s", vm->irqchip->name, strerror(-e));
	if (e < 0)
		return e;
	if (!vm->irqchip->msr_filter) {
		e = cvm_ghcb_vm_init(vm);
		if (e < 0) {
			cvm_err("kvm", "MSR filter for the GHCB MSR (0x%x): %s", CVM_MSR_GHCB,
			        strerror(-e));
			return e;
		}
	}
	vm->vcpu = calloc(vm->ncpus, sizeof(*vm->vcpu));
	if (!vm->vcpu)
		return -ENOMEM;
	for (unsigned int i = 0; i < vm->ncpus; i++)
		vm->vcpu[i].fd = -1;
	e = create_vcpus(vm, entry);
	if (e < 0)
		return e;
	e = cvm_workq_create(vm, cfg->work_capacity);
	if (e < 0)
		return e;
	vm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->wake_fd < 0) {
		e = -errno;
		cvm_err("vm", "eventfd: %s", strerror(-e));
		return e;
	}
	return 0;
}

int cvm_vm_create(const struct cvm_vm_config *cfg, const struct cvm_boot_entry *entry,
                  struct cvm_vm **out)
{
	struct cvm_vm *vm = calloc(1, sizeof(*vm));
	int e;

	*out = NULL;
	if (!vm) {
		cvm_err("vm", "out of memory");
		return -ENOMEM;
	}
	vm->kvm_fd = vm->vm_fd = vm->wake_fd = vm->signal_fd = -1;
	vm->ncpus = cfg->ncpus;
	vm->gmem = *cfg->gmem;
	vm->boot_name = cfg->boot_name;
	vm->irqchip = irqchip_ops(cfg->irqchip);
	vm->ioctl = cvm_kvm_ioctl;
	vm->mwait.asked = cfg->mwait;
	vm->mwait.in_force = "not-offered";
	vm->protected_state = cfg->protected_state;
	atomic_init(&vm->launched, false);
	cvm_ratelimit_init(&vm->reg_log, 8, 1000000000ull);
	cvm_ratelimit_init(&vm->ghcb_log, 8, 1000000000ull);
	pthread_mutex_init(&vm->dev_lock, NULL);
	atomic_init(&vm->end_status, -1);
	atomic_init(&vm->end_claimed, 0);
	atomic_init(&vm->prints_left, CVM_GUEST_PRINTS_MAX);
	atomic_init(&vm->prints_suppressed, 0);
	atomic_init(&vm->irq_errors, 0);
	vm->con.out_fd = STDOUT_FILENO;
	vm->seccomp = cfg->seccomp;
	pthread_mutex_init(&vm->gate_lock, NULL);
	pthread_cond_init(&vm->gate_cond, NULL);
	vm->gate_open = true;
	/* Before any corevm thread exists: an irqchip mode may start one in __vm_create. */
	e = vm->seccomp ? cvm_seccomp_init() : 0;
	if (e < 0)
		cvm_err("seccomp", "installing the SIGSYS handler: %s", strerror(-e));
	if (e == 0)
		e = __vm_create(vm, cfg, entry);
	if (e < 0) {
		if (e == -ENOMEM)
			cvm_err("vm", "creating the VM: out of memory");
		cvm_vm_destroy(vm);
		return e;
	}
	*out = vm;
	return 0;
}

void cvm_vm_set_pio(struct cvm_vm *vm, cvm_pio_fn fn, void *ctx)
{
	vm->pio = fn;
	vm->pio_ctx = ctx;
}

void cvm_vm_lock_devices(struct cvm_vm *vm)
{
	pthread_mutex_lock(&vm->dev_lock);
}

void cvm_vm_unlock_devices(struct cvm_vm *vm)
{
	pthread_mutex_unlock(&vm->dev_lock);
}

int cvm_vm_set_irq(struct cvm_vm *vm, unsigned int irq, int level)
{
	int e = vm->irqchip->set_irq ? vm->irqchip->set_irq(vm, irq, level) : -ENOTSUP;

	/* Report the first failure only: a device may toggle its line very often. */
	if (e < 0 && atomic_fetch_add(&vm->irq_errors, 1) == 0)
		cvm_err("kvm", "setting IRQ %u to %d (irqchip %s): %s", irq, level,
		        vm->irqchip->name, strerror(-e));
	return e;
}

const char *cvm_vm_end_cause(const struct cvm_vm *vm)
{
	return atomic_load(&vm->end_status) >= 0 ? vm->end_why : "";
}

int cvm_vm_stuck_threads(const struct cvm_vm *vm)
{
	return vm->threads_stuck;
}

void cvm_vm_destroy(struct cvm_vm *vm)
{
	if (!vm)
		return;
	if (vm->threads_stuck)
		return; /* a thread may still use the VM: leave it to process exit */
	cvm_workq_destroy(vm);
	for (unsigned int i = 0; vm->vcpu && i < vm->ncpus; i++) {
		struct cvm_vcpu *v = &vm->vcpu[i];
		if (v->efd_on)
			close(v->efd);
		if (v->stats_on)
			close(v->stats_fd);
		if (v->run)
			munmap(v->run, v->run_size);
		if (v->fd >= 0)
			close(v->fd);
		if (v->vm)
			cvm_mailbox_destroy(&v->mbox);
	}
	if (vm->irqchip && vm->irqchip->destroy)
		vm->irqchip->destroy(vm);
	free(vm->vcpu);
	if (vm->wake_fd >= 0)
		close(vm->wake_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	pthread_mutex_destroy(&vm->dev_lock);
	pthread_cond_destroy(&vm->gate_cond);
	pthread_mutex_destroy(&vm->gate_lock);
	free(vm);
}

/* ---- vCPUs seen from other threads ---- */

enum cvm_vcpu_pub_state cvm_vm_vcpu_state(const struct cvm_vm *vm, unsigned int i)
{
	static const uint8_t pub[CVM_VCPU_NSTATES] = {
	        [CVM_VCPU_CREATED] = CVM_VS_NOT_STARTED, [CVM_VCPU_RUNNING] = CVM_VS_IN_GUEST,
	        [CVM_VCPU_IN_VMM] = CVM_VS_IN_VMM,       [CVM_VCPU_HALTED] = CVM_VS_HALTED,
	        [CVM_VCPU_WAIT_SIPI] = CVM_VS_WAIT_SIPI, [CVM_VCPU_RESET_HOLD] = CVM_VS_RESET_HOLD,
	        [CVM_VCPU_PAUSED] = CVM_VS_PAUSED,       [CVM_VCPU_EXITING] = CVM_VS_STOPPING,
	        [CVM_VCPU_DONE] = CVM_VS_STOPPED,
	};
	int s;

	if (i >= vm->ncpus)
		return CVM_VS_STOPPED;
	s = atomic_load(&vm->vcpu[i].state);
	return (unsigned int)s < CVM_VCPU_NSTATES ? (enum cvm_vcpu_pub_state)pub[s]
	                                          : CVM_VS_STOPPED;
}

const char *cvm_vcpu_pub_state_name(enum cvm_vcpu_pub_state s)
{
	static const char *const names[] = {
	        [CVM_VS_NOT_STARTED] = "not-started", [CVM_VS_IN_GUEST] = "in-guest",
	        [CVM_VS_IN_VMM] = "in-vmm",           [CVM_VS_HALTED] = "halted",
	        [CVM_VS_WAIT_SIPI] = "wait-for-sipi", [CVM_VS_RESET_HOLD] = "reset-hold",
	        [CVM_VS_PAUSED] = "paused",           [CVM_VS_STOPPING] = "stopping",
	        [CVM_VS_STOPPED] = "stopped",
	};

	return (unsigned int)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

bool cvm_vm_vcpu_guest_idle(const struct cvm_vm *vm, unsigned int i)
{
	const struct cvm_vcpu *v;
	uint64_t b = 0;

	if (i >= vm->ncpus)
		return false;
	v = &vm->vcpu[i];
	if (!v->stats_on || atomic_load(&v->state) != CVM_VCPU_RUNNING)
		return false;
	return pread(v->stats_fd, &b, sizeof(b), (off_t)v->stats_off) == (ssize_t)sizeof(b) &&
	       b != 0;
}

int cvm_vm_vcpu_eventfd(struct cvm_vm *vm, unsigned int i)
{
	struct cvm_vcpu *v;
	int fd, cur;

	if (i >= vm->ncpus) {
		cvm_err("vm", "eventfd of vcpu %u: the VM has %u vCPUs", i, vm->ncpus);
		return -EINVAL;
	}
	v = &vm->vcpu[i];
	if (atomic_load_explicit(&v->efd_on, memory_order_acquire))
		return v->efd;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		fd = -errno;
		cvm_err("vm", "eventfd for vcpu %u: %s", i, strerror(-fd));
		return fd;
	}
	cur = cvm_workq_attach_eventfd(vm, v, fd);
	if (cur != fd)
		close(fd); /* another thread attached one first, or it is too late */
	if (cur == -EBUSY)
		cvm_err("vm",
		        "eventfd for vcpu %u: the VM runs with seccomp and has started; ask "
		        "for it before cvm_vm_run()",
		        i);
	return cur;
}
