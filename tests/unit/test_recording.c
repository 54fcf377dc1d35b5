/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Recording: frames from a real fan-out written to real files by a plain-file
 * backend (each RTP packet as a 2-byte big-endian length and the packet), and
 * read back.  A file starts with a key frame and then has every frame, whole
 * and in order; start/stop/start makes two files; a folder that cannot be
 * made fails start with a reason; a full disk (/dev/full, and a file-size
 * limit) stops writing, is kept in the status and reported once; all of it
 * while viewers come and go and another thread starts and stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "fanout.h"
#include "recording.h"
#include "rtp_vp8.h"

/* ---- the plain-file backend ---- */

static atomic_bool open_dev_full;   /* open() gives /dev/full instead */
static atomic_bool open_refuses;    /* open() refuses with a reason of its own */

/* A disk that hangs: save() waits while the gate is closed. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_closed;
static int gate_waiters;

static void gate_set(bool closed)
{
	pthread_mutex_lock(&gate_lock);
	gate_closed = closed;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

static void gate_pass(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_waiters++;
	pthread_cond_broadcast(&gate_cond);
	while(gate_closed)
		pthread_cond_wait(&gate_cond, &gate_lock);
	gate_waiters--;
	pthread_mutex_unlock(&gate_lock);
}

/* Until the writer waits at the gate. */
static void gate_wait_blocked(void)
{
	pthread_mutex_lock(&gate_lock);
	while(gate_waiters == 0)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

typedef struct plain_file {
	int fd;
} plain_file;

static void *file_open(const char *dir, const char *name, int *err, char *why, size_t why_size)
{
	char path[CAM_RECORDING_PATH_MAX + 16];
	if(atomic_load(&open_refuses)) {
		*err = -EPERM;
		snprintf(why, why_size, "the backend says no");
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s.rtp", dir, name);
	int fd = atomic_load(&open_dev_full) ? open("/dev/full", O_WRONLY | O_CLOEXEC)
		: open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if(fd < 0) {
		*err = -errno;
		return NULL;
	}
	plain_file *h = malloc(sizeof(*h));
	h->fd = fd;
	return h;
}

static int file_save(void *handle, const uint8_t *rtp, size_t len)
{
	plain_file *h = handle;
	uint8_t buf[2 + CAM_RTP_MAX_PACKET];
	gate_pass();
	if(len > CAM_RTP_MAX_PACKET)
		return -EINVAL;
	buf[0] = (uint8_t)(len >> 8);
	buf[1] = (uint8_t)len;
	memcpy(buf + 2, rtp, len);
	size_t done = 0, total = len + 2;
	while(done < total) {
		ssize_t n = write(h->fd, buf + done, total - done);
		if(n < 0) {
			if(errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

static int file_close(void *handle)
{
	plain_file *h = handle;
	int r = close(h->fd) < 0 ? -errno : 0;
	free(h);
	return r;
}

static const cam_recording_ops file_ops = {
	.ext = ".rtp", .open = file_open, .save = file_save, .close = file_close,
};

/* Refuses folders whose name ends in "protected" before they exist. */
static int stdio_check_dir(const char *dir, char *why, size_t why_size)
{
	size_t n = strlen(dir);
	if(n >= 9 && strcmp(dir + n - 9, "protected") == 0) {
		snprintf(why, why_size, "a protected folder");
		return -EPERM;
	}
	return 0;
}

/* The same format through stdio, as Janus's recorder writes: a write error
 * shows at the flush after each frame. */
static void *stdio_open(const char *dir, const char *name, int *err, char *why, size_t why_size)
{
	char path[CAM_RECORDING_PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/%s.rtp", dir, name);
	FILE *f = atomic_load(&open_dev_full) ? fopen("/dev/full", "wb") : fopen(path, "wbx");
	if(!f)
		*err = -errno;
	return f;
}

static int stdio_save(void *handle, const uint8_t *rtp, size_t len)
{
	uint8_t be[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	/* Full buffers are flushed inside fwrite: short counts are errors too. */
	if(fwrite(be, 1, 2, handle) != 2 || fwrite(rtp, 1, len, handle) != len)
		return -(errno ? errno : EIO);
	return 0;
}

static int stdio_flush(void *handle)
{
	return fflush(handle) == 0 ? 0 : -errno;
}

static int stdio_close(void *handle)
{
	return fclose(handle) == 0 ? 0 : -errno;
}

static const cam_recording_ops stdio_ops = {
	.ext = ".rtp", .check_dir = stdio_check_dir, .open = stdio_open, .save = stdio_save,
	.flush = stdio_flush, .close = stdio_close,
};

/* ---- frames: the project's packetizer over fake VP8 frames ---- */

/* Each frame: the VP8 key bit (P=0 for a key frame) then its number; big
 * enough to take several packets. */
#define FRAME_BYTES 3000

typedef struct stream {
	cam_rtp_vp8 rtp;
	uint8_t data[8][CAM_RTP_MAX_PACKET];
	cam_packet packets[8];
	int count;
	uint32_t number;
} stream;

static void emit(void *opaque, const uint8_t *packet, size_t len, bool first, bool last)
{
	stream *s = opaque;
	memcpy(s->data[s->count], packet, len);
	s->packets[s->count] = (cam_packet){.data = s->data[s->count], .len = (uint16_t)len,
		.first = first, .last = last};
	s->count++;
}

static int deliver(cam_fanout *fo, stream *s, bool key)
{
	uint8_t frame[FRAME_BYTES];
	s->number++;
	memset(frame, (int)(s->number & 0xff), sizeof(frame));
	frame[0] = key ? 0x10 : 0x11;
	memcpy(frame + 1, &s->number, sizeof(s->number));
	s->count = 0;
	cam_rtp_vp8_packetize(&s->rtp, frame, sizeof(frame), s->number * 3000, emit, s);
	cam_fanout_frame f = {.packets = s->packets, .count = s->count, .keyframe = key};
	return cam_fanout_deliver(fo, &f);
}

/* ---- reading a file back ---- */

typedef struct file_check {
	int packets, frames, keyframes;
	uint32_t first_frame, last_frame;
	uint64_t rtp_bytes;
	bool starts_with_key, whole, in_order, torn_tail;
} file_check;

/* Parses the file: packets must follow each other in sequence, frames start
 * with S=1 and end with the marker, frame numbers go up by one. */
static file_check read_back(const char *path)
{
	file_check c = {.whole = true, .in_order = true};
	FILE *f = fopen(path, "rb");
	CHECK(f != NULL);
	if(!f)
		return c;
	uint8_t len_be[2], pkt[CAM_RTP_MAX_PACKET];
	int expect_seq = -1;
	bool in_frame = false;
	uint32_t frame_no = 0;
	while(fread(len_be, 1, 2, f) == 2) {
		size_t len = (size_t)len_be[0] << 8 | len_be[1];
		if(len > sizeof(pkt) || fread(pkt, 1, len, f) != len) {
			c.torn_tail = true;
			break;
		}
		cam_rtp_vp8_info info;
		if(cam_rtp_vp8_parse(pkt, len, &info) < 0) {
			c.whole = false;
			break;
		}
		if(expect_seq >= 0 && info.seq != (uint16_t)expect_seq)
			c.in_order = false;
		expect_seq = (uint16_t)(info.seq + 1);
		c.packets++;
		c.rtp_bytes += len;
		if(info.start) {
			if(in_frame)
				c.whole = false;
			in_frame = true;
			uint32_t n;
			memcpy(&n, info.payload + 1, sizeof(n));
			if(c.frames == 0) {
				c.first_frame = n;
				c.starts_with_key = info.keyframe;
			} else if(n != frame_no + 1) {
				c.in_order = false;
			}
			frame_no = n;
			c.keyframes += info.keyframe;
		} else if(!in_frame) {
			c.whole = false;
		}
		if(info.marker) {
			in_frame = false;
			c.frames++;
			c.last_frame = frame_no;
		}
	}
	if(in_frame)
		c.whole = false;
	fclose(f);
	return c;
}

static char tmp[256];

static void make_tmp(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/test_recording.XXXXXX");
	CHECK(mkdtemp(tmp) != NULL);
}

static void remove_tree(const char *path)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	CHECK_EQ_INT(system(cmd), 0);
}

static int error_calls;
static char last_error[CAM_RECORDING_ERROR_MAX], last_error_file[CAM_RECORDING_PATH_MAX];

static void on_error(cam_recording *rec, const char *file, const char *error, void *opaque)
{
	CHECK(opaque == &error_calls);
	error_calls++;
	snprintf(last_error, sizeof(last_error), "%s", error);
	snprintf(last_error_file, sizeof(last_error_file), "%s", file);
}

/* A new tmp, a camera's fan-out (send: its viewers' default), a stream into
 * it, and a recording "cam" in tmp on it. */
typedef struct fixture {
	stream s;
	cam_fanout *fo;
	cam_recording *rec;
} fixture;

static void setup(fixture *fx, cam_fanout_send_fn send)
{
	make_tmp();
	memset(fx, 0, sizeof(*fx));
	cam_rtp_vp8_init(&fx->s.rtp, 96, 1, 1, 1, 1200);
	fx->fo = cam_fanout_new(send, NULL);
	fx->rec = cam_recording_new("cam", tmp, fx->fo, &file_ops, on_error, &error_calls);
	error_calls = 0;
}

static void teardown(fixture *fx)
{
	cam_recording_free(fx->rec);
	CHECK_EQ_INT(cam_fanout_count(fx->fo), 0);
	cam_fanout_free(fx->fo);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- tests ---- */

static int viewer_frames;
static void viewer_cb(void *v, const cam_fanout_frame *frame, void *opaque)
{
	(*(int *)v)++;
	viewer_frames++;
}

static void test_record(void)
{
	make_tmp();
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/not/yet/there", tmp);   /* made with its parents */
	int viewer = 0;
	stream s = {0};
	cam_rtp_vp8_init(&s.rtp, 96, 0x1234, 100, 1, 1200);
	cam_fanout *fo = cam_fanout_new(NULL, NULL);
	cam_recording *rec = cam_recording_new("front", dir, fo, &file_ops, on_error, &error_calls);
	CHECK(rec != NULL);
	cam_recording_status st;
	cam_recording_status_get(rec, &st);
	CHECK(!st.active && !st.started && st.file[0] == '\0' && st.error[0] == '\0');
	CHECK_EQ_INT(cam_recording_stop(rec, NULL), -ENOENT);

	CHECK_EQ_INT(cam_recording_start(rec, &st), 0);
	CHECK(st.active && st.started && st.error[0] == '\0');
	CHECK_EQ_INT(cam_recording_start(rec, NULL), -EALREADY);
	/* <dir>/front-YYYYmmdd-HHMMSS.rtp */
	CHECK(strncmp(st.file, dir, strlen(dir)) == 0);
	CHECK(strncmp(st.file + strlen(dir), "/front-", 7) == 0);
	CHECK_EQ_INT(strlen(st.file), strlen(dir) + strlen("/front-20261202-001500.rtp"));
	CHECK(has_suffix(st.file, ".rtp"));
	CHECK_EQ_INT(cam_fanout_waiting(fo), 1);     /* the pipeline forces a key frame */

	/* Delta frames before the first key frame are not written. */
	for(int i = 0; i < 3; i++)
		deliver(fo, &s, false);
	cam_recording_sync(rec);
	cam_recording_status_get(rec, &st);
	CHECK_EQ_INT(st.frames, 0);
	CHECK_EQ_INT(st.bytes, 0);
	uint32_t first = s.number + 1;
	for(int i = 0; i < 30; i++)
		deliver(fo, &s, i % 10 == 0);
	/* A viewer joins and leaves: the file goes on. */
	CHECK(cam_fanout_add_sink(fo, &viewer, viewer_cb, NULL));
	deliver(fo, &s, true);
	CHECK(cam_fanout_remove(fo, &viewer));
	for(int i = 0; i < 4; i++)
		deliver(fo, &s, false);

	char file[CAM_RECORDING_PATH_MAX];
	CHECK_EQ_INT(cam_recording_stop(rec, &st), 0);
	snprintf(file, sizeof(file), "%s", st.file);
	CHECK(!st.active && !st.started && st.error[0] == '\0');
	CHECK_EQ_INT(st.frames, 35);
	CHECK_EQ_INT(viewer, 1);
	CHECK_EQ_INT(cam_fanout_count(fo), 0);
	file_check c = read_back(file);
	CHECK(c.whole && c.in_order && c.starts_with_key && !c.torn_tail);
	CHECK_EQ_INT(c.frames, 35);
	CHECK_EQ_INT(c.keyframes, 4);
	CHECK_EQ_INT(c.first_frame, first);
	CHECK_EQ_INT(c.last_frame, s.number);
	CHECK_EQ_INT(c.rtp_bytes, st.bytes);
	struct stat sb;
	CHECK(stat(file, &sb) == 0);
	CHECK_EQ_INT(sb.st_size, st.bytes + 2 * (uint64_t)c.packets);
	/* After stop, nothing more reaches the file; the status keeps it. */
	deliver(fo, &s, true);
	CHECK(stat(file, &sb) == 0);
	CHECK_EQ_INT(sb.st_size, st.bytes + 2 * (uint64_t)c.packets);
	cam_recording_status_get(rec, &st);
	CHECK(strcmp(st.file, file) == 0);
	CHECK_EQ_INT(st.frames, 35);

	/* start again: a second file (the same second: "-2"), from the next key
	 * frame on; the first file is untouched. */
	CHECK_EQ_INT(cam_recording_start(rec, &st), 0);
	CHECK(strcmp(st.file, file) != 0);
	CHECK_EQ_INT(st.frames, 0);
	char file2[CAM_RECORDING_PATH_MAX];
	snprintf(file2, sizeof(file2), "%s", st.file);
	deliver(fo, &s, false);
	first = s.number + 1;
	for(int i = 0; i < 12; i++)
		deliver(fo, &s, i % 10 == 0);
	CHECK_EQ_INT(cam_recording_stop(rec, &st), 0);
	CHECK(strcmp(st.file, file2) == 0);
	CHECK_EQ_INT(st.frames, 12);
	c = read_back(file2);
	CHECK(c.whole && c.in_order && c.starts_with_key);
	CHECK_EQ_INT(c.frames, 12);
	CHECK_EQ_INT(c.first_frame, first);
	CHECK_EQ_INT(read_back(file).frames, 35);
	CHECK_EQ_INT(error_calls, 0);

	/* Two more in the same second get their own names too. */
	char file3[CAM_RECORDING_PATH_MAX];
	CHECK_EQ_INT(cam_recording_start(rec, &st), 0);
	snprintf(file3, sizeof(file3), "%s", st.file);
	CHECK(strcmp(file3, file) != 0 && strcmp(file3, file2) != 0);
	/* free stops a started recording. */
	cam_recording_free(rec);
	CHECK_EQ_INT(cam_fanout_count(fo), 0);
	CHECK(stat(file3, &sb) == 0);
	CHECK_EQ_INT(sb.st_size, 0);
	cam_fanout_free(fo);
	remove_tree(tmp);
}

static void test_unwritable(void)
{
	make_tmp();
	char file[300], dir[400];
	snprintf(file, sizeof(file), "%s/plain-file", tmp);
	FILE *f = fopen(file, "w");
	CHECK(f != NULL);
	fclose(f);
	cam_fanout *fo = cam_fanout_new(NULL, NULL);
	cam_recording_status st;

	/* A folder under a regular file cannot be made, not even by root. */
	snprintf(dir, sizeof(dir), "%s/sub/dir", file);
	cam_recording *rec = cam_recording_new("cam", dir, fo, &file_ops, on_error, &error_calls);
	CHECK_EQ_INT(cam_recording_start(rec, &st), -ENOTDIR);
	CHECK(!st.active && !st.started);
	CHECK(strstr(st.error, dir) != NULL);
	CHECK(strstr(st.error, "Not a directory") != NULL);
	CHECK_EQ_INT(cam_fanout_count(fo), 0);
	CHECK_EQ_INT(cam_recording_stop(rec, NULL), -ENOENT);
	cam_recording_status_get(rec, &st);
	CHECK(st.error[0] != '\0');      /* kept for info */
	printf("# unwritable: %s\n", st.error);
	cam_recording_free(rec);

	/* The folder is a regular file. */
	rec = cam_recording_new("cam", file, fo, &file_ops, on_error, &error_calls);
	CHECK_EQ_INT(cam_recording_start(rec, &st), -ENOTDIR);
	cam_recording_free(rec);

	/* A folder without write permission (root writes anyway: then only the
	 * cases above). */
	if(geteuid() != 0) {
		snprintf(dir, sizeof(dir), "%s/ro", tmp);
		CHECK(mkdir(dir, 0555) == 0);
		rec = cam_recording_new("cam", dir, fo, &file_ops, on_error, &error_calls);
		CHECK_EQ_INT(cam_recording_start(rec, &st), -EACCES);
		CHECK(strstr(st.error, "Permission denied") != NULL);
		cam_recording_free(rec);
	}
	/* The backend refuses with its own reason (Janus: a protected folder). */
	atomic_store(&open_refuses, true);
	rec = cam_recording_new("cam", tmp, fo, &file_ops, on_error, &error_calls);
	CHECK_EQ_INT(cam_recording_start(rec, &st), -EPERM);
	CHECK(strstr(st.error, "cannot create '") != NULL);
	CHECK(strstr(st.error, ".rtp': the backend says no") != NULL);
	CHECK(!st.active && !st.started);
	atomic_store(&open_refuses, false);
	CHECK_EQ_INT(cam_recording_start(rec, &st), 0);
	CHECK(st.error[0] == '\0');
	cam_recording_free(rec);
	CHECK_EQ_INT(error_calls, 0);    /* start failures go to the caller, not the callback */
	CHECK(cam_recording_new("", tmp, fo, &file_ops, NULL, NULL) == NULL);
	CHECK(cam_recording_new("../up", tmp, fo, &file_ops, NULL, NULL) == NULL);
	CHECK(cam_recording_new("a b", tmp, fo, &file_ops, NULL, NULL) == NULL);
	CHECK(cam_recording_new("cam", tmp, NULL, &file_ops, NULL, NULL) == NULL);
	cam_fanout_free(fo);
	remove_tree(tmp);
}

static void test_disk_full(void)
{
	fixture fx;
	setup(&fx, NULL);
	stream *s = &fx.s;
	cam_fanout *fo = fx.fo;
	cam_recording *rec = fx.rec;
	cam_recording_status st;
	atomic_store(&open_dev_full, true);
	CHECK_EQ_INT(cam_recording_start(rec, &st), 0);
	atomic_store(&open_dev_full, false);
	deliver(fo, s, false);
	cam_recording_sync(rec);
	CHECK_EQ_INT(error_calls, 0);   /* nothing written before the key frame */
	for(int i = 0; i < 20; i++)
		deliver(fo, s, i % 10 == 0);
	cam_recording_sync(rec);
	CHECK_EQ_INT(error_calls, 1);   /* once */
	CHECK(strstr(last_error, "No space left on device") != NULL);
	CHECK(strcmp(last_error_file, st.file) == 0);
	cam_recording_status_get(rec, &st);
	CHECK(!st.active && st.started);
	CHECK(strcmp(st.error, last_error) == 0);
	CHECK_EQ_INT(st.frames, 0);
	CHECK_EQ_INT(st.bytes, 0);
	printf("# disk full: %s\n", st.error);
	/* stop keeps the error; start again opens a new file and clears it. */
	CHECK_EQ_INT(cam_recording_stop(rec, &st), 0);
	CHECK(strcmp(st.error, last_error) == 0);
	CHECK_EQ_INT(cam_recording_start(rec, &st), 0);
	CHECK(st.active && st.error[0] == '\0');
	for(int i = 0; i < 3; i++)
		deliver(fo, s, i == 0);
	cam_recording_sync(rec);
	cam_recording_status_get(rec, &st);
	CHECK_EQ_INT(st.frames, 3);
	/* After a write error, start restarts without a stop. */
	cam_recording_stop(rec, NULL);
	atomic_store(&open_dev_full, true);
	CHECK_EQ_INT(cam_recording_start(rec, NULL), 0);
	atomic_store(&open_dev_full, false);
	deliver(fo, s, true);
	cam_recording_sync(rec);
	CHECK_EQ_INT(error_calls, 2);
	CHECK_EQ_INT(cam_recording_start(rec, &st), 0);
	CHECK(st.active && st.error[0] == '\0');
	CHECK_EQ_INT(cam_fanout_count(fo), 1);
	deliver(fo, s, true);
	cam_recording_free(rec);
	CHECK_EQ_INT(error_calls, 2);
	cam_fanout_free(fo);
	remove_tree(tmp);
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *open_gate_later(void *arg)
{
	usleep(100000);
	gate_set(false);
	return NULL;
}

/* A disk that hangs does not hold up the pipeline (delivery only queues);
 * stop writes what is queued; a disk that stays behind by more than the
 * queue's bound is an error, reported once, and the file keeps the frames
 * written before. */
static void test_slow_disk(void)
{
	fixture fx;
	setup(&fx, NULL);
	cam_recording *rec = fx.rec;
	cam_recording_status st;

	gate_set(true);
	CHECK_EQ_INT(cam_recording_start(rec, &st), 0);
	deliver(fx.fo, &fx.s, true);
	gate_wait_blocked();
	int64_t t0 = mono_us();
	for(int i = 0; i < 20; i++)
		deliver(fx.fo, &fx.s, false);
	int64_t took = mono_us() - t0;
	printf("# 20 frames delivered in %lld us while the disk hangs\n", (long long)took);
	CHECK(took < 100000);
	cam_recording_status_get(rec, &st);
	CHECK(st.active);
	CHECK_EQ_INT(st.frames, 0);
	/* stop waits for the disk and writes all 21. */
	pthread_t t;
	pthread_create(&t, NULL, open_gate_later, NULL);
	CHECK_EQ_INT(cam_recording_stop(rec, &st), 0);
	pthread_join(t, NULL);
	CHECK_EQ_INT(st.frames, 21);
	file_check c = read_back(st.file);
	CHECK(c.whole && c.in_order && c.starts_with_key);
	CHECK_EQ_INT(c.frames, 21);
	CHECK_EQ_INT(error_calls, 0);

	/* Too far behind: an error at once, reported once the writer is back. */
	cam_recording_set_max_queue(rec, 20 * FRAME_BYTES);
	gate_set(true);
	CHECK_EQ_INT(cam_recording_start(rec, &st), 0);
	deliver(fx.fo, &fx.s, true);
	gate_wait_blocked();
	for(int i = 0; i < 30; i++)
		deliver(fx.fo, &fx.s, false);
	cam_recording_status_get(rec, &st);
	CHECK(!st.active && st.started);
	CHECK(strstr(st.error, "too slow") != NULL);
	printf("# slow disk: %s\n", st.error);
	CHECK_EQ_INT(error_calls, 0);
	gate_set(false);
	cam_recording_sync(rec);
	CHECK_EQ_INT(error_calls, 1);
	CHECK(strcmp(last_error, st.error) == 0);
	cam_recording_status_get(rec, &st);
	CHECK_EQ_INT(st.frames, 1);   /* the one the writer had */
	CHECK_EQ_INT(read_back(st.file).frames, 1);
	for(int i = 0; i < 5; i++)
		deliver(fx.fo, &fx.s, i == 0);
	cam_recording_sync(rec);
	CHECK_EQ_INT(error_calls, 1);
	CHECK_EQ_INT(cam_recording_stop(rec, NULL), 0);
	teardown(&fx);
	remove_tree(tmp);
}

/* A buffered backend with a flush: the same files, and a full disk caught
 * after the first frame although every save() said yes. */
static void test_buffered(void)
{
	fixture fx;
	setup(&fx, NULL);
	cam_recording_free(fx.rec);
	cam_recording *rec = fx.rec = cam_recording_new("cam", tmp, fx.fo, &stdio_ops, on_error, &error_calls);
	cam_recording_status st;
	CHECK_EQ_INT(cam_recording_start(rec, &st), 0);
	for(int i = 0; i < 12; i++)
		deliver(fx.fo, &fx.s, i % 10 == 0);
	cam_recording_sync(rec);
	CHECK_EQ_INT(cam_recording_stop(rec, &st), 0);
	file_check c = read_back(st.file);
	CHECK(c.whole && c.in_order && c.starts_with_key);
	CHECK_EQ_INT(c.frames, 12);
	CHECK_EQ_INT(st.frames, 12);

	atomic_store(&open_dev_full, true);
	CHECK_EQ_INT(cam_recording_start(rec, &st), 0);
	atomic_store(&open_dev_full, false);
	for(int i = 0; i < 5; i++)
		deliver(fx.fo, &fx.s, i == 0);
	cam_recording_sync(rec);
	cam_recording_status_get(rec, &st);
	CHECK_EQ_INT(error_calls, 1);
	CHECK(!st.active);
	CHECK_EQ_INT(st.frames, 0);
	CHECK(strstr(st.error, "No space left on device") != NULL);
	printf("# buffered, disk full: %s\n", st.error);
	CHECK_EQ_INT(cam_recording_stop(rec, NULL), 0);
	teardown(&fx);

	/* A folder the backend refuses is not even created. */
	char dir[400];
	snprintf(dir, sizeof(dir), "%s/some/protected", tmp);
	cam_fanout *fo = cam_fanout_new(NULL, NULL);
	rec = cam_recording_new("cam", dir, fo, &stdio_ops, on_error, &error_calls);
	CHECK_EQ_INT(cam_recording_start(rec, &st), -EPERM);
	CHECK(strstr(st.error, "protected': a protected folder") != NULL);
	struct stat sb;
	CHECK(stat(dir, &sb) < 0 && errno == ENOENT);
	cam_recording_free(rec);
	cam_fanout_free(fo);
	remove_tree(tmp);
}

/* A real file on a disk that fills up: a file-size limit (SIGXFSZ ignored,
 * so write fails with EFBIG) in a child process, as the limit holds for every
 * file the process writes. */
#define FSIZE_LIMIT 40000

static void test_file_size_limit(void)
{
	char path_file[512];
	make_tmp();
	snprintf(path_file, sizeof(path_file), "%s/path", tmp);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if(pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = {.rlim_cur = FSIZE_LIMIT, .rlim_max = FSIZE_LIMIT};
		CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
		fixture fx;
		setup(&fx, NULL);
		cam_recording *rec = fx.rec;
		cam_recording_status st;
		CHECK_EQ_INT(cam_recording_start(rec, &st), 0);
		FILE *f = fopen(path_file, "w");
		fprintf(f, "%s", st.file);
		fclose(f);
		for(int i = 0; i < 40; i++)
			deliver(fx.fo, &fx.s, i % 10 == 0);
		cam_recording_sync(rec);
		CHECK_EQ_INT(error_calls, 1);
		CHECK(strstr(last_error, "File too large") != NULL);
		cam_recording_status_get(rec, &st);
		CHECK(!st.active);
		CHECK(st.frames > 0 && st.frames < 40);
		CHECK(st.bytes < FSIZE_LIMIT);
		printf("# size limit: %" PRIu64 " frames, %" PRIu64 " bytes, then: %s\n",
			st.frames, st.bytes, st.error);
		fflush(stdout);
		teardown(&fx);
		_exit(check_failures ? 1 : 0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	char file[CAM_RECORDING_PATH_MAX] = "";
	FILE *f = fopen(path_file, "r");
	CHECK(f != NULL);
	if(f) {
		CHECK(fgets(file, sizeof(file), f) != NULL);
		fclose(f);
	}
	struct stat sb;
	CHECK(stat(file, &sb) == 0);
	CHECK(sb.st_size <= FSIZE_LIMIT && sb.st_size > FSIZE_LIMIT / 2);
	/* What was written is whole frames in order, then at most a torn last
	 * frame (the packet that did not fit). */
	file_check c = read_back(file);
	CHECK(c.starts_with_key && c.in_order);
	CHECK(c.frames > 0);
	remove_tree(tmp);
	*strrchr(file, '/') = '\0';   /* the child's own tmp */
	if(strncmp(file, "/tmp/test_recording.", 20) == 0)
		remove_tree(file);
}

/* The pipeline thread delivers while viewers churn and another thread starts
 * and stops: every file starts with a key frame and has every frame after. */
static atomic_bool control_done;

static void *control_thread(void *arg)
{
	cam_recording *rec = arg;
	for(int i = 0; i < 40; i++) {
		cam_recording_status st;
		CHECK_EQ_INT(cam_recording_start(rec, &st), 0);
		usleep(2000);
		cam_recording_status_get(rec, &st);
		CHECK(st.active);
		CHECK_EQ_INT(cam_recording_stop(rec, &st), 0);
		if(st.frames > 0) {
			file_check c = read_back(st.file);
			CHECK(c.whole && c.in_order && c.starts_with_key);
			CHECK_EQ_INT(c.frames, st.frames);
		}
	}
	atomic_store(&control_done, true);
	return NULL;
}

static void test_concurrent(void)
{
	fixture fx;
	setup(&fx, viewer_cb);
	cam_fanout *fo = fx.fo;
	pthread_t t;
	pthread_create(&t, NULL, control_thread, fx.rec);
	int viewers[4] = {0};
	for(int f = 0; !atomic_load(&control_done); f++) {
		/* Key frames when someone waits, as the pipeline does. */
		deliver(fo, &fx.s, cam_fanout_waiting(fo) > 0 || f % 30 == 0);
		int *v = &viewers[f % 4];
		if(f % 7 == 0)
			cam_fanout_add(fo, v);
		else if(f % 11 == 0)
			cam_fanout_remove(fo, v);
		struct timespec ts = {0, 50000};
		nanosleep(&ts, NULL);
	}
	pthread_join(t, NULL);
	CHECK_EQ_INT(error_calls, 0);
	for(int i = 0; i < 4; i++)
		cam_fanout_remove(fo, &viewers[i]);
	printf("# %u frames, %d sent to viewers, 40 recordings\n", fx.s.number, viewer_frames);
	teardown(&fx);
	remove_tree(tmp);
}

int main(void)
{
	RUN(test_record);
	RUN(test_unwritable);
	RUN(test_disk_full);
	RUN(test_file_size_limit);
	RUN(test_buffered);
	RUN(test_slow_disk);
	RUN(test_concurrent);
	return check_exit();
}
