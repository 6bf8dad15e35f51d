/*
 * queue.c: the queue role.  Owns the spool under state_dir/queue (its
 * chroot, so every path is relative) and the messages being received.
 *
 * A message comes in from smtp in four steps: CREATE (we make
 * incoming/<msgid> and pass smtp a writable fd), RCPT frames (one per
 * destination), COMMIT (make it durable, then answer) or ABORT (throw it
 * away).  A 250 is only sent by smtp after our COMMIT_RESULT ok=1, and we
 * only send that once the message and its envelope are on stable
 * storage.
 *
 * The sync pass.  Making things durable is what costs, and it can be
 * shared: COMMITs (and envelope updates after deliveries) are only
 * collected when they arrive, and a zero-timeout timer runs one pass
 * for all that was collected.  A barrier is a syncset flush
 * (lib/syncset.h: one syncfs(2) of the spool's file system, or an fsync
 * of each file and directory, as queue.sync says):
 *
 *	1. each message: its size (smtp sent the SHA-256, the envelope's
 *	   sum, with COMMIT; a DSN the queue wrote was summed as built),
 *	   rename incoming/<id> to messages/<id>, write
 *	   envelopes/<id>.tmp and rename it to envelopes/<id>; each
 *	   updated envelope: write its .tmp; each finished message:
 *	   its envelope leaves (put off to the next pass when this one
 *	   has commits)
 *	   barrier, only when there are updates: a rewritten envelope
 *	   replaces the old one only once the new one is durable
 *	2. rename every update's .tmp over envelopes/<id>
 *	   barrier: everything above is durable
 *	3. answer every COMMIT (sent at once), schedule the new messages
 *	4. the files of the messages whose envelope's removal that
 *	   barrier made durable leave
 *
 * "Leave" is: become a spare (see the spares below) or be unlinked.
 *
 * A commit needs one barrier, not two, because the envelope carries
 * the message's sum: if the machine stops while the barrier runs, an
 * envelope may survive with a message that did not, and recovery
 * (spool_recover, after an unclean stop) finds the mismatch and
 * quarantines the message, which nobody was told 250 for.
 *
 * A pass with nothing but finished messages has no barrier: removing an
 * envelope needs none (after a crash that undoes it the recipients are
 * handed to mda again, which knows them as delivered), only the removal
 * of the message file must wait until the envelope's is durable, or
 * recovery would find an envelope without its message.  Those files wait
 * on the gone list for the next pass's second barrier, or for a pass of
 * their own after QUEUE_GONE_WAIT seconds without one.
 *
 * While a pass runs (blocked in the barriers) further COMMITs queue up
 * in the socket and all go into the next pass, so the batch grows with
 * the load: N concurrent commits cost one syncfs call (or 2N file and
 * two directory fsyncs).
 *
 * Failure: a commit that fails at any step is undone (envelope first,
 * then message) and answered ok=0, so smtp says 451.  If an envelope
 * update cannot be written it stays in memory and is retried.
 *
 * Recovery at start: see spool_recover().  Everything that has an
 * envelope is scheduled at once; nothing without one is kept.
 *
 * Trusts: smtp and mda to send well-formed frames (they are peer
 * processes: anything else is fatal); nothing on disk.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "posternd.h"
#include "proto.h"
#include "queue.h"
#include "syncset.h"

#define QUEUE_MAX_RECEIVING	4096	/* between CREATE and COMMIT */
#define QUEUE_SYNC_RETRY	5	/* seconds, after a failed update */
#define QUEUE_GONE_WAIT		1	/* seconds a gone file waits at most */
#define QUEUE_SPARES		16	/* spare files of each kind, at most */
#define QUEUE_SPARES_MADE	4	/* made when recycling falls short */

/* A message smtp is writing: from CREATE to COMMIT_RESULT or ABORT. */
struct queue_incoming {
	RB_ENTRY(queue_incoming)	 entry;
	TAILQ_ENTRY(queue_incoming)	 commit_entry;
	uint64_t			 reqid;
	struct spool_envelope		 env;
	size_t				 rcptcap;
	uint64_t			 written;	/* smtp's count */
	int				 committing;
	int				 failed;	/* ok=0, undo */
	queue_commit_fn			 done;		/* internal: a DSN */
	void				*done_arg;
};

/* A spare file (spool.h): its id, and for a message file its fd. */
struct queue_spare {
	char				 id[SPOOL_MSGID_SIZE];
	int				 fd;
};

struct queue_spares {
	struct queue_spare		 v[QUEUE_SPARES];
	int				 n;
};

/* A message file to remove once its envelope's removal is durable. */
struct queue_gone {
	TAILQ_ENTRY(queue_gone)		 entry;
	char				 msgid[SPOOL_MSGID_SIZE];
};

RB_HEAD(queue_incomings, queue_incoming);
TAILQ_HEAD(queue_commits, queue_incoming);
TAILQ_HEAD(queue_gones, queue_gone);
TAILQ_HEAD(queue_syncs, queue_msg);

static int	queue_incoming_cmp(struct queue_incoming *,
		    struct queue_incoming *);
RB_GENERATE_STATIC(queue_incomings, queue_incoming, entry, queue_incoming_cmp)

static struct queue_incomings	 incomings = RB_INITIALIZER(&incomings);
static size_t			 nincoming;
static struct queue_commits	 commits = TAILQ_HEAD_INITIALIZER(commits);
static struct queue_syncs	 syncs = TAILQ_HEAD_INITIALIZER(syncs);
static struct queue_syncs	 sync_retry =
				    TAILQ_HEAD_INITIALIZER(sync_retry);
static struct queue_gones	 gone = TAILQ_HEAD_INITIALIZER(gone);
static struct event		*sync_ev, *sync_retry_ev, *gone_ev, *spare_ev;
static struct queue_spares	 msg_spares;	/* incoming/spare-ID */
static struct queue_spares	 env_spares;	/* envelopes/spare-ID.tmp */
static struct syncset		 ss;		/* the pass's barriers */
static int			 spoolfd = -1;	/* the spool's root */
static int			 was_root;
static int			 shutting_down;

static int
queue_incoming_cmp(struct queue_incoming *a, struct queue_incoming *b)
{
	return strcmp(a->env.msgid, b->env.msgid);
}

static struct queue_incoming *
queue_incoming_find(const char *msgid)
{
	struct queue_incoming	 key;

	memset(&key, 0, sizeof(key));
	if (strlcpy(key.env.msgid, msgid, sizeof(key.env.msgid)) >=
	    sizeof(key.env.msgid))
		return NULL;
	return RB_FIND(queue_incomings, &incomings, &key);
}

static void
queue_incoming_free(struct queue_incoming *in)
{
	RB_REMOVE(queue_incomings, &incomings, in);
	nincoming--;
	spool_envelope_free(&in->env);
	free(in);
}

static void
queue_sync_schedule(void)
{
	struct timeval	 tv;

	timerclear(&tv);
	if (!evtimer_pending(sync_ev, NULL))
		evtimer_add(sync_ev, &tv);
}

/* Puts m on the next sync pass: its envelope is rewritten or removed. */
void
queue_sync_msg(struct queue_msg *m)
{
	if (m->on_sync)
		return;
	m->on_sync = 1;
	TAILQ_INSERT_TAIL(&syncs, m, sync_entry);
	queue_sync_schedule();
}

/* smtp */

static void
queue_create_reply(uint64_t reqid, const char *msgid, int fd)
{
	struct ibuf	 ib;

	ibuf_init(&ib);
	ibuf_add_u64(&ib, reqid);
	ibuf_add_u32(&ib, fd != -1);
	ibuf_add_str(&ib, msgid);
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	imsgev_xcompose(child_peer(PROC_SMTP), IMSG_QUEUE_CREATE_RESULT, 0, 0,
	    fd, ib.data, ib.len);
	ibuf_free(&ib);
}

/*
 * Spares.  CREATE hands out a message file and an envelope .tmp made
 * ahead when there are some (renames), and the files of a message that
 * left the queue become spares instead of being unlinked, up to
 * QUEUE_SPARES of each.  In a steady flow the queue then allocates and
 * frees no inode at all; when recycling falls short, QUEUE_SPARES_MADE
 * are made once the CREATE's answer has left.
 */
static void
queue_spare_refill(int fd, short ev, void *arg)
{
	struct queue_spare	*sp;
	int			 env;

	while (!shutting_down && msg_spares.n < QUEUE_SPARES_MADE) {
		sp = &msg_spares.v[msg_spares.n];
		/* Envelopes are recycled sooner: they may not be short. */
		env = env_spares.n < QUEUE_SPARES_MADE;
		if ((sp->fd = spool_spare_make(sp->id, sizeof(sp->id), env)) ==
		    -1) {
			log_warn("cannot make a spare message file");
			return;		/* CREATE makes its own meanwhile */
		}
		msg_spares.n++;
		if (env) {
			env_spares.v[env_spares.n].fd = -1;
			(void)strlcpy(env_spares.v[env_spares.n++].id, sp->id,
			    sizeof(sp->id));
		}
	}
}

static void
queue_spare_schedule(void)
{
	struct timeval	 tv;

	timerclear(&tv);
	if (msg_spares.n < QUEUE_SPARES_MADE &&
	    !evtimer_pending(spare_ev, NULL))
		evtimer_add(spare_ev, &tv);
}

/* A message file for CREATE: a spare put in place, or a new one. */
static int
queue_spare_take(char *msgid, size_t sz)
{
	struct queue_spare	*sp;
	int			 fd = -1;

	while (fd == -1 && msg_spares.n > 0) {
		sp = &msg_spares.v[--msg_spares.n];
		if (spool_spare_take(sp->id) == 0) {
			(void)strlcpy(msgid, sp->id, sz);
			fd = sp->fd;
			break;
		}
		log_warn("spare message file %s", sp->id);
		(void)close(sp->fd);
		spool_spare_drop(sp->id);
	}
	if (fd == -1)
		return spool_create(msgid, sz);
	/* Best effort: the commit creates the .tmp if there is none. */
	while (env_spares.n > 0) {
		sp = &env_spares.v[--env_spares.n];
		if (spool_spare_take_envelope(sp->id, msgid) == 0)
			break;
		spool_spare_drop_envelope(sp->id);
	}
	return fd;
}

/* envelopes/<msgid> leaves: recycled as a spare, or unlinked. */
static int
queue_spare_envelope(const char *msgid)
{
	struct queue_spare	*sp;

	if (!shutting_down && env_spares.n < QUEUE_SPARES) {
		sp = &env_spares.v[env_spares.n];
		if (spool_recycle_envelope(msgid, sp->id, sizeof(sp->id)) ==
		    0) {
			sp->fd = -1;
			env_spares.n++;
			return 0;
		}
	}
	return spool_unlink(SPOOL_ENVELOPES, msgid, "");
}

/* messages/<msgid> leaves: recycled as a spare, or unlinked. */
static int
queue_spare_message(const char *msgid)
{
	struct queue_spare	*sp;

	if (!shutting_down && msg_spares.n < QUEUE_SPARES) {
		sp = &msg_spares.v[msg_spares.n];
		if ((sp->fd = spool_recycle_message(msgid, sp->id,
		    sizeof(sp->id))) != -1) {
			msg_spares.n++;
			return 0;
		}
	}
	return spool_unlink(SPOOL_MESSAGES, msgid, "");
}

static void
queue_spare_drop_all(void)
{
	struct queue_spare	*sp;

	while (msg_spares.n > 0) {
		sp = &msg_spares.v[--msg_spares.n];
		(void)close(sp->fd);
		spool_spare_drop(sp->id);
	}
	while (env_spares.n > 0)
		spool_spare_drop_envelope(env_spares.v[--env_spares.n].id);
}

/* CREATE: u64 reqid */
static void
queue_create(struct imsg *imsg)
{
	struct imsg_reader	 r;
	struct queue_incoming	*in;
	char			 msgid[SPOOL_MSGID_SIZE];
	uint64_t		 reqid;
	int			 fd;

	imsg_reader_init(&r, imsg, "IMSG_QUEUE_CREATE");
	reqid = imsg_read_u64(&r);
	imsg_reader_end(&r);
	if (nincoming >= QUEUE_MAX_RECEIVING) {
		log_warnx("%d messages are being received: refusing another",
		    QUEUE_MAX_RECEIVING);
		queue_create_reply(reqid, "", -1);
		return;
	}
	if ((fd = queue_spare_take(msgid, sizeof(msgid))) == -1) {
		log_warn("cannot create a message in incoming/");
		queue_create_reply(reqid, "", -1);
		return;
	}
	if ((in = calloc(1, sizeof(*in))) == NULL)
		fatal("%s", __func__);
	in->reqid = reqid;
	(void)strlcpy(in->env.msgid, msgid, sizeof(in->env.msgid));
	if (RB_INSERT(queue_incomings, &incomings, in) != NULL)
		fatalx("%s: duplicate msgid %s", __func__, msgid);
	nincoming++;
	queue_create_reply(reqid, msgid, fd);
	imsgev_flush(child_peer(PROC_SMTP));
	queue_spare_schedule();
}

/* The message a RCPT, COMMIT or ABORT names; it must be ours. */
static struct queue_incoming *
queue_incoming_get(const char *msgid, const char *what)
{
	struct queue_incoming	*in;

	if ((in = queue_incoming_find(msgid)) == NULL)
		fatalx("%s for unknown message \"%s\"", what, msgid);
	if (in->committing)
		fatalx("%s for message %s after its COMMIT", what, msgid);
	return in;
}

static struct spool_rcpt *
queue_incoming_add_rcpt(struct queue_incoming *in)
{
	struct spool_rcpt	*r;
	size_t			 cap;

	if (in->env.nrcpts >= SPOOL_MAX_RCPTS)
		fatalx("message %s: more than %d recipients", in->env.msgid,
		    SPOOL_MAX_RCPTS);
	if (in->env.nrcpts == in->rcptcap) {
		cap = in->rcptcap == 0 ? 4 : in->rcptcap * 2;
		if ((r = reallocarray(in->env.rcpts, cap, sizeof(*r))) == NULL)
			fatal("%s", __func__);
		in->env.rcpts = r;
		in->rcptcap = cap;
	}
	r = &in->env.rcpts[in->env.nrcpts++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* RCPT: u64 reqid, str msgid, u32 kind, str dest, str rcpt[, u32 notify,
 * str orcpt] */
static void
queue_rcpt(struct imsg *imsg)
{
	struct imsg_reader	 rd;
	struct queue_incoming	*in;
	struct spool_rcpt	*r;
	char			 msgid[SPOOL_MSGID_SIZE];
	uint64_t		 reqid;
	uint32_t		 kind;

	imsg_reader_init(&rd, imsg, "IMSG_QUEUE_RCPT");
	reqid = imsg_read_u64(&rd);
	imsg_read_str(&rd, msgid, sizeof(msgid));
	in = queue_incoming_get(msgid, "RCPT");
	if (in->reqid != reqid)
		fatalx("RCPT for message %s from another session", msgid);
	kind = imsg_read_u32(&rd);
	if (kind != DEST_LOCAL && kind != DEST_REMOTE)
		fatalx("RCPT for message %s: kind %u", msgid, kind);
	r = queue_incoming_add_rcpt(in);
	r->kind = kind == DEST_LOCAL ? SPOOL_KIND_LOCAL : SPOOL_KIND_REMOTE;
	r->state = kind == DEST_LOCAL ? SPOOL_RCPT_PENDING : SPOOL_RCPT_REMOTE;
	imsg_read_str(&rd, r->dest, sizeof(r->dest));
	imsg_read_str(&rd, r->orig, sizeof(r->orig));
	if (rd.left > 0) {
		/* RFC 3461's NOTIFY and ORCPT; checked with the envelope. */
		r->notify = imsg_read_u32(&rd);
		imsg_read_str(&rd, r->orcpt, sizeof(r->orcpt));
	}
	imsg_reader_end(&rd);
}

/*
 * COMMIT: u64 reqid, str msgid, str sender, str client, str helo,
 * u64 size, u32 n[, u32 ret, str envid].  Only collected here: the sync
 * pass does the work.
 */
static void
queue_commit(struct imsg *imsg)
{
	struct imsg_reader	 rd;
	struct queue_incoming	*in;
	char			 msgid[SPOOL_MSGID_SIZE];
	char			 err[SPOOL_ERR_SIZE];
	uint64_t		 reqid;
	uint32_t		 n;

	imsg_reader_init(&rd, imsg, "IMSG_QUEUE_COMMIT");
	reqid = imsg_read_u64(&rd);
	imsg_read_str(&rd, msgid, sizeof(msgid));
	in = queue_incoming_get(msgid, "COMMIT");
	if (in->reqid != reqid)
		fatalx("COMMIT for message %s from another session", msgid);
	imsg_read_str(&rd, in->env.sender, sizeof(in->env.sender));
	imsg_read_str(&rd, in->env.client, sizeof(in->env.client));
	imsg_read_str(&rd, in->env.helo, sizeof(in->env.helo));
	in->env.size = imsg_read_u64(&rd);
	n = imsg_read_u32(&rd);
	/* RFC 3461's RET and ENVID; checked with the envelope. */
	in->env.ret = (int)imsg_read_u32(&rd);
	imsg_read_str(&rd, in->env.envid, sizeof(in->env.envid));
	/* smtp's SHA-256 of the file and its length, checked below. */
	imsg_read_str(&rd, in->env.sum, sizeof(in->env.sum));
	in->written = imsg_read_u64(&rd);
	imsg_reader_end(&rd);
	if (!spool_sum_valid(in->env.sum))
		fatalx("COMMIT for message %s with a malformed sum", msgid);
	if (n == 0 || n != in->env.nrcpts)
		fatalx("COMMIT for message %s: %u recipients announced, %zu "
		    "received", msgid, n, in->env.nrcpts);
	in->env.created = time(NULL);
	in->committing = 1;
	if (spool_envelope_check(&in->env, err, sizeof(err)) == -1) {
		/* smtp checks what it accepts; this is defence in depth. */
		log_warnx("message %s refused: %s", msgid, err);
		in->failed = 1;
	}
	TAILQ_INSERT_TAIL(&commits, in, commit_entry);
	queue_sync_schedule();
}

/*
 * A message the queue wrote itself (a DSN) into incoming/<msgid>: it is
 * committed by the next sync pass exactly as smtp's are, and done is
 * called after that pass instead of an answer to smtp.  Takes env over.
 */
void
queue_commit_internal(struct spool_envelope *env, queue_commit_fn done,
    void *arg)
{
	struct queue_incoming	*in;
	char			 err[SPOOL_ERR_SIZE];

	if ((in = calloc(1, sizeof(*in))) == NULL)
		fatal("%s", __func__);
	in->env = *env;
	memset(env, 0, sizeof(*env));
	in->done = done;
	in->done_arg = arg;
	in->committing = 1;
	if (RB_INSERT(queue_incomings, &incomings, in) != NULL)
		fatalx("%s: duplicate msgid %s", __func__, in->env.msgid);
	nincoming++;
	if (spool_envelope_check(&in->env, err, sizeof(err)) == -1) {
		log_warnx("message %s refused: %s", in->env.msgid, err);
		in->failed = 1;
	}
	TAILQ_INSERT_TAIL(&commits, in, commit_entry);
	queue_sync_schedule();
}

/* ABORT: str msgid */
static void
queue_abort(struct imsg *imsg)
{
	struct imsg_reader	 rd;
	struct queue_incoming	*in;
	char			 msgid[SPOOL_MSGID_SIZE];

	imsg_reader_init(&rd, imsg, "IMSG_QUEUE_ABORT");
	imsg_read_str(&rd, msgid, sizeof(msgid));
	imsg_reader_end(&rd);
	in = queue_incoming_get(msgid, "ABORT");
	if (spool_unlink(SPOOL_INCOMING, msgid, "") == -1)
		log_warn("incoming/%s", msgid);
	if (spool_unlink(SPOOL_ENVELOPES, msgid, ".tmp") == -1)
		log_warn("envelopes/%s.tmp", msgid);
	queue_incoming_free(in);
}

/* The sync pass. */

/* Step 1 for a commit: summed, moved, its envelope in place; all in ss. */
static void
queue_commit_prepare(struct queue_incoming *in)
{
	const char	*id = in->env.msgid;
	int		 fd;

	if (in->failed)
		return;
	if ((fd = spool_open_sync(SPOOL_INCOMING, id, &in->env.size)) == -1) {
		log_warn("commit %s: open incoming/%s", id, id);
		in->failed = 1;
		return;
	}
	/*
	 * smtp hashed the message as it wrote it, and the queue a DSN as
	 * it built it: the file is read back only if no sum came.  A
	 * file whose length is not what smtp wrote is refused: the sum
	 * would not be its own.
	 */
	if (in->env.sum[0] == '\0' && spool_sum_fd(fd, &in->env.size,
	    in->env.sum, sizeof(in->env.sum)) == -1) {
		log_warn("commit %s: read incoming/%s", id, id);
		(void)close(fd);
		in->failed = 1;
		return;
	}
	if (in->done == NULL && in->env.size != in->written) {
		log_warnx("commit %s: incoming/%s holds %llu bytes, smtp "
		    "wrote %llu", id, id, (unsigned long long)in->env.size,
		    (unsigned long long)in->written);
		(void)close(fd);
		in->failed = 1;
		return;
	}
	if (syncset_add(&ss, fd) == -1 || spool_move_incoming(id) == -1) {
		log_warn("commit %s: rename into messages/", id);
		in->failed = 1;
		return;
	}
	if (spool_envelope_write_tmp(&in->env, &ss) == -1 ||
	    spool_envelope_install(id) == -1) {
		log_warn("commit %s: write envelopes/%s", id, id);
		in->failed = 1;
	}
}

/* Takes back whatever a failed commit left; the envelope goes first. */
static void
queue_commit_undo(struct queue_incoming *in)
{
	const char	*id = in->env.msgid;

	if (spool_unlink(SPOOL_ENVELOPES, id, "") == -1)
		log_warn("undo commit: envelopes/%s", id);
	if (spool_unlink(SPOOL_ENVELOPES, id, ".tmp") == -1)
		log_warn("undo commit: envelopes/%s.tmp", id);
	if (spool_unlink(SPOOL_MESSAGES, id, "") == -1)
		log_warn("undo commit: messages/%s", id);
	if (spool_unlink(SPOOL_INCOMING, id, "") == -1)
		log_warn("undo commit: incoming/%s", id);
}

static void
queue_commit_reply(struct queue_incoming *in, int ok)
{
	struct ibuf	 ib;

	if (shutting_down || in->done != NULL)
		return;
	ibuf_init(&ib);
	ibuf_add_u64(&ib, in->reqid);
	ibuf_add_u32(&ib, ok);
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	imsgev_xcompose(child_peer(PROC_SMTP), IMSG_QUEUE_COMMIT_RESULT, 0, 0,
	    -1, ib.data, ib.len);
	ibuf_free(&ib);
}

/* Step 1 for an update: write the new envelope, or unlink the old. */
static int
queue_update_prepare(struct queue_msg *m, int *unlinked)
{
	const char	*id = m->env.msgid;

	if (queue_msg_obsolete(m)) {
		if (queue_spare_envelope(id) == -1) {
			log_warn("envelopes/%s", id);
			return -1;
		}
		*unlinked = 1;
		return 0;
	}
	if (spool_envelope_write_tmp(&m->env, &ss) == -1) {
		log_warn("envelopes/%s.tmp", id);
		return -1;
	}
	return 0;
}

/* Puts a failed update back for a later pass. */
static void
queue_update_retry(struct queue_msg *m)
{
	struct timeval	 tv = { QUEUE_SYNC_RETRY, 0 };

	TAILQ_INSERT_TAIL(&sync_retry, m, sync_entry);
	if (!evtimer_pending(sync_retry_ev, NULL))
		evtimer_add(sync_retry_ev, &tv);
}

static void
queue_sync_retry(int fd, short ev, void *arg)
{
	struct queue_msg	*m;

	while ((m = TAILQ_FIRST(&sync_retry)) != NULL) {
		TAILQ_REMOVE(&sync_retry, m, sync_entry);
		TAILQ_INSERT_TAIL(&syncs, m, sync_entry);
	}
	queue_sync_schedule();
}

/* The gone list. */

static void
queue_gone_add(const char *msgid)
{
	struct queue_gone	*g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		fatal("%s: calloc", __func__);
	(void)strlcpy(g->msgid, msgid, sizeof(g->msgid));
	TAILQ_INSERT_TAIL(&gone, g, entry);
}

/*
 * Step 3, after a second barrier: every file on the list had its
 * envelope unlinked before that barrier.  An orphan message is removed
 * at start anyway: a failure here is not retried.
 */
static void
queue_gone_remove(void)
{
	struct queue_gone	*g;

	while ((g = TAILQ_FIRST(&gone)) != NULL) {
		TAILQ_REMOVE(&gone, g, entry);
		if (queue_spare_message(g->msgid) == -1)
			log_warn("messages/%s", g->msgid);
		free(g);
	}
	if (evtimer_pending(gone_ev, NULL))
		evtimer_del(gone_ev);
}

/* A pass of its own for the gone list, when no other pass came. */
static void
queue_gone_run(int fd, short ev, void *arg)
{
	if (TAILQ_EMPTY(&gone))
		return;
	if (syncset_add_path(&ss, AT_FDCWD, SPOOL_ENVELOPES) == -1 ||
	    syncset_flush(&ss) == -1) {
		log_warn("sync envelopes/ (%s) for removals",
		    syncset_mode_name(ss.mode));
		return;		/* the next pass tries again */
	}
	queue_gone_remove();
}

static void
queue_gone_schedule(void)
{
	struct timeval	 tv = { QUEUE_GONE_WAIT, 0 };

	if (TAILQ_EMPTY(&gone) || evtimer_pending(gone_ev, NULL))
		return;
	evtimer_add(gone_ev, &tv);
}

/* The state of one pass. */
struct queue_pass {
	struct queue_commits	 commits;
	struct queue_syncs	 updates;
	struct queue_syncs	 removed;	/* envelope unlinked */
	struct queue_syncs	 later;		/* removals after the answers */
	int			 ncommits;	/* still going */
	int			 nupdates;
	int			 nremoved;
	int			 failed_dir;	/* not durable */
	int			 gone_durable;	/* the gone list may go */
};

static void
queue_pass_fail_commits(struct queue_pass *p)
{
	struct queue_incoming	*in;

	TAILQ_FOREACH(in, &p->commits, commit_entry)
		in->failed = 1;
}

/* Step 1 and its barrier. */
static void
queue_pass_prepare(struct queue_pass *p)
{
	struct queue_incoming	*in;
	struct queue_msg	*m, *next;
	int			 unlinked;

	TAILQ_FOREACH(in, &p->commits, commit_entry) {
		queue_commit_prepare(in);
		if (!in->failed)
			p->ncommits++;
	}
	for (m = TAILQ_FIRST(&p->updates); m != NULL; m = next) {
		next = TAILQ_NEXT(m, sync_entry);
		/*
		 * smtp waits for the commits; a removal can wait until
		 * the answers are out, but only once, or a steady stream
		 * of commits would put it off for ever.
		 */
		if (p->ncommits > 0 && queue_msg_obsolete(m) &&
		    !m->sync_deferred) {
			m->sync_deferred = 1;
			TAILQ_REMOVE(&p->updates, m, sync_entry);
			TAILQ_INSERT_TAIL(&p->later, m, sync_entry);
			continue;
		}
		unlinked = 0;
		if (queue_update_prepare(m, &unlinked) == -1) {
			TAILQ_REMOVE(&p->updates, m, sync_entry);
			queue_update_retry(m);
		} else if (unlinked) {
			TAILQ_REMOVE(&p->updates, m, sync_entry);
			TAILQ_INSERT_TAIL(&p->removed, m, sync_entry);
			queue_gone_add(m->env.msgid);
			p->nremoved++;
		} else
			p->nupdates++;
	}
	if (p->nupdates > 0 && syncset_flush(&ss) == -1) {
		log_warn("sync pass, first barrier (%s): %d commits fail",
		    syncset_mode_name(ss.mode), p->ncommits);
		queue_pass_fail_commits(p);
		p->failed_dir = 1;
	}
}

/* Step 2: updates renamed into place; the second barrier. */
static void
queue_pass_install(struct queue_pass *p)
{
	struct queue_msg	*m;

	TAILQ_FOREACH(m, &p->updates, sync_entry)
		if (spool_envelope_install(m->env.msgid) == -1) {
			log_warn("update %s: rename envelope", m->env.msgid);
			p->failed_dir = 1;
		}
	if (p->ncommits > 0)
		(void)syncset_add_path(&ss, AT_FDCWD, SPOOL_MESSAGES);
	if (syncset_add_path(&ss, AT_FDCWD, SPOOL_ENVELOPES) == -1 ||
	    syncset_flush(&ss) == -1) {
		log_warn("sync pass, second barrier (%s)",
		    syncset_mode_name(ss.mode));
		p->failed_dir = 1;
		queue_pass_fail_commits(p);
		return;
	}
	/* Everything on the gone list was unlinked before this barrier. */
	p->gone_durable = 1;
}

/*
 * Step 4: answers, new messages to the scheduler, memory freed.  The
 * commits come last: a DSN's done callback updates its original, which
 * may have been in this pass and must be off it by then.
 */
static void
queue_pass_finish(struct queue_pass *p)
{
	struct queue_incoming	*in;
	struct queue_msg	*m;
	char			 msgid[SPOOL_MSGID_SIZE];

	while ((m = TAILQ_FIRST(&p->updates)) != NULL) {
		TAILQ_REMOVE(&p->updates, m, sync_entry);
		if (p->failed_dir)
			queue_update_retry(m);
		else
			m->on_sync = 0;
	}
	while ((m = TAILQ_FIRST(&p->removed)) != NULL) {
		TAILQ_REMOVE(&p->removed, m, sync_entry);
		queue_msg_free(m);
	}
	while ((in = TAILQ_FIRST(&p->commits)) != NULL) {
		TAILQ_REMOVE(&p->commits, in, commit_entry);
		(void)strlcpy(msgid, in->env.msgid, sizeof(msgid));
		if (in->failed) {
			queue_commit_undo(in);
			queue_commit_reply(in, 0);
		} else {
			queue_commit_reply(in, 1);
			queue_sched_load(&in->env, 0);
		}
		if (in->done != NULL)
			in->done(in->done_arg, !in->failed, msgid);
		queue_incoming_free(in);
	}
}

static void
queue_sync_run(int fd, short ev, void *arg)
{
	struct queue_pass	 p;

	memset(&p, 0, sizeof(p));
	TAILQ_INIT(&p.commits);
	TAILQ_INIT(&p.updates);
	TAILQ_INIT(&p.removed);
	TAILQ_INIT(&p.later);
	TAILQ_CONCAT(&p.commits, &commits, commit_entry);
	TAILQ_CONCAT(&p.updates, &syncs, sync_entry);
	if (TAILQ_EMPTY(&p.commits) && TAILQ_EMPTY(&p.updates))
		return;
	queue_pass_prepare(&p);
	if (!p.failed_dir && (p.ncommits > 0 || p.nupdates > 0))
		queue_pass_install(&p);
	queue_gone_schedule();
	log_debug("sync pass: %d commits, %d updates, %d removals",
	    p.ncommits, p.nupdates, p.nremoved);
	queue_pass_finish(&p);
	/* The answers leave before the unlinks that can wait. */
	if (p.ncommits > 0)
		imsgev_flush(child_peer(PROC_SMTP));
	if (p.gone_durable)
		queue_gone_remove();
	if (!TAILQ_EMPTY(&p.later)) {
		TAILQ_CONCAT(&syncs, &p.later, sync_entry);
		queue_sync_schedule();
	}
}

/* Start-up. */

static void
queue_recovered(struct spool_envelope *env, void *arg)
{
	queue_sched_load(env, 1);
}

static void
queue_corrupt(const char *name, const char *why, void *arg)
{
	struct log_event	 ev;

	log_warnx("envelope %s quarantined in corrupt/: %s", name, why);
	log_event_begin(&ev, "queue.corrupt");
	log_event_add(&ev, "name", "%s", name);
	log_event_add(&ev, "reason", "%s", why);
	log_event_end(&ev);
}

static void
queue_recover(void)
{
	struct spool_recovery	 rec;
	struct log_event	 ev;

	if (spool_recover(queue_recovered, queue_corrupt, NULL, &rec) == -1)
		fatal("queue recovery");
	log_info("queue recovered (%s): %zu messages (%zu sums "
	    "checked), %zu unfinished receptions and %zu orphans removed, "
	    "%zu corrupt", rec.clean ? "the last stop was clean" :
	    "no clean stop recorded", rec.loaded,
	    rec.verified, rec.incoming, rec.orphans, rec.corrupt);
	log_event_begin(&ev, "queue.recover");
	log_event_add(&ev, "messages", "%zu", rec.loaded);
	log_event_add(&ev, "incoming_removed", "%zu", rec.incoming);
	log_event_add(&ev, "tmp_removed", "%zu", rec.tmp);
	log_event_add(&ev, "orphans_removed", "%zu", rec.orphans);
	log_event_add(&ev, "corrupt", "%zu", rec.corrupt);
	log_event_add(&ev, "clean", "%s", rec.clean ? "yes" : "no");
	log_event_add(&ev, "verified", "%zu", rec.verified);
	log_event_end(&ev);
}

/*
 * Unconfined (posternd not started as root: development only), there is
 * no chroot to make the spool "/": go there instead.
 */
static void
queue_enter_spool(const struct config *conf)
{
	char	 root[1024];

	if (was_root)
		return;
	if (proc_chroot_path(conf, PROC_QUEUE, root, sizeof(root)) == -1)
		fatalx("queue path too long");
	if (chdir(root) == -1)
		fatal("chdir %s", root);
}

static void
queue_configure(const struct config *new, const struct config *old)
{
	/* A reload changes nothing here: the retry schedule and expiry
	 * are read from child_config() when used. */
	if (old != NULL)
		return;
	queue_enter_spool(new);
	if (spool_setup() == -1)
		fatal("queue directories");
	if ((spoolfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("open the spool");
	if (syncset_init(&ss, new->queue.sync, spoolfd) == -1)
		fatal("syncset");
	log_debug("queue: sync %s", syncset_mode_name(new->queue.sync));
	if ((sync_ev = evtimer_new(child_base(), queue_sync_run, NULL)) ==
	    NULL || (sync_retry_ev = evtimer_new(child_base(),
	    queue_sync_retry, NULL)) == NULL || (gone_ev = evtimer_new(
	    child_base(), queue_gone_run, NULL)) == NULL ||
	    (spare_ev = evtimer_new(child_base(), queue_spare_refill,
	    NULL)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	queue_sched_init();
	queue_dsn_init();
	queue_recover();
	queue_spare_schedule();
}

static void
queue_start(void)
{
	queue_sched_start();
}

static void
queue_peer(enum proc_role peer, struct imsgev *iev, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_QUEUE_CREATE:
		if (peer != PROC_SMTP)
			break;
		queue_create(imsg);
		return;
	case IMSG_QUEUE_RCPT:
		if (peer != PROC_SMTP)
			break;
		queue_rcpt(imsg);
		return;
	case IMSG_QUEUE_COMMIT:
		if (peer != PROC_SMTP)
			break;
		queue_commit(imsg);
		return;
	case IMSG_QUEUE_ABORT:
		if (peer != PROC_SMTP)
			break;
		queue_abort(imsg);
		return;
	case IMSG_MDA_RESULT:
		if (peer != PROC_MDA)
			break;
		queue_sched_result(imsg);
		return;
	case IMSG_AUTH_RCPT_RESULT:
		if (peer != PROC_AUTH)
			break;
		queue_dsn_auth_result(imsg);
		return;
	case IMSG_QUEUE_CTL:
		if (peer != PROC_PARENT)
			break;
		queue_ctl(iev, imsg);
		return;
	}
	fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
	    proc_name(peer));
}

/*
 * Commits not yet made durable are undone (smtp never said 250 for
 * them); envelope updates are written, so that what was delivered is
 * not delivered again after the restart.
 */
static void
queue_shutdown(void)
{
	struct queue_incoming	*in;

	if (sync_ev == NULL)
		return;
	shutting_down = 1;
	TAILQ_FOREACH(in, &commits, commit_entry)
		in->failed = 1;
	queue_sync_run(-1, 0, NULL);
	queue_gone_run(-1, 0, NULL);
	queue_spare_drop_all();
	if (TAILQ_EMPTY(&syncs) && TAILQ_EMPTY(&sync_retry) &&
	    TAILQ_EMPTY(&gone) && spool_mark_clean() == -1)
		log_warn("spool: mark the stop clean");
}

/*
 * At a stop the peers' SIGTERMs race: mda may be gone before our own
 * SIGTERM is read.  The spool does not need any peer to be left clean.
 */
static void
queue_peer_lost(enum proc_role peer)
{
	queue_shutdown();
}

static const struct child_ops queue_ops = {
	.role = PROC_QUEUE,
	.configure = queue_configure,
	.start = queue_start,
	.peer = queue_peer,
	.shutdown = queue_shutdown,
	.peer_lost = queue_peer_lost,
};

void
queue_main(const char *conffile)
{
	was_root = geteuid() == 0;
	child_main(&queue_ops, conffile);
}
