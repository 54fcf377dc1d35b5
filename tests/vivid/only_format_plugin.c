/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A libv4l2 plugin for the vivid test: when VIVID_TEST_ONLY_FORMAT names a
 * fourcc (e.g. "YUYV"), the camera appears to offer only that format.
 *
 * vivid offers I420 (YU12) itself, so libv4l2 would never convert anything;
 * hiding every other format makes libv4lconvert do what it does for a real
 * USB camera (YUYV, RGB, ...).  Without the variable the plugin declines the
 * device (init returns NULL) and libv4l2 talks to the driver directly.
 * Loaded by libv4l2 from its plugin directory, so the test program must be
 * linked dynamically.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <libv4l-plugin.h>
#include <linux/videodev2.h>

typedef struct only_format {
	uint32_t fourcc;
} only_format;

static int raw_ioctl(int fd, unsigned long request, void *arg)
{
	return (int)syscall(SYS_ioctl, fd, request, arg);
}

static void *plugin_init(int fd)
{
	const char *want = getenv("VIVID_TEST_ONLY_FORMAT");
	if(!want || strlen(want) != 4)
		return NULL;
	only_format *p = calloc(1, sizeof(*p));
	if(!p)
		return NULL;
	p->fourcc = v4l2_fourcc(want[0], want[1], want[2], want[3]);
	return p;
}

static void plugin_close(void *priv)
{
	free(priv);
}

static int plugin_ioctl(void *priv, int fd, unsigned long request, void *arg)
{
	const only_format *p = priv;
	switch(request) {
		case VIDIOC_ENUM_FMT: {
			/* Index 0 is the one allowed format, if the driver has it. */
			struct v4l2_fmtdesc *d = arg;
			if(d->index != 0) {
				errno = EINVAL;
				return -1;
			}
			for(uint32_t i = 0;; i++) {
				struct v4l2_fmtdesc real;
				memset(&real, 0, sizeof(real));
				real.index = i;
				real.type = d->type;
				if(raw_ioctl(fd, VIDIOC_ENUM_FMT, &real) < 0)
					return -1;
				if(real.pixelformat == p->fourcc) {
					real.index = 0;
					*d = real;
					return 0;
				}
			}
		}
		case VIDIOC_TRY_FMT:
		case VIDIOC_S_FMT: {
			struct v4l2_format *f = arg;
			if(f->type == V4L2_BUF_TYPE_VIDEO_CAPTURE)
				f->fmt.pix.pixelformat = p->fourcc;
			return raw_ioctl(fd, request, arg);
		}
		case VIDIOC_ENUM_FRAMESIZES: {
			struct v4l2_frmsizeenum *s = arg;
			if(s->pixel_format != p->fourcc) {
				errno = EINVAL;
				return -1;
			}
			return raw_ioctl(fd, request, arg);
		}
		case VIDIOC_ENUM_FRAMEINTERVALS: {
			struct v4l2_frmivalenum *iv = arg;
			if(iv->pixel_format != p->fourcc) {
				errno = EINVAL;
				return -1;
			}
			return raw_ioctl(fd, request, arg);
		}
		default:
			return raw_ioctl(fd, request, arg);
	}
}

static ssize_t plugin_read(void *priv, int fd, void *buf, size_t n)
{
	return syscall(SYS_read, fd, buf, n);
}

static ssize_t plugin_write(void *priv, int fd, const void *buf, size_t n)
{
	return syscall(SYS_write, fd, buf, n);
}

__attribute__((visibility("default"))) const struct libv4l_dev_ops libv4l2_plugin = {
	.init = plugin_init,
	.close = plugin_close,
	.ioctl = plugin_ioctl,
	.read = plugin_read,
	.write = plugin_write,
};
