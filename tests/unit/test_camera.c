/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Cameras: two cameras of different sizes and rates run side by side, each
 * viewer gets its own camera's stream (its size in the key frames, its own
 * SSRC, its own rate); a failing camera is reported with its own id and
 * leaves the other at full rate; what `info` and `cameras` say of a camera
 * (and that the pin itself is never said).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "camera.h"
#include "check.h"
#include "request.h"
#include "rtp_vp8.h"

typedef struct sink {
	atomic_int frames, keyframes;
	atomic_int width, height;    /* of the last key frame */
	atomic_uint ssrc;
} sink;

/* The size a VP8 key frame says (RFC 6386, 9.1). */
static void key_size(const uint8_t *vp8, size_t len, int *w, int *h)
{
	if(len < 10 || vp8[3] != 0x9d || vp8[4] != 0x01 || vp8[5] != 0x2a)
		return;
	*w = (vp8[6] | vp8[7] << 8) & 0x3fff;
	*h = (vp8[8] | vp8[9] << 8) & 0x3fff;
}

static void send_cb(void *v, const cam_fanout_frame *frame, void *opaque)
{
	sink *s = v;
	cam_rtp_vp8_info info;
	if(cam_rtp_vp8_parse(frame->packets[0].data, frame->packets[0].len, &info) != 0)
		return;
	atomic_store(&s->ssrc, info.ssrc);
	atomic_fetch_add(&s->frames, 1);
	if(frame->keyframe) {
		int w = 0, h = 0;
		key_size(info.payload, info.payload_len, &w, &h);
		atomic_store(&s->width, w);
		atomic_store(&s->height, h);
		atomic_fetch_add(&s->keyframes, 1);
	}
}

typedef struct events {
	pthread_mutex_t lock;
	int errors;
	char last_id[CAM_MAX_CAMERA_ID + 1];
} events;

static void on_source_event(void *opaque, cam_camera *cam, cam_source_state state, const char *error)
{
	events *e = opaque;
	pthread_mutex_lock(&e->lock);
	if(state == CAM_SOURCE_ERROR)
		e->errors++;
	snprintf(e->last_id, sizeof(e->last_id), "%s", cam_camera_id(cam));
	pthread_mutex_unlock(&e->lock);
}

static cam_camera_config *add(cam_config *cfg, const char *id, const char *const *kv)
{
	char err[200] = "";
	cam_camera_config *cam = cam_config_add_camera(cfg, id, err, sizeof(err));
	CHECK(cam != NULL);
	for(int i = 0; cam && kv[i]; i += 2)
		CHECK_EQ_INT(cam_camera_config_set(cam, kv[i], kv[i + 1], err, sizeof(err)), 0);
	return cam;
}

static cam_camera *make(cam_config *cfg, int i, events *ev)
{
	cam_camera_callbacks cb = {.send = send_cb, .source_event = on_source_event, .opaque = ev};
	char err[200] = "";
	cam_camera *cam = cam_camera_new(&cfg->cameras[i], i, 96, &cb, err, sizeof(err));
	CHECK(cam != NULL);
	if(cam)
		CHECK_EQ_INT(cam_camera_start(cam), 0);
	return cam;
}

static void test_two_cameras(void)
{
	cam_config cfg;
	cam_config_defaults(&cfg);
	char err[200] = "";
	add(&cfg, "front", (const char *const[]){"width", "320", "height", "240", "fps", "30", NULL});
	add(&cfg, "rear", (const char *const[]){"width", "160", "height", "120", "fps", "10",
		"description", "Rear", "pin", "s3cret", NULL});
	CHECK_EQ_INT(cam_config_finish(&cfg, err, sizeof(err)), 0);
	events ev = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cam_camera *front = make(&cfg, 0, &ev), *rear = make(&cfg, 1, &ev);
	sink a = {0}, b = {0};
	CHECK(cam_camera_subscribe(front, &a));
	CHECK(!cam_camera_subscribe(front, &a));
	CHECK(cam_camera_subscribe(rear, &b));
	cam_camera_hold(front);
	cam_camera_hold(rear);
	usleep(2000 * 1000);
	CHECK(cam_camera_unsubscribe(front, &a));
	CHECK(cam_camera_unsubscribe(rear, &b));
	CHECK(!cam_camera_unsubscribe(rear, &b));
	int fa = atomic_load(&a.frames), fb = atomic_load(&b.frames);
	printf("# front %d frames at %dx%d, rear %d frames at %dx%d\n", fa, atomic_load(&a.width),
		atomic_load(&a.height), fb, atomic_load(&b.width), atomic_load(&b.height));
	CHECK(atomic_load(&a.keyframes) >= 1 && atomic_load(&b.keyframes) >= 1);
	CHECK_EQ_INT(atomic_load(&a.width), 320);
	CHECK_EQ_INT(atomic_load(&a.height), 240);
	CHECK_EQ_INT(atomic_load(&b.width), 160);
	CHECK_EQ_INT(atomic_load(&b.height), 120);
	CHECK(fa >= 45 && fa <= 64);     /* 30 fps for 2 s, less the start */
	CHECK(fb >= 14 && fb <= 22);     /* 10 fps */
	CHECK(atomic_load(&a.ssrc) != atomic_load(&b.ssrc));
	/* Nothing after unsubscribe. */
	usleep(300 * 1000);
	CHECK_EQ_INT(atomic_load(&a.frames), fa);
	CHECK_EQ_INT(atomic_load(&b.frames), fb);
	CHECK_EQ_INT(ev.errors, 0);

	/* Drops are counted per camera and reason (info.drops). */
	cam_camera_count_drop(rear, CAM_CAMERA_DROP_SILENT);
	cam_camera_count_drop(rear, CAM_CAMERA_DROP_KICKED);
	cam_camera_count_drop(rear, CAM_CAMERA_DROP_KICKED);
	cam_camera_count_drop(rear, CAM_CAMERA_DROP_COUNT_);     /* not a reason: ignored */
	CHECK_EQ_INT(cam_camera_drops(front, CAM_CAMERA_DROP_KICKED), 0);
	CHECK_EQ_INT(cam_camera_drops(rear, CAM_CAMERA_DROP_COUNT_), 0);
	json_t *info = cam_camera_info_json(rear, 3);
	json_t *drops = json_object_get(info, "drops");
	CHECK_EQ_INT(json_integer_value(json_object_get(drops, "silent")), 1);
	CHECK_EQ_INT(json_integer_value(json_object_get(drops, "unanswered")), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(drops, "kicked")), 2);
	CHECK(!strcmp(json_string_value(json_object_get(info, "id")), "rear"));
	CHECK(!strcmp(json_string_value(json_object_get(info, "description")), "Rear"));
	CHECK_EQ_INT(json_integer_value(json_object_get(info, "viewers")), 3);
	json_t *src = json_object_get(info, "source");
	CHECK_EQ_INT(json_integer_value(json_object_get(src, "width")), 160);
	CHECK_EQ_INT(json_integer_value(json_object_get(src, "fps")), 10);
	CHECK(json_integer_value(json_object_get(json_object_get(info, "encoder"), "frames")) >= fb);
	char *text = json_dumps(info, 0);
	CHECK(text && !strstr(text, "s3cret"));
	free(text);
	json_decref(info);
	json_t *sum = cam_camera_summary_json(rear, 0);
	CHECK(json_is_true(json_object_get(sum, "pin")));
	CHECK(!strcmp(json_string_value(json_object_get(sum, "state")), "running"));
	text = json_dumps(sum, 0);
	CHECK(text && !strstr(text, "s3cret"));
	free(text);
	json_decref(sum);
	sum = cam_camera_summary_json(front, 0);
	CHECK(json_is_false(json_object_get(sum, "pin")));
	CHECK(json_is_null(json_object_get(sum, "description")));
	json_decref(sum);

	cam_camera_release(front);
	cam_camera_release(rear);
	cam_camera_free(front);
	cam_camera_free(rear);
	cam_config_clear(&cfg);
}

/* A camera that cannot open (a regular file is no V4L2 device) is reported
 * with its id and leaves the other at its full rate. */
static void test_failure_is_isolated(void)
{
	char path[] = "/tmp/test_camera_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	if(fd >= 0)
		close(fd);
	cam_config cfg;
	cam_config_defaults(&cfg);
	char err[200] = "";
	add(&cfg, "good", (const char *const[]){"width", "320", "height", "240", NULL});
	add(&cfg, "broken", (const char *const[]){"source", "v4l2", "device", path, NULL});
	CHECK_EQ_INT(cam_config_finish(&cfg, err, sizeof(err)), 0);
	events ev = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cam_camera *good = make(&cfg, 0, &ev), *broken = make(&cfg, 1, &ev);
	sink a = {0}, b = {0};
	cam_camera_subscribe(good, &a);
	cam_camera_subscribe(broken, &b);
	cam_camera_hold(good);
	cam_camera_hold(broken);
	usleep(2000 * 1000);
	cam_camera_unsubscribe(good, &a);
	cam_camera_unsubscribe(broken, &b);
	pthread_mutex_lock(&ev.lock);
	printf("# good camera: %d frames in 2 s; broken: %d frames, %d error event(s), last from \"%s\"\n",
		atomic_load(&a.frames), atomic_load(&b.frames), ev.errors, ev.last_id);
	CHECK(ev.errors >= 1);
	CHECK(!strcmp(ev.last_id, "broken"));
	pthread_mutex_unlock(&ev.lock);
	CHECK(atomic_load(&a.frames) >= 45);
	CHECK_EQ_INT(atomic_load(&b.frames), 0);
	cam_pipeline_status st;
	cam_camera_status(broken, &st);
	CHECK(st.state == CAM_SOURCE_ERROR || st.state == CAM_SOURCE_IDLE);
	cam_camera_status(good, &st);
	CHECK_EQ_INT(st.state, CAM_SOURCE_RUNNING);
	cam_camera_release(good);
	cam_camera_release(broken);
	cam_camera_free(good);
	cam_camera_free(broken);
	cam_config_clear(&cfg);
	unlink(path);
}

/* A backend whose disk fills after a few frames and whose second open
 * fails: the recording's hold on an on_demand camera follows whether it is
 * started, so a record refused after a write error leaves the camera free. */
static atomic_int opens, saves;

static void *full_open(const char *dir, const char *name, int *err, char *why, size_t why_size)
{
	if(atomic_fetch_add(&opens, 1) > 0) {
		*err = -EACCES;
		return NULL;
	}
	return &opens;
}

static int full_save(void *handle, const uint8_t *rtp, size_t len)
{
	return atomic_fetch_add(&saves, 1) < 20 ? 0 : -ENOSPC;
}

static int full_close(void *handle)
{
	return 0;
}

static const cam_recording_ops full_ops = {.ext = ".rec", .open = full_open, .save = full_save, .close = full_close};

static void test_record_hold(void)
{
	char dir[] = "/tmp/test_camera_rec_XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	cam_config cfg;
	cam_config_defaults(&cfg);
	char err[256] = "";
	add(&cfg, "cam", (const char *const[]){"width", "320", "height", "240", "record_dir", dir, NULL});
	CHECK_EQ_INT(cam_config_finish(&cfg, err, sizeof(err)), 0);
	events ev = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cam_camera_callbacks cb = {.send = send_cb, .source_event = on_source_event, .recording_ops = &full_ops, .opaque = &ev};
	cam_camera *cam = cam_camera_new(&cfg.cameras[0], 0, 96, &cb, err, sizeof(err));
	CHECK(cam != NULL);
	CHECK_EQ_INT(cam_camera_start(cam), 0);
	cam_recording_status st;
	CHECK_EQ_INT(cam_camera_record(cam, true, &st, err, sizeof(err)), 0);
	cam_pipeline_status ps;
	cam_camera_status(cam, &ps);
	CHECK_EQ_INT(ps.holders, 1);
	for(int i = 0; i < 100 && (cam_camera_recording_status(cam, &st), st.active); i++)
		usleep(50 * 1000);
	CHECK(!st.active && st.error[0]);           /* the disk filled */
	CHECK_EQ_INT(cam_camera_record(cam, true, &st, err, sizeof(err)), CAM_ERROR_RECORDING);
	printf("# record after a full disk: %s\n", err);
	cam_camera_status(cam, &ps);
	CHECK_EQ_INT(ps.holders, 0);                 /* not held by a recording that is not started */
	CHECK_EQ_INT(cam_camera_record(cam, false, &st, err, sizeof(err)), CAM_ERROR_WRONG_STATE);
	cam_camera_status(cam, &ps);
	CHECK_EQ_INT(ps.holders, 0);
	cam_camera_free(cam);
	cam_config_clear(&cfg);
	rmdir(dir);
}

int main(void)
{
	RUN(test_two_cameras);
	RUN(test_failure_is_isolated);
	RUN(test_record_hold);
	return check_exit();
}
