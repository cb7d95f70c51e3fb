/* seccomp filters built with libseccomp from rule lists, installed per thread, and the SIGSYS handler that names a violation before the process dies. */
#include "vmm/seccomp_filter.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "arch/x86/guest_abi.h"

/* si_code of a SIGSYS raised by seccomp (the kernel's value; glibc does not name it). */
#define CVM_SI_SECCOMP 1

/* System-call numbers whose names the SIGSYS handler can print (x86-64 has about 460). */
#define SC_NAMES    512
#define SC_NAME_LEN 32

static char sc_names[SC_NAMES][SC_NAME_LEN];

/* Which thread this is, for the violation line; set before the filter is loaded. */
static _Thread_local char sc_who[32] __attribute__((tls_model("initial-exec")));

static const char *const class_names[CVM_THREAD_NCLASSES] = {
        [CVM_THREAD_MAIN] = "main",
        [CVM_THREAD_VCPU] = "vcpu",
        [CVM_THREAD_UEVENT] = "uevent listener",
        [CVM_THREAD_PROBE] = "probe worker",
        [CVM_THREAD_TIMER] = "apic timer",
        [CVM_THREAD_WORKER] = "work worker",
};

const char *cvm_thread_class_name(enum cvm_thread_class cls)
{
	return (unsigned int)cls < CVM_THREAD_NCLASSES ? class_names[cls] : "?";
}

void cvm_seccomp_env_init(struct cvm_seccomp_env *env)
{
	for (unsigned int i = 0; i < CVM_SC_NFDS; i++)
		env->fd[i] = -1;
	env->fd[CVM_SC_FD_STDIN] = STDIN_FILENO;
	env->fd[CVM_SC_FD_STDOUT] = STDOUT_FILENO;
	env->fd[CVM_SC_FD_STDERR] = STDERR_FILENO;
}

/* ---- the violation line, with async-signal-safe formatting only ---- */

struct line {
	char buf[320];
	size_t n;
};

static void put_str(struct line *l, const char *s)
{
	while (*s && l->n < sizeof(l->buf) - 1)
		l->buf[l->n++] = *s++;
}

static void put_num(struct line *l, uint64_t v, unsigned int base)
{
	char tmp[24];
	unsigned int i = 0;

	do {
		tmp[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && i < sizeof(tmp));
	if (base == 16)
		put_str(l, "0x");
	while (i && l->n < sizeof(l->buf) - 1)
		l->buf[l->n++] = tmp[--i];
}

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	const ucontext_t *uc = ucv;
	const greg_t *g = uc->uc_mcontext.gregs;
	struct line l = {.n = 0};
	int nr = si->si_syscall;
	ssize_t unused;

	(void)sig;
	if (si->si_code != CVM_SI_SECCOMP) {
		signal(SIGSYS, SIG_DFL); /* not ours: the default action */
		raise(SIGSYS);
		return;
	}
	put_str(&l, "corevm: seccomp: ");
	put_str(&l, sc_who[0] ? sc_who : "a thread");
	put_str(&l, " made a forbidden system call: ");
	put_str(&l, nr >= 0 && nr < SC_NAMES && sc_names[nr][0] ? sc_names[nr] : "unknown");
	put_str(&l, " (");
	put_num(&l, (uint64_t)(unsigned int)nr, 10);
	put_str(&l, ")");
	if (nr == SYS_ioctl) {
		put_str(&l, " request ");
		put_num(&l, (uint64_t)g[REG_RSI] & 0xffffffffu, 16);
		put_str(&l, " on fd ");
		put_num(&l, (uint64_t)g[REG_RDI] & 0xffffffffu, 10);
	} else {
		put_str(&l, " args ");
		put_num(&l, (uint64_t)g[REG_RDI], 16);
		put_str(&l, " ");
		put_num(&l, (uint64_t)g[REG_RSI], 16);
		put_str(&l, " ");
		put_num(&l, (uint64_t)g[REG_RDX], 16);
	}
	put_str(&l, "; killing corevm (docs/seccomp.md; --no-seccomp turns the filters off)\n");
	unused = write(STDERR_FILENO, l.buf, l.n);
	(void)unused;
	/*
	 * The same call with the same arguments again: the filter traps it again, and
	 * with SIGSYS blocked (we are in its handler) the kernel resets SIGSYS to its
	 * default action, which kills every thread, as SECCOMP_RET_KILL_PROCESS would.
	 */
	syscall(nr, g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]);
	_exit(CVM_EXIT_FAILURE); /* not reached */
}

int cvm_seccomp_init(void)
{
	struct sigaction sa;

	for (int nr = 0; nr < SC_NAMES; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (name) {
			strncpy(sc_names[nr], name, SC_NAME_LEN - 1);
			free(name);
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

/* ---- building filters ---- */

/*
 * Translates one rule into libseccomp comparisons. Returns the number of
 * comparisons, -ENOENT when the rule names an fd this thread has not (dropped),
 * or -EINVAL for a malformed rule.
 */
static int rule_cmps(const struct cvm_sc_rule *r, const struct cvm_seccomp_env *env,
                     struct scmp_arg_cmp *out)
{
	int n = 0;

	for (unsigned int i = 0; i < CVM_SC_MAX_ARGS; i++) {
		const struct cvm_sc_arg *a = &r->args[i];
		uint64_t val;
		if (a->cmp == CVM_SC_NONE)
			continue;
		if (a->arg > 5)
			return -EINVAL;
		switch (a->cmp) {
		case CVM_SC_MASKED_EQ:
			out[n++] = SCMP_CMP(a->arg, SCMP_CMP_MASKED_EQ, a->mask, a->val);
			continue;
		case CVM_SC_FD:
			if (a->val >= CVM_SC_NFDS)
				return -EINVAL;
			if (env->fd[a->val] < 0)
				return -ENOENT;
			val = (uint64_t)env->fd[a->val];
			break;
		case CVM_SC_PID:
			val = (uint64_t)getpid();
			break;
		case CVM_SC_KICK:
			val = (uint64_t)SIGRTMIN;
			break;
		default:
			return -EINVAL;
		}
		/* int arguments: only the low 32 bits of the register are defined. */
		out[n++] = SCMP_CMP(a->arg, SCMP_CMP_MASKED_EQ, 0xffffffffu, val);
	}
	return n;
}

/* Adds every rule of `lists` to ctx (ctx NULL: only counts). Returns the rules added or -errno. */
static int add_rules(scmp_filter_ctx ctx, const struct cvm_seccomp_list *const *lists,
                     unsigned int nlists, const struct cvm_seccomp_env *env)
{
	int count = 0;

	for (unsigned int l = 0; l < nlists; l++) {
		for (size_t i = 0; lists[l] && i < lists[l]->n; i++) {
			const struct cvm_sc_rule *r = &lists[l]->rules[i];
			struct scmp_arg_cmp cmp[CVM_SC_MAX_ARGS];
			int nr = seccomp_syscall_resolve_name(r->name);
			int n = rule_cmps(r, env, cmp);
			if (nr == __NR_SCMP_ERROR || n == -EINVAL)
				return -EINVAL;
			if (n == -ENOENT)
				continue;
			if (ctx) {
				int e = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr,
				                               (unsigned int)n, cmp);
				if (e < 0)
					return e;
			}
			count++;
		}
	}
	return count;
}

int cvm_seccomp_count(const struct cvm_seccomp_list *const *lists, unsigned int nlists,
                      const struct cvm_seccomp_env *env)
{
	return add_rules(NULL, lists, nlists, env);
}

int cvm_seccomp_count_syscalls(const struct cvm_seccomp_list *const *lists, unsigned int nlists)
{
	uint8_t seen[SC_NAMES] = {0};
	int count = 0;

	for (unsigned int l = 0; l < nlists; l++) {
		for (size_t i = 0; lists[l] && i < lists[l]->n; i++) {
			int nr = seccomp_syscall_resolve_name(lists[l]->rules[i].name);
			if (nr < 0 || nr >= SC_NAMES)
				return -EINVAL;
			count += !seen[nr];
			seen[nr] = 1;
		}
	}
	return count;
}

/* The BPF program libseccomp made of ctx, copied out through a memfd (2.5 exports to an fd only). */
static int export_bpf(scmp_filter_ctx ctx, struct cvm_seccomp_prog *out)
{
	int fd = memfd_create("corevm-seccomp", MFD_CLOEXEC), e;
	off_t size;

	if (fd < 0)
		return -errno;
	e = seccomp_export_bpf(ctx, fd);
	size = e < 0 ? 0 : lseek(fd, 0, SEEK_END);
	if (e == 0 && (size <= 0 || size % (off_t)sizeof(struct sock_filter) ||
	               size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS))
		e = -EINVAL;
	if (e == 0) {
		out->insns = malloc((size_t)size);
		if (!out->insns)
			e = -ENOMEM;
		else if (pread(fd, out->insns, (size_t)size, 0) != size)
			e = -EIO;
		out->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	}
	close(fd);
	return e;
}

int __cvm_seccomp_build(const struct cvm_seccomp_list *const *lists, unsigned int nlists,
                        const struct cvm_seccomp_env *env, const char *who,
                        struct cvm_seccomp_prog *out)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int e;

	memset(out, 0, sizeof(*out));
	if (!ctx)
		return -ENOMEM;
	/* i386 and x32 system calls have other numbers: never allowed, no line either. */
	e = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (e == 0)
		e = add_rules(ctx, lists, nlists, env);
	if (e >= 0) {
		out->rules = e;
		out->syscalls = cvm_seccomp_count_syscalls(lists, nlists);
		strncpy(out->who, who ? who : "", sizeof(out->who) - 1);
		e = export_bpf(ctx, out);
	}
	seccomp_release(ctx);
	if (e < 0)
		cvm_seccomp_prog_free(out);
	return e < 0 ? e : 0;
}

int __cvm_seccomp_load(const struct cvm_seccomp_prog *p)
{
	struct sock_fprog prog = {.len = p->len, .filter = p->insns};

	if (!p->insns)
		return -EINVAL;
	memcpy(sc_who, p->who, sizeof(sc_who));
	/* What seccomp_load() does by default: no new privileges, one filter, no TSYNC. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
}

void cvm_seccomp_prog_free(struct cvm_seccomp_prog *p)
{
	free(p->insns);
	memset(p, 0, sizeof(*p));
}

int __cvm_seccomp_install(const struct cvm_seccomp_list *const *lists, unsigned int nlists,
                          const struct cvm_seccomp_env *env, const char *who)
{
	struct cvm_seccomp_prog p;
	int e = __cvm_seccomp_build(lists, nlists, env, who, &p);

	if (e == 0)
		e = __cvm_seccomp_load(&p);
	cvm_seccomp_prog_free(&p);
	return e;
}
