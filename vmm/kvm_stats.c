/* KVM's binary statistics for one vCPU: header, descriptors, then the named 64-bit values. */
#include "vmm/kvm_stats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

const char *const cvm_kvm_stat_names[CVM_KVM_NSTATS] = {
        [CVM_KVM_STAT_HALT_EXITS] = "halt_exits",
        [CVM_KVM_STAT_HALT_WAKEUP] = "halt_wakeup",
        [CVM_KVM_STAT_IRQ_INJECTIONS] = "irq_injections",
        [CVM_KVM_STAT_NMI_INJECTIONS] = "nmi_injections",
        [CVM_KVM_STAT_EXITS] = "exits",
        [CVM_KVM_STAT_IO_EXITS] = "io_exits",
        [CVM_KVM_STAT_MMIO_EXITS] = "mmio_exits",
        [CVM_KVM_STAT_SIGNAL_EXITS] = "signal_exits",
        [CVM_KVM_STAT_INSN_EMULATION] = "insn_emulation",
        [CVM_KVM_STAT_HALT_WAIT_NS] = "halt_wait_ns",
};

/* The header and descriptors of a statistics fd (bounded); NULL when absurd or unreadable. */
static uint8_t *read_descs(int fd, struct kvm_stats_header *h, size_t *dsize)
{
	uint8_t *descs;

	if (pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h) || h->num_desc == 0 ||
	    h->num_desc > 4096 || h->name_size == 0 || h->name_size > 1024)
		return NULL;
	*dsize = sizeof(struct kvm_stats_desc) + h->name_size;
	descs = malloc(*dsize * h->num_desc);
	if (!descs)
		return NULL;
	if (pread(fd, descs, *dsize * h->num_desc, h->desc_offset) !=
	    (ssize_t)(*dsize * h->num_desc)) {
		free(descs);
		return NULL;
	}
	for (uint32_t i = 0; i < h->num_desc; i++)
		((struct kvm_stats_desc *)(descs + i * *dsize))->name[h->name_size - 1] = 0;
	return descs;
}

static uint32_t read_stats(int fd, uint64_t out[CVM_KVM_NSTATS])
{
	struct kvm_stats_header h;
	size_t dsize;
	uint8_t *descs = read_descs(fd, &h, &dsize);
	uint32_t found = 0;

	if (!descs)
		return 0;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (struct kvm_stats_desc *)(descs + i * dsize);
		for (unsigned int k = 0; k < CVM_KVM_NSTATS; k++) {
			uint64_t v;
			if (strcmp(d->name, cvm_kvm_stat_names[k]) || d->size < 1)
				continue;
			if (pread(fd, &v, sizeof(v), (off_t)h.data_offset + d->offset) ==
			    (ssize_t)sizeof(v)) {
				out[k] = v;
				found |= 1u << k;
			}
		}
	}
	free(descs);
	return found;
}

uint32_t cvm_kvm_vcpu_stats(int vcpu_fd, uint64_t out[CVM_KVM_NSTATS])
{
	int fd = ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
	uint32_t found;

	memset(out, 0, CVM_KVM_NSTATS * sizeof(out[0]));
	if (fd < 0)
		return 0;
	found = read_stats(fd, out);
	close(fd);
	return found;
}

int cvm_kvm_stat_open(int vcpu_fd, const char *name, uint64_t *off)
{
	int fd = ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
	struct kvm_stats_header h;
	size_t dsize;
	uint8_t *descs;

	if (fd < 0)
		return -errno;
	descs = read_descs(fd, &h, &dsize);
	for (uint32_t i = 0; descs && i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (struct kvm_stats_desc *)(descs + i * dsize);
		if (!strcmp(d->name, name) && d->size >= 1) {
			*off = h.data_offset + d->offset;
			free(descs);
			return fd;
		}
	}
	free(descs);
	close(fd);
	return -ENOENT;
}
