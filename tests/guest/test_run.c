/*
 * Guest-in-the-loop tests of `corevm run`: each case runs the real corevm
 * binary and checks its exit status, output and statistics. Bad-input cases
 * need no KVM; the others skip (77) without a usable /dev/kvm.
 *
 * usage: test_run CASE COREVM GUEST_DIR [IRQCHIP]
 * With IRQCHIP (user, split, kernel) every corevm run gets --irqchip IRQCHIP,
 * and the case skips (77) if the host's KVM cannot offer that mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/guest_abi.h"
#include "tests/guest/harness.h"

#define SKIP 77
#define TO   "--timeout", "120s" /* generous: the machine is shared and guests are emulated */

/* ---- a hand-made multiboot ELF, for loader paths that need no guest kit ---- */

#define MB_CODE_OFF 0x200
#define MB_DATA_OFF 0x300
#define MB_FILE_LEN 0x400

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/* mov eax, 42; out 0xf4, eax; hlt: ends with status 85. */
static const uint8_t code_exit42[] = {0xb8, 0x2a, 0, 0, 0, 0xe7, 0xf4, 0xf4};

/*
 * An ELF32 executable with one PT_LOAD of the whole file at `addr` (memsz
 * `memsz`), a multiboot header at 0x100 (if asked), `code` at 0x200 (the
 * entry) and 256 bytes 0x00..0xff at 0x300.
 */
static const char *crafted_elf_code(const char *name, uint32_t addr, uint32_t memsz, bool mb_header,
                                    const uint8_t *code, size_t codelen)
{
	static uint8_t f[MB_FILE_LEN];

	memset(f, 0, sizeof(f));
	memcpy(f,
	       "\x7f"
	       "ELF",
	       4);
	f[4] = 1;                          /* ELFCLASS32 */
	f[5] = 1;                          /* little endian */
	f[6] = 1;                          /* EV_CURRENT */
	put16(f + 16, 2);                  /* ET_EXEC */
	put16(f + 18, 3);                  /* EM_386 */
	put32(f + 20, 1);                  /* e_version */
	put32(f + 24, addr + MB_CODE_OFF); /* e_entry */
	put32(f + 28, 52);                 /* e_phoff */
	put16(f + 40, 52);                 /* e_ehsize */
	put16(f + 42, 32);                 /* e_phentsize */
	put16(f + 44, 1);                  /* e_phnum */
	put16(f + 46, 40);                 /* e_shentsize */
	put32(f + 52 + 0, 1);              /* PT_LOAD */
	put32(f + 52 + 4, 0);              /* p_offset */
	put32(f + 52 + 8, addr);           /* p_vaddr */
	put32(f + 52 + 12, addr);          /* p_paddr */
	put32(f + 52 + 16, MB_FILE_LEN);   /* p_filesz */
	put32(f + 52 + 20, memsz > MB_FILE_LEN ? memsz : MB_FILE_LEN);
	put32(f + 52 + 24, 7); /* RWX */
	put32(f + 52 + 28, 0x1000);
	if (mb_header) {
		put32(f + 0x100, 0x1BADB002);
		put32(f + 0x104, 0);
		put32(f + 0x108, (uint32_t) - (0x1BADB002u + 0));
	}
	memcpy(f + MB_CODE_OFF, code, codelen);
	for (unsigned int i = 0; i < 256; i++)
		f[MB_DATA_OFF + i] = (uint8_t)i;
	return h_write_file(name, f, sizeof(f));
}

static const char *crafted_elf(const char *name, uint32_t addr, uint32_t memsz, bool mb_header)
{
	return crafted_elf_code(name, addr, memsz, mb_header, code_exit42, sizeof(code_exit42));
}

/* ---- checks shared by the bad-input cases ---- */

/* corevm refused: the given status, nothing on stdout, one stderr line containing each word. */
static void expect_refusal(const char *const *args, const char *kvm_dev, bool drop, int status,
                           const char *w1, const char *w2)
{
	struct cvm_run_spec s = {.args = args, .kvm_dev = kvm_dev, .drop_privileges = drop};
	struct cvm_result r;

	if (!h_run(&s, &r)) {
		h_failures++;
		return;
	}
	CHECK(r.status == status, "status %d, want %d", r.status, status);
	CHECK(r.outlen == 0, "stdout not empty: %s", r.out);
	CHECK(h_lines(r.err) == 1, "want exactly one line on stderr, got %u", h_lines(r.err));
	CHECK(!w1 || strstr(r.err, w1), "stderr does not name '%s'", w1);
	CHECK(!w2 || strstr(r.err, w2), "stderr does not name '%s'", w2);
	h_result_free(&r);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static int case_usage_errors(void)
{
	const char *img = crafted_elf("ok.elf", 0x100000, 0, true);
	const struct {
		const char *const *args;
		const char *w1, *w2;
	} cases[] = {
	        {ARGS("--cpus", "0", img), "--cpus", "0"},
	        {ARGS("--cpus", "many", img), "--cpus", "many"},
	        {ARGS("--cpus", "5000", img), "--cpus", "5000"},
	        {ARGS("--cpus", "-3", img), "--cpus", "-3"},
	        {ARGS("--mem", "12Q", img), "--mem", "12Q"},
	        {ARGS("--mem", "64T", img), "--mem", "64T"},
	        {ARGS("--mem", "0", img), "--mem", "0"},
	        {ARGS("--mem", "1.5G", img), "--mem", "1.5G"},
	        {ARGS("--mem", "99999999999999999999", img), "--mem", "99999999999999999999"},
	        {ARGS("--timeout", "10", img), "--timeout", "10"},
	        {ARGS("--timeout", "soon", img), "--timeout", "soon"},
	        {ARGS("--boot", "linux", img), "--boot", "linux"},
	        {ARGS("--irqchip", "pic", img), "--irqchip", "pic"},
	        {ARGS("--frobnicate", img), "--frobnicate", NULL},
	        {ARGS("--cpus"), "--cpus", NULL},
	        {ARGS("--cpus", "2"), "IMAGE", NULL},
	        {ARGS(img, "extra"), "extra", NULL},
	        {ARGS("--placement", "bogus", img), "--placement", "bogus"},
	        {ARGS("--placement", "pin", "--host-cpus", "3-1", img), "--host-cpus", "3-1"},
	        {ARGS("--placement", "pin", "--placement-fallback", "pin", img),
	         "--placement-fallback", "pin"},
	        {ARGS("--placement-retries", "many", img), "--placement-retries", "many"},
	        {ARGS("--cpus", "2000", "--placement", "pin", img), "--placement", "2000"},
	        {ARGS("--placement"), "--placement", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refusal(cases[i].args, "/nonexistent/kvm", false, CVM_EXIT_USAGE,
		               cases[i].w1, cases[i].w2);
	return 0;
}

static int case_bad_images(void)
{
	const char *noboot = crafted_elf("noboot.elf", 0x100000, 0, false);
	const char *text = h_write_file("text.elf", "this is not an ELF file\n", 24);
	const char *empty = h_write_file("empty.elf", "", 0);
	const char *high = crafted_elf("high.elf", 0x40000000, 0, true);
	const char *big = crafted_elf("big.elf", 0x100000, 64u << 20, true);

	/* Images are refused before KVM is opened: no KVM needed, none given. */
	expect_refusal(ARGS(TO, "/nonexistent/image.elf"), "/nonexistent/kvm", false,
	               CVM_EXIT_FAILURE, "/nonexistent/image.elf", NULL);
	expect_refusal(ARGS(TO, text), "/nonexistent/kvm", false, CVM_EXIT_FAILURE, text, NULL);
	expect_refusal(ARGS(TO, empty), "/nonexistent/kvm", false, CVM_EXIT_FAILURE, empty, NULL);
	expect_refusal(ARGS(TO, h_tmp), "/nonexistent/kvm", false, CVM_EXIT_FAILURE, h_tmp, NULL);
	expect_refusal(ARGS(TO, noboot), "/nonexistent/kvm", false, CVM_EXIT_FAILURE, noboot, NULL);
	expect_refusal(ARGS(TO, "--mem", "16M", high), "/nonexistent/kvm", false, CVM_EXIT_FAILURE,
	               high, NULL);
	expect_refusal(ARGS(TO, "--mem", "16M", big), "/nonexistent/kvm", false, CVM_EXIT_FAILURE,
	               big, NULL);
	expect_refusal(ARGS(TO, "--module", "/nonexistent/module", big), "/nonexistent/kvm", false,
	               CVM_EXIT_FAILURE, "/nonexistent/module", NULL);
	return 0;
}

static int case_kvm_absent(void)
{
	const char *img = crafted_elf("ok.elf", 0x100000, 0, true);
	const char *notkvm = h_write_file("notkvm", "x", 1);

	expect_refusal(ARGS(TO, img), "/nonexistent/kvm", false, CVM_EXIT_FAILURE,
	               "/nonexistent/kvm", NULL);
	expect_refusal(ARGS(TO, img), notkvm, false, CVM_EXIT_FAILURE, notkvm, "not a KVM device");
	return 0;
}

/*
 * Runs a hand-made guest (`code` at the entry of a crafted multiboot ELF called
 * `name`) with `args` before the image and the rest of `s` as given; statistics
 * are always asked for. Returns 0, SKIP without KVM, or 1 if corevm could not run.
 */
static int run_code(const char *name, const uint8_t *code, size_t len, const char *const *args,
                    struct cvm_run_spec s, struct cvm_result *r)
{
	static const char *argv[32];
	unsigned int n = 0;

	if (!h_kvm_usable())
		return SKIP;
	for (; args[n] && n < 30; n++)
		argv[n] = args[n];
	argv[n++] = crafted_elf_code(name, 0x100000, 0, true, code, len);
	argv[n] = NULL;
	s.args = argv;
	s.want_stats = true;
	return h_run(&s, r) ? 0 : 1;
}

static int case_kvm_not_accessible(void)
{
	const char *img = crafted_elf("ok.elf", 0x100000, 0, true);
	struct cvm_run_spec s = {.args = ARGS(TO, img), .kvm_dev = "/dev/kvm"};
	struct cvm_result r;
	struct stat st;

	if (stat("/dev/kvm", &st) < 0) {
		printf("SKIP: no /dev/kvm to be refused access to\n");
		return SKIP;
	}
	if (geteuid() == 0) {
		if (st.st_mode & 0006) {
			printf("SKIP: /dev/kvm is accessible to everyone here\n");
			return SKIP;
		}
		s.drop_privileges = true; /* root opens anything: test as nobody */
	} else if (access("/dev/kvm", R_OK | W_OK) == 0) {
		printf("SKIP: /dev/kvm is accessible to this user and we cannot drop access\n");
		return SKIP;
	}
	chmod(h_tmp, 0755);
	chmod(img, 0644);
	if (!h_run(&s, &r))
		return 1;
	if (r.status == 126 || r.status == 127) {
		printf("SKIP: corevm cannot be executed as nobody here (status %d)\n", r.status);
		h_result_free(&r);
		return SKIP;
	}
	CHECK(r.status == CVM_EXIT_FAILURE, "status %d", r.status);
	CHECK(h_lines(r.err) == 1, "want one line on stderr, got %u", h_lines(r.err));
	CHECK(strstr(r.err, "/dev/kvm") && strstr(r.err, "Permission denied"),
	      "stderr does not say /dev/kvm: Permission denied");
	h_result_free(&r);
	return 0;
}

static int case_cpus_above_kvm_max(void)
{
	const char *img = crafted_elf("ok.elf", 0x100000, 0, true);
	char n[16], max_s[16];
	int fd, max;

	if (!h_kvm_usable())
		return SKIP;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	max = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	close(fd);
	if (max <= 0 || max >= 4096) {
		printf("SKIP: KVM's maximum (%d) is not below corevm's own limit\n", max);
		return SKIP;
	}
	snprintf(n, sizeof(n), "%d", max + 1);
	snprintf(max_s, sizeof(max_s), "%d", max);
	expect_refusal(ARGS(TO, "--cpus", n, img), NULL, false, CVM_EXIT_USAGE, n, max_s);
	return 0;
}

static int case_crafted_multiboot(void)
{
	struct cvm_result r;
	int rc = run_code("ok.elf", code_exit42, sizeof(code_exit42), ARGS(TO, "--mem", "4M"),
	                  (struct cvm_run_spec){0}, &r);

	if (rc)
		return rc;
	CHECK(r.status == ((0x2a << 1) | 1), "status %d, want %d", r.status, (0x2a << 1) | 1);
	CHECK(r.errlen == 0, "stderr not empty");
	CHECK(r.stats != NULL, "no statistics written");
	if (r.stats) {
		struct json_object *cause = h_get(r.stats, "vm.exit_cause", json_type_string);
		CHECK(h_int(r.stats, "vm.exit_status") == 85, "exit_status in stats");
		CHECK(cause && !strcmp(json_object_get_string(cause), "debug-exit"), "exit_cause");
		CHECK(h_int(r.stats, "vm.mem_bytes") == 4 << 20, "mem_bytes");
		CHECK(h_int(r.stats, "vcpus.0.exits.io") == 1, "one IO exit");
	}
	h_result_free(&r);
	return 0;
}

/* ---- console, signals, timeout (hand-made guests) ---- */

/* rep outsb of the 256 bytes 0x00..0xff at 0x100300 to the UART, then debug exit 0. */
static const uint8_t code_uart256[] = {
        0xbe, 0x00, 0x03, 0x10, 0x00, /* mov esi, 0x100300 */
        0xb9, 0x00, 0x01, 0x00, 0x00, /* mov ecx, 256 */
        0x66, 0xba, 0xf8, 0x03,       /* mov dx, 0x3f8 */
        0xfc,                         /* cld */
        0xf3, 0x6e,                   /* rep outsb */
        0x31, 0xc0,                   /* xor eax, eax */
        0xe7, 0xf4,                   /* out 0xf4, eax */
        0xf4,                         /* hlt */
};

/* Writes 'R' to the UART, then spins forever. */
static const uint8_t code_print_spin[] = {
        0x66, 0xba, 0xf8, 0x03, /* mov dx, 0x3f8 */
        0xb0, 0x52,             /* mov al, 'R' */
        0xee,                   /* out dx, al */
        0xeb, 0xfe,             /* jmp . */
};

/* Echoes every byte received on the UART (polling LSR.DR) until a newline, then debug exit 0. */
static const uint8_t code_uart_echo[] = {
        0x66, 0xba, 0xfd, 0x03, /* 1: mov dx, 0x3fd */
        0xec,                   /* 2: in al, dx */
        0xa8, 0x01,             /* test al, 1 */
        0x74, 0xfb,             /* jz 2b */
        0x66, 0xba, 0xf8, 0x03, /* mov dx, 0x3f8 */
        0xec,                   /* in al, dx */
        0xee,                   /* out dx, al */
        0x3c, 0x0a,             /* cmp al, 10 */
        0x75, 0xed,             /* jne 1b */
        0x31, 0xc0,             /* xor eax, eax */
        0xe7, 0xf4,             /* out 0xf4, eax */
        0xf4,                   /* hlt */
};

/* Input from a pipe reaches the guest in order, none lost, though it exceeds the 16-byte FIFO. */
static int case_uart_stdin_echo(void)
{
	char input[301];
	struct cvm_result r;
	int rc;

	for (unsigned int i = 0; i < 300; i++)
		input[i] = (char)(0x20 + i % 90);
	input[299] = '\n';
	input[300] = 0;
	rc = run_code("echo.elf", code_uart_echo, sizeof(code_uart_echo), ARGS(TO, "--mem", "4M"),
	              (struct cvm_run_spec){.stdin_data = input, .stdin_len = 300}, &r);
	if (rc)
		return rc;
	CHECK(r.status == 1, "status %d", r.status);
	CHECK(r.outlen == 300 && !memcmp(r.out, input, 300), "echo differs (%zu bytes)", r.outlen);
	CHECK(h_int(r.stats, "vm.devices.uart.rx_overruns") == 0, "rx_overruns");
	CHECK(h_int(r.stats, "vm.console_rx_bytes") == 300, "console_rx_bytes");
	h_result_free(&r);
	return 0;
}

/* Pulses the reset line through the keyboard controller, then spins. */
static const uint8_t code_i8042_reset[] = {
        0xb0, 0xfe, /* mov al, 0xfe */
        0xe6, 0x64, /* out 0x64, al */
        0xeb, 0xfe, /* jmp . */
};

/* Reads two ports nobody claims and writes one, then debug exit 0. */
static const uint8_t code_unclaimed_ports[] = {
        0xe4, 0x80,             /* in al, 0x80 */
        0x66, 0xba, 0x34, 0x12, /* mov dx, 0x1234 */
        0xed,                   /* in eax, dx */
        0xee,                   /* out dx, al */
        0x31, 0xc0,             /* xor eax, eax */
        0xe7, 0xf4,             /* out 0xf4, eax */
        0xf4,                   /* hlt */
};

static int case_i8042_reset(void)
{
	struct cvm_result r;
	int rc = run_code("reset.elf", code_i8042_reset, sizeof(code_i8042_reset),
	                  ARGS(TO, "--cpus", "2", "--mem", "4M"), (struct cvm_run_spec){0}, &r);

	if (rc)
		return rc;
	CHECK(r.status == CVM_EXIT_RESET, "status %d, want %d", r.status, CVM_EXIT_RESET);
	CHECK(h_int(r.stats, "vm.devices.i8042.resets") == 1, "i8042 resets");
	h_result_free(&r);
	return 0;
}

static int case_unclaimed_ports(void)
{
	struct cvm_result r;
	struct json_object *ports;
	int rc = run_code("ports.elf", code_unclaimed_ports, sizeof(code_unclaimed_ports),
	                  ARGS(TO, "--mem", "4M"), (struct cvm_run_spec){0}, &r);

	if (rc)
		return rc;
	CHECK(r.status == 1, "status %d", r.status);
	ports = h_get(r.stats, "vm.unhandled_pio", json_type_array);
	CHECK(ports && json_object_array_length(ports) == 2, "two unclaimed ports");
	CHECK(h_int(r.stats, "vm.unhandled_pio.0.port") == 0x80, "first port");
	CHECK(h_int(r.stats, "vm.unhandled_pio.0.count") == 1, "port 0x80 count");
	CHECK(h_int(r.stats, "vm.unhandled_pio.1.port") == 0x1234, "second port");
	CHECK(h_int(r.stats, "vm.unhandled_pio.1.count") == 2, "port 0x1234 count");
	h_result_free(&r);
	return 0;
}

static int case_uart_bytes_exact(void)
{
	struct cvm_result r;
	int rc = run_code("uart.elf", code_uart256, sizeof(code_uart256), ARGS(TO, "--mem", "4M"),
	                  (struct cvm_run_spec){0}, &r);

	if (rc)
		return rc;
	CHECK(r.status == 1, "status %d", r.status);
	CHECK(r.outlen == 256, "stdout has %zu bytes, want 256", r.outlen);
	for (unsigned int i = 0; i < 256 && i < r.outlen; i++)
		CHECK((uint8_t)r.out[i] == i, "byte %u is 0x%02x", i, (uint8_t)r.out[i]);
	CHECK(h_int(r.stats, "vm.console_tx_bytes") == 256, "console_tx_bytes");
	/* KVM may split rep outsb into several exits; every element counts once. */
	CHECK(h_int(r.stats, "vcpus.0.io_out") == 256 + 1, "io_out");
	h_result_free(&r);
	return 0;
}

static int case_sigterm_stops_the_vm(void)
{
	struct cvm_result r;
	int rc = run_code("spin.elf", code_print_spin, sizeof(code_print_spin),
	                  ARGS(TO, "--cpus", "4", "--mem", "4M"),
	                  (struct cvm_run_spec){.signal_after_output = SIGTERM}, &r);

	if (rc)
		return rc;
	CHECK(r.status == CVM_EXIT_SIGNAL, "status %d, want %d", r.status, CVM_EXIT_SIGNAL);
	CHECK(r.outlen == 1 && r.out[0] == 'R', "stdout '%s'", r.out);
	CHECK(h_lines(r.err) == 1 && strstr(r.err, "stopped by"), "one line saying why");
	CHECK(h_int(r.stats, "vm.threads_stuck") == 0, "threads_stuck");
	struct json_object *cause = h_get(r.stats, "vm.exit_cause", json_type_string);
	CHECK(cause && !strcmp(json_object_get_string(cause), "signal"), "exit_cause");
	h_result_free(&r);
	return 0;
}

static int case_timeout(void)
{
	struct cvm_result r;
	int rc = run_code("spin.elf", code_print_spin, sizeof(code_print_spin),
	                  ARGS("--timeout", "300ms", "--cpus", "4", "--mem", "4M"),
	                  (struct cvm_run_spec){0}, &r);

	if (rc)
		return rc;
	CHECK(r.status == CVM_EXIT_TIMEOUT, "status %d, want %d", r.status, CVM_EXIT_TIMEOUT);
	CHECK(r.outlen == 1 && r.out[0] == 'R', "the guest's output was not flushed: '%s'", r.out);
	CHECK(h_lines(r.err) == 1 && strstr(r.err, "timeout"), "one line saying why");
	CHECK(h_int(r.stats, "vm.threads_stuck") == 0, "threads_stuck");
	for (unsigned int i = 0; i < 4; i++) {
		char key[64];
		snprintf(key, sizeof(key), "vcpus.%u.state_entries.done", i);
		CHECK(h_int(r.stats, key) == 1, "vcpu %u did not reach done", i);
	}
	struct json_object *mp = h_get(r.stats, "vcpus.1.mp_state_at_exit", json_type_string);
	CHECK(mp && !strcmp(json_object_get_string(mp), "uninitialized"), "AP 1 not uninitialized");
	h_result_free(&r);
	return 0;
}

/* Writes 'H' to the UART, then halts with interrupts off: nothing can ever wake it. */
static const uint8_t code_halt_forever[] = {
        0x66, 0xba, 0xf8, 0x03, /* mov dx, 0x3f8 */
        0xb0, 0x48,             /* mov al, 'H' */
        0xee,                   /* out dx, al */
        0xfa,                   /* cli */
        0xf4,                   /* 1: hlt */
        0xeb, 0xfd,             /* jmp 1b */
};

/*
 * Every vCPU halted with interrupts off or waiting for SIPI: corevm's own irqchip
 * sees it and ends the VM at once (status 12, cause "deadlock"); with KVM's local
 * APICs corevm cannot see it and --timeout ends the VM.
 */
static int case_halt_forever(void)
{
	struct cvm_result r;
	bool user = !h_irqchip || !strcmp(h_irqchip, "user");
	int rc = run_code("halt.elf", code_halt_forever, sizeof(code_halt_forever),
	                  ARGS("--timeout", user ? "120s" : "1s", "--cpus", "2", "--mem", "4M"),
	                  (struct cvm_run_spec){0}, &r);
	struct json_object *cause;

	if (rc)
		return rc;
	CHECK(r.outlen == 1 && r.out[0] == 'H', "stdout '%s'", r.out);
	CHECK(h_lines(r.err) == 1, "want one line on stderr, got %u", h_lines(r.err));
	cause = h_get(r.stats, "vm.exit_cause", json_type_string);
	if (user) {
		CHECK(r.status == CVM_EXIT_GUEST_ERROR, "status %d, want %d", r.status,
		      CVM_EXIT_GUEST_ERROR);
		CHECK(strstr(r.err, "deadlock"), "stderr does not say deadlock");
		CHECK(cause && !strcmp(json_object_get_string(cause), "deadlock"), "exit_cause");
		CHECK(h_int(r.stats, "vcpus.0.lifecycle.halts") == 1, "one HLT seen");
		struct json_object *mp =
		        h_get(r.stats, "vcpus.0.mp_state_at_exit", json_type_string);
		CHECK(mp && !strcmp(json_object_get_string(mp), "halted"), "vCPU 0 not halted");
	} else {
		CHECK(r.status == CVM_EXIT_TIMEOUT, "status %d, want %d", r.status,
		      CVM_EXIT_TIMEOUT);
		CHECK(cause && !strcmp(json_object_get_string(cause), "timeout"), "exit_cause");
	}
	CHECK(h_int(r.stats, "vm.threads_stuck") == 0, "threads_stuck");
	h_result_free(&r);
	return 0;
}

/* ---- SMP bring-up ---- */

/*
 * Runs `guest` on n vCPUs and checks that every AP reported CVM_STAGE_AP_ONLINE
 * exactly once, from its own vCPU, with its own APIC ID (= vCPU index), that the
 * BSP did not, and that the VM ended with `status`.
 */
static int check_smp(const char *guest, bool pvh, unsigned int n, int status, const char *cmdline,
                     struct cvm_result *keep)
{
	char cpus[16];
	struct cvm_result r;
	struct cvm_run_spec s = {.want_stats = true};
	unsigned int online = 0;

	if (!h_kvm_usable())
		return SKIP;
	snprintf(cpus, sizeof(cpus), "%u", n);
	s.args = ARGS(TO, "--cpus", cpus, "--mem", "64M", "--boot", pvh ? "pvh" : "multiboot",
	              "--cmdline", cmdline ? cmdline : "", h_guest(guest, pvh));
	if (!h_run(&s, &r))
		return 1;
	CHECK(r.status == status, "status %d, want %d", r.status, status);
	CHECK(r.stats, "no statistics");
	if (!r.stats) {
		h_result_free(&r);
		return 1;
	}
	CHECK(h_int(r.stats, "vm.cpus") == n, "vm.cpus");
	struct json_object *vcpus = h_get(r.stats, "vcpus", json_type_array);
	CHECK(vcpus && json_object_array_length(vcpus) == n, "vcpus[] has %zu entries",
	      vcpus ? json_object_array_length(vcpus) : 0);
	for (unsigned int i = 0; vcpus && i < json_object_array_length(vcpus); i++) {
		struct json_object *v = json_object_array_get_idx(vcpus, i);
		struct json_object *reps = h_get(v, "ucall.first_reports", json_type_array);
		unsigned int mine = 0;
		CHECK(h_int(v, "apic_id") == i, "vcpu %u has APIC ID %lld", i,
		      (long long)h_int(v, "apic_id"));
		for (unsigned int k = 0; reps && k < json_object_array_length(reps); k++) {
			struct json_object *rep = json_object_array_get_idx(reps, k);
			if (h_int(rep, "stage") != CVM_STAGE_AP_ONLINE)
				continue;
			mine++;
			CHECK(h_int(rep, "args.0") == i, "vcpu %u reported APIC ID %lld", i,
			      (long long)h_int(rep, "args.0"));
		}
		CHECK(mine == (i ? 1u : 0u), "vcpu %u reported AP_ONLINE %u times", i, mine);
		online += mine;
	}
	CHECK(online == n - 1, "%u of %u APs reported", online, n - 1);
	if (keep)
		*keep = r;
	else
		h_result_free(&r);
	return 0;
}

static int case_demo_smp_4_multiboot(void)
{
	return check_smp("demo", false, 4, 1, NULL, NULL);
}

static int case_demo_smp_4_pvh(void)
{
	return check_smp("demo", true, 4, 1, NULL, NULL);
}

/* ---- the guest kit's test guests (see each guest's header comment) ---- */

static uint64_t fnv1a(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static bool run_guest(const char *const *args, struct cvm_result *r)
{
	struct cvm_run_spec s = {.args = args, .want_stats = true};

	if (!h_run(&s, r))
		return false;
	CHECK(r->stats, "no statistics written");
	return r->stats != NULL;
}

/* smp: every AP once with its own APIC ID, then the BSP's summary and DONE (status 0). */
static int smp(unsigned int n, bool pvh, const char *cmdline)
{
	char cpus[16];
	struct cvm_result r;
	struct json_object *sum[2];
	int rc;

	rc = check_smp("smp", pvh, n, CVM_EXIT_OK, cmdline, &r);
	if (rc)
		return rc;
	CHECK(h_reports(r.stats, 0, 100, sum, 2) == 1, "BSP summary reports");
	if (r.stats && h_reports(r.stats, 0, 100, sum, 2) == 1) {
		CHECK(h_rarg(sum[0], 1) == n - 1, "summary: %llu APs online",
		      (unsigned long long)h_rarg(sum[0], 1));
		CHECK(h_rarg(sum[0], 2) == 0, "summary: BSP APIC ID %llu",
		      (unsigned long long)h_rarg(sum[0], 2));
		CHECK(h_rarg(sum[0], 3) == n, "summary: NB_CPUS %llu",
		      (unsigned long long)h_rarg(sum[0], 3));
	}
	snprintf(cpus, sizeof(cpus), "%u APs online", n - 1);
	CHECK(strstr(r.out, "smp: PASS") && strstr(r.out, cpus), "serial has no '%s' PASS line",
	      cpus);
	h_result_free(&r);
	return 0;
}

static int case_smp_1(void)
{
	return smp(1, false, NULL);
}
static int case_smp_2(void)
{
	return smp(2, false, NULL);
}
static int case_smp_4(void)
{
	return smp(4, false, NULL);
}
static int case_smp_4_pvh(void)
{
	return smp(4, true, NULL);
}
static int case_smp_8(void)
{
	return smp(8, false, NULL);
}
static int case_smp_8_targeted_x2apic(void)
{
	return smp(8, false, "mode=targeted apic=x2apic");
}
static int case_smp_64(void)
{
	return smp(64, false, NULL);
}
static int case_smp_255(void)
{
	return smp(255, false, NULL);
}

/* bootinfo: the guest sees exactly the command line, memory map and modules corevm was given. */
static int bootinfo(bool pvh, const char *mem, uint64_t mem_bytes)
{
	static uint8_t mod0[3000], mod1[100];
	const char *cmdline = "console=ttyS0 quiet corevm.test=\"a b\" x";
	const char *mod0_string = "first module arg=1";
	char mod0_arg[600];
	const char *m0, *m1;
	struct cvm_result r;
	struct json_object *rep[32];
	uint64_t low = mem_bytes < 0xc0000000ull ? mem_bytes : 0xc0000000ull;
	struct {
		uint64_t base, len, type;
	} want_map[4] = {{0, 0x9fc00, 1},
	                 {0x9fc00, 0x100000 - 0x9fc00, 2},
	                 {0x100000, low - 0x100000, 1},
	                 {0x100000000ull, mem_bytes - low, 1}};
	unsigned int want_n = mem_bytes > low ? 4 : 3;

	if (!h_kvm_usable())
		return SKIP;
	for (unsigned int i = 0; i < sizeof(mod0); i++)
		mod0[i] = (uint8_t)(i * 7 + 3);
	for (unsigned int i = 0; i < sizeof(mod1); i++)
		mod1[i] = (uint8_t)(0xff - i);
	m0 = h_write_file("mod0.bin", mod0, sizeof(mod0));
	m1 = h_write_file("mod1.bin", mod1, sizeof(mod1));
	snprintf(mod0_arg, sizeof(mod0_arg), "%s,%s", m0, mod0_string);
	if (!run_guest(ARGS(TO, "--mem", mem, "--boot", pvh ? "pvh" : "multiboot", "--cmdline",
	                    cmdline, "--module", mod0_arg, "--module", m1,
	                    h_guest("bootinfo", pvh)),
	               &r))
		return 1;
	CHECK(r.status == CVM_EXIT_OK, "status %d", r.status);

	CHECK(h_reports(r.stats, 0, CVM_STAGE_BOOT_INFO, rep, 32) == 1, "one BOOT_INFO report");
	if (h_reports(r.stats, 0, CVM_STAGE_BOOT_INFO, rep, 32) == 1) {
		CHECK(h_rarg(rep[0], 1) == (pvh ? 2u : 1u), "protocol %llu",
		      (unsigned long long)h_rarg(rep[0], 1));
		CHECK(h_rarg(rep[0], 2) == want_n, "%llu memory-map entries, want %u",
		      (unsigned long long)h_rarg(rep[0], 2), want_n);
		CHECK(h_rarg(rep[0], 3) == 2, "%llu modules",
		      (unsigned long long)h_rarg(rep[0], 3));
	}
	if (h_reports(r.stats, 0, 100, rep, 32) == 1) {
		CHECK(h_rarg(rep[0], 1) == strlen(cmdline), "command line of %llu bytes",
		      (unsigned long long)h_rarg(rep[0], 1));
		CHECK(h_rarg(rep[0], 2) == fnv1a(cmdline, strlen(cmdline)),
		      "command line checksum");
	} else {
		CHECK(0, "no command-line report");
	}
	unsigned int n = h_reports(r.stats, 0, 101, rep, 32);
	CHECK(n == want_n, "%u memory-map reports", n);
	for (unsigned int i = 0; i < n && i < want_n; i++) {
		CHECK(h_rarg(rep[i], 1) == (i | (want_map[i].type << 32)),
		      "map %u: index/type 0x%llx", i, (unsigned long long)h_rarg(rep[i], 1));
		CHECK(h_rarg(rep[i], 2) == want_map[i].base, "map %u: base 0x%llx", i,
		      (unsigned long long)h_rarg(rep[i], 2));
		CHECK(h_rarg(rep[i], 3) == want_map[i].len, "map %u: length 0x%llx", i,
		      (unsigned long long)h_rarg(rep[i], 3));
	}
	n = h_reports(r.stats, 0, 102, rep, 32);
	CHECK(n == 2, "%u module reports", n);
	if (n == 2) {
		CHECK(h_rarg(rep[0], 1) == 0 && h_rarg(rep[0], 2) == sizeof(mod0), "module 0 size");
		CHECK(h_rarg(rep[0], 3) == fnv1a(mod0, sizeof(mod0)), "module 0 contents");
		CHECK(h_rarg(rep[1], 1) == 1 && h_rarg(rep[1], 2) == sizeof(mod1), "module 1 size");
		CHECK(h_rarg(rep[1], 3) == fnv1a(mod1, sizeof(mod1)), "module 1 contents");
	}
	n = h_reports(r.stats, 0, 103, rep, 32);
	CHECK(n == 2, "%u module-string reports", n);
	if (n == 2) {
		CHECK(h_rarg(rep[0], 2) == strlen(mod0_string), "module 0 string length");
		CHECK(h_rarg(rep[0], 3) == fnv1a(mod0_string, strlen(mod0_string)),
		      "module 0 string");
		CHECK(h_rarg(rep[1], 2) == 0, "module 1 string is not empty");
	}
	n = h_reports(r.stats, 0, 104, rep, 32);
	if (pvh) {
		CHECK(n == 0, "PVH guest reported multiboot memory info");
	} else {
		CHECK(n == 1, "no multiboot memory info");
		if (n == 1) {
			CHECK(h_rarg(rep[0], 1) == 639, "mem_lower %llu",
			      (unsigned long long)h_rarg(rep[0], 1));
			CHECK(h_rarg(rep[0], 2) == (low - 0x100000) / 1024, "mem_upper %llu",
			      (unsigned long long)h_rarg(rep[0], 2));
		}
	}
	h_result_free(&r);
	return 0;
}

static int case_bootinfo_multiboot(void)
{
	return bootinfo(false, "64M", 64ull << 20);
}

static int case_bootinfo_pvh(void)
{
	return bootinfo(true, "5G", 5ull << 30);
}

static int case_fwcfg(void)
{
	struct cvm_result r;
	struct json_object *rep[2];

	if (!h_kvm_usable())
		return SKIP;
	if (!run_guest(ARGS(TO, "--cpus", "3", "--mem", "96M", h_guest("fwcfg", false)), &r))
		return 1;
	CHECK(r.status == CVM_EXIT_OK, "status %d", r.status);
	if (h_reports(r.stats, 0, 100, rep, 2) == 1) {
		CHECK(h_rarg(rep[0], 1) == 0x554d4551, "signature 0x%llx",
		      (unsigned long long)h_rarg(rep[0], 1));
		CHECK(h_rarg(rep[0], 2) == 1, "ID 0x%llx", (unsigned long long)h_rarg(rep[0], 2));
		CHECK(h_rarg(rep[0], 3) == 96ull << 20, "RAM_SIZE %llu",
		      (unsigned long long)h_rarg(rep[0], 3));
	} else {
		CHECK(0, "no identity report");
	}
	if (h_reports(r.stats, 0, 101, rep, 2) == 1) {
		CHECK(h_rarg(rep[0], 1) == 3, "NB_CPUS %llu",
		      (unsigned long long)h_rarg(rep[0], 1));
		CHECK(h_rarg(rep[0], 2) == 3, "MAX_CPUS %llu",
		      (unsigned long long)h_rarg(rep[0], 2));
	} else {
		CHECK(0, "no CPU-count report");
	}
	h_result_free(&r);
	return 0;
}

static int exitcode(const char *arg, uint64_t value, int status)
{
	struct cvm_result r;
	struct json_object *rep[2];

	if (!run_guest(ARGS(TO, "--cmdline", arg, h_guest("exitcode", false)), &r))
		return 1;
	CHECK(r.status == status, "%s: status %d, want %d", arg, r.status, status);
	CHECK(h_reports(r.stats, 0, 100, rep, 2) == 1 && h_rarg(rep[0], 1) == value,
	      "%s: reported value", arg);
	CHECK(h_int(r.stats, "vm.exit_status") == status, "stats exit_status");
	h_result_free(&r);
	return 0;
}

static int case_exitcode(void)
{
	if (!h_kvm_usable())
		return SKIP;
	exitcode("exit=42", 42, 85);
	exitcode("exit=0", 0, 1);
	exitcode("exit=0x7f", 0x7f, 255);
	exitcode("exit=0x80", 0x80, 1);
	exitcode("exit=3", 3, 7);
	return 0;
}

static int case_uart_guest_bytes_exact(void)
{
	char want[400];
	size_t n = 0;
	struct cvm_result r;

	if (!h_kvm_usable())
		return SKIP;
	memcpy(want + n, "<uart>", 6);
	n += 6;
	for (unsigned int i = 0; i < 256; i++)
		want[n++] = (char)i;
	memcpy(want + n, "\r\nline feed only\ncarriage return only\r</uart>\n", 46);
	n += 46;
	if (!run_guest(ARGS(TO, h_guest("uart", false)), &r))
		return 1;
	CHECK(r.status == CVM_EXIT_OK, "status %d", r.status);
	CHECK(n == 308, "the expected sequence has %zu bytes", n);
	CHECK(r.outlen == n && !memcmp(r.out, want, n), "stdout differs (%zu bytes, want %zu)",
	      r.outlen, n);
	h_result_free(&r);
	return 0;
}

static int case_triplefault(void)
{
	struct cvm_result r;
	struct json_object *rep[2];

	if (!h_kvm_usable())
		return SKIP;
	if (!run_guest(ARGS(TO, h_guest("triplefault", false)), &r))
		return 1;
	CHECK(r.status == CVM_EXIT_TRIPLE_FAULT, "status %d, want %d", r.status,
	      CVM_EXIT_TRIPLE_FAULT);
	CHECK(h_reports(r.stats, 0, 100, rep, 2) == 1, "the guest did not report arming");
	CHECK(h_lines(r.err) == 1 && strstr(r.err, "triple fault"),
	      "one line naming the triple fault");
	h_result_free(&r);
	return 0;
}

static int case_exception(void)
{
	const uint64_t vec[5] = {6, 0, 13, 14, 14}, code[5] = {0, 0, 0, 0, 2};
	struct cvm_result r;
	struct json_object *rep[8];
	unsigned int n;

	if (!h_kvm_usable())
		return SKIP;
	if (!run_guest(ARGS(TO, h_guest("exception", false)), &r))
		return 1;
	CHECK(r.status == CVM_EXIT_OK, "status %d", r.status);
	n = h_reports(r.stats, 0, 100, rep, 8);
	CHECK(n == 5, "%u exceptions caught", n);
	for (unsigned int i = 0; i < n && i < 5; i++)
		CHECK(h_rarg(rep[i], 1) == vec[i] && h_rarg(rep[i], 2) == code[i] &&
		              h_rarg(rep[i], 3) == i,
		      "exception %u: vector %llu error %llu", i,
		      (unsigned long long)h_rarg(rep[i], 1), (unsigned long long)h_rarg(rep[i], 2));
	h_result_free(&r);

	/* An unexpected exception is a guest assertion: one line with file:line and message. */
	if (!run_guest(ARGS(TO, "--cmdline", "unexpected", h_guest("exception", false)), &r))
		return 1;
	CHECK(r.status == CVM_EXIT_GUEST_ASSERT, "status %d", r.status);
	CHECK(h_lines(r.err) == 1 &&
	              strstr(r.err, "guest assertion failed on vcpu 0 at <exception>:6: unexpected "
	                            "exception #UD"),
	      "assertion line");
	h_result_free(&r);
	return 0;
}

/* ---- host placement (docs/placement.md) ---- */

/* Pinning two vCPUs needs CPUs 0 and 1 for this process. */
static bool cpus_0_and_1(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_ISSET(0, &set) &&
	    CPU_ISSET(1, &set))
		return true;
	printf("SKIP: this process may not run on both cpu 0 and cpu 1\n");
	return false;
}

/* The string of --stats at ARRAY.I.FIELD ("placement.events", 1, "cause"), or "?". */
static const char *stats_str(struct json_object *stats, const char *array, unsigned int i,
                             const char *field)
{
	char key[96];
	struct json_object *o;

	snprintf(key, sizeof(key), "%s.%u.%s", array, i, field);
	o = h_get(stats, key, json_type_string);
	return o ? json_object_get_string(o) : "?";
}

/* The CPU list vCPU thread `vcpu` applied and read back; the cause of event `i`. */
#define thread_cpus(stats, vcpu) stats_str(stats, "placement.vcpu_threads", vcpu, "cpus")
#define event_cause(stats, i)    stats_str(stats, "placement.events", i, "cause")

/* --placement pin with 2 vCPUs on the real host: each thread pins itself and verifies it. */
static int case_placement_pin_2(void)
{
	struct cvm_result r;
	struct cvm_run_spec s = {.want_stats = true};

	if (!h_kvm_usable() || !cpus_0_and_1())
		return SKIP;
	s.args = ARGS(TO, "--cpus", "2", "--mem", "64M", "--placement", "pin", "--host-cpus", "0-1",
	              "--placement-strict", "--placement-explain", h_guest("smp", false));
	if (!h_run(&s, &r))
		return 1;
	CHECK(r.status == CVM_EXIT_OK, "status %d", r.status);
	CHECK(strstr(r.out, "smp: PASS"), "the guest did not pass");
	CHECK(strstr(r.err, "corevm: placement: pin for 2 vCPUs, fallback none, strict\n"),
	      "no explanation");
	CHECK(strstr(r.err, "corevm: vcpu 0: cpu 0 ") && strstr(r.err, "corevm: vcpu 1: cpu 1 "),
	      "explanation lacks the vCPUs");
	CHECK(r.stats, "no statistics");
	if (r.stats) {
		for (unsigned int i = 0; i < 2; i++) {
			char key[64], want[4];
			snprintf(want, sizeof(want), "%u", i);
			CHECK(!strcmp(thread_cpus(r.stats, i), want), "vcpu %u thread on cpus %s",
			      i, thread_cpus(r.stats, i));
			snprintf(key, sizeof(key), "placement.vcpu_threads.%u.verified", i);
			struct json_object *v = h_get(r.stats, key, json_type_boolean);
			CHECK(v && json_object_get_boolean(v), "vcpu %u not verified", i);
			snprintf(key, sizeof(key), "placement.vcpu_threads.%u.applies", i);
			CHECK(h_int(r.stats, key) == 1, "vcpu %u applied %lld times", i,
			      (long long)h_int(r.stats, key));
		}
		CHECK(!strcmp(event_cause(r.stats, 0), "start"), "first event %s",
		      event_cause(r.stats, 0));
		struct json_object *eff =
		        h_get(r.stats, "placement.current.effective", json_type_string);
		CHECK(eff && !strcmp(json_object_get_string(eff), "pin"), "effective policy");
	}
	h_result_free(&r);
	return 0;
}

/* Where the kernel lacks core scheduling, smt-protect says so in one line, or refuses when strict. */
static int case_placement_smt_protect(void)
{
	struct cvm_result r;
	struct cvm_run_spec s = {0};
	uint64_t cookie = 0;
	bool supported = prctl(62 /* PR_SCHED_CORE */, 0 /* GET */, 0, 0, &cookie) == 0;
	const char *img = crafted_elf("ok.elf", 0x100000, 0, true);

	if (!h_kvm_usable())
		return SKIP;
	s.args = ARGS(TO, "--placement", "smt-protect", "--mem", "4M", img);
	if (!h_run(&s, &r))
		return 1;
	CHECK(r.status == 85, "status %d", r.status); /* the crafted guest writes 42 */
	if (supported)
		CHECK(r.errlen == 0, "stderr: %s", r.err);
	else
		CHECK(h_lines(r.err) == 1 && strstr(r.err, "smt-protect: ") &&
		              strstr(r.err, "; continuing without core-scheduling cookies"),
		      "want one line saying core scheduling is unavailable");
	h_result_free(&r);
	if (!supported)
		expect_refusal(ARGS(TO, "--placement", "smt-protect", "--placement-strict", "--mem",
		                    "4M", img),
		               NULL, false, CVM_EXIT_FAILURE, "--placement-strict",
		               "core scheduling");
	return 0;
}

/* Raw uevent datagrams for the hotplug case. */
static void send_uevent(int fd, const char *action, unsigned int cpu)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf),
	                 "%s@/devices/system/cpu/cpu%u%cACTION=%s%cDEVPATH=/devices/"
	                 "system/cpu/cpu%u%cSUBSYSTEM=cpu%c",
	                 action, cpu, 0, action, 0, cpu, 0, 0);
	CHECK(send(fd, buf, (size_t)n, 0) == n, "send: %s", strerror(errno));
}

struct hotplug_run {
	int kernel; /* the "kernel" end of the uevent socket */
};

/*
 * With the guest waiting for input: cpu 1 goes offline (vCPU 1 joins vCPU 0 on
 * cpu 0: pin degrades to none), a hostile datagram is dropped, cpu 1 comes back
 * and passes the real KVM probe (it never left: only corevm is told so), pin is
 * restored; then a newline ends the guest. Each step is awaited on stderr.
 */
static void hotplug_steps(void *ctx, struct h_live *live)
{
	struct hotplug_run *h = ctx;
	const int T = 60000;
	static const char junk[] = "online@/devices/system/cpu/cpu99999999999";

	CHECK(h_wait_line(live, "placement: vcpu 0: runs on cpus 0 (set and verified", T),
	      "vcpu 0");
	live->scanned = 0;
	CHECK(h_wait_line(live, "placement: vcpu 1: runs on cpus 1 (set and verified", T),
	      "vcpu 1");
	send_uevent(h->kernel, "offline", 1);
	CHECK(h_wait_line(live, "placement: cpu 1 offline: 1 vCPU re-placed; degraded to none", T),
	      "offline re-placement");
	CHECK(h_wait_line(live, "placement: vcpu 1: runs on cpus 0 (set and verified", T),
	      "vcpu 1 moved to cpu 0");
	CHECK(send(h->kernel, junk, sizeof(junk) - 1, 0) > 0, "send");
	CHECK(h_wait_line(live, "dropped a malformed uevent", T), "junk dropped");
	send_uevent(h->kernel, "online", 1);
	CHECK(h_wait_line(live,
	                  "placement: cpu 1 online, probe passed: KVM_EXIT_IO port 0x80: 1 vCPU "
	                  "re-placed; pin restored",
	                  T),
	      "online after the probe");
	CHECK(h_wait_line(live, "placement: vcpu 1: runs on cpus 1 (set and verified", T),
	      "vcpu 1 back on cpu 1");
	CHECK(write(live->stdin_fd, "\n", 1) == 1, "write");
}

static int case_placement_hotplug(void)
{
	struct hotplug_run h;
	struct cvm_result r;
	int sv[2], rc;

	if (!h_kvm_usable() || !cpus_0_and_1())
		return SKIP;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	h.kernel = sv[1];
	rc = run_code("echo.elf", code_uart_echo, sizeof(code_uart_echo),
	              ARGS(TO, "--cpus", "2", "--mem", "4M", "--placement", "pin", "--host-cpus",
	                   "0-1", "-v"),
	              (struct cvm_run_spec){
	                      .uevent_fd = sv[0], .interact = hotplug_steps, .interact_ctx = &h},
	              &r);
	close(sv[0]);
	close(sv[1]);
	if (rc)
		return rc;
	CHECK(r.status == 1, "status %d", r.status);
	CHECK(r.stats, "no statistics");
	if (r.stats) {
		static const char *const causes[] = {"start", "cpu-offline", "cpu-online"};
		for (unsigned int i = 0; i < 3; i++)
			CHECK(!strcmp(event_cause(r.stats, i), causes[i]), "event %u is %s", i,
			      event_cause(r.stats, i));
		CHECK(h_int(r.stats, "placement.vcpu_threads.1.applies") == 3, "vcpu 1 applies");
		CHECK(h_int(r.stats, "placement.vcpu_threads.0.applies") == 1, "vcpu 0 applies");
		CHECK(!strcmp(thread_cpus(r.stats, 1), "1"), "vcpu 1 ends on cpus %s",
		      thread_cpus(r.stats, 1));
		CHECK(h_int(r.stats, "placement.hotplug.cpu_events") == 2, "cpu events");
		CHECK(h_int(r.stats, "placement.hotplug.malformed") == 1, "malformed");
		struct json_object *d =
		        h_get(r.stats, "placement.current.degraded", json_type_boolean);
		CHECK(d && !json_object_get_boolean(d), "still degraded");
		CHECK(h_int(r.stats, "placement.events.1.moves.0.vcpu") == 1, "moved vcpu");
	}
	h_result_free(&r);
	return 0;
}

/* ---- seccomp (docs/seccomp.md) ---- */

/*
 * The test-only hook makes one thread call socket(AF_INET), which no filter
 * allows: corevm dies of SIGSYS after exactly one line naming the thread and
 * the call. The same vCPU run with --no-seccomp completes (the guest writes 42).
 */
static int case_seccomp_violation(void)
{
	static const struct {
		const char *env, *who;
		bool placement;
	} threads[] = {
	        {"COREVM_TEST_FORBIDDEN_SYSCALL=vcpu:1", "vcpu 1", false},
	        {"COREVM_TEST_FORBIDDEN_SYSCALL=main", "the main thread", false},
	        {"COREVM_TEST_FORBIDDEN_SYSCALL=worker", "the work worker thread", false},
	        {"COREVM_TEST_FORBIDDEN_SYSCALL=uevent", "the uevent listener thread", true},
	        {"COREVM_TEST_FORBIDDEN_SYSCALL=probe", "the probe worker thread", true},
	};
	struct cvm_result r;
	int rc;

	for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		const char *env[] = {threads[i].env, NULL};
		char want[160];
		if (threads[i].placement && !cpus_0_and_1())
			continue;
		rc = run_code("exit42.elf", code_exit42, sizeof(code_exit42),
		              threads[i].placement
		                      ? ARGS(TO, "--cpus", "2", "--mem", "4M", "--placement", "pin",
		                             "--host-cpus", "0-1")
		                      : ARGS(TO, "--cpus", "2", "--mem", "4M"),
		              (struct cvm_run_spec){.env = env}, &r);
		if (rc)
			return rc;
		snprintf(want, sizeof(want),
		         "corevm: seccomp: %s made a forbidden system call: socket (41) args 0x2 ",
		         threads[i].who);
		CHECK(r.status == 128 + SIGSYS, "%s: status %d, want death by SIGSYS",
		      threads[i].who, r.status);
		CHECK(h_lines(r.err) == 1 && !strncmp(r.err, want, strlen(want)) &&
		              strstr(r.err, "; killing corevm"),
		      "%s: want one line starting '%s'", threads[i].who, want);
		h_result_free(&r);
	}

	const char *env[] = {"COREVM_TEST_FORBIDDEN_SYSCALL=vcpu:1", NULL};
	rc = run_code("exit42.elf", code_exit42, sizeof(code_exit42),
	              ARGS(TO, "--cpus", "2", "--mem", "4M", "--no-seccomp"),
	              (struct cvm_run_spec){.env = env}, &r);
	if (rc)
		return rc;
	CHECK(r.status == 85, "--no-seccomp: status %d, want 85", r.status);
	CHECK(r.errlen == 0, "--no-seccomp: stderr: %s", r.err);
	struct json_object *on = h_get(r.stats, "vm.seccomp.enabled", json_type_boolean);
	CHECK(on && !json_object_get_boolean(on), "--no-seccomp: stats say seccomp is on");
	h_result_free(&r);
	return 0;
}

/*
 * Threads corevm confines without malloc in their filter (vCPUs, the APIC timer
 * thread) must not allocate before it either: glibc releases a thread's malloc
 * cache when the thread ends, and with threads sharing an arena (more threads
 * than glibc's arena limit) that release may trim the heap with brk, which no
 * such filter allows. One arena and no trim threshold make every run hit it.
 */
static int case_seccomp_thread_exit(void)
{
	static const char *const tunables[] = {
	        "GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=0", NULL};
	static const char *const thread_timer[] = {
	        "GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=0",
	        "COREVM_APIC_TIMER=thread", NULL};
	static const struct {
		const char *mode;
		const char *const *env;
	} runs[] = {{"user", tunables},
	            {"user", thread_timer},
	            {"split", tunables},
	            {"kernel", tunables}};
	struct cvm_result r;

	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		int rc = run_code("exit42.elf", code_exit42, sizeof(code_exit42),
		                  ARGS(TO, "--irqchip", runs[i].mode, "--cpus", "8", "--mem", "4M"),
		                  (struct cvm_run_spec){.env = runs[i].env}, &r);
		if (rc)
			return rc;
		CHECK(r.status == 85, "%s (%s): status %d, want 85", runs[i].mode,
		      runs[i].env[1] ? "thread timer" : "vcpu timers", r.status);
		CHECK(r.errlen == 0, "%s: stderr: %s", runs[i].mode, r.err);
		h_result_free(&r);
	}
	return 0;
}

/* --stats names each installed filter with its size; placement adds its classes and rules. */
static int case_seccomp_stats(void)
{
	struct cvm_result r;
	int rc = run_code("exit42.elf", code_exit42, sizeof(code_exit42),
	                  ARGS(TO, "--cpus", "2", "--mem", "4M"), (struct cvm_run_spec){0}, &r);

	if (rc)
		return rc;
	CHECK(r.status == 85, "status %d", r.status);
	struct json_object *on = h_get(r.stats, "vm.seccomp.enabled", json_type_boolean);
	CHECK(on && json_object_get_boolean(on), "seccomp not enabled by default");
	int64_t vcpu = h_int(r.stats, "vm.seccomp.filters.vcpu.syscalls");
	int64_t main_calls = h_int(r.stats, "vm.seccomp.filters.main.syscalls");
	/* Sanity bounds only: sanitizer builds add their runtime's calls (docs/seccomp.md). */
	CHECK(vcpu > 5 && vcpu < main_calls, "vcpu filter: %lld system calls", (long long)vcpu);
	CHECK(main_calls > 10 && main_calls < 64, "main filter: %lld system calls",
	      (long long)main_calls);
	CHECK(h_int(r.stats, "vm.seccomp.filters.vcpu.rules") >= vcpu, "vcpu rules");
	CHECK(!json_object_object_get_ex(h_get(r.stats, "vm.seccomp.filters", json_type_object),
	                                 "probe worker", NULL),
	      "a probe worker filter without placement");
	printf("filters: vcpu %lld system calls / %lld rules, main %lld / %lld\n", (long long)vcpu,
	       (long long)h_int(r.stats, "vm.seccomp.filters.vcpu.rules"), (long long)main_calls,
	       (long long)h_int(r.stats, "vm.seccomp.filters.main.rules"));
	h_result_free(&r);
	if (!cpus_0_and_1())
		return 0;
	rc = run_code(
	        "exit42.elf", code_exit42, sizeof(code_exit42),
	        ARGS(TO, "--cpus", "2", "--mem", "4M", "--placement", "pin", "--host-cpus", "0-1"),
	        (struct cvm_run_spec){0}, &r);
	if (rc)
		return rc;
	CHECK(r.status == 85, "placement: status %d", r.status);
	CHECK(h_int(r.stats, "vm.seccomp.filters.vcpu.syscalls") > vcpu, "placement adds to vcpu");
	CHECK(h_int(r.stats, "vm.seccomp.filters.uevent listener.syscalls") > 5, "uevent filter");
	CHECK(h_int(r.stats, "vm.seccomp.filters.probe worker.syscalls") > 5, "probe filter");
	h_result_free(&r);
	return 0;
}

/* ---- the case table ---- */

static const struct h_case cases[] = {
        {"usage_errors", case_usage_errors},
        {"bad_images", case_bad_images},
        {"kvm_absent", case_kvm_absent},
        {"kvm_not_accessible", case_kvm_not_accessible},
        {"cpus_above_kvm_max", case_cpus_above_kvm_max},
        {"crafted_multiboot", case_crafted_multiboot},
        {"uart_bytes_exact", case_uart_bytes_exact},
        {"uart_stdin_echo", case_uart_stdin_echo},
        {"i8042_reset", case_i8042_reset},
        {"unclaimed_ports", case_unclaimed_ports},
        {"sigterm_stops_the_vm", case_sigterm_stops_the_vm},
        {"timeout", case_timeout},
        {"halt_forever", case_halt_forever},
        {"smp_1", case_smp_1},
        {"smp_2", case_smp_2},
        {"smp_4", case_smp_4},
        {"smp_4_pvh", case_smp_4_pvh},
        {"smp_8", case_smp_8},
        {"smp_8_targeted_x2apic", case_smp_8_targeted_x2apic},
        {"smp_64", case_smp_64},
        {"smp_255", case_smp_255},
        {"bootinfo_multiboot", case_bootinfo_multiboot},
        {"bootinfo_pvh", case_bootinfo_pvh},
        {"fwcfg", case_fwcfg},
        {"exitcode", case_exitcode},
        {"uart_guest_bytes_exact", case_uart_guest_bytes_exact},
        {"triplefault", case_triplefault},
        {"exception", case_exception},
        {"demo_smp_4_multiboot", case_demo_smp_4_multiboot},
        {"demo_smp_4_pvh", case_demo_smp_4_pvh},
        {"placement_pin_2", case_placement_pin_2},
        {"placement_smt_protect", case_placement_smt_protect},
        {"placement_hotplug", case_placement_hotplug},
        {"seccomp_violation", case_seccomp_violation},
        {"seccomp_stats", case_seccomp_stats},
        {"seccomp_thread_exit", case_seccomp_thread_exit},
};

int main(int argc, char **argv)
{
	return h_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
