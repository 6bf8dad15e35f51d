/*
 * acctstore.h: the auth role's account store, as a file format.  Only the
 * auth role reads and writes the file (state_dir/auth/accounts); this
 * module parses and formats it and knows nothing of disks or daemons, so
 * it can be tested alone.
 *
 * The file is text, one record a line, fields separated by one space:
 *
 *	postern-accounts 1
 *	account alice@example.org
 *	source store|config
 *	hash $y$j9T$...			(absent for a config account)
 *	state active|disabled|locked UNTIL
 *	changed T			(password set at; 0 unknown)
 *	history HASH			(0..ACCT_HISTORY_MAX, newest first)
 *	failures N FIRST		(failures since FIRST)
 *	totp HEX LASTSTEP		(an enrolled second factor)
 *	totp-pending HEX CREATED	(enrolment not yet confirmed)
 *	apppass LABEL SERVICES CREATED LASTUSED SHA256HEX
 *	end
 *	...
 *	count N
 *
 * Times are seconds since the epoch.  SERVICES is "smtp", "imap" or
 * "smtp,imap".  Every record of an account sits between its "account"
 * and "end" lines; "count" closes the file and must equal the number of
 * accounts, so a file cut short anywhere is refused, not half-loaded.
 * The parser is strict: an unknown keyword, a missing or extra field, a
 * number out of range, a duplicate account, a hash or label with a byte
 * outside its alphabet, is an error naming the line.  The file holds
 * hashes and TOTP secrets: the auth role keeps it mode 0600.
 */

#ifndef POSTERN_ACCTSTORE_H
#define POSTERN_ACCTSTORE_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

#define ACCT_MAGIC		"postern-accounts 1"
#define ACCT_HASH_MAX		256	/* a crypt(3) string and its NUL */
#define ACCT_HISTORY_MAX	100	/* auth.password.history's maximum */
#define ACCT_APPPASS_MAX	16
#define ACCT_LABEL_MAX		64
#define ACCT_TOTP_LEN		20	/* 160-bit secret (RFC 4226 4) */
#define ACCT_SHA256_LEN		32

enum acct_state {
	ACCT_ACTIVE,
	ACCT_LOCKED,		/* until locked_until */
	ACCT_DISABLED,
};

#define ACCT_SVC_SMTP	0x1
#define ACCT_SVC_IMAP	0x2
#define ACCT_SVC_ALL	(ACCT_SVC_SMTP | ACCT_SVC_IMAP)

struct acct_apppass {
	char		 label[ACCT_LABEL_MAX];
	uint32_t	 services;		/* ACCT_SVC_* */
	time_t		 created;
	time_t		 last_used;		/* 0: never */
	unsigned char	 sha256[ACCT_SHA256_LEN];
};

struct acct {
	TAILQ_ENTRY(acct)	 entry;
	char			 address[CONFIG_ADDR_MAX];	/* lower case */
	int			 from_config;	/* hash lives in the config */
	char			 hash[ACCT_HASH_MAX];	/* "" if from_config */
	enum acct_state		 state;
	time_t			 locked_until;
	time_t			 changed;
	char			(*history)[ACCT_HASH_MAX]; /* newest first */
	size_t			 nhistory;
	uint32_t		 failures;
	time_t			 fail_first;
	int			 totp_on;
	unsigned char		 totp[ACCT_TOTP_LEN];
	uint64_t		 totp_last_step;
	int			 totp_pending_on;
	unsigned char		 totp_pending[ACCT_TOTP_LEN];
	time_t			 totp_pending_created;
	struct acct_apppass	 app[ACCT_APPPASS_MAX];
	size_t			 napp;
};
TAILQ_HEAD(acct_list, acct);

/*
 * Parses len bytes (need not be NUL-terminated) into list, which must be
 * empty.  0, or -1 with list emptied and err set to "line N: why".
 */
int	 acct_parse(const char *buf, size_t len, struct acct_list *list,
	    char *err, size_t errsz);
/*
 * Formats list into a malloc'd buffer (*lenp bytes, NUL-terminated) that
 * acct_parse reads back to the same accounts.  NULL only if an account
 * holds something the format cannot carry (a caller's bug).
 */
char	*acct_format(const struct acct_list *list, size_t *lenp);
/* Frees every account of list (wiping it: hashes, secrets). */
void	 acct_list_free(struct acct_list *);
/*
 * Puts hash first in a's history, keeping at most keep entries.
 * 0, or -1 (out of memory).
 */
int	 acct_history_push(struct acct *, const char *hash, size_t keep);
/* 1 if s is a label an app password may have: [A-Za-z0-9._-], 1..63. */
int	 acct_label_ok(const char *s);
/* "smtp,imap" <-> ACCT_SVC_* bits; -1 / NULL on error. */
int	 acct_services_parse(const char *s, uint32_t *out);
const char *acct_services_name(uint32_t);

#endif /* POSTERN_ACCTSTORE_H */
