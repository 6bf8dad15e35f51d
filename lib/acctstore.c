/*
 * acctstore.c: the account store's file format; see acctstore.h.
 * The parser works on a copy of one line at a time, splits it into at
 * most ACCT_FIELDS_MAX space-separated fields (two spaces in a row, a
 * leading or trailing space, a tab, a control byte are errors) and checks
 * each field against what the keyword expects.
 */

#include <sys/types.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acctstore.h"
#include "addr.h"

#define ACCT_LINE_MAX		1024
#define ACCT_FIELDS_MAX		7
#define ACCT_TIME_MAX		((long long)1 << 40)

struct acct_parser {
	char		*f[ACCT_FIELDS_MAX];
	int		 nf;
	size_t		 lineno;
	char		*err;
	size_t		 errsz;
	struct acct	*cur;		/* between account and end */
	int		 seen_source, seen_hash, seen_state, seen_changed;
	int		 seen_failures;
};

static int
acct_fail(struct acct_parser *p, const char *fmt, ...)
{
	char	 msg[200];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)snprintf(p->err, p->errsz, "line %zu: %s", p->lineno, msg);
	return -1;
}

int
acct_label_ok(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '.' &&
		    s[n] != '_' && s[n] != '-')
			return 0;
	return n > 0 && n < ACCT_LABEL_MAX;
}

int
acct_services_parse(const char *s, uint32_t *out)
{
	if (strcmp(s, "smtp") == 0)
		*out = ACCT_SVC_SMTP;
	else if (strcmp(s, "imap") == 0)
		*out = ACCT_SVC_IMAP;
	else if (strcmp(s, "smtp,imap") == 0 || strcmp(s, "imap,smtp") == 0)
		*out = ACCT_SVC_ALL;
	else
		return -1;
	return 0;
}

const char *
acct_services_name(uint32_t svc)
{
	switch (svc) {
	case ACCT_SVC_SMTP:
		return "smtp";
	case ACCT_SVC_IMAP:
		return "imap";
	case ACCT_SVC_ALL:
		return "smtp,imap";
	}
	return NULL;
}

/* A crypt(3) string: '$' first, then the crypt alphabet and '$'. */
static int
acct_hash_ok(const char *s)
{
	size_t	 n;

	if (s[0] != '$')
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '.' &&
		    s[n] != '/' && s[n] != '$' && s[n] != '=' && s[n] != ',')
			return 0;
	return n < ACCT_HASH_MAX;
}

static int
acct_num(struct acct_parser *p, const char *s, long long max,
    long long *out)
{
	const char	*errstr;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0') ||
	    strspn(s, "0123456789") != strlen(s))
		return acct_fail(p, "bad number \"%s\"", s);
	*out = strtonum(s, 0, max, &errstr);
	if (errstr != NULL)
		return acct_fail(p, "number %s", errstr);
	return 0;
}

static int
acct_time(struct acct_parser *p, const char *s, time_t *out)
{
	long long	 v;

	if (acct_num(p, s, ACCT_TIME_MAX, &v) == -1)
		return -1;
	*out = (time_t)v;
	return 0;
}

static int
acct_hex(struct acct_parser *p, const char *s, unsigned char *out,
    size_t len)
{
	size_t	 i;
	int	 hi, lo;

	if (strlen(s) != len * 2)
		return acct_fail(p, "expected %zu hex digits", len * 2);
	for (i = 0; i < len; i++) {
		hi = s[2 * i];
		lo = s[2 * i + 1];
		if (!isxdigit(hi) || !isxdigit(lo) || isupper(hi) ||
		    isupper(lo))
			return acct_fail(p, "bad hex digits");
		hi = isdigit(hi) ? hi - '0' : hi - 'a' + 10;
		lo = isdigit(lo) ? lo - '0' : lo - 'a' + 10;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* Splits line in place; 0 or -1. */
static int
acct_split(struct acct_parser *p, char *line)
{
	char	*s;

	p->nf = 0;
	for (s = line; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return acct_fail(p, "control character");
	if (line[0] == '\0')
		return acct_fail(p, "empty line");
	s = line;
	for (;;) {
		if (p->nf == ACCT_FIELDS_MAX)
			return acct_fail(p, "too many fields");
		if (*s == ' ' || *s == '\0')
			return acct_fail(p, "empty field");
		p->f[p->nf++] = s;
		if ((s = strchr(s, ' ')) == NULL)
			return 0;
		*s++ = '\0';
	}
}

static int
acct_nfields(struct acct_parser *p, int n)
{
	if (p->nf != n)
		return acct_fail(p, "%s: %d fields, expected %d", p->f[0],
		    p->nf - 1, n - 1);
	return 0;
}

static int
acct_begin(struct acct_parser *p, struct acct_list *list)
{
	struct mailaddr	 ma;
	struct acct	*a;
	size_t		 i;

	if (acct_nfields(p, 2) == -1)
		return -1;
	if (p->cur != NULL)
		return acct_fail(p, "account inside account");
	if (addr_parse_mailbox(p->f[1], &ma) == -1 ||
	    strlen(p->f[1]) >= CONFIG_ADDR_MAX)
		return acct_fail(p, "bad address");
	for (i = 0; p->f[1][i] != '\0'; i++)
		if (isupper((unsigned char)p->f[1][i]))
			return acct_fail(p, "address not in lower case");
	TAILQ_FOREACH(a, list, entry)
		if (strcmp(a->address, p->f[1]) == 0)
			return acct_fail(p, "duplicate account %s", p->f[1]);
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return acct_fail(p, "out of memory");
	(void)strlcpy(a->address, p->f[1], sizeof(a->address));
	TAILQ_INSERT_TAIL(list, a, entry);
	p->cur = a;
	p->seen_source = p->seen_hash = p->seen_state = 0;
	p->seen_changed = p->seen_failures = 0;
	return 0;
}

static int
acct_end(struct acct_parser *p)
{
	struct acct	*a = p->cur;

	if (acct_nfields(p, 1) == -1)
		return -1;
	if (!p->seen_source || !p->seen_state || !p->seen_changed ||
	    !p->seen_failures)
		return acct_fail(p, "account %s: source, state, changed and "
		    "failures are required", a->address);
	if (a->from_config == p->seen_hash)
		return acct_fail(p, "account %s: a hash is required for a "
		    "store account and refused for a config one", a->address);
	if (a->totp_on && a->totp_pending_on)
		return acct_fail(p, "account %s: totp and totp-pending",
		    a->address);
	p->cur = NULL;
	return 0;
}

static int
acct_once(struct acct_parser *p, int *seen)
{
	if (*seen)
		return acct_fail(p, "%s given twice", p->f[0]);
	*seen = 1;
	return 0;
}

static int
acct_state(struct acct_parser *p, struct acct *a)
{
	if (acct_once(p, &p->seen_state) == -1)
		return -1;
	if (strcmp(p->f[1], "locked") == 0) {
		if (acct_nfields(p, 3) == -1 ||
		    acct_time(p, p->f[2], &a->locked_until) == -1)
			return -1;
		a->state = ACCT_LOCKED;
		return 0;
	}
	if (acct_nfields(p, 2) == -1)
		return -1;
	if (strcmp(p->f[1], "active") == 0)
		a->state = ACCT_ACTIVE;
	else if (strcmp(p->f[1], "disabled") == 0)
		a->state = ACCT_DISABLED;
	else
		return acct_fail(p, "bad state %s", p->f[1]);
	return 0;
}

static int
acct_history(struct acct_parser *p, struct acct *a)
{
	void	*h;

	if (acct_nfields(p, 2) == -1)
		return -1;
	if (!acct_hash_ok(p->f[1]))
		return acct_fail(p, "bad hash");
	if (a->nhistory == ACCT_HISTORY_MAX)
		return acct_fail(p, "more than %d history hashes",
		    ACCT_HISTORY_MAX);
	if ((h = reallocarray(a->history, a->nhistory + 1,
	    sizeof(a->history[0]))) == NULL)
		return acct_fail(p, "out of memory");
	a->history = h;
	(void)strlcpy(a->history[a->nhistory++], p->f[1],
	    sizeof(a->history[0]));
	return 0;
}

static int
acct_apppass(struct acct_parser *p, struct acct *a)
{
	struct acct_apppass	*ap;
	size_t			 i;

	if (acct_nfields(p, 6) == -1)
		return -1;
	if (a->napp == ACCT_APPPASS_MAX)
		return acct_fail(p, "more than %d app passwords",
		    ACCT_APPPASS_MAX);
	ap = &a->app[a->napp];
	if (!acct_label_ok(p->f[1]))
		return acct_fail(p, "bad label");
	for (i = 0; i < a->napp; i++)
		if (strcmp(a->app[i].label, p->f[1]) == 0)
			return acct_fail(p, "duplicate label %s", p->f[1]);
	(void)strlcpy(ap->label, p->f[1], sizeof(ap->label));
	if (acct_services_parse(p->f[2], &ap->services) == -1)
		return acct_fail(p, "bad services %s", p->f[2]);
	if (acct_time(p, p->f[3], &ap->created) == -1 ||
	    acct_time(p, p->f[4], &ap->last_used) == -1 ||
	    acct_hex(p, p->f[5], ap->sha256, sizeof(ap->sha256)) == -1)
		return -1;
	a->napp++;
	return 0;
}

static int
acct_totp(struct acct_parser *p, struct acct *a)
{
	long long	 v;

	if (acct_nfields(p, 3) == -1)
		return -1;
	if (strcmp(p->f[0], "totp") == 0) {
		if (a->totp_on)
			return acct_fail(p, "totp given twice");
		if (acct_hex(p, p->f[1], a->totp, sizeof(a->totp)) == -1 ||
		    acct_num(p, p->f[2], INT64_MAX, &v) == -1)
			return -1;
		a->totp_last_step = (uint64_t)v;
		a->totp_on = 1;
		return 0;
	}
	if (a->totp_pending_on)
		return acct_fail(p, "totp-pending given twice");
	if (acct_hex(p, p->f[1], a->totp_pending,
	    sizeof(a->totp_pending)) == -1 ||
	    acct_time(p, p->f[2], &a->totp_pending_created) == -1)
		return -1;
	a->totp_pending_on = 1;
	return 0;
}

static int
acct_field(struct acct_parser *p)
{
	struct acct	*a = p->cur;
	const char	*k = p->f[0];
	long long	 v;

	if (strcmp(k, "source") == 0) {
		if (acct_once(p, &p->seen_source) == -1 ||
		    acct_nfields(p, 2) == -1)
			return -1;
		if (strcmp(p->f[1], "config") == 0)
			a->from_config = 1;
		else if (strcmp(p->f[1], "store") != 0)
			return acct_fail(p, "bad source %s", p->f[1]);
		return 0;
	}
	if (strcmp(k, "hash") == 0) {
		if (acct_once(p, &p->seen_hash) == -1 ||
		    acct_nfields(p, 2) == -1)
			return -1;
		if (!acct_hash_ok(p->f[1]))
			return acct_fail(p, "bad hash");
		(void)strlcpy(a->hash, p->f[1], sizeof(a->hash));
		return 0;
	}
	if (strcmp(k, "state") == 0)
		return acct_state(p, a);
	if (strcmp(k, "changed") == 0)
		return acct_once(p, &p->seen_changed) == -1 ||
		    acct_nfields(p, 2) == -1 ||
		    acct_time(p, p->f[1], &a->changed) == -1 ? -1 : 0;
	if (strcmp(k, "history") == 0)
		return acct_history(p, a);
	if (strcmp(k, "failures") == 0) {
		if (acct_once(p, &p->seen_failures) == -1 ||
		    acct_nfields(p, 3) == -1 ||
		    acct_num(p, p->f[1], UINT32_MAX, &v) == -1 ||
		    acct_time(p, p->f[2], &a->fail_first) == -1)
			return -1;
		a->failures = (uint32_t)v;
		return 0;
	}
	if (strcmp(k, "totp") == 0 || strcmp(k, "totp-pending") == 0)
		return acct_totp(p, a);
	if (strcmp(k, "apppass") == 0)
		return acct_apppass(p, a);
	return acct_fail(p, "unknown keyword %s", k);
}

static int
acct_count(struct acct_parser *p, const struct acct_list *list)
{
	const struct acct	*a;
	long long		 n, have = 0;

	if (acct_nfields(p, 2) == -1 ||
	    acct_num(p, p->f[1], INT32_MAX, &n) == -1)
		return -1;
	if (p->cur != NULL)
		return acct_fail(p, "count inside an account");
	TAILQ_FOREACH(a, list, entry)
		have++;
	if (n != have)
		return acct_fail(p, "count %lld, but %lld accounts", n, have);
	return 0;
}

static int
acct_line(struct acct_parser *p, char *line, struct acct_list *list,
    int *done)
{
	if (*done)
		return acct_fail(p, "data after count");
	if (p->lineno == 1)
		return strcmp(line, ACCT_MAGIC) == 0 ? 0 :
		    acct_fail(p, "not an account store (no \"%s\")",
		    ACCT_MAGIC);
	if (acct_split(p, line) == -1)
		return -1;
	if (strcmp(p->f[0], "account") == 0)
		return acct_begin(p, list);
	if (strcmp(p->f[0], "count") == 0) {
		*done = 1;
		return acct_count(p, list);
	}
	if (p->cur == NULL)
		return acct_fail(p, "%s outside an account", p->f[0]);
	if (strcmp(p->f[0], "end") == 0)
		return acct_end(p);
	return acct_field(p);
}

int
acct_parse(const char *buf, size_t len, struct acct_list *list, char *err,
    size_t errsz)
{
	struct acct_parser	 p;
	char			 line[ACCT_LINE_MAX];
	const char		*nl, *end = buf + len;
	size_t			 n;
	int			 done = 0, ret = 0;

	memset(&p, 0, sizeof(p));
	p.err = err;
	p.errsz = errsz;
	while (buf < end && ret == 0) {
		p.lineno++;
		if ((nl = memchr(buf, '\n', end - buf)) == NULL) {
			ret = acct_fail(&p, "no newline at the end");
			break;
		}
		if ((n = nl - buf) >= sizeof(line) ||
		    memchr(buf, '\0', n) != NULL) {
			ret = acct_fail(&p, n >= sizeof(line) ?
			    "line too long" : "NUL byte");
			break;
		}
		memcpy(line, buf, n);
		line[n] = '\0';
		ret = acct_line(&p, line, list, &done);
		buf = nl + 1;
	}
	explicit_bzero(line, sizeof(line));
	if (ret == 0 && !done) {
		p.lineno++;
		ret = acct_fail(&p, p.lineno == 1 ? "empty file" :
		    "truncated (no count line)");
	}
	if (ret == -1)
		acct_list_free(list);
	return ret;
}

struct acct_out {
	char	*buf;
	size_t	 len, cap;
	int	 error;
};

static void
acct_out(struct acct_out *o, const char *fmt, ...)
{
	va_list	 ap;
	char	*nb;
	size_t	 ncap;
	int	 n;

	if (o->error)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= ACCT_LINE_MAX) {
		o->error = 1;
		return;
	}
	if ((size_t)n >= o->cap - o->len) {
		ncap = o->cap * 2 + n + 1;
		if ((nb = malloc(ncap)) == NULL) {
			o->error = 1;
			return;
		}
		memcpy(nb, o->buf, o->len);
		freezero(o->buf, o->cap);
		o->buf = nb;
		o->cap = ncap;
		va_start(ap, fmt);
		(void)vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
	}
	o->len += n;
}

static void
acct_out_hex(struct acct_out *o, const unsigned char *p, size_t len)
{
	char	 hex[2 * ACCT_SHA256_LEN + 1];
	size_t	 i;

	if (len > ACCT_SHA256_LEN) {
		o->error = 1;
		return;
	}
	for (i = 0; i < len; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", p[i]);
	hex[2 * len] = '\0';
	acct_out(o, "%s", hex);
	explicit_bzero(hex, sizeof(hex));
}

static void
acct_format_one(struct acct_out *o, const struct acct *a)
{
	const struct acct_apppass	*ap;
	size_t				 i;

	if (!a->from_config && !acct_hash_ok(a->hash))
		o->error = 1;
	acct_out(o, "account %s\nsource %s\n", a->address,
	    a->from_config ? "config" : "store");
	if (!a->from_config)
		acct_out(o, "hash %s\n", a->hash);
	if (a->state == ACCT_LOCKED)
		acct_out(o, "state locked %lld\n", (long long)a->locked_until);
	else
		acct_out(o, "state %s\n", a->state == ACCT_DISABLED ?
		    "disabled" : "active");
	acct_out(o, "changed %lld\n", (long long)a->changed);
	for (i = 0; i < a->nhistory; i++)
		acct_out(o, "history %s\n", a->history[i]);
	acct_out(o, "failures %u %lld\n", a->failures,
	    (long long)a->fail_first);
	if (a->totp_on) {
		acct_out(o, "totp ");
		acct_out_hex(o, a->totp, sizeof(a->totp));
		acct_out(o, " %" PRIu64 "\n", a->totp_last_step);
	}
	if (a->totp_pending_on) {
		acct_out(o, "totp-pending ");
		acct_out_hex(o, a->totp_pending, sizeof(a->totp_pending));
		acct_out(o, " %lld\n", (long long)a->totp_pending_created);
	}
	for (i = 0; i < a->napp; i++) {
		ap = &a->app[i];
		if (!acct_label_ok(ap->label) ||
		    acct_services_name(ap->services) == NULL)
			o->error = 1;
		acct_out(o, "apppass %s %s %lld %lld ", ap->label,
		    acct_services_name(ap->services), (long long)ap->created,
		    (long long)ap->last_used);
		acct_out_hex(o, ap->sha256, sizeof(ap->sha256));
		acct_out(o, "\n");
	}
	acct_out(o, "end\n");
}

char *
acct_format(const struct acct_list *list, size_t *lenp)
{
	struct acct_out		 o;
	const struct acct	*a;
	size_t			 n = 0;

	memset(&o, 0, sizeof(o));
	o.cap = 4096;
	if ((o.buf = malloc(o.cap)) == NULL)
		return NULL;
	acct_out(&o, "%s\n", ACCT_MAGIC);
	TAILQ_FOREACH(a, list, entry) {
		acct_format_one(&o, a);
		n++;
	}
	acct_out(&o, "count %zu\n", n);
	if (o.error) {
		freezero(o.buf, o.cap);
		return NULL;
	}
	*lenp = o.len;
	return o.buf;
}

int
acct_history_push(struct acct *a, const char *hash, size_t keep)
{
	void	*h;

	if (keep > ACCT_HISTORY_MAX)
		keep = ACCT_HISTORY_MAX;
	if (keep == 0) {
		if (a->history != NULL)
			explicit_bzero(a->history, a->nhistory *
			    sizeof(a->history[0]));
		a->nhistory = 0;
		return 0;
	}
	if (a->nhistory < keep) {
		if ((h = reallocarray(a->history, a->nhistory + 1,
		    sizeof(a->history[0]))) == NULL)
			return -1;
		a->history = h;
		a->nhistory++;
	}
	if (a->nhistory > keep) {
		explicit_bzero(a->history[keep], (a->nhistory - keep) *
		    sizeof(a->history[0]));
		a->nhistory = keep;
	}
	memmove(a->history[1], a->history[0],
	    sizeof(a->history[0]) * (a->nhistory - 1));
	(void)strlcpy(a->history[0], hash, sizeof(a->history[0]));
	return 0;
}

void
acct_list_free(struct acct_list *list)
{
	struct acct	*a;

	while ((a = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, a, entry);
		if (a->history != NULL)
			freezero(a->history, a->nhistory *
			    sizeof(a->history[0]));
		freezero(a, sizeof(*a));
	}
}
