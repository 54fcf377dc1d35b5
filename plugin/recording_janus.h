/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The recording backend of the plugin: Janus's own recorder (record.h, .mjr
 * files that janus-pp-rec turns into WebM) behind cam_recording_ops.  Built
 * into the plugin only (it needs Janus's symbols); recording.c stays
 * Janus-free.
 */
#ifndef CAM_RECORDING_JANUS_H
#define CAM_RECORDING_JANUS_H

#include "recording.h"

/* One table for every camera: .mjr files named <name>.mjr (or
 * <name>.mjr.<ext> while written when janus.jcfg sets recordings_tmp_ext);
 * folders under janus.jcfg's protected_folders are refused with that reason;
 * a full disk shows at the frame it happens (a flush after each frame). */
const cam_recording_ops *cam_recording_janus_ops(void);

#endif
