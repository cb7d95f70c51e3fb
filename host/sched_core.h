/* Core-scheduling cookies for vCPU threads through prctl(PR_SCHED_CORE), behind an injectable syscall layer. */
#ifndef COREVM_HOST_SCHED_CORE_H
#define COREVM_HOST_SCHED_CORE_H

#include <stdint.h>
#include <sys/types.h>

#include "host/placement.h"

/* The prctl(2) numbers (linux/prctl.h), for libcs that lack them. */
#define CVM_PR_SCHED_CORE                    62
#define CVM_PR_SCHED_CORE_GET                0
#define CVM_PR_SCHED_CORE_CREATE             1
#define CVM_PR_SCHED_CORE_SHARE_TO           2
#define CVM_PR_SCHED_CORE_SHARE_FROM         3
#define CVM_PR_SCHED_CORE_SCOPE_THREAD       0
#define CVM_PR_SCHED_CORE_SCOPE_THREAD_GROUP 1

/*
 * The syscalls this file makes; tests substitute a fake kernel. prctl() does
 * prctl(PR_SCHED_CORE, cmd, pid, scope, cookie) (cookie: the u64 GET writes, NULL
 * otherwise) and returns 0 or -errno; gettid() returns the calling thread's id.
 */
struct cvm_sched_core_ops {
	int (*prctl)(void *ctx, int cmd, pid_t pid, int scope, uint64_t *cookie);
	pid_t (*gettid)(void *ctx);
	void *ctx;
};

/* The real kernel. */
extern const struct cvm_sched_core_ops cvm_sched_core_sys;

/*
 * Whether the kernel supports core scheduling: 0, or the -errno of a harmless
 * PR_SCHED_CORE_GET on the calling thread (-EINVAL: no CONFIG_SCHED_CORE;
 * -ENODEV: no SMT on this host). cvm_cookie_unsupported_why() words it.
 */
int __cvm_sched_core_supported(const struct cvm_sched_core_ops *ops);

/*
 * One VM's cookie bookkeeping. Zero-initialize. For CVM_COOKIE_VM the first vCPU
 * thread to join creates the cookie and every later one pulls it (SHARE_FROM the
 * first thread's id); for CVM_COOKIE_VCPU each thread creates its own. The
 * caller serializes joins (host/place_ctl.c holds its mutex) and joins all vCPU
 * threads while the first one still runs (threads live until the VM ends).
 */
struct cvm_cookie_state {
	pid_t holder;    /* VM scope: the thread whose cookie the others pull */
	uint64_t cookie; /* VM scope: the cookie value GET returned to the holder */
	unsigned int nr_joined;
};

/*
 * Gives the calling thread its cookie for `scope` and verifies it with GET (a
 * non-zero value; in VM scope the value the first thread got). Returns 0, or
 * -errno (the syscall's, or -EIO when verification finds the wrong cookie).
 * `*cookie_out` (may be NULL) receives the value.
 */
int __cvm_sched_core_join(const struct cvm_sched_core_ops *ops, struct cvm_cookie_state *st,
                          enum cvm_cookie_scope scope, uint64_t *cookie_out);

/*
 * Pushes the calling thread's cookie to thread `tid` (SHARE_TO), for threads a
 * vCPU thread starts on its own behalf. Returns 0 or -errno.
 */
int __cvm_sched_core_share_to(const struct cvm_sched_core_ops *ops, pid_t tid);

/* The cookie of thread `tid` (0: the caller) into *cookie. Returns 0 or -errno. */
int __cvm_sched_core_get(const struct cvm_sched_core_ops *ops, pid_t tid, uint64_t *cookie);

#endif
