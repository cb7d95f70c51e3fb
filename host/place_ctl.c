/* The runtime placement controller: serializes the placer, feeds it hotplug events and probe results, and applies CPU sets and cookies in the calling threads. */
#include "host/place_ctl.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/placement_json.h"
#include "util/log.h"
#include "util/parse.h"

#define W CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)

/* ---- the real CPU-set syscalls ---- */

static int sys_set(void *ctx, const uint64_t *mask)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	unsigned int cpu;
	cvm_bitmap_for_each(cpu, mask, CVM_MAX_HOST_CPUS)
	{
		if (cpu < CPU_SETSIZE)
			CPU_SET(cpu, &set);
	}
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static int sys_get(void *ctx, uint64_t *mask)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set))
		return -errno;
	cvm_bitmap_zero(mask, CVM_MAX_HOST_CPUS);
	for (unsigned int cpu = 0; cpu < CPU_SETSIZE && cpu < CVM_MAX_HOST_CPUS; cpu++)
		if (CPU_ISSET(cpu, &set))
			cvm_bit_set(mask, cpu);
	return 0;
}

static int sys_getcpu(void *ctx)
{
	int cpu = sched_getcpu();
	return cpu < 0 ? -errno : cpu;
}

static pid_t sys_gettid(void *ctx)
{
	return gettid();
}

const struct cvm_affinity_ops cvm_affinity_sys = {sys_set, sys_get, sys_getcpu, sys_gettid, NULL};

bool cvm_kvm_entry_failed_on_host(int run_errno, uint32_t exit_reason)
{
	if (run_errno)
		return run_errno == EIO;
	return exit_reason == 9; /* KVM_EXIT_FAIL_ENTRY */
}

/* ---- the controller ---- */

struct vcpu_rec {
	pid_t tid;
	bool started;
	bool verified;
	unsigned int applies;
	uint64_t cookie;
	uint64_t cpus[W]; /* the CPU set last applied, as the kernel read it back */
};

struct cvm_place_ctl {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	char *sysfs_root; /* NULL: topology injected, never re-read */
	struct cvm_host_topology *topo;
	struct cvm_placer *pl;
	struct cvm_place_ctl_vmm vmm;
	const struct cvm_sched_core_ops *sc;
	struct cvm_cookie_state cookies;
	const struct cvm_affinity_ops *aff;
	struct cvm_prober own_prober;
	struct cvm_prober *prober;
	bool hotplug_wanted, hotplug_running, strict;
	bool listener_placed; /* the listener thread has applied the housekeeping CPU set */
	const struct cvm_uevent_source *inject_src;
	struct cvm_uevent_source src;
	struct cvm_hotplug *hp;
	struct timespec t0;
	struct vcpu_rec *vcpus;
	unsigned int housekeeping_applies;
	uint64_t resyncs, topo_errors, probe_errors;
	bool fail_reported;
	uint64_t said_seq; /* events up to this one were reported (verbose) */
};

static void changed(struct cvm_place_ctl *c);

static uint64_t now_ns(struct cvm_place_ctl *c)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)(ts.tv_sec - c->t0.tv_sec) * 1000000000u + (uint64_t)ts.tv_nsec -
	       (uint64_t)c->t0.tv_nsec;
}

int cvm_place_ctl_create(const struct cvm_place_ctl_config *cfg, struct cvm_place_ctl **out)
{
	struct cvm_place_ctl *c = calloc(1, sizeof(*c));
	int r = -ENOMEM;
	*out = NULL;
	if (!c)
		goto oom;
	c->topo = calloc(1, sizeof(*c->topo));
	c->pl = calloc(1, sizeof(*c->pl));
	c->vcpus = calloc(cfg->req.nr_vcpus ? cfg->req.nr_vcpus : 1, sizeof(*c->vcpus));
	if (!c->topo || !c->pl || !c->vcpus)
		goto oom;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->changed, NULL);
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	c->sc = cfg->sched_core ? cfg->sched_core : &cvm_sched_core_sys;
	c->aff = cfg->affinity ? cfg->affinity : &cvm_affinity_sys;
	c->prober = cfg->prober;
	c->hotplug_wanted = cfg->hotplug;
	c->inject_src = cfg->uevents;
	c->strict = cfg->req.strict;
	c->src.fd = -1;

	if (cfg->topo) {
		memcpy(c->topo, cfg->topo, sizeof(*c->topo));
		c->sysfs_root = cfg->sysfs_root ? strdup(cfg->sysfs_root) : NULL;
	} else {
		c->sysfs_root = strdup(cfg->sysfs_root ? cfg->sysfs_root : "/sys");
		if (!c->sysfs_root)
			goto oom;
		if ((r = cvm_topology_read(c->sysfs_root, c->topo)))
			goto fail;
	}

	struct cvm_place_request rq = cfg->req;
	rq.cookie_support = rq.cookies == CVM_COOKIE_OFF ? 0 : __cvm_sched_core_supported(c->sc);
	if (!rq.affinity_given && c->aff->get(c->aff->ctx, rq.affinity) == 0)
		rq.affinity_given = true;
	char err[CVM_PLACE_ERR_LEN];
	r = cvm_placer_init(c->pl, c->topo, &rq, cfg->max_entry_failures, 0, err, sizeof(err));
	if (r) {
		cvm_err("placement", "%s", err);
		goto fail;
	}
	changed(c); /* says the initial placement with -v */
	if (rq.cookies != CVM_COOKIE_OFF && rq.cookie_support)
		cvm_warn("placement", "%s: %s; continuing without core-scheduling cookies",
		         cvm_place_policy_name(rq.policy),
		         cvm_cookie_unsupported_why(rq.cookie_support));
	*out = c;
	return 0;
oom:
	cvm_err("placement", "create: out of memory");
fail:
	if (c) {
		free(c->sysfs_root);
		free(c->vcpus);
		free(c->pl);
		free(c->topo);
		free(c);
	}
	return r;
}

void cvm_place_ctl_explain(struct cvm_place_ctl *c, cvm_line_fn *line, void *ctx)
{
	struct cvm_place_host h;
	pthread_mutex_lock(&c->lock);
	cvm_placer_host(c->pl, &h);
	cvm_placement_explain(&h, &c->pl->req, &c->pl->cur, line, ctx);
	pthread_mutex_unlock(&c->lock);
}

/*
 * Carries out a placer's actions after the lock is dropped: probe requests, reaffine
 * requests (not to `self`, the calling vCPU, which applies its own), the VM failure.
 */
static void dispatch(struct cvm_place_ctl *c, const struct cvm_placer_actions *act, int self)
{
	if (act->probe_cpu >= 0) {
		int r = c->prober ? c->prober->start(c->prober, (unsigned int)act->probe_cpu,
		                                     act->probe_token)
		                  : -ENODEV;
		if (r) {
			/* No probe: the CPU stays out (pending without verdict). */
			struct cvm_probe_report rep = {.result = CVM_PROBE_VOID};
			snprintf(rep.detail, sizeof(rep.detail), "no probe could start: %s",
			         strerror(-r));
			pthread_mutex_lock(&c->lock);
			c->probe_errors++;
			pthread_mutex_unlock(&c->lock);
			cvm_place_ctl_probe_done(c, (unsigned int)act->probe_cpu, act->probe_token,
			                         &rep);
		}
	}
	unsigned int v;
	cvm_bitmap_for_each(v, act->reaffine, CVM_MAX_VCPUS)
	{
		if ((int)v != self && c->vmm.reaffine_vcpu)
			c->vmm.reaffine_vcpu(c->vmm.opaque, v);
	}
	if (act->housekeeping && c->vmm.reaffine_housekeeping)
		c->vmm.reaffine_housekeeping(c->vmm.opaque);
	if (act->vm_failed) {
		pthread_mutex_lock(&c->lock);
		bool first = !c->fail_reported;
		c->fail_reported = true;
		pthread_mutex_unlock(&c->lock);
		if (first) {
			cvm_err("placement", "%s", c->pl->fail_msg);
			if (c->vmm.vm_failed)
				c->vmm.vm_failed(c->vmm.opaque, c->pl->fail_msg);
		}
	}
}

/* Runs after any event under the lock: says what happened (with -v) and wakes waiters. */
static void changed(struct cvm_place_ctl *c)
{
	unsigned int n = cvm_placer_nr_events(c->pl);
	for (unsigned int i = 0; i < n; i++) {
		const struct cvm_place_event *e = cvm_placer_event(c->pl, i);
		if (e->seq > c->said_seq) {
			cvm_info("placement", "%s", e->note);
			c->said_seq = e->seq;
		}
	}
	pthread_cond_broadcast(&c->changed);
}

void cvm_place_ctl_cpu_event(struct cvm_place_ctl *c, const struct cvm_cpu_uevent *ev)
{
	struct cvm_placer_actions act;
	char err[CVM_TOPO_ERR_LEN];
	int r = 0;

	pthread_mutex_lock(&c->lock);
	uint64_t now = now_ns(c);
	switch (ev->kind) {
	case CVM_UEVENT_ONLINE:
		if (c->sysfs_root && ev->cpu < c->topo->nr_cpus &&
		    !cvm_bit_test(c->topo->online, ev->cpu)) {
			r = __cvm_topology_refresh_cpu(c->sysfs_root, c->topo, ev->cpu, err,
			                               sizeof(err));
			if (r && c->topo->cpu[ev->cpu].core < 0) {
				c->topo_errors++;
				cvm_warn("hotplug", "cpu %u online, but %s: not admitted", ev->cpu,
				         err);
				memset(&act, 0, sizeof(act));
				act.probe_cpu = -1;
				break;
			}
		}
		r = cvm_placer_cpu_online(c->pl, ev->cpu, now, &act);
		break;
	case CVM_UEVENT_OFFLINE:
		r = cvm_placer_cpu_offline(c->pl, ev->cpu, now, &act);
		break;
	case CVM_UEVENT_REMOVE:
		r = cvm_placer_cpu_removed(c->pl, ev->cpu, now, &act);
		break;
	default: /* ADD: present, still offline */
		if (ev->cpu < c->topo->nr_cpus)
			cvm_bit_set(c->topo->present, ev->cpu);
		memset(&act, 0, sizeof(act));
		act.probe_cpu = -1;
		break;
	}
	if (r < 0) {
		memset(&act, 0, sizeof(act));
		act.probe_cpu = -1;
	}
	/* The listener is a corevm thread too: it keeps to the housekeeping CPUs. */
	bool self_apply = c->hotplug_running && pthread_equal(pthread_self(), c->hp->thread) &&
	                  (act.housekeeping || !c->listener_placed);
	c->listener_placed |= self_apply;
	changed(c);
	pthread_mutex_unlock(&c->lock);
	dispatch(c, &act, -1);
	if (self_apply)
		cvm_place_ctl_housekeeping_apply(c);
}

void cvm_place_ctl_resync(struct cvm_place_ctl *c)
{
	uint64_t on[W], cur[W];
	char err[CVM_TOPO_ERR_LEN];
	if (!c->sysfs_root)
		return;
	if (__cvm_topology_read_online(c->sysfs_root, on, err, sizeof(err))) {
		cvm_warn("hotplug", "uevents were lost and %s", err);
		return;
	}
	pthread_mutex_lock(&c->lock);
	c->resyncs++;
	memcpy(cur, c->topo->online, sizeof(cur));
	unsigned int nr = c->topo->nr_cpus;
	pthread_mutex_unlock(&c->lock);
	cvm_warn("hotplug", "uevents were lost; re-reading the online CPUs");
	for (unsigned int cpu = 0; cpu < nr; cpu++) {
		bool now_on = cvm_bit_test(on, cpu), was_on = cvm_bit_test(cur, cpu);
		if (now_on == was_on)
			continue;
		struct cvm_cpu_uevent ev = {.kind = now_on ? CVM_UEVENT_ONLINE : CVM_UEVENT_OFFLINE,
		                            .cpu = cpu};
		cvm_place_ctl_cpu_event(c, &ev);
	}
}

void cvm_place_ctl_probe_done(void *ctx, unsigned int cpu, uint64_t token,
                              const struct cvm_probe_report *rep)
{
	struct cvm_place_ctl *c = ctx;
	struct cvm_placer_actions act;
	pthread_mutex_lock(&c->lock);
	int r = cvm_placer_probe_done(c->pl, cpu, token, rep->result, rep->detail, now_ns(c), &act);
	bool report = r == 0 && act.logged && rep->result == CVM_PROBE_FAIL;
	changed(c);
	pthread_mutex_unlock(&c->lock);
	if (report)
		cvm_warn("hotplug", "cpu %u failed its probe (%s): quarantined, never used", cpu,
		         rep->detail);
	if (r == 0)
		dispatch(c, &act, -1);
}

static void hp_cpu_event(void *ctx, const struct cvm_cpu_uevent *ev)
{
	cvm_place_ctl_cpu_event(ctx, ev);
}

static void hp_lost(void *ctx)
{
	cvm_place_ctl_resync(ctx);
}

static int probe_thread_init(void *ctx)
{
	struct cvm_place_ctl *c = ctx;
	return c->vmm.thread_init(c->vmm.opaque, CVM_PLACE_THREAD_PROBE);
}

static int uevent_thread_init(void *ctx)
{
	struct cvm_place_ctl *c = ctx;
	return c->vmm.thread_init(c->vmm.opaque, CVM_PLACE_THREAD_UEVENT);
}

int cvm_place_ctl_start(struct cvm_place_ctl *c, const struct cvm_place_ctl_vmm *vmm)
{
	int r;
	c->vmm = *vmm;
	if (!c->prober) {
		c->own_prober.thread_init = vmm->thread_init ? probe_thread_init : NULL;
		c->own_prober.thread_ctx = c;
		r = cvm_prober_kvm_init(&c->own_prober);
		if (r)
			cvm_warn("placement",
			         "cannot start the CPU prober (%s): CPUs that come online "
			         "will not be used",
			         strerror(-r));
		else
			c->prober = &c->own_prober;
	}
	if (c->prober) {
		c->prober->done = cvm_place_ctl_probe_done;
		c->prober->done_ctx = c;
	}
	if (!c->hotplug_wanted)
		return 0;
	if (c->inject_src) {
		c->src = *c->inject_src;
	} else if ((r = __cvm_uevent_open_netlink(&c->src))) {
		if (c->strict) {
			cvm_err("hotplug", "cannot listen to kernel uevents: %s", strerror(-r));
			return r;
		}
		cvm_warn("hotplug",
		         "cannot listen to kernel uevents (%s): CPU hotplug is not followed",
		         strerror(-r));
		return 0;
	}
	c->hp = calloc(1, sizeof(*c->hp));
	if (!c->hp)
		return -ENOMEM;
	struct cvm_hotplug_sink sink = {hp_cpu_event, hp_lost, c};
	cvm_hotplug_init(c->hp, &c->src, c->topo->nr_cpus, &sink);
	if (vmm->thread_init) {
		c->hp->thread_init = uevent_thread_init;
		c->hp->thread_ctx = c;
	}
	r = cvm_hotplug_start(c->hp);
	if (r) {
		cvm_err("hotplug", "cannot start the uevent listener: %s", strerror(-r));
		return r;
	}
	pthread_mutex_lock(&c->lock);
	c->hotplug_running = true; /* under the lock: the listener reads it with c->hp->thread */
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Sets the calling thread's CPU set to `mask` and reads it back; `who` names the thread. */
static int apply_mask(struct cvm_place_ctl *c, const uint64_t *mask, const char *who, uint64_t *got)
{
	uint64_t extra[W];
	char want[256], have[256];
	cvm_format_cpulist(mask, CVM_MAX_HOST_CPUS, want, sizeof(want));
	int r = c->aff->set(c->aff->ctx, mask);
	if (r) {
		cvm_err("placement", "%s: sched_setaffinity to cpus %s: %s", who, want,
		        strerror(-r));
		return r;
	}
	r = c->aff->get(c->aff->ctx, got);
	if (r) {
		cvm_err("placement", "%s: sched_getaffinity: %s", who, strerror(-r));
		return r;
	}
	cvm_format_cpulist(got, CVM_MAX_HOST_CPUS, have, sizeof(have));
	/* The kernel reports the set less CPUs that are not active: a subset, never empty. */
	cvm_bitmap_andnot(extra, got, mask, CVM_MAX_HOST_CPUS);
	if (cvm_bitmap_empty(got, CVM_MAX_HOST_CPUS) ||
	    !cvm_bitmap_empty(extra, CVM_MAX_HOST_CPUS)) {
		cvm_err("placement", "%s: asked for cpus %s, the kernel reports %s", who, want,
		        have);
		return -EIO;
	}
	return 0;
}

int cvm_place_ctl_vcpu_apply(struct cvm_place_ctl *c, unsigned int vcpu)
{
	uint64_t mask[W], got[W], cookie = 0;
	char who[32];
	int r = 0;

	snprintf(who, sizeof(who), "vcpu %u", vcpu);
	pthread_mutex_lock(&c->lock);
	if (vcpu >= c->pl->req.nr_vcpus) {
		pthread_mutex_unlock(&c->lock);
		cvm_err("placement", "vcpu %u: no such vCPU (the VM has %u)", vcpu,
		        c->pl->req.nr_vcpus);
		return -EINVAL;
	}
	struct vcpu_rec *rec = &c->vcpus[vcpu];
	if (!rec->started) {
		rec->started = true;
		rec->tid = c->aff->gettid(c->aff->ctx);
		if (c->pl->cur.cookies_active) {
			r = __cvm_sched_core_join(c->sc, &c->cookies, c->pl->cur.cookies, &cookie);
			rec->cookie = cookie;
		}
	}
	cvm_placement_vcpu_mask(&c->pl->cur, vcpu, mask);
	pthread_mutex_unlock(&c->lock);
	if (r) {
		cvm_err("placement", "vcpu %u: core-scheduling cookie: %s", vcpu, strerror(-r));
		return r;
	}
	r = apply_mask(c, mask, who, got);
	pthread_mutex_lock(&c->lock);
	rec->applies++;
	rec->verified = r == 0;
	if (r == 0 && cvm_log_verbose()) {
		char list[256];
		cvm_format_cpulist(got, CVM_MAX_HOST_CPUS, list, sizeof(list));
		cvm_info("placement", "vcpu %u: runs on cpus %s (set and verified by its thread)",
		         vcpu, list);
	}
	if (r)
		cvm_bitmap_zero(rec->cpus, CVM_MAX_HOST_CPUS);
	else
		memcpy(rec->cpus, got, sizeof(rec->cpus));
	changed(c);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int cvm_place_ctl_housekeeping_apply(struct cvm_place_ctl *c)
{
	uint64_t mask[W], got[W];
	pthread_mutex_lock(&c->lock);
	memcpy(mask, c->pl->cur.housekeeping, sizeof(mask));
	pthread_mutex_unlock(&c->lock);
	int r = apply_mask(c, mask, "housekeeping thread", got);
	pthread_mutex_lock(&c->lock);
	c->housekeeping_applies += r == 0;
	pthread_mutex_unlock(&c->lock);
	return r;
}

int cvm_place_ctl_entry_failure(struct cvm_place_ctl *c, unsigned int vcpu, int cpu,
                                const char *what)
{
	struct cvm_placer_actions act;
	pthread_mutex_lock(&c->lock);
	int r = cvm_placer_entry_failure(c->pl, vcpu, cpu, what, now_ns(c), &act);
	bool failed = c->pl->failed;
	changed(c);
	pthread_mutex_unlock(&c->lock);
	if (r) {
		cvm_err("placement", "vcpu %u: entry failure on cpu %d: %s", vcpu, cpu,
		        strerror(-r));
		return r;
	}
	if (!failed)
		cvm_warn("placement", "vcpu %u: guest entry failed on cpu %d (%s): %s", vcpu, cpu,
		         what ? what : "no detail",
		         cpu >= 0 ? "quarantined, re-placed, retrying" : "retrying");
	dispatch(c, &act, (int)vcpu);
	if (failed)
		return -EIO;
	return cvm_place_ctl_vcpu_apply(c, vcpu);
}

uint64_t cvm_place_ctl_seq(struct cvm_place_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	uint64_t s = c->pl->seq;
	pthread_mutex_unlock(&c->lock);
	return s;
}

int cvm_place_ctl_wait_seq(struct cvm_place_ctl *c, uint64_t seq, int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	int r = 0;
	pthread_mutex_lock(&c->lock);
	while (c->pl->seq < seq && r == 0)
		r = pthread_cond_timedwait(&c->changed, &c->lock, &until);
	r = c->pl->seq >= seq ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&c->lock);
	return r;
}

void cvm_place_ctl_snapshot(struct cvm_place_ctl *c, struct cvm_placement *p,
                            struct cvm_host_topology *topo, uint64_t *quarantined,
                            uint64_t *pending)
{
	pthread_mutex_lock(&c->lock);
	if (p)
		memcpy(p, &c->pl->cur, sizeof(*p));
	if (topo)
		memcpy(topo, c->topo, sizeof(*topo));
	if (quarantined)
		memcpy(quarantined, c->pl->quarantined, sizeof(c->pl->quarantined));
	if (pending)
		memcpy(pending, c->pl->pending, sizeof(c->pl->pending));
	pthread_mutex_unlock(&c->lock);
}

int cvm_place_ctl_current_cpu(const struct cvm_place_ctl *c)
{
	int cpu = c->aff->getcpu(c->aff->ctx);
	return cpu < 0 ? -1 : cpu;
}

bool cvm_place_ctl_strict(const struct cvm_place_ctl *c)
{
	return c->strict;
}

bool cvm_place_ctl_failed(struct cvm_place_ctl *c, char *why, size_t len)
{
	pthread_mutex_lock(&c->lock);
	bool failed = c->pl->failed;
	if (why && len)
		snprintf(why, len, "%s", failed ? c->pl->fail_msg : "");
	pthread_mutex_unlock(&c->lock);
	return failed;
}

static json_object *stats_locked(struct cvm_place_ctl *c)
{
	struct cvm_place_host h;
	char list[4096];
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	cvm_placer_host(c->pl, &h);
	json_object_object_add(o, "request", cvm_place_request_json(&c->pl->req));
	json_object_object_add(o, "current", cvm_placement_json(&h, &c->pl->req, &c->pl->cur));
	json_object_object_add(o, "failed", json_object_new_boolean(c->pl->failed));
	json_object_object_add(o, "fail_reason",
	                       c->pl->failed ? json_object_new_string(c->pl->fail_msg) : NULL);
	json_object_object_add(o, "entry_failures",
	                       json_object_new_int((int)c->pl->entry_failures));
	json_object_object_add(o, "max_entry_failures",
	                       json_object_new_int((int)c->pl->max_entry_failures));
	json_object *q = json_object_new_array();
	unsigned int cpu;
	cvm_bitmap_for_each(cpu, c->pl->quarantined, CVM_MAX_HOST_CPUS)
	{
		json_object *j = json_object_new_object();
		json_object_object_add(j, "cpu", json_object_new_int((int)cpu));
		json_object_object_add(
		        j, "cause",
		        json_object_new_string(cvm_place_cause_name(
		                (enum cvm_place_cause)c->pl->quarantine_cause[cpu])));
		json_object_array_add(q, j);
	}
	json_object_object_add(o, "quarantined", q);
	cvm_format_cpulist(c->pl->pending, CVM_MAX_HOST_CPUS, list, sizeof(list));
	json_object_object_add(o, "not_admitted", json_object_new_string(list));
	json_object *threads = json_object_new_array();
	for (unsigned int i = 0; i < c->pl->req.nr_vcpus; i++) {
		const struct vcpu_rec *r = &c->vcpus[i];
		json_object *j = json_object_new_object();
		json_object_object_add(j, "vcpu", json_object_new_int((int)i));
		json_object_object_add(j, "tid", r->started ? json_object_new_int(r->tid) : NULL);
		json_object_object_add(j, "applies", json_object_new_int((int)r->applies));
		cvm_format_cpulist(r->cpus, CVM_MAX_HOST_CPUS, list, sizeof(list));
		json_object_object_add(j, "cpus", json_object_new_string(list));
		json_object_object_add(j, "verified", json_object_new_boolean(r->verified));
		if (r->cookie) {
			char hex[24];
			snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)r->cookie);
			json_object_object_add(j, "cookie", json_object_new_string(hex));
		}
		json_object_array_add(threads, j);
	}
	json_object_object_add(o, "vcpu_threads", threads);
	json_object_object_add(o, "housekeeping_applies",
	                       json_object_new_int((int)c->housekeeping_applies));
	json_object *ev = json_object_new_array();
	for (unsigned int i = 0; i < cvm_placer_nr_events(c->pl); i++)
		json_object_array_add(ev, cvm_place_event_json(cvm_placer_event(c->pl, i)));
	json_object_object_add(o, "events", ev);
	json_object_object_add(o, "events_dropped",
	                       json_object_new_int64((int64_t)c->pl->log_dropped));
	json_object_object_add(o, "events_ignored", json_object_new_int64((int64_t)c->pl->ignored));
	json_object *hp = json_object_new_object();
	json_object_object_add(hp, "listening", json_object_new_boolean(c->hotplug_running));
	if (c->hp) {
		const struct cvm_hotplug_stats *s = &c->hp->stats;
		json_object_object_add(hp, "datagrams",
		                       json_object_new_int64((int64_t)s->datagrams));
		json_object_object_add(hp, "cpu_events",
		                       json_object_new_int64((int64_t)s->cpu_events));
		json_object_object_add(hp, "ignored", json_object_new_int64((int64_t)s->ignored));
		json_object_object_add(hp, "malformed",
		                       json_object_new_int64((int64_t)s->malformed));
		json_object_object_add(hp, "foreign", json_object_new_int64((int64_t)s->foreign));
		json_object_object_add(hp, "oversized",
		                       json_object_new_int64((int64_t)s->oversized));
		json_object_object_add(hp, "lost", json_object_new_int64((int64_t)s->lost));
	}
	json_object_object_add(hp, "resyncs", json_object_new_int64((int64_t)c->resyncs));
	json_object_object_add(hp, "topology_errors",
	                       json_object_new_int64((int64_t)c->topo_errors));
	json_object_object_add(hp, "probe_errors", json_object_new_int64((int64_t)c->probe_errors));
	json_object_object_add(o, "hotplug", hp);
	return o;
}

json_object *cvm_place_ctl_stats(struct cvm_place_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	json_object *o = stats_locked(c);
	pthread_mutex_unlock(&c->lock);
	return o;
}

void cvm_place_ctl_destroy(struct cvm_place_ctl *c)
{
	if (!c)
		return;
	if (c->hp) {
		cvm_hotplug_stop(c->hp);
		free(c->hp);
	}
	if (!c->inject_src)
		cvm_uevent_close(&c->src);
	if (c->prober == &c->own_prober)
		c->own_prober.stop(&c->own_prober);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->changed);
	free(c->sysfs_root);
	free(c->vcpus);
	free(c->pl);
	free(c->topo);
	free(c);
}
