/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fan-out of encoded frames to viewers: encode once, send to all.
 *
 * The pipeline thread packetizes each frame once and calls
 * cam_fanout_deliver(); the fan-out hands the same packets to every viewer
 * through the send callback (in the plugin: Janus's relay_rtp, which copies
 * and queues without blocking, so a slow or dead viewer cannot stall the
 * others).  A viewer added mid-stream receives nothing until the next key
 * frame, so it never sees a delta frame it cannot decode, and its stream has
 * no sequence gaps from its first packet on; cam_fanout_waiting() tells the
 * pipeline to force that key frame.  A member may bring its own send
 * function (cam_fanout_add_sink): a recorder then sits next to the viewers
 * and gets the same whole frames from the same key frame rule.
 *
 * Thread rules: add/remove/count may be called from any thread, concurrently
 * with deliver.  After cam_fanout_remove() returns, send() is never called
 * for that viewer again, so the caller may drop its reference at once.
 * deliver() is called by one thread at a time.
 */
#ifndef CAM_FANOUT_H
#define CAM_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cam_packet {
	const uint8_t *data;
	uint16_t len;
	bool first;   /* first packet of the frame */
	bool last;    /* last packet of the frame (RTP marker) */
} cam_packet;

typedef struct cam_fanout_frame {
	const cam_packet *packets;
	int count;
	bool keyframe;
} cam_fanout_frame;

/* Sends one whole frame to one viewer.  Must not block, and must not call
 * back into the fan-out. */
typedef void (*cam_fanout_send_fn)(void *viewer, const cam_fanout_frame *frame, void *opaque);

typedef struct cam_fanout cam_fanout;

/* send/opaque: the default for members added with cam_fanout_add (NULL when
 * every member is added with cam_fanout_add_sink). */
cam_fanout *cam_fanout_new(cam_fanout_send_fn send, void *opaque);
/* All viewers must have been removed. */
void cam_fanout_free(cam_fanout *fo);

/* Adds a viewer (an opaque pointer, unique).  It is served from the next key
 * frame on.  Returns false if it was already there. */
bool cam_fanout_add(cam_fanout *fo, void *viewer);
/* The same, with the member's own send function and opaque (a recorder, or
 * any consumer that is not a viewer); it counts as a member in count and
 * waiting like any viewer.  Returns false if it was already there or send is
 * NULL. */
bool cam_fanout_add_sink(cam_fanout *fo, void *viewer, cam_fanout_send_fn send, void *opaque);
/* Removes a viewer; returns false if it was not there.  Waits for a deliver()
 * in progress, so never call it from inside send(). */
bool cam_fanout_remove(cam_fanout *fo, void *viewer);

int cam_fanout_count(cam_fanout *fo);
/* Viewers still waiting for their first key frame. */
int cam_fanout_waiting(cam_fanout *fo);

/* Returns how many viewers were sent the frame. */
int cam_fanout_deliver(cam_fanout *fo, const cam_fanout_frame *frame);

/* Totals since creation: frames delivered to at least one viewer, and
 * packets handed to send() summed over viewers. */
void cam_fanout_totals(cam_fanout *fo, uint64_t *frames, uint64_t *packets);

#endif
