/*
 * The kit's AP start-up trampoline (trampoline.h): smp.c copies it to
 * CVM_GUEST_TRAMPOLINE (0x8000, SIPI vector 0x08); it continues at
 * kit_ap_entry32 in the image (entry.S), on the way to long mode.
 */
#include "guest/lib/trampoline.inc"

	KIT_TRAMPOLINE kit_trampoline, kit_ap_entry32

	.section .note.GNU-stack, "", @progbits
