/*
 * syncset.c: making a batch of files durable together (see syncset.h).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "syncset.h"

#define SYNCSET_GROW	16

static void
syncset_close(int fd)
{
	int	 saved = errno;

	(void)close(fd);
	errno = saved;
}

int
syncset_init(struct syncset *s, enum syncset_mode mode, int rootfd)
{
	struct stat	 st;

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->rootfd = -1;
	if (mode == SYNCSET_FILES)
		return 0;
	if (rootfd == -1 || fstat(rootfd, &st) == -1) {
		if (rootfd == -1)
			errno = EBADF;
		return -1;
	}
	s->rootfd = rootfd;
	s->rootdev = st.st_dev;
	return 0;
}

/* The entry already standing for st, or NULL. */
static struct syncset_ent *
syncset_find(struct syncset *s, const struct stat *st)
{
	size_t	 i;

	for (i = 0; i < s->n; i++) {
		if (s->ents[i].dev != st->st_dev)
			continue;
		if (s->mode == SYNCSET_FILESYSTEM ||
		    s->ents[i].ino == st->st_ino)
			return &s->ents[i];
	}
	return NULL;
}

/*
 * Whether fd adds nothing: syncfs of the root covers the root's device;
 * another fd on a device or a directory already in the set adds
 * nothing either.  Regular files are not looked up in FILES mode: each
 * is its own (a pass adds each message once), which keeps adding linear.
 */
static int
syncset_covered(struct syncset *s, const struct stat *st)
{
	if (s->mode == SYNCSET_FILESYSTEM)
		return st->st_dev == s->rootdev || syncset_find(s, st) != NULL;
	return S_ISDIR(st->st_mode) && syncset_find(s, st) != NULL;
}

int
syncset_add(struct syncset *s, int fd)
{
	struct syncset_ent	*e;
	struct stat		 st;
	size_t			 cap;

	if (fd == -1) {
		s->error = EBADF;
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	s->added++;
	if (syncset_covered(s, &st)) {
		syncset_close(fd);
		return 0;
	}
	if (s->n == s->cap) {
		cap = s->cap + SYNCSET_GROW;
		if ((e = reallocarray(s->ents, cap, sizeof(*e))) == NULL)
			goto fail;
		s->ents = e;
		s->cap = cap;
	}
	e = &s->ents[s->n++];
	e->fd = fd;
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	return 0;
 fail:
	if (s->error == 0)
		s->error = errno;
	syncset_close(fd);
	return -1;
}

/* Looks at fd itself first: one the set already covers is not dup'd. */
int
syncset_add_dup(struct syncset *s, int fd)
{
	struct stat	 st;
	int		 nfd;

	if (fstat(fd, &st) == 0 && syncset_covered(s, &st)) {
		s->added++;
		return 0;
	}
	if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		if (s->error == 0)
			s->error = errno;
		return -1;
	}
	return syncset_add(s, nfd);
}

int
syncset_add_path(struct syncset *s, int dirfd, const char *path)
{
	struct stat	 st;
	int		 fd;

	/* What the set covers need not be opened: one system call. */
	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISLNK(st.st_mode) && syncset_covered(s, &st)) {
		s->added++;
		return 0;
	}
	if ((fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		if (s->error == 0)
			s->error = errno;
		return -1;
	}
	return syncset_add(s, fd);
}

static int
syncset_sync(struct syncset *s, int fd)
{
	s->flushes++;
	if (s->mode == SYNCSET_FILESYSTEM)
		return syncfs(fd);
	return fsync(fd);
}

int
syncset_flush(struct syncset *s)
{
	size_t	 i;
	int	 error = s->error;

	if (error == 0 && s->added > 0 && s->mode == SYNCSET_FILESYSTEM &&
	    syncset_sync(s, s->rootfd) == -1)
		error = errno;
	for (i = 0; i < s->n; i++) {
		if (error == 0 && syncset_sync(s, s->ents[i].fd) == -1)
			error = errno;
		(void)close(s->ents[i].fd);
	}
	s->n = 0;
	s->added = 0;
	s->error = 0;
	if (error != 0) {
		errno = error;
		return -1;
	}
	return 0;
}

void
syncset_discard(struct syncset *s)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		syncset_close(s->ents[i].fd);
	s->n = 0;
	s->added = 0;
	s->error = 0;
}

void
syncset_free(struct syncset *s)
{
	syncset_discard(s);
	free(s->ents);
	s->ents = NULL;
	s->cap = 0;
}

size_t
syncset_count(const struct syncset *s)
{
	return s->added;
}

const char *
syncset_mode_name(enum syncset_mode mode)
{
	return mode == SYNCSET_FILESYSTEM ? "filesystem" : "files";
}
