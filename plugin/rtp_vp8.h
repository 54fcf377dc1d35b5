/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * VP8 RTP packetizer (RFC 7741) and the matching parser.
 *
 * Every packet: 12-byte RTP header (V=2, no CSRC, no extension) + payload
 * descriptor with X=1, I=1, M=1 (15-bit PictureID, incremented per frame),
 * S=1 on a frame's first packet, PID=0; the marker bit on a frame's last
 * packet.  All packets of a frame share the timestamp.  The packetizer knows
 * nothing of Janus: it calls emit() for each packet, from a buffer it reuses.
 *
 * Not thread-safe: one packetizer per stream, owned by one thread.
 */
#ifndef CAM_RTP_VP8_H
#define CAM_RTP_VP8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whole RTP packet, header included.  WebRTC stays within 1200 bytes, leaving
 * room for the extensions and SRTP tag that Janus adds (see README). */
#define CAM_RTP_MAX_PACKET 1200
#define CAM_RTP_HEADER_LEN 12
#define CAM_VP8_DESCRIPTOR_LEN 4

typedef struct cam_rtp_vp8 {
	uint8_t payload_type;
	uint32_t ssrc;
	uint16_t seq;           /* next sequence number */
	uint16_t picture_id;    /* next PictureID, 15 bits */
	size_t max_packet;      /* <= CAM_RTP_MAX_PACKET */
	uint8_t buf[CAM_RTP_MAX_PACKET];
} cam_rtp_vp8;

/* One packet.  first: S bit (first packet of the frame); last: marker. */
typedef void (*cam_rtp_emit_fn)(void *opaque, const uint8_t *packet, size_t len,
	bool first, bool last);

void cam_rtp_vp8_init(cam_rtp_vp8 *p, uint8_t payload_type, uint32_t ssrc,
	uint16_t first_seq, uint16_t first_picture_id, size_t max_packet);

/* Splits one encoded frame into packets.  Returns the number of packets, or
 * -EINVAL (empty frame, max_packet too small). */
int cam_rtp_vp8_packetize(cam_rtp_vp8 *p, const uint8_t *frame, size_t size,
	uint32_t timestamp, cam_rtp_emit_fn emit, void *opaque);

/* What the parser reads out of one packet. */
typedef struct cam_rtp_vp8_info {
	bool marker;
	uint8_t payload_type;
	uint16_t seq;
	uint32_t timestamp;
	uint32_t ssrc;
	bool start;              /* S bit */
	uint8_t partition;       /* PID */
	int picture_id;          /* -1 when absent */
	bool keyframe;           /* start of a key frame (P bit 0 in the VP8 header) */
	const uint8_t *payload;  /* the VP8 bytes after the descriptor */
	size_t payload_len;
} cam_rtp_vp8_info;

/* Parses an RTP packet carrying VP8 (any valid RFC 7741 descriptor).
 * 0, or -EINVAL when it is malformed. */
int cam_rtp_vp8_parse(const uint8_t *packet, size_t len, cam_rtp_vp8_info *info);

#endif
