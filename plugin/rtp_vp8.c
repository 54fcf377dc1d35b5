/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * VP8 over RTP, RFC 7741.  See rtp_vp8.h.
 */
#include "rtp_vp8.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

void cam_rtp_vp8_init(cam_rtp_vp8 *p, uint8_t payload_type, uint32_t ssrc,
	uint16_t first_seq, uint16_t first_picture_id, size_t max_packet)
{
	memset(p, 0, sizeof(*p));
	p->payload_type = payload_type & 0x7f;
	p->ssrc = ssrc;
	p->seq = first_seq;
	p->picture_id = first_picture_id & 0x7fff;
	/* 0 means "the largest we can", anything above the buffer is clamped;
	 * a value too small to carry a byte is refused by packetize(). */
	p->max_packet = (max_packet == 0 || max_packet > CAM_RTP_MAX_PACKET) ?
		CAM_RTP_MAX_PACKET : max_packet;
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

int cam_rtp_vp8_packetize(cam_rtp_vp8 *p, const uint8_t *frame, size_t size,
	uint32_t timestamp, cam_rtp_emit_fn emit, void *opaque)
{
	const size_t overhead = CAM_RTP_HEADER_LEN + CAM_VP8_DESCRIPTOR_LEN;
	if(!p || !frame || size == 0 || !emit || p->max_packet > CAM_RTP_MAX_PACKET ||
			p->max_packet <= overhead)
		return -EINVAL;
	size_t room = p->max_packet - overhead;
	size_t count = (size + room - 1) / room;
	if(count > INT_MAX)
		return -EINVAL;
	/* Spread the bytes evenly (the first size % count packets carry one
	 * byte more): N full packets and a runt would waste a packet's worth
	 * of headers' share of the budget on the runt and make pacing lumpy. */
	size_t base = size / count, extra = size % count;
	uint16_t pid = p->picture_id & 0x7fff;
	size_t done = 0;
	for(size_t i = 0; i < count; i++) {
		size_t chunk = base + (i < extra ? 1 : 0);
		bool first = (i == 0), last = (i == count - 1);
		uint8_t *b = p->buf;
		b[0] = 0x80;                                    /* V=2, P=0, X=0, CC=0 */
		b[1] = (uint8_t)((last ? 0x80 : 0) | (p->payload_type & 0x7f));
		put16(b + 2, p->seq);
		put32(b + 4, timestamp);
		put32(b + 8, p->ssrc);
		/* Payload descriptor: X=1, S on the first packet, PID=0; then I=1;
		 * then M=1 and the 15-bit PictureID.  Every packet carries the
		 * PictureID so a receiver can tell frames apart after a loss. */
		b[12] = (uint8_t)(0x80 | (first ? 0x10 : 0));
		b[13] = 0x80;
		b[14] = (uint8_t)(0x80 | (pid >> 8));
		b[15] = (uint8_t)(pid & 0xff);
		memcpy(b + overhead, frame + done, chunk);
		done += chunk;
		p->seq++;
		emit(opaque, b, overhead + chunk, first, last);
	}
	p->picture_id = (uint16_t)((pid + 1) & 0x7fff);
	return (int)count;
}

int cam_rtp_vp8_parse(const uint8_t *packet, size_t len, cam_rtp_vp8_info *info)
{
	if(!packet || !info || len < CAM_RTP_HEADER_LEN)
		return -EINVAL;
	if((packet[0] >> 6) != 2)
		return -EINVAL;
	bool padding = packet[0] & 0x20, extension = packet[0] & 0x10;
	size_t csrc = packet[0] & 0x0f;
	size_t pos = CAM_RTP_HEADER_LEN + 4 * csrc;
	size_t end = len;
	if(pos > end)
		return -EINVAL;
	if(extension) {
		if(end - pos < 4)
			return -EINVAL;
		size_t words = ((size_t)packet[pos + 2] << 8) | packet[pos + 3];
		if(end - pos - 4 < 4 * words)
			return -EINVAL;
		pos += 4 + 4 * words;
	}
	if(padding) {
		/* RFC 3550 5.1: the last byte counts the padding, itself included. */
		size_t pad = packet[len - 1];
		if(pad == 0 || pad > end - pos)
			return -EINVAL;
		end -= pad;
	}

	memset(info, 0, sizeof(*info));
	info->marker = packet[1] & 0x80;
	info->payload_type = packet[1] & 0x7f;
	info->seq = (uint16_t)((packet[2] << 8) | packet[3]);
	info->timestamp = ((uint32_t)packet[4] << 24) | ((uint32_t)packet[5] << 16) |
		((uint32_t)packet[6] << 8) | packet[7];
	info->ssrc = ((uint32_t)packet[8] << 24) | ((uint32_t)packet[9] << 16) |
		((uint32_t)packet[10] << 8) | packet[11];
	info->picture_id = -1;

	/* RFC 7741 4.2: X|R|N|S|R|PID, then if X: I|L|T|K|RSV, then the
	 * optional PictureID (7 or 15 bits), TL0PICIDX, and TID|Y|KEYIDX. */
	if(pos >= end)
		return -EINVAL;
	uint8_t d0 = packet[pos++];
	info->start = d0 & 0x10;
	info->partition = d0 & 0x07;
	if(d0 & 0x80) {
		if(pos >= end)
			return -EINVAL;
		uint8_t x = packet[pos++];
		if(x & 0x80) {
			if(pos >= end)
				return -EINVAL;
			if(packet[pos] & 0x80) {
				if(end - pos < 2)
					return -EINVAL;
				info->picture_id = ((packet[pos] & 0x7f) << 8) | packet[pos + 1];
				pos += 2;
			} else {
				info->picture_id = packet[pos++];
			}
		}
		if(x & 0x40) {             /* L: TL0PICIDX */
			if(pos >= end)
				return -EINVAL;
			pos++;
		}
		if(x & 0x30) {             /* T or K: one shared byte */
			if(pos >= end)
				return -EINVAL;
			pos++;
		}
	}
	/* A VP8 payload is never empty. */
	if(pos >= end)
		return -EINVAL;
	info->payload = packet + pos;
	info->payload_len = end - pos;
	/* RFC 7741 4.3: P bit 0 in the first byte of the VP8 frame header. */
	info->keyframe = info->start && info->partition == 0 && (info->payload[0] & 0x01) == 0;
	return 0;
}
