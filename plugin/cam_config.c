/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "cam_config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "stamp.h"

void cam_config_defaults(cam_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->source = CAM_SOURCE_KIND_PATTERN;
	cfg->device = strdup("/dev/video0");
	cfg->width = 640;
	cfg->height = 480;
	cfg->fps = 30;
	cfg->bitrate = 1000000;
	cfg->keyframe_interval = 10;
	cfg->keyframe_min_gap_ms = 250;
	cfg->max_viewers = 0;
	cfg->on_demand = true;
	cfg->control = CAM_CONTROL_SINGLE;
	cfg->deadman_ms = 1000;
	cfg->events = true;
	cfg->control_rate = 50;
	cfg->control_timeout_ms = 30000;
	cfg->telemetry_rate = 50;
	cfg->liveness_ms = 5000;
	cfg->prepare_timeout_ms = 10000;
}

void cam_config_clear(cam_config *cfg)
{
	free(cfg->device);
	free(cfg->pin);
	free(cfg->admin_key);
	free(cfg->control_socket);
	free(cfg->control_pin);
	memset(cfg, 0, sizeof(*cfg));
}

/* Whole-string integer in [min, max]; no trailing garbage, no overflow. */
static int parse_int(const char *key, const char *value, long min, long max, int *out,
	char *err, size_t errlen)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(value, &end, 10);
	if(errno != 0 || end == value || *end != '\0')
		return cam_fail(-EINVAL, err, errlen, "%s: \"%s\" is not an integer", key, value);
	if(v < min || v > max)
		return cam_fail(-EINVAL, err, errlen, "%s: %ld is out of range (%ld..%ld)", key, v, min, max);
	*out = (int)v;
	return 0;
}

/* A time in ms: 0 (off, never) or within min..max. */
static int parse_timeout(const char *key, const char *value, int min, int max, int *out, char *err, size_t errlen)
{
	int v = 0;
	int rc = parse_int(key, value, 0, max, &v, err, errlen);
	if(rc == 0 && v != 0 && v < min)
		return cam_fail(-EINVAL, err, errlen, "%s: %d is out of range (0 = off, or %d..%d)", key, v, min, max);
	if(rc == 0)
		*out = v;
	return rc;
}

static int parse_bool(const char *key, const char *value, bool *out, char *err, size_t errlen)
{
	if(!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1")) {
		*out = true;
		return 0;
	}
	if(!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcmp(value, "0")) {
		*out = false;
		return 0;
	}
	return cam_fail(-EINVAL, err, errlen, "%s: \"%s\" is not a boolean (true or false)", key, value);
}

/* A non-empty string without control characters, at most max bytes. */
static int parse_string(const char *key, const char *value, size_t max, char **out,
	char *err, size_t errlen)
{
	size_t len = strlen(value);
	if(len == 0)
		return cam_fail(-EINVAL, err, errlen, "%s: empty value", key);
	if(len > max)
		return cam_fail(-EINVAL, err, errlen, "%s: longer than %zu bytes", key, max);
	for(size_t i = 0; i < len; i++) {
		if((unsigned char)value[i] < 0x20)
			return cam_fail(-EINVAL, err, errlen, "%s: contains a control character", key);
	}
	char *copy = strdup(value);
	if(!copy)
		return -ENOMEM;
	free(*out);
	*out = copy;
	return 0;
}

int cam_config_set(cam_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
	if(!key || !value)
		return cam_fail(-EINVAL, err, errlen, "missing key or value");
	if(!strcmp(key, "source")) {
		if(!strcmp(value, "pattern"))
			cfg->source = CAM_SOURCE_KIND_PATTERN;
		else if(!strcmp(value, "v4l2"))
			cfg->source = CAM_SOURCE_KIND_V4L2;
		else
			return cam_fail(-EINVAL, err, errlen, "source: \"%s\" is neither \"pattern\" nor \"v4l2\"", value);
		return 0;
	}
	if(!strcmp(key, "device"))
		return parse_string(key, value, 4095, &cfg->device, err, errlen);
	if(!strcmp(key, "width"))
		return parse_int(key, value, CAM_MIN_WIDTH, CAM_MAX_WIDTH, &cfg->width, err, errlen);
	if(!strcmp(key, "height"))
		return parse_int(key, value, CAM_MIN_HEIGHT, CAM_MAX_HEIGHT, &cfg->height, err, errlen);
	if(!strcmp(key, "fps"))
		return parse_int(key, value, CAM_MIN_FPS, CAM_MAX_FPS, &cfg->fps, err, errlen);
	if(!strcmp(key, "bitrate"))
		return parse_int(key, value, CAM_MIN_BITRATE, CAM_MAX_BITRATE, &cfg->bitrate, err, errlen);
	if(!strcmp(key, "keyframe_interval"))
		return parse_int(key, value, 0, CAM_MAX_KEYFRAME_INTERVAL, &cfg->keyframe_interval, err, errlen);
	if(!strcmp(key, "keyframe_min_gap_ms"))
		return parse_int(key, value, 0, 60000, &cfg->keyframe_min_gap_ms, err, errlen);
	if(!strcmp(key, "max_viewers"))
		return parse_int(key, value, 0, 100000, &cfg->max_viewers, err, errlen);
	if(!strcmp(key, "on_demand"))
		return parse_bool(key, value, &cfg->on_demand, err, errlen);
	if(!strcmp(key, "pin"))
		return parse_string(key, value, 255, &cfg->pin, err, errlen);
	if(!strcmp(key, "admin_key"))
		return parse_string(key, value, 255, &cfg->admin_key, err, errlen);
	if(!strcmp(key, "control")) {
		if(!strcmp(value, "none"))
			cfg->control = CAM_CONTROL_NONE;
		else if(!strcmp(value, "single"))
			cfg->control = CAM_CONTROL_SINGLE;
		else if(!strcmp(value, "open"))
			cfg->control = CAM_CONTROL_OPEN;
		else
			return cam_fail(-EINVAL, err, errlen, "control: \"%s\" is not one of \"none\", \"single\", \"open\"", value);
		return 0;
	}
	if(!strcmp(key, "control_socket"))
		return parse_string(key, value, 107, &cfg->control_socket, err, errlen);  /* sun_path */
	if(!strcmp(key, "deadman_ms"))
		return parse_int(key, value, 50, 600000, &cfg->deadman_ms, err, errlen);
	if(!strcmp(key, "events"))
		return parse_bool(key, value, &cfg->events, err, errlen);
	if(!strcmp(key, "control_pin"))
		return parse_string(key, value, 255, &cfg->control_pin, err, errlen);
	if(!strcmp(key, "control_rate"))
		return parse_int(key, value, 1, 1000, &cfg->control_rate, err, errlen);
	if(!strcmp(key, "control_timeout_ms"))
		return parse_timeout(key, value, 100, 86400000, &cfg->control_timeout_ms, err, errlen);
	if(!strcmp(key, "telemetry_rate"))
		return parse_int(key, value, 1, 10000, &cfg->telemetry_rate, err, errlen);
	if(!strcmp(key, "speed"))
		return parse_int(key, value, -16, 16, &cfg->speed, err, errlen);
	if(!strcmp(key, "encoder_threads"))
		return parse_int(key, value, 0, 16, &cfg->encoder_threads, err, errlen);
	if(!strcmp(key, "liveness_ms"))
		return parse_timeout(key, value, CAM_MIN_TIMEOUT_MS, CAM_MAX_TIMEOUT_MS, &cfg->liveness_ms, err, errlen);
	if(!strcmp(key, "prepare_timeout_ms"))
		return parse_timeout(key, value, CAM_MIN_TIMEOUT_MS, CAM_MAX_TIMEOUT_MS, &cfg->prepare_timeout_ms,
			err, errlen);
	if(err && errlen)
		snprintf(err, errlen, "unknown key \"%s\"", key);
	return -ENOENT;
}

int cam_config_check(const cam_config *cfg, char *err, size_t errlen)
{
	if(cfg->width % 2 || cfg->height % 2)
		return cam_fail(-EINVAL, err, errlen, "width and height must be even (got %dx%d)", cfg->width, cfg->height);
	if(cfg->source == CAM_SOURCE_KIND_PATTERN && cam_stamp_height(cfg->width) * 2 > cfg->height)
		return cam_fail(-EINVAL, err, errlen, "%dx%d is too small for the test pattern's stamp", cfg->width, cfg->height);
	if(cfg->source == CAM_SOURCE_KIND_V4L2 && (!cfg->device || cfg->device[0] != '/'))
		return cam_fail(-EINVAL, err, errlen, "device must be an absolute path for source = \"v4l2\"");
	return 0;
}

const char *cam_control_policy_name(cam_control_policy policy)
{
	switch(policy) {
		case CAM_CONTROL_NONE:
			return "none";
		case CAM_CONTROL_OPEN:
			return "open";
		case CAM_CONTROL_SINGLE:
		default:
			return "single";
	}
}
