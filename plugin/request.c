/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "request.h"

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* What a field may be.  Unknown fields are ignored, as Janus clients add
 * their own (e.g. janus.js never does, but scripts may). */
typedef enum field_type {
	FIELD_STRING,     /* at most CAM_MAX_STRING bytes */
	FIELD_INT,        /* within [min, max] */
	FIELD_ID,         /* a viewer id: integer in 1 .. 2^53 */
	FIELD_CAMERA,     /* a camera id (cam_camera_id_valid) */
	FIELD_ANY,        /* any JSON value */
} field_type;

typedef struct field_spec {
	const char *name;
	field_type type;
	bool required;
	json_int_t min, max;
} field_spec;

typedef struct request_spec {
	const char *name;
	cam_request_kind kind;
	bool async;
	bool admin;
	const field_spec *fields;
} request_spec;

#define END {NULL, FIELD_ANY, false, 0, 0}
#define CAMERA {"camera", FIELD_CAMERA, false, 0, 0}
#define ADMIN_KEY {"admin_key", FIELD_STRING, false, 0, 0}
#define PIN {"pin", FIELD_STRING, false, 0, 0}

static const field_spec no_fields[] = {END};
static const field_spec camera_fields[] = {CAMERA, END};
static const field_spec watch_fields[] = {PIN, CAMERA, END};
static const field_spec admin_fields[] = {ADMIN_KEY, CAMERA, END};
static const field_spec take_control_fields[] = {PIN, ADMIN_KEY, END};
static const field_spec send_fields[] = {{"data", FIELD_ANY, true, 0, 0}, END};
static const field_spec configure_fields[] = {
	ADMIN_KEY, CAMERA,
	{"bitrate", FIELD_INT, false, CAM_MIN_BITRATE, CAM_MAX_BITRATE},
	{"fps", FIELD_INT, false, CAM_MIN_FPS, CAM_MAX_FPS},
	{"keyframe_interval", FIELD_INT, false, 0, CAM_MAX_KEYFRAME_INTERVAL},
	{"width", FIELD_INT, false, CAM_MIN_WIDTH, CAM_MAX_WIDTH},
	{"height", FIELD_INT, false, CAM_MIN_HEIGHT, CAM_MAX_HEIGHT},
	END,
};
static const field_spec kick_fields[] = {ADMIN_KEY, CAMERA, {"id", FIELD_ID, true, 1, (json_int_t)1 << 53}, END};
static const field_spec snapshot_fields[] = {
	PIN, CAMERA,
	{"width", FIELD_INT, false, CAM_MIN_SNAPSHOT_WIDTH, CAM_MAX_WIDTH},
	{"quality", FIELD_INT, false, 1, 100},
	END,
};

static const request_spec requests[CAM_REQ_COUNT_] = {
	{"watch", CAM_REQ_WATCH, true, false, watch_fields},
	{"start", CAM_REQ_START, true, false, no_fields},
	{"stop", CAM_REQ_STOP, true, false, no_fields},
	{"info", CAM_REQ_INFO, false, false, camera_fields},
	{"keyframe", CAM_REQ_KEYFRAME, false, false, no_fields},
	{"take_control", CAM_REQ_TAKE_CONTROL, false, false, take_control_fields},
	{"release_control", CAM_REQ_RELEASE_CONTROL, false, false, no_fields},
	{"send", CAM_REQ_SEND, false, false, send_fields},
	{"list", CAM_REQ_LIST, false, true, admin_fields},
	{"configure", CAM_REQ_CONFIGURE, false, true, configure_fields},
	{"kick", CAM_REQ_KICK, false, true, kick_fields},
	{"cameras", CAM_REQ_CAMERAS, false, false, no_fields},
	{"snapshot", CAM_REQ_SNAPSHOT, false, false, snapshot_fields},
	{"record", CAM_REQ_RECORD, false, true, admin_fields},
	{"stop_record", CAM_REQ_STOP_RECORD, false, true, admin_fields},
};

static int check_field(const field_spec *f, json_t *v, char *err, size_t errlen)
{
	switch(f->type) {
		case FIELD_STRING:
			if(!json_is_string(v))
				return cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "%s must be a string", f->name);
			if(json_string_length(v) > CAM_MAX_STRING)
				return cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "%s is longer than %d bytes",
					f->name, CAM_MAX_STRING);
			return 0;
		case FIELD_INT:
		case FIELD_ID:
			if(!json_is_integer(v))
				return cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "%s must be an integer", f->name);
			if(json_integer_value(v) < f->min || json_integer_value(v) > f->max)
				return cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "%s must be within %lld..%lld",
					f->name, (long long)f->min, (long long)f->max);
			return 0;
		case FIELD_CAMERA:
			if(!json_is_string(v) || !cam_camera_id_valid(json_string_value(v)))
				return cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen,
					"%s must be a camera id (1 to %d letters, digits, '-' or '_')", f->name, CAM_MAX_CAMERA_ID);
			return 0;
		case FIELD_ANY:
		default:
			return 0;
	}
}

static int int_field(json_t *body, const char *name)
{
	json_t *v = json_object_get(body, name);
	return v ? (int)json_integer_value(v) : -1;
}

int cam_request_parse(json_t *body, cam_request *req, char *err, size_t errlen)
{
	memset(req, 0, sizeof(*req));
	req->bitrate = req->fps = req->keyframe_interval = -1;
	req->width = req->height = -1;
	req->quality = -1;
	if(!body || !json_is_object(body))
		return cam_fail(CAM_ERROR_NO_MESSAGE, err, errlen, "the message must be a JSON object");
	json_t *name = json_object_get(body, "request");
	if(!name)
		return cam_fail(CAM_ERROR_MISSING_ELEMENT, err, errlen, "missing mandatory element: request");
	if(!json_is_string(name))
		return cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "request must be a string");
	const request_spec *spec = NULL;
	for(int i = 0; i < CAM_REQ_COUNT_; i++) {
		if(!strcmp(requests[i].name, json_string_value(name))) {
			spec = &requests[i];
			break;
		}
	}
	if(!spec) {
		/* Quote at most a short prefix: the name may be huge or binary. */
		char shown[33];
		snprintf(shown, sizeof(shown), "%s", json_string_value(name));
		for(char *c = shown; *c; c++) {
			if((unsigned char)*c < 0x20 || *c == '"')
				*c = '?';
		}
		return cam_fail(CAM_ERROR_UNKNOWN_REQUEST, err, errlen, "unknown request \"%s%s\"", shown,
			json_string_length(name) > 32 ? "..." : "");
	}
	for(const field_spec *f = spec->fields; f->name; f++) {
		json_t *v = json_object_get(body, f->name);
		if(!v) {
			if(f->required)
				return cam_fail(CAM_ERROR_MISSING_ELEMENT, err, errlen, "missing mandatory element: %s", f->name);
			continue;
		}
		int rc = check_field(f, v, err, errlen);
		if(rc)
			return rc;
	}
	req->kind = spec->kind;
	req->name = spec->name;
	json_t *v;
	if((v = json_object_get(body, "pin")) && json_is_string(v))
		req->pin = json_string_value(v);
	if((v = json_object_get(body, "admin_key")) && json_is_string(v))
		req->admin_key = json_string_value(v);
	if((v = json_object_get(body, "camera")) && json_is_string(v))
		req->camera = json_string_value(v);
	switch(spec->kind) {
		case CAM_REQ_SEND:
			req->data = json_object_get(body, "data");
			break;
		case CAM_REQ_CONFIGURE:
			req->bitrate = int_field(body, "bitrate");
			req->fps = int_field(body, "fps");
			req->keyframe_interval = int_field(body, "keyframe_interval");
			req->width = int_field(body, "width");
			req->height = int_field(body, "height");
			if((req->width < 0) != (req->height < 0))
				return cam_fail(CAM_ERROR_MISSING_ELEMENT, err, errlen, "configure needs width and height together");
			if(req->width > 0 && (req->width % 2 || req->height % 2))
				return cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "width and height must be even");
			if(req->bitrate < 0 && req->fps < 0 && req->keyframe_interval < 0 && req->width < 0)
				return cam_fail(CAM_ERROR_MISSING_ELEMENT, err, errlen,
					"configure needs at least one of bitrate, fps, keyframe_interval, width+height");
			break;
		case CAM_REQ_KICK:
			req->id = (uint64_t)json_integer_value(json_object_get(body, "id"));
			break;
		case CAM_REQ_SNAPSHOT:
			req->width = int_field(body, "width");
			req->quality = int_field(body, "quality");
			if(req->width > 0 && req->width % 2)
				return cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "width must be even");
			break;
		default:
			break;
	}
	return 0;
}

static const request_spec *find_spec(json_t *body)
{
	const char *name = json_string_value(json_object_get(body, "request"));
	for(int i = 0; name && i < CAM_REQ_COUNT_; i++) {
		if(!strcmp(requests[i].name, name))
			return &requests[i];
	}
	return NULL;
}

/* Which camera the request is for: the one it names, or the first. */
static int resolve_camera(const cam_config *cfg, cam_request *req, char *err, size_t errlen)
{
	bool must_name = req->kind == CAM_REQ_CONFIGURE || req->kind == CAM_REQ_RECORD ||
		req->kind == CAM_REQ_STOP_RECORD;
	if(!req->camera && must_name && cfg->n_cameras > 1)
		return cam_fail(CAM_ERROR_MISSING_ELEMENT, err, errlen,
			"missing mandatory element: camera (%d cameras are configured)", cfg->n_cameras);
	req->camera_index = cam_config_camera_index(cfg, req->camera);
	if(req->camera_index < 0)
		return cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "no camera \"%s\"", req->camera ? req->camera : "");
	return 0;
}

int cam_request_parse_authorized(json_t *body, const cam_config *cfg, cam_request *req,
	char *err, size_t errlen)
{
	int code = cam_request_parse(body, req, err, errlen);
	if(code == CAM_ERROR_MISSING_ELEMENT || code == CAM_ERROR_INVALID_ELEMENT) {
		const request_spec *spec = find_spec(body);
		if(spec && spec->admin) {
			json_t *key = json_object_get(body, "admin_key");
			if(!cfg->admin_key || !json_is_string(key) ||
					!cam_secret_equal(json_string_value(key), cfg->admin_key))
				return cam_fail(CAM_ERROR_UNAUTHORIZED, err, errlen, "wrong or missing admin_key");
		}
		return code;
	}
	if(code)
		return code;
	if(cam_request_is_admin(req->kind) && (code = cam_request_check_auth(cfg, req, err, errlen)))
		return code;
	if((code = resolve_camera(cfg, req, err, errlen)))
		return code;
	return cam_request_check_auth(cfg, req, err, errlen);
}

bool cam_request_is_async(cam_request_kind kind)
{
	return kind >= 0 && kind < CAM_REQ_COUNT_ && requests[kind].async;
}

bool cam_request_is_admin(cam_request_kind kind)
{
	return kind >= 0 && kind < CAM_REQ_COUNT_ && requests[kind].admin;
}

int cam_request_check_auth(const cam_config *cfg, const cam_request *req, char *err, size_t errlen)
{
	if(cam_request_is_admin(req->kind)) {
		if(!cfg->admin_key)
			return cam_fail(CAM_ERROR_UNAUTHORIZED, err, errlen,
				"admin requests are disabled (no admin_key configured)");
		if(!req->admin_key || !cam_secret_equal(req->admin_key, cfg->admin_key))
			return cam_fail(CAM_ERROR_UNAUTHORIZED, err, errlen, "wrong or missing admin_key");
		return 0;
	}
	const cam_camera_config *cam = req->camera_index >= 0 && req->camera_index < cfg->n_cameras ?
		&cfg->cameras[req->camera_index] : NULL;
	const char *pin = cam ? cam->pin : cfg->camera.pin;
	if((req->kind == CAM_REQ_WATCH || req->kind == CAM_REQ_SNAPSHOT) && pin) {
		if(!req->pin || !cam_secret_equal(req->pin, pin))
			return cam_fail(CAM_ERROR_UNAUTHORIZED, err, errlen, "wrong or missing pin");
	}
	return 0;
}

bool cam_secret_equal(const char *given, const char *secret)
{
	/* Time depends only on the configured secret's length. */
	if(!given || !secret)
		return false;
	size_t lg = strlen(given), ls = strlen(secret);
	unsigned char diff = 0;
	for(size_t i = 0; i < ls; i++)
		diff |= (unsigned char)secret[i] ^ (unsigned char)(i < lg ? given[i] : 0);
	return diff == 0 && lg == ls;
}

json_t *cam_json_text(const char *text)
{
	json_t *v = text && *text ? json_string(text) : NULL;
	return v ? v : json_null();
}

json_t *cam_error_json(int code, const char *reason)
{
	return json_pack("{sssiss}", "camera", "event", "error_code", code, "error", reason ? reason : "");
}
