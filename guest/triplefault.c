/*
 * Triple-fault test guest: loads an IDT with limit 0 and executes ud2. The #UD
 * cannot be delivered (#GP), nor can that (#DF), so the vCPU shuts down: KVM
 * reports KVM_EXIT_SHUTDOWN and corevm must end with CVM_EXIT_TRIPLE_FAULT.
 * (QEMU with -no-reboot exits with status 0.)
 *
 * Reports (ucall): REPORT stage TRIPLEFAULT_STAGE_ARMED (100) just before.
 * Serial: "triplefault: empty IDT loaded, executing ud2".
 * Fails (ASSERT) if execution continues after the ud2.
 */
#include "guest/lib/kit.h"

#define TRIPLEFAULT_STAGE_ARMED CVM_STAGE_USER

void guest_main(void)
{
	GUEST_REPORT(TRIPLEFAULT_STAGE_ARMED, 0, 0, 0);
	guest_printf("triplefault: empty IDT loaded, executing ud2\n");
	guest_load_empty_idt();
	__asm__ volatile("ud2");
	GUEST_FAIL("triplefault: still running after ud2 with an empty IDT");
}
