/*
 * A bounds-checked view of guest-physical memory: the only way loaders, devices
 * and exit handlers turn a guest address into a host pointer. Pure, header-only.
 */
#ifndef COREVM_ARCH_X86_GMEM_H
#define COREVM_ARCH_X86_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CVM_GMEM_MAX_REGIONS 4

/* One contiguous run of RAM: guest-physical [gpa, gpa + size) is host [hva, hva + size). */
struct cvm_gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

/*
 * Guest RAM as non-overlapping regions in ascending gpa order. The owner of the
 * mapping (vmm/) fills it; everyone else only reads it. `ram_size` is the total
 * of all regions.
 */
struct cvm_gmem {
	struct cvm_gmem_region region[CVM_GMEM_MAX_REGIONS];
	unsigned int nregions;
	uint64_t ram_size;
};

/*
 * Host pointer for guest-physical [gpa, gpa + len) if the whole range lies in one
 * region, else NULL. Safe against overflow of gpa + len. len 0 is treated as 1.
 */
static inline void *cvm_gmem_ptr(const struct cvm_gmem *gm, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	for (unsigned int i = 0; i < gm->nregions; i++) {
		const struct cvm_gmem_region *r = &gm->region[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

static inline bool cvm_gmem_contains(const struct cvm_gmem *gm, uint64_t gpa, uint64_t len)
{
	return cvm_gmem_ptr(gm, gpa, len) != NULL;
}

#endif
