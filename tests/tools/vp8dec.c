/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * vp8dec: the integration tests' VP8 decoder.  A werift viewer reassembles
 * frames from RTP and pipes each complete one here; this decodes it with
 * libvpx and says, one JSON line per frame, what a real receiver would have
 * shown: whether it decoded, its size, whether it was a key frame, whether
 * libvpx found it corrupt, and the test pattern's stamp (shared/api.md)
 * read back from the decoded luma plane.
 *
 * stdin, per frame: u32 little-endian length, u32 little-endian RTP
 * timestamp, then `length` bytes of VP8 frame.  A length of 0 ends the
 * stream like EOF does.
 *
 * stdout, per frame:
 *   {"ts":T,"decoded":true,"key":B,"width":W,"height":H,"corrupt":B,
 *    "ref_used":N,"stamp":B,"counter":N,"time":N,"now":MS,"decode_us":N,"bytes":N}
 *   {"ts":T,"decoded":false,"key":B,"bytes":N,"error":"...","detail":"..."}
 * "stamp" says whether both check bytes matched; "counter" and "time" are
 * present only then.  "now" is CLOCK_REALTIME in ms mod 2^32 when decoding
 * ended, so "now - time" is the glass-to-glass delay.  At the end one line
 * {"end":true,"frames":N,"errors":N,"cpu_ms":N}.
 *
 *   vp8dec [--threads N]      (default 1)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

#include "stamp.h"

/* Larger than any frame the plugin can send (4096x4096 key frames at the
 * top bitrate stay far below this); a longer record means a broken stream. */
#define MAX_FRAME (16u * 1024u * 1024u)

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Reads exactly n bytes; false at EOF or on error. */
static bool read_full(uint8_t *buf, size_t n)
{
	return n == 0 || fread(buf, 1, n, stdin) == n;
}

/* A JSON string body without quotes or control characters (libvpx's error
 * texts are plain ASCII, but a detail could quote stream bytes). */
static void print_clean(const char *s)
{
	for(; s && *s; s++)
		putchar(*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 ? '?' : *s);
}

static void print_error(uint32_t ts, bool key, uint32_t len, vpx_codec_ctx_t *dec)
{
	printf("{\"ts\":%" PRIu32 ",\"decoded\":false,\"key\":%s,\"bytes\":%" PRIu32 ",\"error\":\"",
		ts, key ? "true" : "false", len);
	print_clean(vpx_codec_error(dec));
	printf("\",\"detail\":\"");
	print_clean(vpx_codec_error_detail(dec));
	printf("\"}\n");
}

static void print_picture(uint32_t ts, bool key, uint32_t len, vpx_codec_ctx_t *dec,
	const vpx_image_t *img, int64_t decode_us)
{
	int corrupt = 0, ref_used = 0;
	vpx_codec_control(dec, VP8D_GET_FRAME_CORRUPTED, &corrupt);
	vpx_codec_control(dec, VP8D_GET_LAST_REF_USED, &ref_used);
	uint32_t counter = 0, time_ms = 0;
	bool stamp = cam_stamp_read(img->planes[VPX_PLANE_Y], img->stride[VPX_PLANE_Y],
		(int)img->d_w, (int)img->d_h, &counter, &time_ms);
	uint32_t now = (uint32_t)(clock_us(CLOCK_REALTIME) / 1000);
	printf("{\"ts\":%" PRIu32 ",\"decoded\":true,\"key\":%s,\"width\":%u,\"height\":%u,"
		"\"corrupt\":%s,\"ref_used\":%d,\"stamp\":%s",
		ts, key ? "true" : "false", img->d_w, img->d_h, corrupt ? "true" : "false", ref_used,
		stamp ? "true" : "false");
	if(stamp)
		printf(",\"counter\":%" PRIu32 ",\"time\":%" PRIu32, counter, time_ms);
	printf(",\"now\":%" PRIu32 ",\"decode_us\":%" PRId64 ",\"bytes\":%" PRIu32 "}\n",
		now, decode_us, len);
}

/* Decodes one frame and prints its line; returns false on a decode error. */
static bool decode_one(vpx_codec_ctx_t *dec, const uint8_t *frame, uint32_t len, uint32_t ts)
{
	/* RFC 6386 9.1: bit 0 of the frame tag is 0 for a key frame. */
	bool key = len > 0 && (frame[0] & 1) == 0;
	int64_t t0 = clock_us(CLOCK_MONOTONIC);
	if(vpx_codec_decode(dec, frame, len, NULL, 0) != VPX_CODEC_OK) {
		print_error(ts, key, len, dec);
		return false;
	}
	vpx_codec_iter_t iter = NULL;
	const vpx_image_t *img = vpx_codec_get_frame(dec, &iter);
	int64_t decode_us = clock_us(CLOCK_MONOTONIC) - t0;
	if(!img) {
		printf("{\"ts\":%" PRIu32 ",\"decoded\":false,\"key\":%s,\"bytes\":%" PRIu32
			",\"error\":\"no picture\",\"detail\":\"\"}\n", ts, key ? "true" : "false", len);
		return false;
	}
	print_picture(ts, key, len, dec, img, decode_us);
	/* VP8 gives at most one picture per frame; drain to be sure. */
	while(vpx_codec_get_frame(dec, &iter))
		;
	return true;
}

static int64_t cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
		(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

int main(int argc, char **argv)
{
	unsigned int threads = 1;
	for(int i = 1; i < argc; i++) {
		if(!strcmp(argv[i], "--threads") && i + 1 < argc) {
			threads = (unsigned int)strtoul(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: %s [--threads N]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	vpx_codec_ctx_t dec;
	vpx_codec_dec_cfg_t cfg = {.threads = threads ? threads : 1};
	if(vpx_codec_dec_init(&dec, vpx_codec_vp8_dx(), &cfg, 0) != VPX_CODEC_OK) {
		fprintf(stderr, "vp8dec: decoder init failed: %s\n", vpx_codec_error(&dec));
		return 1;
	}
	uint8_t *frame = malloc(MAX_FRAME);
	if(!frame) {
		fprintf(stderr, "vp8dec: out of memory\n");
		return 1;
	}
	uint64_t frames = 0, errors = 0;
	int rc = 0;
	uint8_t head[8];
	while(read_full(head, sizeof(head))) {
		uint32_t len = le32(head), ts = le32(head + 4);
		if(len == 0)
			break;
		if(len > MAX_FRAME || !read_full(frame, len)) {
			fprintf(stderr, "vp8dec: broken input (record of %" PRIu32 " bytes)\n", len);
			rc = 1;
			break;
		}
		frames++;
		if(!decode_one(&dec, frame, len, ts))
			errors++;
	}
	printf("{\"end\":true,\"frames\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"cpu_ms\":%" PRId64 "}\n",
		frames, errors, cpu_ms());
	free(frame);
	vpx_codec_destroy(&dec);
	return rc;
}
