/* Running corevm as a child process for the guest tests, and small JSON and file helpers. */
#include "tests/guest/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUN_DEADLINE_MS (300 * 1000) /* corevm gets --timeout; this only guards the harness */

const char *h_corevm, *h_guests, *h_tmp;
const char *h_irqchip;
int h_failures;

/* Capabilities each irqchip mode needs (what corevm checks when it creates the VM). */
static const struct {
	const char *mode;
	int cap[2];
	const char *name[2];
} mode_caps[] = {
        {"kernel", {KVM_CAP_IRQCHIP, 0}, {"KVM_CAP_IRQCHIP", NULL}},
        {"split", {KVM_CAP_SPLIT_IRQCHIP, 0}, {"KVM_CAP_SPLIT_IRQCHIP", NULL}},
        {"user",
         {KVM_CAP_X86_USER_SPACE_MSR, KVM_CAP_X86_MSR_FILTER},
         {"KVM_CAP_X86_USER_SPACE_MSR", "KVM_CAP_X86_MSR_FILTER"}},
};

bool h_kvm_usable(void)
{
	const char *dev = getenv("COREVM_KVM_DEV") ? getenv("COREVM_KVM_DEV") : "/dev/kvm";
	int fd = open(dev, O_RDWR | O_CLOEXEC);
	bool ok = true;

	if (fd < 0) {
		printf("SKIP: %s: %s (this test needs KVM)\n", dev, strerror(errno));
		return false;
	}
	for (size_t i = 0; h_irqchip && i < sizeof(mode_caps) / sizeof(mode_caps[0]); i++) {
		if (strcmp(mode_caps[i].mode, h_irqchip))
			continue;
		for (unsigned int k = 0; k < 2 && mode_caps[i].name[k] && ok; k++) {
			if (ioctl(fd, KVM_CHECK_EXTENSION, mode_caps[i].cap[k]) > 0)
				continue;
			printf("SKIP: the '%s' irqchip mode needs %s, which %s does not offer\n",
			       h_irqchip, mode_caps[i].name[k], dev);
			ok = false;
		}
	}
	close(fd);
	return ok;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	*len = 0;
	if (!f)
		return calloc(1, 1);
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

/* Reads what corevm's stderr has within `timeout_ms`: > 0 bytes, 0 at its end or timeout. */
static ssize_t live_read(struct h_live *live, int timeout_ms)
{
	struct pollfd p = {.fd = live->stderr_fd, .events = POLLIN};
	char buf[4096];
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return 0;
	n = read(live->stderr_fd, buf, sizeof(buf));
	if (n <= 0)
		return 0;
	if (live->len + (size_t)n + 1 > live->cap) {
		live->cap = (live->len + (size_t)n + 1) * 2;
		live->err = realloc(live->err, live->cap);
	}
	memcpy(live->err + live->len, buf, (size_t)n);
	live->len += (size_t)n;
	live->err[live->len] = 0;
	return n;
}

bool h_wait_line(struct h_live *live, const char *text, int timeout_ms)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		const char *hit = live->err ? strstr(live->err + live->scanned, text) : NULL;
		if (hit) {
			const char *eol = strchr(hit, '\n');
			live->scanned = eol ? (size_t)(eol + 1 - live->err) : live->len;
			return true;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = timeout_ms - ((now.tv_sec - start.tv_sec) * 1000 +
		                          (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0 || live_read(live, (int)left) == 0) {
			printf("no line with '%s' on corevm's stderr within %d ms\n", text,
			       timeout_ms);
			return false;
		}
	}
}

static void child(const struct cvm_run_spec *spec, const char *const *argv, int in_fd, int out_pipe,
                  int err_pipe, const char *out, const char *err)
{
	int o = out_pipe >= 0 ? out_pipe : open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int e = err_pipe >= 0 ? err_pipe : open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (o < 0 || e < 0 || dup2(in_fd, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
		_exit(126);
	if (spec->uevent_fd > 0) {
		if (dup2(spec->uevent_fd, 3) < 0 || fcntl(3, F_SETFD, 0) < 0)
			_exit(126);
		setenv("COREVM_UEVENT_FD", "3", 1);
	} else {
		unsetenv("COREVM_UEVENT_FD");
	}
	if (spec->kvm_dev)
		setenv("COREVM_KVM_DEV", spec->kvm_dev, 1);
	else
		unsetenv("COREVM_KVM_DEV");
	for (unsigned int i = 0; spec->env && spec->env[i]; i++)
		putenv((char *)spec->env[i]);
	/* Tests kill corevm with signals on purpose (SIGSYS from seccomp): no core files. */
	setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	if (spec->drop_privileges && (setgid(65534) < 0 || setuid(65534) < 0))
		_exit(126);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

bool h_run(const struct cvm_run_spec *spec, struct cvm_result *r)
{
	static unsigned int seq;
	char out[512], err[512], stats[512];
	const char *argv[64];
	int argc = 0, pfd, st, pipefd[2] = {-1, -1}, outpipe[2] = {-1, -1}, errpipe[2] = {-1, -1};
	int in_fd;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	seq++;
	snprintf(out, sizeof(out), "%s/out.%u", h_tmp, seq);
	snprintf(err, sizeof(err), "%s/err.%u", h_tmp, seq);
	snprintf(stats, sizeof(stats), "%s/stats.%u.json", h_tmp, seq);
	argv[argc++] = h_corevm;
	argv[argc++] = "run";
	if (h_irqchip) {
		argv[argc++] = "--irqchip";
		argv[argc++] = h_irqchip;
	}
	if (spec->want_stats) {
		argv[argc++] = "--stats";
		argv[argc++] = stats;
	}
	for (unsigned int i = 0; spec->args[i] && argc < 62; i++)
		argv[argc++] = spec->args[i];
	argv[argc] = NULL;

	if (spec->interact && pipe2(errpipe, O_CLOEXEC) < 0)
		return false;
	if (spec->stdin_data || spec->interact) {
		if (pipe2(pipefd, O_CLOEXEC) < 0)
			return false;
		in_fd = pipefd[0];
	} else {
		in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (spec->signal_after_output && pipe(outpipe) < 0)
		return false;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (pipefd[1] >= 0)
			close(pipefd[1]);
		if (outpipe[0] >= 0)
			close(outpipe[0]);
		child(spec, argv, in_fd, outpipe[1], errpipe[1], out, err);
	}
	close(in_fd);
	if (outpipe[1] >= 0)
		close(outpipe[1]);
	if (errpipe[1] >= 0)
		close(errpipe[1]);
	if (pid < 0) {
		printf("cannot fork: %s\n", strerror(errno));
		return false;
	}
	struct h_live live = {.stdin_fd = pipefd[1], .stderr_fd = errpipe[0]};
	if (spec->interact && pid > 0) {
		spec->interact(spec->interact_ctx, &live);
		close(pipefd[1]);
		pipefd[1] = -1;
		while (live_read(&live, RUN_DEADLINE_MS) > 0)
			; /* the rest of stderr, up to its end */
		close(errpipe[0]);
	}
	if (pipefd[1] >= 0) {
		/* Small inputs fit the pipe buffer; then end of input. */
		ssize_t unused = write(pipefd[1], spec->stdin_data, spec->stdin_len);
		(void)unused;
		close(pipefd[1]);
	}
	if (outpipe[0] >= 0) {
		/* Wait for the guest's first output, then signal; keep what it printed. */
		struct pollfd p = {.fd = outpipe[0], .events = POLLIN};
		char buf[256];
		ssize_t n = 0;
		FILE *f = fopen(out, "wb");
		if (poll(&p, 1, RUN_DEADLINE_MS) == 1 &&
		    (n = read(outpipe[0], buf, sizeof(buf))) > 0) {
			kill(pid, spec->signal_after_output);
			do
				fwrite(buf, 1, (size_t)n, f);
			while ((n = read(outpipe[0], buf, sizeof(buf))) > 0);
		} else {
			printf("no output from the guest: killing corevm\n");
			kill(pid, SIGKILL);
		}
		fclose(f);
		close(outpipe[0]);
	}
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		if (poll(&p, 1, RUN_DEADLINE_MS) == 0) {
			printf("corevm did not end within %d s: killing it\n",
			       RUN_DEADLINE_MS / 1000);
			kill(pid, SIGKILL);
		}
		close(pfd);
	}
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) < 0)
		return false;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->maxrss_kb = ru.ru_maxrss;
	r->out = slurp(out, &r->outlen);
	if (spec->interact) {
		r->err = live.err ? live.err : calloc(1, 1);
		r->errlen = live.len;
	} else {
		r->err = slurp(err, &r->errlen);
	}
	if (spec->want_stats)
		r->stats = json_object_from_file(stats);
	unlink(out);
	unlink(err);
	unlink(stats);
	printf("ran:");
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf(" -> status %d, peak RSS %ld KiB\n", r->status, r->maxrss_kb);
	if (r->errlen)
		printf("  stderr: %s%s", r->err, r->err[r->errlen - 1] == '\n' ? "" : "\n");
	return true;
}

void h_result_free(struct cvm_result *r)
{
	free(r->out);
	free(r->err);
	if (r->stats)
		json_object_put(r->stats);
	memset(r, 0, sizeof(*r));
}

const char *h_guest(const char *name, bool pvh)
{
	static char path[8][512];
	static unsigned int slot;
	char *p = path[slot++ % 8];

	snprintf(p, 512, "%s/%s%s.elf", h_guests, name, pvh ? "-pvh" : "");
	return p;
}

const char *h_write_file(const char *name, const void *data, size_t len)
{
	static char path[8][512];
	static unsigned int slot;
	char *p = path[slot++ % 8];
	FILE *f;

	snprintf(p, 512, "%s/%s", h_tmp, name);
	f = fopen(p, "wb");
	if (!f || fwrite(data, 1, len, f) != len) {
		printf("cannot write %s\n", p);
		exit(1);
	}
	fclose(f);
	return p;
}

unsigned int h_lines(const char *s)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* "a.b.2.c": object keys and array indices. */
struct json_object *h_get(struct json_object *o, const char *path, json_type type)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array)) {
			char *end;
			long i = strtol(tok, &end, 10);
			o = (*end || i < 0 || (size_t)i >= json_object_array_length(o))
			            ? NULL
			            : json_object_array_get_idx(o, (size_t)i);
		} else if (!json_object_object_get_ex(o, tok, &o)) {
			o = NULL;
		}
	}
	if (!o || !json_object_is_type(o, type)) {
		printf("stats: %s missing or not a %s\n", path, json_type_to_name(type));
		return NULL;
	}
	return o;
}

int64_t h_int(struct json_object *o, const char *path)
{
	struct json_object *v = h_get(o, path, json_type_int);
	return v ? json_object_get_int64(v) : INT64_MIN;
}

uint64_t h_u64(struct json_object *o, const char *path)
{
	struct json_object *v = h_get(o, path, json_type_int);
	return v ? json_object_get_uint64(v) : UINT64_MAX;
}

unsigned int h_reports(struct json_object *stats, unsigned int vcpu, uint64_t stage,
                       struct json_object **rep, unsigned int max)
{
	char key[64];
	struct json_object *list;
	unsigned int n = 0;

	snprintf(key, sizeof(key), "vcpus.%u.ucall.first_reports", vcpu);
	list = stats ? h_get(stats, key, json_type_array) : NULL;
	for (unsigned int i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *r = json_object_array_get_idx(list, i);
		if ((uint64_t)h_int(r, "stage") == stage && n < max)
			rep[n++] = r;
	}
	return n;
}

uint64_t h_rarg(struct json_object *rep, unsigned int k)
{
	char key[16];

	snprintf(key, sizeof(key), "args.%u", k - 1);
	return h_u64(rep, key);
}

int h_main(int argc, char **argv, const struct h_case *cases, size_t ncases)
{
	char tmpl[] = "/tmp/corevm-test-XXXXXX", cmd[600];
	int rc = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s CASE COREVM GUEST_DIR [kernel|split|user]\n", argv[0]);
		return 2;
	}
	h_corevm = argv[2];
	h_guests = argv[3];
	h_irqchip = argc == 5 ? argv[4] : NULL;
	h_tmp = mkdtemp(tmpl);
	if (!h_tmp) {
		perror("mkdtemp");
		return 1;
	}
	for (size_t i = 0; i < ncases; i++) {
		if (strcmp(cases[i].name, argv[1]))
			continue;
		rc = cases[i].fn();
		if (rc == 0 && h_failures)
			rc = 1;
		printf("%s%s%s%s: %s\n", cases[i].name, h_irqchip ? " (" : "",
		       h_irqchip ? h_irqchip : "", h_irqchip ? ")" : "",
		       rc == 77  ? "skipped"
		       : rc == 0 ? "passed"
		                 : "FAILED");
		break;
	}
	if (rc < 0) {
		fprintf(stderr, "unknown case '%s'\n", argv[1]);
		rc = 2;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h_tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", h_tmp);
	return rc;
}
