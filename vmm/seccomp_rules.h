/*
 * Shorthands for writing seccomp rule tables (struct cvm_sc_rule, see
 * seccomp_filter.h): vmm/sandbox.c's lists and each irqchip mode's own group
 * (struct cvm_irqchip_ops.seccomp). Only initialisers, no code.
 */
#ifndef COREVM_VMM_SECCOMP_RULES_H
#define COREVM_VMM_SECCOMP_RULES_H

#include <fcntl.h>
#include <sys/mman.h>

#include "vmm/seccomp_filter.h"

// clang-format off
#define CVM_SC_ARG(i, m, v) {.arg = (i), .cmp = CVM_SC_MASKED_EQ, .mask = (m), .val = (v)}
#define CVM_SC_ON_FD(i, f)  {.arg = (i), .cmp = CVM_SC_FD, .val = (f)}
#define CVM_SC_MY_PID(i)    {.arg = (i), .cmp = CVM_SC_PID}
#define CVM_SC_KICK_SIG(i)  {.arg = (i), .cmp = CVM_SC_KICK}

#define CVM_SC_ALLOW(name, why) {name, {{0}}, why}
/* ioctl `req` on the thread's fd `f` / on any fd. */
#define CVM_SC_IOCTL_ON(f, req, why) {"ioctl", {CVM_SC_ON_FD(0, f), CVM_SC_ARG(1, 0xffffffffu, req)}, why}
#define CVM_SC_IOCTL(req, why)       {"ioctl", {CVM_SC_ARG(1, 0xffffffffu, req)}, why}
/* tgkill of a thread of this process with the vCPU kick signal (SIGRTMIN). */
#define CVM_SC_TGKILL_KICK(why) {"tgkill", {CVM_SC_MY_PID(0), CVM_SC_KICK_SIG(2)}, why}
#define CVM_SC_WRITE_TO(f, why)      {"write", {CVM_SC_ON_FD(0, f)}, why}
#define CVM_SC_READ_FROM(f, why)     {"read", {CVM_SC_ON_FD(0, f)}, why}
/* Memory the allocator or a helper maps is never executable. */
#define CVM_SC_NO_EXEC(name, why)    {name, {CVM_SC_ARG(2, PROT_EXEC, 0)}, why}
/* Opening for reading only: no write access (O_TMPFILE needs it too), no creation, no truncation. */
#define CVM_SC_OPEN_RDONLY(why) \
	{"openat", {CVM_SC_ARG(2, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND, O_RDONLY)}, why}
// clang-format on

/* The number of rules in a table, for struct cvm_seccomp_list. */
#define CVM_SC_LIST(group, r)                        \
	{                                            \
		group, r, sizeof(r) / sizeof((r)[0]) \
	}

#endif
