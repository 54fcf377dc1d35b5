/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "recording_janus.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <record.h>
#include <utils.h>

#include "rtp_vp8.h"

/* janus_recorder_create() refuses a path under janus.jcfg's protected_folders
 * (Debian's default protects /var) and only logs it: ask before the folder is
 * even made, and say why. */
static int jrec_check_dir(const char *dir, char *why, size_t why_size)
{
	/* Janus calls a path it cannot resolve (a folder under a regular file,
	 * ENOTDIR) protected too: leave those to mkdir, which says what is wrong. */
	char resolved[PATH_MAX];
	if(!realpath(dir, resolved) && errno != ENOENT)
		return 0;
	if(!janus_is_folder_protected(dir))
		return 0;
	g_snprintf(why, why_size, "Janus protects it (protected_folders in janus.jcfg)");
	return -EPERM;
}

static void *jrec_open(const char *dir, const char *name, int *err, char *why, size_t why_size)
{
	(void)why;
	(void)why_size;
	errno = 0;
	janus_recorder *rc = janus_recorder_create(dir, "vp8", name);   /* appends ".mjr" */
	if(!rc) {
		*err = errno ? -errno : -EIO;
		return NULL;
	}
	return rc;
}

static int jrec_save(void *handle, const uint8_t *rtp, size_t len)
{
	janus_recorder *rc = handle;
	/* save_frame rewrites the RTP header in place (and restores it): give it
	 * a copy, never the fan-out's packet that the viewers share. */
	char buf[CAM_RTP_MAX_PACKET];
	if(len > sizeof(buf))
		return -EMSGSIZE;
	memcpy(buf, rtp, len);
	errno = 0;
	if(janus_recorder_save_frame(rc, buf, (uint)len) < 0)
		return errno ? -errno : -EIO;
	/* On a full disk stdio drops what it cannot flush and save_frame still
	 * says 0: the stream's error flag tells. */
	if(ferror(rc->file))
		return errno ? -errno : -EIO;
	return 0;
}

/* After each frame (the recording's writer thread; no save runs meanwhile). */
static int jrec_flush(void *handle)
{
	janus_recorder *rc = handle;
	return fflush(rc->file) == 0 ? 0 : -errno;
}

static int jrec_close(void *handle)
{
	janus_recorder *rc = handle;
	int r = 0;
	/* close() does not say whether the last buffered bytes reached the disk. */
	if(rc->file && fflush(rc->file) != 0)
		r = -errno;
	janus_recorder_close(rc);
	janus_recorder_destroy(rc);
	return r;
}

static const cam_recording_ops ops = {
	.ext = ".mjr", .check_dir = jrec_check_dir, .open = jrec_open, .save = jrec_save, .flush = jrec_flush, .close = jrec_close,
};

const cam_recording_ops *cam_recording_janus_ops(void)
{
	return &ops;
}
