/*
 * spool.c: the queue's on-disk spool (see spool.h for the layout, the
 * envelope format and the interface).
 *
 * Owns: the files below the queue's root.  Trusts: nothing it reads back
 * from them; an envelope is parsed as strictly as network input, since a
 * crash, a full disk or an operator's editor may have been there.
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
#include <unistd.h>

#include <openssl/evp.h>

#include "spool.h"
#include "syncset.h"

#define SPOOL_PATH_MAX		512
#define SPOOL_LINE_MAX		8192
#define SPOOL_MAX_TOKENS	10
#define SPOOL_CREATE_TRIES	16
#define SPOOL_SIZE_MAX		((uint64_t)1 << 53)
#define SPOOL_ENC_MAX		(3 * SPOOL_ORCPT_MAX + 1)
#define SPOOL_VERSION		3	/* written when sum is set */
#define SPOOL_SUM_CHUNK		(64 * 1024)
#define SPOOL_CLEAN		"clean"	/* left by a clean shutdown */
#define SPOOL_NOTIFY_MAX	0xf

/* A growable output buffer; the first failure sticks. */
struct spool_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 error;
};

static const char	*spool_dirs[] = { SPOOL_INCOMING, SPOOL_MESSAGES,
			    SPOOL_ENVELOPES, SPOOL_CORRUPT };

static int	spool_fail(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	spool_buf_printf(struct spool_buf *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

/* Puts a reason into err (which may be NULL) and returns -1. */
static int
spool_fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errsz == 0)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

static int
spool_path(char *buf, size_t sz, const char *dir, const char *name,
    const char *suffix)
{
	int	 n;

	n = snprintf(buf, sz, "%s/%s%s", dir, name, suffix);
	if (n < 0 || (size_t)n >= sz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
spool_msgid_valid(const char *s)
{
	size_t	 i;

	for (i = 0; i < SPOOL_MSGID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

void
spool_msgid_new(char *buf, size_t sz)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 b[SPOOL_MSGID_LEN / 2];
	size_t			 i;

	if (sz < SPOOL_MSGID_SIZE)
		abort();
	arc4random_buf(b, sizeof(b));
	for (i = 0; i < sizeof(b); i++) {
		buf[2 * i] = hex[b[i] >> 4];
		buf[2 * i + 1] = hex[b[i] & 0xf];
	}
	buf[SPOOL_MSGID_LEN] = '\0';
}

int
spool_setup(void)
{
	struct stat	 st;
	size_t		 i;

	for (i = 0; i < sizeof(spool_dirs) / sizeof(spool_dirs[0]); i++) {
		if (mkdir(spool_dirs[i], 0700) == -1 && errno != EEXIST)
			return -1;
		if (lstat(spool_dirs[i], &st) == -1)
			return -1;
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
		/* Ours: a wrong mode is corrected, not merely reported. */
		if ((st.st_mode & 07777) != 0700 &&
		    chmod(spool_dirs[i], 0700) == -1)
			return -1;
	}
	return 0;
}

/* 1 when dir/name exists, 0 when it does not, -1 on error. */
static int
spool_exists(const char *dir, const char *name, const char *suffix)
{
	struct stat	 st;
	char		 path[SPOOL_PATH_MAX];

	if (spool_path(path, sizeof(path), dir, name, suffix) == -1)
		return -1;
	if (lstat(path, &st) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/*
 * Creates the empty envelopes/<name>.tmp that the commit will write:
 * allocating an inode can take a good part of a millisecond (ext4
 * without a journal passes over every recently freed inode), better spent
 * ahead than while the client waits for its 250.  Best effort: the
 * commit creates the file if it is missing.
 */
static void
spool_precreate_envelope(const char *name)
{
	char	 path[SPOOL_PATH_MAX];
	int	 fd;

	if (spool_path(path, sizeof(path), SPOOL_ENVELOPES, name, ".tmp") ==
	    -1)
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) != -1)
		(void)close(fd);
}

/*
 * spool_create, with prefix before the msgid in both file names; the
 * envelope's .tmp only if with_envelope.
 */
static int
spool_create_as(const char *prefix, int with_envelope, char *msgid,
    size_t sz)
{
	char	 name[SPOOL_MSGID_SIZE + sizeof(SPOOL_SPARE)];
	char	 path[SPOOL_PATH_MAX];
	int	 fd, i, r1, r2;

	for (i = 0; i < SPOOL_CREATE_TRIES; i++) {
		spool_msgid_new(msgid, sz);
		if ((r1 = spool_exists(SPOOL_MESSAGES, msgid, "")) == -1 ||
		    (r2 = spool_exists(SPOOL_ENVELOPES, msgid, "")) == -1)
			return -1;
		if (r1 || r2)
			continue;
		if ((size_t)snprintf(name, sizeof(name), "%s%s", prefix,
		    msgid) >= sizeof(name) ||
		    spool_path(path, sizeof(path), SPOOL_INCOMING, name, "") ==
		    -1) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd != -1) {
			if (with_envelope)
				spool_precreate_envelope(name);
			return fd;
		}
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

int
spool_create(char *msgid, size_t sz)
{
	return spool_create_as("", 1, msgid, sz);
}

int
spool_spare_make(char *msgid, size_t sz, int with_envelope)
{
	return spool_create_as(SPOOL_SPARE, with_envelope, msgid, sz);
}

/* dir/spare-<id><suffix> into buf. */
static int
spool_spare_path(char *buf, size_t sz, const char *dir, const char *id,
    const char *suffix)
{
	char	 name[SPOOL_MSGID_SIZE + sizeof(SPOOL_SPARE)];

	if ((size_t)snprintf(name, sizeof(name), "%s%s", SPOOL_SPARE, id) >=
	    sizeof(name)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return spool_path(buf, sz, dir, name, suffix);
}

/* from -> dir/<msgid><suffix>, never replacing a file. */
static int
spool_rename_new(const char *from, const char *dir, const char *msgid,
    const char *suffix)
{
	char	 to[SPOOL_PATH_MAX];
	int	 r;

	if (spool_path(to, sizeof(to), dir, msgid, suffix) == -1)
		return -1;
	if ((r = spool_exists(dir, msgid, suffix)) != 0) {
		if (r == 1)
			errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

int
spool_spare_take(const char *msgid)
{
	char	 from[SPOOL_PATH_MAX];

	if (spool_spare_path(from, sizeof(from), SPOOL_INCOMING, msgid, "") ==
	    -1)
		return -1;
	return spool_rename_new(from, SPOOL_INCOMING, msgid, "");
}

int
spool_spare_take_envelope(const char *spareid, const char *msgid)
{
	char	 from[SPOOL_PATH_MAX];

	if (spool_spare_path(from, sizeof(from), SPOOL_ENVELOPES, spareid,
	    ".tmp") == -1)
		return -1;
	return spool_rename_new(from, SPOOL_ENVELOPES, msgid, ".tmp");
}

void
spool_spare_drop(const char *msgid)
{
	char	 path[SPOOL_PATH_MAX];

	if (spool_spare_path(path, sizeof(path), SPOOL_INCOMING, msgid, "") ==
	    0)
		(void)unlink(path);
}

void
spool_spare_drop_envelope(const char *spareid)
{
	char	 path[SPOOL_PATH_MAX];

	if (spool_spare_path(path, sizeof(path), SPOOL_ENVELOPES, spareid,
	    ".tmp") == 0)
		(void)unlink(path);
}

/*
 * A fresh id for a recycled spare in dir: no spare of that name there,
 * and, as for spool_create, no message or envelope of it either.
 */
static int
spool_spare_id(char *id, size_t sz, const char *dir, const char *suffix)
{
	struct stat	 st;
	char		 path[SPOOL_PATH_MAX];
	int		 i, r1, r2, r3;

	for (i = 0; i < SPOOL_CREATE_TRIES; i++) {
		spool_msgid_new(id, sz);
		if (spool_spare_path(path, sizeof(path), dir, id, suffix) ==
		    -1)
			return -1;
		if ((r1 = spool_exists(SPOOL_MESSAGES, id, "")) == -1 ||
		    (r2 = spool_exists(SPOOL_ENVELOPES, id, "")) == -1 ||
		    (r3 = spool_exists(SPOOL_INCOMING, id, "")) == -1)
			return -1;
		if (r1 || r2 || r3)
			continue;
		if (lstat(path, &st) == -1 && errno == ENOENT)
			return 0;
	}
	errno = EEXIST;
	return -1;
}

int
spool_recycle_message(const char *msgid, char *spareid, size_t sz)
{
	char	 from[SPOOL_PATH_MAX], to[SPOOL_PATH_MAX];
	int	 fd;

	if (spool_path(from, sizeof(from), SPOOL_MESSAGES, msgid, "") == -1 ||
	    spool_spare_id(spareid, sz, SPOOL_INCOMING, "") == -1 ||
	    spool_spare_path(to, sizeof(to), SPOOL_INCOMING, spareid, "") ==
	    -1 || rename(from, to) == -1)
		return -1;
	/* Emptied at once: the old message does not wait in a spare. */
	if ((fd = open(to, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1)
		(void)unlink(to);
	return fd;
}

int
spool_recycle_envelope(const char *msgid, char *spareid, size_t sz)
{
	char	 from[SPOOL_PATH_MAX], to[SPOOL_PATH_MAX];

	if (spool_path(from, sizeof(from), SPOOL_ENVELOPES, msgid, "") ==
	    -1 ||
	    spool_spare_id(spareid, sz, SPOOL_ENVELOPES, ".tmp") == -1 ||
	    spool_spare_path(to, sizeof(to), SPOOL_ENVELOPES, spareid,
	    ".tmp") == -1)
		return -1;
	/* Not emptied: spool_envelope_write_tmp overwrites it in place. */
	return rename(from, to);
}

int
spool_open_sync(const char *dir, const char *msgid, uint64_t *size)
{
	struct stat	 st;
	char		 path[SPOOL_PATH_MAX];
	int		 fd, saved;

	if (spool_path(path, sizeof(path), dir, msgid, "") == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (size != NULL)
		*size = (uint64_t)st.st_size;
	return fd;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

int
spool_move_incoming(const char *msgid)
{
	char	 from[SPOOL_PATH_MAX], to[SPOOL_PATH_MAX];

	if (spool_path(from, sizeof(from), SPOOL_INCOMING, msgid, "") == -1 ||
	    spool_path(to, sizeof(to), SPOOL_MESSAGES, msgid, "") == -1)
		return -1;
	return rename(from, to);
}

int
spool_open_message(const char *msgid)
{
	char	 path[SPOOL_PATH_MAX];

	if (spool_path(path, sizeof(path), SPOOL_MESSAGES, msgid, "") == -1)
		return -1;
	return open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

int
spool_write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
spool_sum_valid(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= SPOOL_SUM_LEN || !((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == SPOOL_SUM_LEN;
}

/* SHA-256 of fd's bytes from offset 0 into ctx; *size counts them. */
static int
spool_sum_read(int fd, EVP_MD_CTX *ctx, unsigned char *buf,
    uint64_t *size)
{
	ssize_t	 n;

	for (*size = 0;; *size += (uint64_t)n) {
		n = pread(fd, buf, SPOOL_SUM_CHUNK, (off_t)*size);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n == -1)
			return -1;
		if (n == 0)
			return 0;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			errno = EIO;
			return -1;
		}
	}
}

int
spool_sum_final(EVP_MD_CTX *ctx, char *sum, size_t sumsz)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;

	if (sumsz < SPOOL_SUM_SIZE || EVP_DigestFinal_ex(ctx, md, &mdlen) !=
	    1 || mdlen * 2 != SPOOL_SUM_LEN) {
		errno = EIO;
		return -1;
	}
	for (i = 0; i < mdlen; i++) {
		sum[2 * i] = hex[md[i] >> 4];
		sum[2 * i + 1] = hex[md[i] & 0xf];
	}
	sum[SPOOL_SUM_LEN] = '\0';
	return 0;
}

int
spool_sum_buf(const void *buf, size_t len, char *sum, size_t sumsz)
{
	EVP_MD_CTX	*ctx;
	int		 r = -1;

	if ((ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, buf, len) == 1)
		r = spool_sum_final(ctx, sum, sumsz);
	else
		errno = EIO;
	EVP_MD_CTX_free(ctx);
	return r;
}

int
spool_sum_fd(int fd, uint64_t *size, char *sum, size_t sumsz)
{
	EVP_MD_CTX		*ctx = NULL;
	unsigned char		*buf = NULL;
	int			 r = -1, saved;

	if (sumsz < SPOOL_SUM_SIZE) {
		errno = EINVAL;
		return -1;
	}
	if ((buf = malloc(SPOOL_SUM_CHUNK)) == NULL)
		return -1;
	errno = EIO;	/* for libcrypto's failures */
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    spool_sum_read(fd, ctx, buf, size) == -1)
		goto done;
	r = spool_sum_final(ctx, sum, sumsz);
done:
	saved = errno;
	free(buf);
	EVP_MD_CTX_free(ctx);
	errno = saved;
	return r;
}

int
spool_envelope_write_tmp(const struct spool_envelope *env, struct syncset *ss)
{
	char	 path[SPOOL_PATH_MAX], *buf;
	size_t	 len;
	int	 fd, saved;

	if (spool_path(path, sizeof(path), SPOOL_ENVELOPES, env->msgid,
	    ".tmp") == -1)
		return -1;
	if ((buf = spool_envelope_encode(env, &len)) == NULL)
		return -1;
	/*
	 * No O_TRUNC: a spare .tmp (a recycled envelope) keeps its block,
	 * which is overwritten and then cut to length; truncating to zero
	 * would free it (a discard on this VM) and allocate another.
	 */
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		saved = errno;
		free(buf);
		errno = saved;
		return -1;
	}
	if (spool_write_all(fd, buf, len) == -1 ||
	    ftruncate(fd, (off_t)len) == -1) {
		saved = errno;
		free(buf);
		(void)close(fd);
		(void)unlink(path);
		errno = saved;
		return -1;
	}
	free(buf);
	if (syncset_add(ss, fd) == -1) {
		saved = errno;
		(void)unlink(path);
		errno = saved;
		return -1;
	}
	return 0;
}

int
spool_envelope_install(const char *msgid)
{
	char	 from[SPOOL_PATH_MAX], to[SPOOL_PATH_MAX];

	if (spool_path(from, sizeof(from), SPOOL_ENVELOPES, msgid, ".tmp") ==
	    -1 || spool_path(to, sizeof(to), SPOOL_ENVELOPES, msgid, "") == -1)
		return -1;
	return rename(from, to);
}

int
spool_unlink(const char *dir, const char *msgid, const char *suffix)
{
	char	 path[SPOOL_PATH_MAX];

	if (spool_path(path, sizeof(path), dir, msgid, suffix) == -1)
		return -1;
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

/* dir/name -> corrupt/name.what; a missing source is not an error. */
static int
spool_quarantine_one(const char *dir, const char *name, const char *what)
{
	char	 from[SPOOL_PATH_MAX], to[SPOOL_PATH_MAX];
	int	 n;

	if (spool_path(from, sizeof(from), dir, name, "") == -1)
		return -1;
	/* A file name is at most 255 bytes; keep room for the suffix. */
	n = snprintf(to, sizeof(to), "%s/%.200s.%s", SPOOL_CORRUPT, name, what);
	if (n < 0 || (size_t)n >= sizeof(to)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (rename(from, to) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

int
spool_quarantine(const char *name)
{
	if (spool_quarantine_one(SPOOL_ENVELOPES, name, "envelope") == -1)
		return -1;
	if (spool_quarantine_one(SPOOL_MESSAGES, name, "message") == -1)
		return -1;
	return 0;
}

/* Encoding. */

const char *
spool_state_name(enum spool_rcpt_state state)
{
	switch (state) {
	case SPOOL_RCPT_PENDING:
		return "pending";
	case SPOOL_RCPT_REMOTE:
		return "remote";
	case SPOOL_RCPT_DONE:
		return "done";
	case SPOOL_RCPT_FAILED:
		return "failed";
	case SPOOL_RCPT_BOUNCE:
		return "bounce";
	}
	return NULL;
}

const char *
spool_kind_name(uint32_t kind)
{
	switch (kind) {
	case SPOOL_KIND_LOCAL:
		return "local";
	case SPOOL_KIND_REMOTE:
		return "remote";
	}
	return NULL;
}

static const char *
spool_ret_name(int ret)
{
	switch (ret) {
	case SPOOL_RET_FULL:
		return "full";
	case SPOOL_RET_HDRS:
		return "hdrs";
	}
	return "-";
}

static int
spool_plain(unsigned char c)
{
	return c >= '!' && c <= '~' && c != '%';
}

int
spool_str_encode(const char *s, char *dst, size_t dstsz)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 o = 0;

	if (strcmp(s, "") == 0 || strcmp(s, "-") == 0) {
		if (strlcpy(dst, *s == '\0' ? "-" : "%2D", dstsz) >= dstsz)
			return -1;
		return 0;
	}
	for (; *p != '\0'; p++) {
		if (o + 4 > dstsz)
			return -1;
		if (spool_plain(*p))
			dst[o++] = (char)*p;
		else {
			dst[o++] = '%';
			dst[o++] = hex[*p >> 4];
			dst[o++] = hex[*p & 0xf];
		}
	}
	dst[o] = '\0';
	return 0;
}

static int
spool_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Accepts exactly what spool_str_encode writes. */
int
spool_str_decode(const char *tok, char *dst, size_t dstsz)
{
	const char	*p;
	size_t		 o = 0;
	int		 hi, lo;
	unsigned char	 c;

	if (dstsz == 0 || *tok == '\0')
		return -1;
	if (strcmp(tok, "-") == 0) {
		dst[0] = '\0';
		return 0;
	}
	for (p = tok; *p != '\0'; p++) {
		c = (unsigned char)*p;
		if (c == '%') {
			if ((hi = spool_hexval(p[1])) == -1 ||
			    (lo = spool_hexval(p[2])) == -1)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			if (c == '\0')
				return -1;
			/* Only "%2D" alone may stand for a plain byte. */
			if (spool_plain(c) && strcmp(tok, "%2D") != 0)
				return -1;
			p += 2;
		} else if (!spool_plain(c))
			return -1;
		if (o + 1 >= dstsz)
			return -1;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return 0;
}

static void
spool_buf_add(struct spool_buf *b, const char *s, size_t n)
{
	char	*p;
	size_t	 cap;

	if (b->error)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap == 0 ? 1024 : b->cap;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > SPOOL_ENVELOPE_MAX ||
		    (p = realloc(b->p, cap)) == NULL) {
			b->error = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
spool_buf_printf(struct spool_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[SPOOL_LINE_MAX];
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		b->error = 1;
		return;
	}
	spool_buf_add(b, line, (size_t)n);
}

static void
spool_buf_field(struct spool_buf *b, const char *sep, const char *s)
{
	char	 enc[SPOOL_ENC_MAX];

	if (spool_str_encode(s, enc, sizeof(enc)) == -1) {
		b->error = 1;
		return;
	}
	spool_buf_add(b, sep, strlen(sep));
	spool_buf_add(b, enc, strlen(enc));
}

char *
spool_envelope_encode(const struct spool_envelope *env, size_t *len)
{
	struct spool_buf	 b;
	const struct spool_rcpt	*r;
	size_t			 i;

	if (spool_envelope_check(env, NULL, 0) == -1) {
		errno = EINVAL;
		return NULL;
	}
	memset(&b, 0, sizeof(b));
	spool_buf_printf(&b, "postern-envelope %d\nmsgid %s\ncreated %lld\n"
	    "size %llu\n", env->sum[0] != '\0' ? SPOOL_VERSION : 2,
	    env->msgid, (long long)env->created,
	    (unsigned long long)env->size);
	if (env->sum[0] != '\0')
		spool_buf_printf(&b, "sum %s\n", env->sum);
	spool_buf_field(&b, "sender ", env->sender);
	spool_buf_field(&b, "\nclient ", env->client);
	spool_buf_field(&b, "\nhelo ", env->helo);
	spool_buf_printf(&b, "\ndsn %s %s", env->is_report ? "report" :
	    "message", spool_ret_name(env->ret));
	spool_buf_field(&b, " ", env->envid);
	spool_buf_add(&b, "\n", 1);
	for (i = 0; i < env->nrcpts; i++) {
		r = &env->rcpts[i];
		spool_buf_printf(&b, "rcpt %s %s %u %lld",
		    spool_kind_name(r->kind), spool_state_name(r->state),
		    r->attempts, (long long)r->next_try);
		spool_buf_field(&b, " ", r->dest);
		spool_buf_field(&b, " ", r->orig);
		spool_buf_field(&b, " ", r->reason);
		spool_buf_printf(&b, " %u", r->notify);
		spool_buf_field(&b, " ", r->orcpt);
		spool_buf_add(&b, "\n", 1);
	}
	spool_buf_add(&b, "end\n", 4);
	if (b.error) {
		free(b.p);
		errno = ENOMEM;
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* Checking. */

/* A NUL within sz bytes and no control bytes before it. */
static int
spool_text_ok(const char *s, size_t sz)
{
	size_t	 i;

	for (i = 0; i < sz && s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return i < sz;
}

/* A mailbox: local@domain, both parts present. */
static int
spool_mailbox_ok(const char *s)
{
	const char	*at;

	if ((at = strrchr(s, '@')) == NULL)
		return 0;
	return at != s && at[1] != '\0';
}

static int
spool_rcpt_check(const struct spool_rcpt *r, char *err, size_t errsz)
{
	if (r->kind != SPOOL_KIND_LOCAL && r->kind != SPOOL_KIND_REMOTE)
		return spool_fail(err, errsz, "bad kind");
	if (spool_state_name(r->state) == NULL)
		return spool_fail(err, errsz, "bad state");
	if ((r->kind == SPOOL_KIND_LOCAL && r->state == SPOOL_RCPT_REMOTE) ||
	    (r->kind == SPOOL_KIND_REMOTE && r->state == SPOOL_RCPT_PENDING))
		return spool_fail(err, errsz, "state does not fit kind");
	if (r->attempts > SPOOL_ATTEMPTS_MAX)
		return spool_fail(err, errsz, "attempts out of range");
	if (r->next_try < 0 || r->next_try > SPOOL_TIME_MAX)
		return spool_fail(err, errsz, "next-try out of range");
	if (!spool_text_ok(r->dest, sizeof(r->dest)) || r->dest[0] == '\0' ||
	    (r->kind == SPOOL_KIND_LOCAL && !spool_mailbox_ok(r->dest)))
		return spool_fail(err, errsz, "bad destination");
	if (!spool_text_ok(r->orig, sizeof(r->orig)) || r->orig[0] == '\0')
		return spool_fail(err, errsz, "bad original recipient");
	if (strnlen(r->reason, sizeof(r->reason)) == sizeof(r->reason))
		return spool_fail(err, errsz, "bad reason");
	if (r->notify > SPOOL_NOTIFY_MAX || ((r->notify & SPOOL_NOTIFY_NEVER) &&
	    r->notify != SPOOL_NOTIFY_NEVER))
		return spool_fail(err, errsz, "bad notify");
	if (!spool_text_ok(r->orcpt, sizeof(r->orcpt)))
		return spool_fail(err, errsz, "bad orcpt");
	return 0;
}

int
spool_envelope_check(const struct spool_envelope *env, char *err,
    size_t errsz)
{
	size_t	 i;
	char	 why[SPOOL_ERR_SIZE];

	if (!spool_msgid_valid(env->msgid))
		return spool_fail(err, errsz, "bad msgid");
	if (env->created <= 0 || env->created > SPOOL_TIME_MAX)
		return spool_fail(err, errsz, "created out of range");
	if (env->size > SPOOL_SIZE_MAX)
		return spool_fail(err, errsz, "size out of range");
	if (env->sum[0] != '\0' && !spool_sum_valid(env->sum))
		return spool_fail(err, errsz, "bad sum");
	if (!spool_text_ok(env->sender, sizeof(env->sender)))
		return spool_fail(err, errsz, "bad sender");
	if (!spool_text_ok(env->client, sizeof(env->client)))
		return spool_fail(err, errsz, "bad client");
	if (!spool_text_ok(env->helo, sizeof(env->helo)))
		return spool_fail(err, errsz, "bad helo");
	if (env->ret != SPOOL_RET_NONE && env->ret != SPOOL_RET_FULL &&
	    env->ret != SPOOL_RET_HDRS)
		return spool_fail(err, errsz, "bad ret");
	if (!spool_text_ok(env->envid, sizeof(env->envid)))
		return spool_fail(err, errsz, "bad envid");
	if (env->is_report != 0 && (env->is_report != 1 ||
	    env->sender[0] != '\0'))
		return spool_fail(err, errsz, "a report with a sender");
	if (env->nrcpts == 0 || env->nrcpts > SPOOL_MAX_RCPTS)
		return spool_fail(err, errsz, "bad number of recipients");
	for (i = 0; i < env->nrcpts; i++)
		if (spool_rcpt_check(&env->rcpts[i], why, sizeof(why)) == -1)
			return spool_fail(err, errsz, "recipient %zu: %s",
			    i + 1, why);
	return 0;
}

/* Parsing. */

/* Decimal, no sign, no leading zero, at most max. */
static int
spool_num(const char *s, unsigned long long max, unsigned long long *v)
{
	unsigned long long	 n = 0;
	const char		*p;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (n > (max - (unsigned long long)(*p - '0')) / 10)
			return -1;
		n = n * 10 + (unsigned long long)(*p - '0');
	}
	*v = n;
	return 0;
}

/* Splits line (modified) at single spaces; -1 on an empty token. */
static int
spool_split(char *line, char **tok, int max)
{
	int	 n = 0;
	char	*p = line;

	for (;;) {
		if (n == max || *p == '\0' || *p == ' ')
			return -1;
		tok[n++] = p;
		if ((p = strchr(p, ' ')) == NULL)
			return n;
		*p++ = '\0';
	}
}

struct spool_parser {
	const char	*buf;
	size_t		 len;
	size_t		 off;
	int		 version;
	size_t		 lineno;
	char		 line[SPOOL_LINE_MAX];
	char		*tok[SPOOL_MAX_TOKENS];
	int		 ntok;
};

/* The next line split into tokens: 0, or -1 at the end or on error. */
static int
spool_next_line(struct spool_parser *p, char *err, size_t errsz)
{
	const char	*nl;
	size_t		 n;

	if (p->off == p->len)
		return spool_fail(err, errsz, "truncated");
	p->lineno++;
	nl = memchr(p->buf + p->off, '\n', p->len - p->off);
	if (nl == NULL)
		return spool_fail(err, errsz, "line %zu: no newline",
		    p->lineno);
	n = (size_t)(nl - (p->buf + p->off));
	if (n >= sizeof(p->line))
		return spool_fail(err, errsz, "line %zu: too long",
		    p->lineno);
	memcpy(p->line, p->buf + p->off, n);
	p->line[n] = '\0';
	p->off += n + 1;
	if ((p->ntok = spool_split(p->line, p->tok, SPOOL_MAX_TOKENS)) == -1)
		return spool_fail(err, errsz, "line %zu: bad spacing",
		    p->lineno);
	return 0;
}

/* A "key value" line with exactly one string value. */
static int
spool_parse_str(struct spool_parser *p, const char *key, char *dst,
    size_t dstsz, char *err, size_t errsz)
{
	if (spool_next_line(p, err, errsz) == -1)
		return -1;
	if (p->ntok != 2 || strcmp(p->tok[0], key) != 0)
		return spool_fail(err, errsz, "line %zu: expected %s",
		    p->lineno, key);
	if (spool_str_decode(p->tok[1], dst, dstsz) == -1)
		return spool_fail(err, errsz, "line %zu: bad %s", p->lineno,
		    key);
	return 0;
}

static int
spool_parse_num(struct spool_parser *p, const char *key,
    unsigned long long max, unsigned long long *v, char *err, size_t errsz)
{
	if (spool_next_line(p, err, errsz) == -1)
		return -1;
	if (p->ntok != 2 || strcmp(p->tok[0], key) != 0)
		return spool_fail(err, errsz, "line %zu: expected %s",
		    p->lineno, key);
	if (spool_num(p->tok[1], max, v) == -1)
		return spool_fail(err, errsz, "line %zu: bad %s", p->lineno,
		    key);
	return 0;
}

static int
spool_parse_kind(const char *s, uint32_t *kind)
{
	if (strcmp(s, "local") == 0)
		*kind = SPOOL_KIND_LOCAL;
	else if (strcmp(s, "remote") == 0)
		*kind = SPOOL_KIND_REMOTE;
	else
		return -1;
	return 0;
}

static int
spool_parse_state(const char *s, enum spool_rcpt_state *state)
{
	enum spool_rcpt_state	 st;

	for (st = SPOOL_RCPT_PENDING; st <= SPOOL_RCPT_BOUNCE; st++)
		if (strcmp(s, spool_state_name(st)) == 0) {
			*state = st;
			return 0;
		}
	return -1;
}

/* The tokens of a rcpt line into r; 0 or -1. */
static int
spool_parse_rcpt(struct spool_parser *p, struct spool_rcpt *r)
{
	unsigned long long	 v;

	if (p->ntok != (p->version == 1 ? 8 : 10) ||
	    spool_parse_kind(p->tok[1], &r->kind) == -1 ||
	    spool_parse_state(p->tok[2], &r->state) == -1)
		return -1;
	if (spool_num(p->tok[3], SPOOL_ATTEMPTS_MAX, &v) == -1)
		return -1;
	r->attempts = (uint32_t)v;
	if (spool_num(p->tok[4], SPOOL_TIME_MAX, &v) == -1)
		return -1;
	r->next_try = (time_t)v;
	if (spool_str_decode(p->tok[5], r->dest, sizeof(r->dest)) == -1 ||
	    spool_str_decode(p->tok[6], r->orig, sizeof(r->orig)) == -1 ||
	    spool_str_decode(p->tok[7], r->reason, sizeof(r->reason)) == -1)
		return -1;
	if (p->version == 1)
		return 0;
	if (spool_num(p->tok[8], SPOOL_NOTIFY_MAX, &v) == -1)
		return -1;
	r->notify = (uint32_t)v;
	return spool_str_decode(p->tok[9], r->orcpt, sizeof(r->orcpt));
}

static int
spool_add_rcpt(struct spool_envelope *env, size_t *cap,
    struct spool_rcpt **r)
{
	struct spool_rcpt	*n;
	size_t			 ncap;

	if (env->nrcpts == SPOOL_MAX_RCPTS)
		return -1;
	if (env->nrcpts == *cap) {
		ncap = *cap == 0 ? 4 : *cap * 2;
		if ((n = reallocarray(env->rcpts, ncap, sizeof(*n))) == NULL)
			return -1;
		env->rcpts = n;
		*cap = ncap;
	}
	*r = &env->rcpts[env->nrcpts++];
	memset(*r, 0, sizeof(**r));
	return 0;
}

/* sum <64 lowercase hex digits> */
static int
spool_parse_sum(struct spool_parser *p, struct spool_envelope *env,
    char *err, size_t errsz)
{
	if (spool_next_line(p, err, errsz) == -1)
		return -1;
	if (p->ntok != 2 || strcmp(p->tok[0], "sum") != 0 ||
	    !spool_sum_valid(p->tok[1]))
		return spool_fail(err, errsz, "line %zu: expected sum",
		    p->lineno);
	(void)strlcpy(env->sum, p->tok[1], sizeof(env->sum));
	return 0;
}

/* dsn <type> <ret> <envid> */
static int
spool_parse_dsn(struct spool_parser *p, struct spool_envelope *env,
    char *err, size_t errsz)
{
	if (spool_next_line(p, err, errsz) == -1)
		return -1;
	if (p->ntok != 4 || strcmp(p->tok[0], "dsn") != 0)
		return spool_fail(err, errsz, "line %zu: expected dsn",
		    p->lineno);
	if (strcmp(p->tok[1], "report") == 0)
		env->is_report = 1;
	else if (strcmp(p->tok[1], "message") != 0)
		return spool_fail(err, errsz, "line %zu: bad dsn type",
		    p->lineno);
	for (env->ret = SPOOL_RET_NONE; env->ret <= SPOOL_RET_HDRS;
	    env->ret++)
		if (strcmp(p->tok[2], spool_ret_name(env->ret)) == 0)
			break;
	if (env->ret > SPOOL_RET_HDRS)
		return spool_fail(err, errsz, "line %zu: bad ret", p->lineno);
	if (spool_str_decode(p->tok[3], env->envid, sizeof(env->envid)) == -1)
		return spool_fail(err, errsz, "line %zu: bad envid",
		    p->lineno);
	return 0;
}

static int
spool_parse_header(struct spool_parser *p, struct spool_envelope *env,
    char *err, size_t errsz)
{
	unsigned long long	 v;

	if (spool_next_line(p, err, errsz) == -1)
		return -1;
	if (p->ntok != 2 || strcmp(p->tok[0], "postern-envelope") != 0 ||
	    (strcmp(p->tok[1], "1") != 0 && strcmp(p->tok[1], "2") != 0 &&
	    strcmp(p->tok[1], "3") != 0))
		return spool_fail(err, errsz, "not a version 1, 2 or 3 "
		    "envelope");
	p->version = p->tok[1][0] - '0';
	if (spool_parse_str(p, "msgid", env->msgid, sizeof(env->msgid), err,
	    errsz) == -1)
		return -1;
	if (spool_parse_num(p, "created", SPOOL_TIME_MAX, &v, err, errsz) ==
	    -1)
		return -1;
	env->created = (time_t)v;
	if (spool_parse_num(p, "size", SPOOL_SIZE_MAX, &v, err, errsz) == -1)
		return -1;
	env->size = v;
	if (p->version >= 3 && spool_parse_sum(p, env, err, errsz) == -1)
		return -1;
	if (spool_parse_str(p, "sender", env->sender, sizeof(env->sender),
	    err, errsz) == -1 ||
	    spool_parse_str(p, "client", env->client, sizeof(env->client),
	    err, errsz) == -1 ||
	    spool_parse_str(p, "helo", env->helo, sizeof(env->helo), err,
	    errsz) == -1)
		return -1;
	if (p->version == 1)
		return 0;
	return spool_parse_dsn(p, env, err, errsz);
}

static int
spool_parse_rcpts(struct spool_parser *p, struct spool_envelope *env,
    char *err, size_t errsz)
{
	struct spool_rcpt	*r;
	size_t			 cap = 0;

	for (;;) {
		if (spool_next_line(p, err, errsz) == -1)
			return -1;
		if (p->ntok == 1 && strcmp(p->tok[0], "end") == 0)
			break;
		if (strcmp(p->tok[0], "rcpt") != 0)
			return spool_fail(err, errsz, "line %zu: expected rcpt "
			    "or end", p->lineno);
		if (spool_add_rcpt(env, &cap, &r) == -1)
			return spool_fail(err, errsz, "line %zu: too many "
			    "recipients", p->lineno);
		if (spool_parse_rcpt(p, r) == -1)
			return spool_fail(err, errsz, "line %zu: bad rcpt",
			    p->lineno);
	}
	if (p->off != p->len)
		return spool_fail(err, errsz, "bytes after end");
	return 0;
}

int
spool_envelope_parse(const char *buf, size_t len, const char *name,
    struct spool_envelope *env, char *err, size_t errsz)
{
	struct spool_parser	*p;
	int			 r = -1;

	memset(env, 0, sizeof(*env));
	if (len > SPOOL_ENVELOPE_MAX)
		return spool_fail(err, errsz, "too large");
	if (memchr(buf, '\0', len) != NULL)
		return spool_fail(err, errsz, "NUL byte");
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return spool_fail(err, errsz, "out of memory");
	p->buf = buf;
	p->len = len;
	if (spool_parse_header(p, env, err, errsz) == -1 ||
	    spool_parse_rcpts(p, env, err, errsz) == -1)
		goto done;
	if (name != NULL && strcmp(name, env->msgid) != 0) {
		(void)spool_fail(err, errsz, "msgid %s in a file named %s",
		    env->msgid, name);
		goto done;
	}
	if (spool_envelope_check(env, err, errsz) == -1)
		goto done;
	r = 0;
done:
	free(p);
	if (r == -1)
		spool_envelope_free(env);
	return r;
}

void
spool_envelope_free(struct spool_envelope *env)
{
	free(env->rcpts);
	env->rcpts = NULL;
	env->nrcpts = 0;
}

/* The whole of a regular file into a malloc'd buffer: 0, -1, -2. */
static int
spool_slurp(const char *path, char **bufp, size_t *lenp, char *err,
    size_t errsz)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno != ELOOP)
			return -1;
		(void)spool_fail(err, errsz, "symbolic link");
		return -2;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size > SPOOL_ENVELOPE_MAX) {
		(void)close(fd);
		(void)spool_fail(err, errsz, "not a regular file of "
		    "envelope size");
		return -2;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	if ((n = pread(fd, buf, (size_t)st.st_size, 0)) != st.st_size) {
		free(buf);
		if (n != -1)
			errno = EIO;
		goto fail;
	}
	(void)close(fd);
	*bufp = buf;
	*lenp = (size_t)st.st_size;
	return 0;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

int
spool_envelope_read(const char *msgid, struct spool_envelope *env,
    char *err, size_t errsz)
{
	char	 path[SPOOL_PATH_MAX], *buf;
	size_t	 len;
	int	 r;

	memset(env, 0, sizeof(*env));
	if (spool_path(path, sizeof(path), SPOOL_ENVELOPES, msgid, "") == -1)
		return -1;
	if ((r = spool_slurp(path, &buf, &len, err, errsz)) != 0)
		return r;
	r = spool_envelope_parse(buf, len, msgid, env, err, errsz);
	free(buf);
	return r == 0 ? 0 : -2;
}

/* Recovery. */

struct spool_names {
	char	**v;
	size_t	  n;
	size_t	  cap;
};

static void
spool_names_free(struct spool_names *names)
{
	size_t	 i;

	for (i = 0; i < names->n; i++)
		free(names->v[i]);
	free(names->v);
	memset(names, 0, sizeof(*names));
}

static int
spool_names_add(struct spool_names *names, const char *name)
{
	char	**v;
	size_t	  cap;

	if (names->n == names->cap) {
		cap = names->cap == 0 ? 64 : names->cap * 2;
		if ((v = reallocarray(names->v, cap, sizeof(*v))) == NULL)
			return -1;
		names->v = v;
		names->cap = cap;
	}
	if ((names->v[names->n] = strdup(name)) == NULL)
		return -1;
	names->n++;
	return 0;
}

/*
 * The names in dir, read completely before anything is renamed or
 * removed (readdir's view of a directory that changes is unspecified).
 */
static int
spool_list(const char *dir, struct spool_names *names)
{
	struct dirent	*de;
	DIR		*d;
	int		 saved;

	memset(names, 0, sizeof(*names));
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (spool_names_add(names, de->d_name) == -1)
			goto fail;
	}
	if (errno != 0)
		goto fail;
	closedir(d);
	return 0;
fail:
	saved = errno;
	closedir(d);
	spool_names_free(names);
	errno = saved;
	return -1;
}

static int
spool_has_suffix(const char *s, const char *suffix)
{
	size_t	 l = strlen(s), sl = strlen(suffix);

	return l > sl && strcmp(s + l - sl, suffix) == 0;
}

/* Removes every file in dir, or only those ending in suffix. */
static int
spool_clean(const char *dir, const char *suffix, size_t *count)
{
	struct spool_names	 names;
	size_t			 i;

	if (spool_list(dir, &names) == -1)
		return -1;
	for (i = 0; i < names.n; i++) {
		if (suffix != NULL && !spool_has_suffix(names.v[i], suffix))
			continue;
		if (spool_unlink(dir, names.v[i], "") == -1) {
			spool_names_free(&names);
			return -1;
		}
		(*count)++;
	}
	spool_names_free(&names);
	return 0;
}

static void
spool_recover_bad(const char *name, const char *why, spool_corrupt_fn bad,
    void *arg, struct spool_recovery *rec)
{
	char	 qwhy[SPOOL_ERR_SIZE * 2];

	if (spool_quarantine(name) == -1) {
		(void)snprintf(qwhy, sizeof(qwhy), "%s; quarantine failed: %s",
		    why, strerror(errno));
		why = qwhy;
	}
	rec->corrupt++;
	if (bad != NULL)
		bad(name, why, arg);
}

/*
 * After an unclean stop: does messages/<msgid> hold what env's size and
 * sum say?  1 yes, 0 no (why in err), -1 an I/O error.
 */
static int
spool_recover_verify(const struct spool_envelope *env, char *err,
    size_t errsz, struct spool_recovery *rec)
{
	char		 sum[SPOOL_SUM_SIZE];
	uint64_t	 size;
	int		 fd, r, saved;

	if (rec->clean || env->sum[0] == '\0')
		return 1;
	if ((fd = spool_open_message(env->msgid)) == -1)
		return -1;
	r = spool_sum_fd(fd, &size, sum, sizeof(sum));
	saved = errno;
	(void)close(fd);
	errno = saved;
	if (r == -1)
		return -1;
	rec->verified++;
	if (size != env->size || strcmp(sum, env->sum) != 0) {
		(void)spool_fail(err, errsz, "message does not match its "
		    "envelope's size and sum (a commit cut short by a crash)");
		return 0;
	}
	return 1;
}

/* One envelope: handed to load, or quarantined; -1 on an I/O error. */
static int
spool_recover_one(const char *name, spool_load_fn load, spool_corrupt_fn bad,
    void *arg, struct spool_recovery *rec)
{
	struct spool_envelope	 env;
	struct stat		 st;
	char			 path[SPOOL_PATH_MAX], err[SPOOL_ERR_SIZE];
	int			 r;

	if (!spool_msgid_valid(name)) {
		spool_recover_bad(name, "not a msgid", bad, arg, rec);
		return 0;
	}
	if ((r = spool_envelope_read(name, &env, err, sizeof(err))) == -1)
		return -1;
	if (r == -2) {
		spool_recover_bad(name, err, bad, arg, rec);
		return 0;
	}
	if (spool_path(path, sizeof(path), SPOOL_MESSAGES, name, "") == -1)
		return -1;
	if (lstat(path, &st) == -1) {
		if (errno != ENOENT) {
			spool_envelope_free(&env);
			return -1;
		}
		spool_envelope_free(&env);
		spool_recover_bad(name, "no message file", bad, arg, rec);
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		spool_envelope_free(&env);
		spool_recover_bad(name, "message is not a regular file", bad,
		    arg, rec);
		return 0;
	}
	if ((r = spool_recover_verify(&env, err, sizeof(err), rec)) != 1) {
		spool_envelope_free(&env);
		if (r == -1)
			return -1;
		spool_recover_bad(name, err, bad, arg, rec);
		return 0;
	}
	rec->loaded++;
	load(&env, arg);
	return 0;
}

/* Removes messages/<name> that no envelope refers to. */
static int
spool_recover_orphans(struct spool_recovery *rec)
{
	struct spool_names	 names;
	size_t			 i;
	int			 r;

	if (spool_list(SPOOL_MESSAGES, &names) == -1)
		return -1;
	for (i = 0; i < names.n; i++) {
		if ((r = spool_exists(SPOOL_ENVELOPES, names.v[i], "")) == -1)
			goto fail;
		if (r == 1)
			continue;
		if (spool_unlink(SPOOL_MESSAGES, names.v[i], "") == -1)
			goto fail;
		rec->orphans++;
	}
	spool_names_free(&names);
	return 0;
fail:
	spool_names_free(&names);
	return -1;
}

/* fd (taken) and the spool's root made durable with fsync. */
static int
spool_sync_root(int fd)
{
	struct syncset	 ss;
	int		 r;

	(void)syncset_init(&ss, SYNCSET_FILES, -1);
	if (fd != -1)
		(void)syncset_add(&ss, fd);
	(void)syncset_add_path(&ss, AT_FDCWD, ".");
	r = syncset_flush(&ss);
	syncset_free(&ss);
	return r;
}

int
spool_mark_clean(void)
{
	int	 fd;

	fd = open(SPOOL_CLEAN, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	return spool_sync_root(fd);
}

/*
 * Was the last stop clean?  The answer holds for this start only: the
 * file goes, durably, before any commit can follow.
 */
static int
spool_take_clean(struct spool_recovery *rec)
{
	if (unlink(SPOOL_CLEAN) == -1)
		return errno == ENOENT ? 0 : -1;
	rec->clean = 1;
	return spool_sync_root(-1);
}

int
spool_recover(spool_load_fn load, spool_corrupt_fn bad, void *arg,
    struct spool_recovery *rec)
{
	struct spool_names	 names;
	size_t			 i;

	memset(rec, 0, sizeof(*rec));
	if (spool_take_clean(rec) == -1)
		return -1;
	if (spool_clean(SPOOL_INCOMING, NULL, &rec->incoming) == -1 ||
	    spool_clean(SPOOL_ENVELOPES, ".tmp", &rec->tmp) == -1)
		return -1;
	if (spool_list(SPOOL_ENVELOPES, &names) == -1)
		return -1;
	for (i = 0; i < names.n; i++)
		if (spool_recover_one(names.v[i], load, bad, arg, rec) == -1) {
			spool_names_free(&names);
			return -1;
		}
	spool_names_free(&names);
	return spool_recover_orphans(rec);
}
