/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Still pictures: a copy of one captured I420 frame (cam_still), and its
 * JPEG encoding with libjpeg-turbo's TurboJPEG API, optionally scaled down
 * first by area averaging (a box filter over the three planes).
 *
 * The pipeline thread only copies a frame into a still (a memcpy per
 * plane); the JPEG work happens on the thread that asked for it.  No
 * global state: every function is safe on any thread, on distinct objects.
 * Functions return 0 or a negative errno.
 */
#ifndef CAM_SNAPSHOT_H
#define CAM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "source.h"

/* One frame's pixels, owned: the three planes are tightly packed in one
 * allocation (planes[0]), strides width, (width + 1) / 2, (width + 1) / 2.
 * A zeroed cam_still (CAM_STILL_INIT) is empty and valid. */
typedef struct cam_still {
	int width, height;
	int64_t capture_us;      /* as in cam_frame: CLOCK_MONOTONIC */
	int64_t realtime_ms;     /* CLOCK_REALTIME ms at capture */
	uint32_t counter;
	uint8_t *planes[3];
	int strides[3];
	size_t capacity;         /* bytes allocated at planes[0] */
} cam_still;

#define CAM_STILL_INIT ((cam_still){0})

/* Makes room for a width x height picture (keeps a large enough buffer,
 * else replaces it; the pixels are then undefined).  Sets width, height
 * and the planes; -EINVAL on sizes outside 1..16384, -ENOMEM. */
int cam_still_reserve(cam_still *s, int width, int height);
/* Copies the frame's planes (any strides) and its counter and times.  On
 * error the still keeps what it had. */
int cam_still_copy_frame(cam_still *s, const cam_frame *f);
int cam_still_copy(cam_still *dst, const cam_still *src);
/* Frees the pixels and empties the still; safe on an empty one. */
void cam_still_free(cam_still *s);
/* A frame view of the still's pixels (valid while the still is unchanged). */
cam_frame cam_still_as_frame(const cam_still *s);

/* A JPEG image; data is malloc'd: cam_jpeg_free() (or free()). */
typedef struct cam_jpeg {
	unsigned char *data;
	size_t size;
	int width, height;
} cam_jpeg;

#define CAM_SNAPSHOT_MIN_WIDTH 16

/* The size a snapshot of a frame_width x frame_height frame has at the
 * requested width: 0 = the frame's own size; otherwise width must be even
 * and CAM_SNAPSHOT_MIN_WIDTH..frame_width, and the height follows the
 * aspect ratio, rounded to the nearest even number (at least 2).  0, or
 * -EINVAL. */
int cam_snapshot_size(int frame_width, int frame_height, int width, int *out_width, int *out_height);

/* Encodes the frame as a baseline JPEG (4:2:0) at quality 1..100, scaled to
 * `width` as cam_snapshot_size() says.  *out is set only on success.
 * -EINVAL (bad frame, width or quality), -ENOMEM, -EIO (libjpeg-turbo
 * failed; the reason is logged). */
int cam_snapshot_encode(const cam_frame *f, int width, int quality, cam_jpeg *out);
void cam_jpeg_free(cam_jpeg *j);

/* Area-averaging downscale of one 8-bit plane: each output pixel is the
 * mean of the source area it covers (fractional pixels weighted by their
 * share), rounded.  dst_w <= src_w and dst_h <= src_h, all > 0. */
void cam_snapshot_scale_plane(const uint8_t *src, int src_stride, int src_w, int src_h,
	uint8_t *dst, int dst_stride, int dst_w, int dst_h);

#endif
