/*
 * proto.c: names of the imsg types, for log messages.
 */

#include "proto.h"

static const char *const imsg_names[IMSG_TYPE_MAX] = {
	[IMSG_NONE] =		"IMSG_NONE",
	[IMSG_HELLO] =		"IMSG_HELLO",
	[IMSG_CONFIG] =		"IMSG_CONFIG",
	[IMSG_CONFIG_DONE] =	"IMSG_CONFIG_DONE",
	[IMSG_LISTENER] =	"IMSG_LISTENER",
	[IMSG_START] =		"IMSG_START",
	[IMSG_LOG] =		"IMSG_LOG",
	[IMSG_EVENT] =		"IMSG_EVENT",
	[IMSG_LOG_LEVEL] =	"IMSG_LOG_LEVEL",
	[IMSG_SHUTDOWN] =	"IMSG_SHUTDOWN",
	[IMSG_CTL_REQUEST] =	"IMSG_CTL_REQUEST",
	[IMSG_CTL_OUTPUT] =	"IMSG_CTL_OUTPUT",
	[IMSG_CTL_ERROR] =	"IMSG_CTL_ERROR",
	[IMSG_CTL_END] =	"IMSG_CTL_END",
};

const char *
imsg_type_name(unsigned int type)
{
	if (type >= IMSG_TYPE_MAX || imsg_names[type] == NULL)
		return "unknown imsg";
	return imsg_names[type];
}
