/*
 * Unit tests for lib/spool.c: msgids, the field encoding, the envelope
 * format (round trip, and refusal of every malformed variant, including
 * every truncation), the file operations of a commit, and recovery
 * (leftovers removed, orphans removed, bad envelopes quarantined).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"
#include "syncset.h"
#include "tap.h"

static char	 topdir[] = "/tmp/spool-test.XXXXXX";

static void	die(const char *) __attribute__((__noreturn__));

static void
die(const char *what)
{
	perror(what);
	exit(2);
}

static void
sample(struct spool_envelope *env, const char *msgid)
{
	struct spool_rcpt	*r;

	memset(env, 0, sizeof(*env));
	(void)strlcpy(env->msgid, msgid, sizeof(env->msgid));
	env->created = 1700000000;
	env->size = 1234;
	env->sender[0] = '\0';
	(void)strlcpy(env->client, "192.0.2.1", sizeof(env->client));
	(void)strlcpy(env->helo, "mail.example", sizeof(env->helo));
	env->ret = SPOOL_RET_FULL;
	(void)strlcpy(env->envid, "QQ314159 %x", sizeof(env->envid));
	env->nrcpts = 3;
	if ((env->rcpts = calloc(3, sizeof(*r))) == NULL)
		die("calloc");
	r = &env->rcpts[0];
	r->kind = SPOOL_KIND_LOCAL;
	r->state = SPOOL_RCPT_PENDING;
	(void)strlcpy(r->dest, "alice@example.org", sizeof(r->dest));
	(void)strlcpy(r->orig, "Alice+x@Example.ORG", sizeof(r->orig));
	r->notify = SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY;
	(void)strlcpy(r->orcpt, "rfc822;Alice+x@Example.ORG",
	    sizeof(r->orcpt));
	r = &env->rcpts[1];
	r->kind = SPOOL_KIND_REMOTE;
	r->state = SPOOL_RCPT_BOUNCE;
	r->notify = SPOOL_NOTIFY_NEVER;
	(void)strlcpy(r->dest, "carol@elsewhere.test", sizeof(r->dest));
	(void)strlcpy(r->orig, "team@example.net", sizeof(r->orig));
	r = &env->rcpts[2];
	r->kind = SPOOL_KIND_LOCAL;
	r->state = SPOOL_RCPT_PENDING;
	r->attempts = 3;
	r->next_try = 1700000900;
	(void)strlcpy(r->dest, "\"odd %user\"@example.org", sizeof(r->dest));
	(void)strlcpy(r->orig, "-", sizeof(r->orig));
	(void)strlcpy(r->reason, "mailbox full: 4.2.2 \xc3\xa9t\xc3\xa9",
	    sizeof(r->reason));
}

static int
same_envelope(const struct spool_envelope *a, const struct spool_envelope *b)
{
	size_t	 i;

	if (strcmp(a->msgid, b->msgid) != 0 || a->created != b->created ||
	    a->size != b->size || strcmp(a->sender, b->sender) != 0 ||
	    strcmp(a->client, b->client) != 0 ||
	    strcmp(a->helo, b->helo) != 0 || a->nrcpts != b->nrcpts ||
	    a->is_report != b->is_report || a->ret != b->ret ||
	    strcmp(a->envid, b->envid) != 0 || strcmp(a->sum, b->sum) != 0)
		return 0;
	for (i = 0; i < a->nrcpts; i++) {
		const struct spool_rcpt *x = &a->rcpts[i], *y = &b->rcpts[i];

		if (x->kind != y->kind || x->state != y->state ||
		    x->attempts != y->attempts || x->next_try != y->next_try ||
		    strcmp(x->dest, y->dest) != 0 ||
		    strcmp(x->orig, y->orig) != 0 ||
		    strcmp(x->reason, y->reason) != 0 ||
		    x->notify != y->notify || strcmp(x->orcpt, y->orcpt) != 0)
			return 0;
	}
	return 1;
}

static void
test_msgid(void)
{
	char	 a[SPOOL_MSGID_SIZE], b[SPOOL_MSGID_SIZE];
	int	 i, good = 1, differ = 1;

	for (i = 0; i < 100; i++) {
		spool_msgid_new(a, sizeof(a));
		spool_msgid_new(b, sizeof(b));
		good &= spool_msgid_valid(a) && strlen(a) == 16;
		differ &= strcmp(a, b) != 0;
	}
	ok(good, "new msgids are 16 lowercase hex digits");
	ok(differ, "new msgids differ");
	ok(!spool_msgid_valid("0123456789ABCDEF"), "uppercase hex refused");
	ok(!spool_msgid_valid("0123456789abcde"), "15 digits refused");
	ok(!spool_msgid_valid("0123456789abcdef0"), "17 digits refused");
	ok(!spool_msgid_valid("0123456789abcdeg"), "non-hex refused");
	ok(!spool_msgid_valid("../../etc/passwd"), "a path refused");
	ok(!spool_msgid_valid(""), "empty refused");
}

static void
test_str(void)
{
	static const char	*good[] = { "", "-", "a@b", "a b", "%", "100%",
	    "\x01\x7f\xff", "-x", "x-", "\r\n", "\xc3\xa9" };
	static const char	*bad[] = { "", "%41", "%2d", "%2D%2D", "%00",
	    "a b", "%4", "%G0", "%", "\x7f", "\xc3", "%2Dx", "\t" };
	char			 enc[64], dec[64];
	size_t			 i;
	int			 all = 1;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		all &= spool_str_encode(good[i], enc, sizeof(enc)) == 0 &&
		    strchr(enc, ' ') == NULL && enc[0] != '\0' &&
		    spool_str_decode(enc, dec, sizeof(dec)) == 0 &&
		    strcmp(dec, good[i]) == 0;
	}
	ok(all, "strings survive encoding, which never yields a space or "
	    "an empty token");
	(void)spool_str_encode("", enc, sizeof(enc));
	is_str(enc, "-", "the empty string is -");
	(void)spool_str_encode("-", enc, sizeof(enc));
	is_str(enc, "%2D", "- itself is %%2D");
	(void)spool_str_encode("a b%\n", enc, sizeof(enc));
	is_str(enc, "a%20b%25%0A", "space, %% and control bytes escaped");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(spool_str_decode(bad[i], dec, sizeof(dec)) == -1,
		    "decode refuses non-canonical/invalid token %zu", i);
	ok(spool_str_encode("abcdef", enc, 6) == -1, "encode checks its "
	    "buffer");
	ok(spool_str_decode("abcdef", dec, 6) == -1, "decode checks its "
	    "buffer");
	ok(spool_str_decode("abcde", dec, 6) == 0, "decode fills its buffer "
	    "exactly");
}

static int
parses(const char *text, const char *name)
{
	struct spool_envelope	 env;
	char			 err[SPOOL_ERR_SIZE];
	int			 r;

	r = spool_envelope_parse(text, strlen(text), name, &env, err,
	    sizeof(err));
	if (r == 0)
		spool_envelope_free(&env);
	return r == 0;
}

#define HDR	"postern-envelope 1\nmsgid 0123456789abcdef\n" \
		"created 1700000000\nsize 10\nsender a@b.example\n" \
		"client 192.0.2.1\nhelo x\n"
#define RCPT	"rcpt local pending 0 0 alice@example.org " \
		"alice@example.org -\n"
#define HDR2	"postern-envelope 2\nmsgid 0123456789abcdef\n" \
		"created 1700000000\nsize 10\nsender a@b.example\n" \
		"client 192.0.2.1\nhelo x\n"
#define HDR3	"postern-envelope 3\nmsgid 0123456789abcdef\n" \
		"created 1700000000\nsize 3\n"
#define SUM_ABC	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SUM_NONE "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define RCPT2	"rcpt local bounce 0 0 alice@example.org " \
		"alice@example.org - 0 -\n"

static void
test_parse_bad(void)
{
	static const struct {
		const char	*text;
		const char	*what;
	} bad[] = {
		{ HDR "end\n", "no recipient" },
		{ HDR RCPT, "no end line" },
		{ HDR RCPT "end\nx", "bytes after end" },
		{ HDR RCPT "end\n\n", "an empty line after end" },
		{ HDR RCPT "end", "end without newline" },
		{ "postern-envelope 2\n" HDR RCPT "end\n", "two versions" },
		{ HDR2 "dsn message - -\n" RCPT "end\n",
		    "version 2 with a version 1 rcpt" },
		{ HDR2 RCPT2 "end\n", "version 2 without dsn" },
		{ HDR3 "sender a@b.example\n", "version 3 without sum" },
		{ HDR3 "sum " SUM_ABC "0\n", "a sum of 65 digits" },
		{ HDR3 "sum BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB"
		    "410FF61F20015AD\n", "a sum in upper case" },
		{ HDR3 "sum " SUM_ABC " x\n", "a sum with a second field" },
		{ HDR2 "dsn message - -\n" "dsn message - -\n" RCPT2 "end\n",
		    "two dsn records" },
		{ HDR2 "dsn bounce - -\n" RCPT2 "end\n", "a bad dsn type" },
		{ HDR2 "dsn message FULL -\n" RCPT2 "end\n", "a bad ret" },
		{ HDR2 "dsn message -\n" RCPT2 "end\n", "a short dsn" },
		{ HDR2 "dsn report - -\n" RCPT2 "end\n",
		    "a report with a sender" },
		{ HDR2 "dsn message - a%0Ab\n" RCPT2 "end\n",
		    "a newline in the envid" },
		{ HDR2 "dsn message - -\n" "rcpt local pending 0 0 a@b a@b - "
		    "16 -\nend\n", "notify out of range" },
		{ HDR2 "dsn message - -\n" "rcpt local pending 0 0 a@b a@b - "
		    "10 -\nend\n", "notify never with failure" },
		{ HDR2 "dsn message - -\n" "rcpt local pending 0 0 a@b a@b - "
		    "2\nend\n", "a missing orcpt" },
		{ "postern-envelope 3\nmsgid 0123456789abcdef\n"
		    "created 1700000000\nsize 10\nsender a@b.example\n"
		    "client 192.0.2.1\nhelo x\n" RCPT "end\n", "version 3" },
		{ HDR "rcpt local pending 0 0 alice@example.org "
		    "alice@example.org - x\nend\n", "an extra field" },
		{ HDR "rcpt local pending 0 0 alice@example.org "
		    "alice@example.org\nend\n", "a missing field" },
		{ HDR "rcpt local pending  0 0 alice@example.org "
		    "alice@example.org -\nend\n", "two spaces" },
		{ HDR "rcpt local pending 0 0 alice@example.org "
		    "alice@example.org - \nend\n", "a trailing space" },
		{ HDR "rcpt local pending 01 0 alice@example.org "
		    "alice@example.org -\nend\n", "a leading zero" },
		{ HDR "rcpt local pending -1 0 alice@example.org "
		    "alice@example.org -\nend\n", "a negative number" },
		{ HDR "rcpt local pending 0 99999999999999999999999 "
		    "alice@example.org alice@example.org -\nend\n",
		    "a huge number" },
		{ HDR "rcpt local remote 0 0 alice@example.org "
		    "alice@example.org -\nend\n", "local kind, remote state" },
		{ HDR "rcpt remote pending 0 0 c@d c@d -\nend\n",
		    "remote kind, pending state" },
		{ HDR "rcpt local pending 0 0 alice alice -\nend\n",
		    "a local destination without @" },
		{ HDR "rcpt local pending 0 0 alice%0A@x alice -\nend\n",
		    "a control byte in an address" },
		{ HDR "rcpt local pending 0 0 - alice -\nend\n",
		    "an empty destination" },
		{ HDR "rcpt relay pending 0 0 a@b a@b -\nend\n",
		    "an unknown kind" },
		{ HDR "rcpt local sent 0 0 a@b a@b -\nend\n",
		    "an unknown state" },
		{ HDR "rcpt local pending 0 0 a@b a%41 -\nend\n",
		    "a non-canonical escape" },
		{ HDR "bcc local pending 0 0 a@b a@b -\nend\n",
		    "an unknown record" },
		{ HDR RCPT "end\r\n", "CRLF" },
		{ "postern-envelope 1\nmsgid 0123456789ABCDEF\n"
		    "created 1700000000\nsize 10\nsender a@b.example\n"
		    "client 192.0.2.1\nhelo x\n" RCPT "end\n", "a bad msgid" },
		{ "postern-envelope 1\nmsgid 0123456789abcdef\n"
		    "created 0\nsize 10\nsender a@b.example\n"
		    "client 192.0.2.1\nhelo x\n" RCPT "end\n", "created 0" },
		{ "postern-envelope 1\nmsgid 0123456789abcdef\n"
		    "size 10\ncreated 1700000000\nsender a@b.example\n"
		    "client 192.0.2.1\nhelo x\n" RCPT "end\n",
		    "records out of order" },
		{ "postern-envelope 1\nmsgid 0123456789abcdef\n"
		    "created 1700000000\nsize 10\nsender a%0D%0Ab@b.example\n"
		    "client 192.0.2.1\nhelo x\n" RCPT "end\n",
		    "CRLF in the sender" },
		{ "postern-envelope 1\nmsgid 0123456789abcdef\n"
		    "created 1700000000\nsize 10\nsender a@b.example\n"
		    "client 192.0.2.1\nhelo x\nhelo y\n" RCPT "end\n",
		    "a repeated record" },
		{ "", "an empty file" },
	};
	size_t	 i;
	char	 nul[] = HDR RCPT "end\n";

	ok(parses(HDR RCPT "end\n", "0123456789abcdef"), "the reference "
	    "envelope parses");
	ok(parses(HDR RCPT "end\n", NULL), "without a name to match too");
	ok(parses(HDR2 "dsn message full ENV%251\n" RCPT2
	    "rcpt remote remote 0 0 c@d c@d - 8 rfc822;c@d\nend\n", NULL),
	    "a version 2 envelope parses");
	ok(parses("postern-envelope 2\nmsgid 0123456789abcdef\n"
	    "created 1700000000\nsize 10\nsender -\nclient -\nhelo -\n"
	    "dsn report - -\n" RCPT2 "end\n", NULL),
	    "a report with the null sender parses");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!parses(bad[i].text, NULL), "refused: %s", bad[i].what);
	ok(!parses(HDR RCPT "end\n", "0123456789abcdee"), "refused: msgid "
	    "differs from the file name");
	nul[20] = '\0';
	{
		struct spool_envelope	 env;
		char			 err[SPOOL_ERR_SIZE];

		ok(spool_envelope_parse(nul, sizeof(nul) - 1, NULL, &env, err,
		    sizeof(err)) == -1, "refused: a NUL byte (%s)", err);
	}
}

static void
test_roundtrip(void)
{
	struct spool_envelope	 env, back;
	char			 err[SPOOL_ERR_SIZE], *buf;
	size_t			 len, cut;
	int			 all = 1;

	sample(&env, "0123456789abcdef");
	if ((buf = spool_envelope_encode(&env, &len)) == NULL)
		die("encode");
	ok(spool_envelope_parse(buf, len, "0123456789abcdef", &back, err,
	    sizeof(err)) == 0, "an encoded envelope parses (%s)",
	    buf != NULL ? "" : err);
	ok(same_envelope(&env, &back), "and comes back the same");
	spool_envelope_free(&back);
	ok(strstr(buf, "sender -\n") != NULL, "the null sender is -");
	ok(strstr(buf, "%2D") != NULL, "an original recipient \"-\" is %%2D");
	for (cut = 0; cut < len; cut++) {
		if (spool_envelope_parse(buf, cut, NULL, &back, err,
		    sizeof(err)) == 0) {
			all = 0;
			spool_envelope_free(&back);
			printf("# a prefix of %zu bytes parsed\n", cut);
		}
	}
	ok(all, "no truncation of it parses (%zu tried)", len);
	ok(strncmp(buf, "postern-envelope 2\n", 19) == 0 &&
	    strstr(buf, "\ndsn message full QQ314159%20%25x\n") != NULL,
	    "without a sum, encode writes version 2 with the dsn record");
	free(buf);
	(void)strlcpy(env.sum, SUM_ABC, sizeof(env.sum));
	buf = spool_envelope_encode(&env, &len);
	ok(buf != NULL && strncmp(buf, "postern-envelope 3\n", 19) == 0 &&
	    strstr(buf, "\nsize 1234\nsum " SUM_ABC "\nsender ") != NULL,
	    "with a sum, version 3 with the sum after the size");
	ok(buf != NULL && spool_envelope_parse(buf, len, NULL, &back, err,
	    sizeof(err)) == 0 && same_envelope(&env, &back),
	    "and it round-trips");
	spool_envelope_free(&back);
	free(buf);
	(void)strlcpy(env.sum, "BA7816", sizeof(env.sum));
	ok(spool_envelope_encode(&env, &len) == NULL && errno == EINVAL,
	    "a bad sum is not encoded");
	env.sum[0] = '\0';
	/* The longest fields, every byte escaped, still make one line. */
	memset(env.rcpts[2].dest, 0xff, sizeof(env.rcpts[2].dest) - 1);
	memcpy(env.rcpts[2].dest, "a@", 2);
	memset(env.rcpts[2].orig, 0xfe, sizeof(env.rcpts[2].orig) - 1);
	memset(env.rcpts[2].reason, ' ', sizeof(env.rcpts[2].reason) - 1);
	memset(env.rcpts[2].orcpt, 0x80, sizeof(env.rcpts[2].orcpt) - 1);
	memset(env.envid, '%', sizeof(env.envid) - 1);
	buf = spool_envelope_encode(&env, &len);
	ok(buf != NULL && spool_envelope_parse(buf, len, NULL, &back, err,
	    sizeof(err)) == 0, "the longest escaped fields round-trip");
	if (buf != NULL && same_envelope(&env, &back) == 1)
		ok(1, "and come back the same");
	else
		ok(0, "and come back the same");
	spool_envelope_free(&back);
	free(buf);

	env.rcpts[0].state = SPOOL_RCPT_REMOTE;
	errno = 0;
	ok(spool_envelope_encode(&env, &len) == NULL && errno == EINVAL,
	    "encode refuses what parse would refuse");
	env.rcpts[0].state = SPOOL_RCPT_DONE;
	env.sender[0] = '\n';
	ok(spool_envelope_check(&env, err, sizeof(err)) == -1,
	    "check refuses a newline in the sender (%s)", err);
	spool_envelope_free(&env);
}

static int
exists(const char *path)
{
	struct stat	 st;

	return lstat(path, &st) == 0;
}

static void
touch(const char *path, const char *data)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		die(path);
	if (write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		die("write");
	close(fd);
}

static void
test_commit_files(void)
{
	struct spool_envelope	 env, back;
	struct syncset		 ss;
	struct stat		 st;
	char			 msgid[SPOOL_MSGID_SIZE], path[64];
	char			 err[SPOOL_ERR_SIZE];
	uint64_t		 size = 0;
	int			 fd;

	ok(spool_setup() == 0, "setup creates the directories");
	ok(stat(SPOOL_INCOMING, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 0777) == 0700, "incoming/ is a 0700 directory");
	ok(stat(SPOOL_CORRUPT, &st) == 0 && (st.st_mode & 0777) == 0700,
	    "corrupt/ is a 0700 directory");
	if (chmod(SPOOL_MESSAGES, 0755) == -1)
		die("chmod");
	ok(spool_setup() == 0, "setup again is fine");
	ok(stat(SPOOL_MESSAGES, &st) == 0 && (st.st_mode & 0777) == 0700,
	    "and corrects a wrong mode");

	fd = spool_create(msgid, sizeof(msgid));
	ok(fd != -1 && spool_msgid_valid(msgid), "create gives an fd and a "
	    "msgid");
	(void)snprintf(path, sizeof(path), "incoming/%s", msgid);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "the incoming file is 0600");
	(void)snprintf(path, sizeof(path), "envelopes/%s.tmp", msgid);
	ok(stat(path, &st) == 0 && st.st_size == 0 &&
	    (st.st_mode & 0777) == 0600,
	    "create makes the envelope's empty .tmp ahead of the commit");
	(void)snprintf(path, sizeof(path), "incoming/%s", msgid);
	if (write(fd, "Subject: x\r\n\r\nhi\r\n", 18) != 18)
		die("write");
	close(fd);
	fd = spool_open_sync(SPOOL_INCOMING, msgid, &size);
	ok(fd != -1 && size == 18, "open_sync opens and sizes it");
	ok(syncset_init(&ss, SYNCSET_FILES, -1) == 0 &&
	    syncset_add(&ss, fd) == 0, "into a syncset");
	ok(spool_move_incoming(msgid) == 0 && !exists(path),
	    "move takes it out of incoming/");
	ok(syncset_add_path(&ss, AT_FDCWD, SPOOL_MESSAGES) == 0, "messages/ too");
	sample(&env, msgid);
	env.size = size;
	ok(spool_envelope_write_tmp(&env, &ss) == 0 &&
	    syncset_count(&ss) == 3, "write_tmp adds its file");
	ok(syncset_flush(&ss) == 0 && syncset_count(&ss) == 0 &&
	    ss.flushes == 3, "one fsync each");
	(void)snprintf(path, sizeof(path), "envelopes/%s.tmp", msgid);
	ok(exists(path), "the tmp envelope exists");
	ok(spool_envelope_install(msgid) == 0 && !exists(path),
	    "install renames it");
	ok(spool_envelope_read(msgid, &back, err, sizeof(err)) == 0 &&
	    same_envelope(&env, &back), "read gives it back");
	spool_envelope_free(&back);
	fd = spool_open_message(msgid);
	ok(fd != -1 && fcntl(fd, F_GETFL) != -1 &&
	    (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY,
	    "open_message is read-only");
	close(fd);
	ok(spool_unlink(SPOOL_ENVELOPES, msgid, "") == 0 &&
	    spool_unlink(SPOOL_MESSAGES, msgid, "") == 0, "unlink both");
	ok(spool_unlink(SPOOL_MESSAGES, msgid, "") == 0, "unlink of what is "
	    "gone is fine");
	spool_envelope_free(&env);

	ok(spool_open_sync(SPOOL_INCOMING, "0000000000000000", &size) == -1 &&
	    errno == ENOENT, "open_sync of a missing file fails");
	if (mkdir("incoming/2222222222222222", 0700) == -1)
		die("mkdir");
	ok(spool_open_sync(SPOOL_INCOMING, "2222222222222222", &size) == -1 &&
	    errno == EINVAL, "open_sync of a directory fails");
	rmdir("incoming/2222222222222222");
	syncset_free(&ss);
	if (symlink("/etc/passwd", "messages/1111111111111111") == -1)
		die("symlink");
	ok(spool_open_message("1111111111111111") == -1 && errno == ELOOP,
	    "open_message does not follow a symbolic link");
	unlink("messages/1111111111111111");
}

struct loaded {
	int	 n;
	int	 bad;
	char	 ids[8][SPOOL_MSGID_SIZE];
};

static void
on_load(struct spool_envelope *env, void *arg)
{
	struct loaded	*l = arg;

	if (l->n < 8)
		(void)strlcpy(l->ids[l->n], env->msgid, SPOOL_MSGID_SIZE);
	l->n++;
	spool_envelope_free(env);
}

static void
on_bad(const char *name, const char *why, void *arg)
{
	struct loaded	*l = arg;

	printf("# quarantined %s: %s\n", name, why);
	l->bad++;
}

/* Writes env as envelopes/<msgid> the way the queue does, then frees it. */
static void
install_envelope(struct spool_envelope *env)
{
	struct syncset	 ss;

	if (syncset_init(&ss, SYNCSET_FILES, -1) == -1 ||
	    spool_envelope_write_tmp(env, &ss) == -1 ||
	    syncset_flush(&ss) == -1 ||
	    spool_envelope_install(env->msgid) == -1)
		die("install_envelope");
	syncset_free(&ss);
	spool_envelope_free(env);
}

static void
put_envelope(const char *msgid, int with_message)
{
	struct spool_envelope	 env;
	char			 path[64];

	sample(&env, msgid);
	install_envelope(&env);
	if (with_message) {
		(void)snprintf(path, sizeof(path), "messages/%s", msgid);
		touch(path, "Subject: x\r\n\r\nbody\r\n");
	}
}

static void
test_spares(void)
{
	char		 id[SPOOL_MSGID_SIZE], other[SPOOL_MSGID_SIZE];
	char		 sin[64], senv[64], in[64], env[64];
	char		 err[SPOOL_ERR_SIZE];
	char		 longer[2048];	/* an old envelope, longer than e */
	struct spool_envelope	 e, back;
	struct syncset	 ss;
	struct stat	 st;
	ino_t		 ino;
	int		 fd, n;

	fd = spool_spare_make(id, sizeof(id), 1);
	ok(fd != -1 && spool_msgid_valid(id), "spare: made, with a msgid");
	(void)snprintf(sin, sizeof(sin), "incoming/spare-%s", id);
	(void)snprintf(senv, sizeof(senv), "envelopes/spare-%s.tmp", id);
	(void)snprintf(in, sizeof(in), "incoming/%s", id);
	(void)snprintf(env, sizeof(env), "envelopes/%s.tmp", id);
	ok(exists(sin) && exists(senv) && !exists(in) && !exists(env),
	    "spare: both files, under the spare names only");
	ok(spool_spare_take(id) == 0 && !exists(sin) && exists(in),
	    "spare: take renames the message file into place");
	ok(spool_spare_take_envelope(id, id) == 0 && !exists(senv) &&
	    exists(env), "spare: and the envelope's .tmp");
	ok(write(fd, "x", 1) == 1, "spare: its fd writes the message file");
	close(fd);
	(void)unlink(in);
	(void)unlink(env);

	fd = spool_spare_make(id, sizeof(id), 1);
	(void)snprintf(in, sizeof(in), "incoming/%s", id);
	touch(in, "someone else's");
	errno = 0;
	ok(fd != -1 && spool_spare_take(id) == -1 && errno == EEXIST,
	    "spare: take never replaces a file of the same name");
	spool_spare_drop(id);
	spool_spare_drop_envelope(id);
	(void)snprintf(sin, sizeof(sin), "incoming/spare-%s", id);
	(void)snprintf(senv, sizeof(senv), "envelopes/spare-%s.tmp", id);
	ok(!exists(sin) && !exists(senv), "spare: drop unlinks each");
	close(fd);
	(void)unlink(in);

	/* Recycling: the same inodes, emptied, under spare names. */
	(void)snprintf(in, sizeof(in), "messages/%s", id);
	touch(in, "Subject: old\r\n\r\nsecret\r\n");
	if (stat(in, &st) == -1)
		die("stat");
	ino = st.st_ino;
	fd = spool_recycle_message(id, other, sizeof(other));
	(void)snprintf(sin, sizeof(sin), "incoming/spare-%s", other);
	ok(fd != -1 && !exists(in) && stat(sin, &st) == 0 &&
	    st.st_ino == ino && st.st_size == 0,
	    "recycle: messages/ID becomes an empty spare, same inode");
	ok(spool_msgid_valid(other) && strcmp(other, id) != 0,
	    "recycle: under a fresh msgid");
	ok(write(fd, "new", 3) == 3, "recycle: its fd writes the spare");
	close(fd);
	spool_spare_drop(other);
	(void)snprintf(env, sizeof(env), "envelopes/%s", id);
	touch(env, "postern-envelope 3\n");
	if (stat(env, &st) == -1)
		die("stat");
	ino = st.st_ino;
	ok(spool_recycle_envelope(id, other, sizeof(other)) == 0 &&
	    !exists(env), "recycle: envelopes/ID leaves");
	(void)snprintf(senv, sizeof(senv), "envelopes/spare-%s.tmp", other);
	ok(stat(senv, &st) == 0 && st.st_ino == ino,
	    "recycle: as a spare .tmp, same inode");
	ok(spool_spare_take_envelope(other, id) == 0 &&
	    stat("envelopes", &st) == 0, "recycle: taken for a message");
	(void)snprintf(env, sizeof(env), "envelopes/%s.tmp", id);
	/* A longer old envelope in the .tmp: the write cuts it to length. */
	n = snprintf(longer, sizeof(longer), "postern-envelope 3\n"
	    "sender someone@old.example\n");
	memset(longer + n, '-', sizeof(longer) - n - 1);
	longer[sizeof(longer) - 1] = '\0';
	touch(env, longer);
	if (stat(env, &st) == -1)
		die("stat");
	ino = st.st_ino;
	sample(&e, id);
	ok(syncset_init(&ss, SYNCSET_FILES, -1) == 0 &&
	    spool_envelope_write_tmp(&e, &ss) == 0 && syncset_flush(&ss) == 0,
	    "recycle: an envelope written over the recycled .tmp");
	syncset_free(&ss);
	ok(stat(env, &st) == 0 && st.st_ino == ino &&
	    st.st_size < (off_t)strlen(longer),
	    "recycle: in the same file, cut shorter");
	ok(spool_envelope_install(id) == 0 &&
	    spool_envelope_read(id, &back, err, sizeof(err)) == 0 &&
	    strcmp(back.sender, e.sender) == 0,
	    "recycle: cut to length, it parses as the new envelope");
	spool_envelope_free(&back);
	spool_envelope_free(&e);
	(void)snprintf(env, sizeof(env), "envelopes/%s", id);
	(void)unlink(env);
	errno = 0;
	ok(spool_recycle_message(id, other, sizeof(other)) == -1 &&
	    errno == ENOENT, "recycle: a missing message is ENOENT");

	fd = spool_spare_make(id, sizeof(id), 0);
	(void)snprintf(sin, sizeof(sin), "incoming/spare-%s", id);
	(void)snprintf(senv, sizeof(senv), "envelopes/spare-%s.tmp", id);
	ok(fd != -1 && exists(sin) && !exists(senv),
	    "spare: made without its envelope's when asked");
	close(fd);
	spool_spare_drop(id);
}

static void
test_recover(void)
{
	struct spool_recovery	 rec;
	struct loaded		 l;

	memset(&l, 0, sizeof(l));
	put_envelope("aaaaaaaaaaaaaaaa", 1);	/* good */
	put_envelope("bbbbbbbbbbbbbbbb", 1);	/* good */
	put_envelope("cccccccccccccccc", 0);	/* envelope, no message */
	touch("envelopes/dddddddddddddddd", HDR RCPT);	/* no end */
	touch("messages/dddddddddddddddd", "x");
	touch("envelopes/not-a-msgid", "junk");
	touch("envelopes/eeeeeeeeeeeeeeee.tmp", "half");
	touch("incoming/ffffffffffffffff", "half a message");
	touch("incoming/1234123412341234", "another");
	touch("messages/9999999999999999", "orphan");
	if (symlink("/etc/passwd", "envelopes/abababababababab") == -1)
		die("symlink");
	touch("messages/abababababababab", "x");

	ok(spool_recover(on_load, on_bad, &l, &rec) == 0, "recover");
	is_int(rec.loaded, 2, "two envelopes loaded");
	is_int(l.n, 2, "the callback saw two");
	is_int(rec.incoming, 2, "two incoming files removed");
	is_int(rec.tmp, 1, "one tmp envelope removed");
	is_int(rec.orphans, 1, "one orphan message removed");
	is_int(rec.corrupt, 4, "four envelopes quarantined");
	is_int(l.bad, 4, "the callback saw four");
	ok(exists("messages/aaaaaaaaaaaaaaaa") &&
	    exists("envelopes/aaaaaaaaaaaaaaaa"), "a good message stays");
	ok(!exists("messages/9999999999999999"), "the orphan is gone");
	ok(!exists("incoming/ffffffffffffffff"), "incoming/ is emptied");
	ok(!exists("envelopes/eeeeeeeeeeeeeeee.tmp"), "tmp envelopes are "
	    "gone");
	ok(exists("corrupt/cccccccccccccccc.envelope"), "an envelope without "
	    "message is quarantined");
	ok(exists("corrupt/dddddddddddddddd.envelope") &&
	    exists("corrupt/dddddddddddddddd.message"), "a truncated envelope "
	    "is quarantined with its message");
	ok(!exists("envelopes/dddddddddddddddd") &&
	    !exists("messages/dddddddddddddddd"), "and leaves the queue");
	ok(exists("corrupt/not-a-msgid.envelope"), "a stray file is "
	    "quarantined");
	ok(exists("corrupt/abababababababab.envelope"), "a symbolic link is "
	    "quarantined, not followed");

	memset(&l, 0, sizeof(l));
	ok(spool_recover(on_load, on_bad, &l, &rec) == 0 && rec.loaded == 2 &&
	    rec.corrupt == 0 && rec.orphans == 0, "a second recovery finds "
	    "a clean spool");
}

static void
test_sum(void)
{
	char		 sum[SPOOL_SUM_SIZE];
	uint64_t	 size = 99;
	int		 fd;

	touch("abc", "abc");
	if ((fd = open("abc", O_RDONLY)) == -1)
		die("abc");
	ok(spool_sum_fd(fd, &size, sum, sizeof(sum)) == 0 &&
	    strcmp(sum, SUM_ABC) == 0 && size == 3, "sum of \"abc\" (FIPS "
	    "180-2's vector)");
	ok(spool_sum_fd(fd, &size, sum, sizeof(sum)) == 0 &&
	    strcmp(sum, SUM_ABC) == 0, "again: it reads from offset 0");
	ok(spool_sum_fd(fd, &size, sum, SPOOL_SUM_LEN) == -1 &&
	    errno == EINVAL, "a short buffer is refused");
	close(fd);
	touch("abc", "");
	if ((fd = open("abc", O_RDONLY)) == -1)
		die("abc");
	ok(spool_sum_fd(fd, &size, sum, sizeof(sum)) == 0 &&
	    strcmp(sum, SUM_NONE) == 0 && size == 0, "sum of nothing");
	close(fd);
	ok(spool_sum_fd(fd, &size, sum, sizeof(sum)) == -1 && errno == EBADF,
	    "a closed fd fails");
	unlink("abc");
	ok(spool_sum_valid(SUM_ABC) && !spool_sum_valid("") &&
	    !spool_sum_valid(SUM_ABC "0") && !spool_sum_valid("ba78"),
	    "sum_valid");
	ok(spool_sum_buf("abc", 3, sum, sizeof(sum)) == 0 &&
	    strcmp(sum, SUM_ABC) == 0, "sum_buf: the same vector");
	ok(spool_sum_buf("", 0, sum, sizeof(sum)) == 0 &&
	    strcmp(sum, SUM_NONE) == 0, "sum_buf: of nothing");
	ok(spool_sum_buf("abc", 3, sum, SPOOL_SUM_LEN) == -1,
	    "sum_buf: a short buffer is refused");
}

/* An envelope with the sum of what, over a message holding body. */
static void
put_summed(const char *msgid, const char *what, const char *body)
{
	struct spool_envelope	 env;
	char			 path[64];
	int			 fd;

	touch("summed", what);
	if ((fd = open("summed", O_RDONLY)) == -1)
		die("summed");
	sample(&env, msgid);
	if (spool_sum_fd(fd, &env.size, env.sum, sizeof(env.sum)) == -1)
		die("sum");
	close(fd);
	unlink("summed");
	install_envelope(&env);
	(void)snprintf(path, sizeof(path), "messages/%s", msgid);
	touch(path, body);
}

/* A commit cut short by a crash is found after an unclean stop only. */
static void
test_recover_sums(void)
{
	struct spool_recovery	 rec;
	struct loaded		 l;

	put_summed("1111111111111111", "whole", "whole");
	put_summed("2222222222222222", "whole", "whol");	/* short */
	put_summed("3333333333333333", "whole", "wh\x7fle");	/* torn */
	memset(&l, 0, sizeof(l));
	ok(spool_recover(on_load, on_bad, &l, &rec) == 0, "unclean: recover");
	ok(!rec.clean && rec.verified == 3, "unclean: every sum checked "
	    "(the two envelopes from before have none)");
	ok(exists("envelopes/1111111111111111"), "unclean: the whole one "
	    "stays");
	ok(exists("corrupt/2222222222222222.message") &&
	    exists("corrupt/3333333333333333.message"), "unclean: a short "
	    "and a torn one are quarantined");

	put_summed("4444444444444444", "whole", "torn!");
	ok(spool_mark_clean() == 0 && exists("clean"), "mark_clean");
	memset(&l, 0, sizeof(l));
	ok(spool_recover(on_load, on_bad, &l, &rec) == 0 && rec.clean &&
	    rec.verified == 0 && rec.corrupt == 0, "clean: no sum is read");
	ok(!exists("clean"), "clean: the file is taken");
	memset(&l, 0, sizeof(l));
	ok(spool_recover(on_load, on_bad, &l, &rec) == 0 && !rec.clean &&
	    rec.corrupt == 1, "the next start is unclean again and checks");
}

static int
rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int
main(void)
{
	test_msgid();
	test_str();
	test_parse_bad();
	test_roundtrip();
	if (mkdtemp(topdir) == NULL || chdir(topdir) == -1)
		die(topdir);
	test_commit_files();
	test_spares();
	test_recover();
	test_sum();
	test_recover_sums();
	if (chdir("/") == -1 || nftw(topdir, rm, 16, FTW_DEPTH | FTW_PHYS) ==
	    -1)
		die("cleanup");
	return done_testing();
}
