/* The VMM-owned I/O APIC: MMIO decoding, device lines and EOI around the core's I/O APIC, with a lock. */
#include "vmm/ioapic_user.h"

#include <errno.h>
#include <string.h>

#include <json-c/json.h>

void cvm_vioapic_init(struct cvm_vioapic *a, cvm_vioapic_deliver_fn deliver,
                      cvm_vioapic_rte_fn rte_changed, void *ctx)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	cvm_ioapic_reset(&a->io, 0);
	a->deliver = deliver;
	a->rte_changed = rte_changed;
	a->ctx = ctx;
}

void cvm_vioapic_destroy(struct cvm_vioapic *a)
{
	pthread_mutex_destroy(&a->lock);
}

/* Builds the messages of the pins in `mask` (lock held) into m[]; returns how many. */
static unsigned int collect(struct cvm_vioapic *a, uint32_t mask, struct cvm_apic_msg *m)
{
	unsigned int n = 0;

	for (unsigned int pin = 0; pin < CVM_IOAPIC_PINS; pin++) {
		if (!(mask & (1u << pin)))
			continue;
		cvm_ioapic_msg(&a->io, pin, &m[n++]);
		a->delivered[pin]++;
	}
	return n;
}

/* Releases the lock, then hands the collected messages out. */
static void unlock_and_deliver(struct cvm_vioapic *a, uint32_t mask)
{
	struct cvm_apic_msg m[CVM_IOAPIC_PINS];
	unsigned int n = mask ? collect(a, mask, m) : 0;

	pthread_mutex_unlock(&a->lock);
	for (unsigned int i = 0; i < n; i++)
		a->deliver(a->ctx, &m[i]);
}

void cvm_vioapic_mmio(struct cvm_vioapic *a, struct kvm_run *run)
{
	uint32_t off = (uint32_t)(run->mmio.phys_addr - CVM_IOAPIC_DEFAULT_BASE);
	uint32_t len = run->mmio.len, val = 0, mask = 0;
	bool known = off == CVM_IOAPIC_REGSEL || off == CVM_IOAPIC_WIN || off == CVM_IOAPIC_EOIREG;

	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	pthread_mutex_lock(&a->lock);
	if (!known || (len != 1 && len != 2 && len != 4)) {
		a->mmio_ignored++;
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0, len);
		pthread_mutex_unlock(&a->lock);
		return;
	}
	if (run->mmio.is_write) {
		a->mmio_writes++;
		memcpy(&val, run->mmio.data, len);
		mask = cvm_ioapic_write(&a->io, off, val);
		if (off == CVM_IOAPIC_WIN && a->io.regsel >= 0x10 && a->rte_changed)
			a->rte_changed(a->ctx, &a->io);
	} else {
		a->mmio_reads++;
		val = cvm_ioapic_read(&a->io, off);
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
		memcpy(run->mmio.data, &val, len);
	}
	unlock_and_deliver(a, mask);
}

int cvm_vioapic_set_irq(struct cvm_vioapic *a, unsigned int pin, bool level)
{
	uint32_t mask;

	pthread_mutex_lock(&a->lock);
	if (pin >= CVM_IOAPIC_PINS) {
		a->refused_lines++;
		pthread_mutex_unlock(&a->lock);
		return -EINVAL;
	}
	a->line_changes++;
	mask = cvm_ioapic_set_irq(&a->io, pin, level);
	unlock_and_deliver(a, mask);
	return 0;
}

void cvm_vioapic_eoi(struct cvm_vioapic *a, uint8_t vector)
{
	uint32_t mask;

	pthread_mutex_lock(&a->lock);
	a->eois++;
	mask = cvm_ioapic_eoi(&a->io, vector);
	unlock_and_deliver(a, mask);
}

bool cvm_vioapic_can_wake_blocked(struct cvm_vioapic *a)
{
	bool r = false;

	pthread_mutex_lock(&a->lock);
	for (unsigned int pin = 0; pin < CVM_IOAPIC_PINS && !r; pin++) {
		uint64_t e = a->io.rte[pin];
		unsigned int dm = (unsigned int)(e >> CVM_RTE_DM_SHIFT) & 7u;
		r = !(e & CVM_RTE_MASKED) && dm != CVM_DM_FIXED && dm != CVM_DM_LOWEST;
	}
	pthread_mutex_unlock(&a->lock);
	return r;
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

void cvm_vioapic_stats(struct cvm_vioapic *a, struct json_object *vm_obj)
{
	struct json_object *o = json_object_new_object();
	struct json_object *pins = json_object_new_array();

	add_u64(o, "mmio_reads", a->mmio_reads);
	add_u64(o, "mmio_writes", a->mmio_writes);
	add_u64(o, "mmio_ignored", a->mmio_ignored);
	add_u64(o, "line_changes", a->line_changes);
	add_u64(o, "refused_lines", a->refused_lines);
	add_u64(o, "eois", a->eois);
	for (unsigned int pin = 0; pin < CVM_IOAPIC_PINS; pin++)
		json_object_array_add(pins, json_object_new_uint64(a->delivered[pin]));
	json_object_object_add(o, "delivered", pins);
	json_object_object_add(vm_obj, "ioapic", o);
}
