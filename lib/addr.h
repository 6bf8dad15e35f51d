/*
 * addr.h: mail addresses and the arguments of MAIL FROM and RCPT TO, for
 * the smtp role (and for config, which checks addresses and domains).
 *
 * This is the relay-abuse boundary: after a successful parse, the domain
 * in struct mailaddr is the only routing information there is.  Nothing
 * here interprets '%' or '!' in a local part, a source route is parsed
 * and thrown away, and there is exactly one way to split an address, so
 * the smtp role can tell with no ambiguity whether an address is in one
 * of our domains and which mailbox it names.
 *
 * addr_parse_path(arg, reverse, smtputf8, out, is_null, params, why)
 *	arg is what follows "FROM:" or "TO:", leading spaces allowed (some
 *	clients send "MAIL FROM: <a@b>").  The path must be enclosed in
 *	<>, with no space inside except within a quoted string.  Then, after
 *	one or more spaces, ESMTP parameters (keyword[=value]); spaces
 *	between and after them are tolerated.
 *	reverse is ADDR_REVERSE for MAIL (the null path "<>" is allowed,
 *	is_null says so) or ADDR_FORWARD for RCPT (a bare "<Postmaster>",
 *	RFC 5321 4.5.1, is allowed and comes back as local "postmaster",
 *	domain "" and ADDR_F_POSTMASTER).
 *	smtputf8 says SMTPUTF8 is in effect for the transaction; an
 *	SMTPUTF8 parameter on the same MAIL command counts as well (RFC
 *	6531 3.4), so the caller may pass 0 for MAIL.  Without it any byte
 *	over 0x7f is refused; with it, valid UTF-8 (no overlong forms, no
 *	surrogates) is allowed in the local part and in domain labels.
 *	A source route "@a,@b:user@c" is checked for syntax and ignored
 *	(RFC 5321 4.1.1.3, C.6): the address is user@c, ADDR_F_ROUTE is set.
 *	Returns 0, or -1 with a short reason for the reply in *why (a static
 *	string) and out and params zeroed.
 *	arg is a C string: the line reader must refuse a NUL in the line
 *	(what a NUL cuts off here fails closed or drops parameters).
 *
 * addr_parse_mailbox(s, out)
 *	"local@domain" with no brackets, route or parameters, for addresses
 *	in the configuration.  UTF-8 is allowed (validated).  0 or -1.
 *
 * addr_format(a, buf, sz)
 *	Writes local@domain, quoting the local part when it is not a
 *	Dot-string, so the result parses back to the same struct.  Returns
 *	0, or -1 with buf emptied if it does not fit.  A parsed address
 *	always fits in ADDR_FORMAT_SIZE (254 bytes and the NUL: the RFC
 *	5321 path limit without the brackets).  The domain never holds '@'
 *	or '"', so the last '@' of the result is where to split it.
 *
 * addr_domain_is_valid(d)	1 if d is an RFC 5321 Domain of ASCII
 *	letters, digits and hyphens (an IDN in its xn-- form), else 0.
 * addr_strip_detail(local, out, sz)	"user+tag" -> "user"; a local part
 *	that starts with '+' or has none is copied whole.  0, or -1 with
 *	out emptied if it does not fit.
 * addr_local_equal(a, b)	1 if two local parts are equal ignoring ASCII
 *	case (how every mailbox of ours is looked up), else 0.
 *
 * The rules, all refusals:
 *	- control characters (CR, LF, TAB, DEL, ...) anywhere in arg;
 *	- a local part that is neither a Dot-string (atext and single dots,
 *	  none first or last) nor a non-empty Quoted-string (qtextSMTP and
 *	  quoted-pairSMTP).  A quoted local part is stored unquoted, so
 *	  local may hold '@', '"' or a space: write it with addr_format(),
 *	  never by pasting "%s@%s";
 *	- more than 64 octets of local part (as sent, with any quotes), 255 of
 *	  domain, 256 of path (with brackets and any route);
 *	- a domain label that is empty, longer than 63, starts or ends with
 *	  a hyphen; a trailing dot ("user@example.org." is not an RFC 5321
 *	  Domain); an all-numeric last label (an IP address belongs in
 *	  brackets);
 *	- an address literal that inet_pton(3) refuses, or a general one
 *	  ("[tag:...]").  Good ones are stored canonical ("[192.0.2.1]",
 *	  "[IPv6:2001:db8::1]") with ADDR_F_LITERAL: never one of our domains;
 *	- parameters: a keyword not alnum (then alnum or '-'), an empty
 *	  value, a value byte outside '!'..'~' or '=', more than
 *	  ADDR_PARAMS_MAX, the same keyword twice.
 *	The domain is lower-cased (ASCII letters only; a literal is in its
 *	canonical form instead, "IPv6:" included); the local part keeps its
 *	case.
 *
 * Every function is pure: no allocation, no logging, no global state.
 */

#ifndef POSTERN_ADDR_H
#define POSTERN_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX		64	/* octets, RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX		255	/* RFC 5321 4.5.3.1.2 */
#define ADDR_PATH_MAX		256	/* with brackets, 4.5.3.1.3 */
#define ADDR_LABEL_MAX		63
#define ADDR_FORMAT_SIZE	(ADDR_PATH_MAX - 2 + 1)

#define ADDR_PARAMS_MAX		16
#define ADDR_KEYWORD_SIZE	32
#define ADDR_VALUE_SIZE		512	/* ORCPT: 500, RFC 3461 4.2 */

#define ADDR_FORWARD		0	/* RCPT TO */
#define ADDR_REVERSE		1	/* MAIL FROM */

#define ADDR_F_POSTMASTER	0x01	/* bare <Postmaster>, domain "" */
#define ADDR_F_LITERAL		0x02	/* domain is [literal] */
#define ADDR_F_UTF8		0x04	/* holds non-ASCII (SMTPUTF8) */
#define ADDR_F_ROUTE		0x08	/* a source route was ignored */

struct mailaddr {
	char	 local[ADDR_LOCAL_MAX + 1];	/* unquoted, case kept */
	char	 domain[ADDR_DOMAIN_MAX + 1];	/* lower case */
	int	 flags;				/* ADDR_F_* */
};

/*
 * keyword[i] is upper-cased; value[i] is NULL for a bare keyword, else
 * points into this struct's own storage (so copy the strings, never
 * the struct).
 */
struct addr_params {
	int		 n;
	char		 keyword[ADDR_PARAMS_MAX][ADDR_KEYWORD_SIZE];
	const char	*value[ADDR_PARAMS_MAX];
	char		 valbuf[ADDR_PARAMS_MAX][ADDR_VALUE_SIZE];
};

int	addr_parse_path(const char *, int, int, struct mailaddr *, int *,
	    struct addr_params *, const char **);
int	addr_parse_mailbox(const char *, struct mailaddr *);
int	addr_format(const struct mailaddr *, char *, size_t);
int	addr_domain_is_valid(const char *);
int	addr_strip_detail(const char *, char *, size_t);
int	addr_local_equal(const char *, const char *);

#endif /* POSTERN_ADDR_H */
