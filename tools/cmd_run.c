/* `corevm run`: load a multiboot or PVH image into a fresh KVM VM, run it to its end, report. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/guest_abi.h"
#include "host/place_ctl.h"
#include "tools/cmds.h"
#include "tools/run_args.h"
#include "util/log.h"
#include "util/parse.h"
#include "vmm/board.h"
#include "vmm/vm.h"

/* A file mapped read-only (never copied); len 0 gives data NULL. */
struct mapped_file {
	const uint8_t *data;
	size_t len;
};

static int map_file(const char *what, const char *path, struct mapped_file *f)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p;

	f->data = NULL;
	f->len = 0;
	if (fd < 0) {
		cvm_err("run", "cannot open %s '%s': %s", what, path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		cvm_err("run", "%s '%s' is not a regular file", what, path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	if ((uint64_t)st.st_size > SIZE_MAX / 2) {
		cvm_err("run", "%s '%s' is too large", what, path);
		close(fd);
		return -EFBIG;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		cvm_err("run", "cannot map %s '%s': %s", what, path, strerror(errno));
		return -errno;
	}
	f->data = p;
	f->len = (size_t)st.st_size;
	return 0;
}

static void unmap_file(struct mapped_file *f)
{
	if (f->data)
		munmap((void *)f->data, f->len);
	f->data = NULL;
}

static const char *protocol_name(enum cvm_boot_protocol p)
{
	return p == CVM_BOOT_PVH ? "pvh" : p == CVM_BOOT_MULTIBOOT ? "multiboot" : "auto";
}

struct run_state {
	struct cvm_run_args a;
	struct mapped_file image;
	struct mapped_file mod[CVM_RUN_MAX_MODULES];
	struct cvm_module_spec spec[CVM_RUN_MAX_MODULES];
	struct cvm_gmem gm;
	struct cvm_boot_entry entry;
	struct cvm_vm *vm;
	struct cvm_board *board;
	struct cvm_place_ctl *placement; /* with --placement and friends */
	struct cvm_uevent_source uevents;
	int stats_fd; /* --stats FILE, opened before the run (seccomp allows no open later) */
};

/* Files, RAM and the image: everything that needs no KVM. Returns an exit status or 0. */
static int prepare(struct run_state *s)
{
	struct cvm_boot_spec bs = {.protocol = s->a.boot, .cmdline = s->a.cmdline};
	char err[256] = "";
	int e;

	if (map_file("image", s->a.image, &s->image) < 0)
		return CVM_EXIT_FAILURE;
	if (s->a.stats) {
		s->stats_fd = open(s->a.stats, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (s->stats_fd < 0) {
			cvm_err("run", "cannot create the --stats file '%s': %s", s->a.stats,
			        strerror(errno));
			return CVM_EXIT_FAILURE;
		}
	}
	for (unsigned int i = 0; i < s->a.nmodules; i++) {
		if (map_file("module", s->a.module[i].file, &s->mod[i]) < 0)
			return CVM_EXIT_FAILURE;
		s->spec[i] = (struct cvm_module_spec){.data = s->mod[i].data,
		                                      .len = s->mod[i].len,
		                                      .string = s->a.module[i].string};
	}
	if (cvm_ram_map(s->a.mem, &s->gm) < 0)
		return CVM_EXIT_FAILURE;
	bs.image = s->image.data;
	bs.image_len = s->image.len;
	bs.modules = s->spec;
	bs.nmodules = s->a.nmodules;
	e = cvm_load_guest(&s->gm, &bs, &s->entry, err, sizeof(err));
	if (e < 0) {
		cvm_err("run", "%s: %s", s->a.image, err[0] ? err : strerror(-e));
		return CVM_EXIT_FAILURE;
	}
	cvm_info("run", "%s: %s entry 0x%x, image at [0x%llx, 0x%llx), %u vCPUs, %llu MiB",
	         s->a.image, protocol_name(s->entry.protocol), s->entry.eip,
	         (unsigned long long)s->entry.image_start, (unsigned long long)s->entry.image_end,
	         s->a.cpus, (unsigned long long)(s->a.mem >> 20));
	return 0;
}

static void explain_line(void *ctx, const char *line)
{
	fprintf(ctx, "corevm: %s\n", line);
}

/*
 * Host placement (docs/placement.md), decided before the VM exists: a policy the
 * host cannot meet fails here with one line. The main thread takes the
 * housekeeping CPU set; vCPU threads started from it set their own.
 */
static int place(struct run_state *s)
{
	struct cvm_place_ctl_config cfg = {
	        .req = s->a.place.req,
	        .max_entry_failures = s->a.place.retries,
	        .hotplug = true,
	};
	const char *fd_env = getenv("COREVM_UEVENT_FD");
	uint64_t fd;

	if (!s->a.place.given)
		return 0;
	if (fd_env) {
		if (cvm_parse_u64(fd_env, 0, 1 << 20, &fd)) {
			cvm_err("run", "COREVM_UEVENT_FD=%s: not a file descriptor", fd_env);
			return CVM_EXIT_USAGE;
		}
		cvm_uevent_source_fd(&s->uevents, (int)fd);
		cfg.uevents = &s->uevents;
	}
	if (cvm_place_ctl_create(&cfg, &s->placement) < 0)
		return CVM_EXIT_FAILURE;
	if (s->a.place.explain)
		cvm_place_ctl_explain(s->placement, explain_line, stderr);
	if (cvm_place_ctl_housekeeping_apply(s->placement) < 0 && s->a.place.req.strict)
		return CVM_EXIT_FAILURE;
	return 0;
}

static int run(struct run_state *s)
{
	struct cvm_vm_config cfg = {
	        .ncpus = s->a.cpus,
	        .irqchip = s->a.irqchip,
	        .gmem = &s->gm,
	        .boot_name = protocol_name(s->entry.protocol),
	        .mwait = s->a.mwait,
	        .protected_state = s->a.protected_state,
	        .seccomp = !s->a.no_seccomp,
	};
	struct cvm_run_opts opts = {.timeout_ns = s->a.timeout_ns, .console_rx = true};
	int status, e;

	e = cvm_vm_create(&cfg, &s->entry, &s->vm);
	if (e == -E2BIG)
		return CVM_EXIT_USAGE; /* --cpus above KVM's maximum: reported by the backend */
	if (e < 0)
		return CVM_EXIT_FAILURE;
	if (cvm_board_create(s->vm, s->a.cpus, s->a.mem, &s->board) < 0)
		return CVM_EXIT_FAILURE;
	if (s->placement && cvm_vm_set_placement(s->vm, s->placement) < 0)
		return CVM_EXIT_FAILURE;
	status = cvm_vm_run(s->vm, &opts);
	cvm_info("run", "guest ended: %s, exit status %d", cvm_vm_end_cause(s->vm), status);
	if (s->stats_fd >= 0 && cvm_vm_write_stats_fd(s->vm, s->stats_fd, s->a.stats) < 0 &&
	    status == CVM_EXIT_OK)
		status = CVM_EXIT_FAILURE;
	return status;
}

static void cleanup(struct run_state *s)
{
	if (s->vm && cvm_vm_stuck_threads(s->vm))
		return; /* a vCPU thread may still touch the VM, devices and RAM: leave them */
	cvm_vm_destroy(s->vm);
	cvm_place_ctl_destroy(s->placement);
	cvm_board_destroy(s->board);
	cvm_ram_unmap(&s->gm);
	if (s->stats_fd >= 0)
		close(s->stats_fd);
	for (unsigned int i = 0; i < CVM_RUN_MAX_MODULES; i++)
		unmap_file(&s->mod[i]);
	unmap_file(&s->image);
}

int cvm_cmd_run(int argc, char **argv)
{
	static struct run_state s; /* large (module tables); one run per process */
	char err[256];
	int r = cvm_run_parse_args(argc, argv, &s.a, err, sizeof(err));
	int status;

	if (r == 1) {
		fputs(cvm_run_usage, stdout);
		return 0;
	}
	if (r < 0) {
		cvm_err("run", "%s", err);
		return CVM_EXIT_USAGE;
	}
	cvm_log_set_verbose(s.a.verbose);
	s.stats_fd = -1;
	status = prepare(&s);
	if (status == 0)
		status = place(&s);
	if (status == 0)
		status = run(&s);
	cleanup(&s);
	return status;
}
