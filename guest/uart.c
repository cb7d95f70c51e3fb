/*
 * UART test guest: writes one exact byte sequence to the 16550A transmit
 * register and nothing else on the serial port, so the host can compare its
 * standard output byte for byte. The sequence, in order:
 *   "<uart>"                      6 bytes
 *   0x00, 0x01, ..., 0xff         all 256 byte values
 *   "\r\n"                        CR LF
 *   "line feed only\n"            LF alone
 *   "carriage return only\r"      CR alone
 *   "</uart>\n"
 * (308 bytes in all). Each byte is written after LSR reports THR empty (the
 * wait is bounded). Reports (ucall): REPORT stage UART_STAGE_WRITTEN (100),
 * args[1] = bytes written (308), then DONE.
 */
#include "guest/lib/kit.h"

#define UART_STAGE_WRITTEN CVM_STAGE_USER

static size_t put(const char *s)
{
	size_t n = strlen(s);
	guest_serial_write_raw(s, n);
	return n;
}

void guest_main(void)
{
	size_t n = put("<uart>");
	for (unsigned int b = 0; b < 256; b++)
		guest_serial_putc_raw((uint8_t)b);
	n += 256;
	n += put("\r\n");
	n += put("line feed only\n");
	n += put("carriage return only\r");
	n += put("</uart>\n");
	GUEST_REPORT(UART_STAGE_WRITTEN, n, 0, 0);
	GUEST_DONE();
}
