/*
 * The test-guest kit in one include: a guest defines `void guest_main(void)`,
 * which the kit calls on the BSP in 64-bit long mode with the console, the IDT
 * and the boot information ready; returning from it is GUEST_DONE(). See
 * guest/README.md.
 */
#ifndef GUEST_LIB_KIT_H
#define GUEST_LIB_KIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/guest_abi.h"
#include "guest/lib/apic.h"
#include "guest/lib/atomic.h"
#include "guest/lib/bootinfo.h"
#include "guest/lib/fwcfg.h"
#include "guest/lib/ioapic.h"
#include "guest/lib/lock.h"
#include "guest/lib/rmstub.h"
#include "guest/lib/serial.h"
#include "guest/lib/smp.h"
#include "guest/lib/timer.h"
#include "guest/lib/trap.h"
#include "guest/lib/uart_irq.h"
#include "guest/lib/ucall.h"
#include "guest/lib/util.h"
#include "guest/lib/wait.h"
#include "guest/lib/x86.h"

void guest_main(void);

#endif
