/*
 * queue_sched.c: the scheduler of the queue role.
 *
 * Owns: the committed messages in memory (a tree by msgid) and, for each
 * recipient, a task that is idle, ready (due, waiting for a slot), waiting
 * (due later, in a tree by due time, with one timer for the earliest) or
 * in flight (handed to mda, in a tree by evpid).
 *
 * At most QUEUE_MAX_INFLIGHT deliveries are at mda at once, each holding
 * one read-only fd on its message: a burst of 10,000 messages opens 32
 * fds, not 10,000.  An evpid is a fresh number per attempt, so a result
 * can only ever match the attempt it answers; an unknown evpid from mda is
 * fatal, since mda is a peer process.
 *
 * Results change the recipient in memory and put the message on the sync
 * pass (queue.c), which rewrites or removes the envelope.  Delivered
 * recipients are marked done on disk and never handed out again (one
 * whose success DSN is owed only once that DSN is committed:
 * queue_dsn.c).
 *
 * Redeliveries.  Between mda's durable delivery and the sync pass's
 * fsync of envelopes/ a delivery is done but not recorded: after a crash
 * there it is handed to mda again.  mda recognises it by its delivery id
 * (msgid and recipient index, sent with every attempt) and its marker in
 * the mailbox (lib/maildir.c), and reports success without writing a
 * second copy: delivery is exactly once.  At most 32 deliveries are in
 * flight: mda writes them in batches that share their barriers, so a
 * deeper pipeline makes bigger batches (measured with bench/smtp-bench:
 * 4 in flight left mda's syncfs calls unshared).
 *
 * Trusts: mda's answers to be well-formed (it is a peer); nothing else.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/time.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "dsn.h"
#include "log.h"
#include "posternd.h"
#include "proto.h"
#include "queue.h"

#define QUEUE_MAX_INFLIGHT	32	/* see "Redeliveries" above */
#define QUEUE_FD_RETRY		1	/* seconds, after EMFILE */
#define QUEUE_DEFAULT_RETRY	300

RB_HEAD(queue_msgs, queue_msg);
RB_HEAD(queue_waits, queue_task);
RB_HEAD(queue_flights, queue_task);
TAILQ_HEAD(queue_ready, queue_task);

static int	queue_msg_cmp(struct queue_msg *, struct queue_msg *);
static int	queue_wait_cmp(struct queue_task *, struct queue_task *);
static int	queue_flight_cmp(struct queue_task *, struct queue_task *);
RB_GENERATE_STATIC(queue_msgs, queue_msg, entry, queue_msg_cmp)
RB_GENERATE_STATIC(queue_waits, queue_task, node, queue_wait_cmp)
RB_GENERATE_STATIC(queue_flights, queue_task, node, queue_flight_cmp)

static struct queue_msgs	 msgs = RB_INITIALIZER(&msgs);
static struct queue_waits	 waits = RB_INITIALIZER(&waits);
static struct queue_flights	 flights = RB_INITIALIZER(&flights);
static struct queue_ready	 ready = TAILQ_HEAD_INITIALIZER(ready);
static struct event		*wait_ev;
static uint64_t			 task_ids;
static size_t			 nmsgs;
static int			 ninflight;
static int			 paused;
static int			 started;

static void	queue_sched_pump(void);

static int
queue_msg_cmp(struct queue_msg *a, struct queue_msg *b)
{
	return strcmp(a->env.msgid, b->env.msgid);
}

static int
queue_wait_cmp(struct queue_task *a, struct queue_task *b)
{
	if (a->when != b->when)
		return a->when < b->when ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return 0;
}

static int
queue_flight_cmp(struct queue_task *a, struct queue_task *b)
{
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return 0;
}

/* Sets the timer to the earliest waiting task. */
static void
queue_sched_arm(void)
{
	struct queue_task	*t;
	struct timeval		 tv;
	time_t			 now = time(NULL);

	if ((t = RB_MIN(queue_waits, &waits)) == NULL) {
		evtimer_del(wait_ev);
		return;
	}
	timerclear(&tv);
	if (t->when > now)
		tv.tv_sec = t->when - now;
	evtimer_add(wait_ev, &tv);
}

static void
queue_task_ready(struct queue_task *t)
{
	TAILQ_INSERT_TAIL(&ready, t, ready_entry);
	t->where = QUEUE_TASK_READY;
}

static void
queue_task_wait(struct queue_task *t, time_t when)
{
	t->when = when;
	t->id = ++task_ids;
	if (RB_INSERT(queue_waits, &waits, t) != NULL)
		fatalx("%s: duplicate task", __func__);
	t->where = QUEUE_TASK_WAIT;
	queue_sched_arm();
}

/* Takes a task out of whatever list holds it (not out of flight). */
static void
queue_task_cancel(struct queue_task *t)
{
	switch (t->where) {
	case QUEUE_TASK_READY:
		TAILQ_REMOVE(&ready, t, ready_entry);
		break;
	case QUEUE_TASK_WAIT:
		RB_REMOVE(queue_waits, &waits, t);
		queue_sched_arm();
		break;
	case QUEUE_TASK_IDLE:
		return;
	case QUEUE_TASK_FLIGHT:
		fatalx("%s: task in flight", __func__);
	}
	t->where = QUEUE_TASK_IDLE;
}

static void
queue_task_schedule(struct queue_task *t, time_t when)
{
	if (when <= time(NULL))
		queue_task_ready(t);
	else
		queue_task_wait(t, when);
}

static void
queue_sched_timer(int fd, short ev, void *arg)
{
	struct queue_task	*t;
	time_t			 now = time(NULL);

	while ((t = RB_MIN(queue_waits, &waits)) != NULL && t->when <= now) {
		RB_REMOVE(queue_waits, &waits, t);
		queue_task_ready(t);
	}
	queue_sched_arm();
	queue_sched_pump();
}

void
queue_sched_init(void)
{
	if ((wait_ev = evtimer_new(child_base(), queue_sched_timer, NULL)) ==
	    NULL)
		fatalx("%s: evtimer_new", __func__);
}

/* A message in the queue still has something to do. */
static int
queue_msg_active(const struct queue_msg *m)
{
	size_t	 i;

	for (i = 0; i < m->env.nrcpts; i++)
		if (m->env.rcpts[i].state == SPOOL_RCPT_PENDING ||
		    m->env.rcpts[i].state == SPOOL_RCPT_REMOTE ||
		    m->env.rcpts[i].state == SPOOL_RCPT_BOUNCE)
			return 1;
	return 0;
}

int
queue_msg_obsolete(const struct queue_msg *m)
{
	return m->inflight == 0 && m->dsn == QUEUE_DSN_NONE &&
	    (m->removing || !queue_msg_active(m));
}

/*
 * Takes env over (its recipients array included).  A recovered message
 * is due at once: a restart delivers what was waiting.
 */
void
queue_sched_load(struct spool_envelope *env, int recovered)
{
	struct queue_msg	*m;
	struct spool_rcpt	*r;
	size_t			 i;

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->tasks = calloc(env->nrcpts, sizeof(*m->tasks))) == NULL)
		fatal("%s", __func__);
	m->env = *env;
	memset(env, 0, sizeof(*env));
	if (RB_INSERT(queue_msgs, &msgs, m) != NULL)
		fatalx("%s: duplicate msgid %s", __func__, m->env.msgid);
	nmsgs++;
	for (i = 0; i < m->env.nrcpts; i++) {
		r = &m->env.rcpts[i];
		m->tasks[i].msg = m;
		m->tasks[i].idx = i;
		m->tasks[i].where = QUEUE_TASK_IDLE;
		if (r->state == SPOOL_RCPT_PENDING)
			queue_task_schedule(&m->tasks[i],
			    recovered ? 0 : r->next_try);
		if (r->state == SPOOL_RCPT_BOUNCE)
			queue_dsn_want(m);	/* owed before a restart */
	}
	if (queue_msg_obsolete(m))
		queue_sync_msg(m);
	queue_sched_pump();
}

void
queue_msg_free(struct queue_msg *m)
{
	size_t	 i;

	for (i = 0; i < m->env.nrcpts; i++)
		if (m->tasks[i].where != QUEUE_TASK_IDLE)
			fatalx("%s: %s has a live task", __func__,
			    m->env.msgid);
	if (m->dsn != QUEUE_DSN_NONE)
		fatalx("%s: %s has a DSN under way", __func__, m->env.msgid);
	RB_REMOVE(queue_msgs, &msgs, m);
	nmsgs--;
	spool_envelope_free(&m->env);
	free(m->tasks);
	free(m);
}

void
queue_sched_start(void)
{
	started = 1;
	queue_sched_pump();
}

static time_t
queue_retry_delay(uint32_t attempts)
{
	const struct config	*conf = child_config();
	size_t			 i;

	if (conf->queue.nretry == 0)
		return QUEUE_DEFAULT_RETRY;
	i = attempts > 0 ? attempts - 1 : 0;
	if (i >= conf->queue.nretry)
		i = conf->queue.nretry - 1;
	return conf->queue.retry[i];
}

/*
 * A recipient that cannot be delivered: the reason is kept with an
 * enhanced status code in front (status, unless it has its own), and
 * the DSN to the sender is owed (queue_dsn.c).
 */
static void
queue_rcpt_bounce(struct queue_msg *m, struct spool_rcpt *r,
    const char *status, const char *reason)
{
	struct log_event	 ev;
	char			 code[16];

	r->state = SPOOL_RCPT_BOUNCE;
	if (dsn_status(reason, code, sizeof(code)) != reason)
		(void)strlcpy(r->reason, reason, sizeof(r->reason));
	else
		(void)snprintf(r->reason, sizeof(r->reason), "%s %s", status,
		    reason);
	reason = r->reason;
	log_event_begin(&ev, "delivery.bounce");
	log_event_add(&ev, "msgid", "%s", m->env.msgid);
	log_event_add(&ev, "from", "%s", m->env.sender);
	log_event_add(&ev, "rcpt", "%s", r->orig);
	log_event_add(&ev, "mailbox", "%s", r->dest);
	log_event_add(&ev, "attempts", "%u", r->attempts);
	log_event_add(&ev, "reason", "%s", reason);
	log_event_end(&ev);
	queue_dsn_want(m);
}

static void
queue_rcpt_done(struct queue_task *t)
{
	struct queue_msg	*m = t->msg;
	struct spool_rcpt	*r = &m->env.rcpts[t->idx];
	struct log_event	 ev;

	/* With a success DSN owed, done only once it is committed. */
	if (!queue_dsn_delivered(t))
		r->state = SPOOL_RCPT_DONE;
	r->reason[0] = '\0';
	log_event_begin(&ev, "delivery.ok");
	log_event_add(&ev, "msgid", "%s", m->env.msgid);
	log_event_add(&ev, "rcpt", "%s", r->orig);
	log_event_add(&ev, "mailbox", "%s", r->dest);
	log_event_add(&ev, "delay", "%lld",
	    (long long)(time(NULL) - m->env.created));
	log_event_add(&ev, "attempts", "%u", r->attempts);
	log_event_end(&ev);
}

static void
queue_rcpt_defer(struct queue_task *t, const char *reason)
{
	struct queue_msg	*m = t->msg;
	struct spool_rcpt	*r = &m->env.rcpts[t->idx];
	struct log_event	 ev;
	char			 why[SPOOL_REASON_MAX];
	time_t			 now = time(NULL), delay;

	if (now - m->env.created >= child_config()->queue.expire) {
		(void)snprintf(why, sizeof(why), "expired after %u attempts: "
		    "%s", r->attempts, reason);
		queue_rcpt_bounce(m, r, "4.4.7", why);
		return;
	}
	(void)strlcpy(r->reason, reason, sizeof(r->reason));
	delay = queue_retry_delay(r->attempts);
	r->next_try = now + delay;
	if (!m->removing)
		queue_task_wait(t, r->next_try);
	log_event_begin(&ev, "delivery.defer");
	log_event_add(&ev, "msgid", "%s", m->env.msgid);
	log_event_add(&ev, "rcpt", "%s", r->orig);
	log_event_add(&ev, "mailbox", "%s", r->dest);
	log_event_add(&ev, "attempts", "%u", r->attempts);
	log_event_add(&ev, "reason", "%s", reason);
	log_event_add(&ev, "retry_in", "%lld", (long long)delay);
	log_event_end(&ev);
	queue_dsn_deferred(t);
}

/* Hands a task to mda: 0, or -1 when out of fds (it waits then). */
static int
queue_task_dispatch(struct queue_task *t)
{
	struct queue_msg	*m = t->msg;
	struct spool_rcpt	*r = &m->env.rcpts[t->idx];
	struct ibuf		 ib;
	int			 fd;

	if ((fd = spool_open_message(m->env.msgid)) == -1) {
		if (errno == EMFILE || errno == ENFILE) {
			queue_task_wait(t, time(NULL) + QUEUE_FD_RETRY);
			return -1;
		}
		log_warn("message %s", m->env.msgid);
		r->attempts++;
		queue_rcpt_defer(t, "queue: cannot open the message file");
		queue_sync_msg(m);
		return 0;
	}
	t->id = ++task_ids;
	ibuf_init(&ib);
	ibuf_add_u64(&ib, t->id);
	ibuf_add_str(&ib, m->env.sender);
	ibuf_add_str(&ib, r->dest);
	ibuf_add_str(&ib, r->orig);
	ibuf_add_str(&ib, m->env.msgid);	/* with idx: mda's delivery id */
	ibuf_add_u32(&ib, (uint32_t)t->idx);
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	if (RB_INSERT(queue_flights, &flights, t) != NULL)
		fatalx("%s: duplicate evpid", __func__);
	t->where = QUEUE_TASK_FLIGHT;
	m->inflight++;
	ninflight++;
	imsgev_xcompose(child_peer(PROC_MDA), IMSG_MDA_DELIVER, 0, 0, fd,
	    ib.data, ib.len);
	ibuf_free(&ib);
	log_debug("%s: %s rcpt %zu to mda as %016llx", __func__,
	    m->env.msgid, t->idx, (unsigned long long)t->id);
	return 0;
}

static void
queue_sched_pump(void)
{
	struct queue_task	*t;

	if (!started || paused)
		return;
	while (ninflight < QUEUE_MAX_INFLIGHT &&
	    (t = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, t, ready_entry);
		t->where = QUEUE_TASK_IDLE;
		if (queue_task_dispatch(t) == -1)
			break;
	}
}

/* IMSG_MDA_RESULT: u64 evpid, u32 status, str reason. */
void
queue_sched_result(struct imsg *imsg)
{
	struct imsg_reader	 rd;
	struct queue_task	 key, *t;
	struct queue_msg	*m;
	struct spool_rcpt	*r;
	char			 reason[SPOOL_REASON_MAX];
	uint32_t		 status;

	imsg_reader_init(&rd, imsg, "IMSG_MDA_RESULT");
	memset(&key, 0, sizeof(key));
	key.id = imsg_read_u64(&rd);
	status = imsg_read_u32(&rd);
	imsg_read_str(&rd, reason, sizeof(reason));
	imsg_reader_end(&rd);
	if ((t = RB_FIND(queue_flights, &flights, &key)) == NULL)
		fatalx("mda answered for unknown delivery %016llx",
		    (unsigned long long)key.id);
	RB_REMOVE(queue_flights, &flights, t);
	t->where = QUEUE_TASK_IDLE;
	m = t->msg;
	r = &m->env.rcpts[t->idx];
	m->inflight--;
	ninflight--;
	r->attempts++;
	switch (status) {
	case DELIVERY_OK:
		queue_rcpt_done(t);
		break;
	case DELIVERY_TEMPFAIL:
		queue_rcpt_defer(t, reason);
		break;
	case DELIVERY_PERMFAIL:
		queue_rcpt_bounce(m, r, "5.2.0", reason);
		break;
	default:
		fatalx("mda answered with status %u", status);
	}
	queue_sync_msg(m);
	queue_sched_pump();
}

struct queue_msg *
queue_msg_find(const char *msgid)
{
	struct queue_msg	 key;

	memset(&key, 0, sizeof(key));
	if (strlcpy(key.env.msgid, msgid, sizeof(key.env.msgid)) >=
	    sizeof(key.env.msgid))
		return NULL;
	return RB_FIND(queue_msgs, &msgs, &key);
}

struct queue_msg *
queue_msg_first(void)
{
	return RB_MIN(queue_msgs, &msgs);
}

struct queue_msg *
queue_msg_next(struct queue_msg *m)
{
	return RB_NEXT(queue_msgs, &msgs, m);
}

/* Makes the waiting recipients of m (or of all messages) due now. */
size_t
queue_sched_flush(const struct queue_msg *m)
{
	struct queue_task	*t, *next;
	size_t			 n = 0;

	for (t = RB_MIN(queue_waits, &waits); t != NULL; t = next) {
		next = RB_NEXT(queue_waits, &waits, t);
		if (m != NULL && t->msg != m)
			continue;
		RB_REMOVE(queue_waits, &waits, t);
		queue_task_ready(t);
		n++;
	}
	queue_sched_arm();
	queue_sched_pump();
	return n;
}

/*
 * posternctl queue remove: the recipients are no longer scheduled; the
 * files go once no delivery of it is in flight.
 */
void
queue_sched_remove(struct queue_msg *m)
{
	size_t	 i;

	for (i = 0; i < m->env.nrcpts; i++)
		if (m->tasks[i].where != QUEUE_TASK_FLIGHT)
			queue_task_cancel(&m->tasks[i]);
	m->removing = 1;
	log_info("message %s removed by the administrator", m->env.msgid);
	queue_sync_msg(m);
}

void
queue_sched_pause(int on)
{
	paused = on;
	queue_sched_pump();
}

void
queue_sched_stats(struct queue_stats *st)
{
	struct queue_msg	*m;
	struct spool_rcpt	*r;
	size_t			 i;

	memset(st, 0, sizeof(*st));
	st->messages = nmsgs;
	st->in_delivery = (size_t)ninflight;
	st->paused = paused;
	RB_FOREACH(m, queue_msgs, &msgs) {
		for (i = 0; i < m->env.nrcpts; i++) {
			r = &m->env.rcpts[i];
			if (r->state == SPOOL_RCPT_REMOTE)
				st->remote_waiting++;
			if (r->state != SPOOL_RCPT_PENDING)
				continue;
			st->pending_local++;
			if (r->attempts > 0)
				st->deferred++;
		}
	}
}

/* A recipient's state for people: what it waits for. */
const char *
queue_rcpt_status(const struct queue_msg *m, size_t i)
{
	const struct spool_rcpt	*r = &m->env.rcpts[i];

	switch (r->state) {
	case SPOOL_RCPT_PENDING:
		if (m->tasks[i].notice & QUEUE_NOTICE_DELIVERED)
			return "delivered";	/* its DSN is being made */
		if (m->tasks[i].where == QUEUE_TASK_FLIGHT)
			return "delivering";
		if (m->removing)
			return "removing";
		return r->attempts > 0 ? "deferred" : "pending";
	case SPOOL_RCPT_REMOTE:
		return "remote-waiting";
	case SPOOL_RCPT_DONE:
		return "done";
	case SPOOL_RCPT_FAILED:
		return "failed";
	case SPOOL_RCPT_BOUNCE:
		return "bouncing";
	}
	return "unknown";
}
