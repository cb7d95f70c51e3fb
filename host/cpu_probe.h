/* Probing a host CPU before vCPUs may use it: enter a throwaway guest there once (real KVM probe, or injected fakes). */
#ifndef COREVM_HOST_CPU_PROBE_H
#define COREVM_HOST_CPU_PROBE_H

#include <stdint.h>

#include "host/placer.h"

/* What one probe found. */
struct cvm_probe_report {
	enum cvm_probe_result result;
	char detail[160]; /* "KVM_EXIT_IO port 0x80", "KVM_EXIT_FAIL_ENTRY reason 0x7", ... */
};

/*
 * Runs the KVM probe of `cpu` on the calling thread: creates a VM with one page
 * of memory and one vCPU whose real-mode code is `out 0x80, al`, pins the thread
 * to `cpu`, runs KVM_RUN once and expects that port-I/O exit; restores the
 * thread's CPU set afterwards. PASS when it exits as expected on `cpu`; FAIL when
 * the entry fails in a way the CPU causes (KVM_EXIT_FAIL_ENTRY, KVM_RUN error
 * such as EIO, an unexpected exit); VOID when there is no verdict (the thread
 * may not run on `cpu`, or left it during the run). Returns 0 with `rep` filled,
 * or -errno when no probe could be made at all (-ENODEV: no /dev/kvm). Only ever
 * call it for CPUs that are online; it never changes any CPU's online state.
 */
int __cvm_cpu_probe_kvm(unsigned int cpu, struct cvm_probe_report *rep);

/* The same on an open /dev/kvm descriptor (the worker opens it once; seccomp then needs no open). */
int __cvm_cpu_probe_kvm_fd(int kvm_fd, unsigned int cpu, struct cvm_probe_report *rep);

/*
 * An asynchronous prober as host/place_ctl.c uses it: start() asks for a probe
 * of `cpu`; later, on any thread, the prober calls done(done_ctx, cpu, token,
 * report). stop() ends it (outstanding probes are abandoned, no more done calls
 * after it returns). Tests provide fakes that complete when the test says so.
 */
struct cvm_prober {
	int (*start)(struct cvm_prober *p, unsigned int cpu, uint64_t token);
	void (*stop)(struct cvm_prober *p);
	void (*done)(void *done_ctx, unsigned int cpu, uint64_t token,
	             const struct cvm_probe_report *rep);
	void *done_ctx;
	/*
	 * Called first on the KVM prober's worker thread once it has opened /dev/kvm
	 * (set before cvm_prober_kvm_init); non-zero: the worker runs no probe (each
	 * request is answered VOID). May be NULL.
	 */
	int (*thread_init)(void *ctx);
	void *thread_ctx;
	void *priv;
};

/*
 * The real prober: one worker thread that opens /dev/kvm once, calls
 * p->thread_init, and runs __cvm_cpu_probe_kvm_fd() for each request in turn;
 * cvm_prober_kvm_init() returns once the worker has called p->thread_init. `done`/`done_ctx` are set by the caller before start().
 * Returns 0 or -errno (thread creation). Free with p->stop(p).
 */
int cvm_prober_kvm_init(struct cvm_prober *p);

#endif
