/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * jpegcheck: the integration tests' JPEG reader.  Decodes each JPEG file
 * named on the command line with libjpeg-turbo (not with the plugin's own
 * code path) and prints one JSON line per file: its size, the mean luma, and
 * the test pattern's stamp (shared/api.md) read from the decoded pixels.
 *
 *   jpegcheck FILE...
 *   {"file":"...","width":W,"height":H,"mean":M,"stamp":B,"counter":N,"time":N}
 *   {"file":"...","error":"..."}
 * "counter" and "time" only when the stamp's check bytes matched.  Exits 1
 * if any file could not be decoded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <turbojpeg.h>

#include "stamp.h"

static unsigned char *slurp(const char *path, unsigned long *len)
{
	FILE *f = fopen(path, "rb");
	if(!f)
		return NULL;
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0, got;
	do {
		if(n == cap) {
			cap = cap ? cap * 2 : 65536;
			unsigned char *grown = realloc(buf, cap);
			if(!grown) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = grown;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while(got > 0);
	fclose(f);
	*len = (unsigned long)n;
	return buf;
}

/* Decodes one file to grey and prints its line; 0 or -1. */
static int check(tjhandle tj, const char *path)
{
	unsigned long len = 0;
	unsigned char *jpeg = slurp(path, &len);
	int w = 0, h = 0, sub = 0, space = 0;
	if(!jpeg || tjDecompressHeader3(tj, jpeg, len, &w, &h, &sub, &space) != 0 || w <= 0 || h <= 0) {
		printf("{\"file\":\"%s\",\"error\":\"%s\"}\n", path, jpeg ? tjGetErrorStr2(tj) : "cannot read");
		free(jpeg);
		return -1;
	}
	uint8_t *grey = malloc((size_t)w * h);
	int rc = grey ? tjDecompress2(tj, jpeg, len, grey, w, w, h, TJPF_GRAY, 0) : -1;
	free(jpeg);
	if(rc != 0) {
		printf("{\"file\":\"%s\",\"error\":\"%s\"}\n", path, tjGetErrorStr2(tj));
		free(grey);
		return -1;
	}
	uint64_t sum = 0;
	for(size_t i = 0; i < (size_t)w * h; i++)
		sum += grey[i];
	uint32_t counter = 0, time = 0;
	bool stamp = cam_stamp_read(grey, w, w, h, &counter, &time);
	printf("{\"file\":\"%s\",\"width\":%d,\"height\":%d,\"mean\":%.1f,\"stamp\":%s", path, w, h,
		(double)sum / ((double)w * h), stamp ? "true" : "false");
	if(stamp)
		printf(",\"counter\":%u,\"time\":%u", counter, time);
	printf("}\n");
	free(grey);
	return 0;
}

int main(int argc, char **argv)
{
	tjhandle tj = tjInitDecompress();
	if(!tj)
		return 2;
	int failed = 0;
	for(int i = 1; i < argc; i++)
		failed |= check(tj, argv[i]) < 0;
	tjDestroy(tj);
	return failed;
}
