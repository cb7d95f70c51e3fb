/*
 * Reports from a guest to the host ("ucall", after the Linux KVM selftests) and
 * the ways a guest ends the VM. See arch/x86/guest_abi.h for the wire format:
 * the guest fills a struct cvm_ucall on its stack and writes its address with a
 * 32-bit OUT to CVM_PORT_UCALL; the host reads it during that exit.
 *
 * Under a VMM without ucall (QEMU) the OUT does nothing, so every report that
 * ends the test is followed by a debug-exit write: DONE by value
 * KIT_EXIT_VALUE_DONE, an assertion or unexpected exception by
 * KIT_EXIT_VALUE_ASSERT. corevm ends the VM at the ucall itself and must not
 * resume the vCPU, so it reports CVM_EXIT_OK / CVM_EXIT_GUEST_ASSERT.
 */
#ifndef GUEST_LIB_UCALL_H
#define GUEST_LIB_UCALL_H

#include <stdint.h>

#include "arch/x86/guest_abi.h"

/* Debug-exit values written after DONE and after an assertion (QEMU status 1 and 7). */
#define KIT_EXIT_VALUE_DONE   0
#define KIT_EXIT_VALUE_ASSERT 3

/*
 * Sends one ucall. file and msg may be NULL (sent as empty) and are truncated to
 * CVM_UCALL_FILE_LEN - 1 and CVM_UCALL_MSG_LEN - 1 bytes, NUL-terminated.
 * Returns when the host has read it (for DONE and ASSERT under corevm: never).
 */
void guest_ucall(uint32_t cmd, uint32_t line, const char *file, const char *msg, uint64_t a0,
                 uint64_t a1, uint64_t a2, uint64_t a3);

/* REPORT: args[0] = stage, args[1..3] = values; msg is optional text (may be NULL). */
void guest_report(uint64_t stage, uint64_t v1, uint64_t v2, uint64_t v3, const char *msg);

/* DONE, then debug exit with KIT_EXIT_VALUE_DONE; never returns. */
__attribute__((noreturn)) void guest_done(void);

/* Writes value to the debug-exit port (status (value << 1) | 1); halts if that returns. */
__attribute__((noreturn)) void guest_debug_exit(uint32_t value);

/*
 * Prints "ASSERT file:line: msg" on serial, sends ASSERT with a0, a1 in
 * args[0..1], then debug exit with KIT_EXIT_VALUE_ASSERT. Never returns.
 */
__attribute__((noreturn)) void guest_assert_fail(const char *file, unsigned int line,
                                                 const char *msg, uint64_t a0, uint64_t a1);
__attribute__((noreturn, format(printf, 3, 4))) void
guest_assert_failf(const char *file, unsigned int line, const char *fmt, ...);

/* PRINT: formats msg into the ucall (host prints it on stderr); not on serial. */
__attribute__((format(printf, 1, 2))) void guest_ucall_print(const char *fmt, ...);

#define GUEST_REPORT(stage, v1, v2, v3) \
	guest_report((stage), (uint64_t)(v1), (uint64_t)(v2), (uint64_t)(v3), (const char *)0)

#define GUEST_DONE() guest_done()

#define GUEST_ASSERT(cond)                                                             \
	do {                                                                           \
		if (!(cond))                                                           \
			guest_assert_fail(__FILE__, __LINE__, "failed: " #cond, 0, 0); \
	} while (0)

/* args[0] = a, args[1] = b when it fails. */
#define GUEST_ASSERT_EQ(a, b)                                                                   \
	do {                                                                                    \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                \
		if (a_ != b_)                                                                   \
			guest_assert_fail(__FILE__, __LINE__, "failed: " #a " == " #b, a_, b_); \
	} while (0)

#define GUEST_ASSERT_NE(a, b)                                                                   \
	do {                                                                                    \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                \
		if (a_ == b_)                                                                   \
			guest_assert_fail(__FILE__, __LINE__, "failed: " #a " != " #b, a_, b_); \
	} while (0)

/* Formatted message; args[0..1] are 0. */
#define GUEST_ASSERT_MSG(cond, ...)                                          \
	do {                                                                 \
		if (!(cond))                                                 \
			guest_assert_failf(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#define GUEST_FAIL(...) guest_assert_failf(__FILE__, __LINE__, __VA_ARGS__)

#endif
