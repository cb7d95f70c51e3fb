/* Helpers shared by the host/ unit tests: fixture paths, scratch sysfs trees, CPU-set assertions. */
#ifndef COREVM_TESTS_HOST_TEST_H
#define COREVM_TESTS_HOST_TEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bitmap.h"
#include "host/topology.h"
#include "util/parse.h"

#ifndef FIXTURES
#error "FIXTURES must name tests/host/fixtures"
#endif

/* A fixture tree's sysfs root, e.g. fixture("1s4c2t"). Returns a static buffer. */
const char *fixture(const char *name);

/* Reads fixture `name` into a new topology (calloc'ed); fails the test on error. */
struct cvm_host_topology *read_fixture(const char *name);

/* Copies fixture `name` into a new temporary directory; returns its path (static buffer). */
const char *scratch_copy(const char *name);
/* Writes `text` to ROOT/devices/system/<rel>, creating directories. */
void scratch_write(const char *root, const char *rel, const char *text);
/* Removes ROOT/devices/system/<rel> recursively. */
void scratch_remove(const char *root, const char *rel);
/* Removes the whole scratch tree. */
void scratch_destroy(const char *root);

/* A CPU set from a CPU list ("0-3,8"); fails the test when it does not parse. */
void cpus(uint64_t *map, const char *list);
/* The CPU list of `map` (static buffer, rotates among 4). */
const char *list_of(const uint64_t *map);

#endif
