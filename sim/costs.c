/* The default cost profile and profile files (see costs.h). */
#include "sim/costs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/jsonr.h"
#include "util/log.h"

void cvm_sim_costs_default(struct cvm_sim_costs *c)
{
	*c = (struct cvm_sim_costs){
	        .name = "default (Zen 4 SEV-SNP estimates)",
	        .entry = 1000,
	        .exit = 1200,
	        .exit_user = 4000,
	        .kick = 3000,
	        .wake = 10000,
	        .hlt_wakeup = 1000,
	        .idle_required_retry = 500,
	        .irq_entry = 500,
	        .ctx_switch = 1500,
	        .yield = 1000,
	};
}

#define COST_FIELDS(X) \
	X(entry)       \
	X(exit)        \
	X(exit_user)   \
	X(kick) X(wake) X(hlt_wakeup) X(idle_required_retry) X(irq_entry) X(ctx_switch) X(yield)

bool cvm_sim_costs_read(struct cvm_jr *jr, json_object *obj, struct cvm_sim_costs *c)
{
#define KEY(f) #f,
	static const char *const keys[] = {"name", "source", COST_FIELDS(KEY) NULL};
#undef KEY
	if (!cvm_jr_keys(jr, obj, keys))
		return false;
	cvm_jr_string(jr, obj, "name", false, c->name, sizeof(c->name));
	char source[256];
	cvm_jr_string(jr, obj, "source", false, source, sizeof(source));
#define READ(f) cvm_jr_duration(jr, obj, #f, false, &c->f);
	COST_FIELDS(READ)
#undef READ
	return !jr->err;
}

int cvm_sim_costs_load(const char *path, struct cvm_sim_costs *c)
{
	char *text;
	int r = __cvm_read_file(path, 1 << 20, &text);
	if (r) {
		cvm_err("sim", "cost profile %s: %s", path, strerror(-r));
		return r;
	}
	struct cvm_jr jr;
	cvm_jr_init(&jr, path);
	json_object *root = cvm_jr_parse(&jr, text);
	free(text);
	if (root)
		cvm_sim_costs_read(&jr, root, c);
	json_object_put(root);
	return jr.err;
}

int __cvm_sim_costs_write(FILE *f, const struct cvm_sim_costs *c, const char *source)
{
	json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "name", json_object_new_string(c->name));
	if (source)
		json_object_object_add(o, "source", json_object_new_string(source));
	char buf[32];
#define WRITE(fld)                                                        \
	snprintf(buf, sizeof(buf), "%lluns", (unsigned long long)c->fld); \
	json_object_object_add(o, #fld, json_object_new_string(buf));
	COST_FIELDS(WRITE)
#undef WRITE
	fprintf(f, "%s\n",
	        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	                                                  JSON_C_TO_STRING_SPACED |
	                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return ferror(f) ? -EIO : 0;
}
