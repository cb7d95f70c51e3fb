/* The BSP's first C code: set up the console, the IDT and boot info, then run guest_main(). */
#include "guest/lib/apic.h"
#include "guest/lib/bootinfo.h"
#include "guest/lib/serial.h"
#include "guest/lib/trap.h"
#include "guest/lib/ucall.h"

/* Provided by each guest. */
void guest_main(void);

/* Called by entry.S on the BSP stack; never returns. */
__attribute__((noreturn)) void kit_bsp_main(void);
void kit_bsp_main(void)
{
	kit_idt_init();
	kit_idt_load();
	kit_apic_init();
	guest_serial_init();
	kit_bootinfo_init();
	guest_main();
	guest_done();
}
