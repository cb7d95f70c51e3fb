/* One-line diagnostics for the non-pure layers: "corevm: <subsystem>: <message>". */
#ifndef COREVM_UTIL_LOG_H
#define COREVM_UTIL_LOG_H

#include <stdarg.h>

/*
 * Error reporting has two tiers (see DEVELOPERS.md): __foo() returns -errno and
 * leaves the decision to its caller; foo() reports with these functions, naming
 * the subsystem, the operation and the value, and returns the error. Only main()
 * and test harnesses exit the process.
 */
void cvm_err(const char *subsys, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cvm_warn(const char *subsys, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cvm_info(const char *subsys, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Verbosity for cvm_info(): 0 quiet (default), 1 verbose. Set once by main(). */
void cvm_log_set_verbose(int level);
int cvm_log_verbose(void);

#endif
