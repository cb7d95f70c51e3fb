/* The guests' IDT and the report of unexpected exceptions (see trap.h). */
#include "guest/lib/trap.h"

#include "guest/lib/apic.h"
#include "guest/lib/atomic.h"
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

extern const uint64_t kit_isr_table[256];

/* The fault sites of the safe MSR accessors (below) and where each resumes. */
extern const uint8_t kit_rdmsr_insn[], kit_rdmsr_resume[], kit_wrmsr_insn[], kit_wrmsr_resume[];

static struct idt_gate idt[256] __attribute__((aligned(16)));
static volatile guest_exception_fn handlers[256];
static volatile uint32_t spurious;

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
	for (unsigned int v = 0; v < 256; v++)
		set_gate(v, kit_isr_table[v]);
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

void guest_set_nmi_handler(guest_exception_fn fn)
{
	handlers[KIT_NMI_VECTOR] = fn;
}

void guest_set_irq_handler(unsigned int vector, guest_exception_fn fn)
{
	if (vector < KIT_NR_EXCEPTIONS || vector == KIT_WAKE_VECTOR ||
	    vector == KIT_SPURIOUS_VECTOR || vector > 255)
		GUEST_FAIL("interrupt handler for vector %u: not an external interrupt vector the "
		           "kit leaves free",
		           vector);
	handlers[vector] = fn;
}

uint32_t guest_spurious_count(void)
{
	return atomic_load32(&spurious);
}

/*
 * One instance each (noinline, noclone): the labels mark the only RDMSR and
 * WRMSR whose faults kit_exception() turns into a return value in RSI.
 */
__attribute__((noinline, noclone)) unsigned int guest_rdmsr_safe(uint32_t msr, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;
	uint64_t fault = 0;
	__asm__ volatile(".globl kit_rdmsr_insn, kit_rdmsr_resume\n"
	                 "kit_rdmsr_insn: rdmsr\n"
	                 "kit_rdmsr_resume:"
	                 : "=a"(lo), "=d"(hi), "+S"(fault)
	                 : "c"(msr)
	                 : "memory");
	*val = fault ? 0 : ((uint64_t)hi << 32) | lo;
	return (unsigned int)fault;
}

__attribute__((noinline, noclone)) unsigned int guest_wrmsr_safe(uint32_t msr, uint64_t val)
{
	uint64_t fault = 0;
	__asm__ volatile(".globl kit_wrmsr_insn, kit_wrmsr_resume\n"
	                 "kit_wrmsr_insn: wrmsr\n"
	                 "kit_wrmsr_resume:"
	                 : "+S"(fault)
	                 : "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32))
	                 : "memory");
	return (unsigned int)fault;
}

/* A fault of a safe MSR accessor: resume after it with the vector in RSI. */
static bool msr_fixup(struct guest_exception_frame *f)
{
	if (f->rip == (uint64_t)(uintptr_t)kit_rdmsr_insn) {
		f->rip = (uint64_t)(uintptr_t)kit_rdmsr_resume;
		f->rax = f->rdx = 0;
	} else if (f->rip == (uint64_t)(uintptr_t)kit_wrmsr_insn) {
		f->rip = (uint64_t)(uintptr_t)kit_wrmsr_resume;
	} else {
		return false;
	}
	f->rsi = f->vector;
	return true;
}

/* Called by isr.S with the saved frame. */
void kit_exception(struct guest_exception_frame *f);
void kit_exception(struct guest_exception_frame *f)
{
	if (f->vector == KIT_WAKE_VECTOR) {
		guest_apic_eoi(); /* the wake-up is the return to after the HLT */
		return;
	}
	if (f->vector == KIT_SPURIOUS_VECTOR) {
		atomic_fetch_add32(&spurious, 1); /* spurious interrupts take no EOI */
		return;
	}
	if (f->vector < KIT_NR_EXCEPTIONS && f->vector != KIT_NMI_VECTOR && msr_fixup(f))
		return;
	guest_exception_fn fn = f->vector < 256 ? handlers[f->vector] : 0;
	if (fn) {
		fn(f);
		return;
	}
	uint64_t cr2 = f->vector == 14 ? read_cr2() : 0;
	char msg[CVM_UCALL_MSG_LEN];
	if (f->vector < KIT_NR_EXCEPTIONS)
		guest_snprintf(msg, sizeof(msg),
		               "unexpected exception %s (vector %lu) error code 0x%lx at rip 0x%lx "
		               "cr2 0x%lx",
		               guest_exception_name((unsigned int)f->vector), f->vector,
		               f->error_code, f->rip, cr2);
	else
		guest_snprintf(msg, sizeof(msg), "unexpected interrupt (vector %lu) at rip 0x%lx",
		               f->vector, f->rip);
	bool locked = guest_console_lock_bounded();
	guest_printf_locked("EXCEPTION %s\n", msg);
	if (locked)
		guest_console_unlock();
	guest_ucall(CVM_UCALL_ASSERT, (uint32_t)f->vector, "<exception>", msg, f->vector,
	            f->error_code, f->rip, cr2);
	guest_debug_exit(KIT_EXIT_VALUE_ASSERT);
}
