/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Logging for the Janus-free modules.
 *
 * Modules log through cam_log(); the plugin installs a sink that forwards to
 * JANUS_LOG (so Janus's debug_level, timestamps and log sinks apply), while
 * unit tests keep the default sink, which writes to stderr.  Levels use
 * Janus's numbers so the plugin can pass them through unchanged.
 *
 * Thread rules: cam_log() may be called from any thread; cam_log_set_sink()
 * is called once, before any other thread starts.
 */
#ifndef CAM_LOG_H
#define CAM_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum {
	CAM_LOG_ERR = 2,
	CAM_LOG_WARN = 3,
	CAM_LOG_INFO = 4,
	CAM_LOG_VERB = 5,
	CAM_LOG_DBG = 7,
};

typedef void (*cam_log_sink_fn)(int level, const char *msg);

void cam_log_set_sink(cam_log_sink_fn sink);
/* Messages above this level are dropped before formatting (default: INFO). */
void cam_log_set_level(int level);

void cam_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats a reason into err (if given) and returns code: the one way every
 * module reports "what was wrong" next to its return value. */
int cam_fail(int code, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define CAM_ERR(...)  cam_log(CAM_LOG_ERR, __VA_ARGS__)
#define CAM_WARN(...) cam_log(CAM_LOG_WARN, __VA_ARGS__)
#define CAM_INFO(...) cam_log(CAM_LOG_INFO, __VA_ARGS__)
#define CAM_VERB(...) cam_log(CAM_LOG_VERB, __VA_ARGS__)
#define CAM_DBG(...)  cam_log(CAM_LOG_DBG, __VA_ARGS__)

#endif
