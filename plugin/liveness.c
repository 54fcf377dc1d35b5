/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "liveness.h"

void cam_liveness_touch(cam_liveness *l, int64_t now_ms)
{
	atomic_store_explicit(&l->activity_ms, now_ms, memory_order_relaxed);
}

void cam_liveness_offer(cam_liveness *l, int64_t now_ms)
{
	l->offer_ms = now_ms;
}

static int64_t activity(const cam_liveness *l)
{
	return atomic_load_explicit(&l->activity_ms, memory_order_relaxed);
}

int64_t cam_liveness_silent_ms(const cam_liveness *l, bool started, int64_t now_ms)
{
	if(started)
		return now_ms - activity(l);
	return l->offer_ms ? now_ms - l->offer_ms : 0;
}

int64_t cam_liveness_since(const cam_liveness *l, cam_drop_reason reason)
{
	return reason == CAM_DROP_SILENT ? activity(l) : l->offer_ms;
}

cam_drop_reason cam_liveness_due(const cam_liveness *l, const cam_liveness_limits *limits, bool started,
	bool preparing, int64_t now_ms)
{
	if(started && limits->liveness_ms > 0 && now_ms - activity(l) >= limits->liveness_ms)
		return CAM_DROP_SILENT;
	if(preparing && limits->prepare_timeout_ms > 0 && l->offer_ms &&
			now_ms - l->offer_ms >= limits->prepare_timeout_ms)
		return CAM_DROP_UNANSWERED;
	return CAM_DROP_NONE;
}

const char *cam_drop_reason_name(cam_drop_reason reason)
{
	return reason == CAM_DROP_SILENT ? "silent" : "unanswered";
}

const char *cam_drop_reason_text(cam_drop_reason reason)
{
	return reason == CAM_DROP_SILENT ? "nothing arrived" : "no answer to the offer";
}
