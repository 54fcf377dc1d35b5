/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "cam_config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "log.h"
#include "stamp.h"

void cam_config_defaults(cam_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cam_camera_config *cam = &cfg->camera;
	cam->source = CAM_SOURCE_KIND_PATTERN;
	cam->device = strdup("/dev/video0");
	cam->width = 640;
	cam->height = 480;
	cam->fps = 30;
	cam->bitrate = 1000000;
	cam->keyframe_interval = 10;
	cam->keyframe_min_gap_ms = 250;
	cam->max_viewers = 0;
	cam->on_demand = true;
	cam->record_dir = strdup(CAM_DEFAULT_RECORD_DIR);
	cfg->control = CAM_CONTROL_SINGLE;
	cfg->deadman_ms = 1000;
	cfg->events = true;
	cfg->control_rate = 50;
	cfg->control_timeout_ms = 30000;
	cfg->telemetry_rate = 50;
	cfg->liveness_ms = 5000;
	cfg->prepare_timeout_ms = 10000;
	cfg->snapshot_rate = 2;
}

void cam_camera_config_clear(cam_camera_config *cam)
{
	free(cam->description);
	free(cam->device);
	free(cam->pin);
	free(cam->record_dir);
	memset(cam, 0, sizeof(*cam));
}

void cam_config_clear(cam_config *cfg)
{
	cam_camera_config_clear(&cfg->camera);
	for(int i = 0; i < cfg->n_cameras; i++)
		cam_camera_config_clear(&cfg->cameras[i]);
	free(cfg->cameras);
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
	/* Values end up in JSON answers and events, which must be UTF-8. */
	if(!g_utf8_validate(value, (gssize)len, NULL))
		return cam_fail(-EINVAL, err, errlen, "%s: not UTF-8", key);
	char *copy = strdup(value);
	if(!copy)
		return -ENOMEM;
	free(*out);
	*out = copy;
	return 0;
}

/* A camera key; -ENOENT when key is not one. */
static int camera_set(cam_camera_config *cam, const char *key, const char *value, char *err, size_t errlen)
{
	if(!strcmp(key, "source")) {
		if(!strcmp(value, "pattern"))
			cam->source = CAM_SOURCE_KIND_PATTERN;
		else if(!strcmp(value, "v4l2"))
			cam->source = CAM_SOURCE_KIND_V4L2;
		else
			return cam_fail(-EINVAL, err, errlen, "source: \"%s\" is neither \"pattern\" nor \"v4l2\"", value);
		return 0;
	}
	if(!strcmp(key, "description"))
		return parse_string(key, value, 255, &cam->description, err, errlen);
	if(!strcmp(key, "device"))
		return parse_string(key, value, 4095, &cam->device, err, errlen);
	if(!strcmp(key, "width"))
		return parse_int(key, value, CAM_MIN_WIDTH, CAM_MAX_WIDTH, &cam->width, err, errlen);
	if(!strcmp(key, "height"))
		return parse_int(key, value, CAM_MIN_HEIGHT, CAM_MAX_HEIGHT, &cam->height, err, errlen);
	if(!strcmp(key, "fps"))
		return parse_int(key, value, CAM_MIN_FPS, CAM_MAX_FPS, &cam->fps, err, errlen);
	if(!strcmp(key, "bitrate"))
		return parse_int(key, value, CAM_MIN_BITRATE, CAM_MAX_BITRATE, &cam->bitrate, err, errlen);
	if(!strcmp(key, "keyframe_interval"))
		return parse_int(key, value, 0, CAM_MAX_KEYFRAME_INTERVAL, &cam->keyframe_interval, err, errlen);
	if(!strcmp(key, "keyframe_min_gap_ms"))
		return parse_int(key, value, 0, 60000, &cam->keyframe_min_gap_ms, err, errlen);
	if(!strcmp(key, "max_viewers"))
		return parse_int(key, value, 0, 100000, &cam->max_viewers, err, errlen);
	if(!strcmp(key, "on_demand"))
		return parse_bool(key, value, &cam->on_demand, err, errlen);
	if(!strcmp(key, "pin"))
		return parse_string(key, value, 255, &cam->pin, err, errlen);
	if(!strcmp(key, "speed"))
		return parse_int(key, value, -16, 16, &cam->speed, err, errlen);
	if(!strcmp(key, "encoder_threads"))
		return parse_int(key, value, 0, 16, &cam->encoder_threads, err, errlen);
	if(!strcmp(key, "record"))
		return parse_bool(key, value, &cam->record, err, errlen);
	if(!strcmp(key, "record_dir"))
		return parse_string(key, value, CAM_MAX_RECORD_DIR, &cam->record_dir, err, errlen);
	return -ENOENT;
}

/* A plugin-wide key; -ENOENT when key is not one. */
static int plugin_set(cam_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
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
	if(!strcmp(key, "liveness_ms"))
		return parse_timeout(key, value, CAM_MIN_TIMEOUT_MS, CAM_MAX_TIMEOUT_MS, &cfg->liveness_ms, err, errlen);
	if(!strcmp(key, "prepare_timeout_ms"))
		return parse_timeout(key, value, CAM_MIN_TIMEOUT_MS, CAM_MAX_TIMEOUT_MS, &cfg->prepare_timeout_ms,
			err, errlen);
	if(!strcmp(key, "snapshot_rate"))
		return parse_int(key, value, 1, 100, &cfg->snapshot_rate, err, errlen);
	return -ENOENT;
}

int cam_config_set(cam_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
	if(!key || !value)
		return cam_fail(-EINVAL, err, errlen, "missing key or value");
	int rc = camera_set(&cfg->camera, key, value, err, errlen);
	if(rc == -ENOENT)
		rc = plugin_set(cfg, key, value, err, errlen);
	if(rc == -ENOENT && err && errlen)
		snprintf(err, errlen, "unknown key \"%s\"", key);
	return rc;
}

int cam_camera_config_set(cam_camera_config *cam, const char *key, const char *value, char *err, size_t errlen)
{
	if(!key || !value)
		return cam_fail(-EINVAL, err, errlen, "missing key or value");
	int rc = camera_set(cam, key, value, err, errlen);
	if(rc != -ENOENT)
		return rc;
	cam_config probe;
	cam_config_defaults(&probe);
	rc = plugin_set(&probe, key, value, NULL, 0);
	cam_config_clear(&probe);
	if(rc != -ENOENT)
		return cam_fail(-EINVAL, err, errlen, "%s belongs in general: (it is the same for every camera)", key);
	if(err && errlen)
		snprintf(err, errlen, "unknown key \"%s\"", key);
	return -ENOENT;
}

bool cam_camera_id_valid(const char *id)
{
	size_t len = id ? strlen(id) : 0;
	if(len == 0 || len > CAM_MAX_CAMERA_ID)
		return false;
	for(size_t i = 0; i < len; i++) {
		char c = id[i];
		if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void cam_camera_config_copy(cam_camera_config *dst, const cam_camera_config *src)
{
	*dst = *src;
	dst->description = dup_or_null(src->description);
	dst->device = dup_or_null(src->device);
	dst->pin = dup_or_null(src->pin);
	dst->record_dir = dup_or_null(src->record_dir);
}

cam_camera_config *cam_config_add_camera(cam_config *cfg, const char *id, char *err, size_t errlen)
{
	if(!cam_camera_id_valid(id)) {
		cam_fail(-EINVAL, err, errlen, "camera \"%s\": an id is 1 to %d letters, digits, '-' or '_'",
			id ? id : "", CAM_MAX_CAMERA_ID);
		return NULL;
	}
	if(cam_config_camera_index(cfg, id) >= 0) {
		cam_fail(-EINVAL, err, errlen, "camera \"%s\" is defined twice", id);
		return NULL;
	}
	if(cfg->n_cameras >= CAM_MAX_CAMERAS) {
		cam_fail(-EINVAL, err, errlen, "camera \"%s\": at most %d cameras", id, CAM_MAX_CAMERAS);
		return NULL;
	}
	cam_camera_config *grown = realloc(cfg->cameras, (size_t)(cfg->n_cameras + 1) * sizeof(*grown));
	if(!grown) {
		cam_fail(-ENOMEM, err, errlen, "out of memory");
		return NULL;
	}
	cfg->cameras = grown;
	cam_camera_config *cam = &cfg->cameras[cfg->n_cameras++];
	cam_camera_config_copy(cam, &cfg->camera);
	snprintf(cam->id, sizeof(cam->id), "%s", id);
	return cam;
}

int cam_config_finish(cam_config *cfg, char *err, size_t errlen)
{
	if(cfg->n_cameras == 0 && !cam_config_add_camera(cfg, CAM_DEFAULT_CAMERA_ID, err, errlen))
		return -EINVAL;
	for(int i = 0; i < cfg->n_cameras; i++) {
		char why[200] = "";
		if(cam_camera_config_check(&cfg->cameras[i], why, sizeof(why)) < 0)
			return cam_fail(-EINVAL, err, errlen, "camera \"%s\": %s", cfg->cameras[i].id, why);
	}
	return 0;
}

static bool is_general(const char *category)
{
	return category && !strcmp(category, "general");
}

/* general's items; each one's problem reported.  0 or -EINVAL. */
static int load_general(cam_config *cfg, const cam_config_entry *entries, size_t n,
	void (*report)(void *, const char *), void *opaque)
{
	int rc = 0;
	for(size_t i = 0; i < n; i++) {
		char err[256] = "", line[320];
		if(!is_general(entries[i].category) || !entries[i].key)
			continue;
		if(cam_config_set(cfg, entries[i].key, entries[i].value ? entries[i].value : "", err, sizeof(err)) < 0) {
			snprintf(line, sizeof(line), "general: %s", err);
			report(opaque, line);
			rc = -EINVAL;
		}
	}
	return rc;
}

/* One camera per other category; each problem reported.  0 or -EINVAL. */
static int load_cameras(cam_config *cfg, const cam_config_entry *entries, size_t n,
	void (*report)(void *, const char *), void *opaque)
{
	int rc = 0;
	int cam = -1;              /* index of the camera being read; -1: none, or refused */
	for(size_t i = 0; i < n; i++) {
		const cam_config_entry *e = &entries[i];
		char err[256] = "", line[320];
		if(!e->category || is_general(e->category))
			continue;
		if(!e->key) {
			cam = cam_config_add_camera(cfg, e->category, err, sizeof(err)) ? cfg->n_cameras - 1 : -1;
			if(cam < 0) {
				report(opaque, err);
				rc = -EINVAL;
			}
		} else if(cam >= 0 && cam_camera_config_set(&cfg->cameras[cam], e->key, e->value ? e->value : "",
				err, sizeof(err)) < 0) {
			snprintf(line, sizeof(line), "camera \"%s\": %s", e->category, err);
			report(opaque, line);
			rc = -EINVAL;
		}
	}
	return rc;
}

int cam_config_load(cam_config *cfg, const cam_config_entry *entries, size_t n,
	void (*report)(void *opaque, const char *problem), void *opaque)
{
	int rc = load_general(cfg, entries, n, report, opaque);
	if(load_cameras(cfg, entries, n, report, opaque) < 0)
		rc = -EINVAL;
	char err[256] = "";
	if(rc == 0 && cam_config_finish(cfg, err, sizeof(err)) < 0) {
		report(opaque, err);
		rc = -EINVAL;
	}
	return rc;
}

int cam_config_camera_index(const cam_config *cfg, const char *id)
{
	if(!id)
		return cfg->n_cameras > 0 ? 0 : -1;
	for(int i = 0; i < cfg->n_cameras; i++) {
		if(!strcmp(cfg->cameras[i].id, id))
			return i;
	}
	return -1;
}

const cam_camera_config *cam_config_camera(const cam_config *cfg, const char *id)
{
	int i = cam_config_camera_index(cfg, id);
	return i >= 0 ? &cfg->cameras[i] : NULL;
}

int cam_camera_config_check(const cam_camera_config *cfg, char *err, size_t errlen)
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
