/*
 * Unit tests for lib/addr.c: paths of MAIL FROM and RCPT TO (the relay
 * tricks above all: '%', '!', source routes, quoted '@'), local parts,
 * domains, address literals, lengths, control and 8-bit bytes, UTF-8,
 * ESMTP parameters, the bare postmaster; then mailboxes, formatting,
 * the helpers, and a deterministic fuzz that checks every accepted
 * address formats and parses back to itself.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "tap.h"

#define FUZZ_ROUNDS	100000
#define FUZZ_MAX	600

/* 65 octets, for cutting to length. */
#define LONG		"lllllllllllllllllllllllllllllllll" \
			    "llllllllllllllllllllllllllllllll"

static struct mailaddr		 a;
static struct addr_params	 p;
static int			 isnull;
static const char		*why;

/* s with every byte outside ' '..'~' as \xHH, for a test's name. */
static const char *
vis(const char *s)
{
	static char	 buf[2][1024];
	static int	 which;
	char		*b = buf[which ^= 1];
	size_t		 off = 0;

	for (; *s != '\0' && off + 5 < sizeof(buf[0]); s++) {
		unsigned char c = *s;

		if (c < 0x20 || c > 0x7e)
			off += snprintf(b + off, 5, "\\x%02x", c);
		else
			b[off++] = c;
	}
	b[off] = '\0';
	return b;
}

static int
parse(const char *arg, int reverse, int utf8)
{
	return addr_parse_path(arg, reverse, utf8, &a, &isnull, &p, &why);
}

/* Accepted, with this local part and domain. */
static void
good(const char *arg, int reverse, int utf8, const char *local,
    const char *domain)
{
	if (!ok(parse(arg, reverse, utf8) == 0, "accepts %s", vis(arg)))
		printf("#   why: %s\n", why);
	is_str(a.local, local, "  %s: local part", vis(arg));
	is_str(a.domain, domain, "  %s: domain", vis(arg));
}

/* Refused, for this reason (NULL: any). */
static void
bad(const char *arg, int reverse, int utf8, const char *reason)
{
	int	 rc = parse(arg, reverse, utf8);

	ok(rc == -1 && why != NULL, "refuses %s", vis(arg));
	if (reason != NULL && why != NULL)
		is_str(why, reason, "  %s: reason", vis(arg));
	ok(a.local[0] == '\0' && a.domain[0] == '\0' && p.n == 0,
	    "  %s: nothing left behind", vis(arg));
}

static void
test_plain(void)
{
	good("<user@example.org>", ADDR_FORWARD, 0, "user", "example.org");
	is_int(a.flags, 0, "  no flags");
	is_int(p.n, 0, "  no parameters");
	good(" <user@example.org>", ADDR_REVERSE, 0, "user", "example.org");
	good("   <user@example.org>", ADDR_FORWARD, 0, "user",
	    "example.org");
	good("<User.Name@Example.ORG>", ADDR_FORWARD, 0, "User.Name",
	    "example.org");
	good("<a!#$%&'*+-/=?^_`{|}~z@x-y.example>", ADDR_FORWARD, 0,
	    "a!#$%&'*+-/=?^_`{|}~z", "x-y.example");
	good("<u@localhost>", ADDR_FORWARD, 0, "u", "localhost");
	good("<u@a1.b2.example>", ADDR_FORWARD, 0, "u", "a1.b2.example");
	good("<u@123.example>", ADDR_FORWARD, 0, "u", "123.example");
	good("<u@xn--bcher-kva.example>", ADDR_FORWARD, 0, "u",
	    "xn--bcher-kva.example");
}

static void
test_relay_tricks(void)
{
	good("<user%other.example@ourdomain>", ADDR_FORWARD, 0,
	    "user%other.example", "ourdomain");
	good("<other.example!user@ourdomain>", ADDR_FORWARD, 0,
	    "other.example!user", "ourdomain");
	good("<@ourdomain:user@other.example>", ADDR_FORWARD, 0, "user",
	    "other.example");
	ok(a.flags & ADDR_F_ROUTE, "  source route flagged");
	good("<@a.example,@ourdomain:user@other.example>", ADDR_FORWARD, 0,
	    "user", "other.example");
	good("<\"user@other.example\"@ourdomain>", ADDR_FORWARD, 0,
	    "user@other.example", "ourdomain");
	bad("<\"user@other.example\">", ADDR_FORWARD, 0, "missing domain");
	bad("<user@other.example@ourdomain>", ADDR_FORWARD, 0,
	    "more than one @");
	bad("<user@ourdomain@other.example>", ADDR_FORWARD, 0,
	    "more than one @");
	bad("<@ourdomain:user>", ADDR_FORWARD, 0, "missing domain");
	bad("<@ourdomain>", ADDR_FORWARD, 0, "bad source route");
	bad("<@ourdomain,user@other.example>", ADDR_FORWARD, 0,
	    "bad source route");
	bad("<@ourdomain,:user@other.example>", ADDR_FORWARD, 0,
	    "bad source route");
	bad("<@[192.0.2.1]:user@other.example>", ADDR_FORWARD, 0,
	    "address literal in source route");
	bad("<@our.domain.:user@other.example>", ADDR_FORWARD, 0,
	    "trailing dot in domain");
	bad("<user@ourdomain:25>", ADDR_FORWARD, 0,
	    "bad character in domain");
	bad("<user@[ourdomain]>", ADDR_FORWARD, 0,
	    "bad IPv4 address literal");
}

static void
test_quoted(void)
{
	good("<\"simple\"@example.org>", ADDR_FORWARD, 0, "simple",
	    "example.org");
	good("<\"a b\"@example.org>", ADDR_FORWARD, 0, "a b",
	    "example.org");
	good("<\"a\\\"b\\\\c\"@example.org>", ADDR_FORWARD, 0, "a\"b\\c",
	    "example.org");
	good("<\"a..b\"@example.org>", ADDR_FORWARD, 0, "a..b",
	    "example.org");
	good("<\"\\x\"@example.org>", ADDR_FORWARD, 0, "x", "example.org");
	bad("<\"\"@example.org>", ADDR_FORWARD, 0, "empty local part");
	bad("<\"abc@example.org>", ADDR_FORWARD, 0,
	    "unterminated quoted string");
	bad("<\"abc\\", ADDR_FORWARD, 0, "bad quoted pair");
	bad("<\"a\"b@example.org>", ADDR_FORWARD, 0,
	    "bad character in local part");
	bad("<a\"b\"@example.org>", ADDR_FORWARD, 0,
	    "bad character in local part");
}

static void
test_local(void)
{
	char	 buf[512];

	bad("<.user@example.org>", ADDR_FORWARD, 0,
	    "dot at start of local part");
	bad("<user.@example.org>", ADDR_FORWARD, 0,
	    "dot at end of local part");
	bad("<us..er@example.org>", ADDR_FORWARD, 0,
	    "double dot in local part");
	bad("<@example.org>", ADDR_FORWARD, 0, NULL);
	bad("<us(er)@example.org>", ADDR_FORWARD, 0,
	    "bad character in local part");
	bad("<us\\er@example.org>", ADDR_FORWARD, 0,
	    "bad character in local part");
	bad("<user>", ADDR_FORWARD, 0, "missing domain");
	bad("<user@>", ADDR_FORWARD, 0, "missing domain");

	(void)snprintf(buf, sizeof(buf), "<%.64s@example.org>", LONG);
	good(buf, ADDR_FORWARD, 0, &LONG[1], "example.org");
	(void)snprintf(buf, sizeof(buf), "<%.65s@example.org>", LONG);
	bad(buf, ADDR_FORWARD, 0, "local part too long");
	(void)snprintf(buf, sizeof(buf), "<\"%.62s\"@example.org>",
	    LONG);
	ok(parse(buf, ADDR_FORWARD, 0) == 0, "62 quoted octets fit in 64");
	(void)snprintf(buf, sizeof(buf), "<\"%.63s\"@example.org>",
	    LONG);
	bad(buf, ADDR_FORWARD, 0, "local part too long");
}

/* A domain of n octets: labels of 63 and a tail, ending in "example". */
static void
make_domain(char *buf, size_t sz, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		buf[i] = (i % 64 == 63) ? '.' : 'd';
	buf[n] = '\0';
	if (n >= 8)
		memcpy(buf + n - 8, ".example", 8);
}

static void
test_domain(void)
{
	char	 dom[300], buf[600];

	bad("<user@example.org.>", ADDR_FORWARD, 0,
	    "trailing dot in domain");
	bad("<user@.example.org>", ADDR_FORWARD, 0, "empty domain label");
	bad("<user@example..org>", ADDR_FORWARD, 0, "empty domain label");
	bad("<user@-example.org>", ADDR_FORWARD, 0,
	    "hyphen at start of domain label");
	bad("<user@example-.org>", ADDR_FORWARD, 0,
	    "hyphen at end of domain label");
	bad("<user@exa_mple.org>", ADDR_FORWARD, 0,
	    "bad character in domain");
	bad("<user@192.0.2.1>", ADDR_FORWARD, 0, "numeric top-level domain");

	make_domain(dom, sizeof(dom), 255);
	ok(addr_domain_is_valid(dom), "a domain of 255 octets");
	make_domain(dom, sizeof(dom), 252);
	(void)snprintf(buf, sizeof(buf), "<u@%s>", dom);
	ok(parse(buf, ADDR_FORWARD, 0) == 0 && strlen(a.domain) == 252,
	    "the longest domain a path holds");
	make_domain(dom, sizeof(dom), 256);
	ok(!addr_domain_is_valid(dom), "a domain of 256 octets");
	(void)snprintf(buf, sizeof(buf), "<u@%s>", dom);
	bad(buf, ADDR_FORWARD, 0, "domain too long");
	(void)snprintf(buf, sizeof(buf), "<u@%.64s.example>",
	    LONG);
	bad(buf, ADDR_FORWARD, 0, "domain label too long");
	(void)snprintf(buf, sizeof(buf), "<u@%.63s.example>",
	    LONG);
	ok(parse(buf, ADDR_FORWARD, 0) == 0, "a label of 63 octets");

	/* 1 + 64 + 1 + 189 + 1 = 256 fits; one more octet does not. */
	make_domain(dom, sizeof(dom), 189);
	(void)snprintf(buf, sizeof(buf), "<%.64s@%s>",
	    LONG,
	    dom);
	ok(parse(buf, ADDR_FORWARD, 0) == 0 && strlen(buf) == 256,
	    "a path of 256 octets");
	make_domain(dom, sizeof(dom), 190);
	(void)snprintf(buf, sizeof(buf), "<%.64s@%s>",
	    LONG,
	    dom);
	bad(buf, ADDR_FORWARD, 0, "address too long");
	(void)snprintf(buf, sizeof(buf), "<@%s:u@example.org>", dom);
	make_domain(dom, sizeof(dom), 250);
	(void)snprintf(buf, sizeof(buf), "<@%s:u@example.org>", dom);
	bad(buf, ADDR_FORWARD, 0, "address too long");
}

static void
test_literal(void)
{
	good("<u@[192.0.2.1]>", ADDR_FORWARD, 0, "u", "[192.0.2.1]");
	ok(a.flags & ADDR_F_LITERAL, "  literal flagged");
	good("<u@[IPv6:2001:DB8:0:0:0:0:0:1]>", ADDR_FORWARD, 0, "u",
	    "[IPv6:2001:db8::1]");
	good("<u@[ipv6:::ffff:192.0.2.1]>", ADDR_FORWARD, 0, "u",
	    "[IPv6:::ffff:192.0.2.1]");
	bad("<u@[999.1.1.1]>", ADDR_FORWARD, 0, "bad IPv4 address literal");
	bad("<u@[1.2.3]>", ADDR_FORWARD, 0, "bad IPv4 address literal");
	bad("<u@[01.2.3.4]>", ADDR_FORWARD, 0, "bad IPv4 address literal");
	bad("<u@[IPv6:zzz]>", ADDR_FORWARD, 0, "bad IPv6 address literal");
	bad("<u@[IPv6:1::2::3]>", ADDR_FORWARD, 0,
	    "bad IPv6 address literal");
	bad("<u@[IPv6:fe80::1%eth0]>", ADDR_FORWARD, 0,
	    "bad IPv6 address literal");
	bad("<u@[2001:db8::1]>", ADDR_FORWARD, 0,
	    "unsupported address literal");
	bad("<u@[x400:whatever]>", ADDR_FORWARD, 0,
	    "unsupported address literal");
	bad("<u@[192.0.2.1>", ADDR_FORWARD, 0,
	    "unterminated address literal");
	bad("<u@[192.0.2.1 ]>", ADDR_FORWARD, 0, "bad address literal");
	bad("<u@[192.0.2.1", ADDR_FORWARD, 0,
	    "unterminated address literal");
	bad("<u@[192.0.2.1]x>", ADDR_FORWARD, 0, "bad character in domain");
	bad("<u@[]>", ADDR_FORWARD, 0, "bad IPv4 address literal");
}

static void
test_brackets(void)
{
	bad("user@example.org", ADDR_FORWARD, 0,
	    "address must be enclosed in <>");
	bad("", ADDR_FORWARD, 0, "address must be enclosed in <>");
	bad("   ", ADDR_FORWARD, 0, "address must be enclosed in <>");
	bad("<user@example.org", ADDR_FORWARD, 0, "missing >");
	bad("user@example.org>", ADDR_FORWARD, 0,
	    "address must be enclosed in <>");
	bad("<<user@example.org>>", ADDR_FORWARD, 0,
	    "bad character in local part");
	bad("<user@example.org>>", ADDR_FORWARD, 0,
	    "unexpected text after address");
	bad("< user@example.org>", ADDR_FORWARD, 0, "space in address");
	bad("<user@example.org >", ADDR_FORWARD, 0, "space in address");
	bad("<user @example.org>", ADDR_FORWARD, 0, "space in address");
	bad("<user@ example.org>", ADDR_FORWARD, 0, "space in address");
	bad("<>", ADDR_FORWARD, 0, "empty address");
	ok(parse("<>", ADDR_REVERSE, 0) == 0 && isnull, "<> as sender");
	ok(parse(" <> SIZE=10", ADDR_REVERSE, 0) == 0 && isnull && p.n == 1,
	    "<> with a parameter");
	bad("< >", ADDR_REVERSE, 0, "space in address");
	bad("<>x", ADDR_REVERSE, 0, "unexpected text after address");
}

static void
test_controls(void)
{
	bad("<user@example.org>\r", ADDR_FORWARD, 0, "control character");
	bad("<user@example.org>\r\n", ADDR_FORWARD, 0, "control character");
	bad("<us\ner@example.org>", ADDR_FORWARD, 0, "control character");
	bad("<\"us\ter\"@example.org>", ADDR_FORWARD, 0,
	    "control character");
	bad("<user@example.org> SIZE=1\x7f", ADDR_FORWARD, 0,
	    "control character");
	bad("\t<user@example.org>", ADDR_FORWARD, 0, "control character");
	/* A C string ends at a NUL: what is cut off fails closed. */
	bad("<user\0@example.org>", ADDR_FORWARD, 0, "missing domain");
}

static void
test_utf8(void)
{
	bad("<j\xc3\xb6rg@example.org>", ADDR_FORWARD, 0,
	    "non-ASCII address without SMTPUTF8");
	bad("<jorg@b\xc3\xbc" "cher.example>", ADDR_FORWARD, 0,
	    "non-ASCII address without SMTPUTF8");
	bad("<\"j\xc3\xb6rg\"@example.org>", ADDR_FORWARD, 0,
	    "non-ASCII address without SMTPUTF8");
	good("<j\xc3\xb6rg@B\xc3\xbc" "cher.Example>", ADDR_FORWARD, 1,
	    "j\xc3\xb6rg", "b\xc3\xbc" "cher.example");
	ok(a.flags & ADDR_F_UTF8, "  UTF-8 flagged");
	good("<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b.example>",
	    ADDR_FORWARD, 1, "\xe7\x94\xa8\xe6\x88\xb7",
	    "\xe4\xbe\x8b.example");
	good("<\xf0\x9f\x93\xa7@example.org>", ADDR_FORWARD, 1,
	    "\xf0\x9f\x93\xa7", "example.org");
	good("<\"\xc3\xa9 t\xc3\xa9\"@example.org>", ADDR_FORWARD, 1,
	    "\xc3\xa9 t\xc3\xa9", "example.org");
	good("<j\xc3\xb6rg@example.org> SMTPUTF8", ADDR_REVERSE, 0,
	    "j\xc3\xb6rg", "example.org");
	bad("<j\xc3\xb6rg@example.org> SMTPUTF8", ADDR_FORWARD, 0,
	    "non-ASCII address without SMTPUTF8");
	bad("<j\xc3\xb6rg@example.org> SMTPUTF8=yes", ADDR_REVERSE, 0,
	    "non-ASCII address without SMTPUTF8");
	bad("<\xc0\xafx@example.org>", ADDR_FORWARD, 1, "invalid UTF-8");
	bad("<\xe0\x80\xafx@example.org>", ADDR_FORWARD, 1, "invalid UTF-8");
	bad("<\xed\xa0\x80x@example.org>", ADDR_FORWARD, 1, "invalid UTF-8");
	bad("<\xf4\x90\x80\x80x@example.org>", ADDR_FORWARD, 1,
	    "invalid UTF-8");
	bad("<\xf5\x80\x80\x80x@example.org>", ADDR_FORWARD, 1,
	    "invalid UTF-8");
	bad("<x\x80@example.org>", ADDR_FORWARD, 1, "invalid UTF-8");
	bad("<x\xc3@example.org>", ADDR_FORWARD, 1, "invalid UTF-8");
	bad("<x@exa\xe4\xbemple.org>", ADDR_FORWARD, 1, "invalid UTF-8");
	bad("<x@example.org\xc3", ADDR_FORWARD, 1, "invalid UTF-8");
	bad("<x@[192.0.2.\xc2\xb9]>", ADDR_FORWARD, 1,
	    "bad address literal");
	bad("<\"\\\xc3\xa9\"@example.org>", ADDR_FORWARD, 1,
	    "bad quoted pair");
	bad("<x@example.org> ENVID=\xc3\xa9", ADDR_REVERSE, 1,
	    "bad parameter value");
}

static void
test_params(void)
{
	good("<u@example.org> SIZE=123 BODY=8BITMIME", ADDR_REVERSE, 0, "u",
	    "example.org");
	is_int(p.n, 2, "  two parameters");
	is_str(p.keyword[0], "SIZE", "  SIZE");
	is_str(p.value[0], "123", "  SIZE value");
	is_str(p.keyword[1], "BODY", "  BODY");
	is_str(p.value[1], "8BITMIME", "  BODY value");
	good("<u@example.org> smtputf8  body=7bit ", ADDR_REVERSE, 0, "u",
	    "example.org");
	is_str(p.keyword[0], "SMTPUTF8", "  keyword upper-cased");
	ok(p.value[0] == NULL, "  bare keyword has no value");
	is_str(p.value[1], "7bit", "  value keeps its case");
	good("<u@example.org> ORCPT=rfc822;u+40example.org NOTIFY=NEVER",
	    ADDR_FORWARD, 0, "u", "example.org");
	is_str(p.value[0], "rfc822;u+40example.org", "  ORCPT value");
	good("<u@example.org> X-1-a=b", ADDR_FORWARD, 0, "u", "example.org");
	bad("<u@example.org> SIZE=1 size=2", ADDR_REVERSE, 0,
	    "duplicate parameter");
	bad("<u@example.org> SIZE= BODY=7BIT", ADDR_REVERSE, 0,
	    "empty parameter value");
	bad("<u@example.org> SIZE=1=2", ADDR_REVERSE, 0,
	    "bad parameter value");
	bad("<u@example.org> -X=1", ADDR_REVERSE, 0,
	    "bad parameter keyword");
	bad("<u@example.org> X_Y=1", ADDR_REVERSE, 0,
	    "bad parameter keyword");
	bad("<u@example.org> =1", ADDR_REVERSE, 0, "bad parameter keyword");
	bad("<u@example.org>SIZE=1", ADDR_REVERSE, 0,
	    "unexpected text after address");
	bad("<u@example.org> A=1 B=2 C=3 D=4 E=5 F=6 G=7 H=8 I=9 J=10 "
	    "K=11 L=12 M=13 N=14 O=15 P=16 Q=17", ADDR_REVERSE, 0,
	    "too many parameters");
	ok(parse("<u@example.org> A=1 B=2 C=3 D=4 E=5 F=6 G=7 H=8 I=9 J=10 "
	    "K=11 L=12 M=13 N=14 O=15 P=16", ADDR_REVERSE, 0) == 0 &&
	    p.n == 16, "16 parameters fit");
	bad("<u@example.org> KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK",
	    ADDR_REVERSE, 0, "parameter keyword too long");
}

static void
test_postmaster(void)
{
	good("<postmaster>", ADDR_FORWARD, 0, "postmaster", "");
	ok(a.flags & ADDR_F_POSTMASTER, "  postmaster flagged");
	good("<PostMaster>", ADDR_FORWARD, 0, "postmaster", "");
	good("<Postmaster@Example.org>", ADDR_FORWARD, 0, "Postmaster",
	    "example.org");
	ok((a.flags & ADDR_F_POSTMASTER) == 0, "  with a domain: not flagged");
	bad("<postmaster>", ADDR_REVERSE, 0, "missing domain");
	bad("<\"postmaster\">", ADDR_FORWARD, 0, "missing domain");
	bad("<@example.org:postmaster>", ADDR_FORWARD, 0, "missing domain");
	bad("<postmistress>", ADDR_FORWARD, 0, "missing domain");
}

static void
test_mailbox(void)
{
	ok(addr_parse_mailbox("Alice@Example.ORG", &a) == 0 &&
	    strcmp(a.local, "Alice") == 0 &&
	    strcmp(a.domain, "example.org") == 0, "mailbox");
	ok(addr_parse_mailbox("\"a b\"@example.org", &a) == 0 &&
	    strcmp(a.local, "a b") == 0, "mailbox, quoted");
	ok(addr_parse_mailbox("u@[192.0.2.1]", &a) == 0 &&
	    (a.flags & ADDR_F_LITERAL), "mailbox, literal");
	ok(addr_parse_mailbox("j\xc3\xb6rg@example.org", &a) == 0 &&
	    (a.flags & ADDR_F_UTF8), "mailbox, UTF-8");
	ok(addr_parse_mailbox("<u@example.org>", &a) == -1,
	    "mailbox refuses brackets");
	ok(addr_parse_mailbox("u@example.org ", &a) == -1,
	    "mailbox refuses a trailing space");
	ok(addr_parse_mailbox("postmaster", &a) == -1,
	    "mailbox needs a domain");
	ok(addr_parse_mailbox("a@b@example.org", &a) == -1,
	    "mailbox refuses two @");
	ok(addr_parse_mailbox("@x.example:u@example.org", &a) == -1,
	    "mailbox refuses a route");
	ok(addr_parse_mailbox("u@example.org.", &a) == -1,
	    "mailbox refuses a trailing dot");
	ok(addr_parse_mailbox("", &a) == -1 && a.local[0] == '\0',
	    "mailbox refuses the empty string");
}

static void
test_format(void)
{
	struct mailaddr	 m;
	char		 buf[ADDR_FORMAT_SIZE], small[8];

	memset(&m, 0, sizeof(m));
	ok(parse("<\"simple\"@Example.org>", ADDR_FORWARD, 0) == 0 &&
	    addr_format(&a, buf, sizeof(buf)) == 0, "format");
	is_str(buf, "simple@example.org", "  needless quotes dropped");
	(void)parse("<\"user@other.example\"@ourdomain>", ADDR_FORWARD, 0);
	(void)addr_format(&a, buf, sizeof(buf));
	is_str(buf, "\"user@other.example\"@ourdomain", "  quoted again");
	ok(strcmp(strrchr(buf, '@') + 1, "ourdomain") == 0,
	    "  the last @ splits it");
	(void)parse("<\"a\\\"b\\\\c d\"@x.example>", ADDR_FORWARD, 0);
	(void)addr_format(&a, buf, sizeof(buf));
	is_str(buf, "\"a\\\"b\\\\c d\"@x.example", "  quoted pairs");
	(void)parse("<\".a\"@x.example>", ADDR_FORWARD, 0);
	(void)addr_format(&a, buf, sizeof(buf));
	is_str(buf, "\".a\"@x.example", "  a leading dot stays quoted");
	(void)parse("<@r.example:u@x.example>", ADDR_FORWARD, 0);
	(void)addr_format(&a, buf, sizeof(buf));
	is_str(buf, "u@x.example", "  the route is gone");
	(void)parse("<POSTMASTER>", ADDR_FORWARD, 0);
	(void)addr_format(&a, buf, sizeof(buf));
	is_str(buf, "postmaster", "  bare postmaster");
	(void)parse("<u@[IPv6:2001:db8:0::1]>", ADDR_FORWARD, 0);
	(void)addr_format(&a, buf, sizeof(buf));
	is_str(buf, "u@[IPv6:2001:db8::1]", "  literal");
	ok(addr_format(&a, small, sizeof(small)) == -1 && small[0] == '\0',
	    "format refuses to truncate");
}

static void
test_helpers(void)
{
	char	 buf[16];

	ok(addr_domain_is_valid("example.org"), "domain valid");
	ok(addr_domain_is_valid("Mail-1.Example.ORG"), "domain valid, case");
	ok(!addr_domain_is_valid("example.org."), "domain: trailing dot");
	ok(!addr_domain_is_valid(""), "domain: empty");
	ok(!addr_domain_is_valid("[192.0.2.1]"), "domain: literal");
	ok(!addr_domain_is_valid("b\xc3\xbc" "cher.example"),
	    "domain: UTF-8");
	ok(!addr_domain_is_valid("exa mple.org"), "domain: space");
	ok(!addr_domain_is_valid("example.org\n"), "domain: newline");
	ok(!addr_domain_is_valid("10.0.0.1"), "domain: numeric");

	ok(addr_strip_detail("user+tag", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "user") == 0, "strip detail");
	ok(addr_strip_detail("user+a+b", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "user") == 0, "strip detail at the first +");
	ok(addr_strip_detail("user", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "user") == 0, "strip detail: none");
	ok(addr_strip_detail("+owner", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "+owner") == 0, "strip detail: leading + kept");
	ok(addr_strip_detail("averyverylongname+x", buf, sizeof(buf)) == -1 &&
	    buf[0] == '\0', "strip detail refuses to truncate");

	ok(addr_local_equal("Alice", "aLICE"), "local parts equal");
	ok(!addr_local_equal("alice", "alice2"), "local parts differ");
	ok(!addr_local_equal("j\xc3\xb6rg", "J\xc3\x96RG"),
	    "only ASCII is case-folded");
}

/* xorshift64*: the same inputs on every run. */
static uint64_t	 fuzz_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
fuzz_rand(uint32_t n)
{
	fuzz_state ^= fuzz_state >> 12;
	fuzz_state ^= fuzz_state << 25;
	fuzz_state ^= fuzz_state >> 27;
	return (uint32_t)((fuzz_state * 0x2545f4914f6cdd1dULL) >> 32) % n;
}

static const char	*fuzz_seeds[] = {
	"<user@example.org>",
	" <user%other.example@ourdomain> SIZE=100",
	"<@a.example,@b.example:user@c.example> BODY=8BITMIME",
	"<\"a b\\\"c\"@example.org> ORCPT=rfc822;x",
	"<u@[192.0.2.1]>",
	"<u@[IPv6:2001:db8::1]> NOTIFY=SUCCESS,FAILURE",
	"<>",
	"<postmaster>",
	"<j\xc3\xb6rg@b\xc3\xbc\x63her.example> SMTPUTF8",
	"<\xf0\x9f\x93\xa7@x.example>",
};

static const char	 fuzz_bytes[] = "<>@\".:,[]\\= +-!%aZ09\xc3\xb6\x80";

static void
fuzz_mutate(char *buf)
{
	size_t	 len = strlen(buf), pos;
	int	 ops = 1 + fuzz_rand(4);
	char	 c;

	while (ops-- > 0) {
		pos = len > 0 ? fuzz_rand(len + 1) : 0;
		c = fuzz_rand(3) == 0 ? (char)(1 + fuzz_rand(255)) :
		    fuzz_bytes[fuzz_rand(sizeof(fuzz_bytes) - 1)];
		switch (fuzz_rand(4)) {
		case 0:
			if (pos < len)
				buf[pos] = c;
			break;
		case 1:
			if (len + 1 < FUZZ_MAX) {
				memmove(buf + pos + 1, buf + pos,
				    len - pos + 1);
				buf[pos] = c;
				len++;
			}
			break;
		case 2:
			if (pos < len) {
				memmove(buf + pos, buf + pos + 1, len - pos);
				len--;
			}
			break;
		default:
			if (len * 2 < FUZZ_MAX) {
				memcpy(buf + len, buf, len);
				len *= 2;
				buf[len] = '\0';
			}
			break;
		}
	}
}

static int
same(const struct mailaddr *x, const struct mailaddr *y)
{
	return strcmp(x->local, y->local) == 0 &&
	    strcmp(x->domain, y->domain) == 0 &&
	    (x->flags & ~ADDR_F_ROUTE) == (y->flags & ~ADDR_F_ROUTE);
}

/* An accepted address formats, and parses back to itself. */
static int
fuzz_check(int reverse, int utf8)
{
	struct mailaddr	 back;
	char		 buf[ADDR_FORMAT_SIZE], path[ADDR_FORMAT_SIZE + 2];
	const char	*w;
	int		 n;

	if (isnull)
		return 1;
	if (a.local[0] == '\0' || strchr(a.domain, '@') != NULL ||
	    strchr(a.domain, '"') != NULL || (a.domain[0] != '[' &&
	    strpbrk(a.domain, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL) ||
	    (a.domain[0] == '\0') != ((a.flags & ADDR_F_POSTMASTER) != 0))
		return 0;
	if (addr_format(&a, buf, sizeof(buf)) == -1)
		return 0;
	(void)snprintf(path, sizeof(path), "<%s>", buf);
	back = a;
	if (addr_parse_path(path, reverse, utf8 || (a.flags & ADDR_F_UTF8),
	    &a, &n, &p, &w) == -1 || !same(&a, &back))
		return 0;
	if (a.domain[0] == '\0')
		return 1;
	return addr_parse_mailbox(buf, &a) == 0 && same(&a, &back);
}

static void
test_fuzz(void)
{
	char	 buf[FUZZ_MAX + 1], out[64];
	int	 i, reverse, utf8, accepted = 0, broken = 0;

	for (i = 0; i < FUZZ_ROUNDS; i++) {
		(void)strlcpy(buf, fuzz_seeds[fuzz_rand(sizeof(fuzz_seeds) /
		    sizeof(fuzz_seeds[0]))], sizeof(buf));
		fuzz_mutate(buf);
		reverse = fuzz_rand(2);
		utf8 = fuzz_rand(2);
		if (parse(buf, reverse, utf8) == 0) {
			accepted++;
			if (!fuzz_check(reverse, utf8)) {
				if (broken++ < 5)
					printf("# round trip: %s\n", vis(buf));
			}
		} else if (why == NULL)
			broken++;
		(void)addr_parse_mailbox(buf + 1, &a);
		(void)addr_domain_is_valid(buf);
		(void)addr_strip_detail(buf, out, sizeof(out));
	}
	ok(broken == 0, "fuzz: %d inputs, every accepted one round-trips",
	    FUZZ_ROUNDS);
	ok(accepted > FUZZ_ROUNDS / 20, "fuzz: %d accepted", accepted);
}

int
main(void)
{
	test_plain();
	test_relay_tricks();
	test_quoted();
	test_local();
	test_domain();
	test_literal();
	test_brackets();
	test_controls();
	test_utf8();
	test_params();
	test_postmaster();
	test_mailbox();
	test_format();
	test_helpers();
	test_fuzz();
	return done_testing();
}
