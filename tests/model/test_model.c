/* Tests for model/: the engine on toy models, every scenario's verdict, and mutants being caught. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/mc.h"
#include "model/world.h"

/* ---- Toy model: a grid of (x, y) in [0,10)^2, steps x+1 or y+1; a trap at (7, *) ---- */

struct toy {
	uint8_t x, y;
};

static int toy_bad_x = -1; /* state invariant: x must not reach this */
static bool toy_trap;      /* liveness: x == 7 can never reach y == 9 */

static void toy_initial(void *ctx, void *state)
{
	memset(state, 0, sizeof(struct toy));
}

static void toy_expand(void *ctx, const void *state, struct mc_emitter *em)
{
	const struct toy *s = state;
	struct toy n;

	if (toy_trap && s->x == 7)
		return; /* a dead end */
	if (s->x < 9) {
		n = *s;
		n.x++;
		mc_emit(em, 1, &n);
	}
	if (s->y < 9) {
		n = *s;
		n.y++;
		if (n.y == 5 && n.x == 5 && toy_bad_x == -2)
			mc_violation(em, 2, &n, "reached (5,5)");
		else
			mc_emit(em, 2, &n);
	}
}

static bool toy_check(void *ctx, const void *state, char *msg, size_t len)
{
	const struct toy *s = state;
	if (s->x == toy_bad_x) {
		snprintf(msg, len, "x reached %d", toy_bad_x);
		return false;
	}
	return true;
}

static bool toy_goal(void *ctx, const void *state)
{
	return ((const struct toy *)state)->y == 9;
}

static void toy_label(void *ctx, mc_label l, char *buf, size_t len)
{
	snprintf(buf, len, l == 1 ? "x+1" : "y+1");
}

static void toy_state(void *ctx, const void *state, char *buf, size_t len)
{
	const struct toy *s = state;
	snprintf(buf, len, "(%u,%u)", s->x, s->y);
}

static const struct mc_model toy = {
        .state_size = sizeof(struct toy),
        .initial = toy_initial,
        .expand = toy_expand,
        .check_state = toy_check,
        .goal = toy_goal,
        .goal_text = "y is 9",
        .show_label = toy_label,
        .show_state = toy_state,
};

static void test_engine_counts(void **state)
{
	struct mc_limits lim = {0};
	struct mc_result r;

	toy_bad_x = -1;
	toy_trap = false;
	assert_int_equal(mc_run(&toy, &lim, &r), 0);
	assert_int_equal(r.verdict, MC_PASS);
	assert_true(r.complete);
	assert_int_equal(r.states, 100);
	assert_int_equal(r.transitions, 2 * 9 * 10);
	assert_int_equal(r.depth, 18);
	assert_int_equal(r.trace_len, 0);
	mc_result_free(&r);
}

/* The first violation found is at the smallest depth, with its whole path. */
static void test_engine_safety(void **state)
{
	struct mc_limits lim = {0};
	struct mc_result r;
	struct toy last;

	toy_bad_x = 4;
	toy_trap = false;
	assert_int_equal(mc_run(&toy, &lim, &r), 0);
	assert_int_equal(r.verdict, MC_SAFETY);
	assert_string_equal(r.message, "x reached 4");
	assert_int_equal(r.trace_len, 5); /* (0,0) .. (4,0) */
	memcpy(&last, r.states_ + 4 * sizeof(last), sizeof(last));
	assert_int_equal(last.x, 4);
	assert_int_equal(last.y, 0);
	assert_int_equal(r.labels[4], 1);
	mc_result_free(&r);

	/* a transition invariant reported while expanding */
	toy_bad_x = -2;
	assert_int_equal(mc_run(&toy, &lim, &r), 0);
	assert_int_equal(r.verdict, MC_SAFETY);
	assert_string_equal(r.message, "reached (5,5)");
	assert_int_equal(r.trace_len, 11);
	memcpy(&last, r.states_ + 10 * sizeof(last), sizeof(last));
	assert_int_equal(last.x, 5);
	assert_int_equal(last.y, 5);
	mc_result_free(&r);
	toy_bad_x = -1;
}

/* Liveness: the dead ends at x == 7 (y < 9) cannot reach y == 9; the shallowest is (7,0). */
static void test_engine_liveness(void **state)
{
	struct mc_limits lim = {0};
	struct mc_result r;
	struct toy s;

	toy_trap = true;
	assert_int_equal(mc_run(&toy, &lim, &r), 0);
	assert_int_equal(r.verdict, MC_LIVENESS);
	assert_int_equal(r.stuck_states, 9); /* (7,0)..(7,8) */
	assert_int_equal(r.stuck_from, 7);
	memcpy(&s, r.states_ + 7 * sizeof(s), sizeof(s));
	assert_int_equal(s.x, 7);
	assert_int_equal(s.y, 0);
	assert_int_equal(r.trace_len, 8); /* a dead end: nothing follows */
	mc_print_trace(&toy, &r, stdout);
	mc_result_free(&r);
	toy_trap = false;
}

/* Limits make the run incomplete and leave liveness undecided. */
static void test_engine_limits(void **state)
{
	struct mc_limits lim = {.max_states = 10};
	struct mc_result r;

	toy_trap = true;
	assert_int_equal(mc_run(&toy, &lim, &r), 0);
	assert_int_equal(r.verdict, MC_INCOMPLETE);
	assert_int_equal(r.states, 10);
	assert_false(r.complete);
	mc_result_free(&r);
	lim = (struct mc_limits){.max_depth = 3};
	assert_int_equal(mc_run(&toy, &lim, &r), 0);
	assert_int_equal(r.verdict, MC_INCOMPLETE);
	assert_int_equal(r.states, 10); /* depth <= 3: 1 + 2 + 3 + 4 */
	mc_result_free(&r);
	toy_trap = false;
}

/* ---- The lifecycle scenarios ---- */

static struct w_world world;

static int run(const char *name, enum w_mutant mut, struct mc_result *r, struct mc_model *m)
{
	const struct w_scenario *sc = w_find_scenario(name);
	struct mc_limits lim = {0};

	assert_non_null(sc);
	assert_int_equal(w_world_init(&world, sc, mut), 0);
	w_model(&world, m);
	return mc_run(m, &lim, r);
}

/* Does some label of the trace print as `text`? */
static bool trace_has(const struct mc_model *m, const struct mc_result *r, const char *text)
{
	char buf[160];
	for (unsigned int k = 1; k < r->trace_len; k++) {
		m->show_label(m->ctx, r->labels[k], buf, sizeof(buf));
		if (strstr(buf, text))
			return true;
	}
	return false;
}

static void test_seed004_single(void **state)
{
	struct mc_result r;
	struct mc_model m;

	assert_int_equal(run("seed004-single", W_MUT_NONE, &r, &m), 0);
	assert_int_equal(r.verdict, MC_LIVENESS);
	/* The shortest: SMI, SMM entry, INIT latched, SIPI discarded. */
	assert_int_equal(r.stuck_from, 4);
	assert_true(trace_has(&m, &r, "env: SMI -> cpu1"));
	assert_true(trace_has(&m, &r, "cpu1: SMM_ENTER"));
	assert_true(trace_has(&m, &r, "send INIT -> cpu1 (latched)"));
	assert_true(trace_has(&m, &r, "send SIPI -> cpu1 (discarded)"));
	assert_true(trace_has(&m, &r, "cpu1: RSM"));
	mc_print_trace(&m, &r, stdout);
	mc_result_free(&r);
}

static void test_seed004_double(void **state)
{
	struct mc_result r;
	struct mc_model m;

	assert_int_equal(run("seed004-double", W_MUT_NONE, &r, &m), 0);
	assert_int_equal(r.verdict, MC_LIVENESS);
	assert_int_equal(r.stuck_from, 5);
	mc_result_free(&r);
}

/* The retrying guest: complete exploration, every reachable state can still start the AP. */
static void test_seed004_retry(void **state)
{
	struct mc_result r;
	struct mc_model m;

	assert_int_equal(run("seed004-retry", W_MUT_NONE, &r, &m), 0);
	assert_int_equal(r.verdict, MC_PASS);
	assert_true(r.complete);
	assert_int_equal(r.stuck_states, 0);
	assert_true(r.states > 100);
	mc_result_free(&r);
	/* still true with more SMIs */
	const struct w_scenario *sc = w_find_scenario("seed004-retry");
	struct w_scenario more = *sc;
	struct mc_limits lim = {0};
	more.smi = 5;
	assert_int_equal(w_world_init(&world, &more, W_MUT_NONE), 0);
	w_model(&world, &m);
	assert_int_equal(mc_run(&m, &lim, &r), 0);
	assert_int_equal(r.verdict, MC_PASS);
	mc_result_free(&r);
}

static void test_reset_hold(void **state)
{
	struct mc_result r;
	struct mc_model m;

	assert_int_equal(run("reset-hold", W_MUT_NONE, &r, &m), 0);
	assert_int_equal(r.verdict, MC_PASS);
	assert_true(r.complete);
	mc_result_free(&r);
	assert_int_equal(run("reset-hold-once", W_MUT_NONE, &r, &m), 0);
	assert_int_equal(r.verdict, MC_LIVENESS);
	assert_true(trace_has(&m, &r, "AP reset hold"));
	mc_result_free(&r);
}

static void test_rules(void **state)
{
	struct mc_result r;
	struct mc_model m;

	assert_int_equal(run("rules", W_MUT_NONE, &r, &m), 0);
	assert_int_equal(r.verdict, MC_PASS);
	assert_true(r.complete);
	assert_true(r.states > 100000);
	mc_result_free(&r);
}

/* Each deliberate core bug is caught by the invariant written for it. */
static void test_mutants(void **state)
{
	static const struct {
		enum w_mutant mut;
		const char *scenario, *message;
	} cases[] = {
	        {W_MUT_SIPI_IN_SMM, "seed004-single", "a SIPI changed cpu1 outside wait-for-SIPI"},
	        {W_MUT_NMI_NEST, "rules",
	         "an NMI was injected into cpu1 while its NMI handler runs"},
	        {W_MUT_LOSE_INIT, "seed004-single", "an INIT latched in SMM was lost on cpu1"},
	        {W_MUT_DEAF_HALT, "rules", "stays halted although an interrupt is deliverable"},
	};
	struct mc_result r;
	struct mc_model m;

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(run(cases[i].scenario, cases[i].mut, &r, &m), 0);
		assert_int_equal(r.verdict, MC_SAFETY);
		assert_non_null(strstr(r.message, cases[i].message));
		assert_true(r.trace_len >= 2);
		mc_result_free(&r);
	}
	assert_string_equal(w_mutant_name(W_MUT_NMI_NEST), "nmi-nest");
	assert_int_equal(w_mutant_parse("lose-init"), W_MUT_LOSE_INIT);
	assert_int_equal(w_mutant_parse("nope"), -1);
	assert_string_equal(w_mutant_name(99), "?");
}

/* Scenario definitions are checked before use. */
static void test_bad_scenario(void **state)
{
	static const struct w_insn bad[] = {{.op = W_SEND_INIT, .a = 7}};
	struct w_scenario sc = {
	        .name = "bad", .ncpus = 2, .prog = {bad}, .prog_len = {1}, .goal_flag = -1};

	assert_int_equal(w_world_init(&world, &sc, W_MUT_NONE), -22);
	sc.ncpus = 4;
	assert_int_equal(w_world_init(&world, &sc, W_MUT_NONE), -22);
	sc.ncpus = 1;
	sc.prog_len[0] = 0;
	assert_int_equal(w_world_init(&world, &sc, W_MUT_NONE), 0);
	assert_null(w_find_scenario("nope"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_engine_counts),   cmocka_unit_test(test_engine_safety),
	        cmocka_unit_test(test_engine_liveness), cmocka_unit_test(test_engine_limits),
	        cmocka_unit_test(test_seed004_single),  cmocka_unit_test(test_seed004_double),
	        cmocka_unit_test(test_seed004_retry),   cmocka_unit_test(test_reset_hold),
	        cmocka_unit_test(test_rules),           cmocka_unit_test(test_mutants),
	        cmocka_unit_test(test_bad_scenario),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
