/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "log.h"

#include <stdio.h>
#include <string.h>

static void stderr_sink(int level, const char *msg)
{
	static const char *names[] = {"", "", "ERR", "WARN", "INFO", "VERB", "", "DBG"};
	const char *name = (level >= 0 && level <= CAM_LOG_DBG) ? names[level] : "";
	fprintf(stderr, "[camera] %s %s", name, msg);
}

static cam_log_sink_fn log_sink = stderr_sink;
static int log_level = CAM_LOG_INFO;

void cam_log_set_sink(cam_log_sink_fn sink)
{
	log_sink = sink ? sink : stderr_sink;
}

void cam_log_set_level(int level)
{
	log_level = level;
}

void cam_log(int level, const char *fmt, ...)
{
	if(level > log_level)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if(n < 0)
		return;
	size_t len = strlen(buf);
	/* Every message is one line; add the newline JANUS_LOG expects. */
	if(len == 0 || buf[len - 1] != '\n') {
		buf[len] = '\n';
		buf[len + 1] = '\0';
	}
	log_sink(level, buf);
}

int cam_fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
	if(err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}
