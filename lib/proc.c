/*
 * proc.c: the role table, the channel layout, and confinement.
 *
 * Owns: the edge table of DESIGN.md.  Anything that needs to know who may
 * talk to whom asks here.  Trusts: the config (already checked).
 */

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

static const struct proc_info procs[PROC_COUNT] = {
	[PROC_PARENT] =	{ "parent",	PROC_USER_ROOT,		NULL },
	[PROC_SMTP] =	{ "smtp",	PROC_USER_NETWORK,	"empty" },
	[PROC_MTA] =	{ "mta",	PROC_USER_NETWORK,	"empty" },
	[PROC_QUEUE] =	{ "queue",	PROC_USER_QUEUE,	"queue" },
	[PROC_MDA] =	{ "mda",	PROC_USER_MAIL,		"mail" },
	[PROC_IMAP] =	{ "imap",	PROC_USER_MAIL,		"mail" },
	[PROC_AUTH] =	{ "auth",	PROC_USER_AUTH,		"auth" },
};

/* The child-to-child channels; each child also has one to the parent. */
static const struct {
	enum proc_role	 a, b;
} edges[] = {
	{ PROC_SMTP,	PROC_AUTH },
	{ PROC_SMTP,	PROC_QUEUE },
	{ PROC_QUEUE,	PROC_MDA },
	{ PROC_QUEUE,	PROC_MTA },
	{ PROC_QUEUE,	PROC_AUTH },	/* where a DSN goes */
	{ PROC_IMAP,	PROC_AUTH },
	{ PROC_MDA,	PROC_IMAP },
};
#define NEDGES	(sizeof(edges) / sizeof(edges[0]))

const struct proc_info *
proc_info(enum proc_role role)
{
	if (role < 0 || role >= PROC_COUNT)
		fatalx("%s: bad role %d", __func__, role);
	return &procs[role];
}

const char *
proc_name(enum proc_role role)
{
	return proc_info(role)->name;
}

int
proc_role_from_name(const char *name)
{
	int	 i;

	for (i = PROC_PARENT + 1; i < PROC_COUNT; i++)
		if (strcmp(procs[i].name, name) == 0)
			return i;
	return -1;
}

int
proc_peers(enum proc_role self, enum proc_role *peers, int max)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < NEDGES; i++) {
		if (edges[i].a != self && edges[i].b != self)
			continue;
		if (n == max)
			fatalx("%s: too many peers", __func__);
		peers[n++] = edges[i].a == self ? edges[i].b : edges[i].a;
	}
	return n;
}

int
proc_peer_fd(enum proc_role self, enum proc_role peer)
{
	enum proc_role	 peers[PROC_MAX_PEERS];
	int		 i, n;

	if (peer == PROC_PARENT)
		return PROC_PARENT_FD;
	n = proc_peers(self, peers, PROC_MAX_PEERS);
	for (i = 0; i < n; i++)
		if (peers[i] == peer)
			return PROC_PARENT_FD + 1 + i;
	return -1;
}

int
proc_is_edge(enum proc_role a, enum proc_role b)
{
	return proc_peer_fd(a, b) != -1;
}

const char *
proc_user_name(const struct config *conf, enum proc_role role)
{
	switch (proc_info(role)->user) {
	case PROC_USER_ROOT:
		return "root";
	case PROC_USER_NETWORK:
		return conf->system_users.network;
	case PROC_USER_QUEUE:
		return conf->system_users.queue;
	case PROC_USER_MAIL:
		return conf->system_users.mail;
	case PROC_USER_AUTH:
		return conf->system_users.auth;
	}
	fatalx("%s: bad user", __func__);
}

int
proc_chroot_path(const struct config *conf, enum proc_role role, char *buf,
    size_t sz)
{
	const char	*sub = proc_info(role)->chroot;
	int		 r;

	if (sub == NULL) {
		if (sz > 0)
			buf[0] = '\0';
		return 0;
	}
	r = snprintf(buf, sz, "%s/%s", conf->state_dir, sub);
	if (r < 0 || (size_t)r >= sz)
		return -1;
	return 0;
}

static void
proc_limits(void)
{
	struct rlimit	 rl;

	/* A core dump of a child could hold keys or passwords. */
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("setrlimit core");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl dumpable");
}

static void
proc_drop_user(const char *user, const char *root)
{
	struct passwd	*pw;
	uid_t		 ruid, euid, suid;
	gid_t		 gid;

	if ((pw = getpwnam(user)) == NULL)
		fatalx("unknown system user %s", user);
	if (pw->pw_uid == 0)
		fatalx("system user %s is root", user);
	if (root != NULL) {
		if (chroot(root) == -1)
			fatal("chroot %s", root);
		if (chdir("/") == -1)
			fatal("chdir /");
	}
	gid = pw->pw_gid;
	if (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("cannot drop privileges to %s", user);
	/* Prove the drop: none of the three uids may be 0 any more. */
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("could regain root after dropping to %s", user);
	if (getresuid(&ruid, &euid, &suid) == -1 || ruid != pw->pw_uid ||
	    euid != pw->pw_uid || suid != pw->pw_uid)
		fatalx("uid check failed after dropping to %s", user);
}

void
proc_confine(const char *user, const char *root)
{
	if (geteuid() == 0)
		proc_drop_user(user, root);
	else
		log_warnx("WARNING: not running as root: %s runs without "
		    "chroot and without changing user; never do this in "
		    "production", log_procname());
	proc_limits();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl no_new_privs");
}

void
proc_place_fds(const int *fds, int nfds)
{
	int	 tmp[PROC_MAX_PEERS + 2];
	int	 i;

	if (nfds > (int)(sizeof(tmp) / sizeof(tmp[0])))
		fatalx("%s: too many fds", __func__);
	/* First out of the way of the targets, then onto them. */
	for (i = 0; i < nfds; i++)
		if ((tmp[i] = fcntl(fds[i], F_DUPFD, 64)) == -1)
			fatal("%s: dup", __func__);
	for (i = 0; i < nfds; i++) {
		if (dup2(tmp[i], PROC_PARENT_FD + i) == -1)
			fatal("%s: dup2", __func__);
	}
	closefrom(PROC_PARENT_FD + nfds);
}
