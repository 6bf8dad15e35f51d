/*
 * pwpolicy.h: the rules of auth.password that need no hash, for the auth
 * role (which adds the history rule, since that needs crypt(3)).
 *
 * pwpolicy_check(p, address, pw, why, whysz)
 *	0 if pw may be the password of address, else -1 with a reason for
 *	the administrator in why ("it is shorter than 12 characters").
 *	The rules, in this order:
 *	- no control characters (they cannot be typed into every client);
 *	- at least min_length and at most max_length characters (UTF-8
 *	  sequences count as one; max_length 0 means no maximum);
 *	- at least `classes` of: lower case, upper case, digits, anything
 *	  else (punctuation, space, non-ASCII);
 *	- not containing the local part of address (when it is 3 or more
 *	  characters) nor its domain, nor the domain's first label (when 4
 *	  or more), ignoring ASCII case;
 *	- not one of the built-in list of common passwords, ignoring ASCII
 *	  case.
 * pwpolicy_common(pw)	1 if pw is on the built-in list, else 0.
 *
 * Pure functions: no allocation, no logging.
 */

#ifndef POSTERN_PWPOLICY_H
#define POSTERN_PWPOLICY_H

#include <stddef.h>

struct pwpolicy {
	int	 min_length;
	int	 max_length;		/* 0: none */
	int	 classes;		/* 0..4 */
};

int	 pwpolicy_check(const struct pwpolicy *, const char *address,
	    const char *pw, char *why, size_t whysz);
int	 pwpolicy_common(const char *pw);
size_t	 pwpolicy_common_count(void);

#endif /* POSTERN_PWPOLICY_H */
