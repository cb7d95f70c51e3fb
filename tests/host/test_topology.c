/* Unit tests for host/topology*.c: fixture sysfs trees, malformed trees, synthetic hosts, re-reading a CPU after hotplug. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "host_test.h"

static void core_is(const struct cvm_host_topology *t, unsigned int cpu, const char *siblings)
{
	uint64_t want[CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)],
	        got[CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)];
	int k = cvm_topology_core_of(t, cpu);
	assert_true(k >= 0);
	cpus(want, siblings);
	cvm_topology_core_cpus(t, (unsigned int)k, got);
	assert_string_equal(list_of(got), list_of(want));
}

static void test_1s4c2t(void **state)
{
	struct cvm_host_topology *t = read_fixture("1s4c2t");
	assert_int_equal(t->nr_cpus, 8);
	assert_string_equal(list_of(t->online), "0-7");
	assert_string_equal(list_of(t->possible), "0-7");
	assert_true(cvm_bitmap_empty(t->isolated, CVM_MAX_HOST_CPUS));
	assert_int_equal(t->smt_width, 2);
	assert_int_equal(t->nr_packages, 1);
	assert_int_equal(t->nr_nodes, 1);
	assert_string_equal(t->smt_control, "on");
	assert_int_equal(t->smt_active, 1);
	for (unsigned int c = 0; c < 4; c++) {
		char sib[16];
		snprintf(sib, sizeof(sib), "%u,%u", c, c + 4);
		core_is(t, c, sib);
		core_is(t, c + 4, sib);
		assert_int_equal(t->cpu[c].core_id, (int)c);
		assert_int_equal(t->cpu[c + 4].package, 0);
		assert_int_equal(t->cpu[c].node, 0);
	}
	assert_true(cvm_bitmap_empty(t->unknown, CVM_MAX_HOST_CPUS));
	char name[64];
	assert_string_equal(
	        cvm_topology_core_name(t, (unsigned int)t->cpu[6].core, name, sizeof(name)),
	        "core 2");
	free(t);
}

static void test_2s8c2t_holes(void **state)
{
	struct cvm_host_topology *t = read_fixture("2s8c2t-holes");
	assert_int_equal(t->nr_cpus, 40); /* possible 0-39 */
	assert_string_equal(list_of(t->present), "0-31");
	assert_string_equal(list_of(t->online), "0-2,4-18,20,22-27");
	assert_int_equal(t->nr_packages, 2);
	assert_int_equal(t->nr_nodes, 2);
	assert_int_equal(t->smt_width, 2);
	/* Offline since before the read: no core, node from the nodeN link. */
	assert_string_equal(list_of(t->unknown), "3,19,21,28-31");
	assert_int_equal(cvm_topology_core_of(t, 3), CVM_TOPO_NONE);
	assert_int_equal(t->cpu[21].node, 0);
	assert_int_equal(t->cpu[30].node, 1);
	/* A core whose second thread is offline looks like one thread, and may be partial. */
	core_is(t, 5, "5");
	assert_true(cvm_topology_core_maybe_partial(t, (unsigned int)t->cpu[5].core));
	core_is(t, 12, "12");
	core_is(t, 8, "8,24");
	assert_false(cvm_topology_core_maybe_partial(t, (unsigned int)t->cpu[8].core));
	assert_int_equal(t->cpu[24].package, 1);
	assert_int_equal(t->cpu[24].node, 1);
	char name[64];
	assert_string_equal(
	        cvm_topology_core_name(t, (unsigned int)t->cpu[26].core, name, sizeof(name)),
	        "package 1 core 2");
	/* CPUs 32-39 are possible but not present: never part of anything. */
	assert_int_equal(cvm_topology_core_of(t, 35), CVM_TOPO_NONE);
	assert_false(cvm_bit_test(t->unknown, 35));
	free(t);
}

static void test_nosmt(void **state)
{
	struct cvm_host_topology *t = read_fixture("nosmt");
	assert_int_equal(t->nr_cpus, 4);
	assert_int_equal(t->smt_width, 1);
	assert_string_equal(t->smt_control, "notsupported");
	assert_int_equal(t->smt_active, 0);
	for (unsigned int c = 0; c < 4; c++) {
		char s[4];
		snprintf(s, sizeof(s), "%u", c);
		core_is(t, c, s);
		assert_false(cvm_topology_core_maybe_partial(t, (unsigned int)t->cpu[c].core));
	}
	free(t);
}

static void test_isolated(void **state)
{
	struct cvm_host_topology *t = read_fixture("isolated");
	assert_string_equal(list_of(t->isolated), "2-3,6-7");
	assert_string_equal(list_of(t->online), "0-7");
	free(t);
}

/* A malformed tree is refused with one message naming the file. */
static void expect_bad(const char *root, int err_want, const char *path_part, const char *what)
{
	struct cvm_host_topology *t = calloc(1, sizeof(*t));
	char err[CVM_TOPO_ERR_LEN];
	int r = __cvm_topology_read(root, t, err, sizeof(err));
	if (r != err_want || !strstr(err, path_part) || !strstr(err, what))
		fail_msg("want %d naming '%s' and '%s', got %d: %s", err_want, path_part, what, r,
		         err);
	assert_null(strchr(err, '\n'));
	free(t);
}

static void test_malformed(void **state)
{
	const char *root = scratch_copy("1s4c2t");

	/* One file made bad at a time, then restored: {file, bad text, good text, error, what}. */
	static const struct {
		const char *rel, *bad, *good;
		int err;
		const char *path_part, *what;
	} cases[] = {
	        {"cpu/cpu3/topology/core_id", "three\n", "3\n", -EINVAL, "cpu3/topology/core_id",
	         "not an id: 'three'"},
	        {"cpu/cpu3/topology/core_id", "99999999999\n", "3\n", -EINVAL,
	         "cpu3/topology/core_id", "not an id"},
	        {"cpu/online", "0-7,x\n", "0-7\n", -EINVAL, "cpu/online", "not a CPU list"},
	        {"cpu/online", "0-2000\n", "0-7\n", -ERANGE, "cpu/online",
	         "beyond corevm's limit of 1024 host CPUs"},
	        {"cpu/online", "0-9\n", "0-7\n", -EINVAL, "cpu/online",
	         "lists cpu 8, which is not possible"},
	        {"cpu/possible", "0-1023,1024\n", "0-7\n", -ERANGE, "cpu/possible",
	         "beyond corevm's limit"},
	        {"cpu/possible", "\n", "0-7\n", -EINVAL, "cpu/possible", "lists no CPU"},
	        {"cpu/cpu1/topology/thread_siblings_list", "0,5\n", "1,5\n", -EINVAL,
	         "cpu1/topology/thread_siblings_list", "does not list cpu 1"},
	        {"cpu/cpu1/topology/thread_siblings_list", "1,4\n", "1,5\n", -EINVAL,
	         "thread_siblings_list", "disagrees"},
	        {"cpu/cpu1/topology/thread_siblings_list", "1-2,5\n", "1,5\n", -EINVAL,
	         "thread_siblings_list", "disagrees"},
	        {"cpu/cpu1/topology/thread_siblings_list", "1,5,9\n", "1,5\n", -EINVAL,
	         "cpu1/topology/thread_siblings_list", "not a possible CPU"},
	};
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		scratch_write(root, cases[i].rel, cases[i].bad);
		expect_bad(root, cases[i].err, cases[i].path_part, cases[i].what);
		scratch_write(root, cases[i].rel, cases[i].good);
	}

	scratch_remove(root, "cpu/cpu2/topology/physical_package_id");
	expect_bad(root, -ENOENT, "cpu2/topology/physical_package_id", "missing for an online CPU");
	scratch_write(root, "cpu/cpu2/topology/physical_package_id", "0\n");

	scratch_remove(root, "cpu/cpu6/topology");
	expect_bad(root, -ENOENT, "cpu6/topology", "missing for an online CPU");

	scratch_remove(root, "cpu/possible");
	expect_bad(root, -ENOENT, "cpu/possible", "missing");
	scratch_destroy(root);

	root = scratch_copy("nosmt");
	char big[9000];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	scratch_write(root, "cpu/isolated", big);
	expect_bad(root, -EFBIG, "cpu/isolated", "longer than");
	scratch_write(root, "cpu/isolated", "\n");
	scratch_write(root, "cpu/cpu1/node7", "");
	expect_bad(root, -EINVAL, "cpu/cpu1", "two NUMA nodes");
	scratch_remove(root, "cpu/cpu1/node7");
	scratch_write(root, "cpu/cpu1/node4096", "");
	expect_bad(root, -ERANGE, "cpu/cpu1/node4096", "beyond corevm's limit of 1024 NUMA nodes");
	scratch_remove(root, "cpu/cpu1/node4096");
	scratch_write(root, "cpu/cpu0/topology/thread_siblings_list", "0-8\n");
	expect_bad(root, -EINVAL, "cpu0/topology/thread_siblings_list", "not a possible CPU");
	scratch_destroy(root);

	/* Missing optional files are fine: no isolated list, no die/cluster, no smt/. */
	root = scratch_copy("nosmt");
	scratch_remove(root, "cpu/isolated");
	scratch_remove(root, "cpu/smt");
	scratch_remove(root, "cpu/cpu2/topology/die_id");
	scratch_remove(root, "cpu/cpu2/topology/thread_siblings_list");
	struct cvm_host_topology *t = calloc(1, sizeof(*t));
	char err[CVM_TOPO_ERR_LEN];
	assert_int_equal(__cvm_topology_read(root, t, err, sizeof(err)), 0);
	assert_int_equal(t->cpu[2].die, CVM_TOPO_NONE);
	assert_int_equal(t->smt_active, -1);
	assert_string_equal(t->smt_control, "");
	core_is(t, 2, "2"); /* from core_cpus_list */
	free(t);
	scratch_destroy(root);

	t = calloc(1, sizeof(*t));
	assert_int_equal(__cvm_topology_read("/nonexistent-corevm", t, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent-corevm/devices/system/cpu/possible: missing"));
	free(t);
}

/* Hotplug: a CPU that comes online joins the core its sibling is in; one that leaves stays known. */
static void test_refresh(void **state)
{
	const char *root = scratch_copy("2s8c2t-holes");
	struct cvm_host_topology *t = calloc(1, sizeof(*t));
	char err[CVM_TOPO_ERR_LEN];
	assert_int_equal(__cvm_topology_read(root, t, err, sizeof(err)), 0);

	/* cpu 21 (package 0 core 5) comes online, as the kernel would show it. */
	scratch_write(root, "cpu/cpu21/topology/physical_package_id", "0\n");
	scratch_write(root, "cpu/cpu21/topology/core_id", "5\n");
	scratch_write(root, "cpu/cpu21/topology/die_id", "0\n");
	scratch_write(root, "cpu/cpu21/topology/cluster_id", "65535\n");
	scratch_write(root, "cpu/cpu21/topology/thread_siblings_list", "5,21\n");
	scratch_write(root, "cpu/cpu5/topology/thread_siblings_list", "5,21\n");
	assert_int_equal(__cvm_topology_refresh_cpu(root, t, 21, err, sizeof(err)), 0);
	core_is(t, 5, "5,21");
	core_is(t, 21, "5,21");
	assert_false(cvm_bit_test(t->online, 21)); /* left to the placer */
	assert_false(cvm_bit_test(t->unknown, 21));

	/* It goes offline again: still known to be in that core. */
	cvm_topology_set_online(t, 21, false);
	cvm_topology_finish(t);
	core_is(t, 5, "5,21");

	/* A CPU whose files are gone (offline again before we looked). */
	assert_int_equal(__cvm_topology_refresh_cpu(root, t, 3, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cpu3/topology: missing"));
	assert_int_equal(__cvm_topology_refresh_cpu(root, t, 500, err, sizeof(err)), -ERANGE);

	uint64_t on[CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)];
	assert_int_equal(__cvm_topology_read_online(root, on, err, sizeof(err)), 0);
	assert_string_equal(list_of(on), "0-2,4-18,20,22-27");
	free(t);
	scratch_destroy(root);
}

static void test_synth_and_assign(void **state)
{
	struct cvm_host_topology *t = calloc(1, sizeof(*t));
	assert_int_equal(cvm_topology_synth(t, 2, 64, 2), 0);
	assert_int_equal(t->nr_cpus, 256);
	assert_int_equal(t->smt_width, 2);
	assert_int_equal(t->nr_packages, 2);
	assert_int_equal(t->nr_nodes, 2);
	core_is(t, 0, "0,128");
	core_is(t, 64, "64,192");
	assert_int_equal(t->cpu[64].package, 1);
	assert_int_equal(cvm_topology_synth(t, 2, 512, 2), -ERANGE);
	assert_int_equal(cvm_topology_synth(t, 1, 1, 9), -ERANGE);
	assert_int_equal(cvm_topology_synth(t, 0, 1, 1), -ERANGE);

	/* assign: contradictions and limits. */
	assert_int_equal(cvm_topology_init(t, 16), 0);
	uint64_t sib[CVM_BITMAP_WORDS(CVM_MAX_HOST_CPUS)];
	struct cvm_cpu_ids ids = {0, 0, 0, 1, 0};
	cpus(sib, "1,9");
	assert_true(cvm_topology_assign(t, 1, &ids, sib) >= 0);
	assert_true(cvm_topology_assign(t, 9, &ids, sib) >= 0);
	core_is(t, 1, "1,9");
	cpus(sib, "2,9");
	assert_int_equal(cvm_topology_assign(t, 1, &ids, sib), -EINVAL); /* does not list itself */
	cpus(sib, "1,20");
	assert_int_equal(cvm_topology_assign(t, 1, &ids, sib), -EINVAL); /* beyond nr_cpus */
	cpus(sib, "0-8");
	assert_int_equal(cvm_topology_assign(t, 1, &ids, sib), -E2BIG);
	/* cpu 9 is re-read with other ids (replaced hardware): it leaves core 1. */
	struct cvm_cpu_ids other = {0, 0, 0, 7, 0};
	cpus(sib, "9");
	assert_true(cvm_topology_assign(t, 9, &other, sib) >= 0);
	core_is(t, 1, "1");
	core_is(t, 9, "9");
	cvm_topology_finish(t);
	assert_int_equal(t->smt_width, 1);
	assert_int_equal(cvm_topology_init(t, 0), -ERANGE);
	assert_int_equal(cvm_topology_init(t, 1025), -ERANGE);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_1s4c2t),
	        cmocka_unit_test(test_2s8c2t_holes),
	        cmocka_unit_test(test_nosmt),
	        cmocka_unit_test(test_isolated),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_refresh),
	        cmocka_unit_test(test_synth_and_assign),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
