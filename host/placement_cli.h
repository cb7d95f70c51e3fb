/* The placement options `corevm run` and `corevm host` share: getopt_long entries, parsing, usage text. */
#ifndef COREVM_HOST_PLACEMENT_CLI_H
#define COREVM_HOST_PLACEMENT_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "host/placement.h"

/* getopt_long values of the placement options (above any short option). */
enum {
	CVM_OPT_PLACEMENT = 0x1100,
	CVM_OPT_HOST_CPUS,
	CVM_OPT_PLACEMENT_STRICT,
	CVM_OPT_PLACEMENT_EXPLAIN,
	CVM_OPT_PLACEMENT_FALLBACK,
	CVM_OPT_PLACEMENT_RETRIES,
};

/* Entries for a `struct option` table (include <getopt.h> first). */
/* clang-format off */
#define CVM_PLACEMENT_LONGOPTS \
	{"placement", required_argument, NULL, CVM_OPT_PLACEMENT}, \
	{"host-cpus", required_argument, NULL, CVM_OPT_HOST_CPUS}, \
	{"placement-strict", no_argument, NULL, CVM_OPT_PLACEMENT_STRICT}, \
	{"placement-explain", no_argument, NULL, CVM_OPT_PLACEMENT_EXPLAIN}, \
	{"placement-fallback", required_argument, NULL, CVM_OPT_PLACEMENT_FALLBACK}, \
	{"placement-retries", required_argument, NULL, CVM_OPT_PLACEMENT_RETRIES}
/* clang-format on */

/* Usage lines for the options above, to paste into a command's --help. */
#define CVM_PLACEMENT_USAGE                                                                       \
	"  --placement POLICY      where vCPU threads run: none | pin | smt-protect |\n"          \
	"                          core-sched[=vm|vcpu] (docs/placement.md; default none)\n"      \
	"  --host-cpus LIST        host CPUs corevm may use, e.g. 2-7,10 (default: present\n"     \
	"                          CPUs that are not isolated)\n"                                 \
	"  --placement-strict      refuse what the host cannot give (core scheduling, uevents)\n" \
	"  --placement-explain     say where each vCPU runs and why\n"                            \
	"  --placement-fallback F  when hotplug breaks the policy: fail | pin | none\n"           \
	"                          (default: none for pin and smt-protect, else fail)\n"          \
	"  --placement-retries N   guest-entry failures survived before the VM fails (default 3)\n"
extern const char cvm_placement_usage[];

struct cvm_placement_opts {
	bool given;           /* --placement or another placement option was seen */
	bool explain;         /* --placement-explain */
	bool fallback_given;  /* --placement-fallback */
	unsigned int retries; /* --placement-retries: guest-entry failures survived (default 3) */
	struct cvm_place_request req; /* nr_vcpus is set by cvm_placement_opts_finish() */
};

void cvm_placement_opts_init(struct cvm_placement_opts *o);

/*
 * Handles getopt_long's `opt` with argument `arg`. Returns 1 when it was a
 * placement option, 0 when it is not one, -EINVAL with `err` naming the option
 * and the bad value ("--placement bogus: unknown policy (...)"; nothing printed).
 */
int cvm_placement_opt(struct cvm_placement_opts *o, int opt, const char *arg, char *err,
                      size_t errlen);

/*
 * Completes the request for `nr_vcpus` vCPUs and checks combinations (a fallback
 * must be weaker than the policy). Returns 0 or -EINVAL with `err` set.
 */
int cvm_placement_opts_finish(struct cvm_placement_opts *o, unsigned int nr_vcpus, char *err,
                              size_t errlen);

#endif
