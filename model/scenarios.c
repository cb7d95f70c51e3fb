/* The model checker's built-in scenarios: seed 004 (INIT-SIPI vs SMI), seed 002 (AP reset hold), the rules. */
#include <string.h>

#include "model/world.h"

#define I(...)                    \
	{                         \
		.op = __VA_ARGS__ \
	}
#define ALL_BUT_SELF 3

/* ---- Seed 004: guest CPU online while SMIs arrive ---- */

/* The AP was online before and now sits in its offline HLT loop (@1); "online" code starts at 0. */
static const struct w_insn ap_online[] = {
        I(W_SET_FLAG, .a = 0), /* 0: the AP reports it started */
        I(W_HLT),              /* 1: park */
        I(W_JMP, .b = 1),      /* 2 */
};

/* Linux-like single SIPI: INIT, SIPI, then wait for the AP's flag. */
static const struct w_insn bsp_single[] = {
        I(W_SEND_INIT, .a = 1),
        I(W_SEND_SIPI, .a = 1, .b = 0),
        I(W_WAIT_FLAG, .a = 0),
        I(W_DONE),
};

/* The MP-spec sequence INIT, SIPI, SIPI, then wait: still lost if SMM spans both SIPIs. */
static const struct w_insn bsp_double[] = {
        I(W_SEND_INIT, .a = 1),
        I(W_SEND_SIPI, .a = 1, .b = 0),
        I(W_SEND_SIPI, .a = 1, .b = 0),
        I(W_WAIT_FLAG, .a = 0),
        I(W_DONE),
};

/* The correct guest: resend the SIPI until the AP reports. */
static const struct w_insn bsp_retry[] = {
        I(W_SEND_INIT, .a = 1),
        I(W_SEND_SIPI, .a = 1, .b = 0),
        I(W_RETRY_SIPI, .a = 1, .b = 0, .c = 0),
        I(W_DONE),
};

/* ---- Seed 002: protected register state, AP reset hold ---- */

/* The AP (protected): at its measured entry it reports, parks by AP reset hold, reports the wake. */
static const struct w_insn ap_hold[] = {
        I(W_SET_FLAG, .a = 0), /* 0: first boot */
        I(W_HOLD),             /* 1: park */
        I(W_SET_FLAG, .a = 1), /* 2: woken */
        I(W_HLT),              /* 3 */
        I(W_JMP, .b = 3),      /* 4 */
};

/* First boot by INIT-SIPI-SIPI, then wake the held AP by INIT-SIPI until it reports. */
static const struct w_insn bsp_hold_retry[] = {
        I(W_SEND_INIT, .a = 1),            /* 0 */
        I(W_SEND_SIPI, .a = 1, .b = 0x9f), /* 1: the vector is ignored on first boot */
        I(W_SEND_SIPI, .a = 1, .b = 0x9f), /* 2 */
        I(W_WAIT_FLAG, .a = 0),            /* 3 */
        I(W_SEND_INIT, .a = 1),            /* 4 */
        I(W_SEND_SIPI, .a = 1, .b = 0x9f), /* 5 */
        I(W_JMP_IF, .a = 1, .b = 8),       /* 6 */
        I(W_JMP, .b = 4),                  /* 7 */
        I(W_DONE),                         /* 8 */
};

/* Waking once: lost when the INIT-SIPI arrives before the AP has parked. */
static const struct w_insn bsp_hold_once[] = {
        I(W_SEND_INIT, .a = 1),
        I(W_SEND_SIPI, .a = 1, .b = 0x9f),
        I(W_SEND_SIPI, .a = 1, .b = 0x9f),
        I(W_WAIT_FLAG, .a = 0),
        I(W_SEND_INIT, .a = 1),
        I(W_SEND_SIPI, .a = 1, .b = 0x9f),
        I(W_WAIT_FLAG, .a = 1),
        I(W_DONE),
};

/* ---- All rules at once: three vCPUs, every IPI kind, shorthands, interrupts, HLT ---- */

static const struct w_insn bsp_rules[] = {
        I(W_STI),                                  /* 0 */
        I(W_SEND_INIT, .a = 1),                    /* 1 */
        I(W_SEND_SIPI, .a = 1, .b = 0),            /* 2 */
        I(W_SEND_INIT, .a = 2),                    /* 3 */
        I(W_SEND_SIPI, .a = 2, .b = 0),            /* 4 */
        I(W_SEND_NMI, .a = 1),                     /* 5 */
        I(W_SEND_FIXED, .a = 2, .b = 0x40),        /* 6 */
        I(W_SEND_SMI, .a = 2),                     /* 7 */
        I(W_SEND_INIT, .c = ALL_BUT_SELF),         /* 8 */
        I(W_SEND_SIPI, .b = 0, .c = ALL_BUT_SELF), /* 9 */
        I(W_HLT),                                  /* 10 */
        I(W_DONE),                                 /* 11 */
};

static const struct w_insn ap1_rules[] = {
        I(W_STI),
        I(W_SET_FLAG, .a = 1),
        I(W_HLT),
        I(W_JMP, .b = 2),
};

static const struct w_insn ap2_rules[] = {
        I(W_STI),
        I(W_SET_FLAG, .a = 2),
        I(W_HLT),
        I(W_JMP, .b = 2),
};

#define N(a) ((uint8_t)(sizeof(a) / sizeof((a)[0])))

/* Seed 004: the AP starts parked (@1); SMIs may hit either CPU; the goal is the AP's flag. */
#define SEED004_COMMON                                                                      \
	.start_pc = {0, 1}, .running_mask = 0x2, .smi = 2, .smi_mask = 0x3, .goal_flag = 0, \
	.goal_text = "the AP has started (flag 0 set)"

static const struct w_scenario scenarios[] = {
        {
                .name = "seed004-single",
                .summary = "BSP sends INIT, one SIPI, waits; SMIs at any time: the AP can be lost",
                .ncpus = 2,
                .prog = {bsp_single, ap_online},
                .prog_len = {N(bsp_single), N(ap_online)},
                SEED004_COMMON,
                .expect_violation = 1,
        },
        {
                .name = "seed004-double",
                .summary = "INIT, SIPI, SIPI, wait: still lost when SMM spans both SIPIs",
                .ncpus = 2,
                .prog = {bsp_double, ap_online},
                .prog_len = {N(bsp_double), N(ap_online)},
                SEED004_COMMON,
                .expect_violation = 1,
        },
        {
                .name = "seed004-retry",
                .summary = "INIT, SIPI, resend SIPI until the AP reports: never lost",
                .ncpus = 2,
                .prog = {bsp_retry, ap_online},
                .prog_len = {N(bsp_retry), N(ap_online)},
                SEED004_COMMON,
        },
        {
                .name = "reset-hold",
                .summary = "protected AP: first boot by INIT-SIPI-SIPI, AP reset hold, woken by "
                           "INIT-SIPI retried until it reports; no register write ever",
                .ncpus = 2,
                .prog = {bsp_hold_retry, ap_hold},
                .prog_len = {N(bsp_hold_retry), N(ap_hold)},
                .protected_mask = 0x2,
                .smi = 1,
                .nmi = 1,
                .smi_mask = 0x3,
                .nmi_mask = 0x2,
                .goal_flag = 1,
                .goal_text = "the AP reported its wake from the hold (flag 1 set)",
        },
        {
                .name = "reset-hold-once",
                .summary = "protected AP woken by a single INIT-SIPI: lost if it arrives before "
                           "the AP parks",
                .ncpus = 2,
                .prog = {bsp_hold_once, ap_hold},
                .prog_len = {N(bsp_hold_once), N(ap_hold)},
                .protected_mask = 0x2,
                .goal_flag = 1,
                .goal_text = "the AP reported its wake from the hold (flag 1 set)",
                .expect_violation = 1,
        },
        {
                .name = "rules",
                .summary = "3 vCPUs: INIT/SIPI/NMI/SMI/fixed IPIs, shorthands, HLT, SMIs, NMIs "
                           "and IRQs from outside; safety invariants only",
                .ncpus = 3,
                .prog = {bsp_rules, ap1_rules, ap2_rules},
                .prog_len = {N(bsp_rules), N(ap1_rules), N(ap2_rules)},
                .smi = 1,
                .nmi = 1,
                .intr = 1,
                .smi_mask = 0x7,
                .nmi_mask = 0x7,
                .intr_mask = 0x7,
                .goal_flag = -1,
        },
        {
                .name = "bench",
                .summary = "benchmark: the rules scenario with one more IRQ (2.6 million states)",
                .ncpus = 3,
                .prog = {bsp_rules, ap1_rules, ap2_rules},
                .prog_len = {N(bsp_rules), N(ap1_rules), N(ap2_rules)},
                .smi = 1,
                .nmi = 1,
                .intr = 2,
                .smi_mask = 0x7,
                .nmi_mask = 0x7,
                .intr_mask = 0x7,
                .goal_flag = -1,
        },
};

const struct w_scenario *w_scenarios(unsigned int *n)
{
	*n = sizeof(scenarios) / sizeof(scenarios[0]);
	return scenarios;
}

const struct w_scenario *w_find_scenario(const char *name)
{
	for (unsigned int i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	return NULL;
}
