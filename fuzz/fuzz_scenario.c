/*
 * Fuzz target: the simulator's scenario parser (cvm_sim_scenario_parse(), JSON
 * through json-c), the file-facing input of `corevm sim`. The input is the
 * scenario text (a NUL byte ends it). Checked: a refused scenario is reported
 * on exactly one stderr line naming the scenario; an accepted one respects
 * every limit of sim/scenario.h (topology, VMs, vCPU total, lists), its CPU
 * sets fit the host, and parsing the same text again gives the same result.
 * A cost profile named by path is read like any file (relative to the current
 * directory): the profile parser is the same code, reached through it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "sim/scenario.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/common_interface_defs.h>
#define FZ_SANITIZER_REPORT_FD(fd) __sanitizer_set_report_fd((void *)(intptr_t)(fd))
#endif
#endif
#ifndef FZ_SANITIZER_REPORT_FD
#define FZ_SANITIZER_REPORT_FD(fd) ((void)(fd))
#endif

#define NAME "fuzz.json"

static int err_fd = -1, saved_stderr = -1;

static void setup(void)
{
	if (err_fd >= 0)
		return;
	err_fd = memfd_create("fuzz-scenario-stderr", MFD_CLOEXEC);
	saved_stderr = dup(2);
	FZ_CHECK(err_fd >= 0 && saved_stderr >= 0, "memfd_create/dup failed");
	/* A sanitizer report while stderr is captured must still reach the real one. */
	FZ_SANITIZER_REPORT_FD(saved_stderr);
}

/* Runs the parser with stderr captured; returns its result, the lines it wrote in *lines. */
static int parse(const char *text, struct cvm_sim_scenario **out, unsigned int *lines, char *first,
                 size_t first_len)
{
	FZ_CHECK(ftruncate(err_fd, 0) == 0 && lseek(err_fd, 0, SEEK_SET) == 0, "memfd reset");
	dup2(err_fd, 2);
	int r = cvm_sim_scenario_parse(NAME, text, out);
	dup2(saved_stderr, 2);

	char buf[4096];
	ssize_t n = pread(err_fd, buf, sizeof(buf) - 1, 0);
	n = n < 0 ? 0 : n;
	buf[n] = '\0';
	*lines = 0;
	for (ssize_t i = 0; i < n; i++)
		*lines += buf[i] == '\n';
	snprintf(first, first_len, "%s", buf);
	return r;
}

/* Every set bit of a CPU set names a host CPU. */
static void check_set(const uint64_t *set, unsigned int ncpus, const char *what)
{
	if (!set)
		return;
	unsigned int words = (ncpus + 63) / 64;
	if (ncpus % 64)
		FZ_CHECK(!(set[words - 1] >> (ncpus % 64)), "%s names a CPU >= %u", what, ncpus);
}

static void check_accepted(const struct cvm_sim_scenario *s)
{
	const struct cvm_sim_host *h = &s->host;
	uint64_t total = 0;

	FZ_CHECK(s->duration > 0, "duration 0 accepted");
	FZ_CHECK(h->ncpus >= 1 && h->ncpus <= CVM_SIM_MAX_CPUS, "ncpus %u", h->ncpus);
	FZ_CHECK((uint64_t)h->sockets * h->cores_per_socket * h->threads_per_core == h->ncpus,
	         "topology %ux%ux%u != %u CPUs", h->sockets, h->cores_per_socket,
	         h->threads_per_core, h->ncpus);
	FZ_CHECK(h->threads_per_core >= 1 && h->threads_per_core <= CVM_SIM_MAX_THREADS,
	         "threads per core %u", h->threads_per_core);
	FZ_CHECK(h->nnoise <= CVM_SIM_MAX_LIST && h->ntasks <= CVM_SIM_MAX_LIST &&
	                 h->hotplug.nevents <= CVM_SIM_MAX_LIST,
	         "lists over %u", CVM_SIM_MAX_LIST);
	check_set(h->housekeeping, h->ncpus, "housekeeping");
	check_set(h->nohz_full, h->ncpus, "nohz_full");
	check_set(h->hotplug.random_cpus, h->ncpus, "hotplug.random");
	for (unsigned int i = 0; i < h->nnoise; i++)
		check_set(h->noise[i].cpus, h->ncpus, "noise");
	for (unsigned int i = 0; i < h->ntasks; i++)
		check_set(h->tasks[i].cpus, h->ncpus, "tasks");
	for (unsigned int i = 0; i < h->hotplug.nevents; i++)
		FZ_CHECK(h->hotplug.events[i].cpu < h->ncpus, "hotplug event on CPU %u",
		         h->hotplug.events[i].cpu);
	FZ_CHECK(s->nvms >= 1 && s->nvms <= CVM_SIM_MAX_LIST, "%u VMs", s->nvms);
	for (unsigned int i = 0; i < s->nvms; i++) {
		const struct cvm_sim_vm_cfg *v = &s->vms[i];
		FZ_CHECK(v->vcpus >= 1 && v->vcpus <= CVM_SIM_MAX_VM_VCPUS, "VM %u: %u vCPUs", i,
		         v->vcpus);
		FZ_CHECK(memchr(v->name, '\0', sizeof(v->name)), "VM %u: name not terminated", i);
		total += (uint64_t)v->vcpus * v->count;
	}
	FZ_CHECK(total == s->total_vcpus && total <= CVM_SIM_MAX_VCPUS, "vCPU total %llu vs %u",
	         (unsigned long long)total, s->total_vcpus);
	FZ_CHECK(s->ntolerance <= CVM_SIM_MAX_TOLERANCE, "%u tolerances", s->ntolerance);
	FZ_CHECK(memchr(s->name, '\0', sizeof(s->name)) &&
	                 memchr(s->description, '\0', sizeof(s->description)),
	         "strings not terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvm_sim_scenario *s = NULL, *again = NULL;
	unsigned int lines, lines2;
	char first[512], first2[512];
	char *text = malloc(size + 1);

	setup();
	FZ_CHECK(text, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';

	int r = parse(text, &s, &lines, first, sizeof(first));
	if (r) {
		FZ_CHECK(r < 0 && !s, "refused with %d and a scenario", r);
		FZ_CHECK(lines == 1, "refused (%d) with %u stderr lines: %s", r, lines, first);
		FZ_CHECK(strstr(first, NAME), "the error line does not name the scenario: %s",
		         first);
	} else {
		FZ_CHECK(s && lines == 0, "accepted with %u stderr lines: %s", lines, first);
		check_accepted(s);
	}
	/* The parser keeps no state between calls: the same text, the same answer. */
	int r2 = parse(text, &again, &lines2, first2, sizeof(first2));
	FZ_CHECK(r2 == r && lines2 == lines && !strcmp(first, first2),
	         "parsing twice differs: %d/%d", r, r2);
	if (s && again) {
		FZ_CHECK(s->total_vcpus == again->total_vcpus &&
		                 s->host.ncpus == again->host.ncpus &&
		                 s->duration == again->duration && s->seed == again->seed,
		         "parsing twice gives different scenarios");
	}
	cvm_sim_scenario_free(s);
	cvm_sim_scenario_free(again);
	free(text);
	return 0;
}
