/* Bounds-checked parsing of x86 ELF32/ELF64 executables: header, program headers, notes. */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "loader/elf_file.h"
#include "loader/loader_internal.h"

#define ELF_MAX_NOTE_SEGMENTS 16

bool cvm_elf_has_magic(const uint8_t *image, size_t len)
{
	return image && len >= SELFMAG && memcmp(image, ELFMAG, SELFMAG) == 0;
}

void cvm_elf_phdr(const struct cvm_elf *elf, unsigned int i, struct cvm_elf_phdr *ph)
{
	const uint8_t *p = elf->image + elf->phoff + (uint64_t)i * elf->phentsize;

	if (elf->is64) {
		Elf64_Phdr h;
		memcpy(&h, p, sizeof(h));
		*ph = (struct cvm_elf_phdr){h.p_type,  h.p_flags,  h.p_offset, h.p_vaddr,
		                            h.p_paddr, h.p_filesz, h.p_memsz,  h.p_align};
	} else {
		Elf32_Phdr h;
		memcpy(&h, p, sizeof(h));
		*ph = (struct cvm_elf_phdr){h.p_type,  h.p_flags,  h.p_offset, h.p_vaddr,
		                            h.p_paddr, h.p_filesz, h.p_memsz,  h.p_align};
	}
}

/* True when [off, off + size) lies inside a file of len bytes (no overflow). */
static bool in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

/*
 * Walks the notes of one PT_NOTE segment. With cb NULL it only validates; else it
 * stops at the first note for which cb returns true. Returns 0, 1 (cb matched) or
 * -EINVAL with a reason.
 */
struct note_query {
	const char *name;
	uint32_t type;
	const uint8_t *desc;
	uint32_t descsz;
};

static int walk_notes(const struct cvm_elf *elf, unsigned int phi, const struct cvm_elf_phdr *ph,
                      struct note_query *q, char *err, size_t errlen)
{
	const uint8_t *base = elf->image + ph->offset;
	uint64_t align = ph->align == 8 ? 8 : 4;
	uint64_t pos = 0, end = ph->filesz;

	while (pos < end) {
		uint32_t hdr[3]; /* namesz, descsz, type: 32-bit in both classes */
		if (end - pos < sizeof(hdr))
			return cvm_ldr_fail(
			        err, errlen, -EINVAL,
			        "note at offset %#llx of program header %u is cut short",
			        (unsigned long long)(ph->offset + pos), phi);
		memcpy(hdr, base + pos, sizeof(hdr));
		uint64_t name_off = pos + sizeof(hdr);
		uint64_t desc_off = cvm_ldr_align_up(name_off + hdr[0], align);
		uint64_t desc_end = desc_off + hdr[1];
		if (desc_end > end)
			return cvm_ldr_fail(
			        err, errlen, -EINVAL,
			        "note at offset %#llx of program header %u (name %u bytes, "
			        "descriptor %u bytes) runs past its segment",
			        (unsigned long long)(ph->offset + pos), phi, hdr[0], hdr[1]);
		if (q && hdr[2] == q->type && hdr[0] == strlen(q->name) + 1 &&
		    memcmp(base + name_off, q->name, hdr[0]) == 0) {
			q->desc = base + desc_off;
			q->descsz = hdr[1];
			return 1;
		}
		pos = cvm_ldr_align_up(desc_end, align);
	}
	return 0;
}

static int check_phdr(const struct cvm_elf *elf, unsigned int i, unsigned int *nnotes, char *err,
                      size_t errlen)
{
	struct cvm_elf_phdr ph;

	cvm_elf_phdr(elf, i, &ph);
	if (ph.type != PT_LOAD && ph.type != PT_NOTE)
		return 0;
	if (!in_file(ph.offset, ph.filesz, elf->len))
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "program header %u: file bytes [%#llx, +%#llx) are outside the "
		                    "file (%zu bytes)",
		                    i, (unsigned long long)ph.offset, (unsigned long long)ph.filesz,
		                    elf->len);
	if (ph.type == PT_NOTE) {
		if (++*nnotes > ELF_MAX_NOTE_SEGMENTS)
			return cvm_ldr_fail(err, errlen, -EINVAL, "more than %d PT_NOTE segments",
			                    ELF_MAX_NOTE_SEGMENTS);
		int rc = walk_notes(elf, i, &ph, NULL, err, errlen);
		return rc < 0 ? rc : 0;
	}
	if (ph.filesz > ph.memsz)
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "program header %u: file size %#llx exceeds memory size %#llx",
		                    i, (unsigned long long)ph.filesz, (unsigned long long)ph.memsz);
	uint64_t limit = elf->is64 ? UINT64_MAX : UINT32_MAX;
	if (ph.memsz && ph.memsz - 1 > limit - ph.paddr)
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "program header %u: [%#llx, +%#llx) wraps the address space", i,
		                    (unsigned long long)ph.paddr, (unsigned long long)ph.memsz);
	return 0;
}

static int parse_header(struct cvm_elf *elf, char *err, size_t errlen)
{
	const uint8_t *id = elf->image;
	size_t need;
	uint16_t type, ehsize, min_phent;
	uint32_t version;

	if (id[EI_CLASS] != ELFCLASS32 && id[EI_CLASS] != ELFCLASS64)
		return cvm_ldr_fail(err, errlen, -EINVAL, "ELF class %u is neither 32 nor 64-bit",
		                    id[EI_CLASS]);
	elf->is64 = id[EI_CLASS] == ELFCLASS64;
	need = elf->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	if (elf->len < need)
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "ELF header cut short (%zu bytes, a header needs %zu)",
		                    elf->len, need);
	if (id[EI_DATA] != ELFDATA2LSB)
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "ELF data encoding %u is not little endian", id[EI_DATA]);
	if (id[EI_VERSION] != EV_CURRENT)
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "ELF identification version %u unsupported", id[EI_VERSION]);
	if (elf->is64) {
		Elf64_Ehdr h;
		memcpy(&h, elf->image, sizeof(h));
		type = h.e_type, elf->machine = h.e_machine, version = h.e_version;
		elf->entry = h.e_entry, elf->phoff = h.e_phoff, ehsize = h.e_ehsize;
		elf->phentsize = h.e_phentsize, elf->phnum = h.e_phnum;
		min_phent = sizeof(Elf64_Phdr);
	} else {
		Elf32_Ehdr h;
		memcpy(&h, elf->image, sizeof(h));
		type = h.e_type, elf->machine = h.e_machine, version = h.e_version;
		elf->entry = h.e_entry, elf->phoff = h.e_phoff, ehsize = h.e_ehsize;
		elf->phentsize = h.e_phentsize, elf->phnum = h.e_phnum;
		min_phent = sizeof(Elf32_Phdr);
	}
	if (type != ET_EXEC)
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "ELF type %u is not an executable (ET_EXEC)", type);
	if (elf->machine != (elf->is64 ? EM_X86_64 : EM_386))
		return cvm_ldr_fail(err, errlen, -EINVAL, "ELF%d machine %u is not %s",
		                    elf->is64 ? 64 : 32, elf->machine,
		                    elf->is64 ? "x86-64 (62)" : "i386 (3)");
	if (version != EV_CURRENT)
		return cvm_ldr_fail(err, errlen, -EINVAL, "ELF version %u unsupported", version);
	if (ehsize < need)
		return cvm_ldr_fail(err, errlen, -EINVAL, "ELF header size %u is below %zu", ehsize,
		                    need);
	if (elf->phnum == 0)
		return cvm_ldr_fail(err, errlen, -EINVAL, "ELF image has no program headers");
	if (elf->phnum == PN_XNUM)
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "extended program header count (PN_XNUM) unsupported");
	if (elf->phentsize < min_phent)
		return cvm_ldr_fail(err, errlen, -EINVAL,
		                    "program header entry size %u is below %u", elf->phentsize,
		                    min_phent);
	if (!in_file(elf->phoff, (uint64_t)elf->phnum * elf->phentsize, elf->len))
		return cvm_ldr_fail(
		        err, errlen, -EINVAL,
		        "program header table [%#llx, +%u x %u) is outside the file (%zu "
		        "bytes)",
		        (unsigned long long)elf->phoff, elf->phnum, elf->phentsize, elf->len);
	return 0;
}

int cvm_elf_parse(struct cvm_elf *elf, const uint8_t *image, size_t len, char *err, size_t errlen)
{
	unsigned int nnotes = 0;
	int rc;

	*elf = (struct cvm_elf){.image = image, .len = len};
	if (!cvm_elf_has_magic(image, len))
		return cvm_ldr_fail(err, errlen, -EINVAL, "not an ELF file");
	if (len < EI_NIDENT)
		return cvm_ldr_fail(err, errlen, -EINVAL, "ELF identification cut short");
	rc = parse_header(elf, err, errlen);
	for (unsigned int i = 0; rc == 0 && i < elf->phnum; i++)
		rc = check_phdr(elf, i, &nnotes, err, errlen);
	return rc;
}

int cvm_elf_find_note(const struct cvm_elf *elf, const char *name, uint32_t type,
                      const uint8_t **desc, uint32_t *descsz)
{
	struct note_query q = {.name = name, .type = type};

	for (unsigned int i = 0; i < elf->phnum; i++) {
		struct cvm_elf_phdr ph;
		cvm_elf_phdr(elf, i, &ph);
		if (ph.type == PT_NOTE && walk_notes(elf, i, &ph, &q, NULL, 0) == 1) {
			*desc = q.desc;
			*descsz = q.descsz;
			return 0;
		}
	}
	return -ENOENT;
}
