/*
 * maildir.c: durable Maildir++ delivery (see maildir.h for the interface).
 *
 * Owns: the files it creates in tmp/ and new/ of one mailbox, and the
 * mailbox directories it creates.  Trusts: rootfd to be the mail root;
 * nothing below it.  Every directory is opened one component at a time
 * with O_NOFOLLOW|O_DIRECTORY, so a symbolic link planted in the store
 * (by a compromised imap process, say) cannot send a write elsewhere.
 *
 * Durability: file data is durable (fsync, or the caller's syncset
 * barrier for a job) before the link into new/, and new/ is durable
 * before MAILDIR_OK; a directory this module creates is made durable in
 * its parent before anything is put into it.  A crash can leave a file
 * in tmp/, never a half-written one in new/.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maildir.h"
#include "syncset.h"

#define MAILDIR_OUTSZ		(2 * MAILDIR_CHUNK + 1)
#define MAILDIR_TMP_TRIES	5
#define MAILDIR_SWEPT		".swept"	/* in MAILDIR_MARKS: last sweep */
#define MAILDIR_SWEEP_EVERY	(24 * 60 * 60)

/* A message on its way into the tmp file. */
struct maildir_copy {
	int	 fd;		/* the tmp file */
	char	*in;		/* MAILDIR_CHUNK bytes read from the message */
	char	*out;		/* MAILDIR_OUTSZ bytes waiting to be written */
	size_t	 outlen;
	int	 cr;		/* a CR is held back: is an LF next? */
	off_t	 size;		/* bytes written to the file */
};

static char			maildir_host[MAILDIR_HOSTMAX + 1] = "localhost";
static unsigned long long	maildir_counter;

static enum maildir_result	maildir_fail(enum maildir_result, char *,
				    size_t, const char *, ...)
				    __attribute__((__format__ (printf, 4, 5)));

void
maildir_init(const char *host)
{
	size_t		 len = 0;
	unsigned char	 c;

	if (host == NULL || *host == '\0')
		host = "localhost";
	for (; *host != '\0'; host++) {
		c = (unsigned char)*host;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == '_') {
			if (len + 1 > MAILDIR_HOSTMAX)
				break;
			maildir_host[len++] = c;
			continue;
		}
		if (len + 4 > MAILDIR_HOSTMAX)
			break;
		(void)snprintf(maildir_host + len, 5, "\\%03o", c);
		len += 4;
	}
	maildir_host[len] = '\0';
}

int
maildir_component(const char *s, size_t len, char *out, size_t outsz)
{
	size_t		 i;
	unsigned char	 c;

	if (s == NULL || out == NULL || len == 0 ||
	    len > MAILDIR_COMPONENT_MAX || len >= outsz || s[0] == '.')
		return -1;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '/')
			return -1;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		out[i] = (char)c;
	}
	out[len] = '\0';
	return 0;
}

static enum maildir_result
maildir_fail(enum maildir_result r, char *why, size_t whysz,
    const char *fmt, ...)
{
	va_list	 ap;

	if (why != NULL && whysz > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(why, whysz, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* What a failed path operation means for the message. */
static enum maildir_result
maildir_errno_result(int e)
{
	switch (e) {
	case ELOOP:		/* a symbolic link where a directory belongs */
	case ENOTDIR:		/* a file (or a link, for O_DIRECTORY) */
	case ENAMETOOLONG:
		return MAILDIR_PERMFAIL;
	default:
		return MAILDIR_TEMPFAIL;
	}
}

/* Says why the directory name in parentfd could not be opened. */
static enum maildir_result
maildir_dir_error(int parentfd, const char *name, char *why, size_t whysz)
{
	struct stat	 st;
	int		 e = errno;

	/* With O_DIRECTORY, Linux reports a symbolic link as ENOTDIR. */
	if ((e == ENOTDIR || e == ELOOP) &&
	    fstatat(parentfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return maildir_fail(MAILDIR_PERMFAIL, why, whysz,
		    "%s: symbolic link refused", name);
	return maildir_fail(maildir_errno_result(e), why, whysz,
	    "%s: %s", name, strerror(e));
}

static int
maildir_fsync_dir(int fd)
{
	int	 dfd, r, saved;

	if (fd != AT_FDCWD)
		return fsync(fd);
	if ((dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(dfd);
	saved = errno;
	(void)close(dfd);
	errno = saved;
	return r;
}

/*
 * Opens the directory name in parentfd, never through a symbolic link,
 * creating it (mode 0700) when missing.  *created tells the caller to
 * fsync parentfd before relying on the new entry.
 */
static enum maildir_result
maildir_open_dir(int parentfd, const char *name, int *fdp, int *created,
    char *why, size_t whysz)
{
	const int	 flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int		 fd;

	fd = openat(parentfd, name, flags);
	if (fd == -1 && errno == ENOENT) {
		if (mkdirat(parentfd, name, 0700) == 0)
			*created = 1;
		else if (errno != EEXIST)
			goto fail;
		/* EEXIST: someone else made it first; open theirs. */
		fd = openat(parentfd, name, flags);
	}
	if (fd == -1)
		goto fail;
	*fdp = fd;
	return MAILDIR_OK;
 fail:
	return maildir_dir_error(parentfd, name, why, whysz);
}

static void
maildir_close_box(struct maildir_box *mb)
{
	if (mb->marks != -1)
		(void)close(mb->marks);
	if (mb->new != -1)
		(void)close(mb->new);
	if (mb->tmp != -1)
		(void)close(mb->tmp);
	if (mb->box != -1)
		(void)close(mb->box);
	if (mb->domain != -1)
		(void)close(mb->domain);
	mb->domain = mb->box = mb->tmp = mb->new = mb->marks = -1;
}

/*
 * Opens tmp/, new/ and cur/ of the mailbox open in mb->box, and the
 * marker directory when marks is set.
 */
static enum maildir_result
maildir_open_subdirs(struct maildir_box *mb, int marks, char *why,
    size_t whysz)
{
	enum maildir_result	 r;
	int			 created = 0, cur;

	if ((r = maildir_open_dir(mb->box, "tmp", &mb->tmp, &created,
	    why, whysz)) != MAILDIR_OK)
		return r;
	if ((r = maildir_open_dir(mb->box, "new", &mb->new, &created,
	    why, whysz)) != MAILDIR_OK)
		return r;
	if ((r = maildir_open_dir(mb->box, "cur", &cur, &created,
	    why, whysz)) != MAILDIR_OK)
		return r;
	(void)close(cur);
	if (marks && (r = maildir_open_dir(mb->box, MAILDIR_MARKS,
	    &mb->marks, &created, why, whysz)) != MAILDIR_OK)
		return r;
	if (created && fsync(mb->box) == -1)
		return maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
		    "fsync mailbox: %s", strerror(errno));
	return MAILDIR_OK;
}

static enum maildir_result
maildir_open_box(int rootfd, const char *domain, const char *local,
    int marks, struct maildir_box *mb, char *why, size_t whysz)
{
	enum maildir_result	 r;
	int			 created = 0;

	mb->domain = mb->box = mb->tmp = mb->new = mb->marks = -1;
	if ((r = maildir_open_dir(rootfd, domain, &mb->domain, &created,
	    why, whysz)) != MAILDIR_OK)
		return r;
	if (created && maildir_fsync_dir(rootfd) == -1)
		return maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
		    "fsync mail root: %s", strerror(errno));
	created = 0;
	if ((r = maildir_open_dir(mb->domain, local, &mb->box, &created,
	    why, whysz)) != MAILDIR_OK)
		return r;
	if (created && fsync(mb->domain) == -1)
		return maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
		    "fsync %s: %s", domain, strerror(errno));
	return maildir_open_subdirs(mb, marks, why, whysz);
}

/*
 * "<sec>.M<usec>P<pid>Q<counter>.<host>", unique per delivery; with a
 * delivery id, "<sec>.M<usec>P<pid>Q<counter>_<id>.<host>".
 */
static int
maildir_unique(char *buf, size_t bufsz, const char *id)
{
	struct timespec	 ts;
	int		 n;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	n = snprintf(buf, bufsz, "%lld.M%06ldP%ldQ%llu%s%s.%s",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(),
	    ++maildir_counter, id != NULL ? "_" : "", id != NULL ? id : "",
	    maildir_host);
	if (n < 0 || (size_t)n >= bufsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Creates tmp/<unique>, with a fresh name if one is taken. */
static enum maildir_result
maildir_create_tmp(struct maildir_box *mb, char *base, size_t basesz,
    int *fdp, char *why, size_t whysz)
{
	int	 fd, tries;

	for (tries = 0; tries < MAILDIR_TMP_TRIES; tries++) {
		if (maildir_unique(base, basesz, NULL) == -1)
			return maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
			    "unique name: %s", strerror(errno));
		fd = openat(mb->tmp, base, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1) {
			*fdp = fd;
			return MAILDIR_OK;
		}
		if (errno != EEXIST)
			break;
	}
	return maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
	    "create tmp/%s: %s", base, strerror(errno));
}

static int
maildir_write_all(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
maildir_flush(struct maildir_copy *mc)
{
	if (maildir_write_all(mc->fd, mc->out, mc->outlen) == -1)
		return -1;
	mc->size += (off_t)mc->outlen;
	mc->outlen = 0;
	return 0;
}

/*
 * Copies len bytes from in to out, CRLF turned into LF.  A CR at the end
 * of in is held back in *cr until the next call shows what follows it;
 * so out needs room for len + 1 bytes.
 */
static size_t
maildir_crlf(int *cr, const char *in, size_t len, char *out)
{
	const char	*p = in, *end = in + len, *q;
	size_t		 o = 0;

	if (len == 0)
		return 0;
	if (*cr) {
		*cr = 0;
		if (*p != '\n')
			out[o++] = '\r';
	}
	while (p < end) {
		if ((q = memchr(p, '\r', (size_t)(end - p))) == NULL)
			q = end;
		memcpy(out + o, p, (size_t)(q - p));
		o += (size_t)(q - p);
		if (q == end)
			break;
		if (q + 1 == end) {
			*cr = 1;
			break;
		}
		if (q[1] != '\n')
			out[o++] = '\r';
		p = q + 1;
	}
	return o;
}

/* Converts and queues len bytes, writing whenever a chunk is ready. */
static int
maildir_put(struct maildir_copy *mc, const char *data, size_t len)
{
	size_t	 n;

	while (len > 0) {
		n = len > MAILDIR_CHUNK ? MAILDIR_CHUNK : len;
		/* outlen < MAILDIR_CHUNK here, so n + 1 more bytes fit. */
		mc->outlen += maildir_crlf(&mc->cr, data, n,
		    mc->out + mc->outlen);
		data += n;
		len -= n;
		if (mc->outlen >= MAILDIR_CHUNK && maildir_flush(mc) == -1)
			return -1;
	}
	return 0;
}

/* Writes prefix and message into the tmp file mc->fd. */
static enum maildir_result
maildir_copy(struct maildir_copy *mc, int msgfd, const char *prefix,
    size_t prefixlen, char *why, size_t whysz)
{
	off_t	 off = 0;
	ssize_t	 n;

	if (maildir_put(mc, prefix, prefixlen) == -1)
		goto werr;
	for (;;) {
		n = pread(msgfd, mc->in, MAILDIR_CHUNK, off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
			    "read message: %s", strerror(errno));
		}
		if (n == 0)
			break;
		off += n;
		if (maildir_put(mc, mc->in, (size_t)n) == -1)
			goto werr;
	}
	if (mc->cr) {
		mc->cr = 0;
		mc->out[mc->outlen++] = '\r';
	}
	if (maildir_flush(mc) == -1)
		goto werr;
	return MAILDIR_OK;
 werr:
	return maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
	    "write tmp file: %s", strerror(errno));
}

/* Links tmp/base to new/base,S=size and makes that durable. */
static enum maildir_result
maildir_commit(struct maildir_box *mb, const char *base, off_t size,
    char *name, size_t namesz, char *why, size_t whysz)
{
	char	 final[MAILDIR_NAMESZ];
	int	 n;

	n = snprintf(final, sizeof(final), "%s,S=%lld", base,
	    (long long)size);
	if (n < 0 || (size_t)n >= sizeof(final))
		return maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
		    "file name too long");
	if (linkat(mb->tmp, base, mb->new, final, 0) == -1)
		return maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
		    "link new/%s: %s", final, strerror(errno));
	/* A tmp/ file left behind is harmless; readers sweep tmp/. */
	(void)unlinkat(mb->tmp, base, 0);
	if (fsync(mb->new) == -1) {
		n = errno;
		(void)unlinkat(mb->new, final, 0);
		return maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
		    "fsync new/: %s", strerror(n));
	}
	if (strlcpy(name, final, namesz) >= namesz)
		return maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
		    "name buffer too small");	/* checked before; cannot */
	return MAILDIR_OK;
}

/*
 * Writes prefix and message into the new file fd (the caller's tmp/
 * file); *sizep is the size written.  Without ss, fsyncs and closes fd;
 * with ss, gives fd to it, to be made durable at its flush.
 */
static enum maildir_result
maildir_write_file(int fd, int msgfd, const char *prefix, size_t prefixlen,
    struct syncset *ss, off_t *sizep, char *why, size_t whysz)
{
	struct maildir_copy	 mc;
	enum maildir_result	 r;

	memset(&mc, 0, sizeof(mc));
	mc.fd = fd;
	if ((mc.in = malloc(MAILDIR_CHUNK)) == NULL ||
	    (mc.out = malloc(MAILDIR_OUTSZ)) == NULL)
		r = maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
		    "malloc: %s", strerror(errno));
	else
		r = maildir_copy(&mc, msgfd, prefix, prefixlen, why, whysz);
	*sizep = mc.size;
	free(mc.in);
	free(mc.out);
	if (r == MAILDIR_OK && ss != NULL) {
		(void)syncset_add(ss, fd);	/* a failure fails the flush */
		return MAILDIR_OK;
	}
	if (r == MAILDIR_OK && fsync(fd) == -1)
		r = maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
		    "fsync tmp file: %s", strerror(errno));
	if (close(fd) == -1 && r == MAILDIR_OK)
		r = maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
		    "close tmp file: %s", strerror(errno));
	return r;
}

/* Puts one message into the open mailbox mb. */
static enum maildir_result
maildir_store(struct maildir_box *mb, int msgfd, const char *prefix,
    size_t prefixlen, char *name, size_t namesz, char *why, size_t whysz)
{
	enum maildir_result	 r;
	char			 base[MAILDIR_NAMESZ];
	off_t			 size;
	int			 fd = -1;

	r = maildir_create_tmp(mb, base, sizeof(base), &fd, why, whysz);
	if (r != MAILDIR_OK)
		return r;
	r = maildir_write_file(fd, msgfd, prefix, prefixlen, NULL, &size,
	    why, whysz);
	if (r == MAILDIR_OK)
		r = maildir_commit(mb, base, size, name, namesz, why, whysz);
	if (r != MAILDIR_OK)
		(void)unlinkat(mb->tmp, base, 0);
	return r;
}

/* A delivery id: 1 to MAILDIR_ID_MAX bytes of [A-Za-z0-9_-]. */
static int
maildir_id_valid(const char *id)
{
	size_t	 i;
	char	 c;

	for (i = 0; (c = id[i]) != '\0'; i++)
		if (i >= MAILDIR_ID_MAX || !((c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-'))
			return 0;
	return i > 0;
}

/* Checks domain and local and puts their path components in d and l. */
static enum maildir_result
maildir_check_names(const char *domain, const char *local, char *d,
    char *l, char *why, size_t whysz)
{
	if (domain == NULL || maildir_component(domain, strlen(domain), d,
	    MAILDIR_COMPONENT_MAX + 1) == -1)
		return maildir_fail(MAILDIR_PERMFAIL, why, whysz,
		    "domain is not a safe path component");
	if (local == NULL || maildir_component(local, strlen(local), l,
	    MAILDIR_COMPONENT_MAX + 1) == -1)
		return maildir_fail(MAILDIR_PERMFAIL, why, whysz,
		    "local part is not a safe path component");
	return MAILDIR_OK;
}

/*
 * Exactly once (see maildir.h).  A delivery with an id writes
 * tmp/<id>.<host>, a name the next attempt can find, and records the
 * delivery as an empty file MAILDIR_MARKS/<id>.  Its states, as a crash
 * may leave them, and what the next attempt does:
 *
 *	marker	tmp/<id>		meaning: next attempt
 *	no	no			nothing happened: deliver
 *	no	1 link			written, not published: start over
 *	yes	1 link			committed, not published: publish
 *	any	2+ links (new/ too)	published: finish, already delivered
 *	yes	no			done: already delivered
 *
 * A job goes through two barriers (syncset flushes): the marker is
 * created only after tmp/<id> is complete and durable (the file and
 * tmp/, first barrier), and tmp/<id> is removed only after the marker
 * and the link in new/ are durable (second barrier); so "yes, no" is
 * always a message in new/ (or wherever the user has moved it since:
 * the marker does not depend on the file), and "published" is seen
 * through the link count, whichever of the marker and the new/ entry the
 * crash kept.
 */

/* 0 when dfd has no entry name, 1 when it is a file (in *st), or -1. */
static int
maildir_probe(int dfd, const char *name, struct stat *st)
{
	if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISREG(st->st_mode)) {
		errno = EEXIST;
		return -1;
	}
	return 1;
}

/* Ends the job with result r (the reason is already in j->why). */
static void
maildir_job_end(struct maildir_job *j, enum maildir_result r)
{
	j->result = r;
	j->step = MAILDIR_JOB_DONE;
	maildir_close_box(&j->mb);
}

static enum maildir_result
maildir_once_mark(struct maildir_job *j)
{
	int	 fd;

	fd = openat(j->mb.marks, j->id, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 && errno != EEXIST)
		return maildir_fail(MAILDIR_TEMPFAIL, j->why, sizeof(j->why),
		    "create %s/%s: %s", MAILDIR_MARKS, j->id, strerror(errno));
	if (fd != -1)
		(void)close(fd);
	return MAILDIR_OK;
}

/* Links the committed tmp/<id> into new/ under a fresh unique name. */
static enum maildir_result
maildir_once_link(struct maildir_job *j)
{
	char	 base[MAILDIR_NAMESZ];
	int	 n, tries;

	for (tries = 0; tries < MAILDIR_TMP_TRIES; tries++) {
		if (maildir_unique(base, sizeof(base), j->id) == -1)
			return maildir_fail(MAILDIR_TEMPFAIL, j->why,
			    sizeof(j->why), "unique name: %s",
			    strerror(errno));
		n = snprintf(j->name, sizeof(j->name), "%s,S=%lld", base,
		    (long long)j->size);
		if (n < 0 || (size_t)n >= sizeof(j->name))
			return maildir_fail(MAILDIR_TEMPFAIL, j->why,
			    sizeof(j->why), "file name too long");
		if (linkat(j->mb.tmp, j->tmpname, j->mb.new, j->name, 0) == 0)
			return MAILDIR_OK;
		if (errno != EEXIST)
			break;
	}
	/* The marker and tmp/<id> stay: the next attempt publishes. */
	return maildir_fail(MAILDIR_TEMPFAIL, j->why, sizeof(j->why),
	    "link new/%s: %s", j->name, strerror(errno));
}

/* Creates and writes tmp/<id>, handing file and tmp/ to ss. */
static enum maildir_result
maildir_once_write(struct maildir_job *j, int msgfd, const char *prefix,
    size_t prefixlen, struct syncset *ss)
{
	enum maildir_result	 r;
	int			 fd;

	fd = openat(j->mb.tmp, j->tmpname, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return maildir_fail(MAILDIR_TEMPFAIL, j->why, sizeof(j->why),
		    "create tmp/%s: %s", j->tmpname, strerror(errno));
	r = maildir_write_file(fd, msgfd, prefix, prefixlen, ss, &j->size,
	    j->why, sizeof(j->why));
	if (r != MAILDIR_OK) {
		(void)unlinkat(j->mb.tmp, j->tmpname, 0);
		return r;
	}
	(void)syncset_add_dup(ss, j->mb.tmp);
	j->fresh = 1;
	j->mark = 1;
	j->link = 1;
	return MAILDIR_OK;
}

/*
 * Removes the markers older than MAILDIR_MARK_TTL, at most once a day per
 * mailbox (the mtime of MAILDIR_SWEPT says when).  A marker is needed
 * only until the queue has recorded the delivery, normally milliseconds;
 * removing one is safe in every state of the table above except "yes,
 * no", where it would let a request for the same id deliver again.
 * Best effort: a failure here does not fail the delivery.
 */
static void
maildir_marks_sweep(struct maildir_box *mb)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	time_t		 now = time(NULL);
	int		 fd;

	if (fstatat(mb->marks, MAILDIR_SWEPT, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    now - st.st_mtime < MAILDIR_SWEEP_EVERY && st.st_mtime <= now)
		return;
	/* The stamp first: a sweep that fails is not tried at every call. */
	if ((fd = openat(mb->marks, MAILDIR_SWEPT, O_WRONLY | O_CREAT |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return;
	(void)futimens(fd, NULL);
	(void)close(fd);
	if ((fd = openat(mb->marks, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')	/* ids never start with '.' */
			continue;
		if (fstatat(mb->marks, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    now - st.st_mtime > MAILDIR_MARK_TTL)
			(void)unlinkat(mb->marks, de->d_name, 0);
	}
	(void)closedir(d);
}

/*
 * Looks at what earlier attempts left (the table above) and does the
 * first step from there: MAILDIR_OK to go on after the first barrier.
 */
static enum maildir_result
maildir_once_begin(struct maildir_job *j, int msgfd, const char *prefix,
    size_t prefixlen, struct syncset *ss)
{
	struct stat	 mst, tst;
	int		 marked, tmp, n;

	n = snprintf(j->tmpname, sizeof(j->tmpname), "%s.%s", j->id,
	    maildir_host);
	if (n < 0 || (size_t)n >= sizeof(j->tmpname))
		return maildir_fail(MAILDIR_TEMPFAIL, j->why, sizeof(j->why),
		    "file name too long");
	if ((marked = maildir_probe(j->mb.marks, j->id, &mst)) == -1)
		return maildir_fail(MAILDIR_TEMPFAIL, j->why, sizeof(j->why),
		    "%s/%s: %s", MAILDIR_MARKS, j->id, strerror(errno));
	if ((tmp = maildir_probe(j->mb.tmp, j->tmpname, &tst)) == -1)
		return maildir_fail(MAILDIR_TEMPFAIL, j->why, sizeof(j->why),
		    "tmp/%s: %s", j->tmpname, strerror(errno));
	if (marked && !tmp)
		return MAILDIR_ALREADY;
	if (tmp && tst.st_nlink >= 2) {
		j->mark = !marked;
		return MAILDIR_OK;
	}
	if (marked) {
		j->size = tst.st_size;
		j->link = 1;
		return MAILDIR_OK;
	}
	if (tmp && unlinkat(j->mb.tmp, j->tmpname, 0) == -1)
		return maildir_fail(MAILDIR_TEMPFAIL, j->why, sizeof(j->why),
		    "unlink tmp/%s: %s", j->tmpname, strerror(errno));
	return maildir_once_write(j, msgfd, prefix, prefixlen, ss);
}

void
maildir_job_start(struct maildir_job *j, int rootfd, const char *domain,
    const char *local, const char *id, int msgfd, const char *prefix,
    size_t prefixlen, struct syncset *ss)
{
	enum maildir_result	 r;
	char			 d[MAILDIR_COMPONENT_MAX + 1];
	char			 l[MAILDIR_COMPONENT_MAX + 1];

	memset(j, 0, sizeof(*j));
	j->mb.domain = j->mb.box = j->mb.tmp = j->mb.new = j->mb.marks = -1;
	if (id == NULL || !maildir_id_valid(id) ||
	    strlcpy(j->id, id, sizeof(j->id)) >= sizeof(j->id) ||
	    (prefix == NULL && prefixlen != 0))
		r = maildir_fail(MAILDIR_TEMPFAIL, j->why, sizeof(j->why),
		    "maildir_job_start: bad arguments");
	else
		r = maildir_check_names(domain, local, d, l, j->why,
		    sizeof(j->why));
	if (r == MAILDIR_OK)
		r = maildir_open_box(rootfd, d, l, 1, &j->mb, j->why,
		    sizeof(j->why));
	if (r == MAILDIR_OK)
		r = maildir_once_begin(j, msgfd, prefix, prefixlen, ss);
	if (r != MAILDIR_OK) {
		maildir_job_end(j, r);
		return;
	}
	j->step = MAILDIR_JOB_WRITTEN;
}

void
maildir_job_publish(struct maildir_job *j, struct syncset *ss)
{
	enum maildir_result	 r;

	if (j->step != MAILDIR_JOB_WRITTEN)
		return;
	if (j->mark && (r = maildir_once_mark(j)) != MAILDIR_OK) {
		if (j->fresh)		/* no marker: start over */
			(void)unlinkat(j->mb.tmp, j->tmpname, 0);
		maildir_job_end(j, r);
		return;
	}
	/* A failed link leaves marker and tmp/<id>: the next publishes. */
	if (j->link && (r = maildir_once_link(j)) != MAILDIR_OK) {
		maildir_job_end(j, r);
		return;
	}
	(void)syncset_add_dup(ss, j->mb.marks);
	(void)syncset_add_dup(ss, j->mb.new);
	j->step = MAILDIR_JOB_PUBLISHED;
}

void
maildir_job_finish(struct maildir_job *j)
{
	if (j->step != MAILDIR_JOB_PUBLISHED)
		return;
	if (unlinkat(j->mb.tmp, j->tmpname, 0) == -1 && errno != ENOENT) {
		maildir_job_end(j, maildir_fail(MAILDIR_TEMPFAIL, j->why,
		    sizeof(j->why), "unlink tmp/%s: %s", j->tmpname,
		    strerror(errno)));
		return;
	}
	if (j->fresh)
		maildir_marks_sweep(&j->mb);
	maildir_job_end(j, j->link ? MAILDIR_OK : MAILDIR_ALREADY);
}

void
maildir_job_fail(struct maildir_job *j, const char *what, int error)
{
	if (j->step == MAILDIR_JOB_DONE)
		return;
	/* Written, not marked: nothing durable names the file. */
	if (j->step == MAILDIR_JOB_WRITTEN && j->fresh)
		(void)unlinkat(j->mb.tmp, j->tmpname, 0);
	maildir_job_end(j, maildir_fail(MAILDIR_TEMPFAIL, j->why,
	    sizeof(j->why), "%s: %s", what, strerror(error)));
}

/* One job through both barriers, each an fsync per file. */
static enum maildir_result
maildir_once_alone(int rootfd, const char *domain, const char *local,
    const char *id, int msgfd, const char *prefix, size_t prefixlen,
    char *name, size_t namesz, char *why, size_t whysz)
{
	struct maildir_job	 j;
	struct syncset		 ss;

	(void)syncset_init(&ss, SYNCSET_FILES, -1);
	maildir_job_start(&j, rootfd, domain, local, id, msgfd, prefix,
	    prefixlen, &ss);
	if (syncset_flush(&ss) == -1)
		maildir_job_fail(&j, "fsync tmp/", errno);
	maildir_job_publish(&j, &ss);
	if (syncset_flush(&ss) == -1)
		maildir_job_fail(&j, "fsync new/", errno);
	maildir_job_finish(&j);
	syncset_free(&ss);
	if (why != NULL && whysz > 0)
		(void)strlcpy(why, j.why, whysz);
	(void)strlcpy(name, j.name, namesz);
	return j.result;
}

enum maildir_result
maildir_deliver_once(int rootfd, const char *domain, const char *local,
    const char *id, int msgfd, const char *prefix, size_t prefixlen,
    char *name, size_t namesz, char *why, size_t whysz)
{
	struct maildir_box	 mb;
	enum maildir_result	 r;
	char			 d[MAILDIR_COMPONENT_MAX + 1];
	char			 l[MAILDIR_COMPONENT_MAX + 1];

	if (name == NULL || namesz < MAILDIR_NAMESZ ||
	    (prefix == NULL && prefixlen != 0) ||
	    (id != NULL && !maildir_id_valid(id)))
		return maildir_fail(MAILDIR_TEMPFAIL, why, whysz,
		    "maildir_deliver: bad arguments");
	if (id != NULL)
		return maildir_once_alone(rootfd, domain, local, id, msgfd,
		    prefix, prefixlen, name, namesz, why, whysz);
	if ((r = maildir_check_names(domain, local, d, l, why, whysz)) !=
	    MAILDIR_OK)
		return r;
	r = maildir_open_box(rootfd, d, l, 0, &mb, why, whysz);
	if (r == MAILDIR_OK)
		r = maildir_store(&mb, msgfd, prefix, prefixlen, name, namesz,
		    why, whysz);
	maildir_close_box(&mb);
	return r;
}

enum maildir_result
maildir_deliver(int rootfd, const char *domain, const char *local,
    int msgfd, const char *prefix, size_t prefixlen, char *name,
    size_t namesz, char *why, size_t whysz)
{
	return maildir_deliver_once(rootfd, domain, local, NULL, msgfd,
	    prefix, prefixlen, name, namesz, why, whysz);
}
