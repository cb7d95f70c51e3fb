/*
 * The kick protocol (model/kick.h, docs/idle-work.md) explored exhaustively:
 * the protocol as vmm/vcpu.c, vmm/workq.c and vmm/irqchip_user.c run it loses
 * no wake-up in either irqchip family, and each deliberate bug is caught with
 * a counterexample trace (kick without immediate_exit is the one change that
 * stays correct: the kick signal is blocked outside KVM_RUN, so it waits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "model/kick.h"

/* Explores `cfg` completely; prints the verdict, and the trace when there is one. */
static enum mc_verdict explore(const struct kick_config *cfg)
{
	struct mc_model m;
	struct mc_limits lim = {0};
	struct mc_result r;
	enum mc_verdict v;

	kick_model(cfg, &m);
	assert_int_equal(mc_run(&m, &lim, &r), 0);
	printf("%-6s mutant %-28s exits %u hlts %u: %llu states, %llu transitions, depth %u: %s\n",
	       cfg->mode == KICK_USER ? "user" : "kernel", kick_mutant_name(cfg->mutant),
	       cfg->guest_exits, cfg->guest_hlts, (unsigned long long)r.states,
	       (unsigned long long)r.transitions, r.depth,
	       r.verdict == MC_PASS ? "no lost wake-up" : r.message);
	if (r.verdict != MC_PASS)
		mc_print_trace(&m, &r, stdout);
	assert_true(r.complete || r.verdict != MC_PASS);
	v = r.verdict;
	mc_result_free(&r);
	return v;
}

/* The protocol as the code runs it, for guests making 0 to 2 exits and HLTs of their own. */
static void protocol(enum kick_mode mode)
{
	for (unsigned int exits = 0; exits <= 2; exits++)
		for (unsigned int hlts = 0; hlts <= 2; hlts++) {
			struct kick_config c = {
			        .mode = mode, .guest_exits = exits, .guest_hlts = hlts};
			assert_int_equal(explore(&c), MC_PASS);
		}
}

static void test_protocol_user(void **state)
{
	(void)state;
	protocol(KICK_USER);
}

static void test_protocol_kernel(void **state)
{
	(void)state;
	protocol(KICK_KERNEL);
}

/* Each bug is found, as a broken invariant or as a state from which nothing runs. */
static void test_mutants(void **state)
{
	static const struct {
		enum kick_mode mode;
		enum kick_mutant mut;
		bool caught;
	} cases[] = {
	        {KICK_USER, KICK_MUT_SUBMIT_READS_FIRST, true},
	        {KICK_KERNEL, KICK_MUT_SUBMIT_READS_FIRST, true},
	        {KICK_USER, KICK_MUT_BLOCK_READS_LATE, true},
	        {KICK_USER, KICK_MUT_NO_SIGNAL, true},
	        {KICK_KERNEL, KICK_MUT_NO_SIGNAL, true},
	        {KICK_USER, KICK_MUT_STATE_AFTER_LOOK, true},
	        {KICK_USER, KICK_MUT_EINTR_REENTERS, true},
	        {KICK_KERNEL, KICK_MUT_EINTR_REENTERS, true},
	        {KICK_USER, KICK_MUT_NO_IMMEDIATE_EXIT, false},
	        {KICK_KERNEL, KICK_MUT_NO_IMMEDIATE_EXIT, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kick_config c = {.mode = cases[i].mode,
		                        .mutant = cases[i].mut,
		                        .guest_exits = 1,
		                        .guest_hlts = 1};
		enum mc_verdict v = explore(&c);
		if (cases[i].caught)
			assert_true(v == MC_SAFETY || v == MC_LIVENESS);
		else
			assert_int_equal(v, MC_PASS);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_protocol_user),
	        cmocka_unit_test(test_protocol_kernel),
	        cmocka_unit_test(test_mutants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
