/*
 * dsn.h: the text of a delivery status notification (RFC 3464) that
 * reports to a message's sender what became of some of its recipients,
 * for the queue role: failed (given up), delayed (still being retried)
 * or delivered (into the recipient's mailbox, RFC 3461's NOTIFY=SUCCESS).
 *
 * The result is a multipart/report; report-type=delivery-status
 * message (RFC 6522) with three parts: a human-readable text/plain, a
 * message/delivery-status with one block per recipient, and the
 * original message's header (text/rfc822-headers) or, when full is set
 * and a recipient failed, the whole of it (message/rfc822): RFC 3461
 * 4.3 returns the content only with a failure, a DSN without one gets
 * the header whatever RET said.  Lines end in CRLF, as in the spool.
 *
 * Everything that came from outside (addresses, the failure reasons,
 * ENVID, ORCPT, the host name) is reduced to printable ASCII before it
 * goes into a header or a report field: an address that is not ASCII
 * becomes RFC 6533's utf-8 address type with \x{HEX} escapes, any other
 * byte outside ' '..'~' becomes '?'.  The original header is copied
 * as it is (it was accepted by smtp: CRLF lines of at most 1000 octets)
 * and declared 8bit when it holds 8-bit bytes.
 *
 * A reason may start with an enhanced status code ("5.2.0 text",
 * RFC 3463): it becomes the recipient's Status and the rest its
 * Diagnostic-Code.  A failed recipient's reason without one has Status
 * 5.0.0; a delayed one's Status is always 4.x.x (4.0.0 unless its
 * reason has a code of class 4); a delivered one's is 2.0.0, and its
 * reason is not used.
 */

#ifndef POSTERN_DSN_H
#define POSTERN_DSN_H

#include <stddef.h>
#include <time.h>

#define DSN_HEADER_MAX	(64 * 1024)	/* original header copied */
#define DSN_FULL_MAX	(2 * 1024 * 1024) /* RET=FULL up to this */

/* What became of a recipient: RFC 3464 2.3.3's Action. */
enum dsn_action {
	DSN_FAILED,			/* given up */
	DSN_DELAYED,			/* not yet delivered, still tried */
	DSN_DELIVERED,			/* in its mailbox */
};

struct dsn_rcpt {
	const char	*final;		/* the recipient as accepted */
	const char	*orcpt;		/* ORCPT "type;address", or "" */
	const char	*reason;	/* "x.y.z text", or text */
	enum dsn_action	 action;
};

struct dsn_report {
	const char		*hostname;	/* Reporting-MTA */
	const char		*msgid;		/* original's queue id */
	const char		*dsnid;		/* the DSN's queue id */
	const char		*envid;		/* ENVID, or "" */
	const char		*sender;	/* original sender: To */
	time_t			 arrival;
	time_t			 now;
	time_t			 retry_until;	/* delayed ones: until, or 0 */
	int			 full;		/* orig: all of it (RET=FULL) */
	const struct dsn_rcpt	*rcpts;
	size_t			 nrcpts;
};

/*
 * Builds the DSN from the report and orig, the first origlen bytes of
 * the original message (the whole message when dsn_full says so; else
 * at least its header, which is cut at the first empty line, or at the
 * last complete line within DSN_HEADER_MAX).  Returns a malloc'd
 * buffer (free it) and its length, or NULL (ENOMEM, or EINVAL for a
 * report without recipients).
 */
char	*dsn_build(const struct dsn_report *, const char *orig,
	    size_t origlen, size_t *len);
/* Whether the DSN carries the whole original: full, and a failure. */
int	 dsn_full(const struct dsn_report *);

/* The pieces, exposed for the tests. */
/* A reason's status code into status (at least 12 bytes) and the rest. */
const char *dsn_status(const char *reason, char *status, size_t);
/* "rfc822;addr" or "utf-8;addr-with-escapes": 0, or -1 if too long. */
int	 dsn_address(const char *addr, char *dst, size_t dstsz);
/* Printable ASCII, every other byte '?', cut to fit. */
void	 dsn_clean(const char *src, char *dst, size_t dstsz);

#endif /* POSTERN_DSN_H */
