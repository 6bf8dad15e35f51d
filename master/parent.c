/*
 * parent.c: posternd's parent process.
 *
 * Owns: the config, the listening sockets (opened here, never read here),
 * the children and the channels between them, the single log writer, the
 * control socket (control.c) and the pid file.
 * Trusts: the config file (root's).  Children are checked: a malformed or
 * unexpected frame from one is fatal, and so is its death, which brings
 * the whole daemon down so the service manager restarts it from a clean
 * state (the queue makes that safe).
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "posternd.h"
#include "proto.h"

#define SHUTDOWN_GRACE_SEC	4	/* then SIGKILL; all gone within 5 s */

struct child {
	enum proc_role	 role;
	pid_t		 pid;
	struct imsgev	 iev;
	int		 chan_up;
	int		 hello;
	uid_t		 uid;
	gid_t		 gid;
	time_t		 started;
};

static struct child	 children[PROC_COUNT];
static struct config	*conf;
static const char	*conffile;
static char		 self_exe[PATH_MAX];
static struct event_base *base;
static int		 listen_fds[CONFIG_MAX_LISTENERS];
static int		 nlisten;
static int		 control_fd = -1;
static int		 started_serving;
static int		 shutting_down;
static int		 exit_code;
static time_t		 start_time;
static struct event	*ev_shutdown_timer;
static char		 pidfile[1100];

static void	parent_shutdown(int code);

/* A memfd holding the config bytes, sealed, for the children to parse. */
static int
config_memfd(const char *buf, size_t len)
{
	int	 fd;

	if ((fd = memfd_create("postern.yaml", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1)
		fatal("memfd_create");
	if (write(fd, buf, len) != (ssize_t)len)
		fatal("memfd write");
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1)
		fatal("memfd seal");
	return fd;
}

static struct config *
parent_load_config(int *memfd, char *err, size_t errsz)
{
	struct config	*c;
	char		*buf;
	size_t		 len;

	if ((buf = config_read_file(conffile, &len, err, errsz)) == NULL)
		return NULL;
	if ((c = config_parse(conffile, buf, len, 1, err, errsz)) == NULL) {
		free(buf);
		return NULL;
	}
	*memfd = config_memfd(buf, len);
	free(buf);
	return c;
}

/* The network roles cannot open files in their chroot: pass them. */
static void
parent_send_tls(struct child *c, const struct config *cf)
{
	int	 cfd, kfd;

	if (cf->tls.cert[0] == '\0')
		return;
	if ((cfd = open(cf->tls.cert, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (kfd = open(cf->tls.key, O_RDONLY | O_CLOEXEC)) == -1) {
		if (started_serving) {
			log_warn("tls files not passed on");
			if (cfd != -1)
				close(cfd);
			return;
		}
		fatal("tls files");
	}
	imsgev_xcompose(&c->iev, IMSG_TLS_CERT, 0, 0, cfd, NULL, 0);
	imsgev_xcompose(&c->iev, IMSG_TLS_KEY, 0, 0, kfd, NULL, 0);
}

static void
parent_send_config(int memfd, const struct config *cf)
{
	int	 i, fd;

	for (i = PROC_PARENT + 1; i < PROC_COUNT; i++) {
		if (!children[i].chan_up)
			continue;
		if ((fd = dup(memfd)) == -1)
			fatal("dup");
		imsgev_xcompose(&children[i].iev, IMSG_CONFIG, 0, 0, fd, NULL,
		    0);
		if (children[i].hello && (i == PROC_SMTP || i == PROC_IMAP))
			parent_send_tls(&children[i], cf);
	}
}

/* Copies a child's log line, replacing what is not printable ASCII. */
static void
parent_child_log(struct child *c, struct imsg *imsg)
{
	struct imsg_reader	 r;
	char			 line[LOG_LINE_MAX], esc[LOG_LINE_MAX];
	uint32_t		 pri;

	imsg_reader_init(&r, imsg, "IMSG_LOG");
	pri = imsg_read_u32(&r);
	imsg_read_str(&r, line, sizeof(line));
	imsg_reader_end(&r);
	if (pri > LOG_DEBUG)
		fatalx("%s sent log priority %u", proc_name(c->role), pri);
	log_escape(esc, sizeof(esc), line, strlen(line));
	log_write((int)pri, proc_name(c->role), esc);
}

static void
parent_child_event(struct child *c, struct imsg *imsg)
{
	struct log_event_view	 view;

	if (imsg->datalen == 0 ||
	    log_event_decode(imsg->data, imsg->datalen, &view) == -1)
		fatalx("%s sent a malformed event", proc_name(c->role));
	log_event_write(proc_name(c->role), &view);
}

static void
parent_send_listeners(void)
{
	struct config_listener	*l;
	enum proc_role		 to;
	uint32_t		 idx = 0;
	int			 fd;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		to = l->service == SERVICE_IMAP ? PROC_IMAP : PROC_SMTP;
		if ((fd = dup(listen_fds[idx])) == -1)
			fatal("dup");
		imsgev_xcompose(&children[to].iev, IMSG_LISTENER, 0, 0, fd,
		    &idx, sizeof(idx));
		idx++;
	}
}

static void
parent_write_pidfile(void)
{
	FILE	*fp;

	if (snprintf(pidfile, sizeof(pidfile), "%s/posternd.pid",
	    conf->run_dir) >= (int)sizeof(pidfile))
		fatalx("pid file path too long");
	if ((fp = fopen(pidfile, "w")) == NULL)
		fatal("%s", pidfile);
	fprintf(fp, "%ld\n", (long)getpid());
	if (fclose(fp) == EOF)
		fatal("%s", pidfile);
}

static void
parent_all_ready(void)
{
	int	 i;

	for (i = PROC_PARENT + 1; i < PROC_COUNT; i++)
		if (!children[i].hello)
			return;
	parent_send_listeners();
	for (i = PROC_PARENT + 1; i < PROC_COUNT; i++)
		imsgev_xcompose(&children[i].iev, IMSG_START, 0, 0, -1, NULL,
		    0);
	started_serving = 1;
	parent_write_pidfile();
	log_info("posternd %s ready: %d processes, %d listeners",
	    POSTERN_VERSION, PROC_COUNT, nlisten);
}

static void
parent_child_hello(struct child *c, struct imsg *imsg)
{
	struct hello	 h;

	imsg_get_exact(imsg, &h, sizeof(h), "IMSG_HELLO");
	if (h.version != PROTO_VERSION)
		fatalx("%s speaks protocol %u, not %u", proc_name(c->role),
		    h.version, PROTO_VERSION);
	if (h.role != c->role || c->hello)
		fatalx("%s sent a bad hello", proc_name(c->role));
	c->hello = 1;
	if (c->role == PROC_SMTP || c->role == PROC_IMAP)
		parent_send_tls(c, conf);
	c->uid = h.uid;
	c->gid = h.gid;
	log_debug("%s (pid %ld) running as uid %u gid %u", proc_name(c->role),
	    (long)c->pid, h.uid, h.gid);
	parent_all_ready();
}

static void
parent_dispatch_child(struct imsgev *iev, struct imsg *imsg)
{
	struct child	*c = iev->arg;

	switch (imsg->hdr.type) {
	case IMSG_HELLO:
		parent_child_hello(c, imsg);
		break;
	case IMSG_LOG:
		parent_child_log(c, imsg);
		break;
	case IMSG_EVENT:
		parent_child_event(c, imsg);
		break;
	case IMSG_CONFIG_DONE:
		log_debug("%s applied the new config", proc_name(c->role));
		break;
	case IMSG_QUEUE_CTL_OUTPUT:
	case IMSG_QUEUE_CTL_ERROR:
	case IMSG_QUEUE_CTL_END:
		if (c->role != PROC_QUEUE)
			fatalx("%s sent %s", proc_name(c->role),
			    imsg_type_name(imsg->hdr.type));
		control_relay_answer(imsg);
		break;
	case IMSG_AUTH_CTL_OUTPUT:
	case IMSG_AUTH_CTL_ERROR:
	case IMSG_AUTH_CTL_END:
		if (c->role != PROC_AUTH)
			fatalx("%s sent %s", proc_name(c->role),
			    imsg_type_name(imsg->hdr.type));
		control_relay_answer(imsg);
		break;
	default:
		fatalx("%s sent unexpected %s", proc_name(c->role),
		    imsg_type_name(imsg->hdr.type));
	}
}

static void
parent_child_closed(struct imsgev *iev, int error)
{
	struct child	*c = iev->arg;

	if (error == EBADMSG && !shutting_down)
		fatalx("malformed frame from %s", proc_name(c->role));
	/* Its death is noticed by SIGCHLD. */
	imsgev_clear(iev);
	c->chan_up = 0;
}

/*
 * Creates every channel, then forks and execs each role with its own ends
 * on the fds proc.h promises.
 */
static void
parent_spawn_children(int memfd)
{
	int		 chan[PROC_COUNT][PROC_COUNT], sv[2], fds[PROC_MAX_PEERS + 1];
	enum proc_role	 peers[PROC_MAX_PEERS];
	int		 a, b, i, n;
	pid_t		 pid;
	char		*argv[6];

	for (a = 0; a < PROC_COUNT; a++)
		for (b = 0; b < PROC_COUNT; b++)
			chan[a][b] = -1;
	for (a = 0; a < PROC_COUNT; a++) {
		for (b = a + 1; b < PROC_COUNT; b++) {
			if (a != PROC_PARENT && !proc_is_edge(a, b))
				continue;
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			    sv) == -1)
				fatal("socketpair");
			chan[a][b] = sv[0];
			chan[b][a] = sv[1];
		}
	}
	for (a = PROC_PARENT + 1; a < PROC_COUNT; a++) {
		fds[0] = chan[a][PROC_PARENT];
		n = proc_peers(a, peers, PROC_MAX_PEERS);
		for (i = 0; i < n; i++)
			fds[i + 1] = chan[a][peers[i]];
		switch (pid = fork()) {
		case -1:
			fatal("fork");
		case 0:
			proc_place_fds(fds, n + 1);
			argv[0] = "posternd";
			argv[1] = "-R";
			argv[2] = (char *)proc_name(a);
			argv[3] = "-f";
			argv[4] = conf->path;	/* absolute */
			argv[5] = NULL;
			execv(self_exe, argv);
			fatal("exec %s", self_exe);
		}
		children[a].role = a;
		children[a].pid = pid;
		children[a].started = time(NULL);
	}
	for (a = PROC_PARENT + 1; a < PROC_COUNT; a++)
		for (b = 0; b < PROC_COUNT; b++)
			if (chan[a][b] != -1)
				close(chan[a][b]);
	for (a = PROC_PARENT + 1; a < PROC_COUNT; a++) {
		imsgev_init(&children[a].iev, base, chan[PROC_PARENT][a],
		    proc_name(a), parent_dispatch_child, parent_child_closed,
		    &children[a]);
		children[a].chan_up = 1;
	}
	parent_send_config(memfd, conf);
}

static const char *
parent_describe_status(int status, char *buf, size_t sz)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == PROC_EXIT_SANDBOX)
		(void)snprintf(buf, sz, "made a forbidden system call "
		    "(seccomp)");
	else if (WIFEXITED(status))
		(void)snprintf(buf, sz, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		(void)snprintf(buf, sz, "was killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		(void)snprintf(buf, sz, "stopped with status %d", status);
	return buf;
}

static int
parent_live_children(void)
{
	int	 i, n = 0;

	for (i = PROC_PARENT + 1; i < PROC_COUNT; i++)
		if (children[i].pid > 0)
			n++;
	return n;
}

__attribute__((__noreturn__))
static void
parent_exit(void)
{
	control_close();
	if (pidfile[0] != '\0')
		(void)unlink(pidfile);
	log_info("posternd exiting with status %d", exit_code);
	exit(exit_code);
}

static void
parent_reap(void)
{
	struct log_event	 ev;
	char			 desc[128];
	pid_t			 pid;
	int			 i, status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = PROC_PARENT + 1; i < PROC_COUNT; i++)
			if (children[i].pid == pid)
				break;
		if (i == PROC_COUNT)
			continue;
		children[i].pid = 0;
		parent_describe_status(status, desc, sizeof(desc));
		if (shutting_down && (exit_code == 0 ||
		    (WIFEXITED(status) && WEXITSTATUS(status) == 0))) {
			log_debug("%s process %s", proc_name(i), desc);
			continue;
		}
		if (WIFEXITED(status) &&
		    WEXITSTATUS(status) == PROC_EXIT_PEER_LOST) {
			/* Its peer died; that death is logged as the cause. */
			log_warnx("%s process (pid %ld) lost a peer%s",
			    proc_name(i), (long)pid, shutting_down ? "" :
			    "; stopping posternd");
			parent_shutdown(1);
			continue;
		}
		log_warnx("%s process (pid %ld) %s%s", proc_name(i), (long)pid,
		    desc, shutting_down ? "" : "; stopping posternd");
		log_event_begin(&ev, "process.died");
		log_event_add(&ev, "role", "%s", proc_name(i));
		log_event_add(&ev, "pid", "%ld", (long)pid);
		log_event_add(&ev, "status", "%s", desc);
		log_event_end(&ev);
		parent_shutdown(1);
	}
	if (shutting_down && parent_live_children() == 0)
		parent_exit();
}

static void
parent_kill_timeout(int fd, short event, void *arg)
{
	int	 i;

	for (i = PROC_PARENT + 1; i < PROC_COUNT; i++) {
		if (children[i].pid <= 0)
			continue;
		log_warnx("%s process (pid %ld) did not stop; killing it",
		    proc_name(i), (long)children[i].pid);
		kill(children[i].pid, SIGKILL);
	}
}

static void
parent_shutdown(int code)
{
	struct timeval	 tv = { SHUTDOWN_GRACE_SEC, 0 };
	int		 i;

	if (shutting_down)
		return;
	shutting_down = 1;
	exit_code = code;
	log_info("stopping (%s)", code == 0 ? "requested" : "failure");
	control_close();
	for (i = PROC_PARENT + 1; i < PROC_COUNT; i++)
		if (children[i].pid > 0)
			kill(children[i].pid, SIGTERM);
	if ((ev_shutdown_timer = evtimer_new(base, parent_kill_timeout,
	    NULL)) == NULL || evtimer_add(ev_shutdown_timer, &tv) == -1)
		fatalx("evtimer");
	if (parent_live_children() == 0)
		parent_exit();
}

/*
 * SIGHUP: a new config replaces the old only when it parses completely;
 * what cannot change without a restart (listeners, users, directories) is
 * kept and the operator is told.
 */
int
parent_reload(char *err, size_t errsz)
{
	struct config	*newconf;
	int		 memfd;

	if ((newconf = parent_load_config(&memfd, err, errsz)) == NULL) {
		log_warnx("reload failed, keeping the running config: %s",
		    err);
		return -1;
	}
	if (strcmp(newconf->state_dir, conf->state_dir) != 0 ||
	    strcmp(newconf->run_dir, conf->run_dir) != 0 ||
	    memcmp(&newconf->system_users, &conf->system_users,
	    sizeof(conf->system_users)) != 0)
		log_warnx("reload: state_dir, run_dir and system_users "
		    "take effect at the next restart");
	log_set_level(newconf->log.level);
	if (log_event_file(newconf->log.json) == -1)
		log_warn("reload: %s", newconf->log.json);
	parent_send_config(memfd, newconf);
	close(memfd);
	control_set_config(newconf);
	config_free(conf);
	conf = newconf;
	log_info("configuration reloaded from %s", conffile);
	return 0;
}

static void
parent_signal(int sig, short event, void *arg)
{
	char	 err[CONFIG_ERR_SIZE];

	switch (sig) {
	case SIGTERM:
	case SIGINT:
		parent_shutdown(0);
		break;
	case SIGHUP:
		if (!shutting_down && started_serving)
			(void)parent_reload(err, sizeof(err));
		break;
	case SIGCHLD:
		parent_reap();
		break;
	}
}

static void
parent_setup_signals(void)
{
	static struct event	*evs[4];
	static const int	 sigs[4] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	int			 i;

	for (i = 0; i < 4; i++)
		if ((evs[i] = evsignal_new(base, sigs[i], parent_signal,
		    NULL)) == NULL || evsignal_add(evs[i], NULL) == -1)
			fatalx("evsignal");
	signal(SIGPIPE, SIG_IGN);
}

static void
parent_find_self(void)
{
	ssize_t	 n;

	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0 || n >= (ssize_t)sizeof(self_exe) - 1)
		fatal("readlink /proc/self/exe");
	self_exe[n] = '\0';
}

void
parent_main(const char *file, int foreground, int verbose)
{
	char	 err[CONFIG_ERR_SIZE];
	int	 memfd;

	conffile = file;
	start_time = time(NULL);
	log_init(1, LOG_INFO, LOG_MAIL);
	log_set_procname("parent");
	if ((conf = parent_load_config(&memfd, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	/* daemon() moves to /: keep the absolute path for reloads. */
	if ((conffile = strdup(conf->path)) == NULL)
		fatal(NULL);
	log_init(foreground, verbose ? LOG_DEBUG : conf->log.level,
	    conf->log.facility);
	if (geteuid() != 0)
		log_warnx("WARNING: posternd is not running as root: no "
		    "process is chrooted or runs as its own user; this is "
		    "for development only, never for production");
	if (conf->log.json[0] != '\0' && log_event_file(conf->log.json) == -1)
		fatal("%s", conf->log.json);
	parent_find_self();
	statedir_setup(conf);
	nlisten = listen_open_all(conf, listen_fds, CONFIG_MAX_LISTENERS);
	if ((control_fd = control_open(conf)) == -1)
		exit(1);
	if (!foreground && daemon(0, 0) == -1)
		fatal("daemon");
	setproctitle("parent");
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	parent_setup_signals();
	parent_spawn_children(memfd);
	close(memfd);
	control_set_config(conf);
	control_listen(base, control_fd);
	event_base_dispatch(base);
	fatalx("event loop ended");
}

int
parent_children(struct child_status *st, int max)
{
	int	 i, n = 0;

	for (i = PROC_PARENT + 1; i < PROC_COUNT && n < max; i++) {
		if (children[i].pid <= 0)
			continue;
		memset(&st[n], 0, sizeof(st[n]));
		st[n].role = i;
		st[n].pid = children[i].pid;
		st[n].uid = children[i].uid;
		st[n].gid = children[i].gid;
		st[n].started = children[i].started;
		(void)strlcpy(st[n].user, proc_user_name(conf, i),
		    sizeof(st[n].user));
		if (proc_chroot_path(conf, i, st[n].root, sizeof(st[n].root))
		    == -1)
			st[n].root[0] = '\0';
		n++;
	}
	return n;
}

void
parent_send_queue(uint32_t type, const void *data, size_t len)
{
	if (!children[PROC_QUEUE].chan_up)
		fatalx("%s: no queue", __func__);
	imsgev_xcompose(&children[PROC_QUEUE].iev, type, 0, 0, -1, data, len);
}

void
parent_send_auth(uint32_t type, const void *data, size_t len)
{
	if (!children[PROC_AUTH].chan_up)
		fatalx("%s: no auth", __func__);
	imsgev_xcompose(&children[PROC_AUTH].iev, type, 0, 0, -1, data, len);
}

void
parent_set_log_level(int level)
{
	uint32_t	 l = (uint32_t)level;
	int		 i;

	log_set_level(level);
	for (i = PROC_PARENT + 1; i < PROC_COUNT; i++)
		if (children[i].chan_up)
			imsgev_xcompose(&children[i].iev, IMSG_LOG_LEVEL, 0, 0,
			    -1, &l, sizeof(l));
}

time_t
parent_started(void)
{
	return start_time;
}

const struct config *
parent_config(void)
{
	return conf;
}
