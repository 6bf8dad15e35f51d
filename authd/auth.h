/*
 * auth.h: what the auth role's modules share.
 *
 *	auth.c		dispatch, config, recipient and sender resolution
 *	auth_store.c	the accounts in memory and on disk (lib/acctstore.c
 *			is the file format)
 *	auth_login.c	IMSG_AUTH_LOGIN: passwords, TOTP, app passwords,
 *			lockout and the per-IP delay
 *	auth_pass.c	hashing, verification, password policy
 *	auth_ctl.c	posternctl user commands
 */

#ifndef POSTERN_AUTH_H
#define POSTERN_AUTH_H

#include "acctstore.h"
#include "imsg.h"
#include "imsgev.h"
#include "posternd.h"

#define AUTH_SECRET_MAX		1024	/* as smtp's SMTP_SECRET_MAX */

/* auth.c */
const struct config *auth_conf(void);
void		 auth_lower(char *);
int		 auth_sender_owned(const char *account, const char *address);
int		 auth_address_ours(const char *address);
int		 auth_is_alias(const char *address);
void		 auth_rcpt_changed(void);
void		 auth_event_account(const char *name, const struct acct *,
		    const char *why);

/* auth_store.c */
void		 auth_store_init(void);
void		 auth_store_configure(const struct config *);
struct acct	*auth_store_find(const char *address);	/* any case */
struct acct	*auth_store_add(const char *address);
void		 auth_store_remove(struct acct *);
struct acct_list *auth_store_list(void);
const char	*auth_store_hash(const struct acct *);
int		 auth_store_save(void);		/* 0, or -1 logged */
void		 auth_store_revert(void);	/* back to the file */

/* auth_pass.c */
void		 auth_pass_configure(const struct config *);
int		 auth_pass_verify(const char *password, const char *hash);
void		 auth_pass_dummy(const char *password);
int		 auth_pass_hash(const char *password, char *out, size_t outsz);
int		 auth_pass_is_default(const char *hash);
int		 auth_pass_policy(const struct acct *, const char *password,
		    char *why, size_t whysz);
int		 auth_pass_set(struct acct *, const char *password,
		    char *why, size_t whysz);
void		 auth_apppass_digest(const char *, unsigned char *);

/* auth_login.c */
void		 auth_login(enum proc_role, struct imsg *);
int		 auth_account_locked(struct acct *, time_t now);
int		 auth_password_expired(const struct acct *, time_t now);

/* auth_ctl.c */
void		 auth_ctl(struct imsgev *, struct imsg *);

#endif /* POSTERN_AUTH_H */
