/*
 * log.h: logging for every postern process.
 *
 * The parent is the single writer.  In the parent (and in posternctl)
 * records go to stderr (foreground) or syslog.  In a child, log_set_sink()
 * installs a function that ships each record to the parent over imsg.
 *
 * Events are the audit/SIEM stream: a stable name ("smtp.connect") and
 * key=value fields.  Every field value is escaped (log_escape) before it
 * is written, since values often come from the network.
 */

#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

#define LOG_LINE_MAX	2048
#define LOG_EVENT_MAX	4096	/* encoded event, see log_event_add */
#define LOG_EVENT_FIELDS 32

/* A record: syslog priority plus a formatted line. */
typedef void	(*log_sink_fn)(int pri, const char *line);
/* An event: encoded as name\0key\0value\0...; see log_event_decode. */
typedef void	(*log_event_sink_fn)(const char *buf, size_t len);

void	 log_init(int foreground, int level, int facility);
void	 log_set_level(int level);
int	 log_get_level(void);
void	 log_set_procname(const char *);
const char *log_procname(void);
void	 log_set_sink(log_sink_fn, log_event_sink_fn);

void	 log_warn(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_warnx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_info(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_debug(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 vlog(int, const char *, va_list)
	    __attribute__((__format__ (printf, 2, 0)));
__attribute__((__noreturn__)) void fatal(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
__attribute__((__noreturn__)) void fatalx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));

/* Writes an already formatted line with the local writer (parent only). */
void	 log_write(int pri, const char *procname, const char *line);

/*
 * Escapes len bytes of src into dst (always NUL-terminated): printable
 * ASCII other than '\\' and '"' stays, everything else becomes \\, \",
 * \n, \r, \t or \xHH.  Returns dst.  A dst too small ends in "...".
 */
char	*log_escape(char *dst, size_t dstsz, const char *src, size_t len);

/*
 * Events.  Build with log_event_begin/add, send with log_event_end.
 *	struct log_event ev;
 *	log_event_begin(&ev, "smtp.connect");
 *	log_event_add(&ev, "ip", "%s", ip);
 *	log_event_end(&ev);
 */
struct log_event {
	char	 buf[LOG_EVENT_MAX];
	size_t	 len;
	int	 nfields;
	int	 overflow;
};
void	 log_event_begin(struct log_event *, const char *name);
void	 log_event_add(struct log_event *, const char *key, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
void	 log_event_end(struct log_event *);

/*
 * Decodes an encoded event (from a peer: checked).  Fills name and up to
 * LOG_EVENT_FIELDS key/value pointers into buf.  0 or -1 when malformed.
 */
struct log_event_view {
	const char	*name;
	const char	*keys[LOG_EVENT_FIELDS];
	const char	*values[LOG_EVENT_FIELDS];
	int		 nfields;
};
int	 log_event_decode(const char *buf, size_t len, struct log_event_view *);
/* Writes a decoded event: a text line to the log, and a JSON line to the
 * event file when log_event_file() opened one.  Parent only. */
void	 log_event_write(const char *procname, const struct log_event_view *);
int	 log_event_file(const char *path);	/* "" closes; 0 or -1 */

#endif /* POSTERN_LOG_H */
