/* Reads the host topology from a sysfs tree (/sys, or a fixture tree in tests) into the plain struct of topology.h. */
#include "host/topology.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/parse.h"

/* Longest sysfs file read: a CPU list of 1024 CPUs written one by one fits. */
#define SYSFS_FILE_MAX 8192

/* read_cpu_topology(): the CPU has no topology/ directory (offline on x86). */
#define NO_TOPOLOGY 1

struct reader {
	const char *root;
	char *err;
	size_t errlen;
	char path[PATH_MAX];
	char buf[SYSFS_FILE_MAX];
};

static int fail(struct reader *rd, int r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int fail(struct reader *rd, int r, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(rd->err, rd->errlen, "%s: %s", rd->path, what);
	return r;
}

static void set_path(struct reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_path(struct reader *rd, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(rd->path, sizeof(rd->path), "%s/devices/system/", rd->root);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(rd->path))
		vsnprintf(rd->path + n, sizeof(rd->path) - (size_t)n, fmt, ap);
	va_end(ap);
}

/*
 * Reads rd->path into rd->buf without its final newline. Returns 0, -ENOENT
 * (absent; no error text), or another -errno with the error text set.
 */
static int read_text(struct reader *rd)
{
	int fd = open(rd->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return -ENOENT;
		return fail(rd, -errno, "cannot open: %s", strerror(errno));
	}
	size_t n = 0;
	for (;;) {
		ssize_t got = read(fd, rd->buf + n, sizeof(rd->buf) - 1 - n);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return fail(rd, -e, "cannot read: %s", strerror(e));
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n == sizeof(rd->buf) - 1) {
			close(fd);
			return fail(rd, -EFBIG, "longer than %zu bytes", sizeof(rd->buf) - 1);
		}
	}
	close(fd);
	if (memchr(rd->buf, '\0', n))
		return fail(rd, -EINVAL, "contains a NUL byte");
	if (n > 0 && rd->buf[n - 1] == '\n')
		n--;
	rd->buf[n] = '\0';
	return 0;
}

/* A CPU list file; absent is an error when `required`, else an empty set. */
static int read_cpulist(struct reader *rd, uint64_t *map, bool required)
{
	int r = read_text(rd);
	if (r == -ENOENT) {
		cvm_bitmap_zero(map, CVM_MAX_HOST_CPUS);
		return required ? fail(rd, r, "missing") : 0;
	}
	if (r)
		return r;
	r = cvm_parse_cpulist(rd->buf, map, CVM_MAX_HOST_CPUS);
	if (r == -ERANGE)
		return fail(rd, r, "'%.40s' names a CPU beyond corevm's limit of %u host CPUs",
		            rd->buf, CVM_MAX_HOST_CPUS);
	if (r)
		return fail(rd, r, "not a CPU list: '%.40s'", rd->buf);
	return 0;
}

/* An id file: a decimal number up to INT32_MAX, or -1. Absent: CVM_TOPO_NONE unless `required`. */
static int read_id(struct reader *rd, int32_t *out, bool required)
{
	int r = read_text(rd);
	if (r == -ENOENT) {
		*out = CVM_TOPO_NONE;
		return required ? fail(rd, r, "missing for an online CPU") : 0;
	}
	if (r)
		return r;
	if (!strcmp(rd->buf, "-1")) {
		*out = CVM_TOPO_NONE;
		return 0;
	}
	uint64_t v;
	bool digits = rd->buf[0] != '\0' && strspn(rd->buf, "0123456789") == strlen(rd->buf);
	if (!digits || cvm_parse_u64(rd->buf, 0, INT32_MAX, &v))
		return fail(rd, -EINVAL, "not an id: '%.40s'", rd->buf);
	*out = (int32_t)v;
	return 0;
}

/*
 * Calls fn(rd, N, ctx) for each "nodeN" entry of the directory rd->path names,
 * stopping at the first error; N beyond the node limit is an error naming it.
 */
static int scan_nodes(struct reader *rd, int (*fn)(struct reader *rd, unsigned int node, void *ctx),
                      void *ctx)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", rd->path);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	int r = 0;
	while (!r && (e = readdir(d)) != NULL) {
		const char *s = e->d_name;
		uint64_t v;
		if (strncmp(s, "node", 4) || !s[4] || strspn(s + 4, "0123456789") != strlen(s + 4))
			continue;
		if (cvm_parse_u64(s + 4, 0, CVM_MAX_NUMA_NODES - 1, &v)) {
			snprintf(rd->path, sizeof(rd->path), "%.*s/%s", PATH_MAX / 2, dir, s);
			r = fail(rd, -ERANGE, "beyond corevm's limit of %u NUMA nodes",
			         CVM_MAX_NUMA_NODES);
			break;
		}
		r = fn(rd, (unsigned int)v, ctx);
		snprintf(rd->path, sizeof(rd->path), "%s", dir);
	}
	closedir(d);
	return r;
}

static int cpu_node_link(struct reader *rd, unsigned int node, void *ctx)
{
	int32_t *out = ctx;
	if (*out != CVM_TOPO_NONE && *out != (int32_t)node)
		return fail(rd, -EINVAL, "links to two NUMA nodes (%d and %u)", (int)*out, node);
	*out = (int32_t)node;
	return 0;
}

/* The node of `cpu` from its nodeN entry, CVM_TOPO_NONE when there is none. */
static int read_cpu_node(struct reader *rd, unsigned int cpu, int32_t *node)
{
	*node = CVM_TOPO_NONE;
	set_path(rd, "cpu/cpu%u", cpu);
	return scan_nodes(rd, cpu_node_link, node);
}

static int node_cpulist(struct reader *rd, unsigned int node, void *ctx)
{
	struct cvm_host_topology *t = ctx;
	CVM_BITMAP(cpus, CVM_MAX_HOST_CPUS);
	set_path(rd, "node/node%u/cpulist", node);
	int r = read_cpulist(rd, cpus, false);
	if (r)
		return r;
	unsigned int cpu;
	cvm_bitmap_for_each(cpu, cpus, t->nr_cpus)
	{
		if (t->cpu[cpu].node == CVM_TOPO_NONE)
			t->cpu[cpu].node = (int32_t)node;
	}
	return 0;
}

/* Fills nodes of CPUs without a nodeN link from ROOT/devices/system/node/nodeN/cpulist. */
static int read_node_lists(struct reader *rd, struct cvm_host_topology *t)
{
	set_path(rd, "node");
	return scan_nodes(rd, node_cpulist, t);
}

/* Reads one CPU's topology/ directory. Returns 0, NO_TOPOLOGY when it has none, or -errno. */
static int read_cpu_topology(struct reader *rd, struct cvm_host_topology *t, unsigned int cpu,
                             struct cvm_cpu_ids *ids, uint64_t *siblings)
{
	set_path(rd, "cpu/cpu%u/topology", cpu);
	if (access(rd->path, F_OK))
		return NO_TOPOLOGY;
	int r;
	set_path(rd, "cpu/cpu%u/topology/physical_package_id", cpu);
	if ((r = read_id(rd, &ids->package, true)))
		return r;
	set_path(rd, "cpu/cpu%u/topology/core_id", cpu);
	if ((r = read_id(rd, &ids->core_id, true)))
		return r;
	set_path(rd, "cpu/cpu%u/topology/die_id", cpu);
	if ((r = read_id(rd, &ids->die, false)))
		return r;
	set_path(rd, "cpu/cpu%u/topology/cluster_id", cpu);
	if ((r = read_id(rd, &ids->cluster, false)))
		return r;
	set_path(rd, "cpu/cpu%u/topology/thread_siblings_list", cpu);
	r = read_text(rd);
	if (r == -ENOENT)
		set_path(rd, "cpu/cpu%u/topology/core_cpus_list", cpu);
	if ((r = read_cpulist(rd, siblings, true)))
		return r;
	if (!cvm_bit_test(siblings, cpu))
		return fail(rd, -EINVAL, "'%.40s' does not list cpu %u itself", rd->buf, cpu);
	unsigned int beyond = cvm_bitmap_next(siblings, CVM_MAX_HOST_CPUS, t->nr_cpus);
	if (beyond < CVM_MAX_HOST_CPUS)
		return fail(rd, -EINVAL, "lists cpu %u, which is not a possible CPU", beyond);
	unsigned int n = cvm_bitmap_weight(siblings, CVM_MAX_HOST_CPUS);
	if (n > CVM_MAX_SMT)
		return fail(rd, -E2BIG, "lists %u threads; corevm handles at most %u per core", n,
		            CVM_MAX_SMT);
	return read_cpu_node(rd, cpu, &ids->node);
}

static int assign(struct reader *rd, struct cvm_host_topology *t, unsigned int cpu,
                  const struct cvm_cpu_ids *ids, const uint64_t *siblings)
{
	int r = cvm_topology_assign(t, cpu, ids, siblings);
	if (r < 0) {
		set_path(rd, "cpu/cpu%u/topology/thread_siblings_list", cpu);
		return fail(rd, r, "cannot place cpu %u in a core: %s", cpu, strerror(-r));
	}
	return 0;
}

static int read_global(struct reader *rd, struct cvm_host_topology *t)
{
	CVM_BITMAP(possible, CVM_MAX_HOST_CPUS);
	int r;

	set_path(rd, "cpu/possible");
	if ((r = read_cpulist(rd, possible, true)))
		return r;
	if (cvm_bitmap_empty(possible, CVM_MAX_HOST_CPUS))
		return fail(rd, -EINVAL, "lists no CPU");
	unsigned int last = 0, cpu;
	cvm_bitmap_for_each(cpu, possible, CVM_MAX_HOST_CPUS)
	{
		last = cpu;
	}
	cvm_topology_init(t, last + 1);
	memcpy(t->possible, possible, sizeof(t->possible));

	set_path(rd, "cpu/present");
	r = read_text(rd);
	if (r == -ENOENT)
		memcpy(t->present, possible, sizeof(t->present));
	else if ((r = read_cpulist(rd, t->present, true)))
		return r;
	set_path(rd, "cpu/online");
	if ((r = read_cpulist(rd, t->online, true)))
		return r;
	set_path(rd, "cpu/isolated");
	if ((r = read_cpulist(rd, t->isolated, false)))
		return r;

	/* Every listed CPU must be possible. */
	static const char *const names[] = {"present", "online", "isolated"};
	const uint64_t *sets[] = {t->present, t->online, t->isolated};
	for (unsigned int i = 0; i < 3; i++) {
		CVM_BITMAP(extra, CVM_MAX_HOST_CPUS);
		cvm_bitmap_andnot(extra, sets[i], possible, CVM_MAX_HOST_CPUS);
		unsigned int bad = cvm_bitmap_next(extra, CVM_MAX_HOST_CPUS, 0);
		if (bad < CVM_MAX_HOST_CPUS) {
			set_path(rd, "cpu/%s", names[i]);
			return fail(rd, -EINVAL, "lists cpu %u, which is not possible", bad);
		}
	}

	set_path(rd, "cpu/smt/control");
	r = read_text(rd);
	if (r && r != -ENOENT)
		return r;
	if (!r)
		snprintf(t->smt_control, sizeof(t->smt_control), "%.15s", rd->buf);
	set_path(rd, "cpu/smt/active");
	int32_t active;
	if ((r = read_id(rd, &active, false)))
		return r;
	t->smt_active = active;
	return 0;
}

static struct reader *reader_new(const char *root, char *err, size_t errlen)
{
	struct reader *rd = calloc(1, sizeof(*rd));
	if (errlen)
		err[0] = '\0';
	if (!rd) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rd->root = root ? root : "/sys";
	rd->err = err;
	rd->errlen = errlen;
	return rd;
}

/* Each CPU's sibling list must name exactly the CPUs of the core it ended up in. */
static int check_siblings(struct reader *rd, const struct cvm_host_topology *t,
                          uint64_t (*sibs)[CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)])
{
	CVM_BITMAP(core_set, CVM_MAX_HOST_CPUS);
	for (unsigned int cpu = 0; cpu < t->nr_cpus; cpu++) {
		int k = t->cpu[cpu].core;
		if (k < 0)
			continue;
		cvm_topology_core_cpus(t, (unsigned int)k, core_set);
		if (!memcmp(sibs[cpu], core_set, sizeof(core_set)))
			continue;
		char mine[64], want[64];
		cvm_format_cpulist(sibs[cpu], CVM_MAX_HOST_CPUS, mine, sizeof(mine));
		cvm_format_cpulist(core_set, CVM_MAX_HOST_CPUS, want, sizeof(want));
		set_path(rd, "cpu/cpu%u/topology/thread_siblings_list", cpu);
		return fail(rd, -EINVAL, "'%s' disagrees with its siblings' lists (they give %s)",
		            mine, want);
	}
	return 0;
}

static int read_all(struct reader *rd, struct cvm_host_topology *t,
                    uint64_t (*sibs)[CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)])
{
	CVM_BITMAP(cpus, CVM_MAX_HOST_CPUS);
	int r;

	if ((r = read_global(rd, t)))
		return r;
	cvm_bitmap_or(cpus, t->present, t->online, CVM_MAX_HOST_CPUS);
	unsigned int cpu;
	cvm_bitmap_for_each(cpu, cpus, t->nr_cpus)
	{
		struct cvm_cpu_ids ids;
		r = read_cpu_topology(rd, t, cpu, &ids, sibs[cpu]);
		if (r == NO_TOPOLOGY) {
			if (cvm_bit_test(t->online, cpu)) {
				set_path(rd, "cpu/cpu%u/topology", cpu);
				return fail(rd, -ENOENT, "missing for an online CPU");
			}
			/* Offline since before we looked: only its node may be known. */
			if ((r = read_cpu_node(rd, cpu, &t->cpu[cpu].node)))
				return r;
			continue;
		}
		if (r)
			return r;
		if ((r = assign(rd, t, cpu, &ids, sibs[cpu])))
			return r;
	}
	if ((r = read_node_lists(rd, t)))
		return r;
	for (unsigned int k = 0; k < t->nr_cores; k++)
		if (t->core[k].nr_threads)
			t->core[k].node = t->cpu[t->core[k].cpus[0]].node;
	if ((r = check_siblings(rd, t, sibs)))
		return r;
	cvm_topology_finish(t);
	return 0;
}

int __cvm_topology_read(const char *root, struct cvm_host_topology *t, char *err, size_t errlen)
{
	struct reader *rd = reader_new(root, err, errlen);
	uint64_t(*sibs)[CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)] =
	        calloc(CVM_MAX_HOST_CPUS, sizeof(*sibs));
	int r = -ENOMEM;
	if (rd && sibs)
		r = read_all(rd, t, sibs);
	else
		snprintf(err, errlen, "out of memory");
	free(sibs);
	free(rd);
	return r;
}

int cvm_topology_read(const char *root, struct cvm_host_topology *t)
{
	char err[CVM_TOPO_ERR_LEN];
	int r = __cvm_topology_read(root, t, err, sizeof(err));
	if (r)
		cvm_err("host", "topology: %s", err);
	return r;
}

static int refresh(struct reader *rd, struct cvm_host_topology *t, unsigned int cpu)
{
	CVM_BITMAP(sib, CVM_MAX_HOST_CPUS);
	struct cvm_cpu_ids ids;

	if (cpu >= t->nr_cpus) {
		set_path(rd, "cpu/cpu%u", cpu);
		return fail(rd, -ERANGE, "not a possible CPU (possible: 0-%u)", t->nr_cpus - 1);
	}
	int r = read_cpu_topology(rd, t, cpu, &ids, sib);
	if (r == NO_TOPOLOGY) {
		set_path(rd, "cpu/cpu%u/topology", cpu);
		return fail(rd, -ENOENT, "missing (the CPU went offline again?)");
	}
	if (r)
		return r;
	if (ids.node == CVM_TOPO_NONE)
		ids.node = t->cpu[cpu].node;
	if ((r = assign(rd, t, cpu, &ids, sib)))
		return r;
	cvm_topology_finish(t);
	return 0;
}

int __cvm_topology_refresh_cpu(const char *root, struct cvm_host_topology *t, unsigned int cpu,
                               char *err, size_t errlen)
{
	struct reader *rd = reader_new(root, err, errlen);
	if (!rd)
		return -ENOMEM;
	int r = refresh(rd, t, cpu);
	free(rd);
	return r;
}

int __cvm_topology_read_online(const char *root, uint64_t *map, char *err, size_t errlen)
{
	struct reader *rd = reader_new(root, err, errlen);
	if (!rd)
		return -ENOMEM;
	set_path(rd, "cpu/online");
	int r = read_cpulist(rd, map, true);
	free(rd);
	return r;
}
