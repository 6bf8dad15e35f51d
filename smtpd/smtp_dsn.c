/*
 * smtp_dsn.c: RFC 3461's parameters, RET and ENVID of MAIL FROM, NOTIFY
 * and ORCPT of RCPT TO, checked and decoded for the queue, which keeps
 * them in the envelope and honours them when it makes a DSN
 * (queue/queue_dsn.c).
 *
 * smtp_dsn_mail_param(dsn, keyword, value, why)
 * smtp_dsn_rcpt_param(dsn, keyword, value, why)
 *	Take one ESMTP parameter (keyword upper case, value NULL when
 *	bare) into the transaction's or the recipient's struct.  Return
 *	1 when it was taken, 0 when the keyword is not RFC 3461's (the
 *	caller decides), -1 with a short reason in *why (a static
 *	string) for a value RFC 3461 does not allow: the caller answers
 *	501 5.5.4 and keeps nothing of the command.
 * smtp_xtext_decode(src, dst, dstsz, why)
 *	RFC 3461 4's xtext into dst: 0, or -1 with *why.
 *
 * Owns the syntax of the four values.  Trusts nothing: every value is
 * the client's, split by lib/addr.c (which has already refused an
 * empty value, a byte outside '!'..'~' or '=', and a repeated
 * keyword).  Refused: an unknown RET or NOTIFY value, NEVER combined
 * with another NOTIFY value, a repeated parameter, bad xtext, a decoded
 * byte that is not printable ASCII or space (RFC 3461 4.2 and 4.4: the
 * DSN fields they end up in are US-ASCII; RFC 6533's utf-8 addresses
 * travel as \x{HEX} inside the xtext), an ENVID over 100 or an ORCPT
 * over 500 characters as sent.  ORCPT's address type is any atom
 * ("rfc822", RFC 6533's "utf-8", others), kept lower case; its address
 * is kept decoded, so the queue stores "type;address".
 *
 * Pure: no allocation, no logging, no global state
 * (regress/unit/smtp_dsn.c).
 */

#include <sys/types.h>

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "smtp.h"

#define SMTP_ENVID_LEN	100	/* RFC 3461 4.4 */
#define SMTP_ORCPT_LEN	500	/* RFC 3461 4.2 */

static int
smtp_xtext_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	/* RFC 3461 says upper case; lower case harms nobody. */
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
smtp_xtext_decode(const char *src, char *dst, size_t dstsz,
    const char **why)
{
	size_t		 o = 0;
	int		 hi, lo;
	unsigned char	 c;

	if (dstsz == 0) {
		*why = "too long";
		return -1;
	}
	for (; *src != '\0'; src++) {
		c = (unsigned char)*src;
		if (c == '+') {
			if ((hi = smtp_xtext_hex(src[1])) == -1 ||
			    (lo = smtp_xtext_hex(src[2])) == -1) {
				*why = "'+' not followed by two hex digits";
				return -1;
			}
			c = (unsigned char)(hi << 4 | lo);
			src += 2;
			if (c < ' ' || c > '~') {
				*why = "not printable ASCII once decoded";
				return -1;
			}
		} else if (c < '!' || c > '~' || c == '=') {
			*why = "not valid xtext";
			return -1;
		}
		if (o + 1 >= dstsz) {
			*why = "too long";
			return -1;
		}
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return 0;
}

static int
smtp_dsn_ret(struct smtp_dsn_mail *dsn, const char *v, const char **why)
{
	if (dsn->ret != SPOOL_RET_NONE) {
		*why = "given twice";
		return -1;
	}
	if (v != NULL && strcasecmp(v, "FULL") == 0)
		dsn->ret = SPOOL_RET_FULL;
	else if (v != NULL && strcasecmp(v, "HDRS") == 0)
		dsn->ret = SPOOL_RET_HDRS;
	else {
		*why = "must be FULL or HDRS";
		return -1;
	}
	return 1;
}

/* What ENVID and ORCPT share: given once, with a value of at most max. */
static int
smtp_dsn_value_ok(const char *kept, const char *v, size_t max,
    const char *toolong, const char **why)
{
	if (kept[0] != '\0')
		*why = "given twice";
	else if (v == NULL || *v == '\0')
		*why = "needs a value";
	else if (strlen(v) > max)
		*why = toolong;
	else
		return 1;
	return 0;
}

static int
smtp_dsn_envid(struct smtp_dsn_mail *dsn, const char *v, const char **why)
{
	if (!smtp_dsn_value_ok(dsn->envid, v, SMTP_ENVID_LEN,
	    "longer than 100 characters", why))
		return -1;
	if (smtp_xtext_decode(v, dsn->envid, sizeof(dsn->envid), why) == -1) {
		dsn->envid[0] = '\0';
		return -1;
	}
	return 1;
}

int
smtp_dsn_mail_param(struct smtp_dsn_mail *dsn, const char *k, const char *v,
    const char **why)
{
	if (strcmp(k, "RET") == 0)
		return smtp_dsn_ret(dsn, v, why);
	if (strcmp(k, "ENVID") == 0)
		return smtp_dsn_envid(dsn, v, why);
	return 0;
}

/* One element of NOTIFY's list: its SPOOL_NOTIFY_* bit, or 0. */
static uint32_t
smtp_dsn_notify_word(const char *w, size_t len)
{
	static const struct {
		const char	*name;
		uint32_t	 bit;
	} words[] = {
		{ "NEVER",	SPOOL_NOTIFY_NEVER },
		{ "SUCCESS",	SPOOL_NOTIFY_SUCCESS },
		{ "FAILURE",	SPOOL_NOTIFY_FAILURE },
		{ "DELAY",	SPOOL_NOTIFY_DELAY },
	};
	size_t	 i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i].name) == len &&
		    strncasecmp(w, words[i].name, len) == 0)
			return words[i].bit;
	return 0;
}

/* NEVER, or a comma list of SUCCESS, FAILURE, DELAY (a repeat is
 * harmless and taken). */
static int
smtp_dsn_notify(struct smtp_dsn_rcpt *dsn, const char *v, const char **why)
{
	uint32_t	 bits = 0, bit;
	size_t		 len;

	if (dsn->notify != 0) {
		*why = "given twice";
		return -1;
	}
	if (v == NULL) {
		*why = "needs a value";
		return -1;
	}
	for (;;) {
		len = strcspn(v, ",");
		if ((bit = smtp_dsn_notify_word(v, len)) == 0) {
			*why = "must be NEVER or a list of SUCCESS, FAILURE "
			    "and DELAY";
			return -1;
		}
		bits |= bit;
		if (v[len] == '\0')
			break;
		v += len + 1;
	}
	if ((bits & SPOOL_NOTIFY_NEVER) && bits != SPOOL_NOTIFY_NEVER) {
		*why = "NEVER cannot be combined with other values";
		return -1;
	}
	dsn->notify = bits;
	return 1;
}

/* RFC 5322 atext: what an atom (RFC 3461's addr-type) is made of. */
static int
smtp_dsn_atext(char c)
{
	return isascii((unsigned char)c) && (isalnum((unsigned char)c) ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL));
}

/* addr-type ";" xtext, kept as "type;decoded" with the type lower case. */
static int
smtp_dsn_orcpt(struct smtp_dsn_rcpt *dsn, const char *v, const char **why)
{
	size_t	 i, n;

	if (!smtp_dsn_value_ok(dsn->orcpt, v, SMTP_ORCPT_LEN,
	    "longer than 500 characters", why))
		return -1;
	n = strcspn(v, ";");
	if (n == 0 || v[n] == '\0') {
		*why = "must be address-type;address";
		return -1;
	}
	if (v[n + 1] == '\0') {
		*why = "has an empty address";
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!smtp_dsn_atext(v[i])) {
			*why = "has a bad address type";
			return -1;
		}
	}
	for (i = 0; i < n; i++)
		dsn->orcpt[i] = (char)tolower((unsigned char)v[i]);
	dsn->orcpt[n] = ';';
	if (smtp_xtext_decode(v + n + 1, dsn->orcpt + n + 1,
	    sizeof(dsn->orcpt) - n - 1, why) == -1) {
		dsn->orcpt[0] = '\0';
		return -1;
	}
	return 1;
}

int
smtp_dsn_rcpt_param(struct smtp_dsn_rcpt *dsn, const char *k, const char *v,
    const char **why)
{
	if (strcmp(k, "NOTIFY") == 0)
		return smtp_dsn_notify(dsn, v, why);
	if (strcmp(k, "ORCPT") == 0)
		return smtp_dsn_orcpt(dsn, v, why);
	return 0;
}
