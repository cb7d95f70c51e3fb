/*
 * Debug-exit test guest: writes the value given on the command line as
 * "exit=V" (decimal or 0x hex, 32 bits) to the debug-exit port with a 32-bit
 * OUT. The VMM must end with status (V << 1) | 1 (truncated to 8 bits by the
 * OS: V = 42 gives 85, V = 0x80 gives 1).
 *
 * Reports (ucall): REPORT stage EXITCODE_STAGE_VALUE (100), args[1] = V, just
 * before the write. Serial: "exitcode: writing <V> to port 0xf4".
 * Fails (ASSERT) without a valid exit=V, or if the write returns.
 */
#include "guest/lib/kit.h"

#define EXITCODE_STAGE_VALUE CVM_STAGE_USER

void guest_main(void)
{
	const char *val;
	size_t len;
	uint64_t v;
	GUEST_ASSERT_MSG(kit_cmdline_find(guest_boot_cmdline(), "exit", &val, &len),
	                 "exitcode: no exit=V on the command line");
	GUEST_ASSERT_MSG(kit_parse_u64(val, len, &v) && v <= UINT32_MAX,
	                 "exitcode: exit=V needs a 32-bit number");
	GUEST_REPORT(EXITCODE_STAGE_VALUE, v, 0, 0);
	guest_printf("exitcode: writing %lu to port 0x%x\n", v, CVM_PORT_DEBUG_EXIT);
	outl(CVM_PORT_DEBUG_EXIT, (uint32_t)v);
	GUEST_FAIL("exitcode: still running after writing %lu to the debug-exit port", v);
}
