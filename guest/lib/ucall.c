/* ucall reports, assertions and the debug-exit port for guests (see ucall.h). */
#include "guest/lib/ucall.h"

#include <stdarg.h>

#include "guest/lib/serial.h"
#include "guest/lib/util.h"
#include "guest/lib/x86.h"

void guest_ucall(uint32_t cmd, uint32_t line, const char *file, const char *msg, uint64_t a0,
                 uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct cvm_ucall uc __attribute__((aligned(8)));
	memset(&uc, 0, sizeof(uc));
	uc.cmd = cmd;
	uc.line = line;
	uc.args[0] = a0;
	uc.args[1] = a1;
	uc.args[2] = a2;
	uc.args[3] = a3;
	kit_strlcpy(uc.file, file ? file : "", sizeof(uc.file));
	kit_strlcpy(uc.msg, msg ? msg : "", sizeof(uc.msg));
	/* Identity-mapped: the stack address is the guest-physical address. */
	outl(CVM_PORT_UCALL, (uint32_t)(uintptr_t)&uc);
}

void guest_report(uint64_t stage, uint64_t v1, uint64_t v2, uint64_t v3, const char *msg)
{
	guest_ucall(CVM_UCALL_REPORT, 0, (const char *)0, msg, stage, v1, v2, v3);
}

void guest_debug_exit(uint32_t value)
{
	outl(CVM_PORT_DEBUG_EXIT, value);
	kit_halt_forever();
}

void guest_done(void)
{
	guest_ucall(CVM_UCALL_DONE, 0, (const char *)0, (const char *)0, 0, 0, 0, 0);
	guest_debug_exit(KIT_EXIT_VALUE_DONE);
}

void guest_assert_fail(const char *file, unsigned int line, const char *msg, uint64_t a0,
                       uint64_t a1)
{
	bool locked = guest_console_lock_bounded();
	guest_printf_locked("ASSERT %s:%u: %s (0x%lx, 0x%lx)\n", file, line, msg, a0, a1);
	if (locked)
		guest_console_unlock();
	guest_ucall(CVM_UCALL_ASSERT, line, file, msg, a0, a1, 0, 0);
	guest_debug_exit(KIT_EXIT_VALUE_ASSERT);
}

void guest_assert_failf(const char *file, unsigned int line, const char *fmt, ...)
{
	char msg[CVM_UCALL_MSG_LEN];
	va_list ap;
	va_start(ap, fmt);
	guest_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	guest_assert_fail(file, line, msg, 0, 0);
}

void guest_ucall_print(const char *fmt, ...)
{
	char msg[CVM_UCALL_MSG_LEN];
	va_list ap;
	va_start(ap, fmt);
	guest_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	guest_ucall(CVM_UCALL_PRINT, 0, (const char *)0, msg, 0, 0, 0, 0);
}
