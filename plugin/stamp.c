/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The test pattern's stamp: see stamp.h and shared/api.md.
 */
#include "stamp.h"

#include <string.h>

int cam_stamp_height(int width)
{
	int b = width / CAM_STAMP_BLOCKS;
	/* One-pixel blocks would have no "inner half" to average, and would not
	 * survive chroma subsampling or the codec's transform anyway. */
	if(b < 2)
		return 0;
	return 2 * b;
}

static uint8_t xor_bytes(uint32_t v)
{
	return (uint8_t)((v >> 24) ^ (v >> 16) ^ (v >> 8) ^ v);
}

/* The 40 bits of one row: 32 bits of value, then the 8-bit check, MSB first. */
static uint64_t row_bits(uint32_t value)
{
	return ((uint64_t)value << 8) | xor_bytes(value);
}

static void write_row(uint8_t *luma, int stride, int b, uint64_t bits)
{
	for(int i = 0; i < CAM_STAMP_BLOCKS; i++) {
		int bit = (int)((bits >> (CAM_STAMP_BLOCKS - 1 - i)) & 1);
		uint8_t v = bit ? CAM_STAMP_WHITE : CAM_STAMP_BLACK;
		for(int y = 0; y < b; y++)
			memset(luma + (size_t)y * stride + (size_t)i * b, v, b);
	}
}

void cam_stamp_write(uint8_t *luma, int stride, int width, int height,
	uint32_t counter, uint32_t time_ms)
{
	int h = cam_stamp_height(width);
	if(h == 0 || height < h || luma == NULL)
		return;
	int b = h / 2;
	write_row(luma, stride, b, row_bits(counter));
	write_row(luma + (size_t)b * stride, stride, b, row_bits(time_ms));
}

/* Reads one row of 40 blocks; the mean of each block's inner half (the
 * central B/2 x B/2 square) keeps clear of the edges, where the codec's
 * ringing and the neighbouring picture bleed in. */
static uint64_t read_row(const uint8_t *luma, int stride, int b)
{
	int off = b / 4, n = b / 2;
	if(n < 1)
		n = 1;
	uint64_t bits = 0;
	for(int i = 0; i < CAM_STAMP_BLOCKS; i++) {
		unsigned int sum = 0;
		for(int y = off; y < off + n; y++) {
			const uint8_t *p = luma + (size_t)y * stride + (size_t)i * b + off;
			for(int x = 0; x < n; x++)
				sum += p[x];
		}
		bits = (bits << 1) | (sum >= 128u * (unsigned int)(n * n) ? 1 : 0);
	}
	return bits;
}

bool cam_stamp_read(const uint8_t *luma, int stride, int width, int height,
	uint32_t *counter, uint32_t *time_ms)
{
	int h = cam_stamp_height(width);
	if(h == 0 || height < h || luma == NULL)
		return false;
	int b = h / 2;
	uint64_t r1 = read_row(luma, stride, b);
	uint64_t r2 = read_row(luma + (size_t)b * stride, stride, b);
	uint32_t c = (uint32_t)(r1 >> 8), t = (uint32_t)(r2 >> 8);
	if(xor_bytes(c) != (uint8_t)r1 || xor_bytes(t) != (uint8_t)r2)
		return false;
	if(counter)
		*counter = c;
	if(time_ms)
		*time_ms = t;
	return true;
}
