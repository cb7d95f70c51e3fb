/* Fixed-size bit sets over 64-bit words: the one bitmap type corevm uses. Pure, header-only. */
#ifndef COREVM_CORE_BITMAP_H
#define COREVM_CORE_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CVM_BITS_PER_WORD       64u
#define CVM_BITMAP_WORDS(nbits) (((nbits) + CVM_BITS_PER_WORD - 1) / CVM_BITS_PER_WORD)

/* Declares a bitmap able to hold `nbits` bits: `CVM_BITMAP(x, 1024);` */
#define CVM_BITMAP(name, nbits) uint64_t name[CVM_BITMAP_WORDS(nbits)]

static inline void cvm_bit_set(uint64_t *map, unsigned int bit)
{
	map[bit / CVM_BITS_PER_WORD] |= UINT64_C(1) << (bit % CVM_BITS_PER_WORD);
}

static inline void cvm_bit_clear(uint64_t *map, unsigned int bit)
{
	map[bit / CVM_BITS_PER_WORD] &= ~(UINT64_C(1) << (bit % CVM_BITS_PER_WORD));
}

static inline bool cvm_bit_test(const uint64_t *map, unsigned int bit)
{
	return (map[bit / CVM_BITS_PER_WORD] >> (bit % CVM_BITS_PER_WORD)) & 1u;
}

static inline void cvm_bitmap_zero(uint64_t *map, unsigned int nbits)
{
	for (unsigned int i = 0; i < CVM_BITMAP_WORDS(nbits); i++)
		map[i] = 0;
}

/* Sets bits [0, nbits) and clears the unused tail of the last word. */
static inline void cvm_bitmap_fill(uint64_t *map, unsigned int nbits)
{
	unsigned int words = CVM_BITMAP_WORDS(nbits);
	for (unsigned int i = 0; i < words; i++)
		map[i] = ~UINT64_C(0);
	if (nbits % CVM_BITS_PER_WORD)
		map[words - 1] = (UINT64_C(1) << (nbits % CVM_BITS_PER_WORD)) - 1;
}

static inline unsigned int cvm_bitmap_weight(const uint64_t *map, unsigned int nbits)
{
	unsigned int n = 0;
	for (unsigned int i = 0; i < CVM_BITMAP_WORDS(nbits); i++)
		n += (unsigned int)__builtin_popcountll(map[i]);
	return n;
}

static inline bool cvm_bitmap_empty(const uint64_t *map, unsigned int nbits)
{
	for (unsigned int i = 0; i < CVM_BITMAP_WORDS(nbits); i++)
		if (map[i])
			return false;
	return true;
}

/* First set bit at or after `from`, or `nbits` when there is none. */
static inline unsigned int cvm_bitmap_next(const uint64_t *map, unsigned int nbits,
                                           unsigned int from)
{
	while (from < nbits) {
		uint64_t w = map[from / CVM_BITS_PER_WORD] >> (from % CVM_BITS_PER_WORD);
		if (w) {
			unsigned int bit = from + (unsigned int)__builtin_ctzll(w);
			return bit < nbits ? bit : nbits;
		}
		from = (from / CVM_BITS_PER_WORD + 1) * CVM_BITS_PER_WORD;
	}
	return nbits;
}

#define cvm_bitmap_for_each(bit, map, nbits)                              \
	for ((bit) = cvm_bitmap_next((map), (nbits), 0); (bit) < (nbits); \
	     (bit) = cvm_bitmap_next((map), (nbits), (bit) + 1))

static inline void cvm_bitmap_and(uint64_t *dst, const uint64_t *a, const uint64_t *b,
                                  unsigned int nbits)
{
	for (unsigned int i = 0; i < CVM_BITMAP_WORDS(nbits); i++)
		dst[i] = a[i] & b[i];
}

static inline void cvm_bitmap_or(uint64_t *dst, const uint64_t *a, const uint64_t *b,
                                 unsigned int nbits)
{
	for (unsigned int i = 0; i < CVM_BITMAP_WORDS(nbits); i++)
		dst[i] = a[i] | b[i];
}

static inline void cvm_bitmap_andnot(uint64_t *dst, const uint64_t *a, const uint64_t *b,
                                     unsigned int nbits)
{
	for (unsigned int i = 0; i < CVM_BITMAP_WORDS(nbits); i++)
		dst[i] = a[i] & ~b[i];
}

#endif
