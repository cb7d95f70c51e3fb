/*
 * The AP initial-state note (CVM_NOTE_AP_INIT, arch/x86/guest_abi.h): decoding
 * with every intrinsic check, then the checks against the loaded image and
 * guest RAM. A hostile note is refused with one line naming the field.
 */
#include <errno.h>
#include <string.h>

#include "loader/loader_internal.h"

#define STACK_STRIDE_MIN 256u         /* smaller stacks cannot hold an exception frame and a call */
#define STACK_STRIDE_MAX (1ull << 30) /* 1 GiB per AP: beyond this it is a mistake */
#define NR_STACKS_MAX    4095u        /* vCPUs 1..4095 (CVM_VM_MAX_CPUS - 1) */
#define PAGE_MASK        0xfffull

static bool sel_ok(uint16_t sel)
{
	return sel != 0 && (sel & 7u) == 0; /* not null, GDT (TI = 0), RPL 0 */
}

/* The lowest byte of the stacks and the highest + 1, or false if they wrap. */
static bool stack_span(const struct cvm_ap_init_note *n, uint64_t *lo, uint64_t *hi)
{
	uint64_t extra = (uint64_t)(n->nr_stacks - 1) * n->stack_stride; /* < 2^42: no wrap */

	if (n->stack_top < n->stack_stride || n->stack_top > UINT64_MAX - extra)
		return false;
	*lo = n->stack_top - n->stack_stride;
	*hi = n->stack_top + extra;
	return true;
}

int cvm_ap_init_decode(const void *desc, size_t len, struct cvm_ap_init_note *out, char *err,
                       size_t errlen)
{
	struct cvm_ap_init_note n;
	uint64_t lo, hi;

	if (!desc || len != sizeof(n))
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "AP initial-state note: descriptor of %zu bytes (want %zu)",
		                    len, sizeof(n));
	memcpy(&n, desc, sizeof(n)); /* little endian, checked at build time */
	if (n.version != CVM_AP_INIT_VERSION)
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "AP initial-state note: version %u (this corevm knows %u)",
		                    n.version, CVM_AP_INIT_VERSION);
	if (n.mode != CVM_AP_MODE_PROT32 && n.mode != CVM_AP_MODE_LONG64)
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "AP initial-state note: mode %u (1: 32-bit, 2: 64-bit)",
		                    n.mode);
	if (n.flags || n.reserved)
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "AP initial-state note: flags 0x%x / reserved 0x%x must be 0",
		                    n.flags, n.reserved);
	if (!sel_ok(n.code_sel) || !sel_ok(n.data_sel))
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "AP initial-state note: selectors 0x%x/0x%x (want non-null, TI "
		                    "and RPL 0)",
		                    n.code_sel, n.data_sel);
	if ((n.gdt_base || n.gdt_limit) &&
	    ((n.gdt_limit + 1u) % 8u || n.code_sel > n.gdt_limit || n.data_sel > n.gdt_limit))
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "AP initial-state note: GDT limit 0x%x does not hold 8-byte "
		                    "descriptors up to selectors 0x%x/0x%x",
		                    n.gdt_limit, n.code_sel, n.data_sel);
	if (n.nr_stacks == 0 || n.nr_stacks > NR_STACKS_MAX)
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "AP initial-state note: %u stacks (1..%u)", n.nr_stacks,
		                    NR_STACKS_MAX);
	if (n.stack_stride < STACK_STRIDE_MIN || n.stack_stride > STACK_STRIDE_MAX ||
	    (n.stack_stride | n.stack_top) % 16u)
		return cvm_ldr_fail(
		        err, errlen, -EINVAL,
		        "AP initial-state note: stack top %#llx / stride %#llx (16-byte "
		        "aligned, stride %u..%llu)",
		        (unsigned long long)n.stack_top, (unsigned long long)n.stack_stride,
		        STACK_STRIDE_MIN, (unsigned long long)STACK_STRIDE_MAX);
	if (!stack_span(&n, &lo, &hi))
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "AP initial-state note: %u stacks of %#llx bytes at %#llx wrap",
		                    n.nr_stacks, (unsigned long long)n.stack_stride,
		                    (unsigned long long)n.stack_top);
	if (n.mode == CVM_AP_MODE_LONG64 && (n.cr3 == 0 || (n.cr3 & PAGE_MASK)))
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "AP initial-state note: 64-bit mode needs a 4 KiB aligned page "
		                    "table root (cr3 %#llx)",
		                    (unsigned long long)n.cr3);
	if (n.mode == CVM_AP_MODE_PROT32 && (n.cr3 || n.entry > UINT32_MAX || hi > CVM_LDR_4G ||
	                                     n.gdt_base > UINT32_MAX - n.gdt_limit))
		return cvm_ldr_fail(
		        err, errlen, -EINVAL,
		        "AP initial-state note: 32-bit mode needs cr3 0 and entry, stacks "
		        "and GDT below 4 GiB");
	*out = n;
	return 0;
}

/* Whether [start, end) is a non-empty range wholly inside guest RAM. */
static bool in_ram(const struct cvm_gmem *gm, uint64_t start, uint64_t end)
{
	return end > start && cvm_gmem_contains(gm, start, end - start);
}

int cvm_ldr_ap_init(struct cvm_ldr *l)
{
	const struct cvm_ap_init_note *n = &l->ap_init;
	const uint8_t *desc;
	uint32_t descsz;
	uint64_t lo = 0, hi = 0;
	bool entry_ok = false;
	int rc;

	l->has_ap_init = false;
	if (!l->elf || cvm_elf_find_note(l->elf, CVM_NOTE_NAME, CVM_NOTE_AP_INIT, &desc, &descsz))
		return 0;
	rc = cvm_ap_init_decode(desc, descsz, &l->ap_init, l->err, l->errlen);
	if (rc)
		return rc;
	for (unsigned int i = 0; i < l->nseg; i++)
		if (n->entry >= l->seg[i].paddr && n->entry - l->seg[i].paddr < l->seg[i].memsz)
			entry_ok = true;
	if (!entry_ok)
		return cvm_ldr_fail(l->err, l->errlen, -EINVAL,
		                    "AP initial-state note: entry %#llx is not inside a loaded "
		                    "segment",
		                    (unsigned long long)n->entry);
	stack_span(n, &lo, &hi); /* cannot fail: decoded */
	if (!in_ram(l->gm, lo, hi))
		return cvm_ldr_fail(
		        l->err, l->errlen, -EINVAL,
		        "AP initial-state note: AP stacks [%#llx, %#llx) are not inside "
		        "guest RAM",
		        (unsigned long long)lo, (unsigned long long)hi);
	if (n->mode == CVM_AP_MODE_LONG64 && !in_ram(l->gm, n->cr3, n->cr3 + 4096))
		return cvm_ldr_fail(l->err, l->errlen, -EINVAL,
		                    "AP initial-state note: page table root %#llx is not inside "
		                    "guest RAM",
		                    (unsigned long long)n->cr3);
	if ((n->gdt_base || n->gdt_limit) &&
	    !in_ram(l->gm, n->gdt_base, n->gdt_base + n->gdt_limit + 1u))
		return cvm_ldr_fail(
		        l->err, l->errlen, -EINVAL,
		        "AP initial-state note: GDT [%#llx, +%#x] is not inside guest RAM",
		        (unsigned long long)n->gdt_base, n->gdt_limit + 1u);
	l->has_ap_init = true;
	return 0;
}
