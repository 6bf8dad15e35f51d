/*
 * Unit tests for lib/dsn.c: the MIME structure of a DSN, its headers and
 * report fields, the original header or message it carries, and that
 * nothing from outside reaches it unclean (control bytes, CR/LF, 8-bit
 * addresses, overlong fields); delivered and delayed recipients, alone
 * and with failed ones, and RET=FULL only where something failed.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "tap.h"

#define ORIG	"Received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000\r\n" \
		"From: Alice <alice@example.org>\r\n" \
		"Subject: hello\r\n" \
		"\r\n" \
		"the secret body\r\n"

static struct dsn_rcpt	 rcpts[] = {
	{ "bob@example.org", "", "5.2.0 bob: symbolic link refused",
	    DSN_FAILED },
	{ "carol@example.org", "rfc822;Carol@Example.ORG",
	    "4.4.7 expired after 3 attempts: tmp: Permission denied",
	    DSN_FAILED },
};

static void
report(struct dsn_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->hostname = "mx.example.org";
	rep->msgid = "0123456789abcdef";
	rep->dsnid = "fedcba9876543210";
	rep->envid = "";
	rep->sender = "alice@example.org";
	rep->arrival = 1700000000;
	rep->now = 1700000100;
	rep->rcpts = rcpts;
	rep->nrcpts = 2;
}

static char *
build(const struct dsn_report *rep, const char *orig, size_t *len)
{
	char	*s;

	if ((s = dsn_build(rep, orig, strlen(orig), len)) == NULL) {
		perror("dsn_build");
		exit(2);
	}
	return s;
}

/* Every line ends in CRLF, is at most 998 octets, no bare CR or LF. */
static int
lines_ok(const char *s, size_t len)
{
	size_t	 i, start = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n'))
			return 0;
		if (s[i] == '\n') {
			if (i == 0 || s[i - 1] != '\r' || i - start > 999)
				return 0;
			start = i + 1;
		}
	}
	return start == len;
}

/* The boundary named in the top-level Content-Type. */
static void
boundary_of(const char *s, char *b, size_t sz)
{
	const char	*p, *e;

	b[0] = '\0';
	if ((p = strstr(s, "boundary=\"")) == NULL)
		return;
	p += 10;
	if ((e = strchr(p, '"')) == NULL || (size_t)(e - p) >= sz)
		return;
	memcpy(b, p, (size_t)(e - p));
	b[e - p] = '\0';
}

static int
count(const char *s, const char *needle)
{
	int	 n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

static void
test_structure(void)
{
	struct dsn_report	 rep;
	char			*s, b[64], delim[80], *body;
	size_t			 len;

	report(&rep);
	s = build(&rep, ORIG, &len);
	ok(lines_ok(s, len), "CRLF lines of at most 998 octets");
	ok(strstr(s, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"") != NULL,
	    "multipart/report; report-type=delivery-status");
	boundary_of(s, b, sizeof(b));
	ok(strlen(b) > 10, "a boundary (%s)", b);
	(void)snprintf(delim, sizeof(delim), "\r\n--%s\r\n", b);
	is_int(count(s, delim), 3, "three parts");
	(void)snprintf(delim, sizeof(delim), "\r\n--%s--\r\n", b);
	ok(len > strlen(delim) && strcmp(s + len - strlen(delim), delim) == 0,
	    "closed by the final delimiter");
	ok(strncmp(s, "From: Mail Delivery System <MAILER-DAEMON@"
	    "mx.example.org>\r\n", 57) == 0, "From MAILER-DAEMON");
	ok(strstr(s, "\r\nTo: <alice@example.org>\r\n") != NULL,
	    "To the original sender");
	ok(strstr(s, "\r\nAuto-Submitted: auto-replied\r\n") != NULL,
	    "Auto-Submitted");
	ok(strstr(s, "\r\nMIME-Version: 1.0\r\n") != NULL, "MIME-Version");
	ok(strstr(s, "\r\nMessage-ID: <fedcba9876543210.0123456789abcdef@"
	    "mx.example.org>\r\n") != NULL, "Message-ID");
	ok(strstr(s, "Content-Type: text/plain; charset=us-ascii\r\n") !=
	    NULL, "a human-readable part");
	ok(strstr(s, "Content-Type: message/delivery-status\r\n\r\n"
	    "Reporting-MTA: dns; mx.example.org\r\n") != NULL,
	    "message/delivery-status starts with Reporting-MTA");
	ok(strstr(s, "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n") !=
	    NULL, "Arrival-Date");
	ok(strstr(s, "\r\n\r\nFinal-Recipient: rfc822; bob@example.org\r\n"
	    "Action: failed\r\nStatus: 5.2.0\r\nDiagnostic-Code: X-Postern; "
	    "bob: symbolic link refused\r\n") != NULL,
	    "the first recipient's block");
	ok(strstr(s, "\r\n\r\nOriginal-Recipient: rfc822;Carol@Example.ORG\r\n"
	    "Final-Recipient: rfc822; carol@example.org\r\nAction: failed\r\n"
	    "Status: 4.4.7\r\n") != NULL,
	    "the second, with Original-Recipient from ORCPT");
	is_int(count(s, "Original-Recipient:"), 1, "Original-Recipient only "
	    "where ORCPT was given");
	ok(strstr(s, "Original-Envelope-Id") == NULL, "no ENVID, no field");
	ok(strstr(s, "Content-Type: text/rfc822-headers\r\n\r\nReceived: "
	    "from x") != NULL, "the original header follows");
	ok(strstr(s, "Subject: hello\r\n") != NULL, "all of it");
	ok(strstr(s, "the secret body") == NULL, "but not the body");
	ok(strstr(s, "<bob@example.org>: 5.2.0 bob: symbolic link refused") !=
	    NULL, "the human part names the recipient and the reason");
	ok(strstr(s, "8bit") == NULL, "7bit when it is all ASCII");
	body = strstr(s, "\r\n\r\n");
	ok(body != NULL && strstr(s, "Content-Transfer-Encoding: 7bit") <
	    body, "declared 7bit in the header");
	free(s);

	rep.full = 1;
	rep.envid = "QQ314159";
	s = build(&rep, ORIG, &len);
	ok(strstr(s, "Content-Type: message/rfc822\r\n\r\nReceived:") != NULL &&
	    strstr(s, "the secret body\r\n") != NULL, "RET=FULL: the whole "
	    "message as message/rfc822");
	ok(strstr(s, "Original-Envelope-Id: QQ314159\r\n") != NULL,
	    "ENVID as Original-Envelope-Id");
	free(s);
}

static void
test_hostile(void)
{
	struct dsn_report	 rep;
	struct dsn_rcpt		 r;
	char			*s, longaddr[300], orig[200];
	size_t			 len, i;
	int			 clean = 1;

	report(&rep);
	memset(&r, 0, sizeof(r));
	r.final = "b\xc3\xa9" "b+x@ex\xffmple.org";
	r.orcpt = "rfc822;x\r\nBcc: evil@example.net";
	r.reason = "5.1.1 remote said \x1b[31m\r\nX-Injected: yes\xc3\xa9";
	rep.rcpts = &r;
	rep.nrcpts = 1;
	rep.sender = "\xe2\x82\xac@example.org";
	rep.envid = "id\r\nX-Evil: 1";
	rep.hostname = "mx\r\n.example.org";
	s = build(&rep, ORIG, &len);
	ok(lines_ok(s, len), "still only CRLF lines");
	ok(strstr(s, "\r\nX-Injected") == NULL && strstr(s, "\r\nBcc:") ==
	    NULL && strstr(s, "\r\nX-Evil") == NULL, "no header injected by "
	    "a reason, an ORCPT or an ENVID");
	ok(strstr(s, "Final-Recipient: utf-8; b\\x{E9}b\\x{2B}x@ex\\x{FFFD}"
	    "mple.org\r\n") != NULL, "an 8-bit address becomes utf-8 type "
	    "with escapes (and a bad byte U+FFFD)");
	ok(strstr(s, "Diagnostic-Code: X-Postern; remote said ?[31m??"
	    "X-Injected: yes??\r\n") != NULL, "the reason is printable ASCII");
	ok(strstr(s, "To: undisclosed-recipients:;\r\n") != NULL,
	    "a non-ASCII sender is not written into To:");
	ok(strstr(s, "Reporting-MTA: dns; mx??.example.org\r\n") != NULL,
	    "the host name is cleaned too");
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			clean = 0;
	ok(clean, "no 8-bit byte in the whole DSN");
	free(s);

	memset(longaddr, 'a', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	memcpy(longaddr + sizeof(longaddr) - 14, "@example.org", 12);
	r.final = longaddr;
	r.orcpt = "";
	r.reason = "no status code here";
	rep.sender = "<x>@example.org";
	rep.envid = "";
	s = build(&rep, ORIG, &len);
	ok(lines_ok(s, len) && strstr(s, longaddr) != NULL,
	    "a long address fits on its line");
	ok(strstr(s, "Status: 5.0.0\r\nDiagnostic-Code: X-Postern; no status "
	    "code here\r\n") != NULL, "a reason without a code is 5.0.0");
	ok(strstr(s, "To: <<x>") == NULL, "angle brackets never nest in To:");
	free(s);

	(void)snprintf(orig, sizeof(orig), "Subject: caf\xc3\xa9\r\n\r\nb\r\n");
	s = build(&rep, orig, &len);
	ok(strstr(s, "Content-Type: text/rfc822-headers\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n") != NULL &&
	    strstr(s, "Content-Transfer-Encoding: 8bit\r\n\r\nThis is") != NULL,
	    "an 8-bit original header is declared 8bit, part and message");
	free(s);

	rep.nrcpts = 0;
	ok(dsn_build(&rep, ORIG, strlen(ORIG), &len) == NULL,
	    "no recipients, no DSN");
}

static void
test_header_cut(void)
{
	struct dsn_report	 rep;
	char			*s, *big;
	size_t			 len, i, n = DSN_HEADER_MAX + 5000;

	report(&rep);
	/* A header without an empty line, longer than the limit. */
	if ((big = malloc(n + 1)) == NULL)
		exit(2);
	for (i = 0; i + 100 <= n; i += 100) {
		memset(big + i, 'h', 98);
		memcpy(big + i, "X-H: ", 5);
		big[i + 98] = '\r';
		big[i + 99] = '\n';
	}
	big[i] = '\0';
	if ((s = dsn_build(&rep, big, strlen(big), &len)) == NULL)
		exit(2);
	ok(lines_ok(s, len), "an overlong header is cut at a line end");
	ok(len < DSN_HEADER_MAX + 4096, "and at the limit");
	free(s);
	free(big);
}

static void
test_status(void)
{
	char		 st[16];
	const char	*rest;

	rest = dsn_status("5.1.1 no such user", st, sizeof(st));
	ok(strcmp(st, "5.1.1") == 0 && strcmp(rest, "no such user") == 0,
	    "5.1.1 split from its text");
	rest = dsn_status("4.4.7", st, sizeof(st));
	ok(strcmp(st, "4.4.7") == 0 && *rest == '\0', "a bare code");
	rest = dsn_status("5.1234.1 x", st, sizeof(st));
	ok(strcmp(st, "5.0.0") == 0 && strcmp(rest, "5.1234.1 x") == 0,
	    "four digits are not a code");
	rest = dsn_status("3.1.1 x", st, sizeof(st));
	ok(strcmp(st, "5.0.0") == 0, "class 3 is not a code");
	rest = dsn_status("5.1.1x", st, sizeof(st));
	ok(strcmp(st, "5.0.0") == 0, "a code must end at a space");
	rest = dsn_status("", st, sizeof(st));
	ok(strcmp(st, "5.0.0") == 0 && *rest == '\0', "empty");
}

/* The DSN's lines are CRLF and its Subject is subject. */
static void
lines_and_subject(const char *s, size_t len, const char *what,
    const char *subject)
{
	char	 want[128];

	ok(lines_ok(s, len), "%s: CRLF lines", what);
	(void)snprintf(want, sizeof(want), "\r\nSubject: %s\r\n", subject);
	ok(strstr(s, want) != NULL, "%s: Subject %s", what, subject);
}

/* The text between the first "needle" and the next empty line. */
static char *
block_of(const char *s, const char *needle)
{
	static char	 buf[1024];
	const char	*p, *e;

	buf[0] = '\0';
	if ((p = strstr(s, needle)) == NULL)
		return buf;
	if ((e = strstr(p, "\r\n\r\n")) == NULL || (size_t)(e - p) >= sizeof(buf))
		return buf;
	memcpy(buf, p, (size_t)(e - p));
	buf[e - p] = '\0';
	return buf;
}

static void
test_delivered(void)
{
	struct dsn_report	 rep;
	struct dsn_rcpt		 r[2] = {
		{ "bob@example.org", "rfc822;Bob@example.org",
		    "4.2.0 an old failure", DSN_DELIVERED },
		{ "carol@example.org", "", "", DSN_DELIVERED },
	};
	char			*s, b[64], delim[80];
	size_t			 len;

	report(&rep);
	rep.rcpts = r;
	rep.nrcpts = 2;
	rep.full = 1;
	rep.envid = "SUCC-1";
	rep.retry_until = 1700432000;
	ok(!dsn_full(&rep), "RET=FULL without a failure: not full");
	s = build(&rep, ORIG, &len);
	lines_and_subject(s, len, "delivered",
	    "Successful Mail Delivery Report");
	boundary_of(s, b, sizeof(b));
	(void)snprintf(delim, sizeof(delim), "\r\n--%s\r\n", b);
	is_int(count(s, delim), 3, "delivered: three parts");
	is_str(block_of(s, "Original-Recipient: rfc822;Bob"),
	    "Original-Recipient: rfc822;Bob@example.org\r\n"
	    "Final-Recipient: rfc822; bob@example.org\r\n"
	    "Action: delivered\r\nStatus: 2.0.0\r\n"
	    "Last-Attempt-Date: Tue, 14 Nov 2023 22:15:00 +0000",
	    "delivered: Action delivered, Status 2.0.0, no Diagnostic-Code, "
	    "no Will-Retry-Until");
	is_str(block_of(s, "Final-Recipient: rfc822; carol"),
	    "Final-Recipient: rfc822; carol@example.org\r\n"
	    "Action: delivered\r\nStatus: 2.0.0\r\n"
	    "Last-Attempt-Date: Tue, 14 Nov 2023 22:15:00 +0000",
	    "delivered: the second recipient in the same DSN");
	ok(strstr(s, "Original-Envelope-Id: SUCC-1\r\n") != NULL,
	    "delivered: Original-Envelope-Id");
	ok(strstr(s, "Your message was delivered to these recipients.\r\n"
	    "\r\n<bob@example.org>: 2.0.0\r\n<carol@example.org>: 2.0.0\r\n")
	    != NULL, "delivered: the human part lists both");
	ok(strstr(s, "could not be delivered") == NULL &&
	    strstr(s, "not yet") == NULL, "delivered: says nothing else");
	ok(strstr(s, "Content-Description: Message Headers\r\n"
	    "Content-Type: text/rfc822-headers\r\n\r\nReceived:") != NULL,
	    "delivered: the header, not \"undelivered\"");
	ok(strstr(s, "the secret body") == NULL &&
	    strstr(s, "message/rfc822") == NULL,
	    "delivered: no body even for RET=FULL (RFC 3461 4.3)");
	free(s);
}

static void
test_delayed(void)
{
	struct dsn_report	 rep;
	struct dsn_rcpt		 r[3] = {
		{ "dave@example.org", "", "tmp: Permission denied",
		    DSN_DELAYED },
		{ "erin@example.org", "", "4.2.2 mailbox full",
		    DSN_DELAYED },
		{ "frank@example.org", "", "5.1.1 what a code", DSN_DELAYED },
	};
	char			*s;
	size_t			 len;

	report(&rep);
	rep.rcpts = r;
	rep.nrcpts = 3;
	rep.full = 1;
	rep.retry_until = 1700432000;
	s = build(&rep, ORIG, &len);
	lines_and_subject(s, len, "delayed",
	    "Delayed Mail (still being retried)");
	is_str(block_of(s, "Final-Recipient: rfc822; dave"),
	    "Final-Recipient: rfc822; dave@example.org\r\n"
	    "Action: delayed\r\nStatus: 4.0.0\r\n"
	    "Diagnostic-Code: X-Postern; tmp: Permission denied\r\n"
	    "Last-Attempt-Date: Tue, 14 Nov 2023 22:15:00 +0000\r\n"
	    "Will-Retry-Until: Sun, 19 Nov 2023 22:13:20 +0000",
	    "delayed: Action delayed, 4.0.0 without a code, Will-Retry-Until");
	ok(strstr(s, "Action: delayed\r\nStatus: 4.2.2\r\n"
	    "Diagnostic-Code: X-Postern; mailbox full\r\n") != NULL,
	    "delayed: a 4.x.x code of the reason is its Status");
	ok(strstr(s, "Action: delayed\r\nStatus: 4.0.0\r\n"
	    "Diagnostic-Code: X-Postern; what a code\r\n") != NULL,
	    "delayed: never a 5.x.x Status");
	ok(strstr(s, "not yet been delivered to these recipients.\r\nThe "
	    "mail system will keep trying until Sun, 19 Nov 2023 22:13:20 "
	    "+0000.\r\n") != NULL, "delayed: the human part says until when");
	ok(strstr(s, "text/rfc822-headers") != NULL &&
	    strstr(s, "the secret body") == NULL,
	    "delayed: the header only, even for RET=FULL");
	free(s);

	rep.retry_until = 0;
	rep.nrcpts = 1;
	s = build(&rep, ORIG, &len);
	ok(strstr(s, "Will-Retry-Until") == NULL && strstr(s,
	    "will keep trying.\r\n") != NULL, "delayed: no until, none said");
	free(s);
}

static void
test_mixed(void)
{
	struct dsn_report	 rep;
	struct dsn_rcpt		 r[3] = {
		{ "carol@example.org", "", "", DSN_DELIVERED },
		{ "bob@example.org", "", "5.2.0 no such mailbox", DSN_FAILED },
		{ "dave@example.org", "", "tmp: full", DSN_DELAYED },
	};
	char			*s, *f, *d, *l;
	size_t			 len;

	report(&rep);
	rep.rcpts = r;
	rep.nrcpts = 3;
	rep.full = 1;
	ok(dsn_full(&rep), "RET=FULL with a failure: full");
	s = build(&rep, ORIG, &len);
	lines_and_subject(s, len, "mixed: a failure decides",
	    "Undelivered Mail Returned to Sender");
	f = strstr(s, "could not be delivered to one recipient");
	d = strstr(s, "not yet been delivered to one recipient");
	l = strstr(s, "was delivered to one recipient");
	ok(f != NULL && d != NULL && l != NULL && f < d && d < l,
	    "mixed: failed, delayed, delivered in the human part");
	ok(strstr(s, "Final-Recipient: rfc822; carol@example.org\r\n"
	    "Action: delivered\r\n") < strstr(s, "Final-Recipient: rfc822; "
	    "bob@example.org\r\nAction: failed\r\n"),
	    "mixed: the report keeps the given order");
	ok(strstr(s, "Action: delayed\r\n") != NULL, "mixed: and the delayed");
	ok(strstr(s, "Content-Description: Undelivered Message\r\n"
	    "Content-Type: message/rfc822\r\n") != NULL &&
	    strstr(s, "the secret body\r\n") != NULL,
	    "mixed: RET=FULL returns the whole message");
	free(s);
}

int
main(void)
{
	test_structure();
	test_delivered();
	test_delayed();
	test_mixed();
	test_hostile();
	test_header_cut();
	test_status();
	return done_testing();
}
