/*
 * smtp_from.c: the one address of a message's header From:, for the
 * submission sender check.
 *
 * smtp_from_parse(value, len, addr, addrsz, why)
 *	value is the field body after "From:", unfolded (the CRLFs of
 *	folding removed or kept: both are whitespace here).  Returns 0 with
 *	the address as "local@domain" (addr_format: domain lower case) when
 *	the field names exactly one mailbox, else -1 with a short reason in
 *	*why (a static string).
 *
 * Not a full RFC 5322 parser: it knows what it needs to find the
 * addresses and nothing more, and refuses what it cannot read.  Handled:
 * display names of atoms and quoted strings (quoted-pairs included, so a
 * '<', '@' or ',' inside quotes is text), comments anywhere between
 * tokens (nested, with quoted-pairs), name-addr and bare addr-spec, an
 * obsolete route in an angle-addr, domain literals, empty list elements
 * (obs-mbox-list) and groups ("name: a@b;", RFC 6854): the mailboxes of
 * a group count like any other, so an empty group is no address.  The
 * address found is checked again by addr_parse_path, so what comes out
 * is exactly what the envelope check would see.
 *
 * Pure: no allocation, no logging, no global state.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "smtp.h"

#define FROM_MAX_WORDS	64	/* of a display name */

struct from_cursor {
	const char	*p, *end;
	int		 naddr;
	char		*addr;
	size_t		 addrsz;
	const char	*why;
};

/* atext (RFC 5322 3.2.3), '.' (dot-atom, obs-phrase) and UTF-8 bytes. */
static int
from_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

static int
from_fail(struct from_cursor *f, const char *why)
{
	if (f->why == NULL)
		f->why = why;
	return -1;
}

/* Skips a comment; the cursor is on its '('. */
static int
from_comment(struct from_cursor *f)
{
	int	 depth = 0;

	while (f->p < f->end) {
		char c = *f->p++;

		if (c == '\\') {
			if (f->p == f->end)
				break;
			f->p++;
		} else if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			return 0;
	}
	return from_fail(f, "unterminated comment in From:");
}

/* Skips folding whitespace and comments. */
static int
from_cfws(struct from_cursor *f)
{
	while (f->p < f->end) {
		if (*f->p == ' ' || *f->p == '\t' || *f->p == '\r' ||
		    *f->p == '\n')
			f->p++;
		else if (*f->p == '(') {
			if (from_comment(f) == -1)
				return -1;
		} else
			break;
	}
	return 0;
}

/*
 * A word: an atom or a quoted string, taken raw (quotes and
 * quoted-pairs kept) into start/len.  0, 1 when there is none here, -1.
 */
static int
from_word(struct from_cursor *f, const char **start, size_t *len)
{
	const char	*s = f->p;

	if (f->p < f->end && *f->p == '"') {
		for (f->p++; f->p < f->end && *f->p != '"'; f->p++) {
			if (*f->p == '\\' && ++f->p == f->end)
				break;
		}
		if (f->p == f->end)
			return from_fail(f, "unterminated quoted string in "
			    "From:");
		f->p++;
	} else {
		while (f->p < f->end && from_atext(*f->p))
			f->p++;
		if (f->p == s)
			return 1;
	}
	*start = s;
	*len = f->p - s;
	return 0;
}

/* A domain: a dot-atom or a domain literal, taken raw. */
static int
from_domain(struct from_cursor *f, const char **start, size_t *len)
{
	const char	*s = f->p;

	if (f->p < f->end && *f->p == '[') {
		f->p++;
		while (f->p < f->end && *f->p != ']' && *f->p != '[' &&
		    *f->p != '\\')
			f->p++;
		if (f->p == f->end || *f->p != ']' || f->p - s < 2)
			return from_fail(f, "bad domain literal in From:");
		f->p++;
	} else if (from_word(f, start, len) != 0 || *s == '"')
		return from_fail(f, "no domain after '@' in From:");
	*start = s;
	*len = f->p - s;
	return 0;
}

/* Counts an address; the first one is checked and kept. */
static int
from_found(struct from_cursor *f, const char *local, size_t llen,
    const char *domain, size_t dlen)
{
	struct addr_params	 params;
	struct mailaddr		 a;
	const char		*why = NULL;
	char			 path[ADDR_PATH_MAX * 2];
	int			 n, isnull = 0;

	if (++f->naddr > 1)
		return 0;
	n = snprintf(path, sizeof(path), "<%.*s@%.*s>", (int)llen, local,
	    (int)dlen, domain);
	if (n < 0 || (size_t)n >= sizeof(path))
		return from_fail(f, "address in From: too long");
	if (addr_parse_path(path, ADDR_REVERSE, 1, &a, &isnull, &params,
	    &why) == -1 || isnull)
		return from_fail(f, "bad address in From:");
	if (addr_format(&a, f->addr, f->addrsz) == -1)
		return from_fail(f, "address in From: too long");
	return 0;
}

/* addr-spec: the cursor is after the local part, on '@'. */
static int
from_addr_spec(struct from_cursor *f, const char *local, size_t llen)
{
	const char	*domain;
	size_t		 dlen;

	f->p++;
	if (from_cfws(f) == -1 || from_domain(f, &domain, &dlen) == -1)
		return -1;
	return from_found(f, local, llen, domain, dlen);
}

/* angle-addr: the cursor is on '<'. */
static int
from_angle_addr(struct from_cursor *f)
{
	const char	*local;
	size_t		 llen;

	f->p++;
	if (from_cfws(f) == -1)
		return -1;
	if (f->p < f->end && *f->p == '@') {
		/* obs-route: "@a,@b:" before the address, ignored */
		while (f->p < f->end && *f->p != ':' && *f->p != '>')
			f->p++;
		if (f->p == f->end || *f->p != ':')
			return from_fail(f, "bad route in From:");
		f->p++;
		if (from_cfws(f) == -1)
			return -1;
	}
	if (from_word(f, &local, &llen) != 0 || from_cfws(f) == -1)
		return from_fail(f, "no address in <> in From:");
	if (f->p == f->end || *f->p != '@')
		return from_fail(f, "no '@' in the address in From:");
	if (from_addr_spec(f, local, llen) == -1 || from_cfws(f) == -1)
		return -1;
	if (f->p == f->end || *f->p != '>')
		return from_fail(f, "unterminated <> in From:");
	f->p++;
	return 0;
}

/*
 * One list element: a mailbox, or the start of a group (returns 1 then).
 */
static int
from_element(struct from_cursor *f, int in_group)
{
	const char	*word = NULL, *w;
	size_t		 wlen = 0, l;
	int		 nwords = 0, r;

	while ((r = from_word(f, &w, &l)) == 0) {
		if (nwords++ == 0) {
			word = w;
			wlen = l;
		}
		if (nwords > FROM_MAX_WORDS)
			return from_fail(f, "display name too long in From:");
		if (from_cfws(f) == -1)
			return -1;
	}
	if (r == -1)
		return -1;
	if (f->p == f->end)
		return from_fail(f, nwords > 0 ? "display name without an "
		    "address in From:" : "no address in From:");
	if (*f->p == '<')
		return from_angle_addr(f);
	if (*f->p == ':' && nwords > 0 && !in_group) {
		f->p++;
		return 1;
	}
	if (*f->p == '@' && nwords == 1)
		return from_addr_spec(f, word, wlen);
	return from_fail(f, "unexpected character in From:");
}

/* What may follow a mailbox: ',', a group's ';', or the end. */
static int
from_separator(struct from_cursor *f, int *in_group)
{
	if (from_cfws(f) == -1)
		return -1;
	if (f->p == f->end)
		return 0;
	if (*f->p == ',') {
		f->p++;
		return 0;
	}
	if (*f->p == ';' && *in_group) {
		f->p++;
		*in_group = 0;
		return 0;
	}
	return from_fail(f, "unexpected character after an address in From:");
}

int
smtp_from_parse(const char *value, size_t len, char *addr, size_t addrsz,
    const char **why)
{
	struct from_cursor	 f;
	int			 in_group = 0, r;

	memset(&f, 0, sizeof(f));
	f.p = value;
	f.end = value + len;
	f.addr = addr;
	f.addrsz = addrsz;
	if (addrsz > 0)
		addr[0] = '\0';
	for (;;) {
		if (from_cfws(&f) == -1)
			break;
		if (f.p == f.end)
			break;
		if (*f.p == ',' || (*f.p == ';' && in_group)) {
			in_group = in_group && *f.p != ';';
			f.p++;
			continue;
		}
		if ((r = from_element(&f, in_group)) == -1)
			break;
		if (r == 1) {
			in_group = 1;
			continue;
		}
		if (from_separator(&f, &in_group) == -1)
			break;
	}
	if (f.why == NULL && in_group)
		f.why = "unterminated group in From:";
	if (f.why == NULL && f.naddr == 0)
		f.why = "no address in From:";
	if (f.why == NULL && f.naddr > 1)
		f.why = "more than one address in From:";
	*why = f.why;
	if (f.why != NULL && addrsz > 0)
		addr[0] = '\0';
	return f.why == NULL ? 0 : -1;
}
