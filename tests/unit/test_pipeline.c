/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The pipeline with the real pattern source, encoder and packetizer: on-demand
 * start and stop, a key frame for a joining viewer, coalesced key-frame
 * requests, and runtime configuration.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "pipeline.h"
#include "rtp_vp8.h"

typedef struct sink {
	atomic_int frames, keyframes, bad_packets;
	atomic_int first_is_key;   /* 1 yes, 0 not yet, -1 no */
} sink;

static void send_cb(void *v, const cam_fanout_frame *frame, void *opaque)
{
	sink *s = v;
	for(int i = 0; i < frame->count; i++) {
		cam_rtp_vp8_info info;
		if(cam_rtp_vp8_parse(frame->packets[i].data, frame->packets[i].len, &info) < 0 ||
				frame->packets[i].len > CAM_RTP_MAX_PACKET || info.marker != (i == frame->count - 1) ||
				info.start != (i == 0))
			atomic_fetch_add(&s->bad_packets, 1);
		if(i == 0 && info.keyframe != frame->keyframe)
			atomic_fetch_add(&s->bad_packets, 1);
	}
	if(atomic_load(&s->frames) == 0)
		atomic_store(&s->first_is_key, frame->keyframe ? 1 : -1);
	atomic_fetch_add(&s->frames, 1);
	if(frame->keyframe)
		atomic_fetch_add(&s->keyframes, 1);
}

static cam_pipeline *make(cam_fanout *fo, bool on_demand, int gap_ms)
{
	cam_pipeline_config cfg = {
		.encoder = {.width = 320, .height = 240, .fps = 30, .bitrate = 500000, .keyframe_interval = 0},
		.keyframe_min_gap_ms = gap_ms,
		.on_demand = on_demand,
		.payload_type = 96,
	};
	cam_source *src = cam_source_pattern_new(320, 240, 30);
	CHECK(src != NULL);
	cam_pipeline *p = cam_pipeline_new(src, fo, &cfg, NULL, NULL);
	CHECK(p != NULL);
	CHECK_EQ_INT(cam_pipeline_start(p), 0);
	return p;
}

static cam_pipeline_status status(cam_pipeline *p)
{
	cam_pipeline_status st;
	cam_pipeline_get_status(p, &st);
	return st;
}

static void test_on_demand(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline *p = make(fo, true, 250);
	usleep(300000);
	CHECK_EQ_INT(status(p).frames, 0);              /* nobody watches: nothing encoded */
	CHECK_EQ_INT(status(p).state, CAM_SOURCE_IDLE);
	cam_pipeline_hold(p);
	usleep(500000);
	cam_pipeline_status st = status(p);
	CHECK_EQ_INT(st.state, CAM_SOURCE_RUNNING);
	CHECK(st.frames >= 10 && st.frames <= 20);      /* ~15 at 30 fps */
	CHECK(st.keyframes >= 1);                       /* the first frame */
	cam_pipeline_release(p);
	usleep(300000);
	uint64_t stopped_at = status(p).frames;
	usleep(300000);
	CHECK_EQ_INT(status(p).frames, stopped_at);     /* stopped */
	CHECK_EQ_INT(status(p).state, CAM_SOURCE_IDLE);
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

static void test_join_gets_keyframe(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline *p = make(fo, false, 100);
	usleep(400000);   /* well past the first key frame; no periodic ones */
	uint64_t keys_before = status(p).keyframes;
	sink s = {0};
	cam_fanout_add(fo, &s);
	usleep(300000);
	CHECK(atomic_load(&s.frames) >= 5);
	CHECK_EQ_INT(atomic_load(&s.first_is_key), 1);
	CHECK_EQ_INT(atomic_load(&s.bad_packets), 0);
	CHECK_EQ_INT(status(p).keyframes, keys_before + 1);   /* exactly one, for the join */
	cam_fanout_remove(fo, &s);
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

/* An on-demand start: the first key frame reaches nobody, so the viewer
 * that subscribes right after must not wait keyframe_min_gap_ms for its own. */
static void test_on_demand_join_is_fast(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline *p = make(fo, true, 250);
	cam_pipeline_hold(p);
	for(int i = 0; i < 200 && status(p).frames == 0; i++)
		usleep(5000);
	CHECK(status(p).frames >= 1);
	sink s = {0};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cam_fanout_add(fo, &s);
	for(int i = 0; i < 400 && atomic_load(&s.frames) == 0; i++)
		usleep(1000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long waited = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("# first frame %ld ms after joining an on-demand start (gap 250 ms)\n", waited);
	CHECK_EQ_INT(atomic_load(&s.first_is_key), 1);
	CHECK(waited < 150);   /* one or two frame periods, not the 250 ms gap */
	cam_fanout_remove(fo, &s);
	cam_pipeline_release(p);
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

static void test_coalesced(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline *p = make(fo, false, 250);
	sink s = {0};
	cam_fanout_add(fo, &s);
	usleep(300000);
	uint64_t before = status(p).forced_keyframes;
	/* 200 requests over one second (a PLI storm): at most 1 s / 250 ms + 1. */
	for(int i = 0; i < 200; i++) {
		cam_pipeline_request_keyframe(p);
		usleep(5000);
	}
	usleep(300000);
	uint64_t forced = status(p).forced_keyframes - before;
	printf("# %llu forced key frames for 200 requests in 1 s (gap 250 ms)\n", (unsigned long long)forced);
	CHECK(forced >= 3 && forced <= 6);
	cam_fanout_remove(fo, &s);
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

static void test_configure(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline *p = make(fo, false, 250);
	usleep(200000);
	cam_pipeline_change change = {.bitrate = 200000, .fps = 10, .keyframe_interval = 2, .width = -1, .height = -1};
	cam_pipeline_configure(p, &change);
	CHECK_EQ_INT(status(p).bitrate, 200000);        /* reported at once */
	usleep(300000);
	cam_pipeline_status st = status(p);
	CHECK_EQ_INT(st.fps, 10);
	CHECK_EQ_INT(st.keyframe_interval, 2);
	uint64_t f0 = st.frames;
	usleep(1000000);
	uint64_t per_second = status(p).frames - f0;
	printf("# %llu frames in 1 s after fps=10\n", (unsigned long long)per_second);
	CHECK(per_second >= 8 && per_second <= 12);
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

int main(void)
{
	RUN(test_on_demand);
	RUN(test_join_gets_keyframe);
	RUN(test_on_demand_join_is_fast);
	RUN(test_coalesced);
	RUN(test_configure);
	return check_exit();
}
