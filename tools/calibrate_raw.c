/* corevm calibrate's reference: exit round trip, kick and wake latency of bare KVM, measured with raw ioctls and no VMM around them. */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "tools/calibrate_raw.h"
#include "util/log.h"

/*
 * Self-contained on purpose: three one-instruction real-mode guests driven by
 * raw KVM ioctls, nothing of corevm's backend, so that the backend's own
 * measurement (vmm/calibrate.h) can be set beside what KVM alone costs.
 *   exit round trip  guest "8 x out 0x80, al; jmp back": each KVM_RUN returns with
 *                    KVM_EXIT_IO; the median KVM_RUN call is one exit to
 *                    userspace and back;
 *   kick latency     guest "jmp $" runs; another thread sets immediate_exit and
 *                    signals the vCPU thread (the kick of DEVELOPERS.md); the
 *                    time from the signal to KVM_RUN returning;
 *   wake latency     guest "cli; hlt" with the in-kernel irqchip: the vCPU
 *                    thread sleeps in KVM; the same kick wakes it.
 */

#define GUEST_MEM 0x10000u
#define CODE_GPA  0x1000u
#define SIG_KICK  SIGUSR1

struct vm {
	int kvm, fd, vcpu;
	struct kvm_run *run;
	size_t run_size;
	void *mem;
};

struct kick_ctx {
	struct vm *vm;
	sem_t go, done; /* main -> thread: run once (or stop); thread -> main: returned */
	atomic_int stop;
	atomic_int in_run; /* the thread is about to call KVM_RUN */
	uint64_t t_return;
	int err;
};

static __thread struct kvm_run *thread_run;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_kick(int sig)
{
	(void)sig;
	if (thread_run)
		thread_run->immediate_exit = 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static void vm_close(struct vm *vm)
{
	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->mem)
		munmap(vm->mem, GUEST_MEM);
	if (vm->vcpu >= 0)
		close(vm->vcpu);
	if (vm->fd >= 0)
		close(vm->fd);
	vm->run = NULL;
	vm->mem = NULL;
	vm->vcpu = vm->fd = -1;
}

/* Creates a one-vCPU VM running `code` in real mode at CODE_GPA. Reports and returns -errno. */
static int vm_open(struct vm *vm, int kvm, const uint8_t *code, size_t len, bool irqchip)
{
	*vm = (struct vm){.kvm = kvm, .fd = -1, .vcpu = -1};
	const char *what = "KVM_CREATE_VM";
	vm->fd = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		goto fail;
	what = "mmap guest memory";
	vm->mem = mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		goto fail;
	}
	memcpy((uint8_t *)vm->mem + CODE_GPA, code, len);
	struct kvm_userspace_memory_region region = {
	        .slot = 0,
	        .guest_phys_addr = 0,
	        .memory_size = GUEST_MEM,
	        .userspace_addr = (uint64_t)(uintptr_t)vm->mem,
	};
	what = "KVM_SET_USER_MEMORY_REGION";
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		goto fail;
	what = "KVM_CREATE_IRQCHIP";
	if (irqchip && ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0)
		goto fail;
	what = "KVM_CREATE_VCPU";
	vm->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu < 0)
		goto fail;
	what = "KVM_GET_VCPU_MMAP_SIZE";
	int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz <= 0)
		goto fail;
	vm->run_size = (size_t)sz;
	what = "mmap kvm_run";
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu, 0);
	if (vm->run == MAP_FAILED) {
		vm->run = NULL;
		goto fail;
	}
	struct kvm_sregs sregs;
	what = "KVM_GET_SREGS";
	if (ioctl(vm->vcpu, KVM_GET_SREGS, &sregs) < 0)
		goto fail;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	what = "KVM_SET_SREGS";
	if (ioctl(vm->vcpu, KVM_SET_SREGS, &sregs) < 0)
		goto fail;
	struct kvm_regs regs = {.rip = CODE_GPA, .rflags = 2};
	what = "KVM_SET_REGS";
	if (ioctl(vm->vcpu, KVM_SET_REGS, &regs) < 0)
		goto fail;
	return 0;
fail:;
	int e = errno ? errno : EINVAL;
	cvm_err("calibrate", "%s: %s", what, strerror(e));
	vm_close(vm);
	return -e;
}

static int measure_roundtrip(int kvm, unsigned int n, uint64_t *out)
{
	/* 8 x out 0x80, al; jmp back: each exit one OUT, as in corevm's calibration guest */
	static const uint8_t code[] = {0xe6, 0x80, 0xe6, 0x80, 0xe6, 0x80, 0xe6, 0x80, 0xe6,
	                               0x80, 0xe6, 0x80, 0xe6, 0x80, 0xe6, 0x80, 0xeb, 0xee};
	struct vm vm;
	int r = vm_open(&vm, kvm, code, sizeof(code), false);
	if (r)
		return r;
	uint64_t *t = calloc(n, sizeof(*t));
	if (!t) {
		vm_close(&vm);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < n + 16 && !r; i++) {
		uint64_t t0 = now_ns();
		if (ioctl(vm.vcpu, KVM_RUN, 0) < 0) {
			r = -errno;
			cvm_err("calibrate", "KVM_RUN: %s", strerror(errno));
		} else if (vm.run->exit_reason != KVM_EXIT_IO) {
			r = -EIO;
			cvm_err("calibrate", "KVM_RUN: exit reason %u, expected KVM_EXIT_IO",
			        vm.run->exit_reason);
		} else if (i >= 16) {
			t[i - 16] = now_ns() - t0; /* the first runs warm up */
		}
	}
	if (!r)
		*out = median(t, n);
	free(t);
	vm_close(&vm);
	return r;
}

static void *kick_thread(void *arg)
{
	struct kick_ctx *k = arg;
	thread_run = k->vm->run;
	for (;;) {
		while (sem_wait(&k->go) && errno == EINTR)
			;
		if (atomic_load(&k->stop))
			break;
		atomic_store(&k->in_run, 1);
		int r = ioctl(k->vm->vcpu, KVM_RUN, 0);
		int e = errno;
		k->t_return = now_ns();
		k->vm->run->immediate_exit = 0;
		atomic_store(&k->in_run, 0);
		k->err = r >= 0 ? EIO : e == EINTR ? 0 : e;
		sem_post(&k->done);
	}
	return NULL;
}

/* Kicks a vCPU thread sitting in KVM_RUN `n` times; the median signal-to-return time. */
static int measure_kick(int kvm, const uint8_t *code, size_t len, bool irqchip, unsigned int n,
                        uint64_t *out)
{
	struct vm vm;
	int r = vm_open(&vm, kvm, code, len, irqchip);
	if (r)
		return r;
	uint64_t *t = calloc(n, sizeof(*t));
	struct kick_ctx k = {.vm = &vm};
	sem_init(&k.go, 0, 0);
	sem_init(&k.done, 0, 0);
	pthread_t th;
	if (!t || pthread_create(&th, NULL, kick_thread, &k)) {
		free(t);
		vm_close(&vm);
		cvm_err("calibrate", "cannot start the vCPU thread");
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < n && !r; i++) {
		sem_post(&k.go);
		while (!atomic_load(&k.in_run))
			sched_yield();
		/* let the thread get into the guest (or into its halt) before the kick */
		struct timespec ts = {0, 300000};
		nanosleep(&ts, NULL);
		uint64_t t0 = now_ns();
		pthread_kill(th, SIG_KICK);
		struct timespec limit;
		clock_gettime(CLOCK_REALTIME, &limit);
		limit.tv_sec += 10;
		int w;
		while ((w = sem_timedwait(&k.done, &limit)) && errno == EINTR)
			;
		if (w) {
			r = -ETIMEDOUT;
			cvm_err("calibrate", "kick %u: the vCPU thread did not return in 10s", i);
		} else if (k.err) {
			r = -k.err;
			cvm_err("calibrate", "kick %u: KVM_RUN did not stop with EINTR: %s", i,
			        strerror(k.err));
		} else {
			t[i] = k.t_return - t0;
		}
	}
	if (r) {
		/* a thread stuck in KVM_RUN: keep kicking until it notices the stop */
		atomic_store(&k.stop, 1);
		for (int tries = 0; tries < 100 && atomic_load(&k.in_run); tries++) {
			pthread_kill(th, SIG_KICK);
			struct timespec ts = {0, 10000000};
			nanosleep(&ts, NULL);
		}
	}
	atomic_store(&k.stop, 1);
	sem_post(&k.go);
	pthread_join(th, NULL);
	sem_destroy(&k.go);
	sem_destroy(&k.done);
	if (!r)
		*out = median(t, n);
	free(t);
	vm_close(&vm);
	return r;
}

int cvm_calibrate_raw(int kvm, unsigned int samples, struct cvm_calib_raw *out)
{
	static const uint8_t spin[] = {0xeb, 0xfe};             /* jmp $ */
	static const uint8_t halt[] = {0xfa, 0xf4, 0xeb, 0xfc}; /* cli; hlt; jmp back */
	struct sigaction sa = {.sa_handler = on_kick};
	int r;

	sigemptyset(&sa.sa_mask);
	sigaction(SIG_KICK, &sa, NULL);
	r = measure_roundtrip(kvm, samples * 20, &out->exit_rt);
	if (!r)
		r = measure_kick(kvm, spin, sizeof(spin), false, samples, &out->kick);
	if (!r)
		r = measure_kick(kvm, halt, sizeof(halt), true, samples, &out->wake);
	return r;
}
