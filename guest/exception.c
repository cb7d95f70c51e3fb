/*
 * Exception test guest: raises exceptions through the kit's 64-bit IDT, each
 * caught by a handler that checks the vector, error code, RIP (and CR2 for #PF)
 * and resumes after the faulting instruction with iretq:
 *   #UD (6, error 0)  ud2
 *   #DE (0, error 0)  divide by zero
 *   #GP (13, error 0) load from the non-canonical address 0x8000000000000000
 *   #PF (14, error 0) read of 0x100000000 (not mapped: the kit maps 4 GiB)
 *   #PF (14, error 2) write to 0x100000000
 * With "unexpected" on the command line it then executes ud2 with no handler,
 * to show how the kit reports an unexpected exception.
 *
 * Reports (ucall):
 *   per exception caught, in the order above: REPORT stage EXC_STAGE_CAUGHT
 *     (100), args[1] = vector, args[2] = error code, args[3] = index (0..4)
 *   REPORT stage EXC_STAGE_ALL (101), args[1] = exceptions caught (5)
 *   without "unexpected": DONE
 *   with "unexpected": ASSERT, file "<exception>", line 6, args[0] = 6 (#UD),
 *     args[1] = 0, args[2] = RIP of the ud2, args[3] = 0; msg "unexpected
 *     exception #UD (vector 6) error code 0x0 at rip 0x... cr2 0x0"
 *     (corevm: CVM_EXIT_GUEST_ASSERT; QEMU: debug exit 3, status 7)
 * Serial: "exception: caught <name> (vector <v>) error code 0x<e>" per
 * exception, "exception: PASS: 5 exceptions caught"; with "unexpected" the
 * kit's "EXCEPTION unexpected exception #UD ..." line.
 */
#include "guest/lib/kit.h"

#define EXC_STAGE_CAUGHT CVM_STAGE_USER
#define EXC_STAGE_ALL    (CVM_STAGE_USER + 1)

#define UNMAPPED 0x100000000ull

static volatile uint64_t fault_rip, resume_rip;
static volatile uint64_t seen_vector, seen_error, seen_rip, seen_cr2, caught;

static void handler(struct guest_exception_frame *f)
{
	seen_vector = f->vector;
	seen_error = f->error_code;
	seen_rip = f->rip;
	seen_cr2 = f->vector == 14 ? read_cr2() : 0;
	caught++;
	f->rip = resume_rip;
}

/* Records where insn starts and where to resume, then runs setup and insn. */
#define FAULT(setup, insn)                                                 \
	__asm__ volatile("leaq 1f(%%rip), %%rax\n\t"                       \
	                 "movq %%rax, %0\n\t"                              \
	                 "leaq 2f(%%rip), %%rax\n\t"                       \
	                 "movq %%rax, %1\n\t" setup "\n1:\t" insn "\n2:\n" \
	                 : "=m"(fault_rip), "=m"(resume_rip)               \
	                 :                                                 \
	                 : "rax", "rcx", "rdx", "memory")

static void check(unsigned int index, uint64_t vector, uint64_t error, uint64_t cr2,
                  uint64_t caught_before)
{
	GUEST_ASSERT_MSG(caught == caught_before + 1, "exception %u: handler ran %lu times", index,
	                 caught - caught_before);
	GUEST_ASSERT_EQ(seen_vector, vector);
	GUEST_ASSERT_EQ(seen_error, error);
	GUEST_ASSERT_EQ(seen_rip, fault_rip);
	if (vector == 14)
		GUEST_ASSERT_EQ(seen_cr2, cr2);
	GUEST_REPORT(EXC_STAGE_CAUGHT, vector, error, index);
	guest_printf("exception: caught %s (vector %lu) error code 0x%lx\n",
	             guest_exception_name((unsigned int)vector), vector, error);
}

void guest_main(void)
{
	static const unsigned int vectors[] = {0, 6, 13, 14};
	for (unsigned int i = 0; i < ARRAY_SIZE(vectors); i++)
		guest_set_exception_handler(vectors[i], handler);

	uint64_t n = caught;
	FAULT("", "ud2");
	check(0, 6, 0, 0, n);

	n = caught;
	FAULT("xorl %%ecx, %%ecx\n\tmovl $1, %%eax\n\txorl %%edx, %%edx", "divl %%ecx");
	check(1, 0, 0, 0, n);

	n = caught;
	FAULT("movabsq $0x8000000000000000, %%rcx", "movq (%%rcx), %%rax");
	check(2, 13, 0, 0, n);

	n = caught;
	FAULT("movabsq $0x100000000, %%rcx", "movq (%%rcx), %%rax");
	check(3, 14, 0, UNMAPPED, n);

	n = caught;
	FAULT("movabsq $0x100000000, %%rcx", "movq %%rax, (%%rcx)");
	check(4, 14, 2, UNMAPPED, n);

	GUEST_REPORT(EXC_STAGE_ALL, caught, 0, 0);
	guest_printf("exception: PASS: %lu exceptions caught\n", caught);

	if (kit_cmdline_has(guest_boot_cmdline(), "unexpected")) {
		guest_set_exception_handler(6, (guest_exception_fn)0);
		guest_printf("exception: now a ud2 with no handler\n");
		__asm__ volatile("ud2");
		GUEST_FAIL("exception: still running after an unhandled #UD");
	}
	GUEST_DONE();
}
