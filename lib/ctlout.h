/*
 * ctlout.h: the answer of a child process to a posternctl command the
 * parent relayed (IMSG_QUEUE_CTL, IMSG_AUTH_CTL): output and error
 * chunks and one end frame, each starting with the request's ctlid.
 *
 *	struct ctl_out o;
 *	ctl_out_begin(&o, iev, imsg, IMSG_AUTH_CTL_OUTPUT, &req);
 *	ctl_out_printf(&o, "...");  ctl_out_json_str(&o, s);
 *	ctl_out_error(&o, "...");
 *	ctl_out_end(&o, status);
 *
 * ctl_out_begin decodes the relayed request (fatalx when malformed: it
 * comes from the parent).  The frame types are output, output + 1 (the
 * error) and output + 2 (the end), as proto.h orders them.  Output is
 * buffered and sent in chunks below the imsg limit; the buffer is wiped
 * when sent, since an answer may hold a new secret (an app password).
 */

#ifndef POSTERN_CTLOUT_H
#define POSTERN_CTLOUT_H

#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "imsg.h"
#include "imsgev.h"

struct ctl_out {
	struct imsgev	*iev;
	uint32_t	 ctlid;
	uint32_t	 type;		/* the output frame's */
	int		 json;		/* CTL_FLAG_JSON was set */
	char		*buf;
	size_t		 len;
	size_t		 cap;
};

void	 ctl_out_begin(struct ctl_out *, struct imsgev *, const struct imsg *,
	    uint32_t output_type, struct ctl_request *);
void	 ctl_out_printf(struct ctl_out *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
/*
 * A JSON string, quotes included: for bytes from the network, so
 * control characters are escaped and invalid UTF-8 becomes U+FFFD.
 */
void	 ctl_out_json_str(struct ctl_out *, const char *);
void	 ctl_out_error(struct ctl_out *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
/* Flushes, sends the end frame with status, frees the buffer. */
void	 ctl_out_end(struct ctl_out *, uint32_t status);

#endif /* POSTERN_CTLOUT_H */
