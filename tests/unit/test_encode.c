/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * stamp + pattern source + encoder, checked end to end through libvpx's own
 * VP8 decoder: key frames where they belong, and the stamp read back from
 * the decoded pixels of every frame.  Also prints the measured costs
 * (render and encode time per frame) as "#" lines.
 */
#include "encoder.h"
#include "source.h"
#include "stamp.h"
#include "log.h"
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- stamp ---- */

static void test_stamp_round_trip(void)
{
	static const int widths[] = {80, 120, 320, 352, 640, 642, 1000, 1280, 1920, 4096};
	for(size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		int w = widths[i], b = w / 40, h = 2 * b + 6, stride = w + 32;
		CHECK_EQ_INT(cam_stamp_height(w), 2 * b);
		uint8_t *luma = malloc((size_t)stride * h);
		for(int k = 0; k < 20; k++) {
			/* A noisy background: only the written blocks may matter. */
			for(size_t j = 0; j < (size_t)stride * h; j++)
				luma[j] = (uint8_t)rnd();
			uint32_t counter = k == 0 ? 0 : (k == 1 ? 0xffffffffu : rnd());
			uint32_t t = k == 2 ? 0 : rnd();
			cam_stamp_write(luma, stride, w, h, counter, t);
			uint32_t c2 = 1, t2 = 1;
			CHECK(cam_stamp_read(luma, stride, w, h, &c2, &t2));
			CHECK_EQ_INT(c2, counter);
			CHECK_EQ_INT(t2, t);
			/* Exactly black and white, and only the blocks are touched. */
			CHECK(luma[0] == CAM_STAMP_BLACK || luma[0] == CAM_STAMP_WHITE);
			/* Flip one block (any of the 80): the check byte catches it. */
			int blk = (int)(rnd() % 80), row = blk / 40, col = blk % 40;
			uint8_t *p = luma + (size_t)(row * b + b / 2) * stride + col * b + b / 2;
			uint8_t flipped = *p < 128 ? CAM_STAMP_WHITE : CAM_STAMP_BLACK;
			for(int y = 0; y < b; y++)
				memset(luma + (size_t)(row * b + y) * stride + col * b, flipped, b);
			CHECK(!cam_stamp_read(luma, stride, w, h, &c2, &t2));
		}
		/* Too short a picture: nothing written, nothing read. */
		CHECK(!cam_stamp_read(luma, stride, w, 2 * b - 1, NULL, NULL));
		free(luma);
	}
	CHECK_EQ_INT(cam_stamp_height(79), 0);
	uint8_t grey[640 * 32];
	uint32_t c = 0, t = 0;
	memset(grey, 16, sizeof(grey));
	/* All black is counter 0, check 0: valid by construction (0 ^ 0 = 0). */
	CHECK(cam_stamp_read(grey, 640, 640, 32, &c, &t) && c == 0 && t == 0);
	memset(grey, 235, sizeof(grey));
	/* All white: counter 0xffffffff has check 0x00, not 0xff. */
	CHECK(!cam_stamp_read(grey, 640, 640, 32, &c, &t));
}

/* ---- pattern source ---- */

static void test_pattern_raw(void)
{
	CHECK(cam_source_pattern_new(79, 480, 30) == NULL);
	CHECK(cam_source_pattern_new(641, 480, 30) == NULL);
	CHECK(cam_source_pattern_new(640, 480, 0) == NULL);
	CHECK(cam_source_pattern_new(640, 480, 121) == NULL);
	CHECK(cam_source_pattern_new(640, 62, 30) == NULL);

	cam_source *s = cam_source_pattern_new(640, 480, 120);
	CHECK(s != NULL);
	if(!s)
		return;
	CHECK(strcmp(s->ops->kind, "pattern") == 0);
	CHECK(strcmp(s->native_format, "I420") == 0);
	CHECK(s->device == NULL);
	CHECK(!s->is_open);
	cam_frame f;
	CHECK_EQ_INT(cam_source_read(s, &f, 100), -EBADF);
	CHECK_EQ_INT(cam_source_open(s), 0);
	uint8_t *prev = malloc(640 * 480);
	for(int i = 0; i < 10; i++) {
		struct timespec rt;
		clock_gettime(CLOCK_REALTIME, &rt);
		int64_t before = (int64_t)rt.tv_sec * 1000 + rt.tv_nsec / 1000000;
		CHECK_EQ_INT(cam_source_read(s, &f, 1000), 0);
		clock_gettime(CLOCK_REALTIME, &rt);
		int64_t after = (int64_t)rt.tv_sec * 1000 + rt.tv_nsec / 1000000;
		CHECK_EQ_INT(f.counter, i);
		CHECK(f.width == 640 && f.height == 480);
		CHECK(f.realtime_ms >= before && f.realtime_ms <= after);
		uint32_t c, t;
		CHECK(cam_stamp_read(f.planes[0], f.strides[0], f.width, f.height, &c, &t));
		CHECK_EQ_INT(c, i);
		CHECK_EQ_INT(t, (uint32_t)f.realtime_ms);
		/* Neutral chroma under the stamp (luma rows 0..31 = chroma 0..15). */
		bool neutral = true;
		for(int y = 0; y < 16; y++)
			for(int x = 0; x < 320; x++)
				if(f.planes[1][y * f.strides[1] + x] != 128 || f.planes[2][y * f.strides[2] + x] != 128)
					neutral = false;
		CHECK(neutral);
		/* It moves: below the stamp, consecutive pictures differ. */
		if(i > 0)
			CHECK(memcmp(prev + 32 * 640, f.planes[0] + 32 * f.strides[0], 640 * 448) != 0);
		for(int y = 0; y < 480; y++)
			memcpy(prev + y * 640, f.planes[0] + y * f.strides[0], 640);
	}
	free(prev);

	/* set_format: refuses nonsense, restarts an open source at a new size. */
	CHECK_EQ_INT(cam_source_set_format(s, 321, 240, 30), -EINVAL);
	CHECK_EQ_INT(s->width, 640);
	CHECK_EQ_INT(cam_source_set_format(s, 320, 240, 60), 0);
	CHECK(s->is_open);
	CHECK(s->width == 320 && s->height == 240 && s->fps == 60);
	CHECK_EQ_INT(cam_source_read(s, &f, 1000), 0);
	CHECK(f.width == 320 && f.height == 240 && f.counter == 0);
	uint32_t c, t;
	CHECK(cam_stamp_read(f.planes[0], f.strides[0], f.width, f.height, &c, &t) && c == 0);
	/* Width not a multiple of 40 (B = 8, 2 spare columns). */
	CHECK_EQ_INT(cam_source_set_format(s, 322, 242, 60), 0);
	CHECK_EQ_INT(cam_source_read(s, &f, 1000), 0);
	CHECK(cam_stamp_read(f.planes[0], f.strides[0], f.width, f.height, &c, &t) && c == 0);
	/* Wide and flat: the stamp (2 x 102 rows) would not fit, so the pattern
	 * refuses the size and keeps the one it had. */
	CHECK_EQ_INT(cam_source_set_format(s, 4096, 64, 60), -EINVAL);
	CHECK(s->width == 322 && s->height == 242);
	CHECK_EQ_INT(cam_source_read(s, &f, 1000), 0);
	CHECK(f.width == 322 && cam_stamp_read(f.planes[0], f.strides[0], f.width, f.height, &c, &t));
	cam_source_close(s);
	cam_source_close(s);
	CHECK(!s->is_open);
	cam_source_free(s);
	cam_source_free(NULL);
}

static void test_pattern_pacing(void)
{
	cam_source *s = cam_source_pattern_new(640, 480, 30);
	CHECK(s != NULL);
	if(!s)
		return;
	CHECK_EQ_INT(cam_source_open(s), 0);
	cam_frame f;
	CHECK_EQ_INT(cam_source_read(s, &f, 0), 0);   /* frame 0 is due at open */
	/* The next is 33 ms away: a poll and a short wait both say EAGAIN. */
	CHECK_EQ_INT(cam_source_read(s, &f, 0), -EAGAIN);
	int64_t t0 = now_ns();
	CHECK_EQ_INT(cam_source_read(s, &f, 5), -EAGAIN);
	int64_t waited = now_ns() - t0;
	CHECK(waited >= 4000000 && waited < 30000000);

	/* About one second of frames at 30 fps. */
	t0 = now_ns();
	int frames = 0, eagain = 0;
	while(now_ns() - t0 < 1000000000LL) {
		int r = cam_source_read(s, &f, 100);
		if(r == 0)
			frames++;
		else if(r == -EAGAIN)
			eagain++;
		else
			break;
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	printf("# pacing: %d frames in %.3f s (%.2f fps) at 30 fps\n", frames, secs, frames / secs);
	CHECK(frames >= 27 && frames <= 32);
	CHECK_EQ_INT(eagain, 0);

	/* A late caller gets one frame at once and no backlog afterwards. */
	sleep_ms(200);
	t0 = now_ns();
	CHECK_EQ_INT(cam_source_read(s, &f, 100), 0);
	int64_t first = now_ns() - t0;
	CHECK_EQ_INT(cam_source_read(s, &f, 100), 0);
	CHECK_EQ_INT(cam_source_read(s, &f, 100), 0);
	int64_t three = now_ns() - t0;
	CHECK(first < 5000000);
	/* Two more frames need at least one full period and most of another. */
	CHECK(three > 40000000);
	/* The counter counts delivered frames: no gaps for skipped slots. */
	CHECK_EQ_INT(f.counter, (uint32_t)frames + 3);
	cam_source_free(s);
}

/* ---- encoder, through the decoder ---- */

typedef struct decode_ctx {
	vpx_codec_ctx_t dec;
	int width, height;
	int stamp_fail;
} decode_ctx;

static int decoder_init(decode_ctx *d)
{
	memset(d, 0, sizeof(*d));
	return vpx_codec_dec_init(&d->dec, vpx_codec_vp8_dx(), NULL, 0) == VPX_CODEC_OK ? 0 : -1;
}

/* Decodes one frame and checks its stamp against what the source wrote. */
static void decode_check(decode_ctx *d, const cam_encoded_frame *e, const cam_frame *f)
{
	CHECK(e->size > 0);
	if(e->size == 0)
		return;
	/* The encoder's key-frame flag agrees with the bitstream (P bit). */
	CHECK_EQ_INT(e->keyframe, (e->data[0] & 1) == 0);
	CHECK_EQ_INT(vpx_codec_decode(&d->dec, e->data, (unsigned int)e->size, NULL, 0), VPX_CODEC_OK);
	vpx_codec_iter_t iter = NULL;
	vpx_image_t *img = vpx_codec_get_frame(&d->dec, &iter);
	CHECK(img != NULL);
	if(!img)
		return;
	d->width = (int)img->d_w;
	d->height = (int)img->d_h;
	CHECK_EQ_INT(img->d_w, f->width);
	CHECK_EQ_INT(img->d_h, f->height);
	uint32_t c = 0, t = 0;
	bool ok = cam_stamp_read(img->planes[0], img->stride[0], (int)img->d_w, (int)img->d_h, &c, &t);
	if(!ok || c != f->counter || t != (uint32_t)f->realtime_ms) {
		if(d->stamp_fail++ < 5)
			fprintf(stderr, "stamp mismatch at %dx%d: read %d %u/%u, wrote %u/%u\n",
				f->width, f->height, ok, c, t, f->counter, (uint32_t)f->realtime_ms);
	}
	CHECK(vpx_codec_get_frame(&d->dec, &iter) == NULL);
}

static cam_encoder_config base_config(int w, int h)
{
	cam_encoder_config cfg = {
		.width = w, .height = h, .fps = 30,
		.bitrate = 1000000, .keyframe_interval = 0,
	};
	return cfg;
}

/* Reads the next pattern frame and gives it an exact 30 fps capture time,
 * so the test runs at the source's (faster) pace while the rate control
 * sees the 30 fps it is configured for. */
static int next_frame(cam_source *s, cam_frame *f, int64_t n, int fps)
{
	int r = cam_source_read(s, f, 1000);
	if(r == 0)
		f->capture_us = 1000000 + n * 1000000 / fps;
	return r;
}

static void encode_and_check(int w, int h, int bitrate, int nframes)
{
	cam_source *s = cam_source_pattern_new(w, h, 120);
	cam_encoder_config cfg = base_config(w, h);
	cfg.bitrate = bitrate;
	char err[128];
	cam_encoder *enc = cam_encoder_new(&cfg, err, sizeof(err));
	CHECK(s && enc);
	if(!s || !enc) {
		cam_source_free(s);
		cam_encoder_free(enc);
		return;
	}
	CHECK_EQ_INT(cam_source_open(s), 0);
	decode_ctx d;
	CHECK_EQ_INT(decoder_init(&d), 0);
	int keys = 0, bad_keys = 0;
	size_t total = 0;
	for(int i = 0; i < nframes; i++) {
		cam_frame f;
		CHECK_EQ_INT(next_frame(s, &f, i, 30), 0);
		bool force = (i == 20 || i == 21 || i == 47);
		cam_encoded_frame e;
		CHECK_EQ_INT(cam_encoder_encode(enc, &f, force, &e), 0);
		CHECK(e.capture_us == f.capture_us && e.realtime_ms == f.realtime_ms);
		bool want_key = i == 0 || force;
		if(e.keyframe != want_key && bad_keys++ < 5)
			fprintf(stderr, "frame %d: keyframe %d, expected %d\n", i, e.keyframe, want_key);
		keys += e.keyframe;
		total += e.size;
		decode_check(&d, &e, &f);
	}
	printf("# %dx%d at %d bit/s: %d frames, %d key, %.1f kbit/s, stamp failures %d\n",
		w, h, bitrate, nframes, keys, total * 8.0 * 30 / nframes / 1000, d.stamp_fail);
	CHECK_EQ_INT(bad_keys, 0);
	CHECK_EQ_INT(keys, 4);
	CHECK_EQ_INT(d.stamp_fail, 0);
	vpx_codec_destroy(&d.dec);
	cam_encoder_free(enc);
	cam_source_free(s);
}

static void test_encode_640x480(void)
{
	encode_and_check(640, 480, 1000000, 90);
}

static void test_encode_320x240(void)
{
	encode_and_check(320, 240, 1000000, 60);
}

static void test_encode_1280x720(void)
{
	encode_and_check(1280, 720, 1000000, 60);
}

/* The stamp must also survive a starved encoder. */
static void test_encode_low_bitrate(void)
{
	encode_and_check(640, 480, 150000, 60);
}

static void test_periodic_keyframes(void)
{
	cam_source *s = cam_source_pattern_new(320, 240, 120);
	cam_encoder_config cfg = base_config(320, 240);
	cfg.fps = 10;
	cfg.keyframe_interval = 1;    /* every 10 frames */
	cam_encoder *enc = cam_encoder_new(&cfg, NULL, 0);
	CHECK(s && enc);
	if(!s || !enc) {
		cam_source_free(s);
		cam_encoder_free(enc);
		return;
	}
	cam_source_open(s);
	decode_ctx d;
	decoder_init(&d);
	char pattern[64] = "";
	int last_key = -1, max_gap = 0, keys = 0;
	for(int i = 0; i < 50; i++) {
		cam_frame f;
		CHECK_EQ_INT(next_frame(s, &f, i, 10), 0);
		cam_encoded_frame e;
		CHECK_EQ_INT(cam_encoder_encode(enc, &f, i == 25, &e), 0);
		decode_check(&d, &e, &f);
		pattern[i] = e.keyframe ? 'K' : '.';
		if(e.keyframe) {
			keys++;
			if(last_key >= 0 && i - last_key > max_gap)
				max_gap = i - last_key;
			last_key = i;
		}
	}
	printf("# periodic (10 frames) + forced at 25: %s\n", pattern);
	CHECK(strcmp(pattern, "K.........K.........K....K.........K.........K....") == 0);
	CHECK(max_gap <= 10);
	CHECK(50 - 1 - last_key < 10);
	CHECK_EQ_INT(keys, 6);
	CHECK_EQ_INT(d.stamp_fail, 0);

	/* Interval 0 again (live): no more periodic key frames. */
	cfg.keyframe_interval = 0;
	CHECK_EQ_INT(cam_encoder_reconfigure(enc, &cfg), 0);
	keys = 0;
	for(int i = 50; i < 80; i++) {
		cam_frame f;
		next_frame(s, &f, i, 10);
		cam_encoded_frame e;
		CHECK_EQ_INT(cam_encoder_encode(enc, &f, false, &e), 0);
		decode_check(&d, &e, &f);
		keys += e.keyframe;
	}
	CHECK_EQ_INT(keys, 0);

	/* And back to periodic, every 2 s, live: libvpx alone would not honour
	 * this (see encoder.c), the encoder must. */
	cfg.keyframe_interval = 2;
	CHECK_EQ_INT(cam_encoder_reconfigure(enc, &cfg), 0);
	memset(pattern, 0, sizeof(pattern));
	for(int i = 80; i < 130; i++) {
		cam_frame f;
		next_frame(s, &f, i, 10);
		cam_encoded_frame e;
		CHECK_EQ_INT(cam_encoder_encode(enc, &f, false, &e), 0);
		decode_check(&d, &e, &f);
		pattern[i - 80] = e.keyframe ? 'K' : '.';
	}
	printf("# interval 0 -> 2 s live: %s\n", pattern);
	CHECK(strcmp(pattern, "K...................K...................K.........") == 0);
	CHECK_EQ_INT(d.stamp_fail, 0);
	vpx_codec_destroy(&d.dec);
	cam_encoder_free(enc);
	cam_source_free(s);
}

static void test_reconfigure(void)
{
	cam_source *s = cam_source_pattern_new(640, 480, 120);
	cam_encoder_config cfg = base_config(640, 480);
	cfg.bitrate = 2000000;
	cam_encoder *enc = cam_encoder_new(&cfg, NULL, 0);
	CHECK(s && enc);
	if(!s || !enc) {
		cam_source_free(s);
		cam_encoder_free(enc);
		return;
	}
	cam_source_open(s);
	decode_ctx d;
	decoder_init(&d);
	int64_t n = 0;
	size_t sums[2] = {0, 0};
	int keys = 0;
	for(int phase = 0; phase < 2; phase++) {
		if(phase == 1) {
			cfg.bitrate = 300000;
			CHECK_EQ_INT(cam_encoder_reconfigure(enc, &cfg), 0);
			CHECK_EQ_INT(cam_encoder_get_config(enc)->bitrate, 300000);
		}
		for(int i = 0; i < 60; i++, n++) {
			cam_frame f;
			next_frame(s, &f, n, 30);
			cam_encoded_frame e;
			CHECK_EQ_INT(cam_encoder_encode(enc, &f, false, &e), 0);
			decode_check(&d, &e, &f);
			if(n > 0)
				keys += e.keyframe;
			if(i >= 30)
				sums[phase] += e.size;
		}
	}
	printf("# bitrate 2 Mbit/s -> 300 kbit/s: %.1f -> %.1f kbit/s (last second of each)\n",
		sums[0] * 8.0 / 1000, sums[1] * 8.0 / 1000);
	CHECK(sums[1] * 3 < sums[0]);
	CHECK(sums[0] * 8 > 1200000 && sums[0] * 8 < 2600000);
	CHECK(sums[1] * 8 > 100000 && sums[1] * 8 < 450000);
	CHECK_EQ_INT(keys, 0);            /* a rate change needs no key frame */

	/* Bad values are refused and change nothing. */
	cam_encoder_config bad = cfg;
	bad.bitrate = -5;
	CHECK_EQ_INT(cam_encoder_reconfigure(enc, &bad), -EINVAL);
	bad = cfg;
	bad.fps = 0;
	CHECK_EQ_INT(cam_encoder_reconfigure(enc, &bad), -EINVAL);
	CHECK_EQ_INT(cam_encoder_get_config(enc)->fps, 30);

	/* A frame of the wrong size is refused. */
	CHECK_EQ_INT(cam_source_set_format(s, 320, 240, 120), 0);
	cam_frame f;
	cam_encoded_frame e;
	next_frame(s, &f, n++, 30);
	CHECK_EQ_INT(cam_encoder_encode(enc, &f, false, &e), -EINVAL);

	/* A size change: re-initialised, the next frame is a key frame at the
	 * new size, and the decoder follows. */
	cfg.width = 320;
	cfg.height = 240;
	cfg.bitrate = 1000000;
	CHECK_EQ_INT(cam_encoder_reconfigure(enc, &cfg), 0);
	for(int i = 0; i < 10; i++, n++) {
		next_frame(s, &f, n, 30);
		CHECK_EQ_INT(cam_encoder_encode(enc, &f, false, &e), 0);
		CHECK_EQ_INT(e.keyframe, i == 0);
		decode_check(&d, &e, &f);
		CHECK(d.width == 320 && d.height == 240);
	}
	/* Fps and key-frame interval change live too. */
	cfg.fps = 15;
	cfg.keyframe_interval = 2;
	CHECK_EQ_INT(cam_encoder_reconfigure(enc, &cfg), 0);
	next_frame(s, &f, n, 30);
	CHECK_EQ_INT(cam_encoder_encode(enc, &f, false, &e), 0);
	CHECK(!e.keyframe);
	CHECK_EQ_INT(d.stamp_fail, 0);
	vpx_codec_destroy(&d.dec);
	cam_encoder_free(enc);
	cam_source_free(s);
}

static void test_encoder_bad_config(void)
{
	char err[128];
	cam_encoder_config cfg = base_config(640, 480);
	cfg.width = 0;
	CHECK(cam_encoder_new(&cfg, err, sizeof(err)) == NULL);
	CHECK(err[0] != '\0');
	cfg = base_config(641, 480);
	CHECK(cam_encoder_new(&cfg, err, sizeof(err)) == NULL);
	cfg = base_config(640, 480);
	cfg.speed = 17;
	CHECK(cam_encoder_new(&cfg, err, sizeof(err)) == NULL);
	CHECK(cam_encoder_new(NULL, err, sizeof(err)) == NULL);
	cam_encoder_free(NULL);
	cfg = base_config(640, 480);
	cfg.threads = 2;
	cfg.speed = -8;
	cam_encoder *enc = cam_encoder_new(&cfg, err, sizeof(err));
	CHECK(enc != NULL);
	CHECK_EQ_INT(cam_encoder_encode(enc, NULL, false, NULL), -EINVAL);
	cam_encoder_free(enc);
}

/* ---- figures ---- */

static double ms_since(int64_t t0)
{
	return (double)(now_ns() - t0) / 1e6;
}

static void measure(int w, int h)
{
	cam_source *s = cam_source_pattern_new(w, h, 120);
	cam_encoder_config cfg = base_config(w, h);
	cam_encoder *enc = cam_encoder_new(&cfg, NULL, 0);
	if(!s || !enc) {
		CHECK(false);
		cam_source_free(s);
		cam_encoder_free(enc);
		return;
	}
	cam_source_open(s);
	double render = 0, encode = 0, worst = 0;
	int n = 60;
	for(int i = 0; i < n; i++) {
		/* Come late, so that read() does not sleep and times the render. */
		sleep_ms(9);
		cam_frame f;
		int64_t t0 = now_ns();
		CHECK_EQ_INT(cam_source_read(s, &f, 1000), 0);
		render += ms_since(t0);
		f.capture_us = 1000000 + (int64_t)i * 1000000 / 30;
		cam_encoded_frame e;
		t0 = now_ns();
		CHECK_EQ_INT(cam_encoder_encode(enc, &f, false, &e), 0);
		double ms = ms_since(t0);
		encode += ms;
		if(i > 0 && ms > worst)
			worst = ms;
	}
	printf("# %dx%d@30 1 Mbit/s: render %.3f ms/frame, encode %.2f ms/frame (worst %.2f, first is a key frame)\n",
		w, h, render / n, encode / n, worst);
	cam_encoder_free(enc);
	cam_source_free(s);
}

static void test_figures(void)
{
	measure(640, 480);
	measure(1280, 720);
}

int main(void)
{
	cam_log_set_level(CAM_LOG_ERR);
	RUN(test_stamp_round_trip);
	RUN(test_pattern_raw);
	RUN(test_pattern_pacing);
	RUN(test_encoder_bad_config);
	RUN(test_encode_640x480);
	RUN(test_encode_320x240);
	RUN(test_encode_1280x720);
	RUN(test_encode_low_bitrate);
	RUN(test_periodic_keyframes);
	RUN(test_reconfigure);
	if(!getenv("CAM_TEST_NO_FIGURES"))
		RUN(test_figures);
	return check_exit();
}
