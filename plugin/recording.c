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

struct cam_recording {
	char *id, *dir;
	cam_fanout *fo;
	const cam_recording_ops *ops;
	cam_recording_error_fn on_error;
	void *opaque;
	/* Serializes start and stop, so that joining and leaving the fan-out
	 * happen in the order of the requests.  Never taken by the sink. */
	pthread_mutex_t op_lock;
	/* Guards everything below; the sink holds it for one frame. */
	pthread_mutex_t lock;
	void *handle;          /* open file, NULL when stopped or after an error */
	bool started;          /* a member of the fan-out */
	bool keyframe_seen;    /* the file has begun */
	cam_recording_status st;
};

cam_recording *cam_recording_new(const char *camera_id, const char *dir, cam_fanout *fo,
	const cam_recording_ops *ops, cam_recording_error_fn on_error, void *opaque)
{
	if(!camera_id || !*camera_id || !dir || !*dir || !fo || !ops || !ops->open || !ops->save
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
	pthread_mutex_init(&rec->op_lock, NULL);
	pthread_mutex_init(&rec->lock, NULL);
	return rec;
}

void cam_recording_free(cam_recording *rec)
{
	if(!rec)
		return;
	cam_recording_stop(rec, NULL);
	pthread_mutex_destroy(&rec->lock);
	pthread_mutex_destroy(&rec->op_lock);
	free(rec->id);
	free(rec->dir);
	free(rec);
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

/* Under rec->lock: closes the file; keeps a close error if there was none. */
static bool close_file(cam_recording *rec)
{
	if(!rec->handle)
		return false;
	int r = rec->ops->close(rec->handle);
	rec->handle = NULL;
	rec->st.active = false;
	if(r < 0 && !rec->st.error[0]) {
		set_error(rec, r, "closing '%s' failed", rec->st.file);
		return true;
	}
	return false;
}

/* Outside the locks, with the status copied when the error happened. */
static void notify(cam_recording *rec, const cam_recording_status *st)
{
	if(rec->on_error)
		rec->on_error(rec, st->file, st->error, rec->opaque);
}

/* Under op_lock: leaves the fan-out (after which the sink is not running nor
 * called again) and closes the file.  Returns whether closing failed, with
 * the status then in st. */
static bool stop_locked(cam_recording *rec, cam_recording_status *st)
{
	cam_fanout_remove(rec->fo, rec);
	pthread_mutex_lock(&rec->lock);
	bool failed = close_file(rec);
	rec->started = false;
	rec->st.started = false;
	*st = rec->st;
	pthread_mutex_unlock(&rec->lock);
	return failed;
}

int cam_recording_start(cam_recording *rec, cam_recording_status *st)
{
	pthread_mutex_lock(&rec->op_lock);
	int r = 0;
	cam_recording_status old;
	pthread_mutex_lock(&rec->lock);
	bool active = rec->st.active;
	bool started = rec->started;
	pthread_mutex_unlock(&rec->lock);
	if(active) {
		r = -EALREADY;
		goto done;
	}
	/* Stopped by a write error (reported then, the file closed then): start
	 * over with a new file. */
	if(started)
		stop_locked(rec, &old);

	char name[CAM_RECORDING_PATH_MAX], path[CAM_RECORDING_PATH_MAX];
	r = prepare_dir(rec->dir);
	pthread_mutex_lock(&rec->lock);
	rec->st.error[0] = '\0';
	if(r < 0) {
		set_error(rec, r, "cannot use the recording folder '%s'", rec->dir);
	} else if((r = pick_name(rec, name, sizeof(name), path, sizeof(path))) < 0) {
		set_error(rec, r, "cannot name a recording file in '%s'", rec->dir);
	} else {
		int err = 0;
		char why[CAM_RECORDING_ERROR_MAX] = "";
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
			rec->started = true;
			snprintf(rec->st.file, sizeof(rec->st.file), "%s", path);
			rec->st.bytes = 0;
			rec->st.frames = 0;
			rec->st.active = true;
			rec->st.started = true;
		}
	}
	pthread_mutex_unlock(&rec->lock);
	if(r == 0 && !cam_fanout_add_sink(rec->fo, rec, cam_recording_sink, NULL)) {
		r = -ENOMEM;
		pthread_mutex_lock(&rec->lock);
		rec->ops->close(rec->handle);
		rec->handle = NULL;
		rec->started = rec->st.started = rec->st.active = false;
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
	cam_recording_status now;
	bool failed = started && stop_locked(rec, &now);
	if(st)
		cam_recording_status_get(rec, st);
	pthread_mutex_unlock(&rec->op_lock);
	if(failed)
		notify(rec, &now);
	return started ? 0 : -ENOENT;
}

void cam_recording_sink(void *member, const cam_fanout_frame *frame, void *opaque)
{
	(void)opaque;
	cam_recording *rec = member;
	bool failed = false;
	cam_recording_status now;
	pthread_mutex_lock(&rec->lock);
	if(!rec->handle || (!rec->keyframe_seen && !frame->keyframe)) {
		pthread_mutex_unlock(&rec->lock);
		return;
	}
	rec->keyframe_seen = true;
	int i;
	for(i = 0; i < frame->count; i++) {
		const cam_packet *p = &frame->packets[i];
		int r = rec->ops->save(rec->handle, p->data, p->len);
		if(r < 0) {
			set_error(rec, r, "writing '%s' failed", rec->st.file);
			close_file(rec);
			failed = true;
			break;
		}
		rec->st.bytes += p->len;
	}
	if(!failed)
		rec->st.frames++;
	else
		now = rec->st;
	pthread_mutex_unlock(&rec->lock);
	if(failed)
		notify(rec, &now);
}
