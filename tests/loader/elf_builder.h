/*
 * Test helper: assembles ELF32/ELF64 executables (segments, notes, a multiboot
 * header) in memory, so loader tests can build valid images and then break them.
 */
#ifndef COREVM_TESTS_LOADER_ELF_BUILDER_H
#define COREVM_TESTS_LOADER_ELF_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TB_MAX_SEGS  72
#define TB_MAX_NOTES 4

struct tb_seg {
	uint64_t paddr;
	uint64_t vaddr;   /* 0: same as paddr */
	const void *data; /* filesz bytes; NULL: a fill pattern */
	uint64_t filesz;
	uint64_t memsz;
};

struct tb_note {
	const char *name;
	uint32_t type;
	const void *desc;
	uint32_t descsz;
};

struct tb_elf {
	bool is64;
	uint64_t entry;
	struct tb_seg seg[TB_MAX_SEGS];
	unsigned int nseg;
	struct tb_note note[TB_MAX_NOTES];
	unsigned int nnote;
	uint64_t note_align; /* p_align of the PT_NOTE segment: 4 (default) or 8 */
	bool multiboot;      /* put a multiboot header right after the program headers */
	uint32_t mb_flags;
};

/* The offsets the builder chose, for tests that corrupt fields afterwards. */
struct tb_layout {
	size_t phoff;
	size_t phentsize;
	size_t note_off; /* file offset of the notes (PT_NOTE is the last program header) */
	size_t mb_off;   /* file offset of the multiboot header */
	size_t seg_off[TB_MAX_SEGS];
};

/* Returns a malloc'd image (caller frees) and its length; layout may be NULL. */
uint8_t *tb_build(const struct tb_elf *spec, size_t *len, struct tb_layout *layout);

/* Writes a 12-byte multiboot header (magic, flags, valid checksum) at p. */
void tb_put_mb_header(uint8_t *p, uint32_t flags);

/* Little-endian accessors for checking guest memory byte by byte. */
uint32_t tb_le32(const uint8_t *p);
uint64_t tb_le64(const uint8_t *p);
void tb_put_le32(uint8_t *p, uint32_t v);
void tb_put_le64(uint8_t *p, uint64_t v);

/* Byte i of the fill pattern used for segments and modules with no data. */
static inline uint8_t tb_pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + 3);
}

#endif
