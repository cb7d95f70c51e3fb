/* Parsing of `corevm run` options into struct cvm_run_args, with one clear line per refusal. */
#include "tools/run_args.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/parse.h"

const char cvm_run_usage[] =
        "usage: corevm run [OPTIONS] IMAGE\n"
        "\n"
        "Boots IMAGE, a multiboot v1 or PVH ELF (what QEMU's -kernel accepts), on KVM.\n"
        "\n"
        "  --cpus N              vCPUs (default 1; at most what KVM allows)\n"
        "  --mem SIZE            guest RAM, K/M/G/T suffixes (default 128M; 1M..1T, 4K multiple)\n"
        "  --irqchip MODE        interrupt controllers: user (default: corevm's local APICs\n"
        "                        and I/O APIC own INIT, SIPI, HLT), split (KVM's local\n"
        "                        APICs, corevm's I/O APIC) or kernel (all in KVM)\n"
        "  --mwait native|nop|yield|exit\n"
        "                        what the guest's MWAIT does: run in the guest, a NOP,\n"
        "                        a NOP that yields the host CPU, an exit to corevm's idle\n"
        "                        work; corevm says what this KVM cannot give and what it\n"
        "                        does instead (docs/idle-work.md)\n"
        "  --boot auto|multiboot|pvh\n"
        "                        boot protocol (default auto: PVH if the image has the note)\n"
        "  --cmdline STR         the guest's command line\n"
        "  --module FILE[,STR]   a boot module and its string (repeatable, up to 16)\n"
        "  --stats FILE          write per-vCPU and VM statistics as JSON (docs/stats.md)\n"
        "  --timeout DURATION    stop the guest after DURATION (e.g. 30s, 500ms)\n"
        "  --protected-state     never write a vCPU's registers after launch; APs start\n"
        "                        from the image's AP initial-state note on their first\n"
        "                        INIT-SIPI-SIPI (needs --irqchip user;\n"
        "                        docs/protected-state.md)\n"
        "  --no-seccomp          run without the per-thread seccomp filters (debugging;\n"
        "                        docs/seccomp.md)\n" CVM_PLACEMENT_USAGE
        "  -v, --verbose         say what corevm does\n"
        "  -h, --help            this text\n"
        "\n"
        "The serial port (0x3f8) is connected to stdout, and to stdin when that is a\n"
        "terminal or a pipe. Environment: COREVM_KVM_DEV overrides /dev/kvm;\n"
        "COREVM_UEVENT_FD=N reads CPU hotplug uevents from the datagram socket N\n"
        "instead of the kernel's (for tests); COREVM_APIC_TIMER=vcpu|thread picks the\n"
        "host clock of the user irqchip's APIC timers (docs/irqchip.md).\n"
        "\n"
        "Exit status: (V << 1) | 1 after a guest wrote V to the debug-exit port 0xf4;\n"
        "0 guest reported done, 2 usage, 4 failure (bad image, KVM error), 6 guest\n"
        "assertion, 8 triple fault, 10 reset, 12 vCPU error, 14 signal, 16 timeout.\n";

enum {
	OPT_CPUS = 256,
	OPT_MEM,
	OPT_IRQCHIP,
	OPT_BOOT,
	OPT_CMDLINE,
	OPT_MODULE,
	OPT_STATS,
	OPT_TIMEOUT,
	OPT_MWAIT,
	OPT_PROTECTED,
	OPT_NO_SECCOMP,
};

static const struct option options[] = {
        {"cpus", required_argument, NULL, OPT_CPUS},
        {"mem", required_argument, NULL, OPT_MEM},
        {"irqchip", required_argument, NULL, OPT_IRQCHIP},
        {"boot", required_argument, NULL, OPT_BOOT},
        {"cmdline", required_argument, NULL, OPT_CMDLINE},
        {"module", required_argument, NULL, OPT_MODULE},
        {"stats", required_argument, NULL, OPT_STATS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"mwait", required_argument, NULL, OPT_MWAIT},
        {"protected-state", no_argument, NULL, OPT_PROTECTED},
        {"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        CVM_PLACEMENT_LONGOPTS,
        {NULL, 0, NULL, 0},
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const char *option_name(int val)
{
	for (const struct option *o = options; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

static int parse_one(int opt, char *arg, struct cvm_run_args *a, char *err, size_t errlen)
{
	uint64_t v;
	int r;

	switch (opt) {
	case OPT_CPUS:
		r = cvm_parse_u64(arg, 1, CVM_VM_MAX_CPUS, &v);
		if (r == -ERANGE)
			return fail(err, errlen, "--cpus %s: must be between 1 and %u", arg,
			            CVM_VM_MAX_CPUS);
		if (r)
			return fail(err, errlen, "--cpus %s: not a number", arg);
		a->cpus = (unsigned int)v;
		return 0;
	case OPT_MEM:
		r = cvm_parse_size(arg, &v);
		if (r == -EINVAL)
			return fail(err, errlen, "--mem %s: not a size (use e.g. 256M or 2G)", arg);
		if (r || v < CVM_RUN_MEM_MIN || v > CVM_RUN_MEM_MAX)
			return fail(err, errlen, "--mem %s: must be between 1M and 1T", arg);
		if (v % 4096)
			return fail(err, errlen, "--mem %s: not a multiple of 4K", arg);
		a->mem = v;
		return 0;
	case OPT_IRQCHIP:
		if (!strcmp(arg, "user"))
			a->irqchip = CVM_IRQCHIP_USER;
		else if (!strcmp(arg, "split"))
			a->irqchip = CVM_IRQCHIP_SPLIT;
		else if (!strcmp(arg, "kernel"))
			a->irqchip = CVM_IRQCHIP_KERNEL;
		else
			return fail(err, errlen, "--irqchip %s: unknown mode (user, split, kernel)",
			            arg);
		return 0;
	case OPT_MWAIT:
		if (!strcmp(arg, "native"))
			a->mwait = CVM_VM_MWAIT_NATIVE;
		else if (!strcmp(arg, "nop"))
			a->mwait = CVM_VM_MWAIT_NOP;
		else if (!strcmp(arg, "yield"))
			a->mwait = CVM_VM_MWAIT_YIELD;
		else if (!strcmp(arg, "exit"))
			a->mwait = CVM_VM_MWAIT_EXIT;
		else
			return fail(err, errlen,
			            "--mwait %s: unknown policy (native, nop, yield, exit)", arg);
		return 0;
	case OPT_BOOT:
		if (!strcmp(arg, "auto"))
			a->boot = CVM_BOOT_AUTO;
		else if (!strcmp(arg, "multiboot"))
			a->boot = CVM_BOOT_MULTIBOOT;
		else if (!strcmp(arg, "pvh"))
			a->boot = CVM_BOOT_PVH;
		else
			return fail(err, errlen,
			            "--boot %s: unknown protocol (auto, multiboot, pvh)", arg);
		return 0;
	case OPT_CMDLINE:
		a->cmdline = arg;
		return 0;
	case OPT_MODULE: {
		char *comma = strchr(arg, ',');
		if (a->nmodules == CVM_RUN_MAX_MODULES)
			return fail(err, errlen, "--module %s: more than %d modules", arg,
			            CVM_RUN_MAX_MODULES);
		if (comma == arg || !*arg)
			return fail(err, errlen, "--module '%s': no file name", arg);
		a->module[a->nmodules].file = arg;
		a->module[a->nmodules].string = NULL;
		if (comma) {
			*comma = 0;
			a->module[a->nmodules].string = comma + 1;
		}
		a->nmodules++;
		return 0;
	}
	case OPT_STATS:
		if (!*arg)
			return fail(err, errlen, "--stats '': no file name");
		a->stats = arg;
		return 0;
	case OPT_TIMEOUT: {
		size_t n = strlen(arg);
		/* A bare number would be nanoseconds (util/parse.h): ask for the unit. */
		if (n && isdigit((unsigned char)arg[n - 1]))
			return fail(err, errlen, "--timeout %s: needs a unit (ns, us, ms or s)",
			            arg);
		r = cvm_parse_duration_ns(arg, &v);
		if (r)
			return fail(err, errlen,
			            "--timeout %s: not a duration (use e.g. 30s or 500ms)", arg);
		if (v == 0)
			return fail(err, errlen, "--timeout %s: must be more than zero", arg);
		a->timeout_ns = v;
		return 0;
	}
	case OPT_PROTECTED:
		a->protected_state = true;
		return 0;
	case OPT_NO_SECCOMP:
		a->no_seccomp = true;
		return 0;
	case 'v':
		a->verbose++;
		return 0;
	default:
		return fail(err, errlen, "internal error: option %d", opt);
	}
}

int cvm_run_parse_args(int argc, char **argv, struct cvm_run_args *a, char *err, size_t errlen)
{
	int opt, r;

	memset(a, 0, sizeof(*a));
	a->cpus = CVM_RUN_DEFAULT_CPUS;
	a->mem = CVM_RUN_DEFAULT_MEM;
	a->irqchip = CVM_RUN_DEFAULT_IRQCHIP;
	a->boot = CVM_BOOT_AUTO;
	cvm_placement_opts_init(&a->place);
	err[0] = 0;

	optind = 0; /* glibc: full re-initialisation, so the parser can run more than once */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			return 1;
		case ':':
			if (optopt >= OPT_CPUS)
				return fail(err, errlen, "option --%s needs a value",
				            option_name(optopt));
			return fail(err, errlen, "option -%c needs a value", optopt);
		case '?':
			if (strncmp(argv[optind - 1], "--", 2) && isprint(optopt))
				return fail(err, errlen, "unknown option '-%c'", optopt);
			return fail(err, errlen, "unknown or malformed option '%s'",
			            argv[optind - 1]);
		default:
			r = cvm_placement_opt(&a->place, opt, optarg, err, errlen);
			if (r == 0)
				r = parse_one(opt, optarg, a, err, errlen);
			if (r < 0)
				return r;
		}
	}
	if (optind >= argc)
		return fail(err, errlen, "no IMAGE given (see 'corevm run --help')");
	if (optind + 1 < argc)
		return fail(err, errlen, "unexpected argument '%s' after IMAGE '%s'",
		            argv[optind + 1], argv[optind]);
	a->image = argv[optind];
	if (a->protected_state && a->irqchip != CVM_IRQCHIP_USER)
		return fail(err, errlen,
		            "--protected-state needs --irqchip user (with --irqchip %s KVM applies "
		            "INIT and SIPI to the registers itself)",
		            a->irqchip == CVM_IRQCHIP_SPLIT ? "split" : "kernel");
	if (a->place.given)
		return cvm_placement_opts_finish(&a->place, a->cpus, err, errlen);
	return 0;
}
