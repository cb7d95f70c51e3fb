/* The measured AP entry's C half and the AP reset hold for guests (hold.h). */
#include "guest/lib/hold.h"

#include "arch/x86/guest_abi.h"
#include "guest/lib/apic.h"
#include "guest/lib/atomic.h"
#include "guest/lib/trap.h"
#include "guest/lib/ucall.h"
#include "guest/lib/util.h"
#include "guest/lib/wait.h"
#include "guest/lib/x86.h"

extern const uint8_t kit_trampoline_measured_start[], kit_trampoline_measured_end[];
void kit_hold_checked(struct kit_hold_regs *out);
/* smp.c: the APIC mode the BSP was in when it last sent INIT or SIPI. */
enum guest_apic_mode kit_smp_ap_apic_mode(void);

#define MEASURED_PAGE ((uintptr_t)KIT_MEASURED_SIPI_VECTOR << 12)

static guest_measured_fn measured_fn;
static volatile uint32_t entries[KIT_MAX_APS + 1];

void guest_measured_prepare(guest_measured_fn fn)
{
	size_t len = (size_t)(kit_trampoline_measured_end - kit_trampoline_measured_start);

	GUEST_ASSERT(fn);
	GUEST_ASSERT_MSG(MEASURED_PAGE >= CVM_GUEST_TRAMPOLINE && len <= 0x1000 &&
	                         MEASURED_PAGE + len <=
	                                 CVM_GUEST_TRAMPOLINE + CVM_GUEST_TRAMPOLINE_SIZE,
	                 "hold: measured trampoline of %lu bytes", (uint64_t)len);
	memcpy((void *)MEASURED_PAGE, kit_trampoline_measured_start, len);
	measured_fn = fn;
}

unsigned int guest_measured_entries(unsigned int vcpu)
{
	return vcpu <= KIT_MAX_APS ? atomic_load32(&entries[vcpu]) : 0;
}

bool guest_measured_wait(unsigned int vcpu, unsigned int n, uint64_t timeout_tsc)
{
	GUEST_ASSERT_MSG(vcpu >= 1 && vcpu <= KIT_MAX_APS, "hold: vcpu %u", vcpu);
	return guest_wait_ge(&entries[vcpu], n, timeout_tsc);
}

void guest_hold_apic_on(void)
{
	guest_apic_set_mode(kit_smp_ap_apic_mode());
}

/* Called by measured.S on this vCPU's own stack; never returns. */
__attribute__((noreturn)) void kit_ap_measured_main(unsigned int vcpu);
void kit_ap_measured_main(unsigned int vcpu)
{
	guest_measured_fn fn = measured_fn;
	unsigned int n;

	kit_idt_load();
	if (!fn || vcpu == 0 || vcpu > KIT_MAX_APS)
		kit_halt_forever(); /* started before guest_measured_prepare(): nothing to run */
	guest_hold_apic_on();
	n = atomic_fetch_add32(&entries[vcpu], 1);
	fn(vcpu, n);
	kit_halt_forever();
}

uint64_t guest_ghcb_read(void)
{
	return rdmsr(KIT_MSR_GHCB);
}

void guest_ghcb_write(uint64_t value)
{
	wrmsr(KIT_MSR_GHCB, value);
}

static bool woken(uint64_t response)
{
	return (response & KIT_GHCB_INFO_MASK) == KIT_GHCB_HOLD_RESPONSE &&
	       (response & ~KIT_GHCB_INFO_MASK) != 0;
}

uint64_t guest_ap_reset_hold(unsigned int tries)
{
	uint64_t r = 0;

	for (unsigned int i = 0; i < tries; i++) {
		guest_ghcb_write(KIT_GHCB_HOLD_REQUEST);
		r = guest_ghcb_read();
		if (woken(r) || (r & KIT_GHCB_INFO_MASK) != KIT_GHCB_HOLD_RESPONSE)
			break; /* woken, or not supported (the request came back) */
	}
	guest_hold_apic_on();
	return r;
}

static uint64_t rol(uint64_t v, unsigned int n)
{
	return (v << n) | (v >> (64 - n));
}

void guest_ap_reset_hold_checked(struct guest_hold_result *res)
{
	struct kit_hold_regs r;
	uint64_t c;
	uint32_t bad = 0;

	kit_hold_checked(&r);
	c = r.rbx;
	bad |= r.rbp != ~c ? KIT_HOLD_BAD_RBP : 0;
	bad |= r.rsi != rol(c, 7) ? KIT_HOLD_BAD_RSI : 0;
	bad |= r.rdi != rol(c, 13) ? KIT_HOLD_BAD_RDI : 0;
	bad |= r.r8 != rol(c, 19) ? KIT_HOLD_BAD_R8 : 0;
	bad |= r.r9 != rol(c, 23) ? KIT_HOLD_BAD_R9 : 0;
	bad |= r.r10 != rol(c, 29) ? KIT_HOLD_BAD_R10 : 0;
	bad |= r.r11 != rol(c, 31) ? KIT_HOLD_BAD_R11 : 0;
	bad |= r.r12 != rol(c, 37) ? KIT_HOLD_BAD_R12 : 0;
	bad |= r.r13 != rol(c, 41) ? KIT_HOLD_BAD_R13 : 0;
	bad |= r.r15 != rol(c, 47) ? KIT_HOLD_BAD_R15 : 0;
	bad |= (r.r14 ^ c) != r.rsp ? KIT_HOLD_BAD_RSP : 0;
	bad |= r.rcx != ((c << 32) | KIT_MSR_GHCB) ? KIT_HOLD_BAD_RCX : 0;
	res->response = (r.rdx << 32) | (uint32_t)r.rax;
	res->bad_regs = bad;
	res->woken = woken(res->response);
}
