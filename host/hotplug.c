/* Host CPU hotplug: parses kernel uevents into CPU events and runs a listener over an injectable datagram source. */
#include "host/hotplug.h"

#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "util/parse.h"

const char *cvm_cpu_uevent_kind_name(enum cvm_cpu_uevent_kind k)
{
	static const char *const n[] = {"online", "offline", "add", "remove"};
	return (unsigned int)k < 4 ? n[k] : "?";
}

#define CPU_DEVPATH "/devices/system/cpu/cpu"

static int bad(const char **why, const char *what, int err)
{
	*why = what;
	return err;
}

/* The CPU number of a DEVPATH that is exactly /devices/system/cpu/cpuN: 1, else 0; -ERANGE when N is absurd. */
static int devpath_cpu(const char *devpath, unsigned int nr_cpus, unsigned int *cpu)
{
	size_t plen = sizeof(CPU_DEVPATH) - 1;
	if (strncmp(devpath, CPU_DEVPATH, plen))
		return 0;
	const char *num = devpath + plen;
	size_t digits = strspn(num, "0123456789");
	if (digits == 0 || num[digits] != '\0')
		return 0; /* cpufreq, cpu3/cache/..., cpuidle */
	if (digits > 1 && num[0] == '0')
		return 0; /* the kernel never writes leading zeros */
	uint64_t v;
	if (digits > 10 || cvm_parse_u64(num, 0, UINT32_MAX, &v) || v >= nr_cpus)
		return -ERANGE;
	*cpu = (unsigned int)v;
	return 1;
}

int cvm_uevent_parse(const char *buf, size_t len, unsigned int nr_cpus, struct cvm_cpu_uevent *ev,
                     const char **why)
{
	const char *action = NULL, *devpath = NULL, *subsystem = NULL, *seqnum = NULL;

	*why = NULL;
	if (len == 0)
		return bad(why, "empty datagram", -EINVAL);
	if (len > CVM_UEVENT_MAX)
		return bad(why, "longer than any uevent", -EINVAL);
	const char *end = memchr(buf, '\0', len);
	if (!end)
		return bad(why, "no NUL-terminated header", -EINVAL);
	if (!strncmp(buf, "libudev", 7))
		return bad(why, "a udev message, not a kernel uevent", -EINVAL);
	const char *at = strchr(buf, '@');
	if (!at || at == buf || at[1] == '\0')
		return bad(why, "header is not ACTION@DEVPATH", -EINVAL);
	size_t hdr_action_len = (size_t)(at - buf);

	for (const char *p = end + 1; p < buf + len;) {
		const char *q = memchr(p, '\0', (size_t)(buf + len - p));
		if (!q)
			return bad(why, "a field is not NUL-terminated (truncated datagram?)",
			           -EINVAL);
		const char *eq = strchr(p, '=');
		if (q == p || !eq || eq == p)
			return bad(why, "a field is not KEY=VALUE", -EINVAL);
		static const char *const keys[] = {"ACTION=", "DEVPATH=", "SUBSYSTEM=", "SEQNUM="};
		const char **slots[] = {&action, &devpath, &subsystem, &seqnum};
		for (unsigned int i = 0; i < 4; i++) {
			if (strncmp(p, keys[i], strlen(keys[i])))
				continue;
			if (*slots[i])
				return bad(why, "a field appears twice", -EINVAL);
			*slots[i] = p + strlen(keys[i]);
		}
		p = q + 1;
	}
	if (!action || !devpath)
		return bad(why, "no ACTION= or DEVPATH= field", -EINVAL);
	if (strlen(action) != hdr_action_len || strncmp(action, buf, hdr_action_len) ||
	    strcmp(devpath, at + 1))
		return bad(why, "header and fields disagree", -EINVAL);
	uint64_t seq = 0;
	if (seqnum && (strspn(seqnum, "0123456789") != strlen(seqnum) ||
	               cvm_parse_u64(seqnum, 0, UINT64_MAX, &seq)))
		return bad(why, "SEQNUM is not a number", -EINVAL);

	static const char *const actions[] = {"online", "offline", "add", "remove"};
	int kind = -1;
	for (int i = 0; i < 4; i++)
		if (!strcmp(action, actions[i]))
			kind = i;
	if (subsystem && strcmp(subsystem, "cpu"))
		return 0;
	unsigned int cpu;
	int r = devpath_cpu(devpath, nr_cpus, &cpu);
	if (r < 0)
		return bad(why, "CPU number beyond the host's possible CPUs", r);
	if (r == 0 || kind < 0)
		return 0; /* not a CPU, or a "change"/"bind" */
	ev->kind = (enum cvm_cpu_uevent_kind)kind;
	ev->cpu = cpu;
	ev->seqnum = seq;
	return 1;
}

int __cvm_uevent_open_netlink(struct cvm_uevent_source *src)
{
	struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = 1 /* kernel events */};
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	                NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return -errno;
	int size = 1 << 20; /* room for a burst (all SMT siblings coming online at once) */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int e = errno;
		close(fd);
		return -e;
	}
	src->fd = fd;
	src->netlink = true;
	return 0;
}

void cvm_uevent_source_fd(struct cvm_uevent_source *src, int fd)
{
	src->fd = fd;
	src->netlink = false;
}

void cvm_uevent_close(struct cvm_uevent_source *src)
{
	if (src->netlink && src->fd >= 0)
		close(src->fd);
	src->fd = -1;
}

ssize_t __cvm_uevent_recv(const struct cvm_uevent_source *src, char *buf, size_t len)
{
	struct sockaddr_nl from;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (src->netlink) {
		msg.msg_name = &from;
		msg.msg_namelen = sizeof(from);
	}
	ssize_t n = recvmsg(src->fd, &msg, MSG_DONTWAIT);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	if (src->netlink && (msg.msg_namelen < sizeof(from) || from.nl_pid != 0))
		return -EPERM;
	if (n == 0 && !src->netlink)
		return -ECONNRESET;
	return n;
}

void cvm_hotplug_init(struct cvm_hotplug *h, const struct cvm_uevent_source *src,
                      unsigned int nr_cpus, const struct cvm_hotplug_sink *sink)
{
	memset(h, 0, sizeof(*h));
	h->src = *src;
	h->sink = *sink;
	h->nr_cpus = nr_cpus;
	h->stop_fd = -1;
	atomic_init(&h->stopping, false);
}

static void handle(struct cvm_hotplug *h, const char *buf, size_t n)
{
	struct cvm_cpu_uevent ev;
	const char *why;
	h->stats.datagrams++;
	int r = cvm_uevent_parse(buf, n, h->nr_cpus, &ev, &why);
	if (r > 0) {
		h->stats.cpu_events++;
		h->sink.cpu_event(h->sink.ctx, &ev);
	} else if (r == 0) {
		h->stats.ignored++;
	} else {
		h->stats.malformed++;
		if (h->warned++ < 10)
			cvm_warn("hotplug", "dropped a malformed uevent (%zu bytes): %s", n, why);
	}
}

int cvm_hotplug_poll(struct cvm_hotplug *h, int timeout_ms)
{
	struct pollfd fds[2] = {{.fd = h->src.fd, .events = POLLIN},
	                        {.fd = h->stop_fd, .events = POLLIN}};
	int r = poll(fds, h->stop_fd >= 0 ? 2 : 1, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0 || atomic_load(&h->stopping))
		return 0;
	if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
		return 0;
	ssize_t n = __cvm_uevent_recv(&h->src, h->buf, sizeof(h->buf));
	switch (n) {
	case -EAGAIN:
		return 0;
	case -ENOBUFS:
		h->stats.lost++;
		if (h->sink.lost)
			h->sink.lost(h->sink.ctx);
		return 1;
	case -EMSGSIZE:
		h->stats.oversized++;
		if (h->warned++ < 10)
			cvm_warn("hotplug", "dropped a uevent longer than %d bytes",
			         CVM_UEVENT_MAX);
		return 1;
	case -EPERM:
		h->stats.foreign++;
		return 1;
	default:
		if (n < 0)
			return (int)n;
		handle(h, h->buf, (size_t)n);
		return 1;
	}
}

static void *listener(void *arg)
{
	struct cvm_hotplug *h = arg;
	int refused = h->thread_init ? h->thread_init(h->thread_ctx) : 0;
	sem_post(&h->init_done);
	if (refused)
		return NULL;
	while (!atomic_load(&h->stopping)) {
		int r = cvm_hotplug_poll(h, -1);
		if (r < 0) {
			cvm_warn("hotplug",
			         "uevent source failed: %s; CPU hotplug is no longer followed",
			         strerror(-r));
			break;
		}
	}
	return NULL;
}

int cvm_hotplug_start(struct cvm_hotplug *h)
{
	h->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->stop_fd < 0)
		return -errno;
	atomic_store(&h->stopping, false);
	sem_init(&h->init_done, 0, 0);
	int r = pthread_create(&h->thread, NULL, listener, h);
	if (r) {
		sem_destroy(&h->init_done);
		close(h->stop_fd);
		h->stop_fd = -1;
		return -r;
	}
	while (sem_wait(&h->init_done) < 0 && errno == EINTR)
		;
	sem_destroy(&h->init_done);
	h->running = true;
	return 0;
}

void cvm_hotplug_stop(struct cvm_hotplug *h)
{
	if (!h->running)
		return;
	atomic_store(&h->stopping, true);
	uint64_t one = 1;
	ssize_t unused = write(h->stop_fd, &one, sizeof(one));
	(void)unused;
	pthread_join(h->thread, NULL);
	close(h->stop_fd);
	h->stop_fd = -1;
	h->running = false;
}
