/*
 * proc.h: postern's process roles, the channels between them, and what a
 * role does to itself before it touches any input: chroot, drop to its
 * user, no new privileges.
 *
 * The parent creates one socketpair per edge of the graph in DESIGN.md
 * and fork+execs posternd once per role.  In the child the channel to the
 * parent is always fd PROC_PARENT_FD; the channels to its peers follow in
 * the order of the edge table, so both sides derive the layout from the
 * same table (proc_peer_fd) and nothing about it travels on argv.
 */

#ifndef POSTERN_PROC_H
#define POSTERN_PROC_H

#include <sys/types.h>

#include "config.h"

enum proc_role {
	PROC_PARENT = 0,
	PROC_SMTP,
	PROC_MTA,
	PROC_QUEUE,
	PROC_MDA,
	PROC_IMAP,
	PROC_AUTH,
	PROC_COUNT
};

enum proc_user {
	PROC_USER_ROOT,
	PROC_USER_NETWORK,
	PROC_USER_QUEUE,
	PROC_USER_MAIL,
	PROC_USER_AUTH,
};

struct proc_info {
	const char	*name;
	enum proc_user	 user;
	const char	*chroot;	/* below state_dir; NULL for none */
};

#define PROC_PARENT_FD	3
#define PROC_MAX_PEERS	4
/* A child whose channel to a peer role closed exits with this status. */
#define PROC_EXIT_PEER_LOST	3
/* A child that made a system call its seccomp filter forbids. */
#define PROC_EXIT_SANDBOX	4

const struct proc_info	*proc_info(enum proc_role);
int		 proc_role_from_name(const char *);	/* -1 if unknown */
const char	*proc_name(enum proc_role);

/* The peers of a role, in fd order; returns how many. */
int		 proc_peers(enum proc_role, enum proc_role *, int max);
/* The fd number a child finds its channel to peer on, or -1. */
int		 proc_peer_fd(enum proc_role self, enum proc_role peer);
/* Whether the two roles share an edge. */
int		 proc_is_edge(enum proc_role, enum proc_role);

/* The configured user name and chroot directory of a role. */
const char	*proc_user_name(const struct config *, enum proc_role);
int		 proc_chroot_path(const struct config *, enum proc_role,
		    char *, size_t);

/*
 * Confines the calling process: chroot(root) when root is not NULL,
 * setgroups/setresgid/setresuid to user, a check that root cannot be
 * regained, resource limits, PR_SET_NO_NEW_PRIVS.  Fatal on any failure.
 * Not running as root, it skips the chroot and the user change with a
 * warning and still sets no-new-privs.
 */
void		 proc_confine(const char *user, const char *root);

/*
 * Moves the given fds to 3, 4, ... in order (dup2 via temporaries, so
 * the source and target numbers may overlap) and closes every other fd
 * from 3 up.  For use in a freshly forked child.
 */
void		 proc_place_fds(const int *fds, int nfds);

#endif /* POSTERN_PROC_H */
