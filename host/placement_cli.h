/* The placement options `corevm run` and `corevm host` share: getopt_long entries, parsing, usage text. */
#ifndef COREVM_HOST_PLACEMENT_CLI_H
#define COREVM_HOST_PLACEMENT_CLI_H

#include <stdbool.h>

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
 * placement option, 0 when it is not one, -EINVAL after one line naming the
 * option and the bad value.
 */
int cvm_placement_opt(struct cvm_placement_opts *o, int opt, const char *arg);

/*
 * Completes the request for `nr_vcpus` vCPUs and checks combinations (a fallback
 * must be weaker than the policy). Returns 0 or -EINVAL after one line.
 */
int cvm_placement_opts_finish(struct cvm_placement_opts *o, unsigned int nr_vcpus);

#endif
