/* The placement options `corevm run` and `corevm host` share: parsing, combination checks, usage text. */
#include "host/placement_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/parse.h"

const char cvm_placement_usage[] = CVM_PLACEMENT_USAGE;

void cvm_placement_opts_init(struct cvm_placement_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->retries = 3;
	cvm_place_request_init(&o->req, CVM_PLACE_NONE, 1);
}

static int refuse(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cvm_placement_opt(struct cvm_placement_opts *o, int opt, const char *arg, char *err,
                      size_t errlen)
{
	uint64_t v;
	int r;
	switch (opt) {
	case CVM_OPT_PLACEMENT:
		if (cvm_place_parse_policy(arg, &o->req.policy, &o->req.cookies))
			return refuse(err, errlen,
			              "--placement %s: unknown policy (none, pin, smt-protect, "
			              "core-sched, core-sched=vm, core-sched=vcpu)",
			              arg);
		break;
	case CVM_OPT_HOST_CPUS:
		r = cvm_parse_cpulist(arg, o->req.host_cpus, CVM_MAX_HOST_CPUS);
		if (r == -ERANGE)
			return refuse(err, errlen,
			              "--host-cpus %s: names a CPU beyond corevm's limit of %u",
			              arg, CVM_MAX_HOST_CPUS);
		if (r || cvm_bitmap_empty(o->req.host_cpus, CVM_MAX_HOST_CPUS))
			return refuse(err, errlen,
			              "--host-cpus %s: not a list of CPUs (e.g. 0-3,8)", arg);
		o->req.host_cpus_given = true;
		break;
	case CVM_OPT_PLACEMENT_STRICT:
		o->req.strict = true;
		break;
	case CVM_OPT_PLACEMENT_EXPLAIN:
		o->explain = true;
		break;
	case CVM_OPT_PLACEMENT_FALLBACK:
		if (cvm_place_parse_fallback(arg, &o->req.fallback))
			return refuse(err, errlen,
			              "--placement-fallback %s: unknown fallback (fail, pin, none)",
			              arg);
		o->fallback_given = true;
		break;
	case CVM_OPT_PLACEMENT_RETRIES:
		if (cvm_parse_u64(arg, 0, 1000, &v))
			return refuse(err, errlen,
			              "--placement-retries %s: not a number from 0 to 1000", arg);
		o->retries = (unsigned int)v;
		break;
	default:
		return 0;
	}
	o->given = true;
	return 1;
}

int cvm_placement_opts_finish(struct cvm_placement_opts *o, unsigned int nr_vcpus, char *err,
                              size_t errlen)
{
	struct cvm_place_request *rq = &o->req;
	if (nr_vcpus == 0 || nr_vcpus > CVM_MAX_VCPUS)
		return refuse(err, errlen, "--placement with %u vCPUs: corevm places 1 to %u",
		              nr_vcpus, CVM_MAX_VCPUS);
	rq->nr_vcpus = nr_vcpus;
	bool pinned = rq->policy == CVM_PLACE_PIN || rq->policy == CVM_PLACE_SMT_PROTECT;
	if (!o->fallback_given) {
		rq->fallback = pinned ? CVM_FALLBACK_NONE : CVM_FALLBACK_FAIL;
		return 0;
	}
	bool ok = rq->fallback == CVM_FALLBACK_FAIL ||
	          (rq->fallback == CVM_FALLBACK_NONE && pinned) ||
	          (rq->fallback == CVM_FALLBACK_PIN && rq->policy == CVM_PLACE_SMT_PROTECT);
	if (!ok)
		return refuse(
		        err, errlen, "--placement-fallback %s: not weaker than --placement %s (%s)",
		        cvm_place_fallback_name(rq->fallback), cvm_place_policy_name(rq->policy),
		        pinned ? "use none or fail" : "only fail applies");
	return 0;
}
