/*
 * The KVM backend on real KVM with hand-made guests (tests/vmm/snippets.S): exit
 * status propagation, string port I/O, SMP bring-up by INIT-SIPI-SIPI with the
 * EAGAIN return of UNINITIALIZED APs, triple fault, timeout with kicks, ucall
 * validation and unhandled MMIO. Skips (77) without a usable /dev/kvm.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/vm_internal.h"

#define SNIP(n) extern const uint8_t n[], n##_end[]
SNIP(snip_exit);
SNIP(snip_string_io);
SNIP(snip_smp_bsp);
SNIP(snip_smp_ap);
SNIP(snip_triple_fault);
SNIP(snip_spin);
SNIP(snip_ucall);
SNIP(snip_mmio);

#define ENTRY 0x100000u
#define MAXV  256

/* What the test's port handler saw. */
struct ports {
	struct cvm_vm *vm;
	uint8_t serial[64];
	unsigned int nserial;
	uint16_t next_word;
	unsigned int reports[MAXV]; /* port 0xe8 writes per vCPU */
	uint32_t last_report[MAXV];
};

static void test_pio(void *ctx, unsigned int vcpu, uint16_t port, unsigned int size, bool is_write,
                     uint32_t *val)
{
	struct ports *p = ctx;

	if (is_write && port == 0xf4)
		cvm_vm_request_end(p->vm, (int)((*val << 1) | 1), "debug-exit");
	else if (is_write && port == 0x3f8 && size == 1 && p->nserial < sizeof(p->serial))
		p->serial[p->nserial++] = (uint8_t)*val;
	else if (!is_write && port == 0xe9 && size == 2)
		*val = p->next_word++;
	else if (is_write && port == 0xe8 && vcpu < MAXV) {
		p->reports[vcpu]++;
		p->last_report[vcpu] = *val;
	}
}

struct run {
	struct cvm_gmem gm;
	struct cvm_vm *vm;
	struct ports ports;
	int status;
};

/* Maps RAM, places `code` at ENTRY (and `ap` at 0x8000), creates the VM. */
static void setup(struct run *r, unsigned int ncpus, const uint8_t *code, const uint8_t *code_end,
                  const uint8_t *ap, const uint8_t *ap_end)
{
	struct cvm_vm_config cfg = {.ncpus = ncpus, .gmem = &r->gm};
	struct cvm_boot_entry entry = {.protocol = CVM_BOOT_MULTIBOOT, .eip = ENTRY};

	memset(r, 0, sizeof(*r));
	assert_int_equal(cvm_ram_map(16 << 20, &r->gm), 0);
	memcpy(cvm_gmem_ptr(&r->gm, ENTRY, 4096), code, (size_t)(code_end - code));
	if (ap)
		memcpy(cvm_gmem_ptr(&r->gm, 0x8000, 4096), ap, (size_t)(ap_end - ap));
	cfg.gmem = &r->gm;
	assert_int_equal(cvm_vm_create(&cfg, &entry, &r->vm), 0);
	r->ports.vm = r->vm;
	cvm_vm_set_pio(r->vm, test_pio, &r->ports);
}

static void run(struct run *r, uint64_t timeout_ns)
{
	struct cvm_run_opts opts = {.timeout_ns = timeout_ns};
	r->status = cvm_vm_run(r->vm, &opts);
}

static void teardown(struct run *r)
{
	cvm_vm_destroy(r->vm);
	cvm_ram_unmap(&r->gm);
}

#define TIMEOUT (60ull * 1000000000ull) /* generous: the machine is shared and noisy */

static void test_debug_exit_status(void **state)
{
	struct run r;

	setup(&r, 1, snip_exit, snip_exit_end, NULL, NULL);
	run(&r, TIMEOUT);
	assert_int_equal(r.status, (0x21 << 1) | 1);
	assert_string_equal(r.vm->end_why, "debug-exit");
	assert_int_equal(r.vm->vcpu[0].stats.exits[KVM_EXIT_IO], 1);
	teardown(&r);
}

static void test_string_io(void **state)
{
	struct run r;

	setup(&r, 1, snip_string_io, snip_string_io_end, NULL, NULL);
	memcpy(cvm_gmem_ptr(&r.gm, 0x7000, 5), "hello", 5);
	r.ports.next_word = 0x1234;
	run(&r, TIMEOUT);
	assert_int_equal(r.status, 1);
	assert_int_equal(r.ports.nserial, 5);
	assert_memory_equal(r.ports.serial, "hello", 5);
	const uint16_t *w = cvm_gmem_ptr(&r.gm, 0x7100, 6);
	assert_int_equal(w[0], 0x1234);
	assert_int_equal(w[1], 0x1235);
	assert_int_equal(w[2], 0x1236);
	assert_int_equal(r.vm->vcpu[0].stats.io_out, 5 + 1);
	assert_int_equal(r.vm->vcpu[0].stats.io_in, 3);
	teardown(&r);
}

static void smp(unsigned int n)
{
	struct run r;
	uint32_t want = n - 1;

	setup(&r, n, snip_smp_bsp, snip_smp_bsp_end, snip_smp_ap, snip_smp_ap_end);
	memcpy(cvm_gmem_ptr(&r.gm, 0x7004, 4), &want, 4);
	run(&r, TIMEOUT);
	assert_int_equal(r.status, 1);
	assert_int_equal(r.ports.reports[0], 0);
	for (unsigned int i = 1; i < n; i++) {
		assert_int_equal(r.ports.reports[i], 1);
		assert_int_equal(r.ports.last_report[i], i & 0xff);
		/* Every AP was entered UNINITIALIZED and woken by INIT. */
		assert_true(r.vm->vcpu[i].stats.eagain + r.vm->vcpu[i].stats.eintr >= 1);
	}
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(atomic_load(&r.vm->vcpu[i].state), CVM_VCPU_DONE);
	teardown(&r);
}

static void test_smp_2(void **state)
{
	smp(2);
}

static void test_smp_8(void **state)
{
	smp(8);
}

static void test_smp_64(void **state)
{
	smp(64);
}

static void test_triple_fault(void **state)
{
	struct run r;

	setup(&r, 1, snip_triple_fault, snip_triple_fault_end, NULL, NULL);
	run(&r, TIMEOUT);
	assert_int_equal(r.status, CVM_EXIT_TRIPLE_FAULT);
	teardown(&r);
}

static void test_timeout_stops_every_thread(void **state)
{
	struct run r;

	/* The BSP spins in the guest; the APs sit UNINITIALIZED inside KVM_RUN. */
	setup(&r, 4, snip_spin, snip_spin_end, NULL, NULL);
	run(&r, 200ull * 1000000);
	assert_int_equal(r.status, CVM_EXIT_TIMEOUT);
	assert_int_equal(r.vm->threads_stuck, 0);
	for (unsigned int i = 0; i < 4; i++) {
		assert_int_equal(atomic_load(&r.vm->vcpu[i].state), CVM_VCPU_DONE);
		assert_int_equal(r.vm->vcpu[i].stats.state_entries[CVM_VCPU_EXITING], 1);
	}
	assert_int_equal(r.vm->vcpu[1].stats.mp_state, KVM_MP_STATE_UNINITIALIZED);
	teardown(&r);
}

static void put_ucall(struct run *r, uint64_t gpa, uint32_t cmd, uint64_t a0, uint64_t a1)
{
	struct cvm_ucall uc = {.cmd = cmd, .line = 42, .args = {a0, a1, 7, 8}};

	memcpy(uc.file, "guest.c", 7);
	memset(uc.msg, 'x', sizeof(uc.msg)); /* not NUL-terminated: the host must bound it */
	memcpy(cvm_gmem_ptr(&r->gm, gpa, sizeof(uc)), &uc, sizeof(uc));
}

static void test_ucall_report_and_done(void **state)
{
	struct run r;

	setup(&r, 1, snip_ucall, snip_ucall_end, NULL, NULL);
	put_ucall(&r, 0x7200, CVM_UCALL_REPORT, CVM_STAGE_USER, 0xabc);
	put_ucall(&r, 0x7300, CVM_UCALL_DONE, 0, 0);
	run(&r, TIMEOUT);
	assert_int_equal(r.status, CVM_EXIT_OK);
	const struct cvm_vcpu_stats *s = &r.vm->vcpu[0].stats;
	assert_int_equal(s->ucall_bad, 2);
	assert_int_equal(s->ucall_reports, 1);
	assert_int_equal(s->nreports_kept, 1);
	assert_int_equal(s->report[0].stage, CVM_STAGE_USER);
	assert_int_equal(s->report[0].args[0], 0xabc);
	assert_int_equal(s->report[0].line, 42);
	assert_int_equal(s->ucall_done, 1);
	teardown(&r);
}

static void test_ucall_assert(void **state)
{
	struct run r;

	setup(&r, 1, snip_ucall, snip_ucall_end, NULL, NULL);
	put_ucall(&r, 0x7200, CVM_UCALL_PRINT, 0, 0);
	put_ucall(&r, 0x7300, CVM_UCALL_ASSERT, 1, 2);
	run(&r, TIMEOUT);
	assert_int_equal(r.status, CVM_EXIT_GUEST_ASSERT);
	assert_int_equal(r.vm->vcpu[0].stats.ucall_asserts, 1);
	assert_int_equal(r.vm->vcpu[0].stats.ucall_prints, 1);
	teardown(&r);
}

static void test_unhandled_mmio(void **state)
{
	struct run r;

	setup(&r, 1, snip_mmio, snip_mmio_end, NULL, NULL);
	run(&r, TIMEOUT);
	assert_int_equal(r.status, 1);
	assert_int_equal(r.ports.reports[0], 1);
	assert_int_equal(r.ports.last_report[0], 0xffffffffu);
	assert_int_equal(r.vm->nmmio, 1);
	assert_int_equal(r.vm->mmio[0].page, 0xd0000000ull >> 12);
	assert_int_equal(r.vm->mmio[0].reads, 1);
	assert_int_equal(r.vm->mmio[0].writes, 1);
	teardown(&r);
}

static void test_too_many_vcpus(void **state)
{
	struct cvm_gmem gm;
	struct cvm_vm *vm = (struct cvm_vm *)1;
	struct cvm_vm_config cfg = {.ncpus = CVM_VM_MAX_CPUS + 1, .gmem = &gm};
	struct cvm_boot_entry entry = {.eip = ENTRY};

	assert_int_equal(cvm_ram_map(1 << 20, &gm), 0);
	assert_int_equal(cvm_vm_create(&cfg, &entry, &vm), -E2BIG);
	assert_null(vm);
	cvm_ram_unmap(&gm);
}

static void test_missing_device(void **state)
{
	struct cvm_gmem gm;
	struct cvm_vm *vm;
	struct cvm_vm_config cfg = {.ncpus = 1, .gmem = &gm, .kvm_dev = "/nonexistent/kvm"};
	struct cvm_boot_entry entry = {.eip = ENTRY};

	assert_int_equal(cvm_ram_map(1 << 20, &gm), 0);
	assert_int_equal(cvm_vm_create(&cfg, &entry, &vm), -ENODEV);
	cfg.kvm_dev = "/dev/null"; /* exists, but is not KVM */
	assert_int_equal(cvm_vm_create(&cfg, &entry, &vm), -ENODEV);
	cvm_ram_unmap(&gm);
}

int main(void)
{
	const char *dev = getenv(CVM_KVM_DEV_ENV) ? getenv(CVM_KVM_DEV_ENV) : CVM_KVM_DEV_DEFAULT;
	int fd = open(dev, O_RDWR | O_CLOEXEC);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_debug_exit_status),
	        cmocka_unit_test(test_string_io),
	        cmocka_unit_test(test_smp_2),
	        cmocka_unit_test(test_smp_8),
	        cmocka_unit_test(test_smp_64),
	        cmocka_unit_test(test_triple_fault),
	        cmocka_unit_test(test_timeout_stops_every_thread),
	        cmocka_unit_test(test_ucall_report_and_done),
	        cmocka_unit_test(test_ucall_assert),
	        cmocka_unit_test(test_unhandled_mmio),
	        cmocka_unit_test(test_too_many_vcpus),
	        cmocka_unit_test(test_missing_device),
	};

	if (fd < 0) {
		printf("SKIP: %s: %s (these tests need KVM)\n", dev, strerror(errno));
		return 77;
	}
	close(fd);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
