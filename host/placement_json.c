/* JSON forms of the topology, a placement and placement events (json-c), for `corevm host --json` and --stats. */
#include "host/placement_json.h"

#include <json-c/json.h>
#include <stdio.h>

#include "util/parse.h"

#define W CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)

static json_object *cpus_json(const uint64_t *map)
{
	char buf[4096];
	if (cvm_format_cpulist(map, CVM_MAX_HOST_CPUS, buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "(too long)");
	return json_object_new_string(buf);
}

static void add(json_object *o, const char *key, json_object *v)
{
	json_object_object_add(o, key, v);
}

static json_object *id_json(int32_t id)
{
	return id == CVM_TOPO_NONE ? NULL : json_object_new_int(id);
}

json_object *cvm_topology_json(const struct cvm_host_topology *t)
{
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	add(o, "possible", cpus_json(t->possible));
	add(o, "present", cpus_json(t->present));
	add(o, "online", cpus_json(t->online));
	add(o, "isolated", cpus_json(t->isolated));
	add(o, "unknown", cpus_json(t->unknown));
	add(o, "packages", json_object_new_int((int)t->nr_packages));
	add(o, "nodes", json_object_new_int((int)t->nr_nodes));
	add(o, "smt_width", json_object_new_int((int)t->smt_width));
	add(o, "smt_control", json_object_new_string(t->smt_control));
	add(o, "smt_active", t->smt_active < 0 ? NULL : json_object_new_boolean(t->smt_active));
	json_object *cores = json_object_new_array();
	for (unsigned int k = 0; k < t->nr_cores; k++) {
		const struct cvm_host_core *c = &t->core[k];
		if (!c->nr_threads)
			continue;
		uint64_t map[W], off[W];
		json_object *j = json_object_new_object();
		cvm_topology_core_cpus(t, k, map);
		cvm_bitmap_andnot(off, map, t->online, CVM_MAX_HOST_CPUS);
		add(j, "package", id_json(c->package));
		add(j, "die", id_json(c->die));
		add(j, "cluster", id_json(c->cluster));
		add(j, "core", id_json(c->core_id));
		add(j, "node", id_json(c->node));
		add(j, "cpus", cpus_json(map));
		add(j, "offline", cpus_json(off));
		add(j, "maybe_partial",
		    json_object_new_boolean(cvm_topology_core_maybe_partial(t, k)));
		json_object_array_add(cores, j);
	}
	add(o, "cores", cores);
	return o;
}

json_object *cvm_place_request_json(const struct cvm_place_request *rq)
{
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	add(o, "policy", json_object_new_string(cvm_place_policy_name(rq->policy)));
	add(o, "cookies", json_object_new_string(cvm_cookie_scope_name(rq->cookies)));
	add(o, "fallback", json_object_new_string(cvm_place_fallback_name(rq->fallback)));
	add(o, "vcpus", json_object_new_int((int)rq->nr_vcpus));
	add(o, "strict", json_object_new_boolean(rq->strict));
	add(o, "host_cpus", rq->host_cpus_given ? cpus_json(rq->host_cpus) : NULL);
	add(o, "affinity", rq->affinity_given ? cpus_json(rq->affinity) : NULL);
	add(o, "core_scheduling",
	    json_object_new_string(rq->cookie_support
	                                   ? cvm_cookie_unsupported_why(rq->cookie_support)
	                                   : "supported"));
	return o;
}

json_object *cvm_placement_json(const struct cvm_place_host *h, const struct cvm_place_request *rq,
                                const struct cvm_placement *p)
{
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	char name[64];
	add(o, "policy", json_object_new_string(cvm_place_policy_name(p->requested)));
	add(o, "effective", json_object_new_string(cvm_place_policy_name(p->effective)));
	add(o, "degraded", json_object_new_boolean(p->degraded));
	add(o, "degraded_why", p->degraded ? json_object_new_string(p->degraded_why) : NULL);
	add(o, "cookies", json_object_new_string(cvm_cookie_scope_name(p->cookies)));
	add(o, "cookies_active", json_object_new_boolean(p->cookies_active));
	add(o, "allowed", cpus_json(p->allowed));
	add(o, "usable", cpus_json(p->usable));
	add(o, "housekeeping", cpus_json(p->housekeeping));
	add(o, "housekeeping_shared", json_object_new_boolean(p->housekeeping_shared));
	add(o, "reserved", cpus_json(p->reserved));
	json_object *vcpus = json_object_new_array();
	for (unsigned int i = 0; i < p->nr_vcpus; i++) {
		const struct cvm_vcpu_place *vp = &p->vcpu[i];
		json_object *j = json_object_new_object();
		uint64_t mask[W];
		cvm_placement_vcpu_mask(p, i, mask);
		add(j, "vcpu", json_object_new_int((int)i));
		add(j, "cpus", cpus_json(mask));
		add(j, "why",
		    json_object_new_string(cvm_place_why_name((enum cvm_place_why)vp->why)));
		if (vp->cpu >= 0 && vp->core >= 0)
			add(j, "core",
			    json_object_new_string(cvm_topology_core_name(
			            h->topo, (unsigned int)vp->core, name, sizeof(name))));
		if (vp->why == CVM_WHY_SHARED_CORE)
			add(j, "peer", json_object_new_int(vp->peer));
		if (vp->cookie)
			add(j, "cookie_group", json_object_new_int((int)vp->cookie));
		json_object_array_add(vcpus, j);
	}
	add(o, "vcpus", vcpus);
	return o;
}

json_object *cvm_place_event_json(const struct cvm_place_event *e)
{
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	add(o, "seq", json_object_new_int64((int64_t)e->seq));
	add(o, "time_ns", json_object_new_int64((int64_t)e->time_ns));
	add(o, "cause",
	    json_object_new_string(cvm_place_cause_name((enum cvm_place_cause)e->cause)));
	add(o, "cpu", e->cpu >= 0 ? json_object_new_int(e->cpu) : NULL);
	add(o, "vcpu", e->vcpu >= 0 ? json_object_new_int(e->vcpu) : NULL);
	add(o, "policy",
	    json_object_new_string(cvm_place_policy_name((enum cvm_place_policy)e->policy)));
	add(o, "degraded", json_object_new_boolean(e->degraded));
	add(o, "vm_failed", json_object_new_boolean(e->vm_failed));
	add(o, "moved", json_object_new_int((int)e->nr_moved));
	json_object *moves = json_object_new_array();
	for (unsigned int i = 0; i < e->nr_moved && i < CVM_PLACE_EVENT_MOVES; i++) {
		json_object *m = json_object_new_object();
		add(m, "vcpu", json_object_new_int((int)e->moves[i].vcpu));
		add(m, "from",
		    e->moves[i].from >= 0 ? json_object_new_int(e->moves[i].from) : NULL);
		add(m, "to", e->moves[i].to >= 0 ? json_object_new_int(e->moves[i].to) : NULL);
		json_object_array_add(moves, m);
	}
	add(o, "moves", moves);
	add(o, "note", json_object_new_string(e->note));
	return o;
}
