/*
 * proto.h: every imsg type exchanged by postern's processes, in one enum.
 *
 * PROTO_VERSION changes whenever this enum or a payload layout changes;
 * the children's handshake carries it, so a parent and a child built from
 * different sources refuse each other.
 */

#ifndef POSTERN_PROTO_H
#define POSTERN_PROTO_H

#define PROTO_VERSION	5

enum imsg_type {
	IMSG_NONE = 0,

	/* parent <-> every child */
	IMSG_HELLO,		/* child -> parent: version, role, uid, gid */
	IMSG_CONFIG,		/* parent -> child: fd of the config bytes */
	IMSG_CONFIG_DONE,	/* child -> parent: config applied */
	IMSG_LISTENER,		/* parent -> child: listening fd + index */
	IMSG_START,		/* parent -> child: all set, start serving */
	IMSG_LOG,		/* child -> parent: priority + line */
	IMSG_EVENT,		/* child -> parent: encoded event */
	IMSG_LOG_LEVEL,		/* parent -> child: new level */
	IMSG_SHUTDOWN,		/* parent -> child: stop cleanly */
	IMSG_TLS_CERT,		/* parent -> smtp, imap: fd of tls.cert */
	IMSG_TLS_KEY,		/* parent -> smtp, imap: fd of tls.key */

	/* posternctl <-> parent, over the control socket */
	IMSG_CTL_REQUEST,	/* flags + argv strings */
	IMSG_CTL_OUTPUT,	/* a chunk of output text */
	IMSG_CTL_ERROR,		/* a message for stderr */
	IMSG_CTL_END,		/* exit status */

	/*
	 * smtp <-> auth: recipient resolution.
	 * RCPT: u64 reqid, u32 flags (RCPT_FLAG_*), str address
	 * RCPT_RESULT: u64 reqid, u32 result (RCPT_*), u32 n, then n times
	 *	u32 kind (DEST_LOCAL, DEST_REMOTE), str address
	 *	(for DEST_LOCAL the mailbox, "local@domain" without +detail)
	 * RCPT_FLUSH (auth -> smtp, no payload): an answer may have
	 *	changed (accounts, aliases, domains); smtp forgets the
	 *	answers it kept
	 */
	IMSG_AUTH_RCPT,
	IMSG_AUTH_RCPT_RESULT,
	IMSG_AUTH_RCPT_FLUSH,

	/*
	 * smtp <-> queue: a message's way into the spool.
	 * CREATE: u64 reqid
	 * CREATE_RESULT: u64 reqid, u32 ok, str msgid; fd (writable) if ok
	 * RCPT: u64 reqid, str msgid, u32 kind, str dest, str rcpt, once
	 *	per destination before COMMIT (dest: mailbox or remote
	 *	address; rcpt: as the client gave it); then, optionally,
	 *	RFC 3461's u32 notify (SPOOL_NOTIFY_* bits, 0 if not given),
	 *	str orcpt (xtext-decoded "type;address", "" if not given)
	 * COMMIT: u64 reqid, str msgid, str sender, str client, str helo,
	 *	u64 size, u32 n (how many RCPT frames came before), u32 ret
	 *	(SPOOL_RET_*), str envid (decoded), str sum (SHA-256 of the
	 *	file, hex), u64 written (the file's length)
	 * COMMIT_RESULT: u64 reqid, u32 ok
	 * ABORT: str msgid (smtp gave up on it; no answer)
	 */
	IMSG_QUEUE_CREATE,
	IMSG_QUEUE_CREATE_RESULT,
	IMSG_QUEUE_RCPT,
	IMSG_QUEUE_COMMIT,
	IMSG_QUEUE_COMMIT_RESULT,
	IMSG_QUEUE_ABORT,

	/*
	 * queue <-> mda: local delivery.
	 * DELIVER: u64 evpid, str sender, str mailbox, str rcpt, str msgid,
	 *	u32 recipient index; fd (read-only) of the message
	 * RESULT: u64 evpid, u32 status (DELIVERY_*), str reason
	 */
	IMSG_MDA_DELIVER,
	IMSG_MDA_RESULT,

	/* parent <-> queue: posternctl queue commands, relayed.
	 * REQUEST: u32 ctlid, then the ctl_request payload
	 * OUTPUT/ERROR: u32 ctlid, str text;  END: u32 ctlid, u32 status */
	IMSG_QUEUE_CTL,
	IMSG_QUEUE_CTL_OUTPUT,
	IMSG_QUEUE_CTL_ERROR,
	IMSG_QUEUE_CTL_END,

	/*
	 * smtp, imap <-> auth: logins (RFC 4954 AUTH, IMAP LOGIN).
	 * LOGIN: u64 reqid, u32 service (AUTH_SVC_*), str client ip,
	 *	str user, str secret.  The secret is the password, the
	 *	password immediately followed by the current TOTP code, or
	 *	an app password.  Both sides wipe it (explicit_bzero) after
	 *	use; it is never logged.
	 * LOGIN_RESULT: u64 reqid, u32 result (AUTH_*), str account (the
	 *	canonical address on AUTH_OK, else ""), str text (a short
	 *	human reason for the reply, e.g. "password expired"; never
	 *	says whether the user exists).  auth sends it only after
	 *	its throttling delay, so the requester just relays it.
	 * SENDER: u64 reqid, str account, str address.  May this account
	 *	use address as envelope sender or header From: (its own
	 *	address, or an alias that expands to it)?
	 * SENDER_RESULT: u64 reqid, u32 ok (1 or 0)
	 */
	IMSG_AUTH_LOGIN,
	IMSG_AUTH_LOGIN_RESULT,
	IMSG_AUTH_SENDER,
	IMSG_AUTH_SENDER_RESULT,

	/* parent <-> auth: posternctl user commands, relayed, framed as
	 * the queue's: REQUEST: u32 ctlid, then the ctl_request payload;
	 * OUTPUT/ERROR: u32 ctlid, str text;  END: u32 ctlid, u32 status */
	IMSG_AUTH_CTL,
	IMSG_AUTH_CTL_OUTPUT,
	IMSG_AUTH_CTL_ERROR,
	IMSG_AUTH_CTL_END,

	IMSG_TYPE_MAX
};

#define RCPT_FLAG_AUTHENTICATED	0x1	/* submission after AUTH */

enum rcpt_result {
	RCPT_OK = 1,		/* one or more destinations follow */
	RCPT_UNKNOWN,		/* ours, but no such user: 550 5.1.1 */
	RCPT_RELAY_DENIED,	/* not ours and not allowed: 554 5.7.1 */
	RCPT_TEMPFAIL,		/* try later: 451 4.3.0 */
};

enum auth_service {
	AUTH_SVC_SMTP = 1,	/* submission */
	AUTH_SVC_IMAP,
};

enum auth_result {
	AUTH_OK = 1,
	AUTH_FAIL,		/* 535 5.7.8 / NO [AUTHENTICATIONFAILED] */
	AUTH_EXPIRED,		/* right password, too old: 535 5.7.8 expired */
	AUTH_TEMPFAIL,		/* 454 4.7.0 / NO [UNAVAILABLE] */
};

enum dest_kind {
	DEST_LOCAL = 1,
	DEST_REMOTE,
};

enum delivery_status {
	DELIVERY_OK = 1,
	DELIVERY_TEMPFAIL,
	DELIVERY_PERMFAIL,
};

#define QUEUE_MSGID_MAX	32	/* 16 hex digits and then some */
#define MAX_DESTS	200	/* destinations of one recipient */

const char	*imsg_type_name(unsigned int);

#endif /* POSTERN_PROTO_H */
