/*
 * posternctl.c: the administration tool.  It sends one request over
 * posternd's control socket and prints the answer; the daemon decides
 * what the caller may do (from the socket's peer credentials), so this
 * program holds no privilege of its own.  `posternctl hash` needs no
 * daemon: it turns a password read from stdin into a crypt(3) hash.
 *
 * `user add` and `user passwd` read the password here (from the terminal
 * without echo, twice, or one line of stdin with --password-stdin) and
 * send it as the request's last argument with CTL_FLAG_SECRET, which
 * keeps it out of the audit log.  `user totp enroll` is two requests:
 * the enrolment (a pending secret, shown here with its otpauth:// URI
 * and a QR code) and `user totp confirm` with the first code, read from
 * the terminal or given with --code.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <crypt.h>
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <qrencode.h>

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
	    "crypt(3) hash\n"
	    "  queue list|show|flush|remove|pause|resume|stats\n"
	    "  user list | show ADDR\n"
	    "  user add|passwd ADDR [--password-stdin]\n"
	    "  user del|unlock ADDR   user lock ADDR [DURATION]\n"
	    "  user totp enroll ADDR [--code CODE] | confirm ADDR CODE | "
	    "disable ADDR\n"
	    "  user apppass add ADDR LABEL [--services smtp,imap]\n"
	    "  user apppass list ADDR | revoke ADDR LABEL\n");
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

/* Output kept for the caller instead of printed (totp enroll). */
struct capture {
	char	*buf;
	size_t	 len;
};

static void
capture_add(struct capture *c, const void *data, size_t len)
{
	char	*p;

	if ((p = malloc(c->len + len + 1)) == NULL)
		err(1, NULL);
	if (c->buf != NULL) {
		memcpy(p, c->buf, c->len);
		freezero(c->buf, c->len + 1);
	}
	memcpy(p + c->len, data, len);
	c->len += len;
	p[c->len] = '\0';
	c->buf = p;
}

/* Prints one answer frame; returns the exit status at IMSG_CTL_END. */
static int
ctl_print(struct imsg *imsg, int *done, struct capture *cap)
{
	uint32_t	 status;

	switch (imsg->hdr.type) {
	case IMSG_CTL_OUTPUT:
		if (cap != NULL)
			capture_add(cap, imsg->data, imsg->datalen);
		else
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
ctl_request_capture(const char *path, uint32_t flags, int argc, char **argv,
    struct capture *cap)
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
	explicit_bzero(ib.data, ib.len);	/* may hold a password */
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
			status = ctl_print(&imsg, &done, cap);
			imsg_free(&imsg);
		}
	}
	fflush(stdout);
	imsgbuf_clear(&ibuf);
	close(fd);
	return status;
}

static int
ctl_request(const char *path, uint32_t flags, int argc, char **argv)
{
	return ctl_request_capture(path, flags, argc, argv, NULL);
}

/* Reads one line from stdin without echo when it is a terminal. */
static int
read_password_prompt(const char *prompt, char *buf, size_t sz)
{
	struct termios	 old, noecho;
	int		 tty = isatty(STDIN_FILENO), ok;
	size_t		 len;

	/* Echo goes off (dropping what was typed before) and only then
	 * comes the prompt, so nothing typed after it is lost or shown. */
	if (tty) {
		if (tcgetattr(STDIN_FILENO, &old) == -1)
			return -1;
		noecho = old;
		noecho.c_lflag &= ~ECHO;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
		fprintf(stderr, "%s", prompt);
	}
	ok = fgets(buf, (int)sz, stdin) != NULL;
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &old);
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
read_password(char *buf, size_t sz)
{
	return read_password_prompt("Password: ", buf, sz);
}

static int
cmd_hash(void)
{
	struct crypt_data	*cd;
	char			 pw[PASSWORD_MAX];
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
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

/*
 * user add|passwd ADDR [--password-stdin]: the password is read here,
 * twice on a terminal, and sent as a secret argument.
 */
static int
cmd_user_password(const char *sock, uint32_t flags, int argc, char **argv)
{
	char	 pw[PASSWORD_MAX], again[PASSWORD_MAX];
	char	*av[4];
	int	 fromstdin = 0, tty, status;

	if (argc == 4 && strcmp(argv[3], "--password-stdin") == 0) {
		fromstdin = 1;
		argc--;
	}
	if (argc != 3)
		usage();
	tty = isatty(STDIN_FILENO) && !fromstdin;
	if (!tty && !fromstdin)
		errx(1, "no terminal to read the password from: use "
		    "--password-stdin");
	if (read_password_prompt(tty ? "New password: " : "", pw,
	    sizeof(pw)) == -1)
		errx(1, "no password read (empty or longer than %d bytes)",
		    PASSWORD_MAX - 2);
	if (tty) {
		if (read_password_prompt("Again: ", again, sizeof(again)) ==
		    -1 || strcmp(pw, again) != 0) {
			explicit_bzero(pw, sizeof(pw));
			explicit_bzero(again, sizeof(again));
			errx(1, "the passwords differ");
		}
		explicit_bzero(again, sizeof(again));
	}
	av[0] = argv[0];
	av[1] = argv[1];
	av[2] = argv[2];
	av[3] = pw;
	status = ctl_request(sock, flags | CTL_FLAG_SECRET, 4, av);
	explicit_bzero(pw, sizeof(pw));
	return status;
}

/* The QR code of text, two modules a line with half blocks; light
 * modules are drawn, for a terminal with a dark background. */
static void
print_qr(const char *text)
{
	/* [top dark][bottom dark]: light half blocks are drawn. */
	static const char *const glyph[2][2] = {
		{ "\u2588", "\u2580" },
		{ "\u2584", " " },
	};
	QRcode		*qr;
	int		 x, y, w, top, bot;
	const int	 quiet = 2;

	if ((qr = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1)) ==
	    NULL) {
		warn("qrencode");
		return;
	}
	w = qr->width;
	for (y = -quiet; y < w + quiet; y += 2) {
		for (x = -quiet; x < w + quiet; x++) {
			top = y >= 0 && y < w && x >= 0 && x < w &&
			    (qr->data[y * w + x] & 1);
			bot = y + 1 >= 0 && y + 1 < w && x >= 0 && x < w &&
			    (qr->data[(y + 1) * w + x] & 1);
			fputs(glyph[top][bot], stdout);
		}
		putchar('\n');
	}
	QRcode_free(qr);
}

/* "key value" line of the enrolment answer; NULL if absent. */
static char *
enroll_field(char *out, const char *key)
{
	char	*p, *nl;
	size_t	 klen = strlen(key);

	for (p = out; p != NULL && *p != '\0'; p = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (strncmp(p, key, klen) == 0 && p[klen] == ' ') {
			if (nl != NULL)
				*nl = '\0';
			return p + klen + 1;
		}
	}
	return NULL;
}

static int
cmd_totp_enroll(const char *sock, uint32_t flags, int argc, char **argv)
{
	struct capture	 cap = { NULL, 0 };
	char		 code[32], *secret, *uri, *av[5];
	const char	*given = NULL;
	int		 status;

	if (argc == 6 && strcmp(argv[4], "--code") == 0) {
		given = argv[5];
		argc -= 2;
	}
	if (argc != 4)
		usage();
	if ((status = ctl_request_capture(sock, flags & ~CTL_FLAG_JSON, 4,
	    argv, &cap)) != 0)
		return status;
	if (cap.buf == NULL || (secret = enroll_field(cap.buf, "secret")) ==
	    NULL || (uri = enroll_field(secret + strlen(secret) + 1, "uri")) ==
	    NULL)
		errx(1, "malformed answer from posternd");
	printf("TOTP secret for %s (base32): %s\n%s\n", argv[3], secret, uri);
	print_qr(uri);
	printf("Add it to an authenticator app (scan the code, or type the "
	    "secret), then give its first code to turn TOTP on.\n");
	fflush(stdout);
	freezero(cap.buf, cap.len + 1);
	if (given != NULL)
		(void)strlcpy(code, given, sizeof(code));
	else if (read_password_prompt("Code from the authenticator: ", code,
	    sizeof(code)) == -1) {
		fprintf(stderr, "no code: the enrolment stays pending; confirm "
		    "it with: posternctl user totp confirm %s CODE\n", argv[3]);
		return 1;
	}
	av[0] = argv[0];
	av[1] = argv[1];
	av[2] = "confirm";
	av[3] = argv[3];
	av[4] = code;
	return ctl_request(sock, flags, 5, av);
}

static int
cmd_user(const char *sock, uint32_t flags, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "add") == 0 ||
	    strcmp(argv[1], "passwd") == 0))
		return cmd_user_password(sock, flags, argc, argv);
	if (argc >= 3 && strcmp(argv[1], "totp") == 0 &&
	    strcmp(argv[2], "enroll") == 0)
		return cmd_totp_enroll(sock, flags, argc, argv);
	/* apppass add ADDR LABEL --services S: the daemon wants S bare */
	if (argc == 7 && strcmp(argv[1], "apppass") == 0 &&
	    strcmp(argv[2], "add") == 0 && strcmp(argv[5], "--services") == 0) {
		argv[5] = argv[6];
		argc--;
	}
	return ctl_request(sock, flags, argc, argv);
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
	if (strcmp(argv[0], "user") == 0)
		return cmd_user(sock, flags, argc, argv);
	return ctl_request(sock, flags, argc, argv);
}
