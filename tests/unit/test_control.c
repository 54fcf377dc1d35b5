/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Device control against a real Unix socket: policies, the single
 * controller, error codes, rate limiting, the safety stop's timing (under
 * "single" and "open"), the control timeout, telemetry both ways with its
 * per-viewer bound, "to" an unknown viewer, the reserved "camera" key,
 * several device programs, and one that never reads.
 *
 * Timings are checked with margins (a late thread must not fail a test, an
 * early one must), and waits are on lines and callbacks, never bare sleeps.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "control.h"
#include "request.h"

static char sock_path[108];

typedef struct events {
	pthread_mutex_t lock;
	uint64_t controller, previous;
	char reason[32];
	int64_t changed_at;        /* now_ms() of the last controller callback */
	int changes;
	char last_telemetry[256];
	uint64_t telemetry_to;
	int telemetry;
} events;

static events ev = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The pretend plugin's viewers: ids below 1000 are connected, the others
 * unknown; a broadcast reaches `broadcast_viewers`. */
#define KNOWN_VIEWERS 1000
static int broadcast_viewers = 2;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_telemetry(void *opaque, uint64_t viewer, const char *text, size_t len)
{
	pthread_mutex_lock(&ev.lock);
	snprintf(ev.last_telemetry, sizeof(ev.last_telemetry), "%.*s", (int)len, text);
	ev.telemetry_to = viewer;
	ev.telemetry++;
	pthread_mutex_unlock(&ev.lock);
	return viewer == 0 ? broadcast_viewers : viewer < KNOWN_VIEWERS;
}

static void on_controller(void *opaque, uint64_t controller, uint64_t previous, const char *reason)
{
	pthread_mutex_lock(&ev.lock);
	ev.controller = controller;
	ev.previous = previous;
	snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
	ev.changed_at = now_ms();
	ev.changes++;
	pthread_mutex_unlock(&ev.lock);
}

static int telemetry_count(void)
{
	pthread_mutex_lock(&ev.lock);
	int n = ev.telemetry;
	pthread_mutex_unlock(&ev.lock);
	return n;
}

static int changes(void)
{
	pthread_mutex_lock(&ev.lock);
	int n = ev.changes;
	pthread_mutex_unlock(&ev.lock);
	return n;
}

static cam_control *make_with(cam_control_settings s)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/cam-test-control-%d.sock", (int)getpid());
	s.admin_key = "admin";
	s.socket_path = sock_path;
	s.socket_buffer = 64 * 1024;
	cam_control_callbacks cb = {.telemetry = on_telemetry, .controller = on_controller};
	char err[128] = "";
	cam_control *c = cam_control_new(&s, &cb, NULL, err, sizeof(err));
	if(!c)
		fprintf(stderr, "cam_control_new: %s\n", err);
	CHECK(c != NULL);
	return c;
}

static cam_control *make(cam_control_policy policy, int deadman_ms, int rate)
{
	return make_with((cam_control_settings){.policy = policy, .deadman_ms = deadman_ms, .rate_per_s = rate});
}

static int device_connect(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	strcpy(addr.sun_path, sock_path);
	CHECK(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	return fd;
}

/* Reads one line (without the newline), waiting up to timeout_ms; "" on
 * timeout.  A line cut by the timeout is kept for the next call, which
 * assumes one device socket at a time (true for every test here). */
static const char *read_line(int fd, int timeout_ms)
{
	static char line[70000];
	static size_t n;
	int64_t end = now_ms() + timeout_ms;
	while(n < sizeof(line) - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(end - now_ms());
		if(left < 0 || poll(&p, 1, left) <= 0)
			break;
		char ch;
		if(read(fd, &ch, 1) != 1)
			break;
		if(ch == '\n') {
			line[n] = '\0';
			n = 0;
			return line;
		}
		line[n++] = ch;
	}
	return "";
}

static int msg(cam_control *c, uint64_t viewer, const char *text)
{
	char err[256];
	return cam_control_message(c, viewer, text, strlen(text), false, err, sizeof(err));
}

static void test_single(void)
{
	cam_control *c = make(CAM_CONTROL_SINGLE, 0, 1000);
	int dev = device_connect();
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"controller\",\"controller\":null}"));
	char err[256];
	CHECK_EQ_INT(msg(c, 7, "{\"type\":\"drive\"}"), CAM_ERROR_NOT_CONTROLLER);   /* take first */
	CHECK_EQ_INT(cam_control_take(c, 7, NULL, NULL, err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_control_controller(c), 7);
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"controller\",\"controller\":7}"));
	CHECK_EQ_INT(cam_control_take(c, 8, NULL, NULL, err, sizeof(err)), CAM_ERROR_NOT_CONTROLLER);
	CHECK_EQ_INT(cam_control_take(c, 8, NULL, "wrong", err, sizeof(err)), CAM_ERROR_UNAUTHORIZED);
	CHECK_EQ_INT(msg(c, 8, "{\"type\":\"drive\"}"), CAM_ERROR_NOT_CONTROLLER);
	CHECK_EQ_INT(msg(c, 7, "{\"type\":\"drive\",\"x\":1}"), 0);
	CHECK(!strcmp(read_line(dev, 1000), "{\"from\":7,\"data\":{\"type\":\"drive\",\"x\":1}}"));
	CHECK_EQ_INT(msg(c, 7, "[1,2,"), CAM_ERROR_INVALID_JSON);
	CHECK_EQ_INT(msg(c, 7, " "), CAM_ERROR_INVALID_JSON);
	CHECK_EQ_INT(cam_control_message(c, 7, "{}", 2, true, err, sizeof(err)), CAM_ERROR_INVALID_ELEMENT);
	char *big = malloc(70000);
	memset(big, ' ', 70000);
	big[0] = '"';
	big[69999] = '"';
	CHECK_EQ_INT(cam_control_message(c, 7, big, 70000, false, err, sizeof(err)), CAM_ERROR_INVALID_ELEMENT);
	free(big);
	CHECK_EQ_INT(cam_control_message(c, 7, "", 0, false, err, sizeof(err)), CAM_ERROR_INVALID_ELEMENT);
	json_t *huge = json_string_nocheck("");
	char *text = calloc(1, 70000);
	memset(text, 'z', 69999);
	json_string_set(huge, text);
	free(text);
	CHECK_EQ_INT(cam_control_send(c, 7, huge, err, sizeof(err)), CAM_ERROR_INVALID_ELEMENT);
	json_decref(huge);
	CHECK_EQ_INT(msg(c, 7, "42"), 0);   /* any JSON value */
	CHECK(!strcmp(read_line(dev, 1000), "{\"from\":7,\"data\":42}"));
	/* The bad ones reached nobody. */
	CHECK(!strcmp(read_line(dev, 200), ""));
	/* Forced handover with the admin key: the old controller's device stop, then the change. */
	CHECK_EQ_INT(cam_control_take(c, 8, NULL, "admin", err, sizeof(err)), 0);
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"stop\"}"));
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"controller\",\"controller\":8}"));
	CHECK_EQ_INT(ev.controller, 8);
	CHECK_EQ_INT(ev.previous, 7);
	CHECK_EQ_INT(cam_control_release(c, 7, err, sizeof(err)), CAM_ERROR_NOT_CONTROLLER);
	/* Leaving releases at once. */
	cam_control_viewer_left(c, 8, "left");
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"stop\"}"));
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"controller\",\"controller\":null}"));
	CHECK_EQ_INT(cam_control_controller(c), 0);
	CHECK_EQ_INT(cam_control_take(c, 7, NULL, NULL, err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_control_release(c, 7, err, sizeof(err)), 0);
	cam_control_stats st;
	cam_control_get_stats(c, &st);
	CHECK_EQ_INT(st.delivered, 2);
	CHECK_EQ_INT(st.rejected, 8);   /* 489 x2, 481 x2, 484 x4 */
	CHECK_EQ_INT(st.clients, 1);
	close(dev);
	cam_control_free(c);
	CHECK(access(sock_path, F_OK) != 0);   /* the socket file is removed */
}

static void test_policies(void)
{
	char err[256];
	cam_control *c = make(CAM_CONTROL_NONE, 0, 100);
	CHECK_EQ_INT(cam_control_take(c, 1, NULL, NULL, err, sizeof(err)), CAM_ERROR_WRONG_STATE);
	CHECK_EQ_INT(msg(c, 1, "{}"), CAM_ERROR_NOT_CONTROLLER);
	cam_control_free(c);
	c = make(CAM_CONTROL_OPEN, 0, 100);
	int dev = device_connect();
	read_line(dev, 1000);
	CHECK_EQ_INT(msg(c, 1, "\"a\""), 0);
	CHECK_EQ_INT(msg(c, 2, "\"b\""), 0);
	CHECK(!strcmp(read_line(dev, 1000), "{\"from\":1,\"data\":\"a\"}"));
	CHECK(!strcmp(read_line(dev, 1000), "{\"from\":2,\"data\":\"b\"}"));
	close(dev);
	cam_control_free(c);
	/* control_pin */
	cam_control_settings s = {.policy = CAM_CONTROL_SINGLE, .control_pin = "1234", .deadman_ms = 0};
	cam_control_callbacks cb = {0};
	c = cam_control_new(&s, &cb, NULL, err, sizeof(err));
	CHECK(c != NULL);
	CHECK_EQ_INT(cam_control_take(c, 1, NULL, NULL, err, sizeof(err)), CAM_ERROR_UNAUTHORIZED);
	CHECK_EQ_INT(cam_control_take(c, 1, "1235", NULL, err, sizeof(err)), CAM_ERROR_UNAUTHORIZED);
	CHECK_EQ_INT(cam_control_take(c, 1, "1234", NULL, err, sizeof(err)), 0);
	cam_control_free(c);
}

static void test_rate_limit(void)
{
	cam_control *c = make(CAM_CONTROL_OPEN, 0, 20);   /* 20/s, burst 40 */
	int accepted = 0, limited = 0;
	for(int i = 0; i < 100; i++) {
		int code = msg(c, 3, "1");
		accepted += code == 0;
		limited += code == CAM_ERROR_RATE_LIMITED;
	}
	CHECK(accepted >= 40 && accepted <= 42);
	CHECK_EQ_INT(accepted + limited, 100);
	/* Another viewer has its own budget. */
	CHECK_EQ_INT(msg(c, 4, "1"), 0);
	usleep(250000);
	CHECK_EQ_INT(msg(c, 3, "1"), 0);   /* refilled */
	cam_control_free(c);
}

static void test_deadman(void)
{
	cam_control *c = make(CAM_CONTROL_SINGLE, 300, 1000);
	int dev = device_connect();
	read_line(dev, 1000);
	char err[256];
	CHECK_EQ_INT(cam_control_take(c, 5, NULL, NULL, err, sizeof(err)), 0);
	read_line(dev, 1000);
	/* Keep talking for a while: no stop. */
	int64_t silent_since = 0;
	for(int i = 0; i < 10; i++) {
		usleep(100000);
		CHECK_EQ_INT(msg(c, 5, "{\"type\":\"drive\"}"), 0);
		silent_since = now_ms();
	}
	int stops = 0;
	int64_t first_stop = 0;
	while(now_ms() - silent_since < 1500) {
		const char *line = read_line(dev, 50);
		if(*line && getenv("DEBUG_LINES"))
			fprintf(stderr, "%lld %s\n", (long long)(now_ms() - silent_since), line);
		if(!strcmp(line, "{\"event\":\"stop\"}")) {
			if(!stops++)
				first_stop = now_ms();
		}
	}
	CHECK_EQ_INT(stops, 1);   /* exactly once per silence */
	int64_t delay = first_stop - silent_since;
	printf("# safety stop %lld ms after the controller fell silent (deadman 300 ms)\n", (long long)delay);
	CHECK(delay >= 290 && delay <= 400);
	/* Talking again re-arms it. */
	CHECK_EQ_INT(msg(c, 5, "1"), 0);
	int64_t t0 = now_ms();
	CHECK(!strcmp(read_line(dev, 1000), "{\"from\":5,\"data\":1}"));
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"stop\"}"));
	CHECK(now_ms() - t0 >= 280);
	/* Leaving after the stop was sent does not repeat it. */
	cam_control_viewer_left(c, 5, "left");
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"controller\",\"controller\":null}"));
	CHECK(!strcmp(read_line(dev, 300), ""));
	close(dev);
	cam_control_free(c);
}

static void test_telemetry(void)
{
	cam_control *c = make(CAM_CONTROL_SINGLE, 0, 100);
	int dev = device_connect();
	read_line(dev, 1000);
	const char *lines = "{\"data\":{\"battery\":90}}\n{\"to\":12,\"data\":\"hi\"}\nnot json\n{\"to\":\"x\",\"data\":1}\n{\"nodata\":1}\n";
	CHECK(write(dev, lines, strlen(lines)) == (ssize_t)strlen(lines));
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"error\",\"error\":\"each line must be one JSON object\"}"));
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"error\",\"error\":\"\\\"to\\\" must be a viewer id\"}"));
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"error\",\"error\":\"missing \\\"data\\\"\"}"));
	pthread_mutex_lock(&ev.lock);
	CHECK_EQ_INT(ev.telemetry, 2);
	CHECK(!strcmp(ev.last_telemetry, "\"hi\""));
	CHECK_EQ_INT(ev.telemetry_to, 12);
	pthread_mutex_unlock(&ev.lock);
	/* An overlong line is dropped whole, and the next line still works. */
	char *big = malloc(100000);
	memset(big, 'x', 99999);
	big[99999] = '\n';
	CHECK(write(dev, big, 100000) == 100000);
	free(big);
	const char *ok = "{\"data\":2}\n";
	CHECK(write(dev, ok, strlen(ok)) == (ssize_t)strlen(ok));
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"error\",\"error\":\"line longer than 65535 bytes: dropped\"}"));
	for(int i = 0; i < 100 && telemetry_count() < 3; i++)
		usleep(10000);
	pthread_mutex_lock(&ev.lock);
	CHECK(!strcmp(ev.last_telemetry, "2"));
	pthread_mutex_unlock(&ev.lock);
	cam_control_stats st;
	cam_control_get_stats(c, &st);
	CHECK_EQ_INT(st.telemetry, 3);
	CHECK_EQ_INT(st.telemetry_invalid, 4);
	close(dev);
	cam_control_free(c);
}

static void test_slow_and_many_programs(void)
{
	cam_control *c = make(CAM_CONTROL_OPEN, 0, 1000000);
	int slow = device_connect();     /* never reads */
	int a = device_connect(), b = device_connect();
	usleep(100000);
	char payload[1100];
	memset(payload, 'y', sizeof(payload));
	payload[0] = '"';
	payload[sizeof(payload) - 2] = '"';
	payload[sizeof(payload) - 1] = '\0';
	/* ~20 MB of lines: the slow program's 64 KiB buffer overflows; the
	 * sender is never blocked. */
	int64_t t0 = now_ms(), worst = 0;
	for(int i = 0; i < 20000; i++) {
		int64_t t = now_ms();
		CHECK_EQ_INT(msg(c, 9, payload), 0);
		if(now_ms() - t > worst)
			worst = now_ms() - t;
		if(i % 500 == 0) {
			/* a and b keep reading */
			char buf[65536];
			while(recv(a, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
			while(recv(b, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
		}
	}
	printf("# 20000 messages in %lld ms, slowest call %lld ms\n", (long long)(now_ms() - t0), (long long)worst);
	/* A sender blocked by the program that never reads would wait forever;
	 * the bound only has to tell "never blocked" from that, on a loaded
	 * machine too. */
	CHECK(worst < 2000);
	cam_control_stats st;
	cam_control_get_stats(c, &st);
	CHECK(st.lines_dropped > 0);
	CHECK_EQ_INT(st.delivered, 20000);
	CHECK_EQ_INT(st.clients, 3);
	/* A disconnect is noticed and the others carry on. */
	close(slow);
	close(a);
	CHECK_EQ_INT(msg(c, 9, "\"after\""), 0);
	const char *line = "";
	for(int i = 0; i < 100000 && strcmp(line, "{\"from\":9,\"data\":\"after\"}"); i++)
		line = read_line(b, 1000);
	CHECK(!strcmp(line, "{\"from\":9,\"data\":\"after\"}"));
	usleep(100000);
	cam_control_get_stats(c, &st);
	CHECK_EQ_INT(st.clients, 1);
	close(b);
	cam_control_free(c);
}

/* Waits up to timeout_ms for the controller callback to have run `n` times;
 * the time it last ran, or 0. */
static int64_t wait_changes(int n, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	while(changes() < n && now_ms() < end)
		usleep(2000);
	pthread_mutex_lock(&ev.lock);
	int64_t at = ev.changes >= n ? ev.changed_at : 0;
	pthread_mutex_unlock(&ev.lock);
	return at;
}

/* Reads lines until one equals `want` (skipping others) or timeout_ms
 * passes; the time it came, or 0. */
static int64_t wait_line(int fd, const char *want, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	while(now_ms() < end) {
		if(!strcmp(read_line(fd, (int)(end - now_ms())), want))
			return now_ms();
	}
	return 0;
}

/* Counts stop lines arriving within ms. */
static int stops_within(int fd, int ms)
{
	int stops = 0;
	int64_t end = now_ms() + ms;
	while(now_ms() < end)
		stops += !strcmp(read_line(fd, (int)(end - now_ms())), "{\"event\":\"stop\"}");
	return stops;
}

static void test_control_timeout(void)
{
	cam_control *c = make_with((cam_control_settings){.policy = CAM_CONTROL_SINGLE,
		.deadman_ms = 100, .control_timeout_ms = 400, .rate_per_s = 1000});
	int dev = device_connect();
	read_line(dev, 1000);
	char err[256];
	CHECK_EQ_INT(cam_control_take(c, 5, NULL, NULL, err, sizeof(err)), 0);
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"controller\",\"controller\":5}"));
	/* Talking every 100 ms for 0.8 s (twice the timeout) keeps control;
	 * the safety stops in between are the dead-man's, and the device hears
	 * no controller change. */
	int before = changes();
	int64_t last = 0;
	for(int i = 0; i < 8; i++) {
		last = now_ms();   /* before the call: the timer cannot start earlier */
		CHECK_EQ_INT(msg(c, 5, "{\"type\":\"drive\"}"), 0);
		usleep(100000);
	}
	CHECK_EQ_INT(cam_control_controller(c), 5);
	CHECK_EQ_INT(changes(), before);
	/* Refused messages from others do not keep it either. */
	CHECK_EQ_INT(msg(c, 6, "1"), CAM_ERROR_NOT_CONTROLLER);
	int64_t lost = wait_changes(before + 1, 2000);
	CHECK(lost != 0);
	int64_t at_device = wait_line(dev, "{\"event\":\"controller\",\"controller\":null}", 1000);
	CHECK(at_device != 0);
	printf("# control timeout 400 ms: controller lost control %lld ms after its last message (device %lld ms)\n",
		(long long)(lost - last), (long long)(at_device - last));
	CHECK(lost - last >= 399 && lost - last <= 700);   /* 1 ms: now_ms() truncates */
	pthread_mutex_lock(&ev.lock);
	CHECK_EQ_INT(ev.controller, 0);
	CHECK_EQ_INT(ev.previous, 5);
	CHECK(!strcmp(ev.reason, "timeout"));
	pthread_mutex_unlock(&ev.lock);
	CHECK_EQ_INT(cam_control_controller(c), 0);
	CHECK_EQ_INT(msg(c, 5, "1"), CAM_ERROR_NOT_CONTROLLER);
	/* Someone else can take control now; the timer runs from taking it. */
	int64_t taken = now_ms();
	CHECK_EQ_INT(cam_control_take(c, 6, NULL, NULL, err, sizeof(err)), 0);
	CHECK(wait_line(dev, "{\"event\":\"controller\",\"controller\":6}", 1000) != 0);
	int64_t stop_at = wait_line(dev, "{\"event\":\"stop\"}", 1000);
	int64_t lost6 = wait_line(dev, "{\"event\":\"controller\",\"controller\":null}", 2000);
	CHECK(stop_at != 0 && lost6 != 0);
	printf("# a controller that never sends: stop after %lld ms, control lost after %lld ms\n",
		(long long)(stop_at - taken), (long long)(lost6 - taken));
	CHECK(stop_at - taken >= 99 && stop_at - taken < 400);
	CHECK(lost6 - taken >= 399 && lost6 - taken <= 700);
	cam_control_stats st;
	cam_control_get_stats(c, &st);
	CHECK_EQ_INT(st.timeouts, 2);
	close(dev);
	cam_control_free(c);

	/* control_timeout_ms 0: never. */
	c = make_with((cam_control_settings){.policy = CAM_CONTROL_SINGLE, .deadman_ms = 100, .control_timeout_ms = 0});
	CHECK_EQ_INT(cam_control_take(c, 7, NULL, NULL, err, sizeof(err)), 0);
	before = changes();
	usleep(600000);
	CHECK_EQ_INT(cam_control_controller(c), 7);
	CHECK_EQ_INT(changes(), before);
	cam_control_free(c);
}

static void test_open_safety_stop(void)
{
	cam_control *c = make_with((cam_control_settings){.policy = CAM_CONTROL_OPEN,
		.deadman_ms = 200, .control_timeout_ms = 300, .rate_per_s = 1000});
	int dev = device_connect();
	read_line(dev, 1000);
	/* Nobody has driven yet: no stop. */
	CHECK_EQ_INT(stops_within(dev, 400), 0);
	/* Two viewers drive for a while, then both fall silent: one stop,
	 * deadman_ms after the last message of either. */
	int64_t last = 0;
	for(int i = 0; i < 6; i++) {
		last = now_ms();
		CHECK_EQ_INT(msg(c, 1 + i % 2, "{\"type\":\"drive\"}"), 0);
		usleep(60000);
	}
	int64_t stop = wait_line(dev, "{\"event\":\"stop\"}", 1000);
	CHECK(stop != 0);
	printf("# open: safety stop %lld ms after the last message (deadman 200 ms)\n", (long long)(stop - last));
	CHECK(stop - last >= 199 && stop - last <= 400);
	CHECK_EQ_INT(stops_within(dev, 600), 0);   /* once per silence */
	/* No controller under "open": the control timeout does nothing. */
	CHECK_EQ_INT(cam_control_controller(c), 0);
	/* A driving viewer leaves: a stop at once, not after deadman_ms. */
	CHECK_EQ_INT(msg(c, 1, "1"), 0);
	CHECK_EQ_INT(msg(c, 2, "1"), 0);
	int64_t t0 = now_ms();
	cam_control_viewer_left(c, 1, "left");
	stop = wait_line(dev, "{\"event\":\"stop\"}", 1000);
	CHECK(stop != 0 && stop - t0 < 100);
	/* The other one falls silent after that stop: nothing more (the
	 * silence's stop was sent); when it talks again, its silence stops. */
	CHECK_EQ_INT(stops_within(dev, 400), 0);
	last = now_ms();
	CHECK_EQ_INT(msg(c, 2, "1"), 0);
	stop = wait_line(dev, "{\"event\":\"stop\"}", 1000);
	CHECK(stop != 0 && stop - last >= 199);
	/* Viewers that are not driving leave without a stop: one that never
	 * sent, one whose last message is older than deadman_ms. */
	cam_control_viewer_left(c, 3, "left");
	cam_control_viewer_left(c, 2, "left");
	CHECK_EQ_INT(stops_within(dev, 300), 0);
	cam_control_stats st;
	cam_control_get_stats(c, &st);
	CHECK_EQ_INT(st.stops, 3);
	close(dev);
	cam_control_free(c);

	/* Shutting down while someone drives stops the device too. */
	c = make(CAM_CONTROL_OPEN, 60000, 100);
	dev = device_connect();
	read_line(dev, 1000);
	CHECK_EQ_INT(msg(c, 1, "1"), 0);
	CHECK(!strcmp(read_line(dev, 1000), "{\"from\":1,\"data\":1}"));
	cam_control_free(c);
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"stop\"}"));
	close(dev);

	/* "none": nobody drives, nothing is ever stopped. */
	c = make(CAM_CONTROL_NONE, 100, 100);
	dev = device_connect();
	read_line(dev, 1000);
	CHECK_EQ_INT(msg(c, 1, "1"), CAM_ERROR_NOT_CONTROLLER);
	cam_control_viewer_left(c, 1, "left");
	CHECK_EQ_INT(stops_within(dev, 300), 0);
	close(dev);
	cam_control_free(c);
}

static int admit_n(cam_control *c, uint64_t viewer, int n)
{
	int admitted = 0;
	for(int i = 0; i < n; i++)
		admitted += cam_control_telemetry_admit(c, viewer);
	return admitted;
}

/* Whether n admits for a viewer with at least `tokens` in its bucket let
 * through that many, and at most two more (fractions) plus what refilled at
 * `rate` while they ran. */
static bool admits(cam_control *c, uint64_t viewer, int n, int tokens, int rate, int *got)
{
	int64_t t0 = now_ms();
	*got = admit_n(c, viewer, n);
	int64_t took = now_ms() - t0;
	bool ok = *got >= tokens && *got <= tokens + 2 + (int)(took * rate / 1000);
	if(!ok)
		fprintf(stderr, "viewer %llu: %d of %d admitted in %lld ms, %d tokens at %d/s\n",
			(unsigned long long)viewer, *got, n, (long long)took, tokens, rate);
	return ok;
}

static void test_telemetry_rate(void)
{
	cam_control *c = make_with((cam_control_settings){.policy = CAM_CONTROL_SINGLE,
		.telemetry_rate = 100, .telemetry_burst = 50});
	/* A burst, then the rate: 1000 at once give the burst (and whatever
	 * trickled in meanwhile); each viewer has its own bucket. */
	int a, a2, b, fresh;
	CHECK(admits(c, 2, 1000, 50, 100, &a2));
	CHECK(admits(c, 1, 1000, 50, 100, &a));
	/* Over 0.5 s at 100/s: 50 more (at least; a late wake-up gives more). */
	int64_t t0 = now_ms();
	usleep(500000);
	int64_t slept = now_ms() - t0;
	CHECK(admits(c, 1, 1000, (int)(slept * 100 / 1000) - 1, 100, &b));
	printf("# telemetry 100/s: %d lines admitted after %lld ms\n", b, (long long)slept);
	cam_control_stats st;
	cam_control_get_stats(c, &st);
	CHECK_EQ_INT(st.telemetry_dropped, 3000 - a - a2 - b);
	/* A viewer that left is forgotten: a new viewer with its id (Janus
	 * never reuses them, but the state must go) starts with a full burst. */
	cam_control_viewer_left(c, 1, "left");
	CHECK(admits(c, 1, 100, 50, 100, &fresh));
	/* Many viewers, each admitted once and never leaving (a leave racing a
	 * broadcast): records that say nothing are reused, and every new one
	 * starts full. */
	for(uint64_t v = 100; v < 5100; v++)
		CHECK_EQ_INT(admit_n(c, v, 1), 1);
	cam_control_free(c);
}

static void test_telemetry_routing(void)
{
	cam_control *c = make(CAM_CONTROL_SINGLE, 0, 100);
	int dev = device_connect();
	read_line(dev, 1000);
	int t0 = telemetry_count();
	/* "to" a viewer nobody has: an error line to the sender, counted. */
	const char *unknown = "{\"to\":5000,\"data\":{\"x\":1}}\n";
	CHECK(write(dev, unknown, strlen(unknown)) == (ssize_t)strlen(unknown));
	CHECK(!strcmp(read_line(dev, 1000), "{\"event\":\"error\",\"error\":\"no viewer 5000\",\"to\":5000}"));
	/* A known one, and a broadcast with nobody watching: no error. */
	broadcast_viewers = 0;
	const char *known = "{\"to\":12,\"data\":1}\n{\"data\":2}\n";
	CHECK(write(dev, known, strlen(known)) == (ssize_t)strlen(known));
	CHECK(!strcmp(read_line(dev, 300), ""));
	broadcast_viewers = 2;
	/* A value that looks like a plugin error is plain telemetry... */
	const char *lookalike = "{\"data\":{\"error_code\":489,\"error\":\"x\"}}\n";
	CHECK(write(dev, lookalike, strlen(lookalike)) == (ssize_t)strlen(lookalike));
	for(int i = 0; i < 100 && telemetry_count() < t0 + 4; i++)
		usleep(10000);
	pthread_mutex_lock(&ev.lock);
	CHECK(!strcmp(ev.last_telemetry, "{\"error_code\":489,\"error\":\"x\"}"));
	pthread_mutex_unlock(&ev.lock);
	/* ... but a top-level "camera" is the plugin's: refused, never relayed.
	 * Deeper down, or in an array, it is the device's business. */
	const char *reserved = "{\"data\":{\"camera\":\"error\",\"error_code\":489,\"error\":\"x\"}}\n";
	CHECK(write(dev, reserved, strlen(reserved)) == (ssize_t)strlen(reserved));
	CHECK(!strcmp(read_line(dev, 1000),
		"{\"event\":\"error\",\"error\":\"\\\"camera\\\" in \\\"data\\\" is reserved for the plugin's own frames\"}"));
	const char *deep = "{\"data\":{\"x\":{\"camera\":1}}}\n{\"data\":[\"camera\"]}\n";
	CHECK(write(dev, deep, strlen(deep)) == (ssize_t)strlen(deep));
	CHECK(!strcmp(read_line(dev, 300), ""));
	CHECK_EQ_INT(telemetry_count(), t0 + 6);
	cam_control_stats st;
	cam_control_get_stats(c, &st);
	CHECK_EQ_INT(st.telemetry, 6);
	CHECK_EQ_INT(st.telemetry_invalid, 1);
	CHECK_EQ_INT(st.telemetry_no_viewer, 1);
	json_t *sj = cam_control_stats_json(c);
	CHECK_EQ_INT(json_integer_value(json_object_get(sj, "telemetry_no_viewer")), 1);
	CHECK_EQ_INT(json_integer_value(json_object_get(sj, "telemetry_invalid")), 1);
	CHECK(json_object_get(sj, "telemetry_dropped") && json_object_get(sj, "timeouts"));
	CHECK_EQ_INT(json_integer_value(json_object_get(sj, "clients")), 1);
	json_decref(sj);
	close(dev);
	cam_control_free(c);
	/* The plugin's own frames on the channel say so. */
	char *text = cam_control_error_text(489, "viewer 7 holds control");
	CHECK(!strcmp(text, "{\"camera\":\"error\",\"error_code\":489,\"error\":\"viewer 7 holds control\"}"));
	free(text);
}

int main(void)
{
	RUN(test_single);
	RUN(test_policies);
	RUN(test_rate_limit);
	RUN(test_deadman);
	RUN(test_telemetry);
	RUN(test_slow_and_many_programs);
	RUN(test_control_timeout);
	RUN(test_open_safety_stop);
	RUN(test_telemetry_rate);
	RUN(test_telemetry_routing);
	return check_exit();
}
