/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The plugin's configuration (`general:` of janus.plugin.camera.jcfg) as a
 * typed struct with the contract's defaults, and its validation.
 *
 * Janus-free: plugin.c walks the jcfg items and feeds each one to
 * cam_config_set() as a string, exactly as Janus's config parser gives them.
 * A bad value is an error, never a guess.
 */
#ifndef CAM_CONFIG_H
#define CAM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum cam_source_kind {
	CAM_SOURCE_KIND_PATTERN,
	CAM_SOURCE_KIND_V4L2,
} cam_source_kind;

typedef enum cam_control_policy {
	CAM_CONTROL_NONE,
	CAM_CONTROL_SINGLE,
	CAM_CONTROL_OPEN,
} cam_control_policy;

typedef struct cam_config {
	cam_source_kind source;
	char *device;
	int width, height, fps;
	int bitrate;
	int keyframe_interval;
	int keyframe_min_gap_ms;
	int max_viewers;
	bool on_demand;
	char *pin;                 /* NULL = unset */
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
	int speed;                 /* libvpx cpu-used; 0 = automatic */
	int encoder_threads;       /* 0 = automatic */
	int liveness_ms;           /* a started viewer silent this long is dropped; 0 = never */
	int prepare_timeout_ms;    /* an unanswered offer is dropped after this; 0 = never */
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

/* Sets one key from its text.  0; -ENOENT for an unknown key; -EINVAL for a
 * bad value.  err gets a readable reason on failure. */
int cam_config_set(cam_config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Checks the combination (e.g. width/height vs. the stamp).  0 or -EINVAL. */
int cam_config_check(const cam_config *cfg, char *err, size_t errlen);

const char *cam_control_policy_name(cam_control_policy policy);

#endif
