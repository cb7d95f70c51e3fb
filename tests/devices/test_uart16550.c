/*
 * Unit tests for devices/uart16550.c: every register, interrupt identification
 * and its priorities, the LSR, FIFO overrun, DLAB, loopback, the OUT2-gated line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/guest_abi.h"
#include "devices/uart16550.h"

/* What the device did to its host. */
struct host {
	uint8_t tx[256];
	size_t ntx;
	bool irq;
	unsigned int irq_changes;
	unsigned int room_calls;
};

static void host_tx(void *ctx, uint8_t byte)
{
	struct host *h = ctx;
	assert_true(h->ntx < sizeof(h->tx));
	h->tx[h->ntx++] = byte;
}

static void host_irq(void *ctx, bool level)
{
	struct host *h = ctx;
	assert_true(level != h->irq); /* only changes are reported */
	h->irq = level;
	h->irq_changes++;
}

static void host_room(void *ctx)
{
	((struct host *)ctx)->room_calls++;
}

static const struct cvm_uart_callbacks callbacks = {host_tx, host_irq, host_room};

struct fixture {
	struct cvm_uart u;
	struct host h;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	cvm_uart_init(&f->u, &callbacks, &f->h);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

#define R(reg)      cvm_uart_read(u, (reg))
#define W(reg, val) cvm_uart_write(u, (reg), (val))
#define IIR         CVM_UART_IIR_FCR
#define LSR         CVM_UART_LSR

static void push(struct cvm_uart *u, const char *s, size_t expect_queued)
{
	assert_int_equal(cvm_uart_push_rx(u, (const uint8_t *)s, strlen(s)), expect_queued);
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;
	struct cvm_uart *u = &f->u;

	assert_int_equal(R(CVM_UART_IER_DLM), 0);
	assert_int_equal(R(IIR), 0x01);
	assert_int_equal(R(CVM_UART_LCR), 0);
	assert_int_equal(R(CVM_UART_MCR), 0);
	assert_int_equal(R(LSR), 0x60);          /* THRE | TEMT */
	assert_int_equal(R(CVM_UART_MSR), 0xb0); /* DCD | DSR | CTS, no deltas */
	assert_int_equal(R(CVM_UART_SCR), 0);
	assert_int_equal(R(8), 0xff); /* no ninth register */
	assert_false(f->h.irq);
	assert_int_equal(f->h.irq_changes, 0);
}

static void test_scratch_and_lcr(void **state)
{
	struct cvm_uart *u = &((struct fixture *)*state)->u;

	for (unsigned int v = 0; v < 256; v += 51) {
		W(CVM_UART_SCR, (uint8_t)v);
		assert_int_equal(R(CVM_UART_SCR), v);
	}
	W(CVM_UART_LCR, 0x1b); /* 8 bits, even parity: stored as written */
	assert_int_equal(R(CVM_UART_LCR), 0x1b);
	W(CVM_UART_MCR, 0xff);
	assert_int_equal(R(CVM_UART_MCR), 0x1f); /* 16550A: bits 5-7 read 0 */
	W(LSR, 0x00);                            /* LSR and MSR writes are ignored */
	W(CVM_UART_MSR, 0x00);
	assert_int_equal(R(LSR), 0x60);
}

static void test_dlab(void **state)
{
	struct fixture *f = *state;
	struct cvm_uart *u = &f->u;

	W(CVM_UART_IER_DLM, 0x05);
	W(CVM_UART_LCR, 0x80 | 0x03);
	assert_int_equal(R(0), 0x0c); /* divisor latch after reset: 9600 baud */
	assert_int_equal(R(1), 0x00);
	W(0, 0x01); /* 115200 baud */
	W(1, 0x02);
	assert_int_equal(R(0), 0x01);
	assert_int_equal(R(1), 0x02);
	assert_int_equal(f->h.ntx, 0); /* the DLL write was not a transmission */
	W(CVM_UART_LCR, 0x03);
	assert_int_equal(R(1), 0x05); /* IER untouched by the DLM write */
	W(0, 'x');
	assert_int_equal(f->h.ntx, 1);
	W(CVM_UART_LCR, 0x83);
	assert_int_equal(R(0), 0x01); /* DLL untouched by the THR write */
	assert_int_equal(R(1), 0x02);
}

static void test_transmit_byte_exact(void **state)
{
	struct fixture *f = *state;
	struct cvm_uart *u = &f->u;
	const uint8_t bytes[] = {'h', 'i', '\n', '\r', 0x00, 0xff, 0x80, 0x1b};

	W(CVM_UART_LCR, 0x02); /* even a 7-bit word length passes bytes unchanged */
	for (size_t i = 0; i < sizeof(bytes); i++) {
		W(0, bytes[i]);
		assert_int_equal(R(LSR) & 0x60, 0x60); /* ready again at once */
	}
	assert_int_equal(f->h.ntx, sizeof(bytes));
	assert_memory_equal(f->h.tx, bytes, sizeof(bytes));
	assert_int_equal(u->tx_bytes, sizeof(bytes));
}

static void test_receive_polling(void **state)
{
	struct fixture *f = *state;
	struct cvm_uart *u = &f->u;

	/* IER 0: a polling driver sees DR and reads the bytes; the line stays low */
	push(u, "ok", 1); /* FIFOs off: room for one byte */
	assert_int_equal(u->rx_overruns, 1);
	assert_int_equal(R(LSR), 0x60 | 0x02 | 0x01); /* DR, OE */
	assert_int_equal(R(LSR), 0x61);               /* OE cleared by the read */
	assert_int_equal(R(0), 'o');
	assert_int_equal(R(LSR), 0x60);
	assert_int_equal(R(0), 'o'); /* empty: RBR keeps its last byte */
	assert_int_equal(u->rx_bytes, 1);
	assert_int_equal(f->h.irq_changes, 0);
}

static void test_fifo_and_overrun(void **state)
{
	struct fixture *f = *state;
	struct cvm_uart *u = &f->u;
	const char *msg = "0123456789abcdefXYZW";

	assert_int_equal(cvm_uart_rx_room(u), 1);
	W(IIR, CVM_UART_FCR_ENABLE | CVM_UART_FCR_CLEAR_RX | CVM_UART_FCR_CLEAR_TX);
	assert_int_equal(R(IIR), 0xc1); /* FIFOs enabled, nothing pending */
	assert_int_equal(cvm_uart_rx_room(u), 16);
	push(u, msg, 16);
	assert_int_equal(u->rx_overruns, 4);
	assert_int_equal(cvm_uart_rx_room(u), 0);
	assert_int_equal(R(LSR), 0x63);
	unsigned int calls = f->h.room_calls;
	for (int i = 0; i < 16; i++)
		assert_int_equal(R(0), msg[i]); /* in order; the last 4 were lost */
	assert_int_equal(f->h.room_calls, calls + 16);
	assert_int_equal(R(LSR), 0x60);
	/* FCR clears the receive FIFO on request */
	push(u, "abc", 3);
	W(IIR, CVM_UART_FCR_ENABLE | CVM_UART_FCR_CLEAR_RX);
	assert_int_equal(R(LSR), 0x60);
	/* disabling the FIFOs empties them and leaves room for one byte */
	push(u, "abc", 3);
	W(IIR, 0);
	assert_int_equal(R(IIR), 0x01);
	assert_int_equal(R(LSR), 0x60);
	assert_int_equal(cvm_uart_rx_room(u), 1);
}

static void test_interrupt_priorities(void **state)
{
	struct fixture *f = *state;
	struct cvm_uart *u = &f->u;

	W(IIR, 0x01 | 0x40); /* FIFO on, trigger level 4 */
	W(CVM_UART_MCR, CVM_UART_MCR_OUT2);
	W(CVM_UART_IER_DLM, 0x0f);
	assert_true(f->h.irq); /* THR empty, at once on enabling THRI */
	assert_int_equal(R(IIR), 0xc2);
	assert_false(f->h.irq); /* reading IIR acknowledged it */
	assert_int_equal(R(IIR), 0xc1);

	/* a modem status change (a loopback round trip) is the lowest priority */
	W(CVM_UART_MCR, CVM_UART_MCR_OUT2 | CVM_UART_MCR_LOOP);
	W(CVM_UART_MCR, CVM_UART_MCR_OUT2);
	assert_int_equal(R(IIR), 0xc0);
	assert_true(f->h.irq);
	assert_int_equal(R(CVM_UART_MSR), 0xb3); /* reading MSR acknowledges it */
	assert_false(f->h.irq);

	/* all four pending at once: overrun, data, THR empty, modem status */
	for (int i = 0; i < 17; i++)
		cvm_uart_push_rx(u, (const uint8_t *)"z", 1);
	W(0, '!');
	W(CVM_UART_MCR, CVM_UART_MCR_OUT2 | CVM_UART_MCR_LOOP);
	W(CVM_UART_MCR, CVM_UART_MCR_OUT2);
	assert_true(f->h.irq);
	assert_int_equal(R(IIR), 0xc6); /* line status first */
	assert_int_equal(R(LSR) & 0x02, 0x02);
	assert_int_equal(R(IIR), 0xc4); /* data at or above the trigger level */
	for (int i = 0; i < 13; i++)
		R(0);
	assert_int_equal(R(IIR), 0xcc); /* 3 bytes, below the trigger: character timeout */
	R(0), R(0), R(0);
	assert_int_equal(R(IIR), 0xc2); /* THR empty (and acknowledged by this read) */
	assert_int_equal(R(IIR), 0xc0); /* modem status */
	assert_true(f->h.irq);
	R(CVM_UART_MSR);
	assert_int_equal(R(IIR), 0xc1);
	assert_false(f->h.irq);
}

static void test_interrupt_enables_and_out2(void **state)
{
	struct fixture *f = *state;
	struct cvm_uart *u = &f->u;

	/* data pending with RDI enabled but OUT2 clear: identified, but the line stays low */
	W(CVM_UART_IER_DLM, CVM_UART_IER_RDI);
	push(u, "a", 1);
	assert_int_equal(R(IIR), 0x04);
	assert_false(f->h.irq);
	W(CVM_UART_MCR, CVM_UART_MCR_OUT2);
	assert_true(f->h.irq);
	R(0);
	assert_false(f->h.irq);
	/* RDI disabled: the data is still there for polling, but no interrupt */
	W(CVM_UART_IER_DLM, 0);
	push(u, "b", 1);
	assert_int_equal(R(IIR), 0x01);
	assert_false(f->h.irq);
	/* enabling it later raises the line */
	W(CVM_UART_IER_DLM, CVM_UART_IER_RDI);
	assert_true(f->h.irq);
	/* a THR write re-arms THR empty, which IIR then reports after the data */
	W(CVM_UART_IER_DLM, CVM_UART_IER_RDI | CVM_UART_IER_THRI);
	R(IIR); /* acknowledges nothing: data ranks first */
	R(0);
	assert_int_equal(R(IIR), 0x02);
	assert_int_equal(R(IIR), 0x01);
	W(0, 'q');
	assert_int_equal(R(IIR), 0x02);
	assert_int_equal(f->h.ntx, 1);
	assert_false(f->h.irq);
}

static void test_loopback(void **state)
{
	struct fixture *f = *state;
	struct cvm_uart *u = &f->u;

	W(CVM_UART_MCR, CVM_UART_MCR_LOOP);
	/* the outputs fold back: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD; all went low */
	assert_int_equal(R(CVM_UART_MSR), 0x0b); /* DCTS, DDSR, DDCD; no line */
	assert_int_equal(R(CVM_UART_MSR), 0x00);
	W(CVM_UART_MCR, CVM_UART_MCR_LOOP | CVM_UART_MCR_DTR | CVM_UART_MCR_RTS);
	assert_int_equal(R(CVM_UART_MSR), 0x30 | 0x03);
	W(CVM_UART_MCR, CVM_UART_MCR_LOOP | CVM_UART_MCR_OUT1 | CVM_UART_MCR_OUT2);
	assert_int_equal(R(CVM_UART_MSR), 0xc0 | 0x0b); /* RI rising: no TERI yet */
	W(CVM_UART_MCR, CVM_UART_MCR_LOOP | CVM_UART_MCR_OUT2);
	assert_int_equal(R(CVM_UART_MSR), 0x80 | 0x04); /* RI falling: TERI */

	/* transmitted bytes come back; none reaches the host */
	W(IIR, CVM_UART_FCR_ENABLE);
	W(CVM_UART_IER_DLM, CVM_UART_IER_RDI);
	W(0, 'L');
	W(0, 'B');
	assert_int_equal(f->h.ntx, 0);
	assert_int_equal(u->tx_bytes, 0);
	assert_int_equal(R(IIR), 0xc4); /* identified (trigger level 1)... */
	assert_false(f->h.irq);         /* ...but loopback holds the line low */
	assert_int_equal(R(LSR), 0x61);
	assert_int_equal(R(0), 'L');
	assert_int_equal(R(0), 'B');
	/* host input is disconnected */
	assert_int_equal(cvm_uart_rx_room(u), 0);
	push(u, "xyz", 0);
	assert_int_equal(u->rx_discarded, 3);
	assert_int_equal(R(LSR), 0x60);
	/* leaving loopback restores the modem lines and the host paths */
	W(CVM_UART_MCR, CVM_UART_MCR_OUT2);
	assert_int_equal(R(CVM_UART_MSR), 0xb0 | 0x03); /* CTS, DSR back; DCD stayed */
	W(0, 'T');
	assert_int_equal(f->h.ntx, 1);
	assert_int_equal(cvm_uart_rx_room(u), 16);
}

static void test_bus_access(void **state)
{
	struct fixture *f = *state;
	struct cvm_uart *u = &f->u;
	struct cvm_iobus *bus = malloc(sizeof(*bus));
	uint32_t v;

	cvm_iobus_init(bus);
	assert_int_equal(cvm_uart_register(bus, u, CVM_PORT_UART0), 0);
	assert_true(cvm_iobus_write(bus, CVM_PORT_UART0, 1, 'A'));
	assert_int_equal(f->h.tx[0], 'A');
	/* a 16-bit access acts on two registers, low byte first */
	assert_true(cvm_iobus_write(bus, CVM_PORT_UART0 + 3, 2, 0x0b03));
	assert_int_equal(R(CVM_UART_LCR), 0x03);
	assert_int_equal(R(CVM_UART_MCR), 0x0b);
	assert_true(cvm_iobus_read(bus, CVM_PORT_UART0 + 4, 2, &v));
	assert_int_equal(v, 0x600b);                                  /* MCR, LSR */
	assert_false(cvm_iobus_read(bus, CVM_PORT_UART0 + 6, 4, &v)); /* runs past 0x3ff */
	assert_int_equal(cvm_uart_register(bus, u, CVM_PORT_UART0 + 4), -EEXIST);
	free(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_scratch_and_lcr, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dlab, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_transmit_byte_exact, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_receive_polling, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fifo_and_overrun, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_interrupt_priorities, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_interrupt_enables_and_out2, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bus_access, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
