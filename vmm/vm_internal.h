/*
 * The KVM backend's private data model (VM, vCPU, mailbox, counters), shared by
 * the files of vmm/ and by the backend's unit tests, which build these
 * structures by hand around fabricated struct kvm_run exits.
 */
#ifndef COREVM_VMM_VM_INTERNAL_H
#define COREVM_VMM_VM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "arch/x86/guest_abi.h"
#include "core/counters.h"
#include "util/ratelimit.h"
#include "vmm/irqchip.h"
#include "vmm/kvm_stats.h"
#include "vmm/seccomp_filter.h"
#include "vmm/vm.h"

/*
 * The vCPU thread's states, which are also the vCPU's public state word
 * (cvm_vm_vcpu_state(), docs/idle-work.md). One function per state in vcpu.c:
 *
 *   CREATED --thread starts--> RUNNING <------------------------------+
 *                               |  |  \                               |
 *                  KVM_RUN exit |  |   \ pre_entry: BLOCK             | exit handled,
 *                               v  |    v                             | woken, resumed
 *                            IN_VMM |  asleep: HALTED, WAIT_SIPI, -----+
 *                               |  \--|-- RESET_HOLD (irqchip BLOCK),
 *                               |     |   PAUSED (PAUSE request)
 *                 CVM_VACT_STOP |     | STOP request (from RUNNING or asleep)
 *                               v     v
 *                              EXITING  (records MP state and counters, answers the mailbox)
 *                                 |
 *                                 v
 *                               DONE
 *
 * RUNNING also covers the short stretch before KVM_RUN (mailbox, urgent work
 * check, injection); IN_VMM also covers urgent work run before re-entering.
 * In the asleep states the thread runs idle work, then sleeps. Only the vCPU's
 * own thread changes its state (seq_cst stores: docs/idle-work.md lists each
 * transition and why), never in a signal handler. Other threads read it to
 * choose between a kick (RUNNING), a wake-up (asleep) and nothing (IN_VMM:
 * the thread looks at its events and work before it enters or sleeps again),
 * and to choose a vCPU for urgent and idle work (docs/irqchip.md, "wake and
 * kick").
 */
enum cvm_vcpu_state {
	CVM_VCPU_CREATED = 0,
	CVM_VCPU_RUNNING,    /* in the guest (KVM_RUN), or about to enter it */
	CVM_VCPU_IN_VMM,     /* handling an exit, or running urgent work before re-entering */
	CVM_VCPU_HALTED,     /* asleep: the guest halted (HLT); idle work runs first */
	CVM_VCPU_WAIT_SIPI,  /* asleep: UNINITIALIZED or wait-for-SIPI (until INIT / SIPI) */
	CVM_VCPU_RESET_HOLD, /* asleep: AP reset hold (until INIT-SIPI) */
	CVM_VCPU_PAUSED,     /* asleep: paused by corevm (cvm_vm_vcpu_pause) until resumed */
	CVM_VCPU_EXITING,
	CVM_VCPU_DONE,
	CVM_VCPU_NSTATES,
};

/* The states in which the vCPU's thread runs idle work and then sleeps. */
static inline bool cvm_vcpu_state_asleep(int s)
{
	return s >= CVM_VCPU_HALTED && s <= CVM_VCPU_PAUSED;
}

const char *cvm_vcpu_state_name(enum cvm_vcpu_state s);

/* Requests posted to a vCPU's mailbox (bits). */
#define CVM_REQ_STOP     (1u << 0) /* leave the loop: the VM is ending */
#define CVM_REQ_REAFFINE (1u << 2) /* re-apply the thread's CPU set (host placement changed) */
#define CVM_REQ_PAUSE    (1u << 3) /* stop running guest code until RESUME (PAUSED) */
#define CVM_REQ_RESUME   (1u << 4) /* leave PAUSED (cancels an earlier PAUSE not yet taken) */

/*
 * A vCPU's mailbox: requesters set bits in `pending` and take a ticket; the
 * vCPU thread takes all bits at once, acts, and answers every ticket up to the
 * one it saw. `closed` once the thread is DONE: posts are then answered at once.
 */
struct cvm_mailbox {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* waiters: requesters for answers, the vCPU in PAUSED */
	atomic_uint pending;
	uint64_t posted;   /* tickets handed out (under lock) */
	uint64_t answered; /* highest ticket answered (under lock) */
	int closed;
};

#define CVM_KVM_EXIT_REASONS   64   /* exits counted per reason below this; the rest as "other" */
#define CVM_VCPU_REPORTS_KEPT  32   /* ucall reports kept per vCPU (all are counted) */
#define CVM_MMIO_PAGES_TRACKED 64   /* distinct unhandled MMIO pages counted per VM */
#define CVM_GUEST_PRINTS_MAX   256  /* guest PRINT ucalls printed on stderr per VM */
#define CVM_VCPU_TIMER_SAMPLES 64   /* local APIC timer lateness samples kept per vCPU */
#define CVM_VCPU_LAT_SAMPLES   1024 /* urgent kick-to-run samples kept per vCPU (reservoir) */

/* Work-queue counters of one vCPU thread (workq.c, vcpu.c); thread-private, read after join. */
struct cvm_vcpu_work_stats {
	uint64_t idle_items, idle_chunks; /* idle items completed / chunks run on this thread */
	uint64_t idle_overruns;           /* idle chunks that ran longer than their budget */
	uint64_t urgent_items, urgent_chunks;
	uint64_t asleep_ns;      /* in HALTED, WAIT_SIPI, RESET_HOLD, PAUSED (idle work included) */
	uint64_t idle_ns;        /* running idle chunks */
	uint64_t urgent_ns;      /* running urgent chunks */
	uint64_t kvm_halt_looks; /* kernel, split: KVM_GET_MP_STATE looks for idle work */
	uint64_t efd_signals;    /* writes to the vCPU's eventfd */
	uint64_t lat_seen;       /* urgent items timed (all of them) */
	unsigned int nlat;       /* samples in lat_ns (a uniform sample of lat_seen) */
	uint32_t lat_ns[CVM_VCPU_LAT_SAMPLES]; /* kick-to-run, ns */
	uint64_t rng;                          /* reservoir sampling */
};

struct cvm_ucall_report {
	uint64_t stage;
	uint64_t args[3];
	uint32_t line;
};

/* Written only by the vCPU's own thread; read by others after it is joined. */
struct cvm_vcpu_stats {
	uint64_t exits_total;
	uint64_t exits[CVM_KVM_EXIT_REASONS];
	uint64_t exits_other;
	uint64_t io_in, io_out; /* elements moved, string and repeated I/O counted per element */
	uint64_t io_string;     /* IO exits with count > 1 */
	uint64_t mmio_read, mmio_write;
	uint64_t eintr;    /* KVM_RUN returned EINTR (kicks, immediate_exit) */
	uint64_t eagain;   /* KVM_RUN returned EAGAIN (UNINITIALIZED AP got INIT) */
	uint64_t requests; /* mailbox request batches taken */
	uint64_t state_entries[CVM_VCPU_NSTATES];
	uint64_t halts; /* HLT seen by corevm (irqchips with sees_halts only) */
	uint64_t ipis;  /* IPIs sent (irqchips with sees_halts only) */
	/* Irqchips that own the lifecycle (owns_lifecycle), copied at thread exit. */
	struct cvm_counters lc;  /* the pure core's per-vCPU counters */
	uint64_t ipis_received;  /* IPI messages that reached this vCPU (any outcome) */
	uint64_t sleeps;         /* times the thread slept in an asleep state (irqchip block) */
	uint64_t apic_mmio;      /* xAPIC page accesses handled */
	uint64_t apic_msr;       /* x2APIC, APIC_BASE and TSC_DEADLINE MSR accesses handled */
	uint64_t msr_gp;         /* MSR accesses answered with #GP */
	uint64_t smi_dropped;    /* SMIs not delivered: no SMM with this KVM (docs/irqchip.md) */
	uint64_t apic_mmio_odd;  /* xAPIC page accesses of another size or alignment (ignored) */
	uint64_t hlt_nmi_in_kvm; /* HLTs ended at once: KVM still held an NMI corevm had given it */
	/* Protected state and the GHCB MSR protocol (docs/protected-state.md). */
	uint64_t reg_writes;   /* register sets handed to KVM (regs_gate.c), launch included */
	uint64_t first_boots;  /* protected: SIPI entries from the measured initial state */
	uint64_t sipi_resumes; /* protected: later SIPI entries (vector ignored, no register) */
	uint64_t ghcb_reads;   /* RDMSR 0xC0010130 */
	uint64_t ghcb_writes;  /* WRMSR 0xC0010130 */
	uint64_t ghcb_holds;   /* AP reset hold requests that put the vCPU in AP_RESET_HOLD */
	uint64_t ghcb_hold_ignored; /* hold requests the lifecycle refused (an INIT came first) */
	uint64_t ghcb_released;     /* hold responses set (INIT-SIPI woke the vCPU) */
	uint64_t ghcb_unsupported;  /* requests with an unknown code (answered by no response) */
	uint64_t ghcb_malformed;    /* hold requests with data bits set (refused likewise) */
	uint64_t ghcb_no_hold_mode; /* hold requests in a mode that cannot hold (split, kernel) */
	unsigned int ntimer_late;   /* samples in timer_late_ns */
	uint32_t timer_late_ns
	        [CVM_VCPU_TIMER_SAMPLES]; /* deadline -> expiry by the vCPU, first ones */
	uint64_t ucall_reports, ucall_asserts, ucall_prints, ucall_done, ucall_bad;
	unsigned int nreports_kept;
	struct cvm_ucall_report report[CVM_VCPU_REPORTS_KEPT];
	int mp_state;                 /* KVM_GET_MP_STATE when the thread ended; -1 unknown */
	uint64_t kvm[CVM_KVM_NSTATS]; /* KVM's own counters when the thread ended */
	uint32_t kvm_found;           /* bit i: kvm[i] was read */
	struct cvm_vcpu_work_stats work;
};

/* struct cvm_vcpu.work_req: asks the vCPU's thread to look at the work queue (kernel, split). */
#define CVM_WREQ_IDLE_LOOK 1u /* KVM may hold this vCPU halted: look, run idle work */
#define CVM_WREQ_SIGNAL    2u /* the sampler saw it leave a halt: write its eventfd */

struct cvm_vcpu {
	struct cvm_vm *vm;
	unsigned int index; /* also the vCPU id and the initial APIC ID */
	int fd;
	struct kvm_run *run;
	size_t run_size; /* bytes mapped at run: exit data must lie inside */
	pthread_t thread;
	int thread_started;
	atomic_int state; /* enum cvm_vcpu_state; written by the vCPU thread only */
	struct cvm_mailbox mbox;
	void *irqchip_data;  /* per-vCPU state of the irqchip mode */
	atomic_int tid;      /* the vCPU thread's kernel id, set by the thread (0 before) */
	bool reeval;         /* vCPU thread only: kicked or woken, the irqchip must look again */
	uint8_t sleep_state; /* vCPU thread only: the asleep state a BLOCK means (irqchip sets it) */
	bool kvm_woke;       /* vCPU thread only (kernel, split idle work): KVM says runnable */
	bool kvm_exit_pending;    /* vCPU thread only: a look's KVM_RUN returned an exit */
	uint64_t kvm_look_chunks; /* vCPU thread only: idle chunks run at the last look */
	atomic_uint work_req;     /* CVM_WREQ_*: set by any thread, taken by the vCPU's thread */
	_Atomic uint64_t kicks;   /* kicks sent to this thread, counted before the signal */
	_Atomic uint64_t entries; /* KVM_RUN calls that may run the guest (seq_cst, before each) */
	_Atomic uint64_t run_eintr; /* KVM_RUN returned EINTR: a kick ended it (counted at once,
	                               for the halt sampler) */
	_Atomic uint64_t wakeups; /* the thread left HALTED, WAIT_SIPI or RESET_HOLD for RUNNING */
	struct cvm_vcpu_wq *wq;   /* this vCPU's work lists (workq.c); NULL in hand-made VMs */
	int efd;                  /* the poll()-able eventfd once efd_on (cvm_vm_vcpu_eventfd) */
	atomic_bool efd_on;       /* set once (release, after efd), under the work queue's lock */
	int stats_fd;             /* kernel, split: KVM's statistics (blocking) when stats_on */
	bool stats_on;
	uint64_t stats_off; /* file offset of KVM's `blocking` counter in stats_fd */
	uint64_t ghcb_msr;  /* vCPU thread only: the GHCB MSR (0xC0010130) as the guest reads it */
	/* Register writes refused after launch: the vCPU's thread counts, stats read after join. */
	atomic_uint_least64_t reg_refused;
	/* Its seccomp filter, built by cvm_vcpu_start() and loaded by the thread (then freed). */
	struct cvm_seccomp_prog sc_prog;
	struct cvm_vcpu_stats stats;
};

/*
 * KVM ioctls the irqchip modes issue on the exit path (KVM_INTERRUPT, KVM_NMI,
 * register and MSR access, KVM_SIGNAL_MSI...) go through vm->ioctl so that unit
 * tests can record them. Returns the ioctl's result or -errno.
 */
typedef int (*cvm_ioctl_fn)(int fd, unsigned long req, void *arg);
int cvm_kvm_ioctl(int fd, unsigned long req, void *arg);

struct cvm_mmio_page {
	uint64_t page; /* guest-physical address >> 12 */
	uint64_t reads, writes;
};

/* The console's transmit buffer is written out when full (under the device lock). */
#define CVM_CONSOLE_CAP     4096
#define CVM_CONSOLE_RX_CAP  4096
#define CVM_CONSOLE_IDLE_NS 5000000ull /* flush after the guest stops writing for this long */

struct cvm_console {
	/* Transmit, under the device lock. */
	uint8_t tx[CVM_CONSOLE_CAP];
	size_t tx_len;
	uint64_t tx_bytes, tx_lost; /* lost: stdout failed (closed pipe) */
	int out_fd;                 /* stdout */
	/* Receive (main thread reads stdin; pushes under the device lock). */
	cvm_rx_push_fn rx_push;
	void *rx_ctx;
	uint8_t rx[CVM_CONSOLE_RX_CAP];
	size_t rx_len;
	atomic_int rx_ready; /* the guest drained the UART: offer rx[] again */
	uint64_t rx_bytes;
};

/* --mwait: what was asked, what KVM offers, what the guest gets (vm.c). */
struct cvm_mwait {
	enum cvm_mwait_policy asked;
	int disable_exits;    /* KVM_CAP_X86_DISABLE_EXITS: the exits KVM can leave to the guest */
	bool cpuid_mwait;     /* KVM's supported CPUID has MONITOR/MWAIT (CPUID.1:ECX[3]) */
	const char *in_force; /* "native", "nop" (offered, KVM's NOP), "not-offered" */
};

struct cvm_vm {
	int kvm_fd, vm_fd;
	unsigned int ncpus;
	unsigned int max_cpus; /* KVM_CAP_MAX_VCPUS */
	struct cvm_gmem gmem;
	const char *boot_name;
	const struct cvm_irqchip_ops *irqchip;
	void *irqchip_data;
	cvm_ioctl_fn ioctl;    /* cvm_kvm_ioctl, or a test's recorder */
	struct cvm_vcpu *vcpu; /* [ncpus] */
	size_t run_size;

	/* Devices: everything below up to `end` is under dev_lock. */
	pthread_mutex_t dev_lock;
	cvm_pio_fn pio;
	void *pio_ctx;
	struct cvm_mmio_page mmio[CVM_MMIO_PAGES_TRACKED];
	unsigned int nmmio;
	uint64_t mmio_untracked; /* accesses to pages beyond the tracked ones */
	struct cvm_console con;

	/* How the VM ends: the first cvm_vm_request_end() wins. */
	atomic_int end_status; /* -1 while running */
	char end_why[96];      /* written by the winner before end_status is published */
	atomic_int end_claimed;
	int wake_fd; /* eventfd: main thread wake-up (end requested, console has data) */

	atomic_uint prints_left;         /* guest PRINT ucalls still allowed on stderr */
	atomic_ullong prints_suppressed; /* guest PRINT ucalls not printed (budget spent) */
	atomic_int irq_errors;           /* KVM_IRQ_LINE failures already reported */
	struct timespec t_start, t_end;
	int threads_stuck; /* vCPU threads that did not stop in time */
	cvm_stats_fn stats_hook;
	void *stats_hook_ctx;
	struct cvm_place_ctl *placement; /* host/place_ctl.h, or NULL: no placement */
	/* Protected register state (docs/protected-state.md, vmm/regs_gate.h). */
	bool protected_state;
	atomic_bool launched;             /* set by cvm_vm_run() before any vCPU thread starts */
	struct cvm_ratelimit reg_log;     /* "corevm bug" lines of refused register writes */
	struct cvm_ratelimit ghcb_log;    /* lines about unsupported GHCB MSR requests */
	atomic_int housekeeping_reaffine; /* the main thread must re-apply its CPU set */
	struct cvm_workq *wq;             /* idle, urgent and background work (workq.c) */
	pthread_t run_thread;             /* cvm_vm_start() */
	void *run_ctx;
	struct cvm_mwait mwait;  /* --mwait: asked for, offered by KVM, in force */
	struct cvm_probe *probe; /* time stamps for `corevm calibrate` (calibrate.c), else NULL */

	/* seccomp (docs/seccomp.md): each thread installs its class's filter. */
	bool seccomp;
	int signal_fd;                                    /* the main thread's signalfd, -1 */
	atomic_int seccomp_rules[CVM_THREAD_NCLASSES];    /* rules installed per class (0: none) */
	atomic_int seccomp_syscalls[CVM_THREAD_NCLASSES]; /* distinct system calls per class */
	/*
	 * The start gate: vCPU threads, once their filter is in (or their set-up
	 * failed), check in and wait here; the main thread installs its own filter,
	 * waits until every started vCPU thread has checked in, then opens it: no
	 * guest code runs before every filter is in place. Open except during
	 * cvm_vm_run()'s start.
	 */
	pthread_mutex_t gate_lock;
	pthread_cond_t gate_cond;
	bool gate_open;
	unsigned int gate_arrived; /* vCPU threads that checked in */
};

/* ---- run.c: the start gate ---- */
/* A vCPU thread checks in (its filter is in, or it will not enter the guest) and waits. */
void cvm_vm_gate_wait(struct cvm_vm *vm);

/* ---- vcpu.c ---- */
/* On a vCPU thread, its vCPU; NULL on every other thread. */
extern _Thread_local struct cvm_vcpu *cvm_self_vcpu;
int cvm_vcpu_start(struct cvm_vcpu *vcpu);
/* Posts `req` and kicks the thread; returns the ticket to wait for. */
uint64_t cvm_vcpu_post(struct cvm_vcpu *vcpu, unsigned int req);
/* Waits until `ticket` is answered or the absolute CLOCK_REALTIME deadline passes: 0 or -ETIMEDOUT. */
int cvm_vcpu_wait_answer(struct cvm_vcpu *vcpu, uint64_t ticket, const struct timespec *deadline);
/* Kicks the vCPU out of KVM_RUN: immediate_exit, a fence, then the kick signal. Any thread. */
void cvm_vcpu_kick(struct cvm_vcpu *vcpu);
/*
 * Writes 1 to the vCPU's eventfd if it has one (cvm_vm_vcpu_eventfd): the
 * vCPU became runnable (vm.h gives the rules each irqchip follows).
 */
void cvm_vcpu_signal_runnable(struct cvm_vcpu *vcpu);
/* The kick signal (per-thread host timers send it too). */
int cvm_vcpu_kick_signal(void);
/* Once per process, before any vCPU thread starts: kick-signal handler and masks. */
int cvm_vcpu_signals_init(void);
void cvm_mailbox_init(struct cvm_mailbox *mb);
void cvm_mailbox_destroy(struct cvm_mailbox *mb);

/*
 * ---- calibrate.c: time stamps of the backend's own paths ----
 * Only `corevm calibrate` sets vm->probe (vmm/calibrate.h); in every other VM
 * each hook is one branch. A hook runs on the thread said, reads the clock and
 * stores a number: no lock, no system call besides clock_gettime.
 */
struct cvm_probe;
void __cvm_probe_entry(struct cvm_vcpu *v);           /* v's thread, right before KVM_RUN */
void __cvm_probe_return(struct cvm_vcpu *v, int err); /* v's thread: KVM_RUN gave 0 or errno err */
void __cvm_probe_kick(struct cvm_vcpu *v); /* any thread: v is kicked (before the signal) */
void __cvm_probe_wake(struct cvm_vcpu *v); /* any thread: v's sleep is ended (before the wake) */

static inline bool cvm_probing(const struct cvm_vcpu *v)
{
	return __builtin_expect(v->vm && v->vm->probe, 0);
}

/* ---- placement.c: host placement in the vCPU threads (no-ops without a controller) ---- */
/* Sets the calling vCPU thread's CPU set; false when the VM must stop (already requested). */
bool cvm_vcpu_place(struct cvm_vcpu *vcpu);
/* A guest entry failed in a way the host CPU causes: CONTINUE to run again, or STOP. */
enum cvm_vcpu_action cvm_vcpu_entry_failed(struct cvm_vcpu *vcpu, int status, const char *why,
                                           const char *what);

/* ---- exit.c: one KVM exit, decoded and dispatched (no allocation, no JSON) ---- */
enum cvm_vcpu_action cvm_vcpu_handle_exit(struct cvm_vcpu *vcpu);
/* The handlers it uses, exposed for unit tests. */
enum cvm_vcpu_action cvm_exit_io(struct cvm_vcpu *vcpu, struct kvm_run *run);
enum cvm_vcpu_action cvm_exit_mmio(struct cvm_vcpu *vcpu, struct kvm_run *run);
const char *cvm_kvm_exit_name(uint32_t reason);

/* ---- ucall.c ---- */
/* A 32-bit OUT of `value` to CVM_PORT_UCALL: validates and acts on the ucall. */
enum cvm_vcpu_action cvm_ucall_handle(struct cvm_vcpu *vcpu, unsigned int size, uint32_t count,
                                      uint32_t value);

/* ---- console.c ---- */
/* Writes out everything queued so far; device lock held by the caller. */
void cvm_console_flush_locked(struct cvm_vm *vm);
/* The same, taking the device lock. */
void cvm_console_flush(struct cvm_vm *vm);

/* ---- stats.c ---- */
struct json_object;
struct json_object *cvm_vm_stats_json(struct cvm_vm *vm);

#endif
