/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The pipeline with the real pattern source, encoder and packetizer: on-demand
 * start and stop, a key frame for a joining viewer, coalesced key-frame
 * requests, runtime configuration, and snapshots (the next raw frame, for
 * any thread, without slowing the pipeline).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "pipeline.h"
#include "rtp_vp8.h"
#include "stamp.h"

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
	/* 200 requests over about one second (a PLI storm): at most one forced
	 * key frame per 250 ms of the time it really took (a loaded machine
	 * stretches the loop), plus the one at its start. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for(int i = 0; i < 200; i++) {
		cam_pipeline_request_keyframe(p);
		usleep(5000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long took = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	usleep(300000);
	uint64_t forced = status(p).forced_keyframes - before;
	printf("# %llu forced key frames for 200 requests in %ld ms (gap 250 ms)\n", (unsigned long long)forced, took);
	CHECK(forced >= 3);
	CHECK((long)forced <= (took + 300) / 250 + 1);
	cam_fanout_remove(fo, &s);
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

static int configure(cam_pipeline *p, cam_pipeline_change change, cam_pipeline_result *r)
{
	return cam_pipeline_configure(p, &change, 3000, r);
}

static void test_configure(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline *p = make(fo, false, 250);
	usleep(200000);
	cam_pipeline_result r;
	CHECK_EQ_INT(configure(p, (cam_pipeline_change){.bitrate = 200000, .fps = 10, .keyframe_interval = 2,
		.width = -1, .height = -1}, &r), 0);
	/* Applied before the answer, and the answer says what is in force. */
	CHECK_EQ_INT(r.applied.bitrate, 200000);
	CHECK_EQ_INT(r.applied.fps, 10);
	CHECK_EQ_INT(r.applied.keyframe_interval, 2);
	CHECK_EQ_INT(r.applied.width, 320);
	cam_pipeline_status st = status(p);
	CHECK_EQ_INT(st.bitrate, 200000);
	CHECK_EQ_INT(st.fps, 10);
	CHECK_EQ_INT(st.keyframe_interval, 2);
	usleep(200000);
	uint64_t f0 = status(p).frames;
	usleep(1000000);
	uint64_t per_second = status(p).frames - f0;
	printf("# %llu frames in 1 s after fps=10\n", (unsigned long long)per_second);
	CHECK(per_second >= 8 && per_second <= 12);
	/* A new size: in force at once, frames at that size. */
	CHECK_EQ_INT(configure(p, (cam_pipeline_change){.bitrate = -1, .fps = -1, .keyframe_interval = -1,
		.width = 640, .height = 480}, &r), 0);
	CHECK_EQ_INT(r.applied.width, 640);
	CHECK_EQ_INT(r.applied.height, 480);
	CHECK_EQ_INT(r.applied.fps, 10);
	CHECK_EQ_INT(status(p).width, 640);
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

/* A change that the source or the encoder refuses is answered with the
 * reason and changes nothing, not even the parts that were acceptable. */
static void test_configure_refused(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline *p = make(fo, false, 250);
	usleep(200000);
	cam_pipeline_result r;
	/* 4096x64 is too small for the pattern's stamp (two rows of 102 px). */
	int rc = configure(p, (cam_pipeline_change){.bitrate = 300000, .fps = 15, .keyframe_interval = 5,
		.width = 4096, .height = 64}, &r);
	printf("# refused: %s\n", r.error);
	CHECK_EQ_INT(rc, -EINVAL);
	CHECK(!r.source_failed);
	CHECK(strstr(r.error, "4096x64") != NULL);
	cam_pipeline_status st = status(p);
	CHECK_EQ_INT(st.bitrate, 500000);
	CHECK_EQ_INT(st.fps, 30);
	CHECK_EQ_INT(st.width, 320);
	CHECK_EQ_INT(st.height, 240);
	CHECK_EQ_INT(st.keyframe_interval, 0);
	CHECK_EQ_INT(r.applied.width, 320);
	CHECK_EQ_INT(r.applied.bitrate, 500000);
	/* The encoder's own limits: refused before the source is touched. */
	rc = configure(p, (cam_pipeline_change){.bitrate = 5000, .fps = -1, .keyframe_interval = -1,
		.width = -1, .height = -1}, &r);
	CHECK_EQ_INT(rc, -EINVAL);
	CHECK_EQ_INT(status(p).bitrate, 500000);
	/* Still encoding at the old settings. */
	uint64_t f0 = status(p).frames;
	usleep(300000);
	CHECK(status(p).frames >= f0 + 5);
	CHECK_EQ_INT(status(p).state, CAM_SOURCE_RUNNING);
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

/* A source whose frames the encoder cannot take for a while (a camera that
 * came back at a size libvpx refuses): the pipeline says so, in its state
 * and through the state callback, and recovers once frames are good. */
typedef struct odd_source {
	cam_source base;
	uint8_t y[320 * 240], u[160 * 120], v[160 * 120];
	atomic_int bad;            /* deliver 8x8 frames, which libvpx refuses */
	uint32_t counter;
} odd_source;

static int odd_open(cam_source *s)
{
	s->is_open = true;
	return 0;
}

static int odd_read(cam_source *s, cam_frame *f, int timeout_ms)
{
	odd_source *o = (odd_source *)s;
	usleep(33000);
	bool bad = atomic_load(&o->bad);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	*f = (cam_frame){
		.planes = {o->y, o->u, o->v}, .strides = {320, 160, 160},
		.width = bad ? 8 : 320, .height = bad ? 8 : 240,
		.capture_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000,
		.counter = o->counter++,
	};
	return 0;
}

static void odd_close(cam_source *s)
{
	s->is_open = false;
}

static int odd_set_format(cam_source *s, int width, int height, int fps)
{
	return -EINVAL;
}

static void odd_destroy(cam_source *s)
{
	free(s);
}

static const cam_source_ops odd_ops = {
	.kind = "odd", .open = odd_open, .read = odd_read, .close = odd_close,
	.set_format = odd_set_format, .destroy = odd_destroy,
};

typedef struct states {
	atomic_int errors, running;
	char last_error[160];
} states;

static void on_state(void *opaque, cam_source_state state, const char *error)
{
	states *st = opaque;
	if(state == CAM_SOURCE_ERROR) {
		snprintf(st->last_error, sizeof(st->last_error), "%s", error ? error : "");
		atomic_fetch_add(&st->errors, 1);
	} else if(state == CAM_SOURCE_RUNNING) {
		atomic_fetch_add(&st->running, 1);
	}
}

static void test_encoder_failure_recovers(void)
{
	odd_source *src = calloc(1, sizeof(*src));
	src->base = (cam_source){.ops = &odd_ops, .width = 320, .height = 240, .fps = 30};
	strcpy(src->base.native_format, "I420");
	memset(src->y, 128, sizeof(src->y));
	memset(src->u, 128, sizeof(src->u));
	memset(src->v, 128, sizeof(src->v));
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline_config cfg = {
		.encoder = {.width = 320, .height = 240, .fps = 30, .bitrate = 500000},
		.keyframe_min_gap_ms = 250, .payload_type = 96,
	};
	states st = {0};
	cam_pipeline *p = cam_pipeline_new(&src->base, fo, &cfg, on_state, &st);
	CHECK_EQ_INT(cam_pipeline_start(p), 0);
	usleep(300000);
	CHECK(status(p).frames >= 5);
	atomic_store(&src->bad, 1);
	usleep(500000);
	cam_pipeline_status s1 = status(p);
	printf("# while refused: state %s, error \"%s\"\n", cam_source_state_name(s1.state), s1.error);
	CHECK_EQ_INT(s1.state, CAM_SOURCE_ERROR);
	CHECK(strstr(s1.error, "encoder") != NULL && strstr(s1.error, "8x8") != NULL);
	CHECK(atomic_load(&st.errors) >= 1);
	uint64_t f1 = s1.frames;
	atomic_store(&src->bad, 0);
	/* Retried with back-off (at most REOPEN_MAX_MS apart). */
	for(int i = 0; i < 300 && status(p).state != CAM_SOURCE_RUNNING; i++)
		usleep(10000);
	usleep(300000);
	cam_pipeline_status s2 = status(p);
	CHECK_EQ_INT(s2.state, CAM_SOURCE_RUNNING);
	CHECK(s2.frames >= f1 + 5);
	CHECK(s2.keyframes >= s1.keyframes + 1);   /* the new encoder starts with one */
	CHECK(atomic_load(&st.running) >= 2);      /* first start, and the recovery */
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The still is the pattern's frame: its stamp says its own counter and time. */
static void check_still_stamp(const cam_still *s)
{
	uint32_t counter = 0, t = 0;
	CHECK(s->planes[0] != NULL &&
		cam_stamp_read(s->planes[0], s->strides[0], s->width, s->height, &counter, &t));
	CHECK_EQ_INT(counter, s->counter);
	CHECK_EQ_INT(t, (uint32_t)s->realtime_ms);
}

static void test_snapshot_running(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline *p = make(fo, false, 250);
	usleep(300000);
	cam_still s = CAM_STILL_INIT;
	int64_t last = -1;
	for(int i = 0; i < 5; i++) {
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK_EQ_INT(cam_pipeline_snapshot(p, 1000, &s), 0);
		long took = ms_since(&t0);
		/* The pattern's counter counts every frame read since it opened,
		 * as `captured` does since the pipeline started. */
		int64_t newest = (int64_t)status(p).captured - 1;
		printf("# snapshot %d: counter %u, newest %lld, %ld ms\n", i, s.counter, (long long)newest, took);
		CHECK(newest - s.counter >= 0 && newest - s.counter <= 2);
		CHECK((int64_t)s.counter > last);    /* the next frame, never one given before */
		CHECK(took < 500);
		last = s.counter;
		CHECK_EQ_INT(s.width, 320);
		CHECK_EQ_INT(s.height, 240);
		check_still_stamp(&s);
	}
	CHECK_EQ_INT(status(p).snapshot_copies, 5);
	CHECK_EQ_INT(status(p).snapshot_callers, 0);
	cam_still_free(&s);
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

static void test_snapshot_on_demand(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline *p = make(fo, true, 250);
	usleep(200000);
	CHECK_EQ_INT(status(p).state, CAM_SOURCE_IDLE);
	CHECK_EQ_INT(status(p).captured, 0);
	cam_still s = CAM_STILL_INIT;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ_INT(cam_pipeline_snapshot(p, 3000, &s), 0);
	long took = ms_since(&t0);
	printf("# snapshot of an idle on-demand pipeline: %ld ms, counter %u\n", took, s.counter);
	CHECK(took < 1000);
	CHECK(s.counter <= 2);                   /* one of the first frames after opening */
	check_still_stamp(&s);
	CHECK_EQ_INT(status(p).holders, 0);      /* held only during the call */
	/* Released: the source goes idle again and nothing more is captured. */
	for(int i = 0; i < 200 && status(p).state != CAM_SOURCE_IDLE; i++)
		usleep(10000);
	CHECK_EQ_INT(status(p).state, CAM_SOURCE_IDLE);
	uint64_t captured = status(p).captured;
	CHECK(captured >= 1);
	usleep(300000);
	CHECK_EQ_INT(status(p).captured, captured);
	cam_still_free(&s);
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

/* A source that cannot open (a camera that is not there), or that opens
 * and never delivers (a stuck one). */
typedef struct stub_source {
	cam_source base;
	bool stall;
} stub_source;

static int stub_open(cam_source *s)
{
	if(!((stub_source *)s)->stall)
		return -ENODEV;
	s->is_open = true;
	return 0;
}

static int stub_read(cam_source *s, cam_frame *f, int timeout_ms)
{
	usleep((useconds_t)timeout_ms * 1000);
	return -EAGAIN;
}

static const cam_source_ops stub_ops = {
	.kind = "stub", .open = stub_open, .read = stub_read, .close = odd_close,
	.set_format = odd_set_format, .destroy = odd_destroy,
};

static cam_pipeline *make_stub(cam_fanout *fo, bool stall, bool on_demand)
{
	stub_source *src = calloc(1, sizeof(*src));
	src->base = (cam_source){.ops = &stub_ops, .width = 320, .height = 240, .fps = 30};
	src->stall = stall;
	cam_pipeline_config cfg = {
		.encoder = {.width = 320, .height = 240, .fps = 30, .bitrate = 500000},
		.keyframe_min_gap_ms = 250, .on_demand = on_demand, .payload_type = 96,
	};
	cam_pipeline *p = cam_pipeline_new(&src->base, fo, &cfg, NULL, NULL);
	CHECK_EQ_INT(cam_pipeline_start(p), 0);
	return p;
}

static void test_snapshot_source_down(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	/* Always on, already failing: refused at once. */
	cam_pipeline *p = make_stub(fo, false, false);
	for(int i = 0; i < 200 && status(p).state != CAM_SOURCE_ERROR; i++)
		usleep(5000);
	CHECK_EQ_INT(status(p).state, CAM_SOURCE_ERROR);
	cam_still s = CAM_STILL_INIT;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ_INT(cam_pipeline_snapshot(p, 3000, &s), -ENODEV);
	long took = ms_since(&t0);
	CHECK(took < 100);    /* no waiting: a lock and a flag */
	CHECK(s.planes[0] == NULL && s.width == 0);
	cam_pipeline_free(p);
	/* On demand and idle: the call starts it, the open fails, the answer
	 * comes then (not after the timeout), and the hold is given back. */
	p = make_stub(fo, false, true);
	usleep(100000);
	CHECK_EQ_INT(status(p).state, CAM_SOURCE_IDLE);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ_INT(cam_pipeline_snapshot(p, 3000, &s), -ENODEV);
	took = ms_since(&t0);
	printf("# snapshot of a failing source: -ENODEV after %ld ms (on demand)\n", took);
	CHECK(took < 500);
	CHECK_EQ_INT(status(p).holders, 0);
	CHECK(s.planes[0] == NULL);
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

static void test_snapshot_timeout(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline *p = make_stub(fo, true, false);
	usleep(100000);
	cam_still s = CAM_STILL_INIT;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ_INT(cam_pipeline_snapshot(p, 300, &s), -ETIMEDOUT);
	long took = ms_since(&t0);
	CHECK(took >= 290 && took < 1000);
	CHECK_EQ_INT(status(p).snapshot_callers, 0);
	CHECK_EQ_INT(cam_pipeline_snapshot(p, -1, &s), -EINVAL);
	CHECK_EQ_INT(cam_pipeline_snapshot(p, 100, NULL), -EINVAL);
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

typedef struct snapper {
	cam_pipeline *p;
	pthread_t thread;
	atomic_int *stop;
	int timeout_ms;          /* > 0; < 0: a different one each call, 1..-timeout_ms */
	int rc;                  /* the last error, or 0 */
	int got, out_of_order, bad_stamps, encoded, timeouts;
	uint32_t last;
} snapper;

static void *snap_loop(void *arg)
{
	snapper *sn = arg;
	cam_still s = CAM_STILL_INIT;
	do {
		int timeout = sn->timeout_ms > 0 ? sn->timeout_ms : 1 + (sn->got + sn->timeouts * 7) % -sn->timeout_ms;
		int rc = cam_pipeline_snapshot(sn->p, timeout, &s);
		if(rc == -ETIMEDOUT && sn->timeout_ms < 0) {
			sn->timeouts++;
			continue;
		}
		if(rc < 0) {
			sn->rc = rc;
			break;
		}
		if(sn->got > 0 && s.counter <= sn->last)
			sn->out_of_order++;
		uint32_t c = 0;
		if(!cam_stamp_read(s.planes[0], s.strides[0], s.width, s.height, &c, NULL) || c != s.counter)
			sn->bad_stamps++;
		/* As the plugin will: the JPEG on this thread. */
		cam_frame f = cam_still_as_frame(&s);
		cam_jpeg j;
		if(cam_snapshot_encode(&f, 160, 85, &j) == 0) {
			sn->encoded++;
			cam_jpeg_free(&j);
		}
		sn->last = s.counter;
		sn->got++;
	} while(!atomic_load(sn->stop));
	cam_still_free(&s);
	return NULL;
}

/* Several threads taking snapshots back to back for a second: each gets a
 * stream of new frames, they share copies, and the encoder keeps its rate. */
static void test_snapshot_concurrent(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline *p = make(fo, false, 250);
	usleep(300000);
	uint64_t f0 = status(p).frames;
	usleep(1000000);
	uint64_t baseline = status(p).frames - f0;
	atomic_int stop = 0;
	snapper sn[4];
	uint64_t copies0 = status(p).snapshot_copies;
	f0 = status(p).frames;
	for(int i = 0; i < 4; i++) {
		sn[i] = (snapper){.p = p, .stop = &stop, .timeout_ms = 1000};
		CHECK_EQ_INT(pthread_create(&sn[i].thread, NULL, snap_loop, &sn[i]), 0);
	}
	usleep(1000000);
	uint64_t during = status(p).frames - f0;
	atomic_store(&stop, 1);
	int total = 0;
	for(int i = 0; i < 4; i++) {
		pthread_join(sn[i].thread, NULL);
		CHECK_EQ_INT(sn[i].rc, 0);
		CHECK(sn[i].got >= 10);
		CHECK_EQ_INT(sn[i].out_of_order, 0);
		CHECK_EQ_INT(sn[i].bad_stamps, 0);
		CHECK_EQ_INT(sn[i].encoded, sn[i].got);
		total += sn[i].got;
	}
	uint64_t copies = status(p).snapshot_copies - copies0;
	printf("# encoded %llu frames/s alone, %llu with 4 snapshot threads (%d snapshots from %llu copies)\n",
		(unsigned long long)baseline, (unsigned long long)during, total, (unsigned long long)copies);
	CHECK(during + 3 >= baseline);
	CHECK(baseline >= 20);
	CHECK(copies * 2 <= (uint64_t)total);    /* shared, not one copy per caller */
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

/* Callers that give up (timeouts shorter than a frame interval) beside
 * ones that wait: each gets a frame or -ETIMEDOUT, and batches given up on
 * are withdrawn or freed by whoever is last (the sanitizers see leaks and
 * use after free). */
static void test_snapshot_give_up(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline *p = make(fo, false, 250);
	usleep(200000);
	atomic_int stop = 0;
	snapper sn[4];
	for(int i = 0; i < 4; i++) {
		sn[i] = (snapper){.p = p, .stop = &stop, .timeout_ms = i == 0 ? 1000 : -40};
		CHECK_EQ_INT(pthread_create(&sn[i].thread, NULL, snap_loop, &sn[i]), 0);
	}
	usleep(1000000);
	atomic_store(&stop, 1);
	int timeouts = 0;
	for(int i = 0; i < 4; i++) {
		pthread_join(sn[i].thread, NULL);
		CHECK_EQ_INT(sn[i].rc, 0);
		CHECK(sn[i].got >= 5);
		CHECK_EQ_INT(sn[i].out_of_order, 0);
		CHECK_EQ_INT(sn[i].bad_stamps, 0);
		timeouts += sn[i].timeouts;
	}
	printf("# callers giving up after 1..40 ms: %d timeouts; %d, %d, %d frames; the patient one %d\n",
		timeouts, sn[1].got, sn[2].got, sn[3].got, sn[0].got);
	CHECK(timeouts >= 10);
	CHECK_EQ_INT(status(p).snapshot_callers, 0);
	cam_pipeline_free(p);
	cam_fanout_free(fo);
}

static void test_snapshot_cancelled(void)
{
	cam_fanout *fo = cam_fanout_new(send_cb, NULL);
	cam_pipeline *p = make_stub(fo, true, false);
	atomic_int stop = 1;
	snapper sn = {.p = p, .stop = &stop, .timeout_ms = 10000};
	CHECK_EQ_INT(pthread_create(&sn.thread, NULL, snap_loop, &sn), 0);
	for(int i = 0; i < 200 && status(p).snapshot_callers == 0; i++)
		usleep(5000);
	CHECK_EQ_INT(status(p).snapshot_callers, 1);
	usleep(50000);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cam_pipeline_free(p);
	long took = ms_since(&t0);
	pthread_join(sn.thread, NULL);
	CHECK_EQ_INT(sn.rc, -ECANCELED);
	CHECK_EQ_INT(sn.got, 0);
	CHECK(took < 1000);
	cam_fanout_free(fo);
}

int main(void)
{
	RUN(test_on_demand);
	RUN(test_join_gets_keyframe);
	RUN(test_on_demand_join_is_fast);
	RUN(test_coalesced);
	RUN(test_configure);
	RUN(test_configure_refused);
	RUN(test_encoder_failure_recovers);
	RUN(test_snapshot_running);
	RUN(test_snapshot_on_demand);
	RUN(test_snapshot_source_down);
	RUN(test_snapshot_timeout);
	RUN(test_snapshot_concurrent);
	RUN(test_snapshot_give_up);
	RUN(test_snapshot_cancelled);
	return check_exit();
}
