/*
 * statedir.c: the directories under state_dir and run_dir, created with
 * the owner and mode each role needs.  They belong to postern, so a wrong
 * owner or mode is corrected, not merely reported.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "posternd.h"

static void
statedir_make(const char *path, const char *user, mode_t mode)
{
	struct passwd	*pw;
	struct stat	 st;
	uid_t		 uid = 0;
	gid_t		 gid = 0;

	if (mkdir(path, mode) == -1 && errno != EEXIST)
		fatal("mkdir %s", path);
	if (lstat(path, &st) == -1)
		fatal("%s", path);
	if (!S_ISDIR(st.st_mode))
		fatalx("%s is not a directory", path);
	if (geteuid() != 0) {
		if (chmod(path, mode) == -1)
			fatal("chmod %s", path);
		return;
	}
	if (user != NULL) {
		if ((pw = getpwnam(user)) == NULL)
			fatalx("unknown system user %s (create it, or run "
			    "'make install')", user);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if ((st.st_uid != uid || st.st_gid != gid) &&
	    chown(path, uid, gid) == -1)
		fatal("chown %s", path);
	if ((st.st_mode & 07777) != mode && chmod(path, mode) == -1)
		fatal("chmod %s", path);
}

/* The network roles' chroot must stay empty: nothing to read there. */
static void
statedir_check_empty(const char *path)
{
	struct dirent	*de;
	DIR		*d;

	if ((d = opendir(path)) == NULL)
		fatal("%s", path);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			fatalx("%s must be empty, but holds %s", path,
			    de->d_name);
	}
	closedir(d);
}

static void
statedir_sub(const struct config *conf, const char *sub, const char *user,
    mode_t mode)
{
	char	 path[1100];

	if (snprintf(path, sizeof(path), "%s/%s", conf->state_dir, sub) >=
	    (int)sizeof(path))
		fatalx("state_dir path too long");
	statedir_make(path, user, mode);
	if (strcmp(sub, "empty") == 0)
		statedir_check_empty(path);
}

void
statedir_setup(const struct config *conf)
{
	statedir_make(conf->state_dir, NULL, 0755);
	statedir_sub(conf, "empty", NULL, 0555);
	statedir_sub(conf, "queue", conf->system_users.queue, 0700);
	statedir_sub(conf, "mail", conf->system_users.mail, 0700);
	statedir_sub(conf, "auth", conf->system_users.auth, 0700);
	statedir_make(conf->run_dir, NULL, 0755);
}
