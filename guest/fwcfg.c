/*
 * fw_cfg test guest: reads the items issue 2 requires over the legacy I/O
 * interface and reports them unchanged, so the host can compare with what it
 * configured. The guest itself checks nothing.
 *
 * Reports (ucall):
 *   REPORT stage FWCFG_STAGE_IDENT (100): args[1] = signature (the 4 bytes as a
 *          little-endian u32: "QEMU" = 0x554d4551), args[2] = ID, args[3] = RAM_SIZE
 *   REPORT stage FWCFG_STAGE_CPUS (101): args[1] = NB_CPUS, args[2] = MAX_CPUS
 *   then DONE.
 * Serial: "fwcfg: signature \"QEMU\" id 0x<id> ram_size <bytes> nb_cpus <n> max_cpus <m>"
 * (non-printable signature bytes print as '?').
 */
#include "guest/lib/kit.h"

#define FWCFG_STAGE_IDENT (CVM_STAGE_USER + 0)
#define FWCFG_STAGE_CPUS  (CVM_STAGE_USER + 1)

void guest_main(void)
{
	char sig[5] = {0};
	guest_fwcfg_read(FW_CFG_SIGNATURE, sig, 4);
	uint32_t sig32 = guest_fwcfg_read32(FW_CFG_SIGNATURE);
	uint32_t id = guest_fwcfg_read32(FW_CFG_ID);
	uint64_t ram = guest_fwcfg_read64(FW_CFG_RAM_SIZE);
	uint16_t nb = guest_fwcfg_read16(FW_CFG_NB_CPUS);
	uint16_t max = guest_fwcfg_read16(FW_CFG_MAX_CPUS);

	for (int i = 0; i < 4; i++) {
		if (sig[i] < 0x20 || sig[i] > 0x7e)
			sig[i] = '?';
	}
	GUEST_REPORT(FWCFG_STAGE_IDENT, sig32, id, ram);
	GUEST_REPORT(FWCFG_STAGE_CPUS, nb, max, 0);
	guest_printf("fwcfg: signature \"%s\" id 0x%x ram_size %lu nb_cpus %u max_cpus %u\n", sig,
	             id, ram, nb, max);
	GUEST_DONE();
}
