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
#include "vmm/vm_internal.h"

// clang-format off
#define ARG(i, m, v) {.arg = (i), .cmp = CVM_SC_MASKED_EQ, .mask = (m), .val = (v)}
#define ON_FD(i, f)  {.arg = (i), .cmp = CVM_SC_FD, .val = (f)}
#define MY_PID(i)    {.arg = (i), .cmp = CVM_SC_PID}
#define KICK_SIG(i)  {.arg = (i), .cmp = CVM_SC_KICK}

#define ALLOW(name, why) {name, {{0}}, why}
/* ioctl `req` on the thread's fd `f` / on any fd. */
#define IOCTL_ON(f, req, why) {"ioctl", {ON_FD(0, f), ARG(1, 0xffffffffu, req)}, why}
#define IOCTL(req, why)       {"ioctl", {ARG(1, 0xffffffffu, req)}, why}
#define WRITE_TO(f, why)      {"write", {ON_FD(0, f)}, why}
#define READ_FROM(f, why)     {"read", {ON_FD(0, f)}, why}
/* Memory the allocator or a helper maps is never executable. */
#define NO_EXEC(name, why)    {name, {ARG(2, PROT_EXEC, 0)}, why}
/* Opening for reading only: no write access (O_TMPFILE needs it too), no creation, no truncation. */
#define OPEN_RDONLY(why) \
	{"openat", {ARG(2, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND, O_RDONLY)}, why}

/* Every thread: how glibc's abort() kills the process, so that a bug still dies of SIGABRT. */
#define ABORT_RULES \
	ALLOW("getpid", "abort(): raise(SIGABRT)"), \
	ALLOW("gettid", "abort(): raise(SIGABRT)"), \
	{"tgkill", {MY_PID(0), ARG(2, 0xffffffffu, SIGABRT)}, "abort(): raise(SIGABRT)"}, \
	ALLOW("rt_sigprocmask", "abort() and thread start/exit mask signals")

/* Threads that glibc ends: the stack's pages are released and the thread exits. */
#define THREAD_EXIT_RULES \
	{"madvise", {ARG(2, 0xffffffffu, MADV_DONTNEED)}, "thread exit: glibc frees stack pages"}, \
	ALLOW("exit", "thread exit")

/* malloc and free on this thread (never executable memory). */
#define MALLOC_RULES \
	NO_EXEC("mmap", "malloc: new arenas and large blocks"), \
	NO_EXEC("mprotect", "malloc: growing an arena"), \
	ALLOW("munmap", "free: large blocks and thread stacks"), \
	ALLOW("madvise", "free: returning pages"), \
	ALLOW("brk", "malloc: main arena"), \
	ALLOW("mremap", "realloc of large blocks")
// clang-format on

static const struct cvm_sc_rule vcpu_base[] = {
        IOCTL_ON(CVM_SC_FD_VCPU, KVM_RUN, "enter the guest"),
        IOCTL_ON(CVM_SC_FD_VCPU, KVM_GET_MP_STATE, "the MP state when the thread ends (--stats)"),
        ALLOW("futex", "mailbox, device lock and start gate (mutexes, condition variables)"),
        WRITE_TO(CVM_SC_FD_STDOUT, "console output when the 4 KiB buffer is full"),
        WRITE_TO(CVM_SC_FD_STDERR, "one-line diagnostics"),
        WRITE_TO(CVM_SC_FD_WAKE, "wake the main thread: the VM ends, console data"),
        ALLOW("rt_sigtimedwait", "consume kick signals that arrived outside KVM_RUN"),
        THREAD_EXIT_RULES,
        ABORT_RULES,
};

static const struct cvm_sc_rule vcpu_placement[] = {
        ALLOW("sched_setaffinity", "re-placement: set the thread's own CPU set"),
        ALLOW("sched_getaffinity", "re-placement: read the CPU set back to verify it"),
        {"tgkill", {MY_PID(0), KICK_SIG(2)}, "an entry failure re-places other vCPUs: kick them"},
};

static const struct cvm_sc_rule main_base[] = {
        ALLOW("poll", "wait for the end, signals, console input and the flush deadline"),
        READ_FROM(CVM_SC_FD_WAKE, "drain the wake-up eventfd"),
        READ_FROM(CVM_SC_FD_SIGNAL, "read SIGINT/SIGTERM from the signalfd"),
        READ_FROM(CVM_SC_FD_STDIN, "console input"),
        ALLOW("write", "console output, diagnostics, wake-ups, --stats file, listener stop"),
        ALLOW("futex", "device lock, mailboxes, joins"),
        {"tgkill", {MY_PID(0), KICK_SIG(2)}, "kick vCPU threads (stop requests)"},
        IOCTL(KVM_GET_STATS_FD, "--stats: open each vCPU's KVM statistics"),
        ALLOW("pread64", "--stats: read KVM's statistics"),
        ALLOW("close", "clean-up: file descriptors"),
        MALLOC_RULES,
        ALLOW("getrandom", "json-c seeds its hash tables (--stats)"),
        ALLOW("exit_group", "the end of the process"),
        ABORT_RULES,
};

static const struct cvm_sc_rule main_placement[] = {
        ALLOW("sched_setaffinity", "re-placement: the housekeeping CPU set"),
        ALLOW("sched_getaffinity", "re-placement: verify the housekeeping CPU set"),
};

static const struct cvm_sc_rule uevent_base[] = {
        ALLOW("poll", "wait for a uevent or the stop request"),
        ALLOW("recvmsg", "receive a uevent datagram"),
        OPEN_RDONLY("a CPU came online or events were lost: re-read sysfs"),
        {"access", {ARG(1, 0xffffffffu, F_OK)}, "sysfs: whether a CPU's topology exists"},
        ALLOW("read", "sysfs files"),
        ALLOW("getdents64", "sysfs: list a CPU's node links (readdir)"),
        {"newfstatat", {ARG(3, 0xffffffffu, AT_EMPTY_PATH)}, "opendir's fstat"},
        ALLOW("close", "sysfs files"),
        ALLOW("futex", "controller lock, probe queue, mailboxes"),
        WRITE_TO(CVM_SC_FD_STDERR, "one-line diagnostics"),
        WRITE_TO(CVM_SC_FD_WAKE, "ask the main thread to re-place itself or end the VM"),
        {"tgkill", {MY_PID(0), KICK_SIG(2)}, "re-placement: kick vCPU threads"},
        ALLOW("sched_setaffinity", "re-placement: move itself to the housekeeping CPUs"),
        ALLOW("sched_getaffinity", "re-placement: verify its own CPU set"),
        MALLOC_RULES,
        ALLOW("exit", "thread exit"),
        ABORT_RULES,
};

static const struct cvm_sc_rule probe_base[] = {
        IOCTL(KVM_CREATE_VM, "a throwaway VM per probe"),
        IOCTL(KVM_GET_VCPU_MMAP_SIZE, "the probe vCPU's kvm_run size"),
        IOCTL(KVM_SET_USER_MEMORY_REGION, "the probe VM's one page"),
        IOCTL(KVM_CREATE_VCPU, "the probe vCPU"),
        IOCTL(KVM_GET_SREGS, "real-mode start state"),
        IOCTL(KVM_SET_SREGS, "real-mode start state"),
        IOCTL(KVM_SET_REGS, "real-mode start state"),
        IOCTL(KVM_RUN, "run the probe on the CPU under test"),
        NO_EXEC("mmap", "the probe VM's page and kvm_run"),
        ALLOW("munmap", "the probe VM's page and kvm_run"),
        ALLOW("close", "the probe VM's file descriptors"),
        ALLOW("sched_setaffinity", "move to the CPU under test and back"),
        ALLOW("sched_getaffinity", "the worker's CPU set, restored after the probe"),
        ALLOW("futex", "probe queue, controller lock, mailboxes"),
        WRITE_TO(CVM_SC_FD_STDERR, "one-line diagnostics"),
        WRITE_TO(CVM_SC_FD_WAKE, "ask the main thread to re-place itself or end the VM"),
        {"tgkill", {MY_PID(0), KICK_SIG(2)}, "re-placement: kick vCPU threads"},
        THREAD_EXIT_RULES,
        ABORT_RULES,
};

#define LIST(group, r)                             \
	{                                          \
		group, r, sizeof(r) / sizeof(r[0]) \
	}

static const struct cvm_seccomp_list lists[CVM_THREAD_NCLASSES][CVM_SANDBOX_IRQCHIP] = {
        [CVM_THREAD_MAIN] = {LIST("base", main_base), LIST("placement", main_placement)},
        [CVM_THREAD_VCPU] = {LIST("base", vcpu_base), LIST("placement", vcpu_placement)},
        [CVM_THREAD_UEVENT] = {LIST("base", uevent_base)},
        [CVM_THREAD_PROBE] = {LIST("base", probe_base)},
};

const struct cvm_seccomp_list *cvm_sandbox_list(enum cvm_thread_class cls,
                                                enum cvm_sandbox_group group)
{
	if ((unsigned int)cls >= CVM_THREAD_NCLASSES || (unsigned int)group >= CVM_SANDBOX_IRQCHIP)
		return NULL;
	return lists[cls][group].rules ? &lists[cls][group] : NULL;
}

int cvm_vm_sandbox_thread(struct cvm_vm *vm, enum cvm_thread_class cls, const struct cvm_vcpu *v)
{
	const struct cvm_seccomp_list *l[CVM_SANDBOX_NGROUPS];
	struct cvm_seccomp_env env;
	char who[32];
	int e;

	if (!vm->seccomp)
		return 0;
	l[CVM_SANDBOX_BASE] = cvm_sandbox_list(cls, CVM_SANDBOX_BASE);
	l[CVM_SANDBOX_PLACEMENT] =
	        vm->placement ? cvm_sandbox_list(cls, CVM_SANDBOX_PLACEMENT) : NULL;
	l[CVM_SANDBOX_IRQCHIP] = vm->irqchip->seccomp[cls];
	l[CVM_SANDBOX_RUNTIME] = cvm_sandbox_runtime_list(cls);
	cvm_seccomp_env_init(&env);
	env.fd[CVM_SC_FD_WAKE] = vm->wake_fd;
	env.fd[CVM_SC_FD_SIGNAL] = vm->signal_fd;
	env.fd[CVM_SC_FD_KVM] = vm->kvm_fd;
	env.fd[CVM_SC_FD_VM] = vm->vm_fd;
	if (v) {
		env.fd[CVM_SC_FD_VCPU] = v->fd;
		snprintf(who, sizeof(who), "vcpu %u", v->index);
	} else {
		snprintf(who, sizeof(who), "the %s thread", cvm_thread_class_name(cls));
	}
	e = __cvm_seccomp_install(l, CVM_SANDBOX_NGROUPS, &env, who);
	if (e < 0) {
		cvm_err("seccomp", "installing the %s filter on %s: %s", cvm_thread_class_name(cls),
		        who, strerror(-e));
		return e;
	}
	atomic_store(&vm->seccomp_rules[cls], cvm_seccomp_count(l, CVM_SANDBOX_NGROUPS, &env));
	atomic_store(&vm->seccomp_syscalls[cls],
	             cvm_seccomp_count_syscalls(l, CVM_SANDBOX_NGROUPS));
	return 0;
}
