/*
 * listen.c: the listening sockets.  The parent opens exactly the
 * listeners of the config and hands them to the smtp and imap roles; it
 * never reads from them.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "posternd.h"

#define LISTEN_BACKLOG	511

static int
listen_sockaddr(const struct config_listener *l, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, l->address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(l->port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, l->address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(l->port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

int
listen_open(const struct config_listener *l)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, on = 1;

	if (listen_sockaddr(l, &ss, &len) == -1)
		fatalx("listener %s: bad address %s", l->name, l->address);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		fatal("listener %s: socket", l->name);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		fatal("listener %s: SO_REUSEADDR", l->name);
	/* [::] means IPv6 only; 0.0.0.0 is a listener of its own. */
	if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		fatal("listener %s: IPV6_V6ONLY", l->name);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1)
		fatal("listener %s: bind %s port %u", l->name, l->address,
		    l->port);
	if (listen(fd, LISTEN_BACKLOG) == -1)
		fatal("listener %s: listen", l->name);
	return fd;
}

int
listen_open_all(const struct config *conf, int *fds, size_t max)
{
	struct config_listener	*l;
	size_t			 n = 0;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (n == max)
			fatalx("too many listeners");
		fds[n++] = listen_open(l);
		log_debug("listener %s: %s port %u (%s, tls %s)", l->name,
		    l->address, l->port, config_service_name(l->service),
		    config_tls_name(l->tls));
	}
	return (int)n;
}
