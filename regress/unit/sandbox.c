/*
 * sandbox.c: each role's seccomp filter lets through what the role does
 * and stops what it must never do, with PROC_EXIT_SANDBOX.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "tap.h"

static char	 dir[] = "/tmp/postern-sandbox-XXXXXX";

enum probe {
	P_PIPE,		/* write and read a pipe: every role */
	P_SOCKET_IP,	/* an AF_INET socket */
	P_SOCKET_UNIX,	/* an AF_UNIX socket */
	P_OPEN_READ,	/* open a file read-only */
	P_OPEN_WRITE,	/* create a file */
	P_RENAME,	/* rename a file */
	P_EXEC,		/* execve */
	P_SETUID,	/* setuid */
};

static int
probe_run(enum probe p)
{
	char	 path[sizeof(dir) + 16], path2[sizeof(dir) + 16], c = 'x';
	char	*argv[] = { "/bin/true", NULL };
	int	 fds[2];

	(void)snprintf(path, sizeof(path), "%s/a", dir);
	(void)snprintf(path2, sizeof(path2), "%s/b", dir);
	switch (p) {
	case P_PIPE:
		if (pipe2(fds, 0) == -1 || write(fds[1], &c, 1) != 1 ||
		    read(fds[0], &c, 1) != 1)
			return 1;
		return 0;
	case P_SOCKET_IP:
		return socket(AF_INET, SOCK_DGRAM, 0) == -1;
	case P_SOCKET_UNIX:
		return socket(AF_UNIX, SOCK_STREAM, 0) == -1;
	case P_OPEN_READ:
		return open("/dev/null", O_RDONLY) == -1;
	case P_OPEN_WRITE:
		return open(path, O_WRONLY | O_CREAT, 0600) == -1;
	case P_RENAME:
		return rename(path, path2) == -1;
	case P_EXEC:
		execv(argv[0], argv);
		return 1;
	case P_SETUID:
		return setuid(0) == -1;
	}
	return 1;
}

/* The exit status of a child that applies role's filter, then probes. */
static int
probe(enum proc_role role, enum probe p)
{
	pid_t	 pid;
	int	 status;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		(void)close(STDERR_FILENO);	/* the trap's message */
		sandbox_apply(role);
		_exit(probe_run(p));
	}
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void
expect(enum proc_role role, enum probe p, const char *what, int allowed)
{
	int	 st = probe(role, p);

	if (allowed)
		ok(st == 0, "%s: %s is allowed (status %d)", proc_name(role),
		    what, st);
	else
		ok(st == PROC_EXIT_SANDBOX, "%s: %s is stopped (status %d)",
		    proc_name(role), what, st);
}

int
main(void)
{
	static const enum proc_role roles[] = {
		PROC_SMTP, PROC_MTA, PROC_QUEUE, PROC_MDA, PROC_IMAP, PROC_AUTH
	};
	size_t	 i;
	int	 net, disk, fd;
	char	 path[sizeof(dir) + 16];

	log_init(1, LOG_INFO, LOG_MAIL);
	if (!sandbox_enabled()) {
		printf("1..0 # SKIP sanitizer build: no seccomp filters\n");
		return 0;
	}
	if (mkdtemp(dir) == NULL)
		return 1;
	(void)snprintf(path, sizeof(path), "%s/a", dir);
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		net = roles[i] == PROC_SMTP || roles[i] == PROC_MTA ||
		    roles[i] == PROC_IMAP;
		disk = roles[i] != PROC_SMTP && roles[i] != PROC_MTA;
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) !=
		    -1)
			close(fd);
		expect(roles[i], P_PIPE, "a pipe", 1);
		expect(roles[i], P_OPEN_READ, "open read-only", 1);
		expect(roles[i], P_SOCKET_IP, "an IP socket", net);
		expect(roles[i], P_SOCKET_UNIX, "a UNIX socket", 0);
		expect(roles[i], P_OPEN_WRITE, "creating a file", disk);
		expect(roles[i], P_RENAME, "rename", disk);
		expect(roles[i], P_EXEC, "execve", 0);
		expect(roles[i], P_SETUID, "setuid", 0);
	}
	(void)unlink(path);
	(void)snprintf(path, sizeof(path), "%s/b", dir);
	(void)unlink(path);
	(void)rmdir(dir);
	return done_testing();
}
