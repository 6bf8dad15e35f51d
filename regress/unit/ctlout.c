/*
 * Unit tests for lib/ctlout.c: a relayed request is decoded (ctlid,
 * argv, flags), output is sent in chunks below the imsg limit that
 * reassemble to what was printed, an error flushes pending output first,
 * and the end frame carries the ctlid and the status; every frame type
 * follows from the output type given.  A JSON string escapes quotes,
 * backslashes and control characters and keeps well-formed UTF-8 only.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "control.h"
#include "ctlout.h"
#include "imsg.h"
#include "imsgev.h"
#include "proto.h"
#include "tap.h"

static void
die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(2);
}

static void
handler(struct imsgev *iev, struct imsg *imsg)
{
}

struct frames {
	uint32_t	 type[64];
	uint32_t	 ctlid[64];
	size_t		 len[64];
	int		 n;
	char		*out;		/* output frames, joined */
	size_t		 outlen;
	char		 err[600];
	uint32_t	 status;
};

static void
collect(int fd, struct frames *f)
{
	struct imsgbuf	 ib;
	struct imsg	 m;
	ssize_t		 n;
	int		 done = 0;

	memset(f, 0, sizeof(*f));
	if ((f->out = malloc(256 * 1024)) == NULL ||
	    imsgbuf_init(&ib, fd) == -1)
		die("collect");
	while (!done) {
		if ((n = imsgbuf_read(&ib)) == -1 && errno != EAGAIN)
			die("read");
		if (n == 0)
			break;
		while (imsg_get(&ib, &m) == 1) {
			if (f->n < 64) {
				f->type[f->n] = m.hdr.type;
				memcpy(&f->ctlid[f->n], m.data, 4);
				f->len[f->n] = m.datalen;
				f->n++;
			}
			if (m.hdr.type == IMSG_AUTH_CTL_OUTPUT) {
				/* u32 ctlid, u32 length, text */
				memcpy(f->out + f->outlen, (char *)m.data + 8,
				    m.datalen - 8);
				f->outlen += m.datalen - 8;
			} else if (m.hdr.type == IMSG_AUTH_CTL_ERROR)
				(void)snprintf(f->err, sizeof(f->err), "%.*s",
				    (int)(m.datalen - 8), (char *)m.data + 8);
			else if (m.hdr.type == IMSG_AUTH_CTL_END) {
				memcpy(&f->status, (char *)m.data + 4, 4);
				done = 1;
			}
			imsg_free(&m);
		}
	}
	imsgbuf_clear(&ib);
}

/* A request for ctl_out_begin: u32 ctlid, then the encoded words. */
static void
request(struct ibuf *ib, struct imsg *in, uint32_t id, int flags)
{
	char	*argv[] = { "user", "show", "a@b.example" };

	ibuf_init(ib);
	ibuf_add_u32(ib, id);
	if (ctl_request_encode(ib, flags, 3, argv) == -1)
		die("encode");
	memset(in, 0, sizeof(*in));
	in->hdr.type = IMSG_AUTH_CTL;
	in->data = ib->data;
	in->datalen = ib->len;
}

static const struct {
	const char	*in;
	const char	*want;
	const char	*what;
} json_cases[] = {
	{ "plain", "\"plain\"", "ASCII as it is" },
	{ "a\"b\\c", "\"a\\\"b\\\\c\"", "quote and backslash escaped" },
	{ "\t\r\n\x01\x7f", "\"\\u0009\\u000d\\u000a\\u0001\\u007f\"",
	    "control characters as \\u00XX" },
	{ "caf\xc3\xa9 \xf0\x9f\x93\xa8", "\"caf\xc3\xa9 \xf0\x9f\x93\xa8\"",
	    "well-formed UTF-8 kept" },
	{ "\x80x", "\"\\ufffdx\"", "a lone continuation byte replaced" },
	{ "\xc0\x80", "\"\\ufffd\\ufffd\"", "an overlong NUL replaced" },
	{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"", "a surrogate replaced" },
	{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
	    "past U+10FFFF replaced" },
	{ "\xe2\x82", "\"\\ufffd\\ufffd\"",
	    "a cut sequence replaced, no overread" },
};

static void
test_json_str(struct imsgev *iev, int peer)
{
	struct ctl_request	 req;
	struct ctl_out		 o;
	struct frames		 f;
	struct imsg		 in;
	struct ibuf		 ib;
	size_t			 i;
	char			 got[256];

	for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		request(&ib, &in, 5, 0);
		ctl_out_begin(&o, iev, &in, IMSG_AUTH_CTL_OUTPUT, &req);
		ctl_request_free(&req);
		ibuf_free(&ib);
		ctl_out_json_str(&o, json_cases[i].in);
		ctl_out_end(&o, 0);
		if (imsgbuf_flush(&iev->ibuf) == -1)
			die("flush");
		collect(peer, &f);
		(void)snprintf(got, sizeof(got), "%.*s", (int)f.outlen, f.out);
		is_str(got, json_cases[i].want, "json: %s", json_cases[i].what);
		free(f.out);
	}
}

int
main(void)
{
	struct event_base	*base;
	struct imsgev		 iev;
	struct ctl_request	 req;
	struct ctl_out		 o;
	struct frames		 f;
	struct imsg		 in;
	struct ibuf		 ib;
	char			*want, line[80];
	uint32_t		 id = 77;
	size_t			 i, wantlen = 0, maxlen = 0;
	int			 sv[2], chunks = 0, ids = 1;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    (base = event_base_new()) == NULL)
		die("setup");
	memset(&iev, 0, sizeof(iev));
	imsgev_init(&iev, base, sv[0], "test", handler, NULL, NULL);

	request(&ib, &in, id, CTL_FLAG_JSON);
	ctl_out_begin(&o, &iev, &in, IMSG_AUTH_CTL_OUTPUT, &req);
	ok(o.ctlid == id, "the ctlid is taken from the frame");
	ok(o.json, "CTL_FLAG_JSON is seen");
	ok(req.argc == 3 && strcmp(req.argv[2], "a@b.example") == 0,
	    "the request's words are decoded");
	ctl_request_free(&req);
	ibuf_free(&ib);

	/* 70 KB of numbered lines: more than one chunk */
	if ((want = malloc(128 * 1024)) == NULL)
		die("malloc");
	for (i = 0; wantlen < 70 * 1024; i++) {
		int n = snprintf(line, sizeof(line), "line %zu of the output\n",
		    i);
		ctl_out_printf(&o, "line %zu of the output\n", i);
		memcpy(want + wantlen, line, n);
		wantlen += n;
	}
	ctl_out_printf(&o, "%s", "pending before the error\n");
	memcpy(want + wantlen, "pending before the error\n", 25);
	wantlen += 25;
	ctl_out_error(&o, "it went %s", "wrong");
	ctl_out_end(&o, 3);
	if (imsgbuf_flush(&iev.ibuf) == -1)
		die("flush");
	collect(sv[1], &f);

	for (i = 0; i < (size_t)f.n; i++) {
		if (f.type[i] == IMSG_AUTH_CTL_OUTPUT)
			chunks++;
		if (f.len[i] > maxlen)
			maxlen = f.len[i];
		if (f.ctlid[i] != id)
			ids = 0;
	}
	ok(chunks >= 2, "the output went in %d chunks", chunks);
	ok(maxlen < 60 * 1024, "each frame below 60 KB (%zu)", maxlen);
	ok(ids, "every frame starts with the ctlid");
	ok(f.outlen == wantlen && memcmp(f.out, want, wantlen) == 0,
	    "the chunks reassemble to what was printed");
	ok(f.n >= 2 && f.type[f.n - 2] == IMSG_AUTH_CTL_ERROR &&
	    f.type[f.n - 3] == IMSG_AUTH_CTL_OUTPUT,
	    "the error comes after the output printed before it");
	is_str(f.err, "it went wrong", "the error text");
	ok(f.type[f.n - 1] == IMSG_AUTH_CTL_END && f.status == 3,
	    "the end frame carries the status");
	free(want);
	free(f.out);

	test_json_str(&iev, sv[1]);
	imsgev_clear(&iev);
	event_base_free(base);
	close(sv[1]);
	return done_testing();
}
