/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Still pictures and their JPEG encoding: see snapshot.h.
 */
#include "snapshot.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

#include "log.h"

/* Keeps every size product below in 32 bits (and libjpeg's 65500 limit). */
#define MAX_SIDE 16384

static bool valid_size(int width, int height)
{
	return width >= 1 && width <= MAX_SIDE && height >= 1 && height <= MAX_SIDE;
}

static int chroma_side(int side)
{
	return (side + 1) / 2;
}

int cam_still_reserve(cam_still *s, int width, int height)
{
	if(!s || !valid_size(width, height))
		return -EINVAL;
	size_t ysize = (size_t)width * height;
	size_t csize = (size_t)chroma_side(width) * chroma_side(height);
	size_t need = ysize + 2 * csize;
	if(need > s->capacity) {
		uint8_t *pixels = malloc(need);
		if(!pixels)
			return -ENOMEM;
		free(s->planes[0]);
		s->planes[0] = pixels;
		s->capacity = need;
	}
	s->width = width;
	s->height = height;
	s->planes[1] = s->planes[0] + ysize;
	s->planes[2] = s->planes[1] + csize;
	s->strides[0] = width;
	s->strides[1] = s->strides[2] = chroma_side(width);
	return 0;
}

static bool valid_frame(const cam_frame *f)
{
	if(!f || !valid_size(f->width, f->height))
		return false;
	for(int i = 0; i < 3; i++) {
		int plane_w = i == 0 ? f->width : chroma_side(f->width);
		if(!f->planes[i] || f->strides[i] < plane_w)
			return false;
	}
	return true;
}

static void copy_plane(uint8_t *dst, int dst_stride, const uint8_t *src, int src_stride, int w, int h)
{
	if(dst_stride == w && src_stride == w) {
		memcpy(dst, src, (size_t)w * h);
		return;
	}
	for(int y = 0; y < h; y++)
		memcpy(dst + (size_t)y * dst_stride, src + (size_t)y * src_stride, w);
}

int cam_still_copy_frame(cam_still *s, const cam_frame *f)
{
	if(!s || !valid_frame(f))
		return -EINVAL;
	/* On failure the old pixels and sizes stay as they were. */
	cam_still tmp = *s;
	int rc = cam_still_reserve(&tmp, f->width, f->height);
	if(rc < 0)
		return rc;
	int cw = chroma_side(f->width), ch = chroma_side(f->height);
	copy_plane(tmp.planes[0], tmp.strides[0], f->planes[0], f->strides[0], f->width, f->height);
	copy_plane(tmp.planes[1], tmp.strides[1], f->planes[1], f->strides[1], cw, ch);
	copy_plane(tmp.planes[2], tmp.strides[2], f->planes[2], f->strides[2], cw, ch);
	tmp.capture_us = f->capture_us;
	tmp.realtime_ms = f->realtime_ms;
	tmp.counter = f->counter;
	*s = tmp;
	return 0;
}

cam_frame cam_still_as_frame(const cam_still *s)
{
	cam_frame f = {
		.planes = {s->planes[0], s->planes[1], s->planes[2]},
		.strides = {s->strides[0], s->strides[1], s->strides[2]},
		.width = s->width, .height = s->height,
		.capture_us = s->capture_us, .realtime_ms = s->realtime_ms, .counter = s->counter,
	};
	return f;
}

int cam_still_copy(cam_still *dst, const cam_still *src)
{
	if(!dst || !src)
		return -EINVAL;
	if(dst == src)
		return 0;
	cam_frame f = cam_still_as_frame(src);
	return cam_still_copy_frame(dst, &f);
}

void cam_still_free(cam_still *s)
{
	if(!s)
		return;
	free(s->planes[0]);
	*s = CAM_STILL_INIT;
}

int cam_snapshot_size(int frame_width, int frame_height, int width, int *out_width, int *out_height)
{
	if(!valid_size(frame_width, frame_height))
		return -EINVAL;
	int w = frame_width, h = frame_height;
	if(width != 0 && width != frame_width) {
		if(width < CAM_SNAPSHOT_MIN_WIDTH || width > frame_width || width % 2 != 0 || frame_height < 2)
			return -EINVAL;
		w = width;
		/* Nearest even height for the frame's aspect ratio, 2..frame_height. */
		h = 2 * (int)(((int64_t)frame_height * width + frame_width) / (2 * (int64_t)frame_width));
		if(h < 2)
			h = 2;
		if(h > frame_height)
			h = frame_height & ~1;
	}
	if(out_width)
		*out_width = w;
	if(out_height)
		*out_height = h;
	return 0;
}

/* One source row scaled to dst_w pixels, in 8.8 fixed point.  In units of
 * 1/dst_w source pixel, source pixel i spans [i * dst_w, (i + 1) * dst_w)
 * and output pixel x spans [x * src_w, (x + 1) * src_w). */
static void scale_row(const uint8_t *src, int src_w, uint16_t *out, int dst_w)
{
	for(int x = 0; x < dst_w; x++) {
		int64_t a = (int64_t)x * src_w, b = a + src_w;
		uint32_t sum = 0;
		for(int64_t i = a / dst_w; i <= (b - 1) / dst_w; i++) {
			int64_t lo = i * dst_w > a ? i * dst_w : a;
			int64_t hi = (i + 1) * dst_w < b ? (i + 1) * dst_w : b;
			sum += src[i] * (uint32_t)(hi - lo);
		}
		out[x] = (uint16_t)(((uint64_t)sum * 256 + (uint32_t)src_w / 2) / (uint32_t)src_w);
	}
}

/* The same along the columns: each output row is the weighted sum of the
 * scaled source rows it covers.  Needs dst_w uint16_t + dst_w uint32_t of
 * scratch. */
static void scale_rows(const uint8_t *src, int src_stride, int src_w, int src_h,
	uint8_t *dst, int dst_stride, int dst_w, int dst_h, uint16_t *row, uint32_t *acc)
{
	uint32_t total = (uint32_t)src_h * 256;
	for(int y = 0; y < dst_h; y++) {
		int64_t a = (int64_t)y * src_h, b = a + src_h;
		memset(acc, 0, (size_t)dst_w * sizeof(*acc));
		for(int64_t i = a / dst_h; i <= (b - 1) / dst_h; i++) {
			int64_t lo = i * dst_h > a ? i * dst_h : a;
			int64_t hi = (i + 1) * dst_h < b ? (i + 1) * dst_h : b;
			uint32_t weight = (uint32_t)(hi - lo);
			scale_row(src + (size_t)i * src_stride, src_w, row, dst_w);
			for(int x = 0; x < dst_w; x++)
				acc[x] += row[x] * weight;
		}
		uint8_t *out = dst + (size_t)y * dst_stride;
		for(int x = 0; x < dst_w; x++)
			out[x] = (uint8_t)((acc[x] + total / 2) / total);
	}
}

void cam_snapshot_scale_plane(const uint8_t *src, int src_stride, int src_w, int src_h,
	uint8_t *dst, int dst_stride, int dst_w, int dst_h)
{
	if(!src || !dst || dst_w <= 0 || dst_h <= 0 || dst_w > src_w || dst_h > src_h ||
			src_w > MAX_SIDE || src_h > MAX_SIDE)
		return;
	uint16_t *row = malloc((size_t)dst_w * sizeof(*row));
	uint32_t *acc = malloc((size_t)dst_w * sizeof(*acc));
	if(row && acc)
		scale_rows(src, src_stride, src_w, src_h, dst, dst_stride, dst_w, dst_h, row, acc);
	free(row);
	free(acc);
}

/* The frame scaled to width x height into a fresh still. */
static int scale_frame(const cam_frame *f, int width, int height, cam_still *out)
{
	int rc = cam_still_reserve(out, width, height);
	if(rc < 0)
		return rc;
	int cw = chroma_side(f->width), ch = chroma_side(f->height);
	/* Scratch for the widest plane, shared by the three. */
	uint16_t *row = malloc((size_t)width * sizeof(*row));
	uint32_t *acc = malloc((size_t)width * sizeof(*acc));
	if(!row || !acc) {
		free(row);
		free(acc);
		return -ENOMEM;
	}
	scale_rows(f->planes[0], f->strides[0], f->width, f->height, out->planes[0], out->strides[0],
		width, height, row, acc);
	for(int i = 1; i < 3; i++)
		scale_rows(f->planes[i], f->strides[i], cw, ch, out->planes[i], out->strides[i],
			chroma_side(width), chroma_side(height), row, acc);
	free(row);
	free(acc);
	out->capture_us = f->capture_us;
	out->realtime_ms = f->realtime_ms;
	out->counter = f->counter;
	return 0;
}

/* Compresses a frame at its own size into a malloc'd buffer. */
static int compress(const cam_frame *f, int quality, cam_jpeg *out)
{
	unsigned long cap = tjBufSize(f->width, f->height, TJSAMP_420);
	if(cap == (unsigned long)-1)
		return -EINVAL;
	unsigned char *buf = malloc(cap);
	tjhandle tj = tjInitCompress();
	if(!buf || !tj) {
		free(buf);
		if(tj)
			tjDestroy(tj);
		else
			CAM_ERR("snapshot: libjpeg-turbo: %s", tjGetErrorStr2(NULL));
		return -ENOMEM;
	}
	const unsigned char *planes[3] = {f->planes[0], f->planes[1], f->planes[2]};
	unsigned long size = cap;
	int rc = 0;
	/* NOREALLOC: the worst-case buffer is ours (malloc), never replaced. */
	if(tjCompressFromYUVPlanes(tj, planes, f->width, f->strides, f->height, TJSAMP_420, &buf, &size,
			quality, TJFLAG_NOREALLOC) < 0) {
		CAM_ERR("snapshot: libjpeg-turbo cannot encode %dx%d: %s", f->width, f->height,
			tjGetErrorStr2(tj));
		free(buf);
		rc = -EIO;
	} else {
		unsigned char *shrunk = realloc(buf, size);
		*out = (cam_jpeg){.data = shrunk ? shrunk : buf, .size = size, .width = f->width,
			.height = f->height};
	}
	tjDestroy(tj);
	return rc;
}

int cam_snapshot_encode(const cam_frame *f, int width, int quality, cam_jpeg *out)
{
	if(!out || !valid_frame(f) || quality < 1 || quality > 100)
		return -EINVAL;
	int w, h;
	int rc = cam_snapshot_size(f->width, f->height, width, &w, &h);
	if(rc < 0)
		return rc;
	if(w == f->width && h == f->height)
		return compress(f, quality, out);
	cam_still scaled = CAM_STILL_INIT;
	rc = scale_frame(f, w, h, &scaled);
	if(rc == 0) {
		cam_frame sf = cam_still_as_frame(&scaled);
		rc = compress(&sf, quality, out);
	}
	cam_still_free(&scaled);
	return rc;
}

void cam_jpeg_free(cam_jpeg *j)
{
	if(!j)
		return;
	free(j->data);
	*j = (cam_jpeg){0};
}
