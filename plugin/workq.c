/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "workq.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* Takes q's next step, or marks q idle and returns NULL; and its owner. */
static void *next_step(cam_workq *wq, cam_workq_queue *q, void **owner)
{
	pthread_mutex_lock(&wq->lock);
	*owner = q->owner;
	void *step = g_queue_pop_head(&q->steps);
	if(!step)
		q->scheduled = false;
	pthread_mutex_unlock(&wq->lock);
	return step;
}

/* A worker: drains one queue, in order, lets go of its owner (after which
 * the queue may be gone), then tells stop that this drain is over. */
static void drain(gpointer data, gpointer user_data)
{
	cam_workq *wq = user_data;
	cam_workq_queue *q = data;
	void *owner, *step;
	while((step = next_step(wq, q, &owner)))
		wq->cb.run(owner, step);
	wq->cb.release(owner);
	pthread_mutex_lock(&wq->lock);
	if(--wq->drains == 0)
		pthread_cond_broadcast(&wq->drained);
	pthread_mutex_unlock(&wq->lock);
}

int cam_workq_start(cam_workq *wq, const cam_workq_callbacks *cb, char *err, size_t errlen)
{
	GError *error = NULL;
	/* No limit on the threads: a step may block for long (an offer waits
	 * while ICE gathers), and a fixed number would let that many blocked
	 * steps hold up every other queue. */
	GThreadPool *pool = g_thread_pool_new(drain, wq, -1, FALSE, &error);
	if(!pool) {
		cam_fail(-1, err, errlen, "thread pool: %s", error ? error->message : "out of resources");
		g_clear_error(&error);
		return -1;
	}
	pthread_mutex_lock(&wq->lock);
	wq->cb = *cb;
	wq->pool = pool;
	pthread_mutex_unlock(&wq->lock);
	return 0;
}

void cam_workq_stop(cam_workq *wq)
{
	pthread_mutex_lock(&wq->lock);
	GThreadPool *pool = wq->pool;
	wq->pool = NULL;
	while(wq->drains > 0)
		pthread_cond_wait(&wq->drained, &wq->lock);
	pthread_mutex_unlock(&wq->lock);
	if(pool)
		g_thread_pool_free(pool, FALSE, TRUE);
}

void cam_workq_queue_init(cam_workq_queue *q, void *owner)
{
	g_queue_init(&q->steps);
	q->scheduled = false;
	q->owner = owner;
}

bool cam_workq_push(cam_workq *wq, cam_workq_queue *q, void *step)
{
	pthread_mutex_lock(&wq->lock);
	bool accepted = wq->pool != NULL;
	if(accepted) {
		g_queue_push_tail(&q->steps, step);
		if(!q->scheduled) {
			q->scheduled = true;
			wq->drains++;
			wq->cb.hold(q->owner);
			g_thread_pool_push(wq->pool, q, NULL);
		}
	}
	pthread_mutex_unlock(&wq->lock);
	return accepted;
}

unsigned cam_workq_waiting(cam_workq *wq, cam_workq_queue *q)
{
	pthread_mutex_lock(&wq->lock);
	unsigned n = g_queue_get_length(&q->steps);
	pthread_mutex_unlock(&wq->lock);
	return n;
}

/* Waits one period or until told to quit (lock held); whether to go on. */
static bool ticker_wait(cam_ticker *t)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	long long ns = until.tv_nsec + (long long)t->period_ms * 1000000;
	until.tv_sec += ns / 1000000000;
	until.tv_nsec = ns % 1000000000;
	while(!t->quit && pthread_cond_timedwait(&t->cond, &t->lock, &until) != ETIMEDOUT)
		;
	return !t->quit;
}

static void *ticker_thread(void *data)
{
	cam_ticker *t = data;
	pthread_mutex_lock(&t->lock);
	while(ticker_wait(t)) {
		pthread_mutex_unlock(&t->lock);
		t->fn(t->opaque);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* The ticker's lock and monotonic condition; 0 or an errno. */
static int ticker_sync_init(cam_ticker *t)
{
	pthread_condattr_t attr;
	int rc = pthread_condattr_init(&attr);
	if(rc)
		return rc;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if(!rc)
		rc = pthread_cond_init(&t->cond, &attr);
	pthread_condattr_destroy(&attr);
	if(!rc)
		pthread_mutex_init(&t->lock, NULL);
	return rc;
}

int cam_ticker_start(cam_ticker *t, const char *name, int period_ms, void (*fn)(void *opaque), void *opaque,
	char *err, size_t errlen)
{
	t->period_ms = period_ms;
	t->fn = fn;
	t->opaque = opaque;
	t->quit = false;
	int rc = ticker_sync_init(t);
	if(rc)
		return cam_fail(-1, err, errlen, "%s: %s", name, strerror(rc));
	rc = pthread_create(&t->thread, NULL, ticker_thread, t);
	if(rc) {
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
		return cam_fail(-1, err, errlen, "%s: %s", name, strerror(rc));
	}
	pthread_setname_np(t->thread, name);
	t->running = true;
	return 0;
}

void cam_ticker_stop(cam_ticker *t)
{
	if(!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->quit = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	t->running = false;
}
