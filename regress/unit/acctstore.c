/*
 * Unit tests for lib/acctstore.c: a store with every kind of record
 * formats and parses back to the same accounts; every truncation of it
 * is refused; so is each kind of corruption, with the line named; the
 * history keeps the newest N.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acctstore.h"
#include "tap.h"

static struct acct *
add(struct acct_list *l, const char *address)
{
	struct acct	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		exit(2);
	(void)strlcpy(a->address, address, sizeof(a->address));
	TAILQ_INSERT_TAIL(l, a, entry);
	return a;
}

static void
sample(struct acct_list *l)
{
	struct acct	*a;
	size_t		 i;

	a = add(l, "alice@example.org");
	(void)strlcpy(a->hash, "$y$j9T$abc$def", sizeof(a->hash));
	a->changed = 1700000000;
	a->state = ACCT_LOCKED;
	a->locked_until = 1700000900;
	a->failures = 5;
	a->fail_first = 1699999000;
	(void)acct_history_push(a, "$y$j9T$old1$x", 5);
	(void)acct_history_push(a, "$6$salt$old2", 5);
	a->totp_on = 1;
	for (i = 0; i < ACCT_TOTP_LEN; i++)
		a->totp[i] = (unsigned char)(i * 13);
	a->totp_last_step = 56666666;
	a->napp = 2;
	(void)strlcpy(a->app[0].label, "phone", sizeof(a->app[0].label));
	a->app[0].services = ACCT_SVC_SMTP;
	a->app[0].created = 1700000100;
	a->app[0].last_used = 1700000200;
	memset(a->app[0].sha256, 0xab, ACCT_SHA256_LEN);
	(void)strlcpy(a->app[1].label, "laptop.mail_2",
	    sizeof(a->app[1].label));
	a->app[1].services = ACCT_SVC_ALL;
	a->app[1].created = 1700000300;
	memset(a->app[1].sha256, 0x01, ACCT_SHA256_LEN);

	a = add(l, "cfg@example.org");
	a->from_config = 1;
	a->state = ACCT_DISABLED;
	a->totp_pending_on = 1;
	memset(a->totp_pending, 0x7f, ACCT_TOTP_LEN);
	a->totp_pending_created = 1700000400;

	a = add(l, "bob@example.net");
	(void)strlcpy(a->hash, "$2b$10$abcdefghijklmnopqrstuv",
	    sizeof(a->hash));
}

static int
same(const struct acct *a, const struct acct *b)
{
	size_t	 i;

	if (strcmp(a->address, b->address) != 0 ||
	    a->from_config != b->from_config ||
	    strcmp(a->hash, b->hash) != 0 || a->state != b->state ||
	    a->locked_until != b->locked_until || a->changed != b->changed ||
	    a->nhistory != b->nhistory || a->failures != b->failures ||
	    a->fail_first != b->fail_first || a->totp_on != b->totp_on ||
	    memcmp(a->totp, b->totp, sizeof(a->totp)) != 0 ||
	    a->totp_last_step != b->totp_last_step ||
	    a->totp_pending_on != b->totp_pending_on ||
	    memcmp(a->totp_pending, b->totp_pending,
	    sizeof(a->totp_pending)) != 0 ||
	    a->totp_pending_created != b->totp_pending_created ||
	    a->napp != b->napp)
		return 0;
	for (i = 0; i < a->nhistory; i++)
		if (strcmp(a->history[i], b->history[i]) != 0)
			return 0;
	for (i = 0; i < a->napp; i++)
		if (strcmp(a->app[i].label, b->app[i].label) != 0 ||
		    a->app[i].services != b->app[i].services ||
		    a->app[i].created != b->app[i].created ||
		    a->app[i].last_used != b->app[i].last_used ||
		    memcmp(a->app[i].sha256, b->app[i].sha256,
		    ACCT_SHA256_LEN) != 0)
			return 0;
	return 1;
}

static char	*good;
static size_t	 goodlen;

static void
test_roundtrip(void)
{
	struct acct_list	 l = TAILQ_HEAD_INITIALIZER(l);
	struct acct_list	 back = TAILQ_HEAD_INITIALIZER(back);
	struct acct		*a, *b;
	const char		*empty = "postern-accounts 1\ncount 0\n";
	char			 err[256];
	int			 n = 0, all = 1;

	sample(&l);
	good = acct_format(&l, &goodlen);
	ok(good != NULL, "a store formats");
	ok(acct_parse(good, goodlen, &back, err, sizeof(err)) == 0,
	    "and parses back (%s)", err);
	for (a = TAILQ_FIRST(&l), b = TAILQ_FIRST(&back); a != NULL &&
	    b != NULL; a = TAILQ_NEXT(a, entry), b = TAILQ_NEXT(b, entry)) {
		all &= same(a, b);
		n++;
	}
	ok(all && n == 3 && a == NULL && b == NULL,
	    "to the same three accounts, every field");
	acct_list_free(&l);
	acct_list_free(&back);
	ok(acct_parse(empty, strlen(empty), &back, err, sizeof(err)) == 0 &&
	    TAILQ_EMPTY(&back), "an empty store parses");
}

static void
test_truncation(void)
{
	struct acct_list	 l = TAILQ_HEAD_INITIALIZER(l);
	char			 err[256];
	size_t			 len;
	int			 refused = 1;

	for (len = 0; len < goodlen; len++)
		if (acct_parse(good, len, &l, err, sizeof(err)) == 0) {
			refused = 0;
			diag("a truncated store parsed:");
			printf("# at %zu of %zu\n", len, goodlen);
			acct_list_free(&l);
		}
	ok(refused, "every one of the %zu truncations is refused", goodlen);
	ok(TAILQ_EMPTY(&l), "and leaves the list empty");
}

/* Replaces the first occurrence of from with to in the good store. */
static int
bad(const char *from, const char *to, const char *want)
{
	struct acct_list	 l = TAILQ_HEAD_INITIALIZER(l);
	char			 err[256], *buf, *p;
	size_t			 len;
	int			 r;

	if ((p = strstr(good, from)) == NULL) {
		printf("# sample has no \"%s\"\n", from);
		return 0;
	}
	len = goodlen - strlen(from) + strlen(to);
	if ((buf = malloc(len + 1)) == NULL)
		exit(2);
	memcpy(buf, good, p - good);
	memcpy(buf + (p - good), to, strlen(to));
	memcpy(buf + (p - good) + strlen(to), p + strlen(from),
	    goodlen - (p - good) - strlen(from));
	buf[len] = '\0';
	err[0] = '\0';
	r = acct_parse(buf, len, &l, err, sizeof(err));
	free(buf);
	if (r == 0) {
		acct_list_free(&l);
		return 0;
	}
	if (strstr(err, want) == NULL || strncmp(err, "line ", 5) != 0) {
		printf("# error \"%s\", want \"%s\"\n", err, want);
		return 0;
	}
	return TAILQ_EMPTY(&l);
}

static void
test_corrupt(void)
{
	static const struct {
		const char	*from, *to, *want, *name;
	} c[] = {
		{ "postern-accounts 1", "postern-accounts 2",
		    "not an account", "wrong magic" },
		{ "state active\n", "status active\n",
		    "unknown keyword", "unknown keyword" },
		{ "state active\n", "state sleeping\n",
		    "bad state", "bad state" },
		{ "state locked 1700000900", "state locked",
		    "fields", "locked without a time" },
		{ "changed 1700000000", "changed 1700000000 1",
		    "fields", "an extra field" },
		{ "changed 1700000000", "changed  1700000000",
		    "empty field", "two spaces" },
		{ "changed 1700000000", "changed 01700000000",
		    "bad number", "a leading zero" },
		{ "changed 1700000000", "changed -1",
		    "bad number", "a negative time" },
		{ "changed 1700000000", "changed 1700000000\t",
		    "control", "a tab" },
		{ "failures 5 1699999000", "failures 99999999999 1699999000",
		    "number", "failures out of range" },
		{ "account bob@example.net", "account alice@example.org",
		    "duplicate account", "a duplicate account" },
		{ "account bob@example.net", "account Bob@example.net",
		    "lower case", "an upper-case address" },
		{ "account bob@example.net", "account bob@",
		    "bad address", "a bad address" },
		{ "hash $2b$10$", "hash 2b$10$",
		    "bad hash", "a hash without $" },
		{ "hash $2b$10$", "hash $2b$10$:",
		    "bad hash", "a hash with a colon" },
		{ "source config\n", "source config\nhash $y$x$y\n",
		    "hash", "a hash on a config account" },
		{ "source store\nhash $2b$10$abcdefghijklmnopqrstuv\n",
		    "source store\n",
		    "hash", "a store account without a hash" },
		{ "totp 000d", "totp 000D",
		    "hex", "upper-case hex" },
		{ "totp 000d1a", "totp 000d1",
		    "hex digits", "short hex" },
		{ "apppass phone smtp", "apppass phone mail",
		    "services", "bad services" },
		{ "apppass laptop.mail_2", "apppass phone",
		    "duplicate label", "a duplicate app password label" },
		{ "apppass phone", "apppass ph/one",
		    "bad label", "bad label" },
		{ "count 3", "count 4",
		    "count", "count too high" },
		{ "count 3", "count 2",
		    "count", "count too low" },
		{ "count 3\n", "count 3\ncount 3\n",
		    "after count", "data after count" },
		{ "end\naccount cfg", "account cfg",
		    "account inside", "a missing end" },
		{ "state disabled\n", "",
		    "required", "a missing state" },
		{ "failures 0 0\n", "failures 0 0\nfailures 0 0\n",
		    "twice", "failures twice" },
		{ "changed 0\n", "changed 0\n\n",
		    "empty line", "an empty line" },
		{ "changed 0\n", "changed 0\nchanged 0\n",
		    "twice", "changed twice" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ok(bad(c[i].from, c[i].to, c[i].want), "%s", c[i].name);
}

static void
test_nul_and_long(void)
{
	struct acct_list	 l = TAILQ_HEAD_INITIALIZER(l);
	char			 err[256], buf[3000];
	size_t			 n;

	n = (size_t)snprintf(buf, sizeof(buf), "postern-accounts 1\n"
	    "account a@b.example\nsource store\n");
	buf[n - 1] = '\0';	/* a NUL where the newline was */
	memcpy(buf + n, "x\ncount 0\n", 10);
	ok(acct_parse(buf, n + 10, &l, err, sizeof(err)) == -1 &&
	    strstr(err, "line 3") != NULL, "a NUL byte is refused (%s)", err);
	n = (size_t)snprintf(buf, sizeof(buf), "postern-accounts 1\nhistory ");
	memset(buf + n, 'a', 2000);
	memcpy(buf + n + 2000, "\n", 1);
	ok(acct_parse(buf, n + 2001, &l, err, sizeof(err)) == -1 &&
	    strstr(err, "too long") != NULL, "an overlong line is refused");
	ok(acct_parse("", 0, &l, err, sizeof(err)) == -1 &&
	    strstr(err, "empty") != NULL, "an empty file is refused");
}

static void
test_history(void)
{
	struct acct	 a;
	char		 h[32];
	int		 i;

	memset(&a, 0, sizeof(a));
	for (i = 0; i < 8; i++) {
		(void)snprintf(h, sizeof(h), "$y$h%d", i);
		(void)acct_history_push(&a, h, 5);
	}
	ok(a.nhistory == 5 && strcmp(a.history[0], "$y$h7") == 0 &&
	    strcmp(a.history[4], "$y$h3") == 0, "history keeps the newest 5");
	(void)acct_history_push(&a, "$y$h8", 2);
	ok(a.nhistory == 2 && strcmp(a.history[1], "$y$h7") == 0,
	    "a smaller history setting trims it");
	(void)acct_history_push(&a, "$y$h9", 0);
	ok(a.nhistory == 0, "history 0 keeps none");
	free(a.history);
}

static void
test_helpers(void)
{
	uint32_t	 s;

	ok(acct_label_ok("phone") && acct_label_ok("a.b_c-1"),
	    "labels of the alphabet");
	ok(!acct_label_ok("") && !acct_label_ok("a b") &&
	    !acct_label_ok("a/b"), "empty, space, slash refused");
	ok(acct_services_parse("smtp,imap", &s) == 0 && s == ACCT_SVC_ALL &&
	    acct_services_parse("imap", &s) == 0 && s == ACCT_SVC_IMAP,
	    "services parse");
	ok(acct_services_parse("pop3", &s) == -1 &&
	    acct_services_parse("", &s) == -1, "unknown services refused");
	is_str(acct_services_name(ACCT_SVC_SMTP), "smtp", "services name");
}

int
main(void)
{
	test_roundtrip();
	test_truncation();
	test_corrupt();
	test_nul_and_long();
	test_history();
	test_helpers();
	free(good);
	return done_testing();
}
