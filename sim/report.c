/* Simulator results as text, side-by-side table, JSON and gnuplot bar charts (see report.h). */
#include "sim/report.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util/log.h"

const char *cvm_sim_fmt_ns(uint64_t ns, char *buf, size_t len)
{
	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 "ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1fus", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2fms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", (double)ns / 1e9);
	return buf;
}

/* One table row: a label and a formatter over a result. */
struct row {
	const char *label;
	void (*fmt)(const struct cvm_sim_result *r, char *buf, size_t len, unsigned int arg);
	unsigned int arg;
	bool (*shown)(const struct cvm_sim_result *res, unsigned int n);
};

static double per_s(const struct cvm_sim_result *r, uint64_t x)
{
	return r->duration ? (double)x * 1e9 / (double)r->duration : 0.0;
}

static void f_idle_req(const struct cvm_sim_result *r, char *b, size_t l, unsigned int a)
{
	snprintf(b, l, "%.1f", r->idle_required_per_s);
}
static void f_hltw(const struct cvm_sim_result *r, char *b, size_t l, unsigned int a)
{
	snprintf(b, l, "%.1f", per_s(r, r->hlt_wakeup_kicks));
}
static void f_exits(const struct cvm_sim_result *r, char *b, size_t l, unsigned int a)
{
	snprintf(b, l, "%.0f", per_s(r, r->exits));
}
static void f_stalls(const struct cvm_sim_result *r, char *b, size_t l, unsigned int a)
{
	snprintf(b, l, "%" PRIu64, a == 0 ? r->stalls : r->stalls_at[a - 1]);
}
/* Fields at offset `a` of the result: a percentage, a count, a duration. */
static void f_pct(const struct cvm_sim_result *r, char *b, size_t l, unsigned int a)
{
	snprintf(b, l, "%.2f", *(const double *)((const char *)r + a));
}
static void f_u64(const struct cvm_sim_result *r, char *b, size_t l, unsigned int a)
{
	snprintf(b, l, "%" PRIu64, *(const uint64_t *)((const char *)r + a));
}
static void f_dur(const struct cvm_sim_result *r, char *b, size_t l, unsigned int a)
{
	cvm_sim_fmt_ns(*(const uint64_t *)((const char *)r + a), b, l);
}

#define OFF(f) (unsigned int)offsetof(struct cvm_sim_result, f)

static bool any(const struct cvm_sim_result *res, unsigned int n, unsigned int off)
{
	for (unsigned int i = 0; i < n; i++)
		if (*(const uint64_t *)((const char *)&res[i] + off))
			return true;
	return false;
}
static bool has_lock(const struct cvm_sim_result *res, unsigned int n)
{
	return any(res, n, OFF(lock_wait_max));
}
static bool has_hotplug(const struct cvm_sim_result *res, unsigned int n)
{
	return any(res, n, OFF(host_hotplug_events)) || any(res, n, OFF(entry_failures));
}
static bool has_aps(const struct cvm_sim_result *res, unsigned int n)
{
	return any(res, n, OFF(ap_online_attempts));
}
static bool has_mwait(const struct cvm_sim_result *res, unsigned int n)
{
	return any(res, n, OFF(mwait_exits)) || any(res, n, OFF(vmm_work_done));
}

static const struct row rows[] = {
        {"IDLE_REQUIRED exits/s", f_idle_req, 0, NULL},
        {"HLT_WAKEUP_ICR kicks/s", f_hltw, 0, NULL},
        {"guest useful time %", f_pct, OFF(guest_useful_pct), NULL},
        {"guest waiting (steal) %", f_pct, OFF(guest_steal_pct), NULL},
        {"longest stretch w/o progress", f_dur, OFF(longest_stretch), NULL},
        {"stalls (> threshold)", f_stalls, 0, NULL},
        {"host noise delay p50", f_dur, OFF(noise_delay_p50), NULL},
        {"host noise delay p99", f_dur, OFF(noise_delay_p99), NULL},
        {"host noise delay max", f_dur, OFF(noise_delay_max), NULL},
        {"capacity lost to forced idle %", f_pct, OFF(capacity_lost_pct), NULL},
        {"CPU spent retrying entries %", f_pct, OFF(spin_pct), NULL},
        {"exits/s", f_exits, 0, NULL},
        {"wake latency p99", f_dur, OFF(wake_latency_p99), NULL},
        {"hotplug lock wait max", f_dur, OFF(lock_wait_max), has_lock},
        {"host hotplug events", f_u64, OFF(host_hotplug_events), has_hotplug},
        {"vCPU re-placements", f_u64, OFF(replacements), has_hotplug},
        {"CPUs quarantined", f_u64, OFF(quarantined), has_hotplug},
        {"guest entry failures", f_u64, OFF(entry_failures), has_hotplug},
        {"AP online attempts", f_u64, OFF(ap_online_attempts), has_aps},
        {"SIPIs discarded", f_u64, OFF(sipis_discarded), NULL},
        {"APs lost", f_u64, OFF(aps_lost), NULL},
        {"AP INIT-SIPI retries", f_u64, OFF(ap_retries), has_aps},
        {"SMIs taken", f_u64, OFF(smis), has_aps},
        {"MWAIT exits", f_u64, OFF(mwait_exits), has_mwait},
        {"VMM work items done", f_u64, OFF(vmm_work_done), has_mwait},
        {"VMM work delay p99", f_dur, OFF(vmm_work_delay_p99), has_mwait},
        {"IPIs delivered", f_u64, OFF(ipis_delivered), NULL},
        {"events", f_u64, OFF(events), NULL},
};

static void report_vms(FILE *out, const struct cvm_sim_result *res, unsigned int n);

void cvm_sim_report_text(FILE *out, const struct cvm_sim_scenario *sc,
                         const struct cvm_sim_result *res, unsigned int n)
{
	char buf[48], thr[24];
	fprintf(out,
	        "scenario %s: %u CPUs (%ux%ux%u), %u vCPUs, %s of virtual time, seed %" PRIu64 "\n",
	        sc->name, sc->host.ncpus, sc->host.sockets, sc->host.cores_per_socket,
	        sc->host.threads_per_core, sc->total_vcpus,
	        cvm_sim_fmt_ns(res[0].duration, buf, sizeof(buf)), res[0].seed);
	fprintf(out, "%-32s", "");
	for (unsigned int i = 0; i < n; i++)
		fprintf(out, " %15s", res[i].strategy);
	fprintf(out, "\n");
	for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		const struct row *r = &rows[k];
		if (r->shown && !r->shown(res, n))
			continue;
		if (r->fmt == f_stalls) {
			/* one row per watchdog threshold, the main one first */
			for (unsigned int t = 0; t <= res[0].nthresholds; t++) {
				uint64_t th = t ? res[0].thresholds[t - 1] : res[0].stall_threshold;
				char label[64];
				snprintf(label, sizeof(label), "stalls > %s%s",
				         cvm_sim_fmt_ns(th, thr, sizeof(thr)),
				         t ? "" : " (watchdog)");
				fprintf(out, "%-32s", label);
				for (unsigned int i = 0; i < n; i++) {
					r->fmt(&res[i], buf, sizeof(buf), t);
					fprintf(out, " %15s", buf);
				}
				fprintf(out, "\n");
			}
			continue;
		}
		fprintf(out, "%-32s", r->label);
		for (unsigned int i = 0; i < n; i++) {
			r->fmt(&res[i], buf, sizeof(buf), r->arg);
			fprintf(out, " %15s", buf);
		}
		fprintf(out, "\n");
	}
	if (res[0].nvms > 1)
		report_vms(out, res, n);
}

static void add_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static void add_dbl(json_object *o, const char *k, double v)
{
	/* rounded so the text form is stable and comparable */
	char buf[32];
	snprintf(buf, sizeof(buf), "%.4f", v);
	json_object_object_add(o, k, json_object_new_double_s(v, buf));
}

/* The per-VM rows of the text table: value of one VM's metric as text. */
struct vm_row {
	const char *label;
	int kind; /* 0 pct, 1 duration, 2 count, 3 per second */
	size_t off;
	bool only_if_nonzero;
};

#define VOFF(f) offsetof(struct cvm_sim_vm_result, f)

static const struct vm_row vm_rows[] = {
        {"guest useful time %", 0, VOFF(useful_pct), false},
        {"guest waiting (steal) %", 0, VOFF(steal_pct), false},
        {"longest stretch w/o progress", 1, VOFF(longest_stretch), false},
        {"stalls (watchdog)", 2, VOFF(stalls), false},
        {"IDLE_REQUIRED exits/s", 3, VOFF(idle_required), true},
        {"exits/s", 3, VOFF(exits), false},
        {"wake latency p99", 1, VOFF(wake_latency_p99), true},
        {"MWAIT exits/s", 3, VOFF(mwait_exits), true},
        {"VMM work delay p50", 1, VOFF(vmm_work_delay_p50), true},
        {"VMM work delay p99", 1, VOFF(vmm_work_delay_p99), true},
};

static void vm_cell(const struct cvm_sim_result *r, unsigned int vm, const struct vm_row *row,
                    char *buf, size_t len)
{
	const char *base = (const char *)&r->vms[vm];
	if (row->kind == 0) {
		snprintf(buf, len, "%.2f", *(const double *)(base + row->off));
		return;
	}
	uint64_t v = *(const uint64_t *)(base + row->off);
	if (row->kind == 1)
		cvm_sim_fmt_ns(v, buf, len);
	else if (row->kind == 2)
		snprintf(buf, len, "%" PRIu64, v);
	else
		snprintf(buf, len, "%.0f", per_s(r, v));
}

static void report_vms(FILE *out, const struct cvm_sim_result *res, unsigned int n)
{
	char buf[48], label[96];
	for (unsigned int vm = 0; vm < res[0].nvms; vm++) {
		const struct cvm_sim_vm_result *x = &res[0].vms[vm];
		fprintf(out, "VM %s: %u vCPUs, %s%s\n", x->name, x->vcpus, x->workload,
		        x->protect ? ", SMT-protected" : "");
		for (size_t k = 0; k < sizeof(vm_rows) / sizeof(vm_rows[0]); k++) {
			const struct vm_row *row = &vm_rows[k];
			bool nonzero = false;
			for (unsigned int i = 0; i < n; i++)
				nonzero |= *(const uint64_t *)((const char *)&res[i].vms[vm] +
				                               row->off) != 0;
			if (row->only_if_nonzero && !nonzero)
				continue;
			snprintf(label, sizeof(label), "  %s", row->label);
			fprintf(out, "%-32s", label);
			for (unsigned int i = 0; i < n; i++) {
				vm_cell(&res[i], vm, row, buf, sizeof(buf));
				fprintf(out, " %15s", buf);
			}
			fprintf(out, "\n");
		}
	}
}

static json_object *vm_json(const struct cvm_sim_vm_result *x)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(x->name));
	add_u64(o, "vcpus", x->vcpus);
	json_object_object_add(o, "smt_protect", json_object_new_boolean(x->protect));
	json_object_object_add(o, "workload", json_object_new_string(x->workload));
	add_dbl(o, "guest_useful_pct", x->useful_pct);
	add_dbl(o, "guest_steal_pct", x->steal_pct);
	add_u64(o, "longest_stretch_ns", x->longest_stretch);
	add_u64(o, "stalls", x->stalls);
	add_u64(o, "exits", x->exits);
	add_u64(o, "idle_required", x->idle_required);
	add_u64(o, "wake_latency_p50_ns", x->wake_latency_p50);
	add_u64(o, "wake_latency_p99_ns", x->wake_latency_p99);
	add_u64(o, "mwait_exits", x->mwait_exits);
	add_u64(o, "vmm_work_done", x->vmm_work_done);
	add_u64(o, "vmm_work_delay_p50_ns", x->vmm_work_delay_p50);
	add_u64(o, "vmm_work_delay_p99_ns", x->vmm_work_delay_p99);
	/* the names of `corevm run --stats` (vcpus[].lifecycle), summed; zero ones omitted */
	json_object *lc = json_object_new_object();
	for (unsigned int k = 0; k < CVM_CTR_NR; k++)
		if (x->lc[k])
			add_u64(lc, cvm_counter_name(k), x->lc[k]);
	if (x->ipis_sent)
		add_u64(lc, "ipis_sent", x->ipis_sent);
	if (x->ipis_received)
		add_u64(lc, "ipis_received", x->ipis_received);
	json_object_object_add(o, "lifecycle", lc);
	return o;
}

static json_object *result_json(const struct cvm_sim_result *r)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "strategy", json_object_new_string(r->strategy));
	add_u64(o, "events", r->events);
	add_u64(o, "idle_required", r->idle_required);
	add_dbl(o, "idle_required_per_s", r->idle_required_per_s);
	add_u64(o, "hlt_wakeup_kicks", r->hlt_wakeup_kicks);
	add_dbl(o, "guest_useful_pct", r->guest_useful_pct);
	add_dbl(o, "guest_steal_pct", r->guest_steal_pct);
	add_u64(o, "exits", r->exits);
	add_u64(o, "entries", r->entries);
	add_u64(o, "entry_failures", r->entry_failures);
	add_u64(o, "longest_stretch_ns", r->longest_stretch);
	add_u64(o, "stall_threshold_ns", r->stall_threshold);
	add_u64(o, "stalls", r->stalls);
	json_object *th = json_object_new_array();
	for (unsigned int i = 0; i < r->nthresholds; i++) {
		json_object *t = json_object_new_object();
		add_u64(t, "threshold_ns", r->thresholds[i]);
		add_u64(t, "stalls", r->stalls_at[i]);
		json_object_array_add(th, t);
	}
	json_object_object_add(o, "stalls_at", th);
	json_object *lv = json_object_new_array();
	for (unsigned int i = 0; i < r->nvcpus; i++)
		json_object_array_add(lv, json_object_new_uint64(r->vcpu_longest[i]));
	json_object_object_add(o, "vcpu_longest_stretch_ns", lv);
	add_u64(o, "noise_items", r->noise_items);
	add_u64(o, "noise_delay_p50_ns", r->noise_delay_p50);
	add_u64(o, "noise_delay_p99_ns", r->noise_delay_p99);
	add_u64(o, "noise_delay_max_ns", r->noise_delay_max);
	add_dbl(o, "capacity_lost_pct", r->capacity_lost_pct);
	add_dbl(o, "spin_pct", r->spin_pct);
	add_u64(o, "lock_wait_max_ns", r->lock_wait_max);
	add_u64(o, "host_hotplug_events", r->host_hotplug_events);
	add_u64(o, "replacements", r->replacements);
	add_u64(o, "quarantined", r->quarantined);
	add_u64(o, "inits_sent", r->inits_sent);
	add_u64(o, "sipis_sent", r->sipis_sent);
	add_u64(o, "sipis_accepted", r->sipis_accepted);
	add_u64(o, "sipis_discarded", r->sipis_discarded);
	add_u64(o, "smis_taken", r->smis);
	add_u64(o, "ipis_delivered", r->ipis_delivered);
	add_u64(o, "halts", r->halts);
	add_u64(o, "interrupts_injected", r->intr_injected);
	add_u64(o, "ap_online_attempts", r->ap_online_attempts);
	add_u64(o, "aps_lost", r->aps_lost);
	add_u64(o, "ap_retries", r->ap_retries);
	add_u64(o, "mwait_exits", r->mwait_exits);
	add_u64(o, "vmm_work_done", r->vmm_work_done);
	add_u64(o, "vmm_work_delay_p99_ns", r->vmm_work_delay_p99);
	add_u64(o, "wake_latency_p50_ns", r->wake_latency_p50);
	add_u64(o, "wake_latency_p99_ns", r->wake_latency_p99);
	json_object *vms = json_object_new_array();
	for (unsigned int i = 0; i < r->nvms; i++)
		json_object_array_add(vms, vm_json(&r->vms[i]));
	json_object_object_add(o, "vms", vms);
	return o;
}

int __cvm_sim_report_json(FILE *out, const struct cvm_sim_scenario *sc,
                          const struct cvm_sim_result *res, unsigned int n)
{
	json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "scenario", json_object_new_string(sc->name));
	add_u64(o, "seed", res[0].seed);
	add_u64(o, "duration_ns", res[0].duration);
	add_u64(o, "cpus", sc->host.ncpus);
	add_u64(o, "vcpus", sc->total_vcpus);
	json_object *arr = json_object_new_array();
	for (unsigned int i = 0; i < n; i++)
		json_object_array_add(arr, result_json(&res[i]));
	json_object_object_add(o, "results", arr);
	fprintf(out, "%s\n",
	        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	                                                  JSON_C_TO_STRING_SPACED |
	                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return ferror(out) ? -EIO : 0;
}

/* Writes the gnuplot program (with the data inline) that draws the comparison. */
static void plot_program(FILE *f, const char *path, const struct cvm_sim_scenario *sc,
                         const struct cvm_sim_result *res, unsigned int n)
{
	fprintf(f, "set terminal pngcairo size 1400,900 font ',10'\n");
	fprintf(f, "set output '%s'\n", path);
	fprintf(f, "$d << EOD\n");
	for (unsigned int i = 0; i < n; i++)
		fprintf(f, "%s %.6g %.6g %.6g %.6g %.6g %.6g\n", res[i].strategy,
		        res[i].idle_required_per_s + 1e-3, res[i].guest_useful_pct,
		        (double)res[i].longest_stretch / 1e6 + 1e-3,
		        (double)res[i].noise_delay_p99 / 1e3 + 1e-3, res[i].capacity_lost_pct,
		        (double)res[i].stalls);
	fprintf(f, "EOD\n");
	char title[sizeof(sc->name)];
	snprintf(title, sizeof(title), "%s", sc->name);
	for (char *p = title; *p; p++)
		if (*p == '\'' || *p == '\\' || *p == '\n')
			*p = ' ';
	fprintf(f,
	        "set multiplot layout 2,3 title 'corevm sim: %s (seed %" PRIu64 ")' noenhanced\n",
	        title, res[0].seed);

	fprintf(f, "set style data histograms\nset style fill solid 0.8 border -1\n"
	           "set boxwidth 0.7\nset grid ytics\nset xtics rotate by -30\nunset key\n");
	static const struct {
		int col;
		const char *title;
		bool log;
	} p[] = {
	        {2, "IDLE_REQUIRED exits/s", true},
	        {3, "guest useful time %", false},
	        {4, "longest stretch without progress (ms)", true},
	        {5, "host noise delay p99 (us)", true},
	        {6, "capacity lost to forced idle %", false},
	        {7, "stalls over the watchdog threshold", false},
	};
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		fprintf(f, "set title '%s' noenhanced\n%s\n", p[i].title,
		        p[i].log ? "set logscale y" : "unset logscale y; set yrange [0:*]");
		fprintf(f, "plot $d using %d:xtic(1) linecolor %zu\n", p[i].col, i + 1);
	}
	fprintf(f, "unset multiplot\n");
}

int cvm_sim_report_plot(const char *path, const struct cvm_sim_scenario *sc,
                        const struct cvm_sim_result *res, unsigned int n)
{
	if (strchr(path, '\'') || strchr(path, '\n')) {
		cvm_err("sim", "--plot %s: the file name may not contain quotes or newlines", path);
		return -EINVAL;
	}
	int out = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (out < 0) {
		int e = errno;
		cvm_err("sim", "--plot %s: %s", path, strerror(e));
		return -e;
	}
	close(out);
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		int e = errno;
		cvm_err("sim", "--plot: pipe: %s", strerror(e));
		return -e;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		cvm_err("sim", "--plot: fork: %s", strerror(e));
		return -e;
	}
	if (pid == 0) {
		/* gnuplot's chatter (empty ranges...) is not ours to print */
		int null = open("/dev/null", O_WRONLY);
		dup2(fds[0], STDIN_FILENO);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execlp("gnuplot", "gnuplot", (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	FILE *f = fdopen(fds[1], "w");
	if (f) {
		plot_program(f, path, sc, res, n);
		fclose(f);
	} else {
		close(fds[1]);
	}
	signal(SIGPIPE, old);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		cvm_err("sim",
		        "--plot: gnuplot not found (install the Debian package gnuplot-nox)");
		return -ENOENT;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		cvm_err("sim", "--plot %s: gnuplot failed (status %d)", path,
		        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -EIO;
	}
	return 0;
}
