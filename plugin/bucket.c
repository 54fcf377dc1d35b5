/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "bucket.h"

void cam_bucket_init(cam_bucket *b, int burst, int64_t now_us)
{
	b->tokens = burst;
	b->last_us = now_us;
}

bool cam_bucket_take(cam_bucket *b, int rate, int burst, int64_t now_us)
{
	b->tokens += (double)(now_us - b->last_us) * rate / 1e6;
	if(b->tokens > burst)
		b->tokens = burst;
	b->last_us = now_us;
	if(b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

bool cam_bucket_full(const cam_bucket *b, int rate, int burst, int64_t now_us)
{
	return b->tokens + (double)(now_us - b->last_us) * rate / 1e6 >= burst;
}
