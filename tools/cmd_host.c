/* `corevm host`: prints the host topology and, with --placement, the placement decision and its explanation (no KVM needed). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/cpu_probe.h"
#include "host/place_ctl.h"
#include "host/placement.h"
#include "host/placement_cli.h"
#include "host/placement_json.h"
#include "host/sched_core.h"
#include "host/topology.h"
#include "tools/cmds.h"
#include "util/log.h"
#include "util/parse.h"

#define W CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)

/* corevm's "could not do it" status (CVM_EXIT_FAILURE in arch/x86/guest_abi.h). */
#define HOST_EXIT_FAILURE 4

enum { OPT_SYSFS = 0x1000, OPT_JSON, OPT_CPUS, OPT_QUARANTINE, OPT_PROBE, OPT_HELP };

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: corevm host [--sysfs ROOT] [--json] [--placement POLICY [--cpus N]\n"
	        "                   [--host-cpus LIST] [--placement-fallback F] [--placement-strict]\n"
	        "                   [--quarantine LIST]] [--probe LIST]\n\n"
	        "Prints the host's CPUs as corevm sees them (packages, cores, SMT siblings, NUMA\n"
	        "nodes, online/isolated CPUs) and, with --placement, where N vCPUs would run and why.\n\n"
	        "  --sysfs ROOT            read ROOT/devices/system/{cpu,node} (default /sys)\n"
	        "  --json                  print JSON instead of text\n"
	        "  --cpus N                vCPUs to place (default 1)\n"
	        "  --quarantine LIST       treat these CPUs as quarantined (what if they failed)\n"
	        "  --probe LIST            enter a throwaway guest once on each of these online CPUs\n"
	        "                          (needs /dev/kvm; never changes any CPU's online state)\n"
	        "%s",
	        cvm_placement_usage);
}

static void print_line(void *ctx, const char *line)
{
	fprintf(ctx, "%s\n", line);
}

static const char *list(const uint64_t *map, char *buf, size_t len)
{
	if (cvm_bitmap_empty(map, CVM_MAX_HOST_CPUS))
		snprintf(buf, len, "none");
	else if (cvm_format_cpulist(map, CVM_MAX_HOST_CPUS, buf, len) < 0)
		snprintf(buf, len, "(too long)");
	return buf;
}

static void print_topology(const struct cvm_host_topology *t)
{
	char a[1024], b[1024], c[1024], d[1024], name[64];
	unsigned int cores = 0;
	for (unsigned int k = 0; k < t->nr_cores; k++)
		cores += t->core[k].nr_threads != 0;
	printf("host: %u package%s, %u NUMA node%s, %u cores known, %u thread%s per core "
	       "(smt control: %s)\n",
	       t->nr_packages, t->nr_packages == 1 ? "" : "s", t->nr_nodes,
	       t->nr_nodes == 1 ? "" : "s", cores, t->smt_width, t->smt_width == 1 ? "" : "s",
	       t->smt_control[0] ? t->smt_control : "unknown");
	printf("cpus: possible %s, present %s, online %s, isolated %s\n",
	       list(t->possible, a, sizeof(a)), list(t->present, b, sizeof(b)),
	       list(t->online, c, sizeof(c)), list(t->isolated, d, sizeof(d)));
	if (!cvm_bitmap_empty(t->unknown, CVM_MAX_HOST_CPUS))
		printf("offline since before corevm looked (core unknown): %s\n",
		       list(t->unknown, a, sizeof(a)));
	for (unsigned int k = 0; k < t->nr_cores; k++) {
		const struct cvm_host_core *core = &t->core[k];
		uint64_t cpus[W], off[W];
		if (!core->nr_threads)
			continue;
		cvm_topology_core_cpus(t, k, cpus);
		cvm_bitmap_andnot(off, cpus, t->online, CVM_MAX_HOST_CPUS);
		printf("%s (node %d): cpu%s %s", cvm_topology_core_name(t, k, name, sizeof(name)),
		       (int)core->node, core->nr_threads == 1 ? "" : "s", list(cpus, a, sizeof(a)));
		if (!cvm_bitmap_empty(off, CVM_MAX_HOST_CPUS))
			printf(" (offline: %s)", list(off, b, sizeof(b)));
		if (cvm_topology_core_maybe_partial(t, k))
			printf(" (may miss offline threads)");
		printf("\n");
	}
}

/* Probes each CPU of `cpus` that is online on the real host. Returns the exit status. */
static int probe(const uint64_t *cpus, bool json, json_object *out)
{
	uint64_t online[W];
	char err[CVM_TOPO_ERR_LEN];
	int status = 0;
	if (__cvm_topology_read_online("/sys", online, err, sizeof(err))) {
		cvm_err("host", "probe: %s", err);
		return HOST_EXIT_FAILURE;
	}
	json_object *arr = json ? json_object_new_array() : NULL;
	unsigned int cpu;
	cvm_bitmap_for_each(cpu, cpus, CVM_MAX_HOST_CPUS)
	{
		if (!cvm_bit_test(online, cpu)) {
			cvm_err("host",
			        "probe: cpu %u is not online (corevm never changes a CPU's "
			        "online state)",
			        cpu);
			status = HOST_EXIT_FAILURE;
			continue;
		}
		struct cvm_probe_report rep;
		int r = __cvm_cpu_probe_kvm(cpu, &rep);
		if (r) {
			cvm_err("host", "probe of cpu %u: %s", cpu,
			        rep.detail[0] ? rep.detail : strerror(-r));
			status = HOST_EXIT_FAILURE;
			continue;
		}
		if (rep.result != CVM_PROBE_PASS)
			status = HOST_EXIT_FAILURE;
		if (json) {
			json_object *j = json_object_new_object();
			json_object_object_add(j, "cpu", json_object_new_int((int)cpu));
			json_object_object_add(
			        j, "result",
			        json_object_new_string(cvm_probe_result_name(rep.result)));
			json_object_object_add(j, "detail", json_object_new_string(rep.detail));
			json_object_array_add(arr, j);
		} else {
			printf("probe: cpu %u: %s (%s)\n", cpu, cvm_probe_result_name(rep.result),
			       rep.detail);
		}
	}
	if (json)
		json_object_object_add(out, "probes", arr);
	return status;
}

struct host_args {
	const char *root;
	bool json;
	unsigned int cpus;
	bool quarantine_given, probe_given;
	uint64_t quarantine[W], probe[W];
	struct cvm_placement_opts place;
};

static int parse_list_opt(const char *opt, const char *arg, uint64_t *map)
{
	if (cvm_parse_cpulist(arg, map, CVM_MAX_HOST_CPUS) ||
	    cvm_bitmap_empty(map, CVM_MAX_HOST_CPUS)) {
		cvm_err("host", "%s: '%s' is not a list of CPUs below %u (e.g. 0-3,8)", opt, arg,
		        CVM_MAX_HOST_CPUS);
		return -EINVAL;
	}
	return 0;
}

/* Returns 0, 1 for --help, or -EINVAL after one line. */
static int parse_args(int argc, char **argv, struct host_args *a)
{
	static const struct option opts[] = {
	        {"sysfs", required_argument, NULL, OPT_SYSFS},
	        {"json", no_argument, NULL, OPT_JSON},
	        {"cpus", required_argument, NULL, OPT_CPUS},
	        {"quarantine", required_argument, NULL, OPT_QUARANTINE},
	        {"probe", required_argument, NULL, OPT_PROBE},
	        {"help", no_argument, NULL, OPT_HELP},
	        CVM_PLACEMENT_LONGOPTS,
	        {NULL, 0, NULL, 0},
	};
	char err[256];
	uint64_t v;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = cvm_placement_opt(&a->place, opt, optarg, err, sizeof(err));
		if (r < 0) {
			cvm_err("host", "%s", err);
			return -EINVAL;
		}
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_SYSFS:
			a->root = optarg;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_CPUS:
			if (cvm_parse_u64(optarg, 1, CVM_MAX_VCPUS, &v)) {
				cvm_err("host", "--cpus: '%s' is not a number from 1 to %u", optarg,
				        CVM_MAX_VCPUS);
				return -EINVAL;
			}
			a->cpus = (unsigned int)v;
			break;
		case OPT_QUARANTINE:
			if (parse_list_opt("--quarantine", optarg, a->quarantine))
				return -EINVAL;
			a->quarantine_given = true;
			break;
		case OPT_PROBE:
			if (parse_list_opt("--probe", optarg, a->probe))
				return -EINVAL;
			a->probe_given = true;
			break;
		case 'h':
		case OPT_HELP:
			return 1;
		default:
			cvm_err("host",
			        "unknown or incomplete option '%s' (see 'corevm host --help')",
			        argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		cvm_err("host", "unexpected argument '%s' (see 'corevm host --help')",
		        argv[optind]);
		return -EINVAL;
	}
	if (!a->place.given && (a->cpus || a->quarantine_given)) {
		cvm_err("host", "--cpus and --quarantine need --placement");
		return -EINVAL;
	}
	if (a->place.given &&
	    cvm_placement_opts_finish(&a->place, a->cpus ? a->cpus : 1, err, sizeof(err))) {
		cvm_err("host", "%s", err);
		return -EINVAL;
	}
	return 0;
}

/* Decides and prints the placement; returns the exit status. */
static int place(struct host_args *a, const struct cvm_host_topology *t, json_object *out)
{
	struct cvm_place_request *rq = &a->place.req;
	struct cvm_placement *p = calloc(1, sizeof(*p));
	char err[CVM_PLACE_ERR_LEN];
	if (!p) {
		cvm_err("host", "out of memory");
		return HOST_EXIT_FAILURE;
	}
	rq->cookie_support =
	        rq->cookies == CVM_COOKIE_OFF ? 0 : __cvm_sched_core_supported(&cvm_sched_core_sys);
	/* This process's CPU set limits the real host only, not a fixture tree. */
	if (!strcmp(a->root, "/sys") && cvm_affinity_sys.get(NULL, rq->affinity) == 0)
		rq->affinity_given = true;
	struct cvm_place_host h = {t, a->quarantine_given ? a->quarantine : NULL, NULL, NULL};
	int r = cvm_place(&h, rq, p, err, sizeof(err));
	if (r) {
		cvm_err("placement", "%s", err);
		free(p);
		return HOST_EXIT_FAILURE;
	}
	if (rq->cookies != CVM_COOKIE_OFF && rq->cookie_support && !a->json)
		cvm_warn("placement", "%s: %s; continuing without core-scheduling cookies",
		         cvm_place_policy_name(rq->policy),
		         cvm_cookie_unsupported_why(rq->cookie_support));
	if (a->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "request", cvm_place_request_json(rq));
		json_object_object_add(j, "decision", cvm_placement_json(&h, rq, p));
		json_object_object_add(out, "placement", j);
	} else {
		printf("\n");
		cvm_placement_explain(&h, rq, p, print_line, stdout);
	}
	free(p);
	return 0;
}

int cvm_cmd_host(int argc, char **argv)
{
	struct host_args a = {.root = "/sys"};
	cvm_placement_opts_init(&a.place);
	int r = parse_args(argc, argv, &a);
	if (r > 0) {
		usage(stdout);
		return 0;
	}
	if (r < 0)
		return CVM_EXIT_USAGE;

	struct cvm_host_topology *t = calloc(1, sizeof(*t));
	if (!t) {
		cvm_err("host", "out of memory");
		return HOST_EXIT_FAILURE;
	}
	if (cvm_topology_read(a.root, t)) {
		free(t);
		return HOST_EXIT_FAILURE;
	}
	int status = 0;
	json_object *out = a.json ? json_object_new_object() : NULL;
	if (a.json)
		json_object_object_add(out, "topology", cvm_topology_json(t));
	else
		print_topology(t);
	if (a.place.given)
		status = place(&a, t, out);
	if (status == 0 && a.probe_given)
		status = probe(a.probe, a.json, out);
	if (a.json) {
		if (status == 0 || a.probe_given)
			printf("%s\n",
			       json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY));
		json_object_put(out);
	}
	free(t);
	return status;
}
