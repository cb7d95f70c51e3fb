/* The ucall port: a guest's structured reports (stage, assertion, done, print), validated and bounded. */
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "vmm/vm_internal.h"

/* Copies a guest string field into `out` (NUL-terminated), replacing anything unprintable. */
static void copy_guest_string(char *out, size_t outlen, const char *in, size_t inlen)
{
	size_t n = 0;

	for (; n < inlen && n + 1 < outlen && in[n]; n++) {
		unsigned char c = (unsigned char)in[n];
		out[n] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[n] = 0;
}

static enum cvm_vcpu_action refuse(struct cvm_vcpu *v)
{
	v->stats.ucall_bad++;
	return CVM_VACT_CONTINUE;
}

static void record_report(struct cvm_vcpu *v, const struct cvm_ucall *uc)
{
	v->stats.ucall_reports++;
	if (v->stats.nreports_kept < CVM_VCPU_REPORTS_KEPT) {
		struct cvm_ucall_report *r = &v->stats.report[v->stats.nreports_kept++];
		r->stage = uc->args[0];
		memcpy(r->args, &uc->args[1], sizeof(r->args));
		r->line = uc->line;
	}
	if (cvm_log_verbose())
		cvm_info("ucall", "vcpu %u: report stage %llu (0x%llx 0x%llx 0x%llx)", v->index,
		         (unsigned long long)uc->args[0], (unsigned long long)uc->args[1],
		         (unsigned long long)uc->args[2], (unsigned long long)uc->args[3]);
}

static enum cvm_vcpu_action assertion(struct cvm_vcpu *v, const struct cvm_ucall *uc)
{
	char file[CVM_UCALL_FILE_LEN + 1], msg[CVM_UCALL_MSG_LEN + 1];

	v->stats.ucall_asserts++;
	copy_guest_string(file, sizeof(file), uc->file, sizeof(uc->file));
	copy_guest_string(msg, sizeof(msg), uc->msg, sizeof(uc->msg));
	if (cvm_vm_request_end(v->vm, CVM_EXIT_GUEST_ASSERT, "guest assertion")) {
		cvm_console_flush(v->vm); /* the guest's output first, then why it failed */
		cvm_err(NULL, "guest assertion failed on vcpu %u at %s:%u: %s (0x%llx, 0x%llx)",
		        v->index, file, uc->line, msg, (unsigned long long)uc->args[0],
		        (unsigned long long)uc->args[1]);
	}
	return CVM_VACT_STOP;
}

static void print(struct cvm_vcpu *v, const struct cvm_ucall *uc)
{
	char msg[CVM_UCALL_MSG_LEN + 1];
	unsigned int left = atomic_load(&v->vm->prints_left);

	v->stats.ucall_prints++;
	/* A bounded budget per VM, so a guest cannot flood stderr. */
	while (left && !atomic_compare_exchange_weak(&v->vm->prints_left, &left, left - 1))
		;
	if (left == 0) {
		atomic_fetch_add(&v->vm->prints_suppressed, 1);
		return;
	}
	copy_guest_string(msg, sizeof(msg), uc->msg, sizeof(uc->msg));
	cvm_err(NULL, "guest vcpu %u: %s", v->index, msg);
	if (left == 1)
		cvm_warn(NULL, "further guest prints suppressed");
}

enum cvm_vcpu_action cvm_ucall_handle(struct cvm_vcpu *v, unsigned int size, uint32_t count,
                                      uint32_t gpa)
{
	struct cvm_ucall uc;
	const void *src;

	/* Only a single 32-bit OUT of an 8-byte-aligned address wholly inside RAM. */
	if (size != 4 || count != 1 || gpa % 8)
		return refuse(v);
	src = cvm_gmem_ptr(&v->vm->gmem, gpa, sizeof(uc));
	if (!src)
		return refuse(v);
	/* One copy, then only the copy is looked at: the guest may change its memory meanwhile. */
	memcpy(&uc, src, sizeof(uc));
	switch (uc.cmd) {
	case CVM_UCALL_REPORT:
		record_report(v, &uc);
		return CVM_VACT_CONTINUE;
	case CVM_UCALL_ASSERT:
		return assertion(v, &uc);
	case CVM_UCALL_DONE:
		v->stats.ucall_done++;
		cvm_vm_request_end(v->vm, CVM_EXIT_OK, "guest done");
		return CVM_VACT_STOP;
	case CVM_UCALL_PRINT:
		print(v, &uc);
		return CVM_VACT_CONTINUE;
	default:
		return refuse(v);
	}
}
