/* JSON forms of the topology, a placement and placement events (json-c), for `corevm host --json` and --stats. */
#ifndef COREVM_HOST_PLACEMENT_JSON_H
#define COREVM_HOST_PLACEMENT_JSON_H

#include "host/placement.h"
#include "host/placer.h"
#include "host/topology.h"

struct json_object;

/*
 * Each returns a new json-c object (the caller puts it or attaches it), or NULL
 * when allocation failed. CPU sets are CPU-list strings ("0-3,8"). Field names
 * are listed in docs/placement.md.
 */
struct json_object *cvm_topology_json(const struct cvm_host_topology *t);
struct json_object *cvm_placement_json(const struct cvm_place_host *h,
                                       const struct cvm_place_request *rq,
                                       const struct cvm_placement *p);
struct json_object *cvm_place_event_json(const struct cvm_place_event *e);
/* The request as given (policy, cookies, fallback, host CPUs, strict). */
struct json_object *cvm_place_request_json(const struct cvm_place_request *rq);

#endif
