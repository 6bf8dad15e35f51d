/*
 * Unit tests for lib/log.c: escaping of untrusted bytes, the event
 * encoding and its checked decoding, and the JSON event file.
 */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static void
test_escape(void)
{
	char	 out[64];

	is_str(log_escape(out, sizeof(out), "plain text", 10), "plain text",
	    "printable ASCII stays");
	is_str(log_escape(out, sizeof(out), "a\r\nb", 4), "a\\r\\nb",
	    "CR LF escaped, no log injection");
	is_str(log_escape(out, sizeof(out), "q\"b\\", 4), "q\\\"b\\\\",
	    "quote and backslash escaped");
	is_str(log_escape(out, sizeof(out), "n\0l", 3), "n\\x00l",
	    "NUL escaped");
	is_str(log_escape(out, sizeof(out), "\xc3\xa9\x1b[", 4),
	    "\\xc3\\xa9\\x1b[", "non-ASCII and ESC escaped");
	is_str(log_escape(out, 8, "0123456789", 10), "0123...",
	    "a value cut short ends in ...");
	is_str(log_escape(out, 6, "\x01\x02\x03", 3), "...",
	    "cut in the middle of an escape");
	is_str(log_escape(out, sizeof(out), "", 0), "", "empty value");
}

static int	 sink_called;
static char	 sink_buf[LOG_EVENT_MAX];
static size_t	 sink_len;

static void
event_sink(const char *buf, size_t len)
{
	sink_called++;
	memcpy(sink_buf, buf, len);
	sink_len = len;
}

static void
test_events(void)
{
	struct log_event	 ev;
	struct log_event_view	 v;
	char			 bad[] = "name\0key\0";
	char			 badkey[] = "name\0Bad Key\0v";
	int			 i;

	log_set_sink(NULL, event_sink);
	log_event_begin(&ev, "smtp.connect");
	log_event_add(&ev, "ip", "%s", "192.0.2.1");
	log_event_add(&ev, "helo", "%s", "evil\r\nevent=fake x=\"y\"");
	log_event_end(&ev);
	is_int(sink_called, 1, "the event went to the sink");
	is_int(log_event_decode(sink_buf, sink_len, &v), 0, "it decodes");
	is_str(v.name, "smtp.connect", "name");
	is_int(v.nfields, 2, "two fields");
	is_str(v.keys[1], "helo", "key");
	is_str(v.values[1], "evil\\r\\nevent=fake x=\\\"y\\\"",
	    "the value is escaped: no second line, no fake quote");

	is_int(log_event_decode(bad, sizeof(bad) - 1, &v), -1,
	    "a key without value is malformed");
	is_int(log_event_decode(badkey, sizeof(badkey), &v), -1,
	    "a key with a space is malformed");
	is_int(log_event_decode("x", 1, &v), -1,
	    "no terminating NUL is malformed");
	is_int(log_event_decode("", 0, &v), -1, "empty is malformed");

	log_event_begin(&ev, "many");
	for (i = 0; i < LOG_EVENT_FIELDS + 3; i++)
		log_event_add(&ev, "k", "%d", i);
	ok(ev.overflow, "too many fields is flagged");
	log_set_sink(NULL, NULL);
}

static void
test_json(void)
{
	struct log_event	 ev;
	char			 path[] = "/tmp/postern-log-test.XXXXXX";
	char			 buf[4096];
	ssize_t			 n;
	int			 fd;

	if ((fd = mkstemp(path)) == -1) {
		ok(0, "mkstemp");
		return;
	}
	close(fd);
	log_init(1, LOG_WARNING, LOG_MAIL);	/* no text lines on stderr */
	ok(log_event_file(path) == 0, "event file opens");
	log_event_begin(&ev, "auth.fail");
	log_event_add(&ev, "user", "%s", "a\"b\x01");
	log_event_add(&ev, "ip", "%s", "::1");
	log_event_end(&ev);
	log_event_file("");
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(path);
	buf[n > 0 ? n : 0] = '\0';
	ok(strstr(buf, "\"event\":\"auth.fail\"") != NULL, "event name");
	ok(strstr(buf, "\"user\":\"a\\\"b\\u0001\"") != NULL,
	    "value as a JSON string: %s", buf);
	ok(strstr(buf, "\"ip\":\"::1\"}\n") != NULL, "one line per event");
	ok(strncmp(buf, "{\"ts\":\"", 7) == 0, "starts with a timestamp");
}

int
main(void)
{
	test_escape();
	test_events();
	test_json();
	return done_testing();
}
