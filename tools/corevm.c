/* corevm's command-line entry point: global options and dispatch to one cmd_*.c per subcommand. */
#include <stdio.h>
#include <string.h>

#include "tools/cmds.h"

#ifndef COREVM_VERSION
#define COREVM_VERSION "unknown"
#endif

int cmd_check_model(int argc, char **argv);

/* Each subcommand adds its line here and its cmd_<name>.c to tools/meson.build. */
static const struct cvm_cmd commands[] = {
        {"run", "boot a multiboot or PVH guest on KVM", cvm_cmd_run},
        {"check-model", "explore the vCPU lifecycle model exhaustively (INIT/SIPI/SMI/NMI)",
         cmd_check_model},
        {"host", "show the host's CPUs and where vCPUs would be placed", cvm_cmd_host},
        {"sim", "simulate a virtualization host: SMT protection, hotplug, SMIs", cvm_cmd_sim},
        {"calibrate", "measure exit, kick and wake costs on KVM for the simulator",
         cvm_cmd_calibrate},
        {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: corevm [--help] [--version] COMMAND [ARGS...]\n\n"
	        "corevm is a KVM virtual machine monitor whose x86 vCPU lifecycle is\n"
	        "modelled explicitly, plus a deterministic simulator of a virtualization host.\n\n"
	        "commands:\n");
	for (const struct cvm_cmd *c = commands; c->name; c++)
		fprintf(out, "  %-12s %s\n", c->name, c->summary);
	fprintf(out, "\n'corevm COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CVM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("corevm %s\n", COREVM_VERSION);
		return 0;
	}
	for (const struct cvm_cmd *c = commands; c->name; c++)
		if (!strcmp(argv[1], c->name))
			return c->main(argc - 1, argv + 1);
	fprintf(stderr, "corevm: unknown command '%s' (see 'corevm --help')\n", argv[1]);
	return CVM_EXIT_USAGE;
}
