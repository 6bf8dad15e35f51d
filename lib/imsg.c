/*
 * imsg.c: framing, fd passing and payload helpers for the channels
 * between postern's processes (the frame format is in imsg.h).
 *
 * Owns: the read buffer, the fds received and not yet claimed by a frame,
 * the write queue and the fds waiting in it.  Trusts: nothing it reads.
 * A frame header is checked before any of its bytes are used, and once
 * the stream is malformed the buffer stays broken: a byte stream cannot
 * be resynchronised, and the peer is buggy or hostile anyway.
 *
 * Payloads may hold secrets (passwords on their way to auth), so every
 * buffer that held one is wiped before it is freed.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"

#define IMSG_RBUF_SIZE		(IMSG_MAX_SIZE * 2)
#define IMSG_MAX_PAYLOAD	(IMSG_MAX_SIZE - IMSG_HEADER_SIZE)
#define IMSG_RECV_FDS		16	/* room for fds in one recvmsg() */
#define IMSG_WRITE_IOV		64	/* frames in one sendmsg() at most */
#define IBUF_MIN_CAP		256

/* A queued frame: header and payload in one allocation. */
struct imsg_wmsg {
	TAILQ_ENTRY(imsg_wmsg)	 entry;
	int			 fd;	/* -1: none, or already sent */
	size_t			 len;	/* header + payload */
	size_t			 off;	/* bytes already written */
	unsigned char		 buf[];
};

static void	imsgbuf_compact(struct imsgbuf *);
static void	imsgbuf_take_fds(struct imsgbuf *, struct msghdr *);
static int	imsgbuf_pop_fd(struct imsgbuf *);
static int	imsg_get_bad(struct imsgbuf *);
static void	imsg_wmsg_free(struct imsgbuf *, struct imsg_wmsg *);
static ssize_t	imsgbuf_sendmsg(struct imsgbuf *);
static void	imsgbuf_consume(struct imsgbuf *, size_t);
static int	ibuf_reserve(struct ibuf *, size_t);
static const unsigned char *imsg_reader_take(struct imsg_reader *, size_t,
		    const char *);

int
imsgbuf_init(struct imsgbuf *ibuf, int fd)
{
	memset(ibuf, 0, sizeof(*ibuf));
	ibuf->fd = fd;
	TAILQ_INIT(&ibuf->wqueue);
	if ((ibuf->rbuf = malloc(IMSG_RBUF_SIZE)) == NULL)
		return -1;
	return 0;
}

void
imsgbuf_clear(struct imsgbuf *ibuf)
{
	struct imsg_wmsg	*w;
	size_t			 i;

	while ((w = TAILQ_FIRST(&ibuf->wqueue)) != NULL)
		imsg_wmsg_free(ibuf, w);
	TAILQ_INIT(&ibuf->wqueue);
	ibuf->wqueued = 0;
	for (i = 0; i < ibuf->nrfds; i++)
		close(ibuf->rfds[i]);
	ibuf->nrfds = 0;
	if (ibuf->rbuf != NULL)
		freezero(ibuf->rbuf, IMSG_RBUF_SIZE);
	ibuf->rbuf = NULL;
	ibuf->rlen = 0;
	ibuf->roff = 0;
}

/*
 * Moves the bytes imsg_get has not taken to the front, once per read
 * rather than once per frame.
 */
static void
imsgbuf_compact(struct imsgbuf *ibuf)
{
	if (ibuf->roff == 0)
		return;
	memmove(ibuf->rbuf, ibuf->rbuf + ibuf->roff, ibuf->rlen - ibuf->roff);
	ibuf->rlen -= ibuf->roff;
	ibuf->roff = 0;
}

/*
 * Keeps the fds that came with a read, in order.  Past
 * IMSG_MAX_PENDING_FDS the peer is flooding us: close the excess and
 * break the stream, since the fds no longer match their frames.
 */
static void
imsgbuf_take_fds(struct imsgbuf *ibuf, struct msghdr *msg)
{
	struct cmsghdr	*cm;
	size_t		 i, n;
	int		 fd;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
			    sizeof(fd));
			if (ibuf->nrfds < IMSG_MAX_PENDING_FDS)
				ibuf->rfds[ibuf->nrfds++] = fd;
			else {
				close(fd);
				ibuf->broken = 1;
			}
		}
	}
}

ssize_t
imsgbuf_read(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	 hdr;
		unsigned char	 buf[CMSG_SPACE(sizeof(int) * IMSG_RECV_FDS)];
	}		 cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	ssize_t		 n;

	if (ibuf->rbuf == NULL) {
		errno = EBADF;
		return -1;
	}
	imsgbuf_compact(ibuf);
	if (ibuf->rlen == IMSG_RBUF_SIZE) {
		errno = ENOBUFS;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = ibuf->rbuf + ibuf->rlen;
	iov.iov_len = IMSG_RBUF_SIZE - ibuf->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	do {
		n = recvmsg(ibuf->fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	imsgbuf_take_fds(ibuf, &msg);
	/* The kernel dropped fds it had no room for: they are lost. */
	if (msg.msg_flags & MSG_CTRUNC)
		ibuf->broken = 1;
	ibuf->rlen += (size_t)n;
	return n;
}

size_t
imsgbuf_pending(const struct imsgbuf *ibuf)
{
	return ibuf->rlen - ibuf->roff;
}

static int
imsgbuf_pop_fd(struct imsgbuf *ibuf)
{
	int	 fd;

	fd = ibuf->rfds[0];
	ibuf->nrfds--;
	memmove(ibuf->rfds, ibuf->rfds + 1, ibuf->nrfds * sizeof(int));
	return fd;
}

static int
imsg_get_bad(struct imsgbuf *ibuf)
{
	ibuf->broken = 1;
	errno = EBADMSG;
	return -1;
}

int
imsg_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	const unsigned char *frame;
	size_t		 datalen;
	void		*data = NULL;

	if (ibuf->broken)
		return imsg_get_bad(ibuf);
	if (imsgbuf_pending(ibuf) < IMSG_HEADER_SIZE)
		return 0;
	frame = ibuf->rbuf + ibuf->roff;
	memcpy(&hdr, frame, sizeof(hdr));
	if (hdr.len < IMSG_HEADER_SIZE || hdr.len > IMSG_MAX_SIZE ||
	    (hdr.flags & ~IMSG_FLAG_FD) != 0)
		return imsg_get_bad(ibuf);
	/* The fd travels with the frame's first byte: it is here by now. */
	if ((hdr.flags & IMSG_FLAG_FD) && ibuf->nrfds == 0)
		return imsg_get_bad(ibuf);
	if (imsgbuf_pending(ibuf) < hdr.len)
		return 0;
	datalen = hdr.len - IMSG_HEADER_SIZE;
	if (datalen > 0) {
		if ((data = malloc(datalen)) == NULL)
			return -1;
		memcpy(data, frame + IMSG_HEADER_SIZE, datalen);
	}
	imsg->hdr = hdr;
	imsg->data = data;
	imsg->datalen = datalen;
	imsg->fd = (hdr.flags & IMSG_FLAG_FD) ? imsgbuf_pop_fd(ibuf) : -1;
	ibuf->roff += hdr.len;
	if (ibuf->roff == ibuf->rlen)
		ibuf->roff = ibuf->rlen = 0;
	return 1;
}

void
imsg_free(struct imsg *imsg)
{
	if (imsg->data != NULL)
		freezero(imsg->data, imsg->datalen);
	imsg->data = NULL;
	imsg->datalen = 0;
	if (imsg->fd != -1)
		close(imsg->fd);
	imsg->fd = -1;
}

int
imsg_get_fd(struct imsg *imsg)
{
	int	 fd = imsg->fd;

	imsg->fd = -1;
	return fd;
}

int
imsg_compose(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const void *data, size_t datalen)
{
	struct imsg_wmsg	*w;
	struct imsg_hdr		 hdr;
	int			 saved_errno;

	if (fd < 0)
		fd = -1;
	if (datalen > IMSG_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		goto fail;
	}
	if (datalen > 0 && data == NULL) {
		errno = EINVAL;
		goto fail;
	}
	if ((w = malloc(sizeof(*w) + IMSG_HEADER_SIZE + datalen)) == NULL)
		goto fail;
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint32_t)(IMSG_HEADER_SIZE + datalen);
	hdr.peerid = peerid;
	hdr.pid = (uint32_t)pid;
	hdr.flags = fd != -1 ? IMSG_FLAG_FD : 0;
	memcpy(w->buf, &hdr, sizeof(hdr));
	if (datalen > 0)
		memcpy(w->buf + IMSG_HEADER_SIZE, data, datalen);
	w->fd = fd;
	w->len = hdr.len;
	w->off = 0;
	TAILQ_INSERT_TAIL(&ibuf->wqueue, w, entry);
	ibuf->wqueued++;
	return 0;
 fail:
	if (fd != -1) {
		saved_errno = errno;
		close(fd);
		errno = saved_errno;
	}
	return -1;
}

static void
imsg_wmsg_free(struct imsgbuf *ibuf, struct imsg_wmsg *w)
{
	TAILQ_REMOVE(&ibuf->wqueue, w, entry);
	ibuf->wqueued--;
	if (w->fd != -1)
		close(w->fd);
	freezero(w, sizeof(*w) + w->len);
}

/*
 * One sendmsg() of the head of the queue.  A frame with an fd always
 * starts a sendmsg() of its own, so that its fd is attached to its first
 * byte and the reader meets the fd no later than the frame's header.
 */
static ssize_t
imsgbuf_sendmsg(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	 hdr;
		unsigned char	 buf[CMSG_SPACE(sizeof(int))];
	}			 cmsgbuf;
	struct iovec		 iov[IMSG_WRITE_IOV];
	struct msghdr		 msg;
	struct cmsghdr		*cm;
	struct imsg_wmsg	*w, *head;
	int			 n = 0;

	head = TAILQ_FIRST(&ibuf->wqueue);
	for (w = head; w != NULL && n < IMSG_WRITE_IOV;
	    w = TAILQ_NEXT(w, entry)) {
		if (w != head && w->fd != -1)
			break;
		iov[n].iov_base = w->buf + w->off;
		iov[n].iov_len = w->len - w->off;
		n++;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = n;
	if (head->fd != -1) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cm), &head->fd, sizeof(int));
	}
	return sendmsg(ibuf->fd, &msg, MSG_NOSIGNAL);
}

/* Drops n written bytes from the head of the queue. */
static void
imsgbuf_consume(struct imsgbuf *ibuf, size_t n)
{
	struct imsg_wmsg	*w;
	size_t			 left;

	while (n > 0 && (w = TAILQ_FIRST(&ibuf->wqueue)) != NULL) {
		/* Its first byte is out, so is its fd: ours is a copy. */
		if (w->fd != -1) {
			close(w->fd);
			w->fd = -1;
		}
		left = w->len - w->off;
		if (n < left) {
			w->off += n;
			return;
		}
		n -= left;
		imsg_wmsg_free(ibuf, w);
	}
}

int
imsgbuf_write(struct imsgbuf *ibuf)
{
	ssize_t	 n;

	while (!TAILQ_EMPTY(&ibuf->wqueue)) {
		if ((n = imsgbuf_sendmsg(ibuf)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ENOBUFS)
				return 0;
			return -1;
		}
		if (n == 0)
			return 0;
		imsgbuf_consume(ibuf, (size_t)n);
	}
	return 0;
}

int
imsgbuf_flush(struct imsgbuf *ibuf)
{
	struct pollfd	 pfd;

	for (;;) {
		if (imsgbuf_write(ibuf) == -1)
			return -1;
		if (TAILQ_EMPTY(&ibuf->wqueue))
			return 0;
		pfd.fd = ibuf->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
	}
}

size_t
imsgbuf_queued(const struct imsgbuf *ibuf)
{
	return ibuf->wqueued;
}

void
ibuf_init(struct ibuf *ib)
{
	memset(ib, 0, sizeof(*ib));
}

/* Makes room for n more bytes, or sets the error. */
static int
ibuf_reserve(struct ibuf *ib, size_t n)
{
	unsigned char	*p;
	size_t		 cap;

	if (ib->error != 0)
		return -1;
	if (n > IMSG_MAX_PAYLOAD - ib->len) {
		ib->error = EMSGSIZE;
		return -1;
	}
	if (ib->len + n <= ib->cap)
		return 0;
	cap = ib->cap < IBUF_MIN_CAP ? IBUF_MIN_CAP : ib->cap;
	while (cap < ib->len + n)
		cap *= 2;
	if (cap > IMSG_MAX_PAYLOAD)
		cap = IMSG_MAX_PAYLOAD;
	/* recallocarray wipes the old buffer. */
	if ((p = recallocarray(ib->data, ib->cap, cap, 1)) == NULL) {
		ib->error = ENOMEM;
		return -1;
	}
	ib->data = p;
	ib->cap = cap;
	return 0;
}

void
ibuf_add(struct ibuf *ib, const void *data, size_t len)
{
	if (len == 0 || ibuf_reserve(ib, len) == -1)
		return;
	memcpy(ib->data + ib->len, data, len);
	ib->len += len;
}

void
ibuf_add_u32(struct ibuf *ib, uint32_t v)
{
	ibuf_add(ib, &v, sizeof(v));
}

void
ibuf_add_u64(struct ibuf *ib, uint64_t v)
{
	ibuf_add(ib, &v, sizeof(v));
}

void
ibuf_add_str(struct ibuf *ib, const char *s)
{
	ibuf_add_strn(ib, s, strlen(s));
}

void
ibuf_add_strn(struct ibuf *ib, const char *s, size_t len)
{
	if (ib->error != 0)
		return;
	if (len > UINT32_MAX) {
		ib->error = EMSGSIZE;
		return;
	}
	/* The reader would die on it: refuse to send it. */
	if (len > 0 && memchr(s, '\0', len) != NULL) {
		ib->error = EINVAL;
		return;
	}
	/* Both parts or neither. */
	if (ibuf_reserve(ib, sizeof(uint32_t) + len) == -1)
		return;
	ibuf_add_u32(ib, (uint32_t)len);
	ibuf_add(ib, s, len);
}

void
ibuf_free(struct ibuf *ib)
{
	if (ib->data != NULL)
		freezero(ib->data, ib->cap);
	ibuf_init(ib);
}

void
imsg_reader_init(struct imsg_reader *r, const struct imsg *imsg,
    const char *name)
{
	r->p = imsg->data;
	r->left = imsg->datalen;
	r->name = name;
}

/* The next n bytes of the payload, which must be there. */
static const unsigned char *
imsg_reader_take(struct imsg_reader *r, size_t n, const char *what)
{
	const unsigned char	*p = r->p;

	if (n > r->left)
		fatalx("%s: malformed imsg: %s needs %zu bytes, %zu left",
		    r->name, what, n, r->left);
	if (n > 0) {
		r->p += n;
		r->left -= n;
	}
	return p;
}

uint32_t
imsg_read_u32(struct imsg_reader *r)
{
	uint32_t	 v;

	memcpy(&v, imsg_reader_take(r, sizeof(v), "u32"), sizeof(v));
	return v;
}

uint64_t
imsg_read_u64(struct imsg_reader *r)
{
	uint64_t	 v;

	memcpy(&v, imsg_reader_take(r, sizeof(v), "u64"), sizeof(v));
	return v;
}

void
imsg_read_bytes(struct imsg_reader *r, void *dst, size_t len)
{
	const unsigned char	*p;

	p = imsg_reader_take(r, len, "bytes");
	if (len > 0)
		memcpy(dst, p, len);
}

/* A string's bytes, checked for NUL; *lenp is its length. */
static const unsigned char *
imsg_reader_str(struct imsg_reader *r, size_t *lenp)
{
	const unsigned char	*p;
	uint32_t		 len;

	len = imsg_read_u32(r);
	p = imsg_reader_take(r, len, "string");
	if (len > 0 && memchr(p, '\0', len) != NULL)
		fatalx("%s: malformed imsg: NUL in a string", r->name);
	*lenp = len;
	return p;
}

void
imsg_read_str(struct imsg_reader *r, char *dst, size_t dstsz)
{
	const unsigned char	*p;
	size_t			 len;

	p = imsg_reader_str(r, &len);
	if (len >= dstsz)
		fatalx("%s: malformed imsg: string of %zu bytes, room for %zu",
		    r->name, len, dstsz == 0 ? 0 : dstsz - 1);
	if (len > 0)
		memcpy(dst, p, len);
	dst[len] = '\0';
}

char *
imsg_read_strdup(struct imsg_reader *r, size_t max)
{
	const unsigned char	*p;
	size_t			 len;
	char			*s;

	p = imsg_reader_str(r, &len);
	if (len > max)
		fatalx("%s: malformed imsg: string of %zu bytes, max %zu",
		    r->name, len, max);
	if ((s = malloc(len + 1)) == NULL)
		fatal("%s: malloc", r->name);
	if (len > 0)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

void
imsg_reader_end(struct imsg_reader *r)
{
	if (r->left != 0)
		fatalx("%s: malformed imsg: %zu trailing bytes", r->name,
		    r->left);
}

void
imsg_get_exact(const struct imsg *imsg, void *dst, size_t size,
    const char *name)
{
	if (imsg->datalen != size)
		fatalx("%s: malformed imsg: %zu bytes, expected %zu", name,
		    imsg->datalen, size);
	if (size > 0)
		memcpy(dst, imsg->data, size);
}
