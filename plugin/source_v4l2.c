/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A V4L2 camera (source.h) through libv4l2: we always ask for
 * V4L2_PIX_FMT_YUV420 (I420) and libv4lconvert converts whatever the camera
 * really sends (YUYV, MJPEG, RGB, Bayer, ...); a camera that offers I420
 * itself is used as it is.
 *
 * Capture is memory-mapped streaming with a few buffers.  read() dequeues
 * every buffer that is ready and keeps only the newest, so a slow encoder
 * skips stale frames instead of working through a queue of them (latency
 * first).  The delivered buffer stays dequeued until the next read() or
 * close(), which is what keeps its planes valid.
 *
 * libv4l2 converts each frame as it is dequeued through it, stale or not:
 * draining a converted camera through libv4l2 would decode every frame it
 * skips, and once decoding is slower than the frame interval (1080p MJPEG
 * on a small board) each read would decode up to the drain's bound to
 * return one frame.  So when libv4l2 converts, the buffers are mapped,
 * queued and dequeued with plain ioctls on the descriptor (straight to the
 * driver), and only the newest frame is converted, here, with libv4lconvert
 * from the camera's own format into a frame of ours (valid until the next
 * read() or close(); the driver's buffer goes back at once).  That path
 * bypasses libv4l2's plugins, so it is used only when the driver itself
 * answers the single-planar buffer ioctls (not with libv4l-mplane, say);
 * otherwise capture goes through libv4l2 as for a camera that sends I420.
 *
 * Faults never abort: a vanished or broken device makes read() return a
 * negative errno (-ENODEV, -EIO, -ETIMEDOUT, ...), the pipeline closes the
 * source and reopens it with back-off.  Device errors are logged once per
 * distinct error, not on every retry of a camera that stays unplugged.
 */
#include "source.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libv4l2.h>
#include <libv4lconvert.h>
#include <linux/videodev2.h>

/* Three buffers in flight plus the one being encoded: enough that the
 * driver never starves while we hold a frame, few enough that nothing old
 * can pile up. */
#define WANT_BUFFERS 4
#define MAX_BUFFERS 8
/* No frame for this long means the camera has stalled (a USB camera whose
 * stream died without an error, a driver stuck after a glitch): report it
 * so that the pipeline restarts the device. */
#define NO_FRAME_TIMEOUT_MS 2000
/* Some UVC cameras settle their exposure before the first frame comes. */
#define FIRST_FRAME_TIMEOUT_MS 4000
/* A driver timestamp further in the past than this is not trusted. */
#define MAX_TIMESTAMP_AGE_US 1000000

typedef struct mapped_buffer {
	void *start;
	size_t length;
} mapped_buffer;

typedef struct v4l2_source {
	cam_source base;            /* first: cam_source * casts to this */
	char *path;
	int req_width, req_height, req_fps;    /* as asked for */
	int fd;                     /* libv4l2 descriptor, -1 when closed */
	bool streaming;
	mapped_buffer bufs[MAX_BUFFERS];
	unsigned int nbufs;         /* mapped entries of bufs[] */
	int held;                   /* index delivered to the caller, -1 none */
	/* Converting ourselves (see the top): conv is set while the buffers
	 * are the driver's own (plain ioctls) and hold the camera's format
	 * src_fmt, converted into frame_buf in libv4l2's format dest_fmt. */
	struct v4lconvert_data *conv;
	struct v4l2_format src_fmt, dest_fmt;
	uint8_t *frame_buf;
	size_t frame_buf_size;
	/* The I420 layout of a frame, from the negotiated format. */
	size_t offsets[3];
	int strides[3];
	size_t frame_size;
	bool skip_first;
	bool got_frame;             /* a frame was delivered since open */
	int64_t last_frame_ms;      /* CLOCK_MONOTONIC of the last frame (or open) */
	uint32_t counter;
	unsigned int skipped_error, skipped_short, skipped_stale;
	char last_error[96];        /* the last error logged, to log each once */
} v4l2_source;

static int64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Through libv4l2, or with raw straight to the driver (past libv4l2 and
 * its plugins).  Retries only EINTR: EAGAIN is meaningful to the callers
 * (no frame yet). */
static int any_ioctl(int fd, bool raw, unsigned long request, void *arg)
{
	int r;
	do
		r = raw ? ioctl(fd, request, arg) : v4l2_ioctl(fd, request, arg);
	while(r < 0 && errno == EINTR);
	if(r < 0)
		return errno ? -errno : -EIO;
	return r;
}

static int xioctl(int fd, unsigned long request, void *arg)
{
	return any_ioctl(fd, false, request, arg);
}

static int raw_xioctl(int fd, unsigned long request, void *arg)
{
	return any_ioctl(fd, true, request, arg);
}

/* The buffer ioctls: the driver's own when we convert (see the top). */
static int buffer_ioctl(v4l2_source *v, unsigned long request, struct v4l2_buffer *b)
{
	return any_ioctl(v->fd, v->conv != NULL, request, b);
}

/* Logs a device error unless it is the same as the last one: a camera that
 * stays unplugged fails identically on every reopen, and one line saying
 * so is enough.  The memory is cleared when frames flow again. */
static void log_error(v4l2_source *v, const char *what, int err)
{
	char key[sizeof(v->last_error)];
	snprintf(key, sizeof(key), "%s:%d", what, err);
	if(strcmp(key, v->last_error) == 0)
		return;
	snprintf(v->last_error, sizeof(v->last_error), "%s", key);
	CAM_ERR("v4l2: %s: %s: %s", v->path, what, strerror(err));
}

static void fourcc_string(uint32_t f, char *out, size_t len)
{
	char s[5];
	for(int i = 0; i < 4; i++) {
		char c = (char)((f >> (8 * i)) & 0x7f);
		s[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	s[4] = '\0';
	/* Fourccs are padded with spaces ("GREY", "Y10 "). */
	for(int i = 3; i > 0 && s[i] == ' '; i--)
		s[i] = '\0';
	snprintf(out, len, "%s%s", s, (f & (1u << 31)) ? "-BE" : "");
}

/* Safe on any half-open state and on a device that has gone away: every
 * step ignores errors (a vanished device answers ENODEV at once), and none
 * of them blocks. */
static void close_device(v4l2_source *v)
{
	if(v->fd >= 0 && v->streaming) {
		int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		xioctl(v->fd, VIDIOC_STREAMOFF, &type);
	}
	for(unsigned int i = 0; i < v->nbufs; i++) {
		if(v->bufs[i].start) {
			if(v->conv)
				munmap(v->bufs[i].start, v->bufs[i].length);
			else
				v4l2_munmap(v->bufs[i].start, v->bufs[i].length);
		}
		v->bufs[i].start = NULL;
	}
	v->nbufs = 0;
	if(v->conv)
		v4lconvert_destroy(v->conv);
	v->conv = NULL;
	free(v->frame_buf);
	v->frame_buf = NULL;
	v->frame_buf_size = 0;
	/* Closing the descriptor releases the driver's buffers too. */
	if(v->fd >= 0)
		v4l2_close(v->fd);
	v->fd = -1;
	v->streaming = false;
	v->held = -1;
	v->base.is_open = false;
}

static int check_caps(v4l2_source *v)
{
	struct v4l2_capability cap;
	memset(&cap, 0, sizeof(cap));
	int rc = xioctl(v->fd, VIDIOC_QUERYCAP, &cap);
	if(rc < 0) {
		log_error(v, "VIDIOC_QUERYCAP", -rc);
		return rc;
	}
	/* device_caps describes this node; capabilities the whole device. */
	uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
	if(!(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING)) {
		/* Typically the metadata node of a UVC camera (its second
		 * /dev/video*), or a multi-planar device libv4l2 cannot convert. */
		char key[sizeof(v->last_error)];
		snprintf(key, sizeof(key), "caps:%08x", caps);
		if(strcmp(key, v->last_error) != 0) {
			snprintf(v->last_error, sizeof(v->last_error), "%s", key);
			CAM_ERR("v4l2: %s (%s) is not a single-planar video capture device with streaming "
				"(capabilities 0x%08x)", v->path, (const char *)cap.card, caps);
		}
		return -ENODEV;
	}
	return 0;
}

/* Sets the size (the nearest the camera offers) in I420 and the rate, and
 * records what was really negotiated. */
static int negotiate(v4l2_source *v)
{
	struct v4l2_format fmt;
	memset(&fmt, 0, sizeof(fmt));
	fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	fmt.fmt.pix.width = (uint32_t)v->req_width;
	fmt.fmt.pix.height = (uint32_t)v->req_height;
	fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_YUV420;
	fmt.fmt.pix.field = V4L2_FIELD_NONE;
	int rc = xioctl(v->fd, VIDIOC_S_FMT, &fmt);
	if(rc < 0) {
		log_error(v, "VIDIOC_S_FMT", -rc);
		return rc;
	}
	if(fmt.fmt.pix.pixelformat != V4L2_PIX_FMT_YUV420) {
		char got[16];
		fourcc_string(fmt.fmt.pix.pixelformat, got, sizeof(got));
		char key[sizeof(v->last_error)];
		snprintf(key, sizeof(key), "fmt:%s", got);
		if(strcmp(key, v->last_error) != 0) {
			snprintf(v->last_error, sizeof(v->last_error), "%s", key);
			CAM_ERR("v4l2: %s: no I420 from this camera (libv4lconvert cannot convert "
				"its formats; got %s)", v->path, got);
		}
		return -EINVAL;
	}
	int w = (int)fmt.fmt.pix.width, h = (int)fmt.fmt.pix.height;
	if(w < 16 || h < 16 || w > 16384 || h > 16384) {
		log_error(v, "unusable frame size", EINVAL);
		return -EINVAL;
	}
	size_t bpl = fmt.fmt.pix.bytesperline >= (uint32_t)w ? fmt.fmt.pix.bytesperline : (size_t)w;
	/* Planar I420: Y, then U and V at half the line length and half the
	 * height (the V4L2 layout of YU12). */
	size_t cbpl = bpl / 2, ch = ((size_t)h + 1) / 2;
	v->offsets[0] = 0;
	v->offsets[1] = bpl * (size_t)h;
	v->offsets[2] = v->offsets[1] + cbpl * ch;
	v->strides[0] = (int)bpl;
	v->strides[1] = v->strides[2] = (int)cbpl;
	v->frame_size = v->offsets[2] + cbpl * ch;
	/* VP8 (and I420 in general) wants even sizes: an odd last row or
	 * column is cropped away rather than refusing the camera. */
	v->base.width = w & ~1;
	v->base.height = h & ~1;

	/* The camera's own format: a plain ioctl on the same descriptor goes
	 * straight to the driver, past libv4l2's conversion. */
	struct v4l2_format raw;
	memset(&raw, 0, sizeof(raw));
	raw.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if(raw_xioctl(v->fd, VIDIOC_G_FMT, &raw) == 0) {
		fourcc_string(raw.fmt.pix.pixelformat, v->base.native_format, sizeof(v->base.native_format));
		/* What libv4l2 would convert (the same test it makes), we convert:
		 * the camera's format into what S_FMT gave (see the top). */
		v->conv = v4lconvert_create(v->fd);
		if(v->conv && !v4lconvert_needs_conversion(v->conv, &raw, &fmt)) {
			v4lconvert_destroy(v->conv);
			v->conv = NULL;
		}
		v->src_fmt = raw;
		v->dest_fmt = fmt;
	} else
		snprintf(v->base.native_format, sizeof(v->base.native_format), "?");

	/* The rate: cameras that cannot set it keep whatever they run at; we
	 * report the request then, as nothing better is known. */
	int fps = v->req_fps;
	struct v4l2_streamparm parm;
	memset(&parm, 0, sizeof(parm));
	parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if(xioctl(v->fd, VIDIOC_G_PARM, &parm) == 0) {
		if(parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME) {
			parm.parm.capture.timeperframe.numerator = 1;
			parm.parm.capture.timeperframe.denominator = (uint32_t)v->req_fps;
			rc = xioctl(v->fd, VIDIOC_S_PARM, &parm);
			if(rc < 0)
				CAM_WARN("v4l2: %s: VIDIOC_S_PARM %d fps: %s", v->path, v->req_fps, strerror(-rc));
			memset(&parm, 0, sizeof(parm));
			parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
			xioctl(v->fd, VIDIOC_G_PARM, &parm);
		}
		const struct v4l2_fract *tpf = &parm.parm.capture.timeperframe;
		if(tpf->numerator > 0 && tpf->denominator > 0) {
			fps = (int)((tpf->denominator + tpf->numerator / 2) / tpf->numerator);
			if(fps < 1)
				fps = 1;
		}
	}
	v->base.fps = fps;
	return 0;
}

/* The header of a memory-mapped capture buffer, for QUERYBUF/QBUF/DQBUF. */
static struct v4l2_buffer mmap_buffer(unsigned int index)
{
	struct v4l2_buffer b;
	memset(&b, 0, sizeof(b));
	b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b.memory = V4L2_MEMORY_MMAP;
	b.index = index;
	return b;
}

static int queue_buffer(v4l2_source *v, unsigned int index)
{
	struct v4l2_buffer b = mmap_buffer(index);
	int rc = buffer_ioctl(v, VIDIOC_QBUF, &b);
	if(rc < 0)
		log_error(v, "VIDIOC_QBUF", -rc);
	return rc;
}

static int start_streaming(v4l2_source *v)
{
	struct v4l2_requestbuffers req;
	memset(&req, 0, sizeof(req));
	req.count = WANT_BUFFERS;
	req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	req.memory = V4L2_MEMORY_MMAP;
	int rc = xioctl(v->fd, VIDIOC_REQBUFS, &req);
	if(rc < 0) {
		log_error(v, "VIDIOC_REQBUFS", -rc);
		return rc;
	}
	/* One buffer is always held by the caller: with fewer than two the
	 * driver would have nothing to fill. */
	if(req.count < 2) {
		log_error(v, "VIDIOC_REQBUFS gave too few buffers", ENOMEM);
		return -ENOMEM;
	}
	unsigned int count = req.count < MAX_BUFFERS ? req.count : MAX_BUFFERS;
	if(v->conv) {
		/* Our own conversion needs the driver's buffers to be ours: a
		 * driver behind a libv4l2 plugin (a multi-planar one behind
		 * libv4l-mplane) refuses the plain single-planar ioctls, and
		 * libv4l2 converts then, as it would anyway. */
		struct v4l2_buffer b = mmap_buffer(0);
		rc = raw_xioctl(v->fd, VIDIOC_QUERYBUF, &b);
		size_t size = v->dest_fmt.fmt.pix.sizeimage > v->frame_size ? v->dest_fmt.fmt.pix.sizeimage :
			v->frame_size;
		v->frame_buf = rc == 0 ? calloc(1, size) : NULL;
		if(!v->frame_buf) {
			CAM_INFO("v4l2: %s: converting through libv4l2 (VIDIOC_QUERYBUF on the driver: %s)",
				v->path, rc < 0 ? strerror(-rc) : "no memory");
			v4lconvert_destroy(v->conv);
			v->conv = NULL;
		} else
			v->frame_buf_size = size;
	}
	for(unsigned int i = 0; i < count; i++) {
		struct v4l2_buffer b = mmap_buffer(i);
		rc = buffer_ioctl(v, VIDIOC_QUERYBUF, &b);
		if(rc < 0) {
			log_error(v, "VIDIOC_QUERYBUF", -rc);
			return rc;
		}
		/* The planes are read from here without further checks (our
		 * conversion's source is checked per frame, by bytesused). */
		if(!v->conv && b.length < v->frame_size) {
			log_error(v, "buffer smaller than an I420 frame", EINVAL);
			return -EINVAL;
		}
		void *p = v->conv ? mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, b.m.offset) :
			v4l2_mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, b.m.offset);
		if(p == MAP_FAILED) {
			int err = errno ? errno : EIO;
			log_error(v, "mmap", err);
			return -err;
		}
		v->bufs[i].start = p;
		v->bufs[i].length = b.length;
		v->nbufs = i + 1;
	}
	for(unsigned int i = 0; i < v->nbufs; i++) {
		rc = queue_buffer(v, i);
		if(rc < 0)
			return rc;
	}
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	rc = xioctl(v->fd, VIDIOC_STREAMON, &type);
	if(rc < 0) {
		log_error(v, "VIDIOC_STREAMON", -rc);
		return rc;
	}
	v->streaming = true;
	return 0;
}

static int v4l2_src_open(cam_source *s)
{
	v4l2_source *v = (v4l2_source *)s;
	if(s->is_open)
		return 0;
	int raw = open(v->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if(raw < 0) {
		int err = errno;
		log_error(v, "open", err);
		return -err;
	}
	struct stat st;
	if(fstat(raw, &st) < 0 || !S_ISCHR(st.st_mode)) {
		log_error(v, "not a character device", ENODEV);
		close(raw);
		return -ENODEV;
	}
	v->fd = v4l2_fd_open(raw, 0);
	if(v->fd < 0) {
		int err = errno ? errno : ENODEV;
		log_error(v, "v4l2_fd_open", err);
		close(raw);
		return -err;
	}
	int rc = check_caps(v);
	if(rc == 0)
		rc = negotiate(v);
	if(rc == 0)
		rc = start_streaming(v);
	if(rc < 0) {
		close_device(v);
		return rc;
	}
	s->is_open = true;
	v->held = -1;
	v->counter = 0;
	v->got_frame = false;
	v->skipped_error = v->skipped_short = v->skipped_stale = 0;
	/* The first frame after STREAMON often carries a bad timestamp or a
	 * half-exposed picture (PipeWire drops it for the same reason). */
	v->skip_first = true;
	v->last_frame_ms = clock_us(CLOCK_MONOTONIC) / 1000;
	if(v->req_width != s->width || v->req_height != s->height || v->req_fps != s->fps)
		CAM_INFO("v4l2: %s: capturing %dx%d@%d from %s (asked for %dx%d@%d)", v->path,
			s->width, s->height, s->fps, s->native_format, v->req_width, v->req_height, v->req_fps);
	else
		CAM_INFO("v4l2: %s: capturing %dx%d@%d from %s", v->path, s->width, s->height, s->fps,
			s->native_format);
	return 0;
}

static void v4l2_src_close(cam_source *s)
{
	close_device((v4l2_source *)s);
}

/* Dequeues every ready buffer, re-queues all but the newest good one, and
 * returns that one in *newest (*have tells whether there is one).  When we
 * convert, the buffers hold the camera's format and nothing is converted
 * here: dequeuing costs no decoding. */
static int drain(v4l2_source *v, struct v4l2_buffer *newest, bool *have)
{
	*have = false;
	/* Bounded: a driver faster than this loop cannot keep us here. */
	for(unsigned int n = 0; n < 4 * MAX_BUFFERS; n++) {
		struct v4l2_buffer b = mmap_buffer(0);
		int rc = buffer_ioctl(v, VIDIOC_DQBUF, &b);
		if(rc == -EAGAIN)
			break;
		if(rc < 0) {
			log_error(v, "VIDIOC_DQBUF", -rc);
			return rc;
		}
		if(b.index >= v->nbufs)
			continue;    /* never queued by us; cannot happen */
		const char *why = NULL;
		if(b.flags & V4L2_BUF_FLAG_ERROR) {
			why = "flagged as corrupted by the driver";
			v->skipped_error++;
		} else if(v->conv ? b.bytesused == 0 || b.bytesused > v->bufs[b.index].length :
				b.bytesused < v->frame_size) {
			why = v->conv ? "that is empty" : "shorter than an I420 frame";
			v->skipped_short++;
		} else if(v->skip_first) {
			v->skip_first = false;
		} else {
			if(*have) {
				v->skipped_stale++;
				rc = queue_buffer(v, newest->index);
				if(rc < 0)
					return rc;
			}
			*newest = b;
			*have = true;
			continue;
		}
		if(why && v->skipped_error + v->skipped_short == 1)
			CAM_WARN("v4l2: %s: skipping a frame %s (%u of %zu bytes); further ones are "
				"skipped silently", v->path, why, b.bytesused,
				v->conv ? v->bufs[b.index].length : v->frame_size);
		rc = queue_buffer(v, b.index);
		if(rc < 0)
			return rc;
	}
	return 0;
}

/* Converts the newest frame (the camera's format, dequeued from the driver)
 * into frame_buf and gives the driver its buffer back.  Returns 1 with a
 * frame, 0 when it could not be converted (skipped), or a negative errno. */
static int convert_newest(v4l2_source *v, const struct v4l2_buffer *b)
{
	int n = v4lconvert_convert(v->conv, &v->src_fmt, &v->dest_fmt, v->bufs[b->index].start,
		(int)b->bytesused, v->frame_buf, (int)v->frame_buf_size);
	/* EPIPE: a short frame, converted as far as it goes; libv4l2 too
	 * returns those rather than none. */
	bool usable = n >= (int)v->frame_size || (n < 0 && errno == EPIPE);
	if(!usable) {
		v->skipped_error++;
		if(v->skipped_error + v->skipped_short == 1)
			CAM_WARN("v4l2: %s: skipping a frame that cannot be converted from %s (%u bytes): %s; "
				"further ones are skipped silently", v->path, v->base.native_format, b->bytesused,
				v4lconvert_get_error_message(v->conv));
	}
	int rc = queue_buffer(v, b->index);
	if(rc < 0)
		return rc;
	return usable ? 1 : 0;
}

static void fill_frame(v4l2_source *v, const struct v4l2_buffer *b, cam_frame *frame)
{
	uint8_t *base = v->conv ? v->frame_buf : v->bufs[b->index].start;
	memset(frame, 0, sizeof(*frame));
	for(int i = 0; i < 3; i++) {
		frame->planes[i] = base + v->offsets[i];
		frame->strides[i] = v->strides[i];
	}
	frame->width = v->base.width;
	frame->height = v->base.height;
	/* The driver's timestamp says when the frame was captured, not when we
	 * got round to it; it is usable only on CLOCK_MONOTONIC and when it is
	 * plausible. */
	int64_t now_us = clock_us(CLOCK_MONOTONIC);
	int64_t ts = (int64_t)b->timestamp.tv_sec * 1000000 + b->timestamp.tv_usec;
	int64_t capture_us = now_us;
	if((b->flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC &&
			ts > 0 && ts <= now_us && now_us - ts < MAX_TIMESTAMP_AGE_US)
		capture_us = ts;
	frame->capture_us = capture_us;
	frame->realtime_ms = (clock_us(CLOCK_REALTIME) - (now_us - capture_us)) / 1000;
	frame->counter = v->counter++;
}

/* A fault seen by poll(): returns the errno that describes it best. */
static int poll_fault(short revents)
{
	if(revents & POLLNVAL)
		return -EBADF;
	if(revents & POLLHUP)
		return -ENODEV;
	return -EIO;
}

static int v4l2_src_read(cam_source *s, cam_frame *frame, int timeout_ms)
{
	v4l2_source *v = (v4l2_source *)s;
	if(!s->is_open)
		return -EBADF;
	if(v->held >= 0) {
		int rc = queue_buffer(v, (unsigned int)v->held);
		v->held = -1;
		if(rc < 0)
			return rc;
	}
	int64_t deadline = clock_us(CLOCK_MONOTONIC) / 1000 + (timeout_ms > 0 ? timeout_ms : 0);
	short fault = 0;
	for(;;) {
		struct v4l2_buffer b;
		memset(&b, 0, sizeof(b));
		bool have;
		int rc = drain(v, &b, &have);
		if(rc < 0)
			return rc;
		if(have && v->conv) {
			rc = convert_newest(v, &b);
			if(rc < 0)
				return rc;
			have = rc > 0;
		} else if(have)
			v->held = (int)b.index;
		if(have) {
			fill_frame(v, &b, frame);
			v->last_frame_ms = clock_us(CLOCK_MONOTONIC) / 1000;
			if(!v->got_frame) {
				/* Frames flow: the next outage deserves a log line. */
				v->got_frame = true;
				v->last_error[0] = '\0';
			}
			return 0;
		}
		/* A device that reported a fault and has no frame left. */
		if(fault) {
			rc = poll_fault(fault);
			log_error(v, "poll", -rc);
			return rc;
		}
		int64_t now = clock_us(CLOCK_MONOTONIC) / 1000;
		int limit = v->got_frame ? NO_FRAME_TIMEOUT_MS : FIRST_FRAME_TIMEOUT_MS;
		if(now - v->last_frame_ms >= limit) {
			log_error(v, v->got_frame ? "no frame for 2 s" : "no first frame", ETIMEDOUT);
			return -ETIMEDOUT;
		}
		if(now >= deadline)
			return -EAGAIN;
		struct pollfd pfd = {.fd = v->fd, .events = POLLIN};
		int n = poll(&pfd, 1, (int)(deadline - now));
		if(n < 0) {
			if(errno == EINTR)
				continue;
			int err = errno;
			log_error(v, "poll", err);
			return -err;
		}
		/* With an error or hang-up, finished frames may still be waiting
		 * and DQBUF names the fault better: drain once more first. */
		if(n > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)))
			fault = pfd.revents;
	}
}

static bool valid_format(int width, int height, int fps)
{
	return width >= 16 && width <= 16384 && height >= 16 && height <= 16384 && fps >= 1 && fps <= 240;
}

static int v4l2_src_set_format(cam_source *s, int width, int height, int fps)
{
	v4l2_source *v = (v4l2_source *)s;
	if(!valid_format(width, height, fps)) {
		CAM_ERR("v4l2: %s: unsupported format %dx%d@%d", v->path, width, height, fps);
		return -EINVAL;
	}
	bool was_open = s->is_open;
	/* Formats cannot change while buffers exist: stop, renegotiate, restart. */
	close_device(v);
	v->req_width = width;
	v->req_height = height;
	v->req_fps = fps;
	s->width = width;
	s->height = height;
	s->fps = fps;
	return was_open ? v4l2_src_open(s) : 0;
}

static void v4l2_src_destroy(cam_source *s)
{
	v4l2_source *v = (v4l2_source *)s;
	close_device(v);
	free(v->path);
	free(v);
}

static const cam_source_ops v4l2_ops = {
	.kind = "v4l2",
	.open = v4l2_src_open,
	.read = v4l2_src_read,
	.close = v4l2_src_close,
	.set_format = v4l2_src_set_format,
	.destroy = v4l2_src_destroy,
};

cam_source *cam_source_v4l2_new(const char *device, int width, int height, int fps)
{
	if(!device || !device[0] || !valid_format(width, height, fps)) {
		CAM_ERR("v4l2: bad arguments (%s, %dx%d@%d)", device ? device : "no device", width, height, fps);
		return NULL;
	}
	v4l2_source *v = calloc(1, sizeof(*v));
	if(!v)
		return NULL;
	v->path = strdup(device);
	if(!v->path) {
		free(v);
		return NULL;
	}
	v->fd = -1;
	v->held = -1;
	v->req_width = width;
	v->req_height = height;
	v->req_fps = fps;
	v->base.ops = &v4l2_ops;
	v->base.device = v->path;
	v->base.width = width;
	v->base.height = height;
	v->base.fps = fps;
	/* Unknown until the camera is opened. */
	snprintf(v->base.native_format, sizeof(v->base.native_format), "?");
	return &v->base;
}
