/*
 * posternctl.c: the administration tool.  It sends one request over
 * posternd's control socket and prints the answer; the daemon decides
 * what the caller may do (from the socket's peer credentials), so this
 * program holds no privilege of its own.  `posternctl hash` needs no
 * daemon: it turns a password read from stdin into a crypt(3) hash.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <crypt.h>
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "control.h"
#include "imsg.h"
#include "log.h"
#include "proto.h"

#define DEFAULT_SOCKET	"/run/postern/control.sock"
#define PASSWORD_MAX	1024

__attribute__((__noreturn__))
static void
usage(void)
{
	fprintf(stderr,
	    "usage: posternctl [-s socket] [--json] command [argument ...]\n"
	    "commands:\n"
	    "  status                 processes, listeners, version\n"
	    "  reload                 re-read the configuration\n"
	    "  log level LEVEL        error, warning, notice, info, debug\n"
	    "  hash                   read a password on stdin, print a "
	    "crypt(3) hash\n");
	exit(2);
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		errx(1, "socket path too long: %s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		err(1, "connect %s", path);
	return fd;
}

/* Prints one answer frame; returns the exit status at IMSG_CTL_END. */
static int
ctl_print(struct imsg *imsg, int *done)
{
	uint32_t	 status;

	switch (imsg->hdr.type) {
	case IMSG_CTL_OUTPUT:
		fwrite(imsg->data, 1, imsg->datalen, stdout);
		return 0;
	case IMSG_CTL_ERROR:
		fprintf(stderr, "posternctl: %.*s\n", (int)imsg->datalen,
		    (const char *)imsg->data);
		return 0;
	case IMSG_CTL_END:
		if (imsg->datalen != sizeof(status))
			errx(1, "malformed answer from posternd");
		memcpy(&status, imsg->data, sizeof(status));
		*done = 1;
		return status > 125 ? 1 : (int)status;
	default:
		errx(1, "unexpected answer %u from posternd", imsg->hdr.type);
	}
}

static int
ctl_request(const char *path, uint32_t flags, int argc, char **argv)
{
	struct imsgbuf	 ibuf;
	struct imsg	 imsg;
	struct ibuf	 ib;
	ssize_t		 n;
	int		 fd, r, done = 0, status = 1;

	fd = ctl_connect(path);
	if (imsgbuf_init(&ibuf, fd) == -1)
		err(1, "imsgbuf_init");
	ibuf_init(&ib);
	if (ctl_request_encode(&ib, flags, argc, argv) == -1)
		errx(1, "request too long");
	if (imsg_compose(&ibuf, IMSG_CTL_REQUEST, 0, getpid(), -1, ib.data,
	    ib.len) == -1 || imsgbuf_flush(&ibuf) == -1)
		err(1, "send request");
	ibuf_free(&ib);
	while (!done) {
		if ((n = imsgbuf_read(&ibuf)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			err(1, "read");
		}
		if (n == 0)
			errx(1, "posternd closed the connection");
		while (!done && (r = imsg_get(&ibuf, &imsg)) != 0) {
			if (r == -1)
				errx(1, "malformed answer from posternd");
			status = ctl_print(&imsg, &done);
			imsg_free(&imsg);
		}
	}
	fflush(stdout);
	imsgbuf_clear(&ibuf);
	close(fd);
	return status;
}

/* Reads one line from stdin without echo when it is a terminal. */
static int
read_password(char *buf, size_t sz)
{
	struct termios	 old, noecho;
	int		 tty = isatty(STDIN_FILENO), ok;
	size_t		 len;

	if (tty) {
		fprintf(stderr, "Password: ");
		if (tcgetattr(STDIN_FILENO, &old) == -1)
			return -1;
		noecho = old;
		noecho.c_lflag &= ~ECHO;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
	}
	ok = fgets(buf, (int)sz, stdin) != NULL;
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (!ok)
		return -1;
	len = strcspn(buf, "\r\n");
	if (buf[len] == '\0' && len == sz - 1)
		return -1;		/* longer than the buffer */
	buf[len] = '\0';
	return len == 0 ? -1 : 0;
}

static int
cmd_hash(void)
{
	struct crypt_data	*cd;
	char			 pw[PASSWORD_MAX], salt[CRYPT_GENSALT_OUTPUT_SIZE];
	int			 status = 1;

	if (read_password(pw, sizeof(pw)) == -1) {
		explicit_bzero(pw, sizeof(pw));
		errx(1, "no password read (empty or longer than %d bytes)",
		    PASSWORD_MAX - 2);
	}
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		err(1, NULL);
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL)
		warn("crypt_gensalt");
	else if (crypt_rn(pw, salt, cd, sizeof(*cd)) == NULL ||
	    cd->output[0] == '*')
		warn("crypt");
	else {
		printf("%s\n", cd->output);
		status = 0;
	}
	explicit_bzero(pw, sizeof(pw));
	freezero(cd, sizeof(*cd));
	return status;
}

int
main(int argc, char *argv[])
{
	const char	*sock = DEFAULT_SOCKET;
	uint32_t	 flags = 0;
	int		 i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0)
			flags |= CTL_FLAG_JSON;
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			sock = argv[++i];
		else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else
			usage();
	}
	argc -= i;
	argv += i;
	/* --json may also follow the command words. */
	if (argc > 1 && strcmp(argv[argc - 1], "--json") == 0) {
		flags |= CTL_FLAG_JSON;
		argc--;
	}
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "hash") == 0) {
		if (argc != 1)
			usage();
		return cmd_hash();
	}
	if (argc > CTL_MAX_ARGS)
		errx(1, "too many arguments");
	return ctl_request(sock, flags, argc, argv);
}
