/* corevm calibrate: measure exit round trip, kick and wake latency through corevm's KVM backend (bare KVM beside it) and write a simulator cost profile. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/costs.h"
#include "tools/calib_guest.h"
#include "tools/calibrate_raw.h"
#include "tools/cmds.h"
#include "util/log.h"
#include "util/parse.h"
#include "vmm/calibrate.h"
#include "vmm/vm.h"

/*
 * The profile's costs come from corevm's backend (vmm/calibrate.h): the
 * simulator models corevm, so its costs are corevm's, not bare KVM's. The raw
 * KVM measurement (calibrate_raw.h) runs first, as a reference: both are
 * printed, and the difference is what corevm itself adds. The simulator's
 * entry and exit are kernel-level; the round trip also crosses into userspace,
 * so the profile takes half of it for each and the whole of it as the
 * userspace exit cost: an upper bound, said in the profile's name.
 *
 * The backend's VM runs in a child process: its threads confine themselves
 * with seccomp filters as in `corevm run` (docs/seccomp.md) and stay confined,
 * the main thread included, while this command must still be able to write
 * its output, or remove it when nothing was measured. A vCPU thread that does
 * not stop dies with the child.
 */

static void usage(FILE *out)
{
	fprintf(out, "usage: corevm calibrate [--out FILE] [--samples N] [--guest FILE]\n\n"
	             "Measures on this machine's /dev/kvm, through corevm's own KVM backend\n"
	             "(vCPU threads, kicks, the user irqchip's HLT sleep and wake-up), the\n"
	             "median exit round trip to corevm, the latency of kicking a running vCPU\n"
	             "and of waking a halted one, and writes them as a cost profile for\n"
	             "'corevm sim --profile FILE' (default: to standard output). The same\n"
	             "three on bare KVM (raw ioctls) are printed beside them.\n\n"
	             "  --samples N    kicks and wake-ups measured (5..100000, default 200;\n"
	             "                 20 times as many exits)\n"
	             "  --guest FILE   the calibration guest (default: the one corevm carries,\n"
	             "                 guest/calib.c)\n");
}

/* A file mapped read-only; empty on failure (reported). */
static int map_guest(const char *path, const uint8_t **data, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		cvm_err("calibrate", "--guest %s: %s", path,
		        fd < 0 ? strerror(errno) : "not a non-empty regular file");
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		cvm_err("calibrate", "--guest %s: %s", path, strerror(errno));
		return -errno;
	}
	*data = p;
	*len = (size_t)st.st_size;
	return 0;
}

/* Opens the KVM device the backend will use and runs the raw reference on it. */
static int raw_reference(unsigned int n, struct cvm_calib_raw *raw)
{
	const char *dev = getenv(CVM_KVM_DEV_ENV);
	int kvm, r;

	if (!dev || !*dev)
		dev = CVM_KVM_DEV_DEFAULT;
	kvm = open(dev, O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		cvm_err("calibrate", "%s: %s: nothing measured", dev, strerror(errno));
		return -errno;
	}
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		cvm_err("calibrate", "%s: KVM API version is not %d", dev, KVM_API_VERSION);
		close(kvm);
		return -ENODEV;
	}
	r = cvm_calibrate_raw(kvm, n, raw);
	close(kvm);
	return r;
}

/* cvm_calibrate() in a child process; its verdict and result come back through a pipe. */
static int backend_in_child(const struct cvm_calib_config *cfg, struct cvm_calib_result *res)
{
	struct {
		int r;
		struct cvm_calib_result res;
	} msg = {.r = -EIO};
	int fd[2], status = 0;
	pid_t pid;
	ssize_t got;

	fflush(NULL); /* nothing buffered twice */
	if (pipe2(fd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		cvm_err("calibrate", "cannot start the calibration VM's process: %s",
		        strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		close(fd[0]);
		msg.r = cvm_calibrate(cfg, &msg.res);
		got = write(fd[1], &msg, sizeof(msg));
		_exit(got == (ssize_t)sizeof(msg) ? 0 : 1);
	}
	close(fd[1]);
	do
		got = read(fd[0], &msg, sizeof(msg));
	while (got < 0 && errno == EINTR);
	close(fd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got != (ssize_t)sizeof(msg)) {
		cvm_err("calibrate",
		        "the calibration VM's process ended without a result (status "
		        "0x%x)",
		        status);
		return -EIO;
	}
	*res = msg.res;
	return msg.r;
}

static void print_row(const char *what, const struct cvm_calib_stat *s, uint64_t raw)
{
	char p90[32];

	snprintf(p90, sizeof(p90), "(p90 %.1f us)", (double)s->p90 / 1e3);
	fprintf(stderr, "  %-16s %8.1f us %-17s %8.1f us %+9.1f us (%.2fx)\n", what,
	        (double)s->p50 / 1e3, p90, (double)raw / 1e3, ((double)s->p50 - (double)raw) / 1e3,
	        raw ? (double)s->p50 / (double)raw : 0.0);
}

/* The profile from the backend's medians. */
static void fill_costs(struct cvm_sim_costs *c, const struct cvm_calib_result *b, const char *host)
{
	uint64_t rt = b->exit_rt.p50;

	cvm_sim_costs_default(c);
	snprintf(c->name, sizeof(c->name), "calibrated: %.16s (corevm, upper-bound entry/exit)",
	         host);
	c->entry = rt / 2;
	c->exit = rt - rt / 2;
	c->exit_user = rt;
	c->kick = b->kick.p50;
	c->wake = b->wake.p50;
}

static int measure_and_write(unsigned int n, const char *out, const struct cvm_calib_config *cfg)
{
	struct cvm_calib_raw raw;
	struct cvm_calib_result b;
	struct cvm_sim_costs costs;
	char host[64] = "this host", source[256];
	FILE *f;
	int r = raw_reference(n, &raw);

	if (r)
		return CVM_EXIT_FAILURE;
	f = out ? fopen(out, "w") : stdout;
	if (!f) {
		cvm_err("calibrate", "--out %s: %s", out, strerror(errno));
		return CVM_EXIT_FAILURE;
	}
	gethostname(host, sizeof(host) - 1);
	r = backend_in_child(cfg, &b);
	if (r) {
		if (out) {
			fclose(f);
			unlink(out); /* nothing measured, nothing written */
		}
		return CVM_EXIT_FAILURE;
	}
	fprintf(stderr,
	        "corevm calibrate: medians of %u exits, %u kicks, %u wake-ups\n"
	        "  %-16s %-29s %11s %s\n",
	        b.exit_rt.n, b.kick.n, b.wake.n, "", "corevm's backend (user irqchip)", "bare KVM",
	        "  corevm adds");
	print_row("exit round trip", &b.exit_rt, raw.exit_rt);
	print_row("kick", &b.kick, raw.kick);
	print_row("wake", &b.wake, raw.wake);
	fill_costs(&costs, &b, host);
	/* the profile reader takes up to 255 characters here */
	snprintf(source, sizeof(source),
	         "corevm calibrate --samples %u, through corevm's KVM backend (user irqchip), "
	         "p50/p90 ns: exit %llu/%llu, kick %llu/%llu, wake %llu/%llu; bare KVM p50: exit "
	         "%llu, kick %llu, wake %llu",
	         n, (unsigned long long)b.exit_rt.p50, (unsigned long long)b.exit_rt.p90,
	         (unsigned long long)b.kick.p50, (unsigned long long)b.kick.p90,
	         (unsigned long long)b.wake.p50, (unsigned long long)b.wake.p90,
	         (unsigned long long)raw.exit_rt, (unsigned long long)raw.kick,
	         (unsigned long long)raw.wake);
	r = __cvm_sim_costs_write(f, &costs, source);
	if (out && fclose(f) && !r)
		r = -errno;
	if (r) {
		cvm_err("calibrate", "writing the profile: %s", strerror(-r));
		return CVM_EXIT_FAILURE;
	}
	return 0;
}

int cvm_cmd_calibrate(int argc, char **argv)
{
	static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
	                                     {"samples", required_argument, NULL, 'n'},
	                                     {"guest", required_argument, NULL, 'g'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	struct cvm_calib_config cfg = {.image = cvm_calib_guest, .image_len = cvm_calib_guest_len};
	const char *out = NULL, *guest = NULL;
	uint64_t samples = 200;
	int c, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'o') {
			out = optarg;
		} else if (c == 'g') {
			guest = optarg;
		} else if (c == 'n') {
			if (cvm_parse_u64(optarg, 5, 100000, &samples)) {
				fprintf(stderr,
				        "corevm calibrate: --samples %s: a number from 5 to 100000\n",
				        optarg);
				return CVM_EXIT_USAGE;
			}
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "corevm calibrate: %s: unknown option (see --help)\n",
			        argv[optind - 1]);
			return CVM_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "corevm calibrate: unexpected argument '%s'\n", argv[optind]);
		return CVM_EXIT_USAGE;
	}
	if (guest && map_guest(guest, &cfg.image, &cfg.image_len))
		return CVM_EXIT_FAILURE;
	if (!cfg.image_len) {
		fprintf(stderr, "corevm calibrate: this corevm was built without its guests "
		                "(-Dguests=false): give the calibration guest with --guest FILE\n");
		return CVM_EXIT_USAGE;
	}
	cfg.samples = (unsigned int)samples;
	status = measure_and_write(cfg.samples, out, &cfg);
	if (guest)
		munmap((void *)cfg.image, cfg.image_len);
	return status;
}
