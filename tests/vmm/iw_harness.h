/*
 * In-process harness for the idlework guest (guest/idlework.h): boots it on a
 * VM of the vmm library, runs the VM on its own thread (cvm_vm_start), and gives
 * the test or benchmark the shared page, commands, interrupt pulses and bounded
 * waits on events. Used by tests/vmm/test_idle_work.c and bench/idle.
 */
#ifndef COREVM_TESTS_VMM_IW_HARNESS_H
#define COREVM_TESTS_VMM_IW_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/gmem.h"
#include "guest/idlework.h"
#include "vmm/vm.h"

struct cvm_board;

struct iw_vm {
	struct cvm_gmem gm;
	struct cvm_vm *vm;
	struct cvm_board *board;
	struct idlework_shared *sh; /* the guest's shared page */
	unsigned int ncpus;
	uint64_t seq[IDLEWORK_MAX_CPUS]; /* last command sequence number per vCPU */
	int efd[IDLEWORK_MAX_CPUS];      /* the vCPUs' eventfds asked for in iw_opts.efd_mask, -1 */
	bool running, ended;
	int status; /* cvm_vm_join()'s, once ended */
};

/* Whether /dev/kvm (or $COREVM_KVM_DEV) can be opened; if not, prints "SKIP: why". */
bool iw_kvm_usable(void);

/* What iw_up() builds. */
struct iw_opts {
	unsigned int ncpus;
	enum cvm_irqchip_mode mode;
	const char *cmdline;   /* the guest's (guest/idlework.c) */
	unsigned int capacity; /* work-queue capacity per priority; 0: the default */
	uint64_t ready_mask;   /* the vCPUs whose loop must run before iw_up() returns */
	uint64_t efd_mask;     /* the vCPUs whose eventfd is made before the VM starts */
};

/*
 * Loads `elf` into a fresh VM as `o` says, with corevm's seccomp filters on its
 * threads (docs/seccomp.md; IW_NO_SECCOMP=1 in the environment turns them
 * off), installs the board, makes the eventfds, starts the VM on its own
 * thread and waits (bounded) until every vCPU in o->ready_mask runs its loop.
 * The calling thread stays unconfined. Returns false after printing why.
 */
bool iw_up(struct iw_vm *r, const char *elf, const struct iw_opts *o);

/* Ends the VM (if the guest has not), joins it, frees everything; returns the VM's status. */
int iw_down(struct iw_vm *r);

uint64_t iw_now_ns(void);

/*
 * Waits until cond(ctx) or `timeout_s` seconds pass, looking again every 50 us
 * (an event wait with a generous bound, never a fixed sleep). Returns cond's last value.
 */
bool iw_wait(bool (*cond)(void *ctx), void *ctx, double timeout_s);

/* Waits until vCPU `i`'s public state is `s` (bounded). */
bool iw_wait_state(struct iw_vm *r, unsigned int i, enum cvm_vcpu_pub_state s, double timeout_s);

/* Gives vCPU `i` command `op` (guest/idlework.h) and, if `wait_ack`, waits until it acks. */
bool iw_cmd(struct iw_vm *r, unsigned int i, enum idlework_op op, uint64_t arg, bool wait_ack);

/* Raises and lowers I/O APIC pin `pin` (an edge). */
void iw_pulse(struct iw_vm *r, unsigned int pin);

/* Reads a guest counter of the shared page (atomically). */
uint64_t iw_read(const volatile uint64_t *p);

#endif
