/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Configuration: defaults from the contract; bad values refused, never guessed. */
#include <errno.h>
#include <string.h>

#include "cam_config.h"
#include "check.h"

static void test_defaults(void)
{
	cam_config c;
	cam_config_defaults(&c);
	CHECK_EQ_INT(c.source, CAM_SOURCE_KIND_PATTERN);
	CHECK(!strcmp(c.device, "/dev/video0"));
	CHECK_EQ_INT(c.width, 640);
	CHECK_EQ_INT(c.height, 480);
	CHECK_EQ_INT(c.fps, 30);
	CHECK_EQ_INT(c.bitrate, 1000000);
	CHECK_EQ_INT(c.keyframe_interval, 10);
	CHECK_EQ_INT(c.keyframe_min_gap_ms, 250);
	CHECK_EQ_INT(c.max_viewers, 0);
	CHECK(c.on_demand);
	CHECK(c.pin == NULL);
	CHECK(c.admin_key == NULL);
	CHECK_EQ_INT(c.control, CAM_CONTROL_SINGLE);
	CHECK(c.control_socket == NULL);
	CHECK_EQ_INT(c.deadman_ms, 1000);
	CHECK_EQ_INT(c.control_timeout_ms, 30000);
	CHECK_EQ_INT(c.telemetry_rate, 50);
	CHECK(c.events);
	CHECK_EQ_INT(c.liveness_ms, 5000);
	CHECK_EQ_INT(c.prepare_timeout_ms, 10000);
	char err[128];
	CHECK_EQ_INT(cam_config_check(&c, err, sizeof(err)), 0);
	cam_config_clear(&c);
}

static void test_good_values(void)
{
	cam_config c;
	cam_config_defaults(&c);
	char err[128];
	CHECK_EQ_INT(cam_config_set(&c, "source", "v4l2", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.source, CAM_SOURCE_KIND_V4L2);
	CHECK_EQ_INT(cam_config_set(&c, "device", "/dev/video2", err, sizeof(err)), 0);
	CHECK(!strcmp(c.device, "/dev/video2"));
	CHECK_EQ_INT(cam_config_set(&c, "width", "1280", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "height", "720", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "fps", "15", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "bitrate", "2500000", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "keyframe_interval", "0", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "max_viewers", "12", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "on_demand", "false", err, sizeof(err)), 0);
	CHECK(!c.on_demand);
	CHECK_EQ_INT(cam_config_set(&c, "events", "no", err, sizeof(err)), 0);
	CHECK(!c.events);
	CHECK_EQ_INT(cam_config_set(&c, "control", "open", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.control, CAM_CONTROL_OPEN);
	CHECK_EQ_INT(cam_config_set(&c, "pin", "1234", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "pin", "5678", err, sizeof(err)), 0);   /* replaces, no leak */
	CHECK(!strcmp(c.pin, "5678"));
	CHECK_EQ_INT(cam_config_set(&c, "control_socket", "/run/cam.sock", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "speed", "-8", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "control_timeout_ms", "0", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.control_timeout_ms, 0);
	CHECK_EQ_INT(cam_config_set(&c, "control_timeout_ms", "100", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.control_timeout_ms, 100);
	CHECK_EQ_INT(cam_config_set(&c, "telemetry_rate", "10000", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.telemetry_rate, 10000);
	CHECK_EQ_INT(c.width, 1280);
	CHECK_EQ_INT(c.fps, 15);
	CHECK_EQ_INT(c.speed, -8);
	CHECK_EQ_INT(cam_config_set(&c, "liveness_ms", "0", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.liveness_ms, 0);
	CHECK_EQ_INT(cam_config_set(&c, "liveness_ms", "1000", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.liveness_ms, 1000);
	CHECK_EQ_INT(cam_config_set(&c, "prepare_timeout_ms", "600000", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.prepare_timeout_ms, 600000);
	CHECK_EQ_INT(cam_config_set(&c, "prepare_timeout_ms", "0", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.prepare_timeout_ms, 0);
	CHECK_EQ_INT(cam_config_check(&c, err, sizeof(err)), 0);
	cam_config_clear(&c);
}

static void test_bad_values(void)
{
	static const char *bad[][2] = {
		{"source", "camera"}, {"source", ""}, {"width", "abc"}, {"width", "640px"},
		{"width", "-640"}, {"width", "99999999999999999999"}, {"height", "10"},
		{"fps", "0"}, {"fps", "1000"}, {"fps", "29.97"}, {"bitrate", "1M"},
		{"bitrate", "10"}, {"keyframe_interval", "-1"}, {"keyframe_min_gap_ms", "x"},
		{"max_viewers", "-1"}, {"on_demand", "maybe"}, {"events", "2"},
		{"control", "single "}, {"control", "all"}, {"deadman_ms", "0"},
		{"pin", ""}, {"admin_key", ""}, {"device", ""}, {"speed", "17"},
		{"control_timeout_ms", "99"}, {"control_timeout_ms", "-1"}, {"control_timeout_ms", "86400001"},
		{"telemetry_rate", "0"}, {"telemetry_rate", "10001"},
		{"liveness_ms", "999"}, {"liveness_ms", "1"}, {"liveness_ms", "-1"}, {"liveness_ms", "600001"},
		{"liveness_ms", "5s"}, {"liveness_ms", ""}, {"prepare_timeout_ms", "500"},
		{"prepare_timeout_ms", "-5000"}, {"prepare_timeout_ms", "1e4"}, {"prepare_timeout_ms", "700000"},
	};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cam_config c;
		cam_config_defaults(&c);
		char err[128] = "";
		int rc = cam_config_set(&c, bad[i][0], bad[i][1], err, sizeof(err));
		if(rc != -EINVAL)
			fprintf(stderr, "  %s = \"%s\" was accepted\n", bad[i][0], bad[i][1]);
		CHECK_EQ_INT(rc, -EINVAL);
		CHECK(strstr(err, bad[i][0]) != NULL);   /* the reason names the key */
		/* ... and the bad value changed nothing. */
		CHECK_EQ_INT(c.width, 640);
		CHECK_EQ_INT(c.fps, 30);
		CHECK_EQ_INT(c.bitrate, 1000000);
		CHECK(c.on_demand);
		CHECK_EQ_INT(c.control_timeout_ms, 30000);
		CHECK_EQ_INT(c.telemetry_rate, 50);
		CHECK_EQ_INT(c.liveness_ms, 5000);
		CHECK_EQ_INT(c.prepare_timeout_ms, 10000);
		cam_config_clear(&c);
	}
	cam_config c;
	cam_config_defaults(&c);
	char err[128];
	CHECK_EQ_INT(cam_config_set(&c, "bitrat", "1000000", err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "bitrat") != NULL);
	CHECK_EQ_INT(cam_config_set(&c, "width", "641", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_check(&c, err, sizeof(err)), -EINVAL);
	cam_config_clear(&c);
	cam_config_defaults(&c);
	cam_config_set(&c, "source", "v4l2", err, sizeof(err));
	cam_config_set(&c, "device", "video0", err, sizeof(err));
	CHECK_EQ_INT(cam_config_check(&c, err, sizeof(err)), -EINVAL);
	cam_config_clear(&c);
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_good_values);
	RUN(test_bad_values);
	return check_exit();
}
