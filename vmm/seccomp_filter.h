/*
 * seccomp filters for corevm's threads (docs/seccomp.md): allow-lists of system
 * calls, optionally restricted by argument (ioctl requests, file descriptors,
 * flags), built with libseccomp and installed by each thread on itself.
 *
 * Contract:
 *  - cvm_seccomp_init() once per process, on the main thread, before any thread
 *    installs a filter: it installs the SIGSYS handler and the table of system
 *    call names that handler prints (nothing is resolved inside the handler).
 *  - __cvm_seccomp_install() on the thread to restrict (TSYNC off: only the
 *    calling thread gets the filter; threads it creates afterwards inherit it),
 *    or __cvm_seccomp_build() on any thread and __cvm_seccomp_load() on the
 *    thread to restrict (which then allocates nothing for it).
 *  - A forbidden call makes the kernel raise SIGSYS (SECCOMP_RET_TRAP) in the
 *    offending thread; the handler writes one line naming the thread, the
 *    system call and (for ioctl) the request, then repeats the same call with
 *    SIGSYS blocked, so that the kernel kills the whole process with SIGSYS,
 *    exactly as SECCOMP_RET_KILL_PROCESS does. Foreign architectures (i386 or
 *    x32 system calls) are SECCOMP_RET_KILL_PROCESS without a line.
 */
#ifndef COREVM_VMM_SECCOMP_FILTER_H
#define COREVM_VMM_SECCOMP_FILTER_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

/* The thread classes of `corevm run`; each has its own allow-list. */
enum cvm_thread_class {
	CVM_THREAD_MAIN = 0, /* event loop, console, shutdown, statistics, clean-up */
	CVM_THREAD_VCPU,     /* one per vCPU: KVM_RUN and exit handling */
	CVM_THREAD_UEVENT,   /* host placement: the CPU hotplug uevent listener */
	CVM_THREAD_PROBE,    /* host placement: the worker that probes CPUs with a throwaway VM */
	CVM_THREAD_TIMER,    /* user irqchip with COREVM_APIC_TIMER=thread: the APIC timer thread */
	CVM_THREAD_WORKER,   /* the work queue's worker: background items, KVM halt sampling */
	CVM_THREAD_NCLASSES,
};

const char *cvm_thread_class_name(enum cvm_thread_class cls);

/* File descriptors a rule may name; resolved per thread through struct cvm_seccomp_env. */
enum cvm_sc_fd {
	CVM_SC_FD_STDIN = 0,
	CVM_SC_FD_STDOUT,
	CVM_SC_FD_STDERR,
	CVM_SC_FD_WAKE,       /* the VM's eventfd that wakes the main thread */
	CVM_SC_FD_SIGNAL,     /* the main thread's signalfd */
	CVM_SC_FD_KVM,        /* /dev/kvm */
	CVM_SC_FD_VM,         /* the VM */
	CVM_SC_FD_VCPU,       /* the calling vCPU thread's own vCPU */
	CVM_SC_FD_VCPU_EVENT, /* the calling vCPU's poll()-able eventfd (cvm_vm_vcpu_eventfd) */
	CVM_SC_NFDS,
};

/* How one argument is compared (all comparisons of a rule must hold). */
enum cvm_sc_cmp {
	CVM_SC_NONE = 0,
	CVM_SC_MASKED_EQ, /* (arg & mask) == val */
	CVM_SC_FD,   /* arg == env->fd[val] (a rule naming an fd the thread lacks is dropped) */
	CVM_SC_PID,  /* arg == getpid() */
	CVM_SC_KICK, /* arg == the vCPU kick signal (SIGRTMIN) */
};

struct cvm_sc_arg {
	uint8_t arg; /* argument index 0..5 */
	uint8_t cmp; /* enum cvm_sc_cmp */
	uint64_t mask, val;
};

#define CVM_SC_MAX_ARGS 3

/* One allowed system call: `name` as libseccomp spells it, up to three argument checks. */
struct cvm_sc_rule {
	const char *name;
	struct cvm_sc_arg args[CVM_SC_MAX_ARGS];
	const char *why; /* one phrase, the reason it is allowed (docs/seccomp.md lists them) */
};

/* A named group of rules ("base", "placement", "irqchip kernel") for one class. */
struct cvm_seccomp_list {
	const char *group;
	const struct cvm_sc_rule *rules;
	size_t n;
};

/* What symbolic comparisons resolve to for the installing thread; -1: unknown. */
struct cvm_seccomp_env {
	int fd[CVM_SC_NFDS];
};

/* Sets every fd of env to -1 except stdin/stdout/stderr (0, 1, 2). */
void cvm_seccomp_env_init(struct cvm_seccomp_env *env);

/* Once per process before any filter: SIGSYS handler and system-call names. 0 or -errno. */
int cvm_seccomp_init(void);

/* A filter built for one thread, loaded later by that thread. */
struct cvm_seccomp_prog {
	struct sock_filter *insns; /* BPF (malloc'ed by the build), NULL: nothing built */
	unsigned short len;        /* instructions */
	char who[32];              /* names the thread in the violation line */
	int rules, syscalls;       /* its size, for the statistics */
};

/*
 * Builds the union of `lists` (NULL entries are skipped) for `env` into `out`,
 * on any thread; `who` ("vcpu 3", "main") names the thread that will load it.
 * Returns 0, or -errno (-EINVAL: a rule names a system call libseccomp does
 * not know) with *out empty. Release with cvm_seccomp_prog_free().
 */
int __cvm_seccomp_build(const struct cvm_seccomp_list *const *lists, unsigned int nlists,
                        const struct cvm_seccomp_env *env, const char *who,
                        struct cvm_seccomp_prog *out);

/*
 * Loads a built filter on the calling thread (TSYNC off), allocating nothing:
 * a thread whose filter was built elsewhere and that never allocates has no
 * malloc state for glibc to release (and maybe trim the heap with) when it
 * exits. Returns 0 or -errno; the caller reports it.
 */
int __cvm_seccomp_load(const struct cvm_seccomp_prog *p);

/* Frees what a build allocated (p may be empty); p is empty afterwards. */
void cvm_seccomp_prog_free(struct cvm_seccomp_prog *p);

/*
 * Builds and loads on the calling thread in one go (threads that allocate
 * anyway: the main thread, host placement's threads; tests). 0 or -errno.
 */
int __cvm_seccomp_install(const struct cvm_seccomp_list *const *lists, unsigned int nlists,
                          const struct cvm_seccomp_env *env, const char *who);

/*
 * Number of (system call, argument check) rules the union of `lists` gives for
 * `env` (rules naming unknown fds are dropped), or -errno. Builds nothing.
 */
int cvm_seccomp_count(const struct cvm_seccomp_list *const *lists, unsigned int nlists,
                      const struct cvm_seccomp_env *env);

/* Distinct system calls the union of `lists` allows, or -errno. */
int cvm_seccomp_count_syscalls(const struct cvm_seccomp_list *const *lists, unsigned int nlists);

#endif
