/*
 * imsgev.h: an imsg channel driven by a libevent loop.
 *
 * imsgev reads whenever the fd is readable and hands every complete frame
 * of each read to handler, one call per frame, in order.  It writes only
 * while frames are queued (EV_WRITE is armed by imsgev_compose and dropped
 * when the queue is empty).
 *
 * handler gets a frame it does not own: imsgev frees it after the call,
 * closing its fd unless the handler took it with imsg_get_fd().  handler
 * may call imsgev_clear() on its own imsgev (and then free the memory
 * that holds it): imsgev stops delivering at once and touches it no more.
 *
 * closed is called once when the channel dies: error 0 on a clean EOF,
 * ECONNRESET on EOF in the middle of a frame, EBADMSG on a malformed
 * frame, otherwise the errno of the failed read or write.  Before the call
 * the imsgev is disabled (its event deleted, compose fails with EPIPE) but
 * not cleared: closed (or its owner, later) calls imsgev_clear(), and may
 * then free the memory.  imsgev never calls closed after imsgev_clear().
 *
 * Frames must be queued with imsgev_compose, not imsg_compose on ibuf,
 * or EV_WRITE is not armed.  ibuf may be flushed directly
 * (imsgbuf_flush), e.g. before exiting.
 */

#ifndef POSTERN_IMSGEV_H
#define POSTERN_IMSGEV_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "imsg.h"

struct imsgev;
typedef void	(*imsgev_handler_fn)(struct imsgev *, struct imsg *);
typedef void	(*imsgev_closed_fn)(struct imsgev *, int error);

struct imsgev {
	struct imsgbuf		 ibuf;
	struct event		 rev;		/* EV_READ, while active */
	struct event		 wev;		/* EV_WRITE, while queued */
	short			 events;	/* registered; 0 when off */
	imsgev_handler_fn	 handler;
	imsgev_closed_fn	 closed;
	const char		*name;
	void			*arg;
	struct event_base	*base;
	/* Private. */
	int			 state;
	int			*cleared;	/* set by imsgev_clear */
};

/*
 * Takes over fd (made non-blocking) and starts reading.  iev must be
 * zeroed or cleared; name is kept (not copied) for messages.  fatal() on
 * failure: this is set-up time.
 */
void	 imsgev_init(struct imsgev *, struct event_base *, int fd,
	    const char *name, imsgev_handler_fn, imsgev_closed_fn, void *arg);
/*
 * Queues a frame (fd is owned by imsgev from here on, as with
 * imsg_compose) and arms EV_WRITE.  0, or -1 with errno (EMSGSIZE,
 * ENOMEM, EPIPE when the channel is closed or cleared).
 */
int	 imsgev_compose(struct imsgev *, uint32_t type, uint32_t peerid,
	    pid_t pid, int fd, const void *data, size_t len);
/* The same, fatal() on error: for the channels between processes. */
void	 imsgev_xcompose(struct imsgev *, uint32_t type, uint32_t peerid,
	    pid_t pid, int fd, const void *data, size_t len);
/*
 * Writes what the socket takes of the queued frames now, instead of at
 * the next turn of the loop: for an answer that should not wait behind
 * the caller's next piece of work.  Never fails and never calls closed;
 * an error is reported by the loop as usual.
 */
void	 imsgev_flush(struct imsgev *);
/*
 * Deletes the event, frees the buffers (dropping unsent frames), closes
 * the fd.  Safe from handler and closed, and more than once.
 */
void	 imsgev_clear(struct imsgev *);

#endif /* POSTERN_IMSGEV_H */
