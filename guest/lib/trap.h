/*
 * Exceptions and interrupts in guests: a 64-bit IDT with a gate for each of the
 * 256 vectors, loaded on every vCPU by the kit. Vectors 0-31 are exceptions
 * (NMI is vector 2), 32-255 external interrupts and IPIs. An exception or
 * interrupt with no handler registered is reported with the vector, error code
 * and RIP on serial and as a ucall ASSERT (file "<exception>", line = vector,
 * args[0] = vector, args[1] = error code, args[2] = RIP, args[3] = CR2), then
 * the VM ends as after any failed assertion (ucall.h). The kit itself handles
 * KIT_WAKE_VECTOR (EOI only) and KIT_SPURIOUS_VECTOR (counted, no EOI).
 */
#ifndef GUEST_LIB_TRAP_H
#define GUEST_LIB_TRAP_H

#include <stdint.h>

#define KIT_NR_EXCEPTIONS 32

/* What isr.S saves: general registers, then vector, error code and the CPU's frame. */
struct guest_exception_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};

/*
 * A handler runs on the faulting vCPU with interrupts off. When it returns, the
 * interrupted code resumes at frame->rip (change it to skip the instruction).
 */
typedef void (*guest_exception_fn)(struct guest_exception_frame *frame);

/* Installs (or with NULL removes) the handler for vector (< 32) on all vCPUs. */
void guest_set_exception_handler(unsigned int vector, guest_exception_fn fn);

#define KIT_NMI_VECTOR 2

/*
 * NMI handler (vector 2) on all vCPUs, or NULL to remove it. It runs with NMIs
 * blocked until the kit's iretq; it must not take locks (the interrupted code
 * may hold them) and should only count and return.
 */
void guest_set_nmi_handler(guest_exception_fn fn);

/*
 * Installs (or with NULL removes) the handler for an external interrupt or IPI
 * vector on all vCPUs: 32 <= vector <= 254, not KIT_WAKE_VECTOR (the kit's).
 * The handler runs with interrupts off and the vector in service: it sends
 * the EOI itself (guest_apic_eoi()) when it chooses, so that a test can look at
 * ISR, TMR or the I/O APIC's remote IRR first. Fails the test on a bad vector.
 */
void guest_set_irq_handler(unsigned int vector, guest_exception_fn fn);

/* Interrupts that arrived on KIT_SPURIOUS_VECTOR, on all vCPUs together. */
uint32_t guest_spurious_count(void);

/*
 * MSR access that survives a fault: returns 0 when the instruction completed,
 * otherwise the exception vector it raised (13 for #GP), after which *val is 0
 * (rdmsr) and execution simply continues. Safe on any vCPU at any time.
 */
unsigned int guest_rdmsr_safe(uint32_t msr, uint64_t *val);
unsigned int guest_wrmsr_safe(uint32_t msr, uint64_t val);

/* Short mnemonic of an exception vector ("#UD"), "#??" if reserved. */
const char *guest_exception_name(unsigned int vector);

/* kit internals: build the IDT once (BSP), load it (every vCPU). */
void kit_idt_init(void);
void kit_idt_load(void);

/* Loads an IDT with limit 0: the next exception shuts the vCPU down (triple fault). */
void guest_load_empty_idt(void);

#endif
