/* `corevm check-model`: explores the lifecycle scenarios exhaustively and prints counterexamples. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "model/mc.h"
#include "model/world.h"
#include "tools/cmds.h"
#include "util/log.h"
#include "util/parse.h"

int cmd_check_model(int argc, char **argv);

static void usage(FILE *out)
{
	unsigned int n;
	const struct w_scenario *sc = w_scenarios(&n);

	fprintf(out,
	        "usage: corevm check-model [OPTIONS] [SCENARIO...]\n\n"
	        "Explores every interleaving of a scenario's vCPU steps and environment events\n"
	        "(SMI, NMI, IRQ) over the real lifecycle core, checks the invariants, and for\n"
	        "liveness scenarios that the goal can always still be reached. Prints the\n"
	        "shortest counterexample found. Without SCENARIO: all but 'bench'.\n\n"
	        "options:\n"
	        "  --smi N, --nmi N, --irq N  environment event budgets (override the scenario)\n"
	        "  --max-depth N              do not expand states deeper than N (liveness is\n"
	        "                             then not decided)\n"
	        "  --max-states N             stop after N distinct states\n"
	        "  --mutant NAME              inject a core bug (none, sipi-in-smm, nmi-nest,\n"
	        "                             lose-init, deaf-halt) to see the checker catch it\n"
	        "  --expect pass|violation    exit 0 only if every result is this (default: each\n"
	        "                             scenario's own expectation; with --mutant: violation)\n"
	        "  --quiet                    no traces\n"
	        "  --list                     list the scenarios\n\n"
	        "exit status: 0 results as expected, 1 not as expected, 2 usage error, 4 failure\n\n"
	        "scenarios:\n");
	for (unsigned int i = 0; i < n; i++)
		fprintf(out, "  %-16s %s\n", sc[i].name, sc[i].summary);
}

struct opts {
	int smi, nmi, irq; /* -1: scenario's */
	uint64_t max_depth, max_states;
	int mutant;
	int expect; /* -1 scenario's, 0 pass, 1 violation */
	bool quiet;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *verdict_name(enum mc_verdict v)
{
	switch (v) {
	case MC_PASS:
		return "PASS (no violation, exploration complete)";
	case MC_SAFETY:
		return "SAFETY VIOLATION";
	case MC_LIVENESS:
		return "LIVENESS VIOLATION";
	default:
		return "INCOMPLETE (limit reached, no violation so far)";
	}
}

/* Runs one scenario; returns 1 if the result is as expected, 0 if not, -1 on error. */
static int run_one(const struct w_scenario *base, const struct opts *o)
{
	static struct w_world w; /* large (routing view): not on the stack */
	struct w_scenario sc = *base;
	struct mc_model m;
	struct mc_limits lim = {.max_depth = (uint32_t)o->max_depth, .max_states = o->max_states};
	struct mc_result r;
	int expect = o->expect >= 0 ? o->expect : o->mutant ? 1 : sc.expect_violation;
	double t0, dt;
	int rc, ok;

	if (o->smi >= 0)
		sc.smi = (uint8_t)o->smi;
	if (o->nmi >= 0)
		sc.nmi = (uint8_t)o->nmi;
	if (o->irq >= 0)
		sc.intr = (uint8_t)o->irq;
	if (w_world_init(&w, &sc, (enum w_mutant)o->mutant)) {
		cvm_err("check-model", "scenario %s: inconsistent definition", sc.name);
		return -1;
	}
	w_model(&w, &m);
	t0 = now_s();
	rc = mc_run(&m, &lim, &r);
	dt = now_s() - t0;
	if (rc) {
		cvm_err("check-model", "scenario %s: %s after %llu states", sc.name, strerror(-rc),
		        (unsigned long long)r.states);
		mc_result_free(&r);
		return -1;
	}
	ok = (r.verdict == MC_SAFETY || r.verdict == MC_LIVENESS) == (expect == 1) &&
	     r.verdict != MC_INCOMPLETE;
	printf("scenario %s%s%s: %s\n", sc.name, o->mutant ? " with mutant " : "",
	       o->mutant ? w_mutant_name((unsigned int)o->mutant) : "", sc.summary);
	printf("  states %llu, transitions %llu, depth %u, %.3f s, %.0f states/s\n",
	       (unsigned long long)r.states, (unsigned long long)r.transitions, r.depth, dt,
	       dt > 0 ? (double)r.states / dt : 0.0);
	printf("  result: %s; expected %s: %s\n", verdict_name(r.verdict),
	       expect ? "a violation" : "none", ok ? "ok" : "NOT AS EXPECTED");
	if (r.message[0])
		printf("  %s\n", r.message);
	if (!o->quiet)
		mc_print_trace(&m, &r, stdout);
	mc_result_free(&r);
	return ok;
}

static int parse_budget(const char *opt, const char *arg, int *out)
{
	uint64_t v;
	if (cvm_parse_u64(arg, 0, 15, &v)) {
		cvm_err("check-model", "%s: '%s' is not a number from 0 to 15", opt, arg);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int cmd_check_model(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"smi", required_argument, NULL, 's'},
	        {"nmi", required_argument, NULL, 'n'},
	        {"irq", required_argument, NULL, 'i'},
	        {"max-depth", required_argument, NULL, 'd'},
	        {"max-states", required_argument, NULL, 'm'},
	        {"mutant", required_argument, NULL, 'u'},
	        {"expect", required_argument, NULL, 'e'},
	        {"quiet", no_argument, NULL, 'q'},
	        {"list", no_argument, NULL, 'l'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct opts o = {.smi = -1, .nmi = -1, .irq = -1, .expect = -1};
	unsigned int n, bad = 0, errors = 0;
	const struct w_scenario *all = w_scenarios(&n);
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_budget("--smi", optarg, &o.smi))
				return CVM_EXIT_USAGE;
			break;
		case 'n':
			if (parse_budget("--nmi", optarg, &o.nmi))
				return CVM_EXIT_USAGE;
			break;
		case 'i':
			if (parse_budget("--irq", optarg, &o.irq))
				return CVM_EXIT_USAGE;
			break;
		case 'd':
			if (cvm_parse_u64(optarg, 1, 65535, &o.max_depth)) {
				cvm_err("check-model",
				        "--max-depth: '%s' is not a number from 1 to 65535",
				        optarg);
				return CVM_EXIT_USAGE;
			}
			break;
		case 'm':
			if (cvm_parse_u64(optarg, 1, UINT32_MAX - 2, &o.max_states)) {
				cvm_err("check-model",
				        "--max-states: '%s' is not a positive number", optarg);
				return CVM_EXIT_USAGE;
			}
			break;
		case 'u':
			o.mutant = w_mutant_parse(optarg);
			if (o.mutant < 0) {
				cvm_err("check-model", "--mutant: unknown mutant '%s' (see --help)",
				        optarg);
				return CVM_EXIT_USAGE;
			}
			break;
		case 'e':
			if (!strcmp(optarg, "pass")) {
				o.expect = 0;
			} else if (!strcmp(optarg, "violation")) {
				o.expect = 1;
			} else {
				cvm_err("check-model",
				        "--expect: '%s' is neither 'pass' nor 'violation'", optarg);
				return CVM_EXIT_USAGE;
			}
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'l':
			for (unsigned int i = 0; i < n; i++)
				printf("%-16s %s\n", all[i].name, all[i].summary);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "corevm: check-model: see 'corevm check-model --help'\n");
			return CVM_EXIT_USAGE;
		}
	}
	for (int i = optind; i < argc; i++)
		if (!w_find_scenario(argv[i])) {
			cvm_err("check-model", "unknown scenario '%s' (see --list)", argv[i]);
			return CVM_EXIT_USAGE;
		}
	if (optind == argc) {
		for (unsigned int i = 0; i < n; i++) {
			if (!strcmp(all[i].name, "bench"))
				continue;
			int r = run_one(&all[i], &o);
			bad += r == 0;
			errors += r < 0;
		}
	} else {
		for (int i = optind; i < argc; i++) {
			int r = run_one(w_find_scenario(argv[i]), &o);
			bad += r == 0;
			errors += r < 0;
		}
	}
	if (errors)
		return 4;
	return bad ? 1 : 0;
}
