/* In-process harness for the idlework guest: boot, run on a thread, commands, pulses, bounded waits. */
#include "tests/vmm/iw_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/guest_abi.h"
#include "loader/loader.h"
#include "vmm/board.h"

#define IW_MEM (64ull << 20)

uint64_t iw_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

bool iw_kvm_usable(void)
{
	const char *dev = getenv(CVM_KVM_DEV_ENV);
	int fd = open(dev && *dev ? dev : CVM_KVM_DEV_DEFAULT, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("SKIP: %s: %s\n", dev && *dev ? dev : CVM_KVM_DEV_DEFAULT, strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size);
	if (buf && read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

struct ready_ctx {
	struct iw_vm *r;
	uint64_t mask;
};

static bool ready_cond(void *ctx)
{
	struct ready_ctx *c = ctx;

	return (iw_read(&c->r->sh->ready) & c->mask) == c->mask ||
	       cvm_vm_vcpu_state(c->r->vm, 0) == CVM_VS_STOPPED;
}

bool iw_up(struct iw_vm *r, const char *elf, const struct iw_opts *o)
{
	struct cvm_boot_spec bs = {.cmdline = o->cmdline};
	struct cvm_boot_entry entry;
	const char *nosc = getenv("IW_NO_SECCOMP");
	struct cvm_vm_config cfg = {.ncpus = o->ncpus,
	                            .irqchip = o->mode,
	                            .gmem = &r->gm,
	                            .work_capacity = o->capacity,
	                            .seccomp = !(nosc && *nosc && strcmp(nosc, "0"))};
	struct cvm_run_opts opts = {.timeout_ns = 600ull * 1000000000ull};
	struct ready_ctx rc = {.r = r, .mask = o->ready_mask};
	char err[256] = "";
	size_t len = 0;
	uint8_t *image = read_file(elf, &len);

	memset(r, 0, sizeof(*r));
	r->ncpus = o->ncpus;
	for (unsigned int i = 0; i < IDLEWORK_MAX_CPUS; i++)
		r->efd[i] = -1;
	if (!image) {
		printf("FAIL: cannot read %s\n", elf);
		return false;
	}
	bs.image = image;
	bs.image_len = len;
	if (cvm_ram_map(IW_MEM, &r->gm) < 0 ||
	    cvm_load_guest(&r->gm, &bs, &entry, err, sizeof(err)) < 0) {
		printf("FAIL: loading %s: %s\n", elf, err);
		free(image);
		return false;
	}
	free(image);
	cfg.gmem = &r->gm;
	if (cvm_vm_create(&cfg, &entry, &r->vm) < 0 ||
	    cvm_board_create(r->vm, o->ncpus, IW_MEM, &r->board) < 0) {
		printf("FAIL: creating the VM (%s irqchip)\n", cvm_irqchip_mode_name(o->mode));
		return false;
	}
	for (unsigned int i = 0; i < o->ncpus && i < IDLEWORK_MAX_CPUS; i++)
		if ((o->efd_mask >> i) & 1) {
			r->efd[i] = cvm_vm_vcpu_eventfd(r->vm, i);
			if (r->efd[i] < 0)
				return false;
		}
	r->sh = cvm_gmem_ptr(&r->gm, IDLEWORK_SHARED, sizeof(*r->sh));
	if (cvm_vm_start(r->vm, &opts) < 0)
		return false;
	r->running = true;
	if (!iw_wait(ready_cond, &rc, 120) ||
	    (iw_read(&r->sh->ready) & o->ready_mask) != o->ready_mask) {
		printf("FAIL: the guest's vCPUs did not come up (ready 0x%llx, want 0x%llx)\n",
		       (unsigned long long)iw_read(&r->sh->ready),
		       (unsigned long long)o->ready_mask);
		return false;
	}
	return true;
}

int iw_down(struct iw_vm *r)
{
	if (r->running) {
		cvm_vm_request_end(r->vm, CVM_EXIT_OK, "test done");
		r->status = cvm_vm_join(r->vm);
		r->running = false;
		r->ended = true;
	}
	if (r->vm && !cvm_vm_stuck_threads(r->vm)) {
		cvm_vm_destroy(r->vm);
		cvm_board_destroy(r->board);
		cvm_ram_unmap(&r->gm);
	}
	r->vm = NULL;
	return r->status;
}

bool iw_wait(bool (*cond)(void *ctx), void *ctx, double timeout_s)
{
	uint64_t end = iw_now_ns() + (uint64_t)(timeout_s * 1e9);
	struct timespec tick = {0, 50000};

	while (!cond(ctx)) {
		if (iw_now_ns() > end)
			return cond(ctx);
		nanosleep(&tick, NULL);
	}
	return true;
}

struct state_ctx {
	struct iw_vm *r;
	unsigned int i;
	enum cvm_vcpu_pub_state s;
};

static bool state_cond(void *ctx)
{
	struct state_ctx *c = ctx;

	return cvm_vm_vcpu_state(c->r->vm, c->i) == c->s;
}

bool iw_wait_state(struct iw_vm *r, unsigned int i, enum cvm_vcpu_pub_state s, double timeout_s)
{
	struct state_ctx c = {.r = r, .i = i, .s = s};

	return iw_wait(state_cond, &c, timeout_s);
}

struct ack_ctx {
	struct iw_vm *r;
	unsigned int i;
};

static bool ack_cond(void *ctx)
{
	struct ack_ctx *c = ctx;

	return iw_read(&c->r->sh->ack[c->i]) == c->r->seq[c->i];
}

bool iw_cmd(struct iw_vm *r, unsigned int i, enum idlework_op op, uint64_t arg, bool wait_ack)
{
	struct ack_ctx c = {.r = r, .i = i};

	r->seq[i]++;
	__atomic_store_n(&r->sh->arg[i], arg, __ATOMIC_SEQ_CST);
	__atomic_store_n(&r->sh->cmd[i], r->seq[i] << 8 | (uint64_t)op, __ATOMIC_SEQ_CST);
	return !wait_ack || iw_wait(ack_cond, &c, 120);
}

void iw_pulse(struct iw_vm *r, unsigned int pin)
{
	cvm_vm_set_irq(r->vm, pin, 1);
	cvm_vm_set_irq(r->vm, pin, 0);
}

uint64_t iw_read(const volatile uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}
