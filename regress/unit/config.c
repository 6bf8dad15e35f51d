/*
 * config.c: unit tests for lib/config.c, the postern.yaml parser.
 *
 * Checks every default, the example etc/postern.yaml, the duration and
 * size parsers, one case per error class with its line and column, the
 * corpus of broken files in regress/unit/config-bad/ (each starts with
 * "# expect: LINE:COL text"), and that mutated or random input gives a
 * config or a clean error, never a crash or a leak (run it under
 * `make check SANITIZE=1`).
 *
 * Files are found from $POSTERN_SRCDIR, else the current directory.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

#define TESTPATH	"/nonexistent/postern/test.yaml"
#define CORPUS		"regress/unit/config-bad"

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

static char	 srcdir[PATH_MAX];

static void
join(char *dst, size_t dstsz, const char *a, const char *b)
{
	if (snprintf(dst, dstsz, "%s/%s", a, b) >= (int)dstsz)
		dst[0] = '\0';
}

static struct config *
parse(const char *yaml, char *err, size_t errsz)
{
	return config_parse(TESTPATH, yaml, strlen(yaml), 0, err, errsz);
}

/* err is "path:line:col: message" with positive line and column. */
static int
err_well_formed(const char *err, const char *path)
{
	size_t	 n = strlen(path);
	long	 line, col;
	char	*end;

	if (strncmp(err, path, n) != 0 || err[n] != ':')
		return 0;
	line = strtol(err + n + 1, &end, 10);
	if (line < 1 || *end != ':')
		return 0;
	col = strtol(end + 1, &end, 10);
	if (col < 1 || end[0] != ':' || end[1] != ' ' || end[2] == '\0')
		return 0;
	return 1;
}

static int
err_matches(const char *err, const char *path, int line, int col,
    const char *substr)
{
	char	 want[PATH_MAX + 32];

	(void)snprintf(want, sizeof(want), "%s:%d:%d: ", path, line, col);
	return strncmp(err, want, strlen(want)) == 0 &&
	    strstr(err, substr) != NULL;
}

static void
expect_error(const char *name, const char *yaml, int line, int col,
    const char *substr)
{
	struct config	*c;
	char		 err[CONFIG_ERR_SIZE];

	c = parse(yaml, err, sizeof(err));
	if (!ok(c == NULL && err_matches(err, TESTPATH, line, col, substr),
	    "error: %s", name))
		printf("#   got \"%s\", want %d:%d \"%s\"\n",
		    c == NULL ? err : "(parsed)", line, col, substr);
	config_free(c);
}

static struct config *
expect_parse(const char *name, const char *yaml)
{
	struct config	*c;
	char		 err[CONFIG_ERR_SIZE];

	c = parse(yaml, err, sizeof(err));
	if (!ok(c != NULL, "parses: %s", name))
		printf("#   %s\n", err);
	return c;
}

/*
 * Duration and size parsers
 */

static void
test_duration(void)
{
	static const struct {
		const char	*s;
		long long	 want;	/* -1: refused */
	} cases[] = {
		{ "30s", 30 }, { "5m", 300 }, { "1h", 3600 },
		{ "5d", 5 * 86400 }, { "2w", 14 * 86400 }, { "0s", 0 },
		{ "007m", 420 }, { "3153600000s", 3153600000LL },
		{ "36500d", 36500LL * 86400 },
		{ "", -1 }, { "s", -1 }, { "5", -1 }, { "-5m", -1 },
		{ "+5m", -1 }, { " 5m", -1 }, { "5m ", -1 }, { "5 m", -1 },
		{ "5M", -1 }, { "5mm", -1 }, { "m5", -1 }, { "1.5h", -1 },
		{ "0x10s", -1 }, { "5y", -1 }, { "1h30m", -1 },
		{ "99999999999999999999s", -1 }, { "3153600001s", -1 },
		{ "36501d", -1 }, { "9223372036854775807w", -1 },
		{ "5\tm", -1 },
	};
	time_t	 t;
	size_t	 i;
	int	 r;

	for (i = 0; i < nitems(cases); i++) {
		t = -42;
		r = config_parse_duration(cases[i].s, &t);
		if (cases[i].want == -1)
			ok(r == -1 && t == -42, "duration \"%s\" refused",
			    cases[i].s);
		else
			ok(r == 0 && t == cases[i].want, "duration \"%s\" "
			    "= %lld", cases[i].s, cases[i].want);
	}
	ok(config_parse_duration(NULL, &t) == -1, "duration NULL refused");
}

static void
test_size(void)
{
	static const struct {
		const char		*s;
		unsigned long long	 want;
		int			 valid;
	} cases[] = {
		{ "35M", 35ULL << 20, 1 }, { "0", 0, 1 }, { "1024", 1024, 1 },
		{ "1K", 1024, 1 }, { "2G", 2ULL << 30, 1 },
		{ "9223372036854775807", 9223372036854775807ULL, 1 },
		{ "17179869183G", 17179869183ULL << 30, 1 },
		{ "", 0, 0 }, { "M", 0, 0 }, { "10k", 0, 0 }, { "-1", 0, 0 },
		{ "1.5M", 0, 0 }, { "1 M", 0, 0 }, { " 1", 0, 0 },
		{ "1MB", 0, 0 }, { "1T", 0, 0 }, { "+1", 0, 0 },
		{ "18446744073709551616", 0, 0 },
		{ "17179869184G", 0, 0 }, { "9223372036854775807K", 0, 0 },
	};
	size_t	 i, v;
	int	 r;

	for (i = 0; i < nitems(cases); i++) {
		v = 42;
		r = config_parse_size(cases[i].s, &v);
		if (!cases[i].valid)
			ok(r == -1 && v == 42, "size \"%s\" refused",
			    cases[i].s);
		else
			ok(r == 0 && v == cases[i].want, "size \"%s\" = %llu",
			    cases[i].s, cases[i].want);
	}
	ok(config_parse_size(NULL, &v) == -1, "size NULL refused");
}

static void
test_names(void)
{
	is_str(config_service_name(SERVICE_SMTP), "smtp", "service smtp");
	is_str(config_service_name(SERVICE_SUBMISSION), "submission",
	    "service submission");
	is_str(config_service_name(SERVICE_IMAP), "imap", "service imap");
	is_str(config_tls_name(TLSMODE_NONE), "none", "tls none");
	is_str(config_tls_name(TLSMODE_STARTTLS), "starttls", "tls starttls");
	is_str(config_tls_name(TLSMODE_IMPLICIT), "implicit", "tls implicit");
	is_str(config_role_name(CTL_ROLE_ADMIN), "admin", "role admin");
	is_str(config_role_name(CTL_ROLE_OPERATOR), "operator",
	    "role operator");
	is_str(config_role_name(CTL_ROLE_AUDITOR), "auditor", "role auditor");
	is_str(config_role_name(CTL_ROLE_NONE), "none", "role none");
	is_str(config_role_name(CTL_ROLE_COUNT), "unknown",
	    "role out of range");
	is_str(config_service_name((enum config_service)99), "unknown",
	    "service out of range");
	is_str(config_tls_name((enum config_tls)-1), "unknown",
	    "tls out of range");
}

/*
 * Whole configs
 */

static void
test_defaults(void)
{
	static const time_t retry[] = { 300, 900, 1800, 3600, 7200, 14400 };
	struct config		*c;
	struct config_role	*r;
	size_t			 i, k;

	if ((c = expect_parse("hostname only",
	    "hostname: MX.Example.ORG\n")) == NULL)
		return;
	is_str(c->hostname, "mx.example.org", "hostname lower-cased");
	is_str(c->path, TESTPATH, "path kept when absolute");
	is_str(c->state_dir, "/var/lib/postern", "default state_dir");
	is_str(c->run_dir, "/run/postern", "default run_dir");
	is_str(c->system_users.network, "postern", "default network user");
	is_str(c->system_users.queue, "postern-queue", "default queue user");
	is_str(c->system_users.mail, "postern-vmail", "default mail user");
	is_str(c->system_users.auth, "postern-auth", "default auth user");
	is_int(c->log.level, LOG_INFO, "default log.level info");
	is_int(c->log.facility, LOG_MAIL, "default log.syslog mail");
	is_str(c->log.json, "", "default log.json unset");
	is_str(c->tls.cert, "", "no tls.cert without tls:");
	is_str(c->tls.key, "", "no tls.key without tls:");
	is_int(c->tls.protocols, CONFIG_TLS_V12 | CONFIG_TLS_V13,
	    "default tls.protocols");
	ok(TAILQ_EMPTY(&c->listeners), "no listeners by default");
	ok(TAILQ_EMPTY(&c->domains), "no domains by default");
	ok(TAILQ_EMPTY(&c->accounts), "no accounts by default");
	ok(TAILQ_EMPTY(&c->aliases), "no aliases by default");
	is_int(c->auth.password.min_length, 12, "default min_length");
	is_int(c->auth.password.max_length, 128, "default max_length");
	is_int(c->auth.password.classes, 3, "default classes");
	is_int(c->auth.password.max_age, 0, "default max_age never");
	is_int(c->auth.password.history, 5, "default history");
	is_int(c->auth.lockout.attempts, 5, "default lockout.attempts");
	is_int(c->auth.lockout.window, 15 * 60, "default lockout.window");
	is_int(c->auth.lockout.duration, 30 * 60, "default lockout.duration");
	is_int(c->auth.two_factor, TWO_FACTOR_OPTIONAL,
	    "default two_factor optional");
	is_int(c->limits.message_size, 35 * 1024 * 1024,
	    "default message_size 35M");
	is_int(c->limits.recipients, 100, "default recipients");
	is_int(c->limits.sessions_per_ip, 20, "default sessions_per_ip");
	is_int(c->limits.sessions, 1000, "default sessions");
	is_int(c->limits.errors, 10, "default errors");
	is_int(c->limits.user_messages_per_hour, 500,
	    "default user_messages_per_hour");
	is_int(c->limits.user_recipients_per_hour, 2000,
	    "default user_recipients_per_hour");
	is_int(c->auth.password.cost, 5, "default password cost");
	is_int(c->queue.nretry, nitems(retry), "default retry count");
	for (i = k = 0; i < nitems(retry); i++)
		k += c->queue.retry[i] == retry[i];
	is_int(k, nitems(retry), "default retry intervals");
	is_int(c->queue.expire, 5 * 86400, "default expire 5d");
	is_int(c->queue.delay_warning, 4 * 3600, "default delay_warning 4h");
	is_int(c->queue.sync, SYNCSET_FILESYSTEM, "default sync filesystem");
	is_str(c->control.socket, "/run/postern/control.sock",
	    "default control.socket");
	is_str(c->control.group, "postern-admin", "default control.group");
	r = &c->control.roles[CTL_ROLE_ADMIN];
	ok(r->nusers == 1 && strcmp(r->users[0], "root") == 0 &&
	    r->ngroups == 0, "default role admin: users [root]");
	ok(c->control.roles[CTL_ROLE_OPERATOR].nusers == 0 &&
	    c->control.roles[CTL_ROLE_OPERATOR].ngroups == 0 &&
	    c->control.roles[CTL_ROLE_AUDITOR].nusers == 0 &&
	    c->control.roles[CTL_ROLE_AUDITOR].ngroups == 0,
	    "no operator or auditor by default");
	config_free(c);

	c = expect_parse("run_dir moves the socket",
	    "hostname: a\nrun_dir: /var/run/p\n");
	if (c != NULL)
		is_str(c->control.socket, "/var/run/p/control.sock",
		    "control.socket follows run_dir");
	config_free(c);

	c = expect_parse("roles given",
	    "hostname: a\ncontrol: {roles: {operator: {groups: [ops]}}}\n");
	if (c != NULL)
		ok(c->control.roles[CTL_ROLE_ADMIN].nusers == 0 &&
		    c->control.roles[CTL_ROLE_OPERATOR].ngroups == 1,
		    "no default admin when roles: is given");
	config_free(c);
}

static struct config *
read_and_parse(const char *path, int check_files, char *err, size_t errsz)
{
	struct config	*c;
	char		*buf;
	size_t		 len;

	if ((buf = config_read_file(path, &len, err, errsz)) == NULL)
		return NULL;
	c = config_parse(path, buf, len, check_files, err, errsz);
	free(buf);
	return c;
}

static void
check_example(const struct config *c)
{
	const struct config_listener	*l;
	const struct config_alias	*a;
	const struct config_account	*ac;
	const struct config_role	*r;
	const char			*want[] = {
		"mx smtp 0.0.0.0 25 starttls",
		"submission submission 0.0.0.0 587 starttls",
		"submissions submission 0.0.0.0 465 implicit",
		"imaps imap 0.0.0.0 993 implicit",
	};
	char				 got[256];
	size_t				 i = 0;

	is_str(c->hostname, "mx.example.org", "example: hostname");
	is_str(c->log.json, "/var/log/postern/events.jsonl",
	    "example: log.json");
	is_str(c->tls.cert, "/etc/postern/tls/fullchain.pem",
	    "example: tls.cert");
	TAILQ_FOREACH(l, &c->listeners, entry) {
		(void)snprintf(got, sizeof(got), "%s %s %s %u %s", l->name,
		    config_service_name(l->service), l->address,
		    (unsigned)l->port, config_tls_name(l->tls));
		is_str(got, i < nitems(want) ? want[i] : "(extra)",
		    "example: listener %zu", i);
		i++;
	}
	is_int(i, nitems(want), "example: 4 listeners");
	ok(!TAILQ_EMPTY(&c->domains) &&
	    strcmp(TAILQ_FIRST(&c->domains)->name, "example.org") == 0,
	    "example: domain example.org");
	ac = TAILQ_FIRST(&c->accounts);
	ok(ac != NULL && strcmp(ac->address, "alice@example.org") == 0 &&
	    strncmp(ac->hash, "$y$", 3) == 0, "example: account alice");
	a = TAILQ_FIRST(&c->aliases);
	ok(a != NULL && strcmp(a->address, "postmaster@example.org") == 0 &&
	    a->ntargets == 1 && strcmp(a->targets[0], "alice@example.org") == 0,
	    "example: postmaster alias");
	is_int(c->auth.password.max_age, 365 * 86400, "example: max_age");
	is_int(c->queue.nretry, 6, "example: retry list");
	r = &c->control.roles[CTL_ROLE_OPERATOR];
	ok(r->ngroups == 1 && strcmp(r->groups[0], "postern-ops") == 0,
	    "example: operator groups");
	r = &c->control.roles[CTL_ROLE_AUDITOR];
	ok(r->ngroups == 1 && strcmp(r->groups[0], "adm") == 0,
	    "example: auditor groups");
}

static void
test_example(void)
{
	struct config	*c;
	char		 path[PATH_MAX], err[CONFIG_ERR_SIZE];

	join(path, sizeof(path), srcdir, "etc/postern.yaml");
	c = read_and_parse(path, 0, err, sizeof(err));
	if (!ok(c != NULL, "etc/postern.yaml parses"))
		printf("#   %s\n", err);
	if (c != NULL) {
		ok(c->path[0] == '/', "conf->path is absolute");
		check_example(c);
	}
	config_free(c);

	/* Its certificate paths are only examples. */
	if (access("/etc/postern/tls/fullchain.pem", F_OK) == 0) {
		ok(1, "# SKIP /etc/postern/tls/fullchain.pem exists");
		return;
	}
	c = read_and_parse(path, 1, err, sizeof(err));
	ok(c == NULL && err_well_formed(err, path) &&
	    strstr(err, "tls.cert: /etc/postern/tls/fullchain.pem: No such "
	    "file") != NULL, "check_files: missing cert named");
	config_free(c);
}

/* One case per error class not already in the corpus. */
static void
test_errors(void)
{
	char	 buf[8192];
	size_t	 i;
	int	 n;

	expect_error("hostname as a mapping", "hostname: {a: b}\n", 1, 11,
	    "hostname: expected a string, got a mapping");
	expect_error("listeners item not a mapping",
	    "hostname: a\nlisteners: [mx]\n", 2, 13,
	    "listeners[0]: expected a mapping, got a scalar");
	expect_error("unknown listener key",
	    "hostname: a\nlisteners: [{name: a, service: smtp, port: 25, "
	    "proto: tcp}]\n", 2, 48, "unknown key \"proto\" in listeners[0]");
	expect_error("same address spelled differently",
	    "hostname: a\nlisteners:\n"
	    "  - {name: a, service: smtp, address: \"::\", port: 25}\n"
	    "  - {name: b, service: smtp, address: \"0:0::0\", port: 25}\n",
	    4, 55, "already used by listener \"a\"");
	expect_error("imap cleartext on v4-mapped public",
	    "hostname: a\nlisteners:\n"
	    "  - {name: i, service: imap, address: \"::ffff:192.0.2.1\", "
	    "port: 143, tls: none}\n", 3, 75, "loopback");
	expect_error("alias key not ours", "hostname: a\ndomains: "
	    "[{name: b.c}]\naliases: {x@d.e: [y@b.c]}\n", 3, 11,
	    "not listed in domains");
	expect_error("account address too long", "hostname: a\n"
	    "domains: [{name: b.c}]\naccounts: [{address: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "@b.c, password: x}]\n", 3, 22, "not a valid mail address");
	expect_error("hash without salt separator", "hostname: a\n"
	    "domains: [{name: b.c}]\naccounts: [{address: u@b.c, "
	    "password: \"$y$abc\"}]\n", 3, 39, "malformed crypt(3) hash");
	expect_error("hash with space", "hostname: a\n"
	    "domains: [{name: b.c}]\naccounts: [{address: u@b.c, "
	    "password: \"$6$ab$c d\"}]\n", 3, 39, "malformed crypt(3) hash");
	expect_error("unknown crypt method", "hostname: a\n"
	    "domains: [{name: b.c}]\naccounts: [{address: u@b.c, "
	    "password: \"$7$ab$cd\"}]\n", 3, 39, "unknown crypt(3) method");
	expect_error("protocols listed twice", "hostname: a\ntls: {cert: c, "
	    "key: k, protocols: [tlsv1.3, tlsv1.3]}\n", 2, 45,
	    "tlsv1.3 is listed twice");
	expect_error("protocols empty", "hostname: a\ntls: {cert: c, "
	    "key: k, protocols: []}\n", 2, 35, "must not be empty");
	expect_error("lockout window zero", "hostname: a\nauth: {lockout: "
	    "{window: 0s}}\n", 2, 26, "out of range (1s..30d)");
	expect_error("message_size too small", "hostname: a\nlimits: "
	    "{message_size: 512}\n", 2, 24, "out of range");
	expect_error("message_size too large", "hostname: a\nlimits: "
	    "{message_size: 2G}\n", 2, 24, "out of range");
	expect_error("cost too high", "hostname: a\nauth: {password: "
	    "{cost: 12}}\n", 2, 25, "out of range");
	expect_error("errors zero", "hostname: a\nlimits: {errors: 0}\n",
	    2, 18, "out of range");
	expect_error("expire as a list", "hostname: a\nqueue: {expire: [5d]}\n",
	    2, 17, "expected a duration, got a list");
	expect_error("sync unknown", "hostname: a\nqueue: {sync: fsync}\n",
	    2, 15, "unknown value \"fsync\" (expected filesystem or files)");
	expect_error("delay_warning zero", "hostname: a\nqueue: "
	    "{delay_warning: 0s}\n", 2, 24, "out of range (1s..365d)");
	expect_error("control group bad", "hostname: a\ncontrol: {group: "
	    "\"-x\"}\n", 2, 18, "not a valid user or group name");
	expect_error("unknown role key", "hostname: a\ncontrol: {roles: "
	    "{admin: {uids: [0]}}}\n", 2, 27, "unknown key \"uids\"");
	expect_error("empty document", "---\n...\n", 2, 1,
	    "top level: expected a mapping, got an empty value");
	expect_error("null document", "~\n", 1, 1,
	    "expected a mapping, got an empty value");
	expect_error("top-level scalar", "hello\n", 1, 1,
	    "expected a mapping, got a scalar");
	expect_error("merge key", "hostname: a\n<<: {state_dir: /x}\n", 2, 1,
	    "unknown key \"<<\"");
	expect_error("unknown key shown safely",
	    "hostname: a\n\"a\\x01b\": 1\n", 2, 1, "unknown key \"a?b\"");

	/* Limits of the loader. */
	n = snprintf(buf, sizeof(buf), "hostname: a\nx: ");
	for (i = 0; i < 1000; i++)
		buf[n++] = '[';
	buf[n] = '\0';
	expect_error("1000 nested lists", buf, 2, 35, "nested too deeply");

	/* 32 listeners are fine, the 33rd is refused (in the corpus). */
	n = snprintf(buf, sizeof(buf), "hostname: a\nlisteners:\n");
	for (i = 0; i < CONFIG_MAX_LISTENERS; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "  - {name: l%zu, "
		    "service: smtp, port: %zu}\n", i, 2000 + i);
	config_free(expect_parse("32 listeners", buf));
}

static void
test_too_many_nodes(void)
{
	struct config	*c;
	char		*buf, err[CONFIG_ERR_SIZE];
	size_t		 i, n, len = 700 * 1024;

	if ((buf = malloc(len)) == NULL) {
		ok(0, "malloc");
		return;
	}
	n = (size_t)snprintf(buf, len, "hostname: a\nx: [");
	for (i = 0; n + 4 < len; i++) {
		buf[n++] = '1';
		buf[n++] = ',';
	}
	buf[n++] = '1';
	buf[n++] = ']';
	c = config_parse(TESTPATH, buf, n, 0, err, sizeof(err));
	ok(c == NULL && err_well_formed(err, TESTPATH) &&
	    strstr(err, "too many YAML nodes") != NULL,
	    "350000 list items refused");
	config_free(c);
	free(buf);
}

/* Addresses and domains come out lower-cased; accepted hash methods. */
static void
test_values(void)
{
	struct config		*c;
	struct config_alias	*a;
	struct config_account	*ac;
	char			 err[CONFIG_ERR_SIZE];
	const char		*yaml =
	    "hostname: mx.example.org\n"
	    "domains: [{name: Example.ORG}, {name: b.example}]\n"
	    "accounts:\n"
	    "  - {address: Alice@Example.org, password: \"$2b$12$abcdefghij"
	    "klmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234\"}\n"
	    "  - {address: bob@b.example, password: \"$6$rounds=5000$salt$"
	    "hash\"}\n"
	    "  - {address: carol@b.example, password: \"$5$salt$hash\"}\n"
	    "  - {address: dave@b.example, password: \"$gy$j9T$salt$hash\"}\n"
	    "aliases:\n"
	    "  Root@b.example: [Bob@B.Example, someone@elsewhere.net]\n"
	    "listeners:\n"
	    "  - {name: sub, service: submission, address: 127.0.0.1, "
	    "port: 587}\n"
	    "  - {name: imap6, service: imap, address: \"::1\", port: 143}\n"
	    "log: {level: debug, syslog: local3}\n"
	    "auth: {two_factor: required, password: {max_age: 0s}}\n"
	    "queue: {sync: files, delay_warning: 90m}\n";

	c = parse(yaml, err, sizeof(err));
	if (!ok(c != NULL, "lower-casing and hash methods parse")) {
		printf("#   %s\n", err);
		return;
	}
	is_str(TAILQ_FIRST(&c->domains)->name, "example.org",
	    "domain lower-cased");
	ac = TAILQ_FIRST(&c->accounts);
	is_str(ac->address, "alice@example.org", "account lower-cased");
	is_str(ac->hash, "$2b$12$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
	    "QRSTUVWXYZ01234", "hash kept as is");
	a = TAILQ_FIRST(&c->aliases);
	is_str(a->address, "root@b.example", "alias lower-cased");
	ok(a->ntargets == 2 && strcmp(a->targets[0], "bob@b.example") == 0 &&
	    strcmp(a->targets[1], "someone@elsewhere.net") == 0,
	    "alias targets, foreign allowed");
	ok(TAILQ_FIRST(&c->listeners)->tls == TLSMODE_NONE,
	    "cleartext submission allowed on 127.0.0.1");
	is_int(c->log.level, LOG_DEBUG, "log.level debug");
	is_int(c->log.facility, LOG_LOCAL3, "log.syslog local3");
	is_int(c->auth.two_factor, TWO_FACTOR_REQUIRED, "two_factor required");
	is_int(c->queue.sync, SYNCSET_FILES, "queue.sync files");
	is_int(c->queue.delay_warning, 5400, "queue.delay_warning 90m");
	config_free(c);
}

/* A plain-text password must never end up in an error message. */
static void
test_secret_not_echoed(void)
{
	struct config	*c;
	char		 err[CONFIG_ERR_SIZE];

	c = parse("hostname: a\ndomains: [{name: b.c}]\naccounts: [{address: "
	    "u@b.c, password: Sw0rdf1sh-s3cret}]\n", err, sizeof(err));
	ok(c == NULL && strstr(err, "Sw0rdf1sh") == NULL &&
	    strstr(err, "not a crypt(3) hash") != NULL,
	    "plain-text password refused and not echoed");
	config_free(c);
}

/*
 * Paths and files
 */

static int
write_file(const char *path, const char *text)
{
	FILE	*fp;
	int	 r;

	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	r = fputs(text, fp) == EOF ? -1 : 0;
	if (fclose(fp) == EOF)
		r = -1;
	return r;
}

static void
test_relative(const char *real, const char *cfg)
{
	struct config	*c;
	char		 err[CONFIG_ERR_SIZE];
	char		 want[PATH_MAX], old[PATH_MAX];

	c = read_and_parse(cfg, 1, err, sizeof(err));
	if (!ok(c != NULL, "relative paths with check_files")) {
		printf("#   %s\n", err);
		return;
	}
	join(want, sizeof(want), real, "state");
	is_str(c->state_dir, want, "state_dir resolved");
	join(want, sizeof(want), real, "sub/run");
	is_str(c->run_dir, want, "run_dir resolved");
	join(want, sizeof(want), real, "cert.pem");
	is_str(c->tls.cert, want, "tls.cert resolved");
	join(want, sizeof(want), real, "key.pem");
	is_str(c->tls.key, want, "tls.key resolved");
	join(want, sizeof(want), real, "log/events.jsonl");
	is_str(c->log.json, want, "log.json resolved");
	join(want, sizeof(want), real, "sub/run/control.sock");
	is_str(c->control.socket, want, "default socket in resolved run_dir");
	join(want, sizeof(want), real, "postern.yaml");
	is_str(c->path, want, "conf->path absolute");
	config_free(c);

	/* The same, given as a path relative to the working directory. */
	if (getcwd(old, sizeof(old)) == NULL || chdir(real) == -1) {
		ok(0, "chdir");
		return;
	}
	c = read_and_parse("./postern.yaml", 1, err, sizeof(err));
	join(want, sizeof(want), real, "state");
	ok(c != NULL && strcmp(c->state_dir, want) == 0,
	    "config path relative to cwd");
	config_free(c);
	if (chdir(old) == -1)
		ok(0, "chdir back");
}

static void
test_check_files(const char *dir)
{
	struct config	*c;
	char		 cfg[PATH_MAX], fifo[PATH_MAX];
	char		 err[CONFIG_ERR_SIZE];

	join(cfg, sizeof(cfg), dir, "t.yaml");
	(void)write_file(cfg, "hostname: a\ntls:\n  cert: cert.pem\n"
	    "  key: missing.pem\n");
	c = read_and_parse(cfg, 1, err, sizeof(err));
	ok(c == NULL && err_matches(err, cfg, 4, 8, "tls.key:") &&
	    strstr(err, "No such file") != NULL, "check_files: missing key");
	config_free(c);

	c = read_and_parse(cfg, 0, err, sizeof(err));
	ok(c != NULL, "missing key fine without check_files");
	config_free(c);

	(void)write_file(cfg, "hostname: a\ntls:\n  cert: .\n  key: key.pem\n");
	c = read_and_parse(cfg, 1, err, sizeof(err));
	ok(c == NULL && err_matches(err, cfg, 3, 9, "not a regular file"),
	    "check_files: directory as cert");
	config_free(c);

	join(fifo, sizeof(fifo), dir, "fifo");
	if (mkfifo(fifo, 0600) == 0) {
		(void)write_file(cfg, "hostname: a\ntls:\n  cert: cert.pem\n"
		    "  key: fifo\n");
		c = read_and_parse(cfg, 1, err, sizeof(err));
		ok(c == NULL && err_matches(err, cfg, 4, 8,
		    "not a regular file"), "check_files: FIFO as key, no hang");
		config_free(c);
		(void)unlink(fifo);
	} else
		ok(0, "mkfifo: %s", strerror(errno));

	if (geteuid() == 0) {
		ok(1, "# SKIP unreadable key: root reads everything");
	} else {
		char	 key[PATH_MAX];

		join(key, sizeof(key), dir, "key.pem");
		(void)chmod(key, 0);
		(void)write_file(cfg, "hostname: a\ntls:\n  cert: cert.pem\n"
		    "  key: key.pem\n");
		c = read_and_parse(cfg, 1, err, sizeof(err));
		ok(c == NULL && err_matches(err, cfg, 4, 8, "Permission"),
		    "check_files: unreadable key");
		config_free(c);
		(void)chmod(key, 0600);
	}
	(void)unlink(cfg);
}

static void
test_read_file(const char *dir)
{
	char	 path[PATH_MAX], err[CONFIG_ERR_SIZE], *buf;
	size_t	 len = 0;
	FILE	*fp;

	buf = config_read_file("/nonexistent/postern.yaml", &len, err,
	    sizeof(err));
	ok(buf == NULL && strstr(err, "No such file") != NULL,
	    "read_file: missing file");
	buf = config_read_file(dir, &len, err, sizeof(err));
	ok(buf == NULL && strstr(err, "not a regular file") != NULL,
	    "read_file: directory refused");
	buf = config_read_file("/dev/null", &len, err, sizeof(err));
	ok(buf == NULL && strstr(err, "not a regular file") != NULL,
	    "read_file: device refused");

	join(path, sizeof(path), dir, "big.yaml");
	if ((fp = fopen(path, "w")) != NULL) {
		(void)fseek(fp, CONFIG_MAX_SIZE, SEEK_SET);
		(void)fputc('\n', fp);
		(void)fclose(fp);
	}
	buf = config_read_file(path, &len, err, sizeof(err));
	ok(buf == NULL && strstr(err, "larger than") != NULL,
	    "read_file: over CONFIG_MAX_SIZE refused");
	(void)unlink(path);

	(void)write_file(path, "hostname: a\n");
	buf = config_read_file(path, &len, err, sizeof(err));
	ok(buf != NULL && len == 12 && memcmp(buf, "hostname: a\n", 12) == 0,
	    "read_file: contents and length");
	free(buf);
	(void)unlink(path);
}

static void
test_files(void)
{
	char	 tmpl[] = "/tmp/postern-config.XXXXXX";
	char	 real[PATH_MAX], path[PATH_MAX], cfg[PATH_MAX];

	if (mkdtemp(tmpl) == NULL || realpath(tmpl, real) == NULL) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	join(path, sizeof(path), real, "cert.pem");
	(void)write_file(path, "cert\n");
	join(path, sizeof(path), real, "key.pem");
	(void)write_file(path, "key\n");
	join(cfg, sizeof(cfg), real, "postern.yaml");
	(void)write_file(cfg, "hostname: a\nstate_dir: state\n"
	    "run_dir: sub/run\ntls: {cert: cert.pem, key: ./key.pem}\n"
	    "log: {json: log/events.jsonl}\n");

	/* Through the unresolved mkdtemp name: /tmp may be a symlink. */
	test_relative(real, cfg);
	test_check_files(real);
	test_read_file(real);

	(void)unlink(cfg);
	join(path, sizeof(path), real, "cert.pem");
	(void)unlink(path);
	join(path, sizeof(path), real, "key.pem");
	(void)unlink(path);
	(void)rmdir(real);
}

/*
 * The corpus of broken files
 */

static int
corpus_select(const struct dirent *d)
{
	size_t	 n = strlen(d->d_name);

	return n > 5 && strcmp(d->d_name + n - 5, ".yaml") == 0;
}

static void
corpus_one(const char *dir, const char *name)
{
	struct config	*c;
	char		 path[PATH_MAX], err[CONFIG_ERR_SIZE], want[256];
	char		*buf, *nl;
	size_t		 len;
	int		 line, col, off = 0;

	join(path, sizeof(path), dir, name);
	if ((buf = config_read_file(path, &len, err, sizeof(err))) == NULL) {
		ok(0, "corpus %s: %s", name, err);
		return;
	}
	if (sscanf(buf, "# expect: %d:%d %n", &line, &col, &off) != 2 ||
	    off == 0 || (nl = strchr(buf + off, '\n')) == NULL ||
	    (size_t)(nl - (buf + off)) >= sizeof(want)) {
		ok(0, "corpus %s: no \"# expect: LINE:COL text\" line", name);
		free(buf);
		return;
	}
	memcpy(want, buf + off, nl - (buf + off));
	want[nl - (buf + off)] = '\0';
	c = config_parse(path, buf, len, 0, err, sizeof(err));
	if (!ok(c == NULL && err_matches(err, path, line, col, want),
	    "corpus %s", name))
		printf("#   got \"%s\"\n#   want %d:%d \"%s\"\n",
		    c == NULL ? err : "(parsed)", line, col, want);
	config_free(c);
	free(buf);
}

static void
test_corpus(void)
{
	struct dirent	**ents;
	char		  dir[PATH_MAX];
	int		  i, n;

	join(dir, sizeof(dir), srcdir, CORPUS);
	if ((n = scandir(dir, &ents, corpus_select, alphasort)) == -1) {
		ok(0, "scandir %s: %s", dir, strerror(errno));
		return;
	}
	ok(n >= 30, "corpus has %d files (>= 30)", n);
	for (i = 0; i < n; i++) {
		corpus_one(dir, ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
}

/*
 * Mutations and noise: any outcome but a crash, a leak or a malformed
 * message is fine.
 */

static uint64_t	 rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	uint64_t	 x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static size_t
rng_below(size_t n)
{
	return n == 0 ? 0 : (size_t)(rng() % n);
}

static const char *
mutate(const char *src, size_t srclen, char *dst, size_t *dstlen)
{
	size_t	 i, n, at, k, len = srclen;
	char	 junk[] = "\t\n\r :-[]{},#&*!|>'\"%@`?\\\0\x01\xff\xc3";

	memcpy(dst, src, srclen);
	switch (rng_below(5)) {
	case 0:
		len = rng_below(srclen);
		*dstlen = len;
		return "truncate";
	case 1:
		n = 1 + rng_below(8);
		for (i = 0; i < n; i++)
			dst[rng_below(len)] = (char)rng();
		*dstlen = len;
		return "random bytes";
	case 2:
		n = 1 + rng_below(4);
		for (i = 0; i < n; i++)
			dst[rng_below(len)] = junk[rng_below(sizeof(junk) - 1)];
		*dstlen = len;
		return "syntax bytes";
	case 3:
		at = rng_below(len);
		k = rng_below(len - at + 1);
		memmove(dst + at, dst + at + k, len - at - k);
		*dstlen = len - k;
		return "delete range";
	default:
		/* Copy a chunk elsewhere, as a pasted line would. */
		at = rng_below(len);
		k = rng_below(len - at) % 200;
		i = rng_below(len);
		memmove(dst + i + k, dst + i, len - i);
		memcpy(dst + i, src + at, k);
		*dstlen = len + k;
		return "duplicate chunk";
	}
}

static int
outcome_ok(const struct config *c, const char *err, const char *path)
{
	if (c != NULL)
		return err[0] == '\0';
	return err_well_formed(err, path);
}

static void
test_mutations(void)
{
	struct config	*c;
	char		 path[PATH_MAX], err[CONFIG_ERR_SIZE], *src, *dst;
	const char	*how;
	size_t		 srclen, dstlen, i, parsed = 0;

	join(path, sizeof(path), srcdir, "etc/postern.yaml");
	if ((src = config_read_file(path, &srclen, err, sizeof(err))) == NULL ||
	    srclen == 0) {
		ok(0, "mutations: %s", err);
		free(src);
		return;
	}
	if ((dst = malloc(srclen + 256)) == NULL) {
		ok(0, "malloc");
		free(src);
		return;
	}
	for (i = 0; i < 200; i++) {
		how = mutate(src, srclen, dst, &dstlen);
		c = config_parse(path, dst, dstlen, 0, err, sizeof(err));
		if (c != NULL)
			parsed++;
		if (!ok(outcome_ok(c, err, path), "mutation %zu (%s)", i, how))
			printf("#   \"%s\"\n", err);
		config_free(c);
	}
	printf("# %zu of 200 mutations still parsed\n", parsed);
	free(dst);
	free(src);
}

/* Token soup from YAML's own punctuation and our keys. */
static void
test_token_soup(void)
{
	static const char *const tok[] = {
		"hostname", "listeners", "tls", "domains", "accounts",
		"aliases", "auth", "queue", "control", "roles", "admin",
		"name", "port", "25", "-1", "5m", "35M", "a@b.c", "$y$a$b",
		":", ": ", "- ", "[", "]", "{", "}", ",", "\n", "\n  ",
		"\n    ", "\"", "'", "&a ", "*a", "!t ", "? ", "---\n", "#",
		"|", ">", "~", "null", "\t", "\\", "%YAML 1.1\n",
		"\xe2\x82\xac",
	};
	struct config	*c;
	char		 buf[2048], err[CONFIG_ERR_SIZE];
	size_t		 i, n, len;
	int		 bad = 0;

	for (i = 0; i < 500; i++) {
		len = 0;
		for (n = rng_below(120); n > 0; n--) {
			const char *t = tok[rng_below(nitems(tok))];

			if (len + strlen(t) >= sizeof(buf))
				break;
			memcpy(buf + len, t, strlen(t));
			len += strlen(t);
		}
		c = config_parse(TESTPATH, buf, len, 0, err, sizeof(err));
		if (!outcome_ok(c, err, TESTPATH)) {
			bad++;
			printf("#   soup %zu: \"%s\"\n", i, err);
		}
		config_free(c);
	}
	ok(bad == 0, "500 token soups: a config or a clean error each");

	for (i = bad = 0; i < 100; i++) {
		len = rng_below(sizeof(buf));
		for (n = 0; n < len; n++)
			buf[n] = (char)rng();
		c = config_parse(TESTPATH, buf, len, 0, err, sizeof(err));
		if (!outcome_ok(c, err, TESTPATH))
			bad++;
		config_free(c);
	}
	ok(bad == 0, "100 random buffers: a clean error each");

	c = config_parse(TESTPATH, NULL, 0, 0, err, sizeof(err));
	ok(c == NULL && err_matches(err, TESTPATH, 1, 1, "empty"),
	    "NULL buffer is an empty configuration");
	config_free(c);
	c = config_parse(NULL, "x: 1\n", 5, 0, NULL, 0);
	ok(c == NULL, "NULL path and error buffer tolerated");
	config_free(c);
}

int
main(void)
{
	const char	*s;

	if ((s = getenv("POSTERN_SRCDIR")) == NULL || *s == '\0')
		s = ".";
	if (strlcpy(srcdir, s, sizeof(srcdir)) >= sizeof(srcdir))
		return 1;

	test_duration();
	test_size();
	test_names();
	test_defaults();
	test_example();
	test_errors();
	test_too_many_nodes();
	test_values();
	test_secret_not_echoed();
	test_files();
	test_corpus();
	test_mutations();
	test_token_soup();
	return done_testing();
}
