/* Experiment only: fsync and syncfs that return at once, for all fds
 * (NOSYNC=all) or only directories (NOSYNC=dirs). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
fsync(int fd)
{
	static int (*real)(int);
	const char *m = getenv("NOSYNC");
	struct stat st;

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (m != NULL && strcmp(m, "all") == 0)
		return 0;
	if (m != NULL && strcmp(m, "dirs") == 0 && fstat(fd, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		return 0;
	return real(fd);
}

int
syncfs(int fd)
{
	static int (*real)(int);
	const char *m = getenv("NOSYNC");

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");
	if (m != NULL && strcmp(m, "all") == 0)
		return 0;
	return real(fd);
}
