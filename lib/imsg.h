/*
 * imsg.h: framed messages between postern's processes, over a stream
 * socketpair (or the control socket), with optional fd passing.
 *
 * A frame is a fixed header (struct imsg_hdr, host byte order: both ends
 * are the same binary on the same machine) followed by hdr.len -
 * IMSG_HEADER_SIZE bytes of payload.  A frame never exceeds IMSG_MAX_SIZE.
 * At most one fd travels with a frame (IMSG_FLAG_FD); it is sent with the
 * frame's first byte.
 *
 * The reader trusts nothing: a frame whose length is below the header
 * size or above IMSG_MAX_SIZE, whose flags are unknown, or that announces
 * an fd that did not arrive, is reported as malformed (EBADMSG) and the
 * buffer is unusable afterwards.  What to do then is the caller's choice:
 * for a peer process it is fatal, for a control client the connection is
 * closed.
 */

#ifndef POSTERN_IMSG_H
#define POSTERN_IMSG_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#define IMSG_MAX_SIZE		65536	/* header included */
#define IMSG_FLAG_FD		0x1
#define IMSG_MAX_PENDING_FDS	64	/* received, not yet claimed */

struct imsg_hdr {
	uint32_t	type;
	uint32_t	len;		/* header + payload */
	uint32_t	peerid;
	uint32_t	pid;
	uint32_t	flags;
};
#define IMSG_HEADER_SIZE	sizeof(struct imsg_hdr)

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;		/* -1 when none */
	void		*data;		/* payload, NULL when datalen is 0 */
	size_t		 datalen;
};

struct imsg_wmsg;
TAILQ_HEAD(imsg_wqueue, imsg_wmsg);

struct imsgbuf {
	int			 fd;
	unsigned char		*rbuf;		/* IMSG_MAX_SIZE * 2 bytes */
	size_t			 rlen;		/* bytes held in rbuf */
	size_t			 roff;		/* of which imsg_get took */
	int			 rfds[IMSG_MAX_PENDING_FDS];
	size_t			 nrfds;
	struct imsg_wqueue	 wqueue;
	size_t			 wqueued;	/* frames waiting to be written */
	int			 broken;	/* a malformed frame was seen */
};

/* Sets up ibuf on fd (which should be non-blocking for use with libevent). */
int	 imsgbuf_init(struct imsgbuf *, int fd);
/* Frees buffers, closes fds received but not claimed; does not close fd. */
void	 imsgbuf_clear(struct imsgbuf *);

/*
 * One recvmsg() into the read buffer.  Returns bytes read, 0 on EOF, -1 on
 * error with errno set (EAGAIN when nothing is there yet, ENOBUFS when the
 * buffer is full because the caller did not take the frames out with
 * imsg_get).  On EOF a partial frame may remain: imsgbuf_pending() says so.
 */
ssize_t	 imsgbuf_read(struct imsgbuf *);

/*
 * Takes the next complete frame out of the read buffer: 1 and *imsg
 * filled (free it with imsg_free), 0 when no complete frame is buffered,
 * -1 with errno EBADMSG when the stream is malformed (from then on every
 * call fails the same way), or ENOMEM.
 */
int	 imsg_get(struct imsgbuf *, struct imsg *);
/* Bytes received but not yet taken by imsg_get (a partial frame at EOF). */
size_t	 imsgbuf_pending(const struct imsgbuf *);
void	 imsg_free(struct imsg *);
/* Takes ownership of the frame's fd (or -1). */
int	 imsg_get_fd(struct imsg *);

/*
 * Queues a frame.  fd (-1 for none) is owned by the buffer from here on
 * and closed once sent, or at once when the call fails: the caller never
 * closes it.  Returns 0, or -1 with errno EMSGSIZE when the payload is too
 * large, EINVAL when data is NULL with a length, or ENOMEM.  When the
 * payload comes from an ibuf, check its error field first: a truncated
 * ibuf is still a well-formed frame.
 */
int	 imsg_compose(struct imsgbuf *, uint32_t type, uint32_t peerid,
	    pid_t pid, int fd, const void *data, size_t datalen);

/*
 * Writes as much of the queue as the socket takes.  Returns 0 (the queue
 * may still hold frames: EAGAIN is not an error), -1 on error (errno;
 * EPIPE when the peer is gone: no SIGPIPE is raised).
 */
int	 imsgbuf_write(struct imsgbuf *);
/* Writes the whole queue, waiting with poll() as needed.  0 or -1. */
int	 imsgbuf_flush(struct imsgbuf *);
/* The number of frames still queued for writing. */
size_t	 imsgbuf_queued(const struct imsgbuf *);

/*
 * Building and reading payloads.  A payload is a sequence of fixed-size
 * integers and strings; a string travels as a uint32_t length followed by
 * that many bytes, none of them NUL.
 */
struct ibuf {
	unsigned char	*data;
	size_t		 len;
	size_t		 cap;
	int		 error;		/* 0, or EMSGSIZE / EINVAL / ENOMEM */
};
/*
 * The adders never fail loudly: the first failure (payload over
 * IMSG_MAX_SIZE - IMSG_HEADER_SIZE, a string over UINT32_MAX bytes or
 * containing a NUL, out of memory) sets error and later adds are ignored.
 * Check error before composing.  ibuf_free wipes the buffer: payloads may
 * hold secrets.
 */
void	 ibuf_init(struct ibuf *);
void	 ibuf_add(struct ibuf *, const void *, size_t);
void	 ibuf_add_u32(struct ibuf *, uint32_t);
void	 ibuf_add_u64(struct ibuf *, uint64_t);
void	 ibuf_add_str(struct ibuf *, const char *);
void	 ibuf_add_strn(struct ibuf *, const char *, size_t);
void	 ibuf_free(struct ibuf *);

/*
 * The reader's getters fatalx() on a short payload, a string with a NUL
 * or longer than its destination, or (imsg_reader_end) trailing bytes:
 * they are for frames from peer processes, where that means a bug or a
 * compromise.  name is the message's name, used in the fatal message.
 */
struct imsg_reader {
	const unsigned char	*p;
	size_t			 left;
	const char		*name;
};
void	 imsg_reader_init(struct imsg_reader *, const struct imsg *,
	    const char *name);
uint32_t imsg_read_u32(struct imsg_reader *);
uint64_t imsg_read_u64(struct imsg_reader *);
void	 imsg_read_bytes(struct imsg_reader *, void *, size_t);
/* Copies a string into dst (dstsz including the NUL). */
void	 imsg_read_str(struct imsg_reader *, char *dst, size_t dstsz);
/* A malloc'd copy of a string of at most max bytes. */
char	*imsg_read_strdup(struct imsg_reader *, size_t max);
void	 imsg_reader_end(struct imsg_reader *);

/* fatalx() unless the payload is exactly size bytes; then copies it. */
void	 imsg_get_exact(const struct imsg *, void *, size_t, const char *);

#endif /* POSTERN_IMSG_H */
