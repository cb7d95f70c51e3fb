/* The `kernel` irqchip mode: KVM's in-kernel local APICs, I/O APIC and PIC own INIT, SIPI and HLT. */
#include <errno.h>
#include <sys/ioctl.h>

#include "vmm/seccomp_rules.h"
#include "vmm/vm_internal.h"

static int kernel_create(struct cvm_vm *vm)
{
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return -errno;
	return 0;
}

static int kernel_vcpu_init(struct cvm_vcpu *vcpu, bool is_bsp)
{
	/* KVM already starts APs UNINITIALIZED with its irqchip; say so rather than rely on it. */
	struct kvm_mp_state mp = {.mp_state = is_bsp ? KVM_MP_STATE_RUNNABLE
	                                             : KVM_MP_STATE_UNINITIALIZED};

	if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) < 0)
		return -errno;
	return 0;
}

static int kernel_set_irq(struct cvm_vm *vm, unsigned int irq, int level)
{
	struct kvm_irq_level l = {.irq = irq, .level = level};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		return -errno;
	return 0;
}

/* set_irq runs on vCPU threads (UART transmit) and the main thread (UART receive). */
static const struct cvm_sc_rule set_irq_rules[] = {
        CVM_SC_IOCTL_ON(CVM_SC_FD_VM, KVM_IRQ_LINE, "device interrupt lines (the UART's IRQ 4)"),
};
static const struct cvm_seccomp_list set_irq_list = CVM_SC_LIST("irqchip kernel", set_irq_rules);

const struct cvm_irqchip_ops cvm_irqchip_kernel_ops = {
        .name = "kernel",
        .create = kernel_create,
        .vcpu_init = kernel_vcpu_init,
        .set_irq = kernel_set_irq,
        .sees_halts = false,
        .owns_lifecycle = false,
        .seccomp = {{CVM_THREAD_MAIN, &set_irq_list, NULL}, {CVM_THREAD_VCPU, &set_irq_list, NULL}},
};
