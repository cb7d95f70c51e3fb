/* The runtime placement state machine: CPU hotplug, probe results and guest-entry failures in; re-placements, probes and an event log out. Pure. */
#ifndef COREVM_HOST_PLACER_H
#define COREVM_HOST_PLACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bitmap.h"
#include "host/placement.h"
#include "host/topology.h"

/*
 * A placer owns one VM's placement over time. It keeps the quarantine (CPUs that
 * failed a probe or a guest entry: never used again for the life of the placer),
 * the CPUs whose probe is in flight, and a log of every placement with its cause.
 * No syscalls and no clock: callers pass the time (ns, any origin) with each
 * event, and carry out the actions returned. Not thread-safe: host/place_ctl.c
 * serializes calls with a mutex; the simulator calls it from its one thread.
 *
 * CPU life cycle as the placer sees it:
 *
 *   offline --online event--> pending --probe PASS--> usable
 *      ^                        |  |                    |
 *      +------offline event-----+  +--probe FAIL--> quarantined (forever)
 *      +------------------------------offline event-----+
 *   usable --guest entry failure--> quarantined
 *
 * A probe result carries the token its request got; a result whose token is not
 * the CPU's current one (the CPU went offline and came back meanwhile) is stale
 * and ignored.
 */

enum cvm_place_cause {
	CVM_CAUSE_START,         /* the initial placement */
	CVM_CAUSE_CPU_OFFLINE,   /* a CPU went offline */
	CVM_CAUSE_CPU_ONLINE,    /* a CPU came online and passed its probe */
	CVM_CAUSE_PROBE_FAILED,  /* a CPU came online and failed its probe: quarantined */
	CVM_CAUSE_ENTRY_FAILURE, /* a guest entry failed on a CPU: quarantined */
	CVM_CAUSE_QUARANTINE,    /* a CPU was quarantined by request */
	CVM_CAUSE_CPU_REMOVED,   /* a CPU was removed (hot-unplug) */
};

enum cvm_probe_result {
	CVM_PROBE_PASS, /* the throwaway vCPU entered the guest on that CPU and exited as expected */
	CVM_PROBE_FAIL, /* entering the guest failed there: quarantine */
	CVM_PROBE_VOID, /* no verdict (the CPU went away, or this process may not run there) */
};

const char *cvm_place_cause_name(enum cvm_place_cause c);
const char *cvm_probe_result_name(enum cvm_probe_result r);

/* One vCPU move: CPU -1 means "floating". */
struct cvm_place_move {
	uint32_t vcpu;
	int32_t from, to;
};

#define CVM_PLACE_EVENT_MOVES 16  /* moves listed per event (nr_moved counts them all) */
#define CVM_PLACE_NOTE_LEN    256 /* one-line note per event */
#define CVM_PLACER_LOG        256 /* events kept: the first one and the latest ones */

struct cvm_place_event {
	uint64_t seq;     /* 1, 2, ... */
	uint64_t time_ns; /* as the caller gave it */
	uint8_t cause;    /* enum cvm_place_cause */
	int32_t cpu;      /* the host CPU concerned, -1 for START */
	int32_t vcpu;     /* ENTRY_FAILURE: the vCPU that failed, else -1 */
	uint8_t policy;   /* the effective policy after the event */
	bool degraded;
	bool vm_failed; /* the placement could not continue: the VM must stop */
	uint32_t nr_moved;
	struct cvm_place_move moves[CVM_PLACE_EVENT_MOVES];
	char note[CVM_PLACE_NOTE_LEN];
};

/* What the caller must do after an event. */
struct cvm_placer_actions {
	CVM_BITMAP(reaffine, CVM_MAX_VCPUS); /* vCPU threads that must re-apply their CPU set */
	bool housekeeping;                   /* the non-vCPU threads must re-apply theirs */
	int32_t probe_cpu;                   /* >= 0: start a probe of this CPU ... */
	uint64_t probe_token;                /* ... and report its result with this token */
	bool vm_failed;                      /* stop the VM; cvm_placer.fail_msg says why */
	bool logged;                         /* an event was appended to the log */
};

struct cvm_placer {
	struct cvm_host_topology *topo; /* caller-owned; the placer flips online bits */
	struct cvm_place_request req;
	struct cvm_placement cur;     /* the placement in force */
	struct cvm_placement scratch; /* work space of cvm_replace() */
	CVM_BITMAP(quarantined, CVM_MAX_HOST_CPUS);
	CVM_BITMAP(pending, CVM_MAX_HOST_CPUS);
	uint64_t probe_token[CVM_MAX_HOST_CPUS]; /* current token of each pending CPU */
	uint8_t quarantine_cause[CVM_MAX_HOST_CPUS];
	uint64_t next_token;
	unsigned int entry_failures;     /* guest-entry failures so far */
	unsigned int max_entry_failures; /* the VM fails at the next one beyond this */
	bool failed;
	char fail_msg[CVM_PLACE_ERR_LEN];
	uint64_t seq;
	uint64_t ignored;             /* duplicate or stale events and probe results */
	struct cvm_place_event first; /* the START event */
	struct cvm_place_event log[CVM_PLACER_LOG]; /* ring of the latest events after it */
	unsigned int log_head, log_len;             /* oldest entry, number of entries */
	uint64_t log_dropped;                       /* events that fell out of the ring */
};

/*
 * Makes the initial placement of `rq` on `topo` (time `now_ns`) and logs it as
 * START. `max_entry_failures` bounds the guest-entry failures the VM survives.
 * The placer is large (about 200 KiB): allocate it. Returns 0, or the -errno of
 * cvm_place() with `err` set.
 */
int cvm_placer_init(struct cvm_placer *pl, struct cvm_host_topology *topo,
                    const struct cvm_place_request *rq, unsigned int max_entry_failures,
                    uint64_t now_ns, char *err, size_t errlen);

/*
 * Events. Each fills `act` (cleared first) and returns 0; they do nothing once
 * the placer has failed. An ONLINE event asks for a probe (act->probe_cpu) of a
 * CPU corevm could use; the caller must have merged the CPU's topology into
 * `topo` first (__cvm_topology_refresh_cpu). Out-of-range CPUs return -ERANGE.
 */
int cvm_placer_cpu_online(struct cvm_placer *pl, unsigned int cpu, uint64_t now_ns,
                          struct cvm_placer_actions *act);
int cvm_placer_cpu_offline(struct cvm_placer *pl, unsigned int cpu, uint64_t now_ns,
                           struct cvm_placer_actions *act);
int cvm_placer_cpu_removed(struct cvm_placer *pl, unsigned int cpu, uint64_t now_ns,
                           struct cvm_placer_actions *act);
/* `detail`: a short text for the log (e.g. the exit reason), may be NULL. */
int cvm_placer_probe_done(struct cvm_placer *pl, unsigned int cpu, uint64_t token,
                          enum cvm_probe_result result, const char *detail, uint64_t now_ns,
                          struct cvm_placer_actions *act);
/*
 * A guest entry of vCPU `vcpu` failed on host CPU `cpu` (-1: unknown, then only
 * counted): quarantines the CPU and re-places. Beyond max_entry_failures the
 * placer fails (act->vm_failed).
 */
int cvm_placer_entry_failure(struct cvm_placer *pl, unsigned int vcpu, int cpu, const char *detail,
                             uint64_t now_ns, struct cvm_placer_actions *act);
int cvm_placer_quarantine(struct cvm_placer *pl, unsigned int cpu, const char *detail,
                          uint64_t now_ns, struct cvm_placer_actions *act);

/* The host view the current placement was made against (valid until the next event). */
void cvm_placer_host(const struct cvm_placer *pl, struct cvm_place_host *h);

/* The logged events in order (the START event first); returns how many. `i` < that. */
unsigned int cvm_placer_nr_events(const struct cvm_placer *pl);
const struct cvm_place_event *cvm_placer_event(const struct cvm_placer *pl, unsigned int i);

#endif
