/* Running a VM: start the vCPU threads, wait for the end on events, stop and join every thread. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/place_ctl.h"
#include "util/log.h"
#include "vmm/sandbox.h"
#include "vmm/test_hook.h"
#include "vmm/vm_internal.h"
#include "vmm/workq.h"

#define CVM_JOIN_TIMEOUT_S 10 /* for all vCPU threads together, after the stop requests */

bool cvm_vm_request_end(struct cvm_vm *vm, int status, const char *why)
{
	uint64_t one = 1;
	ssize_t unused;

	if (atomic_exchange(&vm->end_claimed, 1))
		return false;
	snprintf(vm->end_why, sizeof(vm->end_why), "%s", why ? why : "");
	atomic_store_explicit(&vm->end_status, status, memory_order_release);
	unused = write(vm->wake_fd, &one, sizeof(one));
	(void)unused;
	return true;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* stdin feeds the UART only when it is a terminal or a pipe (not a file or /dev/null). */
static bool stdin_is_console(void)
{
	struct stat st;

	if (fstat(STDIN_FILENO, &st) < 0)
		return false;
	return isatty(STDIN_FILENO) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
}

/* Offers buffered input to the UART; device lock held. */
static void rx_offer_locked(struct cvm_vm *vm)
{
	struct cvm_console *con = &vm->con;
	unsigned int n;

	if (!con->rx_len || !con->rx_push)
		return;
	n = con->rx_push(con->rx_ctx, con->rx, (unsigned int)con->rx_len);
	if (n > con->rx_len)
		n = (unsigned int)con->rx_len;
	memmove(con->rx, con->rx + n, con->rx_len - n);
	con->rx_len -= n;
	con->rx_bytes += n;
}

/* Reads what stdin has (only called when rx[] is empty); false at end of input. */
static bool rx_read(struct cvm_vm *vm)
{
	ssize_t n = read(STDIN_FILENO, vm->con.rx, sizeof(vm->con.rx));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	pthread_mutex_lock(&vm->dev_lock);
	vm->con.rx_len = (size_t)n;
	rx_offer_locked(vm);
	pthread_mutex_unlock(&vm->dev_lock);
	return true;
}

void cvm_vm_gate_wait(struct cvm_vm *vm)
{
	pthread_mutex_lock(&vm->gate_lock);
	vm->gate_arrived++;
	pthread_cond_broadcast(&vm->gate_cond);
	while (!vm->gate_open)
		pthread_cond_wait(&vm->gate_cond, &vm->gate_lock);
	pthread_mutex_unlock(&vm->gate_lock);
}

static void gate_close(struct cvm_vm *vm)
{
	pthread_mutex_lock(&vm->gate_lock);
	vm->gate_open = false;
	vm->gate_arrived = 0;
	pthread_mutex_unlock(&vm->gate_lock);
}

/* Opens the gate once `started` vCPU threads have checked in (each is confined or stays out). */
static void gate_open_after(struct cvm_vm *vm, unsigned int started)
{
	pthread_mutex_lock(&vm->gate_lock);
	while (vm->gate_arrived < started)
		pthread_cond_wait(&vm->gate_cond, &vm->gate_lock);
	vm->gate_open = true;
	pthread_cond_broadcast(&vm->gate_cond);
	pthread_mutex_unlock(&vm->gate_lock);
}

/*
 * Starts the vCPU threads behind the closed gate (each loads the filter
 * cvm_vcpu_start() built for it, checks in and waits), installs the main
 * thread's filter, waits until every vCPU thread has checked in, then opens the
 * gate. Nothing the main thread does after this is set-up: everything it may
 * call is allowed.
 */
static int start_threads(struct cvm_vm *vm)
{
	unsigned int started = 0;
	int e = 0;

	gate_close(vm);
	/* The worker first: it is created unconfined and confines itself (docs/seccomp.md). */
	e = cvm_workq_start(vm);
	if (e < 0)
		cvm_vm_request_end(vm, CVM_EXIT_FAILURE,
		                   e == -EPERM ? "seccomp failed" : "thread start failed");
	for (unsigned int i = 0; i < vm->ncpus && e == 0; i++) {
		e = cvm_vcpu_start(&vm->vcpu[i]);
		if (e < 0)
			cvm_vm_request_end(vm, CVM_EXIT_FAILURE, "thread start failed");
		else
			started++;
	}
	if (e == 0 && cvm_vm_sandbox_thread(vm, CVM_THREAD_MAIN, NULL) < 0) {
		cvm_vm_request_end(vm, CVM_EXIT_FAILURE, "seccomp failed");
		e = -EPERM;
	}
	gate_open_after(vm, started);
	/* Every started thread has loaded its filter (or never will): the programs can go. */
	for (unsigned int i = 0; i < vm->ncpus; i++)
		cvm_seccomp_prog_free(&vm->vcpu[i].sc_prog);
	if (e == 0)
		cvm_test_hook_sandboxed(CVM_THREAD_MAIN, 0);
	return e;
}

/*
 * Asks every started vCPU thread to stop and joins them, all within one deadline.
 * A thread that does not stop is reported and left running (the process is
 * about to exit); vm->threads_stuck keeps the VM's memory alive for it.
 */
static void stop_and_join(struct cvm_vm *vm)
{
	struct timespec deadline;

	for (unsigned int i = 0; i < vm->ncpus; i++)
		if (vm->vcpu[i].thread_started)
			cvm_vcpu_post(&vm->vcpu[i], CVM_REQ_STOP);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += CVM_JOIN_TIMEOUT_S;
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct cvm_vcpu *v = &vm->vcpu[i];
		int e;
		if (!v->thread_started)
			continue;
		e = pthread_timedjoin_np(v->thread, NULL, &deadline);
		if (e) {
			cvm_err("vcpu", "vcpu %u did not stop within %d s (state %s): %s", i,
			        CVM_JOIN_TIMEOUT_S, cvm_vcpu_state_name(atomic_load(&v->state)),
			        strerror(e));
			vm->threads_stuck++;
			continue;
		}
		v->thread_started = 0;
	}
}

/* Blocks SIGINT/SIGTERM (taken through a signalfd) and sets up the kick signal. */
static int setup_signals(struct cvm_vm *vm, sigset_t *old)
{
	sigset_t set;
	int fd, e;

	e = cvm_vcpu_signals_init();
	if (e < 0) {
		cvm_err("vm", "setting up the vCPU kick signal: %s", strerror(-e));
		return e;
	}
	signal(SIGPIPE, SIG_IGN); /* a closed stdout is reported as lost output, not a kill */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, old);
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0) {
		e = -errno;
		cvm_err("vm", "signalfd: %s", strerror(-e));
		return e;
	}
	vm->signal_fd = fd;
	return fd;
}

enum { PFD_WAKE, PFD_SIGNAL, PFD_STDIN, PFD_N };

/*
 * The main thread's wait: for the end request, a signal, the timeout, console
 * output to flush once the guest pauses, and console input. Returns when the VM
 * should end (the end status is set by then).
 */
static void wait_for_end(struct cvm_vm *vm, int sfd, const struct cvm_run_opts *opts, bool rx_on)
{
	struct pollfd pfd[PFD_N] = {
	        [PFD_WAKE] = {.fd = vm->wake_fd, .events = POLLIN},
	        [PFD_SIGNAL] = {.fd = sfd, .events = POLLIN},
	        [PFD_STDIN] = {.fd = -1, .events = POLLIN},
	};
	uint64_t deadline = opts->timeout_ns ? now_ns() + opts->timeout_ns : 0;
	uint64_t flush_at = 0;

	while (atomic_load_explicit(&vm->end_status, memory_order_acquire) < 0) {
		uint64_t now = now_ns(), next = deadline;
		int timeout_ms = -1;

		if (flush_at && (!next || flush_at < next))
			next = flush_at;
		if (next)
			timeout_ms = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
		/* Read stdin only when the previous input has been taken (bounded buffering). */
		pfd[PFD_STDIN].fd = rx_on && vm->con.rx_len == 0 ? STDIN_FILENO : -1;
		if (poll(pfd, PFD_N, timeout_ms) < 0 && errno != EINTR) {
			cvm_err("vm", "poll: %s", strerror(errno));
			cvm_vm_request_end(vm, CVM_EXIT_FAILURE, "poll failed");
			break;
		}
		now = now_ns();
		if (pfd[PFD_WAKE].revents) {
			uint64_t cnt;
			ssize_t unused = read(vm->wake_fd, &cnt, sizeof(cnt));
			(void)unused;
			if (!flush_at)
				flush_at = now + CVM_CONSOLE_IDLE_NS;
			if (atomic_exchange(&vm->housekeeping_reaffine, 0) && vm->placement)
				cvm_place_ctl_housekeeping_apply(vm->placement);
			if (atomic_exchange(&vm->con.rx_ready, 0)) {
				pthread_mutex_lock(&vm->dev_lock);
				rx_offer_locked(vm);
				pthread_mutex_unlock(&vm->dev_lock);
			}
		}
		if (pfd[PFD_SIGNAL].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
			    cvm_vm_request_end(vm, CVM_EXIT_SIGNAL, "signal"))
				cvm_err("vm", "stopped by %s", strsignal((int)si.ssi_signo));
		}
		if (pfd[PFD_STDIN].fd >= 0 && pfd[PFD_STDIN].revents && !rx_read(vm))
			rx_on = false;
		if (flush_at && now >= flush_at) {
			cvm_console_flush(vm);
			flush_at = 0;
		}
		if (deadline && now >= deadline &&
		    cvm_vm_request_end(vm, CVM_EXIT_TIMEOUT, "timeout"))
			cvm_err("vm", "timeout: the guest did not end within %.3f s",
			        (double)opts->timeout_ns / 1e9);
	}
}

/* Lines the rate limits held back (a guest flooding unsupported GHCB requests...): one line each. */
static void report_suppressed(struct cvm_vm *vm)
{
	uint64_t g = cvm_ratelimit_suppressed(&vm->ghcb_log);
	uint64_t r = cvm_ratelimit_suppressed(&vm->reg_log);

	if (g)
		cvm_warn("ghcb",
		         "%llu more refused GHCB MSR requests not shown (rate limit; --stats "
		         "vcpus[].ghcb counts them all)",
		         (unsigned long long)g);
	if (r)
		cvm_err("protected",
		        "%llu more refused register writes not shown (--stats "
		        "vm.reg_writes_refused counts them all)",
		        (unsigned long long)r);
}

int cvm_vm_run(struct cvm_vm *vm, const struct cvm_run_opts *opts)
{
	sigset_t old;
	int sfd = setup_signals(vm, &old);
	/* Decided before the filters are in (fstat, isatty). */
	bool rx_on = opts->console_rx && vm->con.rx_push && stdin_is_console();

	clock_gettime(CLOCK_MONOTONIC, &vm->t_start);
	/* Launch: from here on, --protected-state refuses every register write (regs_gate.h). */
	atomic_store(&vm->launched, true);
	if (sfd < 0) {
		cvm_vm_request_end(vm, CVM_EXIT_FAILURE, "signal set-up failed");
	} else {
		if (start_threads(vm) == 0)
			wait_for_end(vm, sfd, opts, rx_on);
		stop_and_join(vm);
		close(sfd);
	}
	/* Nothing queued is dropped: what no thread ran completes with -ESHUTDOWN. */
	if (!vm->threads_stuck)
		cvm_workq_shutdown(vm);
	clock_gettime(CLOCK_MONOTONIC, &vm->t_end);
	cvm_console_flush(vm);
	report_suppressed(vm);
	if (sfd >= 0)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (vm->threads_stuck && atomic_load(&vm->end_status) == CVM_EXIT_OK)
		return CVM_EXIT_FAILURE;
	return atomic_load(&vm->end_status);
}

/* cvm_vm_start(): the thread that runs cvm_vm_run() for the caller. */
struct run_thread {
	struct cvm_vm *vm;
	struct cvm_run_opts opts;
	int status;
};

static void *run_thread_main(void *arg)
{
	struct run_thread *rt = arg;

	rt->status = cvm_vm_run(rt->vm, &rt->opts);
	return NULL;
}

int cvm_vm_start(struct cvm_vm *vm, const struct cvm_run_opts *opts)
{
	struct run_thread *rt = calloc(1, sizeof(*rt));
	int e;

	if (!rt) {
		cvm_err("vm", "starting the VM's thread: out of memory");
		return -ENOMEM;
	}
	rt->vm = vm;
	rt->opts = *opts;
	e = pthread_create(&vm->run_thread, NULL, run_thread_main, rt);
	if (e) {
		free(rt);
		cvm_err("vm", "starting the VM's thread: %s", strerror(e));
		return -e;
	}
	vm->run_ctx = rt;
	return 0;
}

int cvm_vm_join(struct cvm_vm *vm)
{
	struct run_thread *rt = vm->run_ctx;
	int status;

	if (!rt)
		return CVM_EXIT_FAILURE;
	pthread_join(vm->run_thread, NULL);
	status = rt->status;
	free(rt);
	vm->run_ctx = NULL;
	return status;
}
