/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * janus.plugin.camera: cameras (or test patterns), each encoded once with
 * VP8 and sent to every viewer of it.
 *
 * This is the only file that knows the Janus plugin API.  Everything else
 * (config, request validation, the cameras with their source, encoder,
 * packetizer and fan-out, control) is Janus-free and unit-tested on its own.  The API it serves is
 * documented in README.md and shared/api.md.
 *
 * Threads and locks:
 * - handle_message runs on Janus's task pool.  Synchronous requests (info,
 *   keyframe, list, configure, kick, ...) are answered there; watch, start
 *   and stop go to the viewer's own queue, because pushing an offer blocks
 *   while ICE candidates are gathered.  Each viewer's queue (its requests,
 *   kicks and liveness drops, in order; at most CAMERA_QUEUE_MAX requests)
 *   is drained by one worker of an unbounded pool at a time (workq.h): one
 *   viewer's steps never run concurrently, different viewers' run in
 *   parallel, so one slow gathering delays nobody else.
 * - The watchdog thread checks every viewer's liveness every
 *   WATCHDOG_PERIOD_MS and queues a drop for the silent and the unanswered.
 * - setup_media, hangup_media, incoming_rtcp and destroy_session run on the
 *   handle's loop thread and never block for more than a fan-out removal,
 *   except that a leaving controller announces its successor from there
 *   (the control module serialises controller changes under its notify
 *   lock, and the announcement is a push_event to each watcher).
 * - Each camera's pipeline thread captures, encodes and calls fanout_send()
 *   for each of its viewers; relay_rtp only copies into the handle's queue.
 * Lock order: the control module's notify lock (held while on_controller
 * runs), then source_mutex, then admit_mutex, then sessions_mutex, then a session's mutex,
 * then the fan-out's lock (taken inside cam_fanout_*).  The work queues'
 * lock (inside cam_workq_*) is a leaf: nothing of ours is taken under it.
 * Never the other way round: nothing calls into control (take, release,
 * leave) with a plugin lock held.
 *
 * Lifetime: a session holds the table's reference from create_session until
 * destroy_session; every other use (a queued message, a scheduled worker,
 * the fan-out, event broadcasts) takes its own reference.  Dropping the
 * last one frees the session and releases the core's handle.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <plugins/plugin.h>
#include <config.h>
#include <debug.h>
#include <mutex.h>
#include <refcount.h>
#include <rtcp.h>
#include <rtp.h>
#include <sdp-utils.h>
#include <utils.h>

#include "bucket.h"
#include "cam_config.h"
#include "camera.h"
#include "control.h"
#include "fanout.h"
#include "liveness.h"
#include "log.h"
#include "pipeline.h"
#include "recording_janus.h"
#include "request.h"
#include "workq.h"

#define CAMERA_VERSION 1
#define CAMERA_VERSION_STRING "0.1.0"
#define CAMERA_DESCRIPTION "Cameras, each encoded once with VP8, sent to many viewers."
#define CAMERA_NAME "JANUS Camera plugin"
#define CAMERA_AUTHOR "janus-camera developers"
#define CAMERA_PACKAGE "janus.plugin.camera"
#define CAMERA_PT 96
#define CAMERA_VIDEO_MINDEX 0
/* How long a snapshot waits for a picture (a camera may take this long to
 * open), and its quality unless the request says. */
#define SNAPSHOT_TIMEOUT_MS 3000
#define SNAPSHOT_QUALITY 85
/* How long `configure` waits for the pipeline to take a change. */
#define CONFIGURE_TIMEOUT_MS 3000
/* The liveness check's period. */
#define WATCHDOG_PERIOD_MS 250
/* Requests one viewer may have waiting on its queue; more get 490. */
#define CAMERA_QUEUE_MAX 16

/* Plugin callbacks. */
static int camera_init(janus_callbacks *callback, const char *config_path);
static void camera_destroy(void);
static int camera_get_api_compatibility(void);
static int camera_get_version(void);
static const char *camera_get_version_string(void);
static const char *camera_get_description(void);
static const char *camera_get_name(void);
static const char *camera_get_author(void);
static const char *camera_get_package(void);
static void camera_create_session(janus_plugin_session *handle, int *error);
static struct janus_plugin_result *camera_handle_message(janus_plugin_session *handle,
	char *transaction, json_t *message, json_t *jsep);
static void camera_setup_media(janus_plugin_session *handle);
static void camera_incoming_rtp(janus_plugin_session *handle, janus_plugin_rtp *packet);
static void camera_incoming_rtcp(janus_plugin_session *handle, janus_plugin_rtcp *packet);
static void camera_incoming_data(janus_plugin_session *handle, janus_plugin_data *packet);
static void camera_hangup_media(janus_plugin_session *handle);
static void camera_destroy_session(janus_plugin_session *handle, int *error);
static json_t *camera_query_session(janus_plugin_session *handle);

static janus_plugin camera_plugin =
	JANUS_PLUGIN_INIT(
		.init = camera_init,
		.destroy = camera_destroy,
		.get_api_compatibility = camera_get_api_compatibility,
		.get_version = camera_get_version,
		.get_version_string = camera_get_version_string,
		.get_description = camera_get_description,
		.get_name = camera_get_name,
		.get_author = camera_get_author,
		.get_package = camera_get_package,
		.create_session = camera_create_session,
		.handle_message = camera_handle_message,
		.setup_media = camera_setup_media,
		.incoming_rtp = camera_incoming_rtp,
		.incoming_rtcp = camera_incoming_rtcp,
		.incoming_data = camera_incoming_data,
		.hangup_media = camera_hangup_media,
		.destroy_session = camera_destroy_session,
		.query_session = camera_query_session,
	);

__attribute__((visibility("default"))) janus_plugin *create(void);
janus_plugin *create(void)
{
	return &camera_plugin;
}

/* A viewer: one Janus handle. */
typedef enum viewer_state {
	VIEWER_IDLE,        /* attached, not watching */
	VIEWER_PREPARING,   /* offer sent */
	VIEWER_STARTED,     /* answer received */
} viewer_state;

typedef struct camera_session {
	janus_plugin_session *handle;
	uint64_t id;
	/* Guarded by mutex. */
	janus_mutex mutex;
	viewer_state state;
	int64_t since_ms;          /* unix ms of the last watch */
	bool media_ready;          /* PeerConnection up (setup_media) */
	/* The camera it watches (set by watch, cleared when it leaves; written
	 * under mutex, read without it on the RTCP path: cameras live as long
	 * as the plugin). */
	cam_camera *_Atomic cam;
	bool in_fanout;
	bool holding;              /* holds the camera (on_demand) */
	cam_bucket snapshots;      /* snapshot_rate */
	/* An offer went out and its PeerConnection has not been hung up yet.
	 * close_pc is deferred by the core (up to a second), so a new watch
	 * must wait for the old PeerConnection's hangup_media, or that hangup
	 * would tear down the new one. */
	bool pc_alive;
	bool offering;             /* an offer is being pushed (ICE gathering) */
	unsigned hangups;          /* hangup_media calls so far */
	unsigned source_seen;      /* the last source event it got (source_mutex) */
	unsigned offer_hangups;    /* ... when the offer being pushed was made */
	cam_workq_queue queue;     /* its camera_message steps, run in order */
	cam_liveness clock;        /* its last sign of life and its offer (liveness.h) */
	unsigned watch_gen;        /* counts watches, so a drop hits only its own */
	bool drop_queued;
	cam_drop_reason due_reason;   /* why, while drop_queued */
	volatile gint hangingup;
	volatile gint destroyed;
	janus_refcount ref;
} camera_session;

typedef enum message_kind {
	MESSAGE_REQUEST,           /* watch, start or stop from the viewer */
	MESSAGE_KICK,              /* an admin's kick of this viewer */
	MESSAGE_DROP,              /* the watchdog's: silent or unanswered */
} message_kind;

/* One step for a viewer's queue; holds a reference to its session. */
typedef struct camera_message {
	camera_session *session;
	message_kind kind;
	cam_drop_reason reason;    /* MESSAGE_DROP */
	unsigned watch_gen;        /* MESSAGE_DROP: the watch it is about */
	char *transaction;
	json_t *message;
	json_t *jsep;
} camera_message;

static volatile gint initialized, stopping;
static volatile gint in_flight;         /* handle_message calls running */
static janus_callbacks *gateway;
static cam_config config;
static cam_workq workers = CAM_WORKQ_INIT; /* drains the viewers' queues */
static janus_mutex admit_mutex = JANUS_MUTEX_INITIALIZER;   /* counting + admitting a watch */
static cam_ticker watchdog;              /* runs check_liveness() */
static GHashTable *sessions;            /* janus_plugin_session* -> camera_session* */
static GHashTable *sessions_by_id;      /* uint64 id -> camera_session* (no reference) */
static janus_mutex sessions_mutex = JANUS_MUTEX_INITIALIZER;
/* The cameras, in the configuration's order; fixed from init to destroy. */
static cam_cameras cams;
static cam_control *control;
static volatile gint sdp_version;
/* Source events sent so far per camera, and who got which
 * (camera_session.source_seen). */
static janus_mutex source_mutex = JANUS_MUTEX_INITIALIZER;
static unsigned source_gen[CAM_MAX_CAMERAS];

static void session_free(const janus_refcount *ref)
{
	camera_session *session = janus_refcount_containerof(ref, camera_session, ref);
	/* Release the core's handle, which it referenced on our behalf. */
	janus_refcount_decrease(&session->handle->ref);
	janus_mutex_destroy(&session->mutex);
	g_free(session);
}

static void session_destroy(camera_session *session)
{
	if(session && g_atomic_int_compare_and_exchange(&session->destroyed, 0, 1))
		janus_refcount_decrease(&session->ref);
}

/* Takes a reference on a session found under sessions_mutex, unless it is
 * being destroyed; NULL then (or when there was none). */
static camera_session *ref_if_alive(camera_session *session)
{
	if(!session || g_atomic_int_get(&session->destroyed))
		return NULL;
	janus_refcount_increase(&session->ref);
	return session;
}

/* Looks a session up and takes a reference; NULL when gone. */
static camera_session *session_get(janus_plugin_session *handle)
{
	janus_mutex_lock(&sessions_mutex);
	camera_session *session = g_hash_table_contains(sessions, handle) ?
		ref_if_alive(handle->plugin_handle) : NULL;
	janus_mutex_unlock(&sessions_mutex);
	return session;
}

/* Looks a viewer up by id and takes a reference; NULL when gone. */
static camera_session *session_by_id(uint64_t id)
{
	janus_mutex_lock(&sessions_mutex);
	camera_session *session = ref_if_alive(g_hash_table_lookup(sessions_by_id, &id));
	janus_mutex_unlock(&sessions_mutex);
	return session;
}

static void message_free(camera_message *msg)
{
	if(!msg)
		return;
	janus_refcount_decrease(&msg->session->ref);
	g_free(msg->transaction);
	if(msg->message)
		json_decref(msg->message);
	if(msg->jsep)
		json_decref(msg->jsep);
	g_free(msg);
}

static int64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t monotonic_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

static bool plugin_ready(void)
{
	return g_atomic_int_get(&initialized) && !g_atomic_int_get(&stopping);
}

/* Log sink for the Janus-free modules. */
static void janus_log_sink(int level, const char *msg)
{
	JANUS_LOG(level, "[camera] %s", msg);
}

static bool events_on(void)
{
	return config.events && gateway->events_is_enabled();
}

/* Janus event handlers, when configured and enabled (cam and reason may be
 * NULL). */
static void notify(camera_session *session, cam_camera *cam, const char *event, const char *reason)
{
	if(!events_on())
		return;
	json_t *info = json_pack("{sssI}", "event", event, "id", (json_int_t)session->id);
	if(cam)
		json_object_set_new(info, "camera", json_string(cam_camera_id(cam)));
	if(reason)
		json_object_set_new(info, "reason", json_string(reason));
	gateway->notify_event(&camera_plugin, session->handle, info);
}

static json_t *id_or_null(uint64_t id)
{
	return id ? json_integer((json_int_t)id) : json_null();
}

/* Fan-out: sends one frame's packets to one viewer (pipeline thread). */
static void fanout_send(void *viewer, const cam_fanout_frame *frame, void *opaque)
{
	camera_session *session = viewer;
	janus_plugin_session *handle = session->handle;
	if(g_atomic_int_get(&handle->stopped) || g_atomic_int_get(&session->destroyed))
		return;
	for(int i = 0; i < frame->count; i++) {
		const cam_packet *p = &frame->packets[i];
		janus_plugin_rtp rtp = {
			.mindex = CAMERA_VIDEO_MINDEX,
			.video = TRUE,
			/* relay_rtp copies the packet before queueing it and does not
			 * write to it, so all viewers share one buffer. */
			.buffer = (char *)p->data,
			.length = p->len,
		};
		janus_plugin_rtp_extensions_reset(&rtp.extensions);
		if(p->first) {
			/* playout-delay 0/0: render at once, no extra jitter buffer. */
			rtp.extensions.min_delay = 0;
			rtp.extensions.max_delay = 0;
		}
		gateway->relay_rtp(handle, &rtp);
	}
}

/* Subscribes a viewer once it has both answered and connected.  Called with
 * the session's mutex held. */
static void maybe_subscribe(camera_session *session)
{
	if(session->state != VIEWER_STARTED || !session->media_ready || session->in_fanout)
		return;
	janus_refcount_increase(&session->ref);     /* the fan-out's */
	if(cam_camera_subscribe(session->cam, session)) {
		session->in_fanout = true;
		JANUS_LOG(LOG_INFO, "[camera] viewer %" PRIu64 " subscribed to %s\n", session->id,
			cam_camera_id(session->cam));
		notify(session, session->cam, "started", NULL);
	} else {
		janus_refcount_decrease(&session->ref);
	}
}

/* Undoes watch: unsubscribes, releases the pipeline, back to idle.  Called
 * with the session's mutex held; the caller then releases control (see
 * leave_all), which must happen without any lock held. */
static void leave(camera_session *session)
{
	cam_camera *cam = session->cam;
	if(session->in_fanout) {
		cam_camera_unsubscribe(cam, session);
		session->in_fanout = false;
		janus_refcount_decrease(&session->ref);
	}
	if(session->holding) {
		cam_camera_release(cam);
		session->holding = false;
	}
	if(session->state != VIEWER_IDLE) {
		JANUS_LOG(LOG_INFO, "[camera] viewer %" PRIu64 " left\n", session->id);
		notify(session, cam, "left", NULL);
	}
	session->state = VIEWER_IDLE;
	session->media_ready = false;
	session->cam = NULL;
}

/* Leaves and gives up control; no lock held. */
static void leave_all(camera_session *session, const char *reason)
{
	janus_mutex_lock(&session->mutex);
	leave(session);
	janus_mutex_unlock(&session->mutex);
	if(control)
		cam_control_viewer_left(control, session->id, reason);
}

/* sessions_where() tests: watching cam (any camera for NULL); connected. */
static bool watches(camera_session *session, const void *cam)
{
	janus_mutex_lock(&session->mutex);
	bool watching = session->state != VIEWER_IDLE && (!cam || session->cam == cam);
	janus_mutex_unlock(&session->mutex);
	return watching;
}

static bool is_connected(camera_session *session, const void *unused)
{
	janus_mutex_lock(&session->mutex);
	bool connected = session->media_ready;
	janus_mutex_unlock(&session->mutex);
	return connected;
}

/* The live sessions for which keep(session, ctx) holds, each with a
 * reference taken, so that the caller can use them without sessions_mutex;
 * sessions_unref() gives them back. */
static GPtrArray *sessions_where(bool (*keep)(camera_session *, const void *), const void *ctx)
{
	GPtrArray *list = g_ptr_array_new();
	janus_mutex_lock(&sessions_mutex);
	GHashTableIter iter;
	gpointer value;
	g_hash_table_iter_init(&iter, sessions);
	while(g_hash_table_iter_next(&iter, NULL, &value)) {
		camera_session *session = value;
		if(g_atomic_int_get(&session->destroyed) || !keep(session, ctx))
			continue;
		g_ptr_array_add(list, ref_if_alive(session));
	}
	janus_mutex_unlock(&sessions_mutex);
	return list;
}

static void sessions_unref(GPtrArray *list)
{
	for(guint i = 0; i < list->len; i++) {
		camera_session *session = g_ptr_array_index(list, i);
		janus_refcount_decrease(&session->ref);
	}
	g_ptr_array_free(list, TRUE);
}

/* Viewers watching cam (all cameras for NULL). */
static int count_watchers(const cam_camera *cam)
{
	GPtrArray *watching = sessions_where(watches, cam);
	int n = (int)watching->len;
	sessions_unref(watching);
	return n;
}

/* Sends an event to every viewer that is watching (any thread but the
 * handle loops: push_event may take a moment). */
static void push_all(GPtrArray *targets, json_t *event)
{
	for(guint i = 0; i < targets->len; i++) {
		camera_session *session = g_ptr_array_index(targets, i);
		gateway->push_event(session->handle, &camera_plugin, NULL, event, NULL);
	}
	sessions_unref(targets);
}

static void broadcast(json_t *event)
{
	push_all(sessions_where(watches, NULL), event);
}

/* The `source` event. */
static json_t *source_event(const cam_camera *cam, cam_source_state state, const char *error)
{
	return json_pack("{ss s{ssssssso}}", "camera", "event", "result",
		"event", "source", "camera", cam_camera_id(cam), "state", cam_source_state_name(state),
		"error", cam_json_text(error));
}

/* A camera's source failed or came back: its viewers get a `source` event
 * (its pipeline thread). */
static void on_source_event(void *opaque, cam_camera *cam, cam_source_state state, const char *error)
{
	if(!plugin_ready())
		return;
	json_t *event = source_event(cam, state, error);
	/* Who gets this event is noted, so that tell_if_source_down() does not
	 * tell a joining viewer twice. */
	int i = cam_camera_index(cam);
	janus_mutex_lock(&source_mutex);
	source_gen[i]++;
	GPtrArray *targets = sessions_where(watches, cam);
	for(guint k = 0; k < targets->len; k++)
		((camera_session *)g_ptr_array_index(targets, k))->source_seen = source_gen[i];
	janus_mutex_unlock(&source_mutex);
	push_all(targets, event);
	json_decref(event);
}

/* The `recording` event to a camera's viewers and the event handlers:
 * started, stopped, or error (file and reason may be NULL). */
static void recording_event(cam_camera *cam, const char *state, const char *file, const char *error)
{
	json_t *event = json_pack("{ss s{sssssssoso}}", "camera", "event", "result", "event", "recording",
		"camera", cam_camera_id(cam), "state", state,
		"file", cam_json_text(file), "error", cam_json_text(error));
	if(events_on())
		gateway->notify_event(&camera_plugin, NULL, json_deep_copy(json_object_get(event, "result")));
	push_all(sessions_where(watches, cam), event);
	json_decref(event);
}

/* A recording stopped by a write error (its writer thread). */
static void on_recording_error(void *opaque, cam_camera *cam, const char *file, const char *error)
{
	if(plugin_ready())
		recording_event(cam, "error", file, error);
}

/* The recordings that `record = true` started, for the event handlers. */
static void announce_recordings(void)
{
	for(int i = 0; i < cams.count; i++) {
		cam_recording_status st;
		cam_camera_recording_status(cams.list[i], &st);
		if(st.active)
			recording_event(cams.list[i], "started", st.file, NULL);
	}
}

/* `record` and `stop_record`. */
static json_t *record(cam_camera *cam, bool start)
{
	cam_recording_status st;
	char err[256] = "";
	int code = cam_camera_record(cam, start, &st, err, sizeof(err));
	int level = code ? LOG_WARN : LOG_INFO;
	JANUS_LOG(level, "[camera] %s %s: %s\n", start ? "record" : "stop_record",
		cam_camera_id(cam), code ? err : st.file);
	if(code)
		return cam_error_json(code, err);
	recording_event(cam, start ? "started" : "stopped", st.file, NULL);
	if(start)
		return json_pack("{ssso}", "camera", "ok", "file", cam_json_text(st.file));
	return json_pack("{sssosIsI}", "camera", "ok", "file", cam_json_text(st.file), "bytes", (json_int_t)st.bytes,
		"frames", (json_int_t)st.frames);
}

/* A viewer that starts watching while the source is down hears so at once
 * (its picture comes when the source is back), not only from `info`. */
static void tell_if_source_down(camera_session *session)
{
	cam_camera *cam = session->cam;
	if(!cam)
		return;
	cam_pipeline_status st;
	int i = cam_camera_index(cam);
	janus_mutex_lock(&source_mutex);
	cam_camera_status(cam, &st);
	bool tell = st.state == CAM_SOURCE_ERROR && session->source_seen != source_gen[i];
	session->source_seen = source_gen[i];
	janus_mutex_unlock(&source_mutex);
	if(!tell)
		return;
	json_t *event = source_event(cam, st.state, st.error);
	gateway->push_event(session->handle, &camera_plugin, NULL, event, NULL);
	json_decref(event);
}

/* Control changed hands: every viewer, and the event handlers, hear of it.
 * Called by the control module without its locks, from the thread that
 * changed it (never with sessions_mutex held: see leave_all). */
static void on_controller(void *opaque, uint64_t controller, uint64_t previous, const char *reason)
{
	JANUS_LOG(LOG_INFO, "[camera] controller: %" PRIu64 " (was %" PRIu64 ", %s)\n", controller, previous, reason);
	json_t *event = json_pack("{ss s{sssoss}}", "camera", "event", "result",
		"event", "controller", "controller", id_or_null(controller), "reason", reason);
	broadcast(event);
	json_decref(event);
	if(events_on()) {
		json_t *info = json_pack("{sssososs}", "event", "controller", "controller", id_or_null(controller),
			"previous", id_or_null(previous), "reason", reason);
		gateway->notify_event(&camera_plugin, NULL, info);
	}
}

/* Relays one text frame on a viewer's data channel. */
static void relay_text(camera_session *session, const char *text, size_t len)
{
	janus_plugin_data data = {
		.label = (char *)"control", .protocol = NULL, .binary = FALSE,
		.buffer = (char *)text, .length = (uint16_t)len,
	};
	gateway->relay_data(session->handle, &data);
}

/* Relays telemetry to a viewer within its telemetry_rate (the excess is
 * dropped and counted by the control module). */
static void relay_telemetry(camera_session *session, const char *text, size_t len)
{
	if(cam_control_telemetry_admit(control, session->id))
		relay_text(session, text, len);
}

/* Telemetry from the device program (control thread): to one viewer, or to
 * every viewer whose PeerConnection is up.  Returns how many it was for. */
static int on_telemetry(void *opaque, uint64_t viewer, const char *text, size_t len)
{
	if(viewer) {
		camera_session *session = session_by_id(viewer);
		bool up = session && is_connected(session, NULL);
		if(up)
			relay_telemetry(session, text, len);
		if(session)
			janus_refcount_decrease(&session->ref);
		return up;
	}
	GPtrArray *targets = sessions_where(is_connected, NULL);
	for(guint i = 0; i < targets->len; i++)
		relay_telemetry(g_ptr_array_index(targets, i), text, len);
	int n = (int)targets->len;
	sessions_unref(targets);
	return n;
}

/* The `info` answer: the camera's own part (camera.h), then the plugin's
 * (control). */
static json_t *info_json(cam_camera *cam)
{
	json_t *info = cam_camera_info_json(cam, count_watchers(cam));
	json_object_set_new(info, "camera", json_string("info"));
	json_object_set_new(info, "control", json_string(cam_control_policy_name(config.control)));
	json_object_set_new(info, "controller", id_or_null(control ? cam_control_controller(control) : 0));
	if(control)
		json_object_set_new(info, "control_stats", cam_control_stats_json(control));
	return info;
}

/* The `cameras` answer: what anyone may know of every camera. */
static json_t *cameras_json(void)
{
	json_t *list = json_array();
	for(int i = 0; i < cams.count; i++)
		json_array_append_new(list, cam_camera_summary_json(cams.list[i], count_watchers(cams.list[i])));
	return json_pack("{ssso}", "camera", "cameras", "cameras", list);
}

/* The `list` answer: the viewers of cam, or of every camera for NULL. */
static json_t *list_json(const cam_camera *cam)
{
	json_t *list = json_array();
	uint64_t controller = cam_control_controller(control);
	int64_t now = monotonic_ms();
	janus_mutex_lock(&sessions_mutex);
	GHashTableIter iter;
	gpointer value;
	g_hash_table_iter_init(&iter, sessions);
	while(g_hash_table_iter_next(&iter, NULL, &value)) {
		camera_session *session = value;
		janus_mutex_lock(&session->mutex);
		if(session->state != VIEWER_IDLE && (!cam || session->cam == cam)) {
			json_array_append_new(list, json_pack("{sIsssIsbsssI}",
				"id", (json_int_t)session->id,
				"camera", cam_camera_id(session->cam),
				"since", (json_int_t)session->since_ms,
				"controller", session->id == controller,
				"state", session->state == VIEWER_STARTED ? "started" : "preparing",
				"silent_ms", (json_int_t)cam_liveness_silent_ms(&session->clock, session->state == VIEWER_STARTED, now)));
		}
		janus_mutex_unlock(&session->mutex);
	}
	janus_mutex_unlock(&sessions_mutex);
	return json_pack("{ssso}", "camera", "list", "viewers", list);
}

static json_t *ok_json(void)
{
	return json_pack("{ss}", "camera", "ok");
}

/* A message for a viewer's queue; takes over the caller's reference to
 * the session. */
static camera_message *message_new(camera_session *session, message_kind kind)
{
	camera_message *msg = g_malloc0(sizeof(camera_message));
	msg->session = session;
	msg->kind = kind;
	return msg;
}

/* Appends a message to its viewer's queue; takes over msg.  Once the
 * plugin stops, the message is dropped. */
static void enqueue(camera_message *msg)
{
	if(!cam_workq_push(&workers, &msg->session->queue, msg))
		message_free(msg);
}

/* `kick`: queued to the viewer's own queue, so that it cannot interleave
 * with that viewer's watch. */
static int kick(uint64_t id, const cam_camera *cam, char *err, size_t errlen)
{
	camera_session *session = session_by_id(id);   /* its reference goes with the message */
	if(!session)
		return cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "no viewer with id %" PRIu64, id);
	if(cam && !watches(session, cam)) {
		janus_refcount_decrease(&session->ref);
		return cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "viewer %" PRIu64 " is not watching \"%s\"",
			id, cam_camera_id(cam));
	}
	enqueue(message_new(session, MESSAGE_KICK));
	return 0;
}

/* Removes a viewer for good: it gets `event`, leaves (giving up control
 * with `reason`), and its PeerConnection is closed.  On its queue. */
static void throw_out(camera_session *session, json_t *event, const char *reason)
{
	gateway->push_event(session->handle, &camera_plugin, NULL, event, NULL);
	json_decref(event);
	leave_all(session, reason);
	gateway->close_pc(session->handle);
}

/* Carries out a kick, on the viewer's queue. */
static void do_kick(camera_session *session)
{
	janus_mutex_lock(&session->mutex);
	cam_camera *cam = session->state != VIEWER_IDLE ? session->cam : NULL;
	janus_mutex_unlock(&session->mutex);
	if(!cam)
		return;
	cam_camera_count_drop(cam, CAM_CAMERA_DROP_KICKED);
	notify(session, cam, "kicked", NULL);
	throw_out(session, json_pack("{ss s{ss}}", "camera", "event", "result", "event", "kicked"), "kicked");
	JANUS_LOG(LOG_INFO, "[camera] viewer %" PRIu64 " kicked\n", session->id);
}

/* `configure`: applied by the pipeline before the answer, which says what
 * is in force now (a camera may pick the nearest size or rate); a refused
 * change changes nothing. */
static json_t *configure(cam_camera *cam, const cam_request *req)
{
	cam_pipeline_change change = {
		.bitrate = req->bitrate, .fps = req->fps, .keyframe_interval = req->keyframe_interval,
		.width = req->width, .height = req->height,
	};
	cam_pipeline_result r;
	int rc = cam_camera_configure(cam, &change, CONFIGURE_TIMEOUT_MS, &r);
	int level = rc ? LOG_WARN : LOG_INFO;
	JANUS_LOG(level, "[camera] configure %s: bitrate %d, fps %d, keyframe_interval %d, size %dx%d: %s\n",
		cam_camera_id(cam), req->bitrate, req->fps, req->keyframe_interval, req->width, req->height,
		rc ? r.error : "applied");
	if(rc == -EINVAL)
		return cam_error_json(CAM_ERROR_INVALID_ELEMENT, r.error);
	if(rc < 0)
		return cam_error_json(r.source_failed ? CAM_ERROR_SOURCE_UNAVAILABLE : CAM_ERROR_INTERNAL, r.error);
	const cam_pipeline_change *a = &r.applied;
	return json_pack("{sss{sisisisisi}}", "camera", "ok", "applied", "bitrate", a->bitrate, "fps", a->fps,
		"keyframe_interval", a->keyframe_interval, "width", a->width, "height", a->height);
}

/* `snapshot`: a JPEG of the camera's next picture, within the handle's
 * snapshot_rate. */
static json_t *snapshot(camera_session *session, cam_camera *cam, const cam_request *req)
{
	janus_mutex_lock(&session->mutex);
	bool admitted = cam_bucket_take(&session->snapshots, config.snapshot_rate, config.snapshot_rate,
		g_get_monotonic_time());
	janus_mutex_unlock(&session->mutex);
	if(!admitted)
		return cam_error_json(CAM_ERROR_RATE_LIMITED, "snapshot: more than snapshot_rate per second");
	char err[256] = "";
	cam_jpeg jpeg = {0};
	int64_t captured = 0;
	int code = cam_camera_snapshot(cam, req->width > 0 ? req->width : 0,
		req->quality > 0 ? req->quality : SNAPSHOT_QUALITY, SNAPSHOT_TIMEOUT_MS, &jpeg, &captured, err, sizeof(err));
	if(code)
		return cam_error_json(code, err);
	gchar *data = g_base64_encode(jpeg.data, jpeg.size);
	json_t *reply = json_pack("{sssssssisisIsIss}", "camera", "snapshot", "id", cam_camera_id(cam),
		"format", "jpeg", "width", jpeg.width, "height", jpeg.height, "captured", (json_int_t)captured,
		"bytes", (json_int_t)jpeg.size, "data", data);
	g_free(data);
	cam_jpeg_free(&jpeg);
	return reply;
}

/* Whether the watchdog should drop this viewer now (session mutex held). */
static cam_drop_reason due_drop(camera_session *session, int64_t now)
{
	cam_liveness_limits limits = {config.liveness_ms, config.prepare_timeout_ms};
	return cam_liveness_due(&session->clock, &limits, session->state == VIEWER_STARTED,
		session->state == VIEWER_PREPARING, now);
}

/* Carries out the watchdog's drop, on the viewer's queue, if it still
 * holds: a `start` or a packet may have come in meanwhile. */
static void do_drop(camera_session *session, cam_drop_reason reason, unsigned watch_gen)
{
	int64_t now = monotonic_ms();
	janus_mutex_lock(&session->mutex);
	session->drop_queued = false;
	bool due = session->watch_gen == watch_gen && due_drop(session, now) == reason;
	int64_t since = cam_liveness_since(&session->clock, reason);
	cam_camera *cam = session->cam;
	janus_mutex_unlock(&session->mutex);
	if(!due)
		return;
	const char *name = cam_drop_reason_name(reason);
	cam_camera_count_drop(cam, reason == CAM_DROP_SILENT ? CAM_CAMERA_DROP_SILENT : CAM_CAMERA_DROP_UNANSWERED);
	notify(session, cam, "dropped", name);
	throw_out(session, json_pack("{ss s{ssss}}", "camera", "event", "result",
		"event", "dropped", "reason", name), "timeout");
	JANUS_LOG(LOG_INFO, "[camera] viewer %" PRIu64 " dropped: %s for %" PRId64 " ms\n", session->id,
		cam_drop_reason_text(reason), now - since);
}

/* The watchdog's test for sessions_where(): whether the viewer is due for
 * a drop not queued yet; if so, marks it queued and notes why. */
static bool mark_due(camera_session *session, const void *unused)
{
	janus_mutex_lock(&session->mutex);
	cam_drop_reason reason = session->drop_queued ? CAM_DROP_NONE : due_drop(session, monotonic_ms());
	if(reason != CAM_DROP_NONE) {
		session->drop_queued = true;
		session->due_reason = reason;
	}
	janus_mutex_unlock(&session->mutex);
	return reason != CAM_DROP_NONE;
}

/* The watchdog's round: queues a drop for every viewer that is due. */
static void check_liveness(void *unused)
{
	GPtrArray *due = sessions_where(mark_due, NULL);
	for(guint i = 0; i < due->len; i++) {
		camera_session *session = g_ptr_array_index(due, i);
		camera_message *msg = message_new(session, MESSAGE_DROP);   /* takes the list's reference */
		janus_mutex_lock(&session->mutex);
		msg->reason = session->due_reason;
		msg->watch_gen = session->watch_gen;
		janus_mutex_unlock(&session->mutex);
		enqueue(msg);
	}
	g_ptr_array_free(due, TRUE);
}

/* Answers a synchronous request; returns the reply. */
static json_t *handle_sync(camera_session *session, const cam_request *req)
{
	char err[256] = "";
	int code = 0;
	cam_camera *cam = cams.list[req->camera_index];
	cam_camera *named = req->camera ? cam : NULL;
	switch(req->kind) {
		case CAM_REQ_INFO:
			return info_json(cam);
		case CAM_REQ_CAMERAS:
			return cameras_json();
		case CAM_REQ_SNAPSHOT:
			return snapshot(session, cam, req);
		case CAM_REQ_RECORD:
		case CAM_REQ_STOP_RECORD:
			return record(cam, req->kind == CAM_REQ_RECORD);
		case CAM_REQ_KEYFRAME: {
			janus_mutex_lock(&session->mutex);
			cam_camera *watched = session->state != VIEWER_IDLE ? session->cam : NULL;
			janus_mutex_unlock(&session->mutex);
			if(!watched)
				return cam_error_json(CAM_ERROR_WRONG_STATE, "keyframe: not watching");
			cam_camera_keyframe(watched);
			return ok_json();
		}
		case CAM_REQ_LIST:
			return list_json(named);
		case CAM_REQ_CONFIGURE:
			return configure(cam, req);
		case CAM_REQ_KICK:
			code = kick(req->id, named, err, sizeof(err));
			return code ? cam_error_json(code, err) : ok_json();
		case CAM_REQ_TAKE_CONTROL:
		case CAM_REQ_RELEASE_CONTROL:
		case CAM_REQ_SEND: {
			janus_mutex_lock(&session->mutex);
			bool watching = session->state != VIEWER_IDLE;
			janus_mutex_unlock(&session->mutex);
			if(!watching)
				return cam_error_json(req->kind == CAM_REQ_TAKE_CONTROL ? CAM_ERROR_WRONG_STATE :
					CAM_ERROR_NOT_CONTROLLER, "watch first");
			if(req->kind == CAM_REQ_TAKE_CONTROL)
				code = cam_control_take(control, session->id, req->pin, req->admin_key, err, sizeof(err));
			else if(req->kind == CAM_REQ_RELEASE_CONTROL)
				code = cam_control_release(control, session->id, err, sizeof(err));
			else
				code = cam_control_send(control, session->id, req->data, err, sizeof(err));
			if(code)
				return cam_error_json(code, err);
			if(req->kind == CAM_REQ_SEND)
				return ok_json();
			return json_pack("{ssso}", "camera", "ok", "controller",
				id_or_null(cam_control_controller(control)));
		}
		default:
			return cam_error_json(CAM_ERROR_INTERNAL, "unexpected request");
	}
}

/* A refused request carried a JSEP, which the core has processed already:
 * if that built a PeerConnection we did not offer, close it, and let a new
 * watch wait for its hangup as after `stop`. */
static void close_foreign_pc(camera_session *session)
{
	janus_mutex_lock(&session->mutex);
	bool ours = session->pc_alive || session->offering;
	if(!ours)
		session->pc_alive = true;
	janus_mutex_unlock(&session->mutex);
	if(ours)
		return;
	JANUS_LOG(LOG_WARN, "[camera] viewer %" PRIu64 ": closing the PeerConnection a refused JSEP made\n",
		session->id);
	gateway->close_pc(session->handle);
}

/* Answers a JSEP that came where none is expected (484). */
static json_t *refuse_jsep(camera_session *session, const char *why)
{
	close_foreign_pc(session);
	return cam_error_json(CAM_ERROR_INVALID_ELEMENT, why);
}

/* Whether the viewer already has CAMERA_QUEUE_MAX steps waiting. */
static bool queue_full(camera_session *session)
{
	return cam_workq_waiting(&workers, &session->queue) >= CAMERA_QUEUE_MAX;
}

static struct janus_plugin_result *handle_message(janus_plugin_session *handle,
	char *transaction, json_t *message, json_t *jsep);

/* Counts the calls in progress, for camera_destroy. */
static struct janus_plugin_result *camera_handle_message(janus_plugin_session *handle,
	char *transaction, json_t *message, json_t *jsep)
{
	g_atomic_int_inc(&in_flight);
	struct janus_plugin_result *result = handle_message(handle, transaction, message, jsep);
	g_atomic_int_dec_and_test(&in_flight);
	return result;
}

static struct janus_plugin_result *handle_message(janus_plugin_session *handle,
	char *transaction, json_t *message, json_t *jsep)
{
	if(!plugin_ready()) {
		g_free(transaction);
		json_decref(message);
		json_decref(jsep);
		return janus_plugin_result_new(JANUS_PLUGIN_ERROR,
			g_atomic_int_get(&stopping) ? "Shutting down" : "Plugin not initialized", NULL);
	}
	camera_session *session = session_get(handle);
	if(!session) {
		g_free(transaction);
		json_decref(message);
		json_decref(jsep);
		return janus_plugin_result_new(JANUS_PLUGIN_ERROR, "No session associated with this handle", NULL);
	}
	cam_request req;
	char err[256] = "";
	json_t *reply = NULL;
	int code = cam_request_parse_authorized(message, &config, &req, err, sizeof(err));
	if(code) {
		if(jsep)
			close_foreign_pc(session);
		reply = cam_error_json(code, err);
	} else if(cam_request_is_async(req.kind) && queue_full(session)) {
		if(jsep)
			close_foreign_pc(session);
		reply = cam_error_json(CAM_ERROR_RATE_LIMITED, "too many requests waiting for this handle");
	} else if(cam_request_is_async(req.kind)) {
		/* Hand over our reference and the message to the viewer's queue. */
		camera_message *msg = message_new(session, MESSAGE_REQUEST);
		msg->transaction = transaction;
		msg->message = message;
		msg->jsep = jsep;
		enqueue(msg);
		return janus_plugin_result_new(JANUS_PLUGIN_OK_WAIT, NULL, NULL);
	} else if(jsep) {
		reply = refuse_jsep(session, "no JSEP expected");
	} else {
		reply = handle_sync(session, &req);
	}
	janus_refcount_decrease(&session->ref);
	g_free(transaction);
	json_decref(message);
	json_decref(jsep);
	return janus_plugin_result_new(JANUS_PLUGIN_OK, NULL, reply);
}

/* Builds the viewer's offer: one sendonly VP8 video and a data channel. */
static char *build_offer(void)
{
	janus_sdp *offer = janus_sdp_generate_offer("Camera", "0.0.0.0",
		JANUS_SDP_OA_MLINE, JANUS_SDP_VIDEO,
			JANUS_SDP_OA_MID, "v",
			JANUS_SDP_OA_PT, CAMERA_PT,
			JANUS_SDP_OA_CODEC, "vp8",
			JANUS_SDP_OA_DIRECTION, JANUS_SDP_SENDONLY,
			JANUS_SDP_OA_VIDEO_RTCPFB_DEFAULTS, TRUE,
			JANUS_SDP_OA_EXTENSION, JANUS_RTP_EXTMAP_MID, janus_rtp_extension_id(JANUS_RTP_EXTMAP_MID),
			JANUS_SDP_OA_EXTENSION, JANUS_RTP_EXTMAP_ABS_SEND_TIME,
				janus_rtp_extension_id(JANUS_RTP_EXTMAP_ABS_SEND_TIME),
			JANUS_SDP_OA_EXTENSION, JANUS_RTP_EXTMAP_PLAYOUT_DELAY,
				janus_rtp_extension_id(JANUS_RTP_EXTMAP_PLAYOUT_DELAY),
		JANUS_SDP_OA_MLINE, JANUS_SDP_APPLICATION,
			JANUS_SDP_OA_MID, "d",
		JANUS_SDP_OA_DONE);
	if(!offer)
		return NULL;
	/* Janus hands data-channel frames to plugins with a 16-bit length: tell
	 * the browser not to send anything longer (RFC 8841). */
	janus_sdp_mline *data = janus_sdp_mline_find(offer, JANUS_SDP_APPLICATION);
	if(data)
		janus_sdp_attribute_add_to_mline(data, janus_sdp_attribute_create("max-message-size", "%d",
			CAM_CONTROL_MAX_MESSAGE));
	offer->o_version = (guint64)g_atomic_int_add(&sdp_version, 1) + 1;
	char *sdp = janus_sdp_write(offer);
	janus_sdp_destroy(offer);
	return sdp;
}

/* Admits a watch: checks the state and the viewer limit and makes the
 * viewer PREPARING under one lock with the count, so that two watches
 * running in parallel cannot both take the last slot.  0, or an error code
 * with a reason. */
static int admit(camera_session *session, cam_camera *cam, char *err, size_t errlen)
{
	int max_viewers = cam_camera_settings(cam)->max_viewers;
	int code = 0;
	janus_mutex_lock(&admit_mutex);
	janus_mutex_lock(&session->mutex);
	viewer_state state = session->state;
	bool closing = session->pc_alive;
	janus_mutex_unlock(&session->mutex);
	if(state != VIEWER_IDLE)
		code = cam_fail(CAM_ERROR_WRONG_STATE, err, errlen, "already watching (send stop first)");
	else if(closing)
		code = cam_fail(CAM_ERROR_WRONG_STATE, err, errlen,
			"the previous PeerConnection is still closing: retry in a second, or use a new handle");
	else if(max_viewers > 0 && count_watchers(cam) >= max_viewers)
		code = cam_fail(CAM_ERROR_TOO_MANY_VIEWERS, err, errlen, "viewer limit of \"%s\" reached (%d)",
			cam_camera_id(cam), max_viewers);
	if(code == 0) {
		janus_mutex_lock(&session->mutex);
		session->state = VIEWER_PREPARING;
		session->since_ms = unix_ms();
		session->media_ready = false;
		session->offering = true;
		session->offer_hangups = session->hangups;
		cam_liveness_offer(&session->clock, 0);
		session->watch_gen++;
		session->cam = cam;
		if(!session->holding) {
			session->holding = true;
			cam_camera_hold(cam);
		}
		janus_mutex_unlock(&session->mutex);
	}
	janus_mutex_unlock(&admit_mutex);
	return code;
}

/* watch / start / stop, on the viewer's queue.  Returns the event to push,
 * and sets *jsep_out for watch. */
static json_t *handle_async(camera_session *session, const cam_request *req, json_t *jsep,
	json_t **jsep_out)
{
	char err[256] = "";
	switch(req->kind) {
		case CAM_REQ_WATCH: {
			if(jsep)
				return refuse_jsep(session, "no JSEP expected");
			char *sdp = build_offer();
			if(!sdp)
				return cam_error_json(CAM_ERROR_INTERNAL, "could not build the offer");
			int code = admit(session, cams.list[req->camera_index], err, sizeof(err));
			if(code) {
				g_free(sdp);
				return cam_error_json(code, err);
			}
			*jsep_out = json_pack("{ssss}", "type", "offer", "sdp", sdp);
			g_free(sdp);
			notify(session, cams.list[req->camera_index], "watch", NULL);
			return json_pack("{ss s{sssIss}}", "camera", "event", "result",
				"status", "preparing", "id", (json_int_t)session->id, "camera", cam_camera_id(session->cam));
		}
		case CAM_REQ_START: {
			const char *type = json_string_value(json_object_get(jsep, "type"));
			if(jsep && (!type || strcasecmp(type, "answer")))
				return refuse_jsep(session, "start takes an answer");
			janus_mutex_lock(&session->mutex);
			viewer_state state = session->state;
			if(state == VIEWER_PREPARING && jsep) {
				session->state = VIEWER_STARTED;
				/* The liveness clock starts now. */
				cam_liveness_touch(&session->clock, monotonic_ms());
				maybe_subscribe(session);
			}
			janus_mutex_unlock(&session->mutex);
			if(!jsep)
				return cam_error_json(CAM_ERROR_MISSING_ELEMENT, "start needs the JSEP answer");
			if(state != VIEWER_PREPARING)
				return cam_error_json(CAM_ERROR_WRONG_STATE,
					state == VIEWER_IDLE ? "start before watch" : "already started");
			return json_pack("{ss s{ss}}", "camera", "event", "result", "status", "started");
		}
		case CAM_REQ_STOP: {
			if(jsep)
				return refuse_jsep(session, "no JSEP expected");
			janus_mutex_lock(&session->mutex);
			viewer_state state = session->state;
			janus_mutex_unlock(&session->mutex);
			if(state == VIEWER_IDLE)
				return cam_error_json(CAM_ERROR_WRONG_STATE, "not watching");
			leave_all(session, "left");
			gateway->close_pc(session->handle);
			return json_pack("{ss s{ss}}", "camera", "event", "result", "status", "stopped");
		}
		default:
			return cam_error_json(CAM_ERROR_INTERNAL, "unexpected request");
	}
}

/* A watch, start or stop, on the viewer's queue: answered by an event
 * (pushing an offer waits for ICE gathering). */
static void do_request(camera_session *session, camera_message *msg)
{
	cam_request req;
	char err[256] = "";
	json_t *jsep = NULL;
	int code = cam_request_parse_authorized(msg->message, &config, &req, err, sizeof(err));
	if(!code && req.kind == CAM_REQ_WATCH) {
		/* Source events from before this watch did not reach it. */
		janus_mutex_lock(&source_mutex);
		session->source_seen = 0;
		janus_mutex_unlock(&source_mutex);
	}
	json_t *event = code ? cam_error_json(code, err) : handle_async(session, &req, msg->jsep, &jsep);
	int rc = gateway->push_event(session->handle, &camera_plugin, msg->transaction, event, jsep);
	int level = rc == 0 ? LOG_VERB : LOG_WARN;
	JANUS_LOG(level, "[camera] viewer %" PRIu64 ": %s answered (%s, push %d)\n",
		session->id, code ? "request" : req.name,
		json_object_get(event, "error_code") ? "error" : "ok", rc);
	if(jsep) {
		janus_mutex_lock(&session->mutex);
		session->offering = false;
		/* A hangup while the offer was pushed (a gathering error, say) has
		 * ended that PeerConnection already: nothing is left to wait for. */
		if(rc == 0 && session->hangups == session->offer_hangups) {
			session->pc_alive = true;
			cam_liveness_offer(&session->clock, monotonic_ms());     /* the prepare clock starts */
		}
		janus_mutex_unlock(&session->mutex);
	}
	if(jsep && rc == 0)
		tell_if_source_down(session);
	if(jsep && rc != 0) {
		/* The offer never reached the viewer: undo the watch, and say so. */
		JANUS_LOG(LOG_WARN, "[camera] could not push the offer (%d)\n", rc);
		leave_all(session, "left");
		json_t *failure = cam_error_json(CAM_ERROR_INTERNAL, "could not send the offer");
		gateway->push_event(session->handle, &camera_plugin, msg->transaction, failure, NULL);
		json_decref(failure);
	}
	json_decref(event);
	if(jsep)
		json_decref(jsep);
}

/* One step of a viewer's queue. */
static void handle_queued(camera_session *session, camera_message *msg)
{
	if(!plugin_ready())
		return;
	if(g_atomic_int_get(&session->destroyed)) {
		/* Gone meanwhile: nobody is left to answer. */
		JANUS_LOG(LOG_VERB, "[camera] dropping a request for a handle that is gone\n");
		return;
	}
	switch(msg->kind) {
		case MESSAGE_KICK:
			do_kick(session);
			break;
		case MESSAGE_DROP:
			do_drop(session, msg->reason, msg->watch_gen);
			break;
		case MESSAGE_REQUEST:
		default:
			do_request(session, msg);
			break;
	}
}

/* The pool's callbacks: one step of a viewer's queue, and the worker's
 * reference to the viewer while it drains that queue. */
static void run_step(void *owner, void *step)
{
	handle_queued(owner, step);
	message_free(step);
}

static void session_hold(void *owner)
{
	janus_refcount_increase(&((camera_session *)owner)->ref);
}

static void session_release(void *owner)
{
	janus_refcount_decrease(&((camera_session *)owner)->ref);
}

/* The file's categories and their items, in order, as cam_config_load()
 * takes them (the strings stay jcfg's). */
static GArray *config_entries(janus_config *jcfg)
{
	GArray *entries = g_array_new(FALSE, FALSE, sizeof(cam_config_entry));
	GList *categories = janus_config_get_categories(jcfg, NULL);
	for(GList *c = categories; c; c = c->next) {
		janus_config_category *category = c->data;
		if(!category || !category->name)
			continue;
		cam_config_entry start = {.category = category->name};
		g_array_append_val(entries, start);
		GList *items = janus_config_get_items(jcfg, category);
		for(GList *l = items; l; l = l->next) {
			janus_config_item *item = l->data;
			if(!item || item->type != janus_config_type_item || !item->name)
				continue;
			cam_config_entry e = {.category = category->name, .key = item->name, .value = item->value};
			g_array_append_val(entries, e);
		}
		g_list_free(items);
	}
	g_list_free(categories);
	return entries;
}

static void config_problem(void *path, const char *problem)
{
	JANUS_LOG(LOG_FATAL, "[camera] %s: %s\n", (const char *)path, problem);
}

/* Reads janus.plugin.camera.jcfg (or .cfg) into config.  Returns 0, or -1
 * after logging why the configuration is refused. */
static int load_config(const char *config_path)
{
	cam_config_defaults(&config);
	char path[1024], err[256] = "";
	snprintf(path, sizeof(path), "%s/%s.jcfg", config_path, CAMERA_PACKAGE);
	if(!g_file_test(path, G_FILE_TEST_EXISTS))
		snprintf(path, sizeof(path), "%s/%s.cfg", config_path, CAMERA_PACKAGE);
	if(!g_file_test(path, G_FILE_TEST_EXISTS)) {
		JANUS_LOG(LOG_WARN, "[camera] no configuration file in %s, using the defaults\n", config_path);
		return cam_config_finish(&config, err, sizeof(err));
	}
	/* A file that is there but does not parse is refused, never taken for
	 * "no file": a typo must not run on the defaults. */
	janus_config *jcfg = janus_config_parse(path);
	if(!jcfg) {
		JANUS_LOG(LOG_FATAL, "[camera] %s: cannot parse the file (syntax error or duplicated key; "
			"Janus's config parser logged where)\n", path);
		return -1;
	}
	GArray *entries = config_entries(jcfg);
	int rc = cam_config_load(&config, (cam_config_entry *)(void *)entries->data, entries->len, config_problem, path);
	g_array_free(entries, TRUE);
	janus_config_destroy(jcfg);
	return rc < 0 ? -1 : 0;
}

static guint id_hash(gconstpointer v)
{
	uint64_t id = *(const uint64_t *)v;
	return (guint)(id ^ (id >> 32));
}

static gboolean id_equal(gconstpointer a, gconstpointer b)
{
	return *(const uint64_t *)a == *(const uint64_t *)b;
}

static int camera_init(janus_callbacks *callback, const char *config_path)
{
	if(g_atomic_int_get(&stopping))
		return -1;
	if(!callback || !config_path)
		return -1;
	cam_log_set_sink(janus_log_sink);
	cam_log_set_level(janus_log_level);
	if(load_config(config_path) < 0) {
		JANUS_LOG(LOG_FATAL, "[camera] refusing to start: fix the configuration above\n");
		cam_config_clear(&config);
		return -1;
	}
	gateway = callback;
	cam_camera_callbacks cb = {
		.send = fanout_send, .source_event = on_source_event,
		.recording_ops = cam_recording_janus_ops(), .recording_error = on_recording_error,
	};
	char err[256] = "";
	if(cam_cameras_new(&cams, &config, CAMERA_PT, &cb, err, sizeof(err)) < 0) {
		JANUS_LOG(LOG_FATAL, "[camera] %s\n", err);
		cam_config_clear(&config);
		return -1;
	}
	sessions = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)session_destroy);
	sessions_by_id = g_hash_table_new(id_hash, id_equal);
	cam_control_settings cs = {
		.policy = config.control,
		.control_pin = config.control_pin,
		.admin_key = config.admin_key,
		.socket_path = config.control_socket,
		.deadman_ms = config.deadman_ms,
		.control_timeout_ms = config.control_timeout_ms,
		.rate_per_s = config.control_rate,
		.telemetry_rate = config.telemetry_rate,
	};
	cam_control_callbacks ccb = {.telemetry = on_telemetry, .controller = on_controller};
	control = cam_control_new(&cs, &ccb, NULL, err, sizeof(err));
	if(!control)
		JANUS_LOG(LOG_FATAL, "[camera] device control: %s\n", err);
	/* The pool has no limit, as Janus's own task pool: an offer holds its
	 * worker while ICE gathers (up to 5 s), and a fixed number would let
	 * that many slow gatherings hold up every other viewer's steps (stop,
	 * kick, drop).  Each viewer's queue is bounded instead. */
	cam_workq_callbacks wcb = {.run = run_step, .hold = session_hold, .release = session_release};
	char werr[256] = "";
	bool workers_ok = cam_workq_start(&workers, &wcb, werr, sizeof(werr)) == 0;
	bool watched = config.liveness_ms > 0 || config.prepare_timeout_ms > 0;
	bool watchdog_ok = !watched || (workers_ok && cam_ticker_start(&watchdog, "camera watchdog",
		WATCHDOG_PERIOD_MS, check_liveness, NULL, werr, sizeof(werr)) == 0);
	if(!control || !workers_ok || !watchdog_ok || cam_cameras_start(&cams) < 0) {
		JANUS_LOG(LOG_FATAL, "[camera] could not start: %s\n", werr[0] ? werr : "out of resources");
		cam_ticker_stop(&watchdog);
		cam_workq_stop(&workers);
		cam_control_free(control);
		control = NULL;
		cam_cameras_free(&cams);
		g_hash_table_destroy(sessions_by_id);
		g_hash_table_destroy(sessions);
		cam_config_clear(&config);
		return -1;
	}
	g_atomic_int_set(&initialized, 1);
	for(int i = 0; i < cams.count; i++) {
		const cam_camera_config *c = cam_camera_settings(cams.list[i]);
		JANUS_LOG(LOG_INFO, "[camera] camera \"%s\": %s %dx%d@%d, %d bit/s, key frames every %d s%s\n",
			c->id, c->source == CAM_SOURCE_KIND_PATTERN ? "test pattern" : c->device, c->width, c->height,
			c->fps, c->bitrate, c->keyframe_interval, c->on_demand ? ", on demand" : "");
	}
	JANUS_LOG(LOG_INFO, "[camera] %s initialized: %d camera%s\n", CAMERA_NAME, cams.count, cams.count == 1 ? "" : "s");
	announce_recordings();
	return 0;
}

static void camera_destroy(void)
{
	if(!g_atomic_int_get(&initialized))
		return;
	g_atomic_int_set(&stopping, 1);
	/* Janus frees its task pool without waiting for it: let the requests
	 * still being answered there end before what they use goes away.  Not
	 * bounded: a stop_record writes what is queued (a slow disk), and
	 * freeing the cameras under it would crash Janus on its way out. */
	for(int i = 1; g_atomic_int_get(&in_flight) > 0; i++) {
		if(i % 5000 == 0)
			JANUS_LOG(LOG_WARN, "[camera] waiting for %d request(s) to end\n", g_atomic_int_get(&in_flight));
		g_usleep(1000);
	}
	/* No more drops, then no more queued steps (those still queued are
	 * dropped unanswered: Janus is going away). */
	cam_ticker_stop(&watchdog);
	cam_workq_stop(&workers);
	/* No more telemetry or controller callbacks after this; the device
	 * program gets its safety stop if someone held control. */
	if(control) {
		uint64_t holder = cam_control_controller(control);
		if(holder)
			cam_control_viewer_left(control, holder, "shutdown");
		cam_control_free(control);
		control = NULL;
	}
	/* Unsubscribe everyone before the pipeline goes away. */
	janus_mutex_lock(&sessions_mutex);
	GHashTableIter iter;
	gpointer value;
	g_hash_table_iter_init(&iter, sessions);
	while(g_hash_table_iter_next(&iter, NULL, &value)) {
		camera_session *session = value;
		janus_mutex_lock(&session->mutex);
		leave(session);
		janus_mutex_unlock(&session->mutex);
	}
	janus_mutex_unlock(&sessions_mutex);
	cam_cameras_free(&cams);
	janus_mutex_lock(&sessions_mutex);
	g_hash_table_destroy(sessions_by_id);
	sessions_by_id = NULL;
	g_hash_table_destroy(sessions);
	sessions = NULL;
	janus_mutex_unlock(&sessions_mutex);
	cam_config_clear(&config);
	g_atomic_int_set(&initialized, 0);
	g_atomic_int_set(&stopping, 0);
	JANUS_LOG(LOG_INFO, "[camera] %s destroyed\n", CAMERA_NAME);
}

static int camera_get_api_compatibility(void)
{
	return JANUS_PLUGIN_API_VERSION;
}

static int camera_get_version(void)
{
	return CAMERA_VERSION;
}

static const char *camera_get_version_string(void)
{
	return CAMERA_VERSION_STRING;
}

static const char *camera_get_description(void)
{
	return CAMERA_DESCRIPTION;
}

static const char *camera_get_name(void)
{
	return CAMERA_NAME;
}

static const char *camera_get_author(void)
{
	return CAMERA_AUTHOR;
}

static const char *camera_get_package(void)
{
	return CAMERA_PACKAGE;
}

static void camera_create_session(janus_plugin_session *handle, int *error)
{
	if(!plugin_ready()) {
		*error = -1;
		return;
	}
	camera_session *session = g_malloc0(sizeof(camera_session));
	session->handle = handle;
	janus_mutex_init(&session->mutex);
	janus_refcount_init(&session->ref, session_free);
	cam_bucket_init(&session->snapshots, config.snapshot_rate, g_get_monotonic_time());
	cam_workq_queue_init(&session->queue, session);
	handle->plugin_handle = session;
	janus_mutex_lock(&sessions_mutex);
	/* Viewer ids are random and unique, and fit a JavaScript number. */
	do {
		session->id = janus_random_uint64() & ((UINT64_C(1) << 53) - 1);
	} while(session->id == 0 || g_hash_table_contains(sessions_by_id, &session->id));
	g_hash_table_insert(sessions, handle, session);
	g_hash_table_insert(sessions_by_id, &session->id, session);
	janus_mutex_unlock(&sessions_mutex);
}

static void hangup_internal(camera_session *session)
{
	if(!g_atomic_int_compare_and_exchange(&session->hangingup, 0, 1))
		return;
	leave_all(session, "left");
	janus_mutex_lock(&session->mutex);
	session->pc_alive = false;
	session->hangups++;
	janus_mutex_unlock(&session->mutex);
	g_atomic_int_set(&session->hangingup, 0);
}

static void camera_destroy_session(janus_plugin_session *handle, int *error)
{
	if(!plugin_ready()) {
		*error = -1;
		return;
	}
	camera_session *session = session_get(handle);
	if(!session) {
		*error = -2;
		return;
	}
	/* Leaving may announce a new controller to everyone, which takes
	 * sessions_mutex: do it first, without the lock. */
	hangup_internal(session);
	janus_mutex_lock(&sessions_mutex);
	if(g_hash_table_lookup(sessions_by_id, &session->id) == session)
		g_hash_table_remove(sessions_by_id, &session->id);
	g_hash_table_remove(sessions, handle);
	janus_mutex_unlock(&sessions_mutex);
	janus_refcount_decrease(&session->ref);
}

static json_t *camera_query_session(janus_plugin_session *handle)
{
	if(!plugin_ready())
		return NULL;
	camera_session *session = session_get(handle);
	if(!session)
		return NULL;
	janus_mutex_lock(&session->mutex);
	json_t *info = json_pack("{sIsssbsb}",
		"id", (json_int_t)session->id,
		"state", session->state == VIEWER_STARTED ? "started" :
			session->state == VIEWER_PREPARING ? "preparing" : "idle",
		"media_ready", session->media_ready,
		"subscribed", session->in_fanout);
	janus_mutex_unlock(&session->mutex);
	janus_refcount_decrease(&session->ref);
	return info;
}

static void camera_setup_media(janus_plugin_session *handle)
{
	if(!plugin_ready())
		return;
	camera_session *session = session_get(handle);
	if(!session)
		return;
	janus_mutex_lock(&session->mutex);
	session->media_ready = true;
	maybe_subscribe(session);
	janus_mutex_unlock(&session->mutex);
	janus_refcount_decrease(&session->ref);
}

static void camera_incoming_rtp(janus_plugin_session *handle, janus_plugin_rtp *packet)
{
	/* Viewers only receive; anything they send is ignored. */
}

static void camera_incoming_rtcp(janus_plugin_session *handle, janus_plugin_rtcp *packet)
{
	if(!plugin_ready() || g_atomic_int_get(&handle->stopped))
		return;
	camera_session *session = handle->plugin_handle;
	if(!session || g_atomic_int_get(&session->destroyed))
		return;
	/* Any RTCP (receiver reports, mostly) proves the viewer alive. */
	cam_liveness_touch(&session->clock, monotonic_ms());
	if(!packet->video)
		return;
	/* A PLI or FIR from any viewer: one coalesced, rate-limited key frame. */
	cam_camera *cam = session->cam;
	if(cam && (janus_rtcp_has_pli(packet->buffer, packet->length) ||
			janus_rtcp_has_fir(packet->buffer, packet->length)))
		cam_camera_keyframe(cam);
}

static void camera_incoming_data(janus_plugin_session *handle, janus_plugin_data *packet)
{
	if(!plugin_ready() || g_atomic_int_get(&handle->stopped) || !packet || !packet->buffer)
		return;
	/* A reference: this may run on usrsctp's own thread. */
	camera_session *session = session_get(handle);
	if(!session)
		return;
	cam_liveness_touch(&session->clock, monotonic_ms());
	char err[256] = "";
	/* A handle that left (stop, kick, drop) but whose channel is still
	 * closing drives nothing, under any policy. */
	int code = !watches(session, NULL) ? cam_fail(CAM_ERROR_NOT_CONTROLLER, err, sizeof(err), "not watching") :
		cam_control_message(control, session->id, packet->buffer, packet->length, packet->binary, err, sizeof(err));
	janus_refcount_decrease(&session->ref);
	if(code == 0)
		return;
	/* Every refused message is answered on the channel it came from. */
	char *text = cam_control_error_text(code, err);
	if(text) {
		janus_plugin_data data = {
			.label = packet->label, .protocol = packet->protocol, .binary = FALSE,
			.buffer = text, .length = (uint16_t)strlen(text),
		};
		gateway->relay_data(handle, &data);
		free(text);
	}
}

static void camera_hangup_media(janus_plugin_session *handle)
{
	if(!plugin_ready())
		return;
	camera_session *session = session_get(handle);
	if(!session)
		return;
	hangup_internal(session);
	janus_refcount_decrease(&session->ref);
}
