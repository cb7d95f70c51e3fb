/* Strict reading of JSON objects (json-c) with errors that name the file, the key path and the problem. */
#ifndef COREVM_SIM_JSONR_H
#define COREVM_SIM_JSONR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "sim/dist.h"

/*
 * A reader walks a parsed document and keeps the path of the value it is looking
 * at ("host.noise[1].rate"). The first problem is reported once with cvm_err() as
 * `FILE: PATH: PROBLEM` and remembered in `err` (-EINVAL); every later call then
 * returns false without reporting, so a loader can chain calls and check once.
 *
 * Getters take the parent object and a key. An absent key leaves `*out` alone and
 * returns true unless the key is required; a present key of the wrong type or out
 * of range is an error.
 */
struct cvm_jr {
	const char *file;
	char path[256];
	size_t len;
	int err;
};

void cvm_jr_init(struct cvm_jr *jr, const char *file);

/* Appends ".key" or "[i]" to the path; returns the previous length for cvm_jr_pop(). */
size_t cvm_jr_push_key(struct cvm_jr *jr, const char *key);
size_t cvm_jr_push_index(struct cvm_jr *jr, size_t i);
void cvm_jr_pop(struct cvm_jr *jr, size_t len);

/* Reports `FILE: PATH: message` (or `FILE: message` at the root) once; returns false. */
bool cvm_jr_fail(struct cvm_jr *jr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fails unless `obj` (at the current path) is an object whose keys are all in the NULL-terminated `allowed`. */
bool cvm_jr_keys(struct cvm_jr *jr, json_object *obj, const char *const *allowed);

/* The member `key` if present (NULL otherwise; an error if `required`). */
json_object *cvm_jr_get(struct cvm_jr *jr, json_object *obj, const char *key, bool required);

bool cvm_jr_uint(struct cvm_jr *jr, json_object *obj, const char *key, bool required, uint64_t min,
                 uint64_t max, uint64_t *out);
bool cvm_jr_u32(struct cvm_jr *jr, json_object *obj, const char *key, bool required,
                unsigned int min, unsigned int max, unsigned int *out);
bool cvm_jr_double(struct cvm_jr *jr, json_object *obj, const char *key, bool required, double min,
                   double max, double *out);
bool cvm_jr_bool(struct cvm_jr *jr, json_object *obj, const char *key, bool required, bool *out);
bool cvm_jr_string(struct cvm_jr *jr, json_object *obj, const char *key, bool required, char *buf,
                   size_t size);

/* A duration: a string with a unit ("20us", "1.5ms") or a non-negative integer of ns. */
bool cvm_jr_duration(struct cvm_jr *jr, json_object *obj, const char *key, bool required,
                     uint64_t *out);

/* The same for a value already in hand (the current path names it). */
bool cvm_jr_duration_value(struct cvm_jr *jr, json_object *v, uint64_t *out);

/*
 * A CPU set of `ncpus` bits: a Linux CPU list ("0-3,8"), "all", "none", or one of
 * the names in `named` (NULL-terminated, with the bitmaps in `maps`), e.g.
 * "housekeeping". `map` holds CVM_BITMAP_WORDS(ncpus) words.
 */
bool cvm_jr_cpus(struct cvm_jr *jr, json_object *obj, const char *key, bool required,
                 unsigned int ncpus, const char *const *named, uint64_t *const *maps,
                 uint64_t *map);

/*
 * A duration distribution: a duration string (fixed), or an object
 * {"dist": "fixed", "value"} | {"dist": "uniform", "min", "max"} | {"dist": "exp", "mean"}
 * | {"dist": "lognormal", "median", "sigma", "max"?} | {"dist": "pareto", "min", "alpha", "max"?}.
 */
bool cvm_jr_dist(struct cvm_jr *jr, json_object *obj, const char *key, bool required,
                 struct cvm_sim_dist *out);

/*
 * An arrival process read from keys of `obj` itself: "rate" (Poisson, per second)
 * or "period" with an optional "jitter". Neither present: `*out` is left alone.
 */
bool cvm_jr_arrival(struct cvm_jr *jr, json_object *obj, struct cvm_sim_arrival *out);

/* Parses `text` into a document; a syntax error is reported with its line and column. */
json_object *cvm_jr_parse(struct cvm_jr *jr, const char *text);

/* Reads a whole file (at most `max` bytes) into a NUL-terminated buffer the caller frees. */
int __cvm_read_file(const char *path, size_t max, char **out);

#endif
