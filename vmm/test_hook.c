/* The test-only forbidden-system-call hook (test_hook.h), in builds with tests. */
#include "vmm/test_hook.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/parse.h"

/* Whether COREVM_TEST_FORBIDDEN_SYSCALL names this thread. */
static bool named(const char *want, enum cvm_thread_class cls, unsigned int index)
{
	static const char *const names[CVM_THREAD_NCLASSES] = {
	        [CVM_THREAD_MAIN] = "main",     [CVM_THREAD_VCPU] = "vcpu",
	        [CVM_THREAD_UEVENT] = "uevent", [CVM_THREAD_PROBE] = "probe",
	        [CVM_THREAD_TIMER] = "timer",   [CVM_THREAD_WORKER] = "worker",
	};
	size_t n = strlen(names[cls]);
	uint64_t i = 0;

	if (strncmp(want, names[cls], n))
		return false;
	if (want[n] == 0)
		return index == 0;
	return want[n] == ':' && cvm_parse_u64(want + n + 1, 0, UINT32_MAX, &i) == 0 && i == index;
}

void cvm_test_hook_sandboxed(enum cvm_thread_class cls, unsigned int index)
{
	const char *want = getenv(CVM_TEST_FORBIDDEN_SYSCALL_ENV);
	int fd;

	if (!want || (unsigned int)cls >= CVM_THREAD_NCLASSES || !named(want, cls, index))
		return;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		close(fd);
}
