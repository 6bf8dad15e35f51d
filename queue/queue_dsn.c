/*
 * queue_dsn.c: delivery status notifications (RFC 3464) to the sender
 * of a message: for recipients that failed, permanently or by expiry;
 * for recipients delivered whose NOTIFY includes SUCCESS (RFC 3461
 * 5.2.2); and, once per recipient, for one still not delivered
 * queue.delay_warning after its message arrived, when NOTIFY includes
 * DELAY or was not given (RFC 3461 leaves delays to the MTA then).
 *
 * What is owed: a failed recipient is in the state "bounce"; a delivered
 * or delayed one has QUEUE_NOTICE_DELIVERED or QUEUE_NOTICE_DELAY on its
 * task (memory only).  The message is listed here and waits a moment
 * (QUEUE_DSN_GATHER), so that recipients that fail or are delivered
 * together share one DSN, whatever became of each; then:
 *
 *	1. no DSN is due for a null sender (which covers every DSN, and
 *	   a report is marked in its envelope as well), nor for a
 *	   recipient whose NOTIFY leaves the event out: those recipients
 *	   become final at once ("failed", "done"), with a log line;
 *	2. auth resolves the sender as it resolves a RCPT TO: local
 *	   mailboxes and remote addresses, or RCPT_RELAY_DENIED for a
 *	   domain that is not ours, which becomes one remote destination
 *	   (it waits for the outbound role); an unknown local sender
 *	   drops the DSN (dsn.dropped);
 *	3. the DSN (lib/dsn.c) is written to incoming/<id> with the null
 *	   sender and committed by the sync pass like a message from smtp:
 *	   file, envelope and directories fsynced (queue_commit_internal);
 *	4. after that pass (dsn.created), and only then, the recipients
 *	   it reports become final: "failed", or "done" for the delivered
 *	   ones (a delayed one is only marked as notified, in memory); a
 *	   later pass rewrites or removes the original's envelope.
 *
 * A crash before step 4 is on disk loses nothing: a failed recipient is
 * still "bounce" in the original's envelope and recovery makes its DSN
 * again; a delivered one is still "pending" there (the scheduler does
 * not mark it done while its DSN is owed), so it is handed to mda
 * again, which knows it as delivered (lib/maildir.c's delivery ids),
 * and its DSN is made then.  A duplicate DSN is possible, never a lost
 * one.  The flag that a delayed DSN was made lives in memory: after a
 * restart a recipient still waiting may get a second one.
 *
 * A temporary failure on the way (auth, the disk) lists the message
 * again for QUEUE_DSN_RETRY.  While a message is listed or busy here it
 * is not obsolete, so it cannot be freed under us; "queue remove" is
 * honoured when its turn comes (no DSN).
 *
 * Trusts: auth's answers to be well-formed (a peer: fatal otherwise).
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "dsn.h"
#include "log.h"
#include "posternd.h"
#include "proto.h"
#include "queue.h"

#define QUEUE_DSN_GATHER	1	/* s: what comes together, one DSN */
#define QUEUE_DSN_RETRY	60	/* s, after a temporary failure */

/* A recipient a DSN reports, and what it says of it. */
struct queue_dsn_item {
	size_t			 idx;
	enum dsn_action		 action;
};

/* One DSN under way: at auth, then being committed. */
struct queue_dsn {
	TAILQ_ENTRY(queue_dsn)	 entry;
	uint64_t		 reqid;
	struct queue_msg	*msg;
	struct queue_dsn_item	*items;	/* the recipients it reports */
	size_t			 n;
	size_t			 nby[DSN_DELIVERED + 1];	/* by action */
};

TAILQ_HEAD(queue_dsn_msgs, queue_msg);
TAILQ_HEAD(queue_dsn_reqs, queue_dsn);

static struct queue_dsn_msgs	 listed = TAILQ_HEAD_INITIALIZER(listed);
static struct queue_dsn_reqs	 at_auth = TAILQ_HEAD_INITIALIZER(at_auth);
static struct event		*dsn_ev;
static uint64_t			 dsn_reqids;

static void	queue_dsn_run(int, short, void *);

void
queue_dsn_init(void)
{
	if ((dsn_ev = evtimer_new(child_base(), queue_dsn_run, NULL)) == NULL)
		fatalx("%s: evtimer_new", __func__);
}

/* The timer at the earliest listed message. */
static void
queue_dsn_arm(void)
{
	struct queue_msg	*m;
	struct timeval		 tv;
	time_t			 first = 0, now = time(NULL);

	TAILQ_FOREACH(m, &listed, dsn_entry)
		if (first == 0 || m->dsn_when < first)
			first = m->dsn_when;
	if (first == 0) {
		evtimer_del(dsn_ev);
		return;
	}
	timerclear(&tv);
	if (first > now)
		tv.tv_sec = first - now;
	evtimer_add(dsn_ev, &tv);
}

static void
queue_dsn_list(struct queue_msg *m, time_t delay)
{
	m->dsn = QUEUE_DSN_LISTED;
	m->dsn_when = time(NULL) + delay;
	TAILQ_INSERT_TAIL(&listed, m, dsn_entry);
	queue_dsn_arm();
}

/* m has a recipient in the state bounce, or a notice owed. */
void
queue_dsn_want(struct queue_msg *m)
{
	/* Busy: the end of that DSN looks for more. */
	if (m->dsn == QUEUE_DSN_NONE)
		queue_dsn_list(m, QUEUE_DSN_GATHER);
}

static void
queue_dsn_free(struct queue_dsn *d)
{
	free(d->items);
	free(d);
}

/* Why no DSN is due for r, or NULL. */
static const char *
queue_dsn_unwanted(const struct queue_msg *m, const struct spool_rcpt *r,
    enum dsn_action a)
{
	if (m->removing)
		return "the message was removed";
	if (m->env.sender[0] == '\0')
		return "null sender";
	if (m->env.is_report)
		return "the message is a report";
	switch (a) {
	case DSN_FAILED:
		if (r->notify != 0 && !(r->notify & SPOOL_NOTIFY_FAILURE))
			return "NOTIFY leaves out failures";
		break;
	case DSN_DELAYED:
		if (r->notify != 0 && !(r->notify & SPOOL_NOTIFY_DELAY))
			return "NOTIFY leaves out delays";
		break;
	case DSN_DELIVERED:
		if (!(r->notify & SPOOL_NOTIFY_SUCCESS))
			return "NOTIFY leaves out success";
		break;
	}
	return NULL;
}

/* Whether recipient i owes a DSN now, and which. */
static int
queue_dsn_owed(const struct queue_msg *m, size_t i, enum dsn_action *a)
{
	const struct spool_rcpt	*r = &m->env.rcpts[i];
	unsigned int		 notice = m->tasks[i].notice;

	if (r->state == SPOOL_RCPT_BOUNCE)
		*a = DSN_FAILED;
	else if (notice & QUEUE_NOTICE_DELIVERED)
		*a = DSN_DELIVERED;
	else if ((notice & QUEUE_NOTICE_DELAY) &&
	    r->state == SPOOL_RCPT_PENDING)
		*a = DSN_DELAYED;
	else
		return 0;
	return 1;
}

/* Recipient i is reported (or needs no report) as a says. */
static void
queue_dsn_settle_rcpt(struct queue_msg *m, size_t i, enum dsn_action a)
{
	struct queue_task	*t = &m->tasks[i];

	switch (a) {
	case DSN_FAILED:
		m->env.rcpts[i].state = SPOOL_RCPT_FAILED;
		t->notice &= ~QUEUE_NOTICE_DELAY;
		break;
	case DSN_DELIVERED:
		m->env.rcpts[i].state = SPOOL_RCPT_DONE;
		t->notice &= ~(QUEUE_NOTICE_DELIVERED | QUEUE_NOTICE_DELAY);
		break;
	case DSN_DELAYED:
		t->notice &= ~QUEUE_NOTICE_DELAY;
		t->notice |= QUEUE_NOTICE_DELAY_SENT;
		break;
	}
}

/*
 * mda delivered t's recipient.  1 when a DSN is owed for it: the
 * scheduler leaves it pending then, and it becomes done when its DSN
 * is committed (see the top of this file).
 */
int
queue_dsn_delivered(struct queue_task *t)
{
	struct queue_msg	*m = t->msg;

	t->notice &= ~QUEUE_NOTICE_DELAY;
	if (queue_dsn_unwanted(m, &m->env.rcpts[t->idx], DSN_DELIVERED) !=
	    NULL)
		return 0;
	t->notice |= QUEUE_NOTICE_DELIVERED;
	queue_dsn_want(m);
	return 1;
}

/* t's recipient was deferred: once it waited long enough, a DSN. */
void
queue_dsn_deferred(struct queue_task *t)
{
	struct queue_msg	*m = t->msg;

	if (t->notice & (QUEUE_NOTICE_DELAY | QUEUE_NOTICE_DELAY_SENT))
		return;
	if (time(NULL) - m->env.created < child_config()->queue.delay_warning)
		return;
	if (queue_dsn_unwanted(m, &m->env.rcpts[t->idx], DSN_DELAYED) !=
	    NULL) {
		t->notice |= QUEUE_NOTICE_DELAY_SENT;	/* decided: none */
		return;
	}
	t->notice |= QUEUE_NOTICE_DELAY;
	queue_dsn_want(m);
}

static void
queue_dsn_ask_auth(struct queue_dsn *d)
{
	struct ibuf	 ib;

	d->reqid = ++dsn_reqids;
	ibuf_init(&ib);
	ibuf_add_u64(&ib, d->reqid);
	ibuf_add_u32(&ib, 0);
	ibuf_add_str(&ib, d->msg->env.sender);
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	imsgev_xcompose(child_peer(PROC_AUTH), IMSG_AUTH_RCPT, 0, 0, -1,
	    ib.data, ib.len);
	ibuf_free(&ib);
	TAILQ_INSERT_TAIL(&at_auth, d, entry);
}

/* Step 1 for one message, then step 2 if a DSN is due. */
static void
queue_dsn_start(struct queue_msg *m)
{
	struct queue_dsn	*d;
	const char		*why;
	enum dsn_action		 a;
	size_t			 i;
	int			 changed = 0;

	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->items = calloc(m->env.nrcpts, sizeof(*d->items))) == NULL)
		fatal("%s", __func__);
	d->msg = m;
	for (i = 0; i < m->env.nrcpts; i++) {
		if (!queue_dsn_owed(m, i, &a))
			continue;
		if ((why = queue_dsn_unwanted(m, &m->env.rcpts[i], a)) !=
		    NULL) {
			log_info("message %s: no DSN for %s: %s",
			    m->env.msgid, m->env.rcpts[i].orig, why);
			queue_dsn_settle_rcpt(m, i, a);
			changed = 1;
			continue;
		}
		d->items[d->n].idx = i;
		d->items[d->n++].action = a;
		d->nby[a]++;
	}
	if (d->n == 0) {
		queue_dsn_free(d);
		if (changed || queue_msg_obsolete(m))
			queue_sync_msg(m);
		return;
	}
	m->dsn = QUEUE_DSN_BUSY;
	queue_dsn_ask_auth(d);
}

static void
queue_dsn_run(int fd, short ev, void *arg)
{
	struct queue_msg	*m, *next;
	time_t			 now = time(NULL);

	for (m = TAILQ_FIRST(&listed); m != NULL; m = next) {
		next = TAILQ_NEXT(m, dsn_entry);
		if (m->dsn_when > now)
			continue;
		TAILQ_REMOVE(&listed, m, dsn_entry);
		m->dsn = QUEUE_DSN_NONE;
		queue_dsn_start(m);
	}
	queue_dsn_arm();
}

/* Gives up for now: what is owed stays owed, tried again later. */
static void
queue_dsn_later(struct queue_dsn *d)
{
	struct queue_msg	*m = d->msg;

	queue_dsn_free(d);
	queue_dsn_list(m, QUEUE_DSN_RETRY);
}

/* The recipients d reports are final now (a delayed one: notified). */
static void
queue_dsn_settle(struct queue_dsn *d)
{
	struct queue_msg	*m = d->msg;
	enum dsn_action		 a;
	size_t			 i;
	int			 more = 0;

	for (i = 0; i < d->n; i++)
		queue_dsn_settle_rcpt(m, d->items[i].idx, d->items[i].action);
	for (i = 0; i < m->env.nrcpts; i++)
		if (queue_dsn_owed(m, i, &a))
			more = 1;
	m->dsn = QUEUE_DSN_NONE;
	queue_dsn_free(d);
	queue_sync_msg(m);
	if (more)
		queue_dsn_want(m);
}

/*
 * The original message for the report: the whole of it when *full is
 * set and it is small enough (else *full is cleared), or its beginning,
 * where the header is.  NULL on an error, logged.
 */
static char *
queue_dsn_original(const struct queue_msg *m, size_t *len, int *full)
{
	struct stat	 st;
	char		*buf;
	size_t		 want, got = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = spool_open_message(m->env.msgid)) == -1 ||
	    fstat(fd, &st) == -1) {
		log_warn("DSN for %s: messages/%s", m->env.msgid, m->env.msgid);
		if (fd != -1)
			close(fd);
		return NULL;
	}
	*full = *full && st.st_size <= DSN_FULL_MAX;
	want = *full || st.st_size < DSN_HEADER_MAX ? (size_t)st.st_size :
	    DSN_HEADER_MAX;
	if ((buf = malloc(want + 1)) == NULL)
		fatal("%s", __func__);
	while (got < want && (n = pread(fd, buf + got, want - got,
	    (off_t)got)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_warn("DSN for %s: read", m->env.msgid);
			close(fd);
			free(buf);
			return NULL;
		}
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return buf;
}

/* The report of d, without the DSN's id: its recipients in rcpts. */
static void
queue_dsn_report(const struct queue_dsn *d, struct dsn_report *rep,
    struct dsn_rcpt *rcpts)
{
	const struct queue_msg	*m = d->msg;
	const struct spool_rcpt	*r;
	size_t			 i;

	for (i = 0; i < d->n; i++) {
		r = &m->env.rcpts[d->items[i].idx];
		rcpts[i].final = r->orig;
		rcpts[i].orcpt = r->orcpt;
		rcpts[i].reason = r->reason;
		rcpts[i].action = d->items[i].action;
	}
	memset(rep, 0, sizeof(*rep));
	rep->hostname = child_config()->hostname;
	rep->msgid = m->env.msgid;
	rep->envid = m->env.envid;
	rep->sender = m->env.sender;
	rep->arrival = m->env.created;
	rep->now = time(NULL);
	rep->retry_until = m->env.created + child_config()->queue.expire;
	rep->full = m->env.ret == SPOOL_RET_FULL;
	rep->rcpts = rcpts;
	rep->nrcpts = d->n;
}

/* Writes the DSN for d into incoming/<env->msgid>: 0 or -1 (logged). */
static int
queue_dsn_write(struct queue_dsn *d, struct spool_envelope *env)
{
	const struct queue_msg	*m = d->msg;
	struct dsn_report	 rep;
	struct dsn_rcpt		*rcpts;
	char			*orig, *text = NULL;
	size_t			 origlen, len;
	int			 fd, full, saved;

	if ((rcpts = calloc(d->n, sizeof(*rcpts))) == NULL)
		fatal("%s", __func__);
	queue_dsn_report(d, &rep, rcpts);
	full = dsn_full(&rep);
	if ((orig = queue_dsn_original(m, &origlen, &full)) == NULL) {
		free(rcpts);
		return -1;
	}
	rep.full = full;
	if ((fd = spool_create(env->msgid, sizeof(env->msgid))) == -1) {
		log_warn("DSN for %s: cannot create a message in incoming/",
		    m->env.msgid);
		goto fail;
	}
	rep.dsnid = env->msgid;
	if ((text = dsn_build(&rep, orig, origlen, &len)) == NULL ||
	    spool_write_all(fd, text, len) == -1 || close(fd) == -1) {
		saved = errno;
		if (text != NULL)
			(void)close(fd);
		errno = saved;
		log_warn("DSN for %s: incoming/%s", m->env.msgid, env->msgid);
		(void)spool_unlink(SPOOL_INCOMING, env->msgid, "");
		(void)spool_unlink(SPOOL_ENVELOPES, env->msgid, ".tmp");
		goto fail;
	}
	env->size = len;
	/* Summed here: the commit then need not read the file back. */
	if (spool_sum_buf(text, len, env->sum, sizeof(env->sum)) == -1) {
		log_warn("DSN for %s: sum", m->env.msgid);
		(void)spool_unlink(SPOOL_INCOMING, env->msgid, "");
		(void)spool_unlink(SPOOL_ENVELOPES, env->msgid, ".tmp");
		goto fail;
	}
	free(text);
	free(rcpts);
	free(orig);
	return 0;
fail:
	free(text);
	free(rcpts);
	free(orig);
	return -1;
}

/* Step 4, after the sync pass that had the DSN. */
static void
queue_dsn_committed(void *arg, int ok, const char *dsnid)
{
	struct queue_dsn	*d = arg;
	struct queue_msg	*m = d->msg;
	struct log_event	 ev;

	if (!ok) {
		log_warnx("DSN for %s not committed: tried again in %d s",
		    m->env.msgid, QUEUE_DSN_RETRY);
		queue_dsn_later(d);
		return;
	}
	log_event_begin(&ev, "dsn.created");
	log_event_add(&ev, "msgid", "%s", dsnid);
	log_event_add(&ev, "orig_msgid", "%s", m->env.msgid);
	log_event_add(&ev, "to", "%s", m->env.sender);
	log_event_add(&ev, "rcpts", "%zu", d->n);
	log_event_add(&ev, "failed", "%zu", d->nby[DSN_FAILED]);
	log_event_add(&ev, "delayed", "%zu", d->nby[DSN_DELAYED]);
	log_event_add(&ev, "delivered", "%zu", d->nby[DSN_DELIVERED]);
	log_event_end(&ev);
	queue_dsn_settle(d);
}

static void
queue_dsn_drop(struct queue_dsn *d, const char *why)
{
	struct log_event	 ev;

	log_warnx("message %s: DSN to <%s> dropped: %s", d->msg->env.msgid,
	    d->msg->env.sender, why);
	log_event_begin(&ev, "dsn.dropped");
	log_event_add(&ev, "orig_msgid", "%s", d->msg->env.msgid);
	log_event_add(&ev, "to", "%s", d->msg->env.sender);
	log_event_add(&ev, "reason", "%s", why);
	log_event_end(&ev);
	queue_dsn_settle(d);
}

/* The envelope of the DSN: null sender, a report, to the destinations. */
static void
queue_dsn_envelope(struct spool_envelope *env, size_t n)
{
	memset(env, 0, sizeof(*env));
	env->created = time(NULL);
	env->is_report = 1;
	if ((env->rcpts = calloc(n, sizeof(*env->rcpts))) == NULL)
		fatal("%s", __func__);
	env->nrcpts = n;
}

static void
queue_dsn_dest(struct spool_rcpt *r, uint32_t kind, const char *sender)
{
	r->kind = kind == DEST_LOCAL ? SPOOL_KIND_LOCAL : SPOOL_KIND_REMOTE;
	r->state = kind == DEST_LOCAL ? SPOOL_RCPT_PENDING : SPOOL_RCPT_REMOTE;
	(void)strlcpy(r->orig, sender, sizeof(r->orig));
}

/*
 * IMSG_AUTH_RCPT_RESULT: u64 reqid, u32 result, u32 n, then n times
 * u32 kind, str address.
 */
void
queue_dsn_auth_result(struct imsg *imsg)
{
	struct imsg_reader	 rd;
	struct queue_dsn	*d;
	struct spool_envelope	 env;
	uint64_t		 reqid;
	uint32_t		 result, n, i, kind;

	imsg_reader_init(&rd, imsg, "IMSG_AUTH_RCPT_RESULT");
	reqid = imsg_read_u64(&rd);
	TAILQ_FOREACH(d, &at_auth, entry)
		if (d->reqid == reqid)
			break;
	if (d == NULL)
		fatalx("auth answered for unknown DSN request %llu",
		    (unsigned long long)reqid);
	TAILQ_REMOVE(&at_auth, d, entry);
	result = imsg_read_u32(&rd);
	n = imsg_read_u32(&rd);
	if (n > MAX_DESTS || (result == RCPT_OK) != (n > 0))
		fatalx("auth answered %u destinations with result %u", n,
		    result);
	queue_dsn_envelope(&env, n > 0 ? n : 1);
	for (i = 0; i < n; i++) {
		kind = imsg_read_u32(&rd);
		if (kind != DEST_LOCAL && kind != DEST_REMOTE)
			fatalx("auth answered destination kind %u", kind);
		queue_dsn_dest(&env.rcpts[i], kind, d->msg->env.sender);
		imsg_read_str(&rd, env.rcpts[i].dest,
		    sizeof(env.rcpts[i].dest));
	}
	imsg_reader_end(&rd);
	switch (result) {
	case RCPT_OK:
		break;
	case RCPT_RELAY_DENIED:
		/* Not our domain: the outbound role will take it. */
		queue_dsn_dest(&env.rcpts[0], DEST_REMOTE, d->msg->env.sender);
		(void)strlcpy(env.rcpts[0].dest, d->msg->env.sender,
		    sizeof(env.rcpts[0].dest));
		break;
	case RCPT_UNKNOWN:
		spool_envelope_free(&env);
		queue_dsn_drop(d, "no such local sender");
		return;
	case RCPT_TEMPFAIL:
		spool_envelope_free(&env);
		queue_dsn_later(d);
		return;
	default:
		fatalx("auth answered result %u", result);
	}
	if (queue_dsn_write(d, &env) == -1) {
		spool_envelope_free(&env);
		queue_dsn_later(d);
		return;
	}
	queue_commit_internal(&env, queue_dsn_committed, d);
}
