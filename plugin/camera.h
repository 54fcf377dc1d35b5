/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One camera: its source, encoder, packetizer and fan-out (through its
 * pipeline), and what it reports.  The plugin holds one per configured
 * camera; cameras share nothing, so one camera's failure (unplugged, busy,
 * a format it cannot give) never touches another.
 *
 * Janus-free.  Viewers are opaque pointers, served through the send
 * callback exactly as cam_fanout describes; the state callback hears only of
 * failures and recoveries (not of on-demand starts and stops), on the
 * camera's pipeline thread.
 */
#ifndef CAM_CAMERA_H
#define CAM_CAMERA_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cam_config.h"
#include "fanout.h"
#include "pipeline.h"
#include "recording.h"
#include "snapshot.h"

typedef struct cam_camera cam_camera;

typedef struct cam_camera_callbacks {
	cam_fanout_send_fn send;        /* a frame to one viewer; must not block */
	/* The source failed (ERROR, with a reason) or came back (RUNNING). */
	void (*source_event)(void *opaque, cam_camera *cam, cam_source_state state, const char *error);
	/* Where recordings are written (the plugin: Janus's recorder). */
	const cam_recording_ops *recording_ops;
	/* A recording stopped by a write error (full disk, ...), on its writer
	 * thread; must not call back into the camera's recording. */
	void (*recording_error)(void *opaque, cam_camera *cam, const char *file, const char *error);
	void *opaque;
} cam_camera_callbacks;

/* Builds the camera from its configuration (copied) without starting it.
 * NULL with a reason in err. */
cam_camera *cam_camera_new(const cam_camera_config *cfg, int index, uint8_t payload_type,
	const cam_camera_callbacks *cb, char *err, size_t errlen);
/* Starts its pipeline thread, and its recording when `record` is set (a
 * recording that cannot start is logged and kept as its error).  0 or
 * -errno. */
int cam_camera_start(cam_camera *cam);
/* Stops and frees; every viewer must have been unsubscribed. */
void cam_camera_free(cam_camera *cam);

const char *cam_camera_id(const cam_camera *cam);
/* Its position in the configuration. */
int cam_camera_index(const cam_camera *cam);
const cam_camera_config *cam_camera_settings(const cam_camera *cam);

/* Demand (on_demand): held by each viewer from `watch` until it leaves. */
void cam_camera_hold(cam_camera *cam);
void cam_camera_release(cam_camera *cam);

/* Subscribes a viewer to the frames (from the next key frame on, which is
 * forced now); false if it was already subscribed. */
bool cam_camera_subscribe(cam_camera *cam, void *viewer);
/* After it returns, the viewer gets nothing more; false if it was not
 * subscribed.  Never call it from inside send(). */
bool cam_camera_unsubscribe(cam_camera *cam, void *viewer);

/* A forced key frame, coalesced and rate-limited (PLI, FIR, `keyframe`). */
void cam_camera_keyframe(cam_camera *cam);

/* Runtime changes (cam_pipeline_configure). */
int cam_camera_configure(cam_camera *cam, const cam_pipeline_change *change, int timeout_ms,
	cam_pipeline_result *result);

void cam_camera_status(cam_camera *cam, cam_pipeline_status *st);

/* A JPEG of the next picture the camera captures (from the raw frame, so
 * never waiting for a key frame; an on_demand camera nobody watches is
 * started just long enough), `width` wide (0: full size) at `quality`
 * (1..100).  0, or a contract error code with a reason: 484 for a width
 * the picture cannot be scaled to, 488 when the source is down or gave no
 * picture within timeout_ms, 499 otherwise.  *captured_ms: the picture's
 * capture time (unix ms). */
int cam_camera_snapshot(cam_camera *cam, int width, int quality, int timeout_ms, cam_jpeg *out,
	int64_t *captured_ms, char *err, size_t errlen);

/* `record` (start) and `stop_record`: 0 with the status after, or a
 * contract error code with a reason: 487 when already recording (start) or
 * not recording (stop), 491 when the folder or file cannot be used.  A
 * recording holds an on_demand camera open from start to stop. */
int cam_camera_record(cam_camera *cam, bool start, cam_recording_status *st, char *err, size_t errlen);
void cam_camera_recording_status(cam_camera *cam, cam_recording_status *st);

/* Viewers the camera lost other than by leaving (*extension*: `info.drops`):
 * dropped by the watchdog (silent, unanswered) or kicked by an admin.  Any
 * thread, no lock. */
typedef enum cam_camera_drop {
	CAM_CAMERA_DROP_SILENT,
	CAM_CAMERA_DROP_UNANSWERED,
	CAM_CAMERA_DROP_KICKED,
	CAM_CAMERA_DROP_COUNT_,
} cam_camera_drop;
void cam_camera_count_drop(cam_camera *cam, cam_camera_drop why);
uint64_t cam_camera_drops(const cam_camera *cam, cam_camera_drop why);

/* The `info` answer's camera part: id, description, source, encoder,
 * recording, viewers (the caller counts them), max_viewers and drops. */
json_t *cam_camera_info_json(cam_camera *cam, int viewers);
/* One entry of the `cameras` answer: what a viewer may know (no secrets). */
json_t *cam_camera_summary_json(cam_camera *cam, int viewers);

/* Every camera of a configuration, in its order. */
typedef struct cam_cameras {
	cam_camera *list[CAM_MAX_CAMERAS];
	int count;
} cam_cameras;

/* Builds them all (none started): 0, or -1 with the reason and none left. */
int cam_cameras_new(cam_cameras *set, const cam_config *cfg, uint8_t payload_type,
	const cam_camera_callbacks *cb, char *err, size_t errlen);
/* Starts them all: 0, or -errno of the first that did not start. */
int cam_cameras_start(cam_cameras *set);
void cam_cameras_free(cam_cameras *set);

#endif
