/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * An MJPEG camera for the vivid test, in two steps:
 *
 *   mjpeg_producer --make FILE WIDTH HEIGHT FRAMES
 *       encodes FRAMES JPEG pictures (libjpeg, 4:2:0, quality 85: the
 *       picture of mjpeg_pattern.h with the frame counter 0, 1, ...) into
 *       FILE.  tests/vivid/run does this on the host: under TCG a 1280x720
 *       JPEG takes ~75 ms, which would leave the VM's one CPU to the
 *       producer instead of the capture path under test.
 *   mjpeg_producer DEVICE FILE FPS [SECONDS]
 *       in the VM: writes those frames, over and over, to the output side of
 *       a v4l2loopback device as V4L2_PIX_FMT_MJPEG, whose capture side then
 *       looks like a USB webcam giving MJPEG.  Paced by CLOCK_MONOTONIC (a
 *       late frame is sent at once and the schedule restarts from there).
 *       Runs until SIGTERM/SIGINT or SECONDS, then prints a
 *       "# mjpeg producer: ..." note.
 *
 * Exits 0, 1 (failed), 2 (bad arguments).
 *
 * FILE: "MJPS", then width, height and frame count, then each frame as its
 * length and its bytes (32-bit little-endian numbers).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>
#include <linux/videodev2.h>

#include "mjpeg_pattern.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fill_rect(uint8_t *plane, int stride, int x0, int y0, int x1, int y1, uint8_t value)
{
	for(int y = y0; y < y1; y++)
		memset(plane + (size_t)y * stride + x0, value, (size_t)(x1 - x0));
}

/* The static part: grey background and the bars. */
static void draw_background(uint8_t *yp, uint8_t *up, uint8_t *vp, int w, int h)
{
	memset(yp, MJPEG_GREY, (size_t)w * h);
	memset(up, 128, (size_t)(w / 2) * (h / 2));
	memset(vp, 128, (size_t)(w / 2) * (h / 2));
	int bottom = mjpeg_bars_bottom(h);
	for(int b = 0; b < MJPEG_BARS; b++) {
		uint8_t c[3];
		mjpeg_bar_colour(b, c);
		int x0 = mjpeg_bar_x0(b, w), x1 = mjpeg_bar_x0(b + 1, w);
		fill_rect(yp, w, x0, 0, x1, bottom, c[0]);
		fill_rect(up, w / 2, x0 / 2, 0, x1 / 2, bottom / 2, c[1]);
		fill_rect(vp, w / 2, x0 / 2, 0, x1 / 2, bottom / 2, c[2]);
	}
}

static void draw_counter(uint8_t *yp, int w, int h, unsigned counter)
{
	int y0 = mjpeg_counter_top(h), y1 = mjpeg_counter_bottom(h);
	for(int i = 0; i < MJPEG_COUNTER_BITS; i++) {
		int bit = (counter >> (MJPEG_COUNTER_BITS - 1 - i)) & 1;
		fill_rect(yp, w, mjpeg_cell_x0(i, w), y0, mjpeg_cell_x0(i + 1, w), y1,
			bit ? MJPEG_CELL_ON : MJPEG_CELL_OFF);
	}
}

/* One JPEG from the I420 planes (raw data in: no colour conversion). */
static int encode(struct jpeg_compress_struct *c, uint8_t *yp, uint8_t *up, uint8_t *vp, int w, int h,
	unsigned char **out, unsigned long *outlen)
{
	*out = NULL;
	*outlen = 0;
	jpeg_mem_dest(c, out, outlen);
	jpeg_start_compress(c, TRUE);
	JSAMPROW yrows[16], urows[8], vrows[8];
	JSAMPARRAY planes[3] = {yrows, urows, vrows};
	for(int row = 0; row < h; row += 16) {
		for(int i = 0; i < 16; i++) {
			int y = row + i < h ? row + i : h - 1;
			yrows[i] = yp + (size_t)y * w;
		}
		for(int i = 0; i < 8; i++) {
			int y = row / 2 + i < h / 2 ? row / 2 + i : h / 2 - 1;
			urows[i] = up + (size_t)y * (w / 2);
			vrows[i] = vp + (size_t)y * (w / 2);
		}
		jpeg_write_raw_data(c, planes, 16);
	}
	jpeg_finish_compress(c);
	return *outlen > 0 ? 0 : -1;
}

static int make_stream(const char *path, int w, int h, int count)
{
	if(w < 32 || h < 32 || w % 16 || h % 16 || count < 1 || count > 100000) {
		fprintf(stderr, "mjpeg_producer: bad size or count (multiples of 16)\n");
		return 2;
	}
	FILE *out = fopen(path, "wb");
	uint8_t *yp = malloc((size_t)w * h), *up = malloc((size_t)w * h / 4), *vp = malloc((size_t)w * h / 4);
	if(!out || !yp || !up || !vp) {
		fprintf(stderr, "mjpeg_producer: %s: %s\n", path, strerror(errno));
		return 1;
	}
	draw_background(yp, up, vp, w, h);
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr jerr;
	c.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&c);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = 3;
	c.in_color_space = JCS_YCbCr;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 85, TRUE);
	c.raw_data_in = TRUE;
	c.comp_info[0].h_samp_factor = 2;
	c.comp_info[0].v_samp_factor = 2;
	c.comp_info[1].h_samp_factor = c.comp_info[1].v_samp_factor = 1;
	c.comp_info[2].h_samp_factor = c.comp_info[2].v_samp_factor = 1;
	uint32_t hdr[3] = {(uint32_t)w, (uint32_t)h, (uint32_t)count};
	int rc = fwrite("MJPS", 4, 1, out) == 1 && fwrite(hdr, sizeof(hdr), 1, out) == 1 ? 0 : 1;
	for(int i = 0; i < count && rc == 0; i++) {
		draw_counter(yp, w, h, (unsigned)i);
		unsigned char *jpg;
		unsigned long len;
		if(encode(&c, yp, up, vp, w, h, &jpg, &len) < 0) {
			rc = 1;
			break;
		}
		uint32_t l = (uint32_t)len;
		if(fwrite(&l, sizeof(l), 1, out) != 1 || fwrite(jpg, len, 1, out) != 1)
			rc = 1;
		free(jpg);
	}
	jpeg_destroy_compress(&c);
	if(fclose(out) != 0)
		rc = 1;
	free(yp);
	free(up);
	free(vp);
	if(rc)
		fprintf(stderr, "mjpeg_producer: writing %s failed\n", path);
	return rc;
}

typedef struct stream {
	int width, height, count;
	unsigned char **frames;
	uint32_t *sizes;
} stream;

static int load_stream(const char *path, stream *st)
{
	FILE *in = fopen(path, "rb");
	if(!in)
		return -errno;
	char magic[4];
	uint32_t hdr[3];
	int rc = -EINVAL;
	if(fread(magic, 4, 1, in) != 1 || memcmp(magic, "MJPS", 4) != 0 || fread(hdr, sizeof(hdr), 1, in) != 1 ||
			hdr[2] < 1 || hdr[2] > 100000)
		goto out;
	st->width = (int)hdr[0];
	st->height = (int)hdr[1];
	st->count = (int)hdr[2];
	st->frames = calloc((size_t)st->count, sizeof(*st->frames));
	st->sizes = calloc((size_t)st->count, sizeof(*st->sizes));
	if(!st->frames || !st->sizes) {
		rc = -ENOMEM;
		goto out;
	}
	for(int i = 0; i < st->count; i++) {
		if(fread(&st->sizes[i], sizeof(uint32_t), 1, in) != 1 || st->sizes[i] == 0 ||
				st->sizes[i] > 64u << 20)
			goto out;
		st->frames[i] = malloc(st->sizes[i]);
		if(!st->frames[i] || fread(st->frames[i], st->sizes[i], 1, in) != 1)
			goto out;
	}
	rc = 0;
out:
	fclose(in);
	return rc;
}

static void free_stream(stream *st)
{
	for(int i = 0; st->frames && i < st->count; i++)
		free(st->frames[i]);
	free(st->frames);
	free(st->sizes);
}

static int play(const char *dev, const char *path, int fps, double seconds)
{
	if(fps < 1 || fps > 120) {
		fprintf(stderr, "mjpeg_producer: bad rate (1..120 fps)\n");
		return 2;
	}
	stream st;
	memset(&st, 0, sizeof(st));
	int rc = load_stream(path, &st);
	if(rc < 0) {
		printf("# mjpeg producer: cannot read %s: %s\n", path, strerror(-rc));
		free_stream(&st);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	int fd = open(dev, O_RDWR | O_CLOEXEC);
	if(fd < 0) {
		printf("# mjpeg producer: open %s: %s\n", dev, strerror(errno));
		free_stream(&st);
		return 1;
	}
	struct v4l2_format f;
	memset(&f, 0, sizeof(f));
	f.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	f.fmt.pix.width = (uint32_t)st.width;
	f.fmt.pix.height = (uint32_t)st.height;
	f.fmt.pix.pixelformat = V4L2_PIX_FMT_MJPEG;
	f.fmt.pix.field = V4L2_FIELD_NONE;
	rc = 1;
	if(ioctl(fd, VIDIOC_S_FMT, &f) < 0) {
		printf("# mjpeg producer: VIDIOC_S_FMT: %s\n", strerror(errno));
		goto out;
	}
	if(f.fmt.pix.pixelformat != V4L2_PIX_FMT_MJPEG || (int)f.fmt.pix.width != st.width ||
			(int)f.fmt.pix.height != st.height) {
		printf("# mjpeg producer: the device took %ux%u %.4s\n", f.fmt.pix.width, f.fmt.pix.height,
			(const char *)&f.fmt.pix.pixelformat);
		goto out;
	}
	struct v4l2_streamparm parm;
	memset(&parm, 0, sizeof(parm));
	parm.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	parm.parm.output.timeperframe.numerator = 1;
	parm.parm.output.timeperframe.denominator = (uint32_t)fps;
	if(ioctl(fd, VIDIOC_S_PARM, &parm) < 0)
		printf("# mjpeg producer: VIDIOC_S_PARM %d fps: %s\n", fps, strerror(errno));

	int64_t interval = 1000000000 / fps, start = now_ns(), next = start;
	int64_t end = seconds > 0 ? start + (int64_t)(seconds * 1e9) : 0;
	unsigned frames = 0, late = 0, write_errors = 0;
	size_t bytes = 0;
	while(!stop && (!end || now_ns() < end)) {
		int i = (int)(frames % (unsigned)st.count);
		ssize_t n = write(fd, st.frames[i], st.sizes[i]);
		if(n != (ssize_t)st.sizes[i])
			write_errors++;
		bytes += st.sizes[i];
		frames++;
		next += interval;
		int64_t now = now_ns();
		if(next < now) {
			late++;
			next = now;
		} else {
			struct timespec ts = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
			while(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop)
				;
		}
	}
	double elapsed = (now_ns() - start) / 1e9;
	printf("# mjpeg producer: %u frames of %dx%d MJPEG in %.1f s (%.1f fps, asked %d), JPEG %zu bytes "
		"on average, %u late, %u short writes\n", frames, st.width, st.height, elapsed,
		elapsed > 0 ? frames / elapsed : 0, fps, frames ? bytes / frames : 0, late, write_errors);
	fflush(stdout);
	rc = 0;
out:
	close(fd);
	free_stream(&st);
	return rc;
}

int main(int argc, char **argv)
{
	if(argc == 6 && strcmp(argv[1], "--make") == 0)
		return make_stream(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if(argc == 4 || argc == 5)
		return play(argv[1], argv[2], atoi(argv[3]), argc == 5 ? atof(argv[4]) : 0);
	fprintf(stderr, "usage: %s --make FILE WIDTH HEIGHT FRAMES\n       %s DEVICE FILE FPS [SECONDS]\n",
		argv[0], argv[0]);
	return 2;
}
