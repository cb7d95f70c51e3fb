/* The pure host-topology model: building cores from sibling sets, online state, derived counts and names. */
#include "host/topology.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void cpu_clear(struct cvm_host_cpu *c)
{
	c->package = c->die = c->cluster = c->core_id = c->node = CVM_TOPO_NONE;
	c->core = CVM_TOPO_NONE;
}

int cvm_topology_init(struct cvm_host_topology *t, unsigned int nr_cpus)
{
	if (nr_cpus == 0 || nr_cpus > CVM_MAX_HOST_CPUS)
		return -ERANGE;
	memset(t, 0, sizeof(*t));
	t->nr_cpus = nr_cpus;
	cvm_bitmap_fill(t->possible, nr_cpus);
	cvm_bitmap_fill(t->present, nr_cpus);
	t->smt_active = -1;
	for (unsigned int i = 0; i < CVM_MAX_HOST_CPUS; i++)
		cpu_clear(&t->cpu[i]);
	cvm_topology_finish(t);
	return 0;
}

int cvm_topology_synth(struct cvm_host_topology *t, unsigned int sockets, unsigned int cores,
                       unsigned int threads)
{
	if (!sockets || !cores || !threads || threads > CVM_MAX_SMT ||
	    (unsigned long)sockets * cores * threads > CVM_MAX_HOST_CPUS)
		return -ERANGE;
	unsigned int per_thread = sockets * cores;
	int r = cvm_topology_init(t, per_thread * threads);
	if (r)
		return r;
	for (unsigned int s = 0; s < sockets; s++) {
		for (unsigned int c = 0; c < cores; c++) {
			CVM_BITMAP(sib, CVM_MAX_HOST_CPUS);
			cvm_bitmap_zero(sib, CVM_MAX_HOST_CPUS);
			for (unsigned int th = 0; th < threads; th++)
				cvm_bit_set(sib, th * per_thread + s * cores + c);
			struct cvm_cpu_ids ids = {.package = (int32_t)s,
			                          .die = 0,
			                          .cluster = CVM_TOPO_NONE,
			                          .core_id = (int32_t)c,
			                          .node = (int32_t)s};
			for (unsigned int th = 0; th < threads; th++) {
				r = cvm_topology_assign(t, th * per_thread + s * cores + c, &ids,
				                        sib);
				if (r < 0)
					return r;
			}
		}
	}
	cvm_bitmap_fill(t->online, t->nr_cpus);
	snprintf(t->smt_control, sizeof(t->smt_control), "%s", threads > 1 ? "on" : "notsupported");
	t->smt_active = threads > 1;
	cvm_topology_finish(t);
	return 0;
}

static bool ids_match(const struct cvm_host_core *k, const struct cvm_cpu_ids *ids)
{
	return k->package == ids->package && k->die == ids->die && k->cluster == ids->cluster &&
	       k->core_id == ids->core_id;
}

/* Removes `cpu` from its core (if any); the slot empties when it was the last thread. */
static void core_detach(struct cvm_host_topology *t, unsigned int cpu)
{
	int ki = t->cpu[cpu].core;
	if (ki < 0)
		return;
	struct cvm_host_core *k = &t->core[ki];
	unsigned int j = 0;
	for (unsigned int i = 0; i < k->nr_threads; i++)
		if (k->cpus[i] != cpu)
			k->cpus[j++] = k->cpus[i];
	k->nr_threads = j;
	t->cpu[cpu].core = CVM_TOPO_NONE;
}

/* Adds `cpu` to core `ki` keeping the thread list ascending. */
static int core_attach(struct cvm_host_topology *t, int ki, unsigned int cpu)
{
	struct cvm_host_core *k = &t->core[ki];
	if (k->nr_threads >= CVM_MAX_SMT)
		return -E2BIG;
	unsigned int i = k->nr_threads;
	while (i > 0 && k->cpus[i - 1] > cpu) {
		k->cpus[i] = k->cpus[i - 1];
		i--;
	}
	k->cpus[i] = (uint16_t)cpu;
	k->nr_threads++;
	t->cpu[cpu].core = ki;
	return 0;
}

static int core_new(struct cvm_host_topology *t, const struct cvm_cpu_ids *ids)
{
	int ki = -1;
	for (unsigned int i = 0; i < t->nr_cores; i++) {
		if (t->core[i].nr_threads == 0) {
			ki = (int)i;
			break;
		}
	}
	if (ki < 0) {
		if (t->nr_cores >= CVM_MAX_HOST_CPUS)
			return -E2BIG;
		ki = (int)t->nr_cores++;
	}
	struct cvm_host_core *k = &t->core[ki];
	memset(k, 0, sizeof(*k));
	k->package = ids->package;
	k->die = ids->die;
	k->cluster = ids->cluster;
	k->core_id = ids->core_id;
	k->node = ids->node;
	return ki;
}

int cvm_topology_assign(struct cvm_host_topology *t, unsigned int cpu,
                        const struct cvm_cpu_ids *ids, const uint64_t *siblings)
{
	if (cpu >= t->nr_cpus || !cvm_bit_test(siblings, cpu))
		return -EINVAL;
	if (cvm_bitmap_next(siblings, CVM_MAX_HOST_CPUS, t->nr_cpus) < CVM_MAX_HOST_CPUS)
		return -EINVAL;
	if (cvm_bitmap_weight(siblings, CVM_MAX_HOST_CPUS) > CVM_MAX_SMT)
		return -E2BIG;

	struct cvm_host_cpu *c = &t->cpu[cpu];
	c->package = ids->package;
	c->die = ids->die;
	c->cluster = ids->cluster;
	c->core_id = ids->core_id;
	c->node = ids->node;

	/* The core of a sibling already known with the same ids wins. */
	int target = CVM_TOPO_NONE;
	unsigned int s;
	cvm_bitmap_for_each(s, siblings, t->nr_cpus)
	{
		int ks = t->cpu[s].core;
		if (s != cpu && ks >= 0 && ids_match(&t->core[ks], ids)) {
			target = ks;
			break;
		}
	}
	/* Else the core it was in, when nothing contradicts it. */
	int cur = c->core;
	if (target < 0 && cur >= 0 && ids_match(&t->core[cur], ids)) {
		bool clash = false;
		cvm_bitmap_for_each(s, siblings, t->nr_cpus)
		{
			if (s != cpu && t->cpu[s].core >= 0 && t->cpu[s].core != cur)
				clash = true;
		}
		if (!clash)
			target = cur;
	}
	if (target >= 0 && target == cur) {
		t->core[cur].node = ids->node;
		return cur;
	}
	core_detach(t, cpu);
	if (target < 0) {
		target = core_new(t, ids);
		if (target < 0)
			return target;
	}
	int r = core_attach(t, target, cpu);
	if (r)
		return r;
	t->core[target].node = ids->node;
	return target;
}

void cvm_topology_set_online(struct cvm_host_topology *t, unsigned int cpu, bool online)
{
	if (cpu >= t->nr_cpus)
		return;
	if (online)
		cvm_bit_set(t->online, cpu);
	else
		cvm_bit_clear(t->online, cpu);
}

void cvm_topology_finish(struct cvm_host_topology *t)
{
	CVM_BITMAP(nodes, CVM_MAX_NUMA_NODES);

	t->smt_width = 1;
	t->nr_packages = 0;
	for (unsigned int k = 0; k < t->nr_cores; k++) {
		const struct cvm_host_core *c = &t->core[k];
		if (!c->nr_threads)
			continue;
		if (c->nr_threads > t->smt_width)
			t->smt_width = c->nr_threads;
		bool seen = false;
		for (unsigned int j = 0; j < k && !seen; j++)
			seen = t->core[j].nr_threads && t->core[j].package == c->package;
		t->nr_packages += !seen;
	}
	cvm_bitmap_zero(t->unknown, CVM_MAX_HOST_CPUS);
	cvm_bitmap_zero(nodes, CVM_MAX_NUMA_NODES);
	unsigned int cpu;
	cvm_bitmap_for_each(cpu, t->present, t->nr_cpus)
	{
		const struct cvm_host_cpu *c = &t->cpu[cpu];
		if (c->core < 0)
			cvm_bit_set(t->unknown, cpu);
		if (c->node >= 0 && (unsigned int)c->node < CVM_MAX_NUMA_NODES)
			cvm_bit_set(nodes, (unsigned int)c->node);
	}
	t->nr_nodes = cvm_bitmap_weight(nodes, CVM_MAX_NUMA_NODES);
}

int cvm_topology_core_of(const struct cvm_host_topology *t, unsigned int cpu)
{
	if (cpu >= t->nr_cpus)
		return CVM_TOPO_NONE;
	return t->cpu[cpu].core;
}

bool cvm_topology_core_maybe_partial(const struct cvm_host_topology *t, unsigned int k)
{
	if (k >= t->nr_cores)
		return false;
	return t->core[k].nr_threads < t->smt_width &&
	       !cvm_bitmap_empty(t->unknown, CVM_MAX_HOST_CPUS);
}

void cvm_topology_core_cpus(const struct cvm_host_topology *t, unsigned int k, uint64_t *map)
{
	cvm_bitmap_zero(map, CVM_MAX_HOST_CPUS);
	if (k >= t->nr_cores)
		return;
	for (unsigned int i = 0; i < t->core[k].nr_threads; i++)
		cvm_bit_set(map, t->core[k].cpus[i]);
}

/* Whether package `pkg` has cores on more than one die. */
static bool package_has_dies(const struct cvm_host_topology *t, int32_t pkg)
{
	int32_t die = CVM_TOPO_NONE;
	for (unsigned int k = 0; k < t->nr_cores; k++) {
		const struct cvm_host_core *c = &t->core[k];
		if (!c->nr_threads || c->package != pkg || c->die == CVM_TOPO_NONE)
			continue;
		if (die != CVM_TOPO_NONE && die != c->die)
			return true;
		die = c->die;
	}
	return false;
}

const char *cvm_topology_core_name(const struct cvm_host_topology *t, unsigned int k, char *buf,
                                   size_t len)
{
	if (k >= t->nr_cores) {
		snprintf(buf, len, "core ?");
		return buf;
	}
	const struct cvm_host_core *c = &t->core[k];
	char pkg[48] = "", die[24] = "";
	if (t->nr_packages > 1)
		snprintf(pkg, sizeof(pkg), "package %d ", (int)c->package);
	if (package_has_dies(t, c->package))
		snprintf(die, sizeof(die), "die %d ", (int)c->die);
	snprintf(buf, len, "%s%score %d", pkg, die, (int)c->core_id);
	return buf;
}
