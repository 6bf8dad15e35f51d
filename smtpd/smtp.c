/*
 * smtp.c: the smtp role.  Serves the smtp (MX) and submission listeners
 * the parent hands over, holds the TLS context, counts sessions in total
 * and per client address, and routes the answers of auth (recipients,
 * logins, senders) and queue to their sessions.
 *
 * Trusts: the parent (config, listeners); auth and queue answers are
 * checked field by field, and an answer for a session that is gone is
 * dropped (the session may have timed out meanwhile).
 */

#include <sys/types.h>
#include <sys/socket.h>
#include "compat.h"
#include <sys/tree.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "imsg.h"
#include "log.h"
#include "posternd.h"
#include "smtp.h"
#include "tlsconf.h"

struct smtp_ipcount {
	RB_ENTRY(smtp_ipcount)	 node;
	char			 ip[INET6_ADDRSTRLEN];
	int			 n;
};
RB_HEAD(smtp_ipcounts, smtp_ipcount);

static int	smtp_ipcount_cmp(struct smtp_ipcount *, struct smtp_ipcount *);
RB_GENERATE_STATIC(smtp_ipcounts, smtp_ipcount, node, smtp_ipcount_cmp);
RB_GENERATE(smtp_sessions, smtp_session, node, smtp_session_cmp);

static const struct config	*conf;
static struct tls		*tls_ctx;
static struct smtp_sessions	 sessions = RB_INITIALIZER(&sessions);
static struct smtp_ipcounts	 ipcounts = RB_INITIALIZER(&ipcounts);
static TAILQ_HEAD(, smtp_listener) listeners =
    TAILQ_HEAD_INITIALIZER(listeners);
static int			 nsessions;
static int			 started;

int
smtp_session_cmp(struct smtp_session *a, struct smtp_session *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

static int
smtp_ipcount_cmp(struct smtp_ipcount *a, struct smtp_ipcount *b)
{
	return strcmp(a->ip, b->ip);
}

const struct config *
smtp_conf(void)
{
	return conf;
}

struct tls *
smtp_tls_ctx(void)
{
	return tls_ctx;
}

struct smtp_sessions *
smtp_sessions_tree(void)
{
	return &sessions;
}

struct smtp_session *
smtp_session_find(uint64_t id)
{
	struct smtp_session	 key;

	memset(&key, 0, sizeof(key));
	key.id = id;
	return RB_FIND(smtp_sessions, &sessions, &key);
}

static struct smtp_ipcount *
smtp_ipcount_get(const char *ip)
{
	struct smtp_ipcount	 key;

	memset(&key, 0, sizeof(key));
	(void)strlcpy(key.ip, ip, sizeof(key.ip));
	return RB_FIND(smtp_ipcounts, &ipcounts, &key);
}

void
smtp_session_gone(struct smtp_session *s)
{
	struct smtp_ipcount	*c;

	RB_REMOVE(smtp_sessions, &sessions, s);
	nsessions--;
	if ((c = smtp_ipcount_get(s->ip)) != NULL && --c->n == 0) {
		RB_REMOVE(smtp_ipcounts, &ipcounts, c);
		free(c);
	}
}

void
smtp_send_auth(uint32_t type, const void *data, size_t len)
{
	imsgev_xcompose(child_peer(PROC_AUTH), type, 0, 0, -1, data, len);
}

void
smtp_send_queue(uint32_t type, int fd, const void *data, size_t len)
{
	imsgev_xcompose(child_peer(PROC_QUEUE), type, 0, 0, fd, data, len);
}

static int
smtp_sockaddr_ip(const struct sockaddr_storage *ss, char *buf, size_t sz)
{
	const void	*a;

	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	else
		return -1;
	return inet_ntop(ss->ss_family, a, buf, sz) == NULL ? -1 : 0;
}

/* Session limits, checked before a byte is read. */
static int
smtp_admit(const char *ip)
{
	struct smtp_ipcount	*c;

	if (nsessions >= conf->limits.sessions)
		return -1;
	if ((c = smtp_ipcount_get(ip)) == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return -1;
		(void)strlcpy(c->ip, ip, sizeof(c->ip));
		RB_INSERT(smtp_ipcounts, &ipcounts, c);
	}
	if (c->n >= conf->limits.sessions_per_ip)
		return -1;
	c->n++;
	nsessions++;
	return 0;
}

static void
smtp_accept(evutil_socket_t fd, short event, void *arg)
{
	struct smtp_listener	*l = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 ip[INET6_ADDRSTRLEN];
	int			 s;

	if ((s = accept4(fd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("listener %s: accept", l->name);
		return;
	}
	if (smtp_sockaddr_ip(&ss, ip, sizeof(ip)) == -1) {
		close(s);
		return;
	}
	if (smtp_admit(ip) == -1) {
		log_info("listener %s: refusing %s: too many sessions",
		    l->name, ip);
		smtp_session_refuse(s, l->tls == TLSMODE_IMPLICIT ? "" :
		    "421 4.7.0 Too many connections, try again later\r\n");
		return;
	}
	smtp_session_new(l, s, &ss);
}

static void
smtp_listener(int fd, const struct config_listener *cl)
{
	struct smtp_listener	*l;

	if (cl->service == SERVICE_IMAP)
		fatalx("smtp got imap listener %s", cl->name);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal(NULL);
	l->fd = fd;
	(void)strlcpy(l->name, cl->name, sizeof(l->name));
	l->service = cl->service;
	l->tls = cl->tls;
	if ((l->ev = event_new(child_base(), fd, EV_READ | EV_PERSIST,
	    smtp_accept, l)) == NULL)
		fatalx("event_new");
	TAILQ_INSERT_TAIL(&listeners, l, entry);
	if (started)
		event_add(l->ev, NULL);
}

static void
smtp_start(void)
{
	struct smtp_listener	*l;

	started = 1;
	TAILQ_FOREACH(l, &listeners, entry)
		event_add(l->ev, NULL);
}

static void
smtp_configure(const struct config *new, const struct config *old)
{
	conf = new;
}

static void
smtp_tls(const char *cert, size_t certlen, const char *key, size_t keylen)
{
	struct tls	*ctx;
	char		 err[256];

	if ((ctx = tlsconf_server(cert, certlen, key, keylen,
	    conf->tls.protocols, err, sizeof(err))) == NULL) {
		if (tls_ctx == NULL)
			fatalx("%s", err);
		log_warnx("new tls keypair refused, keeping the old: %s", err);
		return;
	}
	/* Sessions in a handshake keep the old context: do not free it. */
	tls_ctx = ctx;
}

/* A login or sender answer from auth, for a session that waits. */
static void
smtp_auth_answer(struct imsg *imsg)
{
	struct imsg_reader	 r;
	struct smtp_session	*s;
	const char		*name = imsg_type_name(imsg->hdr.type);
	uint64_t		 id;

	imsg_reader_init(&r, imsg, name);
	id = imsg_read_u64(&r);
	if ((s = smtp_session_find(id)) == NULL || !s->waiting)
		fatalx("auth answered %s for session %016llx that does not "
		    "wait", name, (unsigned long long)id);
	if (imsg->hdr.type == IMSG_AUTH_LOGIN_RESULT)
		smtp_session_login_result(s, &r);
	else
		smtp_session_sender_result(s, &r);
}

static void
smtp_peer(enum proc_role peer, struct imsgev *iev, struct imsg *imsg)
{
	struct imsg_reader	 r;
	struct smtp_session	*s;
	uint64_t		 id;
	int			 fd;

	switch (imsg->hdr.type) {
	case IMSG_AUTH_RCPT_RESULT:
		if (peer != PROC_AUTH)
			break;
		imsg_reader_init(&r, imsg, "IMSG_AUTH_RCPT_RESULT");
		id = imsg_read_u64(&r);
		if ((s = smtp_session_find(id)) == NULL || !s->waiting)
			fatalx("auth answered for session %016llx that does "
			    "not wait", (unsigned long long)id);
		smtp_session_rcpt_result(s, imsg, &r);
		return;
	case IMSG_AUTH_RCPT_FLUSH:
		if (peer != PROC_AUTH)
			break;
		smtp_rcache_flush();
		return;
	case IMSG_AUTH_LOGIN_RESULT:
	case IMSG_AUTH_SENDER_RESULT:
		if (peer != PROC_AUTH)
			break;
		smtp_auth_answer(imsg);
		return;
	case IMSG_QUEUE_CREATE_RESULT:
		if (peer != PROC_QUEUE)
			break;
		imsg_reader_init(&r, imsg, "IMSG_QUEUE_CREATE_RESULT");
		id = imsg_read_u64(&r);
		if ((s = smtp_session_find(id)) == NULL || !s->precreating) {
			if ((fd = imsg_get_fd(imsg)) != -1)
				close(fd);
			fatalx("queue answered for session %016llx that does "
			    "not wait", (unsigned long long)id);
		}
		smtp_session_create_result(s, imsg, &r);
		return;
	case IMSG_QUEUE_COMMIT_RESULT:
		if (peer != PROC_QUEUE)
			break;
		imsg_reader_init(&r, imsg, "IMSG_QUEUE_COMMIT_RESULT");
		id = imsg_read_u64(&r);
		if ((s = smtp_session_find(id)) == NULL || !s->waiting)
			fatalx("queue committed for session %016llx that does "
			    "not wait", (unsigned long long)id);
		smtp_session_commit_result(s, &r);
		return;
	}
	fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
	    proc_name(peer));
}

static void
smtp_shutdown(void)
{
	struct smtp_session	*s;

	RB_FOREACH(s, smtp_sessions, &sessions)
		smtp_session_shutdown(s);
}

static const struct child_ops smtp_ops = {
	.role = PROC_SMTP,
	.configure = smtp_configure,
	.listener = smtp_listener,
	.tls = smtp_tls,
	.start = smtp_start,
	.peer = smtp_peer,
	.shutdown = smtp_shutdown,
};

void
smtp_main(const char *conffile)
{
	child_main(&smtp_ops, conffile);
}
