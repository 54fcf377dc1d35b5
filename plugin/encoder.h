/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The one VP8 encoder (libvpx, realtime settings after WebRTC's
 * LibvpxVp8Encoder: CBR, no lag, one pass, 1/90000 time base).
 *
 * Owned by one thread (the pipeline thread); not thread-safe.  Functions
 * return 0 or a negative errno.
 */
#ifndef CAM_ENCODER_H
#define CAM_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source.h"

typedef struct cam_encoder_config {
	int width, height, fps;
	int bitrate;              /* bit/s */
	int keyframe_interval;    /* seconds between periodic key frames; 0 = only forced ones */
	int speed;                /* libvpx cpu-used, 0 = default (-6 on x86, faster on ARM) */
	int threads;              /* 0 = pick from the picture size */
} cam_encoder_config;

typedef struct cam_encoded_frame {
	const uint8_t *data;      /* owned by the encoder, valid until the next encode */
	size_t size;              /* 0 when the rate control dropped the frame */
	bool keyframe;
	int64_t capture_us;       /* copied from the input frame */
	int64_t realtime_ms;
} cam_encoded_frame;

typedef struct cam_encoder cam_encoder;

/* 0 when cam_encoder_new() would accept cfg, else -EINVAL with a reason. */
int cam_encoder_check_config(const cam_encoder_config *cfg, char *err, size_t errlen);

/* NULL on failure, with a reason in err. */
cam_encoder *cam_encoder_new(const cam_encoder_config *cfg, char *err, size_t errlen);
void cam_encoder_free(cam_encoder *enc);

/* Encodes one I420 frame of the configured size.  force_key asks for a key
 * frame.  The output may be empty (dropped by rate control). */
int cam_encoder_encode(cam_encoder *enc, const cam_frame *in, bool force_key, cam_encoded_frame *out);

/* Rate changes without re-initialising (vpx_codec_enc_config_set).  A size
 * change re-initialises; the next frame is then a key frame. */
int cam_encoder_reconfigure(cam_encoder *enc, const cam_encoder_config *cfg);

const cam_encoder_config *cam_encoder_get_config(const cam_encoder *enc);

#endif
