/*
 * posternd.h: what the parent's modules and the children's common runtime
 * share inside the posternd binary.
 */

#ifndef POSTERN_POSTERND_H
#define POSTERN_POSTERND_H

#include <sys/types.h>

#include <event2/event.h>

#include "config.h"
#include "imsg.h"
#include "imsgev.h"
#include "proc.h"

#ifndef POSTERN_VERSION
#define POSTERN_VERSION	"unknown"
#endif

/* parent.c */
__attribute__((__noreturn__))
void		 parent_main(const char *conffile, int foreground, int verbose);

/* statedir.c */
void		 statedir_setup(const struct config *);

/* listen.c */
int		 listen_open(const struct config_listener *);
int		 listen_open_all(const struct config *, int *fds, size_t max);

/* control.c: the control socket, in the parent */
struct child_status {
	enum proc_role	 role;
	pid_t		 pid;
	uid_t		 uid;
	gid_t		 gid;
	time_t		 started;
	char		 user[CONFIG_NAME_MAX];
	char		 root[1024];
};
int		 control_open(const struct config *);
void		 control_listen(struct event_base *, int fd);
void		 control_close(void);
void		 control_set_config(const struct config *);
struct ctl_conn;
void		 control_printf(struct ctl_conn *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		 control_error(struct ctl_conn *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		 control_relay_answer(struct imsg *);
/* provided by parent.c for control.c */
void		 parent_send_queue(uint32_t, const void *, size_t);
void		 parent_send_auth(uint32_t, const void *, size_t);
void		 parent_set_log_level(int);
int		 parent_children(struct child_status *, int max);
time_t		 parent_started(void);
const struct config *parent_config(void);
int		 parent_reload(char *err, size_t errsz);

/*
 * child.c: the common runtime of every child role.  A role fills in
 * child_ops and calls child_main(), which never returns.
 */
struct child_ops {
	enum proc_role	 role;
	/* new config (initial: old is NULL); old is freed afterwards */
	void		(*configure)(const struct config *new,
			    const struct config *old);
	/* a listening socket for the listener at index idx of the config */
	void		(*listener)(int fd, const struct config_listener *);
	/* the tls: keypair (initial and at every reload) */
	void		(*tls)(const char *cert, size_t certlen,
			    const char *key, size_t keylen);
	/* the parent said start: every process is up */
	void		(*start)(void);
	/* a frame from a peer role */
	void		(*peer)(enum proc_role, struct imsgev *, struct imsg *);
	/* clean shutdown (SIGTERM or the parent's request) */
	void		(*shutdown)(void);
	/*
	 * A peer's channel closed (at a stop, the peers' SIGTERMs race):
	 * last words before the exit, without that peer.
	 */
	void		(*peer_lost)(enum proc_role);
};

__attribute__((__noreturn__))
void		 child_main(const struct child_ops *, const char *conffile);
struct event_base *child_base(void);
const struct config *child_config(void);
struct imsgev	*child_peer(enum proc_role);
struct imsgev	*child_peer_if_up(enum proc_role);

/* The entry points of the roles. */
__attribute__((__noreturn__)) void smtp_main(const char *);
__attribute__((__noreturn__)) void mta_main(const char *);
__attribute__((__noreturn__)) void queue_main(const char *);
__attribute__((__noreturn__)) void mda_main(const char *);
__attribute__((__noreturn__)) void imap_main(const char *);
__attribute__((__noreturn__)) void auth_main(const char *);

/* Payload helpers shared by parent and children. */
struct hello {
	uint32_t	 version;
	uint32_t	 role;
	uint32_t	 uid;
	uint32_t	 gid;
};

#endif /* POSTERN_POSTERND_H */
