/*
 * pwpolicy.c: the hash-free rules of auth.password; see pwpolicy.h.
 * The common passwords are kept lower case and sorted (strcmp order), so
 * a lookup is a binary search of the lower-cased candidate.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pwpolicy.h"

#define PWPOLICY_CMP_MAX	64	/* longer than any listed password */

static const char *const common[] = {
	"!qaz2wsx", "0000", "000000", "00000000", "000000000000",
	"010203", "0987654321", "102030", "1111", "11111", "111111",
	"11111111", "111111111111", "112233", "11223344", "1122334455",
	"121212", "121212121", "123123", "123123123", "123123a",
	"123321", "1234", "12341234", "12344321", "12345",
	"1234512345", "123456", "123456123456", "1234567", "12345678",
	"123456789", "1234567890", "12345678901", "123456789012",
	"1234567890123", "1234567890a", "12345678910", "123456789a",
	"123456a", "123456abc", "1234abcd", "1234qwer", "123654",
	"123654789", "123abc", "123qwe", "131313", "147258",
	"147258369", "159357", "159753", "1q2w3e", "1q2w3e4r",
	"1q2w3e4r5t", "1q2w3e4r5t6y", "1qaz2wsx", "1qaz2wsx3edc",
	"1qazxsw2", "2000", "222222", "232323", "258456", "333333",
	"555555", "654321", "666666", "696969", "741852963", "777777",
	"7777777", "789456123", "8675309", "87654321", "888888",
	"88888888", "963852741", "987654", "987654321", "9876543210",
	"999999", "a123456", "a1b2c3", "a1b2c3d4", "aa123456",
	"aaaaaa", "aaaaaaaa", "aaaaaaaaaaaa", "abc123", "abc12345",
	"abcd123", "abcd1234", "abcdef", "abcdefg", "abcdefgh",
	"access", "adidas", "admin", "admin123", "admin1234",
	"administrator", "amanda", "america", "andrea", "andrew",
	"angel", "anthony", "april", "arsenal", "arsenal1", "asd123",
	"asdf1234", "asdfasdf", "asdfgh", "asdfghjkl", "asdfghjkl1",
	"ashley", "august", "austin", "autumn2024", "azerty",
	"azerty123", "badboy", "bailey", "banana", "barcelona",
	"barney", "baseball", "baseball1", "baseball123", "basketball",
	"batman", "batman1", "berlin", "bigdick", "bigdog", "biteme",
	"booboo", "boomer", "boston", "brandon", "brandy", "bulldog",
	"buster", "california", "camaro", "canada", "casper",
	"changeme", "changeme123", "charles", "charlie", "charlie1",
	"cheese", "chelsea", "chelsea1", "chester", "chicago",
	"chicken", "chris", "cocacola", "coffee", "compaq", "computer",
	"cookie", "correcthorse", "correcthorsebatterystaple",
	"corvette", "cowboy", "cowboys", "crystal", "dakota", "dallas",
	"daniel", "december", "default", "diablo", "diamond", "dragon",
	"dragon1", "eagles", "edward", "email", "enter", "falcon",
	"february", "fender", "ferrari", "fishing", "flower",
	"football", "football1", "football123", "forever", "fortnite",
	"freedom", "freedom1", "friday", "gandalf", "gateway",
	"george", "gfhjkm", "ghbdtn", "ginger", "golden", "golfer",
	"guest", "guitar", "hammer", "hannah", "hardcore", "harley",
	"heather", "hello", "hello123", "hello1234", "hellokitty",
	"helloworld", "hockey", "hockey123", "hunter", "hunter2",
	"iceman", "iloveu", "iloveyou", "iloveyou1", "iloveyou2",
	"iloveyouiloveyou", "internet", "ironman", "jackson", "james",
	"january", "jasmine", "jasper", "jennifer", "jessica",
	"johnny", "jordan", "jordan23", "joseph", "joshua", "july",
	"june", "junior", "justin", "juventus", "killer", "klaster",
	"knight", "lakers", "letmein", "letmein1", "letmein123",
	"letmeinletmein", "liverpool", "login", "london", "london1",
	"love", "lovely", "loveyou", "maggie", "mailserver",
	"manchester", "march", "marina", "marine", "marlboro",
	"martin", "master", "master1", "matrix", "matrix1", "matthew",
	"maverick", "may", "melissa", "mercedes", "merlin", "michael",
	"michael1", "michael123", "michelle", "mickey", "midnight",
	"miller", "minecraft", "monday", "money", "monkey", "monkey1",
	"monster", "morgan", "mother", "mustang", "mypass",
	"mypassword", "nascar", "natasha", "ncc1701", "newyork",
	"nicole", "nikita", "nopassword", "nothing", "november",
	"october", "oliver", "orange", "p@ssw0rd", "p@ssw0rd1",
	"p@ssw0rd123", "p@ssword", "pa55w0rd", "pa55word", "panties",
	"paris", "pass", "passw0rd", "passw0rd!", "password",
	"password!", "password!!", "password1", "password1!",
	"password12", "password123", "password123!", "password1234",
	"password12345", "passwordpassword", "passwordpassword1",
	"patrick", "peanut", "pepper", "phoenix", "player", "please",
	"pokemon", "porsche", "postmaster", "prince", "princess",
	"princess1", "purple", "q1w2e3r4", "q1w2e3r4t5", "qazwsx",
	"qazwsxedc", "qwe123", "qweasd", "qweasdzxc", "qwer1234",
	"qwerty", "qwerty123", "qwerty1234", "qwerty12345",
	"qwertyqwerty", "qwertyuiop", "qwertyuiop1", "qwertyuiop123",
	"qwertz", "qwertz123", "rabbit", "rachel", "raiders", "ranger",
	"rangers", "realmadrid", "redsox", "richard", "robert", "root",
	"samantha", "samsung", "scooby", "scooter", "secret",
	"secret123", "secure", "security", "september", "shadow",
	"shadow1", "silver", "slayer", "smokey", "snoopy", "soccer",
	"soccer123", "sparky", "spider", "spiderman", "spring2024",
	"starwars", "starwars1", "steelers", "steven", "summer",
	"summer2023", "summer2024", "summer2025", "sunday", "sunshine",
	"sunshine1", "superman", "superman1", "superman123", "taylor",
	"tennis", "test", "test123", "test1234", "testtest", "thomas",
	"thunder", "tigers", "tigger", "toor", "trinity", "trustno1",
	"trustno1!", "trustnoone", "usa123", "user", "victoria",
	"webmaster", "welcome", "welcome1", "welcome123",
	"welcome2024", "whatever", "whatever1", "william", "winner",
	"winter", "winter2023", "winter2024", "winter2025", "wizard",
	"xxxxxx", "yamaha", "yankees", "yellow", "yourpassword",
	"zaq12wsx", "zaq1zaq1", "zxc123", "zxcvbn", "zxcvbnm",
	"zxcvbnm1", "zxcvbnm123",
};

size_t
pwpolicy_common_count(void)
{
	return sizeof(common) / sizeof(common[0]);
}

static int
pwpolicy_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

int
pwpolicy_common(const char *pw)
{
	char	 low[PWPOLICY_CMP_MAX];
	size_t	 i, len = strlen(pw);
	int	 found;

	if (len >= sizeof(low))
		return 0;
	for (i = 0; i <= len; i++)
		low[i] = (char)tolower((unsigned char)pw[i]);
	found = bsearch(low, common, pwpolicy_common_count(),
	    sizeof(common[0]), pwpolicy_cmp) != NULL;
	memset(low, 0, sizeof(low));
	return found;
}

/* Characters, counting a UTF-8 sequence as one. */
static size_t
pwpolicy_length(const char *pw)
{
	size_t	 n = 0;

	for (; *pw != '\0'; pw++)
		if (((unsigned char)*pw & 0xc0) != 0x80)
			n++;
	return n;
}

static int
pwpolicy_classes(const char *pw)
{
	int	 lower = 0, upper = 0, digit = 0, other = 0;

	for (; *pw != '\0'; pw++) {
		if (islower((unsigned char)*pw))
			lower = 1;
		else if (isupper((unsigned char)*pw))
			upper = 1;
		else if (isdigit((unsigned char)*pw))
			digit = 1;
		else
			other = 1;
	}
	return lower + upper + digit + other;
}

/* Case-insensitive: does pw contain n bytes of s? */
static int
pwpolicy_contains(const char *pw, const char *s, size_t n)
{
	size_t	 len = strlen(pw), i;

	if (n == 0 || n > len)
		return 0;
	for (i = 0; i + n <= len; i++)
		if (strncasecmp(pw + i, s, n) == 0)
			return 1;
	return 0;
}

static int
pwpolicy_names(const char *address, const char *pw, char *why,
    size_t whysz)
{
	const char	*at = strrchr(address, '@'), *dot;
	size_t		 llen;

	llen = at != NULL ? (size_t)(at - address) : strlen(address);
	if (llen >= 3 && pwpolicy_contains(pw, address, llen)) {
		(void)snprintf(why, whysz, "it contains the user name");
		return -1;
	}
	if (at == NULL || at[1] == '\0')
		return 0;
	at++;
	if (pwpolicy_contains(pw, at, strlen(at))) {
		(void)snprintf(why, whysz, "it contains the domain name");
		return -1;
	}
	dot = strchr(at, '.');
	if (dot != NULL && dot - at >= 4 &&
	    pwpolicy_contains(pw, at, (size_t)(dot - at))) {
		(void)snprintf(why, whysz, "it contains the domain name");
		return -1;
	}
	return 0;
}

int
pwpolicy_check(const struct pwpolicy *p, const char *address,
    const char *pw, char *why, size_t whysz)
{
	const unsigned char	*c;
	size_t			 len = pwpolicy_length(pw);
	int			 classes;

	for (c = (const unsigned char *)pw; *c != '\0'; c++)
		if (*c < 0x20 || *c == 0x7f) {
			(void)snprintf(why, whysz, "it contains a control "
			    "character");
			return -1;
		}
	if (len < (size_t)p->min_length) {
		(void)snprintf(why, whysz, "it is shorter than %d characters",
		    p->min_length);
		return -1;
	}
	if (p->max_length > 0 && len > (size_t)p->max_length) {
		(void)snprintf(why, whysz, "it is longer than %d characters",
		    p->max_length);
		return -1;
	}
	if ((classes = pwpolicy_classes(pw)) < p->classes) {
		(void)snprintf(why, whysz, "it has %d of the %d character "
		    "classes required (lower case, upper case, digits, "
		    "others)", classes, p->classes);
		return -1;
	}
	if (pwpolicy_names(address, pw, why, whysz) == -1)
		return -1;
	if (pwpolicy_common(pw)) {
		(void)snprintf(why, whysz, "it is a commonly used password");
		return -1;
	}
	return 0;
}
