/* Unit tests for host/hotplug.c and host/place_ctl.c: uevent parsing, raw uevents injected over a socketpair, fake probes, flapping CPUs, hostile datagrams, entry failures; the placement stays valid and the quarantine holds after every event. */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/hotplug.h"
#include "host/place_ctl.h"
#include "host_test.h"

#define WORDS CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)

/* ---- parsing ---- */

/* Builds a kernel-style datagram "ACTION@PATH\0KEY=VAL\0..." from "|"-separated parts. */
static size_t dgram(char *buf, size_t len, const char *parts)
{
	size_t n = 0;
	for (const char *p = parts; *p && n < len; p++)
		buf[n++] = *p == '|' ? '\0' : *p;
	return n;
}

static int parse(const char *parts, struct cvm_cpu_uevent *ev, const char **why)
{
	char buf[1024];
	size_t n = dgram(buf, sizeof(buf), parts);
	return cvm_uevent_parse(buf, n, 64, ev, why);
}

static void test_parse(void **state)
{
	struct cvm_cpu_uevent ev;
	const char *why;
	assert_int_equal(parse("online@/devices/system/cpu/cpu3|ACTION=online|DEVPATH=/devices/"
	                       "system/cpu/cpu3|SUBSYSTEM=cpu|SEQNUM=4711|",
	                       &ev, &why),
	                 1);
	assert_int_equal(ev.kind, CVM_UEVENT_ONLINE);
	assert_int_equal(ev.cpu, 3);
	assert_true(ev.seqnum == 4711);
	assert_int_equal(parse("offline@/devices/system/cpu/cpu0|ACTION=offline|DEVPATH=/devices/"
	                       "system/cpu/cpu0|",
	                       &ev, &why),
	                 1);
	assert_int_equal(ev.kind, CVM_UEVENT_OFFLINE);
	assert_int_equal(ev.cpu, 0);
	assert_true(ev.seqnum == 0);
	assert_int_equal(parse("add@/devices/system/cpu/cpu63|ACTION=add|DEVPATH=/devices/system/"
	                       "cpu/cpu63|SUBSYSTEM=cpu|",
	                       &ev, &why),
	                 1);
	assert_int_equal(ev.kind, CVM_UEVENT_ADD);
	assert_int_equal(parse("remove@/devices/system/cpu/cpu9|ACTION=remove|DEVPATH=/devices/"
	                       "system/cpu/cpu9|",
	                       &ev, &why),
	                 1);
	assert_int_equal(ev.kind, CVM_UEVENT_REMOVE);

	/* Well-formed, but not a CPU coming or going: ignored. */
	static const char *const ignored[] = {
	        "change@/devices/system/cpu/cpu3|ACTION=change|DEVPATH=/devices/system/cpu/cpu3|",
	        "add@/devices/system/cpu/cpu3/cache/index0|ACTION=add|DEVPATH=/devices/system/cpu/"
	        "cpu3/cache/index0|",
	        "add@/devices/system/cpu/cpufreq|ACTION=add|DEVPATH=/devices/system/cpu/cpufreq|",
	        "online@/devices/system/memory/memory3|ACTION=online|DEVPATH=/devices/system/memory/"
	        "memory3|SUBSYSTEM=memory|",
	        "online@/devices/system/cpu/cpu3|ACTION=online|DEVPATH=/devices/system/cpu/cpu3|"
	        "SUBSYSTEM=memory|",
	        "online@/devices/system/cpu/cpu03|ACTION=online|DEVPATH=/devices/system/cpu/cpu03|",
	        "online@/devices/system/cpu/cpu|ACTION=online|DEVPATH=/devices/system/cpu/cpu|",
	        "online@/devices/system/cpu/cpu-1|ACTION=online|DEVPATH=/devices/system/cpu/cpu-1|",
	        "online@/devices/system/cpu/cpu0x3|ACTION=online|DEVPATH=/devices/system/cpu/cpu0x3|",
	};
	for (unsigned int i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		if (parse(ignored[i], &ev, &why) != 0)
			fail_msg("not ignored: %s", ignored[i]);

	/* Hostile or broken: refused with a reason. */
	static const struct {
		const char *parts;
		int err;
		const char *why;
	} bad[] = {
	        {"online@/devices/system/cpu/cpu3", -EINVAL, "no NUL-terminated header"},
	        {"online@/devices/system/cpu/cpu3|ACTION=online|DEVPATH=/devices/system/cpu/cpu3",
	         -EINVAL, "a field is not NUL-terminated (truncated datagram?)"},
	        {"libudev|xxxxxxxx|", -EINVAL, "a udev message, not a kernel uevent"},
	        {"online/devices/system/cpu/cpu3|ACTION=online|", -EINVAL,
	         "header is not ACTION@DEVPATH"},
	        {"@/x|", -EINVAL, "header is not ACTION@DEVPATH"},
	        {"online@|", -EINVAL, "header is not ACTION@DEVPATH"},
	        {"online@/devices/system/cpu/cpu3|ACTION=online|garbage|", -EINVAL,
	         "a field is not KEY=VALUE"},
	        {"online@/devices/system/cpu/cpu3|ACTION=online||", -EINVAL,
	         "a field is not KEY=VALUE"},
	        {"online@/devices/system/cpu/cpu3|=x|", -EINVAL, "a field is not KEY=VALUE"},
	        {"online@/devices/system/cpu/cpu3|ACTION=online|ACTION=offline|DEVPATH=/devices/"
	         "system/cpu/cpu3|",
	         -EINVAL, "a field appears twice"},
	        {"online@/devices/system/cpu/cpu3|DEVPATH=/devices/system/cpu/cpu3|", -EINVAL,
	         "no ACTION= or DEVPATH= field"},
	        {"online@/devices/system/cpu/cpu3|ACTION=offline|DEVPATH=/devices/system/cpu/cpu3|",
	         -EINVAL, "header and fields disagree"},
	        {"online@/devices/system/cpu/cpu3|ACTION=online|DEVPATH=/devices/system/cpu/cpu4|",
	         -EINVAL, "header and fields disagree"},
	        {"online@/devices/system/cpu/cpu3|ACTION=online|DEVPATH=/devices/system/cpu/cpu3|"
	         "SEQNUM=12a|",
	         -EINVAL, "SEQNUM is not a number"},
	        {"online@/devices/system/cpu/cpu99999999999999999999|ACTION=online|DEVPATH=/devices/"
	         "system/cpu/cpu99999999999999999999|",
	         -ERANGE, "CPU number beyond the host's possible CPUs"},
	        {"online@/devices/system/cpu/cpu4294967296|ACTION=online|DEVPATH=/devices/system/cpu/"
	         "cpu4294967296|",
	         -ERANGE, "CPU number beyond the host's possible CPUs"},
	        {"offline@/devices/system/cpu/cpu64|ACTION=offline|DEVPATH=/devices/system/cpu/"
	         "cpu64|",
	         -ERANGE, "CPU number beyond the host's possible CPUs"},
	};
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i].parts, &ev, &why);
		if (r != bad[i].err || !why || strcmp(why, bad[i].why))
			fail_msg("case %u: want %d '%s', got %d '%s'", i, bad[i].err, bad[i].why, r,
			         why ? why : "(null)");
	}
	char big[CVM_UEVENT_MAX + 1];
	memset(big, 'a', sizeof(big));
	assert_int_equal(cvm_uevent_parse(big, sizeof(big), 64, &ev, &why), -EINVAL);
	assert_int_equal(cvm_uevent_parse(big, 0, 64, &ev, &why), -EINVAL);
	assert_string_equal(why, "empty datagram");
	/* Every prefix of a valid datagram is handled without reading past it. */
	char full[256];
	size_t n =
	        dgram(full, sizeof(full),
	              "online@/devices/system/cpu/cpu3|ACTION=online|DEVPATH=/devices/system/cpu/"
	              "cpu3|SEQNUM=1|");
	for (size_t len = 1; len < n; len++) {
		char *copy = malloc(len); /* exact size: ASan catches any overread */
		memcpy(copy, full, len);
		int r = cvm_uevent_parse(copy, len, 64, &ev, &why);
		assert_true(r < 0 || (r == 1 && copy[len - 1] == '\0'));
		free(copy);
	}
}

/* ---- the controller with injected uevents, probes and CPU-set syscalls ---- */

struct fake {
	/* prober */
	struct cvm_prober prober;
	unsigned int probes;
	unsigned int probe_cpu;
	uint64_t probe_token;
	/* affinity: one "current thread" at a time */
	uint64_t mask[WORDS];
	pid_t tid;
	/* vmm */
	uint64_t reaffine[CVM_BITMAP_WORDS(CVM_MAX_VCPUS)];
	unsigned int housekeeping, failed;
	char fail_why[CVM_PLACE_ERR_LEN];
};

static int fake_probe_start(struct cvm_prober *p, unsigned int cpu, uint64_t token)
{
	struct fake *f = p->priv;
	f->probes++;
	f->probe_cpu = cpu;
	f->probe_token = token;
	return 0;
}

static int aff_set(void *ctx, const uint64_t *mask)
{
	struct fake *f = ctx;
	memcpy(f->mask, mask, sizeof(f->mask));
	return 0;
}

static int aff_get(void *ctx, uint64_t *mask)
{
	struct fake *f = ctx;
	memcpy(mask, f->mask, sizeof(f->mask));
	return 0;
}

static int aff_getcpu(void *ctx)
{
	return 0;
}

static pid_t aff_gettid(void *ctx)
{
	return ((struct fake *)ctx)->tid;
}

static void vmm_reaffine(void *opaque, unsigned int vcpu)
{
	cvm_bit_set(((struct fake *)opaque)->reaffine, vcpu);
}

static void vmm_housekeeping(void *opaque)
{
	((struct fake *)opaque)->housekeeping++;
}

static void vmm_failed(void *opaque, const char *why)
{
	struct fake *f = opaque;
	f->failed++;
	snprintf(f->fail_why, sizeof(f->fail_why), "%s", why);
}

struct rig {
	struct fake f;
	struct cvm_affinity_ops aff;
	struct cvm_place_ctl *ctl;
	struct cvm_hotplug hp;
	int sv[2]; /* [0]: corevm's end, [1]: the "kernel" */
	const char *root;
	struct cvm_placement *p;
	struct cvm_host_topology *t;
	unsigned int nr_cpus;
};

static void sink_event(void *ctx, const struct cvm_cpu_uevent *ev)
{
	cvm_place_ctl_cpu_event(ctx, ev);
}

static void sink_lost(void *ctx)
{
	cvm_place_ctl_resync(ctx);
}

static struct rig *rig_on(const char *fixture_name, unsigned int nr_cpus,
                          enum cvm_place_policy policy, unsigned int nr_vcpus,
                          enum cvm_place_fallback fb)
{
	struct rig *g = calloc(1, sizeof(*g));
	g->p = calloc(1, sizeof(*g->p));
	g->t = calloc(1, sizeof(*g->t));
	g->root = strdup(scratch_copy(fixture_name));
	g->f.prober = (struct cvm_prober){.start = fake_probe_start, .priv = &g->f};
	g->aff = (struct cvm_affinity_ops){aff_set, aff_get, aff_getcpu, aff_gettid, &g->f};
	struct cvm_place_ctl_config cfg = {
	        .sysfs_root = g->root,
	        .max_entry_failures = 3,
	        .affinity = &g->aff,
	        .prober = &g->f.prober,
	};
	cvm_place_request_init(&cfg.req, policy, nr_vcpus);
	cfg.req.fallback = fb;
	cfg.req.affinity_given = true;
	cvm_bitmap_fill(cfg.req.affinity, nr_cpus);
	assert_int_equal(cvm_place_ctl_create(&cfg, &g->ctl), 0);
	struct cvm_place_ctl_vmm vmm = {vmm_reaffine, vmm_housekeeping, vmm_failed, &g->f, NULL};
	assert_int_equal(cvm_place_ctl_start(g->ctl, &vmm), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, g->sv), 0);
	struct cvm_uevent_source src;
	cvm_uevent_source_fd(&src, g->sv[0]);
	struct cvm_hotplug_sink sink = {sink_event, sink_lost, g->ctl};
	cvm_hotplug_init(&g->hp, &src, nr_cpus, &sink);
	g->nr_cpus = nr_cpus;
	return g;
}

static struct rig *rig_new(enum cvm_place_policy policy, unsigned int nr_vcpus,
                           enum cvm_place_fallback fb)
{
	return rig_on("1s4c2t", 8, policy, nr_vcpus, fb);
}

static void rig_free(struct rig *g)
{
	cvm_place_ctl_destroy(g->ctl);
	close(g->sv[0]);
	close(g->sv[1]);
	scratch_destroy(g->root);
	free((void *)g->root);
	free(g->p);
	free(g->t);
	free(g);
}

/* The invariants, checked after every event. */
static void check(struct rig *g)
{
	uint64_t q[WORDS], pend[WORDS], m[WORDS];
	struct cvm_place_host h = {g->t, q, pend, NULL};
	char err[CVM_PLACE_ERR_LEN];
	cvm_place_ctl_snapshot(g->ctl, g->p, g->t, q, pend);
	if (cvm_place_ctl_failed(g->ctl, NULL, 0))
		return;
	struct cvm_place_request rq;
	cvm_place_request_init(&rq, g->p->requested, g->p->nr_vcpus);
	rq.fallback = CVM_FALLBACK_NONE;
	rq.affinity_given = true;
	cvm_bitmap_fill(rq.affinity, g->nr_cpus);
	rq.cookies = g->p->cookies;
	rq.cookie_support = g->p->cookies_active ? 0 : -EINVAL;
	if (cvm_placement_validate(&h, &rq, g->p, err, sizeof(err)))
		fail_msg("placement invalid: %s", err);
	cvm_bitmap_or(q, q, pend, CVM_MAX_HOST_CPUS);
	for (unsigned int i = 0; i < g->p->nr_vcpus; i++) {
		cvm_placement_vcpu_mask(g->p, i, m);
		cvm_bitmap_and(m, m, q, CVM_MAX_HOST_CPUS);
		if (!cvm_bitmap_empty(m, CVM_MAX_HOST_CPUS))
			fail_msg("vcpu %u may run on quarantined/unadmitted cpus %s", i,
			         list_of(m));
	}
}

/* Sends a raw datagram from the "kernel" end and lets the listener handle it. */
static void send_raw(struct rig *g, const void *buf, size_t len)
{
	assert_int_equal(send(g->sv[1], buf, len, 0), (ssize_t)len);
	assert_int_equal(cvm_hotplug_poll(&g->hp, 10000), 1);
	check(g);
}

static void send_event(struct rig *g, const char *action, unsigned int cpu)
{
	char parts[256], buf[256];
	snprintf(parts, sizeof(parts),
	         "%s@/devices/system/cpu/cpu%u|ACTION=%s|DEVPATH=/devices/system/cpu/cpu%u|"
	         "SUBSYSTEM=cpu|SEQNUM=%u|",
	         action, cpu, action, cpu, cpu + 1000);
	send_raw(g, buf, dgram(buf, sizeof(buf), parts));
}

static void probe_result(struct rig *g, uint64_t token, unsigned int cpu, enum cvm_probe_result r)
{
	struct cvm_probe_report rep = {.result = r};
	snprintf(rep.detail, sizeof(rep.detail), "fake");
	cvm_place_ctl_probe_done(g->ctl, cpu, token, &rep);
	check(g);
}

static int cpu_of(struct rig *g, unsigned int vcpu)
{
	check(g);
	return g->p->vcpu[vcpu].cpu;
}

static void test_uevents(void **state)
{
	struct rig *g = rig_new(CVM_PLACE_PIN, 4, CVM_FALLBACK_NONE);
	check(g);
	assert_int_equal(cpu_of(g, 2), 2);

	/* offline: the vCPU on it moves, the others are left alone */
	send_event(g, "offline", 2);
	assert_int_equal(cpu_of(g, 2), 6);
	assert_true(cvm_bit_test(g->f.reaffine, 2));
	assert_int_equal(cvm_bitmap_weight(g->f.reaffine, CVM_MAX_VCPUS), 1);

	/* online with a passing probe: admitted only after the probe */
	send_event(g, "online", 2);
	assert_int_equal(g->f.probes, 1);
	assert_int_equal(g->f.probe_cpu, 2);
	assert_false(cvm_bit_test(g->p->housekeeping, 2));
	probe_result(g, g->f.probe_token, 2, CVM_PROBE_PASS);
	assert_true(cvm_bit_test(g->p->housekeeping, 2));

	/* online with a failing probe: quarantined, reported, never used */
	send_event(g, "offline", 3);
	assert_int_equal(cpu_of(g, 3), 7);
	send_event(g, "online", 3);
	probe_result(g, g->f.probe_token, 3, CVM_PROBE_FAIL);
	for (int i = 0; i < 3; i++) { /* flaps: the quarantine holds, no more probes */
		unsigned int probes = g->f.probes;
		send_event(g, "offline", 3);
		send_event(g, "online", 3);
		assert_int_equal(g->f.probes, probes);
	}

	/* flapping: offline while the probe is in flight, a stale result, then the real one */
	send_event(g, "offline", 1);
	assert_int_equal(cpu_of(g, 1), 5);
	send_event(g, "online", 1);
	uint64_t t1 = g->f.probe_token;
	send_event(g, "offline", 1);
	send_event(g, "online", 1);
	uint64_t t2 = g->f.probe_token;
	assert_true(t1 != t2);
	probe_result(g, t1, 1, CVM_PROBE_PASS); /* stale: ignored, cpu 1 still not admitted */
	assert_false(cvm_bit_test(g->p->usable, 1));
	probe_result(g, t2, 1, CVM_PROBE_PASS);
	assert_true(cvm_bit_test(g->p->usable, 1));

	/* add/remove of a CPU */
	send_event(g, "offline", 0);
	send_event(g, "remove", 0);
	send_event(g, "add", 0);
	assert_false(cvm_bit_test(g->p->usable, 0));

	json_object *st = cvm_place_ctl_stats(g->ctl);
	json_object *q = json_object_object_get(st, "quarantined");
	assert_int_equal(json_object_array_length(q), 1);
	json_object *q0 = json_object_array_get_idx(q, 0);
	assert_int_equal(json_object_get_int(json_object_object_get(q0, "cpu")), 3);
	assert_string_equal(json_object_get_string(json_object_object_get(q0, "cause")),
	                    "probe-failed");
	json_object *events = json_object_object_get(st, "events");
	assert_true(json_object_array_length(events) > 10);
	json_object *e1 = json_object_array_get_idx(events, 1);
	assert_string_equal(json_object_get_string(json_object_object_get(e1, "cause")),
	                    "cpu-offline");
	json_object *mv = json_object_array_get_idx(json_object_object_get(e1, "moves"), 0);
	assert_int_equal(json_object_get_int(json_object_object_get(mv, "vcpu")), 2);
	assert_int_equal(json_object_get_int(json_object_object_get(mv, "from")), 2);
	assert_int_equal(json_object_get_int(json_object_object_get(mv, "to")), 6);
	json_object_put(st);
	rig_free(g);
}

static void test_hostile(void **state)
{
	struct rig *g = rig_new(CVM_PLACE_SMT_PROTECT, 2, CVM_FALLBACK_PIN);
	struct cvm_placement before;
	cvm_place_ctl_snapshot(g->ctl, &before, NULL, NULL, NULL);
	char buf[CVM_UEVENT_MAX + 512];
	static const char *const hostile[] = {
	        "online@/devices/system/cpu/cpu3",
	        "online@/devices/system/cpu/cpu3|ACTION=online|DEVPATH=/devices/system/cpu/cpu3",
	        "online@/devices/system/cpu/cpu99999999999999999999|ACTION=online|DEVPATH=/devices/"
	        "system/cpu/cpu99999999999999999999|",
	        "offline@/devices/system/cpu/cpu4096|ACTION=offline|DEVPATH=/devices/system/cpu/"
	        "cpu4096|",
	        "offline@/devices/system/cpu/cpu8|ACTION=offline|DEVPATH=/devices/system/cpu/cpu8|",
	        "libudev|\xfe\xed\xca\xfe|",
	        "offline@/devices/system/cpu/cpu1|ACTION=online|DEVPATH=/devices/system/cpu/cpu1|",
	        "\xff\xff\xff\xff",
	};
	for (unsigned int i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		send_raw(g, buf, dgram(buf, sizeof(buf), hostile[i]));
	assert_int_equal(g->hp.stats.malformed, 8);
	/* Longer than any uevent: dropped whole. */
	memset(buf, 'A', sizeof(buf));
	send_raw(g, buf, sizeof(buf));
	assert_int_equal(g->hp.stats.oversized, 1);
	/* Not about CPUs: counted, nothing else. */
	send_raw(g, buf,
	         dgram(buf, sizeof(buf),
	               "add@/devices/virtual/net/tap0|ACTION=add|DEVPATH=/devices/virtual/net/tap0|"
	               "SUBSYSTEM=net|"));
	assert_int_equal(g->hp.stats.ignored, 1);
	assert_int_equal(g->hp.stats.cpu_events, 0);
	/* Nothing changed. */
	check(g);
	assert_memory_equal(g->p->vcpu, before.vcpu, sizeof(before.vcpu[0]) * 2);
	assert_true(cvm_bitmap_empty(g->f.reaffine, CVM_MAX_VCPUS));
	/* The peer going away ends the source. */
	close(g->sv[1]);
	g->sv[1] = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_int_equal(cvm_hotplug_poll(&g->hp, 10000), -ECONNRESET);
	rig_free(g);
}

static void test_entry_failure_and_resync(void **state)
{
	struct rig *g = rig_new(CVM_PLACE_PIN, 2, CVM_FALLBACK_NONE);
	/* vCPU threads apply their CPU sets. */
	g->f.tid = 100;
	assert_int_equal(cvm_place_ctl_vcpu_apply(g->ctl, 0), 0);
	assert_string_equal(list_of(g->f.mask), "0");
	g->f.tid = 101;
	assert_int_equal(cvm_place_ctl_vcpu_apply(g->ctl, 1), 0);
	assert_string_equal(list_of(g->f.mask), "1");
	assert_int_equal(cvm_place_ctl_housekeeping_apply(g->ctl), 0);
	assert_string_equal(list_of(g->f.mask), "2-7");
	assert_int_equal(cvm_place_ctl_vcpu_apply(g->ctl, 2), -EINVAL);

	/* A guest entry fails on cpu 1: quarantined, the vCPU re-pins itself, runs again. */
	g->f.tid = 101;
	assert_int_equal(
	        cvm_place_ctl_entry_failure(g->ctl, 1, 1, "KVM_EXIT_FAIL_ENTRY reason 0x7"), 0);
	check(g);
	assert_int_equal(cpu_of(g, 1), 5);
	assert_string_equal(list_of(g->f.mask), "5"); /* applied by the calling thread itself */
	assert_false(cvm_bit_test(g->f.reaffine, 1)); /* no request to itself */
	assert_int_equal(cvm_place_ctl_entry_failure(g->ctl, 1, 5, "EIO"), 0);
	assert_int_equal(cvm_place_ctl_entry_failure(g->ctl, 1, 2, "EIO"), 0);
	check(g);
	/* The fourth failure exceeds the bound: the VM fails, clearly. */
	assert_int_equal(cvm_place_ctl_entry_failure(g->ctl, 1, 3, "EIO"), -EIO);
	assert_int_equal(g->f.failed, 1);
	assert_non_null(strstr(g->f.fail_why, "4 guest-entry failures, more than the 3 allowed"));
	char why[CVM_PLACE_ERR_LEN];
	assert_true(cvm_place_ctl_failed(g->ctl, why, sizeof(why)));
	assert_string_equal(why, g->f.fail_why);
	json_object *st = cvm_place_ctl_stats(g->ctl);
	assert_true(json_object_get_boolean(json_object_object_get(st, "failed")));
	assert_int_equal(json_object_get_int(json_object_object_get(st, "entry_failures")), 4);
	json_object *th = json_object_array_get_idx(json_object_object_get(st, "vcpu_threads"), 1);
	assert_int_equal(json_object_get_int(json_object_object_get(th, "tid")), 101);
	assert_true(json_object_get_boolean(json_object_object_get(th, "verified")));
	json_object_put(st);
	rig_free(g);

	/* Lost uevents: the online list is re-read and the differences fed as events. */
	g = rig_new(CVM_PLACE_PIN, 4, CVM_FALLBACK_NONE);
	scratch_write(g->root, "cpu/online", "0-1,3-7\n");
	cvm_place_ctl_resync(g->ctl);
	check(g);
	assert_int_equal(cpu_of(g, 2), 6);
	scratch_write(g->root, "cpu/online", "0-7\n");
	cvm_place_ctl_resync(g->ctl);
	assert_int_equal(g->f.probe_cpu, 2);
	probe_result(g, g->f.probe_token, 2, CVM_PROBE_PASS);
	assert_true(cvm_bit_test(g->p->usable, 2));
	/* A CPU known from before whose files vanished again: probed (the offline event follows). */
	send_event(g, "offline", 5);
	scratch_remove(g->root, "cpu/cpu5/topology");
	unsigned int probes = g->f.probes;
	send_event(g, "online", 5);
	assert_int_equal(g->f.probes, probes + 1);
	rig_free(g);

	/* A CPU never seen online whose topology cannot be read is not admitted at all. */
	g = rig_on("2s8c2t-holes", 40, CVM_PLACE_PIN, 4, CVM_FALLBACK_NONE);
	send_event(g, "online", 19);
	assert_int_equal(g->f.probes, 0);
	assert_false(cvm_bit_test(g->t->online, 19));
	json_object *s2 = cvm_place_ctl_stats(g->ctl);
	json_object *hp = json_object_object_get(s2, "hotplug");
	assert_int_equal(json_object_get_int(json_object_object_get(hp, "topology_errors")), 1);
	json_object_put(s2);
	/* With its files present (as the kernel makes them before the uevent), it is probed. */
	scratch_write(g->root, "cpu/cpu19/topology/physical_package_id", "0\n");
	scratch_write(g->root, "cpu/cpu19/topology/core_id", "3\n");
	scratch_write(g->root, "cpu/cpu19/topology/thread_siblings_list", "19\n");
	send_event(g, "online", 19);
	assert_int_equal(g->f.probe_cpu, 19);
	probe_result(g, g->f.probe_token, 19, CVM_PROBE_PASS);
	assert_true(cvm_bit_test(g->p->usable, 19));
	rig_free(g);
}

/* The listener on its own thread, as corevm runs it; events awaited with generous timeouts. */
static void test_listener_thread(void **state)
{
	struct rig *g = rig_new(CVM_PLACE_PIN, 2, CVM_FALLBACK_NONE);
	assert_int_equal(cvm_hotplug_start(&g->hp), 0);
	uint64_t seq = cvm_place_ctl_seq(g->ctl);
	char buf[256];
	size_t n =
	        dgram(buf, sizeof(buf),
	              "offline@/devices/system/cpu/cpu1|ACTION=offline|DEVPATH=/devices/system/cpu/"
	              "cpu1|SUBSYSTEM=cpu|");
	assert_int_equal(send(g->sv[1], buf, n, 0), (ssize_t)n);
	assert_int_equal(cvm_place_ctl_wait_seq(g->ctl, seq + 1, 30000), 0);
	cvm_hotplug_stop(&g->hp);
	assert_int_equal(cpu_of(g, 1), 5);
	assert_int_equal(g->hp.stats.cpu_events, 1);
	assert_int_equal(cvm_place_ctl_wait_seq(g->ctl, seq + 5, 10), -ETIMEDOUT);
	rig_free(g);
}

/* The controller's own listener thread over an injected source; it keeps to housekeeping CPUs. */
static void test_ctl_listener(void **state)
{
	struct fake f = {0};
	struct cvm_affinity_ops aff = {aff_set, aff_get, aff_getcpu, aff_gettid, &f};
	f.prober = (struct cvm_prober){.start = fake_probe_start, .priv = &f};
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	struct cvm_uevent_source src;
	cvm_uevent_source_fd(&src, sv[0]);
	struct cvm_place_ctl_config cfg = {
	        .sysfs_root = fixture("1s4c2t"),
	        .hotplug = true,
	        .affinity = &aff,
	        .prober = &f.prober,
	        .uevents = &src,
	};
	cvm_place_request_init(&cfg.req, CVM_PLACE_PIN, 2);
	cfg.req.affinity_given = true;
	cvm_bitmap_fill(cfg.req.affinity, 8);
	struct cvm_place_ctl *ctl;
	assert_int_equal(cvm_place_ctl_create(&cfg, &ctl), 0);
	struct cvm_place_ctl_vmm vmm = {vmm_reaffine, vmm_housekeeping, vmm_failed, &f, NULL};
	assert_int_equal(cvm_place_ctl_start(ctl, &vmm), 0);
	uint64_t seq = cvm_place_ctl_seq(ctl);
	char buf[256];
	size_t n =
	        dgram(buf, sizeof(buf),
	              "offline@/devices/system/cpu/cpu1|ACTION=offline|DEVPATH=/devices/system/cpu/"
	              "cpu1|SUBSYSTEM=cpu|");
	assert_int_equal(send(sv[1], buf, n, 0), (ssize_t)n);
	assert_int_equal(cvm_place_ctl_wait_seq(ctl, seq + 1, 30000), 0);
	cvm_place_ctl_destroy(ctl); /* joins the listener: its last apply is done */
	assert_true(cvm_bit_test(f.reaffine, 1));
	assert_string_equal(list_of(f.mask),
	                    "2-4,6-7"); /* the housekeeping CPUs, set by the listener */
	close(sv[0]);
	close(sv[1]);
}

/* Listening to the real kernel's uevents is harmless (nothing is changed); it may be refused in a sandbox. */
static void test_netlink_source(void **state)
{
	struct cvm_uevent_source src;
	int r = __cvm_uevent_open_netlink(&src);
	if (r) {
		printf("# netlink uevents unavailable here: %s\n", strerror(-r));
		assert_true(r == -EPERM || r == -EACCES || r == -EPROTONOSUPPORT ||
		            r == -EAFNOSUPPORT);
		return;
	}
	char buf[CVM_UEVENT_MAX];
	ssize_t n = __cvm_uevent_recv(&src, buf, sizeof(buf));
	assert_true(n == -EAGAIN || n > 0); /* nothing pending, or some device's event */
	cvm_uevent_close(&src);
	assert_int_equal(src.fd, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_uevents),
	        cmocka_unit_test(test_hostile),
	        cmocka_unit_test(test_entry_failure_and_resync),
	        cmocka_unit_test(test_listener_thread),
	        cmocka_unit_test(test_ctl_listener),
	        cmocka_unit_test(test_netlink_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
