/* Guest RAM: one anonymous, never pre-touched mapping split around the 3-4 GiB MMIO hole. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86/guest_abi.h"
#include "util/log.h"
#include "vmm/vm.h"

void cvm_ram_layout(uint64_t size, uint8_t *base, struct cvm_gmem *gm)
{
	uint64_t low = size < CVM_GUEST_MMIO_HOLE_START ? size : CVM_GUEST_MMIO_HOLE_START;

	memset(gm, 0, sizeof(*gm));
	gm->ram_size = size;
	if (low) {
		gm->region[0] = (struct cvm_gmem_region){.gpa = 0, .size = low, .hva = base};
		gm->nregions = 1;
	}
	if (size > low) {
		gm->region[gm->nregions++] =
		        (struct cvm_gmem_region){.gpa = CVM_GUEST_MMIO_HOLE_END,
		                                 .size = size - low,
		                                 .hva = base ? base + low : NULL};
	}
}

int __cvm_ram_map(uint64_t size, struct cvm_gmem *gm)
{
	void *p;

	if (size == 0 || size % 4096 || size > (uint64_t)SIZE_MAX / 2)
		return -EINVAL;
	/* MAP_NORESERVE: the guest's RAM costs host memory only where it touches it. */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	         -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Small pages: a test guest touching a few KiB must not cost 2 MiB each. */
	madvise(p, size, MADV_NOHUGEPAGE);
	madvise(p, size, MADV_DONTDUMP);
	cvm_ram_layout(size, p, gm);
	return 0;
}

int cvm_ram_map(uint64_t size, struct cvm_gmem *gm)
{
	int r = __cvm_ram_map(size, gm);

	if (r < 0)
		cvm_err("ram", "mapping %llu bytes of guest RAM: %s", (unsigned long long)size,
		        strerror(-r));
	return r;
}

void cvm_ram_unmap(struct cvm_gmem *gm)
{
	if (gm->nregions && gm->region[0].hva)
		munmap(gm->region[0].hva, gm->ram_size);
	memset(gm, 0, sizeof(*gm));
}
