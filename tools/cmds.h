/* The corevm subcommands: one cmd_<name>.c each, dispatched by corevm.c. */
#ifndef COREVM_TOOLS_CMDS_H
#define COREVM_TOOLS_CMDS_H

#include "arch/x86/guest_abi.h" /* exit statuses, CVM_EXIT_USAGE among them */

/*
 * A subcommand receives argv with argv[0] = its own name and returns the process
 * exit status. Usage errors print one line naming the problem and return 2.
 */
struct cvm_cmd {
	const char *name;
	const char *summary;
	int (*main)(int argc, char **argv);
};

/* The subcommands (one cmd_<name>.c each). */
int cvm_cmd_run(int argc, char **argv);
int cvm_cmd_host(int argc, char **argv);
int cvm_cmd_sim(int argc, char **argv);
int cvm_cmd_calibrate(int argc, char **argv);

#endif
