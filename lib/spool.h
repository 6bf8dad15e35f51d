/*
 * spool.h: the queue's on-disk spool, for the queue role.
 *
 * The queue runs chrooted in state_dir/queue, so every path here is
 * relative to the current directory, which is the spool's root:
 *
 *	incoming/<msgid>	a message being received (smtp writes it)
 *	messages/<msgid>	a committed message body
 *	envelopes/<msgid>	its envelope: the commit point
 *	envelopes/<msgid>.tmp	an envelope being written
 *	corrupt/		quarantined envelopes and their messages
 *	clean			left by a clean shutdown (spool_mark_clean)
 *
 * A message is in the queue exactly when envelopes/<msgid> exists (and
 * parses).  Recovery (spool_recover) makes the rest agree with that:
 * incoming/ and *.tmp are emptied, a message without an envelope is
 * removed, an envelope that does not parse or has no message is moved to
 * corrupt/ and reported, never trusted and never fatal.
 *
 * A msgid is 16 lowercase hex digits from arc4random(3).
 *
 * The envelope file is text, one record per line, in this order:
 *
 *	postern-envelope 3
 *	msgid <msgid>
 *	created <epoch seconds>
 *	size <bytes of the message file>
 *	sum <SHA-256 of the message file, 64 lowercase hex digits>
 *	sender <str>
 *	client <str>
 *	helo <str>
 *	dsn <type> <ret> <envid>
 *	rcpt <kind> <state> <attempts> <next-try epoch> <dest> <orig> <reason>
 *	    <notify> <orcpt>
 *	... (one rcpt line per destination, at least one)
 *	end
 *
 * kind is "local" or "remote"; state is "pending" (local, to deliver at
 * next-try), "remote" (waiting for outbound delivery), "done", "bounce"
 * (failed, the DSN to the sender not yet made) or "failed" (final).
 * The dsn record holds RFC 3461's envelope parameters: type is "message"
 * or "report" (the message is itself a DSN: it never bounces and its
 * sender is null), ret is "-" (not given), "full" or "hdrs", envid a
 * <str> (RET and ENVID of MAIL FROM).  notify is NOTIFY of RCPT TO as a
 * number: 0 when not given, else SPOOL_NOTIFY_* bits; orcpt a <str>,
 * ORCPT decoded ("rfc822;a@b.example"), empty when not given.  A
 * version 1 envelope (written before DSNs existed: no dsn record, seven
 * rcpt fields) is still read, as type message with no parameters; a
 * version 2 one is version 3 without the sum record, and is written so
 * when the envelope has no sum (it was committed before sums existed).
 *
 * The sum lets a commit have a single barrier: the message file, its
 * rename into messages/ and its envelope become durable together, so a
 * crash of the machine during that barrier can leave an envelope whose
 * message is not all on disk.  Nobody was told 250 for it; recovery
 * finds it by its sum and quarantines it.  Recovery checks the sums only
 * after an unclean stop: a clean shutdown leaves the file "clean",
 * which recovery removes (durably) before anything else happens.
 * Numbers are decimal without leading zeros.  A <str> is
 * written with every byte outside '!'..'~' and every '%' as %HH
 * (uppercase hex), and the empty string as "-" (so "-" itself is "%2D"):
 * a field never holds a space and a line always splits the same way.
 * The parser accepts exactly this form and nothing else: unknown or
 * missing records, extra fields, non-canonical escapes, NUL bytes,
 * out-of-range numbers, a local kind with the remote state (and the
 * reverse), control characters in an address, a msgid that differs from
 * the file's name, a missing "end" line or bytes after it.
 *
 * Functions that touch the disk return 0 or -1 with errno set and never
 * log: the caller knows what the failure means.
 */

#ifndef POSTERN_SPOOL_H
#define POSTERN_SPOOL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <time.h>

struct syncset;

#define SPOOL_MSGID_LEN		16
#define SPOOL_MSGID_SIZE	(SPOOL_MSGID_LEN + 1)
#define SPOOL_ADDR_MAX		256		/* with its NUL */
#define SPOOL_HELO_MAX		256
#define SPOOL_CLIENT_MAX	64
#define SPOOL_REASON_MAX	256
#define SPOOL_ENVID_MAX		101		/* RFC 3461 4.4: 100 */
#define SPOOL_ORCPT_MAX		501		/* RFC 3461 4.2: 500 */
#define SPOOL_SUM_LEN		64		/* SHA-256 in hex */
#define SPOOL_SUM_SIZE		(SPOOL_SUM_LEN + 1)
#define SPOOL_MAX_RCPTS		20000		/* 100 x 200 dests */
#define SPOOL_ENVELOPE_MAX	(32 * 1024 * 1024) /* a file */
#define SPOOL_TIME_MAX		((time_t)1 << 40)
#define SPOOL_ATTEMPTS_MAX	1000000
#define SPOOL_ERR_SIZE		128

#define SPOOL_INCOMING		"incoming"
#define SPOOL_MESSAGES		"messages"
#define SPOOL_ENVELOPES		"envelopes"
#define SPOOL_CORRUPT		"corrupt"

/* The dest_kind values of proto.h. */
#define SPOOL_KIND_LOCAL	1
#define SPOOL_KIND_REMOTE	2

enum spool_rcpt_state {
	SPOOL_RCPT_PENDING = 1,	/* local: deliver at next_try */
	SPOOL_RCPT_REMOTE,	/* remote: waits for outbound delivery */
	SPOOL_RCPT_DONE,	/* delivered: never again */
	SPOOL_RCPT_FAILED,	/* permanent failure or expiry, DSN made */
	SPOOL_RCPT_BOUNCE,	/* failed, the DSN still to make */
};

/* RET of MAIL FROM. */
#define SPOOL_RET_NONE		0
#define SPOOL_RET_FULL		1
#define SPOOL_RET_HDRS		2

/* NOTIFY of RCPT TO; 0 means not given (failures and delays notify). */
#define SPOOL_NOTIFY_SUCCESS	0x1
#define SPOOL_NOTIFY_FAILURE	0x2
#define SPOOL_NOTIFY_DELAY	0x4
#define SPOOL_NOTIFY_NEVER	0x8

struct spool_rcpt {
	uint32_t		 kind;		/* SPOOL_KIND_* */
	enum spool_rcpt_state	 state;
	uint32_t		 attempts;
	time_t			 next_try;
	/* the mailbox (local) or address (remote) */
	char			 dest[SPOOL_ADDR_MAX];
	/* the recipient as the client gave it */
	char			 orig[SPOOL_ADDR_MAX];
	/* why the last attempt failed */
	char			 reason[SPOOL_REASON_MAX];
	uint32_t		 notify;	/* SPOOL_NOTIFY_*, 0 */
	char			 orcpt[SPOOL_ORCPT_MAX];	/* or "" */
};

struct spool_envelope {
	char			 msgid[SPOOL_MSGID_SIZE];
	time_t			 created;
	uint64_t		 size;
	char			 sum[SPOOL_SUM_SIZE];	/* or "" (version 2) */
	char			 sender[SPOOL_ADDR_MAX]; /* "" for <> */
	char			 client[SPOOL_CLIENT_MAX];
	char			 helo[SPOOL_HELO_MAX];
	int			 is_report;	/* a DSN: no bounce */
	int			 ret;		/* SPOOL_RET_* */
	char			 envid[SPOOL_ENVID_MAX];	/* or "" */
	struct spool_rcpt	*rcpts;
	size_t			 nrcpts;
};

/* Recovery's counts, for the queue.recover event. */
struct spool_recovery {
	size_t	 incoming;	/* unfinished receptions removed */
	size_t	 tmp;		/* unfinished envelopes removed */
	size_t	 orphans;	/* messages without envelope removed */
	size_t	 corrupt;	/* envelopes quarantined */
	size_t	 loaded;	/* envelopes handed to the callback */
	int	 clean;		/* the last stop was clean: no sums read */
	size_t	 verified;	/* messages whose sum was checked */
};

/* Called by spool_recover for what it quarantines: name and why. */
typedef void	(*spool_corrupt_fn)(const char *name, const char *why,
		    void *arg);
/* Called with each good envelope; the callback owns it from then on. */
typedef void	(*spool_load_fn)(struct spool_envelope *, void *arg);

/* msgids */
int		 spool_msgid_valid(const char *);
void		 spool_msgid_new(char *, size_t);

/* Creates the directories below the current directory, mode 0700. */
int		 spool_setup(void);

/*
 * Creates incoming/<msgid> (O_EXCL, 0600) with a fresh msgid that is not
 * in use in messages/ or envelopes/ either; returns a writable fd and
 * fills msgid (SPOOL_MSGID_SIZE bytes), or -1.  Also creates an empty
 * envelopes/<msgid>.tmp for the commit, if it can: whoever gives the
 * message up unlinks that too (spool_unlink(SPOOL_ENVELOPES, msgid,
 * ".tmp")), and recovery removes any left over.
 */
int		 spool_create(char *msgid, size_t);
/*
 * Spares: message files (incoming/spare-<msgid>) and envelope files
 * (envelopes/spare-<id>.tmp) made ahead of need, so that handing out a
 * message file costs renames instead of inode allocations.
 *
 * spool_spare_make is spool_create under the spare names (one id; the
 * envelope's spare only if with_envelope).  spool_spare_take renames incoming/spare-<msgid> to
 * incoming/<msgid>, spool_spare_take_envelope envelopes/spare-<id>.tmp
 * to envelopes/<msgid>.tmp; neither replaces a file (-1 with EEXIST).
 * spool_spare_drop and spool_spare_drop_envelope unlink a spare.
 *
 * Recycling: a message file or envelope whose message left the queue
 * becomes a spare instead of being unlinked, which on ext4 without a
 * journal spares the allocator a scan of every recently freed inode.
 * spool_recycle_message renames messages/<msgid> to incoming/spare-<new>
 * and returns it truncated and open for writing (its new msgid in
 * spareid, SPOOL_MSGID_SIZE bytes): smtp writes it and must never leave
 * a previous message's bytes in it.  spool_recycle_envelope renames
 * envelopes/<msgid> to envelopes/spare-<new>.tmp as it is (0 or -1):
 * the queue's own spool_envelope_write_tmp overwrites it and cuts it to
 * length, so its block is reused rather than freed.
 * Either removes the old name exactly as unlinking it would.
 *
 * Recovery removes spares with the rest of incoming/ and the .tmp files
 * in envelopes/.
 */
#define SPOOL_SPARE	"spare-"
int		 spool_spare_make(char *msgid, size_t, int with_envelope);
int		 spool_spare_take(const char *msgid);
int		 spool_spare_take_envelope(const char *spareid,
		    const char *msgid);
void		 spool_spare_drop(const char *msgid);
void		 spool_spare_drop_envelope(const char *spareid);
int		 spool_recycle_message(const char *msgid, char *spareid,
		    size_t);
int		 spool_recycle_envelope(const char *msgid, char *spareid,
		    size_t);

/*
 * Opens dir/msgid read-only, checks it is a regular file and stores its
 * size: the fd for a syncset (syncset.h) or -1.
 */
int		 spool_open_sync(const char *dir, const char *msgid,
		    uint64_t *size);
/* incoming/<msgid> -> messages/<msgid> */
int		 spool_move_incoming(const char *msgid);
/* Opens messages/<msgid> read-only, for delivery. */
int		 spool_open_message(const char *msgid);
/*
 * The SHA-256 of fd's bytes (read with pread from offset 0) as
 * lowercase hex into sum (SPOOL_SUM_SIZE bytes), their count into size:
 * 0 or -1 with errno.
 */
int		 spool_sum_fd(int, uint64_t *size, char *sum, size_t);
/*
 * The same sum for bytes hashed elsewhere (smtp hashes a message as it
 * writes it): finishes ctx (an EVP_sha256 digest) into sum.  0 or -1.
 */
int		 spool_sum_final(EVP_MD_CTX *, char *sum, size_t sumsz);
/* The same sum of len bytes at buf: 0 or -1. */
int		 spool_sum_buf(const void *buf, size_t len, char *sum,
		    size_t sumsz);
int		 spool_sum_valid(const char *);
/*
 * Leaves "clean" (fsynced, with the spool's root) for the next start:
 * call it last, when every commit is durable and no other will follow.
 */
int		 spool_mark_clean(void);
/* write(2) until all of it is written: 0, or -1 with errno. */
int		 spool_write_all(int, const char *, size_t);

/*
 * envelopes/<msgid>.tmp written, its fd added to the syncset (durable at
 * the set's flush, not yet renamed); on failure it is removed.
 */
int		 spool_envelope_write_tmp(const struct spool_envelope *,
		    struct syncset *);
/* envelopes/<msgid>.tmp -> envelopes/<msgid>: the commit point. */
int		 spool_envelope_install(const char *msgid);
/* Unlinks one file of a message; ENOENT counts as success. */
int		 spool_unlink(const char *dir, const char *msgid,
		    const char *suffix);
/* Moves envelopes/<name> and messages/<name> (if there) to corrupt/. */
int		 spool_quarantine(const char *name);

/*
 * Encoding and parsing; the pure half, unit tested.  encode returns a
 * malloc'd buffer (free it) or NULL (ENOMEM, or EINVAL when the envelope
 * would not parse back).  parse fills env (free with
 * spool_envelope_free) or returns -1 with a reason in err.
 */
char		*spool_envelope_encode(const struct spool_envelope *,
		    size_t *len);
int		 spool_envelope_parse(const char *buf, size_t len,
		    const char *name, struct spool_envelope *,
		    char *err, size_t errsz);
/* Reads and parses envelopes/<msgid>: 0, -1 (errno), -2 (corrupt: err). */
int		 spool_envelope_read(const char *msgid,
		    struct spool_envelope *, char *err, size_t errsz);
/* Checks what parse checks: 0 or -1 with a reason in err. */
int		 spool_envelope_check(const struct spool_envelope *,
		    char *err, size_t errsz);
void		 spool_envelope_free(struct spool_envelope *);

/* String encoding of one field (exposed for the tests). */
int		 spool_str_encode(const char *, char *, size_t);
int		 spool_str_decode(const char *, char *, size_t);

const char	*spool_state_name(enum spool_rcpt_state);
const char	*spool_kind_name(uint32_t);

/*
 * Recovery, at start-up: empties incoming/ and envelopes/ *.tmp, loads
 * every envelope (quarantining the bad ones: after an unclean stop also
 * those whose message does not match its size and sum), then removes the
 * messages no envelope refers to.  -1 only when a directory cannot be
 * read or the "clean" file cannot be removed durably.
 */
int		 spool_recover(spool_load_fn, spool_corrupt_fn, void *arg,
		    struct spool_recovery *);

#endif /* POSTERN_SPOOL_H */
