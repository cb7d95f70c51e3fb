/*
 * A bounds-checked reader of little-endian x86 ELF32/ELF64 executables: header,
 * program headers and notes, each field validated against the file length.
 * Pure: reads a caller-owned byte buffer, allocates nothing.
 */
#ifndef COREVM_LOADER_ELF_FILE_H
#define COREVM_LOADER_ELF_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A program header in class-neutral form. */
struct cvm_elf_phdr {
	uint32_t type;
	uint32_t flags;
	uint64_t offset;
	uint64_t vaddr;
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
	uint64_t align;
};

/* A parsed image; points into the caller's buffer, which must outlive it. */
struct cvm_elf {
	const uint8_t *image;
	size_t len;
	bool is64;
	uint16_t machine; /* EM_386 (ELF32) or EM_X86_64 (ELF64) */
	uint64_t entry;
	uint64_t phoff;
	uint16_t phnum;
	uint16_t phentsize;
};

/* True when the buffer starts with the ELF magic (whether or not the rest is valid). */
bool cvm_elf_has_magic(const uint8_t *image, size_t len);

/*
 * Validates the ELF header, every program header (table inside the file; PT_LOAD:
 * file bytes inside the file, filesz <= memsz, paddr + memsz without wrap, below
 * 4 GiB for ELF32; PT_NOTE: inside the file, every note well formed) and fills
 * *elf. Returns 0 or -EINVAL with a one-line reason in err.
 */
int cvm_elf_parse(struct cvm_elf *elf, const uint8_t *image, size_t len, char *err, size_t errlen);

/* Program header i (< elf->phnum) of an image cvm_elf_parse() accepted. */
void cvm_elf_phdr(const struct cvm_elf *elf, unsigned int i, struct cvm_elf_phdr *ph);

/*
 * Finds the first note named `name` (NUL included in the comparison) of type
 * `type` in the PT_NOTE segments of a parsed image. Returns 0 with *desc and
 * *descsz set (desc points into the image), or -ENOENT.
 */
int cvm_elf_find_note(const struct cvm_elf *elf, const char *name, uint32_t type,
                      const uint8_t **desc, uint32_t *descsz);

#endif
