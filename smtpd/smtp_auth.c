/*
 * smtp_auth.c: SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN
 * mechanisms, on submission listeners, inside TLS only.
 *
 * Owns: the AUTH exchange of a session (its 334 challenges and the
 * client's base64 responses) and the session's account once auth has
 * said yes.  Trusts: nothing the client sends; base64 is decoded
 * strictly.  The password is never checked here: it goes to auth in
 * IMSG_AUTH_LOGIN, which answers after its own throttling delay, and the
 * decoded secret is wiped as soon as it has been sent.  Whether the user
 * exists is never said: an unknown user and a wrong password get the
 * same reply.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imsg.h"
#include "log.h"
#include "posternd.h"
#include "smtp.h"

#define SMTP_AUTH_DECODED_MAX	(SMTP_AUTH_LINE_MAX / 4 * 3)

static void
smtp_auth_event(struct smtp_session *s, const char *result)
{
	struct log_event	 ev;

	log_event_begin(&ev, "smtp.auth");
	log_event_add(&ev, "session", "%016llx", (unsigned long long)s->id);
	log_event_add(&ev, "ip", "%s", s->ip);
	log_event_add(&ev, "mechanism", "%s", s->auth_mech);
	log_event_add(&ev, "user", "%s", s->auth_user);
	log_event_add(&ev, "result", "%s", result);
	log_event_end(&ev);
}

void
smtp_auth_abort(struct smtp_session *s)
{
	s->auth_step = SMTP_AUTH_NONE;
}

/* Ends the exchange with a 5xx that is the client's fault. */
static void
smtp_auth_refuse(struct smtp_session *s, const char *reply, const char *why)
{
	smtp_auth_abort(s);
	smtp_reply(s, "%s", reply);
	smtp_auth_event(s, why);
	(void)smtp_error(s);
}

/* A user name auth could know: printable, not too long. */
static int
smtp_auth_user_ok(const unsigned char *p, size_t len)
{
	size_t	 i;

	if (len == 0 || len >= CONFIG_ADDR_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (p[i] <= ' ' || p[i] == 0x7f)
			return 0;
	return 1;
}

static void
smtp_auth_send(struct smtp_session *s, const char *secret, size_t len)
{
	struct ibuf	 ib;

	if (len > SMTP_SECRET_MAX || memchr(secret, '\0', len) != NULL) {
		/* No account has such a password. */
		smtp_auth_refuse(s, "535 5.7.8 Authentication credentials "
		    "invalid", "fail");
		return;
	}
	ibuf_init(&ib);
	ibuf_add_u64(&ib, s->id);
	ibuf_add_u32(&ib, AUTH_SVC_SMTP);
	ibuf_add_str(&ib, s->ip);
	ibuf_add_str(&ib, s->auth_user);
	ibuf_add_strn(&ib, secret, len);
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	smtp_send_auth(IMSG_AUTH_LOGIN, ib.data, ib.len);
	ibuf_free(&ib);
	s->auth_step = SMTP_AUTH_NONE;
	s->waiting = 1;
}

/* PLAIN: authzid NUL authcid NUL passwd (RFC 4616 2). */
static void
smtp_auth_plain(struct smtp_session *s, unsigned char *buf, size_t len)
{
	unsigned char	*authc, *pass, *end = buf + len;
	size_t		 clen;

	if ((authc = memchr(buf, '\0', len)) != NULL)
		authc++;
	if (authc == NULL ||
	    (pass = memchr(authc, '\0', end - authc)) == NULL) {
		smtp_auth_refuse(s, "501 5.5.2 Malformed PLAIN response",
		    "malformed");
		return;
	}
	clen = pass - authc;
	pass++;
	if (!smtp_auth_user_ok(authc, clen)) {
		smtp_auth_refuse(s, "535 5.7.8 Authentication credentials "
		    "invalid", "fail");
		return;
	}
	memcpy(s->auth_user, authc, clen);
	s->auth_user[clen] = '\0';
	if (buf[0] != '\0' && strcasecmp((char *)buf, s->auth_user) != 0) {
		smtp_auth_refuse(s, "535 5.7.8 Authorization identity must "
		    "be empty or the user name", "authzid");
		return;
	}
	smtp_auth_send(s, (char *)pass, end - pass);
}

static void
smtp_auth_login_user(struct smtp_session *s, unsigned char *buf, size_t len)
{
	if (!smtp_auth_user_ok(buf, len)) {
		smtp_auth_refuse(s, "535 5.7.8 Authentication credentials "
		    "invalid", "fail");
		return;
	}
	memcpy(s->auth_user, buf, len);
	s->auth_user[len] = '\0';
	s->auth_step = SMTP_AUTH_LOGIN_PASS;
	smtp_reply(s, "334 UGFzc3dvcmQ6");	/* "Password:" */
}

/* A response (initial or to a 334), base64 as the client sent it. */
static void
smtp_auth_input(struct smtp_session *s, const char *b64, size_t len,
    int initial)
{
	unsigned char	 buf[SMTP_AUTH_DECODED_MAX + 1];
	ssize_t		 n;

	if (initial && len == 1 && b64[0] == '=')
		n = 0;		/* RFC 4954 4: an empty initial response */
	else if ((n = smtp_b64_decode(b64, len, buf, sizeof(buf) - 1)) ==
	    -1) {
		explicit_bzero(buf, sizeof(buf));
		smtp_auth_refuse(s, "501 5.5.2 Cannot decode the response "
		    "(base64)", "malformed");
		return;
	}
	buf[n] = '\0';
	switch (s->auth_step) {
	case SMTP_AUTH_PLAIN:
		smtp_auth_plain(s, buf, n);
		break;
	case SMTP_AUTH_LOGIN_USER:
		smtp_auth_login_user(s, buf, n);
		break;
	case SMTP_AUTH_LOGIN_PASS:
		smtp_auth_send(s, (char *)buf, n);
		break;
	case SMTP_AUTH_NONE:
		fatalx("%s: no exchange", __func__);
	}
	explicit_bzero(buf, sizeof(buf));
}

/* A line while an exchange is on: "*" cancels it (RFC 4954 4). */
void
smtp_auth_response(struct smtp_session *s, char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		smtp_auth_abort(s);
		smtp_reply(s, "501 5.0.0 Authentication canceled");
		smtp_auth_event(s, "canceled");
		return;
	}
	smtp_auth_input(s, line, len, 0);
}

/*
 * AUTH is offered inside TLS, or on a listener without TLS, which the
 * config accepts for submission only on a loopback address.
 */
int
smtp_auth_offered(const struct smtp_session *s)
{
	return s->listener->service == SERVICE_SUBMISSION &&
	    (s->tls || s->listener->tls == TLSMODE_NONE);
}

/* Whether AUTH may start now; replies if not. */
static int
smtp_auth_allowed(struct smtp_session *s)
{
	const char	*reply = NULL;

	if (s->listener->service != SERVICE_SUBMISSION)
		reply = "502 5.5.1 AUTH not available on this port";
	else if (s->state == SMTP_S_CONNECTED)
		reply = "503 5.5.1 Say EHLO first";
	else if (!smtp_auth_offered(s))
		reply = "530 5.7.0 Must issue a STARTTLS command first";
	else if (s->account[0] != '\0')
		reply = "503 5.5.1 Already authenticated";
	else if (s->state != SMTP_S_HELO)
		reply = "503 5.5.1 AUTH not allowed during a mail transaction";
	if (reply == NULL)
		return 1;
	smtp_reply(s, "%s", reply);
	(void)smtp_error(s);
	return 0;
}

/* AUTH mechanism [initial-response] */
void
smtp_cmd_auth(struct smtp_session *s, char *arg)
{
	char	*ir;

	if (!smtp_auth_allowed(s))
		return;
	if ((ir = strchr(arg, ' ')) != NULL)
		*ir++ = '\0';
	if (ir != NULL && (*ir == '\0' || strchr(ir, ' ') != NULL)) {
		smtp_reply(s, "501 5.5.4 Syntax: AUTH mechanism "
		    "[initial-response]");
		(void)smtp_error(s);
		return;
	}
	s->auth_user[0] = '\0';
	if (strcasecmp(arg, "PLAIN") == 0) {
		s->auth_mech = "PLAIN";
		s->auth_step = SMTP_AUTH_PLAIN;
	} else if (strcasecmp(arg, "LOGIN") == 0) {
		s->auth_mech = "LOGIN";
		s->auth_step = SMTP_AUTH_LOGIN_USER;
	} else {
		smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
		(void)smtp_error(s);
		return;
	}
	if (ir != NULL)
		smtp_auth_input(s, ir, strlen(ir), 1);
	else if (s->auth_step == SMTP_AUTH_PLAIN)
		smtp_reply(s, "334 ");
	else
		smtp_reply(s, "334 VXNlcm5hbWU6");	/* "Username:" */
}

/* auth's reason goes into a reply: printable ASCII, short. */
static int
smtp_auth_text_ok(const char *text)
{
	size_t	 i;

	for (i = 0; text[i] != '\0'; i++)
		if (text[i] < ' ' || text[i] > '~' || i >= 200)
			return 0;
	return 1;
}

void
smtp_session_login_result(struct smtp_session *s, struct imsg_reader *r)
{
	char		 account[CONFIG_ADDR_MAX], text[512];
	uint32_t	 result;

	result = imsg_read_u32(r);
	imsg_read_str(r, account, sizeof(account));
	imsg_read_str(r, text, sizeof(text));
	imsg_reader_end(r);
	if (result < AUTH_OK || result > AUTH_TEMPFAIL ||
	    (result == AUTH_OK) != (account[0] != '\0') ||
	    !smtp_auth_text_ok(text))
		fatalx("auth sent login result %u, account \"%s\"", result,
		    account);
	s->waiting = 0;
	smtp_auth_event(s, result == AUTH_OK ? "ok" :
	    result == AUTH_EXPIRED ? "expired" :
	    result == AUTH_TEMPFAIL ? "tempfail" : "fail");
	if (s->state == SMTP_S_QUIT) {
		smtp_process(s);
		return;
	}
	switch (result) {
	case AUTH_OK:
		(void)strlcpy(s->account, account, sizeof(s->account));
		smtp_reply(s, "235 2.7.0 Authentication successful");
		break;
	case AUTH_FAIL:
		/* auth's text is the same for an unknown user and a wrong
		 * password; it differs only past the password (2FA). */
		smtp_reply(s, "535 5.7.8 Authentication credentials invalid%s%s",
		    text[0] != '\0' ? ": " : "", text);
		(void)smtp_error(s);
		break;
	case AUTH_EXPIRED:
		smtp_reply(s, "535 5.7.8 Authentication failed: the password "
		    "has expired, change it before logging in");
		(void)smtp_error(s);
		break;
	case AUTH_TEMPFAIL:
		smtp_reply(s, "454 4.7.0 Temporary authentication failure, "
		    "try again later");
		break;
	}
	smtp_process(s);
}
