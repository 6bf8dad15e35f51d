/*
 * sandbox.c: the seccomp-bpf allow-list of each child role, the Linux
 * counterpart of pledge(2).
 *
 * Every role gets the calls an event-driven process needs to live:
 * memory, time, signals, its channels (read, write, recvmsg, sendmsg),
 * epoll.  On top of that:
 *
 *	network roles (smtp, mta, imap)	accept, sockets for DNS/outbound,
 *					connect; open(2) read-only
 *	disk roles (queue, mda, imap, auth)	open for writing, rename, link,
 *					unlink, mkdir, getdents, syncfs
 *
 * Anything else (execve, ptrace, mount, chroot, setuid, bpf, a socket
 * in a role that has no network...) traps: the handler writes the call's
 * number to stderr and the process exits with PROC_EXIT_SANDBOX, which
 * the parent names in its log.  Installed after proc_confine, so the
 * chroot and the user change are already done.
 *
 * Sanitizer builds skip the filter: ASan and LSan need calls no role
 * does (LSan ptrace()s the process at exit).
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"
#include "proc.h"
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER	1
#endif
#endif

#define SB_NET	0x01	/* talks to the network */
#define SB_DISK	0x02	/* writes files below its chroot */

static const int sandbox_base[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(close),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx),
	SCMP_SYS(lseek), SCMP_SYS(fcntl), SCMP_SYS(dup), SCMP_SYS(dup2),
	SCMP_SYS(dup3), SCMP_SYS(pipe2), SCMP_SYS(eventfd2),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect),
	SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
	SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid), SCMP_SYS(getresuid), SCMP_SYS(getresgid),
	SCMP_SYS(getrandom), SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(epoll_create1),
	SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select),
	SCMP_SYS(pselect6), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
	SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(shutdown),
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(futex),
	SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sched_yield),
	SCMP_SYS(umask), SCMP_SYS(uname), SCMP_SYS(sysinfo),
	SCMP_SYS(prlimit64), SCMP_SYS(getrlimit), SCMP_SYS(fsync),
	SCMP_SYS(fdatasync), SCMP_SYS(getcwd),
	/* path lookups (a config reload resolves its paths) */
	SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(access),
	SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(readlink),
	SCMP_SYS(readlinkat),
};

static const int sandbox_net[] = {
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(getsockname),
	SCMP_SYS(getpeername), SCMP_SYS(connect), SCMP_SYS(bind),
};

static const int sandbox_disk[] = {
	SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(unlink),
	SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
	SCMP_SYS(renameat2), SCMP_SYS(mkdir), SCMP_SYS(mkdirat),
	SCMP_SYS(rmdir), SCMP_SYS(link), SCMP_SYS(linkat),
	SCMP_SYS(getdents64), SCMP_SYS(chmod), SCMP_SYS(fchmod),
	SCMP_SYS(fchmodat),
	SCMP_SYS(ftruncate), SCMP_SYS(fallocate), SCMP_SYS(fstatfs),
	SCMP_SYS(statfs), SCMP_SYS(utimensat), SCMP_SYS(fchdir),
	SCMP_SYS(chdir),
	SCMP_SYS(flock), SCMP_SYS(syncfs),
};

static int
sandbox_flags(enum proc_role role)
{
	switch (role) {
	case PROC_SMTP:
	case PROC_MTA:
		return SB_NET;
	case PROC_IMAP:
		return SB_NET | SB_DISK;
	case PROC_QUEUE:
	case PROC_MDA:
	case PROC_AUTH:
		return SB_DISK;
	default:
		fatalx("%s: no sandbox for %d", __func__, role);
	}
}

/* Async-signal-safe: only write(2) and _exit(2). */
static void
sandbox_trap(int sig, siginfo_t *si, void *ctx)
{
	char	 msg[96] = "posternd: forbidden system call ";
	char	 num[16];
	size_t	 len = strlen(msg), n = 0;
	int	 nr = si->si_syscall;

	if (nr < 0)
		nr = 0;
	do {
		num[n++] = '0' + nr % 10;
		nr /= 10;
	} while (nr > 0 && n < sizeof(num));
	while (n > 0 && len < sizeof(msg) - 2)
		msg[len++] = num[--n];
	msg[len++] = '\n';
	if (write(STDERR_FILENO, msg, len) == -1)
		_exit(PROC_EXIT_SANDBOX);	/* nothing else to do */
	_exit(PROC_EXIT_SANDBOX);
}

static void
sandbox_add(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (calls[i] >= 0 &&
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0) < 0)
			fatalx("seccomp_rule_add %d", calls[i]);
}

/* Network roles may only open files for reading (TLS, DNS config). */
static void
sandbox_add_readonly_open(scmp_filter_ctx ctx)
{
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT, O_RDONLY)) < 0)
		fatalx("seccomp_rule_add openat");
}

/* ioctl: only what libc's isatty and FIONREAD need. */
static void
sandbox_add_ioctl(scmp_filter_ctx ctx)
{
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, TCGETS)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, FIONREAD)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, FIONBIO)) < 0)
		fatalx("seccomp_rule_add ioctl");
}

/* The network roles' own sockets: IP only (DNS, outbound SMTP). */
static void
sandbox_add_socket(scmp_filter_ctx ctx)
{
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	    SCMP_A0(SCMP_CMP_EQ, AF_INET)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	    SCMP_A0(SCMP_CMP_EQ, AF_INET6)) < 0)
		fatalx("seccomp_rule_add socket");
}

int
sandbox_enabled(void)
{
#ifdef SANDBOX_SANITIZER
	return 0;
#else
	return 1;
#endif
}

void
sandbox_apply(enum proc_role role)
{
	struct sigaction	 sa;
	scmp_filter_ctx		 ctx;
	int			 flags = sandbox_flags(role);

	/* cppcheck-suppress knownConditionTrueFalse ; true in sanitizer builds */
	if (!sandbox_enabled()) {
		log_warnx("sanitizer build: %s runs without its seccomp filter",
		    proc_name(role));
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_trap;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sigaction SIGSYS");
	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		fatalx("seccomp_init");
	sandbox_add(ctx, sandbox_base, sizeof(sandbox_base) /
	    sizeof(sandbox_base[0]));
	sandbox_add_ioctl(ctx);
	if (flags & SB_NET) {
		sandbox_add(ctx, sandbox_net, sizeof(sandbox_net) /
		    sizeof(sandbox_net[0]));
		sandbox_add_socket(ctx);
	}
	if (flags & SB_DISK)
		sandbox_add(ctx, sandbox_disk, sizeof(sandbox_disk) /
		    sizeof(sandbox_disk[0]));
	else
		sandbox_add_readonly_open(ctx);
	/* A filter without no_new_privs needs CAP_SYS_ADMIN; we have both. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1) < 0)
		fatalx("seccomp_attr_set");
	if (seccomp_load(ctx) < 0)
		fatalx("seccomp_load");
	seccomp_release(ctx);
}
