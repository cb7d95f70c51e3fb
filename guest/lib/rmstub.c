/* Installing real-mode SIPI stubs and preparing their ucall (see rmstub.h). */
#include "guest/lib/rmstub.h"

#include "guest/lib/ucall.h"
#include "guest/lib/util.h"

_Static_assert(KIT_RMSTUB_UCALL_PORT == CVM_PORT_UCALL, "the stub's ucall port");

extern const uint8_t kit_rmstub_start[], kit_rmstub_end[];

struct kit_rmstub *guest_rmstub_install(uint8_t vector)
{
	size_t len = (size_t)(kit_rmstub_end - kit_rmstub_start);
	GUEST_ASSERT_MSG(vector >= KIT_RMSTUB_FIRST_VEC && vector <= KIT_RMSTUB_LAST_VEC,
	                 "rmstub: vector 0x%x outside 0x%x..0x%x", vector, KIT_RMSTUB_FIRST_VEC,
	                 KIT_RMSTUB_LAST_VEC);
	GUEST_ASSERT_MSG(len <= KIT_RMSTUB_DATA, "rmstub: code of %lu bytes", (uint64_t)len);
	uint8_t *page = (uint8_t *)(uintptr_t)((uint32_t)vector << 12);
	struct kit_rmstub *s = (struct kit_rmstub *)(page + KIT_RMSTUB_DATA);
	memset(page, 0, 0x1000);
	memcpy(page, kit_rmstub_start, len);
	memset((void *)s->seen, 0xff, sizeof(s->seen));
	return s;
}

void guest_rmstub_set_report(struct kit_rmstub *s, uint64_t stage, uint64_t v1, uint64_t v2,
                             uint64_t v3)
{
	memset(&s->ucall_buf, 0, sizeof(s->ucall_buf));
	s->ucall_buf.cmd = CVM_UCALL_REPORT;
	s->ucall_buf.args[0] = stage;
	s->ucall_buf.args[1] = v1;
	s->ucall_buf.args[2] = v2;
	s->ucall_buf.args[3] = v3;
	s->ucall = (uint32_t)(uintptr_t)&s->ucall_buf;
}

void guest_rmstub_clear_report(struct kit_rmstub *s)
{
	s->ucall = 0;
}
