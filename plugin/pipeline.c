/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "rtp_vp8.h"
#include "snapshot.h"

/* Back-off between attempts to reopen a failed source. */
#define REOPEN_MIN_MS 250
#define REOPEN_MAX_MS 1000
/* How long one read waits, so that stop and idle are noticed promptly. */
#define READ_TIMEOUT_MS 200

/* One copy of a captured frame for the snapshot callers waiting for it.
 * refs: the callers that hold it, plus one for the pipeline while it is
 * pending or being filled; the last one frees it. */
typedef struct snap_batch {
	cam_still still;
	int refs;
	bool done;
	int rc;
} snap_batch;

struct cam_pipeline {
	/* Owned by the pipeline thread once it runs. */
	cam_source *src;
	cam_encoder *enc;
	cam_rtp_vp8 rtp;
	uint32_t ts_base;
	int64_t last_key_ms;          /* monotonic ms of the last key frame, -1 = none yet */
	bool restart_key;             /* the next frame must be a key frame */
	int reopen_delay_ms;
	/* After the encoder failed: no new attempt before this (monotonic ms),
	 * and the delay before the one after. */
	int64_t encoder_retry_ms;
	int encoder_delay_ms;
	bool encoder_failed;
	/* The packets of the frame being sent. */
	uint8_t *buf;
	size_t buf_len, buf_cap;
	cam_packet *packets;
	size_t *offsets;
	int npackets, packets_cap;

	cam_fanout *fo;
	cam_pipeline_state_fn on_state;
	void *opaque;
	pthread_t thread;
	bool thread_started;

	/* Guards everything below: the only state other threads touch. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	cam_pipeline_config cfg;
	bool stop;
	int holders;
	bool key_requested;
	cam_pipeline_status status;
	/* One configure at a time (configure_lock, taken before lock): the
	 * change waits in pending until the thread takes it, then the caller
	 * waits on applied_cond for its result. */
	pthread_mutex_t configure_lock;
	pthread_cond_t applied_cond;
	cam_pipeline_change pending;    /* -1 = no change */
	bool change_taken, change_done;
	cam_pipeline_result result;
	/* Snapshots: the batch the next captured frame fills (NULL = none
	 * wanted), the callers inside cam_pipeline_snapshot() (free waits for
	 * them), and whether the source itself is down (open or read failed
	 * and no frame since). */
	pthread_cond_t snap_cond;
	snap_batch *snap_pending;
	int snap_callers;
	bool source_down;
};

const char *cam_source_state_name(cam_source_state state)
{
	switch(state) {
		case CAM_SOURCE_RUNNING:
			return "running";
		case CAM_SOURCE_ERROR:
			return "error";
		case CAM_SOURCE_IDLE:
		default:
			return "idle";
	}
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t random_u32(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint32_t x = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec * 2654435761u ^ (uint32_t)(uintptr_t)&ts;
	/* xorshift to spread the bits */
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

cam_pipeline *cam_pipeline_new(cam_source *src, cam_fanout *fo, const cam_pipeline_config *cfg,
	cam_pipeline_state_fn on_state, void *opaque)
{
	cam_pipeline *p = calloc(1, sizeof(*p));
	if(!p)
		return NULL;
	p->src = src;
	p->fo = fo;
	p->cfg = *cfg;
	p->on_state = on_state;
	p->opaque = opaque;
	p->last_key_ms = -1;
	p->restart_key = true;
	p->reopen_delay_ms = REOPEN_MIN_MS;
	p->encoder_delay_ms = REOPEN_MIN_MS;
	p->pending = CAM_PIPELINE_NO_CHANGE;
	cam_rtp_vp8_init(&p->rtp, cfg->payload_type, random_u32(), (uint16_t)random_u32(),
		(uint16_t)(random_u32() & 0x7fff), CAM_RTP_MAX_PACKET);
	p->ts_base = random_u32();
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->configure_lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &attr);
	pthread_cond_init(&p->applied_cond, &attr);
	pthread_cond_init(&p->snap_cond, &attr);
	pthread_condattr_destroy(&attr);
	p->status.state = CAM_SOURCE_IDLE;
	p->status.kind = src->ops->kind;
	p->status.device = src->device;
	snprintf(p->status.native_format, sizeof(p->status.native_format), "%s", src->native_format);
	p->status.width = src->width;
	p->status.height = src->height;
	p->status.fps = src->fps;
	p->status.bitrate = cfg->encoder.bitrate;
	p->status.keyframe_interval = cfg->encoder.keyframe_interval;
	return p;
}

/* CLOCK_MONOTONIC now + ms, for pthread_cond_timedwait. */
static struct timespec deadline_in(int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if(ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Waits on the condition for up to ms; called with the lock held. */
static void wait_ms(cam_pipeline *p, int ms)
{
	struct timespec ts = deadline_in(ms);
	pthread_cond_timedwait(&p->wake, &p->lock, &ts);
}

static const char *source_name(const cam_pipeline *p)
{
	return p->src->device ? p->src->device : p->src->ops->kind;
}

/* Records a state change and tells the plugin; pipeline thread only. */
static void set_state(cam_pipeline *p, cam_source_state state, const char *error)
{
	pthread_mutex_lock(&p->lock);
	bool changed = p->status.state != state ||
		(error && strcmp(error, p->status.error) != 0);
	p->status.state = state;
	snprintf(p->status.error, sizeof(p->status.error), "%s", error ? error : "");
	pthread_cond_broadcast(&p->snap_cond);    /* a waiting snapshot may give up */
	pthread_mutex_unlock(&p->lock);
	if(changed) {
		if(state == CAM_SOURCE_ERROR)
			CAM_WARN("source %s: %s", source_name(p), error);
		else
			CAM_INFO("source %s: %s", source_name(p), cam_source_state_name(state));
		if(p->on_state)
			p->on_state(p->opaque, state, error);
	}
}

static void emit_packet(void *opaque, const uint8_t *packet, size_t len, bool first, bool last)
{
	cam_pipeline *p = opaque;
	if(p->npackets == p->packets_cap) {
		int cap = p->packets_cap ? p->packets_cap * 2 : 64;
		cam_packet *packets = realloc(p->packets, (size_t)cap * sizeof(*packets));
		size_t *offsets = realloc(p->offsets, (size_t)cap * sizeof(*offsets));
		if(packets)
			p->packets = packets;
		if(offsets)
			p->offsets = offsets;
		if(!packets || !offsets)
			return;
		p->packets_cap = cap;
	}
	if(p->buf_len + len > p->buf_cap) {
		size_t cap = p->buf_cap ? p->buf_cap * 2 : 256 * 1024;
		while(cap < p->buf_len + len)
			cap *= 2;
		uint8_t *buf = realloc(p->buf, cap);
		if(!buf)
			return;
		p->buf = buf;
		p->buf_cap = cap;
	}
	memcpy(p->buf + p->buf_len, packet, len);
	p->offsets[p->npackets] = p->buf_len;
	p->packets[p->npackets] = (cam_packet){.len = (uint16_t)len, .first = first, .last = last};
	p->npackets++;
	p->buf_len += len;
}

/* Packetizes one encoded frame once and hands it to every viewer.  Returns
 * how many viewers got it. */
static int send_frame(cam_pipeline *p, const cam_encoded_frame *ef)
{
	/* 90 kHz from the capture clock, so the RTP clock follows real time. */
	uint32_t ts = p->ts_base + (uint32_t)((uint64_t)ef->capture_us * 9 / 100);
	p->npackets = 0;
	p->buf_len = 0;
	int n = cam_rtp_vp8_packetize(&p->rtp, ef->data, ef->size, ts, emit_packet, p);
	if(n <= 0 || p->npackets != n) {
		CAM_ERR("packetizer failed on a %zu-byte frame (%d)", ef->size, n);
		return 0;
	}
	/* Pointers only now: the buffer may have moved while it grew. */
	for(int i = 0; i < n; i++)
		p->packets[i].data = p->buf + p->offsets[i];
	cam_fanout_frame frame = {.packets = p->packets, .count = n, .keyframe = ef->keyframe};
	return cam_fanout_deliver(p->fo, &frame);
}

static cam_encoder_config encoder_config_for(const cam_pipeline *p, const cam_frame *f)
{
	cam_encoder_config ec = p->cfg.encoder;
	ec.width = f->width;
	ec.height = f->height;
	ec.fps = p->src->fps;
	return ec;
}

static bool has_change(const cam_pipeline_change *c)
{
	return c->bitrate >= 0 || c->fps > 0 || c->keyframe_interval >= 0 || c->width > 0;
}

/* The settings in force, as a change record (for results). */
static cam_pipeline_change current_settings(const cam_pipeline *p)
{
	return (cam_pipeline_change){
		.bitrate = p->cfg.encoder.bitrate, .fps = p->src->fps,
		.keyframe_interval = p->cfg.encoder.keyframe_interval,
		.width = p->src->width, .height = p->src->height,
	};
}

static int refuse(cam_pipeline_result *r, int code, const char *why)
{
	r->code = code;
	snprintf(r->error, sizeof(r->error), "%s", why);
	CAM_WARN("configure refused: %s", why);
	return code;
}

/* Changes the source's format, or leaves it as it was: a source that fails
 * at the new format is put back to the old one. */
static int change_format(cam_pipeline *p, int width, int height, int fps, cam_pipeline_result *r)
{
	int ow = p->src->width, oh = p->src->height, ofps = p->src->fps;
	if(width == ow && height == oh && fps == ofps)
		return 0;
	int rc = cam_source_set_format(p->src, width, height, fps);
	if(rc == 0) {
		CAM_INFO("format changed to %dx%d@%d", p->src->width, p->src->height, p->src->fps);
		return 0;
	}
	char why[160];
	snprintf(why, sizeof(why), "the %s source refused %dx%d@%d: %s", p->src->ops->kind, width, height, fps,
		strerror(-rc));
	if(cam_source_set_format(p->src, ow, oh, ofps) < 0)
		CAM_ERR("could not go back to %dx%d@%d either", ow, oh, ofps);
	r->source_failed = rc != -EINVAL;
	return refuse(r, rc, why);
}

/* Applies one configure change on the pipeline thread, without the lock (a
 * source may take a while to change its format): the encoder's check first,
 * then the source, then the encoder's rates; any refusal leaves every
 * setting as it was. */
static void apply_changes(cam_pipeline *p, const cam_pipeline_change *c, cam_pipeline_result *r)
{
	*r = (cam_pipeline_result){0};
	cam_encoder_config want = p->cfg.encoder;
	if(c->bitrate >= 0)
		want.bitrate = c->bitrate;
	if(c->keyframe_interval >= 0)
		want.keyframe_interval = c->keyframe_interval;
	want.width = c->width > 0 ? c->width : p->src->width;
	want.height = c->height > 0 ? c->height : p->src->height;
	want.fps = c->fps > 0 ? c->fps : p->src->fps;
	int ow = p->src->width, oh = p->src->height, ofps = p->src->fps;
	char why[128] = "";
	if(cam_encoder_check_config(&want, why, sizeof(why)) < 0) {
		refuse(r, -EINVAL, why);
	} else if(change_format(p, want.width, want.height, want.fps, r) == 0) {
		cam_encoder_config old = p->cfg.encoder;
		p->cfg.encoder.bitrate = want.bitrate;
		p->cfg.encoder.keyframe_interval = want.keyframe_interval;
		p->cfg.encoder.fps = p->src->fps;
		if(p->enc) {
			/* A size change is noticed on the next frame (encode_and_send). */
			cam_encoder_config ec = *cam_encoder_get_config(p->enc);
			ec.bitrate = want.bitrate;
			ec.keyframe_interval = want.keyframe_interval;
			ec.fps = p->src->fps;
			int rc = cam_encoder_reconfigure(p->enc, &ec);
			if(rc < 0) {
				/* Back to the old format and rates, with a fresh encoder
				 * (made on the next frame). */
				p->cfg.encoder = old;
				bool moved = p->src->width != ow || p->src->height != oh || p->src->fps != ofps;
				if(moved && cam_source_set_format(p->src, ow, oh, ofps) < 0)
					CAM_ERR("could not go back to %dx%d@%d", ow, oh, ofps);
				cam_encoder_free(p->enc);
				p->enc = NULL;
				refuse(r, rc, "the encoder refused the new settings");
			}
		}
	}
	r->applied = current_settings(p);
	pthread_mutex_lock(&p->lock);
	p->status.bitrate = p->cfg.encoder.bitrate;
	p->status.keyframe_interval = p->cfg.encoder.keyframe_interval;
	p->status.width = p->src->width;
	p->status.height = p->src->height;
	p->status.fps = p->src->fps;
	pthread_mutex_unlock(&p->lock);
}

/* Takes a queued change, applies it and hands its result to the waiting
 * caller; pipeline thread, called with the lock held (released meanwhile). */
static void take_change(cam_pipeline *p)
{
	cam_pipeline_change change = p->pending;
	p->pending = CAM_PIPELINE_NO_CHANGE;
	p->change_taken = true;
	pthread_mutex_unlock(&p->lock);
	cam_pipeline_result r;
	apply_changes(p, &change, &r);
	pthread_mutex_lock(&p->lock);
	p->result = r;
	p->change_done = true;
	pthread_cond_broadcast(&p->applied_cond);
	pthread_mutex_unlock(&p->lock);
}

/* Decides whether this frame must be a key frame: a restart, a viewer
 * waiting for its first one, or an explicit request; all coalesced into one
 * and spaced by keyframe_min_gap_ms. */
static bool want_keyframe(cam_pipeline *p, int64_t now_ms)
{
	if(p->restart_key || !p->enc)
		return true;
	pthread_mutex_lock(&p->lock);
	bool requested = p->key_requested;
	int gap = p->cfg.keyframe_min_gap_ms;
	pthread_mutex_unlock(&p->lock);
	if(!requested && cam_fanout_waiting(p->fo) == 0)
		return false;
	return p->last_key_ms < 0 || now_ms - p->last_key_ms >= gap;
}

/* The encoder could not be (re)made for this frame's size: say so (info,
 * the `source` event) and try again with back-off, from scratch. */
static void encoder_failed(cam_pipeline *p, const cam_encoder_config *want, const char *why, int64_t now)
{
	char reason[160];
	snprintf(reason, sizeof(reason), "encoder: cannot encode %dx%d@%d: %s", want->width, want->height,
		want->fps, why);
	cam_encoder_free(p->enc);
	p->enc = NULL;
	p->encoder_failed = true;
	p->encoder_retry_ms = now + p->encoder_delay_ms;
	p->encoder_delay_ms = p->encoder_delay_ms * 2 > REOPEN_MAX_MS ? REOPEN_MAX_MS : p->encoder_delay_ms * 2;
	set_state(p, CAM_SOURCE_ERROR, reason);
}

/* An encoder for this frame, made or re-made as needed; false when there
 * is none (failed now, or waiting before the next attempt). */
static bool ensure_encoder(cam_pipeline *p, const cam_frame *f, int64_t now)
{
	cam_encoder_config want = encoder_config_for(p, f);
	if(p->enc) {
		const cam_encoder_config *have = cam_encoder_get_config(p->enc);
		if(have->width == want.width && have->height == want.height && have->fps == want.fps)
			return true;
		int rc = cam_encoder_reconfigure(p->enc, &want);
		if(rc < 0) {
			encoder_failed(p, &want, strerror(-rc), now);
			return false;
		}
		p->restart_key = true;
		return true;
	}
	if(p->encoder_failed && now < p->encoder_retry_ms)
		return false;
	char err[160] = "";
	p->enc = cam_encoder_new(&want, err, sizeof(err));
	if(!p->enc) {
		encoder_failed(p, &want, err[0] ? err : "could not create the encoder", now);
		return false;
	}
	p->restart_key = true;
	if(p->encoder_failed) {
		CAM_INFO("encoder back at %dx%d@%d", want.width, want.height, want.fps);
		p->encoder_failed = false;
		p->encoder_delay_ms = REOPEN_MIN_MS;
		set_state(p, CAM_SOURCE_RUNNING, NULL);
	}
	return true;
}

static void encode_and_send(cam_pipeline *p, const cam_frame *f)
{
	int64_t now = monotonic_ms();
	if(!ensure_encoder(p, f, now))
		return;
	bool force = want_keyframe(p, now);
	cam_encoded_frame ef;
	int rc = cam_encoder_encode(p->enc, f, force, &ef);
	if(rc < 0) {
		CAM_ERR("encoding failed: %s", strerror(-rc));
		return;
	}
	if(ef.size == 0)
		return;
	if(ef.keyframe)
		p->restart_key = false;
	pthread_mutex_lock(&p->lock);
	if(ef.keyframe) {
		p->key_requested = false;
		p->status.keyframes++;
		if(force)
			p->status.forced_keyframes++;
	}
	p->status.frames++;
	p->status.bytes += ef.size;
	pthread_mutex_unlock(&p->lock);
	int served = send_frame(p, &ef);
	/* Only a key frame that someone got spaces the forced ones: the first
	 * frame of an on-demand start reaches nobody (the viewer that started it
	 * subscribes once its PeerConnection is up), and must not make that
	 * viewer wait keyframe_min_gap_ms for its own. */
	if(ef.keyframe && served > 0)
		p->last_key_ms = now;
}

static void close_source(cam_pipeline *p)
{
	if(p->src->is_open)
		cam_source_close(p->src);
}

/* Waits before the next attempt, doubling the delay up to REOPEN_MAX_MS;
 * returns early on stop or configuration changes. */
static void backoff(cam_pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	if(!p->stop)
		wait_ms(p, p->reopen_delay_ms);
	pthread_mutex_unlock(&p->lock);
	p->reopen_delay_ms = p->reopen_delay_ms * 2 > REOPEN_MAX_MS ? REOPEN_MAX_MS : p->reopen_delay_ms * 2;
}

/* The source could not be opened (prefix "cannot open ") or failed to
 * deliver: closed, ERROR with the reason (waiting snapshots get -ENODEV at
 * once), and a back-off before the next attempt, so that a source that
 * opens but cannot deliver does not spin. */
static void source_failed(cam_pipeline *p, const char *prefix, int rc)
{
	char reason[160];
	snprintf(reason, sizeof(reason), "%s%s: %s", prefix, source_name(p), strerror(-rc));
	close_source(p);
	pthread_mutex_lock(&p->lock);
	p->source_down = true;
	pthread_mutex_unlock(&p->lock);
	set_state(p, CAM_SOURCE_ERROR, reason);
	backoff(p);
}

/* Drops one reference to a batch; with the lock held.  Returns the batch
 * when that was the last one: the caller frees it after unlocking. */
static snap_batch *batch_unref(snap_batch *b)
{
	return --b->refs == 0 ? b : NULL;
}

static void batch_free(snap_batch *b)
{
	if(!b)
		return;
	cam_still_free(&b->still);
	free(b);
}

/* Copies the frame for the snapshot callers waiting for it, if any: a
 * memcpy of the planes (into a buffer the first caller sized), nothing
 * more on this thread. */
static void serve_snapshot(cam_pipeline *p, snap_batch *b, const cam_frame *f)
{
	int rc = cam_still_copy_frame(&b->still, f);
	pthread_mutex_lock(&p->lock);
	b->done = true;
	b->rc = rc;
	if(rc == 0)
		p->status.snapshot_copies++;
	pthread_cond_broadcast(&p->snap_cond);
	snap_batch *last = batch_unref(b);
	pthread_mutex_unlock(&p->lock);
	batch_free(last);
}

/* Counts a captured frame and takes the pending snapshot batch. */
static snap_batch *frame_captured(cam_pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	p->status.captured++;
	p->source_down = false;
	snap_batch *b = p->snap_pending;
	p->snap_pending = NULL;
	pthread_mutex_unlock(&p->lock);
	return b;
}

static void *pipeline_thread(void *arg)
{
	cam_pipeline *p = arg;
#ifdef __linux__
	pthread_setname_np(pthread_self(), "camera pipeline");
#endif
	for(;;) {
		pthread_mutex_lock(&p->lock);
		if(p->stop) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		bool active = !p->cfg.on_demand || p->holders > 0;
		if(has_change(&p->pending)) {
			take_change(p);
			continue;
		}
		if(!active) {
			if(p->src->is_open || p->status.state != CAM_SOURCE_IDLE) {
				p->source_down = false;
				pthread_mutex_unlock(&p->lock);
				close_source(p);
				set_state(p, CAM_SOURCE_IDLE, NULL);
				p->reopen_delay_ms = REOPEN_MIN_MS;
				continue;
			}
			wait_ms(p, 1000);
			pthread_mutex_unlock(&p->lock);
			continue;
		}
		pthread_mutex_unlock(&p->lock);

		if(!p->src->is_open) {
			int rc = cam_source_open(p->src);
			if(rc < 0) {
				source_failed(p, "cannot open ", rc);
				continue;
			}
			/* The back-off resets only once a frame has been read. */
			p->restart_key = true;
			pthread_mutex_lock(&p->lock);
			p->status.width = p->src->width;
			p->status.height = p->src->height;
			p->status.fps = p->src->fps;
			snprintf(p->status.native_format, sizeof(p->status.native_format), "%s",
				p->src->native_format);
			pthread_mutex_unlock(&p->lock);
			set_state(p, CAM_SOURCE_RUNNING, NULL);
		}

		cam_frame frame;
		int rc = cam_source_read(p->src, &frame, READ_TIMEOUT_MS);
		if(rc == -EAGAIN)
			continue;
		if(rc < 0) {
			source_failed(p, "", rc);
			continue;
		}
		p->reopen_delay_ms = REOPEN_MIN_MS;
		snap_batch *snap = frame_captured(p);
		if(snap)
			serve_snapshot(p, snap, &frame);
		encode_and_send(p, &frame);
	}
	close_source(p);
	return NULL;
}

int cam_pipeline_start(cam_pipeline *p)
{
	int rc = pthread_create(&p->thread, NULL, pipeline_thread, p);
	if(rc != 0)
		return -rc;
	p->thread_started = true;
	return 0;
}

/* Stops the thread and cancels waiting snapshots, then waits until every
 * snapshot caller is out (they must not touch the pipeline afterwards). */
static void stop_thread(cam_pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->wake);
	pthread_cond_broadcast(&p->applied_cond);
	pthread_cond_broadcast(&p->snap_cond);
	while(p->snap_callers > 0)
		pthread_cond_wait(&p->snap_cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	if(p->thread_started)
		pthread_join(p->thread, NULL);
}

void cam_pipeline_free(cam_pipeline *p)
{
	if(!p)
		return;
	stop_thread(p);
	batch_free(p->snap_pending);
	cam_encoder_free(p->enc);
	cam_source_free(p->src);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->applied_cond);
	pthread_cond_destroy(&p->snap_cond);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->configure_lock);
	free(p->buf);
	free(p->packets);
	free(p->offsets);
	free(p);
}

/* Adds delta (+1 or -1) to the holders; with the lock held. */
static void add_holder(cam_pipeline *p, int delta)
{
	if(delta > 0 || p->holders > 0)
		p->holders += delta;
	p->status.holders = p->holders;
	pthread_cond_broadcast(&p->wake);
}

void cam_pipeline_hold(cam_pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	add_holder(p, 1);
	pthread_mutex_unlock(&p->lock);
}

void cam_pipeline_release(cam_pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	add_holder(p, -1);
	pthread_mutex_unlock(&p->lock);
}

void cam_pipeline_request_keyframe(cam_pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	p->key_requested = true;
	pthread_mutex_unlock(&p->lock);
}

/* Waits on applied_cond until the taken change is done, or until the
 * deadline; with the lock held.  true when done. */
static bool wait_done(cam_pipeline *p, const struct timespec *deadline)
{
	while(!p->change_done) {
		if(pthread_cond_timedwait(&p->applied_cond, &p->lock, deadline) != 0)
			return p->change_done;
	}
	return true;
}

int cam_pipeline_configure(cam_pipeline *p, const cam_pipeline_change *c, int timeout_ms,
	cam_pipeline_result *result)
{
	pthread_mutex_lock(&p->configure_lock);
	pthread_mutex_lock(&p->lock);
	p->pending = *c;
	if(c->width <= 0 || c->height <= 0)
		p->pending.width = p->pending.height = -1;
	p->change_taken = p->change_done = false;
	pthread_cond_broadcast(&p->wake);
	struct timespec deadline = deadline_in(timeout_ms);
	bool done = wait_done(p, &deadline);
	/* Taken: a format change may take its time, but it ends (unless the
	 * pipeline is being stopped). */
	while(!done && p->change_taken && !p->stop) {
		deadline = deadline_in(1000);
		done = wait_done(p, &deadline);
	}
	if(done) {
		*result = p->result;
	} else {
		/* Never taken, or stopping: withdraw it, so that nothing changes
		 * later. */
		p->pending = CAM_PIPELINE_NO_CHANGE;
		*result = (cam_pipeline_result){.code = p->stop ? -ECANCELED : -ETIMEDOUT};
		snprintf(result->error, sizeof(result->error), p->stop ? "the pipeline is stopping" :
			"the pipeline did not take the change in time");
	}
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&p->configure_lock);
	return result->code;
}

void cam_pipeline_get_status(cam_pipeline *p, cam_pipeline_status *st)
{
	pthread_mutex_lock(&p->lock);
	*st = p->status;
	pthread_mutex_unlock(&p->lock);
}

/* A batch with room for a width x height frame, touched so that the
 * pipeline thread's copy takes no page faults; NULL when out of memory. */
static snap_batch *batch_new(int width, int height)
{
	snap_batch *b = calloc(1, sizeof(*b));
	if(!b || cam_still_reserve(&b->still, width, height) < 0) {
		free(b);
		return NULL;
	}
	memset(b->still.planes[0], 0, b->still.capacity);
	return b;
}

/* The pending batch, made if there is none, with a reference for the
 * caller; with the lock held (released while a new one is allocated).
 * NULL when out of memory. */
static snap_batch *join_batch(cam_pipeline *p)
{
	if(!p->snap_pending) {
		int w = p->status.width, h = p->status.height;
		pthread_mutex_unlock(&p->lock);
		snap_batch *fresh = batch_new(w, h);
		pthread_mutex_lock(&p->lock);
		if(!fresh)
			return NULL;
		if(p->snap_pending) {
			/* Another caller was quicker: share its batch. */
			pthread_mutex_unlock(&p->lock);
			batch_free(fresh);
			pthread_mutex_lock(&p->lock);
		} else {
			fresh->refs = 1;    /* the pipeline's, until it has filled it */
			p->snap_pending = fresh;
		}
	}
	p->snap_pending->refs++;
	return p->snap_pending;
}

/* Waits until the batch is filled, the source fails, the pipeline stops or
 * the deadline passes; with the lock held. */
static int wait_batch(cam_pipeline *p, snap_batch *b, int timeout_ms)
{
	struct timespec deadline = deadline_in(timeout_ms);
	while(!b->done) {
		if(p->stop)
			return -ECANCELED;
		if(p->source_down)
			return -ENODEV;
		if(pthread_cond_timedwait(&p->snap_cond, &p->lock, &deadline) == ETIMEDOUT && !b->done)
			return p->stop ? -ECANCELED : (p->source_down ? -ENODEV : -ETIMEDOUT);
	}
	return b->rc;
}

/* Gives the filled batch's picture to out (moved when no other caller
 * shares the batch, else copied) and drops the caller's reference; called
 * without the lock.  A batch given up on is withdrawn when nobody else
 * waits for it. */
static int leave_batch(cam_pipeline *p, snap_batch *b, int rc, cam_still *out)
{
	if(rc == 0) {
		pthread_mutex_lock(&p->lock);
		/* Once filled, nobody joins a batch any more: alone stays alone. */
		bool alone = b->refs == 1;
		pthread_mutex_unlock(&p->lock);
		if(alone) {
			cam_still old = *out;
			*out = b->still;
			b->still = CAM_STILL_INIT;
			cam_still_free(&old);
		} else {
			rc = cam_still_copy(out, &b->still);
		}
	}
	pthread_mutex_lock(&p->lock);
	snap_batch *last = batch_unref(b);
	if(!last && p->snap_pending == b && b->refs == 1) {
		p->snap_pending = NULL;
		last = batch_unref(b);
	}
	pthread_mutex_unlock(&p->lock);
	batch_free(last);
	return rc;
}

int cam_pipeline_snapshot(cam_pipeline *p, int timeout_ms, cam_still *out)
{
	if(!p || !out || timeout_ms < 0)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	if(p->stop || p->source_down) {
		int rc = p->stop ? -ECANCELED : -ENODEV;
		pthread_mutex_unlock(&p->lock);
		return rc;
	}
	p->snap_callers++;
	p->status.snapshot_callers = p->snap_callers;
	bool hold = p->cfg.on_demand;
	if(hold)
		add_holder(p, 1);
	snap_batch *b = join_batch(p);
	int rc = b ? wait_batch(p, b, timeout_ms) : -ENOMEM;
	if(hold)
		add_holder(p, -1);
	pthread_mutex_unlock(&p->lock);
	if(b)
		rc = leave_batch(p, b, rc, out);
	pthread_mutex_lock(&p->lock);
	p->snap_callers--;
	p->status.snapshot_callers = p->snap_callers;
	if(p->stop)
		pthread_cond_broadcast(&p->snap_cond);
	pthread_mutex_unlock(&p->lock);
	return rc;
}
