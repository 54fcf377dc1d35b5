/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The picture the MJPEG producer (mjpeg_producer.c) sends through the
 * v4l2loopback device and the vivid test reads back after libv4lconvert,
 * the project's encoder and libvpx: eight 75 % colour bars over the top
 * three quarters, and below them the frame counter as 16 black or white
 * cells (most significant bit on the left) on a grey background.
 *
 * Colours are full-range (JFIF) Y'CbCr, the values a JPEG carries; the
 * producer writes them as they are (raw data in), so after decoding the
 * picture should hold them within compression error.
 */
#ifndef MJPEG_PATTERN_H
#define MJPEG_PATTERN_H

#include <stdint.h>

#define MJPEG_BARS 8
#define MJPEG_COUNTER_BITS 16
#define MJPEG_CELL_ON 210
#define MJPEG_CELL_OFF 30
#define MJPEG_GREY 128

/* 75 % bars (white, yellow, cyan, green, magenta, red, blue, black) as
 * R'G'B' 0..255 converted with the JFIF equations. */
static inline void mjpeg_bar_colour(int bar, uint8_t ycc[3])
{
	static const int rgb[MJPEG_BARS][3] = {
		{191, 191, 191}, {191, 191, 0}, {0, 191, 191}, {0, 191, 0},
		{191, 0, 191}, {191, 0, 0}, {0, 0, 191}, {0, 0, 0},
	};
	double r = rgb[bar][0], g = rgb[bar][1], b = rgb[bar][2];
	double y = 0.299 * r + 0.587 * g + 0.114 * b;
	double cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
	double cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
	ycc[0] = (uint8_t)(y + 0.5);
	ycc[1] = (uint8_t)(cb + 0.5);
	ycc[2] = (uint8_t)(cr + 0.5);
}

/* The bars cover rows 0 .. 3h/4; the counter cells rows 13h/16 .. 15h/16. */
static inline int mjpeg_bars_bottom(int h) { return 3 * h / 4; }
static inline int mjpeg_counter_top(int h) { return 13 * h / 16; }
static inline int mjpeg_counter_bottom(int h) { return 15 * h / 16; }

/* Bar b spans columns b*w/8 .. (b+1)*w/8, cell i columns i*w/16 .. (i+1)*w/16. */
static inline int mjpeg_bar_x0(int b, int w) { return b * w / MJPEG_BARS; }
static inline int mjpeg_cell_x0(int i, int w) { return i * w / MJPEG_COUNTER_BITS; }

#endif
