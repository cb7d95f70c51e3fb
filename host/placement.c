/* Pure vCPU placement: the none, pin, smt-protect and core-sched policies, sticky re-placement with fallback, validation, explanation. */
#include "host/placement.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/parse.h"

#define W CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)

/* A bounded string builder: appends never overflow, the text stays NUL-terminated. */
struct sbuf {
	char *buf;
	size_t len, pos;
};

static void sb_init(struct sbuf *sb, char *buf, size_t len)
{
	sb->buf = buf;
	sb->len = len;
	sb->pos = 0;
	if (len)
		buf[0] = '\0';
}

static void sb_printf(struct sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	if (sb->pos + 1 >= sb->len)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(sb->buf + sb->pos, sb->len - sb->pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb->pos += (size_t)n;
	if (sb->pos >= sb->len)
		sb->pos = sb->len - 1;
}

/* "0-3,8" (or "none"); a list too long for `len` ends in "...". */
static const char *cpus_str(const uint64_t *map, char *buf, size_t len)
{
	if (cvm_bitmap_empty(map, CVM_MAX_HOST_CPUS)) {
		snprintf(buf, len, "none");
		return buf;
	}
	if (cvm_format_cpulist(map, CVM_MAX_HOST_CPUS, buf, len) < 0 && len > 4)
		memcpy(buf + len - 4, "...", 4);
	return buf;
}

/* "cpu 3" or "cpus 3,5" */
static void sb_cpus(struct sbuf *sb, const uint64_t *map)
{
	char list[1024];
	unsigned int n = cvm_bitmap_weight(map, CVM_MAX_HOST_CPUS);
	sb_printf(sb, "%s %s", n == 1 ? "cpu" : "cpus", cpus_str(map, list, sizeof(list)));
}

/* ---- names and parsing ---- */

static const char *const policy_names[] = {
        [CVM_PLACE_NONE] = "none",
        [CVM_PLACE_PIN] = "pin",
        [CVM_PLACE_SMT_PROTECT] = "smt-protect",
        [CVM_PLACE_CORE_SCHED] = "core-sched",
};

const char *cvm_place_policy_name(enum cvm_place_policy p)
{
	return (unsigned int)p < 4 ? policy_names[p] : "?";
}

const char *cvm_cookie_scope_name(enum cvm_cookie_scope s)
{
	static const char *const n[] = {"off", "vm", "vcpu"};
	return (unsigned int)s < 3 ? n[s] : "?";
}

const char *cvm_place_fallback_name(enum cvm_place_fallback f)
{
	static const char *const n[] = {"fail", "pin", "none"};
	return (unsigned int)f < 3 ? n[f] : "?";
}

const char *cvm_place_why_name(enum cvm_place_why w)
{
	static const char *const n[] = {"float", "free-core", "shared-core", "whole-core"};
	return (unsigned int)w < 4 ? n[w] : "?";
}

int cvm_place_parse_policy(const char *s, enum cvm_place_policy *policy,
                           enum cvm_cookie_scope *cookies)
{
	if (!s)
		return -EINVAL;
	for (unsigned int p = 0; p < 4; p++) {
		if (!strcmp(s, policy_names[p])) {
			*policy = (enum cvm_place_policy)p;
			*cookies = p == CVM_PLACE_SMT_PROTECT  ? CVM_COOKIE_VCPU
			           : p == CVM_PLACE_CORE_SCHED ? CVM_COOKIE_VM
			                                       : CVM_COOKIE_OFF;
			return 0;
		}
	}
	if (!strcmp(s, "core-sched=vm") || !strcmp(s, "core-sched=vcpu")) {
		*policy = CVM_PLACE_CORE_SCHED;
		*cookies = s[11] == 'm' ? CVM_COOKIE_VM : CVM_COOKIE_VCPU;
		return 0;
	}
	return -EINVAL;
}

int cvm_place_parse_fallback(const char *s, enum cvm_place_fallback *f)
{
	for (unsigned int i = 0; s && i < 3; i++) {
		if (!strcmp(s, cvm_place_fallback_name((enum cvm_place_fallback)i))) {
			*f = (enum cvm_place_fallback)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *cvm_cookie_unsupported_why(int err)
{
	switch (err) {
	case 0:
		return "";
	case -EINVAL:
		return "the kernel has no core scheduling (built without CONFIG_SCHED_CORE; "
		       "prctl PR_SCHED_CORE: EINVAL)";
	case -ENODEV:
		return "core scheduling needs SMT and this host has none (prctl PR_SCHED_CORE: ENODEV)";
	case -EPERM:
		return "core scheduling is not permitted here (prctl PR_SCHED_CORE: EPERM)";
	case -ENOSYS:
		return "prctl is not available (ENOSYS)";
	default:
		return "prctl PR_SCHED_CORE failed";
	}
}

void cvm_place_request_init(struct cvm_place_request *rq, enum cvm_place_policy policy,
                            unsigned int nr_vcpus)
{
	memset(rq, 0, sizeof(*rq));
	rq->policy = policy;
	rq->cookies = policy == CVM_PLACE_SMT_PROTECT  ? CVM_COOKIE_VCPU
	              : policy == CVM_PLACE_CORE_SCHED ? CVM_COOKIE_VM
	                                               : CVM_COOKIE_OFF;
	rq->fallback = CVM_FALLBACK_NONE;
	rq->nr_vcpus = nr_vcpus;
}

/* ---- the host as one decision sees it ---- */

struct view {
	const struct cvm_place_host *h;
	const struct cvm_place_request *rq;
	const struct cvm_host_topology *t;
	uint64_t allowed[W]; /* host CPUs, limited to possible CPUs */
	uint64_t usable[W];
	unsigned int nr_cores;
	int32_t rank[CVM_MAX_HOST_CPUS]; /* core order preference (lower first) */
};

static bool in(const uint64_t *set, unsigned int cpu)
{
	return set && cvm_bit_test(set, cpu);
}

static void view_init(struct view *v, const struct cvm_place_host *h,
                      const struct cvm_place_request *rq)
{
	const struct cvm_host_topology *t = h->topo;
	uint64_t possible[W];

	v->h = h;
	v->rq = rq;
	v->t = t;
	v->nr_cores = t->nr_cores;
	cvm_bitmap_zero(possible, CVM_MAX_HOST_CPUS);
	cvm_bitmap_fill(possible, t->nr_cpus);
	cvm_bitmap_and(possible, possible, t->possible, CVM_MAX_HOST_CPUS);
	if (rq->host_cpus_given)
		cvm_bitmap_and(v->allowed, rq->host_cpus, possible, CVM_MAX_HOST_CPUS);
	else
		cvm_bitmap_andnot(v->allowed, t->present, t->isolated, CVM_MAX_HOST_CPUS);
	cvm_bitmap_and(v->allowed, v->allowed, possible, CVM_MAX_HOST_CPUS);
	cvm_bitmap_and(v->usable, v->allowed, t->online, CVM_MAX_HOST_CPUS);
	if (rq->affinity_given)
		cvm_bitmap_and(v->usable, v->usable, rq->affinity, CVM_MAX_HOST_CPUS);
	const uint64_t *minus[] = {h->quarantined, h->pending, h->taken};
	for (unsigned int i = 0; i < 3; i++)
		if (minus[i])
			cvm_bitmap_andnot(v->usable, v->usable, minus[i], CVM_MAX_HOST_CPUS);
}

/* Why an allowed CPU is not usable; NULL when it is. The order is the order of precedence. */
static const char *excluded_why(const struct view *v, unsigned int cpu)
{
	const struct cvm_place_host *h = v->h;
	if (!cvm_bit_test(v->t->present, cpu))
		return "not present";
	if (in(h->quarantined, cpu))
		return "quarantined";
	if (!cvm_bit_test(v->t->online, cpu))
		return "offline";
	if (in(h->pending, cpu))
		return "not admitted yet";
	if (in(h->taken, cpu))
		return "used by another VM";
	if (v->rq->affinity_given && !cvm_bit_test(v->rq->affinity, cpu))
		return "outside this process's CPU set";
	return NULL;
}

static const char *const exclusion_kinds[] = {
        "not present",      "quarantined",        "offline",
        "not admitted yet", "used by another VM", "outside this process's CPU set",
};

/* Appends "cpus 5,7 offline, cpu 6 quarantined" for the CPUs of `set` that are not usable. */
static void sb_exclusions(struct sbuf *sb, const struct view *v, const uint64_t *set)
{
	bool first = true;
	for (unsigned int k = 0; k < sizeof(exclusion_kinds) / sizeof(exclusion_kinds[0]); k++) {
		uint64_t group[W];
		cvm_bitmap_zero(group, CVM_MAX_HOST_CPUS);
		unsigned int cpu;
		cvm_bitmap_for_each(cpu, set, v->t->nr_cpus)
		{
			const char *why = excluded_why(v, cpu);
			if (why && !strcmp(why, exclusion_kinds[k]))
				cvm_bit_set(group, cpu);
		}
		if (cvm_bitmap_empty(group, CVM_MAX_HOST_CPUS))
			continue;
		sb_printf(sb, "%s", first ? "" : ", ");
		sb_cpus(sb, group);
		sb_printf(sb, " %s", exclusion_kinds[k]);
		first = false;
	}
}

/* "host CPUs 0-7" or "host CPUs 0-7 (present, not isolated)" */
static void sb_host_cpus(struct sbuf *sb, const struct view *v)
{
	char list[1024];
	sb_printf(sb, "host CPUs %s%s", cpus_str(v->allowed, list, sizeof(list)),
	          v->rq->host_cpus_given ? "" : " (present, not isolated)");
}

/* Whether every thread of core `k` is usable and the core is known to be complete. */
static bool core_whole(const struct view *v, unsigned int k)
{
	const struct cvm_host_core *c = &v->t->core[k];
	if (!c->nr_threads || cvm_topology_core_maybe_partial(v->t, k))
		return false;
	for (unsigned int i = 0; i < c->nr_threads; i++)
		if (!cvm_bit_test(v->usable, c->cpus[i]))
			return false;
	return true;
}

static bool core_any_usable(const struct view *v, unsigned int k)
{
	const struct cvm_host_core *c = &v->t->core[k];
	for (unsigned int i = 0; i < c->nr_threads; i++)
		if (cvm_bit_test(v->usable, c->cpus[i]))
			return true;
	return false;
}

/* Appends why core `k`, which meets the host CPUs, is not whole. */
static void sb_core_not_whole(struct sbuf *sb, const struct view *v, unsigned int k)
{
	const struct cvm_host_core *c = &v->t->core[k];
	uint64_t cpus[W], off[W], outside[W];
	char name[64];

	cvm_topology_core_cpus(v->t, k, cpus);
	sb_printf(sb, "%s (", cvm_topology_core_name(v->t, k, name, sizeof(name)));
	sb_cpus(sb, cpus);
	sb_printf(sb, ")");
	cvm_bitmap_andnot(off, cpus, v->t->online, CVM_MAX_HOST_CPUS);
	if (!cvm_bitmap_empty(off, CVM_MAX_HOST_CPUS)) {
		sb_printf(sb, " is partly offline");
		return;
	}
	if (cvm_topology_core_maybe_partial(v->t, k)) {
		sb_printf(sb, " has %u of %u threads known, the others offline", c->nr_threads,
		          v->t->smt_width);
		return;
	}
	cvm_bitmap_andnot(outside, cpus, v->allowed, CVM_MAX_HOST_CPUS);
	if (!cvm_bitmap_empty(outside, CVM_MAX_HOST_CPUS)) {
		sb_printf(sb, ": ");
		sb_cpus(sb, outside);
		sb_printf(sb, " not in the host CPUs");
		return;
	}
	sb_printf(sb, ": ");
	sb_exclusions(sb, v, cpus);
}

/* ---- core order ---- */

/* A node id as an array slot: unknown nodes share the last slot. */
static unsigned int node_slot(int32_t node)
{
	return node >= 0 && node < (int32_t)CVM_MAX_NUMA_NODES ? (unsigned int)node
	                                                       : CVM_MAX_NUMA_NODES;
}

/* Whether core a comes before core b. */
static bool core_before(const struct view *v, unsigned int a, unsigned int b)
{
	const struct cvm_host_core *x = &v->t->core[a], *y = &v->t->core[b];
	if (v->rank[a] != v->rank[b])
		return v->rank[a] < v->rank[b];
	if (x->node != y->node)
		return x->node < y->node;
	if (x->package != y->package)
		return x->package < y->package;
	if (x->die != y->die)
		return x->die < y->die;
	if (x->cluster != y->cluster)
		return x->cluster < y->cluster;
	if (x->core_id != y->core_id)
		return x->core_id < y->core_id;
	return a < b;
}

/* Sorts core indices into `order` (insertion sort: at most 1024 cores, off the hot path). */
static unsigned int sort_cores(const struct view *v, uint16_t *order)
{
	unsigned int n = 0;
	for (unsigned int k = 0; k < v->nr_cores; k++) {
		if (!v->t->core[k].nr_threads)
			continue;
		unsigned int i = n++;
		while (i > 0 && core_before(v, k, order[i - 1])) {
			order[i] = order[i - 1];
			i--;
		}
		order[i] = (uint16_t)k;
	}
	return n;
}

/* ---- the decision ---- */

struct work {
	struct view v;
	uint16_t order[CVM_MAX_HOST_CPUS];
	unsigned int nr_order;
	int32_t used[CVM_MAX_HOST_CPUS]; /* vCPUs per core */
	uint64_t taken_cpus[W];          /* CPUs given to vCPUs in this decision */
};

/*
 * Ranks the cores: the NUMA node that can hold all `need` vCPUs on cores `ok`
 * accepts comes first (the lowest such node), then nodes by such cores (most
 * first); within a node isolated cores first (operators isolate CPUs for
 * vCPUs); core_before() breaks ties by package, die, cluster, core id.
 */
static void rank_cores(struct work *w, bool (*ok)(const struct work *w, unsigned int k),
                       unsigned int need)
{
	struct view *v = &w->v;
	const struct cvm_host_topology *t = v->t;
	unsigned int by_node[CVM_MAX_NUMA_NODES + 1];
	memset(by_node, 0, sizeof(by_node));
	for (unsigned int k = 0; k < v->nr_cores; k++)
		if (t->core[k].nr_threads && ok(w, k))
			by_node[node_slot(t->core[k].node)]++;
	unsigned int fit = CVM_MAX_NUMA_NODES + 1;
	for (unsigned int n = 0; n <= CVM_MAX_NUMA_NODES && fit > CVM_MAX_NUMA_NODES; n++)
		if (need && by_node[n] >= need)
			fit = n;
	for (unsigned int k = 0; k < v->nr_cores; k++) {
		const struct cvm_host_core *c = &t->core[k];
		unsigned int n = node_slot(c->node);
		int32_t node_key = n == fit ? 0 : (int32_t)(CVM_MAX_HOST_CPUS + 1 - by_node[n]);
		bool isolated = c->nr_threads && cvm_bit_test(t->isolated, c->cpus[0]);
		v->rank[k] = node_key * 2 + (isolated ? 0 : 1);
	}
}

static void vcpu_float(struct cvm_vcpu_place *vp)
{
	vp->cpu = -1;
	vp->core = -1;
	vp->peer = -1;
	vp->why = CVM_WHY_FLOAT;
}

static void vcpu_pin(struct work *w, struct cvm_placement *out, unsigned int i, unsigned int cpu,
                     enum cvm_place_why why)
{
	struct cvm_vcpu_place *vp = &out->vcpu[i];
	vp->cpu = (int32_t)cpu;
	vp->core = w->v.t->cpu[cpu].core;
	vp->peer = -1;
	vp->why = (uint8_t)why;
	cvm_bit_set(w->taken_cpus, cpu);
	if (vp->core >= 0)
		w->used[vp->core]++;
}

/* The lowest usable CPU of core `k` no vCPU has yet, or -1. */
static int core_free_cpu(const struct work *w, unsigned int k)
{
	const struct cvm_host_core *c = &w->v.t->core[k];
	for (unsigned int i = 0; i < c->nr_threads; i++) {
		unsigned int cpu = c->cpus[i];
		if (cvm_bit_test(w->v.usable, cpu) && !cvm_bit_test(w->taken_cpus, cpu))
			return (int)cpu;
	}
	return -1;
}

/* The node vCPU `i` was on in `prev`, or CVM_TOPO_NONE. */
static int32_t prev_node(const struct work *w, const struct cvm_placement *prev, unsigned int i)
{
	if (!prev || i >= prev->nr_vcpus || prev->vcpu[i].cpu < 0 ||
	    (unsigned int)prev->vcpu[i].cpu >= w->v.t->nr_cpus)
		return CVM_TOPO_NONE;
	return w->v.t->cpu[prev->vcpu[i].cpu].node;
}

/*
 * The first core in order that `ok` accepts, on node `node` when one there
 * qualifies (CVM_TOPO_NONE: any node); -1 when none does.
 */
static int pick_core(const struct work *w, int32_t node,
                     bool (*ok)(const struct work *w, unsigned int k))
{
	int any = -1;
	for (unsigned int i = 0; i < w->nr_order; i++) {
		unsigned int k = w->order[i];
		if (!ok(w, k))
			continue;
		if (node == CVM_TOPO_NONE || w->v.t->core[k].node == node)
			return (int)k;
		if (any < 0)
			any = (int)k;
	}
	return any;
}

/* Whether core `k` has a CPU another placement owns (other VMs' vCPUs count as sharers). */
static bool core_has_taken(const struct view *v, unsigned int k)
{
	const struct cvm_host_core *c = &v->t->core[k];
	for (unsigned int i = 0; v->h->taken && i < c->nr_threads; i++)
		if (cvm_bit_test(v->h->taken, c->cpus[i]))
			return true;
	return false;
}

/* A free core for pin: a usable CPU, no vCPU of this VM, no CPU of another placement. */
static bool ok_free_core(const struct work *w, unsigned int k)
{
	return w->used[k] == 0 && !core_has_taken(&w->v, k) && core_free_cpu(w, k) >= 0;
}

static bool ok_free_cpu(const struct work *w, unsigned int k)
{
	return core_free_cpu(w, k) >= 0;
}

static bool ok_whole_core(const struct work *w, unsigned int k)
{
	return w->used[k] == 0 && core_whole(&w->v, k);
}

/*
 * Marks how each pinned vCPU shares its core: with the lowest other vCPU on it,
 * or (peer -1) with a CPU another placement owns.
 */
static void set_peers(const struct view *v, struct cvm_placement *out)
{
	for (unsigned int i = 0; i < out->nr_vcpus; i++) {
		struct cvm_vcpu_place *vp = &out->vcpu[i];
		if (vp->cpu < 0 || vp->core < 0 || vp->why == CVM_WHY_WHOLE_CORE)
			continue;
		vp->peer = -1;
		vp->why = core_has_taken(v, (unsigned int)vp->core) ? CVM_WHY_SHARED_CORE
		                                                    : CVM_WHY_FREE_CORE;
		for (unsigned int j = 0; j < out->nr_vcpus; j++) {
			if (j != i && out->vcpu[j].core == vp->core) {
				vp->peer = (int32_t)j;
				vp->why = CVM_WHY_SHARED_CORE;
				break;
			}
		}
	}
}

/* Whether core `k`, holding `used` vCPUs of this VM, is shared (by two of them, or with another VM). */
static bool core_shared(const struct view *v, unsigned int k, int32_t used)
{
	return used >= 2 || (used == 1 && core_has_taken(v, k));
}

static int fail_pin(struct work *w, char *err, size_t errlen)
{
	struct sbuf sb;
	sb_init(&sb, err, errlen);
	unsigned int found = cvm_bitmap_weight(w->v.usable, CVM_MAX_HOST_CPUS);
	sb_printf(&sb, "pin needs %u host CPUs in ", w->v.rq->nr_vcpus);
	sb_host_cpus(&sb, &w->v);
	sb_printf(&sb, ", found %u usable", found);
	uint64_t bad[W];
	cvm_bitmap_andnot(bad, w->v.allowed, w->v.usable, CVM_MAX_HOST_CPUS);
	if (!cvm_bitmap_empty(bad, CVM_MAX_HOST_CPUS)) {
		sb_printf(&sb, ": ");
		sb_exclusions(&sb, &w->v, bad);
	}
	return -ENOSPC;
}

/*
 * pin: keep vCPUs of `prev` whose CPU is still usable; the others take free
 * cores (their old node first), then free threads of used cores; then while a
 * core is shared and a core is free, move one of the sharers (the highest-numbered, preferring one
 * that moved already, so the count of moves stays minimal).
 */
static int place_pin(struct work *w, const struct cvm_placement *prev, struct cvm_placement *out,
                     char *err, size_t errlen)
{
	unsigned int n = w->v.rq->nr_vcpus;
	if (cvm_bitmap_weight(w->v.usable, CVM_MAX_HOST_CPUS) < n)
		return fail_pin(w, err, errlen);
	bool placed[CVM_MAX_VCPUS] = {false};
	for (unsigned int i = 0; prev && i < n && i < prev->nr_vcpus; i++) {
		int cpu = prev->vcpu[i].cpu;
		if (cpu >= 0 && cvm_bit_test(w->v.usable, (unsigned int)cpu) &&
		    !cvm_bit_test(w->taken_cpus, (unsigned int)cpu)) {
			vcpu_pin(w, out, i, (unsigned int)cpu, CVM_WHY_FREE_CORE);
			placed[i] = true;
		}
	}
	unsigned int kept = 0;
	for (unsigned int i = 0; i < n; i++)
		kept += placed[i];
	rank_cores(w, ok_free_core, n - kept);
	w->nr_order = sort_cores(&w->v, w->order);
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned int i = 0; i < n; i++) {
			if (placed[i])
				continue;
			int k = pick_core(w, prev_node(w, prev, i),
			                  pass ? ok_free_cpu : ok_free_core);
			if (k < 0)
				continue;
			vcpu_pin(w, out, i, (unsigned int)core_free_cpu(w, (unsigned int)k),
			         CVM_WHY_FREE_CORE);
			placed[i] = true;
		}
	}
	for (unsigned int i = 0; i < n; i++)
		if (!placed[i])
			return fail_pin(w, err, errlen); /* cannot happen: enough usable CPUs */
	for (;;) {
		int free_k = pick_core(w, CVM_TOPO_NONE, ok_free_core);
		if (free_k < 0)
			break;
		int mover = -1;
		for (unsigned int i = n; i-- > 0;) {
			int k = out->vcpu[i].core;
			if (k < 0 || !core_shared(&w->v, (unsigned int)k, w->used[k]))
				continue;
			bool moved = !prev || prev->vcpu[i].cpu != out->vcpu[i].cpu;
			if (mover < 0 || moved)
				mover = (int)i;
			if (moved)
				break;
		}
		if (mover < 0)
			break;
		struct cvm_vcpu_place *vp = &out->vcpu[mover];
		w->used[vp->core]--;
		cvm_bit_clear(w->taken_cpus, (unsigned int)vp->cpu);
		vcpu_pin(w, out, (unsigned int)mover,
		         (unsigned int)core_free_cpu(w, (unsigned int)free_k), CVM_WHY_FREE_CORE);
	}
	set_peers(&w->v, out);
	return 0;
}

static int fail_smt(struct work *w, unsigned int found, char *err, size_t errlen)
{
	struct sbuf sb;
	sb_init(&sb, err, errlen);
	sb_printf(&sb, "smt-protect needs %u whole cores in ", w->v.rq->nr_vcpus);
	sb_host_cpus(&sb, &w->v);
	sb_printf(&sb, ", found %u", found);
	unsigned int listed = 0, more = 0;
	for (unsigned int i = 0; i < w->nr_order; i++) {
		unsigned int k = w->order[i];
		uint64_t cpus[W], mine[W];
		cvm_topology_core_cpus(w->v.t, k, cpus);
		cvm_bitmap_and(mine, cpus, w->v.allowed, CVM_MAX_HOST_CPUS);
		if (cvm_bitmap_empty(mine, CVM_MAX_HOST_CPUS) || core_whole(&w->v, k))
			continue;
		if (listed == 4) {
			more++;
			continue;
		}
		sb_printf(&sb, "%s", listed ? "; " : ": ");
		sb_core_not_whole(&sb, &w->v, k);
		listed++;
	}
	if (more)
		sb_printf(&sb, "; and %u more", more);
	uint64_t unknown[W];
	cvm_bitmap_and(unknown, w->v.allowed, w->v.t->unknown, CVM_MAX_HOST_CPUS);
	if (!cvm_bitmap_empty(unknown, CVM_MAX_HOST_CPUS)) {
		sb_printf(&sb, "%s", listed ? "; " : ": ");
		sb_cpus(&sb, unknown);
		sb_printf(&sb, " offline, cores unknown");
	}
	return -ENOSPC;
}

/* smt-protect: keep vCPUs whose core is still whole; the others take free whole cores. */
static int place_smt(struct work *w, const struct cvm_placement *prev, struct cvm_placement *out,
                     char *err, size_t errlen)
{
	unsigned int n = w->v.rq->nr_vcpus;
	bool placed[CVM_MAX_VCPUS] = {false};
	unsigned int kept = 0;
	for (unsigned int i = 0; prev && i < n && i < prev->nr_vcpus; i++) {
		int cpu = prev->vcpu[i].cpu;
		if (cpu < 0 || !cvm_bit_test(w->v.usable, (unsigned int)cpu))
			continue;
		int k = w->v.t->cpu[cpu].core;
		if (k < 0 || w->used[k] || !core_whole(&w->v, (unsigned int)k))
			continue;
		vcpu_pin(w, out, i, (unsigned int)cpu, CVM_WHY_WHOLE_CORE);
		placed[i] = true;
		kept++;
	}
	rank_cores(w, ok_whole_core, n - kept);
	w->nr_order = sort_cores(&w->v, w->order);
	unsigned int whole = kept;
	for (unsigned int i = 0; i < w->nr_order; i++)
		whole += ok_whole_core(w, w->order[i]);
	if (whole < n)
		return fail_smt(w, whole, err, errlen);
	for (unsigned int i = 0; i < n; i++) {
		if (placed[i])
			continue;
		int k = pick_core(w, prev_node(w, prev, i), ok_whole_core);
		if (k < 0)
			return fail_smt(w, whole, err, errlen); /* cannot happen: counted above */
		vcpu_pin(w, out, i, w->v.t->core[k].cpus[0], CVM_WHY_WHOLE_CORE);
		placed[i] = true;
	}
	for (unsigned int i = 0; i < n; i++) {
		uint64_t cpus[W];
		cvm_topology_core_cpus(w->v.t, (unsigned int)out->vcpu[i].core, cpus);
		cvm_bitmap_or(out->reserved, out->reserved, cpus, CVM_MAX_HOST_CPUS);
	}
	cvm_bitmap_andnot(out->reserved, out->reserved, w->taken_cpus, CVM_MAX_HOST_CPUS);
	return 0;
}

static int place_float(struct work *w, enum cvm_place_policy policy, struct cvm_placement *out,
                       char *err, size_t errlen)
{
	if (cvm_bitmap_empty(w->v.usable, CVM_MAX_HOST_CPUS)) {
		struct sbuf sb;
		sb_init(&sb, err, errlen);
		sb_printf(&sb, "%s needs a usable CPU in ", cvm_place_policy_name(policy));
		sb_host_cpus(&sb, &w->v);
		sb_printf(&sb, ", found none");
		if (!cvm_bitmap_empty(w->v.allowed, CVM_MAX_HOST_CPUS)) {
			sb_printf(&sb, ": ");
			sb_exclusions(&sb, &w->v, w->v.allowed);
		}
		return -ENOSPC;
	}
	memcpy(out->floating, w->v.usable, sizeof(out->floating));
	for (unsigned int i = 0; i < w->v.rq->nr_vcpus; i++)
		vcpu_float(&out->vcpu[i]);
	return 0;
}

/* Housekeeping: usable CPUs no vCPU and no reserved thread uses, not isolated where possible. */
static void place_housekeeping(struct work *w, struct cvm_placement *out)
{
	uint64_t h[W], not_iso[W];
	cvm_bitmap_andnot(h, w->v.usable, out->vcpu_cpus, CVM_MAX_HOST_CPUS);
	cvm_bitmap_andnot(h, h, out->reserved, CVM_MAX_HOST_CPUS);
	out->housekeeping_shared = false;
	if (cvm_bitmap_empty(h, CVM_MAX_HOST_CPUS)) {
		memcpy(h, out->vcpu_cpus, sizeof(h));
		out->housekeeping_shared = true;
	}
	cvm_bitmap_andnot(not_iso, h, w->v.t->isolated, CVM_MAX_HOST_CPUS);
	memcpy(out->housekeeping, cvm_bitmap_empty(not_iso, CVM_MAX_HOST_CPUS) ? h : not_iso,
	       sizeof(out->housekeeping));
}

static void set_cookies(const struct cvm_place_request *rq, struct cvm_placement *out)
{
	out->cookies = rq->cookies;
	out->cookies_active = rq->cookies != CVM_COOKIE_OFF && rq->cookie_support == 0;
	for (unsigned int i = 0; i < out->nr_vcpus; i++)
		out->vcpu[i].cookie = !out->cookies_active           ? 0
		                      : rq->cookies == CVM_COOKIE_VM ? 1
		                                                     : i + 1;
}

static int check_request(const struct cvm_place_host *h, const struct cvm_place_request *rq,
                         char *err, size_t errlen)
{
	if (!h || !h->topo || !rq || rq->nr_vcpus == 0 || rq->nr_vcpus > CVM_MAX_VCPUS ||
	    (unsigned int)rq->policy > CVM_PLACE_CORE_SCHED ||
	    (unsigned int)rq->cookies > CVM_COOKIE_VCPU ||
	    (unsigned int)rq->fallback > CVM_FALLBACK_NONE) {
		snprintf(err, errlen, "bad placement request (vCPUs must be 1-%u)", CVM_MAX_VCPUS);
		return -EINVAL;
	}
	if (rq->strict && rq->cookies != CVM_COOKIE_OFF && rq->cookie_support) {
		snprintf(err, errlen, "%s with --placement-strict: %s",
		         cvm_place_policy_name(rq->policy),
		         cvm_cookie_unsupported_why(rq->cookie_support));
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Places under `policy` (which may be a fallback of rq->policy), sticky to `prev` when given. */
static int place_as(struct work *w, const struct cvm_place_host *h,
                    const struct cvm_place_request *rq, enum cvm_place_policy policy,
                    const struct cvm_placement *prev, struct cvm_placement *out, char *err,
                    size_t errlen)
{
	memset(out, 0, offsetof(struct cvm_placement, vcpu));
	memset(out->vcpu, 0, sizeof(out->vcpu[0]) * rq->nr_vcpus);
	view_init(&w->v, h, rq);
	memset(w->used, 0, sizeof(w->used[0]) * w->v.nr_cores);
	cvm_bitmap_zero(w->taken_cpus, CVM_MAX_HOST_CPUS);
	w->nr_order = 0;
	out->requested = rq->policy;
	out->effective = policy;
	out->nr_vcpus = rq->nr_vcpus;
	memcpy(out->allowed, w->v.allowed, sizeof(out->allowed));
	memcpy(out->usable, w->v.usable, sizeof(out->usable));
	int r;
	switch (policy) {
	case CVM_PLACE_PIN:
		r = place_pin(w, prev, out, err, errlen);
		break;
	case CVM_PLACE_SMT_PROTECT:
		r = place_smt(w, prev, out, err, errlen);
		break;
	default:
		r = place_float(w, policy, out, err, errlen);
		break;
	}
	if (r)
		return r;
	memcpy(out->vcpu_cpus, w->taken_cpus, sizeof(out->vcpu_cpus));
	for (unsigned int i = 0; i < rq->nr_vcpus; i++) {
		out->vcpu[i].moved_from = -1;
		out->vcpu[i].moved = false;
	}
	place_housekeeping(w, out);
	set_cookies(rq, out);
	return 0;
}

int cvm_place(const struct cvm_place_host *h, const struct cvm_place_request *rq,
              struct cvm_placement *out, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	int r = check_request(h, rq, err, errlen);
	if (r)
		return r;
	struct work w;
	return place_as(&w, h, rq, rq->policy, NULL, out, err, errlen);
}

static bool same_mask(const struct cvm_placement *a, const struct cvm_placement *b, unsigned int i)
{
	uint64_t ma[W], mb[W];
	cvm_placement_vcpu_mask(a, i, ma);
	cvm_placement_vcpu_mask(b, i, mb);
	return !memcmp(ma, mb, sizeof(ma));
}

int cvm_replace(const struct cvm_place_host *h, const struct cvm_place_request *rq,
                const struct cvm_placement *cur, struct cvm_placement *next, char *err,
                size_t errlen)
{
	char why[CVM_PLACE_ERR_LEN];
	if (errlen)
		err[0] = '\0';
	int r = check_request(h, rq, err, errlen);
	if (r)
		return r;
	if (!cur || cur->nr_vcpus != rq->nr_vcpus || cur == next) {
		snprintf(err, errlen, "re-placement of a different VM");
		return -EINVAL;
	}
	struct work w;
	r = place_as(&w, h, rq, rq->policy, cur, next, why, sizeof(why));
	if (r == -ENOSPC) {
		enum cvm_place_policy fb = rq->fallback == CVM_FALLBACK_PIN    ? CVM_PLACE_PIN
		                           : rq->fallback == CVM_FALLBACK_NONE ? CVM_PLACE_NONE
		                                                               : rq->policy;
		bool weaker = fb == CVM_PLACE_NONE ? (rq->policy == CVM_PLACE_PIN ||
		                                      rq->policy == CVM_PLACE_SMT_PROTECT)
		                                   : (fb == CVM_PLACE_PIN &&
		                                      rq->policy == CVM_PLACE_SMT_PROTECT);
		if (!weaker) {
			snprintf(err, errlen, "%s can no longer be met: %s (fallback: %s)",
			         cvm_place_policy_name(rq->policy), why,
			         cvm_place_fallback_name(rq->fallback));
			return -ENOSPC;
		}
		char fb_why[CVM_PLACE_ERR_LEN];
		r = place_as(&w, h, rq, fb, cur, next, fb_why, sizeof(fb_why));
		if (r) {
			snprintf(err, errlen,
			         "%s can no longer be met: %s; nor can fallback %s: %s",
			         cvm_place_policy_name(rq->policy), why, cvm_place_policy_name(fb),
			         fb_why);
			return r;
		}
		next->degraded = true;
		snprintf(next->degraded_why, sizeof(next->degraded_why), "%s", why);
	} else if (r) {
		snprintf(err, errlen, "%s", why);
		return r;
	}
	next->nr_moved = 0;
	for (unsigned int i = 0; i < rq->nr_vcpus; i++) {
		next->vcpu[i].moved_from = cur->vcpu[i].cpu;
		next->vcpu[i].moved = !same_mask(cur, next, i);
		next->nr_moved += next->vcpu[i].moved;
		if (!next->vcpu[i].moved)
			next->vcpu[i].moved_from = -1;
	}
	return 0;
}

void cvm_placement_vcpu_mask(const struct cvm_placement *p, unsigned int vcpu, uint64_t *mask)
{
	cvm_bitmap_zero(mask, CVM_MAX_HOST_CPUS);
	if (vcpu >= p->nr_vcpus)
		return;
	if (p->vcpu[vcpu].cpu >= 0)
		cvm_bit_set(mask, (unsigned int)p->vcpu[vcpu].cpu);
	else
		memcpy(mask, p->floating, sizeof(p->floating));
}

/* ---- validation ---- */

static int invalid(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int invalid(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int validate_pinned(const struct view *v, const struct cvm_placement *p, char *err,
                           size_t errlen)
{
	uint64_t seen[W], reserved[W];
	int32_t used[CVM_MAX_HOST_CPUS];
	cvm_bitmap_zero(seen, CVM_MAX_HOST_CPUS);
	cvm_bitmap_zero(reserved, CVM_MAX_HOST_CPUS);
	memset(used, 0, sizeof(used[0]) * v->nr_cores);
	for (unsigned int i = 0; i < p->nr_vcpus; i++) {
		int cpu = p->vcpu[i].cpu;
		if (cpu < 0)
			return invalid(err, errlen, "vcpu %u floats under %s", i,
			               cvm_place_policy_name(p->effective));
		if (!cvm_bit_test(v->usable, (unsigned int)cpu))
			return invalid(err, errlen, "vcpu %u on cpu %d, which is %s", i, cpu,
			               excluded_why(v, (unsigned int)cpu)
			                       ? excluded_why(v, (unsigned int)cpu)
			                       : "not in the host CPUs");
		if (cvm_bit_test(seen, (unsigned int)cpu))
			return invalid(err, errlen, "vcpu %u on cpu %d, which another vCPU has", i,
			               cpu);
		cvm_bit_set(seen, (unsigned int)cpu);
		int k = v->t->cpu[cpu].core;
		if (k >= 0)
			used[k]++;
		if (p->effective == CVM_PLACE_SMT_PROTECT) {
			if (k < 0 || !core_whole(v, (unsigned int)k))
				return invalid(err, errlen,
				               "vcpu %u on cpu %d, whose core is not whole", i,
				               cpu);
			uint64_t cpus[W];
			cvm_topology_core_cpus(v->t, (unsigned int)k, cpus);
			cvm_bitmap_or(reserved, reserved, cpus, CVM_MAX_HOST_CPUS);
		}
	}
	if (memcmp(seen, p->vcpu_cpus, sizeof(seen)))
		return invalid(err, errlen, "vcpu_cpus does not match the vCPUs' CPUs");
	for (unsigned int k = 0; k < v->nr_cores; k++) {
		if (used[k] > 1 && p->effective == CVM_PLACE_SMT_PROTECT)
			return invalid(err, errlen, "two vCPUs on one core under smt-protect");
		if (core_shared(v, k, used[k])) {
			for (unsigned int f = 0; f < v->nr_cores; f++) {
				if (used[f] || !core_any_usable(v, f) || core_has_taken(v, f))
					continue;
				char a[64], b[64];
				return invalid(err, errlen, "vCPUs share %s while %s is free",
				               cvm_topology_core_name(v->t, k, a, sizeof(a)),
				               cvm_topology_core_name(v->t, f, b, sizeof(b)));
			}
		}
	}
	cvm_bitmap_andnot(reserved, reserved, seen, CVM_MAX_HOST_CPUS);
	if (memcmp(reserved, p->reserved, sizeof(reserved)))
		return invalid(err, errlen,
		               "reserved threads are not the vCPU cores' other threads");
	return 0;
}

int cvm_placement_validate(const struct cvm_place_host *h, const struct cvm_place_request *rq,
                           const struct cvm_placement *p, char *err, size_t errlen)
{
	struct view view, *v = &view;
	uint64_t x[W];

	if (errlen)
		err[0] = '\0';
	if (!p || p->nr_vcpus != rq->nr_vcpus)
		return invalid(err, errlen, "placement is for %u vCPUs, the request for %u",
		               p ? p->nr_vcpus : 0, rq->nr_vcpus);
	if (p->requested != rq->policy || p->degraded != (p->effective != p->requested))
		return invalid(err, errlen, "effective policy %s, requested %s, degraded %d",
		               cvm_place_policy_name(p->effective),
		               cvm_place_policy_name(p->requested), p->degraded);
	view_init(v, h, rq);
	if (p->effective == CVM_PLACE_PIN || p->effective == CVM_PLACE_SMT_PROTECT) {
		int r = validate_pinned(v, p, err, errlen);
		if (r)
			return r;
	} else {
		for (unsigned int i = 0; i < p->nr_vcpus; i++)
			if (p->vcpu[i].cpu >= 0)
				return invalid(err, errlen, "vcpu %u pinned under %s", i,
				               cvm_place_policy_name(p->effective));
		if (memcmp(p->floating, v->usable, sizeof(x)) ||
		    cvm_bitmap_empty(p->floating, CVM_MAX_HOST_CPUS))
			return invalid(err, errlen, "floating CPUs are not the usable CPUs");
	}
	cvm_bitmap_andnot(x, p->housekeeping, v->usable, CVM_MAX_HOST_CPUS);
	if (cvm_bitmap_empty(p->housekeeping, CVM_MAX_HOST_CPUS) ||
	    !cvm_bitmap_empty(x, CVM_MAX_HOST_CPUS))
		return invalid(err, errlen, "housekeeping CPUs empty or not usable");
	cvm_bitmap_and(x, p->housekeeping, p->reserved, CVM_MAX_HOST_CPUS);
	if (!cvm_bitmap_empty(x, CVM_MAX_HOST_CPUS))
		return invalid(err, errlen, "housekeeping on a reserved thread");
	cvm_bitmap_and(x, p->housekeeping, p->vcpu_cpus, CVM_MAX_HOST_CPUS);
	if (!p->housekeeping_shared && !cvm_bitmap_empty(x, CVM_MAX_HOST_CPUS))
		return invalid(err, errlen, "housekeeping on vCPU CPUs although free CPUs exist");
	for (unsigned int i = 0; i < p->nr_vcpus; i++) {
		uint32_t want = !p->cookies_active ? 0 : rq->cookies == CVM_COOKIE_VM ? 1 : i + 1;
		if (p->vcpu[i].cookie != want)
			return invalid(err, errlen, "vcpu %u cookie group %u, expected %u", i,
			               p->vcpu[i].cookie, want);
	}
	return 0;
}

/* ---- explanation ---- */

struct emitter {
	cvm_line_fn *line;
	void *ctx;
	char buf[4096];
	struct sbuf sb;
};

static void em_start(struct emitter *e)
{
	sb_init(&e->sb, e->buf, sizeof(e->buf));
}

static void em_end(struct emitter *e)
{
	e->line(e->ctx, e->buf);
}

static void explain_vcpu(struct emitter *e, const struct view *v, const struct cvm_placement *p,
                         unsigned int i)
{
	const struct cvm_vcpu_place *vp = &p->vcpu[i];
	char name[64], list[1024];
	em_start(e);
	if (vp->cpu < 0) {
		sb_printf(&e->sb, "vcpu %u: cpus %s (floating)", i,
		          cpus_str(p->floating, list, sizeof(list)));
	} else {
		const struct cvm_host_cpu *c = &v->t->cpu[vp->cpu];
		sb_printf(&e->sb, "vcpu %u: cpu %d (%s, node %d): ", i, vp->cpu,
		          vp->core >= 0 ? cvm_topology_core_name(v->t, (unsigned int)vp->core, name,
		                                                 sizeof(name))
		                        : "core ?",
		          (int)c->node);
		if (vp->why == CVM_WHY_WHOLE_CORE) {
			uint64_t cpus[W];
			cvm_topology_core_cpus(v->t, (unsigned int)vp->core, cpus);
			cvm_bit_clear(cpus, (unsigned int)vp->cpu);
			sb_printf(&e->sb, "whole core");
			if (!cvm_bitmap_empty(cpus, CVM_MAX_HOST_CPUS)) {
				sb_printf(&e->sb, ", ");
				sb_cpus(&e->sb, cpus);
				sb_printf(&e->sb, " reserved");
			}
		} else if (vp->why == CVM_WHY_SHARED_CORE) {
			sb_printf(&e->sb, "shares its core with vcpu %d: no free core left",
			          vp->peer);
		} else {
			sb_printf(&e->sb, "free core");
		}
	}
	if (vp->moved)
		sb_printf(&e->sb, vp->moved_from >= 0 ? " [moved from cpu %d]" : " [was floating]",
		          vp->moved_from);
	if (vp->cookie)
		sb_printf(&e->sb, " [cookie %u]", vp->cookie);
	em_end(e);
}

void cvm_placement_explain(const struct cvm_place_host *h, const struct cvm_place_request *rq,
                           const struct cvm_placement *p, cvm_line_fn *line, void *ctx)
{
	struct emitter e = {.line = line, .ctx = ctx};
	struct view view, *v = &view;
	char list[1024];
	uint64_t x[W];

	view_init(v, h, rq);
	em_start(&e);
	sb_printf(&e.sb, "placement: %s for %u vCPUs", cvm_place_policy_name(p->requested),
	          p->nr_vcpus);
	if (rq->cookies != CVM_COOKIE_OFF && p->requested == CVM_PLACE_CORE_SCHED)
		sb_printf(&e.sb, " (cookies per %s)", rq->cookies == CVM_COOKIE_VM ? "VM" : "vCPU");
	sb_printf(&e.sb, ", fallback %s%s", cvm_place_fallback_name(rq->fallback),
	          rq->strict ? ", strict" : "");
	em_end(&e);
	if (p->degraded) {
		em_start(&e);
		sb_printf(&e.sb, "degraded: running as %s (fallback): %s",
		          cvm_place_policy_name(p->effective), p->degraded_why);
		em_end(&e);
	}

	em_start(&e);
	sb_printf(&e.sb, "considered: ");
	sb_host_cpus(&e.sb, v);
	if (!rq->host_cpus_given && !cvm_bitmap_empty(v->t->isolated, CVM_MAX_HOST_CPUS))
		sb_printf(&e.sb, "; isolated %s left out (name them in --host-cpus to use them)",
		          cpus_str(v->t->isolated, list, sizeof(list)));
	em_end(&e);

	em_start(&e);
	sb_printf(&e.sb, "usable: %s", cpus_str(p->usable, list, sizeof(list)));
	cvm_bitmap_andnot(x, p->allowed, p->usable, CVM_MAX_HOST_CPUS);
	if (!cvm_bitmap_empty(x, CVM_MAX_HOST_CPUS)) {
		sb_printf(&e.sb, "; left out: ");
		sb_exclusions(&e.sb, v, x);
	}
	em_end(&e);

	em_start(&e);
	if (v->t->smt_width <= 1)
		sb_printf(&e.sb, "smt: none on this host (one thread per core)");
	else
		sb_printf(&e.sb, "smt: %u threads per core", v->t->smt_width);
	if (p->effective == CVM_PLACE_SMT_PROTECT && v->t->smt_width <= 1)
		sb_printf(&e.sb, ": every core is whole, no sibling to reserve");
	if (!cvm_bitmap_empty(v->t->unknown, CVM_MAX_HOST_CPUS))
		sb_printf(&e.sb, "; cores of offline %s unknown",
		          cpus_str(v->t->unknown, list, sizeof(list)));
	em_end(&e);

	for (unsigned int i = 0; i < p->nr_vcpus; i++)
		explain_vcpu(&e, v, p, i);

	em_start(&e);
	sb_printf(&e.sb, "housekeeping: cpus %s", cpus_str(p->housekeeping, list, sizeof(list)));
	if (p->housekeeping_shared)
		sb_printf(&e.sb, " shared with vCPUs: no usable CPU is free of them");
	else if (p->effective == CVM_PLACE_PIN || p->effective == CVM_PLACE_SMT_PROTECT)
		sb_printf(&e.sb, " (usable CPUs no vCPU uses)");
	em_end(&e);

	if (!cvm_bitmap_empty(p->reserved, CVM_MAX_HOST_CPUS)) {
		em_start(&e);
		sb_printf(&e.sb,
		          "reserved: cpus %s (siblings of vCPU cores: no corevm thread runs there)",
		          cpus_str(p->reserved, list, sizeof(list)));
		em_end(&e);
	}

	em_start(&e);
	if (p->cookies == CVM_COOKIE_OFF)
		sb_printf(&e.sb, "cookies: off");
	else if (p->cookies_active)
		sb_printf(&e.sb, "cookies: core scheduling, one cookie per %s",
		          p->cookies == CVM_COOKIE_VM ? "VM (all vCPU threads)" : "vCPU thread");
	else
		sb_printf(&e.sb, "cookies: wanted per %s but unavailable: %s; continuing without",
		          p->cookies == CVM_COOKIE_VM ? "VM" : "vCPU",
		          cvm_cookie_unsupported_why(rq->cookie_support));
	em_end(&e);
}
