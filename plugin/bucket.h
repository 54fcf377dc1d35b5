/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A token bucket: the rate limit shared by control messages, telemetry and
 * snapshots.  Refills at `rate` tokens per second up to `burst`.  Not
 * locked: the owner serialises access.  A zeroed bucket is empty at time 0,
 * so a new one starts full when created with cam_bucket_init().
 */
#ifndef CAM_BUCKET_H
#define CAM_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct cam_bucket {
	double tokens;
	int64_t last_us;
} cam_bucket;

/* A full bucket at now_us. */
void cam_bucket_init(cam_bucket *b, int burst, int64_t now_us);
/* Refills, then takes one token; false when there was none. */
bool cam_bucket_take(cam_bucket *b, int rate, int burst, int64_t now_us);
/* Whether the bucket would be full at now_us (nothing left to remember). */
bool cam_bucket_full(const cam_bucket *b, int rate, int burst, int64_t now_us);

#endif
