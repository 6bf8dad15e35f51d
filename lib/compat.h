/*
 * compat.h: what the BSD headers from libbsd expect that glibc lacks.
 * Include it before <sys/tree.h>.
 */

#ifndef POSTERN_COMPAT_H
#define POSTERN_COMPAT_H

/* RB_GENERATE_STATIC marks the generated functions __unused. */
#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif

#endif /* POSTERN_COMPAT_H */
