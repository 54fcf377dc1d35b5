/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One camera's recording: whole frames from the camera's fan-out, written
 * packet by packet through a storage backend.
 *
 * A started recording is a member of the camera's fan-out (a sink next to the
 * viewers, cam_fanout_add_sink), so it starts at the next key frame exactly
 * like a joining viewer (cam_fanout_waiting() makes the pipeline force one)
 * and goes on through viewers joining and leaving.  The backend is an ops
 * table: the plugin backs it with Janus's record.h (.mjr files), the unit
 * test with plain files.  This module knows nothing of Janus.
 *
 * It owns the file name (<camera id>-<YYYYmmdd-HHMMSS> in UTC, "-2", "-3"...
 * appended when a file of that name exists), the folder (created with its
 * parents), start/stop, the counters, and errors: a folder that cannot be
 * created or written fails start with a reason; a failed write (a full disk:
 * ENOSPC), or a disk so slow that CAM_RECORDING_MAX_QUEUE bytes wait, closes
 * the file, stops writing, keeps the error for the status and reports it
 * once through the error callback.
 *
 * Threads: the fan-out calls the sink on the pipeline thread, which only
 * copies the frame into a queue (never waits for the disk: a slow disk must
 * not stall the viewers, who share the fan-out's delivery); a writer thread
 * per started recording writes the queue in order through the backend.
 * start, stop, status and sync may be called from any other thread; start
 * and stop are serialized.  stop writes what is queued, then closes: after it
 * returns, the backend is never called for that file again.
 */
#ifndef CAM_RECORDING_H
#define CAM_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout.h"

/* Longest path of a recording file, terminator included (Janus's recorder
 * builds its paths in 1024 bytes). */
#define CAM_RECORDING_PATH_MAX 1024
#define CAM_RECORDING_ERROR_MAX 256
/* Bytes of frames that may wait for the disk (about a minute at 1 Mbit/s)
 * before the recording gives up with an error. */
#define CAM_RECORDING_MAX_QUEUE (8u << 20)

/* The storage backend.  open is called by start; save and close by the
 * recording's writer thread; never two at a time for one handle. */
typedef struct cam_recording_ops {
	/* What open() appends to name, e.g. ".mjr": for the unique-name check
	 * and the reported path.  May be "". */
	const char *ext;
	/* Optional (NULL: any folder): whether the backend may write in dir,
	 * asked before the folder is created.  0, or a negative errno with the
	 * reason in why (why_size bytes, "" on entry), e.g. Janus's
	 * protected_folders. */
	int (*check_dir)(const char *dir, char *why, size_t why_size);
	/* Creates <dir>/<name><ext> (dir exists and was writable a moment ago).
	 * Returns a handle, or NULL with a negative errno in *err (0 if the
	 * backend cannot tell why) and, if the backend knows better than
	 * strerror, its reason in why (why_size bytes, "" on entry). */
	void *(*open)(const char *dir, const char *name, int *err, char *why, size_t why_size);
	/* Writes one RTP packet (header included).  0 or a negative errno. */
	int (*save)(void *handle, const uint8_t *rtp, size_t len);
	/* Optional (NULL: none): after each frame's packets, pushes buffered
	 * data to the file system, so that a full disk shows as an error at
	 * once.  (Janus's recorder writes through stdio and, on a full disk,
	 * keeps answering 0 while stdio drops data: only a flush tells.)  0 or a
	 * negative errno. */
	int (*flush)(void *handle);
	/* Finishes the file and frees the handle, also after a failed save.
	 * 0 or a negative errno (data that could not be flushed). */
	int (*close)(void *handle);
} cam_recording_ops;

typedef struct cam_recording cam_recording;

/* A write error, once per file, on the recording's writer thread, after the
 * file was closed.  Must not call this recording's start, stop or free (they
 * wait for that thread).  file: the path; error: the reason, as in the
 * status. */
typedef void (*cam_recording_error_fn)(cam_recording *rec, const char *file, const char *error,
	void *opaque);

typedef struct cam_recording_status {
	bool active;        /* started, and writing (no error since): "recording" */
	bool started;       /* between a successful start and stop */
	char file[CAM_RECORDING_PATH_MAX];   /* current or last file; "" if none yet */
	uint64_t bytes;     /* RTP bytes the backend took for that file (the file adds its own framing) */
	uint64_t frames;    /* whole frames written to that file (queued ones not yet) */
	char error[CAM_RECORDING_ERROR_MAX]; /* "" if none: the last start's or write's */
} cam_recording_status;

/* camera_id: 1..64 letters, digits, '-', '_' (the file name's prefix); dir: the
 * folder (created on start); fo: the camera's fan-out (outlives the
 * recording); ops is not copied and must outlive it.  on_error may be NULL.
 * NULL on bad arguments or no memory. */
cam_recording *cam_recording_new(const char *camera_id, const char *dir, cam_fanout *fo,
	const cam_recording_ops *ops, cam_recording_error_fn on_error, void *opaque);
/* Stops a started recording first. */
void cam_recording_free(cam_recording *rec);

/* Creates the folder and a new file, starts the writer and joins the
 * fan-out: the file starts with the next key frame.  0, -EALREADY when
 * active, or a negative errno with the reason in the status's error.  After
 * an error stopped the file, start begins a new one (no stop needed).  st
 * (may be NULL) gets the status after the attempt. */
int cam_recording_start(cam_recording *rec, cam_recording_status *st);
/* Leaves the fan-out, writes what is queued and closes the file (it waits
 * for the disk).  0, or -ENOENT when not started.  A recording stopped by an
 * error is still started until stop.  st (may be NULL) gets the status
 * after: the file just closed, its counts, and an error if closing failed. */
int cam_recording_stop(cam_recording *rec, cam_recording_status *st);
void cam_recording_status_get(cam_recording *rec, cam_recording_status *st);
/* Waits until the frames queued so far are written (or the writer gave up
 * and reported it).  For tests, and before reading a file being written. */
void cam_recording_sync(cam_recording *rec);
/* Changes CAM_RECORDING_MAX_QUEUE for this recording (tests). */
void cam_recording_set_max_queue(cam_recording *rec, size_t bytes);

/* The fan-out sink (cam_fanout_send_fn; member = the recording): copies the
 * frame into the writer's queue.  Exposed for tests. */
void cam_recording_sink(void *member, const cam_fanout_frame *frame, void *opaque);

#endif
