/*
 * auth_ctl.c: posternctl's user commands, relayed by the parent as
 * IMSG_AUTH_CTL (u32 ctlid, then a ctl_request), answered with
 * IMSG_AUTH_CTL_OUTPUT / _ERROR chunks (u32 ctlid, str text) and one
 * IMSG_AUTH_CTL_END (u32 ctlid, u32 status), as the queue's.
 *
 *	user add ADDR PASSWORD		a store account
 *	user del ADDR
 *	user passwd ADDR PASSWORD
 *	user lock ADDR [DURATION]	disabled, or locked for DURATION
 *	user unlock ADDR
 *	user list | show ADDR
 *	user totp enroll ADDR		a pending secret, printed once
 *	user totp confirm ADDR CODE	the first code turns it on
 *	user totp disable ADDR
 *	user apppass add ADDR LABEL [SERVICES]	a new app password, printed
 *	user apppass list ADDR			once
 *	user apppass revoke ADDR LABEL
 *
 * A password travels as the last argument with CTL_FLAG_SECRET, which
 * keeps it out of the parent's audit record; it is wiped here after use.
 * Every change is on disk (auth_store_save) before the answer says so;
 * if the write fails the store is read back from disk, so memory never
 * holds what the disk does not.  Config accounts cannot be added,
 * deleted or given a password here.
 *
 * Trusts: the parent, which checked the client's role.
 */

#include <sys/types.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "control.h"
#include "ctlout.h"
#include "log.h"
#include "proto.h"
#include "totp.h"

#define APPPASS_BYTES		20	/* 160 bits */
#define TOTP_PENDING_MAX	(15 * 60)	/* an enrolment's lifetime */

struct actl_cmd {
	const char	*name;		/* after "user" */
	const char	*sub;		/* or NULL */
	int		 nargs;		/* words after the name (and sub) */
	int		 optargs;	/* of which optional */
	int		 secret;	/* the last argument is a secret */
	int		 account;	/* the first is an existing account */
	const char	*usage;
	int		(*run)(struct ctl_out *, struct acct *, char **);
};

/* Makes a change durable; on failure memory goes back to the disk. */
static int
actl_commit(struct ctl_out *o)
{
	if (auth_store_save() == 0)
		return 0;
	auth_store_revert();
	ctl_out_error(o, "cannot write the account store (see the log); "
	    "nothing was changed");
	return 1;
}

static const char *
actl_state(const struct acct *a, char *buf, size_t sz)
{
	struct tm	 tm;

	switch (a->state) {
	case ACCT_ACTIVE:
		return "active";
	case ACCT_DISABLED:
		return "disabled";
	case ACCT_LOCKED:
		break;
	}
	if (gmtime_r(&a->locked_until, &tm) == NULL ||
	    strftime(buf, sz, "locked until %Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return "locked";
	return buf;
}

static const char *
actl_state_name(const struct acct *a)
{
	return a->state == ACCT_ACTIVE ? "active" : a->state == ACCT_LOCKED ?
	    "locked" : "disabled";
}

static void
actl_time(time_t t, char *buf, size_t sz)
{
	struct tm	 tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)strlcpy(buf, "-", sz);
}

static int
actl_list(struct ctl_out *o, struct acct *unused, char **argv)
{
	struct acct		*a;
	char			 changed[32];
	int			 first = 1;
	time_t			 now = time(NULL);

	if (!o->json)
		ctl_out_printf(o, "%-40s %-6s %-8s %-4s %-4s %s\n", "ADDRESS",
		    "SOURCE", "STATE", "TOTP", "APP", "CHANGED");
	else
		ctl_out_printf(o, "[");
	TAILQ_FOREACH(a, auth_store_list(), entry) {
		(void)auth_account_locked(a, now);
		actl_time(a->changed, changed, sizeof(changed));
		if (o->json) {
			ctl_out_printf(o, "%s{\"address\":\"%s\",\"source\":"
			    "\"%s\",\"state\":\"%s\",\"totp\":%s,"
			    "\"apppasswords\":%zu,\"changed\":%lld}",
			    first ? "" : ",", a->address, a->from_config ?
			    "config" : "store", actl_state_name(a),
			    a->totp_on ? "true" : "false", a->napp,
			    (long long)a->changed);
			first = 0;
			continue;
		}
		ctl_out_printf(o, "%-40s %-6s %-8s %-4s %-4zu %s\n", a->address,
		    a->from_config ? "config" : "store", actl_state_name(a),
		    a->totp_on ? "on" : "off", a->napp, changed);
	}
	if (o->json)
		ctl_out_printf(o, "]\n");
	return 0;
}

static int
actl_show(struct ctl_out *o, struct acct *a, char **argv)
{
	char			 st[64], t[32];
	time_t			 now = time(NULL);

	(void)auth_account_locked(a, now);
	if (o->json) {
		ctl_out_printf(o, "{\"address\":\"%s\",\"source\":\"%s\","
		    "\"state\":\"%s\",\"locked_until\":%lld,\"changed\":%lld,"
		    "\"expired\":%s,\"failures\":%u,\"totp\":%s,"
		    "\"totp_pending\":%s,\"apppasswords\":%zu}\n", a->address,
		    a->from_config ? "config" : "store", actl_state_name(a),
		    (long long)a->locked_until, (long long)a->changed,
		    auth_password_expired(a, now) ? "true" : "false",
		    a->failures, a->totp_on ? "true" : "false",
		    a->totp_pending_on ? "true" : "false", a->napp);
		return 0;
	}
	ctl_out_printf(o, "address:    %s\n", a->address);
	ctl_out_printf(o, "source:     %s\n", a->from_config ? "config (the "
	    "password is set in the config file)" : "store");
	ctl_out_printf(o, "state:      %s\n", actl_state(a, st, sizeof(st)));
	actl_time(a->changed, t, sizeof(t));
	ctl_out_printf(o, "password:   changed %s%s\n", t,
	    auth_password_expired(a, now) ? " (expired)" : "");
	ctl_out_printf(o, "failures:   %u\n", a->failures);
	ctl_out_printf(o, "totp:       %s\n", a->totp_on ? "on" :
	    a->totp_pending_on ? "enrolment pending" : "off");
	ctl_out_printf(o, "apppasswords: %zu\n", a->napp);
	return 0;
}

static int
actl_add(struct ctl_out *o, struct acct *unused, char **argv)
{
	struct acct	*a;
	char		 why[256];

	if (!auth_address_ours(argv[0])) {
		ctl_out_error(o, "%s: not an address in one of our domains",
		    argv[0]);
		return 1;
	}
	if (auth_store_find(argv[0]) != NULL) {
		ctl_out_error(o, "%s: the account exists", argv[0]);
		return 1;
	}
	if (auth_is_alias(argv[0])) {
		ctl_out_error(o, "%s is an alias in the config file", argv[0]);
		return 1;
	}
	a = auth_store_add(argv[0]);
	if (auth_pass_set(a, argv[1], why, sizeof(why)) == -1) {
		auth_store_remove(a);
		ctl_out_error(o, "password refused: %s", why);
		return 1;
	}
	if (actl_commit(o) != 0)
		return 1;
	ctl_out_printf(o, "added %s\n", a->address);
	return 0;
}

static int
actl_config_only(struct ctl_out *o, struct acct *a, const char *what)
{
	if (!a->from_config)
		return 0;
	ctl_out_error(o, "%s is an account of the config file: %s it there",
	    a->address, what);
	return 1;
}

static int
actl_del(struct ctl_out *o, struct acct *a, char **argv)
{
	char	 addr[CONFIG_ADDR_MAX];

	if (actl_config_only(o, a, "remove"))
		return 1;
	(void)strlcpy(addr, a->address, sizeof(addr));
	auth_store_remove(a);
	if (actl_commit(o) != 0)
		return 1;
	ctl_out_printf(o, "deleted %s\n", addr);
	return 0;
}

static int
actl_passwd(struct ctl_out *o, struct acct *a, char **argv)
{
	char	 why[256];

	if (actl_config_only(o, a, "change the password"))
		return 1;
	if (auth_pass_set(a, argv[0], why, sizeof(why)) == -1) {
		ctl_out_error(o, "password refused: %s", why);
		return 1;
	}
	if (actl_commit(o) != 0)
		return 1;
	ctl_out_printf(o, "password of %s changed\n", a->address);
	return 0;
}

static int
actl_lock(struct ctl_out *o, struct acct *a, char **argv)
{
	time_t	 d = 0;
	char	 st[64];

	if (argv[0] != NULL && (config_parse_duration(argv[0], &d) == -1 ||
	    d == 0)) {
		ctl_out_error(o, "bad duration %s (e.g. 30m, 2h, 7d)", argv[0]);
		return 1;
	}
	if (d == 0) {
		a->state = ACCT_DISABLED;
		a->locked_until = 0;
	} else {
		a->state = ACCT_LOCKED;
		a->locked_until = time(NULL) + d;
	}
	if (actl_commit(o) != 0)
		return 1;
	auth_event_account("auth.lockout", a, "admin");
	ctl_out_printf(o, "%s: %s\n", a->address,
	    actl_state(a, st, sizeof(st)));
	return 0;
}

static int
actl_unlock(struct ctl_out *o, struct acct *a, char **argv)
{
	int	 was = a->state != ACCT_ACTIVE;

	a->state = ACCT_ACTIVE;
	a->locked_until = 0;
	a->failures = 0;
	a->fail_first = 0;
	if (actl_commit(o) != 0)
		return 1;
	if (was)
		auth_event_account("auth.unlock", a, "admin");
	ctl_out_printf(o, "%s: active%s\n", a->address, was ? "" :
	    " (it was not locked)");
	return 0;
}

static void
actl_uri_escape(const char *s, char *out, size_t sz)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 o = 0;

	for (; *s != '\0' && o + 4 < sz; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~", *s) != NULL)
			out[o++] = *s;
		else {
			out[o++] = '%';
			out[o++] = hex[(unsigned char)*s >> 4];
			out[o++] = hex[(unsigned char)*s & 0xf];
		}
	}
	out[o] = '\0';
}

static int
actl_totp_enroll(struct ctl_out *o, struct acct *a, char **argv)
{
	char	 b32[64], issuer[3 * 256], label[3 * CONFIG_ADDR_MAX];

	if (a->totp_on) {
		ctl_out_error(o, "%s already has TOTP on: disable it first",
		    a->address);
		return 1;
	}
	arc4random_buf(a->totp_pending, sizeof(a->totp_pending));
	a->totp_pending_on = 1;
	a->totp_pending_created = time(NULL);
	if (actl_commit(o) != 0)
		return 1;
	if (totp_base32(a->totp_pending, sizeof(a->totp_pending), b32,
	    sizeof(b32)) == -1)
		fatalx("%s: base32", __func__);
	actl_uri_escape(auth_conf()->hostname, issuer, sizeof(issuer));
	actl_uri_escape(a->address, label, sizeof(label));
	ctl_out_printf(o, "secret %s\n", b32);
	ctl_out_printf(o, "uri otpauth://totp/%s:%s?secret=%s&issuer=%s"
	    "&algorithm=SHA1&digits=%d&period=%d\n", issuer, label, b32,
	    issuer, TOTP_DIGITS, TOTP_PERIOD);
	explicit_bzero(b32, sizeof(b32));
	return 0;
}

static int
actl_totp_confirm(struct ctl_out *o, struct acct *a, char **argv)
{
	uint64_t	 step;
	time_t		 now = time(NULL);

	if (!a->totp_pending_on ||
	    now - a->totp_pending_created > TOTP_PENDING_MAX) {
		ctl_out_error(o, "%s has no TOTP enrolment pending "
		    "(enrol again)",
		    a->address);
		return 1;
	}
	if (totp_verify(a->totp_pending, sizeof(a->totp_pending), argv[0],
	    now, 0, &step) == -1) {
		ctl_out_error(o, "wrong code: TOTP stays off (check the "
		    "authenticator's clock, or enrol again)");
		return 1;
	}
	memcpy(a->totp, a->totp_pending, sizeof(a->totp));
	explicit_bzero(a->totp_pending, sizeof(a->totp_pending));
	a->totp_pending_on = 0;
	a->totp_on = 1;
	a->totp_last_step = step;
	if (actl_commit(o) != 0)
		return 1;
	ctl_out_printf(o, "TOTP is on for %s: log in with the password "
	    "immediately followed by the current code\n", a->address);
	return 0;
}

static int
actl_totp_disable(struct ctl_out *o, struct acct *a, char **argv)
{
	int	 was = a->totp_on || a->totp_pending_on;

	explicit_bzero(a->totp, sizeof(a->totp));
	explicit_bzero(a->totp_pending, sizeof(a->totp_pending));
	a->totp_on = a->totp_pending_on = 0;
	a->totp_last_step = 0;
	if (actl_commit(o) != 0)
		return 1;
	ctl_out_printf(o, "TOTP is off for %s%s\n", a->address, was ? "" :
	    " (it was not on)");
	return 0;
}

static struct acct_apppass *
actl_apppass_find(struct acct *a, const char *label)
{
	size_t	 i;

	for (i = 0; i < a->napp; i++)
		if (strcmp(a->app[i].label, label) == 0)
			return &a->app[i];
	return NULL;
}

/* 160 random bits as 8 groups of 4 base32 letters, lower case. */
static void
actl_apppass_make(char *out, size_t sz)
{
	unsigned char	 raw[APPPASS_BYTES];
	char		 b32[64];
	size_t		 i, o = 0;

	arc4random_buf(raw, sizeof(raw));
	if (totp_base32(raw, sizeof(raw), b32, sizeof(b32)) == -1 ||
	    sz < 40)
		fatalx("%s", __func__);
	for (i = 0; b32[i] != '\0'; i++) {
		if (i > 0 && i % 4 == 0)
			out[o++] = '-';
		out[o++] = (char)tolower((unsigned char)b32[i]);
	}
	out[o] = '\0';
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(b32, sizeof(b32));
}

static int
actl_apppass_add(struct ctl_out *o, struct acct *a, char **argv)
{
	struct acct_apppass	*ap;
	uint32_t		 svc = ACCT_SVC_ALL;
	char			 pw[64];

	if (!acct_label_ok(argv[0])) {
		ctl_out_error(o, "bad label %s: 1 to %d of A-Z a-z 0-9 . _ -",
		    argv[0], ACCT_LABEL_MAX - 1);
		return 1;
	}
	if (argv[1] != NULL && acct_services_parse(argv[1], &svc) == -1) {
		ctl_out_error(o, "bad services %s: smtp, imap or smtp,imap",
		    argv[1]);
		return 1;
	}
	if (actl_apppass_find(a, argv[0]) != NULL) {
		ctl_out_error(o, "%s already has an app password %s",
		    a->address, argv[0]);
		return 1;
	}
	if (a->napp == ACCT_APPPASS_MAX) {
		ctl_out_error(o, "%s has %d app passwords already", a->address,
		    ACCT_APPPASS_MAX);
		return 1;
	}
	ap = &a->app[a->napp++];
	memset(ap, 0, sizeof(*ap));
	(void)strlcpy(ap->label, argv[0], sizeof(ap->label));
	ap->services = svc;
	ap->created = time(NULL);
	actl_apppass_make(pw, sizeof(pw));
	auth_apppass_digest(pw, ap->sha256);
	if (actl_commit(o) != 0) {
		explicit_bzero(pw, sizeof(pw));
		return 1;
	}
	ctl_out_printf(o, "app password %s for %s (%s), shown only now:\n%s\n",
	    ap->label, a->address, acct_services_name(svc), pw);
	explicit_bzero(pw, sizeof(pw));
	return 0;
}

static int
actl_apppass_list(struct ctl_out *o, struct acct *a, char **argv)
{
	char	 c[32], u[32];
	size_t	 i;

	if (o->json)
		ctl_out_printf(o, "[");
	else
		ctl_out_printf(o, "%-24s %-10s %-20s %s\n", "LABEL", "SERVICES",
		    "CREATED", "LAST USED");
	for (i = 0; i < a->napp; i++) {
		actl_time(a->app[i].created, c, sizeof(c));
		actl_time(a->app[i].last_used, u, sizeof(u));
		if (o->json)
			ctl_out_printf(o, "%s{\"label\":\"%s\",\"services\":"
			    "\"%s\",\"created\":%lld,\"last_used\":%lld}",
			    i > 0 ? "," : "", a->app[i].label,
			    acct_services_name(a->app[i].services),
			    (long long)a->app[i].created,
			    (long long)a->app[i].last_used);
		else
			ctl_out_printf(o, "%-24s %-10s %-20s %s\n",
			    a->app[i].label,
			    acct_services_name(a->app[i].services), c, u);
	}
	if (o->json)
		ctl_out_printf(o, "]\n");
	return 0;
}

static int
actl_apppass_revoke(struct ctl_out *o, struct acct *a, char **argv)
{
	struct acct_apppass	*ap;
	size_t			 i;

	if ((ap = actl_apppass_find(a, argv[0])) == NULL) {
		ctl_out_error(o, "%s has no app password %s", a->address,
		    argv[0]);
		return 1;
	}
	i = ap - a->app;
	memmove(&a->app[i], &a->app[i + 1], (a->napp - i - 1) *
	    sizeof(a->app[0]));
	a->napp--;
	explicit_bzero(&a->app[a->napp], sizeof(a->app[0]));
	if (actl_commit(o) != 0)
		return 1;
	ctl_out_printf(o, "app password %s of %s revoked\n", argv[0],
	    a->address);
	return 0;
}

static const struct actl_cmd actl_cmds[] = {
	{ "list", NULL, 0, 0, 0, 0, "user list", actl_list },
	{ "show", NULL, 1, 0, 0, 1, "user show ADDRESS", actl_show },
	{ "add", NULL, 2, 0, 1, 0, "user add ADDRESS", actl_add },
	{ "del", NULL, 1, 0, 0, 1, "user del ADDRESS", actl_del },
	{ "passwd", NULL, 2, 0, 1, 1, "user passwd ADDRESS", actl_passwd },
	{ "lock", NULL, 2, 1, 0, 1, "user lock ADDRESS [DURATION]",
	    actl_lock },
	{ "unlock", NULL, 1, 0, 0, 1, "user unlock ADDRESS", actl_unlock },
	{ "totp", "enroll", 1, 0, 0, 1, "user totp enroll ADDRESS",
	    actl_totp_enroll },
	{ "totp", "confirm", 2, 0, 0, 1, "user totp confirm ADDRESS CODE",
	    actl_totp_confirm },
	{ "totp", "disable", 1, 0, 0, 1, "user totp disable ADDRESS",
	    actl_totp_disable },
	{ "apppass", "add", 3, 1, 0, 1, "user apppass add ADDRESS LABEL "
	    "[smtp|imap|smtp,imap]", actl_apppass_add },
	{ "apppass", "list", 1, 0, 0, 1, "user apppass list ADDRESS",
	    actl_apppass_list },
	{ "apppass", "revoke", 2, 0, 0, 1, "user apppass revoke ADDRESS "
	    "LABEL", actl_apppass_revoke },
};

static const struct actl_cmd *
actl_find(struct ctl_request *req, int *first)
{
	const struct actl_cmd	*c;
	size_t			 i;

	for (i = 0; i < sizeof(actl_cmds) / sizeof(actl_cmds[0]); i++) {
		c = &actl_cmds[i];
		if (strcmp(req->argv[1], c->name) != 0)
			continue;
		if (c->sub == NULL) {
			*first = 2;
			return c;
		}
		if (req->argc > 2 && strcmp(req->argv[2], c->sub) == 0) {
			*first = 3;
			return c;
		}
	}
	return NULL;
}

static int
actl_run(struct ctl_out *o, struct ctl_request *req)
{
	const struct actl_cmd	*c;
	struct acct		*a = NULL;
	char			*args[4] = { NULL, NULL, NULL, NULL };
	int			 first, n, i;

	if (req->argc < 2 || strcmp(req->argv[0], "user") != 0 ||
	    (c = actl_find(req, &first)) == NULL) {
		ctl_out_error(o, "usage: user add|del|passwd|lock|unlock|list|"
		    "show|totp enroll|totp confirm|totp disable|apppass add|"
		    "apppass list|apppass revoke");
		return 1;
	}
	n = req->argc - first;
	if (n > c->nargs || n < c->nargs - c->optargs ||
	    ((req->flags & CTL_FLAG_SECRET) != 0) != (c->secret != 0)) {
		ctl_out_error(o, "usage: %s", c->usage);
		return 1;
	}
	for (i = 0; i < n; i++)
		args[i] = req->argv[first + i];
	if (!c->account)
		return c->run(o, NULL, args);
	if ((a = auth_store_find(args[0])) == NULL) {
		ctl_out_error(o, "%s: no such account", args[0]);
		return 1;
	}
	return c->run(o, a, args + 1);
}

void
auth_ctl(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_request	 req;
	struct ctl_out		 o;
	int			 i, status;

	ctl_out_begin(&o, iev, imsg, IMSG_AUTH_CTL_OUTPUT, &req);
	status = actl_run(&o, &req);
	for (i = 0; i < req.argc; i++)
		explicit_bzero(req.argv[i], strlen(req.argv[i]));
	ctl_request_free(&req);
	ctl_out_end(&o, (uint32_t)status);
}
