/*
 * child.c: what every child role does the same way.
 *
 * A child is exec'd by the parent with its channels on fixed fds (see
 * proc.h).  It reads its config from the parent (a memfd holding the very
 * bytes the parent parsed), confines itself (chroot, user, no new privs),
 * says hello, and then runs its role's event loop.  Logging goes to the
 * parent.  Everything from the parent or a peer is checked; a malformed
 * frame is fatal, since a peer process that sends one is broken.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "posternd.h"
#include "proto.h"
#include "sandbox.h"
#include "tlsconf.h"

static const struct child_ops	*ops;
static struct event_base	*base;
static struct config		*conf;
static const char		*conffile;
static struct imsgev		 parent_iev;
static struct imsgev		 peer_iev[PROC_COUNT];
static int			 peer_up[PROC_COUNT];
static struct event		*ev_signals[3];
static const int		 child_sigs[3] = { SIGTERM, SIGINT, SIGHUP };
static int			 parent_up;

/* Until the event loop runs, log records go out synchronously. */
static struct imsgbuf		 early_ibuf;

static void
child_log_send(uint32_t type, const void *data, size_t len, int urgent)
{
	struct imsgbuf	*ibuf;

	if (parent_up) {
		if (imsgev_compose(&parent_iev, type, 0, 0, -1, data, len) ==
		    -1)
			_exit(1);
		ibuf = &parent_iev.ibuf;
	} else {
		if (imsg_compose(&early_ibuf, type, 0, 0, -1, data, len) == -1)
			_exit(1);
		ibuf = &early_ibuf;
		urgent = 1;
	}
	if (urgent)
		(void)imsgbuf_flush(ibuf);
}

static void
child_log_sink(int pri, const char *line)
{
	struct ibuf	 ib;

	ibuf_init(&ib);
	ibuf_add_u32(&ib, (uint32_t)pri);
	ibuf_add_str(&ib, line);
	if (ib.error == 0)
		child_log_send(IMSG_LOG, ib.data, ib.len, pri <= LOG_CRIT);
	ibuf_free(&ib);
}

static void
child_event_sink(const char *buf, size_t len)
{
	child_log_send(IMSG_EVENT, buf, len, 0);
}

/* Reads the config bytes out of the memfd the parent sent. */
static struct config *
child_load_config(int fd)
{
	struct config	*c;
	struct stat	 st;
	char		*buf, err[CONFIG_ERR_SIZE];
	ssize_t		 n;

	if (fstat(fd, &st) == -1)
		fatal("config fd");
	if (st.st_size <= 0 || st.st_size > CONFIG_MAX_SIZE)
		fatalx("config from parent: bad size");
	if ((buf = malloc(st.st_size)) == NULL)
		fatal(NULL);
	n = pread(fd, buf, st.st_size, 0);
	if (n != st.st_size)
		fatalx("config from parent: short read");
	c = config_parse(conffile, buf, st.st_size, 0, err, sizeof(err));
	free(buf);
	close(fd);
	if (c == NULL)
		fatalx("config from parent: %s", err);
	return c;
}

/* Blocks until the parent's first frame, which must be the config. */
static struct config *
child_wait_config(void)
{
	struct imsg	 imsg;
	struct config	*c;
	ssize_t		 n;
	int		 r;

	for (;;) {
		if ((r = imsg_get(&early_ibuf, &imsg)) == -1)
			fatalx("parent channel: malformed frame");
		if (r == 1)
			break;
		if ((n = imsgbuf_read(&early_ibuf)) == -1 && errno != EINTR)
			fatal("parent channel");
		if (n == 0)
			exit(0);	/* the parent is gone */
	}
	if (imsg.hdr.type != IMSG_CONFIG)
		fatalx("parent sent %u before the config", imsg.hdr.type);
	c = child_load_config(imsg_get_fd(&imsg));
	imsg_free(&imsg);
	return c;
}

static void
child_reconfigure(struct imsg *imsg)
{
	struct config	*old = conf;
	int		 fd;

	if ((fd = imsg_get_fd(imsg)) == -1)
		fatalx("IMSG_CONFIG without fd");
	conf = child_load_config(fd);
	log_set_level(conf->log.level);
	if (ops->configure != NULL)
		ops->configure(conf, old);
	config_free(old);
	imsgev_xcompose(&parent_iev, IMSG_CONFIG_DONE, 0, 0, -1, NULL, 0);
}

static void
child_listener(struct imsg *imsg)
{
	struct config_listener	*l;
	uint32_t		 idx, i = 0;
	int			 fd;

	imsg_get_exact(imsg, &idx, sizeof(idx), "IMSG_LISTENER");
	if ((fd = imsg_get_fd(imsg)) == -1)
		fatalx("IMSG_LISTENER without fd");
	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (i++ == idx)
			break;
	if (l == NULL || ops->listener == NULL)
		fatalx("IMSG_LISTENER for unknown listener %u", idx);
	ops->listener(fd, l);
}

/* The certificate comes first, then the key; the key is wiped after. */
static void
child_tls_file(struct imsg *imsg)
{
	static char	*cert;
	static size_t	 certlen;
	char		*key;
	size_t		 keylen;
	int		 fd;

	if ((fd = imsg_get_fd(imsg)) == -1)
		fatalx("%s without fd", imsg_type_name(imsg->hdr.type));
	if (imsg->hdr.type == IMSG_TLS_CERT) {
		free(cert);
		if ((cert = tlsconf_read_fd(fd, &certlen)) == NULL)
			fatalx("cannot read the tls certificate");
		return;
	}
	if (cert == NULL)
		fatalx("tls key before certificate");
	if ((key = tlsconf_read_fd(fd, &keylen)) == NULL)
		fatalx("cannot read the tls key");
	if (ops->tls != NULL)
		ops->tls(cert, certlen, key, keylen);
	freezero(key, keylen + 1);
	free(cert);
	cert = NULL;
}

static void
child_shutdown(void)
{
	if (ops->shutdown != NULL)
		ops->shutdown();
	exit(0);
}

static void
child_dispatch_parent(struct imsgev *iev, struct imsg *imsg)
{
	uint32_t	 level;

	switch (imsg->hdr.type) {
	case IMSG_CONFIG:
		child_reconfigure(imsg);
		break;
	case IMSG_LISTENER:
		child_listener(imsg);
		break;
	case IMSG_TLS_CERT:
	case IMSG_TLS_KEY:
		child_tls_file(imsg);
		break;
	case IMSG_START:
		if (ops->start != NULL)
			ops->start();
		break;
	case IMSG_LOG_LEVEL:
		imsg_get_exact(imsg, &level, sizeof(level), "IMSG_LOG_LEVEL");
		if (level > LOG_DEBUG)
			fatalx("IMSG_LOG_LEVEL: bad level %u", level);
		log_set_level((int)level);
		break;
	case IMSG_SHUTDOWN:
		child_shutdown();
		break;
	case IMSG_QUEUE_CTL:
		/* posternctl's queue commands, relayed by the parent */
		if (ops->role != PROC_QUEUE || ops->peer == NULL)
			fatalx("parent sent IMSG_QUEUE_CTL to %s",
			    proc_name(ops->role));
		ops->peer(PROC_PARENT, iev, imsg);
		break;
	case IMSG_AUTH_CTL:
		/* posternctl's user commands, relayed by the parent */
		if (ops->role != PROC_AUTH || ops->peer == NULL)
			fatalx("parent sent IMSG_AUTH_CTL to %s",
			    proc_name(ops->role));
		ops->peer(PROC_PARENT, iev, imsg);
		break;
	default:
		fatalx("parent sent unexpected %s", imsg_type_name(
		    imsg->hdr.type));
	}
}

static void
child_parent_closed(struct imsgev *iev, int error)
{
	/* The parent is gone or broken: there is nobody to log to. */
	log_set_sink(NULL, NULL);
	exit(error == 0 ? 0 : 1);
}

static void
child_dispatch_peer(struct imsgev *iev, struct imsg *imsg)
{
	enum proc_role	 peer = (enum proc_role)(iev - peer_iev);

	if (ops->peer == NULL)
		fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
		    proc_name(peer));
	ops->peer(peer, iev, imsg);
}

static void
/* cppcheck-suppress constParameter ; an imsgev_closed_fn takes no const */
child_peer_closed(struct imsgev *iev, int error)
{
	enum proc_role	 peer = (enum proc_role)(iev - peer_iev);

	if (error == EBADMSG)
		fatalx("malformed frame from %s", proc_name(peer));
	/* A consequence, not a cause: the parent names the peer's death. */
	log_warnx("lost the channel to %s", proc_name(peer));
	if (ops->peer_lost != NULL)
		ops->peer_lost(peer);
	exit(PROC_EXIT_PEER_LOST);
}

static void
child_signal(int sig, short event, void *arg)
{
	switch (sig) {
	case SIGTERM:
		child_shutdown();
		break;
	default:
		/* SIGINT/SIGHUP belong to the parent (e.g. Ctrl-C). */
		break;
	}
}

static void
child_setup_events(void)
{
	enum proc_role	 peers[PROC_MAX_PEERS];
	int		 i, n;

	/* The parent sends nothing but the config before our hello: any
	 * bytes already read past it would be lost with this buffer. */
	if (early_ibuf.rlen > early_ibuf.roff || early_ibuf.nrfds > 0)
		fatalx("parent sent more than the config before hello");
	imsgbuf_clear(&early_ibuf);
	imsgev_init(&parent_iev, base, PROC_PARENT_FD, "parent",
	    child_dispatch_parent, child_parent_closed, NULL);
	parent_up = 1;
	n = proc_peers(ops->role, peers, PROC_MAX_PEERS);
	for (i = 0; i < n; i++) {
		imsgev_init(&peer_iev[peers[i]], base,
		    proc_peer_fd(ops->role, peers[i]), proc_name(peers[i]),
		    child_dispatch_peer, child_peer_closed, NULL);
		peer_up[peers[i]] = 1;
	}
	for (i = 0; i < 3; i++) {
		if ((ev_signals[i] = evsignal_new(base, child_sigs[i],
		    child_signal, NULL)) == NULL ||
		    evsignal_add(ev_signals[i], NULL) == -1)
			fatalx("evsignal");
	}
	signal(SIGPIPE, SIG_IGN);
}

void
child_main(const struct child_ops *o, const char *file)
{
	struct hello	 hello;
	char		 root[1024];
	const char	*rootp = NULL;

	ops = o;
	conffile = file;
	log_set_procname(proc_name(ops->role));
	setproctitle("%s", proc_name(ops->role));
	log_init(1, LOG_INFO, LOG_MAIL);
	if (imsgbuf_init(&early_ibuf, PROC_PARENT_FD) == -1)
		fatal("imsgbuf_init");
	log_set_sink(child_log_sink, child_event_sink);

	conf = child_wait_config();
	log_set_level(conf->log.level);
	if (proc_chroot_path(conf, ops->role, root, sizeof(root)) == -1)
		fatalx("chroot path too long");
	if (root[0] != '\0')
		rootp = root;
	proc_confine(proc_user_name(conf, ops->role), rootp);
	sandbox_apply(ops->role);

	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	child_setup_events();

	hello.version = PROTO_VERSION;
	hello.role = ops->role;
	hello.uid = getuid();
	hello.gid = getgid();
	imsgev_xcompose(&parent_iev, IMSG_HELLO, 0, 0, -1, &hello,
	    sizeof(hello));
	if (ops->configure != NULL)
		ops->configure(conf, NULL);

	event_base_dispatch(base);
	fatalx("event loop ended");
}

struct event_base *
child_base(void)
{
	return base;
}

const struct config *
child_config(void)
{
	return conf;
}

/* The channel to peer if it is up yet, else NULL. */
struct imsgev *
child_peer_if_up(enum proc_role peer)
{
	if (peer <= PROC_PARENT || peer >= PROC_COUNT || !peer_up[peer])
		return NULL;
	return &peer_iev[peer];
}

struct imsgev *
child_peer(enum proc_role peer)
{
	if (peer <= PROC_PARENT || peer >= PROC_COUNT || !peer_up[peer])
		fatalx("%s: no channel to %d", __func__, peer);
	return &peer_iev[peer];
}
