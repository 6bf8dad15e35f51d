/*
 * sandbox.h: a seccomp-bpf allow-list per child role (see sandbox.c).
 */

#ifndef POSTERN_SANDBOX_H
#define POSTERN_SANDBOX_H

#include "proc.h"

/* Installs the role's filter; fatal on failure.  A no-op (with a
 * warning) in a sanitizer build. */
void	sandbox_apply(enum proc_role);
/* Whether this build installs filters at all. */
int	sandbox_enabled(void);

#endif /* POSTERN_SANDBOX_H */
