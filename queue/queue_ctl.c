/*
 * queue_ctl.c: posternctl's queue commands, relayed by the parent as
 * IMSG_QUEUE_CTL (u32 ctlid, then a ctl_request), answered with
 * IMSG_QUEUE_CTL_OUTPUT / _ERROR chunks (u32 ctlid, str text) and one
 * IMSG_QUEUE_CTL_END (u32 ctlid, u32 status).
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

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "log.h"
#include "posternd.h"
#include "proto.h"
#include "queue.h"

#define CTL_CHUNK	(48 * 1024)	/* output frames stay below 60 KB */
#define CTL_ESC_MAX	(4 * SPOOL_REASON_MAX + 1)

/* The answer being built for one request. */
struct ctl_out {
	struct imsgev	*iev;
	uint32_t	 ctlid;
	int		 json;
	char		*buf;
	size_t		 len;
	size_t		 cap;
};

struct ctl_cmd {
	const char	*name;
	int		 minargs;
	int		 maxargs;
	const char	*usage;
	int		(*run)(struct ctl_out *, struct ctl_request *);
};

static void	ctl_printf(struct ctl_out *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	ctl_error(struct ctl_out *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

static void
ctl_send(struct ctl_out *o, uint32_t type, const char *text, size_t len)
{
	struct ibuf	 ib;

	ibuf_init(&ib);
	ibuf_add_u32(&ib, o->ctlid);
	ibuf_add_strn(&ib, text, len);
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	imsgev_xcompose(o->iev, type, 0, 0, -1, ib.data, ib.len);
	ibuf_free(&ib);
}

static void
ctl_flush(struct ctl_out *o)
{
	size_t	 off, n;

	for (off = 0; off < o->len; off += n) {
		n = o->len - off;
		if (n > CTL_CHUNK)
			n = CTL_CHUNK;
		ctl_send(o, IMSG_QUEUE_CTL_OUTPUT, o->buf + off, n);
	}
	o->len = 0;
}

static void
ctl_add(struct ctl_out *o, const char *s, size_t n)
{
	char	*p;
	size_t	 cap;

	if (o->len + n + 1 > o->cap) {
		cap = o->cap == 0 ? 4096 : o->cap;
		while (cap < o->len + n + 1)
			cap *= 2;
		if ((p = realloc(o->buf, cap)) == NULL)
			fatal("%s", __func__);
		o->buf = p;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
	if (o->len >= CTL_CHUNK)
		ctl_flush(o);
}

static void
ctl_printf(struct ctl_out *o, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal("%s", __func__);
	ctl_add(o, s, (size_t)n);
	free(s);
}

static void
ctl_error(struct ctl_out *o, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctl_flush(o);
	ctl_send(o, IMSG_QUEUE_CTL_ERROR, msg, strlen(msg));
}

/* For text: network bytes made printable. */
static const char *
ctl_esc(const char *s, char *buf, size_t bufsz)
{
	return log_escape(buf, bufsz, s, strlen(s));
}

/* The length of the valid UTF-8 sequence at s, or 0. */
static size_t
ctl_utf8_len(const unsigned char *s)
{
	size_t	 n, i;
	uint32_t cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* A JSON string, quotes included. */
static void
ctl_json_str(struct ctl_out *o, const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	char			 esc[8];
	size_t			 n;

	ctl_add(o, "\"", 1);
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*s++;
			ctl_add(o, esc, 2);
		} else if (*s < 0x20 || *s == 0x7f) {
			(void)snprintf(esc, sizeof(esc), "\\u%04x", *s++);
			ctl_add(o, esc, 6);
		} else if (*s < 0x80)
			ctl_add(o, (const char *)s++, 1);
		else if ((n = ctl_utf8_len(s)) > 0) {
			ctl_add(o, (const char *)s, n);
			s += n;
		} else {
			ctl_add(o, "\\ufffd", 6);
			s++;
		}
	}
	ctl_add(o, "\"", 1);
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
	ctl_printf(o, "%s %6s %9llu <%s>", m->env.msgid, age,
	    (unsigned long long)m->env.size,
	    ctl_esc(m->env.sender, esc, sizeof(esc)));
	for (i = 0; i < m->env.nrcpts; i++)
		ctl_printf(o, " %s:%s",
		    ctl_esc(m->env.rcpts[i].dest, esc, sizeof(esc)),
		    queue_rcpt_status(m, i));
	ctl_printf(o, "\n");
}

static void
ctl_rcpt_json(struct ctl_out *o, struct queue_msg *m, size_t i)
{
	const struct spool_rcpt	*r = &m->env.rcpts[i];

	ctl_printf(o, "%s{\"dest\":", i > 0 ? "," : "");
	ctl_json_str(o, r->dest);
	ctl_printf(o, ",\"rcpt\":");
	ctl_json_str(o, r->orig);
	ctl_printf(o, ",\"kind\":\"%s\",\"state\":\"%s\",\"attempts\":%u,"
	    "\"next_try\":%lld,\"reason\":", spool_kind_name(r->kind),
	    queue_rcpt_status(m, i), r->attempts, (long long)r->next_try);
	ctl_json_str(o, r->reason);
	ctl_printf(o, "}");
}

static void
ctl_msg_json(struct ctl_out *o, struct queue_msg *m, time_t now)
{
	size_t	 i;

	ctl_printf(o, "{\"msgid\":\"%s\",\"created\":%lld,\"age\":%lld,"
	    "\"size\":%llu,\"sender\":", m->env.msgid,
	    (long long)m->env.created, (long long)(now - m->env.created),
	    (unsigned long long)m->env.size);
	ctl_json_str(o, m->env.sender);
	ctl_printf(o, ",\"client\":");
	ctl_json_str(o, m->env.client);
	ctl_printf(o, ",\"helo\":");
	ctl_json_str(o, m->env.helo);
	ctl_printf(o, ",\"removing\":%s,\"report\":%s,\"recipients\":[",
	    m->removing ? "true" : "false", m->env.is_report ? "true" :
	    "false");
	for (i = 0; i < m->env.nrcpts; i++)
		ctl_rcpt_json(o, m, i);
	ctl_printf(o, "]}");
}

static int
ctl_list(struct ctl_out *o, struct ctl_request *req)
{
	struct queue_msg	*m;
	time_t			 now = time(NULL);
	int			 first = 1;

	if (o->json)
		ctl_printf(o, "[");
	for (m = queue_msg_first(); m != NULL; m = queue_msg_next(m)) {
		if (o->json) {
			if (!first)
				ctl_printf(o, ",");
			ctl_msg_json(o, m, now);
		} else
			ctl_list_text(o, m, now);
		first = 0;
	}
	if (o->json)
		ctl_printf(o, "]\n");
	return 0;
}

/* show */

static void
ctl_show_rcpt(struct ctl_out *o, struct queue_msg *m, size_t i, time_t now)
{
	const struct spool_rcpt	*r = &m->env.rcpts[i];
	char			 esc[CTL_ESC_MAX], when[64], age[32];

	ctl_printf(o, "recipient:  %s\n", ctl_esc(r->dest, esc, sizeof(esc)));
	ctl_printf(o, "  given as: %s\n", ctl_esc(r->orig, esc, sizeof(esc)));
	ctl_printf(o, "  kind:     %s\n", spool_kind_name(r->kind));
	ctl_printf(o, "  state:    %s\n", queue_rcpt_status(m, i));
	ctl_printf(o, "  attempts: %u\n", r->attempts);
	if (r->state == SPOOL_RCPT_PENDING && r->next_try > now) {
		ctl_format_time(r->next_try, when, sizeof(when));
		ctl_format_age(r->next_try - now, age, sizeof(age));
		ctl_printf(o, "  next try: %s (in %s)\n", when, age);
	}
	if (r->reason[0] != '\0')
		ctl_printf(o, "  last error: %s\n",
		    ctl_esc(r->reason, esc, sizeof(esc)));
}

/* The message a command names, or NULL after an error. */
static struct queue_msg *
ctl_find(struct ctl_out *o, const char *id)
{
	struct queue_msg	*m;
	char			 esc[CTL_ESC_MAX];

	if (!spool_msgid_valid(id)) {
		ctl_error(o, "not a message id: %s", ctl_esc(id, esc,
		    sizeof(esc)));
		return NULL;
	}
	if ((m = queue_msg_find(id)) == NULL)
		ctl_error(o, "no message %s in the queue", id);
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
		ctl_printf(o, "\n");
		return 0;
	}
	ctl_format_time(m->env.created, when, sizeof(when));
	ctl_format_age(now - m->env.created, age, sizeof(age));
	ctl_printf(o, "message:    %s%s\n", m->env.msgid,
	    m->removing ? " (being removed)" : "");
	ctl_printf(o, "received:   %s (%s ago)\n", when, age);
	ctl_printf(o, "size:       %llu\n", (unsigned long long)m->env.size);
	ctl_printf(o, "sender:     <%s>%s\n", ctl_esc(m->env.sender, esc,
	    sizeof(esc)), m->env.is_report ? " (a delivery status "
	    "notification)" : "");
	ctl_printf(o, "client:     %s\n", ctl_esc(m->env.client, esc,
	    sizeof(esc)));
	ctl_printf(o, "helo:       %s\n", ctl_esc(m->env.helo, esc,
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
		ctl_printf(o, "{\"flushed\":%zu}\n", n);
	else
		ctl_printf(o, "%zu recipients scheduled now\n", n);
	return 0;
}

static int
ctl_remove(struct ctl_out *o, struct ctl_request *req)
{
	struct queue_msg	*m;

	if ((m = ctl_find(o, req->argv[2])) == NULL)
		return 1;
	if (m->removing) {
		ctl_error(o, "message %s is already being removed",
		    m->env.msgid);
		return 1;
	}
	queue_sched_remove(m);
	if (o->json)
		ctl_printf(o, "{\"removed\":\"%s\"}\n", req->argv[2]);
	else
		ctl_printf(o, "message %s removed\n", req->argv[2]);
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
		ctl_printf(o, "{\"paused\":%s}\n", on ? "true" : "false");
	else
		ctl_printf(o, "queue delivery %s\n", on ? "paused" : "resumed");
	return 0;
}

/* stats: also the tail of `posternctl status`, after its own output. */
static int
ctl_stats(struct ctl_out *o, struct ctl_request *req)
{
	struct queue_stats	 st;

	queue_sched_stats(&st);
	if (o->json) {
		ctl_printf(o, "{\"messages\":%zu,\"pending_local\":%zu,"
		    "\"deferred\":%zu,\"remote_waiting\":%zu,"
		    "\"in_delivery\":%zu,\"paused\":%s}\n", st.messages,
		    st.pending_local, st.deferred, st.remote_waiting,
		    st.in_delivery, st.paused ? "true" : "false");
		return 0;
	}
	ctl_printf(o, "\nqueue: %zu messages; recipients: %zu pending local "
	    "delivery (%zu deferred, %zu being delivered), %zu waiting for "
	    "remote delivery; delivery %s\n", st.messages, st.pending_local,
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
		ctl_error(o, "usage: queue list|show|flush|remove|pause|"
		    "resume|stats");
		return 1;
	}
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		c = &ctl_cmds[i];
		if (strcmp(req->argv[1], c->name) != 0)
			continue;
		if (req->argc < c->minargs || req->argc > c->maxargs) {
			ctl_error(o, "usage: %s", c->usage);
			return 1;
		}
		return c->run(o, req);
	}
	ctl_error(o, "unknown queue command; usage: queue list|show|flush|"
	    "remove|pause|resume|stats");
	return 1;
}

void
queue_ctl(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_request	 req;
	struct ctl_out		 o;
	struct imsg		 sub;
	uint32_t		 status;
	unsigned char		 end[2 * sizeof(uint32_t)];

	memset(&o, 0, sizeof(o));
	if (imsg->datalen < sizeof(o.ctlid))
		fatalx("IMSG_QUEUE_CTL: short payload");
	memcpy(&o.ctlid, imsg->data, sizeof(o.ctlid));
	sub = *imsg;
	sub.data = (unsigned char *)imsg->data + sizeof(o.ctlid);
	sub.datalen = imsg->datalen - sizeof(o.ctlid);
	if (ctl_request_decode(&sub, &req) == -1)
		fatalx("IMSG_QUEUE_CTL: malformed request");
	o.iev = iev;
	o.json = (req.flags & CTL_FLAG_JSON) != 0;
	status = (uint32_t)ctl_run(&o, &req);
	ctl_flush(&o);
	free(o.buf);
	ctl_request_free(&req);
	memcpy(end, &o.ctlid, sizeof(o.ctlid));
	memcpy(end + sizeof(o.ctlid), &status, sizeof(status));
	imsgev_xcompose(iev, IMSG_QUEUE_CTL_END, 0, 0, -1, end, sizeof(end));
}
