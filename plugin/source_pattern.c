/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The synthetic test pattern (source.h): diagonal bands that drift, a
 * textured box that bounces around, slowly moving colour, and the stamp
 * (stamp.h) in the top rows.  Rendering is a memcpy per row for the
 * background plus per-pixel work only inside the box, so it stays cheap at
 * 1280x720@30 and beyond.
 *
 * Pacing: frames are due at t0 + n / fps on CLOCK_MONOTONIC (absolute
 * deadlines, so the rate does not drift with the time spent rendering or
 * encoding).  A caller that comes late gets a frame at once and the next
 * deadline after now: late reads never turn into a burst of catch-up frames.
 */
#include "source.h"
#include "stamp.h"
#include "log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The background repeats every RAMP_PERIOD pixels along the diagonal. */
#define RAMP_PERIOD 256
#define NSEC_PER_SEC 1000000000LL

typedef struct pattern_source {
	cam_source base;            /* first: cam_source * casts to this */
	uint8_t *pixels;            /* one allocation for Y, U and V */
	uint8_t *planes[3];
	int strides[3];
	/* Precomputed rows: any horizontal window of these is a background row. */
	uint8_t *luma_ramp;         /* width + RAMP_PERIOD bytes */
	uint8_t *chroma_ramp;       /* width / 2 + RAMP_PERIOD bytes */
	int64_t t0_ns;              /* deadline of slot 0 */
	int64_t slot;               /* the next slot to deliver */
	uint32_t counter;           /* frames delivered since open */
	/* A simulated outage (CAM_PATTERN_OUTAGE_ENV): monotonic ns when it
	 * starts and ends; 0 = none (or over). */
	int64_t outage_start_ns, outage_end_ns;
	bool opened_once;
} pattern_source;

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static int64_t slot_deadline(const pattern_source *p, int64_t slot)
{
	/* Split so that slot * 1e9 cannot overflow, however long it runs. */
	int64_t fps = p->base.fps;
	return p->t0_ns + (slot / fps) * NSEC_PER_SEC + (slot % fps) * NSEC_PER_SEC / fps;
}

static void sleep_until(int64_t ns)
{
	struct timespec ts = {
		.tv_sec = ns / NSEC_PER_SEC,
		.tv_nsec = ns % NSEC_PER_SEC,
	};
	/* EINTR: just go round again with the same absolute deadline. */
	while(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Sizes the pattern can make with its stamp (two block rows, at most half
 * the picture, as cam_camera_config_check() demands of the configuration). */
static bool valid_format(int width, int height, int fps)
{
	return width >= 80 && width <= 4096 && height >= 64 && height <= 4096 &&
		(width % 2) == 0 && (height % 2) == 0 && fps >= 1 && fps <= 120 &&
		cam_stamp_height(width) * 2 <= height;
}

static void free_buffers(pattern_source *p)
{
	free(p->pixels);
	free(p->luma_ramp);
	free(p->chroma_ramp);
	p->pixels = p->luma_ramp = p->chroma_ramp = NULL;
}

static int alloc_buffers(pattern_source *p, int width, int height)
{
	size_t ysize = (size_t)width * height, csize = (size_t)(width / 2) * (height / 2);
	uint8_t *pixels = malloc(ysize + 2 * csize);
	uint8_t *lramp = malloc((size_t)width + RAMP_PERIOD);
	uint8_t *cramp = malloc((size_t)width / 2 + RAMP_PERIOD);
	if(!pixels || !lramp || !cramp) {
		free(pixels);
		free(lramp);
		free(cramp);
		CAM_ERR("pattern: out of memory for %dx%d", width, height);
		return -ENOMEM;
	}
	free_buffers(p);
	p->pixels = pixels;
	p->luma_ramp = lramp;
	p->chroma_ramp = cramp;
	p->planes[0] = pixels;
	p->planes[1] = pixels + ysize;
	p->planes[2] = pixels + ysize + csize;
	p->strides[0] = width;
	p->strides[1] = p->strides[2] = width / 2;
	/* Two superposed waves, one broad and one fine: smooth enough to look
	 * like a picture, detailed enough that the encoder has to spend bits. */
	for(int i = 0; i < width + RAMP_PERIOD; i++) {
		double a = 2.0 * M_PI * (i % RAMP_PERIOD) / RAMP_PERIOD;
		double v = 128.0 + 70.0 * sin(a) + 30.0 * sin(8.0 * a);
		lramp[i] = (uint8_t)lrint(v < 16 ? 16 : (v > 235 ? 235 : v));
	}
	for(int i = 0; i < width / 2 + RAMP_PERIOD; i++) {
		double a = 2.0 * M_PI * (i % RAMP_PERIOD) / RAMP_PERIOD;
		cramp[i] = (uint8_t)lrint(128.0 + 50.0 * sin(a));
	}
	return 0;
}

/* Position along a back-and-forth path of length span, at speed px/frame. */
static int bounce(int64_t t, int speed, int span)
{
	if(span <= 0)
		return 0;
	int64_t pos = (t * speed) % (2 * (int64_t)span);
	return (int)(pos < span ? pos : 2 * span - pos);
}

static void render(pattern_source *p, int64_t t)
{
	int w = p->base.width, h = p->base.height;
	int cw = w / 2, ch = h / 2;
	int sh = cam_stamp_height(w);
	if(sh > h)
		sh = 0;    /* too flat for the stamp (cam_stamp_write skips it too) */
	/* Background luma: each row is a window of the ramp, shifted by the row
	 * and by time, which makes diagonal bands that drift down-left. */
	for(int y = sh; y < h; y++) {
		int off = (int)((y + 3 * t) % RAMP_PERIOD);
		memcpy(p->planes[0] + (size_t)y * p->strides[0], p->luma_ramp + off, w);
	}
	/* Chroma: U drifts the other way, V changes slowly down the picture. */
	for(int y = sh / 2; y < ch; y++) {
		int off = (int)((RAMP_PERIOD - (2 * t) % RAMP_PERIOD + y / 2) % RAMP_PERIOD);
		memcpy(p->planes[1] + (size_t)y * p->strides[1], p->chroma_ramp + off, cw);
		memset(p->planes[2] + (size_t)y * p->strides[2],
			p->chroma_ramp[(y + t) % RAMP_PERIOD], cw);
	}
	/* A bouncing box with a fine checkerboard that scrolls inside it: sharp
	 * edges and texture the motion search has to find. */
	int bw = w / 5, bh = (h - sh) / 4;
	int bx = bounce(t, 5, w - bw), by = sh + bounce(t, 3, h - sh - bh);
	for(int y = 0; y < bh; y++) {
		uint8_t *row = p->planes[0] + (size_t)(by + y) * p->strides[0] + bx;
		for(int x = 0; x < bw; x++)
			row[x] = (((x + t) >> 3) ^ (y >> 3)) & 1 ? 200 : 40;
	}
	/* The stamp's rows: neutral chroma under it, so that colour neither
	 * changes its luma on conversion nor costs bits; the columns right of
	 * the 40 blocks (width not a multiple of 40) are mid grey. */
	if(sh > 0) {
		int b = sh / 2;
		for(int y = 0; y < sh; y++)
			memset(p->planes[0] + (size_t)y * p->strides[0] + 40 * b, 128, w - 40 * b);
		for(int y = 0; y < sh / 2; y++) {
			memset(p->planes[1] + (size_t)y * p->strides[1], 128, cw);
			memset(p->planes[2] + (size_t)y * p->strides[2], 128, cw);
		}
	}
}

/* The outage CAM_PATTERN_OUTAGE_ENV asks for ("AFTER_MS:FOR_MS"), timed
 * from the source's first open; false when it is unset or malformed. */
static bool outage_wanted(int64_t *after_ms, int64_t *for_ms)
{
	const char *v = getenv(CAM_PATTERN_OUTAGE_ENV);
	long long a = 0, f = 0;
	char extra;
	if(!v || sscanf(v, "%lld:%lld%c", &a, &f, &extra) != 2 || a < 0 || f <= 0 || a > 1000000000 || f > 1000000000)
		return false;
	*after_ms = a;
	*for_ms = f;
	return true;
}

/* Whether the simulated outage is on now; forgets it once it is over. */
static bool in_outage(pattern_source *p, int64_t now)
{
	if(!p->outage_start_ns || now < p->outage_start_ns)
		return false;
	if(now < p->outage_end_ns)
		return true;
	p->outage_start_ns = p->outage_end_ns = 0;
	return false;
}

static int pattern_open(cam_source *s)
{
	pattern_source *p = (pattern_source *)s;
	if(!p->pixels)
		return -ENOMEM;
	int64_t now = clock_ns(CLOCK_MONOTONIC), after_ms, for_ms;
	if(in_outage(p, now))
		return -ENODEV;
	if(!p->opened_once && outage_wanted(&after_ms, &for_ms)) {
		p->outage_start_ns = now + after_ms * 1000000;
		p->outage_end_ns = p->outage_start_ns + for_ms * 1000000;
		CAM_INFO("pattern: a simulated outage of %lld ms in %lld ms (%s)", (long long)for_ms,
			(long long)after_ms, CAM_PATTERN_OUTAGE_ENV);
	}
	p->opened_once = true;
	p->t0_ns = clock_ns(CLOCK_MONOTONIC);
	p->slot = 0;
	p->counter = 0;
	s->is_open = true;
	return 0;
}

static void pattern_close(cam_source *s)
{
	s->is_open = false;
}

static int pattern_read(cam_source *s, cam_frame *frame, int timeout_ms)
{
	pattern_source *p = (pattern_source *)s;
	if(!s->is_open)
		return -EBADF;
	if(in_outage(p, clock_ns(CLOCK_MONOTONIC)))
		return -EIO;
	int64_t due = slot_deadline(p, p->slot);
	int64_t now = clock_ns(CLOCK_MONOTONIC);
	if(due > now) {
		if(timeout_ms >= 0 && due - now > (int64_t)timeout_ms * 1000000) {
			/* Not due within the timeout: wait the timeout out, as a
			 * camera read would, and say so. */
			if(timeout_ms > 0)
				sleep_until(now + (int64_t)timeout_ms * 1000000);
			return -EAGAIN;
		}
		sleep_until(due);
	}
	/* The picture is a function of the frame counter alone: frame n looks
	 * the same however late its reader was, so the encoder's work (and a
	 * test's bitrate) does not depend on how loaded the machine is. */
	render(p, p->counter);
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	int64_t realtime_ms = (int64_t)rt.tv_sec * 1000 + rt.tv_nsec / 1000000;
	int64_t mono_ns = clock_ns(CLOCK_MONOTONIC);
	cam_stamp_write(p->planes[0], p->strides[0], s->width, s->height,
		p->counter, (uint32_t)realtime_ms);

	memset(frame, 0, sizeof(*frame));
	for(int i = 0; i < 3; i++) {
		frame->planes[i] = p->planes[i];
		frame->strides[i] = p->strides[i];
	}
	frame->width = s->width;
	frame->height = s->height;
	frame->capture_us = mono_ns / 1000;
	frame->realtime_ms = realtime_ms;
	frame->counter = p->counter++;

	/* Next slot: the one after this, or, if we are already past it, the
	 * first one after now (no backlog). */
	p->slot++;
	if(slot_deadline(p, p->slot) <= mono_ns)
		p->slot = (mono_ns - p->t0_ns) * s->fps / NSEC_PER_SEC + 1;
	return 0;
}

static int pattern_set_format(cam_source *s, int width, int height, int fps)
{
	pattern_source *p = (pattern_source *)s;
	if(!valid_format(width, height, fps)) {
		CAM_ERR("pattern: unsupported format %dx%d@%d", width, height, fps);
		return -EINVAL;
	}
	bool was_open = s->is_open;
	pattern_close(s);
	if(width != s->width || height != s->height || !p->pixels) {
		int ret = alloc_buffers(p, width, height);
		if(ret < 0)
			return ret;
	}
	s->width = width;
	s->height = height;
	s->fps = fps;
	return was_open ? pattern_open(s) : 0;
}

static void pattern_destroy(cam_source *s)
{
	pattern_source *p = (pattern_source *)s;
	pattern_close(s);
	free_buffers(p);
	free(p);
}

static const cam_source_ops pattern_ops = {
	.kind = "pattern",
	.open = pattern_open,
	.read = pattern_read,
	.close = pattern_close,
	.set_format = pattern_set_format,
	.destroy = pattern_destroy,
};

cam_source *cam_source_pattern_new(int width, int height, int fps)
{
	if(!valid_format(width, height, fps)) {
		CAM_ERR("pattern: unsupported format %dx%d@%d", width, height, fps);
		return NULL;
	}
	pattern_source *p = calloc(1, sizeof(*p));
	if(!p)
		return NULL;
	p->base.ops = &pattern_ops;
	p->base.device = NULL;
	strcpy(p->base.native_format, "I420");
	if(pattern_set_format(&p->base, width, height, fps) < 0) {
		free(p);
		return NULL;
	}
	return &p->base;
}
