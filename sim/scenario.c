/* Loads and checks simulator scenarios from JSON (format in docs/sim.md, contract in scenario.h). */
#include "sim/scenario.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bitmap.h"
#include "sim/jsonr.h"
#include "util/log.h"

/* Everything a loader needs while reading one document. */
struct loader {
	struct cvm_jr jr;
	struct cvm_sim_scenario *s;
	const char *dir;  /* directory of the scenario file, for relative profile paths */
	uint64_t *others; /* non-housekeeping CPUs */
};

static uint64_t *new_map(struct loader *L)
{
	uint64_t *m =
	        calloc(CVM_BITMAP_WORDS(L->s->host.ncpus ? L->s->host.ncpus : 1), sizeof(uint64_t));
	if (!m)
		cvm_jr_fail(&L->jr, "out of memory");
	return m;
}

static bool read_cpus(struct loader *L, json_object *obj, const char *key, bool required,
                      uint64_t *map)
{
	static const char *const named[] = {"housekeeping", "others", NULL};
	uint64_t *const maps[] = {L->s->host.housekeeping, L->others};
	return cvm_jr_cpus(&L->jr, obj, key, required, L->s->host.ncpus, named, maps, map);
}

/* Runs `fn` on each element of the array at `key` with the path set to key[i]. */
static bool each(struct loader *L, json_object *obj, const char *key, unsigned int max,
                 unsigned int *count, bool (*fn)(struct loader *, json_object *, unsigned int))
{
	json_object *arr = cvm_jr_get(&L->jr, obj, key, false);
	if (!arr)
		return !L->jr.err;
	size_t old = cvm_jr_push_key(&L->jr, key);
	if (!json_object_is_type(arr, json_type_array)) {
		cvm_jr_fail(&L->jr, "expected an array");
	} else if (json_object_array_length(arr) > max) {
		cvm_jr_fail(&L->jr, "at most %u entries, got %zu", max,
		            json_object_array_length(arr));
	} else {
		size_t n = json_object_array_length(arr);
		for (size_t i = 0; i < n && !L->jr.err; i++) {
			size_t o2 = cvm_jr_push_index(&L->jr, i);
			fn(L, json_object_array_get_idx(arr, i), (unsigned int)i);
			cvm_jr_pop(&L->jr, o2);
		}
		if (count && !L->jr.err)
			*count = (unsigned int)n;
	}
	cvm_jr_pop(&L->jr, old);
	return !L->jr.err;
}

/* Enters the object at `key` (path pushed); returns it, or NULL when absent or on error. */
static json_object *sub(struct loader *L, json_object *obj, const char *key, bool required,
                        const char *const *keys, size_t *old)
{
	json_object *v = cvm_jr_get(&L->jr, obj, key, required);
	if (!v)
		return NULL;
	*old = cvm_jr_push_key(&L->jr, key);
	if (!cvm_jr_keys(&L->jr, v, keys)) {
		cvm_jr_pop(&L->jr, *old);
		return NULL;
	}
	return v;
}

/* Reports a problem at `key` below the current path (at the path itself when key is NULL). */
static bool fail_at(struct loader *L, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static bool fail_at(struct loader *L, const char *key, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t old = key ? cvm_jr_push_key(&L->jr, key) : L->jr.len;
	cvm_jr_fail(&L->jr, "%s", msg);
	cvm_jr_pop(&L->jr, old);
	return false;
}

static bool name_from(struct loader *L, json_object *obj, char *buf, const char *fallback,
                      unsigned int i)
{
	snprintf(buf, CVM_SIM_MAX_NAME, "%s%u", fallback, i);
	return cvm_jr_string(&L->jr, obj, "name", false, buf, CVM_SIM_MAX_NAME);
}

static bool noise_one(struct loader *L, json_object *o, unsigned int i)
{
	static const char *const keys[] = {"name",      "kind",    "cpus",   "per_cpu",
	                                   "steerable", "rate",    "period", "jitter",
	                                   "duration",  "hardirq", NULL};
	struct cvm_sim_noise_src *n = &L->s->host.noise[i];
	char kind[16] = "";
	if (!cvm_jr_keys(&L->jr, o, keys) || !name_from(L, o, n->name, "noise", i) ||
	    !cvm_jr_string(&L->jr, o, "kind", true, kind, sizeof(kind)))
		return false;
	if (!strcmp(kind, "irq"))
		n->kind = CVM_NOISE_IRQ;
	else if (!strcmp(kind, "softirq"))
		n->kind = CVM_NOISE_SOFTIRQ;
	else if (!strcmp(kind, "kthread"))
		n->kind = CVM_NOISE_KTHREAD;
	else
		return fail_at(L, "kind", "unknown kind '%s' (irq, softirq, kthread)", kind);
	n->cpus = new_map(L);
	if (!n->cpus)
		return false;
	cvm_bitmap_fill(n->cpus, L->s->host.ncpus);
	n->per_cpu = true;
	n->hardirq_ns = n->kind == CVM_NOISE_SOFTIRQ ? 1000 : 0;
	read_cpus(L, o, "cpus", false, n->cpus);
	cvm_jr_bool(&L->jr, o, "per_cpu", false, &n->per_cpu);
	cvm_jr_bool(&L->jr, o, "steerable", false, &n->steerable);
	if (n->kind != CVM_NOISE_SOFTIRQ && cvm_jr_get(&L->jr, o, "hardirq", false))
		return fail_at(L, "hardirq", "only for kind softirq");
	cvm_jr_duration(&L->jr, o, "hardirq", false, &n->hardirq_ns);
	if (!cvm_jr_get(&L->jr, o, "rate", false) && !cvm_jr_get(&L->jr, o, "period", false) &&
	    !L->jr.err)
		return fail_at(L, NULL, "needs a rate (per second) or a period");
	cvm_jr_arrival(&L->jr, o, &n->arrival);
	cvm_jr_dist(&L->jr, o, "duration", true, &n->duration);
	if (!L->jr.err && cvm_bitmap_empty(n->cpus, L->s->host.ncpus))
		return fail_at(L, "cpus", "names no CPU");
	return !L->jr.err;
}

static bool task_one(struct loader *L, json_object *o, unsigned int i)
{
	static const char *const keys[] = {"name", "count", "cpus", "run", "sleep", NULL};
	struct cvm_sim_task_src *t = &L->s->host.tasks[i];
	t->count = 1;
	if (!cvm_jr_keys(&L->jr, o, keys) || !name_from(L, o, t->name, "task", i))
		return false;
	t->cpus = new_map(L);
	if (!t->cpus)
		return false;
	cvm_bitmap_fill(t->cpus, L->s->host.ncpus);
	cvm_jr_u32(&L->jr, o, "count", false, 0, 4096, &t->count);
	read_cpus(L, o, "cpus", false, t->cpus);
	cvm_jr_dist(&L->jr, o, "run", true, &t->run);
	cvm_jr_dist(&L->jr, o, "sleep", true, &t->sleep);
	if (!L->jr.err && cvm_bitmap_empty(t->cpus, L->s->host.ncpus))
		return fail_at(L, "cpus", "names no CPU");
	return !L->jr.err;
}

static bool hp_event_one(struct loader *L, json_object *o, unsigned int i)
{
	static const char *const keys[] = {"at", "cpu", "op", NULL};
	struct cvm_sim_hp_event *e = &L->s->host.hotplug.events[i];
	char op[16] = "";
	if (!cvm_jr_keys(&L->jr, o, keys) || !cvm_jr_duration(&L->jr, o, "at", true, &e->at) ||
	    !cvm_jr_u32(&L->jr, o, "cpu", true, 0, L->s->host.ncpus - 1, &e->cpu) ||
	    !cvm_jr_string(&L->jr, o, "op", true, op, sizeof(op)))
		return false;
	if (!strcmp(op, "offline"))
		e->op = CVM_HP_OFFLINE;
	else if (!strcmp(op, "online"))
		e->op = CVM_HP_ONLINE;
	else
		return fail_at(L, "op", "unknown op '%s' (offline, online)", op);
	if (e->cpu == 0)
		return fail_at(L, "cpu", "CPU 0 (the boot CPU) cannot go offline or online");
	return true;
}

static bool enable_fail_one(struct loader *L, json_object *o, unsigned int i)
{
	static const char *const keys[] = {"cpus", "probability", NULL};
	uint64_t *map = new_map(L);
	double p = 0.0;
	if (map && cvm_jr_keys(&L->jr, o, keys) && read_cpus(L, o, "cpus", true, map) &&
	    cvm_jr_double(&L->jr, o, "probability", true, 0.0, 1.0, &p)) {
		unsigned int c;
		cvm_bitmap_for_each(c, map, L->s->host.ncpus)
		{
			L->s->host.hotplug.enable_fail[c] = p;
		}
	}
	free(map);
	return !L->jr.err;
}

static bool read_hotplug(struct loader *L, json_object *host)
{
	static const char *const keys[] = {"events", "random", "enable_fail", "probe", NULL};
	static const char *const rkeys[] = {"cpus", "rate", "down", NULL};
	struct cvm_sim_hotplug *hp = &L->s->host.hotplug;
	size_t old;
	hp->probe = true;
	hp->enable_fail = calloc(L->s->host.ncpus, sizeof(double));
	hp->random_cpus = new_map(L);
	if (!hp->enable_fail || !hp->random_cpus)
		return cvm_jr_fail(&L->jr, "out of memory");
	json_object *o = sub(L, host, "hotplug", false, keys, &old);
	if (!o)
		return !L->jr.err;
	each(L, o, "events", CVM_SIM_MAX_LIST, &hp->nevents, hp_event_one);
	each(L, o, "enable_fail", CVM_SIM_MAX_LIST, NULL, enable_fail_one);
	cvm_jr_bool(&L->jr, o, "probe", false, &hp->probe);
	size_t old2;
	json_object *r = sub(L, o, "random", false, rkeys, &old2);
	if (r) {
		hp->random_down = cvm_sim_dist_fixed(10000000);
		read_cpus(L, r, "cpus", true, hp->random_cpus);
		cvm_jr_double(&L->jr, r, "rate", true, 0.0, 1e6, &hp->random_rate);
		cvm_jr_dist(&L->jr, r, "down", false, &hp->random_down);
		if (!L->jr.err && cvm_bit_test(hp->random_cpus, 0))
			fail_at(L, "cpus", "CPU 0 (the boot CPU) cannot go offline");
		cvm_jr_pop(&L->jr, old2);
	}
	cvm_jr_pop(&L->jr, old);
	return !L->jr.err;
}

static bool read_host(struct loader *L, json_object *root)
{
	static const char *const keys[] = {"sockets",      "cores_per_socket", "threads_per_core",
	                                   "housekeeping", "nohz_full",        "tick_hz",
	                                   "tick_cost",    "timeslice",        "noise",
	                                   "tasks",        "hotplug",          NULL};
	struct cvm_sim_host *h = &L->s->host;
	size_t old;
	json_object *o = sub(L, root, "host", true, keys, &old);
	if (!o)
		return false;
	h->tick_hz = 250;
	h->tick_cost = 1500;
	h->timeslice = 3000000;
	if (!cvm_jr_u32(&L->jr, o, "sockets", true, 1, 64, &h->sockets) ||
	    !cvm_jr_u32(&L->jr, o, "cores_per_socket", true, 1, CVM_SIM_MAX_CPUS,
	                &h->cores_per_socket) ||
	    !cvm_jr_u32(&L->jr, o, "threads_per_core", true, 1, CVM_SIM_MAX_THREADS,
	                &h->threads_per_core))
		goto out;
	uint64_t n = (uint64_t)h->sockets * h->cores_per_socket * h->threads_per_core;
	if (n > CVM_SIM_MAX_CPUS) {
		cvm_jr_fail(&L->jr,
		            "sockets x cores_per_socket x threads_per_core = %llu CPUs, more than "
		            "the %u the simulator models",
		            (unsigned long long)n, CVM_SIM_MAX_CPUS);
		goto out;
	}
	h->ncpus = (unsigned int)n;
	h->housekeeping = new_map(L);
	h->nohz_full = new_map(L);
	L->others = new_map(L);
	if (L->jr.err)
		goto out;
	cvm_jr_cpus(&L->jr, o, "housekeeping", false, h->ncpus, NULL, NULL, h->housekeeping);
	cvm_bitmap_fill(L->others, h->ncpus);
	cvm_bitmap_andnot(L->others, L->others, h->housekeeping, h->ncpus);
	read_cpus(L, o, "nohz_full", false, h->nohz_full);
	cvm_jr_u32(&L->jr, o, "tick_hz", false, 0, 10000, &h->tick_hz);
	cvm_jr_duration(&L->jr, o, "tick_cost", false, &h->tick_cost);
	cvm_jr_duration(&L->jr, o, "timeslice", false, &h->timeslice);
	if (!L->jr.err && h->timeslice < 10000) {
		fail_at(L, "timeslice", "must be >= 10us");
		goto out;
	}
	if (!L->jr.err && h->tick_hz && h->tick_cost >= 1000000000ull / h->tick_hz) {
		fail_at(L, "tick_cost", "must be shorter than the tick period");
		goto out;
	}
	each(L, o, "noise", CVM_SIM_MAX_LIST, &h->nnoise, noise_one);
	each(L, o, "tasks", CVM_SIM_MAX_LIST, &h->ntasks, task_one);
	read_hotplug(L, o);
out:
	cvm_jr_pop(&L->jr, old);
	return !L->jr.err;
}

static bool read_smi(struct loader *L, json_object *wl, struct cvm_sim_workload *w)
{
	static const char *const keys[] = {"window", "extra_probability", "extra_delay", "smm_time",
	                                   NULL};
	size_t old;
	json_object *o = sub(L, wl, "smi", false, keys, &old);
	if (!o)
		return !L->jr.err;
	cvm_jr_duration(&L->jr, o, "window", false, &w->smi_window);
	cvm_jr_double(&L->jr, o, "extra_probability", false, 0.0, 1.0, &w->extra_smi_probability);
	cvm_jr_duration(&L->jr, o, "extra_delay", false, &w->extra_smi_delay);
	cvm_jr_dist(&L->jr, o, "smm_time", false, &w->smm_time);
	cvm_jr_pop(&L->jr, old);
	return !L->jr.err;
}

/* Reads {"rate": R} or {"period": P, "jitter": J} at `key`. */
static bool read_arrival_at(struct loader *L, json_object *obj, const char *key, bool required,
                            struct cvm_sim_arrival *a)
{
	static const char *const keys[] = {"rate", "period", "jitter", NULL};
	size_t old;
	json_object *o = sub(L, obj, key, required, keys, &old);
	if (!o)
		return !L->jr.err;
	cvm_jr_arrival(&L->jr, o, a);
	cvm_jr_pop(&L->jr, old);
	return !L->jr.err;
}

static bool read_vmm_work(struct loader *L, json_object *wl, struct cvm_sim_workload *w)
{
	static const char *const keys[] = {"rate", "period", "jitter", "cost", NULL};
	size_t old;
	json_object *o = sub(L, wl, "vmm_work", false, keys, &old);
	if (!o)
		return !L->jr.err;
	cvm_jr_arrival(&L->jr, o, &w->vmm_work);
	cvm_jr_dist(&L->jr, o, "cost", false, &w->vmm_work_cost);
	cvm_jr_pop(&L->jr, old);
	return !L->jr.err;
}

static const char *const workload_names[] = {
        [CVM_WL_CPU_BOUND] = "cpu-bound",   [CVM_WL_TIMER] = "timer",
        [CVM_WL_HLT_IDLE] = "hlt-idle",     [CVM_WL_IPI_PINGPONG] = "ipi-pingpong",
        [CVM_WL_MWAIT_IDLE] = "mwait-idle", [CVM_WL_CPU_HOTPLUG] = "cpu-hotplug",
        [CVM_WL_INIT_SIPI] = "init-sipi",
};

static const char *const mwait_names[] = {
        [CVM_MWAIT_NATIVE] = "native",
        [CVM_MWAIT_NOP] = "nop",
        [CVM_MWAIT_YIELD] = "yield",
        [CVM_MWAIT_EXIT] = "exit",
};

const char *cvm_sim_workload_name(enum cvm_sim_workload_type t)
{
	return workload_names[t];
}

const char *cvm_sim_mwait_name(enum cvm_sim_mwait_policy p)
{
	return mwait_names[p];
}

const char *cvm_sim_noise_kind_name(enum cvm_sim_noise_kind k)
{
	return k == CVM_NOISE_IRQ ? "irq" : k == CVM_NOISE_SOFTIRQ ? "softirq" : "kthread";
}

static int lookup(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return (int)i;
	return -1;
}

/* The keys each workload type accepts beyond "type". */
static const char *const *workload_keys(enum cvm_sim_workload_type t)
{
	static const char *const cpu[] = {"type", "tick_hz", "handler", NULL};
	static const char *const timer[] = {"type",   "tick_hz", "handler", "work",
	                                    "rounds", "oneshot", NULL};
	static const char *const hlt[] = {"type", "tick_hz", "handler", "wake", "busy", NULL};
	static const char *const ipi[] = {"type", "tick_hz", "handler", "think", "rounds", NULL};
	static const char *const mwait[] = {"type",   "tick_hz",  "handler", "wake", "busy",
	                                    "policy", "vmm_work", "poll",    NULL};
	static const char *const hp[] = {"type",    "tick_hz", "handler", "sipi", "period",
	                                 "timeout", "ap_boot", "smi",     NULL};
	static const char *const cycle[] = {"type",   "tick_hz",     "handler", "ap_boot",
	                                    "cycles", "extra_sipis", NULL};
	switch (t) {
	case CVM_WL_CPU_BOUND:
		return cpu;
	case CVM_WL_TIMER:
		return timer;
	case CVM_WL_HLT_IDLE:
		return hlt;
	case CVM_WL_IPI_PINGPONG:
		return ipi;
	case CVM_WL_MWAIT_IDLE:
		return mwait;
	case CVM_WL_CPU_HOTPLUG:
		return hp;
	case CVM_WL_INIT_SIPI:
		return cycle;
	}
	return cpu;
}

static bool read_workload(struct loader *L, json_object *vm, struct cvm_sim_vm_cfg *v)
{
	struct cvm_sim_workload *w = &v->workload;
	json_object *o = cvm_jr_get(&L->jr, vm, "workload", true);
	if (!o)
		return false;
	size_t old = cvm_jr_push_key(&L->jr, "workload");
	char type[24] = "", s[16] = "";
	if (!json_object_is_type(o, json_type_object)) {
		cvm_jr_fail(&L->jr, "expected an object");
		goto out;
	}
	if (!cvm_jr_string(&L->jr, o, "type", true, type, sizeof(type)))
		goto out;
	int t = lookup(workload_names, sizeof(workload_names) / sizeof(*workload_names), type);
	if (t < 0) {
		fail_at(L, "type",
		        "unknown workload '%s' (cpu-bound, timer, hlt-idle, ipi-pingpong, "
		        "mwait-idle, cpu-hotplug, init-sipi)",
		        type);
		goto out;
	}
	*w = (struct cvm_sim_workload){
	        .type = (enum cvm_sim_workload_type)t,
	        .tick_hz = t == CVM_WL_CPU_BOUND || t == CVM_WL_TIMER ? 250 : 0,
	        .handler = 2000,
	        .work = cvm_sim_dist_fixed(50000),
	        .think = cvm_sim_dist_fixed(5000),
	        .vmm_work_cost = cvm_sim_dist_fixed(20000),
	        .mwait_poll = 1000,
	        .online_period = 10000000,
	        .sipi_timeout = 1000000,
	        .ap_boot = 20000,
	        .smi_window = 200000,
	        .extra_smi_delay = 20000,
	        .smm_time = cvm_sim_dist_fixed(100000),
	        .cycles = 10,
	        .extra_sipis = 1,
	};
	if (!cvm_jr_keys(&L->jr, o, workload_keys(w->type)))
		goto out;
	cvm_jr_u32(&L->jr, o, "tick_hz", false, 0, 100000, &w->tick_hz);
	cvm_jr_duration(&L->jr, o, "handler", false, &w->handler);
	cvm_jr_dist(&L->jr, o, "work", false, &w->work);
	cvm_jr_dist(&L->jr, o, "think", false, &w->think);
	cvm_jr_u32(&L->jr, o, "rounds", false, 0, 1000000000, &w->rounds);
	cvm_jr_bool(&L->jr, o, "oneshot", false, &w->oneshot);
	if (!L->jr.err && w->oneshot && !w->tick_hz)
		fail_at(L, "oneshot", "needs tick_hz > 0 (the one-shot delay is 1/tick_hz)");
	bool idle = w->type == CVM_WL_HLT_IDLE || w->type == CVM_WL_MWAIT_IDLE;
	read_arrival_at(L, o, "wake", idle, &w->wake);
	cvm_jr_dist(&L->jr, o, "busy", idle, &w->busy);
	if (w->type == CVM_WL_MWAIT_IDLE) {
		cvm_jr_duration(&L->jr, o, "poll", false, &w->mwait_poll);
		read_vmm_work(L, o, w);
		if (cvm_jr_string(&L->jr, o, "policy", true, s, sizeof(s))) {
			int p = lookup(mwait_names, 4, s);
			if (p < 0)
				fail_at(L, "policy",
				        "unknown MWAIT policy '%s' (native, nop, yield, exit)", s);
			w->mwait = (enum cvm_sim_mwait_policy)p;
		}
		if (!L->jr.err && !w->mwait_poll)
			fail_at(L, "poll", "must be > 0");
	}
	if (w->type == CVM_WL_CPU_HOTPLUG) {
		cvm_jr_duration(&L->jr, o, "period", false, &w->online_period);
		cvm_jr_duration(&L->jr, o, "timeout", false, &w->sipi_timeout);
		cvm_jr_duration(&L->jr, o, "ap_boot", false, &w->ap_boot);
		read_smi(L, o, w);
		if (cvm_jr_string(&L->jr, o, "sipi", true, s, sizeof(s))) {
			if (!strcmp(s, "single"))
				w->sipi = CVM_SIPI_SINGLE;
			else if (!strcmp(s, "retry"))
				w->sipi = CVM_SIPI_RETRY;
			else
				fail_at(L, "sipi", "unknown SIPI mode '%s' (single, retry)", s);
		}
		if (!L->jr.err && v->vcpus < 2)
			fail_at(L, NULL, "cpu-hotplug needs a VM of at least 2 vCPUs");
		if (!L->jr.err && (!w->online_period || !w->sipi_timeout))
			fail_at(L, w->online_period ? "timeout" : "period", "must be > 0");
	}
	if (w->type == CVM_WL_INIT_SIPI) {
		cvm_jr_duration(&L->jr, o, "ap_boot", false, &w->ap_boot);
		cvm_jr_u32(&L->jr, o, "cycles", false, 1, 1000000000, &w->cycles);
		cvm_jr_u32(&L->jr, o, "extra_sipis", false, 0, 1000, &w->extra_sipis);
		if (!L->jr.err && v->vcpus < 2)
			fail_at(L, NULL, "init-sipi needs a VM of at least 2 vCPUs");
	}
	if (!L->jr.err && w->type == CVM_WL_IPI_PINGPONG && v->vcpus % 2)
		fail_at(L, NULL, "ipi-pingpong pairs vCPUs: the VM needs an even count");
	if (!L->jr.err && w->tick_hz && w->handler >= 1000000000ull / w->tick_hz)
		fail_at(L, "handler", "must be shorter than the tick period");
out:
	cvm_jr_pop(&L->jr, old);
	return !L->jr.err;
}

static bool vm_one(struct loader *L, json_object *o, unsigned int i)
{
	static const char *const keys[] = {"name",        "vcpus",    "count",
	                                   "smt_protect", "workload", NULL};
	struct cvm_sim_vm_cfg *v = &L->s->vms[i];
	v->count = 1;
	if (!cvm_jr_keys(&L->jr, o, keys) || !name_from(L, o, v->name, "vm", i) ||
	    !cvm_jr_u32(&L->jr, o, "vcpus", true, 1, CVM_SIM_MAX_VM_VCPUS, &v->vcpus) ||
	    !cvm_jr_u32(&L->jr, o, "count", false, 1, CVM_SIM_MAX_VCPUS, &v->count) ||
	    !cvm_jr_bool(&L->jr, o, "smt_protect", false, &v->smt_protect))
		return false;
	if (!read_workload(L, o, v))
		return false;
	uint64_t total = (uint64_t)L->s->total_vcpus + (uint64_t)v->vcpus * v->count;
	if (total > CVM_SIM_MAX_VCPUS)
		return fail_at(L, NULL, "more than 8192 vCPUs in all");
	L->s->total_vcpus = (unsigned int)total;
	return true;
}

static bool read_strategies(struct loader *L, json_object *root)
{
	static const char *const keys[] = {"plain", "core-cookie", "sibling-offline",
	                                   "gang",  "partition",   NULL};
	static const char *const none[] = {NULL};
	static const char *const so[] = {"hotplug_latency", "lock_hold", NULL};
	static const char *const part[] = {"max_defer", NULL};
	struct cvm_sim_strategy_params *p = &L->s->params;
	size_t old, o2;
	json_object *o = sub(L, root, "strategies", false, keys, &old);
	if (!o)
		return !L->jr.err;
	static const char *const *const per[] = {none, none, so, none, part};
	for (unsigned int k = 0; k < 5 && !L->jr.err; k++) {
		json_object *x = sub(L, o, keys[k], false, per[k], &o2);
		if (!x)
			continue;
		cvm_jr_duration(&L->jr, x, "hotplug_latency", false, &p->hotplug_latency);
		cvm_jr_duration(&L->jr, x, "lock_hold", false, &p->lock_hold);
		cvm_jr_duration(&L->jr, x, "max_defer", false, &p->max_defer);
		cvm_jr_pop(&L->jr, o2);
	}
	cvm_jr_pop(&L->jr, old);
	return !L->jr.err;
}

static bool read_watchdog(struct loader *L, json_object *root)
{
	static const char *const keys[] = {"threshold", "thresholds", "quantum", NULL};
	struct cvm_sim_watchdog *w = &L->s->watchdog;
	size_t old;
	json_object *o = sub(L, root, "watchdog", false, keys, &old);
	if (!o)
		return !L->jr.err;
	cvm_jr_duration(&L->jr, o, "threshold", false, &w->threshold);
	cvm_jr_duration(&L->jr, o, "quantum", false, &w->quantum);
	json_object *arr = cvm_jr_get(&L->jr, o, "thresholds", false);
	if (arr) {
		size_t o2 = cvm_jr_push_key(&L->jr, "thresholds");
		if (!json_object_is_type(arr, json_type_array) ||
		    json_object_array_length(arr) > 8) {
			cvm_jr_fail(&L->jr, "expected an array of at most 8 durations");
		} else {
			w->nthresholds = 0;
			for (size_t i = 0; i < json_object_array_length(arr) && !L->jr.err; i++) {
				size_t o3 = cvm_jr_push_index(&L->jr, i);
				uint64_t t = 0;
				if (cvm_jr_duration_value(&L->jr, json_object_array_get_idx(arr, i),
				                          &t) &&
				    !t)
					cvm_jr_fail(&L->jr, "must be > 0");
				w->thresholds[w->nthresholds++] = t;
				cvm_jr_pop(&L->jr, o3);
			}
		}
		cvm_jr_pop(&L->jr, o2);
	}
	if (!L->jr.err && (!w->threshold || !w->quantum))
		fail_at(L, w->threshold ? "quantum" : "threshold", "must be > 0");
	cvm_jr_pop(&L->jr, old);
	return !L->jr.err;
}

static bool tolerance_one(struct loader *L, json_object *o, unsigned int i)
{
	static const char *const keys[] = {"metric", "relative", NULL};
	struct cvm_sim_tolerance *t = &L->s->tolerance[i];
	return cvm_jr_keys(&L->jr, o, keys) &&
	       cvm_jr_string(&L->jr, o, "metric", true, t->metric, sizeof(t->metric)) &&
	       cvm_jr_double(&L->jr, o, "relative", true, 0.0, 1.0, &t->relative);
}

static bool read_costs(struct loader *L, json_object *root)
{
	cvm_sim_costs_default(&L->s->costs);
	json_object *c = cvm_jr_get(&L->jr, root, "cost_profile", false);
	if (!c)
		return !L->jr.err;
	size_t old = cvm_jr_push_key(&L->jr, "cost_profile");
	if (json_object_is_type(c, json_type_object)) {
		cvm_sim_costs_read(&L->jr, c, &L->s->costs);
	} else if (!json_object_is_type(c, json_type_string)) {
		cvm_jr_fail(&L->jr, "expected \"default\", a file name or an object");
	} else if (strcmp(json_object_get_string(c), "default")) {
		const char *name = json_object_get_string(c);
		char path[512];
		if (name[0] == '/' || !L->dir)
			snprintf(path, sizeof(path), "%s", name);
		else
			snprintf(path, sizeof(path), "%s/%s", L->dir, name);
		char *text = NULL;
		int r = __cvm_read_file(path, 1 << 20, &text);
		if (r) {
			cvm_jr_fail(&L->jr, "cannot use cost profile '%s': %s", name, strerror(-r));
		} else {
			/* the profile's own errors name the profile file and its keys */
			struct cvm_jr sub;
			cvm_jr_init(&sub, path);
			json_object *prof = cvm_jr_parse(&sub, text);
			if (prof)
				cvm_sim_costs_read(&sub, prof, &L->s->costs);
			json_object_put(prof);
			if (sub.err)
				L->jr.err = sub.err; /* reported once, by `sub` */
		}
		free(text);
	}
	cvm_jr_pop(&L->jr, old);
	return !L->jr.err;
}

static int load(const char *name, const char *dir, const char *text, struct cvm_sim_scenario **out)
{
	static const char *const keys[] = {"name",         "description", "seed", "duration",
	                                   "cost_profile", "host",        "vms",  "strategies",
	                                   "watchdog",     "golden",      NULL};
	static const char *const gkeys[] = {"tolerance", NULL};
	struct loader L = {.dir = dir};
	cvm_jr_init(&L.jr, name);
	L.s = calloc(1, sizeof(*L.s));
	if (!L.s) {
		cvm_err("sim", "%s: out of memory", name);
		return -ENOMEM;
	}
	struct cvm_sim_scenario *s = L.s;
	snprintf(s->path, sizeof(s->path), "%s", name);
	s->seed = 1;
	s->params = (struct cvm_sim_strategy_params){
	        .hotplug_latency = 1000000, .lock_hold = 200000, .max_defer = 1000000};
	s->watchdog = (struct cvm_sim_watchdog){
	        .threshold = 21000000000ull,
	        .thresholds = {100000000ull, 1000000000ull, 5000000000ull},
	        .nthresholds = 3,
	        .quantum = 100000,
	};
	json_object *root = cvm_jr_parse(&L.jr, text);
	if (root && cvm_jr_keys(&L.jr, root, keys)) {
		cvm_jr_string(&L.jr, root, "name", false, s->name, sizeof(s->name));
		cvm_jr_string(&L.jr, root, "description", false, s->description,
		              sizeof(s->description));
		cvm_jr_uint(&L.jr, root, "seed", false, 0, UINT64_MAX, &s->seed);
		cvm_jr_duration(&L.jr, root, "duration", true, &s->duration);
		if (!L.jr.err && !s->duration)
			fail_at(&L, "duration", "must be > 0");
		read_costs(&L, root);
		if (!L.jr.err)
			read_host(&L, root);
		if (!L.jr.err)
			each(&L, root, "vms", CVM_SIM_MAX_LIST, &s->nvms, vm_one);
		read_strategies(&L, root);
		read_watchdog(&L, root);
		size_t old;
		json_object *g = sub(&L, root, "golden", false, gkeys, &old);
		if (g) {
			each(&L, g, "tolerance", CVM_SIM_MAX_TOLERANCE, &s->ntolerance,
			     tolerance_one);
			cvm_jr_pop(&L.jr, old);
		}
		if (!L.jr.err && !s->nvms)
			fail_at(&L, "vms", "needs at least one VM");
		if (!L.jr.err && !s->name[0]) {
			const char *b = strrchr(name, '/');
			snprintf(s->name, sizeof(s->name), "%s", b ? b + 1 : name);
		}
	}
	json_object_put(root);
	free(L.others);
	if (L.jr.err) {
		cvm_sim_scenario_free(s);
		return L.jr.err;
	}
	*out = s;
	return 0;
}

int cvm_sim_scenario_parse(const char *name, const char *text, struct cvm_sim_scenario **out)
{
	return load(name, NULL, text, out);
}

int cvm_sim_scenario_load(const char *path, struct cvm_sim_scenario **out)
{
	char *text;
	int r = __cvm_read_file(path, 16 << 20, &text);
	if (r) {
		cvm_err("sim", "scenario %s: %s", path,
		        r == -EINVAL ? "contains a NUL byte" : strerror(-r));
		return r;
	}
	char *copy = strdup(path);
	if (!copy) {
		free(text);
		cvm_err("sim", "scenario %s: out of memory", path);
		return -ENOMEM;
	}
	r = load(path, dirname(copy), text, out);
	free(copy);
	free(text);
	return r;
}

void cvm_sim_scenario_free(struct cvm_sim_scenario *s)
{
	if (!s)
		return;
	free(s->host.housekeeping);
	free(s->host.nohz_full);
	for (unsigned int i = 0; i < CVM_SIM_MAX_LIST; i++) {
		free(s->host.noise[i].cpus);
		free(s->host.tasks[i].cpus);
	}
	free(s->host.hotplug.random_cpus);
	free(s->host.hotplug.enable_fail);
	free(s);
}
