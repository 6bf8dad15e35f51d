/*
 * Unit tests for the submission sender check's parsers, which live in
 * the smtp role: smtpd/smtp_from.c (the one address of a header From:)
 * and smtpd/smtp_base64.c (strict base64 of AUTH responses).  Both are
 * pure, so they are compiled into this test directly.
 */

#include <stdio.h>
#include <string.h>

#include "../../smtpd/smtp_base64.c"
#include "../../smtpd/smtp_from.c"
#include "tap.h"

/* want: the address, or NULL for a refusal whose reason holds want_why. */
static void
from_check(const char *value, const char *want, const char *want_why)
{
	char		 addr[CONFIG_ADDR_MAX];
	const char	*why = NULL;
	int		 r, good;

	r = smtp_from_parse(value, strlen(value), addr, sizeof(addr), &why);
	if (want != NULL)
		good = r == 0 && strcmp(addr, want) == 0;
	else
		good = r == -1 && why != NULL && addr[0] == '\0' &&
		    strstr(why, want_why) != NULL;
	if (!ok(good, "From:%s -> %s", value, want ? want : want_why))
		printf("#   got %d \"%s\" (%s)\n", r, addr,
		    why ? why : "no reason");
}

#define from_good(v, a)		from_check((v), (a), NULL)
#define from_bad(v, w)		from_check((v), NULL, (w))

static void
test_from(void)
{
	char		 big[4096];
	const char	*why;
	char		 addr[CONFIG_ADDR_MAX];

	from_good(" alice@example.org", "alice@example.org");
	from_good("alice@Example.ORG", "alice@example.org");
	from_good(" <alice@example.org>", "alice@example.org");
	from_good(" Alice <alice@example.org>", "alice@example.org");
	from_good(" Alice Q. Public <alice@example.org>",
	    "alice@example.org");
	from_good(" \"Public, Alice\" <alice@example.org>",
	    "alice@example.org");
	from_good(" \"bob@evil.example\" <alice@example.org>",
	    "alice@example.org");
	from_good(" \"<bob@evil.example>\" <alice@example.org>",
	    "alice@example.org");
	from_good(" \"a \\\" quote, <x@y>\" <alice@example.org>",
	    "alice@example.org");
	from_good(" alice@example.org (Alice <bob@evil.example>)",
	    "alice@example.org");
	from_good(" (c (nested) <x@y>) Alice <alice@example.org>",
	    "alice@example.org");
	from_good(" Alice <alice(c)@(d)example.org>", "alice@example.org");
	from_good(" Alice\r\n\t<alice@example.org>", "alice@example.org");
	from_good(" =?utf-8?q?J=C3=B6rg?= <alice@example.org>",
	    "alice@example.org");
	from_good(" J\xc3\xb6rg <alice@example.org>", "alice@example.org");
	from_good(" <@relay.example:alice@example.org>", "alice@example.org");
	from_good(" \"al ice\"@example.org", "\"al ice\"@example.org");
	from_good(" alice@[192.0.2.1]", "alice@[192.0.2.1]");
	from_good(" Team: alice@example.org;", "alice@example.org");
	from_good(" Team: Alice <alice@example.org> ;", "alice@example.org");
	from_good(" , alice@example.org,", "alice@example.org");
	from_good(" Team:;, alice@example.org", "alice@example.org");

	from_bad("", "no address");
	from_bad("   ", "no address");
	from_bad(" (only a comment)", "no address");
	from_bad(" Alice", "display name without an address");
	from_bad(" undisclosed-recipients:;", "no address");
	from_bad(" a@example.org, b@example.org", "more than one address");
	from_bad(" Alice <a@example.org>, Bob <b@example.org>",
	    "more than one address");
	from_bad(" Team: a@example.org, b@example.org;",
	    "more than one address");
	from_bad(" Team: a@example.org", "unterminated group");
	from_bad(" Team: Inner: a@example.org;;", "unexpected character");
	from_bad(" <alice@example.org", "unterminated <>");
	from_bad(" alice", "display name without an address");
	from_bad(" <alice>", "no '@'");
	from_bad(" alice@", "no domain");
	from_bad(" alice@example.org.", "bad address");
	from_bad(" alice@exa mple.org", "unexpected character");
	from_bad(" \"Alice <alice@example.org>", "unterminated quoted");
	from_bad(" (Alice <alice@example.org>", "unterminated comment");
	from_bad(" alice@example.org <bob@example.org>",
	    "unexpected character");
	from_bad(" Alice Smith@example.org", "unexpected character");
	from_bad(" alice@[192.0.2.1", "bad domain literal");
	from_bad(" alice@\"example.org\"", "no domain");
	from_bad(" <>", "no address in <>");
	from_bad(" alice@example.org;", "unexpected character");
	from_bad(" al\x01ice@example.org", "unexpected character");

	/* A long display name is fine; an endless one is not. */
	memset(big, 'x', sizeof(big));
	memcpy(big, " ", 1);
	memcpy(big + sizeof(big) - 24, " <alice@example.org>", 21);
	big[sizeof(big) - 3] = '\0';
	from_good(big, "alice@example.org");
	big[0] = '\0';
	for (int i = 0; i < 100; i++)
		(void)strlcat(big, " w", sizeof(big));
	(void)strlcat(big, " <alice@example.org>", sizeof(big));
	from_bad(big, "display name too long");

	/* Bytes after an embedded NUL are still inside len: refused. */
	ok(smtp_from_parse("a@example.org\0b", 15, addr, sizeof(addr),
	    &why) == -1, "a NUL inside the value is refused");
}

static void
b64_good(const char *in, const char *want, size_t wantlen)
{
	unsigned char	 out[64];
	ssize_t		 n;

	n = smtp_b64_decode(in, strlen(in), out, sizeof(out));
	ok(n == (ssize_t)wantlen && memcmp(out, want, wantlen) == 0,
	    "base64 \"%s\" decodes", in);
}

static void
b64_bad(const char *in, size_t outsz, const char *name)
{
	unsigned char	 out[64];

	ok(smtp_b64_decode(in, strlen(in), out, outsz) == -1,
	    "base64 \"%s\" refused: %s", in, name);
}

static void
test_base64(void)
{
	/* RFC 4648 10 */
	b64_good("", "", 0);
	b64_good("Zg==", "f", 1);
	b64_good("Zm8=", "fo", 2);
	b64_good("Zm9v", "foo", 3);
	b64_good("Zm9vYg==", "foob", 4);
	b64_good("Zm9vYmE=", "fooba", 5);
	b64_good("Zm9vYmFy", "foobar", 6);
	b64_good("AHVzZXIAcGFzcw==", "\0user\0pass", 10);
	b64_good("+/+/", "\xfb\xff\xbf", 3);

	b64_bad("Zg", 64, "no padding");
	b64_bad("Zg=", 64, "short padding");
	b64_bad("Zg===", 64, "too much padding");
	b64_bad("Z===", 64, "three pad characters");
	b64_bad("Zh==", 64, "unused bits set");
	b64_bad("Zm9=", 64, "unused bits set (one pad)");
	b64_bad("Zg==Zg==", 64, "padding in the middle");
	b64_bad("Zm=v", 64, "padding before data");
	b64_bad("Zm9v Yg==", 64, "a space");
	b64_bad("Zm9v\r\n", 64, "a line end");
	b64_bad("Zm9-", 64, "URL-safe alphabet");
	b64_bad("Zm9_", 64, "URL-safe alphabet");
	b64_bad("=", 64, "a lone '='");
	b64_bad("*", 64, "'*'");
	b64_bad("Zm9vYmFy", 5, "too long for the buffer");
	b64_bad("Zm9vYg==", 3, "too long for the buffer (padded)");
}

int
main(void)
{
	test_from();
	test_base64();
	return done_testing();
}
