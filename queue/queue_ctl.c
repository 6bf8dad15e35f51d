/*
 * queue_ctl.c: posternctl's queue commands, relayed by the parent as
 * IMSG_QUEUE_CTL (u32 ctlid, then a ctl_request), answered with
 * IMSG_QUEUE_CTL_OUTPUT / _ERROR chunks (u32 ctlid, str text) and one
 * IMSG_QUEUE_CTL_END (u32 ctlid, u32 status), built with lib/ctlout.c.
 *
 *	queue list		one line per message
 *	queue show ID		a message's envelope
 *	queue flush [ID]	retry the waiting recipients now
 *	queue remove ID		take a message out of the queue
 *	queue pause | resume	stop / restart handing messages to mda
 *	queue stats		counts (posternctl status shows them)
 *
 * With CTL_FLAG_JSON the output is JSON.  Every string from an envelope
 * came from the network: text output escapes it (log_escape), JSON
 * output escapes it as JSON and replaces invalid UTF-8.
 *
 * Trusts: the parent, which checked the client's role; its request is
 * decoded strictly anyway and a malformed one is fatal.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "ctlout.h"
#include "log.h"
#include "posternd.h"
#include "proto.h"
#include "queue.h"

#define CTL_ESC_MAX	(4 * SPOOL_REASON_MAX + 1)

struct ctl_cmd {
	const char	*name;
	int		 minargs;
	int		 maxargs;
	const char	*usage;
	int		(*run)(struct ctl_out *, struct ctl_request *);
};

/* For text: network bytes made printable. */
static const char *
ctl_esc(const char *s, char *buf, size_t bufsz)
{
	return log_escape(buf, bufsz, s, strlen(s));
}

static void
ctl_format_age(time_t secs, char *buf, size_t sz)
{
	if (secs < 0)
		secs = 0;
	if (secs >= 86400)
		(void)snprintf(buf, sz, "%lldd%02lldh", (long long)secs / 86400,
		    (long long)(secs % 86400) / 3600);
	else if (secs >= 3600)
		(void)snprintf(buf, sz, "%lldh%02lldm", (long long)secs / 3600,
		    (long long)(secs % 3600) / 60);
	else if (secs >= 60)
		(void)snprintf(buf, sz, "%lldm", (long long)secs / 60);
	else
		(void)snprintf(buf, sz, "%llds", (long long)secs);
}

static void
ctl_format_time(time_t t, char *buf, size_t sz)
{
	struct tm	 tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(buf, sz, "%lld", (long long)t);
}

/* list */

static void
ctl_list_text(struct ctl_out *o, struct queue_msg *m, time_t now)
{
	char	 age[32], esc[CTL_ESC_MAX];
	size_t	 i;

	ctl_format_age(now - m->env.created, age, sizeof(age));
	ctl_out_printf(o, "%s %6s %9llu <%s>", m->env.msgid, age,
	    (unsigned long long)m->env.size,
	    ctl_esc(m->env.sender, esc, sizeof(esc)));
	for (i = 0; i < m->env.nrcpts; i++)
		ctl_out_printf(o, " %s:%s",
		    ctl_esc(m->env.rcpts[i].dest, esc, sizeof(esc)),
		    queue_rcpt_status(m, i));
	ctl_out_printf(o, "\n");
}

static void
ctl_rcpt_json(struct ctl_out *o, struct queue_msg *m, size_t i)
{
	const struct spool_rcpt	*r = &m->env.rcpts[i];

	ctl_out_printf(o, "%s{\"dest\":", i > 0 ? "," : "");
	ctl_out_json_str(o, r->dest);
	ctl_out_printf(o, ",\"rcpt\":");
	ctl_out_json_str(o, r->orig);
	ctl_out_printf(o, ",\"kind\":\"%s\",\"state\":\"%s\",\"attempts\":%u,"
	    "\"next_try\":%lld,\"reason\":", spool_kind_name(r->kind),
	    queue_rcpt_status(m, i), r->attempts, (long long)r->next_try);
	ctl_out_json_str(o, r->reason);
	ctl_out_printf(o, "}");
}

static void
ctl_msg_json(struct ctl_out *o, struct queue_msg *m, time_t now)
{
	size_t	 i;

	ctl_out_printf(o, "{\"msgid\":\"%s\",\"created\":%lld,\"age\":%lld,"
	    "\"size\":%llu,\"sender\":", m->env.msgid,
	    (long long)m->env.created, (long long)(now - m->env.created),
	    (unsigned long long)m->env.size);
	ctl_out_json_str(o, m->env.sender);
	ctl_out_printf(o, ",\"client\":");
	ctl_out_json_str(o, m->env.client);
	ctl_out_printf(o, ",\"helo\":");
	ctl_out_json_str(o, m->env.helo);
	ctl_out_printf(o, ",\"removing\":%s,\"report\":%s,\"recipients\":[",
	    m->removing ? "true" : "false", m->env.is_report ? "true" :
	    "false");
	for (i = 0; i < m->env.nrcpts; i++)
		ctl_rcpt_json(o, m, i);
	ctl_out_printf(o, "]}");
}

static int
ctl_list(struct ctl_out *o, struct ctl_request *req)
{
	struct queue_msg	*m;
	time_t			 now = time(NULL);
	int			 first = 1;

	if (o->json)
		ctl_out_printf(o, "[");
	for (m = queue_msg_first(); m != NULL; m = queue_msg_next(m)) {
		if (o->json) {
			if (!first)
				ctl_out_printf(o, ",");
			ctl_msg_json(o, m, now);
		} else
			ctl_list_text(o, m, now);
		first = 0;
	}
	if (o->json)
		ctl_out_printf(o, "]\n");
	return 0;
}

/* show */

static void
ctl_show_rcpt(struct ctl_out *o, struct queue_msg *m, size_t i, time_t now)
{
	const struct spool_rcpt	*r = &m->env.rcpts[i];
	char			 esc[CTL_ESC_MAX], when[64], age[32];

	ctl_out_printf(o, "recipient:  %s\n",
	    ctl_esc(r->dest, esc, sizeof(esc)));
	ctl_out_printf(o, "  given as: %s\n",
	    ctl_esc(r->orig, esc, sizeof(esc)));
	ctl_out_printf(o, "  kind:     %s\n", spool_kind_name(r->kind));
	ctl_out_printf(o, "  state:    %s\n", queue_rcpt_status(m, i));
	ctl_out_printf(o, "  attempts: %u\n", r->attempts);
	if (r->state == SPOOL_RCPT_PENDING && r->next_try > now) {
		ctl_format_time(r->next_try, when, sizeof(when));
		ctl_format_age(r->next_try - now, age, sizeof(age));
		ctl_out_printf(o, "  next try: %s (in %s)\n", when, age);
	}
	if (r->reason[0] != '\0')
		ctl_out_printf(o, "  last error: %s\n",
		    ctl_esc(r->reason, esc, sizeof(esc)));
}

/* The message a command names, or NULL after an error. */
static struct queue_msg *
ctl_find(struct ctl_out *o, const char *id)
{
	struct queue_msg	*m;
	char			 esc[CTL_ESC_MAX];

	if (!spool_msgid_valid(id)) {
		ctl_out_error(o, "not a message id: %s", ctl_esc(id, esc,
		    sizeof(esc)));
		return NULL;
	}
	if ((m = queue_msg_find(id)) == NULL)
		ctl_out_error(o, "no message %s in the queue", id);
	return m;
}

static int
ctl_show(struct ctl_out *o, struct ctl_request *req)
{
	struct queue_msg	*m;
	char			 esc[CTL_ESC_MAX], when[64], age[32];
	time_t			 now = time(NULL);
	size_t			 i;

	if ((m = ctl_find(o, req->argv[2])) == NULL)
		return 1;
	if (o->json) {
		ctl_msg_json(o, m, now);
		ctl_out_printf(o, "\n");
		return 0;
	}
	ctl_format_time(m->env.created, when, sizeof(when));
	ctl_format_age(now - m->env.created, age, sizeof(age));
	ctl_out_printf(o, "message:    %s%s\n", m->env.msgid,
	    m->removing ? " (being removed)" : "");
	ctl_out_printf(o, "received:   %s (%s ago)\n", when, age);
	ctl_out_printf(o, "size:       %llu\n",
	    (unsigned long long)m->env.size);
	ctl_out_printf(o, "sender:     <%s>%s\n", ctl_esc(m->env.sender, esc,
	    sizeof(esc)), m->env.is_report ? " (a delivery status "
	    "notification)" : "");
	ctl_out_printf(o, "client:     %s\n", ctl_esc(m->env.client, esc,
	    sizeof(esc)));
	ctl_out_printf(o, "helo:       %s\n", ctl_esc(m->env.helo, esc,
	    sizeof(esc)));
	for (i = 0; i < m->env.nrcpts; i++)
		ctl_show_rcpt(o, m, i, now);
	return 0;
}

/* flush, remove, pause, resume */

static int
ctl_flush_cmd(struct ctl_out *o, struct ctl_request *req)
{
	struct queue_msg	*m = NULL;
	size_t			 n;

	if (req->argc == 3 && (m = ctl_find(o, req->argv[2])) == NULL)
		return 1;
	n = queue_sched_flush(m);
	if (o->json)
		ctl_out_printf(o, "{\"flushed\":%zu}\n", n);
	else
		ctl_out_printf(o, "%zu recipients scheduled now\n", n);
	return 0;
}

static int
ctl_remove(struct ctl_out *o, struct ctl_request *req)
{
	struct queue_msg	*m;

	if ((m = ctl_find(o, req->argv[2])) == NULL)
		return 1;
	if (m->removing) {
		ctl_out_error(o, "message %s is already being removed",
		    m->env.msgid);
		return 1;
	}
	queue_sched_remove(m);
	if (o->json)
		ctl_out_printf(o, "{\"removed\":\"%s\"}\n", req->argv[2]);
	else
		ctl_out_printf(o, "message %s removed\n", req->argv[2]);
	return 0;
}

static int
ctl_pause(struct ctl_out *o, struct ctl_request *req)
{
	int	 on = strcmp(req->argv[1], "pause") == 0;

	queue_sched_pause(on);
	log_info("queue delivery %s by the administrator",
	    on ? "paused" : "resumed");
	if (o->json)
		ctl_out_printf(o, "{\"paused\":%s}\n", on ? "true" : "false");
	else
		ctl_out_printf(o, "queue delivery %s\n",
		    on ? "paused" : "resumed");
	return 0;
}

/* stats: also the tail of `posternctl status`, after its own output. */
static int
ctl_stats(struct ctl_out *o, struct ctl_request *req)
{
	struct queue_stats	 st;

	queue_sched_stats(&st);
	if (o->json) {
		ctl_out_printf(o, "{\"messages\":%zu,\"pending_local\":%zu,"
		    "\"deferred\":%zu,\"remote_waiting\":%zu,"
		    "\"in_delivery\":%zu,\"paused\":%s}\n", st.messages,
		    st.pending_local, st.deferred, st.remote_waiting,
		    st.in_delivery, st.paused ? "true" : "false");
		return 0;
	}
	ctl_out_printf(o, "\nqueue: %zu messages; recipients: %zu pending "
	    "local delivery (%zu deferred, %zu being delivered), %zu waiting "
	    "for remote delivery; delivery %s\n", st.messages, st.pending_local,
	    st.deferred, st.in_delivery, st.remote_waiting,
	    st.paused ? "PAUSED" : "running");
	return 0;
}

static const struct ctl_cmd ctl_cmds[] = {
	{ "list",	2, 2, "queue list",		ctl_list },
	{ "show",	3, 3, "queue show ID",		ctl_show },
	{ "flush",	2, 3, "queue flush [ID]",	ctl_flush_cmd },
	{ "remove",	3, 3, "queue remove ID",	ctl_remove },
	{ "pause",	2, 2, "queue pause",		ctl_pause },
	{ "resume",	2, 2, "queue resume",		ctl_pause },
	{ "stats",	2, 2, "queue stats",		ctl_stats },
};

static int
ctl_run(struct ctl_out *o, struct ctl_request *req)
{
	const struct ctl_cmd	*c;
	size_t			 i;

	if (req->argc < 2 || strcmp(req->argv[0], "queue") != 0) {
		ctl_out_error(o, "usage: queue list|show|flush|remove|pause|"
		    "resume|stats");
		return 1;
	}
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		c = &ctl_cmds[i];
		if (strcmp(req->argv[1], c->name) != 0)
			continue;
		if (req->argc < c->minargs || req->argc > c->maxargs) {
			ctl_out_error(o, "usage: %s", c->usage);
			return 1;
		}
		return c->run(o, req);
	}
	ctl_out_error(o, "unknown queue command; usage: queue list|show|flush|"
	    "remove|pause|resume|stats");
	return 1;
}

void
queue_ctl(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_request	 req;
	struct ctl_out		 o;
	uint32_t		 status;

	ctl_out_begin(&o, iev, imsg, IMSG_QUEUE_CTL_OUTPUT, &req);
	status = (uint32_t)ctl_run(&o, &req);
	ctl_request_free(&req);
	ctl_out_end(&o, status);
}
