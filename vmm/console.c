/* The console: UART transmit buffered to stdout byte-exact, receive from stdin with bounded buffering. */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "vmm/vm_internal.h"

static void wake_main(struct cvm_vm *vm)
{
	uint64_t one = 1;
	ssize_t unused = write(vm->wake_fd, &one, sizeof(one));
	(void)unused;
}

void cvm_console_flush_locked(struct cvm_vm *vm)
{
	struct cvm_console *con = &vm->con;
	size_t done = 0;

	while (done < con->tx_len) {
		ssize_t n = write(con->out_fd, con->tx + done, con->tx_len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			con->tx_lost += con->tx_len - done; /* stdout is gone: nothing else to do */
			break;
		}
		done += (size_t)n;
	}
	con->tx_len = 0;
}

void cvm_console_flush(struct cvm_vm *vm)
{
	pthread_mutex_lock(&vm->dev_lock);
	cvm_console_flush_locked(vm);
	pthread_mutex_unlock(&vm->dev_lock);
}

void cvm_vm_console_put(struct cvm_vm *vm, uint8_t byte)
{
	struct cvm_console *con = &vm->con;

	con->tx[con->tx_len++] = byte;
	con->tx_bytes++;
	if (con->tx_len == 1)
		wake_main(vm); /* the main thread flushes once the guest pauses */
	else if (con->tx_len == CVM_CONSOLE_CAP)
		cvm_console_flush_locked(vm);
}

void cvm_vm_console_set_rx(struct cvm_vm *vm, cvm_rx_push_fn push, void *ctx)
{
	vm->con.rx_push = push;
	vm->con.rx_ctx = ctx;
}

void cvm_vm_console_rx_ready(struct cvm_vm *vm)
{
	/* Only worth a wake-up when input is waiting. */
	if (vm->con.rx_len && !atomic_exchange(&vm->con.rx_ready, 1))
		wake_main(vm);
}
