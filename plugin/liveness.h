/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A viewer's liveness clock, and the watchdog's judgement of it: a started
 * viewer from which nothing arrived (RTCP, a data-channel frame, or its
 * `start`) for liveness_ms is silent; a viewer whose offer went out and who
 * has not answered within prepare_timeout_ms is unanswered.  Times are
 * monotonic milliseconds; 0 limits are off.
 *
 * Janus-free.  cam_liveness_touch() may be called from any thread without a
 * lock (the packet path); the rest under the owner's lock.
 */
#ifndef CAM_LIVENESS_H
#define CAM_LIVENESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum cam_drop_reason {
	CAM_DROP_NONE = -1,
	CAM_DROP_SILENT,           /* started, and nothing arrived for liveness_ms */
	CAM_DROP_UNANSWERED,       /* offer sent, no `start` for prepare_timeout_ms */
} cam_drop_reason;

typedef struct cam_liveness {
	_Atomic int64_t activity_ms;   /* the last sign of life */
	int64_t offer_ms;              /* when the offer went out; 0: not (yet) */
} cam_liveness;

typedef struct cam_liveness_limits {
	int liveness_ms, prepare_timeout_ms;
} cam_liveness_limits;

/* A sign of life (any thread, no lock). */
void cam_liveness_touch(cam_liveness *l, int64_t now_ms);
/* The offer went out at now_ms (0: no offer out). */
void cam_liveness_offer(cam_liveness *l, int64_t now_ms);
/* How long the viewer has been silent: since its last sign of life when
 * started, since its offer when not (0 while no offer is out). */
int64_t cam_liveness_silent_ms(const cam_liveness *l, bool started, int64_t now_ms);
/* Since when (the sign of life, or the offer) a drop for reason counts. */
int64_t cam_liveness_since(const cam_liveness *l, cam_drop_reason reason);
/* Whether the viewer is due for a drop now, and why. */
cam_drop_reason cam_liveness_due(const cam_liveness *l, const cam_liveness_limits *limits, bool started,
	bool preparing, int64_t now_ms);

/* "silent" / "unanswered", as the `dropped` event says; and for people. */
const char *cam_drop_reason_name(cam_drop_reason reason);
const char *cam_drop_reason_text(cam_drop_reason reason);

#endif
