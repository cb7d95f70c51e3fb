/* Where vCPU threads and corevm's other threads may run: pure placement decisions, re-placement, validation and explanation. */
#ifndef COREVM_HOST_PLACEMENT_H
#define COREVM_HOST_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bitmap.h"
#include "host/topology.h"

/*
 * Everything here is pure: topology and policy in, assignment and explanation
 * out; no syscalls, clocks or allocation. The KVM backend (through
 * host/place_ctl.h), `corevm host` and the simulator call the same functions.
 * See docs/placement.md for the policies and the explanation format.
 */

#define CVM_MAX_VCPUS 1024u

/* A one-line reason for a refusal: "smt-protect needs 4 whole cores in host CPUs 0-7, found 3: ..." */
#define CVM_PLACE_ERR_LEN 512

enum cvm_place_policy {
	CVM_PLACE_NONE, /* vCPU threads float over the usable CPUs */
	CVM_PLACE_PIN,  /* one vCPU per CPU; SMT siblings shared only when no free core is left */
	CVM_PLACE_SMT_PROTECT, /* one vCPU per whole core, the other threads reserved, per-vCPU cookies */
	CVM_PLACE_CORE_SCHED, /* float as with none, plus core-scheduling cookies per VM or per vCPU */
};

enum cvm_cookie_scope {
	CVM_COOKIE_OFF,  /* no core-scheduling cookies */
	CVM_COOKIE_VM,   /* all vCPU threads of the VM share one cookie */
	CVM_COOKIE_VCPU, /* each vCPU thread has a cookie of its own */
};

/* What a re-placement does when the policy can no longer be met (never at start: that is an error). */
enum cvm_place_fallback {
	CVM_FALLBACK_FAIL, /* the VM fails with a message naming what is missing */
	CVM_FALLBACK_PIN,  /* smt-protect degrades to pin */
	CVM_FALLBACK_NONE, /* degrade to floating over the usable CPUs */
};

/* What the operator asked for. Plain data; cvm_place_request_init() gives the defaults. */
struct cvm_place_request {
	enum cvm_place_policy policy;
	enum cvm_cookie_scope cookies; /* core-sched: VM or VCPU; smt-protect: VCPU; else OFF */
	enum cvm_place_fallback fallback;
	unsigned int nr_vcpus; /* 1..CVM_MAX_VCPUS */
	bool strict;           /* refuse instead of warning when cookies are unavailable */
	/* --host-cpus: the CPUs corevm may use. Not given: online CPUs that are not isolated. */
	bool host_cpus_given;
	CVM_BITMAP(host_cpus, CVM_MAX_HOST_CPUS);
	/* The CPUs this process may run on (sched_getaffinity at start). Not given: no limit. */
	bool affinity_given;
	CVM_BITMAP(affinity, CVM_MAX_HOST_CPUS);
	/*
	 * Whether the kernel has core scheduling: 0 yes, else the -errno its probe
	 * gave (-EINVAL: built without CONFIG_SCHED_CORE; -ENODEV: no SMT).
	 */
	int cookie_support;
};

/* Policy `policy` for `nr_vcpus` vCPUs: cookies as the policy implies, fallback none, not strict. */
void cvm_place_request_init(struct cvm_place_request *rq, enum cvm_place_policy policy,
                            unsigned int nr_vcpus);

/*
 * The host as placement sees it at one moment. The sets may be NULL (empty).
 * A CPU is usable when it is online, allowed (host CPUs, affinity) and in none of
 * these sets.
 */
struct cvm_place_host {
	const struct cvm_host_topology *topo;
	const uint64_t *quarantined; /* failed a probe or a guest entry: never used */
	const uint64_t *pending;     /* came online, not admitted (probe running or no verdict) */
	const uint64_t *taken;       /* owned by other placements (other VMs on a simulated host) */
};

/* Why a vCPU is where it is. */
enum cvm_place_why {
	CVM_WHY_FLOAT,       /* floats over the placement's `floating` set */
	CVM_WHY_FREE_CORE,   /* pin: the only vCPU on its core */
	CVM_WHY_SHARED_CORE, /* pin: shares its core with vCPU `peer`, no free core was left */
	CVM_WHY_WHOLE_CORE,  /* smt-protect: owns the core, its other threads reserved */
};

struct cvm_vcpu_place {
	int32_t cpu;        /* the host CPU the thread is pinned to; -1: floats over `floating` */
	int32_t core;       /* topology core index of `cpu`; -1 when floating */
	int32_t peer;       /* CVM_WHY_SHARED_CORE: the vCPU it shares the core with; else -1 */
	int32_t moved_from; /* set by cvm_replace(): the CPU it left (-1: it floated) */
	uint32_t cookie;    /* cookie group: 0 none; equal non-zero groups share one cookie */
	uint8_t why;        /* enum cvm_place_why */
	bool moved;         /* set by cvm_replace(): its CPU set changed */
};

/* A decision. Plain data (about 30 KiB); the caller owns it. */
struct cvm_placement {
	enum cvm_place_policy requested, effective; /* effective differs only when degraded */
	bool degraded;                              /* a fallback is in force */
	enum cvm_cookie_scope cookies;              /* the scope asked for */
	bool cookies_active;                        /* scope != OFF and the kernel supports it */
	unsigned int nr_vcpus;
	unsigned int nr_moved;    /* vCPUs whose CPU set cvm_replace() changed */
	bool housekeeping_shared; /* no free CPU: other threads share the vCPUs' CPUs */
	CVM_BITMAP(allowed, CVM_MAX_HOST_CPUS); /* host CPUs (given or default) within affinity */
	CVM_BITMAP(usable, CVM_MAX_HOST_CPUS);  /* allowed, online, not quarantined/pending/taken */
	CVM_BITMAP(floating,
	           CVM_MAX_HOST_CPUS); /* where floating vCPUs run (= usable), else empty */
	CVM_BITMAP(vcpu_cpus, CVM_MAX_HOST_CPUS);    /* CPUs of pinned vCPUs */
	CVM_BITMAP(reserved, CVM_MAX_HOST_CPUS);     /* smt-protect: threads kept free of corevm */
	CVM_BITMAP(housekeeping, CVM_MAX_HOST_CPUS); /* where corevm's non-vCPU threads run */
	char degraded_why[CVM_PLACE_ERR_LEN];        /* why the fallback is in force */
	struct cvm_vcpu_place vcpu[CVM_MAX_VCPUS];
};

/*
 * Decides where `rq->nr_vcpus` vCPUs run on host `h`. Returns 0 with `out` filled,
 * or -EINVAL (a request that makes no sense, e.g. no vCPUs), -ENOSPC (not enough
 * usable CPUs or whole cores), -EOPNOTSUPP (strict and the kernel lacks core
 * scheduling); `err` then holds the one-line reason naming what is missing.
 */
int cvm_place(const struct cvm_place_host *h, const struct cvm_place_request *rq,
              struct cvm_placement *out, char *err, size_t errlen);

/*
 * Re-places after the host changed (a CPU offline, online, quarantined): keeps
 * every vCPU whose CPU is still valid, moves as few as possible, and moves more
 * only where the policy requires it (pin: a vCPU sharing a core while a free core
 * exists; a degraded placement whose policy can be met again). When the policy
 * cannot be met, applies rq->fallback: `next` is degraded with degraded_why set.
 * `cur` and `next` must not alias. Returns 0, or -ENOSPC with `err` set when
 * neither the policy nor the fallback can be met (or the fallback is fail).
 */
int cvm_replace(const struct cvm_place_host *h, const struct cvm_place_request *rq,
                const struct cvm_placement *cur, struct cvm_placement *next, char *err,
                size_t errlen);

/*
 * Checks that `p` is a valid placement of `rq` on `h` (tests call it after every
 * event): pinned vCPUs on distinct usable CPUs; pin shares a core only when no
 * core is free; smt-protect cores whole and their other threads reserved;
 * floating set = usable; housekeeping usable and clear of reserved threads.
 * Returns 0 or -EINVAL with `err` naming the first violation.
 */
int cvm_placement_validate(const struct cvm_place_host *h, const struct cvm_place_request *rq,
                           const struct cvm_placement *p, char *err, size_t errlen);

/* The CPU set vCPU `vcpu`'s thread must have (CVM_MAX_HOST_CPUS bits). */
void cvm_placement_vcpu_mask(const struct cvm_placement *p, unsigned int vcpu, uint64_t *mask);

/* Receives one line of text, without a newline. */
typedef void cvm_line_fn(void *ctx, const char *line);

/*
 * Explains `p` line by line (the --placement-explain text, format in
 * docs/placement.md): the policy, the CPUs considered and why others were left
 * out, each vCPU's CPU and why, housekeeping, reserved threads, cookies.
 */
void cvm_placement_explain(const struct cvm_place_host *h, const struct cvm_place_request *rq,
                           const struct cvm_placement *p, cvm_line_fn *line, void *ctx);

/* Names and parsers for the command-line words. Parsers return 0 or -EINVAL. */
const char *cvm_place_policy_name(enum cvm_place_policy p);
const char *cvm_cookie_scope_name(enum cvm_cookie_scope s);
const char *cvm_place_fallback_name(enum cvm_place_fallback f);
const char *cvm_place_why_name(enum cvm_place_why w);
/* "none", "pin", "smt-protect", "core-sched", "core-sched=vm", "core-sched=vcpu". */
int cvm_place_parse_policy(const char *s, enum cvm_place_policy *policy,
                           enum cvm_cookie_scope *cookies);
/* "fail", "pin", "none". */
int cvm_place_parse_fallback(const char *s, enum cvm_place_fallback *f);

/* Why core scheduling is unavailable, for a given -errno of its probe ("" for 0). */
const char *cvm_cookie_unsupported_why(int err);

#endif
