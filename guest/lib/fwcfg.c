/* fw_cfg legacy I/O reader for guests (see fwcfg.h). */
#include "guest/lib/fwcfg.h"

#include "arch/x86/guest_abi.h"
#include "guest/lib/ucall.h"
#include "guest/lib/util.h"
#include "guest/lib/x86.h"

void guest_fwcfg_read(uint16_t key, void *buf, size_t len)
{
	uint8_t *p = buf;
	outw(CVM_PORT_FW_CFG_SEL, key);
	for (size_t i = 0; i < len; i++)
		p[i] = inb(CVM_PORT_FW_CFG_DATA);
}

static uint64_t read_le(uint16_t key, size_t len)
{
	uint8_t b[8];
	uint64_t v = 0;
	guest_fwcfg_read(key, b, len);
	for (size_t i = len; i-- > 0;)
		v = (v << 8) | b[i];
	return v;
}

uint16_t guest_fwcfg_read16(uint16_t key)
{
	return (uint16_t)read_le(key, 2);
}

uint32_t guest_fwcfg_read32(uint16_t key)
{
	return (uint32_t)read_le(key, 4);
}

uint64_t guest_fwcfg_read64(uint16_t key)
{
	return read_le(key, 8);
}

bool guest_fwcfg_present(void)
{
	char sig[4];
	guest_fwcfg_read(FW_CFG_SIGNATURE, sig, sizeof(sig));
	return memcmp(sig, "QEMU", 4) == 0;
}

unsigned int guest_fwcfg_nb_cpus(void)
{
	GUEST_ASSERT_MSG(guest_fwcfg_present(), "fw_cfg: no \"QEMU\" signature at port 0x%x",
	                 CVM_PORT_FW_CFG_SEL);
	unsigned int n = guest_fwcfg_read16(FW_CFG_NB_CPUS);
	GUEST_ASSERT_MSG(n >= 1 && n <= 255, "fw_cfg: NB_CPUS %u out of range 1..255", n);
	return n;
}
