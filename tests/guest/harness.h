/*
 * The host half of the guest-in-the-loop tests: runs the real corevm binary as
 * a child (stdout, stderr and stdin redirected, waited for on a pidfd with a
 * generous deadline), and checks its status, output and --stats JSON.
 */
#ifndef COREVM_TESTS_GUEST_HARNESS_H
#define COREVM_TESTS_GUEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct h_live;

/* What one corevm run gave. */
struct cvm_result {
	int status; /* exit status, or 128 + signal */
	char *out;  /* stdout, NUL-terminated (may contain NULs: see outlen) */
	size_t outlen;
	char *err; /* stderr, NUL-terminated */
	size_t errlen;
	struct json_object *stats; /* the --stats file when asked for and written, else NULL */
	long maxrss_kb;            /* corevm's peak resident set (wait4 rusage), KiB */
};

struct cvm_run_spec {
	const char *const *args; /* after "corevm run"; NULL-terminated */
	const char *kvm_dev;     /* COREVM_KVM_DEV for the child, or NULL */
	bool drop_privileges;    /* run as nobody (root only) */
	const void *stdin_data;  /* fed through a pipe, or NULL for /dev/null */
	size_t stdin_len;
	bool want_stats;         /* adds --stats FILE and parses it */
	int signal_after_output; /* if not 0: send this signal once stdout shows a byte */
	int uevent_fd;           /* > 0: given to corevm as fd 3 with COREVM_UEVENT_FD=3 */
	/* Extra NAME=VALUE settings for the child, NULL-terminated, or NULL. */
	const char *const *env;
	/*
	 * Interactive runs: corevm's stdin and stderr are pipes; interact() runs while
	 * corevm does, reads stderr with h_wait_line() and writes to live->stdin_fd;
	 * corevm's stdin is closed when it returns. Not with stdin_data.
	 */
	void (*interact)(void *ctx, struct h_live *live);
	void *interact_ctx;
};

/* corevm's stderr as an interactive run has read it so far. */
struct h_live {
	int stdin_fd, stderr_fd;
	char *err; /* everything read, NUL-terminated */
	size_t len, cap;
	size_t scanned; /* h_wait_line() looks after this offset */
};

/*
 * Waits up to `timeout_ms` for a line of corevm's stderr containing `text`, after
 * the line an earlier call found. True when found (then later calls look after it).
 */
bool h_wait_line(struct h_live *live, const char *text, int timeout_ms);

/* Paths set by main(): the corevm binary, the guests' folder, a private temp folder. */
extern const char *h_corevm, *h_guests, *h_tmp;

/* The irqchip mode every run gets (--irqchip MODE), or NULL for corevm's default. */
extern const char *h_irqchip;

/*
 * Whether the KVM device ($COREVM_KVM_DEV or /dev/kvm) can be opened and offers
 * what h_irqchip needs; if not, prints "SKIP: why" (the caller exits 77).
 */
bool h_kvm_usable(void);

/* Runs corevm; false (after printing why) if it could not be run or did not end in time. */
bool h_run(const struct cvm_run_spec *spec, struct cvm_result *r);
void h_result_free(struct cvm_result *r);

/* Path of a guest image ("smp" -> <guests>/smp.elf; pvh selects smp-pvh.elf). */
const char *h_guest(const char *name, bool pvh);

/* Writes a file in the temp folder and returns its path (static buffer per call slot). */
const char *h_write_file(const char *name, const void *data, size_t len);

/* Number of lines in s. */
unsigned int h_lines(const char *s);

/* json helpers: NULL (and a printed reason) when missing or of another type. */
struct json_object *h_get(struct json_object *o, const char *path, json_type type);
int64_t h_int(struct json_object *o, const char *path);
/* The same for unsigned 64-bit values (json-c clamps them in h_int). */
uint64_t h_u64(struct json_object *o, const char *path);

/*
 * The REPORT ucalls of `stage` that vCPU `vcpu` sent, in order, among the first
 * ones --stats keeps (vcpus[].ucall.first_reports): fills rep[] (at most max)
 * and returns how many.
 */
unsigned int h_reports(struct json_object *stats, unsigned int vcpu, uint64_t stage,
                       struct json_object **rep, unsigned int max);

/* ucall args[k] (k = 1..3) of a recorded report. */
uint64_t h_rarg(struct json_object *rep, unsigned int k);

/* One case of a test program: returns 0 (passed), 77 (skipped, after saying why) or 1. */
struct h_case {
	const char *name;
	int (*fn)(void);
};

/*
 * The main() of a guest test program, argv: CASE COREVM GUEST_DIR [IRQCHIP].
 * Sets h_corevm, h_guests, h_irqchip (NULL without IRQCHIP) and a private
 * h_tmp, runs the case named CASE, prints its verdict and removes h_tmp.
 * Returns the exit status: 0, 77, 1 (failed, also when a CHECK failed), 2
 * (usage or unknown case).
 */
int h_main(int argc, char **argv, const struct h_case *cases, size_t ncases);

/* Checks: print "FAIL file:line: what" and make the test fail, but go on. */
extern int h_failures;
#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			h_failures++;                                          \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
		}                                                              \
	} while (0)

#endif
