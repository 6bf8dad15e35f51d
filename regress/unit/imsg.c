/*
 * Unit tests for lib/imsg.c and lib/imsgev.c: framing over real
 * socketpairs, hostile and truncated streams, fd passing, a large write
 * queue drained through a non-blocking socket, the payload builder and
 * its checked reader (whose fatal paths run in forked children), and the
 * libevent glue.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "imsg.h"
#include "imsgev.h"
#include "tap.h"

#define MAX_PAYLOAD	(IMSG_MAX_SIZE - IMSG_HEADER_SIZE)

static void
die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(2);
}

static void
xsocketpair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		die("socketpair");
}

static void
set_nonblock(int fd)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		die("fcntl");
}

static void
xpipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) == -1)
		die("pipe");
}

static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the DIR's own fd */
}

static int
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static unsigned char
pattern(uint32_t seed, size_t i)
{
	return (unsigned char)(seed * 131 + i * 7 + (i >> 8));
}

static void
fill(unsigned char *p, size_t len, uint32_t seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		p[i] = pattern(seed, i);
}

static int
check_fill(const unsigned char *p, size_t len, uint32_t seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern(seed, i))
			return 0;
	return 1;
}

static void
raw_write(int fd, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		p += n;
		len -= (size_t)n;
	}
}

static void
raw_hdr(int fd, uint32_t type, uint32_t len, uint32_t flags)
{
	struct imsg_hdr	 hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	hdr.flags = flags;
	raw_write(fd, &hdr, sizeof(hdr));
}

/*
 * Reads until a frame is complete: 1, 0 on EOF, -1 on error (errno).
 * Works on blocking and non-blocking fds.
 */
static int
get_one(struct imsgbuf *ib, struct imsg *imsg)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	int		 r;

	for (;;) {
		if ((r = imsg_get(ib, imsg)) != 0)
			return r;
		if ((n = imsgbuf_read(ib)) == 0)
			return 0;
		if (n == -1) {
			if (errno != EAGAIN)
				return -1;
			pfd.fd = ib->fd;
			pfd.events = POLLIN;
			(void)poll(&pfd, 1, 5000);
		}
	}
}

static void
xflush(struct imsgbuf *ib)
{
	if (imsgbuf_flush(ib) == -1)
		die("imsgbuf_flush");
}

static void
pair_open(int sv[2], struct imsgbuf *a, struct imsgbuf *b)
{
	xsocketpair(sv);
	if (imsgbuf_init(a, sv[0]) == -1 || imsgbuf_init(b, sv[1]) == -1)
		die("imsgbuf_init");
}

static void
pair_close(int sv[2], struct imsgbuf *a, struct imsgbuf *b)
{
	imsgbuf_clear(a);
	imsgbuf_clear(b);
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
}

static void
test_roundtrip_sizes(void)
{
	static const size_t	 sizes[] = { 0, 1, 2, 3, 19, 20, 21, 255, 4096,
	    MAX_PAYLOAD - 1, MAX_PAYLOAD };
	struct imsgbuf		 a, b;
	struct imsg		 imsg;
	unsigned char		*buf;
	size_t			 i;
	int			 sv[2], good;

	if ((buf = malloc(MAX_PAYLOAD)) == NULL)
		die("malloc");
	pair_open(sv, &a, &b);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill(buf, sizes[i], (uint32_t)i);
		if (imsg_compose(&a, 100 + (uint32_t)i, (uint32_t)i * 3,
		    getpid(), -1, sizes[i] ? buf : NULL, sizes[i]) == -1)
			die("imsg_compose");
		is_int(imsgbuf_queued(&a), 1, "size %zu: one frame queued",
		    sizes[i]);
		xflush(&a);
		is_int(imsgbuf_queued(&a), 0, "size %zu: flushed", sizes[i]);
		if (get_one(&b, &imsg) != 1) {
			ok(0, "size %zu: frame received", sizes[i]);
			continue;
		}
		good = imsg.hdr.type == 100 + i && imsg.hdr.peerid == i * 3 &&
		    imsg.hdr.pid == (uint32_t)getpid() &&
		    imsg.hdr.len == IMSG_HEADER_SIZE + sizes[i] &&
		    imsg.hdr.flags == 0 && imsg.fd == -1 &&
		    imsg.datalen == sizes[i] &&
		    (sizes[i] == 0 ? imsg.data == NULL :
		    imsg.data != NULL &&
		    check_fill(imsg.data, sizes[i], (uint32_t)i));
		ok(good, "size %zu: header and payload intact", sizes[i]);
		imsg_free(&imsg);
		ok(imsg.data == NULL && imsg.fd == -1, "size %zu: freed",
		    sizes[i]);
	}
	is_int(imsg_get(&b, &imsg), 0, "nothing more buffered");
	pair_close(sv, &a, &b);
	free(buf);
}

static void
test_many_per_read(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	 buf[10];
	uint32_t	 i, seq;
	ssize_t		 n;
	int		 sv[2], inorder = 1;

	pair_open(sv, &a, &b);
	for (i = 0; i < 1000; i++) {
		memset(buf, 0, sizeof(buf));
		memcpy(buf, &i, sizeof(i));
		if (imsg_compose(&a, 7, 0, 0, -1, buf, sizeof(buf)) == -1)
			die("imsg_compose");
	}
	xflush(&a);
	n = imsgbuf_read(&b);
	is_int(n, 1000 * (IMSG_HEADER_SIZE + sizeof(buf)),
	    "1000 frames arrive in one read");
	for (i = 0; i < 1000; i++) {
		if (imsg_get(&b, &imsg) != 1) {
			inorder = 0;
			break;
		}
		memcpy(&seq, imsg.data, sizeof(seq));
		if (seq != i || imsg.datalen != sizeof(buf))
			inorder = 0;
		imsg_free(&imsg);
	}
	ok(inorder, "all 1000 frames taken from that read, in order");
	is_int(imsg_get(&b, &imsg), 0, "then no frame");
	is_int(imsgbuf_pending(&b), 0, "and no byte left over");
	pair_close(sv, &a, &b);
}

/* Frames straddling the end of the read buffer, with compaction. */
static void
test_stream_across_reads(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	*buf;
	uint32_t	 i, got = 0, nframes = 600;
	size_t		 len;
	int		 sv[2], good = 1, r;

	if ((buf = malloc(MAX_PAYLOAD)) == NULL)
		die("malloc");
	pair_open(sv, &a, &b);
	set_nonblock(sv[0]);
	set_nonblock(sv[1]);
	for (i = 0; i < nframes; i++) {
		len = (i * 4099) % 7000;
		fill(buf, len, i);
		if (imsg_compose(&a, i, 0, 0, -1, buf, len) == -1)
			die("imsg_compose");
	}
	while (got < nframes) {
		if (imsgbuf_write(&a) == -1)
			die("imsgbuf_write");
		if (imsgbuf_read(&b) == -1 && errno != EAGAIN)
			die("imsgbuf_read");
		while ((r = imsg_get(&b, &imsg)) == 1) {
			len = (got * 4099) % 7000;
			if (imsg.hdr.type != got || imsg.datalen != len ||
			    (len > 0 && !check_fill(imsg.data, len, got)))
				good = 0;
			got++;
			imsg_free(&imsg);
		}
		if (r == -1)
			die("imsg_get");
	}
	ok(good, "%u frames of odd sizes across many reads", nframes);
	pair_close(sv, &a, &b);
	free(buf);
}

static void
test_split_frame(void)
{
	struct imsgbuf	 b;
	struct imsg	 imsg;
	struct imsg_hdr	 hdr;
	unsigned char	 raw[2 * IMSG_HEADER_SIZE + 5 + 100];
	size_t		 i, len1, total, at[2] = { 0, 0 };
	int		 sv[2], got = 0, good = 1;

	xsocketpair(sv);
	if (imsgbuf_init(&b, sv[1]) == -1)
		die("imsgbuf_init");
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = 1;
	hdr.len = IMSG_HEADER_SIZE + 5;
	memcpy(raw, &hdr, sizeof(hdr));
	memcpy(raw + sizeof(hdr), "hello", 5);
	len1 = hdr.len;
	hdr.type = 2;
	hdr.len = IMSG_HEADER_SIZE + 100;
	memcpy(raw + len1, &hdr, sizeof(hdr));
	fill(raw + len1 + sizeof(hdr), 100, 2);
	total = len1 + hdr.len;
	for (i = 0; i < total; i++) {
		raw_write(sv[0], raw + i, 1);
		if (imsgbuf_read(&b) != 1)
			good = 0;
		while (imsg_get(&b, &imsg) == 1) {
			if (got < 2)
				at[got] = i + 1;
			if (imsg.hdr.type == 1 && (imsg.datalen != 5 ||
			    memcmp(imsg.data, "hello", 5) != 0))
				good = 0;
			if (imsg.hdr.type == 2 && (imsg.datalen != 100 ||
			    !check_fill(imsg.data, 100, 2)))
				good = 0;
			got++;
			imsg_free(&imsg);
		}
	}
	ok(good, "byte-by-byte: every read took one byte, payloads intact");
	is_int(got, 2, "byte-by-byte: two frames");
	is_int(at[0], len1, "first frame complete at its last byte");
	is_int(at[1], total, "second frame complete at its last byte");
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

/* Writes a raw header (and zero payload), expects EBADMSG for good. */
static void
bad_frame(const char *what, uint32_t len, uint32_t flags, size_t payload)
{
	struct imsgbuf	 b;
	struct imsg	 imsg;
	unsigned char	 zero[64];
	int		 sv[2], r;

	xsocketpair(sv);
	if (imsgbuf_init(&b, sv[1]) == -1)
		die("imsgbuf_init");
	raw_hdr(sv[0], 9, len, flags);
	memset(zero, 0, sizeof(zero));
	if (payload > 0)
		raw_write(sv[0], zero, payload);
	if (imsgbuf_read(&b) <= 0)
		die("imsgbuf_read");
	errno = 0;
	r = imsg_get(&b, &imsg);
	ok(r == -1 && errno == EBADMSG, "%s: EBADMSG", what);
	errno = 0;
	r = imsg_get(&b, &imsg);
	ok(r == -1 && errno == EBADMSG, "%s: the buffer stays broken", what);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_malformed(void)
{
	struct imsgbuf	 b;
	struct imsg	 imsg;
	int		 sv[2], r;

	bad_frame("len above IMSG_MAX_SIZE", IMSG_MAX_SIZE + 1, 0, 0);
	bad_frame("len 4 GB", UINT32_MAX, 0, 0);
	bad_frame("len below the header", IMSG_HEADER_SIZE - 1, 0, 0);
	bad_frame("len 0", 0, 0, 0);
	bad_frame("unknown flag 0x2", IMSG_HEADER_SIZE, 0x2, 0);
	bad_frame("unknown high flag", IMSG_HEADER_SIZE + 4,
	    0x80000000 | IMSG_FLAG_FD, 4);
	bad_frame("FLAG_FD without an fd", IMSG_HEADER_SIZE, IMSG_FLAG_FD,
	    0);
	bad_frame("FLAG_FD without an fd, with payload",
	    IMSG_HEADER_SIZE + 8, IMSG_FLAG_FD, 8);

	/* A good frame, then garbage: the good one is still delivered. */
	xsocketpair(sv);
	if (imsgbuf_init(&b, sv[1]) == -1)
		die("imsgbuf_init");
	raw_hdr(sv[0], 1, IMSG_HEADER_SIZE, 0);
	raw_hdr(sv[0], 2, 3, 0);
	(void)imsgbuf_read(&b);
	r = imsg_get(&b, &imsg);
	ok(r == 1 && imsg.hdr.type == 1, "good frame before garbage");
	if (r == 1)
		imsg_free(&imsg);
	errno = 0;
	r = imsg_get(&b, &imsg);
	ok(r == -1 && errno == EBADMSG, "then EBADMSG");
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_eof_midframe(void)
{
	struct imsgbuf	 b;
	struct imsg	 imsg;
	unsigned char	 half[50];
	int		 sv[2];

	xsocketpair(sv);
	if (imsgbuf_init(&b, sv[1]) == -1)
		die("imsgbuf_init");
	raw_hdr(sv[0], 1, IMSG_HEADER_SIZE + 100, 0);
	memset(half, 'x', sizeof(half));
	raw_write(sv[0], half, sizeof(half));
	close(sv[0]);
	is_int(imsgbuf_read(&b), IMSG_HEADER_SIZE + 50, "partial frame read");
	is_int(imsg_get(&b, &imsg), 0, "not a frame yet");
	is_int(imsgbuf_read(&b), 0, "then EOF");
	is_int(imsg_get(&b, &imsg), 0, "still no frame after EOF");
	is_int(imsgbuf_pending(&b), IMSG_HEADER_SIZE + 50,
	    "the partial frame is visible as pending bytes");
	imsgbuf_clear(&b);
	close(sv[1]);
}

static void
test_fd_passing(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct stat	 st1, st2;
	char		 buf[16];
	int		 sv[2], p[2], sent, fd;

	pair_open(sv, &a, &b);
	xpipe(p);
	if ((sent = dup(p[1])) == -1)
		die("dup");
	if (imsg_compose(&a, 5, 0, 0, sent, "x", 1) == -1)
		die("imsg_compose");
	xflush(&a);
	ok(!fd_is_open(sent), "the sent fd is closed once sent");
	if (get_one(&b, &imsg) != 1) {
		ok(0, "fd frame received");
		return;
	}
	ok(imsg.fd != -1 && (imsg.hdr.flags & IMSG_FLAG_FD),
	    "frame carries an fd");
	ok(imsg.fd != p[1], "a new fd number (%d, was %d)", imsg.fd, p[1]);
	ok(fstat(imsg.fd, &st1) == 0 && fstat(p[1], &st2) == 0 &&
	    st1.st_ino == st2.st_ino && st1.st_dev == st2.st_dev,
	    "the same file (st_ino)");
	ok(fcntl(imsg.fd, F_GETFD) & FD_CLOEXEC,
	    "received fd is close-on-exec");
	fd = imsg_get_fd(&imsg);
	is_int(imsg.fd, -1, "imsg_get_fd takes it");
	imsg_free(&imsg);
	ok(fd_is_open(fd), "imsg_free leaves a taken fd open");
	ok(write(fd, "through", 7) == 7 && read(p[0], buf, sizeof(buf)) == 7 &&
	    memcmp(buf, "through", 7) == 0, "bytes flow through the passed fd");
	close(fd);

	/* An fd not taken is closed by imsg_free. */
	if ((sent = dup(p[1])) == -1)
		die("dup");
	if (imsg_compose(&a, 6, 0, 0, sent, NULL, 0) == -1)
		die("imsg_compose");
	xflush(&a);
	if (get_one(&b, &imsg) != 1)
		die("get_one");
	fd = imsg.fd;
	imsg_free(&imsg);
	ok(!fd_is_open(fd), "imsg_free closes an fd not taken");
	close(p[0]);
	close(p[1]);
	pair_close(sv, &a, &b);
}

#define NSEQ	24

static int
seq_has_fd(int i)
{
	return i % 3 != 1 && i % 7 != 0;
}

/*
 * fds in a row and between fd-less frames each land on their frame,
 * whether they are claimed as they come or pile up unclaimed first.
 */
static void
test_fd_sequence(int readall)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	int		 sv[2], p[NSEQ][2], i, good = 1, got = 0;
	unsigned char	 c;

	pair_open(sv, &a, &b);
	for (i = 0; i < NSEQ; i++) {
		p[i][0] = p[i][1] = -1;
		if (seq_has_fd(i)) {
			xpipe(p[i]);
			/* A misrouted fd must fail the test, not hang it. */
			set_nonblock(p[i][0]);
		}
		/* p[i][1] now belongs to the buffer. */
		if (imsg_compose(&a, (uint32_t)i, 0, 0, p[i][1], &i,
		    sizeof(i)) == -1)
			die("imsg_compose");
	}
	xflush(&a);
	if (readall) {
		set_nonblock(sv[1]);
		while (imsgbuf_read(&b) > 0)
			;
		ok(b.nrfds > 1, "%zu fds pending before any is claimed",
		    b.nrfds);
	}
	for (i = 0; i < NSEQ; i++) {
		if (get_one(&b, &imsg) != 1)
			break;
		got++;
		if (imsg.hdr.type != (uint32_t)i)
			good = 0;
		if (!seq_has_fd(i)) {
			if (imsg.fd != -1)
				good = 0;
		} else if (imsg.fd == -1) {
			good = 0;
		} else {
			c = (unsigned char)i;
			if (write(imsg.fd, &c, 1) != 1 ||
			    read(p[i][0], &c, 1) != 1 || c != i)
				good = 0;
		}
		imsg_free(&imsg);
	}
	is_int(got, NSEQ, "%d mixed frames received%s", NSEQ,
	    readall ? " (read all first)" : "");
	ok(good, "each fd arrived with its own frame%s",
	    readall ? " (read all first)" : "");
	for (i = 0; i < NSEQ; i++)
		if (p[i][0] != -1)
			close(p[i][0]);
	pair_close(sv, &a, &b);
}

/* More fds than IMSG_MAX_PENDING_FDS unclaimed: closed, stream broken. */
static void
test_fd_flood(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	int		 sv[2], i, fd, before, r;

	before = count_fds();
	pair_open(sv, &a, &b);
	set_nonblock(sv[1]);
	for (i = 0; i < IMSG_MAX_PENDING_FDS + 1; i++) {
		if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
			die("open");
		if (imsg_compose(&a, 1, 0, 0, fd, NULL, 0) == -1)
			die("imsg_compose");
	}
	xflush(&a);
	while (imsgbuf_read(&b) > 0)
		;
	is_int(b.nrfds, IMSG_MAX_PENDING_FDS, "pending fds capped at %d",
	    IMSG_MAX_PENDING_FDS);
	errno = 0;
	r = imsg_get(&b, &imsg);
	ok(r == -1 && errno == EBADMSG, "fd flood breaks the stream");
	pair_close(sv, &a, &b);
	is_int(count_fds(), before, "no fd leaked by the flood");
}

/* More fds in one message than the reader has room for: MSG_CTRUNC. */
static void
test_fd_ctrunc(void)
{
	union {
		struct cmsghdr	 hdr;
		unsigned char	 buf[CMSG_SPACE(sizeof(int) * 40)];
	}		 cmsgbuf;
	struct imsgbuf	 b;
	struct imsg	 imsg;
	struct imsg_hdr	 hdr;
	struct msghdr	 msg;
	struct cmsghdr	*cm;
	struct iovec	 iov;
	int		 sv[2], fds[40], i, before, r;

	before = count_fds();
	xsocketpair(sv);
	if (imsgbuf_init(&b, sv[1]) == -1)
		die("imsgbuf_init");
	for (i = 0; i < 40; i++)
		if ((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
			die("open");
	memset(&hdr, 0, sizeof(hdr));
	hdr.len = IMSG_HEADER_SIZE;
	hdr.flags = IMSG_FLAG_FD;
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = &hdr;
	iov.iov_len = sizeof(hdr);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	if (sendmsg(sv[0], &msg, 0) == -1)
		die("sendmsg");
	for (i = 0; i < 40; i++)
		close(fds[i]);
	ok(imsgbuf_read(&b) > 0, "frame with 40 fds read");
	errno = 0;
	r = imsg_get(&b, &imsg);
	ok(r == -1 && errno == EBADMSG, "truncated control data: EBADMSG");
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
	is_int(count_fds(), before, "no fd leaked on MSG_CTRUNC");
}

#define BIG_TOTAL	(10 * 1024 * 1024)
#define BIG_END		0xffffffffU

static size_t
big_size(uint32_t seq)
{
	if (seq % 5 == 0)
		return (seq * 7919U) % (MAX_PAYLOAD + 1);
	return seq % 300;
}

static int
big_has_fd(uint32_t seq)
{
	return seq % 50 == 0;
}

/* The reader process: checks every frame; the exit code says what broke. */
static void
big_reader(int fd)
{
	struct imsgbuf	 ib;
	struct imsg	 imsg;
	uint32_t	 seq = 0;
	int		 r;

	if (imsgbuf_init(&ib, fd) == -1)
		_exit(10);
	for (;;) {
		/* Slow down now and then so the writer meets a full socket. */
		if (seq % 97 == 0)
			usleep(2000);
		if ((r = get_one(&ib, &imsg)) != 1)
			_exit(r == 0 ? 11 : 12);
		if (imsg.hdr.type == BIG_END)
			break;
		if (imsg.hdr.type != seq)
			_exit(13);
		if (imsg.datalen != big_size(seq) ||
		    (imsg.datalen > 0 &&
		    !check_fill(imsg.data, imsg.datalen, seq)))
			_exit(14);
		if ((imsg.fd != -1) != big_has_fd(seq))
			_exit(15);
		if (imsg.fd != -1 && !fd_is_open(imsg.fd))
			_exit(16);
		imsg_free(&imsg);
		seq++;
	}
	imsg_free(&imsg);
	_exit(0);
}

static void
test_large_queue(void)
{
	struct imsgbuf	 a;
	struct pollfd	 pfd;
	unsigned char	*buf;
	size_t		 total = 0, len, partial = 0;
	uint32_t	 seq;
	pid_t		 pid;
	int		 sv[2], status, fd, before;

	if ((buf = malloc(MAX_PAYLOAD)) == NULL)
		die("malloc");
	xsocketpair(sv);
	fflush(stdout);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		close(sv[0]);
		big_reader(sv[1]);
	}
	close(sv[1]);
	set_nonblock(sv[0]);
	before = count_fds();
	if (imsgbuf_init(&a, sv[0]) == -1)
		die("imsgbuf_init");
	for (seq = 0; total < BIG_TOTAL; seq++) {
		len = big_size(seq);
		fill(buf, len, seq);
		fd = big_has_fd(seq) ? open("/dev/null", O_RDONLY | O_CLOEXEC) :
		    -1;
		if (big_has_fd(seq) && fd == -1)
			die("open");
		if (imsg_compose(&a, seq, 0, 0, fd, buf, len) == -1)
			die("imsg_compose");
		total += len;
	}
	if (imsg_compose(&a, BIG_END, 0, 0, -1, NULL, 0) == -1)
		die("imsg_compose");
	diag("10 MB queued, draining through a non-blocking socket");
	while (imsgbuf_queued(&a) > 0) {
		if (imsgbuf_write(&a) == -1)
			break;
		if (imsgbuf_queued(&a) == 0)
			break;
		partial++;
		pfd.fd = sv[0];
		pfd.events = POLLOUT;
		(void)poll(&pfd, 1, 5000);
	}
	is_int(imsgbuf_queued(&a), 0, "%u frames (%zu bytes) written", seq,
	    total);
	ok(partial > 10, "the socket filled up %zu times on the way", partial);
	is_int(count_fds(), before, "every queued fd closed once sent");
	imsgbuf_clear(&a);
	close(sv[0]);
	if (waitpid(pid, &status, 0) == -1)
		die("waitpid");
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "reader process saw every frame intact, fds on the right frames "
	    "(status %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	free(buf);
}

/* A frame's fd is closed as soon as its first byte is out. */
static void
test_fd_closed_early(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	*buf;
	int		 sv[2], fd, sndbuf = 4096, r;

	if ((buf = calloc(1, MAX_PAYLOAD)) == NULL)
		die("calloc");
	pair_open(sv, &a, &b);
	set_nonblock(sv[0]);
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)) == -1)
		die("setsockopt");
	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		die("open");
	if (imsg_compose(&a, 1, 0, 0, fd, buf, MAX_PAYLOAD) == -1)
		die("imsg_compose");
	is_int(imsgbuf_write(&a), 0, "partial write is not an error");
	is_int(imsgbuf_queued(&a), 1, "the frame is still queued");
	ok(!fd_is_open(fd), "but its fd is closed already");
	set_nonblock(sv[1]);
	while (imsgbuf_queued(&a) > 0) {
		if (imsgbuf_write(&a) == -1 || imsgbuf_read(&b) == 0)
			die("pump");
	}
	r = get_one(&b, &imsg);
	ok(r == 1 && imsg.fd != -1 && imsg.datalen == MAX_PAYLOAD,
	    "the frame arrives whole, with its fd");
	if (r == 1)
		imsg_free(&imsg);
	pair_close(sv, &a, &b);
	free(buf);
}

static void
test_write_epipe(void)
{
	struct imsgbuf	 a;
	int		 sv[2];

	xsocketpair(sv);
	if (imsgbuf_init(&a, sv[0]) == -1)
		die("imsgbuf_init");
	close(sv[1]);
	if (imsg_compose(&a, 1, 0, 0, -1, "x", 1) == -1)
		die("imsg_compose");
	errno = 0;
	ok(imsgbuf_write(&a) == -1 && errno == EPIPE,
	    "write to a closed peer: EPIPE, no SIGPIPE");
	ok(imsgbuf_flush(&a) == -1, "flush fails too");
	imsgbuf_clear(&a);
	close(sv[0]);
}

static void
test_compose_errors(void)
{
	struct imsgbuf	 a;
	unsigned char	*buf;
	int		 p[2], r;

	if ((buf = calloc(1, MAX_PAYLOAD + 1)) == NULL)
		die("calloc");
	if (imsgbuf_init(&a, -1) == -1)
		die("imsgbuf_init");
	xpipe(p);
	errno = 0;
	r = imsg_compose(&a, 1, 0, 0, p[1], buf, MAX_PAYLOAD + 1);
	ok(r == -1 && errno == EMSGSIZE, "payload over the maximum: EMSGSIZE");
	ok(!fd_is_open(p[1]), "the fd of a refused frame is closed");
	is_int(imsgbuf_queued(&a), 0, "nothing queued");
	is_int(imsg_compose(&a, 1, 0, 0, -1, buf, MAX_PAYLOAD), 0,
	    "maximum payload accepted");
	is_int(imsgbuf_queued(&a), 1, "one frame queued");
	imsgbuf_clear(&a);
	is_int(imsgbuf_queued(&a), 0, "imsgbuf_clear drops the queue");
	close(p[0]);
	free(buf);
}

static void
test_ibuf_roundtrip(void)
{
	struct imsgbuf		 a, b;
	struct imsg		 imsg;
	struct imsg_reader	 r;
	struct ibuf		 ib;
	unsigned char		 raw[16], back[16];
	char			 str[64], *dup;
	uint64_t		 u64;
	uint32_t		 u32;
	int			 sv[2];

	ibuf_init(&ib);
	fill(raw, sizeof(raw), 77);
	ibuf_add_u32(&ib, 0xdeadbeef);
	ibuf_add_u64(&ib, 0x0123456789abcdefULL);
	ibuf_add_str(&ib, "alice@example.org");
	ibuf_add_str(&ib, "");
	ibuf_add_strn(&ib, "abcdef", 3);
	ibuf_add(&ib, raw, sizeof(raw));
	is_int(ib.error, 0, "ibuf built without error");
	is_int(ib.len, 4 + 8 + 4 + 17 + 4 + 4 + 3 + 16, "ibuf length");

	pair_open(sv, &a, &b);
	if (imsg_compose(&a, 3, 0, 0, -1, ib.data, ib.len) == -1)
		die("imsg_compose");
	ibuf_free(&ib);
	ok(ib.data == NULL && ib.len == 0, "ibuf_free resets");
	xflush(&a);
	if (get_one(&b, &imsg) != 1)
		die("get_one");
	imsg_reader_init(&r, &imsg, "TEST");
	u32 = imsg_read_u32(&r);
	u64 = imsg_read_u64(&r);
	ok(u32 == 0xdeadbeef, "u32 round trip");
	ok(u64 == 0x0123456789abcdefULL, "u64 round trip");
	imsg_read_str(&r, str, sizeof(str));
	is_str(str, "alice@example.org", "string round trip");
	dup = imsg_read_strdup(&r, 10);
	is_str(dup, "", "empty string round trip (strdup)");
	free(dup);
	dup = imsg_read_strdup(&r, 3);
	is_str(dup, "abc", "strn round trip at the max length");
	free(dup);
	imsg_read_bytes(&r, back, sizeof(back));
	ok(memcmp(raw, back, sizeof(raw)) == 0, "bytes round trip");
	is_int(r.left, 0, "payload consumed");
	imsg_reader_end(&r);
	ok(1, "imsg_reader_end accepts an exact payload");
	imsg_free(&imsg);
	pair_close(sv, &a, &b);
}

static void
test_ibuf_errors(void)
{
	struct ibuf	 ib;
	unsigned char	*big;
	size_t		 len;

	if ((big = calloc(1, MAX_PAYLOAD)) == NULL)
		die("calloc");
	ibuf_init(&ib);
	ibuf_add(&ib, big, MAX_PAYLOAD);
	ok(ib.error == 0 && ib.len == MAX_PAYLOAD, "ibuf holds the maximum");
	ibuf_add_u32(&ib, 1);
	ok(ib.error == EMSGSIZE && ib.len == MAX_PAYLOAD,
	    "one more u32 overflows: EMSGSIZE, nothing added");
	ibuf_free(&ib);

	ibuf_init(&ib);
	ibuf_add(&ib, big, MAX_PAYLOAD - 6);
	len = ib.len;
	ibuf_add_str(&ib, "abc");
	ok(ib.error == EMSGSIZE && ib.len == len,
	    "a string whose length fits but bytes do not: neither added");
	ibuf_free(&ib);

	ibuf_init(&ib);
	ibuf_add_u32(&ib, 5);
	ibuf_add_strn(&ib, "a\0b", 3);
	ok(ib.error == EINVAL && ib.len == 4, "string with NUL refused");
	ibuf_add_u32(&ib, 6);
	is_int(ib.len, 4, "adds after an error are ignored");
	ibuf_free(&ib);
	free(big);
}

/* The reader's fatal paths, each in a child process. */
static struct imsg	 fx;
static unsigned char	 fxbuf[64];

static void
fixture(const void *data, size_t len)
{
	memset(&fx, 0, sizeof(fx));
	fx.fd = -1;
	if (len > 0)
		memcpy(fxbuf, data, len);
	fx.data = len > 0 ? fxbuf : NULL;
	fx.datalen = len;
}

static void
fixture_str(uint32_t len, const char *s, size_t slen)
{
	unsigned char	 tmp[64];

	memcpy(tmp, &len, sizeof(len));
	memcpy(tmp + sizeof(len), s, slen);
	fixture(tmp, sizeof(len) + slen);
}

/* Runs fn in a child: 1 when it died with a malformed-imsg message. */
static int
dies(void (*fn)(void))
{
	char	 out[1024];
	ssize_t	 n;
	size_t	 got = 0;
	pid_t	 pid;
	int	 p[2], status;

	xpipe(p);
	fflush(stdout);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		if (dup2(p[1], STDERR_FILENO) == -1)
			_exit(99);
		fn();
		_exit(0);
	}
	close(p[1]);
	while (got < sizeof(out) - 1 &&
	    (n = read(p[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(p[0]);
	if (waitpid(pid, &status, 0) == -1)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 0)
		return 0;
	return strstr(out, "FX: malformed imsg") != NULL;
}

static void
fx_u32(void)
{
	struct imsg_reader	 r;

	imsg_reader_init(&r, &fx, "FX");
	(void)imsg_read_u32(&r);
}

static void
fx_u64(void)
{
	struct imsg_reader	 r;

	imsg_reader_init(&r, &fx, "FX");
	(void)imsg_read_u64(&r);
}

static void
fx_bytes8(void)
{
	struct imsg_reader	 r;
	unsigned char		 b[8];

	imsg_reader_init(&r, &fx, "FX");
	imsg_read_bytes(&r, b, sizeof(b));
}

static void
fx_str6(void)
{
	struct imsg_reader	 r;
	char			 s[6];

	imsg_reader_init(&r, &fx, "FX");
	imsg_read_str(&r, s, sizeof(s));
}

static void
fx_str7(void)
{
	struct imsg_reader	 r;
	char			 s[7];

	imsg_reader_init(&r, &fx, "FX");
	imsg_read_str(&r, s, sizeof(s));
	imsg_reader_end(&r);
}

static void
fx_strdup5(void)
{
	struct imsg_reader	 r;

	imsg_reader_init(&r, &fx, "FX");
	free(imsg_read_strdup(&r, 5));
}

static void
fx_u32_end(void)
{
	struct imsg_reader	 r;

	imsg_reader_init(&r, &fx, "FX");
	(void)imsg_read_u32(&r);
	imsg_reader_end(&r);
}

static void
fx_exact8(void)
{
	uint64_t	 v;

	imsg_get_exact(&fx, &v, sizeof(v), "FX");
}

static void
fx_exact2(void)
{
	uint16_t	 v;

	imsg_get_exact(&fx, &v, sizeof(v), "FX");
}

static void
fx_exact4(void)
{
	uint32_t	 v;

	imsg_get_exact(&fx, &v, sizeof(v), "FX");
}

static void
test_reader_fatal(void)
{
	uint32_t	 four = 4;

	fixture("abc", 3);
	ok(dies(fx_u32), "u32 from 3 bytes: fatal");
	fixture(NULL, 0);
	ok(dies(fx_u32), "u32 from an empty payload: fatal");
	fixture("abcdefg", 7);
	ok(dies(fx_u64), "u64 from 7 bytes: fatal");
	ok(dies(fx_bytes8), "8 bytes from 7: fatal");
	fixture_str(100, "abcde", 5);
	ok(dies(fx_str7), "string length beyond the payload: fatal");
	fixture_str(3, "a\0b", 3);
	ok(dies(fx_str7), "string with a NUL: fatal");
	fixture_str(6, "abcdef", 6);
	ok(dies(fx_str6), "6-byte string into char[6]: fatal");
	ok(!dies(fx_str7), "6-byte string into char[7]: fine");
	ok(dies(fx_strdup5), "strdup over its max: fatal");
	fixture("abcde", 5);
	ok(dies(fx_u32_end), "a trailing byte: fatal at imsg_reader_end");
	fixture(&four, sizeof(four));
	ok(!dies(fx_u32_end), "exact payload: fine at imsg_reader_end");
	ok(dies(fx_exact8), "get_exact of 8 from 4 bytes: fatal");
	ok(dies(fx_exact2), "get_exact of 2 from 4 bytes: fatal");
	ok(!dies(fx_exact4), "get_exact of 4 from 4 bytes: fine");
}

/*
 * imsgev: two ends on a socketpair.  A sends 1000 numbered messages, B
 * echoes each, A clears itself after the last echo, B sees EOF.
 */
struct ev_test {
	struct event_base	*base;
	struct imsgev		 a, b;
	uint32_t		 a_got, b_got;
	int			 order_ok;
	int			 a_closed, b_closed, b_error;
};

#define EV_COUNT	1000

static void
evt_a_handler(struct imsgev *iev, struct imsg *imsg)
{
	struct ev_test	*t = iev->arg;
	uint32_t	 seq;

	imsg_get_exact(imsg, &seq, sizeof(seq), "ECHO");
	if (imsg->hdr.type != 2 || seq != t->a_got)
		t->order_ok = 0;
	if (++t->a_got == EV_COUNT)
		imsgev_clear(iev);
}

static void
evt_a_closed(struct imsgev *iev, int error)
{
	struct ev_test	*t = iev->arg;

	(void)error;
	t->a_closed++;
}

static void
evt_b_handler(struct imsgev *iev, struct imsg *imsg)
{
	struct ev_test	*t = iev->arg;
	uint32_t	 seq;

	imsg_get_exact(imsg, &seq, sizeof(seq), "PING");
	if (imsg->hdr.type != 1 || seq != t->b_got)
		t->order_ok = 0;
	t->b_got++;
	imsgev_xcompose(iev, 2, 0, 0, -1, &seq, sizeof(seq));
}

static void
evt_b_closed(struct imsgev *iev, int error)
{
	struct ev_test	*t = iev->arg;

	t->b_closed++;
	t->b_error = error;
	ok(iev->events == 0, "closed: the event is already deleted");
	imsgev_clear(iev);
	event_base_loopbreak(t->base);
}

static void
evt_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct event_base	*base = arg;

	(void)fd;
	(void)what;
	diag("timeout");
	event_base_loopbreak(base);
}

static struct event *
arm_timeout(struct event_base *base)
{
	struct event	*ev;
	struct timeval	 tv = { 10, 0 };

	if ((ev = evtimer_new(base, evt_timeout, base)) == NULL ||
	    evtimer_add(ev, &tv) == -1)
		die("evtimer");
	return ev;
}

static void
test_imsgev_pingpong(void)
{
	struct ev_test	 t;
	struct event	*to;
	uint32_t	 i;
	int		 sv[2];

	memset(&t, 0, sizeof(t));
	t.order_ok = 1;
	if ((t.base = event_base_new()) == NULL)
		die("event_base_new");
	xsocketpair(sv);
	imsgev_init(&t.a, t.base, sv[0], "a", evt_a_handler, evt_a_closed,
	    &t);
	imsgev_init(&t.b, t.base, sv[1], "b", evt_b_handler, evt_b_closed,
	    &t);
	ok(fcntl(sv[0], F_GETFL) & O_NONBLOCK, "imsgev_init: non-blocking");
	is_int(t.a.events, EV_READ, "idle: EV_READ only");
	for (i = 0; i < EV_COUNT; i++)
		imsgev_xcompose(&t.a, 1, 0, 0, -1, &i, sizeof(i));
	is_int(t.a.events, EV_READ | EV_WRITE, "queued: EV_WRITE armed");
	to = arm_timeout(t.base);
	event_base_dispatch(t.base);
	is_int(t.b_got, EV_COUNT, "b received %d messages", EV_COUNT);
	is_int(t.a_got, EV_COUNT, "a received %d echoes", EV_COUNT);
	ok(t.order_ok, "in order, payloads intact");
	is_int(t.b_closed, 1, "b's closed fired once");
	is_int(t.b_error, 0, "on a clean EOF (error 0)");
	is_int(t.a_closed, 0, "a cleared itself: its closed never fires");
	is_int(t.a.ibuf.fd, -1, "imsgev_clear closed a's fd");
	imsgev_clear(&t.a);
	ok(1, "imsgev_clear twice is harmless");
	errno = 0;
	ok(imsgev_compose(&t.a, 1, 0, 0, -1, NULL, 0) == -1 && errno == EPIPE,
	    "compose after clear: EPIPE");
	event_free(to);
	event_base_free(t.base);
}

/* A handler that clears and frees its imsgev mid-batch. */
struct selfclear {
	struct event_base	*base;
	struct imsgev		*iev;
	int			 calls;
};

static void
sc_handler(struct imsgev *iev, struct imsg *imsg)
{
	struct selfclear	*sc = iev->arg;

	(void)imsg;
	if (++sc->calls == 5) {
		imsgev_clear(iev);
		free(iev);
		sc->iev = NULL;
		event_base_loopbreak(sc->base);
	}
}

static void
sc_closed(struct imsgev *iev, int error)
{
	struct selfclear	*sc = iev->arg;

	(void)error;
	sc->calls = -1000;
}

static void
test_imsgev_selfclear(void)
{
	struct selfclear	 sc;
	struct imsgbuf		 w;
	struct event		*to;
	int			 sv[2], i, r;

	memset(&sc, 0, sizeof(sc));
	if ((sc.base = event_base_new()) == NULL)
		die("event_base_new");
	xsocketpair(sv);
	if (imsgbuf_init(&w, sv[0]) == -1)
		die("imsgbuf_init");
	for (i = 0; i < 100; i++)
		if (imsg_compose(&w, 1, 0, 0, -1, &i, sizeof(i)) == -1)
			die("imsg_compose");
	xflush(&w);
	if ((sc.iev = calloc(1, sizeof(*sc.iev))) == NULL)
		die("calloc");
	imsgev_init(sc.iev, sc.base, sv[1], "selfclear", sc_handler,
	    sc_closed, &sc);
	to = arm_timeout(sc.base);
	event_base_dispatch(sc.base);
	is_int(sc.calls, 5, "delivery stops at once when the handler "
	    "clears (and frees) its imsgev");
	ok(sc.iev == NULL, "the handler freed it");
	if (imsg_compose(&w, 1, 0, 0, -1, NULL, 0) == -1)
		die("imsg_compose");
	errno = 0;
	r = imsgbuf_flush(&w);
	ok(r == -1 && errno == EPIPE, "its fd was closed: the peer gets EPIPE");
	imsgbuf_clear(&w);
	close(sv[0]);
	event_free(to);
	event_base_free(sc.base);
}

/* closed() reports malformed frames and EOF mid-frame, and may free. */
struct closed_test {
	struct event_base	*base;
	int			 handled, closed, error;
};

static void
ct_handler(struct imsgev *iev, struct imsg *imsg)
{
	struct closed_test	*ct = iev->arg;

	(void)imsg;
	ct->handled++;
}

static void
ct_closed(struct imsgev *iev, int error)
{
	struct closed_test	*ct = iev->arg;
	int			 r;

	ct->closed++;
	ct->error = error;
	errno = 0;
	r = imsgev_compose(iev, 1, 0, 0, -1, NULL, 0);
	ok(r == -1 && errno == EPIPE, "compose on a closed imsgev: EPIPE");
	imsgev_clear(iev);
	free(iev);
	event_base_loopbreak(ct->base);
}

static void
closed_case(const char *what, int good, uint32_t badlen, size_t tail,
    int handled, int want)
{
	struct closed_test	 ct;
	struct imsgev		*iev;
	struct event		*to;
	unsigned char		 zero[32];
	int			 sv[2];

	memset(&ct, 0, sizeof(ct));
	if ((ct.base = event_base_new()) == NULL)
		die("event_base_new");
	xsocketpair(sv);
	if (good)
		raw_hdr(sv[0], 1, IMSG_HEADER_SIZE, 0);
	raw_hdr(sv[0], 2, badlen, 0);
	memset(zero, 0, sizeof(zero));
	raw_write(sv[0], zero, tail);
	close(sv[0]);
	if ((iev = calloc(1, sizeof(*iev))) == NULL)
		die("calloc");
	imsgev_init(iev, ct.base, sv[1], what, ct_handler, ct_closed, &ct);
	to = arm_timeout(ct.base);
	event_base_dispatch(ct.base);
	is_int(ct.handled, handled, "%s: %d frame(s) delivered first", what,
	    handled);
	is_int(ct.closed, 1, "%s: closed fired once", what);
	is_int(ct.error, want, "%s: error %s", what, strerror(want));
	event_free(to);
	event_base_free(ct.base);
}

static void
test_imsgev_closed(void)
{
	closed_case("malformed", 0, 3, 0, 0, EBADMSG);
	closed_case("good then malformed", 1, IMSG_MAX_SIZE + 1, 0, 1,
	    EBADMSG);
	closed_case("EOF mid-frame", 1, IMSG_HEADER_SIZE + 64, 10, 1,
	    ECONNRESET);
	closed_case("EOF after whole frames", 1, IMSG_HEADER_SIZE + 8, 8, 2,
	    0);
}

/* fds through imsgev: taken by the handler, or closed for it. */
struct fd_test {
	struct event_base	*base;
	int			 taken, untaken, calls;
};

static void
fdt_handler(struct imsgev *iev, struct imsg *imsg)
{
	struct fd_test	*ft = iev->arg;

	if (imsg->hdr.type == 1)
		ft->taken = imsg_get_fd(imsg);
	else
		ft->untaken = imsg->fd;
	if (++ft->calls == 2)
		event_base_loopbreak(ft->base);
}

static void
test_imsgev_fd(void)
{
	struct fd_test	 ft;
	struct imsgev	 a, b;
	struct event	*to;
	char		 buf[8];
	int		 sv[2], p[2], before;

	before = count_fds();
	memset(&ft, 0, sizeof(ft));
	ft.taken = ft.untaken = -1;
	if ((ft.base = event_base_new()) == NULL)
		die("event_base_new");
	xsocketpair(sv);
	xpipe(p);
	imsgev_init(&a, ft.base, sv[0], "a", fdt_handler, NULL, &ft);
	imsgev_init(&b, ft.base, sv[1], "b", fdt_handler, NULL, &ft);
	imsgev_xcompose(&a, 1, 0, 0, p[1], NULL, 0);
	if (imsgev_compose(&a, 2, 0, 0, dup(p[0]), NULL, 0) == -1)
		die("imsgev_compose");
	to = arm_timeout(ft.base);
	event_base_dispatch(ft.base);
	is_int(ft.calls, 2, "two fd frames through imsgev");
	ok(ft.taken != -1 && write(ft.taken, "ev", 2) == 2 &&
	    read(p[0], buf, sizeof(buf)) == 2 && memcmp(buf, "ev", 2) == 0,
	    "the taken fd works");
	ok(ft.untaken != -1 && !fd_is_open(ft.untaken),
	    "an fd the handler did not take is closed after it");
	is_int(a.events, EV_READ, "queue drained: EV_WRITE dropped");
	close(ft.taken);
	close(p[0]);
	imsgev_clear(&a);
	imsgev_clear(&b);
	event_free(to);
	event_base_free(ft.base);
	is_int(count_fds(), before, "no fd leaked through imsgev");
}

/* imsgev_flush sends at once, without the loop, and drops EV_WRITE. */
static void
test_imsgev_flush(void)
{
	struct event_base	*base;
	struct imsgev		 a;
	struct imsgbuf		 r;
	struct imsg		 imsg;
	int			 sv[2], got = 0;
	ssize_t			 n;

	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	xsocketpair(sv);
	imsgev_init(&a, base, sv[0], "a", NULL, NULL, NULL);
	imsgev_xcompose(&a, 7, 0, 0, -1, "hi", 2);
	is_int(a.events, EV_READ | EV_WRITE, "composed: EV_WRITE armed");
	imsgev_flush(&a);
	is_int(a.events, EV_READ, "flushed: EV_WRITE dropped");
	if (imsgbuf_init(&r, sv[1]) == -1)
		die("imsgbuf_init");
	n = imsgbuf_read(&r);
	if (n > 0 && imsg_get(&r, &imsg) == 1) {
		got = imsg.hdr.type == 7 &&
		    imsg.hdr.len == IMSG_HEADER_SIZE + 2;
		imsg_free(&imsg);
	}
	ok(got, "the frame is there before the loop ran");
	imsgev_flush(&a);
	is_int(a.events, EV_READ, "flushing an empty queue changes nothing");
	imsgbuf_clear(&r);
	close(sv[1]);
	imsgev_clear(&a);
	event_base_free(base);
}

int
main(void)
{
	int	 fds;

	fds = count_fds();
	test_roundtrip_sizes();
	test_many_per_read();
	test_stream_across_reads();
	test_split_frame();
	test_malformed();
	test_eof_midframe();
	test_fd_passing();
	test_fd_sequence(0);
	test_fd_sequence(1);
	test_fd_flood();
	test_fd_ctrunc();
	test_large_queue();
	test_fd_closed_early();
	test_write_epipe();
	test_compose_errors();
	test_ibuf_roundtrip();
	test_ibuf_errors();
	test_reader_fatal();
	test_imsgev_pingpong();
	test_imsgev_selfclear();
	test_imsgev_closed();
	test_imsgev_fd();
	test_imsgev_flush();
	is_int(count_fds(), fds, "no fd leaked overall");
	return done_testing();
}
