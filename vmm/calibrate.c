/* Calibration of the KVM backend: a real VM runs the calibration guest while probes on the backend's own paths take the times (see calibrate.h). */
#include "vmm/calibrate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "vmm/board.h"
#include "vmm/vm_internal.h"

#define CALIB_CPUS     2
#define CALIB_MEM      (64ull << 20)
#define CALIB_TIMEOUT  (300ull * 1000000000ull)
#define CALIB_TARGET   1u  /* the vCPU that is kicked and woken */
#define EXITS_PER_KICK 20u /* exits are cheap: measure more of them */

/* Samples of one quantity, ns; each written by one thread only, read after the run. */
struct series {
	uint64_t *v;
	unsigned int n, cap;
};

struct cvm_probe {
	_Atomic unsigned int phase; /* enum cvm_calib_phase, as vCPU 0's guest last wrote it */
	_Atomic uint64_t t_kick;    /* a kick of the target not yet seen (0: none) */
	_Atomic uint64_t t_wake;    /* a wake-up of the target not yet seen (0: none) */
	uint64_t t_exit;            /* vCPU 0: its last calibration exit (0: none) */
	struct series exit_rt, kick, wake;
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void add(struct series *s, uint64_t ns)
{
	if (s->n < s->cap)
		s->v[s->n++] = ns;
}

static bool in_phase(const struct cvm_probe *p, enum cvm_calib_phase ph)
{
	return atomic_load_explicit(&p->phase, memory_order_relaxed) == ph;
}

/* The byte of an 8-bit OUT to CVM_PORT_CALIB this exit is, or -1. */
static int calib_out(const struct cvm_vcpu *v)
{
	const struct kvm_run *run = v->run;

	if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
	    run->io.port != CVM_PORT_CALIB || run->io.size != 1 || run->io.count != 1 ||
	    run->io.data_offset >= v->run_size)
		return -1;
	return ((const uint8_t *)run)[run->io.data_offset];
}

void __cvm_probe_return(struct cvm_vcpu *v, int err)
{
	struct cvm_probe *p = v->vm->probe;
	uint64_t t = now_ns(), k;
	int out;

	if (v->index == 0) {
		out = err ? -1 : calib_out(v);
		if (out == CVM_CALIB_EXITS && in_phase(p, CVM_CALIB_EXITS) && p->t_exit)
			add(&p->exit_rt, t - p->t_exit);
		p->t_exit = out == CVM_CALIB_EXITS ? t : 0;
		if (out >= 0)
			atomic_store(&p->phase, (unsigned int)out);
	} else if (v->index == CALIB_TARGET) {
		/* a kick that met an exit of another kind gives no sample */
		k = atomic_exchange(&p->t_kick, 0);
		if (k && err == EINTR && in_phase(p, CVM_CALIB_KICKS))
			add(&p->kick, t - k);
	}
}

void __cvm_probe_entry(struct cvm_vcpu *v)
{
	struct cvm_probe *p = v->vm->probe;
	uint64_t w;

	if (v->index != CALIB_TARGET)
		return;
	w = atomic_exchange(&p->t_wake, 0);
	if (w && in_phase(p, CVM_CALIB_WAKES))
		add(&p->wake, now_ns() - w);
}

/* The first kick (wake-up) since the target last looked is the one it answers. */
static void stamp(_Atomic uint64_t *slot)
{
	uint64_t zero = 0;

	atomic_compare_exchange_strong(slot, &zero, now_ns());
}

void __cvm_probe_kick(struct cvm_vcpu *v)
{
	if (v->index == CALIB_TARGET && in_phase(v->vm->probe, CVM_CALIB_KICKS))
		stamp(&v->vm->probe->t_kick);
}

void __cvm_probe_wake(struct cvm_vcpu *v)
{
	if (v->index == CALIB_TARGET && in_phase(v->vm->probe, CVM_CALIB_WAKES))
		stamp(&v->vm->probe->t_wake);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Median and 90th percentile; false (reported) with fewer than half the samples wanted. */
static bool summarize(struct series *s, unsigned int want, const char *what,
                      struct cvm_calib_stat *out)
{
	out->n = s->n;
	if (s->n < want / 2 || !s->n) {
		cvm_err("calibrate",
		        "%s: %u samples of %u: the calibration guest did not run as "
		        "planned",
		        what, s->n, want);
		return false;
	}
	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	out->p50 = s->v[s->n / 2];
	out->p90 = s->v[s->n * 9 / 10];
	return true;
}

static int alloc_series(struct series *s, unsigned int cap)
{
	s->v = calloc(cap, sizeof(*s->v));
	s->cap = cap;
	return s->v ? 0 : -ENOMEM;
}

static void free_probe(struct cvm_probe *p)
{
	if (!p)
		return;
	free(p->exit_rt.v);
	free(p->kick.v);
	free(p->wake.v);
	free(p);
}

/* Loads the guest, creates and runs the VM with `p` attached. Returns the run's exit status or -errno. */
static int run_guest(const struct cvm_calib_config *cfg, struct cvm_probe *p, struct cvm_gmem *gm,
                     struct cvm_vm **vm, struct cvm_board **board)
{
	char cmdline[96], err[256] = "";
	struct cvm_boot_spec bs = {
	        .image = cfg->image, .image_len = cfg->image_len, .cmdline = cmdline};
	struct cvm_boot_entry entry;
	struct cvm_vm_config vc = {.ncpus = CALIB_CPUS,
	                           .irqchip = CVM_IRQCHIP_USER,
	                           .gmem = gm,
	                           .kvm_dev = cfg->kvm_dev,
	                           .boot_name = "calibrate"};
	struct cvm_run_opts opts = {.timeout_ns = CALIB_TIMEOUT};
	int e;

	snprintf(cmdline, sizeof(cmdline), "exits=%u kicks=%u wakes=%u", p->exit_rt.cap,
	         p->kick.cap, p->wake.cap);
	e = cvm_load_guest(gm, &bs, &entry, err, sizeof(err));
	if (e < 0) {
		cvm_err("calibrate", "the calibration guest: %s", err[0] ? err : strerror(-e));
		return e;
	}
	e = cvm_vm_create(&vc, &entry, vm);
	if (e < 0)
		return e;
	e = cvm_board_create(*vm, CALIB_CPUS, CALIB_MEM, board);
	if (e < 0)
		return e;
	(*vm)->probe = p;
	return cvm_vm_run(*vm, &opts);
}

int cvm_calibrate(const struct cvm_calib_config *cfg, struct cvm_calib_result *res)
{
	struct cvm_probe *p = calloc(1, sizeof(*p));
	struct cvm_gmem gm;
	struct cvm_vm *vm = NULL;
	struct cvm_board *board = NULL;
	unsigned int n = cfg->samples;
	int e;

	memset(res, 0, sizeof(*res));
	if (n < 5 || n > 100000 || !cfg->image || !cfg->image_len) {
		cvm_err("calibrate", "%u samples and a %zu-byte guest: need 5..100000 and a guest",
		        n, cfg->image_len);
		free(p);
		return -EINVAL;
	}
	if (!p || alloc_series(&p->exit_rt, n * EXITS_PER_KICK) || alloc_series(&p->kick, n) ||
	    alloc_series(&p->wake, n)) {
		cvm_err("calibrate", "out of memory for %u samples", n);
		free_probe(p);
		return -ENOMEM;
	}
	e = cvm_ram_map(CALIB_MEM, &gm);
	if (e < 0) {
		free_probe(p);
		return e;
	}
	e = run_guest(cfg, p, &gm, &vm, &board);
	if (e > 0) {
		cvm_err("calibrate", "the calibration guest ended with status %d (%s)", e,
		        cvm_vm_end_cause(vm));
		e = -EIO;
	} else if (e == 0 &&
	           !(summarize(&p->exit_rt, p->exit_rt.cap, "exit round trip", &res->exit_rt) &&
	             summarize(&p->kick, n, "kick", &res->kick) &&
	             summarize(&p->wake, n, "wake", &res->wake))) {
		e = -EIO;
	}
	if (vm && cvm_vm_stuck_threads(vm))
		return e ? e : -EIO; /* a vCPU thread may still use the VM and the probe */
	cvm_vm_destroy(vm);
	cvm_board_destroy(board);
	cvm_ram_unmap(&gm);
	free_probe(p);
	return e;
}
