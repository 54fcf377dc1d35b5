/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "recording.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

/* How many "-N" suffixes to try before giving up on a unique name. */
#define MAX_SUFFIX 1000

/* One frame waiting for the writer: count packet lengths, then the packets. */
typedef struct queued_frame {
	struct queued_frame *next;
	int count;
	size_t bytes;
	uint16_t lens[];
} queued_frame;

static const uint8_t *frame_data(const queued_frame *f)
{
	return (const uint8_t *)&f->lens[f->count];
}

struct cam_recording {
	char *id, *dir;
	cam_fanout *fo;
	const cam_recording_ops *ops;
	cam_recording_error_fn on_error;
	void *opaque;
	size_t max_queue;
	/* Serializes start and stop, so that joining and leaving the fan-out
	 * happen in the order of the requests.  Never taken by the sink nor the
	 * writer. */
	pthread_mutex_t op_lock;
	/* Guards everything below; never held during the backend's I/O. */
	pthread_mutex_t lock;
	pthread_cond_t work;   /* to the writer: a frame, stop, or an error */
	pthread_cond_t idle;   /* from the writer: queue empty, or it ended */
	pthread_t writer;
	bool started;          /* from a successful start to stop: in the fan-out, a writer */
	bool stopping;         /* stop asked the writer to finish the queue and end */
	bool writer_ended;
	bool busy;             /* the writer is writing a frame */
	bool notify_pending;   /* an error the writer has to report */
	bool keyframe_seen;    /* the file has begun */
	void *handle;          /* the open file; the writer's from start on */
	queued_frame *head, *tail;
	size_t queued;         /* bytes in the queue */
	cam_recording_status st;
};

/* The id becomes part of a file name: letters, digits, '-' and '_' only. */
static bool valid_id(const char *id)
{
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
	size_t n = id ? strlen(id) : 0;
	return n >= 1 && n <= 64 && strspn(id, allowed) == n;
}

cam_recording *cam_recording_new(const char *camera_id, const char *dir, cam_fanout *fo,
	const cam_recording_ops *ops, cam_recording_error_fn on_error, void *opaque)
{
	if(!valid_id(camera_id) || !dir || !*dir || !fo || !ops || !ops->open || !ops->save
			|| !ops->close)
		return NULL;
	cam_recording *rec = calloc(1, sizeof(*rec));
	if(!rec)
		return NULL;
	rec->id = strdup(camera_id);
	rec->dir = strdup(dir);
	if(!rec->id || !rec->dir) {
		free(rec->id);
		free(rec->dir);
		free(rec);
		return NULL;
	}
	rec->fo = fo;
	rec->ops = ops;
	rec->on_error = on_error;
	rec->opaque = opaque;
	rec->max_queue = CAM_RECORDING_MAX_QUEUE;
	pthread_mutex_init(&rec->op_lock, NULL);
	pthread_mutex_init(&rec->lock, NULL);
	pthread_cond_init(&rec->work, NULL);
	pthread_cond_init(&rec->idle, NULL);
	return rec;
}

void cam_recording_free(cam_recording *rec)
{
	if(!rec)
		return;
	cam_recording_stop(rec, NULL);
	pthread_cond_destroy(&rec->idle);
	pthread_cond_destroy(&rec->work);
	pthread_mutex_destroy(&rec->lock);
	pthread_mutex_destroy(&rec->op_lock);
	free(rec->id);
	free(rec->dir);
	free(rec);
}

void cam_recording_set_max_queue(cam_recording *rec, size_t bytes)
{
	pthread_mutex_lock(&rec->lock);
	rec->max_queue = bytes;
	pthread_mutex_unlock(&rec->lock);
}

void cam_recording_status_get(cam_recording *rec, cam_recording_status *st)
{
	pthread_mutex_lock(&rec->lock);
	*st = rec->st;
	pthread_mutex_unlock(&rec->lock);
}

/* Under rec->lock: "<what>: <strerror(-err)>". */
static void set_error(cam_recording *rec, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_error(cam_recording *rec, int err, const char *fmt, ...)
{
	char what[CAM_RECORDING_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* g_snprintf: a reason cut short is fine (gcc would warn about snprintf). */
	g_snprintf(rec->st.error, sizeof(rec->st.error), "%s: %s", what, g_strerror(-err));
}

/* Creates the folder and checks that files can be made in it. */
static int prepare_dir(const char *dir)
{
	if(g_mkdir_with_parents(dir, 0755) < 0)
		return -(errno ? errno : EIO);
	if(access(dir, W_OK | X_OK) < 0)
		return -errno;
	return 0;
}

/* <dir>/<id>-<UTC time>[-N]<ext> that does not exist yet: the name (without
 * dir and ext) into name, the path into path. */
static int pick_name(const cam_recording *rec, char *name, size_t name_size, char *path,
	size_t path_size)
{
	time_t now = time(NULL);
	struct tm tm;
	char stamp[32];
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	const char *ext = rec->ops->ext ? rec->ops->ext : "";
	for(int n = 1; n <= MAX_SUFFIX; n++) {
		int len = n == 1 ? snprintf(name, name_size, "%s-%s", rec->id, stamp)
			: snprintf(name, name_size, "%s-%s-%d", rec->id, stamp, n);
		if(len < 0 || (size_t)len >= name_size)
			return -ENAMETOOLONG;
		len = snprintf(path, path_size, "%s/%s%s", rec->dir, name, ext);
		if(len < 0 || (size_t)len >= path_size)
			return -ENAMETOOLONG;
		struct stat sb;
		if(lstat(path, &sb) < 0) {
			if(errno == ENOENT)
				return 0;
			return -errno;
		}
	}
	return -EEXIST;
}

/* Under rec->lock: drops what the writer has not written. */
static void drop_queue(cam_recording *rec)
{
	while(rec->head) {
		queued_frame *f = rec->head;
		rec->head = f->next;
		free(f);
	}
	rec->tail = NULL;
	rec->queued = 0;
}

/* Under rec->lock: the file cannot go on (the reason is in st.error); the
 * writer closes it and reports the error. */
static void fail(cam_recording *rec)
{
	rec->st.active = false;
	rec->notify_pending = true;
	drop_queue(rec);
	pthread_cond_signal(&rec->work);
}

/* Writes one frame's packets; 0 or the backend's negative errno. */
static int write_frame(cam_recording *rec, void *handle, const queued_frame *f)
{
	const uint8_t *p = frame_data(f);
	for(int i = 0; i < f->count; i++) {
		int r = rec->ops->save(handle, p, f->lens[i]);
		if(r < 0)
			return r;
		p += f->lens[i];
	}
	return rec->ops->flush ? rec->ops->flush(handle) : 0;
}

/* Runs while started: writes the queue in order, then closes the file, on
 * stop (after the queue) or on an error (at once). */
static void *writer_thread(void *arg)
{
	cam_recording *rec = arg;
	pthread_mutex_lock(&rec->lock);
	void *handle = rec->handle;
	for(;;) {
		while(!rec->head && !rec->stopping && rec->st.active)
			pthread_cond_wait(&rec->work, &rec->lock);
		if(!rec->st.active || !rec->head)
			break;
		queued_frame *f = rec->head;
		rec->head = f->next;
		if(!rec->head)
			rec->tail = NULL;
		rec->queued -= f->bytes;
		rec->busy = true;
		pthread_mutex_unlock(&rec->lock);
		int r = write_frame(rec, handle, f);
		pthread_mutex_lock(&rec->lock);
		rec->busy = false;
		if(r < 0 && rec->st.active) {
			set_error(rec, r, "writing '%s' failed", rec->st.file);
			fail(rec);
		} else if(r == 0) {
			rec->st.bytes += f->bytes;
			rec->st.frames++;
		}
		free(f);
		if(!rec->head)
			pthread_cond_broadcast(&rec->idle);
	}
	drop_queue(rec);
	rec->handle = NULL;
	rec->st.active = false;
	pthread_mutex_unlock(&rec->lock);

	int r = rec->ops->close(handle);
	pthread_mutex_lock(&rec->lock);
	if(r < 0 && !rec->st.error[0]) {
		set_error(rec, r, "closing '%s' failed", rec->st.file);
		rec->notify_pending = true;
	}
	/* notify_pending stays set until the callback has run: sync waits for it. */
	bool notify = rec->notify_pending;
	cam_recording_status st = rec->st;
	pthread_mutex_unlock(&rec->lock);
	if(notify && rec->on_error)
		rec->on_error(rec, st.file, st.error, rec->opaque);
	pthread_mutex_lock(&rec->lock);
	rec->notify_pending = false;
	rec->writer_ended = true;
	pthread_cond_broadcast(&rec->idle);
	pthread_mutex_unlock(&rec->lock);
	return NULL;
}

/* Under op_lock: leaves the fan-out (after which the sink is not running nor
 * called again), lets the writer finish the queue and close the file. */
static void stop_locked(cam_recording *rec)
{
	cam_fanout_remove(rec->fo, rec);
	pthread_mutex_lock(&rec->lock);
	rec->stopping = true;
	pthread_cond_signal(&rec->work);
	pthread_mutex_unlock(&rec->lock);
	pthread_join(rec->writer, NULL);
	pthread_mutex_lock(&rec->lock);
	rec->started = false;
	rec->st.started = false;
	rec->stopping = false;
	pthread_mutex_unlock(&rec->lock);
}

int cam_recording_start(cam_recording *rec, cam_recording_status *st)
{
	pthread_mutex_lock(&rec->op_lock);
	int r = 0;
	pthread_mutex_lock(&rec->lock);
	bool active = rec->st.active;
	bool started = rec->started;
	pthread_mutex_unlock(&rec->lock);
	if(active) {
		r = -EALREADY;
		goto done;
	}
	/* Stopped by an error (reported then, the file closed then): start over
	 * with a new file. */
	if(started)
		stop_locked(rec);

	char name[CAM_RECORDING_PATH_MAX], path[CAM_RECORDING_PATH_MAX];
	char why[CAM_RECORDING_ERROR_MAX] = "";
	if(rec->ops->check_dir)
		r = rec->ops->check_dir(rec->dir, why, sizeof(why));
	if(r == 0)
		r = prepare_dir(rec->dir);
	pthread_mutex_lock(&rec->lock);
	rec->st.error[0] = '\0';
	if(r < 0 && why[0]) {
		g_snprintf(rec->st.error, sizeof(rec->st.error), "cannot use the recording folder '%s': %s",
			rec->dir, why);
	} else if(r < 0) {
		set_error(rec, r, "cannot use the recording folder '%s'", rec->dir);
	} else if((r = pick_name(rec, name, sizeof(name), path, sizeof(path))) < 0) {
		set_error(rec, r, "cannot name a recording file in '%s'", rec->dir);
	} else {
		int err = 0;
		void *handle = rec->ops->open(rec->dir, name, &err, why, sizeof(why));
		if(!handle) {
			r = err < 0 ? err : -EIO;
			if(why[0])
				g_snprintf(rec->st.error, sizeof(rec->st.error), "cannot create '%s': %s", path, why);
			else
				set_error(rec, r, "cannot create '%s'", path);
		} else {
			rec->handle = handle;
			rec->keyframe_seen = false;
			rec->writer_ended = false;
			rec->notify_pending = false;
			snprintf(rec->st.file, sizeof(rec->st.file), "%s", path);
			rec->st.bytes = 0;
			rec->st.frames = 0;
			rec->st.active = true;
			if((r = -pthread_create(&rec->writer, NULL, writer_thread, rec)) < 0) {
				rec->ops->close(handle);
				rec->handle = NULL;
				rec->st.active = false;
				set_error(rec, r, "cannot start a writer for '%s'", path);
			} else {
				rec->started = true;
				rec->st.started = true;
			}
		}
	}
	pthread_mutex_unlock(&rec->lock);
	if(r == 0 && !cam_fanout_add_sink(rec->fo, rec, cam_recording_sink, NULL)) {
		/* Not in the fan-out: stop only ends the writer (which closes). */
		stop_locked(rec);
		r = -ENOMEM;
		pthread_mutex_lock(&rec->lock);
		set_error(rec, r, "cannot join the fan-out of '%s'", rec->id);
		pthread_mutex_unlock(&rec->lock);
	}
done:
	if(st)
		cam_recording_status_get(rec, st);
	pthread_mutex_unlock(&rec->op_lock);
	return r;
}

int cam_recording_stop(cam_recording *rec, cam_recording_status *st)
{
	pthread_mutex_lock(&rec->op_lock);
	pthread_mutex_lock(&rec->lock);
	bool started = rec->started;
	pthread_mutex_unlock(&rec->lock);
	if(started)
		stop_locked(rec);
	if(st)
		cam_recording_status_get(rec, st);
	pthread_mutex_unlock(&rec->op_lock);
	return started ? 0 : -ENOENT;
}

void cam_recording_sync(cam_recording *rec)
{
	pthread_mutex_lock(&rec->lock);
	while(rec->started && !rec->writer_ended && (rec->head || rec->busy || rec->notify_pending))
		pthread_cond_wait(&rec->idle, &rec->lock);
	pthread_mutex_unlock(&rec->lock);
}

void cam_recording_sink(void *member, const cam_fanout_frame *frame, void *opaque)
{
	(void)opaque;
	cam_recording *rec = member;
	size_t bytes = 0;
	for(int i = 0; i < frame->count; i++)
		bytes += frame->packets[i].len;
	pthread_mutex_lock(&rec->lock);
	if(!rec->st.active || rec->stopping || frame->count <= 0
			|| (!rec->keyframe_seen && !frame->keyframe)) {
		pthread_mutex_unlock(&rec->lock);
		return;
	}
	if(rec->queued + bytes > rec->max_queue) {
		/* The disk does not keep up: better a file that ends than a
		 * pipeline that waits for it, or unbounded memory. */
		char bound[32];
		snprintf(bound, sizeof(bound), "%zu", rec->max_queue);
		set_error(rec, -ENOBUFS, "writing '%s' is too slow (%s bytes behind)", rec->st.file, bound);
		fail(rec);
		pthread_mutex_unlock(&rec->lock);
		return;
	}
	queued_frame *f = malloc(sizeof(*f) + (size_t)frame->count * sizeof(uint16_t) + bytes);
	if(!f) {
		set_error(rec, -ENOMEM, "no memory for a frame of '%s'", rec->st.file);
		fail(rec);
		pthread_mutex_unlock(&rec->lock);
		return;
	}
	rec->keyframe_seen = true;
	f->next = NULL;
	f->count = frame->count;
	f->bytes = bytes;
	uint8_t *p = (uint8_t *)&f->lens[f->count];
	for(int i = 0; i < frame->count; i++) {
		f->lens[i] = frame->packets[i].len;
		memcpy(p, frame->packets[i].data, frame->packets[i].len);
		p += frame->packets[i].len;
	}
	if(rec->tail)
		rec->tail->next = f;
	else
		rec->head = f;
	rec->tail = f;
	rec->queued += bytes;
	pthread_cond_signal(&rec->work);
	pthread_mutex_unlock(&rec->lock);
}
