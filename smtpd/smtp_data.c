/*
 * smtp_data.c: the message text of an SMTP session, from DATA or BDAT
 * into the queue file the queue process created for it.
 *
 * Owns: the session's write buffer and the queue file's fd until commit.
 * Rules: the end of DATA is only <CRLF>.<CRLF>.  A bare LF or a bare CR
 * anywhere in the message makes it refused (554 5.6.11) once its end is
 * reached; reading on until a real <CRLF>.<CRLF> means that whatever an
 * attacker hid behind a bare-LF "end" stays inside the refused message
 * and is never taken as commands or as a second message (SMTP
 * smuggling).  Lines are limited to 1000 octets (RFC 5321 4.5.3.1.6),
 * the size to limits.message_size, Received: headers to 100 (a loop).
 * For an authenticated user the From: header is kept (unfolded) for the
 * sender check at the end (smtp_sender.c).
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"
#include "posternd.h"
#include "smtp.h"

static void
smtp_msg_flush(struct smtp_session *s)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < s->wlen && s->msgerr != SMTP_MSG_IOERR) {
		n = write(s->msgfd, s->wbuf + off, s->wlen - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("session %016llx: queue file %s",
			    (unsigned long long)s->id, s->msgid);
			s->msgerr = SMTP_MSG_IOERR;
			break;
		}
		off += n;
		s->written += n;
	}
	/*
	 * The queue records the message's SHA-256 from this, instead of
	 * reading the file back in its event loop.  Bytes written are
	 * hashed; a write error ends the message anyway.
	 */
	if (s->msgerr != SMTP_MSG_IOERR &&
	    EVP_DigestUpdate(s->sumctx, s->wbuf, s->wlen) != 1)
		s->msgerr = SMTP_MSG_IOERR;
	s->wlen = 0;
}

static void
smtp_msg_write(struct smtp_session *s, const void *data, size_t len)
{
	size_t	 n;

	s->msgsize += len;
	if (s->msgsize > smtp_conf()->limits.message_size &&
	    s->msgerr == SMTP_MSG_OK)
		s->msgerr = SMTP_MSG_TOO_BIG;
	if (s->msgerr != SMTP_MSG_OK)
		return;		/* refused at the end; stop writing now */
	while (len > 0) {
		n = SMTP_WBUF_SIZE - s->wlen;
		if (n > len)
			n = len;
		memcpy(s->wbuf + s->wlen, data, n);
		s->wlen += n;
		data = (const char *)data + n;
		len -= n;
		if (s->wlen == SMTP_WBUF_SIZE)
			smtp_msg_flush(s);
	}
}

static const char *
smtp_with(struct smtp_session *s)
{
	if (!s->esmtp)
		return "SMTP";
	return s->tls ? "ESMTPS" : "ESMTP";
}

static void
smtp_received(struct smtp_session *s)
{
	const struct config	*conf = smtp_conf();
	struct smtp_rcpt	*r;
	char			 hdr[2048], date[64], tlsinfo[160], forc[300];
	struct tm		 tm;
	time_t			 now = time(NULL);
	int			 n;

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		(void)strlcpy(date, "unknown date", sizeof(date));
	tlsinfo[0] = '\0';
	if (s->tls && snprintf(tlsinfo, sizeof(tlsinfo),
	    "\r\n\t(using %s with cipher %s)", s->io->tls_version,
	    s->io->tls_cipher) < 0)
		tlsinfo[0] = '\0';
	forc[0] = '\0';
	r = TAILQ_FIRST(&s->rcpts);
	if (s->nrcpt == 1 && r != NULL &&
	    snprintf(forc, sizeof(forc), "\r\n\tfor <%s>", r->rcpt) < 0)
		forc[0] = '\0';
	n = snprintf(hdr, sizeof(hdr), "Received: from %s ([%s])\r\n"
	    "\tby %s (postern) with %s id %s%s%s;\r\n\t%s\r\n",
	    s->helo, s->ip, conf->hostname, smtp_with(s), s->msgid, tlsinfo,
	    forc, date);
	if (n < 0 || (size_t)n >= sizeof(hdr))
		fatalx("%s: header too long", __func__);
	smtp_msg_write(s, hdr, n);
	/* Our own header is not the client's: it must not count. */
	s->msgsize = 0;
}

/* Tells the queue to throw the half-received message away. */
void
smtp_queue_abort(const char *msgid)
{
	struct ibuf	 ib;

	ibuf_init(&ib);
	ibuf_add_str(&ib, msgid);
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	smtp_send_queue(IMSG_QUEUE_ABORT, -1, ib.data, ib.len);
	ibuf_free(&ib);
}

void
smtp_message_reset(struct smtp_session *s)
{
	if (s->msgfd != -1) {
		close(s->msgfd);
		s->msgfd = -1;
	}
	/* Committing, the file is the queue's: no ABORT. */
	if (s->msgid[0] != '\0' && !s->committing) {
		smtp_queue_abort(s->msgid);
		s->msgid[0] = '\0';
	}
	s->wlen = 0;
	s->msgsize = 0;
	s->msgerr = SMTP_MSG_OK;
	s->bdat_left = 0;
	s->bdat_skip = 0;
}

void
smtp_data_begin(struct smtp_session *s)
{
	if (s->wbuf == NULL && (s->wbuf = malloc(SMTP_WBUF_SIZE)) == NULL)
		fatal(NULL);
	if (s->sumctx == NULL && (s->sumctx = EVP_MD_CTX_new()) == NULL)
		fatal(NULL);
	if (EVP_DigestInit_ex(s->sumctx, EVP_sha256(), NULL) != 1)
		fatalx("%s: SHA-256", __func__);
	s->written = 0;
	s->wlen = 0;
	s->msgsize = 0;
	s->msgerr = SMTP_MSG_OK;
	s->at_line_start = 1;
	s->after_long_line = 0;
	s->last_cr = 0;
	s->in_headers = 1;
	s->nreceived = 0;
	s->hdrlen = 0;
	s->hdrtrunc = 0;
	s->from_len = 0;
	s->nfrom = 0;
	s->in_from = 0;
	s->from_overflow = 0;
	smtp_received(s);
}

static void
smtp_msg_error(struct smtp_session *s, enum smtp_msg_error e)
{
	if (s->msgerr == SMTP_MSG_OK)
		s->msgerr = e;
}

/* Appends a piece of the From: header, without its line end. */
static void
smtp_from_append(struct smtp_session *s, const char *p, size_t len)
{
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (s->hdrtrunc || len >= sizeof(s->from_hdr) - s->from_len) {
		s->from_overflow = 1;
		return;
	}
	memcpy(s->from_hdr + s->from_len, p, len);
	s->from_len += len;
	s->from_hdr[s->from_len] = '\0';
}

/* "From:", also with the obsolete space before the colon. */
static int
smtp_is_from(const char *line, size_t len, size_t *name)
{
	size_t	 i = 4;

	if (len < 5 || strncasecmp(line, "From", 4) != 0)
		return 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len || line[i] != ':')
		return 0;
	*name = i + 1;
	return 1;
}

/* A submission message's From: header and its continuation lines. */
static void
smtp_header_from(struct smtp_session *s, const char *line, size_t len)
{
	size_t	 name;

	if (line[0] == ' ' || line[0] == '\t') {
		if (s->in_from)
			smtp_from_append(s, line, len);
		return;
	}
	s->in_from = 0;
	if (!smtp_is_from(line, len, &name))
		return;
	s->in_from = 1;
	if (++s->nfrom == 1)
		smtp_from_append(s, line + name, len - name);
}

/* Header lines: count Received: (a loop shows as too many of them). */
static void
smtp_header_line(struct smtp_session *s, const char *line, size_t len)
{
	if (!s->in_headers)
		return;
	if (len == 0 || (len <= 2 && line[0] == '\r') || line[0] == '\n') {
		s->in_headers = 0;
		return;
	}
	if (len >= 9 && strncasecmp(line, "Received:", 9) == 0 &&
	    ++s->nreceived > SMTP_MAX_RECEIVED)
		smtp_msg_error(s, SMTP_MSG_LOOP);
	if (s->account[0] != '\0')
		smtp_header_from(s, line, len);
}

/*
 * Checks one line (ending in LF) for bare CR and bare LF.  Returns 1 when
 * the line ends in CRLF.
 */
static int
smtp_line_crlf(struct smtp_session *s, const char *line, size_t len)
{
	const char	*cr;
	int		 crlf = len >= 2 && line[len - 2] == '\r';

	if (!crlf)
		smtp_msg_error(s, SMTP_MSG_BARE_NL);
	cr = memchr(line, '\r', len);
	if (cr != NULL && cr != line + len - 2)
		smtp_msg_error(s, SMTP_MSG_BARE_NL);
	return crlf;
}

/* DATA: takes lines out of the buffer; 0 when more input is needed. */
int
smtp_data_lines(struct smtp_session *s)
{
	const char	*line;
	size_t		 len;
	int		 r, crlf;

	r = netio_getline(s->io, SMTP_LINE_MAX, &line, &len);
	if (r == 0)
		return 0;
	if (r == -1) {
		smtp_msg_error(s, SMTP_MSG_LONG_LINE);
		s->after_long_line = 1;
		return 1;
	}
	if (s->after_long_line) {
		/* Only a CRLF-terminated line may precede the final "." */
		s->at_line_start = s->io->discard_crlf;
		if (!s->at_line_start)
			smtp_msg_error(s, SMTP_MSG_BARE_NL);
		s->after_long_line = 0;
	}
	crlf = smtp_line_crlf(s, line, len);
	if (s->at_line_start && crlf && len == 3 && line[0] == '.') {
		smtp_data_end(s);
		return 1;
	}
	/* A line after a bare LF is not at the start of a CRLF line. */
	s->at_line_start = crlf;
	if (line[0] == '.' && len > 1) {
		line++;
		len--;
	}
	smtp_header_line(s, line, len);
	smtp_msg_write(s, line, len);
	return 1;
}

/* Whether a segment's CRs are all the CR of a CRLF. */
static int
smtp_segment_crs_ok(const unsigned char *p, size_t n, int has_lf)
{
	const unsigned char	*cr = p, *end = p + n;
	size_t			 i;

	while ((cr = memchr(cr, '\r', end - cr)) != NULL) {
		i = (size_t)(cr - p);
		if (!(has_lf && i == n - 2) && !(!has_lf && i == n - 1))
			return 0;
		cr++;
	}
	return 1;
}

/* BDAT: scans a block of raw chunk bytes for lines, CR and LF. */
static void
smtp_bdat_scan(struct smtp_session *s, const unsigned char *p, size_t len)
{
	const unsigned char	*end = p + len, *lf;
	size_t			 n, take;
	int			 crlf;

	while (p < end) {
		/* A CR that ended the previous block wants an LF now. */
		if (s->last_cr && *p != '\n')
			smtp_msg_error(s, SMTP_MSG_BARE_NL);
		lf = memchr(p, '\n', end - p);
		n = lf != NULL ? (size_t)(lf - p) + 1 : (size_t)(end - p);
		if (!smtp_segment_crs_ok(p, n, lf != NULL))
			smtp_msg_error(s, SMTP_MSG_BARE_NL);
		if (lf != NULL) {
			crlf = n >= 2 ? p[n - 2] == '\r' : s->last_cr;
			if (!crlf)
				smtp_msg_error(s, SMTP_MSG_BARE_NL);
		}
		/* Keep the start of the line for the header check. */
		take = n;
		if (take > sizeof(s->hdrbuf) - s->hdrlen) {
			take = sizeof(s->hdrbuf) - s->hdrlen;
			s->hdrtrunc = 1;
		}
		memcpy(s->hdrbuf + s->hdrlen, p, take);
		s->hdrlen += take;
		s->last_cr = p[n - 1] == '\r';
		if (lf != NULL) {
			smtp_header_line(s, s->hdrbuf, s->hdrlen);
			s->hdrlen = 0;
			s->hdrtrunc = 0;
		}
		p += n;
	}
}

int
smtp_bdat_bytes(struct smtp_session *s)
{
	size_t	 n = netio_available(s->io);

	if (s->bdat_left > 0 && n == 0)
		return 0;
	if (n > s->bdat_left)
		n = s->bdat_left;
	if (!s->bdat_skip) {
		smtp_bdat_scan(s, netio_peek(s->io), n);
		smtp_msg_write(s, netio_peek(s->io), n);
	}
	netio_drop(s->io, n);
	s->bdat_left -= n;
	if (s->bdat_left > 0)
		return 1;
	if (s->bdat_skip) {
		s->bdat_skip = 0;
		s->state = s->bdat_skip_state;
		return 1;
	}
	if (s->bdat_last) {
		if (s->last_cr)
			smtp_msg_error(s, SMTP_MSG_BARE_NL);
		smtp_data_end(s);
		return 1;
	}
	smtp_reply(s, "250 2.0.0 Chunk accepted");
	s->state = SMTP_S_BDAT_WAIT;
	netio_set_timeout(s->io, smtp_conf()->limits.command_timeout);
	return 1;
}

static const char *
smtp_msg_error_reply(enum smtp_msg_error e)
{
	switch (e) {
	case SMTP_MSG_TOO_BIG:
		return "552 5.3.4 Message too big";
	case SMTP_MSG_LONG_LINE:
		return "554 5.6.0 Message has a line longer than 1000 octets";
	case SMTP_MSG_BARE_NL:
		return "554 5.6.11 Bare LF or CR in message, refused";
	case SMTP_MSG_LOOP:
		return "554 5.4.6 Too many Received headers: mail loop";
	case SMTP_MSG_IOERR:
		return "451 4.3.0 Queue write error";
	case SMTP_MSG_OK:
		break;
	}
	fatalx("%s: %d", __func__, e);
}

void
smtp_commit(struct smtp_session *s)
{
	struct smtp_rcpt	*r;
	struct ibuf		 ib;
	char			 sum[SPOOL_SUM_SIZE];
	uint32_t		 n = 0;

	TAILQ_FOREACH(r, &s->rcpts, entry) {
		ibuf_init(&ib);
		ibuf_add_u64(&ib, s->id);
		ibuf_add_str(&ib, s->msgid);
		ibuf_add_u32(&ib, r->kind);
		ibuf_add_str(&ib, r->dest);
		ibuf_add_str(&ib, r->rcpt);
		ibuf_add_u32(&ib, r->dsn.notify);
		ibuf_add_str(&ib, r->dsn.orcpt);
		if (ib.error)
			fatalx("%s: ibuf", __func__);
		smtp_send_queue(IMSG_QUEUE_RCPT, -1, ib.data, ib.len);
		ibuf_free(&ib);
		n++;
	}
	ibuf_init(&ib);
	ibuf_add_u64(&ib, s->id);
	ibuf_add_str(&ib, s->msgid);
	ibuf_add_str(&ib, s->sender);
	ibuf_add_str(&ib, s->ip);
	ibuf_add_str(&ib, s->helo);
	ibuf_add_u64(&ib, s->msgsize);
	ibuf_add_u32(&ib, n);
	ibuf_add_u32(&ib, s->dsn.ret);
	ibuf_add_str(&ib, s->dsn.envid);
	if (spool_sum_final(s->sumctx, sum, sizeof(sum)) == -1)
		fatalx("%s: SHA-256", __func__);
	ibuf_add_str(&ib, sum);
	ibuf_add_u64(&ib, s->written);
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	smtp_send_queue(IMSG_QUEUE_COMMIT, -1, ib.data, ib.len);
	ibuf_free(&ib);
	s->waiting = 1;
	s->committing = 1;
}

void
smtp_data_end(struct smtp_session *s)
{
	smtp_msg_flush(s);
	close(s->msgfd);
	s->msgfd = -1;
	s->state = SMTP_S_HELO;
	if (s->msgerr != SMTP_MSG_OK) {
		smtp_reply(s, "%s", smtp_msg_error_reply(s->msgerr));
		smtp_reject_event(s, "message refused",
		    smtp_msg_error_reply(s->msgerr));
		smtp_transaction_reset(s);
		netio_set_timeout(s->io, smtp_conf()->limits.command_timeout);
		return;
	}
	if (s->account[0] != '\0') {
		smtp_sender_check_header(s);
		return;
	}
	smtp_commit(s);
}
