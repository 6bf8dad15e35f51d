/*
 * netio.c: buffered network I/O with optional TLS, driven by libevent.
 *
 * Owns: the connection's fd, its libtls context, and its input and output
 * buffers.  Trusts: nothing it reads; the input buffer never grows past
 * inmax plus one read chunk, whatever the peer sends.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "netio.h"

#define NETIO_OUT_MIN	4096

static void	netio_update(struct netio *);
static void	netio_disarm(struct netio *);
static void	netio_event(evutil_socket_t, short, void *);
static int	netio_accept_tls(struct netio *, struct tls *);
static int	netio_call(struct netio *, netio_cb);
static int	netio_flush(struct netio *);

struct netio *
netio_new(struct event_base *base, int fd, size_t inmax, netio_cb on_input,
    netio_cb on_drained, netio_err_cb on_error, void *arg)
{
	struct netio	*io;

	if ((io = calloc(1, sizeof(*io))) == NULL)
		return NULL;
	io->fd = fd;
	io->base = base;
	io->inmax = inmax;
	io->on_input = on_input;
	io->on_drained = on_drained;
	io->on_error = on_error;
	io->arg = arg;
	io->want_read = 1;
	io->handshake_done = 1;
	io->timeout_sec = 300;
	if ((io->rev = event_new(base, fd, EV_READ | EV_PERSIST, netio_event,
	    io)) == NULL ||
	    (io->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, netio_event,
	    io)) == NULL) {
		if (io->rev != NULL)
			event_free(io->rev);
		free(io);
		return NULL;
	}
	netio_update(io);
	return io;
}

void
netio_free(struct netio *io)
{
	if (io == NULL)
		return;
	if (io->freed != NULL)
		*io->freed = 1;
	event_free(io->rev);
	event_free(io->wev);
	if (io->tls != NULL) {
		(void)tls_close(io->tls);
		tls_free(io->tls);
	}
	close(io->fd);
	free(io->in);
	free(io->out);
	free(io);
}

void
netio_set_timeout(struct netio *io, int seconds)
{
	/* Only dropping the timer needs the events registered afresh. */
	if (seconds <= 0 && io->timeout_sec > 0)
		netio_disarm(io);
	io->timeout_sec = seconds;
	netio_update(io);
}

void
netio_pause(struct netio *io, int paused)
{
	io->paused = paused;
	netio_update(io);
}

/* What the event must wait for, given buffers and TLS state. */
static short
netio_wanted(struct netio *io)
{
	short	 ev = 0;

	if (io->eof || io->error)
		return 0;
	if (io->tls != NULL && !io->handshake_done)
		return io->events != 0 ? io->events : EV_READ;
	if (io->outlen > io->outoff)
		ev |= EV_WRITE;
	if (!io->paused && io->inlen - io->inoff < io->inmax)
		ev |= EV_READ;
	return ev;
}

static void
netio_disarm(struct netio *io)
{
	if (io->armed & EV_READ)
		event_del(io->rev);
	if (io->armed & EV_WRITE)
		event_del(io->wev);
	io->armed = 0;
}

/* Adds ev (restarting its timer) if flag is wanted, or deletes it. */
static void
netio_arm(struct netio *io, struct event *ev, short flag, short want,
    const struct timeval *tv)
{
	if (want & flag) {
		event_add(ev, tv);
		io->armed |= flag;
	} else if (io->armed & flag) {
		event_del(ev);
		io->armed &= ~flag;
	}
}

/*
 * Registers the events netio_wanted() says and restarts the idle
 * timeout.  Reading and writing are separate events, so that with epoll
 * arming EV_WRITE is one epoll_ctl(2) and re-adding a pending event only
 * restarts its timer.  Inside netio_event the update waits for the end
 * of the callback, which makes it once with what the engine did.
 */
static void
netio_update(struct netio *io)
{
	struct timeval	 tv;
	short		 ev;

	if (io->in_event)
		return;
	ev = netio_wanted(io);
	tv.tv_sec = io->timeout_sec;
	tv.tv_usec = 0;
	netio_arm(io, io->rev, EV_READ, ev, io->timeout_sec > 0 ? &tv : NULL);
	netio_arm(io, io->wev, EV_WRITE, ev, io->timeout_sec > 0 ? &tv : NULL);
	if (ev != 0)
		io->events = ev;
}

/* Calls the error callback once; the engine normally frees io there. */
static void
netio_fail(struct netio *io, enum netio_error e, const char *msg)
{
	if (e == NETIO_EOF)
		io->eof = 1;
	else
		io->error = 1;
	netio_disarm(io);
	io->on_error(io, io->arg, e, msg);
}

static int
netio_grow_in(struct netio *io)
{
	unsigned char	*p;
	size_t		 need;

	if (io->inoff > 0 && io->inoff == io->inlen)
		io->inoff = io->inlen = 0;
	if (io->incap - io->inlen >= NETIO_READ_CHUNK)
		return 0;
	if (io->inoff > 0) {
		memmove(io->in, io->in + io->inoff, io->inlen - io->inoff);
		io->inlen -= io->inoff;
		io->inoff = 0;
		if (io->incap - io->inlen >= NETIO_READ_CHUNK)
			return 0;
	}
	need = io->inlen + NETIO_READ_CHUNK;
	if ((p = realloc(io->in, need)) == NULL)
		return -1;
	io->in = p;
	io->incap = need;
	return 0;
}

/* One read into the input buffer: >0 bytes, 0 nothing now, -1 failed. */
static ssize_t
netio_read_some(struct netio *io)
{
	ssize_t	 n;

	if (netio_grow_in(io) == -1) {
		netio_fail(io, NETIO_IOERR, "out of memory");
		return -1;
	}
	if (io->tls != NULL) {
		n = tls_read(io->tls, io->in + io->inlen, NETIO_READ_CHUNK);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
			return 0;
		if (n == -1) {
			netio_fail(io, NETIO_TLSERR, tls_error(io->tls));
			return -1;
		}
	} else {
		n = read(io->fd, io->in + io->inlen, NETIO_READ_CHUNK);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n == -1) {
			netio_fail(io, NETIO_IOERR, strerror(errno));
			return -1;
		}
	}
	if (n == 0) {
		netio_fail(io, NETIO_EOF, "connection closed");
		return -1;
	}
	io->inlen += n;
	return n;
}

static int
netio_write_some(struct netio *io)
{
	ssize_t	 n;
	size_t	 len = io->outlen - io->outoff;

	if (len == 0)
		return 0;
	if (io->tls != NULL) {
		n = tls_write(io->tls, io->out + io->outoff, len);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
			return 0;
		if (n == -1) {
			netio_fail(io, NETIO_TLSERR, tls_error(io->tls));
			return -1;
		}
	} else {
		n = send(io->fd, io->out + io->outoff, len, MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n == -1) {
			netio_fail(io, NETIO_IOERR, strerror(errno));
			return -1;
		}
	}
	io->outoff += n;
	if (io->outoff == io->outlen)
		io->outoff = io->outlen = 0;
	return 0;
}

static void
netio_handshake(struct netio *io)
{
	const char	*v, *c;
	int		 r;

	r = tls_handshake(io->tls);
	if (r == TLS_WANT_POLLIN) {
		io->events = EV_READ;
		netio_update(io);
		return;
	}
	if (r == TLS_WANT_POLLOUT) {
		io->events = EV_WRITE;
		netio_update(io);
		return;
	}
	if (r == -1) {
		netio_fail(io, NETIO_TLSERR, tls_error(io->tls));
		return;
	}
	io->handshake_done = 1;
	v = tls_conn_version(io->tls);
	c = tls_conn_cipher(io->tls);
	(void)strlcpy(io->tls_version, v != NULL ? v : "?",
	    sizeof(io->tls_version));
	(void)strlcpy(io->tls_cipher, c != NULL ? c : "?",
	    sizeof(io->tls_cipher));
	if (!netio_call(io, io->on_tls))
		return;
	netio_update(io);
}

void
netio_set_tls_cb(struct netio *io, netio_cb cb)
{
	io->on_tls = cb;
}

/* Calls a callback and tells whether io still exists afterwards. */
static int
netio_call(struct netio *io, netio_cb cb)
{
	int	 freed = 0;

	if (cb == NULL)
		return 1;
	/* cppcheck-suppress autoVariables ; reset below unless io was freed */
	io->freed = &freed;
	cb(io, io->arg);
	/* cppcheck-suppress knownConditionTrueFalse ; netio_free() sets it */
	if (freed)
		return 0;
	io->freed = NULL;
	return 1;
}

/*
 * Writes what it can, then starts a pending TLS handshake or tells the
 * engine that the output drained.  -1 when the caller must stop: io
 * failed (and may be freed) or the handshake took over.
 */
static int
netio_flush(struct netio *io)
{
	int	 had_output = io->outlen > io->outoff;

	if (netio_write_some(io) == -1)
		return -1;
	if (io->outlen == 0 && io->tls_pending != NULL) {
		io->paused = 0;
		if (netio_accept_tls(io, io->tls_pending) == -1)
			netio_fail(io, NETIO_TLSERR, "tls accept");
		return -1;
	}
	if (had_output && io->outlen == 0 && !netio_call(io, io->on_drained))
		return -1;
	return 0;
}

static void
netio_event(evutil_socket_t fd, short what, void *arg)
{
	struct netio	*io = arg;
	ssize_t		 n;

	if (what & EV_TIMEOUT) {
		netio_fail(io, NETIO_TIMEOUT, "timeout");
		return;
	}
	if (io->tls != NULL && !io->handshake_done) {
		netio_handshake(io);
		return;
	}
	if ((what & EV_WRITE) && netio_flush(io) == -1)
		return;
	if ((what & EV_READ) && !io->paused) {
		if ((n = netio_read_some(io)) == -1)
			return;
		/* libtls may hold more decrypted bytes than one read took. */
		while (io->tls != NULL && n == NETIO_READ_CHUNK &&
		    io->inlen - io->inoff < io->inmax)
			if ((n = netio_read_some(io)) == -1)
				return;
		if (io->inlen > io->inoff) {
			io->in_event = 1;
			if (!netio_call(io, io->on_input))
				return;
			io->in_event = 0;
		}
		/*
		 * The replies go out now rather than at the next turn of the
		 * loop: usually the socket takes them, and EV_WRITE is never
		 * registered.
		 */
		if (io->outlen > io->outoff && io->handshake_done &&
		    netio_flush(io) == -1)
			return;
	}
	netio_update(io);
}

static int
netio_accept_tls(struct netio *io, struct tls *ctx)
{
	io->tls_pending = NULL;
	netio_discard_input(io);
	if (tls_accept_socket(ctx, &io->tls, io->fd) == -1)
		return -1;
	io->handshake_done = 0;
	io->events = EV_READ;
	netio_update(io);
	return 0;
}

int
netio_starttls(struct netio *io, struct tls *ctx)
{
	netio_discard_input(io);
	if (io->tls != NULL)
		return -1;
	/* The plain reply ("220 go ahead") leaves before the handshake. */
	if (io->outlen > io->outoff) {
		io->tls_pending = ctx;
		io->paused = 1;
		netio_update(io);
		return 0;
	}
	return netio_accept_tls(io, ctx);
}

int
netio_getline(struct netio *io, size_t max, const char **line, size_t *len)
{
	unsigned char	*start, *lf;
	size_t		 avail;

	for (;;) {
		start = io->in + io->inoff;
		avail = io->inlen - io->inoff;
		lf = avail > 0 ? memchr(start, '\n', avail) : NULL;
		if (!io->discarding)
			break;
		/* The tail of an overlong line is never a line of its own. */
		if (lf == NULL) {
			if (avail > 0)
				io->discard_cr = start[avail - 1] == '\r';
			io->inoff = io->inlen = 0;
			return 0;
		}
		io->discard_crlf = lf > start ? lf[-1] == '\r' :
		    io->discard_cr;
		io->inoff += (size_t)(lf - start) + 1;
		io->discarding = 0;
	}
	if (lf == NULL) {
		if (avail <= max)
			return 0;
		*len = avail;
		io->discard_cr = start[avail - 1] == '\r';
		io->discard_crlf = 0;
		io->inoff = io->inlen = 0;
		io->discarding = 1;
		return -1;
	}
	*len = (size_t)(lf - start) + 1;
	if (*len > max) {
		io->discard_crlf = *len >= 2 && start[*len - 2] == '\r';
		io->inoff += *len;
		return -1;
	}
	*line = (const char *)start;
	io->inoff += *len;
	return 1;
}

size_t
netio_available(struct netio *io)
{
	return io->inlen - io->inoff;
}

const unsigned char *
netio_peek(struct netio *io)
{
	return io->in + io->inoff;
}

void
netio_drop(struct netio *io, size_t n)
{
	if (n > io->inlen - io->inoff)
		n = io->inlen - io->inoff;
	io->inoff += n;
}

void
netio_discard_input(struct netio *io)
{
	io->inoff = io->inlen = 0;
	io->discarding = 0;
}

int
netio_write(struct netio *io, const void *data, size_t len)
{
	unsigned char	*p;
	size_t		 need, cap;

	if (io->outoff > 0 && io->outoff == io->outlen)
		io->outoff = io->outlen = 0;
	need = io->outlen + len;
	if (need > io->outcap) {
		cap = io->outcap < NETIO_OUT_MIN ? NETIO_OUT_MIN : io->outcap;
		while (cap < need)
			cap *= 2;
		if ((p = realloc(io->out, cap)) == NULL)
			return -1;
		io->out = p;
		io->outcap = cap;
	}
	memcpy(io->out + io->outlen, data, len);
	io->outlen += len;
	if (!(io->armed & EV_WRITE) && io->handshake_done)
		netio_update(io);
	return 0;
}

int
netio_printf(struct netio *io, const char *fmt, ...)
{
	char	 buf[2048];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return netio_write(io, buf, n);
}

size_t
netio_pending(struct netio *io)
{
	return io->outlen - io->outoff;
}
