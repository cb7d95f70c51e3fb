/*
 * Unit tests for the KVM backend without KVM: exit decoding on fabricated
 * struct kvm_run (port I/O incl. string I/O, MMIO, shutdown, errors, ucalls with
 * hostile addresses), the CPUID topology, the RAM layout and the statistics JSON.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "host/place_ctl.h"
#include "vmm/cpuid.h"
#include "vmm/vm_internal.h"

#define RUN_SIZE 12288
#define RAM_SIZE (1u << 20)

struct fixture {
	struct cvm_vm vm;
	struct cvm_vcpu vcpu[2];
	uint8_t *ram;
	struct kvm_run *run;
	/* What the port handler saw. */
	unsigned int naccess;
	uint16_t port[64];
	unsigned int size[64];
	bool write[64];
	uint32_t val[64];
	uint32_t next_in;
};

static void fake_pio(void *ctx, unsigned int vcpu, uint16_t port, unsigned int size, bool is_write,
                     uint32_t *val)
{
	struct fixture *f = ctx;
	unsigned int i = f->naccess++;

	assert_true(i < 64);
	assert_int_equal(*val == UINT32_MAX || is_write, true); /* reads pre-filled with ones */
	f->port[i] = port;
	f->size[i] = size;
	f->write[i] = is_write;
	if (is_write)
		f->val[i] = *val;
	else
		*val = f->next_in++;
	if (is_write && port == 0xf4)
		cvm_vm_request_end(&f->vm, (int)((*val << 1) | 1), "debug-exit");
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->ram = calloc(1, RAM_SIZE);
	f->run = aligned_alloc(4096, RUN_SIZE);
	memset(f->run, 0, RUN_SIZE);
	cvm_ram_layout(RAM_SIZE, f->ram, &f->vm.gmem);
	f->vm.ncpus = 2;
	f->vm.vcpu = f->vcpu;
	f->vm.irqchip = &cvm_irqchip_kernel_ops;
	f->vm.wake_fd = -1;
	f->vm.pio = fake_pio;
	f->vm.pio_ctx = f;
	f->vm.con.out_fd = -1;
	pthread_mutex_init(&f->vm.dev_lock, NULL);
	atomic_init(&f->vm.end_status, -1);
	atomic_init(&f->vm.prints_left, 256);
	for (unsigned int i = 0; i < 2; i++) {
		f->vcpu[i].vm = &f->vm;
		f->vcpu[i].fd = -1;
		f->vcpu[i].index = i;
		f->vcpu[i].run = f->run;
		f->vcpu[i].run_size = RUN_SIZE;
		f->vcpu[i].stats.mp_state = -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pthread_mutex_destroy(&f->vm.dev_lock);
	free(f->run);
	free(f->ram);
	free(f);
	return 0;
}

static uint8_t *io_exit(struct fixture *f, uint8_t dir, uint16_t port, uint8_t size, uint32_t count)
{
	f->run->exit_reason = KVM_EXIT_IO;
	f->run->io.direction = dir;
	f->run->io.port = port;
	f->run->io.size = size;
	f->run->io.count = count;
	f->run->io.data_offset = 4096;
	return (uint8_t *)f->run + 4096;
}

static void test_io_out_single(void **state)
{
	struct fixture *f = *state;
	uint8_t *d = io_exit(f, KVM_EXIT_IO_OUT, 0x3f8, 1, 1);

	d[0] = 'A';
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_CONTINUE);
	assert_int_equal(f->naccess, 1);
	assert_int_equal(f->port[0], 0x3f8);
	assert_int_equal(f->size[0], 1);
	assert_true(f->write[0]);
	assert_int_equal(f->val[0], 'A');
	assert_int_equal(f->vcpu[0].stats.exits[KVM_EXIT_IO], 1);
	assert_int_equal(f->vcpu[0].stats.io_out, 1);
}

static void test_io_string_out_and_in(void **state)
{
	struct fixture *f = *state;
	uint8_t *d = io_exit(f, KVM_EXIT_IO_OUT, 0x80, 2, 3);
	const uint16_t words[3] = {0x1111, 0x2222, 0x3333};

	memcpy(d, words, sizeof(words));
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_CONTINUE);
	assert_int_equal(f->naccess, 3);
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(f->val[i], words[i]);
		assert_int_equal(f->size[i], 2);
	}

	d = io_exit(f, KVM_EXIT_IO_IN, 0x71, 4, 4);
	memset(d, 0, 16);
	f->next_in = 0xa0000001;
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_CONTINUE);
	for (unsigned int i = 0; i < 4; i++) {
		uint32_t v;
		memcpy(&v, d + 4 * i, 4);
		assert_int_equal(v, 0xa0000001 + i);
	}
	/* A 1-byte IN writes exactly one byte of the data area. */
	d = io_exit(f, KVM_EXIT_IO_IN, 0x71, 1, 1);
	memset(d, 0x5a, 4);
	f->next_in = 0x12345678;
	cvm_vcpu_handle_exit(&f->vcpu[0]);
	assert_int_equal(d[0], 0x78);
	assert_int_equal(d[1], 0x5a);
	assert_int_equal(f->vcpu[0].stats.io_string, 2);
	assert_int_equal(f->vcpu[0].stats.io_in, 5);
}

static void test_io_malformed_exits_are_refused(void **state)
{
	struct fixture *f = *state;

	io_exit(f, KVM_EXIT_IO_OUT, 0x80, 3, 1); /* size 3 */
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_STOP);
	assert_int_equal(atomic_load(&f->vm.end_status), CVM_EXIT_FAILURE);
	assert_int_equal(f->naccess, 0);

	atomic_store(&f->vm.end_claimed, 0);
	atomic_store(&f->vm.end_status, -1);
	io_exit(f, KVM_EXIT_IO_OUT, 0x80, 4, 2049); /* 4 bytes past the end of the mapping */
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_STOP);
	assert_int_equal(f->naccess, 0);

	atomic_store(&f->vm.end_claimed, 0);
	atomic_store(&f->vm.end_status, -1);
	io_exit(f, KVM_EXIT_IO_OUT, 0x80, 1, 1);
	f->run->io.data_offset = RUN_SIZE; /* at the very end */
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_STOP);
	f->run->io.data_offset = UINT64_MAX;
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_STOP);
	assert_int_equal(f->naccess, 0);
}

static void test_io_ending_the_vm_stops_the_vcpu(void **state)
{
	struct fixture *f = *state;
	uint8_t *d = io_exit(f, KVM_EXIT_IO_OUT, 0xf4, 4, 1);
	uint32_t v = 3;

	memcpy(d, &v, 4);
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_STOP);
	assert_int_equal(atomic_load(&f->vm.end_status), 7);
	/* The first reason to end wins. */
	assert_false(cvm_vm_request_end(&f->vm, CVM_EXIT_TIMEOUT, "timeout"));
	assert_int_equal(atomic_load(&f->vm.end_status), 7);
	assert_string_equal(f->vm.end_why, "debug-exit");
}

static void test_mmio_unhandled(void **state)
{
	struct fixture *f = *state;

	f->run->exit_reason = KVM_EXIT_MMIO;
	f->run->mmio.phys_addr = 0xd0000010;
	f->run->mmio.len = 4;
	f->run->mmio.is_write = 0;
	memset(f->run->mmio.data, 0, 8);
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_CONTINUE);
	assert_int_equal(f->run->mmio.data[0], 0xff);
	assert_int_equal(f->run->mmio.data[3], 0xff);
	assert_int_equal(f->run->mmio.data[4], 0);
	f->run->mmio.is_write = 1;
	f->run->mmio.phys_addr = 0xd0000ff8;
	cvm_vcpu_handle_exit(&f->vcpu[0]);
	f->run->mmio.phys_addr = 0xfed00000;
	f->run->mmio.len = 200; /* hostile length: clamped to the data field */
	f->run->mmio.is_write = 0;
	cvm_vcpu_handle_exit(&f->vcpu[0]);
	assert_int_equal(f->vm.nmmio, 2);
	assert_int_equal(f->vm.mmio[0].page, 0xd0000);
	assert_int_equal(f->vm.mmio[0].reads, 1);
	assert_int_equal(f->vm.mmio[0].writes, 1);
	assert_int_equal(f->vm.mmio[1].reads, 1);
	assert_int_equal(f->vcpu[0].stats.mmio_read, 2);
	assert_int_equal(f->vcpu[0].stats.mmio_write, 1);
	/* Beyond the tracked pages, accesses are still counted. */
	for (unsigned int i = 0; i < CVM_MMIO_PAGES_TRACKED + 5; i++) {
		f->run->mmio.phys_addr = 0xe0000000 + 4096ull * i;
		cvm_vcpu_handle_exit(&f->vcpu[0]);
	}
	assert_int_equal(f->vm.nmmio, CVM_MMIO_PAGES_TRACKED);
	assert_int_equal(f->vm.mmio_untracked, 7);
}

static void expect_end(struct fixture *f, uint32_t reason, int status)
{
	f->run->exit_reason = reason;
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[1]), CVM_VACT_STOP);
	assert_int_equal(atomic_load(&f->vm.end_status), status);
}

static void test_shutdown(void **state)
{
	expect_end(*state, KVM_EXIT_SHUTDOWN, CVM_EXIT_TRIPLE_FAULT);
}

static void test_internal_error(void **state)
{
	struct fixture *f = *state;

	f->run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	f->run->internal.ndata = 1000; /* hostile count: bounded by the array */
	expect_end(f, KVM_EXIT_INTERNAL_ERROR, CVM_EXIT_GUEST_ERROR);
}

static void test_fail_entry(void **state)
{
	expect_end(*state, KVM_EXIT_FAIL_ENTRY, CVM_EXIT_GUEST_ERROR);
}

/* Fake CPU-set syscalls: the calling thread "runs" on the first CPU of its set. */
static uint64_t fake_mask[CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)];

static int fake_set(void *ctx, const uint64_t *mask)
{
	memcpy(fake_mask, mask, sizeof(fake_mask));
	return 0;
}

static int fake_get(void *ctx, uint64_t *mask)
{
	memcpy(mask, fake_mask, sizeof(fake_mask));
	return 0;
}

static int fake_getcpu(void *ctx)
{
	return (int)cvm_bitmap_next(fake_mask, CVM_MAX_HOST_CPUS, 0);
}

static pid_t fake_tid(void *ctx)
{
	return 4242;
}

static int no_probe(struct cvm_prober *p, unsigned int cpu, uint64_t token)
{
	return -ENODEV;
}

/* With placement, a failed entry quarantines that CPU and runs again, a bounded number of times. */
static void test_fail_entry_with_placement(void **state)
{
	struct fixture *f = *state;
	static const struct cvm_affinity_ops aff = {fake_set, fake_get, fake_getcpu, fake_tid,
	                                            NULL};
	struct cvm_prober prober = {.start = no_probe};
	struct cvm_host_topology *t = calloc(1, sizeof(*t));
	struct cvm_placement *p = calloc(1, sizeof(*p));
	uint64_t q[CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)];
	struct cvm_place_ctl *ctl;

	assert_int_equal(cvm_topology_synth(t, 1, 4, 1), 0);
	struct cvm_place_ctl_config cfg = {
	        .topo = t, .max_entry_failures = 1, .affinity = &aff, .prober = &prober};
	cvm_place_request_init(&cfg.req, CVM_PLACE_PIN, 2);
	cfg.req.affinity_given = true;
	cvm_bitmap_fill(cfg.req.affinity, 4);
	assert_int_equal(cvm_place_ctl_create(&cfg, &ctl), 0);
	assert_int_equal(cvm_vm_set_placement(&f->vm, ctl), 0);
	assert_true(cvm_vcpu_place(&f->vcpu[0]));
	assert_int_equal(fake_getcpu(NULL), 0);

	f->run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	f->run->fail_entry.hardware_entry_failure_reason = 7;
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_CONTINUE);
	assert_int_equal(atomic_load(&f->vm.end_status), -1);
	cvm_place_ctl_snapshot(ctl, p, NULL, q, NULL);
	assert_true(cvm_bit_test(q, 0));
	assert_int_equal(p->vcpu[0].cpu, 2);    /* a free core */
	assert_int_equal(fake_getcpu(NULL), 2); /* the thread re-pinned itself */

	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_STOP);
	assert_int_equal(atomic_load(&f->vm.end_status), CVM_EXIT_GUEST_ERROR);
	struct json_object *root = cvm_vm_stats_json(&f->vm);
	struct json_object *pl = json_object_object_get(root, "placement");
	assert_non_null(pl);
	assert_int_equal(json_object_get_int(json_object_object_get(pl, "entry_failures")), 2);
	assert_true(json_object_get_boolean(json_object_object_get(pl, "failed")));
	json_object_put(root);
	f->vm.placement = NULL;
	cvm_place_ctl_destroy(ctl);
	free(p);
	free(t);
}

static void test_unknown_exit(void **state)
{
	struct fixture *f = *state;

	expect_end(f, 9999, CVM_EXIT_GUEST_ERROR);
	assert_int_equal(f->vcpu[1].stats.exits_other, 1);
}

static void test_hlt_is_unexpected_with_kernel_irqchip(void **state)
{
	expect_end(*state, KVM_EXIT_HLT, CVM_EXIT_GUEST_ERROR);
}

static void test_system_event_reset(void **state)
{
	struct fixture *f = *state;

	f->run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	expect_end(f, KVM_EXIT_SYSTEM_EVENT, CVM_EXIT_RESET);
}

static void ucall_out(struct fixture *f, uint32_t gpa)
{
	uint8_t *d = io_exit(f, KVM_EXIT_IO_OUT, CVM_PORT_UCALL, 4, 1);
	memcpy(d, &gpa, 4);
}

static void put_ucall(struct fixture *f, uint64_t gpa, uint32_t cmd)
{
	struct cvm_ucall uc = {.cmd = cmd, .line = 9, .args = {CVM_STAGE_AP_ONLINE, 5, 6, 7}};

	memcpy(uc.file, "f.c\x1b[2J", 8); /* control characters are not passed to the terminal */
	memcpy(f->ram + gpa, &uc, sizeof(uc));
}

static void test_ucall_hostile_addresses(void **state)
{
	struct fixture *f = *state;
	const uint32_t bad[] = {
	        0x1004,                         /* misaligned */
	        RAM_SIZE,                       /* just past RAM */
	        RAM_SIZE - 8,                   /* straddles the end of RAM */
	        0xfffffff8,                     /* far outside */
	        (uint32_t)CVM_GUEST_LAPIC_BASE, /* MMIO hole */
	};

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ucall_out(f, bad[i]);
		assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_CONTINUE);
	}
	/* Wrong access size and repeated OUT are refused too. */
	put_ucall(f, 0x1000, CVM_UCALL_DONE);
	io_exit(f, KVM_EXIT_IO_OUT, CVM_PORT_UCALL, 2, 1);
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_CONTINUE);
	io_exit(f, KVM_EXIT_IO_OUT, CVM_PORT_UCALL, 4, 2);
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_CONTINUE);
	/* An unknown command. */
	put_ucall(f, 0x2000, 77);
	ucall_out(f, 0x2000);
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_CONTINUE);
	/* An IN from the port reads all ones and is refused. */
	uint8_t *d = io_exit(f, KVM_EXIT_IO_IN, CVM_PORT_UCALL, 4, 1);
	memset(d, 0, 4);
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_CONTINUE);
	assert_int_equal(d[0], 0xff);
	assert_int_equal(f->vcpu[0].stats.ucall_bad, 9);
	assert_int_equal(atomic_load(&f->vm.end_status), -1);
	assert_int_equal(f->naccess, 0); /* never passed to the devices */
}

static void test_ucall_reports_bounded(void **state)
{
	struct fixture *f = *state;

	put_ucall(f, 0x3000, CVM_UCALL_REPORT);
	for (unsigned int i = 0; i < CVM_VCPU_REPORTS_KEPT + 10; i++) {
		ucall_out(f, 0x3000);
		assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[1]), CVM_VACT_CONTINUE);
	}
	assert_int_equal(f->vcpu[1].stats.ucall_reports, CVM_VCPU_REPORTS_KEPT + 10);
	assert_int_equal(f->vcpu[1].stats.nreports_kept, CVM_VCPU_REPORTS_KEPT);
	assert_int_equal(f->vcpu[1].stats.report[0].stage, CVM_STAGE_AP_ONLINE);
	assert_int_equal(f->vcpu[1].stats.report[0].args[0], 5);
	assert_int_equal(f->vcpu[1].stats.report[0].args[2], 7);
	assert_int_equal(f->vcpu[0].stats.ucall_reports, 0);
}

static void test_ucall_done_and_assert(void **state)
{
	struct fixture *f = *state;

	put_ucall(f, 0x3000, CVM_UCALL_ASSERT);
	ucall_out(f, 0x3000);
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[1]), CVM_VACT_STOP);
	assert_int_equal(atomic_load(&f->vm.end_status), CVM_EXIT_GUEST_ASSERT);
	/* A DONE after the assertion does not change the outcome. */
	put_ucall(f, 0x3100, CVM_UCALL_DONE);
	ucall_out(f, 0x3100);
	assert_int_equal(cvm_vcpu_handle_exit(&f->vcpu[0]), CVM_VACT_STOP);
	assert_int_equal(atomic_load(&f->vm.end_status), CVM_EXIT_GUEST_ASSERT);
	assert_int_equal(f->vcpu[0].stats.ucall_done, 1);
}

static void test_ram_layout(void **state)
{
	struct cvm_gmem gm;

	cvm_ram_layout(128 << 20, NULL, &gm);
	assert_int_equal(gm.nregions, 1);
	assert_int_equal(gm.region[0].size, 128 << 20);
	cvm_ram_layout(3ull << 30, NULL, &gm);
	assert_int_equal(gm.nregions, 1);
	cvm_ram_layout(5ull << 30, (uint8_t *)0x1000, &gm);
	assert_int_equal(gm.nregions, 2);
	assert_int_equal(gm.region[0].gpa, 0);
	assert_int_equal(gm.region[0].size, 3ull << 30);
	assert_int_equal(gm.region[1].gpa, 4ull << 30);
	assert_int_equal(gm.region[1].size, 2ull << 30);
	assert_ptr_equal(gm.region[1].hva, (uint8_t *)0x1000 + (3ull << 30));
	assert_int_equal(gm.ram_size, 5ull << 30);
	assert_false(cvm_gmem_contains(&gm, 0xc0000000ull, 1)); /* the hole */
}

/* A table shaped like KVM's on an AMD host, with room to grow. */
static struct kvm_cpuid2 *amd_table(unsigned int cap)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + cap * sizeof(c->entries[0]));
	const struct kvm_cpuid_entry2 e[] = {
	        {.function = 0, .eax = 0xd, .ebx = 0x68747541},
	        {.function = 1, .ebx = 0x00020800, .edx = 0x078bfbff},
	        {.function = 0xb, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX},
	        {.function = 0x80000001, .ecx = 0x00400393},
	        {.function = 0x80000008, .ecx = 0x7001},
	        {.function = 0x8000001e},
	};
	memcpy(c->entries, e, sizeof(e));
	c->nent = sizeof(e) / sizeof(e[0]);
	return c;
}

static void test_cpuid_topology(void **state)
{
	struct kvm_cpuid2 *c = amd_table(16);
	struct kvm_cpuid_entry2 *e;

	assert_int_equal(cvm_cpuid_core_shift(1), 0);
	assert_int_equal(cvm_cpuid_core_shift(2), 1);
	assert_int_equal(cvm_cpuid_core_shift(5), 3);
	assert_int_equal(cvm_cpuid_core_shift(255), 8);
	assert_int_equal(cvm_cpuid_set_topology(c, 16, 6, 5), 0);
	e = cvm_cpuid_find(c, 1, 0);
	assert_int_equal(e->ebx >> 24, 5);
	assert_int_equal((e->ebx >> 16) & 0xff, 8);
	assert_int_equal(e->ebx & 0xffff, 0x0800); /* CLFLUSH size kept */
	assert_true(e->edx & (1u << 28));
	for (unsigned int sub = 0; sub < 3; sub++) {
		e = cvm_cpuid_find(c, 0xb, sub);
		assert_non_null(e);
		assert_int_equal(e->edx, 5);
		assert_int_equal(e->ecx & 0xff, sub);
	}
	assert_int_equal(cvm_cpuid_find(c, 0xb, 0)->ebx, 1);
	assert_int_equal((cvm_cpuid_find(c, 0xb, 0)->ecx >> 8) & 0xff, 1);
	assert_int_equal(cvm_cpuid_find(c, 0xb, 1)->eax, 3);
	assert_int_equal(cvm_cpuid_find(c, 0xb, 1)->ebx, 6);
	assert_int_equal((cvm_cpuid_find(c, 0xb, 1)->ecx >> 8) & 0xff, 2);
	assert_int_equal((cvm_cpuid_find(c, 0xb, 2)->ecx >> 8) & 0xff, 0);
	assert_int_equal(cvm_cpuid_find(c, 0x80000008, 0)->ecx & 0xff, 5);
	assert_int_equal((cvm_cpuid_find(c, 0x80000008, 0)->ecx >> 12) & 0xf, 3);
	assert_int_equal(cvm_cpuid_find(c, 0x8000001e, 0)->eax, 5);
	/* Applying it again (another vCPU's copy) does not grow the table. */
	unsigned int n = c->nent;
	assert_int_equal(cvm_cpuid_set_topology(c, 16, 6, 2), 0);
	assert_int_equal(c->nent, n);
	assert_int_equal(cvm_cpuid_find(c, 0xb, 1)->edx, 2);
	/* No room for the topology leaves: refused, not overflowed. */
	struct kvm_cpuid2 *small = amd_table(6);
	assert_int_equal(cvm_cpuid_set_topology(small, 6, 2, 1), -ENOSPC);
	free(small);
	free(c);
}

static struct json_object *get(struct json_object *o, const char *key, json_type type)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("key '%s' missing", key);
	if (!json_object_is_type(v, type))
		fail_msg("key '%s' has type %s", key, json_type_to_name(json_object_get_type(v)));
	return v;
}

static void test_stats_schema(void **state)
{
	struct fixture *f = *state;
	struct json_object *root, *vm, *vcpus, *v, *uc;

	put_ucall(f, 0x3000, CVM_UCALL_REPORT);
	ucall_out(f, 0x3000);
	cvm_vcpu_handle_exit(&f->vcpu[1]);
	f->vcpu[1].stats.mp_state = KVM_MP_STATE_HALTED;
	f->run->exit_reason = KVM_EXIT_MMIO;
	f->run->mmio.phys_addr = 0xd0001000;
	cvm_vcpu_handle_exit(&f->vcpu[0]);
	cvm_vm_request_end(&f->vm, 5, "debug-exit");
	f->vm.boot_name = "pvh";

	root = cvm_vm_stats_json(&f->vm);
	assert_string_equal(json_object_get_string(get(root, "schema", json_type_string)),
	                    "corevm-stats/1");
	vm = get(root, "vm", json_type_object);
	assert_int_equal(json_object_get_int(get(vm, "cpus", json_type_int)), 2);
	assert_int_equal(json_object_get_int64(get(vm, "mem_bytes", json_type_int)), RAM_SIZE);
	assert_string_equal(json_object_get_string(get(vm, "irqchip", json_type_string)), "kernel");
	assert_string_equal(json_object_get_string(get(vm, "boot", json_type_string)), "pvh");
	assert_int_equal(json_object_get_int(get(vm, "exit_status", json_type_int)), 5);
	assert_string_equal(json_object_get_string(get(vm, "exit_cause", json_type_string)),
	                    "debug-exit");
	get(vm, "wall_ns", json_type_int);
	get(vm, "console_tx_bytes", json_type_int);
	struct json_object *mm = get(vm, "unhandled_mmio", json_type_array);
	assert_int_equal(json_object_array_length(mm), 1);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(mm, 0), "page",
	                                               json_type_string)),
	                    "0xd0001000");
	vcpus = get(root, "vcpus", json_type_array);
	assert_int_equal(json_object_array_length(vcpus), 2);
	v = json_object_array_get_idx(vcpus, 1);
	assert_int_equal(json_object_get_int(get(v, "index", json_type_int)), 1);
	assert_int_equal(json_object_get_int(get(v, "apic_id", json_type_int)), 1);
	assert_int_equal(
	        json_object_get_int(get(get(v, "exits", json_type_object), "io", json_type_int)),
	        1);
	assert_string_equal(json_object_get_string(get(v, "mp_state_at_exit", json_type_string)),
	                    "halted");
	get(v, "halts", json_type_null); /* not visible with the kernel irqchip */
	get(get(v, "state_entries", json_type_object), "running", json_type_int);
	uc = get(v, "ucall", json_type_object);
	assert_int_equal(json_object_get_int(get(uc, "reports", json_type_int)), 1);
	struct json_object *first = get(uc, "first_reports", json_type_array);
	assert_int_equal(json_object_array_length(first), 1);
	struct json_object *r0 = json_object_array_get_idx(first, 0);
	assert_int_equal(json_object_get_int(get(r0, "stage", json_type_int)), CVM_STAGE_AP_ONLINE);
	struct json_object *args = get(r0, "args", json_type_array);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(args, 0)), 5);
	json_object_put(root);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(test_io_out_single),
	        T(test_io_string_out_and_in),
	        T(test_io_malformed_exits_are_refused),
	        T(test_io_ending_the_vm_stops_the_vcpu),
	        T(test_mmio_unhandled),
	        T(test_shutdown),
	        T(test_internal_error),
	        T(test_fail_entry),
	        T(test_fail_entry_with_placement),
	        T(test_unknown_exit),
	        T(test_hlt_is_unexpected_with_kernel_irqchip),
	        T(test_system_event_reset),
	        T(test_ucall_hostile_addresses),
	        T(test_ucall_reports_bounded),
	        T(test_ucall_done_and_assert),
	        cmocka_unit_test(test_ram_layout),
	        cmocka_unit_test(test_cpuid_topology),
	        T(test_stats_schema),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
