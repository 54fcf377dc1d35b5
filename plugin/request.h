/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The JSON API's requests: parsing and validation into a typed struct, and
 * the contract's error codes (shared/api.md, "Errors").
 *
 * Janus-free (jansson only).  Validation checks shape and types only; state
 * (start before watch), authorisation (pin, admin_key) and limits are judged
 * by the caller with cam_request_check_auth() and its own state.
 */
#ifndef CAM_REQUEST_H
#define CAM_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cam_config.h"

enum {
	CAM_ERROR_NO_MESSAGE = 480,
	CAM_ERROR_INVALID_JSON = 481,
	CAM_ERROR_UNKNOWN_REQUEST = 482,
	CAM_ERROR_MISSING_ELEMENT = 483,
	CAM_ERROR_INVALID_ELEMENT = 484,
	CAM_ERROR_TOO_MANY_VIEWERS = 485,
	CAM_ERROR_UNAUTHORIZED = 486,
	CAM_ERROR_WRONG_STATE = 487,
	CAM_ERROR_SOURCE_UNAVAILABLE = 488,
	CAM_ERROR_NOT_CONTROLLER = 489,
	CAM_ERROR_RATE_LIMITED = 490,
	CAM_ERROR_RECORDING = 491,       /* extension: the recording folder or file cannot be used */
	CAM_ERROR_INTERNAL = 499,
};

typedef enum cam_request_kind {
	CAM_REQ_WATCH,
	CAM_REQ_START,
	CAM_REQ_STOP,
	CAM_REQ_INFO,
	CAM_REQ_KEYFRAME,
	CAM_REQ_TAKE_CONTROL,
	CAM_REQ_RELEASE_CONTROL,
	CAM_REQ_SEND,
	CAM_REQ_LIST,
	CAM_REQ_CONFIGURE,
	CAM_REQ_KICK,
	CAM_REQ_CAMERAS,
	CAM_REQ_SNAPSHOT,
	CAM_REQ_RECORD,
	CAM_REQ_STOP_RECORD,
	CAM_REQ_COUNT_
} cam_request_kind;

/* Longest accepted string field (pin, admin_key). */
#define CAM_MAX_STRING 256
/* Narrowest snapshot. */
#define CAM_MIN_SNAPSHOT_WIDTH 16

typedef struct cam_request {
	cam_request_kind kind;
	const char *name;          /* the request's name */
	const char *pin;           /* borrowed from the JSON; NULL when absent */
	const char *admin_key;
	json_t *data;              /* `send`: borrowed */
	int bitrate, fps, keyframe_interval;  /* `configure`: -1 when absent */
	int width, height;                     /* `configure`: -1 when absent; both or neither */
	uint64_t id;               /* `kick` */
	const char *camera;        /* borrowed; NULL when absent */
	int camera_index;          /* cam_request_parse_authorized(): the camera it names (or the first) */
	int quality;               /* `snapshot`: -1 when absent (`width` too) */
} cam_request;

/* Parses a request body.  Returns 0, or an error code (480, 482, 483, 484)
 * with a readable reason in err.  Pointers in *req borrow from body. */
int cam_request_parse(json_t *body, cam_request *req, char *err, size_t errlen);

/* Parses, then authorises: the one call the plugin makes.  An admin request
 * is judged on its admin_key before its other fields, so that a caller
 * without the key learns nothing (486) about what would be valid.  Then the
 * camera is resolved into req->camera_index (484 for an unknown id; 483
 * when configure, record or stop_record omit it while several cameras are
 * configured), and watch and snapshot are judged on that camera's pin. */
int cam_request_parse_authorized(json_t *body, const cam_config *cfg, cam_request *req,
	char *err, size_t errlen);

/* Whether the request is answered by an event (watch, start, stop) rather
 * than synchronously. */
bool cam_request_is_async(cam_request_kind kind);
/* Whether it needs the admin_key. */
bool cam_request_is_admin(cam_request_kind kind);

/* pin (of req->camera_index) for `watch` and `snapshot`, admin_key for
 * admin requests.  Returns 0 or CAM_ERROR_UNAUTHORIZED with a reason. */
int cam_request_check_auth(const cam_config *cfg, const cam_request *req, char *err, size_t errlen);

/* Compares a secret someone gave with the configured one, in time that
 * does not depend on where they differ.  false when either is NULL. */
bool cam_secret_equal(const char *given, const char *secret);

/* A text as JSON, or null when absent, empty or not UTF-8 (json_string
 * refuses that; a device name or an error could be). */
json_t *cam_json_text(const char *text);

/* {"camera":"event","error_code":code,"error":reason} */
json_t *cam_error_json(int code, const char *reason);

#endif
