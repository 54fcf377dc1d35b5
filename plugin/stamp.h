/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The test pattern's stamp (shared/api.md, "The test pattern's stamp"):
 * two rows of 40 square blocks, B = width / 40 pixels each, across the top of
 * the luma plane.  Row 1: 32-bit frame counter (MSB first) + 8-bit XOR of its
 * bytes.  Row 2: capture time, CLOCK_REALTIME ms mod 2^32, + 8-bit XOR.
 * Black block (luma 16) = 0, white block (luma 235) = 1.  A reader averages
 * the inner half of each block and compares with 128.
 *
 * Pure functions on a luma plane; no allocation, thread-safe.
 */
#ifndef CAM_STAMP_H
#define CAM_STAMP_H

#include <stdbool.h>
#include <stdint.h>

#define CAM_STAMP_BLOCKS 40
#define CAM_STAMP_BLACK 16
#define CAM_STAMP_WHITE 235

/* Height in rows the stamp occupies (2 * B); 0 if the picture is too small (width < 80). */
int cam_stamp_height(int width);

/* Writes both rows into the luma plane.  The chroma under the stamp is the
 * caller's business (the pattern source sets it to neutral 128). */
void cam_stamp_write(uint8_t *luma, int stride, int width, int height,
	uint32_t counter, uint32_t time_ms);

/* Reads both rows back.  Returns true when both check bytes match. */
bool cam_stamp_read(const uint8_t *luma, int stride, int width, int height,
	uint32_t *counter, uint32_t *time_ms);

#endif
