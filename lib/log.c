/*
 * log.c: log records and audit events for every postern process.
 *
 * Owns: the local writer (stderr or syslog) and the JSON-lines event file,
 * both used by the parent only; in children a sink installed with
 * log_set_sink() forwards records to the parent instead.
 * Trusts: nothing in event field values; they are escaped on the way in
 * (log_event_add) and the encoding is checked again on the way out
 * (log_event_decode), since events from children cross a process border.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int		 log_foreground = 1;
static int		 log_level = LOG_INFO;
static const char	*log_proc = "posternd";
static log_sink_fn	 log_sink;
static log_event_sink_fn log_event_sink;
static int		 log_event_fd = -1;

void
log_init(int foreground, int level, int facility)
{
	log_foreground = foreground;
	log_level = level;
	if (!foreground)
		openlog("posternd", LOG_PID | LOG_NDELAY, facility);
	tzset();
}

void
log_set_level(int level)
{
	log_level = level;
}

int
log_get_level(void)
{
	return log_level;
}

void
log_set_procname(const char *name)
{
	log_proc = name;
}

const char *
log_procname(void)
{
	return log_proc;
}

void
log_set_sink(log_sink_fn sink, log_event_sink_fn event_sink)
{
	log_sink = sink;
	log_event_sink = event_sink;
}

void
log_write(int pri, const char *procname, const char *line)
{
	char		 ts[32];
	struct tm	 tm;
	time_t		 now;

	if (!log_foreground) {
		syslog(pri, "%s: %s", procname, line);
		return;
	}
	now = time(NULL);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		ts[0] = '\0';
	fprintf(stderr, "%s %s: %s\n", ts, procname, line);
	fflush(stderr);
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	char	 line[LOG_LINE_MAX];
	int	 saved_errno = errno;

	if (pri > log_level) {
		errno = saved_errno;
		return;
	}
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	if (log_sink != NULL)
		log_sink(pri, line);
	else
		log_write(pri, log_proc, line);
	errno = saved_errno;
}

static void
vlog_errno(int pri, int err, const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX], line[LOG_LINE_MAX];

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err == 0)
		(void)strlcpy(line, msg, sizeof(line));
	else if (snprintf(line, sizeof(line), "%s: %s", msg,
	    strerror(err)) < 0)
		(void)strlcpy(line, msg, sizeof(line));
	if (log_sink != NULL)
		log_sink(pri, line);
	else
		log_write(pri, log_proc, line);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	if (LOG_WARNING > log_level)
		return;
	va_start(ap, fmt);
	vlog_errno(LOG_WARNING, saved_errno, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, saved_errno, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Puts the escaped form of c into esc; returns its length (1 to 4). */
static size_t
log_escape_char(unsigned char c, char esc[4])
{
	static const char hex[] = "0123456789abcdef";

	if (c == '\\' || c == '"') {
		esc[0] = '\\';
		esc[1] = (char)c;
		return 2;
	}
	if (c == '\n' || c == '\r' || c == '\t') {
		esc[0] = '\\';
		esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		return 2;
	}
	if (c < 0x20 || c > 0x7e) {
		esc[0] = '\\';
		esc[1] = 'x';
		esc[2] = hex[c >> 4];
		esc[3] = hex[c & 0xf];
		return 4;
	}
	esc[0] = (char)c;
	return 1;
}

char *
log_escape(char *dst, size_t dstsz, const char *src, size_t len)
{
	char	 esc[4];
	size_t	 i, o = 0, n, total = 0, reserve = 0;

	if (dstsz == 0)
		return dst;
	for (i = 0; i < len; i++)
		total += log_escape_char((unsigned char)src[i], esc);
	/* A value that does not fit is cut at an escape's edge and ends
	 * in "...", so a reader knows it is short. */
	if (total + 1 > dstsz)
		reserve = 3;
	for (i = 0; i < len; i++) {
		n = log_escape_char((unsigned char)src[i], esc);
		if (o + n + reserve + 1 > dstsz)
			break;
		memcpy(dst + o, esc, n);
		o += n;
	}
	if (reserve != 0 && o + reserve + 1 <= dstsz) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

/*
 * Event encoding: name\0key\0value\0key\0value\0 ... Values are already
 * escaped, so they hold printable ASCII only.
 */
static void
log_event_put(struct log_event *ev, const char *s)
{
	size_t	 n = strlen(s) + 1;

	if (ev->overflow || ev->len + n > sizeof(ev->buf)) {
		ev->overflow = 1;
		return;
	}
	memcpy(ev->buf + ev->len, s, n);
	ev->len += n;
}

void
log_event_begin(struct log_event *ev, const char *name)
{
	ev->len = 0;
	ev->nfields = 0;
	ev->overflow = 0;
	log_event_put(ev, name);
}

void
log_event_add(struct log_event *ev, const char *key, const char *fmt, ...)
{
	char	 raw[1024], esc[LOG_LINE_MAX];
	va_list	 ap;
	int	 r;

	if (ev->nfields >= LOG_EVENT_FIELDS) {
		ev->overflow = 1;
		return;
	}
	va_start(ap, fmt);
	r = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (r < 0)
		raw[0] = '\0';
	log_escape(esc, sizeof(esc), raw,
	    r < 0 ? 0 : (size_t)r >= sizeof(raw) ? sizeof(raw) - 1 : (size_t)r);
	log_event_put(ev, key);
	log_event_put(ev, esc);
	ev->nfields++;
}

void
log_event_end(struct log_event *ev)
{
	struct log_event_view	 view;

	if (ev->overflow)
		log_warnx("event %s: too many or too long fields, truncated",
		    ev->buf);
	if (log_event_sink != NULL) {
		log_event_sink(ev->buf, ev->len);
		return;
	}
	if (log_event_decode(ev->buf, ev->len, &view) == -1)
		fatalx("%s: bad local event", __func__);
	log_event_write(log_proc, &view);
}

static int
log_event_word_ok(const char *s, int is_key)
{
	if (*s == '\0')
		return !is_key;
	for (; *s != '\0'; s++) {
		if (*s < 0x20 || *s > 0x7e)
			return 0;
		if (is_key && !(*s == '_' || *s == '.' || *s == '-' ||
		    (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return 0;
	}
	return 1;
}

int
log_event_decode(const char *buf, size_t len, struct log_event_view *v)
{
	const char	*p = buf, *end = buf + len, *strs[1 + 2 * LOG_EVENT_FIELDS];
	size_t		 n = 0, slen;
	int		 i;

	if (len == 0 || buf[len - 1] != '\0')
		return -1;
	while (p < end) {
		if (n == sizeof(strs) / sizeof(strs[0]))
			return -1;
		slen = strlen(p);
		strs[n++] = p;
		p += slen + 1;
	}
	if (n % 2 != 1)
		return -1;
	if (!log_event_word_ok(strs[0], 1))
		return -1;
	v->name = strs[0];
	v->nfields = (int)(n - 1) / 2;
	for (i = 0; i < v->nfields; i++) {
		v->keys[i] = strs[1 + 2 * i];
		v->values[i] = strs[2 + 2 * i];
		if (!log_event_word_ok(v->keys[i], 1) ||
		    !log_event_word_ok(v->values[i], 0))
			return -1;
	}
	return 0;
}

int
log_event_file(const char *path)
{
	int	 fd;

	if (path == NULL || *path == '\0') {
		if (log_event_fd != -1)
			close(log_event_fd);
		log_event_fd = -1;
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	if (log_event_fd != -1)
		close(log_event_fd);
	log_event_fd = fd;
	return 0;
}

/* Appends s to line at *off, bounded; returns 0 or -1 when it is full. */
static int
log_append(char *line, size_t sz, size_t *off, const char *s)
{
	size_t	 n = strlen(s);

	if (*off + n >= sz)
		return -1;
	memcpy(line + *off, s, n);
	*off += n;
	line[*off] = '\0';
	return 0;
}

/*
 * The JSON line.  Values were escaped with log_escape(), whose output is
 * also a valid JSON string body except for \xHH; that becomes \u00HH.
 */
static int
log_append_json_str(char *line, size_t sz, size_t *off, const char *s)
{
	char	 u[8];

	if (log_append(line, sz, off, "\"") == -1)
		return -1;
	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] == 'x' && s[2] != '\0' &&
		    s[3] != '\0') {
			(void)snprintf(u, sizeof(u), "\\u00%c%c", s[2], s[3]);
			if (log_append(line, sz, off, u) == -1)
				return -1;
			s += 3;
			continue;
		}
		if (s[0] == '\\' && s[1] != '\0') {
			u[0] = s[0];
			u[1] = s[1];
			u[2] = '\0';
			if (log_append(line, sz, off, u) == -1)
				return -1;
			s++;
			continue;
		}
		u[0] = *s;
		u[1] = '\0';
		if (log_append(line, sz, off, u) == -1)
			return -1;
	}
	return log_append(line, sz, off, "\"");
}

static void
log_event_json(const char *procname, const struct log_event_view *v)
{
	char		 line[LOG_EVENT_MAX * 2], ts[40], ms[16];
	struct timespec	 now;
	struct tm	 tm;
	size_t		 off = 0;
	int		 i, bad = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	if (strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
	    snprintf(ms, sizeof(ms), ".%03dZ",
	    (int)(now.tv_nsec / 1000000) % 1000) < 0)
		return;
	line[0] = '\0';
	bad |= log_append(line, sizeof(line), &off, "{\"ts\":\"");
	bad |= log_append(line, sizeof(line), &off, ts);
	bad |= log_append(line, sizeof(line), &off, ms);
	bad |= log_append(line, sizeof(line), &off, "\",\"event\":");
	bad |= log_append_json_str(line, sizeof(line), &off, v->name);
	bad |= log_append(line, sizeof(line), &off, ",\"process\":");
	bad |= log_append_json_str(line, sizeof(line), &off, procname);
	for (i = 0; i < v->nfields && !bad; i++) {
		bad |= log_append(line, sizeof(line), &off, ",");
		bad |= log_append_json_str(line, sizeof(line), &off,
		    v->keys[i]);
		bad |= log_append(line, sizeof(line), &off, ":");
		bad |= log_append_json_str(line, sizeof(line), &off,
		    v->values[i]);
	}
	bad |= log_append(line, sizeof(line), &off, "}\n");
	if (bad) {
		log_warnx("event %s too long for the event file", v->name);
		return;
	}
	if (write(log_event_fd, line, off) != (ssize_t)off)
		log_warn("event file");
}

void
log_event_write(const char *procname, const struct log_event_view *v)
{
	char	 line[LOG_EVENT_MAX];
	size_t	 off = 0;
	int	 i, bad = 0;

	line[0] = '\0';
	bad |= log_append(line, sizeof(line), &off, "event=");
	bad |= log_append(line, sizeof(line), &off, v->name);
	for (i = 0; i < v->nfields && !bad; i++) {
		bad |= log_append(line, sizeof(line), &off, " ");
		bad |= log_append(line, sizeof(line), &off, v->keys[i]);
		bad |= log_append(line, sizeof(line), &off, "=\"");
		bad |= log_append(line, sizeof(line), &off, v->values[i]);
		bad |= log_append(line, sizeof(line), &off, "\"");
	}
	if (LOG_INFO <= log_level)
		log_write(LOG_INFO, procname, line);
	if (log_event_fd != -1)
		log_event_json(procname, v);
}
