/*
 * queue.c: the queue role. Owns the spool under state_dir/queue.
 */

#include <sys/types.h>

#include <unistd.h>

#include "log.h"
#include "posternd.h"

static void
queue_configure(const struct config *new, const struct config *old)
{
	log_debug("%s configured", __func__);
}

static const struct child_ops queue_ops = {
	.role = PROC_QUEUE,
	.configure = queue_configure,
};

void
queue_main(const char *conffile)
{
	child_main(&queue_ops, conffile);
}
