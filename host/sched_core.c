/* Core-scheduling cookies for vCPU threads through prctl(PR_SCHED_CORE), behind an injectable syscall layer. */
#include "host/sched_core.h"

#include <errno.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <unistd.h>

static int sys_prctl(void *ctx, int cmd, pid_t pid, int scope, uint64_t *cookie)
{
	if (prctl(CVM_PR_SCHED_CORE, (unsigned long)cmd, (unsigned long)pid, (unsigned long)scope,
	          (unsigned long)cookie) < 0)
		return -errno;
	return 0;
}

static pid_t sys_gettid(void *ctx)
{
	return gettid();
}

const struct cvm_sched_core_ops cvm_sched_core_sys = {
        .prctl = sys_prctl,
        .gettid = sys_gettid,
        .ctx = NULL,
};

int __cvm_sched_core_get(const struct cvm_sched_core_ops *ops, pid_t tid, uint64_t *cookie)
{
	*cookie = 0;
	return ops->prctl(ops->ctx, CVM_PR_SCHED_CORE_GET, tid, CVM_PR_SCHED_CORE_SCOPE_THREAD,
	                  cookie);
}

int __cvm_sched_core_supported(const struct cvm_sched_core_ops *ops)
{
	uint64_t cookie;
	return __cvm_sched_core_get(ops, 0, &cookie);
}

int __cvm_sched_core_share_to(const struct cvm_sched_core_ops *ops, pid_t tid)
{
	return ops->prctl(ops->ctx, CVM_PR_SCHED_CORE_SHARE_TO, tid, CVM_PR_SCHED_CORE_SCOPE_THREAD,
	                  NULL);
}

int __cvm_sched_core_join(const struct cvm_sched_core_ops *ops, struct cvm_cookie_state *st,
                          enum cvm_cookie_scope scope, uint64_t *cookie_out)
{
	uint64_t cookie = 0;
	int r;

	if (cookie_out)
		*cookie_out = 0;
	if (scope == CVM_COOKIE_OFF)
		return 0;
	bool first = scope == CVM_COOKIE_VCPU || st->holder == 0;
	if (first)
		r = ops->prctl(ops->ctx, CVM_PR_SCHED_CORE_CREATE, 0,
		               CVM_PR_SCHED_CORE_SCOPE_THREAD, NULL);
	else
		r = ops->prctl(ops->ctx, CVM_PR_SCHED_CORE_SHARE_FROM, st->holder,
		               CVM_PR_SCHED_CORE_SCOPE_THREAD, NULL);
	if (r)
		return r;
	r = __cvm_sched_core_get(ops, 0, &cookie);
	if (r)
		return r;
	if (cookie == 0)
		return -EIO;
	if (scope == CVM_COOKIE_VM) {
		if (first) {
			st->holder = ops->gettid(ops->ctx);
			st->cookie = cookie;
		} else if (cookie != st->cookie) {
			return -EIO;
		}
	}
	st->nr_joined++;
	if (cookie_out)
		*cookie_out = cookie;
	return 0;
}
