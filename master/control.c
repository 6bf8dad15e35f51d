/*
 * control.c: the control socket, in the parent.
 *
 * Owns: the UNIX socket at control.socket (0660, root:control.group) and
 * its connections.  Trusts: nothing a client sends.  Who the client is
 * comes from the kernel (SO_PEERCRED), never from the request; the uid
 * and its groups are mapped to a role of control.roles, and every command
 * is checked against the least role it needs.  Every command, allowed or
 * not, is an audit event.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "posternd.h"
#include "proto.h"

#define CTL_MAX_CONNS	64

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	struct imsgev		 iev;
	uid_t			 uid;
	gid_t			 gid;
	pid_t			 pid;
	char			 user[64];
	enum config_ctl_role	 role;
	int			 done;		/* a request was answered */
	uint32_t		 id;		/* for answers relayed */
	int			 relayed;	/* the queue is answering */
	int			 status_json;	/* close the status object */
	char			 audit_cmd[512]; /* logged when answered */
	int			 audit_pending;
};
TAILQ_HEAD(, ctl_conn)		 ctl_conns = TAILQ_HEAD_INITIALIZER(ctl_conns);

static const struct config	*ctl_conf;
static struct event		*ctl_ev;
static struct event_base	*ctl_base;
static int			 ctl_fd = -1;
static int			 ctl_nconns;
static uint32_t			 ctl_next_id;
static char			 ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void	control_status(struct ctl_conn *, struct ctl_request *);
static void	control_reload(struct ctl_conn *, struct ctl_request *);
static void	control_log_level(struct ctl_conn *, struct ctl_request *);
static void	control_queue(struct ctl_conn *, struct ctl_request *);
static void	control_user(struct ctl_conn *, struct ctl_request *);
static void	control_relay(struct ctl_conn *, uint32_t, const char *);
static void	control_relay_argv(struct ctl_conn *, uint32_t, uint32_t, int,
		    char * const *);

static const struct ctl_command {
	const char		*name;
	const char		*sub;		/* second word, or NULL */
	enum config_ctl_role	 min_role;
	void			(*fn)(struct ctl_conn *, struct ctl_request *);
} ctl_commands[] = {
	{ "status",	NULL,		CTL_ROLE_AUDITOR,	control_status },
	{ "reload",	NULL,		CTL_ROLE_OPERATOR,	control_reload },
	{ "log",	"level",	CTL_ROLE_OPERATOR,	control_log_level },
	{ "queue",	"list",		CTL_ROLE_AUDITOR,	control_queue },
	{ "queue",	"show",		CTL_ROLE_AUDITOR,	control_queue },
	{ "queue",	"stats",	CTL_ROLE_AUDITOR,	control_queue },
	{ "queue",	"flush",	CTL_ROLE_OPERATOR,	control_queue },
	{ "queue",	"remove",	CTL_ROLE_OPERATOR,	control_queue },
	{ "queue",	"pause",	CTL_ROLE_OPERATOR,	control_queue },
	{ "queue",	"resume",	CTL_ROLE_OPERATOR,	control_queue },
	{ "user",	"list",		CTL_ROLE_AUDITOR,	control_user },
	{ "user",	"show",		CTL_ROLE_AUDITOR,	control_user },
	{ "user",	"add",		CTL_ROLE_ADMIN,		control_user },
	{ "user",	"del",		CTL_ROLE_ADMIN,		control_user },
	{ "user",	"passwd",	CTL_ROLE_ADMIN,		control_user },
	{ "user",	"lock",		CTL_ROLE_ADMIN,		control_user },
	{ "user",	"unlock",	CTL_ROLE_ADMIN,		control_user },
	{ "user",	"totp",		CTL_ROLE_ADMIN,		control_user },
	{ "user",	"apppass",	CTL_ROLE_ADMIN,		control_user },
};

int
control_open(const struct config *conf)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	mode_t			 old;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, conf->control.socket,
	    sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		log_warnx("control socket path too long: %s",
		    conf->control.socket);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		fatal("control socket");
	if (unlink(sun.sun_path) == -1 && errno != ENOENT)
		fatal("unlink %s", sun.sun_path);
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("bind %s", sun.sun_path);
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	if (geteuid() == 0) {
		if ((gr = getgrnam(conf->control.group)) == NULL)
			log_warnx("control group %s does not exist: the socket "
			    "is for root only", conf->control.group);
		else if (chown(sun.sun_path, 0, gr->gr_gid) == -1)
			fatal("chown %s", sun.sun_path);
	}
	if (chmod(sun.sun_path, 0660) == -1)
		fatal("chmod %s", sun.sun_path);
	if (listen(fd, 16) == -1)
		fatal("listen %s", sun.sun_path);
	(void)strlcpy(ctl_path, sun.sun_path, sizeof(ctl_path));
	ctl_fd = fd;
	return fd;
}

void
control_set_config(const struct config *conf)
{
	ctl_conf = conf;
}

static int
control_in_list(char **list, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

/* Whether the user (with primary gid) belongs to one of the groups. */
static int
control_in_groups(const struct config_role *r, const char *user, gid_t gid)
{
	gid_t		 groups[256];
	struct group	*gr;
	size_t		 i;
	int		 j, ngroups = 256;

	if (r->ngroups == 0)
		return 0;
	if (user[0] == '\0' ||
	    getgrouplist(user, gid, groups, &ngroups) == -1) {
		groups[0] = gid;
		ngroups = 1;
	}
	for (i = 0; i < r->ngroups; i++) {
		if ((gr = getgrnam(r->groups[i])) == NULL)
			continue;
		for (j = 0; j < ngroups; j++)
			if (groups[j] == gr->gr_gid)
				return 1;
	}
	return 0;
}

static enum config_ctl_role
control_role_of(const char *user, gid_t gid)
{
	const struct config_role	*r;
	int				 i;

	for (i = CTL_ROLE_COUNT - 1; i > CTL_ROLE_NONE; i--) {
		r = &ctl_conf->control.roles[i];
		if (user[0] != '\0' &&
		    control_in_list(r->users, r->nusers, user))
			return i;
		if (control_in_groups(r, user, gid))
			return i;
	}
	return CTL_ROLE_NONE;
}

void
control_printf(struct ctl_conn *c, const char *fmt, ...)
{
	char	 buf[IMSG_MAX_SIZE - IMSG_HEADER_SIZE];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	(void)imsgev_compose(&c->iev, IMSG_CTL_OUTPUT, 0, 0, -1, buf, n);
}

void
control_error(struct ctl_conn *c, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	(void)imsgev_compose(&c->iev, IMSG_CTL_ERROR, 0, 0, -1, buf, n);
}

static void
control_audit_log(const char *name, struct ctl_conn *c, const char *result)
{
	struct log_event	 ev;

	log_event_begin(&ev, name);
	log_event_add(&ev, "uid", "%u", c->uid);
	log_event_add(&ev, "user", "%s", c->user);
	log_event_add(&ev, "pid", "%ld", (long)c->pid);
	log_event_add(&ev, "role", "%s", config_role_name(c->role));
	log_event_add(&ev, "command", "%s", c->audit_cmd);
	if (result != NULL)
		log_event_add(&ev, "result", "%s", result);
	log_event_end(&ev);
}

/*
 * The command line as the audit trail shows it.  A password travels as
 * the last argument of a user command with CTL_FLAG_SECRET and is shown
 * as "********" (auth refuses the flag where no password belongs).
 */
static void
control_audit_cmd(struct ctl_conn *c, struct ctl_request *req)
{
	int	 i, secret;

	secret = (req->flags & CTL_FLAG_SECRET) &&
	    strcmp(req->argv[0], "user") == 0;
	c->audit_cmd[0] = '\0';
	for (i = 0; i < req->argc; i++) {
		if (i > 0)
			(void)strlcat(c->audit_cmd, " ", sizeof(c->audit_cmd));
		(void)strlcat(c->audit_cmd, secret && i == req->argc - 1 ?
		    "********" : req->argv[i],
		    sizeof(c->audit_cmd));
	}
}

/*
 * Every answer ends here, also for commands the queue or auth answered,
 * so the audit record carries the real outcome.
 */
static void
control_end(struct ctl_conn *c, uint32_t status)
{
	if (c->audit_pending) {
		control_audit_log("control.command", c, status == 0 ? "ok" :
		    "failed");
		c->audit_pending = 0;
	}
	(void)imsgev_compose(&c->iev, IMSG_CTL_END, 0, 0, -1, &status,
	    sizeof(status));
	c->done = 1;
}

static const struct ctl_command *
control_find(struct ctl_request *req)
{
	size_t	 i;

	for (i = 0; i < sizeof(ctl_commands) / sizeof(ctl_commands[0]); i++) {
		if (strcmp(ctl_commands[i].name, req->argv[0]) != 0)
			continue;
		if (ctl_commands[i].sub == NULL ||
		    (req->argc > 1 &&
		    strcmp(ctl_commands[i].sub, req->argv[1]) == 0))
			return &ctl_commands[i];
	}
	return NULL;
}

static void
control_request(struct ctl_conn *c, struct imsg *imsg)
{
	const struct ctl_command	*cmd;
	struct ctl_request		 req;

	if (ctl_request_decode(imsg, &req) == -1) {
		log_warnx("control: malformed request from uid %u", c->uid);
		imsgev_clear(&c->iev);
		return;
	}
	control_audit_cmd(c, &req);
	if ((cmd = control_find(&req)) == NULL) {
		control_audit_log("control.command", c, "unknown");
		control_error(c, "unknown command: %s", req.argv[0]);
		control_end(c, 1);
	} else if (c->role < cmd->min_role) {
		control_audit_log("control.denied", c, NULL);
		control_error(c, "permission denied: %s needs the %s role",
		    req.argv[0], config_role_name(cmd->min_role));
		control_end(c, 1);
	} else {
		c->audit_pending = 1;
		cmd->fn(c, &req);
	}
	ctl_request_free(&req);
}

static void
control_conn_free(struct ctl_conn *c)
{
	if (c->audit_pending)
		control_audit_log("control.command", c, "client gone");
	TAILQ_REMOVE(&ctl_conns, c, entry);
	imsgev_clear(&c->iev);
	free(c);
	ctl_nconns--;
}

static void
control_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_conn	*c = iev->arg;

	if (imsg->hdr.type != IMSG_CTL_REQUEST || c->done) {
		log_warnx("control: unexpected message from uid %u", c->uid);
		imsgev_clear(iev);
		return;
	}
	control_request(c, imsg);
}

static void
control_closed(struct imsgev *iev, int error)
{
	control_conn_free(iev->arg);
}

static void
control_accept(int fd, short event, void *arg)
{
	struct ctl_conn	*c;
	struct ucred	 cred;
	struct passwd	*pw;
	socklen_t	 len = sizeof(cred);
	int		 s;

	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control accept");
		return;
	}
	if (ctl_nconns >= CTL_MAX_CONNS ||
	    getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("control: connection refused");
		close(s);
		return;
	}
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	if ((pw = getpwuid(cred.uid)) != NULL)
		(void)strlcpy(c->user, pw->pw_name, sizeof(c->user));
	c->role = control_role_of(c->user, c->gid);
	c->id = ++ctl_next_id;
	imsgev_init(&c->iev, ctl_base, s, "control", control_dispatch,
	    control_closed, c);
	TAILQ_INSERT_TAIL(&ctl_conns, c, entry);
	ctl_nconns++;
}

void
control_listen(struct event_base *base, int fd)
{
	ctl_base = base;
	if ((ctl_ev = event_new(base, fd, EV_READ | EV_PERSIST,
	    control_accept, NULL)) == NULL || event_add(ctl_ev, NULL) == -1)
		fatalx("control event");
}

void
control_close(void)
{
	struct ctl_conn	*c;

	if (ctl_ev != NULL) {
		event_free(ctl_ev);
		ctl_ev = NULL;
	}
	while ((c = TAILQ_FIRST(&ctl_conns)) != NULL) {
		(void)imsgbuf_flush(&c->iev.ibuf);
		control_conn_free(c);
	}
	if (ctl_fd != -1) {
		close(ctl_fd);
		ctl_fd = -1;
		(void)unlink(ctl_path);
	}
}

static void
control_format_uptime(time_t secs, char *buf, size_t sz)
{
	if (secs >= 86400)
		(void)snprintf(buf, sz, "%lldd%02lldh", (long long)secs / 86400,
		    (long long)(secs % 86400) / 3600);
	else if (secs >= 3600)
		(void)snprintf(buf, sz, "%lldh%02lldm", (long long)secs / 3600,
		    (long long)(secs % 3600) / 60);
	else
		(void)snprintf(buf, sz, "%llds", (long long)secs);
}

static void
control_status_text(struct ctl_conn *c, struct child_status *st, int n)
{
	const struct config_listener	*l;
	char				 up[32];
	time_t				 now = time(NULL);
	int				 i;

	control_format_uptime(now - parent_started(), up, sizeof(up));
	control_printf(c, "posternd %s, pid %ld, up %s, config %s\n",
	    POSTERN_VERSION, (long)getpid(), up, ctl_conf->path);
	control_printf(c, "\n%-8s %8s  %-16s %11s  %-8s %s\n", "ROLE", "PID",
	    "USER", "UID:GID", "UPTIME", "CHROOT");
	for (i = 0; i < n; i++) {
		char	 ids[32];

		control_format_uptime(now - st[i].started, up, sizeof(up));
		(void)snprintf(ids, sizeof(ids), "%u:%u", st[i].uid,
		    st[i].gid);
		control_printf(c, "%-8s %8ld  %-16s %11s  %-8s %s\n",
		    proc_name(st[i].role), (long)st[i].pid, st[i].user, ids,
		    up, st[i].root[0] != '\0' ? st[i].root : "-");
	}
	control_printf(c, "\n%-16s %-11s %-24s %s\n", "LISTENER", "SERVICE",
	    "ADDRESS", "TLS");
	TAILQ_FOREACH(l, &ctl_conf->listeners, entry) {
		char	 addr[80];

		(void)snprintf(addr, sizeof(addr), "%s%s%s:%u",
		    strchr(l->address, ':') != NULL ? "[" : "", l->address,
		    strchr(l->address, ':') != NULL ? "]" : "", l->port);
		control_printf(c, "%-16s %-11s %-24s %s\n", l->name,
		    config_service_name(l->service), addr,
		    config_tls_name(l->tls));
	}
}

static void
control_status_json(struct ctl_conn *c, struct child_status *st, int n)
{
	const struct config_listener	*l;
	time_t				 now = time(NULL);
	int				 i;

	control_printf(c, "{\"version\":\"%s\",\"pid\":%ld,\"uptime\":%lld,"
	    "\"processes\":[", POSTERN_VERSION, (long)getpid(),
	    (long long)(now - parent_started()));
	for (i = 0; i < n; i++)
		control_printf(c, "%s{\"role\":\"%s\",\"pid\":%ld,"
		    "\"user\":\"%s\",\"uid\":%u,\"gid\":%u,\"chroot\":\"%s\","
		    "\"uptime\":%lld}", i > 0 ? "," : "",
		    proc_name(st[i].role), (long)st[i].pid, st[i].user,
		    st[i].uid, st[i].gid, st[i].root,
		    (long long)(now - st[i].started));
	control_printf(c, "],\"listeners\":[");
	i = 0;
	TAILQ_FOREACH(l, &ctl_conf->listeners, entry)
		control_printf(c, "%s{\"name\":\"%s\",\"service\":\"%s\","
		    "\"address\":\"%s\",\"port\":%u,\"tls\":\"%s\"}",
		    i++ > 0 ? "," : "", l->name,
		    config_service_name(l->service), l->address, l->port,
		    config_tls_name(l->tls));
	control_printf(c, "],\"queue\":");
	c->status_json = 1;
}

static void
control_status(struct ctl_conn *c, struct ctl_request *req)
{
	struct child_status	 st[PROC_COUNT];
	int			 n;

	if (req->argc != 1) {
		control_error(c, "usage: status");
		control_end(c, 1);
		return;
	}
	n = parent_children(st, PROC_COUNT);
	if (req->flags & CTL_FLAG_JSON)
		control_status_json(c, st, n);
	else
		control_status_text(c, st, n);
	/* The queue adds its counts, and its END ends the answer. */
	control_relay(c, req->flags, "stats");
}

static void
control_reload(struct ctl_conn *c, struct ctl_request *req)
{
	char	 err[CONFIG_ERR_SIZE];

	if (parent_reload(err, sizeof(err)) == -1) {
		control_error(c, "reload failed, old config kept: %s", err);
		control_end(c, 1);
		return;
	}
	control_printf(c, "configuration reloaded\n");
	control_end(c, 0);
}

static void
control_log_level(struct ctl_conn *c, struct ctl_request *req)
{
	static const char	*names[] = { "error", "warning", "notice",
	    "info", "debug" };
	static const int	 levels[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE,
	    LOG_INFO, LOG_DEBUG };
	size_t			 i;

	if (req->argc != 3) {
		control_error(c, "usage: log level error|warning|notice|info|"
		    "debug");
		control_end(c, 1);
		return;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(req->argv[2], names[i]) == 0)
			break;
	if (i == sizeof(names) / sizeof(names[0])) {
		control_error(c, "unknown log level: %s", req->argv[2]);
		control_end(c, 1);
		return;
	}
	parent_set_log_level(levels[i]);
	control_printf(c, "log level is %s\n", names[i]);
	control_end(c, 0);
}

/* Hands a queue command to the queue process, which answers it. */
static void
control_relay(struct ctl_conn *c, uint32_t flags, const char *sub)
{
	char	*argv[] = { "queue", (char *)sub };

	control_relay_argv(c, IMSG_QUEUE_CTL, flags, 2, argv);
}

/* type: IMSG_QUEUE_CTL to the queue, IMSG_AUTH_CTL to auth. */
static void
control_relay_argv(struct ctl_conn *c, uint32_t type, uint32_t flags,
    int argc, char * const *argv)
{
	struct ibuf	 ib;

	ibuf_init(&ib);
	ibuf_add_u32(&ib, c->id);
	if (ctl_request_encode(&ib, flags, argc, argv) == -1) {
		ibuf_free(&ib);
		control_error(c, "request too long");
		control_end(c, 1);
		return;
	}
	if (type == IMSG_AUTH_CTL)
		parent_send_auth(type, ib.data, ib.len);
	else
		parent_send_queue(type, ib.data, ib.len);
	explicit_bzero(ib.data, ib.len);	/* may hold a password */
	ibuf_free(&ib);
	c->relayed = 1;
}

static void
control_queue(struct ctl_conn *c, struct ctl_request *req)
{
	control_relay_argv(c, IMSG_QUEUE_CTL, req->flags, req->argc,
	    req->argv);
}

/* User commands go to auth, which holds the accounts. */
static void
control_user(struct ctl_conn *c, struct ctl_request *req)
{
	control_relay_argv(c, IMSG_AUTH_CTL, req->flags, req->argc,
	    req->argv);
	if (req->flags & CTL_FLAG_SECRET)
		explicit_bzero(req->argv[req->argc - 1],
		    strlen(req->argv[req->argc - 1]));
}

/*
 * An answer from the queue or auth for a relayed command.  The
 * connection may have gone meanwhile; then the answer is dropped.
 */
void
control_relay_answer(struct imsg *imsg)
{
	struct imsg_reader	 r;
	struct ctl_conn		*c;
	char			*text = NULL;
	uint32_t		 id, status = 0;

	imsg_reader_init(&r, imsg, imsg_type_name(imsg->hdr.type));
	id = imsg_read_u32(&r);
	if (imsg->hdr.type == IMSG_QUEUE_CTL_END ||
	    imsg->hdr.type == IMSG_AUTH_CTL_END)
		status = imsg_read_u32(&r);
	else
		text = imsg_read_strdup(&r, IMSG_MAX_SIZE);
	imsg_reader_end(&r);
	TAILQ_FOREACH(c, &ctl_conns, entry)
		if (c->id == id && c->relayed)
			break;
	if (c != NULL) {
		switch (imsg->hdr.type) {
		case IMSG_QUEUE_CTL_OUTPUT:
		case IMSG_AUTH_CTL_OUTPUT:
			control_printf(c, "%s", text);
			break;
		case IMSG_QUEUE_CTL_ERROR:
		case IMSG_AUTH_CTL_ERROR:
			control_error(c, "%s", text);
			break;
		default:
			if (c->status_json)
				control_printf(c, "}\n");
			c->relayed = 0;
			control_end(c, status);
			break;
		}
	}
	free(text);
}
