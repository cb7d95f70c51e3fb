/*
 * Freestanding helpers for guests: the mem* functions gcc may call, bounded
 * string functions, number and command-line parsing, and the FNV-1a checksum
 * the bootinfo guest reports.
 */
#ifndef GUEST_LIB_UTIL_H
#define GUEST_LIB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* mem.c (guests only; the host build of the unit tests uses libc's). */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Length of s, or max if there is no NUL in the first max bytes. */
size_t kit_strnlen(const char *s, size_t max);

/* Copies at most dstlen - 1 bytes of src and NUL-terminates (dstlen > 0). */
void kit_strlcpy(char *dst, const char *src, size_t dstlen);

/*
 * Parses an unsigned number of `len` bytes at s: decimal, or hexadecimal with a
 * 0x prefix. Returns false on an empty string, a bad digit or overflow.
 */
bool kit_parse_u64(const char *s, size_t len, uint64_t *out);

/*
 * Looks for the space-separated token `key=VALUE` in cmdline (NUL-terminated);
 * on success points *val at VALUE and sets *len to its length. A bare `key`
 * matches with an empty value.
 */
bool kit_cmdline_find(const char *cmdline, const char *key, const char **val, size_t *len);

/* Whether the VALUE found for key equals word (a missing key never matches). */
bool kit_cmdline_is(const char *cmdline, const char *key, const char *word);

/* Whether key appears at all (bare or with a value). */
bool kit_cmdline_has(const char *cmdline, const char *key);

/* key=NUMBER (kit_parse_u64): 1 and *out set, 0 when key is absent, -1 when NUMBER is bad. */
int kit_cmdline_u64(const char *cmdline, const char *key, uint64_t *out);

/* Sorts v[0..n) ascending in place (insertion sort: for the few thousand samples a guest keeps). */
void kit_sort_u64(uint64_t *v, size_t n);

/* Sorts v[0..n) and returns its median (the mean of the middle two, rounded down, when n is even; 0 if n is 0). */
uint64_t kit_median_u64(uint64_t *v, size_t n);

/* 64-bit FNV-1a of [p, p + len), continuing from hash (start with KIT_FNV1A_INIT). */
#define KIT_FNV1A_INIT  0xcbf29ce484222325ull
#define KIT_FNV1A_PRIME 0x100000001b3ull
uint64_t kit_fnv1a(uint64_t hash, const void *p, size_t len);

#endif
