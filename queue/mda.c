/*
 * mda.c: the mda role.  Writes messages into mailboxes under
 * state_dir/mail (its chroot) with lib/maildir.c, in batches, for the
 * queue.
 *
 * IMSG_MDA_DELIVER: u64 evpid, str sender, str mailbox, str rcpt, str
 * msgid, u32 recipient index, and a read-only fd of the message.  The
 * answer is IMSG_MDA_RESULT: u64 evpid, u32 status (DELIVERY_*), str
 * reason.  Deliveries are synchronous disk writes: this process has no
 * network and nothing else to do, and the queue limits how many it hands
 * over at once.
 *
 * Batches.  Each DELIVER writes its tmp/ file at once and joins the
 * batch; MDA_BATCH_WAIT after the first job (or at once when the batch
 * is full) the batch goes through maildir's two barriers, each one
 * syncset flush for all of it (one syncfs(2) with queue.sync
 * "filesystem"), and is answered.  Deliveries that arrive within those
 * 10 ms share their barriers, and the mda's barriers stand less often
 * in line with the queue's at the disk.  Counted with perf over
 * bench/smtp-bench, syncfs calls per message (queue and mda together):
 * 1.3 for 10,000 messages from 20 sessions and 4.0 over one session
 * with no wait (and two-barrier commits), 0.25 and 1.35 with this wait
 * (and one-barrier commits).  A message reaches new/ up to 10 ms
 * later, which no reader notices.
 *
 * Exactly once: the evpid is fresh per attempt, but msgid and index name
 * the recipient for as long as it is in the queue, across restarts.
 * "<msgid>_<index>" is the delivery id of maildir_deliver_once, which
 * recognises a message it delivered before (the queue hands it out again
 * when a crash came between the delivery and the queue's record of it)
 * and reports it delivered without writing it twice.
 *
 * Trusts: the queue for the framing (a malformed frame or one without an
 * fd is fatal).  The strings in it came from the network through smtp
 * and the spool, so they are checked again here: a bad one fails that
 * delivery permanently, it does not stop the process.  The mailbox must
 * be local@domain with both parts safe as path components
 * (maildir_component); the sender and recipient go into header lines and
 * must not hold control characters or angle brackets.  Logs no addresses
 * or contents: the queue logs the delivery.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "maildir.h"
#include "posternd.h"
#include "proto.h"
#include "spool.h"
#include "syncset.h"

/* What the queue accepts. */
#define MDA_REASON_MAX	SPOOL_REASON_MAX
#define MDA_PREFIX_MAX	(2 * SPOOL_ADDR_MAX + 64)
#define MDA_BATCH_MAX	64	/* jobs (3 fds each) before a forced run */
#define MDA_BATCH_WAIT	10000	/* microseconds a batch gathers jobs */

struct mda_job {
	TAILQ_ENTRY(mda_job)	 entry;
	uint64_t		 evpid;
	struct maildir_job	 mj;
};
TAILQ_HEAD(mda_jobs, mda_job);

static struct mda_jobs	 batch = TAILQ_HEAD_INITIALIZER(batch);
static size_t		 nbatch;
static struct event	*batch_ev;
static struct syncset	 ss;
static int		 rootfd = -1;
static int		 was_root;

static void
mda_reply(uint64_t evpid, uint32_t status, const char *reason)
{
	struct ibuf	 ib;
	char		 r[MDA_REASON_MAX];

	/* maildir's reasons are bounded, but the queue's limit is firm. */
	(void)strlcpy(r, reason, sizeof(r));
	ibuf_init(&ib);
	ibuf_add_u64(&ib, evpid);
	ibuf_add_u32(&ib, status);
	ibuf_add_str(&ib, r);
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	imsgev_xcompose(child_peer(PROC_QUEUE), IMSG_MDA_RESULT, 0, 0, -1,
	    ib.data, ib.len);
	ibuf_free(&ib);
}

/* An address that may go between <> in a header line. */
static int
mda_header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '<' ||
		    *s == '>')
			return 0;
	return 1;
}

/* Splits mailbox at its last '@' into safe path components. */
static int
mda_split_mailbox(const char *mailbox, char *local, size_t localsz,
    char *domain, size_t domainsz)
{
	const char	*at;

	if ((at = strrchr(mailbox, '@')) == NULL || at == mailbox)
		return -1;
	if (maildir_component(mailbox, (size_t)(at - mailbox), local,
	    localsz) == -1)
		return -1;
	if (maildir_component(at + 1, strlen(at + 1), domain, domainsz) == -1)
		return -1;
	return 0;
}

static enum delivery_status
mda_status(enum maildir_result r)
{
	switch (r) {
	case MAILDIR_OK:
	case MAILDIR_ALREADY:
		return DELIVERY_OK;
	case MAILDIR_TEMPFAIL:
		return DELIVERY_TEMPFAIL;
	case MAILDIR_PERMFAIL:
		return DELIVERY_PERMFAIL;
	}
	fatalx("%s: %d", __func__, r);
}

/* The answer and the log line for a job that is done. */
static void
mda_job_done(struct mda_job *job)
{
	struct maildir_job	*mj = &job->mj;
	unsigned long long	 evpid = (unsigned long long)job->evpid;

	if (mj->result == MAILDIR_OK)
		log_debug("delivery %016llx (%s): new/%s", evpid, mj->id,
		    mj->name);
	else if (mj->result == MAILDIR_ALREADY)
		log_info("delivery %016llx (%s): delivered before, not again",
		    evpid, mj->id);
	else
		log_debug("delivery %016llx (%s): failed: %s", evpid, mj->id,
		    mj->why);
	mda_reply(job->evpid, mda_status(mj->result),
	    mda_status(mj->result) == DELIVERY_OK ? "" : mj->why);
}

/* The batch through both barriers; every job answered. */
static void
mda_batch_run(int fd, short ev, void *arg)
{
	struct mda_job	*job;
	int		 error;

	if (syncset_flush(&ss) == -1) {
		error = errno;	/* a failing job's unlink may change errno */
		TAILQ_FOREACH(job, &batch, entry)
			maildir_job_fail(&job->mj, "sync tmp/", error);
	}
	TAILQ_FOREACH(job, &batch, entry)
		maildir_job_publish(&job->mj, &ss);
	if (syncset_flush(&ss) == -1) {
		error = errno;
		TAILQ_FOREACH(job, &batch, entry)
			maildir_job_fail(&job->mj, "sync new/", error);
	}
	while ((job = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, job, entry);
		maildir_job_finish(&job->mj);
		mda_job_done(job);
		free(job);
	}
	log_debug("mda batch: %zu deliveries", nbatch);
	nbatch = 0;
}

static void
mda_deliver(struct imsg *imsg)
{
	struct imsg_reader	 rd;
	struct mda_job		*job;
	struct timeval		 tv;
	char			 sender[SPOOL_ADDR_MAX];
	char			 mailbox[SPOOL_ADDR_MAX];
	char			 rcpt[SPOOL_ADDR_MAX];
	char			 prefix[MDA_PREFIX_MAX];
	char			 local[MAILDIR_COMPONENT_MAX + 1];
	char			 domain[MAILDIR_COMPONENT_MAX + 1];
	char			 msgid[QUEUE_MSGID_MAX], id[MAILDIR_ID_MAX + 1];
	uint64_t		 evpid;
	uint32_t		 idx;
	int			 fd, n;

	imsg_reader_init(&rd, imsg, "IMSG_MDA_DELIVER");
	evpid = imsg_read_u64(&rd);
	imsg_read_str(&rd, sender, sizeof(sender));
	imsg_read_str(&rd, mailbox, sizeof(mailbox));
	imsg_read_str(&rd, rcpt, sizeof(rcpt));
	imsg_read_str(&rd, msgid, sizeof(msgid));
	idx = imsg_read_u32(&rd);
	imsg_reader_end(&rd);
	if ((fd = imsg_get_fd(imsg)) == -1)
		fatalx("IMSG_MDA_DELIVER without a message fd");
	if (!spool_msgid_valid(msgid))
		fatalx("IMSG_MDA_DELIVER with a bad msgid");
	n = snprintf(id, sizeof(id), "%s_%u", msgid, idx);
	if (n < 0 || (size_t)n >= sizeof(id))
		fatalx("%s: delivery id too long", __func__);
	if (mda_split_mailbox(mailbox, local, sizeof(local), domain,
	    sizeof(domain)) == -1) {
		close(fd);
		mda_reply(evpid, DELIVERY_PERMFAIL, "mda: invalid mailbox");
		return;
	}
	if (!mda_header_safe(sender) || !mda_header_safe(rcpt)) {
		close(fd);
		mda_reply(evpid, DELIVERY_PERMFAIL, "mda: invalid address");
		return;
	}
	/* maildir turns CRLF into LF, the prefix included. */
	n = snprintf(prefix, sizeof(prefix),
	    "Return-Path: <%s>\r\nDelivered-To: %s\r\n", sender, rcpt);
	if (n < 0 || (size_t)n >= sizeof(prefix))
		fatalx("%s: prefix too long", __func__);
	if ((job = calloc(1, sizeof(*job))) == NULL)
		fatal("%s: calloc", __func__);
	job->evpid = evpid;
	maildir_job_start(&job->mj, AT_FDCWD, domain, local, id, fd, prefix,
	    (size_t)n, &ss);
	close(fd);
	TAILQ_INSERT_TAIL(&batch, job, entry);
	if (++nbatch >= MDA_BATCH_MAX) {
		evtimer_del(batch_ev);
		mda_batch_run(-1, 0, NULL);
		return;
	}
	timerclear(&tv);
	tv.tv_usec = MDA_BATCH_WAIT;
	if (!evtimer_pending(batch_ev, NULL))
		evtimer_add(batch_ev, &tv);
}

static void
mda_peer(enum proc_role peer, struct imsgev *iev, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_MDA_DELIVER:
		if (peer != PROC_QUEUE)
			break;
		mda_deliver(imsg);
		return;
	}
	fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
	    proc_name(peer));
}

/*
 * Unconfined (posternd not started as root: development only), there is
 * no chroot to make the mail root "/": go there instead.
 */
static void
mda_configure(const struct config *new, const struct config *old)
{
	char	 root[1024];

	if (old != NULL)
		return;
	maildir_init(new->hostname);
	if (!was_root) {
		if (proc_chroot_path(new, PROC_MDA, root, sizeof(root)) == -1)
			fatalx("mail root path too long");
		if (chdir(root) == -1)
			fatal("chdir %s", root);
	}
	if ((rootfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("open the mail root");
	if (syncset_init(&ss, new->queue.sync, rootfd) == -1)
		fatal("syncset");
	if ((batch_ev = evtimer_new(child_base(), mda_batch_run, NULL)) ==
	    NULL)
		fatalx("%s: evtimer_new", __func__);
}

static const struct child_ops mda_ops = {
	.role = PROC_MDA,
	.configure = mda_configure,
	.peer = mda_peer,
};

void
mda_main(const char *conffile)
{
	was_root = geteuid() == 0;
	child_main(&mda_ops, conffile);
}
