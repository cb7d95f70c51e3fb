/*
 * The `user` irqchip's data model, shared by irqchip_user.c, its host timers
 * (apic_timer_*.c) and the unit tests, which build these around fabricated
 * struct kvm_run exits. docs/irqchip.md explains the locking and the wake and
 * kick protocol; in short:
 *
 *   - struct cvm_uvcpu.lock (one per vCPU) protects that vCPU's local APIC,
 *     lifecycle state, core counters, `dead` and ipis_received. Any thread may
 *     take it (IPI acceptance, I/O APIC delivery); nobody holds two of them.
 *   - struct cvm_uchip.bus_lock (read-mostly) protects the routing view:
 *     readers resolve a message into a target set and drop it before taking any
 *     vCPU lock; a writer publishes one vCPU's new identity (ID, LDR, DFR,
 *     mode) while it holds that vCPU's lock (the vCPU itself, or the sender of
 *     an INIT that resets an asleep AP's local APIC).
 *   - The vCPU's own thread is the only one that runs cvm_lc_next(), carries
 *     out actions (registers, KVM_INTERRUPT, KVM_NMI) and changes its timer.
 *
 * Lock order: device lock -> I/O APIC lock -> bus lock (read, dropped) -> one
 * vCPU lock -> bus lock (write). Nobody takes a vCPU lock with the bus lock held.
 */
#ifndef COREVM_VMM_IRQCHIP_USER_H
#define COREVM_VMM_IRQCHIP_USER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/apic_bus.h"
#include "core/lapic.h"
#include "core/lifecycle.h"
#include "core/x86_reset.h"
#include "vmm/ioapic_user.h"
#include "vmm/vm_internal.h"

/* Host clocks behind the local APIC timers (apic_timer_vcpu.c, apic_timer_thread.c). */
struct cvm_apic_timer_ops {
	const char *name;
	int (*create)(struct cvm_vm *vm);       /* main thread, after the vCPUs exist */
	void (*destroy)(struct cvm_vm *vm);     /* after every vCPU thread is joined */
	int (*thread_init)(struct cvm_vcpu *v); /* on the vCPU thread */
	void (*thread_exit)(struct cvm_vcpu *v);
	/*
	 * On the vCPU thread: the APIC's next deadline is now `deadline_ns`
	 * (CVM_NO_DEADLINE: none). The host clock must make the vCPU re-evaluate
	 * (kick or wake it) at or after that time; a spurious wake is harmless.
	 */
	void (*arm)(struct cvm_vcpu *v, uint64_t deadline_ns, uint64_t now_ns);
	/* Whether a sleeping vCPU wakes itself at its deadline (futex timeout) or is woken. */
	bool sleep_timeout;
};

extern const struct cvm_apic_timer_ops cvm_apic_timer_vcpu_ops;
extern const struct cvm_apic_timer_ops cvm_apic_timer_thread_ops;

/*
 * Periodic local APIC timers expire at most once per this many ns (the ticks
 * in between fold into the next expiry, counted as timer_missed): a guest's
 * 1 ns period would otherwise keep its vCPU thread re-arming and taking its
 * host timer instead of running the guest. KVM's own APIC has the same floor
 * (min_timer_period_us, 200 us by default). docs/irqchip.md, docs/limits.md.
 */
#define CVM_UCHIP_MIN_TIMER_PERIOD_NS 200000u

/* Environment variable choosing the timer strategy ("vcpu" or "thread"; docs/irqchip.md). */
#define CVM_APIC_TIMER_ENV "COREVM_APIC_TIMER"

/* Per vCPU. Aligned so that two vCPUs' locks never share a cache line. */
struct cvm_uvcpu {
	/* Under `lock`. */
	pthread_mutex_t lock;
	struct cvm_lapic lapic;
	struct cvm_lc lc;
	struct cvm_counters ctr;
	uint64_t ipis_received;
	bool dead; /* asleep where only NMI/SMI/INIT/SIPI could wake it (deadlock check) */
	bool apic_reset_by_sender; /* an INIT's local APIC reset is done (init_without_wake) */

	/* Lock-free. */
	atomic_uint events;      /* something was accepted since the vCPU last looked */
	atomic_uchar apr;        /* arbitration priority shadow (lowest-priority delivery) */
	_Atomic uint64_t due_ns; /* timer thread strategy: when to kick this vCPU */

	/* vCPU thread only. */
	bool intr_wait;  /* an interrupt waits for the window (request_interrupt_window set) */
	bool nmi_in_kvm; /* KVM_NMI was issued and KVM may still hold that NMI */
	bool parked;     /* parked_dbg holds KVM's debug registers: no entry since */
	struct kvm_debugregs parked_dbg;
	uint64_t sleep_until; /* the timer deadline when it last decided to sleep */
	bool regs_valid;      /* `regs` holds the state last loaded for INIT/SIPI */
	bool regs_dirty;      /* `regs` is still to be handed to KVM (before the next KVM_RUN) */
	struct cvm_x86_regs regs;
	uint64_t armed_ns; /* vcpu timer strategy: when the host timer fires, or CVM_NO_DEADLINE */
	timer_t htimer;    /* vcpu timer strategy */
	bool has_htimer;
	uint32_t cpuid1_eax;    /* RDX after INIT */
	uint64_t kvm_apic_base; /* IA32_APIC_BASE as KVM holds it (drives CPUID.1:EDX.APIC) */
} __attribute__((aligned(64)));

/* Per VM. */
struct cvm_uchip {
	pthread_rwlock_t bus_lock;
	struct cvm_apic_bus bus;
	struct cvm_vioapic ioapic;
	struct cvm_uvcpu *v;         /* [ncpus] */
	atomic_uint ndead;           /* vCPUs with `dead` set */
	_Atomic uint32_t *sleep_seq; /* [ncpus / 32 + 1]: futex words sleeping vCPUs wait on */
	uint32_t tsc_khz;
	bool sync_regs; /* KVM_CAP_SYNC_REGS: INIT/SIPI general registers ride on KVM_RUN */
	const struct cvm_apic_timer_ops *timer;
	/* Timer thread strategy. */
	pthread_t timer_thread;
	bool timer_thread_started;
	_Atomic uint32_t timer_seq;  /* futex word: bumped to wake the timer thread */
	_Atomic uint64_t timer_next; /* when the timer thread wakes next (CVM_NO_DEADLINE: never) */
	atomic_bool timer_stop;
	/* Futex word: 0 until the timer thread's filter is in, then 1 (or -errno, failed). */
	_Atomic uint32_t timer_ready;
	struct cvm_seccomp_prog timer_prog; /* its filter, built by thread_create */
};

static inline struct cvm_uchip *cvm_uchip(const struct cvm_vm *vm)
{
	return vm->irqchip_data;
}

static inline struct cvm_uvcpu *cvm_uvcpu(const struct cvm_vcpu *v)
{
	return v->irqchip_data;
}

/* CLOCK_MONOTONIC in ns: the clock of every local APIC timer. */
uint64_t cvm_uchip_now(void);

/*
 * Tells vCPU `v` that something concerns it (an event was accepted, its timer
 * is due): sets its events flag and, if it is in the guest or asleep and
 * nobody else has done so since it last looked, kicks it (in the guest) or
 * wakes it (asleep). Any thread, no vCPU lock needed.
 */
void cvm_uchip_notify(struct cvm_vcpu *v);

/*
 * Builds the per-VM and per-vCPU state for fabricated VMs (unit tests): what
 * create and vcpu_init do minus every ioctl. `vm->ncpus` and `vm->vcpu` must be
 * set. Returns 0 or -errno.
 */
int cvm_uchip_setup(struct cvm_vm *vm, uint32_t tsc_khz);
/* vCPU v's local APIC (x2APIC offered or not, MAXPHYADDR, CPUID.1:EAX) and lifecycle at power-on. */
void cvm_uchip_vcpu_setup(struct cvm_vcpu *v, bool is_bsp, bool x2apic, uint8_t phys_bits,
                          uint32_t cpuid1_eax);

#endif
