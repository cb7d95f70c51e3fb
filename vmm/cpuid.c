/* The guest's CPUID topology and APIC-ID fields, computed from the vCPU count and index. */
#include "vmm/cpuid.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* Vendor signatures in EBX of leaf 0 ("Genu", "Auth", "Hygo"). */
#define VENDOR_INTEL_EBX 0x756e6547u
#define VENDOR_AMD_EBX   0x68747541u
#define VENDOR_HYGON_EBX 0x6f677948u

#define CPUID_1_EDX_HTT         (1u << 28)
#define CPUID_80000001_ECX_CMPL (1u << 1)
#define CPUID_80000001_ECX_TOPX (1u << 22)

/* Topology level types of leaves 0xB / 0x1F (ECX[15:8]). */
#define TOPO_INVALID 0
#define TOPO_SMT     1
#define TOPO_CORE    2

unsigned int cvm_cpuid_core_shift(unsigned int ncpus)
{
	unsigned int s = 0;

	while (s < 31 && (1u << s) < ncpus)
		s++;
	return s;
}

struct kvm_cpuid_entry2 *cvm_cpuid_find(struct kvm_cpuid2 *c, unsigned int function,
                                        unsigned int index)
{
	for (unsigned int i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		bool indexed = e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		if (e->function == function && (!indexed || e->index == index))
			return e;
	}
	return NULL;
}

static void remove_leaf(struct kvm_cpuid2 *c, unsigned int function)
{
	unsigned int j = 0;

	for (unsigned int i = 0; i < c->nent; i++)
		if (c->entries[i].function != function)
			c->entries[j++] = c->entries[i];
	c->nent = j;
}

/* Leaves 0xB and 0x1F: SMT level (1 thread), core level (ncpus), then the end marker. */
static int set_x2apic_topology(struct kvm_cpuid2 *c, unsigned int cap, unsigned int function,
                               unsigned int ncpus, unsigned int apic_id)
{
	unsigned int shift = cvm_cpuid_core_shift(ncpus);
	const struct {
		unsigned int eax, ebx, type;
	} level[3] = {{0, 1, TOPO_SMT}, {shift, ncpus, TOPO_CORE}, {0, 0, TOPO_INVALID}};

	remove_leaf(c, function);
	if (c->nent + 3 > cap)
		return -ENOSPC;
	for (unsigned int i = 0; i < 3; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];
		memset(e, 0, sizeof(*e));
		e->function = function;
		e->index = i;
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		e->eax = level[i].eax;
		e->ebx = level[i].ebx & 0xffff;
		e->ecx = i | (level[i].type << 8);
		e->edx = apic_id;
	}
	return 0;
}

int cvm_cpuid_set_topology(struct kvm_cpuid2 *c, unsigned int cap, unsigned int ncpus,
                           unsigned int apic_id)
{
	struct kvm_cpuid_entry2 *e0 = cvm_cpuid_find(c, 0, 0);
	struct kvm_cpuid_entry2 *e;
	unsigned int shift = cvm_cpuid_core_shift(ncpus);
	unsigned int addressable = (1u << shift) > 0xff ? 0xff : (1u << shift);
	bool intel, amd;
	int r;

	if (!e0)
		return -EINVAL;
	intel = e0->ebx == VENDOR_INTEL_EBX;
	amd = e0->ebx == VENDOR_AMD_EBX || e0->ebx == VENDOR_HYGON_EBX;

	e = cvm_cpuid_find(c, 1, 0);
	if (e) {
		e->ebx = (e->ebx & 0xffff) | (addressable << 16) | ((apic_id & 0xff) << 24);
		if (ncpus > 1)
			e->edx |= CPUID_1_EDX_HTT;
		else
			e->edx &= ~CPUID_1_EDX_HTT;
	}

	/* Leaf 0xB is what guests read x2APIC IDs from: make sure it exists. */
	if (e0->eax < 0xb)
		e0->eax = 0xb;
	r = set_x2apic_topology(c, cap, 0xb, ncpus, apic_id);
	if (r == 0 && e0->eax >= 0x1f)
		r = set_x2apic_topology(c, cap, 0x1f, ncpus, apic_id);
	if (r)
		return r;

	for (unsigned int i = 0; intel && i < c->nent; i++) {
		e = &c->entries[i];
		/* Leaf 4: EAX[31:26] = addressable core IDs - 1; each cache is per core except the last level. */
		if (e->function == 4 && (e->eax & 0x1f)) {
			unsigned int level = (e->eax >> 5) & 7;
			unsigned int sharing = level >= 3 ? (1u << shift) - 1 : 0;
			e->eax = (e->eax & 0x3fff) | ((sharing & 0xfff) << 14) |
			         ((((1u << shift) - 1) & 0x3f) << 26);
		}
	}

	if (amd) {
		struct kvm_cpuid_entry2 *ext1 = cvm_cpuid_find(c, 0x80000001, 0);
		e = cvm_cpuid_find(c, 0x80000008, 0);
		if (e)
			e->ecx = (e->ecx & ~0xf0ffu) | (((ncpus - 1) > 0xff ? 0xff : ncpus - 1)) |
			         ((shift & 0xf) << 12);
		if (ext1) {
			if (ncpus > 1)
				ext1->ecx |= CPUID_80000001_ECX_CMPL;
			else
				ext1->ecx &= ~CPUID_80000001_ECX_CMPL;
		}
		e = cvm_cpuid_find(c, 0x8000001e, 0);
		if (e && ext1 && (ext1->ecx & CPUID_80000001_ECX_TOPX)) {
			e->eax = apic_id;
			e->ebx = apic_id & 0xff; /* core ID; threads per core - 1 = 0 */
			e->ecx = 0;              /* node 0, one node per package */
			e->edx = 0;
		}
	}
	return 0;
}
