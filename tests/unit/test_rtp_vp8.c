/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * rtp_vp8: packetize thousands of random frames, parse the packets back and
 * compare; check the RFC 7741 header fields and the wraps; fuzz the parser
 * (run under ASan/UBSan: each fuzz input sits in its own exact-size
 * allocation, so any read past the end is caught).
 */
#include "rtp_vp8.h"
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* xorshift64*: a fixed-seed generator, so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

#define MAX_FRAME (200 * 1024)

/* What the emit callback collects for one frame. */
typedef struct collector {
	uint8_t *frame;              /* payloads, reassembled */
	size_t size;
	int packets;
	int bad_size, bad_parse, bad_flags;
	size_t max_packet;
	size_t min_len, max_len;     /* packet length spread within the frame */
	uint32_t timestamp;
	bool ts_mismatch;
	uint16_t first_seq, next_seq;
	int picture_id;
	bool pid_mismatch;
	int starts, markers;
} collector;

static void collect(void *opaque, const uint8_t *packet, size_t len, bool first, bool last)
{
	collector *c = opaque;
	if(len > c->max_packet || len > CAM_RTP_MAX_PACKET)
		c->bad_size++;
	if(c->packets == 0 || len < c->min_len)
		c->min_len = len;
	if(len > c->max_len)
		c->max_len = len;
	/* Parse from an exact-size copy: ASan would catch an overread. */
	uint8_t *copy = malloc(len);
	memcpy(copy, packet, len);
	cam_rtp_vp8_info info;
	if(cam_rtp_vp8_parse(copy, len, &info) != 0) {
		c->bad_parse++;
		free(copy);
		c->packets++;
		return;
	}
	if(info.start != first || info.marker != last || info.partition != 0 ||
			first != (c->packets == 0))
		c->bad_flags++;
	if(info.start)
		c->starts++;
	if(info.marker)
		c->markers++;
	if(c->packets == 0) {
		c->timestamp = info.timestamp;
		c->first_seq = info.seq;
		c->picture_id = info.picture_id;
	} else {
		if(info.timestamp != c->timestamp)
			c->ts_mismatch = true;
		if(info.seq != c->next_seq)
			c->bad_flags++;
		if(info.picture_id != c->picture_id)
			c->pid_mismatch = true;
	}
	c->next_seq = (uint16_t)(info.seq + 1);
	/* Our packets always carry the same 4-byte descriptor. */
	if(info.payload != copy + CAM_RTP_HEADER_LEN + CAM_VP8_DESCRIPTOR_LEN)
		c->bad_flags++;
	memcpy(c->frame + c->size, info.payload, info.payload_len);
	c->size += info.payload_len;
	c->packets++;
	free(copy);
}

static void test_round_trip(void)
{
	uint8_t *frame = malloc(MAX_FRAME);
	collector c;
	memset(&c, 0, sizeof(c));
	c.frame = malloc(MAX_FRAME);
	cam_rtp_vp8 p;
	/* Start near both wraps so a few thousand frames cross them. */
	cam_rtp_vp8_init(&p, 96, 0x12345678, 65000, 32700, CAM_RTP_MAX_PACKET);
	CHECK_EQ_INT(p.max_packet, CAM_RTP_MAX_PACKET);
	int frames = 3000, failures = 0, pid_wraps = 0, seq_wraps = 0;
	int prev_pid = -1;
	uint16_t prev_seq = 0;
	bool have_prev = false;
	size_t max_packet[] = {CAM_RTP_MAX_PACKET, 1000, 500, 17, 100};
	for(int f = 0; f < frames; f++) {
		/* Mostly small-to-medium frames, some big key-frame-like ones,
		 * and the edges (1 byte, exactly one packet, one more). */
		size_t size;
		uint32_t r = rnd() % 100;
		if(r < 5)
			size = 1 + rnd() % 3;
		else if(r < 10)
			size = CAM_RTP_MAX_PACKET - 16 + (rnd() % 3) - 1;
		else if(r < 80)
			size = 1 + rnd() % 20000;
		else
			size = 1 + rnd() % MAX_FRAME;
		for(size_t i = 0; i < size; i++)
			frame[i] = (uint8_t)rnd();
		/* Some frames with a smaller budget (the last 500 frames). */
		size_t mp = f < frames - 500 ? CAM_RTP_MAX_PACKET : max_packet[f % 5];
		p.max_packet = mp;
		uint32_t ts = rnd();
		c.size = 0;
		c.packets = 0;
		c.max_packet = mp;
		c.starts = c.markers = 0;
		c.ts_mismatch = c.pid_mismatch = false;
		c.max_len = 0;
		uint16_t expect_seq = p.seq, expect_pid = p.picture_id;
		int n = cam_rtp_vp8_packetize(&p, frame, size, ts, collect, &c);
		size_t room = mp - 16;
		bool ok = n == (int)((size + room - 1) / room) && n == c.packets &&
			c.size == size && memcmp(c.frame, frame, size) == 0 &&
			c.timestamp == ts && !c.ts_mismatch && !c.pid_mismatch &&
			c.first_seq == expect_seq && c.picture_id == expect_pid &&
			c.starts == 1 && c.markers == 1 &&
			/* near-equal split: lengths differ by at most one byte */
			c.max_len - c.min_len <= 1 &&
			p.seq == (uint16_t)(expect_seq + n);
		if(!ok && failures++ < 5)
			fprintf(stderr, "frame %d (%zu bytes, max %zu): n=%d packets=%d size=%zu\n",
				f, size, mp, n, c.packets, c.size);
		if(have_prev) {
			if(c.picture_id != ((prev_pid + 1) & 0x7fff))
				failures++;
			if(c.picture_id == 0)
				pid_wraps++;
			if(c.first_seq < prev_seq)
				seq_wraps++;
		}
		prev_pid = c.picture_id;
		prev_seq = c.first_seq;
		have_prev = true;
	}
	CHECK_EQ_INT(failures, 0);
	CHECK_EQ_INT(c.bad_size, 0);
	CHECK_EQ_INT(c.bad_parse, 0);
	CHECK_EQ_INT(c.bad_flags, 0);
	CHECK(pid_wraps >= 1);
	CHECK(seq_wraps >= 1);
	free(frame);
	free(c.frame);
}

/* The exact bytes of the first and a later packet. */
static uint8_t first_bytes[32], second_bytes[32];
static int emitted;

static void keep(void *opaque, const uint8_t *packet, size_t len, bool first, bool last)
{
	if(emitted == 0)
		memcpy(first_bytes, packet, len < 32 ? len : 32);
	else if(emitted == 1)
		memcpy(second_bytes, packet, len < 32 ? len : 32);
	emitted++;
}

static void test_wire_format(void)
{
	cam_rtp_vp8 p;
	cam_rtp_vp8_init(&p, 100, 0xdeadbeef, 0xfffe, 0x1234, 20);
	uint8_t frame[6] = {0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a};
	emitted = 0;
	CHECK_EQ_INT(cam_rtp_vp8_packetize(&p, frame, sizeof(frame), 0x01020304, keep, NULL), 2);
	CHECK_EQ_INT(emitted, 2);
	static const uint8_t want1[] = {0x80, 100, 0xff, 0xfe, 1, 2, 3, 4, 0xde, 0xad, 0xbe, 0xef,
		0x90, 0x80, 0x80 | 0x12, 0x34, 0x10, 0x02, 0x00};
	static const uint8_t want2[] = {0x80, 0x80 | 100, 0xff, 0xff, 1, 2, 3, 4, 0xde, 0xad, 0xbe, 0xef,
		0x80, 0x80, 0x80 | 0x12, 0x34, 0x9d, 0x01, 0x2a};
	CHECK(memcmp(first_bytes, want1, sizeof(want1)) == 0);
	CHECK(memcmp(second_bytes, want2, sizeof(want2)) == 0);
	CHECK_EQ_INT(p.seq, 0);
	CHECK_EQ_INT(p.picture_id, 0x1235);

	/* The key-frame bit: first VP8 byte, P = 0. */
	cam_rtp_vp8_info info;
	CHECK_EQ_INT(cam_rtp_vp8_parse(first_bytes, sizeof(want1), &info), 0);
	CHECK(info.keyframe);
	CHECK(info.start);
	CHECK(!info.marker);
	CHECK_EQ_INT(info.picture_id, 0x1234);
	CHECK_EQ_INT(info.payload_len, 3);
	CHECK_EQ_INT(cam_rtp_vp8_parse(second_bytes, sizeof(want2), &info), 0);
	CHECK(!info.keyframe);
	CHECK(info.marker);
	first_bytes[16] |= 0x01;   /* an inter frame */
	CHECK_EQ_INT(cam_rtp_vp8_parse(first_bytes, sizeof(want1), &info), 0);
	CHECK(!info.keyframe);

	/* Bad arguments. */
	CHECK_EQ_INT(cam_rtp_vp8_packetize(&p, frame, 0, 0, keep, NULL), -EINVAL);
	cam_rtp_vp8_init(&p, 100, 1, 0, 0, 16);
	CHECK_EQ_INT(cam_rtp_vp8_packetize(&p, frame, sizeof(frame), 0, keep, NULL), -EINVAL);
	cam_rtp_vp8_init(&p, 100, 1, 0, 0, 17);
	emitted = 0;
	CHECK_EQ_INT(cam_rtp_vp8_packetize(&p, frame, sizeof(frame), 0, keep, NULL), 6);
	cam_rtp_vp8_init(&p, 100, 1, 0, 0, 100000);
	CHECK_EQ_INT(p.max_packet, CAM_RTP_MAX_PACKET);
}

/* Descriptors from other senders: every optional field of RFC 7741. */
static void test_parse_descriptors(void)
{
	uint8_t pkt[64];
	cam_rtp_vp8_info info;
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x80;
	pkt[1] = 96;

	/* Minimal descriptor: one byte, S=1, PID=0. */
	pkt[12] = 0x10;
	pkt[13] = 0x00;    /* key frame */
	CHECK_EQ_INT(cam_rtp_vp8_parse(pkt, 14, &info), 0);
	CHECK_EQ_INT(info.picture_id, -1);
	CHECK(info.keyframe);
	CHECK_EQ_INT(info.payload_len, 1);

	/* X, I with a 7-bit PictureID, L, T|K. */
	pkt[12] = 0x90;
	pkt[13] = 0xf0;
	pkt[14] = 0x55;
	pkt[15] = 0x07;    /* TL0PICIDX */
	pkt[16] = 0xe0;    /* TID/Y/KEYIDX */
	pkt[17] = 0x01;    /* inter frame */
	CHECK_EQ_INT(cam_rtp_vp8_parse(pkt, 18, &info), 0);
	CHECK_EQ_INT(info.picture_id, 0x55);
	CHECK(!info.keyframe);
	CHECK(info.payload == pkt + 17);

	/* K alone still takes the TID/KEYIDX byte. */
	pkt[13] = 0x10;
	pkt[14] = 0x00;
	pkt[15] = 0x00;
	CHECK_EQ_INT(cam_rtp_vp8_parse(pkt, 16, &info), 0);
	CHECK(info.payload == pkt + 15);
	CHECK(info.keyframe);

	/* PID != 0 is not the frame start. */
	pkt[12] = 0x11;
	pkt[13] = 0x00;
	CHECK_EQ_INT(cam_rtp_vp8_parse(pkt, 14, &info), 0);
	CHECK(!info.keyframe);
	CHECK_EQ_INT(info.partition, 1);

	/* CSRCs, a header extension and padding around the payload. */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x80 | 0x20 | 0x10 | 2;   /* P, X, CC=2 */
	pkt[1] = 96;
	size_t pos = 12 + 8;
	pkt[pos + 2] = 0;
	pkt[pos + 3] = 1;                  /* one word of extension */
	pos += 8;
	pkt[pos] = 0x10;                   /* descriptor */
	pkt[pos + 1] = 0x00;               /* payload: 2 bytes */
	pkt[pos + 2] = 0xaa;
	pkt[pos + 3] = 0;
	pkt[pos + 4] = 2;                  /* 2 bytes of padding */
	CHECK_EQ_INT(cam_rtp_vp8_parse(pkt, pos + 5, &info), 0);
	CHECK_EQ_INT(info.payload_len, 2);
	CHECK(info.payload == pkt + pos + 1);
	pkt[pos + 4] = 4;                  /* padding eats the payload */
	CHECK_EQ_INT(cam_rtp_vp8_parse(pkt, pos + 5, &info), -EINVAL);
	pkt[pos + 4] = 0;                  /* padding of zero bytes is invalid */
	CHECK_EQ_INT(cam_rtp_vp8_parse(pkt, pos + 5, &info), -EINVAL);
}

static void test_rejects(void)
{
	cam_rtp_vp8 p;
	cam_rtp_vp8_init(&p, 96, 7, 0, 0, CAM_RTP_MAX_PACKET);
	uint8_t frame[3] = {0x10, 0x02, 0x00};
	emitted = 0;
	CHECK_EQ_INT(cam_rtp_vp8_packetize(&p, frame, sizeof(frame), 0, keep, NULL), 1);
	cam_rtp_vp8_info info;
	/* Every truncation of a valid packet short of the payload is refused,
	 * each from its own exact-size buffer. */
	for(size_t len = 0; len < 17; len++) {
		uint8_t *b = malloc(len ? len : 1);
		memcpy(b, first_bytes, len);
		CHECK_EQ_INT(cam_rtp_vp8_parse(b, len, &info), -EINVAL);
		free(b);
	}
	CHECK_EQ_INT(cam_rtp_vp8_parse(first_bytes, 19, &info), 0);
	/* Wrong RTP version. */
	first_bytes[0] = 0x40;
	CHECK_EQ_INT(cam_rtp_vp8_parse(first_bytes, 19, &info), -EINVAL);
	first_bytes[0] = 0x80;
	/* 15-bit PictureID cut after its first byte. */
	CHECK_EQ_INT(cam_rtp_vp8_parse(first_bytes, 15, &info), -EINVAL);
	/* CSRC count larger than the packet. */
	first_bytes[0] = 0x8f;
	CHECK_EQ_INT(cam_rtp_vp8_parse(first_bytes, 19, &info), -EINVAL);
	CHECK_EQ_INT(cam_rtp_vp8_parse(NULL, 19, &info), -EINVAL);
}

static void test_fuzz(void)
{
	int accepted = 0;
	cam_rtp_vp8_info info;
	for(int i = 0; i < 200000; i++) {
		size_t len = rnd() % 64;
		uint8_t *b = malloc(len ? len : 1);
		for(size_t j = 0; j < len; j++)
			b[j] = (uint8_t)rnd();
		/* Bias towards plausible headers so the descriptor code is reached. */
		if(len > 0 && (i & 1))
			b[0] = (uint8_t)(0x80 | (b[0] & ((i & 2) ? 0x3f : 0x00)));
		if(cam_rtp_vp8_parse(b, len, &info) == 0) {
			accepted++;
			/* Whatever is accepted points inside the packet. */
			CHECK(info.payload >= b && info.payload_len >= 1 &&
				info.payload + info.payload_len <= b + len);
			CHECK(info.picture_id >= -1 && info.picture_id < 0x8000);
		}
		free(b);
	}
	CHECK(accepted > 1000);

	/* Mutations of valid packets: flip bits, then truncate. */
	cam_rtp_vp8 p;
	cam_rtp_vp8_init(&p, 96, 7, 0, 0, 60);
	uint8_t frame[40];
	for(int i = 0; i < 40; i++)
		frame[i] = (uint8_t)i;
	emitted = 0;
	cam_rtp_vp8_packetize(&p, frame, sizeof(frame), 0, keep, NULL);
	for(int i = 0; i < 100000; i++) {
		uint8_t tmp[32];
		memcpy(tmp, first_bytes, 32);
		int flips = 1 + rnd() % 4;
		for(int k = 0; k < flips; k++)
			tmp[rnd() % 20] ^= (uint8_t)(1u << (rnd() % 8));
		size_t len = rnd() % 33;
		uint8_t *b = malloc(len ? len : 1);
		memcpy(b, tmp, len);
		if(cam_rtp_vp8_parse(b, len, &info) == 0)
			CHECK(info.payload >= b && info.payload + info.payload_len <= b + len);
		free(b);
	}
}

int main(void)
{
	RUN(test_wire_format);
	RUN(test_parse_descriptors);
	RUN(test_rejects);
	RUN(test_round_trip);
	RUN(test_fuzz);
	return check_exit();
}
