/*
 * ctlout.c: a child's answer to a relayed posternctl command; see
 * ctlout.h.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlout.h"
#include "log.h"
#include "proto.h"

#define CTL_OUT_CHUNK	(48 * 1024)	/* frames stay below 60 KB */

static void
ctl_out_send(struct ctl_out *o, uint32_t type, const char *text, size_t len)
{
	struct ibuf	 ib;

	ibuf_init(&ib);
	ibuf_add_u32(&ib, o->ctlid);
	ibuf_add_strn(&ib, text, len);
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	imsgev_xcompose(o->iev, type, 0, 0, -1, ib.data, ib.len);
	explicit_bzero(ib.data, ib.len);
	ibuf_free(&ib);
}

static void
ctl_out_flush(struct ctl_out *o)
{
	size_t	 off, n;

	for (off = 0; off < o->len; off += n) {
		n = o->len - off;
		if (n > CTL_OUT_CHUNK)
			n = CTL_OUT_CHUNK;
		ctl_out_send(o, o->type, o->buf + off, n);
	}
	if (o->buf != NULL)
		explicit_bzero(o->buf, o->cap);
	o->len = 0;
}

void
ctl_out_begin(struct ctl_out *o, struct imsgev *iev, const struct imsg *imsg,
    uint32_t output_type, struct ctl_request *req)
{
	struct imsg	 sub;

	memset(o, 0, sizeof(*o));
	if (imsg->datalen < sizeof(o->ctlid))
		fatalx("%s: short payload", imsg_type_name(imsg->hdr.type));
	memcpy(&o->ctlid, imsg->data, sizeof(o->ctlid));
	sub = *imsg;
	sub.data = (unsigned char *)imsg->data + sizeof(o->ctlid);
	sub.datalen = imsg->datalen - sizeof(o->ctlid);
	if (ctl_request_decode(&sub, req) == -1)
		fatalx("%s: malformed request", imsg_type_name(imsg->hdr.type));
	o->iev = iev;
	o->type = output_type;
	o->json = (req->flags & CTL_FLAG_JSON) != 0;
}

/* Appends n bytes; output past a chunk is sent. */
static void
ctl_out_add(struct ctl_out *o, const char *s, size_t n)
{
	char	*p;
	size_t	 cap;

	if (o->len + n + 1 > o->cap) {
		for (cap = o->cap == 0 ? 4096 : o->cap; cap < o->len + n + 1;)
			cap *= 2;
		if ((p = malloc(cap)) == NULL)
			fatal("%s", __func__);
		if (o->buf != NULL) {
			memcpy(p, o->buf, o->len);
			freezero(o->buf, o->cap);
		}
		o->buf = p;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	if (o->len >= CTL_OUT_CHUNK)
		ctl_out_flush(o);
}

void
ctl_out_printf(struct ctl_out *o, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal("%s", __func__);
	ctl_out_add(o, s, n);
	freezero(s, n);
}

/*
 * The length of the well-formed UTF-8 sequence of 2 to 4 bytes at s (no
 * overlong form, no surrogate, nothing past U+10FFFF), else 0.  Stops at
 * the first bad byte, so never reads past a NUL.
 */
static size_t
ctl_out_utf8_len(const unsigned char *s)
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

void
ctl_out_json_str(struct ctl_out *o, const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	char			 esc[8];
	size_t			 n;

	ctl_out_add(o, "\"", 1);
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*s++;
			ctl_out_add(o, esc, 2);
		} else if (*s < 0x20 || *s == 0x7f) {
			(void)snprintf(esc, sizeof(esc), "\\u%04x", *s++);
			ctl_out_add(o, esc, 6);
		} else if (*s < 0x80)
			ctl_out_add(o, (const char *)s++, 1);
		else if ((n = ctl_out_utf8_len(s)) > 0) {
			ctl_out_add(o, (const char *)s, n);
			s += n;
		} else {
			ctl_out_add(o, "\\ufffd", 6);
			s++;
		}
	}
	ctl_out_add(o, "\"", 1);
}

void
ctl_out_error(struct ctl_out *o, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctl_out_flush(o);
	ctl_out_send(o, o->type + 1, msg, strlen(msg));
}

void
ctl_out_end(struct ctl_out *o, uint32_t status)
{
	unsigned char	 end[2 * sizeof(uint32_t)];

	ctl_out_flush(o);
	if (o->buf != NULL)
		freezero(o->buf, o->cap);
	o->buf = NULL;
	o->cap = 0;
	memcpy(end, &o->ctlid, sizeof(o->ctlid));
	memcpy(end + sizeof(o->ctlid), &status, sizeof(status));
	imsgev_xcompose(o->iev, o->type + 2, 0, 0, -1, end, sizeof(end));
}
