/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fanout.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct viewer_slot {
	void *viewer;
	cam_fanout_send_fn send;   /* the fan-out's default, or the sink's own */
	void *opaque;
	bool waiting;      /* for its first key frame */
} viewer_slot;

struct cam_fanout {
	cam_fanout_send_fn send;
	void *opaque;
	/* Guards everything below.  Held for a whole deliver(): sending is only
	 * a copy into Janus's per-handle queue, so remove() waits at most one
	 * frame's worth of copies (about a millisecond for 30 viewers). */
	pthread_mutex_t lock;
	viewer_slot *slots;
	int count, capacity;
	int waiting;
	uint64_t frames, packets;
};

cam_fanout *cam_fanout_new(cam_fanout_send_fn send, void *opaque)
{
	cam_fanout *fo = calloc(1, sizeof(*fo));
	if(!fo)
		return NULL;
	fo->send = send;
	fo->opaque = opaque;
	pthread_mutex_init(&fo->lock, NULL);
	return fo;
}

void cam_fanout_free(cam_fanout *fo)
{
	if(!fo)
		return;
	pthread_mutex_destroy(&fo->lock);
	free(fo->slots);
	free(fo);
}

static int find(const cam_fanout *fo, const void *viewer)
{
	for(int i = 0; i < fo->count; i++) {
		if(fo->slots[i].viewer == viewer)
			return i;
	}
	return -1;
}

bool cam_fanout_add(cam_fanout *fo, void *viewer)
{
	return cam_fanout_add_sink(fo, viewer, fo->send, fo->opaque);
}

bool cam_fanout_add_sink(cam_fanout *fo, void *viewer, cam_fanout_send_fn send, void *opaque)
{
	if(!send)
		return false;
	bool added = false;
	pthread_mutex_lock(&fo->lock);
	if(find(fo, viewer) < 0) {
		if(fo->count == fo->capacity) {
			int capacity = fo->capacity ? fo->capacity * 2 : 16;
			viewer_slot *slots = realloc(fo->slots, (size_t)capacity * sizeof(*slots));
			if(!slots)
				goto done;
			fo->slots = slots;
			fo->capacity = capacity;
		}
		fo->slots[fo->count++] = (viewer_slot){.viewer = viewer, .send = send, .opaque = opaque,
			.waiting = true};
		fo->waiting++;
		added = true;
	}
done:
	pthread_mutex_unlock(&fo->lock);
	return added;
}

bool cam_fanout_remove(cam_fanout *fo, void *viewer)
{
	pthread_mutex_lock(&fo->lock);
	int i = find(fo, viewer);
	if(i >= 0) {
		if(fo->slots[i].waiting)
			fo->waiting--;
		/* Order does not matter: move the last slot into the hole. */
		fo->slots[i] = fo->slots[--fo->count];
	}
	pthread_mutex_unlock(&fo->lock);
	return i >= 0;
}

int cam_fanout_count(cam_fanout *fo)
{
	pthread_mutex_lock(&fo->lock);
	int n = fo->count;
	pthread_mutex_unlock(&fo->lock);
	return n;
}

int cam_fanout_waiting(cam_fanout *fo)
{
	pthread_mutex_lock(&fo->lock);
	int n = fo->waiting;
	pthread_mutex_unlock(&fo->lock);
	return n;
}

int cam_fanout_deliver(cam_fanout *fo, const cam_fanout_frame *frame)
{
	if(frame->count <= 0)
		return 0;
	pthread_mutex_lock(&fo->lock);
	int served = 0;
	for(int i = 0; i < fo->count; i++) {
		viewer_slot *s = &fo->slots[i];
		if(s->waiting) {
			if(!frame->keyframe)
				continue;
			s->waiting = false;
			fo->waiting--;
		}
		s->send(s->viewer, frame, s->opaque);
		served++;
	}
	if(served) {
		fo->frames++;
		fo->packets += (uint64_t)served * (uint64_t)frame->count;
	}
	pthread_mutex_unlock(&fo->lock);
	return served;
}

void cam_fanout_totals(cam_fanout *fo, uint64_t *frames, uint64_t *packets)
{
	pthread_mutex_lock(&fo->lock);
	if(frames)
		*frames = fo->frames;
	if(packets)
		*packets = fo->packets;
	pthread_mutex_unlock(&fo->lock);
}
