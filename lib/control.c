/*
 * control.c: encoding and checked decoding of control requests.
 */

#include <stdlib.h>
#include <string.h>

#include "control.h"

int
ctl_request_encode(struct ibuf *ib, uint32_t flags, int argc,
    char * const *argv)
{
	int	 i;

	if (argc < 1 || argc > CTL_MAX_ARGS)
		return -1;
	ibuf_add_u32(ib, flags);
	ibuf_add_u32(ib, (uint32_t)argc);
	for (i = 0; i < argc; i++) {
		if (strlen(argv[i]) > CTL_MAX_ARG)
			return -1;
		ibuf_add_str(ib, argv[i]);
	}
	return ib->error ? -1 : 0;
}

/* Reads a u32 from *p, bounded by *left. */
static int
ctl_get_u32(const unsigned char **p, size_t *left, uint32_t *v)
{
	if (*left < sizeof(*v))
		return -1;
	memcpy(v, *p, sizeof(*v));
	*p += sizeof(*v);
	*left -= sizeof(*v);
	return 0;
}

int
ctl_request_decode(const struct imsg *imsg, struct ctl_request *req)
{
	const unsigned char	*p = imsg->data;
	size_t			 left = imsg->datalen;
	uint32_t		 argc, len, i;

	memset(req, 0, sizeof(*req));
	if (ctl_get_u32(&p, &left, &req->flags) == -1 ||
	    ctl_get_u32(&p, &left, &argc) == -1 ||
	    argc < 1 || argc > CTL_MAX_ARGS)
		return -1;
	for (i = 0; i < argc; i++) {
		if (ctl_get_u32(&p, &left, &len) == -1 || len > CTL_MAX_ARG ||
		    len > left || memchr(p, '\0', len) != NULL)
			goto fail;
		if ((req->argv[i] = strndup((const char *)p, len)) == NULL)
			goto fail;
		req->argc++;
		p += len;
		left -= len;
	}
	if (left != 0)
		goto fail;
	return 0;
fail:
	ctl_request_free(req);
	return -1;
}

void
ctl_request_free(struct ctl_request *req)
{
	int	 i;

	for (i = 0; i < req->argc; i++)
		free(req->argv[i]);
	memset(req, 0, sizeof(*req));
}
