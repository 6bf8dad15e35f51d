/*
 * auth.c: the auth role.  Owns the accounts (the config's and its own
 * store under state_dir/auth, see auth_store.c) and the aliases, and
 * answers the network roles' questions about them: recipients, logins
 * (auth_login.c), senders.  They never see the account list, a hash or a
 * secret: only the answer for one address.
 *
 * Recipient resolution, for the smtp role:
 *  - a domain that is not ours: relay, allowed only to an authenticated
 *    submission session (DEST_REMOTE), else RCPT_RELAY_DENIED;
 *  - ours: an account (DEST_LOCAL), or an alias expanded recursively (at
 *    most AUTH_ALIAS_DEPTH levels, targets deduplicated), or, failing
 *    both, the same with a "+detail" suffix removed; else RCPT_UNKNOWN.
 * Local parts are compared without regard to ASCII case.
 *
 * Senders, for an authenticated submission session: an account may use
 * an address that resolves, as a recipient would, to its own mailbox:
 * its address (any case, with or without +detail) or an alias that
 * expands to it.
 */

#include <sys/types.h>
#include "compat.h"
#include <sys/tree.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "addr.h"
#include "auth.h"
#include "log.h"
#include "proto.h"

#define AUTH_ALIAS_DEPTH	8

struct auth_entry {
	RB_ENTRY(auth_entry)	 node;
	char			 address[CONFIG_ADDR_MAX];	/* lower case */
	const struct config_alias *alias;
};
RB_HEAD(auth_entries, auth_entry);

struct auth_dests {
	uint32_t	 kind[MAX_DESTS];
	char		 addr[MAX_DESTS][CONFIG_ADDR_MAX];
	uint32_t	 n;
	int		 overflow;
};

static int	auth_entry_cmp(struct auth_entry *, struct auth_entry *);
RB_GENERATE_STATIC(auth_entries, auth_entry, node, auth_entry_cmp);

static const struct config	*conf;
static struct auth_entries	 aliases = RB_INITIALIZER(&aliases);
static int			 was_root;

static int
auth_entry_cmp(struct auth_entry *a, struct auth_entry *b)
{
	return strcmp(a->address, b->address);
}

const struct config *
auth_conf(void)
{
	return conf;
}

void
auth_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static void
auth_tree_clear(struct auth_entries *t)
{
	struct auth_entry	*e, *next;

	RB_FOREACH_SAFE(e, auth_entries, t, next) {
		RB_REMOVE(auth_entries, t, e);
		free(e);
	}
}

static void
auth_tree_add(struct auth_entries *t, const char *address,
    const struct config_alias *alias)
{
	struct auth_entry	*e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal(NULL);
	(void)strlcpy(e->address, address, sizeof(e->address));
	auth_lower(e->address);
	e->alias = alias;
	if (RB_INSERT(auth_entries, t, e) != NULL)
		free(e);	/* the config parser refuses duplicates */
}

static struct auth_entry *
auth_tree_find(struct auth_entries *t, const char *address)
{
	struct auth_entry	 key;

	memset(&key, 0, sizeof(key));
	(void)strlcpy(key.address, address, sizeof(key.address));
	return RB_FIND(auth_entries, t, &key);
}

/*
 * Unconfined (posternd not started as root: development only), there is
 * no chroot to make state_dir/auth "/": go there instead.
 */
static void
auth_enter_dir(const struct config *c)
{
	char	 root[1024];

	if (was_root)
		return;
	if (proc_chroot_path(c, PROC_AUTH, root, sizeof(root)) == -1)
		fatalx("auth path too long");
	if (chdir(root) == -1)
		fatal("chdir %s", root);
}

/*
 * An answer to a RCPT lookup may have changed: smtp keeps them
 * (smtp_rcache.c) and must forget them.  Before smtp's channel is up
 * there is nothing to forget.
 */
void
auth_rcpt_changed(void)
{
	struct imsgev	*iev;

	if ((iev = child_peer_if_up(PROC_SMTP)) != NULL)
		(void)imsgev_compose(iev, IMSG_AUTH_RCPT_FLUSH, 0, 0, -1,
		    NULL, 0);
}

static void
auth_configure(const struct config *new, const struct config *old)
{
	struct config_alias	*al;

	if (old == NULL)
		auth_enter_dir(new);
	auth_tree_clear(&aliases);
	conf = new;
	TAILQ_FOREACH(al, &conf->aliases, entry)
		auth_tree_add(&aliases, al->address, al);
	auth_pass_configure(conf);
	auth_store_configure(conf);
	auth_rcpt_changed();
}

void
auth_event_account(const char *name, const struct acct *a, const char *why)
{
	struct log_event	 ev;

	log_event_begin(&ev, name);
	log_event_add(&ev, "address", "%s", a->address);
	if (why != NULL)
		log_event_add(&ev, "reason", "%s", why);
	if (a->state == ACCT_LOCKED && a->locked_until != 0)
		log_event_add(&ev, "until", "%lld", (long long)a->locked_until);
	log_event_end(&ev);
}

static int
auth_domain_is_ours(const char *domain)
{
	struct config_domain	*d;

	TAILQ_FOREACH(d, &conf->domains, entry)
		if (strcasecmp(d->name, domain) == 0)
			return 1;
	return 0;
}

static void
auth_dest_add(struct auth_dests *out, uint32_t kind, const char *addr)
{
	uint32_t	 i;

	for (i = 0; i < out->n; i++)
		if (out->kind[i] == kind && strcmp(out->addr[i], addr) == 0)
			return;
	if (out->n == MAX_DESTS) {
		out->overflow = 1;
		return;
	}
	out->kind[out->n] = kind;
	(void)strlcpy(out->addr[out->n], addr, sizeof(out->addr[0]));
	out->n++;
}

/* Splits "local@domain" (lower-cased) at its last '@'. */
static int
auth_split(const char *address, char *local, size_t lsz, char *domain,
    size_t dsz)
{
	const char	*at = strrchr(address, '@');

	if (at == NULL || at == address || at[1] == '\0' ||
	    (size_t)(at - address) >= lsz ||
	    strlcpy(domain, at + 1, dsz) >= dsz)
		return -1;
	memcpy(local, address, at - address);
	local[at - address] = '\0';
	auth_lower(local);
	auth_lower(domain);
	return 0;
}

static int	auth_resolve(const char *, int, struct auth_dests *);

/* Looks address up as an account, then as an alias. 1 found, 0 not. */
static int
auth_lookup(const char *address, int depth, struct auth_dests *out)
{
	struct auth_entry	*e;
	size_t			 i;

	if (auth_store_find(address) != NULL) {
		auth_dest_add(out, DEST_LOCAL, address);
		return 1;
	}
	if ((e = auth_tree_find(&aliases, address)) == NULL)
		return 0;
	if (depth >= AUTH_ALIAS_DEPTH) {
		log_warnx("alias %s: nested too deep (a loop?)", address);
		out->overflow = 1;
		return 1;
	}
	for (i = 0; i < e->alias->ntargets; i++)
		if (auth_resolve(e->alias->targets[i], depth + 1, out) !=
		    RCPT_OK)
			log_warnx("alias %s: target %s does not resolve",
			    address, e->alias->targets[i]);
	return 1;
}

static int
auth_resolve(const char *address, int depth, struct auth_dests *out)
{
	char	 local[CONFIG_ADDR_MAX], domain[CONFIG_ADDR_MAX];
	char	 full[CONFIG_ADDR_MAX * 2 + 2], *plus;
	int	 found;

	if (auth_split(address, local, sizeof(local), domain,
	    sizeof(domain)) == -1)
		return RCPT_UNKNOWN;
	if (!auth_domain_is_ours(domain)) {
		if (depth == 0)
			return RCPT_RELAY_DENIED;
		auth_dest_add(out, DEST_REMOTE, address);
		return RCPT_OK;
	}
	(void)snprintf(full, sizeof(full), "%s@%s", local, domain);
	found = auth_lookup(full, depth, out);
	if (!found && (plus = strchr(local, '+')) != NULL && plus != local) {
		*plus = '\0';
		(void)snprintf(full, sizeof(full), "%s@%s", local, domain);
		found = auth_lookup(full, depth, out);
	}
	if (!found)
		return RCPT_UNKNOWN;
	if (out->overflow)
		return RCPT_TEMPFAIL;
	return RCPT_OK;
}

/* "postmaster" without a domain (RFC 5321 4.5.1) is our first domain's. */
static void
auth_postmaster(char *address, size_t sz)
{
	const struct config_domain	*d;

	if (strchr(address, '@') != NULL ||
	    (d = TAILQ_FIRST(&conf->domains)) == NULL)
		return;
	(void)strlcat(address, "@", sz);
	(void)strlcat(address, d->name, sz);
}

static void
auth_rcpt(struct imsgev *iev, struct imsg *imsg)
{
	struct imsg_reader	 r;
	struct auth_dests	*out;
	struct ibuf		 ib;
	char			 address[CONFIG_ADDR_MAX];
	uint64_t		 reqid;
	uint32_t		 flags, i;
	int			 result;

	imsg_reader_init(&r, imsg, "IMSG_AUTH_RCPT");
	reqid = imsg_read_u64(&r);
	flags = imsg_read_u32(&r);
	imsg_read_str(&r, address, sizeof(address));
	imsg_reader_end(&r);
	if ((out = calloc(1, sizeof(*out))) == NULL)
		fatal(NULL);
	auth_postmaster(address, sizeof(address));
	result = auth_resolve(address, 0, out);
	if (result == RCPT_OK && out->n == 0)
		result = RCPT_UNKNOWN;	/* an alias to nothing that exists */
	if (result == RCPT_RELAY_DENIED && (flags & RCPT_FLAG_AUTHENTICATED)) {
		auth_dest_add(out, DEST_REMOTE, address);
		result = RCPT_OK;
	}
	if (result != RCPT_OK)
		out->n = 0;
	ibuf_init(&ib);
	ibuf_add_u64(&ib, reqid);
	ibuf_add_u32(&ib, (uint32_t)result);
	ibuf_add_u32(&ib, out->n);
	for (i = 0; i < out->n; i++) {
		ibuf_add_u32(&ib, out->kind[i]);
		ibuf_add_str(&ib, out->addr[i]);
	}
	if (ib.error)
		fatalx("%s: answer too large", __func__);
	imsgev_xcompose(iev, IMSG_AUTH_RCPT_RESULT, 0, 0, -1, ib.data, ib.len);
	ibuf_free(&ib);
	free(out);
}

/* 1 if address is local@domain with domain one of ours. */
int
auth_address_ours(const char *address)
{
	struct mailaddr	 ma;

	return strpbrk(address, " \"\\") == NULL &&
	    addr_parse_mailbox(address, &ma) == 0 && ma.local[0] != '\0' &&
	    strlen(address) < CONFIG_ADDR_MAX && auth_domain_is_ours(ma.domain);
}

/* 1 if address is an alias of the config. */
int
auth_is_alias(const char *address)
{
	char	 low[CONFIG_ADDR_MAX];

	if (strlcpy(low, address, sizeof(low)) >= sizeof(low))
		return 0;
	auth_lower(low);
	return auth_tree_find(&aliases, low) != NULL;
}

int
auth_sender_owned(const char *account, const char *address)
{
	struct auth_dests	*out;
	uint32_t		 i;
	int			 owned = 0;

	if (auth_store_find(account) == NULL)
		return 0;
	if ((out = calloc(1, sizeof(*out))) == NULL)
		fatal(NULL);
	if (auth_resolve(address, 0, out) == RCPT_OK)
		for (i = 0; i < out->n; i++)
			if (out->kind[i] == DEST_LOCAL &&
			    strcasecmp(out->addr[i], account) == 0)
				owned = 1;
	free(out);
	return owned;
}

static void
auth_sender(struct imsgev *iev, struct imsg *imsg)
{
	struct imsg_reader	 r;
	struct ibuf		 ib;
	char			 account[CONFIG_ADDR_MAX];
	char			 address[CONFIG_ADDR_MAX];
	uint64_t		 reqid;

	imsg_reader_init(&r, imsg, "IMSG_AUTH_SENDER");
	reqid = imsg_read_u64(&r);
	imsg_read_str(&r, account, sizeof(account));
	imsg_read_str(&r, address, sizeof(address));
	imsg_reader_end(&r);
	ibuf_init(&ib);
	ibuf_add_u64(&ib, reqid);
	ibuf_add_u32(&ib, (uint32_t)auth_sender_owned(account, address));
	if (ib.error)
		fatalx("%s: ibuf", __func__);
	imsgev_xcompose(iev, IMSG_AUTH_SENDER_RESULT, 0, 0, -1, ib.data,
	    ib.len);
	ibuf_free(&ib);
}

static void
auth_peer(enum proc_role peer, struct imsgev *iev, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_AUTH_RCPT:
		if (peer != PROC_SMTP && peer != PROC_QUEUE)
			break;
		auth_rcpt(iev, imsg);
		return;
	case IMSG_AUTH_LOGIN:
		if (peer != PROC_SMTP && peer != PROC_IMAP)
			break;
		auth_login(peer, imsg);
		return;
	case IMSG_AUTH_SENDER:
		if (peer != PROC_SMTP)
			break;
		auth_sender(iev, imsg);
		return;
	case IMSG_AUTH_CTL:
		if (peer != PROC_PARENT)
			break;
		auth_ctl(iev, imsg);
		return;
	}
	fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
	    proc_name(peer));
}

static const struct child_ops auth_ops = {
	.role = PROC_AUTH,
	.configure = auth_configure,
	.peer = auth_peer,
};

void
auth_main(const char *conffile)
{
	was_root = geteuid() == 0;
	child_main(&auth_ops, conffile);
}
