/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Test tool: records the project's pattern camera to a Janus-style .mjr file
 * without Janus, through the same modules the plugin uses (pattern source,
 * pipeline, fan-out, recording), so that the tests can check the reading-back
 * side (janus-pp-rec, lib/webm.mjs, vp8dec and the stamps) on a real file.
 * The .mjr writer here is the test's own small one (the structured format
 * janus-pp-rec reads: "MJR00002", a JSON info header, then per packet "MEET",
 * milliseconds since the first packet, length and the RTP packet); the plugin
 * uses Janus's own recorder instead.
 *
 *   mjrwrite DIR ID WIDTH HEIGHT FPS SECONDS [OUTAGE_AT_S OUTAGE_MS]
 *
 * OUTAGE: the camera stops (the pipeline lets go of its source, as when
 * nobody watches an on-demand camera) for OUTAGE_MS and comes back, while the
 * recording goes on.  Prints the recording's status as one JSON line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipeline.h"
#include "recording.h"

typedef struct mjr {
	FILE *f;
	int64_t first_ms;   /* -1 before the first packet */
} mjr;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *mjr_open(const char *dir, const char *name, int *err, char *why, size_t why_size)
{
	char path[CAM_RECORDING_PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s/%s.mjr", dir, name);
	mjr *m = calloc(1, sizeof(*m));
	if(!m || !(m->f = fopen(path, "wbx"))) {
		*err = -errno;
		free(m);
		return NULL;
	}
	m->first_ms = -1;
	return m;
}

static int put(mjr *m, const void *data, size_t len)
{
	return fwrite(data, 1, len, m->f) == len ? 0 : -(errno ? errno : EIO);
}

static int mjr_save(void *handle, const uint8_t *rtp, size_t len)
{
	mjr *m = handle;
	int64_t now = now_ms();
	int r = 0;
	if(m->first_ms < 0) {
		char info[160];
		int n = snprintf(info, sizeof(info), "{\"t\":\"v\",\"c\":\"vp8\",\"s\":%lld,\"u\":%lld}",
			(long long)now * 1000, (long long)now * 1000);
		uint16_t n_be = htons((uint16_t)n);
		if((r = put(m, "MJR00002", 8)) < 0 || (r = put(m, &n_be, 2)) < 0 || (r = put(m, info, (size_t)n)) < 0)
			return r;
		m->first_ms = now;
	}
	uint32_t ts_be = htonl((uint32_t)(now - m->first_ms));
	uint16_t len_be = htons((uint16_t)len);
	if((r = put(m, "MEET", 4)) < 0 || (r = put(m, &ts_be, 4)) < 0 || (r = put(m, &len_be, 2)) < 0)
		return r;
	return put(m, rtp, len);
}

static int mjr_flush(void *handle)
{
	mjr *m = handle;
	return fflush(m->f) == 0 ? 0 : -errno;
}

static int mjr_close(void *handle)
{
	mjr *m = handle;
	int r = fclose(m->f) == 0 ? 0 : -errno;
	free(m);
	return r;
}

static const cam_recording_ops mjr_ops = {
	.ext = ".mjr", .open = mjr_open, .save = mjr_save, .flush = mjr_flush, .close = mjr_close,
};

int main(int argc, char **argv)
{
	if(argc != 7 && argc != 9) {
		fprintf(stderr, "usage: %s DIR ID WIDTH HEIGHT FPS SECONDS [OUTAGE_AT_S OUTAGE_MS]\n", argv[0]);
		return 2;
	}
	int width = atoi(argv[3]), height = atoi(argv[4]), fps = atoi(argv[5]);
	double seconds = atof(argv[6]);
	double outage_at = argc == 9 ? atof(argv[7]) : -1;
	int outage_ms = argc == 9 ? atoi(argv[8]) : 0;
	cam_pipeline_config cfg = {
		.encoder = {.width = width, .height = height, .fps = fps, .bitrate = 600000, .keyframe_interval = 2},
		.keyframe_min_gap_ms = 250,
		.on_demand = true,
		.payload_type = 96,
	};
	cam_fanout *fo = cam_fanout_new(NULL, NULL);
	cam_source *src = cam_source_pattern_new(width, height, fps);
	cam_pipeline *p = fo && src ? cam_pipeline_new(src, fo, &cfg, NULL, NULL) : NULL;
	cam_recording *rec = p ? cam_recording_new(argv[2], argv[1], fo, &mjr_ops, NULL, NULL) : NULL;
	if(!rec || cam_pipeline_start(p) < 0) {
		fprintf(stderr, "mjrwrite: setup failed\n");
		return 1;
	}
	cam_recording_status st;
	if(cam_recording_start(rec, &st) < 0) {
		fprintf(stderr, "mjrwrite: %s\n", st.error);
		return 1;
	}
	cam_pipeline_hold(p);
	if(outage_at >= 0) {
		usleep((useconds_t)(outage_at * 1e6));
		cam_pipeline_release(p);
		usleep((useconds_t)outage_ms * 1000);
		cam_pipeline_hold(p);
		usleep((useconds_t)((seconds - outage_at) * 1e6) - (useconds_t)outage_ms * 1000);
	} else {
		usleep((useconds_t)(seconds * 1e6));
	}
	cam_recording_stop(rec, &st);
	cam_pipeline_release(p);
	cam_pipeline_free(p);
	cam_recording_free(rec);
	cam_fanout_free(fo);
	printf("{\"file\":\"%s\",\"frames\":%llu,\"bytes\":%llu,\"error\":\"%s\"}\n", st.file,
		(unsigned long long)st.frames, (unsigned long long)st.bytes, st.error);
	return st.error[0] ? 1 : 0;
}
