/* The host's CPUs as corevm sees them: CPU sets, packages, cores, SMT siblings and NUMA nodes, from sysfs or synthetic. */
#ifndef COREVM_HOST_TOPOLOGY_H
#define COREVM_HOST_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bitmap.h"

/*
 * Limits. Host CPU numbers are below CVM_MAX_HOST_CPUS (a sysfs list naming a
 * higher CPU is refused with a line naming the file); NUMA node numbers below
 * CVM_MAX_NUMA_NODES; a core has at most CVM_MAX_SMT hardware threads.
 */
#define CVM_MAX_HOST_CPUS  1024u
#define CVM_MAX_NUMA_NODES 1024u
#define CVM_MAX_SMT        8u

/* An id sysfs did not give (absent file, CPU offline since before corevm read it). */
#define CVM_TOPO_NONE (-1)

/* One logical CPU. Ids are as sysfs numbers them (core_id is unique within a package/die only). */
struct cvm_host_cpu {
	int32_t package; /* physical_package_id */
	int32_t die;     /* die_id, CVM_TOPO_NONE where the kernel has no such file */
	int32_t cluster; /* cluster_id, likewise */
	int32_t core_id; /* core_id */
	int32_t node;    /* NUMA node */
	int32_t core;    /* index into cvm_host_topology.core[], CVM_TOPO_NONE: topology unknown */
};

/*
 * One physical core: its hardware threads (SMT siblings), ascending. A core keeps
 * the threads corevm has seen, also after one goes offline: a sibling that went
 * offline while corevm ran is still known to belong here.
 */
struct cvm_host_core {
	int32_t package, die, cluster, core_id, node;
	uint32_t nr_threads; /* 0: an empty slot (its CPUs moved elsewhere); skip it */
	uint16_t cpus[CVM_MAX_SMT];
};

/*
 * The whole host. Plain data (about 90 KiB): allocate it (calloc) or make it
 * static; copy it with memcpy. All bitmaps are CVM_MAX_HOST_CPUS bits wide and
 * meaningful below nr_cpus.
 */
struct cvm_host_topology {
	unsigned int nr_cpus; /* 1 + the highest possible CPU */
	CVM_BITMAP(possible, CVM_MAX_HOST_CPUS);
	CVM_BITMAP(present, CVM_MAX_HOST_CPUS);
	CVM_BITMAP(online, CVM_MAX_HOST_CPUS);
	CVM_BITMAP(isolated, CVM_MAX_HOST_CPUS); /* isolcpus= (sysfs "isolated") */
	/* Derived by cvm_topology_finish(): */
	CVM_BITMAP(unknown, CVM_MAX_HOST_CPUS); /* present CPUs whose core is unknown */
	unsigned int smt_width;                 /* most threads any core has; 1 means no SMT */
	unsigned int nr_cores;                  /* used slots in core[] (some may be empty) */
	unsigned int nr_packages, nr_nodes;     /* distinct known ids */
	char smt_control[16]; /* sysfs smt/control ("on", "notsupported", ...) or "" */
	int smt_active;       /* sysfs smt/active: 0, 1, or -1 unknown */
	struct cvm_host_cpu cpu[CVM_MAX_HOST_CPUS];
	struct cvm_host_core core[CVM_MAX_HOST_CPUS];
};

/* Pure model (topology.c): no syscalls. */

/*
 * Empties `t` for a host of `nr_cpus` possible CPUs (1..CVM_MAX_HOST_CPUS): all
 * possible and present, none online, no cores. Returns 0 or -ERANGE.
 */
int cvm_topology_init(struct cvm_host_topology *t, unsigned int nr_cpus);

/*
 * Builds a host of `sockets` x `cores` x `threads`, numbered as Linux numbers x86
 * hosts (all first threads, package by package, then all second threads, ...),
 * one NUMA node per socket, all CPUs online. For the simulator and tests.
 * Returns 0 or -ERANGE when it exceeds the limits.
 */
int cvm_topology_synth(struct cvm_host_topology *t, unsigned int sockets, unsigned int cores,
                       unsigned int threads);

/* Ids of one CPU as sysfs reports them (for cvm_topology_assign()). */
struct cvm_cpu_ids {
	int32_t package, die, cluster, core_id, node;
};

/*
 * Records that `cpu` has ids `ids` and SMT siblings `siblings` (a CPU set that
 * includes `cpu`, as thread_siblings_list gives it). Joins the core of a sibling
 * already known, or the core `cpu` was in before (when ids still match and no
 * sibling contradicts it), or makes a new one; a CPU whose core changed leaves
 * the old one. Returns the core index, or -EINVAL (`cpu` not in `siblings`, or a
 * sibling beyond nr_cpus), -E2BIG (more than CVM_MAX_SMT threads). Call
 * cvm_topology_finish() after a batch of changes.
 */
int cvm_topology_assign(struct cvm_host_topology *t, unsigned int cpu,
                        const struct cvm_cpu_ids *ids, const uint64_t *siblings);

/* Marks one CPU online or offline (it keeps its core). */
void cvm_topology_set_online(struct cvm_host_topology *t, unsigned int cpu, bool online);

/* Recomputes the derived fields (smt_width, unknown, counts). */
void cvm_topology_finish(struct cvm_host_topology *t);

/* The core index of `cpu`, or CVM_TOPO_NONE when unknown or out of range. */
int cvm_topology_core_of(const struct cvm_host_topology *t, unsigned int cpu);

/*
 * Whether core `k` may miss threads: fewer known threads than smt_width while
 * some present CPU's core is unknown (an offline sibling sysfs cannot name).
 */
bool cvm_topology_core_maybe_partial(const struct cvm_host_topology *t, unsigned int k);

/* The CPUs of core `k` as a bitmap (CVM_MAX_HOST_CPUS bits). */
void cvm_topology_core_cpus(const struct cvm_host_topology *t, unsigned int k, uint64_t *map);

/*
 * Names core `k` for messages: "core 2" on a one-package host, "package 1 core 2"
 * otherwise (with "die D" where a package has several). Returns buf.
 */
const char *cvm_topology_core_name(const struct cvm_host_topology *t, unsigned int k, char *buf,
                                   size_t len);

/* Reading sysfs (topology_sysfs.c). `root` is the sysfs mount point: "/sys", or a fixture tree. */

/* Where a reading error is described: "<path>: <problem>", one line. */
#define CVM_TOPO_ERR_LEN 512

/*
 * Reads ROOT/devices/system/cpu (possible, present, online, isolated, smt/, and
 * each CPU's topology/ and nodeN link) and ROOT/devices/system/node into `t`.
 * Online CPUs must have their topology files; offline CPUs may lack them (their
 * core stays unknown). Returns 0, or -errno with `err` naming the file and the
 * problem (missing, not a number, not a CPU list, beyond the limits, siblings
 * that disagree).
 */
int __cvm_topology_read(const char *root, struct cvm_host_topology *t, char *err, size_t errlen);
/* The same, reporting the error as one line ("host: topology: <path>: <problem>"). */
int cvm_topology_read(const char *root, struct cvm_host_topology *t);

/*
 * Re-reads one CPU's topology after it came online (a hotplug event), merging it
 * into `t` with cvm_topology_assign() and cvm_topology_finish(). Its online and
 * present bits are left to the caller (the placer sets them when it handles the
 * event). Returns 0 or -errno with `err` set (-ENOENT: its files are gone again).
 */
int __cvm_topology_refresh_cpu(const char *root, struct cvm_host_topology *t, unsigned int cpu,
                               char *err, size_t errlen);

/* Reads ROOT/devices/system/cpu/online into `map` (CVM_MAX_HOST_CPUS bits). */
int __cvm_topology_read_online(const char *root, uint64_t *map, char *err, size_t errlen);

#endif
