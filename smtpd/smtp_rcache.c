/*
 * smtp_rcache.c: the answers auth gave to RCPT lookups, kept so that
 * the next RCPT for the same address does not wait for auth.
 *
 * Owns: a small table of answers.  Trusts: auth, which sends
 * IMSG_AUTH_RCPT_FLUSH whenever an answer may have changed (an account
 * added or removed, a reload).  The flush and the answers come over one
 * channel, in order, so an answer that arrives after a flush was
 * computed after the change.  As a bound on any mistake, an answer is
 * also forgotten after SMTP_RCACHE_TTL seconds.
 *
 * Only definite answers are kept (OK, unknown user, relay denied; never
 * a temporary failure), and only those with few destinations.  When the
 * table is full it is emptied: the cache is a shortcut, not a store.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include "compat.h"
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "smtp.h"

#define SMTP_RCACHE_MAX	1024	/* answers kept at most */
#define SMTP_RCACHE_TTL	60	/* seconds an answer is kept at most */

struct smtp_rcache_ent {
	RB_ENTRY(smtp_rcache_ent)	 entry;
	char				 addr[CONFIG_ADDR_MAX];
	uint32_t			 flags;
	time_t				 when;
	struct smtp_rcpt_answer		 ans;
};

RB_HEAD(smtp_rcache, smtp_rcache_ent);

static int	smtp_rcache_cmp(struct smtp_rcache_ent *,
		    struct smtp_rcache_ent *);
RB_GENERATE_STATIC(smtp_rcache, smtp_rcache_ent, entry, smtp_rcache_cmp)

static struct smtp_rcache	 rcache = RB_INITIALIZER(&rcache);
static size_t			 nrcache;

static int
smtp_rcache_cmp(struct smtp_rcache_ent *a, struct smtp_rcache_ent *b)
{
	if (a->flags != b->flags)
		return a->flags < b->flags ? -1 : 1;
	return strcmp(a->addr, b->addr);
}

static time_t
smtp_rcache_now(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return ts.tv_sec;
}

void
smtp_rcache_flush(void)
{
	struct smtp_rcache_ent	*e;

	while ((e = RB_ROOT(&rcache)) != NULL) {
		RB_REMOVE(smtp_rcache, &rcache, e);
		free(e);
	}
	nrcache = 0;
}

/* A copy of the answer for addr looked up with flags into *ans, or 0. */
int
smtp_rcache_get(const char *addr, uint32_t flags,
    struct smtp_rcpt_answer *ans)
{
	struct smtp_rcache_ent	 key, *e;

	memset(&key, 0, sizeof(key));
	if (strlcpy(key.addr, addr, sizeof(key.addr)) >= sizeof(key.addr))
		return 0;
	key.flags = flags;
	if ((e = RB_FIND(smtp_rcache, &rcache, &key)) == NULL)
		return 0;
	if (smtp_rcache_now() - e->when >= SMTP_RCACHE_TTL) {
		RB_REMOVE(smtp_rcache, &rcache, e);
		free(e);
		nrcache--;
		return 0;
	}
	*ans = e->ans;
	return 1;
}

void
smtp_rcache_put(const char *addr, uint32_t flags,
    const struct smtp_rcpt_answer *ans)
{
	struct smtp_rcache_ent	*e, *old;

	if (ans->result == RCPT_TEMPFAIL || ans->n > SMTP_RCPT_ANSWER_MAX)
		return;
	if (nrcache >= SMTP_RCACHE_MAX)
		smtp_rcache_flush();
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return;		/* a shortcut lost, nothing else */
	if (strlcpy(e->addr, addr, sizeof(e->addr)) >= sizeof(e->addr)) {
		free(e);
		return;
	}
	e->flags = flags;
	e->when = smtp_rcache_now();
	e->ans = *ans;
	if ((old = RB_INSERT(smtp_rcache, &rcache, e)) != NULL) {
		RB_REMOVE(smtp_rcache, &rcache, old);
		free(old);
		(void)RB_INSERT(smtp_rcache, &rcache, e);
		return;
	}
	nrcache++;
}
