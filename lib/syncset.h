/*
 * syncset.h: making a batch of files and directories durable together,
 * for the queue's sync pass and the mda's delivery batches.
 *
 * A step of a commit protocol (write files, rename them, ...) adds to a
 * syncset the fd of everything it touched; syncset_flush then makes all
 * of it durable at once and empties the set.  Two ways, chosen when the
 * set is made:
 *
 *	SYNCSET_FILES		fsync(2) every file added, each distinct
 *				file (device, inode) once.  N files cost N
 *				journal commits on ext4.
 *	SYNCSET_FILESYSTEM	syncfs(2) once per file system the added
 *				fds are on: every dirty page and metadata
 *				change of that file system is written, ours
 *				among them, with one journal commit.  Much
 *				cheaper for a batch; it also writes other
 *				programs' dirty data on the same file
 *				system, which is why it is a choice.
 *
 * In both ways a successful flush means that every file added has its
 * data and metadata, and every directory added its entries, on stable
 * storage.  Errors: syncfs(2) reports a write-back error of any file of
 * the file system that happened since the fd it is called on was opened
 * (Linux 5.8 and later), so the set calls it on the long-lived root fd
 * given at init when the device is the root's; a flush that fails fails
 * the whole batch, which is the safe reading.
 *
 * The set owns the fds added to it (syncset_add closes one it does not
 * need).  Not thread safe; no logging.
 */

#ifndef POSTERN_SYNCSET_H
#define POSTERN_SYNCSET_H

#include <sys/types.h>

#include <stddef.h>

enum syncset_mode {
	SYNCSET_FILESYSTEM,
	SYNCSET_FILES,
};

struct syncset_ent {
	int	 fd;
	dev_t	 dev;
	ino_t	 ino;
};

struct syncset {
	enum syncset_mode	 mode;
	int			 rootfd;	/* syncfs for its device */
	dev_t			 rootdev;
	struct syncset_ent	*ents;
	size_t			 n;
	size_t			 cap;
	size_t			 added;		/* since the last flush */
	int			 error;		/* errno of a failed add */
	size_t			 flushes;	/* fsync/syncfs calls, ever */
};

/*
 * rootfd is an open directory the caller keeps open for the set's life
 * (the spool or mail root); -1 with SYNCSET_FILES.  0 or -1 (errno).
 */
int	 syncset_init(struct syncset *, enum syncset_mode, int rootfd);
/*
 * Takes fd into the set.  A failure (fstat, memory) is remembered and
 * returned by the next flush, so a caller cannot lose it: 0 or -1.
 */
int	 syncset_add(struct syncset *, int fd);
/* Adds a new fd on the file or directory fd already names (dup). */
int	 syncset_add_dup(struct syncset *, int fd);
/*
 * Opens path (relative to dirfd) read-only and adds it; a path the set
 * already covers is only looked at (fstatat), not opened.
 */
int	 syncset_add_path(struct syncset *, int dirfd, const char *path);
/*
 * Syncs and empties the set: 0, or -1 with errno (the set is empty).
 * Nothing added since the last flush: 0 without a system call.
 */
int	 syncset_flush(struct syncset *);
/* Closes whatever is in the set without syncing it. */
void	 syncset_discard(struct syncset *);
/* Frees the set (after discarding). */
void	 syncset_free(struct syncset *);
/* fds added since the last flush (covered ones too). */
size_t	 syncset_count(const struct syncset *);

const char	*syncset_mode_name(enum syncset_mode);

#endif /* POSTERN_SYNCSET_H */
