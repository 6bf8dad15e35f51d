/*
 * smtp_sender.c: what an authenticated submission user may send: the
 * envelope sender and the header From: must be the account's own address
 * or one of its aliases (auth decides, IMSG_AUTH_SENDER), and the
 * per-user sending limits (limits.user_messages_per_hour,
 * limits.user_recipients_per_hour).
 *
 * Owns: the per-account counters.  They live in this process only, as a
 * sliding hour of 60 one-minute buckets, so a restart forgets them.  A
 * message counts when its MAIL FROM is accepted and a recipient when its
 * RCPT is, whether or not the transaction ends in a queued message: a
 * client cannot get around the limit by opening sessions in parallel.
 */

#include <sys/types.h>
#include "compat.h"
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imsg.h"
#include "log.h"
#include "posternd.h"
#include "smtp.h"

#define SMTP_USAGE_BUCKETS	60	/* minutes of the sliding hour */

struct smtp_usage {
	RB_ENTRY(smtp_usage)	 node;
	char			 account[CONFIG_ADDR_MAX];
	time_t			 minute[SMTP_USAGE_BUCKETS];
	int			 messages[SMTP_USAGE_BUCKETS];
	int			 recipients[SMTP_USAGE_BUCKETS];
};
RB_HEAD(smtp_usages, smtp_usage);

static int	smtp_usage_cmp(struct smtp_usage *, struct smtp_usage *);
RB_GENERATE_STATIC(smtp_usages, smtp_usage, node, smtp_usage_cmp);

static struct smtp_usages	 usages = RB_INITIALIZER(&usages);

static int
smtp_usage_cmp(struct smtp_usage *a, struct smtp_usage *b)
{
	return strcmp(a->account, b->account);
}

static struct smtp_usage *
smtp_usage_find(const char *account)
{
	struct smtp_usage	 key;

	memset(&key, 0, sizeof(key));
	(void)strlcpy(key.account, account, sizeof(key.account));
	return RB_FIND(smtp_usages, &usages, &key);
}

/* The sum of one counter over the last hour. */
static int
smtp_usage_sum(const struct smtp_usage *u, const int *counts)
{
	time_t	 now = time(NULL) / 60;
	int	 i, sum = 0;

	for (i = 0; i < SMTP_USAGE_BUCKETS; i++)
		if (u->minute[i] > now - SMTP_USAGE_BUCKETS)
			sum += counts[i];
	return sum;
}

void
smtp_limit_count(const char *account, int messages, int recipients)
{
	struct smtp_usage	*u;
	time_t			 now = time(NULL) / 60;
	int			 b = now % SMTP_USAGE_BUCKETS;

	if ((u = smtp_usage_find(account)) == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL)
			fatal(NULL);
		(void)strlcpy(u->account, account, sizeof(u->account));
		RB_INSERT(smtp_usages, &usages, u);
	}
	if (u->minute[b] != now) {
		u->minute[b] = now;
		u->messages[b] = 0;
		u->recipients[b] = 0;
	}
	u->messages[b] += messages;
	u->recipients[b] += recipients;
}

/*
 * MAIL (recipients 0) or RCPT (1): -1, after the reply, when the user's
 * limit for the last hour is reached.
 */
int
smtp_limit_reached(struct smtp_session *s, int recipients)
{
	const struct config	*conf = smtp_conf();
	struct smtp_usage	*u;
	const char		*what = recipients ? "recipients" : "messages";
	int			 limit;

	limit = recipients ? conf->limits.user_recipients_per_hour :
	    conf->limits.user_messages_per_hour;
	if ((u = smtp_usage_find(s->account)) == NULL ||
	    smtp_usage_sum(u, recipients ? u->recipients : u->messages) <
	    limit)
		return 0;
	smtp_reply(s, "451 4.7.1 Too many %s from %s in the last hour "
	    "(limit %d), try again later", what, s->account, limit);
	smtp_reject_event(s, recipients ? "user recipient limit" :
	    "user message limit", s->account);
	return -1;
}

static void
smtp_sender_ask(struct smtp_session *s, const char *address,
    enum smtp_sender_check what)
{
	struct ibuf	 ib;

	ibuf_init(&ib);
	ibuf_add_u64(&ib, s->id);
	ibuf_add_str(&ib, s->account);
	ibuf_add_str(&ib, address);
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	smtp_send_auth(IMSG_AUTH_SENDER, ib.data, ib.len);
	ibuf_free(&ib);
	s->sender_check = what;
	s->waiting = 1;
}

/* MAIL FROM of an authenticated session: s->sender is set, not null. */
void
smtp_sender_check_mail(struct smtp_session *s)
{
	smtp_sender_ask(s, s->sender, SMTP_SENDER_MAIL);
}

/* The message is refused at its end; the session goes on. */
static void
smtp_sender_refuse_message(struct smtp_session *s, const char *reason)
{
	smtp_reject_event(s, "header from", reason);
	smtp_transaction_reset(s);
	netio_set_timeout(s->io, smtp_conf()->limits.command_timeout);
}

/*
 * End of data of an authenticated session: find the one address of the
 * one From: header, then ask auth about it.  from_hdr is reused to hold
 * that address while auth answers.
 */
void
smtp_sender_check_header(struct smtp_session *s)
{
	char		 addr[CONFIG_ADDR_MAX];
	const char	*why = NULL;

	if (s->nfrom == 0)
		why = "no From: header";
	else if (s->nfrom > 1)
		why = "more than one From: header";
	else if (s->from_overflow)
		why = "From: header too long";
	else
		(void)smtp_from_parse(s->from_hdr, s->from_len, addr,
		    sizeof(addr), &why);
	if (why != NULL) {
		smtp_reply(s, "550 5.7.1 Message refused: %s", why);
		smtp_sender_refuse_message(s, why);
		return;
	}
	(void)strlcpy(s->from_hdr, addr, sizeof(s->from_hdr));
	smtp_sender_ask(s, addr, SMTP_SENDER_HEADER);
}

static void
smtp_sender_mail_result(struct smtp_session *s, int ok)
{
	if (ok) {
		smtp_limit_count(s->account, 1, 0);
		smtp_mail_accept(s);
		return;
	}
	smtp_reply(s, "553 5.7.1 <%s>: Sender address not owned by user %s",
	    s->sender, s->account);
	smtp_reject_event(s, "sender not owned", s->sender);
	s->sender[0] = '\0';
	(void)smtp_error(s);
}

void
smtp_session_sender_result(struct smtp_session *s, struct imsg_reader *r)
{
	uint32_t	 ok;

	ok = imsg_read_u32(r);
	imsg_reader_end(r);
	if (ok > 1)
		fatalx("auth sent sender result %u", ok);
	s->waiting = 0;
	if (s->state == SMTP_S_QUIT) {
		smtp_process(s);
		return;
	}
	if (s->sender_check == SMTP_SENDER_MAIL)
		smtp_sender_mail_result(s, ok);
	else if (ok) {
		smtp_commit(s);
		return;
	} else {
		smtp_reply(s, "553 5.7.1 From: <%s> not owned by user %s",
		    s->from_hdr, s->account);
		smtp_sender_refuse_message(s, "not owned");
	}
	smtp_process(s);
}
