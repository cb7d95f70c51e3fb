/* The KVM probe of a host CPU: a throwaway VM whose one vCPU runs a single OUT on that CPU, and a worker thread that runs probes on request. */
#include "host/cpu_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"

#define PROBE_PORT 0x80 /* the POST-code port: harmless, nothing listens in a throwaway VM */

/* The guest: real mode at 0: out PROBE_PORT, al; hlt. */
static const uint8_t probe_code[] = {0xe6, PROBE_PORT, 0xf4};

struct probe_vm {
	int kvm, vm, vcpu;
	void *mem;
	struct kvm_run *run;
	size_t run_size;
};

static void probe_vm_close(struct probe_vm *p)
{
	if (p->run)
		munmap(p->run, p->run_size);
	if (p->mem)
		munmap(p->mem, 4096);
	if (p->vcpu >= 0)
		close(p->vcpu);
	if (p->vm >= 0)
		close(p->vm);
}

/* Opens /dev/kvm for probes: the descriptor or -errno (-ENODEV: none). */
static int open_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	return fd >= 0 ? fd : errno == ENOENT ? -ENODEV : -errno;
}

/*
 * Creates the VM (on `p->kvm`, which the caller owns) and its vCPU, ready to run
 * the probe code. Returns 0 or -errno with `what` set.
 */
static int probe_vm_open(struct probe_vm *p, const char **what)
{
	*what = "KVM_CREATE_VM";
	p->vm = ioctl(p->kvm, KVM_CREATE_VM, 0);
	if (p->vm < 0)
		return -errno;
	*what = "guest memory";
	p->mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->mem == MAP_FAILED) {
		p->mem = NULL;
		return -errno;
	}
	memcpy(p->mem, probe_code, sizeof(probe_code));
	struct kvm_userspace_memory_region region = {
	        .slot = 0,
	        .guest_phys_addr = 0,
	        .memory_size = 4096,
	        .userspace_addr = (uint64_t)(uintptr_t)p->mem,
	};
	*what = "KVM_SET_USER_MEMORY_REGION";
	if (ioctl(p->vm, KVM_SET_USER_MEMORY_REGION, &region))
		return -errno;
	*what = "KVM_CREATE_VCPU";
	p->vcpu = ioctl(p->vm, KVM_CREATE_VCPU, 0);
	if (p->vcpu < 0)
		return -errno;
	*what = "KVM_GET_VCPU_MMAP_SIZE";
	int size = ioctl(p->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size <= 0)
		return size < 0 ? -errno : -EINVAL;
	p->run_size = (size_t)size;
	p->run = mmap(NULL, p->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->vcpu, 0);
	if (p->run == MAP_FAILED) {
		p->run = NULL;
		return -errno;
	}
	struct kvm_sregs sregs;
	*what = "KVM_GET_SREGS";
	if (ioctl(p->vcpu, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	*what = "KVM_SET_SREGS";
	if (ioctl(p->vcpu, KVM_SET_SREGS, &sregs))
		return -errno;
	struct kvm_regs regs = {.rip = 0, .rflags = 2};
	*what = "KVM_SET_REGS";
	if (ioctl(p->vcpu, KVM_SET_REGS, &regs))
		return -errno;
	return 0;
}

/* Enters the guest once on `cpu` (the thread is pinned there) and judges the exit. */
static void probe_run(struct probe_vm *p, unsigned int cpu, struct cvm_probe_report *rep)
{
	int r = -1;
	for (int tries = 0; tries < 8; tries++) {
		r = ioctl(p->vcpu, KVM_RUN, 0);
		if (r == 0 || (errno != EINTR && errno != EAGAIN))
			break;
	}
	int now = sched_getcpu();
	if (now != (int)cpu) {
		rep->result = CVM_PROBE_VOID;
		snprintf(rep->detail, sizeof(rep->detail), "the probe left cpu %u (now on %d)", cpu,
		         now);
		return;
	}
	if (r != 0) {
		rep->result = CVM_PROBE_FAIL;
		snprintf(rep->detail, sizeof(rep->detail), "KVM_RUN: %s", strerror(errno));
		return;
	}
	const struct kvm_run *run = p->run;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == PROBE_PORT &&
		    run->io.size == 1) {
			rep->result = CVM_PROBE_PASS;
			snprintf(rep->detail, sizeof(rep->detail), "KVM_EXIT_IO port 0x%x",
			         PROBE_PORT);
			return;
		}
		rep->result = CVM_PROBE_FAIL;
		snprintf(rep->detail, sizeof(rep->detail), "KVM_EXIT_IO on port 0x%x, not 0x%x",
		         run->io.port, PROBE_PORT);
		return;
	case KVM_EXIT_FAIL_ENTRY:
		rep->result = CVM_PROBE_FAIL;
		snprintf(rep->detail, sizeof(rep->detail), "KVM_EXIT_FAIL_ENTRY reason 0x%llx",
		         (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return;
	case KVM_EXIT_INTERNAL_ERROR:
		rep->result = CVM_PROBE_FAIL;
		snprintf(rep->detail, sizeof(rep->detail), "KVM_EXIT_INTERNAL_ERROR suberror %u",
		         run->internal.suberror);
		return;
	default:
		rep->result = CVM_PROBE_FAIL;
		snprintf(rep->detail, sizeof(rep->detail), "unexpected exit reason %u",
		         run->exit_reason);
		return;
	}
}

int __cvm_cpu_probe_kvm(unsigned int cpu, struct cvm_probe_report *rep)
{
	int fd = open_kvm();
	if (fd < 0) {
		memset(rep, 0, sizeof(*rep));
		snprintf(rep->detail, sizeof(rep->detail), "open /dev/kvm: %s", strerror(-fd));
		return fd;
	}
	int r = __cvm_cpu_probe_kvm_fd(fd, cpu, rep);
	close(fd);
	return r;
}

int __cvm_cpu_probe_kvm_fd(int kvm_fd, unsigned int cpu, struct cvm_probe_report *rep)
{
	struct probe_vm p = {.kvm = kvm_fd, .vm = -1, .vcpu = -1};
	cpu_set_t old, one;
	const char *what;

	memset(rep, 0, sizeof(*rep));
	if (cpu >= CPU_SETSIZE)
		return -ERANGE;
	if (sched_getaffinity(0, sizeof(old), &old))
		return -errno;
	int r = probe_vm_open(&p, &what);
	if (r) {
		snprintf(rep->detail, sizeof(rep->detail), "%s: %s", what, strerror(-r));
		probe_vm_close(&p);
		return r;
	}
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one)) {
		rep->result = CVM_PROBE_VOID;
		snprintf(rep->detail, sizeof(rep->detail), "this thread may not run on cpu %u (%s)",
		         cpu, strerror(errno));
	} else if (sched_getcpu() != (int)cpu) {
		rep->result = CVM_PROBE_VOID;
		snprintf(rep->detail, sizeof(rep->detail), "could not move to cpu %u", cpu);
	} else {
		probe_run(&p, cpu, rep);
	}
	sched_setaffinity(0, sizeof(old), &old);
	probe_vm_close(&p);
	return 0;
}

/* ---- the worker that runs probes on request ---- */

struct kvm_prober {
	pthread_t thread;
	sem_t init_done; /* posted by the worker once thread_init has returned */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	unsigned int head, len;
	struct {
		unsigned int cpu;
		uint64_t token;
	} queue[CVM_MAX_HOST_CPUS];
};

static void *prober_main(void *arg)
{
	struct cvm_prober *p = arg;
	struct kvm_prober *k = p->priv;
	/* /dev/kvm once for all probes, before thread_init (e.g. a seccomp filter without open). */
	int kvm_fd = open_kvm();
	int refuse = p->thread_init ? p->thread_init(p->thread_ctx) : 0;
	sem_post(&k->init_done);
	pthread_mutex_lock(&k->lock);
	for (;;) {
		while (!k->stop && k->len == 0)
			pthread_cond_wait(&k->cond, &k->lock);
		if (k->stop)
			break;
		unsigned int cpu = k->queue[k->head].cpu;
		uint64_t token = k->queue[k->head].token;
		k->head = (k->head + 1) % CVM_MAX_HOST_CPUS;
		k->len--;
		pthread_mutex_unlock(&k->lock);
		struct cvm_probe_report rep = {.result = CVM_PROBE_VOID};
		int r = refuse ? -EPERM : kvm_fd;
		if (r >= 0)
			r = __cvm_cpu_probe_kvm_fd(kvm_fd, cpu, &rep);
		if (r) {
			rep.result = CVM_PROBE_VOID;
			if (!rep.detail[0])
				snprintf(rep.detail, sizeof(rep.detail), "%s%s",
				         kvm_fd < 0 ? "open /dev/kvm: " : "", strerror(-r));
		}
		p->done(p->done_ctx, cpu, token, &rep);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	if (kvm_fd >= 0)
		close(kvm_fd);
	return NULL;
}

static int prober_start(struct cvm_prober *p, unsigned int cpu, uint64_t token)
{
	struct kvm_prober *k = p->priv;
	pthread_mutex_lock(&k->lock);
	if (k->len == CVM_MAX_HOST_CPUS) {
		pthread_mutex_unlock(&k->lock);
		return -EBUSY;
	}
	unsigned int tail = (k->head + k->len) % CVM_MAX_HOST_CPUS;
	k->queue[tail].cpu = cpu;
	k->queue[tail].token = token;
	k->len++;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static void prober_stop(struct cvm_prober *p)
{
	struct kvm_prober *k = p->priv;
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->stop = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->cond);
	free(k);
	p->priv = NULL;
}

int cvm_prober_kvm_init(struct cvm_prober *p)
{
	struct kvm_prober *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	sem_init(&k->init_done, 0, 0);
	p->priv = k;
	p->start = prober_start;
	p->stop = prober_stop;
	int r = pthread_create(&k->thread, NULL, prober_main, p);
	if (r) {
		sem_destroy(&k->init_done);
		pthread_mutex_destroy(&k->lock);
		pthread_cond_destroy(&k->cond);
		free(k);
		p->priv = NULL;
		return -r;
	}
	/* Return once the worker is set up (p->thread_init done): its filter is in place. */
	while (sem_wait(&k->init_done) < 0 && errno == EINTR)
		;
	sem_destroy(&k->init_done);
	return 0;
}
