/* Presenting simulator results: one run's summary, the side-by-side comparison, JSON, and a gnuplot PNG. */
#ifndef COREVM_SIM_REPORT_H
#define COREVM_SIM_REPORT_H

#include <stdio.h>

#include "sim/scenario.h"
#include "sim/sim.h"

/*
 * All take `n` results of one scenario (one per strategy, n >= 1). The text
 * and JSON forms are deterministic (no wall-clock values), so they can be
 * compared with golden files; wall time and events per second are printed by
 * the caller.
 */
void cvm_sim_report_text(FILE *out, const struct cvm_sim_scenario *sc,
                         const struct cvm_sim_result *res, unsigned int n);

/* JSON document {"scenario":..., "seed":..., "results":[...]}; returns 0 or -ENOMEM / -EIO. */
int __cvm_sim_report_json(FILE *out, const struct cvm_sim_scenario *sc,
                          const struct cvm_sim_result *res, unsigned int n);

/*
 * Draws the comparison as bar charts into the PNG `path` by running gnuplot
 * (Debian package gnuplot-nox). Reports one line and returns -errno when
 * gnuplot is missing or fails.
 */
int cvm_sim_report_plot(const char *path, const struct cvm_sim_scenario *sc,
                        const struct cvm_sim_result *res, unsigned int n);

/* Formats ns as "850ns", "12.3us", "4.56ms", "1.23s" into buf; returns buf. */
const char *cvm_sim_fmt_ns(uint64_t ns, char *buf, size_t len);

#endif
