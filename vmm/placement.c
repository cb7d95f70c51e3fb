/* Host placement in the KVM backend: the controller's requests reach vCPU threads through their mailboxes; entry failures go back to it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host/place_ctl.h"
#include "util/log.h"
#include "vmm/sandbox.h"
#include "vmm/test_hook.h"
#include "vmm/vm_internal.h"

/* Called by the controller (listener, prober or a vCPU thread): never blocks. */
static void reaffine_vcpu(void *opaque, unsigned int i)
{
	struct cvm_vm *vm = opaque;
	if (i < vm->ncpus)
		cvm_vcpu_post(&vm->vcpu[i], CVM_REQ_REAFFINE);
}

static void reaffine_housekeeping(void *opaque)
{
	struct cvm_vm *vm = opaque;
	uint64_t one = 1;
	atomic_store(&vm->housekeeping_reaffine, 1);
	ssize_t unused = write(vm->wake_fd, &one, sizeof(one));
	(void)unused;
}

static void placement_failed(void *opaque, const char *why)
{
	(void)why; /* the controller reported it */
	cvm_vm_request_end(opaque, CVM_EXIT_GUEST_ERROR, "placement failed");
}

/* The controller's threads install their seccomp filters first thing (docs/seccomp.md). */
static int placement_thread_init(void *opaque, enum cvm_place_thread which)
{
	struct cvm_vm *vm = opaque;
	enum cvm_thread_class cls =
	        which == CVM_PLACE_THREAD_PROBE ? CVM_THREAD_PROBE : CVM_THREAD_UEVENT;

	if (cvm_vm_sandbox_thread(vm, cls, NULL) < 0) {
		cvm_vm_request_end(vm, CVM_EXIT_FAILURE, "seccomp failed");
		return -EPERM;
	}
	cvm_test_hook_sandboxed(cls, 0);
	return 0;
}

int cvm_vm_set_placement(struct cvm_vm *vm, struct cvm_place_ctl *ctl)
{
	struct cvm_place_ctl_vmm ops = {reaffine_vcpu, reaffine_housekeeping, placement_failed, vm,
	                                placement_thread_init};
	vm->placement = ctl;
	return cvm_place_ctl_start(ctl, &ops);
}

bool cvm_vcpu_place(struct cvm_vcpu *v)
{
	struct cvm_place_ctl *ctl = v->vm->placement;
	if (!ctl)
		return true;
	int e = cvm_place_ctl_vcpu_apply(ctl, v->index);
	/*
	 * The line is printed. EINVAL: no CPU of the set is online any more (a hotplug
	 * race): the offline event re-places it. Anything else stops a strict VM.
	 */
	if (e == 0 || e == -EINVAL || !cvm_place_ctl_strict(ctl))
		return true;
	cvm_vm_request_end(v->vm, CVM_EXIT_FAILURE, "placement: CPU set not applied");
	return false;
}

enum cvm_vcpu_action cvm_vcpu_entry_failed(struct cvm_vcpu *v, int status, const char *why,
                                           const char *what)
{
	struct cvm_place_ctl *ctl = v->vm->placement;
	if (ctl) {
		int cpu = cvm_place_ctl_current_cpu(ctl); /* where KVM_RUN just failed */
		if (cvm_place_ctl_entry_failure(ctl, v->index, cpu, what) == 0)
			return CVM_VACT_CONTINUE;
		cvm_vm_request_end(v->vm, status, why); /* the controller said why */
		return CVM_VACT_STOP;
	}
	if (cvm_vm_request_end(v->vm, status, why))
		cvm_err("vcpu", "vcpu %u: %s", v->index, what);
	return CVM_VACT_STOP;
}
