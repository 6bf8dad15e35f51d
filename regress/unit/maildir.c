/*
 * Unit tests for lib/maildir.c: the mailbox layout and modes, the file
 * in new/ (prefix, body with CRLF turned into LF, ",S=" equal to its
 * size), unique names, refusal of unsafe path components and of symbolic
 * links and files in the store, failures that leave nothing behind
 * (unreadable message, EFBIG, ENOSPC on a small tmpfs), CRLF pairs
 * split across read chunks, and maildir_deliver_once: a second delivery
 * with the same id (also after the user moved or deleted the first) is
 * recognised, each state a crash can leave is finished exactly once,
 * and old markers are swept.
 */

#include <sys/types.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maildir.h"
#include "syncset.h"
#include "tap.h"

#define PREFIX	"Return-Path: <a@b.example>\r\nDelivered-To: alice@example.org\r\n"
#define PREFIX_LF "Return-Path: <a@b.example>\nDelivered-To: alice@example.org\n"

static char	 topdir[] = "/tmp/maildir-test.XXXXXX";
static char	 root[sizeof(topdir) + 16];
static char	 outside[sizeof(topdir) + 16];
static int	 rootfd;

static void	die(const char *) __attribute__((__noreturn__));

static void
die(const char *what)
{
	perror(what);
	exit(2);
}

/* A read-only fd on an unlinked file holding data, as the queue passes. */
static int
message_fd(const char *data, size_t len)
{
	char	 path[sizeof(topdir) + 16];
	int	 wfd, fd;

	(void)snprintf(path, sizeof(path), "%s/msg", topdir);
	if ((wfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		die("open msg");
	if (len > 0 && write(wfd, data, len) != (ssize_t)len)
		die("write msg");
	/* A shared offset at the end must not matter: pread from 0. */
	if ((fd = open(path, O_RDONLY)) == -1 || lseek(fd, 0, SEEK_END) == -1)
		die("reopen msg");
	(void)close(wfd);
	(void)unlink(path);
	return fd;
}

static char *
slurp(int dfd, const char *path, size_t *lenp)
{
	struct stat	 st;
	char		*buf;
	int		 fd;

	if ((fd = openat(dfd, path, O_RDONLY)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL)
		die("slurp");
	if (read(fd, buf, (size_t)st.st_size) != st.st_size)
		die("slurp read");
	buf[st.st_size] = '\0';
	*lenp = (size_t)st.st_size;
	(void)close(fd);
	return buf;
}

/* Entries in dfd/path other than . and .., or -1 if it can't be read. */
static int
count_entries(int dfd, const char *path)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, n = 0;

	if ((fd = openat(dfd, path, O_RDONLY | O_DIRECTORY)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL)
		die("fdopendir");
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	(void)closedir(d);
	return n;
}

static int
mode_of(int dfd, const char *path)
{
	struct stat	 st;

	if (fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	return st.st_mode & 07777;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)remove(path);
	return 0;
}

static void
rm_rf(const char *path)
{
	(void)nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Reference CRLF -> LF, byte by byte, unlike the code under test. */
static char *
crlf_to_lf(const char *in, size_t len, size_t *outlen)
{
	char	*out;
	size_t	 i, o = 0;

	if ((out = malloc(len + 1)) == NULL)
		die("malloc");
	for (i = 0; i < len; i++) {
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
			continue;
		out[o++] = in[i];
	}
	*outlen = o;
	return out;
}

/* The ",S=" field of a name in new/, or -1. */
static long long
size_field(const char *name)
{
	const char	*p;

	if ((p = strstr(name, ",S=")) == NULL)
		return -1;
	return strtoll(p + 3, NULL, 10);
}

static enum maildir_result
deliver(const char *domain, const char *local, const char *body,
    size_t len, char *name, char *why)
{
	enum maildir_result	 r;
	int			 fd;

	fd = message_fd(body, len);
	r = maildir_deliver(rootfd, domain, local, fd, PREFIX,
	    sizeof(PREFIX) - 1, name, MAILDIR_NAMESZ, why, 256);
	(void)close(fd);
	return r;
}

static void
test_component(void)
{
	char	 out[MAILDIR_COMPONENT_MAX + 1], big[MAILDIR_COMPONENT_MAX + 2];

	ok(maildir_component("Alice.Smith", 11, out, sizeof(out)) == 0,
	    "component: plain name accepted");
	is_str(out, "alice.smith", "component: ASCII lowercased");
	ok(maildir_component("j\xc3\xb6rg", 5, out, sizeof(out)) == 0,
	    "component: UTF-8 accepted");
	ok(maildir_component("", 0, out, sizeof(out)) == -1,
	    "component: empty refused");
	ok(maildir_component(".", 1, out, sizeof(out)) == -1,
	    "component: . refused");
	ok(maildir_component("..", 2, out, sizeof(out)) == -1,
	    "component: .. refused");
	ok(maildir_component(".hidden", 7, out, sizeof(out)) == -1,
	    "component: leading dot refused");
	ok(maildir_component("a/b", 3, out, sizeof(out)) == -1,
	    "component: slash refused");
	ok(maildir_component("a\0b", 3, out, sizeof(out)) == -1,
	    "component: NUL refused");
	ok(maildir_component("a\nb", 3, out, sizeof(out)) == -1,
	    "component: control byte refused");
	ok(maildir_component("a\x7f", 2, out, sizeof(out)) == -1,
	    "component: DEL refused");
	memset(big, 'a', sizeof(big));
	ok(maildir_component(big, MAILDIR_COMPONENT_MAX, out,
	    sizeof(out)) == 0, "component: %d bytes accepted",
	    MAILDIR_COMPONENT_MAX);
	ok(maildir_component(big, MAILDIR_COMPONENT_MAX + 1, out,
	    sizeof(out)) == -1, "component: %d bytes refused",
	    MAILDIR_COMPONENT_MAX + 1);
	ok(maildir_component("abc", 3, out, 3) == -1,
	    "component: output buffer too small refused");
}

static void
test_basic(void)
{
	const char		 body[] = "Subject: hi\r\n\r\nline one\r\n"
				    "bare\rcr\r\n";
	const char		 want[] = PREFIX_LF "Subject: hi\n\nline one\n"
				    "bare\rcr\n";
	char			 name[MAILDIR_NAMESZ], why[256], path[512];
	char			*got;
	struct stat		 st;
	size_t			 len;
	enum maildir_result	 r;

	r = deliver("Example.ORG", "Alice", body, sizeof(body) - 1, name, why);
	is_int(r, MAILDIR_OK, "basic: delivered");
	if (r != MAILDIR_OK)
		diag(why);
	is_int(mode_of(rootfd, "example.org"), 0700, "basic: domain 0700");
	is_int(mode_of(rootfd, "example.org/alice"), 0700,
	    "basic: mailbox 0700");
	is_int(mode_of(rootfd, "example.org/alice/tmp"), 0700, "basic: tmp 0700");
	is_int(mode_of(rootfd, "example.org/alice/new"), 0700, "basic: new 0700");
	is_int(mode_of(rootfd, "example.org/alice/cur"), 0700, "basic: cur 0700");
	is_int(count_entries(rootfd, "example.org/alice/tmp"), 0,
	    "basic: tmp/ empty after success");
	is_int(count_entries(rootfd, "example.org/alice/new"), 1,
	    "basic: one file in new/");
	(void)snprintf(path, sizeof(path), "example.org/alice/new/%s", name);
	got = slurp(rootfd, path, &len);
	ok(got != NULL && len == sizeof(want) - 1 &&
	    memcmp(got, want, len) == 0,
	    "basic: prefix then body, CRLF as LF, lone CR kept");
	free(got);
	if (fstatat(rootfd, path, &st, 0) == -1)
		memset(&st, 0, sizeof(st));
	is_int(size_field(name), st.st_size, "basic: S= is the file size");
	is_int(st.st_mode & 07777, 0600, "basic: file mode 0600");
	ok(strchr(name, '/') == NULL && strchr(name, ':') == NULL,
	    "basic: name has no / or :");
}

static void
test_names(void)
{
	char		 name[MAILDIR_NAMESZ], why[256];
	long long	 sec;
	long		 usec, pid;
	unsigned long long q;
	int		 n = 0;

	maildir_init("mx/1:a,b");
	is_int(deliver("example.org", "names", "x\r\n", 3, name, why),
	    MAILDIR_OK, "names: delivered");
	ok(sscanf(name, "%lld.M%6ldP%ldQ%llu.%n", &sec, &usec, &pid, &q,
	    &n) == 4 && n > 0, "names: <sec>.M<usec>P<pid>Q<n>. (%s)", name);
	is_int(pid, getpid(), "names: pid in name");
	ok(n > 0 && strncmp(name + n, "mx\\0571\\072a\\054b,S=", 20) == 0,
	    "names: host escaped, then S=");
	is_int(size_field(name), sizeof(PREFIX_LF) - 1 + 2,
	    "names: S= counts prefix and body");
	maildir_init(NULL);
}

static void
test_many(void)
{
	char	 name[MAILDIR_NAMESZ], why[256];
	int	 i, okc = 0;

	for (i = 0; i < 1000; i++)
		if (deliver("example.org", "many", "m\r\n", 3, name,
		    why) == MAILDIR_OK)
			okc++;
	is_int(okc, 1000, "many: 1000 deliveries succeeded");
	is_int(count_entries(rootfd, "example.org/many/new"), 1000,
	    "many: 1000 distinct files in new/");
	is_int(count_entries(rootfd, "example.org/many/tmp"), 0,
	    "many: tmp/ empty");
}

static void
test_traversal(void)
{
	const char	*bad[] = { "..", ".", "a/b", ".hidden", "", "../x",
			    "a\nb" };
	char		 name[MAILDIR_NAMESZ], why[256];
	size_t		 i;
	int		 before;

	before = count_entries(rootfd, ".");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(deliver(bad[i], "alice", "x", 1, name, why),
		    MAILDIR_PERMFAIL, "traversal: domain #%zu refused", i);
		is_int(deliver("example.org", bad[i], "x", 1, name, why),
		    MAILDIR_PERMFAIL, "traversal: local part #%zu refused", i);
	}
	is_int(count_entries(rootfd, "."), before,
	    "traversal: nothing created in the root");
	is_int(count_entries(rootfd, "example.org/alice/new"), 1,
	    "traversal: nothing delivered");
	is_int(count_entries(AT_FDCWD, topdir), 2,
	    "traversal: nothing beside the root");
}

static void
test_symlinks(void)
{
	char	 name[MAILDIR_NAMESZ], why[256];

	if (symlinkat(outside, rootfd, "evil.example") == -1 ||
	    symlinkat(outside, rootfd, "example.org/linked") == -1 ||
	    mkdirat(rootfd, "example.org/lnew", 0700) == -1 ||
	    mkdirat(rootfd, "example.org/lnew/tmp", 0700) == -1 ||
	    symlinkat(outside, rootfd, "example.org/lnew/new") == -1 ||
	    mkdirat(rootfd, "example.org/ltmp", 0700) == -1 ||
	    symlinkat(outside, rootfd, "example.org/ltmp/tmp") == -1 ||
	    symlinkat("/nonexistent/dangling", rootfd, "dangling.example") == -1)
		die("symlink setup");
	is_int(deliver("evil.example", "alice", "x", 1, name, why),
	    MAILDIR_PERMFAIL, "symlink: symlinked domain refused (%s)", why);
	is_int(deliver("example.org", "linked", "x", 1, name, why),
	    MAILDIR_PERMFAIL, "symlink: symlinked mailbox refused");
	is_int(deliver("example.org", "lnew", "x", 1, name, why),
	    MAILDIR_PERMFAIL, "symlink: symlinked new/ refused");
	is_int(deliver("example.org", "ltmp", "x", 1, name, why),
	    MAILDIR_PERMFAIL, "symlink: symlinked tmp/ refused");
	is_int(deliver("dangling.example", "alice", "x", 1, name, why),
	    MAILDIR_PERMFAIL, "symlink: dangling symlink refused");
	ok(strstr(why, "symbolic link") != NULL, "symlink: reason (%s)", why);
	is_int(count_entries(AT_FDCWD, outside), 0,
	    "symlink: nothing written outside the root");
	is_int(count_entries(rootfd, "example.org/lnew/tmp"), 0,
	    "symlink: tmp/ file removed");
}

static void
test_files(void)
{
	char	 name[MAILDIR_NAMESZ], why[256];
	int	 fd;

	if ((fd = openat(rootfd, "file.example", O_WRONLY | O_CREAT,
	    0600)) == -1)
		die("file.example");
	(void)close(fd);
	if ((fd = openat(rootfd, "example.org/plain", O_WRONLY | O_CREAT,
	    0600)) == -1)
		die("plain");
	(void)close(fd);
	if (mkdirat(rootfd, "example.org/nocur", 0700) == -1 ||
	    (fd = openat(rootfd, "example.org/nocur/cur",
	    O_WRONLY | O_CREAT, 0600)) == -1)
		die("nocur");
	(void)close(fd);
	is_int(deliver("file.example", "alice", "x", 1, name, why),
	    MAILDIR_PERMFAIL, "file: domain is a file (%s)", why);
	is_int(deliver("example.org", "plain", "x", 1, name, why),
	    MAILDIR_PERMFAIL, "file: mailbox is a file");
	is_int(deliver("example.org", "nocur", "x", 1, name, why),
	    MAILDIR_PERMFAIL, "file: cur is a file");
	is_int(count_entries(rootfd, "example.org/nocur/new"), 0,
	    "file: nothing in new/");
}

static void
test_badfd(void)
{
	char			 name[MAILDIR_NAMESZ], why[256];
	char			 path[sizeof(topdir) + 16];
	enum maildir_result	 r;
	int			 fd;

	r = maildir_deliver(rootfd, "example.org", "badfd", -1, PREFIX,
	    sizeof(PREFIX) - 1, name, sizeof(name), why, sizeof(why));
	is_int(r, MAILDIR_TEMPFAIL, "badfd: fd -1 is a temporary failure");
	(void)snprintf(path, sizeof(path), "%s/wronly", topdir);
	if ((fd = open(path, O_WRONLY | O_CREAT, 0600)) == -1)
		die("wronly");
	r = maildir_deliver(rootfd, "example.org", "badfd", fd, PREFIX,
	    sizeof(PREFIX) - 1, name, sizeof(name), why, sizeof(why));
	is_int(r, MAILDIR_TEMPFAIL, "badfd: write-only fd (%s)", why);
	(void)close(fd);
	(void)unlink(path);
	if ((fd = open(topdir, O_RDONLY | O_DIRECTORY)) == -1)
		die("dirfd");
	r = maildir_deliver(rootfd, "example.org", "badfd", fd, PREFIX,
	    sizeof(PREFIX) - 1, name, sizeof(name), why, sizeof(why));
	is_int(r, MAILDIR_TEMPFAIL, "badfd: directory fd (%s)", why);
	(void)close(fd);
	is_int(count_entries(rootfd, "example.org/badfd/tmp"), 0,
	    "badfd: tmp/ empty");
	is_int(count_entries(rootfd, "example.org/badfd/new"), 0,
	    "badfd: new/ empty");
	fd = message_fd("x", 1);
	r = maildir_deliver(rootfd, "example.org", "badfd", fd, PREFIX,
	    sizeof(PREFIX) - 1, name, MAILDIR_NAMESZ - 1, why, sizeof(why));
	is_int(r, MAILDIR_TEMPFAIL, "badfd: short name buffer refused");
	(void)close(fd);
}

/*
 * 5 MB with CRLF split at every read boundary, plus a lone CR before a
 * boundary, "\r\r\n" across one, and a lone CR at the very end.
 */
static char *
big_message(size_t *lenp)
{
	const size_t	 len = 5 * 1024 * 1024 + 17;
	const char	 text[] = "The quick brown fox jumps over the dog.\r\n";
	char		*m;
	size_t		 i, k;

	if ((m = malloc(len)) == NULL)
		die("malloc");
	for (i = 0; i < len; i++)
		m[i] = text[i % (sizeof(text) - 1)];
	for (k = MAILDIR_CHUNK; k < len; k += MAILDIR_CHUNK) {
		m[k - 1] = '\r';
		m[k] = '\n';
	}
	m[2 * MAILDIR_CHUNK - 1] = '\r';
	m[2 * MAILDIR_CHUNK] = 'X';
	m[3 * MAILDIR_CHUNK - 1] = '\r';
	m[3 * MAILDIR_CHUNK] = '\r';
	m[3 * MAILDIR_CHUNK + 1] = '\n';
	m[len - 1] = '\r';
	*lenp = len;
	return m;
}

static void
test_big(void)
{
	char		 name[MAILDIR_NAMESZ], why[256], path[512];
	char		*m, *want, *wantall, *got;
	size_t		 len, wantlen, gotlen;
	struct stat	 st;
	enum maildir_result r;

	m = big_message(&len);
	r = deliver("example.org", "big", m, len, name, why);
	is_int(r, MAILDIR_OK, "big: 5 MB delivered");
	want = crlf_to_lf(m, len, &wantlen);
	if ((wantall = malloc(sizeof(PREFIX_LF) - 1 + wantlen)) == NULL)
		die("malloc");
	memcpy(wantall, PREFIX_LF, sizeof(PREFIX_LF) - 1);
	memcpy(wantall + sizeof(PREFIX_LF) - 1, want, wantlen);
	wantlen += sizeof(PREFIX_LF) - 1;
	(void)snprintf(path, sizeof(path), "example.org/big/new/%s", name);
	got = slurp(rootfd, path, &gotlen);
	is_int(gotlen, wantlen, "big: size after CRLF -> LF");
	ok(got != NULL && gotlen == wantlen &&
	    memcmp(got, wantall, wantlen) == 0,
	    "big: content right across chunk boundaries");
	ok(got != NULL && gotlen == wantlen && got[gotlen - 1] == '\r',
	    "big: lone CR at the end kept");
	if (fstatat(rootfd, path, &st, 0) == -1)
		memset(&st, 0, sizeof(st));
	is_int(size_field(name), st.st_size, "big: S= is the file size");
	free(m);
	free(want);
	free(wantall);
	free(got);
}

static void
test_empty(void)
{
	char			 name[MAILDIR_NAMESZ], why[256];
	enum maildir_result	 r;
	int			 fd;

	fd = message_fd("", 0);
	r = maildir_deliver(rootfd, "example.org", "empty", fd, NULL, 0,
	    name, sizeof(name), why, sizeof(why));
	is_int(r, MAILDIR_OK, "empty: empty message, no prefix");
	is_int(size_field(name), 0, "empty: S=0");
	(void)close(fd);
}

static void
test_atfdcwd(void)
{
	char			 name[MAILDIR_NAMESZ], why[256];
	enum maildir_result	 r;
	int			 fd, cwd;

	if ((cwd = open(".", O_RDONLY | O_DIRECTORY)) == -1 ||
	    fchdir(rootfd) == -1)
		die("chdir");
	fd = message_fd("x\r\n", 3);
	r = maildir_deliver(AT_FDCWD, "cwd.example", "bob", fd, NULL, 0,
	    name, sizeof(name), why, sizeof(why));
	(void)close(fd);
	if (fchdir(cwd) == -1)
		die("fchdir back");
	(void)close(cwd);
	is_int(r, MAILDIR_OK, "cwd: AT_FDCWD root works");
	is_int(count_entries(rootfd, "cwd.example/bob/new"), 1,
	    "cwd: delivered below the cwd");
}

static void
test_efbig(void)
{
	struct rlimit		 old, rl;
	char			 name[MAILDIR_NAMESZ], why[256];
	char			*m;
	size_t			 len;
	enum maildir_result	 r;
	int			 fd;

	m = big_message(&len);
	fd = message_fd(m, len);	/* before the limit bites */
	free(m);
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR ||
	    getrlimit(RLIMIT_FSIZE, &old) == -1)
		die("rlimit");
	rl = old;
	rl.rlim_cur = 100 * 1024;
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		die("setrlimit");
	r = maildir_deliver(rootfd, "example.org", "efbig", fd, PREFIX,
	    sizeof(PREFIX) - 1, name, sizeof(name), why, sizeof(why));
	if (setrlimit(RLIMIT_FSIZE, &old) == -1)
		die("setrlimit restore");
	(void)close(fd);
	is_int(r, MAILDIR_TEMPFAIL, "efbig: EFBIG is a temporary failure");
	ok(r != MAILDIR_OK && strstr(why, strerror(EFBIG)) != NULL,
	    "efbig: reason says so (%s)", why);
	is_int(count_entries(rootfd, "example.org/efbig/tmp"), 0,
	    "efbig: tmp file removed");
	is_int(count_entries(rootfd, "example.org/efbig/new"), 0,
	    "efbig: nothing in new/");
}

struct enospc_result {
	int	 mounted;
	int	 small, full, tmp, new;
	char	 why[200];
};

/* In a child with its own mount namespace, so the tmpfs dies with it. */
static void
enospc_child(int wfd)
{
	struct enospc_result	 res;
	char			 name[MAILDIR_NAMESZ], small[sizeof(topdir) + 16];
	char			*m;
	size_t			 len;
	int			 fd, sfd;

	memset(&res, 0, sizeof(res));
	(void)snprintf(small, sizeof(small), "%s/small", topdir);
	if (unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	    mkdir(small, 0700) == 0 &&
	    mount("tmpfs", small, "tmpfs", 0, "size=1m,mode=0700") == 0 &&
	    (sfd = open(small, O_RDONLY | O_DIRECTORY)) != -1) {
		res.mounted = 1;
		fd = message_fd("small\r\n", 7);
		res.small = maildir_deliver(sfd, "example.org", "full", fd,
		    NULL, 0, name, sizeof(name), res.why, sizeof(res.why));
		(void)close(fd);
		m = big_message(&len);
		fd = message_fd(m, len);
		free(m);
		res.full = maildir_deliver(sfd, "example.org", "full", fd,
		    PREFIX, sizeof(PREFIX) - 1, name, sizeof(name), res.why,
		    sizeof(res.why));
		(void)close(fd);
		res.tmp = count_entries(sfd, "example.org/full/tmp");
		res.new = count_entries(sfd, "example.org/full/new");
	}
	if (write(wfd, &res, sizeof(res)) != sizeof(res))
		_exit(1);
	_exit(0);
}

static void
test_enospc(void)
{
	struct enospc_result	 res;
	pid_t			 pid;
	int			 p[2], status;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		(void)close(p[0]);
		enospc_child(p[1]);
	}
	(void)close(p[1]);
	memset(&res, 0, sizeof(res));
	if (read(p[0], &res, sizeof(res)) != sizeof(res))
		res.mounted = -1;
	(void)close(p[0]);
	(void)waitpid(pid, &status, 0);
	if (res.mounted != 1) {
		ok(1, "# SKIP enospc: cannot mount a tmpfs here");
		return;
	}
	is_int(res.small, MAILDIR_OK, "enospc: small message fits");
	is_int(res.full, MAILDIR_TEMPFAIL,
	    "enospc: full disk is a temporary failure");
	ok(strstr(res.why, strerror(ENOSPC)) != NULL,
	    "enospc: reason says so (%s)", res.why);
	is_int(res.tmp, 0, "enospc: tmp file removed");
	is_int(res.new, 1, "enospc: only the small message in new/");
}

static enum maildir_result
deliver_once(const char *local, const char *id, const char *body,
    char *name, char *why)
{
	enum maildir_result	 r;
	int			 fd;

	fd = message_fd(body, strlen(body));
	r = maildir_deliver_once(rootfd, "once.example", local, id, fd,
	    PREFIX, sizeof(PREFIX) - 1, name, MAILDIR_NAMESZ, why, 256);
	(void)close(fd);
	return r;
}

static enum maildir_result
deliver_once_in(const char *domain, const char *local, const char *id,
    char *name, char *why)
{
	enum maildir_result	 r;
	int			 fd;

	fd = message_fd("x\r\n", 3);
	r = maildir_deliver_once(rootfd, domain, local, id, fd, PREFIX,
	    sizeof(PREFIX) - 1, name, MAILDIR_NAMESZ, why, 256);
	(void)close(fd);
	return r;
}

/* Writes text into the file path below rootfd. */
static void
put_file(const char *path, const char *text)
{
	int	 fd;

	if ((fd = openat(rootfd, path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) ==
	    -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die(path);
	(void)close(fd);
}

/* The content of the only file in dir/new/, or NULL. */
static char *
only_new(const char *box)
{
	char		 path[512];
	DIR		*d;
	struct dirent	*de;
	char		*got = NULL;
	size_t		 len;
	int		 n = 0;

	(void)snprintf(path, sizeof(path), "%s/%s/new", root, box);
	if ((d = opendir(path)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		free(got);
		(void)snprintf(path, sizeof(path), "%s/new/%s", box,
		    de->d_name);
		got = slurp(rootfd, path, &len);
	}
	(void)closedir(d);
	if (n != 1) {
		free(got);
		return NULL;
	}
	return got;
}

static void
test_once_basic(void)
{
	const char		 body[] = "Subject: once\r\n\r\nonce\r\n";
	const char		 want[] = PREFIX_LF "Subject: once\n\nonce\n";
	char			 name[MAILDIR_NAMESZ], why[256], path[512];
	char			 dest[512];
	char			*got;
	enum maildir_result	 r;

	maildir_init("mx.test");
	r = deliver_once("a", "0123456789abcdef_0", body, name, why);
	is_int(r, MAILDIR_OK, "once: first delivery");
	ok(strstr(name, "_0123456789abcdef_0.mx.test,S=") != NULL,
	    "once: the name carries the id (%s)", name);
	got = only_new("once.example/a");
	ok(got != NULL && strcmp(got, want) == 0, "once: content");
	free(got);
	is_int(mode_of(rootfd, "once.example/a/" MAILDIR_MARKS), 0700,
	    "once: marker directory 0700");
	is_int(mode_of(rootfd, "once.example/a/" MAILDIR_MARKS
	    "/0123456789abcdef_0"), 0600, "once: the marker, 0600");
	is_int(count_entries(rootfd, "once.example/a/tmp"), 0,
	    "once: tmp/ empty");
	r = deliver_once("a", "0123456789abcdef_0", body, name, why);
	is_int(r, MAILDIR_ALREADY, "once: same id again: already delivered");
	is_str(name, "", "once: no name for it");
	is_int(count_entries(rootfd, "once.example/a/new"), 1,
	    "once: still one file");
	r = deliver_once("a", "0123456789abcdef_1", body, name, why);
	is_int(r, MAILDIR_OK, "once: another id is another delivery");
	is_int(count_entries(rootfd, "once.example/a/new"), 2,
	    "once: two files");

	/* The user reads it (new/ to cur/), then deletes it. */
	(void)snprintf(path, sizeof(path), "%s/once.example/a/new/%s", root,
	    name);
	(void)snprintf(dest, sizeof(dest), "%s/once.example/a/cur/%s:2,S",
	    root, name);
	if (rename(path, dest) == -1)
		die("rename");
	r = deliver_once("a", "0123456789abcdef_1", body, name, why);
	is_int(r, MAILDIR_ALREADY, "once: moved to cur/: not again");
	(void)snprintf(path, sizeof(path), "%s/once.example/a/cur", root);
	rm_rf(path);
	r = deliver_once("a", "0123456789abcdef_1", body, name, why);
	is_int(r, MAILDIR_ALREADY, "once: deleted by the user: not again");
	is_int(count_entries(rootfd, "once.example/a/new"), 1,
	    "once: and not back");
}

/* A mailbox "once.example/<local>" with its directories, empty. */
static void
make_box(const char *local)
{
	char	 path[512];
	char	*p;

	(void)snprintf(path, sizeof(path), "%s/once.example/%s/%s", root,
	    local, MAILDIR_MARKS);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		(void)mkdir(path, 0700);
		*p = '/';
	}
	(void)mkdir(path, 0700);
	(void)snprintf(path, sizeof(path), "%s/once.example/%s/", root, local);
	p = path + strlen(path);
	(void)strlcpy(p, "tmp", 4);
	(void)mkdir(path, 0700);
	(void)strlcpy(p, "new", 4);
	(void)mkdir(path, 0700);
	(void)strlcpy(p, "cur", 4);
	(void)mkdir(path, 0700);
}

/* The states of maildir.c's table, as a crash leaves them. */
static void
test_once_states(void)
{
	const char		 body[] = "Subject: s\r\n\r\nfull body\r\n";
	const char		 want[] = PREFIX_LF "Subject: s\n\nfull body\n";
	char			 name[MAILDIR_NAMESZ], why[256];
	char			*got;
	enum maildir_result	 r;

	/* Published (linked into new/), marker not made. */
	make_box("pub");
	put_file("once.example/pub/tmp/m_0.mx.test", "published\n");
	if (linkat(rootfd, "once.example/pub/tmp/m_0.mx.test", rootfd,
	    "once.example/pub/new/1.M1P1Q1_m_0.mx.test,S=10", 0) == -1)
		die("link");
	r = deliver_once("pub", "m_0", body, name, why);
	is_int(r, MAILDIR_ALREADY, "state published: already delivered");
	got = only_new("once.example/pub");
	ok(got != NULL && strcmp(got, "published\n") == 0,
	    "state published: not written again");
	free(got);
	is_int(mode_of(rootfd, "once.example/pub/" MAILDIR_MARKS "/m_0"),
	    0600, "state published: the marker is made");
	is_int(count_entries(rootfd, "once.example/pub/tmp"), 0,
	    "state published: tmp/ cleaned");

	/* Committed (marker), not linked into new/ yet. */
	make_box("com");
	put_file("once.example/com/tmp/m_0.mx.test", "committed\n");
	put_file("once.example/com/" MAILDIR_MARKS "/m_0", "");
	r = deliver_once("com", "m_0", body, name, why);
	is_int(r, MAILDIR_OK, "state committed: published now");
	ok(strstr(name, ",S=10") != NULL, "state committed: S= of the "
	    "committed file (%s)", name);
	got = only_new("once.example/com");
	ok(got != NULL && strcmp(got, "committed\n") == 0,
	    "state committed: the committed file, not a new copy");
	free(got);
	is_int(count_entries(rootfd, "once.example/com/tmp"), 0,
	    "state committed: tmp/ cleaned");
	r = deliver_once("com", "m_0", body, name, why);
	is_int(r, MAILDIR_ALREADY, "state committed: then done");

	/* Half written, no marker. */
	make_box("half");
	put_file("once.example/half/tmp/m_0.mx.test", "Return-Pa");
	r = deliver_once("half", "m_0", body, name, why);
	is_int(r, MAILDIR_OK, "state half: delivered");
	got = only_new("once.example/half");
	ok(got != NULL && strcmp(got, want) == 0,
	    "state half: whole, written again");
	free(got);
	is_int(count_entries(rootfd, "once.example/half/tmp"), 0,
	    "state half: tmp/ cleaned");

	/* Something else where the marker belongs. */
	make_box("dir");
	if (mkdirat(rootfd, "once.example/dir/" MAILDIR_MARKS "/m_0", 0700)
	    == -1)
		die("mkdir marker");
	r = deliver_once("dir", "m_0", body, name, why);
	is_int(r, MAILDIR_TEMPFAIL, "a directory as marker: temporary "
	    "failure (%s)", why);
	is_int(count_entries(rootfd, "once.example/dir/new"), 0,
	    "a directory as marker: nothing delivered");
}

/* Sets the mtime of path below rootfd to days ago. */
static void
age(const char *path, int days)
{
	struct timespec	 ts[2];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - days * 24 * 60 * 60;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(rootfd, path, ts, AT_SYMLINK_NOFOLLOW) == -1)
		die(path);
}

static void
test_once_sweep(void)
{
	const char		 body[] = "Subject: s\r\n\r\nsweep\r\n";
	char			 name[MAILDIR_NAMESZ], why[256];
	const int		 ttl = MAILDIR_MARK_TTL / (24 * 60 * 60);

	make_box("sweep");
	put_file("once.example/sweep/" MAILDIR_MARKS "/old_0", "");
	age("once.example/sweep/" MAILDIR_MARKS "/old_0", ttl + 1);
	put_file("once.example/sweep/" MAILDIR_MARKS "/young_0", "");
	age("once.example/sweep/" MAILDIR_MARKS "/young_0", ttl - 1);
	is_int(deliver_once("sweep", "s_0", body, name, why), MAILDIR_OK,
	    "sweep: delivered");
	is_int(mode_of(rootfd, "once.example/sweep/" MAILDIR_MARKS "/old_0"),
	    -1, "sweep: a marker older than %d days is removed", ttl);
	is_int(mode_of(rootfd, "once.example/sweep/" MAILDIR_MARKS
	    "/young_0"), 0600, "sweep: a younger one stays");
	is_int(mode_of(rootfd, "once.example/sweep/" MAILDIR_MARKS "/s_0"),
	    0600, "sweep: the new one stays");
	put_file("once.example/sweep/" MAILDIR_MARKS "/old_1", "");
	age("once.example/sweep/" MAILDIR_MARKS "/old_1", ttl + 1);
	is_int(deliver_once("sweep", "s_1", body, name, why), MAILDIR_OK,
	    "sweep: delivered again");
	is_int(mode_of(rootfd, "once.example/sweep/" MAILDIR_MARKS "/old_1"),
	    0600, "sweep: not again the same day");
	age("once.example/sweep/" MAILDIR_MARKS "/.swept", 2);
	is_int(deliver_once("sweep", "s_2", body, name, why), MAILDIR_OK,
	    "sweep: delivered a day later");
	is_int(mode_of(rootfd, "once.example/sweep/" MAILDIR_MARKS "/old_1"),
	    -1, "sweep: then it is removed");
	is_int(deliver_once("sweep", "s_0", body, name, why),
	    MAILDIR_ALREADY, "sweep: the recent ids are still recognised");
}

static void
test_once_args(void)
{
	char			 name[MAILDIR_NAMESZ], why[256];
	char			 big[MAILDIR_ID_MAX + 2];
	const char		*bad[] = { "", "a/b", "a.b", "../x", "a b",
				    big };
	size_t			 i;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(deliver_once("args", bad[i], "x\r\n", name, why),
		    MAILDIR_TEMPFAIL, "once: id \"%.8s\" refused", bad[i]);
	big[MAILDIR_ID_MAX] = '\0';
	is_int(deliver_once("args", big, "x\r\n", name, why), MAILDIR_OK,
	    "once: an id of %d bytes accepted", MAILDIR_ID_MAX);
	is_int(deliver("once.example", "plain", "x\r\n", 3, name, why),
	    MAILDIR_OK, "without an id: delivered");
	is_int(mode_of(rootfd, "once.example/plain/" MAILDIR_MARKS), -1,
	    "without an id: no marker directory");
}

/*
 * The job API as mda uses it: several deliveries share their barriers
 * (one syncfs each with SYNCSET_FILESYSTEM); a failed barrier leaves
 * each job in a state the next attempt finishes without a duplicate.
 */
static void
test_jobs(void)
{
	static const char	*ids[] = { "1111111111111111_0",
	    "1111111111111111_1", "2222222222222222_0" };
	struct maildir_job	 j[3];
	struct syncset		 ss;
	char			 name[MAILDIR_NAMESZ], why[256];
	size_t			 i;
	int			 fd;

	if (syncset_init(&ss, SYNCSET_FILESYSTEM, rootfd) == -1)
		die("syncset_init");
	for (i = 0; i < 3; i++) {
		fd = message_fd("x\r\n", 3);
		maildir_job_start(&j[i], rootfd, "jobs.example",
		    i < 2 ? "a" : "b", ids[i], fd, PREFIX,
		    sizeof(PREFIX) - 1, &ss);
		(void)close(fd);
		is_int(j[i].step, MAILDIR_JOB_WRITTEN, "jobs: %zu written", i);
	}
	is_int(count_entries(rootfd, "jobs.example/a/new"), 0,
	    "jobs: nothing in new/ before the first barrier");
	ok(syncset_flush(&ss) == 0 && ss.flushes == 1,
	    "jobs: one syncfs for three files and their tmp/");
	for (i = 0; i < 3; i++)
		maildir_job_publish(&j[i], &ss);
	is_int(count_entries(rootfd, "jobs.example/a/new"), 2,
	    "jobs: two linked into a's new/");
	ok(syncset_flush(&ss) == 0 && ss.flushes == 2,
	    "jobs: one syncfs for the markers and new/");
	for (i = 0; i < 3; i++) {
		maildir_job_finish(&j[i]);
		ok(j[i].step == MAILDIR_JOB_DONE &&
		    j[i].result == MAILDIR_OK && j[i].name[0] != '\0',
		    "jobs: %zu delivered", i);
	}
	is_int(count_entries(rootfd, "jobs.example/a/tmp"), 0,
	    "jobs: tmp/ empty afterwards");

	/* The first barrier fails: the file goes, the next try delivers. */
	fd = message_fd("y\r\n", 3);
	maildir_job_start(&j[0], rootfd, "jobs.example", "c",
	    "3333333333333333_0", fd, PREFIX, sizeof(PREFIX) - 1, &ss);
	(void)close(fd);
	syncset_discard(&ss);
	maildir_job_fail(&j[0], "sync tmp/", EIO);
	maildir_job_publish(&j[0], &ss);
	maildir_job_finish(&j[0]);
	ok(j[0].result == MAILDIR_TEMPFAIL && strstr(j[0].why, "sync tmp/")
	    != NULL, "jobs: a failed first barrier is a temporary failure");
	ok(count_entries(rootfd, "jobs.example/c/tmp") == 0 &&
	    count_entries(rootfd, "jobs.example/c/new") == 0,
	    "jobs: and leaves nothing behind");
	is_int(deliver_once_in("jobs.example", "c", "3333333333333333_0",
	    name, why), MAILDIR_OK, "jobs: the retry delivers");

	/* The second barrier fails: the retry knows it is delivered. */
	fd = message_fd("z\r\n", 3);
	maildir_job_start(&j[0], rootfd, "jobs.example", "d",
	    "4444444444444444_0", fd, PREFIX, sizeof(PREFIX) - 1, &ss);
	(void)close(fd);
	(void)syncset_flush(&ss);
	maildir_job_publish(&j[0], &ss);
	syncset_discard(&ss);
	maildir_job_fail(&j[0], "sync new/", EIO);
	maildir_job_finish(&j[0]);
	is_int(j[0].result, MAILDIR_TEMPFAIL,
	    "jobs: a failed second barrier is a temporary failure");
	is_int(deliver_once_in("jobs.example", "d", "4444444444444444_0",
	    name, why), MAILDIR_ALREADY, "jobs: the retry finds it delivered");
	is_int(count_entries(rootfd, "jobs.example/d/new"), 1,
	    "jobs: once in new/");
	is_int(count_entries(rootfd, "jobs.example/d/tmp"), 0,
	    "jobs: and tmp/ cleaned up");
	syncset_free(&ss);
}

int
main(void)
{
	umask(022);
	if (mkdtemp(topdir) == NULL)
		die("mkdtemp");
	(void)snprintf(root, sizeof(root), "%s/mail", topdir);
	(void)snprintf(outside, sizeof(outside), "%s/outside", topdir);
	if (mkdir(root, 0700) == -1 || mkdir(outside, 0700) == -1 ||
	    (rootfd = open(root, O_RDONLY | O_DIRECTORY)) == -1)
		die("setup");

	test_component();
	test_basic();
	test_names();
	test_many();
	test_traversal();
	test_symlinks();
	test_files();
	test_badfd();
	test_big();
	test_empty();
	test_atfdcwd();
	test_efbig();
	test_enospc();
	test_once_basic();
	test_once_states();
	test_once_sweep();
	test_once_args();
	test_jobs();

	(void)close(rootfd);
	rm_rf(topdir);
	return done_testing();
}
