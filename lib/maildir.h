/*
 * maildir.h: durable delivery of one message into a Maildir++ mailbox,
 * for the mda role.
 *
 * The mda runs chrooted in state_dir/mail, so a mailbox is the directory
 * "<domain>/<localpart>/" below the mail root (INBOX at its top, folders
 * as ".Name" beside tmp/ new/ cur/).
 *
 * maildir_init(hostname)
 *	Sets the host part of the unique file names, once, before the
 *	sandbox is entered.  Bytes other than [A-Za-z0-9._-] are written as
 *	"\ooo" octal escapes, as the Maildir convention asks for '/' and ':'
 *	(and ',' here, which starts a Maildir++ field); the result is cut
 *	at MAILDIR_HOSTMAX bytes.  Without it the host part is "localhost".
 *
 * maildir_component(s, len, out, outsz)
 *	Checks that the len bytes at s can serve as one path component
 *	(a domain or a local part) and copies them, ASCII-lowercased and
 *	NUL-terminated, into out.  Refuses "", anything with a leading '.'
 *	(so ".", ".." and Maildir++ folder names), '/', NUL, control bytes
 *	and more than MAILDIR_COMPONENT_MAX bytes.  Returns 0 or -1.
 *	Callers pass addresses that authd resolved; this is defence in
 *	depth, so that bytes from mail never name a path outside the root.
 *
 * maildir_deliver(rootfd, domain, local, msgfd, prefix, prefixlen,
 *     name, namesz, why, whysz)
 *	Delivers the message in msgfd (read with pread from offset 0, so a
 *	shared file offset does not matter), preceded by the prefixlen
 *	bytes of header lines at prefix (built by the caller, e.g.
 *	"Return-Path: <a@b>\r\nDelivered-To: c@d\r\n"), into the mailbox
 *	domain/local below rootfd (a directory fd or AT_FDCWD).  Missing
 *	directories (domain/, local/ and its tmp/ new/ cur/) are created
 *	with mode 0700 and their parents fsynced.  Every step opens one
 *	component with O_NOFOLLOW: a symbolic link anywhere below rootfd
 *	is refused, never followed.
 *
 *	The message is written to tmp/<unique>, fsynced, linked to
 *	new/<unique>,S=<size> and new/ is fsynced; only then does it
 *	return MAILDIR_OK and put the file's name in new/ (without "new/")
 *	into name, which must hold MAILDIR_NAMESZ bytes.  <unique> is
 *	"<sec>.M<usec>P<pid>Q<counter>.<host>".
 *
 *	Line endings: CRLF is written as LF, as mutt, Dovecot and the
 *	other Maildir readers expect; a lone CR is kept.  The ",S=" field
 *	is the size of the file as written (after the conversion), which
 *	is what a reader that turns LF back into CRLF needs to know.
 *
 *	On failure nothing is left in new/, the temporary file is removed,
 *	and a reason goes into why (which may be NULL).  MAILDIR_PERMFAIL
 *	for what retrying cannot mend: a domain or local part that is not
 *	a safe path component, a symbolic link or a non-directory where a
 *	directory belongs.  MAILDIR_TEMPFAIL for everything else (ENOSPC,
 *	EDQUOT, EFBIG, EIO, EACCES, an unreadable msgfd, ...).
 *
 * maildir_deliver_once(rootfd, domain, local, id, msgfd, prefix,
 *     prefixlen, name, namesz, why, whysz)
 *	maildir_deliver, exactly once per id (1 to MAILDIR_ID_MAX bytes
 *	of [A-Za-z0-9_-]; the mda uses "<queue msgid>_<recipient index>",
 *	which stays the same across attempts and restarts).  Returns
 *	MAILDIR_ALREADY, with name "", when an earlier call with the same id
 *	delivered the message (the caller reports success); a call that
 *	follows one cut short by a crash or a failure at any point goes on
 *	from where that one stopped, so the message is never in the
 *	mailbox twice and never half.  How: the message is written to
 *	tmp/<id>.<host>, then recorded by an empty file
 *	MAILDIR_MARKS/<id> beside tmp/ new/ cur/ (a name that is not a
 *	Maildir++ folder, which starts with '.'), then linked into new/ as
 *	"<sec>.M<usec>P<pid>Q<counter>_<id>.<host>,S=<size>"; maildir.c
 *	has the table of the states a crash can leave.  The check costs
 *	two fstatat(2) calls; the marker does not depend on the file, so a
 *	message moved to cur/, to a folder or deleted is not delivered
 *	again.  A marker is needed only until the queue has recorded the
 *	delivery; after a delivery, markers older than MAILDIR_MARK_TTL
 *	are removed from that mailbox, at most once a day (the mtime of
 *	MAILDIR_MARKS/.swept).  So the guarantee holds for a queue that
 *	asks again within MAILDIR_MARK_TTL, which a crash and a restart
 *	do unless the server stays down that long.  id NULL is
 *	maildir_deliver.
 *
 * maildir_job_start(j, rootfd, domain, local, id, msgfd, prefix,
 *     prefixlen, ss), maildir_job_publish(j, ss), maildir_job_finish(j),
 * maildir_job_fail(j, what, errno)
 *	maildir_deliver_once in steps, so that many deliveries share their
 *	barriers (lib/syncset.h): start writes tmp/<id> and adds the file
 *	and tmp/ to ss; after the caller's syncset_flush(ss), publish
 *	creates the marker and the link in new/ and adds those directories
 *	to ss; after the next flush, finish removes tmp/<id>.  A failed
 *	flush is reported to each job with maildir_job_fail.  A step on a
 *	job that is done does nothing, so the caller runs every step on
 *	every job of a batch.  When j->step is MAILDIR_JOB_DONE, j->result,
 *	j->name and j->why hold what maildir_deliver_once returns; the
 *	job then holds no fds.  maildir_deliver_once is exactly this with
 *	fsync barriers (SYNCSET_FILES).
 *
 * Not reentrant (one name counter per process); the mda is single
 * threaded.  Never logs: the caller logs the reason.
 */

#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H

#include <sys/types.h>

#include <stddef.h>

#define MAILDIR_COMPONENT_MAX	255		/* bytes of a domain or local part */
#define MAILDIR_HOSTMAX		128		/* bytes of the escaped host name */
#define MAILDIR_NAMESZ		256		/* a file name in new/, with NUL */
#define MAILDIR_CHUNK		(64 * 1024)	/* bytes read from msgfd at once */
#define MAILDIR_ID_MAX		32		/* bytes of a delivery id */
#define MAILDIR_MARKS		"postern-delivered" /* delivery markers */
#define MAILDIR_MARK_TTL	(30 * 24 * 60 * 60) /* seconds a marker lives */
#define MAILDIR_WHY_MAX		256		/* a job's reason, with NUL */

struct syncset;

enum maildir_result {
	MAILDIR_OK,
	MAILDIR_TEMPFAIL,
	MAILDIR_PERMFAIL,
	MAILDIR_ALREADY,	/* delivered before, by maildir_deliver_once */
};

/* The directories of one mailbox, open while a message goes in. */
struct maildir_box {
	int	 domain;
	int	 box;
	int	 tmp;
	int	 new;
	int	 marks;		/* MAILDIR_MARKS, for a delivery with an id */
};

enum maildir_job_step {
	MAILDIR_JOB_WRITTEN,	/* waits for the first barrier */
	MAILDIR_JOB_PUBLISHED,	/* waits for the second barrier */
	MAILDIR_JOB_DONE,	/* result, name, why */
};

/* One exactly-once delivery on its way through the barriers. */
struct maildir_job {
	enum maildir_job_step	 step;
	enum maildir_result	 result;
	struct maildir_box	 mb;
	char			 id[MAILDIR_ID_MAX + 1];
	char			 tmpname[MAILDIR_NAMESZ];
	off_t			 size;
	int			 fresh;		/* this job wrote tmp/<id> */
	int			 mark;		/* publish creates the marker */
	int			 link;		/* publish links into new/ */
	char			 name[MAILDIR_NAMESZ];	/* in new/, or "" */
	char			 why[MAILDIR_WHY_MAX];
};

void			maildir_init(const char *);
int			maildir_component(const char *, size_t, char *, size_t);
enum maildir_result	maildir_deliver(int, const char *, const char *, int,
			    const char *, size_t, char *, size_t, char *, size_t);
enum maildir_result	maildir_deliver_once(int, const char *, const char *,
			    const char *, int, const char *, size_t, char *,
			    size_t, char *, size_t);
void			maildir_job_start(struct maildir_job *, int,
			    const char *, const char *, const char *, int,
			    const char *, size_t, struct syncset *);
void			maildir_job_publish(struct maildir_job *,
			    struct syncset *);
void			maildir_job_finish(struct maildir_job *);
void			maildir_job_fail(struct maildir_job *, const char *,
			    int);

#endif /* POSTERN_MAILDIR_H */
