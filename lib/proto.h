/*
 * proto.h: every imsg type exchanged by postern's processes, in one enum.
 *
 * PROTO_VERSION changes whenever this enum or a payload layout changes;
 * the children's handshake carries it, so a parent and a child built from
 * different sources refuse each other.
 */

#ifndef POSTERN_PROTO_H
#define POSTERN_PROTO_H

#define PROTO_VERSION	1

enum imsg_type {
	IMSG_NONE = 0,

	/* parent <-> every child */
	IMSG_HELLO,		/* child -> parent: version, role, uid, gid */
	IMSG_CONFIG,		/* parent -> child: fd of the config bytes */
	IMSG_CONFIG_DONE,	/* child -> parent: config applied */
	IMSG_LISTENER,		/* parent -> child: listening fd + index */
	IMSG_START,		/* parent -> child: all set, start serving */
	IMSG_LOG,		/* child -> parent: priority + line */
	IMSG_EVENT,		/* child -> parent: encoded event */
	IMSG_LOG_LEVEL,		/* parent -> child: new level */
	IMSG_SHUTDOWN,		/* parent -> child: stop cleanly */

	/* posternctl <-> parent, over the control socket */
	IMSG_CTL_REQUEST,	/* flags + argv strings */
	IMSG_CTL_OUTPUT,	/* a chunk of output text */
	IMSG_CTL_ERROR,		/* a message for stderr */
	IMSG_CTL_END,		/* exit status */

	IMSG_TYPE_MAX
};

const char	*imsg_type_name(unsigned int);

#endif /* POSTERN_PROTO_H */
