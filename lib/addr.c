/*
 * addr.c: SMTP paths, ESMTP parameters and mailboxes (see addr.h for
 * the interface and the rules).
 *
 * Owns nothing.  Trusts nothing: the text comes from the network or from
 * a configuration file.  It is read through one cursor, byte by byte,
 * following the RFC 5321 4.1.2 grammar; no reader looks past a byte it
 * has not checked, so the NUL at the end stops every loop.  The first
 * error is kept as the reason and the whole parse fails: nothing is
 * guessed or repaired, except that the route of a source route is
 * dropped, as RFC 5321 says to.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

#define ADDR_LITERAL_MAX	64	/* the text in brackets, with NUL */

struct addr_parser {
	const char	*p;		/* the next byte to read */
	const char	*why;		/* the first error */
	int		 eightbit;	/* took a non-ASCII character */
};

static int
addr_fail(struct addr_parser *ap, const char *why)
{
	if (ap->why == NULL)
		ap->why = why;
	return -1;
}

static int
addr_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
addr_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
addr_is_alnum(unsigned char c)
{
	return addr_is_alpha(c) || addr_is_digit(c);
}

static unsigned char
addr_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static unsigned char
addr_upper(unsigned char c)
{
	return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

/* atext of RFC 5322 3.2.3, ASCII part. */
static int
addr_is_atext(unsigned char c)
{
	return addr_is_alnum(c) ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* ASCII-only case folding, whatever the locale. */
static int
addr_casecmp(const char *a, const char *b)
{
	unsigned char	 ca, cb;

	do {
		ca = addr_lower(*a++);
		cb = addr_lower(*b++);
		if (ca != cb)
			return ca < cb ? -1 : 1;
	} while (ca != '\0');
	return 0;
}

/*
 * The length of the well-formed UTF-8 sequence of 2 to 4 bytes at s
 * (RFC 3629 4: no overlong form, no surrogate, nothing past U+10FFFF),
 * else 0.  Stops at the first bad byte, so never reads past a NUL.
 */
static size_t
addr_utf8_len(const unsigned char *s)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* Takes note of the non-ASCII character at the cursor: its length or 0. */
static size_t
addr_nonascii(struct addr_parser *ap)
{
	size_t	 n;

	if ((n = addr_utf8_len((const unsigned char *)ap->p)) == 0) {
		(void)addr_fail(ap, "invalid UTF-8");
		return 0;
	}
	ap->eightbit = 1;
	return n;
}

/* Appends n bytes to buf (holding *off of sz) and keeps it terminated. */
static int
addr_put(struct addr_parser *ap, char *buf, size_t sz, size_t *off,
    const char *s, size_t n, const char *toolong)
{
	if (n >= sz - *off)
		return addr_fail(ap, toolong);
	memcpy(buf + *off, s, n);
	*off += n;
	buf[*off] = '\0';
	return 0;
}

static int
addr_no_controls(struct addr_parser *ap)
{
	const unsigned char	*s;

	for (s = (const unsigned char *)ap->p; *s != '\0'; s++)
		if (*s < 0x20 || *s == 0x7f)
			return addr_fail(ap, "control character");
	return 0;
}

/* The length of the atext character at the cursor, 0 if there is none. */
static size_t
addr_atext_len(struct addr_parser *ap)
{
	unsigned char	 c = *ap->p;

	if (c >= 0x80)
		return addr_nonascii(ap);
	return addr_is_atext(c) ? 1 : 0;
}

/* Why a local part could not start at c. */
static const char *
addr_local_why(unsigned char c)
{
	if (c == '\0' || c == '>' || c == '@')
		return "empty local part";
	if (c == ' ')
		return "space in address";
	if (c == '.')
		return "dot at start of local part";
	return "bad character in local part";
}

/* Dot-string = Atom *("." Atom), copied as is. */
static int
addr_dotstring(struct addr_parser *ap, char *buf, size_t sz)
{
	size_t	 off = 0, n, atom;

	buf[0] = '\0';
	for (;;) {
		atom = 0;
		while ((n = addr_atext_len(ap)) > 0) {
			if (addr_put(ap, buf, sz, &off, ap->p, n,
			    "local part too long") == -1)
				return -1;
			ap->p += n;
			atom += n;
		}
		if (ap->why != NULL)
			return -1;
		if (atom == 0 && off == 0)
			return addr_fail(ap, addr_local_why(*ap->p));
		if (atom == 0)
			return addr_fail(ap, *ap->p == '.' ?
			    "double dot in local part" :
			    "dot at end of local part");
		if (*ap->p != '.')
			return 0;
		if (addr_put(ap, buf, sz, &off, ".", 1,
		    "local part too long") == -1)
			return -1;
		ap->p++;
	}
}

/* The length of the next QcontentSMTP at the cursor, past any '\\'. */
static size_t
addr_qcontent_len(struct addr_parser *ap)
{
	unsigned char	 c = *ap->p;

	if (c == '\0') {
		(void)addr_fail(ap, "unterminated quoted string");
		return 0;
	}
	if (c == '\\') {
		c = *++ap->p;
		if (c < 0x20 || c > 0x7e) {
			(void)addr_fail(ap, "bad quoted pair");
			return 0;
		}
		return 1;
	}
	if (c >= 0x80)
		return addr_nonascii(ap);
	if (c < 0x20 || c == 0x7f) {
		(void)addr_fail(ap, "control character");
		return 0;
	}
	return 1;
}

/*
 * Quoted-string = DQUOTE *QcontentSMTP DQUOTE, stored without the quotes
 * and the backslashes; addr_format() quotes it again if it must.
 */
static int
addr_quoted(struct addr_parser *ap, char *buf, size_t sz)
{
	const char	*start = ap->p;
	size_t		 off = 0, n;

	buf[0] = '\0';
	ap->p++;
	while (*ap->p != '"') {
		if ((n = addr_qcontent_len(ap)) == 0)
			return -1;
		if (addr_put(ap, buf, sz, &off, ap->p, n,
		    "local part too long") == -1)
			return -1;
		ap->p += n;
	}
	ap->p++;
	if (off == 0)
		return addr_fail(ap, "empty local part");
	if ((size_t)(ap->p - start) > ADDR_LOCAL_MAX)
		return addr_fail(ap, "local part too long");
	return 0;
}

static int
addr_local(struct addr_parser *ap, struct mailaddr *out, int *quoted)
{
	*quoted = *ap->p == '"';
	if (*quoted)
		return addr_quoted(ap, out->local, sizeof(out->local));
	return addr_dotstring(ap, out->local, sizeof(out->local));
}

/* Why a domain label could not start at c; after_dot if one came before. */
static const char *
addr_label_why(unsigned char c, int after_dot)
{
	if (c == '.')
		return "empty domain label";
	if (c == ' ')
		return "space in address";
	if (after_dot && (c == '\0' || c == '>' || c == ',' || c == ':'))
		return "trailing dot in domain";
	if (!after_dot && (c == '\0' || c == '>'))
		return "missing domain";
	return "bad character in domain";
}

/* The length of the label character at the cursor, 0 if there is none. */
static size_t
addr_ldh_len(struct addr_parser *ap, int *numeric)
{
	unsigned char	 c = *ap->p;

	if (c >= 0x80) {
		*numeric = 0;
		return addr_nonascii(ap);
	}
	if (!addr_is_alnum(c) && c != '-')
		return 0;
	if (!addr_is_digit(c))
		*numeric = 0;
	return 1;
}

/*
 * sub-domain = Let-dig [Ldh-str] (or a U-label, RFC 6531 3.3), appended
 * to buf in lower case.  *numeric says it was all digits.
 */
static int
addr_label(struct addr_parser *ap, char *buf, size_t sz, size_t *off,
    int *numeric)
{
	const char	*start = ap->p;
	size_t		 n;
	char		 c;

	*numeric = 1;
	if (*ap->p == '-')
		return addr_fail(ap, "hyphen at start of domain label");
	while ((n = addr_ldh_len(ap, numeric)) > 0) {
		c = (char)addr_lower(*ap->p);
		if (addr_put(ap, buf, sz, off, n == 1 ? &c : ap->p, n,
		    "domain too long") == -1)
			return -1;
		ap->p += n;
	}
	if (ap->why != NULL)
		return -1;
	if (ap->p == start)
		return addr_fail(ap, addr_label_why(*ap->p, *off > 0));
	if (ap->p - start > ADDR_LABEL_MAX)
		return addr_fail(ap, "domain label too long");
	if (ap->p[-1] == '-')
		return addr_fail(ap, "hyphen at end of domain label");
	return 0;
}

/*
 * Domain = sub-domain *("." sub-domain), into buf (of ADDR_DOMAIN_MAX + 1
 * bytes).  No trailing dot, and the last label may not be all digits.
 */
static int
addr_domain_name(struct addr_parser *ap, char *buf, size_t sz)
{
	size_t	 off = 0;
	int	 numeric;

	buf[0] = '\0';
	for (;;) {
		if (addr_label(ap, buf, sz, &off, &numeric) == -1)
			return -1;
		if (*ap->p != '.')
			break;
		if (addr_put(ap, buf, sz, &off, ".", 1,
		    "domain too long") == -1)
			return -1;
		ap->p++;
	}
	if (numeric)
		return addr_fail(ap, "numeric top-level domain");
	return 0;
}

/* The dcontent between '[' and ']' (RFC 5321 4.1.3) into text. */
static int
addr_literal_text(struct addr_parser *ap, char *text, size_t sz)
{
	size_t		 len = 0;
	unsigned char	 c;

	ap->p++;
	while ((c = *ap->p) != ']') {
		if (c == '\0')
			return addr_fail(ap, "unterminated address literal");
		if (c < 0x21 || c > 0x7e || c == '[' || c == '\\')
			return addr_fail(ap, "bad address literal");
		if (len + 1 >= sz)
			return addr_fail(ap, "bad address literal");
		text[len++] = (char)c;
		ap->p++;
	}
	text[len] = '\0';
	ap->p++;
	return 0;
}

/*
 * address-literal: IPv4 or "IPv6:" and an IPv6 address, stored in its
 * canonical form so that one address has one spelling.
 */
static int
addr_literal(struct addr_parser *ap, char *buf, size_t sz)
{
	char		 text[ADDR_LITERAL_MAX], ntop[INET6_ADDRSTRLEN];
	struct in6_addr	 in6;
	struct in_addr	 in4;
	int		 n;

	if (addr_literal_text(ap, text, sizeof(text)) == -1)
		return -1;
	if (strncasecmp(text, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, text + 5, &in6) != 1 ||
		    inet_ntop(AF_INET6, &in6, ntop, sizeof(ntop)) == NULL)
			return addr_fail(ap, "bad IPv6 address literal");
		n = snprintf(buf, sz, "[IPv6:%s]", ntop);
	} else if (strchr(text, ':') != NULL)
		return addr_fail(ap, "unsupported address literal");
	else {
		if (inet_pton(AF_INET, text, &in4) != 1 ||
		    inet_ntop(AF_INET, &in4, ntop, sizeof(ntop)) == NULL)
			return addr_fail(ap, "bad IPv4 address literal");
		n = snprintf(buf, sz, "[%s]", ntop);
	}
	if (n < 0 || (size_t)n >= sz)
		return addr_fail(ap, "domain too long");
	return 0;
}

static int
addr_domain(struct addr_parser *ap, struct mailaddr *out)
{
	if (*ap->p == '[') {
		out->flags |= ADDR_F_LITERAL;
		return addr_literal(ap, out->domain, sizeof(out->domain));
	}
	return addr_domain_name(ap, out->domain, sizeof(out->domain));
}

/*
 * A-d-l = At-domain *("," At-domain) ":", At-domain = "@" Domain.  Its
 * syntax is checked, its domains are dropped (RFC 5321 4.1.1.3, C.6): a
 * relay check must see only the final domain.
 */
static int
addr_route(struct addr_parser *ap)
{
	char	 scratch[ADDR_DOMAIN_MAX + 1];

	for (;;) {
		ap->p++;
		if (*ap->p == '[')
			return addr_fail(ap, "address literal in source route");
		if (addr_domain_name(ap, scratch, sizeof(scratch)) == -1)
			return -1;
		if (*ap->p == ':') {
			ap->p++;
			return 0;
		}
		if (*ap->p != ',' || *++ap->p != '@')
			return addr_fail(ap, "bad source route");
	}
}

static const char *
addr_after_local_why(unsigned char c)
{
	if (c == '\0' || c == '>')
		return "missing domain";
	if (c == ' ')
		return "space in address";
	return "bad character in local part";
}

/* The inside of <...>: [A-d-l ":"] Mailbox, or a bare Postmaster. */
static int
addr_path_mailbox(struct addr_parser *ap, int reverse,
    struct mailaddr *out)
{
	int	 quoted;

	if (*ap->p == '@') {
		if (addr_route(ap) == -1)
			return -1;
		out->flags |= ADDR_F_ROUTE;
	}
	if (addr_local(ap, out, &quoted) == -1)
		return -1;
	if (*ap->p == '@') {
		ap->p++;
		return addr_domain(ap, out);
	}
	if (!reverse && !quoted && (out->flags & ADDR_F_ROUTE) == 0 &&
	    *ap->p == '>' && addr_casecmp(out->local, "postmaster") == 0) {
		(void)strlcpy(out->local, "postmaster", sizeof(out->local));
		out->flags |= ADDR_F_POSTMASTER;
		return 0;
	}
	return addr_fail(ap, addr_after_local_why(*ap->p));
}

static int
addr_close(struct addr_parser *ap)
{
	switch (*ap->p) {
	case '>':
		ap->p++;
		return 0;
	case '\0':
		return addr_fail(ap, "missing >");
	case ' ':
		return addr_fail(ap, "space in address");
	case '@':
		return addr_fail(ap, "more than one @");
	default:
		return addr_fail(ap, "bad character in domain");
	}
}

static int
addr_path(struct addr_parser *ap, int reverse, struct mailaddr *out,
    int *is_null)
{
	const char	*start;

	if (addr_no_controls(ap) == -1)
		return -1;
	while (*ap->p == ' ')
		ap->p++;
	if (*ap->p != '<')
		return addr_fail(ap, "address must be enclosed in <>");
	start = ap->p++;
	if (*ap->p == '>') {
		if (!reverse)
			return addr_fail(ap, "empty address");
		*is_null = 1;
	} else if (addr_path_mailbox(ap, reverse, out) == -1)
		return -1;
	if (addr_close(ap) == -1)
		return -1;
	if (ap->p - start > ADDR_PATH_MAX)
		return addr_fail(ap, "address too long");
	return 0;
}

static int
addr_param_find(const struct addr_params *params, const char *keyword)
{
	int	 i;

	for (i = 0; i < params->n; i++)
		if (strcmp(params->keyword[i], keyword) == 0)
			return i;
	return -1;
}

/* esmtp-value = 1*(%d33-60 / %d62-126) */
static int
addr_param_value(struct addr_parser *ap, char *buf, size_t sz)
{
	size_t		 len = 0;
	unsigned char	 c;

	while ((c = *ap->p) != ' ' && c != '\0') {
		if (c < 0x21 || c > 0x7e || c == '=')
			return addr_fail(ap, "bad parameter value");
		if (len + 1 >= sz)
			return addr_fail(ap, "parameter value too long");
		buf[len++] = (char)c;
		ap->p++;
	}
	buf[len] = '\0';
	if (len == 0)
		return addr_fail(ap, "empty parameter value");
	return 0;
}

/* esmtp-param = esmtp-keyword ["=" esmtp-value] */
static int
addr_param(struct addr_parser *ap, struct addr_params *params)
{
	char	 kw[ADDR_KEYWORD_SIZE];
	size_t	 len = 0;
	int	 i = params->n;

	if (!addr_is_alnum(*ap->p))
		return addr_fail(ap, "bad parameter keyword");
	while (addr_is_alnum(*ap->p) || *ap->p == '-') {
		if (len + 1 >= sizeof(kw))
			return addr_fail(ap, "parameter keyword too long");
		kw[len++] = (char)addr_upper(*ap->p++);
	}
	kw[len] = '\0';
	if (*ap->p != '=' && *ap->p != ' ' && *ap->p != '\0')
		return addr_fail(ap, "bad parameter keyword");
	if (addr_param_find(params, kw) != -1)
		return addr_fail(ap, "duplicate parameter");
	if (i >= ADDR_PARAMS_MAX)
		return addr_fail(ap, "too many parameters");
	memcpy(params->keyword[i], kw, len + 1);
	params->value[i] = NULL;
	if (*ap->p == '=') {
		ap->p++;
		if (addr_param_value(ap, params->valbuf[i],
		    sizeof(params->valbuf[i])) == -1)
			return -1;
		params->value[i] = params->valbuf[i];
	}
	params->n++;
	return 0;
}

/* What follows '>': nothing, or spaces and parameters. */
static int
addr_params(struct addr_parser *ap, struct addr_params *params)
{
	if (*ap->p == '\0')
		return 0;
	if (*ap->p != ' ')
		return addr_fail(ap, "unexpected text after address");
	for (;;) {
		while (*ap->p == ' ')
			ap->p++;
		if (*ap->p == '\0')
			return 0;
		if (addr_param(ap, params) == -1)
			return -1;
	}
}

/* RFC 6531 3.4: SMTPUTF8 on MAIL covers its own reverse-path. */
static int
addr_check_8bit(struct addr_parser *ap, int allowed, struct mailaddr *out)
{
	if (!ap->eightbit)
		return 0;
	if (!allowed)
		return addr_fail(ap, "non-ASCII address without SMTPUTF8");
	out->flags |= ADDR_F_UTF8;
	return 0;
}

int
addr_parse_path(const char *arg, int reverse, int smtputf8,
    struct mailaddr *out, int *is_null, struct addr_params *params,
    const char **why)
{
	struct addr_parser	 ap;
	int			 i;

	memset(&ap, 0, sizeof(ap));
	ap.p = arg;
	memset(out, 0, sizeof(*out));
	memset(params, 0, sizeof(*params));
	*is_null = 0;
	*why = NULL;
	if (addr_path(&ap, reverse, out, is_null) == -1 ||
	    addr_params(&ap, params) == -1)
		goto fail;
	i = addr_param_find(params, "SMTPUTF8");
	if (reverse && i != -1 && params->value[i] == NULL)
		smtputf8 = 1;
	if (addr_check_8bit(&ap, smtputf8, out) == -1)
		goto fail;
	return 0;
 fail:
	memset(out, 0, sizeof(*out));
	memset(params, 0, sizeof(*params));
	*is_null = 0;
	*why = ap.why != NULL ? ap.why : "bad address";
	return -1;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ), then the end. */
static int
addr_mailbox(struct addr_parser *ap, struct mailaddr *out)
{
	int	 quoted;

	if (addr_no_controls(ap) == -1 || addr_local(ap, out, &quoted) == -1)
		return -1;
	if (*ap->p != '@')
		return addr_fail(ap, addr_after_local_why(*ap->p));
	ap->p++;
	if (addr_domain(ap, out) == -1)
		return -1;
	if (*ap->p != '\0')
		return addr_fail(ap, *ap->p == '@' ? "more than one @" :
		    "bad character in domain");
	if (ap->eightbit)
		out->flags |= ADDR_F_UTF8;
	return 0;
}

int
addr_parse_mailbox(const char *s, struct mailaddr *out)
{
	struct addr_parser	 ap;

	memset(&ap, 0, sizeof(ap));
	ap.p = s;
	memset(out, 0, sizeof(*out));
	if (strnlen(s, ADDR_FORMAT_SIZE) >= ADDR_FORMAT_SIZE ||
	    addr_mailbox(&ap, out) == -1) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

/* Whether local can be written bare: a Dot-string. */
static int
addr_is_dotstring(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	int			 dot = 1;	/* no leading dot */

	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++) {
		if (*p == '.') {
			if (dot)
				return 0;
			dot = 1;
		} else if (*p >= 0x80 || addr_is_atext(*p))
			dot = 0;
		else
			return 0;
	}
	return !dot;
}

/* local as a Quoted-string, with '"' and '\\' as quoted pairs. */
static int
addr_quote(const char *local, char *buf, size_t sz)
{
	size_t	 off = 0;

	if (sz < 3)
		return -1;
	buf[off++] = '"';
	for (; *local != '\0'; local++) {
		if (off + 4 > sz)
			return -1;
		if (*local == '"' || *local == '\\')
			buf[off++] = '\\';
		buf[off++] = *local;
	}
	if (off + 2 > sz)
		return -1;
	buf[off++] = '"';
	buf[off] = '\0';
	return 0;
}

int
addr_format(const struct mailaddr *a, char *buf, size_t sz)
{
	char	 quoted[2 * sizeof(a->local) + 3];
	int	 n;

	if (sz == 0)
		return -1;
	buf[0] = '\0';
	if (!addr_is_dotstring(a->local)) {
		if (addr_quote(a->local, quoted, sizeof(quoted)) == -1)
			return -1;
	} else if (strlcpy(quoted, a->local, sizeof(quoted)) >=
	    sizeof(quoted))
		return -1;
	n = snprintf(buf, sz, "%s%s%s", quoted, a->domain[0] != '\0' ?
	    "@" : "", a->domain);
	if (n < 0 || (size_t)n >= sz) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}

int
addr_domain_is_valid(const char *d)
{
	struct addr_parser	 ap;
	char			 buf[ADDR_DOMAIN_MAX + 1];

	memset(&ap, 0, sizeof(ap));
	ap.p = d;
	if (addr_domain_name(&ap, buf, sizeof(buf)) == -1)
		return 0;
	return *ap.p == '\0' && !ap.eightbit;
}

int
addr_strip_detail(const char *local, char *out, size_t sz)
{
	const char	*plus = strchr(local, '+');
	size_t		 n;

	if (sz == 0)
		return -1;
	n = (plus == NULL || plus == local) ? strlen(local) :
	    (size_t)(plus - local);
	if (n >= sz) {
		out[0] = '\0';
		return -1;
	}
	memmove(out, local, n);
	out[n] = '\0';
	return 0;
}

int
addr_local_equal(const char *a, const char *b)
{
	return addr_casecmp(a, b) == 0;
}
