/* Strict JSON reading with key-path errors (see jsonr.h). */
#include "sim/jsonr.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bitmap.h"
#include "util/log.h"
#include "util/parse.h"

void cvm_jr_init(struct cvm_jr *jr, const char *file)
{
	jr->file = file;
	jr->path[0] = '\0';
	jr->len = 0;
	jr->err = 0;
}

static size_t push(struct cvm_jr *jr, const char *text)
{
	size_t old = jr->len;
	size_t room = sizeof(jr->path) - jr->len;
	int n = snprintf(jr->path + jr->len, room, "%s", text);
	if (n > 0)
		jr->len += (size_t)n < room ? (size_t)n : room - 1;
	return old;
}

size_t cvm_jr_push_key(struct cvm_jr *jr, const char *key)
{
	char buf[80];
	snprintf(buf, sizeof(buf), "%s%s", jr->len ? "." : "", key);
	return push(jr, buf);
}

size_t cvm_jr_push_index(struct cvm_jr *jr, size_t i)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "[%zu]", i);
	return push(jr, buf);
}

void cvm_jr_pop(struct cvm_jr *jr, size_t len)
{
	jr->len = len;
	jr->path[len] = '\0';
}

bool cvm_jr_fail(struct cvm_jr *jr, const char *fmt, ...)
{
	if (jr->err)
		return false;
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (jr->len)
		cvm_err("sim", "%s: %s: %s", jr->file, jr->path, msg);
	else
		cvm_err("sim", "%s: %s", jr->file, msg);
	jr->err = -EINVAL;
	return false;
}

static const char *type_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a fraction";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "something else";
}

bool cvm_jr_keys(struct cvm_jr *jr, json_object *obj, const char *const *allowed)
{
	if (jr->err)
		return false;
	if (!json_object_is_type(obj, json_type_object))
		return cvm_jr_fail(jr, "expected an object, got %s", type_name(obj));
	json_object_object_foreach(obj, key, val)
	{
		(void)val;
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			if (!strcmp(*a, key))
				ok = true;
		if (!ok) {
			size_t old = cvm_jr_push_key(jr, key);
			cvm_jr_fail(jr, "unknown key");
			cvm_jr_pop(jr, old);
			return false;
		}
	}
	return true;
}

json_object *cvm_jr_get(struct cvm_jr *jr, json_object *obj, const char *key, bool required)
{
	json_object *v = NULL;
	if (jr->err)
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v) || !v) {
		if (required) {
			size_t old = cvm_jr_push_key(jr, key);
			cvm_jr_fail(jr, "missing (required)");
			cvm_jr_pop(jr, old);
		}
		return NULL;
	}
	return v;
}

/* Looks up `key`; returns 1 with the path pushed (caller pops), 0 when absent and fine, -1 on error. */
static int enter(struct cvm_jr *jr, json_object *obj, const char *key, bool required,
                 json_object **v, size_t *old)
{
	*v = cvm_jr_get(jr, obj, key, required);
	if (jr->err)
		return -1;
	if (!*v)
		return 0;
	*old = cvm_jr_push_key(jr, key);
	return 1;
}

static bool leave(struct cvm_jr *jr, size_t old, bool ok)
{
	cvm_jr_pop(jr, old);
	return ok && !jr->err;
}

/* How a getter reads a present value (the path names it); reports and returns false on a bad one. */
struct conv {
	bool (*fn)(struct cvm_jr *jr, json_object *v, const struct conv *c, void *out);
	uint64_t umin, umax;
	double dmin, dmax;
	size_t size;
};

static bool get_value(struct cvm_jr *jr, json_object *obj, const char *key, bool required,
                      const struct conv *c, void *out)
{
	json_object *v;
	size_t old;
	int r = enter(jr, obj, key, required, &v, &old);
	if (r <= 0)
		return r == 0;
	return leave(jr, old, c->fn(jr, v, c, out));
}

static bool conv_uint(struct cvm_jr *jr, json_object *v, const struct conv *c, void *out)
{
	if (!json_object_is_type(v, json_type_int))
		return cvm_jr_fail(jr, "expected an integer, got %s", type_name(v));
	errno = 0;
	int64_t s = json_object_get_int64(v);
	if (s < 0 || (uint64_t)s < c->umin)
		return cvm_jr_fail(jr, "must be >= %llu, got %lld", (unsigned long long)c->umin,
		                   (long long)s);
	if ((uint64_t)s > c->umax || (s == INT64_MAX && errno == ERANGE))
		return cvm_jr_fail(jr, "must be <= %llu, got %s", (unsigned long long)c->umax,
		                   json_object_to_json_string(v));
	*(uint64_t *)out = (uint64_t)s;
	return true;
}

bool cvm_jr_uint(struct cvm_jr *jr, json_object *obj, const char *key, bool required, uint64_t min,
                 uint64_t max, uint64_t *out)
{
	struct conv c = {.fn = conv_uint, .umin = min, .umax = max};
	return get_value(jr, obj, key, required, &c, out);
}

bool cvm_jr_u32(struct cvm_jr *jr, json_object *obj, const char *key, bool required,
                unsigned int min, unsigned int max, unsigned int *out)
{
	uint64_t v = *out;
	if (!cvm_jr_uint(jr, obj, key, required, min, max, &v))
		return false;
	*out = (unsigned int)v;
	return true;
}

static bool conv_double(struct cvm_jr *jr, json_object *v, const struct conv *c, void *out)
{
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return cvm_jr_fail(jr, "expected a number, got %s", type_name(v));
	double d = json_object_get_double(v);
	if (!isfinite(d))
		return cvm_jr_fail(jr, "must be a finite number");
	if (d < c->dmin)
		return cvm_jr_fail(jr, "must be >= %g, got %g", c->dmin, d);
	if (d > c->dmax)
		return cvm_jr_fail(jr, "must be <= %g, got %g", c->dmax, d);
	*(double *)out = d;
	return true;
}

bool cvm_jr_double(struct cvm_jr *jr, json_object *obj, const char *key, bool required, double min,
                   double max, double *out)
{
	struct conv c = {.fn = conv_double, .dmin = min, .dmax = max};
	return get_value(jr, obj, key, required, &c, out);
}

static bool conv_bool(struct cvm_jr *jr, json_object *v, const struct conv *c, void *out)
{
	if (!json_object_is_type(v, json_type_boolean))
		return cvm_jr_fail(jr, "expected true or false, got %s", type_name(v));
	*(bool *)out = json_object_get_boolean(v);
	return true;
}

bool cvm_jr_bool(struct cvm_jr *jr, json_object *obj, const char *key, bool required, bool *out)
{
	struct conv c = {.fn = conv_bool};
	return get_value(jr, obj, key, required, &c, out);
}

static bool conv_string(struct cvm_jr *jr, json_object *v, const struct conv *c, void *out)
{
	if (!json_object_is_type(v, json_type_string))
		return cvm_jr_fail(jr, "expected a string, got %s", type_name(v));
	const char *s = json_object_get_string(v);
	size_t n = strlen(s);
	if (n >= c->size)
		return cvm_jr_fail(jr, "longer than %zu characters", c->size - 1);
	memcpy(out, s, n + 1);
	return true;
}

bool cvm_jr_string(struct cvm_jr *jr, json_object *obj, const char *key, bool required, char *buf,
                   size_t size)
{
	struct conv c = {.fn = conv_string, .size = size};
	return get_value(jr, obj, key, required, &c, buf);
}

bool cvm_jr_duration_value(struct cvm_jr *jr, json_object *v, uint64_t *out)
{
	if (json_object_is_type(v, json_type_int)) {
		int64_t s = json_object_get_int64(v);
		if (s < 0)
			return cvm_jr_fail(jr, "must be >= 0, got %lld", (long long)s);
		*out = (uint64_t)s;
		return true;
	}
	if (!json_object_is_type(v, json_type_string))
		return cvm_jr_fail(jr, "expected a duration such as \"20us\", got %s",
		                   type_name(v));
	const char *s = json_object_get_string(v);
	if (s[0] == '-')
		return cvm_jr_fail(jr, "must be >= 0, got %s", s);
	int r = cvm_parse_duration_ns(s, out);
	if (r == -ERANGE)
		return cvm_jr_fail(jr, "too long: '%s'", s);
	if (r)
		return cvm_jr_fail(jr, "not a duration: '%s' (a number with ns, us, ms or s)", s);
	return true;
}

static bool conv_duration(struct cvm_jr *jr, json_object *v, const struct conv *c, void *out)
{
	return cvm_jr_duration_value(jr, v, out);
}

bool cvm_jr_duration(struct cvm_jr *jr, json_object *obj, const char *key, bool required,
                     uint64_t *out)
{
	struct conv c = {.fn = conv_duration};
	return get_value(jr, obj, key, required, &c, out);
}

bool cvm_jr_cpus(struct cvm_jr *jr, json_object *obj, const char *key, bool required,
                 unsigned int ncpus, const char *const *named, uint64_t *const *maps, uint64_t *map)
{
	json_object *v;
	size_t old;
	int r = enter(jr, obj, key, required, &v, &old);
	if (r <= 0)
		return r == 0;
	bool ok = false;
	if (!json_object_is_type(v, json_type_string)) {
		cvm_jr_fail(jr, "expected a CPU list such as \"0-3,8\", got %s", type_name(v));
		return leave(jr, old, false);
	}
	const char *s = json_object_get_string(v);
	if (!strcmp(s, "all")) {
		cvm_bitmap_fill(map, ncpus);
		return leave(jr, old, true);
	}
	if (!strcmp(s, "none")) {
		cvm_bitmap_zero(map, ncpus);
		return leave(jr, old, true);
	}
	for (unsigned int i = 0; named && named[i]; i++) {
		if (!strcmp(s, named[i])) {
			for (unsigned int w = 0; w < CVM_BITMAP_WORDS(ncpus); w++)
				map[w] = maps[i][w];
			return leave(jr, old, true);
		}
	}
	r = cvm_parse_cpulist(s, map, ncpus);
	if (r == -ERANGE)
		cvm_jr_fail(jr, "CPU list '%s' names a CPU >= %u (the host has %u)", s, ncpus,
		            ncpus);
	else if (r)
		cvm_jr_fail(jr, "not a CPU list: '%s' (e.g. \"0-3,8\", \"all\")", s);
	else
		ok = true;
	return leave(jr, old, ok);
}

bool cvm_jr_dist(struct cvm_jr *jr, json_object *obj, const char *key, bool required,
                 struct cvm_sim_dist *out)
{
	json_object *v;
	size_t old;
	int r = enter(jr, obj, key, required, &v, &old);
	if (r <= 0)
		return r == 0;
	if (!json_object_is_type(v, json_type_object)) {
		uint64_t ns;
		if (json_object_is_type(v, json_type_string) ||
		    json_object_is_type(v, json_type_int)) {
			if (!cvm_jr_duration_value(jr, v, &ns))
				return leave(jr, old, false);
			*out = cvm_sim_dist_fixed(ns);
			return leave(jr, old, true);
		}
		cvm_jr_fail(jr, "expected a duration or a distribution object, got %s",
		            type_name(v));
		return leave(jr, old, false);
	}
	char kind[16] = "";
	struct cvm_sim_dist d = {0};
	if (!cvm_jr_string(jr, v, "dist", true, kind, sizeof(kind)))
		return leave(jr, old, false);
	if (!strcmp(kind, "fixed")) {
		static const char *const keys[] = {"dist", "value", NULL};
		d.kind = CVM_DIST_FIXED;
		cvm_jr_keys(jr, v, keys);
		cvm_jr_duration(jr, v, "value", true, &d.a);
	} else if (!strcmp(kind, "uniform")) {
		static const char *const keys[] = {"dist", "min", "max", NULL};
		d.kind = CVM_DIST_UNIFORM;
		cvm_jr_keys(jr, v, keys);
		cvm_jr_duration(jr, v, "min", true, &d.a);
		cvm_jr_duration(jr, v, "max", true, &d.b);
		if (!jr->err && d.b < d.a) {
			size_t o2 = cvm_jr_push_key(jr, "max");
			cvm_jr_fail(jr, "must be >= min");
			cvm_jr_pop(jr, o2);
		}
	} else if (!strcmp(kind, "exp")) {
		static const char *const keys[] = {"dist", "mean", NULL};
		d.kind = CVM_DIST_EXP;
		cvm_jr_keys(jr, v, keys);
		cvm_jr_duration(jr, v, "mean", true, &d.a);
	} else if (!strcmp(kind, "lognormal")) {
		static const char *const keys[] = {"dist", "median", "sigma", "max", NULL};
		d.kind = CVM_DIST_LOGNORMAL;
		cvm_jr_keys(jr, v, keys);
		cvm_jr_duration(jr, v, "median", true, &d.a);
		cvm_jr_double(jr, v, "sigma", true, 0.0, 10.0, &d.shape);
		cvm_jr_duration(jr, v, "max", false, &d.max);
	} else if (!strcmp(kind, "pareto")) {
		static const char *const keys[] = {"dist", "min", "alpha", "max", NULL};
		d.kind = CVM_DIST_PARETO;
		d.shape = 1.0;
		cvm_jr_keys(jr, v, keys);
		cvm_jr_duration(jr, v, "min", true, &d.a);
		cvm_jr_double(jr, v, "alpha", true, 0.01, 100.0, &d.shape);
		cvm_jr_duration(jr, v, "max", false, &d.max);
	} else {
		size_t o2 = cvm_jr_push_key(jr, "dist");
		cvm_jr_fail(jr,
		            "unknown distribution '%s' (fixed, uniform, exp, lognormal, pareto)",
		            kind);
		cvm_jr_pop(jr, o2);
	}
	if (!jr->err)
		*out = d;
	return leave(jr, old, true);
}

bool cvm_jr_arrival(struct cvm_jr *jr, json_object *obj, struct cvm_sim_arrival *out)
{
	json_object *rate = cvm_jr_get(jr, obj, "rate", false);
	json_object *period = cvm_jr_get(jr, obj, "period", false);
	if (jr->err)
		return false;
	if (rate && period) {
		size_t old = cvm_jr_push_key(jr, "period");
		cvm_jr_fail(jr, "give either rate or period, not both");
		cvm_jr_pop(jr, old);
		return false;
	}
	if (rate) {
		struct cvm_sim_arrival a = {.kind = CVM_ARRIVAL_POISSON};
		if (!cvm_jr_double(jr, obj, "rate", true, 0.0, 1e9, &a.rate))
			return false;
		if (cvm_jr_get(jr, obj, "jitter", false)) {
			size_t old = cvm_jr_push_key(jr, "jitter");
			cvm_jr_fail(jr, "only with period");
			cvm_jr_pop(jr, old);
			return false;
		}
		*out = a;
	} else if (period) {
		struct cvm_sim_arrival a = {.kind = CVM_ARRIVAL_PERIODIC};
		if (!cvm_jr_duration(jr, obj, "period", true, &a.period) ||
		    !cvm_jr_duration(jr, obj, "jitter", false, &a.jitter))
			return false;
		*out = a;
	}
	return !jr->err;
}

json_object *cvm_jr_parse(struct cvm_jr *jr, const char *text)
{
	json_tokener *tok = json_tokener_new();
	if (!tok) {
		cvm_jr_fail(jr, "out of memory");
		return NULL;
	}
	size_t len = strlen(text);
	json_object *root = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	size_t off = json_tokener_get_parse_end(tok);
	if (!root || e != json_tokener_success) {
		if (e == json_tokener_continue)
			e = json_tokener_error_parse_eof;
		unsigned int line = 1, col = 1;
		for (size_t i = 0; i < off && i < len; i++) {
			if (text[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		cvm_jr_fail(jr, "line %u, column %u: %s", line, col, json_tokener_error_desc(e));
		json_object_put(root);
		json_tokener_free(tok);
		return NULL;
	}
	for (; off < len; off++) {
		if (text[off] != ' ' && text[off] != '\n' && text[off] != '\t' &&
		    text[off] != '\r') {
			cvm_jr_fail(jr, "trailing text after the JSON value");
			json_object_put(root);
			json_tokener_free(tok);
			return NULL;
		}
	}
	json_tokener_free(tok);
	return root;
}

int __cvm_read_file(const char *path, size_t max, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= max) {
				free(buf);
				close(fd);
				return -EFBIG;
			}
			cap = cap * 2 > max ? max : cap * 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			free(buf);
			close(fd);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (memchr(buf, '\0', n)) {
		free(buf);
		return -EINVAL;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}
