/*
 * auth_pass.c: password hashes (libcrypt) and the password policy.
 *
 * New hashes are yescrypt ("$y$") at auth.password.cost; a login may
 * verify "$y$", "$gy$", "$2b$", "$6$" and "$5$" hashes (the config parser
 * refuses anything else).  A verification always runs exactly one
 * crypt_rn(), against a dummy yescrypt hash of the default cost when
 * there is no real one, so an unknown user costs what a wrong password
 * costs.  Results are compared in constant time.  The crypt_data work
 * area is wiped after every use: it held the password.
 *
 * App passwords are 160 random bits, so a plain SHA-256 is as strong as
 * any stretching and lets a login compare against all of an account's
 * app passwords for the cost of one hash.
 */

#include <sys/types.h>

#include <crypt.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "auth.h"
#include "log.h"
#include "pwpolicy.h"

static struct crypt_data	*cdata;
static char			 dummy[CRYPT_OUTPUT_SIZE];
static int			 cost = -1;

static void
auth_pass_init(void)
{
	if (cdata == NULL && (cdata = calloc(1, sizeof(*cdata))) == NULL)
		fatal(NULL);
}

int
auth_pass_hash(const char *password, char *out, size_t outsz)
{
	char	 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	char	*h;
	int	 ret = -1;

	auth_pass_init();
	if (crypt_gensalt_rn("$y$", cost, NULL, 0, salt, sizeof(salt)) ==
	    NULL) {
		log_warn("crypt_gensalt_rn");
		return -1;
	}
	h = crypt_rn(password, salt, cdata, sizeof(*cdata));
	if (h != NULL && h[0] == '$' && strlcpy(out, h, outsz) < outsz)
		ret = 0;
	else
		log_warnx("%s: crypt_rn failed", __func__);
	explicit_bzero(cdata, sizeof(*cdata));
	return ret;
}

/* A new dummy whenever the cost changes, so it costs what real ones do. */
void
auth_pass_configure(const struct config *conf)
{
	char	 pw[33];
	size_t	 i;

	if (conf->auth.password.cost == cost && dummy[0] != '\0')
		return;
	cost = conf->auth.password.cost;
	arc4random_buf(pw, sizeof(pw) - 1);
	for (i = 0; i < sizeof(pw) - 1; i++)
		pw[i] = 'a' + (unsigned char)pw[i] % 26;
	pw[sizeof(pw) - 1] = '\0';
	if (auth_pass_hash(pw, dummy, sizeof(dummy)) == -1)
		fatalx("cannot make the dummy hash");
	explicit_bzero(pw, sizeof(pw));
}

int
auth_pass_verify(const char *password, const char *hash)
{
	const char	*h;
	size_t		 len = strlen(hash);
	int		 ok;

	auth_pass_init();
	h = crypt_rn(password, hash, cdata, sizeof(*cdata));
	ok = h != NULL && h[0] == '$' && len > 0 && strlen(h) == len &&
	    CRYPTO_memcmp(h, hash, len) == 0;
	explicit_bzero(cdata, sizeof(*cdata));
	return ok;
}

void
auth_pass_dummy(const char *password)
{
	(void)auth_pass_verify(password, dummy);
}

int
auth_pass_is_default(const char *hash)
{
	return strncmp(hash, "$y$", 3) == 0;
}

/*
 * An app password is shown as "abcd-efgh-...": the digest is of its
 * letters and digits, lower-cased, so a client may type it with or
 * without the dashes, in either case.
 */
void
auth_apppass_digest(const char *s, unsigned char *out)
{
	char	 norm[AUTH_SECRET_MAX + 1];
	size_t	 n = 0;

	for (; *s != '\0' && n < sizeof(norm) - 1; s++)
		if (*s != '-' && *s != ' ')
			norm[n++] = (char)tolower((unsigned char)*s);
	SHA256((const unsigned char *)norm, n, out);
	explicit_bzero(norm, sizeof(norm));
}

/*
 * The policy of auth.password for a new password of a: the rules that
 * need no hash (lib/pwpolicy.c), then the last `history` passwords.
 */
int
auth_pass_policy(const struct acct *a, const char *password, char *why,
    size_t whysz)
{
	const struct config	*conf = auth_conf();
	struct pwpolicy		 p;
	const char		*cur;
	size_t			 i, n;

	memset(&p, 0, sizeof(p));
	p.min_length = conf->auth.password.min_length;
	p.max_length = conf->auth.password.max_length;
	p.classes = conf->auth.password.classes;
	if (pwpolicy_check(&p, a->address, password, why, whysz) == -1)
		return -1;
	n = (size_t)conf->auth.password.history;
	cur = auth_store_hash(a);
	if (n > 0 && cur[0] != '\0' && auth_pass_verify(password, cur)) {
		(void)strlcpy(why, "it is the current password", whysz);
		return -1;
	}
	for (i = 0; n > 1 && i < a->nhistory && i < n - 1; i++)
		if (auth_pass_verify(password, a->history[i])) {
			(void)snprintf(why, whysz, "it is one of the last %zu "
			    "passwords", n);
			return -1;
		}
	return 0;
}

/* Sets a's password after the policy: history keeps the old hash. */
int
auth_pass_set(struct acct *a, const char *password, char *why,
    size_t whysz)
{
	char	 h[ACCT_HASH_MAX];

	if (auth_pass_policy(a, password, why, whysz) == -1)
		return -1;
	if (auth_pass_hash(password, h, sizeof(h)) == -1) {
		(void)strlcpy(why, "cannot hash the password", whysz);
		return -1;
	}
	if (a->hash[0] != '\0' && acct_history_push(a, a->hash,
	    (size_t)auth_conf()->auth.password.history) == -1)
		fatal(NULL);
	(void)strlcpy(a->hash, h, sizeof(a->hash));
	explicit_bzero(h, sizeof(h));
	a->changed = time(NULL);
	return 0;
}
