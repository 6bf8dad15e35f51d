/*
 * smtp_session.c: one SMTP session, RFC 5321 with the ESMTP extensions
 * PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS,
 * CHUNKING and DSN, and AUTH on submission listeners (smtp_auth.c).
 *
 * Owns: the session's state machine and replies.  Trusts: nothing the
 * client sends.  Commands are taken one at a time from the input buffer;
 * a command that needs another process (RCPT needs auth, DATA and the end
 * of data need the queue) sets `waiting`, and the buffered pipelined
 * commands behind it wait until the answer has been given, so replies
 * always come in command order.
 *
 * The queue file is asked for ahead of DATA: an accepted MAIL sends
 * CREATE without waiting (`precreating`), so that by DATA, after the
 * recipients' round trips to auth, the file is usually there and 354
 * needs no round trip to the queue.  The session holds at most one such
 * file; it goes back to the queue (ABORT) when the transaction or the
 * session ends without using it.
 * A session with an answer on its way, waited for or not, outlives it.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"
#include "posternd.h"
#include "smtp.h"

static void	smtp_tls_event(struct smtp_session *, const char *,
		    const char *);
static void	smtp_cmd_ehlo(struct smtp_session *, char *, int);
static void	smtp_cmd_mail(struct smtp_session *, char *);
static void	smtp_cmd_rcpt(struct smtp_session *, char *);
static void	smtp_cmd_data(struct smtp_session *, char *);
static void	smtp_cmd_bdat(struct smtp_session *, char *);
static void	smtp_cmd_rset(struct smtp_session *, char *);
static void	smtp_cmd_noop(struct smtp_session *, char *);
static void	smtp_cmd_quit(struct smtp_session *, char *);
static void	smtp_cmd_help(struct smtp_session *, char *);
static void	smtp_cmd_vrfy(struct smtp_session *, char *);
static void	smtp_cmd_starttls(struct smtp_session *, char *);
static void	smtp_queue_precreate(struct smtp_session *);
static void	smtp_data_open(struct smtp_session *);
static void	smtp_rcpt_add(struct smtp_session *, uint32_t, const char *);
static void	smtp_rcpt_answered(struct smtp_session *, uint32_t, int);

static uint64_t	 smtp_next_id;

void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 2)
		fatalx("%s: reply too long", __func__);
	memcpy(buf + n, "\r\n", 2);
	if (netio_write(s->io, buf, n + 2) == -1)
		fatal("%s", __func__);
	log_debug("%016llx > %.*s", (unsigned long long)s->id, n, buf);
}

void
smtp_reject_event(struct smtp_session *s, const char *reason, const char *arg)
{
	struct log_event	 ev;

	log_event_begin(&ev, "smtp.reject");
	log_event_add(&ev, "session", "%016llx", (unsigned long long)s->id);
	log_event_add(&ev, "ip", "%s", s->ip);
	log_event_add(&ev, "reason", "%s", reason);
	if (arg != NULL)
		log_event_add(&ev, "arg", "%s", arg);
	log_event_end(&ev);
}

/* Counts a protocol error; too many end the session. */
int
smtp_error(struct smtp_session *s)
{
	if (++s->errors < smtp_conf()->limits.errors)
		return 0;
	smtp_reply(s, "421 4.7.0 %s Too many errors, closing connection",
	    smtp_conf()->hostname);
	smtp_reject_event(s, "too many errors", NULL);
	s->state = SMTP_S_QUIT;
	return 1;
}

void
smtp_transaction_reset(struct smtp_session *s)
{
	struct smtp_rcpt	*r;

	while ((r = TAILQ_FIRST(&s->rcpts)) != NULL) {
		TAILQ_REMOVE(&s->rcpts, r, entry);
		free(r);
	}
	s->nrcpt = 0;
	s->sender[0] = '\0';
	s->smtputf8 = 0;
	s->declared_size = 0;
	memset(&s->dsn, 0, sizeof(s->dsn));
	smtp_message_reset(s);
	if (s->state != SMTP_S_CONNECTED && s->state != SMTP_S_QUIT)
		s->state = SMTP_S_HELO;
}

static void
smtp_session_free(struct smtp_session *s)
{
	smtp_transaction_reset(s);
	free(s->wbuf);
	EVP_MD_CTX_free(s->sumctx);
	if (s->greeting_ev != NULL)
		event_free(s->greeting_ev);
	netio_free(s->io);
	smtp_session_gone(s);
	free(s);
}

void
smtp_close(struct smtp_session *s, const char *reason)
{
	struct log_event	 ev;

	log_event_begin(&ev, "smtp.disconnect");
	log_event_add(&ev, "session", "%016llx", (unsigned long long)s->id);
	log_event_add(&ev, "ip", "%s", s->ip);
	log_event_add(&ev, "reason", "%s", reason);
	log_event_add(&ev, "messages", "%d", s->nmessages);
	log_event_end(&ev);
	smtp_session_free(s);
}

static void
smtp_io_error(struct netio *io, void *arg, enum netio_error e,
    const char *msg)
{
	struct smtp_session	*s = arg;

	if (e == NETIO_TLSERR)
		smtp_tls_event(s, "failed", msg);
	if (e == NETIO_TIMEOUT) {
		/* Best effort, in plain text only: the client may still
		 * read it.  Inside TLS there is no way to add a record
		 * without the event loop. */
		if (io->tls == NULL &&
		    write(io->fd, "421 4.4.2 Timeout, closing connection\r\n",
		    39) == -1)
			log_debug("smtp: timeout reply: %s", strerror(errno));
		smtp_reject_event(s, "timeout", NULL);
	}
	if (s->waiting || s->precreating) {
		/* An answer from auth or the queue is on its way: the
		 * session must outlive it. */
		s->state = SMTP_S_QUIT;
		netio_pause(io, 1);
		return;
	}
	smtp_close(s, e == NETIO_EOF ? "client closed" :
	    e == NETIO_TIMEOUT ? "timeout" : msg);
}

static void
smtp_io_drained(struct netio *io, void *arg)
{
	struct smtp_session	*s = arg;

	if (s->state == SMTP_S_QUIT && !s->waiting && !s->precreating)
		smtp_close(s, "quit");
}

static void
smtp_io_input(struct netio *io, void *arg)
{
	smtp_process(arg);
}

static void
smtp_tls_event(struct smtp_session *s, const char *result, const char *err)
{
	struct log_event	 ev;

	log_event_begin(&ev, "smtp.tls");
	log_event_add(&ev, "session", "%016llx", (unsigned long long)s->id);
	log_event_add(&ev, "ip", "%s", s->ip);
	log_event_add(&ev, "result", "%s", result);
	if (err != NULL)
		log_event_add(&ev, "error", "%s", err);
	else {
		log_event_add(&ev, "version", "%s", s->io->tls_version);
		log_event_add(&ev, "cipher", "%s", s->io->tls_cipher);
	}
	log_event_end(&ev);
}

static void
smtp_io_tls(struct netio *io, void *arg)
{
	smtp_tls_event(arg, "ok", NULL);
}

static void
smtp_greet(struct smtp_session *s)
{
	smtp_reply(s, "220 %s ESMTP postern", smtp_conf()->hostname);
}

static void
smtp_greeting_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct smtp_session	*s = arg;

	s->greeting_pending = 0;
	smtp_greet(s);
	smtp_process(s);
}

/* An MX client that talks before the greeting is no real MTA. */
static void
smtp_early_talker(struct smtp_session *s)
{
	smtp_reply(s, "554 5.5.0 %s Protocol error: talking before the "
	    "greeting", smtp_conf()->hostname);
	smtp_reject_event(s, "early talker", NULL);
	netio_discard_input(s->io);
	s->greeting_pending = 0;
	event_del(s->greeting_ev);
	s->state = SMTP_S_QUIT;
}

void
smtp_session_new(struct smtp_listener *l, int fd,
    const struct sockaddr_storage *ss)
{
	struct smtp_session	*s;
	struct log_event	 ev;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return;
	}
	s->id = ++smtp_next_id;
	s->listener = l;
	s->msgfd = -1;
	s->started = time(NULL);
	TAILQ_INIT(&s->rcpts);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, s->ip, sizeof(s->ip));
		s->port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, s->ip, sizeof(s->ip));
		s->port = ntohs(sin6->sin6_port);
	}
	if ((s->io = netio_new(child_base(), fd, SMTP_WBUF_SIZE,
	    smtp_io_input, smtp_io_drained, smtp_io_error, s)) == NULL) {
		log_warnx("%s: out of memory", __func__);
		close(fd);
		free(s);
		return;
	}
	netio_set_timeout(s->io, smtp_conf()->limits.command_timeout);
	netio_set_tls_cb(s->io, smtp_io_tls);
	RB_INSERT(smtp_sessions, smtp_sessions_tree(), s);
	log_event_begin(&ev, "smtp.connect");
	log_event_add(&ev, "session", "%016llx", (unsigned long long)s->id);
	log_event_add(&ev, "listener", "%s", l->name);
	log_event_add(&ev, "ip", "%s", s->ip);
	log_event_add(&ev, "port", "%u", s->port);
	log_event_end(&ev);
	if (l->tls == TLSMODE_IMPLICIT) {
		if (smtp_tls_ctx() == NULL ||
		    netio_starttls(s->io, smtp_tls_ctx()) == -1) {
			smtp_close(s, "no tls");
			return;
		}
		s->tls = 1;
	}
	if (l->service == SERVICE_SMTP &&
	    smtp_conf()->limits.greeting_delay > 0) {
		struct timeval	 tv = { smtp_conf()->limits.greeting_delay, 0 };

		s->greeting_pending = 1;
		if ((s->greeting_ev = evtimer_new(child_base(),
		    smtp_greeting_timer, s)) == NULL)
			fatal("evtimer_new");
		evtimer_add(s->greeting_ev, &tv);
		return;
	}
	smtp_greet(s);
}

/* A session refused at connect (limits): one reply, then close. */
void
smtp_session_refuse(int fd, const char *reply)
{
	(void)send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static const struct smtp_command {
	const char	*verb;
	void		(*fn)(struct smtp_session *, char *);
	int		 needs_arg;	/* 1 yes, 0 no, -1 optional */
} smtp_commands[] = {
	{ "MAIL",	smtp_cmd_mail,		1 },
	{ "RCPT",	smtp_cmd_rcpt,		1 },
	{ "DATA",	smtp_cmd_data,		0 },
	{ "BDAT",	smtp_cmd_bdat,		1 },
	{ "RSET",	smtp_cmd_rset,		0 },
	{ "NOOP",	smtp_cmd_noop,		-1 },
	{ "QUIT",	smtp_cmd_quit,		0 },
	{ "HELP",	smtp_cmd_help,		-1 },
	{ "VRFY",	smtp_cmd_vrfy,		-1 },
	{ "STARTTLS",	smtp_cmd_starttls,	0 },
	{ "AUTH",	smtp_cmd_auth,		1 },
};

/* Checks the bytes of a command line; returns a reason or NULL. */
static const char *
smtp_line_check(const char *line, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (line[i] == '\0')
			return "NUL character in command";
		if (line[i] == '\r' && i + 1 != len)
			return "bare CR in command";
		if ((unsigned char)line[i] < 0x20 && line[i] != '\r' &&
		    line[i] != '\t')
			return "control character in command";
	}
	return NULL;
}

static void
smtp_dispatch(struct smtp_session *s, char *line)
{
	const struct smtp_command	*c;
	char				*arg;
	size_t				 i, vlen;

	vlen = strcspn(line, " ");
	arg = line[vlen] == ' ' ? line + vlen + 1 : NULL;
	line[vlen] = '\0';
	if (strcasecmp(line, "EHLO") == 0 || strcasecmp(line, "HELO") == 0) {
		smtp_cmd_ehlo(s, arg, toupper((unsigned char)line[0]) == 'E');
		return;
	}
	for (i = 0; i < sizeof(smtp_commands) / sizeof(smtp_commands[0]);
	    i++) {
		c = &smtp_commands[i];
		if (strcasecmp(line, c->verb) != 0)
			continue;
		if ((c->needs_arg == 1 && (arg == NULL || *arg == '\0')) ||
		    (c->needs_arg == 0 && arg != NULL && *arg != '\0')) {
			smtp_reply(s, "501 5.5.4 Syntax: %s%s", c->verb,
			    c->needs_arg == 1 ? " needs an argument" :
			    " takes no argument");
			(void)smtp_error(s);
			return;
		}
		c->fn(s, arg);
		return;
	}
	smtp_reply(s, "500 5.5.2 Command not recognized");
	(void)smtp_error(s);
}

/* Takes one command line out of the buffer; 0 when there is none. */
static int
smtp_next_command(struct smtp_session *s)
{
	char		 buf[SMTP_AUTH_LINE_MAX + 1];
	const char	*line, *why;
	size_t		 len;
	int		 r;

	/* AUTH lines may be longer (RFC 4954 4); others are cut below. */
	r = netio_getline(s->io, SMTP_AUTH_LINE_MAX, &line, &len);
	if (r == 0)
		return 0;
	if (r == -1 || (len > SMTP_LINE_MAX && s->auth_step ==
	    SMTP_AUTH_NONE && strncasecmp(line, "AUTH ", 5) != 0)) {
		smtp_auth_abort(s);
		smtp_reply(s, "500 5.5.6 Line too long (limit %d)",
		    r == -1 && s->auth_step != SMTP_AUTH_NONE ?
		    SMTP_AUTH_LINE_MAX : SMTP_LINE_MAX);
		smtp_reject_event(s, "line too long", NULL);
		(void)smtp_error(s);
		return 1;
	}
	/* Commands may end in bare LF (lenient); data never may. */
	len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if ((why = smtp_line_check(line, len)) != NULL) {
		smtp_reply(s, "500 5.5.2 %s", why);
		smtp_reject_event(s, why, NULL);
		(void)smtp_error(s);
		return 1;
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (s->auth_step != SMTP_AUTH_NONE)
		smtp_auth_response(s, buf, len);
	else
		smtp_dispatch(s, buf);
	explicit_bzero(buf, len);	/* it may have been a password */
	return 1;
}

void
smtp_process(struct smtp_session *s)
{
	if (s->greeting_pending && netio_available(s->io) > 0)
		smtp_early_talker(s);
	for (;;) {
		if (s->greeting_pending)
			break;
		if (s->waiting || s->state == SMTP_S_QUIT)
			break;
		if (s->state == SMTP_S_DATA) {
			if (!smtp_data_lines(s))
				break;
			continue;
		}
		if (s->state == SMTP_S_BDAT) {
			if (!smtp_bdat_bytes(s))
				break;
			continue;
		}
		if (!smtp_next_command(s))
			break;
	}
	if (s->state == SMTP_S_QUIT && !s->waiting && !s->precreating &&
	    (netio_pending(s->io) == 0 || s->io->eof || s->io->error)) {
		smtp_close(s, "quit");
		return;
	}
	/* Apply back-pressure while another process is working for us. */
	netio_pause(s->io, s->waiting || s->state == SMTP_S_QUIT);
}

static int
smtp_helo_valid(const char *arg)
{
	const char	*p;

	if (arg == NULL || *arg == '\0' || strlen(arg) > 255)
		return 0;
	for (p = arg; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p > '~')
			return 0;
	return 1;
}

static void
smtp_cmd_ehlo(struct smtp_session *s, char *arg, int esmtp)
{
	const struct config	*conf = smtp_conf();

	if (!smtp_helo_valid(arg)) {
		smtp_reply(s, "501 5.5.4 Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		(void)smtp_error(s);
		return;
	}
	smtp_transaction_reset(s);
	(void)strlcpy(s->helo, arg, sizeof(s->helo));
	s->esmtp = esmtp;
	s->state = SMTP_S_HELO;
	if (!esmtp) {
		smtp_reply(s, "250 %s Hello %s [%s]", conf->hostname, s->helo,
		    s->ip);
		return;
	}
	smtp_reply(s, "250-%s Hello %s [%s]", conf->hostname, s->helo, s->ip);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %zu", conf->limits.message_size);
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-SMTPUTF8");
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250-CHUNKING");
	smtp_reply(s, "250-DSN");
	if (!s->tls && s->listener->tls == TLSMODE_STARTTLS &&
	    smtp_tls_ctx() != NULL)
		smtp_reply(s, "250-STARTTLS");
	/* RFC 4954 4: never offered where it would be refused. */
	if (smtp_auth_offered(s) && s->account[0] == '\0')
		smtp_reply(s, "250-AUTH PLAIN LOGIN");
	smtp_reply(s, "250 HELP");
}

static void
smtp_cmd_starttls(struct smtp_session *s, char *arg)
{
	if (s->tls || s->listener->tls != TLSMODE_STARTTLS ||
	    smtp_tls_ctx() == NULL) {
		smtp_reply(s, "503 5.5.1 TLS not available%s",
		    s->tls ? ": already active" : "");
		(void)smtp_error(s);
		return;
	}
	if (s->state == SMTP_S_CONNECTED) {
		smtp_reply(s, "503 5.5.1 Say EHLO first");
		(void)smtp_error(s);
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	/* RFC 3207 4.2: forget everything; drop what was pipelined. */
	smtp_transaction_reset(s);
	s->state = SMTP_S_CONNECTED;
	s->helo[0] = '\0';
	s->esmtp = 0;
	if (netio_starttls(s->io, smtp_tls_ctx()) == -1) {
		log_warnx("session %016llx: starttls failed",
		    (unsigned long long)s->id);
		s->state = SMTP_S_QUIT;
		return;
	}
	s->tls = 1;
}

static int
smtp_needs_helo(struct smtp_session *s)
{
	if (s->state != SMTP_S_CONNECTED)
		return 0;
	smtp_reply(s, "503 5.5.1 Say EHLO first");
	(void)smtp_error(s);
	return 1;
}

/* The ESMTP parameters of MAIL FROM. */
static int
smtp_mail_params(struct smtp_session *s, const struct addr_params *p)
{
	const struct config	*conf = smtp_conf();
	const char		*errstr, *why;
	int			 i, taken;

	memset(&s->dsn, 0, sizeof(s->dsn));
	for (i = 0; i < p->n; i++) {
		const char *k = p->keyword[i], *v = p->value[i];

		if ((taken = smtp_dsn_mail_param(&s->dsn, k, v, &why)) == 1)
			continue;
		if (taken == -1) {
			smtp_reply(s, "501 5.5.4 Bad %s: %s", k, why);
			smtp_reject_event(s, "bad DSN parameter", k);
			return -1;
		}
		if (strcmp(k, "SIZE") == 0 && v != NULL) {
			s->declared_size = strtonum(v, 0, LLONG_MAX, &errstr);
			if (errstr != NULL) {
				smtp_reply(s, "501 5.5.4 Bad SIZE");
				return -1;
			}
			if (s->declared_size > conf->limits.message_size) {
				smtp_reply(s, "552 5.3.4 Message too big "
				    "(limit %zu bytes)",
				    conf->limits.message_size);
				return -1;
			}
		} else if (strcmp(k, "BODY") == 0 && v != NULL &&
		    (strcasecmp(v, "7BIT") == 0 ||
		    strcasecmp(v, "8BITMIME") == 0 ||
		    strcasecmp(v, "BINARYMIME") == 0)) {
			continue;
		} else if (strcmp(k, "SMTPUTF8") == 0 && v == NULL) {
			s->smtputf8 = 1;
		} else if (strcmp(k, "AUTH") == 0 && v != NULL) {
			continue;	/* RFC 4954 5: may be ignored */
		} else {
			smtp_reply(s, "555 5.5.4 Unsupported parameter %s", k);
			return -1;
		}
	}
	return 0;
}

/* MAIL FROM of an authenticated user: no bounces, limits, owner. */
static void
smtp_mail_submission(struct smtp_session *s)
{
	if (s->sender[0] == '\0') {
		smtp_reply(s, "553 5.7.1 A user may not send with the null "
		    "sender <>");
		smtp_reject_event(s, "null sender from user", s->account);
		(void)smtp_error(s);
		return;
	}
	if (smtp_limit_reached(s, 0) == -1) {
		s->sender[0] = '\0';
		return;
	}
	smtp_sender_check_mail(s);
}

static void
smtp_cmd_mail(struct smtp_session *s, char *arg)
{
	struct addr_params	 params;
	struct mailaddr		 a;
	const char		*why = NULL;
	int			 isnull = 0;

	if (smtp_needs_helo(s))
		return;
	if (s->state != SMTP_S_HELO) {
		smtp_reply(s, "503 5.5.1 Sender already given");
		(void)smtp_error(s);
		return;
	}
	if (strncasecmp(arg, "FROM:", 5) != 0) {
		smtp_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		(void)smtp_error(s);
		return;
	}
	if (s->listener->service == SERVICE_SUBMISSION &&
	    s->account[0] == '\0') {
		smtp_reply(s, "530 5.7.0 Authentication required");
		smtp_reject_event(s, "authentication required", NULL);
		(void)smtp_error(s);
		return;
	}
	if (addr_parse_path(arg + 5, ADDR_REVERSE, 0, &a, &isnull,
	    &params, &why) == -1) {
		smtp_reply(s, "501 5.1.7 Bad sender address: %s", why);
		smtp_reject_event(s, "bad sender", why);
		(void)smtp_error(s);
		return;
	}
	if (smtp_mail_params(s, &params) == -1) {
		(void)smtp_error(s);
		return;
	}
	if (isnull)
		s->sender[0] = '\0';
	else
		addr_format(&a, s->sender, sizeof(s->sender));
	if (s->account[0] != '\0') {
		smtp_mail_submission(s);
		return;
	}
	smtp_mail_accept(s);
}

void
smtp_mail_accept(struct smtp_session *s)
{
	struct log_event	 ev;

	s->state = SMTP_S_MAIL;
	log_event_begin(&ev, "smtp.mail");
	log_event_add(&ev, "session", "%016llx", (unsigned long long)s->id);
	log_event_add(&ev, "from", "%s", s->sender);
	if (s->account[0] != '\0')
		log_event_add(&ev, "user", "%s", s->account);
	log_event_end(&ev);
	smtp_reply(s, "250 2.1.0 Sender ok");
	smtp_queue_precreate(s);
}

static void
smtp_cmd_rcpt(struct smtp_session *s, char *arg)
{
	const struct config	*conf = smtp_conf();
	struct addr_params	 params;
	struct mailaddr		 a;
	struct ibuf		 ib;
	struct smtp_rcpt_answer	 ans;
	const char		*k, *why = NULL;
	uint32_t		 flags;
	int			 i, taken, isnull = 0;

	if (smtp_needs_helo(s))
		return;
	if (s->state != SMTP_S_MAIL && s->state != SMTP_S_RCPT) {
		smtp_reply(s, "503 5.5.1 Need MAIL first");
		(void)smtp_error(s);
		return;
	}
	if (strncasecmp(arg, "TO:", 3) != 0) {
		smtp_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		(void)smtp_error(s);
		return;
	}
	if (s->nrcpt >= conf->limits.recipients) {
		smtp_reply(s, "452 4.5.3 Too many recipients (limit %d)",
		    conf->limits.recipients);
		return;
	}
	if (addr_parse_path(arg + 3, ADDR_FORWARD, s->smtputf8, &a, &isnull, &params,
	    &why) == -1) {
		smtp_reply(s, "501 5.1.3 Bad recipient address: %s", why);
		smtp_reject_event(s, "bad recipient", why);
		(void)smtp_error(s);
		return;
	}
	memset(&s->pending_dsn, 0, sizeof(s->pending_dsn));
	for (i = 0; i < params.n; i++) {
		k = params.keyword[i];
		taken = smtp_dsn_rcpt_param(&s->pending_dsn, k,
		    params.value[i], &why);
		if (taken == 1)
			continue;
		if (taken == 0)
			smtp_reply(s, "555 5.5.4 Unsupported parameter %s", k);
		else {
			smtp_reply(s, "501 5.5.4 Bad %s: %s", k, why);
			smtp_reject_event(s, "bad DSN parameter", k);
		}
		(void)smtp_error(s);
		return;
	}
	addr_format(&a, s->pending_rcpt, sizeof(s->pending_rcpt));
	if (a.domain[0] == '[') {
		/* An address literal is never one of our domains. */
		smtp_reply(s, "554 5.7.1 <%s>: Relay access denied",
		    s->pending_rcpt);
		smtp_reject_event(s, "relay denied", s->pending_rcpt);
		(void)smtp_error(s);
		return;
	}
	if (s->account[0] != '\0' && smtp_limit_reached(s, 1) == -1)
		return;
	flags = s->account[0] != '\0' ? RCPT_FLAG_AUTHENTICATED : 0;
	if (smtp_rcache_get(s->pending_rcpt, flags, &ans)) {
		for (i = 0; (uint32_t)i < ans.n; i++)
			smtp_rcpt_add(s, ans.kind[i], ans.dest[i]);
		smtp_rcpt_answered(s, ans.result, (int)ans.n);
		return;
	}
	ibuf_init(&ib);
	ibuf_add_u64(&ib, s->id);
	ibuf_add_u32(&ib, flags);
	ibuf_add_str(&ib, s->pending_rcpt);
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	smtp_send_auth(IMSG_AUTH_RCPT, ib.data, ib.len);
	ibuf_free(&ib);
	s->waiting = 1;
}

static void
smtp_rcpt_add(struct smtp_session *s, uint32_t kind, const char *dest)
{
	struct smtp_rcpt	*rc;

	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		fatal(NULL);
	(void)strlcpy(rc->rcpt, s->pending_rcpt, sizeof(rc->rcpt));
	(void)strlcpy(rc->dest, dest, sizeof(rc->dest));
	rc->kind = kind;
	rc->dsn = s->pending_dsn;
	TAILQ_INSERT_TAIL(&s->rcpts, rc, entry);
}

/* The reply to a RCPT whose destinations (added of them) are added. */
static void
smtp_rcpt_answered(struct smtp_session *s, uint32_t result, int added)
{
	struct log_event	 ev;

	switch (result) {
	case RCPT_OK:
		s->nrcpt++;
		if (s->account[0] != '\0')
			smtp_limit_count(s->account, 0, 1);
		s->state = SMTP_S_RCPT;
		log_event_begin(&ev, "smtp.rcpt");
		log_event_add(&ev, "session", "%016llx",
		    (unsigned long long)s->id);
		log_event_add(&ev, "to", "%s", s->pending_rcpt);
		log_event_add(&ev, "destinations", "%d", added);
		log_event_end(&ev);
		smtp_reply(s, "250 2.1.5 Recipient ok");
		break;
	case RCPT_UNKNOWN:
		smtp_reply(s, "550 5.1.1 <%s>: Recipient address rejected: "
		    "no such user", s->pending_rcpt);
		smtp_reject_event(s, "unknown user", s->pending_rcpt);
		(void)smtp_error(s);
		break;
	case RCPT_RELAY_DENIED:
		smtp_reply(s, "554 5.7.1 <%s>: Relay access denied",
		    s->pending_rcpt);
		smtp_reject_event(s, "relay denied", s->pending_rcpt);
		(void)smtp_error(s);
		break;
	case RCPT_TEMPFAIL:
		smtp_reply(s, "451 4.3.0 <%s>: Temporary lookup failure",
		    s->pending_rcpt);
		break;
	default:
		fatalx("rcpt result %u", result);
	}
}

void
smtp_session_rcpt_result(struct smtp_session *s, struct imsg *imsg,
    struct imsg_reader *r)
{
	struct smtp_rcpt_answer	 ans;
	uint32_t		 kind, i;
	char			 dest[CONFIG_ADDR_MAX];

	memset(&ans, 0, sizeof(ans));
	ans.result = imsg_read_u32(r);
	ans.n = imsg_read_u32(r);
	if (ans.n > MAX_DESTS || (ans.result == RCPT_OK && ans.n == 0))
		fatalx("auth sent %u destinations", ans.n);
	if (ans.result < RCPT_OK || ans.result > RCPT_TEMPFAIL)
		fatalx("auth sent rcpt result %u", ans.result);
	for (i = 0; i < ans.n; i++) {
		kind = imsg_read_u32(r);
		imsg_read_str(r, dest, sizeof(dest));
		if (kind != DEST_LOCAL && kind != DEST_REMOTE)
			fatalx("auth sent destination kind %u", kind);
		smtp_rcpt_add(s, kind, dest);
		if (i < SMTP_RCPT_ANSWER_MAX) {
			ans.kind[i] = kind;
			(void)strlcpy(ans.dest[i], dest, sizeof(ans.dest[i]));
		}
	}
	imsg_reader_end(r);
	smtp_rcache_put(s->pending_rcpt, s->account[0] != '\0' ?
	    RCPT_FLAG_AUTHENTICATED : 0, &ans);
	s->waiting = 0;
	if (s->state == SMTP_S_QUIT) {
		smtp_process(s);
		return;
	}
	smtp_rcpt_answered(s, ans.result, (int)ans.n);
	smtp_process(s);
}

static int
smtp_ready_for_data(struct smtp_session *s)
{
	if (smtp_needs_helo(s))
		return 0;
	if (s->state == SMTP_S_MAIL) {
		smtp_reply(s, "554 5.5.1 No valid recipients");
		(void)smtp_error(s);
		return 0;
	}
	if (s->state != SMTP_S_RCPT && s->state != SMTP_S_BDAT_WAIT) {
		smtp_reply(s, "503 5.5.1 Need RCPT first");
		(void)smtp_error(s);
		return 0;
	}
	return 1;
}

/* The file for the coming message, unless one is held or on its way. */
static void
smtp_queue_precreate(struct smtp_session *s)
{
	uint64_t	 id = s->id;

	if (s->msgfd != -1 || s->precreating)
		return;
	smtp_send_queue(IMSG_QUEUE_CREATE, -1, &id, sizeof(id));
	s->precreating = 1;
}

/* DATA or BDAT: go on with the held file, or wait for it. */
static void
smtp_queue_create(struct smtp_session *s)
{
	if (s->msgfd != -1) {
		smtp_data_open(s);
		return;
	}
	smtp_queue_precreate(s);
	s->file_wait = 1;
	s->waiting = 1;
}

static void
smtp_cmd_data(struct smtp_session *s, char *arg)
{
	if (!smtp_ready_for_data(s))
		return;
	if (s->state == SMTP_S_BDAT_WAIT) {
		smtp_reply(s, "503 5.5.1 DATA after BDAT");
		(void)smtp_error(s);
		return;
	}
	s->bdat_last = -1;		/* marks DATA, not BDAT */
	smtp_queue_create(s);
}

/* BDAT <size> [LAST] (RFC 3030). */
static void
smtp_cmd_bdat(struct smtp_session *s, char *arg)
{
	const char		*errstr;
	char			*sp, *last = NULL;
	long long		 size;

	if ((sp = strchr(arg, ' ')) != NULL) {
		*sp = '\0';
		last = sp + 1;
	}
	size = strtonum(arg, 0, LLONG_MAX, &errstr);
	if (errstr != NULL || (last != NULL && strcasecmp(last, "LAST") != 0)) {
		/* The chunk size is unknown: the stream cannot be resynced. */
		smtp_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		s->state = SMTP_S_QUIT;
		return;
	}
	if (!smtp_ready_for_data(s)) {
		/* The chunk's bytes follow anyway: they must be skipped, not
		 * read as commands (RFC 3030 4). */
		if (s->state == SMTP_S_QUIT || size == 0)
			return;
		s->bdat_left = (uint64_t)size;
		s->bdat_skip_state = s->state;
		s->bdat_skip = 1;
		s->state = SMTP_S_BDAT;
		return;
	}
	s->bdat_left = (uint64_t)size;
	s->bdat_last = last != NULL;
	if (s->state == SMTP_S_BDAT_WAIT) {
		s->state = SMTP_S_BDAT;
		return;
	}
	smtp_queue_create(s);
}

void
smtp_session_create_result(struct smtp_session *s, struct imsg *imsg,
    struct imsg_reader *r)
{
	uint32_t	 ok;
	int		 fd;

	ok = imsg_read_u32(r);
	imsg_read_str(r, s->msgid, sizeof(s->msgid));
	imsg_reader_end(r);
	fd = imsg_get_fd(imsg);
	if (ok && fd == -1)
		fatalx("queue created a message without an fd");
	if (!ok) {
		if (fd != -1)
			close(fd);
		s->msgid[0] = '\0';
	} else
		s->msgfd = fd;
	s->precreating = 0;
	if (s->state == SMTP_S_QUIT) {
		if (s->file_wait)
			s->waiting = 0;
		s->file_wait = 0;
		smtp_message_reset(s);	/* the file goes back to the queue */
		smtp_process(s);
		return;
	}
	if (!s->file_wait) {
		/* Held for the DATA to come, unless the transaction it was
		 * asked for ended (RSET, STARTTLS) before the answer came. */
		if (s->state != SMTP_S_MAIL && s->state != SMTP_S_RCPT)
			smtp_message_reset(s);
		return;
	}
	s->file_wait = 0;
	if (!ok) {
		s->waiting = 0;
		smtp_reply(s, "451 4.3.0 Queue temporarily unavailable");
		s->state = SMTP_S_RCPT;
		if (s->bdat_last != -1)
			s->state = SMTP_S_QUIT;	/* chunk bytes follow */
		smtp_process(s);
		return;
	}
	smtp_data_open(s);
}

/* DATA or BDAT with the queue file in hand. */
static void
smtp_data_open(struct smtp_session *s)
{
	s->waiting = 0;
	smtp_data_begin(s);
	if (s->bdat_last == -1) {
		smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
		s->state = SMTP_S_DATA;
	} else
		s->state = SMTP_S_BDAT;
	netio_set_timeout(s->io, smtp_conf()->limits.data_timeout);
	smtp_process(s);
}

void
smtp_session_commit_result(struct smtp_session *s, struct imsg_reader *r)
{
	struct log_event	 ev;
	uint32_t		 ok;

	ok = imsg_read_u32(r);
	imsg_reader_end(r);
	s->waiting = 0;
	s->committing = 0;
	if (ok) {
		log_event_begin(&ev, "queue.commit");
		log_event_add(&ev, "session", "%016llx",
		    (unsigned long long)s->id);
		log_event_add(&ev, "msgid", "%s", s->msgid);
		log_event_add(&ev, "size", "%zu", s->msgsize);
		log_event_add(&ev, "recipients", "%d", s->nrcpt);
		log_event_add(&ev, "from", "%s", s->sender);
		log_event_end(&ev);
		s->nmessages++;
		if (s->state != SMTP_S_QUIT)
			smtp_reply(s, "250 2.0.0 Ok: queued as %s", s->msgid);
	} else if (s->state != SMTP_S_QUIT)
		smtp_reply(s, "451 4.3.0 Error: queue file write error");
	s->msgid[0] = '\0';
	if (s->state != SMTP_S_QUIT) {
		smtp_transaction_reset(s);
		s->state = SMTP_S_HELO;
	}
	netio_set_timeout(s->io, smtp_conf()->limits.command_timeout);
	smtp_process(s);
}

static void
smtp_cmd_rset(struct smtp_session *s, char *arg)
{
	smtp_transaction_reset(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
smtp_cmd_noop(struct smtp_session *s, char *arg)
{
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
smtp_cmd_quit(struct smtp_session *s, char *arg)
{
	smtp_reply(s, "221 2.0.0 %s Bye", smtp_conf()->hostname);
	s->state = SMTP_S_QUIT;
}

static void
smtp_cmd_help(struct smtp_session *s, char *arg)
{
	smtp_reply(s, "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT");
	smtp_reply(s, "214 2.0.0 RSET NOOP QUIT HELP VRFY STARTTLS%s",
	    s->listener->service == SERVICE_SUBMISSION ? " AUTH" : "");
}

/* RFC 5321 3.5.3: 252, and never tell whether the user exists. */
static void
smtp_cmd_vrfy(struct smtp_session *s, char *arg)
{
	smtp_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message "
	    "and attempt delivery");
}

/* The daemon is stopping: tell the client (RFC 5321 3.8). */
void
smtp_session_shutdown(struct smtp_session *s)
{
	(void)send(s->io->fd, "421 4.3.2 Service shutting down\r\n", 33,
	    MSG_NOSIGNAL | MSG_DONTWAIT);
}
