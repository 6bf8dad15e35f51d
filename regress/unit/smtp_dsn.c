/*
 * Unit tests for smtpd/smtp_dsn.c: RFC 3461's xtext and the RET, ENVID,
 * NOTIFY and ORCPT parameters of MAIL FROM and RCPT TO.  The module is
 * pure, so it is compiled into this test directly.
 */

#include <stdio.h>
#include <string.h>

#include "../../smtpd/smtp_dsn.c"
#include "tap.h"

static void
xtext_good(const char *in, const char *want)
{
	char		 out[64];
	const char	*why = "none";
	int		 r;

	r = smtp_xtext_decode(in, out, sizeof(out), &why);
	if (!ok(r == 0 && strcmp(out, want) == 0, "xtext \"%s\" -> \"%s\"",
	    in, want))
		printf("#   got %d \"%s\" (%s)\n", r, r == 0 ? out : "", why);
}

static void
xtext_bad(const char *in, size_t outsz, const char *want_why)
{
	char		 out[64];
	const char	*why = NULL;
	int		 r;

	r = smtp_xtext_decode(in, out, outsz, &why);
	if (!ok(r == -1 && why != NULL && strstr(why, want_why) != NULL,
	    "xtext \"%s\" refused: %s", in, want_why))
		printf("#   got %d (%s)\n", r, why ? why : "no reason");
}

static void
test_xtext(void)
{
	xtext_good("", "");
	xtext_good("abc", "abc");
	xtext_good("QQ+2B1", "QQ+1");
	xtext_good("a+3Db", "a=b");
	xtext_good("a+20b", "a b");
	xtext_good("+7E", "~");
	xtext_good("Bob+40example.org", "Bob@example.org");
	xtext_good("a+2bb", "a+b");			/* lower case taken */
	xtext_good("!\"#$%&'()*,-./:;<>?@[\\]^_`{|}~",
	    "!\"#$%&'()*,-./:;<>?@[\\]^_`{|}~");
	xtext_good("\\x{E9}@x", "\\x{E9}@x");		/* RFC 6533 */

	xtext_bad("a+", 64, "two hex digits");
	xtext_bad("a+2", 64, "two hex digits");
	xtext_bad("a+G0", 64, "two hex digits");
	xtext_bad("a+0G", 64, "two hex digits");
	xtext_bad("a+ 2", 64, "two hex digits");
	xtext_bad("a=b", 64, "not valid xtext");
	xtext_bad("a b", 64, "not valid xtext");
	xtext_bad("a\tb", 64, "not valid xtext");
	xtext_bad("a\x7f", 64, "not valid xtext");
	xtext_bad("a\xc3\xa9", 64, "not valid xtext");
	xtext_bad("a+0Ab", 64, "printable");
	xtext_bad("a+0D+0A", 64, "printable");
	xtext_bad("+00", 64, "printable");
	xtext_bad("+7F", 64, "printable");
	xtext_bad("+C3+A9", 64, "printable");
	xtext_bad("abcd", 4, "too long");
	xtext_bad("ab+41", 3, "too long");
	xtext_bad("", 0, "too long");
}

/* Each line: MAIL parameters as (keyword, value); want ret/envid or
 * a reason. */
static void
mail_check(const char *k1, const char *v1, const char *k2, const char *v2,
    int want, uint32_t want_ret, const char *want_envid,
    const char *want_why)
{
	struct smtp_dsn_mail	 d;
	const char		*why = NULL;
	int			 r;

	memset(&d, 0, sizeof(d));
	r = smtp_dsn_mail_param(&d, k1, v1, &why);
	if (r == 1 && k2 != NULL)
		r = smtp_dsn_mail_param(&d, k2, v2, &why);
	if (want == 1)
		ok(r == 1 && d.ret == want_ret &&
		    strcmp(d.envid, want_envid) == 0,
		    "MAIL %s=%s%s%s%s%s taken", k1, v1 ? v1 : "(none)",
		    k2 ? " " : "", k2 ? k2 : "", k2 ? "=" : "",
		    k2 && v2 ? v2 : "");
	else if (want == 0)
		ok(r == 0, "MAIL %s is not a DSN parameter", k1);
	else if (!ok(r == -1 && why != NULL && strstr(why, want_why) != NULL,
	    "MAIL %s=%s%s%s refused: %s", k1, v1 ? v1 : "(none)",
	    k2 ? " then " : "", k2 ? k2 : "", want_why))
		printf("#   got %d (%s)\n", r, why ? why : "no reason");
}

static void
test_mail(void)
{
	char	 envid[128];

	mail_check("RET", "FULL", NULL, NULL, 1, SPOOL_RET_FULL, "", NULL);
	mail_check("RET", "hdrs", NULL, NULL, 1, SPOOL_RET_HDRS, "", NULL);
	mail_check("ENVID", "QQ+2B1", NULL, NULL, 1, SPOOL_RET_NONE, "QQ+1",
	    NULL);
	mail_check("RET", "HDRS", "ENVID", "x", 1, SPOOL_RET_HDRS, "x", NULL);
	mail_check("SIZE", "10", NULL, NULL, 0, 0, NULL, NULL);
	mail_check("NOTIFY", "NEVER", NULL, NULL, 0, 0, NULL, NULL);

	mail_check("RET", "BOGUS", NULL, NULL, -1, 0, NULL, "FULL or HDRS");
	mail_check("RET", NULL, NULL, NULL, -1, 0, NULL, "FULL or HDRS");
	mail_check("RET", "FULLX", NULL, NULL, -1, 0, NULL, "FULL or HDRS");
	mail_check("RET", "FULL", "RET", "HDRS", -1, 0, NULL, "twice");
	mail_check("ENVID", "a", "ENVID", "b", -1, 0, NULL, "twice");
	mail_check("ENVID", NULL, NULL, NULL, -1, 0, NULL, "needs a value");
	mail_check("ENVID", "a+0Db", NULL, NULL, -1, 0, NULL, "printable");
	mail_check("ENVID", "a+zz", NULL, NULL, -1, 0, NULL, "hex digits");

	memset(envid, 'e', 100);
	envid[100] = '\0';
	mail_check("ENVID", envid, NULL, NULL, 1, SPOOL_RET_NONE, envid, NULL);
	envid[100] = 'e';
	envid[101] = '\0';
	mail_check("ENVID", envid, NULL, NULL, -1, 0, NULL, "100 characters");
}

/* RCPT parameters: taken (want 1, with notify and orcpt), not RFC
 * 3461's (0), or refused (-1, with a word of the reason). */
static const struct rcpt_case {
	const char	*k, *v;
	int		 want;
	uint32_t	 notify;
	const char	*orcpt_or_why;
} rcpt_cases[] = {
	{ "NOTIFY", "NEVER", 1, SPOOL_NOTIFY_NEVER, "" },
	{ "NOTIFY", "never", 1, SPOOL_NOTIFY_NEVER, "" },
	{ "NOTIFY", "SUCCESS", 1, SPOOL_NOTIFY_SUCCESS, "" },
	{ "NOTIFY", "FAILURE,DELAY", 1,
	    SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY, "" },
	{ "NOTIFY", "Delay,Success,Failure", 1, SPOOL_NOTIFY_SUCCESS |
	    SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY, "" },
	{ "NOTIFY", "SUCCESS,SUCCESS", 1, SPOOL_NOTIFY_SUCCESS, "" },
	{ "ORCPT", "rfc822;Bob+40x", 1, 0, "rfc822;Bob@x" },
	{ "ORCPT", "RFC822;a@b.example", 1, 0, "rfc822;a@b.example" },
	{ "ORCPT", "utf-8;\\x{E9}+40b.example", 1, 0,
	    "utf-8;\\x{E9}@b.example" },
	{ "ORCPT", "x-local;a;b", 1, 0, "x-local;a;b" },
	{ "ORCPT", "x400;c+3Dgb+3Ba+3Dx", 1, 0, "x400;c=gb;a=x" },
	{ "SIZE", "1", 0, 0, NULL },
	{ "RET", "FULL", 0, 0, NULL },

	{ "NOTIFY", "NEVER,SUCCESS", -1, 0, "NEVER cannot" },
	{ "NOTIFY", "FAILURE,NEVER", -1, 0, "NEVER cannot" },
	{ "NOTIFY", "BOGUS", -1, 0, "must be NEVER" },
	{ "NOTIFY", "SUCCESS,", -1, 0, "must be NEVER" },
	{ "NOTIFY", ",SUCCESS", -1, 0, "must be NEVER" },
	{ "NOTIFY", "SUCCESS,,FAILURE", -1, 0, "must be NEVER" },
	{ "NOTIFY", "SUCCESSFAILURE", -1, 0, "must be NEVER" },
	{ "NOTIFY", "SUCC", -1, 0, "must be NEVER" },
	{ "NOTIFY", NULL, -1, 0, "needs a value" },
	{ "ORCPT", NULL, -1, 0, "needs a value" },
	{ "ORCPT", "rfc822", -1, 0, "address-type;address" },
	{ "ORCPT", ";a@b", -1, 0, "address-type;address" },
	{ "ORCPT", "rfc822;", -1, 0, "empty address" },
	{ "ORCPT", "rf(c;a@b", -1, 0, "bad address type" },
	{ "ORCPT", "a@b;a@b", -1, 0, "bad address type" },
	{ "ORCPT", "rfc822;a+0Ab", -1, 0, "printable" },
	{ "ORCPT", "rfc822;a+0", -1, 0, "hex digits" },
	{ "ORCPT", "rfc822;a=b", -1, 0, "xtext" },
};

static void
rcpt_check(const char *k, const char *v, int want, uint32_t want_notify,
    const char *orcpt_or_why)
{
	struct smtp_dsn_rcpt	 d;
	const char		*why = NULL;
	int			 r;

	memset(&d, 0, sizeof(d));
	r = smtp_dsn_rcpt_param(&d, k, v, &why);
	if (want == 1) {
		if (!ok(r == 1 && d.notify == want_notify &&
		    strcmp(d.orcpt, orcpt_or_why) == 0, "RCPT %s=%.40s taken",
		    k, v))
			printf("#   got %d %#x \"%s\" (%s)\n", r, d.notify,
			    d.orcpt, why ? why : "");
	} else if (want == 0)
		ok(r == 0, "RCPT %s is not a DSN parameter", k);
	else {
		if (!ok(r == -1 && why != NULL &&
		    strstr(why, orcpt_or_why) != NULL,
		    "RCPT %s=%.40s refused: %s", k, v ? v : "(none)",
		    orcpt_or_why))
			printf("#   got %d (%s)\n", r, why ? why : "no reason");
		ok(d.notify == 0 && d.orcpt[0] == '\0',
		    "and nothing of it is kept");
	}
}

static void
test_rcpt(void)
{
	const struct rcpt_case	*c;
	struct smtp_dsn_rcpt	 d;
	const char		*why = NULL;
	char			 orcpt[600];
	size_t			 i;

	for (i = 0; i < sizeof(rcpt_cases) / sizeof(rcpt_cases[0]); i++) {
		c = &rcpt_cases[i];
		rcpt_check(c->k, c->v, c->want, c->notify, c->orcpt_or_why);
	}

	memset(orcpt, 'o', sizeof(orcpt));
	memcpy(orcpt, "rfc822;", 7);
	orcpt[500] = '\0';
	rcpt_check("ORCPT", orcpt, 1, 0, orcpt);
	orcpt[500] = 'o';
	orcpt[501] = '\0';
	rcpt_check("ORCPT", orcpt, -1, 0, "500 characters");

	memset(&d, 0, sizeof(d));
	ok(smtp_dsn_rcpt_param(&d, "NOTIFY", "SUCCESS", &why) == 1 &&
	    smtp_dsn_rcpt_param(&d, "NOTIFY", "FAILURE", &why) == -1 &&
	    strstr(why, "twice") != NULL, "NOTIFY twice refused");
	ok(smtp_dsn_rcpt_param(&d, "ORCPT", "rfc822;a@b", &why) == 1 &&
	    smtp_dsn_rcpt_param(&d, "ORCPT", "rfc822;c@d", &why) == -1 &&
	    strstr(why, "twice") != NULL, "ORCPT twice refused");
	is_str(d.orcpt, "rfc822;a@b", "the first ORCPT is kept");
}

int
main(void)
{
	test_xtext();
	test_mail();
	test_rcpt();
	return done_testing();
}
