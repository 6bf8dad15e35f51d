/*
 * netio.h: a buffered, event-driven network connection, plain or TLS
 * (libtls), for the protocol engines (SMTP, IMAP).
 *
 * The engine never does its own pointer arithmetic on network bytes: it
 * asks for a line (netio_getline) or a block (netio_peek/netio_drop) and
 * queues output (netio_printf/netio_write).  Input is bounded: a line
 * longer than the limit is reported as such and its bytes are discarded
 * up to the next LF, so a 10 MB line never costs 10 MB of memory.
 *
 * Callbacks: on_input when new bytes are buffered, on_drained when the
 * output buffer became empty, on_error on EOF, error or timeout.  The
 * engine may free the netio (netio_free) from any callback; netio notices
 * and stops touching it.
 */

#ifndef POSTERN_NETIO_H
#define POSTERN_NETIO_H

#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>

#include <event2/event.h>

struct tls;

#define NETIO_READ_CHUNK	(64 * 1024)

enum netio_error {
	NETIO_EOF = 1,
	NETIO_TIMEOUT,
	NETIO_IOERR,
	NETIO_TLSERR,
};

struct netio;
typedef void	(*netio_cb)(struct netio *, void *);
typedef void	(*netio_err_cb)(struct netio *, void *, enum netio_error,
		    const char *);

struct netio {
	int			 fd;
	struct tls		*tls;		/* after netio_starttls */
	int			 handshake_done;
	struct tls		*tls_pending;	/* starttls once drained */
	struct event		*rev;
	struct event		*wev;
	struct event_base	*base;
	short			 events;	/* what the TLS handshake waits for */
	short			 armed;		/* rev, wev registered */
	int			 in_event;	/* in on_input */
	int			 want_read;	/* the engine wants input */
	int			 paused;	/* reading suspended */

	unsigned char		*in;
	size_t			 inoff, inlen, incap, inmax;
	unsigned char		*out;
	size_t			 outoff, outlen, outcap;

	int			 timeout_sec;
	netio_cb		 on_input;
	netio_cb		 on_drained;
	netio_err_cb		 on_error;
	netio_cb		 on_tls;	/* handshake done */
	void			*arg;

	int			*freed;		/* set when freed in a cb */
	int			 discarding;	/* in an overlong line */
	int			 discard_cr;	/* its last dropped byte: CR */
	int			 discard_crlf;	/* the last one ended CRLF */
	int			 eof;
	int			 error;
	char			 tls_version[32];
	char			 tls_cipher[64];
};

/*
 * Takes over fd (non-blocking).  inmax bounds the input buffer.  Reading
 * starts right away.
 */
struct netio	*netio_new(struct event_base *, int fd, size_t inmax,
		    netio_cb on_input, netio_cb on_drained,
		    netio_err_cb on_error, void *arg);
void		 netio_free(struct netio *);
void		 netio_set_timeout(struct netio *, int seconds);
/* Called once a TLS handshake completed (tls_version/tls_cipher set). */
void		 netio_set_tls_cb(struct netio *, netio_cb);
/* Suspends or resumes reading (the bytes stay in the kernel). */
void		 netio_pause(struct netio *, int);

/*
 * Starts a server-side TLS handshake with the given libtls server
 * context.  Discards any buffered input first: bytes a client sent
 * before the handshake must never be taken as commands after it.
 */
int		 netio_starttls(struct netio *, struct tls *server_ctx);

/*
 * Line input.  Returns 1 and sets *line (not NUL-terminated; the bytes
 * up to and including LF stay valid until the next netio call) and *len
 * (including the line end), 0 when no full line is buffered, or -1 when
 * the line exceeds max bytes: then the whole overlong line is dropped
 * (now, or as its bytes arrive) and *len is how much was dropped so far.
 * Once the next line is returned, discard_crlf tells whether the dropped
 * line ended with CRLF (rather than a bare LF): SMTP's end of data must
 * not be found after a bare LF.
 */
int		 netio_getline(struct netio *, size_t max, const char **line,
		    size_t *len);
/* Block input: what is buffered, and dropping n bytes of it. */
size_t		 netio_available(struct netio *);
const unsigned char *netio_peek(struct netio *);
void		 netio_drop(struct netio *, size_t n);
/* Throws away everything buffered (e.g. pipelined junk). */
void		 netio_discard_input(struct netio *);

int		 netio_write(struct netio *, const void *, size_t);
int		 netio_printf(struct netio *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
size_t		 netio_pending(struct netio *);

#endif /* POSTERN_NETIO_H */
