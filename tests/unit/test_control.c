/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Device control against a real Unix socket: policies, the single
 * controller, error codes, rate limiting, the safety stop's timing, telemetry
 * both ways, several device programs, and one that never reads.
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
	int changes;
	char last_telemetry[256];
	uint64_t telemetry_to;
	int telemetry;
} events;

static events ev = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_telemetry(void *opaque, uint64_t viewer, const char *text, size_t len)
{
	pthread_mutex_lock(&ev.lock);
	snprintf(ev.last_telemetry, sizeof(ev.last_telemetry), "%.*s", (int)len, text);
	ev.telemetry_to = viewer;
	ev.telemetry++;
	pthread_mutex_unlock(&ev.lock);
}

static void on_controller(void *opaque, uint64_t controller, uint64_t previous, const char *reason)
{
	pthread_mutex_lock(&ev.lock);
	ev.controller = controller;
	ev.previous = previous;
	ev.changes++;
	pthread_mutex_unlock(&ev.lock);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cam_control *make(cam_control_policy policy, int deadman_ms, int rate)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/cam-test-control-%d.sock", (int)getpid());
	cam_control_settings s = {
		.policy = policy, .admin_key = "admin", .socket_path = sock_path,
		.deadman_ms = deadman_ms, .rate_per_s = rate, .socket_buffer = 64 * 1024,
	};
	cam_control_callbacks cb = {.telemetry = on_telemetry, .controller = on_controller};
	char err[128] = "";
	cam_control *c = cam_control_new(&s, &cb, NULL, err, sizeof(err));
	if(!c)
		fprintf(stderr, "cam_control_new: %s\n", err);
	CHECK(c != NULL);
	return c;
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
	CHECK(!strncmp(read_line(dev, 1000), "{\"error\":", 9));
	CHECK(!strncmp(read_line(dev, 1000), "{\"error\":", 9));
	CHECK(!strncmp(read_line(dev, 1000), "{\"error\":", 9));
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
	usleep(200000);
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
	CHECK(worst < 100);
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

int main(void)
{
	RUN(test_single);
	RUN(test_policies);
	RUN(test_rate_limit);
	RUN(test_deadman);
	RUN(test_telemetry);
	RUN(test_slow_and_many_programs);
	return check_exit();
}
