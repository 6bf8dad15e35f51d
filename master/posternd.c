/*
 * posternd.c: the entry point of the one posternd binary.  Without -R it
 * is the parent; with -R ROLE (used only by the parent's fork+exec) it is
 * one of the children.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "posternd.h"

extern char	**environ;

__attribute__((__noreturn__))
static void
usage(void)
{
	fprintf(stderr, "usage: posternd [-dnv] [-f file]\n");
	exit(1);
}

__attribute__((__noreturn__))
static void
check_config(const char *conffile)
{
	struct config	*conf;
	char		*buf, err[CONFIG_ERR_SIZE];
	size_t		 len;

	if ((buf = config_read_file(conffile, &len, err, sizeof(err))) ==
	    NULL ||
	    (conf = config_parse(conffile, buf, len, 1, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "%s\n", err);
		free(buf);
		exit(1);
	}
	free(buf);
	config_free(conf);
	printf("configuration OK\n");
	exit(0);
}

__attribute__((__noreturn__))
static void
run_role(const char *name, const char *conffile)
{
	switch (proc_role_from_name(name)) {
	case PROC_SMTP:
		smtp_main(conffile);
	case PROC_MTA:
		mta_main(conffile);
	case PROC_QUEUE:
		queue_main(conffile);
	case PROC_MDA:
		mda_main(conffile);
	case PROC_IMAP:
		imap_main(conffile);
	case PROC_AUTH:
		auth_main(conffile);
	default:
		fprintf(stderr, "posternd: unknown role %s\n", name);
		exit(1);
	}
}

int
main(int argc, char *argv[])
{
	const char	*conffile = CONFIG_DEFAULT_PATH, *role = NULL;
	int		 ch, foreground = 0, checkonly = 0, verbose = 0;

	setproctitle_init(argc, argv, environ);
	while ((ch = getopt(argc, argv, "df:nR:v")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'n':
			checkonly = 1;
			break;
		case 'R':
			role = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (checkonly)
		check_config(conffile);
	if (role != NULL)
		run_role(role, conffile);
	parent_main(conffile, foreground, verbose);
}
