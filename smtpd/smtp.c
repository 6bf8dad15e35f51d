/*
 * smtp.c: the smtp role, which serves the smtp and submission listeners.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <unistd.h>

#include "log.h"
#include "posternd.h"

static void
smtp_configure(const struct config *new, const struct config *old)
{
	log_debug("%s configured", __func__);
}

static void
smtp_listener(int fd, const struct config_listener *l)
{
	log_debug("listener %s handed over", l->name);
}

static const struct child_ops smtp_ops = {
	.role = PROC_SMTP,
	.configure = smtp_configure,
	.listener = smtp_listener,
};

void
smtp_main(const char *conffile)
{
	child_main(&smtp_ops, conffile);
}
