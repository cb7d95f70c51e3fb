/*
 * The `split` irqchip mode (KVM_CAP_SPLIT_IRQCHIP): KVM's local APICs own
 * INIT, SIPI, HLT and IPIs; corevm owns the I/O APIC. Device lines go through
 * the core's I/O APIC and out as MSIs (KVM_SIGNAL_MSI); the redirection
 * entries are mirrored into KVM's MSI routes for GSIs 0-23 so that KVM knows
 * which vectors are level-triggered and reports their EOIs
 * (KVM_EXIT_IOAPIC_EOI), which feed the I/O APIC's remote IRR.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "util/log.h"
#include "vmm/ioapic_user.h"
#include "vmm/seccomp_rules.h"
#include "vmm/vm_internal.h"

struct split_chip {
	struct cvm_vm *vm;
	struct cvm_vioapic ioapic;
	struct {
		struct kvm_irq_routing hdr;
		struct kvm_irq_routing_entry e[CVM_IOAPIC_PINS];
	} routes; /* as last given to KVM, under the I/O APIC lock */
	bool routes_set;
	atomic_uint msi_failures;
	uint64_t route_updates;
};

static struct split_chip *split_chip(const struct cvm_vm *vm)
{
	return vm->irqchip_data;
}

/* The MSI address/data pair of an I/O APIC message (8-bit destination form). */
static void msg_to_msi(const struct cvm_apic_msg *m, uint32_t *addr, uint32_t *data)
{
	*addr = 0xfee00000u | ((m->dest & 0xffu) << 12) | ((m->flags & CVM_MSG_LOGICAL) ? 4u : 0u) |
	        (m->mode == CVM_DM_LOWEST ? 8u : 0u);
	*data = m->vector | ((uint32_t)m->mode << 8) | ((m->flags & CVM_MSG_LEVEL) ? 0x8000u : 0u) |
	        ((m->flags & CVM_MSG_ASSERT) ? 0x4000u : 0u);
}

static void split_deliver(void *ctx, const struct cvm_apic_msg *m)
{
	struct split_chip *s = ctx;
	struct kvm_msi msi;
	int e;

	memset(&msi, 0, sizeof(msi));
	msg_to_msi(m, &msi.address_lo, &msi.data);
	e = s->vm->ioctl(s->vm->vm_fd, KVM_SIGNAL_MSI, &msi);
	if (e < 0 && atomic_fetch_add(&s->msi_failures, 1) == 0)
		cvm_err("kvm", "KVM_SIGNAL_MSI (address 0x%x, data 0x%x): %s", msi.address_lo,
		        msi.data, strerror(-e));
}

/* The guest rewrote a redirection entry: mirror the table into KVM's routes if it changed. */
static void split_routes(void *ctx, const struct cvm_ioapic *io)
{
	struct split_chip *s = ctx;
	struct kvm_irq_routing_entry e[CVM_IOAPIC_PINS];
	int r;

	memset(e, 0, sizeof(e));
	for (unsigned int pin = 0; pin < CVM_IOAPIC_PINS; pin++) {
		struct cvm_apic_msg m;
		cvm_ioapic_msg(io, pin, &m);
		e[pin].gsi = pin;
		e[pin].type = KVM_IRQ_ROUTING_MSI;
		msg_to_msi(&m, &e[pin].u.msi.address_lo, &e[pin].u.msi.data);
	}
	if (s->routes_set && !memcmp(e, s->routes.e, sizeof(e)))
		return;
	memcpy(s->routes.e, e, sizeof(e));
	s->routes.hdr.nr = CVM_IOAPIC_PINS;
	s->routes.hdr.flags = 0;
	r = s->vm->ioctl(s->vm->vm_fd, KVM_SET_GSI_ROUTING, &s->routes);
	s->route_updates++;
	s->routes_set = r == 0;
	if (r < 0)
		cvm_err("kvm", "KVM_SET_GSI_ROUTING for the I/O APIC pins: %s", strerror(-r));
}

static int split_create(struct cvm_vm *vm)
{
	struct kvm_enable_cap cap = {.cap = KVM_CAP_SPLIT_IRQCHIP, .args = {CVM_IOAPIC_PINS}};
	struct split_chip *s;
	int e;

	if (vm->ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_SPLIT_IRQCHIP) <= 0)
		return -ENOTSUP;
	e = vm->ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap);
	if (e < 0)
		return e;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->vm = vm;
	atomic_init(&s->msi_failures, 0);
	cvm_vioapic_init(&s->ioapic, split_deliver, split_routes, s);
	vm->irqchip_data = s;
	pthread_mutex_lock(&s->ioapic.lock);
	split_routes(s, &s->ioapic.io);
	pthread_mutex_unlock(&s->ioapic.lock);
	return s->routes_set ? 0 : -EIO;
}

static void split_destroy(struct cvm_vm *vm)
{
	struct split_chip *s = split_chip(vm);

	if (!s)
		return;
	cvm_vioapic_destroy(&s->ioapic);
	free(s);
	vm->irqchip_data = NULL;
}

/* As in kernel mode: KVM's local APICs start APs UNINITIALIZED. */
static int split_vcpu_init(struct cvm_vcpu *vcpu, bool is_bsp)
{
	struct kvm_mp_state mp = {.mp_state = is_bsp ? KVM_MP_STATE_RUNNABLE
	                                             : KVM_MP_STATE_UNINITIALIZED};

	return vcpu->vm->ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp);
}

static enum cvm_vcpu_action split_handle_exit(struct cvm_vcpu *v, struct kvm_run *run)
{
	struct split_chip *s = split_chip(v->vm);

	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		if (!cvm_vioapic_claims(run->mmio.phys_addr))
			return CVM_VACT_NOT_MINE;
		cvm_vioapic_mmio(&s->ioapic, run);
		return CVM_VACT_CONTINUE;
	case KVM_EXIT_IOAPIC_EOI:
		cvm_vioapic_eoi(&s->ioapic, run->eoi.vector);
		return CVM_VACT_CONTINUE;
	default:
		return CVM_VACT_NOT_MINE;
	}
}

static int split_set_irq(struct cvm_vm *vm, unsigned int irq, int level)
{
	return cvm_vioapic_set_irq(&split_chip(vm)->ioapic, irq, level != 0);
}

static void split_stats(struct cvm_vm *vm, struct json_object *vm_obj)
{
	struct split_chip *s = split_chip(vm);
	struct json_object *io;

	cvm_vioapic_stats(&s->ioapic, vm_obj);
	if (json_object_object_get_ex(vm_obj, "ioapic", &io)) {
		json_object_object_add(io, "msi_failures",
		                       json_object_new_uint64(atomic_load(&s->msi_failures)));
		json_object_object_add(io, "route_updates",
		                       json_object_new_uint64(s->route_updates));
	}
}

/*
 * corevm's I/O APIC sends an MSI from whichever thread moves a line or EOIs a
 * level-triggered vector (vCPUs: devices, EOI exits; main: console input);
 * only a vCPU's I/O APIC write changes the redirection table (re-routing).
 */
static const struct cvm_sc_rule split_main_rules[] = {
        CVM_SC_IOCTL_ON(CVM_SC_FD_VM, KVM_SIGNAL_MSI, "an I/O APIC pin's message"),
};
static const struct cvm_sc_rule split_vcpu_rules[] = {
        CVM_SC_IOCTL_ON(CVM_SC_FD_VM, KVM_SIGNAL_MSI, "an I/O APIC pin's message"),
        CVM_SC_IOCTL_ON(CVM_SC_FD_VM, KVM_SET_GSI_ROUTING, "I/O APIC redirection changes"),
};
static const struct cvm_seccomp_list split_main_list =
        CVM_SC_LIST("irqchip split", split_main_rules);
static const struct cvm_seccomp_list split_vcpu_list =
        CVM_SC_LIST("irqchip split", split_vcpu_rules);

const struct cvm_irqchip_ops cvm_irqchip_split_ops = {
        .name = "split",
        .create = split_create,
        .destroy = split_destroy,
        .vcpu_init = split_vcpu_init,
        .handle_exit = split_handle_exit,
        .set_irq = split_set_irq,
        .stats = split_stats,
        .sees_halts = false,
        .owns_lifecycle = false,
        .seccomp = {{CVM_THREAD_MAIN, &split_main_list, NULL},
                    {CVM_THREAD_VCPU, &split_vcpu_list, NULL}},
};
