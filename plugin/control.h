/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Device control: who may send control messages (the policy and the single
 * controller), validation and rate limiting of those messages, the device
 * program's Unix socket, and the safety stop.
 *
 *   viewer --data channel / `send`--> cam_control_message() --line--> device program(s)
 *   device program --line--> telemetry callback --> one viewer or all viewers
 *
 * The socket speaks one JSON object per line, both ways (shared/api.md):
 *   to the device:   {"from":<viewer id>,"data":<message>}
 *                    {"event":"controller","controller":<id|null>}
 *                    {"event":"stop"}
 *   from the device: {"data":<value>} to every viewer, {"to":<id>,"data":<value>} to one.
 * Several device programs may connect; each gets every line.  A program that
 * stops reading never blocks anyone: its lines are dropped (and counted)
 * once its buffer is full.
 *
 * Viewers are plain ids (non-zero uint64); 0 means "nobody".
 *
 * Thread rules: every cam_control_* function may be called from any thread.
 * The callbacks are called from the control thread (telemetry, safety stop)
 * or from the calling thread (controller changes), never with an internal
 * lock held, so they may call back into this module.
 */
#ifndef CAM_CONTROL_H
#define CAM_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cam_config.h"

/* Longest data-channel frame, `send` value or socket line (bytes).  The
 * contract says 64 KiB; Janus 1.1.2 hands frames to plugins with a 16-bit
 * length, so 65535 is the most that can arrive intact, and the offer says
 * so (a=max-message-size). */
#define CAM_CONTROL_MAX_MESSAGE 65535

typedef struct cam_control_callbacks {
	/* Telemetry text (one JSON value, no newline) for one viewer, or for
	 * every viewer when viewer is 0. */
	void (*telemetry)(void *opaque, uint64_t viewer, const char *text, size_t len);
	/* The controller changed (0 = none); reason: "take", "release",
	 * "handover", "left", "kicked", "timeout". */
	void (*controller)(void *opaque, uint64_t controller, uint64_t previous, const char *reason);
} cam_control_callbacks;

typedef struct cam_control_settings {
	cam_control_policy policy;
	const char *control_pin;       /* needed by take_control when set */
	const char *admin_key;         /* forces a handover when given to take_control */
	const char *socket_path;       /* NULL: no device socket (messages are counted, not delivered) */
	int deadman_ms;
	int rate_per_s;                /* sustained control messages per second per viewer */
	int burst;                     /* bucket size */
	size_t socket_buffer;          /* bytes queued per device program before dropping */
} cam_control_settings;

typedef struct cam_control_stats {
	uint64_t delivered;            /* control messages accepted for the device */
	uint64_t lines_sent;           /* lines written to device programs (all of them) */
	uint64_t lines_dropped;        /* lines dropped for a full device program */
	uint64_t telemetry;            /* lines received from device programs */
	uint64_t telemetry_invalid;    /* ... of which were not valid */
	uint64_t rejected;             /* control messages refused (any code) */
	uint64_t stops;                /* safety stops sent */
	int clients;                   /* device programs connected now */
} cam_control_stats;

typedef struct cam_control cam_control;

/* Creates the module, binds the socket (removing a stale socket file) and
 * starts the control thread.  NULL with a reason on failure. */
cam_control *cam_control_new(const cam_control_settings *settings, const cam_control_callbacks *cb,
	void *opaque, char *err, size_t errlen);
void cam_control_free(cam_control *c);

/* take_control.  Returns 0 (with *controller set), or an error code:
 * 486 wrong pin, 487 policy is not "single", 489 another viewer holds
 * control.  A valid admin_key hands control over whatever the holder. */
int cam_control_take(cam_control *c, uint64_t viewer, const char *pin, const char *admin_key,
	char *err, size_t errlen);
/* release_control: 0, or 489 when the viewer is not the controller. */
int cam_control_release(cam_control *c, uint64_t viewer, char *err, size_t errlen);
/* Releases control if the viewer holds it ("left", "kicked"); safe for any
 * viewer.  Also forgets the viewer's rate-limit state. */
void cam_control_viewer_left(cam_control *c, uint64_t viewer, const char *reason);

/* A data-channel frame from a viewer.  Returns 0 when delivered, or 481
 * (not JSON), 484 (too large / binary), 489 (not allowed), 490 (rate
 * limited), with a reason. */
int cam_control_message(cam_control *c, uint64_t viewer, const char *text, size_t len, bool binary,
	char *err, size_t errlen);
/* The `send` request: same rules with an already parsed value. */
int cam_control_send(cam_control *c, uint64_t viewer, json_t *data, char *err, size_t errlen);

uint64_t cam_control_controller(cam_control *c);
void cam_control_get_stats(cam_control *c, cam_control_stats *st);

/* {"error_code":code,"error":reason} as text, for the data channel (caller frees). */
char *cam_control_error_text(int code, const char *reason);

#endif
