/* Test helper: builds ELF32/ELF64 images with chosen segments, notes and multiboot header. */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "elf_builder.h"

uint32_t tb_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t tb_le64(const uint8_t *p)
{
	return (uint64_t)tb_le32(p) | (uint64_t)tb_le32(p + 4) << 32;
}

void tb_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void tb_put_le64(uint8_t *p, uint64_t v)
{
	tb_put_le32(p, (uint32_t)v);
	tb_put_le32(p + 4, (uint32_t)(v >> 32));
}

void tb_put_mb_header(uint8_t *p, uint32_t flags)
{
	tb_put_le32(p, 0x1BADB002u);
	tb_put_le32(p + 4, flags);
	tb_put_le32(p + 8, (uint32_t) - (0x1BADB002u + flags));
}

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Size of the notes blob with the given alignment. */
static size_t notes_size(const struct tb_elf *s, size_t a)
{
	size_t n = 0;
	for (unsigned int i = 0; i < s->nnote; i++)
		n = align_up(align_up(n + 12 + strlen(s->note[i].name) + 1, a) + s->note[i].descsz,
		             a);
	return n;
}

static void put_notes(uint8_t *p, const struct tb_elf *s, size_t a)
{
	size_t n = 0;
	for (unsigned int i = 0; i < s->nnote; i++) {
		const struct tb_note *note = &s->note[i];
		uint32_t namesz = (uint32_t)strlen(note->name) + 1;
		tb_put_le32(p + n, namesz);
		tb_put_le32(p + n + 4, note->descsz);
		tb_put_le32(p + n + 8, note->type);
		memcpy(p + n + 12, note->name, namesz);
		n = align_up(n + 12 + namesz, a);
		memcpy(p + n, note->desc, note->descsz);
		n = align_up(n + note->descsz, a);
	}
}

static void put_phdr(uint8_t *p, bool is64, uint32_t type, uint64_t off, uint64_t vaddr,
                     uint64_t paddr, uint64_t filesz, uint64_t memsz, uint64_t align)
{
	if (is64) {
		Elf64_Phdr h = {type, PF_R | PF_X, off, vaddr, paddr, filesz, memsz, align};
		memcpy(p, &h, sizeof(h));
	} else {
		Elf32_Phdr h = {type,
		                (Elf32_Off)off,
		                (Elf32_Addr)vaddr,
		                (Elf32_Addr)paddr,
		                (Elf32_Word)filesz,
		                (Elf32_Word)memsz,
		                PF_R | PF_X,
		                (Elf32_Word)align};
		memcpy(p, &h, sizeof(h));
	}
}

static void put_ehdr(uint8_t *p, const struct tb_elf *s, size_t phoff, unsigned int phnum)
{
	unsigned char ident[EI_NIDENT] = {
	        ELFMAG0,     ELFMAG1,   ELFMAG2, ELFMAG3, s->is64 ? ELFCLASS64 : ELFCLASS32,
	        ELFDATA2LSB, EV_CURRENT};
	if (s->is64) {
		Elf64_Ehdr h = {0};
		memcpy(h.e_ident, ident, EI_NIDENT);
		h.e_type = ET_EXEC, h.e_machine = EM_X86_64, h.e_version = EV_CURRENT;
		h.e_entry = s->entry, h.e_phoff = phoff, h.e_ehsize = sizeof(h);
		h.e_phentsize = sizeof(Elf64_Phdr), h.e_phnum = (Elf64_Half)phnum;
		memcpy(p, &h, sizeof(h));
	} else {
		Elf32_Ehdr h = {0};
		memcpy(h.e_ident, ident, EI_NIDENT);
		h.e_type = ET_EXEC, h.e_machine = EM_386, h.e_version = EV_CURRENT;
		h.e_entry = (Elf32_Addr)s->entry, h.e_phoff = (Elf32_Off)phoff;
		h.e_ehsize = sizeof(h), h.e_phentsize = sizeof(Elf32_Phdr);
		h.e_phnum = (Elf32_Half)phnum;
		memcpy(p, &h, sizeof(h));
	}
}

uint8_t *tb_build(const struct tb_elf *s, size_t *len, struct tb_layout *layout)
{
	struct tb_layout lay = {0};
	size_t ehsize = s->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t na = s->note_align ? s->note_align : 4;
	unsigned int phnum = s->nseg + (s->nnote ? 1 : 0);
	size_t off, nsize = notes_size(s, na);

	lay.phoff = ehsize;
	lay.phentsize = s->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	off = lay.phoff + phnum * lay.phentsize;
	lay.note_off = align_up(off, 8);
	off = lay.note_off + nsize;
	lay.mb_off = align_up(off, 4);
	if (s->multiboot)
		off = lay.mb_off + 48;
	for (unsigned int i = 0; i < s->nseg; i++) {
		lay.seg_off[i] = align_up(off, 16);
		off = lay.seg_off[i] + s->seg[i].filesz;
	}
	uint8_t *img = calloc(1, off);
	if (!img)
		abort();
	put_ehdr(img, s, lay.phoff, phnum);
	for (unsigned int i = 0; i < s->nseg; i++) {
		const struct tb_seg *g = &s->seg[i];
		put_phdr(img + lay.phoff + i * lay.phentsize, s->is64, PT_LOAD, lay.seg_off[i],
		         g->vaddr ? g->vaddr : g->paddr, g->paddr, g->filesz, g->memsz, 16);
		for (uint64_t b = 0; b < g->filesz; b++)
			img[lay.seg_off[i] + b] =
			        g->data ? ((const uint8_t *)g->data)[b] : tb_pattern(b + i);
	}
	if (s->nnote) {
		put_phdr(img + lay.phoff + s->nseg * lay.phentsize, s->is64, PT_NOTE, lay.note_off,
		         0, 0, nsize, 0, na);
		put_notes(img + lay.note_off, s, na);
	}
	if (s->multiboot)
		tb_put_mb_header(img + lay.mb_off, s->mb_flags);
	*len = off;
	if (layout)
		*layout = lay;
	return img;
}
