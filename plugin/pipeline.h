/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The pipeline: one thread that owns the source, the encoder and the
 * packetizer, and feeds the fan-out.
 *
 *   source --newest frame--> encoder --frame--> packetizer --packets--> fan-out
 *
 * Other threads talk to it only through the functions below (atomics and a
 * mutex-protected pending-change record); none of them blocks on capture or
 * encoding.  Key frames are forced when a viewer waits for one (join), when
 * cam_pipeline_request_keyframe() is called (PLI, FIR, the `keyframe`
 * request), and after a restart; requests are coalesced and at most one
 * forced key frame is made per keyframe_min_gap_ms.  With on_demand, the
 * source is closed and nothing is encoded while nobody holds the pipeline.
 * cam_pipeline_snapshot() hands the next raw frame to any thread.
 * A failing source is closed and reopened with back-off; the state callback
 * reports it.
 */
#ifndef CAM_PIPELINE_H
#define CAM_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "encoder.h"
#include "fanout.h"
#include "snapshot.h"
#include "source.h"

typedef enum cam_source_state {
	CAM_SOURCE_IDLE,
	CAM_SOURCE_RUNNING,
	CAM_SOURCE_ERROR,
} cam_source_state;

const char *cam_source_state_name(cam_source_state state);

typedef struct cam_pipeline_config {
	cam_encoder_config encoder;     /* width, height, fps are also the source's */
	int keyframe_min_gap_ms;
	bool on_demand;
	uint8_t payload_type;
} cam_pipeline_config;

typedef struct cam_pipeline_status {
	cam_source_state state;
	char error[160];                /* empty unless state is ERROR */
	const char *kind;               /* the source's kind */
	const char *device;
	char native_format[16];
	int width, height, fps;
	int bitrate, keyframe_interval;
	uint64_t frames, keyframes;     /* encoded, non-empty */
	uint64_t bytes;
	uint64_t captured;              /* frames read from the source */
	uint64_t forced_keyframes;
	int holders;                    /* viewers, plus snapshots of an on_demand pipeline */
	uint64_t snapshot_copies;       /* frames copied for snapshots (one per batch of callers) */
	int snapshot_callers;           /* inside cam_pipeline_snapshot() now */
} cam_pipeline_status;

/* Called on the pipeline thread whenever the source state changes (idle,
 * running, error with a reason).  Must not block or call back in. */
typedef void (*cam_pipeline_state_fn)(void *opaque, cam_source_state state, const char *error);

typedef struct cam_pipeline cam_pipeline;

/* Takes ownership of src.  Does not start the thread. */
cam_pipeline *cam_pipeline_new(cam_source *src, cam_fanout *fo, const cam_pipeline_config *cfg,
	cam_pipeline_state_fn on_state, void *opaque);
/* 0 or -errno. */
int cam_pipeline_start(cam_pipeline *p);
/* Stops and joins the thread, frees the source and encoder. */
void cam_pipeline_free(cam_pipeline *p);

/* Demand counting for on_demand: a viewer holds the pipeline from `watch`
 * until it leaves. */
void cam_pipeline_hold(cam_pipeline *p);
void cam_pipeline_release(cam_pipeline *p);

void cam_pipeline_request_keyframe(cam_pipeline *p);

/* Runtime changes; a negative value leaves that setting alone.  Checked
 * here against what the encoder and the source accept, then applied on the
 * pipeline thread before the next frame.  A new size (width and height
 * together) restarts the source at that size (or the nearest it offers) and
 * the next frame is a key frame at that size. */
typedef struct cam_pipeline_change {
	int bitrate, fps, keyframe_interval, width, height;
} cam_pipeline_change;
#define CAM_PIPELINE_NO_CHANGE ((cam_pipeline_change){-1, -1, -1, -1, -1})

/* What a change came to: code 0 and the settings now in force (a V4L2
 * camera may have picked the nearest size or rate), or a negative errno and
 * a reason, with nothing changed: -EINVAL when the encoder or the source
 * refuses the values, -ETIMEDOUT when the pipeline did not take the change
 * in time, another errno when the source (source_failed) or the encoder
 * failed at the new settings (the source is put back to its old format,
 * the encoder re-made with the old settings). */
typedef struct cam_pipeline_result {
	int code;
	bool source_failed;
	char error[160];
	cam_pipeline_change applied;
} cam_pipeline_result;

/* Applies a change and waits (up to timeout_ms for the pipeline thread to
 * take it) for the outcome.  One change at a time: concurrent callers are
 * served in turn.  Returns result->code (-ECANCELED when the pipeline is
 * being freed).  No call may still be running when cam_pipeline_free()
 * destroys the pipeline. */
int cam_pipeline_configure(cam_pipeline *p, const cam_pipeline_change *change, int timeout_ms,
	cam_pipeline_result *result);

void cam_pipeline_get_status(cam_pipeline *p, cam_pipeline_status *st);

/* The next frame the source captures, raw (I420), for a snapshot: any
 * thread may call it; the pipeline thread only copies that frame once for
 * all the callers waiting at the time (no JPEG work there), so capture and
 * encoding go on at their pace.  An on_demand pipeline is held while the
 * call waits, so it starts the source when nobody watches (and stops it
 * again after, as usual).  *out is a still from CAM_STILL_INIT or an earlier
 * call (its buffer is reused or replaced; the caller frees it with
 * cam_still_free()); it is changed only on success.  Returns 0; -ENODEV at
 * once when the source is down (it failed to open or to deliver, and has
 * not delivered since), also while waiting; -ETIMEDOUT when no frame came
 * within timeout_ms; -ECANCELED when the pipeline is being freed
 * (cam_pipeline_free() waits for waiting callers to return; no call may
 * start once it has begun); -ENOMEM; -EINVAL. */
int cam_pipeline_snapshot(cam_pipeline *p, int timeout_ms, cam_still *out);

#endif
