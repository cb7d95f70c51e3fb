/*
 * Sanitizer builds (ASan+UBSan, build-san/): the system calls the sanitizer
 * runtime makes on corevm's threads join the allow-lists (docs/seccomp.md,
 * "Sanitizer builds"). They are found the same way as the lists themselves
 * (strace of the guest suite in build-san/, and LeakSanitizer's exit-time
 * check, which strace cannot watch, from the violation lines). Normal builds
 * link seccomp_rt_none.c instead, so none of this widens their filters.
 */
#include <sys/ioctl.h>

#include "vmm/sandbox.h"
#include "vmm/seccomp_rules.h"

// clang-format off
/* Every thread: what an ASan or UBSan report needs, so that it is printed whole, not cut by a seccomp kill. */
#define REPORT_RULES \
	CVM_SC_IOCTL(TCGETS, "reports: isatty(stderr)"), \
	CVM_SC_ALLOW("open", "reports: /proc/self/maps, the binary for symbols"), \
	CVM_SC_ALLOW("openat", "reports: /proc/self/maps, the binary for symbols"), \
	CVM_SC_ALLOW("read", "reports: /proc/self/maps, the binary"), \
	CVM_SC_ALLOW("close", "reports"), \
	CVM_SC_ALLOW("readlink", "reports: /proc/self/exe"), \
	CVM_SC_ALLOW("lseek", "reports"), \
	CVM_SC_ALLOW("newfstatat", "reports"), \
	CVM_SC_ALLOW("fstat", "reports"), \
	CVM_SC_ALLOW("fcntl", "reports"), \
	CVM_SC_WRITE_TO(CVM_SC_FD_STDERR, "reports on stderr"), \
	CVM_SC_ALLOW("getpid", "reports"), \
	CVM_SC_ALLOW("gettid", "reports"), \
	CVM_SC_ALLOW("rt_sigprocmask", "abort_on_error"), \
	CVM_SC_ALLOW("rt_sigaction", "abort_on_error"), \
	CVM_SC_ALLOW("tgkill", "abort_on_error: raise(SIGABRT)"), \
	CVM_SC_ALLOW("exit_group", "reports: the process ends")

/* Every thread: ASan's allocator and shadow memory, and its per-thread alternate signal stack. */
#define ASAN_THREAD_RULES \
	CVM_SC_NO_EXEC("mmap", "ASan: allocator, shadow and thread data"), \
	CVM_SC_NO_EXEC("mprotect", "ASan: allocator"), \
	CVM_SC_ALLOW("munmap", "ASan: allocator, thread data at thread exit"), \
	CVM_SC_ALLOW("madvise", "ASan: allocator returns memory"), \
	CVM_SC_ALLOW("sigaltstack", "ASan: the thread's alternate signal stack"), \
	CVM_SC_ALLOW("sched_yield", "sanitizer spin locks"), \
	REPORT_RULES
// clang-format on

static const struct cvm_sc_rule thread_rules[] = {ASAN_THREAD_RULES};

/*
 * The main thread also runs LeakSanitizer's check at exit: it clones a tracer
 * task that shares its filter, stops every thread with ptrace, reads
 * /proc/self/task and /proc/self/maps, and reports on stderr.
 */
static const struct cvm_sc_rule main_rules[] = {
        ASAN_THREAD_RULES,
        CVM_SC_ALLOW("clone", "LeakSanitizer: the tracer task"),
        CVM_SC_ALLOW("prctl", "LeakSanitizer: PR_SET_PTRACER, PR_SET_PDEATHSIG, PR_GET_DUMPABLE"),
        CVM_SC_ALLOW("ptrace", "LeakSanitizer: stop threads and read their registers"),
        CVM_SC_ALLOW("wait4", "LeakSanitizer: wait for the tracer and the stopped threads"),
        CVM_SC_ALLOW("getppid", "LeakSanitizer: the tracer checks its parent"),
        CVM_SC_ALLOW("getdents", "LeakSanitizer: /proc/self/task"),
        CVM_SC_ALLOW("getdents64", "LeakSanitizer: /proc/self/task"),
        CVM_SC_ALLOW("exit", "LeakSanitizer: the tracer ends"),
};

static const struct cvm_seccomp_list thread_list = CVM_SC_LIST("sanitizer runtime", thread_rules);
static const struct cvm_seccomp_list main_list = CVM_SC_LIST("sanitizer runtime", main_rules);

const struct cvm_seccomp_list *cvm_sandbox_runtime_list(enum cvm_thread_class cls)
{
	return cls == CVM_THREAD_MAIN ? &main_list : &thread_list;
}
