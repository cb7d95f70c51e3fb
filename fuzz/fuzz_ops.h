/*
 * The byte-code of every fuzz target: a header, then operations, each an
 * opcode byte (taken modulo the number of opcodes) and its operands, little
 * endian. The targets decode it and fuzz/gen_seeds.c encodes the seed corpora
 * with it, so both sides stay in step. Operands missing at the end of the
 * input read as zero.
 */
#ifndef COREVM_FUZZ_FUZZ_OPS_H
#define COREVM_FUZZ_FUZZ_OPS_H

/*
 * fuzz_loader: cvm_load_guest() of one image with AUTO, MULTIBOOT and PVH.
 *   u8 layout: bits 0-2 a preset guest-memory layout; with bit 7 set a custom
 *      one follows: u8 nregions (1 + n % 4), then per region u16 gap and u16
 *      size in KiB units (gap bit 15: MiB units)
 *   u8 cmdline: bit 7 clear: that many command-line bytes follow (0x7f: a
 *      NULL command line); set: a generated one of (n & 0x7f) * 8 KiB
 *   u8 nmodules (% 5), per module u32 length (% 3 MiB), u8 fill byte, u8
 *      string length and its bytes (0xff: a NULL string)
 *   the image: the rest of the input
 */
#define FZ_LOADER_LAYOUT_CUSTOM 0x80u
#define FZ_LOADER_CMDLINE_GEN   0x80u
#define FZ_LOADER_NULL_CMDLINE  0x7fu
#define FZ_LOADER_NULL_STRING   0xffu
#define FZ_LOADER_MAX_MODULES   5u

/*
 * fuzz_devices: the I/O bus with the UART at 0x3f8, debug exit, fw_cfg and the
 * i8042, plus probe devices the input registers.
 *   header: u16 fw_cfg CPU count, u16 fw_cfg max CPUs, u32 RAM MiB
 *   port operand: u8 selector, an entry of the target's port table, or (when
 *   it is past the table) a u16 port that follows; size operand: u8, index
 *   into {1, 2, 4, 1, 2, 4, 0, 3}
 */
enum fz_dev_op {
	FZ_DEV_READ,       /* port, size */
	FZ_DEV_WRITE,      /* port, size, u32 value */
	FZ_DEV_UART_PUSH,  /* u8 n (% 40), n bytes: host input */
	FZ_DEV_REGISTER,   /* u16 base, u8 len (% 40): a probe device */
	FZ_DEV_UART_READ,  /* u8 reg (% 16): cvm_uart_read() */
	FZ_DEV_UART_WRITE, /* u8 reg (% 16), u8 value */
	FZ_DEV_FW_SELECT,  /* u16 key: cvm_fw_cfg_select() */
	FZ_DEV_FW_READ,    /* cvm_fw_cfg_read_byte() */
	FZ_DEV_I8042,      /* u8 port (bit 0: command port), u8 write (bit 0), u8 value */
	FZ_DEV_NR_OPS
};

/* Port-table indexes of fuzz_devices (the table is in fuzz_devices.c). */
enum fz_dev_port {
	FZ_PORT_UART = 0, /* 0..7: 0x3f8 + n */
	FZ_PORT_DEBUG_EXIT = 8,
	FZ_PORT_FW_CFG_SEL = 9,
	FZ_PORT_FW_CFG_DATA = 10,
	FZ_PORT_I8042_DATA = 11,
	FZ_PORT_I8042_CMD = 12,
	FZ_PORT_TABLE_EDGES = 13, /* ports next to and straddling the devices */
};

/*
 * fuzz_lapic: one local APIC and a clock that only moves forward.
 *   header: u32 APIC ID, u8 flags (FZ_LA_CFG_*), u8 MAXPHYADDR (% 18: 0 the
 *   default, else 35 + n), u32 TSC kHz,
 *   u8 bus cycle ns, u32 start time ns
 */
#define FZ_LA_CFG_BSP    0x1u
#define FZ_LA_CFG_X2APIC 0x2u /* x2APIC in CPUID */
#define FZ_LA_CFG_MIN_PERIOD \
	0x4u /* periodic expiries at least 200 us apart (the user irqchip's min_period_ns) */

enum fz_lapic_op {
	FZ_LA_MMIO_READ,    /* u16 offset: bit 15 clear: register (bits 5:0) * 16; set: & 0xfff */
	FZ_LA_MMIO_WRITE,   /* u16 offset, u32 value */
	FZ_LA_MSR_READ,     /* u16 msr: 0x800 + low byte; with bit 15 the low 15 bits as is */
	FZ_LA_MSR_WRITE,    /* u16 msr, u64 value */
	FZ_LA_SET_BASE,     /* u64 value, u8 host */
	FZ_LA_BASE_MODE,    /* u8 mode (EN/EXTD bits 1:0), u8 host: keeps base and BSP */
	FZ_LA_TSC_DEADLINE, /* u8 kind (0 zero, 1 ahead, 2 behind, 3 raw), u64 value */
	FZ_LA_ADVANCE,      /* u32 ns, u8 shift (% 24): time moves, due timers expire */
	FZ_LA_EXPIRE,       /* cvm_lapic_timer_expire() now (possibly early) */
	FZ_LA_ACCEPT,       /* u8 vector, u8 level */
	FZ_LA_ACK,          /* cvm_lapic_ack() */
	FZ_LA_EOI,          /* cvm_lapic_eoi() */
	FZ_LA_LINT,         /* u8 pin (% 3), u8 level */
	FZ_LA_LVT_FIRE,     /* u8 lvt (% 8) */
	FZ_LA_SET_TPR,      /* u8 */
	FZ_LA_INIT_RESET,   /* cvm_lapic_init_reset() */
	FZ_LA_NR_OPS
};

/*
 * fuzz_apic_bus: 2-16 vCPUs (local APIC + lifecycle each) on one routing bus.
 *   header: u8 n (2 + n % 15), u16 x2APIC-mode mask, u8 ID scheme (% 3: 0 ID =
 *   index, 1 ID = base + index * stride, 2 one u16 ID per vCPU follows), u16
 *   base, u8 stride
 * "modebits" operand: bits 2:0 delivery mode, 3 logical, 4 level-triggered,
 * 5 assert, 7:6 shorthand. "dest" operands: u8 kind (% 4: 0 the physical ID
 * of vCPU raw % n, 1 raw, 2 broadcast, 3 the logical ID of vCPU raw % n, OR'd
 * with the raw bits above bit 8 of it), u32 raw.
 */
enum fz_bus_op {
	FZ_BUS_ICR,  /* u8 sender, u8 vector, u8 modebits, dest: an ICR write */
	FZ_BUS_MSG,  /* u8 src (>= 0x80: none), u8 vector, u8 modebits, u8 x2 form, dest */
	FZ_BUS_REG,  /* u8 vcpu, u8 register (% 6: ID LDR DFR SVR TPR ESR), u32 value */
	FZ_BUS_MODE, /* u8 vcpu, u8 mode (EN/EXTD), u8 host */
	FZ_BUS_ACK,  /* u8 vcpu */
	FZ_BUS_EOI,  /* u8 vcpu */
	FZ_BUS_STEP, /* u8 vcpu, u8 inputs (bit 0 IF, bit 1 exception): cvm_lc_next() and its action */
	FZ_BUS_GUEST, /* u8 vcpu, u8 event (% 3: HLT, RSM, IRET) */
	FZ_BUS_NR_OPS
};

/* FZ_BUS_REG registers. */
enum fz_bus_reg { FZ_REG_ID, FZ_REG_LDR, FZ_REG_DFR, FZ_REG_SVR, FZ_REG_TPR, FZ_REG_ESR };

/*
 * fuzz_ioapic: an I/O APIC delivering to 1-4 local APICs.
 *   header: u8 I/O APIC ID, u8 n (1 + n % 4), u8 flags (bit v: vCPU v in x2APIC mode)
 */
enum fz_ioapic_op {
	FZ_IO_WRITE, /* u8 offset (% 4: IOREGSEL, IOWIN, EOI, then u8 raw offset), u32 value */
	FZ_IO_READ,  /* u8 offset as above */
	FZ_IO_RTE,   /* u8 pin (% 26), u8 half, u32 value: IOREGSEL then IOWIN */
	FZ_IO_IRQ,   /* u8 pin (% 26), u8 level */
	FZ_IO_ACK,   /* u8 vcpu: cvm_lapic_ack() */
	FZ_IO_EOI,   /* u8 vcpu: cvm_lapic_eoi(); a level EOI goes to the I/O APIC */
	FZ_IO_SVR,   /* u8 vcpu, u16 SVR value */
	FZ_IO_NR_OPS
};

/*
 * fuzz_lifecycle: one vCPU's state machine.
 *   header: u8 power-on options (CVM_LC_OPT_*)
 */
enum fz_lc_op {
	FZ_LC_INIT,
	FZ_LC_INIT_DEASSERT,
	FZ_LC_SIPI, /* u8 vector */
	FZ_LC_SMI,
	FZ_LC_NMI,
	FZ_LC_DELIVER, /* u8 mode (% 8), u8 vector, u8 assert */
	FZ_LC_RSM,
	FZ_LC_IRET,
	FZ_LC_HLT,
	FZ_LC_HOLD,
	FZ_LC_PAUSE,
	FZ_LC_RESUME,
	FZ_LC_STOP,
	FZ_LC_NEXT, /* u8 inputs: bit 0 exception, 1 interrupt pending, 2 window */
	FZ_LC_NR_OPS
};

#endif
