/*
 * Command-line options of `corevm run`, parsed without touching KVM or files so
 * that unit tests can check every accepted and refused spelling.
 */
#ifndef COREVM_TOOLS_RUN_ARGS_H
#define COREVM_TOOLS_RUN_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/placement_cli.h"
#include "loader/loader.h"
#include "vmm/vm.h"

#define CVM_RUN_DEFAULT_CPUS    1
#define CVM_RUN_DEFAULT_MEM     (128ull << 20)
#define CVM_RUN_DEFAULT_IRQCHIP CVM_IRQCHIP_USER
#define CVM_RUN_MEM_MIN         (1ull << 20) /* the loader decides whether an image fits */
#define CVM_RUN_MEM_MAX         (1ull << 40) /* 1 TiB: beyond this a --mem value is a typo */
#define CVM_RUN_MAX_MODULES     16

struct cvm_run_module_arg {
	const char *file;   /* points into argv */
	const char *string; /* points into argv, or NULL */
};

struct cvm_run_args {
	unsigned int cpus;
	uint64_t mem;
	enum cvm_irqchip_mode irqchip;
	enum cvm_mwait_policy mwait; /* CVM_VM_MWAIT_DEFAULT unless --mwait */
	enum cvm_boot_protocol boot;
	const char *cmdline; /* NULL: empty */
	struct cvm_run_module_arg module[CVM_RUN_MAX_MODULES];
	unsigned int nmodules;
	const char *stats;    /* NULL: no statistics file */
	uint64_t timeout_ns;  /* 0: none */
	bool protected_state; /* --protected-state (docs/protected-state.md) */
	int verbose;
	bool no_seccomp; /* --no-seccomp: no filters (debugging) */
	const char *image;
	struct cvm_placement_opts place; /* host placement (docs/placement.md) */
};

/*
 * Parses argv (argv[0] is "run"; argv may be permuted). Returns 0 with *a
 * filled, 1 when --help was asked (nothing else is checked), or -EINVAL with a
 * one-line reason naming the option and the value in err (no newline).
 * Strings in *a point into argv; module strings are split off in place at the
 * first comma of FILE,STR (argv is modified).
 */
int cvm_run_parse_args(int argc, char **argv, struct cvm_run_args *a, char *err, size_t errlen);

/* The text of `corevm run --help`. */
extern const char cvm_run_usage[];

#endif
