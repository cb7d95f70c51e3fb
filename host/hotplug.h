/* Host CPU hotplug: kernel uevents (NETLINK_KOBJECT_UEVENT) parsed into CPU online/offline events, from an injectable source. */
#ifndef COREVM_HOST_HOTPLUG_H
#define COREVM_HOST_HOTPLUG_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum cvm_cpu_uevent_kind {
	CVM_UEVENT_ONLINE,  /* ACTION=online: the CPU runs (its topology files exist) */
	CVM_UEVENT_OFFLINE, /* ACTION=offline */
	CVM_UEVENT_ADD,     /* ACTION=add: a CPU became present (still offline) */
	CVM_UEVENT_REMOVE,  /* ACTION=remove: a CPU is no longer present */
};

struct cvm_cpu_uevent {
	enum cvm_cpu_uevent_kind kind;
	unsigned int cpu;
	uint64_t seqnum; /* SEQNUM=, 0 when absent */
};

const char *cvm_cpu_uevent_kind_name(enum cvm_cpu_uevent_kind k);

/* Largest datagram accepted (the kernel's own limit is 2048 bytes). */
#define CVM_UEVENT_MAX 8192

/*
 * Parses one kernel uevent datagram: "ACTION@DEVPATH\0" followed by
 * "KEY=VALUE\0" fields. Pure; `buf` need not be NUL-terminated, every byte is
 * bounded by `len`. Returns 1 with `ev` filled for a CPU event (DEVPATH exactly
 * /devices/system/cpu/cpuN, SUBSYSTEM=cpu when present, N < nr_cpus); 0 for a
 * well-formed uevent that is not about a CPU coming or going (another device, a
 * "change", a cache sub-device); -EINVAL for a malformed datagram (no header,
 * field without '=' or NUL, header and ACTION= disagree, ...) or -ERANGE for a
 * CPU number >= nr_cpus, with `*why` pointing at a static one-line reason.
 */
int cvm_uevent_parse(const char *buf, size_t len, unsigned int nr_cpus, struct cvm_cpu_uevent *ev,
                     const char **why);

/*
 * Where datagrams come from: the kernel's uevent netlink socket, or any datagram
 * socket (tests use a socketpair and write raw uevents into the other end).
 */
struct cvm_uevent_source {
	int fd;
	bool netlink; /* accept only datagrams the kernel sent (sender port 0) */
};

/* Opens NETLINK_KOBJECT_UEVENT bound to the kernel's multicast group, non-blocking. */
int __cvm_uevent_open_netlink(struct cvm_uevent_source *src);
/* Wraps a datagram socket the caller owns (and closes). */
void cvm_uevent_source_fd(struct cvm_uevent_source *src, int fd);
/* Closes a netlink source; a wrapped fd is left to its owner. */
void cvm_uevent_close(struct cvm_uevent_source *src);

/*
 * Receives one datagram without blocking. Returns its length, or -EAGAIN (none
 * waiting), -ENOBUFS (the kernel dropped events: resynchronize from sysfs),
 * -EMSGSIZE (longer than `len`: dropped), -EPERM (not sent by the kernel:
 * dropped), -ECONNRESET (the peer closed), or another -errno.
 */
ssize_t __cvm_uevent_recv(const struct cvm_uevent_source *src, char *buf, size_t len);

/* What the listener hands on. Called on the listener's thread. */
struct cvm_hotplug_sink {
	void (*cpu_event)(void *ctx, const struct cvm_cpu_uevent *ev);
	void (*lost)(void *ctx); /* events were lost: re-read the online CPUs */
	void *ctx;
};

/* Counters of one listener (read them after it stopped, or from its thread). */
struct cvm_hotplug_stats {
	uint64_t datagrams, cpu_events, ignored, malformed, foreign, oversized, lost;
};

struct cvm_hotplug {
	struct cvm_uevent_source src;
	struct cvm_hotplug_sink sink;
	struct cvm_hotplug_stats stats;
	int stop_fd; /* eventfd that wakes the listener thread to stop */
	atomic_bool stopping;
	bool running;
	unsigned int nr_cpus;
	unsigned int warned; /* malformed datagrams reported so far */
	pthread_t thread;
	/* Called first on the listener thread; non-zero: the thread stops at once. May be NULL. */
	int (*thread_init)(void *ctx);
	void *thread_ctx;
	sem_t init_done;          /* posted by the listener once thread_init has returned */
	char buf[CVM_UEVENT_MAX]; /* the datagram being handled */
};

/* Sets up a listener over `src` for CPUs below `nr_cpus`. No thread yet. */
void cvm_hotplug_init(struct cvm_hotplug *h, const struct cvm_uevent_source *src,
                      unsigned int nr_cpus, const struct cvm_hotplug_sink *sink);

/*
 * Waits up to `timeout_ms` (-1: forever) for one datagram and handles it: a CPU
 * event goes to sink->cpu_event, lost events to sink->lost, anything else is
 * counted. Malformed datagrams get one warning line each (the first 10). Returns
 * 1 when a datagram was handled, 0 on timeout or stop, -errno when the source
 * failed (-ECONNRESET: closed).
 */
int cvm_hotplug_poll(struct cvm_hotplug *h, int timeout_ms);

/*
 * Runs cvm_hotplug_poll() on a thread of its own until cvm_hotplug_stop(); the
 * thread calls h->thread_init (set it after cvm_hotplug_init) before anything
 * else, and cvm_hotplug_start() returns only once it has.
 */
int cvm_hotplug_start(struct cvm_hotplug *h);
/* Stops and joins the thread (if started). Does not close the source. */
void cvm_hotplug_stop(struct cvm_hotplug *h);

#endif
