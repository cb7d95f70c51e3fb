/*
 * Fuzz target: the I/O port bus (devices/iobus.h) with the 16550A UART, the
 * debug exit, fw_cfg and the i8042 on their ports, probe devices the input
 * registers anywhere, and host input pushed into the UART. Port accesses of
 * every size go through the bus, as guest IN/OUT exits do. Checked: which
 * accesses the bus hands to which device (against its own list of ranges),
 * the accounting of unhandled ports, fw_cfg against a reference model, the
 * UART's receive FIFO order and interrupt line, the callbacks' arguments.
 */
#include <errno.h>
#include <string.h>

#include "arch/x86/guest_abi.h"
#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/i8042.h"
#include "devices/iobus.h"
#include "devices/uart16550.h"
#include "fuzz/fuzz.h"
#include "fuzz/fuzz_ops.h"

#define MAX_PROBES CVM_IOBUS_MAX_RANGES

static const uint16_t ports[] = {0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff,
                                 CVM_PORT_DEBUG_EXIT, CVM_PORT_FW_CFG_SEL, CVM_PORT_FW_CFG_DATA,
                                 CVM_PORT_I8042_DATA, CVM_PORT_I8042_CMD,
                                 /* FZ_PORT_TABLE_EDGES: next to and straddling the devices */
                                 0x3f7, 0x3f6, 0x400, 0xf3, 0xf5, 0xf6, 0xf7, 0xf8, 0x50f, 0x512,
                                 0x5f, 0x61, 0x63, 0x65, 0x0, 0xfffc, 0xfffd, 0xfffe, 0xffff};

static const unsigned int sizes[] = {1, 2, 4, 1, 2, 4, 0, 3};

/* A device that only records that the bus kept its promises. */
struct probe {
	uint16_t base, len;
};

/* The harness's own view of the bus and its devices. */
struct dev_world {
	struct cvm_iobus bus;
	struct cvm_uart uart;
	struct cvm_debug_exit dbg;
	struct cvm_fw_cfg fw;
	struct cvm_i8042 kbd;
	struct probe probe[MAX_PROBES];
	unsigned int nprobes;
	/* ranges as registered: base, len */
	uint16_t rbase[CVM_IOBUS_MAX_RANGES], rlen[CVM_IOBUS_MAX_RANGES];
	unsigned int nranges;
	uint64_t unhandled;
	/* UART */
	bool irq;
	uint64_t tx, rx_room_calls;
	/* debug exit: the value the current write should carry */
	uint32_t dbg_expect;
	uint64_t dbg_calls;
	/* fw_cfg reference model */
	uint16_t fw_key;
	unsigned int fw_off;
	uint64_t fw_selects, fw_past_end;
	uint16_t nb_cpus, max_cpus;
	uint64_t ram;
	/* i8042 */
	uint64_t resets;
};

static struct dev_world world;

static uint32_t ones(unsigned int size)
{
	return size >= 4 ? UINT32_MAX : (UINT32_C(1) << (8 * size)) - 1;
}

/* ---- device callbacks ---- */

static void uart_tx(void *ctx, uint8_t byte)
{
	struct dev_world *w = ctx;
	(void)byte;
	FZ_CHECK(!(w->uart.mcr & CVM_UART_MCR_LOOP), "UART transmitted in loopback");
	w->tx++;
}

static void uart_irq(void *ctx, bool level)
{
	struct dev_world *w = ctx;
	FZ_CHECK(level != w->irq, "UART interrupt line set to %d twice", level);
	w->irq = level;
}

static void uart_rx_room(void *ctx)
{
	struct dev_world *w = ctx;
	w->rx_room_calls++;
}

static const struct cvm_uart_callbacks uart_cb = {
        .tx = uart_tx, .set_irq = uart_irq, .rx_room = uart_rx_room};

static void dbg_exit(void *ctx, uint32_t value, uint32_t status)
{
	struct dev_world *w = ctx;
	FZ_CHECK(value == w->dbg_expect && status == ((value << 1) | 1),
	         "debug exit value %#x status %#x, written %#x", value, status, w->dbg_expect);
	w->dbg_calls++;
}

static void kbd_reset(void *ctx)
{
	struct dev_world *w = ctx;
	w->resets++;
}

static void probe_read(void *dev, uint16_t offset, unsigned int size, uint32_t *val)
{
	const struct probe *p = dev;
	FZ_CHECK((size == 1 || size == 2 || size == 4) && offset + size <= p->len,
	         "probe [%#x, +%u) read at offset %u size %u", p->base, p->len, offset, size);
	*val = 0xdeadbeefu; /* the bus must cut this to the access size */
}

static void probe_write(void *dev, uint16_t offset, unsigned int size, uint32_t val)
{
	const struct probe *p = dev;
	FZ_CHECK((size == 1 || size == 2 || size == 4) && offset + size <= p->len &&
	                 val <= ones(size),
	         "probe [%#x, +%u) written at offset %u size %u value %#x", p->base, p->len, offset,
	         size, val);
}

static const struct cvm_io_ops probe_ops = {.read = probe_read, .write = probe_write};

/* ---- references ---- */

/* Index of the range that holds every byte of the access, or -1 (the bus's contract). */
static int ref_range(const struct dev_world *w, uint16_t port, unsigned int size)
{
	if (size != 1 && size != 2 && size != 4)
		return -1;
	for (unsigned int i = 0; i < w->nranges; i++)
		if (port >= w->rbase[i] &&
		    (uint32_t)port + size <= (uint32_t)w->rbase[i] + w->rlen[i])
			return (int)i;
	return -1;
}

static int ref_register(struct dev_world *w, uint16_t base, uint16_t len)
{
	if (len == 0 || (uint32_t)base + len > 0x10000)
		return -EINVAL;
	for (unsigned int i = 0; i < w->nranges; i++)
		if (base < (uint32_t)w->rbase[i] + w->rlen[i] && w->rbase[i] < (uint32_t)base + len)
			return -EEXIST;
	if (w->nranges == CVM_IOBUS_MAX_RANGES)
		return -ENOSPC;
	w->rbase[w->nranges] = base;
	w->rlen[w->nranges++] = len;
	return 0;
}

/* The byte fw_cfg item `key` has at `off`, or -1 past its end (QEMU's items). */
static int fw_item_byte(const struct dev_world *w, uint16_t key, unsigned int off)
{
	uint64_t v;
	unsigned int len;

	switch (key) {
	case CVM_FW_CFG_SIGNATURE:
		return off < 4 ? "QEMU"[off] : -1;
	case CVM_FW_CFG_ID:
		v = CVM_FW_CFG_ID_TRADITIONAL, len = 4;
		break;
	case CVM_FW_CFG_RAM_SIZE:
		v = w->ram, len = 8;
		break;
	case CVM_FW_CFG_NB_CPUS:
		v = w->nb_cpus, len = 2;
		break;
	case CVM_FW_CFG_MAX_CPUS:
		v = w->max_cpus, len = 2;
		break;
	default:
		return -1;
	}
	return off < len ? (int)((v >> (8 * off)) & 0xffu) : -1;
}

static void fw_select(struct dev_world *w, uint16_t key)
{
	w->fw_key = key;
	w->fw_off = 0;
	w->fw_selects++;
}

static void fw_read(struct dev_world *w, uint32_t got)
{
	int want = fw_item_byte(w, w->fw_key, w->fw_off);

	if (want < 0)
		w->fw_past_end++;
	else
		w->fw_off++;
	FZ_CHECK(got == (uint32_t)(want < 0 ? 0 : want), "fw_cfg key %#x byte %u reads %#x",
	         w->fw_key, w->fw_off, got);
}

/* ---- the UART's receive FIFO ---- */

struct fifo {
	uint8_t b[CVM_UART_FIFO_SIZE];
	unsigned int n;
};

static struct fifo fifo_of(const struct cvm_uart *u)
{
	struct fifo f = {.n = u->rx_count};

	for (unsigned int i = 0; i < f.n && i < CVM_UART_FIFO_SIZE; i++)
		f.b[i] = u->rx[(u->rx_head + i) % CVM_UART_FIFO_SIZE];
	return f;
}

/* Does the FIFO now start with what remained of `pre` after `popped` reads? */
static bool kept_order(const struct fifo *pre, const struct fifo *post, unsigned int popped)
{
	unsigned int kept = pre->n - popped;

	return popped <= pre->n && post->n >= kept && !memcmp(post->b, pre->b + popped, kept);
}

static void check_uart(const struct dev_world *w)
{
	const struct cvm_uart *u = &w->uart;
	unsigned int cap = (u->fcr & CVM_UART_FCR_ENABLE) ? CVM_UART_FIFO_SIZE : 1;

	FZ_CHECK(u->rx_count <= cap && u->rx_head < CVM_UART_FIFO_SIZE,
	         "UART FIFO head %u count %u capacity %u", u->rx_head, u->rx_count, cap);
	FZ_CHECK(u->irq_level == w->irq, "UART line %d, last told %d", u->irq_level, w->irq);
	FZ_CHECK(!w->irq || ((u->mcr & CVM_UART_MCR_OUT2) && !(u->mcr & CVM_UART_MCR_LOOP)),
	         "UART interrupt with MCR %#x", u->mcr);
	FZ_CHECK(u->tx_bytes == w->tx, "UART counted %llu bytes sent, %llu seen",
	         (unsigned long long)u->tx_bytes, (unsigned long long)w->tx);
	FZ_CHECK(cvm_uart_rx_room(u) == ((u->mcr & CVM_UART_MCR_LOOP) ? 0 : cap - u->rx_count),
	         "UART room %u", cvm_uart_rx_room(u));
}

/* Register reads with a checkable value (one register, the state before it). */
static void check_uart_read(const struct cvm_uart *pre, const struct fifo *f, unsigned int reg,
                            uint8_t v)
{
	bool dlab = pre->lcr & CVM_UART_LCR_DLAB;

	if (reg == CVM_UART_RBR_THR_DLL && !dlab && f->n)
		FZ_CHECK(v == f->b[0], "RBR reads %#x, the FIFO holds %#x first", v, f->b[0]);
	if (reg == CVM_UART_LSR)
		FZ_CHECK((v & (CVM_UART_LSR_THRE | CVM_UART_LSR_TEMT)) ==
		                         (CVM_UART_LSR_THRE | CVM_UART_LSR_TEMT) &&
		                 !!(v & CVM_UART_LSR_DR) == !!f->n,
		         "LSR %#x with %u bytes received", v, f->n);
	if (reg == CVM_UART_IIR_FCR)
		FZ_CHECK(!(v & 0x30) && ((v & 0xc0) == 0xc0) == !!(pre->fcr & CVM_UART_FCR_ENABLE),
		         "IIR %#x with FCR %#x", v, pre->fcr);
	if (reg >= CVM_UART_NREGS)
		FZ_CHECK(v == 0xff, "UART register %u reads %#x", reg, v);
}

/* ---- operations ---- */

static uint16_t port_operand(struct fz *f)
{
	uint8_t sel = fz_u8(f);

	return sel < sizeof(ports) / sizeof(ports[0]) ? ports[sel] : fz_u16(f);
}

/* Which UART registers [port, port + size) covers, as a bit mask, when the UART gets it. */
static unsigned int uart_regs(const struct dev_world *w, uint16_t port, unsigned int size)
{
	int r = ref_range(w, port, size);

	if (r != 0) /* range 0 is the UART */
		return 0;
	return ((1u << size) - 1) << (port - CVM_PORT_UART0);
}

static void bus_access(struct dev_world *w, struct fz *f, bool write)
{
	uint16_t port = port_operand(f);
	unsigned int size = sizes[fz_u8(f) % 8];
	uint32_t val = write ? fz_u32(f) : 0, before = w->bus.unhandled_count[port];
	const uint64_t *map = write ? w->bus.unhandled_writes : w->bus.unhandled_reads;
	int r = ref_range(w, port, size);
	unsigned int regs = uart_regs(w, port, size);
	struct cvm_uart pre_u = w->uart;
	struct fifo pre = fifo_of(&w->uart), post;
	bool claimed;

	w->dbg_expect = val & ones(size);
	if (write)
		claimed = cvm_iobus_write(&w->bus, port, size, val);
	else
		claimed = cvm_iobus_read(&w->bus, port, size, &val);
	FZ_CHECK(claimed == (r >= 0), "port %#x size %u: claimed %d, ranges say %d", port, size,
	         claimed, r);
	if (!claimed) {
		w->unhandled++;
		FZ_CHECK(w->bus.unhandled_count[port] == before + 1 &&
		                 ((map[port / 64] >> (port % 64)) & 1) &&
		                 w->bus.unhandled_total == w->unhandled,
		         "unhandled port %#x not counted (%u, total %llu)", port,
		         w->bus.unhandled_count[port], (unsigned long long)w->bus.unhandled_total);
		FZ_CHECK(write || val == ones(size), "unhandled read of %#x gives %#x", port, val);
		return;
	}
	FZ_CHECK(w->bus.unhandled_count[port] == before && w->bus.unhandled_total == w->unhandled,
	         "claimed access to %#x counted as unhandled", port);
	FZ_CHECK(write || val <= ones(size), "%u-byte read of %#x gives %#x", size, port, val);

	/* fw_cfg: only 16-bit selector writes and 8-bit data reads do anything */
	if (port == CVM_PORT_FW_CFG_SEL && size == 2 && write)
		fw_select(w, (uint16_t)val);
	else if (port == CVM_PORT_FW_CFG_DATA && size == 1 && !write)
		fw_read(w, val);
	else if (!write && r == 2)
		FZ_CHECK(val == ones(size), "fw_cfg read of %#x size %u gives %#x", port, size,
		         val);
	if (!write && r == 1)
		FZ_CHECK(val == 0, "debug exit reads %#x", val);

	/* the UART: byte by byte; its FIFO keeps its order */
	post = fifo_of(&w->uart);
	if (!write && regs) {
		unsigned int first = (unsigned int)__builtin_ctz(regs);
		check_uart_read(&pre_u, &pre, first, (uint8_t)val);
		FZ_CHECK(post.n <= pre.n && kept_order(&pre, &post, pre.n - post.n),
		         "UART read at %#x size %u reordered the FIFO", port, size);
	} else if (write && regs && !(regs & (1u << CVM_UART_IIR_FCR))) {
		/* without an FCR write nothing is cleared; only loopback THR writes add */
		FZ_CHECK(post.n >= pre.n && kept_order(&pre, &post, 0),
		         "UART write at %#x size %u changed the FIFO", port, size);
	}
}

static void uart_push(struct dev_world *w, struct fz *f)
{
	size_t n, got, queued;
	const uint8_t *buf = fz_bytes(f, fz_u8(f) % 40, &n);
	struct fifo pre = fifo_of(&w->uart), post;
	unsigned int room = cvm_uart_rx_room(&w->uart);
	uint64_t overruns = w->uart.rx_overruns, discarded = w->uart.rx_discarded;

	queued = cvm_uart_push_rx(&w->uart, buf, n);
	post = fifo_of(&w->uart);
	got = post.n - pre.n;
	FZ_CHECK(queued == (n < room ? n : room) && got == queued && kept_order(&pre, &post, 0) &&
	                 !memcmp(post.b + pre.n, buf, queued),
	         "pushed %zu bytes with room %u: queued %zu, FIFO %u -> %u", n, room, queued, pre.n,
	         post.n);
	if (w->uart.mcr & CVM_UART_MCR_LOOP)
		FZ_CHECK(w->uart.rx_discarded == discarded + n, "loopback input not counted");
	else
		FZ_CHECK(w->uart.rx_overruns == overruns + (n - queued), "overruns not counted");
	if (n > queued && !(w->uart.mcr & CVM_UART_MCR_LOOP))
		FZ_CHECK(w->uart.lsr & CVM_UART_LSR_OE, "overrun without LSR.OE");
}

static void register_probe(struct dev_world *w, struct fz *f)
{
	uint16_t base = fz_u16(f), len = fz_u8(f) % 40;
	struct probe *p = &w->probe[w->nprobes % MAX_PROBES];
	int want = ref_register(w, base, len), rc;

	*p = (struct probe){.base = base, .len = len};
	rc = cvm_iobus_register(&w->bus, base, len, &probe_ops, p, "probe");
	FZ_CHECK(rc == want, "register [%#x, +%u): %d, expected %d", base, len, rc, want);
	if (rc == 0)
		w->nprobes++;
}

static void uart_direct(struct dev_world *w, struct fz *f, bool write)
{
	unsigned int reg = fz_u8(f) % 16;
	struct cvm_uart pre_u = w->uart;
	struct fifo pre = fifo_of(&w->uart), post;
	uint8_t v;

	if (write) {
		cvm_uart_write(&w->uart, reg, fz_u8(f));
		if (reg >= CVM_UART_NREGS)
			FZ_CHECK(!memcmp(&pre_u, &w->uart, sizeof(pre_u)), "write to register %u",
			         reg);
		post = fifo_of(&w->uart);
		if (reg != CVM_UART_IIR_FCR)
			FZ_CHECK(kept_order(&pre, &post, 0), "UART write %u changed the FIFO", reg);
		return;
	}
	v = cvm_uart_read(&w->uart, reg);
	check_uart_read(&pre_u, &pre, reg, v);
	post = fifo_of(&w->uart);
	FZ_CHECK(post.n <= pre.n && kept_order(&pre, &post, pre.n - post.n),
	         "UART read %u reordered the FIFO", reg);
}

static void i8042_direct(struct dev_world *w, struct fz *f)
{
	bool cmd = fz_u8(f) & 1, write = fz_u8(f) & 1;
	uint8_t v = fz_u8(f), pending = w->kbd.pending;
	uint64_t resets = w->kbd.resets;

	if (!write) {
		uint8_t r = cvm_i8042_read(&w->kbd, cmd);
		if (cmd)
			FZ_CHECK(r == w->kbd.status, "status reads %#x", r);
		else
			FZ_CHECK(!(w->kbd.status & CVM_I8042_STS_OBF), "data read left OBF set");
		return;
	}
	cvm_i8042_write(&w->kbd, cmd, v);
	bool reset =
	        cmd ? v >= 0xf0 && !(v & 1) : pending == CVM_I8042_CMD_WRITE_OUTPORT && !(v & 1);
	FZ_CHECK(w->kbd.resets == resets + reset, "i8042 %s write %#x (pending %#x): resets %llu",
	         cmd ? "command" : "data", v, pending, (unsigned long long)w->kbd.resets);
}

static void check_world(const struct dev_world *w)
{
	check_uart(w);
	FZ_CHECK(w->dbg.writes == w->dbg_calls, "debug exit counted %llu writes, %llu calls",
	         (unsigned long long)w->dbg.writes, (unsigned long long)w->dbg_calls);
	FZ_CHECK(w->fw.selects == w->fw_selects && w->fw.past_end == w->fw_past_end &&
	                 w->fw.key == w->fw_key && w->fw.offset <= w->fw.item_len &&
	                 w->fw.item_len <= sizeof(w->fw.item),
	         "fw_cfg key %#x offset %u/%u selects %llu past end %llu", w->fw.key, w->fw.offset,
	         w->fw.item_len, (unsigned long long)w->fw.selects,
	         (unsigned long long)w->fw.past_end);
	FZ_CHECK(w->kbd.resets == w->resets, "i8042 counted %llu resets, %llu requested",
	         (unsigned long long)w->kbd.resets, (unsigned long long)w->resets);
	FZ_CHECK(!(w->kbd.status & CVM_I8042_STS_IBF), "i8042 status %#x", w->kbd.status);
}

static void step(void *ctx, struct fz *f)
{
	struct dev_world *w = ctx;
	switch (fz_u8(f) % FZ_DEV_NR_OPS) {
	case FZ_DEV_READ:
		bus_access(w, f, false);
		break;
	case FZ_DEV_WRITE:
		bus_access(w, f, true);
		break;
	case FZ_DEV_UART_PUSH:
		uart_push(w, f);
		break;
	case FZ_DEV_REGISTER:
		register_probe(w, f);
		break;
	case FZ_DEV_UART_READ:
		uart_direct(w, f, false);
		break;
	case FZ_DEV_UART_WRITE:
		uart_direct(w, f, true);
		break;
	case FZ_DEV_FW_SELECT:
		fw_select(w, fz_u16(f));
		cvm_fw_cfg_select(&w->fw, w->fw_key);
		break;
	case FZ_DEV_FW_READ:
		fw_read(w, cvm_fw_cfg_read_byte(&w->fw));
		break;
	case FZ_DEV_I8042:
		i8042_direct(w, f);
		break;
	}
	check_world(w);
}

static void setup(void *ctx, struct fz *f)
{
	struct dev_world *w = ctx;
	int rc = 0;

	memset(w, 0, sizeof(*w));
	w->nb_cpus = fz_u16(f);
	w->max_cpus = fz_u16(f);
	w->ram = (uint64_t)fz_u32(f) << 20;
	cvm_iobus_init(&w->bus);
	cvm_uart_init(&w->uart, &uart_cb, w);
	cvm_debug_exit_init(&w->dbg, dbg_exit, w);
	cvm_fw_cfg_init(&w->fw, w->ram, w->nb_cpus, w->max_cpus);
	cvm_i8042_init(&w->kbd, kbd_reset, w);
	/* In this order: ref_range() index 0 is the UART, 1 the debug exit, 2 fw_cfg. */
	rc |= ref_register(w, CVM_PORT_UART0, CVM_UART_NREGS);
	rc |= cvm_uart_register(&w->bus, &w->uart, CVM_PORT_UART0);
	rc |= ref_register(w, CVM_PORT_DEBUG_EXIT, CVM_DEBUG_EXIT_IOSIZE);
	rc |= cvm_debug_exit_register(&w->bus, &w->dbg);
	rc |= ref_register(w, CVM_PORT_FW_CFG_SEL, 2);
	rc |= cvm_fw_cfg_register(&w->bus, &w->fw);
	rc |= ref_register(w, CVM_PORT_I8042_DATA, 1);
	rc |= ref_register(w, CVM_PORT_I8042_CMD, 1);
	rc |= cvm_i8042_register(&w->bus, &w->kbd);
	FZ_CHECK(rc == 0, "device registration failed");
	check_world(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run_ops(data, size, setup, step, &world);
}
