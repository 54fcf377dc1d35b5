/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Snapshots: the pattern's frames encoded to JPEG (at full size and scaled
 * down), decoded back with libjpeg-turbo, checked for size, picture and
 * stamp (counter and capture time read from the decoded luma); the box
 * filter on known planes; stills (copies of frames); bad arguments.
 */
#include "snapshot.h"
#include "source.h"
#include "stamp.h"
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

/* A decoded JPEG: its size, subsampling and luma plane. */
typedef struct decoded {
	int width, height, subsamp;
	uint8_t *planes[3];
} decoded;

static bool decode(const cam_jpeg *j, decoded *d)
{
	*d = (decoded){0};
	tjhandle tj = tjInitDecompress();
	if(!tj)
		return false;
	int colorspace;
	bool ok = tjDecompressHeader3(tj, j->data, j->size, &d->width, &d->height, &d->subsamp, &colorspace) == 0;
	if(ok) {
		size_t ysize = (size_t)d->width * d->height;
		size_t csize = (size_t)((d->width + 1) / 2) * ((d->height + 1) / 2);
		d->planes[0] = malloc(ysize);
		d->planes[1] = malloc(csize);
		d->planes[2] = malloc(csize);
		ok = d->planes[0] && d->planes[1] && d->planes[2] &&
			tjDecompressToYUVPlanes(tj, j->data, j->size, d->planes, d->width, NULL, d->height, 0) == 0;
		if(!ok)
			fprintf(stderr, "# decode: %s\n", tjGetErrorStr2(tj));
	}
	tjDestroy(tj);
	return ok;
}

static void decoded_free(decoded *d)
{
	for(int i = 0; i < 3; i++)
		free(d->planes[i]);
}

static double mean(const uint8_t *p, int stride, int w, int h)
{
	double sum = 0;
	for(int y = 0; y < h; y++)
		for(int x = 0; x < w; x++)
			sum += p[(size_t)y * stride + x];
	return sum / ((double)w * h);
}

/* A pattern source at this size, opened, and its n-th frame. */
static cam_source *pattern_frame(int width, int height, int n, cam_frame *f)
{
	cam_source *s = cam_source_pattern_new(width, height, 120);
	CHECK(s != NULL);
	if(!s)
		return NULL;
	CHECK_EQ_INT(cam_source_open(s), 0);
	for(int i = 0; i <= n; i++)
		CHECK_EQ_INT(cam_source_read(s, f, 1000), 0);
	return s;
}

/* Encodes the frame at this width, decodes it, and checks the size, the
 * subsampling, the stamp (when the width is a multiple of 40, so that the
 * stamp's blocks scale to whole blocks) and the mean luma. */
static void check_round_trip(const cam_frame *f, int width, int want_w, int want_h, bool stamp)
{
	cam_jpeg j = {0};
	CHECK_EQ_INT(cam_snapshot_encode(f, width, 90, &j), 0);
	CHECK(j.data != NULL && j.size > 100);
	CHECK_EQ_INT(j.width, want_w);
	CHECK_EQ_INT(j.height, want_h);
	decoded d;
	CHECK(decode(&j, &d));
	CHECK_EQ_INT(d.width, want_w);
	CHECK_EQ_INT(d.height, want_h);
	CHECK_EQ_INT(d.subsamp, TJSAMP_420);
	if(d.planes[0] && stamp) {
		uint32_t counter = 0, t = 0;
		CHECK(cam_stamp_read(d.planes[0], d.width, d.width, d.height, &counter, &t));
		CHECK_EQ_INT(counter, f->counter);
		CHECK_EQ_INT(t, (uint32_t)f->realtime_ms);
	}
	if(d.planes[0]) {
		/* Averaging keeps the mean; JPEG at q90 nearly so. */
		double m0 = mean(f->planes[0], f->strides[0], f->width, f->height);
		double m1 = mean(d.planes[0], d.width, d.width, d.height);
		printf("# %dx%d -> %dx%d: %zu bytes, mean luma %.2f -> %.2f\n", f->width, f->height, d.width,
			d.height, j.size, m0, m1);
		CHECK(m1 > m0 - 2.0 && m1 < m0 + 2.0);
	}
	decoded_free(&d);
	cam_jpeg_free(&j);
	CHECK(j.data == NULL && j.size == 0);
}

static void test_full_size(void)
{
	cam_frame f;
	cam_source *s = pattern_frame(640, 480, 5, &f);
	CHECK_EQ_INT(f.counter, 5);
	check_round_trip(&f, 0, 640, 480, true);
	check_round_trip(&f, 640, 640, 480, true);   /* the frame's own width: not scaled */
	cam_source_free(s);
}

static void test_scaled(void)
{
	cam_frame f;
	cam_source *s = pattern_frame(640, 480, 7, &f);
	check_round_trip(&f, 320, 320, 240, true);
	/* 3.2 : 1, so pixels are split between outputs; 200 = 40 blocks of 5. */
	check_round_trip(&f, 200, 200, 150, true);
	/* 2.56 : 1, and the height rounds (187.5 -> 188); too few pixels per
	 * block for the stamp at this width. */
	check_round_trip(&f, 250, 250, 188, false);
	check_round_trip(&f, 16, 16, 12, false);
	cam_source_free(s);
	s = pattern_frame(1280, 720, 3, &f);
	check_round_trip(&f, 640, 640, 360, true);
	check_round_trip(&f, 400, 400, 226, true);   /* 225 -> nearest even */
	cam_source_free(s);
}

static void test_quality(void)
{
	cam_frame f;
	cam_source *s = pattern_frame(640, 480, 2, &f);
	cam_jpeg lo = {0}, hi = {0};
	CHECK_EQ_INT(cam_snapshot_encode(&f, 0, 20, &lo), 0);
	CHECK_EQ_INT(cam_snapshot_encode(&f, 0, 95, &hi), 0);
	printf("# 640x480 at quality 20: %zu bytes, at 95: %zu bytes\n", lo.size, hi.size);
	CHECK(lo.size * 2 < hi.size);
	/* Quality 1 and 100 are allowed. */
	cam_jpeg_free(&lo);
	cam_jpeg_free(&hi);
	CHECK_EQ_INT(cam_snapshot_encode(&f, 0, 1, &lo), 0);
	CHECK_EQ_INT(cam_snapshot_encode(&f, 0, 100, &hi), 0);
	cam_jpeg_free(&lo);
	cam_jpeg_free(&hi);
	cam_source_free(s);
}

static void test_sizes(void)
{
	static const struct { int fw, fh, w, rc, ow, oh; } cases[] = {
		{640, 480, 0, 0, 640, 480},
		{640, 480, 640, 0, 640, 480},
		{640, 480, 320, 0, 320, 240},
		{640, 480, 250, 0, 250, 188},
		{640, 360, 100, 0, 100, 56},
		{1280, 720, 16, 0, 16, 10},      /* 9 -> nearest even */
		{4096, 64, 16, 0, 16, 2},        /* at least 2 */
		{640, 480, 14, -EINVAL, 0, 0},   /* below 16 */
		{640, 480, 15, -EINVAL, 0, 0},
		{640, 480, 17, -EINVAL, 0, 0},   /* odd */
		{640, 480, 642, -EINVAL, 0, 0},  /* wider than the frame */
		{640, 480, -2, -EINVAL, 0, 0},
		{0, 480, 0, -EINVAL, 0, 0},
		{640, 0, 0, -EINVAL, 0, 0},
		{20000, 480, 0, -EINVAL, 0, 0},
	};
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int w = -1, h = -1;
		CHECK_EQ_INT(cam_snapshot_size(cases[i].fw, cases[i].fh, cases[i].w, &w, &h), cases[i].rc);
		if(cases[i].rc == 0) {
			CHECK_EQ_INT(w, cases[i].ow);
			CHECK_EQ_INT(h, cases[i].oh);
		} else {
			CHECK(w == -1 && h == -1);   /* untouched */
		}
	}
}

/* The box filter on planes whose averages are known. */
static void test_scale_plane(void)
{
	/* 3 -> 2 along a row: output 0 is pixel 0 plus half of pixel 1, output
	 * 1 the other half plus pixel 2. */
	uint8_t row[3] = {0, 90, 180}, out[2] = {0};
	cam_snapshot_scale_plane(row, 3, 3, 1, out, 2, 2, 1);
	CHECK_EQ_INT(out[0], 30);
	CHECK_EQ_INT(out[1], 150);
	/* 4x4 -> 2x2: the mean of each 2x2 block (with rounding). */
	uint8_t sq[16] = {
		10, 20, 100, 100,
		30, 40, 100, 101,
		0, 0, 255, 255,
		0, 1, 255, 255,
	};
	uint8_t q[4] = {0};
	cam_snapshot_scale_plane(sq, 4, 4, 4, q, 2, 2, 2);
	CHECK_EQ_INT(q[0], 25);
	CHECK_EQ_INT(q[1], 100);    /* 100.25 */
	CHECK_EQ_INT(q[2], 0);      /* 0.25 */
	CHECK_EQ_INT(q[3], 255);
	/* The same size: a copy, with strides. */
	uint8_t src[2 * 5], dst[2 * 4];
	for(int i = 0; i < 10; i++)
		src[i] = (uint8_t)(i * 25);
	cam_snapshot_scale_plane(src, 5, 4, 2, dst, 4, 4, 2);
	for(int y = 0; y < 2; y++)
		for(int x = 0; x < 4; x++)
			CHECK_EQ_INT(dst[y * 4 + x], src[y * 5 + x]);
	/* A flat 641x479 plane stays flat at any smaller size. */
	uint8_t *flat = malloc(641 * 479), *small = malloc(233 * 101);
	memset(flat, 77, 641 * 479);
	cam_snapshot_scale_plane(flat, 641, 641, 479, small, 233, 233, 101);
	int off = 0;
	for(int i = 0; i < 233 * 101; i++)
		off += small[i] != 77;
	CHECK_EQ_INT(off, 0);
	free(flat);
	free(small);
}

static void test_still(void)
{
	cam_frame f;
	cam_source *s = pattern_frame(320, 240, 4, &f);
	/* A frame with padded rows: the still is tightly packed. */
	int strides[3] = {320 + 64, 160 + 32, 160 + 32};
	uint8_t *padded[3];
	for(int i = 0; i < 3; i++) {
		int w = i ? 160 : 320, h = i ? 120 : 240;
		padded[i] = malloc((size_t)strides[i] * h);
		memset(padded[i], 0xee, (size_t)strides[i] * h);
		for(int y = 0; y < h; y++)
			memcpy(padded[i] + (size_t)y * strides[i], f.planes[i] + (size_t)y * f.strides[i], w);
	}
	cam_frame pf = f;
	for(int i = 0; i < 3; i++) {
		pf.planes[i] = padded[i];
		pf.strides[i] = strides[i];
	}
	cam_still st = CAM_STILL_INIT;
	CHECK_EQ_INT(cam_still_copy_frame(&st, &pf), 0);
	CHECK_EQ_INT(st.width, 320);
	CHECK_EQ_INT(st.height, 240);
	CHECK_EQ_INT(st.counter, 4);
	CHECK_EQ_INT(st.realtime_ms, f.realtime_ms);
	CHECK_EQ_INT(st.capture_us, f.capture_us);
	CHECK_EQ_INT(st.strides[0], 320);
	CHECK_EQ_INT(st.strides[1], 160);
	CHECK_EQ_INT(st.capacity, 320 * 240 * 3 / 2);
	for(int i = 0; i < 3; i++) {
		int w = i ? 160 : 320, h = i ? 120 : 240, diff = 0;
		for(int y = 0; y < h; y++)
			diff += memcmp(st.planes[i] + (size_t)y * st.strides[i], f.planes[i] + (size_t)y * f.strides[i], w) != 0;
		CHECK_EQ_INT(diff, 0);
	}
	/* The still encodes to the very same JPEG as the frame. */
	cam_jpeg a = {0}, b = {0};
	cam_frame view = cam_still_as_frame(&st);
	CHECK_EQ_INT(cam_snapshot_encode(&f, 160, 80, &a), 0);
	CHECK_EQ_INT(cam_snapshot_encode(&view, 160, 80, &b), 0);
	CHECK(a.size == b.size && a.size > 0 && memcmp(a.data, b.data, a.size) == 0);
	cam_jpeg_free(&a);
	cam_jpeg_free(&b);
	/* A copy of the still; a smaller frame reuses the buffer. */
	cam_still copy = CAM_STILL_INIT;
	CHECK_EQ_INT(cam_still_copy(&copy, &st), 0);
	CHECK_EQ_INT(copy.counter, 4);
	CHECK(memcmp(copy.planes[0], st.planes[0], 320 * 240) == 0);
	CHECK(copy.planes[0] != st.planes[0]);
	uint8_t *buf = copy.planes[0];
	CHECK_EQ_INT(cam_still_reserve(&copy, 160, 120), 0);
	CHECK(copy.planes[0] == buf);
	CHECK_EQ_INT(copy.width, 160);
	CHECK_EQ_INT(copy.strides[2], 80);
	CHECK(copy.planes[2] == buf + 160 * 120 + 80 * 60);
	/* Bad sizes and frames leave the still as it was. */
	CHECK_EQ_INT(cam_still_reserve(&copy, 0, 120), -EINVAL);
	CHECK_EQ_INT(cam_still_reserve(&copy, 160, 20000), -EINVAL);
	cam_frame bad = f;
	bad.planes[1] = NULL;
	CHECK_EQ_INT(cam_still_copy_frame(&copy, &bad), -EINVAL);
	bad = f;
	bad.strides[0] = 100;
	CHECK_EQ_INT(cam_still_copy_frame(&copy, &bad), -EINVAL);
	CHECK_EQ_INT(cam_still_copy_frame(&copy, NULL), -EINVAL);
	CHECK_EQ_INT(cam_still_copy_frame(NULL, &f), -EINVAL);
	CHECK(copy.planes[0] == buf && copy.width == 160);
	cam_still_free(&copy);
	CHECK(copy.planes[0] == NULL && copy.capacity == 0 && copy.width == 0);
	cam_still_free(&copy);       /* twice: harmless */
	cam_still_free(NULL);
	cam_still_free(&st);
	for(int i = 0; i < 3; i++)
		free(padded[i]);
	cam_source_free(s);
}

static void test_bad_args(void)
{
	cam_frame f;
	cam_source *s = pattern_frame(320, 240, 0, &f);
	cam_jpeg j = {0};
	CHECK_EQ_INT(cam_snapshot_encode(NULL, 0, 85, &j), -EINVAL);
	CHECK_EQ_INT(cam_snapshot_encode(&f, 0, 85, NULL), -EINVAL);
	CHECK_EQ_INT(cam_snapshot_encode(&f, 0, 0, &j), -EINVAL);
	CHECK_EQ_INT(cam_snapshot_encode(&f, 0, 101, &j), -EINVAL);
	CHECK_EQ_INT(cam_snapshot_encode(&f, 15, 85, &j), -EINVAL);
	CHECK_EQ_INT(cam_snapshot_encode(&f, 161, 85, &j), -EINVAL);
	CHECK_EQ_INT(cam_snapshot_encode(&f, 322, 85, &j), -EINVAL);
	CHECK_EQ_INT(cam_snapshot_encode(&f, -2, 85, &j), -EINVAL);
	cam_frame bad = f;
	bad.planes[2] = NULL;
	CHECK_EQ_INT(cam_snapshot_encode(&bad, 0, 85, &j), -EINVAL);
	bad = f;
	bad.strides[1] = 80;    /* narrower than a chroma row */
	CHECK_EQ_INT(cam_snapshot_encode(&bad, 0, 85, &j), -EINVAL);
	bad = f;
	bad.width = 0;
	CHECK_EQ_INT(cam_snapshot_encode(&bad, 0, 85, &j), -EINVAL);
	CHECK(j.data == NULL && j.size == 0);    /* never set on failure */
	cam_jpeg_free(&j);
	cam_jpeg_free(NULL);
	cam_source_free(s);
}

int main(void)
{
	RUN(test_full_size);
	RUN(test_scaled);
	RUN(test_quality);
	RUN(test_sizes);
	RUN(test_scale_plane);
	RUN(test_still);
	RUN(test_bad_args);
	return check_exit();
}
