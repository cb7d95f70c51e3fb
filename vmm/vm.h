/*
 * The KVM backend's public API: guest RAM, VM and vCPU set-up, running a guest to
 * its end, and the results (exit status, statistics) the CLI reports.
 *
 * Call order: cvm_ram_map() -> (load the image into the gmem) -> cvm_vm_create()
 * -> cvm_vm_set_pio() -> cvm_vm_run() -> cvm_vm_write_stats() -> cvm_vm_destroy()
 * -> cvm_ram_unmap(). Only cvm_vm_request_end(), cvm_vm_set_irq() and
 * cvm_vm_console_*() may be called from device callbacks (any thread).
 */
#ifndef COREVM_VMM_VM_H
#define COREVM_VMM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/gmem.h"
#include "loader/loader.h"

#define CVM_VM_MAX_CPUS 4096 /* corevm's own ceiling; KVM's (KVM_CAP_MAX_VCPUS) is checked too */

/* Where /dev/kvm is; the environment variable overrides it (tests use it). */
#define CVM_KVM_DEV_DEFAULT "/dev/kvm"
#define CVM_KVM_DEV_ENV     "COREVM_KVM_DEV"

enum cvm_irqchip_mode {
	CVM_IRQCHIP_KERNEL = 0, /* KVM's in-kernel local APICs, I/O APIC and PIC */
	CVM_IRQCHIP_SPLIT,      /* KVM's local APICs, corevm's I/O APIC (KVM_CAP_SPLIT_IRQCHIP) */
	CVM_IRQCHIP_USER,       /* corevm's local APICs and I/O APIC: corevm owns INIT, SIPI, HLT */
};

/* "kernel", "split", "user". */
const char *cvm_irqchip_mode_name(enum cvm_irqchip_mode m);

/*
 * What the guest's MWAIT should do (--mwait, docs/idle-work.md). corevm probes
 * what KVM offers when the VM is created: `native` needs KVM to let MWAIT run in
 * the guest (KVM_CAP_X86_DISABLE_EXITS with MWAIT) and is refused without it;
 * the others need MONITOR/MWAIT in KVM's supported CPUID (to offer it to the
 * guest) and, for `yield` and `exit`, KVM support that no upstream KVM has. What
 * is unavailable is said in one line, with what corevm does instead.
 */
enum cvm_mwait_policy {
	CVM_VM_MWAIT_DEFAULT = 0, /* not asked for: MWAIT is offered only if KVM offers it */
	CVM_VM_MWAIT_NATIVE,      /* MWAIT runs in the guest (the vCPU really waits, no exit) */
	CVM_VM_MWAIT_NOP,         /* MWAIT exits to KVM, which treats it as NOP: the guest polls */
	CVM_VM_MWAIT_YIELD,       /* as nop, and KVM yields the host CPU at each MWAIT */
	CVM_VM_MWAIT_EXIT,        /* MWAIT exits to corevm, which runs idle work and re-enters */
};

/* "default", "native", "nop", "yield", "exit". */
const char *cvm_mwait_policy_name(enum cvm_mwait_policy p);

/* ---- guest RAM ---- */

/*
 * Guest-physical layout of `size` bytes of RAM (see arch/x86/guest_abi.h): RAM
 * below CVM_GUEST_MMIO_HOLE_START starts at 0, the rest starts at 4 GiB. Pure:
 * fills gm with hva offsets from `base` (base may be NULL for a dry run).
 */
void cvm_ram_layout(uint64_t size, uint8_t *base, struct cvm_gmem *gm);

/*
 * Maps `size` bytes (a multiple of 4 KiB, > 0) of anonymous, never pre-touched
 * memory (MAP_NORESERVE) and describes it in *gm. Returns 0 or -errno.
 */
int __cvm_ram_map(uint64_t size, struct cvm_gmem *gm);
int cvm_ram_map(uint64_t size, struct cvm_gmem *gm);
void cvm_ram_unmap(struct cvm_gmem *gm);

/* ---- the VM ---- */

struct cvm_vm;

struct cvm_vm_config {
	unsigned int ncpus; /* 1..KVM_CAP_MAX_VCPUS */
	enum cvm_irqchip_mode irqchip;
	const struct cvm_gmem *gmem; /* from cvm_ram_map(); must outlive the VM */
	const char *kvm_dev;         /* NULL: $COREVM_KVM_DEV, else /dev/kvm */
	const char *boot_name;       /* shown in statistics ("multiboot", "pvh"); may be NULL */
	enum cvm_mwait_policy mwait; /* --mwait (CVM_VM_MWAIT_DEFAULT: not asked for) */
	unsigned int work_capacity;  /* items each work-queue priority holds; 0: the default */
	/*
	 * Protected register state (docs/protected-state.md): from launch on, no
	 * register of any vCPU is written (refused and counted as a corevm bug);
	 * every AP starts from the image's AP initial-state note (entry->ap_init,
	 * required with more than one vCPU) on its first INIT-SIPI-SIPI. Needs
	 * CVM_IRQCHIP_USER.
	 */
	bool protected_state;
	/*
	 * Each thread installs its class's seccomp filter (docs/seccomp.md) before the
	 * first guest entry: vCPU threads and the main thread in cvm_vm_run(), host
	 * placement's threads when they start. false (the zero value): no filters.
	 */
	bool seccomp;
};

/*
 * A port I/O handler for everything but the ucall port (which the backend owns).
 * Called with the VM's device lock held, once per element of a string or
 * repeated access; `size` is 1, 2 or 4. For reads, *val is pre-set to all ones.
 * `vcpu` is the index of the vCPU doing the access.
 */
typedef void (*cvm_pio_fn)(void *ctx, unsigned int vcpu, uint16_t port, unsigned int size,
                           bool is_write, uint32_t *val);

/*
 * Opens the KVM device, checks the API version and capabilities, creates the VM,
 * its memory slots, irqchip, vCPUs (the BSP, vCPU 0, is set to `entry`; the
 * others wait for INIT-SIPI-SIPI; with cfg->protected_state they hold the
 * state of entry->ap_init) and work queue. Reports failures with one line.
 * Returns 0, -ENODEV/-EACCES (no usable KVM device), -E2BIG (too many vCPUs),
 * -ENOTSUP (protected state in a mode or image that cannot have it, an --mwait
 * policy or irqchip mode this KVM cannot give), or -errno.
 */
int cvm_vm_create(const struct cvm_vm_config *cfg, const struct cvm_boot_entry *entry,
                  struct cvm_vm **out);

/* Installs the port I/O handler (before cvm_vm_run). Without one, every port is unhandled. */
void cvm_vm_set_pio(struct cvm_vm *vm, cvm_pio_fn fn, void *ctx);

/* The device lock, for devices touched outside vCPU exits (e.g. UART receive). */
void cvm_vm_lock_devices(struct cvm_vm *vm);
void cvm_vm_unlock_devices(struct cvm_vm *vm);

/*
 * Asks the VM to end with process exit status `status`; `why` is a short phrase
 * kept for statistics ("debug-exit", "triple fault"...). The first request
 * wins; later ones are ignored. Thread-safe, never blocks; returns true when
 * this request won.
 */
bool cvm_vm_request_end(struct cvm_vm *vm, int status, const char *why);

/* Drives interrupt line `irq` (0..23) to `level`; thread-safe. Returns 0 or -errno. */
int cvm_vm_set_irq(struct cvm_vm *vm, unsigned int irq, int level);

/* ---- console: UART transmit to stdout, receive from stdin ---- */

/*
 * Queues one transmitted byte for stdout. Called with the device lock held (from
 * the UART's transmit callback). Output is byte-exact and never dropped: it is
 * flushed when the buffer fills, when the guest stops writing for a moment, and
 * when the VM ends.
 */
void cvm_vm_console_put(struct cvm_vm *vm, uint8_t byte);

/*
 * Receive path: once the VM runs, bytes read from stdin (when it is a terminal
 * or a pipe) are offered to `push` with the device lock held; push returns how
 * many bytes it accepted. Bytes not accepted are offered again after the guest
 * reads (call cvm_vm_console_rx_ready(), device lock held) and no more is read
 * from stdin meanwhile (bounded buffering).
 */
typedef unsigned int (*cvm_rx_push_fn)(void *ctx, const uint8_t *buf, unsigned int len);
void cvm_vm_console_set_rx(struct cvm_vm *vm, cvm_rx_push_fn push, void *ctx);
void cvm_vm_console_rx_ready(struct cvm_vm *vm);

/* ---- running ---- */

struct cvm_run_opts {
	uint64_t timeout_ns; /* 0: none */
	bool console_rx;     /* read stdin when it is a terminal or a pipe */
};

/*
 * Starts one thread per vCPU and waits for the guest's end, SIGINT/SIGTERM,
 * the timeout, or a fatal error; then stops and joins every thread (with a
 * timeout; a thread that does not stop is reported). Returns the process exit
 * status (enum cvm_exit_status or a debug-exit value). Call once.
 */
int cvm_vm_run(struct cvm_vm *vm, const struct cvm_run_opts *opts);

/*
 * The same as cvm_vm_run(), on a new thread, for programs that drive a running
 * VM from their own thread (submit work, poll vCPUs): cvm_vm_start() returns
 * once the thread exists (0 or -errno, reported); cvm_vm_join() waits for the
 * VM's end and returns cvm_vm_run()'s status. `opts` is copied. Call each once.
 */
int cvm_vm_start(struct cvm_vm *vm, const struct cvm_run_opts *opts);
int cvm_vm_join(struct cvm_vm *vm);

/* ---- vCPUs seen from other threads (docs/idle-work.md) ---- */

/*
 * The public state of vCPU `i`: one word that its thread stores (seq_cst) at
 * every change and any thread may read at any time (the thread's own state
 * machine, vmm/vm_internal.h, mapped to these stable names). A snapshot: it
 * may change as soon as it is read.
 */
enum cvm_vcpu_pub_state {
	CVM_VS_NOT_STARTED = 0,
	CVM_VS_IN_GUEST,   /* inside KVM_RUN, or about to enter it */
	CVM_VS_IN_VMM,     /* corevm handles an exit or runs urgent work */
	CVM_VS_HALTED,     /* the guest halted; corevm's thread runs idle work or sleeps */
	CVM_VS_WAIT_SIPI,  /* UNINITIALIZED or wait-for-SIPI, asleep in corevm */
	CVM_VS_RESET_HOLD, /* AP reset hold, asleep in corevm */
	CVM_VS_PAUSED,     /* paused by cvm_vm_vcpu_pause() */
	CVM_VS_STOPPING,   /* the thread is ending */
	CVM_VS_STOPPED,
};
enum cvm_vcpu_pub_state cvm_vm_vcpu_state(const struct cvm_vm *vm, unsigned int i);
const char *cvm_vcpu_pub_state_name(enum cvm_vcpu_pub_state s); /* "in-guest", ... */

/*
 * Whether vCPU `i` is idle inside the guest: with KVM's local APICs (kernel,
 * split) KVM halts a vCPU inside KVM_RUN, and this reads KVM's `blocking`
 * statistic (one pread, about 0.5 us); with corevm's (user) a halted vCPU is
 * never in the guest and this is false. Any thread.
 */
bool cvm_vm_vcpu_guest_idle(const struct cvm_vm *vm, unsigned int i);

/*
 * A poll()-able vCPU: an eventfd (EFD_NONBLOCK, counter) that corevm writes 1
 * to exactly when vCPU `i` becomes runnable after being unable to run:
 *   - user irqchip: when the pure core moves the vCPU's MP state from HALTED,
 *     UNINITIALIZED, INIT_RECEIVED, SIPI_RECEIVED or AP_RESET_HOLD to RUNNABLE
 *     (a deliverable interrupt, NMI, SMI or INIT at a HLT, a SIPI, INIT-SIPI of
 *     a hold), written by the vCPU's own thread as it carries that out, before
 *     it re-enters the guest. Never for: an event that leaves it unable to run
 *     (an interrupt held by IF=0, TPR or PPR, INIT to a waiting AP), a vCPU that
 *     was running, a kick or work item, a timer expiry that delivers nothing.
 *   - kernel, split irqchip: KVM moves the MP state inside KVM_RUN and tells
 *     nobody; corevm writes 1 when it sees the vCPU leave a halt without a kick
 *     of corevm's in between: its worker samples KVM's `blocking` statistic
 *     every CVM_WORKQ_SAMPLE_NS while an eventfd or idle work needs it and
 *     signals a vCPU seen blocking at one look and out of its halt at the next
 *     two (a halt shorter than about two looks may go unseen; the vCPU's own
 *     thread writes it, after a kick), or the vCPU's thread reads RUNNABLE
 *     with KVM_GET_MP_STATE after it found the vCPU halted (idle work).
 * Reading the eventfd resets it; corevm never reads it. Any thread, any time
 * (asking again gives the same fd), except that a VM with seccomp filters
 * names each eventfd in its vCPU's filter: then call it before cvm_vm_run()
 * (later: -EBUSY, reported). The fd belongs to the VM (closed by
 * cvm_vm_destroy()). Returns the fd, or -errno (reported; -EINVAL: no such vCPU).
 */
int cvm_vm_vcpu_eventfd(struct cvm_vm *vm, unsigned int i);

/*
 * Pause / resume vCPU `i` (any thread, while the VM runs): a paused vCPU runs
 * no guest code; its thread stays PAUSED (and runs work) until resumed or the
 * VM ends. Asynchronous: the request is posted and the thread kicked or woken;
 * cvm_vm_vcpu_state() shows when it is taken. Resume cancels a pause not yet
 * taken. Returns 0, or -EINVAL for a bad index.
 */
int cvm_vm_vcpu_pause(struct cvm_vm *vm, unsigned int i);
int cvm_vm_vcpu_resume(struct cvm_vm *vm, unsigned int i);

/*
 * Lets the machine's owner of the I/O bus add its entries (e.g. unhandled ports)
 * to the "vm" object of the statistics; called from cvm_vm_write_stats().
 */
struct json_object;
typedef void (*cvm_stats_fn)(void *ctx, struct json_object *vm_obj);
void cvm_vm_set_stats_hook(struct cvm_vm *vm, cvm_stats_fn fn, void *ctx);

/*
 * Connects host placement (host/place_ctl.h, docs/placement.md): each vCPU thread
 * applies and verifies its CPU set when it starts and on every re-placement
 * (a REAFFINE mailbox request), guest-entry failures (KVM_EXIT_FAIL_ENTRY, KVM_RUN
 * EIO) quarantine the CPU and retry, the main thread keeps to the housekeeping
 * CPUs, and --stats gets a "placement" object. Starts the controller's hotplug
 * listener and prober. Call after cvm_vm_create() and before cvm_vm_run(); `ctl`
 * must outlive the VM's threads. Returns 0 or -errno (reported).
 */
struct cvm_place_ctl;
int cvm_vm_set_placement(struct cvm_vm *vm, struct cvm_place_ctl *ctl);

/* Writes the statistics as JSON (schema: docs/stats.md). Returns 0 or -errno (reported). */
int cvm_vm_write_stats(struct cvm_vm *vm, const char *path);

/*
 * The same to `fd`, opened by the caller before cvm_vm_run() (the main thread's
 * seccomp filter allows no open); `name` is for messages. Does not close fd.
 */
int cvm_vm_write_stats_fd(struct cvm_vm *vm, int fd, const char *name);

/* What ended the VM (see docs/stats.md, "exit_cause"); "" while it runs. */
const char *cvm_vm_end_cause(const struct cvm_vm *vm);

/* vCPU threads that did not stop when cvm_vm_run() returned (then nothing may be freed). */
int cvm_vm_stuck_threads(const struct cvm_vm *vm);

/* Frees the VM. Safe on NULL. Does not unmap the guest RAM (the caller owns it). */
void cvm_vm_destroy(struct cvm_vm *vm);

#endif
