/* The host scheduler model: CPU layers (interrupt, kernel thread, user task), run queues, wakeups, ticks, slices, offline CPUs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"
#include "sim/strategy.h"

enum layer {
	L_NONE,
	L_USER,
	L_KTH,
	L_IRQ,
};

static enum layer top(const struct sim_cpu *c)
{
	if (c->irq_active)
		return L_IRQ;
	if (c->kth_active)
		return L_KTH;
	return c->curr ? L_USER : L_NONE;
}

bool cpu_busy(const struct sim_cpu *c)
{
	return c->irq_active || c->kth_active || c->curr;
}

/* ---- queues ---- */

bool itemq_push(struct sim_itemq *q, struct sim_item it)
{
	if (q->n == q->cap) {
		uint32_t cap = q->cap ? q->cap * 2 : 8;
		struct sim_item *v = malloc(cap * sizeof(*v));
		if (!v)
			return false;
		for (uint32_t i = 0; i < q->n; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->cap = cap;
		q->head = 0;
	}
	q->v[(q->head + q->n) % q->cap] = it;
	q->n++;
	return true;
}

static bool itemq_push_front(struct sim_itemq *q, struct sim_item it)
{
	if (!itemq_push(q, it))
		return false;
	/* rotate the new last element to the front */
	q->head = (q->head + q->cap - 1) % q->cap;
	q->v[q->head] = it;
	return true;
}

void itemq_pop(struct sim_itemq *q)
{
	q->head = (q->head + 1) % q->cap;
	q->n--;
}

void itemq_free(struct sim_itemq *q)
{
	free(q->v);
	*q = (struct sim_itemq){0};
}

static void taskq_push(struct sim_taskq *q, struct sim_task *t)
{
	t->next = NULL;
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
	q->n++;
}

void taskq_remove(struct sim_taskq *q, struct sim_task *t)
{
	struct sim_task *prev = NULL;
	for (struct sim_task *x = q->head; x; prev = x, x = x->next) {
		if (x != t)
			continue;
		if (prev)
			prev->next = x->next;
		else
			q->head = x->next;
		if (q->tail == x)
			q->tail = prev;
		q->n--;
		x->next = NULL;
		return;
	}
}

/* ---- state queries ---- */

bool siblings_idle(const struct cvm_sim *s, const struct sim_cpu *c)
{
	const uint32_t *cc = core_cpus(s, c->core);
	for (unsigned int i = 0; i < s->tpc; i++) {
		const struct sim_cpu *sb = &s->cpus[cc[i]];
		if (sb != c && sb->online && cpu_busy(sb))
			return false;
	}
	return true;
}

bool task_allowed_on(const struct cvm_sim *s, const struct sim_task *t, const struct sim_cpu *c)
{
	if (!c->online)
		return false;
	if (t->pinned >= 0)
		return (uint32_t)t->pinned == c->id;
	if (!cvm_bit_test(t->allowed, c->id))
		return false;
	return t->kind == TASK_VCPU || strat_host_task_allowed(s, c);
}

/* ---- accounting ---- */

void cpu_acct(struct cvm_sim *s, struct sim_cpu *c)
{
	enum sim_acct a;
	switch (top(c)) {
	case L_IRQ:
		a = ACCT_IRQ;
		break;
	case L_KTH:
		a = ACCT_KTHREAD;
		break;
	case L_USER:
		if (c->curr->kind == TASK_HOST) {
			a = ACCT_HOST_TASK;
		} else {
			struct sim_vcpu *v = c->curr->vcpu;
			if (v->mode == VM_GUEST)
				a = guest_idle_chunk(v) ? ACCT_GUEST_IDLE : ACCT_GUEST;
			else if (v->mode == VM_SPIN || v->mode == VM_WAIT)
				a = ACCT_VCPU_SPIN;
			else
				a = ACCT_VCPU_HOST;
		}
		break;
	default:
		if (!c->online)
			a = c->strat_off ? ACCT_STRAT_OFF : ACCT_OFFLINE;
		else
			a = c->forced || c->cookie_idle ? ACCT_FORCED : ACCT_IDLE;
		break;
	}
	if (a != c->acct) {
		s->acct[c->acct] += sim_now(s) - c->acct_since;
		c->acct = (uint8_t)a;
		c->acct_since = sim_now(s);
	}
	/* noise and compatible tasks may still use a CPU idle for cookie reasons */
	if (a == ACCT_IDLE || (a == ACCT_FORCED && !c->forced))
		cvm_bit_set(s->idle_map, c->id);
	else
		cvm_bit_clear(s->idle_map, c->id);
}

/* ---- segments ---- */

void cpu_arm_segment(struct cvm_sim *s, struct sim_cpu *c)
{
	uint64_t left;
	c->seg_gen++;
	c->seg_start = sim_now(s);
	switch (top(c)) {
	case L_IRQ:
		left = itemq_front(&c->irqq)->left;
		break;
	case L_KTH:
		/* a kernel thread shares the CPU with the user task there, a slice each (CFS) */
		left = itemq_front(&c->kq)->left;
		if (c->curr || c->uq.n || c->kq.n > 1) {
			uint64_t slice = s->sc->host.timeslice;
			uint64_t rest = c->kth_run < slice ? slice - c->kth_run : 1;
			if (left > rest)
				left = rest;
		}
		break;
	case L_USER:
		left = c->curr->kind == TASK_VCPU ? c->curr->vcpu->seg_left : c->curr->left;
		break;
	default:
		return;
	}
	if (left != CVM_SIM_NEVER)
		sim_arm(s, cpu_timer(s, c->id, T_SEG), sim_now(s) + left, EV_SEG, c->id, c->seg_gen,
		        0);
}

static void consume(uint64_t *left, uint64_t elapsed)
{
	if (*left == CVM_SIM_NEVER)
		return;
	*left = elapsed >= *left ? 0 : *left - elapsed;
}

/* Pauses the executing layer; returns the cost of leaving guest mode when a vCPU was in it. */
static uint64_t pause_top(struct cvm_sim *s, struct sim_cpu *c)
{
	uint64_t elapsed = sim_now(s) - c->seg_start;
	uint64_t cover = 0;
	c->seg_gen++;
	switch (top(c)) {
	case L_IRQ:
		consume(&itemq_front(&c->irqq)->left, elapsed);
		break;
	case L_KTH:
		consume(&itemq_front(&c->kq)->left, elapsed);
		c->kth_run += elapsed;
		break;
	case L_USER:
		if (c->curr->kind == TASK_VCPU) {
			struct sim_vcpu *v = c->curr->vcpu;
			bool guest = vcpu_in_guest(v);
			vcpu_covered(s, v, elapsed);
			if (guest)
				cover = s->sc->costs.exit;
		} else {
			consume(&c->curr->left, elapsed);
		}
		break;
	default:
		break;
	}
	c->seg_start = sim_now(s);
	return cover;
}

void cpu_pause_top(struct cvm_sim *s, struct sim_cpu *c)
{
	pause_top(s, c);
}

/* The user layer executes again (after a cover, or a new current task). */
static void user_resume(struct cvm_sim *s, struct sim_cpu *c)
{
	if (c->curr->kind == TASK_VCPU)
		vcpu_resume(s, c->curr->vcpu);
	else
		cpu_arm_segment(s, c);
}

static void resume_lower(struct cvm_sim *s, struct sim_cpu *c)
{
	if (top(c) == L_USER)
		user_resume(s, c);
	else
		cpu_arm_segment(s, c);
}

/* c had been idle and now executes something. */
static void left_idle(struct cvm_sim *s, struct sim_cpu *c)
{
	cpu_update_tick(s, c);
	smtp_cpu_left_idle(s, c);
}

static void kth_start(struct cvm_sim *s, struct sim_cpu *c);

/* After a layer ended: if c has nothing left it picks a task or goes idle. */
static void maybe_idle(struct cvm_sim *s, struct sim_cpu *c)
{
	if (cpu_busy(c))
		return;
	cpu_reschedule(s, c);
	if (cpu_busy(c))
		return;
	if (c->kth_yielded && c->kq.n && c->online) {
		/* nobody took the slice the kernel thread gave up: it goes on */
		c->kth_yielded = false;
		c->kth_gen++;
		kth_start(s, c);
		return;
	}
	cpu_acct(s, c);
	cpu_update_tick(s, c);
	smtp_cpu_became_idle(s, c);
}

/* An item starts service: the first time, its delay is recorded and `extra` (entry cost) added. */
static void item_begins(struct cvm_sim *s, struct sim_item *it, uint64_t cover, uint64_t extra)
{
	if (it->counted)
		return;
	it->left += cover + extra;
	noise_started(s, it, cover);
}

/* c's new executing layer starts: arm it, account, and tell the siblings if c was idle. */
static void layer_begins(struct cvm_sim *s, struct sim_cpu *c, bool was_idle)
{
	cpu_arm_segment(s, c);
	cpu_acct(s, c);
	if (was_idle)
		left_idle(s, c);
}

/* ---- interrupts ---- */

static void irq_start(struct cvm_sim *s, struct sim_cpu *c)
{
	bool was_idle = !cpu_busy(c);
	uint64_t cover = was_idle ? 0 : pause_top(s, c);
	struct sim_item *it = itemq_front(&c->irqq);
	c->irq_active = true;
	c->held = false;
	item_begins(s, it, cover, it->bottom ? 0 : s->sc->costs.irq_entry);
	layer_begins(s, c, was_idle);
}

void irq_enqueue(struct cvm_sim *s, struct sim_cpu *c, struct sim_item it)
{
	if (!itemq_push(&c->irqq, it)) {
		sim_fail(s, -ENOMEM);
		return;
	}
	if (c->irq_active || c->held || !c->online)
		return;
	if (!cpu_busy(c) && smtp_irq_for_idle(s, c))
		return;
	irq_start(s, c);
}

/* Releases interrupts that waited for a sibling vCPU's exit (HLT_WAKEUP_ICR). */
void cpu_release_held(struct cvm_sim *s, struct sim_cpu *c)
{
	c->held = false;
	c->held_for = NULL;
	if (c->online && !c->irq_active && c->irqq.n)
		irq_start(s, c);
}

static void irq_done(struct cvm_sim *s, struct sim_cpu *c)
{
	struct sim_item done = *itemq_front(&c->irqq);
	itemq_pop(&c->irqq);
	if (done.bottom_left) {
		/* The softirq bottom half follows its interrupt on the same CPU. */
		struct sim_item bh = {
		        .arrival = sim_now(s),
		        .left = done.bottom_left,
		        .delay = done.delay, /* one delay sample per arrival, both halves */
		        .src = done.src,
		        .bottom = 1,
		};
		if (strat_defer(s, c, &bh)) {
			if (!c->deferred.n)
				c->deferred_since = sim_now(s);
			itemq_push(&c->deferred, bh);
		} else if (!itemq_push_front(&c->irqq, bh)) {
			sim_fail(s, -ENOMEM);
			return;
		}
	}
	if (c->irqq.n) {
		struct sim_item *it = itemq_front(&c->irqq);
		item_begins(s, it, 0, it->bottom ? 0 : s->sc->costs.irq_entry);
		cpu_arm_segment(s, c);
	} else {
		c->irq_active = false;
		if (cpu_busy(c)) {
			resume_lower(s, c);
			cpu_acct(s, c);
		}
	}
	if (done.wake)
		vcpu_wake(s, &s->vcpus[done.wake - 1]);
	maybe_idle(s, c);
}

/* ---- kernel threads ---- */

static void kth_start(struct cvm_sim *s, struct sim_cpu *c)
{
	bool was_idle = !cpu_busy(c);
	c->kth_active = true;
	if (c->irq_active)
		return; /* runs when the interrupt layer is done */
	uint64_t cover = was_idle ? 0 : pause_top(s, c);
	item_begins(s, itemq_front(&c->kq), cover, s->sc->costs.ctx_switch);
	layer_begins(s, c, was_idle);
}

void kthread_enqueue(struct cvm_sim *s, struct sim_cpu *c, struct sim_item it)
{
	if (strat_defer(s, c, &it) || !c->online) {
		if (!c->deferred.n)
			c->deferred_since = sim_now(s);
		if (!itemq_push(&c->deferred, it))
			sim_fail(s, -ENOMEM);
		return;
	}
	if (!itemq_push(&c->kq, it)) {
		sim_fail(s, -ENOMEM);
		return;
	}
	if (!c->kth_active && !c->kth_yielded)
		kth_start(s, c);
}

void cpu_kth_event(struct cvm_sim *s, struct sim_cpu *c, uint32_t gen)
{
	if (gen != c->kth_gen || !c->kth_yielded)
		return;
	c->kth_yielded = false;
	if (c->online && c->kq.n && !c->kth_active)
		kth_start(s, c);
}

static void kth_done(struct cvm_sim *s, struct sim_cpu *c)
{
	struct sim_item *cur = itemq_front(&c->kq);
	consume(&cur->left, sim_now(s) - c->seg_start);
	c->kth_run = 0; /* a new turn starts, whoever takes it */
	if (cur->left && c->kq.n > 1) {
		/* its slice is over: the kernel threads take turns (round robin) */
		struct sim_item again = *cur;
		itemq_pop(&c->kq);
		if (!itemq_push(&c->kq, again)) {
			sim_fail(s, -ENOMEM);
			return;
		}
		cur = itemq_front(&c->kq);
	}
	if (cur->left && !c->curr && !c->uq.n) {
		/* nobody else wants the CPU: the next kernel thread in turn goes on */
		item_begins(s, cur, 0, s->sc->costs.ctx_switch);
		cpu_arm_segment(s, c);
		return;
	}
	if (cur->left) {
		/* its slice is over: the user task runs a slice, then the kernel thread again */
		c->seg_gen++;
		c->kth_active = false;
		c->kth_yielded = true;
		c->kth_gen++;
		sim_arm(s, cpu_timer(s, c->id, T_KTH), sim_now(s) + s->sc->host.timeslice, EV_KTH,
		        c->id, c->kth_gen, 0);
		if (c->curr) {
			user_resume(s, c);
			cpu_acct(s, c);
		}
		maybe_idle(s, c);
		return;
	}
	itemq_pop(&c->kq);
	if (c->kq.n) {
		item_begins(s, itemq_front(&c->kq), 0, s->sc->costs.ctx_switch);
		cpu_arm_segment(s, c);
		return;
	}
	c->kth_active = false;
	if (c->curr) {
		user_resume(s, c);
		cpu_acct(s, c);
	}
	maybe_idle(s, c);
}

void cpu_release_deferred(struct cvm_sim *s, struct sim_cpu *c)
{
	struct sim_itemq q = c->deferred;
	c->deferred = (struct sim_itemq){0};
	while (q.n) {
		struct sim_item it = *itemq_front(&q);
		itemq_pop(&q);
		if (it.bottom) {
			if (!itemq_push(&c->irqq, it))
				sim_fail(s, -ENOMEM);
		} else {
			kthread_enqueue(s, c, it);
		}
	}
	itemq_free(&q);
	if (c->irqq.n && !c->irq_active && c->online)
		irq_start(s, c);
}

/* ---- tasks ---- */

/* Picks the task c runs next from its queue (a task that may run there now). */
static struct sim_task *pick(struct cvm_sim *s, struct sim_cpu *c)
{
	for (struct sim_task *t = c->uq.head; t; t = t->next)
		if (strat_may_run(s, c, t))
			return t;
	return NULL;
}

/* Idle balance: a floating task waiting elsewhere that may run on c. */
static struct sim_task *pull(struct cvm_sim *s, struct sim_cpu *c)
{
	unsigned int n = s->ncpus, w;
	if (cvm_bitmap_empty(s->waiting_cpus, n))
		return NULL;
	cvm_bitmap_for_each(w, s->waiting_cpus, n)
	{
		if (w == c->id)
			continue;
		for (struct sim_task *t = s->cpus[w].uq.head; t; t = t->next)
			if (t->pinned < 0 && task_allowed_on(s, t, c) && strat_may_run(s, c, t)) {
				taskq_remove(&s->cpus[w].uq, t);
				if (!s->cpus[w].uq.n)
					cvm_bit_clear(s->waiting_cpus, w);
				return t;
			}
	}
	return NULL;
}

void cpu_arm_slice(struct cvm_sim *s, struct sim_cpu *c, uint64_t at)
{
	if (c->slice_armed)
		return;
	c->slice_armed = true;
	c->slice_gen++;
	sim_arm(s, cpu_timer(s, c->id, T_SLICE), at, EV_SLICE, c->id, c->slice_gen, 0);
}

/* Others wait for c: the current task gets the rest of its slice. */
static void others_waiting(struct cvm_sim *s, struct sim_cpu *c, bool woken)
{
	if (!c->curr)
		return;
	uint64_t slice = s->sc->host.timeslice;
	uint64_t at = c->slice_start + (woken ? slice / 3 : slice);
	cpu_arm_slice(s, c, at);
}

void cpu_reschedule(struct cvm_sim *s, struct sim_cpu *c)
{
	if (!c->online || c->curr || c->held)
		return;
	struct sim_task *t = pick(s, c);
	if (t) {
		taskq_remove(&c->uq, t);
		if (!c->uq.n)
			cvm_bit_clear(s->waiting_cpus, c->id);
	} else if (!c->forced) {
		t = pull(s, c);
	}
	c->cookie_idle = !t && c->uq.n && !c->forced;
	if (!t) {
		if (c->cookie_idle) {
			const uint32_t *cc = core_cpus(s, c->core);
			for (unsigned int i = 0; i < s->tpc; i++)
				if (cc[i] != c->id && s->cpus[cc[i]].curr)
					others_waiting(s, &s->cpus[cc[i]], false);
		}
		cpu_acct(s, c);
		return;
	}
	bool was_idle = !cpu_busy(c);
	t->state = TS_CURRENT;
	t->cpu = (int32_t)c->id;
	c->curr = t;
	c->slice_start = sim_now(s);
	c->slice_armed = false;
	c->slice_gen++;
	if (c->uq.n)
		others_waiting(s, c, false);
	if (was_idle)
		left_idle(s, c);
	if (c->curr != t)
		return;
	if (t->kind == TASK_VCPU) {
		strat_vcpu_on(s, t->vcpu);
		if (c->curr != t)
			return;
	}
	if (top(c) == L_USER)
		user_resume(s, c);
	cpu_acct(s, c);
}

/* Reschedules siblings of c whose queued tasks may now be allowed (core cookies, forced idle lifted). */
static void kick_siblings(struct cvm_sim *s, struct sim_cpu *c)
{
	const uint32_t *cc = core_cpus(s, c->core);
	for (unsigned int i = 0; i < s->tpc; i++) {
		struct sim_cpu *sb = &s->cpus[cc[i]];
		if (sb != c && !sb->curr && sb->uq.n)
			cpu_reschedule(s, sb);
	}
}

/* Chooses the CPU a waking task goes to; -1 when none is usable. */
static int select_cpu(struct cvm_sim *s, struct sim_task *t)
{
	if (t->pinned >= 0)
		return s->cpus[t->pinned].online ? t->pinned : -1;
	unsigned int n = s->ncpus;
	uint64_t *cand = s->scratch;
	cvm_bitmap_and(cand, t->allowed, s->idle_map, n);
	int prev = t->cpu;
	if (prev >= 0 && cvm_bit_test(cand, (unsigned int)prev) &&
	    task_allowed_on(s, t, &s->cpus[prev]) && strat_may_run(s, &s->cpus[prev], t) &&
	    siblings_idle(s, &s->cpus[prev]))
		return prev;
	unsigned int start = prev >= 0 ? (unsigned int)prev : 0, first = n;
	for (unsigned int pass = 0; pass < 2; pass++) {
		unsigned int i = cvm_bitmap_next(cand, n, pass ? 0 : start);
		for (; i < n && (pass == 0 || i < start); i = cvm_bitmap_next(cand, n, i + 1)) {
			struct sim_cpu *c = &s->cpus[i];
			if (!task_allowed_on(s, t, c) || !strat_may_run(s, c, t))
				continue;
			if (siblings_idle(s, c))
				return (int)i;
			if (first == n)
				first = i;
		}
	}
	if (first < n)
		return (int)first;
	if (prev >= 0 && task_allowed_on(s, t, &s->cpus[prev]))
		return prev;
	/* Busy everywhere: the allowed online CPU with the shortest queue. */
	int best = -1;
	unsigned int i;
	cvm_bitmap_for_each(i, t->allowed, n)
	{
		struct sim_cpu *c = &s->cpus[i];
		if (!task_allowed_on(s, t, c))
			continue;
		if (best < 0 || c->uq.n < s->cpus[best].uq.n)
			best = (int)i;
		if (!c->uq.n)
			break;
	}
	return best;
}

static void enqueue(struct cvm_sim *s, struct sim_task *t, struct sim_cpu *c, bool woken)
{
	t->state = TS_QUEUED;
	t->cpu = (int32_t)c->id;
	t->enq_time = sim_now(s);
	taskq_push(&c->uq, t);
	cvm_bit_set(s->waiting_cpus, c->id);
	if (!c->curr)
		cpu_reschedule(s, c);
	else
		others_waiting(s, c, woken);
}

void task_wake(struct cvm_sim *s, struct sim_task *t)
{
	if (t->state != TS_BLOCKED)
		return;
	int cpu = select_cpu(s, t);
	if (sim_tracing(s))
		sim_trace(s, "%s%u wakes on cpu%d", t->kind == TASK_VCPU ? "vcpu" : "task",
		          t->kind == TASK_VCPU ? t->vcpu->gid : t->id, cpu);
	if (cpu < 0)
		return; /* nowhere to run: stays blocked until placement changes */
	enqueue(s, t, &s->cpus[cpu], true);
}

/* Detaches the current task of c (it blocks, yields or moves). */
static void detach(struct cvm_sim *s, struct sim_cpu *c, struct sim_task *t)
{
	if (top(c) == L_USER)
		pause_top(s, c);
	c->curr = NULL;
	c->slice_armed = false;
	c->slice_gen++;
	if (t->kind == TASK_VCPU) {
		vcpu_descheduled(s, t->vcpu);
		strat_vcpu_off(s, t->vcpu);
	}
}

void task_evict(struct cvm_sim *s, struct sim_task *t)
{
	struct sim_cpu *c = &s->cpus[t->cpu];
	detach(s, c, t);
	t->state = TS_BLOCKED;
	if (t->kind == TASK_HOST || !t->vcpu->blocked)
		task_wake(s, t);
	cpu_acct(s, c);
}

void cpu_defer_kthreads(struct cvm_sim *s, struct sim_cpu *c)
{
	if (!c->kq.n)
		return;
	if (c->kth_active && !c->irq_active)
		pause_top(s, c);
	c->kth_active = false;
	c->kth_yielded = false;
	c->kth_gen++;
	if (!c->deferred.n)
		c->deferred_since = sim_now(s);
	for (; c->kq.n; itemq_pop(&c->kq))
		if (!itemq_push(&c->deferred, *itemq_front(&c->kq)))
			sim_fail(s, -ENOMEM);
	if (!cpu_busy(c)) {
		cpu_acct(s, c);
		cpu_update_tick(s, c);
		smtp_cpu_became_idle(s, c);
	}
}

void task_block(struct cvm_sim *s, struct sim_task *t)
{
	struct sim_cpu *c = &s->cpus[t->cpu];
	detach(s, c, t);
	t->state = TS_BLOCKED;
	cpu_reschedule(s, c);
	kick_siblings(s, c);
	if (!cpu_busy(c)) {
		cpu_acct(s, c);
		cpu_update_tick(s, c);
		smtp_cpu_became_idle(s, c);
	} else {
		cpu_acct(s, c);
	}
}

void task_yield(struct cvm_sim *s, struct sim_task *t)
{
	struct sim_cpu *c = &s->cpus[t->cpu];
	detach(s, c, t);
	t->state = TS_QUEUED;
	t->enq_time = sim_now(s);
	taskq_push(&c->uq, t);
	cvm_bit_set(s->waiting_cpus, c->id);
	cpu_reschedule(s, c);
	kick_siblings(s, c);
	cpu_acct(s, c);
}

void task_migrate_if_needed(struct cvm_sim *s, struct sim_task *t)
{
	if (t->cpu < 0)
		return;
	struct sim_cpu *c = &s->cpus[t->cpu];
	if (task_allowed_on(s, t, c) || t->state == TS_BLOCKED)
		return;
	if (t->state == TS_QUEUED) {
		taskq_remove(&c->uq, t);
		if (!c->uq.n)
			cvm_bit_clear(s->waiting_cpus, c->id);
		t->state = TS_BLOCKED;
		task_wake(s, t);
		return;
	}
	detach(s, c, t);
	t->state = TS_BLOCKED;
	if (t->kind == TASK_VCPU && !t->vcpu->blocked)
		task_wake(s, t);
	else if (t->kind == TASK_HOST)
		task_wake(s, t);
	maybe_idle(s, c);
	kick_siblings(s, c);
}

/* ---- segment, tick and slice events ---- */

void cpu_seg_event(struct cvm_sim *s, struct sim_cpu *c, uint32_t gen)
{
	if (gen != c->seg_gen)
		return;
	switch (top(c)) {
	case L_IRQ:
		irq_done(s, c);
		break;
	case L_KTH:
		kth_done(s, c);
		break;
	case L_USER:
		if (c->curr->kind == TASK_VCPU)
			vcpu_segment_done(s, c->curr->vcpu);
		else
			host_task_segment_done(s, c, c->curr);
		break;
	default:
		break;
	}
}

void cpu_update_tick(struct cvm_sim *s, struct sim_cpu *c)
{
	unsigned int hz = s->sc->host.tick_hz;
	bool want = hz && c->online && cpu_busy(c) && !strat_tick_stopped(s, c);
	if (want && !c->tick_armed) {
		uint64_t period = 1000000000ull / hz;
		uint64_t off = (uint64_t)c->id * period / s->ncpus;
		uint64_t now = sim_now(s);
		uint64_t next = now < off ? off : ((now - off) / period + 1) * period + off;
		c->tick_armed = true;
		c->tick_gen++;
		sim_arm(s, cpu_timer(s, c->id, T_TICK), next, EV_TICK, c->id, c->tick_gen, 0);
	} else if (!want && c->tick_armed) {
		c->tick_armed = false;
		c->tick_gen++;
	}
}

void cpu_tick_event(struct cvm_sim *s, struct sim_cpu *c, uint32_t gen)
{
	if (gen != c->tick_gen)
		return;
	c->tick_armed = false;
	if (!c->online || !cpu_busy(c) || strat_tick_stopped(s, c))
		return;
	struct sim_item it = {
	        .arrival = sim_now(s),
	        .left = s->sc->host.tick_cost,
	        .src = SIM_SRC_TICK,
	};
	irq_enqueue(s, c, it);
	cpu_update_tick(s, c);
}

/* core-cookie fairness: a sibling's tasks wait because of c's task's cookie. */
static bool sibling_cookie_waits(const struct cvm_sim *s, const struct sim_cpu *c)
{
	const uint32_t *cc = core_cpus(s, c->core);
	for (unsigned int i = 0; i < s->tpc; i++)
		if (cc[i] != c->id && s->cpus[cc[i]].cookie_idle)
			return true;
	return false;
}

void cpu_slice_event(struct cvm_sim *s, struct sim_cpu *c, uint32_t gen)
{
	if (gen != c->slice_gen)
		return;
	c->slice_armed = false;
	struct sim_task *t = c->curr;
	if (!t)
		return;
	bool waiting = pick(s, c) != NULL || sibling_cookie_waits(s, c);
	if (!waiting && !strat_slice_yield(s, c))
		return;
	if (waiting)
		task_yield(s, t);
}

/* ---- host tasks ---- */

void host_task_segment_done(struct cvm_sim *s, struct sim_cpu *c, struct sim_task *t)
{
	if (t->vcpu) {
		guest_worker_done(s, t);
		return;
	}
	const struct cvm_sim_task_src *src = &s->sc->host.tasks[t->src];
	t->left = 0;
	task_block(s, t);
	t->wake_gen++;
	sim_at(s, sim_now(s) + cvm_sim_dist_draw(&src->sleep, &t->rng), EV_TASK_WAKE, t->id,
	       t->wake_gen, 0);
}

void host_task_event(struct cvm_sim *s, struct sim_task *t, uint32_t gen)
{
	if (gen != t->wake_gen || t->state != TS_BLOCKED)
		return;
	const struct cvm_sim_task_src *src = &s->sc->host.tasks[t->src];
	t->left = cvm_sim_dist_draw(&src->run, &t->rng) + s->sc->costs.ctx_switch;
	task_wake(s, t);
}

/* ---- offline / online ---- */

/* Moves the work queued on offline c to the online CPUs its sources allow (and frees q). */
static void migrate_items(struct cvm_sim *s, struct sim_cpu *c, struct sim_itemq *q)
{
	for (; q->n; itemq_pop(q)) {
		struct sim_item it = *itemq_front(q);
		if (it.src == SIM_SRC_TICK)
			continue;
		int to = it.src < SIM_SRC_SPECIAL ? noise_target(s, it.src, (int)c->id) : -1;
		if (to < 0) {
			if (it.wake)
				vcpu_wake(s, &s->vcpus[it.wake - 1]);
			continue;
		}
		bool kthread = it.src < SIM_SRC_SPECIAL && !it.bottom && !it.bottom_left &&
		               s->sc->host.noise[it.src].kind == CVM_NOISE_KTHREAD;
		if (kthread)
			kthread_enqueue(s, &s->cpus[to], it);
		else
			irq_enqueue(s, &s->cpus[to], it);
	}
	itemq_free(q);
}

void cpu_set_offline(struct cvm_sim *s, struct sim_cpu *c, bool by_strategy)
{
	if (!c->online)
		return;
	/* Whatever runs is cut short: interrupts and kernel-thread work move to other CPUs. */
	if (cpu_busy(c))
		pause_top(s, c);
	c->online = false;
	c->strat_off = by_strategy;
	c->irq_active = false;
	c->kth_active = false;
	c->kth_yielded = false;
	c->kth_gen++;
	c->held = false;
	c->held_for = NULL;
	c->forced = false;
	c->forced_by = NULL;
	c->draining = false;
	c->cookie_idle = false;
	struct sim_itemq irqs = c->irqq, kths = c->kq, defs = c->deferred;
	c->irqq = (struct sim_itemq){0};
	c->kq = (struct sim_itemq){0};
	c->deferred = (struct sim_itemq){0};
	struct sim_task *t = c->curr;
	if (t) {
		detach(s, c, t);
		t->state = TS_BLOCKED;
	}

	struct sim_taskq q = c->uq;
	c->uq = (struct sim_taskq){0};
	cvm_bit_clear(s->waiting_cpus, c->id);
	c->tick_armed = false;
	c->tick_gen++;
	c->seg_gen++;
	cpu_acct(s, c);
	/* pending softirqs and work items are taken over by other CPUs, as Linux does */
	migrate_items(s, c, &irqs);
	migrate_items(s, c, &kths);
	migrate_items(s, c, &defs);
	if (t && (t->kind == TASK_HOST || !t->vcpu->blocked))
		task_wake(s, t);
	while (q.head) {
		struct sim_task *x = q.head;
		q.head = x->next;
		x->next = NULL;
		x->state = TS_BLOCKED;
		task_wake(s, x);
	}
	kick_siblings(s, c);
	smtp_cpu_became_idle(s, c);
}

void cpu_set_online(struct cvm_sim *s, struct sim_cpu *c, bool by_strategy)
{
	if (c->online)
		return;
	c->online = true;
	c->strat_off = false;
	cpu_acct(s, c);
	strat_cpu_online(s, c); /* e.g. gang keeps it idle beside a running protected vCPU */
	cpu_release_deferred(s, c);
	if (!cpu_busy(c))
		cpu_reschedule(s, c);
	(void)by_strategy;
}

void sched_init_cpu(struct cvm_sim *s, struct sim_cpu *c)
{
	c->online = true;
	c->virt_ok = true;
	c->acct = ACCT_IDLE;
	c->acct_since = 0;
	cvm_bit_set(s->idle_map, c->id);
}
