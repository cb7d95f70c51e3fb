/*
 * Constants shared by the guest kit's assembly and C: segment selectors, stack
 * sizes, control-register bits and the boot-protocol magics. Only #defines, so
 * that .S files can include it.
 */
#ifndef GUEST_LIB_LAYOUT_H
#define GUEST_LIB_LAYOUT_H

/* GDT selectors (the same GDT serves the BSP, the APs and the trampoline). */
#define KIT_SEL_CODE32 0x08
#define KIT_SEL_DATA   0x10
#define KIT_SEL_CODE64 0x18
#define KIT_GDT_LIMIT  (4 * 8 - 1) /* null, code32, data, code64 */

/* Stacks: one for the BSP, one per AP in .bss (AP index = lock xadd counter). */
#define KIT_BSP_STACK_SIZE 16384
#define KIT_AP_STACK_SHIFT 12 /* 4 KiB per AP */
#define KIT_AP_STACK_SIZE  (1 << KIT_AP_STACK_SHIFT)
#define KIT_MAX_APS        255

/* Interrupt vectors the kit uses (its IDT has no other vector above 31). */
#define KIT_WAKE_VECTOR     0xf0 /* fixed IPI that wakes a vCPU sleeping in a lock wait */
#define KIT_SPURIOUS_VECTOR 0xff

/* Which 32-bit entry point the loader jumped to (kit_boot_entry). */
#define KIT_ENTRY_MULTIBOOT 1
#define KIT_ENTRY_PVH       2

/* Boot-protocol magics. */
#define KIT_MULTIBOOT_HEADER_MAGIC 0x1BADB002
#define KIT_MULTIBOOT_HEADER_FLAGS 0x00000002 /* bit 1: give mem_* and the memory map */
#define KIT_MULTIBOOT_BOOT_MAGIC   0x2BADB002 /* in EAX at entry */
#define KIT_PVH_START_MAGIC        0x336ec578 /* hvm_start_info.magic */
#define KIT_XEN_ELFNOTE_PHYS32     18

/* Control registers and MSRs used on the way to long mode. */
#define KIT_CR0_PE    0x00000001
#define KIT_CR0_NW    0x20000000
#define KIT_CR0_CD    0x40000000
#define KIT_CR0_PG    0x80000000
#define KIT_CR4_PAE   0x00000020
#define KIT_MSR_EFER  0xC0000080
#define KIT_EFER_LME  0x00000100
#define KIT_PTE_P     0x001
#define KIT_PTE_RW    0x002
#define KIT_PTE_PWT   0x008
#define KIT_PTE_PCD   0x010
#define KIT_PTE_PS    0x080
#define KIT_PD_SHIFT  21 /* 2 MiB pages */
#define KIT_IOAPIC_2M (0xfec00000 >> KIT_PD_SHIFT)
#define KIT_LAPIC_2M  (0xfee00000 >> KIT_PD_SHIFT)

#endif
