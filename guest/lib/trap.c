/* The guests' IDT and the report of unexpected exceptions (see trap.h). */
#include "guest/lib/trap.h"

#include "guest/lib/apic.h"
#include "guest/lib/layout.h"
#include "guest/lib/serial.h"
#include "guest/lib/ucall.h"
#include "guest/lib/util.h"
#include "guest/lib/x86.h"

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr; /* present, DPL 0, 64-bit interrupt gate */
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
};

#define IDT_INTERRUPT_GATE 0x8e

extern const uint64_t kit_isr_table[KIT_NR_EXCEPTIONS];
extern const uint64_t kit_isr_wake, kit_isr_spurious;

/* All 256 vectors; those without a gate raise #NP (reported with the vector in the error code). */
static struct idt_gate idt[256] __attribute__((aligned(16)));
static volatile guest_exception_fn handlers[KIT_NR_EXCEPTIONS];

static const char *const names[KIT_NR_EXCEPTIONS] = {
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#??", "#TS",
        "#NP", "#SS", "#GP", "#PF", "#??", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

const char *guest_exception_name(unsigned int vector)
{
	if (vector < KIT_NR_EXCEPTIONS && names[vector])
		return names[vector];
	return "#??";
}

static void set_gate(unsigned int v, uint64_t a)
{
	idt[v] = (struct idt_gate){
	        .offset_lo = (uint16_t)a,
	        .selector = KIT_SEL_CODE64,
	        .type_attr = IDT_INTERRUPT_GATE,
	        .offset_mid = (uint16_t)(a >> 16),
	        .offset_hi = (uint32_t)(a >> 32),
	};
}

void kit_idt_init(void)
{
	for (unsigned int v = 0; v < KIT_NR_EXCEPTIONS; v++)
		set_gate(v, kit_isr_table[v]);
	set_gate(KIT_WAKE_VECTOR, kit_isr_wake);
	set_gate(KIT_SPURIOUS_VECTOR, kit_isr_spurious);
}

void kit_idt_load(void)
{
	struct kit_dtr d = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
	lidt(&d);
}

void guest_load_empty_idt(void)
{
	struct kit_dtr d = {0, 0};
	lidt(&d);
}

void guest_set_exception_handler(unsigned int vector, guest_exception_fn fn)
{
	if (vector >= KIT_NR_EXCEPTIONS)
		GUEST_FAIL("exception handler for vector %u: out of range", vector);
	handlers[vector] = fn;
}

/* Called by isr.S with the saved frame. */
void kit_exception(struct guest_exception_frame *f);
void kit_exception(struct guest_exception_frame *f)
{
	if (f->vector == KIT_WAKE_VECTOR) {
		guest_apic_eoi(); /* the wake-up is the return to after the HLT */
		return;
	}
	if (f->vector == KIT_SPURIOUS_VECTOR)
		return; /* spurious interrupts take no EOI */
	guest_exception_fn fn = f->vector < KIT_NR_EXCEPTIONS ? handlers[f->vector] : 0;
	if (fn) {
		fn(f);
		return;
	}
	uint64_t cr2 = f->vector == 14 ? read_cr2() : 0;
	char msg[CVM_UCALL_MSG_LEN];
	guest_snprintf(
	        msg, sizeof(msg),
	        "unexpected exception %s (vector %lu) error code 0x%lx at rip 0x%lx cr2 0x%lx",
	        guest_exception_name((unsigned int)f->vector), f->vector, f->error_code, f->rip,
	        cr2);
	bool locked = guest_console_lock_bounded();
	guest_printf_locked("EXCEPTION %s\n", msg);
	if (locked)
		guest_console_unlock();
	guest_ucall(CVM_UCALL_ASSERT, (uint32_t)f->vector, "<exception>", msg, f->vector,
	            f->error_code, f->rip, cr2);
	guest_debug_exit(KIT_EXIT_VALUE_ASSERT);
}
