/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "control.h"

#include "bucket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "request.h"

#define MAX_CLIENTS 16

typedef struct client {
	int fd;
	char *out;                 /* lines waiting to be written */
	size_t out_len;
	char *in;                  /* a partial line from the device */
	size_t in_len;
	bool discarding;           /* skipping the rest of an overlong line */
} client;

/* What the module remembers of one viewer.  A record whose buckets are full
 * and whose viewer is not driving says nothing, so such records may be
 * forgotten at any time (sweep_viewers). */
typedef struct viewer_state {
	uint64_t viewer;
	cam_bucket messages;           /* control messages from it (rate_per_s) */
	cam_bucket telemetry;          /* telemetry lines to it (telemetry_rate) */
	int64_t last_message_ms;   /* its last delivered control message; 0 = none */
} viewer_state;

struct cam_control {
	cam_control_settings s;    /* strings owned (copied) */
	cam_control_callbacks cb;
	void *opaque;
	int listen_fd, wake_fd;
	pthread_t thread;
	bool thread_started;

	/* Held (before lock) while the controller changes and its callback
	 * runs, so that callbacks come in the order of the changes. */
	pthread_mutex_t notify_lock;
	/* Guards everything below. */
	pthread_mutex_t lock;
	bool quit;
	uint64_t controller;
	int64_t last_message_ms;   /* from whoever drives (see control.h), or when control was taken */
	bool stop_sent;            /* for the current silence */
	client clients[MAX_CLIENTS];
	int nclients;
	viewer_state *viewers;
	int nviewers, viewers_cap;
	cam_control_stats stats;
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
	return now_us() / 1000;
}

static void wake(cam_control *c)
{
	uint64_t one = 1;
	if(c->wake_fd >= 0 && write(c->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		CAM_WARN("control: wake-up failed: %s", strerror(errno));
}

/* Appends one line to a program's queue; lock held.  false when its buffer
 * is full (the line is not queued at all: drops are whole lines). */
static bool client_append(cam_control *c, client *cl, const char *text, size_t len)
{
	if(cl->out_len + len + 1 > c->s.socket_buffer)
		return false;
	char *out = realloc(cl->out, cl->out_len + len + 1);
	if(!out)
		return false;
	cl->out = out;
	memcpy(cl->out + cl->out_len, text, len);
	cl->out[cl->out_len + len] = '\n';
	cl->out_len += len + 1;
	return true;
}

/* Queues one line for every device program; lock held.  A program whose
 * buffer is full loses the line, and the loss is counted. */
static void queue_line(cam_control *c, const char *text, size_t len)
{
	for(int i = 0; i < c->nclients; i++) {
		if(client_append(c, &c->clients[i], text, len))
			c->stats.lines_sent++;
		else
			c->stats.lines_dropped++;
	}
	wake(c);
}

/* Queues a line for the one program on fd, if it is still there, and frees
 * the text; lock held (the control thread flushes it). */
static void reply_to(cam_control *c, int fd, char *text)
{
	if(!text)
		return;
	for(int i = 0; i < c->nclients; i++) {
		if(c->clients[i].fd == fd && !client_append(c, &c->clients[i], text, strlen(text)))
			CAM_DBG("control: an error line for a full device program was dropped");
	}
	free(text);
}

/* {"event":"error","error":problem[,"to":to]} as text (caller frees). */
static char *error_line(const char *problem, uint64_t to)
{
	json_t *e = json_pack("{ssss}", "event", "error", "error", problem);
	if(to)
		json_object_set_new(e, "to", json_integer((json_int_t)to));
	char *text = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	return text;
}

static void queue_json(cam_control *c, json_t *line)
{
	char *text = json_dumps(line, JSON_COMPACT | JSON_ENCODE_ANY);
	if(text) {
		queue_line(c, text, strlen(text));
		free(text);
	}
}

/* {"event":"controller","controller":<id|null>} as text; lock held. */
static char *controller_line(cam_control *c)
{
	json_t *line = json_pack("{ssso}", "event", "controller", "controller",
		c->controller ? json_integer((json_int_t)c->controller) : json_null());
	char *text = json_dumps(line, JSON_COMPACT);
	json_decref(line);
	return text;
}

/* Tells the device programs; lock held. */
static void send_controller_event(cam_control *c)
{
	char *text = controller_line(c);
	if(text) {
		queue_line(c, text, strlen(text));
		free(text);
	}
}

static void send_stop(cam_control *c)
{
	json_t *line = json_pack("{ss}", "event", "stop");
	queue_json(c, line);
	json_decref(line);
	c->stop_sent = true;
	c->stats.stops++;
}

/* Changes the controller; lock held.  Returns the previous one. */
static uint64_t set_controller(cam_control *c, uint64_t viewer)
{
	uint64_t previous = c->controller;
	if(previous == viewer)
		return previous;
	/* The one who had control is gone: stop the device, once. */
	if(previous && !c->stop_sent)
		send_stop(c);
	c->controller = viewer;
	c->last_message_ms = now_ms();
	c->stop_sent = viewer == 0;
	send_controller_event(c);
	return previous;
}

static void notify_controller(cam_control *c, uint64_t now, uint64_t previous, const char *reason)
{
	if(now != previous && c->cb.controller)
		c->cb.controller(c->opaque, now, previous, reason);
}

static void client_close(cam_control *c, int i)
{
	client *cl = &c->clients[i];
	close(cl->fd);
	free(cl->out);
	free(cl->in);
	c->clients[i] = c->clients[--c->nclients];
	c->stats.clients = c->nclients;
	CAM_INFO("control: a device program disconnected (%d left)", c->nclients);
}

/* Flushes what the socket takes now; lock held.  -1 when the program is gone. */
static int client_flush(client *cl)
{
	while(cl->out_len > 0) {
		ssize_t n = send(cl->fd, cl->out, cl->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if(n < 0) {
			if(errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if(errno == EINTR)
				continue;
			return -1;
		}
		memmove(cl->out, cl->out + n, cl->out_len - (size_t)n);
		cl->out_len -= (size_t)n;
	}
	return 0;
}

static void count(cam_control *c, uint64_t *counter)
{
	pthread_mutex_lock(&c->lock);
	(*counter)++;
	pthread_mutex_unlock(&c->lock);
}

/* Why a device line is refused (see control.h), or NULL with *to (or NULL)
 * and *data set. */
static const char *device_line_problem(json_t *obj, json_t **to, json_t **data)
{
	if(!obj || !json_is_object(obj))
		return "each line must be one JSON object";
	if(!(*data = json_object_get(obj, "data")))
		return "missing \"data\"";
	*to = json_object_get(obj, "to");
	if(*to && (!json_is_integer(*to) || json_integer_value(*to) <= 0))
		return "\"to\" must be a viewer id";
	if(json_is_object(*data) && json_object_get(*data, "camera"))
		return "\"camera\" in \"data\" is reserved for the plugin's own frames";
	return NULL;
}

/* Hands a value to the telemetry callback: the number of viewers it was
 * for, or -1 when there is nobody to ask. */
static int relay_telemetry(cam_control *c, uint64_t viewer, json_t *data)
{
	int reached = -1;
	char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
	if(text && strlen(text) <= CAM_CONTROL_MAX_MESSAGE && c->cb.telemetry)
		reached = c->cb.telemetry(c->opaque, viewer, text, strlen(text));
	free(text);
	return reached;
}

/* One line of telemetry from a device program.  Called without the lock
 * (the callback relays to viewers).  Returns an error line to send back, or
 * NULL. */
static char *handle_device_line(cam_control *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *obj = json_loadb(line, len, 0, &jerr);
	json_t *to = NULL, *data = NULL;
	const char *problem = device_line_problem(obj, &to, &data);
	char *reply = NULL;
	if(problem) {
		reply = error_line(problem, 0);
		count(c, &c->stats.telemetry_invalid);
	} else {
		uint64_t viewer = to ? (uint64_t)json_integer_value(to) : 0;
		count(c, &c->stats.telemetry);
		if(relay_telemetry(c, viewer, data) == 0 && viewer) {
			char why[64];
			snprintf(why, sizeof(why), "no viewer %llu", (unsigned long long)viewer);
			reply = error_line(why, viewer);
			count(c, &c->stats.telemetry_no_viewer);
		}
	}
	if(obj)
		json_decref(obj);
	return reply;
}

/* Reads what a device program sent; lock held on entry and exit, released
 * around the telemetry callbacks.  -1 when the program is gone. */
static int client_read(cam_control *c, int i)
{
	char buf[16384];
	ssize_t n = recv(c->clients[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
	if(n == 0)
		return -1;
	if(n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
	int fd = c->clients[i].fd;
	for(ssize_t k = 0; k < n; k++) {
		/* The client array may be reshuffled while the lock was released. */
		client *cl = NULL;
		for(int j = 0; j < c->nclients; j++) {
			if(c->clients[j].fd == fd)
				cl = &c->clients[j];
		}
		if(!cl)
			return 0;
		char ch = buf[k];
		if(ch != '\n') {
			if(cl->discarding)
				continue;
			if(cl->in_len >= CAM_CONTROL_MAX_MESSAGE) {
				cl->discarding = true;
				cl->in_len = 0;
				c->stats.telemetry_invalid++;
				reply_to(c, fd, error_line("line longer than 65535 bytes: dropped", 0));
				continue;
			}
			if(cl->in_len % 4096 == 0) {
				char *in = realloc(cl->in, cl->in_len + 4096);
				if(!in)
					return -1;
				cl->in = in;
			}
			cl->in[cl->in_len++] = ch;
			continue;
		}
		if(cl->discarding) {
			cl->discarding = false;
			continue;
		}
		size_t len = cl->in_len;
		cl->in_len = 0;
		if(len == 0)
			continue;
		char *line = malloc(len);
		if(!line)
			return -1;
		memcpy(line, cl->in, len);
		pthread_mutex_unlock(&c->lock);
		char *reply = handle_device_line(c, line, len);
		free(line);
		pthread_mutex_lock(&c->lock);
		reply_to(c, fd, reply);
	}
	return 0;
}

static void accept_clients(cam_control *c)
{
	for(;;) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if(fd < 0)
			return;
		if(c->nclients == MAX_CLIENTS) {
			static const char full[] = "{\"event\":\"error\",\"error\":\"too many device programs\"}\n";
			if(send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				CAM_DBG("control: could not tell a refused device program: %s", strerror(errno));
			close(fd);
			CAM_WARN("control: refused a device program (already %d)", MAX_CLIENTS);
			continue;
		}
		c->clients[c->nclients++] = (client){.fd = fd};
		c->stats.clients = c->nclients;
		CAM_INFO("control: a device program connected (%d now)", c->nclients);
		/* A late program learns who holds control. */
		reply_to(c, fd, controller_line(c));
	}
}

/* The safety stop: whoever drove has been silent for deadman_ms.  Lock
 * held.  Returns how long to sleep until the next check (ms, -1 = none). */
static int check_deadman(cam_control *c)
{
	if(c->stop_sent || c->s.deadman_ms <= 0)
		return -1;
	int64_t idle = now_ms() - c->last_message_ms;
	if(idle >= c->s.deadman_ms) {
		CAM_INFO("control: no control message for %lld ms: safety stop", (long long)idle);
		send_stop(c);
		return -1;
	}
	return (int)(c->s.deadman_ms - idle);
}

/* Milliseconds until the controller loses control to control_timeout_ms
 * (0 = now), or -1 when there is no such timer; lock held. */
static int control_timeout_left(cam_control *c)
{
	if(!c->controller || c->s.control_timeout_ms <= 0)
		return -1;
	int64_t idle = now_ms() - c->last_message_ms;
	return idle >= c->s.control_timeout_ms ? 0 : (int)(c->s.control_timeout_ms - idle);
}

/* Takes control from a controller that has been silent for
 * control_timeout_ms; no lock held. */
static void expire_controller(cam_control *c)
{
	pthread_mutex_lock(&c->notify_lock);
	pthread_mutex_lock(&c->lock);
	uint64_t previous = c->controller;
	if(control_timeout_left(c) == 0) {
		CAM_INFO("control: controller %llu sent nothing for %d ms: control released",
			(unsigned long long)previous, c->s.control_timeout_ms);
		set_controller(c, 0);
		c->stats.timeouts++;
	}
	uint64_t now = c->controller;
	pthread_mutex_unlock(&c->lock);
	notify_controller(c, now, previous, "timeout");
	pthread_mutex_unlock(&c->notify_lock);
}

/* The shorter of two waits (ms, -1 = none). */
static int shorter_wait(int a, int b)
{
	if(a < 0)
		return b;
	return b < 0 || a < b ? a : b;
}

static void *control_thread(void *arg)
{
	cam_control *c = arg;
#ifdef __linux__
	pthread_setname_np(pthread_self(), "camera control");
#endif
	struct pollfd fds[2 + MAX_CLIENTS];
	pthread_mutex_lock(&c->lock);
	while(!c->quit) {
		int control_left = control_timeout_left(c);
		if(control_left == 0) {
			pthread_mutex_unlock(&c->lock);
			expire_controller(c);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		int timeout = shorter_wait(check_deadman(c), control_left);
		int n = 0;
		fds[n++] = (struct pollfd){.fd = c->wake_fd, .events = POLLIN};
		if(c->listen_fd >= 0)
			fds[n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
		int first_client = n;
		for(int i = 0; i < c->nclients; i++) {
			fds[n++] = (struct pollfd){.fd = c->clients[i].fd,
				.events = (short)(POLLIN | (c->clients[i].out_len ? POLLOUT : 0))};
		}
		pthread_mutex_unlock(&c->lock);
		int rc = poll(fds, (nfds_t)n, timeout);
		pthread_mutex_lock(&c->lock);
		if(rc < 0 && errno != EINTR) {
			CAM_ERR("control: poll failed: %s", strerror(errno));
			break;
		}
		if(rc <= 0)
			continue;
		if(fds[0].revents & POLLIN) {
			uint64_t v;
			if(read(c->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				CAM_WARN("control: wake-up read failed: %s", strerror(errno));
		}
		if(c->listen_fd >= 0 && (fds[1].revents & POLLIN))
			accept_clients(c);
		/* Handle clients by fd: the array changes as clients come and go. */
		for(int k = first_client; k < n; k++) {
			if(!fds[k].revents)
				continue;
			int idx = -1;
			for(int i = 0; i < c->nclients; i++) {
				if(c->clients[i].fd == fds[k].fd)
					idx = i;
			}
			if(idx < 0)
				continue;
			bool gone = false;
			if(fds[k].revents & (POLLIN | POLLHUP | POLLERR))
				gone = client_read(c, idx) < 0;
			if(!gone) {
				idx = -1;
				for(int i = 0; i < c->nclients; i++) {
					if(c->clients[i].fd == fds[k].fd)
						idx = i;
				}
				if(idx < 0)
					continue;
				gone = client_flush(&c->clients[idx]) < 0;
			}
			if(gone)
				client_close(c, idx);
		}
		/* Lines queued since the poll started go out now. */
		for(int i = 0; i < c->nclients; i++) {
			if(c->clients[i].out_len && client_flush(&c->clients[i]) < 0)
				client_close(c, i--);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static int open_socket(cam_control *c, char *err, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if(strlen(c->s.socket_path) >= sizeof(addr.sun_path))
		return cam_fail(-1, err, errlen, "control_socket: path too long");
	strcpy(addr.sun_path, c->s.socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if(fd < 0)
		return cam_fail(-1, err, errlen, "control_socket: %s", strerror(errno));
	/* A socket file left by an earlier run would make bind fail; only ever
	 * remove a socket, never another kind of file. */
	struct stat st;
	if(lstat(addr.sun_path, &st) == 0) {
		if(!S_ISSOCK(st.st_mode)) {
			close(fd);
			return cam_fail(-1, err, errlen, "control_socket: %s exists and is not a socket", addr.sun_path);
		}
		unlink(addr.sun_path);
	}
	if(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 8) < 0) {
		int e = errno;
		close(fd);
		return cam_fail(-1, err, errlen, "control_socket %s: %s", addr.sun_path, strerror(e));
	}
	/* The device program usually runs as another user of the same group. */
	chmod(addr.sun_path, 0660);
	c->listen_fd = fd;
	return 0;
}

cam_control *cam_control_new(const cam_control_settings *settings, const cam_control_callbacks *cb,
	void *opaque, char *err, size_t errlen)
{
	cam_control *c = calloc(1, sizeof(*c));
	if(!c)
		return NULL;
	c->s = *settings;
	c->s.control_pin = settings->control_pin ? strdup(settings->control_pin) : NULL;
	c->s.admin_key = settings->admin_key ? strdup(settings->admin_key) : NULL;
	c->s.socket_path = settings->socket_path ? strdup(settings->socket_path) : NULL;
	if(c->s.rate_per_s <= 0)
		c->s.rate_per_s = 50;
	if(c->s.burst <= 0)
		c->s.burst = 2 * c->s.rate_per_s;
	if(c->s.telemetry_rate <= 0)
		c->s.telemetry_rate = 50;
	if(c->s.telemetry_burst <= 0)
		c->s.telemetry_burst = 2 * c->s.telemetry_rate;
	if(c->s.socket_buffer == 0)
		c->s.socket_buffer = 1024 * 1024;
	c->cb = *cb;
	c->opaque = opaque;
	c->listen_fd = -1;
	c->stop_sent = true;
	pthread_mutex_init(&c->notify_lock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if(c->wake_fd < 0) {
		cam_fail(0, err, errlen, "eventfd: %s", strerror(errno));
		cam_control_free(c);
		return NULL;
	}
	if(c->s.socket_path && open_socket(c, err, errlen) < 0) {
		cam_control_free(c);
		return NULL;
	}
	if(pthread_create(&c->thread, NULL, control_thread, c) != 0) {
		cam_fail(0, err, errlen, "could not start the control thread");
		cam_control_free(c);
		return NULL;
	}
	c->thread_started = true;
	return c;
}

void cam_control_free(cam_control *c)
{
	if(!c)
		return;
	if(c->thread_started) {
		pthread_mutex_lock(&c->lock);
		c->quit = true;
		pthread_mutex_unlock(&c->lock);
		wake(c);
		pthread_join(c->thread, NULL);
	}
	/* Whoever was driving is cut off (under "single" the plugin has released
	 * the controller already, which sent the stop). */
	if(!c->stop_sent)
		send_stop(c);
	/* A last chance for pending lines (the final stop), without blocking. */
	for(int i = 0; i < c->nclients; i++)
		client_flush(&c->clients[i]);
	while(c->nclients > 0)
		client_close(c, 0);
	if(c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(c->s.socket_path);
	}
	if(c->wake_fd >= 0)
		close(c->wake_fd);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->notify_lock);
	free((char *)c->s.control_pin);
	free((char *)c->s.admin_key);
	free((char *)c->s.socket_path);
	free(c->viewers);
	free(c);
}

int cam_control_take(cam_control *c, uint64_t viewer, const char *pin, const char *admin_key,
	char *err, size_t errlen)
{
	if(c->s.policy != CAM_CONTROL_SINGLE)
		return cam_fail(CAM_ERROR_WRONG_STATE, err, errlen, c->s.policy == CAM_CONTROL_OPEN ?
			"control is open to every viewer: just send" : "control is disabled");
	bool admin = admin_key && c->s.admin_key && cam_secret_equal(admin_key, c->s.admin_key);
	if(admin_key && !admin)
		return cam_fail(CAM_ERROR_UNAUTHORIZED, err, errlen, "wrong admin_key");
	if(!admin && c->s.control_pin && !cam_secret_equal(pin, c->s.control_pin))
		return cam_fail(CAM_ERROR_UNAUTHORIZED, err, errlen, "wrong or missing pin for control");
	pthread_mutex_lock(&c->notify_lock);
	pthread_mutex_lock(&c->lock);
	uint64_t holder = c->controller;
	int code = 0;
	if(holder && holder != viewer && !admin)
		code = cam_fail(CAM_ERROR_NOT_CONTROLLER, err, errlen, "viewer %llu holds control",
			(unsigned long long)holder);
	else
		set_controller(c, viewer);
	pthread_mutex_unlock(&c->lock);
	if(!code)
		notify_controller(c, viewer, holder, holder ? "handover" : "take");
	pthread_mutex_unlock(&c->notify_lock);
	return code;
}

int cam_control_release(cam_control *c, uint64_t viewer, char *err, size_t errlen)
{
	pthread_mutex_lock(&c->notify_lock);
	pthread_mutex_lock(&c->lock);
	bool held = viewer != 0 && c->controller == viewer;
	if(held)
		set_controller(c, 0);
	pthread_mutex_unlock(&c->lock);
	if(held)
		notify_controller(c, 0, viewer, "release");
	pthread_mutex_unlock(&c->notify_lock);
	return held ? 0 : cam_fail(CAM_ERROR_NOT_CONTROLLER, err, errlen, "not the controller");
}

/* Whether a viewer sent a control message less than deadman_ms ago; lock held. */
static bool driving(cam_control *c, const viewer_state *v, int64_t now)
{
	return v->last_message_ms && now / 1000 - v->last_message_ms < c->s.deadman_ms;
}

/* Forgets the records that say nothing (see viewer_state); lock held. */
static void sweep_viewers(cam_control *c, int64_t now)
{
	for(int i = 0; i < c->nviewers; i++) {
		viewer_state *v = &c->viewers[i];
		if(cam_bucket_full(&v->messages, c->s.rate_per_s, c->s.burst, now) &&
			cam_bucket_full(&v->telemetry, c->s.telemetry_rate, c->s.telemetry_burst, now) && !driving(c, v, now))
			c->viewers[i--] = c->viewers[--c->nviewers];
	}
}

static int viewer_index(cam_control *c, uint64_t viewer)
{
	for(int i = 0; i < c->nviewers; i++) {
		if(c->viewers[i].viewer == viewer)
			return i;
	}
	return -1;
}

/* The viewer's record, made with full buckets when there is none; NULL
 * when out of memory.  Lock held. */
static viewer_state *viewer_get(cam_control *c, uint64_t viewer, int64_t now)
{
	int i = viewer_index(c, viewer);
	if(i >= 0)
		return &c->viewers[i];
	if(c->nviewers == c->viewers_cap)
		sweep_viewers(c, now);
	if(c->nviewers == c->viewers_cap) {
		int cap = c->viewers_cap ? c->viewers_cap * 2 : 16;
		viewer_state *nv = realloc(c->viewers, (size_t)cap * sizeof(*nv));
		if(!nv)
			return NULL;
		c->viewers = nv;
		c->viewers_cap = cap;
	}
	viewer_state *v = &c->viewers[c->nviewers++];
	*v = (viewer_state){.viewer = viewer};
	cam_bucket_init(&v->messages, c->s.burst, now);
	cam_bucket_init(&v->telemetry, c->s.telemetry_burst, now);
	return v;
}

void cam_control_viewer_left(cam_control *c, uint64_t viewer, const char *reason)
{
	if(!viewer)
		return;
	pthread_mutex_lock(&c->notify_lock);
	pthread_mutex_lock(&c->lock);
	int i = viewer_index(c, viewer);
	if(i >= 0) {
		/* Under "open", a viewer that was driving stops the device. */
		if(c->s.policy == CAM_CONTROL_OPEN && !c->stop_sent && driving(c, &c->viewers[i], now_us())) {
			CAM_INFO("control: viewer %llu left while driving: safety stop", (unsigned long long)viewer);
			send_stop(c);
		}
		c->viewers[i] = c->viewers[--c->nviewers];
	}
	bool held = c->controller == viewer;
	if(held)
		set_controller(c, 0);
	pthread_mutex_unlock(&c->lock);
	if(held)
		notify_controller(c, 0, viewer, reason ? reason : "left");
	pthread_mutex_unlock(&c->notify_lock);
}

bool cam_control_telemetry_admit(cam_control *c, uint64_t viewer)
{
	int64_t now = now_us();
	pthread_mutex_lock(&c->lock);
	viewer_state *v = viewer_get(c, viewer, now);
	bool ok = v && cam_bucket_take(&v->telemetry, c->s.telemetry_rate, c->s.telemetry_burst, now);
	if(!ok)
		c->stats.telemetry_dropped++;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

/* The size of a value as the device program would get it. */
static size_t encoded_size(json_t *data)
{
	return json_dumpb(data, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

int cam_control_send(cam_control *c, uint64_t viewer, json_t *data, char *err, size_t errlen)
{
	int code = 0;
	size_t size = encoded_size(data);
	int64_t now = now_us();
	viewer_state *v = NULL;
	pthread_mutex_lock(&c->lock);
	if(size == 0 || size > CAM_CONTROL_MAX_MESSAGE)
		code = cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "message larger than %d bytes",
			CAM_CONTROL_MAX_MESSAGE);
	else if(c->s.policy == CAM_CONTROL_NONE)
		code = cam_fail(CAM_ERROR_NOT_CONTROLLER, err, errlen, "control is disabled");
	else if(c->s.policy == CAM_CONTROL_SINGLE && c->controller != viewer)
		code = cam_fail(CAM_ERROR_NOT_CONTROLLER, err, errlen, c->controller ?
			"another viewer holds control" : "take control first");
	else if(!(v = viewer_get(c, viewer, now)) || !cam_bucket_take(&v->messages, c->s.rate_per_s, c->s.burst, now))
		code = cam_fail(CAM_ERROR_RATE_LIMITED, err, errlen, "more than %d control messages per second",
			c->s.rate_per_s);
	if(code) {
		c->stats.rejected++;
		pthread_mutex_unlock(&c->lock);
		return code;
	}
	json_t *line = json_pack("{sIsO}", "from", (json_int_t)viewer, "data", data);
	char *text = json_dumps(line, JSON_COMPACT);
	json_decref(line);
	if(!text) {
		c->stats.rejected++;
		pthread_mutex_unlock(&c->lock);
		return cam_fail(CAM_ERROR_INTERNAL, err, errlen, "could not encode the message");
	}
	queue_line(c, text, strlen(text));
	free(text);
	c->stats.delivered++;
	/* Whoever may send drives (the controller, or anyone under "open"). */
	v->last_message_ms = c->last_message_ms = now / 1000;
	if(c->stop_sent) {
		c->stop_sent = false;
		wake(c);   /* re-arm the dead-man timer */
	}
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int cam_control_message(cam_control *c, uint64_t viewer, const char *text, size_t len, bool binary,
	char *err, size_t errlen)
{
	int code = 0;
	json_t *value = NULL;
	if(len == 0 || len > CAM_CONTROL_MAX_MESSAGE) {
		/* Length 0 is what Janus reports for a 65536-byte frame. */
		code = cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "message larger than %d bytes",
			CAM_CONTROL_MAX_MESSAGE);
	} else if(binary) {
		code = cam_fail(CAM_ERROR_INVALID_ELEMENT, err, errlen, "binary frames are not accepted: send JSON text");
	} else {
		json_error_t jerr;
		value = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
		if(!value)
			code = cam_fail(CAM_ERROR_INVALID_JSON, err, errlen, "invalid JSON: %s", jerr.text);
	}
	if(code) {
		pthread_mutex_lock(&c->lock);
		c->stats.rejected++;
		pthread_mutex_unlock(&c->lock);
		return code;
	}
	code = cam_control_send(c, viewer, value, err, errlen);
	json_decref(value);
	return code;
}

uint64_t cam_control_controller(cam_control *c)
{
	pthread_mutex_lock(&c->lock);
	uint64_t v = c->controller;
	pthread_mutex_unlock(&c->lock);
	return v;
}

void cam_control_get_stats(cam_control *c, cam_control_stats *st)
{
	pthread_mutex_lock(&c->lock);
	*st = c->stats;
	st->clients = c->nclients;
	pthread_mutex_unlock(&c->lock);
}

json_t *cam_control_stats_json(cam_control *c)
{
	cam_control_stats st;
	cam_control_get_stats(c, &st);
	return json_pack("{sIsIsIsIsIsIsIsIsIsIsi}",
		"delivered", (json_int_t)st.delivered, "lines_sent", (json_int_t)st.lines_sent,
		"lines_dropped", (json_int_t)st.lines_dropped, "telemetry", (json_int_t)st.telemetry,
		"telemetry_invalid", (json_int_t)st.telemetry_invalid,
		"telemetry_dropped", (json_int_t)st.telemetry_dropped,
		"telemetry_no_viewer", (json_int_t)st.telemetry_no_viewer,
		"rejected", (json_int_t)st.rejected, "stops", (json_int_t)st.stops,
		"timeouts", (json_int_t)st.timeouts, "clients", st.clients);
}

char *cam_control_error_text(int code, const char *reason)
{
	json_t *e = json_pack("{sssiss}", "camera", "error", "error_code", code, "error", reason ? reason : "");
	char *text = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	return text;
}
