/* The runtime placement controller the KVM backend calls: thread-safe glue between placement, hotplug, probes, cookies and vCPU threads. */
#ifndef COREVM_HOST_PLACE_CTL_H
#define COREVM_HOST_PLACE_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "host/cpu_probe.h"
#include "host/hotplug.h"
#include "host/placement.h"
#include "host/placer.h"
#include "host/sched_core.h"
#include "host/topology.h"

struct json_object;

/* The threads the controller starts (struct cvm_place_ctl_vmm.thread_init). */
enum cvm_place_thread {
	CVM_PLACE_THREAD_UEVENT, /* the CPU hotplug uevent listener */
	CVM_PLACE_THREAD_PROBE,  /* the KVM probe worker */
};

/*
 * How the backend uses it (see docs/placement.md, "Integration"):
 *
 *   main:          cvm_place_ctl_create(&cfg, &ctl)       reads sysfs, decides; fails
 *                                                          with one line if it cannot
 *                  cvm_place_ctl_explain(ctl, ...)        with --placement-explain
 *                  cvm_place_ctl_start(ctl, &vmm)         hotplug listener, prober
 *                  cvm_place_ctl_housekeeping_apply(ctl)  in each non-vCPU thread
 *   vCPU thread i: cvm_place_ctl_vcpu_apply(ctl, i)       first thing, on itself
 *                  on a mailbox request "reaffine":        cvm_place_ctl_vcpu_apply(ctl, i)
 *                  KVM_RUN failed on the host CPU:         r = cvm_place_ctl_entry_failure(...)
 *                                                          r == 0: run again; r < 0: stop the VM
 *   --stats:       cvm_place_ctl_stats(ctl)               a JSON object to attach
 *   shutdown:      cvm_place_ctl_destroy(ctl)             after the vCPU threads are joined
 *
 * The vmm callbacks run on the listener or prober thread, or inside
 * cvm_place_ctl_entry_failure(), with no controller lock held; they must not
 * block (post to the mailbox and kick).
 */
struct cvm_place_ctl_vmm {
	/* Ask vCPU `vcpu`'s thread to call cvm_place_ctl_vcpu_apply() (mailbox + kick). */
	void (*reaffine_vcpu)(void *opaque, unsigned int vcpu);
	/* Ask the non-vCPU threads to call cvm_place_ctl_housekeeping_apply(). May be NULL. */
	void (*reaffine_housekeeping)(void *opaque);
	/* Placement can no longer run the VM (`why`: one line): stop it. */
	void (*vm_failed)(void *opaque, const char *why);
	void *opaque;
	/*
	 * Called first thing on each thread the controller starts, once that thread
	 * has what it needs (the probe worker its /dev/kvm descriptor) and before it
	 * handles any event: e.g. to install the thread's seccomp filter. Non-zero:
	 * the thread does no work (the callback has reported why). May be NULL.
	 * cvm_place_ctl_start() returns only after every thread it started has
	 * returned from this callback.
	 */
	int (*thread_init)(void *opaque, enum cvm_place_thread which);
};

/* CPU-set syscalls on the calling thread; tests substitute fakes. Return 0 or -errno. */
struct cvm_affinity_ops {
	int (*set)(void *ctx, const uint64_t *mask); /* CVM_MAX_HOST_CPUS bits */
	int (*get)(void *ctx, uint64_t *mask);
	int (*getcpu)(void *ctx); /* the CPU the caller runs on, or -errno */
	pid_t (*gettid)(void *ctx);
	void *ctx;
};
extern const struct cvm_affinity_ops cvm_affinity_sys;

struct cvm_place_ctl_config {
	const char *sysfs_root;          /* NULL: "/sys" */
	struct cvm_place_request req;    /* policy, vCPUs, host CPUs, fallback, strict */
	unsigned int max_entry_failures; /* guest-entry failures survived (--placement-retries) */
	bool hotplug;                    /* listen to CPU hotplug uevents */
	/* Injection points for tests and the simulator; NULL means the real thing. */
	const struct cvm_host_topology *topo;        /* instead of reading sysfs_root */
	const struct cvm_sched_core_ops *sched_core; /* prctl(PR_SCHED_CORE) */
	const struct cvm_affinity_ops *affinity;     /* sched_{set,get}affinity */
	struct cvm_prober *prober;                   /* the KVM prober; caller keeps ownership */
	const struct cvm_uevent_source *uevents;     /* NETLINK_KOBJECT_UEVENT */
};

struct cvm_place_ctl;

/*
 * Reads the topology, finds out whether the kernel has core scheduling (one line
 * when a policy wants cookies and it has not; an error with req.strict), takes
 * the process's CPU set as the affinity limit unless req.affinity_given, and
 * makes the initial placement. Reports failures as one line and returns -errno.
 */
int cvm_place_ctl_create(const struct cvm_place_ctl_config *cfg, struct cvm_place_ctl **out);

/* Writes the --placement-explain text of the placement in force, line by line. */
void cvm_place_ctl_explain(struct cvm_place_ctl *ctl, cvm_line_fn *line, void *ctx);

/*
 * Starts the prober and, with cfg.hotplug, the uevent listener thread. Without
 * netlink (e.g. in a container) it says so in one line and continues, or fails
 * with req.strict. Returns 0 or -errno.
 */
int cvm_place_ctl_start(struct cvm_place_ctl *ctl, const struct cvm_place_ctl_vmm *vmm);

/*
 * Called by vCPU thread `vcpu` on itself: the first time it records the thread
 * and joins its core-scheduling cookie; every time it sets the thread's CPU set
 * to the placement's and reads it back (sched_getaffinity) to verify. Returns 0,
 * or -errno with one line (-EIO: the kernel reports another CPU set).
 */
int cvm_place_ctl_vcpu_apply(struct cvm_place_ctl *ctl, unsigned int vcpu);

/* Called by a non-vCPU corevm thread on itself: sets and verifies the housekeeping CPU set. */
int cvm_place_ctl_housekeeping_apply(struct cvm_place_ctl *ctl);

/*
 * Called by vCPU thread `vcpu` when KVM_RUN failed in a way the host CPU causes
 * (see cvm_kvm_entry_failed_on_host()); `cpu` is sched_getcpu() right after
 * KVM_RUN returned, `what` a short description ("KVM_EXIT_FAIL_ENTRY reason 0x7").
 * Quarantines the CPU, re-places (other vCPUs get reaffine requests), re-applies
 * the calling thread's CPU set, and returns 0: run again. Returns -EIO with one
 * line once the bounded number of failures is exceeded or no valid placement is
 * left: stop the VM (the vm_failed callback has been called too).
 */
int cvm_place_ctl_entry_failure(struct cvm_place_ctl *ctl, unsigned int vcpu, int cpu,
                                const char *what);

/* The CPU the calling thread runs on (the CPU-set ops' getcpu: sched_getcpu), or -1. */
int cvm_place_ctl_current_cpu(const struct cvm_place_ctl *ctl);

/*
 * Whether a KVM_RUN outcome is one to treat as a host-CPU entry failure:
 * KVM_RUN returned -1 with errno EIO, or it returned 0 with exit reason
 * KVM_EXIT_FAIL_ENTRY. `run_errno` is 0 when KVM_RUN succeeded.
 */
bool cvm_kvm_entry_failed_on_host(int run_errno, uint32_t exit_reason);

/* Feeds one CPU event (what the uevent listener does; tests may call it directly). */
void cvm_place_ctl_cpu_event(struct cvm_place_ctl *ctl, const struct cvm_cpu_uevent *ev);

/* Re-reads the online CPUs from sysfs and feeds the differences as events (after lost uevents). */
void cvm_place_ctl_resync(struct cvm_place_ctl *ctl);

/* The prober's completion (cvm_prober.done); any thread. */
void cvm_place_ctl_probe_done(void *ctl, unsigned int cpu, uint64_t token,
                              const struct cvm_probe_report *rep);

/* Events logged so far; waits up to `timeout_ms` until at least `seq` (for tests). */
uint64_t cvm_place_ctl_seq(struct cvm_place_ctl *ctl);
int cvm_place_ctl_wait_seq(struct cvm_place_ctl *ctl, uint64_t seq, int timeout_ms);

/*
 * Copies the placement in force and the host view it was made against (for
 * tests: validate after every event). `topo` and `quarantined` may be NULL.
 */
void cvm_place_ctl_snapshot(struct cvm_place_ctl *ctl, struct cvm_placement *p,
                            struct cvm_host_topology *topo, uint64_t *quarantined,
                            uint64_t *pending);

/* Whether --placement-strict was given (a CPU set that cannot be applied then stops the VM). */
bool cvm_place_ctl_strict(const struct cvm_place_ctl *ctl);

/* Whether the placement has failed (the VM must stop); `why` (may be NULL) gets the line. */
bool cvm_place_ctl_failed(struct cvm_place_ctl *ctl, char *why, size_t len);

/*
 * The --stats "placement" object: request, current placement, per-vCPU thread
 * records (tid, CPU set applied and verified, cookie), every logged event with
 * its cause and moves, quarantine, hotplug counters. New reference; NULL on
 * allocation failure.
 */
struct json_object *cvm_place_ctl_stats(struct cvm_place_ctl *ctl);

/* Stops the listener and the prober and frees everything. NULL is fine. */
void cvm_place_ctl_destroy(struct cvm_place_ctl *ctl);

#endif
