/*
 * auth.c: the auth role. Owns accounts, hashes and lockout state under
 * state_dir/auth.
 */

#include <sys/types.h>

#include <unistd.h>

#include "log.h"
#include "posternd.h"

static void
auth_configure(const struct config *new, const struct config *old)
{
	log_debug("%s configured", __func__);
}

static const struct child_ops auth_ops = {
	.role = PROC_AUTH,
	.configure = auth_configure,
};

void
auth_main(const char *conffile)
{
	child_main(&auth_ops, conffile);
}
