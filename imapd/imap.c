/*
 * imap.c: the imap role, which serves the imap listeners.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <unistd.h>

#include "log.h"
#include "posternd.h"

static void
imap_configure(const struct config *new, const struct config *old)
{
	log_debug("%s configured", __func__);
}

static void
imap_listener(int fd, const struct config_listener *l)
{
	log_debug("listener %s handed over", l->name);
}

static const struct child_ops imap_ops = {
	.role = PROC_IMAP,
	.configure = imap_configure,
	.listener = imap_listener,
};

void
imap_main(const char *conffile)
{
	child_main(&imap_ops, conffile);
}
