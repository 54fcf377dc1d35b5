/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The capture source interface, implemented by the test pattern
 * (source_pattern.c) and the V4L2 camera (source_v4l2.c).
 *
 * A source hands out I420 frames.  It is owned by exactly one thread (the
 * pipeline thread): none of these functions may be called concurrently on
 * the same source.  Functions return 0 or a negative errno.
 *
 * Lifetime: cam_source_open() starts capture; cam_source_read() returns the
 * newest frame, whose planes stay valid until the next read or close;
 * cam_source_close() stops capture and is safe on a source that is not open
 * or half open; cam_source_free() closes and frees.
 */
#ifndef CAM_SOURCE_H
#define CAM_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cam_frame {
	uint8_t *planes[3];    /* Y, U, V */
	int strides[3];
	int width, height;
	int64_t capture_us;    /* CLOCK_MONOTONIC, microseconds: drives the RTP clock */
	int64_t realtime_ms;   /* CLOCK_REALTIME, milliseconds, at capture */
	uint32_t counter;      /* frames delivered since open */
} cam_frame;

typedef struct cam_source cam_source;

typedef struct cam_source_ops {
	const char *kind;                                      /* "pattern" or "v4l2" */
	int (*open)(cam_source *s);
	int (*read)(cam_source *s, cam_frame *frame, int timeout_ms);
	void (*close)(cam_source *s);
	int (*set_format)(cam_source *s, int width, int height, int fps);
	void (*destroy)(cam_source *s);
} cam_source_ops;

/* The part every source shares; a source embeds it as its first member. */
struct cam_source {
	const cam_source_ops *ops;
	int width, height, fps;     /* what is (or will be) delivered */
	const char *device;         /* NULL for the pattern */
	char native_format[16];     /* the device's pixel format, e.g. "YUYV"; "I420" for the pattern */
	bool is_open;
};

/* Starts capturing.  -errno on failure (the source stays closed). */
static inline int cam_source_open(cam_source *s) { return s->ops->open(s); }

/* Waits up to timeout_ms for the next frame.  0: *frame is filled;
 * -EAGAIN: no frame yet (timeout); -EIO, -ENODEV, ...: the device failed and
 * the caller should close and reopen later. */
static inline int cam_source_read(cam_source *s, cam_frame *frame, int timeout_ms)
{
	return s->ops->read(s, frame, timeout_ms);
}

static inline void cam_source_close(cam_source *s) { s->ops->close(s); }

/* Changes size and rate; an open source is restarted.  The source may pick
 * the nearest it supports: read back s->width/height/fps. */
static inline int cam_source_set_format(cam_source *s, int width, int height, int fps)
{
	return s->ops->set_format(s, width, height, fps);
}

static inline void cam_source_free(cam_source *s)
{
	if(s)
		s->ops->destroy(s);
}

/* The synthetic test pattern: a moving picture carrying the stamp
 * (stamp.h), paced by CLOCK_MONOTONIC at the given rate.  NULL on bad sizes
 * (width and height must be even, 80..4096 and 64..4096; fps 1..120).
 * For tests of what a camera failure does downstream, the environment
 * variable CAM_PATTERN_OUTAGE_ENV = "AFTER_MS:FOR_MS" makes every pattern
 * source fail once as an unplugged camera does: AFTER_MS after its first
 * open, reads fail (-EIO) and opens fail (-ENODEV) for FOR_MS. */
#define CAM_PATTERN_OUTAGE_ENV "JANUS_CAMERA_TEST_OUTAGE"
cam_source *cam_source_pattern_new(int width, int height, int fps);

/* A V4L2 camera through libv4l2, delivering I420 (libv4lconvert converts
 * YUYV, MJPEG, ... as needed).  Does not touch the device until open(), so
 * it can be created while the camera is absent.  NULL on bad arguments. */
cam_source *cam_source_v4l2_new(const char *device, int width, int height, int fps);

#endif
