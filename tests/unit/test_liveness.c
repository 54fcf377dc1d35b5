/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Liveness: when a viewer is silent or unanswered, and for how long. */
#include <string.h>

#include "check.h"
#include "liveness.h"

static void test_silent(void)
{
	cam_liveness l = {0};
	cam_liveness_limits limits = {5000, 10000};
	cam_liveness_touch(&l, 1000);
	CHECK_EQ_INT(cam_liveness_due(&l, &limits, true, false, 5999), CAM_DROP_NONE);
	CHECK_EQ_INT(cam_liveness_due(&l, &limits, true, false, 6000), CAM_DROP_SILENT);
	CHECK_EQ_INT(cam_liveness_silent_ms(&l, true, 6000), 5000);
	CHECK_EQ_INT(cam_liveness_since(&l, CAM_DROP_SILENT), 1000);
	/* A sign of life resets the clock. */
	cam_liveness_touch(&l, 5500);
	CHECK_EQ_INT(cam_liveness_due(&l, &limits, true, false, 6000), CAM_DROP_NONE);
	/* Not started: never silent; off: never dropped. */
	CHECK_EQ_INT(cam_liveness_due(&l, &limits, false, false, 100000), CAM_DROP_NONE);
	limits.liveness_ms = 0;
	CHECK_EQ_INT(cam_liveness_due(&l, &limits, true, false, 100000), CAM_DROP_NONE);
	CHECK(!strcmp(cam_drop_reason_name(CAM_DROP_SILENT), "silent"));
}

static void test_unanswered(void)
{
	cam_liveness l = {0};
	cam_liveness_limits limits = {5000, 10000};
	/* No offer out yet (still gathering): not counting. */
	CHECK_EQ_INT(cam_liveness_due(&l, &limits, false, true, 50000), CAM_DROP_NONE);
	CHECK_EQ_INT(cam_liveness_silent_ms(&l, false, 50000), 0);
	cam_liveness_offer(&l, 2000);
	CHECK_EQ_INT(cam_liveness_due(&l, &limits, false, true, 11999), CAM_DROP_NONE);
	CHECK_EQ_INT(cam_liveness_due(&l, &limits, false, true, 12000), CAM_DROP_UNANSWERED);
	CHECK_EQ_INT(cam_liveness_silent_ms(&l, false, 12000), 10000);
	CHECK_EQ_INT(cam_liveness_since(&l, CAM_DROP_UNANSWERED), 2000);
	limits.prepare_timeout_ms = 0;
	CHECK_EQ_INT(cam_liveness_due(&l, &limits, false, true, 99999), CAM_DROP_NONE);
	cam_liveness_offer(&l, 0);
	limits.prepare_timeout_ms = 10000;
	CHECK_EQ_INT(cam_liveness_due(&l, &limits, false, true, 99999), CAM_DROP_NONE);
	CHECK(!strcmp(cam_drop_reason_name(CAM_DROP_UNANSWERED), "unanswered"));
	CHECK(!strcmp(cam_drop_reason_text(CAM_DROP_UNANSWERED), "no answer to the offer"));
}

int main(void)
{
	RUN(test_silent);
	RUN(test_unanswered);
	return check_exit();
}
