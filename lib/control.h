/*
 * control.h: the request posternctl sends over the control socket.
 *
 * One IMSG_CTL_REQUEST per connection: flags, then argc strings (the
 * command words).  The parent answers with IMSG_CTL_OUTPUT and
 * IMSG_CTL_ERROR chunks and one IMSG_CTL_END carrying the exit status.
 * The parent decodes requests with ctl_request_decode(), which checks
 * everything and never aborts: a client is not a peer process.
 */

#ifndef POSTERN_CONTROL_H
#define POSTERN_CONTROL_H

#include <stdint.h>

#include "imsg.h"

#define CTL_FLAG_JSON	0x1
#define CTL_FLAG_SECRET	0x2	/* the last argument is a password: never logged */
#define CTL_MAX_ARGS	16
#define CTL_MAX_ARG	1024

struct ctl_request {
	uint32_t	 flags;
	int		 argc;
	char		*argv[CTL_MAX_ARGS + 1];	/* NULL-terminated */
};

/* Builds the payload into ib; 0, or -1 when the request is too big. */
int	 ctl_request_encode(struct ibuf *, uint32_t flags, int argc,
	    char * const *argv);
/* 0, or -1 when the payload is malformed (req then holds nothing). */
int	 ctl_request_decode(const struct imsg *, struct ctl_request *);
void	 ctl_request_free(struct ctl_request *);

#endif /* POSTERN_CONTROL_H */
