/*
 * auth_store.c: the accounts, in memory and in state_dir/auth/accounts.
 *
 * Accounts come from two places: the config (`accounts:`, whose hash the
 * config owns) and the store file, which only this process writes.  A
 * config account may have a record in the store too, for what the config
 * cannot hold: lockout state, failures, TOTP, app passwords.  Its
 * password cannot be changed nor the account deleted with posternctl
 * (edit the config); an address in both places is a config account and
 * the stored hash is dropped.  Records of config accounts that left the
 * config are dropped at the next load.
 *
 * Durability: the whole store is written to accounts.tmp, fsynced,
 * renamed over accounts, and the directory fsynced, before a change is
 * acknowledged.  A kill -9 at any point leaves the old or the new file.
 * The process runs chrooted in state_dir/auth (or, unconfined, with its
 * working directory there), so the paths are relative.
 */

#include <sys/types.h>
#include "compat.h"
#include <sys/stat.h>
#include <sys/tree.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"

#define STORE_FILE	"accounts"
#define STORE_TMP	"accounts.tmp"
#define STORE_MAX	(64 * 1024 * 1024)

struct store_node {
	RB_ENTRY(store_node)	 node;
	struct acct		*acct;
	const char		*config_hash;	/* from_config: the config's */
};
RB_HEAD(store_tree, store_node);

static int	store_cmp(struct store_node *, struct store_node *);
RB_GENERATE_STATIC(store_tree, store_node, node, store_cmp);

static struct store_tree	 tree = RB_INITIALIZER(&tree);
static struct acct_list		 accts = TAILQ_HEAD_INITIALIZER(accts);
static int			 loaded;

static int
store_cmp(struct store_node *a, struct store_node *b)
{
	return strcmp(a->acct->address, b->acct->address);
}

static struct store_node *
store_node_find(const char *address)
{
	struct store_node	 key;
	struct acct		 a;

	if (strlcpy(a.address, address, sizeof(a.address)) >=
	    sizeof(a.address))
		return NULL;
	auth_lower(a.address);
	key.acct = &a;
	return RB_FIND(store_tree, &tree, &key);
}

struct acct *
auth_store_find(const char *address)
{
	struct store_node	*n = store_node_find(address);

	return n != NULL ? n->acct : NULL;
}

const char *
auth_store_hash(const struct acct *a)
{
	struct store_node	*n;

	if (!a->from_config)
		return a->hash;
	if ((n = store_node_find(a->address)) == NULL || n->config_hash == NULL)
		return "";
	return n->config_hash;
}

static struct store_node *
store_insert(struct acct *a)
{
	struct store_node	*n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		fatal(NULL);
	n->acct = a;
	if (RB_INSERT(store_tree, &tree, n) != NULL)
		fatalx("%s: duplicate account %s", __func__, a->address);
	TAILQ_INSERT_TAIL(&accts, a, entry);
	return n;
}

struct acct *
auth_store_add(const char *address)
{
	struct acct	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal(NULL);
	if (strlcpy(a->address, address, sizeof(a->address)) >=
	    sizeof(a->address))
		fatalx("%s: address too long", __func__);
	auth_lower(a->address);
	a->state = ACCT_ACTIVE;
	(void)store_insert(a);
	auth_rcpt_changed();
	return a;
}

void
auth_store_remove(struct acct *a)
{
	struct store_node	*n;
	struct acct_list	 one = TAILQ_HEAD_INITIALIZER(one);

	if ((n = store_node_find(a->address)) == NULL || n->acct != a)
		fatalx("%s: %s is not in the store", __func__, a->address);
	auth_rcpt_changed();
	RB_REMOVE(store_tree, &tree, n);
	free(n);
	TAILQ_REMOVE(&accts, a, entry);
	TAILQ_INSERT_TAIL(&one, a, entry);
	acct_list_free(&one);
}

struct acct_list *
auth_store_list(void)
{
	return &accts;
}

static void
store_clear(void)
{
	struct store_node	*n, *next;

	RB_FOREACH_SAFE(n, store_tree, &tree, next) {
		RB_REMOVE(store_tree, &tree, n);
		free(n);
	}
	acct_list_free(&accts);
}

/* Reads the store file into accts; a missing file is an empty store. */
static int
store_load(void)
{
	struct acct_list	 list = TAILQ_HEAD_INITIALIZER(list);
	struct acct		*a;
	struct stat		 st;
	char			*buf, err[256];
	ssize_t			 n;
	int			 fd;

	/* A write that a crash cut short: never the store. */
	if (unlink(STORE_TMP) == -1 && errno != ENOENT)
		log_warn("%s", STORE_TMP);
	if ((fd = open(STORE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("%s", STORE_FILE);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > STORE_MAX) {
		log_warnx("%s: not a regular file of sane size", STORE_FILE);
		close(fd);
		return -1;
	}
	if ((buf = malloc(st.st_size + 1)) == NULL)
		fatal(NULL);
	n = read(fd, buf, st.st_size);
	close(fd);
	if (n != st.st_size) {
		log_warnx("%s: short read", STORE_FILE);
		freezero(buf, st.st_size + 1);
		return -1;
	}
	if (acct_parse(buf, st.st_size, &list, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", STORE_FILE, err);
		freezero(buf, st.st_size + 1);
		return -1;
	}
	freezero(buf, st.st_size + 1);
	while ((a = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, a, entry);
		(void)store_insert(a);
	}
	return 0;
}

/* Config accounts get a record each; stale config records go. */
static void
store_merge_config(const struct config *conf)
{
	struct config_account	*ca;
	struct store_node	*n;
	struct acct		*a, *next;

	TAILQ_FOREACH(a, &accts, entry)
		store_node_find(a->address)->config_hash = NULL;
	TAILQ_FOREACH(ca, &conf->accounts, entry) {
		if ((n = store_node_find(ca->address)) == NULL)
			n = store_node_find(
			    auth_store_add(ca->address)->address);
		a = n->acct;
		if (!a->from_config && a->hash[0] != '\0')
			log_warnx("account %s is in the config: its password "
			    "from the store is no longer used", a->address);
		a->from_config = 1;
		explicit_bzero(a->hash, sizeof(a->hash));
		n->config_hash = ca->hash;
	}
	TAILQ_FOREACH_SAFE(a, &accts, entry, next)
		if (a->from_config &&
		    store_node_find(a->address)->config_hash == NULL) {
			log_info("account %s left the config", a->address);
			auth_store_remove(a);
		}
}

void
auth_store_configure(const struct config *conf)
{
	if (!loaded) {
		if (store_load() == -1)
			fatalx("cannot load the account store; fix or move "
			    "state_dir/auth/%s", STORE_FILE);
		loaded = 1;
	}
	store_merge_config(conf);
}

/* After a failed write: memory goes back to what the disk holds. */
void
auth_store_revert(void)
{
	store_clear();
	if (store_load() == -1)
		fatalx("cannot read the account store back");
	store_merge_config(auth_conf());
}

static int
store_write_all(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

static int
store_sync_dir(void)
{
	int	 fd, ret;

	if ((fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

int
auth_store_save(void)
{
	char	*buf;
	size_t	 len;
	int	 fd;

	if ((buf = acct_format(&accts, &len)) == NULL)
		fatalx("%s: an account the store cannot hold", __func__);
	if ((fd = open(STORE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		log_warn("%s", STORE_TMP);
		freezero(buf, len);
		return -1;
	}
	if (store_write_all(fd, buf, len) == -1 || fsync(fd) == -1) {
		log_warn("%s", STORE_TMP);
		close(fd);
		(void)unlink(STORE_TMP);
		freezero(buf, len);
		return -1;
	}
	freezero(buf, len);
	if (close(fd) == -1 || rename(STORE_TMP, STORE_FILE) == -1) {
		log_warn("%s", STORE_FILE);
		(void)unlink(STORE_TMP);
		return -1;
	}
	if (store_sync_dir() == -1) {
		log_warn("fsync of the store's directory");
		return -1;
	}
	return 0;
}
