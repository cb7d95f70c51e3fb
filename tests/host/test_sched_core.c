/* Unit tests for host/sched_core.c: the cookie logic against a fake kernel, and the real kernel's answer on this host. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>

#include "host/placement.h"
#include "host/sched_core.h"

/* A fake kernel: threads are small ids, each with a cookie; cookies are handed out in order. */
struct fake_kernel {
	int unsupported;     /* -errno every call returns, 0: supported */
	pid_t current;       /* the calling thread */
	uint64_t cookie[16]; /* per thread id */
	bool alive[16];
	uint64_t next;
	unsigned int calls[4]; /* per command */
	int fail_cmd, fail_err;
	bool create_noop; /* CREATE "succeeds" without setting a cookie */
};

static int fake_prctl(void *ctx, int cmd, pid_t pid, int scope, uint64_t *cookie)
{
	struct fake_kernel *k = ctx;
	if (k->unsupported)
		return k->unsupported;
	if (cmd < 0 || cmd > 3 || scope != CVM_PR_SCHED_CORE_SCOPE_THREAD)
		return -EINVAL;
	k->calls[cmd]++;
	if (k->fail_cmd == cmd && k->fail_err)
		return k->fail_err;
	pid_t self = k->current;
	pid_t target = pid ? pid : self;
	if (target < 0 || target >= 16 || !k->alive[target])
		return -ESRCH;
	switch (cmd) {
	case CVM_PR_SCHED_CORE_GET:
		if (!cookie)
			return -EFAULT;
		*cookie = k->cookie[target];
		return 0;
	case CVM_PR_SCHED_CORE_CREATE:
		if (!k->create_noop)
			k->cookie[target] = ++k->next * 0x1000;
		return 0;
	case CVM_PR_SCHED_CORE_SHARE_TO:
		k->cookie[target] = k->cookie[self];
		return 0;
	default: /* SHARE_FROM */
		k->cookie[self] = k->cookie[target];
		return 0;
	}
}

static pid_t fake_gettid(void *ctx)
{
	return ((struct fake_kernel *)ctx)->current;
}

static struct cvm_sched_core_ops ops_for(struct fake_kernel *k)
{
	for (int i = 1; i < 16; i++)
		k->alive[i] = true;
	return (struct cvm_sched_core_ops){fake_prctl, fake_gettid, k};
}

static void test_vm_scope(void **state)
{
	struct fake_kernel k = {0};
	struct cvm_sched_core_ops ops = ops_for(&k);
	struct cvm_cookie_state st = {0};
	uint64_t c[5];
	k.current = 1;
	assert_int_equal(__cvm_sched_core_supported(&ops), 0);
	for (pid_t tid = 1; tid <= 4; tid++) {
		k.current = tid;
		assert_int_equal(__cvm_sched_core_join(&ops, &st, CVM_COOKIE_VM, &c[tid]), 0);
	}
	/* One CREATE by the first thread, the others pulled it. */
	assert_int_equal(k.calls[CVM_PR_SCHED_CORE_CREATE], 1);
	assert_int_equal(k.calls[CVM_PR_SCHED_CORE_SHARE_FROM], 3);
	assert_int_equal(st.holder, 1);
	assert_int_equal(st.nr_joined, 4);
	for (int i = 1; i <= 4; i++) {
		assert_true(c[i] != 0);
		assert_true(c[i] == c[1]);
		assert_true(k.cookie[i] == c[1]);
	}
	assert_true(k.cookie[5] == 0); /* a housekeeping thread keeps none */

	/* SHARE_TO pushes the caller's cookie to a helper thread. */
	k.current = 2;
	assert_int_equal(__cvm_sched_core_share_to(&ops, 6), 0);
	assert_true(k.cookie[6] == c[1]);
	uint64_t got;
	assert_int_equal(__cvm_sched_core_get(&ops, 6, &got), 0);
	assert_true(got == c[1]);
}

static void test_vcpu_scope(void **state)
{
	struct fake_kernel k = {0};
	struct cvm_sched_core_ops ops = ops_for(&k);
	struct cvm_cookie_state st = {0};
	uint64_t c[4];
	for (pid_t tid = 1; tid <= 3; tid++) {
		k.current = tid;
		assert_int_equal(__cvm_sched_core_join(&ops, &st, CVM_COOKIE_VCPU, &c[tid]), 0);
	}
	assert_int_equal(k.calls[CVM_PR_SCHED_CORE_CREATE], 3);
	assert_int_equal(k.calls[CVM_PR_SCHED_CORE_SHARE_FROM], 0);
	assert_true(c[1] && c[2] && c[3]);
	assert_true(c[1] != c[2] && c[2] != c[3] && c[1] != c[3]);

	/* Off: no syscall at all. */
	unsigned int before = k.calls[0] + k.calls[1] + k.calls[2] + k.calls[3];
	assert_int_equal(__cvm_sched_core_join(&ops, &st, CVM_COOKIE_OFF, &c[0]), 0);
	assert_int_equal(k.calls[0] + k.calls[1] + k.calls[2] + k.calls[3], before);
}

static void test_errors(void **state)
{
	struct fake_kernel k = {.unsupported = -EINVAL};
	struct cvm_sched_core_ops ops = ops_for(&k);
	struct cvm_cookie_state st = {0};
	uint64_t c = 99;
	k.current = 1;
	assert_int_equal(__cvm_sched_core_supported(&ops), -EINVAL);
	assert_int_equal(__cvm_sched_core_join(&ops, &st, CVM_COOKIE_VM, &c), -EINVAL);
	assert_true(c == 0);
	assert_string_equal(cvm_cookie_unsupported_why(-EINVAL),
	                    "the kernel has no core scheduling (built without CONFIG_SCHED_CORE; "
	                    "prctl PR_SCHED_CORE: EINVAL)");
	k.unsupported = -ENODEV;
	assert_int_equal(__cvm_sched_core_supported(&ops), -ENODEV);

	/* The holder is gone before a later thread joins: the error comes back. */
	k.unsupported = 0;
	k.current = 1;
	assert_int_equal(__cvm_sched_core_join(&ops, &st, CVM_COOKIE_VM, &c), 0);
	k.alive[1] = false;
	k.current = 2;
	assert_int_equal(__cvm_sched_core_join(&ops, &st, CVM_COOKIE_VM, &c), -ESRCH);

	/* A kernel that hands back a zero cookie, or another VM's cookie: -EIO. */
	struct fake_kernel z = {0};
	struct cvm_sched_core_ops zops = ops_for(&z);
	struct cvm_cookie_state zst = {0};
	z.current = 1;
	z.create_noop = true;
	assert_int_equal(__cvm_sched_core_join(&zops, &zst, CVM_COOKIE_VCPU, &c), -EIO);
	z.create_noop = false;
	assert_int_equal(__cvm_sched_core_join(&zops, &zst, CVM_COOKIE_VM, &c), 0);
	zst.cookie = 12345; /* as if the first thread had got another cookie */
	z.current = 2;
	assert_int_equal(__cvm_sched_core_join(&zops, &zst, CVM_COOKIE_VM, &c), -EIO);
	z.fail_cmd = CVM_PR_SCHED_CORE_CREATE;
	z.fail_err = -EPERM;
	struct cvm_cookie_state zst2 = {0};
	assert_int_equal(__cvm_sched_core_join(&zops, &zst2, CVM_COOKIE_VCPU, &c), -EPERM);
}

/* The real kernel: supported, or one of the documented refusals; never anything else. */
static void test_real_kernel(void **state)
{
	int r = __cvm_sched_core_supported(&cvm_sched_core_sys);
	printf("# prctl(PR_SCHED_CORE, GET) on this host: %d%s%s\n", r, r ? ": " : "",
	       cvm_cookie_unsupported_why(r));
	assert_true(r == 0 || r == -EINVAL || r == -ENODEV || r == -EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vm_scope),
	        cmocka_unit_test(test_vcpu_scope),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_real_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
