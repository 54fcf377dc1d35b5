/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A minimal assertion kit for the unit tests: each CHECK prints file, line
 * and expression on failure and counts it; a test program returns
 * check_exit() from main (automake's harness reads the exit status:
 * 0 pass, 1 fail).
 */
#ifndef CAM_TEST_CHECK_H
#define CAM_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>

static int check_failures;
static int check_count;

#define CHECK(cond) do { \
	check_count++; \
	if(!(cond)) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
	} \
} while(0)

#define CHECK_EQ_INT(a, b) do { \
	long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
	check_count++; \
	if(check_a_ != check_b_) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
			__FILE__, __LINE__, #a, #b, check_a_, check_b_); \
	} \
} while(0)

/* Runs one test function and reports it TAP-style. */
#define RUN(fn) do { \
	int check_before_ = check_failures; \
	fn(); \
	printf("%s %s\n", check_failures == check_before_ ? "ok" : "not ok", #fn); \
	fflush(stdout); \
} while(0)

static inline int check_exit(void)
{
	printf("# %d checks, %d failed\n", check_count, check_failures);
	return check_failures == 0 ? 0 : 1;
}

#endif
