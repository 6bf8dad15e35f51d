/*
 * tlsconf.c: building libtls server contexts.  TLS 1.2 and 1.3 only
 * (whatever the config asks, nothing older is possible), libtls's
 * "secure" cipher list, server cipher preference.
 */

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "config.h"
#include "tlsconf.h"

#define TLSCONF_MAX_FILE	(1024 * 1024)

char *
tlsconf_read_fd(int fd, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL;
	ssize_t		 n;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || st.st_size > TLSCONF_MAX_FILE)
		goto done;
	if ((buf = malloc(st.st_size + 1)) == NULL)
		goto done;
	n = pread(fd, buf, st.st_size, 0);
	if (n != st.st_size) {
		freezero(buf, st.st_size + 1);
		buf = NULL;
		goto done;
	}
	buf[n] = '\0';
	*lenp = n;
done:
	close(fd);
	return buf;
}

struct tls *
tlsconf_server(const char *cert, size_t certlen, const char *key,
    size_t keylen, int protocols, char *err, size_t errsz)
{
	struct tls_config	*cfg;
	struct tls		*ctx = NULL;
	uint32_t		 protos = 0;

	if (protocols & CONFIG_TLS_V12)
		protos |= TLS_PROTOCOL_TLSv1_2;
	if (protocols & CONFIG_TLS_V13)
		protos |= TLS_PROTOCOL_TLSv1_3;
	if (protos == 0)
		protos = TLS_PROTOCOL_TLSv1_2 | TLS_PROTOCOL_TLSv1_3;
	if ((cfg = tls_config_new()) == NULL) {
		(void)snprintf(err, errsz, "tls_config_new failed");
		return NULL;
	}
	if (tls_config_set_protocols(cfg, protos) == -1 ||
	    tls_config_set_ciphers(cfg, "secure") == -1 ||
	    tls_config_set_keypair_mem(cfg, (const uint8_t *)cert, certlen,
	    (const uint8_t *)key, keylen) == -1) {
		(void)snprintf(err, errsz, "tls config: %s",
		    tls_config_error(cfg));
		goto done;
	}
	tls_config_prefer_ciphers_server(cfg);
	if ((ctx = tls_server()) == NULL) {
		(void)snprintf(err, errsz, "tls_server failed");
		goto done;
	}
	if (tls_configure(ctx, cfg) == -1) {
		(void)snprintf(err, errsz, "tls configure: %s",
		    tls_error(ctx));
		tls_free(ctx);
		ctx = NULL;
	}
done:
	tls_config_clear_keys(cfg);
	tls_config_free(cfg);
	return ctx;
}
