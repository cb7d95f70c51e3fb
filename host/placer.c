/* The runtime placement state machine: hotplug, probe results and guest-entry failures in; re-placements, probe requests and a log out. Pure. */
#include "host/placer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cvm_place_cause_name(enum cvm_place_cause c)
{
	static const char *const n[] = {"start",        "cpu-offline",   "cpu-online",
	                                "probe-failed", "entry-failure", "quarantine",
	                                "cpu-removed"};
	return (unsigned int)c < sizeof(n) / sizeof(n[0]) ? n[c] : "?";
}

const char *cvm_probe_result_name(enum cvm_probe_result r)
{
	static const char *const n[] = {"pass", "fail", "void"};
	return (unsigned int)r < 3 ? n[r] : "?";
}

void cvm_placer_host(const struct cvm_placer *pl, struct cvm_place_host *h)
{
	h->topo = pl->topo;
	h->quarantined = pl->quarantined;
	h->pending = pl->pending;
	h->taken = NULL;
}

static void actions_clear(struct cvm_placer_actions *act)
{
	memset(act, 0, sizeof(*act));
	act->probe_cpu = -1;
}

/* Appends an event describing the change from `before` to pl->cur (moves taken from pl->cur). */
static struct cvm_place_event *log_event(struct cvm_placer *pl, enum cvm_place_cause cause, int cpu,
                                         int vcpu, uint64_t now_ns)
{
	struct cvm_place_event *e;
	if (cause == CVM_CAUSE_START) {
		e = &pl->first;
	} else if (pl->log_len < CVM_PLACER_LOG) {
		e = &pl->log[(pl->log_head + pl->log_len) % CVM_PLACER_LOG];
		pl->log_len++;
	} else {
		e = &pl->log[pl->log_head];
		pl->log_head = (pl->log_head + 1) % CVM_PLACER_LOG;
		pl->log_dropped++;
	}
	memset(e, 0, sizeof(*e));
	e->seq = ++pl->seq;
	e->time_ns = now_ns;
	e->cause = (uint8_t)cause;
	e->cpu = cpu;
	e->vcpu = vcpu;
	e->policy = (uint8_t)pl->cur.effective;
	e->degraded = pl->cur.degraded;
	e->vm_failed = pl->failed;
	return e;
}

static void note(struct cvm_place_event *e, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void note(struct cvm_place_event *e, const char *fmt, ...)
{
	size_t n = strlen(e->note);
	if (n + 1 >= sizeof(e->note))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->note + n, sizeof(e->note) - n, fmt, ap);
	va_end(ap);
}

static void record_moves(struct cvm_place_event *e, const struct cvm_placement *p)
{
	for (unsigned int i = 0; i < p->nr_vcpus; i++) {
		if (!p->vcpu[i].moved)
			continue;
		if (e->nr_moved < CVM_PLACE_EVENT_MOVES)
			e->moves[e->nr_moved] =
			        (struct cvm_place_move){i, p->vcpu[i].moved_from, p->vcpu[i].cpu};
		e->nr_moved++;
	}
}

int cvm_placer_init(struct cvm_placer *pl, struct cvm_host_topology *topo,
                    const struct cvm_place_request *rq, unsigned int max_entry_failures,
                    uint64_t now_ns, char *err, size_t errlen)
{
	struct cvm_place_host h;
	memset(pl, 0, sizeof(*pl));
	pl->topo = topo;
	pl->req = *rq;
	pl->max_entry_failures = max_entry_failures;
	for (unsigned int i = 0; i < CVM_MAX_HOST_CPUS; i++)
		pl->quarantine_cause[i] = 0xff;
	cvm_placer_host(pl, &h);
	int r = cvm_place(&h, &pl->req, &pl->cur, err, errlen);
	if (r)
		return r;
	struct cvm_place_event *e = log_event(pl, CVM_CAUSE_START, -1, -1, now_ns);
	note(e, "%s for %u vCPUs", cvm_place_policy_name(pl->cur.effective), rq->nr_vcpus);
	return 0;
}

/*
 * Re-places after a change of the host and logs it as `cause`, with `what` as
 * the start of the note. Fills the actions; on failure the placer fails.
 */
static void replace(struct cvm_placer *pl, enum cvm_place_cause cause, int cpu, int vcpu,
                    uint64_t now_ns, struct cvm_placer_actions *act, const char *what)
{
	struct cvm_place_host h;
	char err[CVM_PLACE_ERR_LEN];
	cvm_placer_host(pl, &h);
	int r = cvm_replace(&h, &pl->req, &pl->cur, &pl->scratch, err, sizeof(err));
	if (r) {
		pl->failed = true;
		snprintf(pl->fail_msg, sizeof(pl->fail_msg), "%s", err);
		act->vm_failed = true;
		struct cvm_place_event *e = log_event(pl, cause, cpu, vcpu, now_ns);
		note(e, "%s: %s", what, err);
		act->logged = true;
		return;
	}
	bool was_degraded = pl->cur.degraded;
	enum cvm_place_policy was = pl->cur.effective;
	act->housekeeping = memcmp(pl->cur.housekeeping, pl->scratch.housekeeping,
	                           sizeof(pl->cur.housekeeping)) != 0;
	memcpy(&pl->cur, &pl->scratch, sizeof(pl->cur));
	for (unsigned int i = 0; i < pl->cur.nr_vcpus; i++)
		if (pl->cur.vcpu[i].moved)
			cvm_bit_set(act->reaffine, i);
	struct cvm_place_event *e = log_event(pl, cause, cpu, vcpu, now_ns);
	record_moves(e, &pl->cur);
	act->logged = true;
	note(e, "%s: ", what);
	if (pl->cur.nr_moved)
		note(e, "%u vCPU%s re-placed", pl->cur.nr_moved, pl->cur.nr_moved == 1 ? "" : "s");
	else
		note(e, "no vCPU moved");
	if (pl->cur.degraded && (!was_degraded || was != pl->cur.effective))
		note(e, "; degraded to %s: %s", cvm_place_policy_name(pl->cur.effective),
		     pl->cur.degraded_why);
	else if (!pl->cur.degraded && was_degraded)
		note(e, "; %s restored", cvm_place_policy_name(pl->cur.effective));
}

/* Whether corevm could ever use `cpu` (host CPUs, process affinity): only those are probed. */
static bool cpu_wanted(const struct cvm_placer *pl, unsigned int cpu)
{
	const struct cvm_place_request *rq = &pl->req;
	if (rq->affinity_given && !cvm_bit_test(rq->affinity, cpu))
		return false;
	if (rq->host_cpus_given)
		return cvm_bit_test(rq->host_cpus, cpu);
	return !cvm_bit_test(pl->topo->isolated, cpu);
}

static int begin(struct cvm_placer *pl, unsigned int cpu, struct cvm_placer_actions *act)
{
	actions_clear(act);
	if (cpu >= pl->topo->nr_cpus)
		return -ERANGE;
	return pl->failed ? 1 : 0;
}

int cvm_placer_cpu_online(struct cvm_placer *pl, unsigned int cpu, uint64_t now_ns,
                          struct cvm_placer_actions *act)
{
	int r = begin(pl, cpu, act);
	if (r)
		return r < 0 ? r : 0;
	bool online = cvm_bit_test(pl->topo->online, cpu);
	cvm_bit_set(pl->topo->present, cpu);
	cvm_topology_set_online(pl->topo, cpu, true);
	cvm_topology_finish(pl->topo);
	if (cvm_bit_test(pl->quarantined, cpu)) {
		struct cvm_place_event *e =
		        log_event(pl, CVM_CAUSE_QUARANTINE, (int)cpu, -1, now_ns);
		note(e, "cpu %u online again: stays quarantined, never used", cpu);
		act->logged = true;
		return 0;
	}
	if (cvm_bit_test(pl->pending, cpu) || online) {
		pl->ignored++; /* a repeated online */
		return 0;
	}
	if (!cpu_wanted(pl, cpu))
		return 0;
	cvm_bit_set(pl->pending, cpu);
	pl->probe_token[cpu] = ++pl->next_token;
	act->probe_cpu = (int32_t)cpu;
	act->probe_token = pl->probe_token[cpu];
	return 0;
}

static int cpu_gone(struct cvm_placer *pl, unsigned int cpu, bool removed, uint64_t now_ns,
                    struct cvm_placer_actions *act)
{
	int r = begin(pl, cpu, act);
	if (r)
		return r < 0 ? r : 0;
	bool was_pending = cvm_bit_test(pl->pending, cpu);
	if (!cvm_bit_test(pl->topo->online, cpu) && !was_pending &&
	    !(removed && cvm_bit_test(pl->topo->present, cpu))) {
		pl->ignored++; /* a repeated offline */
		return 0;
	}
	cvm_bit_clear(pl->pending, cpu);
	pl->probe_token[cpu] = 0; /* a probe in flight is now stale */
	cvm_topology_set_online(pl->topo, cpu, false);
	if (removed)
		cvm_bit_clear(pl->topo->present, cpu);
	cvm_topology_finish(pl->topo);
	char what[96];
	snprintf(what, sizeof(what), "cpu %u %s%s", cpu, removed ? "removed" : "offline",
	         was_pending ? " while its probe ran" : "");
	replace(pl, removed ? CVM_CAUSE_CPU_REMOVED : CVM_CAUSE_CPU_OFFLINE, (int)cpu, -1, now_ns,
	        act, what);
	return 0;
}

int cvm_placer_cpu_offline(struct cvm_placer *pl, unsigned int cpu, uint64_t now_ns,
                           struct cvm_placer_actions *act)
{
	return cpu_gone(pl, cpu, false, now_ns, act);
}

int cvm_placer_cpu_removed(struct cvm_placer *pl, unsigned int cpu, uint64_t now_ns,
                           struct cvm_placer_actions *act)
{
	return cpu_gone(pl, cpu, true, now_ns, act);
}

static void quarantine(struct cvm_placer *pl, unsigned int cpu, enum cvm_place_cause cause)
{
	cvm_bit_set(pl->quarantined, cpu);
	if (pl->quarantine_cause[cpu] == 0xff)
		pl->quarantine_cause[cpu] = (uint8_t)cause;
	cvm_bit_clear(pl->pending, cpu);
	pl->probe_token[cpu] = 0;
}

int cvm_placer_probe_done(struct cvm_placer *pl, unsigned int cpu, uint64_t token,
                          enum cvm_probe_result result, const char *detail, uint64_t now_ns,
                          struct cvm_placer_actions *act)
{
	int r = begin(pl, cpu, act);
	if (r)
		return r < 0 ? r : 0;
	if (!cvm_bit_test(pl->pending, cpu) || token == 0 || pl->probe_token[cpu] != token) {
		pl->ignored++; /* stale: the CPU went away (and maybe came back) meanwhile */
		return 0;
	}
	char what[CVM_PLACE_NOTE_LEN / 2];
	pl->probe_token[cpu] = 0;
	switch (result) {
	case CVM_PROBE_PASS:
		cvm_bit_clear(pl->pending, cpu);
		snprintf(what, sizeof(what), "cpu %u online, probe passed%s%.60s", cpu,
		         detail ? ": " : "", detail ? detail : "");
		replace(pl, CVM_CAUSE_CPU_ONLINE, (int)cpu, -1, now_ns, act, what);
		break;
	case CVM_PROBE_FAIL:
		quarantine(pl, cpu, CVM_CAUSE_PROBE_FAILED);
		snprintf(what, sizeof(what), "cpu %u failed its probe%s%.60s%s; quarantined", cpu,
		         detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
		replace(pl, CVM_CAUSE_PROBE_FAILED, (int)cpu, -1, now_ns, act, what);
		break;
	default: {
		/* No verdict: the CPU stays out (pending, no probe) until it goes offline and back. */
		struct cvm_place_event *e =
		        log_event(pl, CVM_CAUSE_CPU_ONLINE, (int)cpu, -1, now_ns);
		note(e, "cpu %u online, probe gave no verdict%s%.60s: not admitted", cpu,
		     detail ? ": " : "", detail ? detail : "");
		act->logged = true;
		break;
	}
	}
	return 0;
}

static int quarantine_event(struct cvm_placer *pl, unsigned int cpu, int vcpu,
                            enum cvm_place_cause cause, const char *what, uint64_t now_ns,
                            struct cvm_placer_actions *act)
{
	quarantine(pl, cpu, cause);
	replace(pl, cause, (int)cpu, vcpu, now_ns, act, what);
	return 0;
}

int cvm_placer_entry_failure(struct cvm_placer *pl, unsigned int vcpu, int cpu, const char *detail,
                             uint64_t now_ns, struct cvm_placer_actions *act)
{
	actions_clear(act);
	if (pl->failed)
		return 0;
	if (vcpu >= pl->req.nr_vcpus || cpu >= (int)pl->topo->nr_cpus)
		return -ERANGE;
	char what[CVM_PLACE_NOTE_LEN / 2];
	pl->entry_failures++;
	if (cpu >= 0)
		snprintf(what, sizeof(what), "vcpu %u: guest entry failed on cpu %d (%.60s)", vcpu,
		         cpu, detail ? detail : "no detail");
	else
		snprintf(what, sizeof(what),
		         "vcpu %u: guest entry failed on an unknown cpu (%.60s)", vcpu,
		         detail ? detail : "no detail");
	if (pl->entry_failures > pl->max_entry_failures) {
		if (cpu >= 0)
			quarantine(pl, (unsigned int)cpu, CVM_CAUSE_ENTRY_FAILURE);
		pl->failed = true;
		snprintf(pl->fail_msg, sizeof(pl->fail_msg),
		         "%s: %u guest-entry failures, more than the %u allowed: giving up (when "
		         "every CPU fails, suspect the vCPU state rather than the CPUs)",
		         what, pl->entry_failures, pl->max_entry_failures);
		act->vm_failed = true;
		struct cvm_place_event *e =
		        log_event(pl, CVM_CAUSE_ENTRY_FAILURE, cpu, (int)vcpu, now_ns);
		note(e, "%s", pl->fail_msg);
		act->logged = true;
		return 0;
	}
	if (cpu < 0) {
		struct cvm_place_event *e =
		        log_event(pl, CVM_CAUSE_ENTRY_FAILURE, -1, (int)vcpu, now_ns);
		note(e, "%s: retrying where it is", what);
		act->logged = true;
		return 0;
	}
	strncat(what, "; quarantined", sizeof(what) - strlen(what) - 1);
	return quarantine_event(pl, (unsigned int)cpu, (int)vcpu, CVM_CAUSE_ENTRY_FAILURE, what,
	                        now_ns, act);
}

int cvm_placer_quarantine(struct cvm_placer *pl, unsigned int cpu, const char *detail,
                          uint64_t now_ns, struct cvm_placer_actions *act)
{
	int r = begin(pl, cpu, act);
	if (r)
		return r < 0 ? r : 0;
	if (cvm_bit_test(pl->quarantined, cpu)) {
		pl->ignored++;
		return 0;
	}
	char what[CVM_PLACE_NOTE_LEN / 2];
	snprintf(what, sizeof(what), "cpu %u quarantined (%.80s)", cpu,
	         detail ? detail : "request");
	return quarantine_event(pl, cpu, -1, CVM_CAUSE_QUARANTINE, what, now_ns, act);
}

unsigned int cvm_placer_nr_events(const struct cvm_placer *pl)
{
	return pl->seq ? 1 + pl->log_len : 0;
}

const struct cvm_place_event *cvm_placer_event(const struct cvm_placer *pl, unsigned int i)
{
	if (i == 0)
		return &pl->first;
	if (i > pl->log_len)
		return NULL;
	return &pl->log[(pl->log_head + i - 1) % CVM_PLACER_LOG];
}
