/* Strategy "plain": vCPU threads are ordinary floating tasks; the hardware alone enforces SMT protection. */
#include "host/placement.h"
#include "sim/strategy.h"

static void place(const struct cvm_sim *s, const struct sim_vm *vm, struct sim_place_choice *pc)
{
	pc->policy = CVM_PLACE_NONE;
	pc->cookies = CVM_COOKIE_OFF;
}

const struct sim_strategy_ops sim_strategy_plain = {
        .name = "plain",
        .place = place,
};
