/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Work queues and a ticker: the plugin's concurrency machinery, Janus-free.
 *
 * A cam_workq is a pool of threads (unbounded: threads are made while steps
 * wait, and few idle ones are kept) shared by many serial queues.  A
 * cam_workq_queue belongs to one owner (in the plugin: a viewer) and holds
 * its steps, opaque pointers: one queue's steps run in the order pushed and
 * never two at once; different queues' steps run in parallel, so a step
 * that blocks holds up its own queue only.  While a queue has steps to run
 * one worker drains it, holding the owner (hold() when it is scheduled,
 * release() as the very last thing the worker does with it), so the
 * owner's memory, and the queue embedded in it, outlive the drain.
 *
 * cam_workq_stop() refuses every push from then on (the caller keeps the
 * refused step) and returns once every step accepted before has run and
 * every hold has been released.
 *
 * A cam_ticker calls fn(opaque) on its own thread every period_ms (the
 * period counted from the end of the previous call) until stopped.
 *
 * Thread rules: push, waiting and stop may be called from any thread, push
 * and waiting from a step too (not stop: it would wait for itself).  The
 * lock inside is a leaf: callers may hold their own locks around these
 * calls, and hold() runs under it, so it must not block nor call back into
 * the module (a reference count's increment).  run() and release() run
 * with no lock of the module held.  cam_ticker_start/stop are called by one
 * thread (init and destroy).
 */
#ifndef CAM_WORKQ_H
#define CAM_WORKQ_H

#include <glib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct cam_workq_callbacks {
	/* Runs one step, and disposes of it. */
	void (*run)(void *owner, void *step);
	/* The worker's hold on the owner, from scheduling to release. */
	void (*hold)(void *owner);
	void (*release)(void *owner);
} cam_workq_callbacks;

typedef struct cam_workq {
	pthread_mutex_t lock;
	pthread_cond_t drained;    /* drains fell to 0 */
	GThreadPool *pool;         /* NULL: not started, or stopped */
	unsigned drains;           /* queues scheduled and not released yet */
	cam_workq_callbacks cb;
} cam_workq;

/* A stopped pool, for static storage. */
#define CAM_WORKQ_INIT {.lock = PTHREAD_MUTEX_INITIALIZER, .drained = PTHREAD_COND_INITIALIZER}

/* One owner's queue, guarded by its pool's lock; initialised with
 * cam_workq_queue_init(), and empty and idle whenever its owner's last
 * hold is gone (so it needs no clean-up). */
typedef struct cam_workq_queue {
	GQueue steps;
	bool scheduled;            /* a worker drains it */
	void *owner;
} cam_workq_queue;

/* Starts the pool.  0, or -1 with the reason in err. */
int cam_workq_start(cam_workq *wq, const cam_workq_callbacks *cb, char *err, size_t errlen);
/* Refuses new steps, then waits until every accepted step has run and
 * every hold is released.  Does nothing on a pool that is not running. */
void cam_workq_stop(cam_workq *wq);

void cam_workq_queue_init(cam_workq_queue *q, void *owner);
/* Appends a step to q and makes sure a worker drains it.  false when the
 * pool is stopped: the step is refused and stays the caller's. */
bool cam_workq_push(cam_workq *wq, cam_workq_queue *q, void *step);
/* Steps of q that have not started yet (the one running is not counted). */
unsigned cam_workq_waiting(cam_workq *wq, cam_workq_queue *q);

typedef struct cam_ticker {
	pthread_mutex_t lock;
	pthread_cond_t cond;       /* CLOCK_MONOTONIC */
	pthread_t thread;
	bool running;              /* started and not stopped (the caller's) */
	bool quit;                 /* guarded by lock */
	int period_ms;
	void (*fn)(void *opaque);
	void *opaque;
} cam_ticker;

/* Starts calling fn(opaque) every period_ms on a thread named `name` (at
 * most 15 characters), the first call one period from now.  t is zeroed or
 * stopped.  0, or -1 with the reason in err. */
int cam_ticker_start(cam_ticker *t, const char *name, int period_ms, void (*fn)(void *opaque), void *opaque,
	char *err, size_t errlen);
/* Wakes the ticker at once and waits for it to end (for the call in
 * progress, if any); fn is not called after this returns.  Does nothing on
 * a ticker that is not running. */
void cam_ticker_stop(cam_ticker *t);

#endif
