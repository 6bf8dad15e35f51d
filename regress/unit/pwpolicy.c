/*
 * Unit tests for lib/pwpolicy.c: each rule refuses with its own reason,
 * a good password passes, lengths count UTF-8 characters, the common
 * list is sorted and found case-insensitively.
 */

#include <stdio.h>
#include <string.h>

#include "pwpolicy.h"
#include "tap.h"

static const struct pwpolicy	 def = { 12, 128, 3 };

static int
refused(const struct pwpolicy *p, const char *pw, const char *want)
{
	char	 why[256] = "";

	if (pwpolicy_check(p, "alice@example.org", pw, why, sizeof(why)) ==
	    0)
		return 0;
	if (strstr(why, want) == NULL) {
		printf("# \"%s\": got \"%s\", want \"%s\"\n", pw, why, want);
		return 0;
	}
	return 1;
}

int
main(void)
{
	struct pwpolicy	 p = def;
	char		 why[256], longpw[200];

	ok(pwpolicy_check(&def, "alice@example.org", "Blue-Kettle-42",
	    why, sizeof(why)) == 0, "a good password passes");
	ok(refused(&def, "Short-1a", "shorter than 12"), "too short");
	memset(longpw, 'a', 129);
	memcpy(longpw, "A1-", 3);
	longpw[129] = '\0';
	ok(refused(&def, longpw, "longer than 128"), "too long");
	ok(refused(&def, "bluekettlefortytwo", "1 of the 3"),
	    "one class refused");
	ok(refused(&def, "bluekettle42forty", "2 of the 3"),
	    "two classes refused");
	p.classes = 4;
	ok(refused(&p, "Blue-Kettle-forty", "3 of the 4"),
	    "three of four refused");
	ok(pwpolicy_check(&p, "alice@example.org", "Blue-Kettle-42", why,
	    sizeof(why)) == 0, "four classes pass");
	ok(refused(&def, "My-ALICE-pass-9", "user name"),
	    "the local part, any case");
	ok(refused(&def, "At-Example.org-9", "domain"), "the domain");
	ok(refused(&def, "Big-Example-77x", "domain"),
	    "the domain's first label");
	ok(refused(&def, "Password123!", "commonly used"),
	    "a common password (mixed case)");
	ok(refused(&def, "Blue-Kettle\t42", "control"), "a tab refused");
	p = def;
	p.min_length = 4;
	p.classes = 1;
	ok(refused(&p, "\xc3\xa9\xc3\xa9\xc3\xa9", "shorter than 4"),
	    "three UTF-8 characters are three (six bytes)");
	ok(pwpolicy_check(&p, "alice@example.org",
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", why, sizeof(why)) == 0,
	    "four UTF-8 characters pass min_length 4");
	ok(pwpolicy_check(&p, "al@example.org", "xxalxx", why,
	    sizeof(why)) == 0, "a local part under 3 characters is not "
	    "looked for");
	ok(pwpolicy_common("QWERTY123") && pwpolicy_common("letmein") &&
	    pwpolicy_common("correcthorsebatterystaple"),
	    "the common list finds its entries in any case");
	ok(!pwpolicy_common("Blue-Kettle-42"), "and not others");
	ok(pwpolicy_common_count() >= 300, "the list has %zu entries",
	    pwpolicy_common_count());
	return done_testing();
}
