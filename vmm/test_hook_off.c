/* The test-only forbidden-system-call hook (test_hook.h) in builds without tests: nothing. */
#include "vmm/test_hook.h"

void cvm_test_hook_sandboxed(enum cvm_thread_class cls, unsigned int index)
{
	(void)cls;
	(void)index;
}
