/* What each thread class of `corevm run` may call (built from strace of real runs, see docs/seccomp.md), and installing it for a VM. */
#include "vmm/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/seccomp_rules.h"
#include "vmm/vm_internal.h"

// clang-format off
/*
 * Every thread: how glibc's abort() kills the process, so that a bug still dies
 * of SIGABRT; and clock_gettime, which the vDSO answers without a system call
 * except on hosts whose clock source it cannot read (then glibc falls back).
 */
#define ABORT_RULES \
	CVM_SC_ALLOW("clock_gettime", "clocks, where the vDSO cannot read the host's clock source"), \
	CVM_SC_ALLOW("getpid", "abort(): raise(SIGABRT)"), \
	CVM_SC_ALLOW("gettid", "abort(): raise(SIGABRT)"), \
	{"tgkill", {CVM_SC_MY_PID(0), CVM_SC_ARG(2, 0xffffffffu, SIGABRT)}, "abort(): raise(SIGABRT)"}, \
	CVM_SC_ALLOW("rt_sigprocmask", "abort() and thread start/exit mask signals")

/* Threads that glibc ends: the stack's pages are released and the thread exits. */
#define THREAD_EXIT_RULES \
	{"madvise", {CVM_SC_ARG(2, 0xffffffffu, MADV_DONTNEED)}, "thread exit: glibc frees stack pages"}, \
	CVM_SC_ALLOW("exit", "thread exit")

/* malloc and free on this thread (never executable memory). */
#define MALLOC_RULES \
	CVM_SC_NO_EXEC("mmap", "malloc: new arenas and large blocks"), \
	CVM_SC_NO_EXEC("mprotect", "malloc: growing an arena"), \
	CVM_SC_ALLOW("munmap", "free: large blocks and thread stacks"), \
	CVM_SC_ALLOW("madvise", "free: returning pages"), \
	CVM_SC_ALLOW("brk", "malloc: main arena"), \
	CVM_SC_ALLOW("mremap", "realloc of large blocks")
// clang-format on

static const struct cvm_sc_rule vcpu_base[] = {
        CVM_SC_IOCTL_ON(CVM_SC_FD_VCPU, KVM_RUN, "enter the guest"),
        CVM_SC_IOCTL_ON(CVM_SC_FD_VCPU, KVM_GET_MP_STATE,
                        "the MP state when the thread ends (--stats)"),
        CVM_SC_ALLOW("futex", "mailbox, device lock and start gate (mutexes, condition variables)"),
        CVM_SC_WRITE_TO(CVM_SC_FD_STDOUT, "console output when the 4 KiB buffer is full"),
        CVM_SC_WRITE_TO(CVM_SC_FD_STDERR, "one-line diagnostics"),
        CVM_SC_WRITE_TO(CVM_SC_FD_WAKE, "wake the main thread: the VM ends, console data"),
        CVM_SC_ALLOW("rt_sigtimedwait", "consume kick signals that arrived outside KVM_RUN"),
        CVM_SC_WRITE_TO(CVM_SC_FD_VCPU_EVENT, "its poll()-able eventfd: the vCPU became runnable"),
        CVM_SC_TGKILL_KICK("work: the self-kick before a look at KVM's MP state (kernel, "
                           "split); work submitted on a vCPU thread kicks the vCPU chosen"),
        THREAD_EXIT_RULES,
        ABORT_RULES,
};

static const struct cvm_sc_rule vcpu_placement[] = {
        CVM_SC_ALLOW("getcpu", "entry failures: the CPU it failed on (sched_getcpu without rseq)"),
        CVM_SC_ALLOW("sched_setaffinity", "re-placement: set the thread's own CPU set"),
        CVM_SC_ALLOW("sched_getaffinity", "re-placement: read the CPU set back to verify it"),
        CVM_SC_TGKILL_KICK("an entry failure re-places other vCPUs: kick them"),
};

static const struct cvm_sc_rule main_base[] = {
        CVM_SC_ALLOW("poll", "wait for the end, signals, console input and the flush deadline"),
        CVM_SC_READ_FROM(CVM_SC_FD_WAKE, "drain the wake-up eventfd"),
        CVM_SC_READ_FROM(CVM_SC_FD_SIGNAL, "read SIGINT/SIGTERM from the signalfd"),
        CVM_SC_READ_FROM(CVM_SC_FD_STDIN, "console input"),
        CVM_SC_ALLOW("write", "console output, diagnostics, wake-ups, --stats file, listener stop"),
        CVM_SC_ALLOW("futex", "device lock, mailboxes, joins"),
        CVM_SC_TGKILL_KICK("kick vCPU threads (stop requests)"),
        CVM_SC_IOCTL(KVM_GET_STATS_FD, "--stats: open each vCPU's KVM statistics"),
        CVM_SC_ALLOW("pread64", "--stats: read KVM's statistics"),
        CVM_SC_ALLOW("close", "clean-up: file descriptors"),
        MALLOC_RULES,
        CVM_SC_ALLOW("getrandom", "json-c seeds its hash tables (--stats)"),
        CVM_SC_ALLOW("exit_group", "the end of the process"),
        CVM_SC_ALLOW("exit", "cvm_vm_start(): the thread that ran the VM ends"),
        ABORT_RULES,
};

static const struct cvm_sc_rule main_placement[] = {
        CVM_SC_ALLOW("sched_setaffinity", "re-placement: the housekeeping CPU set"),
        CVM_SC_ALLOW("sched_getaffinity", "re-placement: verify the housekeeping CPU set"),
};

static const struct cvm_sc_rule uevent_base[] = {
        CVM_SC_ALLOW("poll", "wait for a uevent or the stop request"),
        CVM_SC_ALLOW("recvmsg", "receive a uevent datagram"),
        CVM_SC_OPEN_RDONLY("a CPU came online or events were lost: re-read sysfs"),
        {"access", {CVM_SC_ARG(1, 0xffffffffu, F_OK)}, "sysfs: whether a CPU's topology exists"},
        CVM_SC_ALLOW("read", "sysfs files"),
        CVM_SC_ALLOW("getdents64", "sysfs: list a CPU's node links (readdir)"),
        {"newfstatat", {CVM_SC_ARG(3, 0xffffffffu, AT_EMPTY_PATH)}, "opendir's fstat"},
        CVM_SC_ALLOW("close", "sysfs files"),
        CVM_SC_ALLOW("futex", "controller lock, probe queue, mailboxes"),
        CVM_SC_WRITE_TO(CVM_SC_FD_STDERR, "one-line diagnostics"),
        CVM_SC_WRITE_TO(CVM_SC_FD_WAKE, "ask the main thread to re-place itself or end the VM"),
        CVM_SC_TGKILL_KICK("re-placement: kick vCPU threads"),
        CVM_SC_ALLOW("sched_setaffinity", "re-placement: move itself to the housekeeping CPUs"),
        CVM_SC_ALLOW("sched_getaffinity", "re-placement: verify its own CPU set"),
        MALLOC_RULES,
        CVM_SC_ALLOW("exit", "thread exit"),
        ABORT_RULES,
};

/* The user irqchip's timer thread (docs/irqchip.md): sleeps on a futex until a deadline. */
static const struct cvm_sc_rule timer_base[] = {
        CVM_SC_ALLOW("futex", "sleep until the earliest deadline; wake sleeping vCPUs"),
        CVM_SC_TGKILL_KICK("a due timer kicks its vCPU out of KVM_RUN"),
        THREAD_EXIT_RULES,
        ABORT_RULES,
};

/* The work queue's worker (docs/idle-work.md): background items, KVM halt sampling. */
static const struct cvm_sc_rule worker_base[] = {
        CVM_SC_ALLOW("futex", "queue lock and condition, item completion, waking asleep vCPUs"),
        CVM_SC_ALLOW("pread64", "kernel, split: each vCPU's KVM `blocking` statistic"),
        CVM_SC_TGKILL_KICK("kick halted vCPUs for idle work, eventfd signals and urgent items"),
        CVM_SC_WRITE_TO(CVM_SC_FD_STDERR, "one-line diagnostics"),
        CVM_SC_WRITE_TO(CVM_SC_FD_WAKE, "an item ends the VM: wake the main thread"),
        MALLOC_RULES,
        CVM_SC_ALLOW("exit", "thread exit"),
        ABORT_RULES,
};

static const struct cvm_sc_rule probe_base[] = {
        CVM_SC_IOCTL(KVM_CREATE_VM, "a throwaway VM per probe"),
        CVM_SC_IOCTL(KVM_GET_VCPU_MMAP_SIZE, "the probe vCPU's kvm_run size"),
        CVM_SC_IOCTL(KVM_SET_USER_MEMORY_REGION, "the probe VM's one page"),
        CVM_SC_IOCTL(KVM_CREATE_VCPU, "the probe vCPU"),
        CVM_SC_IOCTL(KVM_GET_SREGS, "real-mode start state"),
        CVM_SC_IOCTL(KVM_SET_SREGS, "real-mode start state"),
        CVM_SC_IOCTL(KVM_SET_REGS, "real-mode start state"),
        CVM_SC_IOCTL(KVM_RUN, "run the probe on the CPU under test"),
        CVM_SC_NO_EXEC("mmap", "the probe VM's page and kvm_run"),
        CVM_SC_ALLOW("munmap", "the probe VM's page and kvm_run"),
        CVM_SC_ALLOW("close", "the probe VM's file descriptors"),
        CVM_SC_ALLOW("sched_setaffinity", "move to the CPU under test and back"),
        CVM_SC_ALLOW("sched_getaffinity", "the worker's CPU set, restored after the probe"),
        CVM_SC_ALLOW("getcpu", "check it runs on the CPU under test (sched_getcpu without rseq)"),
        CVM_SC_ALLOW("futex", "probe queue, controller lock, mailboxes"),
        CVM_SC_WRITE_TO(CVM_SC_FD_STDERR, "one-line diagnostics"),
        CVM_SC_WRITE_TO(CVM_SC_FD_WAKE, "ask the main thread to re-place itself or end the VM"),
        CVM_SC_TGKILL_KICK("re-placement: kick vCPU threads"),
        THREAD_EXIT_RULES,
        ABORT_RULES,
};

static const struct cvm_seccomp_list lists[CVM_THREAD_NCLASSES][CVM_SANDBOX_IRQCHIP] = {
        [CVM_THREAD_MAIN] = {CVM_SC_LIST("base", main_base),
                             CVM_SC_LIST("placement", main_placement)},
        [CVM_THREAD_VCPU] = {CVM_SC_LIST("base", vcpu_base),
                             CVM_SC_LIST("placement", vcpu_placement)},
        [CVM_THREAD_UEVENT] = {CVM_SC_LIST("base", uevent_base)},
        [CVM_THREAD_PROBE] = {CVM_SC_LIST("base", probe_base)},
        [CVM_THREAD_TIMER] = {CVM_SC_LIST("base", timer_base)},
        [CVM_THREAD_WORKER] = {CVM_SC_LIST("base", worker_base)},
};

const struct cvm_seccomp_list *cvm_sandbox_list(enum cvm_thread_class cls,
                                                enum cvm_sandbox_group group)
{
	if ((unsigned int)cls >= CVM_THREAD_NCLASSES || (unsigned int)group >= CVM_SANDBOX_IRQCHIP)
		return NULL;
	return lists[cls][group].rules ? &lists[cls][group] : NULL;
}

int cvm_vm_sandbox_build(struct cvm_vm *vm, enum cvm_thread_class cls, const struct cvm_vcpu *v,
                         struct cvm_seccomp_prog *out)
{
	/* One slot per group, the irqchip's taking as many as it has. */
	const struct cvm_seccomp_list *l[CVM_SANDBOX_NGROUPS - 1 + CVM_IRQCHIP_SC_GROUPS];
	unsigned int n = 0;
	struct cvm_seccomp_env env;
	char who[32];
	int e;

	memset(out, 0, sizeof(*out));
	if (!vm->seccomp)
		return 0;
	l[n++] = cvm_sandbox_list(cls, CVM_SANDBOX_BASE);
	l[n++] = vm->placement ? cvm_sandbox_list(cls, CVM_SANDBOX_PLACEMENT) : NULL;
	for (unsigned int g = 0; g < CVM_IRQCHIP_SC_GROUPS; g++) {
		const struct cvm_irqchip_sc_group *ig = &vm->irqchip->seccomp[g];
		if (ig->list && ig->cls == cls && (!ig->wanted || ig->wanted(vm)))
			l[n++] = ig->list;
	}
	l[n++] = cvm_sandbox_runtime_list(cls);
	cvm_seccomp_env_init(&env);
	env.fd[CVM_SC_FD_WAKE] = vm->wake_fd;
	env.fd[CVM_SC_FD_SIGNAL] = vm->signal_fd;
	env.fd[CVM_SC_FD_KVM] = vm->kvm_fd;
	env.fd[CVM_SC_FD_VM] = vm->vm_fd;
	if (v) {
		env.fd[CVM_SC_FD_VCPU] = v->fd;
		if (atomic_load(&v->efd_on))
			env.fd[CVM_SC_FD_VCPU_EVENT] = v->efd;
		snprintf(who, sizeof(who), "vcpu %u", v->index);
	} else {
		snprintf(who, sizeof(who), "the %s thread", cvm_thread_class_name(cls));
	}
	e = __cvm_seccomp_build(l, n, &env, who, out);
	if (e < 0)
		cvm_err("seccomp", "building the %s filter for %s: %s", cvm_thread_class_name(cls),
		        who, strerror(-e));
	return e;
}

int cvm_vm_sandbox_load(struct cvm_vm *vm, enum cvm_thread_class cls,
                        const struct cvm_seccomp_prog *p)
{
	int e;

	if (!vm->seccomp)
		return 0;
	e = __cvm_seccomp_load(p);
	if (e < 0) {
		cvm_err("seccomp", "installing the %s filter on %s: %s", cvm_thread_class_name(cls),
		        p->who[0] ? p->who : "a thread", strerror(-e));
		return e;
	}
	atomic_store(&vm->seccomp_rules[cls], p->rules);
	atomic_store(&vm->seccomp_syscalls[cls], p->syscalls);
	return 0;
}

int cvm_vm_sandbox_thread(struct cvm_vm *vm, enum cvm_thread_class cls, const struct cvm_vcpu *v)
{
	struct cvm_seccomp_prog p;
	int e = cvm_vm_sandbox_build(vm, cls, v, &p);

	if (e == 0)
		e = cvm_vm_sandbox_load(vm, cls, &p);
	cvm_seccomp_prog_free(&p);
	return e;
}
