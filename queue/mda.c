/*
 * mda.c: the mda role.  Writes messages into mailboxes under
 * state_dir/mail (its chroot) with lib/maildir.c, one at a time, for the
 * queue.
 *
 * IMSG_MDA_DELIVER: u64 evpid, str sender, str mailbox, str rcpt, str
 * msgid, u32 recipient index, and a read-only fd of the message.  The
 * answer is IMSG_MDA_RESULT: u64 evpid, u32 status (DELIVERY_*), str
 * reason.  Deliveries are synchronous disk writes: this process has no
 * network and nothing else to do, and the queue limits how many it hands
 * over at once.
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

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildir.h"
#include "posternd.h"
#include "proto.h"
#include "spool.h"

/* What the queue accepts. */
#define MDA_REASON_MAX	SPOOL_REASON_MAX
#define MDA_PREFIX_MAX	(2 * SPOOL_ADDR_MAX + 64)

static int	was_root;

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

static void
mda_deliver(struct imsg *imsg)
{
	struct imsg_reader	 rd;
	enum maildir_result	 r;
	uint64_t		 evpid;
	char			 sender[SPOOL_ADDR_MAX];
	char			 mailbox[SPOOL_ADDR_MAX];
	char			 rcpt[SPOOL_ADDR_MAX];
	char			 prefix[MDA_PREFIX_MAX];
	char			 local[MAILDIR_COMPONENT_MAX + 1];
	char			 domain[MAILDIR_COMPONENT_MAX + 1];
	char			 name[MAILDIR_NAMESZ], why[MDA_REASON_MAX];
	char			 msgid[QUEUE_MSGID_MAX], id[MAILDIR_ID_MAX + 1];
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
	/* maildir_deliver turns CRLF into LF, the prefix included. */
	n = snprintf(prefix, sizeof(prefix),
	    "Return-Path: <%s>\r\nDelivered-To: %s\r\n", sender, rcpt);
	if (n < 0 || (size_t)n >= sizeof(prefix))
		fatalx("%s: prefix too long", __func__);
	why[0] = '\0';
	r = maildir_deliver_once(AT_FDCWD, domain, local, id, fd, prefix,
	    (size_t)n, name, sizeof(name), why, sizeof(why));
	close(fd);
	if (r == MAILDIR_OK)
		log_debug("delivery %016llx (%s): new/%s",
		    (unsigned long long)evpid, id, name);
	else if (r == MAILDIR_ALREADY)
		log_info("delivery %016llx (%s): delivered before, not again",
		    (unsigned long long)evpid, id);
	else
		log_debug("delivery %016llx (%s): failed: %s",
		    (unsigned long long)evpid, id, why);
	mda_reply(evpid, mda_status(r), mda_status(r) == DELIVERY_OK ? "" :
	    why);
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
	if (was_root)
		return;
	if (proc_chroot_path(new, PROC_MDA, root, sizeof(root)) == -1)
		fatalx("mail root path too long");
	if (chdir(root) == -1)
		fatal("chdir %s", root);
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
