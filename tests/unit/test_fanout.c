/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fan-out: viewers added and removed from other threads while frames flow.
 * Each viewer must see whole frames, starting with a key frame, with no frame
 * missing afterwards, and nothing after its removal returned.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "fanout.h"

#define VIEWERS 16
#define FRAMES 20000
#define KEY_EVERY 10

typedef struct viewer {
	atomic_bool member;        /* between a successful add and remove */
	atomic_int after_remove;   /* sends seen while not a member */
	uint32_t last_frame;
	bool started;
	int frames, gaps, bad_first, torn;
} viewer;

static viewer viewers[VIEWERS];
static atomic_bool producing = true;

static void send_cb(void *v, const cam_fanout_frame *frame, void *opaque)
{
	viewer *vw = v;
	if(!atomic_load(&vw->member))
		atomic_fetch_add(&vw->after_remove, 1);
	uint32_t n;
	memcpy(&n, frame->packets[0].data, sizeof(n));
	/* All packets of one frame carry its number. */
	for(int i = 1; i < frame->count; i++) {
		uint32_t m;
		memcpy(&m, frame->packets[i].data, sizeof(m));
		if(m != n)
			vw->torn++;
	}
	if(!vw->started) {
		if(!frame->keyframe)
			vw->bad_first++;
		vw->started = true;
	} else if(n != vw->last_frame + 1) {
		vw->gaps++;
	}
	vw->last_frame = n;
	vw->frames++;
}

static void *churn(void *arg)
{
	cam_fanout *fo = arg;
	unsigned seed = 7;
	for(int round = 0; atomic_load(&producing) && round < 100000; round++) {
		viewer *vw = &viewers[rand_r(&seed) % VIEWERS];
		if(atomic_load(&vw->member)) {
			/* After remove returns, no more sends: clear the flag after. */
			CHECK(cam_fanout_remove(fo, vw));
			atomic_store(&vw->member, false);
		} else {
			/* A re-added viewer starts over, as a new connection would. */
			vw->started = false;
			atomic_store(&vw->member, true);
			/* Half of them join as sinks with their own send: same rules. */
			if((vw - viewers) % 2)
				CHECK(cam_fanout_add_sink(fo, vw, send_cb, NULL));
			else
				CHECK(cam_fanout_add(fo, vw));
		}
		usleep(50);
	}
	return NULL;
}

static void test_concurrent(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	pthread_t t;
	pthread_create(&t, NULL, churn, fo);
	uint8_t data[4][64];
	cam_packet packets[4];
	for(uint32_t f = 1; f <= FRAMES; f++) {
		for(int i = 0; i < 4; i++) {
			memcpy(data[i], &f, sizeof(f));
			packets[i] = (cam_packet){.data = data[i], .len = 64, .first = i == 0, .last = i == 3};
		}
		cam_fanout_frame frame = {.packets = packets, .count = 4, .keyframe = f % KEY_EVERY == 1};
		cam_fanout_deliver(fo, &frame);
		if(f % 500 == 0)
			usleep(1000);
	}
	atomic_store(&producing, false);
	pthread_join(t, NULL);
	int total = 0;
	for(int i = 0; i < VIEWERS; i++) {
		CHECK_EQ_INT(atomic_load(&viewers[i].after_remove), 0);
		CHECK_EQ_INT(viewers[i].torn, 0);
		CHECK_EQ_INT(viewers[i].bad_first, 0);
		total += viewers[i].frames;
		if(atomic_load(&viewers[i].member))
			CHECK(cam_fanout_remove(fo, &viewers[i]));
	}
	CHECK(total > 0);
	CHECK_EQ_INT(cam_fanout_count(fo), 0);
	CHECK_EQ_INT(cam_fanout_waiting(fo), 0);
	cam_fanout_free(fo);
	printf("# %d frames delivered across %d churning viewers\n", total, VIEWERS);
}

static int gap_frames;
static void count_cb(void *v, const cam_fanout_frame *frame, void *opaque)
{
	(*(int *)v)++;
	gap_frames += frame->keyframe;
}

static void test_waiting(void)
{
	cam_fanout *fo = cam_fanout_new(count_cb, NULL);
	int a = 0, b = 0;
	uint8_t byte = 0;
	cam_packet p = {.data = &byte, .len = 1, .first = true, .last = true};
	cam_fanout_frame delta = {.packets = &p, .count = 1, .keyframe = false};
	cam_fanout_frame key = {.packets = &p, .count = 1, .keyframe = true};
	CHECK(cam_fanout_add(fo, &a));
	CHECK(!cam_fanout_add(fo, &a));     /* twice: refused */
	CHECK_EQ_INT(cam_fanout_waiting(fo), 1);
	cam_fanout_deliver(fo, &delta);
	CHECK_EQ_INT(a, 0);                 /* no delta before the first key frame */
	cam_fanout_deliver(fo, &key);
	CHECK_EQ_INT(a, 1);
	CHECK_EQ_INT(cam_fanout_waiting(fo), 0);
	cam_fanout_deliver(fo, &delta);
	CHECK_EQ_INT(a, 2);
	CHECK(cam_fanout_add(fo, &b));
	CHECK_EQ_INT(cam_fanout_count(fo), 2);
	CHECK_EQ_INT(cam_fanout_waiting(fo), 1);
	cam_fanout_deliver(fo, &delta);
	CHECK_EQ_INT(a, 3);
	CHECK_EQ_INT(b, 0);
	CHECK(cam_fanout_remove(fo, &b));   /* removed while waiting */
	CHECK_EQ_INT(cam_fanout_waiting(fo), 0);
	CHECK(!cam_fanout_remove(fo, &b));
	uint64_t frames = 0, packets = 0;
	cam_fanout_totals(fo, &frames, &packets);
	CHECK_EQ_INT(frames, 3);
	CHECK_EQ_INT(packets, 3);
	CHECK(cam_fanout_remove(fo, &a));
	cam_fanout_free(fo);
}

/* A member with its own send function (a recorder) next to the viewers:
 * each gets its own callback and opaque, the sink waits for a key frame like
 * a joining viewer, and nothing reaches it after its removal. */
typedef struct sink_log {
	int frames, keyframes;
	void *last_opaque;
} sink_log;

static void default_cb(void *v, const cam_fanout_frame *frame, void *opaque)
{
	sink_log *log = v;
	log->frames++;
	log->keyframes += frame->keyframe;
	log->last_opaque = opaque;
}

static void sink_cb(void *v, const cam_fanout_frame *frame, void *opaque)
{
	sink_log *log = v;
	log->frames += 100;   /* tells the two callbacks apart */
	log->keyframes += frame->keyframe;
	log->last_opaque = opaque;
}

static void test_sink(void)
{
	int fanout_opaque = 0, sink_opaque = 0;
	cam_fanout *fo = cam_fanout_new(default_cb, &fanout_opaque);
	sink_log viewer = {0}, rec = {0};
	uint8_t byte = 0;
	cam_packet p = {.data = &byte, .len = 1, .first = true, .last = true};
	cam_fanout_frame delta = {.packets = &p, .count = 1, .keyframe = false};
	cam_fanout_frame key = {.packets = &p, .count = 1, .keyframe = true};

	CHECK(!cam_fanout_add_sink(fo, &rec, NULL, &sink_opaque));
	CHECK(cam_fanout_add(fo, &viewer));
	cam_fanout_deliver(fo, &key);
	cam_fanout_deliver(fo, &delta);
	CHECK(cam_fanout_add_sink(fo, &rec, sink_cb, &sink_opaque));
	CHECK(!cam_fanout_add_sink(fo, &rec, sink_cb, &sink_opaque));  /* twice */
	CHECK(!cam_fanout_add(fo, &rec));                              /* same member */
	CHECK_EQ_INT(cam_fanout_count(fo), 2);
	CHECK_EQ_INT(cam_fanout_waiting(fo), 1);   /* the pipeline forces a key frame */
	CHECK_EQ_INT(cam_fanout_deliver(fo, &delta), 1);
	CHECK_EQ_INT(rec.frames, 0);
	CHECK_EQ_INT(cam_fanout_deliver(fo, &key), 2);
	CHECK_EQ_INT(cam_fanout_deliver(fo, &delta), 2);
	CHECK_EQ_INT(cam_fanout_waiting(fo), 0);
	CHECK_EQ_INT(viewer.frames, 5);
	CHECK_EQ_INT(viewer.keyframes, 2);
	CHECK(viewer.last_opaque == &fanout_opaque);
	CHECK_EQ_INT(rec.frames, 200);
	CHECK_EQ_INT(rec.keyframes, 1);
	CHECK(rec.last_opaque == &sink_opaque);

	/* The viewer leaves: the sink goes on alone. */
	CHECK(cam_fanout_remove(fo, &viewer));
	CHECK_EQ_INT(cam_fanout_deliver(fo, &delta), 1);
	CHECK_EQ_INT(rec.frames, 300);
	CHECK(cam_fanout_remove(fo, &rec));
	CHECK_EQ_INT(cam_fanout_deliver(fo, &key), 0);
	CHECK_EQ_INT(rec.frames, 300);
	cam_fanout_free(fo);

	/* A fan-out without a default send takes sinks only. */
	fo = cam_fanout_new(NULL, NULL);
	CHECK(!cam_fanout_add(fo, &viewer));
	CHECK(cam_fanout_add_sink(fo, &rec, sink_cb, NULL));
	CHECK_EQ_INT(cam_fanout_deliver(fo, &key), 1);
	CHECK(rec.last_opaque == NULL);
	CHECK(cam_fanout_remove(fo, &rec));
	cam_fanout_free(fo);
}

int main(void)
{
	RUN(test_waiting);
	RUN(test_sink);
	RUN(test_concurrent);
	return check_exit();
}
