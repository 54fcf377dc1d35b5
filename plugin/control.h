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
 *                    {"event":"error","error":<reason>[,"to":<id>]}  (about that
 *                    program's own previous line; only it gets the line)
 *   from the device: {"data":<value>} to every viewer, {"to":<id>,"data":<value>} to one.
 * Several device programs may connect; each gets every line (but the error
 * lines).  A program that stops reading never blocks anyone: its lines are
 * dropped (and counted) once its buffer is full.
 *
 * A device line is refused (error line, counted as telemetry_invalid) when
 * it is not one JSON object, has no "data", has a "to" that is not a viewer
 * id, or when its value is an object with a top-level "camera" member: that
 * key is the plugin's, so that a viewer can tell the plugin's own frames
 * ({"camera":"error",...}) from telemetry.  A "to" that reaches no viewer
 * (the telemetry callback returns 0) gets {"event":"error","error":"no viewer
 * <id>","to":<id>} and is counted as telemetry_no_viewer.
 *
 * Who drives, and the safety stop ({"event":"stop"} to the device), by policy:
 *   none    nobody drives; no stop is ever sent.
 *   single  the controller drives.  The stop goes out once per silence when
 *           the controller has sent no control message for deadman_ms
 *           (counted from its last message, or from taking control), and at
 *           once when it loses control in any way (release, handover, leaving,
 *           kick, timeout) unless that silence's stop was already sent.  A
 *           controller silent for control_timeout_ms (0 = never) loses control
 *           (reason "timeout"): the device gets {"event":"controller",
 *           "controller":null}, the controller callback runs.
 *   open    every viewer may send; a viewer is "driving" while its last
 *           delivered message is less than deadman_ms old.  The stop goes out
 *           once per silence when no viewer's message has arrived for
 *           deadman_ms after one did, and at once when a driving viewer
 *           leaves or the module is freed (unless that silence's stop was
 *           already sent).  There is no
 *           controller, so control_timeout_ms does not apply.
 * A "control message" is one that was delivered (data channel or `send`);
 * refused ones (489, 490, ...) neither re-arm nor feed the timers.
 *
 * Rate bounds, one token bucket per viewer each (state forgotten in
 * cam_control_viewer_left): control messages from a viewer (rate_per_s,
 * burst; excess gets 490) and telemetry lines to a viewer (telemetry_rate,
 * telemetry_burst; excess is dropped and counted as telemetry_dropped).
 *
 * Viewers are plain ids (non-zero uint64); 0 means "nobody".
 *
 * Thread rules: every cam_control_* function may be called from any thread.
 * The callbacks are called from the control thread (telemetry, safety stop,
 * control timeout) or from the calling thread (other controller changes),
 * never with an internal lock held, so they may call back into this module.
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
	 * every viewer when viewer is 0.  The callback asks
	 * cam_control_telemetry_admit() for each viewer before sending, and
	 * returns how many viewers the line was for (connected ones, admitted or
	 * not): 0 for a viewer id makes the device program hear "no viewer". */
	int (*telemetry)(void *opaque, uint64_t viewer, const char *text, size_t len);
	/* The controller changed (0 = none); reason: "take", "release",
	 * "handover", "timeout", or the one cam_control_viewer_left() got
	 * ("left", "kicked", "shutdown").  Calls come in the order of the
	 * changes, one at a time; this callback must not take, release or leave
	 * (that would wait for itself). */
	void (*controller)(void *opaque, uint64_t controller, uint64_t previous, const char *reason);
} cam_control_callbacks;

typedef struct cam_control_settings {
	cam_control_policy policy;
	const char *control_pin;       /* needed by take_control when set */
	const char *admin_key;         /* forces a handover when given to take_control */
	const char *socket_path;       /* NULL: no device socket (messages are counted, not delivered) */
	int deadman_ms;
	int control_timeout_ms;        /* controller silence before it loses control; 0 = never */
	int rate_per_s;                /* sustained control messages per second per viewer */
	int burst;                     /* bucket size (0: twice rate_per_s) */
	int telemetry_rate;            /* telemetry lines per second per viewer (0: 50) */
	int telemetry_burst;           /* bucket size (0: twice telemetry_rate) */
	size_t socket_buffer;          /* bytes queued per device program before dropping */
} cam_control_settings;

typedef struct cam_control_stats {
	uint64_t delivered;            /* control messages accepted for the device */
	uint64_t lines_sent;           /* lines written to device programs (all of them) */
	uint64_t lines_dropped;        /* lines dropped for a full device program */
	uint64_t telemetry;            /* valid lines received from device programs */
	uint64_t telemetry_invalid;    /* lines refused (each got an error line) */
	uint64_t telemetry_dropped;    /* lines not sent to a viewer over its telemetry_rate */
	uint64_t telemetry_no_viewer;  /* valid lines whose "to" reached no viewer */
	uint64_t rejected;             /* control messages refused (any code) */
	uint64_t stops;                /* safety stops sent */
	uint64_t timeouts;             /* controllers that lost control to control_timeout_ms */
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
 * viewer.  Under "open", a viewer that was driving gets the device its
 * safety stop.  Also forgets the viewer's rate-limit state. */
void cam_control_viewer_left(cam_control *c, uint64_t viewer, const char *reason);

/* A data-channel frame from a viewer.  Returns 0 when delivered, or 481
 * (not JSON), 484 (too large / binary), 489 (not allowed), 490 (rate
 * limited), with a reason. */
int cam_control_message(cam_control *c, uint64_t viewer, const char *text, size_t len, bool binary,
	char *err, size_t errlen);
/* The `send` request: same rules with an already parsed value. */
int cam_control_send(cam_control *c, uint64_t viewer, json_t *data, char *err, size_t errlen);

/* Charges one telemetry line to the viewer's bucket: true when it may be
 * sent, false (counted as telemetry_dropped) when the viewer is over
 * telemetry_rate. */
bool cam_control_telemetry_admit(cam_control *c, uint64_t viewer);

uint64_t cam_control_controller(cam_control *c);
void cam_control_get_stats(cam_control *c, cam_control_stats *st);
/* The stats as the `info` answer's "control_stats" object (new reference). */
json_t *cam_control_stats_json(cam_control *c);

/* {"camera":"error","error_code":code,"error":reason} as text, for the data
 * channel (caller frees).  "camera" marks the plugin's own frames: telemetry
 * can never carry that key. */
char *cam_control_error_text(int code, const char *reason);

#endif
