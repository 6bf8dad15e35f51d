/*
 * config.c: parse postern.yaml into struct config.
 *
 * Owns the translation from YAML to struct config and every check on the
 * values.  Trusts nothing in the input: the bytes may be garbage (the unit
 * test feeds mutations), so every node's type is checked before use and
 * every error names the file, line and column of the offending node.
 *
 * Two passes.  yaml_load() turns the libyaml event stream into a small
 * tree (struct ynode); working from events lets us refuse anchors,
 * aliases, tags and extra documents at their own position, and bound the
 * depth and node count.  The parse_*() functions then walk the tree
 * against the schema, top-level keys in dependency order (tls before
 * listeners, domains before accounts and aliases, run_dir before
 * control).  The first error stops everything and the partial config is
 * freed: a config is applied whole or not at all.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/tree.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"

#define YAML_MAX_DEPTH	32
#define YAML_MAX_NODES	(256 * 1024)
#define MAP_MAX_KEYS	16
#define WHERE_MAX	96	/* "listeners[12].address" */
#define SHOW_MAX	48	/* user text quoted in messages */

#define DAY		(24 * 60 * 60)

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

enum ynode_type {
	YNODE_SCALAR,
	YNODE_SEQ,
	YNODE_MAP,
};

struct ynode {
	enum ynode_type	 type;
	int		 plain;		/* scalar without quotes */
	size_t		 line;		/* 1-based, from libyaml */
	size_t		 col;
	char		*str;		/* scalar, NUL-terminated */
	size_t		 len;
	struct ynode	**kids;		/* items; key, value, ... */
	size_t		 nkids;
	size_t		 kidscap;
	struct ynode	*parent;
};

/* A set of names already seen, to find duplicates in O(log n). */
struct name_ent {
	RB_ENTRY(name_ent)	 entry;
	const char		*name;	/* points into the config */
};
RB_HEAD(name_tree, name_ent);

struct pctx {
	const char		*path;	/* as given, for messages */
	char			*err;
	size_t			 errsz;
	int			 check_files;
	char			 dir[PATH_MAX];	/* base of relative paths */
	struct config		*conf;
	size_t			 nnodes;
	int			 have_tls;
	int			 have_roles;
	int			 have_socket;
	const struct ynode	*run_dir_node;
	struct name_tree	 domains;
	struct name_tree	 accounts;
	struct name_tree	 aliases;
};

struct keydef {
	const char	*name;
	int		 required;
};

/* The values of one mapping, in the order of its keydef table. */
struct mapvals {
	const struct ynode	*node[MAP_MAX_KEYS];
	char			 where[MAP_MAX_KEYS][WHERE_MAX];
};

static const char *const service_names[] = {
	[SERVICE_SMTP] = "smtp",
	[SERVICE_SUBMISSION] = "submission",
	[SERVICE_IMAP] = "imap",
};

static const char *const tls_names[] = {
	[TLSMODE_NONE] = "none",
	[TLSMODE_STARTTLS] = "starttls",
	[TLSMODE_IMPLICIT] = "implicit",
};

static const char *const role_names[] = {
	[CTL_ROLE_NONE] = "none",
	[CTL_ROLE_AUDITOR] = "auditor",
	[CTL_ROLE_OPERATOR] = "operator",
	[CTL_ROLE_ADMIN] = "admin",
};

static const char *const sync_names[] = {
	[SYNCSET_FILESYSTEM] = "filesystem",
	[SYNCSET_FILES] = "files",
};

static const char *const two_factor_names[] = {
	[TWO_FACTOR_OPTIONAL] = "optional",
	[TWO_FACTOR_REQUIRED] = "required",
};

static const char *const level_names[] = {
	"error", "warning", "notice", "info", "debug",
};
static const int level_values[] = {
	LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG,
};

static const char *const facility_names[] = {
	"mail", "daemon", "user", "local0", "local1", "local2", "local3",
	"local4", "local5", "local6", "local7",
};
static const int facility_values[] = {
	LOG_MAIL, LOG_DAEMON, LOG_USER, LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2,
	LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7,
};

static const char *const protocol_names[] = {
	"tlsv1.2", "tlsv1.3",
};
static const int protocol_values[] = {
	CONFIG_TLS_V12, CONFIG_TLS_V13,
};

static const time_t default_retry[] = {
	5 * 60, 15 * 60, 30 * 60, 60 * 60, 2 * 60 * 60, 4 * 60 * 60,
};

/* Accepted crypt(3) prefixes: yescrypt, gost-yescrypt, bcrypt, SHA-crypt */
static const char *const hash_prefixes[] = {
	"$y$", "$gy$", "$2b$", "$6$", "$5$",
};

static int	name_cmp(struct name_ent *, struct name_ent *);
/* libbsd's RB_GENERATE_STATIC needs __unused, which libbsd leaves out. */
RB_GENERATE_INTERNAL(name_tree, name_ent, entry, name_cmp,
    __attribute__((__unused__)) static)

static int	perr_at(struct pctx *, size_t, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
static int	perr(struct pctx *, const struct ynode *, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

/*
 * Errors and small helpers
 */

static int
perr_at(struct pctx *p, size_t line, size_t col, const char *fmt, ...)
{
	char	 msg[CONFIG_ERR_SIZE];
	va_list	 ap;

	if (p->err == NULL || p->errsz == 0)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A message cut short is still a message. */
	(void)snprintf(p->err, p->errsz, "%s:%zu:%zu: %s", p->path, line,
	    col, msg);
	return -1;
}

static int
perr(struct pctx *p, const struct ynode *n, const char *fmt, ...)
{
	char	 msg[CONFIG_ERR_SIZE];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return perr_at(p, n->line, n->col, "%s", msg);
}

static int
perr_oom(struct pctx *p, const struct ynode *n)
{
	if (n == NULL)
		return perr_at(p, 1, 1, "out of memory");
	return perr(p, n, "out of memory");
}

/*
 * Copies user text for an error message: printable ASCII only, cut at
 * SHOW_MAX characters, so a message never carries control characters.
 */
static const char *
show(const char *s, char *buf, size_t bufsz)
{
	size_t	 i, j;

	for (i = j = 0; s[i] != '\0' && j + 4 < bufsz; i++) {
		if (j >= SHOW_MAX) {
			(void)strlcpy(buf + j, "...", bufsz - j);
			return buf;
		}
		if (s[i] >= 0x20 && s[i] < 0x7f)
			buf[j++] = s[i];
		else
			buf[j++] = '?';
	}
	buf[j] = '\0';
	return buf;
}

static void
lowercase(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

static int
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
is_digits(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static const char *
subwhere(char *buf, size_t bufsz, const char *where, const char *key)
{
	int	 r;

	if (where[0] == '\0')
		r = snprintf(buf, bufsz, "%s", key);
	else
		r = snprintf(buf, bufsz, "%s.%s", where, key);
	if (r < 0 || (size_t)r >= bufsz)
		(void)strlcpy(buf, key, bufsz);
	return buf;
}

static const char *
itemwhere(char *buf, size_t bufsz, const char *where, size_t i)
{
	int	 r;

	r = snprintf(buf, bufsz, "%s[%zu]", where, i);
	if (r < 0 || (size_t)r >= bufsz)
		(void)strlcpy(buf, where, bufsz);
	return buf;
}

static int
name_cmp(struct name_ent *a, struct name_ent *b)
{
	return strcmp(a->name, b->name);
}

/* 0 when added, 1 when already there, -1 when out of memory. */
static int
names_add(struct name_tree *t, const char *name)
{
	struct name_ent	*e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	e->name = name;
	if (RB_INSERT(name_tree, t, e) != NULL) {
		free(e);
		return 1;
	}
	return 0;
}

static int
names_has(struct name_tree *t, const char *name)
{
	struct name_ent	 key;

	memset(&key, 0, sizeof(key));
	key.name = name;
	return RB_FIND(name_tree, t, &key) != NULL;
}

static void
names_free(struct name_tree *t)
{
	struct name_ent	*e;

	while ((e = RB_MIN(name_tree, t)) != NULL) {
		RB_REMOVE(name_tree, t, e);
		free(e);
	}
}

/*
 * The YAML tree
 */

static void
ynode_free(struct ynode *n)
{
	size_t	 i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nkids; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	/* Scalars may be password hashes. */
	if (n->str != NULL)
		freezero(n->str, n->len + 1);
	free(n);
}

static int
ynode_add(struct ynode *parent, struct ynode *kid)
{
	struct ynode	**kids;
	size_t		  cap;

	if (parent->nkids == parent->kidscap) {
		cap = parent->kidscap == 0 ? 8 : parent->kidscap * 2;
		kids = reallocarray(parent->kids, cap, sizeof(*kids));
		if (kids == NULL)
			return -1;
		parent->kids = kids;
		parent->kidscap = cap;
	}
	parent->kids[parent->nkids++] = kid;
	kid->parent = parent;
	return 0;
}

static const char *
ynode_kind(const struct ynode *n)
{
	switch (n->type) {
	case YNODE_SEQ:
		return "a list";
	case YNODE_MAP:
		return "a mapping";
	case YNODE_SCALAR:
		break;
	}
	return "a scalar";
}

/* A plain empty scalar, ~ or null: YAML's null. */
static int
ynode_is_null(const struct ynode *n)
{
	if (n->type != YNODE_SCALAR || !n->plain)
		return 0;
	return n->len == 0 || strcmp(n->str, "~") == 0 ||
	    strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
	    strcmp(n->str, "NULL") == 0;
}

struct yload {
	struct ynode	*root;
	struct ynode	*cur;		/* innermost open collection */
	size_t		 depth;
	int		 ndocs;
};

static int
yload_props(struct pctx *p, const yaml_mark_t *m, const yaml_char_t *anchor,
    const yaml_char_t *tag)
{
	if (anchor != NULL)
		return perr_at(p, m->line + 1, m->column + 1,
		    "YAML anchors (&) are not supported");
	if (tag != NULL)
		return perr_at(p, m->line + 1, m->column + 1,
		    "YAML tags (!) are not supported");
	return 0;
}

static struct ynode *
yload_node(struct pctx *p, struct yload *l, enum ynode_type type,
    const yaml_mark_t *m)
{
	struct ynode	*n;

	if (++p->nnodes > YAML_MAX_NODES) {
		(void)perr_at(p, m->line + 1, m->column + 1,
		    "too many YAML nodes (max %d)", YAML_MAX_NODES);
		return NULL;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL) {
		(void)perr_at(p, m->line + 1, m->column + 1, "out of memory");
		return NULL;
	}
	n->type = type;
	n->line = m->line + 1;
	n->col = m->column + 1;
	if (l->cur == NULL) {
		/* The only root: a second document is refused earlier. */
		ynode_free(l->root);
		l->root = n;
	} else if (ynode_add(l->cur, n) == -1) {
		free(n);
		(void)perr_at(p, m->line + 1, m->column + 1, "out of memory");
		return NULL;
	}
	return n;
}

static int
yload_scalar(struct pctx *p, struct yload *l, const yaml_event_t *ev)
{
	const yaml_mark_t	*m = &ev->start_mark;
	struct ynode		*n;
	size_t			 len = ev->data.scalar.length;

	if (yload_props(p, m, ev->data.scalar.anchor,
	    ev->data.scalar.tag) == -1)
		return -1;
	if (memchr(ev->data.scalar.value, '\0', len) != NULL)
		return perr_at(p, m->line + 1, m->column + 1,
		    "NUL character in a string");
	if ((n = yload_node(p, l, YNODE_SCALAR, m)) == NULL)
		return -1;
	if ((n->str = malloc(len + 1)) == NULL)
		return perr_oom(p, n);
	memcpy(n->str, ev->data.scalar.value, len);
	n->str[len] = '\0';
	n->len = len;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return 0;
}

static int
yload_open(struct pctx *p, struct yload *l, const yaml_event_t *ev,
    enum ynode_type type)
{
	const yaml_mark_t	*m = &ev->start_mark;
	struct ynode		*n;
	int			 r;

	if (type == YNODE_SEQ)
		r = yload_props(p, m, ev->data.sequence_start.anchor,
		    ev->data.sequence_start.tag);
	else
		r = yload_props(p, m, ev->data.mapping_start.anchor,
		    ev->data.mapping_start.tag);
	if (r == -1)
		return -1;
	if (++l->depth > YAML_MAX_DEPTH)
		return perr_at(p, m->line + 1, m->column + 1,
		    "nested too deeply (max %d levels)", YAML_MAX_DEPTH);
	if ((n = yload_node(p, l, type, m)) == NULL)
		return -1;
	l->cur = n;
	return 0;
}

/* 1 at the end of the stream, 0 to go on, -1 on error. */
static int
yload_event(struct pctx *p, struct yload *l, const yaml_event_t *ev)
{
	const yaml_mark_t	*m = &ev->start_mark;

	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (l->ndocs++ > 0)
			return perr_at(p, m->line + 1, m->column + 1,
			    "only one YAML document is allowed");
		return 0;
	case YAML_ALIAS_EVENT:
		return perr_at(p, m->line + 1, m->column + 1,
		    "YAML aliases (*) are not supported");
	case YAML_SCALAR_EVENT:
		return yload_scalar(p, l, ev);
	case YAML_SEQUENCE_START_EVENT:
		return yload_open(p, l, ev, YNODE_SEQ);
	case YAML_MAPPING_START_EVENT:
		return yload_open(p, l, ev, YNODE_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (l->cur != NULL) {
			l->cur = l->cur->parent;
			l->depth--;
		}
		return 0;
	default:
		return 0;
	}
}

/* Reader errors carry a byte offset, not a mark. */
static int
yload_reader_error(struct pctx *p, const yaml_parser_t *yp, const char *buf,
    size_t len)
{
	size_t	 i, line = 1, col = 1, off = yp->problem_offset;

	if (off > len)
		off = len;
	for (i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80)
			col++;
	}
	return perr_at(p, line, col, "invalid input: %s",
	    yp->problem != NULL ? yp->problem : "unreadable");
}

/* The byte a libyaml mark points at, or -1 past the end. */
static int
mark_byte(const char *buf, size_t len, const yaml_mark_t *m)
{
	size_t	 i = 0, line = 0, col = 0;

	while (i < len && line < m->line)
		if (buf[i++] == '\n')
			line++;
	while (i < len && col < m->column) {
		i++;
		while (i < len && ((unsigned char)buf[i] & 0xc0) == 0x80)
			i++;
		col++;
	}
	return i < len ? (unsigned char)buf[i] : -1;
}

static int
yload_error(struct pctx *p, const yaml_parser_t *yp, const char *buf,
    size_t len)
{
	const yaml_mark_t	*pm = &yp->problem_mark;
	const yaml_mark_t	*cm = &yp->context_mark;
	const char		*problem, *hint = "";

	if (yp->error == YAML_MEMORY_ERROR)
		return perr_at(p, 1, 1, "out of memory");
	if (yp->error == YAML_READER_ERROR)
		return yload_reader_error(p, yp, buf, len);
	problem = yp->problem != NULL ? yp->problem : "invalid YAML";
	/* libyaml's words for a tab are obscure; it is a common mistake. */
	if (mark_byte(buf, len, pm) == '\t')
		hint = " (tabs cannot indent YAML, use spaces)";
	if (yp->context != NULL)
		return perr_at(p, pm->line + 1, pm->column + 1,
		    "syntax error: %s%s (%s at %zu:%zu)", problem, hint,
		    yp->context, cm->line + 1, cm->column + 1);
	return perr_at(p, pm->line + 1, pm->column + 1, "syntax error: %s%s",
	    problem, hint);
}

static struct ynode *
yaml_load(struct pctx *p, const char *buf, size_t len)
{
	yaml_parser_t	 yp;
	yaml_event_t	 ev;
	struct yload	 l;
	int		 r;

	memset(&l, 0, sizeof(l));
	if (!yaml_parser_initialize(&yp)) {
		(void)perr_at(p, 1, 1, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	for (;;) {
		if (!yaml_parser_parse(&yp, &ev)) {
			r = yload_error(p, &yp, buf, len);
			break;
		}
		r = yload_event(p, &l, &ev);
		yaml_event_delete(&ev);
		if (r != 0)
			break;
	}
	yaml_parser_delete(&yp);
	if (r == -1) {
		ynode_free(l.root);
		return NULL;
	}
	if (l.root == NULL)
		(void)perr_at(p, 1, 1, "empty configuration");
	return l.root;
}

/*
 * Typed access to nodes
 */

static int
expect(struct pctx *p, const struct ynode *n, const char *where,
    enum ynode_type type)
{
	const char	*want;

	if (n->type == type && !ynode_is_null(n))
		return 0;
	switch (type) {
	case YNODE_SEQ:
		want = "a list";
		break;
	case YNODE_MAP:
		want = "a mapping";
		break;
	default:
		want = "a scalar";
		break;
	}
	if (ynode_is_null(n))
		return perr(p, n, "%s: expected %s, got an empty value",
		    where[0] != '\0' ? where : "top level", want);
	return perr(p, n, "%s: expected %s, got %s",
	    where[0] != '\0' ? where : "top level", want, ynode_kind(n));
}

/*
 * Checks that n is a mapping whose keys all appear in defs, once each,
 * and that the required ones are there; fills mv in the order of defs.
 */
static int
map_collect(struct pctx *p, const struct ynode *n, const char *where,
    const struct keydef *defs, size_t ndefs, struct mapvals *mv)
{
	const struct ynode	*key;
	char			 s[SHOW_MAX + 8];
	size_t			 i, k;

	if (expect(p, n, where, YNODE_MAP) == -1)
		return -1;
	for (k = 0; k < ndefs; k++)
		mv->node[k] = NULL;
	for (i = 0; i + 1 < n->nkids; i += 2) {
		key = n->kids[i];
		if (key->type != YNODE_SCALAR)
			return perr(p, key, "%s: a key must be a string, "
			    "not %s", where[0] != '\0' ? where : "top level",
			    ynode_kind(key));
		for (k = 0; k < ndefs; k++)
			if (strcmp(key->str, defs[k].name) == 0)
				break;
		if (k == ndefs) {
			if (where[0] == '\0')
				return perr(p, key, "unknown key \"%s\"",
				    show(key->str, s, sizeof(s)));
			return perr(p, key, "unknown key \"%s\" in %s",
			    show(key->str, s, sizeof(s)), where);
		}
		if (mv->node[k] != NULL && where[0] == '\0')
			return perr(p, key, "duplicate key \"%s\"",
			    defs[k].name);
		if (mv->node[k] != NULL)
			return perr(p, key, "%s: duplicate key \"%s\"", where,
			    defs[k].name);
		mv->node[k] = n->kids[i + 1];
		(void)subwhere(mv->where[k], sizeof(mv->where[k]), where,
		    defs[k].name);
	}
	for (k = 0; k < ndefs; k++)
		if (defs[k].required && mv->node[k] == NULL)
			return perr(p, n, "%s: missing required key \"%s\"",
			    where[0] != '\0' ? where : "top level",
			    defs[k].name);
	return 0;
}

static const char *
get_scalar(struct pctx *p, const struct ynode *n, const char *where,
    const char *what)
{
	if (n->type != YNODE_SCALAR) {
		(void)perr(p, n, "%s: expected %s, got %s", where, what,
		    ynode_kind(n));
		return NULL;
	}
	if (ynode_is_null(n)) {
		(void)perr(p, n, "%s: missing value (expected %s)", where,
		    what);
		return NULL;
	}
	return n->str;
}

static const char *
get_string(struct pctx *p, const struct ynode *n, const char *where)
{
	const char	*s;

	if ((s = get_scalar(p, n, where, "a string")) == NULL)
		return NULL;
	if (s[0] == '\0') {
		(void)perr(p, n, "%s: must not be empty", where);
		return NULL;
	}
	return s;
}

static int
copy_string(struct pctx *p, const struct ynode *n, const char *where,
    char *dst, size_t dstsz)
{
	const char	*s;

	if ((s = get_string(p, n, where)) == NULL)
		return -1;
	if (strlcpy(dst, s, dstsz) >= dstsz)
		return perr(p, n, "%s: too long (max %zu bytes)", where,
		    dstsz - 1);
	return 0;
}

static int
get_int(struct pctx *p, const struct ynode *n, const char *where,
    long long min, long long max, long long *out)
{
	const char	*s, *errstr;
	char		 sh[SHOW_MAX + 8];

	if ((s = get_scalar(p, n, where, "an integer")) == NULL)
		return -1;
	if (!is_digits(s, strlen(s)) &&
	    !(s[0] == '-' && is_digits(s + 1, strlen(s + 1))))
		return perr(p, n, "%s: expected an integer, got \"%s\"",
		    where, show(s, sh, sizeof(sh)));
	*out = strtonum(s, min, max, &errstr);
	if (errstr != NULL)
		return perr(p, n, "%s: %s is out of range (%lld..%lld)",
		    where, show(s, sh, sizeof(sh)), min, max);
	return 0;
}

static int
get_int_field(struct pctx *p, const struct ynode *n, const char *where,
    long long min, long long max, int *out)
{
	long long	 v = 0;

	if (get_int(p, n, where, min, max, &v) == -1)
		return -1;
	*out = (int)v;
	return 0;
}

/* A duration in the largest unit that divides it, for messages. */
static const char *
fmt_duration(time_t t, char *buf, size_t bufsz)
{
	static const struct {
		char	 unit;
		time_t	 secs;
	} units[] = {
		{ 'w', 7 * DAY }, { 'd', DAY }, { 'h', 3600 }, { 'm', 60 },
	};
	size_t	 i;

	for (i = 0; i < nitems(units); i++) {
		if (t != 0 && t % units[i].secs == 0) {
			(void)snprintf(buf, bufsz, "%lld%c",
			    (long long)(t / units[i].secs), units[i].unit);
			return buf;
		}
	}
	(void)snprintf(buf, bufsz, "%llds", (long long)t);
	return buf;
}

static int
get_duration(struct pctx *p, const struct ynode *n, const char *where,
    time_t min, time_t max, time_t *out)
{
	const char	*s;
	char		 sh[SHOW_MAX + 8], a[32], b[32];
	time_t		 t;

	if ((s = get_scalar(p, n, where, "a duration")) == NULL)
		return -1;
	if (config_parse_duration(s, &t) == -1)
		return perr(p, n, "%s: invalid duration \"%s\" (a number and "
		    "a unit s, m, h, d or w, e.g. 15m)", where,
		    show(s, sh, sizeof(sh)));
	if (t < min || t > max)
		return perr(p, n, "%s: %s is out of range (%s..%s)", where,
		    show(s, sh, sizeof(sh)), fmt_duration(min, a, sizeof(a)),
		    fmt_duration(max, b, sizeof(b)));
	*out = t;
	return 0;
}

static int
get_size(struct pctx *p, const struct ynode *n, const char *where,
    size_t min, size_t max, size_t *out)
{
	const char	*s;
	char		 sh[SHOW_MAX + 8];
	size_t		 v;

	if ((s = get_scalar(p, n, where, "a size")) == NULL)
		return -1;
	if (config_parse_size(s, &v) == -1)
		return perr(p, n, "%s: invalid size \"%s\" (a number with an "
		    "optional K, M or G suffix, e.g. 35M)", where,
		    show(s, sh, sizeof(sh)));
	if (v < min || v > max)
		return perr(p, n, "%s: %s is out of range (%zuK..%zuM)", where,
		    show(s, sh, sizeof(sh)), min / 1024, max / (1024 * 1024));
	*out = v;
	return 0;
}

static int
get_enum(struct pctx *p, const struct ynode *n, const char *where,
    const char *const *names, size_t nnames, size_t *out)
{
	const char	*s;
	char		 sh[SHOW_MAX + 8], list[256];
	size_t		 i;

	if ((s = get_scalar(p, n, where, "a string")) == NULL)
		return -1;
	for (i = 0; i < nnames; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	list[0] = '\0';
	for (i = 0; i < nnames; i++) {
		if (i > 0)
			(void)strlcat(list, i + 1 == nnames ? " or " : ", ",
			    sizeof(list));
		(void)strlcat(list, names[i], sizeof(list));
	}
	return perr(p, n, "%s: unknown value \"%s\" (expected %s)", where,
	    show(s, sh, sizeof(sh)), list);
}

/* Relative paths are taken from the directory of the config file. */
static int
get_path(struct pctx *p, const struct ynode *n, const char *where,
    char *dst, size_t dstsz)
{
	const char	*s;
	int		 r;

	if ((s = get_string(p, n, where)) == NULL)
		return -1;
	while (s[0] == '.' && s[1] == '/')
		s += 2;
	if (s[0] == '\0')
		s = ".";
	if (s[0] == '/')
		r = snprintf(dst, dstsz, "%s", s);
	else
		r = snprintf(dst, dstsz, "%s/%s", p->dir, s);
	if (r < 0 || (size_t)r >= dstsz)
		return perr(p, n, "%s: path too long (max %zu bytes)", where,
		    dstsz - 1);
	return 0;
}

/*
 * Value syntax
 */

/* A user or group name, as useradd(8) takes them. */
static int
valid_username(const char *s)
{
	size_t	 i;

	if (s[0] == '\0' || s[0] == '-' || strlen(s) >= CONFIG_NAME_MAX)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return 0;
	return 1;
}

/* A listener name: letters, digits, '.', '_', '-', starting alnum. */
static int
valid_ident(const char *s)
{
	return is_alnum(s[0]) && valid_username(s);
}

/* A lower-case DNS name: LDH labels of 1..63, at most 253 in all. */
static int
valid_domain(const char *s)
{
	size_t	 i, label = 0, len = strlen(s);

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!is_alnum(s[i]) && s[i] != '-')
			return 0;
		if (s[i] >= 'A' && s[i] <= 'Z')
			return 0;
		if (s[i] == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-';
}

/* RFC 5322 atext, plus '.' between atoms (dot-atom). */
static int
valid_localpart(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > 64 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (is_alnum(s[i]))
			continue;
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
			continue;
		}
		if (strchr("!#$%&'*+-/=?^_`{|}~", s[i]) == NULL)
			return 0;
	}
	return 1;
}

/* local@domain, already lower-cased; no quoted local parts. */
static int
valid_address(const char *s)
{
	const char	*at;
	size_t		 len = strlen(s);

	if (len < 3 || len > 254)
		return 0;
	if ((at = strchr(s, '@')) == NULL || strchr(at + 1, '@') != NULL)
		return 0;
	return valid_localpart(s, at - s) && valid_domain(at + 1);
}

/* NULL when fine, else why the hash is refused; never echoes the value. */
static const char *
hash_problem(const char *s)
{
	size_t	 i, n;

	if (s[0] != '$')
		return strlen(s) == 13 ? "DES crypt is not accepted" :
		    "not a crypt(3) hash (a plain-text password?)";
	if (strncmp(s, "$1$", 3) == 0)
		return "MD5 crypt ($1$) is not accepted";
	for (i = 0; i < nitems(hash_prefixes); i++) {
		n = strlen(hash_prefixes[i]);
		if (strncmp(s, hash_prefixes[i], n) == 0)
			break;
	}
	if (i == nitems(hash_prefixes))
		return "unknown crypt(3) method";
	if (strlen(s) > 512 || strchr(s + n, '$') == NULL)
		return "malformed crypt(3) hash";
	for (i = n; s[i] != '\0'; i++)
		if (!is_alnum(s[i]) && strchr("./$=", s[i]) == NULL)
			return "malformed crypt(3) hash";
	return NULL;
}

static int
ip_is_loopback(const char *addr)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) != 1)
		return 0;
	if (IN6_IS_ADDR_LOOPBACK(&a6))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

/* Binary form of a numeric address, so "::0" and "::" compare equal. */
static int
ip_parse(const char *addr, int *af, unsigned char bin[16])
{
	memset(bin, 0, 16);
	if (inet_pton(AF_INET, addr, bin) == 1) {
		*af = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, addr, bin) == 1) {
		*af = AF_INET6;
		return 0;
	}
	return -1;
}

static int
check_file(struct pctx *p, const struct ynode *n, const char *where,
    const char *path)
{
	struct stat	 st;
	int		 fd;

	/* O_NONBLOCK: a FIFO must not hang the check. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return perr(p, n, "%s: %s: %s", where, path, strerror(errno));
	if (fstat(fd, &st) == -1) {
		(void)perr(p, n, "%s: %s: %s", where, path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (!S_ISREG(st.st_mode))
		return perr(p, n, "%s: %s: not a regular file", where, path);
	return 0;
}

/*
 * Sections
 */

/* Calls fn on each item of the list n, with "where[i]" as its name. */
static int
parse_list(struct pctx *p, const struct ynode *n, const char *where,
    int (*fn)(struct pctx *, const struct ynode *, const char *))
{
	char	 w[WHERE_MAX];
	size_t	 i;

	if (expect(p, n, where, YNODE_SEQ) == -1)
		return -1;
	for (i = 0; i < n->nkids; i++)
		if (fn(p, n->kids[i], itemwhere(w, sizeof(w), where, i)) == -1)
			return -1;
	return 0;
}

static int
parse_user(struct pctx *p, const struct ynode *n, const char *where,
    char *dst)
{
	char	 sh[SHOW_MAX + 8];

	if (copy_string(p, n, where, dst, CONFIG_NAME_MAX) == -1)
		return -1;
	if (!valid_username(dst))
		return perr(p, n, "%s: \"%s\" is not a valid user or group "
		    "name", where, show(dst, sh, sizeof(sh)));
	return 0;
}

static int
parse_hostname(struct pctx *p, const struct ynode *n, const char *where)
{
	struct config	*conf = p->conf;
	char		 sh[SHOW_MAX + 8];

	if (copy_string(p, n, where, conf->hostname,
	    sizeof(conf->hostname)) == -1)
		return -1;
	lowercase(conf->hostname);
	if (!valid_domain(conf->hostname))
		return perr(p, n, "%s: \"%s\" is not a valid host name", where,
		    show(conf->hostname, sh, sizeof(sh)));
	return 0;
}

static int
parse_system_users(struct pctx *p, const struct ynode *n, const char *where)
{
	static const struct keydef defs[] = {
		{ "network", 0 }, { "queue", 0 }, { "mail", 0 }, { "auth", 0 },
	};
	struct config	*conf = p->conf;
	char		*dst[] = {
		conf->system_users.network, conf->system_users.queue,
		conf->system_users.mail, conf->system_users.auth,
	};
	struct mapvals	 mv;
	size_t		 i;

	if (map_collect(p, n, where, defs, nitems(defs), &mv) == -1)
		return -1;
	for (i = 0; i < nitems(defs); i++)
		if (mv.node[i] != NULL &&
		    parse_user(p, mv.node[i], mv.where[i], dst[i]) == -1)
			return -1;
	return 0;
}

static int
parse_log(struct pctx *p, const struct ynode *n, const char *where)
{
	static const struct keydef defs[] = {
		{ "level", 0 }, { "syslog", 0 }, { "json", 0 },
	};
	struct config	*conf = p->conf;
	struct mapvals	 mv;
	size_t		 i = 0;

	if (map_collect(p, n, where, defs, nitems(defs), &mv) == -1)
		return -1;
	if (mv.node[0] != NULL) {
		if (get_enum(p, mv.node[0], mv.where[0], level_names,
		    nitems(level_names), &i) == -1)
			return -1;
		conf->log.level = level_values[i];
	}
	if (mv.node[1] != NULL) {
		if (get_enum(p, mv.node[1], mv.where[1], facility_names,
		    nitems(facility_names), &i) == -1)
			return -1;
		conf->log.facility = facility_values[i];
	}
	if (mv.node[2] != NULL && get_path(p, mv.node[2], mv.where[2],
	    conf->log.json, sizeof(conf->log.json)) == -1)
		return -1;
	return 0;
}

static int
parse_tls_protocols(struct pctx *p, const struct ynode *n, const char *where)
{
	char	 w[WHERE_MAX];
	size_t	 i, k;
	int	 set = 0;

	if (expect(p, n, where, YNODE_SEQ) == -1)
		return -1;
	if (n->nkids == 0)
		return perr(p, n, "%s: must not be empty", where);
	for (i = 0; i < n->nkids; i++) {
		(void)itemwhere(w, sizeof(w), where, i);
		if (get_enum(p, n->kids[i], w, protocol_names,
		    nitems(protocol_names), &k) == -1)
			return -1;
		if (set & protocol_values[k])
			return perr(p, n->kids[i], "%s: %s is listed twice",
			    w, protocol_names[k]);
		set |= protocol_values[k];
	}
	p->conf->tls.protocols = set;
	return 0;
}

static int
parse_tls(struct pctx *p, const struct ynode *n, const char *where)
{
	static const struct keydef defs[] = {
		{ "cert", 1 }, { "key", 1 }, { "protocols", 0 },
	};
	struct config	*conf = p->conf;
	struct mapvals	 mv;

	if (map_collect(p, n, where, defs, nitems(defs), &mv) == -1)
		return -1;
	if (get_path(p, mv.node[0], mv.where[0], conf->tls.cert,
	    sizeof(conf->tls.cert)) == -1)
		return -1;
	if (get_path(p, mv.node[1], mv.where[1], conf->tls.key,
	    sizeof(conf->tls.key)) == -1)
		return -1;
	if (mv.node[2] != NULL &&
	    parse_tls_protocols(p, mv.node[2], mv.where[2]) == -1)
		return -1;
	if (p->check_files) {
		if (check_file(p, mv.node[0], mv.where[0],
		    conf->tls.cert) == -1)
			return -1;
		if (check_file(p, mv.node[1], mv.where[1],
		    conf->tls.key) == -1)
			return -1;
	}
	p->have_tls = 1;
	return 0;
}

/* Name and address+port must be unique among the listeners so far. */
static int
listener_unique(struct pctx *p, const struct config_listener *l,
    const struct ynode *item, const struct mapvals *mv)
{
	const struct config_listener	*o;
	unsigned char			 a[16], b[16];
	int				 afa, afb;
	char				 sh[SHOW_MAX + 8];

	if (ip_parse(l->address, &afa, a) == -1)
		return perr(p, item, "internal error: bad address");
	TAILQ_FOREACH(o, &p->conf->listeners, entry) {
		if (o == l)
			continue;
		if (strcmp(o->name, l->name) == 0)
			return perr(p, mv->node[0], "%s: duplicate listener "
			    "name \"%s\"", mv->where[0],
			    show(l->name, sh, sizeof(sh)));
		if (ip_parse(o->address, &afb, b) == -1)
			return perr(p, item, "internal error: bad address");
		if (afa == afb && memcmp(a, b, sizeof(a)) == 0 &&
		    o->port == l->port)
			return perr(p, mv->node[3] != NULL ? mv->node[3] : item,
			    "listener \"%s\": address %s port %u is already "
			    "used by listener \"%s\"",
			    show(l->name, sh, sizeof(sh)), l->address,
			    (unsigned)l->port, o->name);
	}
	return 0;
}

/* The TLS rules of DESIGN.md: no password ever crosses a network bare. */
static int
listener_tls_policy(struct pctx *p, const struct config_listener *l,
    const struct ynode *item, const struct mapvals *mv)
{
	const struct ynode	*at;

	at = mv->node[4] != NULL ? mv->node[4] : item;
	if (l->tls != TLSMODE_NONE && !p->have_tls)
		return perr(p, at, "%s: %s needs a tls: section with cert "
		    "and key", mv->node[4] != NULL ? mv->where[4] :
		    "listener", tls_names[l->tls]);
	if (l->tls == TLSMODE_NONE && l->service != SERVICE_SMTP &&
	    !ip_is_loopback(l->address))
		return perr(p, at, "listener \"%s\": service %s with "
		    "tls: none is only allowed on a loopback address, since "
		    "it would take passwords in clear text", l->name,
		    service_names[l->service]);
	return 0;
}

static int
parse_listener(struct pctx *p, const struct ynode *item, const char *where)
{
	static const struct keydef defs[] = {
		{ "name", 1 }, { "service", 1 }, { "address", 0 },
		{ "port", 1 }, { "tls", 0 },
	};
	struct config_listener	*l;
	struct mapvals		 mv;
	char			 sh[SHOW_MAX + 8];
	unsigned char		 bin[16];
	long long		 port = 0;
	size_t			 i = 0;
	int			 af;

	if (map_collect(p, item, where, defs, nitems(defs), &mv) == -1)
		return -1;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return perr_oom(p, item);
	TAILQ_INSERT_TAIL(&p->conf->listeners, l, entry);

	if (copy_string(p, mv.node[0], mv.where[0], l->name,
	    sizeof(l->name)) == -1)
		return -1;
	if (!valid_ident(l->name))
		return perr(p, mv.node[0], "%s: \"%s\" is not a valid name "
		    "(letters, digits, '.', '_', '-')", mv.where[0],
		    show(l->name, sh, sizeof(sh)));
	if (get_enum(p, mv.node[1], mv.where[1], service_names,
	    nitems(service_names), &i) == -1)
		return -1;
	l->service = i;
	(void)strlcpy(l->address, "0.0.0.0", sizeof(l->address));
	if (mv.node[2] != NULL) {
		if (copy_string(p, mv.node[2], mv.where[2], l->address,
		    sizeof(l->address)) == -1)
			return -1;
		if (ip_parse(l->address, &af, bin) == -1)
			return perr(p, mv.node[2], "%s: \"%s\" is not a "
			    "numeric IPv4 or IPv6 address", mv.where[2],
			    show(l->address, sh, sizeof(sh)));
	}
	if (get_int(p, mv.node[3], mv.where[3], 1, 65535, &port) == -1)
		return -1;
	l->port = (uint16_t)port;
	l->tls = TLSMODE_NONE;
	if (mv.node[4] != NULL) {
		if (get_enum(p, mv.node[4], mv.where[4], tls_names,
		    nitems(tls_names), &i) == -1)
			return -1;
		l->tls = i;
	}
	if (listener_unique(p, l, item, &mv) == -1)
		return -1;
	return listener_tls_policy(p, l, item, &mv);
}

static int
parse_listeners(struct pctx *p, const struct ynode *n, const char *where)
{
	if (expect(p, n, where, YNODE_SEQ) == -1)
		return -1;
	if (n->nkids > CONFIG_MAX_LISTENERS)
		return perr(p, n->kids[CONFIG_MAX_LISTENERS], "%s: too many "
		    "(max %d)", where, CONFIG_MAX_LISTENERS);
	return parse_list(p, n, where, parse_listener);
}

static int
parse_domain(struct pctx *p, const struct ynode *item, const char *where)
{
	static const struct keydef defs[] = {
		{ "name", 1 },
	};
	struct config_domain	*d;
	struct mapvals		 mv;
	char			 sh[SHOW_MAX + 8];
	int			 r;

	if (map_collect(p, item, where, defs, nitems(defs), &mv) == -1)
		return -1;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return perr_oom(p, item);
	TAILQ_INSERT_TAIL(&p->conf->domains, d, entry);
	if (copy_string(p, mv.node[0], mv.where[0], d->name,
	    sizeof(d->name)) == -1)
		return -1;
	lowercase(d->name);
	if (!valid_domain(d->name))
		return perr(p, mv.node[0], "%s: \"%s\" is not a valid domain "
		    "name", mv.where[0], show(d->name, sh, sizeof(sh)));
	if ((r = names_add(&p->domains, d->name)) == -1)
		return perr_oom(p, item);
	if (r == 1)
		return perr(p, mv.node[0], "%s: duplicate domain \"%s\"",
		    mv.where[0], show(d->name, sh, sizeof(sh)));
	return 0;
}

static int
parse_domains(struct pctx *p, const struct ynode *n, const char *where)
{
	return parse_list(p, n, where, parse_domain);
}

/* Lower-cases and checks an address; ours: its domain is in domains:. */
static int
parse_address(struct pctx *p, const struct ynode *n, const char *where,
    char *dst, int ours)
{
	char	 sh[SHOW_MAX + 8];

	if (copy_string(p, n, where, dst, CONFIG_ADDR_MAX) == -1)
		return -1;
	lowercase(dst);
	if (!valid_address(dst))
		return perr(p, n, "%s: \"%s\" is not a valid mail address",
		    where, show(dst, sh, sizeof(sh)));
	if (ours && !names_has(&p->domains, strchr(dst, '@') + 1))
		return perr(p, n, "%s: the domain of \"%s\" is not listed in "
		    "domains", where, show(dst, sh, sizeof(sh)));
	return 0;
}

static int
parse_account(struct pctx *p, const struct ynode *item, const char *where)
{
	static const struct keydef defs[] = {
		{ "address", 1 }, { "password", 1 },
	};
	struct config_account	*a;
	struct mapvals		 mv;
	const char		*s, *why;
	char			 sh[SHOW_MAX + 8];
	int			 r;

	if (map_collect(p, item, where, defs, nitems(defs), &mv) == -1)
		return -1;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return perr_oom(p, item);
	TAILQ_INSERT_TAIL(&p->conf->accounts, a, entry);
	if (parse_address(p, mv.node[0], mv.where[0], a->address, 1) == -1)
		return -1;
	if ((r = names_add(&p->accounts, a->address)) == -1)
		return perr_oom(p, item);
	if (r == 1)
		return perr(p, mv.node[0], "%s: duplicate account \"%s\"",
		    mv.where[0], show(a->address, sh, sizeof(sh)));
	if ((s = get_string(p, mv.node[1], mv.where[1])) == NULL)
		return -1;
	if ((why = hash_problem(s)) != NULL)
		return perr(p, mv.node[1], "%s: %s; use a $y$, $gy$, $2b$, "
		    "$6$ or $5$ hash from \"posternctl hash\"", mv.where[1],
		    why);
	if ((a->hash = strdup(s)) == NULL)
		return perr_oom(p, item);
	return 0;
}

static int
parse_accounts(struct pctx *p, const struct ynode *n, const char *where)
{
	return parse_list(p, n, where, parse_account);
}

static int
parse_alias_targets(struct pctx *p, struct config_alias *a,
    const struct ynode *n, const char *where)
{
	char	 w[WHERE_MAX];
	size_t	 i;

	if (expect(p, n, where, YNODE_SEQ) == -1)
		return -1;
	if (n->nkids == 0)
		return perr(p, n, "%s: must not be empty", where);
	if ((a->targets = calloc(n->nkids, sizeof(*a->targets))) == NULL)
		return perr_oom(p, n);
	for (i = 0; i < n->nkids; i++) {
		if ((a->targets[i] = malloc(CONFIG_ADDR_MAX)) == NULL)
			return perr_oom(p, n);
		a->ntargets++;
		if (parse_address(p, n->kids[i],
		    itemwhere(w, sizeof(w), where, i), a->targets[i],
		    0) == -1)
			return -1;
	}
	return 0;
}

static int
parse_aliases(struct pctx *p, const struct ynode *n, const char *where)
{
	struct config_alias	*a;
	const struct ynode	*key;
	char			 w[WHERE_MAX], sh[SHOW_MAX + 8];
	size_t			 i;
	int			 r;

	if (expect(p, n, where, YNODE_MAP) == -1)
		return -1;
	for (i = 0; i + 1 < n->nkids; i += 2) {
		key = n->kids[i];
		if ((a = calloc(1, sizeof(*a))) == NULL)
			return perr_oom(p, key);
		TAILQ_INSERT_TAIL(&p->conf->aliases, a, entry);
		if (parse_address(p, key, where, a->address, 1) == -1)
			return -1;
		if ((r = names_add(&p->aliases, a->address)) == -1)
			return perr_oom(p, key);
		if (r == 1)
			return perr(p, key, "%s: duplicate key \"%s\"", where,
			    show(a->address, sh, sizeof(sh)));
		if (parse_alias_targets(p, a, n->kids[i + 1],
		    subwhere(w, sizeof(w), where, a->address)) == -1)
			return -1;
	}
	return 0;
}

static int
parse_auth_password(struct pctx *p, const struct ynode *n, const char *where)
{
	static const struct keydef defs[] = {
		{ "min_length", 0 }, { "max_length", 0 }, { "classes", 0 },
		{ "max_age", 0 }, { "history", 0 }, { "cost", 0 },
	};
	struct config	*conf = p->conf;
	struct mapvals	 mv;

	if (map_collect(p, n, where, defs, nitems(defs), &mv) == -1)
		return -1;
	if (mv.node[0] != NULL && get_int_field(p, mv.node[0], mv.where[0],
	    1, 1024, &conf->auth.password.min_length) == -1)
		return -1;
	if (mv.node[1] != NULL && get_int_field(p, mv.node[1], mv.where[1],
	    1, 4096, &conf->auth.password.max_length) == -1)
		return -1;
	if (mv.node[2] != NULL && get_int_field(p, mv.node[2], mv.where[2],
	    1, 4, &conf->auth.password.classes) == -1)
		return -1;
	if (mv.node[3] != NULL && get_duration(p, mv.node[3], mv.where[3],
	    0, 3650 * DAY, &conf->auth.password.max_age) == -1)
		return -1;
	if (mv.node[4] != NULL && get_int_field(p, mv.node[4], mv.where[4],
	    0, 100, &conf->auth.password.history) == -1)
		return -1;
	if (mv.node[5] != NULL && get_int_field(p, mv.node[5], mv.where[5],
	    1, 11, &conf->auth.password.cost) == -1)
		return -1;
	if (conf->auth.password.min_length > conf->auth.password.max_length)
		return perr(p, mv.node[0] != NULL ? mv.node[0] : n,
		    "%s: min_length %d is greater than max_length %d", where,
		    conf->auth.password.min_length,
		    conf->auth.password.max_length);
	return 0;
}

static int
parse_auth_lockout(struct pctx *p, const struct ynode *n, const char *where)
{
	static const struct keydef defs[] = {
		{ "attempts", 0 }, { "window", 0 }, { "duration", 0 },
	};
	struct config	*conf = p->conf;
	struct mapvals	 mv;

	if (map_collect(p, n, where, defs, nitems(defs), &mv) == -1)
		return -1;
	if (mv.node[0] != NULL && get_int_field(p, mv.node[0], mv.where[0],
	    1, 1000, &conf->auth.lockout.attempts) == -1)
		return -1;
	if (mv.node[1] != NULL && get_duration(p, mv.node[1], mv.where[1],
	    1, 30 * DAY, &conf->auth.lockout.window) == -1)
		return -1;
	if (mv.node[2] != NULL && get_duration(p, mv.node[2], mv.where[2],
	    1, 365 * DAY, &conf->auth.lockout.duration) == -1)
		return -1;
	return 0;
}

static int
parse_auth(struct pctx *p, const struct ynode *n, const char *where)
{
	static const struct keydef defs[] = {
		{ "password", 0 }, { "lockout", 0 }, { "two_factor", 0 },
	};
	struct mapvals	 mv;
	size_t		 i = 0;

	if (map_collect(p, n, where, defs, nitems(defs), &mv) == -1)
		return -1;
	if (mv.node[0] != NULL &&
	    parse_auth_password(p, mv.node[0], mv.where[0]) == -1)
		return -1;
	if (mv.node[1] != NULL &&
	    parse_auth_lockout(p, mv.node[1], mv.where[1]) == -1)
		return -1;
	if (mv.node[2] != NULL) {
		if (get_enum(p, mv.node[2], mv.where[2], two_factor_names,
		    nitems(two_factor_names), &i) == -1)
			return -1;
		p->conf->auth.two_factor = i;
	}
	return 0;
}

static int
parse_limits(struct pctx *p, const struct ynode *n, const char *where)
{
	static const struct keydef defs[] = {
		{ "message_size", 0 }, { "recipients", 0 },
		{ "sessions_per_ip", 0 }, { "sessions", 0 },
		{ "greeting_delay", 0 }, { "command_timeout", 0 },
		{ "data_timeout", 0 }, { "errors", 0 },
		{ "user_messages_per_hour", 0 },
		{ "user_recipients_per_hour", 0 },
	};
	struct config	*conf = p->conf;
	struct mapvals	 mv;

	if (map_collect(p, n, where, defs, nitems(defs), &mv) == -1)
		return -1;
	if (mv.node[0] != NULL && get_size(p, mv.node[0], mv.where[0],
	    1024, 1024 * 1024 * 1024, &conf->limits.message_size) == -1)
		return -1;
	if (mv.node[1] != NULL && get_int_field(p, mv.node[1], mv.where[1],
	    1, 10000, &conf->limits.recipients) == -1)
		return -1;
	if (mv.node[2] != NULL && get_int_field(p, mv.node[2], mv.where[2],
	    1, 100000, &conf->limits.sessions_per_ip) == -1)
		return -1;
	if (mv.node[3] != NULL && get_int_field(p, mv.node[3], mv.where[3],
	    1, 100000, &conf->limits.sessions) == -1)
		return -1;
	if (mv.node[4] != NULL && get_duration(p, mv.node[4], mv.where[4],
	    0, 60, &conf->limits.greeting_delay) == -1)
		return -1;
	if (mv.node[5] != NULL && get_duration(p, mv.node[5], mv.where[5],
	    1, 3600, &conf->limits.command_timeout) == -1)
		return -1;
	if (mv.node[6] != NULL && get_duration(p, mv.node[6], mv.where[6],
	    1, 3600, &conf->limits.data_timeout) == -1)
		return -1;
	if (mv.node[7] != NULL && get_int_field(p, mv.node[7], mv.where[7],
	    1, 1000, &conf->limits.errors) == -1)
		return -1;
	if (mv.node[8] != NULL && get_int_field(p, mv.node[8], mv.where[8],
	    1, 1000000, &conf->limits.user_messages_per_hour) == -1)
		return -1;
	if (mv.node[9] != NULL && get_int_field(p, mv.node[9], mv.where[9],
	    1, 1000000, &conf->limits.user_recipients_per_hour) == -1)
		return -1;
	return 0;
}

static int
parse_queue_retry(struct pctx *p, const struct ynode *n, const char *where)
{
	struct config	*conf = p->conf;
	char		 w[WHERE_MAX];
	size_t		 i;

	if (expect(p, n, where, YNODE_SEQ) == -1)
		return -1;
	if (n->nkids == 0)
		return perr(p, n, "%s: must not be empty", where);
	if (n->nkids > CONFIG_MAX_RETRY)
		return perr(p, n->kids[CONFIG_MAX_RETRY], "%s: too many "
		    "intervals (max %d)", where, CONFIG_MAX_RETRY);
	for (i = 0; i < n->nkids; i++)
		if (get_duration(p, n->kids[i],
		    itemwhere(w, sizeof(w), where, i), 1, 7 * DAY,
		    &conf->queue.retry[i]) == -1)
			return -1;
	conf->queue.nretry = n->nkids;
	return 0;
}

static int
parse_queue(struct pctx *p, const struct ynode *n, const char *where)
{
	static const struct keydef defs[] = {
		{ "retry", 0 }, { "expire", 0 }, { "sync", 0 },
		{ "delay_warning", 0 },
	};
	struct mapvals	 mv;
	size_t		 i;

	if (map_collect(p, n, where, defs, nitems(defs), &mv) == -1)
		return -1;
	if (mv.node[0] != NULL &&
	    parse_queue_retry(p, mv.node[0], mv.where[0]) == -1)
		return -1;
	if (mv.node[1] != NULL && get_duration(p, mv.node[1], mv.where[1],
	    1, 365 * DAY, &p->conf->queue.expire) == -1)
		return -1;
	if (mv.node[2] != NULL) {
		if (get_enum(p, mv.node[2], mv.where[2], sync_names,
		    nitems(sync_names), &i) == -1)
			return -1;
		p->conf->queue.sync = (enum syncset_mode)i;
	}
	if (mv.node[3] != NULL && get_duration(p, mv.node[3], mv.where[3],
	    1, 365 * DAY, &p->conf->queue.delay_warning) == -1)
		return -1;
	return 0;
}

static int
parse_namelist(struct pctx *p, const struct ynode *n, const char *where,
    char ***listp, size_t *np)
{
	char	 w[WHERE_MAX];
	size_t	 i;

	if (expect(p, n, where, YNODE_SEQ) == -1)
		return -1;
	if (n->nkids == 0)
		return 0;
	if ((*listp = calloc(n->nkids, sizeof(**listp))) == NULL)
		return perr_oom(p, n);
	for (i = 0; i < n->nkids; i++) {
		if (((*listp)[i] = malloc(CONFIG_NAME_MAX)) == NULL)
			return perr_oom(p, n);
		(*np)++;
		if (parse_user(p, n->kids[i],
		    itemwhere(w, sizeof(w), where, i), (*listp)[i]) == -1)
			return -1;
	}
	return 0;
}

static int
parse_role(struct pctx *p, const struct ynode *n, const char *where,
    struct config_role *role)
{
	static const struct keydef defs[] = {
		{ "users", 0 }, { "groups", 0 },
	};
	struct mapvals	 mv;

	if (map_collect(p, n, where, defs, nitems(defs), &mv) == -1)
		return -1;
	if (mv.node[0] != NULL && parse_namelist(p, mv.node[0], mv.where[0],
	    &role->users, &role->nusers) == -1)
		return -1;
	if (mv.node[1] != NULL && parse_namelist(p, mv.node[1], mv.where[1],
	    &role->groups, &role->ngroups) == -1)
		return -1;
	return 0;
}

static int
parse_roles(struct pctx *p, const struct ynode *n, const char *where)
{
	static const struct keydef defs[] = {
		{ "admin", 0 }, { "operator", 0 }, { "auditor", 0 },
	};
	static const enum config_ctl_role ids[] = {
		CTL_ROLE_ADMIN, CTL_ROLE_OPERATOR, CTL_ROLE_AUDITOR,
	};
	struct mapvals	 mv;
	size_t		 i;

	if (map_collect(p, n, where, defs, nitems(defs), &mv) == -1)
		return -1;
	for (i = 0; i < nitems(defs); i++)
		if (mv.node[i] != NULL && parse_role(p, mv.node[i],
		    mv.where[i], &p->conf->control.roles[ids[i]]) == -1)
			return -1;
	p->have_roles = 1;
	return 0;
}

static int
parse_control(struct pctx *p, const struct ynode *n, const char *where)
{
	static const struct keydef defs[] = {
		{ "socket", 0 }, { "group", 0 }, { "roles", 0 },
	};
	struct config	*conf = p->conf;
	struct mapvals	 mv;

	if (map_collect(p, n, where, defs, nitems(defs), &mv) == -1)
		return -1;
	if (mv.node[0] != NULL) {
		if (get_path(p, mv.node[0], mv.where[0], conf->control.socket,
		    sizeof(conf->control.socket)) == -1)
			return -1;
		if (strlen(conf->control.socket) >=
		    sizeof(((struct sockaddr_un *)NULL)->sun_path))
			return perr(p, mv.node[0], "%s: too long for a UNIX "
			    "socket (max %zu bytes)", mv.where[0],
			    sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
		p->have_socket = 1;
	}
	if (mv.node[1] != NULL &&
	    parse_user(p, mv.node[1], mv.where[1], conf->control.group) == -1)
		return -1;
	if (mv.node[2] != NULL &&
	    parse_roles(p, mv.node[2], mv.where[2]) == -1)
		return -1;
	return 0;
}

static int
parse_state_dir(struct pctx *p, const struct ynode *n, const char *where)
{
	return get_path(p, n, where, p->conf->state_dir,
	    sizeof(p->conf->state_dir));
}

static int
parse_run_dir(struct pctx *p, const struct ynode *n, const char *where)
{
	p->run_dir_node = n;
	return get_path(p, n, where, p->conf->run_dir,
	    sizeof(p->conf->run_dir));
}

/* In the order they are applied: each may rely on those above it. */
static const struct {
	struct keydef	 def;
	int		(*fn)(struct pctx *, const struct ynode *,
			    const char *);
} top_keys[] = {
	{ { "hostname", 1 },		parse_hostname },
	{ { "state_dir", 0 },		parse_state_dir },
	{ { "run_dir", 0 },		parse_run_dir },
	{ { "system_users", 0 },	parse_system_users },
	{ { "log", 0 },			parse_log },
	{ { "tls", 0 },			parse_tls },
	{ { "listeners", 0 },		parse_listeners },
	{ { "domains", 0 },		parse_domains },
	{ { "accounts", 0 },		parse_accounts },
	{ { "aliases", 0 },		parse_aliases },
	{ { "auth", 0 },		parse_auth },
	{ { "limits", 0 },		parse_limits },
	{ { "queue", 0 },		parse_queue },
	{ { "control", 0 },		parse_control },
};

/* Defaults that depend on other keys. */
static int
parse_finish(struct pctx *p, const struct ynode *root)
{
	struct config		*conf = p->conf;
	struct config_role	*admin = &conf->control.roles[CTL_ROLE_ADMIN];
	const struct ynode	*at;
	size_t			 max;
	int			 r;

	if (!p->have_socket) {
		at = p->run_dir_node != NULL ? p->run_dir_node : root;
		max = sizeof(((struct sockaddr_un *)NULL)->sun_path);
		r = snprintf(conf->control.socket, max, "%s/control.sock",
		    conf->run_dir);
		if (r < 0 || (size_t)r >= max)
			return perr(p, at, "run_dir: too long for the control "
			    "socket %s/control.sock (max %zu bytes)",
			    conf->run_dir, max - 1);
	}
	if (!p->have_roles) {
		if ((admin->users = calloc(1, sizeof(*admin->users))) == NULL)
			return perr_oom(p, root);
		if ((admin->users[0] = strdup("root")) == NULL)
			return perr_oom(p, root);
		admin->nusers = 1;
	}
	return 0;
}

static int
parse_top(struct pctx *p, const struct ynode *root)
{
	struct keydef	 defs[nitems(top_keys)];
	struct mapvals	 mv;
	size_t		 i;

	_Static_assert(nitems(top_keys) <= MAP_MAX_KEYS, "MAP_MAX_KEYS");

	for (i = 0; i < nitems(top_keys); i++)
		defs[i] = top_keys[i].def;
	if (map_collect(p, root, "", defs, nitems(defs), &mv) == -1)
		return -1;
	for (i = 0; i < nitems(top_keys); i++)
		if (mv.node[i] != NULL &&
		    top_keys[i].fn(p, mv.node[i], mv.where[i]) == -1)
			return -1;
	return parse_finish(p, root);
}

/*
 * The directory relative paths are resolved against, and the absolute
 * path of the file.  realpath(3) of the directory when it exists (so a
 * child handed conf->path resolves the same way even in a chroot, where
 * realpath fails and the already absolute text is used as is).
 */
static int
parse_base(struct pctx *p, const char *path)
{
	char		 dir[PATH_MAX], cwd[PATH_MAX], real[PATH_MAX];
	const char	*slash, *base;
	int		 r;

	slash = path != NULL ? strrchr(path, '/') : NULL;
	if (slash == NULL) {
		(void)strlcpy(dir, ".", sizeof(dir));
		base = path != NULL ? path : "";
	} else {
		if ((size_t)(slash - path) + 1 >= sizeof(dir))
			return perr_at(p, 1, 1, "path of the file too long");
		memcpy(dir, path, slash - path);
		dir[slash - path] = '\0';
		if (dir[0] == '\0')
			(void)strlcpy(dir, "/", sizeof(dir));
		base = slash + 1;
	}
	if (realpath(dir, real) != NULL)
		r = snprintf(p->dir, sizeof(p->dir), "%s", real);
	else if (dir[0] == '/')
		r = snprintf(p->dir, sizeof(p->dir), "%s", dir);
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		return perr_at(p, 1, 1, "getcwd: %s", strerror(errno));
	else
		r = snprintf(p->dir, sizeof(p->dir), "%s/%s", cwd, dir);
	if (r < 0 || (size_t)r >= sizeof(p->dir))
		return perr_at(p, 1, 1, "path of the file too long");
	if (strcmp(p->dir, "/") == 0)
		p->dir[0] = '\0';
	r = snprintf(p->conf->path, sizeof(p->conf->path), "%s/%s", p->dir,
	    base);
	if (r < 0 || (size_t)r >= sizeof(p->conf->path))
		return perr_at(p, 1, 1, "path of the file too long");
	if (p->dir[0] == '\0')
		(void)strlcpy(p->dir, "/", sizeof(p->dir));
	return 0;
}

static struct config *
config_new(void)
{
	struct config	*conf;
	size_t		 i;

	if ((conf = calloc(1, sizeof(*conf))) == NULL)
		return NULL;
	TAILQ_INIT(&conf->listeners);
	TAILQ_INIT(&conf->domains);
	TAILQ_INIT(&conf->accounts);
	TAILQ_INIT(&conf->aliases);
	(void)strlcpy(conf->state_dir, "/var/lib/postern",
	    sizeof(conf->state_dir));
	(void)strlcpy(conf->run_dir, "/run/postern", sizeof(conf->run_dir));
	(void)strlcpy(conf->system_users.network, "postern",
	    sizeof(conf->system_users.network));
	(void)strlcpy(conf->system_users.queue, "postern-queue",
	    sizeof(conf->system_users.queue));
	(void)strlcpy(conf->system_users.mail, "postern-vmail",
	    sizeof(conf->system_users.mail));
	(void)strlcpy(conf->system_users.auth, "postern-auth",
	    sizeof(conf->system_users.auth));
	conf->log.level = LOG_INFO;
	conf->log.facility = LOG_MAIL;
	conf->tls.protocols = CONFIG_TLS_V12 | CONFIG_TLS_V13;
	conf->auth.password.min_length = 12;
	conf->auth.password.cost = 5;
	conf->auth.password.max_length = 128;
	conf->auth.password.classes = 3;
	conf->auth.password.max_age = 0;
	conf->auth.password.history = 5;
	conf->auth.lockout.attempts = 5;
	conf->auth.lockout.window = 15 * 60;
	conf->auth.lockout.duration = 30 * 60;
	conf->auth.two_factor = TWO_FACTOR_OPTIONAL;
	conf->limits.message_size = 35 * 1024 * 1024;
	conf->limits.recipients = 100;
	conf->limits.sessions_per_ip = 20;
	conf->limits.greeting_delay = 0;
	conf->limits.command_timeout = 300;
	conf->limits.data_timeout = 180;
	conf->limits.sessions = 1000;
	conf->limits.errors = 10;
	conf->limits.user_messages_per_hour = 500;
	conf->limits.user_recipients_per_hour = 2000;
	for (i = 0; i < nitems(default_retry); i++)
		conf->queue.retry[i] = default_retry[i];
	conf->queue.nretry = nitems(default_retry);
	conf->queue.expire = 5 * DAY;
	conf->queue.delay_warning = 4 * 3600;
	conf->queue.sync = SYNCSET_FILESYSTEM;
	(void)strlcpy(conf->control.group, "postern-admin",
	    sizeof(conf->control.group));
	return conf;
}

/*
 * Public interface
 */

struct config *
config_parse(const char *path, const char *buf, size_t len, int check_files,
    char *err, size_t errsz)
{
	struct pctx	 p;
	struct ynode	*root = NULL;
	int		 ok = 0;

	memset(&p, 0, sizeof(p));
	p.path = path != NULL ? path : "(config)";
	p.err = err;
	p.errsz = errsz;
	p.check_files = check_files;
	RB_INIT(&p.domains);
	RB_INIT(&p.accounts);
	RB_INIT(&p.aliases);
	if (err != NULL && errsz > 0)
		err[0] = '\0';
	if (buf == NULL)
		len = 0;

	if ((p.conf = config_new()) == NULL)
		(void)perr_at(&p, 1, 1, "out of memory");
	else if (parse_base(&p, path) == 0 &&
	    (root = yaml_load(&p, buf != NULL ? buf : "", len)) != NULL &&
	    parse_top(&p, root) == 0)
		ok = 1;

	ynode_free(root);
	names_free(&p.domains);
	names_free(&p.accounts);
	names_free(&p.aliases);
	if (ok)
		return p.conf;
	if (err != NULL && errsz > 0 && err[0] == '\0')
		(void)perr_at(&p, 1, 1, "invalid configuration");
	config_free(p.conf);
	return NULL;
}

/* Reads until EOF or max bytes, whichever comes first. */
static int
read_all(int fd, char *buf, size_t max, size_t *lenp)
{
	size_t	 len = 0;
	ssize_t	 n;

	while (len < max) {
		n = read(fd, buf + len, max - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		len += n;
	}
	*lenp = len;
	return 0;
}

char *
config_read_file(const char *path, size_t *lenp, char *err, size_t errsz)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		(void)snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		(void)snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)snprintf(err, errsz, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_size > CONFIG_MAX_SIZE) {
		(void)snprintf(err, errsz, "%s: larger than %d bytes", path,
		    CONFIG_MAX_SIZE);
		goto fail;
	}
	/* One byte more than allowed, to notice a file that grew. */
	if ((buf = malloc(CONFIG_MAX_SIZE + 2)) == NULL) {
		(void)snprintf(err, errsz, "%s: out of memory", path);
		goto fail;
	}
	if (read_all(fd, buf, CONFIG_MAX_SIZE + 1, &len) == -1) {
		(void)snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (len > CONFIG_MAX_SIZE) {
		(void)snprintf(err, errsz, "%s: larger than %d bytes", path,
		    CONFIG_MAX_SIZE);
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	*lenp = len;
	return buf;
 fail:
	free(buf);
	close(fd);
	return NULL;
}

void
config_free(struct config *conf)
{
	struct config_listener	*l;
	struct config_domain	*d;
	struct config_account	*a;
	struct config_alias	*al;
	struct config_role	*r;
	size_t			 i, k;

	if (conf == NULL)
		return;
	while ((l = TAILQ_FIRST(&conf->listeners)) != NULL) {
		TAILQ_REMOVE(&conf->listeners, l, entry);
		free(l);
	}
	while ((d = TAILQ_FIRST(&conf->domains)) != NULL) {
		TAILQ_REMOVE(&conf->domains, d, entry);
		free(d);
	}
	while ((a = TAILQ_FIRST(&conf->accounts)) != NULL) {
		TAILQ_REMOVE(&conf->accounts, a, entry);
		if (a->hash != NULL)
			freezero(a->hash, strlen(a->hash) + 1);
		free(a);
	}
	while ((al = TAILQ_FIRST(&conf->aliases)) != NULL) {
		TAILQ_REMOVE(&conf->aliases, al, entry);
		for (i = 0; i < al->ntargets; i++)
			free(al->targets[i]);
		free(al->targets);
		free(al);
	}
	for (k = 0; k < CTL_ROLE_COUNT; k++) {
		r = &conf->control.roles[k];
		for (i = 0; i < r->nusers; i++)
			free(r->users[i]);
		free(r->users);
		for (i = 0; i < r->ngroups; i++)
			free(r->groups[i]);
		free(r->groups);
	}
	free(conf);
}

/*
 * A duration: digits and exactly one unit, s m h d or w.  No sign, no
 * spaces, no bare numbers (is "30" seconds or minutes?), at most
 * CONFIG_DURATION_MAX seconds.
 */
int
config_parse_duration(const char *s, time_t *out)
{
	char		 num[24];
	const char	*errstr;
	long long	 v, unit;
	size_t		 len;

	if (s == NULL || (len = strlen(s)) < 2 || len - 1 >= sizeof(num))
		return -1;
	switch (s[len - 1]) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 60 * 60;
		break;
	case 'd':
		unit = DAY;
		break;
	case 'w':
		unit = 7 * DAY;
		break;
	default:
		return -1;
	}
	if (!is_digits(s, len - 1))
		return -1;
	memcpy(num, s, len - 1);
	num[len - 1] = '\0';
	v = strtonum(num, 0, CONFIG_DURATION_MAX, &errstr);
	if (errstr != NULL || v > CONFIG_DURATION_MAX / unit)
		return -1;
	*out = (time_t)(v * unit);
	return 0;
}

/* A size: digits with an optional K, M or G (1024-based) suffix. */
int
config_parse_size(const char *s, size_t *out)
{
	char		 num[24];
	const char	*errstr;
	long long	 v;
	size_t		 len, digits, unit = 1;

	if (s == NULL || (len = strlen(s)) == 0)
		return -1;
	digits = len;
	switch (s[len - 1]) {
	case 'K':
		unit = 1024;
		digits--;
		break;
	case 'M':
		unit = 1024 * 1024;
		digits--;
		break;
	case 'G':
		unit = 1024 * 1024 * 1024;
		digits--;
		break;
	}
	if (!is_digits(s, digits) || digits >= sizeof(num))
		return -1;
	memcpy(num, s, digits);
	num[digits] = '\0';
	v = strtonum(num, 0, LLONG_MAX, &errstr);
	if (errstr != NULL || (unsigned long long)v > SIZE_MAX / unit)
		return -1;
	*out = (size_t)v * unit;
	return 0;
}

const char *
config_service_name(enum config_service s)
{
	if ((size_t)s >= nitems(service_names))
		return "unknown";
	return service_names[s];
}

const char *
config_tls_name(enum config_tls t)
{
	if ((size_t)t >= nitems(tls_names))
		return "unknown";
	return tls_names[t];
}

const char *
config_role_name(enum config_ctl_role r)
{
	if ((size_t)r >= nitems(role_names))
		return "unknown";
	return role_names[r];
}
