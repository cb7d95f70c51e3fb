/*
 * The host halves of the hostile guests (guest/hostile_*.c): corevm survives
 * garbage on every port and APIC register, IPIs to APIC IDs that do not exist,
 * INIT/SIPI/NMI storms and floods meant to make it allocate, ends with the
 * defined status where the guest's action defines one, keeps serving the
 * vCPU that behaves, counts what it refused in --stats, and stays under a
 * stated peak RSS (docs/limits.md).
 *
 * usage: test_hostile CASE COREVM GUEST_DIR [kernel|split|user]
 * A mode this corevm refuses (`--irqchip` usage error) skips (77). Environment: COREVM_TEST_RSS_BOUND_KB, the peak-RSS bound; meson sets it for
 * the normal build only (under ASan, shadow memory and the allocator's
 * quarantine make RSS meaningless, so the sanitizer run checks everything but
 * that).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/guest_abi.h"
#include "tests/guest/harness.h"

#define SKIP 77
#define TO   "--timeout", "300s" /* generous: the machine is shared and guests are emulated */

#define STAGE_SUMMARY 100 /* guest/hostile.h */
#define STAGE_AP      101
#define MIN_STEPS     64

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void check_rss(const struct cvm_result *r)
{
	const char *bound = getenv("COREVM_TEST_RSS_BOUND_KB");

	if (!bound) {
		printf("peak RSS %ld KiB: no bound checked (sanitizer build)\n", r->maxrss_kb);
		return;
	}
	CHECK(r->maxrss_kb > 0 && r->maxrss_kb <= atol(bound), "peak RSS %ld KiB, bound %s KiB",
	      r->maxrss_kb, bound);
	printf("peak RSS %ld KiB (bound %s KiB)\n", r->maxrss_kb, bound);
}

/* Runs a guest with statistics; 0, SKIP without KVM, 1 if corevm could not be run. */
static int run(const char *const *args, struct cvm_result *r)
{
	struct cvm_run_spec s = {.args = args, .want_stats = true};

	if (!h_kvm_usable())
		return SKIP;
	if (!h_run(&s, r))
		return 1;
	if (h_irqchip && r->status == CVM_EXIT_USAGE && strstr(r->err, "--irqchip")) {
		printf("SKIP: this corevm refuses --irqchip %s: %s", h_irqchip, r->err);
		h_result_free(r);
		return SKIP;
	}
	CHECK(r->stats, "no statistics written");
	if (!r->stats) {
		h_result_free(r);
		return 1;
	}
	check_rss(r);
	CHECK(h_int(r->stats, "vm.threads_stuck") == 0, "threads_stuck");
	return 0;
}

static const char *str(struct json_object *stats, const char *path)
{
	struct json_object *o = h_get(stats, path, json_type_string);
	return o ? json_object_get_string(o) : "?";
}

/* The one report of `stage` from vCPU `vcpu`, or NULL (a failed check). */
static struct json_object *one(struct json_object *stats, unsigned int vcpu, uint64_t stage)
{
	struct json_object *rep[2];
	unsigned int n = h_reports(stats, vcpu, stage, rep, 2);

	CHECK(n == 1, "vcpu %u: %u reports of stage %llu, want 1", vcpu, n,
	      (unsigned long long)stage);
	return n == 1 ? rep[0] : NULL;
}

/* The guest ended by DONE and the BSP reported its progress loop with `naps` misbehaving APs. */
static void check_done(const struct cvm_result *r, unsigned int naps)
{
	struct json_object *sum;

	CHECK(r->status == CVM_EXIT_OK, "status %d", r->status);
	CHECK(!strcmp(str(r->stats, "vm.exit_cause"), "guest done"), "exit cause %s",
	      str(r->stats, "vm.exit_cause"));
	sum = one(r->stats, 0, STAGE_SUMMARY);
	if (sum) {
		CHECK(h_rarg(sum, 1) >= MIN_STEPS, "BSP made %llu progress steps",
		      (unsigned long long)h_rarg(sum, 1));
		CHECK(h_rarg(sum, 2) == naps, "summary: %llu misbehaving APs",
		      (unsigned long long)h_rarg(sum, 2));
	}
}

/* The count of unclaimed port `port` in --stats (0 if not listed). */
static uint64_t port_count(struct json_object *stats, unsigned int port)
{
	struct json_object *list = h_get(stats, "vm.unhandled_pio", json_type_array);

	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		if (h_int(e, "port") == port)
			return h_u64(e, "count");
	}
	return 0;
}

static int case_ports(void)
{
	struct cvm_result r;
	uint64_t reads = 0, writes = 0;
	int rc = run(ARGS(TO, "--cpus", "3", "--mem", "64M", h_guest("hostile_ports", false)), &r);

	if (rc)
		return rc;
	check_done(&r, 2);
	for (unsigned int v = 1; v <= 2; v++) {
		struct json_object *ap = one(r.stats, v, STAGE_AP);
		char key[64];
		if (!ap)
			continue;
		reads += h_rarg(ap, 1);
		writes += h_rarg(ap, 2);
		CHECK(h_rarg(ap, 3) >= MIN_STEPS, "vcpu %u: BSP made %llu steps meanwhile", v,
		      (unsigned long long)h_rarg(ap, 3));
		snprintf(key, sizeof(key), "vcpus.%u.ucall.refused", v);
		CHECK(h_int(r.stats, key) == (v == 1 ? 6 : 0), "vcpu %u refused %lld ucalls", v,
		      (long long)h_int(r.stats, key));
	}
	CHECK(reads == 3 * 65536, "%llu reads", (unsigned long long)reads);
	CHECK(writes == 3 * (65536 - 6) + 3, "%llu writes", (unsigned long long)writes);
	/* Every port without a device (corevm's or KVM's in-kernel PIC) is counted... */
	CHECK(h_int(r.stats, "vm.unhandled_pio_ports") >= 65536 - 64, "%lld unclaimed ports",
	      (long long)h_int(r.stats, "vm.unhandled_pio_ports"));
	CHECK(h_u64(r.stats, "vm.unhandled_pio_total") >= reads + writes - 1000, "unhandled total");
	/* ...but only the first 256 are listed (docs/limits.md). */
	struct json_object *list = h_get(r.stats, "vm.unhandled_pio", json_type_array);
	CHECK(list && json_object_array_length(list) == 256, "listed ports: %zu",
	      list ? json_object_array_length(list) : 0);
	struct json_object *sum = one(r.stats, 0, STAGE_SUMMARY);
	CHECK(sum && port_count(r.stats, 0x81) >= h_rarg(sum, 1), "progress port count");
	h_result_free(&r);
	return 0;
}

/* The irqchip mode under test (corevm's default when none is given). */
static const char *mode(void)
{
	return h_irqchip ? h_irqchip : "user";
}

/* vcpus.<v>.<path> as an integer. */
static int64_t vcpu_int(struct json_object *stats, unsigned int v, const char *path)
{
	char key[96];

	snprintf(key, sizeof(key), "vcpus.%u.%s", v, path);
	return h_int(stats, key);
}

/*
 * User mode: corevm's own local APICs counted what they refused. Each #GP the
 * guest took for an x2APIC MSR or ICR is one corevm injected; every AP sent
 * SMIs (dropped: no SMM here) at least to each ID of phases 2 and 4; INIT and
 * SIPI were taken only for the AP's start and NMIs never; the timer storms
 * were folded (ticks closer than the minimum period, docs/irqchip.md).
 */
static void check_own_apics(struct json_object *stats)
{
	for (unsigned int v = 0; v <= 3; v++) {
		struct json_object *ap = v ? one(stats, v, STAGE_AP) : NULL;
		CHECK(vcpu_int(stats, v, "lifecycle.init_taken") == (v ? 1 : 0), "vcpu %u: INITs",
		      v);
		CHECK(vcpu_int(stats, v, "lifecycle.sipi_accepted") == (v ? 1 : 0),
		      "vcpu %u: SIPIs", v);
		CHECK(vcpu_int(stats, v, "lifecycle.nmi_injected") == 0, "vcpu %u: NMIs", v);
		CHECK(vcpu_int(stats, v, "apic.mmio_odd") == 0, "vcpu %u: odd xAPIC accesses", v);
		if (!v)
			continue;
		CHECK(ap && vcpu_int(stats, v, "apic.msr_gp") == (int64_t)h_rarg(ap, 2),
		      "vcpu %u: corevm injected %lld #GPs, the guest took %llu", v,
		      (long long)vcpu_int(stats, v, "apic.msr_gp"),
		      ap ? (unsigned long long)h_rarg(ap, 2) : 0ull);
		CHECK(vcpu_int(stats, v, "apic.smi_dropped") >= (255 - 4) + 261,
		      "vcpu %u: %lld SMIs dropped", v,
		      (long long)vcpu_int(stats, v, "apic.smi_dropped"));
		CHECK(vcpu_int(stats, v, "lifecycle.timer_fired") > 0 &&
		              vcpu_int(stats, v, "lifecycle.timer_missed") > 0,
		      "vcpu %u: timer storm fired %lld, folded %lld ticks", v,
		      (long long)vcpu_int(stats, v, "lifecycle.timer_fired"),
		      (long long)vcpu_int(stats, v, "lifecycle.timer_missed"));
	}
}

/*
 * User and split mode: corevm's own I/O APIC ignored exactly the accesses it
 * does not decode, took every register write, and delivered nothing (no pin
 * was ever asserted, whatever the guest wrote into the redirection table).
 */
static void check_own_ioapic(struct json_object *stats, uint64_t ignored, uint64_t writes)
{
	struct json_object *d = h_get(stats, "vm.ioapic.delivered", json_type_array);
	uint64_t sum = 0;

	CHECK(h_u64(stats, "vm.ioapic.mmio_ignored") == ignored, "I/O APIC ignored %llu, want %llu",
	      (unsigned long long)h_u64(stats, "vm.ioapic.mmio_ignored"),
	      (unsigned long long)ignored);
	CHECK(h_u64(stats, "vm.ioapic.mmio_writes") == writes + 2 * 24, "I/O APIC writes %llu",
	      (unsigned long long)h_u64(stats, "vm.ioapic.mmio_writes"));
	/* EOI-register writes are register writes; no level interrupt was taken to broadcast. */
	CHECK(h_u64(stats, "vm.ioapic.eois") == 0, "I/O APIC EOI broadcasts");
	for (size_t i = 0; d && i < json_object_array_length(d); i++)
		sum += (uint64_t)json_object_get_int64(json_object_array_get_idx(d, i));
	CHECK(d && sum == 0, "the I/O APIC delivered %llu messages", (unsigned long long)sum);
}

static int case_apic(void)
{
	struct cvm_result r;
	uint64_t ignored = 0, writes = 0;
	int rc = run(ARGS(TO, "--cpus", "4", "--mem", "64M", h_guest("hostile_apic", false)), &r);

	if (rc)
		return rc;
	check_done(&r, 3);
	for (unsigned int v = 1; v <= 3; v++) {
		struct json_object *ap = one(r.stats, v, STAGE_AP);
		struct json_object *more = one(r.stats, v, STAGE_AP + 2);
		CHECK(ap && h_rarg(ap, 1) == 2048, "vcpu %u: xAPIC accesses", v);
		CHECK(ap && h_rarg(ap, 2) > 0, "vcpu %u: no x2APIC #GP at all", v);
		CHECK(ap && h_rarg(ap, 3) > 2 * 7 * 250, "vcpu %u: ICRs sent", v);
		CHECK(more && h_rarg(more, 1) == 2 * 2000, "vcpu %u: steps under timer storms", v);
		ignored += more ? h_rarg(more, 2) : 0;
		writes += more ? h_rarg(more, 3) : 0;
	}
	struct json_object *end = one(r.stats, 0, 102);
	CHECK(end && h_rarg(end, 1) == 0, "NMIs arrived from IPIs to nowhere");
	CHECK(end && h_rarg(end, 2) == 3, "AP arrivals %llu: an AP restarted",
	      end ? (unsigned long long)h_rarg(end, 2) : 0ull);
	if (!strcmp(mode(), "user"))
		check_own_apics(r.stats);
	if (strcmp(mode(), "kernel"))
		check_own_ioapic(r.stats, ignored, writes);
	else
		printf("kernel irqchip: KVM's APICs keep no refusal counters to check\n");
	h_result_free(&r);
	return 0;
}

static int case_storm(void)
{
	struct cvm_result r;
	struct json_object *rep;
	int rc = run(ARGS(TO, "--cpus", "4", "--mem", "64M", h_guest("hostile_storm", false)), &r);

	if (rc)
		return rc;
	CHECK(r.status == CVM_EXIT_OK, "status %d", r.status);
	/* 8 rounds: broadcast and each AP targeted, then one blind storm. */
	rep = one(r.stats, 0, 110);
	CHECK(rep && h_rarg(rep, 1) == 8 * 2 * 3 + 3, "restarts awaited");
	CHECK(rep && h_rarg(rep, 2) == 8 * 2 * 3 + 3 + 3, "AP arrivals");
	CHECK(rep && h_rarg(rep, 3) == 0, "the BSP restarted");
	rep = one(r.stats, 0, 111);
	CHECK(rep && h_rarg(rep, 1) == 8, "AP 2 restarts from AP 1");
	CHECK(rep && h_rarg(rep, 2) >= MIN_STEPS, "BSP steps under AP 1's SIPIs");
	CHECK(rep && h_rarg(rep, 3) == 64, "SIPIs at the BSP");
	rep = one(r.stats, 0, 112);
	CHECK(rep && h_rarg(rep, 1) >= 1 && h_rarg(rep, 1) <= 1100, "BSP NMIs %llu",
	      rep ? (unsigned long long)h_rarg(rep, 1) : 0ull);
	CHECK(rep && h_rarg(rep, 2) >= 1, "an AP handled no NMI");
	CHECK(rep && h_rarg(rep, 3) == 2100, "NMIs sent");
	h_result_free(&r);
	return 0;
}

/* INIT at the BSP: KVM resets it to 0xfffffff0, in the MMIO hole: a defined vCPU error. */
static int case_storm_init_bsp(void)
{
	struct cvm_result r;
	int rc = run(ARGS(TO, "--cpus", "3", "--mem", "64M", "--cmdline", "mode=init-bsp",
	                  h_guest("hostile_storm", false)),
	             &r);

	if (rc)
		return rc;
	CHECK(r.status == CVM_EXIT_GUEST_ERROR, "status %d, want %d", r.status,
	      CVM_EXIT_GUEST_ERROR);
	CHECK(h_lines(r.err) == 1 && strstr(r.err, "vcpu 0: KVM_EXIT_INTERNAL_ERROR"),
	      "want one line naming vcpu 0's internal error");
	CHECK(!strcmp(str(r.stats, "vm.exit_cause"), "internal error"), "exit cause %s",
	      str(r.stats, "vm.exit_cause"));
	h_result_free(&r);
	return 0;
}

static int case_flood(void)
{
	struct cvm_result r;
	struct json_object *rep[33];
	int rc = run(ARGS(TO, "--cpus", "5", "--mem", "64M", h_guest("hostile_flood", false)), &r);
	bool same;

	if (rc)
		return rc;
	check_done(&r, 4);
	/* UART: 64 KiB, byte-exact, nothing kept beyond the console buffer. */
	same = r.outlen == 65536;
	for (size_t i = 0; same && i < r.outlen; i++)
		same = r.out[i] == ((i % 4096) % 64 == 63 ? '\n' : 'a' + (char)((i % 4096) % 26));
	CHECK(same, "stdout differs from the pattern (%zu bytes)", r.outlen);
	CHECK(h_int(r.stats, "vm.console_tx_bytes") == 65536, "console_tx_bytes");
	CHECK(h_int(r.stats, "vm.console_tx_lost") == 0, "console_tx_lost");
	/* fw_cfg: 64 KiB read from a 4-byte item. */
	CHECK(h_int(r.stats, "vm.devices.fw_cfg.past_end") == 65536 - 4, "fw_cfg past_end %lld",
	      (long long)h_int(r.stats, "vm.devices.fw_cfg.past_end"));
	/* MMIO: 1024 pages, a read and a write each; 64 pages tracked. */
	struct json_object *pages = h_get(r.stats, "vm.unhandled_mmio", json_type_array);
	CHECK(pages && json_object_array_length(pages) == 64, "tracked MMIO pages");
	CHECK(h_int(r.stats, "vm.unhandled_mmio_untracked") == 2 * (1024 - 64), "untracked");
	/* ucall (vCPU 4): every REPORT counted, 32 kept; 256 PRINTs printed; 1100 refused. */
	CHECK(h_int(r.stats, "vcpus.4.ucall.reports") == 100000 + 1, "reports counted");
	CHECK(h_reports(r.stats, 4, 120, rep, 33) == 31, "REPORTs kept (+ the AP's own)");
	CHECK(h_int(r.stats, "vcpus.4.ucall.prints") == 10000, "prints counted");
	CHECK(h_int(r.stats, "vcpus.4.ucall.refused") == 1100, "refused %lld",
	      (long long)h_int(r.stats, "vcpus.4.ucall.refused"));
	CHECK(h_int(r.stats, "vm.guest_prints_suppressed") == 10000 - 256, "prints suppressed");
	CHECK(h_lines(r.err) == 257, "stderr has %u lines, want 256 prints and 1 warning",
	      h_lines(r.err));
	CHECK(strstr(r.err, "corevm: guest vcpu 4: flood\n") &&
	              strstr(r.err, "further guest prints suppressed"),
	      "prints on stderr");
	for (unsigned int v = 1; v <= 3; v++) {
		struct json_object *ap = one(r.stats, v, STAGE_AP);
		CHECK(ap && h_rarg(ap, 3) >= MIN_STEPS, "vcpu %u: BSP steps meanwhile", v);
	}
	h_result_free(&r);
	return 0;
}

/* A benign guest for comparison: its peak RSS against the same bound. */
static int case_rss_baseline(void)
{
	struct cvm_result r;
	int rc = run(ARGS(TO, "--cpus", "4", "--mem", "64M", h_guest("smp", false)), &r);

	if (rc)
		return rc;
	CHECK(r.status == CVM_EXIT_OK, "status %d", r.status);
	h_result_free(&r);
	return 0;
}

static const struct h_case cases[] = {
        {"ports", case_ports}, {"apic", case_apic},
        {"storm", case_storm}, {"storm_init_bsp", case_storm_init_bsp},
        {"flood", case_flood}, {"rss_baseline", case_rss_baseline},
};

int main(int argc, char **argv)
{
	return h_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
