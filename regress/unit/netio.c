/*
 * Unit tests for lib/netio.c: bounded line input, the dropping of an
 * overlong line through its LF (its tail must never pose as a line of its
 * own), block input, output, EOF and timeouts.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "netio.h"
#include "tap.h"

static struct event_base	*base;
static int			 inputs, drained, errors;
static enum netio_error		 last_error;
static const char		*reply;		/* on_input answers this */
static int			 reply_pause;	/* and then pauses */

static void
on_input(struct netio *io, void *arg)
{
	inputs++;
	if (reply != NULL) {
		netio_discard_input(io);
		netio_printf(io, "%s", reply);
		netio_pause(io, reply_pause);
	}
	event_base_loopbreak(base);
}

static void
on_drained(struct netio *io, void *arg)
{
	drained++;
	event_base_loopbreak(base);
}

static void
on_error(struct netio *io, void *arg, enum netio_error e, const char *msg)
{
	errors++;
	last_error = e;
	event_base_loopbreak(base);
}

static void
pump(void)
{
	struct timeval	 tv = { 1, 0 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
send_all(int fd, const char *data, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n <= 0)
			return;
		data += n;
		len -= n;
	}
}

static struct netio *
pair(int *peer, size_t inmax)
{
	int		 sv[2];
	struct netio	*io;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		exit(1);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	io = netio_new(base, sv[0], inmax, on_input, on_drained, on_error,
	    NULL);
	*peer = sv[1];
	return io;
}

static void
test_lines(void)
{
	struct netio	*io;
	const char	*line;
	size_t		 len;
	int		 peer;

	io = pair(&peer, 4096);
	send_all(peer, "HELO a\r\nNOOP\npart", 17);
	pump();
	ok(inputs > 0, "input callback ran");
	is_int(netio_getline(io, 100, &line, &len), 1, "first line");
	ok(len == 8 && memcmp(line, "HELO a\r\n", 8) == 0, "CRLF line whole");
	is_int(netio_getline(io, 100, &line, &len), 1, "bare LF line");
	ok(len == 5 && memcmp(line, "NOOP\n", 5) == 0, "LF line whole");
	is_int(netio_getline(io, 100, &line, &len), 0, "partial line waits");
	send_all(peer, "ial\r\n", 5);
	pump();
	is_int(netio_getline(io, 100, &line, &len), 1, "completed line");
	ok(len == 9 && memcmp(line, "partial\r\n", 9) == 0,
	    "joined across reads");
	netio_free(io);
	close(peer);
}

static void
test_overlong(void)
{
	struct netio	*io;
	const char	*line;
	char		*big;
	size_t		 len;
	int		 peer, r, i;

	io = pair(&peer, 1 << 20);
	big = malloc(300);
	memset(big, 'a', 300);
	/* 300 bytes without LF, then the tail ".\r\n" and a real line */
	send_all(peer, big, 300);
	pump();
	r = netio_getline(io, 100, &line, &len);
	is_int(r, -1, "an overlong partial line is reported");
	send_all(peer, big, 50);
	send_all(peer, ".\r\nNEXT\r\n", 9);
	pump();
	r = netio_getline(io, 100, &line, &len);
	is_int(r, 1, "the line after the overlong one comes");
	ok(r == 1 && len == 6 && memcmp(line, "NEXT\r\n", 6) == 0,
	    "the overlong line's tail \".\" was dropped with it");
	/* overlong but complete in one read */
	send_all(peer, big, 200);
	send_all(peer, "\r\nOK\r\n", 6);
	pump();
	is_int(netio_getline(io, 100, &line, &len), -1,
	    "overlong complete line");
	is_int(netio_getline(io, 100, &line, &len), 1, "next line fine");
	ok(len == 4 && memcmp(line, "OK\r\n", 4) == 0, "it is OK");
	/* a 10 MB line costs at most inmax plus a chunk of memory */
	for (i = 0; i < 160; i++) {
		char	 chunk[65536];

		memset(chunk, 'b', sizeof(chunk));
		send_all(peer, chunk, sizeof(chunk));
		pump();
		(void)netio_getline(io, 1000, &line, &len);
		if (io->incap > (1 << 20) + NETIO_READ_CHUNK * 2)
			break;
	}
	ok(io->incap <= (1 << 20) + NETIO_READ_CHUNK * 2,
	    "10 MB without LF: buffer stays bounded (%zu)", io->incap);
	free(big);
	netio_free(io);
	close(peer);
}

static void
test_blocks_and_output(void)
{
	struct netio	*io;
	char		 buf[64];
	int		 peer;
	ssize_t		 n;

	io = pair(&peer, 4096);
	send_all(peer, "0123456789", 10);
	pump();
	is_int(netio_available(io), 10, "10 bytes available");
	ok(memcmp(netio_peek(io), "0123", 4) == 0, "peek");
	netio_drop(io, 4);
	is_int(netio_available(io), 6, "drop 4");
	netio_discard_input(io);
	is_int(netio_available(io), 0, "discard");
	netio_printf(io, "250 %s\r\n", "ok");
	drained = 0;
	pump();
	is_int(drained, 1, "output drained callback");
	n = read(peer, buf, sizeof(buf));
	ok(n == 8 && memcmp(buf, "250 ok\r\n", 8) == 0, "output arrived");
	errors = 0;
	close(peer);
	pump();
	is_int(errors, 1, "EOF reported");
	is_int(last_error, NETIO_EOF, "as NETIO_EOF");
	netio_free(io);
}

static void
test_timeout(void)
{
	struct netio	*io;
	int		 peer, i;

	io = pair(&peer, 4096);
	netio_set_timeout(io, 1);
	errors = 0;
	/* 1 s timeout, 1 s pumps: allow for a loaded machine's slack. */
	for (i = 0; i < 5 && errors == 0; i++)
		pump();
	is_int(errors, 1, "an idle connection times out");
	is_int(last_error, NETIO_TIMEOUT, "as NETIO_TIMEOUT");
	netio_free(io);
	close(peer);
}

/*
 * A reply written by on_input leaves before netio_event returns: the
 * socket takes it at once, so EV_WRITE is never registered.
 */
static void
test_reply_in_callback(void)
{
	struct netio	*io;
	char		 buf[64];
	int		 peer;
	ssize_t		 n;

	io = pair(&peer, 4096);
	reply = "250 ok\r\n";
	reply_pause = 0;
	drained = 0;
	send_all(peer, "NOOP\r\n", 6);
	pump();
	n = read(peer, buf, sizeof(buf));
	ok(n == 8 && memcmp(buf, "250 ok\r\n", 8) == 0,
	    "the reply left during the input callback");
	is_int(netio_pending(io), 0, "nothing left to write");
	is_int(drained, 1, "drained reported for it");
	is_int(io->armed, EV_READ, "only EV_READ registered afterwards");
	reply_pause = 1;
	send_all(peer, "RCPT\r\n", 6);
	pump();
	n = read(peer, buf, sizeof(buf));
	ok(n == 8, "a paused session's reply leaves too");
	is_int(io->armed, 0, "paused with nothing to write: no event");
	netio_pause(io, 0);
	is_int(io->armed, EV_READ, "resumed: EV_READ again");
	reply = NULL;
	netio_printf(io, "221 bye\r\n");
	is_int(io->armed, EV_READ | EV_WRITE,
	    "a write outside a callback registers EV_WRITE");
	drained = 0;
	pump();
	n = read(peer, buf, sizeof(buf));
	ok(n == 9 && drained == 1, "and is written by the loop");
	is_int(io->armed, EV_READ, "EV_WRITE dropped once drained");
	netio_free(io);
	close(peer);
}

int
main(void)
{
	base = event_base_new();
	test_lines();
	test_overlong();
	test_blocks_and_output();
	test_timeout();
	test_reply_in_callback();
	event_base_free(base);
	return done_testing();
}
