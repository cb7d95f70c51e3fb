/* The calibration guest of a build without guests: none (corevm calibrate then needs --guest FILE). */
#include "tools/calib_guest.h"

const unsigned char cvm_calib_guest[1];
const size_t cvm_calib_guest_len = 0;
