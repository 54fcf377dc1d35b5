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
	CHECK_EQ_INT(c.camera.source, CAM_SOURCE_KIND_PATTERN);
	CHECK(!strcmp(c.camera.device, "/dev/video0"));
	CHECK_EQ_INT(c.camera.width, 640);
	CHECK_EQ_INT(c.camera.height, 480);
	CHECK_EQ_INT(c.camera.fps, 30);
	CHECK_EQ_INT(c.camera.bitrate, 1000000);
	CHECK_EQ_INT(c.camera.keyframe_interval, 10);
	CHECK_EQ_INT(c.camera.keyframe_min_gap_ms, 250);
	CHECK_EQ_INT(c.camera.max_viewers, 0);
	CHECK(c.camera.on_demand);
	CHECK(c.camera.pin == NULL);
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
	CHECK_EQ_INT(cam_camera_config_check(&c.camera, err, sizeof(err)), 0);
	cam_config_clear(&c);
}

static void test_good_values(void)
{
	cam_config c;
	cam_config_defaults(&c);
	char err[128];
	CHECK_EQ_INT(cam_config_set(&c, "source", "v4l2", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.camera.source, CAM_SOURCE_KIND_V4L2);
	CHECK_EQ_INT(cam_config_set(&c, "device", "/dev/video2", err, sizeof(err)), 0);
	CHECK(!strcmp(c.camera.device, "/dev/video2"));
	CHECK_EQ_INT(cam_config_set(&c, "width", "1280", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "height", "720", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "fps", "15", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "bitrate", "2500000", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "keyframe_interval", "0", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "max_viewers", "12", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "on_demand", "false", err, sizeof(err)), 0);
	CHECK(!c.camera.on_demand);
	CHECK_EQ_INT(cam_config_set(&c, "events", "no", err, sizeof(err)), 0);
	CHECK(!c.events);
	CHECK_EQ_INT(cam_config_set(&c, "control", "open", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.control, CAM_CONTROL_OPEN);
	CHECK_EQ_INT(cam_config_set(&c, "pin", "1234", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "pin", "5678", err, sizeof(err)), 0);   /* replaces, no leak */
	CHECK(!strcmp(c.camera.pin, "5678"));
	CHECK_EQ_INT(cam_config_set(&c, "control_socket", "/run/cam.sock", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "speed", "-8", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "control_timeout_ms", "0", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.control_timeout_ms, 0);
	CHECK_EQ_INT(cam_config_set(&c, "control_timeout_ms", "100", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.control_timeout_ms, 100);
	CHECK_EQ_INT(cam_config_set(&c, "telemetry_rate", "10000", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.telemetry_rate, 10000);
	CHECK_EQ_INT(c.camera.width, 1280);
	CHECK_EQ_INT(c.camera.fps, 15);
	CHECK_EQ_INT(c.camera.speed, -8);
	CHECK_EQ_INT(cam_config_set(&c, "liveness_ms", "0", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.liveness_ms, 0);
	CHECK_EQ_INT(cam_config_set(&c, "liveness_ms", "1000", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.liveness_ms, 1000);
	CHECK_EQ_INT(cam_config_set(&c, "prepare_timeout_ms", "600000", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.prepare_timeout_ms, 600000);
	CHECK_EQ_INT(cam_config_set(&c, "prepare_timeout_ms", "0", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.prepare_timeout_ms, 0);
	CHECK_EQ_INT(cam_camera_config_check(&c.camera, err, sizeof(err)), 0);
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
		CHECK_EQ_INT(c.camera.width, 640);
		CHECK_EQ_INT(c.camera.fps, 30);
		CHECK_EQ_INT(c.camera.bitrate, 1000000);
		CHECK(c.camera.on_demand);
		CHECK_EQ_INT(c.control_timeout_ms, 30000);
		CHECK_EQ_INT(c.telemetry_rate, 50);
		CHECK_EQ_INT(c.liveness_ms, 5000);
		CHECK_EQ_INT(c.prepare_timeout_ms, 10000);
		cam_config_clear(&c);
	}
	cam_config c;
	cam_config_defaults(&c);
	char err[128];
	/* Not UTF-8 (it would break every JSON answer that quotes it), too long
	 * for the recorder's paths. */
	CHECK_EQ_INT(cam_config_set(&c, "record_dir", "/srv/caf\xe9", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "UTF-8") != NULL);
	CHECK_EQ_INT(cam_config_set(&c, "record_dir", "/srv/caf\xc3\xa9", err, sizeof(err)), 0);
	char long_dir[1000];
	memset(long_dir, 'a', sizeof(long_dir) - 1);
	long_dir[0] = '/';
	long_dir[sizeof(long_dir) - 1] = '\0';
	CHECK_EQ_INT(cam_config_set(&c, "record_dir", long_dir, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(cam_config_set(&c, "bitrat", "1000000", err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "bitrat") != NULL);
	CHECK_EQ_INT(cam_config_set(&c, "width", "641", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_camera_config_check(&c.camera, err, sizeof(err)), -EINVAL);
	cam_config_clear(&c);
	cam_config_defaults(&c);
	cam_config_set(&c, "source", "v4l2", err, sizeof(err));
	cam_config_set(&c, "device", "video0", err, sizeof(err));
	CHECK_EQ_INT(cam_camera_config_check(&c.camera, err, sizeof(err)), -EINVAL);
	cam_config_clear(&c);
}

/* Cameras: general's camera keys are every camera's defaults, each camera
 * overrides its own, plugin-wide keys stay in general, and without any
 * camera section there is the one camera "default". */
static void test_cameras(void)
{
	cam_config c;
	cam_config_defaults(&c);
	char err[160] = "";
	CHECK_EQ_INT(cam_config_set(&c, "fps", "15", err, sizeof(err)), 0);
	cam_camera_config *front = cam_config_add_camera(&c, "front", err, sizeof(err));
	CHECK(front != NULL);
	CHECK_EQ_INT(cam_camera_config_set(front, "width", "320", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_camera_config_set(front, "height", "240", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_camera_config_set(front, "description", "Front", err, sizeof(err)), 0);
	cam_camera_config *rear = cam_config_add_camera(&c, "rear_2", err, sizeof(err));
	CHECK(rear != NULL);
	front = &c.cameras[0];         /* adding may have moved the array */
	CHECK_EQ_INT(cam_camera_config_set(rear, "record", "true", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_camera_config_set(rear, "admin_key", "x", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "general") != NULL);
	CHECK_EQ_INT(cam_camera_config_set(rear, "widht", "320", err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "widht") != NULL);
	CHECK_EQ_INT(cam_camera_config_set(rear, "fps", "500", err, sizeof(err)), -EINVAL);
	CHECK(cam_config_add_camera(&c, "front", err, sizeof(err)) == NULL);
	CHECK(strstr(err, "twice") != NULL);
	CHECK(cam_config_add_camera(&c, "bad id", err, sizeof(err)) == NULL);
	CHECK(cam_config_add_camera(&c, "", err, sizeof(err)) == NULL);
	CHECK(cam_config_add_camera(&c, "abcdefghijklmnopqrstuvwxyz0123456", err, sizeof(err)) == NULL);
	CHECK_EQ_INT(cam_config_finish(&c, err, sizeof(err)), 0);
	CHECK_EQ_INT(c.n_cameras, 2);
	CHECK_EQ_INT(c.cameras[0].width, 320);
	CHECK_EQ_INT(c.cameras[0].fps, 15);
	CHECK(!strcmp(c.cameras[0].description, "Front"));
	CHECK_EQ_INT(c.cameras[1].width, 640);
	CHECK_EQ_INT(c.cameras[1].fps, 15);
	CHECK(c.cameras[1].record);
	CHECK(!c.cameras[0].record);
	CHECK(c.cameras[1].description == NULL);
	CHECK(cam_config_camera(&c, NULL) == &c.cameras[0]);
	CHECK(cam_config_camera(&c, "rear_2") == &c.cameras[1]);
	CHECK(cam_config_camera(&c, "side") == NULL);
	cam_config_clear(&c);
	/* No camera section: one camera, "default", from general. */
	cam_config_defaults(&c);
	CHECK_EQ_INT(cam_config_set(&c, "width", "320", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_set(&c, "height", "240", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_finish(&c, err, sizeof(err)), 0);
	CHECK_EQ_INT(c.n_cameras, 1);
	CHECK(!strcmp(c.cameras[0].id, "default"));
	CHECK_EQ_INT(c.cameras[0].width, 320);
	cam_config_clear(&c);
	/* A bad combination in one camera is refused, naming it. */
	cam_config_defaults(&c);
	cam_camera_config *odd = cam_config_add_camera(&c, "odd", err, sizeof(err));
	CHECK_EQ_INT(cam_camera_config_set(odd, "width", "641", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_finish(&c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "odd") != NULL);
	cam_config_clear(&c);
}

typedef struct problems {
	int count;
	char text[1024];
} problems;

static void collect(void *opaque, const char *problem)
{
	problems *p = opaque;
	p->count++;
	size_t len = strlen(p->text);
	snprintf(p->text + len, sizeof(p->text) - len, "%s\n", problem);
}

/* A parsed file as entries: general first whatever its place, cameras in
 * order (an empty section is a camera too), every problem reported with the
 * camera and the key, none of them fatal to the reading of the rest. */
static void test_load(void)
{
	const cam_config_entry good[] = {
		{"front", NULL, NULL}, {"front", "width", "320"}, {"front", "height", "240"},
		{"general", NULL, NULL}, {"general", "fps", "15"}, {"general", "admin_key", "k"},
		{"empty", NULL, NULL},
	};
	cam_config c;
	cam_config_defaults(&c);
	problems p = {0};
	CHECK_EQ_INT(cam_config_load(&c, good, sizeof(good) / sizeof(good[0]), collect, &p), 0);
	CHECK_EQ_INT(p.count, 0);
	CHECK_EQ_INT(c.n_cameras, 2);
	CHECK(!strcmp(c.cameras[0].id, "front") && !strcmp(c.cameras[1].id, "empty"));
	CHECK_EQ_INT(c.cameras[0].width, 320);
	CHECK_EQ_INT(c.cameras[0].fps, 15);       /* general's, though general came later */
	CHECK_EQ_INT(c.cameras[1].fps, 15);
	CHECK(!strcmp(c.admin_key, "k"));
	cam_config_clear(&c);

	const cam_config_entry bad[] = {
		{"general", NULL, NULL}, {"general", "widht", "1"},
		{"front", NULL, NULL}, {"front", "fps", "500"}, {"front", "control", "open"},
		{"bad id", NULL, NULL}, {"bad id", "width", "320"},
		{"rear", NULL, NULL}, {"rear", "width", "321"},
	};
	cam_config_defaults(&c);
	memset(&p, 0, sizeof(p));
	CHECK_EQ_INT(cam_config_load(&c, bad, sizeof(bad) / sizeof(bad[0]), collect, &p), -EINVAL);
	printf("# problems:\n%s", p.text);
	CHECK_EQ_INT(p.count, 4);                 /* the odd width is only judged once the rest is good */
	CHECK(strstr(p.text, "general: unknown key \"widht\"") != NULL);
	CHECK(strstr(p.text, "camera \"front\": fps") != NULL);
	CHECK(strstr(p.text, "camera \"front\": control belongs in general") != NULL);
	CHECK(strstr(p.text, "bad id") != NULL);
	cam_config_clear(&c);
	const cam_config_entry odd[] = {{"rear", NULL, NULL}, {"rear", "width", "321"}};
	cam_config_defaults(&c);
	memset(&p, 0, sizeof(p));
	CHECK_EQ_INT(cam_config_load(&c, odd, 2, collect, &p), -EINVAL);
	CHECK(strstr(p.text, "camera \"rear\": width and height must be even") != NULL);
	cam_config_clear(&c);
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_good_values);
	RUN(test_bad_values);
	RUN(test_cameras);
	RUN(test_load);
	return check_exit();
}
