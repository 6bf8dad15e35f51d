/*
 * auth_login.c: IMSG_AUTH_LOGIN from smtp and imap.
 *
 * The secret is tried, in this order, as one of the account's app
 * passwords for the service, then as the password (with TOTP on: the
 * password immediately followed by the 6-digit code).  Exactly one
 * crypt(3) verification runs per login that is not an app password,
 * against a dummy hash when the user is unknown, disabled or locked, so
 * these cost the same time as a wrong password, and the reply's text
 * never says which it was.
 *
 * Lockout (auth.lockout): `attempts` failures of an account within
 * `window` lock it for `duration`; the lock and the counter are in the
 * store, so a restart keeps them; a success resets the counter.
 *
 * Per client IP, failures delay the reply: no delay for the first,
 * then 25, 50, 100 ms and AUTH_DELAY_MAX from the fifth on, and the
 * replies to one IP are spaced by that much even when they come from
 * many sessions at once, so one address cannot grind through passwords
 * for many accounts faster than 1/AUTH_DELAY_MAX.  An IP's count is
 * forgotten after lockout.window without failures.  The delay is a
 * libevent timer: the process never sleeps.
 *
 * What a login changes (a counter, a lockout, the TOTP step) is on disk
 * before the reply.  Every failure writes the store, even when nothing
 * changed (an unknown user), so that the write's fsyncs do not tell a
 * known account from an unknown one.
 */

#include <sys/types.h>
#include "compat.h"
#include <sys/time.h>
#include <sys/tree.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "log.h"
#include "proto.h"
#include "totp.h"

#define AUTH_DELAY_FIRST_MS	25
#define AUTH_DELAY_MAX_MS	200
#define AUTH_IP_MAX		4096	/* IPs remembered */
#define AUTH_IP_LEN		64

struct auth_ip {
	RB_ENTRY(auth_ip)	 node;
	char			 ip[AUTH_IP_LEN];
	uint32_t		 failures;
	time_t			 last_failure;
	struct timeval		 next_reply;	/* monotonic */
};
RB_HEAD(auth_ips, auth_ip);

struct auth_reply {
	struct event		*ev;
	enum proc_role		 peer;
	uint64_t		 reqid;
	uint32_t		 result;
	char			 account[CONFIG_ADDR_MAX];
	char			 text[64];
};

struct auth_attempt {
	uint32_t		 service;
	char			 ip[AUTH_IP_LEN];
	char			 user[CONFIG_ADDR_MAX];
	char			 secret[AUTH_SECRET_MAX + 1];
	const char		*reason;	/* a failure's, for the event */
	const char		*text;		/* for the reply */
	int			 persist;	/* the store changed */
};

static int	auth_ip_cmp(struct auth_ip *, struct auth_ip *);
RB_GENERATE_STATIC(auth_ips, auth_ip, node, auth_ip_cmp);

static struct auth_ips	 ips = RB_INITIALIZER(&ips);
static size_t		 nips;

static int
auth_ip_cmp(struct auth_ip *a, struct auth_ip *b)
{
	return strcmp(a->ip, b->ip);
}

static const char *
auth_service_name(uint32_t service)
{
	return service == AUTH_SVC_SMTP ? "smtp" : "imap";
}

/* Forgets IPs that have been quiet for a window, or the oldest. */
static void
auth_ip_expire(time_t now)
{
	const struct config	*conf = auth_conf();
	struct auth_ip		*e, *next, *oldest = NULL;

	RB_FOREACH_SAFE(e, auth_ips, &ips, next) {
		if (now - e->last_failure > conf->auth.lockout.window) {
			RB_REMOVE(auth_ips, &ips, e);
			free(e);
			nips--;
		} else if (oldest == NULL ||
		    e->last_failure < oldest->last_failure)
			oldest = e;
	}
	if (nips >= AUTH_IP_MAX && oldest != NULL) {
		RB_REMOVE(auth_ips, &ips, oldest);
		free(oldest);
		nips--;
	}
}

static struct auth_ip *
auth_ip_get(const char *ip, int create)
{
	struct auth_ip	 key, *e;

	memset(&key, 0, sizeof(key));
	(void)strlcpy(key.ip, ip, sizeof(key.ip));
	if ((e = RB_FIND(auth_ips, &ips, &key)) != NULL || !create)
		return e;
	auth_ip_expire(time(NULL));
	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal(NULL);
	(void)strlcpy(e->ip, ip, sizeof(e->ip));
	RB_INSERT(auth_ips, &ips, e);
	nips++;
	return e;
}

static void
auth_monotonic(struct timeval *tv)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
}

/* How long to hold the reply to a failure from ip (counted here). */
static void
auth_ip_delay(const char *ip, time_t now, struct timeval *delay)
{
	const struct config	*conf = auth_conf();
	struct auth_ip		*e = auth_ip_get(ip, 1);
	struct timeval		 mono, step, at;
	long			 ms = 0;

	if (now - e->last_failure > conf->auth.lockout.window)
		e->failures = 0;
	e->failures++;
	e->last_failure = now;
	if (e->failures > 1) {
		ms = AUTH_DELAY_FIRST_MS;
		if (e->failures < 5)
			ms <<= e->failures - 2;
		else
			ms = AUTH_DELAY_MAX_MS;
	}
	step.tv_sec = ms / 1000;
	step.tv_usec = (ms % 1000) * 1000;
	auth_monotonic(&mono);
	at = timercmp(&e->next_reply, &mono, >) ? e->next_reply : mono;
	timeradd(&at, &step, &at);
	e->next_reply = at;
	timersub(&at, &mono, delay);
}

static void
auth_reply_send(struct auth_reply *r)
{
	struct ibuf	 ib;

	ibuf_init(&ib);
	ibuf_add_u64(&ib, r->reqid);
	ibuf_add_u32(&ib, r->result);
	ibuf_add_str(&ib, r->account);
	ibuf_add_str(&ib, r->text);
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	imsgev_xcompose(child_peer(r->peer), IMSG_AUTH_LOGIN_RESULT, 0, 0, -1,
	    ib.data, ib.len);
	ibuf_free(&ib);
}

static void
auth_reply_timer(int fd, short ev, void *arg)
{
	struct auth_reply	*r = arg;

	auth_reply_send(r);
	event_free(r->ev);
	free(r);
}

static void
auth_reply(enum proc_role peer, uint64_t reqid, uint32_t result,
    const char *account, const char *text, const struct timeval *delay)
{
	struct auth_reply	 now, *r;

	if (delay == NULL || !timerisset(delay)) {
		memset(&now, 0, sizeof(now));
		r = &now;
	} else if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal(NULL);
	r->peer = peer;
	r->reqid = reqid;
	r->result = result;
	(void)strlcpy(r->account, account, sizeof(r->account));
	(void)strlcpy(r->text, text, sizeof(r->text));
	if (r == &now) {
		auth_reply_send(r);
		return;
	}
	/* libevent counts from the time cached when this loop iteration
	 * began, before the crypt and the store write: count from now. */
	(void)event_base_update_cache_time(child_base());
	if ((r->ev = evtimer_new(child_base(), auth_reply_timer, r)) == NULL ||
	    evtimer_add(r->ev, delay) == -1)
		fatalx("%s: evtimer", __func__);
}

static void
auth_event(const char *name, const struct auth_attempt *at,
    const char *address)
{
	struct log_event	 ev;

	log_event_begin(&ev, name);
	if (at->reason != NULL)
		log_event_add(&ev, "reason", "%s", at->reason);
	log_event_add(&ev, "service", "%s", auth_service_name(at->service));
	log_event_add(&ev, "address", "%s", address);
	log_event_add(&ev, "ip", "%s", at->ip);
	log_event_end(&ev);
}

static void
auth_event_lockout(const struct acct *a, const struct auth_attempt *at)
{
	struct log_event	 ev;

	log_event_begin(&ev, "auth.lockout");
	log_event_add(&ev, "reason", "%u failures", a->failures);
	log_event_add(&ev, "service", "%s", auth_service_name(at->service));
	log_event_add(&ev, "address", "%s", a->address);
	log_event_add(&ev, "ip", "%s", at->ip);
	log_event_add(&ev, "until", "%lld", (long long)a->locked_until);
	log_event_end(&ev);
}

/* 1 if a is locked now; an expired lock is lifted (and logged). */
int
auth_account_locked(struct acct *a, time_t now)
{
	if (a->state != ACCT_LOCKED)
		return 0;
	if (a->locked_until != 0 && now >= a->locked_until) {
		a->state = ACCT_ACTIVE;
		a->locked_until = 0;
		a->failures = 0;
		auth_event_account("auth.unlock", a, "expired");
		return 0;
	}
	return 1;
}

/* A failure of a known account: counts towards the lockout. */
static void
auth_count_failure(struct acct *a, struct auth_attempt *at, time_t now)
{
	const struct config	*conf = auth_conf();

	if (a->failures == 0 ||
	    now - a->fail_first > conf->auth.lockout.window) {
		a->failures = 0;
		a->fail_first = now;
	}
	a->failures++;
	at->persist = 1;
	if (a->failures < (uint32_t)conf->auth.lockout.attempts)
		return;
	a->state = ACCT_LOCKED;
	a->locked_until = now + conf->auth.lockout.duration;
	auth_event_lockout(a, at);
}

/* Index of the app password that secret is, for service; -1 if none. */
static int
auth_try_apppass(struct acct *a, const struct auth_attempt *at)
{
	unsigned char	 h[ACCT_SHA256_LEN];
	uint32_t	 svc;
	size_t		 i;
	int		 found = -1;

	if (a->napp == 0)
		return -1;
	svc = at->service == AUTH_SVC_SMTP ? ACCT_SVC_SMTP : ACCT_SVC_IMAP;
	auth_apppass_digest(at->secret, h);
	for (i = 0; i < a->napp; i++)
		if (CRYPTO_memcmp(h, a->app[i].sha256, sizeof(h)) == 0 &&
		    (a->app[i].services & svc))
			found = (int)i;
	explicit_bzero(h, sizeof(h));
	return found;
}

/* Config accounts never expire: the config does not say when. */
int
auth_password_expired(const struct acct *a, time_t now)
{
	time_t	 max = auth_conf()->auth.password.max_age;

	return max > 0 && !a->from_config && a->changed > 0 &&
	    now - a->changed > max;
}

/* Splits "password123456" into the password and the TOTP code. */
static int
auth_split_code(char *secret, char *code)
{
	size_t	 len = strlen(secret), i;

	if (len < TOTP_DIGITS + 1)
		return -1;
	for (i = len - TOTP_DIGITS; i < len; i++)
		if (!isdigit((unsigned char)secret[i]))
			return -1;
	memcpy(code, secret + len - TOTP_DIGITS, TOTP_DIGITS + 1);
	explicit_bzero(secret + len - TOTP_DIGITS, TOTP_DIGITS);
	return 0;
}

/* The password (and code) path; the result, with at->reason on failure. */
static uint32_t
auth_try_password(struct acct *a, struct auth_attempt *at, time_t now)
{
	const struct config	*conf = auth_conf();
	char			 code[TOTP_DIGITS + 1] = "";
	uint64_t		 step;
	int			 split = -1, ok;

	if (a->totp_on)
		split = auth_split_code(at->secret, code);
	ok = auth_pass_verify(at->secret, auth_store_hash(a));
	if (!ok || (a->totp_on && split == -1)) {
		at->reason = "bad password";
		return AUTH_FAIL;
	}
	if (a->totp_on) {
		if (totp_verify(a->totp, sizeof(a->totp), code, now,
		    a->totp_last_step, &step) == -1) {
			explicit_bzero(code, sizeof(code));
			at->reason = "second factor";
			return AUTH_FAIL;
		}
		explicit_bzero(code, sizeof(code));
		a->totp_last_step = step;
		at->persist = 1;
	} else if (conf->auth.two_factor == TWO_FACTOR_REQUIRED) {
		at->reason = "second factor";
		at->text = "a second factor is required: use a TOTP code "
		    "or an app password";
		return AUTH_FAIL;
	}
	if (auth_password_expired(a, now)) {
		at->reason = "expired";
		at->text = "password expired";
		return AUTH_EXPIRED;
	}
	return AUTH_OK;
}

/* An older scheme is replaced by the default on success (store only). */
static void
auth_rehash(struct acct *a, struct auth_attempt *at)
{
	char	 h[ACCT_HASH_MAX];

	if (a->from_config || auth_pass_is_default(a->hash) ||
	    auth_pass_hash(at->secret, h, sizeof(h)) == -1)
		return;
	(void)strlcpy(a->hash, h, sizeof(a->hash));
	explicit_bzero(h, sizeof(h));
	at->persist = 1;
	log_info("account %s: password rehashed with yescrypt", a->address);
}

static uint32_t
auth_check(struct acct *a, struct auth_attempt *at, time_t now)
{
	uint32_t	 result;
	int		 app;

	if (a == NULL || a->state == ACCT_DISABLED ||
	    auth_account_locked(a, now)) {
		auth_pass_dummy(at->secret);
		at->reason = a == NULL ? "unknown user" : a->state ==
		    ACCT_DISABLED ? "disabled" : "locked";
		return AUTH_FAIL;
	}
	if ((app = auth_try_apppass(a, at)) != -1) {
		if (now - a->app[app].last_used >= 60)
			at->persist = 1;
		a->app[app].last_used = now;
		result = AUTH_OK;
	} else if ((result = auth_try_password(a, at, now)) == AUTH_OK)
		auth_rehash(a, at);
	if (result == AUTH_FAIL)
		auth_count_failure(a, at, now);
	else if (a->failures > 0) {
		a->failures = 0;
		a->fail_first = 0;
		at->persist = 1;
	}
	return result;
}

void
auth_login(enum proc_role peer, struct imsg *imsg)
{
	struct imsg_reader	 r;
	struct auth_attempt	*at;
	struct timeval		 delay;
	struct acct		*a;
	uint64_t		 reqid;
	uint32_t		 result;
	time_t			 now = time(NULL);

	if ((at = calloc(1, sizeof(*at))) == NULL)
		fatal(NULL);
	imsg_reader_init(&r, imsg, "IMSG_AUTH_LOGIN");
	reqid = imsg_read_u64(&r);
	at->service = imsg_read_u32(&r);
	imsg_read_str(&r, at->ip, sizeof(at->ip));
	imsg_read_str(&r, at->user, sizeof(at->user));
	imsg_read_str(&r, at->secret, sizeof(at->secret));
	imsg_reader_end(&r);
	if (at->service != AUTH_SVC_SMTP && at->service != AUTH_SVC_IMAP)
		fatalx("IMSG_AUTH_LOGIN: bad service %u", at->service);
	at->text = "authentication failed";
	a = auth_store_find(at->user);
	result = auth_check(a, at, now);
	explicit_bzero(at->secret, sizeof(at->secret));
	/*
	 * Every failure writes the store, also for an unknown user whose
	 * write changes nothing: a write that only known accounts paid
	 * would tell them apart by time.
	 */
	if ((at->persist || result == AUTH_FAIL) && auth_store_save() == -1 &&
	    result == AUTH_OK) {
		/* A TOTP step or counter not on disk: refuse, don't lie. */
		result = AUTH_TEMPFAIL;
		at->reason = "store write failed";
		at->text = "temporary failure";
	}
	timerclear(&delay);
	if (result == AUTH_OK) {
		at->reason = NULL;
		auth_event("auth.ok", at, a->address);
		auth_reply(peer, reqid, result, a->address, "", NULL);
	} else {
		auth_event("auth.fail", at, a != NULL ? a->address : at->user);
		if (result != AUTH_TEMPFAIL)
			auth_ip_delay(at->ip, now, &delay);
		auth_reply(peer, reqid, result, "", at->text, &delay);
	}
	freezero(at, sizeof(*at));
}
