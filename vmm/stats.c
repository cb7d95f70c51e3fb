/* Statistics of a finished VM as JSON (schema in docs/stats.md), built only after the threads stopped. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/lifecycle.h"
#include "host/place_ctl.h"
#include "util/log.h"
#include "vmm/regs_gate.h"
#include "vmm/vm_internal.h"
#include "vmm/workq.h"

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static struct json_object *exits_json(const struct cvm_vcpu_stats *s)
{
	struct json_object *o = json_object_new_object();
	char name[32];

	for (unsigned int r = 0; r < CVM_KVM_EXIT_REASONS; r++) {
		const char *n = cvm_kvm_exit_name(r);
		if (!s->exits[r])
			continue;
		if (!n) {
			snprintf(name, sizeof(name), "reason_%u", r);
			n = name;
		}
		add_u64(o, n, s->exits[r]);
	}
	if (s->exits_other)
		add_u64(o, "other", s->exits_other);
	return o;
}

static struct json_object *ucall_json(const struct cvm_vcpu_stats *s)
{
	struct json_object *o = json_object_new_object();
	struct json_object *list = json_object_new_array();

	add_u64(o, "reports", s->ucall_reports);
	add_u64(o, "asserts", s->ucall_asserts);
	add_u64(o, "prints", s->ucall_prints);
	add_u64(o, "done", s->ucall_done);
	add_u64(o, "refused", s->ucall_bad);
	for (unsigned int i = 0; i < s->nreports_kept; i++) {
		const struct cvm_ucall_report *r = &s->report[i];
		struct json_object *e = json_object_new_object();
		struct json_object *args = json_object_new_array();
		for (unsigned int a = 0; a < 3; a++)
			json_object_array_add(args, json_object_new_uint64(r->args[a]));
		add_u64(e, "stage", r->stage);
		json_object_object_add(e, "args", args);
		add_u64(e, "line", r->line);
		json_object_array_add(list, e);
	}
	json_object_object_add(o, "first_reports", list);
	return o;
}

/* Which filters were installed, with their sizes (docs/seccomp.md). */
static struct json_object *seccomp_json(struct cvm_vm *vm)
{
	struct json_object *o = json_object_new_object();
	struct json_object *f = json_object_new_object();

	json_object_object_add(o, "enabled", json_object_new_boolean(vm->seccomp));
	for (unsigned int c = 0; c < CVM_THREAD_NCLASSES; c++) {
		int rules = atomic_load(&vm->seccomp_rules[c]);
		struct json_object *e;
		if (!rules)
			continue; /* no thread of this class installed a filter */
		e = json_object_new_object();
		add_u64(e, "syscalls", (uint64_t)atomic_load(&vm->seccomp_syscalls[c]));
		add_u64(e, "rules", (uint64_t)rules);
		json_object_object_add(f, cvm_thread_class_name(c), e);
	}
	json_object_object_add(o, "filters", f);
	return o;
}

/* KVM's MP state name in lower case ("halted"), or "unknown". */
static struct json_object *mp_state_json(int mp)
{
	const char *name = mp >= 0 ? cvm_mp_state_name((unsigned int)mp) : "?";
	char buf[32];
	size_t i;

	if (!strcmp(name, "?"))
		name = "unknown";
	for (i = 0; name[i] && i + 1 < sizeof(buf); i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	buf[i] = 0;
	return json_object_new_string(buf);
}

static void add_kvm_or_null(struct json_object *o, const char *key, const struct cvm_vcpu_stats *s,
                            enum cvm_kvm_stat k)
{
	if (s->kvm_found & (1u << k))
		add_u64(o, key, s->kvm[k]);
	else
		json_object_object_add(o, key, NULL);
}

/*
 * The lifecycle counters: the pure core's own when the irqchip runs it (user
 * mode); otherwise what KVM's statistics say, and null (unknown, not zero)
 * for everything KVM does not expose.
 */
static struct json_object *lifecycle_json(const struct cvm_vm *vm, const struct cvm_vcpu_stats *s)
{
	struct json_object *o = json_object_new_object();
	bool own = vm->irqchip->owns_lifecycle;

	json_object_object_add(o, "source", json_object_new_string(own ? "corevm" : "kvm"));
	for (unsigned int k = 0; k < CVM_CTR_NR; k++) {
		const char *name = cvm_counter_name(k);
		if (own)
			add_u64(o, name, s->lc.n[k]);
		else if (k == CVM_CTR_HALTS)
			add_kvm_or_null(o, name, s, CVM_KVM_STAT_HALT_EXITS);
		else if (k == CVM_CTR_INTR_INJECTED)
			add_kvm_or_null(o, name, s, CVM_KVM_STAT_IRQ_INJECTIONS);
		else if (k == CVM_CTR_NMI_INJECTED)
			add_kvm_or_null(o, name, s, CVM_KVM_STAT_NMI_INJECTIONS);
		else
			json_object_object_add(o, name, NULL);
	}
	if (own) {
		add_u64(o, "wakeups",
		        s->lc.n[CVM_CTR_WAKE_INTR] + s->lc.n[CVM_CTR_WAKE_NMI] +
		                s->lc.n[CVM_CTR_WAKE_SMI] + s->lc.n[CVM_CTR_WAKE_INIT]);
		add_u64(o, "ipis_sent", s->ipis);
		add_u64(o, "ipis_received", s->ipis_received);
		add_u64(o, "sleeps", s->sleeps);
	} else {
		add_kvm_or_null(o, "wakeups", s, CVM_KVM_STAT_HALT_WAKEUP);
		json_object_object_add(o, "ipis_sent", NULL);
		json_object_object_add(o, "ipis_received", NULL);
		json_object_object_add(o, "sleeps", NULL);
	}
	return o;
}

/* What the user irqchip did for this vCPU besides the lifecycle. */
static struct json_object *apic_json(const struct cvm_vcpu_stats *s)
{
	struct json_object *o = json_object_new_object();

	add_u64(o, "mmio", s->apic_mmio);
	add_u64(o, "mmio_odd", s->apic_mmio_odd);
	add_u64(o, "msr", s->apic_msr);
	add_u64(o, "msr_gp", s->msr_gp);
	add_u64(o, "smi_dropped", s->smi_dropped);
	add_u64(o, "hlt_nmi_in_kvm", s->hlt_nmi_in_kvm);
	struct json_object *late = json_object_new_array();
	for (unsigned int i = 0; i < s->ntimer_late; i++)
		json_object_array_add(late, json_object_new_uint64(s->timer_late_ns[i]));
	json_object_object_add(o, "timer_late_ns", late);
	return o;
}

/* Register writes and protected state (docs/protected-state.md). */
static struct json_object *protected_json(const struct cvm_vcpu *v)
{
	const struct cvm_vcpu_stats *s = &v->stats;
	struct json_object *o = json_object_new_object();

	add_u64(o, "reg_writes", s->reg_writes);
	add_u64(o, "reg_writes_refused", cvm_regs_refused(v));
	add_u64(o, "first_boots", s->first_boots);
	add_u64(o, "sipi_resumes", s->sipi_resumes);
	return o;
}

/* The GHCB MSR protocol (vmm/ghcb.c). */
static struct json_object *ghcb_json(const struct cvm_vcpu_stats *s)
{
	struct json_object *o = json_object_new_object();

	add_u64(o, "reads", s->ghcb_reads);
	add_u64(o, "writes", s->ghcb_writes);
	add_u64(o, "hold_requests", s->ghcb_holds);
	add_u64(o, "hold_ignored", s->ghcb_hold_ignored);
	add_u64(o, "hold_responses", s->ghcb_released);
	add_u64(o, "unsupported", s->ghcb_unsupported);
	add_u64(o, "malformed", s->ghcb_malformed);
	add_u64(o, "hold_refused_mode", s->ghcb_no_hold_mode);
	return o;
}

static struct json_object *vcpu_json(const struct cvm_vm *vm, const struct cvm_vcpu *v)
{
	const struct cvm_vcpu_stats *s = &v->stats;
	struct json_object *o = json_object_new_object();
	struct json_object *states = json_object_new_object();

	add_u64(o, "index", v->index);
	add_u64(o, "apic_id", v->index);
	add_u64(o, "exits_total", s->exits_total);
	json_object_object_add(o, "exits", exits_json(s));
	add_u64(o, "io_in", s->io_in);
	add_u64(o, "io_out", s->io_out);
	add_u64(o, "io_string_exits", s->io_string);
	add_u64(o, "mmio_read", s->mmio_read);
	add_u64(o, "mmio_write", s->mmio_write);
	add_u64(o, "run_eintr", s->eintr);
	add_u64(o, "run_eagain", s->eagain);
	add_u64(o, "requests", s->requests);
	if (vm->irqchip->sees_halts)
		add_u64(o, "halts", s->halts);
	else if (s->kvm_found & (1u << CVM_KVM_STAT_HALT_EXITS))
		add_u64(o, "halts", s->kvm[CVM_KVM_STAT_HALT_EXITS]); /* counted inside KVM */
	else
		json_object_object_add(o, "halts", NULL);
	if (vm->irqchip->sees_halts)
		add_u64(o, "ipis", s->ipis);
	else
		json_object_object_add(o, "ipis", NULL); /* sent inside KVM: not visible */
	struct json_object *kvm = json_object_new_object();
	for (unsigned int k = 0; k < CVM_KVM_NSTATS; k++)
		if (s->kvm_found & (1u << k))
			add_u64(kvm, cvm_kvm_stat_names[k], s->kvm[k]);
	json_object_object_add(o, "kvm", kvm);
	for (unsigned int st = 0; st < CVM_VCPU_NSTATES; st++)
		add_u64(states, cvm_vcpu_state_name(st), s->state_entries[st]);
	/* Before the asleep states were told apart, they were all "blocked". */
	add_u64(states, "blocked",
	        s->state_entries[CVM_VCPU_HALTED] + s->state_entries[CVM_VCPU_WAIT_SIPI] +
	                s->state_entries[CVM_VCPU_RESET_HOLD] + s->state_entries[CVM_VCPU_PAUSED]);
	json_object_object_add(o, "state_entries", states);
	json_object_object_add(o, "work", cvm_workq_vcpu_stats(v));
	json_object_object_add(o, "mp_state_at_exit", mp_state_json(s->mp_state));
	json_object_object_add(o, "mp_state_code_at_exit",
	                       s->mp_state >= 0 ? json_object_new_int(s->mp_state) : NULL);
	json_object_object_add(o, "protected", protected_json(v));
	json_object_object_add(o, "ghcb", ghcb_json(s));
	json_object_object_add(o, "lifecycle", lifecycle_json(vm, s));
	if (vm->irqchip->owns_lifecycle)
		json_object_object_add(o, "apic", apic_json(s));
	json_object_object_add(o, "ucall", ucall_json(s));
	return o;
}

static struct json_object *unhandled_mmio_json(const struct cvm_vm *vm)
{
	struct json_object *list = json_object_new_array();
	char addr[24];

	for (unsigned int i = 0; i < vm->nmmio; i++) {
		struct json_object *e = json_object_new_object();
		snprintf(addr, sizeof(addr), "0x%llx",
		         (unsigned long long)(vm->mmio[i].page << 12));
		json_object_object_add(e, "page", json_object_new_string(addr));
		add_u64(e, "reads", vm->mmio[i].reads);
		add_u64(e, "writes", vm->mmio[i].writes);
		json_object_array_add(list, e);
	}
	return list;
}

struct json_object *cvm_vm_stats_json(struct cvm_vm *vm)
{
	struct json_object *root = json_object_new_object();
	struct json_object *o = json_object_new_object();
	struct json_object *vcpus = json_object_new_array();
	int64_t wall = (int64_t)(vm->t_end.tv_sec - vm->t_start.tv_sec) * 1000000000 +
	               (vm->t_end.tv_nsec - vm->t_start.tv_nsec);
	int status = atomic_load(&vm->end_status);

	/* Read here, by the main thread after join: a vCPU thread must not allocate. */
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct cvm_vcpu *v = &vm->vcpu[i];
		if (v->fd >= 0 && !v->stats.kvm_found)
			v->stats.kvm_found = cvm_kvm_vcpu_stats(v->fd, v->stats.kvm);
	}
	json_object_object_add(root, "schema", json_object_new_string("corevm-stats/1"));
	add_u64(o, "cpus", vm->ncpus);
	add_u64(o, "mem_bytes", vm->gmem.ram_size);
	json_object_object_add(o, "irqchip", json_object_new_string(vm->irqchip->name));
	json_object_object_add(o, "boot",
	                       vm->boot_name ? json_object_new_string(vm->boot_name) : NULL);
	json_object_object_add(o, "exit_status", json_object_new_int(status));
	json_object_object_add(o, "exit_cause", json_object_new_string(vm->end_why));
	add_u64(o, "wall_ns", wall > 0 ? (uint64_t)wall : 0);
	add_u64(o, "console_tx_bytes", vm->con.tx_bytes);
	add_u64(o, "console_tx_lost", vm->con.tx_lost);
	add_u64(o, "console_rx_bytes", vm->con.rx_bytes);
	add_u64(o, "guest_prints_suppressed", atomic_load(&vm->prints_suppressed));
	json_object_object_add(o, "unhandled_mmio", unhandled_mmio_json(vm));
	add_u64(o, "unhandled_mmio_untracked", vm->mmio_untracked);
	add_u64(o, "threads_stuck", (uint64_t)vm->threads_stuck);
	uint64_t refused = 0;
	for (unsigned int i = 0; i < vm->ncpus; i++)
		refused += cvm_regs_refused(&vm->vcpu[i]);
	json_object_object_add(o, "protected_state", json_object_new_boolean(vm->protected_state));
	add_u64(o, "reg_writes_refused", refused);
	add_u64(o, "reg_log_suppressed", cvm_ratelimit_suppressed(&vm->reg_log));
	add_u64(o, "ghcb_log_suppressed", cvm_ratelimit_suppressed(&vm->ghcb_log));
	json_object_object_add(o, "seccomp", seccomp_json(vm));
	if (vm->stats_hook)
		vm->stats_hook(vm->stats_hook_ctx, o);
	if (vm->irqchip->stats)
		vm->irqchip->stats(vm, o);
	struct json_object *mw = json_object_new_object();
	json_object_object_add(mw, "asked",
	                       json_object_new_string(cvm_mwait_policy_name(vm->mwait.asked)));
	json_object_object_add(
	        mw, "in_force",
	        json_object_new_string(vm->mwait.in_force ? vm->mwait.in_force : "not-offered"));
	add_u64(mw, "kvm_disable_exits", (uint64_t)vm->mwait.disable_exits);
	json_object_object_add(mw, "kvm_cpuid_mwait",
	                       json_object_new_boolean(vm->mwait.cpuid_mwait));
	json_object_object_add(o, "mwait", mw);
	cvm_workq_stats(vm, o);
	json_object_object_add(root, "vm", o);
	for (unsigned int i = 0; i < vm->ncpus; i++)
		json_object_array_add(vcpus, vcpu_json(vm, &vm->vcpu[i]));
	json_object_object_add(root, "vcpus", vcpus);
	if (vm->placement)
		json_object_object_add(root, "placement", cvm_place_ctl_stats(vm->placement));
	return root;
}

void cvm_vm_set_stats_hook(struct cvm_vm *vm, cvm_stats_fn fn, void *ctx)
{
	vm->stats_hook = fn;
	vm->stats_hook_ctx = ctx;
}

int cvm_vm_write_stats_fd(struct cvm_vm *vm, int fd, const char *name)
{
	struct json_object *root = cvm_vm_stats_json(vm);
	int e = json_object_to_fd(fd, root, JSON_C_TO_STRING_PRETTY) < 0 ? -EIO : 0;

	if (e < 0)
		cvm_err("stats", "writing %s: %s", name, json_util_get_last_err());
	json_object_put(root);
	return e;
}

int cvm_vm_write_stats(struct cvm_vm *vm, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int e;

	if (fd < 0) {
		e = -errno;
		cvm_err("stats", "cannot create %s: %s", path, strerror(-e));
		return e;
	}
	e = cvm_vm_write_stats_fd(vm, fd, path);
	close(fd);
	return e;
}
