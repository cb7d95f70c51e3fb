/* corevm sim: run a scenario on the simulated host under one strategy or all of them, print, trace and plot the metrics. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/x86/guest_abi.h"
#include "sim/report.h"
#include "sim/sim.h"
#include "tools/cmds.h"
#include "util/log.h"
#include "util/parse.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: corevm sim SCENARIO.json [--seed N] [--until TIME]\n"
	        "                  [--strategy NAME | --compare] [--trace FILE] [--json]\n"
	        "                  [--plot FILE.png] [--profile FILE]\n\n"
	        "Runs a deterministic discrete-event simulation of a virtualization host (its\n"
	        "CPUs, noise, hotplug and the vCPU threads of its VMs, which run corevm's real\n"
	        "lifecycle core) and prints what SMT protection and guest CPU hotplug cost.\n\n"
	        "  --seed N          the PRNG seed (default: the scenario's); printed with the results\n"
	        "  --until TIME      stop at this virtual time (e.g. 500ms; default: the scenario's)\n"
	        "  --strategy NAME   plain, core-cookie, sibling-offline, gang or partition (default plain)\n"
	        "  --compare         run every strategy and print them side by side\n"
	        "  --trace FILE      write one line per state change (same seed: same bytes)\n"
	        "  --json            print the results as JSON instead of a table\n"
	        "  --plot FILE.png   draw the results with gnuplot\n"
	        "  --profile FILE    use this cost profile (e.g. from 'corevm calibrate')\n");
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cvm_cmd_sim(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"seed", required_argument, NULL, 's'},
	        {"until", required_argument, NULL, 'u'},
	        {"strategy", required_argument, NULL, 'S'},
	        {"compare", no_argument, NULL, 'c'},
	        {"trace", required_argument, NULL, 't'},
	        {"json", no_argument, NULL, 'j'},
	        {"plot", required_argument, NULL, 'p'},
	        {"profile", required_argument, NULL, 'P'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct cvm_sim_options o = {.strategy = CVM_STRAT_PLAIN};
	bool seed_set = false, compare = false, strategy_set = false, json = false;
	const char *trace = NULL, *plot = NULL, *profile = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (cvm_parse_u64(optarg, 0, UINT64_MAX, &o.seed)) {
				fprintf(stderr, "corevm sim: --seed %s: not a number\n", optarg);
				return CVM_EXIT_USAGE;
			}
			seed_set = true;
			break;
		case 'u':
			if (cvm_parse_duration_ns(optarg, &o.until) || !o.until) {
				fprintf(stderr,
				        "corevm sim: --until %s: not a positive duration (e.g. 500ms)\n",
				        optarg);
				return CVM_EXIT_USAGE;
			}
			break;
		case 'S':
			if (cvm_sim_strategy_parse(optarg, &o.strategy)) {
				fprintf(stderr,
				        "corevm sim: --strategy %s: unknown (plain, core-cookie, "
				        "sibling-offline, gang, partition)\n",
				        optarg);
				return CVM_EXIT_USAGE;
			}
			strategy_set = true;
			break;
		case 'c':
			compare = true;
			break;
		case 't':
			trace = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'p':
			plot = optarg;
			break;
		case 'P':
			profile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr,
			        "corevm sim: %s: unknown option or missing value (see --help)\n",
			        argv[optind - 1]);
			return CVM_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "corevm sim: %s (see --help)\n",
		        optind >= argc ? "a scenario file is needed" : "one scenario file only");
		return CVM_EXIT_USAGE;
	}
	if (compare && strategy_set) {
		fprintf(stderr, "corevm sim: --strategy and --compare exclude each other\n");
		return CVM_EXIT_USAGE;
	}
	struct cvm_sim_scenario *sc;
	if (cvm_sim_scenario_load(argv[optind], &sc))
		return CVM_EXIT_FAILURE;
	if (profile && cvm_sim_costs_load(profile, &sc->costs)) {
		cvm_sim_scenario_free(sc);
		return CVM_EXIT_FAILURE;
	}
	if (!seed_set)
		o.seed = sc->seed;
	FILE *tf = NULL;
	if (trace) {
		tf = fopen(trace, "w");
		if (!tf) {
			cvm_err("sim", "--trace %s: %s", trace, strerror(errno));
			cvm_sim_scenario_free(sc);
			return CVM_EXIT_FAILURE;
		}
		o.trace = tf;
	}
	unsigned int n = compare ? CVM_STRAT_NR : 1;
	struct cvm_sim_result res[CVM_STRAT_NR];
	memset(res, 0, sizeof(res));
	int rc = 0;
	uint64_t events = 0;
	double t0 = wall_now();
	for (unsigned int i = 0; i < n && !rc; i++) {
		if (compare)
			o.strategy = (enum cvm_sim_strategy_id)i;
		if (cvm_sim_run(sc, &o, &res[i]))
			rc = CVM_EXIT_FAILURE;
		events += res[i].events;
	}
	double wall = wall_now() - t0;
	if (tf && fclose(tf)) {
		cvm_err("sim", "--trace %s: %s", trace, strerror(errno));
		rc = CVM_EXIT_FAILURE;
	}
	if (!rc) {
		if (json) {
			if (__cvm_sim_report_json(stdout, sc, res, n)) {
				cvm_err("sim", "writing the JSON report failed");
				rc = CVM_EXIT_FAILURE;
			}
		} else {
			cvm_sim_report_text(stdout, sc, res, n);
			fprintf(stdout, "wall time %.3fs, %.2fM events/s\n", wall,
			        wall > 0 ? (double)events / wall / 1e6 : 0.0);
		}
		if (plot && cvm_sim_report_plot(plot, sc, res, n))
			rc = CVM_EXIT_FAILURE;
	}
	for (unsigned int i = 0; i < n; i++)
		cvm_sim_result_free(&res[i]);
	cvm_sim_scenario_free(sc);
	return rc;
}
