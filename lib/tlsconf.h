/*
 * tlsconf.h: libtls server contexts from the config's tls: section.
 *
 * The network roles are chrooted in an empty directory, so they never
 * open the certificate or key themselves: the parent passes open files,
 * and the key bytes are wiped from memory once libtls has them.
 */

#ifndef POSTERN_TLSCONF_H
#define POSTERN_TLSCONF_H

#include <stddef.h>

struct tls;

/* Reads a whole small file from fd (closes it); NULL on error. */
char		*tlsconf_read_fd(int fd, size_t *lenp);
/*
 * A configured server context; NULL with err filled on failure.
 * protocols: CONFIG_TLS_* bits.
 */
struct tls	*tlsconf_server(const char *cert, size_t certlen,
		    const char *key, size_t keylen, int protocols,
		    char *err, size_t errsz);

#endif /* POSTERN_TLSCONF_H */
