/*
 * Unit tests for lib/syncset.c: how many fsync/syncfs calls a batch
 * costs in each mode, that directories and file systems are synced once,
 * that every fd given is closed by a flush or a discard, and that a
 * failure (a bad fd, a failing fsync) is reported by the flush and not
 * lost.  That the data reach the disk is not something a test can see;
 * crash.t kills the daemon around these barriers.
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "syncset.h"
#include "tap.h"

static char	 topdir[] = "/tmp/postern-syncset.XXXXXX";

static void
die(const char *what)
{
	perror(what);
	exit(2);
}

static int
newfile(const char *name)
{
	int	 fd;

	if ((fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		die(name);
	if (write(fd, "x\n", 2) != 2)
		die("write");
	return fd;
}

static int
is_closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* A UNIX socket bound at name: open(2) fails on it with ENXIO. */
static void
mksock(const char *name)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	(void)strlcpy(sun.sun_path, name, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("bind");
	close(fd);
}

static void
test_files(void)
{
	struct syncset	 ss;
	int		 a, b, c;

	ok(syncset_init(&ss, SYNCSET_FILES, -1) == 0, "files: init");
	ok(syncset_flush(&ss) == 0 && ss.flushes == 0,
	    "files: an empty flush costs nothing");
	a = newfile("a");
	b = newfile("b");
	ok(syncset_add(&ss, a) == 0 && syncset_add(&ss, b) == 0,
	    "files: two files");
	ok(syncset_add_path(&ss, AT_FDCWD, ".") == 0 &&
	    syncset_add_path(&ss, AT_FDCWD, ".") == 0,
	    "files: the directory twice");
	is_int((long long)syncset_count(&ss), 4, "files: four added");
	ok(syncset_flush(&ss) == 0, "files: flush");
	is_int((long long)ss.flushes, 3, "files: three fsyncs (the "
	    "directory once)");
	ok(is_closed(a) && is_closed(b), "files: the flush closed the fds");

	c = newfile("c");
	ok(syncset_add_dup(&ss, c) == 0, "files: a dup");
	syncset_discard(&ss);
	ok(!is_closed(c), "files: discard closes the dup, not the original");
	close(c);
	syncset_free(&ss);
}

static void
test_filesystem(void)
{
	struct syncset	 ss;
	int		 root, a, b, proc;

	if ((root = open(".", O_RDONLY | O_DIRECTORY)) == -1)
		die(".");
	ok(syncset_init(&ss, SYNCSET_FILESYSTEM, -1) == -1 && errno == EBADF,
	    "filesystem: needs a root fd");
	ok(syncset_init(&ss, SYNCSET_FILESYSTEM, root) == 0,
	    "filesystem: init");
	ok(syncset_flush(&ss) == 0 && ss.flushes == 0,
	    "filesystem: an empty flush costs nothing");
	a = newfile("d");
	b = newfile("e");
	ok(syncset_add(&ss, a) == 0 && syncset_add(&ss, b) == 0 &&
	    syncset_add_path(&ss, AT_FDCWD, ".") == 0,
	    "filesystem: two files and a directory");
	ok(is_closed(a) && is_closed(b),
	    "filesystem: fds on the root's device are closed at once");
	ok(syncset_flush(&ss) == 0 && ss.flushes == 1,
	    "filesystem: one syncfs for all three");
	ok(syncset_flush(&ss) == 0 && ss.flushes == 1,
	    "filesystem: nothing added, no syncfs");
	mksock("sock");
	ok(syncset_add_path(&ss, AT_FDCWD, "sock") == 0 &&
	    syncset_flush(&ss) == 0 && ss.flushes == 2,
	    "filesystem: a covered path is looked at, not opened (a socket, "
	    "which open(2) refuses, is fine)");

	if ((proc = open("/proc/self", O_RDONLY | O_DIRECTORY)) == -1)
		die("/proc/self");
	a = newfile("f");
	ok(syncset_add(&ss, a) == 0 && syncset_add(&ss, proc) == 0 &&
	    syncset_add_path(&ss, AT_FDCWD, "/proc") == 0,
	    "filesystem: another file system, twice");
	is_int((long long)syncset_count(&ss), 3, "filesystem: three added");
	ok(syncset_flush(&ss) == 0, "filesystem: flush");
	is_int((long long)ss.flushes, 4,
	    "filesystem: one more syncfs each for the root and /proc");
	ok(!is_closed(root), "filesystem: the root fd stays open");
	syncset_free(&ss);
	close(root);
}

static void
test_errors(void)
{
	struct syncset	 ss;
	int		 a, b, p[2];

	ok(syncset_init(&ss, SYNCSET_FILES, -1) == 0, "errors: init");
	a = newfile("g");
	ok(syncset_add(&ss, a) == 0, "errors: a file");
	ok(syncset_add(&ss, -1) == -1, "errors: fd -1 refused");
	ok(syncset_flush(&ss) == -1 && errno == EBADF,
	    "errors: the next flush fails with EBADF");
	ok(is_closed(a) && syncset_count(&ss) == 0,
	    "errors: and still closes and empties");
	ok(syncset_flush(&ss) == 0, "errors: the error is reported once");

	ok(syncset_add_path(&ss, AT_FDCWD, "missing") == -1,
	    "errors: a missing path refused");
	ok(syncset_flush(&ss) == -1 && errno == ENOENT,
	    "errors: flush fails with ENOENT");

	if (pipe(p) == -1)
		die("pipe");
	b = newfile("h");
	ok(syncset_add(&ss, p[0]) == 0 && syncset_add(&ss, b) == 0,
	    "errors: a pipe and a file");
	ok(syncset_flush(&ss) == -1 && errno == EINVAL,
	    "errors: fsync of a pipe fails the flush");
	ok(is_closed(p[0]) && is_closed(b), "errors: both closed");
	close(p[1]);
	syncset_free(&ss);
}

int
main(void)
{
	if (mkdtemp(topdir) == NULL)
		die("mkdtemp");
	if (chdir(topdir) == -1)
		die("chdir");
	test_files();
	test_filesystem();
	test_errors();
	(void)unlink("a");
	(void)unlink("b");
	(void)unlink("c");
	(void)unlink("d");
	(void)unlink("e");
	(void)unlink("f");
	(void)unlink("g");
	(void)unlink("h");
	(void)unlink("sock");
	if (chdir("/") == -1 || rmdir(topdir) == -1)
		die("cleanup");
	return done_testing();
}
