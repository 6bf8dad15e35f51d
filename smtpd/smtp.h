/*
 * smtp.h: the smtp role's session engine, shared by smtp.c (listeners,
 * peers) and smtp_session.c / smtp_data.c (the protocol).
 */

#ifndef POSTERN_SMTP_H
#define POSTERN_SMTP_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include "compat.h"
#include <sys/tree.h>

#include <netinet/in.h>

#include <stdint.h>

#include "addr.h"
#include "config.h"
#include "netio.h"
#include "proto.h"
#include "spool.h"		/* SPOOL_RET_*, SPOOL_NOTIFY_*: on the wire */

struct imsg;
struct imsg_reader;

#define SMTP_LINE_MAX		1000	/* RFC 5321 4.5.3.1.4/6, CRLF in */
#define SMTP_MAX_RECEIVED	100	/* Received: headers: a mail loop */
#define SMTP_WBUF_SIZE		(64 * 1024)
#define SMTP_AUTH_LINE_MAX	12288	/* RFC 4954 4, CRLF in */
#define SMTP_SECRET_MAX		1024	/* a password, +TOTP, app password */
#define SMTP_FROM_MAX		2048	/* the header From:, unfolded */

enum smtp_state {
	SMTP_S_CONNECTED,	/* greeting sent, waiting for EHLO/HELO */
	SMTP_S_HELO,		/* EHLO done, no transaction */
	SMTP_S_MAIL,		/* MAIL FROM accepted */
	SMTP_S_RCPT,		/* at least one RCPT accepted */
	SMTP_S_DATA,		/* reading DATA lines */
	SMTP_S_BDAT,		/* reading a BDAT chunk */
	SMTP_S_BDAT_WAIT,	/* between BDAT chunks */
	SMTP_S_QUIT,		/* closing after the last reply */
};

/* Why the message being received will be refused at its end. */
enum smtp_msg_error {
	SMTP_MSG_OK = 0,
	SMTP_MSG_TOO_BIG,
	SMTP_MSG_LONG_LINE,
	SMTP_MSG_BARE_NL,
	SMTP_MSG_LOOP,
	SMTP_MSG_IOERR,
};

/* Where an AUTH exchange stands (RFC 4954). */
enum smtp_auth_step {
	SMTP_AUTH_NONE,
	SMTP_AUTH_PLAIN,	/* 334 sent, waiting for the response */
	SMTP_AUTH_LOGIN_USER,	/* 334 Username: sent */
	SMTP_AUTH_LOGIN_PASS,	/* 334 Password: sent */
};

/* Which address an IMSG_AUTH_SENDER asked about. */
enum smtp_sender_check {
	SMTP_SENDER_MAIL,	/* MAIL FROM */
	SMTP_SENDER_HEADER,	/* the header From:, at the end of data */
};

/* RFC 3461's parameters of MAIL FROM (smtp_dsn.c). */
struct smtp_dsn_mail {
	uint32_t		 ret;			/* SPOOL_RET_* */
	char			 envid[SPOOL_ENVID_MAX];	/* or "" */
};

/* ... and of one RCPT TO. */
struct smtp_dsn_rcpt {
	uint32_t		 notify;	/* SPOOL_NOTIFY_*, 0: not given */
	char			 orcpt[SPOOL_ORCPT_MAX]; /* "type;addr" or "" */
};

struct smtp_rcpt {
	TAILQ_ENTRY(smtp_rcpt)	 entry;
	char			 rcpt[CONFIG_ADDR_MAX];	/* as given */
	uint32_t		 kind;			/* DEST_* */
	char			 dest[CONFIG_ADDR_MAX];
	struct smtp_dsn_rcpt	 dsn;
};
TAILQ_HEAD(smtp_rcpts, smtp_rcpt);

/* auth's answer to a RCPT lookup, when it is small enough to keep. */
#define SMTP_RCPT_ANSWER_MAX	4	/* destinations */
struct smtp_rcpt_answer {
	uint32_t		 result;		/* RCPT_* */
	uint32_t		 n;
	uint32_t		 kind[SMTP_RCPT_ANSWER_MAX];
	char			 dest[SMTP_RCPT_ANSWER_MAX][CONFIG_ADDR_MAX];
};

/* One listener as the smtp role knows it. */
struct smtp_listener {
	TAILQ_ENTRY(smtp_listener) entry;
	struct event		*ev;
	int			 fd;
	char			 name[CONFIG_NAME_MAX];
	enum config_service	 service;
	enum config_tls		 tls;
};

struct smtp_session {
	RB_ENTRY(smtp_session)	 node;
	uint64_t		 id;
	struct netio		*io;
	struct smtp_listener	*listener;
	char			 ip[INET6_ADDRSTRLEN];
	uint16_t		 port;
	enum smtp_state		 state;
	int			 esmtp;
	int			 tls;		/* TLS is up */
	int			 waiting;	/* for auth or queue */
	int			 precreating;	/* a CREATE is on its way */
	int			 file_wait;	/* DATA waits for its answer */
	int			 committing;	/* COMMIT sent, no answer yet */
	int			 errors;
	int			 greeting_pending;
	struct event		*greeting_ev;
	char			 helo[256];
	time_t			 started;

	/* AUTH, on submission listeners only */
	enum smtp_auth_step	 auth_step;
	const char		*auth_mech;	/* "PLAIN" or "LOGIN" */
	char			 auth_user[CONFIG_ADDR_MAX];
	char			 account[CONFIG_ADDR_MAX];	/* "": none */
	enum smtp_sender_check	 sender_check;

	/* the transaction */
	char			 sender[CONFIG_ADDR_MAX];
	int			 smtputf8;
	size_t			 declared_size;
	struct smtp_dsn_mail	 dsn;
	struct smtp_rcpts	 rcpts;
	int			 nrcpt;
	char			 pending_rcpt[CONFIG_ADDR_MAX];
	struct smtp_dsn_rcpt	 pending_dsn;

	/* the message being written into the queue */
	char			 msgid[QUEUE_MSGID_MAX];
	int			 msgfd;
	unsigned char		*wbuf;
	size_t			 wlen;
	EVP_MD_CTX		*sumctx;	/* SHA-256 of what is written */
	uint64_t		 written;	/* bytes in the file */
	size_t			 msgsize;
	enum smtp_msg_error	 msgerr;
	int			 at_line_start;
	int			 after_long_line;	/* one was just dropped */
	int			 last_cr;
	int			 in_headers;
	int			 nreceived;
	char			 hdrbuf[SMTP_LINE_MAX + 2]; /* a BDAT line */
	size_t			 hdrlen;
	int			 hdrtrunc;	/* hdrbuf holds only its start */
	char			 from_hdr[SMTP_FROM_MAX];	/* unfolded */
	size_t			 from_len;
	int			 nfrom;		/* From: headers seen */
	int			 in_from;	/* its continuation lines follow */
	int			 from_overflow;
	uint64_t		 bdat_left;
	int			 bdat_last;	/* -1: DATA, 0/1: BDAT */
	int			 bdat_skip;	/* refused chunk: drop it */
	enum smtp_state		 bdat_skip_state;
	int			 nmessages;
};

RB_HEAD(smtp_sessions, smtp_session);
int	smtp_session_cmp(struct smtp_session *, struct smtp_session *);
RB_PROTOTYPE(smtp_sessions, smtp_session, node, smtp_session_cmp);

/* smtp.c */
struct smtp_sessions *smtp_sessions_tree(void);
const struct config *smtp_conf(void);
struct tls	*smtp_tls_ctx(void);
void		 smtp_session_gone(struct smtp_session *);
struct smtp_session *smtp_session_find(uint64_t);
void		 smtp_send_auth(uint32_t, const void *, size_t);
void		 smtp_send_queue(uint32_t, int, const void *, size_t);

/* smtp_session.c */
void		 smtp_session_new(struct smtp_listener *, int fd,
		    const struct sockaddr_storage *);
void		 smtp_session_refuse(int fd, const char *reply);
/* smtp_rcache.c */
void		 smtp_rcache_flush(void);
int		 smtp_rcache_get(const char *, uint32_t,
		    struct smtp_rcpt_answer *);
void		 smtp_rcache_put(const char *, uint32_t,
		    const struct smtp_rcpt_answer *);

void		 smtp_session_rcpt_result(struct smtp_session *, struct imsg *,
		    struct imsg_reader *);
void		 smtp_session_create_result(struct smtp_session *,
		    struct imsg *, struct imsg_reader *);
void		 smtp_session_commit_result(struct smtp_session *,
		    struct imsg_reader *);
void		 smtp_session_shutdown(struct smtp_session *);
void		 smtp_reply(struct smtp_session *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		 smtp_process(struct smtp_session *);
void		 smtp_transaction_reset(struct smtp_session *);
void		 smtp_close(struct smtp_session *, const char *reason);
void		 smtp_reject_event(struct smtp_session *, const char *reason,
		    const char *arg);
int		 smtp_error(struct smtp_session *);
void		 smtp_mail_accept(struct smtp_session *);

/* smtp_auth.c */
int		 smtp_auth_offered(const struct smtp_session *);
void		 smtp_cmd_auth(struct smtp_session *, char *);
void		 smtp_auth_response(struct smtp_session *, char *, size_t);
void		 smtp_auth_abort(struct smtp_session *);
void		 smtp_session_login_result(struct smtp_session *,
		    struct imsg_reader *);

/* smtp_sender.c */
void		 smtp_sender_check_mail(struct smtp_session *);
void		 smtp_sender_check_header(struct smtp_session *);
void		 smtp_session_sender_result(struct smtp_session *,
		    struct imsg_reader *);
int		 smtp_limit_reached(struct smtp_session *, int recipients);
void		 smtp_limit_count(const char *account, int messages,
		    int recipients);

/* smtp_base64.c */
ssize_t		 smtp_b64_decode(const char *, size_t, unsigned char *,
		    size_t);

/* smtp_from.c */
int		 smtp_from_parse(const char *, size_t, char *, size_t,
		    const char **);

/* smtp_dsn.c */
int		 smtp_dsn_mail_param(struct smtp_dsn_mail *, const char *,
		    const char *, const char **);
int		 smtp_dsn_rcpt_param(struct smtp_dsn_rcpt *, const char *,
		    const char *, const char **);
int		 smtp_xtext_decode(const char *, char *, size_t,
		    const char **);

/* smtp_data.c */
void		 smtp_data_begin(struct smtp_session *);
int		 smtp_data_lines(struct smtp_session *);
int		 smtp_bdat_bytes(struct smtp_session *);
void		 smtp_data_end(struct smtp_session *);
void		 smtp_message_reset(struct smtp_session *);
void		 smtp_commit(struct smtp_session *);
void		 smtp_queue_abort(const char *);

#endif /* POSTERN_SMTP_H */
