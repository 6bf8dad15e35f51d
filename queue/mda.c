/*
 * mda.c: the mda role. Writes into mailboxes under state_dir/mail.
 */

#include <sys/types.h>

#include <unistd.h>

#include "log.h"
#include "posternd.h"

static void
mda_configure(const struct config *new, const struct config *old)
{
	log_debug("%s configured", __func__);
}

static const struct child_ops mda_ops = {
	.role = PROC_MDA,
	.configure = mda_configure,
};

void
mda_main(const char *conffile)
{
	child_main(&mda_ops, conffile);
}
