/*
 * The calibration guest corevm carries inside (guest/calib.c, embedded at build
 * time by tools/embed.py), for `corevm calibrate`; empty (length 0) in a build
 * without the guests (meson option guests=false), where --guest FILE gives it.
 */
#ifndef COREVM_TOOLS_CALIB_GUEST_H
#define COREVM_TOOLS_CALIB_GUEST_H

#include <stddef.h>

extern const unsigned char cvm_calib_guest[];
extern const size_t cvm_calib_guest_len;

#endif
