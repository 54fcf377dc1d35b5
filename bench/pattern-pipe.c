/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bench/pattern-pipe: writes the project's test pattern (plugin/source_pattern.c,
 * stamped by plugin/stamp.c) as raw I420 frames to stdout, paced in real time,
 * so that the benchmark's other servers (GStreamer's vp8enc behind the stock
 * streaming plugin, and the aiortc per-connection server) encode exactly the
 * picture that our plugin encodes, stamp included.
 *
 *   pattern-pipe WIDTH HEIGHT FPS [SECONDS]
 *
 * The stamp's capture time is taken by the pattern source when the frame is
 * made, before it is written, so "now - stamp" at a viewer includes the pipe,
 * the encoder and everything after it: the whole glass-to-glass delay.
 *
 * Stops on its own after SECONDS (default 3600) or when the reader goes away
 * (EPIPE), so a benchmark that dies never leaves it running for long.
 */
#define _GNU_SOURCE
#include "source.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while(n > 0) {
		ssize_t w = write(fd, p, n);
		if(w < 0) {
			if(errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if(argc < 4) {
		fprintf(stderr, "usage: %s WIDTH HEIGHT FPS [SECONDS]\n", argv[0]);
		return 2;
	}
	int width = atoi(argv[1]), height = atoi(argv[2]), fps = atoi(argv[3]);
	long seconds = argc > 4 ? atol(argv[4]) : 3600;
	/* A closed reader must end us with an error we can see, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	/* A whole frame fits in the pipe, so a frame is handed over in one
	 * write and the reader never sees half of one for long (best effort:
	 * the limit is /proc/sys/fs/pipe-max-size). */
	size_t frame_bytes = (size_t)width * height * 3 / 2;
	fcntl(1, F_SETPIPE_SZ, (int)(frame_bytes * 2 > 1048576 ? 1048576 : frame_bytes * 2));

	cam_source *src = cam_source_pattern_new(width, height, fps);
	if(!src || cam_source_open(src) < 0) {
		fprintf(stderr, "pattern-pipe: cannot open the pattern at %dx%d@%d\n", width, height, fps);
		return 1;
	}
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for(;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if((now.tv_sec - t0.tv_sec) * 1000000000LL + (now.tv_nsec - t0.tv_nsec) >= seconds * 1000000000LL)
			break;
		cam_frame f;
		int ret = cam_source_read(src, &f, 1000);
		if(ret == -EAGAIN)
			continue;
		if(ret < 0) {
			fprintf(stderr, "pattern-pipe: read: %d\n", ret);
			break;
		}
		/* The planes are tightly packed (stride = width, width / 2), so
		 * each plane is one contiguous block. */
		int err = 0;
		for(int i = 0; i < 3 && !err; i++) {
			int h = i == 0 ? f.height : f.height / 2;
			int w = i == 0 ? f.width : f.width / 2;
			if(f.strides[i] == w) {
				err = write_all(1, f.planes[i], (size_t)w * h);
			} else {
				for(int y = 0; y < h && !err; y++)
					err = write_all(1, f.planes[i] + (size_t)y * f.strides[i], (size_t)w);
			}
		}
		if(err) {
			if(err != -EPIPE)
				fprintf(stderr, "pattern-pipe: write: %d\n", err);
			break;
		}
	}
	cam_source_free(src);
	return 0;
}
