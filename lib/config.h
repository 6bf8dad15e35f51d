/*
 * config.h: postern's configuration, parsed once from one YAML file into
 * plain structs.
 *
 * The parent parses the file; each child parses the very same bytes (the
 * parent hands them over in a memfd), so every process sees one config.
 * Parsing is all-or-nothing: on any error config_parse() returns NULL and
 * fills the caller's error buffer with "file:line:column: message".
 * Relative paths in the file are resolved against the file's directory.
 */

#ifndef POSTERN_CONFIG_H
#define POSTERN_CONFIG_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "syncset.h"

#define CONFIG_DEFAULT_PATH	"/etc/postern/postern.yaml"
#define CONFIG_MAX_SIZE		(1024 * 1024)	/* bytes of YAML */
#define CONFIG_ERR_SIZE		512
#define CONFIG_NAME_MAX		64
#define CONFIG_ADDR_MAX		256	/* RFC 5321 path limit */
#define CONFIG_MAX_LISTENERS	32
#define CONFIG_MAX_RETRY	16
#define CONFIG_DURATION_MAX	(100LL * 365 * 24 * 60 * 60)	/* seconds */

enum config_service {
	SERVICE_SMTP,
	SERVICE_SUBMISSION,
	SERVICE_IMAP,
};

enum config_tls {
	TLSMODE_NONE,
	TLSMODE_STARTTLS,
	TLSMODE_IMPLICIT,
};

enum config_two_factor {
	TWO_FACTOR_OPTIONAL,
	TWO_FACTOR_REQUIRED,
};

/* tls.protocols, as a bit set */
#define CONFIG_TLS_V12		0x1
#define CONFIG_TLS_V13		0x2

struct config_listener {
	TAILQ_ENTRY(config_listener)	 entry;
	char				 name[CONFIG_NAME_MAX];
	enum config_service		 service;
	char				 address[64];	/* numeric v4/v6 */
	uint16_t			 port;
	enum config_tls			 tls;
};
TAILQ_HEAD(config_listeners, config_listener);

struct config_domain {
	TAILQ_ENTRY(config_domain)	 entry;
	char				 name[CONFIG_ADDR_MAX];	/* lower case */
};
TAILQ_HEAD(config_domains, config_domain);

struct config_account {
	TAILQ_ENTRY(config_account)	 entry;
	char				 address[CONFIG_ADDR_MAX];
	char				*hash;		/* crypt(3) string */
};
TAILQ_HEAD(config_accounts, config_account);

struct config_alias {
	TAILQ_ENTRY(config_alias)	 entry;
	char				 address[CONFIG_ADDR_MAX];
	char				**targets;
	size_t				 ntargets;
};
TAILQ_HEAD(config_aliases, config_alias);

/* control.roles.<role>: a role is granted by uid name or group name */
struct config_role {
	char				**users;
	size_t				 nusers;
	char				**groups;
	size_t				 ngroups;
};

enum config_ctl_role {
	CTL_ROLE_NONE = 0,
	CTL_ROLE_AUDITOR,
	CTL_ROLE_OPERATOR,
	CTL_ROLE_ADMIN,
	CTL_ROLE_COUNT
};

struct config {
	char			 path[1024];	/* absolute; see config_parse */
	char			 hostname[256];
	char			 state_dir[1024];
	char			 run_dir[1024];

	struct {
		char		 network[CONFIG_NAME_MAX];
		char		 queue[CONFIG_NAME_MAX];
		char		 mail[CONFIG_NAME_MAX];
		char		 auth[CONFIG_NAME_MAX];
	} system_users;

	struct {
		int		 level;		/* LOG_ERR .. LOG_DEBUG */
		int		 facility;	/* LOG_MAIL, ... */
		char		 json[1024];	/* "" when unset */
	} log;

	struct {
		char		 cert[1024];	/* "" when no tls: section */
		char		 key[1024];
		int		 protocols;	/* CONFIG_TLS_* bits */
	} tls;

	struct config_listeners	 listeners;
	struct config_domains	 domains;
	struct config_accounts	 accounts;
	struct config_aliases	 aliases;

	struct {
		struct {
			int	 min_length;
			int	 max_length;
			int	 classes;
			time_t	 max_age;	/* seconds, 0 = never */
			int	 history;
			int	 cost;		/* yescrypt cost, 1..11 */
		} password;
		struct {
			int	 attempts;
			time_t	 window;
			time_t	 duration;
		} lockout;
		enum config_two_factor two_factor;
	} auth;

	struct {
		size_t		 message_size;
		int		 recipients;
		int		 sessions_per_ip;
		int		 sessions;
		time_t		 greeting_delay;	/* MX early talkers */
		time_t		 command_timeout;
		time_t		 data_timeout;
		int		 errors;	/* bad commands, then 421 */
		int		 user_messages_per_hour;	/* submission */
		int		 user_recipients_per_hour;
	} limits;

	struct {
		time_t		 retry[CONFIG_MAX_RETRY];
		size_t		 nretry;
		time_t		 expire;
		time_t		 delay_warning;	/* a delayed DSN after */
		enum syncset_mode sync;		/* the barriers' way */
	} queue;

	struct {
		char		 socket[1024];
		char		 group[CONFIG_NAME_MAX];
		struct config_role roles[CTL_ROLE_COUNT];
	} control;
};

/*
 * Parses len bytes of YAML that came from the file at path (used for
 * messages and to resolve relative paths).  check_files: also require the
 * files the config names (tls.cert, tls.key) to exist and be readable;
 * children pass 0 since they parse after the parent has checked.
 * conf->path is path made absolute with its directory's realpath(3):
 * hand conf->path (not the user's path) to a child, so that it resolves
 * relative paths the same way even where realpath(3) cannot work.
 */
struct config	*config_parse(const char *path, const char *buf, size_t len,
		    int check_files, char *err, size_t errsz);
/*
 * Reads path (a regular file of at most CONFIG_MAX_SIZE bytes) into a
 * malloc'd, NUL-terminated buffer; NULL and err ("path: why") on error.
 */
char		*config_read_file(const char *path, size_t *lenp,
		    char *err, size_t errsz);
void		 config_free(struct config *);

/*
 * Strict parsers shared with other modules; 0 on success, -1 on error.
 * A duration is digits and one unit (s, m, h, d, w), at most
 * CONFIG_DURATION_MAX seconds; a size is digits with an optional K, M or
 * G suffix (1024-based).
 */
int		 config_parse_duration(const char *, time_t *);
int		 config_parse_size(const char *, size_t *);

const char	*config_service_name(enum config_service);
const char	*config_tls_name(enum config_tls);
const char	*config_role_name(enum config_ctl_role);

#endif /* POSTERN_CONFIG_H */
