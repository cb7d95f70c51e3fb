/*
 * The bare KVM_RUN loop that bench/lifecycle compares corevm's per-exit cost
 * against: one vCPU, KVM's in-kernel irqchip (as corevm's kernel mode), a
 * multiboot kit guest loaded from its ELF32 image, and an exit loop that does
 * the least a VMM can: port writes are dropped (UART data bytes go to stdout:
 * the line-control register is tracked so that divisor writes are not), port
 * reads answer 0xff (the UART's "transmitter empty" included), the debug-exit
 * port 0xf4 ends the run with (value << 1) | 1 as corevm and QEMU do, HLT ends
 * it with 0. Nothing else is emulated: the guest must not need fw_cfg
 * (lcbench op=pio does not).
 *
 *   bare_kvm [--cmdline STR] IMAGE      run IMAGE, print its serial output
 *   bare_kvm --tsc-khz                  print the vCPU's TSC frequency (KVM_GET_TSC_KHZ)
 *
 * A benchmark tool, not part of corevm: errors print one line and exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAM_SIZE      (64u << 20)
#define MB_INFO       0x9000u /* multiboot info, then the command line */
#define MB_MAGIC      0x2BADB002u
#define MB_INFO_CMD   (1u << 2)
#define PORT_UART     0x3f8
#define PORT_UART_LCR 0x3fb
#define LCR_DLAB      0x80
#define PORT_DEBUG    0xf4
#define TSS_ADDR      0xfeffd000u
#define IDENTITY_ADDR 0xfeffc000u
#define MAX_CPUID     256

static void die(const char *what)
{
	fprintf(stderr, "bare_kvm: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *what)
{
	fprintf(stderr, "bare_kvm: %s\n", what);
	exit(1);
}

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(fd, req, arg);
	if (r < 0)
		die(what);
	return r;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/* Copies the PT_LOAD segments of an ELF32 image into ram; returns the entry point. */
static uint32_t load_elf32(const char *path, uint8_t *ram)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		die(path);
	if (st.st_size < 52 || st.st_size > (off_t)RAM_SIZE)
		fail("image too small or too large");
	uint8_t *f = malloc((size_t)st.st_size);
	if (!f || read(fd, f, (size_t)st.st_size) != st.st_size)
		die(path);
	close(fd);
	if (memcmp(f,
	           "\x7f"
	           "ELF",
	           4) ||
	    f[4] != 1 || f[5] != 1)
		fail("not a little-endian ELF32 image");
	uint32_t entry = rd32(f + 24), phoff = rd32(f + 28);
	uint16_t phentsize = rd16(f + 42), phnum = rd16(f + 44);
	for (unsigned int i = 0; i < phnum; i++) {
		uint64_t ph = (uint64_t)phoff + (uint64_t)i * phentsize;
		if (ph + 32 > (uint64_t)st.st_size)
			fail("program header outside the file");
		const uint8_t *p = f + ph;
		if (rd32(p) != 1) /* PT_LOAD */
			continue;
		uint32_t off = rd32(p + 4), paddr = rd32(p + 12), filesz = rd32(p + 16),
		         memsz = rd32(p + 20);
		if (filesz > memsz || (uint64_t)off + filesz > (uint64_t)st.st_size ||
		    (uint64_t)paddr + memsz > RAM_SIZE)
			fail("segment outside the file or RAM");
		memcpy(ram + paddr, f + off, filesz);
		memset(ram + paddr + filesz, 0, memsz - filesz);
	}
	free(f);
	return entry;
}

static void flat(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){.base = 0,
	                          .limit = 0xffffffff,
	                          .selector = sel,
	                          .type = type,
	                          .present = 1,
	                          .db = 1,
	                          .s = 1,
	                          .g = 1};
}

int main(int argc, char **argv)
{
	const char *cmdline = NULL, *image = NULL;
	bool tsc_khz = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tsc-khz"))
			tsc_khz = true;
		else if (!strcmp(argv[i], "--cmdline") && i + 1 < argc)
			cmdline = argv[++i];
		else if (!image && argv[i][0] != '-')
			image = argv[i];
		else
			fail("usage: bare_kvm [--cmdline STR] IMAGE | bare_kvm --tsc-khz");
	}
	if (!tsc_khz && !image)
		fail("usage: bare_kvm [--cmdline STR] IMAGE | bare_kvm --tsc-khz");

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	int vm = xioctl(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
	uint64_t idmap = IDENTITY_ADDR;
	xioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &idmap, "KVM_SET_IDENTITY_MAP_ADDR");
	if (ioctl(vm, KVM_SET_TSS_ADDR, (unsigned long)TSS_ADDR) < 0)
		die("KVM_SET_TSS_ADDR");
	xioctl(vm, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
	uint8_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
	                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		die("mmap");
	struct kvm_userspace_memory_region slot = {.slot = 0,
	                                           .guest_phys_addr = 0,
	                                           .memory_size = RAM_SIZE,
	                                           .userspace_addr = (uintptr_t)ram};
	xioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot, "KVM_SET_USER_MEMORY_REGION");
	int cpu = xioctl(vm, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");

	if (tsc_khz) {
		int khz = ioctl(cpu, KVM_GET_TSC_KHZ, 0);
		if (khz <= 0)
			die("KVM_GET_TSC_KHZ");
		printf("%d\n", khz);
		return 0;
	}

	struct kvm_cpuid2 *cpuid =
	        calloc(1, sizeof(*cpuid) + MAX_CPUID * sizeof(struct kvm_cpuid_entry2));
	if (!cpuid)
		die("calloc");
	cpuid->nent = MAX_CPUID;
	xioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid, "KVM_GET_SUPPORTED_CPUID");
	xioctl(cpu, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2");

	int run_size = xioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_run *run =
	        mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");

	uint32_t entry = load_elf32(image, ram);
	uint32_t flags = 0;
	if (cmdline) {
		size_t len = strlen(cmdline);
		if (len > 4000)
			fail("command line too long");
		memcpy(ram + MB_INFO + 0x100, cmdline, len + 1);
		memcpy(ram + MB_INFO + 16, &(uint32_t){MB_INFO + 0x100}, 4);
		flags |= MB_INFO_CMD;
	}
	memcpy(ram + MB_INFO, &flags, 4);

	struct kvm_sregs sr;
	xioctl(cpu, KVM_GET_SREGS, &sr, "KVM_GET_SREGS");
	flat(&sr.cs, 0x10, 0xb);
	flat(&sr.ds, 0x18, 0x3);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.cr0 = 0x11; /* PE, ET */
	sr.cr3 = sr.cr4 = sr.efer = 0;
	xioctl(cpu, KVM_SET_SREGS, &sr, "KVM_SET_SREGS");
	struct kvm_regs regs = {.rip = entry, .rax = MB_MAGIC, .rbx = MB_INFO, .rflags = 2};
	xioctl(cpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");

	uint8_t lcr = 0;
	for (;;) {
		if (ioctl(cpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN");
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *data = (uint8_t *)run + run->io.data_offset;
			size_t len = (size_t)run->io.size * run->io.count;
			if ((uint64_t)run->io.data_offset + len > (uint64_t)run_size)
				fail("I/O data outside kvm_run");
			if (run->io.direction == KVM_EXIT_IO_IN) {
				memset(data, 0xff, len);
			} else if (run->io.port == PORT_UART && !(lcr & LCR_DLAB)) {
				fwrite(data, 1, len, stdout);
			} else if (run->io.port == PORT_UART_LCR) {
				lcr = data[len - 1];
			} else if (run->io.port == PORT_DEBUG && run->io.size == 4) {
				fflush(stdout);
				return (int)((rd32(data) << 1) | 1) & 0xff;
			}
			break;
		}
		case KVM_EXIT_HLT:
			fflush(stdout);
			return 0;
		case KVM_EXIT_MMIO:
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
			break;
		default:
			fprintf(stderr, "bare_kvm: unexpected exit %u\n", run->exit_reason);
			return 1;
		}
	}
}
