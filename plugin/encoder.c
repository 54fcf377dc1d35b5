/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The one VP8 encoder: libvpx in realtime mode with the camera settings of
 * WebRTC's LibvpxVp8Encoder (shared/notes/style-anchors.md, section 4), with
 * deliberate differences: frame dropping and denoising are off (viewers and
 * tests count frames; the pattern and most USB cameras are clean), the frame
 * comes out whole (no output partitions), ready for rtp_vp8, and periodic
 * key frames are forced here rather than placed by libvpx (see apply_rates).
 */
#include "encoder.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#define RTP_CLOCK 90000

struct cam_encoder {
	cam_encoder_config cfg;     /* as asked for (threads/speed 0 = automatic) */
	vpx_codec_enc_cfg_t vcfg;   /* what libvpx was given */
	vpx_codec_ctx_t codec;
	bool ready;                 /* codec is initialised */
	int cpu_used;               /* the VP8E_SET_CPUUSED value in force */
	int64_t last_pts;           /* libvpx wants strictly increasing pts */
	bool have_pts;
	int64_t last_key_pts;       /* pts of the last key frame, for periodic ones */
	bool have_key;
	uint8_t *out;               /* the whole frame handed out by encode() */
	size_t out_cap;
};

static int cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (n > 64 ? 64 : (int)n);
}

/* WebRTC's NumberOfThreads() for desktops: more threads only where the
 * picture is large enough to split without hurting quality much. */
static int pick_threads(int width, int height)
{
	int cores = cpu_count(), pixels = width * height, n;
	if(pixels >= 1920 * 1080 && cores > 8)
		n = 8;
	else if(pixels > 1280 * 960 && cores >= 6)
		n = 3;
	else if(pixels > 640 * 480 && cores >= 3)
		n = cores >= 6 ? 3 : 2;
	else
		n = 1;
	return n < cores ? n : cores;
}

/* libvpx cpu-used; negative fixes the speed at |n| in realtime mode instead
 * of letting libvpx adapt it to the measured encode time. */
static int pick_speed(const cam_encoder_config *cfg)
{
	if(cfg->speed != 0)
		return cfg->speed;
	int pixels = cfg->width * cfg->height;
#if defined(__arm__) || defined(__aarch64__)
	if(cpu_count() <= 3)
		return -12;
	if(pixels <= 352 * 288)
		return -8;
	if(pixels <= 640 * 480)
		return -10;
	return -12;
#else
	/* Below CIF WebRTC spends more effort (-4): it is cheap there. */
	return pixels < 352 * 288 ? -4 : -6;
#endif
}

/* WebRTC's MaxIntraTarget(600): how big a key frame may be, in percent of
 * an average frame; it grows with the frame rate because each frame's share
 * of the bitrate shrinks. */
static unsigned int max_intra_pct(int fps)
{
	unsigned int pct = (unsigned int)(600.0 * 0.5 * fps / 10.0);
	return pct < 300 ? 300 : pct;
}

static bool valid_config(const cam_encoder_config *cfg, char *err, size_t errlen)
{
	const char *why = NULL;
	if(!cfg)
		why = "no configuration";
	else if(cfg->width < 16 || cfg->width > 16383 || cfg->height < 16 || cfg->height > 16383 ||
			(cfg->width % 2) || (cfg->height % 2))
		why = "unsupported picture size";
	else if(cfg->fps < 1 || cfg->fps > 240)
		why = "fps out of range (1..240)";
	else if(cfg->bitrate < 10000 || cfg->bitrate > 100000000)
		why = "bitrate out of range (10 kbit/s .. 100 Mbit/s)";
	else if(cfg->keyframe_interval < 0 || cfg->keyframe_interval > 3600)
		why = "keyframe_interval out of range (0..3600 s)";
	else if(cfg->speed < -16 || cfg->speed > 16)
		why = "speed out of range (-16..16)";
	else if(cfg->threads < 0 || cfg->threads > 64)
		why = "threads out of range (0..64)";
	if(why) {
		if(err && errlen)
			snprintf(err, errlen, "%s", why);
		if(cfg)
			CAM_ERR("encoder: %s (%dx%d@%d, %d bit/s, kf %d s, speed %d, threads %d)", why,
				cfg->width, cfg->height, cfg->fps, cfg->bitrate,
				cfg->keyframe_interval, cfg->speed, cfg->threads);
		else
			CAM_ERR("encoder: %s", why);
		return false;
	}
	return true;
}

/* The rate-related fields, which vpx_codec_enc_config_set can change live.
 *
 * Periodic key frames are forced from here (see cam_encoder_encode) rather
 * than left to libvpx's kf_mode = VPX_KF_AUTO / kf_max_dist, because VP8 in
 * libvpx (checked with 1.12) keeps the key-frame distance it was initialised
 * with: a new kf_max_dist through vpx_codec_enc_config_set is ignored, and
 * switching from VPX_KF_DISABLED (distance 0) to VPX_KF_AUTO divides by zero
 * inside the encoder (SIGFPE).  Counting here makes "keyframe_interval"
 * change live, in seconds of capture time whatever the frame rate.  libvpx
 * still gets a non-zero distance so that no code path can divide by it. */
static void apply_rates(vpx_codec_enc_cfg_t *v, const cam_encoder_config *cfg)
{
	v->rc_target_bitrate = (unsigned int)(cfg->bitrate / 1000);
	v->kf_mode = VPX_KF_DISABLED;
	v->kf_min_dist = 0;
	v->kf_max_dist = 3000;
}

static int codec_error(cam_encoder *enc, const char *what)
{
	const char *detail = vpx_codec_error_detail(&enc->codec);
	CAM_ERR("encoder: %s: %s%s%s", what, vpx_codec_error(&enc->codec),
		detail ? ": " : "", detail ? detail : "");
	return -EIO;
}

/* Controls that take effect at once; re-applied after rate changes. */
static int set_controls(cam_encoder *enc)
{
	if(vpx_codec_control(&enc->codec, VP8E_SET_CPUUSED, enc->cpu_used) != VPX_CODEC_OK)
		return codec_error(enc, "VP8E_SET_CPUUSED");
	if(vpx_codec_control(&enc->codec, VP8E_SET_MAX_INTRA_BITRATE_PCT,
			max_intra_pct(enc->cfg.fps)) != VPX_CODEC_OK)
		return codec_error(enc, "VP8E_SET_MAX_INTRA_BITRATE_PCT");
	return 0;
}

static int codec_init(cam_encoder *enc, char *err, size_t errlen)
{
	const cam_encoder_config *cfg = &enc->cfg;
	vpx_codec_enc_cfg_t *v = &enc->vcfg;
	vpx_codec_err_t rc = vpx_codec_enc_config_default(vpx_codec_vp8_cx(), v, 0);
	if(rc != VPX_CODEC_OK) {
		CAM_ERR("encoder: vpx_codec_enc_config_default: %s", vpx_codec_err_to_string(rc));
		if(err && errlen)
			snprintf(err, errlen, "libvpx: %s", vpx_codec_err_to_string(rc));
		return -EIO;
	}
	v->g_w = (unsigned int)cfg->width;
	v->g_h = (unsigned int)cfg->height;
	/* The RTP clock: pts are RTP timestamps, and the rate control sees the
	 * true frame spacing, even when the source skips a frame. */
	v->g_timebase.num = 1;
	v->g_timebase.den = RTP_CLOCK;
	v->g_threads = (unsigned int)(cfg->threads > 0 ? cfg->threads : pick_threads(cfg->width, cfg->height));
	v->g_lag_in_frames = 0;
	v->g_pass = VPX_RC_ONE_PASS;
	v->g_error_resilient = 0;
	v->rc_end_usage = VPX_CBR;
	v->rc_resize_allowed = 0;
	/* Never drop: the pattern's viewers count frames, and a camera at
	 * 30 fps has nothing to gain from a stutter. */
	v->rc_dropframe_thresh = 0;
	v->rc_min_quantizer = 2;
	v->rc_max_quantizer = 56;
	v->rc_undershoot_pct = 100;
	v->rc_overshoot_pct = 15;
	v->rc_buf_initial_sz = 500;
	v->rc_buf_optimal_sz = 600;
	v->rc_buf_sz = 1000;
	apply_rates(v, cfg);
	enc->cpu_used = pick_speed(cfg);

	rc = vpx_codec_enc_init(&enc->codec, vpx_codec_vp8_cx(), v, 0);
	if(rc != VPX_CODEC_OK) {
		CAM_ERR("encoder: vpx_codec_enc_init (%dx%d, %u threads): %s", cfg->width, cfg->height,
			v->g_threads, vpx_codec_err_to_string(rc));
		if(err && errlen)
			snprintf(err, errlen, "libvpx init: %s", vpx_codec_err_to_string(rc));
		return -EIO;
	}
	enc->ready = true;
	enc->have_pts = false;
	enc->have_key = false;
	int ret = set_controls(enc);
	if(ret == 0 && vpx_codec_control(&enc->codec, VP8E_SET_STATIC_THRESHOLD, 1u) != VPX_CODEC_OK)
		ret = codec_error(enc, "VP8E_SET_STATIC_THRESHOLD");
	if(ret == 0 && vpx_codec_control(&enc->codec, VP8E_SET_TOKEN_PARTITIONS,
			(int)VP8_ONE_TOKENPARTITION) != VPX_CODEC_OK)
		ret = codec_error(enc, "VP8E_SET_TOKEN_PARTITIONS");
	if(ret == 0 && vpx_codec_control(&enc->codec, VP8E_SET_NOISE_SENSITIVITY, 0u) != VPX_CODEC_OK)
		ret = codec_error(enc, "VP8E_SET_NOISE_SENSITIVITY");
	if(ret < 0) {
		if(err && errlen)
			snprintf(err, errlen, "libvpx: cannot apply the realtime settings");
		vpx_codec_destroy(&enc->codec);
		enc->ready = false;
		return ret;
	}
	CAM_VERB("encoder: VP8 %dx%d@%d, %d bit/s, kf every %d s, cpu-used %d, %u threads",
		cfg->width, cfg->height, cfg->fps, cfg->bitrate, cfg->keyframe_interval,
		enc->cpu_used, v->g_threads);
	return 0;
}

cam_encoder *cam_encoder_new(const cam_encoder_config *cfg, char *err, size_t errlen)
{
	if(err && errlen)
		err[0] = '\0';
	if(!valid_config(cfg, err, errlen))
		return NULL;
	cam_encoder *enc = calloc(1, sizeof(*enc));
	if(!enc) {
		CAM_ERR("encoder: out of memory");
		if(err && errlen)
			snprintf(err, errlen, "out of memory");
		return NULL;
	}
	enc->cfg = *cfg;
	if(codec_init(enc, err, errlen) < 0) {
		free(enc);
		return NULL;
	}
	return enc;
}

void cam_encoder_free(cam_encoder *enc)
{
	if(!enc)
		return;
	if(enc->ready)
		vpx_codec_destroy(&enc->codec);
	free(enc->out);
	free(enc);
}

/* Appends one compressed packet to the output buffer. */
static int append(cam_encoder *enc, size_t *len, const void *data, size_t size)
{
	if(size > SIZE_MAX - *len)
		return -EOVERFLOW;
	if(*len + size > enc->out_cap) {
		size_t cap = enc->out_cap ? enc->out_cap : 64 * 1024;
		while(cap < *len + size)
			cap *= 2;
		uint8_t *out = realloc(enc->out, cap);
		if(!out) {
			CAM_ERR("encoder: out of memory for a %zu-byte frame", *len + size);
			return -ENOMEM;
		}
		enc->out = out;
		enc->out_cap = cap;
	}
	memcpy(enc->out + *len, data, size);
	*len += size;
	return 0;
}

int cam_encoder_encode(cam_encoder *enc, const cam_frame *in, bool force_key, cam_encoded_frame *out)
{
	if(!enc || !in || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if(!enc->ready) {
		CAM_ERR("encoder: not initialised (a previous re-initialisation failed)");
		return -EIO;
	}
	if(in->width != enc->cfg.width || in->height != enc->cfg.height) {
		CAM_ERR("encoder: frame is %dx%d, the encoder is set for %dx%d",
			in->width, in->height, enc->cfg.width, enc->cfg.height);
		return -EINVAL;
	}
	if(!in->planes[0] || !in->planes[1] || !in->planes[2] ||
			in->strides[0] < in->width || in->strides[1] < (in->width + 1) / 2 ||
			in->strides[2] < (in->width + 1) / 2) {
		CAM_ERR("encoder: bad input planes");
		return -EINVAL;
	}
	/* Wrap the caller's planes; nothing is copied. */
	vpx_image_t img;
	if(!vpx_img_wrap(&img, VPX_IMG_FMT_I420, (unsigned int)in->width, (unsigned int)in->height,
			1, in->planes[0])) {
		CAM_ERR("encoder: vpx_img_wrap failed");
		return -EINVAL;
	}
	for(int i = 0; i < 3; i++) {
		img.planes[i] = in->planes[i];
		img.stride[i] = in->strides[i];
	}

	int64_t pts = in->capture_us * RTP_CLOCK / 1000000;
	if(enc->have_pts && pts <= enc->last_pts)
		pts = enc->last_pts + 1;
	enc->last_pts = pts;
	enc->have_pts = true;
	unsigned long duration = (unsigned long)(RTP_CLOCK / enc->cfg.fps);
	/* Periodic key frames, counted from the last key frame of any kind (as
	 * libvpx would); half a frame of slack absorbs capture jitter. */
	if(enc->cfg.keyframe_interval > 0 && enc->have_key &&
			pts - enc->last_key_pts >= (int64_t)enc->cfg.keyframe_interval * RTP_CLOCK - (int64_t)duration / 2)
		force_key = true;
	vpx_enc_frame_flags_t flags = force_key ? VPX_EFLAG_FORCE_KF : 0;

	vpx_codec_err_t rc = vpx_codec_encode(&enc->codec, &img, pts, duration, flags, VPX_DL_REALTIME);
	if(rc != VPX_CODEC_OK)
		return codec_error(enc, "vpx_codec_encode");

	/* Without VPX_CODEC_USE_OUTPUT_PARTITION libvpx gives one packet per
	 * frame; concatenating keeps us right should it ever give more. */
	size_t len = 0;
	bool key = false;
	vpx_codec_iter_t iter = NULL;
	const vpx_codec_cx_pkt_t *pkt;
	int ret = 0;
	while((pkt = vpx_codec_get_cx_data(&enc->codec, &iter)) != NULL) {
		if(pkt->kind != VPX_CODEC_CX_FRAME_PKT || ret < 0)
			continue;
		ret = append(enc, &len, pkt->data.frame.buf, pkt->data.frame.sz);
		if(pkt->data.frame.flags & VPX_FRAME_IS_KEY)
			key = true;
	}
	if(ret < 0)
		return ret;
	if(len && key) {
		enc->last_key_pts = pts;
		enc->have_key = true;
	}
	out->data = len ? enc->out : NULL;
	out->size = len;
	out->keyframe = len && key;
	out->capture_us = in->capture_us;
	out->realtime_ms = in->realtime_ms;
	return 0;
}

int cam_encoder_check_config(const cam_encoder_config *cfg, char *err, size_t errlen)
{
	return valid_config(cfg, err, errlen) ? 0 : -EINVAL;
}

int cam_encoder_reconfigure(cam_encoder *enc, const cam_encoder_config *cfg)
{
	if(!enc)
		return -EINVAL;
	char err[128];
	if(!valid_config(cfg, err, sizeof(err)))
		return -EINVAL;
	bool reinit = !enc->ready || cfg->width != enc->cfg.width || cfg->height != enc->cfg.height ||
		cfg->threads != enc->cfg.threads;
	if(reinit) {
		/* A new size means new reference frames: start over.  The first
		 * frame of the new context is a key frame. */
		if(enc->ready)
			vpx_codec_destroy(&enc->codec);
		enc->ready = false;
		enc->cfg = *cfg;
		return codec_init(enc, err, sizeof(err));
	}
	vpx_codec_enc_cfg_t v = enc->vcfg;
	apply_rates(&v, cfg);
	if(vpx_codec_enc_config_set(&enc->codec, &v) != VPX_CODEC_OK)
		return codec_error(enc, "vpx_codec_enc_config_set");
	enc->vcfg = v;
	enc->cfg = *cfg;
	enc->cpu_used = pick_speed(cfg);
	return set_controls(enc);
}

const cam_encoder_config *cam_encoder_get_config(const cam_encoder *enc)
{
	return enc ? &enc->cfg : NULL;
}
