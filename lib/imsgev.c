/*
 * imsgev.c: libevent glue for imsg channels (see imsgev.h).
 *
 * Owns: the channel's fd, its imsgbuf and its event.  The one subtle
 * rule: a handler may clear (and free) the imsgev it is called for, so
 * during delivery imsgev keeps a flag on its own stack that
 * imsgev_clear sets, and checks it before touching the imsgev again.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "imsgev.h"
#include "log.h"

enum imsgev_state {
	IMSGEV_UNUSED = 0,	/* zeroed or cleared */
	IMSGEV_ACTIVE,
	IMSGEV_CLOSED,		/* closed was called; waits for clear */
};

static void	imsgev_update(struct imsgev *);
static void	imsgev_disable(struct imsgev *);
static void	imsgev_fail(struct imsgev *, int);
static int	imsgev_deliver(struct imsgev *);
static int	imsgev_read(struct imsgev *);
static void	imsgev_on_read(evutil_socket_t, short, void *);
static void	imsgev_on_write(evutil_socket_t, short, void *);

void
imsgev_init(struct imsgev *iev, struct event_base *base, int fd,
    const char *name, imsgev_handler_fn handler, imsgev_closed_fn closed,
    void *arg)
{
	int	 flags;

	memset(iev, 0, sizeof(*iev));
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("%s: fcntl", name);
	if (imsgbuf_init(&iev->ibuf, fd) == -1)
		fatal("%s: imsgbuf_init", name);
	iev->handler = handler;
	iev->closed = closed;
	iev->name = name;
	iev->arg = arg;
	iev->base = base;
	if (event_assign(&iev->rev, base, fd, EV_READ | EV_PERSIST,
	    imsgev_on_read, iev) == -1 ||
	    event_assign(&iev->wev, base, fd, EV_WRITE | EV_PERSIST,
	    imsgev_on_write, iev) == -1 ||
	    event_add(&iev->rev, NULL) == -1)
		fatalx("%s: cannot register the channel's events", name);
	iev->events = EV_READ;
	iev->state = IMSGEV_ACTIVE;
}

/*
 * EV_READ stays registered; EV_WRITE is added while frames are queued.
 * Two events rather than one re-registered: with epoll, arming and
 * dropping EV_WRITE is then one epoll_ctl(2) each, and nothing at all
 * when the queue does not change.
 */
static void
imsgev_update(struct imsgev *iev)
{
	int	 queued;

	if (iev->state != IMSGEV_ACTIVE)
		return;
	queued = imsgbuf_queued(&iev->ibuf) > 0;
	if (queued && !(iev->events & EV_WRITE)) {
		if (event_add(&iev->wev, NULL) == -1)
			fatalx("%s: cannot register the channel's event",
			    iev->name);
		iev->events |= EV_WRITE;
	} else if (!queued && (iev->events & EV_WRITE)) {
		(void)event_del(&iev->wev);
		iev->events &= ~EV_WRITE;
	}
}

static void
imsgev_disable(struct imsgev *iev)
{
	if (iev->events & EV_READ)
		(void)event_del(&iev->rev);
	if (iev->events & EV_WRITE)
		(void)event_del(&iev->wev);
	iev->events = 0;
}

/* Disables the channel, then tells the owner, who may free it. */
static void
imsgev_fail(struct imsgev *iev, int error)
{
	imsgev_disable(iev);
	iev->state = IMSGEV_CLOSED;
	if (iev->closed != NULL)
		iev->closed(iev, error);
}

/*
 * Hands every complete buffered frame to the handler.  -1 when the
 * imsgev was cleared or closed meanwhile: the caller must not touch it.
 */
static int
imsgev_deliver(struct imsgev *iev)
{
	struct imsg	 imsg;
	int		 cleared = 0, r;

	/* Reset below, or by imsgev_clear: it never outlives this call. */
	/* cppcheck-suppress autoVariables */
	iev->cleared = &cleared;
	while ((r = imsg_get(&iev->ibuf, &imsg)) == 1) {
		iev->handler(iev, &imsg);
		imsg_free(&imsg);
		/* cppcheck-suppress knownConditionTrueFalse */
		if (cleared)
			return -1;
	}
	iev->cleared = NULL;
	if (r == -1) {
		imsgev_fail(iev, errno);
		return -1;
	}
	return 0;
}

static int
imsgev_read(struct imsgev *iev)
{
	ssize_t	 n;

	if ((n = imsgbuf_read(&iev->ibuf)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		imsgev_fail(iev, errno);
		return -1;
	}
	if (n == 0) {
		imsgev_fail(iev, imsgbuf_pending(&iev->ibuf) > 0 ?
		    ECONNRESET : 0);
		return -1;
	}
	return imsgev_deliver(iev);
}

static void
imsgev_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct imsgev	*iev = arg;

	(void)fd;
	(void)what;
	if (iev->state != IMSGEV_ACTIVE)
		return;
	if (imsgev_read(iev) == -1)
		return;
	imsgev_update(iev);
}

/*
 * A failed write reads first, so that what a dying peer said last is
 * delivered before its end is reported.
 */
static void
imsgev_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct imsgev	*iev = arg;
	int		 error;

	(void)fd;
	(void)what;
	if (iev->state != IMSGEV_ACTIVE)
		return;
	if (imsgbuf_write(&iev->ibuf) == -1) {
		error = errno;
		if (imsgev_read(iev) == -1)
			return;
		imsgev_fail(iev, error);
		return;
	}
	imsgev_update(iev);
}

int
imsgev_compose(struct imsgev *iev, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const void *data, size_t len)
{
	if (iev->state != IMSGEV_ACTIVE) {
		if (fd >= 0)
			close(fd);
		errno = EPIPE;
		return -1;
	}
	if (imsg_compose(&iev->ibuf, type, peerid, pid, fd, data, len) == -1)
		return -1;
	imsgev_update(iev);
	return 0;
}

void
imsgev_flush(struct imsgev *iev)
{
	if (iev->state != IMSGEV_ACTIVE || imsgbuf_queued(&iev->ibuf) == 0)
		return;
	/* An error shows again in imsgev_on_write, which reports it. */
	(void)imsgbuf_write(&iev->ibuf);
	imsgev_update(iev);
}

void
imsgev_xcompose(struct imsgev *iev, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const void *data, size_t len)
{
	if (imsgev_compose(iev, type, peerid, pid, fd, data, len) == -1)
		fatal("%s: cannot queue imsg %u", iev->name, type);
}

void
imsgev_clear(struct imsgev *iev)
{
	if (iev->state == IMSGEV_UNUSED)
		return;
	if (iev->cleared != NULL) {
		*iev->cleared = 1;
		iev->cleared = NULL;
	}
	imsgev_disable(iev);
	imsgbuf_clear(&iev->ibuf);
	if (iev->ibuf.fd != -1)
		close(iev->ibuf.fd);
	iev->ibuf.fd = -1;
	iev->state = IMSGEV_UNUSED;
}
