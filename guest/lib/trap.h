/*
 * Exceptions in guests: a 64-bit IDT for vectors 0-31 (plus the kit's wake-up
 * and spurious interrupt vectors), loaded on every vCPU by the kit. An exception with no handler registered is reported with the vector,
 * error code and RIP on serial and as a ucall ASSERT (file "<exception>", line =
 * vector, args[0] = vector, args[1] = error code, args[2] = RIP, args[3] = CR2),
 * then the VM ends as after any failed assertion (ucall.h).
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

/* Short mnemonic of an exception vector ("#UD"), "#??" if reserved. */
const char *guest_exception_name(unsigned int vector);

/* kit internals: build the IDT once (BSP), load it (every vCPU). */
void kit_idt_init(void);
void kit_idt_load(void);

/* Loads an IDT with limit 0: the next exception shuts the vCPU down (triple fault). */
void guest_load_empty_idt(void);

#endif
