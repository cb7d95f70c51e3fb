/* The placement options `corevm run` and `corevm host` share: parsing, combination checks, usage text. */
#include "host/placement_cli.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"
#include "util/parse.h"

const char cvm_placement_usage[] =
        "  --placement POLICY      where vCPU threads run: none | pin | smt-protect |\n"
        "                          core-sched[=vm|vcpu] (docs/placement.md; default none)\n"
        "  --host-cpus LIST        host CPUs corevm may use, e.g. 2-7,10 (default: present\n"
        "                          CPUs that are not isolated)\n"
        "  --placement-strict      refuse what the host cannot give (core scheduling, uevents)\n"
        "  --placement-explain     say where each vCPU runs and why\n"
        "  --placement-fallback F  when hotplug breaks the policy: fail | pin | none\n"
        "                          (default: none for pin and smt-protect, else fail)\n"
        "  --placement-retries N   guest-entry failures survived before the VM fails (default 3)\n";

void cvm_placement_opts_init(struct cvm_placement_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->retries = 3;
	cvm_place_request_init(&o->req, CVM_PLACE_NONE, 1);
}

int cvm_placement_opt(struct cvm_placement_opts *o, int opt, const char *arg)
{
	uint64_t v;
	int r;
	switch (opt) {
	case CVM_OPT_PLACEMENT:
		if (cvm_place_parse_policy(arg, &o->req.policy, &o->req.cookies)) {
			cvm_err(NULL,
			        "--placement: unknown policy '%s' (none, pin, smt-protect, "
			        "core-sched, core-sched=vm, core-sched=vcpu)",
			        arg);
			return -EINVAL;
		}
		break;
	case CVM_OPT_HOST_CPUS:
		r = cvm_parse_cpulist(arg, o->req.host_cpus, CVM_MAX_HOST_CPUS);
		if (r == -ERANGE) {
			cvm_err(NULL, "--host-cpus: '%s' names a CPU beyond corevm's limit of %u",
			        arg, CVM_MAX_HOST_CPUS);
			return -EINVAL;
		}
		if (r || cvm_bitmap_empty(o->req.host_cpus, CVM_MAX_HOST_CPUS)) {
			cvm_err(NULL, "--host-cpus: '%s' is not a list of CPUs (e.g. 0-3,8)", arg);
			return -EINVAL;
		}
		o->req.host_cpus_given = true;
		break;
	case CVM_OPT_PLACEMENT_STRICT:
		o->req.strict = true;
		break;
	case CVM_OPT_PLACEMENT_EXPLAIN:
		o->explain = true;
		break;
	case CVM_OPT_PLACEMENT_FALLBACK:
		if (cvm_place_parse_fallback(arg, &o->req.fallback)) {
			cvm_err(NULL,
			        "--placement-fallback: unknown fallback '%s' (fail, pin, none)",
			        arg);
			return -EINVAL;
		}
		o->fallback_given = true;
		break;
	case CVM_OPT_PLACEMENT_RETRIES:
		if (cvm_parse_u64(arg, 0, 1000, &v)) {
			cvm_err(NULL, "--placement-retries: '%s' is not a number from 0 to 1000",
			        arg);
			return -EINVAL;
		}
		o->retries = (unsigned int)v;
		break;
	default:
		return 0;
	}
	o->given = true;
	return 1;
}

int cvm_placement_opts_finish(struct cvm_placement_opts *o, unsigned int nr_vcpus)
{
	struct cvm_place_request *rq = &o->req;
	if (nr_vcpus == 0 || nr_vcpus > CVM_MAX_VCPUS) {
		cvm_err(NULL, "placement: %u vCPUs; corevm places 1 to %u", nr_vcpus,
		        CVM_MAX_VCPUS);
		return -EINVAL;
	}
	rq->nr_vcpus = nr_vcpus;
	bool pinned = rq->policy == CVM_PLACE_PIN || rq->policy == CVM_PLACE_SMT_PROTECT;
	if (!o->fallback_given) {
		rq->fallback = pinned ? CVM_FALLBACK_NONE : CVM_FALLBACK_FAIL;
		return 0;
	}
	bool ok = rq->fallback == CVM_FALLBACK_FAIL ||
	          (rq->fallback == CVM_FALLBACK_NONE && pinned) ||
	          (rq->fallback == CVM_FALLBACK_PIN && rq->policy == CVM_PLACE_SMT_PROTECT);
	if (!ok) {
		cvm_err(NULL, "--placement-fallback %s: not weaker than --placement %s (%s)",
		        cvm_place_fallback_name(rq->fallback), cvm_place_policy_name(rq->policy),
		        pinned ? "use none or fail" : "only fail applies");
		return -EINVAL;
	}
	return 0;
}
