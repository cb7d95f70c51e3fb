/*
 * A test-only hook that makes one corevm thread call a system call its seccomp
 * filter forbids, to check that the violation kills the process with one clear
 * line. It is compiled in only when the build has tests (-Dtests=true picks
 * test_hook.c); other builds link test_hook_off.c, where it does nothing. It
 * reads the environment, never guest input: no guest can reach it.
 *
 *   COREVM_TEST_FORBIDDEN_SYSCALL=vcpu[:N] | main | uevent | probe | timer
 *
 * The named thread calls socket(AF_INET, SOCK_STREAM) (closing the socket if
 * that succeeds) right after its filter is in place: vCPU N (default 0) just
 * before its first guest entry, the main thread before it waits for the end,
 * host placement's threads and the user irqchip's APIC timer thread
 * (COREVM_APIC_TIMER=thread) when they start.
 */
#ifndef COREVM_VMM_TEST_HOOK_H
#define COREVM_VMM_TEST_HOOK_H

#include "vmm/seccomp_filter.h"

#define CVM_TEST_FORBIDDEN_SYSCALL_ENV "COREVM_TEST_FORBIDDEN_SYSCALL"

/* Called by each thread of class `cls` (vCPU `index`) once its filter is installed (or would be). */
void cvm_test_hook_sandboxed(enum cvm_thread_class cls, unsigned int index);

#endif
