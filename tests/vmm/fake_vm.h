/*
 * A fabricated VM without KVM, shared by the irqchip unit tests
 * (tests/vmm/test_irqchip.c) and the GHCB fuzz target (fuzz/fuzz_ghcb.c):
 * fills a zeroed struct cvm_vm and its vCPUs the way vm.c would, with every
 * KVM ioctl going to the caller's fake. Descriptors are never real: the VM is
 * fd 100, vCPU i is fd 1000 + i.
 */
#ifndef COREVM_TESTS_VMM_FAKE_VM_H
#define COREVM_TESTS_VMM_FAKE_VM_H

#include <string.h>

#include "vmm/irqchip.h"
#include "vmm/vm_internal.h"

/* A fake's answer to KVM_GET_DEBUGREGS: the debug registers as after RESET. */
static inline int cvm_fake_debugregs_reset(void *arg)
{
	struct kvm_debugregs *d = arg;

	memset(d, 0, sizeof(*d));
	d->dr6 = 0xffff0ff0;
	d->dr7 = 0x400;
	return 0;
}

/*
 * `vm` zeroed by the caller, `vcpu` an array of `ncpus` zeroed vCPUs: sets the
 * VM up (no console, no wake fd, protected state as given) and creates the
 * irqchip `ops`. Returns ops->create()'s result (0 or -errno).
 */
static inline int cvm_fake_vm_init(struct cvm_vm *vm, struct cvm_vcpu *vcpu, unsigned int ncpus,
                                   const struct cvm_irqchip_ops *ops, cvm_ioctl_fn ioctl_fn,
                                   bool protected_state)
{
	vm->ncpus = ncpus;
	vm->vcpu = vcpu;
	vm->irqchip = ops;
	vm->ioctl = ioctl_fn;
	vm->wake_fd = -1;
	vm->vm_fd = 100;
	vm->con.out_fd = -1;
	pthread_mutex_init(&vm->dev_lock, NULL);
	atomic_init(&vm->end_status, -1);
	atomic_init(&vm->prints_left, 0);
	vm->protected_state = protected_state;
	cvm_ratelimit_init(&vm->reg_log, 8, 1000000000ull);
	cvm_ratelimit_init(&vm->ghcb_log, 8, 1000000000ull);
	return ops->create(vm);
}

/*
 * vCPU `i` of `vm` (index i, vCPU 0 the BSP) on `run` (run_size bytes, zeroed
 * here), handling an exit (no kick needed). Returns vcpu_init()'s result.
 */
static inline int cvm_fake_vcpu_init(struct cvm_vm *vm, unsigned int i, struct kvm_run *run,
                                     size_t run_size)
{
	struct cvm_vcpu *v = &vm->vcpu[i];

	memset(run, 0, run_size);
	v->vm = vm;
	v->index = i;
	v->fd = 1000 + (int)i;
	v->run = run;
	v->run_size = run_size;
	v->stats.mp_state = -1;
	cvm_mailbox_init(&v->mbox);
	atomic_init(&v->state, CVM_VCPU_IN_VMM);
	return vm->irqchip->vcpu_init(v, i == 0);
}

#endif
