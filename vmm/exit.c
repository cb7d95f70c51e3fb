/* One KVM exit, decoded and dispatched: port I/O, MMIO, shutdown and errors. No allocation. */
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "vmm/ghcb.h"
#include "vmm/vm_internal.h"

static const char *const exit_names[] = {
        [KVM_EXIT_UNKNOWN] = "unknown",
        [KVM_EXIT_EXCEPTION] = "exception",
        [KVM_EXIT_IO] = "io",
        [KVM_EXIT_HYPERCALL] = "hypercall",
        [KVM_EXIT_DEBUG] = "debug",
        [KVM_EXIT_HLT] = "hlt",
        [KVM_EXIT_MMIO] = "mmio",
        [KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open",
        [KVM_EXIT_SHUTDOWN] = "shutdown",
        [KVM_EXIT_FAIL_ENTRY] = "fail_entry",
        [KVM_EXIT_INTR] = "intr",
        [KVM_EXIT_SET_TPR] = "set_tpr",
        [KVM_EXIT_TPR_ACCESS] = "tpr_access",
        [KVM_EXIT_NMI] = "nmi",
        [KVM_EXIT_INTERNAL_ERROR] = "internal_error",
        [KVM_EXIT_OSI] = "osi",
        [KVM_EXIT_PAPR_HCALL] = "papr_hcall",
        [KVM_EXIT_WATCHDOG] = "watchdog",
        [KVM_EXIT_EPR] = "epr",
        [KVM_EXIT_SYSTEM_EVENT] = "system_event",
        [KVM_EXIT_IOAPIC_EOI] = "ioapic_eoi",
        [KVM_EXIT_HYPERV] = "hyperv",
        [KVM_EXIT_X86_RDMSR] = "x86_rdmsr",
        [KVM_EXIT_X86_WRMSR] = "x86_wrmsr",
        [KVM_EXIT_DIRTY_RING_FULL] = "dirty_ring_full",
        [KVM_EXIT_AP_RESET_HOLD] = "ap_reset_hold",
        [KVM_EXIT_X86_BUS_LOCK] = "x86_bus_lock",
};

const char *cvm_kvm_exit_name(uint32_t reason)
{
	if (reason < sizeof(exit_names) / sizeof(exit_names[0]) && exit_names[reason])
		return exit_names[reason];
	return NULL;
}

/* Ends the VM because of this vCPU: one line on stderr (if `msg`), then stop. */
static enum cvm_vcpu_action vcpu_fail(struct cvm_vcpu *v, int status, const char *why,
                                      const char *msg)
{
	if (cvm_vm_request_end(v->vm, status, why) && msg)
		cvm_err("vcpu", "%s", msg);
	return CVM_VACT_STOP;
}

enum cvm_vcpu_action cvm_exit_io(struct cvm_vcpu *v, struct kvm_run *run)
{
	struct cvm_vm *vm = v->vm;
	unsigned int size = run->io.size;
	uint32_t count = run->io.count;
	uint64_t off = run->io.data_offset;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	uint8_t *data;

	/* KVM puts the data inside the mapped kvm_run area; check rather than trust. */
	if ((size != 1 && size != 2 && size != 4) || count == 0 || off < sizeof(*run) ||
	    off > v->run_size || (uint64_t)size * count > v->run_size - off) {
		char msg[160];
		snprintf(
		        msg, sizeof(msg),
		        "vcpu %u: malformed KVM_EXIT_IO (port 0x%x, size %u, count %u, data offset %llu)",
		        v->index, run->io.port, size, count, (unsigned long long)off);
		return vcpu_fail(v, CVM_EXIT_FAILURE, "malformed io exit", msg);
	}
	data = (uint8_t *)run + off;
	if (count > 1)
		v->stats.io_string++;
	if (out)
		v->stats.io_out += count;
	else
		v->stats.io_in += count;

	if (run->io.port == CVM_PORT_UCALL) {
		uint32_t val = 0;
		if (!out) {
			memset(data, 0xff, (size_t)size * count);
			return cvm_ucall_handle(v, size, count, UINT32_MAX) == CVM_VACT_STOP
			               ? CVM_VACT_STOP
			               : CVM_VACT_CONTINUE;
		}
		memcpy(&val, data, size);
		return cvm_ucall_handle(v, size, count, val);
	}

	pthread_mutex_lock(&vm->dev_lock);
	for (uint32_t i = 0; i < count; i++) {
		uint8_t *p = data + (size_t)i * size;
		uint32_t val = out ? 0 : UINT32_MAX; /* writes zero-extended, reads pre-filled */
		if (out)
			memcpy(&val, p, size);
		if (vm->pio)
			vm->pio(vm->pio_ctx, v->index, run->io.port, size, out, &val);
		if (!out)
			memcpy(p, &val, size); /* little endian: the low `size` bytes */
	}
	pthread_mutex_unlock(&vm->dev_lock);
	/* The access may have ended the VM (debug exit, reset). */
	return atomic_load_explicit(&vm->end_status, memory_order_acquire) >= 0 ? CVM_VACT_STOP
	                                                                        : CVM_VACT_CONTINUE;
}

/* Counts an access to an MMIO page nobody handles; device lock held. */
static void count_mmio(struct cvm_vm *vm, uint64_t gpa, bool write)
{
	uint64_t page = gpa >> 12;
	unsigned int i;

	for (i = 0; i < vm->nmmio; i++)
		if (vm->mmio[i].page == page)
			break;
	if (i == vm->nmmio) {
		if (vm->nmmio == CVM_MMIO_PAGES_TRACKED) {
			vm->mmio_untracked++;
			return;
		}
		vm->mmio[vm->nmmio++] = (struct cvm_mmio_page){.page = page};
	}
	if (write)
		vm->mmio[i].writes++;
	else
		vm->mmio[i].reads++;
}

enum cvm_vcpu_action cvm_exit_mmio(struct cvm_vcpu *v, struct kvm_run *run)
{
	struct cvm_vm *vm = v->vm;
	uint32_t len = run->mmio.len;

	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	if (run->mmio.is_write) {
		v->stats.mmio_write++;
	} else {
		v->stats.mmio_read++;
		memset(run->mmio.data, 0xff, len); /* nothing there: reads all ones */
	}
	pthread_mutex_lock(&vm->dev_lock);
	count_mmio(vm, run->mmio.phys_addr, run->mmio.is_write);
	pthread_mutex_unlock(&vm->dev_lock);
	return CVM_VACT_CONTINUE;
}

static enum cvm_vcpu_action exit_internal_error(struct cvm_vcpu *v, struct kvm_run *run)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "vcpu %u: KVM_EXIT_INTERNAL_ERROR suberror %u%s",
	                 v->index, run->internal.suberror,
	                 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
	                         ? " (instruction emulation failed)"
	                         : "");
	uint32_t nd = run->internal.ndata;

	if (nd > sizeof(run->internal.data) / sizeof(run->internal.data[0]))
		nd = sizeof(run->internal.data) / sizeof(run->internal.data[0]);
	for (uint32_t i = 0; i < nd && n > 0 && (size_t)n < sizeof(msg); i++)
		n += snprintf(msg + n, sizeof(msg) - (size_t)n, "%s0x%llx", i ? " " : ", data ",
		              (unsigned long long)run->internal.data[i]);
	return vcpu_fail(v, CVM_EXIT_GUEST_ERROR, "internal error", msg);
}

static enum cvm_vcpu_action exit_system_event(struct cvm_vcpu *v, struct kvm_run *run)
{
	char msg[96];

	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		return vcpu_fail(v, CVM_EXIT_TRIPLE_FAULT, "shutdown", NULL);
	case KVM_SYSTEM_EVENT_RESET:
		return vcpu_fail(v, CVM_EXIT_RESET, "reset", NULL);
	default:
		snprintf(msg, sizeof(msg), "vcpu %u: KVM_EXIT_SYSTEM_EVENT type %u", v->index,
		         run->system_event.type);
		return vcpu_fail(v, CVM_EXIT_GUEST_ERROR, "system event", msg);
	}
}

enum cvm_vcpu_action cvm_vcpu_handle_exit(struct cvm_vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t reason = run->exit_reason;
	enum cvm_vcpu_action a;
	char msg[160];

	v->stats.exits_total++;
	if (reason < CVM_KVM_EXIT_REASONS)
		v->stats.exits[reason]++;
	else
		v->stats.exits_other++;

	if (v->vm->irqchip->handle_exit) {
		a = v->vm->irqchip->handle_exit(v, run);
		if (a != CVM_VACT_NOT_MINE)
			return a;
	}
	switch (reason) {
	case KVM_EXIT_IO:
		return cvm_exit_io(v, run);
	case KVM_EXIT_MMIO:
		return cvm_exit_mmio(v, run);
	case KVM_EXIT_SHUTDOWN:
		snprintf(msg, sizeof(msg), "vcpu %u: triple fault (KVM_EXIT_SHUTDOWN)", v->index);
		return vcpu_fail(v, CVM_EXIT_TRIPLE_FAULT, "triple fault", msg);
	case KVM_EXIT_SYSTEM_EVENT:
		return exit_system_event(v, run);
	case KVM_EXIT_INTERNAL_ERROR:
		return exit_internal_error(v, run);
	case KVM_EXIT_FAIL_ENTRY:
		/* A CPU that cannot enter guests (seed 003): quarantined and retried with placement. */
		snprintf(msg, sizeof(msg),
		         "KVM_EXIT_FAIL_ENTRY, hardware entry failure reason 0x%llx",
		         (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return cvm_vcpu_entry_failed(v, CVM_EXIT_GUEST_ERROR, "entry failure", msg);
	case KVM_EXIT_INTR:
		return CVM_VACT_CONTINUE;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		/* Modes without their own MSR handling filter only the GHCB MSR (vmm/ghcb.c). */
		if (run->msr.index == CVM_MSR_GHCB)
			return cvm_ghcb_msr_exit(v, run);
		run->msr.error = 1; /* an MSR nobody here knows: #GP, as KVM would */
		v->stats.msr_gp++;
		return CVM_VACT_CONTINUE;
	default: {
		const char *name = cvm_kvm_exit_name(reason);
		snprintf(msg, sizeof(msg), "vcpu %u: unexpected KVM exit %s (%u)", v->index,
		         name ? name : "unknown", reason);
		return vcpu_fail(v, CVM_EXIT_GUEST_ERROR, "unexpected exit", msg);
	}
	}
}
