/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "camera.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "request.h"
#include "source.h"

struct cam_camera {
	cam_camera_config cfg;          /* owned copy */
	int index;
	cam_camera_callbacks cb;
	cam_fanout *fo;
	cam_pipeline *pipeline;
	/* The pipeline thread's: the last state other than idle. */
	cam_source_state last;
	cam_recording *rec;            /* NULL without a recording backend */
	pthread_mutex_t rec_lock;      /* serialises record/stop_record and rec_holding */
	bool rec_holding;              /* the recording holds the pipeline (on_demand) */
	_Atomic uint64_t drops[CAM_CAMERA_DROP_COUNT_];
};

/* Pipeline state changes; only failures and recoveries go on. */
static void on_state(void *opaque, cam_source_state state, const char *error)
{
	cam_camera *cam = opaque;
	bool recovered = state == CAM_SOURCE_RUNNING && cam->last == CAM_SOURCE_ERROR;
	if(state != CAM_SOURCE_IDLE)
		cam->last = state;
	if((state == CAM_SOURCE_ERROR || recovered) && cam->cb.source_event)
		cam->cb.source_event(cam->cb.opaque, cam, state, error);
}

static void on_recording_error(cam_recording *rec, const char *file, const char *error, void *opaque)
{
	cam_camera *cam = opaque;
	cam_log(CAM_LOG_ERR, "camera \"%s\": recording %s stopped: %s", cam->cfg.id, file, error);
	if(cam->cb.recording_error)
		cam->cb.recording_error(cam->cb.opaque, cam, file, error);
}

static cam_source *source_for(const cam_camera_config *cfg)
{
	/* A camera that is absent now is not an error: the pipeline retries. */
	if(cfg->source == CAM_SOURCE_KIND_V4L2)
		return cam_source_v4l2_new(cfg->device, cfg->width, cfg->height, cfg->fps);
	return cam_source_pattern_new(cfg->width, cfg->height, cfg->fps);
}

cam_camera *cam_camera_new(const cam_camera_config *cfg, int index, uint8_t payload_type,
	const cam_camera_callbacks *cb, char *err, size_t errlen)
{
	cam_camera *cam = calloc(1, sizeof(*cam));
	if(!cam) {
		cam_fail(-ENOMEM, err, errlen, "out of memory");
		return NULL;
	}
	cam_camera_config_copy(&cam->cfg, cfg);
	cam->index = index;
	cam->cb = *cb;
	cam->last = CAM_SOURCE_IDLE;
	cam_source *src = source_for(cfg);
	cam->fo = cam_fanout_new(cb->send, cb->opaque);
	cam_pipeline_config pc = {
		.encoder = {
			.width = cfg->width, .height = cfg->height, .fps = cfg->fps,
			.bitrate = cfg->bitrate, .keyframe_interval = cfg->keyframe_interval,
			.speed = cfg->speed, .threads = cfg->encoder_threads,
		},
		.keyframe_min_gap_ms = cfg->keyframe_min_gap_ms,
		.on_demand = cfg->on_demand,
		.payload_type = payload_type,
	};
	if(src && cam->fo)
		cam->pipeline = cam_pipeline_new(src, cam->fo, &pc, on_state, cam);
	pthread_mutex_init(&cam->rec_lock, NULL);
	if(cam->pipeline && cb->recording_ops)
		cam->rec = cam_recording_new(cfg->id, cfg->record_dir, cam->fo, cb->recording_ops, on_recording_error, cam);
	if(cam->pipeline && cb->recording_ops && !cam->rec) {
		cam_pipeline_free(cam->pipeline);
		cam->pipeline = NULL;
		src = NULL;     /* freed with the pipeline */
	}
	if(!cam->pipeline) {
		cam_fail(-ENOMEM, err, errlen, "camera \"%s\": could not create its %s", cfg->id,
			!src ? (cfg->source == CAM_SOURCE_KIND_V4L2 ? "V4L2 source" : "test pattern") : "pipeline");
		cam_source_free(src);
		cam_fanout_free(cam->fo);
		cam_camera_config_clear(&cam->cfg);
		free(cam);
		return NULL;
	}
	return cam;
}

int cam_camera_start(cam_camera *cam)
{
	int rc = cam_pipeline_start(cam->pipeline);
	char err[256] = "";
	if(rc == 0 && cam->cfg.record && cam->rec && cam_camera_record(cam, true, NULL, err, sizeof(err)))
		cam_log(CAM_LOG_ERR, "camera \"%s\": record = true, but %s", cam->cfg.id, err);
	return rc;
}

void cam_camera_free(cam_camera *cam)
{
	if(!cam)
		return;
	cam_recording_free(cam->rec);
	pthread_mutex_destroy(&cam->rec_lock);
	cam_pipeline_free(cam->pipeline);
	cam_fanout_free(cam->fo);
	cam_camera_config_clear(&cam->cfg);
	free(cam);
}

const char *cam_camera_id(const cam_camera *cam)
{
	return cam->cfg.id;
}

int cam_camera_index(const cam_camera *cam)
{
	return cam->index;
}

const cam_camera_config *cam_camera_settings(const cam_camera *cam)
{
	return &cam->cfg;
}

void cam_camera_hold(cam_camera *cam)
{
	cam_pipeline_hold(cam->pipeline);
}

void cam_camera_release(cam_camera *cam)
{
	cam_pipeline_release(cam->pipeline);
}

bool cam_camera_subscribe(cam_camera *cam, void *viewer)
{
	if(!cam_fanout_add(cam->fo, viewer))
		return false;
	/* The pipeline sees a waiting viewer and forces a key frame. */
	cam_pipeline_request_keyframe(cam->pipeline);
	return true;
}

bool cam_camera_unsubscribe(cam_camera *cam, void *viewer)
{
	return cam_fanout_remove(cam->fo, viewer);
}

void cam_camera_keyframe(cam_camera *cam)
{
	cam_pipeline_request_keyframe(cam->pipeline);
}

int cam_camera_configure(cam_camera *cam, const cam_pipeline_change *change, int timeout_ms,
	cam_pipeline_result *result)
{
	return cam_pipeline_configure(cam->pipeline, change, timeout_ms, result);
}

void cam_camera_status(cam_camera *cam, cam_pipeline_status *st)
{
	cam_pipeline_get_status(cam->pipeline, st);
}

int cam_camera_snapshot(cam_camera *cam, int width, int quality, int timeout_ms, cam_jpeg *out,
	int64_t *captured_ms, char *err, size_t errlen)
{
	cam_still still = CAM_STILL_INIT;
	int rc = cam_pipeline_snapshot(cam->pipeline, timeout_ms, &still);
	if(rc == -ENODEV || rc == -ETIMEDOUT) {
		cam_pipeline_status st;
		cam_pipeline_get_status(cam->pipeline, &st);
		return cam_fail(CAM_ERROR_SOURCE_UNAVAILABLE, err, errlen, "camera \"%s\": %s", cam->cfg.id,
			rc == -ETIMEDOUT ? "no picture in time" : st.error[0] ? st.error : "the source is down");
	}
	if(rc < 0)
		return cam_fail(CAM_ERROR_INTERNAL, err, errlen, "snapshot: %s", strerror(-rc));
	int w = 0, h = 0;
	if(width > 0 && cam_snapshot_size(still.width, still.height, width, &w, &h) < 0) {
		cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "width %d: the picture is %dx%d (even, %d..%d)", width,
			still.width, still.height, CAM_SNAPSHOT_MIN_WIDTH, still.width);
		cam_still_free(&still);
		return CAM_ERROR_INVALID_ELEMENT;
	}
	cam_frame f = cam_still_as_frame(&still);
	rc = cam_snapshot_encode(&f, width, quality, out);
	*captured_ms = still.realtime_ms;
	cam_still_free(&still);
	if(rc < 0)
		return cam_fail(CAM_ERROR_INTERNAL, err, errlen, "snapshot: JPEG encoding failed (%s)", strerror(-rc));
	return 0;
}

int cam_camera_record(cam_camera *cam, bool start, cam_recording_status *st, char *err, size_t errlen)
{
	cam_recording_status local;
	if(!st)
		st = &local;
	if(!cam->rec)
		return cam_fail(CAM_ERROR_RECORDING, err, errlen, "recording is not available");
	pthread_mutex_lock(&cam->rec_lock);
	int rc = start ? cam_recording_start(cam->rec, st) : cam_recording_stop(cam->rec, st);
	/* The camera is held exactly while the recording is started, whatever
	 * the outcome (a failed start after a write error stops the old file). */
	cam_recording_status now;
	cam_recording_status_get(cam->rec, &now);
	if(now.started && !cam->rec_holding)
		cam_pipeline_hold(cam->pipeline);
	if(!now.started && cam->rec_holding)
		cam_pipeline_release(cam->pipeline);
	cam->rec_holding = now.started;
	pthread_mutex_unlock(&cam->rec_lock);
	if(rc == -EALREADY)
		return cam_fail(CAM_ERROR_WRONG_STATE, err, errlen, "camera \"%s\" is recording already (%s)", cam->cfg.id, st->file);
	if(rc == -ENOENT)
		return cam_fail(CAM_ERROR_WRONG_STATE, err, errlen, "camera \"%s\" is not recording", cam->cfg.id);
	if(rc < 0)
		return cam_fail(CAM_ERROR_RECORDING, err, errlen, "camera \"%s\": %s", cam->cfg.id,
			st->error[0] ? st->error : strerror(-rc));
	return 0;
}

void cam_camera_recording_status(cam_camera *cam, cam_recording_status *st)
{
	if(cam->rec)
		cam_recording_status_get(cam->rec, st);
	else
		memset(st, 0, sizeof(*st));
}

static json_t *recording_json(cam_camera *cam)
{
	cam_recording_status st;
	cam_camera_recording_status(cam, &st);
	json_t *rec = json_object();
	json_object_set_new(rec, "active", json_boolean(st.active));
	json_object_set_new(rec, "file", cam_json_text(st.file));
	json_object_set_new(rec, "bytes", json_integer((json_int_t)st.bytes));
	json_object_set_new(rec, "frames", json_integer((json_int_t)st.frames));
	json_object_set_new(rec, "error", cam_json_text(st.error));
	return rec;
}

static json_t *source_json(const cam_camera *cam, const cam_pipeline_status *st)
{
	json_t *source = json_object();
	json_object_set_new(source, "kind", json_string(st->kind));
	json_object_set_new(source, "device", cam_json_text(st->device));
	json_object_set_new(source, "width", json_integer(st->width));
	json_object_set_new(source, "height", json_integer(st->height));
	json_object_set_new(source, "fps", json_integer(st->fps));
	json_object_set_new(source, "native_format", json_string(st->native_format));
	json_object_set_new(source, "state", json_string(cam_source_state_name(st->state)));
	json_object_set_new(source, "error", cam_json_text(st->error));
	json_object_set_new(source, "on_demand", json_boolean(cam->cfg.on_demand));
	return source;
}

static json_t *encoder_json(const cam_pipeline_status *st)
{
	json_t *encoder = json_object();
	json_object_set_new(encoder, "codec", json_string("vp8"));
	json_object_set_new(encoder, "bitrate", json_integer(st->bitrate));
	json_object_set_new(encoder, "keyframe_interval", json_integer(st->keyframe_interval));
	json_object_set_new(encoder, "keyframes", json_integer((json_int_t)st->keyframes));
	json_object_set_new(encoder, "forced_keyframes", json_integer((json_int_t)st->forced_keyframes));
	json_object_set_new(encoder, "frames", json_integer((json_int_t)st->frames));
	json_object_set_new(encoder, "bytes", json_integer((json_int_t)st->bytes));
	return encoder;
}

void cam_camera_count_drop(cam_camera *cam, cam_camera_drop why)
{
	if((unsigned)why < CAM_CAMERA_DROP_COUNT_)
		atomic_fetch_add_explicit(&cam->drops[why], 1, memory_order_relaxed);
}

uint64_t cam_camera_drops(const cam_camera *cam, cam_camera_drop why)
{
	if((unsigned)why >= CAM_CAMERA_DROP_COUNT_)
		return 0;
	return atomic_load_explicit(&cam->drops[why], memory_order_relaxed);
}

static json_t *drops_json(const cam_camera *cam)
{
	json_t *drops = json_object();
	json_object_set_new(drops, "silent", json_integer((json_int_t)cam_camera_drops(cam, CAM_CAMERA_DROP_SILENT)));
	json_object_set_new(drops, "unanswered",
		json_integer((json_int_t)cam_camera_drops(cam, CAM_CAMERA_DROP_UNANSWERED)));
	json_object_set_new(drops, "kicked", json_integer((json_int_t)cam_camera_drops(cam, CAM_CAMERA_DROP_KICKED)));
	return drops;
}

/* What `info` and `cameras` both say of a camera. */
static json_t *identity_json(const cam_camera *cam, int viewers)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(cam->cfg.id));
	json_object_set_new(o, "description", cam_json_text(cam->cfg.description));
	json_object_set_new(o, "viewers", json_integer(viewers));
	json_object_set_new(o, "max_viewers", json_integer(cam->cfg.max_viewers));
	return o;
}

json_t *cam_camera_info_json(cam_camera *cam, int viewers)
{
	cam_pipeline_status st;
	cam_pipeline_get_status(cam->pipeline, &st);
	json_t *info = identity_json(cam, viewers);
	json_object_set_new(info, "source", source_json(cam, &st));
	json_object_set_new(info, "encoder", encoder_json(&st));
	json_object_set_new(info, "recording", recording_json(cam));
	json_object_set_new(info, "drops", drops_json(cam));
	return info;
}

json_t *cam_camera_summary_json(cam_camera *cam, int viewers)
{
	cam_pipeline_status st;
	cam_pipeline_get_status(cam->pipeline, &st);
	json_t *entry = identity_json(cam, viewers);
	json_object_set_new(entry, "source", json_string(st.kind));
	json_object_set_new(entry, "width", json_integer(st.width));
	json_object_set_new(entry, "height", json_integer(st.height));
	json_object_set_new(entry, "fps", json_integer(st.fps));
	json_object_set_new(entry, "state", json_string(cam_source_state_name(st.state)));
	json_object_set_new(entry, "pin", json_boolean(cam->cfg.pin != NULL));
	cam_recording_status rs;
	cam_camera_recording_status(cam, &rs);
	json_object_set_new(entry, "recording", json_boolean(rs.active));
	return entry;
}

int cam_cameras_new(cam_cameras *set, const cam_config *cfg, uint8_t payload_type,
	const cam_camera_callbacks *cb, char *err, size_t errlen)
{
	memset(set, 0, sizeof(*set));
	for(int i = 0; i < cfg->n_cameras && i < CAM_MAX_CAMERAS; i++) {
		set->list[i] = cam_camera_new(&cfg->cameras[i], i, payload_type, cb, err, errlen);
		if(!set->list[i]) {
			cam_cameras_free(set);
			return -1;
		}
		set->count = i + 1;
	}
	return 0;
}

int cam_cameras_start(cam_cameras *set)
{
	for(int i = 0; i < set->count; i++) {
		int rc = cam_camera_start(set->list[i]);
		if(rc < 0)
			return rc;
	}
	return 0;
}

void cam_cameras_free(cam_cameras *set)
{
	for(int i = 0; i < set->count; i++)
		cam_camera_free(set->list[i]);
	memset(set, 0, sizeof(*set));
}
