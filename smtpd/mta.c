/*
 * mta.c: the mta role. Delivers mail to other hosts over SMTP (outbound
 * delivery comes with its own issue; the process, its confinement and its
 * channel to the queue exist now).
 */

#include <sys/types.h>

#include <unistd.h>

#include "log.h"
#include "posternd.h"

static void
mta_configure(const struct config *new, const struct config *old)
{
	log_debug("%s configured", __func__);
}

static const struct child_ops mta_ops = {
	.role = PROC_MTA,
	.configure = mta_configure,
};

void
mta_main(const char *conffile)
{
	child_main(&mta_ops, conffile);
}
