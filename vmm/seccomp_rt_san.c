/*
 * Sanitizer builds (ASan+UBSan, build-san/): the system calls the sanitizer
 * runtime makes on corevm's threads join the allow-lists (docs/seccomp.md,
 * "Sanitizer builds"). They are found the same way as the lists themselves
 * (strace of the guest suite in build-san/, and LeakSanitizer's exit-time
 * check, which strace cannot watch, from the violation lines). Normal builds
 * link seccomp_rt_none.c instead, so none of this widens their filters.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "vmm/sandbox.h"

#define NO_EXEC(name, why)                                                          \
	{                                                                           \
		name, {{.arg = 2, .cmp = CVM_SC_MASKED_EQ, .mask = PROT_EXEC}}, why \
	}
#define ALLOW(name, why)         \
	{                        \
		name, {{0}}, why \
	}

/* Every thread: what an ASan or UBSan report needs, so that it is printed whole, not cut by a seccomp kill. */
#define REPORT_RULES                                                                              \
	{"ioctl",                                                                                 \
	 {{.arg = 1, .cmp = CVM_SC_MASKED_EQ, .mask = 0xffffffffu, .val = TCGETS}},               \
	 "reports: isatty(stderr)"},                                                              \
	        ALLOW("open", "reports: /proc/self/maps, the binary for symbols"),                \
	        ALLOW("openat", "reports: /proc/self/maps, the binary for symbols"),              \
	        ALLOW("read", "reports: /proc/self/maps, the binary"), ALLOW("close", "reports"), \
	        ALLOW("readlink", "reports: /proc/self/exe"), ALLOW("lseek", "reports"),          \
	        ALLOW("newfstatat", "reports"), ALLOW("fstat", "reports"),                        \
	        {"write",                                                                         \
	         {{.arg = 0, .cmp = CVM_SC_FD, .val = CVM_SC_FD_STDERR}},                         \
	         "reports on stderr"},                                                            \
	        ALLOW("getpid", "reports"), ALLOW("gettid", "reports"),                           \
	        ALLOW("rt_sigprocmask", "abort_on_error"),                                        \
	        ALLOW("rt_sigaction", "abort_on_error"),                                          \
	        ALLOW("tgkill", "abort_on_error: raise(SIGABRT)"),                                \
	        ALLOW("exit_group", "reports: the process ends"), ALLOW("fcntl", "reports")

/* Every thread: ASan's allocator and shadow memory, and its per-thread alternate signal stack. */
#define ASAN_THREAD_RULES                                                          \
	NO_EXEC("mmap", "ASan: allocator, shadow and thread data"),                \
	        NO_EXEC("mprotect", "ASan: allocator"),                            \
	        ALLOW("munmap", "ASan: allocator, thread data at thread exit"),    \
	        ALLOW("madvise", "ASan: allocator returns memory"),                \
	        ALLOW("sigaltstack", "ASan: the thread's alternate signal stack"), \
	        ALLOW("sched_yield", "sanitizer spin locks"), REPORT_RULES

static const struct cvm_sc_rule thread_rules[] = {ASAN_THREAD_RULES};

/*
 * The main thread also runs LeakSanitizer's check at exit: it clones a tracer
 * task that shares its filter, stops every thread with ptrace, reads
 * /proc/self/task and /proc/self/maps, and reports on stderr.
 */
static const struct cvm_sc_rule main_rules[] = {
        ASAN_THREAD_RULES,
        ALLOW("clone", "LeakSanitizer: the tracer task"),
        ALLOW("prctl", "LeakSanitizer: PR_SET_PTRACER, PR_SET_PDEATHSIG, PR_GET_DUMPABLE"),
        ALLOW("ptrace", "LeakSanitizer: stop threads and read their registers"),
        ALLOW("wait4", "LeakSanitizer: wait for the tracer and the stopped threads"),
        ALLOW("gettid", "LeakSanitizer"),
        ALLOW("getppid", "LeakSanitizer: the tracer checks its parent"),
        ALLOW("rt_sigaction", "LeakSanitizer: the tracer's signal handlers"),
        ALLOW("open", "LeakSanitizer: /proc/self/task, /proc/self/maps"),
        ALLOW("openat", "LeakSanitizer: /proc/self/task, /proc/self/maps"),
        ALLOW("read", "LeakSanitizer: /proc files"),
        ALLOW("lseek", "LeakSanitizer: /proc/self/task"),
        ALLOW("getdents", "LeakSanitizer: /proc/self/task"),
        ALLOW("getdents64", "LeakSanitizer: /proc/self/task"),
        ALLOW("exit", "LeakSanitizer: the tracer ends"),
};

#define LIST(r)                                                  \
	{                                                        \
		"sanitizer runtime", r, sizeof(r) / sizeof(r[0]) \
	}

static const struct cvm_seccomp_list thread_list = LIST(thread_rules);
static const struct cvm_seccomp_list main_list = LIST(main_rules);

const struct cvm_seccomp_list *cvm_sandbox_runtime_list(enum cvm_thread_class cls)
{
	return cls == CVM_THREAD_MAIN ? &main_list : &thread_list;
}
