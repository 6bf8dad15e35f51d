/*
 * queue.h: what the files of the queue role share.
 *
 *	queue.c		the role: start-up and recovery, messages
 *			coming in from smtp (CREATE, RCPT, COMMIT, ABORT),
 *			and the sync pass that makes commits and envelope
 *			updates durable in batches
 *	queue_sched.c	the messages in the queue: handing local
 *			recipients to mda, results, retries, expiry,
 *			pause, flush, remove
 *	queue_dsn.c	delivery status notifications for the recipients
 *			that failed, were delivered with NOTIFY=SUCCESS or
 *			have waited queue.delay_warning: auth resolves the
 *			sender, the DSN is committed like a message from smtp
 *	queue_ctl.c	posternctl's queue commands, relayed by the parent
 *	lib/spool.c	the files on disk
 *
 * A message in memory mirrors its envelope file; the sync pass writes
 * the memory back whenever a recipient's state changes.
 */

#ifndef POSTERN_QUEUE_H
#define POSTERN_QUEUE_H

#include <sys/types.h>
#include <sys/queue.h>

#include "compat.h"
#include <sys/tree.h>

#include <stdint.h>
#include <time.h>

#include "imsgev.h"
#include "spool.h"

/* Where a recipient's task is. */
enum queue_task_where {
	QUEUE_TASK_IDLE,	/* nothing to do (final, remote, cancelled) */
	QUEUE_TASK_READY,	/* due, waiting for a delivery slot */
	QUEUE_TASK_WAIT,	/* due later (retry) */
	QUEUE_TASK_FLIGHT,	/* handed to mda, no answer yet */
};

struct queue_msg;

/*
 * The DSNs a recipient owes besides its failure's (queue_dsn.c), in
 * memory only.  A delivered recipient whose DSN is owed stays pending
 * (on disk too) until the DSN is committed.
 */
#define QUEUE_NOTICE_DELIVERED	0x1	/* delivered, its DSN owed */
#define QUEUE_NOTICE_DELAY	0x2	/* a delayed DSN owed */
#define QUEUE_NOTICE_DELAY_SENT	0x4	/* made or not wanted: not again */

/* The scheduling state of one recipient of a message. */
struct queue_task {
	TAILQ_ENTRY(queue_task)	 ready_entry;
	RB_ENTRY(queue_task)	 node;		/* wait or flight */
	struct queue_msg	*msg;
	size_t			 idx;		/* its rcpt */
	uint64_t		 id;		/* fresh per tree insertion;
						 * in flight, the evpid */
	time_t			 when;		/* due then */
	enum queue_task_where	 where;
	unsigned int		 notice;	/* QUEUE_NOTICE_* */
};

/* Where a message's DSN work is (queue_dsn.c). */
enum queue_dsn_where {
	QUEUE_DSN_NONE,		/* nothing owed, or not yet noticed */
	QUEUE_DSN_LISTED,	/* waiting until dsn_when */
	QUEUE_DSN_BUSY,		/* at auth, or its DSN being committed */
};

struct queue_msg {
	RB_ENTRY(queue_msg)	 entry;		/* by msgid */
	TAILQ_ENTRY(queue_msg)	 sync_entry;	/* sync pass */
	TAILQ_ENTRY(queue_msg)	 dsn_entry;	/* DSN list */
	enum queue_dsn_where	 dsn;
	time_t			 dsn_when;
	struct spool_envelope	 env;
	struct queue_task	*tasks;		/* env.nrcpts of them */
	int			 inflight;	/* tasks at mda */
	int			 on_sync;
	int			 sync_deferred;	/* a removal put off once */
	int			 removing;	/* queue remove */
};

struct queue_stats {
	size_t	 messages;
	size_t	 pending_local;		/* local, not yet done */
	size_t	 deferred;		/* of which tried before */
	size_t	 remote_waiting;
	size_t	 in_delivery;
	int	 paused;
};

/* Called after the sync pass that committed (ok 1) or not a message of
 * queue_commit_internal, with its msgid. */
typedef void	(*queue_commit_fn)(void *arg, int ok, const char *msgid);

/* queue.c */
void		 queue_sync_msg(struct queue_msg *);
void		 queue_commit_internal(struct spool_envelope *,
		    queue_commit_fn, void *);

/* queue_dsn.c */
void		 queue_dsn_init(void);
void		 queue_dsn_want(struct queue_msg *);
int		 queue_dsn_delivered(struct queue_task *);
void		 queue_dsn_deferred(struct queue_task *);
void		 queue_dsn_auth_result(struct imsg *);

/* queue_sched.c */
void		 queue_sched_init(void);
void		 queue_sched_load(struct spool_envelope *, int recovered);
void		 queue_sched_start(void);
void		 queue_sched_result(struct imsg *);
int		 queue_msg_obsolete(const struct queue_msg *);
void		 queue_msg_free(struct queue_msg *);
struct queue_msg *queue_msg_find(const char *);
struct queue_msg *queue_msg_first(void);
struct queue_msg *queue_msg_next(struct queue_msg *);
size_t		 queue_sched_flush(const struct queue_msg *);
void		 queue_sched_remove(struct queue_msg *);
void		 queue_sched_pause(int);
void		 queue_sched_stats(struct queue_stats *);
const char	*queue_rcpt_status(const struct queue_msg *, size_t);

/* queue_ctl.c */
void		 queue_ctl(struct imsgev *, struct imsg *);

#endif /* POSTERN_QUEUE_H */
