/*
 * Host halves of the protected-state and AP-reset-hold guests
 * (docs/protected-state.md): reset_hold (APs parked by the GHCB MSR
 * protocol's AP reset hold and woken by INIT-SIPI, registers checked by the
 * guest on every wake), its first-boot variant whose SIPI vector points at a
 * trap, ghcb_hostile (garbage GHCB MSR values, SIPI storms, INIT without
 * SIPI), and the refusals. Each case checks the exit status, the guest's
 * reports and the --stats counters: no register write after launch, every
 * hold response accounted for.
 * The hold needs corevm's own INIT/SIPI (--irqchip user); in kernel and split
 * mode those cases skip and say why, and `hold_refused` checks that corevm
 * answers the request there with "no response" instead.
 *
 * usage: test_protected CASE COREVM GUEST_DIR [MODE]      MODE: kernel, split or user
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/guest_abi.h"
#include "tests/guest/harness.h"

#define SKIP  77
#define STAGE CVM_STAGE_USER
#define MAXR  64

static bool user_mode(void)
{
	return !h_irqchip || !strcmp(h_irqchip, "user");
}

/* Cases that need corevm's own INIT and SIPI skip in kernel and split mode. */
static bool need_user_mode(void)
{
	if (user_mode())
		return true;
	printf("SKIP: the AP reset hold needs corevm's INIT/SIPI (--irqchip user); with "
	       "--irqchip %s KVM applies INIT and SIPI to the registers itself, corevm refuses "
	       "the hold (case hold_refused) and --protected-state (case protected_refusals)\n",
	       h_irqchip);
	return false;
}

/* Runs `guest` on `cpus` vCPUs with `cmdline`, --protected-state if `prot`. */
static bool run(const char *guest, unsigned int cpus, const char *cmdline, bool prot,
                struct cvm_result *r)
{
	char n[16];
	struct cvm_run_spec s = {.want_stats = true};
	const char *args[16];
	unsigned int k = 0;

	snprintf(n, sizeof(n), "%u", cpus);
	args[k++] = "--timeout";
	args[k++] = "400s";
	args[k++] = "--cpus";
	args[k++] = n;
	args[k++] = "--mem";
	args[k++] = "64M";
	args[k++] = "--cmdline";
	args[k++] = cmdline;
	if (prot)
		args[k++] = "--protected-state";
	args[k++] = h_guest(guest, false);
	args[k] = NULL;
	s.args = args;
	memset(r, 0, sizeof(*r));
	return h_run(&s, r);
}

static uint64_t vu(struct cvm_result *r, unsigned int vcpu, const char *path)
{
	char key[128];

	snprintf(key, sizeof(key), "vcpus.%u.%s", vcpu, path);
	return h_u64(r->stats, key);
}

static const char *vs(struct cvm_result *r, unsigned int vcpu, const char *path)
{
	char key[128];
	struct json_object *o;

	snprintf(key, sizeof(key), "vcpus.%u.%s", vcpu, path);
	o = h_get(r->stats, key, json_type_string);
	return o ? json_object_get_string(o) : "";
}

/* The only report of `stage` from `vcpu` (a failed check when not exactly one). */
static struct json_object *one(struct cvm_result *r, unsigned int vcpu, uint64_t stage)
{
	struct json_object *rep[MAXR];
	unsigned int n = h_reports(r->stats, vcpu, stage, rep, MAXR);

	CHECK(n == 1, "vcpu %u: %u reports of stage %llu, want 1", vcpu, n,
	      (unsigned long long)stage);
	return n == 1 ? rep[0] : NULL;
}

#define ARG(rep, k) ((rep) ? h_rarg((rep), (k)) : UINT64_MAX)

/* The BSP's report of stage STAGE + 1 about AP `ap` (args[1] = ap), or NULL (a failed check). */
static struct json_object *ap_report(struct cvm_result *r, unsigned int ap)
{
	struct json_object *rep[MAXR], *a = NULL;
	unsigned int n = h_reports(r->stats, 0, STAGE + 1, rep, MAXR);

	for (unsigned int k = 0; k < n; k++)
		if (h_rarg(rep[k], 1) == ap)
			a = rep[k];
	CHECK(a, "no report about AP %u", ap);
	return a;
}

/* Lines of corevm's stderr containing `text`. */
static unsigned int lines_with(const char *err, const char *text)
{
	unsigned int n = 0;

	for (const char *p = err; p && (p = strstr(p, text)); p += strlen(text))
		n++;
	return n;
}

/*
 * What every successful run must show: status 0, no guest assertion, not one
 * register write refused, and with protected state not one register write
 * after launch (each vCPU's two are the BSP entry or the measured state).
 */
static bool common(struct cvm_result *r, unsigned int cpus, bool prot)
{
	CHECK(r->status == CVM_EXIT_OK, "status %d, want 0; stderr:\n%s", r->status, r->err);
	CHECK(r->stats, "no statistics written");
	if (!r->stats)
		return false;
	CHECK(h_u64(r->stats, "vm.reg_writes_refused") == 0, "register writes refused: %llu",
	      (unsigned long long)h_u64(r->stats, "vm.reg_writes_refused"));
	CHECK(lines_with(r->err, "corevm bug") == 0, "a refused register write was logged");
	for (unsigned int i = 0; i < cpus; i++) {
		CHECK(vu(r, i, "ucall.asserts") == 0, "vcpu %u reported an assertion", i);
		CHECK(vu(r, i, "protected.reg_writes_refused") == 0, "vcpu %u: writes refused", i);
		if (prot)
			CHECK(vu(r, i, "protected.reg_writes") == 2,
			      "vcpu %u: %llu register writes (want the 2 before launch)", i,
			      (unsigned long long)vu(r, i, "protected.reg_writes"));
	}
	return true;
}

/* Runs a guest that needs user mode and checks what every run must show: 0, SKIP or 1. */
static int start(const char *guest, unsigned int cpus, const char *cmdline, bool prot,
                 struct cvm_result *r)
{
	if (!h_kvm_usable() || !need_user_mode())
		return SKIP;
	if (!run(guest, cpus, cmdline, prot, r))
		return 1;
	if (!common(r, cpus, prot)) {
		h_result_free(r);
		return 1;
	}
	return 0;
}

/* ---- the parking guest ---- */

static int reset_hold(unsigned int cpus, unsigned int rounds, bool prot, bool first_trap)
{
	struct cvm_result r;
	char cmd[96];

	int rc;

	snprintf(cmd, sizeof(cmd), "rounds=%u%s%s", rounds, prot ? " protected" : "",
	         first_trap ? " first=trap" : "");
	rc = start("reset_hold", cpus, cmd, prot, &r);
	if (rc)
		return rc;
	struct json_object *b = one(&r, 0, STAGE);
	CHECK(ARG(b, 1) == cpus - 1 && ARG(b, 2) == cpus - 1 && ARG(b, 3) == 0,
	      "first boot: %llu APs, %llu at the measured entry, %llu at the trap",
	      (unsigned long long)ARG(b, 1), (unsigned long long)ARG(b, 2),
	      (unsigned long long)ARG(b, 3));
	struct json_object *sum = one(&r, 0, STAGE + 2);
	uint64_t resends = ARG(sum, 2);
	CHECK(ARG(sum, 1) == rounds, "rounds %llu", (unsigned long long)ARG(sum, 1));
	printf("note: %u rounds at %u vCPUs: %llu INIT-SIPI resends, %llu \"not woken\" responses\n",
	       rounds, cpus, (unsigned long long)resends, (unsigned long long)ARG(sum, 3));
	for (unsigned int i = 1; i < cpus; i++) {
		struct json_object *a = ap_report(&r, i);
		uint64_t wakes = ARG(a, 2), entries = ARG(a, 3);
		uint64_t released = vu(&r, i, "lifecycle.hold_releases");
		uint64_t answered = vu(&r, i, "ghcb.hold_responses");
		/*
		 * One verified wake per round, plus at most one per resend: a resend
		 * that meets an AP which woke late and already parked again wakes it
		 * once more, before the next round's INIT-SIPI.
		 */
		CHECK(wakes >= rounds && wakes - rounds <= resends,
		      "AP %u verified %llu wakes in %u rounds with %llu resends", i,
		      (unsigned long long)wakes, rounds, (unsigned long long)resends);
		/* Every release is answered, and every verified wake was a release. */
		CHECK(answered == released, "AP %u: %llu responses, %llu releases", i,
		      (unsigned long long)answered, (unsigned long long)released);
		CHECK(released >= wakes && released - wakes <= resends,
		      "AP %u: %llu releases for %llu verified wakes and %llu resends", i,
		      (unsigned long long)released, (unsigned long long)wakes,
		      (unsigned long long)resends);
		/* A release needs an INIT that found the AP held: INIT alone kept it held. */
		CHECK(vu(&r, i, "lifecycle.hold_init") >= released, "AP %u: hold_init %llu", i,
		      (unsigned long long)vu(&r, i, "lifecycle.hold_init"));
		CHECK(vu(&r, i, "ghcb.hold_requests") >= released, "AP %u: hold requests", i);
		CHECK(vu(&r, i, "ghcb.unsupported") + vu(&r, i, "ghcb.malformed") == 0,
		      "AP %u: unsupported requests", i);
		if (prot) {
			CHECK(entries == 1, "AP %u entered its measured entry %llu times", i,
			      (unsigned long long)entries);
			CHECK(vu(&r, i, "protected.first_boots") == 1, "AP %u: first boots %llu", i,
			      (unsigned long long)vu(&r, i, "protected.first_boots"));
		}
		/* Held, or on its way (a late resend may still be in flight): never halted. */
		const char *mp = vs(&r, i, "mp_state_at_exit");
		CHECK(!strcmp(mp, "ap_reset_hold") || !strcmp(mp, "runnable") ||
		              !strcmp(mp, "init_received") || !strcmp(mp, "sipi_received"),
		      "AP %u ended in MP state %s", i, mp);
	}
	CHECK(lines_with(r.err, "ghcb:") == 0, "GHCB diagnostics for a well-behaved guest:\n%s",
	      r.err);
	h_result_free(&r);
	return 0;
}

static int case_reset_hold_protected_4(void)
{
	return reset_hold(4, 1000, true, false);
}

static int case_reset_hold_4(void)
{
	return reset_hold(4, 1000, false, false);
}

/* The first-boot SIPIs point at a trap stub: the APs must start at their measured entry. */
static int case_first_boot_trap_4(void)
{
	return reset_hold(4, 10, true, true);
}

/* Every vCPU held: nothing can run; corevm ends the VM and reports MP state 9 for each. */
static int case_end_hold_3(void)
{
	struct cvm_result r;

	if (!h_kvm_usable() || !need_user_mode())
		return SKIP;
	if (!run("reset_hold", 3, "rounds=5 protected end=hold", true, &r))
		return 1;
	CHECK(r.status == CVM_EXIT_GUEST_ERROR, "status %d, want %d (deadlock)", r.status,
	      CVM_EXIT_GUEST_ERROR);
	CHECK(lines_with(r.err, "AP reset hold") == 1, "stderr:\n%s", r.err);
	if (r.stats) {
		struct json_object *c = h_get(r.stats, "vm.exit_cause", json_type_string);
		CHECK(c && !strcmp(json_object_get_string(c), "deadlock"), "exit cause");
		for (unsigned int i = 0; i < 3; i++) {
			CHECK(!strcmp(vs(&r, i, "mp_state_at_exit"), "ap_reset_hold"),
			      "vcpu %u ended in %s", i, vs(&r, i, "mp_state_at_exit"));
			CHECK(vu(&r, i, "mp_state_code_at_exit") == 9,
			      "vcpu %u: MP state code %llu", i,
			      (unsigned long long)vu(&r, i, "mp_state_code_at_exit"));
		}
		CHECK(h_u64(r.stats, "vm.reg_writes_refused") == 0, "writes refused");
	}
	h_result_free(&r);
	return 0;
}

/* ---- hostile guest ---- */

/* Every SIPI a vCPU got ends as accepted or discarded (the core's conservation rule). */
static uint64_t sipis_seen(struct cvm_result *r, unsigned int vcpu)
{
	static const char *const names[] = {"sipi_accepted",          "sipi_discarded_smm",
	                                    "sipi_discarded_running", "sipi_discarded_halted",
	                                    "sipi_discarded_uninit",  "sipi_discarded_pending",
	                                    "sipi_discarded_hold",    "sipi_discarded_other"};
	uint64_t sum = 0;
	char key[64];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(key, sizeof(key), "lifecycle.%s", names[i]);
		sum += vu(r, vcpu, key);
	}
	return sum;
}

static int hostile(unsigned int cpus, bool prot)
{
	const unsigned int garbage = 400, storm = 50, runner = 2;
	struct cvm_result r;
	char cmd[64];

	int rc;

	snprintf(cmd, sizeof(cmd), "garbage=%u%s", garbage, prot ? " protected" : "");
	rc = start("ghcb_hostile", cpus, cmd, prot, &r);
	if (rc)
		return rc;
	/* Garbage: no fault, read back unchanged, each one counted, lines rate-limited. */
	struct json_object *g = one(&r, 0, STAGE);
	CHECK(ARG(g, 1) == garbage && ARG(g, 2) == garbage && ARG(g, 3) == 0,
	      "garbage: %llu written, %llu read back, %llu faults", (unsigned long long)ARG(g, 1),
	      (unsigned long long)ARG(g, 2), (unsigned long long)ARG(g, 3));
	uint64_t refused = vu(&r, 0, "ghcb.unsupported") + vu(&r, 0, "ghcb.malformed");
	CHECK(refused == garbage, "vcpu 0: %llu unsupported/malformed requests, want %u",
	      (unsigned long long)refused, garbage);
	CHECK(vu(&r, 0, "ghcb.malformed") >= 3, "malformed holds: %llu",
	      (unsigned long long)vu(&r, 0, "ghcb.malformed"));
	CHECK(vu(&r, 0, "ghcb.writes") == garbage && vu(&r, 0, "ghcb.reads") == garbage + 1,
	      "vcpu 0: %llu writes, %llu reads", (unsigned long long)vu(&r, 0, "ghcb.writes"),
	      (unsigned long long)vu(&r, 0, "ghcb.reads"));
	CHECK(vu(&r, 0, "apic.msr_gp") == 0, "a GHCB access got #GP");
	unsigned int shown = lines_with(r.err, "vcpu 0: GHCB MSR request");
	uint64_t held_back = h_u64(r.stats, "vm.ghcb_log_suppressed");
	double secs = (double)h_u64(r.stats, "vm.wall_ns") / 1e9;
	CHECK(shown >= 1 && shown <= 8 + (unsigned int)secs + 1,
	      "%u lines about refused requests in %.1f s (burst 8, then 1/s)", shown, secs);
	CHECK(shown + held_back == garbage, "%u lines shown + %llu held back != %u", shown,
	      (unsigned long long)held_back, garbage);
	CHECK(held_back == 0 || lines_with(r.err, "more refused GHCB MSR requests not shown") == 1,
	      "no summary of the held-back lines");

	/* SIPIs: each one the BSP sent is accounted for; storms discarded. */
	for (unsigned int i = 1; i < cpus; i++) {
		struct json_object *a = ap_report(&r, i);
		CHECK(sipis_seen(&r, i) == ARG(a, 2), "AP %u: %llu SIPIs seen, %llu sent", i,
		      (unsigned long long)sipis_seen(&r, i), (unsigned long long)ARG(a, 2));
		CHECK(vu(&r, i, "lifecycle.init_taken") == ARG(a, 3),
		      "AP %u: %llu INITs taken, %llu sent", i,
		      (unsigned long long)vu(&r, i, "lifecycle.init_taken"),
		      (unsigned long long)ARG(a, 3));
		if (i == runner) {
			CHECK(vu(&r, i, "lifecycle.sipi_discarded_running") >= 2 * storm,
			      "running AP: %llu SIPIs discarded",
			      (unsigned long long)vu(&r, i, "lifecycle.sipi_discarded_running"));
			if (prot)
				CHECK(vu(&r, i, "protected.sipi_resumes") >= 1,
				      "running AP: INIT-SIPI did not resume it");
			continue;
		}
		/* Each accepted SIPI completed an INIT of its own; storms never start an AP. */
		CHECK(vu(&r, i, "lifecycle.sipi_accepted") <= vu(&r, i, "lifecycle.init_taken"),
		      "held AP %u: %llu SIPIs accepted after %llu INITs", i,
		      (unsigned long long)vu(&r, i, "lifecycle.sipi_accepted"),
		      (unsigned long long)vu(&r, i, "lifecycle.init_taken"));
		if (ARG(a, 3) == 4) /* boot, 3 INITs alone; no resend that a storm could overlap */
			CHECK(vu(&r, i, "lifecycle.sipi_discarded_hold") +
			                      vu(&r, i, "lifecycle.sipi_discarded_running") >=
			              2 * storm,
			      "held AP %u: storm SIPIs not all discarded", i);
		else
			printf("note: held AP %u got %llu INITs (resends): a storm SIPI may have met "
			       "one, not checked per cause\n",
			       i, (unsigned long long)ARG(a, 3));
		CHECK(vu(&r, i, "lifecycle.hold_releases") >= 1 &&
		              vu(&r, i, "lifecycle.hold_init") >=
		                      vu(&r, i, "lifecycle.hold_releases"),
		      "held AP %u: %llu releases, %llu INITs while held", i,
		      (unsigned long long)vu(&r, i, "lifecycle.hold_releases"),
		      (unsigned long long)vu(&r, i, "lifecycle.hold_init"));
		/* INIT alone never released it: every release came with an accepted SIPI. */
		CHECK(vu(&r, i, "lifecycle.hold_releases") <= vu(&r, i, "lifecycle.sipi_accepted"),
		      "held AP %u: %llu releases, %llu SIPIs accepted", i,
		      (unsigned long long)vu(&r, i, "lifecycle.hold_releases"),
		      (unsigned long long)vu(&r, i, "lifecycle.sipi_accepted"));
	}
	struct json_object *s = one(&r, 0, STAGE + 2);
	CHECK(ARG(s, 1) == cpus - 2, "%llu held APs woke, want %u", (unsigned long long)ARG(s, 1),
	      cpus - 2);
	CHECK(ARG(s, 2) == (prot ? 1u : 2u) && ARG(s, 3) == (prot ? 0u : 1u),
	      "running AP: %llu measured entries, %llu trap starts", (unsigned long long)ARG(s, 2),
	      (unsigned long long)ARG(s, 3));
	h_result_free(&r);
	return 0;
}

static int case_hostile_protected_4(void)
{
	return hostile(4, true);
}

static int case_hostile_4(void)
{
	return hostile(4, false);
}

/* ---- refusals ---- */

/* kernel and split: the hold is refused with one line; the guest sees no response. */
static int case_hold_refused(void)
{
	struct cvm_result r;

	if (!h_kvm_usable())
		return SKIP;
	if (user_mode()) {
		printf("SKIP: --irqchip user supports the AP reset hold (cases reset_hold_*)\n");
		return SKIP;
	}
	if (!run("reset_hold", 1, "probe", false, &r))
		return 1;
	if (!common(&r, 1, false)) {
		h_result_free(&r);
		return 1;
	}
	struct json_object *p = one(&r, 0, STAGE + 4);
	CHECK(ARG(p, 1) == 0x006 && ARG(p, 2) == 0,
	      "the GHCB MSR reads 0x%llx after the request (want 0x006: no response), %llu faults",
	      (unsigned long long)ARG(p, 1), (unsigned long long)ARG(p, 2));
	CHECK(vu(&r, 0, "ghcb.hold_refused_mode") == 1, "refusal not counted");
	CHECK(lines_with(r.err, "use --irqchip user") == 1, "stderr:\n%s", r.err);
	h_result_free(&r);
	return 0;
}

/* --protected-state: refused in kernel/split mode, and without the image's note. */
static int case_protected_refusals(void)
{
	struct cvm_result r;

	if (!h_kvm_usable())
		return SKIP;
	if (!run("smp", 2, "", true, &r))
		return 1;
	if (user_mode()) {
		CHECK(r.status == CVM_EXIT_FAILURE, "status %d, want %d", r.status,
		      CVM_EXIT_FAILURE);
		CHECK(lines_with(r.err, "no AP initial-state note") == 1, "stderr:\n%s", r.err);
	} else {
		CHECK(r.status == CVM_EXIT_USAGE, "status %d, want %d", r.status, CVM_EXIT_USAGE);
		CHECK(lines_with(r.err, "--protected-state needs --irqchip user") == 1,
		      "stderr:\n%s", r.err);
	}
	CHECK(h_lines(r.err) == 1, "want one line, stderr:\n%s", r.err);
	h_result_free(&r);
	/* One vCPU needs no note: the smp guest runs with protected state. */
	if (user_mode()) {
		if (!run("smp", 1, "", true, &r))
			return 1;
		common(&r, 1, true);
		h_result_free(&r);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct h_case cases[] = {
	        {"reset_hold_protected_4", case_reset_hold_protected_4},
	        {"reset_hold_4", case_reset_hold_4},
	        {"first_boot_trap_4", case_first_boot_trap_4},
	        {"end_hold_3", case_end_hold_3},
	        {"hostile_protected_4", case_hostile_protected_4},
	        {"hostile_4", case_hostile_4},
	        {"hold_refused", case_hold_refused},
	        {"protected_refusals", case_protected_refusals},
	};

	return h_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
