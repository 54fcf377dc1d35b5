/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The plugin's configuration (janus.plugin.camera.jcfg: `general:` and one
 * category per camera) as a typed struct with the contract's defaults, and
 * its validation.
 *
 * Janus-free: plugin.c walks the jcfg items and feeds each one to
 * cam_config_set() as a string, exactly as Janus's config parser gives them.
 * A bad value is an error, never a guess.
 */
#ifndef CAM_CONFIG_H
#define CAM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* Camera ids: letters, digits, '-' and '_'. */
#define CAM_MAX_CAMERA_ID 32
#define CAM_MAX_CAMERAS 16
#define CAM_DEFAULT_CAMERA_ID "default"
/* Longest record_dir: room for "/<id>-<date>-<n>.mjr" within the
 * recorder's 1024-byte paths. */
#define CAM_MAX_RECORD_DIR 960
#define CAM_DEFAULT_RECORD_DIR "/srv/janus-camera/recordings"

typedef enum cam_source_kind {
	CAM_SOURCE_KIND_PATTERN,
	CAM_SOURCE_KIND_V4L2,
} cam_source_kind;

typedef enum cam_control_policy {
	CAM_CONTROL_NONE,
	CAM_CONTROL_SINGLE,
	CAM_CONTROL_OPEN,
} cam_control_policy;

/* One camera's settings.  In `general:` they are the defaults of every
 * camera; each other category of the file is a camera, named by its id. */
typedef struct cam_camera_config {
	char id[CAM_MAX_CAMERA_ID + 1];
	char *description;         /* NULL = unset */
	cam_source_kind source;
	char *device;
	int width, height, fps;
	int bitrate;
	int keyframe_interval;
	int keyframe_min_gap_ms;
	int max_viewers;
	bool on_demand;
	char *pin;                 /* NULL = unset */
	int speed;                 /* libvpx cpu-used; 0 = automatic */
	int encoder_threads;       /* 0 = automatic */
	bool record;               /* record from the start */
	char *record_dir;          /* where recordings go */
} cam_camera_config;

typedef struct cam_config {
	cam_camera_config camera;  /* general's camera keys: every camera's defaults */
	char *admin_key;           /* NULL = admin requests refused */
	cam_control_policy control;
	char *control_socket;      /* NULL = unset */
	int deadman_ms;
	bool events;
	/* Extensions (documented in the README). */
	char *control_pin;         /* needed by take_control when set */
	int control_rate;          /* control messages per second per viewer */
	int control_timeout_ms;    /* controller silence before it loses control; 0 = never */
	int telemetry_rate;        /* telemetry lines per second per viewer */
	int liveness_ms;           /* a started viewer silent this long is dropped; 0 = never */
	int prepare_timeout_ms;    /* an unanswered offer is dropped after this; 0 = never */
	int snapshot_rate;         /* snapshots per second per handle */
	/* The cameras, in the file's order (cam_config_finish() makes the one
	 * camera "default" from general when the file defines none). */
	cam_camera_config *cameras;
	int n_cameras;
} cam_config;

/* Limits shared with the request validation (`configure`). */
#define CAM_MIN_WIDTH 80
#define CAM_MAX_WIDTH 4096
#define CAM_MIN_HEIGHT 64
#define CAM_MAX_HEIGHT 4096
#define CAM_MIN_BITRATE 50000
#define CAM_MAX_BITRATE 20000000
#define CAM_MIN_FPS 1
#define CAM_MAX_FPS 60
#define CAM_MAX_KEYFRAME_INTERVAL 3600
/* liveness_ms and prepare_timeout_ms: 0 (off) or within these. */
#define CAM_MIN_TIMEOUT_MS 1000
#define CAM_MAX_TIMEOUT_MS 600000

void cam_config_defaults(cam_config *cfg);
void cam_config_clear(cam_config *cfg);

/* Sets one key of `general:` from its text (a camera key sets the default
 * of every camera added after).  0; -ENOENT for an unknown key; -EINVAL
 * for a bad value.  err gets a readable reason on failure. */
int cam_config_set(cam_config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Adds a camera with the given id, starting from general's camera keys.
 * NULL with a reason for a bad or duplicated id, or too many cameras. */
cam_camera_config *cam_config_add_camera(cam_config *cfg, const char *id, char *err, size_t errlen);

/* Sets one key of a camera's section: as cam_config_set(), and -EINVAL for
 * a key that belongs in `general:` only. */
int cam_camera_config_set(cam_camera_config *cam, const char *key, const char *value, char *err, size_t errlen);

/* After the whole file: makes the "default" camera when none was defined,
 * then checks every camera (the reason names the camera).  0 or -EINVAL. */
int cam_config_finish(cam_config *cfg, char *err, size_t errlen);

/* One item of a parsed file: key = value in category (NULL: outside any).
 * An entry whose key is NULL starts a category, so that an empty section
 * is a camera too. */
typedef struct cam_config_entry {
	const char *category;
	const char *key;
	const char *value;
} cam_config_entry;

/* Loads a parsed file into cfg (fresh from cam_config_defaults()):
 * general's keys first (its camera keys are every camera's defaults), then
 * a camera per other category in the file's order, then
 * cam_config_finish().  Every problem goes to report(), one line each,
 * naming the camera and the key; 0 when there was none, else -EINVAL. */
int cam_config_load(cam_config *cfg, const cam_config_entry *entries, size_t n,
	void (*report)(void *opaque, const char *problem), void *opaque);

/* Checks one camera's combination (e.g. width/height vs. the stamp). */
int cam_camera_config_check(const cam_camera_config *cam, char *err, size_t errlen);

/* The camera with this id, or the first camera for NULL; NULL when none. */
const cam_camera_config *cam_config_camera(const cam_config *cfg, const char *id);
/* Its index in cfg->cameras, or -1. */
int cam_config_camera_index(const cam_config *cfg, const char *id);

/* A deep copy (strings duplicated), and freeing one. */
void cam_camera_config_copy(cam_camera_config *dst, const cam_camera_config *src);
void cam_camera_config_clear(cam_camera_config *cam);

/* Whether a text is a valid camera id. */
bool cam_camera_id_valid(const char *id);

const char *cam_control_policy_name(cam_control_policy policy);

#endif
