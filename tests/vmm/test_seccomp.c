/*
 * The seccomp filters without KVM: every class's lists build, docs/seccomp.md
 * names every allowed system call in its class's section, and in a forked
 * child with a filter installed, allowed calls pass while forbidden ones (a
 * system call, an ioctl request, a write to another fd) kill the child with
 * SIGSYS after one line naming the thread and the call.
 *
 * usage: test_vmm_seccomp DOCS/SECCOMP.MD
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/irqchip.h"
#include "vmm/sandbox.h"

static const char *doc_path;

static const struct cvm_irqchip_ops *const modes[] = {
        &cvm_irqchip_kernel_ops, &cvm_irqchip_split_ops, &cvm_irqchip_user_ops};
#define NMODES  (sizeof(modes) / sizeof(modes[0]))
#define MAXLIST (2 + NMODES * CVM_IRQCHIP_SC_GROUPS)

/* Every group of `mode` for `cls`, wanted or not, into l; returns how many. */
static unsigned int irqchip_lists(const struct cvm_irqchip_ops *mode, enum cvm_thread_class cls,
                                  const struct cvm_seccomp_list **l)
{
	unsigned int n = 0;

	for (unsigned int g = 0; g < CVM_IRQCHIP_SC_GROUPS; g++)
		if (mode->seccomp[g].list && mode->seccomp[g].cls == cls)
			l[n++] = mode->seccomp[g].list;
	return n;
}

/* The widest set a class can get in a normal build: base, placement, every mode's groups. */
static unsigned int class_lists(enum cvm_thread_class cls, const struct cvm_seccomp_list **l)
{
	unsigned int n = 0;

	l[n++] = cvm_sandbox_list(cls, CVM_SANDBOX_BASE);
	l[n++] = cvm_sandbox_list(cls, CVM_SANDBOX_PLACEMENT);
	for (unsigned int m = 0; m < NMODES; m++)
		n += irqchip_lists(modes[m], cls, l + n);
	return n;
}

static void test_lists_build(void **state)
{
	(void)state;
	for (int c = 0; c < CVM_THREAD_NCLASSES; c++) {
		const struct cvm_seccomp_list *l[MAXLIST];
		struct cvm_seccomp_env env;
		unsigned int n = class_lists(c, l);
		int rules, calls;

		cvm_seccomp_env_init(&env);
		for (unsigned int f = 0; f < CVM_SC_NFDS; f++)
			env.fd[f] = 100 + (int)f; /* every fd known: every rule counts */
		rules = cvm_seccomp_count(l, n, &env);
		calls = cvm_seccomp_count_syscalls(l, n);
		printf("class %-16s %2d system calls, %2d rules (base + placement + every irqchip "
		       "group)\n",
		       cvm_thread_class_name(c), calls, rules);
		assert_true(calls > 0);
		assert_true(rules >= calls);
		/* No class may open files for writing, create processes or run programs. */
		for (unsigned int k = 0; k < n; k++)
			for (size_t i = 0; l[k] && i < l[k]->n; i++) {
				const char *name = l[k]->rules[i].name;
				assert_string_not_equal(name, "execve");
				assert_string_not_equal(name, "clone");
				assert_string_not_equal(name, "clone3");
				assert_string_not_equal(name, "fork");
				assert_string_not_equal(name, "ptrace");
				assert_string_not_equal(name, "socket");
				assert_string_not_equal(name, "open");
				assert_string_not_equal(name, "timer_create");
				assert_true(l[k]->rules[i].why && l[k]->rules[i].why[0]);
			}
	}
	/* The vCPU class, irqchip groups included: no unrestricted ioctl or write. */
	const struct cvm_seccomp_list *l[MAXLIST];
	unsigned int n = class_lists(CVM_THREAD_VCPU, l);
	for (unsigned int k = 0; k < n; k++)
		for (size_t i = 0; l[k] && i < l[k]->n; i++)
			if (!strcmp(l[k]->rules[i].name, "ioctl") ||
			    !strcmp(l[k]->rules[i].name, "write"))
				assert_int_equal(l[k]->rules[i].args[0].cmp, CVM_SC_FD);
}

/* The irqchip groups: entries up to the first without a list, each naming a class and a call. */
static void test_irqchip_groups(void **state)
{
	(void)state;
	for (unsigned int m = 0; m < NMODES; m++) {
		unsigned int g = 0;
		while (g < CVM_IRQCHIP_SC_GROUPS && modes[m]->seccomp[g].list) {
			assert_true(modes[m]->seccomp[g].cls < CVM_THREAD_NCLASSES);
			assert_true(modes[m]->seccomp[g].list->n > 0);
			g++;
		}
		/* Nothing after the end of the table. */
		for (; g < CVM_IRQCHIP_SC_GROUPS; g++)
			assert_null(modes[m]->seccomp[g].list);
	}
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* The text of docs/seccomp.md from heading `head` up to the next heading of that level. */
static char *section(char *doc, const char *head, char **end)
{
	char *start = strstr(doc, head);
	const char *level = head[2] == '#' && head[3] == '#' ? "\n### " : "\n## ";

	if (!start)
		fail_msg("docs/seccomp.md has no section '%s'", head + 1);
	start += strlen(head);
	*end = strstr(start, level);
	if (!*end)
		*end = start + strlen(start);
	return start;
}

/* Every call of the lists in `l` is named as `name` in the doc between start and end. */
static void names_every_call(const struct cvm_seccomp_list *const *l, unsigned int n,
                             const char *start, const char *end, const char *where)
{
	char word[64];

	for (unsigned int k = 0; k < n; k++)
		for (size_t i = 0; l[k] && i < l[k]->n; i++) {
			snprintf(word, sizeof(word), "`%s`", l[k]->rules[i].name);
			const char *hit = strstr(start, word);
			if (!hit || hit > end)
				fail_msg("docs/seccomp.md, %s, does not name %s (group %s)", where,
				         word, l[k]->group);
		}
}

/*
 * docs/seccomp.md has a section "### <class>" naming each call of the class's
 * base and placement groups as `name`, and its irqchip section names each call
 * of every mode's groups.
 */
static void test_docs_name_every_call(void **state)
{
	char *doc = slurp(doc_path), *end, *start;
	char head[64];

	(void)state;
	for (int c = 0; c < CVM_THREAD_NCLASSES; c++) {
		const struct cvm_seccomp_list *l[2] = {
		        cvm_sandbox_list(c, CVM_SANDBOX_BASE),
		        cvm_sandbox_list(c, CVM_SANDBOX_PLACEMENT),
		};
		snprintf(head, sizeof(head), "\n### %s\n", cvm_thread_class_name(c));
		start = section(doc, head, &end);
		names_every_call(l, 2, start, end, head + 1);
	}
	start = section(doc, "\n## The irqchip modes' groups\n", &end);
	for (unsigned int m = 0; m < NMODES; m++)
		for (int c = 0; c < CVM_THREAD_NCLASSES; c++) {
			const struct cvm_seccomp_list *l[CVM_IRQCHIP_SC_GROUPS];
			names_every_call(l, irqchip_lists(modes[m], c, l), start, end,
			                 "the irqchip modes' groups");
		}
	free(doc);
}

/* ---- a filter installed in a forked child ---- */

enum action { DO_WRITE_STDERR, DO_GETPPID, DO_IOCTL_RUN, DO_IOCTL_OTHER, DO_WRITE_OTHER_FD };

#define FAKE_VCPU_FD 40 /* /dev/null dup'ed here: ioctls fail with ENOTTY, but are allowed */

/* Runs `act` in a child under the vCPU filter; returns its wait status, stderr in err. */
static int child_under_filter(enum action act, char *err, size_t errlen)
{
	int pipefd[2], st;
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(pipefd), 0);
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const struct cvm_seccomp_list *l[2] = {
		        cvm_sandbox_list(CVM_THREAD_VCPU, CVM_SANDBOX_BASE),
		        cvm_sandbox_runtime_list(CVM_THREAD_VCPU),
		};
		struct cvm_seccomp_env env;
		struct rlimit none = {0, 0};
		int fd = open("/dev/null", O_RDWR);

		setrlimit(RLIMIT_CORE, &none);
		if (fd < 0 || dup2(fd, FAKE_VCPU_FD) < 0 || dup2(pipefd[1], 2) < 0)
			_exit(100);
		cvm_seccomp_env_init(&env);
		env.fd[CVM_SC_FD_VCPU] = FAKE_VCPU_FD;
		if (cvm_seccomp_init() || __cvm_seccomp_install(l, 2, &env, "vcpu 7"))
			_exit(101);
		/* The vCPU class may end its thread (exit), not the process (exit_group). */
		switch (act) {
		case DO_WRITE_STDERR:
			syscall(SYS_exit, write(2, "ok\n", 3) == 3 ? 0 : 102);
			break;
		case DO_GETPPID:
			syscall(SYS_getppid);
			break;
		case DO_IOCTL_RUN:
			syscall(SYS_exit,
			        ioctl(FAKE_VCPU_FD, KVM_RUN, 0) < 0 && errno == ENOTTY ? 0 : 103);
			break;
		case DO_IOCTL_OTHER:
			ioctl(FAKE_VCPU_FD, KVM_GET_REGS, NULL);
			break;
		case DO_WRITE_OTHER_FD:
			n = write(FAKE_VCPU_FD, "x", 1);
			(void)n;
			break;
		}
		syscall(SYS_exit, 104); /* the forbidden call returned: the filter failed */
	}
	close(pipefd[1]);
	n = read(pipefd[0], err, errlen - 1);
	err[n > 0 ? n : 0] = 0;
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void expect_killed(int st, const char *err, const char *what)
{
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("want death by SIGSYS, got status 0x%x (stderr: %s)", st, err);
	if (!strstr(err, "corevm: seccomp: vcpu 7 made a forbidden system call: ") ||
	    !strstr(err, what) || !strstr(err, "killing corevm"))
		fail_msg("violation line lacks '%s': %s", what, err);
	unsigned int lines = 0;
	for (const char *p = err; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 1);
}

static void test_allowed_calls_pass(void **state)
{
	char err[512];
	int st;

	(void)state;
	st = child_under_filter(DO_WRITE_STDERR, err, sizeof(err));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_string_equal(err, "ok\n");
	st = child_under_filter(DO_IOCTL_RUN, err, sizeof(err));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_forbidden_syscall_kills(void **state)
{
	char err[512];

	(void)state;
	expect_killed(child_under_filter(DO_GETPPID, err, sizeof(err)), err, "getppid (110)");
}

static void test_forbidden_ioctl_request_kills(void **state)
{
	char err[512], want[64];

	(void)state;
	snprintf(want, sizeof(want), "ioctl (16) request 0x%lx on fd %d",
	         (unsigned long)KVM_GET_REGS, FAKE_VCPU_FD);
	expect_killed(child_under_filter(DO_IOCTL_OTHER, err, sizeof(err)), err, want);
}

static void test_write_to_other_fd_kills(void **state)
{
	char err[512];

	(void)state;
	expect_killed(child_under_filter(DO_WRITE_OTHER_FD, err, sizeof(err)), err, "write (1)");
}

static void test_unknown_name_refused(void **state)
{
	static const struct cvm_sc_rule bad[] = {{"no_such_syscall", {{0}}, "test"}};
	const struct cvm_seccomp_list l = {"test", bad, 1}, *lp = &l;
	struct cvm_seccomp_env env;

	(void)state;
	cvm_seccomp_env_init(&env);
	assert_int_equal(cvm_seccomp_count(&lp, 1, &env), -EINVAL);
	assert_int_equal(__cvm_seccomp_install(&lp, 1, &env, "test"), -EINVAL);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_lists_build),
	        cmocka_unit_test(test_irqchip_groups),
	        cmocka_unit_test(test_docs_name_every_call),
	        cmocka_unit_test(test_allowed_calls_pass),
	        cmocka_unit_test(test_forbidden_syscall_kills),
	        cmocka_unit_test(test_forbidden_ioctl_request_kills),
	        cmocka_unit_test(test_write_to_other_fd_kills),
	        cmocka_unit_test(test_unknown_name_refused),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s DOCS/SECCOMP.MD\n", argv[0]);
		return 2;
	}
	doc_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
