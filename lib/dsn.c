/*
 * dsn.c: the text of a delivery status notification (see dsn.h).
 *
 * Owns: nothing; a pure function of its arguments (and arc4random for
 * the MIME boundary).  Trusts: nothing in the strings it is given.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsn.h"

#define DSN_FIELD_MAX		600	/* one cleaned field */
#define DSN_BOUNDARY_SIZE	40
#define DSN_DATE_SIZE		64

void
dsn_clean(const char *src, char *dst, size_t dstsz)
{
	size_t	 i;

	if (dstsz == 0)
		return;
	for (i = 0; src[i] != '\0' && i + 1 < dstsz; i++)
		dst[i] = (unsigned char)src[i] >= ' ' &&
		    (unsigned char)src[i] <= '~' ? src[i] : '?';
	dst[i] = '\0';
}

/* The next code point of s, 0xFFFD for a byte that does not start one. */
static uint32_t
dsn_utf8_next(const unsigned char **sp)
{
	const unsigned char	*s = *sp;
	uint32_t		 c, min;
	int			 n, i;

	if (s[0] < 0x80) {
		*sp = s + 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 1;
		c = s[0] & 0x1f;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 2;
		c = s[0] & 0x0f;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 3;
		c = s[0] & 0x07;
		min = 0x10000;
	} else {
		*sp = s + 1;
		return 0xfffd;
	}
	for (i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*sp = s + 1;
			return 0xfffd;
		}
		c = c << 6 | (s[i] & 0x3f);
	}
	*sp = s + n + 1;
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0xfffd;
	return c;
}

static int
dsn_ascii_address(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s > '~')
			return 0;
	return 1;
}

int
dsn_address(const char *addr, char *dst, size_t dstsz)
{
	const unsigned char	*p = (const unsigned char *)addr;
	size_t			 o;
	uint32_t		 c;
	int			 n;

	if (dsn_ascii_address(addr)) {
		n = snprintf(dst, dstsz, "rfc822; %s", addr);
		return n < 0 || (size_t)n >= dstsz ? -1 : 0;
	}
	/* RFC 6533 3: utf-8-addr-xtext. */
	if (strlcpy(dst, "utf-8; ", dstsz) >= dstsz)
		return -1;
	o = strlen(dst);
	while (*p != '\0') {
		c = dsn_utf8_next(&p);
		if (c > ' ' && c < 0x7f && c != '\\' && c != '+' && c != '=')
			n = snprintf(dst + o, dstsz - o, "%c", (char)c);
		else
			n = snprintf(dst + o, dstsz - o, "\\x{%X}", c);
		if (n < 0 || (size_t)n >= dstsz - o)
			return -1;
		o += (size_t)n;
	}
	return 0;
}

static int
dsn_digits(const char *s, size_t max)
{
	size_t	 n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n >= 1 && n <= max ? (int)n : 0;
}

const char *
dsn_status(const char *reason, char *status, size_t statussz)
{
	const char	*p = reason;
	int		 n, m;

	(void)strlcpy(status, "5.0.0", statussz);
	if ((p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return reason;
	if ((n = dsn_digits(p + 2, 3)) == 0 || p[2 + n] != '.' ||
	    (m = dsn_digits(p + 3 + n, 3)) == 0)
		return reason;
	p += 3 + n + m;
	if (*p != ' ' && *p != '\0')
		return reason;
	if ((size_t)(p - reason) < statussz) {
		memcpy(status, reason, (size_t)(p - reason));
		status[p - reason] = '\0';
	}
	while (*p == ' ')
		p++;
	return p;
}

/* A recipient's Status by its action, and the reason's text after it. */
static const char *
dsn_rcpt_status(const struct dsn_rcpt *r, char *status, size_t statussz)
{
	const char	*rest;

	switch (r->action) {
	case DSN_DELIVERED:
		(void)strlcpy(status, "2.0.0", statussz);
		return "";
	case DSN_DELAYED:
		rest = dsn_status(r->reason, status, statussz);
		if (status[0] != '4')
			(void)strlcpy(status, "4.0.0", statussz);
		return rest;
	case DSN_FAILED:
		break;
	}
	return dsn_status(r->reason, status, statussz);
}

static const char *
dsn_action_name(enum dsn_action a)
{
	switch (a) {
	case DSN_DELAYED:
		return "delayed";
	case DSN_DELIVERED:
		return "delivered";
	case DSN_FAILED:
		break;
	}
	return "failed";
}

static size_t
dsn_count(const struct dsn_report *rep, enum dsn_action a)
{
	size_t	 i, n = 0;

	for (i = 0; i < rep->nrcpts; i++)
		if (rep->rcpts[i].action == a)
			n++;
	return n;
}

int
dsn_full(const struct dsn_report *rep)
{
	return rep->full && dsn_count(rep, DSN_FAILED) > 0;
}

static void
dsn_date(time_t t, char *buf, size_t sz)
{
	struct tm	 tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sz, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		(void)strlcpy(buf, "Thu, 01 Jan 1970 00:00:00 +0000", sz);
}

/* The original's header: up to its empty line, or its last full line. */
static size_t
dsn_header_len(const char *orig, size_t len)
{
	size_t	 i, last = 0;

	if (len > DSN_HEADER_MAX)
		len = DSN_HEADER_MAX;
	for (i = 0; i + 1 < len; i++) {
		if (orig[i] != '\r' || orig[i + 1] != '\n')
			continue;
		if (i == last)
			return last;	/* the empty line */
		last = i + 2;
	}
	return last;
}

static int
dsn_has_8bit(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

static void
dsn_boundary(char *buf, size_t sz, const char *orig, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 r[12];
	size_t			 i;
	int			 n;

	do {
		arc4random_buf(r, sizeof(r));
		n = snprintf(buf, sz, "=_postern_");
		for (i = 0; i < sizeof(r) && (size_t)n + 3 <= sz; i++) {
			buf[n++] = hex[r[i] >> 4];
			buf[n++] = hex[r[i] & 0xf];
		}
		buf[n] = '\0';
	} while (memmem(orig, len, buf, strlen(buf)) != NULL);
}

static void
dsn_headers(FILE *b, const struct dsn_report *rep,
    const char *boundary, int eightbit)
{
	char		 host[DSN_FIELD_MAX], date[DSN_DATE_SIZE];
	const char	*subject = "Successful Mail Delivery Report";

	if (dsn_count(rep, DSN_FAILED) > 0)
		subject = "Undelivered Mail Returned to Sender";
	else if (dsn_count(rep, DSN_DELAYED) > 0)
		subject = "Delayed Mail (still being retried)";
	dsn_clean(rep->hostname, host, sizeof(host));
	dsn_date(rep->now, date, sizeof(date));
	fprintf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
	    host);
	/* An address that is not plain ASCII cannot go into To: here. */
	if (dsn_ascii_address(rep->sender) && strchr(rep->sender, '<') ==
	    NULL && strchr(rep->sender, '>') == NULL)
		fprintf(b, "To: <%s>\r\n", rep->sender);
	else
		fprintf(b, "To: undisclosed-recipients:;\r\n");
	fprintf(b, "Subject: %s\r\n", subject);
	fprintf(b, "Date: %s\r\n", date);
	fprintf(b, "Message-ID: <%s.%s@%s>\r\n", rep->dsnid, rep->msgid,
	    host);
	fprintf(b, "Auto-Submitted: auto-replied\r\n");
	fprintf(b, "MIME-Version: 1.0\r\n");
	fprintf(b, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", boundary);
	fprintf(b, "Content-Transfer-Encoding: %s\r\n\r\n",
	    eightbit ? "8bit" : "7bit");
	fprintf(b, "This is a MIME-encapsulated message.\r\n\r\n");
}

/* What the human part says before listing the recipients of action a. */
static void
dsn_human_intro(FILE *b, const struct dsn_report *rep, enum dsn_action a,
    size_t n)
{
	const char	*whom = n == 1 ? "one recipient" : "these recipients";
	char		 until[DSN_DATE_SIZE];

	switch (a) {
	case DSN_FAILED:
		fprintf(b, "Your message could not be delivered to %s.\r\n"
		    "It has been given up; the report below says why.\r\n"
		    "\r\n", whom);
		break;
	case DSN_DELAYED:
		fprintf(b, "Your message has not yet been delivered to %s.\r\n"
		    "The mail system will keep trying", whom);
		if (rep->retry_until != 0) {
			dsn_date(rep->retry_until, until, sizeof(until));
			fprintf(b, " until %s", until);
		}
		fprintf(b, ".\r\nThere is no need to send it again.\r\n\r\n");
		break;
	case DSN_DELIVERED:
		fprintf(b, "Your message was delivered to %s.\r\n\r\n",
		    whom);
		break;
	}
}

static void
dsn_human_group(FILE *b, const struct dsn_report *rep, enum dsn_action a)
{
	const struct dsn_rcpt	*r;
	char			 addr[DSN_FIELD_MAX], why[DSN_FIELD_MAX];
	char			 status[16];
	const char		*rest;
	size_t			 i, n;

	if ((n = dsn_count(rep, a)) == 0)
		return;
	dsn_human_intro(b, rep, a, n);
	for (i = 0; i < rep->nrcpts; i++) {
		r = &rep->rcpts[i];
		if (r->action != a)
			continue;
		if (dsn_address(r->final, addr, sizeof(addr)) == -1)
			(void)strlcpy(addr, "rfc822; (too long)", sizeof(addr));
		rest = dsn_rcpt_status(r, status, sizeof(status));
		dsn_clean(rest, why, sizeof(why));
		/* addr starts with its type; people want the address. */
		fprintf(b, "<%s>: %s%s%s\r\n", strchr(addr, ' ') + 1,
		    status, why[0] != '\0' ? " " : "", why);
	}
	fprintf(b, "\r\n");
}

static void
dsn_human(FILE *b, const struct dsn_report *rep,
    const char *boundary)
{
	char	 host[DSN_FIELD_MAX];

	dsn_clean(rep->hostname, host, sizeof(host));
	fprintf(b, "--%s\r\nContent-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n", boundary);
	fprintf(b, "This is the mail system at %s.\r\n\r\n", host);
	dsn_human_group(b, rep, DSN_FAILED);
	dsn_human_group(b, rep, DSN_DELAYED);
	dsn_human_group(b, rep, DSN_DELIVERED);
}

static void
dsn_rcpt_fields(FILE *b, const struct dsn_report *rep,
    const struct dsn_rcpt *r, const char *date)
{
	char		 addr[DSN_FIELD_MAX], why[DSN_FIELD_MAX], status[16];
	char		 until[DSN_DATE_SIZE];
	const char	*rest;

	fprintf(b, "\r\n");
	if (r->orcpt[0] != '\0' && strchr(r->orcpt, ';') != NULL) {
		dsn_clean(r->orcpt, addr, sizeof(addr));
		fprintf(b, "Original-Recipient: %s\r\n", addr);
	}
	if (dsn_address(r->final, addr, sizeof(addr)) == -1)
		(void)strlcpy(addr, "rfc822; invalid", sizeof(addr));
	fprintf(b, "Final-Recipient: %s\r\n", addr);
	fprintf(b, "Action: %s\r\n", dsn_action_name(r->action));
	rest = dsn_rcpt_status(r, status, sizeof(status));
	fprintf(b, "Status: %s\r\n", status);
	if (*rest != '\0') {
		dsn_clean(rest, why, sizeof(why));
		fprintf(b, "Diagnostic-Code: X-Postern; %s\r\n", why);
	}
	fprintf(b, "Last-Attempt-Date: %s\r\n", date);
	if (r->action == DSN_DELAYED && rep->retry_until != 0) {
		dsn_date(rep->retry_until, until, sizeof(until));
		fprintf(b, "Will-Retry-Until: %s\r\n", until);
	}
}

static void
dsn_status_part(FILE *b, const struct dsn_report *rep,
    const char *boundary)
{
	char	 host[DSN_FIELD_MAX], envid[DSN_FIELD_MAX];
	char	 arrival[DSN_DATE_SIZE], now[DSN_DATE_SIZE];
	size_t	 i;

	dsn_clean(rep->hostname, host, sizeof(host));
	dsn_date(rep->arrival, arrival, sizeof(arrival));
	dsn_date(rep->now, now, sizeof(now));
	fprintf(b, "--%s\r\nContent-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n", boundary);
	fprintf(b, "Reporting-MTA: dns; %s\r\n", host);
	fprintf(b, "X-Postern-Queue-ID: %s\r\n", rep->msgid);
	if (rep->envid[0] != '\0') {
		dsn_clean(rep->envid, envid, sizeof(envid));
		fprintf(b, "Original-Envelope-Id: %s\r\n", envid);
	}
	fprintf(b, "Arrival-Date: %s\r\n", arrival);
	for (i = 0; i < rep->nrcpts; i++)
		dsn_rcpt_fields(b, rep, &rep->rcpts[i], now);
	fprintf(b, "\r\n");
}

static void
dsn_original(FILE *b, const struct dsn_report *rep,
    const char *boundary, const char *orig, size_t len)
{
	const char	*what = dsn_count(rep, DSN_FAILED) > 0 ?
			    "Undelivered Message" : "Message";
	int		 eightbit = dsn_has_8bit(orig, len);

	if (dsn_full(rep))
		fprintf(b, "--%s\r\nContent-Description: %s\r\n"
		    "Content-Type: message/rfc822\r\n", boundary, what);
	else
		fprintf(b, "--%s\r\nContent-Description: %s Headers\r\n"
		    "Content-Type: text/rfc822-headers\r\n", boundary, what);
	if (eightbit)
		fprintf(b, "Content-Transfer-Encoding: 8bit\r\n");
	fprintf(b, "\r\n");
	if (len > 0)
		(void)fwrite(orig, 1, len, b);
	if (len < 2 || orig[len - 2] != '\r' || orig[len - 1] != '\n')
		fprintf(b, "\r\n");
	fprintf(b, "\r\n--%s--\r\n", boundary);
}

char *
dsn_build(const struct dsn_report *rep, const char *orig, size_t origlen,
    size_t *len)
{
	FILE	*b;
	char	 boundary[DSN_BOUNDARY_SIZE], *p = NULL;
	size_t	 sz = 0;
	int	 bad;

	if (rep->nrcpts == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (!dsn_full(rep))
		origlen = dsn_header_len(orig, origlen);
	dsn_boundary(boundary, sizeof(boundary), orig, origlen);
	if ((b = open_memstream(&p, &sz)) == NULL)
		return NULL;
	dsn_headers(b, rep, boundary, dsn_has_8bit(orig, origlen));
	dsn_human(b, rep, boundary);
	dsn_status_part(b, rep, boundary);
	dsn_original(b, rep, boundary, orig, origlen);
	bad = ferror(b);
	if (fclose(b) == EOF || bad) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	*len = sz;
	return p;
}
