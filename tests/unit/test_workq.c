/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Work queues and the ticker: order within one queue and never two of its
 * steps at once, parallelism across queues (a blocked queue delays no
 * other), the waiting count the plugin's depth limit reads, stop (refuses
 * from then on, runs everything accepted before it returns, balanced holds),
 * the ticker's period and its prompt stop.
 *
 * Timings are checked with margins (a late thread must not fail a test, an
 * early one must), and waits are on callbacks, never bare sleeps.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "workq.h"

#define MAX_STEPS 256
#define WAIT_MS 5000

/* Everything the callbacks saw, under ev.lock; ev.cond on every change. */
typedef struct owner {
	int id;
	int holds, releases;
	int running;               /* its steps running now */
	int overlaps;              /* a step started while another of it ran */
	bool running_at_release;
} owner;

typedef struct step {
	owner *owner;
	int seq;
	bool blocks;               /* waits for ev.gate_open */
} step;

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gate_open;
	int ran[2 * MAX_STEPS][2];  /* owner id, seq, in the order run */
	int n_ran;
	int ticks;
	int64_t tick_us[16];
	int tick_sleep_ms;         /* each tick takes this long */
	bool ticking;
} ev = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void reset(void)
{
	pthread_mutex_lock(&ev.lock);
	ev.gate_open = false;
	ev.n_ran = 0;
	ev.ticks = 0;
	ev.tick_sleep_ms = 0;
	pthread_mutex_unlock(&ev.lock);
}

/* Waits (ev.lock held) until done(arg) or WAIT_MS; whether it is done. */
static bool wait_for(bool (*done)(const void *arg), const void *arg)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_MS / 1000;
	while(!done(arg))
		if(pthread_cond_timedwait(&ev.cond, &ev.lock, &until))
			return done(arg);
	return true;
}

static bool ran_at_least(const void *arg)
{
	return ev.n_ran >= *(const int *)arg;
}

static bool gate_open(const void *arg)
{
	return ev.gate_open;
}

static bool owner_running(const void *arg)
{
	return ((const owner *)arg)->running > 0;
}

static void run(void *opaque, void *data)
{
	owner *o = opaque;
	step *s = data;
	pthread_mutex_lock(&ev.lock);
	if(o->running++)
		o->overlaps++;
	pthread_cond_broadcast(&ev.cond);
	if(s->blocks)
		wait_for(gate_open, NULL);
	ev.ran[ev.n_ran][0] = o->id;
	ev.ran[ev.n_ran][1] = s->seq;
	ev.n_ran++;
	o->running--;
	pthread_cond_broadcast(&ev.cond);
	pthread_mutex_unlock(&ev.lock);
}

static void hold(void *opaque)
{
	owner *o = opaque;
	pthread_mutex_lock(&ev.lock);
	o->holds++;
	pthread_mutex_unlock(&ev.lock);
}

static void release(void *opaque)
{
	owner *o = opaque;
	pthread_mutex_lock(&ev.lock);
	o->releases++;
	o->running_at_release |= o->running > 0;
	pthread_cond_broadcast(&ev.cond);
	pthread_mutex_unlock(&ev.lock);
}

static const cam_workq_callbacks callbacks = {.run = run, .hold = hold, .release = release};

static void open_gate(void)
{
	pthread_mutex_lock(&ev.lock);
	ev.gate_open = true;
	pthread_cond_broadcast(&ev.cond);
	pthread_mutex_unlock(&ev.lock);
}

static void start(cam_workq *wq)
{
	char err[128] = "";
	CHECK_EQ_INT(cam_workq_start(wq, &callbacks, err, sizeof(err)), 0);
	reset();
}

/* Pushes steps first..first+n-1 of o (seq = index), the first blocking if
 * asked. */
static void push_steps(cam_workq *wq, cam_workq_queue *q, step *steps, int first, int n, bool block_first)
{
	for(int i = first; i < first + n; i++) {
		steps[i] = (step){.owner = q->owner, .seq = i, .blocks = block_first && i == first};
		CHECK(cam_workq_push(wq, q, &steps[i]));
	}
}

/* How many of ev.ran belong to owner id, and whether in seq order. */
static int count_in_order(int id, bool *in_order)
{
	int n = 0;
	*in_order = true;
	for(int i = 0; i < ev.n_ran; i++) {
		if(ev.ran[i][0] != id)
			continue;
		*in_order &= ev.ran[i][1] == n;
		n++;
	}
	return n;
}

static void check_balanced(const owner *o)
{
	CHECK(o->holds >= 1);
	CHECK_EQ_INT(o->holds, o->releases);
	CHECK_EQ_INT(o->overlaps, 0);
	CHECK(!o->running_at_release);
}

static void test_order(void)
{
	static cam_workq wq = CAM_WORKQ_INIT;
	static step steps[MAX_STEPS];
	owner o = {.id = 1};
	cam_workq_queue q;
	cam_workq_queue_init(&q, &o);
	start(&wq);
	push_steps(&wq, &q, steps, 0, MAX_STEPS, false);
	cam_workq_stop(&wq);
	bool in_order;
	CHECK_EQ_INT(count_in_order(1, &in_order), MAX_STEPS);
	CHECK(in_order);
	check_balanced(&o);
}

/* A's first step blocks: B's steps all run meanwhile, A's second waits. */
static void test_parallel(void)
{
	static cam_workq wq = CAM_WORKQ_INIT;
	static step a_steps[2], b_steps[5];
	owner a = {.id = 1}, b = {.id = 2};
	cam_workq_queue qa, qb;
	cam_workq_queue_init(&qa, &a);
	cam_workq_queue_init(&qb, &b);
	start(&wq);
	push_steps(&wq, &qa, a_steps, 0, 2, true);
	push_steps(&wq, &qb, b_steps, 0, 5, false);
	pthread_mutex_lock(&ev.lock);
	int five = 5;
	CHECK(wait_for(ran_at_least, &five));
	bool in_order;
	CHECK_EQ_INT(count_in_order(2, &in_order), 5);
	CHECK(in_order);
	CHECK_EQ_INT(count_in_order(1, &in_order), 0);
	pthread_mutex_unlock(&ev.lock);
	open_gate();
	cam_workq_stop(&wq);
	CHECK_EQ_INT(count_in_order(1, &in_order), 2);
	CHECK(in_order);
	check_balanced(&a);
	check_balanced(&b);
}

/* What the depth limit reads: the steps not started yet. */
static void test_waiting(void)
{
	static cam_workq wq = CAM_WORKQ_INIT;
	static step steps[6];
	owner o = {.id = 1};
	cam_workq_queue q;
	cam_workq_queue_init(&q, &o);
	start(&wq);
	CHECK_EQ_INT(cam_workq_waiting(&wq, &q), 0);
	push_steps(&wq, &q, steps, 0, 1, true);
	pthread_mutex_lock(&ev.lock);
	CHECK(wait_for(owner_running, &o));
	pthread_mutex_unlock(&ev.lock);
	CHECK_EQ_INT(cam_workq_waiting(&wq, &q), 0);
	push_steps(&wq, &q, steps, 1, 5, false);
	CHECK_EQ_INT(cam_workq_waiting(&wq, &q), 5);
	open_gate();
	cam_workq_stop(&wq);
	CHECK_EQ_INT(cam_workq_waiting(&wq, &q), 0);
	CHECK_EQ_INT(ev.n_ran, 6);
	check_balanced(&o);
}

static void *stopper(void *data)
{
	cam_workq_stop(data);
	return NULL;
}

/* Pushes C's steps while stop runs, until one is refused: how many went in. */
static int push_until_refused(cam_workq *wq, cam_workq_queue *q, step *steps, int max)
{
	for(int i = 0; i < max; i++) {
		steps[i] = (step){.owner = q->owner, .seq = i};
		if(!cam_workq_push(wq, q, &steps[i]))
			return i;
		sleep_ms(1);
	}
	return max;
}

/* Stop waits for the blocked step and the one behind it, refuses from the
 * start on, and runs every step accepted before. */
static void test_stop(void)
{
	static cam_workq wq = CAM_WORKQ_INIT;
	static step a_steps[2], c_steps[MAX_STEPS];
	owner a = {.id = 1}, c = {.id = 3};
	cam_workq_queue qa, qc;
	cam_workq_queue_init(&qa, &a);
	cam_workq_queue_init(&qc, &c);
	step early = {.owner = &c};
	CHECK(!cam_workq_push(&wq, &qc, &early));     /* not started */
	start(&wq);
	push_steps(&wq, &qa, a_steps, 0, 2, true);
	pthread_t thread;
	pthread_create(&thread, NULL, stopper, &wq);
	int accepted = push_until_refused(&wq, &qc, c_steps, MAX_STEPS);
	CHECK(accepted < MAX_STEPS);
	pthread_mutex_lock(&ev.lock);
	int all = accepted;
	CHECK(wait_for(ran_at_least, &all));
	bool in_order;
	CHECK_EQ_INT(count_in_order(1, &in_order), 0);   /* stop is still waiting */
	pthread_mutex_unlock(&ev.lock);
	open_gate();
	pthread_join(thread, NULL);
	CHECK_EQ_INT(count_in_order(1, &in_order), 2);
	CHECK_EQ_INT(count_in_order(3, &in_order), accepted);
	CHECK(in_order);
	CHECK(!cam_workq_push(&wq, &qa, &a_steps[0]));
	cam_workq_stop(&wq);                           /* again: nothing */
	check_balanced(&a);
	CHECK_EQ_INT(c.holds, c.releases);
	start(&wq);                                    /* as after a plugin restart */
	push_steps(&wq, &qa, a_steps, 0, 1, false);
	cam_workq_stop(&wq);
	CHECK_EQ_INT(ev.n_ran, 1);
	check_balanced(&a);
}

static bool ticks_at_least(const void *arg)
{
	return ev.ticks >= *(const int *)arg;
}

static void tick(void *opaque)
{
	pthread_mutex_lock(&ev.lock);
	if(ev.ticks < (int)(sizeof(ev.tick_us) / sizeof(ev.tick_us[0])))
		ev.tick_us[ev.ticks] = now_us();
	ev.ticks++;
	ev.ticking = true;
	int sleep = ev.tick_sleep_ms;
	pthread_cond_broadcast(&ev.cond);
	pthread_mutex_unlock(&ev.lock);
	sleep_ms(sleep);               /* a round that takes time */
	pthread_mutex_lock(&ev.lock);
	ev.ticking = false;
	pthread_mutex_unlock(&ev.lock);
	*(int *)opaque += 1;
}

/* Starts t (calls counted in *calls) with rounds that take round_ms, and
 * waits for its first n ticks. */
static void tick_until(cam_ticker *t, int period_ms, int round_ms, int *calls, int n)
{
	char err[128] = "";
	reset();
	ev.tick_sleep_ms = round_ms;
	CHECK_EQ_INT(cam_ticker_start(t, "test ticker", period_ms, tick, calls, err, sizeof(err)), 0);
	pthread_mutex_lock(&ev.lock);
	CHECK(wait_for(ticks_at_least, &n));
	pthread_mutex_unlock(&ev.lock);
}

static void test_ticker_period(void)
{
	static cam_ticker t;
	int calls = 0;
	int64_t started = now_us();
	tick_until(&t, 40, 10, &calls, 6);
	cam_ticker_stop(&t);
	CHECK(ev.tick_us[0] - started >= 40000);
	/* A period is counted from the end of the round before. */
	for(int i = 1; i < 6; i++)
		CHECK(ev.tick_us[i] - ev.tick_us[i - 1] >= 50000);
	CHECK_EQ_INT(calls, ev.ticks);
	CHECK(!t.running);
}

/* Stop wakes a ticker in its wait at once, and waits for a round in
 * progress; none after. */
static void test_ticker_stop(void)
{
	static cam_ticker t;
	int calls = 0;
	cam_ticker_stop(&t);                           /* never started: nothing */
	tick_until(&t, 60000, 0, &calls, 0);
	int64_t t0 = now_us();
	cam_ticker_stop(&t);
	CHECK(now_us() - t0 < 1000000);
	CHECK_EQ_INT(calls, 0);
	tick_until(&t, 5, 200, &calls, 1);
	cam_ticker_stop(&t);
	CHECK(!ev.ticking);
	CHECK_EQ_INT(calls, 1);
	CHECK_EQ_INT(ev.ticks, 1);
}

int main(void)
{
	RUN(test_order);
	RUN(test_parallel);
	RUN(test_waiting);
	RUN(test_stop);
	RUN(test_ticker_period);
	RUN(test_ticker_stop);
	return check_exit();
}
