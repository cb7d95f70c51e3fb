/* The diagnostics rate limit (util/ratelimit.h): a burst, then one line per interval. */
#include "util/ratelimit.h"

void cvm_ratelimit_init(struct cvm_ratelimit *rl, unsigned int burst, uint64_t interval_ns)
{
	atomic_init(&rl->burst, burst);
	atomic_init(&rl->next_ns, 0);
	atomic_init(&rl->suppressed, 0);
	rl->interval_ns = interval_ns;
}

bool cvm_ratelimit_allow(struct cvm_ratelimit *rl, uint64_t now_ns)
{
	unsigned int b = atomic_load(&rl->burst);
	uint64_t next;

	while (b) {
		if (atomic_compare_exchange_weak(&rl->burst, &b, b - 1)) {
			if (b == 1) /* the burst is spent: the next line waits an interval */
				atomic_store(&rl->next_ns, now_ns + rl->interval_ns);
			return true;
		}
	}
	next = atomic_load(&rl->next_ns);
	if (now_ns >= next &&
	    atomic_compare_exchange_strong(&rl->next_ns, &next, now_ns + rl->interval_ns))
		return true;
	atomic_fetch_add(&rl->suppressed, 1);
	return false;
}

uint64_t cvm_ratelimit_suppressed(const struct cvm_ratelimit *rl)
{
	return atomic_load(&rl->suppressed);
}
